//! The adding problem (Hochreiter & Schmidhuber 1997), as the FPTT method's code generates it:
//! a long-memory regression whose answer depends on two steps far apart.
//!
//! Each sequence has `T` steps of two channels: a value drawn from `U[0, 1)` and a marker, 1 at
//! exactly two steps (one drawn uniformly from the first half, `0 .. ⌊T/2⌋`, one from the
//! second, `⌈T/2⌉ .. T`) and 0 elsewhere. The target is the sum of the two marked values.
//! Always predicting the mean, 1, scores the target's variance, `1/6` ([`TRIVIAL_MSE`]).

use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::DataError;
use crate::task::{SequenceBatch, Targets};

/// The mean squared error of always predicting 1, the mean target: `Var(U₁ + U₂) = 1/6`.
pub const TRIVIAL_MSE: f64 = 1.0 / 6.0;

/// A seeded stream of adding-problem batches of sequences of one length.
///
/// ```
/// use burn_fptt::data::adding::AddingProblem;
///
/// let mut problem = AddingProblem::new(100, 7).unwrap();
/// let batch = problem.batch(4, &burn_fptt::default_device());
/// assert_eq!(batch.inputs.dims(), [4, 100, 2]);
/// // The same seed gives the same sequences.
/// let again = AddingProblem::new(100, 7).unwrap().batch(4, &burn_fptt::default_device());
/// assert_eq!(batch.inputs.into_data(), again.inputs.into_data());
/// ```
#[derive(Debug)]
pub struct AddingProblem {
    length: usize,
    rng: StdRng,
}

/// One adding-problem sequence: `steps` is `[length][value, marker]` flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct AddingSequence {
    /// The two channels of every step, step-major.
    pub steps: Vec<f32>,
    /// The two marked steps, first-half one first.
    pub markers: [usize; 2],
    /// The sum of the two marked values.
    pub target: f32,
}

impl AddingProblem {
    /// Sequences of `length` steps drawn from a generator seeded with `seed`.
    ///
    /// # Errors
    ///
    /// [`DataError::AddingLength`] when `length < 2` (two markers need two steps).
    pub fn new(length: usize, seed: u64) -> Result<Self, DataError> {
        if length < 2 {
            return Err(DataError::AddingLength { length });
        }
        Ok(Self {
            length,
            rng: StdRng::seed_from_u64(seed),
        })
    }

    /// Steps per sequence.
    pub fn length(&self) -> usize {
        self.length
    }

    /// The next sequence.
    pub fn sequence(&mut self) -> AddingSequence {
        let t = self.length;
        let mut steps = vec![0.0_f32; 2 * t];
        for step in steps.chunks_mut(2) {
            step[0] = self.rng.random::<f32>();
        }
        let first = self.rng.random_range(0..t / 2);
        let second = self.rng.random_range(t.div_ceil(2)..t);
        steps[2 * first + 1] = 1.0;
        steps[2 * second + 1] = 1.0;
        let target = steps[2 * first] + steps[2 * second];
        AddingSequence {
            steps,
            markers: [first, second],
            target,
        }
    }

    /// The next `size` sequences as a batch: inputs `[size, length, 2]`, targets `[size, 1]`.
    ///
    /// # Panics
    ///
    /// When `size` is 0.
    pub fn batch(&mut self, size: usize, device: &Device) -> SequenceBatch {
        assert!(size > 0, "AddingProblem::batch: a batch of 0 sequences");
        let mut inputs = Vec::with_capacity(size * self.length * 2);
        let mut targets = Vec::with_capacity(size);
        for _ in 0..size {
            let sequence = self.sequence();
            inputs.extend_from_slice(&sequence.steps);
            targets.push(sequence.target);
        }
        SequenceBatch::new(
            Tensor::from_data(TensorData::new(inputs, [size, self.length, 2]), device),
            Targets::Values(Tensor::from_data(
                TensorData::new(targets, [size, 1]),
                device,
            )),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_fall_one_in_each_half_and_the_target_is_their_sum() {
        for length in [2, 3, 7, 100] {
            let mut problem = AddingProblem::new(length, 3).unwrap();
            for _ in 0..200 {
                let s = problem.sequence();
                let [a, b] = s.markers;
                assert!(
                    a < length / 2 && b >= length.div_ceil(2) && b < length,
                    "{a} {b}"
                );
                let markers: Vec<usize> =
                    (0..length).filter(|&i| s.steps[2 * i + 1] == 1.0).collect();
                assert_eq!(markers, vec![a, b]);
                assert!(s.steps.iter().step_by(2).all(|v| (0.0..1.0).contains(v)));
                assert_eq!(s.target, s.steps[2 * a] + s.steps[2 * b]);
            }
        }
    }

    #[test]
    fn predicting_the_mean_scores_about_one_sixth() {
        let mut problem = AddingProblem::new(50, 11).unwrap();
        let n = 20_000;
        let mse: f64 = (0..n)
            .map(|_| (f64::from(problem.sequence().target) - 1.0).powi(2))
            .sum::<f64>()
            / n as f64;
        // Var(U1 + U2) = 1/6; the standard error of the estimate at n = 20 000 is about 0.0015.
        assert!((mse - TRIVIAL_MSE).abs() < 0.006, "{mse}");
    }

    #[test]
    fn too_short_sequences_are_rejected() {
        let err = AddingProblem::new(1, 0).unwrap_err().to_string();
        assert!(err.contains("length 1"), "{err}");
    }
}
