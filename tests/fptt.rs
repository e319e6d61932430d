//! FPTT against values computed independently (tools/reference_values.py, numpy float64).

mod common;

use burn::module::Param;
use burn::nn::Linear;
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use burn_fptt::fptt::ClassDistributions;
use burn_fptt::prelude::*;
use common::{LinearStep, assert_close, values};

/// Rows: [w1, w2, W̄1, W̄2, λ1, λ2] after each update.
fn tiny_run(length: usize, k: usize, config: FpttConfig) -> Vec<Vec<f64>> {
    let device = default_device().autodiff();
    let xs = [[1.0, 2.0], [0.5, -1.0], [2.0, 0.5], [-1.0, 1.0]];
    let ys = [1.0, 0.0, -1.0, 0.5];
    let mut model = Linear {
        weight: Param::from_tensor(Tensor::<2>::from_floats([[0.5], [-0.3]], &device)),
        bias: None,
    };
    let mut fptt = Fptt::new(config, &model).unwrap();
    let mut sgd = SgdConfig::new().init();
    let chunk = length.div_ceil(k);
    let mut rows = Vec::new();
    for start in (0..length).step_by(chunk) {
        let mut loss: Option<Tensor<1>> = None;
        for t in start..(start + chunk).min(length) {
            let x = Tensor::<2>::from_floats([xs[t]], &device);
            let err = model.forward(x).reshape([1]) - ys[t];
            let term = err.powi_scalar(2) * ((t + 1) as f64 / length as f64);
            loss = Some(loss.map_or(term.clone(), |l| l + term));
        }
        model = fptt.update(model, loss.unwrap(), &mut sgd, 0.1);
        let (mean, multiplier) = fptt.averages_of(model.weight.id).unwrap();
        let mut row = values(model.weight.val());
        row.extend(values(mean));
        row.extend(values(multiplier));
        rows.push(row);
    }
    rows
}

fn assert_rows(actual: Vec<Vec<f64>>, expected: &[[f64; 6]]) {
    assert_eq!(actual.len(), expected.len(), "number of updates");
    for (i, (row, want)) in actual.iter().zip(expected).enumerate() {
        for (j, (a, b)) in row.iter().zip(want).enumerate() {
            assert!(
                (a - b).abs() < 1e-5,
                "update {i}, value {j}: {a} vs {b} (row {row:?})"
            );
        }
    }
}

fn tiny_config() -> FpttConfig {
    FpttConfig::new()
        .with_alpha(0.5)
        .with_beta(0.5)
        .with_clip_norm(None)
}

#[test]
fn weights_averages_and_multipliers_after_each_update_k_equals_t() {
    assert_rows(
        tiny_run(3, 3, tiny_config()),
        &[
            [
                0.5733333333,
                -0.1533333333,
                0.5733333333,
                -0.1533333333,
                -0.0366666667,
                -0.0733333333,
            ],
            [
                0.5403333333,
                -0.102,
                0.577,
                -0.0286666667,
                -0.0201666667,
                -0.099,
            ],
            [
                -0.2717166667,
                -0.3112,
                -0.25155,
                -0.2122,
                0.4041916667,
                0.0422666667,
            ],
        ],
    );
}

#[test]
fn weights_averages_and_multipliers_after_each_update_k_below_t() {
    assert_rows(
        tiny_run(4, 2, tiny_config()),
        &[
            [0.5275, -0.135, 0.5275, -0.135, -0.01375, -0.0825],
            [
                -0.302625,
                -0.0598125,
                -0.288875,
                0.0226875,
                0.4013125,
                -0.12009375,
            ],
        ],
    );
}

#[test]
fn global_norm_clipping_of_the_regularised_gradient() {
    assert_rows(
        tiny_run(3, 3, tiny_config().with_clip_norm(Some(0.5))),
        &[
            [
                0.5223606661,
                -0.2552786677,
                0.5223606661,
                -0.2552786677,
                -0.0111803331,
                -0.0223606661,
            ],
            [
                0.4988234357,
                -0.2111652666,
                0.5100037687,
                -0.1888046004,
                0.0005882822,
                -0.0444173667,
            ],
            [
                0.450369209,
                -0.2235016876,
                0.4497809269,
                -0.1790843209,
                0.030405562,
                -0.0270688231,
            ],
        ],
    );
}

#[test]
fn paper_form_halves_the_multiplier_in_the_gradient() {
    assert_rows(
        tiny_run(3, 3, tiny_config().with_correction(LambdaCorrection::Paper)),
        &[
            [
                0.5733333333,
                -0.1533333333,
                0.5733333333,
                -0.1533333333,
                -0.0366666667,
                -0.0733333333,
            ],
            [
                0.5421666667,
                -0.0983333333,
                0.5788333333,
                -0.025,
                -0.0210833333,
                -0.1008333333,
            ],
            [
                -0.2711208333,
                -0.303225,
                -0.2500375,
                -0.2023916667,
                0.40389375,
                0.0382791667,
            ],
        ],
    );
}

fn learner_run(k: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>, usize) {
    learner_run_with(
        FpttConfig::new()
            .with_updates_per_sequence(Some(k))
            .with_clip_norm(None),
    )
}

/// The stateless linear classifier of tools/reference_values.py, with SGD lr 0.1.
fn linear_learner(config: FpttConfig) -> SequenceLearner<LinearStep> {
    let device = default_device().autodiff();
    let model = LinearStep {
        linear: Linear {
            weight: Param::from_tensor(Tensor::<2>::from_floats(
                [[0.2, -0.1], [0.4, 0.3]],
                &device,
            )),
            bias: None,
        },
    };
    SequenceLearner::new(model, SgdConfig::new().init(), 0.1, Method::Fptt(config)).unwrap()
}

/// Its batch: 2 sequences of 4 steps, classes 1 and 0.
fn learner_batch() -> (Tensor<3>, Tensor<1, Int>) {
    let device = default_device().autodiff();
    let x = Tensor::<3>::from_floats(
        [
            [[1.0, 0.0], [0.5, 1.0], [-1.0, 2.0], [0.3, 0.3]],
            [[0.0, 1.0], [1.0, -1.0], [2.0, 0.5], [-0.5, 1.0]],
        ],
        &device,
    );
    (x, Tensor::<1, Int>::from_ints([1, 0], &device))
}

fn learner_run_with(config: FpttConfig) -> (Vec<f64>, Vec<f64>, Vec<f64>, usize) {
    let mut learner = linear_learner(config);
    let (x, y) = learner_batch();
    let stats = learner.train_batch(x, y).unwrap();
    let id = learner.model().linear.weight.id;
    let (mean, multiplier) = learner.rule().fptt().unwrap().averages_of(id).unwrap();
    (
        values(learner.model().linear.weight.val()),
        values(mean),
        values(multiplier),
        stats.updates,
    )
}

/// Runs the learner with `k` updates per sequence and compares W, W̄, λ with numpy's.
fn assert_learner(k: usize, updates: usize, expected: [[f64; 4]; 3]) {
    let (w, mean, multiplier, taken) = learner_run(k);
    assert_eq!(taken, updates);
    for (actual, want) in [w, mean, multiplier].iter().zip(expected) {
        assert_close(
            Tensor::<1>::from_floats(actual.as_slice(), &default_device()),
            want,
            1e-5,
        );
    }
}

#[test]
fn learner_updates_every_step_with_the_linear_ramp() {
    assert_learner(
        4,
        4,
        [
            [0.2185900666, -0.1185900666, 0.3726725398, 0.3273274602],
            [0.2407016208, -0.1407016208, 0.3476386523, 0.3523613477],
            [-0.0023547167, 0.0023547167, 0.0020485533, -0.0020485533],
        ],
    );
}

#[test]
fn learner_updates_once_per_chunk_for_k_below_t() {
    assert_learner(
        2,
        2,
        [
            [0.2195399472, -0.1195399472, 0.3712678455, 0.3287321545],
            [0.2180631534, -0.1180631534, 0.3615824443, 0.3384175557],
            [-0.0019539947, 0.0019539947, 0.0028732154, -0.0028732154],
        ],
    );
}

#[test]
fn terminal_prediction_term_pulls_towards_the_previous_prediction() {
    let config = FpttConfig::new()
        .with_clip_norm(None)
        .with_terminal_prediction(Some(0.5));
    let (w, _, _, updates) = learner_run_with(config);
    assert_eq!(updates, 4);
    assert_close(
        Tensor::<1>::from_floats(w.as_slice(), &default_device()),
        [0.216508569, -0.116508569, 0.3739280562, 0.3260719438],
        1e-5,
    );
}

/// The same batch twice, so that the second pass reads the class distributions the first one
/// recorded; K = 4.
fn two_batches(config: FpttConfig) -> SequenceLearner<LinearStep> {
    let mut learner = linear_learner(config.with_clip_norm(None));
    for _ in 0..2 {
        let (x, y) = learner_batch();
        learner.train_batch(x, y).unwrap();
    }
    learner
}

#[test]
fn distribution_loss_pulls_early_steps_towards_recorded_class_distributions() {
    let with = two_batches(FpttConfig::new().with_distribution_targets(Some(2.0)));
    assert_close(
        with.model().linear.weight.val(),
        [[0.2342319601, -0.1342319601], [0.3493402919, 0.3506597081]],
        1e-5,
    );
    // Without the term, the weights differ from the above by about 2e-4.
    let without = two_batches(FpttConfig::new());
    assert_close(
        without.model().linear.weight.val(),
        [[0.2344249394, -0.1344249394], [0.3491506022, 0.3508493978]],
        1e-5,
    );
    assert!(without.rule().class_distributions().is_none());
    // Class 1 was misclassified at steps 0 and 1 (its latest distributions are recorded), class
    // 0 never; the last two steps carry no distribution loss and record nothing.
    let table = with.rule().class_distributions().unwrap();
    assert_eq!(table.classes(), 2);
    let expected = [
        [[0.0, 0.0], [0.5835053814, 0.4164946186]],
        [[0.0, 0.0], [0.5543871615, 0.4456128385]],
        [[0.0, 0.0], [0.0, 0.0]],
    ];
    for (t, want) in expected.into_iter().enumerate() {
        let entry = table
            .step(t)
            .cloned()
            .unwrap_or_else(|| Tensor::zeros([2, 2], &default_device().autodiff()));
        assert_close(entry, want, 1e-5);
    }
}

#[test]
fn class_distributions_take_the_first_misclassified_sample_of_each_class() {
    let device = default_device();
    let mut table = ClassDistributions::new(3);
    // Class 0: sample 0 right, samples 2 and 3 wrong -> sample 2. Class 1: sample 1 wrong.
    // Class 2: sample 4 right -> no entry.
    let probs = Tensor::<2>::from_floats(
        [
            [0.8, 0.1, 0.1],
            [0.5, 0.3, 0.2],
            [0.1, 0.7, 0.2],
            [0.2, 0.2, 0.6],
            [0.1, 0.2, 0.7],
        ],
        &device,
    );
    let labels = Tensor::<1, Int>::from_ints([0, 1, 0, 0, 2], &device);
    table.observe(1, probs, labels.clone());
    assert_eq!(table.len(), 2);
    assert_close(table.step(0).unwrap().clone(), [[0.0; 3]; 3], 0.0);
    let recorded = [[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.0, 0.0, 0.0]];
    assert_close(table.step(1).unwrap().clone(), recorded, 1e-7);
    // A later batch replaces class 2's entry only; the others are kept.
    let probs = Tensor::<2>::from_floats([[0.4, 0.35, 0.25], [0.9, 0.05, 0.05]], &device);
    table.observe(1, probs, Tensor::from_ints([2, 0], &device));
    let recorded = [[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.4, 0.35, 0.25]];
    assert_close(table.step(1).unwrap().clone(), recorded, 1e-7);
    // Each sample's target is its class's entry.
    let targets = table.targets(1, Tensor::from_ints([2, 2, 1], &device));
    assert_close(
        targets,
        [[0.4, 0.35, 0.25], [0.4, 0.35, 0.25], [0.5, 0.3, 0.2]],
        1e-7,
    );
    // Round trip through a file; a bad file is named in the error.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("table.bpk");
    table.save(&path).unwrap();
    let loaded = ClassDistributions::load(&path, &device).unwrap();
    assert_eq!((loaded.classes(), loaded.len()), (3, 2));
    assert_close(loaded.step(1).unwrap().clone(), recorded, 0.0);
    std::fs::write(&path, b"not a table").unwrap();
    let error = ClassDistributions::load(&path, &device)
        .unwrap_err()
        .to_string();
    assert!(error.contains("table.bpk"), "{error}");
}

#[test]
fn closed_form_gradient_equals_autodiff_of_the_regulariser() {
    for correction in [LambdaCorrection::Code, LambdaCorrection::Paper] {
        let device = default_device().autodiff();
        device.seed(11);
        let mut model = SpikingClassifierConfig::new(3, vec![12, 8], 4).init(&device);
        let config = FpttConfig::new()
            .with_alpha(0.3)
            .with_clip_norm(None)
            .with_correction(correction);
        let mut fptt = Fptt::new(config, &model).unwrap();
        let mut optim = AdamaxConfig::new().init();
        // A few real updates, so that W, W̄ and λ all differ.
        let x = Tensor::<3>::random(
            [5, 6, 3],
            burn::tensor::Distribution::Uniform(0.0, 2.0),
            &device,
        );
        let y = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 1], &device);
        let mut state = model.init_state(5, &device);
        for t in 0..6 {
            let x_t = x.clone().slice([0..5, t..t + 1, 0..3]).reshape([5, 3]);
            let (scores, next) = model.step(x_t, state);
            model = fptt.update(model, cross_entropy(scores, y.clone()), &mut optim, 0.05);
            state = next.detach();
        }
        // The explicit R through autodiff, against the closed form with no task gradient.
        let autodiff = GradientsParams::from_grads(fptt.regulariser(&model).backward(), &model);
        let closed = fptt.regularise(&model, GradientsParams::new());
        let mut compared = 0;
        let mut magnitude = 0.0;
        let mut check = |a: Vec<f64>, c: Vec<f64>| {
            assert_eq!(a.len(), c.len());
            for (x, y) in a.iter().zip(&c) {
                assert!(
                    (x - y).abs() < 1e-5 * (1.0 + x.abs()),
                    "{correction:?}: {x} vs {y}"
                );
                magnitude += x.abs();
                compared += 1;
            }
        };
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        for layer in &model.layers {
            weights.push(layer.input.weight.id);
            biases.push(layer.input.bias.as_ref().unwrap().id);
            for gate in [&layer.membrane_gate, &layer.adaptation_gate] {
                weights.extend([gate.drive_weight.id, gate.state_weight.id]);
                biases.push(gate.bias.as_ref().unwrap().id);
            }
        }
        let gate = &model.readout.gate;
        weights.extend([gate.drive_weight.id, gate.state_weight.id]);
        for id in weights {
            check(
                values(autodiff.get::<2>(id).unwrap()),
                values(closed.get::<2>(id).unwrap()),
            );
        }
        for id in biases {
            check(
                values(autodiff.get::<1>(id).unwrap()),
                values(closed.get::<1>(id).unwrap()),
            );
        }
        assert!(
            compared > 500 && magnitude > 1e-3,
            "{compared} values, sum |g| = {magnitude}"
        );
    }
}

#[test]
fn end_of_epoch_sets_weights_to_their_running_average() {
    let device = default_device().autodiff();
    device.seed(5);
    let model = SpikingClassifierConfig::new(2, vec![6], 3).init(&device);
    let mut learner = SequenceLearner::new(
        model,
        AdamaxConfig::new().init(),
        1e-2,
        Method::Fptt(FpttConfig::new()),
    )
    .unwrap();
    let x = Tensor::<3>::random(
        [4, 5, 2],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let y = Tensor::<1, Int>::from_ints([0, 1, 2, 0], &device);
    learner.train_batch(x, y).unwrap();
    let id = learner.model().layers[0].input.weight.id;
    let (mean, _) = learner.rule().fptt().unwrap().averages_of(id).unwrap();
    let before = values(learner.model().layers[0].input.weight.val());
    assert_ne!(
        before,
        values(mean.clone()),
        "W and W̄ should differ mid-epoch"
    );
    learner.end_epoch();
    assert_eq!(
        values(learner.model().layers[0].input.weight.val()),
        values(mean)
    );
    // Still trainable after the swap.
    assert!(learner.model().layers[0].input.weight.is_require_grad());
}

#[test]
fn config_values_are_validated() {
    let bad = [
        (FpttConfig::new().with_alpha(0.0), "FpttConfig.alpha"),
        (FpttConfig::new().with_alpha(f64::NAN), "FpttConfig.alpha"),
        (FpttConfig::new().with_beta(0.0), "FpttConfig.beta"),
        (FpttConfig::new().with_beta(1.01), "FpttConfig.beta"),
        (
            FpttConfig::new().with_updates_per_sequence(Some(0)),
            "FpttConfig.updates_per_sequence",
        ),
        (
            FpttConfig::new().with_clip_norm(Some(-1.0)),
            "FpttConfig.clip_norm",
        ),
        (
            FpttConfig::new().with_terminal_prediction(Some(-0.5)),
            "FpttConfig.terminal_prediction",
        ),
        (
            FpttConfig::new().with_distribution_targets(Some(f64::NAN)),
            "FpttConfig.distribution_targets",
        ),
    ];
    for (config, field) in bad {
        assert_eq!(config.validate().unwrap_err().field(), field);
    }
    let err = FpttConfig::new()
        .with_updates_per_sequence(Some(10))
        .chunk_length(8)
        .unwrap_err();
    assert_eq!(err.field(), "FpttConfig.updates_per_sequence");
    assert!(err.to_string().contains("T = 8"), "{err}");
    assert_eq!(
        BpttConfig::new()
            .with_truncation(Some(0))
            .validate()
            .unwrap_err()
            .field(),
        "BpttConfig.truncation"
    );
}

#[test]
fn k_above_sequence_length_is_a_training_error() {
    let device = default_device().autodiff();
    let model = SpikingClassifierConfig::new(1, vec![4], 2).init(&device);
    let config = FpttConfig::new().with_updates_per_sequence(Some(20));
    let mut learner = SequenceLearner::new(
        model,
        AdamaxConfig::new().init(),
        1e-3,
        Method::Fptt(config),
    )
    .unwrap();
    let err = learner
        .train_batch(
            Tensor::zeros([2, 10, 1], &device),
            Tensor::<1, Int>::from_ints([0, 1], &device),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("updates_per_sequence") && err.to_string().contains("T = 10"),
        "{err}"
    );
}
