//! Your own spiking model trained through burn-train's dashboard: a burn-nn `Linear` encoder
//! and `LayerNorm`, two `Ltc` layers with `Dropout` between them and an `LtcReadout`, trained
//! online with FPTT (or, with `--bptt`, the BPTT baseline) on the bundled digits read row by
//! row.
//!
//! On a terminal burn-train shows its TUI dashboard (press `q`, then `s` to stop and keep the
//! last checkpoint); otherwise it prints plain progress and Ctrl-C stops after the current
//! batch. Every epoch is checkpointed; `--resume` continues from the last one. At the end, a
//! spike raster and the training curves are written as PNG next to the metric logs, and the
//! last line printed is a JSON summary.
//!
//! ```text
//! cargo run --release --features train --example custom_model
//! cargo run --release --features train --example custom_model -- --bptt
//! cargo run --release --features train --example custom_model -- --resume
//! ```

mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use burn::data::dataloader::DataLoaderBuilder;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::train::{
    InferenceStep, Learner, SupervisedTraining, TrainOutput, TrainStep, TrainingStrategy,
};
use burn_fptt::data::digits::{self, DigitSequence};
use burn_fptt::prelude::*;
use burn_fptt::train::{
    OnlineStrategy, SequenceBatch, SequenceBatcher, SpikingOutput, atomic_checkpointers,
    bptt_train_step, inference_step, latest_checkpoint, plots, spiking_metrics,
};
use clap::Parser;

/// The user's model: burn-nn layers around two LTC spiking layers.
#[derive(Module, Debug)]
struct DigitNet {
    encoder: Linear,
    norm: LayerNorm,
    ltc1: Ltc,
    dropout: Dropout,
    ltc2: Ltc,
    readout: LtcReadout,
}

impl DigitNet {
    fn new(features: usize, hidden: usize, classes: usize, dropout: f64, device: &Device) -> Self {
        Self {
            encoder: LinearConfig::new(features, hidden).init(device),
            norm: LayerNormConfig::new(hidden).init(device),
            ltc1: LtcConfig::new(hidden, hidden).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            ltc2: LtcConfig::new(hidden, hidden).init(device),
            readout: LtcReadoutConfig::new(hidden, classes).init(device),
        }
    }
}

impl StepModel for DigitNet {
    type State = (LtcState, LtcState, ReadoutState);

    fn init_state(&self, batch: usize, device: &Device) -> Self::State {
        (
            self.ltc1.init_state(batch, device),
            self.ltc2.init_state(batch, device),
            self.readout.init_state(batch, device),
        )
    }

    fn step(&self, x: Tensor<2>, (s1, s2, out): Self::State) -> (Tensor<2>, Self::State) {
        let current = self.norm.forward(self.encoder.forward(x));
        let (spikes1, s1) = self.ltc1.step(current, s1);
        let (spikes2, s2) = self.ltc2.step(self.dropout.forward(spikes1), s2);
        let (scores, out) = self.readout.step(spikes2, out);
        (scores, (s1, s2, out))
    }
}

impl SpikingModel for DigitNet {
    fn spiking_layers(&self) -> Vec<SpikingLayer> {
        // Each layer's spikes drive the next layer and its own recurrent matrix.
        vec![
            self.ltc1.spiking_layer("ltc1", self.ltc2.d_hidden()),
            self.ltc2.spiking_layer("ltc2", self.readout.d_output()),
        ]
    }

    fn spikes(&self, (s1, s2, _): &Self::State) -> Vec<Tensor<2>> {
        vec![s1.spikes.clone(), s2.spikes.clone()]
    }
}

impl TrainStep for DigitNet {
    type Input = SequenceBatch;
    type Output = SpikingOutput;

    fn step(&self, batch: SequenceBatch) -> TrainOutput<SpikingOutput> {
        bptt_train_step(self, batch)
    }
}

impl InferenceStep for DigitNet {
    type Input = SequenceBatch;
    type Output = SpikingOutput;

    fn step(&self, batch: SequenceBatch) -> SpikingOutput {
        inference_step(self, batch)
    }
}

#[derive(Parser, Debug)]
#[command(about = "A custom LTC model trained with FPTT through burn-train's dashboard")]
struct Args {
    /// Train with BPTT (the offline baseline) instead of FPTT.
    #[arg(long)]
    bptt: bool,
    /// Epochs in all (a resumed run continues up to this).
    #[arg(long, default_value_t = 12)]
    epochs: usize,
    /// Neurons per LTC layer.
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    /// Dropout between the LTC layers.
    #[arg(long, default_value_t = 0.1)]
    dropout: f64,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Adamax learning rate.
    #[arg(long, default_value_t = 1e-2)]
    lr: f64,
    /// FPTT alpha.
    #[arg(long, default_value_t = 0.2)]
    alpha: f64,
    /// Seed of the weights, the split, the shuffles and the membranes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Training directory: metric logs, checkpoints and plots (default `runs/custom-METHOD`).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Continue from the last checkpoint in the training directory.
    #[arg(long)]
    resume: bool,
    /// Validation samples drawn in the spike raster.
    #[arg(long, default_value_t = 3)]
    raster_samples: usize,
}

fn main() -> ExitCode {
    support::exit_status(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    support::require_epochs(args.epochs)?;
    if !(args.lr.is_finite() && args.lr > 0.0) {
        return Err(ConfigError::new("--lr", args.lr, "must be finite and > 0").into());
    }
    let method = if args.bptt {
        Method::Bptt(BpttConfig::new())
    } else {
        Method::Fptt(FpttConfig::new().with_alpha(args.alpha))
    };
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/custom-{}", method.name())));
    let device = try_default_device()?.autodiff();
    let adapter = support::announce_device(&device);
    device.seed(args.seed);

    let (train, valid) = digits::bundled(DigitSequence::Rows)?.split(0.2, args.seed);
    let batcher = SequenceBatcher::for_set(&train);
    let train_loader = DataLoaderBuilder::new(batcher)
        .batch_size(args.batch)
        .shuffle(args.seed)
        .build(train.clone());
    let valid_loader = DataLoaderBuilder::new(batcher)
        .batch_size(256)
        .build(valid.clone());

    let model = DigitNet::new(train.features(), args.hidden, 10, args.dropout, &device);
    let layers = model.spiking_layers();
    let strategy = Arc::new(OnlineStrategy::new(method.clone(), &dir)?.with_seed(args.seed));
    let mut training = SupervisedTraining::new(&dir, train_loader, valid_loader)
        .with_training_strategy(TrainingStrategy::Custom(strategy.clone()))
        .num_epochs(args.epochs)
        .summary();
    training = spiking_metrics(training, &model);
    training = atomic_checkpointers(training, &dir);
    let resumed = if args.resume {
        let epoch = latest_checkpoint(&dir).ok_or_else(|| {
            format!(
                "--resume: no whole checkpoint in {}/checkpoint",
                dir.display()
            )
        })?;
        eprintln!("resuming after epoch {epoch} from {}", dir.display());
        training = training.checkpoint(epoch);
        Some(epoch)
    } else {
        None
    };
    let interrupter = training.interrupter();
    // Plain-text mode: Ctrl-C stops after the current batch (the TUI uses `q`, `s`).
    ctrlc::set_handler(move || interrupter.stop(Some("Ctrl-C")))?;

    let started = std::time::Instant::now();
    let result = training.launch(Learner::new(model, AdamaxConfig::new().init(), args.lr));
    let seconds = started.elapsed().as_secs_f64();
    if let Some(failure) = strategy.take_failure() {
        eprintln!(
            "the last good checkpoint is in {}/checkpoint",
            dir.display()
        );
        return Err(failure.into());
    }
    if let Some(error) = result.error {
        return Err(format!("training failed: {error}").into());
    }
    if let Some(stop) = &result.interrupted {
        eprintln!(
            "stopped ({}); resume with --resume from {}",
            stop.reason.as_deref().unwrap_or("interrupted"),
            dir.display()
        );
    }

    let model = result.model;
    let valid_batch = valid.take(args.raster_samples.max(1));
    let (x, _) = valid_batch
        .batches(valid_batch.len(), None, &device.clone().inner())
        .next()
        .expect("a validation sample");
    let trains = plots::SpikeTrains::record(&model, x);
    let labels: Vec<usize> = valid_batch
        .labels()
        .iter()
        .map(|&l| usize::from(l))
        .collect();
    let raster = dir.join("spike_raster.png");
    let curves = dir.join("training_curves.png");
    for (what, outcome) in [
        (
            "spike raster",
            plots::spike_raster(&trains, &labels, &raster),
        ),
        ("training curves", plots::training_curves(&dir, &curves)),
    ] {
        match outcome {
            Ok(()) => eprintln!("wrote the {what}"),
            Err(error) => eprintln!("no {what}: {error}"),
        }
    }
    let valid_accuracy = plots::metric_by_epoch(&dir, "valid", "Accuracy")
        .last()
        .map(|&(_, acc)| acc / 100.0);
    let summary = serde_json::json!({
        "example": "custom_model",
        "method": method.name(),
        "epochs": args.epochs,
        "resumed_after": resumed,
        "interrupted": result.interrupted.is_some(),
        "valid_accuracy": valid_accuracy,
        "spike_rates": (0..layers.len()).map(|l| trains.count(l, 0) as f64 / (trains.steps * layers[l].neurons) as f64).collect::<Vec<_>>(),
        "seconds": seconds,
        "seed": args.seed,
        "hidden": args.hidden,
        "lr": args.lr,
        "commit": support::git_commit(),
        "adapter": adapter,
        "dir": dir.display().to_string(),
    });
    println!("{summary}");
    Ok(())
}
