//! Forward Propagation Through Time: one optimizer update per time step (or chunk) on the
//! instantaneous loss plus a dynamic regulariser that ties the weights to their running
//! average, so that no graph spans more than one chunk and memory is constant in the sequence
//! length.
//!
//! Per parameter tensor `W`, with a running average `W̄` (initially `W₀`) and a multiplier `λ`
//! (initially 0), each update does
//!
//! ```text
//! g  = dL_t/dW                                  task gradient of this step or chunk
//! g' = g + α (W - W̄) - λ                        + the regulariser's gradient, closed form
//! clip all g' by their global norm; W <- optimizer(W, g')
//! λ  <- λ - α (W - W̄)
//! W̄  <- (1 - β) W̄ + β W - (β / α) λ
//! ```
//!
//! and at the end of an epoch `W <- W̄`. The regulariser is
//! `R = Σ_W [ -<W, λ> + α/2 |W - W̄|² ]`; [`LambdaCorrection::Paper`] uses the original paper's
//! `α/2 |W - W̄ - λ/(2α)|²`, whose gradient has `-λ/2` instead of `-λ`.

mod config;
mod distributions;
mod state;

pub use config::{FpttConfig, LambdaCorrection};
pub use distributions::ClassDistributions;
pub(crate) use distributions::distribution_loss;
pub use state::Fptt;
