//! NIR files (the `hdf5` feature): write and read back, a file written by snnTorch through the
//! `nir` package (tests/data/snntorch.nir, from `tools/nir_crosscheck.py make`) read, imported
//! and run to snnTorch's own recorded spikes, and files that are not NIR graphs.
#![cfg(feature = "hdf5")]

mod common;

use burn::prelude::*;
use burn_fptt::nir::{self, Discretisation, NirError, NirExport, NirNetwork, NirNode, TimeMapping};
use burn_fptt::prelude::*;
use common::values;

fn euler(dt: f64) -> TimeMapping {
    TimeMapping::new(dt, Discretisation::ForwardEuler).unwrap()
}

#[test]
fn a_written_graph_reads_back_identical() {
    let device = default_device();
    device.seed(3);
    let lif = LifConfig::new(3, 5).init(&device);
    let cuba = CubaLifConfig::new(5, 4).init(&device);
    let readout = LeakyReadoutConfig::new(4, 2).init(&device);
    let graph = NirExport::new(3, euler(1e-3))
        .layer("lif", &lif)
        .unwrap()
        .layer("cuba", &cuba)
        .unwrap()
        .layer("out", &readout)
        .unwrap()
        .finish()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.nir");
    nir::write(&graph, &path).unwrap();
    let read = nir::read(&path).unwrap();
    assert_eq!(read.nodes, graph.nodes);
    assert_eq!(read.edges, graph.edges);
}

const SNNTORCH_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/snntorch.nir");

/// snnTorch's exporter: RLeaky with β = linspace(0.80, 0.95, 12), so τ = dt / (1 - β) and
/// r = τ / dt (dt = 1e-4), threshold 0.5; Synaptic with α = linspace(0.5, 0.8, 6), w_in =
/// τ_syn / dt = 1 / (1 - α).
#[test]
fn a_file_written_by_snntorch_reads_with_its_values() {
    let graph = nir::read(SNNTORCH_FILE).unwrap();
    let kinds: Vec<(&str, &str)> = graph
        .nodes
        .iter()
        .map(|(name, node)| (name.as_str(), node.kind()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("0", "Affine"),
            ("1.lif", "LIF"),
            ("1.w_rec", "Affine"),
            ("2", "Affine"),
            ("3", "CubaLIF"),
            ("4", "Affine"),
            ("input", "Input"),
            ("output", "Output"),
        ]
    );
    assert!(graph.edges.contains(&("1.w_rec".into(), "1.lif".into())));
    let NirNode::Lif {
        tau,
        r,
        v_threshold,
        ..
    } = &graph.nodes["1.lif"]
    else {
        unreachable!()
    };
    // β_0 = 0.8 and β_1 = 0.8 + 0.15 / 11 in float32, as snnTorch stores them.
    let beta = [0.8f32 as f64, (0.8f32 + 0.15f32 / 11.0) as f64];
    for (j, beta) in beta.iter().enumerate() {
        let expected_tau = 1e-4 / (1.0 - beta);
        assert!(
            (tau.data[j] - expected_tau).abs() < 1e-9,
            "tau[{j}] = {}",
            tau.data[j]
        );
        assert!(
            (r.data[j] - expected_tau / 1e-4).abs() < 1e-5,
            "r[{j}] = {}",
            r.data[j]
        );
    }
    assert!(v_threshold.data.iter().all(|&v| v == 0.5));
    let NirNode::CubaLif { w_in, .. } = &graph.nodes["3"] else {
        unreachable!()
    };
    assert!(
        (w_in.data[0] - 2.0).abs() < 1e-6,
        "w_in[0] = {}",
        w_in.data[0]
    );
}

/// snnTorch ran its network on an input and recorded the spikes of both layers
/// (tests/data/snntorch_run.json); burn-fptt imports the exported file and fires the same.
#[test]
fn a_network_from_snntorch_fires_snntorchs_spikes() {
    let device = default_device();
    let graph = nir::read(SNNTORCH_FILE).unwrap();
    let network = NirNetwork::from_graph(&graph, euler(1e-4), &device).unwrap();
    let run: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/snntorch_run.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let rows = |key: &str| -> Vec<Vec<f64>> { serde_json::from_value(run[key].clone()).unwrap() };
    let (input, lif, cuba, output) = (rows("input"), rows("lif"), rows("cuba"), rows("output"));
    let mut state = network.init_state(1, &device);
    let mut spikes = 0.0;
    for (t, x) in input.iter().enumerate() {
        let x_t = Tensor::<2>::from_data(
            TensorData::new(x.iter().map(|&v| v as f32).collect(), [1, 3]),
            &device,
        );
        let y;
        (y, state) = network.step(x_t, state);
        let fired = network.spikes(&state);
        assert_eq!(values(fired[0].clone()), lif[t], "step {t}: the LIF layer");
        assert_eq!(
            values(fired[1].clone()),
            cuba[t],
            "step {t}: the CubaLIF layer"
        );
        for (a, b) in values(y).iter().zip(&output[t]) {
            assert!((a - b).abs() < 1e-5, "step {t}: output {a} vs snnTorch {b}");
        }
        spikes += lif[t].iter().sum::<f64>() + cuba[t].iter().sum::<f64>();
    }
    assert!(spikes > 100.0, "the recorded run should fire: {spikes}");
}

fn read_error(path: &std::path::Path) -> String {
    nir::read(path).unwrap_err().to_string()
}

#[test]
fn files_that_are_not_nir_graphs_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.nir");
    assert!(read_error(&missing).contains("missing.nir"));
    let text = dir.path().join("text.nir");
    std::fs::write(&text, "not hdf5").unwrap();
    assert!(read_error(&text).contains("text.nir"));
    let empty = dir.path().join("empty.nir");
    hdf5::File::create(&empty).unwrap();
    let message = read_error(&empty);
    assert!(
        message.contains("empty.nir") && message.contains("not a NIR file"),
        "{message}"
    );
}

fn string(group: &hdf5::Group, name: &str, value: &str) {
    let value: hdf5::types::VarLenUnicode = value.parse().unwrap();
    group
        .new_dataset::<hdf5::types::VarLenUnicode>()
        .create(name)
        .unwrap()
        .write_scalar(&value)
        .unwrap();
}

/// A graph file with one node `bad` of type `kind`, given only the fields in `fields`.
fn graph_file(path: &std::path::Path, kind: &str, fields: &[&str]) {
    let file = hdf5::File::create(path).unwrap();
    let root = file.create_group("node").unwrap();
    string(&root, "type", "NIRGraph");
    let node = root
        .create_group("nodes")
        .unwrap()
        .create_group("bad")
        .unwrap();
    string(&node, "type", kind);
    for field in fields {
        node.new_dataset::<f64>()
            .shape([2])
            .create(*field)
            .unwrap()
            .write_raw(&[1.0, 1.0])
            .unwrap();
    }
    root.new_dataset::<hdf5::types::VarLenUnicode>()
        .shape([0, 2])
        .create("edges")
        .unwrap();
}

#[test]
fn unknown_nodes_and_missing_fields_are_errors_naming_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let conv = dir.path().join("conv.nir");
    graph_file(&conv, "Conv2d", &["weight"]);
    let err = nir::read(&conv).unwrap_err();
    assert!(matches!(err, NirError::UnknownNode { .. }), "{err}");
    assert!(
        err.to_string().contains("node `bad` has type Conv2d"),
        "{err}"
    );
    let lif = dir.path().join("lif.nir");
    graph_file(&lif, "LIF", &["r", "v_leak", "v_threshold"]);
    let err = nir::read(&lif).unwrap_err();
    assert!(
        err.to_string().contains("node `bad` lacks its field `tau`"),
        "{err}"
    );
    let short = dir.path().join("short.nir");
    graph_file(&short, "LI", &["tau", "r"]);
    assert!(
        nir::read(&short)
            .unwrap_err()
            .to_string()
            .contains("`v_leak`")
    );
}

#[test]
fn a_graph_that_fails_validation_is_not_written() {
    let mut graph = burn_fptt::nir::NirGraph::default();
    graph.add_node("input", NirNode::Input { shape: vec![2] });
    graph.add_edge("input", "nowhere");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.nir");
    let err = nir::write(&graph, &path).unwrap_err();
    assert!(err.to_string().contains("`nowhere`"), "{err}");
    assert!(!path.exists());
}
