//! An in-memory set of labelled sequences and its batches.

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::DataError;

/// Labelled sequences of equal length: `len()` samples of `length` steps with `features` values
/// each, and a class per sample.
///
/// ```
/// use burn_fptt::data::SequenceSet;
///
/// let set = SequenceSet::new(vec![0.0; 2 * 3 * 4], vec![0, 1], 3, 4, 2).unwrap();
/// assert_eq!((set.len(), set.length(), set.features()), (2, 3, 4));
/// let device = burn_fptt::default_device();
/// let (x, y) = set.batches(2, None, &device).next().unwrap();
/// assert_eq!(x.dims(), [2, 3, 4]);
/// assert_eq!(y.dims(), [2]);
/// ```
#[derive(Debug, Clone)]
pub struct SequenceSet {
    inputs: Vec<f32>,
    labels: Vec<u8>,
    length: usize,
    features: usize,
    classes: usize,
}

impl SequenceSet {
    /// A set from flat `inputs` (`[sample][step][feature]`, row-major) and labels.
    ///
    /// # Errors
    ///
    /// When `length` or `features` is 0, `inputs` does not hold `labels.len() * length *
    /// features` values, or a label is not below `classes`.
    pub fn new(
        inputs: Vec<f32>,
        labels: Vec<u8>,
        length: usize,
        features: usize,
        classes: usize,
    ) -> Result<Self, DataError> {
        if length == 0 || features == 0 {
            return Err(DataError::EmptySequences { length, features });
        }
        if inputs.len() != labels.len() * length * features {
            return Err(DataError::InputCount {
                labels: labels.len(),
                length,
                features,
                inputs: inputs.len(),
            });
        }
        if let Some((i, label)) = labels
            .iter()
            .enumerate()
            .find(|(_, l)| usize::from(**l) >= classes)
        {
            return Err(DataError::Label {
                sample: i,
                label: *label,
                classes,
            });
        }
        Ok(Self {
            inputs,
            labels,
            length,
            features,
            classes,
        })
    }

    /// The steps (`length * features` values, step-major) and label of sample `index`, or
    /// `None` past the end.
    pub fn item(&self, index: usize) -> Option<(&[f32], u8)> {
        let label = *self.labels.get(index)?;
        let size = self.length * self.features;
        Some((&self.inputs[index * size..(index + 1) * size], label))
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Steps per sequence.
    pub fn length(&self) -> usize {
        self.length
    }

    /// Values per step.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    fn sample(&self, i: usize) -> &[f32] {
        let size = self.length * self.features;
        &self.inputs[i * size..(i + 1) * size]
    }

    /// The samples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut inputs = Vec::with_capacity(indices.len() * self.length * self.features);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            inputs.extend_from_slice(self.sample(i));
            labels.push(self.labels[i]);
        }
        Self {
            inputs,
            labels,
            ..self.clone_shape()
        }
    }

    fn clone_shape(&self) -> Self {
        Self {
            inputs: Vec::new(),
            labels: Vec::new(),
            length: self.length,
            features: self.features,
            classes: self.classes,
        }
    }

    /// The first `n` samples (all when fewer).
    pub fn take(&self, n: usize) -> Self {
        let indices: Vec<usize> = (0..n.min(self.len())).collect();
        self.select(&indices)
    }

    /// A seeded shuffle split into `(train, test)` with `test_fraction` of the samples in test.
    pub fn split(&self, test_fraction: f64, seed: u64) -> (Self, Self) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let test = ((self.len() as f64) * test_fraction).round() as usize;
        (self.select(&order[test..]), self.select(&order[..test]))
    }

    /// The same samples with their time steps reordered: step `t` of the result is step
    /// `permutation[t]` of the original (permuted sequential MNIST).
    ///
    /// # Errors
    ///
    /// When `permutation` is not a permutation of `0..length`.
    pub fn permute_steps(&self, permutation: &[usize]) -> Result<Self, DataError> {
        let mut sorted = permutation.to_vec();
        sorted.sort_unstable();
        if !sorted.iter().copied().eq(0..self.length) {
            return Err(DataError::Permutation {
                length: self.length,
            });
        }
        let f = self.features;
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for i in 0..self.len() {
            let sample = self.sample(i);
            for &p in permutation {
                inputs.extend_from_slice(&sample[p * f..(p + 1) * f]);
            }
        }
        Ok(Self {
            inputs,
            labels: self.labels.clone(),
            ..self.clone_shape()
        })
    }

    /// Batches of `(inputs [batch, length, features], labels [batch])` on `device`, in order or
    /// shuffled with the given seed. The last batch may be smaller.
    ///
    /// # Panics
    ///
    /// When `batch_size` is 0.
    pub fn batches(
        &self,
        batch_size: usize,
        shuffle: Option<u64>,
        device: &Device,
    ) -> impl Iterator<Item = (Tensor<3>, Tensor<1, Int>)> + '_ {
        assert!(
            batch_size > 0,
            "SequenceSet::batches: batch_size must be at least 1"
        );
        let mut order: Vec<usize> = (0..self.len()).collect();
        if let Some(seed) = shuffle {
            order.shuffle(&mut StdRng::seed_from_u64(seed));
        }
        let device = device.clone();
        let chunks: Vec<Vec<usize>> = order.chunks(batch_size).map(<[usize]>::to_vec).collect();
        chunks.into_iter().map(move |indices| {
            let part = self.select(&indices);
            let n = indices.len();
            let x = Tensor::<3>::from_data(
                TensorData::new(part.inputs, [n, self.length, self.features]),
                &device,
            );
            let labels: Vec<i64> = part.labels.iter().map(|&l| i64::from(l)).collect();
            let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), &device);
            (x, y)
        })
    }
}
