//! FPTT as a learning rule: the regularised update of [`Fptt`], its loss ramp, its auxiliary
//! losses (terminal prediction, class distributions) and its end-of-epoch `W <- W̄`.

use std::path::Path;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::activation::softmax;

use super::{LearningRule, LossSum, RuleConfig, StepContext};
use crate::checkpoint::CheckpointError;
use crate::error::ConfigError;
use crate::fptt::{ClassDistributions, Fptt, FpttConfig, distribution_loss};
use crate::loss::{LossSchedule, soft_cross_entropy};
use crate::task::{BatchError, Targets};

/// The file of a checkpoint that holds the [`ClassDistributions`], when there are any.
const DISTRIBUTIONS_FILE: &str = "class-distributions.bpk";

/// Forward propagation through time: one update per step or chunk on the instantaneous loss
/// plus the dynamic regulariser ([`Fptt`]), memory constant in the sequence length. Built by
/// [`FpttConfig`] (as a [`RuleConfig`]).
#[derive(Debug, Clone)]
pub struct FpttRule {
    fptt: Fptt,
    /// The running table of FPTT's distribution loss, created on the first batch.
    distributions: Option<ClassDistributions>,
    /// The previous step's prediction, for the terminal-prediction term.
    previous_probs: Option<Tensor<2>>,
}

impl RuleConfig for FpttConfig {
    type Rule = FpttRule;

    fn validate(&self) -> Result<(), ConfigError> {
        FpttConfig::validate(self)
    }

    fn init<M: Module>(&self, model: &M) -> Result<FpttRule, ConfigError> {
        Ok(FpttRule {
            fptt: Fptt::new(self.clone(), model)?,
            distributions: None,
            previous_probs: None,
        })
    }
}

impl FpttRule {
    /// The FPTT state: `W̄` and `λ` of every trainable parameter.
    pub fn fptt(&self) -> &Fptt {
        &self.fptt
    }

    /// The configuration.
    pub fn config(&self) -> &FpttConfig {
        self.fptt.config()
    }

    /// The running class distributions of the distribution loss, once a batch has filled them
    /// (see [`FpttConfig::distribution_targets`]).
    pub fn class_distributions(&self) -> Option<&ClassDistributions> {
        self.distributions.as_ref()
    }

    fn has_auxiliary_terms(&self) -> bool {
        let config = self.config();
        config.terminal_prediction.is_some() || config.distribution_targets.is_some()
    }
}

impl LearningRule for FpttRule {
    fn name(&self) -> &str {
        "fptt"
    }

    fn chunk_length(&self, length: usize) -> Result<usize, ConfigError> {
        self.config().chunk_length(length)
    }

    fn loss_schedule(&self) -> LossSchedule {
        self.config().loss
    }

    fn begin_batch(
        &mut self,
        targets: &Targets,
        lengths: Option<&[usize]>,
    ) -> Result<(), BatchError> {
        self.previous_probs = None;
        if !self.has_auxiliary_terms() {
            return Ok(());
        }
        let refuse = |reason: String| {
            Err(BatchError::Unsupported {
                rule: "FPTT's terminal-prediction and distribution losses".to_string(),
                reason,
            })
        };
        if !matches!(targets, Targets::Classes(_)) {
            return refuse(format!(
                "they need one class per sequence, got {} targets",
                targets.kind()
            ));
        }
        if lengths.is_some() {
            return refuse("they need sequences of one length, got uneven lengths".to_string());
        }
        Ok(())
    }

    fn auxiliary_loss(
        &mut self,
        step: StepContext<'_>,
        loss: &mut LossSum,
    ) -> Result<(), BatchError> {
        let StepContext {
            t,
            length,
            outputs: scores,
            targets,
        } = step;
        let config = self.fptt.config();
        let (terminal, distribution_weight) =
            (config.terminal_prediction, config.distribution_targets);
        if let Some(gamma) = terminal {
            let remaining = 1.0 - (t + 1) as f64 / length as f64;
            if let Some(previous) = self.previous_probs.take()
                && gamma * remaining > 0.0
            {
                loss.add(soft_cross_entropy(scores.clone(), previous) * (gamma * remaining));
            }
            self.previous_probs = Some(softmax(scores.clone().detach(), 1));
        }
        if let Some(gamma) = distribution_weight
            && t + 1 < length
        {
            let Targets::Classes(y) = targets else {
                unreachable!("begin_batch accepts class targets only");
            };
            let classes = scores.dims()[1];
            let table = self
                .distributions
                .get_or_insert_with(|| ClassDistributions::new(classes));
            if table.classes() != classes {
                return Err(BatchError::Unsupported {
                    rule: "FPTT's distribution loss".to_string(),
                    reason: format!(
                        "the model scores {classes} classes, but the class distributions hold {}",
                        table.classes()
                    ),
                });
            }
            let remaining = 1.0 - (t + 1) as f64 / length as f64;
            let targets = table.targets(t, y.clone());
            if gamma > 0.0 {
                loss.add(distribution_loss(scores.clone(), targets) * (gamma * remaining));
            }
            table.observe(t, softmax(scores.clone().detach(), 1), y.clone());
        }
        Ok(())
    }

    fn gradients<M: Module>(&mut self, model: &M, loss: Tensor<1>) -> GradientsParams {
        let grads = GradientsParams::from_grads(loss.backward(), model);
        self.fptt.regularise(model, grads)
    }

    fn after_update<M: Module>(&mut self, model: &M) {
        self.fptt.after_step(model);
    }

    fn end_epoch<M: Module>(&mut self, model: M) -> M {
        if self.config().average_at_epoch_end {
            self.fptt.average_into(model)
        } else {
            model
        }
    }

    fn evaluation_model<M: Module>(&self, model: &M) -> Option<M> {
        self.config()
            .evaluate_on_average
            .then(|| self.fptt.average_into(model.clone()))
    }

    fn save<M: Module>(&self, model: &M, dir: &Path) -> Result<(), CheckpointError> {
        let stem = dir.join("fptt");
        self.fptt
            .save(model, &stem)
            .map_err(|e| CheckpointError::record(dir, e))?;
        if let Some(distributions) = &self.distributions {
            let path = dir.join(DISTRIBUTIONS_FILE);
            distributions
                .save(&path)
                .map_err(|e| CheckpointError::record(&path, e))?;
        }
        Ok(())
    }

    fn load<M: Module>(&mut self, model: &M, dir: &Path) -> Result<(), CheckpointError> {
        let config = self.config().clone();
        self.fptt = Fptt::load(config, model, &dir.join("fptt"))
            .map_err(|e| CheckpointError::record(dir, e))?;
        let path = dir.join(DISTRIBUTIONS_FILE);
        self.distributions = if path.exists() {
            let device = crate::model_device(model);
            Some(
                ClassDistributions::load(&path, &device)
                    .map_err(|e| CheckpointError::record(&path, e))?,
            )
        } else {
            None
        };
        Ok(())
    }
}
