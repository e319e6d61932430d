//! The cross-entropy of class scores as one graph node where a backend has a kernel for it.
//!
//! Written with tensor operations, `−mean(log_softmax(s)[y])` is ten kernels forward (a maximum, a
//! sum and a mean reduction, exponential, logarithm, two subtractions, the gather, the negation)
//! and fourteen backward (the gather's scatter into zeros, the broadcast sums, fills, ...). On
//! wgpu an FPTT step runs it once per time step: 24 of its 112 launches (BENCHMARKS.md). A backend
//! with kernels for it sets [`LossOps::FUSED_CROSS_ENTROPY`]; autodiff then records the loss as one
//! node whose backward pass is `g w (softmax(s) − onehot(y)) / batch`, one more kernel.
//!
//! The CPU backends keep burn's composition under autodiff, node for node: its gradient is the one
//! every figure of RESULTS.md was computed with, and on a `[batch, classes]` tensor of a few
//! classes it is a small part of a step there.

#![cfg_attr(feature = "ndarray", allow(deprecated))]

#[cfg(feature = "flex")]
use burn::backend::Flex;
#[cfg(feature = "ndarray")]
use burn::backend::NdArray;
use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{
    Backend, backend_extension,
    tensor::{FloatTensor, IntTensor},
};

/// The mean cross-entropy of class scores against class indices.
///
/// Shapes: `scores` `[batch, classes]`, `targets` `[batch]` (class indices), the loss `[1]`.
#[backend_extension(
    Autodiff,
    NdArray: cfg(feature = "ndarray"),
    Flex: cfg(feature = "flex"),
    Cube: cfg(feature = "wgpu"),
    Fusion: cfg(feature = "fusion")
)]
pub(crate) trait LossOps: Backend {
    /// Whether this backend runs [`Self::cross_entropy`] and [`Self::cross_entropy_gradient`] as
    /// kernels of its own, so that autodiff records the loss as one node. Otherwise autodiff
    /// records burn's composition.
    const FUSED_CROSS_ENTROPY: bool = false;

    /// `−mean_b log softmax(scores_b)[targets_b]` times `weight`: burn's `log_softmax` (shifted
    /// by the row's maximum), the gather, the mean, the negation and the product by the weight
    /// (left out when it is 1), in that order.
    #[fusion(default)]
    fn cross_entropy(
        scores: FloatTensor<Self>,
        targets: IntTensor<Self>,
        weight: f64,
    ) -> FloatTensor<Self> {
        reference::cross_entropy::<Self>(scores, targets, weight)
    }

    /// The gradient of [`Self::cross_entropy`] with respect to the scores, given the loss's
    /// gradient `g` (`[1]`): `g w (softmax(scores) − onehot(targets)) / batch`.
    #[fusion(default)]
    fn cross_entropy_gradient(
        scores: FloatTensor<Self>,
        targets: IntTensor<Self>,
        g: FloatTensor<Self>,
        weight: f64,
    ) -> FloatTensor<Self> {
        reference::cross_entropy_gradient::<Self>(scores, targets, g, weight)
    }
}

/// The operations as compositions of burn's tensor operations, on any backend.
pub(crate) mod reference {
    use burn::backend::{
        Backend, TensorMetadata,
        tensor::{FloatTensor, IntTensor},
    };
    use burn::tensor::{IndexingUpdateOp, Shape};

    /// `targets` `[batch]` as a `[batch, 1]` column of indices.
    fn column<B: Backend>(targets: IntTensor<B>) -> IntTensor<B> {
        let batch = targets.shape()[0];
        B::int_reshape(targets, Shape::new([batch, 1]))
    }

    pub(crate) fn cross_entropy<B: Backend>(
        scores: FloatTensor<B>,
        targets: IntTensor<B>,
        weight: f64,
    ) -> FloatTensor<B> {
        let picked = B::float_gather(1, B::log_softmax(scores, 1), column::<B>(targets));
        let loss = B::float_neg(B::float_mean(picked));
        if weight == 1.0 {
            return loss;
        }
        B::float_mul_scalar(loss, weight.into())
    }

    pub(crate) fn cross_entropy_gradient<B: Backend>(
        scores: FloatTensor<B>,
        targets: IntTensor<B>,
        g: FloatTensor<B>,
        weight: f64,
    ) -> FloatTensor<B> {
        let g = B::float_mul_scalar(g, weight.into());
        let [batch, classes] = [scores.shape()[0], scores.shape()[1]];
        let dtype = scores.dtype().into();
        let device = scores.device();
        let probabilities = B::float_exp(B::log_softmax(scores, 1));
        let ones = B::float_ones(Shape::new([batch, 1]), &device, dtype);
        let zeros = B::float_zeros(Shape::new([batch, classes]), &device, dtype);
        let hits = B::float_scatter(1, zeros, column::<B>(targets), ones, IndexingUpdateOp::Add);
        let scale = B::float_div_scalar(g, (batch as f32).into());
        let scale = B::float_reshape(scale, Shape::new([1, 1]));
        B::float_mul(B::float_sub(probabilities, hits), scale)
    }
}

#[cfg(feature = "flex")]
impl LossOps for Flex {}

#[cfg(feature = "ndarray")]
impl LossOps for NdArray {}

#[derive(Debug)]
struct CrossEntropyBackward;

impl<B: LossOps> Backward<B, 1> for CrossEntropyBackward {
    /// The scores, the targets and the weight.
    type State = (FloatTensor<B>, IntTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = grads.consume::<B>(&ops.node);
        let [scores_node] = ops.parents;
        if let Some(node) = scores_node {
            let (scores, targets, weight) = ops.state;
            let gradient = B::cross_entropy_gradient(scores, targets, g, weight);
            grads.register::<B>(node.id, gradient);
        }
    }
}

impl<B: LossOps, C: CheckpointStrategy> LossOps for Autodiff<B, C> {
    fn cross_entropy(
        scores: FloatTensor<Self>,
        targets: IntTensor<Self>,
        weight: f64,
    ) -> FloatTensor<Self> {
        if !B::FUSED_CROSS_ENTROPY {
            return reference::cross_entropy::<Self>(scores, targets, weight);
        }
        match CrossEntropyBackward
            .prepare::<C>([scores.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let scores = scores.into_primitive();
                let loss = B::cross_entropy(scores.clone(), targets.clone(), weight);
                prep.finish((scores, targets, weight), loss)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::cross_entropy(scores.into_primitive(), targets, weight))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::{Dispatch, TensorMetadata, ops::FloatTensorOps, tensor::FloatTensor};
    use burn::tensor::{Distribution, Int, Shape, Tensor, TensorData};

    use super::{LossOps, reference};
    use crate::loss::cross_entropy;

    use crate::test_support::backend_devices as devices;

    fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
        tensor.into_data().convert::<f32>().to_vec::<f32>().unwrap()
    }

    /// The values of a primitive of any rank.
    fn flat(primitive: FloatTensor<Dispatch>) -> Vec<f32> {
        let n = primitive.shape().num_elements();
        values(Tensor::<1>::from_dispatch(Dispatch::float_reshape(
            primitive,
            Shape::new([n]),
        )))
    }

    fn assert_close(actual: &[f32], expected: &[f64], tolerance: f64, what: &str) {
        assert_eq!(actual.len(), expected.len(), "{what}");
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                (f64::from(*a) - e).abs() <= tolerance * (1.0 + e.abs()),
                "{what}: {actual:?} against {expected:?}"
            );
        }
    }

    /// Scores `[[1, 2, 3], [0, 0, 0]]` with targets `[2, 0]`, worked in f64:
    /// `L = ((ln(e + e² + e³) − 3) + ln 3) / 2`, `∂(3L)/∂s = 3 (softmax − onehot) / 2`.
    #[test]
    fn the_cross_entropy_and_its_gradient_match_hand_values() {
        let e = std::f64::consts::E;
        let first = [e, e * e, e * e * e];
        let sum: f64 = first.iter().sum();
        let loss = ((sum.ln() - 3.0) + 3f64.ln()) / 2.0;
        let third = 1.0 / 3.0;
        let gradient: Vec<f64> = [
            first[0] / sum,
            first[1] / sum,
            first[2] / sum - 1.0,
            third - 1.0,
            third,
            third,
        ]
        .iter()
        .map(|g| 3.0 * g / 2.0)
        .collect();
        for device in devices() {
            let device = device.autodiff();
            let scores = Tensor::<2>::from_data([[1.0f32, 2.0, 3.0], [0.0, 0.0, 0.0]], &device)
                .require_grad();
            let targets = Tensor::<1, Int>::from_data([2, 0], &device);
            let value = cross_entropy(scores.clone(), targets);
            assert_close(&values(value.clone()), &[loss], 1e-6, "loss");
            let grads = (value * 3.0).backward();
            let actual = values(scores.grad(&grads).unwrap());
            assert_close(&actual, &gradient, 1e-6, "gradient");
        }
    }

    /// Each backend's operations against the reference bodies on 300 rows (more than the 256
    /// units of wgpu's one cube, so that units take several rows): bits where the backend runs the
    /// reference, 1e-5 relative on wgpu's kernels.
    #[test]
    fn every_backend_gives_the_reference_cross_entropy() {
        for device in devices() {
            device.seed(11);
            let scores = Tensor::<2>::random([300, 10], Distribution::Uniform(-4.0, 4.0), &device);
            let labels: Vec<i64> = (0..300).map(|i| (i * 7) % 10).collect();
            let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [300]), &device);
            let g = Tensor::<1>::from_data([0.5f32], &device);
            let [s, y, g] = [
                scores.into_dispatch(),
                targets.into_dispatch(),
                g.into_dispatch(),
            ];
            let loss = Dispatch::cross_entropy(s.clone(), y.clone(), 0.75);
            let expected = reference::cross_entropy::<Dispatch>(s.clone(), y.clone(), 0.75);
            let gradient = Dispatch::cross_entropy_gradient(s.clone(), y.clone(), g.clone(), 0.75);
            let expected_gradient = reference::cross_entropy_gradient::<Dispatch>(s, y, g, 0.75);
            for (actual, expected, what) in [
                (loss, expected, "loss"),
                (gradient, expected_gradient, "gradient"),
            ] {
                let expected: Vec<f64> = flat(expected).into_iter().map(f64::from).collect();
                let actual = flat(actual);
                assert_close(&actual, &expected, 1e-5, &format!("{device:?} {what}"));
            }
        }
    }

    /// A target outside the classes makes plain wgpu's loss and that row's gradient NaN (burn's
    /// gather, which the CPU backends and wgpu with `fusion` run, stops at the index or reads
    /// another element instead).
    #[test]
    #[cfg(all(feature = "wgpu", not(feature = "fusion")))]
    fn a_target_outside_the_classes_gives_nan_on_wgpu() {
        let Ok(device) = crate::device_by_name("wgpu") else {
            return;
        };
        let device = device.autodiff();
        let scores = Tensor::<2>::zeros([2, 3], &device).require_grad();
        let targets = Tensor::<1, Int>::from_data([1, 3], &device);
        let loss = cross_entropy(scores.clone(), targets);
        assert!(values(loss.clone())[0].is_nan());
        let gradient = values(scores.grad(&loss.backward()).unwrap());
        assert!(gradient[..3].iter().all(|g| g.is_finite()), "{gradient:?}");
        assert!(gradient[3..].iter().all(|g| g.is_nan()), "{gradient:?}");
    }

    #[test]
    #[should_panic(
        expected = "cross_entropy: targets must be [batch = 2] for scores [2, 3], got [3]"
    )]
    fn targets_of_another_batch_are_refused() {
        let device = crate::default_device();
        let scores = Tensor::<2>::zeros([2, 3], &device);
        cross_entropy(scores, Tensor::<1, Int>::from_data([0, 1, 2], &device));
    }

    #[test]
    #[should_panic(expected = "cross_entropy: scores must have at least one class, got [2, 0]")]
    fn scores_without_classes_are_refused() {
        let device = crate::default_device();
        let scores = Tensor::<2>::zeros([2, 0], &device);
        cross_entropy(scores, Tensor::<1, Int>::from_data([0, 0], &device));
    }
}
