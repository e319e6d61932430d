//! Non-spiking leaky-integrator readouts that turn spikes into class scores.

use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay, Param};
use burn::nn::{Initializer, Linear};
use burn::tensor::{Device, Tensor};

use super::common::{
    check_sequence_input, check_state, check_step_input, decay, linear, linear_step,
};
use super::gate::Gate;
use crate::error::{ConfigError, check};
use crate::norm::{StepBatchNorm, StepBatchNormConfig};
use crate::step::{Detach, scan};

/// The state of a readout: its potential `m`, `[batch, classes]`, which is also its output.
#[derive(Debug, Clone)]
pub struct ReadoutState {
    /// Potential `m_t`, `[batch, classes]`.
    pub potential: Tensor<2>,
    /// Steps taken since the fresh state: the time index `t` of the next step, which picks the
    /// running statistics of [`LtcReadoutConfig::step_norm`].
    pub step: usize,
}

impl Detach for ReadoutState {
    fn detach(self) -> Self {
        Self {
            potential: self.potential.detach(),
            step: self.step,
        }
    }
}

fn zero_state(batch: usize, classes: usize, device: &Device) -> ReadoutState {
    ReadoutState {
        potential: Tensor::zeros([batch, classes], device),
        step: 0,
    }
}

/// Configuration of an [`LtcReadout`].
#[derive(Config, Debug)]
pub struct LtcReadoutConfig {
    /// Width of the input (the spiking layer's size).
    pub d_input: usize,
    /// Number of outputs (classes).
    pub d_output: usize,
    /// A learnable sigmoid slope for the gate, `k_t = σ(k W_k [d_t ; m_{t-1}])`, initialised
    /// to 1 (the method's published S-MNIST network). Off: the plain sigmoid.
    #[config(default = false)]
    pub gate_slope: bool,
    /// Normalise the drive `W_o x_t + bias` at every time step ([`StepBatchNorm`], scale
    /// initialised to 0.1, shift 0), with running statistics for this many steps: the method's
    /// published S-MNIST network. `None`: no normalisation.
    #[config(default = "None")]
    pub step_norm: Option<usize>,
}

/// A leaky integrator with a liquid time constant:
///
/// ```text
/// d_t = W_o x_t,   k_t = σ(W_k [d_t ; m_{t-1}]),   m_t = (1 - k_t) m_{t-1} + k_t d_t
/// ```
///
/// The class scores are `m_t`. `W_o`, `W_k` are Xavier-normal, biases zero; `m_0 = 0`. With
/// [`LtcReadoutConfig::step_norm`] the drive is `d_t = BN_t(W_o x_t)`, a [`StepBatchNorm`] at the
/// state's step `t`.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// let readout = LtcReadoutConfig::new(16, 10).init(&device);
/// let (scores, state) = readout.forward(Tensor::<3>::ones([2, 7, 16], &device), None);
/// assert_eq!(scores.dims(), [2, 7, 10]);
/// assert_eq!(state.potential.dims(), [2, 10]);
/// ```
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct LtcReadout {
    /// `W_o`: input to drive `d_t`, `[d_input, C]`.
    pub output: Linear,
    /// `W_k`: `[d_t ; m_{t-1}]` to the update rate `k_t`, `[2C, C]` (two `[C, C]` blocks).
    pub gate: Gate,
    /// Per-step normalisation of the drive, with [`LtcReadoutConfig::step_norm`].
    pub norm: Option<StepBatchNorm>,
}

impl LtcReadoutConfig {
    /// Checks the sizes.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the size (or `step_norm`) that is zero.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive_size("LtcReadoutConfig.d_input", self.d_input)?;
        check::positive_size("LtcReadoutConfig.d_output", self.d_output)?;
        if let Some(steps) = self.step_norm {
            check::positive_size("LtcReadoutConfig.step_norm", steps)?;
        }
        Ok(())
    }

    /// Builds the readout on `device` after [`validate`](Self::validate).
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of [`validate`](Self::validate).
    pub fn try_init(&self, device: &Device) -> Result<LtcReadout, ConfigError> {
        self.validate()?;
        let xavier = Initializer::XavierNormal { gain: 1.0 };
        // The output first, then the gate: the order of the random draws.
        let output = linear(self.d_input, self.d_output, xavier.clone(), true, device);
        let gate = Gate::from_linear(
            linear(2 * self.d_output, self.d_output, xavier, true, device),
            self.d_output,
        );
        Ok(LtcReadout {
            output,
            gate: if self.gate_slope {
                gate.with_slope(1.0)
            } else {
                gate
            },
            norm: self
                .step_norm
                .map(|steps| StepBatchNormConfig::new(self.d_output, steps).try_init(device))
                .transpose()?,
        })
    }

    /// Builds the readout on `device`.
    ///
    /// # Panics
    ///
    /// When a size (or `step_norm`) is zero.
    pub fn init(&self, device: &Device) -> LtcReadout {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }
}

impl LtcReadout {
    /// Width of the input.
    pub fn d_input(&self) -> usize {
        self.output.weight.dims()[0]
    }

    /// Number of outputs.
    pub fn d_output(&self) -> usize {
        self.output.weight.dims()[1]
    }

    /// A fresh state, `m = 0`, step 0.
    pub fn init_state(&self, batch: usize, device: &Device) -> ReadoutState {
        zero_state(batch, self.d_output(), device)
    }

    /// One step on `x` (`[batch, d_input]`); returns the scores `m_t` and the new state.
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, d_input]` or the state is not `[batch, d_output]`.
    pub fn step(&self, x: Tensor<2>, state: ReadoutState) -> (Tensor<2>, ReadoutState) {
        check_step_input("LtcReadout", &x, self.d_input());
        check_state(
            "LtcReadout",
            "potential",
            &state.potential,
            x.dims()[0],
            self.d_output(),
        );
        let ReadoutState {
            potential: previous,
            step,
        } = state;
        let drive = linear_step(&self.output, x);
        let drive = match &self.norm {
            Some(norm) => norm.forward(drive, step),
            None => drive,
        };
        // (1 - k) m + k d, written as m + k (d - m), with k = σ(W [d ; m] + b).
        let potential = self
            .gate
            .blend(drive.clone(), previous.clone(), previous, drive);
        (
            potential.clone(),
            ReadoutState {
                potential,
                step: step + 1,
            },
        )
    }

    /// A whole sequence `[batch, time, d_input]`; returns the scores `[batch, time, d_output]`.
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, time >= 1, d_input]` or the state is not `[batch, d_output]`.
    pub fn forward(&self, x: Tensor<3>, state: Option<ReadoutState>) -> (Tensor<3>, ReadoutState) {
        check_sequence_input("LtcReadout", &x, self.d_input());
        let state = state.unwrap_or_else(|| self.init_state(x.dims()[0], &x.device()));
        scan(x, state, |x_t, state| self.step(x_t, state))
    }
}

impl ModuleDisplay for LtcReadout {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new()
            .with_new_line_after_attribute(false)
            .optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content
            .add("d_input", &self.d_input())
            .add("d_output", &self.d_output())
            .add("gate_slope", &self.gate.slope.is_some())
            .add_debug_attribute(
                "step_norm",
                &self.norm.as_ref().map(StepBatchNorm::max_length),
            )
            .optional()
    }
}

/// Configuration of a [`LeakyReadout`].
#[derive(Config, Debug)]
pub struct LeakyReadoutConfig {
    /// Width of the input.
    pub d_input: usize,
    /// Number of outputs (classes).
    pub d_output: usize,
    /// Mean initial time constant, in steps.
    #[config(default = 20.0)]
    pub tau: f64,
    /// Standard deviation of the initial time constants.
    #[config(default = 5.0)]
    pub tau_std: f64,
}

/// A leaky integrator with a learnable time constant per output:
/// `m_t = k m_{t-1} + (1 - k) W_o x_t`, `k = exp(-1 / τ)`.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// let readout = LeakyReadoutConfig::new(16, 10).init(&device);
/// let (scores, _) = readout.forward(Tensor::<3>::ones([2, 7, 16], &device), None);
/// assert_eq!(scores.dims(), [2, 7, 10]);
/// ```
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct LeakyReadout {
    /// `W_o`: input to drive, `[d_input, C]`.
    pub output: Linear,
    /// Time constants `τ`, `[C]`, in steps.
    pub tau: Param<Tensor<1>>,
}

impl LeakyReadoutConfig {
    /// Checks every value.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when a size is zero, `tau` is not finite and positive
    /// or `tau_std` is negative.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive_size("LeakyReadoutConfig.d_input", self.d_input)?;
        check::positive_size("LeakyReadoutConfig.d_output", self.d_output)?;
        check::positive("LeakyReadoutConfig.tau", self.tau)?;
        check::non_negative("LeakyReadoutConfig.tau_std", self.tau_std)
    }

    /// Builds the readout on `device` after [`validate`](Self::validate).
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of [`validate`](Self::validate).
    pub fn try_init(&self, device: &Device) -> Result<LeakyReadout, ConfigError> {
        self.validate()?;
        let xavier = Initializer::XavierNormal { gain: 1.0 };
        Ok(LeakyReadout {
            output: linear(self.d_input, self.d_output, xavier, true, device),
            tau: Initializer::Normal {
                mean: self.tau,
                std: self.tau_std,
            }
            .init([self.d_output], device),
        })
    }

    /// Builds the readout on `device`.
    ///
    /// # Panics
    ///
    /// When the config is invalid (see [`validate`](Self::validate)).
    pub fn init(&self, device: &Device) -> LeakyReadout {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }
}

impl LeakyReadout {
    /// Width of the input.
    pub fn d_input(&self) -> usize {
        self.output.weight.dims()[0]
    }

    /// Number of outputs.
    pub fn d_output(&self) -> usize {
        self.output.weight.dims()[1]
    }

    /// A fresh state, `m = 0`.
    pub fn init_state(&self, batch: usize, device: &Device) -> ReadoutState {
        zero_state(batch, self.d_output(), device)
    }

    /// One step on `x` (`[batch, d_input]`).
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, d_input]` or the state is not `[batch, d_output]`.
    pub fn step(&self, x: Tensor<2>, state: ReadoutState) -> (Tensor<2>, ReadoutState) {
        check_step_input("LeakyReadout", &x, self.d_input());
        check_state(
            "LeakyReadout",
            "potential",
            &state.potential,
            x.dims()[0],
            self.d_output(),
        );
        leaky_integrator_step(self.output.forward(x), state, decay(&self.tau))
    }

    /// A whole sequence `[batch, time, d_input]`.
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, time >= 1, d_input]` or the state is not `[batch, d_output]`.
    pub fn forward(&self, x: Tensor<3>, state: Option<ReadoutState>) -> (Tensor<3>, ReadoutState) {
        check_sequence_input("LeakyReadout", &x, self.d_input());
        let state = state.unwrap_or_else(|| self.init_state(x.dims()[0], &x.device()));
        scan(x, state, |x_t, state| self.step(x_t, state))
    }
}

/// One leaky-integrator step, a pure function ([`LeakyReadout`] is a thin module over it):
/// `m_t = k m_{t-1} + (1 - k) d_t` for the drive `d_t` (`[batch, C]`) and the per-output decay
/// `k = exp(-1 / τ)` (`[1, C]`).
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::functional::leaky_integrator_step;
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// let state = ReadoutState { potential: Tensor::from_floats([[2.0]], &device), step: 0 };
/// let decay = Tensor::from_floats([[0.75]], &device);
/// // 0.75 * 2 + 0.25 * 6 = 3.
/// let (m, state) = leaky_integrator_step(Tensor::from_floats([[6.0]], &device), state, decay);
/// assert_eq!(m.into_data().to_vec::<f32>().unwrap(), vec![3.0]);
/// assert_eq!(state.step, 1);
/// ```
pub fn leaky_integrator_step(
    drive: Tensor<2>,
    state: ReadoutState,
    decay: Tensor<2>,
) -> (Tensor<2>, ReadoutState) {
    // k m + (1 - k) d, written as d + k (m - d).
    let potential = drive.clone() + decay * (state.potential - drive);
    (
        potential.clone(),
        ReadoutState {
            potential,
            step: state.step + 1,
        },
    )
}

impl ModuleDisplay for LeakyReadout {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new()
            .with_new_line_after_attribute(false)
            .optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content
            .add("d_input", &self.d_input())
            .add("d_output", &self.d_output())
            .optional()
    }
}
