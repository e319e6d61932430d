//! The online learner: drives a [`StepModel`] over batches of sequences with FPTT (one update
//! per time step or chunk) or BPTT (one update per sequence, or per truncation window).

use std::path::Path;

use burn::config::Config;
use burn::lr_scheduler::LrSchedulerRecord;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer, OptimizerRecord};
use burn::store::RecordError;
use burn::tensor::activation::softmax;
use burn::tensor::{Int, Tensor};

use crate::error::{ConfigError, check};
use crate::fptt::{ClassDistributions, Fptt, FpttConfig, distribution_loss};
use crate::loss::{LossSchedule, cross_entropy, soft_cross_entropy};
use crate::step::{Detach, StepModel};

/// Configuration of backpropagation through time, the offline baseline.
#[derive(Config, Debug)]
pub struct BpttConfig {
    /// Update every `k` steps with the state detached in between (truncated BPTT); `None`
    /// backpropagates through the whole sequence, one update per sequence. A window updates
    /// only if its steps carry loss: with the default [`LossSchedule::LastStep`] only the last
    /// window does, so pair a truncation with [`LossSchedule::LinearRamp`] or
    /// [`LossSchedule::EveryStep`] for one update per window.
    pub truncation: Option<usize>,
    /// Weight of the task loss at each step.
    #[config(default = "LossSchedule::LastStep")]
    pub loss: LossSchedule,
    /// Clip all gradients by this global L2 norm; `None` for no clipping.
    #[config(default = "Some(1.0)")]
    pub clip_norm: Option<f64>,
}

impl BpttConfig {
    /// Checks the values.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when the truncation is 0 or the clipping norm is not finite and positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(k) = self.truncation {
            check::positive_size("BpttConfig.truncation", k)?;
        }
        if let Some(norm) = self.clip_norm {
            check::positive("BpttConfig.clip_norm", norm)?;
        }
        Ok(())
    }
}

/// The learning rule of a [`SequenceLearner`].
#[derive(Config, Debug)]
pub enum Method {
    /// Forward propagation through time: online, memory constant in the sequence length.
    Fptt(FpttConfig),
    /// Backpropagation through time: the offline baseline.
    Bptt(BpttConfig),
}

impl Method {
    /// Short name: `"fptt"` or `"bptt"`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Fptt(_) => "fptt",
            Self::Bptt(_) => "bptt",
        }
    }

    /// Steps between two updates for sequences of `length` steps.
    ///
    /// # Errors
    ///
    /// When `length` is 0, or FPTT's `K` exceeds it.
    pub fn chunk_length(&self, length: usize) -> Result<usize, ConfigError> {
        match self {
            Self::Fptt(config) => config.chunk_length(length),
            Self::Bptt(config) => {
                check::positive_size("sequence length T", length)?;
                Ok(config.truncation.unwrap_or(length).min(length))
            }
        }
    }

    fn terminal_prediction(&self) -> Option<f64> {
        match self {
            Self::Fptt(config) => config.terminal_prediction,
            Self::Bptt(_) => None,
        }
    }

    fn distribution_targets(&self) -> Option<f64> {
        match self {
            Self::Fptt(config) => config.distribution_targets,
            Self::Bptt(_) => None,
        }
    }

    fn loss(&self) -> LossSchedule {
        match self {
            Self::Fptt(config) => config.loss,
            Self::Bptt(config) => config.loss,
        }
    }
}

/// Why training stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration value was rejected.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The loss became NaN or infinite.
    #[error(
        "the loss became {value} at epoch {epoch}, batch {batch} (update {update}); the weights of this batch are not trustworthy"
    )]
    NonFinite {
        /// The loss value.
        value: f64,
        /// Epoch (1-based) of the batch.
        epoch: usize,
        /// Batch (1-based) within the epoch.
        batch: usize,
        /// Optimizer updates taken so far.
        update: u64,
    },
    /// Inputs of the wrong shape.
    #[error("{0}")]
    Shape(String),
    /// A checkpoint could not be written.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

/// What one batch of training did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchStats {
    /// Cross-entropy of the prediction at the last step, averaged over the batch.
    pub loss: f64,
    /// Samples whose last-step prediction is right.
    pub correct: usize,
    /// Samples in the batch.
    pub samples: usize,
    /// Optimizer updates taken on this batch.
    pub updates: usize,
}

/// Loss and accuracy over a set of batches.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EpochStats {
    /// Mean last-step cross-entropy per sample.
    pub loss: f64,
    /// Fraction of samples classified right at the last step.
    pub accuracy: f64,
    /// Number of samples.
    pub samples: usize,
    /// Optimizer updates taken.
    pub updates: usize,
}

impl EpochStats {
    fn add(&mut self, batch: BatchStats) {
        let total = self.samples + batch.samples;
        self.loss =
            (self.loss * self.samples as f64 + batch.loss * batch.samples as f64) / total as f64;
        self.accuracy = (self.accuracy * self.samples as f64 + batch.correct as f64) / total as f64;
        self.samples = total;
        self.updates += batch.updates;
    }
}

/// Trains a [`StepModel`] on batches of labelled sequences with FPTT or BPTT.
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
pub struct SequenceLearner<M: StepModel> {
    model: M,
    optimizer: ModuleOptimizer,
    scheduler: ModuleLrScheduler,
    method: Method,
    fptt: Option<Fptt>,
    distributions: Option<ClassDistributions>,
    updates: u64,
    epoch: usize,
    batch: usize,
    checkpoints: Option<std::path::PathBuf>,
}

impl<M: StepModel> SequenceLearner<M> {
    /// A learner for `model` (on an autodiff device), with burn's optimizer and LR scheduler
    /// (a plain `f64` is a constant learning rate).
    ///
    /// # Errors
    ///
    /// When the method's config is invalid.
    pub fn new(
        model: M,
        optimizer: ModuleOptimizer,
        scheduler: impl Into<ModuleLrScheduler>,
        method: Method,
    ) -> Result<Self, ConfigError> {
        let fptt = match &method {
            Method::Fptt(config) => Some(Fptt::new(config.clone(), &model)?),
            Method::Bptt(config) => {
                config.validate()?;
                None
            }
        };
        Ok(Self {
            model,
            optimizer,
            scheduler: scheduler.into(),
            method,
            fptt,
            distributions: None,
            updates: 0,
            epoch: 1,
            batch: 0,
            checkpoints: None,
        })
    }

    /// Makes [`fit`] save a checkpoint into `dir` (see [`save`](Self::save)) after every
    /// epoch, so that an interrupted or failed run keeps its last good epoch.
    pub fn with_checkpoints(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
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

    /// The learning rule.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The FPTT state, when training with FPTT.
    pub fn fptt(&self) -> Option<&Fptt> {
        self.fptt.as_ref()
    }

    /// The running class distributions of FPTT's distribution loss, once a batch has filled
    /// them (see [`FpttConfig::distribution_targets`]).
    pub fn class_distributions(&self) -> Option<&ClassDistributions> {
        self.distributions.as_ref()
    }

    /// Optimizer updates taken so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// The current epoch, 1-based.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Trains on one batch: `x` is `[batch, time, features]`, `y` the class of each sequence.
    ///
    /// For each chunk of the sequence: run the steps from the detached state, sum the scheduled
    /// task losses, backward, (FPTT: add the regulariser's gradient,) clip, optimizer step,
    /// (FPTT: update `W̄` and `λ`,) detach the state.
    ///
    /// # Errors
    ///
    /// [`TrainError::Config`] when FPTT's `K` exceeds the sequence length,
    /// [`TrainError::Shape`] when `y` does not match the batch, [`TrainError::NonFinite`] when
    /// the loss is NaN or infinite.
    pub fn train_batch(
        &mut self,
        x: Tensor<3>,
        y: Tensor<1, Int>,
    ) -> Result<BatchStats, TrainError> {
        self.batch += 1;
        let [batch, ..] = x.dims();
        let (model, scores, updates) = {
            let (optimizer, scheduler, fptt, counter) = (
                &mut self.optimizer,
                &mut self.scheduler,
                &mut self.fptt,
                &mut self.updates,
            );
            let method = &self.method;
            train_sequence(
                method,
                self.model.clone(),
                x,
                y.clone(),
                &mut self.distributions,
                |model, loss| {
                    let lr = scheduler.step();
                    let grads = update_gradients(method, fptt.as_ref(), &model, loss);
                    let model = optimizer.step(lr, model, grads);
                    if let Some(fptt) = fptt.as_mut() {
                        fptt.after_step(&model);
                    }
                    *counter += 1;
                    model
                },
                |_| {},
            )?
        };
        self.model = model;
        let loss = cross_entropy(scores.clone(), y.clone()).into_scalar::<f64>();
        if !loss.is_finite() {
            return Err(TrainError::NonFinite {
                value: loss,
                epoch: self.epoch,
                batch: self.batch,
                update: self.updates,
            });
        }
        let correct = count_correct(scores, y);
        Ok(BatchStats {
            loss,
            correct,
            samples: batch,
            updates,
        })
    }

    /// Trains on every batch, then ends the epoch (FPTT: `W <- W̄` when configured).
    ///
    /// # Errors
    ///
    /// The first [`TrainError`] of a batch; the epoch is not ended then.
    pub fn train_epoch<I>(&mut self, batches: I) -> Result<EpochStats, TrainError>
    where
        I: IntoIterator<Item = (Tensor<3>, Tensor<1, Int>)>,
    {
        let mut stats = EpochStats::default();
        for (x, y) in batches {
            stats.add(self.train_batch(x, y)?);
        }
        self.end_epoch();
        Ok(stats)
    }

    /// Ends an epoch: with FPTT and `average_at_epoch_end`, sets every weight to its running
    /// average.
    pub fn end_epoch(&mut self) {
        if let Some(fptt) = &self.fptt
            && fptt.config().average_at_epoch_end
        {
            self.model = fptt.average_into(self.model.clone());
        }
        self.epoch += 1;
        self.batch = 0;
    }

    /// Saves everything needed to resume into `dir`: the model, the optimizer state, the
    /// learning-rate scheduler, the FPTT state and the counters.
    ///
    /// The files are written into a sibling directory first, which then replaces `dir` by
    /// renames: a process killed while saving leaves the previous checkpoint whole (as `dir`, or
    /// as `dir.previous` if it died between the two renames; [`load`](Self::load) finds either).
    ///
    /// # Errors
    ///
    /// When a file cannot be written.
    pub fn save(&self, dir: &Path) -> Result<(), RecordError> {
        let io =
            |path: &Path, e: std::io::Error| RecordError::Io(format!("{}: {e}", path.display()));
        let partial = sibling(dir, "partial");
        let previous = sibling(dir, "previous");
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(|e| io(&partial, e))?;
        }
        std::fs::create_dir_all(&partial).map_err(|e| io(&partial, e))?;
        self.model.clone().save_file(partial.join("model"))?;
        self.optimizer.save(partial.join("optimizer.bpk"))?;
        self.scheduler
            .to_record()
            .save(partial.join("scheduler.bpk"))?;
        if let Some(fptt) = &self.fptt {
            fptt.save(&self.model, &partial.join("fptt"))?;
        }
        if let Some(distributions) = &self.distributions {
            distributions.save(&partial.join(DISTRIBUTIONS_FILE))?;
        }
        let progress = serde_json::json!({
            "updates": self.updates,
            "epoch": self.epoch,
            "method": self.method.name(),
        });
        std::fs::write(partial.join("progress.json"), progress.to_string())
            .map_err(|e| io(&partial, e))?;
        if dir.exists() {
            if previous.exists() {
                std::fs::remove_dir_all(&previous).map_err(|e| io(&previous, e))?;
            }
            std::fs::rename(dir, &previous).map_err(|e| io(dir, e))?;
        }
        std::fs::rename(&partial, dir).map_err(|e| io(dir, e))?;
        if previous.exists() {
            std::fs::remove_dir_all(&previous).map_err(|e| io(&previous, e))?;
        }
        Ok(())
    }

    /// Resumes from a directory written by [`save`](Self::save): `model`, `optimizer` and
    /// `scheduler` are freshly built like the saved ones and receive their saved state. When
    /// `dir` is missing but a save was interrupted after moving it aside, the previous
    /// checkpoint is used.
    ///
    /// # Errors
    ///
    /// When a file is missing, unreadable or does not fit, or the checkpoint was written by
    /// another method (FPTT vs BPTT).
    pub fn load(
        model: M,
        optimizer: ModuleOptimizer,
        scheduler: impl Into<ModuleLrScheduler>,
        method: Method,
        dir: &Path,
    ) -> Result<Self, RecordError> {
        let previous = sibling(dir, "previous");
        let dir = if !dir.exists() && previous.exists() {
            previous.as_path()
        } else {
            dir
        };
        let progress_path = dir.join("progress.json");
        let progress: serde_json::Value = std::fs::read_to_string(&progress_path)
            .map_err(|e| RecordError::Io(format!("{}: {e}", progress_path.display())))
            .and_then(|text| {
                serde_json::from_str(&text).map_err(|e| {
                    RecordError::Validation(format!("{}: {e}", progress_path.display()))
                })
            })?;
        let counter = |key: &str| {
            progress[key].as_u64().ok_or_else(|| {
                RecordError::Validation(format!("{}: no `{key}`", progress_path.display()))
            })
        };
        if let Some(saved) = progress["method"].as_str()
            && saved != method.name()
        {
            return Err(RecordError::Validation(format!(
                "{} was written by {saved}, not {}",
                dir.display(),
                method.name()
            )));
        }
        let model = model.try_load_file(dir.join("model"))?;
        let optimizer = optimizer.load_record(OptimizerRecord::load(dir.join("optimizer.bpk"))?);
        let scheduler = scheduler
            .into()
            .load_record(LrSchedulerRecord::load(dir.join("scheduler.bpk"))?);
        let mut learner = Self::new(model, optimizer, scheduler, method)
            .map_err(|e| RecordError::Validation(e.to_string()))?;
        if let Method::Fptt(config) = &learner.method {
            learner.fptt = Some(Fptt::load(
                config.clone(),
                &learner.model,
                &dir.join("fptt"),
            )?);
        }
        let distributions = dir.join(DISTRIBUTIONS_FILE);
        if distributions.exists() {
            let device = crate::model_device(&learner.model);
            learner.distributions = Some(ClassDistributions::load(&distributions, &device)?);
        }
        learner.updates = counter("updates")?;
        learner.epoch = counter("epoch")? as usize;
        Ok(learner)
    }
}

/// The file of a checkpoint that holds the [`ClassDistributions`], when the method has them.
pub(crate) const DISTRIBUTIONS_FILE: &str = "class-distributions.bpk";

/// `dir` with `.suffix` appended to its name.
fn sibling(dir: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{suffix}"));
    dir.with_file_name(name)
}

/// Runs one batch of sequences through `model` the way `method` trains: for each chunk, the
/// steps from the detached state, the scheduled task loss summed over the chunk, then
/// `update(model, loss)`, which takes one optimizer update and returns the new model. `observe`
/// sees the state after every step (for activity statistics). With FPTT's distribution loss,
/// `distributions` is created on the first batch and updated at every step.
///
/// Returns the final model, the last step's scores (detached) and the number of updates.
///
/// # Errors
///
/// [`TrainError::Config`] when the chunk does not fit the sequence length (FPTT's `K > T`), and
/// [`TrainError::Shape`] when `y` does not match the batch.
pub(crate) fn train_sequence<M: StepModel>(
    method: &Method,
    mut model: M,
    x: Tensor<3>,
    y: Tensor<1, Int>,
    distributions: &mut Option<ClassDistributions>,
    mut update: impl FnMut(M, Tensor<1>) -> M,
    mut observe: impl FnMut(&M::State),
) -> Result<(M, Tensor<2>, usize), TrainError> {
    let [batch, length, _] = x.dims();
    if y.dims() != [batch] {
        return Err(TrainError::Shape(format!(
            "targets must be [batch = {batch}], got {:?}",
            y.dims()
        )));
    }
    let chunk = method.chunk_length(length)?;
    let schedule = method.loss();
    let terminal = method.terminal_prediction();
    let distribution_weight = method.distribution_targets();
    let mut state = model.init_state(batch, &x.device());
    let mut last_scores = None;
    let mut previous_probs: Option<Tensor<2>> = None;
    let mut updates = 0;
    let mut start = 0;
    while start < length {
        let end = (start + chunk).min(length);
        let mut loss: Option<Tensor<1>> = None;
        for t in start..end {
            let (scores, next) = model.step(crate::neuron::time_step(&x, t), state);
            state = next;
            observe(&state);
            let weight = schedule.weight(t, length);
            let mut add = |term: Tensor<1>| {
                loss = Some(match loss.take() {
                    Some(total) => total + term,
                    None => term,
                });
            };
            if weight > 0.0 {
                add(cross_entropy(scores.clone(), y.clone()) * weight);
            }
            if let Some(gamma) = terminal {
                let remaining = 1.0 - (t + 1) as f64 / length as f64;
                if let Some(previous) = previous_probs.take()
                    && gamma * remaining > 0.0
                {
                    add(soft_cross_entropy(scores.clone(), previous) * (gamma * remaining));
                }
                previous_probs = Some(softmax(scores.clone().detach(), 1));
            }
            if let Some(gamma) = distribution_weight
                && t + 1 < length
            {
                let classes = scores.dims()[1];
                let table = distributions.get_or_insert_with(|| ClassDistributions::new(classes));
                if table.classes() != classes {
                    return Err(TrainError::Shape(format!(
                        "the model scores {classes} classes, but the class distributions hold {}",
                        table.classes()
                    )));
                }
                let remaining = 1.0 - (t + 1) as f64 / length as f64;
                let targets = table.targets(t, y.clone());
                if gamma > 0.0 {
                    add(distribution_loss(scores.clone(), targets) * (gamma * remaining));
                }
                table.observe(t, softmax(scores.clone().detach(), 1), y.clone());
            }
            if t + 1 == length {
                last_scores = Some(scores.detach());
            }
        }
        if let Some(loss) = loss {
            model = update(model, loss);
            updates += 1;
        }
        state = state.detach();
        start = end;
    }
    let scores = last_scores.expect("a sequence has at least one step");
    Ok((model, scores, updates))
}

/// The gradients of one update from `loss`: with FPTT, the task gradient plus the regulariser's
/// (clipped by FPTT's norm); with BPTT, the task gradient clipped by BPTT's norm.
///
/// # Panics
///
/// When `method` is FPTT and `fptt` is `None`.
pub(crate) fn update_gradients<M: Module>(
    method: &Method,
    fptt: Option<&Fptt>,
    model: &M,
    loss: Tensor<1>,
) -> GradientsParams {
    let mut grads = GradientsParams::from_grads(loss.backward(), model);
    match method {
        Method::Fptt(_) => fptt
            .expect("an FPTT update needs the FPTT state")
            .regularise(model, grads),
        Method::Bptt(config) => {
            if let Some(max_norm) = config.clip_norm
                && let Some(squared) = crate::fptt::squared_norm(model, &grads)
            {
                crate::fptt::clip_global_norm(model, &mut grads, squared, max_norm);
            }
            grads
        }
    }
}

/// How many last-step predictions in `scores` (`[batch, classes]`) match `targets`.
pub fn count_correct(scores: Tensor<2>, targets: Tensor<1, Int>) -> usize {
    let [batch, _] = scores.dims();
    let predicted = scores.argmax(1).reshape([batch]);
    predicted.equal(targets).int().sum().into_scalar::<i64>() as usize
}

/// Loss and accuracy of `model` on batches, each sequence run whole from a fresh state, without
/// gradients.
pub fn evaluate<M, I>(model: &M, batches: I) -> EpochStats
where
    M: StepModel,
    I: IntoIterator<Item = (Tensor<3>, Tensor<1, Int>)>,
{
    let model = model.valid();
    let mut stats = EpochStats::default();
    for (x, y) in batches {
        let x = x.inner();
        let y = y.inner();
        let [batch, length, _] = x.dims();
        let (scores, _) = model.run(x, None);
        let classes = scores.dims()[2];
        let last = scores
            .slice([0..batch, length - 1..length, 0..classes])
            .reshape([batch, classes]);
        let loss = cross_entropy(last.clone(), y.clone()).into_scalar::<f64>();
        stats.add(BatchStats {
            loss,
            correct: count_correct(last, y),
            samples: batch,
            updates: 0,
        });
    }
    stats
}

/// One epoch of [`fit`]: training and test figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochReport {
    /// Epoch number, 1-based.
    pub epoch: usize,
    /// Figures on the training batches, measured while training.
    pub train: EpochStats,
    /// Figures on the test set after the epoch (after `W <- W̄` for FPTT).
    pub test: EpochStats,
    /// Seconds since `fit` started.
    pub seconds: f64,
}

/// Trains for `epochs` epochs on `train` (shuffled per epoch from `seed`) and evaluates on
/// `test` after each, calling `on_epoch` with the figures. The device is reseeded from `seed`
/// and the epoch number at the start of every epoch, so a resumed run repeats an
/// uninterrupted one. With [`SequenceLearner::with_checkpoints`], a checkpoint is saved after
/// every epoch.
///
/// # Errors
///
/// The first [`TrainError`] of a batch.
pub fn fit<M: StepModel>(
    learner: &mut SequenceLearner<M>,
    train: &crate::data::SequenceSet,
    test: &crate::data::SequenceSet,
    epochs: usize,
    batch_size: usize,
    seed: u64,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Result<Vec<EpochReport>, TrainError> {
    check::positive_size("batch size", batch_size)?;
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
    let mut reports = Vec::with_capacity(epochs);
    for _ in 0..epochs {
        let epoch = learner.epoch();
        // Each epoch's randomness (shuffle, initial membranes) comes from (seed, epoch) alone,
        // so a run resumed from a checkpoint repeats the uninterrupted one.
        let shuffle = seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64);
        device.seed(shuffle);
        let train_stats = learner.train_epoch(train.batches(batch_size, Some(shuffle), &device))?;
        let test_stats = evaluate(
            learner.model(),
            test.batches(batch_size.max(256), None, &device),
        );
        let report = EpochReport {
            epoch,
            train: train_stats,
            test: test_stats,
            seconds: started.elapsed().as_secs_f64(),
        };
        if let Some(dir) = learner.checkpoints.clone() {
            learner
                .save(&dir)
                .map_err(|e| TrainError::Checkpoint(e.to_string()))?;
        }
        on_epoch(&report);
        reports.push(report);
    }
    Ok(reports)
}
