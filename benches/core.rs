//! Core speed: scheduler steps (events) per second on workload `w4x2500`
//! (issue 3, item 7). Informs, never gates.
//!
//! `w4x2500`: 4 clients × 2,500 commands each, a seeded mix of 40 % PUT,
//! 30 % GET, 10 % CREATE, 10 % DELETE and 10 % CRASH over 100 bucket names
//! and 8 keys, registry stage `fixed`, the `fifo` schedule, dialogues
//! discarded. The command lists and the system are built outside the timed
//! region; the timed region is `Sim::run` alone. Each run must take the same
//! number of steps (a run is deterministic), and that number is the
//! benchmark's item count, so divan reports events per second.
//!
//! ```text
//! cargo bench --bench core
//! ```

use divan::Bencher;
use divan::counter::ItemsCount;
use kvsim::kv::{Command, KvSystem, Stage, Target};
use kvsim::sim::choice::Fifo;
use kvsim::sim::{Limits, Outcome, Prng};
use std::sync::OnceLock;

fn main() {
    eprintln!("w4x2500: {} steps per run", steps_per_run());
    divan::main();
}

const CLIENTS: u32 = 4;
const COMMANDS_PER_CLIENT: u32 = 2_500;
const BUCKET_NAMES: u64 = 100;
const KEYS: u64 = 8;
const SEED: u64 = 0x6b76_7369_6d00_0004; // "kvsim", 4 clients

/// Far above what the workload takes, so a run always ends quiescent.
const LIMITS: Limits = Limits {
    steps_max: 10_000_000,
    queue_len_max: 100_000,
};

/// One client's commands: (stable id, command), drawn from `prng`.
fn client_commands(prng: &mut Prng) -> Vec<(u32, Command)> {
    (0..COMMANDS_PER_CLIENT)
        .map(|cmd_id| {
            let bucket = format!("b{:02}", prng.below(BUCKET_NAMES));
            let key = format!("k{}", prng.below(KEYS));
            let command = match prng.below(10) {
                0..=3 => Command::Put {
                    bucket,
                    key,
                    value: format!("v{}", prng.below(1_000)),
                },
                4..=6 => Command::Get { bucket, key },
                7 => Command::Create { bucket },
                8 => Command::Delete { bucket, key },
                _ => Command::Crash {
                    target: Target::Bucket(bucket),
                    reason: None,
                },
            };
            (cmd_id, command)
        })
        .collect()
}

/// The command lists of `w4x2500`, one per client, the same on every call.
fn workload() -> &'static [Vec<(u32, Command)>] {
    static WORKLOAD: OnceLock<Vec<Vec<(u32, Command)>>> = OnceLock::new();
    WORKLOAD.get_or_init(|| {
        let mut prng = Prng::new(SEED);
        (0..CLIENTS).map(|_| client_commands(&mut prng)).collect()
    })
}

/// A fresh system ready to play `w4x2500`.
fn system(tracing: bool) -> KvSystem {
    let mut system = KvSystem::new(Stage::Fixed.registry(), Box::new(Fifo), LIMITS, tracing);
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
fn steps_per_run() -> u64 {
    static STEPS: OnceLock<u64> = OnceLock::new();
    *STEPS.get_or_init(|| {
        let steps = run(&mut system(false));
        assert_eq!(
            run(&mut system(false)),
            steps,
            "w4x2500 is not deterministic"
        );
        assert_eq!(run(&mut system(true)), steps, "tracing changed the run");
        steps
    })
}

fn bench_w4x2500(bencher: Bencher, tracing: bool) {
    let expected = steps_per_run();
    bencher
        .counter(ItemsCount::new(expected))
        .with_inputs(|| system(tracing))
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
    bench_w4x2500(bencher, false);
}

/// The same workload with tracing on (keys and trace entries built), for
/// comparison.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn w4x2500_traced(bencher: Bencher) {
    bench_w4x2500(bencher, true);
}
