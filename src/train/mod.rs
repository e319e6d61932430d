//! Training through burn-train (cargo feature `train`): FPTT and BPTT as training strategies,
//! metrics for spiking networks, atomic checkpoints and plots.
//!
//! The pieces:
//! - [`OnlineStrategy`]: a burn-train `SupervisedLearningStrategy` that trains any
//!   [`SpikingModel`] with any learning rule (FPTT, BPTT, one's own), one line away from burn's
//!   own loop:
//!   `SupervisedTraining::new(..).with_training_strategy(TrainingStrategy::Custom(strategy))`.
//! - [`SequenceBatch`], [`SequenceBatcher`] and a burn `Dataset` for [`SequenceSet`]: the data.
//! - [`SpikingOutput`], the step output the metrics read, and [`inference_step`] /
//!   [`bptt_train_step`] to implement burn-train's `InferenceStep` / `TrainStep` for a model.
//! - Metrics: [`SpikeRateMetric`] per layer, [`SynOpsMetric`], [`UpdatesMetric`],
//!   [`ProcessMemoryMetric`]; [`spiking_metrics`] registers them with loss and accuracy. Each is
//!   a [`NumericMetric`] around a [`Measure`]; implement `Measure` for a metric of your own.
//!   [`spiking_regression_metrics`] registers the same without accuracy, for real targets.
//! - [`AtomicFileCheckpointer`] and [`atomic_checkpointers`]: checkpoints that a killed process
//!   never leaves torn; [`latest_checkpoint`] finds the epoch to resume from.
//! - [`plots`]: spike rasters and training curves as PNG.
//!
//! [`SequenceSet`]: crate::data::SequenceSet

mod batch;
mod checkpoint;
mod metrics;
mod output;
pub mod plots;
mod strategy;

use std::path::Path;

use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn::train::{InferenceStep, LearnerModel, SupervisedTraining, TrainOutput, TrainStep};

pub use crate::checkpoint::write_atomically;
pub use batch::{ItemTarget, SequenceBatch, SequenceBatcher, SequenceItem};
pub use checkpoint::AtomicFileCheckpointer;
pub use metrics::{
    Measure, NumericMetric, ProcessMemory, ProcessMemoryMetric, SpikeRate, SpikeRateMetric, SynOps,
    SynOpsMetric, Updates, UpdatesMetric,
};
pub use output::{SpikeActivity, SpikingOutput, UpdatesInput, bptt_train_step, inference_step};
pub use strategy::OnlineStrategy;

use crate::model::{SpikingClassifier, SpikingRegressor};
use crate::step::SpikingModel;

impl TrainStep for SpikingClassifier {
    type Input = SequenceBatch;
    type Output = SpikingOutput;

    fn step(&self, batch: SequenceBatch) -> TrainOutput<SpikingOutput> {
        bptt_train_step(self, batch)
    }
}

impl InferenceStep for SpikingClassifier {
    type Input = SequenceBatch;
    type Output = SpikingOutput;

    fn step(&self, batch: SequenceBatch) -> SpikingOutput {
        inference_step(self, batch)
    }
}

impl TrainStep for SpikingRegressor {
    type Input = SequenceBatch;
    type Output = SpikingOutput;

    fn step(&self, batch: SequenceBatch) -> TrainOutput<SpikingOutput> {
        bptt_train_step(self, batch)
    }
}

impl InferenceStep for SpikingRegressor {
    type Input = SequenceBatch;
    type Output = SpikingOutput;

    fn step(&self, batch: SequenceBatch) -> SpikingOutput {
        inference_step(self, batch)
    }
}

/// Registers the metrics of a spiking classifier on both splits: accuracy, then those of
/// [`spiking_regression_metrics`] (loss, spike rate of each of `model`'s layers, SynOps, process
/// memory; on training also the learning rate and the optimizer updates).
pub fn spiking_metrics<M>(training: SupervisedTraining<M>, model: &M) -> SupervisedTraining<M>
where
    M: LearnerModel
        + SpikingModel
        + TrainStep<Output = SpikingOutput>
        + InferenceStep<Output = SpikingOutput>,
{
    spiking_regression_metrics(training.metrics((AccuracyMetric::new(),)), model)
}

/// Registers the metrics of a spiking model with real-valued (or per-step) targets on both
/// splits: loss, spike rate of each of `model`'s layers, SynOps and process memory; on training
/// also the learning rate and the optimizer updates. No accuracy: it means nothing there.
pub fn spiking_regression_metrics<M>(
    training: SupervisedTraining<M>,
    model: &M,
) -> SupervisedTraining<M>
where
    M: LearnerModel
        + SpikingModel
        + TrainStep<Output = SpikingOutput>
        + InferenceStep<Output = SpikingOutput>,
{
    let mut training = training
        .metrics((LossMetric::new(),))
        .metrics((SynOpsMetric::new(), ProcessMemoryMetric::new()))
        .metric_train_numeric(UpdatesMetric::new())
        .metric_train_numeric(LearningRateMetric::new());
    for rate in SpikeRateMetric::for_layers(&model.spiking_layers()) {
        training = training.metrics((rate,));
    }
    training
}

/// Makes `training` checkpoint the model, optimizer and scheduler with
/// [`AtomicFileCheckpointer`]s in `directory/checkpoint` (the layout of burn's default
/// checkpointers).
pub fn atomic_checkpointers<M: LearnerModel>(
    training: SupervisedTraining<M>,
    directory: impl AsRef<Path>,
) -> SupervisedTraining<M> {
    let dir = directory.as_ref().join("checkpoint");
    training.with_custom_checkpointers(
        AtomicFileCheckpointer::new(&dir, "model"),
        AtomicFileCheckpointer::new(&dir, "optim"),
        AtomicFileCheckpointer::new(&dir, "scheduler"),
    )
}

/// The last epoch with a whole checkpoint in the training `directory`: model, optimizer and
/// scheduler files and the rule's state (`rule-EPOCH/`). `None` when there is none.
pub fn latest_checkpoint(directory: impl AsRef<Path>) -> Option<usize> {
    let directory = directory.as_ref();
    let dir = directory.join("checkpoint");
    let entries = std::fs::read_dir(&dir).ok()?;
    entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("model-")?
                .strip_suffix(".bpk")?
                .parse::<usize>()
                .ok()
        })
        .filter(|epoch| {
            ["optim", "scheduler"]
                .iter()
                .all(|part| dir.join(format!("{part}-{epoch}.bpk")).exists())
                && strategy::rule_checkpoint(directory, *epoch)
                    .join("progress.json")
                    .is_file()
        })
        .max()
}
