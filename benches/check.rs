//! Checking speed: how fast generated cases find each
//! flawed stage, how many cases per second pass on `fixed`, how long
//! shrinking takes and how short its results are, and the dead-lookup
//! scenarios the peer tools were measured on (README § Figures) where they
//! map. Informs, never gates: nothing here
//! asserts on a time.
//!
//! ```text
//! cargo bench --bench check
//! ```
//!
//! One release process, single-threaded, each figure one run (after one
//! untimed warm-up pass over the same work). Prints Markdown tables:
//!
//! - (a) per flawed stage, proptest seeds 0..19: wall time of
//!   [`find_failure`] from the first generated case to the first failing
//!   case (generation and online checking included, shrinking excluded),
//!   and how many cases that took;
//! - (b) `fixed`: cases per second over 256-case searches, through
//!   [`check_registry`] (what a user runs) and through a plain
//!   generate-and-run loop (no proptest runner), which also counts events;
//! - (c) [`shrink_case`] on each failure found in (a): time, the shrunk
//!   length in events (the failure's step), and whether the result is
//!   1-minimal (no single deletion keeps the same property failing);
//! - [`check_registry`] end to end with the default 256 cases, as a user
//!   runs it: search, proptest's own shrinking (its "Aborting shrinking"
//!   notes on stderr come from there), [`shrink_case`], a traced run;
//! - (d) the peers' `CxN` scenarios (C clients × N CREATE/LOOKUP commands
//!   over `a` and `b`, up to two bucket kills) generated on `unlinked` with
//!   property 1 only, plus the exact `2x3` scripts with generated faults and
//!   overrides (and `fixed` throughput on the same shapes in (b));
//! - (e) every flawed registry of tests/shrink_table.rs (the flawed
//!   stages, the test mutants, the "stale `DOWN`" registries, `unlinked`
//!   on the peers' shapes) with `SearchConfig::default()`: cases and
//!   milliseconds to the first failure, then `check_registry` end to end
//!   with the shortening pass off and on (`ShrinkConfig::shortest`): the
//!   shrunk length and how many seeds reached the table's smallest case.
//!
//! (c) and (d) also shrink each failure with the shortening pass off.
//!
//! There is no exhaustive mode to compare with stateright's or shuttle's
//! DFS: a case is one schedule, so (b) gives throughput, not coverage.

#[path = "../tests/support/flawed_registries.rs"]
mod flawed_registries;
#[path = "../tests/support/mutants.rs"]
mod mutants;
#[path = "../tests/support/user_registry.rs"]
mod user_registry;

use flawed_registries::{Subject, peers_shape, smallest, subjects};
use kvsim::check::generate::{GenConfig, assemble, cases, strategy};
use kvsim::check::{
    Case, CheckConfig, Failure, P1_LOOKUP_IS_ALIVE, Property, PropertySet, RegistryFactory,
    SearchConfig, ShrinkConfig, ShrinkTarget, check_registry, find_failure, run_case, shrink_case,
    shrink_case_with,
};
use kvsim::kv::{Command, KvFault, Stage};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestRunner};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const SEEDS: u64 = 20;
const FLAWED: [Stage; 4] = [
    Stage::Naive,
    Stage::Monitored,
    Stage::NoCatchAll,
    Stage::Unlinked,
];
/// Cases per search in (a) and (d): far more than any seed needs, so that
/// "not found" shows up as a miss rather than a cut-off.
const SEARCH_CASES: u32 = 10_000;
/// Cases per search in (b), as `cargo test` runs by default.
const THROUGHPUT_CASES: u32 = 256;
const THROUGHPUT_SEEDS: u64 = 8;

/// Runs `work` and measures its wall time.
// Timing is this benchmark's whole purpose; the measured time is only
// printed and never shapes a run (clippy.toml forbids the wall clock in the
// crate for determinism, which nothing here touches).
#[allow(clippy::disallowed_methods)]
fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let start = std::time::Instant::now();
    let out = work();
    (out, start.elapsed())
}

type MakeRegistry = Box<RegistryFactory<'static>>;

fn stage_registry(stage: Stage) -> MakeRegistry {
    Box::new(move || stage.registry())
}

/// Median (mean of the two middle values for an even count) and max.
fn median_max(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    (median, sorted[n - 1])
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// `median / max`, in milliseconds.
fn ms_pair(values: &[f64]) -> String {
    if values.is_empty() {
        return "-".to_string();
    }
    let (median, max) = median_max(values);
    format!("{} / {}", fmt_ms(median), fmt_ms(max))
}

fn fmt_ms(value: f64) -> String {
    if value < 1.0 {
        format!("{value:.3}")
    } else if value < 100.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.0}")
    }
}

/// `median / max` of counts.
fn count_pair(values: &[f64]) -> String {
    if values.is_empty() {
        return "-".to_string();
    }
    let (median, max) = median_max(values);
    format!("{} / {}", fmt_count(median), fmt_count(max))
}

fn fmt_count(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// What one search found, before and after shrinking.
struct Found {
    seed: u64,
    case: Case,
    failure: Failure,
    cases: u32,
    search: Duration,
}

/// (a): one [`find_failure`] per seed.
fn search_seeds(
    registry: &RegistryFactory<'_>,
    generator: &GenConfig,
    check: &CheckConfig,
) -> (Vec<Found>, u64) {
    let mut found = Vec::new();
    let mut missed = 0;
    for seed in 0..SEEDS {
        let config = SearchConfig {
            cases: SEARCH_CASES,
            seed,
            generator: generator.clone(),
            check: check.clone(),
            shrink_to: ShrinkTarget::FirstFound,
            ..SearchConfig::default()
        };
        let (result, search) = timed(|| find_failure(registry, &config));
        match result {
            Some((case, failure, cases)) => found.push(Found {
                seed,
                case,
                failure,
                cases,
                search,
            }),
            None => missed += 1,
        }
    }
    (found, missed)
}

/// The properties that broke, with how often: `P1×3, P2×17`.
fn property_counts(properties: impl Iterator<Item = Property>) -> String {
    let mut counts: Vec<(Property, usize)> = Vec::new();
    for property in properties {
        match counts.iter_mut().find(|(p, _)| *p == property) {
            Some((_, count)) => *count += 1,
            None => counts.push((property, 1)),
        }
    }
    counts.sort();
    counts
        .iter()
        .map(|(p, count)| format!("P{}×{count}", p.number))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The result of shrinking one found failure.
struct Shrunk {
    time: Duration,
    /// The shrunk failure's step: the counterexample's length in events.
    events: u64,
    /// The same, with the shortening pass off (`ShrinkConfig::shortest`).
    events_before: u64,
    elements: usize,
    same_property: bool,
    one_minimal: bool,
}

fn shrink_found(found: &Found, registry: &RegistryFactory<'_>, check: &CheckConfig) -> Shrunk {
    let property = found.failure.property;
    let ((case, failure), time) = timed(|| shrink_case(&found.case, registry, check, property));
    let same_property = failure.as_ref().is_some_and(|f| f.property == property);
    let before = ShrinkConfig {
        shortest: false,
        ..ShrinkConfig::default()
    };
    let (_, failure_before) = shrink_case_with(&found.case, registry, check, property, &before);
    let events = failure.map_or(0, |f| f.step);
    Shrunk {
        time,
        events,
        events_before: failure_before.map_or(0, |f| f.step),
        elements: case.size(),
        same_property,
        one_minimal: same_property && is_one_minimal(&case, registry, check, property, events),
    }
}

/// No single deletion (a client, a fault, a command, an override) keeps
/// `property` failing within `events` events (the shrunk length: the
/// shortening pass may keep an override that only makes the failure come
/// sooner). Untimed.
fn is_one_minimal(
    case: &Case,
    registry: &RegistryFactory<'_>,
    check: &CheckConfig,
    property: Property,
    events: u64,
) -> bool {
    let mut smaller = Vec::new();
    for index in 0..case.clients.len() {
        let mut c = case.clone();
        c.clients.remove(index);
        smaller.push(c);
    }
    for index in 0..case.faults.len() {
        let mut c = case.clone();
        c.faults.remove(index);
        smaller.push(c);
    }
    for client in 0..case.clients.len() {
        for index in 0..case.clients[client].commands.len() {
            let mut c = case.clone();
            c.clients[client].commands.remove(index);
            smaller.push(c);
        }
    }
    for index in 0..case.schedule.len() {
        let mut c = case.clone();
        c.schedule.remove(index);
        smaller.push(c);
    }
    smaller.iter().all(|candidate| {
        run_case(candidate, registry, check)
            .failure
            .is_none_or(|f| f.property != property || f.step > events)
    })
}

/// (a) and (c) for one registry and generator: one table row each.
struct StageFigures {
    name: String,
    found: Vec<Found>,
    missed: u64,
    shrunk: Vec<Shrunk>,
    /// `check_registry` with the default 256 cases: its own count of cases
    /// to the first failure (its proptest runner reseeds per case, so its
    /// stream differs from `find_failure`'s for the same seed).
    runner_cases: Vec<f64>,
    /// `check_registry` end to end: search, proptest's shrinking, ours, the
    /// trace.
    runner_time: Vec<f64>,
    /// How many runs (registries built) `check_registry` made in all.
    runner_runs: Vec<f64>,
    /// Seeds on which `check_registry` found nothing in 256 cases.
    runner_missed: u64,
}

fn measure_stage(
    name: &str,
    registry: &RegistryFactory<'_>,
    generator: &GenConfig,
    check: &CheckConfig,
) -> StageFigures {
    let (found, missed) = search_seeds(registry, generator, check);
    let shrunk = found
        .iter()
        .map(|f| shrink_found(f, registry, check))
        .collect();
    let mut runner_cases = Vec::new();
    let mut runner_time = Vec::new();
    let mut runner_runs = Vec::new();
    let mut runner_missed = 0;
    for seed in 0..SEEDS {
        let config = SearchConfig {
            cases: THROUGHPUT_CASES,
            seed,
            generator: generator.clone(),
            check: check.clone(),
            shrink_to: ShrinkTarget::FirstFound,
            ..SearchConfig::default()
        };
        let runs = AtomicU32::new(0);
        let counting = || {
            runs.fetch_add(1, Ordering::Relaxed);
            registry()
        };
        let (result, time) = timed(|| check_registry(&counting, &config));
        match result {
            Err(counterexample) => {
                runner_cases.push(f64::from(counterexample.cases_to_failure));
                runner_time.push(ms(time));
                runner_runs.push(f64::from(runs.load(Ordering::Relaxed)));
            }
            Ok(_) => runner_missed += 1,
        }
    }
    StageFigures {
        name: name.to_string(),
        found,
        missed,
        shrunk,
        runner_cases,
        runner_time,
        runner_runs,
        runner_missed,
    }
}

fn print_search_table(title: &str, rows: &[StageFigures]) {
    println!("\n### {title}\n");
    println!(
        "| stage | found | properties | time to first failure, ms (median / max) | cases to failure (median / max) | first failing case, events (median / max) |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for row in rows {
        let times: Vec<f64> = row.found.iter().map(|f| ms(f.search)).collect();
        let cases: Vec<f64> = row.found.iter().map(|f| f64::from(f.cases)).collect();
        let events: Vec<f64> = row.found.iter().map(|f| f.failure.step as f64).collect();
        println!(
            "| {} | {}/{} | {} | {} | {} | {} |",
            row.name,
            row.found.len(),
            row.found.len() as u64 + row.missed,
            property_counts(row.found.iter().map(|f| f.failure.property)),
            ms_pair(&times),
            count_pair(&cases),
            count_pair(&events),
        );
    }
}

fn print_shrink_table(title: &str, rows: &[StageFigures]) {
    println!("\n### {title}\n");
    println!(
        "| stage | shrink time, ms (median / max) | shrunk length, events (median / max) | without the shortening pass | shrunk elements (median / max) | same property | 1-minimal |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        let times: Vec<f64> = row.shrunk.iter().map(|s| ms(s.time)).collect();
        let events: Vec<f64> = row.shrunk.iter().map(|s| s.events as f64).collect();
        let before: Vec<f64> = row.shrunk.iter().map(|s| s.events_before as f64).collect();
        let elements: Vec<f64> = row.shrunk.iter().map(|s| s.elements as f64).collect();
        let same = row.shrunk.iter().filter(|s| s.same_property).count();
        let minimal = row.shrunk.iter().filter(|s| s.one_minimal).count();
        println!(
            "| {} | {} | {} | {} | {} | {same}/{n} | {minimal}/{n} |",
            row.name,
            ms_pair(&times),
            count_pair(&events),
            count_pair(&before),
            count_pair(&elements),
            n = row.shrunk.len(),
        );
    }
}

fn print_runner_table(title: &str, rows: &[StageFigures]) {
    println!("\n### {title}\n");
    println!(
        "| stage | found | cases to failure (median / max) | runs in all (median / max) | end to end, ms (median / max) |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for row in rows {
        if row.runner_cases.is_empty() && row.runner_missed == 0 {
            continue;
        }
        println!(
            "| {} | {}/{} | {} | {} | {} |",
            row.name,
            row.runner_cases.len(),
            row.runner_cases.len() as u64 + row.runner_missed,
            count_pair(&row.runner_cases),
            count_pair(&row.runner_runs),
            ms_pair(&row.runner_time),
        );
    }
}

/// The seeds whose shrunk counterexample has `events(property)` events
/// (the property the search found), with the shortening pass on and off.
fn seeds_at_length(
    row: &StageFigures,
    events: impl Fn(Property) -> Option<u64>,
) -> (Vec<u64>, Vec<u64>) {
    let at = |length: fn(&Shrunk) -> u64| -> Vec<u64> {
        row.found
            .iter()
            .zip(&row.shrunk)
            .filter(|(f, s)| s.same_property && events(f.failure.property) == Some(length(s)))
            .map(|(f, _)| f.seed)
            .collect()
    };
    (at(|s| s.events), at(|s| s.events_before))
}

/// Throughput of passing cases: generate and run `THROUGHPUT_CASES` cases
/// per seed without a proptest runner.
struct LoopFigures {
    cases_per_s: Vec<f64>,
    events_per_s: Vec<f64>,
    mean_events: f64,
    /// The slowest single case (generation and check), ms.
    slowest_ms: f64,
    failures: u32,
}

fn throughput_loop(
    registry: &RegistryFactory<'_>,
    generator: &GenConfig,
    check: &CheckConfig,
) -> LoopFigures {
    let quiet = CheckConfig {
        tracing: false,
        ..check.clone()
    };
    let mut cases_per_s = Vec::new();
    let mut events_per_s = Vec::new();
    let mut all_events = 0u64;
    let mut failures = 0;
    let mut slowest = Duration::ZERO;
    for seed in 0..THROUGHPUT_SEEDS {
        let mut runner = TestRunner::new(Config {
            rng_seed: RngSeed::Fixed(seed),
            ..Config::default()
        });
        let strategy = cases(generator.clone());
        let ((events, failed), time) = timed(|| {
            let mut events = 0u64;
            let mut failed = 0u32;
            for _ in 0..THROUGHPUT_CASES {
                let (run, one) = timed(|| {
                    let tree = strategy.new_tree(&mut runner).ok()?;
                    Some(run_case(&tree.current(), registry, &quiet))
                });
                slowest = slowest.max(one);
                let Some(run) = run else { continue };
                events += run.steps;
                failed += u32::from(run.failure.is_some());
            }
            (events, failed)
        });
        all_events += events;
        failures += failed;
        cases_per_s.push(f64::from(THROUGHPUT_CASES) / time.as_secs_f64());
        events_per_s.push(events as f64 / time.as_secs_f64());
    }
    LoopFigures {
        cases_per_s,
        events_per_s,
        mean_events: all_events as f64 / f64::from(THROUGHPUT_CASES * THROUGHPUT_SEEDS as u32),
        slowest_ms: ms(slowest),
        failures,
    }
}

/// Cases per second through `check_registry` (256 cases per seed).
fn throughput_runner(
    registry: &RegistryFactory<'_>,
    generator: &GenConfig,
    check: &CheckConfig,
) -> (Vec<f64>, u32) {
    let mut cases_per_s = Vec::new();
    let mut failed = 0;
    for seed in 0..THROUGHPUT_SEEDS {
        let config = SearchConfig {
            cases: THROUGHPUT_CASES,
            seed,
            generator: generator.clone(),
            check: check.clone(),
            shrink_to: ShrinkTarget::FirstFound,
            ..SearchConfig::default()
        };
        let (result, time) = timed(|| check_registry(registry, &config));
        match result {
            Ok(cases) => cases_per_s.push(f64::from(cases.cases) / time.as_secs_f64()),
            Err(_) => failed += 1,
        }
    }
    (cases_per_s, failed)
}

fn fmt_rate(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1} k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// `median (min)` of rates.
fn rate_pair(values: &[f64]) -> String {
    if values.is_empty() {
        return "-".to_string();
    }
    let (median, _) = median_max(values);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    format!("{} (min {})", fmt_rate(median), fmt_rate(min))
}

/// peer-proptest's own case shape: 1-3 clients × 1-4 commands, 0-2 kills.
fn peer_proptest_shape() -> GenConfig {
    GenConfig {
        clients: 1..=3,
        commands_per_client: 1..=4,
        ..peers_shape(1, 1)
    }
}

/// The peers' exact `2x3` scripts (c1 [create a, lookup a, create b];
/// c2 [create b, lookup b, lookup a]) with generated kill faults (0-2, on
/// `a` or `b`) and a schedule from the default portfolio: only the faults
/// and the schedule vary.
fn exact_2x3() -> impl Strategy<Value = Case> {
    let create = |b: &str| Command::Create { bucket: b.into() };
    let lookup = |b: &str| Command::Lookup { bucket: b.into() };
    let scripts = vec![
        vec![create("a"), lookup("a"), create("b")],
        vec![create("b"), lookup("b"), lookup("a")],
    ];
    let kill = proptest::sample::select(vec!["a", "b"]).prop_map(|n| KvFault::KillBucket(n.into()));
    (
        proptest::collection::vec(kill, 0..=2),
        strategy(&GenConfig::default()),
    )
        .prop_map(move |(faults, strategy)| {
            let mut case = assemble(scripts.clone(), faults, Vec::new());
            case.strategy = Some(strategy);
            case
        })
}

/// (d) on the exact `2x3` scripts: find_failure's loop over [`exact_2x3`].
fn search_exact_2x3(registry: &RegistryFactory<'_>, check: &CheckConfig) -> StageFigures {
    let quiet = CheckConfig {
        tracing: false,
        ..check.clone()
    };
    let mut found = Vec::new();
    let mut missed = 0;
    for seed in 0..SEEDS {
        let mut runner = TestRunner::new(Config {
            rng_seed: RngSeed::Fixed(seed),
            ..Config::default()
        });
        let strategy = exact_2x3();
        let (result, search) = timed(|| {
            for index in 1..=SEARCH_CASES {
                let case = strategy.new_tree(&mut runner).ok()?.current();
                if let Some(failure) = run_case(&case, registry, &quiet).failure {
                    return Some((case, failure, index));
                }
            }
            None
        });
        match result {
            Some((case, failure, cases)) => found.push(Found {
                seed,
                case,
                failure,
                cases,
                search,
            }),
            None => missed += 1,
        }
    }
    let shrunk = found
        .iter()
        .map(|f| shrink_found(f, registry, check))
        .collect();
    StageFigures {
        name: "unlinked, exact `2x3` scripts".to_string(),
        found,
        missed,
        shrunk,
        runner_cases: Vec::new(),
        runner_time: Vec::new(),
        runner_runs: Vec::new(),
        runner_missed: 0,
    }
}

/// (e) for one flawed registry, seeds 0..19: the first failure
/// ([`find_failure`], no shrinking) and `check_registry` end to end with
/// the shortening pass off and on.
struct SmallestRow {
    name: String,
    cases: Vec<f64>,
    first_ms: Vec<f64>,
    /// (property, shrunk length in events) per seed, pass off.
    before: Vec<(Property, u64)>,
    after: Vec<(Property, u64)>,
    before_ms: Vec<f64>,
    after_ms: Vec<f64>,
    missed: u64,
}

fn measure_smallest(subject: &Subject) -> SmallestRow {
    let mut row = SmallestRow {
        name: subject.name.clone(),
        cases: Vec::new(),
        first_ms: Vec::new(),
        before: Vec::new(),
        after: Vec::new(),
        before_ms: Vec::new(),
        after_ms: Vec::new(),
        missed: 0,
    };
    for seed in 0..SEEDS {
        let config = SearchConfig {
            seed,
            ..subject.search.clone()
        };
        let (found, time) = timed(|| find_failure(&subject.registry, &config));
        let Some((_, _, cases)) = found else {
            row.missed += 1;
            continue;
        };
        row.cases.push(f64::from(cases));
        row.first_ms.push(ms(time));
        let before = SearchConfig {
            shrink: ShrinkConfig {
                shortest: false,
                ..ShrinkConfig::default()
            },
            ..config.clone()
        };
        for (config, lengths, times) in [
            (&before, &mut row.before, &mut row.before_ms),
            (&config, &mut row.after, &mut row.after_ms),
        ] {
            let (result, time) = timed(|| check_registry(&subject.registry, config));
            if let Err(counterexample) = result {
                lengths.push((counterexample.failure.property, counterexample.failure.step));
                times.push(ms(time));
            }
        }
    }
    row
}

/// `reached/n` seeds whose shrunk case is the table's smallest for its
/// property.
fn at_smallest(name: &str, lengths: &[(Property, u64)]) -> String {
    let reached = lengths
        .iter()
        .filter(|&&(property, events)| smallest(name, property) == Some(events))
        .count();
    format!("{reached}/{}", lengths.len())
}

fn print_smallest_table(rows: &[SmallestRow]) {
    println!(
        "\n### (e) The smallest case: `SearchConfig::default()`, seeds 0..{}, the shortening pass off (before) and on (after)\n",
        SEEDS - 1
    );
    println!(
        "| registry | found | cases to the first failure (median / max) | ms to the first failure (median / max) | shrunk, events, before (median / max) | at the smallest, before | shrunk, events, after (median / max) | at the smallest, after | properties (after) | end to end, ms, before (median / max) | end to end, ms, after (median / max) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        let events = |lengths: &[(Property, u64)]| -> Vec<f64> {
            lengths.iter().map(|&(_, events)| events as f64).collect()
        };
        println!(
            "| {} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.name,
            row.cases.len(),
            row.cases.len() as u64 + row.missed,
            count_pair(&row.cases),
            ms_pair(&row.first_ms),
            count_pair(&events(&row.before)),
            at_smallest(&row.name, &row.before),
            count_pair(&events(&row.after)),
            at_smallest(&row.name, &row.after),
            property_counts(row.after.iter().map(|&(p, _)| p)),
            ms_pair(&row.before_ms),
            ms_pair(&row.after_ms),
        );
    }
}

fn main() {
    let all = CheckConfig::default();
    let p1_only = CheckConfig {
        properties: PropertySet::only(&[P1_LOOKUP_IS_ALIVE]),
        ..CheckConfig::default()
    };
    let default_gen = GenConfig::default();

    // Warm-up: the same work as (a), untimed in effect (results dropped).
    for stage in FLAWED {
        let _ = search_seeds(&stage_registry(stage), &default_gen, &all);
    }

    // (a) and (c): default generator, all six properties.
    let rows: Vec<StageFigures> = FLAWED
        .iter()
        .map(|&stage| measure_stage(stage.name(), &stage_registry(stage), &default_gen, &all))
        .collect();
    println!("## kvsim: cargo bench --bench check");
    println!(
        "\nDefault generator (1-4 clients × 1-6 commands, 0-3 faults, 0-6 overrides, swarm), all six properties, proptest seeds 0..{}; one run per seed.",
        SEEDS - 1
    );
    print_search_table(
        "(a) time from the first generated case to the first failing case (`find_failure`, no shrinking)",
        &rows,
    );
    print_shrink_table("(c) shrinking each failure of (a) (`shrink_case`)", &rows);
    print_runner_table(
        "`check_registry` end to end (256 cases, proptest's shrinking, then `shrink_case`, then a traced run)",
        &rows,
    );
    // Property 1's known minimum on these scenarios: 5 events.
    if let Some(row) = rows.iter().find(|row| row.name == Stage::Unlinked.name()) {
        let (after, before) = seeds_at_length(row, |property| smallest(&row.name, property));
        println!(
            "\n- unlinked: {}/{n} seeds shrink to the smallest case of their property (tests/shrink_table.rs; {}/{n} without the shortening pass)",
            after.len(),
            before.len(),
            n = row.shrunk.len()
        );
    }

    // (b): fixed throughput.
    println!(
        "\n### (b) `fixed`: passing cases per second, {THROUGHPUT_CASES}-case searches, seeds 0..{}\n",
        THROUGHPUT_SEEDS - 1
    );
    println!(
        "| generator | properties | `check_registry` cases/s, median (min) | plain loop cases/s, median (min) | plain loop events/s, median (min) | mean events per case | slowest case, ms | failures |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let fixed = stage_registry(Stage::Fixed);
    let shapes: [(&str, GenConfig, &str, &CheckConfig); 4] = [
        ("default", GenConfig::default(), "all six", &all),
        ("`2x3`-like", peers_shape(2, 3), "P1", &p1_only),
        ("`3x4`-like", peers_shape(3, 4), "P1", &p1_only),
        ("`3x4`-like", peers_shape(3, 4), "all six", &all),
    ];
    for (name, generator, properties, check) in &shapes {
        let (runner_rates, runner_failed) = throughput_runner(&fixed, generator, check);
        let figures = throughput_loop(&fixed, generator, check);
        println!(
            "| {name} | {properties} | {} | {} | {} | {:.1} | {} | {} |",
            rate_pair(&runner_rates),
            rate_pair(&figures.cases_per_s),
            rate_pair(&figures.events_per_s),
            figures.mean_events,
            fmt_ms(figures.slowest_ms),
            runner_failed + figures.failures,
        );
    }

    // (d): the peers' scenarios on unlinked, property 1 only.
    let unlinked = stage_registry(Stage::Unlinked);
    let peer_rows: Vec<StageFigures> = [
        ("`2x3`-like", peers_shape(2, 3)),
        ("`2x4`-like", peers_shape(2, 4)),
        ("`3x3`-like", peers_shape(3, 3)),
        ("`3x4`-like", peers_shape(3, 4)),
        ("peer-proptest shape (1-3 × 1-4)", peer_proptest_shape()),
    ]
    .into_iter()
    .map(|(name, generator)| {
        measure_stage(
            &format!("unlinked, {name}"),
            &unlinked,
            &generator,
            &p1_only,
        )
    })
    .chain(std::iter::once(search_exact_2x3(&unlinked, &p1_only)))
    .collect();
    println!(
        "\n## Peer scenarios: `unlinked`, property 1 only, CREATE/LOOKUP over `a`, `b`, 0-2 `kill bucket` faults, 0-6 overrides, proptest seeds 0..{}",
        SEEDS - 1
    );
    print_search_table("(d) time to the first counterexample", &peer_rows);
    print_shrink_table("(d) shrinking (the known minimum is 5 events)", &peer_rows);
    print_runner_table("(d) `check_registry` end to end (256 cases)", &peer_rows);
    println!();
    for row in &peer_rows {
        let (after, before) = seeds_at_length(row, |_| Some(5));
        println!(
            "- {}: {}/{n} seeds shrink to 5 events ({}/{n} without the shortening pass)",
            row.name,
            after.len(),
            before.len(),
            n = row.shrunk.len()
        );
    }

    // (e): the smallest case per flawed registry, before and after the
    // shortening pass.
    let rows: Vec<SmallestRow> = subjects().iter().map(measure_smallest).collect();
    print_smallest_table(&rows);
}
