//! burn-fptt's half of the NIR cross-check with snnTorch (`scripts/nir_crosscheck.sh` runs
//! both halves).
//!
//! ```text
//! cargo run --release --features hdf5 --example nir_crosscheck -- DIR
//! ```
//!
//! Exports a seeded network (Lif -> CubaLif -> Linear, without recurrence: snnTorch 1.0's
//! importer fails on recurrent subgraphs, its own exports included) to
//! `DIR/burn.nir` in snnTorch's convention (forward Euler, dt = 1e-4 s, which its importer
//! assumes) and writes its input, spikes and outputs to `DIR/burn_run.json`. When
//! `DIR/snntorch.nir` and `DIR/snntorch_run.json` exist (written by
//! `tools/nir_crosscheck.py make`), imports the graph, runs it on the same input and writes
//! `DIR/burn_import_run.json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::module::Param;
use burn::nn::LinearConfig;
use burn::prelude::*;
use burn_fptt::nir::{self, Discretisation, NirExport, NirNetwork, TimeMapping};
use burn_fptt::prelude::*;
use clap::Parser;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "burn-fptt's half of the NIR cross-check with snnTorch")]
struct Args {
    /// Folder for the files exchanged with tools/nir_crosscheck.py.
    dir: PathBuf,
    /// Seed of the exported network's weights.
    #[arg(long, default_value_t = 5)]
    seed: u64,
    /// Time steps of the input.
    #[arg(long, default_value_t = 80)]
    steps: usize,
}

/// snnTorch's importer and exporter assume this step.
const SNNTORCH_DT: f64 = 1e-4;

fn rows(tensor: Tensor<2>) -> Vec<Vec<f32>> {
    let [_, width] = tensor.dims();
    let values = tensor.into_data().iter::<f32>().collect::<Vec<_>>();
    values.chunks(width).map(<[f32]>::to_vec).collect()
}

/// Runs `network` step by step on `x` (`[steps, features]`, batch 1): the spikes of each
/// spiking layer and the output, per step.
fn record(network: &NirNetwork, x: &[Vec<f32>], device: &Device) -> serde_json::Value {
    let mut state = network.init_state(1, device);
    let (mut lif, mut cuba, mut output) = (Vec::new(), Vec::new(), Vec::new());
    for row in x {
        let x_t = Tensor::<2>::from_data(TensorData::new(row.clone(), [1, row.len()]), device);
        let y;
        (y, state) = network.step(x_t, state);
        let spikes = network.spikes(&state);
        lif.extend(rows(spikes[0].clone()));
        cuba.extend(rows(spikes[1].clone()));
        output.extend(rows(y));
    }
    json!({"input": x, "lif": lif, "cuba": cuba, "output": output})
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), String> {
    std::fs::write(path, value.to_string()).map_err(|err| format!("{}: {err}", path.display()))
}

fn run(args: &Args) -> Result<(), String> {
    let device = default_device();
    let time =
        TimeMapping::new(SNNTORCH_DT, Discretisation::ForwardEuler).map_err(|e| e.to_string())?;
    device.seed(args.seed);
    let mut lif = LifConfig::new(3, 16)
        .with_recurrent(false)
        .with_threshold(0.1)
        .init(&device);
    lif.input.weight = Param::from_tensor(lif.input.weight.val() * 3.0);
    let mut cuba = CubaLifConfig::new(16, 8)
        .with_recurrent(false)
        .with_threshold(0.1)
        .init(&device);
    cuba.input.weight = Param::from_tensor(cuba.input.weight.val().abs() * 4.0);
    let readout = LinearConfig::new(8, 2).init(&device);
    let graph = NirExport::new(3, time)
        .layer("lif", &lif)
        .and_then(|export| export.layer("cuba", &cuba))
        .and_then(|export| export.layer("readout", &readout))
        .and_then(NirExport::finish)
        .map_err(|e| e.to_string())?;
    nir::write(&graph, args.dir.join("burn.nir")).map_err(|e| e.to_string())?;
    // Run what was written, read back: the file is what snnTorch gets.
    let network = NirNetwork::from_graph(
        &nir::read(args.dir.join("burn.nir")).map_err(|e| e.to_string())?,
        time,
        &device,
    )
    .map_err(|e| e.to_string())?;
    let x: Vec<Vec<f32>> = (0..args.steps)
        .map(|t| {
            (0..3)
                .map(|i| (0.3 * t as f32 + i as f32).sin() + 0.5)
                .collect()
        })
        .collect();
    write_json(
        &args.dir.join("burn_run.json"),
        &record(&network, &x, &device),
    )?;
    eprintln!("wrote {}", args.dir.join("burn.nir").display());

    let theirs = args.dir.join("snntorch.nir");
    if theirs.exists() {
        let graph = nir::read(&theirs).map_err(|e| e.to_string())?;
        let network = NirNetwork::from_graph(&graph, time, &device).map_err(|e| e.to_string())?;
        let run_path = args.dir.join("snntorch_run.json");
        let run: serde_json::Value = std::fs::read_to_string(&run_path)
            .map_err(|err| format!("{}: {err}", run_path.display()))
            .and_then(|text| {
                serde_json::from_str(&text).map_err(|err| format!("{}: {err}", run_path.display()))
            })?;
        let x: Vec<Vec<f32>> = serde_json::from_value(run["input"].clone())
            .map_err(|err| format!("{}: input: {err}", run_path.display()))?;
        write_json(
            &args.dir.join("burn_import_run.json"),
            &record(&network, &x, &device),
        )?;
        eprintln!(
            "imported {} ({} layers)",
            theirs.display(),
            network.layers.len()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
