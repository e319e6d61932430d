//! burn-fptt layers to NIR nodes.
//!
//! Each spiking layer becomes its input projection (an `Affine` node), its neurons, and, when
//! recurrent, a `Linear` node from the neurons back to themselves. The membrane potential in the
//! graph is the layer's own (same threshold, reset to 0); the layer's input gain `1 - α` moves
//! into the projections' rows and `r = 1 / (1 - α)`, the convention of the clients that step
//! `v ← α v + I` (snnTorch, Norse, most neuromorphic chips):
//!
//! ```text
//! layer:  u ← α u + (1 - α) (W x + b + W_r s)
//! NIR:    Affine W' = (1 - α) W, b' = (1 - α) b;  Linear W_r' = (1 - α) W_r
//!         LIF τ = TimeMapping::tau(α), r = 1 / (1 - α), v_leak = 0, v_threshold = θ, v_reset = 0
//! CubaLIF: the same with g = (1 - α_syn)(1 - α_mem) in the rows, w_in = 1 / (1 - α_syn),
//!          r = 1 / (1 - α_mem)
//! LI:     Affine W' = (1 - k) W, b' = (1 - k) b;  τ = TimeMapping::tau(k), r = 1 / (1 - k)
//! ```

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::Tensor;

use super::error::NirError;
use super::graph::{NirArray, NirGraph, NirNode};
use super::mapping::TimeMapping;
use crate::neuron::common::MIN_TIME_CONSTANT;
use crate::neuron::{
    Alif, ConvLtc, CubaLif, InitialMembrane, LeakyReadout, Lif, Ltc, LtcReadout, ResetMode,
    SpikingCell,
};

/// A layer that can be written as NIR nodes.
///
/// Implemented by [`Lif`], [`CubaLif`], [`LeakyReadout`] and burn's [`Linear`]; [`Ltc`],
/// [`ConvLtc`], [`Alif`] and [`LtcReadout`] implement it with an error, since NIR has no node for
/// input-dependent time constants or an adaptive threshold.
pub trait ToNir {
    /// Writes the layer into `graph` under node names starting with `name`, fed by the node
    /// `source`; returns the name of the node whose output is the layer's output.
    ///
    /// # Errors
    ///
    /// [`NirError::Unsupported`] naming the layer when NIR cannot express it or one of its
    /// settings.
    fn to_nir(
        &self,
        name: &str,
        source: &str,
        time: &TimeMapping,
        graph: &mut NirGraph,
    ) -> Result<String, NirError>;

    /// The widths of the layer's input and output.
    fn nir_widths(&self) -> (usize, usize);
}

/// Builds a NIR graph from a chain of layers: an `input` node, each layer in turn, an `output`
/// node.
///
/// ```
/// use burn_fptt::nir::{Discretisation, NirExport, NirNode, TimeMapping};
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// let lif = LifConfig::new(4, 8).init(&device);
/// let readout = LeakyReadoutConfig::new(8, 3).init(&device);
/// let time = TimeMapping::new(1e-3, Discretisation::ForwardEuler).unwrap();
/// let graph = NirExport::new(4, time)
///     .layer("lif", &lif).unwrap()
///     .layer("readout", &readout).unwrap()
///     .finish().unwrap();
/// assert!(matches!(graph.nodes["lif.lif"], NirNode::Lif { .. }));
/// assert_eq!(graph.successors("lif.lif"), vec!["lif.rec", "readout.fc"]);
///
/// let ltc = LtcConfig::new(4, 8).init(&device);
/// let err = NirExport::new(4, time).layer("ltc", &ltc).unwrap_err();
/// assert!(err.to_string().contains("`ltc` (Ltc)"));
/// ```
#[derive(Debug, Clone)]
pub struct NirExport {
    time: TimeMapping,
    graph: NirGraph,
    last: String,
    width: usize,
}

impl NirExport {
    /// An export whose input has `d_input` features per step, with the time base `time`.
    pub fn new(d_input: usize, time: TimeMapping) -> Self {
        let mut graph = NirGraph::default();
        graph.add_node(
            "input",
            NirNode::Input {
                shape: vec![d_input],
            },
        );
        Self {
            time,
            graph,
            last: "input".to_string(),
            width: d_input,
        }
    }

    /// Appends `layer` under the name `name` (its nodes are `name` or `name.*`).
    ///
    /// # Errors
    ///
    /// [`NirError::Unsupported`] for a layer NIR cannot express, [`NirError::Shape`] when the
    /// layer's input width is not the previous layer's output width, [`NirError::Config`] when
    /// `name` is empty, holds a `.`, or is already taken.
    pub fn layer(mut self, name: &str, layer: &impl ToNir) -> Result<Self, NirError> {
        let taken = self
            .graph
            .nodes
            .keys()
            .any(|node| node == name || node.split('.').next() == Some(name));
        if name.is_empty() || name.contains('.') || taken || name == "output" {
            return Err(NirError::Config {
                field: "layer name",
                value: format!("{name:?}"),
                reason: "names must be non-empty, free of '.', and unique (not input or output)",
            });
        }
        let (d_in, d_out) = layer.nir_widths();
        if d_in != self.width {
            return Err(NirError::Shape {
                node: name.to_string(),
                reason: format!(
                    "takes {d_in} features but `{}` gives {}",
                    self.last, self.width
                ),
            });
        }
        self.last = layer.to_nir(name, &self.last, &self.time, &mut self.graph)?;
        self.width = d_out;
        Ok(self)
    }

    /// Closes the chain with an `output` node and checks the graph.
    ///
    /// # Errors
    ///
    /// The [`NirError`] of [`NirGraph::validate`] (not expected for layers of this crate).
    pub fn finish(mut self) -> Result<NirGraph, NirError> {
        self.graph.add_node(
            "output",
            NirNode::Output {
                shape: vec![self.width],
            },
        );
        self.graph.add_edge(self.last, "output");
        self.graph.validate()?;
        Ok(self.graph)
    }
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f64> {
    tensor.into_data().iter::<f64>().collect()
}

/// The per-step decay of each time constant, as the layers compute it (clamped to one step).
fn decays(tau: &Param<Tensor<1>>) -> Vec<f64> {
    values(tau.val())
        .into_iter()
        .map(|tau| (-1.0 / tau.max(MIN_TIME_CONSTANT)).exp())
        .collect()
}

/// burn's `[in, out]` weight as NIR's `[out, in]`, row `j` scaled by `gain[j]`.
fn nir_weight(linear: &Linear, gain: &[f64]) -> NirArray {
    let [d_in, d_out] = linear.weight.dims();
    let weight = values(linear.weight.val());
    let data = (0..d_out)
        .flat_map(|j| (0..d_in).map(move |i| (j, i)))
        .map(|(j, i)| gain[j] * weight[i * d_out + j])
        .collect();
    NirArray::matrix(d_out, d_in, data)
}

fn nir_bias(linear: &Linear, gain: &[f64]) -> NirArray {
    let bias = match &linear.bias {
        Some(bias) => values(bias.val()),
        None => vec![0.0; gain.len()],
    };
    NirArray::vector(bias.iter().zip(gain).map(|(b, g)| b * g).collect())
}

/// The input projection of a layer as an `Affine` node `name.fc`, fed by `source`.
fn projection(graph: &mut NirGraph, name: &str, source: &str, linear: &Linear, gain: &[f64]) {
    let fc = format!("{name}.fc");
    graph.add_node(
        &fc,
        NirNode::Affine {
            weight: nir_weight(linear, gain),
            bias: nir_bias(linear, gain),
        },
    );
    graph.add_edge(source, &fc);
}

/// A spiking layer's nodes: its input projection `name.fc` fed by `source`, the neurons
/// `name.<suffix>` (`node`), and, when `recurrent`, `name.rec` looping back; returns the
/// neurons' name.
#[allow(clippy::too_many_arguments)]
fn neuron_layer(
    graph: &mut NirGraph,
    name: &str,
    source: &str,
    suffix: &str,
    input: &Linear,
    recurrent: Option<&Linear>,
    gain: &[f64],
    node: NirNode,
) -> String {
    let neurons = format!("{name}.{suffix}");
    projection(graph, name, source, input, gain);
    graph.add_node(&neurons, node);
    graph.add_edge(format!("{name}.fc"), &neurons);
    recurrence(graph, name, &neurons, recurrent, gain);
    neurons
}

/// NIR's `τ` for each decay.
fn taus(time: &TimeMapping, decays: &[f64]) -> NirArray {
    NirArray::vector(decays.iter().map(|&a| time.tau(a)).collect())
}

/// `1 / (1 - α)` for each decay: the `r` (or `w_in`) that undoes the gain moved into the weights.
fn inverse_gains(decays: &[f64]) -> NirArray {
    NirArray::vector(decays.iter().map(|a| 1.0 / (1.0 - a)).collect())
}

/// The recurrent projection as a `Linear` node `name.rec` from `neurons` back to them.
fn recurrence(
    graph: &mut NirGraph,
    name: &str,
    neurons: &str,
    linear: Option<&Linear>,
    gain: &[f64],
) {
    if let Some(linear) = linear {
        let rec = format!("{name}.rec");
        graph.add_node(
            &rec,
            NirNode::Linear {
                weight: nir_weight(linear, gain),
            },
        );
        graph.add_edge(neurons, &rec);
        graph.add_edge(&rec, neurons);
    }
}

fn check_spiking(
    name: &str,
    kind: &'static str,
    reset: ResetMode,
    smooth: bool,
    initial: InitialMembrane,
) -> Result<(), NirError> {
    let unsupported = |reason: &str| {
        Err(NirError::Unsupported {
            layer: name.to_string(),
            kind,
            reason: reason.to_string(),
        })
    };
    if reset == ResetMode::Soft {
        return unsupported("the soft reset (u - θ); NIR's neurons reset to v_reset");
    }
    if smooth {
        return unsupported("smooth spikes; NIR's neurons emit 0/1 spikes");
    }
    if initial != InitialMembrane::Zeros {
        return unsupported("a random initial membrane; NIR's neurons start at 0");
    }
    Ok(())
}

impl ToNir for Lif {
    fn to_nir(
        &self,
        name: &str,
        source: &str,
        time: &TimeMapping,
        graph: &mut NirGraph,
    ) -> Result<String, NirError> {
        check_spiking(
            name,
            "Lif",
            self.reset,
            self.smooth_spikes,
            self.initial_membrane,
        )?;
        let decay = decays(&self.tau_mem);
        let gain: Vec<f64> = decay.iter().map(|a| 1.0 - a).collect();
        let n = decay.len();
        let node = NirNode::Lif {
            tau: taus(time, &decay),
            r: inverse_gains(&decay),
            v_leak: NirArray::filled(n, 0.0),
            v_threshold: NirArray::filled(n, self.threshold),
            v_reset: NirArray::filled(n, 0.0),
        };
        let recurrent = self.recurrent.as_ref();
        Ok(neuron_layer(
            graph,
            name,
            source,
            "lif",
            &self.input,
            recurrent,
            &gain,
            node,
        ))
    }

    fn nir_widths(&self) -> (usize, usize) {
        (self.d_input(), self.d_hidden())
    }
}

impl ToNir for CubaLif {
    fn to_nir(
        &self,
        name: &str,
        source: &str,
        time: &TimeMapping,
        graph: &mut NirGraph,
    ) -> Result<String, NirError> {
        check_spiking(
            name,
            "CubaLif",
            self.reset,
            self.smooth_spikes,
            self.initial_membrane,
        )?;
        let syn = decays(&self.tau_syn);
        let mem = decays(&self.tau_mem);
        let gain: Vec<f64> = syn
            .iter()
            .zip(&mem)
            .map(|(s, m)| (1.0 - s) * (1.0 - m))
            .collect();
        let n = mem.len();
        let node = NirNode::CubaLif {
            tau_syn: taus(time, &syn),
            tau_mem: taus(time, &mem),
            r: inverse_gains(&mem),
            v_leak: NirArray::filled(n, 0.0),
            v_threshold: NirArray::filled(n, self.threshold),
            v_reset: NirArray::filled(n, 0.0),
            w_in: inverse_gains(&syn),
        };
        let recurrent = self.recurrent.as_ref();
        Ok(neuron_layer(
            graph,
            name,
            source,
            "cubalif",
            &self.input,
            recurrent,
            &gain,
            node,
        ))
    }

    fn nir_widths(&self) -> (usize, usize) {
        (self.d_input(), self.d_hidden())
    }
}

impl ToNir for LeakyReadout {
    fn to_nir(
        &self,
        name: &str,
        source: &str,
        time: &TimeMapping,
        graph: &mut NirGraph,
    ) -> Result<String, NirError> {
        let decay = decays(&self.tau);
        let gain: Vec<f64> = decay.iter().map(|k| 1.0 - k).collect();
        let node = NirNode::Li {
            tau: taus(time, &decay),
            r: inverse_gains(&decay),
            v_leak: NirArray::filled(decay.len(), 0.0),
        };
        Ok(neuron_layer(
            graph,
            name,
            source,
            "li",
            &self.output,
            None,
            &gain,
            node,
        ))
    }

    fn nir_widths(&self) -> (usize, usize) {
        (self.d_input(), self.d_output())
    }
}

impl ToNir for Linear {
    fn to_nir(
        &self,
        name: &str,
        source: &str,
        _time: &TimeMapping,
        graph: &mut NirGraph,
    ) -> Result<String, NirError> {
        let gain = vec![1.0; self.weight.dims()[1]];
        let weight = nir_weight(self, &gain);
        let node = match &self.bias {
            Some(_) => NirNode::Affine {
                weight,
                bias: nir_bias(self, &gain),
            },
            None => NirNode::Linear { weight },
        };
        graph.add_node(name, node);
        graph.add_edge(source, name);
        Ok(name.to_string())
    }

    fn nir_widths(&self) -> (usize, usize) {
        let [d_in, d_out] = self.weight.dims();
        (d_in, d_out)
    }
}

/// Implements [`ToNir`] as an error for a layer NIR has no node for.
macro_rules! no_nir_node {
    ($layer:ty, $kind:literal, $reason:literal, $widths:expr) => {
        impl ToNir for $layer {
            fn to_nir(
                &self,
                name: &str,
                _source: &str,
                _time: &TimeMapping,
                _graph: &mut NirGraph,
            ) -> Result<String, NirError> {
                Err(NirError::Unsupported {
                    layer: name.to_string(),
                    kind: $kind,
                    reason: $reason.to_string(),
                })
            }

            fn nir_widths(&self) -> (usize, usize) {
                $widths(self)
            }
        }
    };
}

no_nir_node!(
    Ltc,
    "Ltc",
    "its time constants are computed from input and state at every step; NIR's neurons have fixed ones",
    |l: &Ltc| (l.d_input(), l.d_hidden())
);
no_nir_node!(
    Alif,
    "Alif",
    "its threshold adapts; NIR 1.0 has no adaptive-threshold neuron",
    |l: &Alif| (l.d_input(), l.d_hidden())
);
no_nir_node!(
    LtcReadout,
    "LtcReadout",
    "its time constant is computed from input and state at every step; NIR's LI has a fixed one",
    |l: &LtcReadout| (l.d_input(), l.d_output())
);
no_nir_node!(
    ConvLtc,
    "ConvLtc",
    "its time constants are computed from input and state at every step; NIR's neurons have fixed ones",
    |l: &ConvLtc| (l.d_input(), l.d_output())
);
