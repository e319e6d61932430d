//! Pieces shared by the spiking layers: reset rules, initial states, shape checks.

use burn::config::Config;
use burn::module::Param;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};

use crate::kernels::{Threshold, hard_reset, threshold_gap};
use crate::step::Detach;
use crate::surrogate::{Surrogate, smooth_spike, spike, spike_above_threshold};

/// What happens to the membrane of a neuron that spiked.
#[derive(Config, Debug, PartialEq, Copy)]
pub enum ResetMode {
    /// `u = (1 - s) u'`: back to zero.
    Hard,
    /// `u = u' - s θ`: the threshold is subtracted, the overshoot kept.
    Soft,
}

/// How the membrane potential of a fresh state is drawn.
#[derive(Config, Debug, PartialEq, Copy)]
pub enum InitialMembrane {
    /// `u ~ U[0, 1)`, independently per sample and neuron (the method's default).
    Uniform,
    /// `u = 0`.
    Zeros,
}

impl InitialMembrane {
    pub(crate) fn sample(&self, batch: usize, hidden: usize, device: &Device) -> Tensor<2> {
        match self {
            Self::Uniform => {
                Tensor::random([batch, hidden], Distribution::Uniform(0.0, 1.0), device)
            }
            Self::Zeros => Tensor::zeros([batch, hidden], device),
        }
    }
}

/// State of an [`Alif`](super::Alif) layer: membrane, last spikes and threshold adaptation.
#[derive(Debug, Clone)]
pub struct AdaptiveState {
    /// Membrane potential `u`, `[batch, hidden]`.
    pub membrane: Tensor<2>,
    /// Spikes `s` of the last step, `[batch, hidden]`.
    pub spikes: Tensor<2>,
    /// Threshold adaptation `b`, `[batch, hidden]`.
    pub adaptation: Tensor<2>,
}

/// State of a [`Lif`](super::Lif) layer.
#[derive(Debug, Clone)]
pub struct LifState {
    /// Membrane potential `u`, `[batch, hidden]`.
    pub membrane: Tensor<2>,
    /// Spikes `s` of the last step, `[batch, hidden]`.
    pub spikes: Tensor<2>,
}

impl Detach for AdaptiveState {
    fn detach(self) -> Self {
        Self {
            membrane: self.membrane.detach(),
            spikes: self.spikes.detach(),
            adaptation: self.adaptation.detach(),
        }
    }
}

impl Detach for LifState {
    fn detach(self) -> Self {
        Self {
            membrane: self.membrane.detach(),
            spikes: self.spikes.detach(),
        }
    }
}

impl AdaptiveState {
    /// The batch size of this state.
    pub fn batch_size(&self) -> usize {
        self.membrane.dims()[0]
    }
}

impl LifState {
    /// The batch size of this state.
    pub fn batch_size(&self) -> usize {
        self.membrane.dims()[0]
    }
}

/// Fires `spike` or its smooth twin.
pub(crate) fn fire(v: Tensor<2>, surrogate: &Surrogate, smooth: bool) -> Tensor<2> {
    if smooth {
        smooth_spike(v, surrogate)
    } else {
        spike(v, surrogate)
    }
}

/// How an adaptive layer (LTC, ALIF) fires and resets.
pub(crate) struct Firing<'a> {
    pub(crate) threshold: Threshold,
    pub(crate) reset: ResetMode,
    pub(crate) surrogate: &'a Surrogate,
    pub(crate) smooth: bool,
}

/// Fires the membrane `pre` against the adaptive threshold `θ = b₀ + β b` of the adaptation `b`
/// and resets it: the spikes `fire(pre − θ)` and the membrane after the reset.
///
/// With a hard reset the gap, the surrogate's slope and the spike are one graph node (for the
/// multi-Gaussian) and the reset another. A soft reset subtracts `θ`, which the spike and the
/// reset then share as one tensor, as before these nodes (so that its gradient is summed once).
pub(crate) fn fire_and_reset(
    pre: Tensor<2>,
    adaptation: Tensor<2>,
    firing: Firing<'_>,
) -> (Tensor<2>, Tensor<2>) {
    let Firing {
        threshold,
        reset,
        surrogate,
        smooth,
    } = firing;
    if reset == ResetMode::Soft {
        let theta = adaptation * threshold.beta + threshold.base;
        let spikes = fire(pre.clone() - theta.clone(), surrogate, smooth);
        let membrane = pre - spikes.clone() * theta;
        return (spikes, membrane);
    }
    let spikes = if smooth {
        let gap = threshold_gap(pre.clone(), adaptation, threshold.beta, threshold.base);
        smooth_spike(gap, surrogate)
    } else {
        spike_above_threshold(pre.clone(), adaptation, threshold, surrogate)
    };
    let membrane = hard_reset(pre, spikes.clone());
    (spikes, membrane)
}

/// A Linear layer with the given weight initializer and a zero bias (or none).
pub(crate) fn linear(
    d_in: usize,
    d_out: usize,
    init: Initializer,
    bias: bool,
    device: &Device,
) -> Linear {
    let mut layer = LinearConfig::new(d_in, d_out)
        .with_bias(false)
        .with_initializer(init)
        .init(device);
    if bias {
        layer.bias = Some(Param::from_tensor(Tensor::zeros([d_out], device)));
    }
    layer
}

/// Learnable per-neuron time constants drawn from `N(mean, std)`.
pub(crate) fn time_constants(
    mean: f64,
    std: f64,
    size: usize,
    device: &Device,
) -> Param<Tensor<1>> {
    Initializer::Normal { mean, std }.init([size], device)
}

/// The input and recurrent projections of a LIF-type layer.
pub(crate) fn projections(
    d_input: usize,
    d_hidden: usize,
    recurrent: bool,
    device: &Device,
) -> (Linear, Option<Linear>) {
    let input = linear(
        d_input,
        d_hidden,
        Initializer::XavierNormal { gain: 1.0 },
        true,
        device,
    );
    let recurrent = recurrent.then(|| {
        linear(
            d_hidden,
            d_hidden,
            Initializer::Orthogonal { gain: 1.0 },
            false,
            device,
        )
    });
    (input, recurrent)
}

/// `I + W_r s` when the layer is recurrent.
pub(crate) fn add_recurrent(
    current: Tensor<2>,
    recurrent: &Option<Linear>,
    spikes: &Tensor<2>,
) -> Tensor<2> {
    match recurrent {
        Some(recurrent) => current + linear_step(recurrent, spikes.clone()),
        None => current,
    }
}

/// Time constants are clamped to at least this many steps in the forward pass, so a learned
/// time constant can never make a decay factor exceed 1 or vanish.
pub(crate) const MIN_TIME_CONSTANT: f64 = 1.0;

/// `exp(-1 / max(tau, MIN_TIME_CONSTANT))` per neuron, as a `[1, H]` row.
pub(crate) fn decay(tau: &Param<Tensor<1>>) -> Tensor<2> {
    tau.val()
        .clamp_min(MIN_TIME_CONSTANT)
        .recip()
        .neg()
        .exp()
        .unsqueeze_dim(0)
}

/// `linear` on one step's `[batch, d_input]`: one graph node on the CPU backends, where burn's
/// `Linear::forward` records a product and a sum.
pub(crate) fn linear_step(linear: &Linear, x: Tensor<2>) -> Tensor<2> {
    crate::kernels::affine(x, linear.weight.val(), linear.bias.as_ref().map(Param::val))
}

/// Applies the reset rule to the pre-spike membrane `pre`, given the spikes; `threshold` is
/// built only for the soft reset, which subtracts it.
pub(crate) fn reset(
    mode: ResetMode,
    pre: Tensor<2>,
    spikes: Tensor<2>,
    threshold: impl FnOnce() -> Tensor<2>,
) -> Tensor<2> {
    match mode {
        ResetMode::Hard => hard_reset(pre, spikes),
        ResetMode::Soft => pre - spikes * threshold(),
    }
}

/// Panics unless `x` is `[batch, width]` with the expected width.
pub(crate) fn check_step_input(layer: &str, x: &Tensor<2>, width: usize) {
    let dims = x.dims();
    assert!(
        dims[1] == width,
        "{layer}::step: input must be [batch, {width}], got {dims:?}"
    );
}

/// Panics unless `x` is `[batch, time >= 1, width]` with the expected width.
pub(crate) fn check_sequence_input(layer: &str, x: &Tensor<3>, width: usize) {
    let dims = x.dims();
    assert!(
        dims[2] == width,
        "{layer}::forward: input must be [batch, time, {width}], got {dims:?}"
    );
    assert!(
        dims[1] >= 1,
        "{layer}::forward: input has 0 time steps ({dims:?}); a sequence needs at least one"
    );
}

/// Panics unless a state tensor is `[batch, hidden]`.
pub(crate) fn check_state(layer: &str, name: &str, state: &Tensor<2>, batch: usize, hidden: usize) {
    let dims = state.dims();
    assert!(
        dims == [batch, hidden],
        "{layer}: state `{name}` must be [batch = {batch}, hidden = {hidden}] to match the input, got {dims:?}"
    );
}
