//! The fused loops on plain slices, in the floating-point operation order of the tensor forms
//! they replace (`Fptt::regularise`, `Adamax`'s step, `Fptt::after_step`).
//!
//! A slice longer than [`GRAIN`] (a parameter's update: longer than [`UPDATE_SERIAL_UP_TO`]) is
//! cut into chunks of [`GRAIN`] elements that rayon's threads run in parallel
//! (`RAYON_NUM_THREADS`); each element's arithmetic is the same either way, so the values are
//! too. The sum of squares stays on one thread, in one order.

use rayon::prelude::*;

use super::{AdamaxScalars, MultiGaussianTerms};

/// Elements per parallel task: a loop over at most this many runs on the calling thread, where
/// handing it to other threads would cost more than it saves (PyTorch's grain size for its
/// element-wise loops, `at::internal::GRAIN_SIZE`).
pub(crate) const GRAIN: usize = 32_768;

/// The longest parameter whose update loops (regularised gradient, Adamax, after-step) run on the
/// calling thread. An update runs one short loop per parameter, back to back, and each hand-over
/// to rayon's threads costs a wake-up that the loop's tens of microseconds do not pay back: on two
/// cores, keeping the updates of a hidden-256 model (65 536 elements at most) on one thread made
/// an FPTT step at batch 64 about a fifth faster (BENCHMARKS.md, "The parameter updates on one
/// thread"). Above this (1 MiB of `f32` per array), the chunks of [`GRAIN`] go to rayon.
pub(crate) const UPDATE_SERIAL_UP_TO: usize = 1 << 18;

/// Turns the task gradient in `gradient` into the regularised one, in place.
pub(crate) fn regularised_gradient(
    gradient: &mut [f32],
    weight: &[f32],
    running_mean: &[f32],
    multiplier: &[f32],
    alpha: f32,
    lambda_scale: f32,
) {
    if gradient.len() <= UPDATE_SERIAL_UP_TO {
        return regularised_gradient_chunk(
            gradient,
            weight,
            running_mean,
            multiplier,
            alpha,
            lambda_scale,
        );
    }
    gradient
        .par_chunks_mut(GRAIN)
        .zip(weight.par_chunks(GRAIN))
        .zip(running_mean.par_chunks(GRAIN))
        .zip(multiplier.par_chunks(GRAIN))
        .for_each(|(((gradient, weight), mean), multiplier)| {
            regularised_gradient_chunk(gradient, weight, mean, multiplier, alpha, lambda_scale)
        });
}

fn regularised_gradient_chunk(
    gradient: &mut [f32],
    weight: &[f32],
    running_mean: &[f32],
    multiplier: &[f32],
    alpha: f32,
    lambda_scale: f32,
) {
    let terms = weight.iter().zip(running_mean).zip(multiplier);
    for (gradient, ((&weight, &mean), &multiplier)) in gradient.iter_mut().zip(terms) {
        *gradient = (*gradient + (weight - mean) * alpha) - multiplier * lambda_scale;
    }
}

/// `Σ v²` in f64, over independent lanes so that the loop vectorises.
pub(crate) fn sum_of_squares(values: &[f32]) -> f64 {
    const LANES: usize = 16;
    let chunks = values.chunks_exact(LANES);
    let rest: f64 = chunks.remainder().iter().map(|&v| f64::from(v * v)).sum();
    let mut lanes = [0.0f64; LANES];
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f64::from(v * v);
        }
    }
    lanes.iter().sum::<f64>() + rest
}

pub(crate) fn adamax_step(
    grad: &[f32],
    weight: &mut [f32],
    moment: &mut [f32],
    infinity_norm: &mut [f32],
    first: bool,
    scalars: AdamaxScalars,
) {
    if weight.len() <= UPDATE_SERIAL_UP_TO {
        return adamax_chunk(grad, weight, moment, infinity_norm, first, scalars);
    }
    weight
        .par_chunks_mut(GRAIN)
        .zip(moment.par_chunks_mut(GRAIN))
        .zip(infinity_norm.par_chunks_mut(GRAIN))
        .zip(grad.par_chunks(GRAIN))
        .for_each(|(((weight, moment), norm), grad)| {
            adamax_chunk(grad, weight, moment, norm, first, scalars)
        });
}

fn adamax_chunk(
    grad: &[f32],
    weight: &mut [f32],
    moment: &mut [f32],
    infinity_norm: &mut [f32],
    first: bool,
    scalars: AdamaxScalars,
) {
    // The scalars as the tensor form computes them: in f64, then rounded to f32.
    let beta_1 = scalars.beta_1 as f32;
    let keep_grad = (1.0 - scalars.beta_1) as f32;
    let beta_2 = scalars.beta_2 as f32;
    let epsilon = scalars.epsilon as f32;
    let step_size = scalars.step_size as f32;
    let zipped = weight
        .iter_mut()
        .zip(moment.iter_mut())
        .zip(infinity_norm.iter_mut())
        .zip(grad);
    for (((weight, moment), norm), &grad) in zipped {
        let bound = grad.abs() + epsilon;
        if first {
            *moment = grad * keep_grad;
            *norm = bound;
        } else {
            *moment = *moment * beta_1 + grad * keep_grad;
            *norm = (*norm * beta_2).max(bound);
        }
        *weight -= *moment / *norm * step_size;
    }
}

pub(crate) fn after_step(
    weight: &[f32],
    running_mean: &mut [f32],
    multiplier: &mut [f32],
    alpha: f64,
    beta: f64,
) {
    if weight.len() <= UPDATE_SERIAL_UP_TO {
        return after_step_chunk(weight, running_mean, multiplier, alpha, beta);
    }
    running_mean
        .par_chunks_mut(GRAIN)
        .zip(multiplier.par_chunks_mut(GRAIN))
        .zip(weight.par_chunks(GRAIN))
        .for_each(|((mean, multiplier), weight)| {
            after_step_chunk(weight, mean, multiplier, alpha, beta)
        });
}

fn after_step_chunk(
    weight: &[f32],
    running_mean: &mut [f32],
    multiplier: &mut [f32],
    alpha: f64,
    beta: f64,
) {
    // The scalars as the tensor form computes them: in f64, then rounded to f32.
    let (keep, ratio) = ((1.0 - beta) as f32, (beta / alpha) as f32);
    let (alpha, beta) = (alpha as f32, beta as f32);
    for ((mean, multiplier), &weight) in running_mean.iter_mut().zip(multiplier).zip(weight) {
        let updated = *multiplier - (weight - *mean) * alpha;
        *mean = (*mean * keep + weight * beta) - updated * ratio;
        *multiplier = updated;
    }
}

/// The multi-Gaussian surrogate's `g(v)` written over `values` (see
/// [`Surrogate::MultiGaussian`](crate::Surrogate::MultiGaussian)), with the constants and the
/// operations of `Surrogate::derivative`'s tensor form.
pub(crate) fn multi_gaussian(values: &mut [f32], terms: &MultiGaussianTerms) {
    if values.len() <= GRAIN {
        return multi_gaussian_chunk(values, terms);
    }
    values
        .par_chunks_mut(GRAIN)
        .for_each(|values| multi_gaussian_chunk(values, terms));
}

fn multi_gaussian_chunk(values: &mut [f32], terms: &MultiGaussianTerms) {
    let slope = MultiGaussianF32::new(terms);
    for v in values {
        *v = slope.at(*v);
    }
}

/// The multi-Gaussian's constants in f32, each rounded as the tensor form's scalar operations
/// round it, and its `g(v)` in the tensor form's order of operations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MultiGaussianF32 {
    lens: f32,
    centre_factor: f32,
    sides_factor: f32,
    centre_scale: f32,
    sides_scale: f32,
}

impl MultiGaussianF32 {
    pub(crate) fn new(terms: &MultiGaussianTerms) -> Self {
        Self {
            lens: terms.lens as f32,
            centre_factor: MultiGaussianTerms::exponent_factor(terms.lens) as f32,
            sides_factor: MultiGaussianTerms::exponent_factor(terms.wide) as f32,
            centre_scale: terms.centre_scale as f32,
            sides_scale: terms.sides_scale as f32,
        }
    }

    /// `g(v)`: `exp(−(v − mean)² / (2 sd²))` per bump (`v − 0` for the centre, as the tensor
    /// form subtracts it), the centre's scaled minus the sides' scaled sum.
    pub(crate) fn at(&self, v: f32) -> f32 {
        let bump = |mean: f32, factor: f32| {
            let offset = v - mean;
            (offset * offset * factor).exp()
        };
        let centre = bump(0.0, self.centre_factor) * self.centre_scale;
        let sides = bump(self.lens, self.sides_factor) + bump(-self.lens, self.sides_factor);
        centre - sides * self.sides_scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regularised_gradient_adds_the_closed_form_term() {
        // g + α (W − W̄) − s λ with α = 2, s = 1, worked by hand:
        // 1 + 2 (0.5 − 0.25) − 0.5 = 1;  −2 + 2 (1 − 2) − (−1) = −3.
        let mut gradient = [1.0, -2.0];
        regularised_gradient(
            &mut gradient,
            &[0.5, 1.0],
            &[0.25, 2.0],
            &[0.5, -1.0],
            2.0,
            1.0,
        );
        assert_eq!(gradient, [1.0, -3.0]);
        // s = 0.5 (the paper's λ/2): 1 + 0.5 − 0.25 = 1.25.
        let mut gradient = [1.0];
        regularised_gradient(&mut gradient, &[0.5], &[0.25], &[0.5], 2.0, 0.5);
        assert_eq!(gradient, [1.25]);
    }

    #[test]
    fn sum_of_squares_counts_the_tail_past_the_lanes() {
        let values: Vec<f32> = (1..=20).map(|k| k as f32).collect();
        // 1² + ... + 20² = 20 · 21 · 41 / 6.
        assert_eq!(sum_of_squares(&values), 2870.0);
        assert_eq!(sum_of_squares(&[]), 0.0);
    }

    #[test]
    fn adamax_step_follows_the_first_and_later_updates() {
        let scalars = AdamaxScalars {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            step_size: 0.1,
        };
        let (mut weight, mut moment, mut norm) = ([1.0f32, 1.0], [7.0f32, 7.0], [7.0f32, 7.0]);
        // First step: m = 0.1 g, u = |g| + ε (whatever the buffers held); W −= 0.1 m / u.
        adamax_step(
            &[0.5, -2.0],
            &mut weight,
            &mut moment,
            &mut norm,
            true,
            scalars,
        );
        let close = |a: f32, b: f64| (f64::from(a) - b).abs() < 1e-6;
        assert!(
            close(moment[0], 0.05) && close(moment[1], -0.2),
            "{moment:?}"
        );
        assert!(close(norm[0], 0.5) && close(norm[1], 2.0), "{norm:?}");
        assert!(
            close(weight[0], 0.99) && close(weight[1], 1.01),
            "{weight:?}"
        );
        // Second step with g = (0, 1): m = (0.045, −0.08), u = (0.4995, 1.998).
        adamax_step(
            &[0.0, 1.0],
            &mut weight,
            &mut moment,
            &mut norm,
            false,
            scalars,
        );
        assert!(
            close(moment[0], 0.045) && close(moment[1], -0.08),
            "{moment:?}"
        );
        assert!(close(norm[0], 0.4995) && close(norm[1], 1.998), "{norm:?}");
        let expected = [0.99 - 0.1 * 0.045 / 0.4995, 1.01 + 0.1 * 0.08 / 1.998];
        assert!(
            close(weight[0], expected[0]) && close(weight[1], expected[1]),
            "{weight:?}"
        );
    }

    #[test]
    fn multi_gaussian_matches_its_formula() {
        // g(v) = γ [(1+h) N(v; 0, l) − h N(v; l, kl) − h N(v; −l, kl)], N the normal density.
        let (l, k, h, gamma) = (0.3, 6.0, 0.15, 0.5);
        let normal = |v: f64, mean: f64, sd: f64| {
            (-(v - mean).powi(2) / (2.0 * sd * sd)).exp()
                / (sd * (2.0 * std::f64::consts::PI).sqrt())
        };
        let points = [-2.0f32, -0.3, 0.0, 0.1, 0.3, 1.5, 40.0];
        let mut values = points;
        multi_gaussian(&mut values, &MultiGaussianTerms::new(l, k, h, gamma));
        for (&v, &g) in points.iter().zip(&values) {
            let v = f64::from(v);
            let expected = gamma
                * ((1.0 + h) * normal(v, 0.0, l)
                    - h * normal(v, l, k * l)
                    - h * normal(v, -l, k * l));
            assert!(
                (f64::from(g) - expected).abs() < 1e-6,
                "g({v}) = {g}, expected {expected}"
            );
        }
        // g(0), as in the `spike` example.
        assert!((values[2] - 0.731_853).abs() < 1e-5, "{}", values[2]);
    }

    #[test]
    fn after_step_updates_the_multiplier_before_the_average() {
        // α = β = 0.5. λ' = λ − α (W − W̄); W̄' = (1 − β) W̄ + β W − (β/α) λ', worked by hand:
        // W = 1, W̄ = 0.5, λ = 0.25: λ' = 0, W̄' = 0.25 + 0.5 − 0 = 0.75;
        // W = 0, W̄ = 1, λ = 0: λ' = 0.5, W̄' = 0.5 + 0 − 0.5 = 0.
        let (mut mean, mut multiplier) = ([0.5f32, 1.0], [0.25f32, 0.0]);
        after_step(&[1.0, 0.0], &mut mean, &mut multiplier, 0.5, 0.5);
        assert_eq!(multiplier, [0.0, 0.5]);
        assert_eq!(mean, [0.75, 0.0]);
    }

    /// A parameter longer than `UPDATE_SERIAL_UP_TO` (a ragged last chunk included) goes to
    /// rayon's threads in chunks; every update must still give, bit for bit, what one pass of its
    /// loop over the whole slice on this thread gives.
    #[test]
    fn long_parameters_split_over_threads_give_the_one_pass_values() {
        let n = UPDATE_SERIAL_UP_TO + GRAIN + 7;
        let wave = |k: f32| (0..n).map(|i| (i as f32 * k).sin()).collect::<Vec<f32>>();
        let (grad, weight, mean, multiplier) = (wave(0.37), wave(0.11), wave(0.23), wave(0.05));

        let mut split = grad.clone();
        regularised_gradient(&mut split, &weight, &mean, &multiplier, 0.1, 0.5);
        let mut one_pass = grad.clone();
        regularised_gradient_chunk(&mut one_pass, &weight, &mean, &multiplier, 0.1, 0.5);
        assert_eq!(split, one_pass);

        let scalars = AdamaxScalars {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            step_size: 0.01,
        };
        let norm = wave(0.19)
            .iter()
            .map(|v| v.abs() + 0.5)
            .collect::<Vec<f32>>();
        let (mut split, mut split_moment, mut split_norm) =
            (weight.clone(), mean.clone(), norm.clone());
        adamax_step(
            &grad,
            &mut split,
            &mut split_moment,
            &mut split_norm,
            false,
            scalars,
        );
        let (mut one_pass, mut moment, mut one_pass_norm) = (weight.clone(), mean.clone(), norm);
        adamax_chunk(
            &grad,
            &mut one_pass,
            &mut moment,
            &mut one_pass_norm,
            false,
            scalars,
        );
        assert_eq!(
            (split, split_moment, split_norm),
            (one_pass, moment, one_pass_norm)
        );

        let (mut split_mean, mut split_multiplier) = (mean.clone(), multiplier.clone());
        after_step(&weight, &mut split_mean, &mut split_multiplier, 0.1, 0.5);
        let (mut one_pass_mean, mut one_pass_multiplier) = (mean, multiplier);
        after_step_chunk(
            &weight,
            &mut one_pass_mean,
            &mut one_pass_multiplier,
            0.1,
            0.5,
        );
        assert_eq!(
            (split_mean, split_multiplier),
            (one_pass_mean, one_pass_multiplier)
        );
    }
}
