//! The FPTT hyper-parameters.

use burn::config::Config;

use crate::error::{ConfigError, check};
use crate::loss::LossSchedule;

/// How the multiplier `λ` enters the regulariser's gradient.
#[derive(Config, Debug, PartialEq, Copy)]
pub enum LambdaCorrection {
    /// `g' = g + α (W - W̄) - λ`: the method's reference code (default).
    Code,
    /// `g' = g + α (W - W̄) - λ/2`: the original FPTT paper's regulariser
    /// `α/2 |W - W̄ - λ/(2α)|²`.
    Paper,
}

/// Configuration of [`Fptt`](super::Fptt) and of the FPTT learner. Defaults are the method's.
///
/// ```
/// use burn_fptt::fptt::FpttConfig;
///
/// let config = FpttConfig::new().with_alpha(0.5).with_updates_per_sequence(Some(8));
/// config.validate().unwrap();
/// assert_eq!(config.chunk_length(784).unwrap(), 98);
/// assert!(FpttConfig::new().with_beta(1.5).validate().is_err());
/// ```
#[derive(Config, Debug)]
pub struct FpttConfig {
    /// Strength `α` of the tie to the running average (`α > 0`).
    #[config(default = 0.1)]
    pub alpha: f64,
    /// Step `β` of the running-average update (`0 < β <= 1`).
    #[config(default = 0.5)]
    pub beta: f64,
    /// Updates per sequence `K` (FPTT-K); `None` updates at every time step (`K = T`).
    pub updates_per_sequence: Option<usize>,
    /// Weight of the task loss at each step.
    #[config(default = "LossSchedule::LinearRamp")]
    pub loss: LossSchedule,
    /// Weight `γ` of the terminal-prediction auxiliary term, `None` for none: at step `t > 0` the
    /// loss gains `γ (1 - (t+1)/T) H(p_{t-1}, p_t)`, the cross-entropy of this step's prediction
    /// against the previous step's (held fixed), so that early predictions move smoothly towards
    /// the terminal one while the task term is still weak.
    pub terminal_prediction: Option<f64>,
    /// Weight `γ` of the distribution loss of the method's reference code, `None` for none: at
    /// step `t < T - 1` the loss gains `γ (1 - (t+1)/T) mean_{b,c}(-q_bc log p_bc)`, where `p`
    /// is this step's prediction and `q_b` the output distribution that the last misclassified
    /// sample of `b`'s class had at step `t` (a running table, [`ClassDistributions`](
    /// super::ClassDistributions), kept across batches and checkpointed). Early predictions
    /// are pulled towards an undecided distribution of the right class while the task loss is
    /// still weak. The reference code uses `γ = 1`.
    pub distribution_targets: Option<f64>,
    /// Clip the regularised gradients of all parameters by this global L2 norm; `None` for no
    /// clipping.
    #[config(default = "Some(1.0)")]
    pub clip_norm: Option<f64>,
    /// Set `W <- W̄` at the end of every epoch.
    #[config(default = true)]
    pub average_at_epoch_end: bool,
    /// Evaluate (in [`fit`](crate::fit)) the running average `W̄` instead of the trained
    /// weights `W`, which training goes on with unchanged. Without `W <- W̄` at the epoch's end
    /// this reads the smoothed weights the method reports on; with it, `W = W̄` after the epoch
    /// and both read the same.
    #[config(default = false)]
    pub evaluate_on_average: bool,
    /// How `λ` enters the gradient.
    #[config(default = "LambdaCorrection::Code")]
    pub correction: LambdaCorrection,
}

impl FpttConfig {
    /// Checks the values that do not depend on the data.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when `alpha` is not finite and positive, `beta` is not
    /// in `(0, 1]`, `updates_per_sequence` is 0 or `clip_norm` is not finite and positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive("FpttConfig.alpha", self.alpha)?;
        if !(self.beta.is_finite() && self.beta > 0.0 && self.beta <= 1.0) {
            return Err(ConfigError::new(
                "FpttConfig.beta",
                self.beta,
                "must be in (0, 1]",
            ));
        }
        if let Some(k) = self.updates_per_sequence {
            check::positive_size("FpttConfig.updates_per_sequence", k)?;
        }
        if let Some(norm) = self.clip_norm {
            check::positive("FpttConfig.clip_norm", norm)?;
        }
        if let Some(weight) = self.terminal_prediction {
            check::non_negative("FpttConfig.terminal_prediction", weight)?;
        }
        if let Some(weight) = self.distribution_targets {
            check::non_negative("FpttConfig.distribution_targets", weight)?;
        }
        Ok(())
    }

    /// The number of time steps between two updates for sequences of `length` steps: `T / K`
    /// rounded up (the last chunk may be shorter).
    ///
    /// # Errors
    ///
    /// When `length` is 0 or `K > T`.
    pub fn chunk_length(&self, length: usize) -> Result<usize, ConfigError> {
        crate::step::chunk_length_for_updates(
            self.updates_per_sequence,
            length,
            "FpttConfig.updates_per_sequence",
        )
    }
}
