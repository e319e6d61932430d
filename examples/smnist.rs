//! Sequential MNIST (one pixel per step, 784 steps) and permuted sequential MNIST, trained with
//! FPTT or BPTT on the same LTC network. Prints progress and, as its last line, one JSON object
//! with the test accuracy, the settings, the permutation's seed and the commit.
//!
//! ```text
//! scripts/fetch_mnist.sh                      # once: the MNIST files into data/mnist
//! cargo run --release --example smnist -- --train-limit 2000 --test-limit 1000 --epochs 3
//! cargo run --release --example smnist -- --learner bptt --permuted
//! cargo run --release --example smnist -- --steps rows --layers 1 --hidden 128 --chunks 28
//! cargo run --release --features wgpu --example smnist    # on the GPU
//! ```
//!
//! The data directory is `--data DIR`, else `$BURN_FPTT_MNIST`, else `data/mnist`.

mod support;

use std::path::PathBuf;
use std::process::ExitCode;

use burn_fptt::data::idx::{MnistSequence, load_mnist_first, mnist_dir};
use burn_fptt::data::{DataError, SequenceSet};
use burn_fptt::prelude::*;
use clap::{Parser, ValueEnum};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Learner {
    Fptt,
    Bptt,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Steps {
    /// 784 steps of one pixel (S-MNIST).
    Pixels,
    /// 28 steps of one row of 28 pixels.
    Rows,
}

#[derive(Parser, Debug)]
#[command(about = "S-MNIST / PS-MNIST with an LTC spiking network, FPTT or BPTT")]
struct Args {
    /// Learning rule.
    #[arg(long, value_enum, default_value = "fptt")]
    learner: Learner,
    /// How an image becomes a sequence.
    #[arg(long, value_enum, default_value = "pixels")]
    steps: Steps,
    /// Permute the 784 pixels with a fixed permutation drawn from `--permutation-seed`.
    #[arg(long)]
    permuted: bool,
    /// Seed of the PS-MNIST permutation (recorded in the results).
    #[arg(long, default_value_t = 1234)]
    permutation_seed: u64,
    /// A learnable sigmoid slope in every gate (one scalar per gate, from 1), as in the
    /// method's published S-MNIST network.
    #[arg(long)]
    gate_slope: bool,
    /// Normalise every drive per time step (batch statistics in training, running statistics
    /// per step in evaluation), as in the method's published S-MNIST network.
    #[arg(long)]
    step_norm: bool,
    /// Neurons per LTC layer.
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    /// LTC layers.
    #[arg(long, default_value_t = 2)]
    layers: usize,
    #[arg(long, default_value_t = 64)]
    batch: usize,
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Adamax learning rate.
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    /// FPTT alpha.
    #[arg(long, default_value_t = 0.1)]
    alpha: f64,
    /// FPTT: keep the trained weights at the end of each epoch instead of W <- W̄.
    #[arg(long)]
    no_epoch_average: bool,
    /// FPTT: weight γ of the terminal-prediction term (off by default; see
    /// `FpttConfig::terminal_prediction`).
    #[arg(long)]
    terminal_prediction: Option<f64>,
    /// FPTT: weight γ of the distribution loss (off by default; the method's reference code
    /// uses 1; see `FpttConfig::distribution_targets`).
    #[arg(long)]
    distribution_targets: Option<f64>,
    /// FPTT: weight of the task loss at each step: `ramp` (the method's), `chunk-ends` (only at
    /// the end of each chunk, ramped over the chunks), `last` or `every`.
    #[arg(long, default_value = "ramp")]
    loss: LossSchedule,
    /// FPTT updates per sequence K (default: one per pixel).
    #[arg(long)]
    chunks: Option<usize>,
    /// BPTT: truncate every N steps and update once per window, with FPTT's linear-ramp loss
    /// (default: the whole sequence, one update, last-step loss).
    #[arg(long)]
    truncation: Option<usize>,
    /// Use only the first N training images (0: all 60 000).
    #[arg(long, default_value_t = 0)]
    train_limit: usize,
    /// Use only the first N test images (0: all 10 000).
    #[arg(long, default_value_t = 0)]
    test_limit: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Directory of the MNIST IDX files (raw or .gz).
    #[arg(long)]
    data: Option<PathBuf>,
}

/// The first `n` images of a split (`0`: all of them).
fn first(
    dir: &std::path::Path,
    split: &str,
    n: usize,
    steps: MnistSequence,
) -> Result<SequenceSet, DataError> {
    let n = if n == 0 { usize::MAX } else { n };
    load_mnist_first(dir, split, steps, n)
}

fn main() -> ExitCode {
    support::exit_status(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = std::time::Instant::now();
    let dir = mnist_dir(args.data.as_deref());
    let steps = match args.steps {
        Steps::Pixels => MnistSequence::Pixels,
        Steps::Rows => MnistSequence::Rows,
    };
    let mut train = first(&dir, "train", args.train_limit, steps)?;
    let mut test = first(&dir, "test", args.test_limit, steps)?;
    if args.permuted {
        if matches!(args.steps, Steps::Rows) {
            return Err(
                "--permuted permutes the 784 pixel steps: use it with --steps pixels".into(),
            );
        }
        let mut permutation: Vec<usize> = (0..784).collect();
        permutation.shuffle(&mut StdRng::seed_from_u64(args.permutation_seed));
        train = train.permute_steps(&permutation)?;
        test = test.permute_steps(&permutation)?;
    }
    let device = try_default_device()?.autodiff();
    let adapter = support::announce_device(&device);
    device.seed(args.seed);
    let model = SpikingClassifierConfig::new(train.features(), vec![args.hidden; args.layers], 10)
        .with_gate_slope(args.gate_slope)
        .with_step_norm(args.step_norm.then(|| train.length()))
        .try_init(&device)?;
    let method = match args.learner {
        Learner::Fptt => Method::Fptt(
            FpttConfig::new()
                .with_alpha(args.alpha)
                .with_updates_per_sequence(args.chunks)
                .with_terminal_prediction(args.terminal_prediction)
                .with_distribution_targets(args.distribution_targets)
                .with_average_at_epoch_end(!args.no_epoch_average)
                .with_loss(args.loss),
        ),
        // Truncated BPTT updates once per window, so every step's loss counts (FPTT's
        // ramp); with the last-step loss only the final window would ever update.
        Learner::Bptt => Method::Bptt(match args.truncation {
            Some(window) => BpttConfig::new()
                .with_truncation(Some(window))
                .with_loss(LossSchedule::LinearRamp),
            None => BpttConfig::new(),
        }),
    };
    eprintln!(
        "{} {}: {} training / {} test images from {}, {} x {} LTC neurons, batch {}",
        match (args.steps, args.permuted) {
            (Steps::Rows, _) => "MNIST by rows",
            (Steps::Pixels, true) => "PS-MNIST",
            (Steps::Pixels, false) => "S-MNIST",
        },
        method.name(),
        train.len(),
        test.len(),
        dir.display(),
        args.layers,
        args.hidden,
        args.batch
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
    let data = match (args.steps, args.permuted) {
        (Steps::Rows, _) => "mnist-rows",
        (Steps::Pixels, true) => "ps-mnist",
        (Steps::Pixels, false) => "s-mnist",
    };
    let name = learner.rule().name();
    let summary =
        support::RunSummary::new("smnist", data, name, last, args.epochs, started, args.seed)
            .with_settings(serde_json::json!({
                "train_accuracy": reports.last().map(|r| r.train.accuracy),
                "permutation_seed": args.permuted.then_some(args.permutation_seed),
                "hidden": args.hidden,
                "layers": args.layers,
                "gate_slope": args.gate_slope,
                "step_norm": args.step_norm,
                "batch": args.batch,
                "lr": args.lr,
                "alpha": args.alpha,
                "chunks": args.chunks,
                "loss": format!("{:?}", learner.rule().loss_schedule()),
                "terminal_prediction": args.terminal_prediction,
                "distribution_targets": args.distribution_targets,
                "epoch_average": !args.no_epoch_average,
                "truncation": args.truncation,
                "steps": train.length(),
                "train_samples": train.len(),
                "test_samples": test.len(),
                "adapter": adapter,
            }));
    println!("{}", summary.to_json());
    Ok(())
}
