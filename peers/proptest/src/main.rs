//! The dead-lookup race found by proptest: it generates a case (1 to 3
//! clients of 1 to 4 commands over the names `a` and `b`, a budget of 0 to
//! 2 kill faults, and a vector of up to 63 choices), plays it on the shared
//! model in `peer-model` (at each step the enabled event `choice % enabled`,
//! 0 once the choices run out) and shrinks a failing case with proptest's
//! own shrinking.
//!
//! Usage: `peer-proptest flawed|fixed SEEDS [CASES]` (CASES defaults to
//! 100,000 per seed; seeds are 0..SEEDS). Prints one line of figures;
//! `VERBOSE` in the environment adds a line per seed with its shrunk case;
//! `CHOICE_MAX=N` draws choices from 0..N instead of every `u32`.
//!
//! A choice means "the i-th enabled event", so deleting a command or a
//! choice while shrinking renumbers every later one: shrinking often stops
//! well above the 5-event minimum. That is the point of the comparison.

use peer_model::{Command, Scenario, max, median};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::cell::Cell;
use std::process::ExitCode;
use std::time::{Duration, Instant};

type Case = (Vec<Vec<Command>>, u8, Vec<u32>);

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (0u8..2).prop_map(Command::Create),
        (0u8..2).prop_map(Command::Lookup),
        Just(Command::KillLast),
    ]
}

fn case(choice_max: u32) -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(prop::collection::vec(command(), 1..5), 1..4),
        0u8..3,
        prop::collection::vec(0..choice_max, 0..64),
    )
}

fn scenario(clients: &[Vec<Command>], kill_faults: u8, fixed: bool) -> Scenario {
    Scenario {
        clients: clients.to_vec(),
        kill_faults,
        fixed,
    }
}

/// One seed's outcome.
struct Seed {
    /// Cases run up to and including the first failing one.
    cases_to_failure: Option<usize>,
    to_failure: Option<Duration>,
    /// Finding and shrinking, or running every case.
    total: Duration,
    /// The shrunk case's length in events.
    shrunk_events: Option<usize>,
}

fn run_seed(seed: u64, cases: u32, fixed: bool, choice_max: u32, verbose: bool) -> Seed {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 100_000,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let started = Instant::now();
    let (ran, first) = (Cell::new(0usize), Cell::new(None));
    let result = runner.run(&case(choice_max), |(clients, kill_faults, choices)| {
        ran.set(ran.get() + 1);
        let (broke, _) = scenario(&clients, kill_faults, fixed).play(&choices);
        if broke {
            if first.get().is_none() {
                first.set(Some((ran.get(), started.elapsed())));
            }
            return Err(TestCaseError::fail("a lookup reply named a dead bucket"));
        }
        Ok(())
    });
    let total = started.elapsed();
    let mut shrunk_events = None;
    match result {
        Err(TestError::Fail(_, (clients, kill_faults, choices))) => {
            let (_, events) = scenario(&clients, kill_faults, fixed).play(&choices);
            shrunk_events = Some(events);
            if verbose {
                println!(
                    "  seed={seed} cases_to_failure={} shrunk: clients={clients:?} kill_faults={kill_faults} choices={choices:?} events={events}",
                    first.get().map_or(0, |(n, _)| n)
                );
            }
        }
        Ok(()) if verbose => println!(
            "  seed={seed} {cases} cases passed in {:.1} ms",
            total.as_secs_f64() * 1e3
        ),
        Ok(()) => {}
        Err(error) => println!("  seed={seed} error: {error}"),
    }
    Seed {
        cases_to_failure: first.get().map(|(n, _)| n),
        to_failure: first.get().map(|(_, at)| at),
        total,
        shrunk_events,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!("usage: peer-proptest flawed|fixed SEEDS [CASES]");
        ExitCode::from(2)
    };
    let fixed = match args.first().map(String::as_str) {
        Some("flawed") => false,
        Some("fixed") => true,
        _ => return usage(),
    };
    let Some(Ok(seeds)) = args.get(1).map(|s| s.parse::<u64>()) else {
        return usage();
    };
    let cases = match args.get(2).map(|s| s.parse::<u32>()) {
        None => 100_000,
        Some(Ok(cases)) => cases,
        Some(Err(_)) => return usage(),
    };
    let choice_max = match std::env::var("CHOICE_MAX").map(|s| s.parse::<u32>()) {
        Err(_) => u32::MAX,
        Ok(Ok(n)) if n > 0 => n,
        Ok(_) => return usage(),
    };
    let verbose = std::env::var_os("VERBOSE").is_some();
    let outcomes: Vec<Seed> = (0..seeds)
        .map(|seed| run_seed(seed, cases, fixed, choice_max, verbose))
        .collect();
    let figures = |pick: &dyn Fn(&Seed) -> Option<f64>| -> Vec<f64> {
        outcomes.iter().filter_map(pick).collect()
    };
    let to_failure = figures(&|s| s.cases_to_failure.map(|n| n as f64));
    let ms_to_failure = figures(&|s| s.to_failure.map(|d| d.as_secs_f64() * 1e3));
    let ms_total = figures(&|s| Some(s.total.as_secs_f64() * 1e3));
    let shrunk = figures(&|s| s.shrunk_events.map(|n| n as f64));
    println!(
        "tool=proptest registry={} seeds={seeds} failed={}/{seeds} cases_to_failure median={} max={} ms_to_failure median={:.2} max={:.2} ms_total median={:.2} max={:.2} shrunk_events median={} max={}",
        if fixed { "fixed" } else { "flawed" },
        shrunk.len(),
        median(&to_failure),
        max(&to_failure),
        median(&ms_to_failure),
        max(&ms_to_failure),
        median(&ms_total),
        max(&ms_total),
        median(&shrunk),
        max(&shrunk),
    );
    ExitCode::SUCCESS
}
