//! What a model is trained to do: the targets of a batch of sequences, their lengths, and the
//! loss of one step.
//!
//! A [`SequenceBatch`] holds the inputs, the [`Targets`] (a class or a real vector per
//! sequence, or one per step) and, for sequences of different lengths padded to one length,
//! the length of each. A [`StepLoss`] turns one step's outputs and targets into a loss per
//! sample; the learning rule says which steps count and with what weight
//! ([`LossSchedule`](crate::LossSchedule)). [`DefaultLoss`] is cross-entropy for classes and
//! mean squared error for real targets; [`loss_fn`] makes a loss of one's own from a closure.
//!
//! ```
//! use burn::prelude::*;
//! use burn_fptt::task::{SequenceBatch, Targets};
//!
//! let device = burn_fptt::default_device();
//! // Two sequences of 3 steps, the second only 2 steps long (its last step is padding),
//! // each with one real-valued target.
//! let x = Tensor::<3>::ones([2, 3, 1], &device);
//! let y = Tensor::<2>::from_floats([[0.5], [1.5]], &device);
//! let batch = SequenceBatch::new(x, Targets::Values(y)).with_lengths(vec![3, 2]);
//! batch.validate().unwrap();
//! assert_eq!(batch.length_of(1), 2);
//! ```

use std::fmt;

use burn::tensor::{Bool, Int, Tensor, TensorData};

use crate::loss::{cross_entropy, mean_squared_error, weighted_cross_entropy};

/// The targets of a batch of `batch` sequences of `time` steps.
#[derive(Debug, Clone)]
pub enum Targets {
    /// One class per sequence, `[batch]` (classification).
    Classes(Tensor<1, Int>),
    /// One real vector per sequence, `[batch, outputs]` (regression).
    Values(Tensor<2>),
    /// One class per step, `[batch, time]` (sequence labelling).
    StepClasses(Tensor<2, Int>),
    /// One real vector per step, `[batch, time, outputs]`.
    StepValues(Tensor<3>),
}

impl From<Tensor<1, Int>> for Targets {
    fn from(classes: Tensor<1, Int>) -> Self {
        Self::Classes(classes)
    }
}

impl From<Tensor<2>> for Targets {
    fn from(values: Tensor<2>) -> Self {
        Self::Values(values)
    }
}

impl From<Tensor<2, Int>> for Targets {
    fn from(classes: Tensor<2, Int>) -> Self {
        Self::StepClasses(classes)
    }
}

impl From<Tensor<3>> for Targets {
    fn from(values: Tensor<3>) -> Self {
        Self::StepValues(values)
    }
}

impl Targets {
    /// Whether there is one target per step (rather than one per sequence).
    pub fn per_step(&self) -> bool {
        matches!(self, Self::StepClasses(_) | Self::StepValues(_))
    }

    /// Whether the targets are classes, so that predictions are right or wrong (accuracy).
    pub fn are_classes(&self) -> bool {
        matches!(self, Self::Classes(_) | Self::StepClasses(_))
    }

    /// `"classes"`, `"values"`, `"per-step classes"` or `"per-step values"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Classes(_) => "classes",
            Self::Values(_) => "values",
            Self::StepClasses(_) => "per-step classes",
            Self::StepValues(_) => "per-step values",
        }
    }

    /// The target of step `t`: the sequence's target, or the step's own.
    pub fn at(&self, t: usize) -> StepTarget {
        match self {
            Self::Classes(classes) => StepTarget::Classes(classes.clone()),
            Self::Values(values) => StepTarget::Values(values.clone()),
            Self::StepClasses(classes) => {
                let [batch, _] = classes.dims();
                StepTarget::Classes(classes.clone().slice([0..batch, t..t + 1]).reshape([batch]))
            }
            Self::StepValues(values) => {
                let [batch, _, width] = values.dims();
                StepTarget::Values(
                    values
                        .clone()
                        .slice([0..batch, t..t + 1, 0..width])
                        .reshape([batch, width]),
                )
            }
        }
    }

    /// The targets without autodiff (for metrics).
    pub fn without_autodiff(self) -> Self {
        match self {
            Self::Classes(t) => Self::Classes(t.without_autodiff()),
            Self::Values(t) => Self::Values(t.without_autodiff()),
            Self::StepClasses(t) => Self::StepClasses(t.without_autodiff()),
            Self::StepValues(t) => Self::StepValues(t.without_autodiff()),
        }
    }

    /// Checks the shape against `batch` sequences of `time` steps, and that real targets are
    /// finite.
    ///
    /// # Errors
    ///
    /// A [`BatchError`] naming the expected and the given shape, or the first non-finite value.
    pub fn validate(&self, batch: usize, time: usize) -> Result<(), BatchError> {
        let shape_error = |expected: String, got: Vec<usize>| {
            Err(BatchError::TargetShape {
                kind: self.kind(),
                expected,
                got,
            })
        };
        match self {
            Self::Classes(t) if t.dims() != [batch] => {
                shape_error(format!("[batch = {batch}]"), t.dims().to_vec())
            }
            Self::StepClasses(t) if t.dims() != [batch, time] => shape_error(
                format!("[batch = {batch}, time = {time}]"),
                t.dims().to_vec(),
            ),
            Self::Values(t) if t.dims()[0] != batch || t.dims()[1] == 0 => shape_error(
                format!("[batch = {batch}, outputs >= 1]"),
                t.dims().to_vec(),
            ),
            Self::StepValues(t)
                if t.dims()[0] != batch || t.dims()[1] != time || t.dims()[2] == 0 =>
            {
                shape_error(
                    format!("[batch = {batch}, time = {time}, outputs >= 1]"),
                    t.dims().to_vec(),
                )
            }
            Self::Values(t) => check_finite(t.clone().reshape([-1])),
            Self::StepValues(t) => check_finite(t.clone().reshape([-1])),
            Self::Classes(_) | Self::StepClasses(_) => Ok(()),
        }
    }
}

/// The first non-finite value of `values`, as an error.
fn check_finite(values: Tensor<1>) -> Result<(), BatchError> {
    let finite = values.clone().is_finite().all().into_scalar::<bool>();
    if finite {
        return Ok(());
    }
    let host = values.into_data().try_to_vec::<f32>().unwrap_or_default();
    let (index, value) = host
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite())
        .map(|(i, v)| (i, f64::from(*v)))
        .unwrap_or((0, f64::NAN));
    Err(BatchError::NonFiniteTarget { index, value })
}

/// The target of one step, as a [`StepLoss`] sees it.
#[derive(Debug, Clone)]
pub enum StepTarget {
    /// A class per sample, `[batch]`.
    Classes(Tensor<1, Int>),
    /// A real vector per sample, `[batch, outputs]`.
    Values(Tensor<2>),
}

impl StepTarget {
    /// `"classes"` or `"values"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Classes(_) => "classes",
            Self::Values(_) => "values",
        }
    }
}

/// A batch of sequences that cannot be trained or evaluated on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    /// The targets do not have the shape the inputs call for.
    #[error("targets must be {expected}, got {got:?} ({kind})")]
    TargetShape {
        /// The kind of targets.
        kind: &'static str,
        /// The shape they must have.
        expected: String,
        /// The shape they have.
        got: Vec<usize>,
    },
    /// A real-valued target is NaN or infinite.
    #[error("target value {index} (flattened) is {value}: regression targets must be finite")]
    NonFiniteTarget {
        /// Its index in the flattened targets.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The loss cannot use this kind of target.
    #[error("the loss `{loss}` takes {takes} targets, got {got}")]
    TargetKind {
        /// The loss.
        loss: String,
        /// The kind it takes.
        takes: &'static str,
        /// The kind it got.
        got: &'static str,
    },
    /// The model's outputs do not fit the targets.
    #[error("the model outputs {outputs} values per step, but the targets have {targets}")]
    OutputWidth {
        /// Values the model outputs per step.
        outputs: usize,
        /// Values per target.
        targets: usize,
    },
    /// A length mask that is not `[batch, time]`.
    #[error("sequence lengths: the mask must be [batch = {batch}, time = {time}], got {got:?}")]
    MaskShape {
        /// Sequences in the batch.
        batch: usize,
        /// Steps of the inputs.
        time: usize,
        /// The mask's shape.
        got: Vec<usize>,
    },
    /// A row of a length mask that is not 1 at the sequence's steps, then 0 at its padding.
    #[error(
        "sequence lengths: mask row {row} is not 1 at the sequence's steps then 0 at its padding: {values:?}"
    )]
    MaskRow {
        /// The row (sequence) of the mask.
        row: usize,
        /// Its values.
        values: Vec<f32>,
    },
    /// A number of lengths other than the number of sequences.
    #[error("sequence lengths: {lengths} lengths for a batch of {batch} sequences")]
    LengthCount {
        /// Lengths given.
        lengths: usize,
        /// Sequences in the batch.
        batch: usize,
    },
    /// A length of 0 or past the padded length.
    #[error(
        "sequence lengths: sequence {sequence} has length {length}, which must be in 1..={time} (the padded length)"
    )]
    LengthRange {
        /// The sequence.
        sequence: usize,
        /// Its length.
        length: usize,
        /// The padded length.
        time: usize,
    },
    /// The inputs have no time steps.
    #[error("the inputs have 0 time steps")]
    Empty,
    /// The learning rule cannot train on this batch.
    #[error("{rule}: {reason}")]
    Unsupported {
        /// The rule, or its setting, that refuses.
        rule: String,
        /// Why.
        reason: String,
    },
}

/// A batch of sequences to train or evaluate on: inputs `[batch, time, features]`, their
/// targets and, when the sequences have different lengths, the length of each (its steps from
/// that length on are padding: they carry no loss, no gradient and no update, and the
/// readout of a sequence is taken at its own last step).
#[derive(Debug, Clone)]
pub struct SequenceBatch {
    /// `[batch, time, features]`.
    pub inputs: Tensor<3>,
    /// What the model is trained to output.
    pub targets: Targets,
    /// The length of each sequence, `None` when all have `time` steps.
    pub lengths: Option<Vec<usize>>,
}

impl SequenceBatch {
    /// A batch of sequences of equal length.
    pub fn new(inputs: Tensor<3>, targets: impl Into<Targets>) -> Self {
        Self {
            inputs,
            targets: targets.into(),
            lengths: None,
        }
    }

    /// The same batch with the length of each sequence (the rest of each is padding).
    pub fn with_lengths(mut self, lengths: Vec<usize>) -> Self {
        self.lengths = Some(lengths);
        self
    }

    /// The same batch with the lengths read from a mask `[batch, time]` that is 1 at the steps
    /// of each sequence and 0 at its padding (which must come after all its steps).
    ///
    /// # Errors
    ///
    /// [`BatchError::MaskShape`] when the mask is not `[batch, time]`, [`BatchError::MaskRow`]
    /// when a row is not of that form.
    pub fn with_mask(self, mask: Tensor<2>) -> Result<Self, BatchError> {
        let [batch, time, _] = self.inputs.dims();
        if mask.dims() != [batch, time] {
            return Err(BatchError::MaskShape {
                batch,
                time,
                got: mask.dims().to_vec(),
            });
        }
        let values: Vec<f32> = mask.into_data().iter::<f32>().collect();
        let mut lengths = Vec::with_capacity(batch);
        for (b, row) in values.chunks(time).enumerate() {
            let length = row.iter().take_while(|v| **v == 1.0).count();
            if row[length..].iter().any(|v| *v != 0.0) {
                return Err(BatchError::MaskRow {
                    row: b,
                    values: row.to_vec(),
                });
            }
            lengths.push(length);
        }
        Ok(self.with_lengths(lengths))
    }

    /// Number of sequences.
    pub fn batch_size(&self) -> usize {
        self.inputs.dims()[0]
    }

    /// Steps of the longest sequence (the padded length).
    pub fn time(&self) -> usize {
        self.inputs.dims()[1]
    }

    /// The length of sequence `b`.
    pub fn length_of(&self, b: usize) -> usize {
        self.lengths.as_ref().map_or(self.time(), |l| l[b])
    }

    /// The lengths when they differ from the padded length, `None` when every sequence is
    /// whole.
    pub(crate) fn uneven_lengths(&self) -> Option<&[usize]> {
        let time = self.time();
        self.lengths
            .as_deref()
            .filter(|lengths| lengths.iter().any(|&l| l != time))
    }

    /// Checks the targets and lengths against the inputs.
    ///
    /// # Errors
    ///
    /// A [`BatchError`] naming what does not fit: no time steps, targets of the wrong shape or
    /// with non-finite values, lengths of the wrong count, 0 or past the padded length.
    pub fn validate(&self) -> Result<(), BatchError> {
        let [batch, time, _] = self.inputs.dims();
        if time == 0 {
            return Err(BatchError::Empty);
        }
        self.targets.validate(batch, time)?;
        if let Some(lengths) = &self.lengths {
            if lengths.len() != batch {
                return Err(BatchError::LengthCount {
                    lengths: lengths.len(),
                    batch,
                });
            }
            if let Some((b, &length)) = lengths
                .iter()
                .enumerate()
                .find(|(_, l)| **l == 0 || **l > time)
            {
                return Err(BatchError::LengthRange {
                    sequence: b,
                    length,
                    time,
                });
            }
        }
        Ok(())
    }

    /// The samples whose last step is `t`, as a `[batch, width]` mask (for the readouts), or
    /// `None` when no sequence ends at `t`.
    pub(crate) fn ending_at(&self, t: usize, width: usize) -> Option<Tensor<2, Bool>> {
        let lengths = self.lengths.as_ref()?;
        if !lengths.iter().any(|&l| l == t + 1) {
            return None;
        }
        let values: Vec<bool> = lengths
            .iter()
            .flat_map(|&l| std::iter::repeat_n(l == t + 1, width))
            .collect();
        Some(Tensor::from_data(
            TensorData::new(values, [lengths.len(), width]),
            &self.inputs.device(),
        ))
    }
}

impl From<(Tensor<3>, Tensor<1, Int>)> for SequenceBatch {
    fn from((inputs, classes): (Tensor<3>, Tensor<1, Int>)) -> Self {
        Self::new(inputs, classes)
    }
}

/// The loss of one step: the model's outputs `[batch, outputs]` against the step's target.
///
/// Implement it for a loss of one's own, or make one from a closure with [`loss_fn`]. The
/// learners weight each step's loss by the rule's [`LossSchedule`](crate::LossSchedule) and,
/// for sequences of different lengths, leave out the padded steps.
pub trait StepLoss: Send + Sync {
    /// A short name, for messages.
    fn name(&self) -> &str;

    /// The loss of each sample, `[batch]`.
    ///
    /// # Errors
    ///
    /// A [`BatchError`] when the outputs or the kind of target do not fit this loss.
    fn per_sample(&self, outputs: Tensor<2>, target: &StepTarget) -> Result<Tensor<1>, BatchError>;

    /// The mean over the batch, `[1]`; override it only for a cheaper form of the same value.
    ///
    /// # Errors
    ///
    /// As [`per_sample`](Self::per_sample).
    fn mean(&self, outputs: Tensor<2>, target: &StepTarget) -> Result<Tensor<1>, BatchError> {
        Ok(self.per_sample(outputs, target)?.mean())
    }

    /// [`mean`](Self::mean) times `weight` (a step's weight in the loss schedule), `[1]`;
    /// override it only for a cheaper form of the same value (the cross-entropy takes the weight
    /// into its one graph node on wgpu).
    ///
    /// # Errors
    ///
    /// As [`per_sample`](Self::per_sample).
    fn weighted_mean(
        &self,
        outputs: Tensor<2>,
        target: &StepTarget,
        weight: f64,
    ) -> Result<Tensor<1>, BatchError> {
        Ok(self.mean(outputs, target)? * weight)
    }
}

impl fmt::Debug for dyn StepLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StepLoss({})", self.name())
    }
}

/// Cross-entropy for class targets, mean squared error for real ones: the loss the learners
/// use unless told otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultLoss;

/// Mean cross-entropy of unnormalised scores against classes; takes class targets only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrossEntropy;

/// Mean squared error of real outputs against real targets of the same width.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeanSquaredError;

impl StepLoss for CrossEntropy {
    fn name(&self) -> &str {
        "cross-entropy"
    }

    fn per_sample(&self, outputs: Tensor<2>, target: &StepTarget) -> Result<Tensor<1>, BatchError> {
        let classes = self.classes(target)?;
        let [batch, _] = outputs.dims();
        Ok(burn::tensor::activation::log_softmax(outputs, 1)
            .gather(1, classes.clone().reshape([batch, 1]))
            .reshape([batch])
            .neg())
    }

    fn mean(&self, outputs: Tensor<2>, target: &StepTarget) -> Result<Tensor<1>, BatchError> {
        Ok(cross_entropy(outputs, self.classes(target)?.clone()))
    }

    fn weighted_mean(
        &self,
        outputs: Tensor<2>,
        target: &StepTarget,
        weight: f64,
    ) -> Result<Tensor<1>, BatchError> {
        let classes = self.classes(target)?.clone();
        Ok(weighted_cross_entropy(outputs, classes, weight))
    }
}

impl CrossEntropy {
    fn classes<'a>(&self, target: &'a StepTarget) -> Result<&'a Tensor<1, Int>, BatchError> {
        match target {
            StepTarget::Classes(classes) => Ok(classes),
            other => Err(BatchError::TargetKind {
                loss: self.name().to_string(),
                takes: "class",
                got: other.kind(),
            }),
        }
    }
}

impl StepLoss for MeanSquaredError {
    fn name(&self) -> &str {
        "mean squared error"
    }

    fn per_sample(&self, outputs: Tensor<2>, target: &StepTarget) -> Result<Tensor<1>, BatchError> {
        let values = self.values(&outputs, target)?;
        let [batch, _] = outputs.dims();
        Ok((outputs - values.clone())
            .square()
            .mean_dim(1)
            .reshape([batch]))
    }

    fn mean(&self, outputs: Tensor<2>, target: &StepTarget) -> Result<Tensor<1>, BatchError> {
        let values = self.values(&outputs, target)?;
        Ok(mean_squared_error(outputs, values.clone()))
    }
}

impl MeanSquaredError {
    fn values<'a>(
        &self,
        outputs: &Tensor<2>,
        target: &'a StepTarget,
    ) -> Result<&'a Tensor<2>, BatchError> {
        match target {
            StepTarget::Values(values) if values.dims()[1] == outputs.dims()[1] => Ok(values),
            StepTarget::Values(values) => Err(BatchError::OutputWidth {
                outputs: outputs.dims()[1],
                targets: values.dims()[1],
            }),
            other => Err(BatchError::TargetKind {
                loss: self.name().to_string(),
                takes: "real-valued",
                got: other.kind(),
            }),
        }
    }
}

impl StepLoss for DefaultLoss {
    fn name(&self) -> &str {
        "default (cross-entropy for classes, mean squared error for values)"
    }

    fn per_sample(&self, outputs: Tensor<2>, target: &StepTarget) -> Result<Tensor<1>, BatchError> {
        match target {
            StepTarget::Classes(_) => CrossEntropy.per_sample(outputs, target),
            StepTarget::Values(_) => MeanSquaredError.per_sample(outputs, target),
        }
    }

    fn mean(&self, outputs: Tensor<2>, target: &StepTarget) -> Result<Tensor<1>, BatchError> {
        match target {
            StepTarget::Classes(_) => CrossEntropy.mean(outputs, target),
            StepTarget::Values(_) => MeanSquaredError.mean(outputs, target),
        }
    }

    fn weighted_mean(
        &self,
        outputs: Tensor<2>,
        target: &StepTarget,
        weight: f64,
    ) -> Result<Tensor<1>, BatchError> {
        match target {
            StepTarget::Classes(_) => CrossEntropy.weighted_mean(outputs, target, weight),
            StepTarget::Values(_) => MeanSquaredError.weighted_mean(outputs, target, weight),
        }
    }
}

/// A [`StepLoss`] from a closure that maps a step's outputs `[batch, outputs]` and target to
/// the loss of each sample, `[batch]`.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::task::{StepLoss, StepTarget, loss_fn};
///
/// // Mean absolute error.
/// let l1 = loss_fn("l1", |outputs: Tensor<2>, target: &StepTarget| match target {
///     StepTarget::Values(y) => (outputs - y.clone()).abs().mean_dim(1).reshape([-1]),
///     StepTarget::Classes(_) => panic!("l1 takes real targets"),
/// });
/// let device = burn_fptt::default_device();
/// let outputs = Tensor::<2>::from_floats([[1.0], [3.0]], &device);
/// let target = StepTarget::Values(Tensor::from_floats([[0.5], [1.0]], &device));
/// let loss = l1.mean(outputs, &target).unwrap().into_scalar::<f32>();
/// assert_eq!(loss, 1.25);
/// ```
pub fn loss_fn<F>(name: &str, per_sample: F) -> FnLoss<F>
where
    F: Fn(Tensor<2>, &StepTarget) -> Tensor<1> + Send + Sync,
{
    FnLoss {
        name: name.to_string(),
        per_sample,
    }
}

/// A [`StepLoss`] made by [`loss_fn`].
pub struct FnLoss<F> {
    name: String,
    per_sample: F,
}

impl<F> StepLoss for FnLoss<F>
where
    F: Fn(Tensor<2>, &StepTarget) -> Tensor<1> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn per_sample(&self, outputs: Tensor<2>, target: &StepTarget) -> Result<Tensor<1>, BatchError> {
        let [batch, _] = outputs.dims();
        let loss = (self.per_sample)(outputs, target);
        if loss.dims() != [batch] {
            return Err(BatchError::TargetShape {
                kind: "loss per sample",
                expected: format!("[batch = {batch}] from the loss `{}`", self.name),
                got: loss.dims().to_vec(),
            });
        }
        Ok(loss)
    }
}
