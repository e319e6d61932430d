//! FPTT's online updates without its regulariser: the ablation that tells what the
//! regulariser adds. One update per step or chunk on the instantaneous loss (with FPTT's loss
//! ramp), the state detached in between, the task gradient clipped by its global norm, no
//! `W̄`, no `λ`, nothing at the end of an epoch. Equivalently, FPTT with `α = 0`, or truncated
//! BPTT whose window is FPTT's chunk and whose loss is FPTT's.

use burn::config::Config;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::{LearningRule, RuleConfig, chunk_length_for_updates};
use crate::error::{ConfigError, check};
use crate::loss::LossSchedule;
use crate::optim::clip_global_norm;

/// Configuration of the [`UnregularisedRule`]: FPTT's settings less the regulariser's.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
/// use burn_fptt::rule::UnregularisedConfig;
///
/// let device = default_device().autodiff();
/// let net = SpikingClassifierConfig::new(1, vec![8], 2).init(&device);
/// let rule = UnregularisedConfig::new().with_updates_per_sequence(Some(5));
/// let mut learner = SequenceLearner::new(net, AdamaxConfig::new().init(), 1e-3, rule).unwrap();
/// let x = Tensor::<3>::ones([2, 10, 1], &device);
/// let stats = learner.train_batch(x, Tensor::<1, Int>::from_ints([0, 1], &device)).unwrap();
/// assert_eq!(stats.updates, 5);
/// assert_eq!(learner.rule().name(), "unregularised");
/// ```
#[derive(Config, Debug)]
pub struct UnregularisedConfig {
    /// Updates per sequence `K`; `None` updates at every time step.
    pub updates_per_sequence: Option<usize>,
    /// Weight of the task loss at each step (FPTT's default).
    #[config(default = "LossSchedule::LinearRamp")]
    pub loss: LossSchedule,
    /// Clip the gradients of all parameters by this global L2 norm; `None` for no clipping.
    #[config(default = "Some(1.0)")]
    pub clip_norm: Option<f64>,
}

impl UnregularisedConfig {
    /// Checks the values.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when `updates_per_sequence` is 0 or `clip_norm` is
    /// not finite and positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(k) = self.updates_per_sequence {
            check::positive_size("UnregularisedConfig.updates_per_sequence", k)?;
        }
        if let Some(norm) = self.clip_norm {
            check::positive("UnregularisedConfig.clip_norm", norm)?;
        }
        Ok(())
    }
}

/// FPTT without the regulariser, built by [`UnregularisedConfig`]. Keeps no state.
#[derive(Debug, Clone)]
pub struct UnregularisedRule {
    config: UnregularisedConfig,
}

impl RuleConfig for UnregularisedConfig {
    type Rule = UnregularisedRule;

    fn validate(&self) -> Result<(), ConfigError> {
        UnregularisedConfig::validate(self)
    }

    fn init<M: Module>(&self, _model: &M) -> Result<UnregularisedRule, ConfigError> {
        UnregularisedConfig::validate(self)?;
        Ok(UnregularisedRule {
            config: self.clone(),
        })
    }
}

impl LearningRule for UnregularisedRule {
    fn name(&self) -> &str {
        "unregularised"
    }

    fn chunk_length(&self, length: usize) -> Result<usize, ConfigError> {
        chunk_length_for_updates(
            self.config.updates_per_sequence,
            length,
            "UnregularisedConfig.updates_per_sequence",
        )
    }

    fn loss_schedule(&self) -> LossSchedule {
        self.config.loss
    }

    fn gradients<M: Module>(&mut self, model: &M, loss: Tensor<1>) -> GradientsParams {
        let grads = GradientsParams::from_grads(loss.backward(), model);
        clip_global_norm(model, grads, self.config.clip_norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_follow_k_and_bad_values_name_the_field() {
        let rule = UnregularisedConfig::new()
            .with_updates_per_sequence(Some(4))
            .init(&burn::nn::LinearConfig::new(1, 1).init(&crate::default_device()))
            .unwrap();
        assert_eq!(rule.chunk_length(10).unwrap(), 3);
        let err = rule.chunk_length(3).unwrap_err();
        assert_eq!(err.field(), "UnregularisedConfig.updates_per_sequence");
        let err = UnregularisedConfig::new()
            .with_clip_norm(Some(f64::NAN))
            .validate()
            .unwrap_err();
        assert_eq!(err.field(), "UnregularisedConfig.clip_norm");
        let err = UnregularisedConfig::new()
            .with_updates_per_sequence(Some(0))
            .validate()
            .unwrap_err();
        assert_eq!(err.field(), "UnregularisedConfig.updates_per_sequence");
    }
}
