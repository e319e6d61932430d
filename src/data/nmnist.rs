//! N-MNIST (Orchard et al. 2015): MNIST digits recorded by an event camera (34 × 34 pixels, two
//! polarities), one binary file per sample, 5 bytes per event:
//!
//! ```text
//! byte 0: x    byte 1: y    byte 2: polarity (bit 7), time bits 22-16    bytes 3-4: time bits 15-0
//! ```
//!
//! Time is in microseconds. The data set unpacks to `Train/<digit>/*.bin` and
//! `Test/<digit>/*.bin` (as tonic's `NMNIST` reads it); it cannot be downloaded on machines
//! without network access: fetch it where you can and pass the folder.

use std::path::Path;

use super::DataError;
use super::events::{Event, EventBinning, EventSample};

/// Width and height of the N-MNIST sensor.
pub const SENSOR: usize = 34;

/// One raw N-MNIST event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NmnistEvent {
    /// Column, `0..34`.
    pub x: u8,
    /// Row, `0..34`.
    pub y: u8,
    /// `true` for an ON event.
    pub on: bool,
    /// Time in microseconds.
    pub time_us: u32,
}

impl NmnistEvent {
    /// The event as tonic flattens a frame `[polarity, y, x]`, with `x` and `y` divided by
    /// `spatial_factor` on a sensor of `ceil(34 / spatial_factor)` pixels a side.
    pub fn event(&self, spatial_factor: usize) -> Event {
        let side = SENSOR.div_ceil(spatial_factor);
        let (x, y) = (
            self.x as usize / spatial_factor,
            self.y as usize / spatial_factor,
        );
        Event {
            time: f64::from(self.time_us) * 1e-6,
            channel: (usize::from(self.on) * side + y) * side + x,
        }
    }
}

/// Channels of the sensor after dividing `x` and `y` by `spatial_factor`: `2 · ceil(34/f)²`.
pub fn channels(spatial_factor: usize) -> usize {
    2 * SENSOR.div_ceil(spatial_factor).pow(2)
}

/// The events of one N-MNIST file.
///
/// # Errors
///
/// [`DataError::Io`] when the file cannot be read; [`DataError::Format`] naming the file when
/// its length is not a multiple of 5 bytes (truncated) or an event lies outside the 34 × 34
/// sensor.
pub fn read_file(path: impl AsRef<Path>) -> Result<Vec<NmnistEvent>, DataError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.len() % 5 != 0 {
        return Err(DataError::Format {
            path: path.to_path_buf(),
            reason: format!(
                "{} bytes is not a whole number of 5-byte events (truncated?)",
                bytes.len()
            ),
        });
    }
    bytes
        .chunks_exact(5)
        .enumerate()
        .map(|(i, b)| {
            let event = NmnistEvent {
                x: b[0],
                y: b[1],
                on: b[2] & 0x80 != 0,
                time_us: (u32::from(b[2] & 0x7f) << 16) | (u32::from(b[3]) << 8) | u32::from(b[4]),
            };
            if usize::from(event.x) >= SENSOR || usize::from(event.y) >= SENSOR {
                return Err(DataError::Format {
                    path: path.to_path_buf(),
                    reason: format!(
                        "event {i} at x = {}, y = {} is outside the {SENSOR} x {SENSOR} sensor",
                        event.x, event.y
                    ),
                });
            }
            Ok(event)
        })
        .collect()
}

/// Every sample of one split folder (`Train` or `Test`: a subfolder `0`..`9` per digit, holding
/// `.bin` files), at most `limit` per digit (`None`: all), binned by `binning` after dividing
/// the coordinates by `spatial_factor`. `binning.channels` must be
/// [`channels(spatial_factor)`](channels).
///
/// # Errors
///
/// [`DataError::Io`] when the folder cannot be listed or a file read; [`DataError::Format`]
/// naming the file for a malformed one, or the folder when it has no digit subfolders or
/// `binning` does not fit the sensor.
pub fn read_split(
    folder: impl AsRef<Path>,
    spatial_factor: usize,
    binning: &EventBinning,
    limit: Option<usize>,
) -> Result<super::SequenceSet, DataError> {
    let folder = folder.as_ref();
    let format = |reason: String| DataError::Format {
        path: folder.to_path_buf(),
        reason,
    };
    if spatial_factor == 0 || binning.channels != channels(spatial_factor) {
        return Err(format(format!(
            "binning.channels = {} but the sensor has {} channels at spatial factor {spatial_factor}",
            binning.channels,
            channels(spatial_factor.max(1))
        )));
    }
    let mut samples = Vec::new();
    for digit in 0..10u8 {
        let dir = folder.join(digit.to_string());
        if !dir.is_dir() {
            continue;
        }
        let mut files: Vec<_> = list(&dir)?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "bin"))
            .collect();
        files.sort();
        files.truncate(limit.unwrap_or(usize::MAX));
        for file in files {
            let events = read_file(&file)?;
            samples.push(EventSample {
                events: events.iter().map(|e| e.event(spatial_factor)).collect(),
                label: digit,
            });
        }
    }
    if samples.is_empty() {
        return Err(format("no digit folders 0..9 with .bin files".into()));
    }
    binning.to_sequences(&samples, 10, folder)
}

fn list(dir: &Path) -> Result<Vec<std::path::PathBuf>, DataError> {
    let io = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()).map_err(io))
        .collect()
}
