//! Backpropagation through time, the offline baseline: one update per sequence, or per
//! truncation window (truncated BPTT).

use burn::config::Config;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::{LearningRule, RuleConfig};
use crate::error::{ConfigError, check};
use crate::loss::LossSchedule;
use crate::optim::clip_global_norm;

/// Configuration of backpropagation through time, the offline baseline.
///
/// ```
/// use burn_fptt::prelude::*;
///
/// // Truncated BPTT: an update every 10 steps, the loss of every step counted.
/// let tbptt = BpttConfig::truncated(10);
/// assert_eq!(tbptt.truncation, Some(10));
/// assert_eq!(tbptt.loss, LossSchedule::LinearRamp);
/// ```
#[derive(Config, Debug)]
pub struct BpttConfig {
    /// Update every `k` steps with the state detached in between (truncated BPTT); `None`
    /// backpropagates through the whole sequence, one update per sequence. A window updates
    /// only if its steps carry loss: with the default [`LossSchedule::LastStep`] only the last
    /// window does, so pair a truncation with [`LossSchedule::LinearRamp`] or
    /// [`LossSchedule::EveryStep`] for one update per window.
    pub truncation: Option<usize>,
    /// Weight of the task loss at each step.
    #[config(default = "LossSchedule::LastStep")]
    pub loss: LossSchedule,
    /// Clip all gradients by this global L2 norm; `None` for no clipping.
    #[config(default = "Some(1.0)")]
    pub clip_norm: Option<f64>,
}

impl BpttConfig {
    /// Truncated BPTT: an update every `window` steps, with FPTT's loss ramp so that every
    /// window carries loss.
    pub fn truncated(window: usize) -> Self {
        Self::new()
            .with_truncation(Some(window))
            .with_loss(LossSchedule::LinearRamp)
    }

    /// Checks the values.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when the truncation is 0 or the clipping norm is not finite and positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(k) = self.truncation {
            check::positive_size("BpttConfig.truncation", k)?;
        }
        if let Some(norm) = self.clip_norm {
            check::positive("BpttConfig.clip_norm", norm)?;
        }
        Ok(())
    }

    /// Steps between two updates for sequences of `length` steps: the truncation window, or
    /// the whole sequence.
    ///
    /// # Errors
    ///
    /// When `length` is 0.
    pub fn chunk_length(&self, length: usize) -> Result<usize, ConfigError> {
        check::positive_size("sequence length T", length)?;
        Ok(self.truncation.unwrap_or(length).min(length))
    }
}

/// Backpropagation through time, built by [`BpttConfig`]: the task gradient of each window,
/// clipped by its global norm. Keeps no state of its own.
#[derive(Debug, Clone)]
pub struct BpttRule {
    config: BpttConfig,
}

impl BpttRule {
    /// The configuration.
    pub fn config(&self) -> &BpttConfig {
        &self.config
    }
}

impl RuleConfig for BpttConfig {
    type Rule = BpttRule;

    fn validate(&self) -> Result<(), ConfigError> {
        BpttConfig::validate(self)
    }

    fn init<M: Module>(&self, _model: &M) -> Result<BpttRule, ConfigError> {
        self.validate()?;
        Ok(BpttRule {
            config: self.clone(),
        })
    }
}

impl LearningRule for BpttRule {
    fn name(&self) -> &str {
        "bptt"
    }

    fn chunk_length(&self, length: usize) -> Result<usize, ConfigError> {
        self.config.chunk_length(length)
    }

    fn loss_schedule(&self) -> LossSchedule {
        self.config.loss
    }

    fn gradients<M: Module>(&mut self, model: &M, loss: Tensor<1>) -> GradientsParams {
        let grads = GradientsParams::from_grads(loss.backward(), model);
        clip_global_norm(model, grads, self.config.clip_norm)
    }
}
