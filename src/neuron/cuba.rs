//! The current-based leaky integrate-and-fire layer (`CubaLIF` in the NIR standard): a synaptic
//! current between the input and the membrane.

use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use super::cell::SpikingCell;
use super::common::{
    InitialMembrane, ResetMode, add_recurrent, decay, fire, projections, reset, time_constants,
};
use crate::error::{ConfigError, check};
use crate::step::Detach;
use crate::surrogate::Surrogate;

/// Configuration of a [`CubaLif`] layer.
#[derive(Config, Debug)]
pub struct CubaLifConfig {
    /// Width of the input.
    pub d_input: usize,
    /// Number of neurons.
    pub d_hidden: usize,
    /// Feed the last spikes back through a recurrent matrix.
    #[config(default = true)]
    pub recurrent: bool,
    /// Firing threshold.
    #[config(default = 0.1)]
    pub threshold: f64,
    /// Mean initial synaptic time constant, in steps.
    #[config(default = 5.0)]
    pub tau_syn: f64,
    /// Mean initial membrane time constant, in steps.
    #[config(default = 20.0)]
    pub tau_mem: f64,
    /// Standard deviation of the initial time constants (both kinds).
    #[config(default = 1.0)]
    pub tau_std: f64,
    /// Membrane reset after a spike.
    #[config(default = "ResetMode::Hard")]
    pub reset: ResetMode,
    /// Surrogate derivative of the spike.
    #[config(default = "Surrogate::multi_gaussian()")]
    pub surrogate: Surrogate,
    /// Membrane potential of a fresh state (the synaptic current starts at 0).
    #[config(default = "InitialMembrane::Zeros")]
    pub initial_membrane: InitialMembrane,
    /// Emit the surrogate's smooth antiderivative instead of 0/1 spikes.
    #[config(default = false)]
    pub smooth_spikes: bool,
}

/// Current-based leaky integrate-and-fire neurons, with a learnable synaptic and membrane time
/// constant per neuron:
///
/// ```text
/// I_t  = W_x x_t (+ W_r s_{t-1})
/// α_s  = exp(-1 / τ_s),   α_m = exp(-1 / τ_m)
/// i_t  = α_s i_{t-1} + (1 - α_s) I_t        synaptic current
/// u'_t = α_m u_{t-1} + (1 - α_m) i_t        membrane
/// s_t  = spike(u'_t - θ),   u_t = (1 - s_t) u'_t   (soft reset: u'_t - s_t θ)
/// ```
///
/// Time constants are clamped to at least one step in the forward pass. The synaptic current
/// low-pass filters the input, so a spike arrives at the membrane spread over `τ_s` steps.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// let cuba = CubaLifConfig::new(3, 8).init(&device);
/// let (spikes, state) = cuba.forward(Tensor::<3>::ones([2, 5, 3], &device), None);
/// assert_eq!((spikes.dims(), state.current.dims()), ([2, 5, 8], [2, 8]));
/// ```
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct CubaLif {
    /// Input projection `W_x`, with bias.
    pub input: Linear,
    /// Recurrent projection `W_r`, when recurrent.
    pub recurrent: Option<Linear>,
    /// Synaptic time constants `τ_s`, `[H]`, in steps.
    pub tau_syn: Param<Tensor<1>>,
    /// Membrane time constants `τ_m`, `[H]`, in steps.
    pub tau_mem: Param<Tensor<1>>,
    /// Firing threshold `θ`.
    pub threshold: f64,
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

/// The state of a [`CubaLif`] layer.
#[derive(Debug, Clone)]
pub struct CubaLifState {
    /// Synaptic current `i`, `[batch, hidden]`.
    pub current: Tensor<2>,
    /// Membrane potential `u`, `[batch, hidden]`.
    pub membrane: Tensor<2>,
    /// Spikes `s` of the last step, `[batch, hidden]`.
    pub spikes: Tensor<2>,
}

impl Detach for CubaLifState {
    fn detach(self) -> Self {
        Self {
            current: self.current.detach(),
            membrane: self.membrane.detach(),
            spikes: self.spikes.detach(),
        }
    }
}

impl CubaLifConfig {
    /// Checks every value of the config.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when a size is zero, the threshold or a mean time
    /// constant is not finite and positive, the spread is negative, or the surrogate is invalid.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive_size("CubaLifConfig.d_input", self.d_input)?;
        check::positive_size("CubaLifConfig.d_hidden", self.d_hidden)?;
        check::positive("CubaLifConfig.threshold", self.threshold)?;
        check::positive("CubaLifConfig.tau_syn", self.tau_syn)?;
        check::positive("CubaLifConfig.tau_mem", self.tau_mem)?;
        check::non_negative("CubaLifConfig.tau_std", self.tau_std)?;
        self.surrogate.validate()
    }

    /// Builds the layer on `device` after [`validate`](Self::validate).
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of [`validate`](Self::validate).
    pub fn try_init(&self, device: &Device) -> Result<CubaLif, ConfigError> {
        self.validate()?;
        let (input, recurrent) = projections(self.d_input, self.d_hidden, self.recurrent, device);
        let h = self.d_hidden;
        Ok(CubaLif {
            input,
            recurrent,
            tau_syn: time_constants(self.tau_syn, self.tau_std, h, device),
            tau_mem: time_constants(self.tau_mem, self.tau_std, h, device),
            threshold: self.threshold,
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
    pub fn init(&self, device: &Device) -> CubaLif {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }
}

impl CubaLif {
    /// A fresh state: no current, membrane as configured, no spikes.
    pub fn init_state(&self, batch: usize, device: &Device) -> CubaLifState {
        let h = self.d_hidden();
        CubaLifState {
            current: Tensor::zeros([batch, h], device),
            membrane: self.initial_membrane.sample(batch, h, device),
            spikes: Tensor::zeros([batch, h], device),
        }
    }

    /// One time step on `x` (`[batch, d_input]`).
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, d_input]` or the state is not `[batch, H]`.
    pub fn step(&self, x: Tensor<2>, state: CubaLifState) -> (Tensor<2>, CubaLifState) {
        self.step_input(x, state)
    }

    /// A whole sequence `[batch, time, d_input]`; `None` starts from a fresh state.
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, time >= 1, d_input]` or the state is not `[batch, H]`.
    pub fn forward(&self, x: Tensor<3>, state: Option<CubaLifState>) -> (Tensor<3>, CubaLifState) {
        self.forward_sequence(x, state)
    }
}

impl SpikingCell for CubaLif {
    const NAME: &'static str = "CubaLif";
    type State = CubaLifState;

    fn input(&self) -> &Linear {
        &self.input
    }

    fn is_recurrent(&self) -> bool {
        self.recurrent.is_some()
    }

    fn init_state(&self, batch: usize, device: &Device) -> CubaLifState {
        CubaLif::init_state(self, batch, device)
    }

    fn state_tensors(state: &CubaLifState) -> Vec<(&'static str, &Tensor<2>)> {
        vec![
            ("current", &state.current),
            ("membrane", &state.membrane),
            ("spikes", &state.spikes),
        ]
    }

    fn spikes(state: &CubaLifState) -> Tensor<2> {
        state.spikes.clone()
    }

    fn step_current(&self, drive: Tensor<2>, state: CubaLifState) -> (Tensor<2>, CubaLifState) {
        let drive = add_recurrent(drive, &self.recurrent, &state.spikes);
        cuba_lif_step(drive, state, &self.parameters())
    }
}

/// What one [`cuba_lif_step`] needs besides the drive and the state.
#[derive(Debug, Clone)]
pub struct CubaLifParameters {
    /// Per-neuron synaptic decay `α_s = exp(-1 / τ_s)`, `[1, H]`.
    pub synaptic_decay: Tensor<2>,
    /// Per-neuron membrane decay `α_m = exp(-1 / τ_m)`, `[1, H]`.
    pub membrane_decay: Tensor<2>,
    /// Firing threshold `θ`.
    pub threshold: f64,
    /// Membrane reset after a spike.
    pub reset: ResetMode,
    /// Surrogate derivative of the spike.
    pub surrogate: Surrogate,
    /// Emit the surrogate's smooth antiderivative instead of 0/1 spikes.
    pub smooth_spikes: bool,
}

impl CubaLif {
    /// The layer's [`CubaLifParameters`] (its decays from its time constants).
    pub fn parameters(&self) -> CubaLifParameters {
        CubaLifParameters {
            synaptic_decay: decay(&self.tau_syn),
            membrane_decay: decay(&self.tau_mem),
            threshold: self.threshold,
            reset: self.reset,
            surrogate: self.surrogate.clone(),
            smooth_spikes: self.smooth_spikes,
        }
    }
}

/// One current-based LIF step, a pure function ([`CubaLif`] is a thin module over it): from
/// the total drive `I_t` (projection and recurrence added) and the state to the spikes and the
/// next state.
///
/// ```text
/// i_t = α_s i_{t-1} + (1 - α_s) I_t,   u'_t = α_m u_{t-1} + (1 - α_m) i_t
/// s_t = spike(u'_t - θ),   u_t = (1 - s_t) u'_t
/// ```
pub fn cuba_lif_step(
    drive: Tensor<2>,
    state: CubaLifState,
    params: &CubaLifParameters,
) -> (Tensor<2>, CubaLifState) {
    let [batch, hidden] = drive.dims();
    // α_s i + (1 - α_s) I, written as I + α_s (i - I); the same for the membrane.
    let current = drive.clone() + params.synaptic_decay.clone() * (state.current - drive);
    let pre = current.clone() + params.membrane_decay.clone() * (state.membrane - current.clone());
    let spikes = fire(
        pre.clone() - params.threshold,
        &params.surrogate,
        params.smooth_spikes,
    );
    let device = pre.device();
    let membrane = reset(params.reset, pre, spikes.clone(), || {
        Tensor::full([batch, hidden], params.threshold, &device)
    });
    (
        spikes.clone(),
        CubaLifState {
            current,
            membrane,
            spikes,
        },
    )
}

impl ModuleDisplay for CubaLif {
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
            .add("threshold", &self.threshold)
            .add_debug_attribute("reset", &self.reset)
            .add_debug_attribute("surrogate", &self.surrogate)
            .optional()
    }
}
