//! SHD/SSC files (the `hdf5` feature): one written by h5py in the real layout
//! (tests/data/shd_small.h5, from tools/make_event_fixtures.py, float16 times), files the test
//! writes, and malformed ones.
#![cfg(feature = "hdf5")]

use burn_fptt::data::DataError;
use burn_fptt::data::events::EventBinning;
use burn_fptt::data::shd;
use hdf5::types::VarLenArray;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/shd_small.h5");

/// By hand, from the float16 times h5py stored (0.004 -> 0.0040016, 0.0125 -> 0.0124969,
/// 0.0199 -> 0.0198975, 0.02 -> 0.0200043, 0.031 -> 0.0310059): 3 steps of 10 ms, channels
/// 0-349 and 350-699 merged.
#[test]
fn a_file_written_by_h5py_bins_as_worked_by_hand() {
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
    assert!(error(&short).contains("2 labels, 1 time arrays and 1 unit arrays"));
    let ragged = dir.path().join("ragged.h5");
    write_file(&ragged, &[&[0.1, 0.2]], &[&[1]], &[1]);
    assert!(error(&ragged).contains("sample 0 has 2 times but 1 units"));
    let channel = dir.path().join("channel.h5");
    write_file(&channel, &[&[0.1]], &[&[700]], &[1]);
    assert!(error(&channel).contains("channel.h5: sample 0: invalid event 0.channel = 700"));
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
