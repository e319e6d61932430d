//! The one training loop for a batch, shared by [`SequenceLearner`](super::SequenceLearner)
//! and the burn-train strategy: the chunk loop, the updates, the readouts and statistics, the
//! NaN check, the end of an epoch and the checkpoint of the rule's state.

use std::path::Path;
use std::sync::Arc;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Int, Tensor, TensorData};

use super::error::TrainError;
use super::stats::BatchStats;
use crate::checkpoint::{CheckpointError, Progress};
use crate::rule::{LearningRule, LossSum, StepContext};
use crate::step::time_step;
use crate::step::{Detach, StepModel};
use crate::task::{BatchError, SequenceBatch, StepLoss, StepTarget, Targets};

/// What a batch of training or evaluation leaves for the caller.
#[derive(Debug, Clone)]
pub(crate) struct BatchOutcome {
    /// The figures.
    pub stats: BatchStats,
    /// The reported loss as a detached `[1]` tensor (for burn-train's loss metric).
    #[cfg_attr(not(feature = "train"), allow(dead_code))]
    pub loss: Tensor<1>,
    /// The readouts: each sequence's outputs at its last step, detached, `[batch, outputs]`.
    pub outputs: Tensor<2>,
}

/// Collects, step by step, what the statistics of a batch need: each sequence's readout at its
/// own last step and, for one target per step, the summed losses and right predictions.
struct Readouts {
    last: Option<Tensor<2>>,
    step_loss: Option<Tensor<1>>,
    step_correct: Option<Tensor<1, Int>>,
}

impl Readouts {
    pub fn new() -> Self {
        Self {
            last: None,
            step_loss: None,
            step_correct: None,
        }
    }

    /// Takes in the outputs `scores` of step `t`.
    pub fn observe(
        &mut self,
        t: usize,
        scores: &Tensor<2>,
        batch: &SequenceBatch,
        loss: &dyn StepLoss,
    ) -> Result<(), BatchError> {
        let time = batch.time();
        let detached = scores.clone().detach();
        match batch.ending_at(t, scores.dims()[1]) {
            Some(ending) => {
                let last = self.last.take().unwrap_or_else(|| detached.zeros_like());
                self.last = Some(last.mask_where(ending, detached.clone()));
            }
            None if batch.lengths.is_none() && t + 1 == time => {
                self.last = Some(detached.clone());
            }
            None => {}
        }
        if batch.targets.per_step() {
            let target = batch.targets.at(t);
            let valid = step_weights(batch, t, |_, _| 1.0).map(|v| on_device(v, batch));
            let losses = loss.per_sample(detached.clone(), &target)?;
            let losses = match &valid {
                Some(valid) => losses * valid.clone(),
                None => losses,
            };
            accumulate(&mut self.step_loss, losses.sum());
            if let StepTarget::Classes(classes) = target {
                let [b, _] = detached.dims();
                let right = detached.argmax(1).reshape([b]).equal(classes).int();
                let right = match valid {
                    Some(valid) => right * valid.int(),
                    None => right,
                };
                self.step_correct = Some(match self.step_correct.take() {
                    Some(total) => total + right.sum(),
                    None => right.sum(),
                });
            }
        }
        Ok(())
    }

    /// The statistics of the batch (with 0 updates).
    pub fn finish(
        self,
        batch: &SequenceBatch,
        loss: &dyn StepLoss,
    ) -> Result<BatchOutcome, BatchError> {
        let samples = batch.batch_size();
        let outputs = self.last.ok_or(BatchError::Empty)?;
        let (loss, correct, predictions) = if batch.targets.per_step() {
            let predictions: usize = (0..samples).map(|b| batch.length_of(b)).sum();
            let total = self.step_loss.ok_or(BatchError::Empty)?;
            let correct = self.step_correct.map(|c| c.into_scalar::<i64>() as usize);
            (total.div_scalar(predictions as f64), correct, predictions)
        } else {
            let target = batch.targets.at(batch.time() - 1);
            let value = loss.mean(outputs.clone(), &target)?;
            let correct = match &batch.targets {
                Targets::Classes(classes) => {
                    Some(super::count_correct(outputs.clone(), classes.clone()))
                }
                _ => None,
            };
            (value, correct, samples)
        };
        let loss = loss.detach();
        Ok(BatchOutcome {
            stats: BatchStats {
                loss: loss.clone().into_scalar::<f64>(),
                correct,
                predictions,
                samples,
                updates: 0,
            },
            loss,
            outputs,
        })
    }
}

fn accumulate(total: &mut Option<Tensor<1>>, term: Tensor<1>) {
    *total = Some(match total.take() {
        Some(sum) => sum + term,
        None => term,
    });
}

/// Per-sample weights of step `t`: `weight(t, length)` for the sequences that reach `t` and 0
/// for the padded ones; `None` when every sequence is whole.
fn step_weights(
    batch: &SequenceBatch,
    t: usize,
    weight: impl Fn(usize, usize) -> f64,
) -> Option<Vec<f32>> {
    let lengths = batch.uneven_lengths()?;
    Some(
        lengths
            .iter()
            .map(|&length| {
                if t < length {
                    weight(t, length) as f32
                } else {
                    0.0
                }
            })
            .collect(),
    )
}

/// Host values as a `[batch]` tensor on the batch's device.
fn on_device(values: Vec<f32>, batch: &SequenceBatch) -> Tensor<1> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), &batch.inputs.device())
}

/// Runs every step of `batch` through `model` from a fresh state (no updates), handing each
/// state to `observe`, and reads out the figures with `loss`.
///
/// # Errors
///
/// A [`BatchError`] when the batch does not fit together or the loss.
pub(crate) fn read_out<M: StepModel>(
    model: &M,
    batch: &SequenceBatch,
    loss: &dyn StepLoss,
    mut observe: impl FnMut(&M::State),
) -> Result<BatchOutcome, BatchError> {
    batch.validate()?;
    let [size, length, _] = batch.inputs.dims();
    let mut state = model.init_state(size, &batch.inputs.device());
    let mut readouts = Readouts::new();
    for t in 0..length {
        let (scores, next) = model.step(time_step(&batch.inputs, t), state);
        state = next;
        observe(&state);
        readouts.observe(t, &scores, batch, loss)?;
    }
    readouts.finish(batch, loss)
}

/// A learning rule with its loss and counters: what one training run carries from batch to
/// batch.
pub(crate) struct Driver<R> {
    pub rule: R,
    pub loss: Arc<dyn StepLoss>,
    /// Optimizer updates taken so far.
    pub updates: u64,
    /// The current epoch, 1-based.
    pub epoch: usize,
    /// Batches trained in this epoch.
    pub batch: usize,
}

impl<R: LearningRule> Driver<R> {
    pub fn new(rule: R, loss: Arc<dyn StepLoss>) -> Self {
        Self {
            rule,
            loss,
            updates: 0,
            epoch: 1,
            batch: 0,
        }
    }

    /// Trains `model` on one batch the rule's way. For each chunk of the sequence: the steps
    /// from the detached state, the weighted task losses plus the rule's own terms, then
    /// `update(model, gradients)`, which takes one optimizer step and returns the new model.
    /// `observe` sees the state after every step (activity statistics).
    ///
    /// # Errors
    ///
    /// A batch that does not fit ([`TrainError::Batch`]), a chunk that does not fit the
    /// sequence ([`TrainError::Config`]), a NaN or infinite loss ([`TrainError::NonFinite`]).
    pub fn train_batch<M: StepModel>(
        &mut self,
        mut model: M,
        batch: &SequenceBatch,
        mut update: impl FnMut(M, GradientsParams) -> M,
        mut observe: impl FnMut(&M::State),
    ) -> Result<(M, BatchOutcome), TrainError> {
        self.batch += 1;
        batch.validate()?;
        let uneven = batch.uneven_lengths();
        self.rule.begin_batch(&batch.targets, uneven)?;
        let [size, length, _] = batch.inputs.dims();
        let chunk = self.rule.chunk_length(length)?;
        let schedule = self.rule.loss_schedule();
        let weight = |t, length| schedule.weight_in_chunks(t, length, chunk);
        let loss_fn = self.loss.as_ref();
        let mut readouts = Readouts::new();
        let mut state = model.init_state(size, &batch.inputs.device());
        let mut updates = 0;
        let mut start = 0;
        while start < length {
            let end = (start + chunk).min(length);
            let mut loss = LossSum::default();
            for t in start..end {
                let (scores, next) = model.step(time_step(&batch.inputs, t), state);
                state = next;
                observe(&state);
                let target = batch.targets.at(t);
                match step_weights(batch, t, weight) {
                    None => {
                        let weight = weight(t, length);
                        if weight > 0.0 {
                            loss.add(loss_fn.weighted_mean(scores.clone(), &target, weight)?);
                        }
                    }
                    Some(weights) => {
                        if weights.iter().any(|w| *w > 0.0) {
                            let per_sample = loss_fn.per_sample(scores.clone(), &target)?;
                            let weights = on_device(weights, batch);
                            loss.add((per_sample * weights).sum().div_scalar(size as f64));
                        }
                    }
                }
                self.rule.auxiliary_loss(
                    StepContext {
                        t,
                        length,
                        outputs: &scores,
                        targets: &batch.targets,
                    },
                    &mut loss,
                )?;
                readouts.observe(t, &scores, batch, loss_fn)?;
            }
            if let Some(loss) = loss.into_inner() {
                let grads = self.rule.gradients(&model, loss);
                model = update(model, grads);
                self.rule.after_update(&model);
                self.updates += 1;
                updates += 1;
            }
            state = state.detach();
            start = end;
        }
        let mut outcome = readouts.finish(batch, loss_fn)?;
        outcome.stats.updates = updates;
        let value = outcome.stats.loss;
        if !value.is_finite() {
            return Err(TrainError::NonFinite {
                value,
                epoch: self.epoch,
                batch: self.batch,
                update: self.updates,
            });
        }
        Ok((model, outcome))
    }

    /// Ends the epoch: the rule's end-of-epoch step (FPTT: `W <- W̄`), then the counters.
    pub fn end_epoch<M: Module>(&mut self, model: M) -> M {
        let model = self.rule.end_epoch(model);
        self.epoch += 1;
        self.batch = 0;
        model
    }

    /// The weights to evaluate after an epoch: the rule's own when it keeps others to report
    /// on (FPTT's `W̄` when asked), else `model`. (`fit` asks the rule directly; burn-train's
    /// validation asks here.)
    #[cfg(feature = "train")]
    pub fn evaluation_model<M: Module>(&self, model: M) -> M {
        self.rule.evaluation_model(&model).unwrap_or(model)
    }

    /// Writes the rule's state and the counters into the checkpoint directory `dir`.
    pub fn save<M: Module>(&self, model: &M, dir: &Path) -> Result<(), CheckpointError> {
        self.rule.save(model, dir)?;
        Progress {
            rule: self.rule.name().to_string(),
            updates: self.updates,
            epoch: self.epoch,
        }
        .write(dir)
    }

    /// Reads the rule's state and the counters back from `dir`.
    pub fn load<M: Module>(&mut self, model: &M, dir: &Path) -> Result<(), CheckpointError> {
        let progress = Progress::read(dir, self.rule.name())?;
        self.rule.load(model, dir)?;
        self.updates = progress.updates;
        self.epoch = progress.epoch;
        self.batch = 0;
        Ok(())
    }
}
