//! The kernels on wgpu: CubeCL kernels for the cell's element-wise operations and their
//! derivatives, the spike with its surrogate slope, and each parameter update, one launch each.
//!
//! Written with burn's tensor operations, each of these is a chain of element-wise kernels (the
//! Adamax step alone is nine); here each reads its inputs once and writes its outputs once. The
//! kernels follow the reference bodies operation for operation, in f32 or the tensors' own
//! float type; a GPU compiler may still contract a product and a sum into a fused multiply-add,
//! so the results match the reference to rounding rather than bit for bit.
//!
//! The matrix products stay burn's (tuned GEMMs); the affine maps add their bias rows in one
//! kernel after them. With the `fusion` feature, burn fuses the cell's reference bodies itself;
//! the spike and the updates stay opaque fusion operations that run the kernels here.

use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::backend::{TensorMetadata, ops::FloatTensorOps, tensor::FloatTensor};
use burn::tensor::{DType, Shape};
use burn_cubecl::kernel::into_contiguous;
use cubecl::client::Client;
use cubecl::prelude::*;
use cubecl::{CubeCount, CubeDim, calculate_cube_count_elemwise};

use super::cell::{CellOps, Threshold, reference as cell_reference};
use super::update::{AdamaxScalars, MultiGaussianTerms, RegulariserTerms, UpdateOps};

/// Units of the one cube that sums a parameter's squares (a power of two).
pub(super) const REDUCE_UNITS: u32 = 256;

/// The exponent bits of an f32: all set for infinities and NaN.
const EXPONENT_BITS: u32 = 0x7F80_0000;

/// The bits of an f32 quiet NaN.
pub(super) const QUIET_NAN: u32 = 0x7FC0_0000;

#[cube(launch)]
fn logistic_kernel<F: Float>(z: &Tensor<F>, out: &mut Tensor<F>, #[define(F)] _dtype: ElemType) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    out[ABSOLUTE_POS] = F::new(1.0) / (F::exp(-z[ABSOLUTE_POS]) + F::new(1.0));
}

#[cube(launch)]
fn blend_kernel<F: Float>(
    a: &Tensor<F>,
    b: &Tensor<F>,
    w: &Tensor<F>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let start = a[ABSOLUTE_POS];
    out[ABSOLUTE_POS] = start + w[ABSOLUTE_POS] * (b[ABSOLUTE_POS] - start);
}

/// The spike of an f32 membrane distance: `[v > 0]`, or NaN where `v g` is not finite (its
/// exponent bits all ones). The test is on the bits because a shader compiler may assume
/// that floats are finite and fold `x − x` to 0.
#[cube(launch)]
fn spike_kernel(v: &Tensor<f32>, slope: &Tensor<f32>, out: &mut Tensor<f32>) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let potential = v[ABSOLUTE_POS];
    let linear = potential * slope[ABSOLUTE_POS];
    let mut step = 0.0f32;
    if potential > 0.0f32 {
        step = 1.0f32;
    }
    if (u32::reinterpret(linear) & EXPONENT_BITS) == EXPONENT_BITS {
        step = f32::reinterpret(QUIET_NAN);
    }
    out[ABSOLUTE_POS] = step;
}

#[cube(launch)]
fn logistic_gradient_kernel<F: Float>(
    y: &Tensor<F>,
    g: &Tensor<F>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let rate = y[ABSOLUTE_POS];
    out[ABSOLUTE_POS] = g[ABSOLUTE_POS] * (rate * (-rate + F::new(1.0)));
}

#[cube(launch)]
fn blend_gradient_start_kernel<F: Float>(
    g: &Tensor<F>,
    w: &Tensor<F>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    out[ABSOLUTE_POS] = g[ABSOLUTE_POS] * (-w[ABSOLUTE_POS] + F::new(1.0));
}

#[cube(launch)]
fn blend_gradient_fraction_kernel<F: Float>(
    g: &Tensor<F>,
    a: &Tensor<F>,
    b: &Tensor<F>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    out[ABSOLUTE_POS] = g[ABSOLUTE_POS] * (b[ABSOLUTE_POS] - a[ABSOLUTE_POS]);
}

/// `(p₁ + p₂) + b` with the bias `b` `[n]` added to every row of the `[batch, n]` products.
/// `σ((p + q) + b)`: the add-pair-and-row kernel's sum, then the logistic kernel's sigmoid.
#[cube(launch)]
fn gate_kernel<F: Float>(
    first: &Tensor<F>,
    second: &Tensor<F>,
    bias: &Tensor<F>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let column = ABSOLUTE_POS % bias.len();
    let z = (first[ABSOLUTE_POS] + second[ABSOLUTE_POS]) + bias[column];
    out[ABSOLUTE_POS] = F::new(1.0) / (F::exp(-z) + F::new(1.0));
}

/// The logistic gradient of one column per cube, each unit striding over the rows, and the
/// column's sum (the bias gradient) from the cube's pairwise sum.
#[cube(launch)]
fn gate_gradients_kernel<F: Float>(
    y: &Tensor<F>,
    g: &Tensor<F>,
    to_z: &mut Tensor<F>,
    to_bias: &mut Tensor<F>,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let columns = to_bias.len();
    let column = CUBE_POS;
    let rows = y.len() / columns;
    let unit = UNIT_POS as usize;
    let mut sum = F::new(0.0);
    let mut row = unit;
    while row < rows {
        let index = row * columns + column;
        let rate = y[index];
        let value = g[index] * (rate * (-rate + F::new(1.0)));
        to_z[index] = value;
        sum += value;
        row += units;
    }
    let mut partial = Shared::new_slice(units);
    let total = sum_over_cube::<F>(&mut partial, sum);
    if unit == 0 {
        to_bias[column] = total;
    }
}

/// The gate kernel's `w = σ((p + q) + b)`, then the blend kernel's `a + w (c − a)`; writes both.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn gated_blend_kernel<F: Float>(
    first: &Tensor<F>,
    second: &Tensor<F>,
    bias: &Tensor<F>,
    a: &Tensor<F>,
    c: &Tensor<F>,
    out: &mut Tensor<F>,
    gate: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let column = ABSOLUTE_POS % bias.len();
    let z = (first[ABSOLUTE_POS] + second[ABSOLUTE_POS]) + bias[column];
    let w = F::new(1.0) / (F::exp(-z) + F::new(1.0));
    gate[ABSOLUTE_POS] = w;
    let start = a[ABSOLUTE_POS];
    out[ABSOLUTE_POS] = start + w * (c[ABSOLUTE_POS] - start);
}

/// The gradients of a gated blend, one column per cube (as `gate_gradients_kernel`): `g w` for
/// `c`, `g (c − a)` through the gate's logistic gradient for its pre-activation, and the
/// column's sum of the latter (the bias gradient).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn gated_blend_gradients_kernel<F: Float>(
    g: &Tensor<F>,
    w: &Tensor<F>,
    a: &Tensor<F>,
    c: &Tensor<F>,
    to_z: &mut Tensor<F>,
    to_bias: &mut Tensor<F>,
    to_c: &mut Tensor<F>,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let columns = to_bias.len();
    let column = CUBE_POS;
    let rows = w.len() / columns;
    let unit = UNIT_POS as usize;
    let mut sum = F::new(0.0);
    let mut row = unit;
    while row < rows {
        let index = row * columns + column;
        let rate = w[index];
        let grad = g[index];
        to_c[index] = grad * rate;
        let to_rate = grad * (c[index] - a[index]);
        let value = to_rate * (rate * (-rate + F::new(1.0)));
        to_z[index] = value;
        sum += value;
        row += units;
    }
    let mut partial = Shared::new_slice(units);
    let total = sum_over_cube::<F>(&mut partial, sum);
    if unit == 0 {
        to_bias[column] = total;
    }
}

#[cube(launch)]
fn threshold_gap_kernel<F: Float>(
    pre: &Tensor<F>,
    adaptation: &Tensor<F>,
    out: &mut Tensor<F>,
    beta: f32,
    base: f32,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let threshold = adaptation[ABSOLUTE_POS] * F::cast_from(beta) + F::cast_from(base);
    out[ABSOLUTE_POS] = pre[ABSOLUTE_POS] - threshold;
}

/// The threshold gap, its multi-Gaussian slope and the f32 spike of `spike_kernel`, in one pass.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn fire_multi_gaussian_kernel(
    pre: &Tensor<f32>,
    adaptation: &Tensor<f32>,
    spikes: &mut Tensor<f32>,
    slope: &mut Tensor<f32>,
    beta: f32,
    base: f32,
    lens: f32,
    centre_factor: f32,
    sides_factor: f32,
    centre_scale: f32,
    sides_scale: f32,
) {
    if ABSOLUTE_POS >= spikes.len() {
        terminate!();
    }
    let gap = pre[ABSOLUTE_POS] - (adaptation[ABSOLUTE_POS] * beta + base);
    let centre = bump::<f32>(gap, 0.0f32, centre_factor) * centre_scale;
    let sides = bump::<f32>(gap, lens, sides_factor) + bump::<f32>(gap, -lens, sides_factor);
    let g = centre - sides * sides_scale;
    let mut step = 0.0f32;
    if gap > 0.0f32 {
        step = 1.0f32;
    }
    if (u32::reinterpret(gap * g) & EXPONENT_BITS) == EXPONENT_BITS {
        step = f32::reinterpret(QUIET_NAN);
    }
    spikes[ABSOLUTE_POS] = step;
    slope[ABSOLUTE_POS] = g;
}

#[cube(launch)]
fn fire_gradients_kernel<F: Float>(
    g: &Tensor<F>,
    slope: &Tensor<F>,
    to_pre: &mut Tensor<F>,
    to_adaptation: &mut Tensor<F>,
    negated_beta: f32,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= to_pre.len() {
        terminate!();
    }
    let to_gap = g[ABSOLUTE_POS] * slope[ABSOLUTE_POS];
    to_pre[ABSOLUTE_POS] = to_gap;
    to_adaptation[ABSOLUTE_POS] = to_gap * F::cast_from(negated_beta);
}

#[cube(launch)]
fn hard_reset_kernel<F: Float>(
    pre: &Tensor<F>,
    spikes: &Tensor<F>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let membrane = pre[ABSOLUTE_POS];
    out[ABSOLUTE_POS] = membrane - spikes[ABSOLUTE_POS] * membrane;
}

#[cube(launch)]
fn hard_reset_gradients_kernel<F: Float>(
    g: &Tensor<F>,
    pre: &Tensor<F>,
    spikes: &Tensor<F>,
    to_pre: &mut Tensor<F>,
    to_spikes: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= to_pre.len() {
        terminate!();
    }
    let gradient = g[ABSOLUTE_POS];
    to_pre[ABSOLUTE_POS] = gradient - gradient * spikes[ABSOLUTE_POS];
    to_spikes[ABSOLUTE_POS] = -gradient * pre[ABSOLUTE_POS];
}

#[cube(launch)]
fn blend_gradients_kernel<F: Float>(
    g: &Tensor<F>,
    a: &Tensor<F>,
    b: &Tensor<F>,
    w: &Tensor<F>,
    to_b: &mut Tensor<F>,
    to_w: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= to_b.len() {
        terminate!();
    }
    let gradient = g[ABSOLUTE_POS];
    to_b[ABSOLUTE_POS] = gradient * w[ABSOLUTE_POS];
    to_w[ABSOLUTE_POS] = gradient * (b[ABSOLUTE_POS] - a[ABSOLUTE_POS]);
}

#[cube(launch)]
fn add_pair_and_row_kernel<F: Float>(
    first: &Tensor<F>,
    second: &Tensor<F>,
    bias: &Tensor<F>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let column = ABSOLUTE_POS % bias.len();
    out[ABSOLUTE_POS] = (first[ABSOLUTE_POS] + second[ABSOLUTE_POS]) + bias[column];
}

/// FPTT's regularised gradient of one element, `task + α (W − W̄) − s λ`, in that order.
#[cube]
pub(super) fn regularised<F: Float>(
    task: F,
    weight: F,
    running_mean: F,
    multiplier: F,
    alpha: F,
    lambda_scale: F,
) -> F {
    let pulled = task + (weight - running_mean) * alpha;
    pulled - multiplier * lambda_scale
}

/// The sum of every unit's `sum` over the cube, halved pairwise in `partial` (a slot per unit);
/// every unit gets it. A caller that writes `partial` again syncs the cube first.
#[cube]
pub(super) fn sum_over_cube<F: Float>(partial: &mut Shared<[F]>, sum: F) -> F {
    let unit = UNIT_POS as usize;
    partial[unit] = sum;
    sync_cube();
    let mut stride = (CUBE_DIM / 2) as usize;
    while stride > 0 {
        if unit < stride {
            partial[unit] = partial[unit] + partial[unit + stride];
        }
        sync_cube();
        stride /= 2;
    }
    partial[0]
}

/// FPTT's after-step `λ − α (W − W̄)`, the new multiplier.
#[cube]
pub(super) fn updated_multiplier<F: Float>(
    weight: F,
    running_mean: F,
    multiplier: F,
    alpha: F,
) -> F {
    multiplier - (weight - running_mean) * alpha
}

/// FPTT's after-step `(1 − β) W̄ + β W − (β/α) λ`, the new running mean, from the new `λ`.
#[cube]
pub(super) fn moved_mean<F: Float>(
    weight: F,
    running_mean: F,
    updated: F,
    keep: F,
    beta: F,
    ratio: F,
) -> F {
    let moved = running_mean * keep + weight * beta;
    moved - updated * ratio
}

/// The clipping factor `min(1, max_norm / (√squared_norm + 1e-6))`, in the reference's order.
#[cube]
pub(super) fn clip_factor<F: Float>(squared_norm: F, max_norm: F) -> F {
    let norm = F::sqrt(squared_norm) + F::cast_from(1e-6f32);
    F::min(F::recip(norm) * max_norm, F::new(1.0))
}

/// FPTT's regularised gradient and its sum of squares, in one cube that strides over the
/// parameter and sums its units' partial sums in shared memory; unit 0 writes the total, plus
/// `earlier[0]` when `add_earlier` is 1.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn regularised_gradient_kernel<F: Float>(
    task: &Tensor<F>,
    weight: &Tensor<F>,
    running_mean: &Tensor<F>,
    multiplier: &Tensor<F>,
    earlier: &Tensor<F>,
    gradient: &mut Tensor<F>,
    squares: &mut Tensor<F>,
    alpha: f32,
    lambda_scale: f32,
    add_earlier: u32,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let alpha = F::cast_from(alpha);
    let lambda_scale = F::cast_from(lambda_scale);
    let unit = UNIT_POS as usize;
    let mut sum = F::new(0.0);
    let mut index = unit;
    while index < gradient.len() {
        let value = regularised::<F>(
            task[index],
            weight[index],
            running_mean[index],
            multiplier[index],
            alpha,
            lambda_scale,
        );
        gradient[index] = value;
        sum += value * value;
        index += units;
    }
    let mut partial = Shared::new_slice(units);
    let own = sum_over_cube::<F>(&mut partial, sum);
    if unit == 0 {
        let mut total = own;
        if add_earlier == 1 {
            total = earlier[0] + total;
        }
        squares[0] = total;
    }
}

/// One Adamax step (see `super::loops::adamax_step`, whose order it follows).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn adamax_kernel<F: Float>(
    grad: &Tensor<F>,
    weight: &Tensor<F>,
    moment: &Tensor<F>,
    infinity_norm: &Tensor<F>,
    weight_out: &mut Tensor<F>,
    moment_out: &mut Tensor<F>,
    infinity_norm_out: &mut Tensor<F>,
    first: u32,
    beta_1: f32,
    keep_grad: f32,
    beta_2: f32,
    epsilon: f32,
    step_size: f32,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= weight_out.len() {
        terminate!();
    }
    let g = grad[ABSOLUTE_POS];
    let mut m = F::new(0.0);
    let mut u = F::new(0.0);
    if first == 0 {
        m = moment[ABSOLUTE_POS];
        u = infinity_norm[ABSOLUTE_POS];
    }
    m = adamax_moment::<F>(g, m, first, F::cast_from(beta_1), F::cast_from(keep_grad));
    u = adamax_norm::<F>(g, u, first, F::cast_from(beta_2), F::cast_from(epsilon));
    moment_out[ABSOLUTE_POS] = m;
    infinity_norm_out[ABSOLUTE_POS] = u;
    weight_out[ABSOLUTE_POS] =
        adamax_weight::<F>(weight[ABSOLUTE_POS], m, u, F::cast_from(step_size));
}

/// Adamax's first moment `β1 m + (1 − β1) g`, or `(1 − β1) g` at the `first` step.
#[cube]
pub(super) fn adamax_moment<F: Float>(g: F, previous: F, first: u32, beta_1: F, keep_grad: F) -> F {
    let kept = g * keep_grad;
    let mut m = kept;
    if first == 0 {
        m = previous * beta_1 + kept;
    }
    m
}

/// Adamax's infinity norm `max(β2 u, |g| + ε)`, or `|g| + ε` at the `first` step.
#[cube]
pub(super) fn adamax_norm<F: Float>(g: F, previous: F, first: u32, beta_2: F, epsilon: F) -> F {
    let bound = F::abs(g) + epsilon;
    let mut u = bound;
    if first == 0 {
        u = F::max(previous * beta_2, bound);
    }
    u
}

/// Adamax's new weight `W − (m / u) · step_size`.
#[cube]
pub(super) fn adamax_weight<F: Float>(w: F, m: F, u: F, step_size: F) -> F {
    w - (m / u) * step_size
}

/// FPTT's after-step update (see `super::loops::after_step`, whose order it follows).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn after_step_kernel<F: Float>(
    weight: &Tensor<F>,
    running_mean: &Tensor<F>,
    multiplier: &Tensor<F>,
    running_mean_out: &mut Tensor<F>,
    multiplier_out: &mut Tensor<F>,
    alpha: f32,
    beta: f32,
    keep: f32,
    ratio: f32,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= running_mean_out.len() {
        terminate!();
    }
    let w = weight[ABSOLUTE_POS];
    let mean = running_mean[ABSOLUTE_POS];
    let updated = updated_multiplier::<F>(w, mean, multiplier[ABSOLUTE_POS], F::cast_from(alpha));
    running_mean_out[ABSOLUTE_POS] = moved_mean::<F>(
        w,
        mean,
        updated,
        F::cast_from(keep),
        F::cast_from(beta),
        F::cast_from(ratio),
    );
    multiplier_out[ABSOLUTE_POS] = updated;
}

/// `grad · min(1, max_norm / (√squared_norm + 1e-6))`, the factor worked by every unit from the
/// one-element total, in the reference's order.
#[cube(launch)]
fn clip_scale_kernel<F: Float>(
    grad: &Tensor<F>,
    squared_norm: &Tensor<F>,
    out: &mut Tensor<F>,
    max_norm: f32,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let factor = clip_factor::<F>(squared_norm[0], F::cast_from(max_norm));
    out[ABSOLUTE_POS] = grad[ABSOLUTE_POS] * factor;
}

/// `exp((v − mean)² · factor)`.
#[cube]
fn bump<F: Float>(v: F, mean: F, factor: F) -> F {
    let offset = v - mean;
    F::exp(offset * offset * factor)
}

/// The multi-Gaussian's `g(v)` (see `super::loops::multi_gaussian`).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn multi_gaussian_kernel<F: Float>(
    v: &Tensor<F>,
    out: &mut Tensor<F>,
    lens: f32,
    centre_factor: f32,
    sides_factor: f32,
    centre_scale: f32,
    sides_scale: f32,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let x = v[ABSOLUTE_POS];
    let lens = F::cast_from(lens);
    let sides_factor = F::cast_from(sides_factor);
    let centre =
        bump::<F>(x, F::new(0.0), F::cast_from(centre_factor)) * F::cast_from(centre_scale);
    let sides = bump::<F>(x, lens, sides_factor) + bump::<F>(x, -lens, sides_factor);
    out[ABSOLUTE_POS] = centre - sides * F::cast_from(sides_scale);
}

/// A new contiguous tensor of `like`'s shape, dtype and device.
pub(super) fn empty_like(like: &CubeTensor) -> CubeTensor {
    empty_shaped(like, like.shape())
}

/// A new contiguous tensor of `shape`, with `like`'s dtype and device.
pub(super) fn empty_shaped(like: &CubeTensor, shape: Shape) -> CubeTensor {
    let bytes = shape.num_elements() * like.dtype.size();
    CubeTensor::new_contiguous(
        like.client.clone(),
        like.device.clone(),
        shape,
        like.client.empty(bytes),
        like.dtype,
    )
}

/// The launch geometry for one unit per element of `tensor`.
pub(super) fn elementwise(tensor: &CubeTensor) -> (CubeCount, CubeDim) {
    let n = tensor.shape().num_elements();
    let cube_dim = CubeDim::new(&tensor.client, n);
    (
        calculate_cube_count_elemwise(&tensor.client, n, cube_dim),
        cube_dim,
    )
}

/// Launches an element-wise kernel over `N` contiguous inputs of one shape into `M` new outputs.
fn launch_elementwise<const N: usize, const M: usize>(
    inputs: [CubeTensor; N],
    launch: impl FnOnce(&Client, CubeCount, CubeDim, [TensorArg; N], [TensorArg; M], ElemType),
) -> [CubeTensor; M] {
    let inputs = inputs.map(into_contiguous);
    let outputs = [(); M].map(|()| empty_like(&inputs[0]));
    if inputs[0].shape().num_elements() > 0 {
        let (count, dim) = elementwise(&inputs[0]);
        let client = inputs[0].client.clone();
        let dtype = dtype_to_storage_type(inputs[0].dtype);
        let output_args = outputs.clone().map(CubeTensor::into_tensor_arg);
        launch(
            &client,
            count,
            dim,
            inputs.map(CubeTensor::into_tensor_arg),
            output_args,
            dtype,
        );
    }
    outputs
}

/// Launches `launch` with one cube of `REDUCE_UNITS` units per column of `inputs[0]` (a
/// `[rows, columns]` tensor, all inputs of its shape, made contiguous), `M` outputs like it and
/// one `[columns]` output for the columns' sums; skips the launch when there are no elements.
fn launch_per_column<const N: usize, const M: usize>(
    inputs: [CubeTensor; N],
    launch: impl FnOnce(
        &Client,
        CubeCount,
        CubeDim,
        [TensorArg; N],
        [TensorArg; M],
        TensorArg,
        ElemType,
    ),
) -> ([CubeTensor; M], CubeTensor) {
    let inputs = inputs.map(into_contiguous);
    let shape = inputs[0].shape();
    let columns = shape[shape.num_dims() - 1];
    let outputs = [(); M].map(|()| empty_like(&inputs[0]));
    let sums = empty_shaped(&inputs[0], Shape::new([columns]));
    if shape.num_elements() > 0 {
        let client = inputs[0].client.clone();
        let dtype = dtype_to_storage_type(inputs[0].dtype);
        launch(
            &client,
            CubeCount::Static(columns as u32, 1, 1),
            CubeDim::new_1d(REDUCE_UNITS),
            inputs.map(CubeTensor::into_tensor_arg),
            outputs.clone().map(CubeTensor::into_tensor_arg),
            sums.clone().into_tensor_arg(),
            dtype,
        );
    }
    (outputs, sums)
}

impl CellOps for CubeBackend {
    const FUSED_HARD_RESET: bool = true;
    const FUSED_GATED_BLEND: bool = true;

    fn affine_pair(
        x1: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        x2: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let first = Self::float_matmul(x1, w1);
        let second = Self::float_matmul(x2, w2);
        let [out] = launch_elementwise(
            [first, second, b],
            |client, count, dim, [p, q, b], [out], dtype| {
                add_pair_and_row_kernel::launch(client, count, dim, p, q, b, out, dtype)
            },
        );
        out
    }

    fn gate(
        x1: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        x2: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let first = Self::float_matmul(x1, w1);
        let second = Self::float_matmul(x2, w2);
        let [out] = launch_elementwise(
            [first, second, b],
            |client, count, dim, [p, q, b], [out], dtype| {
                gate_kernel::launch(client, count, dim, p, q, b, out, dtype)
            },
        );
        out
    }

    fn gate_gradients(
        y: FloatTensor<Self>,
        g: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let ([to_z], to_bias) = launch_per_column(
            [y, g],
            |client, count, dim, [y, g], [to_z], to_bias, dtype| {
                gate_gradients_kernel::launch(
                    client,
                    count,
                    dim,
                    y,
                    g,
                    to_z,
                    to_bias,
                    REDUCE_UNITS as usize,
                    dtype,
                )
            },
        );
        (to_z, to_bias)
    }

    fn gated_blend(
        x1: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        x2: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        a: FloatTensor<Self>,
        c: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let first = Self::float_matmul(x1, w1);
        let second = Self::float_matmul(x2, w2);
        let [out, gate] = launch_elementwise(
            [first, second, bias, a, c],
            |client, count, dim, [p, q, b, a, c], [out, gate], dtype| {
                gated_blend_kernel::launch(client, count, dim, p, q, b, a, c, out, gate, dtype)
            },
        );
        (out, gate)
    }

    fn gated_blend_gradients(
        g: FloatTensor<Self>,
        w: FloatTensor<Self>,
        a: FloatTensor<Self>,
        c: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        // The gate's value first: its shape gives the columns.
        let ([to_z, to_c], to_bias) = launch_per_column(
            [w, g, a, c],
            |client, count, dim, [w, g, a, c], [to_z, to_c], to_bias, dtype| {
                gated_blend_gradients_kernel::launch(
                    client,
                    count,
                    dim,
                    g,
                    w,
                    a,
                    c,
                    to_z,
                    to_bias,
                    to_c,
                    REDUCE_UNITS as usize,
                    dtype,
                )
            },
        );
        (to_z, to_bias, to_c)
    }

    fn logistic(z: FloatTensor<Self>) -> FloatTensor<Self> {
        let [out] = launch_elementwise([z], |client, count, dim, [z], [out], dtype| {
            logistic_kernel::launch(client, count, dim, z, out, dtype)
        });
        out
    }

    fn blend(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        w: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let [out] = launch_elementwise([a, b, w], |client, count, dim, [a, b, w], [out], dtype| {
            blend_kernel::launch(client, count, dim, a, b, w, out, dtype)
        });
        out
    }

    fn spike(v: FloatTensor<Self>, slope: FloatTensor<Self>) -> FloatTensor<Self> {
        if v.dtype != DType::F32 || slope.dtype != DType::F32 {
            return cell_reference::spike::<Self>(v, slope);
        }
        let [out] = launch_elementwise([v, slope], |client, count, dim, [v, s], [out], _| {
            spike_kernel::launch(client, count, dim, v, s, out)
        });
        out
    }

    fn threshold_gap(
        pre: FloatTensor<Self>,
        adaptation: FloatTensor<Self>,
        beta: f64,
        base: f64,
    ) -> FloatTensor<Self> {
        let [out] = launch_elementwise(
            [pre, adaptation],
            |client, count, dim, [pre, b], [out], dtype| {
                threshold_gap_kernel::launch(
                    client,
                    count,
                    dim,
                    pre,
                    b,
                    out,
                    beta as f32,
                    base as f32,
                    dtype,
                )
            },
        );
        out
    }

    fn fire_multi_gaussian(
        pre: FloatTensor<Self>,
        adaptation: FloatTensor<Self>,
        threshold: Threshold,
        terms: MultiGaussianTerms,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        if pre.dtype != DType::F32 || adaptation.dtype != DType::F32 {
            return cell_reference::fire_multi_gaussian::<Self>(pre, adaptation, threshold, terms);
        }
        let [spikes, slope] = launch_elementwise(
            [pre, adaptation],
            |client, count, dim, [pre, b], [spikes, slope], _| {
                fire_multi_gaussian_kernel::launch(
                    client,
                    count,
                    dim,
                    pre,
                    b,
                    spikes,
                    slope,
                    threshold.beta as f32,
                    threshold.base as f32,
                    terms.lens as f32,
                    MultiGaussianTerms::exponent_factor(terms.lens) as f32,
                    MultiGaussianTerms::exponent_factor(terms.wide) as f32,
                    terms.centre_scale as f32,
                    terms.sides_scale as f32,
                )
            },
        );
        (spikes, slope)
    }

    fn fire_gradients(
        g: FloatTensor<Self>,
        slope: FloatTensor<Self>,
        beta: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [to_pre, to_adaptation] = launch_elementwise(
            [g, slope],
            |client, count, dim, [g, slope], [to_pre, to_adaptation], dtype| {
                fire_gradients_kernel::launch(
                    client,
                    count,
                    dim,
                    g,
                    slope,
                    to_pre,
                    to_adaptation,
                    -beta as f32,
                    dtype,
                )
            },
        );
        (to_pre, to_adaptation)
    }

    fn hard_reset(pre: FloatTensor<Self>, spikes: FloatTensor<Self>) -> FloatTensor<Self> {
        let [out] = launch_elementwise(
            [pre, spikes],
            |client, count, dim, [pre, s], [out], dtype| {
                hard_reset_kernel::launch(client, count, dim, pre, s, out, dtype)
            },
        );
        out
    }

    fn blend_gradients(
        g: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        w: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [to_b, to_w] = launch_elementwise(
            [g, a, b, w],
            |client, count, dim, [g, a, b, w], [to_b, to_w], dtype| {
                blend_gradients_kernel::launch(client, count, dim, g, a, b, w, to_b, to_w, dtype)
            },
        );
        (to_b, to_w)
    }

    fn hard_reset_gradients(
        g: FloatTensor<Self>,
        pre: FloatTensor<Self>,
        spikes: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [to_pre, to_spikes] = launch_elementwise(
            [g, pre, spikes],
            |client, count, dim, [g, pre, s], [to_pre, to_spikes], dtype| {
                hard_reset_gradients_kernel::launch(
                    client, count, dim, g, pre, s, to_pre, to_spikes, dtype,
                )
            },
        );
        (to_pre, to_spikes)
    }

    fn logistic_gradient(y: FloatTensor<Self>, g: FloatTensor<Self>) -> FloatTensor<Self> {
        let [out] = launch_elementwise([y, g], |client, count, dim, [y, g], [out], dtype| {
            logistic_gradient_kernel::launch(client, count, dim, y, g, out, dtype)
        });
        out
    }

    fn blend_gradient_start(g: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        let [out] = launch_elementwise([g, w], |client, count, dim, [g, w], [out], dtype| {
            blend_gradient_start_kernel::launch(client, count, dim, g, w, out, dtype)
        });
        out
    }

    fn blend_gradient_fraction(
        g: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let [out] = launch_elementwise([g, a, b], |client, count, dim, [g, a, b], [out], dtype| {
            blend_gradient_fraction_kernel::launch(client, count, dim, g, a, b, out, dtype)
        });
        out
    }
}

impl UpdateOps for CubeBackend {
    fn regularised_gradient(
        task: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        multiplier: FloatTensor<Self>,
        earlier: FloatTensor<Self>,
        with_earlier: bool,
        terms: RegulariserTerms,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [task, weight, running_mean, multiplier, earlier] =
            [task, weight, running_mean, multiplier, earlier].map(into_contiguous);
        let gradient = empty_like(&task);
        let total = empty_shaped(&task, Shape::new([1]));
        let add_earlier = u32::from(with_earlier);
        let client = task.client.clone();
        let dtype = dtype_to_storage_type(task.dtype);
        regularised_gradient_kernel::launch(
            &client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(REDUCE_UNITS),
            task.into_tensor_arg(),
            weight.into_tensor_arg(),
            running_mean.into_tensor_arg(),
            multiplier.into_tensor_arg(),
            earlier.into_tensor_arg(),
            gradient.clone().into_tensor_arg(),
            total.clone().into_tensor_arg(),
            terms.alpha as f32,
            terms.lambda_scale as f32,
            add_earlier,
            REDUCE_UNITS as usize,
            dtype,
        );
        (gradient, total)
    }

    fn adamax_step(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        moment: FloatTensor<Self>,
        infinity_norm: FloatTensor<Self>,
        first: bool,
        scalars: AdamaxScalars,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let [weight, moment, infinity_norm] = launch_elementwise(
            [grad, weight, moment, infinity_norm],
            |client, count, dim, [g, w, m, u], [w_out, m_out, u_out], dtype| {
                adamax_kernel::launch(
                    client,
                    count,
                    dim,
                    g,
                    w,
                    m,
                    u,
                    w_out,
                    m_out,
                    u_out,
                    u32::from(first),
                    scalars.beta_1 as f32,
                    (1.0 - scalars.beta_1) as f32,
                    scalars.beta_2 as f32,
                    scalars.epsilon as f32,
                    scalars.step_size as f32,
                    dtype,
                )
            },
        );
        (weight, moment, infinity_norm)
    }

    fn after_step(
        weight: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        multiplier: FloatTensor<Self>,
        alpha: f64,
        beta: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [running_mean, multiplier] = launch_elementwise(
            [weight, running_mean, multiplier],
            |client, count, dim, [w, mean, lambda], [mean_out, lambda_out], dtype| {
                after_step_kernel::launch(
                    client,
                    count,
                    dim,
                    w,
                    mean,
                    lambda,
                    mean_out,
                    lambda_out,
                    alpha as f32,
                    beta as f32,
                    (1.0 - beta) as f32,
                    (beta / alpha) as f32,
                    dtype,
                )
            },
        );
        (running_mean, multiplier)
    }

    fn multi_gaussian(v: FloatTensor<Self>, terms: MultiGaussianTerms) -> FloatTensor<Self> {
        let [out] = launch_elementwise([v], |client, count, dim, [v], [out], dtype| {
            multi_gaussian_kernel::launch(
                client,
                count,
                dim,
                v,
                out,
                terms.lens as f32,
                MultiGaussianTerms::exponent_factor(terms.lens) as f32,
                MultiGaussianTerms::exponent_factor(terms.wide) as f32,
                terms.centre_scale as f32,
                terms.sides_scale as f32,
                dtype,
            )
        });
        out
    }

    fn clip_scale(
        grad: FloatTensor<Self>,
        squared_norm: FloatTensor<Self>,
        max_norm: f64,
    ) -> FloatTensor<Self> {
        let [grad, squared_norm] = [grad, squared_norm].map(into_contiguous);
        let out = empty_like(&grad);
        if grad.shape().num_elements() > 0 {
            let (count, dim) = elementwise(&grad);
            let client = grad.client.clone();
            let dtype = dtype_to_storage_type(grad.dtype);
            clip_scale_kernel::launch(
                &client,
                count,
                dim,
                grad.into_tensor_arg(),
                squared_norm.into_tensor_arg(),
                out.clone().into_tensor_arg(),
                max_norm as f32,
                dtype,
            );
        }
        out
    }
}
