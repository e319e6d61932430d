//! Optimizers that burn lacks, and the gradient clipping every learning rule shares.

mod adamax;
mod clip;

pub use adamax::{Adamax, AdamaxConfig, AdamaxState};
pub use clip::clip_global_norm;
pub(crate) use clip::{Factor, clip_by_squared_norm, clip_factor, register_flat, scale};
