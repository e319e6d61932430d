//! f32 storage of tensors on the CPU backends, read as slices and written in place.

// burn 0.22 deprecates the ndarray backend in favour of flex; ndarray stays this crate's default
// CPU backend while flex is not measurably faster here (BENCHMARKS.md), so its types are used
// knowingly.
#![cfg_attr(feature = "ndarray", allow(deprecated))]
// Without a CPU backend, `fuses` is always false and `Buffer` has no values, so everything past
// building a buffer is unreachable by construction; the compiler says so, which is expected.
#![cfg_attr(
    not(any(feature = "ndarray", feature = "flex")),
    allow(unreachable_code, unused_variables, unused_mut, unused_imports)
)]

use burn::backend::DispatchDevice;
#[cfg(feature = "flex")]
use burn::backend::{Flex, flex::FlexTensor};
#[cfg(feature = "ndarray")]
use burn::backend::{
    NdArray,
    ndarray::{NdArrayTensor, SharedArray},
};
use burn::tensor::{DType, Tensor};

/// Whether `tensor` is an f32 tensor outside autodiff on a CPU backend whose storage this module
/// reads.
pub(crate) fn fuses<const D: usize>(tensor: &Tensor<D>) -> bool {
    cpu_f32(tensor) && !tensor.is_autodiff()
}

/// Whether `tensor` is an f32 tensor on a CPU backend (ndarray or flex), with or without autodiff.
pub(crate) fn cpu_f32<const D: usize>(tensor: &Tensor<D>) -> bool {
    let device = match tensor.device().as_dispatch() {
        DispatchDevice::Autodiff(device) => device.clone().inner(),
        device => device.clone(),
    };
    let on_cpu = match device {
        #[cfg(feature = "ndarray")]
        DispatchDevice::NdArray(_) => true,
        #[cfg(feature = "flex")]
        DispatchDevice::Flex(_) => true,
        _ => false,
    };
    on_cpu && tensor.dtype() == DType::F32
}

const NOT_FUSED: &str = "fused updates need f32 CPU tensors outside autodiff; check `fuses` first";

/// The storage of one flat f32 tensor.
pub(crate) enum Buffer {
    #[cfg(feature = "ndarray")]
    NdArray(SharedArray<f32>),
    #[cfg(feature = "flex")]
    Flex(FlexTensor),
    /// Builds without a CPU backend have no buffers.
    #[cfg(not(any(feature = "ndarray", feature = "flex")))]
    #[allow(dead_code)]
    None(std::convert::Infallible),
}

impl Buffer {
    /// The storage of `tensor`, still shared with the tensor's other handles.
    ///
    /// # Panics
    ///
    /// When `tensor` does not pass [`fuses`].
    fn of(tensor: Tensor<1>) -> Self {
        assert!(fuses(&tensor), "{NOT_FUSED}");
        match tensor.device().as_dispatch() {
            #[cfg(feature = "ndarray")]
            DispatchDevice::NdArray(_) => match tensor.try_into_primitive::<NdArray>() {
                Ok(NdArrayTensor::F32(storage)) => Self::NdArray(storage.into_shared()),
                _ => panic!("{NOT_FUSED}"),
            },
            #[cfg(feature = "flex")]
            DispatchDevice::Flex(_) => {
                Self::Flex(tensor.try_into_primitive::<Flex>().expect(NOT_FUSED))
            }
            _ => panic!("{NOT_FUSED}"),
        }
    }

    /// Calls `read` with the values of `tensor` as one slice (copied only when the tensor is
    /// not contiguous).
    ///
    /// # Panics
    ///
    /// When `tensor` does not pass [`fuses`].
    pub(crate) fn read<R>(tensor: &Tensor<1>, read: impl FnOnce(&[f32]) -> R) -> R {
        match Self::of(tensor.clone()) {
            #[cfg(feature = "ndarray")]
            Self::NdArray(array) => match array.as_slice_memory_order() {
                Some(values) => read(values),
                None => read(&array.iter().copied().collect::<Vec<_>>()),
            },
            #[cfg(feature = "flex")]
            Self::Flex(tensor) => match tensor.as_slice::<f32>() {
                Some(values) => read(values),
                None => read(tensor.to_contiguous().as_slice::<f32>().expect(NOT_FUSED)),
            },
            #[cfg(not(any(feature = "ndarray", feature = "flex")))]
            Self::None(never) => match never {},
        }
    }

    /// The storage of `tensor`, contiguous and ready to be written: in place when no other handle
    /// shares it, a copy otherwise.
    ///
    /// # Panics
    ///
    /// When `tensor` does not pass [`fuses`].
    pub(crate) fn writable(tensor: Tensor<1>) -> Self {
        match Self::of(tensor) {
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
            #[cfg(not(any(feature = "ndarray", feature = "flex")))]
            Self::None(never) => match never {},
        }
    }

    /// The values, to be written (copied first if another handle shares them).
    pub(crate) fn values_mut(&mut self) -> &mut [f32] {
        match self {
            #[cfg(feature = "ndarray")]
            Self::NdArray(array) => array
                .as_slice_memory_order_mut()
                .expect("contiguous since `writable`"),
            #[cfg(feature = "flex")]
            Self::Flex(tensor) => tensor.storage_mut::<f32>(),
            #[cfg(not(any(feature = "ndarray", feature = "flex")))]
            Self::None(never) => match *never {},
        }
    }

    /// The tensor holding these values.
    pub(crate) fn into_tensor(self) -> Tensor<1> {
        match self {
            #[cfg(feature = "ndarray")]
            Self::NdArray(array) => Tensor::from_primitive::<NdArray>(NdArrayTensor::from(array)),
            #[cfg(feature = "flex")]
            Self::Flex(tensor) => Tensor::from_primitive::<Flex>(tensor),
            #[cfg(not(any(feature = "ndarray", feature = "flex")))]
            Self::None(never) => match never {},
        }
    }
}
