//! Why training stopped.

use crate::checkpoint::CheckpointError;
use crate::error::ConfigError;
use crate::task::BatchError;

/// Why training stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration value was rejected.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The loss became NaN or infinite.
    #[error(
        "the loss became {value} at epoch {epoch}, batch {batch} (update {update}); the weights of this batch are not trustworthy"
    )]
    NonFinite {
        /// The loss value.
        value: f64,
        /// Epoch (1-based) of the batch.
        epoch: usize,
        /// Batch (1-based) within the epoch.
        batch: usize,
        /// Optimizer updates taken so far.
        update: u64,
    },
    /// A batch whose inputs, targets or lengths do not fit together or the task.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A checkpoint could not be written or read.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
}
