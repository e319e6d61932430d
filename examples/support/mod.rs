//! What the examples share, kept out of the library's API: the commit and summary line of a
//! results file, a progress bar for training loops, and error printing for `main`.
//!
//! Each example compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::error::Error;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use burn_fptt::EpochReport;
use burn_fptt::learner::{BatchProgress, EpochStats, FitObserver};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The git commit the crate was built from (`-dirty` when the tree had uncommitted changes to
/// tracked files), or `"unknown"` outside a git checkout; set by `build.rs`.
pub fn git_commit() -> &'static str {
    env!("BURN_FPTT_COMMIT")
}

/// Runs an example's body and turns its error into one line on stderr, the error and each of
/// its causes in turn (`error: invalid FpttConfig.alpha = inf: must be finite and > 0`), with
/// a non-zero exit status.
pub fn exit_status(result: Result<(), Box<dyn Error>>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error_chain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// An error and its sources, joined by `": "`; a source whose text its parent already shows
/// is not repeated.
pub fn error_chain(error: &dyn Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// A progress bar on stderr with the rate and the time left, drawn only when stderr is a
/// terminal (logs and pipes get the plain lines alone).
pub fn progress_bar(length: Option<u64>, unit: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::stderr());
    let template = format!(
        "{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{per_sec}}, {{elapsed}} spent, {{eta}} left)"
    );
    bar.set_style(
        ProgressStyle::with_template(&template)
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    bar
}

/// Shows each epoch of `fit_with` as a progress bar over its batches (loss of the last batch,
/// batches per second, time left), then the epoch's line.
pub struct EpochProgress {
    epochs: usize,
    bar: Option<ProgressBar>,
}

impl EpochProgress {
    /// Progress of a run of `epochs` epochs in all.
    pub fn new(epochs: usize) -> Self {
        Self { epochs, bar: None }
    }
}

impl FitObserver for EpochProgress {
    fn on_batch(&mut self, progress: &BatchProgress) {
        let bar = self
            .bar
            .get_or_insert_with(|| progress_bar(progress.batches.map(|n| n as u64), "batches"));
        bar.set_position(progress.batch as u64);
        bar.set_message(format!(
            "epoch {}/{} loss {:.4}",
            progress.epoch, self.epochs, progress.stats.loss
        ));
    }

    fn on_epoch(&mut self, report: &EpochReport) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        eprintln!("{}", epoch_line(report, self.epochs));
    }
}

/// One line of training progress for an epoch of `epochs`.
pub fn epoch_line(report: &EpochReport, epochs: usize) -> String {
    let accuracy = |a: Option<f64>| a.map(|a| format!(" acc {a:.3}")).unwrap_or_default();
    format!(
        "epoch {:>2}/{epochs}: train loss {:.4}{} | test loss {:.4}{} | {} updates, {:.1} s",
        report.epoch,
        report.train.loss,
        accuracy(report.train.accuracy),
        report.test.loss,
        accuracy(report.test.accuracy),
        report.train.updates,
        report.seconds
    )
}

/// The last line of an example's output: what ran, what it reached, and how to reproduce it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    /// The example's name.
    pub example: String,
    /// The data set.
    pub data: String,
    /// `"fptt"` or `"bptt"`.
    pub learner: String,
    /// Accuracy on the test set after the last epoch (class targets only).
    pub test_accuracy: Option<f64>,
    /// Last-step cross-entropy on the test set after the last epoch.
    pub test_loss: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// Wall time of the whole run.
    pub seconds: f64,
    /// Peak resident memory of the process.
    pub peak_rss_mib: Option<f64>,
    /// The run's seed.
    pub seed: u64,
    /// The backend.
    pub backend: String,
    /// The commit of the code.
    pub commit: String,
    /// Every other setting of the run.
    #[serde(flatten)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

impl RunSummary {
    /// A summary of a run that started at `started` and ended with `last` on the test set.
    pub fn new(
        example: &str,
        data: &str,
        learner: &str,
        last: EpochStats,
        epochs: usize,
        started: Instant,
        seed: u64,
    ) -> Self {
        Self {
            example: example.to_string(),
            data: data.to_string(),
            learner: learner.to_string(),
            test_accuracy: last.accuracy,
            test_loss: last.loss,
            epochs,
            seconds: started.elapsed().as_secs_f64(),
            peak_rss_mib: burn_fptt::memory::peak_rss_mib(),
            seed,
            backend: burn_fptt::default_backend(),
            commit: git_commit().to_string(),
            settings: serde_json::Map::new(),
        }
    }

    /// Adds the other settings (a JSON object; anything else is ignored).
    pub fn with_settings(mut self, settings: serde_json::Value) -> Self {
        if let serde_json::Value::Object(map) = settings {
            self.settings.extend(map);
        }
        self
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a summary is plain data")
    }
}

/// Refuses a run of 0 epochs, which would report an untrained model's figures as its result.
pub fn require_epochs(epochs: usize) -> Result<(), burn_fptt::ConfigError> {
    if epochs == 0 {
        return Err(burn_fptt::ConfigError::new(
            "--epochs",
            0,
            "must be at least 1 (nothing would be trained)",
        ));
    }
    Ok(())
}

/// Says once on stderr which adapter a GPU device runs on, and warns when it is a software one
/// (lavapipe: a GPU backend on the CPU, far slower than the CPU backends). Returns the adapter's
/// name and compiler, `NAME (wgpu<wgsl>)`, for the results JSON (`null` on the CPU backends).
pub fn announce_device(device: &burn::tensor::Device) -> Option<String> {
    let adapter = burn_fptt::adapter(device)?;
    eprintln!(
        "{} adapter: {} ({})",
        burn_fptt::default_backend(),
        adapter.name,
        adapter.compiler
    );
    if adapter.software {
        eprintln!(
            "warning: `{}` is a software adapter (no GPU): expect it to be far slower than the \
             CPU backends; build without `--features wgpu`, or set BURN_FPTT_BACKEND=ndarray",
            adapter.name
        );
    }
    Some(format!("{} ({})", adapter.name, adapter.compiler))
}
