//! The cross-entropy and its gradient on wgpu, one CubeCL kernel each.
//!
//! The loss is one cube: each unit takes rows `unit, unit + units, ...`, works out each row's
//! `log softmax` at its target as burn's `log_softmax` does (shifted by the row's maximum), and the
//! cube sums the rows pairwise (`sum_over_cube`). The gradient is one unit per row. A target
//! outside `0..classes` makes the loss and that row's gradient NaN, so that the learner's check for
//! a finite loss names it instead of reading out of bounds.

use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::wgpu::CubeBackend;
use burn::tensor::Shape;
use burn_cubecl::kernel::into_contiguous;
use cubecl::prelude::*;
use cubecl::{CubeCount, CubeDim, calculate_cube_count_elemwise};

use super::cube::{QUIET_NAN, REDUCE_UNITS, empty_like, empty_shaped, sum_over_cube};
use super::loss::LossOps;

/// The row's maximum and `log Σ exp(s − max)`, over `classes` scores from `start`.
#[cube]
fn row_shift_and_log_sum<F: Float>(scores: &Tensor<F>, start: usize, classes: usize) -> (F, F) {
    let mut max = scores[start];
    for c in 1..classes {
        max = F::max(max, scores[start + c]);
    }
    let mut sum = F::new(0.0);
    for c in 0..classes {
        sum += F::exp(scores[start + c] - max);
    }
    (max, F::ln(sum))
}

/// The row's target as an index, or `classes` when it is outside `0..classes`.
#[cube]
fn target_index<I: Numeric>(targets: &Tensor<I>, row: usize, classes: usize) -> usize {
    let target = targets[row];
    let mut index = classes;
    if target >= I::from_int(0) && target < I::cast_from(classes) {
        index = usize::cast_from(target);
    }
    index
}

/// A quiet NaN in the kernels' float type, made from its bits (WGSL has no NaN literal, and a
/// shader compiler may fold `0 / 0`).
#[cube]
fn not_a_number<F: Float>() -> F {
    F::cast_from(f32::reinterpret(QUIET_NAN))
}

#[cube(launch)]
fn cross_entropy_kernel<F: Float, I: Numeric>(
    scores: &Tensor<F>,
    targets: &Tensor<I>,
    loss: &mut Tensor<F>,
    weight: f32,
    #[comptime] units: usize,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let rows = targets.len();
    let classes = scores.shape(1);
    let unit = UNIT_POS as usize;
    let mut sum = F::new(0.0);
    let mut row = unit;
    while row < rows {
        let start = row * classes;
        let (max, log_sum) = row_shift_and_log_sum::<F>(scores, start, classes);
        let target = target_index::<I>(targets, row, classes);
        if target < classes {
            sum += (scores[start + target] - max) - log_sum;
        } else {
            sum += not_a_number::<F>();
        }
        row += units;
    }
    let mut partial = Shared::new_slice(units);
    let total = sum_over_cube::<F>(&mut partial, sum);
    if unit == 0 {
        loss[0] = -(total / F::cast_from(rows)) * F::cast_from(weight);
    }
}

#[cube(launch)]
fn cross_entropy_gradient_kernel<F: Float, I: Numeric>(
    scores: &Tensor<F>,
    targets: &Tensor<I>,
    g: &Tensor<F>,
    out: &mut Tensor<F>,
    weight: f32,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let rows = targets.len();
    let row = ABSOLUTE_POS;
    if row >= rows {
        terminate!();
    }
    let classes = scores.shape(1);
    let start = row * classes;
    let (max, log_sum) = row_shift_and_log_sum::<F>(scores, start, classes);
    let target = target_index::<I>(targets, row, classes);
    let scale = g[0] * F::cast_from(weight) / F::cast_from(rows);
    for c in 0..classes {
        let probability = F::exp((scores[start + c] - max) - log_sum);
        let mut value = probability * scale;
        if c == target {
            value = (probability - F::new(1.0)) * scale;
        }
        if target >= classes {
            value = not_a_number::<F>();
        }
        out[start + c] = value;
    }
}

impl LossOps for CubeBackend {
    const FUSED_CROSS_ENTROPY: bool = true;

    fn cross_entropy(
        scores: FloatTensor<Self>,
        targets: IntTensor<Self>,
        weight: f64,
    ) -> FloatTensor<Self> {
        let [scores, targets] = [scores, targets].map(into_contiguous);
        let loss = empty_shaped(&scores, Shape::new([1]));
        let client = scores.client.clone();
        let dtypes = [scores.dtype, targets.dtype].map(dtype_to_storage_type);
        cross_entropy_kernel::launch(
            &client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(REDUCE_UNITS),
            scores.into_tensor_arg(),
            targets.into_tensor_arg(),
            loss.clone().into_tensor_arg(),
            weight as f32,
            REDUCE_UNITS as usize,
            dtypes,
        );
        loss
    }

    fn cross_entropy_gradient(
        scores: FloatTensor<Self>,
        targets: IntTensor<Self>,
        g: FloatTensor<Self>,
        weight: f64,
    ) -> FloatTensor<Self> {
        let [scores, targets, g] = [scores, targets, g].map(into_contiguous);
        let out = empty_like(&scores);
        let rows = targets.shape().num_elements();
        if rows > 0 {
            let client = scores.client.clone();
            let cube_dim = CubeDim::new(&client, rows);
            let count = calculate_cube_count_elemwise(&client, rows, cube_dim);
            let dtypes = [scores.dtype, targets.dtype].map(dtype_to_storage_type);
            cross_entropy_gradient_kernel::launch(
                &client,
                count,
                cube_dim,
                scores.into_tensor_arg(),
                targets.into_tensor_arg(),
                g.into_tensor_arg(),
                out.clone().into_tensor_arg(),
                weight as f32,
                dtypes,
            );
        }
        out
    }
}
