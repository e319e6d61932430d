//! SHD/SSC files (the `hdf5` feature): one written by h5py in the real layout
//! (tests/data/shd_small.h5, from tools/make_event_fixtures.py, float16 times), files the test
//! writes, and malformed ones.
#![cfg(feature = "hdf5")]

use burn_fptt::data::DataError;
use burn_fptt::data::events::EventBinning;
use burn_fptt::data::shd;
use hdf5::types::VarLenArray;

/// The HDF5 C library opens files without close-on-exec, so a child process spawned while
/// another test has a file open inherits its lock; the tests of this file take turns.
static HDF5_FILES: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    HDF5_FILES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/shd_small.h5");

/// By hand, from the float16 times h5py stored (0.004 -> 0.0040016, 0.0125 -> 0.0124969,
/// 0.0199 -> 0.0198975, 0.02 -> 0.0200043, 0.031 -> 0.0310059): 3 steps of 10 ms, channels
/// 0-349 and 350-699 merged.
#[test]
fn a_file_written_by_h5py_bins_as_worked_by_hand() {
    let _turn = one_at_a_time();
    let binning = EventBinning::new(shd::CHANNELS, 3, 0.010).with_channel_factor(350);
    let set = shd::read(FIXTURE, &binning, shd::SHD_CLASSES, None).unwrap();
    assert_eq!((set.len(), set.length(), set.features()), (3, 3, 2));
    assert_eq!(set.labels(), [7, 19, 0]);
    // Sample 0: (0, ch 0) (4.0 ms, ch 699) -> step 0; two at 12.5 ms, ch 3 -> step 1;
    // 31.0 ms -> dropped.
    assert_eq!(set.item(0).unwrap().0, [1.0, 1.0, 2.0, 0.0, 0.0, 0.0]);
    // Sample 1: 19.9 ms -> step 1, 20.004 ms -> step 2.
    assert_eq!(set.item(1).unwrap().0, [0.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
    assert_eq!(set.item(2).unwrap().0, [0.0; 6]);
    let first = shd::read(FIXTURE, &binning, shd::SHD_CLASSES, Some(1)).unwrap();
    assert_eq!(first.len(), 1);
}

fn write_file(path: &std::path::Path, times: &[&[f32]], units: &[&[u32]], labels: &[i64]) {
    let file = hdf5::File::create(path).unwrap();
    let spikes = file.create_group("spikes").unwrap();
    let t: Vec<VarLenArray<f32>> = times.iter().map(|t| VarLenArray::from_slice(t)).collect();
    let u: Vec<VarLenArray<u32>> = units.iter().map(|u| VarLenArray::from_slice(u)).collect();
    spikes
        .new_dataset::<VarLenArray<f32>>()
        .shape([t.len()])
        .create("times")
        .unwrap()
        .write_raw(&t)
        .unwrap();
    spikes
        .new_dataset::<VarLenArray<u32>>()
        .shape([u.len()])
        .create("units")
        .unwrap()
        .write_raw(&u)
        .unwrap();
    file.new_dataset::<i64>()
        .shape([labels.len()])
        .create("labels")
        .unwrap()
        .write_raw(labels)
        .unwrap();
}

#[test]
fn a_file_the_test_writes_reads_its_events() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ssc.h5");
    write_file(&path, &[&[0.5, 0.25], &[0.9]], &[&[1, 2], &[0]], &[34, 2]);
    let samples = shd::read_samples(&path, None).unwrap();
    assert_eq!(samples[0].label, 34);
    assert_eq!(samples[0].events.len(), 2);
    assert_eq!(
        (samples[0].events[1].time, samples[0].events[1].channel),
        (0.25, 2)
    );
    let binning = EventBinning::new(3, 2, 0.5);
    let set = shd::read(&path, &binning, shd::SSC_CLASSES, None).unwrap();
    // Sample 0: t 0.25 ch 2 -> step 0; t 0.5 ch 1 -> step 1.
    assert_eq!(set.item(0).unwrap().0, [0.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
}

fn error(path: &std::path::Path) -> String {
    let binning = EventBinning::new(shd::CHANNELS, 2, 0.1);
    shd::read(path, &binning, shd::SHD_CLASSES, None)
        .unwrap_err()
        .to_string()
}

#[test]
fn malformed_files_are_errors_naming_them() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.h5");
    assert!(matches!(
        shd::read_samples(&missing, None).unwrap_err(),
        DataError::Io { .. }
    ));
    let text = dir.path().join("text.h5");
    std::fs::write(&text, "not hdf5").unwrap();
    assert!(error(&text).contains("text.h5: not an HDF5 file"));
    let empty = dir.path().join("empty.h5");
    hdf5::File::create(&empty).unwrap();
    assert!(error(&empty).contains("empty.h5: no dataset `labels`"));
    let short = dir.path().join("short.h5");
    write_file(&short, &[&[0.1]], &[&[1]], &[1, 2]);
    let message = error(&short);
    assert!(
        message.contains("2 labels, 1 time arrays and 1 unit arrays"),
        "{message}"
    );
    let ragged = dir.path().join("ragged.h5");
    write_file(&ragged, &[&[0.1, 0.2]], &[&[1]], &[1]);
    assert!(error(&ragged).contains("sample 0 has 2 times but 1 units"));
    let channel = dir.path().join("channel.h5");
    write_file(&channel, &[&[0.1]], &[&[700]], &[1]);
    let message = error(&channel);
    assert!(
        message.contains("channel.h5: sample 0: invalid event 0.channel = 700"),
        "{message}"
    );
    let label = dir.path().join("label.h5");
    write_file(&label, &[&[0.1]], &[&[1]], &[20]);
    let message = error(&label);
    assert!(
        message.contains("label.h5") && message.contains("label 20"),
        "{message}"
    );
    let negative = dir.path().join("negative.h5");
    write_file(&negative, &[&[0.1]], &[&[1]], &[-1]);
    assert!(error(&negative).contains("sample 0 has label -1"));
}

/// `examples/shd.rs` trains FPTT and BPTT end to end on a small file in the SHD layout: class 0
/// fires the low channels early, class 1 the high channels late. Both learn it.
#[test]
fn the_shd_example_trains_both_learners_on_a_file_in_the_shd_layout() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two_classes.h5");
    let (mut times, mut units, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..48u32 {
        let class = i % 2;
        let jitter = (i / 2) as f32 * 1e-4;
        let t: Vec<f32> = (0..12)
            .map(|k| if class == 0 { 0.002 } else { 0.03 } + k as f32 * 1e-3 + jitter)
            .collect();
        let u: Vec<u32> = (0..12)
            .map(|k| if class == 0 { k * 7 } else { 699 - k * 7 })
            .collect();
        times.push(t);
        units.push(u);
        labels.push(i64::from(class));
    }
    let t: Vec<&[f32]> = times.iter().map(Vec::as_slice).collect();
    let u: Vec<&[u32]> = units.iter().map(Vec::as_slice).collect();
    write_file(&path, &t, &u, &labels);
    let example = example_binary();
    for learner in ["fptt", "bptt"] {
        let output = std::process::Command::new(&example)
            .args([
                "--train",
                path.to_str().unwrap(),
                "--test",
                path.to_str().unwrap(),
            ])
            .args([
                "--learner",
                learner,
                "--steps",
                "10",
                "--step-ms",
                "5",
                "--channel-factor",
                "35",
            ])
            .args([
                "--hidden", "16", "--batch", "8", "--epochs", "8", "--lr", "0.01", "--chunks", "5",
            ])
            .env("BURN_FPTT_BACKEND", "ndarray")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{learner}: {stderr}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let summary: serde_json::Value =
            serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        assert_eq!(summary["example"], "shd");
        assert_eq!(summary["steps"], 10);
        let accuracy = summary["test_accuracy"].as_f64().unwrap();
        assert!(
            accuracy >= 0.9,
            "{learner}: test accuracy {accuracy} on two separable classes"
        );
    }
    // A missing file is one error line naming it.
    let output = std::process::Command::new(&example)
        .args(["--train", "/nonexistent/shd_train.h5", "--test", "x.h5"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/shd_train.h5"));
}

fn example_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples")
        .join("shd");
    assert!(
        binary.is_file(),
        "{} is missing: `cargo test --release --features hdf5` builds it",
        binary.display()
    );
    binary
}
