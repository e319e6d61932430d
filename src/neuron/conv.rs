//! The convolutional LTC layer: a convolutional input drive and LTC dynamics per channel and
//! position, the cell of the method's DVS-Gesture network.

use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Tensor};

use super::common::{check_sequence_input, check_state, check_step_input, fire};
use crate::error::{ConfigError, check};
use crate::math::sigmoid;
use crate::step::{Detach, SpikingLayer, SpikingModel, StepModel, scan};
use crate::surrogate::Surrogate;

/// Configuration of a [`ConvLtc`] layer.
#[derive(Config, Debug)]
pub struct ConvLtcConfig {
    /// Channels of the input frames.
    pub in_channels: usize,
    /// Channels of the layer (neurons per position).
    pub channels: usize,
    /// Height of the input frames.
    pub height: usize,
    /// Width of the input frames.
    pub width: usize,
    /// Side of the square kernels (odd: the convolutions keep the frame's size).
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Average pooling of the drive over `pool × pool` windows (stride `pool`), or none.
    #[config(default = "None")]
    pub pool: Option<usize>,
    /// Firing threshold (the method's 0.5).
    #[config(default = 0.5)]
    pub threshold: f64,
    /// Surrogate derivative of the spike.
    #[config(default = "Surrogate::multi_gaussian()")]
    pub surrogate: Surrogate,
    /// Emit the surrogate's smooth antiderivative instead of 0/1 spikes.
    #[config(default = false)]
    pub smooth_spikes: bool,
}

/// Liquid-time-constant spiking neurons on a grid: one neuron per channel and position, driven
/// by a convolution of the input frame, with a membrane time constant computed from the drive
/// and the membrane by a second convolution:
///
/// ```text
/// d_t  = pool(W_x ⋆ x_t + b_x)                    [C, H', W']
/// g_t  = σ(W_τ ⋆ (d_t + u_{t-1}) + b_τ)           per-step blend factor (1 - decay)
/// u'_t = u_{t-1} + g_t ⊙ (d_t - u_{t-1})
/// s_t  = spike(u'_t - θ),   u_t = (1 - s_t) u'_t
/// ```
///
/// Inputs and outputs are flat per step: `[batch, in_channels · height · width]` in, `[batch,
/// channels · H' · W']` out, both in (channel, row, column) order, so frames binned from events
/// (N-MNIST's `[polarity, y, x]`) feed it directly and layers stack.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// // 2 polarities of 8 x 8 pixels, 4 channels, pooled to 4 x 4.
/// let conv = ConvLtcConfig::new(2, 4, 8, 8).with_pool(Some(2)).init(&device);
/// assert_eq!((conv.d_input(), conv.d_output()), (128, 64));
/// let (spikes, _) = conv.forward(Tensor::<3>::ones([3, 5, 128], &device), None);
/// assert_eq!(spikes.dims(), [3, 5, 64]);
/// ```
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct ConvLtc {
    /// The input drive's convolution `W_x`, with bias.
    pub input: Conv2d,
    /// The membrane gate's convolution `W_τ`, with bias.
    pub membrane_gate: Conv2d,
    /// Input frame `[channels, height, width]`.
    pub frame: [usize; 3],
    /// Pooling window and stride (1: none).
    pub pool: usize,
    /// Firing threshold `θ`.
    pub threshold: f64,
    /// Whether spikes are replaced by their smooth twin.
    pub smooth_spikes: bool,
    /// Surrogate derivative of the spike.
    #[module(skip)]
    pub surrogate: Surrogate,
}

/// The state of a [`ConvLtc`] layer, flat per sample in (channel, row, column) order.
#[derive(Debug, Clone)]
pub struct ConvLtcState {
    /// Membrane potential `u`, `[batch, channels · H' · W']`.
    pub membrane: Tensor<2>,
    /// Spikes `s` of the last step, `[batch, channels · H' · W']`.
    pub spikes: Tensor<2>,
}

impl Detach for ConvLtcState {
    fn detach(self) -> Self {
        Self {
            membrane: self.membrane.detach(),
            spikes: self.spikes.detach(),
        }
    }
}

impl ConvLtcConfig {
    /// Checks every value.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when a size is zero, the kernel side is even, the
    /// pooling window is 0 or does not divide the frame, the threshold is not finite and
    /// positive, or the surrogate is invalid.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive_size("ConvLtcConfig.in_channels", self.in_channels)?;
        check::positive_size("ConvLtcConfig.channels", self.channels)?;
        check::positive_size("ConvLtcConfig.height", self.height)?;
        check::positive_size("ConvLtcConfig.width", self.width)?;
        if self.kernel_size.is_multiple_of(2) {
            return Err(ConfigError::new(
                "ConvLtcConfig.kernel_size",
                self.kernel_size,
                "must be odd, so that the convolutions keep the frame's size",
            ));
        }
        if let Some(pool) = self.pool
            && (pool == 0 || !self.height.is_multiple_of(pool) || !self.width.is_multiple_of(pool))
        {
            return Err(ConfigError::new(
                "ConvLtcConfig.pool",
                pool,
                format!(
                    "must be at least 1 and divide the frame ({} x {})",
                    self.height, self.width
                ),
            ));
        }
        check::positive("ConvLtcConfig.threshold", self.threshold)?;
        self.surrogate.validate()
    }

    /// Builds the layer on `device` after [`validate`](Self::validate): Xavier-uniform kernels
    /// and zero biases, as the method initialises them.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of [`validate`](Self::validate).
    pub fn try_init(&self, device: &Device) -> Result<ConvLtc, ConfigError> {
        self.validate()?;
        let conv = |from: usize| {
            let mut conv = Conv2dConfig::new([from, self.channels], [self.kernel_size; 2])
                .with_padding(PaddingConfig2d::Same)
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device);
            conv.bias = Some(Param::from_tensor(Tensor::zeros([self.channels], device)));
            conv
        };
        Ok(ConvLtc {
            input: conv(self.in_channels),
            membrane_gate: conv(self.channels),
            frame: [self.in_channels, self.height, self.width],
            pool: self.pool.unwrap_or(1),
            threshold: self.threshold,
            smooth_spikes: self.smooth_spikes,
            surrogate: self.surrogate.clone(),
        })
    }

    /// Builds the layer on `device`.
    ///
    /// # Panics
    ///
    /// When the config is invalid (see [`validate`](Self::validate)).
    pub fn init(&self, device: &Device) -> ConvLtc {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }
}

impl ConvLtc {
    /// Channels of the layer.
    pub fn channels(&self) -> usize {
        self.input.weight.dims()[0]
    }

    /// The layer's grid after pooling, `[channels, H', W']`.
    pub fn output_shape(&self) -> [usize; 3] {
        let [_, height, width] = self.frame;
        [self.channels(), height / self.pool, width / self.pool]
    }

    /// Width of one flat input step, `in_channels · height · width`.
    pub fn d_input(&self) -> usize {
        self.frame.iter().product()
    }

    /// Width of one flat output step (neurons), `channels · H' · W'`.
    pub fn d_output(&self) -> usize {
        self.output_shape().iter().product()
    }

    /// A fresh state: membrane 0, no spikes.
    pub fn init_state(&self, batch: usize, device: &Device) -> ConvLtcState {
        ConvLtcState {
            membrane: Tensor::zeros([batch, self.d_output()], device),
            spikes: Tensor::zeros([batch, self.d_output()], device),
        }
    }

    /// One time step on `x` (`[batch, in_channels · height · width]`).
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, d_input]` or the state is not `[batch, d_output]`.
    pub fn step(&self, x: Tensor<2>, state: ConvLtcState) -> (Tensor<2>, ConvLtcState) {
        check_step_input("ConvLtc", &x, self.d_input());
        let batch = x.dims()[0];
        let n = self.d_output();
        check_state("ConvLtc", "membrane", &state.membrane, batch, n);
        check_state("ConvLtc", "spikes", &state.spikes, batch, n);
        let [in_channels, height, width] = self.frame;
        let [channels, rows, cols] = self.output_shape();
        let mut drive = self
            .input
            .forward(x.reshape([batch, in_channels, height, width]));
        if self.pool > 1 {
            let options = AvgPoolOptions::new([self.pool; 2]).with_stride([self.pool; 2]);
            drive = avg_pool2d(drive, options);
        }
        let membrane = state.membrane.reshape([batch, channels, rows, cols]);
        let gate = sigmoid(self.membrane_gate.forward(drive.clone() + membrane.clone()));
        let pre = membrane.clone() + gate * (drive - membrane);
        let pre = pre.reshape([batch, n]);
        let spikes = fire(
            pre.clone() - self.threshold,
            &self.surrogate,
            self.smooth_spikes,
        );
        let membrane = pre.clone() - spikes.clone() * pre;
        (spikes.clone(), ConvLtcState { membrane, spikes })
    }

    /// A whole sequence `[batch, time, d_input]`; `None` starts from a fresh state.
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, time >= 1, d_input]` or the state is not `[batch, d_output]`.
    pub fn forward(&self, x: Tensor<3>, state: Option<ConvLtcState>) -> (Tensor<3>, ConvLtcState) {
        check_sequence_input("ConvLtc", &x, self.d_input());
        let state = state.unwrap_or_else(|| self.init_state(x.dims()[0], &x.device()));
        scan(x, state, |x_t, state| self.step(x_t, state))
    }
}

impl StepModel for ConvLtc {
    type State = ConvLtcState;

    fn init_state(&self, batch: usize, device: &Device) -> ConvLtcState {
        ConvLtc::init_state(self, batch, device)
    }

    fn step(&self, x: Tensor<2>, state: ConvLtcState) -> (Tensor<2>, ConvLtcState) {
        ConvLtc::step(self, x, state)
    }
}

impl SpikingModel for ConvLtc {
    fn spiking_layers(&self) -> Vec<SpikingLayer> {
        vec![SpikingLayer {
            name: "ConvLtc".to_string(),
            neurons: self.d_output(),
            fan_out: 0,
        }]
    }

    fn spikes(&self, state: &ConvLtcState) -> Vec<Tensor<2>> {
        vec![state.spikes.clone()]
    }
}

impl ModuleDisplay for ConvLtc {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new()
            .with_new_line_after_attribute(false)
            .optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content
            .add_debug_attribute("frame", &self.frame)
            .add_debug_attribute("output", &self.output_shape())
            .add("kernel", &self.input.weight.dims()[2])
            .add("pool", &self.pool)
            .add("threshold", &self.threshold)
            .add_debug_attribute("surrogate", &self.surrogate)
            .optional()
    }
}
