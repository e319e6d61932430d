//! Learning rules: how a model's weights follow a sequence. A rule says how often to update
//! (its chunk length), which steps' losses count ([`LossSchedule`]), what it adds to the task
//! loss, how the gradient of an update is formed, what it does after each update and at the
//! end of an epoch, and which files of its own a checkpoint holds.
//!
//! The learners ([`SequenceLearner`](crate::SequenceLearner) and the burn-train strategy) drive
//! any rule with the same loop: for each chunk of a batch, run the steps from the detached
//! state, sum the weighted task losses and the rule's [`auxiliary_loss`](
//! LearningRule::auxiliary_loss) terms, then take one update with the rule's
//! [`gradients`](LearningRule::gradients) and call [`after_update`](LearningRule::after_update).
//!
//! The rules here: [`FpttRule`] (forward propagation through time), [`BpttRule`]
//! (backpropagation through time, whole-sequence or truncated) and [`UnregularisedRule`]
//! (FPTT's online updates without its regulariser, the ablation). [`Method`] picks FPTT or BPTT
//! by value. A rule of one's own implements [`RuleConfig`] and [`LearningRule`].

mod bptt;
mod fptt;
mod method;
mod unregularised;

use std::path::Path;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

pub use bptt::{BpttConfig, BpttRule};
pub use fptt::FpttRule;
pub use method::{Method, MethodRule};
pub use unregularised::{UnregularisedConfig, UnregularisedRule};

pub use crate::step::chunk_length_for_updates;

use crate::checkpoint::CheckpointError;
use crate::error::ConfigError;
use crate::loss::LossSchedule;
use crate::task::{BatchError, Targets};

/// The configuration of a [`LearningRule`]: builds the rule for a model.
pub trait RuleConfig {
    /// The rule it builds.
    type Rule: LearningRule;

    /// The rule, ready to train `model` (for FPTT: `W̄ = W`, `λ = 0`).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first invalid setting.
    fn init<M: Module>(&self, model: &M) -> Result<Self::Rule, ConfigError>;

    /// Checks the settings without a model (what [`init`](Self::init) would reject).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first invalid setting.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// What a rule sees of one step, to add loss terms of its own.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    /// The step, 0-based.
    pub t: usize,
    /// Steps in the sequence.
    pub length: usize,
    /// The model's outputs at this step, `[batch, outputs]`.
    pub outputs: &'a Tensor<2>,
    /// The batch's targets.
    pub targets: &'a Targets,
}

/// The loss of one update, summed term by term in the order the terms come.
#[derive(Debug, Default)]
pub struct LossSum {
    total: Option<Tensor<1>>,
}

impl LossSum {
    /// Adds a term.
    pub fn add(&mut self, term: Tensor<1>) {
        self.total = Some(match self.total.take() {
            Some(total) => total + term,
            None => term,
        });
    }

    /// The sum, `None` when no term was added.
    pub fn into_inner(self) -> Option<Tensor<1>> {
        self.total
    }
}

/// A learning rule, driven by the learners one batch at a time.
///
/// Only [`name`](Self::name), [`chunk_length`](Self::chunk_length),
/// [`loss_schedule`](Self::loss_schedule) and [`gradients`](Self::gradients) are required; the
/// other methods default to doing nothing.
///
/// ```
/// use burn::module::Module;
/// use burn::optim::GradientsParams;
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
/// use burn_fptt::rule::{LearningRule, RuleConfig};
///
/// /// One update per step on the instantaneous loss, no clipping: plain online gradient descent.
/// struct EveryStep;
///
/// impl LearningRule for EveryStep {
///     fn name(&self) -> &str {
///         "every-step"
///     }
///     fn chunk_length(&self, _length: usize) -> Result<usize, ConfigError> {
///         Ok(1)
///     }
///     fn loss_schedule(&self) -> LossSchedule {
///         LossSchedule::EveryStep
///     }
///     fn gradients<M: Module>(&mut self, model: &M, loss: Tensor<1>) -> GradientsParams {
///         GradientsParams::from_grads(loss.backward(), model)
///     }
/// }
///
/// impl RuleConfig for EveryStep {
///     type Rule = EveryStep;
///     fn init<M: Module>(&self, _model: &M) -> Result<EveryStep, ConfigError> {
///         Ok(EveryStep)
///     }
/// }
///
/// let device = default_device().autodiff();
/// let net = SpikingClassifierConfig::new(1, vec![8], 2).init(&device);
/// let mut learner = SequenceLearner::new(net, AdamaxConfig::new().init(), 1e-3, EveryStep).unwrap();
/// let x = Tensor::<3>::ones([2, 5, 1], &device);
/// let stats = learner.train_batch(x, Tensor::<1, Int>::from_ints([0, 1], &device)).unwrap();
/// assert_eq!(stats.updates, 5);
/// ```
pub trait LearningRule {
    /// A short name (`"fptt"`), written into checkpoints and results.
    fn name(&self) -> &str;

    /// Steps between two updates for sequences of `length` steps.
    ///
    /// # Errors
    ///
    /// When the rule cannot split a sequence of this length (FPTT's `K > T`).
    fn chunk_length(&self, length: usize) -> Result<usize, ConfigError>;

    /// The weight of the task loss at each step.
    fn loss_schedule(&self) -> LossSchedule;

    /// Called before the first step of every batch.
    ///
    /// # Errors
    ///
    /// When the rule cannot train on these targets or lengths.
    fn begin_batch(
        &mut self,
        targets: &Targets,
        lengths: Option<&[usize]>,
    ) -> Result<(), BatchError> {
        let _ = (targets, lengths);
        Ok(())
    }

    /// Adds the rule's own loss terms of step `step.t` to `loss` (after the task loss of that
    /// step).
    ///
    /// # Errors
    ///
    /// When the terms cannot be formed for these outputs.
    fn auxiliary_loss(
        &mut self,
        step: StepContext<'_>,
        loss: &mut LossSum,
    ) -> Result<(), BatchError> {
        let _ = (step, loss);
        Ok(())
    }

    /// The gradients of one update from its loss (backward, then whatever the rule adds, and
    /// clipping).
    fn gradients<M: Module>(&mut self, model: &M, loss: Tensor<1>) -> GradientsParams;

    /// Called with the model after each optimizer update.
    fn after_update<M: Module>(&mut self, model: &M) {
        let _ = model;
    }

    /// The model to go on with at the end of an epoch.
    fn end_epoch<M: Module>(&mut self, model: M) -> M {
        model
    }

    /// The weights to evaluate instead of the trained ones, when the rule keeps others that it
    /// reports on (FPTT's running average `W̄` with
    /// [`FpttConfig::evaluate_on_average`](crate::fptt::FpttConfig::evaluate_on_average));
    /// `None` evaluates `model` itself (the default).
    fn evaluation_model<M: Module>(&self, model: &M) -> Option<M> {
        let _ = model;
        None
    }

    /// Writes the rule's state into the checkpoint directory `dir`.
    ///
    /// # Errors
    ///
    /// When a file cannot be written.
    fn save<M: Module>(&self, model: &M, dir: &Path) -> Result<(), CheckpointError> {
        let _ = (model, dir);
        Ok(())
    }

    /// Reads the rule's state back from the checkpoint directory `dir`.
    ///
    /// # Errors
    ///
    /// When a file is missing, unreadable or does not fit `model`.
    fn load<M: Module>(&mut self, model: &M, dir: &Path) -> Result<(), CheckpointError> {
        let _ = (model, dir);
        Ok(())
    }
}
