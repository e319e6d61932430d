//! The Spiking Heidelberg Digits and Spiking Speech Commands (Cramer et al. 2020), as HDF5
//! files (the `hdf5` feature): `spikes/times` (seconds) and `spikes/units` (channel `0..700`),
//! one variable-length array per sample, and `labels`. SHD has 20 classes, SSC 35.
//!
//! The files (`shd_train.h5`, `shd_test.h5`, `ssc_*.h5`) cannot be downloaded on machines
//! without network access: fetch them from the Heidelberg group's site (or with tonic) where you
//! can and pass their paths.

use std::path::Path;

use hdf5::types::VarLenArray;

use super::events::{Event, EventBinning, EventSample};
use super::{DataError, SequenceSet};

/// Channels of the SHD and SSC cochlea model.
pub const CHANNELS: usize = 700;

/// Classes of SHD (English and German digits 0–9).
pub const SHD_CLASSES: usize = 20;

/// Classes of SSC.
pub const SSC_CLASSES: usize = 35;

/// The samples of one SHD or SSC file, at most `limit` (`None`: all).
///
/// # Errors
///
/// [`DataError::Format`] naming the file when it is not HDF5, lacks `spikes/times`,
/// `spikes/units` or `labels`, their lengths disagree, a sample's times and units differ in
/// length, or a label does not fit a byte.
pub fn read_samples(
    path: impl AsRef<Path>,
    limit: Option<usize>,
) -> Result<Vec<EventSample>, DataError> {
    let path = path.as_ref();
    let format = |reason: String| DataError::Format {
        path: path.to_path_buf(),
        reason,
    };
    if !path.exists() {
        return Err(DataError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let file = hdf5::File::open(path).map_err(|err| format(format!("not an HDF5 file: {err}")))?;
    let dataset = |name: &str| {
        file.dataset(name)
            .map_err(|_| format(format!("no dataset `{name}`: not an SHD/SSC file")))
    };
    let labels = dataset("labels")?
        .read_raw::<i64>()
        .map_err(|err| format(format!("labels: {err}")))?;
    let times = dataset("spikes/times")?
        .read_raw::<VarLenArray<f64>>()
        .map_err(|err| format(format!("spikes/times: {err}")))?;
    let units = dataset("spikes/units")?
        .read_raw::<VarLenArray<u32>>()
        .map_err(|err| format(format!("spikes/units: {err}")))?;
    if times.len() != labels.len() || units.len() != labels.len() {
        return Err(format(format!(
            "{} labels, {} time arrays and {} unit arrays: they must agree",
            labels.len(),
            times.len(),
            units.len()
        )));
    }
    let n = labels.len().min(limit.unwrap_or(usize::MAX));
    (0..n)
        .map(|i| {
            let (t, u) = (times[i].as_slice(), units[i].as_slice());
            if t.len() != u.len() {
                return Err(format(format!(
                    "sample {i} has {} times but {} units",
                    t.len(),
                    u.len()
                )));
            }
            let label = u8::try_from(labels[i])
                .map_err(|_| format(format!("sample {i} has label {}", labels[i])))?;
            let events = t
                .iter()
                .zip(u)
                .map(|(&time, &unit)| Event {
                    time,
                    channel: unit as usize,
                })
                .collect();
            Ok(EventSample { events, label })
        })
        .collect()
}

/// One SHD or SSC file as a sequence set, binned by `binning` (whose `channels` is
/// [`CHANNELS`] for the real files), with `classes` classes ([`SHD_CLASSES`] or
/// [`SSC_CLASSES`]).
///
/// ```no_run
/// use burn_fptt::data::events::EventBinning;
/// use burn_fptt::data::shd;
///
/// // 100 steps of 10 ms, 700 channels merged in fives: 140 features per step.
/// let binning = EventBinning::new(shd::CHANNELS, 100, 0.010).with_channel_factor(5);
/// let train = shd::read("shd_train.h5", &binning, shd::SHD_CLASSES, None).unwrap();
/// assert_eq!((train.length(), train.features()), (100, 140));
/// ```
///
/// # Errors
///
/// The errors of [`read_samples`], and [`DataError::Format`] naming the file for an event
/// outside `binning`'s channels or a label not below `classes`.
pub fn read(
    path: impl AsRef<Path>,
    binning: &EventBinning,
    classes: usize,
    limit: Option<usize>,
) -> Result<SequenceSet, DataError> {
    let path = path.as_ref();
    let samples = read_samples(path, limit)?;
    binning
        .to_sequences(&samples, classes, path)
        .map_err(|err| match err {
            DataError::Label { .. } => DataError::Format {
                path: path.to_path_buf(),
                reason: err.to_string(),
            },
            other => other,
        })
}
