//! Event data: binning worked by hand, N-MNIST's binary format written by the tests, and every
//! malformed input.

use std::path::Path;

use burn_fptt::data::DataError;
use burn_fptt::data::events::{Event, EventBinning, EventSample};
use burn_fptt::data::nmnist::{self, NmnistEvent};

fn event(time: f64, channel: usize) -> Event {
    Event { time, channel }
}

/// 3 steps of 10 ms over 6 channels merged in pairs: by hand, step = floor(t / 10 ms), feature
/// = channel / 2; 30 ms and later dropped.
#[test]
fn binning_counts_events_per_step_and_channel_group() {
    let binning = EventBinning::new(6, 3, 0.010).with_channel_factor(2);
    assert_eq!(binning.features(), 3);
    let events = [
        event(0.0, 0),
        event(0.0099, 1),
        event(0.010, 5),
        event(0.025, 2),
        event(0.025, 3),
        event(0.025, 3),
        event(0.030, 0),
        event(1.5, 4),
    ];
    #[rustfmt::skip]
    let expected = vec![
        2.0, 0.0, 0.0,
        0.0, 0.0, 1.0,
        0.0, 3.0, 0.0,
    ];
    assert_eq!(binning.bin(&events).unwrap(), expected);
    let binary = binning.with_binary(true).bin(&events).unwrap();
    assert_eq!(
        binary,
        expected
            .iter()
            .map(|&v| f32::from(v > 0.0))
            .collect::<Vec<_>>()
    );
    // 7 channels in pairs: 4 features, the last holding channel 6 alone.
    let odd = EventBinning::new(7, 1, 1.0).with_channel_factor(2);
    assert_eq!(odd.bin(&[event(0.5, 6)]).unwrap(), [0.0, 0.0, 0.0, 1.0]);
}

#[test]
fn samples_become_a_sequence_set() {
    let binning = EventBinning::new(4, 2, 0.5);
    let samples = [
        EventSample {
            events: vec![event(0.1, 3)],
            label: 1,
        },
        EventSample {
            events: vec![event(0.7, 0), event(0.8, 0)],
            label: 0,
        },
    ];
    let set = binning.to_sequences(&samples, 2, Path::new("mem")).unwrap();
    assert_eq!(
        (set.len(), set.length(), set.features(), set.classes()),
        (2, 2, 4, 2)
    );
    assert_eq!(
        set.item(0).unwrap(),
        (&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0][..], 1)
    );
    assert_eq!(
        set.item(1).unwrap(),
        (&[0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0][..], 0)
    );
}

#[test]
fn bad_binnings_and_events_are_errors_naming_them() {
    for (binning, field) in [
        (EventBinning::new(0, 2, 0.1), "EventBinning.channels"),
        (EventBinning::new(4, 0, 0.1), "EventBinning.steps"),
        (EventBinning::new(4, 2, 0.0), "EventBinning.step_length"),
        (
            EventBinning::new(4, 2, f64::NAN),
            "EventBinning.step_length",
        ),
        (
            EventBinning::new(4, 2, 0.1).with_channel_factor(0),
            "EventBinning.channel_factor",
        ),
    ] {
        assert_eq!(binning.bin(&[]).unwrap_err().field(), field);
    }
    let binning = EventBinning::new(4, 2, 0.1);
    let err = binning.bin(&[event(0.0, 1), event(0.0, 4)]).unwrap_err();
    assert_eq!(err.field(), "event 1.channel");
    assert!(err.to_string().contains("4 channels"), "{err}");
    assert_eq!(
        binning.bin(&[event(-0.1, 0)]).unwrap_err().field(),
        "event 0.time"
    );
    let samples = [EventSample {
        events: vec![event(0.0, 9)],
        label: 0,
    }];
    let err = binning
        .to_sequences(&samples, 2, Path::new("rec.h5"))
        .unwrap_err();
    assert!(matches!(err, DataError::Format { .. }));
    assert!(
        err.to_string()
            .contains("rec.h5: sample 0: invalid event 0.channel"),
        "{err}"
    );
    let samples = [EventSample {
        events: vec![],
        label: 3,
    }];
    assert!(matches!(
        binning
            .to_sequences(&samples, 2, Path::new("x"))
            .unwrap_err(),
        DataError::Label { label: 3, .. }
    ));
}

/// The 5-byte encoding by hand: x, y, polarity in bit 7 of byte 2 with time bits 22-16 below
/// it, then time bits 15-0.
fn encode(x: u8, y: u8, on: bool, time_us: u32) -> [u8; 5] {
    [
        x,
        y,
        (u8::from(on) << 7) | ((time_us >> 16) & 0x7f) as u8,
        (time_us >> 8) as u8,
        time_us as u8,
    ]
}

#[test]
fn an_nmnist_file_reads_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("00001.bin");
    // Byte by byte: x = 33, y = 0, ON, t = 0x12_3456 µs = 1 193 046 µs.
    let mut bytes = vec![33, 0, 0x80 | 0x12, 0x34, 0x56];
    bytes.extend(encode(5, 17, false, 300_000));
    std::fs::write(&path, &bytes).unwrap();
    let events = nmnist::read_file(&path).unwrap();
    assert_eq!(
        events,
        [
            NmnistEvent {
                x: 33,
                y: 0,
                on: true,
                time_us: 1_193_046
            },
            NmnistEvent {
                x: 5,
                y: 17,
                on: false,
                time_us: 300_000
            },
        ]
    );
    // Flattened as [polarity, y, x] on the 34 x 34 sensor: ON at (0, 33) is 34*34 + 33.
    assert_eq!(events[0].event(1), event(1.193046, 34 * 34 + 33));
    // Halved: a 17 x 17 sensor, OFF at (y 8, x 2).
    assert_eq!(events[1].event(2), event(0.3, 8 * 17 + 2));
    assert_eq!(nmnist::channels(1), 2312);
    assert_eq!(nmnist::channels(2), 578);
}

#[test]
fn an_nmnist_split_folder_becomes_a_sequence_set() {
    let dir = tempfile::tempdir().unwrap();
    let write = |digit: u8, name: &str, events: &[[u8; 5]]| {
        let folder = dir.path().join(digit.to_string());
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(name), events.concat()).unwrap();
    };
    write(
        3,
        "a.bin",
        &[encode(0, 0, false, 1_000), encode(33, 33, true, 150_000)],
    );
    write(3, "b.bin", &[encode(1, 0, false, 99_999)]);
    write(8, "c.bin", &[]);
    std::fs::write(dir.path().join("3").join("notes.txt"), "ignored").unwrap();
    // Spatial factor 17: a 2 x 2 sensor, 8 channels; 2 steps of 100 ms.
    let binning = EventBinning::new(nmnist::channels(17), 2, 0.1);
    let set = nmnist::read_split(dir.path(), 17, &binning, None).unwrap();
    assert_eq!((set.len(), set.features(), set.classes()), (3, 8, 10));
    assert_eq!(set.labels(), [3, 3, 8]);
    // a: OFF (0, 0) at 1 ms -> step 0, channel 0; ON (1, 1) at 150 ms -> step 1, channel 4 + 3.
    let mut a = vec![0.0; 16];
    a[0] = 1.0;
    a[8 + 7] = 1.0;
    assert_eq!(set.item(0).unwrap().0, a);
    let limited = nmnist::read_split(dir.path(), 17, &binning, Some(1)).unwrap();
    assert_eq!(limited.labels(), [3, 8]);
}

#[test]
fn malformed_nmnist_input_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("t.bin");
    std::fs::write(&truncated, [1, 2, 3, 4, 5, 6, 7]).unwrap();
    let err = nmnist::read_file(&truncated).unwrap_err().to_string();
    assert!(err.contains("t.bin") && err.contains("7 bytes"), "{err}");
    let outside = dir.path().join("o.bin");
    std::fs::write(&outside, encode(34, 0, true, 0)).unwrap();
    let err = nmnist::read_file(&outside).unwrap_err().to_string();
    assert!(err.contains("o.bin") && err.contains("x = 34"), "{err}");
    let err = nmnist::read_file(dir.path().join("none.bin")).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }));
    let binning = EventBinning::new(nmnist::channels(1), 2, 0.1);
    let err = nmnist::read_split(dir.path(), 1, &binning, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no digit folders"), "{err}");
    let err = nmnist::read_split(dir.path(), 2, &binning, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("578 channels at spatial factor 2"), "{err}");
}
