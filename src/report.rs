//! Facts that results files record: peak memory, the commit, the time.

/// Peak resident memory of this process so far, in MiB (Linux `VmHWM`); `None` elsewhere.
pub fn peak_rss_mib() -> Option<f64> {
    proc_status_mib("VmHWM:")
}

/// Resident memory of this process now, in MiB (Linux `VmRSS`); `None` elsewhere.
pub fn rss_mib() -> Option<f64> {
    proc_status_mib("VmRSS:")
}

fn proc_status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The git commit this crate was built from (`-dirty` when the tree had uncommitted changes to
/// tracked files), or `"unknown"` outside a git checkout.
pub fn git_commit() -> String {
    env!("BURN_FPTT_COMMIT").to_string()
}

/// One line of training progress for an epoch of `epochs`.
pub fn epoch_line(report: &crate::learner::EpochReport, epochs: usize) -> String {
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
        last: crate::learner::EpochStats,
        epochs: usize,
        started: std::time::Instant,
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
            peak_rss_mib: peak_rss_mib(),
            seed,
            backend: crate::default_backend(),
            commit: git_commit(),
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
