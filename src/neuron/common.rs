//! Pieces shared by the spiking layers: reset rules, initial states, shape checks.

use burn::config::Config;
use burn::tensor::{Device, Distribution, Tensor};

use crate::step::Detach;
use crate::surrogate::{Surrogate, smooth_spike, spike};

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

/// State of a layer with an adaptive threshold ([`Ltc`](super::Ltc), [`Alif`](super::Alif)).
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

/// Applies the reset rule to the pre-spike membrane `pre`, given the spikes and threshold.
pub(crate) fn reset(
    mode: ResetMode,
    pre: Tensor<2>,
    spikes: Tensor<2>,
    threshold: Tensor<2>,
) -> Tensor<2> {
    match mode {
        ResetMode::Hard => pre.clone() - spikes * pre,
        ResetMode::Soft => pre - spikes * threshold,
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

/// Step `t` of `x` (`[batch, time, width]`), as `[batch, width]`.
pub(crate) fn time_step(x: &Tensor<3>, t: usize) -> Tensor<2> {
    let [batch, _, width] = x.dims();
    x.clone()
        .slice([0..batch, t..t + 1, 0..width])
        .reshape([batch, width])
}

/// Smallest batch for which [`gate`] splits its product: below it, the backward pass of the two
/// weight slices (a zero-filled weight-sized gradient per slice, then their sum) costs more than
/// the input-gradient product it saves. Measured with `bench_step --mode fptt --hidden 256` on
/// 2 cores (BENCHMARKS.md): the split is 10-20 % faster at batch 512 and slower at 64; the
/// estimated break-even is near 175 whatever the width.
pub(crate) const SPLIT_GATE_MIN_BATCH: usize = 256;

/// A gate's pre-activation `W [drive; state] + b` for a `Linear` whose input is the
/// concatenation of `drive` and `state` (both `[batch, d]`, weight `[2d, out]`).
///
/// When a backward pass will follow through `drive` but `state` takes no part in it (FPTT
/// detaches the state before every update), and the batch is at least
/// [`SPLIT_GATE_MIN_BATCH`], the product is split as `drive W_top + state W_bottom`: the
/// backward pass then computes no input gradient for the state half, a quarter of the gate's
/// backward products, and the concatenation is not copied. Otherwise (BPTT, steps inside an
/// FPTT-K chunk, inference, small batches) it is one product over the concatenation.
pub(crate) fn gate(linear: &burn::nn::Linear, drive: Tensor<2>, state: Tensor<2>) -> Tensor<2> {
    let [batch, split] = drive.dims();
    if state.is_tracked() || !drive.is_tracked() || batch < SPLIT_GATE_MIN_BATCH {
        return linear.forward(Tensor::cat(vec![drive, state], 1));
    }
    let [rows, out] = linear.weight.dims();
    let weight = linear.weight.val();
    let top = weight.clone().slice([0..split, 0..out]);
    let bottom = weight.slice([split..rows, 0..out]);
    let pre = drive.matmul(top) + state.matmul(bottom);
    match &linear.bias {
        Some(bias) => pre + bias.val().unsqueeze(),
        None => pre,
    }
}

/// Runs `step` over every time step of `x` (`[batch, time, width]`), stacking the outputs along
/// time: `[batch, time, out]`.
pub(crate) fn scan<S>(
    x: Tensor<3>,
    mut state: S,
    mut step: impl FnMut(Tensor<2>, S) -> (Tensor<2>, S),
) -> (Tensor<3>, S) {
    let time = x.dims()[1];
    let mut outputs = Vec::with_capacity(time);
    for t in 0..time {
        let (out, next) = step(time_step(&x, t), state);
        outputs.push(out);
        state = next;
    }
    (Tensor::stack(outputs, 1), state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::Linear;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec().unwrap()
    }

    #[test]
    fn split_gate_matches_the_concatenated_product_and_its_weight_gradient() {
        let device = crate::default_device().autodiff();
        let linear = Linear {
            weight: Param::from_tensor(Tensor::<2>::from_floats(
                [
                    [0.5, -1.0, 0.25],
                    [2.0, 0.0, -0.5],
                    [1.5, 0.75, -2.0],
                    [-0.25, 1.0, 3.0],
                ],
                &device,
            )),
            bias: Some(Param::from_tensor(Tensor::from_floats(
                [0.1, -0.2, 0.3],
                &device,
            ))),
        };
        // Two rows, repeated to a batch that takes the split path.
        let copies = SPLIT_GATE_MIN_BATCH / 2;
        let repeat =
            |rows: [[f64; 2]; 2]| Tensor::<2>::from_floats(rows, &device).repeat_dim(0, copies);
        let drive = repeat([[1.0, -2.0], [0.5, 3.0]]).require_grad();
        let state = repeat([[-1.0, 0.25], [2.0, -0.5]]);
        // [drive; state] W + b, row by row, by hand.
        let row0 = [
            0.5 - 2.0 * 2.0 - 1.5 + 0.25 * -0.25 + 0.1,
            -1.0 + 0.0 - 0.75 + 0.25 * 1.0 - 0.2,
            0.25 - 2.0 * -0.5 - 1.0 * -2.0 + 0.25 * 3.0 + 0.3,
        ];
        let row1 = [
            0.5 * 0.5 + 3.0 * 2.0 + 2.0 * 1.5 - 0.5 * -0.25 + 0.1,
            -0.5 + 0.0 + 2.0 * 0.75 - 0.5 * 1.0 - 0.2,
            0.5 * 0.25 + 3.0 * -0.5 + 2.0 * -2.0 - 0.5 * 3.0 + 0.3,
        ];
        let split = gate(&linear, drive.clone(), state.clone());
        let joined = gate(&linear, drive.clone(), state.clone().require_grad());
        let expected: Vec<f32> = [row0, row1]
            .concat()
            .repeat(copies)
            .iter()
            .map(|&v| v as f32)
            .collect();
        for out in [split.clone(), joined.clone()] {
            let out = values(out);
            assert_eq!(out.len(), expected.len());
            for (a, b) in out.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
        let upstream = Tensor::<2>::from_floats([[1.0, 2.0, -1.0], [0.5, -1.0, 1.0]], &device)
            .repeat_dim(0, copies);
        let gradients = |out: Tensor<2>| {
            let grads = (out * upstream.clone()).sum().backward();
            (
                values(linear.weight.val().grad(&grads).unwrap()),
                values(drive.grad(&grads).unwrap()),
            )
        };
        let (split_weight, split_drive) = gradients(split);
        let (joined_weight, joined_drive) = gradients(joined);
        for (a, b) in split_weight.iter().zip(&joined_weight) {
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{a} vs {b}");
        }
        assert_eq!(split_drive, joined_drive);
    }
}
