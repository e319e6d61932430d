//! FPTT learns a real task as well as BPTT, and training resumes exactly from a checkpoint.

mod common;

use burn_fptt::data::SequenceSet;
use burn_fptt::data::digits::{self, DigitSequence};
use burn_fptt::prelude::*;
use common::{cpu_device, values};

/// burn's random generator is process-wide: tests that depend on its sequence run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn learner(
    method: Method,
    seed: u64,
    hidden: usize,
    lr: f64,
) -> SequenceLearner<SpikingClassifier> {
    let device = cpu_device().autodiff();
    device.seed(seed);
    let model = SpikingClassifierConfig::new(8, vec![hidden], 10).init(&device);
    SequenceLearner::new(model, AdamaxConfig::new().init(), lr, method).unwrap()
}

/// The quickstart's settings (`cargo run --release --example quickstart`, seed 42).
const EPOCHS: usize = 30;

fn digit_rows(seed: u64) -> (SequenceSet, SequenceSet) {
    digits::bundled(DigitSequence::Rows)
        .unwrap()
        .split(0.2, seed)
}

/// Over the four seeds of RESULTS.md, FPTT's mean test accuracy (two updates per digit on the
/// chunk-end loss, the quickstart's default) is within 1 point of BPTT's and no FPTT run falls
/// below 0.94. One seed alone is not a fair test: single runs move by 2-3 points with the
/// rounding of a product (359 test digits, one digit is 0.28 points), in both directions. The
/// four-seed gap measured 0.7 points, 0.42 over twelve seeds (RESULTS.md, digits ablations); a
/// broken FPTT falls far below.
#[test]
fn fptt_matches_bptt_on_the_digits() {
    let _serial = serial();
    let seeds = [42, 3, 7, 11];
    let mut mean = [0.0; 2];
    for seed in seeds {
        let (train, test) = digit_rows(seed);
        // The quickstart's FPTT: two updates per digit, each on the prediction at its chunk's
        // end (RESULTS.md: 0.7 points below BPTT on average, the default one update per row
        // with the ramp loss 2.1 points).
        let fptt = FpttConfig::new()
            .with_alpha(0.2)
            .with_updates_per_sequence(Some(2))
            .with_loss(LossSchedule::ChunkEnds);
        for (i, method) in [Method::Fptt(fptt), Method::Bptt(BpttConfig::new())]
            .into_iter()
            .enumerate()
        {
            let name = method.name();
            let mut learner = learner(method, seed, 128, 1e-2);
            let reports = fit(
                &mut learner,
                &train,
                &test,
                &FitConfig::new(EPOCHS, 32).with_seed(seed),
                |_| {},
            )
            .unwrap();
            let last = reports.last().unwrap().test.accuracy.unwrap();
            eprintln!("seed {seed}, {name}: test accuracy {last:.4} after {EPOCHS} epochs");
            if i == 0 {
                assert!(last >= 0.94, "FPTT reached only {last} with seed {seed}");
            }
            mean[i] += last / seeds.len() as f64;
        }
    }
    let [fptt, bptt] = mean;
    assert!(
        fptt >= bptt - 0.01,
        "FPTT's mean {fptt} is more than 1 point below BPTT's {bptt}"
    );
}

#[test]
fn resuming_from_a_checkpoint_repeats_the_uninterrupted_run() {
    let _serial = serial();
    let (train, test) = digit_rows(7);
    let train = train.take(160);
    let test = test.take(40);
    let method = || Method::Fptt(FpttConfig::new().with_updates_per_sequence(Some(4)));

    let mut straight = learner(method(), 9, 24, 3e-3);
    fit(
        &mut straight,
        &train,
        &test,
        &FitConfig::new(3, 32).with_seed(9),
        |_| {},
    )
    .unwrap();

    let mut first = learner(method(), 9, 24, 3e-3);
    fit(
        &mut first,
        &train,
        &test,
        &FitConfig::new(2, 32).with_seed(9),
        |_| {},
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    first.save(dir.path()).unwrap();
    let updates = first.updates();
    drop(first);

    // A differently initialised model receives the checkpoint.
    let fresh = learner(method(), 1234, 24, 3e-3);
    let fresh_model = fresh.into_model();
    let mut resumed = SequenceLearner::load(
        fresh_model,
        AdamaxConfig::new().init(),
        3e-3,
        method(),
        dir.path(),
    )
    .unwrap();
    assert_eq!(resumed.updates(), updates);
    assert_eq!(resumed.epoch(), 3);
    fit(
        &mut resumed,
        &train,
        &test,
        &FitConfig::new(1, 32).with_seed(9),
        |_| {},
    )
    .unwrap();

    let a = straight.model();
    let b = resumed.model();
    assert_eq!(
        values(a.readout.gate.weight()),
        values(b.readout.gate.weight())
    );
    assert_eq!(
        values(a.layers[0].input.weight.val()),
        values(b.layers[0].input.weight.val())
    );
    assert_eq!(
        values(a.layers[0].membrane_gate.weight()),
        values(b.layers[0].membrane_gate.weight())
    );
    // Each model keeps its own parameter ids: the resumed one those of the saved run.
    let id_a = a.layers[0].input.weight.id;
    let id_b = b.layers[0].input.weight.id;
    let (mean_a, lambda_a) = straight.rule().fptt().unwrap().averages_of(id_a).unwrap();
    let (mean_b, lambda_b) = resumed.rule().fptt().unwrap().averages_of(id_b).unwrap();
    assert_eq!(values(mean_a), values(mean_b));
    assert_eq!(values(lambda_a), values(lambda_b));
}

/// `FpttConfig::evaluate_on_average`: `fit` reports on `W̄` (the running average, read back
/// from the rule and put into a copy of the model here) while training goes on with `W`.
#[test]
fn fptt_reports_on_the_running_average_and_trains_on_the_weights() {
    let _serial = serial();
    let (train, test) = digit_rows(7);
    let (train, test) = (train.take(96), test.take(64));
    let config = FpttConfig::new()
        .with_updates_per_sequence(Some(4))
        .with_average_at_epoch_end(false);
    let fit_config = FitConfig::new(2, 32).with_seed(5);
    // Fresh states from zero membranes, so that the evaluations below draw no randomness and
    // repeat fit's exactly.
    let make = |config: FpttConfig| {
        let device = cpu_device().autodiff();
        device.seed(5);
        let mut model = SpikingClassifierConfig::new(8, vec![16], 10).init(&device);
        model.layers[0].initial_membrane = InitialMembrane::Zeros;
        SequenceLearner::new(
            model,
            AdamaxConfig::new().init(),
            1e-2,
            Method::Fptt(config),
        )
        .unwrap()
    };
    let mut on_weights = make(config.clone());
    let mut on_average = make(config.with_evaluate_on_average(true));
    let reported_w = fit(&mut on_weights, &train, &test, &fit_config, |_| {}).unwrap();
    let reported_avg = fit(&mut on_average, &train, &test, &fit_config, |_| {}).unwrap();

    // Reporting on W̄ leaves training alone: the same weights after two epochs.
    let (a, b) = (on_weights.model(), on_average.model());
    assert_eq!(
        values(a.layers[0].input.weight.val()),
        values(b.layers[0].input.weight.val())
    );
    let device = cpu_device();
    let test_loss = |model: &SpikingClassifier| {
        evaluate(model, test.batches(256, None, &device))
            .unwrap()
            .loss
    };
    let averaged = on_average
        .rule()
        .fptt()
        .unwrap()
        .average_into(on_average.model().clone());
    let last = |reports: &[EpochReport]| reports.last().unwrap().test.loss;
    assert_eq!(last(&reported_w), test_loss(on_weights.model()));
    assert_eq!(last(&reported_avg), test_loss(&averaged));
    assert_ne!(last(&reported_avg), last(&reported_w));
}

#[test]
fn digits_load_and_split_deterministically() {
    let set = digits::bundled(DigitSequence::Pixels).unwrap();
    assert_eq!(
        (set.len(), set.length(), set.features(), set.classes()),
        (1797, 64, 1, 10)
    );
    // The first image of the file is a 0 (first row of digits.csv.gz).
    assert_eq!(set.labels()[0], 0);
    let (a, _) = set.split(0.2, 5);
    let (b, test) = set.split(0.2, 5);
    assert_eq!(a.labels(), b.labels());
    assert_eq!(test.len(), 359);
    let device = cpu_device();
    let (x, y) = set.batches(4, None, &device).next().unwrap();
    // Row 1 of the file: 0,0,5,13,... scaled by 1/16.
    let first: Vec<f64> = values(x).into_iter().take(4).collect();
    assert_eq!(first, vec![0.0, 0.0, 5.0 / 16.0, 13.0 / 16.0]);
    assert_eq!(values(y.float()), vec![0.0, 1.0, 2.0, 3.0]);
}

#[test]
fn the_same_seed_gives_the_same_weights() {
    let _serial = serial();
    let (train, test) = digit_rows(5);
    let (train, test) = (train.take(96), test.take(32));
    let run = || {
        let mut learner = learner(Method::Fptt(FpttConfig::new()), 21, 16, 3e-3);
        fit(
            &mut learner,
            &train,
            &test,
            &FitConfig::new(2, 32).with_seed(21),
            |_| {},
        )
        .unwrap();
        values(learner.model().layers[0].adaptation_gate.weight())
    };
    let first = run();
    assert_eq!(first, run());
    let mut other = learner(Method::Fptt(FpttConfig::new()), 22, 16, 3e-3);
    fit(
        &mut other,
        &train,
        &test,
        &FitConfig::new(2, 32).with_seed(21),
        |_| {},
    )
    .unwrap();
    assert_ne!(
        first,
        values(other.model().layers[0].adaptation_gate.weight())
    );
}

/// Records what `fit_with` reports.
#[derive(Default)]
struct Recorder {
    batches: Vec<(usize, usize, Option<usize>, usize)>,
    epochs: Vec<usize>,
}

impl FitObserver for Recorder {
    fn on_batch(&mut self, progress: &BatchProgress) {
        self.batches.push((
            progress.epoch,
            progress.batch,
            progress.batches,
            progress.stats.updates,
        ));
    }

    fn on_epoch(&mut self, report: &EpochReport) {
        self.epochs.push(report.epoch);
    }
}

/// 40 training digits in batches of 16 are 3 batches an epoch (16, 16, 8); FPTT with two
/// updates per digit takes 2 updates a batch. Two epochs: six batch reports, then two epochs.
#[test]
fn fit_with_reports_every_batch_and_every_epoch() {
    let _serial = serial();
    let (train, test) = digit_rows(1);
    let (train, test) = (train.take(40), test.take(20));
    let rule = FpttConfig::new().with_updates_per_sequence(Some(2));
    let mut learner = learner(Method::Fptt(rule), 1, 8, 3e-3);
    let mut recorder = Recorder::default();
    let reports = fit_with(
        &mut learner,
        &train,
        &test,
        &FitConfig::new(2, 16),
        &mut recorder,
    )
    .unwrap();
    let expected: Vec<_> = [1, 2]
        .into_iter()
        .flat_map(|epoch| (1..=3).map(move |batch| (epoch, batch, Some(3), 2)))
        .collect();
    assert_eq!(recorder.batches, expected);
    assert_eq!(recorder.epochs, vec![1, 2]);
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1].train.updates, 6);
}

/// Zero epochs would report the test accuracy of an untrained model as a result.
#[test]
fn fit_refuses_zero_epochs() {
    let (train, test) = digit_rows(1);
    let mut learner = learner(Method::Fptt(FpttConfig::new()), 1, 8, 3e-3);
    let err = fit(&mut learner, &train, &test, &FitConfig::new(0, 16), |_| {}).unwrap_err();
    match err {
        TrainError::Config(config) => assert_eq!(config.field(), "FitConfig.epochs"),
        other => panic!("expected a config error, got {other}"),
    }
}
