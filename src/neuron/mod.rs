//! Spiking layers and their readouts.
//!
//! Every layer follows burn-nn's recurrent style: a `Config` with `init(&Device)`, a `step` for
//! one time step and a `forward` over `[batch, time, features]`, the state passed in and out.

mod alif;
mod cell;
pub(crate) mod common;
mod conv;
mod cuba;
mod gate;
mod lif;
mod ltc;
mod readout;

pub use alif::{Alif, AlifConfig, AlifParameters, alif_step};
pub use cell::SpikingCell;
pub use common::{AdaptiveState, InitialMembrane, LifState, ResetMode};
pub use conv::{ConvLtc, ConvLtcConfig, ConvLtcState};
pub use cuba::{CubaLif, CubaLifConfig, CubaLifParameters, CubaLifState, cuba_lif_step};
pub use gate::Gate;
pub use lif::{Lif, LifConfig, LifParameters, lif_step};
pub use ltc::{Ltc, LtcConfig, LtcState};
pub use readout::{
    LeakyReadout, LeakyReadoutConfig, LtcReadout, LtcReadoutConfig, ReadoutState,
    leaky_integrator_step,
};

/// The state of an [`Alif`] layer: membrane, last spikes and adaptation, each `[batch, hidden]`.
pub type AlifState = AdaptiveState;
