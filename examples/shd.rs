//! The Spiking Heidelberg Digits (or Spiking Speech Commands) with an LTC spiking network,
//! trained with FPTT or BPTT. Prints progress and, as its last line, one JSON object with the
//! test accuracy, the settings and the commit.
//!
//! ```text
//! cargo run --release --features hdf5 --example shd -- --train shd_train.h5 --test shd_test.h5
//! cargo run --release --features hdf5 --example shd -- --train shd_train.h5 --test shd_test.h5 --learner bptt
//! cargo run --release --features hdf5 --example shd -- --dataset ssc --train ssc_train.h5 --test ssc_test.h5
//! ```
//!
//! The files cannot be downloaded on machines without network access: fetch `shd_train.h5.gz`
//! and `shd_test.h5.gz` from the Heidelberg group's data site (or with tonic), unpack them, and
//! pass their paths. The events are binned into `--steps` steps of `--step-ms` milliseconds
//! from time 0, with `--channel-factor` neighbouring channels of 700 merged.

mod support;

use std::path::PathBuf;
use std::process::ExitCode;

use burn_fptt::data::events::EventBinning;
use burn_fptt::data::shd;
use burn_fptt::prelude::*;
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Learner {
    Fptt,
    Bptt,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Dataset {
    /// Spiking Heidelberg Digits: 20 classes.
    Shd,
    /// Spiking Speech Commands: 35 classes.
    Ssc,
}

#[derive(Parser, Debug)]
#[command(about = "SHD / SSC with an LTC spiking network, FPTT or BPTT")]
struct Args {
    /// The training file (`shd_train.h5`).
    #[arg(long)]
    train: PathBuf,
    /// The test file (`shd_test.h5`).
    #[arg(long)]
    test: PathBuf,
    #[arg(long, value_enum, default_value = "shd")]
    dataset: Dataset,
    #[arg(long, value_enum, default_value = "fptt")]
    learner: Learner,
    /// Time steps per sample.
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// Length of one step in milliseconds.
    #[arg(long, default_value_t = 10.0)]
    step_ms: f64,
    /// Neighbouring channels merged into one input.
    #[arg(long, default_value_t = 5)]
    channel_factor: usize,
    /// 1 where a step has any event, instead of the count.
    #[arg(long)]
    binary: bool,
    /// Neurons per LTC layer.
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// LTC layers.
    #[arg(long, default_value_t = 1)]
    layers: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Adamax learning rate.
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    /// FPTT alpha.
    #[arg(long, default_value_t = 0.1)]
    alpha: f64,
    /// FPTT updates per sequence K (default: one per step).
    #[arg(long)]
    chunks: Option<usize>,
    /// Use only the first N training samples (0: all).
    #[arg(long, default_value_t = 0)]
    train_limit: usize,
    /// Use only the first N test samples (0: all).
    #[arg(long, default_value_t = 0)]
    test_limit: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() -> ExitCode {
    support::exit_status(run(&Args::parse()))
}

fn limit(n: usize) -> Option<usize> {
    (n > 0).then_some(n)
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = std::time::Instant::now();
    support::require_epochs(args.epochs)?;
    let binning = EventBinning::new(shd::CHANNELS, args.steps, args.step_ms * 1e-3)
        .with_channel_factor(args.channel_factor)
        .with_binary(args.binary);
    binning.validate()?;
    let (classes, data) = match args.dataset {
        Dataset::Shd => (shd::SHD_CLASSES, "shd"),
        Dataset::Ssc => (shd::SSC_CLASSES, "ssc"),
    };
    let train = shd::read(&args.train, &binning, classes, limit(args.train_limit))?;
    let test = shd::read(&args.test, &binning, classes, limit(args.test_limit))?;
    let device = try_default_device()?.autodiff();
    let adapter = support::announce_device(&device);
    device.seed(args.seed);
    let model =
        SpikingClassifierConfig::new(train.features(), vec![args.hidden; args.layers], classes)
            .try_init(&device)?;
    let method = match args.learner {
        Learner::Fptt => Method::Fptt(
            FpttConfig::new()
                .with_alpha(args.alpha)
                .with_updates_per_sequence(args.chunks),
        ),
        Learner::Bptt => Method::Bptt(BpttConfig::new()),
    };
    eprintln!(
        "{data} {}: {} training / {} test samples, {} steps x {} inputs, {} x {} LTC neurons",
        method.name(),
        train.len(),
        test.len(),
        train.length(),
        train.features(),
        args.layers,
        args.hidden
    );
    let mut learner = SequenceLearner::new(
        model,
        AdamaxConfig::new().init_multi_tensor(),
        args.lr,
        method,
    )?;
    let reports = fit_with(
        &mut learner,
        &train,
        &test,
        &FitConfig::new(args.epochs, args.batch).with_seed(args.seed),
        &mut support::EpochProgress::new(args.epochs),
    )?;
    let last = reports.last().map(|r| r.test).unwrap_or_default();
    let name = learner.rule().name();
    let summary =
        support::RunSummary::new("shd", data, name, last, args.epochs, started, args.seed)
            .with_settings(serde_json::json!({
                "train_accuracy": reports.last().map(|r| r.train.accuracy),
                "steps": args.steps,
                "step_ms": args.step_ms,
                "channel_factor": args.channel_factor,
                "binary": args.binary,
                "hidden": args.hidden,
                "layers": args.layers,
                "batch": args.batch,
                "lr": args.lr,
                "alpha": args.alpha,
                "chunks": args.chunks,
                "train_samples": train.len(),
                "test_samples": test.len(),
                "train_file": args.train.display().to_string(),
                "adapter": adapter,
            }));
    println!("{}", summary.to_json());
    Ok(())
}
