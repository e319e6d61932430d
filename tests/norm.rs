//! Per-step batch normalisation (`StepBatchNorm`) against values worked out by hand: the
//! training forward and its running update (PyTorch's semantics: the biased variance
//! normalises, the unbiased one enters the running statistics), evaluation with a step's own
//! statistics, steps past `max_length`, records, and bad input.

mod common;

use burn::module::Module;
use burn::prelude::*;
use burn_fptt::norm::{StepBatchNorm, StepBatchNormConfig};
use common::{cpu_device, values};

const EPS: f64 = 1e-5;

fn assert_all_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() <= tol, "{actual:?} vs {expected:?}");
    }
}

/// Two samples, two features: x = [[1, 2], [3, 6]]. Batch means [2, 4], biased variances
/// [1, 4], unbiased [2, 8].
fn trained_on_one_batch(t: usize) -> StepBatchNorm {
    let device = cpu_device().autodiff();
    let norm = StepBatchNormConfig::new(2, 3).init(&device);
    let x = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 6.0]], &device);
    let y = norm.forward(x, t);
    // (x - mean) / sqrt(var + eps) * 0.1 + 0.
    let (a, b) = (0.1 / (1.0 + EPS).sqrt(), 0.2 / (4.0 + EPS).sqrt());
    assert_all_close(&values(y), &[-a, -b, a, b], 1e-6);
    norm
}

#[test]
fn training_standardises_over_the_batch_and_moves_only_that_steps_statistics() {
    let norm = trained_on_one_batch(1);
    // Row 1: 0.9 * 0 + 0.1 * [2, 4] and 0.9 * 1 + 0.1 * [2, 8]; rows 0 and 2 untouched.
    assert_all_close(
        &values(norm.running_mean.value_sync()),
        &[0.0, 0.0, 0.2, 0.4, 0.0, 0.0],
        1e-6,
    );
    assert_all_close(
        &values(norm.running_var.value_sync()),
        &[1.0, 1.0, 1.1, 1.7, 1.0, 1.0],
        1e-6,
    );
}

#[test]
fn evaluation_uses_the_steps_own_running_statistics() {
    let norm = trained_on_one_batch(1).valid();
    let device = cpu_device();
    let x = Tensor::<2>::from_floats([[1.2, 0.4], [0.2, 2.1]], &device);
    // Step 1: mean [0.2, 0.4], variance [1.1, 1.7].
    let y = norm.forward(x.clone(), 1);
    let expected = [
        0.1 * 1.0 / (1.1 + EPS).sqrt(),
        0.0,
        0.0,
        0.1 * 1.7 / (1.7 + EPS).sqrt(),
    ];
    assert_all_close(&values(y), &expected, 1e-6);
    // Step 0 still has mean 0 and variance 1.
    let y0 = norm.forward(x, 0);
    let scale = 0.1 / (1.0 + EPS).sqrt();
    assert_all_close(
        &values(y0),
        &[1.2 * scale, 0.4 * scale, 0.2 * scale, 2.1 * scale],
        1e-6,
    );
}

#[test]
fn steps_past_max_length_share_the_last_steps_statistics() {
    let norm = trained_on_one_batch(7);
    assert_all_close(
        &values(norm.running_mean.value_sync()),
        &[0.0, 0.0, 0.0, 0.0, 0.2, 0.4],
        1e-6,
    );
}

#[test]
fn the_gradient_of_the_scale_is_the_standardised_input() {
    let device = cpu_device().autodiff();
    let norm = StepBatchNormConfig::new(2, 3).init(&device);
    let x = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 6.0]], &device);
    // L = sum(y * w): dL/dγ_f = sum_b w_bf x̂_bf, dL/dβ_f = sum_b w_bf.
    let w = Tensor::<2>::from_floats([[1.0, 0.5], [2.0, -1.0]], &device);
    let grads = (norm.forward(x, 0) * w).sum().backward();
    let d_gamma = values(norm.gamma.val().grad(&grads).unwrap());
    let d_beta = values(norm.beta.val().grad(&grads).unwrap());
    let (a, b) = (1.0 / (1.0 + EPS).sqrt(), 2.0 / (4.0 + EPS).sqrt());
    assert_all_close(&d_gamma, &[-a + 2.0 * a, -0.5 * b - b], 1e-5);
    assert_all_close(&d_beta, &[3.0, -0.5], 1e-6);
}

#[test]
fn records_keep_the_running_statistics() {
    let norm = trained_on_one_batch(1);
    let fresh = StepBatchNormConfig::new(2, 3).init(&cpu_device().autodiff());
    let loaded = fresh.load_record(norm.clone().into_record());
    assert_eq!(
        values(loaded.running_var.value_sync()),
        values(norm.running_var.value_sync())
    );
    assert_eq!(values(loaded.gamma.val()), values(norm.gamma.val()));
    let shown = format!("{loaded}");
    assert!(shown.contains("max_length: 3"), "{shown}");
}

#[test]
fn bad_configs_name_the_field() {
    let device = cpu_device();
    let cases = [
        (StepBatchNormConfig::new(0, 3), "num_features"),
        (StepBatchNormConfig::new(2, 0), "max_length"),
        (StepBatchNormConfig::new(2, 3).with_epsilon(0.0), "epsilon"),
        (
            StepBatchNormConfig::new(2, 3).with_momentum(1.5),
            "momentum",
        ),
        (
            StepBatchNormConfig::new(2, 3).with_initial_scale(f64::NAN),
            "initial_scale",
        ),
    ];
    for (config, field) in cases {
        let error = config.try_init(&device).unwrap_err();
        assert!(error.to_string().contains(field), "{error}");
    }
}

#[test]
#[should_panic(expected = "the input has 3 features, the layer normalises 2")]
fn a_wrong_width_panics_with_both_widths() {
    let device = cpu_device();
    let norm = StepBatchNormConfig::new(2, 3).init(&device);
    norm.forward(Tensor::<2>::zeros([4, 3], &device), 0);
}

#[test]
#[should_panic(expected = "at least 2 samples")]
fn training_on_one_sample_panics() {
    let device = cpu_device().autodiff();
    let norm = StepBatchNormConfig::new(2, 3).init(&device);
    norm.forward(Tensor::<2>::zeros([1, 2], &device), 0);
}
