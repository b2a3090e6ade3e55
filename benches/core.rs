//! Core speed: scheduler steps (events) per second on workload `w4x2500`,
//! under `fifo` and `random`, beside a floor measured in the same run.
//! Informs, never gates.
//!
//! `w4x2500`: 4 clients × 2,500 commands each, a seeded mix of 40 % PUT,
//! 30 % GET, 10 % CREATE, 10 % DELETE and 10 % CRASH over 100 bucket names
//! and 8 keys, registry stage `fixed`, dialogues discarded. The command
//! lists and the system are built outside the timed region; the timed
//! region is `Sim::run` alone. Each run must take the same number of steps
//! (a run is deterministic), and that number is the benchmark's item
//! count, so divan reports events per second.
//!
//! The floor is what one event cannot cost less than: a bare loop that
//! pops a signal from one of a few FIFO queues (4 clients' request queues,
//! taken round robin, and their reply queues), applies it to a small
//! `BTreeMap` (put, get or delete of one of 8 keys, strings as in the KV
//! protocol) and pushes a reply onto another queue; a client whose reply
//! arrives sends (a copy of) its next request. No processes, event keys,
//! monitors, timers or choice. Its item count is its pops.
//!
//! After divan's table, `main` prints the medians of 5 runs of each and
//! kvsim's share of the floor's speed.
//!
//! ```text
//! cargo bench --bench core
//! ```

use divan::Bencher;
use divan::counter::ItemsCount;
use kvsim::kv::{Command, KvSystem, Stage};
use kvsim::sim::choice::{Fifo, RandomWalk};
use kvsim::sim::{ChoiceSource, Outcome, Prng};
use std::collections::{BTreeMap, VecDeque};
use std::sync::OnceLock;
use std::time::Duration;

fn main() {
    eprintln!("w4x2500: {} steps per run", steps_per_run(false));
    divan::main();
    print_floor_ratio();
}

#[path = "support/w4x2500.rs"]
mod w4x2500;
use w4x2500::{CLIENTS, KEYS, LIMITS, SEED, client_commands};

/// The command lists of `w4x2500`, one per client, the same on every call.
fn workload() -> &'static [Vec<(u32, Command)>] {
    static WORKLOAD: OnceLock<Vec<Vec<(u32, Command)>>> = OnceLock::new();
    WORKLOAD.get_or_init(|| {
        let mut prng = Prng::new(SEED);
        (0..CLIENTS).map(|_| client_commands(&mut prng)).collect()
    })
}

/// A fresh system ready to play `w4x2500`, under `random` (seed 1) or
/// `fifo`.
fn system(tracing: bool, random: bool) -> KvSystem {
    let chooser: Box<dyn ChoiceSource> = if random {
        Box::new(RandomWalk::new(1))
    } else {
        Box::new(Fifo)
    };
    let mut system = KvSystem::new(Stage::Fixed.registry(), chooser, LIMITS, tracing);
    system.sim.record_schedule(false);
    for (client_id, commands) in (0u32..).zip(workload()) {
        system.add_client(client_id, commands.clone().into_iter(), false);
    }
    system
}

/// Runs a system to the end and returns its step count.
fn run(system: &mut KvSystem) -> u64 {
    let outcome = system.sim.run();
    assert_eq!(outcome, Outcome::Quiescent, "w4x2500 hit a limit");
    system.sim.steps()
}

/// The step count of one run (the same for every run, tracing or not).
fn steps_per_run(random: bool) -> u64 {
    static STEPS: [OnceLock<u64>; 2] = [OnceLock::new(), OnceLock::new()];
    *STEPS[usize::from(random)].get_or_init(|| {
        let steps = run(&mut system(false, random));
        assert_eq!(
            run(&mut system(false, random)),
            steps,
            "w4x2500 is not deterministic"
        );
        assert_eq!(
            run(&mut system(true, random)),
            steps,
            "tracing changed the run"
        );
        steps
    })
}

fn bench_w4x2500(bencher: Bencher, tracing: bool, random: bool) {
    let expected = steps_per_run(random);
    bencher
        .counter(ItemsCount::new(expected))
        .with_inputs(|| system(tracing, random))
        .bench_local_values(|mut system| {
            let steps = run(&mut system);
            assert_eq!(steps, expected, "w4x2500 took a different number of steps");
            // Returned, so that dropping the system is not timed.
            system
        });
}

/// Tracing off: the fast path (no event keys, no trace).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn w4x2500(bencher: Bencher) {
    bench_w4x2500(bencher, false, false);
}

/// Under `random`: keys are built (a non-`fifo` source picks by key).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn w4x2500_random(bencher: Bencher) {
    bench_w4x2500(bencher, false, true);
}

/// The same workload with tracing on (keys and trace entries built), for
/// comparison.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn w4x2500_traced(bencher: Bencher) {
    bench_w4x2500(bencher, true, false);
}

/// The floor's signals: a request (operation, key, value) or a reply.
#[derive(Clone, Debug)]
enum Signal {
    Put(String, String),
    Get(String),
    Delete(String),
    Reply(Option<String>),
}

/// The floor's requests: as many as `w4x2500` takes steps, so both do the
/// same number of events (each request is two: its pop and its reply's).
fn floor_requests() -> &'static [Vec<Signal>] {
    static REQUESTS: OnceLock<Vec<Vec<Signal>>> = OnceLock::new();
    REQUESTS.get_or_init(|| {
        let per_client = steps_per_run(false) / 2 / u64::from(CLIENTS);
        let mut prng = Prng::new(SEED);
        (0..CLIENTS)
            .map(|_| {
                (0..per_client)
                    .map(|_| {
                        let key = format!("k{}", prng.below(KEYS));
                        match prng.below(10) {
                            0..=4 => Signal::Put(key, format!("v{}", prng.below(1_000))),
                            5..=8 => Signal::Get(key),
                            _ => Signal::Delete(key),
                        }
                    })
                    .collect()
            })
            .collect()
    })
}

/// Runs the floor to the end; returns its events (pops).
fn floor(requests: &[Vec<Signal>]) -> u64 {
    let clients = requests.len();
    let mut next: Vec<usize> = vec![1; clients];
    // One request queue per client (to the server) and one reply queue.
    let mut to_server: Vec<VecDeque<Signal>> = requests
        .iter()
        .map(|r| r.first().cloned().into_iter().collect())
        .collect();
    let mut to_client: Vec<VecDeque<Signal>> = vec![VecDeque::new(); clients];
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    let mut events = 0u64;
    let mut turn = 0usize;
    loop {
        let mut progressed = false;
        for offset in 0..clients {
            let client = (turn + offset) % clients;
            if let Some(signal) = to_server[client].pop_front() {
                events += 1;
                let reply = match signal {
                    Signal::Put(key, value) => map.insert(key, value),
                    Signal::Get(key) => map.get(&key).cloned(),
                    Signal::Delete(key) => map.remove(&key),
                    Signal::Reply(_) => None,
                };
                to_client[client].push_back(Signal::Reply(reply));
                progressed = true;
                break;
            }
            if let Some(Signal::Reply(value)) = to_client[client].pop_front() {
                events += 1;
                std::hint::black_box(value);
                if let Some(request) = requests[client].get(next[client]) {
                    next[client] += 1;
                    to_server[client].push_back(request.clone());
                }
                progressed = true;
                break;
            }
        }
        if !progressed {
            return events;
        }
        turn = (turn + 1) % clients;
    }
}

/// The floor: what an event cannot cost less than (see the module doc).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn floor_loop(bencher: Bencher) {
    let requests = floor_requests();
    let events = floor(requests);
    bencher
        .counter(ItemsCount::new(events))
        .bench_local(|| floor(std::hint::black_box(requests)));
}

/// The median of 5 timed calls of `f`, and its result.
#[allow(clippy::disallowed_methods)]
fn median_of_5(mut f: impl FnMut() -> (u64, Duration)) -> (u64, Duration) {
    let mut runs: Vec<(u64, Duration)> = (0..5).map(|_| f()).collect();
    runs.sort_by_key(|&(_, time)| time);
    runs[2]
}

#[allow(clippy::disallowed_methods)]
fn timed_system(random: bool) -> (u64, Duration) {
    let mut system = system(false, random);
    let start = std::time::Instant::now();
    let steps = run(&mut system);
    (steps, start.elapsed())
}

#[allow(clippy::disallowed_methods)]
fn print_floor_ratio() {
    let rate = |(events, time): (u64, Duration)| events as f64 / time.as_secs_f64() / 1e6;
    let floor = rate(median_of_5(|| {
        let requests = floor_requests();
        let start = std::time::Instant::now();
        let events = floor(std::hint::black_box(requests));
        (events, start.elapsed())
    }));
    let fifo = rate(median_of_5(|| timed_system(false)));
    let random = rate(median_of_5(|| timed_system(true)));
    println!("| run | M events/s (median of 5) | share of the floor |");
    println!("| --- | --- | --- |");
    println!("| floor | {floor:.2} | 100 % |");
    println!(
        "| w4x2500 fifo | {fifo:.2} | {:.0} % |",
        100.0 * fifo / floor
    );
    println!(
        "| w4x2500 random | {random:.2} | {:.0} % |",
        100.0 * random / floor
    );
}
