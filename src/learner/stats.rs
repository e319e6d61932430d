//! What training and evaluation measured: per batch, per epoch, per epoch of `fit`.

/// What one batch of training (or evaluation) measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchStats {
    /// The task loss of the readouts, averaged over the predictions: for one target per
    /// sequence, the loss at each sequence's last step averaged over the batch; for one target
    /// per step, averaged over every step of every sequence (padding left out).
    pub loss: f64,
    /// Predictions that are right, for class targets; `None` for real-valued targets.
    pub correct: Option<usize>,
    /// Predictions scored: the sequences, or their steps for one target per step.
    pub predictions: usize,
    /// Sequences in the batch.
    pub samples: usize,
    /// Optimizer updates taken on this batch.
    pub updates: usize,
}

/// Loss and accuracy over a set of batches.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EpochStats {
    /// Mean task loss per prediction (see [`BatchStats::loss`]).
    pub loss: f64,
    /// Fraction of predictions that are right, for class targets; `None` for real-valued ones.
    pub accuracy: Option<f64>,
    /// Number of sequences.
    pub samples: usize,
    /// Number of predictions scored.
    pub predictions: usize,
    /// Optimizer updates taken.
    pub updates: usize,
}

impl EpochStats {
    /// Adds one batch.
    pub fn add(&mut self, batch: BatchStats) {
        let before = self.predictions as f64;
        let total = self.predictions + batch.predictions;
        self.loss = (self.loss * before + batch.loss * batch.predictions as f64) / total as f64;
        self.accuracy = batch
            .correct
            .map(|correct| (self.accuracy.unwrap_or(0.0) * before + correct as f64) / total as f64);
        self.predictions = total;
        self.samples += batch.samples;
        self.updates += batch.updates;
    }
}

/// One epoch of [`fit`](super::fit): training and test figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochReport {
    /// Epoch number, 1-based.
    pub epoch: usize,
    /// Figures on the training batches, measured while training.
    pub train: EpochStats,
    /// Figures on the test set after the epoch (after the rule's end-of-epoch step, such as
    /// FPTT's `W <- W̄`).
    pub test: EpochStats,
    /// Seconds since `fit` started.
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_stats_weight_batches_by_their_predictions() {
        let mut stats = EpochStats::default();
        stats.add(BatchStats {
            loss: 1.0,
            correct: Some(3),
            predictions: 4,
            samples: 4,
            updates: 2,
        });
        stats.add(BatchStats {
            loss: 4.0,
            correct: Some(0),
            predictions: 2,
            samples: 2,
            updates: 1,
        });
        // (1 * 4 + 4 * 2) / 6 = 2; 3 right of 6.
        assert_eq!(stats.loss, 2.0);
        assert_eq!(stats.accuracy, Some(0.5));
        assert_eq!((stats.samples, stats.predictions, stats.updates), (6, 6, 3));

        let mut regression = EpochStats::default();
        regression.add(BatchStats {
            loss: 0.5,
            correct: None,
            predictions: 8,
            samples: 8,
            updates: 1,
        });
        assert_eq!(regression.accuracy, None);
    }
}
