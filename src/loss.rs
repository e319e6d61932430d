//! Task losses over a sequence: which steps count, and with what weight.

use burn::config::Config;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

use crate::error::ConfigError;

/// The weight `w(t)` of the task loss at step `t` of a sequence of `T` steps.
///
/// The loss of an update is `sum_t w(t) CE(scores_t, y)` over the steps of its chunk.
#[derive(Config, Debug, PartialEq, Copy)]
pub enum LossSchedule {
    /// `w(t) = (t + 1) / T`: early predictions count little, the last one fully (the FPTT
    /// method's default).
    LinearRamp,
    /// `w(T - 1) = 1`, else 0: only the prediction at the end of the sequence counts.
    LastStep,
    /// `w(t) = 1 / T` at every step: the mean loss over the sequence.
    EveryStep,
    /// `w(t) = (t + 1) / T` at the last step of every chunk (where an update is taken), else 0:
    /// each update asks only for the prediction at its own end, later chunks weighing more, as
    /// the method's adding-problem code does. With one chunk per sequence (whole-sequence BPTT)
    /// this is [`LastStep`](Self::LastStep).
    ChunkEnds,
}

impl LossSchedule {
    /// The weight of step `t` (0-based) in a sequence of `length` steps.
    ///
    /// ```
    /// use burn_fptt::LossSchedule;
    /// assert_eq!(LossSchedule::LinearRamp.weight(1, 4), 0.5);
    /// assert_eq!(LossSchedule::LastStep.weight(2, 4), 0.0);
    /// assert_eq!(LossSchedule::EveryStep.weight(0, 4), 0.25);
    /// ```
    pub fn weight(&self, t: usize, length: usize) -> f64 {
        self.weight_in_chunks(t, length, length)
    }

    /// The weight of step `t` (0-based) in a sequence of `length` steps that is trained in
    /// chunks of `chunk` steps (the last one possibly shorter); only
    /// [`ChunkEnds`](Self::ChunkEnds) depends on the chunks.
    ///
    /// ```
    /// use burn_fptt::LossSchedule;
    /// // 10 steps in chunks of 4: the chunks end at steps 3, 7 and 9.
    /// let w: Vec<f64> = (0..10).map(|t| LossSchedule::ChunkEnds.weight_in_chunks(t, 10, 4)).collect();
    /// assert_eq!(w, [0.0, 0.0, 0.0, 0.4, 0.0, 0.0, 0.0, 0.8, 0.0, 1.0]);
    /// assert_eq!(LossSchedule::LinearRamp.weight_in_chunks(1, 4, 2), 0.5);
    /// ```
    pub fn weight_in_chunks(&self, t: usize, length: usize, chunk: usize) -> f64 {
        let ramp = (t + 1) as f64 / length as f64;
        match self {
            Self::LinearRamp => ramp,
            Self::LastStep => f64::from(u8::from(t + 1 == length)),
            Self::EveryStep => 1.0 / length as f64,
            Self::ChunkEnds if (t + 1).is_multiple_of(chunk.max(1)) || t + 1 == length => ramp,
            Self::ChunkEnds => 0.0,
        }
    }
}

/// Reads a schedule by its short name (command lines): `ramp`, `last`, `every`, `chunk-ends`.
///
/// ```
/// use burn_fptt::LossSchedule;
///
/// assert_eq!("chunk-ends".parse::<LossSchedule>().unwrap(), LossSchedule::ChunkEnds);
/// let error = "ramps".parse::<LossSchedule>().unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "invalid LossSchedule = ramps: must be one of ramp, last, every, chunk-ends"
/// );
/// ```
impl std::str::FromStr for LossSchedule {
    type Err = ConfigError;

    fn from_str(name: &str) -> Result<Self, ConfigError> {
        match name {
            "ramp" => Ok(Self::LinearRamp),
            "last" => Ok(Self::LastStep),
            "every" => Ok(Self::EveryStep),
            "chunk-ends" => Ok(Self::ChunkEnds),
            _ => Err(ConfigError::new(
                "LossSchedule",
                name,
                "must be one of ramp, last, every, chunk-ends",
            )),
        }
    }
}

/// Mean cross-entropy of `scores` (`[batch, classes]`, unnormalised) against class indices
/// `targets` (`[batch]`): `−mean_b log softmax(scores_b)[targets_b]`.
///
/// One graph node with its own kernels on wgpu; burn's `log_softmax`, gather and mean on the CPU
/// backends (the same values either way, to rounding).
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::loss::cross_entropy;
///
/// let device = burn_fptt::default_device();
/// let scores = Tensor::<2>::from_data([[0.0f32, 0.0], [0.0, 0.0]], &device);
/// let targets = Tensor::<1, Int>::from_data([0, 1], &device);
/// let loss = cross_entropy(scores, targets).into_scalar::<f32>();
/// assert!((loss - 2f32.ln()).abs() < 1e-6); // two equal scores: log 2
/// ```
///
/// # Panics
///
/// When `targets` is not `[batch]` for `scores` `[batch, classes]`, or `scores` has no classes.
pub fn cross_entropy(scores: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    weighted_cross_entropy(scores, targets, 1.0)
}

/// [`cross_entropy`] times `weight` (a step's loss with its weight in the [`LossSchedule`]): the
/// same values as `cross_entropy(scores, targets) * weight`, with the weight inside the loss's one
/// graph node on wgpu (one launch fewer forward and backward).
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::loss::weighted_cross_entropy;
///
/// let device = burn_fptt::default_device();
/// let scores = Tensor::<2>::from_data([[0.0f32, 0.0]], &device);
/// let targets = Tensor::<1, Int>::from_data([1], &device);
/// let loss = weighted_cross_entropy(scores, targets, 0.5).into_scalar::<f32>();
/// assert!((loss - 0.5 * 2f32.ln()).abs() < 1e-6);
/// ```
///
/// # Panics
///
/// As [`cross_entropy`].
pub fn weighted_cross_entropy(
    scores: Tensor<2>,
    targets: Tensor<1, Int>,
    weight: f64,
) -> Tensor<1> {
    let [batch, classes] = scores.dims();
    let target_dims = targets.dims();
    assert!(
        target_dims == [batch],
        "cross_entropy: targets must be [batch = {batch}] for scores [{batch}, {classes}], got {target_dims:?}"
    );
    assert!(
        classes > 0,
        "cross_entropy: scores must have at least one class, got [{batch}, 0]"
    );
    crate::kernels::cross_entropy(scores, targets, weight)
}

/// Mean squared error of `outputs` against `targets` (both `[batch, outputs]`), averaged over
/// samples and outputs.
pub fn mean_squared_error(outputs: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    (outputs - targets).square().mean()
}

/// Mean cross-entropy of `scores` against the soft targets `target_probs` (both
/// `[batch, classes]`): `-mean_b sum_c q_bc log softmax(scores)_bc`.
pub fn soft_cross_entropy(scores: Tensor<2>, target_probs: Tensor<2>) -> Tensor<1> {
    let [batch, _] = scores.dims();
    (log_softmax(scores, 1) * target_probs)
        .sum()
        .neg()
        .div_scalar(batch as f64)
}
