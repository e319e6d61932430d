//! The same weights and inputs give the same forward values and gradients on ndarray and wgpu.
//! Compiled with `--features wgpu`; on a machine without a GPU, run it on a software Vulkan
//! driver (lavapipe), see README.md.
#![cfg(all(feature = "wgpu", feature = "ndarray"))]

mod common;

use burn::prelude::*;
use burn_fptt::prelude::*;
use common::*;

/// The launch counter is process-wide: the tests of this file run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn run(device: &Device) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    // Both backends get the same f32 weights from the same constants.
    let ltc = reference_ltc(LtcConfig::new(2, 3), device);
    let readout = reference_readout(device);
    let x = Tensor::<3>::from_floats(
        [
            [[1.0, 0.0], [0.5, 0.5], [2.0, -1.0], [0.0, 1.5], [1.0, 1.0]],
            [[-1.0, 2.0], [0.0, 0.0], [1.5, 1.5], [0.3, -0.2], [2.0, 0.5]],
        ],
        device,
    );
    let start = state(
        [[0.2, 0.6, 0.1], [0.9, 0.0, 0.4]],
        [[0.0; 3]; 2],
        [[0.1; 3]; 2],
        device,
    );
    let (spikes, last) = ltc.forward(x, Some(start));
    let (scores, _) = readout.forward(spikes.clone(), None);
    let grads = (scores.clone().powi_scalar(2).sum() + last.membrane.clone().sum()).backward();
    let mut grad = values(ltc.input.weight.grad(&grads).unwrap());
    grad.extend(values(ltc.membrane_gate.weight_grad(&grads).unwrap()));
    grad.extend(values(ltc.adaptation_gate.weight_grad(&grads).unwrap()));
    grad.extend(values(
        ltc.recurrent.as_ref().unwrap().weight.grad(&grads).unwrap(),
    ));
    grad.extend(values(readout.gate.weight_grad(&grads).unwrap()));
    (values(spikes), values(scores), values(last.membrane), grad)
}

fn assert_all_close(name: &str, a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{name}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + x.abs()),
            "{name}[{i}]: ndarray {x} vs wgpu {y}"
        );
    }
}

#[test]
fn ndarray_and_wgpu_agree_on_values_and_gradients() {
    let _serial = serial();
    let cpu = device_by_name("ndarray").unwrap().autodiff();
    let gpu = device_by_name("wgpu").unwrap().autodiff();
    let (s_cpu, m_cpu, u_cpu, g_cpu) = run(&cpu);
    let (s_gpu, m_gpu, u_gpu, g_gpu) = run(&gpu);
    assert_eq!(s_cpu, s_gpu, "spikes differ");
    assert_all_close("scores", &m_cpu, &m_gpu, 1e-4);
    assert_all_close("membrane", &u_cpu, &u_gpu, 1e-4);
    assert_all_close("gradients", &g_cpu, &g_gpu, 1e-4);
    assert!(g_cpu.iter().any(|&g| g != 0.0));
}

/// The newer layers agree too: a current-based LIF and an LTC layer with per-step
/// normalisation (batch statistics, autodiff), in values and in their weights' gradients.
#[test]
fn cuba_lif_and_normalised_ltc_agree_across_backends() {
    let _serial = serial();
    let run = |device: &Device| {
        let mut cuba = CubaLifConfig::new(2, 3).init(device);
        cuba.input = linear(WX, Some(BX), device);
        cuba.recurrent = Some(linear(WR, None, device));
        let tau = |values: [f64; 3]| {
            burn::module::Param::from_tensor(Tensor::<1>::from_floats(values, device))
        };
        cuba.tau_syn = tau([2.0, 3.0, 4.0]);
        cuba.tau_mem = tau([5.0, 8.0, 12.0]);
        let ltc = reference_ltc(
            LtcConfig::new(2, 3)
                .with_step_norm(Some(5))
                .with_initial_membrane(InitialMembrane::Zeros),
            device,
        );
        let x = Tensor::<3>::from_floats(
            [
                [[1.0, 0.0], [0.5, 0.5], [2.0, -1.0], [0.0, 1.5], [1.0, 1.0]],
                [[-1.0, 2.0], [0.0, 0.0], [1.5, 1.5], [0.3, -0.2], [2.0, 0.5]],
                [[0.5, 1.0], [1.0, -0.5], [0.0, 2.0], [1.5, 0.5], [-0.5, 1.0]],
            ],
            device,
        );
        let (cuba_spikes, cuba_state) = cuba.forward(x.clone(), None);
        let (ltc_spikes, ltc_state) = ltc.forward(x, None);
        let grads = (cuba_state.current.clone().powi_scalar(2).sum()
            + cuba_state.membrane.clone().sum()
            + ltc_state.membrane.clone().powi_scalar(2).sum())
        .backward();
        let mut grad = values(cuba.input.weight.grad(&grads).unwrap());
        grad.extend(values(cuba.tau_syn.grad(&grads).unwrap()));
        grad.extend(values(ltc.input.weight.grad(&grads).unwrap()));
        let mut spikes = values(cuba_spikes);
        spikes.extend(values(ltc_spikes));
        let mut state = values(cuba_state.current);
        state.extend(values(cuba_state.membrane));
        state.extend(values(ltc_state.membrane));
        (spikes, state, grad)
    };
    let (s_cpu, u_cpu, g_cpu) = run(&device_by_name("ndarray").unwrap().autodiff());
    let (s_gpu, u_gpu, g_gpu) = run(&device_by_name("wgpu").unwrap().autodiff());
    assert_eq!(s_cpu, s_gpu, "spikes differ");
    assert!(
        s_cpu.contains(&1.0),
        "no spike: the comparison would be weak"
    );
    assert_all_close("states", &u_cpu, &u_gpu, 1e-4);
    assert_all_close("gradients", &g_cpu, &g_gpu, 1e-4);
    assert!(g_cpu.iter().any(|&g| g != 0.0));
}

#[test]
fn spike_surrogates_agree_across_backends() {
    let _serial = serial();
    let v = [-1.0, -0.3, 0.0, 0.05, 0.3, 1.2];
    let surrogates = [
        Surrogate::multi_gaussian(),
        Surrogate::fast_sigmoid(),
        Surrogate::sigmoid(),
        Surrogate::arctan(),
        Surrogate::triangle(),
    ];
    for surrogate in surrogates {
        let mut results = Vec::new();
        for name in ["ndarray", "wgpu"] {
            let device = device_by_name(name).unwrap().autodiff();
            let x = Tensor::<1>::from_floats(v, &device).require_grad();
            let s = spike(x.clone(), &surrogate);
            let grads = s.clone().sum().backward();
            results.push((values(s), values(x.grad(&grads).unwrap())));
        }
        assert_eq!(results[0].0, results[1].0, "{surrogate:?} forward");
        assert_all_close(
            &format!("{surrogate:?} gradient"),
            &results[0].1,
            &results[1].1,
            1e-4,
        );
    }
}

/// The launch counter sees wgpu's kernels and nothing of ndarray's: a CPU computation launches
/// none, an element-wise GPU computation at least one, and a reset starts from zero. The
/// adapter is named, and lavapipe is known for a software one.
#[test]
fn launches_are_counted_on_wgpu_only_and_the_adapter_is_named() {
    use burn_fptt::launches::LaunchCounter;
    let _serial = serial();
    let cpu = device_by_name("ndarray").unwrap();
    let gpu = device_by_name("wgpu").unwrap();
    let warm = Tensor::<2>::ones([8, 8], &gpu);
    let _ = values((warm.clone() * 2.0).exp());
    let counter = LaunchCounter::start();
    let on_cpu = (Tensor::<2>::ones([8, 8], &cpu) * 2.0).exp();
    let _ = values(on_cpu);
    assert_eq!(counter.total(), 0, "{:?}", counter.by_kernel());
    let on_gpu = (warm * 3.0).exp();
    gpu.sync().unwrap();
    let _ = values(on_gpu);
    assert!(counter.total() >= 1);
    let named: u64 = counter.by_kernel().iter().map(|(_, n)| n).sum();
    assert_eq!(named, counter.total());
    counter.reset();
    assert_eq!(counter.total(), 0);
    assert!(counter.by_kernel().is_empty());

    assert_eq!(adapter(&cpu), None);
    let gpu_adapter = adapter(&gpu).expect("wgpu names its adapter");
    assert!(!gpu_adapter.name.is_empty());
    if gpu_adapter.name.contains("llvmpipe") {
        assert!(gpu_adapter.software, "{gpu_adapter:?}");
    }
    // WGSL unless the `vulkan` feature is on (then SPIR-V where the adapter takes it); an
    // autodiff device names the adapter it wraps.
    let compilers: &[&str] = if cfg!(feature = "vulkan") {
        &["wgpu<spirv>", "wgpu<wgsl>"]
    } else {
        &["wgpu<wgsl>"]
    };
    assert!(compilers.contains(&gpu_adapter.compiler), "{gpu_adapter:?}");
    // WebGPU guarantees 8 storage buffers per shader stage; wgpu keeps one for itself.
    assert!(gpu_adapter.bindings >= 7, "{gpu_adapter:?}");
    assert_eq!(adapter(&gpu.clone().autodiff()), Some(gpu_adapter));
}

/// The convolutional LTC layer (both convolutions, the pooling) agrees in spikes, membranes
/// and its kernels' gradients.
#[test]
fn conv_ltc_agrees_across_backends() {
    let _serial = serial();
    let run = |device: &Device, pooled: bool| {
        let conv = reference_conv(pooled, device);
        let x = reference_conv_input(pooled, device).repeat_dim(0, 2);
        let (spikes, state) = conv.forward(x, None);
        let grads = state.membrane.clone().powi_scalar(2).sum().backward();
        let mut grad = values(conv.input.weight.grad(&grads).unwrap());
        grad.extend(values(conv.membrane_gate.weight.grad(&grads).unwrap()));
        (values(spikes), values(state.membrane), grad)
    };
    for pooled in [false, true] {
        let (s_cpu, u_cpu, g_cpu) = run(&device_by_name("ndarray").unwrap().autodiff(), pooled);
        let (s_gpu, u_gpu, g_gpu) = run(&device_by_name("wgpu").unwrap().autodiff(), pooled);
        assert_eq!(s_cpu, s_gpu, "spikes differ (pooled: {pooled})");
        assert!(
            s_cpu.contains(&1.0),
            "no spike: the comparison would be weak"
        );
        assert_all_close("membrane", &u_cpu, &u_gpu, 1e-4);
        assert_all_close("gradients", &g_cpu, &g_gpu, 1e-4);
        assert!(g_cpu.iter().any(|&g| g != 0.0));
    }
}
