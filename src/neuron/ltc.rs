//! The liquid-time-constant (LTC) spiking layer.

use crate::kernels::Threshold;
use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay};
use burn::nn::{Initializer, Linear};
use burn::tensor::{Device, Tensor};

use super::cell::SpikingCell;
use super::common::{Firing, InitialMembrane, ResetMode, fire_and_reset, linear, linear_step};
use super::gate::Gate;
use crate::error::{ConfigError, check};
use crate::norm::{StepBatchNorm, StepBatchNormConfig};
use crate::step::Detach;
use crate::surrogate::Surrogate;

/// The state of an [`Ltc`] layer.
#[derive(Debug, Clone)]
pub struct LtcState {
    /// Membrane potential `u`, `[batch, hidden]`.
    pub membrane: Tensor<2>,
    /// Spikes `s` of the last step, `[batch, hidden]`.
    pub spikes: Tensor<2>,
    /// Threshold adaptation `b`, `[batch, hidden]`.
    pub adaptation: Tensor<2>,
    /// Steps taken since the fresh state: the time index `t` of the next step, which picks the
    /// running statistics of the per-step normalisation ([`LtcConfig::step_norm`]).
    pub step: usize,
}

impl LtcState {
    /// The batch size of this state.
    pub fn batch_size(&self) -> usize {
        self.membrane.dims()[0]
    }
}

impl Detach for LtcState {
    fn detach(self) -> Self {
        Self {
            membrane: self.membrane.detach(),
            spikes: self.spikes.detach(),
            adaptation: self.adaptation.detach(),
            step: self.step,
        }
    }
}

/// Configuration of an [`Ltc`] layer. Defaults are the method's.
#[derive(Config, Debug)]
pub struct LtcConfig {
    /// Width of the input `x_t`.
    pub d_input: usize,
    /// Number of neurons `H`.
    pub d_hidden: usize,
    /// Feed the last spikes back through `W_r` (`I_t = W_x x_t + W_r s_{t-1}`).
    #[config(default = true)]
    pub recurrent: bool,
    /// Base threshold `b0`.
    #[config(default = 0.1)]
    pub base_threshold: f64,
    /// Adaptation strength `beta` of the threshold `b0 + beta b_t`; `0` disables adaptation.
    #[config(default = 1.8)]
    pub adaptation: f64,
    /// Membrane reset after a spike.
    #[config(default = "ResetMode::Hard")]
    pub reset: ResetMode,
    /// Surrogate derivative of the spike.
    #[config(default = "Surrogate::multi_gaussian()")]
    pub surrogate: Surrogate,
    /// Membrane potential of a fresh state.
    #[config(default = "InitialMembrane::Uniform")]
    pub initial_membrane: InitialMembrane,
    /// Emit the surrogate's smooth antiderivative instead of 0/1 spikes (gradient checks,
    /// annealing). Off for a spiking network.
    #[config(default = false)]
    pub smooth_spikes: bool,
    /// Give each gate a learnable sigmoid slope `k` (`a_t = σ(k_m W_m [I_t ; u_{t-1}])`, and
    /// `k_a` for `r_t`), one scalar per gate initialised to 1: the method's published S-MNIST
    /// network. Off: the plain sigmoid (`k = 1`, not trained).
    #[config(default = false)]
    pub gate_slope: bool,
    /// Normalise the input drive `W_x x_t + bias` and the recurrent drive `W_r s_{t-1}`
    /// separately at every time step ([`StepBatchNorm`]: batch statistics in training, running
    /// statistics per step otherwise, scale initialised to 0.1, shift 0), with running
    /// statistics for this many steps (the sequence length; later steps share the last one's):
    /// the method's published S-MNIST network. `None`: no normalisation.
    #[config(default = "None")]
    pub step_norm: Option<usize>,
}

/// A layer of liquid-time-constant spiking neurons.
///
/// Per step, for `H` neurons and batch-major tensors:
///
/// ```text
/// I_t  = W_x x_t (+ W_r s_{t-1})
/// a_t  = σ(W_m [I_t ; u_{t-1}])        membrane update rate
/// r_t  = σ(W_a [I_t ; b_{t-1}])        adaptation retention
/// b_t  = r_t b_{t-1} + (1 - r_t) s_{t-1}
/// θ_t  = b0 + beta b_t
/// u'_t = (1 - a_t) u_{t-1} + a_t I_t
/// s_t  = spike(u'_t - θ_t)
/// u_t  = (1 - s_t) u'_t                 (soft reset: u'_t - s_t θ_t)
/// ```
///
/// `W_x`, `W_m`, `W_a` are Xavier-normal, `W_r` orthogonal, biases zero (`W_r` has none: `W_x`'s
/// bias covers it). With [`LtcConfig::gate_slope`] the two gates are `σ(k z)` with a learnable
/// scalar `k` each, starting at 1. With [`LtcConfig::step_norm`] the current is
/// `I_t = BN_t(W_x x_t) + BN_t(W_r s_{t-1})`, each a [`StepBatchNorm`] at the state's step `t`.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// let ltc = LtcConfig::new(4, 16).init(&device);
/// let x = Tensor::<3>::ones([2, 10, 4], &device); // [batch, time, features]
/// let (spikes, state) = ltc.forward(x, None);
/// assert_eq!(spikes.dims(), [2, 10, 16]);
/// assert_eq!(state.membrane.dims(), [2, 16]);
/// ```
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct Ltc {
    /// `W_x`: input to current, `[d_input, H]`, with bias.
    pub input: Linear,
    /// `W_r`: last spikes to current, `[H, H]`, when recurrent.
    pub recurrent: Option<Linear>,
    /// `W_m`: `[I_t ; u_{t-1}]` to the membrane update rate, `[2H, H]` (two `[H, H]` blocks).
    pub membrane_gate: Gate,
    /// `W_a`: `[I_t ; b_{t-1}]` to the adaptation retention, `[2H, H]` (two `[H, H]` blocks).
    pub adaptation_gate: Gate,
    /// Per-step normalisation of the input drive, with [`LtcConfig::step_norm`].
    pub input_norm: Option<StepBatchNorm>,
    /// Per-step normalisation of the recurrent drive, with [`LtcConfig::step_norm`] on a
    /// recurrent layer.
    pub recurrent_norm: Option<StepBatchNorm>,
    /// Base threshold `b0`.
    pub base_threshold: f64,
    /// Adaptation strength `beta`.
    pub adaptation: f64,
    /// Whether spikes are replaced by their smooth twin.
    pub smooth_spikes: bool,
    /// Membrane reset after a spike.
    #[module(skip)]
    pub reset: ResetMode,
    /// Surrogate derivative of the spike.
    #[module(skip)]
    pub surrogate: Surrogate,
    /// Membrane potential of a fresh state.
    #[module(skip)]
    pub initial_membrane: InitialMembrane,
}

impl LtcConfig {
    /// Checks every value of the config.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when a size (or `step_norm`) is zero, the base
    /// threshold is not finite and positive, the adaptation strength is negative or not finite, or the surrogate's
    /// parameters are invalid.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive_size("LtcConfig.d_input", self.d_input)?;
        check::positive_size("LtcConfig.d_hidden", self.d_hidden)?;
        check::positive("LtcConfig.base_threshold", self.base_threshold)?;
        check::non_negative("LtcConfig.adaptation", self.adaptation)?;
        if let Some(steps) = self.step_norm {
            check::positive_size("LtcConfig.step_norm", steps)?;
        }
        self.surrogate.validate()
    }

    /// Builds the layer on `device` after [`validate`](Self::validate).
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of [`validate`](Self::validate).
    pub fn try_init(&self, device: &Device) -> Result<Ltc, ConfigError> {
        self.validate()?;
        let h = self.d_hidden;
        let xavier = Initializer::XavierNormal { gain: 1.0 };
        Ok(Ltc {
            input: linear(self.d_input, h, xavier.clone(), true, device),
            recurrent: self
                .recurrent
                .then(|| linear(h, h, Initializer::Orthogonal { gain: 1.0 }, false, device)),
            membrane_gate: self.gate(linear(2 * h, h, xavier.clone(), true, device)),
            adaptation_gate: self.gate(linear(2 * h, h, xavier, true, device)),
            input_norm: self.norm(device)?,
            recurrent_norm: if self.recurrent {
                self.norm(device)?
            } else {
                None
            },
            base_threshold: self.base_threshold,
            adaptation: self.adaptation,
            smooth_spikes: self.smooth_spikes,
            reset: self.reset,
            surrogate: self.surrogate.clone(),
            initial_membrane: self.initial_membrane,
        })
    }

    /// A gate over `[I_t ; state]`, with a slope when configured.
    fn gate(&self, linear: Linear) -> Gate {
        let gate = Gate::from_linear(linear, self.d_hidden);
        if self.gate_slope {
            gate.with_slope(1.0)
        } else {
            gate
        }
    }

    /// A per-step normalisation of `H` features, when configured.
    fn norm(&self, device: &Device) -> Result<Option<StepBatchNorm>, ConfigError> {
        self.step_norm
            .map(|steps| StepBatchNormConfig::new(self.d_hidden, steps).try_init(device))
            .transpose()
    }

    /// Builds the layer on `device`.
    ///
    /// # Panics
    ///
    /// When the config is invalid (see [`validate`](Self::validate)).
    pub fn init(&self, device: &Device) -> Ltc {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }
}

impl Ltc {
    /// A fresh state for `batch` samples: `u` as configured, `s = 0`, `b = b0`, step 0.
    pub fn init_state(&self, batch: usize, device: &Device) -> LtcState {
        let h = self.d_hidden();
        LtcState {
            membrane: self.initial_membrane.sample(batch, h, device),
            spikes: Tensor::zeros([batch, h], device),
            adaptation: Tensor::full([batch, h], self.base_threshold, device),
            step: 0,
        }
    }

    /// One time step: `x` is `[batch, d_input]`; returns the spikes `[batch, H]` and the new state.
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, d_input]` or the state is not `[batch, H]`.
    pub fn step(&self, x: Tensor<2>, state: LtcState) -> (Tensor<2>, LtcState) {
        self.step_input(x, state)
    }

    /// A whole sequence: `x` is `[batch, time, d_input]`; returns the spikes `[batch, time, H]` and
    /// the final state. `None` starts from [`init_state`](Self::init_state). The inputs of every
    /// step are projected with one matrix product before the time loop.
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, time >= 1, d_input]` or the state is not `[batch, H]`.
    pub fn forward(&self, x: Tensor<3>, state: Option<LtcState>) -> (Tensor<3>, LtcState) {
        self.forward_sequence(x, state)
    }
}

impl SpikingCell for Ltc {
    const NAME: &'static str = "Ltc";
    type State = LtcState;

    fn input(&self) -> &Linear {
        &self.input
    }

    fn is_recurrent(&self) -> bool {
        self.recurrent.is_some()
    }

    fn init_state(&self, batch: usize, device: &Device) -> LtcState {
        Ltc::init_state(self, batch, device)
    }

    fn state_tensors(state: &LtcState) -> Vec<(&'static str, &Tensor<2>)> {
        vec![
            ("membrane", &state.membrane),
            ("spikes", &state.spikes),
            ("adaptation", &state.adaptation),
        ]
    }

    fn spikes(state: &LtcState) -> Tensor<2> {
        state.spikes.clone()
    }

    /// The LTC step from the feed-forward current `W_x x_t + bias` (see [`Ltc`]).
    fn step_current(&self, current: Tensor<2>, state: LtcState) -> (Tensor<2>, LtcState) {
        let LtcState {
            membrane,
            spikes,
            adaptation,
            step,
        } = state;
        let normalise = |norm: &Option<StepBatchNorm>, drive: Tensor<2>| match norm {
            Some(norm) => norm.forward(drive, step),
            None => drive,
        };
        let current = normalise(&self.input_norm, current);
        let current = match &self.recurrent {
            Some(recurrent) => {
                current + normalise(&self.recurrent_norm, linear_step(recurrent, spikes.clone()))
            }
            None => current,
        };
        // (1 - a) u + a I, written as u + a (I - u), with the rate a = σ(W_m [I ; u] + b_m).
        // The membrane before the adaptation: the CPU backends then sum the current's three
        // gradients in the order they always did (both gates' and the blend's).
        let pre =
            self.membrane_gate
                .blend(current.clone(), membrane.clone(), membrane, current.clone());
        // r b + (1 - r) s, written as s + r (b - s), with r = σ(W_a [I ; b] + b_a).
        let adaptation =
            self.adaptation_gate
                .blend(current, adaptation.clone(), spikes, adaptation);
        let firing = Firing {
            threshold: Threshold {
                beta: self.adaptation,
                base: self.base_threshold,
            },
            reset: self.reset,
            surrogate: &self.surrogate,
            smooth: self.smooth_spikes,
        };
        let (spikes, membrane) = fire_and_reset(pre, adaptation.clone(), firing);
        (
            spikes.clone(),
            LtcState {
                membrane,
                spikes,
                adaptation,
                step: step + 1,
            },
        )
    }
}

impl ModuleDisplay for Ltc {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new()
            .with_new_line_after_attribute(false)
            .optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content
            .add("d_input", &self.d_input())
            .add("d_hidden", &self.d_hidden())
            .add("recurrent", &self.recurrent.is_some())
            .add("base_threshold", &self.base_threshold)
            .add("adaptation", &self.adaptation)
            .add("gate_slope", &self.membrane_gate.slope.is_some())
            .add_debug_attribute(
                "step_norm",
                &self.input_norm.as_ref().map(StepBatchNorm::max_length),
            )
            .add_debug_attribute("reset", &self.reset)
            .add_debug_attribute("surrogate", &self.surrogate)
            .optional()
    }
}
