//! The Neuromorphic Intermediate Representation (NIR): export burn-fptt networks to the graph
//! format that snnTorch, Norse, Sinabs, Rockpool, Spyx and neuromorphic chips read, and import
//! their graphs as modules that run and train further with FPTT.
//!
//! - [`NirGraph`] holds the nodes this crate maps to (`Input`, `Output`, `Affine`, `Linear`,
//!   `LIF`, `CubaLIF`, `LI`) and the edges between them.
//! - [`NirExport`] writes a chain of layers ([`ToNir`]: [`Lif`](crate::neuron::Lif),
//!   [`CubaLif`](crate::neuron::CubaLif), [`LeakyReadout`](crate::neuron::LeakyReadout),
//!   burn's `Linear`); layers with no NIR node (`Ltc`, `Alif`, `LtcReadout`) are an error
//!   naming the layer.
//! - [`NirNetwork::from_graph`] builds the layers back.
//! - [`TimeMapping`] maps the layers' per-step decays `α` to NIR's continuous `τ` for a step
//!   `dt`: `τ = -dt / ln α` ([`Discretisation::Exponential`], the layers' own, exact) or
//!   `τ = dt / (1 - α)` ([`Discretisation::ForwardEuler`], what snnTorch and Norse simulate).
//!   The export module's documentation gives every formula.
//! - With the `hdf5` feature, `read` and `write` load and save NIR's HDF5 files (the layout of
//!   the `nir` Python package, version 1.0).

mod error;
mod export;
mod graph;
#[cfg(feature = "hdf5")]
mod hdf5_file;
mod import;
mod mapping;

pub use error::NirError;
pub use export::{NirExport, ToNir};
pub use graph::{NirArray, NirGraph, NirNode};
#[cfg(feature = "hdf5")]
pub use hdf5_file::{read, write};
pub use import::{NirLayer, NirLayerState, NirNetwork};
pub use mapping::{Discretisation, TimeMapping};
