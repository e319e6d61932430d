//! Gradients through `Ltc::forward` and `LtcReadout::forward` against central finite
//! differences, in float64, with the spike replaced by its smooth twin (the surrogate's
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
}
