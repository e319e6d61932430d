//! Gradients through `Ltc::forward`, `LtcReadout::forward`, `CubaLif::forward` and
//! `ConvLtc::forward` against
//! central finite differences, in float64, with the spike replaced by its smooth twin (the surrogate's
//! antiderivative) so that the loss is differentiable and its derivative is what autodiff
//! computes. Runs on the ndarray or flex backend (float64 support).
#![cfg(any(feature = "ndarray", feature = "flex"))]

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::FloatDType;
use burn_fptt::prelude::*;

/// Every parameter tensor of the network, as (shape, values), in a fixed order.
fn shapes(d_in: usize, h: usize, c: usize) -> Vec<Vec<usize>> {
    vec![
        vec![d_in, h],  // input.weight
        vec![h],        // input.bias
        vec![h, h],     // recurrent.weight
        vec![2 * h, h], // membrane_gate.weight
        vec![h],        // membrane_gate.bias
        vec![2 * h, h], // adaptation_gate.weight
        vec![h],        // adaptation_gate.bias
        vec![h, c],     // readout.output.weight
        vec![c],        // readout.output.bias
        vec![2 * c, c], // readout.gate.weight
        vec![c],        // readout.gate.bias
    ]
}

fn tensor<const D: usize>(values: &[f64], shape: &[usize], device: &Device) -> Tensor<D> {
    let dims: [usize; D] = shape.try_into().unwrap();
    Tensor::<1>::from_data(TensorData::new(values.to_vec(), [values.len()]), device).reshape(dims)
}

fn linear(w: (&[f64], &[usize]), b: Option<(&[f64], &[usize])>, device: &Device) -> Linear {
    Linear {
        weight: Param::from_tensor(tensor::<2>(w.0, w.1, device).require_grad()),
        bias: b.map(|b| Param::from_tensor(tensor::<1>(b.0, b.1, device).require_grad())),
    }
}

/// Builds the network from the flat parameter vector `theta`, with per-step normalisation of
/// every drive over `step_norm` steps when given.
fn build(
    theta: &[f64],
    surrogate: &Surrogate,
    step_norm: Option<usize>,
    device: &Device,
) -> (Ltc, LtcReadout) {
    let shapes = shapes(2, 3, 2);
    let mut parts = Vec::new();
    let mut offset = 0;
    for shape in &shapes {
        let n: usize = shape.iter().product();
        parts.push((&theta[offset..offset + n], shape.as_slice()));
        offset += n;
    }
    let mut ltc = LtcConfig::new(2, 3)
        .with_smooth_spikes(true)
        .with_surrogate(surrogate.clone())
        .with_step_norm(step_norm)
        .init(device);
    ltc.input = linear(parts[0], Some(parts[1]), device);
    ltc.recurrent = Some(linear(parts[2], None, device));
    ltc.membrane_gate = Gate::from_linear(linear(parts[3], Some(parts[4]), device), 3);
    ltc.adaptation_gate = Gate::from_linear(linear(parts[5], Some(parts[6]), device), 3);
    let mut readout = LtcReadoutConfig::new(3, 2)
        .with_step_norm(step_norm)
        .init(device);
    readout.output = linear(parts[7], Some(parts[8]), device);
    readout.gate = Gate::from_linear(linear(parts[9], Some(parts[10]), device), 2);
    (ltc, readout)
}

/// A loss that weighs every spike and every readout value of a 6-step sequence of `batch`
/// samples (at most 4).
fn loss(ltc: &Ltc, readout: &LtcReadout, batch: usize, device: &Device) -> Tensor<1> {
    let x: Vec<f64> = (0..batch * 12)
        .map(|i| ((i * 7 % 11) as f64 - 5.0) / 3.0)
        .collect();
    let x = tensor::<3>(&x, &[batch, 6, 2], device);
    let membrane = [0.2, 0.6, 0.1, 0.9, 0.0, 0.4, 0.3, 0.7, 0.5, 0.1, 0.8, 0.2];
    let start = LtcState {
        membrane: tensor::<2>(&membrane[..batch * 3], &[batch, 3], device),
        spikes: Tensor::zeros([batch, 3], device),
        adaptation: Tensor::full([batch, 3], 0.1, device),
        step: 0,
    };
    let (spikes, _) = ltc.forward(x, Some(start));
    let (scores, _) = readout.forward(spikes.clone(), None);
    let spike_weights: Vec<f64> = (0..batch * 18)
        .map(|i| ((i * 5 % 13) as f64 - 6.0) / 6.0)
        .collect();
    let score_weights: Vec<f64> = (0..batch * 12)
        .map(|i| ((i * 3 % 7) as f64 - 3.0) / 3.0)
        .collect();
    (spikes * tensor::<3>(&spike_weights, &[batch, 6, 3], device)).sum()
        + (scores * tensor::<3>(&score_weights, &[batch, 6, 2], device))
            .powi_scalar(2)
            .sum()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().try_into_vec_as::<f64>().unwrap()
}

/// Batch statistics need more than two samples to depend on the inputs in more than sign.
fn batch_for(step_norm: Option<usize>) -> usize {
    if step_norm.is_some() { 4 } else { 2 }
}

fn autodiff_gradient(
    theta: &[f64],
    surrogate: &Surrogate,
    step_norm: Option<usize>,
    device: &Device,
) -> Vec<f64> {
    let (ltc, readout) = build(theta, surrogate, step_norm, device);
    let grads = loss(&ltc, &readout, batch_for(step_norm), device).backward();
    let mut out = Vec::new();
    let mut push = |p: &Param<Tensor<2>>| out.extend(values(p.grad(&grads).unwrap()));
    push(&ltc.input.weight);
    let input_bias = values(ltc.input.bias.as_ref().unwrap().grad(&grads).unwrap());
    let recurrent = values(ltc.recurrent.as_ref().unwrap().weight.grad(&grads).unwrap());
    let grad_of = |l: &Linear| {
        (
            values(l.weight.grad(&grads).unwrap()),
            values(l.bias.as_ref().unwrap().grad(&grads).unwrap()),
        )
    };
    let gate_grad_of = |g: &Gate| {
        (
            values(g.weight_grad(&grads).unwrap()),
            values(g.bias.as_ref().unwrap().grad(&grads).unwrap()),
        )
    };
    let (wm, bm) = gate_grad_of(&ltc.membrane_gate);
    let (wa, ba) = gate_grad_of(&ltc.adaptation_gate);
    let (wo, bo) = grad_of(&readout.output);
    let (wk, bk) = gate_grad_of(&readout.gate);
    let mut all = out;
    for part in [input_bias, recurrent, wm, bm, wa, ba, wo, bo, wk, bk] {
        all.extend(part);
    }
    all
}

fn loss_at(theta: &[f64], surrogate: &Surrogate, step_norm: Option<usize>, device: &Device) -> f64 {
    let (ltc, readout) = build(theta, surrogate, step_norm, device);
    values(loss(&ltc, &readout, batch_for(step_norm), device))[0]
}

fn float64_device() -> Device {
    let name = if cfg!(feature = "ndarray") {
        "ndarray"
    } else {
        "flex"
    };
    let mut device = device_by_name(name).unwrap().autodiff();
    device
        .configure(FloatDType::F64)
        .expect("this test binary configures its device once, before any tensor");
    device
}

/// Checks every parameter's autodiff gradient against central differences, in float64.
fn check_gradients(surrogate: &Surrogate, step_norm: Option<usize>, device: &Device) {
    let n: usize = shapes(2, 3, 2)
        .iter()
        .map(|s| s.iter().product::<usize>())
        .sum();
    // Parameters of moderate size, deterministic and away from symmetric points.
    let theta: Vec<f64> = (0..n)
        .map(|i| ((i * 37 % 23) as f64 - 11.0) / 25.0)
        .collect();
    let probe = Tensor::<1>::zeros([1], device);
    assert_eq!(
        probe.dtype(),
        burn::tensor::DType::F64,
        "the check needs float64"
    );
    let analytic = autodiff_gradient(&theta, surrogate, step_norm, device);
    assert_eq!(analytic.len(), n);
    let eps = 1e-6;
    let mut worst: f64 = 0.0;
    for i in 0..n {
        let mut plus = theta.clone();
        plus[i] += eps;
        let mut minus = theta.clone();
        minus[i] -= eps;
        let numeric = (loss_at(&plus, surrogate, step_norm, device)
            - loss_at(&minus, surrogate, step_norm, device))
            / (2.0 * eps);
        let error = (analytic[i] - numeric).abs() / numeric.abs().max(1e-3);
        worst = worst.max(error);
        assert!(
            error < 1e-3,
            "{surrogate:?}, step norm {step_norm:?}: parameter {i}: autodiff {} vs finite \
             difference {numeric}",
            analytic[i]
        );
    }
    // The check must not be vacuous: the loss depends on the parameters.
    assert!(
        analytic.iter().map(|g| g.abs()).sum::<f64>() > 1e-2,
        "{surrogate:?}: {analytic:?}"
    );
    eprintln!(
        "{surrogate:?}, step norm {step_norm:?}: worst relative error {worst:e} over {n} \
         parameters"
    );
}

/// A [`CubaLif`] with smooth spikes from `theta` = `[W_x (2x3), b (3), W_r (3x3), τ_s (3),
/// τ_m (3)]`.
fn build_cuba(theta: &[f64], device: &Device) -> CubaLif {
    let mut cuba = CubaLifConfig::new(2, 3)
        .with_smooth_spikes(true)
        .init(device);
    cuba.input = linear((&theta[0..6], &[2, 3]), Some((&theta[6..9], &[3])), device);
    cuba.recurrent = Some(linear((&theta[9..18], &[3, 3]), None, device));
    let param = |range: std::ops::Range<usize>| {
        Param::from_tensor(tensor::<1>(&theta[range], &[3], device).require_grad())
    };
    cuba.tau_syn = param(18..21);
    cuba.tau_mem = param(21..24);
    cuba
}

/// Weighted spikes and final currents of a 5-step sequence through a [`CubaLif`].
fn cuba_loss(cuba: &CubaLif, device: &Device) -> Tensor<1> {
    let x: Vec<f64> = (0..20).map(|i| ((i * 7 % 11) as f64 - 3.0) / 2.0).collect();
    let (spikes, state) = cuba.forward(tensor::<3>(&x, &[2, 5, 2], device), None);
    let weights: Vec<f64> = (0..30).map(|i| ((i * 5 % 13) as f64 - 6.0) / 6.0).collect();
    (spikes * tensor::<3>(&weights, &[2, 5, 3], device)).sum() + state.current.powi_scalar(2).sum()
}

/// Asserts that every `analytic[i]` is within 1e-3 (relative, or absolute below 1e-3) of the
/// central difference of `loss_at` at `theta` (step 1e-6); returns the worst relative error.
fn worst_central_difference_error(
    layer: &str,
    theta: &[f64],
    analytic: &[f64],
    loss_at: impl Fn(&[f64]) -> f64,
) -> f64 {
    let eps = 1e-6;
    let mut worst: f64 = 0.0;
    for i in 0..theta.len() {
        let (mut plus, mut minus) = (theta.to_vec(), theta.to_vec());
        plus[i] += eps;
        minus[i] -= eps;
        let numeric = (loss_at(&plus) - loss_at(&minus)) / (2.0 * eps);
        let error = (analytic[i] - numeric).abs() / numeric.abs().max(1e-3);
        worst = worst.max(error);
        assert!(
            error < 1e-3,
            "{layer} parameter {i}: autodiff {} vs finite difference {numeric}",
            analytic[i]
        );
    }
    worst
}

/// The current-based LIF's gradients, time constants included, against central differences.
fn check_cuba_gradients(device: &Device) {
    let mut theta: Vec<f64> = (0..18)
        .map(|i| ((i * 37 % 23) as f64 - 11.0) / 12.0)
        .collect();
    theta.extend([2.0, 3.5, 5.0, 4.0, 6.5, 9.0]); // τ_s, τ_m above the 1-step clamp
    let cuba = build_cuba(&theta, device);
    let grads = cuba_loss(&cuba, device).backward();
    let mut analytic = values(cuba.input.weight.grad(&grads).unwrap());
    analytic.extend(values(
        cuba.input.bias.as_ref().unwrap().grad(&grads).unwrap(),
    ));
    let recurrent = cuba.recurrent.as_ref().unwrap();
    analytic.extend(values(recurrent.weight.grad(&grads).unwrap()));
    analytic.extend(values(cuba.tau_syn.grad(&grads).unwrap()));
    analytic.extend(values(cuba.tau_mem.grad(&grads).unwrap()));
    let loss_at = |theta: &[f64]| values(cuba_loss(&build_cuba(theta, device), device))[0];
    let worst = worst_central_difference_error("CubaLif", &theta, &analytic, loss_at);
    assert!(
        analytic[18..].iter().any(|g| g.abs() > 1e-3),
        "{analytic:?}"
    );
    eprintln!(
        "CubaLif: worst relative error {worst:e} over {} parameters",
        theta.len()
    );
}

fn build_conv(theta: &[f64], device: &Device) -> ConvLtc {
    let mut conv = ConvLtcConfig::new(1, 2, 4, 4)
        .with_pool(Some(2))
        .with_smooth_spikes(true)
        .init(device);
    let param = |range: std::ops::Range<usize>, shape: &[usize]| {
        tensor::<1>(&theta[range], &[shape.iter().product()], device)
    };
    conv.input.weight =
        Param::from_tensor(param(0..18, &[18]).reshape([2, 1, 3, 3]).require_grad());
    conv.input.bias = Some(Param::from_tensor(param(18..20, &[2]).require_grad()));
    conv.membrane_gate.weight =
        Param::from_tensor(param(20..56, &[36]).reshape([2, 2, 3, 3]).require_grad());
    conv.membrane_gate.bias = Some(Param::from_tensor(param(56..58, &[2]).require_grad()));
    conv
}

/// Weighted spikes and final membranes of a 3-step sequence of 2 samples through a pooled
/// [`ConvLtc`].
fn conv_loss(conv: &ConvLtc, device: &Device) -> Tensor<1> {
    let x: Vec<f64> = (0..96).map(|i| ((i * 7 % 11) as f64 - 4.0) / 2.0).collect();
    let (spikes, state) = conv.forward(tensor::<3>(&x, &[2, 3, 16], device), None);
    let weights: Vec<f64> = (0..48).map(|i| ((i * 5 % 13) as f64 - 6.0) / 6.0).collect();
    (spikes * tensor::<3>(&weights, &[2, 3, 8], device)).sum() + state.membrane.powi_scalar(2).sum()
}

/// The convolutional LTC layer's gradients (both convolutions, through the pooling) against
/// central differences.
fn check_conv_gradients(device: &Device) {
    let theta: Vec<f64> = (0..58)
        .map(|i| ((i * 37 % 23) as f64 - 11.0) / 15.0)
        .collect();
    let conv = build_conv(&theta, device);
    let grads = conv_loss(&conv, device).backward();
    let mut analytic = values(conv.input.weight.grad(&grads).unwrap());
    analytic.extend(values(
        conv.input.bias.as_ref().unwrap().grad(&grads).unwrap(),
    ));
    analytic.extend(values(conv.membrane_gate.weight.grad(&grads).unwrap()));
    analytic.extend(values(
        conv.membrane_gate
            .bias
            .as_ref()
            .unwrap()
            .grad(&grads)
            .unwrap(),
    ));
    let loss_at = |theta: &[f64]| values(conv_loss(&build_conv(theta, device), device))[0];
    let worst = worst_central_difference_error("ConvLtc", &theta, &analytic, loss_at);
    assert!(
        analytic[20..].iter().any(|g| g.abs() > 1e-3),
        "the gate's gradient should not vanish: {analytic:?}"
    );
    eprintln!(
        "ConvLtc: worst relative error {worst:e} over {} parameters",
        theta.len()
    );
}

#[test]
fn gradients_match_central_differences_for_every_parameter() {
    let device = float64_device();
    for surrogate in [
        Surrogate::sigmoid(),
        Surrogate::fast_sigmoid(),
        Surrogate::multi_gaussian(),
    ] {
        check_gradients(&surrogate, None, &device);
    }
    // Per-step normalisation of every drive, batch statistics over 4 samples: the gradient
    // flows through the batch mean and variance of each step.
    check_gradients(&Surrogate::multi_gaussian(), Some(6), &device);
    check_cuba_gradients(&device);
    check_conv_gradients(&device);
}
