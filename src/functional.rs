//! The operations the layers are built from, for neurons of your own, and each fixed-decay
//! neuron's step as a pure function over tensors and a parameter struct (Norse's split:
//! [`lif_step`], [`alif_step`], [`cuba_lif_step`], [`leaky_integrator_step`]; the layers are
//! thin modules over them and give their own with `parameters()`). The LTC layers have no such
//! function: their decays are computed at every step by gates, sub-modules with weights.
//!
//! Each is a plain function over tensors and, under autodiff, a single graph node with a
//! hand-written backward pass. Each backend runs it with its own kernel: loops and strided matrix
//! products on ndarray, one CubeCL kernel per element-wise operation on wgpu, burn's tensor
//! operations (fused by burn with the `fusion` feature) elsewhere, with the same values. This is
//! what makes the built-in layers fast; a neuron written with them gets that speed without code
//! of its own.
//!
//! ```
//! use burn::prelude::*;
//! use burn_fptt::functional::{affine, blend, logistic};
//! use burn_fptt::prelude::*;
//!
//! // One step of a leaky integrator with an input-dependent rate:
//! // k = σ(x W_k + b_k), m = m + k (x W_o - m).
//! let device = default_device();
//! let x = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 2.0]], &device);
//! let w_o = Tensor::<2>::from_floats([[0.5, 0.0], [0.0, 0.25]], &device);
//! let w_k = Tensor::<2>::zeros([2, 2], &device);
//! let m = Tensor::<2>::zeros([2, 2], &device);
//! let rate = logistic(affine(x.clone(), w_k, Some(Tensor::zeros([2], &device))));
//! let m = blend(m, affine(x, w_o, None), rate);
//! // σ(0) = 0.5, so m is half the drive.
//! let m: Vec<f32> = m.into_data().to_vec().unwrap();
//! assert_eq!(m, vec![0.25, 0.0, 0.0, 0.25]);
//! ```

use burn::tensor::Tensor;

pub use crate::neuron::{
    AlifParameters, CubaLifParameters, LifParameters, alif_step, cuba_lif_step,
    leaky_integrator_step, lif_step,
};
pub use crate::surrogate::{smooth_spike, spike};

/// `x W + b` for `x` `[batch, k]`, `W` `[k, n]` and `b` `[n]` (or no bias).
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::functional::affine;
///
/// let device = burn_fptt::default_device();
/// let x = Tensor::<2>::from_floats([[1.0, 2.0]], &device);
/// let w = Tensor::<2>::from_floats([[1.0, 0.0, -1.0], [0.5, 1.0, 2.0]], &device);
/// let b = Tensor::<1>::from_floats([0.0, 0.5, 1.0], &device);
/// let y: Vec<f32> = affine(x, w, Some(b)).into_data().to_vec().unwrap();
/// assert_eq!(y, vec![2.0, 2.5, 4.0]);
/// ```
///
/// # Panics
///
/// When the shapes do not chain (`x`'s columns against `W`'s rows, `b` against `W`'s columns).
pub fn affine(x: Tensor<2>, w: Tensor<2>, b: Option<Tensor<1>>) -> Tensor<2> {
    crate::kernels::affine(x, w, b)
}

/// `x₁ W₁ + x₂ W₂ + b`: a product with the concatenation `[x₁ ; x₂]` without building it (the
/// gates of the LTC layer read `[I_t ; u_{t-1}]` this way).
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::functional::affine_pair;
///
/// let device = burn_fptt::default_device();
/// let x1 = Tensor::<2>::from_floats([[1.0]], &device);
/// let x2 = Tensor::<2>::from_floats([[2.0]], &device);
/// let w1 = Tensor::<2>::from_floats([[3.0, 1.0]], &device);
/// let w2 = Tensor::<2>::from_floats([[0.5, -1.0]], &device);
/// let y: Vec<f32> = affine_pair(x1, w1, x2, w2, None).into_data().to_vec().unwrap();
/// assert_eq!(y, vec![4.0, -1.0]);
/// ```
///
/// # Panics
///
/// When the shapes do not chain as in [`affine`], or the two products differ in shape.
pub fn affine_pair(
    x1: Tensor<2>,
    w1: Tensor<2>,
    x2: Tensor<2>,
    w2: Tensor<2>,
    b: Option<Tensor<1>>,
) -> Tensor<2> {
    crate::kernels::affine_pair(x1, w1, x2, w2, b)
}

/// The logistic sigmoid `1 / (1 + e^(−z))`, computed in the tensor's own precision (burn's
/// `sigmoid` goes through float32 and a logarithm).
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::functional::logistic;
///
/// let device = burn_fptt::default_device();
/// let y: Vec<f32> = logistic(Tensor::<1>::from_floats([0.0, 2.0f32.ln()], &device))
///     .into_data()
///     .to_vec()
///     .unwrap();
/// // σ(ln 2) = 1 / (1 + 1/2) = 2/3.
/// assert!((y[0] - 0.5).abs() < 1e-7 && (y[1] - 2.0 / 3.0).abs() < 1e-6);
/// ```
pub fn logistic<const D: usize>(z: Tensor<D>) -> Tensor<D> {
    crate::kernels::logistic(z)
}

/// `a + w (b − a)`, that is `(1 − w) a + w b`, for tensors of one shape: the update of a leaky
/// state towards its drive with rate `w`.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::functional::blend;
///
/// let device = burn_fptt::default_device();
/// let a = Tensor::<1>::from_floats([1.0, 1.0], &device);
/// let b = Tensor::<1>::from_floats([3.0, -1.0], &device);
/// let w = Tensor::<1>::from_floats([0.25, 0.5], &device);
/// let y: Vec<f32> = blend(a, b, w).into_data().to_vec().unwrap();
/// assert_eq!(y, vec![1.5, 0.0]);
/// ```
///
/// # Panics
///
/// When the three shapes differ.
pub fn blend<const D: usize>(a: Tensor<D>, b: Tensor<D>, w: Tensor<D>) -> Tensor<D> {
    crate::kernels::blend(a, b, w)
}
