//! Gradient clipping by the global L2 norm, shared by every learning rule.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::kernels;

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

/// Multiplies every gradient of `model`'s parameters by one factor.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: Factor,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            let scaled = match &self.factor {
                Factor::Clip {
                    squared_norm,
                    max_norm,
                } => kernels::clip_scale(grad, squared_norm, *max_norm),
                Factor::Host(factor) => grad.mul_scalar(*factor),
            };
            self.grads.register::<D>(param.id, scaled);
        }
    }
}

/// Scales every gradient of `model`'s parameters by `factor`.
pub(crate) fn scale<M: Module>(model: &M, grads: &mut GradientsParams, factor: Factor) {
    model.visit(&mut Scale { grads, factor });
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
