//! `kvsim verify`'s figures, measured in-process through
//! [`check::verify`](kvsim::check::verify) with a [`VerifyConfig`] built
//! as the command line builds it (the default reduction, one thread).
//!
//! - divan, every `cargo bench`: `chapter` exhausted on `fixed` and its
//!   first counterexample on `unlinked`, small enough to sample.
//! - `KVSIM_VERIFY_FIGURES=1` also prints, for each scenario of
//!   `examples/verify/` (`chapter` and `2x3k` with `--faults none`, the
//!   others with `kill:2`): (a) the time to exhaust it on `fixed`, one
//!   thread, median of `KVSIM_VERIFY_REPEAT` runs (default 1), under a
//!   budget of `KVSIM_VERIFY_BUDGET` seconds per run (default 600, the
//!   10 minutes `4x4` is given; the work items running when it ends still
//!   finish): a run prints how far it got (work items, schedules) as items
//!   complete, at most every 30 s, and its counts at the end; (b) the
//!   time to the first counterexample on `unlinked`
//!   (`VerifyConfig::stop_at_first`), one thread; (c) the scaling
//!   time(1 thread) ÷ time(2 threads) exhausting `KVSIM_VERIFY_SCALING`
//!   (default `3x3`) on `fixed`. `KVSIM_VERIFY_SCENARIOS=2x3,3x4` limits
//!   (a) and (b) to those scenarios.
//!
//! - divan: `2x3` with one kill of `a` (one fault plan) exhausted on
//!   `fixed` by source-DPOR; with `KVSIM_VERIFY_FIGURES=1` also the
//!   reduction ratio against the plain enumeration of that plan.
//!
//! ```text
//! cargo bench --bench verify
//! KVSIM_VERIFY_FIGURES=1 cargo bench --bench verify
//! ```

use divan::Bencher;
use kvsim::check::verify::dpor;
use kvsim::check::{Case, VerifyConfig, VerifyProgress, VerifyReport, verify_with};
use kvsim::kv::{Stage, script};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[path = "support/figures.rs"]
mod figures;
use figures::{load, median, timed};

/// The scenarios of `examples/verify/` and their fault budgets.
const SCENARIOS: [(&str, &str); 8] = [
    ("chapter", "none"),
    ("2x3k", "none"),
    ("2x3", "kill:2"),
    ("2x4", "kill:2"),
    ("3x3", "kill:2"),
    ("3x4", "kill:2"),
    ("4x3", "kill:2"),
    ("4x4", "kill:2"),
];

fn main() {
    divan::main();
    if std::env::var_os("KVSIM_VERIFY_FIGURES").is_some() {
        print_reduction();
        print_figures();
    }
}

fn scenario(name: &str) -> Case {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/verify")
        .join(format!("{name}.kv"));
    let file = std::fs::File::open(&path).expect("the scenario script exists");
    let script = script::read_text(&path, file).expect("the scenario script parses");
    Case::from_script(&script.to_script())
}

/// `kvsim verify examples/verify/NAME.kv --registry STAGE --faults F
/// --threads T`, nothing saved.
fn config(stage: Stage, faults: &str, threads: usize) -> VerifyConfig {
    VerifyConfig {
        faults: VerifyConfig::parse_faults(faults).expect("a budget"),
        threads,
        registry: stage.name().to_string(),
        ..VerifyConfig::default()
    }
}

fn run(
    case: &Case,
    stage: Stage,
    config: &VerifyConfig,
    progress: &dyn VerifyProgress,
) -> VerifyReport {
    verify_with(case, &|| stage.registry(), config, progress)
}

struct Silent;

impl VerifyProgress for Silent {}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn chapter_exhaust_fixed(bencher: Bencher) {
    let case = scenario("chapter");
    let config = config(Stage::Fixed, "none", 1);
    bencher.bench(|| {
        let report = run(&case, Stage::Fixed, &config, &Silent);
        assert_eq!(report.result.verdict, "verified");
    });
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn chapter_first_counterexample_unlinked(bencher: Bencher) {
    let case = scenario("chapter");
    let config = VerifyConfig {
        stop_at_first: true,
        ..config(Stage::Unlinked, "none", 1)
    };
    bencher.bench(|| {
        let report = run(&case, Stage::Unlinked, &config, &Silent);
        assert_eq!(report.result.verdict, "failed");
    });
}

/// `2x3` with one kill of `a` (a single fault plan) on `fixed`, searched
/// whole by source-DPOR: the reduction ratio's numerator.
fn two_by_three_one_kill() -> Case {
    let mut case = scenario("2x3");
    case.faults.push(kvsim::check::CaseFault {
        id: 0,
        fault: kvsim::kv::KvFault::KillBucket("a".to_string()),
    });
    case
}

fn oracle_check() -> kvsim::check::CheckConfig {
    let mut check = kvsim::check::CheckConfig {
        run_to_end: true,
        ..kvsim::check::CheckConfig::default()
    };
    check.limits.steps_max = 200;
    check
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn dpor_2x3_one_kill_fixed(bencher: Bencher) {
    let case = two_by_three_one_kill();
    let check = oracle_check();
    bencher.bench(|| {
        let result = dpor::search(
            &case,
            &|| Stage::Fixed.registry(),
            &check,
            &dpor::Root::whole(),
        );
        assert!(result.shortest.is_none());
        result.stats.schedules
    });
}

/// The reduction ratio on `2x3` with one kill of `a` on `fixed`: schedules
/// source-DPOR runs ÷ schedules the plain enumeration runs, with each
/// one's rate (figures mode: the plain side takes minutes).
#[allow(clippy::disallowed_methods)]
fn print_reduction() {
    let case = two_by_three_one_kill();
    let check = oracle_check();
    let registry = || Stage::Fixed.registry();
    let (reduced, dpor_s) = timed(|| dpor::search(&case, &registry, &check, &dpor::Root::whole()));
    let config = kvsim::check::oracle::OracleConfig {
        check: check.clone(),
        runs_max: 10_000_000,
    };
    let (plain, plain_s) = timed(|| kvsim::check::oracle::enumerate(&case, &registry, &config));
    let schedules = reduced.stats.schedules;
    println!(
        "reduction 2x3 fixed, one kill of a: source-DPOR {schedules} schedules (+{} sleep-set blocked) in {dpor_s:.2} s ({:.0} runs/s), plain {} schedules in {plain_s:.2} s ({:.0} runs/s): ratio {:.4}, same {} distinct outcomes: {}",
        reduced.stats.sleep_blocked,
        (schedules + reduced.stats.sleep_blocked) as f64 / dpor_s,
        plain.runs,
        plain.runs as f64 / plain_s,
        schedules as f64 / plain.runs as f64,
        plain.outcomes.len(),
        plain.outcomes.keys().eq(reduced.outcomes.keys())
    );
}

/// Seconds since `start`, for the progress lines.
#[allow(clippy::disallowed_methods)]
fn since(start: std::time::Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

#[allow(clippy::disallowed_methods)]
fn start() -> std::time::Instant {
    std::time::Instant::now()
}

/// Prints how far a long search got, every 30 s.
struct Report {
    name: String,
    start: std::time::Instant,
    items: AtomicU64,
    done: AtomicU64,
    schedules: AtomicU64,
    printed: AtomicU64,
}

impl VerifyProgress for Report {
    fn planned(&self, items: u64) {
        self.items.store(items, Ordering::Relaxed);
    }

    fn item_done(&self, schedules: u64, _violated: bool) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.schedules.fetch_add(schedules, Ordering::Relaxed) + schedules;
        let elapsed = since(self.start);
        let slot = (elapsed / 30.0) as u64;
        if slot > self.printed.load(Ordering::Relaxed) {
            self.printed.store(slot, Ordering::Relaxed);
            eprintln!(
                "  {}: {elapsed:.0} s, {done} of {} work items, {total} schedules",
                self.name,
                self.items.load(Ordering::Relaxed)
            );
        }
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn print_figures() {
    let budget = Duration::from_secs(env_number("KVSIM_VERIFY_BUDGET", 600));
    let repeat = env_number("KVSIM_VERIFY_REPEAT", 1).max(1);
    let only: Option<Vec<String>> = std::env::var("KVSIM_VERIFY_SCENARIOS")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    let chosen: Vec<(&str, &str)> = SCENARIOS
        .into_iter()
        .filter(|(name, _)| only.as_ref().is_none_or(|o| o.iter().any(|n| n == name)))
        .collect();
    println!(
        "verify figures: one thread, budget {} s, median of {repeat}, load average {}",
        budget.as_secs(),
        load()
    );
    for &(name, faults) in &chosen {
        let case = scenario(name);
        let config = VerifyConfig {
            max_time: Some(budget),
            ..config(Stage::Fixed, faults, 1)
        };
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..repeat {
            let progress = Report {
                name: name.to_string(),
                start: start(),
                items: AtomicU64::new(0),
                done: AtomicU64::new(0),
                schedules: AtomicU64::new(0),
                printed: AtomicU64::new(0),
            };
            let (report, seconds) = timed(|| run(&case, Stage::Fixed, &config, &progress));
            times.push(seconds);
            last = Some(report);
        }
        let report = last.expect("at least one run");
        let r = &report.result;
        println!(
            "exhaust {name} fixed --faults {faults}: {} in {:.3} s (median; runs {:?}): {} schedules, {} of {} work items, {} plans, {} distinct outcomes, {} sleep-set blocked, {:.0} schedules/s; {}",
            r.verdict,
            median(&mut times.clone()),
            times.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>(),
            r.schedules,
            r.items_searched,
            r.items,
            r.plans,
            r.distinct_outcomes,
            r.sleep_blocked,
            report.timing.schedules_per_s,
            report.config
        );
    }
    for &(name, faults) in &chosen {
        let case = scenario(name);
        let config = VerifyConfig {
            max_time: Some(budget),
            stop_at_first: true,
            ..config(Stage::Unlinked, faults, 1)
        };
        let (report, seconds) = timed(|| run(&case, Stage::Unlinked, &config, &Silent));
        let r = &report.result;
        let found = r.counterexample.as_ref().map_or(String::new(), |c| {
            format!(
                "{} with {} events in its causal past, in work item {}",
                c.property, c.causal_past, c.item
            )
        });
        println!(
            "first counterexample {name} unlinked --faults {faults}: {} in {seconds:.3} s, {} schedules, {} of {} work items: {found}",
            r.verdict, r.schedules, r.items_searched, r.items
        );
    }
    let name = std::env::var("KVSIM_VERIFY_SCALING").unwrap_or_else(|_| "3x3".to_string());
    let faults = SCENARIOS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("kill:2", |(_, f)| *f);
    let case = scenario(&name);
    let mut seconds = [0.0; 2];
    for (slot, threads) in [1, 2].into_iter().enumerate() {
        let config = VerifyConfig {
            max_time: Some(budget),
            ..config(Stage::Fixed, faults, threads)
        };
        let (report, t) = timed(|| run(&case, Stage::Fixed, &config, &Silent));
        println!(
            "scaling {name} fixed --faults {faults}, {threads} threads: {} in {t:.3} s, {} schedules",
            report.result.verdict, report.result.schedules
        );
        seconds[slot] = t;
    }
    println!(
        "scaling {name}: time(1 thread) / time(2 threads) = {:.2} (load average {})",
        seconds[0] / seconds[1],
        load()
    );
}
