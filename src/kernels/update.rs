//! The work of an online step outside the autodiff graph: FPTT's regularised gradient, the
//! clipping by a global norm, the Adamax step, FPTT's after-step update, and the multi-Gaussian
//! surrogate's slope.
//!
//! Written with tensor operations an FPTT update is about 26 passes over every parameter, each
//! allocating a buffer (and on wgpu, launching a kernel). The CPU backends run each operation as
//! one loop over the f32 storage (`super::host`), wgpu as one CubeCL kernel (`super::cube`); the
//! trait's default bodies are the tensor forms, the reference both follow operation for operation.

// burn 0.22 deprecates the ndarray backend in favour of flex; ndarray stays this crate's default
// CPU backend (see `super::host`).
#![cfg_attr(feature = "ndarray", allow(deprecated))]

use std::f64::consts::PI;

#[cfg(feature = "flex")]
use burn::backend::Flex;
#[cfg(feature = "ndarray")]
use burn::backend::NdArray;
use burn::backend::autodiff::{Autodiff, checkpoint::strategy::CheckpointStrategy};
use burn::backend::{AutodiffBackend, Backend, backend_extension, tensor::FloatTensor};

/// Scalars of one Adamax step (see [`crate::optim::Adamax`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdamaxScalars {
    pub(crate) beta_1: f64,
    pub(crate) beta_2: f64,
    pub(crate) epsilon: f64,
    /// The learning rate over the bias correction `1 − β1ᵗ`.
    pub(crate) step_size: f64,
}

/// The factors of FPTT's regularised gradient `g + α (W − W̄) − s λ`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RegulariserTerms {
    /// `α`.
    pub(crate) alpha: f64,
    /// `s`: 1 for the authors' code, ½ for the paper's form.
    pub(crate) lambda_scale: f64,
}

/// The constants of the multi-Gaussian's `g(v) = c (1+h)-bump − s (side bumps)`, shared by every
/// form of it so that all use the same values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MultiGaussianTerms {
    /// Standard deviation `l` of the central bump.
    pub(crate) lens: f64,
    /// Standard deviation `k l` of the side bumps.
    pub(crate) wide: f64,
    /// `γ (1 + h) / (√(2π) l)`, the central bump's factor.
    pub(crate) centre_scale: f64,
    /// `γ h / (√(2π) k l)`, the side bumps' factor.
    pub(crate) sides_scale: f64,
}

impl MultiGaussianTerms {
    pub(crate) fn new(lens: f64, scale: f64, height: f64, gamma: f64) -> Self {
        let wide = scale * lens;
        let norm = (2.0 * PI).sqrt();
        Self {
            lens,
            wide,
            centre_scale: gamma * (1.0 + height) / (norm * lens),
            sides_scale: gamma * height / (norm * wide),
        }
    }

    /// The factor `-1 / (2 sd²)` of a bump's exponent.
    pub(crate) fn exponent_factor(sd: f64) -> f64 {
        -1.0 / (2.0 * sd * sd)
    }
}

/// The per-parameter updates of an online step and the surrogate's slope; flat tensors of one
/// shape, outside autodiff (under autodiff they run on the inner tensors and return untracked
/// ones).
///
/// With the `fusion` feature each is one opaque operation in burn's fusion stream, run by the
/// inner backend's kernel (the CubeCL kernels), so that fusion does not split them into its own.
#[backend_extension(
    Autodiff,
    NdArray: cfg(feature = "ndarray"),
    Flex: cfg(feature = "flex"),
    Cube: cfg(feature = "wgpu"),
    Fusion: cfg(feature = "fusion")
)]
pub(crate) trait UpdateOps: Backend {
    /// `task + α (W − W̄) − s λ`, and the sum of its squares plus `earlier` (the one-element total
    /// of earlier parameters, read only `with_earlier`), as a one-element tensor (f64 where the
    /// sum is taken on the host).
    #[fusion(meta = fusion_outputs::regularised_gradient)]
    fn regularised_gradient(
        task: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        multiplier: FloatTensor<Self>,
        earlier: FloatTensor<Self>,
        with_earlier: bool,
        terms: RegulariserTerms,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        reference::regularised_gradient::<Self>(
            task,
            weight,
            running_mean,
            multiplier,
            earlier,
            with_earlier,
            terms,
        )
    }

    /// One Adamax step: the new weight, first moment and infinity norm. With `first`, the state
    /// starts here (`m = (1 − β1) g`, `u = |g| + ε`) and the `moment`/`infinity_norm` given are
    /// not read.
    #[fusion(meta = fusion_outputs::adamax_step)]
    fn adamax_step(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        moment: FloatTensor<Self>,
        infinity_norm: FloatTensor<Self>,
        first: bool,
        scalars: AdamaxScalars,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        reference::adamax_step::<Self>(grad, weight, moment, infinity_norm, first, scalars)
    }

    /// `λ ← λ − α (W − W̄)`, then `W̄ ← (1 − β) W̄ + β W − (β/α) λ`; returns `(W̄, λ)`.
    #[fusion(meta = fusion_outputs::after_step)]
    fn after_step(
        weight: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        multiplier: FloatTensor<Self>,
        alpha: f64,
        beta: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        reference::after_step::<Self>(weight, running_mean, multiplier, alpha, beta)
    }

    /// The multi-Gaussian surrogate's `g(v)`, element-wise.
    #[fusion(dtype = v, shape = v)]
    fn multi_gaussian(v: FloatTensor<Self>, terms: MultiGaussianTerms) -> FloatTensor<Self> {
        reference::multi_gaussian::<Self>(v, terms)
    }

    /// `grad · min(1, max_norm / (√squared_norm + 1e-6))`: a gradient clipped by the global norm
    /// whose square the one-element `squared_norm` holds (PyTorch's `clip_grad_norm_` factor),
    /// without reading it on the host. `grad` has any shape.
    #[fusion(dtype = grad, shape = grad)]
    fn clip_scale(
        grad: FloatTensor<Self>,
        squared_norm: FloatTensor<Self>,
        max_norm: f64,
    ) -> FloatTensor<Self> {
        reference::clip_scale::<Self>(grad, squared_norm, max_norm)
    }
}

/// Panics unless the parameter lists of a multi-tensor update are non-empty and of one length.
pub(crate) fn check_lists(lengths: &[usize]) {
    assert!(
        lengths[0] > 0 && lengths.iter().all(|n| *n == lengths[0]),
        "a multi-tensor update takes non-empty lists of one length, got lengths {lengths:?}"
    );
}

/// The shapes and dtypes of the updates' outputs, which burn's fusion needs before it runs them.
#[cfg(feature = "fusion")]
mod fusion_outputs {
    use burn::backend::fusion::custom::TensorSpec;
    use burn::tensor::Shape;

    use super::{AdamaxScalars, RegulariserTerms};

    /// The gradient, like the task gradient, and its one-element sum of squares.
    pub(super) fn regularised_gradient(
        task: &TensorSpec,
        _weight: &TensorSpec,
        _running_mean: &TensorSpec,
        _multiplier: &TensorSpec,
        _earlier: &TensorSpec,
        _with_earlier: &bool,
        _terms: &RegulariserTerms,
    ) -> (TensorSpec, TensorSpec) {
        (task.clone(), TensorSpec::new(Shape::new([1]), task.dtype))
    }

    /// The weight, moment and infinity norm, each like the weight.
    pub(super) fn adamax_step(
        _grad: &TensorSpec,
        weight: &TensorSpec,
        _moment: &TensorSpec,
        _infinity_norm: &TensorSpec,
        _first: &bool,
        _scalars: &AdamaxScalars,
    ) -> (TensorSpec, TensorSpec, TensorSpec) {
        (weight.clone(), weight.clone(), weight.clone())
    }

    /// `W̄` and `λ`, each like the weight.
    pub(super) fn after_step(
        weight: &TensorSpec,
        _running_mean: &TensorSpec,
        _multiplier: &TensorSpec,
        _alpha: &f64,
        _beta: &f64,
    ) -> (TensorSpec, TensorSpec) {
        (weight.clone(), weight.clone())
    }
}

/// The operations as compositions of burn's tensor operations, on any backend: the order of
/// operations every implementation follows.
pub(crate) mod reference {
    use burn::backend::{Backend, Scalar, TensorMetadata, tensor::FloatTensor};
    use burn::tensor::Shape;

    use super::super::bool_dtype;
    use super::{AdamaxScalars, MultiGaussianTerms, RegulariserTerms};

    fn scalar(value: f64) -> Scalar {
        value.into()
    }

    pub(crate) fn regularised_gradient<B: Backend>(
        task: FloatTensor<B>,
        weight: FloatTensor<B>,
        running_mean: FloatTensor<B>,
        multiplier: FloatTensor<B>,
        earlier: FloatTensor<B>,
        with_earlier: bool,
        terms: RegulariserTerms,
    ) -> (FloatTensor<B>, FloatTensor<B>) {
        let gap = B::float_mul_scalar(B::float_sub(weight, running_mean), scalar(terms.alpha));
        let pulled = B::float_add(task, gap);
        let gradient = B::float_sub(
            pulled,
            B::float_mul_scalar(multiplier, scalar(terms.lambda_scale)),
        );
        let own = B::float_reshape(
            B::float_sum(B::float_mul(gradient.clone(), gradient.clone())),
            Shape::new([1]),
        );
        let squares = if with_earlier {
            B::float_add(earlier, own)
        } else {
            own
        };
        (gradient, squares)
    }

    pub(crate) fn adamax_step<B: Backend>(
        grad: FloatTensor<B>,
        weight: FloatTensor<B>,
        moment: FloatTensor<B>,
        infinity_norm: FloatTensor<B>,
        first: bool,
        scalars: AdamaxScalars,
    ) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
        let bound = B::float_add_scalar(B::float_abs(grad.clone()), scalar(scalars.epsilon));
        let kept = B::float_mul_scalar(grad, scalar(1.0 - scalars.beta_1));
        let (moment, infinity_norm) = if first {
            (kept, bound)
        } else {
            let moment = B::float_add(B::float_mul_scalar(moment, scalar(scalars.beta_1)), kept);
            let decayed = B::float_mul_scalar(infinity_norm, scalar(scalars.beta_2));
            // `max_pair`: the decayed norm where it is not below the bound.
            let bools = bool_dtype::<B>(&decayed);
            let below = B::float_lower(decayed.clone(), bound.clone(), bools);
            (moment, B::float_mask_where(decayed, below, bound))
        };
        let step = B::float_mul_scalar(
            B::float_div(moment.clone(), infinity_norm.clone()),
            scalar(scalars.step_size),
        );
        (B::float_sub(weight, step), moment, infinity_norm)
    }

    pub(crate) fn after_step<B: Backend>(
        weight: FloatTensor<B>,
        running_mean: FloatTensor<B>,
        multiplier: FloatTensor<B>,
        alpha: f64,
        beta: f64,
    ) -> (FloatTensor<B>, FloatTensor<B>) {
        let gap = B::float_sub(weight.clone(), running_mean.clone());
        let multiplier = B::float_sub(multiplier, B::float_mul_scalar(gap, scalar(alpha)));
        let kept = B::float_mul_scalar(running_mean, scalar(1.0 - beta));
        let moved = B::float_add(kept, B::float_mul_scalar(weight, scalar(beta)));
        let running_mean = B::float_sub(
            moved,
            B::float_mul_scalar(multiplier.clone(), scalar(beta / alpha)),
        );
        (running_mean, multiplier)
    }

    pub(crate) fn clip_scale<B: Backend>(
        grad: FloatTensor<B>,
        squared_norm: FloatTensor<B>,
        max_norm: f64,
    ) -> FloatTensor<B> {
        let norm = B::float_add_scalar(B::float_sqrt(squared_norm), scalar(1e-6));
        let factor = B::float_clamp_max(
            B::float_mul_scalar(B::float_recip(norm), scalar(max_norm)),
            scalar(1.0),
        );
        let ones = Shape::from(vec![1; grad.shape().num_dims()]);
        B::float_mul(grad, B::float_reshape(factor, ones))
    }

    /// `exp((v − mean)² · (−1 / (2 sd²)))`.
    fn bump<B: Backend>(v: FloatTensor<B>, mean: f64, sd: f64) -> FloatTensor<B> {
        let offset = B::float_sub_scalar(v, scalar(mean));
        let square = B::float_mul(offset.clone(), offset);
        let factor = MultiGaussianTerms::exponent_factor(sd);
        B::float_exp(B::float_mul_scalar(square, scalar(factor)))
    }

    pub(crate) fn multi_gaussian<B: Backend>(
        v: FloatTensor<B>,
        terms: MultiGaussianTerms,
    ) -> FloatTensor<B> {
        let dtype = v.dtype();
        let centre = B::float_mul_scalar(
            bump::<B>(v.clone(), 0.0, terms.lens),
            scalar(terms.centre_scale),
        );
        let sides = B::float_add(
            bump::<B>(v.clone(), terms.lens, terms.wide),
            bump::<B>(v, -terms.lens, terms.wide),
        );
        let out = B::float_sub(
            centre,
            B::float_mul_scalar(sides, scalar(terms.sides_scale)),
        );
        debug_assert_eq!(out.dtype(), dtype);
        out
    }
}

/// Under autodiff the updates run on the inner tensors and their results take part in no graph.
impl<B: UpdateOps, C: CheckpointStrategy> UpdateOps for Autodiff<B, C> {
    fn regularised_gradient(
        task: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        multiplier: FloatTensor<Self>,
        earlier: FloatTensor<Self>,
        with_earlier: bool,
        terms: RegulariserTerms,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (gradient, squares) = B::regularised_gradient(
            Self::inner(task),
            Self::inner(weight),
            Self::inner(running_mean),
            Self::inner(multiplier),
            Self::inner(earlier),
            with_earlier,
            terms,
        );
        (Self::from_inner(gradient), Self::from_inner(squares))
    }

    fn adamax_step(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        moment: FloatTensor<Self>,
        infinity_norm: FloatTensor<Self>,
        first: bool,
        scalars: AdamaxScalars,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (weight, moment, infinity_norm) = B::adamax_step(
            Self::inner(grad),
            Self::inner(weight),
            Self::inner(moment),
            Self::inner(infinity_norm),
            first,
            scalars,
        );
        (
            Self::from_inner(weight),
            Self::from_inner(moment),
            Self::from_inner(infinity_norm),
        )
    }

    fn after_step(
        weight: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        multiplier: FloatTensor<Self>,
        alpha: f64,
        beta: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (running_mean, multiplier) = B::after_step(
            Self::inner(weight),
            Self::inner(running_mean),
            Self::inner(multiplier),
            alpha,
            beta,
        );
        (Self::from_inner(running_mean), Self::from_inner(multiplier))
    }

    fn multi_gaussian(v: FloatTensor<Self>, terms: MultiGaussianTerms) -> FloatTensor<Self> {
        Self::from_inner(B::multi_gaussian(Self::inner(v), terms))
    }

    fn clip_scale(
        grad: FloatTensor<Self>,
        squared_norm: FloatTensor<Self>,
        max_norm: f64,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::clip_scale(
            Self::inner(grad),
            Self::inner(squared_norm),
            max_norm,
        ))
    }
}

/// The CPU backends' updates: one loop each over the f32 storage (`super::host`).
#[cfg(any(feature = "ndarray", feature = "flex"))]
macro_rules! host_update_ops {
    ($backend:ty) => {
        impl UpdateOps for $backend {
            fn regularised_gradient(
                task: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                running_mean: FloatTensor<Self>,
                multiplier: FloatTensor<Self>,
                earlier: FloatTensor<Self>,
                with_earlier: bool,
                terms: RegulariserTerms,
            ) -> (FloatTensor<Self>, FloatTensor<Self>) {
                super::host::regularised_gradient::<Self>(
                    task,
                    weight,
                    running_mean,
                    multiplier,
                    earlier,
                    with_earlier,
                    terms,
                )
            }

            fn adamax_step(
                grad: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                moment: FloatTensor<Self>,
                infinity_norm: FloatTensor<Self>,
                first: bool,
                scalars: AdamaxScalars,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                super::host::adamax_step::<Self>(
                    grad,
                    weight,
                    moment,
                    infinity_norm,
                    first,
                    scalars,
                )
            }

            fn after_step(
                weight: FloatTensor<Self>,
                running_mean: FloatTensor<Self>,
                multiplier: FloatTensor<Self>,
                alpha: f64,
                beta: f64,
            ) -> (FloatTensor<Self>, FloatTensor<Self>) {
                super::host::after_step::<Self>(weight, running_mean, multiplier, alpha, beta)
            }

            fn multi_gaussian(
                v: FloatTensor<Self>,
                terms: MultiGaussianTerms,
            ) -> FloatTensor<Self> {
                super::host::multi_gaussian::<Self>(v, terms)
            }
        }
    };
}

#[cfg(feature = "ndarray")]
host_update_ops!(NdArray);
#[cfg(feature = "flex")]
host_update_ops!(Flex);
