//! Criterion benches of the reference model (one recurrent LTC layer of 256 on 1 input, LTC
//! readout of 10, Adamax): the LTC forward over a sequence, one online FPTT update, and one BPTT
//! update over a sequence.
//!
//! ```text
//! cargo bench --bench step
//! ```

use burn::prelude::*;
use burn::tensor::Distribution;
use burn_fptt::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};

const HIDDEN: usize = 256;
const BATCH: usize = 64;

fn model(device: &Device) -> SpikingClassifier {
    device.seed(0);
    SpikingClassifierConfig::new(1, vec![HIDDEN], 10).init(device)
}

fn labels(device: &Device) -> Tensor<1, Int> {
    let labels: Vec<i64> = (0..BATCH as i64).map(|i| i % 10).collect();
    Tensor::from_data(TensorData::new(labels, [BATCH]), device)
}

fn ltc_forward(c: &mut Criterion) {
    let device = default_device();
    let net = model(&device);
    let x = Tensor::<3>::random([BATCH, 50, 1], Distribution::Uniform(0.0, 1.0), &device);
    c.bench_function("ltc_forward_50_steps_b64_h256", |b| {
        b.iter(|| {
            let (spikes, _) = net.layers[0].forward(x.clone(), None);
            spikes.into_data()
        })
    });
}

fn fptt_update(c: &mut Criterion) {
    let device = default_device().autodiff();
    let mut net = model(&device);
    let mut fptt = Fptt::new(FpttConfig::new(), &net).unwrap();
    let mut optim = AdamaxConfig::new().init();
    let y = labels(&device);
    let mut state = net.init_state(BATCH, &device);
    c.bench_function("fptt_update_b64_h256", |b| {
        b.iter(|| {
            let x = Tensor::<2>::random([BATCH, 1], Distribution::Uniform(0.0, 1.0), &device);
            let (scores, next) = net.step(x, state.clone());
            net = fptt.update(
                net.clone(),
                weighted_cross_entropy(scores, y.clone(), 0.5),
                &mut optim,
                3e-3,
            );
            state = next.detach();
            device.sync().unwrap();
        })
    });
}

fn bptt_sequence(c: &mut Criterion) {
    let device = default_device().autodiff();
    let y = labels(&device);
    let x = Tensor::<3>::random([BATCH, 50, 1], Distribution::Uniform(0.0, 1.0), &device);
    let mut learner = SequenceLearner::new(
        model(&device),
        AdamaxConfig::new().init(),
        3e-3,
        Method::Bptt(BpttConfig::new()),
    )
    .unwrap();
    c.bench_function("bptt_update_50_steps_b64_h256", |b| {
        b.iter(|| learner.train_batch(x.clone(), y.clone()).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(3));
    targets = ltc_forward, fptt_update, bptt_sequence
}
criterion_main!(benches);
