//! [`Method`]: FPTT or BPTT chosen by value, for programs that pick the rule at run time.

use std::path::Path;

use burn::config::Config;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::{BpttConfig, BpttRule, FpttRule, LearningRule, LossSum, RuleConfig, StepContext};
use crate::checkpoint::CheckpointError;
use crate::error::ConfigError;
use crate::fptt::{ClassDistributions, Fptt, FpttConfig};
use crate::loss::LossSchedule;
use crate::task::{BatchError, Targets};

/// FPTT or BPTT, chosen by value (a [`RuleConfig`] whose rule is a [`MethodRule`]).
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
            Self::Bptt(config) => config.chunk_length(length),
        }
    }

    /// Checks the values.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of the rule's config.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Fptt(config) => config.validate(),
            Self::Bptt(config) => config.validate(),
        }
    }
}

/// The rule a [`Method`] builds: an [`FpttRule`] or a [`BpttRule`].
#[derive(Debug, Clone)]
pub enum MethodRule {
    /// FPTT (boxed: its state is far larger than BPTT's).
    Fptt(Box<FpttRule>),
    /// BPTT.
    Bptt(BpttRule),
}

impl MethodRule {
    /// The FPTT state, when training with FPTT.
    pub fn fptt(&self) -> Option<&Fptt> {
        match self {
            Self::Fptt(rule) => Some(rule.fptt()),
            Self::Bptt(_) => None,
        }
    }

    /// FPTT's running class distributions, once a batch has filled them.
    pub fn class_distributions(&self) -> Option<&ClassDistributions> {
        match self {
            Self::Fptt(rule) => rule.class_distributions(),
            Self::Bptt(_) => None,
        }
    }
}

impl RuleConfig for Method {
    type Rule = MethodRule;

    fn validate(&self) -> Result<(), ConfigError> {
        Method::validate(self)
    }

    fn init<M: Module>(&self, model: &M) -> Result<MethodRule, ConfigError> {
        Ok(match self {
            Self::Fptt(config) => MethodRule::Fptt(Box::new(config.init(model)?)),
            Self::Bptt(config) => MethodRule::Bptt(config.init(model)?),
        })
    }
}

/// Calls the same method on whichever rule `self` holds.
macro_rules! dispatch {
    ($self:expr, $rule:ident => $call:expr) => {
        match $self {
            MethodRule::Fptt($rule) => $call,
            MethodRule::Bptt($rule) => $call,
        }
    };
}

impl LearningRule for MethodRule {
    fn name(&self) -> &str {
        dispatch!(self, rule => rule.name())
    }

    fn chunk_length(&self, length: usize) -> Result<usize, ConfigError> {
        dispatch!(self, rule => rule.chunk_length(length))
    }

    fn loss_schedule(&self) -> LossSchedule {
        dispatch!(self, rule => rule.loss_schedule())
    }

    fn begin_batch(
        &mut self,
        targets: &Targets,
        lengths: Option<&[usize]>,
    ) -> Result<(), BatchError> {
        dispatch!(self, rule => rule.begin_batch(targets, lengths))
    }

    fn auxiliary_loss(
        &mut self,
        step: StepContext<'_>,
        loss: &mut LossSum,
    ) -> Result<(), BatchError> {
        dispatch!(self, rule => rule.auxiliary_loss(step, loss))
    }

    fn gradients<M: Module>(&mut self, model: &M, loss: Tensor<1>) -> GradientsParams {
        dispatch!(self, rule => rule.gradients(model, loss))
    }

    fn after_update<M: Module>(&mut self, model: &M) {
        dispatch!(self, rule => rule.after_update(model))
    }

    fn end_epoch<M: Module>(&mut self, model: M) -> M {
        dispatch!(self, rule => rule.end_epoch(model))
    }

    fn evaluation_model<M: Module>(&self, model: &M) -> Option<M> {
        dispatch!(self, rule => rule.evaluation_model(model))
    }

    fn save<M: Module>(&self, model: &M, dir: &Path) -> Result<(), CheckpointError> {
        dispatch!(self, rule => rule.save(model, dir))
    }

    fn load<M: Module>(&mut self, model: &M, dir: &Path) -> Result<(), CheckpointError> {
        dispatch!(self, rule => rule.load(model, dir))
    }
}
