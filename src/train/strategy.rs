//! Any learning rule as a burn-train training strategy.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use burn::module::Module;
use burn::tensor::Device;
use burn::train::train::WorkerFailure;
use burn::train::{
    EventProcessorTraining, InferenceStep, Interrupter, Learner, LearnerEvent, LearnerModel,
    SupervisedLearningStrategy, SupervisedTrainingEventProcessor, TrainLoader, TrainStep,
    TrainingComponents, TrainingError, TrainingItem, ValidLoader,
};

use super::batch::SequenceBatch;
use super::output::{SpikeActivity, SpikingOutput};
use crate::checkpoint::{self, CheckpointError};
use crate::error::ConfigError;
use crate::learner::{Driver, TrainError, epoch_seed};
use crate::rule::{LearningRule, Method, RuleConfig};
use crate::step::SpikingModel;
use crate::task::{DefaultLoss, StepLoss};

/// Trains through burn-train's [`SupervisedTraining`](burn::train::SupervisedTraining) with any
/// learning rule: FPTT (one optimizer update per time step or chunk, memory constant in the
/// sequence length), BPTT (one update per sequence or truncation window), or one's own,
/// driving the model's [`StepModel::step`](crate::StepModel::step) itself with the same batch
/// loop as [`SequenceLearner`](crate::SequenceLearner).
///
/// Everything else is burn-train's: the dashboard shows every batch (loss, accuracy, learning
/// rate, the [`UpdatesMetric`](super::UpdatesMetric), spike metrics) and every epoch;
/// validation runs whole sequences through the model's
/// [`InferenceStep`]; early stopping, the interrupter and the checkpointers work as with burn's
/// own loop. The strategy also checkpoints the rule's state and counters at every epoch (FPTT:
/// `W̄` and `λ`), as `checkpoint/rule-EPOCH/` in the training directory (the layout of
/// [`crate::checkpoint`]), and reads them back when the run is resumed with
/// [`SupervisedTraining::checkpoint`](burn::train::SupervisedTraining::checkpoint). Targets
/// may be of any kind of [`Targets`](crate::Targets); register
/// [`spiking_regression_metrics`](super::spiking_regression_metrics) for real-valued ones.
///
/// Every epoch reseeds the device from the seed and the epoch number, and a resumed run replays
/// the data loader's shuffles of the epochs it skips, so resuming from a checkpoint repeats the
/// uninterrupted run.
///
/// When the loss becomes NaN or infinite, training stops through the interrupter before the
/// epoch is checkpointed, so the last checkpoint is the last good epoch;
/// [`take_failure`](Self::take_failure) tells what happened.
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
/// assert!(result.error.is_none() && strategy.take_failure().is_none());
/// ```
pub struct OnlineStrategy<C = Method> {
    rule: C,
    loss: Arc<dyn StepLoss>,
    directory: PathBuf,
    seed: u64,
    failure: Mutex<Option<TrainError>>,
}

impl<C: RuleConfig> OnlineStrategy<C> {
    /// A strategy training with the rule `rule` builds; `directory` is the training directory
    /// given to `SupervisedTraining::new` (the rule's state is checkpointed under it).
    ///
    /// # Errors
    ///
    /// When the rule's config is invalid.
    pub fn new(rule: C, directory: impl AsRef<Path>) -> Result<Self, ConfigError> {
        rule.validate()?;
        Ok(Self {
            rule,
            loss: Arc::new(DefaultLoss),
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

    /// Trains with `loss` instead of the [`DefaultLoss`].
    pub fn with_loss(mut self, loss: impl StepLoss + 'static) -> Self {
        self.loss = Arc::new(loss);
        self
    }

    /// The rule's configuration.
    pub fn rule(&self) -> &C {
        &self.rule
    }

    /// Why the last run stopped early, when it failed: a NaN or infinite loss
    /// ([`TrainError::NonFinite`], with its epoch, batch and update), a batch that does not fit,
    /// or a checkpoint that could not be written or read. Takes the error out: a second call
    /// returns `None` until the next failure.
    pub fn take_failure(&self) -> Option<TrainError> {
        self.failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Where the rule's state of `epoch` is checkpointed.
    pub fn rule_checkpoint(&self, epoch: usize) -> PathBuf {
        rule_checkpoint(&self.directory, epoch)
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

    /// A fresh driver, or the one checkpointed after `epoch` when resuming.
    fn driver<M: Module>(
        &self,
        model: &M,
        resumed_after: Option<usize>,
    ) -> Result<Driver<C::Rule>, TrainError> {
        let mut driver = Driver::new(self.rule.init(model)?, self.loss.clone());
        if let Some(epoch) = resumed_after {
            driver.load(model, &self.rule_checkpoint(epoch))?;
        }
        Ok(driver)
    }

    /// Writes the rule's state of `epoch` atomically and removes the states of earlier epochs
    /// whose model checkpoint burn-train has deleted.
    fn save_rule<M: Module>(
        &self,
        driver: &Driver<C::Rule>,
        model: &M,
        epoch: usize,
    ) -> Result<(), CheckpointError> {
        checkpoint::write_dir_atomically(&self.rule_checkpoint(epoch), |partial| {
            driver.save(model, partial)
        })?;
        let checkpoints = self.directory.join("checkpoint");
        for old in 1..epoch {
            let state = self.rule_checkpoint(old);
            if state.exists() && !checkpoints.join(format!("model-{old}.bpk")).exists() {
                std::fs::remove_dir_all(&state).map_err(|e| CheckpointError::Io {
                    path: state.clone(),
                    source: e,
                })?;
            }
        }
        Ok(())
    }
}

/// Where the rule's state of `epoch` is checkpointed in the training `directory`.
pub(crate) fn rule_checkpoint(directory: &Path, epoch: usize) -> PathBuf {
    directory.join("checkpoint").join(format!("rule-{epoch}"))
}

/// What one run of training needs and updates.
struct TrainingRun<'a, M: LearnerModel, R> {
    processor: &'a mut SupervisedTrainingEventProcessor<M>,
    interrupter: &'a Interrupter,
    learner: Learner<M>,
    driver: Driver<R>,
}

impl<M, R> TrainingRun<'_, M, R>
where
    M: LearnerModel + SpikingModel + TrainStep<Input = SequenceBatch, Output = SpikingOutput>,
    R: LearningRule,
{
    /// One batch: the rule's updates over the sequence, then the batch's output.
    fn train_batch(&mut self, batch: SequenceBatch) -> Result<SpikingOutput, TrainError> {
        let probe = self.learner.model();
        let mut activity = SpikeActivity::new(probe.spiking_layers(), batch.batch_size());
        let learner = &mut self.learner;
        let (_, outcome) = self.driver.train_batch(
            learner.model(),
            &batch,
            |_, grads| {
                learner.lr_step();
                learner.optimizer_step(grads);
                learner.model()
            },
            |state| activity.record(&probe.spikes(state)),
        )?;
        Ok(SpikingOutput::new(outcome, batch.targets, activity))
    }

    /// Every batch of the epoch, each reported to the dashboard; stops at the first error or
    /// when the interrupter says so.
    fn train_epoch<C: RuleConfig<Rule = R>>(
        &mut self,
        strategy: &OnlineStrategy<C>,
        loader: &TrainLoader<M>,
    ) {
        let mut iterator = loader.iter();
        let mut iteration = 0;
        while let Some(item) = iterator.next() {
            let batch = match item {
                Ok(batch) => batch,
                Err(error) => {
                    self.interrupter.fail(error);
                    break;
                }
            };
            iteration += 1;
            let progress = iterator.progress();
            match self.train_batch(batch) {
                Ok(output) => {
                    let item = TrainingItem::new(
                        output,
                        progress,
                        Some(iteration),
                        Some(self.learner.lr_current()),
                    );
                    self.interrupter.fail_on_error(
                        self.processor
                            .process_train(LearnerEvent::ProcessedItem(item)),
                    );
                }
                Err(error) => {
                    strategy.fail(self.interrupter, error);
                    break;
                }
            }
            if self.interrupter.should_stop() {
                break;
            }
        }
    }

    /// Ends the epoch: the rule's end-of-epoch step (FPTT: `W <- W̄`).
    fn end_epoch(&mut self) {
        let model = self.driver.end_epoch(self.learner.model());
        self.learner.load_model(model.into_record());
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

impl<M, C> SupervisedLearningStrategy<M> for OnlineStrategy<C>
where
    M: LearnerModel + SpikingModel + TrainStep<Input = SequenceBatch, Output = SpikingOutput>,
    C: RuleConfig + Send + Sync,
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
        let driver = match self.driver(&learner.model(), resumed_after) {
            Ok(driver) => driver,
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
            processor: &mut event_processor,
            interrupter: &interrupter,
            learner,
            driver,
        };
        let mut checkpointer = checkpointer;
        let mut early_stopping = early_stopping;
        for epoch in starting_epoch..=num_epochs {
            device.seed(epoch_seed(self.seed, epoch));
            run.driver.epoch = epoch;
            run.driver.batch = 0;
            interrupter.fail_on_error(run.processor.process_train(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: train.num_items(),
            }));
            run.train_epoch(self, &train);
            interrupter.fail_on_error(run.processor.process_train(LearnerEvent::EndSplit(epoch)));
            if interrupter.should_stop() {
                break;
            }
            run.end_epoch();

            interrupter.fail_on_error(run.processor.process_valid(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: valid.num_items(),
            }));
            let evaluated = run.driver.evaluation_model(run.learner.model());
            validate(&evaluated, &valid, run.processor, &interrupter);
            interrupter.fail_on_error(run.processor.process_valid(LearnerEvent::EndSplit(epoch)));
            interrupter.fail_on_error(run.processor.process_train(LearnerEvent::EndEpoch(epoch)));
            if checkpointer.is_some() || early_stopping.is_some() {
                interrupter.fail_on_error(run.processor.flush());
            }
            if interrupter.should_stop() {
                break;
            }
            if let Some(checkpointer) = &mut checkpointer {
                checkpointer.checkpoint(&run.learner, epoch, &event_store);
                if let Err(error) = self.save_rule(&run.driver, &run.learner.model(), epoch) {
                    self.fail(&interrupter, error.into());
                    break;
                }
            }
            if let Some(early_stopping) = &mut early_stopping
                && early_stopping.should_stop(epoch, &event_store)
            {
                break;
            }
        }
        let model = run.learner.model();
        (model, event_processor)
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
