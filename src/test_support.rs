//! What the unit tests of several modules share: the backends of this build, and whether a
//! backend computes in the reference's floating-point order.

use burn::tensor::Device;

/// A device of every backend of this build.
pub(crate) fn backend_devices() -> Vec<Device> {
    crate::enabled_backends()
        .into_iter()
        .map(|name| crate::device_by_name(name).expect("an enabled backend"))
        .collect()
}

/// [`backend_devices`] with autodiff.
pub(crate) fn autodiff_devices() -> Vec<Device> {
    backend_devices()
        .into_iter()
        .map(Device::autodiff)
        .collect()
}

/// Whether `device` (with or without autodiff) runs the crate's operations with the reference's
/// floating-point operations in its order: the CPU loops do; a GPU compiler may contract a product
/// and a sum, such as `a + w (b − a)`, into one fused multiply-add.
pub(crate) fn same_arithmetic(device: &Device) -> bool {
    match crate::device_by_name("wgpu") {
        Ok(wgpu) => device != &wgpu && device != &wgpu.autodiff(),
        Err(_) => true,
    }
}
