//! NIR export and import: the mapping worked by hand, the exported graph simulated as NIR
//! defines it (an independent simulator below) against the layers, the round trip, fine-tuning
//! an imported network, and every rejected input.

mod common;

use burn::module::Param;
use burn::prelude::*;
use burn_fptt::nir::{
    Discretisation, NirArray, NirError, NirExport, NirGraph, NirLayer, NirNetwork, NirNode,
    TimeMapping,
};
use burn_fptt::prelude::*;
use common::{linear, values};

const DT: f64 = 1e-3;

fn euler() -> TimeMapping {
    TimeMapping::new(DT, Discretisation::ForwardEuler).unwrap()
}

fn exponential() -> TimeMapping {
    TimeMapping::new(DT, Discretisation::Exponential).unwrap()
}

fn taus(values: [f64; 2], device: &Device) -> Param<Tensor<1>> {
    Param::from_tensor(Tensor::from_floats(values, device))
}

/// A recurrent Lif with τ = [2, 4] steps and hand-picked weights.
fn hand_lif(device: &Device) -> Lif {
    let mut lif = LifConfig::new(2, 2).init(device);
    lif.input = linear([[0.5, -1.0], [2.0, 0.25]], Some([0.1, -0.2]), device);
    lif.recurrent = Some(linear([[0.0, 0.5], [-0.5, 0.0]], None, device));
    lif.tau_mem = taus([2.0, 4.0], device);
    lif
}

fn array(graph: &NirGraph, node: &str, field: &str) -> Vec<f64> {
    let (_, array) = graph.nodes[node]
        .arrays()
        .into_iter()
        .find(|(name, _)| *name == field)
        .unwrap();
    array.data.clone()
}

fn assert_all_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= tol * (1.0 + e.abs()), "[{i}]: {a} vs {e}");
    }
}

/// α = exp(-1/2), exp(-1/4); forward Euler τ = dt / (1 - α), r = 1 / (1 - α); the Affine's rows
/// scaled by 1 - α (numpy, printed to 17 digits).
#[test]
fn a_lif_exports_with_the_documented_mapping() {
    let device = default_device();
    let graph = NirExport::new(2, euler())
        .layer("hidden", &hand_lif(&device))
        .unwrap()
        .finish()
        .unwrap();
    let tol = 1e-6;
    assert_all_close(
        &array(&graph, "hidden.lif", "tau"),
        &[0.0025414940825368, 0.0045208116641878],
        tol,
    );
    assert_all_close(
        &array(&graph, "hidden.lif", "r"),
        &[2.5414940825367984, 4.520811664187799],
        tol,
    );
    assert_eq!(array(&graph, "hidden.lif", "v_threshold"), [0.1, 0.1]);
    assert_eq!(array(&graph, "hidden.lif", "v_reset"), [0.0, 0.0]);
    assert_eq!(array(&graph, "hidden.lif", "v_leak"), [0.0, 0.0]);
    assert_all_close(
        &array(&graph, "hidden.fc", "weight"),
        &[
            0.1967346701436833,
            0.7869386805747332,
            -0.22119921692859512,
            0.05529980423214878,
        ],
        tol,
    );
    assert_all_close(
        &array(&graph, "hidden.fc", "bias"),
        &[0.03934693402873666, -0.04423984338571903],
        tol,
    );
    // W_r' = (1 - α_j) W_r[j][i]: row 0 is (1 - α_0) * [0, -0.5], row 1 (1 - α_1) * [0.5, 0].
    assert_all_close(
        &array(&graph, "hidden.rec", "weight"),
        &[
            0.0,
            -0.5 * 0.3934693402873666,
            0.5 * 0.2211992169285951,
            0.0,
        ],
        tol,
    );
    let mut edges = graph.edges.clone();
    edges.sort();
    let expected = [
        ("hidden.fc", "hidden.lif"),
        ("hidden.lif", "hidden.rec"),
        ("hidden.lif", "output"),
        ("hidden.rec", "hidden.lif"),
        ("input", "hidden.fc"),
    ];
    assert_eq!(edges, expected.map(|(a, b)| (a.to_string(), b.to_string())));
    // The exponential mapping: τ = dt · τ_steps exactly.
    let graph = NirExport::new(2, exponential())
        .layer("hidden", &hand_lif(&device))
        .unwrap()
        .finish()
        .unwrap();
    assert_all_close(&array(&graph, "hidden.lif", "tau"), &[0.002, 0.004], 1e-12);
}

/// The per-step decay of `τ`: `exp(-dt/τ)`, or forward Euler's `1 - dt/τ` (so that both read
/// `v ← α v + (1 - α)(v_leak + r I)`).
fn decay(time: TimeMapping, tau: f64) -> f64 {
    match time.discretisation() {
        Discretisation::Exponential => (-time.dt() / tau).exp(),
        Discretisation::ForwardEuler => 1.0 - time.dt() / tau,
    }
}

/// A NIR simulator written from the standard's equations, independent of the crate: one step
/// of `dt` with the chosen discretisation, edges into a node summed, a cycle's edge carrying
/// the previous step's value. For chains of projections and neurons.
struct NirSimulation<'g> {
    graph: &'g NirGraph,
    time: TimeMapping,
    order: Vec<String>,
    outputs: std::collections::BTreeMap<String, Vec<f64>>,
    membrane: std::collections::BTreeMap<String, Vec<f64>>,
    current: std::collections::BTreeMap<String, Vec<f64>>,
}

impl<'g> NirSimulation<'g> {
    fn new(graph: &'g NirGraph, time: TimeMapping) -> Self {
        // Feed-forward order: from the input, follow edges not already visited.
        let mut order = vec!["input".to_string()];
        let mut i = 0;
        while i < order.len() {
            for next in graph.successors(&order[i]) {
                if !order.iter().any(|n| n == next) {
                    order.push(next.to_string());
                }
            }
            i += 1;
        }
        let mut outputs = std::collections::BTreeMap::new();
        for (name, node) in &graph.nodes {
            let (_, width) = node.widths(name).unwrap();
            outputs.insert(name.clone(), vec![0.0; width]);
        }
        Self {
            graph,
            time,
            order,
            outputs,
            membrane: Default::default(),
            current: Default::default(),
        }
    }

    fn step(&mut self, x: &[f64]) -> Vec<f64> {
        let order = self.order.clone();
        for name in &order {
            let node = &self.graph.nodes[name];
            // Inputs: the sum over incoming edges; a predecessor later in the order (or this
            // node itself) still holds last step's output.
            let (width_in, _) = node.widths(name).unwrap();
            let mut input = vec![0.0; width_in];
            for from in self.graph.predecessors(name) {
                for (acc, v) in input.iter_mut().zip(&self.outputs[from]) {
                    *acc += v;
                }
            }
            let project = |weight: &NirArray, bias: Option<&NirArray>| -> Vec<f64> {
                let (rows, cols) = (weight.shape[0], weight.shape[1]);
                (0..rows)
                    .map(|j| {
                        let dot: f64 = (0..cols).map(|i| weight.at(j, i) * input[i]).sum();
                        dot + bias.map_or(0.0, |b| b.data[j])
                    })
                    .collect()
            };
            let out = match node {
                NirNode::Input { .. } => x.to_vec(),
                NirNode::Output { .. } => input.clone(),
                NirNode::Affine { weight, bias } => project(weight, Some(bias)),
                NirNode::Linear { weight } => project(weight, None),
                NirNode::Lif {
                    tau,
                    r,
                    v_leak,
                    v_threshold,
                    v_reset,
                } => {
                    let v = self
                        .membrane
                        .entry(name.clone())
                        .or_insert(vec![0.0; width_in]);
                    let mut spikes = vec![0.0; width_in];
                    for j in 0..width_in {
                        let a = decay(self.time, tau.data[j]);
                        v[j] = a * v[j] + (1.0 - a) * (v_leak.data[j] + r.data[j] * input[j]);
                        if v[j] > v_threshold.data[j] {
                            spikes[j] = 1.0;
                            v[j] = v_reset.data[j];
                        }
                    }
                    spikes
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
                    let i_syn = self
                        .current
                        .entry(name.clone())
                        .or_insert(vec![0.0; width_in]);
                    let v = self
                        .membrane
                        .entry(name.clone())
                        .or_insert(vec![0.0; width_in]);
                    let mut spikes = vec![0.0; width_in];
                    for j in 0..width_in {
                        let b = decay(self.time, tau_syn.data[j]);
                        let a = decay(self.time, tau_mem.data[j]);
                        i_syn[j] = b * i_syn[j] + (1.0 - b) * w_in.data[j] * input[j];
                        v[j] = a * v[j] + (1.0 - a) * (v_leak.data[j] + r.data[j] * i_syn[j]);
                        if v[j] > v_threshold.data[j] {
                            spikes[j] = 1.0;
                            v[j] = v_reset.data[j];
                        }
                    }
                    spikes
                }
                NirNode::Li { tau, r, v_leak } => {
                    let v = self
                        .membrane
                        .entry(name.clone())
                        .or_insert(vec![0.0; width_in]);
                    for j in 0..width_in {
                        let a = decay(self.time, tau.data[j]);
                        v[j] = a * v[j] + (1.0 - a) * (v_leak.data[j] + r.data[j] * input[j]);
                    }
                    v.clone()
                }
            };
            self.outputs.insert(name.clone(), out);
        }
        self.outputs["output"].clone()
    }
}

/// A spiking network of every exportable layer: Lif (recurrent) -> CubaLif (recurrent) ->
/// LeakyReadout, with the default random weights scaled up so that neurons fire.
fn network(device: &Device) -> (Lif, CubaLif, LeakyReadout) {
    device.seed(7);
    let mut lif = LifConfig::new(3, 6).with_threshold(0.1).init(device);
    lif.input.weight = Param::from_tensor((lif.input.weight.val() * 3.0).detach());
    let mut cuba = CubaLifConfig::new(6, 5).with_threshold(0.1).init(device);
    cuba.input.weight = Param::from_tensor((cuba.input.weight.val().abs() * 4.0).detach());
    let readout = LeakyReadoutConfig::new(5, 2).init(device);
    (lif, cuba, readout)
}

fn drive(device: &Device, batch: usize, steps: usize) -> Tensor<3> {
    let values: Vec<f32> = (0..batch * steps * 3)
        .map(|i| (1.3 * i as f32).sin() + 0.4)
        .collect();
    Tensor::from_data(TensorData::new(values, [batch, steps, 3]), device)
}

fn export(layers: &(Lif, CubaLif, LeakyReadout), time: TimeMapping) -> NirGraph {
    NirExport::new(3, time)
        .layer("lif", &layers.0)
        .unwrap()
        .layer("cuba", &layers.1)
        .unwrap()
        .layer("readout", &layers.2)
        .unwrap()
        .finish()
        .unwrap()
}

/// The exported graph, run by the NIR simulator above, fires the same spikes as the layers in
/// both discretisations, and its LI potential is the readout's.
#[test]
fn the_exported_graph_simulated_as_nir_matches_the_layers() {
    let device = default_device();
    let layers = network(&device);
    let (batch, steps) = (1, 60);
    let x = drive(&device, batch, steps);
    let (s1, _) = layers.0.forward(x.clone(), None);
    let (s2, _) = layers.1.forward(s1.clone(), None);
    let (scores, _) = layers.2.forward(s2.clone(), None);
    let (s1, s2, scores) = (values(s1), values(s2), values(scores));
    let (n1, n2) = (s1.iter().sum::<f64>(), s2.iter().sum::<f64>());
    assert!(
        n1 > 10.0 && n2 > 5.0,
        "too few spikes to compare: {n1}, {n2}"
    );
    let xs = values(x);
    for time in [euler(), exponential()] {
        let graph = export(&layers, time);
        let mut sim = NirSimulation::new(&graph, time);
        for t in 0..steps {
            let out = sim.step(&xs[t * 3..t * 3 + 3]);
            assert_eq!(
                sim.outputs["lif.lif"],
                s1[t * 6..t * 6 + 6],
                "{time:?} step {t}: Lif spikes"
            );
            assert_eq!(
                sim.outputs["cuba.cubalif"],
                s2[t * 5..t * 5 + 5],
                "{time:?} step {t}: CubaLif spikes"
            );
            assert_all_close(&out, &scores[t * 2..t * 2 + 2], 1e-5);
        }
    }
}

/// Export then import gives back the same layers: the same outputs, bit for bit.
#[test]
fn the_round_trip_gives_identical_outputs() {
    let device = default_device();
    let layers = network(&device);
    let x = drive(&device, 2, 30);
    let (s1, _) = layers.0.forward(x.clone(), None);
    let (s2, _) = layers.1.forward(s1, None);
    let (expected, _) = layers.2.forward(s2, None);
    for time in [euler(), exponential()] {
        let network = NirNetwork::from_graph(&export(&layers, time), time, &device).unwrap();
        assert_eq!(network.layers.len(), 3);
        let (actual, _) = network.run(x.clone(), None);
        let (actual, expected) = (values(actual), values(expected.clone()));
        assert_all_close(&actual, &expected, 1e-6);
        let NirLayer::Lif(lif) = &network.layers[0] else {
            panic!("layer 0 is a Lif")
        };
        assert_all_close(
            &values(lif.tau_mem.val()),
            &values(layers.0.tau_mem.val()),
            1e-6,
        );
        assert_all_close(
            &values(lif.input.weight.val()),
            &values(layers.0.input.weight.val()),
            1e-6,
        );
        assert_eq!(lif.threshold, layers.0.threshold);
        assert_eq!(network.spiking_layers().len(), 2);
    }
}

/// A dense layer (burn's Linear) exports as Affine, or Linear without a bias, and comes back.
#[test]
fn a_linear_layer_round_trips_as_affine_or_linear() {
    let device = default_device();
    let with_bias = linear(
        [[1.0, -2.0, 0.5], [0.25, 0.0, 3.0]],
        Some([0.5, -0.5, 1.0]),
        &device,
    );
    let without = linear([[1.0], [-1.0], [2.0]], None, &device);
    let graph = NirExport::new(2, euler())
        .layer("a", &with_bias)
        .unwrap()
        .layer("b", &without)
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(graph.nodes["a"].kind(), "Affine");
    assert_eq!(graph.nodes["b"].kind(), "Linear");
    // NIR holds [out, in]: row 0 of `a` is the first output's weights.
    assert_eq!(
        array(&graph, "a", "weight"),
        [1.0, 0.25, -2.0, 0.0, 0.5, 3.0]
    );
    let network = NirNetwork::from_graph(&graph, euler(), &device).unwrap();
    let x = Tensor::<3>::from_floats([[[1.0, 2.0]]], &device);
    // a: [1 + 0.5 + 0.5, -2 + 0 - 0.5, 0.5 + 6 + 1] = [2, -2.5, 7.5]; b: 2 + 2.5 + 15 = 19.5.
    let (y, _) = network.run(x, None);
    assert_eq!(values(y), [19.5]);
}

/// A network imported from NIR fine-tunes online with FPTT: its weights move and the loss is
/// finite.
#[test]
fn an_imported_network_fine_tunes_with_fptt() {
    let device = default_device().autodiff();
    let layers = network(&device);
    let network = NirNetwork::from_graph(&export(&layers, euler()), euler(), &device).unwrap();
    let NirLayer::Lif(lif) = &network.layers[0] else {
        panic!("layer 0 is a Lif")
    };
    let before = values(lif.input.weight.val());
    let mut learner = SequenceLearner::new(
        network,
        AdamaxConfig::new().init(),
        1e-2,
        FpttConfig::new().with_updates_per_sequence(Some(4)),
    )
    .unwrap();
    let classes = Tensor::<1, Int>::from_ints([0, 1], &device);
    let stats = learner.train_batch(drive(&device, 2, 20), classes).unwrap();
    assert_eq!(learner.updates(), 4);
    assert!(stats.loss.is_finite());
    let NirLayer::Lif(lif) = &learner.model().layers[0] else {
        panic!("layer 0 is a Lif")
    };
    assert_ne!(values(lif.input.weight.val()), before);
}

#[test]
fn layers_without_a_nir_node_are_errors_naming_them() {
    let device = default_device();
    let ltc = LtcConfig::new(3, 4).init(&device);
    let alif = AlifConfig::new(3, 4).init(&device);
    let readout = LtcReadoutConfig::new(3, 2).init(&device);
    let cases: [(&str, Result<NirExport, NirError>); 3] = [
        ("`ltc` (Ltc)", NirExport::new(3, euler()).layer("ltc", &ltc)),
        (
            "`alif` (Alif)",
            NirExport::new(3, euler()).layer("alif", &alif),
        ),
        (
            "`out` (LtcReadout)",
            NirExport::new(3, euler()).layer("out", &readout),
        ),
    ];
    for (name, result) in cases {
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains(name) && message.contains("no NIR equivalent"),
            "{message}"
        );
    }
}

#[test]
fn settings_nir_cannot_express_are_errors() {
    let device = default_device();
    let soft = LifConfig::new(3, 4)
        .with_reset(ResetMode::Soft)
        .init(&device);
    let smooth = CubaLifConfig::new(3, 4)
        .with_smooth_spikes(true)
        .init(&device);
    let random = LifConfig::new(3, 4)
        .with_initial_membrane(InitialMembrane::Uniform)
        .init(&device);
    for (result, what) in [
        (
            NirExport::new(3, euler()).layer("soft", &soft),
            "soft reset",
        ),
        (
            NirExport::new(3, euler()).layer("smooth", &smooth),
            "smooth spikes",
        ),
        (
            NirExport::new(3, euler()).layer("random", &random),
            "random initial membrane",
        ),
    ] {
        let message = result.unwrap_err().to_string();
        assert!(message.contains(what), "{message}");
    }
}

#[test]
fn bad_export_settings_are_errors() {
    let device = default_device();
    let lif = LifConfig::new(3, 4).init(&device);
    let err = NirExport::new(5, euler()).layer("lif", &lif).unwrap_err();
    assert!(
        err.to_string()
            .contains("takes 3 features but `input` gives 5"),
        "{err}"
    );
    for name in ["", "a.b", "input", "output"] {
        let err = NirExport::new(3, euler()).layer(name, &lif).unwrap_err();
        assert!(err.to_string().contains("layer name"), "{name:?}: {err}");
    }
    let twice = NirExport::new(3, euler()).layer("lif", &lif).unwrap();
    let err = twice
        .layer("lif", &LifConfig::new(4, 4).init(&device))
        .unwrap_err();
    assert!(err.to_string().contains("layer name"), "{err}");
    for dt in [0.0, -1.0, f64::NAN] {
        let err = TimeMapping::new(dt, Discretisation::Exponential).unwrap_err();
        assert!(err.to_string().contains("invalid dt"), "{err}");
    }
}

fn lif_graph(device: &Device) -> NirGraph {
    NirExport::new(2, euler())
        .layer("hidden", &hand_lif(device))
        .unwrap()
        .finish()
        .unwrap()
}

fn import_error(graph: &NirGraph) -> String {
    NirNetwork::from_graph(graph, euler(), &default_device())
        .unwrap_err()
        .to_string()
}

#[test]
fn graphs_that_cannot_be_imported_are_errors_naming_the_node() {
    let device = default_device();
    let base = lif_graph(&device);
    let with = |edit: &dyn Fn(&mut NirGraph)| {
        let mut graph = base.clone();
        edit(&mut graph);
        import_error(&graph)
    };
    let set = |graph: &mut NirGraph, field: &str, values: Vec<f64>| {
        let NirNode::Lif {
            v_threshold,
            v_reset,
            tau,
            ..
        } = graph.nodes.get_mut("hidden.lif").unwrap()
        else {
            unreachable!()
        };
        let target = match field {
            "v_threshold" => v_threshold,
            "v_reset" => v_reset,
            _ => tau,
        };
        target.data = values;
    };
    let cases: Vec<(String, &str)> = vec![
        (
            with(&|g| set(g, "v_threshold", vec![0.1, 0.2])),
            "`hidden.lif`: v_threshold differs",
        ),
        (
            with(&|g| set(g, "v_reset", vec![0.0, -0.5])),
            "`hidden.lif`: v_reset = -0.5",
        ),
        (
            with(&|g| set(g, "tau", vec![0.0005, 0.004])),
            "`hidden.lif`: time constant 0.0005 is not longer than the step",
        ),
        (
            with(&|g| set(g, "tau", vec![0.0015, 0.004])),
            "`hidden.lif`: time constant 0.0015 is 0.910 steps",
        ),
        (
            with(&|g| set(g, "v_threshold", vec![f64::NAN, f64::NAN])),
            "`hidden.lif`: v_threshold holds NaN",
        ),
        (
            with(&|g| g.add_edge("input", "ghost")),
            "names node `ghost`",
        ),
        (
            with(&|g| g.add_node("in2", NirNode::Input { shape: vec![2] })),
            "exactly one Input",
        ),
        (
            with(&|g| g.add_edge("input", "output")),
            "at `input`: it feeds 2 nodes",
        ),
        (
            with(&|g| g.add_node("stray", NirNode::Input { shape: vec![2] })),
            "exactly one Input",
        ),
        (
            with(&|g| {
                g.add_node("lone", NirNode::Output { shape: vec![2] });
            }),
            "at `lone`: it is not on the chain",
        ),
        (
            with(&|g| g.add_edge("hidden.fc", "output")),
            "at `hidden.fc`: it feeds 2 nodes",
        ),
        (
            with(&|g| {
                g.add_node(
                    "extra",
                    NirNode::Linear {
                        weight: NirArray::matrix(2, 2, vec![0.0; 4]),
                    },
                );
                g.add_edge("input", "extra");
            }),
            "at `input`: it feeds 2 nodes",
        ),
        (
            with(&|g| {
                g.nodes.insert(
                    "hidden.fc".into(),
                    NirNode::Linear {
                        weight: NirArray::matrix(3, 2, vec![0.0; 6]),
                    },
                );
            }),
            "`hidden.lif`: takes 2 features but `hidden.fc` gives 3",
        ),
        (
            with(&|g| {
                g.nodes.insert(
                    "hidden.fc".into(),
                    NirNode::Affine {
                        weight: NirArray::matrix(2, 2, vec![0.0; 4]),
                        bias: NirArray::vector(vec![0.0; 3]),
                    },
                );
            }),
            "`hidden.fc`: bias must be [2]",
        ),
    ];
    for (message, expected) in cases {
        assert!(
            message.contains(expected),
            "expected {expected:?} in: {message}"
        );
    }
}

#[test]
fn an_li_node_with_a_loop_or_neurons_without_projection_are_errors() {
    let device = default_device();
    let readout = LeakyReadoutConfig::new(2, 2).init(&device);
    let mut graph = NirExport::new(2, euler())
        .layer("out", &readout)
        .unwrap()
        .finish()
        .unwrap();
    graph.add_node(
        "out.rec",
        NirNode::Linear {
            weight: NirArray::matrix(2, 2, vec![0.0; 4]),
        },
    );
    graph.add_edge("out.li", "out.rec");
    graph.add_edge("out.rec", "out.li");
    let message = import_error(&graph);
    assert!(
        message.contains("`out.li`: an LI node cannot feed itself back"),
        "{message}"
    );

    let mut graph = lif_graph(&device);
    graph.edges.retain(|edge| edge.0 != "input");
    graph.add_edge("input", "hidden.lif");
    graph
        .edges
        .retain(|edge| edge.1 != "hidden.lif" || edge.0 != "hidden.fc");
    graph.nodes.remove("hidden.fc");
    let message = import_error(&graph);
    assert!(
        message.contains("a layer starts with an Affine or Linear node, this is LIF"),
        "{message}"
    );
}
