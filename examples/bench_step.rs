//! Times one FPTT step (or one BPTT sequence) of the reference model — one recurrent LTC layer
//! of `--hidden` neurons on 1 input, an LTC readout of 10, Adamax — on the enabled backend, and
//! prints one JSON line with the keys of the PyTorch reference script
//! (`../shared/reference/ltc_fptt_torch.py`): `ms_per_step`, `peak_rss_mib`, ...
//!
//! ```text
//! cargo run --release --example bench_step -- --mode fptt --batch 64 --steps 200
//! cargo run --release --example bench_step -- --mode bptt --batch 64 --steps 784
//! cargo run --release --example bench_step -- --memory-table   # FPTT and BPTT against T
//! ```
//!
//! Peak memory is per process, so `--memory-table` runs one child process per row.

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn_fptt::prelude::*;
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
enum Mode {
    Fptt,
    Bptt,
}

/// How Adamax steps the parameters.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
enum Optimizer {
    /// burn's `ModuleOptimizer`: one kernel per parameter tensor on wgpu.
    PerParameter,
    /// `MultiTensorAdamax`: all parameters in one kernel (as the adapter's bindings allow).
    MultiTensor,
}

#[derive(Parser, Debug)]
#[command(
    name = "bench_step",
    about = "Times one FPTT step or one BPTT sequence of the reference model"
)]
struct Args {
    /// FPTT: one update per step; BPTT: one update per sequence of `--steps` steps.
    #[arg(long, value_enum, default_value = "fptt")]
    mode: Mode,
    #[arg(long, default_value_t = 64)]
    batch: usize,
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    /// Time steps timed (the sequence length for BPTT).
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Threads the backend may use: sets MATMUL_NUM_THREADS (ndarray's matrix products) and
    /// RAYON_NUM_THREADS (backends built with rayon). 0: the backend's default.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Adamax one parameter at a time or all at once (the same values on the CPU backends).
    #[arg(long, value_enum, default_value = "multi-tensor")]
    optimizer: Optimizer,
    /// On wgpu: also list the launches of the timed steps by kernel name (the top N).
    #[arg(long, default_value_t = 0)]
    kernels: usize,
    /// Also time the FPTT step's twelve `batch × hidden × hidden` matrix products alone (the
    /// same shapes and backend, no autodiff, after the timed steps): a lower bound on the step's
    /// time that no element-wise work can go under. JSON: `products_ms_per_step`.
    #[arg(long)]
    products: bool,
    /// FPTT: also time the parts of each step (forward with the loss, backward, the regularised
    /// gradients, the optimizer, the after-step update: `Fptt::update`'s parts in its order, each
    /// after a device sync). JSON: `phases_ms_per_step`.
    #[arg(long)]
    phases: bool,
    /// Run FPTT at T = 100, 1000, 10000 and BPTT at T = 100, 1000, 2000 in child processes and
    /// print a Markdown table.
    #[arg(long)]
    memory_table: bool,
}

fn main() {
    let args = Args::parse();
    if args.phases && args.mode != Mode::Fptt {
        use clap::CommandFactory;
        Args::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--phases splits an FPTT step into its parts; it does not apply to --mode bptt",
            )
            .exit();
    }
    if args.memory_table {
        memory_table(&args);
        return;
    }
    if args.threads > 0 {
        // SAFETY: set before any thread of this program starts.
        unsafe {
            std::env::set_var("RAYON_NUM_THREADS", args.threads.to_string());
            std::env::set_var("MATMUL_NUM_THREADS", args.threads.to_string());
        }
    }
    let device = default_device().autodiff();
    device.seed(args.seed);
    let model = SpikingClassifierConfig::new(1, vec![args.hidden], 10).init(&device);
    let method = match args.mode {
        Mode::Fptt => Method::Fptt(FpttConfig::new()),
        Mode::Bptt => Method::Bptt(BpttConfig::new()),
    };
    match args.optimizer {
        Optimizer::PerParameter => {
            run(&args, &device, model, method, || AdamaxConfig::new().init())
        }
        Optimizer::MultiTensor => run(&args, &device, model, method, || {
            AdamaxConfig::new().init_multi_tensor()
        }),
    }
}

/// The warm-up and the timed run with the optimizers that `optimizer` builds; prints the JSON
/// line.
fn run<O: ModelOptimizer>(
    args: &Args,
    device: &Device,
    model: SpikingClassifier,
    method: Method,
    optimizer: impl Fn() -> O,
) {
    let mut learner = SequenceLearner::new(model, optimizer(), 3e-3, method).expect("valid config");
    let labels: Vec<i64> = (0..args.batch as i64).map(|i| i % 10).collect();
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [args.batch]), device);
    let sequence = |steps: usize| {
        Tensor::<3>::random(
            [args.batch, steps, 1],
            Distribution::Uniform(0.0, 1.0),
            device,
        )
    };
    // Warm-up: 20 steps, as the reference script.
    learner
        .train_batch(sequence(20), y.clone())
        .expect("warm-up");
    device.sync().expect("device sync");
    let mut phases = args.phases.then(Phases::default);
    let launches = Launches::start();
    let started = std::time::Instant::now();
    let updates = match args.mode {
        // BPTT needs the whole sequence at once.
        Mode::Bptt => {
            learner
                .train_batch(sequence(args.steps), y)
                .expect("timed run")
                .updates
        }
        // FPTT learns online: each step's input arrives when it is needed, so that memory
        // reflects the algorithm, not a T-long input buffer.
        Mode::Fptt => {
            let stream = Stream {
                device,
                y: &y,
                steps: args.steps,
            };
            stream.run(learner.into_model(), optimizer(), &mut phases)
        }
    };
    device.sync().expect("device sync");
    let seconds = started.elapsed().as_secs_f64();
    let per_step = seconds / args.steps as f64;
    let (launches_per_step, by_kernel) = launches.read(args.steps, args.kernels);
    let products_ms = args
        .products
        .then(|| step_products_ms(args.batch, args.hidden, &default_device()));
    let adapter = burn_fptt::adapter(device);
    let out = serde_json::json!({
        "impl": "burn-fptt",
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "device": burn_fptt::default_backend(),
        "adapter": adapter.as_ref().map(|a| a.name.clone()),
        "compiler": adapter.as_ref().map(|a| a.compiler),
        "bindings": adapter.map(|a| a.bindings),
        "batch": args.batch,
        "hidden": args.hidden,
        "steps": args.steps,
        "updates": updates,
        "ms_per_step": (per_step * 1e3 * 1e4).round() / 1e4,
        "samples_steps_per_s": (args.batch as f64 / per_step * 10.0).round() / 10.0,
        "products_ms_per_step": products_ms.map(|ms| (ms * 1e4).round() / 1e4),
        "phases_ms_per_step": phases.map(|p| p.per_step(args.steps)),
        "launches_per_step": launches_per_step,
        "launches_by_kernel": by_kernel,
        "peak_rss_mib": burn_fptt::memory::peak_rss_mib().map(|m| (m * 10.0).round() / 10.0),
        "optimizer": format!("{:?}", args.optimizer),
        "threads": args.threads,
        "seed": args.seed,
        "commit": env!("BURN_FPTT_COMMIT"),
    });
    println!("{out}");
}

/// Milliseconds that the matrix products of one FPTT step of the reference model take alone,
/// with the step's shapes, on `device` (no autodiff). Only the twelve `batch × hidden × hidden`
/// products are counted (the input's and the readout's are left out, so this is a lower bound):
/// forward, the recurrent drive and each gate's drive and state products; backward, the five
/// weight gradients (`inputᵀ · output gradient`) and the current's gradient through the two gates
/// (`output gradient · weightᵀ`; the previous state is detached, so it has none). The median of
/// 15 repetitions after 3 warm-up ones.
fn step_products_ms(batch: usize, hidden: usize, device: &Device) -> f64 {
    let uniform = Distribution::Uniform(-1.0, 1.0);
    let activation = Tensor::<2>::random([batch, hidden], uniform, device);
    let weight = Tensor::<2>::random([hidden, hidden], uniform, device);
    let products = || {
        let mut out = Vec::with_capacity(12);
        for _ in 0..5 {
            out.push(activation.clone().matmul(weight.clone()));
            out.push(activation.clone().transpose().matmul(activation.clone()));
        }
        for _ in 0..2 {
            out.push(activation.clone().matmul(weight.clone().transpose()));
        }
        device.sync().expect("device sync");
        out
    };
    let mut times: Vec<f64> = (0..18)
        .map(|_| {
            let started = std::time::Instant::now();
            drop(products());
            started.elapsed().as_secs_f64() * 1e3
        })
        .skip(3)
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Kernel launches of the timed steps, on wgpu builds (none elsewhere).
struct Launches {
    #[cfg(feature = "wgpu")]
    counter: Option<burn_fptt::launches::LaunchCounter>,
}

impl Launches {
    fn start() -> Self {
        Self {
            #[cfg(feature = "wgpu")]
            counter: (burn_fptt::default_backend() == "wgpu")
                .then(burn_fptt::launches::LaunchCounter::start),
        }
    }

    /// Launches per step, and the `top` most launched kernels with their launches per step.
    fn read(&self, steps: usize, top: usize) -> (Option<f64>, Vec<(String, f64)>) {
        #[cfg(feature = "wgpu")]
        if let Some(counter) = &self.counter {
            let per_step = |n: u64| (n as f64 / steps as f64 * 100.0).round() / 100.0;
            let kernels = counter
                .by_kernel()
                .into_iter()
                .take(top)
                .map(|(name, n)| (name, per_step(n)))
                .collect();
            return (Some(per_step(counter.total())), kernels);
        }
        let _ = (steps, top);
        (None, Vec::new())
    }
}

/// Seconds spent in each part of the FPTT steps (`--phases`).
#[derive(Default)]
struct Phases {
    forward: f64,
    backward: f64,
    regularise: f64,
    optimizer: f64,
    after_step: f64,
}

impl Phases {
    /// Milliseconds per step, as JSON.
    fn per_step(&self, steps: usize) -> serde_json::Value {
        let ms = |seconds: f64| (seconds * 1e3 / steps as f64 * 1e4).round() / 1e4;
        serde_json::json!({
            "forward": ms(self.forward),
            "backward": ms(self.backward),
            "regularise": ms(self.regularise),
            "optimizer": ms(self.optimizer),
            "after_step": ms(self.after_step),
        })
    }
}

/// FPTT over a stream of `steps` inputs, one update per step, the loss weighted `(t+1)/T` as in
/// [`SequenceLearner`].
struct Stream<'a> {
    device: &'a Device,
    y: &'a Tensor<1, Int>,
    steps: usize,
}

impl Stream<'_> {
    /// Runs the steps; returns the number of updates. With `phases`, each step runs
    /// `Fptt::update`'s parts one by one (the same operations in the same order) and times them.
    fn run(
        &self,
        mut model: SpikingClassifier,
        mut optim: impl ModelOptimizer,
        phases: &mut Option<Phases>,
    ) -> usize {
        let mut fptt = Fptt::new(FpttConfig::new(), &model).expect("valid config");
        let batch = self.y.dims()[0];
        let mut state = model.init_state(batch, self.device);
        for t in 0..self.steps {
            let x_t = Tensor::<2>::random([batch, 1], Distribution::Uniform(0.0, 1.0), self.device);
            let weight = (t + 1) as f64 / self.steps as f64;
            let clock = phases.is_some().then(|| Clock::start(self.device));
            let (scores, next) = model.step(x_t, state);
            let loss = weighted_cross_entropy(scores, self.y.clone(), weight);
            model = match (phases.as_mut(), clock) {
                (Some(phases), Some(mut clock)) => {
                    phases.forward += clock.lap();
                    let grads = GradientsParams::from_grads(loss.backward(), &model);
                    phases.backward += clock.lap();
                    let grads = fptt.regularise(&model, grads);
                    phases.regularise += clock.lap();
                    let model = optim.step(3e-3.into(), model, grads);
                    phases.optimizer += clock.lap();
                    fptt.after_step(&model);
                    phases.after_step += clock.lap();
                    model
                }
                _ => fptt.update(model, loss, &mut optim, 3e-3),
            };
            state = next.detach();
        }
        self.steps
    }
}

/// Wall-clock laps, each ending with a device sync (so that a GPU's queued work is counted).
struct Clock<'a> {
    device: &'a Device,
    last: std::time::Instant,
}

impl<'a> Clock<'a> {
    fn start(device: &'a Device) -> Self {
        device.sync().expect("device sync");
        Self {
            device,
            last: std::time::Instant::now(),
        }
    }

    /// Seconds since the last lap (or the start).
    fn lap(&mut self) -> f64 {
        self.device.sync().expect("device sync");
        let now = std::time::Instant::now();
        let seconds = (now - self.last).as_secs_f64();
        self.last = now;
        seconds
    }
}

fn memory_table(args: &Args) {
    let exe = std::env::current_exe().expect("own path");
    let rows = [
        ("fptt", 100),
        ("fptt", 1000),
        ("fptt", 10000),
        ("bptt", 100),
        ("bptt", 1000),
        ("bptt", 2000),
    ];
    println!("| mode | T | peak RSS (MiB) | ms per step |");
    println!("| --- | ---: | ---: | ---: |");
    for (mode, steps) in rows {
        let output = std::process::Command::new(&exe)
            .args(["--mode", mode, "--steps", &steps.to_string()])
            .args([
                "--batch",
                &args.batch.to_string(),
                "--hidden",
                &args.hidden.to_string(),
            ])
            .args(["--seed", &args.seed.to_string()])
            .output()
            .expect("run a child benchmark");
        let line = String::from_utf8_lossy(&output.stdout);
        let json: serde_json::Value = match serde_json::from_str(line.trim()) {
            Ok(json) => json,
            Err(_) => {
                println!(
                    "| {mode} | {steps} | failed: {} | |",
                    String::from_utf8_lossy(&output.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                );
                continue;
            }
        };
        eprintln!("{}", line.trim());
        println!(
            "| {mode} | {steps} | {} | {} |",
            json["peak_rss_mib"], json["ms_per_step"]
        );
    }
}
