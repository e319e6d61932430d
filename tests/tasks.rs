//! Tasks beyond classification: mean squared error, one target per step, a loss of one's own,
//! and sequences of different lengths in one batch. Expected values are worked out by hand in
//! float64 from the model's closed form, never read from the code under test.

mod common;

use burn::module::{Module, Param};
use burn::optim::SgdConfig;
use burn::prelude::*;
use burn_fptt::prelude::*;
use burn_fptt::task::BatchError;
use common::{cpu_device, values};

/// `h_t = h_{t-1} + w x_t`, output `h_t`: the output at step `t` is `w S_t` with `S_t` the
/// running sum of the inputs, so every loss and gradient has a closed form.
#[derive(Module, Debug)]
struct Accumulator {
    w: Param<Tensor<1>>,
}

impl StepModel for Accumulator {
    type State = Tensor<2>;

    fn init_state(&self, batch: usize, device: &Device) -> Tensor<2> {
        Tensor::zeros([batch, 1], device)
    }

    fn step(&self, x: Tensor<2>, h: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = h + x * self.w.val().reshape([1, 1]);
        (h.clone(), h)
    }
}

const W0: f64 = 0.5;
const LR: f64 = 0.1;

fn accumulator(device: &Device) -> Accumulator {
    Accumulator {
        w: Param::from_tensor(Tensor::from_floats([W0], device)),
    }
}

/// Plain SGD at rate `LR`, no clipping, BPTT over the whole sequence with `schedule`.
fn sgd_learner(schedule: LossSchedule) -> SequenceLearner<Accumulator, BpttRule> {
    let device = cpu_device().autodiff();
    let rule = BpttConfig::new().with_clip_norm(None).with_loss(schedule);
    SequenceLearner::new(accumulator(&device), SgdConfig::new().init(), LR, rule).unwrap()
}

fn weight(learner: &SequenceLearner<Accumulator, BpttRule>) -> f64 {
    values(learner.model().w.val())[0]
}

/// Inputs `[batch, time, 1]` from rows of steps.
fn inputs<const B: usize, const T: usize>(rows: [[f64; T]; B], device: &Device) -> Tensor<3> {
    Tensor::<2>::from_floats(rows, device).reshape([B, T, 1])
}

fn running_sums(row: &[f64]) -> Vec<f64> {
    row.iter()
        .scan(0.0, |sum, x| {
            *sum += x;
            Some(*sum)
        })
        .collect()
}

#[test]
fn mean_squared_error_and_its_gradient_by_hand() {
    let device = cpu_device().autodiff();
    let outputs = Tensor::<2>::from_floats([[1.0, 2.0], [0.5, -1.0]], &device).require_grad();
    let targets = Tensor::<2>::from_floats([[0.0, 2.5], [1.0, -1.0]], &device);
    // Differences [1, -0.5], [-0.5, 0]: squares sum to 1.5 over 4 values.
    let loss = mean_squared_error(outputs.clone(), targets.clone());
    assert_eq!(values(loss.clone()), vec![0.375]);
    // d/d out = 2 (out - y) / 4.
    let grads = loss.backward();
    let grad = outputs.grad(&grads).unwrap();
    assert_eq!(values(grad), vec![0.5, -0.25, -0.25, 0.0]);
    // Per sample: the mean over the outputs.
    let target = StepTarget::Values(targets);
    let per_sample = MeanSquaredError.per_sample(outputs, &target).unwrap();
    assert_eq!(values(per_sample), vec![0.625, 0.125]);
}

#[test]
fn regression_at_the_last_step_takes_the_hand_computed_gradient() {
    let device = cpu_device().autodiff();
    let rows = [[1.0, 2.0, -0.5], [0.5, 0.5, 1.0]];
    let y = [1.0, 3.0];
    let mut learner = sgd_learner(LossSchedule::LastStep);
    let stats = learner
        .train_batch(
            inputs(rows, &device),
            Tensor::<2>::from_floats([[y[0]], [y[1]]], &device),
        )
        .unwrap();
    // L = 1/2 sum_b (w S_b - y_b)^2, dL/dw = sum_b (w S_b - y_b) S_b.
    let sums = [2.5, 2.0];
    let loss: f64 = (0..2).map(|b| (W0 * sums[b] - y[b]).powi(2)).sum::<f64>() / 2.0;
    let grad: f64 = (0..2).map(|b| (W0 * sums[b] - y[b]) * sums[b]).sum::<f64>();
    assert!((stats.loss - loss).abs() < 1e-6, "{} vs {loss}", stats.loss);
    assert_eq!((stats.correct, stats.updates), (None, 1));
    assert!((weight(&learner) - (W0 - LR * grad)).abs() < 1e-6);
}

/// `LossSchedule::ChunkEnds` with truncated BPTT, windows of 2 over 5 steps: one update per
/// window on the prediction at the window's end only, weighted `(t + 1) / T`, the state carried
/// (detached) into the next window. Worked by hand with plain SGD.
#[test]
fn chunk_end_loss_updates_on_each_windows_last_prediction() {
    let device = cpu_device().autodiff();
    let x = [1.0, 2.0, -0.5, 1.0, 0.5];
    let y = 1.0;
    let rule = BpttConfig::truncated(2)
        .with_clip_norm(None)
        .with_loss(LossSchedule::ChunkEnds);
    let mut learner =
        SequenceLearner::new(accumulator(&device), SgdConfig::new().init(), LR, rule).unwrap();
    let stats = learner
        .train_batch(
            inputs([x], &device),
            Tensor::<2>::from_floats([[y]], &device),
        )
        .unwrap();
    // Windows [0, 1], [2, 3], [4]: at the end t of each, h_t = h_start + w (sum of its inputs),
    // L = (t + 1)/5 (h_t - y)^2, dL/dw = (t + 1)/5 * 2 (h_t - y) (sum of its inputs).
    let (mut w, mut h) = (W0, 0.0);
    for (window, end) in [(0..2, 1), (2..4, 3), (4..5, 4)] {
        let sum: f64 = x[window].iter().sum();
        let out = h + w * sum;
        let scale = (end + 1) as f64 / 5.0;
        w -= LR * scale * 2.0 * (out - y) * sum;
        h = out;
    }
    assert!((w - 0.23956).abs() < 1e-12, "hand computation: {w}");
    assert_eq!(stats.updates, 3);
    assert!(
        (weight(&learner) - w).abs() < 1e-6,
        "{} vs {w}",
        weight(&learner)
    );
}

#[test]
fn one_target_per_step_counts_every_step() {
    let device = cpu_device().autodiff();
    let rows = [[1.0, -1.0, 2.0], [0.5, 1.5, 0.0]];
    let y = [[0.5, 0.0, 1.0], [1.0, 0.5, 0.5]];
    let mut learner = sgd_learner(LossSchedule::EveryStep);
    let stats = learner
        .train_batch(
            inputs(rows, &device),
            Tensor::<2>::from_floats(y, &device).reshape([2, 3, 1]),
        )
        .unwrap();
    // L = 1/2 sum_b 1/3 sum_t (w S_bt - y_bt)^2.
    let (mut loss, mut grad) = (0.0, 0.0);
    for b in 0..2 {
        for (t, s) in running_sums(&rows[b]).into_iter().enumerate() {
            let e = W0 * s - y[b][t];
            loss += e * e / 6.0;
            grad += 2.0 * e * s / 6.0;
        }
    }
    // The reported loss is the mean over the 6 predictions, the same number here.
    assert!((stats.loss - loss).abs() < 1e-6, "{} vs {loss}", stats.loss);
    assert_eq!(stats.predictions, 6);
    assert!((weight(&learner) - (W0 - LR * grad)).abs() < 1e-6);
}

#[test]
fn per_step_classes_report_accuracy_over_every_step() {
    // Two classes scored [h, 0]: class 0 wins where h > 0.
    #[derive(Module, Debug)]
    struct TwoScores {
        inner: Accumulator,
    }
    impl StepModel for TwoScores {
        type State = Tensor<2>;
        fn init_state(&self, batch: usize, device: &Device) -> Tensor<2> {
            self.inner.init_state(batch, device)
        }
        fn step(&self, x: Tensor<2>, h: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
            let (h, state) = self.inner.step(x, h);
            (Tensor::cat(vec![h.clone(), h.zeros_like()], 1), state)
        }
    }
    let device = cpu_device();
    let model = TwoScores {
        inner: accumulator(&device),
    };
    // Running sums [1, -1, 1] and [-1, -2, 1] (times w = 0.5): predictions 0, 1, 0 and 1, 1, 0.
    let x = inputs([[1.0, -2.0, 2.0], [-1.0, -1.0, 3.0]], &device);
    let y = Tensor::<2, Int>::from_ints([[0, 1, 1], [1, 1, 0]], &device);
    let stats = evaluate(&model, [SequenceBatch::new(x, y)]).unwrap();
    // Right: (0,0) (0,1) (1,0) (1,1) (1,2) = 5 of 6.
    assert_eq!(stats.accuracy, Some(5.0 / 6.0));
}

#[test]
fn a_loss_of_ones_own_from_a_closure() {
    let device = cpu_device().autodiff();
    let rows = [[1.0, 2.0], [3.0, -1.0]];
    let y = [1.0, 0.0];
    let l1 = loss_fn(
        "l1",
        |outputs: Tensor<2>, target: &StepTarget| match target {
            StepTarget::Values(y) => (outputs - y.clone()).abs().mean_dim(1).reshape([-1]),
            StepTarget::Classes(_) => panic!("l1 takes real targets"),
        },
    );
    let mut learner = sgd_learner(LossSchedule::LastStep).with_loss(l1);
    let stats = learner
        .train_batch(
            inputs(rows, &device),
            Tensor::<2>::from_floats([[y[0]], [y[1]]], &device),
        )
        .unwrap();
    // S = [3, 2]: L = 1/2 (|1.5 - 1| + |1 - 0|) = 0.75; dL/dw = 1/2 (3 + 2) = 2.5.
    assert!((stats.loss - 0.75).abs() < 1e-6, "{}", stats.loss);
    assert!((weight(&learner) - (W0 - LR * 2.5)).abs() < 1e-6);
}

#[test]
fn padded_steps_carry_no_loss_and_the_readout_is_each_sequences_last_step() {
    let device = cpu_device().autodiff();
    // Sequence 0 has 3 steps, sequence 1 only 2 (its third is padding, a large value that
    // would show in any loss or readout that used it).
    let rows = [[1.0, 2.0, -0.5], [0.5, 0.5, 100.0]];
    let y = [1.0, 3.0];
    let batch = SequenceBatch::new(
        inputs(rows, &device),
        Tensor::<2>::from_floats([[y[0]], [y[1]]], &device),
    )
    .with_lengths(vec![3, 2]);
    let readouts = predict(&accumulator(&device), &batch).unwrap();
    assert_eq!(values(readouts), vec![W0 * 2.5, W0 * 1.0]);
    for schedule in [
        LossSchedule::LastStep,
        LossSchedule::EveryStep,
        LossSchedule::LinearRamp,
    ] {
        let mut learner = sgd_learner(schedule);
        learner.train(&batch).unwrap();
        // Each sequence's loss over its own steps, weighted for its own length; the batch
        // loss is their mean.
        let mut grad = 0.0;
        for (b, length) in [(0, 3), (1, 2)] {
            let sums = running_sums(&rows[b][..length]);
            for (t, s) in sums.into_iter().enumerate() {
                let weight = schedule.weight(t, length);
                grad += weight * 2.0 * (W0 * s - y[b]) * s / 2.0;
            }
        }
        let expected = W0 - LR * grad;
        assert!(
            (weight(&learner) - expected).abs() < 1e-6,
            "{schedule:?}: {} vs {expected}",
            weight(&learner)
        );
    }
}

/// With the real LTC network: a padded batch of two sequences of different lengths takes the
/// mean of the gradients that each sequence takes alone, and reads each out at its own end.
#[test]
fn a_masked_batch_of_the_ltc_network_matches_each_sequence_run_alone() {
    let device = cpu_device().autodiff();
    device.seed(3);
    let model = SpikingRegressorConfig::new(2, 12, 1).init(&device);
    let long = Tensor::<3>::random(
        [1, 9, 2],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let short = Tensor::<3>::random(
        [1, 5, 2],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let padded = Tensor::cat(
        vec![short.clone(), Tensor::ones([1, 4, 2], &device) * 7.0],
        1,
    );
    let both = Tensor::cat(vec![long.clone(), padded], 0);
    let y = |v: f64| Tensor::<2>::full([1, 1], v, &device);
    let learner = |model: SpikingRegressor| {
        let rule = BpttConfig::new()
            .with_clip_norm(None)
            .with_loss(LossSchedule::LinearRamp);
        SequenceLearner::new(model, SgdConfig::new().init(), 1.0, rule).unwrap()
    };
    let flat = |m: &SpikingRegressor| {
        let mut all = values(m.readout.weight.val());
        all.extend(values(m.ltc.input.weight.val()));
        all
    };
    let w0 = flat(&model);
    let alone = |x: Tensor<3>, target: f64| {
        let mut learner = learner(model.clone());
        learner.train_batch(x, y(target)).unwrap();
        flat(learner.model())
    };
    let (w_long, w_short) = (alone(long.clone(), 0.8), alone(short.clone(), 1.3));
    let mut together = learner(model.clone());
    let batch =
        SequenceBatch::new(both, Tensor::cat(vec![y(0.8), y(1.3)], 0)).with_lengths(vec![9, 5]);
    together.train(&batch).unwrap();
    let w_both = flat(together.model());
    for i in 0..w0.len() {
        // SGD at rate 1: each step is minus the gradient; the batch's is the mean.
        let expected = w0[i] - ((w0[i] - w_long[i]) + (w0[i] - w_short[i])) / 2.0;
        assert!(
            (w_both[i] - expected).abs() < 1e-5 * (1.0 + expected.abs()),
            "weight {i}: {} vs {expected}",
            w_both[i]
        );
    }
    let readouts = values(predict(&model, &batch).unwrap());
    let alone_long = values(predict(&model, &SequenceBatch::new(long, y(0.0))).unwrap());
    let alone_short = values(predict(&model, &SequenceBatch::new(short, y(0.0))).unwrap());
    assert!((readouts[0] - alone_long[0]).abs() < 1e-5);
    assert!((readouts[1] - alone_short[0]).abs() < 1e-5);
}

/// The regressor's threshold settings reach its LTC layer and are checked by it.
#[test]
fn the_regressors_threshold_settings_reach_the_layer_and_are_checked() {
    let device = cpu_device();
    let net = SpikingRegressorConfig::new(2, 4, 1)
        .with_base_threshold(0.5)
        .with_adaptation(0.0)
        .init(&device);
    assert_eq!((net.ltc.base_threshold, net.ltc.adaptation), (0.5, 0.0));
    for (config, field) in [
        (
            SpikingRegressorConfig::new(2, 4, 1).with_base_threshold(0.0),
            "LtcConfig.base_threshold",
        ),
        (
            SpikingRegressorConfig::new(2, 4, 1).with_adaptation(-1.0),
            "LtcConfig.adaptation",
        ),
    ] {
        let error = config.try_init(&device).unwrap_err();
        assert!(error.to_string().contains(field), "{error}");
    }
}

#[test]
fn bad_batches_name_what_is_wrong() {
    let device = cpu_device().autodiff();
    let x = Tensor::<3>::ones([2, 4, 1], &device);
    let mut learner = sgd_learner(LossSchedule::LastStep);
    // A mask of 3 steps for sequences of 4.
    let err = SequenceBatch::new(x.clone(), Tensor::<2>::zeros([2, 1], &device))
        .with_mask(Tensor::ones([2, 3], &device))
        .unwrap_err();
    assert!(
        err.to_string().contains("time = 4") && err.to_string().contains("[2, 3]"),
        "{err}"
    );
    // A mask with a hole.
    let err = SequenceBatch::new(x.clone(), Tensor::<2>::zeros([2, 1], &device))
        .with_mask(Tensor::from_floats(
            [[1.0, 0.0, 1.0, 0.0], [1.0; 4]],
            &device,
        ))
        .unwrap_err();
    assert!(err.to_string().contains("mask row 0"), "{err}");
    // A valid mask gives the lengths.
    let batch = SequenceBatch::new(x.clone(), Tensor::<2>::zeros([2, 1], &device))
        .with_mask(Tensor::from_floats(
            [[1.0, 1.0, 0.0, 0.0], [1.0; 4]],
            &device,
        ))
        .unwrap();
    assert_eq!(batch.lengths, Some(vec![2, 4]));
    // Lengths past the padded length, or of the wrong count.
    let long =
        SequenceBatch::new(x.clone(), Tensor::<2>::zeros([2, 1], &device)).with_lengths(vec![5, 4]);
    let err = learner.train(&long).unwrap_err().to_string();
    assert!(err.contains("sequence 0 has length 5"), "{err}");
    let few =
        SequenceBatch::new(x.clone(), Tensor::<2>::zeros([2, 1], &device)).with_lengths(vec![4]);
    assert!(
        learner
            .train(&few)
            .unwrap_err()
            .to_string()
            .contains("1 lengths")
    );
    // Real targets of the wrong batch size; per-step targets of the wrong length.
    let err = learner
        .train_batch(x.clone(), Tensor::<2>::zeros([3, 1], &device))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("[batch = 2, outputs >= 1], got [3, 1]"),
        "{err}"
    );
    let err = learner
        .train_batch(x.clone(), Tensor::<3>::zeros([2, 3, 1], &device))
        .unwrap_err();
    assert!(err.to_string().contains("time = 4"), "{err}");
    // A target with NaN.
    let err = learner
        .train_batch(
            x.clone(),
            Tensor::<2>::from_floats([[0.0], [f64::NAN]], &device),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::Batch(BatchError::NonFiniteTarget { index: 1, .. })
        ),
        "{err}"
    );
    // Classes for a regression loss, values for cross-entropy, outputs of the wrong width.
    let mut mse = sgd_learner(LossSchedule::LastStep).with_loss(MeanSquaredError);
    let err = mse
        .train_batch(x.clone(), Tensor::<1, Int>::from_ints([0, 1], &device))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("takes real-valued targets, got classes"),
        "{err}"
    );
    let mut ce = sgd_learner(LossSchedule::LastStep).with_loss(CrossEntropy);
    let err = ce
        .train_batch(x.clone(), Tensor::<2>::zeros([2, 1], &device))
        .unwrap_err();
    assert!(
        err.to_string().contains("takes class targets, got values"),
        "{err}"
    );
    let err = learner
        .train_batch(x.clone(), Tensor::<2>::zeros([2, 2], &device))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("outputs 1 values per step, but the targets have 2"),
        "{err}"
    );
    // FPTT's class-only auxiliary losses refuse real targets.
    let fptt = FpttConfig::new().with_terminal_prediction(Some(1.0));
    let mut learner =
        SequenceLearner::new(accumulator(&device), SgdConfig::new().init(), LR, fptt).unwrap();
    let err = learner
        .train_batch(x, Tensor::<2>::zeros([2, 1], &device))
        .unwrap_err();
    assert!(err.to_string().contains("one class per sequence"), "{err}");
}
