//! Sequence sets as burn datasets, and their batches.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::data::{DataError, SequenceSet};

/// One labelled sequence: `length * features` values, step-major.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceItem {
    /// The values of every step, `[length][features]` flattened.
    pub steps: Vec<f32>,
    /// The class.
    pub label: u8,
}

impl Dataset<SequenceItem> for SequenceSet {
    fn get(&self, index: usize) -> Result<SequenceItem, DatasetError> {
        self.item(index)
            .map(|(steps, label)| SequenceItem {
                steps: steps.to_vec(),
                label,
            })
            .ok_or_else(|| {
                DatasetError::new(DataError::Invalid(format!(
                    "sample {index} is past the end of a set of {} samples",
                    SequenceSet::len(self)
                )))
            })
    }

    fn len(&self) -> usize {
        SequenceSet::len(self)
    }
}

/// A batch of sequences: what the FPTT and BPTT strategies train on.
#[derive(Debug, Clone)]
pub struct SequenceBatch {
    /// `[batch, time, features]`.
    pub inputs: Tensor<3>,
    /// The class of each sequence, `[batch]`.
    pub targets: Tensor<1, Int>,
}

/// Stacks [`SequenceItem`]s of `length` steps with `features` values into a [`SequenceBatch`].
///
/// ```
/// use burn::data::dataloader::batcher::Batcher;
/// use burn_fptt::train::{SequenceBatcher, SequenceItem};
///
/// let batcher = SequenceBatcher::new(3, 2);
/// let item = SequenceItem { steps: vec![0.5; 6], label: 1 };
/// let batch = batcher.batch(vec![item.clone(), item], &burn_fptt::default_device());
/// assert_eq!(batch.inputs.dims(), [2, 3, 2]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceBatcher {
    length: usize,
    features: usize,
}

impl SequenceBatcher {
    /// A batcher for sequences of `length` steps of `features` values.
    pub fn new(length: usize, features: usize) -> Self {
        Self { length, features }
    }

    /// A batcher for the sequences of `set`.
    pub fn for_set(set: &SequenceSet) -> Self {
        Self::new(set.length(), set.features())
    }
}

impl Batcher<SequenceItem, SequenceBatch> for SequenceBatcher {
    /// # Panics
    ///
    /// When `items` is empty or an item does not hold `length * features` values.
    fn batch(&self, items: Vec<SequenceItem>, device: &Device) -> SequenceBatch {
        assert!(!items.is_empty(), "SequenceBatcher: an empty batch");
        let size = self.length * self.features;
        let mut values = Vec::with_capacity(items.len() * size);
        let mut labels = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            assert_eq!(
                item.steps.len(),
                size,
                "SequenceBatcher: item {i} has {} values, expected {} steps x {} features = {size}",
                item.steps.len(),
                self.length,
                self.features
            );
            values.extend_from_slice(&item.steps);
            labels.push(i64::from(item.label));
        }
        let n = items.len();
        SequenceBatch {
            inputs: Tensor::from_data(
                TensorData::new(values, [n, self.length, self.features]),
                device,
            ),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}
