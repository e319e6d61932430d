//! The spiking cell's operations as single graph nodes with hand-written backward passes.
//!
//! Written with tensor operations, an LTC step and its readout record 48 autodiff nodes. Each
//! keeps the tensors its backward pass needs and allocates its output, so BPTT held about sixteen
//! `[batch, hidden]` tensors per time step. The operations here are one node each and keep only
//! what their derivative needs (19 nodes and about eleven tensors per step):
//!
//! | operation | forward | kept for the backward pass |
//! | --- | --- | --- |
//! | [`CellOps::affine`] | `x W + b` | `x`, `W` (already alive) |
//! | [`CellOps::product`] | `x W` | `x`, `W` (already alive) |
//! | [`CellOps::affine_pair`] | `x₁ W₁ + x₂ W₂ + b` | `x₁`, `W₁`, `x₂`, `W₂` (already alive) |
//! | [`CellOps::logistic`] | `1 / (1 + e^(−z))` | the output |
//! | [`CellOps::blend`] | `a + w (b − a)` | `a`, `b`, `w` (already alive) |
//! | [`CellOps::spike`] | `[v > 0]` (NaN where `v` diverged) | the surrogate's slope |
//!
//! The trait's default bodies compose burn's tensor operations; they are the reference the tests
//! check the others against, and what flex and wgpu with `fusion` run (burn fuses them there).
//! ndarray overrides them with loops and strided matrix products (`cell_ndarray`), plain wgpu
//! with one CubeCL kernel per element-wise operation (`cube`), and `Autodiff` records each as
//! one node (`cell_autodiff`) over whichever backend it wraps.

#![cfg_attr(feature = "ndarray", allow(deprecated))]

#[cfg(feature = "flex")]
use burn::backend::Flex;
#[cfg(feature = "ndarray")]
use burn::backend::NdArray;
use burn::backend::{Backend, backend_extension, tensor::FloatTensor};

use super::update::{MultiGaussianTerms, reference as update_reference};

/// The adaptive threshold `b₀ + β b` of a spiking layer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Threshold {
    /// The adaptation strength `β`.
    pub(crate) beta: f64,
    /// The base threshold `b₀`.
    pub(crate) base: f64,
}

/// Fused operations of a spiking cell, and the products and element-wise derivatives their
/// backward passes need.
///
/// With the `fusion` feature burn fuses the default bodies, except the spike's: fused into one
/// kernel, its `v g − v g` would be folded to 0 by the shader compiler and lose the NaN of a
/// diverged membrane, so it is an opaque fusion operation running the CubeCL kernel.
///
/// Shapes: `x` `[batch, k]`, `W` `[k, n]`, `b` `[n]`; the element-wise operations take tensors of
/// one shape.
#[backend_extension(
    Autodiff,
    NdArray: cfg(feature = "ndarray"),
    Flex: cfg(feature = "flex"),
    Cube: cfg(feature = "wgpu"),
    Fusion: cfg(feature = "fusion")
)]
pub(crate) trait CellOps: Backend {
    /// Whether autodiff records [`Self::hard_reset`] as one node on this backend. The node's
    /// gradients are the composition's, but one node where there were two reorders the sums of a
    /// spike's several gradients in BPTT and chunked FPTT (the reset, the next step's recurrent
    /// drive and blend, the readout), which moves the last bits of a run; so the CPU backends
    /// keep burn's two nodes and their values, and wgpu, which promises no bits, takes the one.
    const FUSED_HARD_RESET: bool = false;

    /// Whether [`Self::gated_blend`] is one graph node under autodiff, with its own backward
    /// kernel (wgpu); elsewhere it is the [`Self::gate`] node and the [`Self::blend`] node, whose
    /// values the CPU backends keep.
    const FUSED_GATED_BLEND: bool = false;

    /// `x W + b`.
    #[fusion(default)]
    fn affine(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        reference::affine::<Self>(x, w, b)
    }

    /// `x W`, without a bias (a recurrent weight's product).
    #[fusion(default)]
    fn product(x: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::product::<Self>(x, w)
    }

    /// `x₁ W₁ + x₂ W₂ + b`, summed in that order.
    #[fusion(default)]
    fn affine_pair(
        x1: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        x2: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        reference::affine_pair::<Self>(x1, w1, x2, w2, b)
    }

    /// A gate `σ(x₁ W₁ + x₂ W₂ + b)`: [`Self::logistic`] of [`Self::affine_pair`], one graph node
    /// under autodiff.
    #[fusion(default)]
    fn gate(
        x1: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        x2: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::logistic(Self::affine_pair(x1, w1, x2, w2, b))
    }

    /// `a + w (c − a)` with `w = σ(x₁ W₁ + x₂ W₂ + bias)`: [`Self::blend`] by a [`Self::gate`]
    /// (the LTC's membrane and adaptation, the readout's potential); returns the blend and the
    /// gate's value `w`, which the gradients need.
    #[fusion(default)]
    fn gated_blend(
        x1: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        x2: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        a: FloatTensor<Self>,
        c: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let w = Self::gate(x1, w1, x2, w2, bias);
        (Self::blend(a, c, w.clone()), w)
    }

    /// The logistic sigmoid `1 / (1 + e^(−z))`, computed in that order.
    #[fusion(default)]
    fn logistic(z: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::logistic::<Self>(z)
    }

    /// `a + w (b − a)`: `a` moved towards `b` by the fraction `w`.
    #[fusion(default)]
    fn blend(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        w: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        reference::blend::<Self>(a, b, w)
    }

    /// Spikes: `1` where `v > 0`, `0` elsewhere, and NaN where `v g(v)` is not finite (a
    /// diverged membrane shows in the loss instead of passing as silence); under autodiff the
    /// gradient of `v` is the output gradient times `slope`, the surrogate's `g(v)` (a constant).
    #[fusion(dtype = v, shape = v)]
    fn spike(v: FloatTensor<Self>, slope: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::spike::<Self>(v, slope)
    }

    /// `pre − (b β + b₀)`: how far the membrane `pre` is above the threshold `b₀ + β b` of the
    /// adaptation `b`, computed as `b β`, `+ b₀`, then the difference. Under autodiff the
    /// gradient of `pre` is the output gradient `g`, that of `b` is `−β g`.
    #[fusion(default)]
    fn threshold_gap(
        pre: FloatTensor<Self>,
        adaptation: FloatTensor<Self>,
        beta: f64,
        base: f64,
    ) -> FloatTensor<Self> {
        reference::threshold_gap::<Self>(pre, adaptation, beta, base)
    }

    /// The spikes of the membrane `pre` against the threshold `b₀ + β b`, with the multi-Gaussian
    /// surrogate: the gap `v` of [`Self::threshold_gap`], its slope `g(v)` and [`Self::spike`]
    /// of the two, in one pass. Returns the spikes and the slope (a constant). Under autodiff the
    /// gradient of `pre` is `G g(v)` and that of `b` is `−β G g(v)`, for the spikes' gradient `G`.
    #[fusion(default)]
    fn fire_multi_gaussian(
        pre: FloatTensor<Self>,
        adaptation: FloatTensor<Self>,
        threshold: Threshold,
        terms: MultiGaussianTerms,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        // The spike through `Self::spike`: with `fusion` it must stay an opaque operation.
        let Threshold { beta, base } = threshold;
        let gap = reference::threshold_gap::<Self>(pre, adaptation, beta, base);
        let slope = update_reference::multi_gaussian::<Self>(gap.clone(), terms);
        (Self::spike(gap, slope.clone()), slope)
    }

    /// `pre − s pre`: the membrane `pre` after a hard reset by the spikes `s`.
    #[fusion(default)]
    fn hard_reset(pre: FloatTensor<Self>, spikes: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::hard_reset::<Self>(pre, spikes)
    }

    /// `g Wᵀ`: the input gradient of `x W` given the output gradient `g`.
    #[fusion(default)]
    fn product_with_transposed(g: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::product_with_transposed::<Self>(g, w)
    }

    /// `xᵀ g`: the weight gradient of `x W` given the output gradient `g`.
    #[fusion(default)]
    fn transposed_product(x: FloatTensor<Self>, g: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::transposed_product::<Self>(x, g)
    }

    /// `g y (1 − y)`: the input gradient of the logistic given its output `y`.
    #[fusion(default)]
    fn logistic_gradient(y: FloatTensor<Self>, g: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::logistic_gradient::<Self>(y, g)
    }

    /// `g (1 − w)`: the gradient of [`Self::blend`] with respect to `a`.
    #[fusion(default)]
    fn blend_gradient_start(g: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::blend_gradient_start::<Self>(g, w)
    }

    /// `(g y (1 − y), Σ_rows g y (1 − y))`: the gradient of a [`Self::gate`]'s pre-activation
    /// from its output `y` `[batch, n]` and output gradient `g`, and its bias's gradient `[n]`.
    #[fusion(default)]
    fn gate_gradients(
        y: FloatTensor<Self>,
        g: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let to_z = Self::logistic_gradient(y, g);
        (to_z.clone(), reference::column_sums::<Self>(to_z))
    }

    /// `(g (c − a) w (1 − w), its column sums, g w)`: the gradients of a [`Self::gated_blend`]
    /// with respect to the gate's pre-activation `[batch, n]`, its bias `[n]` and `c`, from the
    /// output gradient `g`, the gate's value `w`, `a` and `c`.
    #[fusion(default)]
    fn gated_blend_gradients(
        g: FloatTensor<Self>,
        w: FloatTensor<Self>,
        a: FloatTensor<Self>,
        c: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (to_c, to_w) = Self::blend_gradients(g, a, c, w.clone());
        let (to_z, to_bias) = Self::gate_gradients(w, to_w);
        (to_z, to_bias, to_c)
    }

    /// `(g w, g (b − a))`: the gradients of [`Self::blend`] with respect to `b` and `w`, in one
    /// pass over `g`.
    #[fusion(default)]
    fn blend_gradients(
        g: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        w: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        reference::blend_gradients::<Self>(g, a, b, w)
    }

    /// `(G g, −β G g)` with `G g` computed once: the gradients of
    /// [`Self::fire_multi_gaussian`] with respect to `pre` and `b`, given the spikes' gradient `G`
    /// and the slope `g`.
    #[fusion(default)]
    fn fire_gradients(
        g: FloatTensor<Self>,
        slope: FloatTensor<Self>,
        beta: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        reference::fire_gradients::<Self>(g, slope, beta)
    }

    /// `(g − g s, −g pre)`: the gradients of [`Self::hard_reset`] with respect to `pre` and `s`.
    #[fusion(default)]
    fn hard_reset_gradients(
        g: FloatTensor<Self>,
        pre: FloatTensor<Self>,
        spikes: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        reference::hard_reset_gradients::<Self>(g, pre, spikes)
    }

    /// `g (b − a)`: the gradient of [`Self::blend`] with respect to `w`.
    #[fusion(default)]
    fn blend_gradient_fraction(
        g: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        reference::blend_gradient_fraction::<Self>(g, a, b)
    }
}

/// The operations as compositions of burn's tensor operations, on any backend.
pub(crate) mod reference {
    use super::super::update::{MultiGaussianTerms, reference as update_reference};
    use super::Threshold;
    use burn::backend::{Backend, TensorMetadata, tensor::FloatTensor};
    use burn::tensor::Shape;

    /// `b` as a `[1, n]` row for a `[k, n]` weight `w`.
    fn row<B: Backend>(b: FloatTensor<B>, w: &FloatTensor<B>) -> FloatTensor<B> {
        let shape = w.shape();
        B::float_reshape(b, Shape::new([1, shape[shape.num_dims() - 1]]))
    }

    pub(crate) fn affine<B: Backend>(
        x: FloatTensor<B>,
        w: FloatTensor<B>,
        b: FloatTensor<B>,
    ) -> FloatTensor<B> {
        let b = row::<B>(b, &w);
        B::float_add(B::float_matmul(x, w), b)
    }

    /// The sums over the rows of a `[batch, n]` gradient, `[n]`: a bias's gradient.
    pub(crate) fn column_sums<B: Backend>(g: FloatTensor<B>) -> FloatTensor<B> {
        let shape = g.shape();
        let n = shape[shape.num_dims() - 1];
        B::float_reshape(B::float_sum_dim(g, 0), Shape::new([n]))
    }

    pub(crate) fn product<B: Backend>(x: FloatTensor<B>, w: FloatTensor<B>) -> FloatTensor<B> {
        B::float_matmul(x, w)
    }

    pub(crate) fn affine_pair<B: Backend>(
        x1: FloatTensor<B>,
        w1: FloatTensor<B>,
        x2: FloatTensor<B>,
        w2: FloatTensor<B>,
        b: FloatTensor<B>,
    ) -> FloatTensor<B> {
        let b = row::<B>(b, &w1);
        let products = B::float_add(B::float_matmul(x1, w1), B::float_matmul(x2, w2));
        B::float_add(products, b)
    }

    pub(crate) fn logistic<B: Backend>(z: FloatTensor<B>) -> FloatTensor<B> {
        let decay = B::float_exp(B::float_neg(z));
        B::float_recip(B::float_add_scalar(decay, 1.0.into()))
    }

    pub(crate) fn blend<B: Backend>(
        a: FloatTensor<B>,
        b: FloatTensor<B>,
        w: FloatTensor<B>,
    ) -> FloatTensor<B> {
        let step = B::float_mul(w, B::float_sub(b, a.clone()));
        B::float_add(a, step)
    }

    /// `[v > 0] + (v g − v g)`: the step, plus a zero that is NaN where `v g` is not finite.
    pub(crate) fn spike<B: Backend>(v: FloatTensor<B>, slope: FloatTensor<B>) -> FloatTensor<B> {
        let dtype = v.dtype();
        let linear = B::float_mul(v.clone(), slope);
        let bools = super::super::bool_dtype::<B>(&v);
        let fired = B::float_greater_elem(v, 0.0.into(), bools);
        let step = B::bool_into_float(fired, dtype.into());
        B::float_add(step, B::float_sub(linear.clone(), linear))
    }

    pub(crate) fn threshold_gap<B: Backend>(
        pre: FloatTensor<B>,
        adaptation: FloatTensor<B>,
        beta: f64,
        base: f64,
    ) -> FloatTensor<B> {
        let threshold =
            B::float_add_scalar(B::float_mul_scalar(adaptation, beta.into()), base.into());
        B::float_sub(pre, threshold)
    }

    pub(crate) fn fire_multi_gaussian<B: Backend>(
        pre: FloatTensor<B>,
        adaptation: FloatTensor<B>,
        threshold: Threshold,
        terms: MultiGaussianTerms,
    ) -> (FloatTensor<B>, FloatTensor<B>) {
        let Threshold { beta, base } = threshold;
        let gap = threshold_gap::<B>(pre, adaptation, beta, base);
        let slope = update_reference::multi_gaussian::<B>(gap.clone(), terms);
        (spike::<B>(gap, slope.clone()), slope)
    }

    /// `G g`, and `(G g) (−β)`, which is `(−G g) β` to the bit (the sign of a product is exact).
    pub(crate) fn fire_gradients<B: Backend>(
        g: FloatTensor<B>,
        slope: FloatTensor<B>,
        beta: f64,
    ) -> (FloatTensor<B>, FloatTensor<B>) {
        let to_gap = B::float_mul(g, slope);
        let to_adaptation = B::float_mul_scalar(to_gap.clone(), (-beta).into());
        (to_gap, to_adaptation)
    }

    pub(crate) fn hard_reset<B: Backend>(
        pre: FloatTensor<B>,
        spikes: FloatTensor<B>,
    ) -> FloatTensor<B> {
        B::float_sub(pre.clone(), B::float_mul(spikes, pre))
    }

    pub(crate) fn product_with_transposed<B: Backend>(
        g: FloatTensor<B>,
        w: FloatTensor<B>,
    ) -> FloatTensor<B> {
        B::float_matmul(g, B::float_transpose(w))
    }

    pub(crate) fn transposed_product<B: Backend>(
        x: FloatTensor<B>,
        g: FloatTensor<B>,
    ) -> FloatTensor<B> {
        B::float_matmul(B::float_transpose(x), g)
    }

    pub(crate) fn logistic_gradient<B: Backend>(
        y: FloatTensor<B>,
        g: FloatTensor<B>,
    ) -> FloatTensor<B> {
        let slope = B::float_mul(y.clone(), B::float_add_scalar(B::float_neg(y), 1.0.into()));
        B::float_mul(g, slope)
    }

    pub(crate) fn blend_gradient_start<B: Backend>(
        g: FloatTensor<B>,
        w: FloatTensor<B>,
    ) -> FloatTensor<B> {
        B::float_mul(g, B::float_add_scalar(B::float_neg(w), 1.0.into()))
    }

    pub(crate) fn blend_gradients<B: Backend>(
        g: FloatTensor<B>,
        a: FloatTensor<B>,
        b: FloatTensor<B>,
        w: FloatTensor<B>,
    ) -> (FloatTensor<B>, FloatTensor<B>) {
        let end = B::float_mul(g.clone(), w);
        (end, blend_gradient_fraction::<B>(g, a, b))
    }

    /// `g + (−g) s` and `(−g) pre`: the terms burn's subtraction and product would register.
    pub(crate) fn hard_reset_gradients<B: Backend>(
        g: FloatTensor<B>,
        pre: FloatTensor<B>,
        spikes: FloatTensor<B>,
    ) -> (FloatTensor<B>, FloatTensor<B>) {
        let negated = B::float_neg(g.clone());
        let through_pre = B::float_add(g, B::float_mul(negated.clone(), spikes));
        (through_pre, B::float_mul(negated, pre))
    }

    pub(crate) fn blend_gradient_fraction<B: Backend>(
        g: FloatTensor<B>,
        a: FloatTensor<B>,
        b: FloatTensor<B>,
    ) -> FloatTensor<B> {
        B::float_mul(g, B::float_sub(b, a))
    }
}

#[cfg(feature = "flex")]
impl CellOps for Flex {}

#[cfg(feature = "ndarray")]
impl CellOps for NdArray {
    fn affine(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        super::cell_ndarray::affine(x, w, b)
    }

    fn product(x: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        super::cell_ndarray::product(x, w)
    }

    fn affine_pair(
        x1: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        x2: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        super::cell_ndarray::affine_pair(x1, w1, x2, w2, b)
    }

    fn logistic(z: FloatTensor<Self>) -> FloatTensor<Self> {
        super::cell_ndarray::logistic(z)
    }

    fn blend(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        w: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        super::cell_ndarray::blend(a, b, w)
    }

    fn spike(v: FloatTensor<Self>, slope: FloatTensor<Self>) -> FloatTensor<Self> {
        super::cell_ndarray::spike(v, slope)
    }

    fn threshold_gap(
        pre: FloatTensor<Self>,
        adaptation: FloatTensor<Self>,
        beta: f64,
        base: f64,
    ) -> FloatTensor<Self> {
        super::cell_ndarray::threshold_gap(pre, adaptation, beta, base)
    }

    fn hard_reset(pre: FloatTensor<Self>, spikes: FloatTensor<Self>) -> FloatTensor<Self> {
        super::cell_ndarray::hard_reset(pre, spikes)
    }

    fn fire_multi_gaussian(
        pre: FloatTensor<Self>,
        adaptation: FloatTensor<Self>,
        threshold: Threshold,
        terms: MultiGaussianTerms,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        super::cell_ndarray::fire_multi_gaussian(pre, adaptation, threshold, terms)
    }

    fn fire_gradients(
        g: FloatTensor<Self>,
        slope: FloatTensor<Self>,
        beta: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        super::cell_ndarray::fire_gradients(g, slope, beta)
    }

    fn product_with_transposed(g: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        super::cell_ndarray::product_with_transposed(g, w)
    }

    fn transposed_product(x: FloatTensor<Self>, g: FloatTensor<Self>) -> FloatTensor<Self> {
        super::cell_ndarray::transposed_product(x, g)
    }

    fn logistic_gradient(y: FloatTensor<Self>, g: FloatTensor<Self>) -> FloatTensor<Self> {
        super::cell_ndarray::logistic_gradient(y, g)
    }

    fn blend_gradient_start(g: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        super::cell_ndarray::blend_gradient_start(g, w)
    }

    fn blend_gradient_fraction(
        g: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        super::cell_ndarray::blend_gradient_fraction(g, a, b)
    }

    fn blend_gradients(
        g: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        w: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        super::cell_ndarray::blend_gradients(g, a, b, w)
    }

    fn hard_reset_gradients(
        g: FloatTensor<Self>,
        pre: FloatTensor<Self>,
        spikes: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        super::cell_ndarray::hard_reset_gradients(g, pre, spikes)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor, TensorData};

    use super::Threshold;
    use crate::kernels::{
        affine, affine_pair, blend, gate, gated_blend, hard_reset, logistic, spike, threshold_gap,
    };
    use crate::surrogate::{Surrogate, spike_above_threshold};

    use crate::test_support::{autodiff_devices as devices, same_arithmetic};

    fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
        tensor.into_data().try_to_vec::<f32>().unwrap()
    }

    fn assert_close<const D: usize>(actual: Tensor<D>, expected: &[f32], what: &str) {
        let actual = values(actual);
        assert_eq!(actual.len(), expected.len(), "{what}");
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                (a - e).abs() <= 1e-6 * (1.0 + e.abs()),
                "{what}: {actual:?} against {expected:?}"
            );
        }
    }

    fn tracked<const D: usize>(values: TensorData, device: &Device) -> Tensor<D> {
        Tensor::from_data(values, device).require_grad()
    }

    /// `x₁ W₁ + x₂ W₂ + b` and its five gradients, worked by hand for a weighted sum `Σ G ∘ y`.
    #[test]
    fn affine_pair_and_its_gradients_match_hand_values() {
        for device in devices() {
            let x1 = tracked::<2>(TensorData::from([[1.0f32, 2.0], [3.0, 4.0]]), &device);
            let w1 = tracked::<2>(TensorData::from([[1.0f32, -1.0], [0.5, 2.0]]), &device);
            let x2 = tracked::<2>(TensorData::from([[1.0f32], [-1.0]]), &device);
            let w2 = tracked::<2>(TensorData::from([[2.0f32, 3.0]]), &device);
            let b = tracked::<1>(TensorData::from([0.5f32, -0.5]), &device);
            let weights = Tensor::<2>::from_data([[1.0f32, 2.0], [3.0, 4.0]], &device);
            let y = affine_pair(
                x1.clone(),
                w1.clone(),
                x2.clone(),
                w2.clone(),
                Some(b.clone()),
            );
            assert_close(y.clone(), &[4.5, 5.5, 3.5, 1.5], "y");
            let grads = (y * weights).sum().backward();
            assert_close(x1.grad(&grads).unwrap(), &[-1.0, 4.5, -1.0, 9.5], "dx1");
            assert_close(w1.grad(&grads).unwrap(), &[10.0, 14.0, 14.0, 20.0], "dW1");
            assert_close(x2.grad(&grads).unwrap(), &[8.0, 18.0], "dx2");
            assert_close(w2.grad(&grads).unwrap(), &[-2.0, -2.0], "dW2");
            assert_close(b.grad(&grads).unwrap(), &[4.0, 6.0], "db");

            // The single product, x₁ W₁ + b, and without a bias x₁ W₁ = [[1 + 1, −1 + 4],
            // [3 + 2, −3 + 8]]: the gradients of x₁ and W₁ are those above either way.
            for (bias, expected) in [
                (Some(b.clone()), [2.5, 2.5, 5.5, 4.5]),
                (None, [2.0, 3.0, 5.0, 5.0]),
            ] {
                let what = if bias.is_some() { "affine" } else { "product" };
                let y = affine(x1.clone(), w1.clone(), bias.clone());
                assert_close(y.clone(), &expected, &format!("{what} y"));
                let grads = (y * Tensor::from_data([[1.0f32, 2.0], [3.0, 4.0]], &device))
                    .sum()
                    .backward();
                let dx = x1.grad(&grads).unwrap();
                assert_close(dx, &[-1.0, 4.5, -1.0, 9.5], &format!("{what} dx"));
                let dw = w1.grad(&grads).unwrap();
                assert_close(dw, &[10.0, 14.0, 14.0, 20.0], &format!("{what} dW"));
                if let Some(bias) = bias {
                    assert_close(bias.grad(&grads).unwrap(), &[4.0, 6.0], "affine db");
                }
            }
        }
    }

    #[test]
    fn logistic_blend_and_spike_match_hand_values() {
        for device in devices() {
            // σ(0) = 1/2, σ(ln 3) = 3/4; σ' = σ (1 − σ).
            let z = tracked::<1>(TensorData::from([0.0f32, 3f32.ln()]), &device);
            let y = logistic(z.clone());
            assert_close(y.clone(), &[0.5, 0.75], "logistic");
            let grads = y.sum().backward();
            assert_close(z.grad(&grads).unwrap(), &[0.25, 0.1875], "logistic dz");

            // a + w (b − a) with G = [1, 2]: da = G (1 − w), db = G w, dw = G (b − a).
            let a = tracked::<1>(TensorData::from([1.0f32, 2.0]), &device);
            let b = tracked::<1>(TensorData::from([3.0f32, -2.0]), &device);
            let w = tracked::<1>(TensorData::from([0.25f32, 0.5]), &device);
            let out = blend(a.clone(), b.clone(), w.clone());
            assert_close(out.clone(), &[1.5, 0.0], "blend");
            let grads = (out * Tensor::from_data([1.0f32, 2.0], &device))
                .sum()
                .backward();
            assert_close(a.grad(&grads).unwrap(), &[0.75, 1.0], "blend da");
            assert_close(b.grad(&grads).unwrap(), &[0.25, 1.0], "blend db");
            assert_close(w.grad(&grads).unwrap(), &[2.0, -8.0], "blend dw");

            // Spikes where v > 0; ds/dv is the given slope.
            let v = tracked::<1>(TensorData::from([-0.5f32, 0.0, 0.2]), &device);
            let slope = Tensor::<1>::from_data([0.1f32, 0.2, 0.3], &device);
            let s = spike(v.clone(), slope);
            assert_eq!(values(s.clone()), vec![0.0, 0.0, 1.0]);
            let grads = (s * Tensor::from_data([1.0f32, 2.0, 3.0], &device))
                .sum()
                .backward();
            assert_close(v.grad(&grads).unwrap(), &[0.1, 0.4, 0.9], "spike dv");

            // A diverged membrane spikes NaN, so that the loss shows it.
            let v = tracked::<1>(TensorData::from([f32::NAN, f32::INFINITY, 1.0]), &device);
            let slope = Tensor::<1>::from_data([0.1f32, 0.0, 0.0], &device);
            let s = values(spike(v, slope));
            assert!(s[0].is_nan() && s[1].is_nan() && s[2] == 1.0, "{s:?}");
        }
    }

    /// The gate `σ(x₁ W₁ + x₂ W₂ + b)` and its five gradients for `Σ G ∘ y`, worked by hand: both
    /// rows have `z = 0`, so `y = ½` and `dz = G y (1 − y) = 4 · ¼ = 1`; the bias gradient sums
    /// the two rows' `dz`.
    #[test]
    fn the_gate_and_its_gradients_match_hand_values() {
        for device in devices() {
            let x1 = tracked::<2>(TensorData::from([[1.0f32, 2.0], [0.0, 0.0]]), &device);
            let w1 = tracked::<2>(TensorData::from([[0.5f32], [0.25]]), &device);
            let x2 = tracked::<2>(TensorData::from([[2.0f32], [0.0]]), &device);
            let w2 = tracked::<2>(TensorData::from([[-0.5f32]]), &device);
            let b = tracked::<1>(TensorData::from([0.0f32]), &device);
            let y = gate(x1.clone(), w1.clone(), x2.clone(), w2.clone(), b.clone());
            assert_close(y.clone(), &[0.5, 0.5], "gate");
            let grads = (y * 4.0).sum().backward();
            assert_close(
                x1.grad(&grads).unwrap(),
                &[0.5, 0.25, 0.5, 0.25],
                "dx1 = dz W1ᵀ",
            );
            assert_close(w1.grad(&grads).unwrap(), &[1.0, 2.0], "dW1 = x1ᵀ dz");
            assert_close(x2.grad(&grads).unwrap(), &[-0.5, -0.5], "dx2 = dz W2ᵀ");
            assert_close(w2.grad(&grads).unwrap(), &[2.0], "dW2 = x2ᵀ dz");
            assert_close(b.grad(&grads).unwrap(), &[2.0], "db = Σ dz");
        }
    }

    /// `a + w (c − a)` with `w = σ(x₁ W₁ + x₂ W₂ + b)` and its seven gradients for `Σ y`, worked
    /// by hand: `z = 0`, so `w = ½`, `w (1 − w) = ¼`; `dc = w = ½`, `da = 1 − w = ½`,
    /// `dz = (c − a) / 4 = ½`, then the products' gradients from `dz`.
    #[test]
    fn the_gated_blend_and_its_gradients_match_hand_values() {
        for device in devices() {
            let x1 = tracked::<2>(TensorData::from([[1.0f32, 2.0]]), &device);
            let w1 = tracked::<2>(TensorData::from([[0.5f32], [-0.25]]), &device);
            let x2 = tracked::<2>(TensorData::from([[3.0f32]]), &device);
            let w2 = tracked::<2>(TensorData::from([[0.0f32]]), &device);
            let b = tracked::<1>(TensorData::from([0.0f32]), &device);
            let a = tracked::<2>(TensorData::from([[2.0f32]]), &device);
            let c = tracked::<2>(TensorData::from([[4.0f32]]), &device);
            let y = gated_blend(
                x1.clone(),
                w1.clone(),
                x2.clone(),
                w2.clone(),
                b.clone(),
                a.clone(),
                c.clone(),
            );
            assert_close(y.clone(), &[3.0], "2 + ½ (4 − 2)");
            let grads = y.sum().backward();
            assert_close(a.grad(&grads).unwrap(), &[0.5], "da = 1 − w");
            assert_close(c.grad(&grads).unwrap(), &[0.5], "dc = w");
            assert_close(b.grad(&grads).unwrap(), &[0.5], "db = Σ dz");
            assert_close(w1.grad(&grads).unwrap(), &[0.5, 1.0], "dW1 = x1ᵀ dz");
            assert_close(x1.grad(&grads).unwrap(), &[0.25, -0.125], "dx1 = dz W1ᵀ");
            assert_close(w2.grad(&grads).unwrap(), &[1.5], "dW2 = x2ᵀ dz");
            assert_close(x2.grad(&grads).unwrap(), &[0.0], "dx2 = dz W2ᵀ");
        }
    }

    /// The gated blend as the LTC uses it (`c` the gate's drive `x₁`, `a` its state `x₂`, so
    /// that each receives two gradients) against the gate's node and the blend's, on random
    /// values over more rows than a cube has units: the same values and gradients (bits on the
    /// CPU backends, which run those two nodes; 1e-6 on wgpu, which runs one).
    #[test]
    fn the_gated_blend_is_the_blend_of_the_gate() {
        for device in devices() {
            device.seed(9);
            let random = |dims: [usize; 2]| {
                Tensor::<2>::random(dims, Distribution::Uniform(-1.0, 1.0), &device).require_grad()
            };
            let (x1, w1, x2, w2) = (
                random([300, 7]),
                random([7, 5]),
                random([300, 5]),
                random([5, 5]),
            );
            let b =
                Tensor::<1>::random([5], Distribution::Uniform(-1.0, 1.0), &device).require_grad();
            let outer = Tensor::<2>::random([300, 5], Distribution::Uniform(-1.0, 1.0), &device);
            let run = |fused: bool| {
                let c = x1
                    .clone()
                    .matmul(Tensor::eye(7, &device).slice([0..7, 0..5]));
                let y = if fused {
                    gated_blend(
                        x1.clone(),
                        w1.clone(),
                        x2.clone(),
                        w2.clone(),
                        b.clone(),
                        x2.clone(),
                        c,
                    )
                } else {
                    let w = gate(x1.clone(), w1.clone(), x2.clone(), w2.clone(), b.clone());
                    blend(x2.clone(), c, w)
                };
                let grads = (y.clone() * outer.clone()).sum().backward();
                let mut all = vec![values(y)];
                for tensor in [&x1, &w1, &x2, &w2] {
                    all.push(values(tensor.grad(&grads).unwrap()));
                }
                all.push(values(b.grad(&grads).unwrap()));
                all
            };
            let (fused, composed) = (run(true), run(false));
            for (i, (f, c)) in fused.iter().zip(&composed).enumerate() {
                if same_arithmetic(&device) {
                    assert_eq!(f, c, "{device:?}: output/gradient {i} bits");
                } else {
                    let tensor = Tensor::<1>::from_floats(f.as_slice(), &device);
                    assert_close(tensor, c, &format!("output/gradient {i}"));
                }
            }
        }
    }

    /// The threshold gap `pre − (β b + b₀)` and the hard reset `pre − s pre`, and their
    /// gradients for a weighted sum `Σ G ∘ y`, worked by hand.
    #[test]
    fn threshold_gap_and_hard_reset_match_hand_values() {
        for device in devices() {
            // β = 2, b₀ = 0.5: θ = [0.5 + 2 · 0.25, 0.5 + 2 · (−1)] = [1, −1.5].
            let pre = tracked::<1>(TensorData::from([2.0f32, 0.0]), &device);
            let b = tracked::<1>(TensorData::from([0.25f32, -1.0]), &device);
            let gap = threshold_gap(pre.clone(), b.clone(), 2.0, 0.5);
            assert_close(gap.clone(), &[1.0, 1.5], "gap");
            let grads = (gap * Tensor::from_data([1.0f32, 3.0], &device))
                .sum()
                .backward();
            assert_close(pre.grad(&grads).unwrap(), &[1.0, 3.0], "gap dpre");
            assert_close(b.grad(&grads).unwrap(), &[-2.0, -6.0], "gap db = −β G");

            // s = [1, ½] (a smooth spike): [2 − 2, −3 + 1.5]; dpre = G (1 − s), ds = −G pre.
            let pre = tracked::<1>(TensorData::from([2.0f32, -3.0]), &device);
            let s = tracked::<1>(TensorData::from([1.0f32, 0.5]), &device);
            let reset = hard_reset(pre.clone(), s.clone());
            assert_close(reset.clone(), &[0.0, -1.5], "hard reset");
            let grads = (reset * Tensor::from_data([1.0f32, 3.0], &device))
                .sum()
                .backward();
            assert_close(pre.grad(&grads).unwrap(), &[0.0, 1.5], "reset dpre");
            assert_close(s.grad(&grads).unwrap(), &[-2.0, 9.0], "reset ds");
        }
    }

    /// The multi-Gaussian `g(v) = γ [(1 + h) N(v; 0, l) − h N(v; l, k l) − h N(v; −l, k l)]`
    /// worked in f64 from its definition, for the defaults `l = 0.3`, `k = 6`, `h = 0.15`,
    /// `γ = 0.5`.
    fn multi_gaussian_by_hand(v: f64) -> f64 {
        let normal = |x: f64, mean: f64, sd: f64| {
            (-(x - mean).powi(2) / (2.0 * sd * sd)).exp()
                / (sd * (2.0 * std::f64::consts::PI).sqrt())
        };
        let (l, k, h, gamma) = (0.3, 6.0, 0.15, 0.5);
        gamma * ((1.0 + h) * normal(v, 0.0, l) - h * normal(v, l, k * l) - h * normal(v, -l, k * l))
    }

    /// The fused fire node: spikes of `pre − (b₀ + β b)` and the gradients `G g(v)` and
    /// `−β G g(v)`, worked by hand; and on random inputs the same spikes and gradients as
    /// `spike(pre − threshold)` (bits on the CPU backends).
    #[test]
    fn the_fire_node_matches_hand_values_and_the_gap_then_the_spike() {
        let surrogate = Surrogate::default();
        let threshold = Threshold {
            beta: 1.8,
            base: 0.1,
        };
        for device in devices() {
            // b = [0, 0.25, −1]: θ = [0.1, 0.55, −1.7]; pre = [0.1, 1.05, −2]: v = [0, 0.5, −0.3].
            let pre = tracked::<1>(TensorData::from([0.1f32, 1.05, -2.0]), &device);
            let b = tracked::<1>(TensorData::from([0.0f32, 0.25, -1.0]), &device);
            let s = spike_above_threshold(pre.clone(), b.clone(), threshold, &surrogate);
            assert_eq!(values(s.clone()), vec![0.0, 1.0, 0.0], "{device:?}: spikes");
            let grads = (s * Tensor::from_data([1.0f32, 2.0, 3.0], &device))
                .sum()
                .backward();
            let slopes: Vec<f64> = [0.0, 0.5, -0.3].map(multi_gaussian_by_hand).to_vec();
            let to_pre: Vec<f32> = (0..3)
                .map(|i| ((i + 1) as f64 * slopes[i]) as f32)
                .collect();
            let to_b: Vec<f32> = to_pre.iter().map(|g| -1.8 * g).collect();
            assert_close(pre.grad(&grads).unwrap(), &to_pre, "fire dpre = G g(v)");
            assert_close(b.grad(&grads).unwrap(), &to_b, "fire db = −β G g(v)");

            device.seed(3);
            let random = |device: &Device| {
                Tensor::<2>::random([7, 5], Distribution::Uniform(-1.0, 1.0), device).require_grad()
            };
            let (pre, b) = (random(&device), random(&device));
            let weights = Tensor::<2>::random([7, 5], Distribution::Uniform(-1.0, 1.0), &device);
            let fused = spike_above_threshold(pre.clone(), b.clone(), threshold, &surrogate);
            let gap = pre.clone() - (b.clone() * threshold.beta + threshold.base);
            let composed = crate::surrogate::spike(gap, &surrogate);
            assert_eq!(values(fused.clone()), values(composed.clone()), "spikes");
            let fused_grads = (fused * weights.clone()).sum().backward();
            let composed_grads = (composed * weights).sum().backward();
            for (name, input) in [("pre", &pre), ("b", &b)] {
                let (fused, composed) = (
                    values(input.grad(&fused_grads).unwrap()),
                    values(input.grad(&composed_grads).unwrap()),
                );
                if same_arithmetic(&device) {
                    assert_eq!(fused, composed, "{device:?}: d{name} bits");
                } else {
                    let expected = composed.clone();
                    assert_close(input.grad(&fused_grads).unwrap(), &expected, name);
                }
            }
        }
    }

    /// A partner that is not tracked gets no gradient, and the tracked one still does.
    #[test]
    fn untracked_operands_get_no_gradient() {
        for device in devices() {
            let x = Tensor::<2>::from_data([[1.0f32, 2.0]], &device);
            let w = tracked::<2>(TensorData::from([[1.0f32], [3.0]]), &device);
            let b = Tensor::<1>::from_data([0.0f32], &device);
            let state = Tensor::<2>::from_data([[4.0f32]], &device);
            let ws = Tensor::<2>::from_data([[0.5f32]], &device);
            let y = affine_pair(x.clone(), w.clone(), state, ws, Some(b));
            let grads = y.sum().backward();
            assert_close(w.grad(&grads).unwrap(), &[1.0, 2.0], "dW");
            assert!(x.grad(&grads).is_none());

            // A recurrent product: the detached state times a tracked weight.
            let y = affine(x.clone(), w.clone(), None);
            let grads = (y * 3.0).sum().backward();
            assert_close(w.grad(&grads).unwrap(), &[3.0, 6.0], "recurrent dW");
            assert!(x.grad(&grads).is_none());

            let a = tracked::<1>(TensorData::from([1.0f32]), &device);
            let out = blend(
                a.clone(),
                Tensor::from_data([3.0f32], &device),
                Tensor::from_data([0.25f32], &device),
            );
            let grads = out.sum().backward();
            assert_close(a.grad(&grads).unwrap(), &[0.75], "da with constant b, w");
        }
    }

    /// On random inputs the fused nodes give the tensor form's forward values bit for bit, and its
    /// gradients to rounding (the gradients are summed in another order).
    #[test]
    fn fused_nodes_match_the_tensor_forms_on_random_inputs() {
        let random = |dims: [usize; 2], device: &Device| {
            Tensor::<2>::random(dims, Distribution::Uniform(-1.0, 1.0), device).require_grad()
        };
        for device in devices() {
            device.seed(5);
            let (x1, w1, x2, w2) = (
                random([5, 7], &device),
                random([7, 3], &device),
                random([5, 4], &device),
                random([4, 3], &device),
            );
            let b =
                Tensor::<1>::random([3], Distribution::Uniform(-1.0, 1.0), &device).require_grad();
            let outer = Tensor::<2>::random([5, 3], Distribution::Uniform(-1.0, 1.0), &device);

            let fused = {
                let pre = affine_pair(
                    x1.clone(),
                    w1.clone(),
                    x2.clone(),
                    w2.clone(),
                    Some(b.clone()),
                );
                let rate = logistic(pre.clone());
                let mixed = blend(pre.clone(), outer.clone(), rate);
                spike(mixed.clone(), outer.clone().abs()) + mixed
            };
            let composed = {
                let pre = x1.clone().matmul(w1.clone())
                    + x2.clone().matmul(w2.clone())
                    + b.clone().unsqueeze();
                let rate = (pre.clone().neg().exp() + 1.0).recip();
                let mixed = pre.clone() + rate * (outer.clone() - pre);
                let linear = mixed.clone() * outer.clone().abs();
                mixed.clone().greater_elem(0.0).float() + (linear.clone() - linear.detach()) + mixed
            };
            if same_arithmetic(&device) {
                assert_eq!(
                    values(fused.clone()),
                    values(composed.clone()),
                    "{device:?}: forward bits"
                );
            } else {
                let expected = values(composed.clone());
                assert_close(fused.clone(), &expected, "forward values");
            }

            let fused_grads = (fused * outer.clone()).sum().backward();
            let composed_grads = (composed * outer.clone()).sum().backward();
            for (name, parameter) in [("x1", &x1), ("w1", &w1), ("x2", &x2), ("w2", &w2)] {
                let expected = values(parameter.grad(&composed_grads).unwrap());
                assert_close(parameter.grad(&fused_grads).unwrap(), &expected, name);
            }
            let expected = values(b.grad(&composed_grads).unwrap());
            assert_close(b.grad(&fused_grads).unwrap(), &expected, "b");

            // The gate node against its two nodes: the same forward values, and on the CPU
            // backends the same gradient bits (the same operations, registered in the same order).
            let one_node = gate(x1.clone(), w1.clone(), x2.clone(), w2.clone(), b.clone());
            let two_nodes = logistic(affine_pair(
                x1.clone(),
                w1.clone(),
                x2.clone(),
                w2.clone(),
                Some(b.clone()),
            ));
            let (one_values, two_values) = (values(one_node.clone()), values(two_nodes.clone()));
            assert_close(one_node.clone(), &two_values, "gate forward");
            let one_grads = (one_node * outer.clone()).sum().backward();
            let two_grads = (two_nodes * outer.clone()).sum().backward();
            for (name, parameter) in [("x1", &x1), ("w1", &w1), ("x2", &x2), ("w2", &w2)] {
                let expected = values(parameter.grad(&two_grads).unwrap());
                let actual = parameter.grad(&one_grads).unwrap();
                if same_arithmetic(&device) {
                    assert_eq!(values(actual), expected, "{device:?}: gate d{name} bits");
                } else {
                    assert_close(actual, &expected, name);
                }
            }
            let expected = values(b.grad(&two_grads).unwrap());
            assert_close(b.grad(&one_grads).unwrap(), &expected, "gate db");
            if same_arithmetic(&device) {
                assert_eq!(one_values, two_values, "{device:?}: gate forward bits");
            }
        }
    }
}
