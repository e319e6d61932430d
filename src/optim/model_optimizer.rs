//! The optimizer that a [`SequenceLearner`](crate::SequenceLearner) and
//! [`Fptt::update`](crate::fptt::Fptt::update) step a whole model with: burn's
//! [`ModuleOptimizer`], which steps one parameter at a time, or an optimizer that steps them all
//! at once ([`MultiTensorAdamax`](super::MultiTensorAdamax)).

use std::path::Path;

use burn::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer, OptimizerRecord};
use burn::store::RecordError;

use crate::params::with_suffix;

/// An optimizer of a whole model: a step over every parameter with a gradient, and a state saved
/// and loaded beside the model's.
///
/// Implemented by burn's [`ModuleOptimizer`] (any burn optimizer, one parameter at a time; its
/// state in `{stem}.bpk`) and by [`MultiTensorAdamax`](super::MultiTensorAdamax) (Adamax over
/// all parameters in as few kernels as the backend allows).
///
/// ```
/// use burn::prelude::*;
/// use burn::optim::GradientsParams;
/// use burn_fptt::optim::{AdamaxConfig, ModelOptimizer};
///
/// fn descend<O: ModelOptimizer>(mut optim: O) -> f32 {
///     let device = burn_fptt::default_device().autodiff();
///     device.seed(0);
///     let mut model = burn::nn::LinearConfig::new(2, 1).init(&device);
///     for _ in 0..5 {
///         let loss = model.forward(Tensor::<2>::ones([4, 2], &device)).powi_scalar(2).mean();
///         let grads = GradientsParams::from_grads(loss.backward(), &model);
///         model = optim.step(1e-2.into(), model, grads);
///     }
///     model.forward(Tensor::<2>::ones([1, 2], &device)).into_scalar::<f32>()
/// }
/// // The same steps, one parameter at a time or all at once.
/// assert_eq!(
///     descend(AdamaxConfig::new().init()),
///     descend(AdamaxConfig::new().init_multi_tensor())
/// );
/// ```
pub trait ModelOptimizer: Send + 'static {
    /// Steps every parameter of `module` that has a gradient in `grads` at its learning rate in
    /// `lr`; the others keep their values.
    fn step<M: Module>(&mut self, lr: ModuleLearningRate, module: M, grads: GradientsParams) -> M;

    /// Writes the state into files whose names start with `stem`, for `model` (whose parameter
    /// ids key the state).
    ///
    /// # Errors
    ///
    /// When a file cannot be written.
    fn save<M: Module>(&self, model: &M, stem: &Path) -> Result<(), RecordError>;

    /// This optimizer with the state that [`save`](Self::save) wrote for `model` (whose
    /// parameters carry the ids they had when it was saved, as after `load_file`).
    ///
    /// # Errors
    ///
    /// When a file is missing or unreadable, or does not fit `model`.
    fn load<M: Module>(self, model: &M, stem: &Path) -> Result<Self, RecordError>
    where
        Self: Sized;
}

/// burn's optimizer, its state in one burnpack file `{stem}.bpk`.
impl ModelOptimizer for ModuleOptimizer {
    fn step<M: Module>(&mut self, lr: ModuleLearningRate, module: M, grads: GradientsParams) -> M {
        ModuleOptimizer::step(self, lr, module, grads)
    }

    fn save<M: Module>(&self, _model: &M, stem: &Path) -> Result<(), RecordError> {
        ModuleOptimizer::save(self, with_suffix(stem, ""))
    }

    fn load<M: Module>(self, _model: &M, stem: &Path) -> Result<Self, RecordError> {
        Ok(self.load_record(OptimizerRecord::load(with_suffix(stem, ""))?))
    }
}
