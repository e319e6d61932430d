//! The crate's kernels: the spiking cell's operations and the per-parameter updates, each
//! written once per backend and chosen by the backend a tensor lives on.
//!
//! Three backend-extension traits hold them:
//!
//! - [`cell::CellOps`]: the cell's differentiable operations (affine maps, the gate, the logistic,
//!   the blend `a + w (b − a)`, the threshold gap, the hard reset, the spike with its surrogate
//!   slope) and the products and element-wise derivatives of their hand-written backward passes
//!   (`cell_autodiff`).
//! - [`loss::LossOps`]: the cross-entropy as one node on the backends with kernels for it (wgpu),
//!   burn's composition elsewhere.
//! - [`update::UpdateOps`]: the work outside the autodiff graph: FPTT's regularised gradient and
//!   its sum of squares, the Adamax step, FPTT's after-step update of `λ` and `W̄`, and the
//!   multi-Gaussian surrogate's slope.
//!
//! The traits' default bodies compose burn's tensor operations; they are the reference every
//! implementation is tested against, and they define the order of the floating-point
//! operations. Each backend overrides what it runs better:
//!
//! | backend | cell operations | updates | cross-entropy |
//! | --- | --- | --- | --- |
//! | ndarray | loops and strided GEMMs (`cell_ndarray`) | one loop each over the f32 storage (`host`, `loops`) | burn's composition |
//! | flex | the default bodies | one loop each over the f32 storage (`host`, `loops`) | burn's composition |
//! | wgpu | one CubeCL kernel per element-wise operation (`cube`) | one CubeCL kernel each (`cube`) | two kernels (`cube_loss`) |
//! | wgpu with `fusion` | the default bodies, which burn fuses | the default bodies, which burn fuses | burn's composition, fused |
//! | autodiff over any of them | one graph node each (`cell_autodiff`) | the inner backend's | one node where the backend has the kernels (`loss`) |
//!
//! The wrappers below take [`Tensor`]s and hand them to burn's `Dispatch`, which routes each call
//! to the backend of its tensors: no caller checks devices.

mod cell;
mod cell_autodiff;
#[cfg(feature = "ndarray")]
mod cell_ndarray;
#[cfg(feature = "wgpu")]
mod cube;
#[cfg(all(feature = "wgpu", not(feature = "fusion")))]
mod cube_lists;
#[cfg(feature = "wgpu")]
mod cube_loss;
#[cfg(any(feature = "ndarray", feature = "flex"))]
mod host;
#[cfg(any(feature = "ndarray", feature = "flex"))]
mod loops;
mod loss;
mod update;

use burn::backend::Dispatch;
use burn::tensor::{DType, Int, Tensor};

use cell::CellOps;
pub(crate) use cell::Threshold;
use loss::LossOps;
use update::UpdateOps;
pub(crate) use update::{AdamaxScalars, MultiGaussianTerms, RegulariserTerms};

/// The dtype of the backend's boolean tensors on `t`'s device (wgpu has no native bool storage),
/// for the reference bodies' comparisons.
fn bool_dtype<B: burn::backend::Backend>(
    t: &burn::backend::tensor::FloatTensor<B>,
) -> burn::tensor::BoolDType {
    use burn::backend::TensorMetadata;
    burn::backend::get_or_init_device_settings::<B>(&t.device()).bool_dtype
}

/// `v g − detach(v g)`: adds `0` in the forward pass (NaN where `v g` is not finite) and the
/// constant `slope` `g` to `ds/dv` in the backward pass.
pub(crate) fn straight_through<const D: usize>(v: Tensor<D>, slope: Tensor<D>) -> Tensor<D> {
    let linear = v * slope;
    linear.clone() - linear.detach()
}

/// `x W + b` for `x` `[batch, k]`, `W` `[k, n]` and `b` `[n]`; one graph node under autodiff.
pub(crate) fn affine(x: Tensor<2>, w: Tensor<2>, b: Option<Tensor<1>>) -> Tensor<2> {
    match b {
        Some(b) => Tensor::from_dispatch(Dispatch::affine(
            x.into_dispatch(),
            w.into_dispatch(),
            b.into_dispatch(),
        )),
        None => Tensor::from_dispatch(Dispatch::product(x.into_dispatch(), w.into_dispatch())),
    }
}

/// `x₁ W₁ + x₂ W₂ + b` (shapes as in [`affine`]); one graph node under autodiff.
pub(crate) fn affine_pair(
    x1: Tensor<2>,
    w1: Tensor<2>,
    x2: Tensor<2>,
    w2: Tensor<2>,
    b: Option<Tensor<1>>,
) -> Tensor<2> {
    match b {
        Some(b) => Tensor::from_dispatch(Dispatch::affine_pair(
            x1.into_dispatch(),
            w1.into_dispatch(),
            x2.into_dispatch(),
            w2.into_dispatch(),
            b.into_dispatch(),
        )),
        None => x1.matmul(w1) + x2.matmul(w2),
    }
}

/// A gate `σ(x₁ W₁ + x₂ W₂ + b)` (shapes as in [`affine_pair`]); one graph node under autodiff.
pub(crate) fn gate(
    x1: Tensor<2>,
    w1: Tensor<2>,
    x2: Tensor<2>,
    w2: Tensor<2>,
    b: Tensor<1>,
) -> Tensor<2> {
    Tensor::from_dispatch(Dispatch::gate(
        x1.into_dispatch(),
        w1.into_dispatch(),
        x2.into_dispatch(),
        w2.into_dispatch(),
        b.into_dispatch(),
    ))
}

/// `a + σ(x₁ W₁ + x₂ W₂ + b) (c − a)` (shapes as in [`gate`], `a` and `c` like its output): `a`
/// moved towards `c` by a gate; one graph node under autodiff where the backend fuses it
/// (`CellOps::FUSED_GATED_BLEND`: wgpu), the gate's node and the blend's elsewhere.
pub(crate) fn gated_blend(
    x1: Tensor<2>,
    w1: Tensor<2>,
    x2: Tensor<2>,
    w2: Tensor<2>,
    b: Tensor<1>,
    a: Tensor<2>,
    c: Tensor<2>,
) -> Tensor<2> {
    let (blended, _gate) = Dispatch::gated_blend(
        x1.into_dispatch(),
        w1.into_dispatch(),
        x2.into_dispatch(),
        w2.into_dispatch(),
        b.into_dispatch(),
        a.into_dispatch(),
        c.into_dispatch(),
    );
    Tensor::from_dispatch(blended)
}

/// The logistic sigmoid `1 / (1 + e^(−z))`, in the tensor's own precision; one graph node under
/// autodiff.
pub(crate) fn logistic<const D: usize>(z: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::logistic(z.into_dispatch()))
}

/// `a + w (b − a)` for tensors of one shape; one graph node under autodiff.
pub(crate) fn blend<const D: usize>(a: Tensor<D>, b: Tensor<D>, w: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::blend(
        a.into_dispatch(),
        b.into_dispatch(),
        w.into_dispatch(),
    ))
}

/// `pre − (b β + b₀)`: the membrane's distance to the adaptive threshold `b₀ + β b`, for tensors
/// of one shape; one graph node under autodiff.
pub(crate) fn threshold_gap<const D: usize>(
    pre: Tensor<D>,
    adaptation: Tensor<D>,
    beta: f64,
    base: f64,
) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::threshold_gap(
        pre.into_dispatch(),
        adaptation.into_dispatch(),
        beta,
        base,
    ))
}

/// The spikes of `pre` against the threshold `b₀ + β b` with the multi-Gaussian surrogate's slope
/// as their gradient: [`threshold_gap`], the slope and [`spike`] as one graph node (a tracked
/// `pre` or `b`), the gap's plain step otherwise.
pub(crate) fn fire_multi_gaussian<const D: usize>(
    pre: Tensor<D>,
    adaptation: Tensor<D>,
    threshold: Threshold,
    terms: &MultiGaussianTerms,
) -> Tensor<D> {
    if !pre.is_tracked() && !adaptation.is_tracked() {
        let gap = threshold_gap(pre, adaptation, threshold.beta, threshold.base);
        return gap.greater_elem(0.0).float();
    }
    let (spikes, _slope) = Dispatch::fire_multi_gaussian(
        pre.into_dispatch(),
        adaptation.into_dispatch(),
        threshold,
        *terms,
    );
    Tensor::from_dispatch(spikes)
}

/// `pre − s pre`: the membrane after a hard reset by the spikes `s`; one graph node under
/// autodiff.
pub(crate) fn hard_reset<const D: usize>(pre: Tensor<D>, spikes: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::hard_reset(
        pre.into_dispatch(),
        spikes.into_dispatch(),
    ))
}

/// `1` where `v > 0` and `0` elsewhere, with `slope` (a constant of `v`'s shape) as `ds/dv`; one
/// graph node under autodiff.
pub(crate) fn spike<const D: usize>(v: Tensor<D>, slope: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::spike(v.into_dispatch(), slope.into_dispatch()))
}

/// `−mean_b log softmax(scores_b)[targets_b]` times `weight`, for `scores` `[batch, classes]` and
/// class indices `targets` `[batch]`; one graph node under autodiff where the backend has kernels
/// for it ([`LossOps::FUSED_CROSS_ENTROPY`]), burn's composition elsewhere.
pub(crate) fn cross_entropy(scores: Tensor<2>, targets: Tensor<1, Int>, weight: f64) -> Tensor<1> {
    Tensor::from_dispatch(Dispatch::cross_entropy(
        scores.into_dispatch(),
        targets.into_dispatch(),
        weight,
    ))
}

/// The first-moment and infinity-norm state of one Adamax step, flattened.
#[derive(Clone, Debug)]
pub(crate) struct AdamaxBuffers {
    pub(crate) weight: Tensor<1>,
    pub(crate) moment: Tensor<1>,
    pub(crate) infinity_norm: Tensor<1>,
}

/// The running sum of the squares of the regularised gradients, as each backend keeps it: in f64
/// on the host for the CPU loops (read back without a device sync), in the gradients' dtype on
/// the device otherwise (so that the step never waits for the device).
pub(crate) enum SquaredNorm {
    /// Summed on the host.
    Host(f64),
    /// A one-element tensor on the gradients' device.
    Device(Box<Tensor<1>>),
}

/// `task + α (W − W̄) − s λ` (`task` zero when absent), written over `task` where no other handle
/// shares it, and `squares` (the running total of earlier parameters, if any) plus the sum of its
/// squares.
pub(crate) fn regularised_gradient(
    task: Option<Tensor<1>>,
    weight: &Tensor<1>,
    running_mean: &Tensor<1>,
    multiplier: &Tensor<1>,
    squares: Option<Tensor<1>>,
    terms: RegulariserTerms,
) -> (Tensor<1>, Tensor<1>) {
    let task = task.unwrap_or_else(|| weight.zeros_like());
    // Without an earlier total none is read; the weight stands in.
    let with_earlier = squares.is_some();
    let earlier = squares.unwrap_or_else(|| weight.clone());
    let (gradient, squares) = Dispatch::regularised_gradient(
        task.into_dispatch(),
        weight.clone().into_dispatch(),
        running_mean.clone().into_dispatch(),
        multiplier.clone().into_dispatch(),
        earlier.into_dispatch(),
        with_earlier,
        terms,
    );
    (
        Tensor::from_dispatch(gradient),
        Tensor::from_dispatch(squares),
    )
}

/// [`regularised_gradient`] of several parameters at once (one launch on wgpu): their
/// regularised gradients, and the sum of all their squares, summed in the order given.
///
/// # Panics
///
/// When the lists are empty or of different lengths.
pub(crate) fn regularised_gradients(
    tasks: Vec<Option<Tensor<1>>>,
    weights: &[Tensor<1>],
    running_means: &[Tensor<1>],
    multipliers: &[Tensor<1>],
    terms: RegulariserTerms,
) -> (Vec<Tensor<1>>, Tensor<1>) {
    update::check_lists(&[
        tasks.len(),
        weights.len(),
        running_means.len(),
        multipliers.len(),
    ]);
    let tasks: Vec<Tensor<1>> = tasks
        .into_iter()
        .zip(weights)
        .map(|(task, weight)| task.unwrap_or_else(|| weight.zeros_like()))
        .collect();
    #[cfg(all(feature = "wgpu", not(feature = "fusion")))]
    if let (Some(t), Some(w), Some(m), Some(l)) = (
        lists::cube(&tasks),
        lists::cube(weights),
        lists::cube(running_means),
        lists::cube(multipliers),
    ) {
        let (gradients, total) = cube_lists::regularised_gradients(t, w, m, l, terms);
        return (
            lists::from_cube(gradients),
            lists::from_cube(vec![total]).remove(0),
        );
    }
    let mut total: Option<Tensor<1>> = None;
    let mut gradients = Vec::with_capacity(tasks.len());
    for (((task, weight), running_mean), multiplier) in tasks
        .into_iter()
        .zip(weights)
        .zip(running_means)
        .zip(multipliers)
    {
        let (gradient, squares) = regularised_gradient(
            Some(task),
            weight,
            running_mean,
            multiplier,
            total.take(),
            terms,
        );
        gradients.push(gradient);
        total = Some(squares);
    }
    (gradients, total.expect("checked: at least one parameter"))
}

impl SquaredNorm {
    /// The total a backend returned from [`regularised_gradient`]: an f64 total was summed on the
    /// host by the CPU loops, and reading it costs nothing.
    pub(crate) fn of(total: Tensor<1>) -> Self {
        if total.dtype() == DType::F64 {
            Self::Host(total.into_scalar::<f64>())
        } else {
            Self::Device(Box::new(total))
        }
    }
}

/// One Adamax step with gradient `grad`, writing the weight and the state in place where no other
/// handle shares them; `first` when the state starts at this step (`m = (1 − β1) g`,
/// `u = |g| + ε`, whatever `state` holds).
pub(crate) fn adamax_step(
    grad: &Tensor<1>,
    state: AdamaxBuffers,
    first: bool,
    scalars: AdamaxScalars,
) -> AdamaxBuffers {
    let (weight, moment, infinity_norm) = Dispatch::adamax_step(
        grad.clone().into_dispatch(),
        state.weight.into_dispatch(),
        state.moment.into_dispatch(),
        state.infinity_norm.into_dispatch(),
        first,
        scalars,
    );
    AdamaxBuffers {
        weight: Tensor::from_dispatch(weight),
        moment: Tensor::from_dispatch(moment),
        infinity_norm: Tensor::from_dispatch(infinity_norm),
    }
}

/// [`adamax_step`] of several parameters with one step's scalars at once (one launch on wgpu
/// where the adapter binds five buffers a parameter, otherwise one per parameter).
///
/// # Panics
///
/// When the lists are empty or of different lengths.
pub(crate) fn adamax_steps(
    grads: Vec<Tensor<1>>,
    states: Vec<AdamaxBuffers>,
    first: bool,
    scalars: AdamaxScalars,
) -> Vec<AdamaxBuffers> {
    update::check_lists(&[grads.len(), states.len()]);
    #[cfg(all(feature = "wgpu", not(feature = "fusion")))]
    {
        let weights: Vec<Tensor<1>> = states.iter().map(|s| s.weight.clone()).collect();
        let moments: Vec<Tensor<1>> = states.iter().map(|s| s.moment.clone()).collect();
        let norms: Vec<Tensor<1>> = states.iter().map(|s| s.infinity_norm.clone()).collect();
        if let (Some(g), Some(w), Some(m), Some(u)) = (
            lists::cube(&grads),
            lists::cube(&weights),
            lists::cube(&moments),
            lists::cube(&norms),
        ) && [&w, &m, &u].iter().all(|list| list[0].dtype == g[0].dtype)
        {
            // Only the lists hold the state now, so that it is written in place.
            drop((states, moments, norms));
            let (w, m, u) = cube_lists::adamax_steps(g, w, m, u, first, scalars);
            return lists::from_cube(w)
                .into_iter()
                .zip(lists::from_cube(m))
                .zip(lists::from_cube(u))
                .map(|((weight, moment), infinity_norm)| AdamaxBuffers {
                    weight,
                    moment,
                    infinity_norm,
                })
                .collect();
        }
    }
    grads
        .iter()
        .zip(states)
        .map(|(grad, state)| adamax_step(grad, state, first, scalars))
        .collect()
}

/// FPTT's post-step update `λ ← λ − α (W − W̄)`, then `W̄ ← (1 − β) W̄ + β W − (β/α) λ`, in
/// place where no other handle shares them; returns `(W̄, λ)`.
pub(crate) fn after_step(
    weight: &Tensor<1>,
    running_mean: Tensor<1>,
    multiplier: Tensor<1>,
    alpha: f64,
    beta: f64,
) -> (Tensor<1>, Tensor<1>) {
    let (running_mean, multiplier) = Dispatch::after_step(
        weight.clone().into_dispatch(),
        running_mean.into_dispatch(),
        multiplier.into_dispatch(),
        alpha,
        beta,
    );
    (
        Tensor::from_dispatch(running_mean),
        Tensor::from_dispatch(multiplier),
    )
}

/// [`after_step`] of several parameters at once (one launch on wgpu); returns their `W̄` and
/// `λ`.
///
/// # Panics
///
/// When the lists are empty or of different lengths.
pub(crate) fn after_steps(
    weights: Vec<Tensor<1>>,
    running_means: Vec<Tensor<1>>,
    multipliers: Vec<Tensor<1>>,
    alpha: f64,
    beta: f64,
) -> (Vec<Tensor<1>>, Vec<Tensor<1>>) {
    update::check_lists(&[weights.len(), running_means.len(), multipliers.len()]);
    #[cfg(all(feature = "wgpu", not(feature = "fusion")))]
    if let (Some(w), Some(m), Some(l)) = (
        lists::cube(&weights),
        lists::cube(&running_means),
        lists::cube(&multipliers),
    ) {
        let (means, multipliers) = cube_lists::after_steps(w, m, l, alpha, beta);
        return (lists::from_cube(means), lists::from_cube(multipliers));
    }
    weights
        .iter()
        .zip(running_means)
        .zip(multipliers)
        .map(|((weight, running_mean), multiplier)| {
            after_step(weight, running_mean, multiplier, alpha, beta)
        })
        .unzip()
}

/// [`clip_scale`] of several flattened gradients at once (one launch on wgpu).
///
/// # Panics
///
/// When `grads` is empty.
pub(crate) fn clip_scales(
    grads: Vec<Tensor<1>>,
    squared_norm: &Tensor<1>,
    max_norm: f64,
) -> Vec<Tensor<1>> {
    update::check_lists(&[grads.len()]);
    #[cfg(all(feature = "wgpu", not(feature = "fusion")))]
    if let (Some(g), Some(mut n)) = (
        lists::cube(&grads),
        lists::cube(std::slice::from_ref(squared_norm)),
    ) {
        return lists::from_cube(cube_lists::clip_scales(g, n.remove(0), max_norm));
    }
    grads
        .into_iter()
        .map(|grad| clip_scale(grad, squared_norm, max_norm))
        .collect()
}

/// The lists of tensors of a whole model's updates, as wgpu's tensors: the one place where the
/// multi-tensor updates choose their backend (burn's `#[backend_extension]` routes by single
/// tensors, not lists). With `fusion` the wgpu tensors are fusion's, and the updates take the
/// per-parameter path, as fusion operations.
#[cfg(all(feature = "wgpu", not(feature = "fusion")))]
mod lists {
    use burn::backend::wgpu::CubeTensor;
    use burn::backend::{
        BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind,
    };
    use burn::tensor::Tensor;

    /// The wgpu tensors of `tensors`, when all are plain (not autodiff) wgpu float tensors of
    /// one dtype (a kernel is compiled for one float type; mixed lists take the per-parameter
    /// path).
    pub(super) fn cube(tensors: &[Tensor<1>]) -> Option<Vec<CubeTensor>> {
        let dtype = tensors.first()?.dtype();
        tensors
            .iter()
            .map(|tensor| match tensor.clone().into_dispatch() {
                DispatchTensor {
                    kind: DispatchTensorKind::Cube(BackendTensor::Float(tensor)),
                    autodiff: DispatchAutodiffContext::Disabled,
                } if tensor.dtype == dtype => Some(tensor),
                _ => None,
            })
            .collect()
    }

    /// Plain tensors over wgpu tensors.
    pub(super) fn from_cube(tensors: Vec<CubeTensor>) -> Vec<Tensor<1>> {
        tensors
            .into_iter()
            .map(|tensor| {
                Tensor::from_dispatch(DispatchTensor {
                    kind: DispatchTensorKind::Cube(BackendTensor::Float(tensor)),
                    autodiff: DispatchAutodiffContext::Disabled,
                })
            })
            .collect()
    }
}

/// `grad · min(1, max_norm / (√squared_norm + 1e-6))`, with the squared global norm in a
/// one-element tensor on the gradients' device (no device sync).
pub(crate) fn clip_scale<const D: usize>(
    grad: Tensor<D>,
    squared_norm: &Tensor<1>,
    max_norm: f64,
) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::clip_scale(
        grad.into_dispatch(),
        squared_norm.clone().into_dispatch(),
        max_norm,
    ))
}

/// The multi-Gaussian surrogate's `g(v)` element-wise, as a new tensor outside any autodiff
/// graph (`v` itself is not written).
pub(crate) fn multi_gaussian<const D: usize>(
    v: Tensor<D>,
    terms: &MultiGaussianTerms,
) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::multi_gaussian(v.into_dispatch(), *terms))
}

#[cfg(test)]
mod tests;
