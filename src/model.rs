//! Ready-made networks: a spiking classifier (stacked LTC layers and an LTC readout, the
//! method's S-MNIST network) and a spiking regressor (an LTC layer and a linear readout of its
//! membrane, the method's adding-problem network).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::error::{ConfigError, check};
use crate::neuron::{
    InitialMembrane, Ltc, LtcConfig, LtcReadout, LtcReadoutConfig, LtcState, ReadoutState,
    ResetMode, SpikingCell,
};
use crate::step::{SpikingLayer, SpikingModel, StepModel};
use crate::surrogate::Surrogate;

/// Configuration of a [`SpikingClassifier`].
///
/// ```
/// use burn_fptt::prelude::*;
///
/// // The method's S-MNIST network: 1 input, two recurrent LTC layers of 256, 10 classes.
/// let config = SpikingClassifierConfig::new(1, vec![256, 256], 10);
/// let net = config.init(&default_device());
/// assert_eq!(net.layers.len(), 2);
/// ```
#[derive(Config, Debug)]
pub struct SpikingClassifierConfig {
    /// Width of the input at each step.
    pub d_input: usize,
    /// Sizes of the LTC layers, input side first.
    pub d_hidden: Vec<usize>,
    /// Number of classes.
    pub d_output: usize,
    /// Whether the LTC layers are recurrent.
    #[config(default = true)]
    pub recurrent: bool,
    /// Surrogate of every layer's spike.
    #[config(default = "Surrogate::multi_gaussian()")]
    pub surrogate: Surrogate,
    /// Reset of every layer.
    #[config(default = "ResetMode::Hard")]
    pub reset: ResetMode,
    /// A learnable sigmoid slope in every gate, LTC layers and readout (one scalar per gate,
    /// initialised to 1), as in the method's published S-MNIST network.
    #[config(default = false)]
    pub gate_slope: bool,
    /// Per-step batch normalisation of every drive (each layer's input and recurrent drives and
    /// the readout's, [`LtcConfig::step_norm`]), with running statistics for this many steps, as
    /// in the method's published S-MNIST network. `None`: no normalisation.
    #[config(default = "None")]
    pub step_norm: Option<usize>,
}

/// Stacked [`Ltc`] layers and an [`LtcReadout`]; the scores at each step are the readout's
/// potential.
#[derive(Module, Debug)]
pub struct SpikingClassifier {
    /// The spiking layers, input side first.
    pub layers: Vec<Ltc>,
    /// The readout.
    pub readout: LtcReadout,
}

impl SpikingClassifierConfig {
    /// The method's published S-MNIST network: one pixel per step, two recurrent LTC layers of
    /// 256, ten classes, learnable gate slopes, and per-step normalisation of every drive over
    /// the 784 steps.
    ///
    /// ```
    /// use burn_fptt::prelude::*;
    ///
    /// let config = SpikingClassifierConfig::published_smnist();
    /// assert_eq!((config.d_hidden.clone(), config.step_norm), (vec![256, 256], Some(784)));
    /// let net = config.init(&default_device());
    /// assert!(net.layers[1].recurrent_norm.is_some() && net.readout.norm.is_some());
    /// ```
    pub fn published_smnist() -> Self {
        Self::new(1, vec![256, 256], 10)
            .with_gate_slope(true)
            .with_step_norm(Some(784))
    }

    fn layer_configs(&self) -> Vec<LtcConfig> {
        let mut width = self.d_input;
        self.d_hidden
            .iter()
            .map(|&h| {
                let config = LtcConfig::new(width, h)
                    .with_recurrent(self.recurrent)
                    .with_surrogate(self.surrogate.clone())
                    .with_reset(self.reset)
                    .with_gate_slope(self.gate_slope)
                    .with_step_norm(self.step_norm);
                width = h;
                config
            })
            .collect()
    }

    /// Checks every size and the layers' settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: a zero size (`step_norm` included) or no hidden
    /// layer.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive_size("SpikingClassifierConfig.d_input", self.d_input)?;
        check::positive_size("SpikingClassifierConfig.d_output", self.d_output)?;
        if self.d_hidden.is_empty() {
            return Err(ConfigError::new(
                "SpikingClassifierConfig.d_hidden",
                "[]",
                "needs at least one layer",
            ));
        }
        for (i, &h) in self.d_hidden.iter().enumerate() {
            check::positive_size(&format!("SpikingClassifierConfig.d_hidden[{i}]"), h)?;
        }
        if let Some(steps) = self.step_norm {
            check::positive_size("SpikingClassifierConfig.step_norm", steps)?;
        }
        self.layer_configs()
            .iter()
            .try_for_each(LtcConfig::validate)
    }

    /// Builds the network after [`validate`](Self::validate).
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of [`validate`](Self::validate).
    pub fn try_init(&self, device: &Device) -> Result<SpikingClassifier, ConfigError> {
        self.validate()?;
        let layers = self
            .layer_configs()
            .iter()
            .map(|c| c.try_init(device))
            .collect::<Result<Vec<_>, _>>()?;
        let last = self.d_hidden.last().copied().ok_or_else(|| {
            ConfigError::new(
                "SpikingClassifierConfig.d_hidden",
                "[]",
                "needs at least one layer",
            )
        })?;
        let readout = LtcReadoutConfig::new(last, self.d_output)
            .with_gate_slope(self.gate_slope)
            .with_step_norm(self.step_norm)
            .try_init(device)?;
        Ok(SpikingClassifier { layers, readout })
    }

    /// Builds the network.
    ///
    /// # Panics
    ///
    /// When the config is invalid.
    pub fn init(&self, device: &Device) -> SpikingClassifier {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }
}

impl StepModel for SpikingClassifier {
    type State = (Vec<LtcState>, ReadoutState);

    fn init_state(&self, batch: usize, device: &Device) -> Self::State {
        (
            self.layers
                .iter()
                .map(|l| l.init_state(batch, device))
                .collect(),
            self.readout.init_state(batch, device),
        )
    }

    fn step(&self, x: Tensor<2>, (states, readout): Self::State) -> (Tensor<2>, Self::State) {
        let mut input = x;
        let mut next = Vec::with_capacity(states.len());
        for (layer, state) in self.layers.iter().zip(states) {
            let (spikes, state) = layer.step(input, state);
            next.push(state);
            input = spikes;
        }
        let (scores, readout) = self.readout.step(input, readout);
        (scores, (next, readout))
    }
}

impl SpikingModel for SpikingClassifier {
    fn spiking_layers(&self) -> Vec<SpikingLayer> {
        let classes = self.readout.d_output();
        self.layers
            .iter()
            .enumerate()
            .map(|(i, layer)| {
                // A spike reaches the next layer (or the readout) and, if recurrent, its own layer.
                let next = self.layers.get(i + 1).map_or(classes, Ltc::d_hidden);
                layer.spiking_layer(format!("ltc{}", i + 1), next)
            })
            .collect()
    }

    fn spikes(&self, (states, _): &Self::State) -> Vec<Tensor<2>> {
        states.iter().map(|state| state.spikes.clone()).collect()
    }
}

/// Configuration of a [`SpikingRegressor`].
///
/// ```
/// use burn_fptt::prelude::*;
///
/// // The method's adding-problem network: 2 inputs, one LTC layer of 128, one output.
/// let net = SpikingRegressorConfig::new(2, 128, 1).init(&default_device());
/// assert_eq!(net.readout.weight.dims(), [128, 1]);
/// ```
#[derive(Config, Debug)]
pub struct SpikingRegressorConfig {
    /// Width of the input at each step.
    pub d_input: usize,
    /// Size of the LTC layer.
    pub d_hidden: usize,
    /// Number of real-valued outputs.
    pub d_output: usize,
    /// Whether the LTC layer is recurrent.
    #[config(default = true)]
    pub recurrent: bool,
    /// Surrogate of the layer's spike.
    #[config(default = "Surrogate::multi_gaussian()")]
    pub surrogate: Surrogate,
    /// Reset of the layer.
    #[config(default = "ResetMode::Hard")]
    pub reset: ResetMode,
    /// The membrane of a fresh state (the method's adding-problem code starts from zeros).
    #[config(default = "InitialMembrane::Zeros")]
    pub initial_membrane: InitialMembrane,
    /// Base threshold `b0` of the layer ([`LtcConfig::base_threshold`]; the method's
    /// adding-problem neuron uses 0.5).
    #[config(default = 0.1)]
    pub base_threshold: f64,
    /// Threshold adaptation `beta` of the layer ([`LtcConfig::adaptation`]; the method's
    /// adding-problem neuron uses 0, a fixed threshold).
    #[config(default = 1.8)]
    pub adaptation: f64,
}

/// One [`Ltc`] layer and a linear readout of its membrane potential: the output at each step
/// is `W u_t + b`, real-valued (the method's network for the adding problem).
#[derive(Module, Debug)]
pub struct SpikingRegressor {
    /// The spiking layer.
    pub ltc: Ltc,
    /// The linear readout of the membrane, Xavier-normal weights.
    pub readout: Linear,
}

impl SpikingRegressorConfig {
    /// Checks every size and the layer's settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive_size("SpikingRegressorConfig.d_input", self.d_input)?;
        check::positive_size("SpikingRegressorConfig.d_hidden", self.d_hidden)?;
        check::positive_size("SpikingRegressorConfig.d_output", self.d_output)?;
        Ok(())
    }

    /// Builds the network.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first invalid setting.
    pub fn try_init(&self, device: &Device) -> Result<SpikingRegressor, ConfigError> {
        self.validate()?;
        let ltc = LtcConfig::new(self.d_input, self.d_hidden)
            .with_recurrent(self.recurrent)
            .with_surrogate(self.surrogate.clone())
            .with_reset(self.reset)
            .with_initial_membrane(self.initial_membrane)
            .with_base_threshold(self.base_threshold)
            .with_adaptation(self.adaptation)
            .try_init(device)?;
        let readout = LinearConfig::new(self.d_hidden, self.d_output)
            .with_initializer(Initializer::XavierNormal { gain: 1.0 })
            .init(device);
        Ok(SpikingRegressor { ltc, readout })
    }

    /// Builds the network.
    ///
    /// # Panics
    ///
    /// When the config is invalid.
    pub fn init(&self, device: &Device) -> SpikingRegressor {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }
}

impl StepModel for SpikingRegressor {
    type State = LtcState;

    fn init_state(&self, batch: usize, device: &Device) -> LtcState {
        self.ltc.init_state(batch, device)
    }

    fn step(&self, x: Tensor<2>, state: LtcState) -> (Tensor<2>, LtcState) {
        let (_, state) = self.ltc.step(x, state);
        let output = self.readout.forward(state.membrane.clone());
        (output, state)
    }
}

impl SpikingModel for SpikingRegressor {
    fn spiking_layers(&self) -> Vec<SpikingLayer> {
        // A spike drives only the recurrent matrix: the readout reads the membrane.
        vec![self.ltc.spiking_layer("ltc1", 0)]
    }

    fn spikes(&self, state: &LtcState) -> Vec<Tensor<2>> {
        vec![state.spikes.clone()]
    }
}
