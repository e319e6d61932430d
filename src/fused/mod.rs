//! Fused element-wise updates for the per-parameter work of an online step.
//!
//! An FPTT update touches every trainable parameter three times after the backward pass: the
//! regularised gradient `g + α (W − W̄) − λ`, the optimizer step, and the `λ`/`W̄` updates. Written
//! with tensor operations these are about 26 passes over the parameters, each allocating a fresh
//! buffer. On a CPU backend each of the three is one loop here: it reads its inputs once and writes
//! its outputs in place when it holds the only reference to them.
//!
//! The callers check [`fuses`] for every tensor of an update and run its tensor-operation form
//! when a tensor is not an f32 tensor of a CPU backend (ndarray, flex). That form is the
//! reference: it runs on every backend (wgpu fuses it by itself), and it defines the order of the
//! floating-point operations the loops follow, so that both give the same bits.

// Without a CPU backend, `fuses` is always false and `Buffer` has no values, so everything past
// building a buffer is unreachable by construction; the compiler says so, which is expected.
#![cfg_attr(
    not(any(feature = "ndarray", feature = "flex")),
    allow(unreachable_code, unused_variables, unused_mut, unused_imports)
)]

#[cfg(any(feature = "ndarray", feature = "flex"))]
mod cell;
#[cfg(any(feature = "ndarray", feature = "flex"))]
mod cell_autodiff;
#[cfg(feature = "ndarray")]
mod cell_ndarray;
mod host;
mod kernels;

use burn::tensor::Tensor;
use std::f64::consts::PI;

use host::Buffer;

use host::cpu_f32;
pub(crate) use host::fuses;

/// The constants of the multi-Gaussian's `g(v) = c (1+h)-bump − s (side bumps)`, shared by its
/// tensor form and the fused CPU loop so that both use the same values.
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

/// `v g − detach(v g)`: adds `0` in the forward pass (NaN where `v g` is not finite) and the
/// constant `slope` `g` to `ds/dv` in the backward pass.
pub(crate) fn straight_through<const D: usize>(v: Tensor<D>, slope: Tensor<D>) -> Tensor<D> {
    let linear = v * slope;
    linear.clone() - linear.detach()
}

/// Calls a [`cell::CellOps`] method on the dispatch form of tensors the caller checked with
/// [`cpu_f32`].
#[cfg(any(feature = "ndarray", feature = "flex"))]
macro_rules! cell_call {
    ($method:ident($($tensor:ident),+)) => {{
        use burn::backend::Dispatch;
        use cell::CellOps;
        Tensor::from_dispatch(<Dispatch as CellOps>::$method($($tensor.into_dispatch()),+))
    }};
}

/// Without a CPU backend no tensor passes [`cpu_f32`], so no cell operation is called.
#[cfg(not(any(feature = "ndarray", feature = "flex")))]
macro_rules! cell_call {
    ($method:ident($($tensor:ident),+)) => {{
        $(drop($tensor);)+
        unreachable!("no CPU backend in this build")
    }};
}

/// `x W + b` for `x` `[batch, k]`, `W` `[k, n]` and `b` `[n]`; one graph node on the CPU backends.
pub(crate) fn affine(x: Tensor<2>, w: Tensor<2>, b: Option<Tensor<1>>) -> Tensor<2> {
    match b {
        Some(b) if cpu_f32(&x) && cpu_f32(&w) && cpu_f32(&b) => cell_call!(affine(x, w, b)),
        Some(b) => x.matmul(w) + b.unsqueeze(),
        None => x.matmul(w),
    }
}

/// `x₁ W₁ + x₂ W₂ + b` (shapes as in [`affine`]); one graph node on the CPU backends.
pub(crate) fn affine_pair(
    x1: Tensor<2>,
    w1: Tensor<2>,
    x2: Tensor<2>,
    w2: Tensor<2>,
    b: Option<Tensor<1>>,
) -> Tensor<2> {
    match b {
        Some(b) if [&x1, &w1, &x2, &w2].iter().all(|t| cpu_f32(*t)) && cpu_f32(&b) => {
            cell_call!(affine_pair(x1, w1, x2, w2, b))
        }
        Some(b) => x1.matmul(w1) + x2.matmul(w2) + b.unsqueeze(),
        None => x1.matmul(w1) + x2.matmul(w2),
    }
}

/// The logistic sigmoid `1 / (1 + e^(−z))`, in the tensor's own precision; one graph node on the
/// CPU backends.
pub(crate) fn logistic<const D: usize>(z: Tensor<D>) -> Tensor<D> {
    if cpu_f32(&z) {
        return cell_call!(logistic(z));
    }
    (z.neg().exp() + 1.0).recip()
}

/// `a + w (b − a)` for tensors of one shape; one graph node on the CPU backends.
pub(crate) fn blend<const D: usize>(a: Tensor<D>, b: Tensor<D>, w: Tensor<D>) -> Tensor<D> {
    if cpu_f32(&a) && cpu_f32(&b) && cpu_f32(&w) {
        return cell_call!(blend(a, b, w));
    }
    a.clone() + w * (b - a)
}

/// `1` where `v > 0` and `0` elsewhere, with `slope` (a constant of `v`'s shape) as `ds/dv`; one
/// graph node on the CPU backends, `[v > 0] + (v g − detach(v g))` elsewhere.
pub(crate) fn spike<const D: usize>(v: Tensor<D>, slope: Tensor<D>) -> Tensor<D> {
    if cpu_f32(&v) && cpu_f32(&slope) {
        return cell_call!(spike(v, slope));
    }
    let step = v.clone().greater_elem(0.0).float();
    step + straight_through(v, slope)
}

/// The first-moment and infinity-norm state of one Adamax step, flattened.
pub(crate) struct AdamaxBuffers {
    pub(crate) weight: Tensor<1>,
    pub(crate) moment: Tensor<1>,
    pub(crate) infinity_norm: Tensor<1>,
}

/// Scalars of one Adamax step (see [`crate::optim::Adamax`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdamaxScalars {
    pub(crate) beta_1: f64,
    pub(crate) beta_2: f64,
    pub(crate) epsilon: f64,
    pub(crate) step_size: f64,
}

/// `task + α (W − W̄) − s λ` (`task` zero when absent), written over `task` where no other handle
/// shares it, and the sum of its squares in f64.
///
/// # Panics
///
/// When a tensor does not pass [`fuses`].
pub(crate) fn regularised_gradient(
    task: Option<Tensor<1>>,
    weight: &Tensor<1>,
    running_mean: &Tensor<1>,
    multiplier: &Tensor<1>,
    alpha: f64,
    lambda_scale: f64,
) -> (Tensor<1>, f64) {
    let mut gradient = Buffer::writable(task.unwrap_or_else(|| weight.zeros_like()));
    let values = gradient.values_mut();
    Buffer::read(weight, |weight| {
        Buffer::read(running_mean, |mean| {
            Buffer::read(multiplier, |multiplier| {
                kernels::regularised_gradient(
                    values,
                    weight,
                    mean,
                    multiplier,
                    alpha as f32,
                    lambda_scale as f32,
                )
            })
        })
    });
    let squares = kernels::sum_of_squares(values);
    (gradient.into_tensor(), squares)
}

/// One Adamax step with gradient `grad`, writing the weight and the state in place where no other
/// handle shares them; `first` when the state starts at this step (`m = (1 − β1) g`,
/// `u = |g| + ε`, whatever `state` holds).
///
/// # Panics
///
/// When a tensor does not pass [`fuses`].
pub(crate) fn adamax_step(
    grad: &Tensor<1>,
    state: AdamaxBuffers,
    first: bool,
    scalars: AdamaxScalars,
) -> AdamaxBuffers {
    let mut weight = Buffer::writable(state.weight);
    let mut moment = Buffer::writable(state.moment);
    let mut infinity_norm = Buffer::writable(state.infinity_norm);
    Buffer::read(grad, |grad| {
        kernels::adamax_step(
            grad,
            weight.values_mut(),
            moment.values_mut(),
            infinity_norm.values_mut(),
            first,
            scalars,
        )
    });
    AdamaxBuffers {
        weight: weight.into_tensor(),
        moment: moment.into_tensor(),
        infinity_norm: infinity_norm.into_tensor(),
    }
}

/// FPTT's post-step update `λ ← λ − α (W − W̄)`, then `W̄ ← (1 − β) W̄ + β W − (β/α) λ`, in
/// place where no other handle shares them; returns `(W̄, λ)`.
///
/// # Panics
///
/// When a tensor does not pass [`fuses`].
pub(crate) fn after_step(
    weight: &Tensor<1>,
    running_mean: Tensor<1>,
    multiplier: Tensor<1>,
    alpha: f64,
    beta: f64,
) -> (Tensor<1>, Tensor<1>) {
    let mut running_mean = Buffer::writable(running_mean);
    let mut multiplier = Buffer::writable(multiplier);
    Buffer::read(weight, |weight| {
        kernels::after_step(
            weight,
            running_mean.values_mut(),
            multiplier.values_mut(),
            alpha,
            beta,
        )
    });
    (running_mean.into_tensor(), multiplier.into_tensor())
}

/// The multi-Gaussian surrogate's `g(v)` element-wise, as a new tensor (`v` itself is not
/// written).
///
/// # Panics
///
/// When `v` does not pass [`fuses`].
pub(crate) fn multi_gaussian<const D: usize>(
    v: Tensor<D>,
    terms: &MultiGaussianTerms,
) -> Tensor<D> {
    let dims = v.dims();
    let n = v.shape().num_elements();
    let mut values = Buffer::writable(v.reshape([n]));
    kernels::multi_gaussian(values.values_mut(), terms);
    values.into_tensor().reshape(dims)
}

#[cfg(all(test, any(feature = "ndarray", feature = "flex")))]
mod tests {
    use burn::tensor::{Device, Distribution, TensorData};

    use super::*;

    /// The CPU devices this build fuses on (whatever `BURN_FPTT_BACKEND` says).
    fn cpu_devices() -> Vec<Device> {
        crate::enabled_backends()
            .into_iter()
            .filter(|name| *name != "wgpu")
            .map(|name| crate::device_by_name(name).expect("an enabled backend"))
            .collect()
    }

    fn values(tensor: &Tensor<1>) -> Vec<f32> {
        tensor.to_data().try_to_vec::<f32>().unwrap()
    }

    fn random(n: usize, device: &Device) -> Tensor<1> {
        Tensor::random([n], Distribution::Uniform(-1.0, 1.0), device)
    }

    #[test]
    fn fused_updates_give_the_bits_of_the_tensor_forms() {
        let (alpha, beta, lambda_scale) = (0.5, 0.3, 1.0);
        for device in cpu_devices() {
            device.seed(3);
            // 1 003 elements: not a multiple of any SIMD width.
            let [task, weight, mean, multiplier] = [0; 4].map(|_| random(1003, &device));
            let expected = task.clone() + (weight.clone() - mean.clone()) * alpha
                - multiplier.clone() * lambda_scale;
            let (gradient, squares) =
                regularised_gradient(Some(task), &weight, &mean, &multiplier, alpha, lambda_scale);
            assert_eq!(values(&gradient), values(&expected), "{device:?}");
            let expected_squares: f64 = values(&expected).iter().map(|&g| f64::from(g * g)).sum();
            assert!((squares - expected_squares).abs() < 1e-9 * expected_squares);

            let expected_multiplier = multiplier.clone() - (weight.clone() - mean.clone()) * alpha;
            let expected_mean = mean.clone() * (1.0 - beta) + weight.clone() * beta
                - expected_multiplier.clone() * (beta / alpha);
            let (mean, multiplier) = after_step(&weight, mean, multiplier, alpha, beta);
            assert_eq!(values(&multiplier), values(&expected_multiplier));
            assert_eq!(values(&mean), values(&expected_mean));

            let scalars = AdamaxScalars {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: 1e-8,
                step_size: 3e-3 / (1.0 - 0.9f64.powi(2)),
            };
            let [moment, norm] = [0; 2].map(|_| random(1003, &device).abs());
            let bound = gradient.clone().abs() + scalars.epsilon;
            let expected_moment = moment.clone() * scalars.beta_1 + gradient.clone() * (1.0 - 0.9);
            let expected_norm = (norm.clone() * scalars.beta_2).max_pair(bound);
            let expected_weight = weight.clone()
                - expected_moment.clone() / expected_norm.clone() * scalars.step_size;
            let state = AdamaxBuffers {
                weight,
                moment,
                infinity_norm: norm,
            };
            let updated = adamax_step(&gradient, state, false, scalars);
            assert_eq!(values(&updated.moment), values(&expected_moment));
            assert_eq!(values(&updated.infinity_norm), values(&expected_norm));
            assert_eq!(values(&updated.weight), values(&expected_weight));
        }
    }

    #[test]
    fn shared_tensors_are_copied_not_written() {
        for device in cpu_devices() {
            let weight = Tensor::<1>::from_data(TensorData::from([1.0f32, 0.0]), &device);
            let mean = Tensor::<1>::from_data(TensorData::from([0.5f32, 1.0]), &device);
            let multiplier = Tensor::<1>::from_data(TensorData::from([0.25f32, 0.0]), &device);
            let (kept_mean, kept_multiplier) = (mean.clone(), multiplier.clone());
            let (mean, _) = after_step(&weight, mean, multiplier, 0.5, 0.5);
            assert_eq!(values(&mean), [0.75, 0.0], "{device:?}");
            assert_eq!(values(&kept_mean), [0.5, 1.0], "{device:?}");
            assert_eq!(values(&kept_multiplier), [0.25, 0.0], "{device:?}");

            let kept_weight = weight.clone();
            let task = Tensor::<1>::from_data(TensorData::from([1.0f32, -2.0]), &device);
            let kept_task = task.clone();
            let (gradient, squares) =
                regularised_gradient(Some(task), &weight, &kept_mean, &kept_multiplier, 2.0, 1.0);
            // 1 + 2 (1 − 0.5) − 0.25 = 1.75;  −2 + 2 (0 − 1) − 0 = −4.
            assert_eq!(values(&gradient), [1.75, -4.0]);
            assert_eq!(squares, 1.75 * 1.75 + 16.0);
            assert_eq!(values(&kept_task), [1.0, -2.0]);
            let state = AdamaxBuffers {
                weight,
                moment: kept_mean.clone(),
                infinity_norm: kept_multiplier.clone() + 1.0,
            };
            let scalars = AdamaxScalars {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: 1e-8,
                step_size: 0.1,
            };
            let updated = adamax_step(&gradient, state, false, scalars);
            assert_ne!(values(&updated.weight), [1.0, 0.0]);
            assert_eq!(values(&kept_weight), [1.0, 0.0]);
            assert_eq!(values(&kept_mean), [0.5, 1.0]);
        }
    }

    #[test]
    fn multi_gaussian_gives_the_bits_of_the_tensor_form_and_keeps_its_input() {
        let surrogate = crate::Surrogate::multi_gaussian();
        let crate::Surrogate::MultiGaussian {
            lens,
            scale,
            height,
            gamma,
        } = surrogate
        else {
            unreachable!()
        };
        for device in cpu_devices() {
            device.seed(5);
            let v = Tensor::<2>::random([7, 129], Distribution::Uniform(-3.0, 3.0), &device);
            let before = v.to_data();
            let expected = surrogate.derivative(v.clone()).reshape([7 * 129]);
            let terms = MultiGaussianTerms::new(lens, scale, height, gamma);
            let fused = multi_gaussian(v.clone(), &terms);
            assert_eq!(fused.dims(), [7, 129]);
            for (a, b) in values(&fused.reshape([7 * 129]))
                .iter()
                .zip(values(&expected))
            {
                assert_eq!(a.to_bits(), b.to_bits(), "{a} vs {b}");
            }
            assert_eq!(v.to_data(), before, "{device:?}");
        }
    }

    #[test]
    fn autodiff_and_other_dtypes_are_not_fused() {
        for device in cpu_devices() {
            let tensor = Tensor::<1>::from_floats([1.0, 2.0], &device);
            assert!(fuses(&tensor));
            let tracked = Tensor::<1>::from_floats([1.0, 2.0], &device.clone().autodiff());
            assert!(!fuses(&tracked));
            assert!(!fuses(&tensor.cast(burn::tensor::DType::F64)));
        }
    }
}
