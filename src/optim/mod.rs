//! Optimizers that burn lacks (Adamax, one parameter at a time or all at once), the whole-model
//! optimizer the learners take, and the gradient clipping every learning rule shares.

mod adamax;
mod clip;
mod model_optimizer;
mod multi_tensor;

pub use adamax::{Adamax, AdamaxConfig, AdamaxState};
pub use clip::clip_global_norm;
pub(crate) use clip::{Factor, clip_by_squared_norm, clip_factor, register_flat, scale};
pub use model_optimizer::ModelOptimizer;
pub use multi_tensor::MultiTensorAdamax;
