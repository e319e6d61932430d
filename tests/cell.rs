//! A neuron written the way a user would, against the public API only: a current-based LIF
//! (a synaptic current between the input and the membrane) as a [`SpikingCell`], the library's
//! `CubaLif` written again from the outside. Its
//! definition is the state, a fresh state and one step; the sequence forward, the shape checks,
//! `StepModel`, `SpikingModel` and training with FPTT come from the trait. Expected values:
//! tools/reference_values.py (CUBA_*, numpy, float64).

mod common;

use burn::module::Module;
use burn::nn::Linear;
use burn::prelude::*;
use burn_fptt::functional::{blend, spike};
use burn_fptt::prelude::*;
use common::*;

// ---- the user's neuron: about 60 lines ----

/// `i = a_s i + (1 - a_s) I`, `v' = a_m v + (1 - a_m) i`, `s = [v' > θ]`, `v = (1 - s) v'`.
#[derive(Module, Debug)]
struct UserCubaLif {
    input: Linear,
    synapse_decay: f64,
    membrane_decay: f64,
    threshold: f64,
}

#[derive(Debug, Clone)]
struct CubaState {
    current: Tensor<2>,
    membrane: Tensor<2>,
    spikes: Tensor<2>,
}

impl Detach for CubaState {
    fn detach(self) -> Self {
        Self {
            current: self.current.detach(),
            membrane: self.membrane.detach(),
            spikes: self.spikes.detach(),
        }
    }
}

impl SpikingCell for UserCubaLif {
    const NAME: &'static str = "UserCubaLif";
    type State = CubaState;

    fn input(&self) -> &Linear {
        &self.input
    }

    fn is_recurrent(&self) -> bool {
        false
    }

    fn init_state(&self, batch: usize, device: &Device) -> CubaState {
        let zeros = || Tensor::zeros([batch, self.d_hidden()], device);
        CubaState {
            current: zeros(),
            membrane: zeros(),
            spikes: zeros(),
        }
    }

    fn state_tensors(state: &CubaState) -> Vec<(&'static str, &Tensor<2>)> {
        vec![
            ("current", &state.current),
            ("membrane", &state.membrane),
            ("spikes", &state.spikes),
        ]
    }

    fn spikes(state: &CubaState) -> Tensor<2> {
        state.spikes.clone()
    }

    fn step_current(&self, drive: Tensor<2>, state: CubaState) -> (Tensor<2>, CubaState) {
        let full = |value: f64| Tensor::full(drive.dims(), value, &drive.device());
        // a i + (1 - a) I, written as I + a (i - I).
        let current = blend(drive.clone(), state.current, full(self.synapse_decay));
        let pre = blend(current.clone(), state.membrane, full(self.membrane_decay));
        let spikes = spike(pre.clone() - self.threshold, &Surrogate::multi_gaussian());
        let membrane = pre.clone() - spikes.clone() * pre;
        let next = CubaState {
            current,
            membrane,
            spikes: spikes.clone(),
        };
        (spikes, next)
    }
}

// ---- the tests ----

fn reference_user_cuba(device: &Device) -> UserCubaLif {
    UserCubaLif {
        input: linear(WX, Some(BX), device),
        synapse_decay: 0.5,
        membrane_decay: 0.8,
        threshold: 0.1,
    }
}

const CUBA_SPIKES: [[[f64; 3]; 3]; 2] = [
    [[0.0, 0.0, 0.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]],
    [[0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0]],
];
const CUBA_I: [[f64; 3]; 2] = [[0.6125, 0.55625, -0.0125], [1.11875, -0.10625, 1.1125]];
const CUBA_V: [[f64; 3]; 2] = [[0.0, 0.0, -0.0025], [0.0, -0.02125, 0.0]];

#[test]
fn a_user_cell_gets_the_sequence_forward_from_the_trait() {
    let device = default_device();
    let cell = reference_user_cuba(&device);
    let (spikes, state) = cell.forward_sequence(cuba_inputs(&device), None);
    assert_close(spikes, CUBA_SPIKES, 0.0);
    assert_close(state.current, CUBA_I, 1e-6);
    assert_close(state.membrane, CUBA_V, 1e-6);
}

/// The user's cell and the library's `CubaLif` with the same weights agree.
#[test]
fn a_user_cell_matches_the_library_layer() {
    let device = default_device();
    let user = reference_user_cuba(&device);
    // The same weights and decays, 0.5 and 0.8.
    let library = reference_cuba_lif(false, &device);
    let (a, state_a) = user.forward_sequence(cuba_inputs(&device), None);
    let (b, state_b) = library.forward(cuba_inputs(&device), None);
    assert_eq!(values(a), values(b));
    assert_close(state_a.membrane, state_b.membrane.into_data(), 1e-6);
}

#[test]
fn a_user_cell_is_a_step_model_and_a_spiking_model() {
    let device = default_device();
    let cell = reference_user_cuba(&device);
    // StepModel::run steps through the raw inputs one by one: the same values as the forward.
    let (spikes, state) = cell.run(cuba_inputs(&device), None);
    assert_close(spikes, CUBA_SPIKES, 0.0);
    assert_close(state.current.clone(), CUBA_I, 1e-6);
    let layers = cell.spiking_layers();
    assert_eq!(
        layers,
        vec![SpikingLayer {
            name: "UserCubaLif".into(),
            neurons: 3,
            fan_out: 0
        }]
    );
    let mut spikes = cell.spikes(&state);
    assert_eq!(spikes.len(), 1);
    assert_eq!(values(spikes.remove(0)), values(state.spikes.clone()));
    assert_eq!(cell.spiking_layer("cuba1", 10).fan_out, 10);
}

#[test]
#[should_panic(expected = "UserCubaLif")]
fn a_user_cell_gets_shape_checks_that_name_it() {
    let device = default_device();
    let cell = reference_user_cuba(&device);
    let mut state = SpikingCell::init_state(&cell, 2, &device);
    state.current = Tensor::zeros([2, 5], &device);
    cell.step_input(Tensor::zeros([2, 2], &device), state);
}

/// The trait's StepModel is enough for the learners: FPTT trains the cell as a 3-class
/// classifier of its spikes and moves its weights.
#[test]
fn a_user_cell_trains_with_fptt() {
    let device = default_device().autodiff();
    let cell = reference_user_cuba(&device);
    let before = values(cell.input.weight.val());
    let classes = Tensor::<1, Int>::from_ints([0, 2], &device);
    let mut learner = SequenceLearner::new(
        cell,
        AdamaxConfig::new().init(),
        1e-2,
        FpttConfig::new().with_updates_per_sequence(Some(3)),
    )
    .unwrap();
    let stats = learner.train_batch(cuba_inputs(&device), classes).unwrap();
    assert_eq!(learner.updates(), 3);
    assert!(stats.loss.is_finite());
    assert_ne!(values(learner.model().input.weight.val()), before);
}
