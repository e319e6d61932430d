//! Counting the kernels a GPU program launches (feature `wgpu`).
//!
//! A step of a recurrent network on a GPU is launch-bound at small batches: each kernel costs
//! microseconds to issue whatever it computes. [`LaunchCounter`] counts every kernel the process
//! issues through CubeCL (the runtime under burn's wgpu backend), in total and by kernel name,
//! for as long as it lives. `bench_step` reports `launches_per_step` with it.
//!
//! Launches are counted when they are issued. With burn's kernel fusion, operations wait in a
//! queue and are issued later, so sync the device (`device.sync()`) before reading a count.
//! Only one counter observes at a time (CubeCL has one observer slot per process); a second one
//! replaces the first until it is dropped.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use burn::cubecl::logging::{LaunchObservation, LaunchObserver};

/// The tallies an observation writes into.
#[derive(Debug, Default)]
struct Tally {
    total: AtomicU64,
    by_kernel: Mutex<BTreeMap<&'static str, u64>>,
}

impl LaunchObserver for Tally {
    fn launched(&self, kernel: &'static str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        *self
            .by_kernel
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(kernel)
            .or_default() += 1;
    }
}

/// Counts kernel launches, process-wide, from [`start`](Self::start) until it is dropped.
///
/// ```no_run
/// use burn::prelude::*;
/// use burn_fptt::launches::LaunchCounter;
///
/// let device = burn_fptt::device_by_name("wgpu").unwrap();
/// let x = Tensor::<2>::ones([4, 4], &device);
/// let counter = LaunchCounter::start();
/// let y = (x.clone() + x).exp();
/// device.sync().unwrap();
/// assert!(counter.total() >= 1);
/// drop(y);
/// ```
#[derive(Debug)]
pub struct LaunchCounter {
    tally: Arc<Tally>,
    _observation: LaunchObservation,
}

impl LaunchCounter {
    /// Starts counting.
    pub fn start() -> Self {
        let tally = Arc::new(Tally::default());
        let observation = LaunchObservation::new(tally.clone());
        Self {
            tally,
            _observation: observation,
        }
    }

    /// Kernels launched since the start or the last [`reset`](Self::reset).
    pub fn total(&self) -> u64 {
        self.tally.total.load(Ordering::Relaxed)
    }

    /// The same launches by kernel name (as CubeCL names the kernel: usually its type's path),
    /// most launched first.
    pub fn by_kernel(&self) -> Vec<(String, u64)> {
        let map = self
            .tally
            .by_kernel
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut counts: Vec<(String, u64)> = map.iter().map(|(k, &n)| (short_name(k), n)).collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts
    }

    /// Starts the counts again from zero (after a warm-up, say).
    pub fn reset(&self) {
        self.tally.total.store(0, Ordering::Relaxed);
        self.tally
            .by_kernel
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// A kernel's type path without its module paths: `a::b::Kernel<c::F32>` becomes `Kernel<F32>`.
fn short_name(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut segment = String::new();
    for c in path.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            segment.push(c);
        } else {
            out.push_str(segment.rsplit("::").next().unwrap_or(""));
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or(""));
    out
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn kernel_names_lose_their_module_paths() {
        assert_eq!(
            short_name("a::b::Kernel<c::F32, d::e::U8>"),
            "Kernel<F32, U8>"
        );
        assert_eq!(short_name("plain"), "plain");
        assert_eq!(short_name("x::y::z"), "z");
    }
}
