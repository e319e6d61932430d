//! Batch normalisation with running statistics per time step: the per-step normalisation of
//! the drives in the method's published S-MNIST network (`SeparatedBatchNorm1d` in its code).
//!
//! In training, a step's input is normalised with the batch's own statistics, and that step's
//! running statistics move towards them; in evaluation, each step uses its own running
//! statistics. Steps past `max_length` share the last step's statistics.

use burn::config::Config;
use burn::module::{Content, DisplaySettings, Flag, Module, ModuleDisplay, Param, RunningState};
use burn::tensor::{Device, Tensor};

use crate::error::{ConfigError, check};

/// Configuration of [`StepBatchNorm`]. Defaults are the method's.
///
/// ```
/// use burn_fptt::norm::StepBatchNormConfig;
///
/// let config = StepBatchNormConfig::new(128, 784);
/// assert_eq!((config.momentum, config.initial_scale), (0.1, 0.1));
/// assert!(StepBatchNormConfig::new(128, 0).validate().is_err());
/// ```
#[derive(Config, Debug)]
pub struct StepBatchNormConfig {
    /// Width of the normalised input.
    pub num_features: usize,
    /// Steps with running statistics of their own; later steps use the last step's.
    pub max_length: usize,
    /// Added to the variance before its square root.
    #[config(default = 1e-5)]
    pub epsilon: f64,
    /// Weight of a batch's statistics in the running statistics' update.
    #[config(default = 0.1)]
    pub momentum: f64,
    /// Initial scale `γ` of every feature (the method's: 0.1); the shift `β` starts at 0.
    #[config(default = 0.1)]
    pub initial_scale: f64,
}

/// Per-step batch normalisation: `y = γ (x - μ_t) / sqrt(σ²_t + ε) + β`, with `μ_t`, `σ²_t`
/// the batch's statistics in training (autodiff device, `training` on) and step `t`'s running
/// statistics otherwise. The running statistics are `[max_length, features]`, saved in records.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::norm::StepBatchNormConfig;
///
/// let device = burn_fptt::default_device().autodiff();
/// let norm = StepBatchNormConfig::new(2, 10).init(&device);
/// let x = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 6.0]], &device);
/// let y = norm.forward(x, 0);
/// // Training: each feature standardised over the batch, then scaled by 0.1.
/// let y: Vec<f32> = y.into_data().to_vec().unwrap();
/// assert!((y[0] + 0.1).abs() < 1e-5 && (y[3] - 0.1).abs() < 1e-5);
/// ```
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct StepBatchNorm {
    /// Scale `γ`, `[features]`.
    pub gamma: Param<Tensor<1>>,
    /// Shift `β`, `[features]`.
    pub beta: Param<Tensor<1>>,
    /// Whether an autodiff forward uses (and updates) batch statistics.
    pub training: Param<Flag>,
    /// Running mean per step, `[max_length, features]`.
    pub running_mean: RunningState<Tensor<2>>,
    /// Running (unbiased) variance per step, `[max_length, features]`.
    pub running_var: RunningState<Tensor<2>>,
    /// Weight of a batch's statistics in the running update.
    pub momentum: f64,
    /// Added to the variance before its square root.
    pub epsilon: f64,
}

impl StepBatchNormConfig {
    /// Checks the values.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when a size is 0, `epsilon` is not finite and
    /// positive, `momentum` is not in `[0, 1]` or `initial_scale` is not finite.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive_size("StepBatchNormConfig.num_features", self.num_features)?;
        check::positive_size("StepBatchNormConfig.max_length", self.max_length)?;
        check::positive("StepBatchNormConfig.epsilon", self.epsilon)?;
        if !(self.momentum.is_finite() && (0.0..=1.0).contains(&self.momentum)) {
            return Err(ConfigError::new(
                "StepBatchNormConfig.momentum",
                self.momentum,
                "must be in [0, 1]",
            ));
        }
        if !self.initial_scale.is_finite() {
            return Err(ConfigError::new(
                "StepBatchNormConfig.initial_scale",
                self.initial_scale,
                "must be finite",
            ));
        }
        Ok(())
    }

    /// Builds the module: `γ = initial_scale`, `β = 0`, running means 0 and variances 1.
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate).
    pub fn try_init(&self, device: &Device) -> Result<StepBatchNorm, ConfigError> {
        self.validate()?;
        let (steps, features) = (self.max_length, self.num_features);
        Ok(StepBatchNorm {
            gamma: Param::from_tensor(Tensor::full([features], self.initial_scale, device)),
            beta: Param::from_tensor(Tensor::zeros([features], device)),
            training: Param::from_bool(true),
            running_mean: RunningState::new(Tensor::zeros([steps, features], device)),
            running_var: RunningState::new(Tensor::ones([steps, features], device)),
            momentum: self.momentum,
            epsilon: self.epsilon,
        })
    }

    /// Builds the module.
    ///
    /// # Panics
    ///
    /// When the config is invalid.
    pub fn init(&self, device: &Device) -> StepBatchNorm {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }
}

impl StepBatchNorm {
    /// Steps with running statistics of their own.
    pub fn max_length(&self) -> usize {
        self.running_mean.value().dims()[0]
    }

    /// Width of the normalised input.
    pub fn num_features(&self) -> usize {
        self.gamma.val().dims()[0]
    }

    /// Normalises `input` (`[batch, features]`) of time step `t`.
    ///
    /// # Panics
    ///
    /// When `input` is not `[batch, features]`, or when a training forward gets fewer than two
    /// samples (the batch variance needs two).
    pub fn forward(&self, input: Tensor<2>, t: usize) -> Tensor<2> {
        let [batch, features] = input.dims();
        assert_eq!(
            features,
            self.num_features(),
            "StepBatchNorm: the input has {features} features, the layer normalises {}",
            self.num_features()
        );
        let row = t.min(self.max_length() - 1);
        let device = input.device();
        let gamma = self.gamma.val().reshape([1, features]);
        let beta = self.beta.val().reshape([1, features]);
        let (mean, variance) = if device.is_autodiff() && self.training.is_enabled() {
            assert!(
                batch >= 2,
                "StepBatchNorm: training needs at least 2 samples per batch, got {batch}"
            );
            let mean = input.clone().mean_dim(0);
            let variance = (input.clone() - mean.clone()).square().mean_dim(0);
            let unbiased = variance.clone().detach() * (batch as f64 / (batch - 1) as f64);
            self.update(&self.running_mean, row, mean.clone().detach());
            self.update(&self.running_var, row, unbiased);
            (mean, variance)
        } else {
            let step = |state: &RunningState<Tensor<2>>| {
                state
                    .value()
                    .slice([row..row + 1, 0..features])
                    .to_device(&device)
            };
            (step(&self.running_mean), step(&self.running_var))
        };
        (input - mean) / (variance + self.epsilon).sqrt() * gamma + beta
    }

    /// Moves row `row` of `state` towards `batch` (`[1, features]`) by the momentum.
    fn update(&self, state: &RunningState<Tensor<2>>, row: usize, batch: Tensor<2>) {
        let running = state.value_sync();
        let features = running.dims()[1];
        let range = [row..row + 1, 0..features];
        let old = running.clone().slice(range.clone());
        let new = old * (1.0 - self.momentum) + batch.to_device(&running.device()) * self.momentum;
        state.update(running.slice_assign(range, new.detach()));
        // Fold the update in now: records and visitors read the synced value.
        state.value_sync();
    }
}

impl ModuleDisplay for StepBatchNorm {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new()
            .with_new_line_after_attribute(false)
            .optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content
            .add("num_features", &self.num_features())
            .add("max_length", &self.max_length())
            .add("momentum", &self.momentum)
            .add("epsilon", &self.epsilon)
            .optional()
    }
}
