//! Checkpoints survive interrupted saves, numerical faults stop training with a clear error, a
//! long online run stays finite in constant memory, and the step benchmark's split of a step adds
//! up and refuses a mode it does not apply to.

mod common;

use burn::prelude::*;
use burn_fptt::memory::peak_rss_mib;
use burn_fptt::prelude::*;
use common::{cpu_device, values};

fn small_learner(method: Method) -> SequenceLearner<SpikingClassifier> {
    let device = cpu_device().autodiff();
    device.seed(4);
    let model = SpikingClassifierConfig::new(2, vec![6], 3).init(&device);
    SequenceLearner::new(model, AdamaxConfig::new().init(), 1e-2, method).unwrap()
}

/// Resumes an FPTT learner from `dir` into a freshly built model.
fn load_fptt(dir: &std::path::Path) -> SequenceLearner<SpikingClassifier> {
    SequenceLearner::load(
        small_learner(Method::Fptt(FpttConfig::new())).into_model(),
        AdamaxConfig::new().init(),
        1e-2,
        Method::Fptt(FpttConfig::new()),
        dir,
    )
    .unwrap()
}

fn batch(device: &Device) -> (Tensor<3>, Tensor<1, Int>) {
    let x = Tensor::<3>::random(
        [4, 5, 2],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        device,
    );
    (x, Tensor::from_ints([0, 1, 2, 0], device))
}

#[test]
fn a_save_interrupted_between_its_renames_keeps_the_previous_checkpoint() {
    let device = cpu_device().autodiff();
    let mut learner = small_learner(Method::Fptt(FpttConfig::new()));
    let (x, y) = batch(&device);
    learner.train_batch(x.clone(), y.clone()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("checkpoint");
    learner.save(&dir).unwrap();
    let saved = values(learner.model().readout.gate.weight());
    // Saving again over an existing checkpoint works, and leaves no side directories.
    learner.save(&dir).unwrap();
    let mut entries: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries, vec!["checkpoint"]);
    // A process killed after moving the old checkpoint aside, before the new one took its place.
    std::fs::rename(&dir, root.path().join("checkpoint.previous")).unwrap();
    std::fs::create_dir_all(root.path().join("checkpoint.partial")).unwrap();
    let resumed = load_fptt(&dir);
    assert_eq!(values(resumed.model().readout.gate.weight()), saved);
    // The next save cleans up both leftovers.
    resumed.save(&dir).unwrap();
    assert!(dir.join("progress.json").is_file());
    assert!(!root.path().join("checkpoint.partial").exists());
    assert!(!root.path().join("checkpoint.previous").exists());
}

#[test]
fn a_checkpoint_keeps_the_class_distributions_and_resuming_repeats_the_run() {
    let device = cpu_device().autodiff();
    let method = || Method::Fptt(FpttConfig::new().with_distribution_targets(Some(1.0)));
    let mut learner = small_learner(method());
    device.seed(9);
    let first = batch(&device);
    let second = batch(&device);
    learner.train_batch(first.0, first.1).unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ck");
    learner.save(&dir).unwrap();
    let recorded = learner.rule().class_distributions().unwrap().clone();
    assert_eq!((recorded.classes(), recorded.len()), (3, 4));
    let mut resumed = SequenceLearner::load(
        small_learner(method()).into_model(),
        AdamaxConfig::new().init(),
        1e-2,
        method(),
        &dir,
    )
    .unwrap();
    let loaded = resumed.rule().class_distributions().unwrap();
    for t in 0..recorded.len() {
        assert_eq!(
            values(loaded.step(t).unwrap().clone()),
            values(recorded.step(t).unwrap().clone()),
            "step {t}"
        );
    }
    // Initial membranes are random: the same seed before each run of the second batch.
    device.seed(11);
    learner
        .train_batch(second.0.clone(), second.1.clone())
        .unwrap();
    device.seed(11);
    resumed.train_batch(second.0, second.1).unwrap();
    assert_eq!(
        values(resumed.model().readout.gate.weight()),
        values(learner.model().readout.gate.weight())
    );
}

#[test]
fn loading_checks_the_method_and_the_files() {
    let learner = small_learner(Method::Fptt(FpttConfig::new()));
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ck");
    learner.save(&dir).unwrap();
    let load = |method: Method, dir: &std::path::Path| {
        SequenceLearner::load(
            small_learner(Method::Bptt(BpttConfig::new())).into_model(),
            AdamaxConfig::new().init(),
            1e-2,
            method,
            dir,
        )
    };
    let err = load(Method::Bptt(BpttConfig::new()), &dir)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("written by fptt, not bptt"), "{err}");
    let err = load(Method::Fptt(FpttConfig::new()), &root.path().join("absent"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("absent") && err.contains("progress.json"),
        "{err}"
    );
    std::fs::write(dir.join("model.bpk"), b"not a record").unwrap();
    let err = load(Method::Fptt(FpttConfig::new()), &dir).err();
    assert!(err.is_some(), "a corrupt model file must not load");
}

#[test]
fn a_nan_loss_stops_training_naming_epoch_and_batch() {
    let device = cpu_device().autodiff();
    let mut learner = small_learner(Method::Fptt(FpttConfig::new()));
    let (x, y) = batch(&device);
    learner.train_batch(x.clone(), y.clone()).unwrap();
    let poisoned = x.clone() * f64::NAN;
    let err = learner.train_batch(poisoned, y).unwrap_err();
    match &err {
        TrainError::NonFinite { epoch, batch, .. } => assert_eq!((*epoch, *batch), (1, 2)),
        other => panic!("expected NonFinite, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("epoch 1") && text.contains("batch 2") && text.contains("NaN"),
        "{text}"
    );
}

#[test]
fn targets_must_match_the_batch() {
    let device = cpu_device().autodiff();
    let mut learner = small_learner(Method::Bptt(BpttConfig::new()));
    let (x, _) = batch(&device);
    let err = learner
        .train_batch(x, Tensor::<1, Int>::from_ints([0, 1], &device))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("targets must be [batch = 4], got [2]"),
        "{err}"
    );
}

/// 100 000 online FPTT updates of a small LTC network on one stream: every value stays finite
/// and memory does not grow.
#[test]
fn a_long_online_run_stays_finite_in_constant_memory() {
    let device = cpu_device().autodiff();
    device.seed(8);
    let mut model = SpikingClassifierConfig::new(1, vec![8], 2).init(&device);
    let mut fptt = Fptt::new(FpttConfig::new(), &model).unwrap();
    let mut optim = AdamaxConfig::new().init();
    let mut state = model.init_state(1, &device);
    let steps = 100_000;
    let mut memory_at_10k = 0.0;
    for t in 0..steps {
        // A square wave whose phase is the class.
        let label = (t / 500) % 2;
        let x = Tensor::<2>::full(
            [1, 1],
            if (t / 25) % 2 == label { 1.0 } else { 0.0 },
            &device,
        );
        let (scores, next) = model.step(x, state);
        let target = Tensor::<1, Int>::from_ints([label as i64], &device);
        model = fptt.update(model, cross_entropy(scores, target), &mut optim, 1e-3);
        state = next.detach();
        if t == 10_000 {
            memory_at_10k = peak_rss_mib().unwrap_or(0.0);
        }
    }
    let (layers, readout) = &state;
    assert!(
        values(layers[0].membrane.clone())
            .iter()
            .all(|v| v.is_finite())
    );
    assert!(
        values(layers[0].adaptation.clone())
            .iter()
            .all(|v| v.is_finite())
    );
    assert!(
        values(readout.potential.clone())
            .iter()
            .all(|v| v.is_finite())
    );
    for weight in [
        model.layers[0].membrane_gate.weight(),
        model.readout.gate.weight(),
    ] {
        assert!(values(weight).iter().all(|v| v.is_finite()));
    }
    let memory_at_end = peak_rss_mib().unwrap_or(0.0);
    assert!(
        memory_at_end <= memory_at_10k * 1.05 + 2.0,
        "peak memory grew from {memory_at_10k:.1} MiB at step 10 000 to {memory_at_end:.1} MiB at step {steps}"
    );
}

/// The example `name`, to run on this build's CPU backend.
fn cpu_example(name: &str) -> std::process::Command {
    let mut command = std::process::Command::new(common::example_binary(name));
    command.env(
        "BURN_FPTT_BACKEND",
        if cfg!(feature = "ndarray") {
            "ndarray"
        } else {
            "flex"
        },
    );
    command
}

/// The JSON line an example printed last, once it exited successfully.
fn last_json(output: &std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

fn quickstart(args: &[&str]) -> serde_json::Value {
    let output = cpu_example("quickstart")
        .args(["--hidden", "16", "--epochs", "4", "--seed", "5"])
        .args(args)
        .output()
        .unwrap();
    last_json(&output)
}

/// A training process killed with SIGKILL leaves a checkpoint from which `--resume` finishes the
/// run with the result of an uninterrupted one.
#[test]
fn sigkill_during_training_then_resume_gives_the_uninterrupted_result() {
    let straight = quickstart(&[]);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ck");
    let dir_arg = dir.to_str().unwrap();
    let mut child = cpu_example("quickstart")
        .args([
            "--hidden",
            "16",
            "--epochs",
            "4",
            "--seed",
            "5",
            "--checkpoint",
            dir_arg,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as the first checkpoint exists (somewhere in epoch 2).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !dir.join("progress.json").is_file() {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint after 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the run finished before it could be killed"
    );
    let resumed = quickstart(&["--checkpoint", dir_arg, "--resume"]);
    assert_eq!(resumed["test_accuracy"], straight["test_accuracy"]);
    assert_eq!(resumed["test_loss"], straight["test_loss"]);
}

#[test]
fn data_and_batch_settings_are_validated() {
    let device = cpu_device().autodiff();
    let set =
        burn_fptt::data::SequenceSet::new(vec![0.0; 3 * 5 * 2], vec![0, 1, 2], 5, 2, 3).unwrap();
    let mut learner = small_learner(Method::Fptt(FpttConfig::new()));
    let err = fit(
        &mut learner,
        &set,
        &set,
        &FitConfig::new(1, 8).with_seed(0),
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("batch size = 8") && err.contains("3 samples"),
        "{err}"
    );
    let err = fit(
        &mut learner,
        &set,
        &set,
        &FitConfig::new(1, 0).with_seed(0),
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("batch size = 0"), "{err}");
    let empty = set.take(0);
    let err = fit(
        &mut learner,
        &empty,
        &set,
        &FitConfig::new(1, 1).with_seed(0),
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("training set") && err.contains("no samples"),
        "{err}"
    );
    let err = burn_fptt::data::SequenceSet::new(vec![0.0; 5], vec![0], 5, 2, 3)
        .unwrap_err()
        .to_string();
    assert!(err.contains("need 10 input values, got 5"), "{err}");
    let err = burn_fptt::data::SequenceSet::new(vec![0.0; 10], vec![7], 5, 2, 3)
        .unwrap_err()
        .to_string();
    assert!(err.contains("label 7"), "{err}");
    let _ = device;
}

/// A NaN in the second epoch stops `fit` with an error; the checkpoint of the first epoch is
/// still there and loads.
#[test]
fn after_a_nan_the_last_good_checkpoint_loads() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ck");
    let good = burn_fptt::data::SequenceSet::new(
        (0..8 * 5 * 2).map(|i| (i % 7) as f32 / 7.0).collect(),
        vec![0, 1, 2, 0, 1, 2, 0, 1],
        5,
        2,
        3,
    )
    .unwrap();
    let mut learner = small_learner(Method::Fptt(FpttConfig::new())).with_checkpoints(&dir);
    fit(
        &mut learner,
        &good,
        &good,
        &FitConfig::new(1, 4).with_seed(0),
        |_| {},
    )
    .unwrap();
    let saved = values(learner.model().readout.gate.weight());
    let poisoned = burn_fptt::data::SequenceSet::new(
        vec![f32::NAN; 8 * 5 * 2],
        good.labels().to_vec(),
        5,
        2,
        3,
    )
    .unwrap();
    let err = fit(
        &mut learner,
        &poisoned,
        &good,
        &FitConfig::new(1, 4).with_seed(0),
        |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("epoch 2"), "{err}");
    let loaded = load_fptt(&dir);
    assert_eq!(values(loaded.model().readout.gate.weight()), saved);
    assert_eq!(loaded.epoch(), 2);
}

fn bench_step(args: &[&str]) -> std::process::Output {
    cpu_example("bench_step")
        .args([
            "--batch",
            "4",
            "--hidden",
            "8",
            "--steps",
            "5",
            "--threads",
            "1",
        ])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn bench_step_phases_add_up_to_at_most_the_step() {
    let json = last_json(&bench_step(&["--mode", "fptt", "--phases", "--products"]));
    let phases = &json["phases_ms_per_step"];
    let parts = [
        "forward",
        "backward",
        "regularise",
        "optimizer",
        "after_step",
    ];
    let sum: f64 = parts
        .iter()
        .map(|part| {
            let ms = phases[part]
                .as_f64()
                .unwrap_or_else(|| panic!("no {part} in {phases}"));
            assert!(ms > 0.0, "{part}: {ms} ms");
            ms
        })
        .sum();
    // The phases leave out only each step's input draw; both figures are rounded to 1e-4 ms.
    let step = json["ms_per_step"].as_f64().unwrap();
    assert!(sum <= step + 6e-4, "phases {sum} ms > step {step} ms");
    assert!(json["products_ms_per_step"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_step_refuses_phases_for_bptt() {
    let output = bench_step(&["--mode", "bptt", "--phases"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--phases") && stderr.contains("--mode bptt"),
        "{stderr}"
    );
}
