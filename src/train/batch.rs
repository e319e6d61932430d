//! Sequence sets as burn datasets, and their batches.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::data::{DataError, SequenceSet};
pub use crate::task::SequenceBatch;
use crate::task::Targets;

/// The target of one [`SequenceItem`].
#[derive(Debug, Clone, PartialEq)]
pub enum ItemTarget {
    /// A class for the sequence.
    Class(u8),
    /// Real values for the sequence (regression).
    Values(Vec<f32>),
    /// A class per step.
    StepClasses(Vec<u8>),
    /// Real values per step, `[steps][outputs]` flattened.
    StepValues(Vec<f32>),
}

impl ItemTarget {
    fn kind(&self) -> &'static str {
        match self {
            Self::Class(_) => "a class",
            Self::Values(_) => "values",
            Self::StepClasses(_) => "a class per step",
            Self::StepValues(_) => "values per step",
        }
    }
}

/// One sequence and its target: `steps` holds `length * features` values, step-major. A
/// sequence shorter than the batcher's length is padded (and its length kept in the batch).
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceItem {
    /// The values of every step, `[length][features]` flattened.
    pub steps: Vec<f32>,
    /// What the model should output.
    pub target: ItemTarget,
}

impl Dataset<SequenceItem> for SequenceSet {
    fn get(&self, index: usize) -> Result<SequenceItem, DatasetError> {
        self.item(index)
            .map(|(steps, label)| SequenceItem {
                steps: steps.to_vec(),
                target: ItemTarget::Class(label),
            })
            .ok_or_else(|| {
                DatasetError::new(DataError::OutOfRange {
                    index,
                    len: SequenceSet::len(self),
                })
            })
    }

    fn len(&self) -> usize {
        SequenceSet::len(self)
    }
}

/// Stacks [`SequenceItem`]s of up to `length` steps with `features` values into a
/// [`SequenceBatch`], padding the shorter ones with zeros (their lengths go into the batch).
///
/// ```
/// use burn::data::dataloader::batcher::Batcher;
/// use burn_fptt::train::{ItemTarget, SequenceBatcher, SequenceItem};
///
/// let batcher = SequenceBatcher::new(3, 2);
/// let item = SequenceItem { steps: vec![0.5; 6], target: ItemTarget::Class(1) };
/// let short = SequenceItem { steps: vec![0.5; 4], target: ItemTarget::Class(0) };
/// let batch = batcher.batch(vec![item, short], &burn_fptt::default_device());
/// assert_eq!(batch.inputs.dims(), [2, 3, 2]);
/// assert_eq!(batch.lengths, Some(vec![3, 2]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceBatcher {
    length: usize,
    features: usize,
}

impl SequenceBatcher {
    /// A batcher for sequences of up to `length` steps of `features` values.
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
    /// When `items` is empty, an item's values are not a whole number of steps between 1 and
    /// `length`, or the items' targets are not all of one kind and width.
    fn batch(&self, items: Vec<SequenceItem>, device: &Device) -> SequenceBatch {
        assert!(!items.is_empty(), "SequenceBatcher: an empty batch");
        let (length, features) = (self.length, self.features);
        let size = length * features;
        let n = items.len();
        let mut values = Vec::with_capacity(n * size);
        let mut lengths = Vec::with_capacity(n);
        for (i, item) in items.iter().enumerate() {
            let steps = item.steps.len() / features;
            assert!(
                item.steps.len() % features == 0 && (1..=length).contains(&steps),
                "SequenceBatcher: item {i} has {} values, expected 1 to {length} steps x {features} features",
                item.steps.len(),
            );
            values.extend_from_slice(&item.steps);
            values.resize((i + 1) * size, 0.0);
            lengths.push(steps);
        }
        let first = &items[0].target;
        let mismatch = |i: usize, item: &ItemTarget| -> ! {
            panic!(
                "SequenceBatcher: item {i} has {} as its target (or one of another size), item 0 has {}",
                item.kind(),
                first.kind()
            )
        };
        let targets = match first {
            ItemTarget::Class(_) => {
                let labels: Vec<i64> = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| match item.target {
                        ItemTarget::Class(label) => i64::from(label),
                        ref other => mismatch(i, other),
                    })
                    .collect();
                Targets::Classes(Tensor::<1, Int>::from_data(
                    TensorData::new(labels, [n]),
                    device,
                ))
            }
            ItemTarget::Values(first_values) => {
                let width = first_values.len();
                let mut all = Vec::with_capacity(n * width);
                for (i, item) in items.iter().enumerate() {
                    match &item.target {
                        ItemTarget::Values(v) if v.len() == width => all.extend_from_slice(v),
                        other => mismatch(i, other),
                    }
                }
                Targets::Values(Tensor::from_data(TensorData::new(all, [n, width]), device))
            }
            ItemTarget::StepClasses(_) => {
                let mut all = Vec::with_capacity(n * length);
                for (i, item) in items.iter().enumerate() {
                    match &item.target {
                        ItemTarget::StepClasses(c) if c.len() == lengths[i] => {
                            all.extend(c.iter().map(|&c| i64::from(c)));
                            all.resize((i + 1) * length, 0);
                        }
                        other => mismatch(i, other),
                    }
                }
                Targets::StepClasses(Tensor::<2, Int>::from_data(
                    TensorData::new(all, [n, length]),
                    device,
                ))
            }
            ItemTarget::StepValues(first_values) => {
                let width = first_values.len() / lengths[0].max(1);
                let mut all = Vec::with_capacity(n * length * width);
                for (i, item) in items.iter().enumerate() {
                    match &item.target {
                        ItemTarget::StepValues(v) if v.len() == lengths[i] * width => {
                            all.extend_from_slice(v);
                            all.resize((i + 1) * length * width, 0.0);
                        }
                        other => mismatch(i, other),
                    }
                }
                Targets::StepValues(Tensor::from_data(
                    TensorData::new(all, [n, length, width]),
                    device,
                ))
            }
        };
        let batch = SequenceBatch::new(
            Tensor::from_data(TensorData::new(values, [n, length, features]), device),
            targets,
        );
        if lengths.iter().all(|&l| l == length) {
            batch
        } else {
            batch.with_lengths(lengths)
        }
    }
}
