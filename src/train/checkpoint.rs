//! burn-train's checkpoint files, written with the crate's atomic writer
//! ([`crate::checkpoint::write_atomically`]): a process killed while saving never leaves a torn
//! checkpoint behind.

use std::path::{Path, PathBuf};

use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};

use crate::checkpoint::write_atomically;

/// burn-train's file checkpointer, but each file is written to `NAME-EPOCH.bpk.partial`,
/// flushed to disk, then renamed over `NAME-EPOCH.bpk`, so the checkpoint of an epoch is either
/// whole or absent. Same file names as burn's `FileCheckpointer`: resuming works with either.
#[derive(Debug, Clone)]
pub struct AtomicFileCheckpointer {
    directory: PathBuf,
    name: String,
}

impl AtomicFileCheckpointer {
    /// Checkpoints named `name` in `directory` (created when missing).
    pub fn new(directory: impl AsRef<Path>, name: &str) -> Self {
        let directory = directory.as_ref().to_path_buf();
        std::fs::create_dir_all(&directory).ok();
        Self {
            directory,
            name: name.to_string(),
        }
    }

    /// The file of `epoch`'s checkpoint.
    pub fn path(&self, epoch: usize) -> PathBuf {
        self.directory.join(format!("{}-{epoch}.bpk", self.name))
    }
}

impl<R: Checkpoint> Checkpointer<R> for AtomicFileCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let bytes = record
            .checkpoint_into_bytes()
            .map_err(CheckpointerError::Record)?;
        std::fs::create_dir_all(&self.directory).map_err(CheckpointerError::IOError)?;
        write_atomically(&self.path(epoch), &bytes).map_err(CheckpointerError::IOError)
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        let path = self.path(epoch);
        if path.exists() {
            std::fs::remove_file(path).map_err(CheckpointerError::IOError)?;
        }
        Ok(())
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        let path = self.path(epoch);
        if !path.exists() {
            return Err(CheckpointerError::Unknown(format!(
                "no checkpoint of epoch {epoch}: {} does not exist",
                path.display()
            )));
        }
        R::load(path)
    }
}
