//! Instruction-count probe for benches/scale.rs's `clients` workload: one
//! run of N clients (each `CREATE b<i>` then `LOOKUP b<i>`) on `fixed`
//! under one schedule, seeded as the bench seeds it, asserted quiescent.
//! Under a loaded machine wall-clock ratios are noisy; instruction counts
//! under callgrind are not, so the growth from N to 10N is read as the
//! ratio of two counts.
//!
//! ```text
//! cargo build --release --example scale_probe
//! valgrind --tool=callgrind --toggle-collect='*measured_run*' target/release/examples/scale_probe 1000 random
//! valgrind --tool=callgrind --toggle-collect='*measured_run*' target/release/examples/scale_probe 10000 random
//! ```
//!
//! With `--toggle-collect` the count is the run alone, as the bench times
//! it (not building the system, nor the `fifo` run that gives PCT its
//! `k`); without it, the whole process.

use kvsim::kv::{Command, KvSystem, Stage};
use kvsim::sim::choice::{Fifo, Pct, Pos, RandomWalk};
use kvsim::sim::{ChoiceSource, Limits, Outcome};
use std::process::ExitCode;

/// Far above what the workload takes, as in the bench.
const LIMITS: Limits = Limits {
    steps_max: 100_000_000,
    queue_len_max: 10_000_000,
};

/// The bench's seed.
const SEED: u64 = 7;

fn system(n: u32, chooser: Box<dyn ChoiceSource>) -> KvSystem {
    let mut system = KvSystem::new(Stage::Fixed.registry(), chooser, LIMITS, false);
    for id in 0..n {
        let bucket = format!("b{id}");
        let commands = vec![
            Command::Create {
                bucket: bucket.clone(),
            },
            Command::Lookup { bucket },
        ];
        system.add_client(id, (0u32..).zip(commands), false);
    }
    system
}

fn run(system: &mut KvSystem) -> u64 {
    assert_eq!(system.sim.run(), Outcome::Quiescent, "a limit was hit");
    system.sim.steps()
}

/// The run under the schedule asked for, alone: callgrind's
/// `--toggle-collect='*measured_run*'` counts only this.
#[inline(never)]
fn measured_run(system: &mut KvSystem) -> u64 {
    run(system)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(n), Some(schedule)) = (
        args.first().and_then(|n| n.parse::<u32>().ok()),
        args.get(1),
    ) else {
        eprintln!("usage: scale_probe N fifo|random|pct|pos");
        return ExitCode::from(2);
    };
    let k = run(&mut system(n, Box::new(Fifo)));
    let chooser: Box<dyn ChoiceSource> = match schedule.as_str() {
        "fifo" => Box::new(Fifo),
        "random" => Box::new(RandomWalk::new(SEED)),
        "pct" => Box::new(Pct::new(SEED, Pct::DEFAULT_DEPTH, k)),
        "pos" => Box::new(Pos::new(SEED)),
        other => {
            eprintln!("scale_probe: unknown schedule {other:?} (fifo, random, pct, pos)");
            return ExitCode::from(2);
        }
    };
    let steps = measured_run(&mut system(n, chooser));
    println!("{n} clients, {schedule}: {steps} steps (fifo {k})");
    ExitCode::SUCCESS
}
