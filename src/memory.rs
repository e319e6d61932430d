//! The process's resident memory, as results files and the memory metric record it (Linux
//! `/proc/self/status`; `None` on other systems).
//!
//! ```
//! if let (Some(now), Some(peak)) = (burn_fptt::memory::rss_mib(), burn_fptt::memory::peak_rss_mib()) {
//!     assert!(peak >= now * 0.99);
//! }
//! ```

/// Peak resident memory of this process so far, in MiB (Linux `VmHWM`); `None` elsewhere.
pub fn peak_rss_mib() -> Option<f64> {
    proc_status_mib("VmHWM:")
}

/// Resident memory of this process now, in MiB (Linux `VmRSS`); `None` elsewhere.
pub fn rss_mib() -> Option<f64> {
    proc_status_mib("VmRSS:")
}

fn proc_status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
