//! Latency percentiles of the load generators (`loadgen.rs`, `overload.rs`).

/// The `p` quantile of `sorted` nanoseconds, in milliseconds (0 for no samples).
pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1e6
}
