//! Times each layer's sequence forward and backward pass on the enabled backend (autodiff), and
//! prints one JSON line: milliseconds per time step for `Ltc`, `Lif`, `Alif`, `CubaLif`,
//! `LtcReadout` and `LeakyReadout`, each the median of `--rounds` timed sequences.
//!
//! ```text
//! cargo run --release --example bench_cells -- --batch 64 --hidden 256 --steps 50
//! ```
//!
//! Two builds of it, run one after the other in one script, compare a change layer by layer;
//! `--layer NAME` times one layer per process (layers timed in one process affect each other's
//! figures through the allocator).

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use burn_fptt::prelude::*;
use clap::Parser;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Neurons per layer (and the width of the input).
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    /// Time steps per timed sequence.
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// Timed sequences per layer, after one untimed.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Time only this layer (ltc, lif, alif, cuba_lif, ltc_readout, leaky_readout): one layer
    /// per process keeps the allocator state of one layer's run out of the next one's timing.
    #[arg(long)]
    layer: Option<String>,
}

/// The median of `rounds` timings of `pass` (after one warm-up), in milliseconds per step.
fn time_per_step(args: &Args, mut pass: impl FnMut()) -> f64 {
    pass();
    let mut times: Vec<f64> = (0..args.rounds)
        .map(|_| {
            let started = Instant::now();
            pass();
            started.elapsed().as_secs_f64() * 1e3 / args.steps as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Forward over the sequence, a loss on every output and the final state, and the backward
/// pass; the gradients are read back so that lazy backends finish the work.
fn backward(outputs: Tensor<3>, state: Tensor<2>, weight: &Tensor<2>) {
    let grads = (outputs.powi_scalar(2).mean() + state.mean()).backward();
    let grad = weight.grad(&grads).expect("the weight is trained");
    let _ = grad.into_data();
}

fn main() {
    let args = Args::parse();
    if args.rounds == 0 || args.steps == 0 || args.batch < 2 || args.hidden == 0 {
        eprintln!("error: --rounds, --steps and --hidden must be at least 1, --batch at least 2");
        std::process::exit(1);
    }
    let device = default_device().autodiff();
    device.seed(args.seed);
    let (b, h, t) = (args.batch, args.hidden, args.steps);
    let x = Tensor::<3>::random([b, t, h], Distribution::Normal(0.0, 1.0), &device);
    let mut result = serde_json::Map::new();

    let wanted = |name: &str| args.layer.as_deref().is_none_or(|layer| layer == name);
    if wanted("ltc") {
        let ltc = LtcConfig::new(h, h).init(&device);
        let ms = time_per_step(&args, || {
            let (s, state) = ltc.forward(x.clone(), None);
            backward(s, state.membrane, &ltc.input.weight.val());
        });
        result.insert("ltc_ms_per_step".into(), ms.into());
    }

    if wanted("lif") {
        let lif = LifConfig::new(h, h).init(&device);
        let ms = time_per_step(&args, || {
            let (s, state) = lif.forward(x.clone(), None);
            backward(s, state.membrane, &lif.input.weight.val());
        });
        result.insert("lif_ms_per_step".into(), ms.into());
    }

    if wanted("alif") {
        let alif = AlifConfig::new(h, h).init(&device);
        let ms = time_per_step(&args, || {
            let (s, state) = alif.forward(x.clone(), None);
            backward(s, state.membrane, &alif.input.weight.val());
        });
        result.insert("alif_ms_per_step".into(), ms.into());
    }

    if wanted("cuba_lif") {
        let cuba = CubaLifConfig::new(h, h).init(&device);
        let ms = time_per_step(&args, || {
            let (s, state) = cuba.forward(x.clone(), None);
            backward(s, state.membrane, &cuba.input.weight.val());
        });
        result.insert("cuba_lif_ms_per_step".into(), ms.into());
    }

    if wanted("ltc_readout") {
        let readout = LtcReadoutConfig::new(h, h).init(&device);
        let ms = time_per_step(&args, || {
            let (m, state) = readout.forward(x.clone(), None);
            backward(m, state.potential, &readout.output.weight.val());
        });
        result.insert("ltc_readout_ms_per_step".into(), ms.into());
    }

    if wanted("leaky_readout") {
        let leaky = LeakyReadoutConfig::new(h, h).init(&device);
        let ms = time_per_step(&args, || {
            let (m, state) = leaky.forward(x.clone(), None);
            backward(m, state.potential, &leaky.output.weight.val());
        });
        result.insert("leaky_readout_ms_per_step".into(), ms.into());
    }

    for (key, value) in [
        ("batch", b),
        ("hidden", h),
        ("steps", t),
        ("rounds", args.rounds),
    ] {
        result.insert(key.into(), value.into());
    }
    result.insert("backend".into(), burn_fptt::default_backend().into());
    println!("{}", serde_json::Value::Object(result));
}
