//! The layers are burn modules: they compose with burn-nn layers in a user's
//! `#[derive(Module)]`, save and load through burn's records, and display their settings.

mod common;

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn_fptt::prelude::*;
use common::values;

#[derive(Module, Debug)]
struct UserNet {
    encoder: Linear,
    norm: LayerNorm,
    ltc: Ltc,
    lif: Lif,
    alif: Alif,
    readout: LtcReadout,
    leaky: LeakyReadout,
}

impl UserNet {
    fn new(device: &Device) -> Self {
        Self {
            encoder: LinearConfig::new(3, 8).init(device),
            norm: LayerNormConfig::new(8).init(device),
            ltc: LtcConfig::new(8, 16).init(device),
            lif: LifConfig::new(16, 12).init(device),
            alif: AlifConfig::new(12, 10).init(device),
            readout: LtcReadoutConfig::new(16, 4).init(device),
            leaky: LeakyReadoutConfig::new(10, 4).init(device),
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = self.norm.forward(self.encoder.forward(x));
        let [batch, _, _] = x.dims();
        let device = x.device();
        // Fixed (zero-membrane) states so that two calls are comparable.
        let ltc_state = LtcState {
            membrane: Tensor::zeros([batch, 16], &device),
            spikes: Tensor::zeros([batch, 16], &device),
            adaptation: Tensor::full([batch, 16], 0.1, &device),
            step: 0,
        };
        let (ltc_spikes, _) = self.ltc.forward(x, Some(ltc_state));
        let (s, _) = self.lif.forward(ltc_spikes.clone(), None);
        let (s, _) = self.alif.forward(s, None);
        let (a, _) = self.readout.forward(ltc_spikes.clone(), None);
        // The leaky readout hears the LTC spikes through the LIF/ALIF stack and directly.
        let time = ltc_spikes.dims()[1];
        let (b, _) = self
            .leaky
            .forward(s + ltc_spikes.slice([0..batch, 0..time, 0..10]), None);
        a + b
    }
}

#[test]
fn save_load_round_trip_gives_identical_outputs() {
    let device = default_device();
    device.seed(1);
    let net = UserNet::new(&device);
    let x = Tensor::<3>::random(
        [2, 12, 3],
        burn::tensor::Distribution::Uniform(-2.0, 2.0),
        &device,
    );
    let before = values(net.forward(x.clone()));
    assert!(before.iter().any(|&v| v != 0.0));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net");
    net.clone().save_file(&path).expect("save");

    // A different initialisation, then the saved weights.
    device.seed(2);
    let fresh = UserNet::new(&device);
    assert_ne!(
        values(fresh.forward(x.clone())),
        before,
        "a fresh net should differ"
    );
    let loaded = fresh.load_file(&path);
    assert_eq!(values(loaded.forward(x)), before);
}

#[test]
fn in_memory_record_round_trip() {
    let device = default_device();
    let ltc = LtcConfig::new(2, 5).init(&device);
    let weights = values(ltc.membrane_gate.weight());
    let record = ltc.clone().into_record();
    let restored = LtcConfig::new(2, 5).init(&device).load_record(record);
    assert_eq!(values(restored.membrane_gate.weight()), weights);
}

#[test]
fn user_model_displays_nested_settings() {
    let device = default_device();
    let shown = format!("{}", UserNet::new(&device));
    for part in [
        "UserNet",
        "Ltc",
        "Lif",
        "Alif",
        "LtcReadout",
        "LeakyReadout",
        "d_hidden: 16",
    ] {
        assert!(shown.contains(part), "`{part}` missing from {shown}");
    }
}

#[test]
fn layers_train_inside_a_user_model() {
    // One gradient reaches every parameter of every layer through the spikes.
    let device = default_device().autodiff();
    device.seed(3);
    let net = UserNet::new(&device);
    let x = Tensor::<3>::random(
        [4, 10, 3],
        burn::tensor::Distribution::Uniform(-2.0, 2.0),
        &device,
    );
    let grads = net.forward(x).powi_scalar(2).sum().backward();
    let ltc_grad = values(net.ltc.input.weight.grad(&grads).unwrap());
    assert!(
        ltc_grad.iter().any(|&g| g != 0.0),
        "no gradient reached the LTC input weights"
    );
    let tau = values(net.alif.tau_mem.grad(&grads).unwrap());
    assert!(tau.iter().all(|g| g.is_finite()));
}
