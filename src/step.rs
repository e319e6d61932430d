//! One time step at a time: the [`StepModel`] trait that the learners drive, and [`Detach`] for
//! the states they carry between updates.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::error::{ConfigError, check};

/// Cuts a recurrent state from the autodiff graph that produced it, keeping its values.
///
/// FPTT detaches the state before every update, so no graph spans more than one chunk of time.
pub trait Detach {
    /// The same values, with no history.
    fn detach(self) -> Self;
}

impl<const D: usize> Detach for Tensor<D> {
    fn detach(self) -> Self {
        Tensor::detach(self)
    }
}

impl Detach for () {
    fn detach(self) -> Self {}
}

impl<T: Detach> Detach for Option<T> {
    fn detach(self) -> Self {
        self.map(Detach::detach)
    }
}

impl<T: Detach> Detach for Vec<T> {
    fn detach(self) -> Self {
        self.into_iter().map(Detach::detach).collect()
    }
}

macro_rules! detach_tuple {
    ($($name:ident),+) => {
        impl<$($name: Detach),+> Detach for ($($name,)+) {
            #[allow(non_snake_case)]
            fn detach(self) -> Self {
                let ($($name,)+) = self;
                ($($name.detach(),)+)
            }
        }
    };
}
detach_tuple!(A);
detach_tuple!(A, B);
detach_tuple!(A, B, C);
detach_tuple!(A, B, C, D);
detach_tuple!(A, B, C, D, E);

/// A recurrent model that advances one time step per call: the unit the FPTT and BPTT learners
/// drive over a sequence.
///
/// `step` maps the input of one step, `[batch, features]`, and the state to the model's output
/// for that step (class scores, `[batch, classes]`) and the next state.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// #[derive(Module, Debug)]
/// struct Net {
///     ltc: Ltc,
///     out: LtcReadout,
/// }
///
/// impl StepModel for Net {
///     type State = (LtcState, ReadoutState);
///
///     fn init_state(&self, batch: usize, device: &Device) -> Self::State {
///         (self.ltc.init_state(batch, device), self.out.init_state(batch, device))
///     }
///
///     fn step(&self, x: Tensor<2>, (ltc, out): Self::State) -> (Tensor<2>, Self::State) {
///         let (spikes, ltc) = self.ltc.step(x, ltc);
///         let (scores, out) = self.out.step(spikes, out);
///         (scores, (ltc, out))
///     }
/// }
///
/// let device = default_device();
/// let net = Net {
///     ltc: LtcConfig::new(1, 32).init(&device),
///     out: LtcReadoutConfig::new(32, 10).init(&device),
/// };
/// let x = Tensor::<3>::ones([4, 20, 1], &device);
/// let (scores, _state) = net.run(x, None);
/// assert_eq!(scores.dims(), [4, 20, 10]);
/// ```
pub trait StepModel: Module {
    /// Everything the model carries from one step to the next.
    type State: Detach + Clone + Send;

    /// A fresh state for `batch` samples.
    fn init_state(&self, batch: usize, device: &Device) -> Self::State;

    /// One time step: the input `[batch, features]` and state to the output and the next state.
    fn step(&self, x: Tensor<2>, state: Self::State) -> (Tensor<2>, Self::State);

    /// Runs every step of `x` (`[batch, time, features]`), returning the outputs stacked over
    /// time, `[batch, time, out]`, and the final state. `None` starts from
    /// [`init_state`](Self::init_state).
    ///
    /// # Panics
    ///
    /// When `x` has no time steps, or [`step`](Self::step) panics on its input.
    fn run(&self, x: Tensor<3>, state: Option<Self::State>) -> (Tensor<3>, Self::State) {
        let [batch, time, _] = x.dims();
        assert!(time >= 1, "StepModel::run: the input has 0 time steps");
        let state = state.unwrap_or_else(|| self.init_state(batch, &x.device()));
        scan(x, state, |x_t, state| self.step(x_t, state))
    }
}

/// One spiking layer of a [`SpikingModel`], for activity statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpikingLayer {
    /// Name shown in metrics and plots, such as `"ltc1"`.
    pub name: String,
    /// Number of neurons.
    pub neurons: usize,
    /// Synapses each spike of this layer drives: the widths of every weight matrix that takes
    /// the spikes as input (the next layer's input, the recurrent matrix). A spike costs this
    /// many synaptic operations.
    pub fan_out: usize,
}

/// A [`StepModel`] whose state exposes the spikes of its spiking layers: what the spike-rate
/// and synaptic-operation metrics and the spike raster read.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device();
/// let net = SpikingClassifierConfig::new(2, vec![8, 4], 3).init(&device);
/// let layers = net.spiking_layers();
/// // ltc1 drives ltc2's input (4) and its own recurrent matrix (8).
/// assert_eq!(layers[0].fan_out, 4 + 8);
/// let state = net.init_state(5, &device);
/// assert_eq!(net.spikes(&state)[1].dims(), [5, 4]);
/// ```
pub trait SpikingModel: StepModel {
    /// The spiking layers, input side first.
    fn spiking_layers(&self) -> Vec<SpikingLayer>;

    /// The spikes (`[batch, neurons]`, 0 or 1) of the last step in `state`, one tensor per
    /// layer of [`spiking_layers`](Self::spiking_layers), in the same order.
    fn spikes(&self, state: &Self::State) -> Vec<Tensor<2>>;
}

/// Step `t` of `x` (`[batch, time, width]`), as `[batch, width]`.
pub(crate) fn time_step(x: &Tensor<3>, t: usize) -> Tensor<2> {
    let [batch, _, width] = x.dims();
    x.clone()
        .slice([0..batch, t..t + 1, 0..width])
        .reshape([batch, width])
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

/// The chunk length of a rule that updates `updates` times per sequence of `length` steps
/// (`None`: at every step): `T / K` rounded up, the last chunk possibly shorter.
///
/// # Errors
///
/// When `length` is 0, or `updates` is 0 or exceeds `length` (named as `field`).
///
/// ```
/// use burn_fptt::rule::chunk_length_for_updates;
///
/// assert_eq!(chunk_length_for_updates(Some(8), 784, "K").unwrap(), 98);
/// assert_eq!(chunk_length_for_updates(None, 784, "K").unwrap(), 1);
/// assert!(chunk_length_for_updates(Some(10), 5, "K").is_err());
/// ```
pub fn chunk_length_for_updates(
    updates: Option<usize>,
    length: usize,
    field: &str,
) -> Result<usize, ConfigError> {
    check::positive_size("sequence length T", length)?;
    match updates {
        None => Ok(1),
        Some(k) => {
            check::positive_size(field, k)?;
            if k > length {
                return Err(ConfigError::new(
                    field,
                    k,
                    format!("must be at most the sequence length T = {length}"),
                ));
            }
            Ok(length.div_ceil(k))
        }
    }
}
