//! `kvsim explore`'s figures (README § Figures), measured in-process through
//! [`check::explore`] with an [`ExploreConfig`] built as the command line
//! builds it.
//!
//! - `chapter`: cases/s on one thread for `examples/verify/chapter.kv`,
//!   registry `fixed`, `--schedule random --faults none`, tracing off, with
//!   property 1 only and with all six. The bench runs 100,000 cases per
//!   sample (the README's 1,000,000-case figure is the same configuration
//!   through the command line).
//! - `KVSIM_EXPLORE_FIGURES=1` also prints: (b) the scaling
//!   cases/s(2 threads) ÷ cases/s(1 thread) on `examples/verify/2x3.kv`
//!   (`fixed`, `--faults kill:2`, the default portfolio and properties),
//!   median of 5 runs of 5 s each; (c) cases and time to the first failure
//!   per flawed stage for each strategy and the portfolio, median and max
//!   over seeds 0..=19 (default generator and properties, one thread, the
//!   shrinker given no runs, so the time is the search's alone).
//!
//! ```text
//! cargo bench --bench explore
//! KVSIM_EXPLORE_FIGURES=1 cargo bench --bench explore
//! ```

use divan::Bencher;
use kvsim::check::{
    BUILTIN_PROPERTIES, ExploreConfig, FaultBudget, P1_LOOKUP_IS_ALIVE, PropertySet, StrategyKind,
    explore,
};
use kvsim::kv::{Command, Stage, script};
use std::path::Path;
use std::time::Duration;

#[path = "support/figures.rs"]
mod figures;
use figures::{load, median, timed};

fn main() {
    divan::main();
    if std::env::var_os("KVSIM_EXPLORE_FIGURES").is_some() {
        print_chapter();
        print_scaling();
        print_first_failures();
    }
}

/// Cases per sample of the `chapter` benchmarks.
const CHAPTER_CASES: u32 = 100_000;

/// A script's clients and the bucket names they use, as `kvsim explore
/// SCRIPT` reads them.
fn script_clients(path: &str) -> (Vec<Vec<Command>>, Vec<String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let file = std::fs::File::open(&path).expect("the scenario script exists");
    let script = script::read_text(&path, file)
        .expect("the scenario script parses")
        .to_script();
    (script.client_commands(), script.bucket_names())
}

/// `kvsim explore SCRIPT --registry fixed --schedule S --faults F
/// --threads T` with `properties` (all six when empty).
fn script_config(
    path: &str,
    strategies: Vec<StrategyKind>,
    faults: &str,
    properties: &[kvsim::check::Property],
    threads: usize,
) -> ExploreConfig {
    let defaults = ExploreConfig::default();
    let (clients, names) = script_clients(path);
    let mut generator = defaults.generator.clone();
    generator.names = names;
    generator.script = Some(clients);
    generator.strategies = strategies;
    let generator = faults
        .parse::<FaultBudget>()
        .expect("a valid fault budget")
        .apply(generator);
    let mut check = defaults.check.clone();
    if !properties.is_empty() {
        check.properties = PropertySet::only(properties);
    }
    ExploreConfig {
        generator,
        check,
        threads,
        registry: Stage::Fixed.name().to_string(),
        out: None,
        ..defaults
    }
}

fn chapter(properties: &[kvsim::check::Property], cases: u32) -> ExploreConfig {
    ExploreConfig {
        cases,
        ..script_config(
            "examples/verify/chapter.kv",
            vec![StrategyKind::Random],
            "none",
            properties,
            1,
        )
    }
}

fn run_fixed(config: &ExploreConfig) -> kvsim::check::ExploreReport {
    let report = explore(&|| Stage::Fixed.registry(), config);
    assert_eq!(report.exit_code(), 0, "fixed holds: {report}");
    report
}

/// `chapter`, property 1 only, 100,000 cases on one thread.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn chapter_p1(bencher: Bencher) {
    let config = chapter(&[P1_LOOKUP_IS_ALIVE], CHAPTER_CASES);
    bencher.bench(|| run_fixed(&config));
}

/// `chapter`, all six properties, 100,000 cases on one thread.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn chapter_all_six(bencher: Bencher) {
    let config = chapter(&BUILTIN_PROPERTIES, CHAPTER_CASES);
    bencher.bench(|| run_fixed(&config));
}

fn print_chapter() {
    for (label, properties) in [
        ("P1", &[P1_LOOKUP_IS_ALIVE][..]),
        ("all six", &BUILTIN_PROPERTIES[..]),
    ] {
        let config = chapter(properties, CHAPTER_CASES);
        let ((), seconds) = timed(|| {
            run_fixed(&config);
        });
        println!(
            "chapter, {label}: {CHAPTER_CASES} cases on 1 thread in {seconds:.3} s = {:.0} cases/s (load {})",
            f64::from(CHAPTER_CASES) / seconds,
            load()
        );
    }
}

/// Cases/s of `2x3` on `threads` threads for 5 s.
fn scaling_run(threads: usize) -> f64 {
    let config = ExploreConfig {
        cases: u32::MAX,
        max_time: Some(Duration::from_secs(5)),
        ..script_config(
            "examples/verify/2x3.kv",
            StrategyKind::PORTFOLIO.to_vec(),
            "kill:2",
            &[],
            threads,
        )
    };
    let (report, seconds) = timed(|| explore(&|| Stage::Fixed.registry(), &config));
    assert!(!report.failed(), "fixed holds on 2x3");
    report.run.cases_executed as f64 / seconds
}

fn print_scaling() {
    let mut ratios = Vec::new();
    for run in 0..5 {
        let one = scaling_run(1);
        let load_one = load();
        let two = scaling_run(2);
        println!(
            "2x3 run {run}: 1 thread {one:.0} cases/s (load {load_one}), 2 threads {two:.0} cases/s (load {}), ratio {:.2}",
            load(),
            two / one
        );
        ratios.push(two / one);
    }
    println!("2x3 scaling, median of 5: {:.2}", median(&mut ratios));
}

fn print_first_failures() {
    let strategies: [(&str, Vec<StrategyKind>); 5] = [
        ("random", vec![StrategyKind::Random]),
        ("pct", vec![StrategyKind::Pct { max_depth: 3 }]),
        ("pos", vec![StrategyKind::Pos]),
        ("overrides", vec![StrategyKind::Overrides]),
        ("portfolio", StrategyKind::PORTFOLIO.to_vec()),
    ];
    println!(
        "stage | schedule | cases to the first failure (median / max) | ms to it (median / max)"
    );
    for stage in [
        Stage::Naive,
        Stage::Monitored,
        Stage::NoCatchAll,
        Stage::Unlinked,
    ] {
        for (name, kinds) in &strategies {
            let mut cases = Vec::new();
            let mut millis = Vec::new();
            for seed in 0..=19 {
                let defaults = ExploreConfig::default();
                let mut generator = defaults.generator.clone();
                generator.strategies = kinds.clone();
                let mut config = ExploreConfig {
                    cases: 1_000_000,
                    seed,
                    generator,
                    threads: 1,
                    registry: stage.name().to_string(),
                    out: None,
                    ..defaults
                };
                // The figure is the search's: the shrinker gets no runs.
                config.shrink.runs_max = 0;
                let (report, seconds) = timed(|| explore(&|| stage.registry(), &config));
                millis.push(seconds * 1e3);
                let failure = report.result.failures.first();
                let index = failure.map_or(f64::NAN, |f| f.index as f64);
                cases.push(index + 1.0);
            }
            let max_cases = cases.iter().copied().fold(0.0, f64::max);
            let max_ms = millis.iter().copied().fold(0.0, f64::max);
            println!(
                "{} | {name} | {} / {} | {:.2} / {:.2}",
                stage.name(),
                median(&mut cases),
                max_cases,
                median(&mut millis),
                max_ms
            );
        }
    }
}
