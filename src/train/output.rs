//! What a training or validation step of a spiking model hands to burn-train's metrics, and
//! the step functions that compute it.

use std::sync::{Arc, OnceLock};

use burn::optim::GradientsParams;
use burn::tensor::{Int, Tensor};
use burn::train::metric::{AccuracyInput, Adaptor, ItemLazy, LossInput};
use burn::train::{ClassificationOutput, TrainOutput};
use burn_std::ExecutionError;

use crate::learner::{BatchOutcome, Driver, read_out};
use crate::rule::{BpttConfig, RuleConfig};
use crate::step::{SpikingLayer, SpikingModel};
use crate::task::{DefaultLoss, SequenceBatch, Targets};

/// Spikes counted over a batch of sequences, per spiking layer.
#[derive(Debug, Clone)]
pub struct SpikeActivity {
    /// The layers counted, input side first.
    pub layers: Vec<SpikingLayer>,
    /// Spikes of each layer, summed over samples and steps, `[1]` each.
    pub counts: Vec<Tensor<1>>,
    /// Samples in the batch.
    pub samples: usize,
    /// Steps counted.
    pub steps: usize,
    /// The counts read back from the device, once, by the first metric that needs them.
    host_counts: OnceLock<Vec<f64>>,
}

impl SpikeActivity {
    /// Nothing counted yet, for `samples` sequences through `layers`.
    pub fn new(layers: Vec<SpikingLayer>, samples: usize) -> Self {
        Self {
            layers,
            counts: Vec::new(),
            samples,
            steps: 0,
            host_counts: OnceLock::new(),
        }
    }

    /// Adds one step's spikes, one `[batch, neurons]` tensor per layer.
    ///
    /// # Panics
    ///
    /// When the number of tensors is not the number of layers.
    pub fn record(&mut self, spikes: &[Tensor<2>]) {
        assert_eq!(
            spikes.len(),
            self.layers.len(),
            "SpikeActivity::record: {} spike tensors for {} layers",
            spikes.len(),
            self.layers.len()
        );
        let sums = spikes.iter().map(|s| s.clone().detach().sum());
        self.counts = if self.counts.is_empty() {
            sums.collect()
        } else {
            self.counts
                .drain(..)
                .zip(sums)
                .map(|(total, sum)| total + sum)
                .collect()
        };
        self.steps += 1;
        self.host_counts = OnceLock::new();
    }

    /// The spike count of every layer, read from the device in one transfer the first time
    /// any metric asks; later calls reuse it.
    ///
    /// # Errors
    ///
    /// When the device cannot be read.
    pub fn host_counts(&self) -> Result<&[f64], burn::tensor::TensorReadError> {
        if let Some(counts) = self.host_counts.get() {
            return Ok(counts);
        }
        let counts = if self.counts.is_empty() {
            Vec::new()
        } else {
            Tensor::cat(self.counts.clone(), 0).try_into_vec_as::<f64>()?
        };
        Ok(self.host_counts.get_or_init(|| counts))
    }

    /// Mean spikes per neuron and step of layer `index` (0 before any step was recorded).
    ///
    /// # Errors
    ///
    /// When the device cannot be read.
    pub fn rate(&self, index: usize) -> Result<f64, burn::tensor::TensorReadError> {
        let Some(count) = self.host_counts()?.get(index).copied() else {
            return Ok(0.0);
        };
        let slots = self.samples * self.steps * self.layers[index].neurons;
        Ok(count / slots.max(1) as f64)
    }

    /// Synaptic operations per sample: every spike times its layer's fan-out, summed over
    /// layers and steps, divided by the samples.
    ///
    /// # Errors
    ///
    /// When the device cannot be read.
    pub fn synops_per_sample(&self) -> Result<f64, burn::tensor::TensorReadError> {
        let total: f64 = self
            .host_counts()?
            .iter()
            .zip(&self.layers)
            .map(|(count, layer)| count * layer.fan_out as f64)
            .sum();
        Ok(total / self.samples.max(1) as f64)
    }

    fn without_autodiff(self) -> Self {
        Self {
            counts: self
                .counts
                .into_iter()
                .map(Tensor::without_autodiff)
                .collect(),
            ..self
        }
    }
}

/// The output of one training or validation step of a spiking model: the loss, the readouts
/// and targets, the spike activity and the optimizer updates taken.
#[derive(Debug, Clone)]
pub struct SpikingOutput {
    /// The task loss of the readouts, `[1]` (see [`BatchStats::loss`](crate::BatchStats::loss)).
    pub loss: Tensor<1>,
    /// Each sequence's outputs at its last step, `[batch, outputs]`.
    pub output: Tensor<2>,
    /// The batch's targets.
    pub targets: Targets,
    /// Spikes per layer over the batch.
    pub activity: SpikeActivity,
    /// Optimizer updates taken on this batch (0 in validation).
    pub updates: usize,
}

impl SpikingOutput {
    /// The output of a batch that `outcome` measured.
    pub(crate) fn new(outcome: BatchOutcome, targets: Targets, activity: SpikeActivity) -> Self {
        Self {
            loss: outcome.loss,
            output: outcome.outputs,
            targets,
            activity,
            updates: outcome.stats.updates,
        }
    }

    /// The classes of the targets, for accuracy.
    ///
    /// # Panics
    ///
    /// When the targets are not one class per sequence: accuracy means nothing for real
    /// targets (register [`spiking_regression_metrics`](super::spiking_regression_metrics)
    /// for those).
    fn classes(&self) -> Tensor<1, Int> {
        match &self.targets {
            Targets::Classes(classes) => classes.clone(),
            other => panic!(
                "accuracy needs one class per sequence, but the targets are {}: use spiking_regression_metrics for other targets",
                other.kind()
            ),
        }
    }
}

impl ItemLazy for SpikingOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            output: self.output.without_autodiff(),
            targets: self.targets.without_autodiff(),
            activity: self.activity.without_autodiff(),
            updates: self.updates,
        })
    }
}

impl Adaptor<LossInput> for SpikingOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl Adaptor<AccuracyInput> for SpikingOutput {
    fn adapt(&self) -> AccuracyInput {
        AccuracyInput::new(self.output.clone(), self.classes())
    }
}

impl Adaptor<SpikeActivity> for SpikingOutput {
    fn adapt(&self) -> SpikeActivity {
        self.activity.clone()
    }
}

/// The optimizer updates of a step, the input of [`UpdatesMetric`](super::UpdatesMetric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdatesInput(pub usize);

impl Adaptor<UpdatesInput> for SpikingOutput {
    fn adapt(&self) -> UpdatesInput {
        UpdatesInput(self.updates)
    }
}

impl From<SpikingOutput> for ClassificationOutput {
    /// # Panics
    ///
    /// When the targets are not one class per sequence.
    fn from(output: SpikingOutput) -> Self {
        let classes = output.classes();
        ClassificationOutput::new(output.loss, output.output, classes)
    }
}

/// Runs every step of `inputs` (`[batch, time, features]`) through `model` from a fresh state,
/// handing each step's spikes (one `[batch, neurons]` tensor per layer) to `observe`; returns
/// the last step's scores.
///
/// # Panics
///
/// When `inputs` has no time steps.
pub(crate) fn run_observing_spikes<M: SpikingModel>(
    model: &M,
    inputs: &Tensor<3>,
    mut observe: impl FnMut(Vec<Tensor<2>>),
) -> Tensor<2> {
    let [batch, length, _] = inputs.dims();
    let mut state = model.init_state(batch, &inputs.device());
    let mut scores = None;
    for t in 0..length {
        let (out, next) = model.step(crate::step::time_step(inputs, t), state);
        observe(model.spikes(&next));
        state = next;
        scores = Some(out);
    }
    scores.expect("a sequence has at least one step")
}

/// A validation step for [`InferenceStep`](burn::train::InferenceStep): the whole sequence from
/// a fresh state, read out at each sequence's last step with the [`DefaultLoss`], spikes
/// counted.
///
/// # Panics
///
/// When the batch's targets or lengths do not fit its inputs or the model (the message names
/// what).
pub fn inference_step<M: SpikingModel>(model: &M, batch: SequenceBatch) -> SpikingOutput {
    let mut activity = SpikeActivity::new(model.spiking_layers(), batch.batch_size());
    let outcome = read_out(model, &batch, &DefaultLoss, |state| {
        activity.record(&model.spikes(state))
    })
    .unwrap_or_else(|e| panic!("inference step: {e}"));
    SpikingOutput::new(outcome, batch.targets, activity)
}

/// A full-sequence BPTT step for [`TrainStep`](burn::train::TrainStep): forward over every
/// step, backward of the last step's loss ([`DefaultLoss`]), no clipping. This is what
/// burn-train's own training loop runs; [`OnlineStrategy`](super::OnlineStrategy) drives the
/// steps itself instead.
///
/// # Panics
///
/// When the batch's targets or lengths do not fit its inputs or the model, or the loss is not
/// finite.
pub fn bptt_train_step<M: SpikingModel>(
    model: &M,
    batch: SequenceBatch,
) -> TrainOutput<SpikingOutput> {
    let mut activity = SpikeActivity::new(model.spiking_layers(), batch.batch_size());
    let rule = BpttConfig::new()
        .with_clip_norm(None)
        .init(model)
        .expect("the default BPTT config is valid");
    let mut driver = Driver::new(rule, Arc::new(DefaultLoss));
    let mut grads = None;
    let (_, outcome) = driver
        .train_batch(
            model.clone(),
            &batch,
            |model, update| {
                grads = Some(update);
                model
            },
            |state| activity.record(&model.spikes(state)),
        )
        .unwrap_or_else(|e| panic!("BPTT train step: {e}"));
    TrainOutput {
        grads: grads.unwrap_or_else(GradientsParams::new),
        item: SpikingOutput::new(outcome, batch.targets, activity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn layer(name: &str, neurons: usize, fan_out: usize) -> SpikingLayer {
        SpikingLayer {
            name: name.to_string(),
            neurons,
            fan_out,
        }
    }

    fn spikes(values: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values, shape), &crate::default_device())
    }

    #[test]
    fn rates_and_synops_follow_the_recorded_spikes() {
        // 2 samples; layer a: 3 neurons, fan-out 5; layer b: 2 neurons, fan-out 7.
        let mut activity = SpikeActivity::new(vec![layer("a", 3, 5), layer("b", 2, 7)], 2);
        assert_eq!(activity.rate(0).unwrap(), 0.0);
        activity.record(&[
            spikes(vec![1., 0., 1., 0., 0., 1.], [2, 3]),
            spikes(vec![0., 0., 1., 0.], [2, 2]),
        ]);
        // a: 3 spikes in 6 slots; b: 1 in 4.
        assert_eq!(activity.rate(0).unwrap(), 0.5);
        assert_eq!(activity.rate(1).unwrap(), 0.25);
        // (3 * 5 + 1 * 7) / 2 samples.
        assert_eq!(activity.synops_per_sample().unwrap(), 11.0);

        // A second step after the counts were read: the reads follow it.
        activity.record(&[
            spikes(vec![1., 1., 1., 1., 1., 1.], [2, 3]),
            spikes(vec![1., 1., 1., 0.], [2, 2]),
        ]);
        // a: 9 spikes in 12 slots; b: 4 in 8.
        assert_eq!(activity.rate(0).unwrap(), 0.75);
        assert_eq!(activity.rate(1).unwrap(), 0.5);
        assert_eq!(activity.host_counts().unwrap(), &[9.0, 4.0]);
        // (9 * 5 + 4 * 7) / 2.
        assert_eq!(activity.synops_per_sample().unwrap(), 36.5);
    }
}
