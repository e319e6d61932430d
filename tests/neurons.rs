//! Spiking layers and readouts against hand-built examples. Expected values come from
//! tools/reference_values.py (numpy, float64, independent of the crate).

mod common;

use burn::module::Module;
use burn::prelude::*;
use burn_fptt::prelude::*;
use common::*;

const TOL: f64 = 1e-5;

#[test]
fn feed_forward_ltc_step() {
    let device = default_device();
    let ltc = reference_ltc(LtcConfig::new(2, 3).with_recurrent(false), &device);
    let x = Tensor::<2>::from_floats([[1.0, 0.5], [-0.5, 2.0]], &device);
    let start = state(
        [[0.2, 0.6, 0.1], [0.9, 0.0, 0.4]],
        [[0.0; 3]; 2],
        [[0.1; 3]; 2],
        &device,
    );
    let (s, next) = ltc.step(x, start);
    assert_close(s.clone(), [[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]], 0.0);
    assert_close(next.spikes, [[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]], 0.0);
    assert_close(
        next.membrane,
        [[0.0, 0.0, 0.0], [0.0, 0.0, -0.0026534733]],
        TOL,
    );
    assert_close(
        next.adaptation,
        [
            [0.0516244281, 0.0589040434, 0.0485004498],
            [0.0394126332, 0.0432907095, 0.0526225909],
        ],
        TOL,
    );
}

fn recurrent_case(ltc: &Ltc, device: &Device) -> (Tensor<2>, LtcState) {
    let x = Tensor::<2>::from_floats([[2.0, 1.0], [0.5, 1.5]], device);
    let previous = state(
        [[0.0, 0.8, 0.0], [0.5, 0.0, 0.7]],
        [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]],
        [[0.3, 0.1, 0.5], [0.1, 0.4, 0.2]],
        device,
    );
    ltc.step(x, previous)
}

#[test]
fn recurrent_ltc_step_with_spikes_and_hard_reset() {
    let device = default_device();
    let ltc = reference_ltc(LtcConfig::new(2, 3), &device);
    let (s, next) = recurrent_case(&ltc, &device);
    assert_close(s, [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]], 0.0);
    assert_close(
        next.membrane,
        [[0.8653382136, 0.0, 0.0], [0.0, 0.5374298453, 0.2651303831]],
        TOL,
    );
    assert_close(
        next.adaptation,
        [
            [0.6272819855, 0.0715042106, 0.7275605538],
            [0.0456361313, 0.6700996016, 0.1032488562],
        ],
        TOL,
    );
}

#[test]
fn recurrent_ltc_step_with_soft_reset() {
    let device = default_device();
    let ltc = reference_ltc(LtcConfig::new(2, 3).with_reset(ResetMode::Soft), &device);
    let (s, next) = recurrent_case(&ltc, &device);
    assert_close(s, [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]], 0.0);
    assert_close(
        next.membrane,
        [
            [0.8653382136, 0.1992467771, 0.4742317789],
            [0.7587271176, 0.5374298453, 0.2651303831],
        ],
        TOL,
    );
}

/// `a = σ(k_m z_m)`, `r = σ(k_a z_a)` with `k_m = 2`, `k_a = 0.5` (tools/reference_values.py,
/// REC_SLOPE_*): a third neuron fires that the plain gates leave silent.
#[test]
fn gate_slopes_scale_the_gate_pre_activations() {
    let device = default_device();
    let mut ltc = reference_ltc(LtcConfig::new(2, 3).with_gate_slope(true), &device);
    ltc.membrane_gate = ltc.membrane_gate.with_slope(2.0);
    ltc.adaptation_gate = ltc.adaptation_gate.with_slope(0.5);
    let (s, next) = recurrent_case(&ltc, &device);
    assert_close(s, [[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]], 0.0);
    assert_close(
        next.membrane,
        [[1.0438698308, 0.0, 0.0], [0.0, 0.5744425168, 0.0]],
        TOL,
    );
    assert_close(
        next.adaptation,
        [
            [0.6386290033, 0.0613014176, 0.7387575876],
            [0.0478138946, 0.6850124875, 0.101624857],
        ],
        TOL,
    );
}

/// A layer built with gate slopes starts as the plain layer (k = 1, the same bits), has one
/// trainable scalar per gate that the loss reaches, and keeps them through a record.
#[test]
fn gate_slopes_start_at_one_train_and_are_saved() {
    let device = default_device().autodiff();
    device.seed(5);
    let plain = LtcConfig::new(2, 4).init(&device);
    let built = LtcConfig::new(2, 4).with_gate_slope(true).init(&device);
    assert_eq!(built.num_params(), plain.num_params() + 2);
    assert_eq!(values(built.membrane_gate.slope.unwrap().val()), vec![1.0]);
    // The plain layer's weights with slopes of 1.
    let sloped = Ltc {
        membrane_gate: plain.membrane_gate.clone().with_slope(1.0),
        adaptation_gate: plain.adaptation_gate.clone().with_slope(1.0),
        ..plain.clone()
    };
    let x = Tensor::<3>::random([3, 6, 2], burn::tensor::Distribution::Default, &device);
    let zero = |ltc: &Ltc| LtcState {
        membrane: Tensor::zeros([3, 4], &device),
        ..ltc.init_state(3, &device)
    };
    let (a, _) = plain.forward(x.clone(), Some(zero(&plain)));
    let (b, _) = sloped.forward(x.clone(), Some(zero(&sloped)));
    assert_eq!(values(a), values(b.clone()));
    let smooth = LtcConfig::new(2, 4)
        .with_gate_slope(true)
        .with_smooth_spikes(true)
        .init(&device);
    let (out, _) = smooth.forward(x, Some(zero(&smooth)));
    let grads = out.sum().backward();
    for gate in [&smooth.membrane_gate, &smooth.adaptation_gate] {
        let slope = gate.slope.as_ref().expect("a slope");
        let grad = values(slope.grad(&grads).expect("the slope is trained"));
        assert!(grad[0].is_finite() && grad[0] != 0.0, "{grad:?}");
    }
    let mut trained = sloped.clone();
    trained.membrane_gate = trained.membrane_gate.with_slope(1.75);
    let restored = LtcConfig::new(2, 4)
        .with_gate_slope(true)
        .init(&device)
        .load_record(trained.into_record());
    let slope = restored.membrane_gate.slope.expect("the slope is restored");
    assert_eq!(values(slope.val()), vec![1.75]);
    let readout = LtcReadoutConfig::new(4, 3);
    assert_eq!(
        readout
            .clone()
            .with_gate_slope(true)
            .init(&device)
            .num_params(),
        readout.init(&device).num_params() + 1
    );
    assert!(format!("{sloped}").contains("gate_slope: true"));
    assert!(format!("{plain}").contains("gate_slope: false"));
}

/// The batch-3 case of tools/reference_values.py (BN_*): the reference layer with per-step
/// normalisation of both drives, one step at t = 0 from a given state.
fn normalised_case(ltc: &Ltc, device: &Device) -> (Tensor<2>, LtcState) {
    let x = Tensor::<2>::from_floats([[2.0, 1.0], [0.5, 1.5], [-1.0, 0.5]], device);
    let start = LtcState {
        membrane: Tensor::from_floats([[0.0, 0.8, 0.0], [0.5, 0.0, 0.7], [0.2, 0.3, 0.1]], device),
        spikes: Tensor::from_floats([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]], device),
        adaptation: Tensor::from_floats(
            [[0.3, 0.1, 0.5], [0.1, 0.4, 0.2], [0.2, 0.2, 0.2]],
            device,
        ),
        step: 0,
    };
    ltc.step(x, start)
}

/// Row `row` of a normalisation's running statistics: (mean, variance).
fn running_row(norm: &Option<StepBatchNorm>, row: usize) -> (Vec<f64>, Vec<f64>) {
    let norm = norm.as_ref().expect("the layer normalises this drive");
    let row_of = |t: Tensor<2>| values(t.slice([row..row + 1, 0..3]));
    (
        row_of(norm.running_mean.value_sync()),
        row_of(norm.running_var.value_sync()),
    )
}

fn assert_values_close(actual: Vec<f64>, expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() <= tol, "{actual:?} vs {expected:?}");
    }
}

/// In training, `I_t = BN_t(W_x x_t + b) + BN_t(W_r s_{t-1})` with each drive standardised over
/// the batch and scaled by 0.1 (BN_TRAIN_*); step 0's running statistics, and only step 0's,
/// move towards the batch's (BN_RUNNING_*); the state's step advances.
#[test]
fn per_step_norm_standardises_both_drives_over_the_batch_in_training() {
    let device = default_device().autodiff();
    let ltc = reference_ltc(LtcConfig::new(2, 3).with_step_norm(Some(4)), &device);
    let (s, next) = normalised_case(&ltc, &device);
    assert_close(s, [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]], 0.0);
    assert_close(
        next.membrane,
        [
            [-0.0130925822, 0.0, 0.1624520612],
            [0.0, 0.1153524803, 0.0],
            [0.0840651171, 0.1089211718, -0.0283773779],
        ],
        TOL,
    );
    assert_close(
        next.adaptation,
        [
            [0.6424542976, 0.0516573932, 0.7405341576],
            [0.0485094072, 0.6884800484, 0.1033087346],
            [0.5906983967, 0.6026314585, 0.0984020453],
        ],
        TOL,
    );
    assert_eq!(next.step, 1);
    let (mean, var) = running_row(&ltc.input_norm, 0);
    assert_values_close(mean, &[0.055, 0.055, -0.01], TOL);
    assert_values_close(var, &[0.96475, 0.91675, 1.024], TOL);
    let (mean, var) = running_row(&ltc.recurrent_norm, 0);
    assert_values_close(mean, &[0.0433333333, -0.0133333333, 0.0366666667], TOL);
    assert_values_close(var, &[0.9223333333, 0.9063333333, 0.9543333333], TOL);
    let (mean, var) = running_row(&ltc.input_norm, 1);
    assert_values_close(mean, &[0.0; 3], 0.0);
    assert_values_close(var, &[1.0; 3], 0.0);
}

/// Out of training (`valid()`, no autodiff), step 0 uses its running statistics (BN_EVAL_*),
/// and a saved record brings them back.
#[test]
fn per_step_norm_uses_the_running_statistics_in_evaluation_and_records_keep_them() {
    let device = default_device().autodiff();
    let config = LtcConfig::new(2, 3).with_step_norm(Some(4));
    let trained = reference_ltc(config.clone(), &device);
    normalised_case(&trained, &device);
    let plain = trained.valid();
    let inner = plain.input.weight.val().device();
    let expected_membrane = [
        [0.0617447217, 0.0, 0.1351388557],
        [0.0, 0.0516072839, 0.0],
        [0.120828981, 0.1642466556, -0.0014805501],
    ];
    let (s, next) = normalised_case(&plain, &inner);
    assert_close(s, [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]], 0.0);
    assert_close(next.membrane, expected_membrane, TOL);
    assert_close(
        next.adaptation,
        [
            [0.6460619724, 0.0520238471, 0.7399037632],
            [0.0495451814, 0.6838392569, 0.1021441259],
            [0.5964388231, 0.5963681843, 0.0994958931],
        ],
        TOL,
    );
    let loaded = config
        .init(&inner)
        .load_record(trained.clone().into_record())
        .valid();
    let (_, again) = normalised_case(&loaded, &inner);
    assert_close(again.membrane, expected_membrane, TOL);
}

/// The state carries the time index: a sequence run in two calls normalises each step with the
/// statistics of its own index, as one call does.
#[test]
fn the_step_index_carries_across_calls() {
    let device = default_device().autodiff();
    device.seed(3);
    let ltc = LtcConfig::new(2, 4)
        .with_step_norm(Some(6))
        .with_initial_membrane(InitialMembrane::Zeros)
        .init(&device);
    let x = Tensor::<3>::random([5, 6, 2], burn::tensor::Distribution::Default, &device) * 4.0;
    let (whole, end) = ltc.forward(x.clone(), None);
    let (first, middle) = ltc.forward(x.clone().slice([0..5, 0..4, 0..2]), None);
    assert_eq!(middle.step, 4);
    let (second, split_end) = ltc.forward(x.slice([0..5, 4..6, 0..2]), Some(middle.detach()));
    assert_eq!((end.step, split_end.step), (6, 6));
    assert_eq!(values(whole), values(Tensor::cat(vec![first, second], 1)));
    assert_eq!(values(end.membrane), values(split_end.membrane));
}

/// The readout's drive, normalised per step (READOUT_BN_M): one step from `m = 0`.
#[test]
fn readout_step_norm_standardises_the_drive() {
    let device = default_device().autodiff();
    let mut readout = LtcReadoutConfig::new(3, 2)
        .with_step_norm(Some(2))
        .init(&device);
    let reference = reference_readout(&device);
    readout.output = reference.output;
    readout.gate = reference.gate;
    let x = Tensor::<2>::from_floats([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0]], &device);
    let (m, state) = readout.step(x, readout.init_state(3, &device));
    assert_close(
        m,
        [
            [-0.0237125725, -0.0616130433],
            [-0.0460518073, 0.0728912645],
            [0.0704165441, -0.0088436647],
        ],
        TOL,
    );
    assert_eq!(state.step, 1);
}

/// tools/reference_values.py, CUBA_* and CUBA_REC_*.
#[test]
fn cuba_lif_sequence() {
    let device = default_device();
    let (s, state) = reference_cuba_lif(false, &device).forward(cuba_inputs(&device), None);
    assert_close(
        s,
        [
            [[0.0, 0.0, 0.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]],
            [[0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0]],
        ],
        0.0,
    );
    assert_close(
        state.current,
        [[0.6125, 0.55625, -0.0125], [1.11875, -0.10625, 1.1125]],
        TOL,
    );
    assert_close(
        state.membrane,
        [[0.0, 0.0, -0.0025], [0.0, -0.02125, 0.0]],
        TOL,
    );
    let (s, state) = reference_cuba_lif(true, &device).forward(cuba_inputs(&device), None);
    assert_close(
        s,
        [
            [[0.0, 0.0, 0.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]],
            [[0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0]],
        ],
        0.0,
    );
    assert_close(
        state.current,
        [[0.5625, 0.50625, 0.5875], [1.66875, -0.28125, 1.1125]],
        TOL,
    );
    assert_close(state.membrane, [[0.0, 0.0, 0.0], [0.0, -0.05625, 0.0]], TOL);
}

/// A saved CubaLif comes back with its time constants; the display names its settings; a
/// state of the wrong width names the layer and the tensor.
#[test]
fn cuba_lif_records_display_and_shape_errors() {
    let device = default_device();
    let cuba = reference_cuba_lif(true, &device);
    let loaded = CubaLifConfig::new(2, 3)
        .init(&device)
        .load_record(cuba.clone().into_record());
    assert_eq!(values(loaded.tau_syn.val()), values(cuba.tau_syn.val()));
    let (a, _) = cuba.forward(cuba_inputs(&device), None);
    let (b, _) = loaded.forward(cuba_inputs(&device), None);
    assert_eq!(values(a), values(b));
    let shown = format!("{cuba}");
    assert!(
        shown.contains("CubaLif") && shown.contains("d_hidden: 3") && shown.contains("params: 24"),
        "{shown}"
    );
    let mut state = cuba.init_state(2, &device);
    state.current = Tensor::zeros([2, 4], &device);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cuba.step(Tensor::zeros([2, 2], &device), state)
    }));
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.contains("CubaLif") && message.contains("current"),
        "{message}"
    );
}

#[test]
fn zero_adaptation_keeps_the_base_threshold() {
    let device = default_device();
    let ltc = reference_ltc(LtcConfig::new(2, 3).with_adaptation(0.0), &device);
    let (s, next) = recurrent_case(&ltc, &device);
    assert_close(s, [[1.0; 3]; 2], 0.0);
    assert_close(next.membrane, [[0.0; 3]; 2], TOL);
}

#[test]
fn five_step_recurrent_sequence() {
    let device = default_device();
    let ltc = reference_ltc(LtcConfig::new(2, 3), &device);
    let x = Tensor::<3>::from_floats(
        [
            [[1.0, 0.0], [0.5, 0.5], [2.0, -1.0], [0.0, 1.5], [1.0, 1.0]],
            [[-1.0, 2.0], [0.0, 0.0], [1.5, 1.5], [0.3, -0.2], [2.0, 0.5]],
        ],
        &device,
    );
    let start = state(
        [[0.2, 0.6, 0.1], [0.9, 0.0, 0.4]],
        [[0.0; 3]; 2],
        [[0.1; 3]; 2],
        &device,
    );
    let (spikes, last) = ltc.forward(x, Some(start));
    assert_close(
        spikes,
        [
            [
                [1., 0., 1.],
                [0., 0., 0.],
                [1., 0., 1.],
                [0., 1., 0.],
                [1., 0., 0.],
            ],
            [
                [1., 1., 0.],
                [0., 0., 0.],
                [1., 0., 1.],
                [0., 0., 1.],
                [0., 0., 1.],
            ],
        ],
        0.0,
    );
    assert_close(
        last.membrane,
        [
            [0.0, 0.2391332661, 0.1677009463],
            [0.6275903328, 0.0626939143, 0.0],
        ],
        TOL,
    );
    assert_close(
        last.adaptation,
        [
            [0.3629353875, 0.4745025791, 0.3005027062],
            [0.3109738458, 0.1104863494, 0.7201039822],
        ],
        TOL,
    );
}

const READOUT_X: [[[f64; 3]; 3]; 2] = [
    [[1., 0., 1.], [0., 1., 1.], [1., 1., 0.]],
    [[0., 0., 1.], [1., 0., 0.], [0., 1., 0.]],
];

#[test]
fn ltc_readout_sequence() {
    let device = default_device();
    let readout = reference_readout(&device);
    let (m, last) = readout.forward(Tensor::from_floats(READOUT_X, &device), None);
    let expected = [
        [
            [0.0, 0.11292725836],
            [-0.12218930942, 0.80981416134],
            [0.52016886457, 0.69295233942],
        ],
        [
            [-0.25749775081, 0.23658359137],
            [0.19591079098, 0.023611482005],
            [0.31628459826, 0.50650861972],
        ],
    ];
    assert_close(m, expected, TOL);
    assert_close(last.potential, [expected[0][2], expected[1][2]], TOL);
}

#[test]
fn leaky_readout_sequence() {
    let device = default_device();
    let mut readout = LeakyReadoutConfig::new(3, 2).init(&device);
    readout.output = linear(WO, Some(BO), &device);
    readout.tau = burn::module::Param::from_tensor(Tensor::from_floats([2.0, 5.0], &device));
    let (m, _) = readout.forward(Tensor::from_floats(READOUT_X, &device), None);
    let expected = [
        [
            [0.0, 0.036253849384],
            [-0.078693868057, 0.24720523771],
            [0.30639216255, 0.31115607859],
        ],
        [
            [-0.19673467014, 0.072507698769],
            [0.1167559949, 0.023110433433],
            [0.22820382673, 0.16393662011],
        ],
    ];
    assert_close(m, expected, TOL);
}

const LIF_X: [[[f64; 2]; 4]; 2] = [
    [[1.0, 0.5], [2.0, 1.0], [0.0, 0.0], [1.5, 2.0]],
    [[0.5, 0.5], [3.0, -1.0], [1.0, 1.0], [0.0, 2.0]],
];

#[test]
fn lif_sequence() {
    let device = default_device();
    let mut lif = LifConfig::new(2, 3).init(&device);
    lif.input = linear(WX, Some(BX), &device);
    lif.recurrent = Some(linear(WR, None, &device));
    lif.tau_mem = burn::module::Param::from_tensor(Tensor::from_floats([2.0, 4.0, 8.0], &device));
    let (spikes, last) = lif.forward(Tensor::from_floats(LIF_X, &device), None);
    assert_close(
        spikes,
        [
            [[1., 0., 0.], [1., 0., 1.], [0., 0., 1.], [1., 1., 1.]],
            [[1., 0., 0.], [1., 0., 1.], [1., 0., 1.], [1., 0., 0.]],
        ],
        0.0,
    );
    assert_close(
        last.membrane,
        [[0.0, 0.0, 0.0], [0.0, 0.0783928167, 0.0352509292]],
        TOL,
    );
}

#[test]
fn alif_sequence() {
    let device = default_device();
    let mut alif = AlifConfig::new(2, 3).init(&device);
    alif.input = linear(WX, Some(BX), &device);
    alif.recurrent = Some(linear(WR, None, &device));
    alif.tau_mem = burn::module::Param::from_tensor(Tensor::from_floats([2.0, 4.0, 8.0], &device));
    alif.tau_adaptation =
        burn::module::Param::from_tensor(Tensor::from_floats([3.0, 10.0, 30.0], &device));
    let (spikes, last) = alif.forward(Tensor::from_floats(LIF_X, &device), None);
    assert_close(
        spikes,
        [
            [[1., 0., 0.], [0., 0., 1.], [0., 0., 0.], [1., 1., 0.]],
            [[1., 0., 0.], [1., 0., 1.], [0., 0., 1.], [0., 1., 0.]],
        ],
        0.0,
    );
    assert_close(
        last.membrane,
        [[0.0, 0.0, 0.1182078248], [0.245749721, 0.0, 0.0]],
        TOL,
    );
    assert_close(
        last.adaptation,
        [
            [0.1455376779, 0.0, 0.0317091155],
            [0.3486518694, 0.0, 0.064493015],
        ],
        TOL,
    );
}

#[test]
fn ltc_initialisation_follows_the_specification() {
    let device = default_device();
    device.seed(7);
    let ltc = LtcConfig::new(5, 64).init(&device);
    // Biases are zero, W_r has none and is orthogonal: W_r^T W_r = I.
    for bias in [
        &ltc.input.bias,
        &ltc.membrane_gate.bias,
        &ltc.adaptation_gate.bias,
    ] {
        assert!(
            values(bias.as_ref().unwrap().val())
                .iter()
                .all(|&b| b == 0.0)
        );
    }
    let recurrent = ltc.recurrent.as_ref().unwrap();
    assert!(recurrent.bias.is_none());
    let w = recurrent.weight.val();
    assert_close(
        w.clone().transpose().matmul(w),
        Tensor::<2>::eye(64, &device).into_data(),
        1e-4,
    );
    // Xavier normal: std = sqrt(2 / (fan_in + fan_out)) = sqrt(2 / 192) for W_m.
    let wm = values(ltc.membrane_gate.weight());
    let mean = wm.iter().sum::<f64>() / wm.len() as f64;
    let std = (wm.iter().map(|w| (w - mean).powi(2)).sum::<f64>() / wm.len() as f64).sqrt();
    let expected = (2.0f64 / 192.0).sqrt();
    assert!(
        (std - expected).abs() < 0.05 * expected,
        "std {std}, expected {expected}"
    );
    assert!(mean.abs() < 0.01, "mean {mean}");
    // Fresh state: u ~ U[0, 1), s = 0, b = b0.
    let fresh = ltc.init_state(32, &device);
    let u = values(fresh.membrane);
    assert!(u.iter().all(|&u| (0.0..1.0).contains(&u)));
    let u_mean = u.iter().sum::<f64>() / u.len() as f64;
    assert!((u_mean - 0.5).abs() < 0.02, "mean of U[0,1) draws {u_mean}");
    assert!(values(fresh.spikes).iter().all(|&s| s == 0.0));
    assert!(
        values(fresh.adaptation)
            .iter()
            .all(|&b| (b - 0.1).abs() < 1e-7)
    );
    let zeros = LtcConfig::new(5, 8)
        .with_initial_membrane(InitialMembrane::Zeros)
        .init(&device)
        .init_state(3, &device);
    assert!(values(zeros.membrane).iter().all(|&u| u == 0.0));
}

#[test]
fn invalid_configs_name_the_field_and_value() {
    let cases: Vec<(Result<(), ConfigError>, &str, &str)> = vec![
        (LtcConfig::new(0, 4).validate(), "LtcConfig.d_input", "0"),
        (LtcConfig::new(2, 0).validate(), "LtcConfig.d_hidden", "0"),
        (
            LtcConfig::new(2, 4).with_base_threshold(-0.1).validate(),
            "LtcConfig.base_threshold",
            "-0.1",
        ),
        (
            LtcConfig::new(2, 4).with_adaptation(f64::NAN).validate(),
            "LtcConfig.adaptation",
            "NaN",
        ),
        (
            LtcConfig::new(2, 4)
                .with_surrogate(Surrogate::Triangle { width: -1.0 })
                .validate(),
            "Surrogate::Triangle.width",
            "-1",
        ),
        (
            LifConfig::new(2, 4).with_tau_mem(0.0).validate(),
            "LifConfig.tau_mem",
            "0",
        ),
        (
            LifConfig::new(2, 4)
                .with_threshold(f64::INFINITY)
                .validate(),
            "LifConfig.threshold",
            "inf",
        ),
        (
            AlifConfig::new(2, 4).with_tau_adaptation(-5.0).validate(),
            "AlifConfig.tau_adaptation",
            "-5",
        ),
        (
            AlifConfig::new(2, 4).with_tau_mem_std(-1.0).validate(),
            "AlifConfig.tau_mem_std",
            "-1",
        ),
        (
            LtcReadoutConfig::new(4, 0).validate(),
            "LtcReadoutConfig.d_output",
            "0",
        ),
        (
            LtcConfig::new(2, 4).with_step_norm(Some(0)).validate(),
            "LtcConfig.step_norm",
            "0",
        ),
        (
            LtcReadoutConfig::new(4, 2)
                .with_step_norm(Some(0))
                .validate(),
            "LtcReadoutConfig.step_norm",
            "0",
        ),
        (
            SpikingClassifierConfig::new(1, vec![4], 2)
                .with_step_norm(Some(0))
                .validate(),
            "SpikingClassifierConfig.step_norm",
            "0",
        ),
        (
            CubaLifConfig::new(2, 4).with_tau_syn(0.0).validate(),
            "CubaLifConfig.tau_syn",
            "0",
        ),
        (
            CubaLifConfig::new(2, 4).with_tau_std(-1.0).validate(),
            "CubaLifConfig.tau_std",
            "-1",
        ),
        (
            LeakyReadoutConfig::new(4, 2).with_tau(f64::NAN).validate(),
            "LeakyReadoutConfig.tau",
            "NaN",
        ),
    ];
    for (result, field, value) in cases {
        let err = result.expect_err(field);
        assert_eq!(err.field(), field);
        assert_eq!(err.value(), value);
        assert!(
            err.to_string().contains(field) && err.to_string().contains(value),
            "{err}"
        );
    }
    let device = default_device();
    let err = LtcConfig::new(0, 4).try_init(&device).unwrap_err();
    assert_eq!(err.field(), "LtcConfig.d_input");
}

#[test]
#[should_panic(expected = "invalid LtcConfig.d_hidden = 0")]
fn init_panics_on_an_invalid_config() {
    LtcConfig::new(3, 0).init(&default_device());
}

#[test]
#[should_panic(expected = "Ltc::step: input must be [batch, 2], got [4, 3]")]
fn wrong_step_width_names_the_layer_and_shapes() {
    let device = default_device();
    let ltc = LtcConfig::new(2, 3).init(&device);
    let state = ltc.init_state(4, &device);
    ltc.step(Tensor::zeros([4, 3], &device), state);
}

#[test]
#[should_panic(expected = "Lif::forward: input must be [batch, time, 2], got [4, 5, 3]")]
fn wrong_sequence_width_names_the_layer_and_shapes() {
    let device = default_device();
    LifConfig::new(2, 3)
        .init(&device)
        .forward(Tensor::zeros([4, 5, 3], &device), None);
}

#[test]
#[should_panic(expected = "Alif::forward: input has 0 time steps")]
fn empty_sequence_is_rejected() {
    let device = default_device();
    AlifConfig::new(2, 3)
        .init(&device)
        .forward(Tensor::zeros([4, 0, 2], &device), None);
}

#[test]
#[should_panic(
    expected = "Ltc: state `membrane` must be [batch = 4, hidden = 3] to match the input, got [2, 3]"
)]
fn state_batch_mismatch_is_rejected() {
    let device = default_device();
    let ltc = LtcConfig::new(2, 3).init(&device);
    let state = ltc.init_state(2, &device);
    ltc.step(Tensor::zeros([4, 2], &device), state);
}

#[test]
#[should_panic(expected = "LtcReadout::step: input must be [batch, 3], got [2, 5]")]
fn readout_width_is_checked() {
    let device = default_device();
    let readout = LtcReadoutConfig::new(3, 2).init(&device);
    let state = readout.init_state(2, &device);
    readout.step(Tensor::zeros([2, 5], &device), state);
}

#[test]
fn layers_display_their_settings() {
    let device = default_device();
    let ltc = format!("{}", LtcConfig::new(2, 3).init(&device));
    for part in [
        "Ltc",
        "d_input: 2",
        "d_hidden: 3",
        "recurrent: true",
        "base_threshold: 0.1",
        "adaptation: 1.8",
        "Hard",
        "MultiGaussian",
    ] {
        assert!(ltc.contains(part), "`{part}` missing from {ltc}");
    }
    // 2*3+3 (W_x) + 3*3 (W_r) + 2 * (6*3+3) (W_m, W_a) = 60 parameters.
    assert!(ltc.contains("params: 60"), "{ltc}");
    let lif = format!(
        "{}",
        LifConfig::new(2, 3)
            .with_reset(ResetMode::Soft)
            .init(&device)
    );
    assert!(
        lif.contains("Lif") && lif.contains("threshold: 0.1") && lif.contains("Soft"),
        "{lif}"
    );
    let readout = format!("{}", LtcReadoutConfig::new(3, 2).init(&device));
    assert!(
        readout.contains("d_output: 2") && readout.contains("params: 18"),
        "{readout}"
    );
}

#[test]
fn configs_round_trip_through_json() {
    let config = LtcConfig::new(2, 3)
        .with_reset(ResetMode::Soft)
        .with_surrogate(Surrogate::ArcTan { alpha: 3.0 })
        .with_adaptation(0.5);
    let json = serde_json::to_string(&config).unwrap();
    let back: LtcConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back.reset, ResetMode::Soft);
    assert_eq!(back.surrogate, Surrogate::ArcTan { alpha: 3.0 });
    assert_eq!(back.adaptation, 0.5);
}
