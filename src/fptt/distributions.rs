//! The running per-class, per-step output distributions behind FPTT's distribution loss
//! ([`FpttConfig::distribution_targets`](super::FpttConfig::distribution_targets)).

use std::path::Path;

use burn::store::RecordError;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// For every time step `t` and class `c`, the output distribution (softmax of the scores) that
/// the most recent sample of class `c` had at step `t` when the model got it wrong there.
///
/// These are the soft targets of FPTT's distribution loss: early in a sequence, where the task
/// loss is weak, each prediction is pulled towards what a still-undecided sample of its class
/// looks like at that step, rather than towards the one-hot label. An entry that no
/// misclassified sample has filled yet is all zeros and adds no loss.
///
/// The table grows to the longest sequence seen and lives across batches and epochs; the
/// learners checkpoint it next to the FPTT state.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::fptt::ClassDistributions;
///
/// let device = Default::default();
/// let mut table = ClassDistributions::new(3);
/// let probs = Tensor::<2>::from_floats([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]], &device);
/// let labels = Tensor::<1, Int>::from_ints([2, 1], &device);
/// table.observe(0, probs, labels.clone());
/// // Sample 0 (class 2) was wrong at step 0: its distribution is class 2's entry.
/// // Sample 1 (class 1) was right: class 1's entry stays empty.
/// let targets = table.targets(0, labels).into_data();
/// assert_eq!(targets.to_vec::<f32>().unwrap(), vec![0.6, 0.3, 0.1, 0.0, 0.0, 0.0]);
/// ```
#[derive(Clone, Debug)]
pub struct ClassDistributions {
    classes: usize,
    /// One `[classes, classes]` table per step: row `c` is class `c`'s entry.
    steps: Vec<Tensor<2>>,
}

impl ClassDistributions {
    /// An empty table for `classes` classes.
    pub fn new(classes: usize) -> Self {
        Self {
            classes,
            steps: Vec::new(),
        }
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The number of time steps the table covers so far.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether no step has been observed yet.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    fn grow_to(&mut self, step: usize, device: &Device) {
        while self.steps.len() <= step {
            self.steps
                .push(Tensor::zeros([self.classes, self.classes], device));
        }
    }

    /// The soft target of each sample at `step`: its class's entry, `[batch, classes]` (all
    /// zeros while the entry is empty). Grows the table with empty entries up to `step`.
    ///
    /// # Panics
    ///
    /// When a label is not below the number of classes.
    pub fn targets(&mut self, step: usize, labels: Tensor<1, Int>) -> Tensor<2> {
        self.grow_to(step, &labels.device());
        self.steps[step].clone().select(0, labels)
    }

    /// Records the distributions `probs` (`[batch, classes]`, rows summing to 1) that the
    /// samples of `labels` had at `step`: for each class, the first sample of that class in
    /// the batch whose most probable class is wrong replaces the class's entry. Runs on the
    /// device, without reading anything back.
    ///
    /// # Panics
    ///
    /// When `probs` is not `[labels.len(), classes]`.
    pub fn observe(&mut self, step: usize, probs: Tensor<2>, labels: Tensor<1, Int>) {
        let [batch, classes] = probs.dims();
        assert_eq!(
            [batch, classes],
            [labels.dims()[0], self.classes],
            "ClassDistributions::observe: probs must be [batch, classes = {}]",
            self.classes
        );
        let device = probs.device();
        self.grow_to(step, &device);
        let probs = probs.detach();
        let predicted = probs.clone().argmax(1).reshape([batch]);
        let wrong = predicted
            .not_equal(labels.clone())
            .float()
            .reshape([batch, 1]);
        let label_mask = labels.one_hot::<2>(classes).float();
        let candidates = label_mask * wrong;
        // The first candidate of each class: where the running count down the batch is 1.
        let first = candidates.clone() * candidates.cumsum(0).equal_elem(1.0).float();
        let replacements = first.clone().transpose().matmul(probs);
        let replaced = first.sum_dim(0).reshape([classes, 1]);
        let kept = self.steps[step].clone() * replaced.neg().add_scalar(1.0);
        self.steps[step] = kept + replacements;
    }

    /// The entries of `step` (`[classes, classes]`, row `c` for class `c`), when observed.
    pub fn step(&self, step: usize) -> Option<&Tensor<2>> {
        self.steps.get(step)
    }

    /// Writes the table to the burnpack file `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), RecordError> {
        let data = if self.steps.is_empty() {
            TensorData::new(Vec::<f32>::new(), [0, self.classes, self.classes])
        } else {
            Tensor::stack::<3>(self.steps.clone(), 0).into_data()
        };
        let (bytes, shape, dtype) = data.into_parts();
        let tensor = burn_pack::Tensor::new(TABLE.to_string(), dtype, shape, None, bytes);
        burn_pack::Writer::new(vec![tensor]).write_to_file(path)?;
        Ok(())
    }

    /// Reads a table written by [`save`](Self::save) onto `device`.
    ///
    /// # Errors
    ///
    /// When the file is missing or unreadable, or does not hold a `[steps, classes, classes]`
    /// table.
    pub fn load(path: &Path, device: &Device) -> Result<Self, RecordError> {
        let invalid = |what: String| RecordError::Validation(format!("{}: {what}", path.display()));
        let unreadable = |e: burn_pack::Error| RecordError::Io(format!("{}: {e}", path.display()));
        let tensor = burn_pack::Reader::from_file(path)
            .and_then(burn_pack::Reader::into_tensors)
            .map_err(unreadable)?
            .into_iter()
            .find(|tensor| tensor.name == TABLE)
            .ok_or_else(|| invalid(format!("no `{TABLE}` tensor")))?;
        let (_, dtype, shape, _, bytes) = tensor.into_parts().map_err(unreadable)?;
        let dims = shape.to_vec();
        if dims.len() != 3 || dims[1] != dims[2] || dims[1] == 0 {
            return Err(invalid(format!(
                "holds a table of shape {dims:?}, expected [steps, classes, classes]"
            )));
        }
        let classes = dims[1];
        let data = TensorData::from_bytes(bytes, shape, dtype);
        let steps = if dims[0] == 0 {
            Vec::new()
        } else {
            Tensor::<3>::from_data(data, device)
                .split(1, 0)
                .into_iter()
                .map(|step| step.reshape([classes, classes]))
                .collect()
        };
        Ok(Self { classes, steps })
    }
}

const TABLE: &str = "class_distributions";

/// The distribution loss of one step: `mean over batch and classes of -q log softmax(scores)`
/// against the soft targets `q` (`[batch, classes]`), the reference code's form (a sum over
/// classes divided by their number).
pub(crate) fn distribution_loss(scores: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    (log_softmax(scores, 1) * targets).mean().neg()
}
