//! Optimizers that burn lacks.

mod adamax;

pub use adamax::{Adamax, AdamaxConfig, AdamaxState};
