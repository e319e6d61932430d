//! [`CellOps`](super::cell::CellOps) on ndarray: one loop per element-wise operation, and matrix
//! products that hand transposed operands to the GEMM as strided views.
//!
//! burn-ndarray's `matmul` copies every operand that is not in standard layout, which each
//! transposed operand of a backward pass is; `general_mat_mul` takes any strides, and packs its
//! operands into panels anyway. The products and sums here run in the reference's order (the
//! trait's default bodies), so the forward values are the reference's bits. Tensors of another
//! dtype than f32 take the reference.

#![allow(deprecated)]

use std::borrow::Cow;

use burn::backend::NdArray;
use burn::backend::ndarray::{NdArrayTensor, SharedArray};
use burn::backend::tensor::FloatTensor;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayD, ArrayView2, Ix1, Ix2, IxDyn};
use rayon::prelude::*;

use super::cell::{Threshold, reference};
use super::loops::{GRAIN, MultiGaussianF32};
use super::update::MultiGaussianTerms;

type Float = FloatTensor<NdArray>;

fn all_f32(tensors: &[&Float]) -> bool {
    tensors.iter().all(|t| matches!(t, NdArrayTensor::F32(_)))
}

/// The f32 array of a tensor [`all_f32`] accepted.
fn array(tensor: Float) -> SharedArray<f32> {
    match tensor {
        NdArrayTensor::F32(storage) => storage.into_shared(),
        _ => unreachable!("checked by all_f32"),
    }
}

fn tensor(array: ArrayD<f32>) -> Float {
    NdArrayTensor::from(array.into_shared())
}

/// A 2-d view of `array`, whatever its strides.
///
/// # Panics
///
/// When `array` is not a matrix.
fn matrix(array: &SharedArray<f32>) -> ArrayView2<'_, f32> {
    array
        .view()
        .into_dimensionality::<Ix2>()
        .expect("a matrix product takes 2-d tensors")
}

/// `a b` into a new matrix.
fn gemm(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
    let mut out = Array2::zeros((a.nrows(), b.ncols()));
    general_mat_mul(1.0, &a, &b, 0.0, &mut out);
    out
}

/// Adds the bias `b` (`[n]`) to every row of `out`.
fn add_row(out: &mut Array2<f32>, b: &SharedArray<f32>) {
    let b = b
        .view()
        .into_dimensionality::<Ix1>()
        .expect("a bias is 1-d");
    for mut row in out.rows_mut() {
        row.zip_mut_with(&b, |o, &b| *o += b);
    }
}

pub(super) fn affine(x: Float, w: Float, b: Float) -> Float {
    if !all_f32(&[&x, &w, &b]) {
        return reference::affine::<NdArray>(x, w, b);
    }
    let (x, w, b) = (array(x), array(w), array(b));
    let mut out = gemm(matrix(&x), matrix(&w));
    add_row(&mut out, &b);
    tensor(out.into_dyn())
}

pub(super) fn product(x: Float, w: Float) -> Float {
    if !all_f32(&[&x, &w]) {
        return reference::product::<NdArray>(x, w);
    }
    let (x, w) = (array(x), array(w));
    tensor(gemm(matrix(&x), matrix(&w)).into_dyn())
}

pub(super) fn affine_pair(x1: Float, w1: Float, x2: Float, w2: Float, b: Float) -> Float {
    if !all_f32(&[&x1, &w1, &x2, &w2, &b]) {
        return reference::affine_pair::<NdArray>(x1, w1, x2, w2, b);
    }
    let (x1, w1, x2, w2, b) = (array(x1), array(w1), array(x2), array(w2), array(b));
    let mut out = gemm(matrix(&x1), matrix(&w1));
    // `out + x₂ W₂` with β = 1: the sum the reference's addition of two products gives.
    general_mat_mul(1.0, &matrix(&x2), &matrix(&w2), 1.0, &mut out);
    add_row(&mut out, &b);
    tensor(out.into_dyn())
}

pub(super) fn product_with_transposed(g: Float, w: Float) -> Float {
    if !all_f32(&[&g, &w]) {
        return reference::product_with_transposed::<NdArray>(g, w);
    }
    let (g, w) = (array(g), array(w));
    tensor(gemm(matrix(&g), matrix(&w).t()).into_dyn())
}

pub(super) fn transposed_product(x: Float, g: Float) -> Float {
    if !all_f32(&[&x, &g]) {
        return reference::transposed_product::<NdArray>(x, g);
    }
    let (x, g) = (array(x), array(g));
    tensor(gemm(matrix(&x).t(), matrix(&g)).into_dyn())
}

/// The values of `array` in standard (row-major) order, copied only when not laid out so.
fn values(array: &SharedArray<f32>) -> Cow<'_, [f32]> {
    match array.as_slice() {
        Some(values) => Cow::Borrowed(values),
        None => Cow::Owned(array.iter().copied().collect()),
    }
}

/// Whether the tensors are f32 of one shape, so that their values pair up element by element.
fn same_f32_shapes(tensors: &[&Float]) -> bool {
    use burn::backend::TensorMetadata;
    all_f32(tensors)
        && tensors
            .windows(2)
            .all(|pair| pair[0].shape() == pair[1].shape())
}

/// A tensor of `shape` holding `values` in standard order.
fn output(shape: &[usize], values: Vec<f32>) -> Float {
    tensor(ArrayD::from_shape_vec(IxDyn(shape), values).expect("one value per element"))
}

// `map`, `map2` and `map3` run on rayon's threads, `GRAIN` elements per task, when there are
// more elements than that (each value is the same either way, and the order of the output too).

/// `f` over the elements of one array, as a new tensor of its shape.
fn map(input: Float, f: impl Fn(f32) -> f32 + Sync + Send) -> Float {
    let input = array(input);
    let values = values(&input);
    let out = if values.len() <= GRAIN {
        values.iter().map(|&x| f(x)).collect()
    } else {
        values
            .par_iter()
            .with_min_len(GRAIN)
            .map(|&x| f(x))
            .collect()
    };
    output(input.shape(), out)
}

/// `f` over the paired elements of two arrays of one shape.
fn map2(a: Float, b: Float, f: impl Fn(f32, f32) -> f32 + Sync + Send) -> Float {
    let (a, b) = (array(a), array(b));
    let (va, vb) = (values(&a), values(&b));
    if va.len() <= GRAIN {
        let out = va.iter().zip(vb.iter()).map(|(&a, &b)| f(a, b)).collect();
        return output(a.shape(), out);
    }
    let out = va
        .par_iter()
        .zip(vb.par_iter())
        .with_min_len(GRAIN)
        .map(|(&a, &b)| f(a, b))
        .collect();
    output(a.shape(), out)
}

/// `f` over the paired elements of three arrays of one shape.
fn map3(a: Float, b: Float, c: Float, f: impl Fn(f32, f32, f32) -> f32 + Sync + Send) -> Float {
    let (a, b, c) = (array(a), array(b), array(c));
    let (va, vb, vc) = (values(&a), values(&b), values(&c));
    if va.len() <= GRAIN {
        let out = va
            .iter()
            .zip(vb.iter())
            .zip(vc.iter())
            .map(|((&a, &b), &c)| f(a, b, c))
            .collect();
        return output(a.shape(), out);
    }
    let out = va
        .par_iter()
        .zip(vb.par_iter())
        .zip(vc.par_iter())
        .with_min_len(GRAIN)
        .map(|((&a, &b), &c)| f(a, b, c))
        .collect();
    output(a.shape(), out)
}

pub(super) fn logistic(z: Float) -> Float {
    if !all_f32(&[&z]) {
        return reference::logistic::<NdArray>(z);
    }
    map(z, |z| 1.0 / ((-z).exp() + 1.0))
}

pub(super) fn spike(v: Float, slope: Float) -> Float {
    if !same_f32_shapes(&[&v, &slope]) {
        return reference::spike::<NdArray>(v, slope);
    }
    // `linear − linear` is 0 when `linear` is finite and NaN otherwise.
    map2(v, slope, |v, slope| match (v * slope).is_finite() {
        true if v > 0.0 => 1.0,
        true => 0.0,
        false => f32::NAN,
    })
}

pub(super) fn blend(a: Float, b: Float, w: Float) -> Float {
    if !same_f32_shapes(&[&a, &b, &w]) {
        return reference::blend::<NdArray>(a, b, w);
    }
    map3(a, b, w, |a, b, w| a + w * (b - a))
}

pub(super) fn logistic_gradient(y: Float, g: Float) -> Float {
    if !same_f32_shapes(&[&y, &g]) {
        return reference::logistic_gradient::<NdArray>(y, g);
    }
    map2(y, g, |y, g| g * (y * (-y + 1.0)))
}

pub(super) fn blend_gradient_start(g: Float, w: Float) -> Float {
    if !same_f32_shapes(&[&g, &w]) {
        return reference::blend_gradient_start::<NdArray>(g, w);
    }
    map2(g, w, |g, w| g * (-w + 1.0))
}

pub(super) fn blend_gradient_fraction(g: Float, a: Float, b: Float) -> Float {
    if !same_f32_shapes(&[&g, &a, &b]) {
        return reference::blend_gradient_fraction::<NdArray>(g, a, b);
    }
    map3(g, a, b, |g, a, b| g * (b - a))
}

pub(super) fn threshold_gap(pre: Float, adaptation: Float, beta: f64, base: f64) -> Float {
    if !same_f32_shapes(&[&pre, &adaptation]) {
        return reference::threshold_gap::<NdArray>(pre, adaptation, beta, base);
    }
    let (beta, base) = (beta as f32, base as f32);
    map2(pre, adaptation, |pre, b| pre - (b * beta + base))
}

pub(super) fn hard_reset(pre: Float, spikes: Float) -> Float {
    if !same_f32_shapes(&[&pre, &spikes]) {
        return reference::hard_reset::<NdArray>(pre, spikes);
    }
    map2(pre, spikes, |pre, s| pre - s * pre)
}

pub(super) fn blend_gradients(g: Float, a: Float, b: Float, w: Float) -> (Float, Float) {
    if !same_f32_shapes(&[&g, &a, &b, &w]) {
        return reference::blend_gradients::<NdArray>(g, a, b, w);
    }
    let end = map2(g.clone(), w, |g, w| g * w);
    (end, blend_gradient_fraction(g, a, b))
}

/// `g − g s` is `g + (−g) s` to the bit: negation and the sign of a product are exact.
pub(super) fn hard_reset_gradients(g: Float, pre: Float, spikes: Float) -> (Float, Float) {
    if !same_f32_shapes(&[&g, &pre, &spikes]) {
        return reference::hard_reset_gradients::<NdArray>(g, pre, spikes);
    }
    let through_pre = map2(g.clone(), spikes, |g, s| g - g * s);
    (through_pre, map2(g, pre, |g, pre| -g * pre))
}

/// `f` over the paired elements of two arrays of one shape, into two new tensors of their shape.
fn map2_pair(
    a: Float,
    b: Float,
    f: impl Fn(f32, f32) -> (f32, f32) + Sync + Send,
) -> (Float, Float) {
    let (a, b) = (array(a), array(b));
    let (va, vb) = (values(&a), values(&b));
    let (first, second): (Vec<f32>, Vec<f32>) = if va.len() <= GRAIN {
        va.iter().zip(vb.iter()).map(|(&a, &b)| f(a, b)).unzip()
    } else {
        va.par_iter()
            .zip(vb.par_iter())
            .with_min_len(GRAIN)
            .map(|(&a, &b)| f(a, b))
            .unzip()
    };
    (output(a.shape(), first), output(a.shape(), second))
}

/// The gap, its multi-Gaussian slope and the spike in one pass, each as its own loop computes it.
pub(super) fn fire_multi_gaussian(
    pre: Float,
    adaptation: Float,
    threshold: Threshold,
    terms: MultiGaussianTerms,
) -> (Float, Float) {
    if !same_f32_shapes(&[&pre, &adaptation]) {
        return reference::fire_multi_gaussian::<NdArray>(pre, adaptation, threshold, terms);
    }
    let (beta, base) = (threshold.beta as f32, threshold.base as f32);
    let slope_at = MultiGaussianF32::new(&terms);
    map2_pair(pre, adaptation, |pre, b| {
        let gap = pre - (b * beta + base);
        let slope = slope_at.at(gap);
        let spike = match (gap * slope).is_finite() {
            true if gap > 0.0 => 1.0,
            true => 0.0,
            false => f32::NAN,
        };
        (spike, slope)
    })
}

pub(super) fn fire_gradients(g: Float, slope: Float, beta: f64) -> (Float, Float) {
    if !same_f32_shapes(&[&g, &slope]) {
        return reference::fire_gradients::<NdArray>(g, slope, beta);
    }
    let negated = -beta as f32;
    map2_pair(g, slope, |g, slope| {
        let to_gap = g * slope;
        (to_gap, to_gap * negated)
    })
}
