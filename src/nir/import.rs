//! NIR graphs to burn-fptt modules: a chain of projections and neurons becomes a
//! [`NirNetwork`] that runs and trains like any [`StepModel`].

use std::collections::BTreeSet;

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};

use super::error::NirError;
use super::graph::{NirArray, NirGraph, NirNode};
use super::mapping::TimeMapping;
use crate::neuron::common::MIN_TIME_CONSTANT;
use crate::neuron::{
    CubaLif, CubaLifConfig, CubaLifState, InitialMembrane, LeakyReadout, LeakyReadoutConfig, Lif,
    LifConfig, LifState, ReadoutState, ResetMode, SpikingCell,
};
use crate::step::{Detach, SpikingLayer, SpikingModel, StepModel};

/// One layer of an imported network.
#[derive(Module, Debug)]
pub enum NirLayer {
    /// An `Affine` or `Linear` node not followed by neurons.
    Dense(Linear),
    /// A projection into `LIF` neurons (with their recurrent projection, if any).
    Lif(Lif),
    /// A projection into `CubaLIF` neurons (with their recurrent projection, if any).
    CubaLif(CubaLif),
    /// A projection into an `LI` node.
    Leaky(LeakyReadout),
}

/// The state of one [`NirLayer`].
// One per layer, moved once per step: boxing the larger states would cost more than it saves.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum NirLayerState {
    /// A dense layer keeps nothing.
    Dense,
    /// A [`Lif`]'s state.
    Lif(LifState),
    /// A [`CubaLif`]'s state.
    CubaLif(CubaLifState),
    /// A [`LeakyReadout`]'s state.
    Leaky(ReadoutState),
}

impl Detach for NirLayerState {
    fn detach(self) -> Self {
        match self {
            Self::Dense => Self::Dense,
            Self::Lif(state) => Self::Lif(state.detach()),
            Self::CubaLif(state) => Self::CubaLif(state.detach()),
            Self::Leaky(state) => Self::Leaky(state.detach()),
        }
    }
}

/// A network imported from a NIR graph: its layers in order, input side first. It is a
/// [`StepModel`] and a [`SpikingModel`], so it runs, and trains further with FPTT or BPTT,
/// like any model of this crate.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::nir::{Discretisation, NirExport, NirNetwork, TimeMapping};
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// let lif = LifConfig::new(4, 8).init(&device);
/// let time = TimeMapping::new(1e-3, Discretisation::ForwardEuler).unwrap();
/// let graph = NirExport::new(4, time).layer("lif", &lif).unwrap().finish().unwrap();
/// let network = NirNetwork::from_graph(&graph, time, &device).unwrap();
/// let x = Tensor::<3>::ones([2, 5, 4], &device);
/// let (ours, _) = lif.forward(x.clone(), None);
/// let (theirs, _) = network.run(x, None);
/// assert_eq!(ours.into_data(), theirs.into_data());
/// ```
#[derive(Module, Debug)]
pub struct NirNetwork {
    /// The layers, input side first.
    pub layers: Vec<NirLayer>,
}

impl NirNetwork {
    /// Builds the network a NIR graph describes, on `device`, reading its time constants with
    /// `time`.
    ///
    /// The graph must be a chain from its one `Input` to its one `Output`: each `LIF`,
    /// `CubaLIF` or `LI` node fed by one `Affine`/`Linear` node from the previous layer, plus,
    /// for `LIF` and `CubaLIF`, at most one `Affine`/`Linear` node from the neurons back to
    /// themselves; an `Affine`/`Linear` node followed by no neurons is a dense layer. `r`,
    /// `w_in` and `v_leak` fold into the projections (the inverse of the export's mapping); the
    /// threshold must be the same for every neuron of a node and `v_reset` must be 0.
    ///
    /// # Errors
    ///
    /// A [`NirError`] naming the node: the graph fails [`NirGraph::validate`], the chain
    /// branches or has a node off it, a parameter cannot be taken (see above, or a time
    /// constant shorter than one step).
    pub fn from_graph(
        graph: &NirGraph,
        time: TimeMapping,
        device: &Device,
    ) -> Result<Self, NirError> {
        graph.validate()?;
        let inputs: Vec<&String> = graph
            .nodes
            .iter()
            .filter(|(_, node)| matches!(node, NirNode::Input { .. }))
            .map(|(name, _)| name)
            .collect();
        let [input] = inputs[..] else {
            return Err(NirError::Topology {
                node: inputs
                    .first()
                    .map_or("(none)".to_string(), |n| n.to_string()),
                reason: format!(
                    "the graph needs exactly one Input node, it has {}",
                    inputs.len()
                ),
            });
        };
        let mut walk = Walk {
            graph,
            time,
            device,
            visited: BTreeSet::from([input.as_str()]),
            layers: Vec::new(),
        };
        let mut current = input.as_str();
        let mut recurrent: Option<&str> = None;
        loop {
            let next: Vec<&str> = graph
                .successors(current)
                .into_iter()
                .filter(|n| Some(*n) != recurrent)
                .collect();
            let [next] = next[..] else {
                return Err(walk.topology(
                    current,
                    format!("it feeds {} nodes {next:?}; a chain needs one", next.len()),
                ));
            };
            if matches!(graph.nodes[next], NirNode::Output { .. }) {
                walk.single_input(next, current)?;
                walk.visited.insert(next);
                break;
            }
            (current, recurrent) = walk.layer(current, next)?;
        }
        if let Some(unvisited) = graph
            .nodes
            .keys()
            .find(|name| !walk.visited.contains(name.as_str()))
        {
            return Err(walk.topology(unvisited, "it is not on the chain from the input".into()));
        }
        Ok(Self {
            layers: walk.layers,
        })
    }
}

struct Walk<'a> {
    graph: &'a NirGraph,
    time: TimeMapping,
    device: &'a Device,
    visited: BTreeSet<&'a str>,
    layers: Vec<NirLayer>,
}

impl<'a> Walk<'a> {
    fn topology(&self, node: &str, reason: String) -> NirError {
        NirError::Topology {
            node: node.to_string(),
            reason,
        }
    }

    fn single_input(&self, node: &str, from: &str) -> Result<(), NirError> {
        let feeds = self.graph.predecessors(node);
        if feeds != [from] {
            return Err(self.topology(
                node,
                format!("it is fed by {feeds:?}; a chain feeds it from `{from}` only"),
            ));
        }
        Ok(())
    }

    /// The layer starting at the projection `fc` (fed by `from`); returns the node the layer's
    /// output leaves from and its recurrent projection, if any.
    fn layer(&mut self, from: &str, fc: &'a str) -> Result<(&'a str, Option<&'a str>), NirError> {
        let graph = self.graph;
        if !self.visited.insert(fc) {
            return Err(self.topology(fc, "the chain comes back to it".into()));
        }
        let Some(projection) = as_projection(&graph.nodes[fc]) else {
            return Err(self.topology(
                fc,
                format!(
                    "a layer starts with an Affine or Linear node, this is {}",
                    graph.nodes[fc].kind()
                ),
            ));
        };
        self.single_input(fc, from)?;
        let after = graph.successors(fc);
        let [neurons] = after[..] else {
            return Err(self.topology(
                fc,
                format!(
                    "it feeds {} nodes {after:?}; a chain needs one",
                    after.len()
                ),
            ));
        };
        let node = &graph.nodes[neurons];
        if matches!(
            node,
            NirNode::Output { .. } | NirNode::Affine { .. } | NirNode::Linear { .. }
        ) {
            self.layers
                .push(NirLayer::Dense(dense(projection, self.device)));
            return Ok((fc, None));
        }
        self.visited.insert(neurons);
        let recurrent = self.recurrent_projection(neurons, fc)?;
        if recurrent.is_some() && matches!(node, NirNode::Li { .. }) {
            return Err(self.topology(neurons, "an LI node cannot feed itself back".into()));
        }
        let rec = recurrent.map(|name| {
            as_projection(&graph.nodes[name]).expect("recurrent_projection checks the kind")
        });
        let layer = match node {
            NirNode::Lif {
                tau,
                r,
                v_leak,
                v_threshold,
                v_reset,
            } => {
                let threshold = uniform_threshold(neurons, v_threshold)?;
                zero(neurons, "v_reset", v_reset)?;
                let mut lif = LifConfig::new(projection.0.shape[1], tau.len())
                    .with_recurrent(rec.is_some())
                    .with_threshold(threshold)
                    .with_reset(ResetMode::Hard)
                    .with_initial_membrane(InitialMembrane::Zeros)
                    .init(self.device);
                let gain = r.data.clone();
                (lif.input, lif.recurrent) =
                    projections(projection, rec, &gain, &v_leak.data, self.device);
                lif.tau_mem = self.time_constants(neurons, tau)?;
                NirLayer::Lif(lif)
            }
            NirNode::CubaLif {
                tau_syn,
                tau_mem,
                r,
                v_leak,
                v_threshold,
                v_reset,
                w_in,
            } => {
                let threshold = uniform_threshold(neurons, v_threshold)?;
                zero(neurons, "v_reset", v_reset)?;
                // A non-zero v_leak would shift the synaptic current's resting value, which
                // the layer's fresh state (current 0) cannot start from.
                zero(neurons, "v_leak", v_leak)?;
                let mut cuba = CubaLifConfig::new(projection.0.shape[1], tau_mem.len())
                    .with_recurrent(rec.is_some())
                    .with_threshold(threshold)
                    .with_reset(ResetMode::Hard)
                    .with_initial_membrane(InitialMembrane::Zeros)
                    .init(self.device);
                let gain: Vec<f64> = r.data.iter().zip(&w_in.data).map(|(r, w)| r * w).collect();
                (cuba.input, cuba.recurrent) =
                    projections(projection, rec, &gain, &v_leak.data, self.device);
                cuba.tau_syn = self.time_constants(neurons, tau_syn)?;
                cuba.tau_mem = self.time_constants(neurons, tau_mem)?;
                NirLayer::CubaLif(cuba)
            }
            NirNode::Li { tau, r, v_leak } => {
                let mut readout =
                    LeakyReadoutConfig::new(projection.0.shape[1], tau.len()).init(self.device);
                (readout.output, _) =
                    projections(projection, None, &r.data, &v_leak.data, self.device);
                readout.tau = self.time_constants(neurons, tau)?;
                NirLayer::Leaky(readout)
            }
            other => {
                return Err(self.topology(
                    neurons,
                    format!("a projection feeds a {} node, not neurons", other.kind()),
                ));
            }
        };
        self.layers.push(layer);
        Ok((neurons, recurrent))
    }

    /// The projection from `neurons` back to themselves, if the graph has one; any other node
    /// feeding `neurons` besides `fc` is an error.
    fn recurrent_projection(
        &mut self,
        neurons: &str,
        fc: &str,
    ) -> Result<Option<&'a str>, NirError> {
        let graph = self.graph;
        let mut recurrent = None;
        for feed in graph.predecessors(neurons) {
            if feed == fc {
                continue;
            }
            let (name, node) = graph.nodes.get_key_value(feed).expect("validated edge");
            let loops_back =
                graph.predecessors(feed) == [neurons] && graph.successors(feed) == [neurons];
            let projection = as_projection(node).is_some();
            if recurrent.is_some() || !loops_back || !projection {
                return Err(self.topology(
                    neurons,
                    format!(
                        "it is fed by `{feed}` besides `{fc}`; a layer takes one projection from the previous layer and at most one from itself"
                    ),
                ));
            }
            self.visited.insert(name.as_str());
            recurrent = Some(name.as_str());
        }
        Ok(recurrent)
    }

    /// The layer's time constants in steps for NIR's `τ`.
    fn time_constants(&self, node: &str, tau: &NirArray) -> Result<Param<Tensor<1>>, NirError> {
        let steps = tau
            .data
            .iter()
            .map(|&tau| {
                let steps = TimeMapping::steps(self.time.decay(node, tau)?);
                if steps < MIN_TIME_CONSTANT {
                    return Err(NirError::Parameter {
                        node: node.to_string(),
                        reason: format!(
                            "time constant {tau} is {steps:.3} steps of dt = {}; the layers need at least {MIN_TIME_CONSTANT}",
                            self.time.dt()
                        ),
                    });
                }
                Ok(steps as f32)
            })
            .collect::<Result<Vec<f32>, NirError>>()?;
        let n = steps.len();
        Ok(Param::from_tensor(Tensor::from_data(
            TensorData::new(steps, [n]),
            self.device,
        )))
    }
}

type Projection<'g> = (&'g NirArray, Option<&'g NirArray>);

/// The weight and bias of an `Affine` or `Linear` node; `None` for any other node.
fn as_projection(node: &NirNode) -> Option<Projection<'_>> {
    match node {
        NirNode::Affine { weight, bias } => Some((weight, Some(bias))),
        NirNode::Linear { weight } => Some((weight, None)),
        _ => None,
    }
}

/// NIR's `[out, in]` weight as burn's `[in, out]`, row `j` scaled by `gain[j]`.
fn burn_weight(weight: &NirArray, gain: &[f64], device: &Device) -> Param<Tensor<2>> {
    let [rows, cols] = weight.shape[..] else {
        unreachable!("validated matrix")
    };
    let data: Vec<f32> = (0..cols)
        .flat_map(|i| (0..rows).map(move |j| (i, j)))
        .map(|(i, j)| (gain[j] * weight.at(j, i)) as f32)
        .collect();
    Param::from_tensor(Tensor::from_data(
        TensorData::new(data, [cols, rows]),
        device,
    ))
}

fn burn_vector(values: Vec<f64>, device: &Device) -> Param<Tensor<1>> {
    let n = values.len();
    let data: Vec<f32> = values.into_iter().map(|v| v as f32).collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(data, [n]), device))
}

fn dense((weight, bias): Projection<'_>, device: &Device) -> Linear {
    let gain = vec![1.0; weight.shape[0]];
    Linear {
        weight: burn_weight(weight, &gain, device),
        bias: bias.map(|bias| burn_vector(bias.data.clone(), device)),
    }
}

/// The layer's input and recurrent projections: `W = diag(gain) W_nir`, and one bias
/// `gain ⊙ (b + b_rec) + v_leak` on the input projection.
fn projections(
    (weight, bias): Projection<'_>,
    recurrent: Option<Projection<'_>>,
    gain: &[f64],
    v_leak: &[f64],
    device: &Device,
) -> (Linear, Option<Linear>) {
    let bias_of = |bias: Option<&NirArray>, j: usize| bias.map_or(0.0, |b| b.data[j]);
    let folded = (0..gain.len())
        .map(|j| {
            let rec_bias = recurrent.map_or(0.0, |(_, b)| bias_of(b, j));
            gain[j] * (bias_of(bias, j) + rec_bias) + v_leak[j]
        })
        .collect();
    let input = Linear {
        weight: burn_weight(weight, gain, device),
        bias: Some(burn_vector(folded, device)),
    };
    let recurrent = recurrent.map(|(weight, _)| Linear {
        weight: burn_weight(weight, gain, device),
        bias: None,
    });
    (input, recurrent)
}

fn uniform_threshold(node: &str, v_threshold: &NirArray) -> Result<f64, NirError> {
    let first = v_threshold.data[0];
    if v_threshold.data.iter().any(|&v| v != first) {
        return Err(NirError::Parameter {
            node: node.to_string(),
            reason: "v_threshold differs between neurons; the layers have one threshold".into(),
        });
    }
    if first.is_nan() || first <= 0.0 {
        return Err(NirError::Parameter {
            node: node.to_string(),
            reason: format!("v_threshold = {first}; the layers need a positive threshold"),
        });
    }
    Ok(first)
}

fn zero(node: &str, field: &str, values: &NirArray) -> Result<(), NirError> {
    match values.data.iter().find(|&&v| v != 0.0) {
        Some(v) => Err(NirError::Parameter {
            node: node.to_string(),
            reason: format!("{field} = {v}; the layers need {field} = 0"),
        }),
        None => Ok(()),
    }
}

impl StepModel for NirNetwork {
    type State = Vec<NirLayerState>;

    fn init_state(&self, batch: usize, device: &Device) -> Self::State {
        self.layers
            .iter()
            .map(|layer| match layer {
                NirLayer::Dense(_) => NirLayerState::Dense,
                NirLayer::Lif(lif) => NirLayerState::Lif(lif.init_state(batch, device)),
                NirLayer::CubaLif(cuba) => {
                    NirLayerState::CubaLif(SpikingCell::init_state(cuba, batch, device))
                }
                NirLayer::Leaky(leaky) => NirLayerState::Leaky(leaky.init_state(batch, device)),
            })
            .collect()
    }

    fn step(&self, x: Tensor<2>, state: Self::State) -> (Tensor<2>, Self::State) {
        assert_eq!(
            state.len(),
            self.layers.len(),
            "NirNetwork::step: a state of {} layers for a network of {}",
            state.len(),
            self.layers.len()
        );
        let mut x = x;
        let mut next = Vec::with_capacity(state.len());
        for (layer, state) in self.layers.iter().zip(state) {
            let new_state;
            (x, new_state) = match (layer, state) {
                (NirLayer::Dense(linear), NirLayerState::Dense) => {
                    (linear.forward(x), NirLayerState::Dense)
                }
                (NirLayer::Lif(lif), NirLayerState::Lif(state)) => {
                    let (y, state) = lif.step(x, state);
                    (y, NirLayerState::Lif(state))
                }
                (NirLayer::CubaLif(cuba), NirLayerState::CubaLif(state)) => {
                    let (y, state) = cuba.step_input(x, state);
                    (y, NirLayerState::CubaLif(state))
                }
                (NirLayer::Leaky(leaky), NirLayerState::Leaky(state)) => {
                    let (y, state) = leaky.step(x, state);
                    (y, NirLayerState::Leaky(state))
                }
                (_, state) => panic!("NirNetwork::step: a state {state:?} for a different layer"),
            };
            next.push(new_state);
        }
        (x, next)
    }
}

impl SpikingModel for NirNetwork {
    fn spiking_layers(&self) -> Vec<SpikingLayer> {
        let widths: Vec<usize> = self
            .layers
            .iter()
            .map(|layer| match layer {
                NirLayer::Dense(linear) => linear.weight.dims()[1],
                NirLayer::Lif(lif) => lif.d_hidden(),
                NirLayer::CubaLif(cuba) => cuba.d_hidden(),
                NirLayer::Leaky(leaky) => leaky.d_output(),
            })
            .collect();
        self.layers
            .iter()
            .enumerate()
            .filter_map(|(i, layer)| {
                let downstream = widths.get(i + 1).copied().unwrap_or(0);
                let name = format!("layer{i}");
                match layer {
                    NirLayer::Lif(lif) => Some(lif.spiking_layer(name, downstream)),
                    NirLayer::CubaLif(cuba) => Some(cuba.spiking_layer(name, downstream)),
                    _ => None,
                }
            })
            .collect()
    }

    fn spikes(&self, state: &Self::State) -> Vec<Tensor<2>> {
        state
            .iter()
            .filter_map(|state| match state {
                NirLayerState::Lif(state) => Some(state.spikes.clone()),
                NirLayerState::CubaLif(state) => Some(state.spikes.clone()),
                _ => None,
            })
            .collect()
    }
}
