//! What the explore and verify benches share to print their README
//! figures: wall time, the median of repeated samples, and the machine's
//! load beside each figure.

/// Runs `work` and returns its result and wall time in seconds.
// Timing is this benchmark's purpose; the time is only printed and never
// shapes a run (clippy.toml forbids the wall clock for determinism).
#[allow(clippy::disallowed_methods)]
pub fn timed<T>(work: impl FnOnce() -> T) -> (T, f64) {
    let start = std::time::Instant::now();
    let out = work();
    (out, start.elapsed().as_secs_f64())
}

/// The machine's load average, as `uptime` would show it.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_string())
}

/// The median of `values` (the upper one of an even count); sorts them.
///
/// # Panics
///
/// If `values` is empty.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
