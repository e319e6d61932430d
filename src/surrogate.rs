//! Spikes with surrogate gradients.
//!
//! A spiking neuron emits `s = H(v)`, the Heaviside step of its distance `v` to threshold. Its
//! derivative is zero almost everywhere, so training replaces it in the backward pass by a
//! *surrogate* `g(v)`, a bump around `v = 0`. [`spike`] returns exactly `H(v)` (`1` where
//! `v > 0`, else `0`) and passes `g(v)` back as `ds/dv`.
//!
//! The surrogate gradient is injected with a straight-through term that is exactly zero in the
//! forward pass: `s = H(v) + (v * sg(g(v)) - sg(v * g(v)))`, `sg` the stop-gradient. It needs no
//! custom backward op, so it runs on every backend, with and without autodiff.

use burn::config::Config;
use burn::tensor::Tensor;
use std::f64::consts::{PI, SQRT_2};

use crate::error::{ConfigError, check};
use crate::kernels::{MultiGaussianTerms, Threshold, straight_through};

/// The surrogate derivative `g(v)` used in place of `dH/dv`, with its parameters.
///
/// Serialisable (it is a burn [`Config`]), so it can be stored in a layer's config or a results
/// file. [`Surrogate::default`] is the method's multi-Gaussian.
///
/// | variant | `g(v)` | area |
/// | --- | --- | --- |
/// | `MultiGaussian` | `gamma [(1+h) N(v;0,l) - h N(v;l,kl) - h N(v;-l,kl)]` | `gamma (1 - h)` |
/// | `FastSigmoid` | `1 / (1 + slope |v|)^2` | `2 / slope` |
/// | `Sigmoid` | `slope σ(slope v) (1 - σ(slope v))` | `1` |
/// | `ArcTan` | `alpha / 2 / (1 + (π/2 alpha v)^2)` | `1` |
/// | `Triangle` | `max(0, 1 - |v|/width) / width` | `1` |
///
/// `N(x; m, sd)` is the normal density.
///
/// ```
/// use burn_fptt::Surrogate;
///
/// let sg = Surrogate::default();
/// assert_eq!(sg, Surrogate::MultiGaussian { lens: 0.3, scale: 6.0, height: 0.15, gamma: 0.5 });
/// let json = serde_json::to_string(&Surrogate::FastSigmoid { slope: 10.0 }).unwrap();
/// assert_eq!(json, r#"{"FastSigmoid":{"slope":10.0}}"#);
/// ```
#[derive(Config, Debug, PartialEq)]
pub enum Surrogate {
    /// Multi-Gaussian: a central positive Gaussian of width `lens` with two negative side
    /// lobes of width `scale * lens`, relative height `height`, all scaled by `gamma`.
    MultiGaussian {
        /// Standard deviation `l` of the central Gaussian (default 0.3).
        lens: f64,
        /// Width ratio `k` of the side lobes to the central one (default 6).
        scale: f64,
        /// Relative height `h` of the side lobes (default 0.15).
        height: f64,
        /// Overall scale `gamma` (default 0.5).
        gamma: f64,
    },
    /// Fast sigmoid (SuperSpike): `1 / (1 + slope |v|)^2`.
    FastSigmoid {
        /// Steepness (default 10).
        slope: f64,
    },
    /// Derivative of the logistic sigmoid `σ(slope v)`.
    Sigmoid {
        /// Steepness (default 4).
        slope: f64,
    },
    /// Derivative of `1/2 + atan(π/2 alpha v) / π`.
    ArcTan {
        /// Steepness (default 2).
        alpha: f64,
    },
    /// Triangle (piecewise linear) of half-width `width`.
    Triangle {
        /// Half-width of the support (default 1).
        width: f64,
    },
}

impl Default for Surrogate {
    fn default() -> Self {
        Self::multi_gaussian()
    }
}

impl Surrogate {
    /// The multi-Gaussian with the method's defaults (`l = 0.3, k = 6, h = 0.15, gamma = 0.5`).
    pub fn multi_gaussian() -> Self {
        Self::MultiGaussian {
            lens: 0.3,
            scale: 6.0,
            height: 0.15,
            gamma: 0.5,
        }
    }

    /// Fast sigmoid with slope 10.
    pub fn fast_sigmoid() -> Self {
        Self::FastSigmoid { slope: 10.0 }
    }

    /// Sigmoid derivative with slope 4.
    pub fn sigmoid() -> Self {
        Self::Sigmoid { slope: 4.0 }
    }

    /// Arctan derivative with alpha 2.
    pub fn arctan() -> Self {
        Self::ArcTan { alpha: 2.0 }
    }

    /// Triangle of half-width 1.
    pub fn triangle() -> Self {
        Self::Triangle { width: 1.0 }
    }

    /// Checks that every parameter is finite and in range.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the parameter when a width, slope or scale is not finite and
    /// positive, or the multi-Gaussian `height`/`gamma` is negative or not finite.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            Self::MultiGaussian {
                lens,
                scale,
                height,
                gamma,
            } => {
                check::positive("Surrogate::MultiGaussian.lens", lens)?;
                check::positive("Surrogate::MultiGaussian.scale", scale)?;
                check::non_negative("Surrogate::MultiGaussian.height", height)?;
                check::positive("Surrogate::MultiGaussian.gamma", gamma)
            }
            Self::FastSigmoid { slope } => check::positive("Surrogate::FastSigmoid.slope", slope),
            Self::Sigmoid { slope } => check::positive("Surrogate::Sigmoid.slope", slope),
            Self::ArcTan { alpha } => check::positive("Surrogate::ArcTan.alpha", alpha),
            Self::Triangle { width } => check::positive("Surrogate::Triangle.width", width),
        }
    }

    /// The surrogate derivative `g(v)`, element-wise.
    pub fn derivative<const D: usize>(&self, v: Tensor<D>) -> Tensor<D> {
        match *self {
            Self::MultiGaussian {
                lens,
                scale,
                height,
                gamma,
            } => {
                let terms = MultiGaussianTerms::new(lens, scale, height, gamma);
                let centre = gaussian_bump(v.clone(), 0.0, lens) * terms.centre_scale;
                let sides = gaussian_bump(v.clone(), lens, terms.wide)
                    + gaussian_bump(v, -lens, terms.wide);
                centre - sides * terms.sides_scale
            }
            Self::FastSigmoid { slope } => (v.abs() * slope + 1.0).powi_scalar(2).recip(),
            Self::Sigmoid { slope } => {
                let s = crate::math::sigmoid(v * slope);
                s.clone() * (s.neg() + 1.0) * slope
            }
            Self::ArcTan { alpha } => {
                let z = v * (PI / 2.0 * alpha);
                (z.powi_scalar(2) + 1.0).recip() * (alpha / 2.0)
            }
            Self::Triangle { width } => (v.abs() * (-1.0 / width) + 1.0).clamp_min(0.0) / width,
        }
    }

    /// An antiderivative `F(v)` of [`derivative`](Self::derivative) with `F(-∞) = 0`: the smooth
    /// twin of the Heaviside step that this surrogate stands for.
    pub fn primitive<const D: usize>(&self, v: Tensor<D>) -> Tensor<D> {
        match *self {
            Self::MultiGaussian {
                lens,
                scale,
                height,
                gamma,
            } => {
                let wide = scale * lens;
                let centre = normal_cdf(v.clone(), 0.0, lens) * (1.0 + height);
                let sides =
                    (normal_cdf(v.clone(), lens, wide) + normal_cdf(v, -lens, wide)) * height;
                (centre - sides) * gamma
            }
            Self::FastSigmoid { slope } => v.clone() / (v.abs() * slope + 1.0) + 1.0 / slope,
            Self::Sigmoid { slope } => crate::math::sigmoid(v * slope),
            Self::ArcTan { alpha } => (v * (PI / 2.0 * alpha)).atan() / PI + 0.5,
            Self::Triangle { width } => {
                let z = (v / width).clamp(-1.0, 1.0);
                z.clone() - z.clone() * z.abs() * 0.5 + 0.5
            }
        }
    }
}

/// `exp(-(v - mean)^2 / (2 sd^2))`, the unnormalised Gaussian.
fn gaussian_bump<const D: usize>(v: Tensor<D>, mean: f64, sd: f64) -> Tensor<D> {
    (v - mean)
        .powi_scalar(2)
        .mul_scalar(MultiGaussianTerms::exponent_factor(sd))
        .exp()
}

/// The normal cumulative distribution `Φ((v - mean) / sd)`.
fn normal_cdf<const D: usize>(v: Tensor<D>, mean: f64, sd: f64) -> Tensor<D> {
    ((v - mean) / (sd * SQRT_2))
        .erf()
        .add_scalar(1.0)
        .mul_scalar(0.5)
}

/// `g(v)` as a constant. The multi-Gaussian, the method's surrogate, is one kernel per backend
/// (three `exp` and a few products per element, against 17 tensor passes); the others are their
/// tensor forms.
fn slope<const D: usize>(v: &Tensor<D>, surrogate: &Surrogate) -> Tensor<D> {
    let constant = v.clone().detach();
    if let Some(terms) = multi_gaussian_terms(surrogate) {
        return crate::kernels::multi_gaussian(constant, &terms);
    }
    surrogate.derivative(constant).detach()
}

/// The constants of the multi-Gaussian's one-pass kernels, for that surrogate only.
fn multi_gaussian_terms(surrogate: &Surrogate) -> Option<MultiGaussianTerms> {
    match *surrogate {
        Surrogate::MultiGaussian {
            lens,
            scale,
            height,
            gamma,
        } => Some(MultiGaussianTerms::new(lens, scale, height, gamma)),
        _ => None,
    }
}

/// Emits spikes: exactly `1.0` where `v > 0` and `0.0` elsewhere, with `surrogate`'s `g(v)` as
/// the gradient `ds/dv`.
///
/// Without autodiff, or when `v` takes no part in a graph, only the step is computed.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::{Surrogate, default_device, spike};
///
/// let device = default_device().autodiff();
/// let v = Tensor::<1>::from_floats([-0.5, 0.0, 0.2], &device).require_grad();
/// let s = spike(v.clone(), &Surrogate::default());
/// assert_eq!(s.to_data().try_to_vec_as::<f32>().unwrap(), vec![0.0, 0.0, 1.0]);
/// let grad = v.grad(&s.sum().backward()).unwrap().to_data().try_to_vec_as::<f32>().unwrap();
/// assert!((grad[1] - 0.731_853).abs() < 1e-5); // g(0) of the multi-Gaussian
/// ```
pub fn spike<const D: usize>(v: Tensor<D>, surrogate: &Surrogate) -> Tensor<D> {
    if !v.is_tracked() {
        return v.greater_elem(0.0).float();
    }
    let slope = slope(&v, surrogate);
    crate::kernels::spike(v, slope)
}

/// [`spike`] of the gap `pre − (b₀ + β b)` between the membrane and an adaptive threshold. With
/// the multi-Gaussian the gap, its slope and the spike are one graph node (one loop on the CPU,
/// one kernel on wgpu); the same values as `spike(pre - threshold)`.
pub(crate) fn spike_above_threshold<const D: usize>(
    pre: Tensor<D>,
    adaptation: Tensor<D>,
    threshold: Threshold,
    surrogate: &Surrogate,
) -> Tensor<D> {
    if let Some(terms) = multi_gaussian_terms(surrogate) {
        return crate::kernels::fire_multi_gaussian(pre, adaptation, threshold, &terms);
    }
    let gap = crate::kernels::threshold_gap(pre, adaptation, threshold.beta, threshold.base);
    spike(gap, surrogate)
}

/// The smooth twin of [`spike`]: the forward pass returns the surrogate's antiderivative
/// [`Surrogate::primitive`] instead of the step, the backward pass the same `g(v)`.
///
/// Useful for checking gradients against finite differences, and for annealing from a smooth
/// network to a spiking one.
pub fn smooth_spike<const D: usize>(v: Tensor<D>, surrogate: &Surrogate) -> Tensor<D> {
    let smooth = surrogate.primitive(v.clone().detach()).detach();
    if !v.is_tracked() {
        return smooth;
    }
    let slope = slope(&v, surrogate);
    smooth + straight_through(v, slope)
}
