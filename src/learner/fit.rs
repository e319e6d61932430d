//! Epochs of training and evaluation: [`fit`], [`evaluate`], and the data they read.

use burn::config::Config;
use burn::tensor::{Device, Int, Tensor};

use super::driver::read_out;
use super::{BatchStats, EpochReport, EpochStats, SequenceLearner, TrainError};
use crate::data::SequenceSet;
use crate::error::{ConfigError, check};
use crate::optim::ModelOptimizer;
use crate::rule::LearningRule;
use crate::step::StepModel;
use crate::task::{DefaultLoss, SequenceBatch, StepLoss};

/// A data set that [`fit`] can train and evaluate on: a number of sequences, served in
/// batches.
pub trait SequenceData {
    /// Number of sequences.
    fn len(&self) -> usize;

    /// Whether there are no sequences.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sequences in batches of `batch_size` (the last may be smaller), shuffled from
    /// `shuffle` when given, on `device`.
    fn batches<'a>(
        &'a self,
        batch_size: usize,
        shuffle: Option<u64>,
        device: &Device,
    ) -> Box<dyn Iterator<Item = SequenceBatch> + 'a>;
}

impl SequenceData for SequenceSet {
    fn len(&self) -> usize {
        SequenceSet::len(self)
    }

    fn batches<'a>(
        &'a self,
        batch_size: usize,
        shuffle: Option<u64>,
        device: &Device,
    ) -> Box<dyn Iterator<Item = SequenceBatch> + 'a> {
        Box::new(SequenceSet::batches(self, batch_size, shuffle, device).map(SequenceBatch::from))
    }
}

/// The settings of [`fit`].
///
/// ```
/// use burn_fptt::FitConfig;
///
/// let config = FitConfig::new(30, 32).with_seed(42);
/// assert_eq!(config.test_batch_size(), 256);
/// assert!(FitConfig::new(1, 0).validate().is_err());
/// assert_eq!(FitConfig::new(0, 32).validate().unwrap_err().field(), "FitConfig.epochs");
/// ```
#[derive(Config, Debug)]
pub struct FitConfig {
    /// Epochs to train.
    pub epochs: usize,
    /// Sequences per training batch.
    pub batch_size: usize,
    /// Seed of the shuffles and of each epoch's randomness.
    #[config(default = 0)]
    pub seed: u64,
    /// Sequences per test batch; `None` for the training batch size, at least 256.
    pub test_batch: Option<usize>,
}

impl FitConfig {
    /// The test batch size.
    pub fn test_batch_size(&self) -> usize {
        self.test_batch.unwrap_or(self.batch_size.max(256))
    }

    /// Checks the values.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when the number of epochs or a batch size is 0.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive_size("FitConfig.epochs", self.epochs)?;
        check::positive_size("batch size", self.batch_size)?;
        if let Some(size) = self.test_batch {
            check::positive_size("FitConfig.test_batch", size)?;
        }
        Ok(())
    }
}

/// How many last-step predictions in `scores` (`[batch, classes]`) match `targets`.
pub fn count_correct(scores: Tensor<2>, targets: Tensor<1, Int>) -> usize {
    let [batch, _] = scores.dims();
    let predicted = scores.argmax(1).reshape([batch]);
    predicted.equal(targets).int().sum().into_scalar::<i64>() as usize
}

/// Loss and accuracy of `model` on batches, with the [`DefaultLoss`]; see [`evaluate_with`].
///
/// # Errors
///
/// As [`evaluate_with`].
pub fn evaluate<M, I>(model: &M, batches: I) -> Result<EpochStats, TrainError>
where
    M: StepModel,
    I: IntoIterator,
    I::Item: Into<SequenceBatch>,
{
    evaluate_with(model, batches, &DefaultLoss)
}

/// Loss (by `loss`) and, for class targets, accuracy of `model` on batches, each sequence run
/// whole from a fresh state, without gradients, read out at its own last step (or at every
/// step, for one target per step).
///
/// # Errors
///
/// [`TrainError::Batch`] when a batch's targets or lengths do not fit.
pub fn evaluate_with<M, I>(
    model: &M,
    batches: I,
    loss: &dyn StepLoss,
) -> Result<EpochStats, TrainError>
where
    M: StepModel,
    I: IntoIterator,
    I::Item: Into<SequenceBatch>,
{
    let model = model.valid();
    let mut stats = EpochStats::default();
    for batch in batches {
        let batch: SequenceBatch = batch.into();
        let batch = SequenceBatch {
            inputs: batch.inputs.inner(),
            targets: batch.targets.without_autodiff(),
            lengths: batch.lengths,
        };
        stats.add(read_out(&model, &batch, loss, |_| {})?.stats);
    }
    Ok(stats)
}

/// The readouts of `model` on `batch`, without gradients: each sequence run from a fresh state
/// and read out at its own last step, `[batch, outputs]`.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// let net = SpikingRegressorConfig::new(1, 8, 1).init(&device);
/// let x = Tensor::<3>::ones([2, 6, 1], &device);
/// let batch = SequenceBatch::new(x, Tensor::<2>::zeros([2, 1], &device)).with_lengths(vec![6, 3]);
/// assert_eq!(burn_fptt::predict(&net, &batch).unwrap().dims(), [2, 1]);
/// ```
///
/// # Errors
///
/// [`TrainError::Batch`] when the batch's targets or lengths do not fit its inputs.
pub fn predict<M: StepModel>(model: &M, batch: &SequenceBatch) -> Result<Tensor<2>, TrainError> {
    let model = model.valid();
    let batch = SequenceBatch {
        inputs: batch.inputs.clone().inner(),
        targets: batch.targets.clone().without_autodiff(),
        lengths: batch.lengths.clone(),
    };
    Ok(read_out(&model, &batch, &DefaultLoss, |_| {})?.outputs)
}

/// Follows a [`fit_with`] run batch by batch and epoch by epoch: a progress bar, a log, an
/// early stop of one's own. Both methods do nothing by default.
///
/// ```
/// use burn_fptt::learner::{BatchProgress, FitObserver};
/// use burn_fptt::EpochReport;
///
/// /// Counts the batches trained.
/// #[derive(Default)]
/// struct Batches(usize);
///
/// impl FitObserver for Batches {
///     fn on_batch(&mut self, _progress: &BatchProgress) {
///         self.0 += 1;
///     }
/// }
/// ```
pub trait FitObserver {
    /// After each training batch.
    fn on_batch(&mut self, _progress: &BatchProgress) {}

    /// After each epoch (trained, evaluated and checkpointed), with its figures.
    fn on_epoch(&mut self, _report: &EpochReport) {}
}

/// Where an epoch of [`fit_with`] stands after a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchProgress {
    /// Epoch number, 1-based.
    pub epoch: usize,
    /// Batches trained in this epoch so far, this one included.
    pub batch: usize,
    /// Batches in the epoch, when the data say (every [`SequenceData`] of this crate does).
    pub batches: Option<usize>,
    /// The figures of this batch.
    pub stats: BatchStats,
}

/// A closure called after each epoch, as a [`FitObserver`].
struct OnEpoch<F>(F);

impl<F: FnMut(&EpochReport)> FitObserver for OnEpoch<F> {
    fn on_epoch(&mut self, report: &EpochReport) {
        (self.0)(report);
    }
}

/// Trains for `config.epochs` epochs on `train` (shuffled per epoch from the seed) and
/// evaluates on `test` after each, calling `on_epoch` with the figures; [`fit_with`] also
/// reports every batch. The device is reseeded from the seed and the epoch number at the start
/// of every epoch, so a resumed run repeats an uninterrupted one. With
/// [`SequenceLearner::with_checkpoints`], a checkpoint is saved after every epoch.
///
/// # Errors
///
/// An invalid config or empty data ([`TrainError::Config`]), or the first [`TrainError`] of a
/// batch.
pub fn fit<M, R, O, D>(
    learner: &mut SequenceLearner<M, R, O>,
    train: &D,
    test: &D,
    config: &FitConfig,
    on_epoch: impl FnMut(&EpochReport),
) -> Result<Vec<EpochReport>, TrainError>
where
    M: StepModel,
    R: LearningRule,
    O: ModelOptimizer,
    D: SequenceData + ?Sized,
{
    fit_with(learner, train, test, config, &mut OnEpoch(on_epoch))
}

/// [`fit`], telling `observer` about every batch and every epoch.
///
/// # Errors
///
/// As [`fit`].
pub fn fit_with<M, R, O, D>(
    learner: &mut SequenceLearner<M, R, O>,
    train: &D,
    test: &D,
    config: &FitConfig,
    observer: &mut dyn FitObserver,
) -> Result<Vec<EpochReport>, TrainError>
where
    M: StepModel,
    R: LearningRule,
    O: ModelOptimizer,
    D: SequenceData + ?Sized,
{
    config.validate()?;
    let batch_size = config.batch_size;
    if train.is_empty() {
        return Err(ConfigError::new("training set", 0, "has no samples").into());
    }
    if test.is_empty() {
        return Err(ConfigError::new("test set", 0, "has no samples").into());
    }
    if batch_size > train.len() {
        return Err(ConfigError::new(
            "batch size",
            batch_size,
            format!("is larger than the training set ({} samples)", train.len()),
        )
        .into());
    }
    let device = crate::model_device(learner.model());
    let started = std::time::Instant::now();
    let mut reports = Vec::with_capacity(config.epochs);
    for _ in 0..config.epochs {
        let epoch = learner.epoch();
        // Each epoch's randomness (shuffle, initial membranes) comes from (seed, epoch) alone,
        // so a run resumed from a checkpoint repeats the uninterrupted one.
        let shuffle = epoch_seed(config.seed, epoch);
        device.seed(shuffle);
        let batches = train.batches(batch_size, Some(shuffle), &device);
        let (low, high) = batches.size_hint();
        let count = (Some(low) == high).then_some(low);
        let train_stats = learner.train_epoch_observed(batches, |batch, stats| {
            observer.on_batch(&BatchProgress {
                epoch,
                batch,
                batches: count,
                stats,
            });
        })?;
        let averaged = learner.rule().evaluation_model(learner.model());
        let test_stats = evaluate_with(
            averaged.as_ref().unwrap_or(learner.model()),
            test.batches(config.test_batch_size(), None, &device),
            learner.loss(),
        )?;
        let report = EpochReport {
            epoch,
            train: train_stats,
            test: test_stats,
            seconds: started.elapsed().as_secs_f64(),
        };
        if let Some(dir) = learner.checkpoints() {
            learner.save(dir)?;
        }
        observer.on_epoch(&report);
        reports.push(report);
    }
    Ok(reports)
}

/// The seed of `epoch`'s randomness in a run seeded with `seed`.
pub(crate) fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64)
}
