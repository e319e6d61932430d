//! The online learner: drives a [`StepModel`] over batches of sequences with a learning rule
//! ([`crate::rule`]: FPTT, BPTT, or one's own) and a task loss ([`crate::task`]).
//!
//! - [`SequenceLearner`]: the model, burn's optimizer and LR scheduler, the rule; trains a
//!   batch, ends an epoch, saves and resumes checkpoints.
//! - [`fit`] with a [`FitConfig`]: epochs of training and evaluation on a data set;
//!   [`evaluate`]: figures of a model on batches.
//! - [`BatchStats`], [`EpochStats`], [`EpochReport`]: what was measured; [`TrainError`]: why
//!   training stopped.

mod driver;
mod error;
mod fit;
mod stats;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::lr_scheduler::LrSchedulerRecord;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::ModuleOptimizer;
use burn::tensor::Tensor;

pub(crate) use driver::Driver;
#[cfg(feature = "train")]
pub(crate) use driver::{BatchOutcome, read_out};
pub use error::TrainError;
#[cfg(feature = "train")]
pub(crate) use fit::epoch_seed;
pub use fit::{
    BatchProgress, FitConfig, FitObserver, SequenceData, count_correct, evaluate, evaluate_with,
    fit, fit_with, predict,
};
pub use stats::{BatchStats, EpochReport, EpochStats};

use crate::checkpoint::{self, CheckpointError};
use crate::error::ConfigError;
use crate::optim::ModelOptimizer;
use crate::rule::{LearningRule, MethodRule, RuleConfig};
use crate::step::StepModel;
use crate::task::{DefaultLoss, SequenceBatch, StepLoss, Targets};

/// Trains a [`StepModel`] on batches of sequences with a learning rule: FPTT or BPTT through
/// [`Method`](crate::Method), a rule's config ([`FpttConfig`](crate::FpttConfig),
/// [`BpttConfig`](crate::BpttConfig)), or one's own [`RuleConfig`].
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device().autodiff();
/// device.seed(0);
/// let net = SpikingClassifierConfig::new(1, vec![16], 2).init(&device);
/// let mut learner = SequenceLearner::new(
///     net,
///     AdamaxConfig::new().init(),
///     3e-3,
///     Method::Fptt(FpttConfig::new()),
/// )
/// .unwrap();
/// let x = Tensor::<3>::ones([4, 10, 1], &device);
/// let y = Tensor::<1, Int>::from_ints([0, 1, 0, 1], &device);
/// let stats = learner.train_batch(x, y).unwrap();
/// assert_eq!(stats.updates, 10); // one update per time step
/// ```
///
/// A regression: the targets are real (`[batch, outputs]`), the loss is then the mean squared
/// error of the last step's outputs.
///
/// ```
/// use burn::optim::AdamConfig;
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device().autodiff();
/// let net = SpikingRegressorConfig::new(2, 16, 1).init(&device);
/// let rule = FpttConfig::new().with_updates_per_sequence(Some(5));
/// let mut learner = SequenceLearner::new(net, AdamConfig::new().init(), 3e-3, rule).unwrap();
/// let x = Tensor::<3>::ones([4, 10, 2], &device);
/// let y = Tensor::<2>::full([4, 1], 0.5, &device);
/// let stats = learner.train_batch(x, y).unwrap();
/// assert_eq!((stats.updates, stats.correct), (5, None));
/// ```
pub struct SequenceLearner<
    M: StepModel,
    R: LearningRule = MethodRule,
    O: ModelOptimizer = ModuleOptimizer,
> {
    model: M,
    optimizer: O,
    scheduler: ModuleLrScheduler,
    driver: Driver<R>,
    checkpoints: Option<PathBuf>,
}

impl<M: StepModel, R: LearningRule, O: ModelOptimizer> SequenceLearner<M, R, O> {
    /// A learner for `model` (on an autodiff device), with an optimizer (burn's
    /// `ModuleOptimizer`, or one that steps all parameters at once such as
    /// [`MultiTensorAdamax`](crate::optim::MultiTensorAdamax)), burn's LR scheduler (a plain
    /// `f64` is a constant learning rate) and the rule that `rule` builds.
    ///
    /// # Errors
    ///
    /// When the rule's config is invalid, or the scheduler's first learning rate is NaN,
    /// infinite or not above 0 (field `learning rate`).
    pub fn new(
        model: M,
        optimizer: O,
        scheduler: impl Into<ModuleLrScheduler>,
        rule: impl RuleConfig<Rule = R>,
    ) -> Result<Self, ConfigError> {
        let rule = rule.init(&model)?;
        let scheduler = scheduler.into();
        check_learning_rate(&scheduler)?;
        Ok(Self {
            model,
            optimizer,
            scheduler,
            driver: Driver::new(rule, Arc::new(DefaultLoss)),
            checkpoints: None,
        })
    }

    /// Trains with `loss` instead of the [`DefaultLoss`] (cross-entropy for classes, mean
    /// squared error for real targets).
    pub fn with_loss(mut self, loss: impl StepLoss + 'static) -> Self {
        self.driver.loss = Arc::new(loss);
        self
    }

    /// Makes [`fit`] save a checkpoint into `dir` (see [`save`](Self::save)) after every
    /// epoch, so that an interrupted or failed run keeps its last good epoch.
    pub fn with_checkpoints(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoints = Some(dir.into());
        self
    }

    /// The checkpoint directory, when set.
    pub fn checkpoints(&self) -> Option<&Path> {
        self.checkpoints.as_deref()
    }

    /// The model being trained.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model, ending training.
    pub fn into_model(self) -> M {
        self.model
    }

    /// The learning rule, with its state.
    pub fn rule(&self) -> &R {
        &self.driver.rule
    }

    /// The task loss.
    pub fn loss(&self) -> &dyn StepLoss {
        self.driver.loss.as_ref()
    }

    /// Optimizer updates taken so far.
    pub fn updates(&self) -> u64 {
        self.driver.updates
    }

    /// The current epoch, 1-based.
    pub fn epoch(&self) -> usize {
        self.driver.epoch
    }

    /// Trains on one batch of sequences of equal length: `x` is `[batch, time, features]`,
    /// `targets` a class per sequence (`Tensor<1, Int>`), a real vector per sequence
    /// (`Tensor<2>`), a class per step (`Tensor<2, Int>`) or a real vector per step
    /// (`Tensor<3>`). See [`train`](Self::train) for sequences of different lengths.
    ///
    /// # Errors
    ///
    /// As [`train`](Self::train).
    pub fn train_batch(
        &mut self,
        x: Tensor<3>,
        targets: impl Into<Targets>,
    ) -> Result<BatchStats, TrainError> {
        self.train(&SequenceBatch::new(x, targets))
    }

    /// Trains on one batch. For each chunk of the sequence (the rule's chunk length): run the
    /// steps from the detached state, sum the scheduled task losses and the rule's own terms,
    /// take one update with the rule's gradients, let the rule follow it (FPTT: `W̄`, `λ`),
    /// detach the state. Padded steps (past a sequence's length) carry no loss.
    ///
    /// # Errors
    ///
    /// [`TrainError::Batch`] when the targets or lengths do not fit the inputs or the loss,
    /// [`TrainError::Config`] when the rule's chunk does not fit the sequence (FPTT's `K > T`),
    /// [`TrainError::NonFinite`] when the loss is NaN or infinite (the model keeps the weights
    /// it had before the batch).
    pub fn train(&mut self, batch: &SequenceBatch) -> Result<BatchStats, TrainError> {
        let (optimizer, scheduler) = (&mut self.optimizer, &mut self.scheduler);
        let (model, outcome) = self.driver.train_batch(
            self.model.clone(),
            batch,
            |model, grads| {
                let lr = scheduler.step();
                optimizer.step(lr, model, grads)
            },
            |_| {},
        )?;
        self.model = model;
        Ok(outcome.stats)
    }

    /// Trains on every batch, then ends the epoch (FPTT: `W <- W̄` when configured).
    ///
    /// # Errors
    ///
    /// The first [`TrainError`] of a batch; the epoch is not ended then.
    pub fn train_epoch<I>(&mut self, batches: I) -> Result<EpochStats, TrainError>
    where
        I: IntoIterator,
        I::Item: Into<SequenceBatch>,
    {
        self.train_epoch_observed(batches, |_, _| {})
    }

    /// [`train_epoch`](Self::train_epoch), calling `after_batch` with the batch number
    /// (1-based) and its figures after each batch.
    pub(crate) fn train_epoch_observed<I>(
        &mut self,
        batches: I,
        mut after_batch: impl FnMut(usize, BatchStats),
    ) -> Result<EpochStats, TrainError>
    where
        I: IntoIterator,
        I::Item: Into<SequenceBatch>,
    {
        let mut stats = EpochStats::default();
        for (index, batch) in batches.into_iter().enumerate() {
            let batch_stats = self.train(&batch.into())?;
            stats.add(batch_stats);
            after_batch(index + 1, batch_stats);
        }
        self.end_epoch();
        Ok(stats)
    }

    /// Ends an epoch: the rule's end-of-epoch step (FPTT with `average_at_epoch_end`: every
    /// weight becomes its running average).
    pub fn end_epoch(&mut self) {
        self.model = self.driver.end_epoch(self.model.clone());
    }

    /// Saves everything needed to resume into `dir`: the model, the optimizer state, the
    /// learning-rate scheduler, the rule's state and the counters (the layout of
    /// [`crate::checkpoint`]).
    ///
    /// The files are written into a sibling directory first, which then replaces `dir` by
    /// renames: a process killed while saving leaves the previous checkpoint whole (as `dir`, or
    /// as `dir.previous` if it died between the two renames; [`load`](Self::load) finds either).
    ///
    /// # Errors
    ///
    /// When a file cannot be written.
    pub fn save(&self, dir: &Path) -> Result<(), CheckpointError> {
        checkpoint::write_dir_atomically(dir, |partial| {
            let record = |e| CheckpointError::record(partial, e);
            self.model
                .clone()
                .save_file(partial.join("model"))
                .map_err(record)?;
            self.optimizer
                .save(&self.model, &partial.join(OPTIMIZER))
                .map_err(record)?;
            self.scheduler
                .to_record()
                .save(partial.join("scheduler.bpk"))
                .map_err(record)?;
            self.driver.save(&self.model, partial)
        })
    }

    /// Resumes from a directory written by [`save`](Self::save): `model`, `optimizer` and
    /// `scheduler` are freshly built like the saved ones and receive their saved state. When
    /// `dir` is missing but a save was interrupted after moving it aside, the previous
    /// checkpoint is used.
    ///
    /// # Errors
    ///
    /// When a file is missing, unreadable or does not fit, the checkpoint was written by
    /// another rule (FPTT vs BPTT), or the rule's config or the resumed learning rate is
    /// invalid ([`CheckpointError::Config`]).
    pub fn load(
        model: M,
        optimizer: O,
        scheduler: impl Into<ModuleLrScheduler>,
        rule: impl RuleConfig<Rule = R>,
        dir: &Path,
    ) -> Result<Self, CheckpointError> {
        let dir = checkpoint::resolve(dir);
        let rule = rule.init(&model)?;
        let mut driver = Driver::new(rule, Arc::new(DefaultLoss));
        // The counters first: a checkpoint of another rule is named as such.
        crate::checkpoint::Progress::read(&dir, driver.rule.name())?;
        let record = |e| CheckpointError::record(&dir, e);
        let model = model.try_load_file(dir.join("model")).map_err(record)?;
        let optimizer = optimizer
            .load(&model, &dir.join(OPTIMIZER))
            .map_err(record)?;
        let scheduler = scheduler
            .into()
            .load_record(LrSchedulerRecord::load(dir.join("scheduler.bpk")).map_err(record)?);
        check_learning_rate(&scheduler)?;
        driver.load(&model, &dir)?;
        Ok(Self {
            model,
            optimizer,
            scheduler,
            driver,
            checkpoints: None,
        })
    }
}

/// The stem of the optimizer's files in a checkpoint (`optimizer.bpk`).
const OPTIMIZER: &str = "optimizer";

/// Rejects a scheduler whose next learning rate is NaN, infinite or not above 0, before it
/// turns the weights into NaN a few updates later. The scheduler itself does not advance.
fn check_learning_rate(scheduler: &ModuleLrScheduler) -> Result<(), ConfigError> {
    crate::error::check::positive("learning rate", scheduler.clone().step().base())
}
