//! [`SpikingCell`]: what a spiking layer defines (its state, a fresh state, one step from its
//! input current), and what every such layer gets from it without code of its own.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use super::common::{check_sequence_input, check_state, check_step_input, linear_step};
use crate::step::{Detach, SpikingLayer, SpikingModel, StepModel, scan};

/// A layer of spiking neurons driven by an input projection `I_t = W_x x_t + b` (plus whatever
/// the layer adds itself, such as recurrent spikes).
///
/// A neuron defines its state, a fresh state and one step from the projected input current.
/// From those it gets, without code of its own:
///
/// - [`step_input`](Self::step_input): one step from the raw input, with shape checks that name
///   the layer;
/// - [`forward_sequence`](Self::forward_sequence): a whole `[batch, time, d_input]` sequence,
///   projecting the inputs of every step in one matrix product before the time loop;
/// - [`StepModel`] (so a single layer trains with FPTT or BPTT as it is) and [`SpikingModel`]
///   (its spike count and SynOps fan-out for the metrics);
/// - [`spiking_layer`](Self::spiking_layer): its entry in a larger model's
///   [`SpikingModel::spiking_layers`], with the recurrent fan-out counted.
///
/// [`Ltc`](super::Ltc), [`Lif`](super::Lif) and [`Alif`](super::Alif) implement it; a
/// neuron of your own does the same with the operations of [`crate::functional`].
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// let ltc = LtcConfig::new(3, 8).init(&device);
/// // The generic sequence forward and the single-layer SpikingModel, for any cell.
/// let (spikes, state) = ltc.forward_sequence(Tensor::<3>::ones([2, 5, 3], &device), None);
/// assert_eq!((spikes.dims(), state.step), ([2, 5, 8], 5));
/// let layer = ltc.spiking_layer("ltc1", 10);
/// assert_eq!((layer.neurons, layer.fan_out), (8, 10 + 8)); // the next layer and W_r
/// assert_eq!(ltc.spiking_layers()[0].name, "Ltc");
/// ```
pub trait SpikingCell: Module {
    /// The layer's name in error messages and metrics.
    const NAME: &'static str;
    /// What the layer carries from one step to the next.
    type State: Detach + Clone + Send + std::fmt::Debug;

    /// The input projection `W_x`, `[d_input, H]`, with its bias.
    fn input(&self) -> &Linear;

    /// Whether the layer's own spikes feed back into it (they then reach `H` more synapses).
    fn is_recurrent(&self) -> bool;

    /// A fresh state for `batch` samples.
    fn init_state(&self, batch: usize, device: &Device) -> Self::State;

    /// The state's tensors, named, each `[batch, H]` (for the shape checks).
    fn state_tensors(state: &Self::State) -> Vec<(&'static str, &Tensor<2>)>;

    /// The spikes of the last step in `state`, `[batch, H]`.
    fn spikes(state: &Self::State) -> Tensor<2>;

    /// One step from the projected input current `W_x x_t + b` (`[batch, H]`, already checked
    /// against the state): the spikes and the next state.
    fn step_current(&self, current: Tensor<2>, state: Self::State) -> (Tensor<2>, Self::State);

    /// Width of the input.
    fn d_input(&self) -> usize {
        self.input().weight.dims()[0]
    }

    /// Number of neurons `H`.
    fn d_hidden(&self) -> usize {
        self.input().weight.dims()[1]
    }

    /// One step from the raw input `x`, `[batch, d_input]`.
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, d_input]` or a state tensor is not `[batch, H]`, with the layer's
    /// name and the shapes.
    fn step_input(&self, x: Tensor<2>, state: Self::State) -> (Tensor<2>, Self::State) {
        check_step_input(Self::NAME, &x, self.d_input());
        let current = linear_step(self.input(), x);
        self.check_state_against(&current, &state);
        self.step_current(current, state)
    }

    /// A whole sequence `[batch, time, d_input]`: the spikes `[batch, time, H]` and the final
    /// state. `None` starts from [`init_state`](Self::init_state). The inputs of every step are
    /// projected with one matrix product before the time loop.
    ///
    /// # Panics
    ///
    /// When `x` is not `[batch, time >= 1, d_input]` or a state tensor is not `[batch, H]`.
    fn forward_sequence(
        &self,
        x: Tensor<3>,
        state: Option<Self::State>,
    ) -> (Tensor<3>, Self::State) {
        check_sequence_input(Self::NAME, &x, self.d_input());
        let state = state.unwrap_or_else(|| self.init_state(x.dims()[0], &x.device()));
        let currents = self.input().forward(x);
        scan(currents, state, |current, state| {
            self.check_state_against(&current, &state);
            self.step_current(current, state)
        })
    }

    /// This layer as an entry of [`SpikingModel::spiking_layers`]: its neurons, and a fan-out of
    /// `downstream` synapses (the next layer's width) plus `H` when it is recurrent.
    fn spiking_layer(&self, name: impl Into<String>, downstream: usize) -> SpikingLayer {
        let neurons = self.d_hidden();
        SpikingLayer {
            name: name.into(),
            neurons,
            fan_out: downstream + if self.is_recurrent() { neurons } else { 0 },
        }
    }

    /// Panics unless every state tensor is `[batch, H]` for the current's batch.
    #[doc(hidden)]
    fn check_state_against(&self, current: &Tensor<2>, state: &Self::State) {
        let [batch, hidden] = current.dims();
        for (name, tensor) in Self::state_tensors(state) {
            check_state(Self::NAME, name, tensor, batch, hidden);
        }
    }
}

/// A spiking layer on its own is a model the learners can drive: one step is
/// [`SpikingCell::step_input`], the output its spikes.
impl<C: SpikingCell> StepModel for C {
    type State = C::State;

    fn init_state(&self, batch: usize, device: &Device) -> Self::State {
        SpikingCell::init_state(self, batch, device)
    }

    fn step(&self, x: Tensor<2>, state: Self::State) -> (Tensor<2>, Self::State) {
        self.step_input(x, state)
    }
}

/// A layer on its own: one spiking layer named after its type, whose spikes reach only its own
/// recurrent synapses.
impl<C: SpikingCell> SpikingModel for C {
    fn spiking_layers(&self) -> Vec<SpikingLayer> {
        vec![self.spiking_layer(C::NAME, 0)]
    }

    fn spikes(&self, state: &Self::State) -> Vec<Tensor<2>> {
        vec![<C as SpikingCell>::spikes(state)]
    }
}
