//! Task losses over a sequence: which steps count, and with what weight.

use burn::config::Config;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

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
        match self {
            Self::LinearRamp => (t + 1) as f64 / length as f64,
            Self::LastStep => f64::from(u8::from(t + 1 == length)),
            Self::EveryStep => 1.0 / length as f64,
        }
    }
}

/// Mean cross-entropy of `scores` (`[batch, classes]`, unnormalised) against class indices
/// `targets` (`[batch]`).
pub fn cross_entropy(scores: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let [batch, _] = scores.dims();
    log_softmax(scores, 1)
        .gather(1, targets.reshape([batch, 1]))
        .mean()
        .neg()
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
