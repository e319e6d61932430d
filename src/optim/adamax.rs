//! Adamax (Kingma & Ba 2015, §7.1): Adam with the infinity norm, the FPTT method's optimizer.

use burn::config::Config;
use burn::optim::decay::{WeightDecay, WeightDecayConfig};
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

use super::MultiTensorAdamax;
use crate::kernels::{self, AdamaxBuffers, AdamaxScalars};

/// Configuration of [`Adamax`]; the defaults are PyTorch's.
///
/// ```
/// use burn::prelude::*;
/// use burn::optim::GradientsParams;
/// use burn_fptt::optim::AdamaxConfig;
///
/// let device = burn_fptt::default_device().autodiff();
/// let mut model = burn::nn::LinearConfig::new(2, 1).init(&device);
/// let mut optim = AdamaxConfig::new().init();
/// let loss = model.forward(Tensor::<2>::ones([4, 2], &device)).powi_scalar(2).mean();
/// let grads = GradientsParams::from_grads(loss.backward(), &model);
/// model = optim.step(3e-3, model, grads);
/// ```
#[derive(Config, Debug)]
pub struct AdamaxConfig {
    /// Decay of the first moment.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay of the infinity norm.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Added to `|g|` in the infinity norm, so that the step never divides by zero.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// L2 penalty added to the gradient, if any.
    pub weight_decay: Option<WeightDecayConfig>,
}

/// Adamax, per parameter tensor:
///
/// ```text
/// m_t = β1 m_{t-1} + (1 - β1) g
/// u_t = max(β2 u_{t-1}, |g| + ε)
/// W  <- W - lr / (1 - β1^t) · m_t / u_t
/// ```
#[derive(Clone)]
pub struct Adamax {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    weight_decay: Option<WeightDecay>,
}

/// The per-parameter state of [`Adamax`].
#[derive(Clone, Debug)]
pub struct AdamaxState<const D: usize> {
    /// Number of steps taken.
    pub time: usize,
    /// First moment `m`.
    pub moment: Tensor<D>,
    /// Infinity norm `u`.
    pub infinity_norm: Tensor<D>,
}

impl<const D: usize> RecordState for AdamaxState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "moment", self.moment.to_data());
        out.push_tensor(prefix, "infinity_norm", self.infinity_norm.to_data());
        out.push_scalar(prefix, "time", (self.time as u64).into());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let moment = Tensor::from_data(src.take_tensor(prefix, "moment")?, device);
        let infinity_norm = Tensor::from_data(src.take_tensor(prefix, "infinity_norm")?, device);
        let time = u64::try_from(src.take_scalar(prefix, "time")?).ok()? as usize;
        Some(Self {
            time,
            moment,
            infinity_norm,
        })
    }
}

impl AdamaxConfig {
    /// The bare optimizer, for `ModuleOptimizer::with_group`.
    pub fn build(&self) -> Adamax {
        Adamax {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            weight_decay: self.weight_decay.as_ref().map(WeightDecay::new),
        }
    }

    /// The optimizer for a whole module, one parameter at a time (burn's [`ModuleOptimizer`]:
    /// parameter groups, gradient clipping, the burn-train `Learner`).
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }

    /// The same optimizer stepping all parameters at once: one kernel for the whole model on
    /// wgpu (as many as the adapter's bindings require), the same loops and values as
    /// [`init`](Self::init) on the CPU backends. For [`SequenceLearner`](crate::SequenceLearner)
    /// and [`Fptt::update`](crate::fptt::Fptt::update); see [`MultiTensorAdamax`].
    pub fn init_multi_tensor(&self) -> MultiTensorAdamax {
        MultiTensorAdamax::new(self.build())
    }
}

impl Adamax {
    /// The step's scalars at learning rate `lr` and step `time` (1-based).
    pub(super) fn scalars(&self, lr: LearningRate, time: usize) -> AdamaxScalars {
        AdamaxScalars {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            step_size: lr / (1.0 - self.beta_1.powi(time as i32)),
        }
    }

    /// `grad` with the weight decay's penalty, if any.
    pub(super) fn decayed<const D: usize>(&self, grad: Tensor<D>, tensor: Tensor<D>) -> Tensor<D> {
        match &self.weight_decay {
            Some(decay) => decay.transform(grad, tensor),
            None => grad,
        }
    }
}

impl Optimizer for Adamax {
    type State<const D: usize> = AdamaxState<D>;

    /// The step as one kernel per backend (`crate::kernels`: a loop on the CPU backends, a
    /// CubeCL kernel on wgpu, the tensor form elsewhere).
    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let grad = self.decayed(grad, tensor.clone());
        let dims = tensor.dims();
        let n = tensor.shape().num_elements();
        let (time, moment, infinity_norm) = match state {
            Some(state) => (
                state.time + 1,
                state.moment.reshape([n]),
                state.infinity_norm.reshape([n]),
            ),
            // Written over at the first step.
            None => (
                1,
                Tensor::empty([n], &tensor.device()),
                Tensor::empty([n], &tensor.device()),
            ),
        };
        let scalars = self.scalars(lr, time);
        let buffers = AdamaxBuffers {
            weight: tensor.reshape([n]),
            moment,
            infinity_norm,
        };
        let updated = kernels::adamax_step(&grad.reshape([n]), buffers, time == 1, scalars);
        (
            updated.weight.reshape(dims),
            Some(AdamaxState {
                time,
                moment: updated.moment.reshape(dims),
                infinity_norm: updated.infinity_norm.reshape(dims),
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamaxState {
            time: state.time,
            moment: state.moment.to_device(device),
            infinity_norm: state.infinity_norm.to_device(device),
        }
    }
}
