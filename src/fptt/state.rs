//! The FPTT state of a model: `W̄` and `λ` for every trainable parameter tensor.

use std::collections::HashMap;
use std::path::Path;

use burn::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::store::RecordError;
use burn::tensor::Tensor;

use super::config::{FpttConfig, LambdaCorrection};
use crate::error::ConfigError;
use crate::kernels;
use crate::optim::{
    Factor, ModelOptimizer, clip_by_squared_norm, clip_factor, register_flat, scale,
};
use crate::params::{Replace, all_params, flat, trainable, with_suffix};

/// `W̄` and `λ` of one parameter tensor, flattened.
#[derive(Clone, Debug)]
struct Averages {
    running_mean: Tensor<1>,
    multiplier: Tensor<1>,
}

/// The FPTT regulariser's state for a model, and its update rules.
///
/// [`Fptt::update`] is the whole online step for a loss that the caller computed; the learner
/// ([`SequenceLearner`](crate::SequenceLearner)) drives it over sequences. Only trainable
/// parameters (those that require gradients) are tracked, so frozen parameters stay as they are.
///
/// A stream, one sample and one step at a time:
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device().autodiff();
/// let mut ltc = LtcConfig::new(1, 8).init(&device);
/// let mut readout = LtcReadoutConfig::new(8, 2).init(&device);
/// let mut model = (ltc, readout);
/// let mut fptt = Fptt::new(FpttConfig::new(), &model).unwrap();
/// let mut optim = AdamaxConfig::new().init();
/// let mut state = (model.0.init_state(1, &device), model.1.init_state(1, &device));
/// for t in 0..20 {
///     let x = Tensor::<2>::full([1, 1], (t % 2) as f64, &device);
///     let (spikes, ltc_state) = model.0.step(x, state.0);
///     let (scores, out_state) = model.1.step(spikes, state.1);
///     let target = Tensor::<1, Int>::from_ints([t % 2], &device);
///     let loss = cross_entropy(scores, target);
///     model = fptt.update(model, loss, &mut optim, 3e-3);
///     state = (ltc_state, out_state).detach();
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Fptt {
    config: FpttConfig,
    params: HashMap<ParamId, Averages>,
}

/// The inputs of the regularised gradients, in the model's order of parameters.
#[derive(Default)]
struct RegulariserInputs {
    ids: Vec<ParamId>,
    tasks: Vec<Option<Tensor<1>>>,
    weights: Vec<Tensor<1>>,
    running_means: Vec<Tensor<1>>,
    multipliers: Vec<Tensor<1>>,
}

/// Gathers the [`RegulariserInputs`] of the tracked parameters, taking their task gradients out
/// of `grads`.
struct Regularise<'a> {
    params: &'a HashMap<ParamId, Averages>,
    grads: &'a mut GradientsParams,
    inputs: RegulariserInputs,
}

impl ModuleVisitor for Regularise<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(averages) = self.params.get(&param.id) else {
            return;
        };
        let inputs = &mut self.inputs;
        inputs.ids.push(param.id);
        inputs
            .tasks
            .push(self.grads.remove::<D>(param.id).map(flat));
        inputs.weights.push(flat(param.val().inner()));
        inputs.running_means.push(averages.running_mean.clone());
        inputs.multipliers.push(averages.multiplier.clone());
    }
}

impl Fptt {
    /// Starts FPTT for `model`: `W̄ = W`, `λ = 0` for each trainable parameter.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of [`FpttConfig::validate`].
    pub fn new<M: Module>(config: FpttConfig, model: &M) -> Result<Self, ConfigError> {
        config.validate()?;
        let params = trainable(model)
            .into_iter()
            .map(|(id, weight)| {
                let multiplier = weight.zeros_like();
                (
                    id,
                    Averages {
                        running_mean: weight,
                        multiplier,
                    },
                )
            })
            .collect();
        Ok(Self { config, params })
    }

    /// The configuration.
    pub fn config(&self) -> &FpttConfig {
        &self.config
    }

    /// Number of parameter tensors tracked.
    pub fn num_tracked(&self) -> usize {
        self.params.len()
    }

    fn lambda_scale(&self) -> f64 {
        match self.config.correction {
            LambdaCorrection::Code => 1.0,
            LambdaCorrection::Paper => 0.5,
        }
    }

    /// Adds the regulariser's closed-form gradient `α (W - W̄) - λ` to the task gradients of
    /// every tracked parameter (a parameter without a task gradient gets the regulariser's
    /// alone), then clips them all by the configured global norm.
    pub fn regularise<M: Module>(&self, model: &M, mut grads: GradientsParams) -> GradientsParams {
        let mut visitor = Regularise {
            params: &self.params,
            grads: &mut grads,
            inputs: RegulariserInputs::default(),
        };
        model.visit(&mut visitor);
        let RegulariserInputs {
            ids,
            tasks,
            weights,
            running_means,
            multipliers,
        } = visitor.inputs;
        if ids.is_empty() {
            return grads;
        }
        let terms = kernels::RegulariserTerms {
            alpha: self.config.alpha,
            lambda_scale: self.lambda_scale(),
        };
        let (gradients, squares) =
            kernels::regularised_gradients(tasks, &weights, &running_means, &multipliers, terms);
        register_flat(model, &mut grads, ids.into_iter().zip(gradients).collect());
        let Some(max_norm) = self.config.clip_norm else {
            return grads;
        };
        match kernels::SquaredNorm::of(squares) {
            kernels::SquaredNorm::Device(squared) => {
                clip_by_squared_norm(model, &mut grads, *squared, max_norm);
            }
            // On the host already, and a factor of 1 needs no pass.
            kernels::SquaredNorm::Host(squared) => {
                let factor = clip_factor(squared.sqrt(), max_norm);
                if factor < 1.0 {
                    scale(model, &mut grads, Factor::Host(factor));
                }
            }
        }
        grads
    }

    /// The regulariser `R` itself, computed from `model`'s parameters with autodiff (for
    /// checking the closed form, and for logging): `Σ [ -<W, λ> + α/2 |W - W̄|² ]`, or
    /// `Σ α/2 |W - W̄ - λ/(2α)|²` for the paper's form.
    ///
    /// # Panics
    ///
    /// When none of `model`'s parameters is tracked (the state was built for another model).
    pub fn regulariser<M: Module>(&self, model: &M) -> Tensor<1> {
        struct Sum<'a> {
            fptt: &'a Fptt,
            total: Option<Tensor<1>>,
        }
        impl ModuleVisitor for Sum<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let Some(averages) = self.fptt.params.get(&param.id) else {
                    return;
                };
                let alpha = self.fptt.config.alpha;
                let weight = flat(param.val());
                let gap = weight.clone() - averages.running_mean.clone();
                let term = match self.fptt.config.correction {
                    LambdaCorrection::Code => {
                        gap.square().sum() * (alpha / 2.0)
                            - (weight * averages.multiplier.clone()).sum()
                    }
                    LambdaCorrection::Paper => {
                        (gap - averages.multiplier.clone() / (2.0 * alpha))
                            .square()
                            .sum()
                            * (alpha / 2.0)
                    }
                };
                self.total = Some(match self.total.take() {
                    Some(total) => total + term,
                    None => term,
                });
            }
        }
        let mut sum = Sum {
            fptt: self,
            total: None,
        };
        model.visit(&mut sum);
        sum.total
            .expect("FPTT tracks at least one parameter of this model")
    }

    /// The post-step updates, from the parameters after the optimizer step:
    /// `λ <- λ - α (W - W̄)`, then `W̄ <- (1 - β) W̄ + β W - (β/α) λ`.
    pub fn after_step<M: Module>(&mut self, model: &M) {
        let mut weights = trainable(model);
        let (alpha, beta) = (self.config.alpha, self.config.beta);
        let mut ids = Vec::new();
        let (mut current, mut running_means, mut multipliers) =
            (Vec::new(), Vec::new(), Vec::new());
        // Taken out of the map so that the update can write them in place.
        for (id, averages) in std::mem::take(&mut self.params) {
            let Some(weight) = weights.remove(&id) else {
                self.params.insert(id, averages);
                continue;
            };
            ids.push(id);
            current.push(weight);
            running_means.push(averages.running_mean);
            multipliers.push(averages.multiplier);
        }
        if ids.is_empty() {
            return;
        }
        let (running_means, multipliers) =
            kernels::after_steps(current, running_means, multipliers, alpha, beta);
        for ((id, running_mean), multiplier) in ids.into_iter().zip(running_means).zip(multipliers)
        {
            self.params.insert(
                id,
                Averages {
                    running_mean,
                    multiplier,
                },
            );
        }
    }

    /// One online FPTT update: backward of `loss`, the regularised and clipped gradient, the
    /// optimizer step at learning rate `lr`, and the post-step updates. Returns the new model.
    ///
    /// # Panics
    ///
    /// When `loss` is not part of an autodiff graph of `model`'s parameters.
    pub fn update<M: Module>(
        &mut self,
        model: M,
        loss: Tensor<1>,
        optimizer: &mut impl ModelOptimizer,
        lr: impl Into<ModuleLearningRate>,
    ) -> M {
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let grads = self.regularise(&model, grads);
        let model = optimizer.step(lr.into(), model, grads);
        self.after_step(&model);
        model
    }

    /// The end-of-epoch step `W <- W̄` for every tracked parameter.
    pub fn average_into<M: Module>(&self, model: M) -> M {
        let values = self
            .params
            .iter()
            .map(|(id, averages)| (*id, averages.running_mean.clone()))
            .collect();
        model.map(&mut Replace { values: &values })
    }

    /// The running average `W̄` and multiplier `λ` of one parameter, flattened (for inspection).
    pub fn averages_of(&self, id: ParamId) -> Option<(Tensor<1>, Tensor<1>)> {
        self.params
            .get(&id)
            .map(|a| (a.running_mean.clone(), a.multiplier.clone()))
    }

    /// Saves `W̄` and `λ` as two burn records shaped like `model`: `{stem}-mean.bpk` and
    /// `{stem}-multiplier.bpk`.
    ///
    /// # Errors
    ///
    /// When a file cannot be written.
    pub fn save<M: Module>(&self, model: &M, stem: &Path) -> Result<(), RecordError> {
        let (means, multipliers) = self.split();
        model
            .clone()
            .map(&mut Replace { values: &means })
            .save_file(with_suffix(stem, "-mean"))?;
        model
            .clone()
            .map(&mut Replace {
                values: &multipliers,
            })
            .save_file(with_suffix(stem, "-multiplier"))
    }

    /// Loads the state saved by [`save`](Self::save) for `model` (whose parameters carry the
    /// ids they had when it was saved, as after `load_file`).
    ///
    /// # Errors
    ///
    /// When a file is missing or does not fit `model`, or the config is invalid.
    pub fn load<M: Module>(
        config: FpttConfig,
        model: &M,
        stem: &Path,
    ) -> Result<Self, RecordError> {
        let mut fptt =
            Self::new(config, model).map_err(|err| RecordError::Validation(err.to_string()))?;
        let means = all_params(&model.clone().try_load_file(with_suffix(stem, "-mean"))?);
        let multipliers = all_params(
            &model
                .clone()
                .try_load_file(with_suffix(stem, "-multiplier"))?,
        );
        for (id, averages) in fptt.params.iter_mut() {
            match (means.get(id), multipliers.get(id)) {
                (Some(mean), Some(multiplier)) => {
                    averages.running_mean = mean.clone();
                    averages.multiplier = multiplier.clone();
                }
                _ => {
                    return Err(RecordError::Validation(format!(
                        "FPTT state {} has no entry for parameter {id}",
                        stem.display()
                    )));
                }
            }
        }
        Ok(fptt)
    }

    fn split(&self) -> (HashMap<ParamId, Tensor<1>>, HashMap<ParamId, Tensor<1>>) {
        self.params
            .iter()
            .map(|(id, a)| ((*id, a.running_mean.clone()), (*id, a.multiplier.clone())))
            .unzip()
    }
}
