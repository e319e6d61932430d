//! Adaptive leaky integrate-and-fire neurons: `Alif`, a LIF membrane with a threshold that rises
//! after each spike.

use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use super::cell::SpikingCell;
use super::common::{
    AdaptiveState, Firing, InitialMembrane, ResetMode, add_recurrent, decay, fire_and_reset,
    projections, time_constants,
};
use crate::error::{ConfigError, check};
use crate::kernels::Threshold;
use crate::surrogate::Surrogate;

/// Configuration of an [`Alif`] layer.
#[derive(Config, Debug)]
pub struct AlifConfig {
    /// Width of the input.
    pub d_input: usize,
    /// Number of neurons.
    pub d_hidden: usize,
    /// Feed the last spikes back through a recurrent matrix.
    #[config(default = true)]
    pub recurrent: bool,
    /// Base threshold `b0`.
    #[config(default = 0.1)]
    pub base_threshold: f64,
    /// Adaptation strength `beta` of the threshold `b0 + beta b`.
    #[config(default = 1.8)]
    pub adaptation: f64,
    /// Mean initial membrane time constant, in steps.
    #[config(default = 20.0)]
    pub tau_mem: f64,
    /// Standard deviation of the initial membrane time constants.
    #[config(default = 5.0)]
    pub tau_mem_std: f64,
    /// Mean initial adaptation time constant, in steps.
    #[config(default = 200.0)]
    pub tau_adaptation: f64,
    /// Standard deviation of the initial adaptation time constants.
    #[config(default = 25.0)]
    pub tau_adaptation_std: f64,
    /// Membrane reset after a spike.
    #[config(default = "ResetMode::Hard")]
    pub reset: ResetMode,
    /// Surrogate derivative of the spike.
    #[config(default = "Surrogate::multi_gaussian()")]
    pub surrogate: Surrogate,
    /// Membrane potential of a fresh state.
    #[config(default = "InitialMembrane::Zeros")]
    pub initial_membrane: InitialMembrane,
    /// Emit the surrogate's smooth antiderivative instead of 0/1 spikes.
    #[config(default = false)]
    pub smooth_spikes: bool,
}

/// Adaptive LIF neurons: a LIF membrane and a threshold that rises after each spike and decays
/// with a learnable per-neuron adaptation time constant.
///
/// ```text
/// I_t  = W_x x_t (+ W_r s_{t-1})
/// ρ    = exp(-1 / τ_a),   b_t = ρ b_{t-1} + (1 - ρ) s_{t-1},   θ_t = b0 + beta b_t
/// α    = exp(-1 / τ_m),   u'_t = α u_{t-1} + (1 - α) I_t
/// s_t  = spike(u'_t - θ_t),   u_t = (1 - s_t) u'_t   (soft reset: u'_t - s_t θ_t)
/// ```
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// let alif = AlifConfig::new(3, 8).init(&device);
/// let (spikes, state) = alif.forward(Tensor::<3>::ones([2, 5, 3], &device), None);
/// assert_eq!(spikes.dims(), [2, 5, 8]);
/// assert_eq!(state.adaptation.dims(), [2, 8]);
/// ```
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct Alif {
    /// Input projection `W_x`, with bias.
    pub input: Linear,
    /// Recurrent projection `W_r`, when recurrent.
    pub recurrent: Option<Linear>,
    /// Membrane time constants `τ_m`, `[H]`, in steps.
    pub tau_mem: Param<Tensor<1>>,
    /// Adaptation time constants `τ_a`, `[H]`, in steps.
    pub tau_adaptation: Param<Tensor<1>>,
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

impl AlifConfig {
    /// Checks every value of the config.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when a size is zero, a threshold or mean time constant
    /// is not finite and positive, the adaptation or a spread is negative, or the surrogate is
    /// invalid.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive_size("AlifConfig.d_input", self.d_input)?;
        check::positive_size("AlifConfig.d_hidden", self.d_hidden)?;
        check::positive("AlifConfig.base_threshold", self.base_threshold)?;
        check::non_negative("AlifConfig.adaptation", self.adaptation)?;
        check::positive("AlifConfig.tau_mem", self.tau_mem)?;
        check::non_negative("AlifConfig.tau_mem_std", self.tau_mem_std)?;
        check::positive("AlifConfig.tau_adaptation", self.tau_adaptation)?;
        check::non_negative("AlifConfig.tau_adaptation_std", self.tau_adaptation_std)?;
        self.surrogate.validate()
    }

    /// Builds the layer on `device` after [`validate`](Self::validate).
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of [`validate`](Self::validate).
    pub fn try_init(&self, device: &Device) -> Result<Alif, ConfigError> {
        self.validate()?;
        let (input, recurrent) = projections(self.d_input, self.d_hidden, self.recurrent, device);
        Ok(Alif {
            input,
            recurrent,
            tau_mem: time_constants(self.tau_mem, self.tau_mem_std, self.d_hidden, device),
            tau_adaptation: time_constants(
                self.tau_adaptation,
                self.tau_adaptation_std,
                self.d_hidden,
                device,
            ),
            base_threshold: self.base_threshold,
            adaptation: self.adaptation,
            smooth_spikes: self.smooth_spikes,
            reset: self.reset,
            surrogate: self.surrogate.clone(),
            initial_membrane: self.initial_membrane,
        })
    }

    /// Builds the layer on `device`.
    ///
    /// # Panics
    ///
    /// When the config is invalid (see [`validate`](Self::validate)).
    pub fn init(&self, device: &Device) -> Alif {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }
}

impl Alif {
    /// A fresh state: membrane as configured, no spikes, no adaptation.
    pub fn init_state(&self, batch: usize, device: &Device) -> AdaptiveState {
        let h = self.d_hidden();
        AdaptiveState {
            membrane: self.initial_membrane.sample(batch, h, device),
            spikes: Tensor::zeros([batch, h], device),
            adaptation: Tensor::zeros([batch, h], device),
        }
    }

    /// One time step on `x` (`[batch, d_input]`).
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, d_input]` or the state is not `[batch, H]`.
    pub fn step(&self, x: Tensor<2>, state: AdaptiveState) -> (Tensor<2>, AdaptiveState) {
        self.step_input(x, state)
    }

    /// A whole sequence `[batch, time, d_input]`; `None` starts from a fresh state.
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, time >= 1, d_input]` or the state is not `[batch, H]`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        state: Option<AdaptiveState>,
    ) -> (Tensor<3>, AdaptiveState) {
        self.forward_sequence(x, state)
    }
}

impl SpikingCell for Alif {
    const NAME: &'static str = "Alif";
    type State = AdaptiveState;

    fn input(&self) -> &Linear {
        &self.input
    }

    fn is_recurrent(&self) -> bool {
        self.recurrent.is_some()
    }

    fn init_state(&self, batch: usize, device: &Device) -> AdaptiveState {
        Alif::init_state(self, batch, device)
    }

    fn state_tensors(state: &AdaptiveState) -> Vec<(&'static str, &Tensor<2>)> {
        vec![
            ("membrane", &state.membrane),
            ("spikes", &state.spikes),
            ("adaptation", &state.adaptation),
        ]
    }

    fn spikes(state: &AdaptiveState) -> Tensor<2> {
        state.spikes.clone()
    }

    fn step_current(&self, current: Tensor<2>, state: AdaptiveState) -> (Tensor<2>, AdaptiveState) {
        let current = add_recurrent(current, &self.recurrent, &state.spikes);
        alif_step(current, state, &self.parameters())
    }
}

/// What one [`alif_step`] needs besides the current and the state.
#[derive(Debug, Clone)]
pub struct AlifParameters {
    /// Per-neuron membrane decay `α = exp(-1 / τ_m)`, `[1, H]`.
    pub membrane_decay: Tensor<2>,
    /// Per-neuron adaptation decay `ρ = exp(-1 / τ_a)`, `[1, H]`.
    pub adaptation_decay: Tensor<2>,
    /// Base threshold `b0`.
    pub base_threshold: f64,
    /// Adaptation strength `beta`.
    pub adaptation: f64,
    /// Membrane reset after a spike.
    pub reset: ResetMode,
    /// Surrogate derivative of the spike.
    pub surrogate: Surrogate,
    /// Emit the surrogate's smooth antiderivative instead of 0/1 spikes.
    pub smooth_spikes: bool,
}

impl Alif {
    /// The layer's [`AlifParameters`] (its decays from its time constants).
    pub fn parameters(&self) -> AlifParameters {
        AlifParameters {
            membrane_decay: decay(&self.tau_mem),
            adaptation_decay: decay(&self.tau_adaptation),
            base_threshold: self.base_threshold,
            adaptation: self.adaptation,
            reset: self.reset,
            surrogate: self.surrogate.clone(),
            smooth_spikes: self.smooth_spikes,
        }
    }
}

/// One adaptive-threshold LIF step, a pure function ([`Alif`] is a thin module over it): from
/// the total input current `I_t` and the state to the spikes and the next state.
///
/// ```text
/// b_t = ρ b_{t-1} + (1 - ρ) s_{t-1},   θ_t = b0 + beta b_t
/// u'_t = α u_{t-1} + (1 - α) I_t,      s_t = spike(u'_t - θ_t),   u_t = (1 - s_t) u'_t
/// ```
pub fn alif_step(
    current: Tensor<2>,
    state: AdaptiveState,
    params: &AlifParameters,
) -> (Tensor<2>, AdaptiveState) {
    // ρ b + (1 - ρ) s, written as s + ρ (b - s).
    let adaptation =
        state.spikes.clone() + params.adaptation_decay.clone() * (state.adaptation - state.spikes);
    let pre = current.clone() + params.membrane_decay.clone() * (state.membrane - current);
    let firing = Firing {
        threshold: Threshold {
            beta: params.adaptation,
            base: params.base_threshold,
        },
        reset: params.reset,
        surrogate: &params.surrogate,
        smooth: params.smooth_spikes,
    };
    let (spikes, membrane) = fire_and_reset(pre, adaptation.clone(), firing);
    (
        spikes.clone(),
        AdaptiveState {
            membrane,
            spikes,
            adaptation,
        },
    )
}

impl ModuleDisplay for Alif {
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
            .add_debug_attribute("reset", &self.reset)
            .add_debug_attribute("surrogate", &self.surrogate)
            .optional()
    }
}
