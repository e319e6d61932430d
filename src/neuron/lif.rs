//! Leaky integrate-and-fire neurons: `Lif`, the baseline with a learnable membrane time
//! constant per neuron.

use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use super::cell::SpikingCell;
use super::common::{
    InitialMembrane, LifState, ResetMode, add_recurrent, decay, fire, projections, reset,
    time_constants,
};
use crate::error::{ConfigError, check};
use crate::surrogate::Surrogate;

/// Configuration of a [`Lif`] layer.
#[derive(Config, Debug)]
pub struct LifConfig {
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
    /// Mean initial membrane time constant, in steps.
    #[config(default = 20.0)]
    pub tau_mem: f64,
    /// Standard deviation of the initial membrane time constants.
    #[config(default = 5.0)]
    pub tau_mem_std: f64,
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

/// Leaky integrate-and-fire neurons with a learnable membrane time constant per neuron.
///
/// ```text
/// I_t  = W_x x_t (+ W_r s_{t-1})
/// α    = exp(-1 / τ_m)
/// u'_t = α u_{t-1} + (1 - α) I_t
/// s_t  = spike(u'_t - θ),   u_t = (1 - s_t) u'_t   (soft reset: u'_t - s_t θ)
/// ```
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// let lif = LifConfig::new(3, 8).init(&device);
/// let (spikes, _state) = lif.forward(Tensor::<3>::ones([2, 5, 3], &device), None);
/// assert_eq!(spikes.dims(), [2, 5, 8]);
/// ```
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct Lif {
    /// Input projection `W_x`, with bias.
    pub input: Linear,
    /// Recurrent projection `W_r`, when recurrent.
    pub recurrent: Option<Linear>,
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

impl LifConfig {
    /// Checks every value of the config.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when a size is zero, the threshold or the mean time
    /// constant is not finite and positive, the spread is negative, or the surrogate is invalid.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive_size("LifConfig.d_input", self.d_input)?;
        check::positive_size("LifConfig.d_hidden", self.d_hidden)?;
        check::positive("LifConfig.threshold", self.threshold)?;
        check::positive("LifConfig.tau_mem", self.tau_mem)?;
        check::non_negative("LifConfig.tau_mem_std", self.tau_mem_std)?;
        self.surrogate.validate()
    }

    /// Builds the layer on `device` after [`validate`](Self::validate).
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of [`validate`](Self::validate).
    pub fn try_init(&self, device: &Device) -> Result<Lif, ConfigError> {
        self.validate()?;
        let (input, recurrent) = projections(self.d_input, self.d_hidden, self.recurrent, device);
        Ok(Lif {
            input,
            recurrent,
            tau_mem: time_constants(self.tau_mem, self.tau_mem_std, self.d_hidden, device),
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
    pub fn init(&self, device: &Device) -> Lif {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }
}

impl Lif {
    /// A fresh state: membrane as configured, no spikes.
    pub fn init_state(&self, batch: usize, device: &Device) -> LifState {
        let h = self.d_hidden();
        LifState {
            membrane: self.initial_membrane.sample(batch, h, device),
            spikes: Tensor::zeros([batch, h], device),
        }
    }

    /// One time step on `x` (`[batch, d_input]`).
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, d_input]` or the state is not `[batch, H]`.
    pub fn step(&self, x: Tensor<2>, state: LifState) -> (Tensor<2>, LifState) {
        self.step_input(x, state)
    }

    /// A whole sequence `[batch, time, d_input]`; `None` starts from a fresh state.
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, time >= 1, d_input]` or the state is not `[batch, H]`.
    pub fn forward(&self, x: Tensor<3>, state: Option<LifState>) -> (Tensor<3>, LifState) {
        self.forward_sequence(x, state)
    }
}

impl SpikingCell for Lif {
    const NAME: &'static str = "Lif";
    type State = LifState;

    fn input(&self) -> &Linear {
        &self.input
    }

    fn is_recurrent(&self) -> bool {
        self.recurrent.is_some()
    }

    fn init_state(&self, batch: usize, device: &Device) -> LifState {
        Lif::init_state(self, batch, device)
    }

    fn state_tensors(state: &LifState) -> Vec<(&'static str, &Tensor<2>)> {
        vec![("membrane", &state.membrane), ("spikes", &state.spikes)]
    }

    fn spikes(state: &LifState) -> Tensor<2> {
        state.spikes.clone()
    }

    fn step_current(&self, current: Tensor<2>, state: LifState) -> (Tensor<2>, LifState) {
        let current = add_recurrent(current, &self.recurrent, &state.spikes);
        lif_step(current, state, &self.parameters())
    }
}

/// What one [`lif_step`] needs besides the current and the state.
#[derive(Debug, Clone)]
pub struct LifParameters {
    /// Per-neuron decay `α = exp(-1 / τ_m)`, `[1, H]` (or `[batch, H]`).
    pub decay: Tensor<2>,
    /// Firing threshold `θ`.
    pub threshold: f64,
    /// Membrane reset after a spike.
    pub reset: ResetMode,
    /// Surrogate derivative of the spike.
    pub surrogate: Surrogate,
    /// Emit the surrogate's smooth antiderivative instead of 0/1 spikes.
    pub smooth_spikes: bool,
}

impl Lif {
    /// The layer's [`LifParameters`] (its decays from its time constants).
    pub fn parameters(&self) -> LifParameters {
        LifParameters {
            decay: decay(&self.tau_mem),
            threshold: self.threshold,
            reset: self.reset,
            surrogate: self.surrogate.clone(),
            smooth_spikes: self.smooth_spikes,
        }
    }
}

/// One leaky integrate-and-fire step, a pure function (Norse's split: [`Lif`] is a thin
/// module over it): from the total input current `I_t` (`[batch, H]`, projection and recurrence
/// already added) and the state to the spikes and the next state.
///
/// ```text
/// u'_t = α u_{t-1} + (1 - α) I_t,   s_t = spike(u'_t - θ),   u_t = (1 - s_t) u'_t
/// ```
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::functional::{LifParameters, lif_step};
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// let params = LifParameters {
///     decay: Tensor::from_floats([[0.5, 0.5]], &device),
///     threshold: 1.0,
///     reset: ResetMode::Hard,
///     surrogate: Surrogate::multi_gaussian(),
///     smooth_spikes: false,
/// };
/// let state = LifState {
///     membrane: Tensor::from_floats([[1.0, 0.0]], &device),
///     spikes: Tensor::zeros([1, 2], &device),
/// };
/// // u' = 0.5 u + 0.5 I: [0.5 + 1.5, 0 + 0.5] = [2, 0.5]; the first fires and resets to 0.
/// let (spikes, state) = lif_step(Tensor::from_floats([[3.0, 1.0]], &device), state, &params);
/// assert_eq!(spikes.into_data().to_vec::<f32>().unwrap(), vec![1.0, 0.0]);
/// assert_eq!(state.membrane.into_data().to_vec::<f32>().unwrap(), vec![0.0, 0.5]);
/// ```
pub fn lif_step(
    current: Tensor<2>,
    state: LifState,
    params: &LifParameters,
) -> (Tensor<2>, LifState) {
    let [batch, hidden] = current.dims();
    // α u + (1 - α) I, written as I + α (u - I).
    let pre = current.clone() + params.decay.clone() * (state.membrane - current);
    let spikes = fire(
        pre.clone() - params.threshold,
        &params.surrogate,
        params.smooth_spikes,
    );
    let device = pre.device();
    let membrane = reset(params.reset, pre, spikes.clone(), || {
        Tensor::full([batch, hidden], params.threshold, &device)
    });
    (spikes.clone(), LifState { membrane, spikes })
}

impl ModuleDisplay for Lif {
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
