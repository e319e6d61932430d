//! The CPU backends' [`UpdateOps`](super::update::UpdateOps): f32 storage read as slices and
//! written in place by the loops of `super::loops`.
//!
//! Tensors of another dtype than f32 take the trait's reference bodies.

// burn 0.22 deprecates the ndarray backend in favour of flex; ndarray stays this crate's default
// CPU backend while flex is not measurably faster here (BENCHMARKS.md), so its types are used
// knowingly.
#![cfg_attr(feature = "ndarray", allow(deprecated))]

use burn::backend::{Backend, TensorMetadata, tensor::FloatTensor};
#[cfg(feature = "flex")]
use burn::backend::{Flex, flex::FlexTensor};
#[cfg(feature = "ndarray")]
use burn::backend::{
    NdArray,
    ndarray::{NdArrayTensor, SharedArray},
};
use burn::tensor::{DType, Shape, TensorData};

use super::loops;
use super::update::{AdamaxScalars, MultiGaussianTerms, RegulariserTerms, reference};

/// The storage of one f32 tensor of a CPU backend.
pub(crate) enum Buffer {
    #[cfg(feature = "ndarray")]
    NdArray(SharedArray<f32>),
    #[cfg(feature = "flex")]
    Flex(FlexTensor),
}

/// A CPU backend whose f32 tensors this module reads and writes.
pub(crate) trait HostStorage: Backend {
    /// The storage of an f32 tensor, still shared with the tensor's other handles.
    ///
    /// # Panics
    ///
    /// When `tensor` is not an f32 tensor (check [`all_f32`] first).
    fn buffer(tensor: FloatTensor<Self>) -> Buffer;

    /// The tensor holding these values.
    fn tensor(buffer: Buffer) -> FloatTensor<Self>;

    /// The value of a one-element f64 tensor.
    ///
    /// # Panics
    ///
    /// When `tensor` is not an f64 tensor.
    fn read_f64(tensor: FloatTensor<Self>) -> f64;
}

fn all_f32<B: Backend>(tensors: &[&FloatTensor<B>]) -> bool {
    tensors.iter().all(|t| t.dtype() == DType::F32)
}

const NOT_F32: &str = "the host loops take f32 tensors; check `all_f32` first";

#[cfg(feature = "ndarray")]
impl HostStorage for NdArray {
    fn buffer(tensor: FloatTensor<Self>) -> Buffer {
        match tensor {
            NdArrayTensor::F32(storage) => Buffer::NdArray(storage.into_shared()),
            _ => panic!("{NOT_F32}"),
        }
    }

    fn tensor(buffer: Buffer) -> FloatTensor<Self> {
        match buffer {
            Buffer::NdArray(array) => NdArrayTensor::from(array),
            #[cfg(feature = "flex")]
            Buffer::Flex(_) => unreachable!("an ndarray buffer"),
        }
    }

    fn read_f64(tensor: FloatTensor<Self>) -> f64 {
        match tensor {
            NdArrayTensor::F64(storage) => *storage.into_shared().first().expect("one element"),
            _ => panic!("a sum of squares on the host is an f64 tensor"),
        }
    }
}

#[cfg(feature = "flex")]
impl HostStorage for Flex {
    fn buffer(tensor: FloatTensor<Self>) -> Buffer {
        assert_eq!(tensor.dtype(), DType::F32, "{NOT_F32}");
        Buffer::Flex(tensor)
    }

    fn tensor(buffer: Buffer) -> FloatTensor<Self> {
        match buffer {
            Buffer::Flex(tensor) => tensor,
            #[cfg(feature = "ndarray")]
            Buffer::NdArray(_) => unreachable!("a flex buffer"),
        }
    }

    fn read_f64(tensor: FloatTensor<Self>) -> f64 {
        let tensor = tensor.to_contiguous();
        tensor.as_slice::<f64>().expect("an f64 tensor")[0]
    }
}

impl Buffer {
    /// Calls `read` with the values as one slice (copied only when not contiguous).
    fn read<R>(&self, read: impl FnOnce(&[f32]) -> R) -> R {
        match self {
            #[cfg(feature = "ndarray")]
            Self::NdArray(array) => match array.as_slice_memory_order() {
                Some(values) => read(values),
                None => read(&array.iter().copied().collect::<Vec<_>>()),
            },
            #[cfg(feature = "flex")]
            Self::Flex(tensor) => match tensor.as_slice::<f32>() {
                Some(values) => read(values),
                None => read(tensor.to_contiguous().as_slice::<f32>().expect(NOT_F32)),
            },
        }
    }

    /// The storage, contiguous and ready to be written: in place when no other handle shares
    /// it, a copy otherwise.
    fn writable(self) -> Self {
        match self {
            #[cfg(feature = "ndarray")]
            Self::NdArray(mut array) => {
                if array.as_slice_memory_order_mut().is_none() {
                    array = array.as_standard_layout().into_owned().into_shared();
                }
                Self::NdArray(array)
            }
            #[cfg(feature = "flex")]
            Self::Flex(tensor) => {
                let n = tensor.layout().num_elements();
                let whole = tensor.layout().contiguous_offsets() == Some((0, n))
                    && tensor.bytes().len() == n * size_of::<f32>();
                Self::Flex(if whole {
                    tensor
                } else {
                    tensor.to_contiguous()
                })
            }
        }
    }

    /// The values, to be written (copied first if another handle shares them).
    fn values_mut(&mut self) -> &mut [f32] {
        match self {
            #[cfg(feature = "ndarray")]
            Self::NdArray(array) => array
                .as_slice_memory_order_mut()
                .expect("contiguous since `writable`"),
            #[cfg(feature = "flex")]
            Self::Flex(tensor) => tensor.storage_mut::<f32>(),
        }
    }
}

/// Reads the storage of `tensor` as one slice.
fn read<B: HostStorage, R>(tensor: FloatTensor<B>, read: impl FnOnce(&[f32]) -> R) -> R {
    B::buffer(tensor).read(read)
}

/// The storage of `tensor`, ready to be written (in place when unshared).
fn writable<B: HostStorage>(tensor: FloatTensor<B>) -> Buffer {
    B::buffer(tensor).writable()
}

pub(super) fn regularised_gradient<B: HostStorage>(
    task: FloatTensor<B>,
    weight: FloatTensor<B>,
    running_mean: FloatTensor<B>,
    multiplier: FloatTensor<B>,
    earlier: FloatTensor<B>,
    with_earlier: bool,
    terms: RegulariserTerms,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let host_total = !with_earlier || earlier.dtype() == DType::F64;
    if !all_f32::<B>(&[&task, &weight, &running_mean, &multiplier]) || !host_total {
        return reference::regularised_gradient::<B>(
            task,
            weight,
            running_mean,
            multiplier,
            earlier,
            with_earlier,
            terms,
        );
    }
    let device = weight.device();
    let mut gradient = writable::<B>(task);
    let values = gradient.values_mut();
    read::<B, _>(weight, |weight| {
        read::<B, _>(running_mean, |mean| {
            read::<B, _>(multiplier, |multiplier| {
                loops::regularised_gradient(
                    values,
                    weight,
                    mean,
                    multiplier,
                    terms.alpha as f32,
                    terms.lambda_scale as f32,
                )
            })
        })
    });
    let own = loops::sum_of_squares(values);
    let total = if with_earlier {
        B::read_f64(earlier) + own
    } else {
        own
    };
    let total = B::float_from_data(TensorData::new(vec![total], [1]), &device);
    (B::tensor(gradient), total)
}

pub(super) fn adamax_step<B: HostStorage>(
    grad: FloatTensor<B>,
    weight: FloatTensor<B>,
    moment: FloatTensor<B>,
    infinity_norm: FloatTensor<B>,
    first: bool,
    scalars: AdamaxScalars,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    if !all_f32::<B>(&[&grad, &weight, &moment, &infinity_norm]) {
        return reference::adamax_step::<B>(grad, weight, moment, infinity_norm, first, scalars);
    }
    let mut weight = writable::<B>(weight);
    let mut moment = writable::<B>(moment);
    let mut infinity_norm = writable::<B>(infinity_norm);
    read::<B, _>(grad, |grad| {
        loops::adamax_step(
            grad,
            weight.values_mut(),
            moment.values_mut(),
            infinity_norm.values_mut(),
            first,
            scalars,
        )
    });
    (
        B::tensor(weight),
        B::tensor(moment),
        B::tensor(infinity_norm),
    )
}

pub(super) fn after_step<B: HostStorage>(
    weight: FloatTensor<B>,
    running_mean: FloatTensor<B>,
    multiplier: FloatTensor<B>,
    alpha: f64,
    beta: f64,
) -> (FloatTensor<B>, FloatTensor<B>) {
    if !all_f32::<B>(&[&weight, &running_mean, &multiplier]) {
        return reference::after_step::<B>(weight, running_mean, multiplier, alpha, beta);
    }
    let mut running_mean = writable::<B>(running_mean);
    let mut multiplier = writable::<B>(multiplier);
    read::<B, _>(weight, |weight| {
        loops::after_step(
            weight,
            running_mean.values_mut(),
            multiplier.values_mut(),
            alpha,
            beta,
        )
    });
    (B::tensor(running_mean), B::tensor(multiplier))
}

pub(super) fn multi_gaussian<B: HostStorage>(
    v: FloatTensor<B>,
    terms: MultiGaussianTerms,
) -> FloatTensor<B> {
    if !all_f32::<B>(&[&v]) {
        return reference::multi_gaussian::<B>(v, terms);
    }
    let shape = v.shape();
    let flat = B::float_reshape(v, Shape::new([shape.num_elements()]));
    let mut values = writable::<B>(flat);
    loops::multi_gaussian(values.values_mut(), &terms);
    B::float_reshape(B::tensor(values), shape)
}
