//! The convolutional LTC layer against tools/reference_values.py (numpy, float64: conv_ltc),
//! float64 central differences for every parameter, records, display, shape and config errors.

mod common;

use burn::prelude::*;
use burn_fptt::prelude::*;
use common::{assert_close, reference_conv, reference_conv_input as reference_input, values};

// tools/reference_values.py: CONV_SPIKES, CONV_U, CONV_POOL_SPIKES, CONV_POOL_U.
#[rustfmt::skip]
const CONV_SPIKES: [[f64; 18]; 3] = [
    [0., 0., 1., 0., 1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 0., 0., 0., 0.],
    [0., 0., 1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 1., 0., 0., 0., 0.],
    [0., 0., 1., 0., 0., 0., 0., 0., 0., 1., 0., 0., 0., 0., 0., 0., 0., 0.],
];
#[rustfmt::skip]
const CONV_U: [f64; 18] = [
    -0.3368271326, -1.2244727278, 0.0, -0.7842738768, -0.1047872211, -0.0641634625, 0.0386993333,
    -0.3555352543, -0.8720803057, 0.0, -0.6284421558, -0.0752093774, -0.175175733, 0.0570881066,
    -0.1630295377, -1.1643041021, 0.1501462012, -0.3351105448,
];
const CONV_POOL_SPIKES: [[f64; 4]; 2] = [[0., 0., 0., 0.], [0., 0., 0., 1.]];
const CONV_POOL_U: [f64; 4] = [0.2230288292, 0.1553324411, 0.0120425921, 0.0];

#[test]
fn a_sequence_matches_the_numpy_reference() {
    let device = default_device();
    let conv = reference_conv(false, &device);
    let (spikes, state) = conv.forward(reference_input(false, &device), None);
    assert_close(spikes, TensorData::from([CONV_SPIKES]), 1e-6);
    assert_close(state.membrane, TensorData::from([CONV_U]), 1e-5);
}

#[test]
fn a_pooled_sequence_matches_the_numpy_reference() {
    let device = default_device();
    let conv = reference_conv(true, &device);
    assert_eq!(
        (conv.d_input(), conv.d_output(), conv.output_shape()),
        (16, 4, [1, 2, 2])
    );
    let (spikes, state) = conv.forward(reference_input(true, &device), None);
    assert_close(spikes, TensorData::from([CONV_POOL_SPIKES]), 1e-6);
    assert_close(state.membrane, TensorData::from([CONV_POOL_U]), 1e-5);
}

/// Stepping one step at a time equals the sequence forward; the layer is a StepModel and a
/// SpikingModel that reports its neurons.
#[test]
fn steps_equal_the_sequence_and_the_layer_is_a_step_model() {
    let device = default_device();
    let conv = reference_conv(false, &device);
    let x = reference_input(false, &device);
    let (sequence, _) = conv.forward(x.clone(), None);
    let (run, state) = StepModel::run(&conv, x, None);
    assert_eq!(values(sequence), values(run));
    assert_eq!(conv.spiking_layers()[0].neurons, 18);
    assert_eq!(values(conv.spikes(&state)[0].clone()), CONV_SPIKES[2]);
}

#[test]
fn a_record_round_trip_gives_the_same_outputs() {
    let device = default_device();
    let conv = reference_conv(true, &device);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conv");
    conv.clone().save_file(&path).expect("save");
    let fresh = ConvLtcConfig::new(1, 1, 4, 4)
        .with_pool(Some(2))
        .init(&device);
    let loaded = fresh.load_file(&path);
    let x = reference_input(true, &device);
    assert_eq!(
        values(conv.forward(x.clone(), None).0),
        values(loaded.forward(x, None).0)
    );
}

#[test]
fn display_names_the_shapes() {
    let conv = ConvLtcConfig::new(2, 4, 8, 8)
        .with_pool(Some(2))
        .init(&default_device());
    let shown = format!("{conv}");
    for part in [
        "ConvLtc",
        "frame: [2, 8, 8]",
        "output: [4, 4, 4]",
        "kernel: 3",
        "pool: 2",
        "threshold: 0.5",
    ] {
        assert!(shown.contains(part), "{part} missing in {shown}");
    }
}

#[test]
fn invalid_configs_name_the_field() {
    let cases = [
        (ConvLtcConfig::new(0, 2, 4, 4), "ConvLtcConfig.in_channels"),
        (ConvLtcConfig::new(1, 0, 4, 4), "ConvLtcConfig.channels"),
        (ConvLtcConfig::new(1, 2, 0, 4), "ConvLtcConfig.height"),
        (ConvLtcConfig::new(1, 2, 4, 0), "ConvLtcConfig.width"),
        (
            ConvLtcConfig::new(1, 2, 4, 4).with_kernel_size(2),
            "ConvLtcConfig.kernel_size",
        ),
        (
            ConvLtcConfig::new(1, 2, 4, 4).with_pool(Some(0)),
            "ConvLtcConfig.pool",
        ),
        (
            ConvLtcConfig::new(1, 2, 4, 6).with_pool(Some(4)),
            "ConvLtcConfig.pool",
        ),
        (
            ConvLtcConfig::new(1, 2, 4, 4).with_threshold(0.0),
            "ConvLtcConfig.threshold",
        ),
    ];
    for (config, field) in cases {
        assert_eq!(config.validate().unwrap_err().field(), field);
    }
}

#[test]
#[should_panic(expected = "ConvLtc")]
fn a_wrong_input_width_names_the_layer() {
    let device = default_device();
    let conv = ConvLtcConfig::new(1, 2, 3, 3).init(&device);
    conv.step(Tensor::zeros([2, 8], &device), conv.init_state(2, &device));
}

#[test]
#[should_panic(expected = "membrane")]
fn a_wrong_state_names_the_state_tensor() {
    let device = default_device();
    let conv = ConvLtcConfig::new(1, 2, 3, 3).init(&device);
    let mut state = conv.init_state(2, &device);
    state.membrane = Tensor::zeros([2, 17], &device);
    conv.step(Tensor::zeros([2, 9], &device), state);
}

/// The layer trains as a 2-class classifier of its spikes (summed over positions by the loss
/// of the first two neurons) with FPTT: its kernels move.
#[test]
fn the_layer_trains_with_fptt() {
    let device = default_device().autodiff();
    let conv = reference_conv(false, &device);
    let before = values(conv.input.weight.val());
    let mut learner = SequenceLearner::new(
        conv,
        AdamaxConfig::new().init(),
        1e-2,
        FpttConfig::new().with_updates_per_sequence(Some(3)),
    )
    .unwrap();
    let x = reference_input(false, &device).repeat_dim(0, 2);
    let stats = learner
        .train_batch(x, Tensor::<1, Int>::from_ints([0, 2], &device))
        .unwrap();
    assert!(stats.loss.is_finite());
    assert_ne!(values(learner.model().input.weight.val()), before);
}
