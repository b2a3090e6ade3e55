//! How fast the default search finds the "stale `DOWN`" races of
//! tests/deep_races.rs: for each flaw, `check_registry` with
//! `SearchConfig::default()` on seeds 0..=19, one thread; prints cases and
//! milliseconds to the shrunk counterexample (median and max) and the
//! property found. `cargo bench --bench deep_races`.

#[path = "../tests/support/user_registry.rs"]
mod user_registry;

use kvsim::check::{SearchConfig, check_registry};
use user_registry::{Flaw, UserRegistry};

fn main() {
    println!(
        "| flaw | cases to failure (median / max) | ms to shrunk counterexample (median / max) | properties |"
    );
    println!("| --- | --- | --- | --- |");
    for flaw in [
        Flaw::CreateTrustsMap,
        Flaw::LookupTrustsMap,
        Flaw::DownByName,
    ] {
        let factory = UserRegistry::factory(flaw);
        let mut cases = Vec::new();
        let mut millis = Vec::new();
        let mut properties = std::collections::BTreeSet::new();
        for seed in 0..=19 {
            let config = SearchConfig {
                seed,
                ..SearchConfig::default()
            };
            let (result, ms) = timed(|| check_registry(&factory, &config));
            millis.push(ms);
            match result {
                Err(counterexample) => {
                    cases.push(counterexample.cases_to_failure);
                    properties.insert(counterexample.failure.property.to_string());
                }
                Ok(_) => {
                    properties.insert(format!("seed {seed}: NOT FOUND"));
                }
            }
        }
        cases.sort_unstable();
        millis.sort_by(f64::total_cmp);
        let median = |v: &[f64]| v[v.len() / 2];
        println!(
            "| {flaw:?} | {} / {} | {:.1} / {:.1} | {} |",
            cases.get(cases.len() / 2).copied().unwrap_or(0),
            cases.last().copied().unwrap_or(0),
            median(&millis),
            millis.last().copied().unwrap_or(0.0),
            properties.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
}

/// Wall-clock milliseconds of `f`: a benchmark's measurement, never a
/// run's input.
#[allow(clippy::disallowed_methods)]
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = std::time::Instant::now();
    let value = f();
    (value, start.elapsed().as_secs_f64() * 1e3)
}
