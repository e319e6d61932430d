//! FPTT and BPTT as burn-train training strategies.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::module::Module;
use burn::store::RecordError;
use burn::tensor::Device;
use burn::train::train::WorkerFailure;
use burn::train::{
    EventProcessorTraining, InferenceStep, Interrupter, Learner, LearnerEvent, LearnerModel,
    SupervisedLearningStrategy, SupervisedTrainingEventProcessor, TrainLoader, TrainStep,
    TrainingComponents, TrainingError, TrainingItem, ValidLoader,
};

use super::batch::SequenceBatch;
use super::output::{SpikeActivity, SpikingOutput};
use crate::error::ConfigError;
use crate::fptt::{ClassDistributions, Fptt};
use crate::learner::{DISTRIBUTIONS_FILE, Method, TrainError, train_sequence, update_gradients};
use crate::loss::cross_entropy;
use crate::step::SpikingModel;

/// Trains through burn-train's [`SupervisedTraining`](burn::train::SupervisedTraining) with
/// FPTT (one optimizer update per time step or chunk, memory constant in the sequence length)
/// or BPTT (one update per sequence or truncation window), driving the model's
/// [`StepModel::step`](crate::StepModel::step) itself.
///
/// Everything else is burn-train's: the dashboard shows every batch (loss, accuracy, learning
/// rate, the [`UpdatesMetric`](super::UpdatesMetric), spike metrics) and every epoch;
/// validation runs whole sequences through the model's
/// [`InferenceStep`]; early stopping, the interrupter and the checkpointers work as with burn's
/// own loop. With FPTT the strategy also checkpoints `W̄` and `λ` at every epoch, as
/// `checkpoint/fptt-EPOCH/` in the training directory, and reads them back when the run is
/// resumed with [`SupervisedTraining::checkpoint`](burn::train::SupervisedTraining::checkpoint).
///
/// Every epoch reseeds the device from the seed and the epoch number, and a resumed run replays
/// the data loader's shuffles of the epochs it skips, so resuming from a checkpoint repeats the
/// uninterrupted run.
///
/// When the loss becomes NaN or infinite, training stops through the interrupter before the
/// epoch is checkpointed, so the last checkpoint is the last good epoch;
/// [`failure`](Self::failure) tells what happened.
///
/// ```
/// use std::sync::Arc;
/// use burn::data::dataloader::DataLoaderBuilder;
/// use burn::train::{Learner, SupervisedTraining, TrainingStrategy};
/// use burn_fptt::data::digits::{self, DigitSequence};
/// use burn_fptt::prelude::*;
/// use burn_fptt::train::{OnlineStrategy, SequenceBatcher, spiking_metrics};
///
/// let dir = tempfile::tempdir().unwrap();
/// let data = digits::bundled(DigitSequence::Rows).unwrap().take(64);
/// let batcher = SequenceBatcher::for_set(&data);
/// let train = DataLoaderBuilder::new(batcher).batch_size(16).shuffle(1).build(data.clone());
/// let valid = DataLoaderBuilder::new(batcher).batch_size(64).build(data.clone());
///
/// let device = default_device().autodiff();
/// let model = SpikingClassifierConfig::new(data.features(), vec![16], 10).init(&device);
/// let method = Method::Fptt(FpttConfig::new());
/// let strategy = Arc::new(OnlineStrategy::new(method, dir.path()).unwrap());
/// let training = SupervisedTraining::new(dir.path(), train, valid)
///     .with_training_strategy(TrainingStrategy::Custom(strategy.clone()))
///     .num_epochs(1);
/// let training = spiking_metrics(training, &model);
/// let result = training.launch(Learner::new(model, AdamaxConfig::new().init(), 1e-2));
/// assert!(result.error.is_none() && strategy.failure().is_none());
/// ```
pub struct OnlineStrategy {
    method: Method,
    directory: PathBuf,
    seed: u64,
    failure: Mutex<Option<TrainError>>,
}

impl OnlineStrategy {
    /// A strategy training with `method`; `directory` is the training directory given to
    /// `SupervisedTraining::new` (FPTT's state is checkpointed under it).
    ///
    /// # Errors
    ///
    /// When the method's config is invalid.
    pub fn new(method: Method, directory: impl AsRef<Path>) -> Result<Self, ConfigError> {
        match &method {
            Method::Fptt(config) => config.validate()?,
            Method::Bptt(config) => config.validate()?,
        }
        Ok(Self {
            method,
            directory: directory.as_ref().to_path_buf(),
            seed: 0,
            failure: Mutex::new(None),
        })
    }

    /// Seeds each epoch's randomness (initial membranes, dropout) from `seed` and the epoch.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The learning rule.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Why the last run stopped early, when it failed: a NaN or infinite loss (with its epoch,
    /// batch and update), a shape or config error, or an FPTT checkpoint that could not be
    /// written or read.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .expect("failure lock")
            .as_ref()
            .map(ToString::to_string)
    }

    /// Where FPTT's state of `epoch` is checkpointed.
    pub fn fptt_checkpoint(&self, epoch: usize) -> PathBuf {
        self.directory
            .join("checkpoint")
            .join(format!("fptt-{epoch}"))
    }

    fn fail(&self, interrupter: &Interrupter, error: TrainError) {
        interrupter.fail(TrainingError::Workers(vec![WorkerFailure {
            device_id: 0,
            message: error.to_string(),
        }]));
        let mut slot = self.failure.lock().expect("failure lock");
        if slot.is_none() {
            *slot = Some(error);
        }
    }

    /// A fresh FPTT state, or the one checkpointed after `epoch` when resuming.
    fn fptt_state<M: Module>(
        &self,
        model: &M,
        resumed_after: Option<usize>,
    ) -> Result<Option<Fptt>, TrainError> {
        let Method::Fptt(config) = &self.method else {
            return Ok(None);
        };
        match resumed_after {
            None => Ok(Some(Fptt::new(config.clone(), model)?)),
            Some(epoch) => {
                let dir = self.fptt_checkpoint(epoch);
                Fptt::load(config.clone(), model, &dir.join("fptt"))
                    .map(Some)
                    .map_err(|e| {
                        TrainError::Checkpoint(format!(
                            "cannot resume FPTT from {}: {e}",
                            dir.display()
                        ))
                    })
            }
        }
    }

    /// The class distributions checkpointed after `epoch`, when there are any.
    fn class_distributions(
        &self,
        resumed_after: Option<usize>,
        device: &Device,
    ) -> Result<Option<ClassDistributions>, TrainError> {
        let Some(epoch) = resumed_after else {
            return Ok(None);
        };
        let path = self.fptt_checkpoint(epoch).join(DISTRIBUTIONS_FILE);
        if !path.exists() {
            return Ok(None);
        }
        ClassDistributions::load(&path, device)
            .map(Some)
            .map_err(|e| TrainError::Checkpoint(format!("cannot resume: {e}")))
    }

    /// Writes FPTT's state of `epoch` (into a `.partial` directory, then renamed) and removes
    /// the states of earlier epochs whose model checkpoint burn-train has deleted.
    fn save_fptt<M: Module>(
        &self,
        fptt: &Fptt,
        distributions: Option<&ClassDistributions>,
        model: &M,
        epoch: usize,
    ) -> Result<(), TrainError> {
        let io = |path: &Path, e: std::io::Error| {
            TrainError::Checkpoint(format!("{}: {e}", path.display()))
        };
        let dir = self.fptt_checkpoint(epoch);
        let partial = dir.with_extension("partial");
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(|e| io(&partial, e))?;
        }
        std::fs::create_dir_all(&partial).map_err(|e| io(&partial, e))?;
        let unsaved =
            |e: RecordError| TrainError::Checkpoint(format!("{}: {e}", partial.display()));
        fptt.save(model, &partial.join("fptt")).map_err(unsaved)?;
        if let Some(distributions) = distributions {
            distributions
                .save(&partial.join(DISTRIBUTIONS_FILE))
                .map_err(unsaved)?;
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
        }
        std::fs::rename(&partial, &dir).map_err(|e| io(&dir, e))?;
        let checkpoints = self.directory.join("checkpoint");
        for old in 1..epoch {
            let state = self.fptt_checkpoint(old);
            if state.exists() && !checkpoints.join(format!("model-{old}.bpk")).exists() {
                std::fs::remove_dir_all(&state).map_err(|e| io(&state, e))?;
            }
        }
        Ok(())
    }
}

/// The seed of `epoch`'s randomness.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64)
}

/// What one epoch of training needs and updates.
struct TrainingRun<'a, M: LearnerModel> {
    strategy: &'a OnlineStrategy,
    learner: Learner<M>,
    fptt: Option<Fptt>,
    distributions: Option<ClassDistributions>,
    updates: u64,
}

impl<M> TrainingRun<'_, M>
where
    M: LearnerModel + SpikingModel + TrainStep<Input = SequenceBatch, Output = SpikingOutput>,
{
    /// One batch: the online (or BPTT) updates over the sequence, then the batch's output.
    fn train_batch(
        &mut self,
        batch: SequenceBatch,
        epoch: usize,
        index: usize,
    ) -> Result<SpikingOutput, TrainError> {
        let SequenceBatch { inputs, targets } = batch;
        let probe = self.learner.model();
        let mut activity = SpikeActivity::new(probe.spiking_layers(), inputs.dims()[0]);
        let method = &self.strategy.method;
        let (learner, fptt, counter) = (&mut self.learner, &mut self.fptt, &mut self.updates);
        let (_, scores, updates) = train_sequence(
            method,
            learner.model(),
            inputs,
            targets.clone(),
            &mut self.distributions,
            |model, loss| {
                let grads = update_gradients(method, fptt.as_ref(), &model, loss);
                learner.lr_step();
                learner.optimizer_step(grads);
                let model = learner.model();
                if let Some(fptt) = fptt.as_mut() {
                    fptt.after_step(&model);
                }
                *counter += 1;
                model
            },
            |state| activity.record(&probe.spikes(state)),
        )?;
        let loss = cross_entropy(scores.clone(), targets.clone());
        let value = loss.clone().into_scalar::<f64>();
        if !value.is_finite() {
            return Err(TrainError::NonFinite {
                value,
                epoch,
                batch: index,
                update: self.updates,
            });
        }
        Ok(SpikingOutput {
            loss,
            output: scores,
            targets,
            activity,
            updates,
        })
    }

    /// Every batch of the epoch, each reported to the dashboard; stops at the first error or
    /// when the interrupter says so.
    fn train_epoch(
        &mut self,
        epoch: usize,
        loader: &TrainLoader<M>,
        processor: &mut SupervisedTrainingEventProcessor<M>,
        interrupter: &Interrupter,
    ) {
        let mut iterator = loader.iter();
        let mut iteration = 0;
        while let Some(item) = iterator.next() {
            let batch = match item {
                Ok(batch) => batch,
                Err(error) => {
                    interrupter.fail(error);
                    break;
                }
            };
            iteration += 1;
            let progress = iterator.progress();
            match self.train_batch(batch, epoch, iteration) {
                Ok(output) => {
                    let item = TrainingItem::new(
                        output,
                        progress,
                        Some(iteration),
                        Some(self.learner.lr_current()),
                    );
                    interrupter
                        .fail_on_error(processor.process_train(LearnerEvent::ProcessedItem(item)));
                }
                Err(error) => {
                    self.strategy.fail(interrupter, error);
                    break;
                }
            }
            if interrupter.should_stop() {
                break;
            }
        }
    }

    /// Ends the epoch: with FPTT and `average_at_epoch_end`, every weight becomes its running
    /// average.
    fn end_epoch(&mut self) {
        if let Some(fptt) = &self.fptt
            && fptt.config().average_at_epoch_end
        {
            let averaged = fptt.average_into(self.learner.model());
            self.learner.load_model(averaged.into_record());
        }
    }
}

/// Every validation batch through the model's [`InferenceStep`], each reported.
fn validate<M: LearnerModel>(
    model: &M,
    loader: &ValidLoader<M>,
    processor: &mut SupervisedTrainingEventProcessor<M>,
    interrupter: &Interrupter,
) {
    let model = model.valid();
    let mut iterator = loader.iter();
    let mut iteration = 0;
    while let Some(item) = iterator.next() {
        let item = match item {
            Ok(item) => item,
            Err(error) => {
                interrupter.fail(error);
                break;
            }
        };
        iteration += 1;
        let progress = iterator.progress();
        let output = InferenceStep::step(&model, item);
        let item = TrainingItem::new(output, progress, Some(iteration), None);
        interrupter.fail_on_error(processor.process_valid(LearnerEvent::ProcessedItem(item)));
        if interrupter.should_stop() {
            break;
        }
    }
}

impl<M> SupervisedLearningStrategy<M> for OnlineStrategy
where
    M: LearnerModel + SpikingModel + TrainStep<Input = SequenceBatch, Output = SpikingOutput>,
{
    fn fit(
        &self,
        components: TrainingComponents<M>,
        mut learner: Learner<M>,
        dataloader_train: TrainLoader<M>,
        dataloader_valid: ValidLoader<M>,
        starting_epoch: usize,
    ) -> (M, SupervisedTrainingEventProcessor<M>) {
        let TrainingComponents {
            num_epochs,
            checkpointer,
            interrupter,
            early_stopping,
            mut event_processor,
            event_store,
            ..
        } = components;
        let device = training_device(&learner.model());
        learner.fork(&device);
        let train = dataloader_train.to_device(&device);
        let valid = dataloader_valid.to_device(&device.clone().inner());
        let resumed_after = (starting_epoch > 1).then(|| starting_epoch - 1);
        let state = self
            .fptt_state(&learner.model(), resumed_after)
            .and_then(|fptt| Ok((fptt, self.class_distributions(resumed_after, &device)?)));
        let (fptt, distributions) = match state {
            Ok(state) => state,
            Err(error) => {
                self.fail(&interrupter, error);
                return (learner.model(), event_processor);
            }
        };
        // The loader reshuffles at every `iter()`: replay the epochs already done.
        for _ in 1..starting_epoch {
            drop(train.iter());
        }
        let mut run = TrainingRun {
            strategy: self,
            learner,
            fptt,
            distributions,
            updates: 0,
        };
        let mut checkpointer = checkpointer;
        let mut early_stopping = early_stopping;
        for epoch in starting_epoch..=num_epochs {
            device.seed(epoch_seed(self.seed, epoch));
            interrupter.fail_on_error(event_processor.process_train(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: train.num_items(),
            }));
            run.train_epoch(epoch, &train, &mut event_processor, &interrupter);
            interrupter.fail_on_error(event_processor.process_train(LearnerEvent::EndSplit(epoch)));
            if interrupter.should_stop() {
                break;
            }
            run.end_epoch();

            interrupter.fail_on_error(event_processor.process_valid(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: valid.num_items(),
            }));
            validate(
                &run.learner.model(),
                &valid,
                &mut event_processor,
                &interrupter,
            );
            interrupter.fail_on_error(event_processor.process_valid(LearnerEvent::EndSplit(epoch)));
            interrupter.fail_on_error(event_processor.process_train(LearnerEvent::EndEpoch(epoch)));
            if checkpointer.is_some() || early_stopping.is_some() {
                interrupter.fail_on_error(event_processor.flush());
            }
            if interrupter.should_stop() {
                break;
            }
            if let Some(checkpointer) = &mut checkpointer {
                checkpointer.checkpoint(&run.learner, epoch, &event_store);
                if let Some(fptt) = &run.fptt
                    && let Err(error) = self.save_fptt(
                        fptt,
                        run.distributions.as_ref(),
                        &run.learner.model(),
                        epoch,
                    )
                {
                    self.fail(&interrupter, error);
                    break;
                }
            }
            if let Some(early_stopping) = &mut early_stopping
                && early_stopping.should_stop(epoch, &event_store)
            {
                break;
            }
        }
        (run.learner.model(), event_processor)
    }
}

/// The model's device, with gradients on.
fn training_device<M: Module>(model: &M) -> Device {
    let device = crate::model_device(model);
    if device.is_autodiff() {
        device
    } else {
        device.autodiff()
    }
}
