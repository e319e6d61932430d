//! The adding problem (Hochreiter & Schmidhuber 1997), the FPTT method's long-sequence
//! benchmark: two channels (a value from U[0,1) and a marker at one step of each half), the
//! target the sum of the two marked values, mean squared error. Predicting the mean scores
//! 1/6 ≈ 0.167.
//!
//! Trains the method's network (one recurrent LTC layer of 128, a linear readout of its
//! membrane; Adam 3e-3, batch 128, clip 1) with FPTT (K = 10, alpha 0.5), whole-sequence
//! BPTT, truncated BPTT with FPTT's number of updates, or FPTT without its regulariser, on
//! fresh sequences every iteration. Prints progress and, as its last line, one JSON object.
//!
//! ```text
//! cargo run --release --example adding -- --length 100
//! cargo run --release --example adding -- --length 200 --learner bptt --iterations 2000
//! ```

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::lr_scheduler::step::StepLrSchedulerConfig;
use burn::optim::AdamConfig;
use burn_fptt::data::adding::{AddingProblem, TRIVIAL_MSE};
use burn_fptt::prelude::*;
use burn_fptt::rule::UnregularisedConfig;
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Learner {
    /// Forward propagation through time, K updates per sequence.
    Fptt,
    /// Whole-sequence backpropagation through time, one update per sequence.
    Bptt,
    /// Truncated BPTT: an update every T/K steps (FPTT's number of updates).
    Tbptt,
    /// FPTT's K updates per sequence without its regulariser.
    Unregularised,
}

#[derive(Parser, Debug)]
#[command(about = "The adding problem with an LTC spiking network: FPTT against BPTT")]
struct Args {
    /// Learning rule.
    #[arg(long, value_enum, default_value = "fptt")]
    learner: Learner,
    /// Steps per sequence T.
    #[arg(long, default_value_t = 200)]
    length: usize,
    /// Updates per sequence K (FPTT, truncated BPTT, the ablation).
    #[arg(long, default_value_t = 10)]
    chunks: usize,
    /// LTC neurons.
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// Sequences per iteration.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Training iterations, each on a fresh batch.
    #[arg(long, default_value_t = 300)]
    iterations: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    /// Multiply the learning rate by `--lr-gamma` every this many iterations (off by default;
    /// the method's adding-problem code keeps it constant).
    #[arg(long)]
    lr_step_iterations: Option<usize>,
    /// The factor of `--lr-step-iterations`.
    #[arg(long, default_value_t = 0.1)]
    lr_gamma: f64,
    /// FPTT alpha.
    #[arg(long, default_value_t = 0.5)]
    alpha: f64,
    /// The loss of FPTT, truncated BPTT and the ablation: `ramp` (at every step on a linear
    /// ramp), `chunk-ends` (only at the end of each chunk, ramped over the chunks, as the
    /// method's code), `last` or `every`; whole-sequence BPTT always takes the last step's.
    #[arg(long, default_value = "ramp")]
    loss: LossSchedule,
    /// Base threshold `b0` of the LTC layer (the method's adding-problem neuron: 0.5).
    #[arg(long, default_value_t = 0.1)]
    threshold: f64,
    /// Threshold adaptation `beta` of the LTC layer (the method's adding-problem neuron: 0, a
    /// fixed threshold).
    #[arg(long, default_value_t = 1.8)]
    adaptation: f64,
    /// Clip every update's gradients by this global norm.
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    /// Seed of the weights and of the training sequences (the test sequences use seed + 1).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Measure the test MSE every this many iterations.
    #[arg(long, default_value_t = 50)]
    eval_every: usize,
    /// Test sequences (drawn once, the same for every measurement).
    #[arg(long, default_value_t = 512)]
    test_size: usize,
    /// Write the learning curve here, one JSON object per measurement.
    #[arg(long)]
    curve: Option<PathBuf>,
    /// Stop after this many minutes of training (measuring once more), even before
    /// `--iterations`: a fixed time budget, as on a lent GPU.
    #[arg(long)]
    minutes: Option<f64>,
}

/// How many of the last measurements `last_mean_test_mse` averages.
const LAST_MEASUREMENTS: usize = 5;

/// One point of the learning curve.
#[derive(serde::Serialize)]
struct Point {
    iteration: usize,
    train_mse: f64,
    test_mse: f64,
    seconds: f64,
}

fn main() -> ExitCode {
    support::exit_status(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.iterations == 0 || args.eval_every == 0 || args.test_size == 0 || args.batch == 0 {
        return Err(
            "--iterations, --eval-every, --test-size and --batch must be at least 1".into(),
        );
    }
    if args.lr_step_iterations == Some(0) {
        return Err("--lr-step-iterations must be at least 1".into());
    }
    if let Some(minutes) = args.minutes
        && !(minutes.is_finite() && minutes > 0.0)
    {
        return Err(format!("--minutes must be finite and > 0, got {minutes}").into());
    }
    if args.chunks == 0 || args.chunks > args.length {
        return Err(format!(
            "--chunks must be in 1..={} (the sequence length), got {}",
            args.length, args.chunks
        )
        .into());
    }
    let clip = Some(args.clip);
    let k = Some(args.chunks);
    match args.learner {
        Learner::Fptt => train(
            args,
            FpttConfig::new()
                .with_alpha(args.alpha)
                .with_updates_per_sequence(k)
                .with_clip_norm(clip)
                .with_average_at_epoch_end(false)
                .with_loss(args.loss),
        ),
        Learner::Bptt => train(args, BpttConfig::new().with_clip_norm(clip)),
        Learner::Tbptt => {
            let window = args.length.div_ceil(args.chunks);
            train(
                args,
                BpttConfig::truncated(window)
                    .with_clip_norm(clip)
                    .with_loss(args.loss),
            )
        }
        Learner::Unregularised => train(
            args,
            UnregularisedConfig::new()
                .with_updates_per_sequence(k)
                .with_clip_norm(clip)
                .with_loss(args.loss),
        ),
    }
}

fn train<C: RuleConfig>(args: &Args, rule: C) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let device = try_default_device()?.autodiff();
    let adapter = support::announce_device(&device);
    device.seed(args.seed);
    let model = SpikingRegressorConfig::new(2, args.hidden, 1)
        .with_base_threshold(args.threshold)
        .with_adaptation(args.adaptation)
        .try_init(&device)?;
    let schedule: ModuleLrScheduler = match args.lr_step_iterations {
        Some(iterations) => {
            // The scheduler counts updates: one per sequence for whole-sequence BPTT, one per
            // chunk of ceil(T / K) steps otherwise.
            let chunks = match args.learner {
                Learner::Bptt => 1,
                _ => args.length.div_ceil(args.length.div_ceil(args.chunks)),
            };
            StepLrSchedulerConfig::new(args.lr, iterations * chunks)
                .with_gamma(args.lr_gamma)
                .init()?
        }
        None => args.lr.into(),
    };
    let mut learner = SequenceLearner::new(model, AdamConfig::new().init(), schedule, rule)?;
    let mut problem = AddingProblem::new(args.length, args.seed)?;
    let test =
        AddingProblem::new(args.length, args.seed.wrapping_add(1))?.batch(args.test_size, &device);
    let mut curve = match &args.curve {
        Some(path) => {
            Some(
                std::fs::File::create(path).map_err(|e| burn_fptt::data::DataError::Io {
                    path: path.clone(),
                    source: e,
                })?,
            )
        }
        None => None,
    };
    eprintln!(
        "{} on the adding problem, T = {}, {} LTC neurons, batch {}, {} iterations",
        learner.rule().name(),
        args.length,
        args.hidden,
        args.batch,
        args.iterations
    );
    let deadline = args
        .minutes
        .map(|minutes| started + std::time::Duration::from_secs_f64(minutes * 60.0));
    let mut window = Vec::new();
    let mut points = Vec::new();
    let mut iterations = 0;
    let bar = support::progress_bar(Some(args.iterations as u64), "iterations");
    for iteration in 1..=args.iterations {
        let batch = problem.batch(args.batch, &device);
        let stats = learner.train(&batch)?;
        iterations = iteration;
        window.push(stats.loss);
        bar.set_position(iteration as u64);
        bar.set_message(format!("train mse {:.4}", stats.loss));
        let out_of_time = deadline.is_some_and(|deadline| Instant::now() >= deadline);
        if iteration % args.eval_every == 0 || iteration == args.iterations || out_of_time {
            let test_mse = evaluate(learner.model(), [test.clone()])?.loss;
            let train_mse = window.iter().sum::<f64>() / window.len() as f64;
            window.clear();
            let point = Point {
                iteration,
                train_mse,
                test_mse,
                seconds: started.elapsed().as_secs_f64(),
            };
            bar.suspend(|| {
                eprintln!(
                    "iteration {iteration:>6}/{}: train mse {train_mse:.4} | test mse {test_mse:.4} | {} updates, {:.1} s",
                    args.iterations,
                    learner.updates(),
                    point.seconds
                )
            });
            if let Some(file) = curve.as_mut() {
                writeln!(file, "{}", serde_json::to_string(&point)?)?;
            }
            points.push(point);
        }
        if out_of_time {
            bar.finish_and_clear();
            eprintln!("stopped after {iteration} iterations: the time budget is spent");
            break;
        }
    }
    bar.finish_and_clear();
    let last = points.last().expect("at least one measurement");
    let best = points
        .iter()
        .map(|p| p.test_mse)
        .fold(f64::INFINITY, f64::min);
    // The method's logs are read as the mean of the last measurements, which smooths the
    // noise of a single test batch.
    let tail = &points[points.len().saturating_sub(LAST_MEASUREMENTS)..];
    let tail_mean = tail.iter().map(|p| p.test_mse).sum::<f64>() / tail.len() as f64;
    let summary = serde_json::json!({
        "example": "adding",
        "learner": learner.rule().name(),
        "variant": format!("{:?}", args.learner).to_lowercase(),
        "length": args.length,
        "iterations": iterations,
        "iterations_asked": args.iterations,
        "minutes": args.minutes,
        "updates": learner.updates(),
        "test_mse": last.test_mse,
        "best_test_mse": best,
        "last_mean_test_mse": tail_mean,
        "last_measurements": tail.len(),
        "trivial_mse": TRIVIAL_MSE,
        "seconds": started.elapsed().as_secs_f64(),
        "peak_rss_mib": burn_fptt::memory::peak_rss_mib(),
        "seed": args.seed,
        "chunks": args.chunks,
        "hidden": args.hidden,
        "batch": args.batch,
        "lr": args.lr,
        "lr_step_iterations": args.lr_step_iterations,
        "lr_gamma": args.lr_gamma,
        "alpha": args.alpha,
        "clip": args.clip,
        "threshold": args.threshold,
        "adaptation": args.adaptation,
        "loss": format!("{:?}", learner.rule().loss_schedule()),
        "test_size": args.test_size,
        "backend": burn_fptt::default_backend(),
        "adapter": adapter,
        "commit": support::git_commit(),
    });
    println!("{summary}");
    Ok(())
}
