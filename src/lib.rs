//! # burn-fptt
//!
//! Online training of spiking neural networks for [burn](https://burn.dev).
//!
//! - [`spike`] with [`Surrogate`] gradients, and the spiking layers [`Ltc`] (liquid time
//!   constant), [`Lif`], [`Alif`] and readouts [`LtcReadout`], [`LeakyReadout`]: burn modules
//!   with configs, records and display, composable with burn-nn layers.
//! - [`StepModel`]: one time step of a recurrent model, the unit that the learners drive.
//! - [`rule`]: learning rules as peers behind one trait, [`LearningRule`]: [`FpttRule`]
//!   (forward propagation through time, online, memory constant in the sequence length, built
//!   by [`FpttConfig`]) and [`BpttRule`] (the offline baseline, whole-sequence or truncated);
//!   [`Method`] picks one by value.
//! - [`task`]: targets (classes or real values, per sequence or per step), sequences of
//!   different lengths, and the loss of a step ([`StepLoss`]: cross-entropy, mean squared
//!   error, or one's own).
//! - [`SequenceLearner`] drives any rule over batches of sequences, [`fit`] over epochs;
//!   [`AdamaxConfig`] is the method's optimizer.
//!
//! The math follows the LTC-SNN / FPTT method; the defaults are the method's.
//!
//! ## Backends
//!
//! Cargo features choose the backends compiled in: `ndarray` (default), `flex`, `wgpu`.
//! [`default_device`] returns the device of the enabled backend (wgpu before flex before
//! ndarray), so `cargo run --features wgpu` moves a program to the GPU without a code change.
//! The environment variable `BURN_FPTT_BACKEND` (`ndarray`, `flex` or `wgpu`) picks another
//! enabled one at run time.

#![warn(missing_docs, clippy::missing_errors_doc, clippy::missing_panics_doc)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod checkpoint;
pub mod data;
pub mod error;
pub mod fptt;
pub mod functional;
mod kernels;
#[cfg(feature = "wgpu")]
pub mod launches;
pub mod learner;
pub mod loss;
mod math;
pub mod memory;
pub mod model;
pub mod neuron;
pub mod nir;
pub mod norm;
pub mod optim;
mod params;
pub mod rule;
pub mod step;
pub mod surrogate;
pub mod task;
#[cfg(feature = "train")]
pub mod train;

// The root exports exactly the prelude: one name, one path.
pub use prelude::*;

use burn::tensor::Device;

/// The names of the backends compiled into this build, in order of preference.
pub fn enabled_backends() -> Vec<&'static str> {
    let mut names = Vec::new();
    if cfg!(feature = "wgpu") {
        names.push("wgpu");
    }
    if cfg!(feature = "flex") {
        names.push("flex");
    }
    if cfg!(feature = "ndarray") {
        names.push("ndarray");
    }
    names
}

/// The device of a backend by name: `"ndarray"`, `"flex"` or `"wgpu"`.
///
/// # Errors
///
/// When the name is unknown or its cargo feature is not enabled in this build.
pub fn device_by_name(name: &str) -> Result<Device, BackendError> {
    match name {
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(feature = "flex")]
        "flex" => Ok(Device::flex()),
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)]
        "ndarray" => Ok(Device::ndarray()),
        other => Err(BackendError::unavailable(other, enabled_backends())),
    }
}

/// The device of the preferred enabled backend: wgpu, else flex, else ndarray; or the one that
/// the environment variable `BURN_FPTT_BACKEND` names.
///
/// Gradients are off on the returned device; call `.autodiff()` on it to train.
///
/// # Panics
///
/// When `BURN_FPTT_BACKEND` names a backend that is not compiled in, or no backend feature is
/// enabled; [`try_default_device`] returns the first as an error instead.
///
/// ```
/// let device = burn_fptt::default_device();
/// assert!(!device.is_autodiff());
/// ```
pub fn default_device() -> Device {
    try_default_device().unwrap_or_else(|err| panic!("BURN_FPTT_BACKEND: {err}"))
}

/// [`default_device`], with a `BURN_FPTT_BACKEND` that names a backend this build lacks
/// returned as an error (for programs that report errors rather than panic).
///
/// # Errors
///
/// A [`BackendError`] naming the backend asked for and those compiled in.
///
/// # Panics
///
/// When no backend feature is enabled.
pub fn try_default_device() -> Result<Device, BackendError> {
    device_by_name(&default_backend())
}

/// The name of the backend [`default_device`] runs on: `BURN_FPTT_BACKEND` when set, else the
/// preferred enabled backend (the name results files record).
///
/// # Panics
///
/// When no backend feature is enabled.
///
/// ```
/// let name = burn_fptt::default_backend();
/// assert!(burn_fptt::enabled_backends().contains(&name.as_str()));
/// ```
pub fn default_backend() -> String {
    match std::env::var("BURN_FPTT_BACKEND") {
        Ok(name) if !name.is_empty() => name,
        _ => enabled_backends()
            .first()
            .expect("burn-fptt needs one of the cargo features `ndarray`, `flex` or `wgpu`")
            .to_string(),
    }
}

/// The hardware behind a GPU device, as its driver names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    /// The adapter's name (`NVIDIA H200`, `llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// Whether it is no card: a CPU or a software rasterizer such as lavapipe, where a GPU
    /// backend runs far slower than the CPU backends.
    pub software: bool,
    /// The runtime and the shader language it compiles to: `wgpu<wgsl>`, or `wgpu<spirv>` when
    /// the crate is built with the `vulkan` feature and the adapter takes SPIR-V.
    pub compiler: &'static str,
    /// How many storage buffers one kernel may bind (the adapter's limit per shader stage, less
    /// the one wgpu keeps): 15 on wgpu's OpenGL backend over llvmpipe, 31 on lavapipe (Vulkan),
    /// far more on a GPU. It decides how many parameters one multi-tensor update kernel takes.
    pub bindings: u32,
}

/// The adapter of `device` when it runs on a GPU backend (wgpu), `None` on the CPU backends.
/// Opens the device.
///
/// ```
/// let device = burn_fptt::device_by_name("ndarray").unwrap();
/// assert_eq!(burn_fptt::adapter(&device), None);
/// ```
pub fn adapter(device: &Device) -> Option<Adapter> {
    #[cfg(feature = "wgpu")]
    {
        let device = device.clone().inner();
        let burn::backend::DispatchDevice::Cube(cube) = device.as_dispatch() else {
            return None;
        };
        let client = cube.client();
        let identity = &client.properties().identity;
        Some(Adapter {
            name: identity.name.clone(),
            software: identity.physical.is_none(),
            compiler: client.name(),
            bindings: client.properties().hardware.max_bindings,
        })
    }
    #[cfg(not(feature = "wgpu"))]
    {
        let _ = device;
        None
    }
}

/// The device of `model`'s first parameter, or [`default_device`] for a model without any.
pub(crate) fn model_device<M: burn::module::Module>(model: &M) -> Device {
    model
        .devices()
        .first()
        .cloned()
        .unwrap_or_else(default_device)
}

/// The types most programs need, also exported at the crate root (`burn_fptt::Ltc` and
/// `burn_fptt::prelude::Ltc` are the same item). Modules hold the rest: [`data`], [`train`]
/// (feature `train`), [`checkpoint`], [`memory`], the rules' own types in [`rule`].
pub mod prelude {
    pub use crate::error::{BackendError, ConfigError};
    pub use crate::fptt::{Fptt, FpttConfig, LambdaCorrection};
    pub use crate::learner::{
        BatchProgress, BatchStats, EpochReport, EpochStats, FitConfig, FitObserver, SequenceData,
        SequenceLearner, TrainError, count_correct, evaluate, evaluate_with, fit, fit_with,
        predict,
    };
    pub use crate::loss::{
        LossSchedule, cross_entropy, mean_squared_error, soft_cross_entropy, weighted_cross_entropy,
    };
    pub use crate::model::{
        SpikingClassifier, SpikingClassifierConfig, SpikingRegressor, SpikingRegressorConfig,
    };
    pub use crate::neuron::{
        AdaptiveState, Alif, AlifConfig, AlifState, ConvLtc, ConvLtcConfig, ConvLtcState, CubaLif,
        CubaLifConfig, CubaLifState, Gate, InitialMembrane, LeakyReadout, LeakyReadoutConfig, Lif,
        LifConfig, LifState, Ltc, LtcConfig, LtcReadout, LtcReadoutConfig, LtcState, ReadoutState,
        ResetMode, SpikingCell,
    };
    pub use crate::norm::{StepBatchNorm, StepBatchNormConfig};
    pub use crate::optim::{Adamax, AdamaxConfig, ModelOptimizer, MultiTensorAdamax};
    pub use crate::rule::{
        BpttConfig, BpttRule, FpttRule, LearningRule, Method, MethodRule, RuleConfig,
    };
    pub use crate::step::{Detach, SpikingLayer, SpikingModel, StepModel};
    pub use crate::surrogate::{Surrogate, smooth_spike, spike};
    pub use crate::task::{
        BatchError, CrossEntropy, DefaultLoss, MeanSquaredError, SequenceBatch, StepLoss,
        StepTarget, Targets, loss_fn,
    };
    pub use crate::{
        Adapter, adapter, default_backend, default_device, device_by_name, enabled_backends,
        try_default_device,
    };
}

#[cfg(test)]
mod test_support;
