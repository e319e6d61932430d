//! Checkpoints that a killed process never leaves torn: the one atomic writer of the crate, for
//! single files and for whole checkpoint directories, and the progress counters every
//! checkpoint directory holds.
//!
//! A checkpoint directory has the same layout wherever it is written
//! ([`SequenceLearner::save`](crate::SequenceLearner::save), and the burn-train strategy's
//! `checkpoint/rule-EPOCH/`): `progress.json` (the rule's name, the updates and the epoch) and
//! the learning rule's own files (FPTT: `fptt-mean.bpk`, `fptt-multiplier.bpk` and, with the
//! distribution loss, `class-distributions.bpk`).

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::store::RecordError;

/// Why a checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A file or directory could not be created, written, renamed or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A record (model, optimizer, scheduler, rule state) could not be saved or loaded.
    #[error("{}: {source}", path.display())]
    Record {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// The underlying error.
        source: RecordError,
    },
    /// The configuration to resume with is invalid.
    #[error(transparent)]
    Config(#[from] crate::error::ConfigError),
    /// A file was read but does not hold what it should.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The checkpoint was written by another learning rule.
    #[error("{} was written by {saved}, not {expected}", path.display())]
    WrongRule {
        /// The checkpoint directory.
        path: PathBuf,
        /// The rule that wrote it.
        saved: String,
        /// The rule that tried to read it.
        expected: String,
    },
}

impl CheckpointError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Wraps a burn record error with the path it concerns.
    pub fn record(path: &Path, source: RecordError) -> Self {
        Self::Record {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Writes `bytes` to `path` atomically: a sibling `.partial` file, synced, then renamed.
///
/// # Errors
///
/// When the file cannot be written or renamed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let partial = sibling(path, "partial");
    let mut file = std::fs::File::create(&partial)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&partial, path)
}

/// Writes the checkpoint directory `dir` atomically: `fill` writes every file into a sibling
/// `dir.partial`, which then replaces `dir` by renames. A process killed meanwhile leaves the
/// previous checkpoint whole, as `dir`, or as `dir.previous` if it died between the two renames;
/// [`resolve`] finds either.
///
/// # Errors
///
/// The error of `fill`, or of a directory that cannot be created, renamed or removed.
pub(crate) fn write_dir_atomically(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), CheckpointError>,
) -> Result<(), CheckpointError> {
    let partial = sibling(dir, "partial");
    let previous = sibling(dir, "previous");
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| CheckpointError::io(&partial, e))?;
    }
    std::fs::create_dir_all(&partial).map_err(|e| CheckpointError::io(&partial, e))?;
    fill(&partial)?;
    if dir.exists() {
        if previous.exists() {
            std::fs::remove_dir_all(&previous).map_err(|e| CheckpointError::io(&previous, e))?;
        }
        std::fs::rename(dir, &previous).map_err(|e| CheckpointError::io(dir, e))?;
    }
    std::fs::rename(&partial, dir).map_err(|e| CheckpointError::io(dir, e))?;
    if previous.exists() {
        std::fs::remove_dir_all(&previous).map_err(|e| CheckpointError::io(&previous, e))?;
    }
    Ok(())
}

/// The checkpoint directory to read for `dir`: `dir` itself, or `dir.previous` when a save was
/// interrupted after moving `dir` aside.
pub(crate) fn resolve(dir: &Path) -> PathBuf {
    let previous = sibling(dir, "previous");
    if !dir.exists() && previous.exists() {
        previous
    } else {
        dir.to_path_buf()
    }
}

/// `path` with `.suffix` appended to its name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{suffix}"));
    path.with_file_name(name)
}

/// The counters of a checkpoint: which rule wrote it, the updates taken and the epoch to go on
/// with (`progress.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Progress {
    pub rule: String,
    pub updates: u64,
    pub epoch: usize,
}

const PROGRESS_FILE: &str = "progress.json";

impl Progress {
    /// Writes `progress.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), CheckpointError> {
        let path = dir.join(PROGRESS_FILE);
        let json = serde_json::json!({
            "updates": self.updates,
            "epoch": self.epoch,
            "method": self.rule,
        });
        std::fs::write(&path, json.to_string()).map_err(|e| CheckpointError::io(&path, e))
    }

    /// Reads `progress.json` from `dir`, checking that `rule` wrote it.
    pub fn read(dir: &Path, rule: &str) -> Result<Self, CheckpointError> {
        let path = dir.join(PROGRESS_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| CheckpointError::io(&path, e))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| CheckpointError::Invalid {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let counter = |key: &str| {
            json[key].as_u64().ok_or_else(|| CheckpointError::Invalid {
                path: path.clone(),
                reason: format!("no `{key}`"),
            })
        };
        let saved = json["method"].as_str().unwrap_or(rule);
        if saved != rule {
            return Err(CheckpointError::WrongRule {
                path: dir.to_path_buf(),
                saved: saved.to_string(),
                expected: rule.to_string(),
            });
        }
        Ok(Self {
            rule: rule.to_string(),
            updates: counter("updates")?,
            epoch: counter("epoch")? as usize,
        })
    }
}
