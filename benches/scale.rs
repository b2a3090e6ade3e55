//! Growth: 10× the work should cost about 10× the time on every path of
//! the core. Three workloads at two sizes, each under
//! every schedule, median of 5 runs; the timed region is `Sim::run` alone
//! (the system and its command lists are built outside it), and every run
//! asserts that it ended quiescent, so no limit cut it short.
//!
//! - `send`: one client, N lines of `SEND registry x` (stray messages
//!   queue up at the registry behind the client's own).
//! - `create`: one client, N distinct `CREATE n<i>` (N buckets alive at
//!   the end, each monitored by the registry).
//! - `clients`: N clients, each `CREATE b<i>` then `LOOKUP b<i>` (at any
//!   moment most clients are blocked on a call or done).
//!
//! ```text
//! cargo bench --bench scale
//! KVSIM_SCALE_RATIOS=1 cargo bench --bench scale   # also print t(10N)/t(N)
//! ```

use divan::Bencher;
use kvsim::kv::{Command, KvSystem, Stage};
use kvsim::sim::choice::{Fifo, Pct, Pos, RandomWalk};
use kvsim::sim::{ChoiceSource, Limits, Outcome};
use std::fmt;
use std::time::{Duration, Instant};

fn main() {
    divan::main();
    if std::env::var_os("KVSIM_SCALE_RATIOS").is_some() {
        print_ratios();
    }
}

/// Far above what any workload takes: a run always ends quiescent.
const LIMITS: Limits = Limits {
    steps_max: 100_000_000,
    queue_len_max: 10_000_000,
};

const SEED: u64 = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    Send,
    Create,
    Clients,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Schedule {
    Fifo,
    Random,
    Pct,
    Pos,
}

const SCHEDULES: [Schedule; 4] = [
    Schedule::Fifo,
    Schedule::Random,
    Schedule::Pct,
    Schedule::Pos,
];

/// One benchmark point: a schedule and a size.
#[derive(Clone, Copy, Debug)]
struct Point {
    schedule: Schedule,
    n: usize,
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let schedule = match self.schedule {
            Schedule::Fifo => "fifo",
            Schedule::Random => "random",
            Schedule::Pct => "pct",
            Schedule::Pos => "pos",
        };
        write!(f, "{schedule}/{}", self.n)
    }
}

/// The command lists of `workload` at size `n`, one per client.
fn commands(workload: Workload, n: usize) -> Vec<Vec<Command>> {
    match workload {
        Workload::Send => vec![vec![
            Command::SendRegistry {
                word: "x".to_string()
            };
            n
        ]],
        Workload::Create => vec![
            (0..n)
                .map(|i| Command::Create {
                    bucket: format!("n{i}"),
                })
                .collect(),
        ],
        Workload::Clients => (0..n)
            .map(|i| {
                let bucket = format!("b{i}");
                vec![
                    Command::Create {
                        bucket: bucket.clone(),
                    },
                    Command::Lookup { bucket },
                ]
            })
            .collect(),
    }
}

fn system(workload: Workload, n: usize, chooser: Box<dyn ChoiceSource>) -> KvSystem {
    let mut system = KvSystem::new(Stage::Fixed.registry(), chooser, LIMITS, false);
    for (id, commands) in (0u32..).zip(commands(workload, n)) {
        system.add_client(id, (0u32..).zip(commands), false);
    }
    system
}

/// PCT's `k`, as `kvsim run` takes it: the length of a `fifo` run.
fn fifo_steps(workload: Workload, n: usize) -> u64 {
    let mut fifo = system(workload, n, Box::new(Fifo));
    run(&mut fifo)
}

fn chooser(schedule: Schedule, k: u64) -> Box<dyn ChoiceSource> {
    match schedule {
        Schedule::Fifo => Box::new(Fifo),
        Schedule::Random => Box::new(RandomWalk::new(SEED)),
        Schedule::Pct => Box::new(Pct::new(SEED, Pct::DEFAULT_DEPTH, k)),
        Schedule::Pos => Box::new(Pos::new(SEED)),
    }
}

fn run(system: &mut KvSystem) -> u64 {
    assert_eq!(system.sim.run(), Outcome::Quiescent, "a limit was hit");
    system.sim.steps()
}

fn bench(bencher: Bencher, workload: Workload, point: Point) {
    let k = fifo_steps(workload, point.n);
    bencher
        .with_inputs(|| system(workload, point.n, chooser(point.schedule, k)))
        .bench_local_values(|mut system| {
            run(&mut system);
            // Returned, so that dropping the system is not timed.
            system
        });
}

/// Every schedule at `small` and at `10 * small`.
fn points(small: usize) -> Vec<Point> {
    SCHEDULES
        .iter()
        .flat_map(|&schedule| [small, 10 * small].map(|n| Point { schedule, n }))
        .collect()
}

#[divan::bench(args = points(10_000), sample_count = 5, sample_size = 1)]
fn send(bencher: Bencher, point: Point) {
    bench(bencher, Workload::Send, point);
}

#[divan::bench(args = points(10_000), sample_count = 5, sample_size = 1)]
fn create(bencher: Bencher, point: Point) {
    bench(bencher, Workload::Create, point);
}

#[divan::bench(args = points(1_000), sample_count = 5, sample_size = 1)]
fn clients(bencher: Bencher, point: Point) {
    bench(bencher, Workload::Clients, point);
}

/// The median of 5 timed runs (a benchmark's wall clock, never a run's).
#[allow(clippy::disallowed_methods)]
fn median_time(workload: Workload, point: Point) -> Duration {
    let k = fifo_steps(workload, point.n);
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let mut system = system(workload, point.n, chooser(point.schedule, k));
            let start = Instant::now();
            run(&mut system);
            let elapsed = start.elapsed();
            drop(system);
            elapsed
        })
        .collect();
    times.sort();
    times[2]
}

fn print_ratios() {
    println!("| workload | schedule | t(N) | t(10N) | ratio |");
    println!("| --- | --- | --- | --- | --- |");
    for (workload, small) in [
        (Workload::Send, 10_000),
        (Workload::Create, 10_000),
        (Workload::Clients, 1_000),
    ] {
        for schedule in SCHEDULES {
            let t1 = median_time(workload, Point { schedule, n: small });
            let t10 = median_time(
                workload,
                Point {
                    schedule,
                    n: 10 * small,
                },
            );
            println!(
                "| {workload:?} {small} -> {} | {} | {:.1} ms | {:.1} ms | {:.1} |",
                10 * small,
                Point { schedule, n: small }
                    .to_string()
                    .split('/')
                    .next()
                    .unwrap_or(""),
                t1.as_secs_f64() * 1e3,
                t10.as_secs_f64() * 1e3,
                t10.as_secs_f64() / t1.as_secs_f64()
            );
        }
    }
}
