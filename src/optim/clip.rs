//! Gradient clipping by the global L2 norm, shared by every learning rule.

use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::kernels;

/// Registers flattened gradients as the gradients of `model`'s parameters, in their shapes.
pub(crate) fn register_flat<M: Module>(
    model: &M,
    grads: &mut GradientsParams,
    flat: HashMap<ParamId, Tensor<1>>,
) {
    struct Register<'a> {
        grads: &'a mut GradientsParams,
        flat: HashMap<ParamId, Tensor<1>>,
    }
    impl ModuleVisitor for Register<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(gradient) = self.flat.remove(&param.id) {
                let dims = param.val().dims();
                self.grads.register::<D>(param.id, gradient.reshape(dims));
            }
        }
    }
    model.visit(&mut Register { grads, flat });
}

/// A factor that scales every gradient.
pub(crate) enum Factor {
    /// `min(1, max_norm / (√squared_norm + 1e-6))`, from the squared norm in a one-element
    /// tensor on the gradients' device, worked where the gradients are scaled (one kernel per
    /// gradient on wgpu), so that no device sync is needed.
    Clip {
        squared_norm: Box<Tensor<1>>,
        max_norm: f64,
    },
    /// Known on the host already.
    Host(f64),
}

/// Multiplies every gradient of `model`'s parameters by a factor known on the host.
struct ScaleBy<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for ScaleBy<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            self.grads
                .register::<D>(param.id, grad.mul_scalar(self.factor));
        }
    }
}

/// Takes the gradients of `model`'s parameters out of `grads`, flattened, in the model's order.
struct TakeFlat<'a> {
    grads: &'a mut GradientsParams,
    taken: Vec<(ParamId, Tensor<1>)>,
}

impl ModuleVisitor for TakeFlat<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            let n = grad.shape().num_elements();
            self.taken.push((param.id, grad.reshape([n])));
        }
    }
}

/// Scales every gradient of `model`'s parameters by `factor` (on wgpu, all of them in one
/// launch when the factor is worked on the device).
pub(crate) fn scale<M: Module>(model: &M, grads: &mut GradientsParams, factor: Factor) {
    match factor {
        Factor::Host(factor) => model.visit(&mut ScaleBy { grads, factor }),
        Factor::Clip {
            squared_norm,
            max_norm,
        } => {
            let mut take = TakeFlat {
                grads,
                taken: Vec::new(),
            };
            model.visit(&mut take);
            if take.taken.is_empty() {
                return;
            }
            let (ids, flat): (Vec<_>, Vec<_>) = take.taken.into_iter().unzip();
            let scaled = kernels::clip_scales(flat, &squared_norm, max_norm);
            register_flat(model, grads, ids.into_iter().zip(scaled).collect());
        }
    }
}

/// PyTorch's `clip_grad_norm_` factor for a global norm: `min(1, max_norm / (norm + 1e-6))`.
pub(crate) fn clip_factor(norm: f64, max_norm: f64) -> f64 {
    (max_norm / (norm + 1e-6)).min(1.0)
}

/// Scales all gradients so that their global L2 norm is at most `max_norm`, given their
/// squared norm (the factor of PyTorch's `clip_grad_norm_`, computed on the device).
pub(crate) fn clip_by_squared_norm<M: Module>(
    model: &M,
    grads: &mut GradientsParams,
    squared_norm: Tensor<1>,
    max_norm: f64,
) {
    let factor = Factor::Clip {
        squared_norm: Box::new(squared_norm),
        max_norm,
    };
    scale(model, grads, factor);
}

/// The squared global L2 norm of the gradients of `model`'s parameters, `None` when none has a
/// gradient.
pub(crate) fn squared_norm<M: Module>(model: &M, grads: &GradientsParams) -> Option<Tensor<1>> {
    struct Norm<'a> {
        grads: &'a GradientsParams,
        total: Option<Tensor<1>>,
    }
    impl ModuleVisitor for Norm<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(grad) = self.grads.get::<D>(param.id) {
                let squares = grad.square().sum();
                self.total = Some(match self.total.take() {
                    Some(total) => total + squares,
                    None => squares,
                });
            }
        }
    }
    let mut norm = Norm { grads, total: None };
    model.visit(&mut norm);
    norm.total
}

/// Clips the gradients of `model`'s parameters by their global L2 norm: every gradient is
/// scaled by `min(1, max_norm / (|g| + 1e-6))`, as PyTorch's `clip_grad_norm_`. `None` leaves
/// them as they are.
///
/// Every built-in learning rule clips this way; a rule of one's own calls it from
/// [`LearningRule::gradients`](crate::rule::LearningRule::gradients).
pub fn clip_global_norm<M: Module>(
    model: &M,
    mut grads: GradientsParams,
    max_norm: Option<f64>,
) -> GradientsParams {
    if let Some(max_norm) = max_norm
        && let Some(squared) = squared_norm(model, &grads)
    {
        clip_by_squared_norm(model, &mut grads, squared, max_norm);
    }
    grads
}
