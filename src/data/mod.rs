//! Sequence data: an in-memory labelled set with batching, the bundled digits, MNIST as IDX,
//! the adding problem's generator, and event data (N-MNIST; SHD and SSC with the `hdf5`
//! feature) binned into sequences.

pub mod adding;
pub mod digits;
pub mod events;
pub mod idx;
pub mod nmnist;
mod sequences;
#[cfg(feature = "hdf5")]
pub mod shd;

pub use idx::IdxError;
pub use sequences::SequenceSet;

use std::path::{Path, PathBuf};

/// Why a data set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file was read but its content is not what it should be.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An IDX file whose bytes are not a valid IDX array of unsigned bytes.
    #[error("{}: {source}", path.display())]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong with its bytes.
        source: IdxError,
    },
    /// A sequence set of zero steps or zero features per step.
    #[error(
        "a sequence set needs length >= 1 and features >= 1, got length = {length}, features = {features}"
    )]
    EmptySequences {
        /// Steps per sequence.
        length: usize,
        /// Features per step.
        features: usize,
    },
    /// Input values that do not match the number of labels times the sequence shape.
    #[error(
        "{labels} labels of {length} steps x {features} features need {} input values, got {inputs}",
        labels * length * features
    )]
    InputCount {
        /// Labels given.
        labels: usize,
        /// Steps per sequence.
        length: usize,
        /// Features per step.
        features: usize,
        /// Input values given.
        inputs: usize,
    },
    /// A label at or above the number of classes.
    #[error("label {label} of sample {sample} is not below the number of classes {classes}")]
    Label {
        /// The sample.
        sample: usize,
        /// Its label.
        label: u8,
        /// The number of classes.
        classes: usize,
    },
    /// A step order that is not a permutation of `0..length`.
    #[error("a step permutation must hold each of 0..{length} once")]
    Permutation {
        /// Steps per sequence.
        length: usize,
    },
    /// A sample index past the end of the set.
    #[error("sample {index} is past the end of a set of {len} samples")]
    OutOfRange {
        /// The index asked for.
        index: usize,
        /// Samples in the set.
        len: usize,
    },
    /// An adding-problem sequence shorter than the two steps its two markers need.
    #[error("the adding problem needs sequences of at least 2 steps, got length {length}")]
    AddingLength {
        /// The length asked for.
        length: usize,
    },
}

impl DataError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn format(path: &Path, reason: impl Into<String>) -> Self {
        Self::Format {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}
