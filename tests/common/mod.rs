//! Helpers shared by the integration tests.
#![allow(dead_code)]

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Tolerance;
use burn_fptt::prelude::*;

/// A Linear layer with the given `[in, out]` weight and bias.
pub fn linear<const I: usize, const O: usize>(
    weight: [[f64; O]; I],
    bias: Option<[f64; O]>,
    device: &Device,
) -> Linear {
    Linear {
        weight: Param::from_tensor(Tensor::<2>::from_floats(weight, device)),
        bias: bias.map(|b| Param::from_tensor(Tensor::<1>::from_floats(b, device))),
    }
}

/// Asserts that `actual` equals `expected` element-wise within `tol` (absolute, and relative to
/// the expected magnitude).
pub fn assert_close<const D: usize>(actual: Tensor<D>, expected: impl Into<TensorData>, tol: f64) {
    let expected: TensorData = expected.into();
    actual
        .into_data()
        .convert::<f32>()
        .assert_approx_eq::<f32>(&expected.convert::<f32>(), Tolerance::rel_abs(tol, tol));
}

/// The values of a tensor as f64.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().try_into_vec_as::<f64>().unwrap()
}

// The hand-built LTC example of tools/reference_values.py: 2 inputs, 3 neurons.
pub const WX: [[f64; 3]; 2] = [[0.5, -0.3, 0.8], [0.2, 0.7, -0.4]];
pub const BX: [f64; 3] = [0.1, 0.0, -0.1];
pub const WM: [[f64; 3]; 6] = [
    [0.3, -0.2, 0.1],
    [0.0, 0.4, -0.3],
    [0.2, 0.1, 0.5],
    [-0.5, 0.2, 0.0],
    [0.1, -0.1, 0.3],
    [0.4, 0.0, -0.2],
];
pub const BM: [f64; 3] = [0.05, -0.05, 0.0];
pub const WA: [[f64; 3]; 6] = [
    [0.1, 0.2, -0.1],
    [-0.3, 0.0, 0.2],
    [0.0, 0.3, 0.1],
    [0.2, -0.4, 0.0],
    [0.0, 0.1, 0.2],
    [-0.1, 0.0, 0.3],
];
pub const BA: [f64; 3] = [0.0, 0.1, -0.1];
pub const WR: [[f64; 3]; 3] = [[0.2, -0.5, 0.3], [0.6, 0.1, -0.2], [-0.3, 0.4, 0.9]];

/// The reference LTC layer: built from its config, then given the fixed weights.
pub fn reference_ltc(config: LtcConfig, device: &Device) -> Ltc {
    let mut ltc = config.init(device);
    ltc.input = linear(WX, Some(BX), device);
    ltc.membrane_gate = Gate::from_linear(linear(WM, Some(BM), device), 3);
    ltc.adaptation_gate = Gate::from_linear(linear(WA, Some(BA), device), 3);
    if ltc.recurrent.is_some() {
        ltc.recurrent = Some(linear(WR, None, device));
    }
    ltc
}

/// The reference current-based LIF (tools/reference_values.py, CUBA_*): `W_x`, `b` (and `W_r`)
/// of the LTC example, decays `α_s = 0.5`, `α_m = 0.8` (`τ = -1 / ln α`), threshold 0.1, hard
/// reset, from rest.
pub fn reference_cuba_lif(recurrent: bool, device: &Device) -> CubaLif {
    let mut cuba = CubaLifConfig::new(2, 3)
        .with_recurrent(recurrent)
        .init(device);
    cuba.input = linear(WX, Some(BX), device);
    if recurrent {
        cuba.recurrent = Some(linear(WR, None, device));
    }
    let tau = |decay: f64| Param::from_tensor(Tensor::<1>::full([3], -1.0 / decay.ln(), device));
    cuba.tau_syn = tau(0.5);
    cuba.tau_mem = tau(0.8);
    cuba
}

/// The CUBA_* inputs: batch 2, 3 steps, 2 features.
pub fn cuba_inputs(device: &Device) -> Tensor<3> {
    Tensor::from_floats(
        [
            [[1.0, 0.5], [2.0, 1.0], [0.0, 1.5]],
            [[-0.5, 2.0], [1.5, 1.5], [3.0, 0.0]],
        ],
        device,
    )
}

// The readout example: 3 inputs, 2 classes.
pub const WO: [[f64; 2]; 3] = [[0.5, -0.2], [0.3, 0.8], [-0.6, 0.4]];
pub const BO: [f64; 2] = [0.1, 0.0];
pub const WK: [[f64; 2]; 4] = [[0.2, -0.1], [0.4, 0.3], [-0.2, 0.5], [0.1, 0.0]];
pub const BK: [f64; 2] = [0.0, 0.2];

pub fn reference_readout(device: &Device) -> LtcReadout {
    let mut readout = LtcReadoutConfig::new(3, 2).init(device);
    readout.output = linear(WO, Some(BO), device);
    readout.gate = Gate::from_linear(linear(WK, Some(BK), device), 2);
    readout
}

/// A state from explicit `[2, 3]` arrays.
pub fn state(u: [[f64; 3]; 2], s: [[f64; 3]; 2], b: [[f64; 3]; 2], device: &Device) -> LtcState {
    LtcState {
        membrane: Tensor::from_floats(u, device),
        spikes: Tensor::from_floats(s, device),
        adaptation: Tensor::from_floats(b, device),
        step: 0,
    }
}

/// A CPU device for tests too heavy for a software GPU driver.
pub fn cpu_device() -> Device {
    let name = if cfg!(feature = "ndarray") {
        "ndarray"
    } else {
        "flex"
    };
    device_by_name(name).unwrap()
}

/// A stateless model, `scores_t = x_t W (+ b)`, for checking what the learners do per step.
#[derive(burn::module::Module, Debug)]
pub struct LinearStep {
    pub linear: Linear,
}

impl StepModel for LinearStep {
    type State = ();
    fn init_state(&self, _batch: usize, _device: &Device) {}
    fn step(&self, x: Tensor<2>, state: ()) -> (Tensor<2>, ()) {
        (self.linear.forward(x), state)
    }
}

/// The binary of example `name`, which `cargo test --release` builds beside the tests (with the
/// example's required features enabled).
///
/// # Panics
///
/// When it was not built.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let release = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = release.join("examples").join(name);
    assert!(
        binary.is_file(),
        "{} is missing: `cargo test --release` (with the example's features) builds the examples",
        binary.display()
    );
    binary
}

// The ConvLtc example of tools/reference_values.py (conv_ltc).

/// `((i * step % modulus) - shift) / scale` for i in 0..n, as the numpy reference builds its
/// weights and inputs.
pub fn pattern(n: usize, step: usize, modulus: usize, shift: f64, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * step % modulus) as f64 - shift) / scale)
        .collect()
}

fn tensor_from<const D: usize>(values: Vec<f64>, shape: [usize; D], device: &Device) -> Tensor<D> {
    let n = values.len();
    Tensor::<1>::from_data(TensorData::new(values, [n]), device).reshape(shape)
}

/// The reference layer: 1 -> 2 channels on 3 x 3 frames (or 1 -> 1 on 4 x 4, pooled by 2).
pub fn reference_conv(pooled: bool, device: &Device) -> ConvLtc {
    let (channels, side, pool) = if pooled {
        (1, 4, Some(2))
    } else {
        (2, 3, None)
    };
    let mut conv = ConvLtcConfig::new(1, channels, side, side)
        .with_pool(pool)
        .init(device);
    let wx = pattern(18, 7, 11, 5.0, 8.0);
    let wt = pattern(36, 5, 13, 6.0, 10.0);
    if pooled {
        conv.input.weight = Param::from_tensor(tensor_from(wx[..9].to_vec(), [1, 1, 3, 3], device));
        conv.input.bias = Some(Param::from_tensor(tensor_from(vec![0.3], [1], device)));
        conv.membrane_gate.weight =
            Param::from_tensor(tensor_from(wt[..9].to_vec(), [1, 1, 3, 3], device));
        conv.membrane_gate.bias = Some(Param::from_tensor(tensor_from(vec![-0.1], [1], device)));
    } else {
        conv.input.weight = Param::from_tensor(tensor_from(wx, [2, 1, 3, 3], device));
        conv.input.bias = Some(Param::from_tensor(tensor_from(
            vec![0.1, -0.1],
            [2],
            device,
        )));
        conv.membrane_gate.weight = Param::from_tensor(tensor_from(wt, [2, 2, 3, 3], device));
        conv.membrane_gate.bias =
            Some(Param::from_tensor(tensor_from(vec![0.0, 0.2], [2], device)));
    }
    conv
}

/// The reference inputs: step t is `((i (t + 3) % 7) - 2) / 2` over 9 pixels (or
/// `((i (t + 2) % 5) - 1) / 1.5` over 16 when pooled).
pub fn reference_conv_input(pooled: bool, device: &Device) -> Tensor<3> {
    let (pixels, steps) = if pooled { (16, 2) } else { (9, 3) };
    let values: Vec<f64> = (0..steps)
        .flat_map(|t| {
            if pooled {
                pattern(pixels, t + 2, 5, 1.0, 1.5)
            } else {
                pattern(pixels, t + 3, 7, 2.0, 2.0)
            }
        })
        .collect();
    tensor_from(values, [1, steps, pixels], device)
}
