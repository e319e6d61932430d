//! Element-wise helpers shared by the layers.

use burn::tensor::Tensor;

/// The logistic sigmoid `1 / (1 + exp(-x))`, in the tensor's own precision.
///
/// burn's `activation::sigmoid` computes in float32 whatever the input's dtype, which limits
/// float64 gradient checks; this form saturates cleanly at both ends (`exp(-x)` reaching
/// infinity gives exactly 0).
///
/// Under autodiff it is one graph node ([`crate::kernels::logistic`]).
pub(crate) fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    crate::kernels::logistic(x)
}
