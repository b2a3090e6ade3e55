//! The dead-lookup race as shuttle threads: the registry is a thread
//! reading one channel, each bucket a thread reading its own, each client a
//! thread playing its script. Shuttle runs the test many times, each under
//! another interleaving its scheduler picks.
//!
//! Usage: `peer-shuttle chapter|2x3k flawed|fixed random|pct|dfs SEEDS MAX_RUNS [DEPTH]`
//! (seeds are 0..SEEDS, each a run of at most MAX_RUNS executions; DEPTH is
//! PCT's, 3 by default; DFS ignores the seed). Prints one line of figures;
//! `VERBOSE` in the environment adds a line per seed.
//!
//! What threads cannot say, and how the model works around it:
//! - A channel is one FIFO per receiver ordered by send time, stronger than
//!   the BEAM's per-pair order: two signals already sent by different
//!   senders are never reordered. The race shows only because a bucket's
//!   death and its `DOWN` are two steps of the bucket's thread, between
//!   which a lookup can reach the registry.
//! - No untrappable kill: the bucket thread ends when it reads the kill.
//! - No `is_alive`: a shared table of who is alive stands for it, and the
//!   registry holds its lock through a lookup, so that checking and
//!   answering is one step against deaths (as a handler is on the BEAM).
//! - Only the client-kill scenarios (`chapter`, `2x3k`): a fault that kills
//!   a thread from outside at any step has no counterpart.

use peer_model::{max, median};
use shuttle::scheduler::{DfsScheduler, PctScheduler, RandomScheduler, Scheduler};
use shuttle::sync::mpsc::{Receiver, Sender, channel};
use shuttle::sync::{Arc, Mutex};
use shuttle::{Config, FailurePersistence, Runner, thread};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Executions of the test so far in this run.
static EXECUTIONS: AtomicUsize = AtomicUsize::new(0);

/// A bucket as the registry hands it out: its index in the table of the
/// living, and its mailbox.
type Bucket = (usize, Sender<()>);

/// Who is alive, by bucket index.
type Living = Arc<Mutex<Vec<bool>>>;

enum ToRegistry {
    Create(u8),
    Lookup(u8, Sender<Option<Bucket>>),
    /// The monitor's message: bucket `.0` died.
    Down(usize),
    /// The test is over.
    Stop,
}

#[derive(Clone, Copy)]
enum Command {
    Create(u8),
    Lookup(u8),
    /// `exit(pid, :kill)` to the bucket of the last successful lookup.
    KillLast,
}

fn start_bucket(living: &Living, registry: &Sender<ToRegistry>) -> Bucket {
    let (mailbox, kill) = channel::<()>();
    let index = {
        let mut living = living.lock().unwrap();
        living.push(true);
        living.len() - 1
    };
    let (living, registry) = (living.clone(), registry.clone());
    thread::spawn(move || {
        // A bucket only waits to be killed; then it dies, and only then
        // does its monitor's DOWN go out: two steps, the race's window.
        if kill.recv().is_ok() {
            living.lock().unwrap()[index] = false;
            let _ = registry.send(ToRegistry::Down(index));
        }
    });
    (index, mailbox)
}

fn registry(inbox: Receiver<ToRegistry>, me: Sender<ToRegistry>, living: Living, fixed: bool) {
    let mut names: BTreeMap<u8, Bucket> = BTreeMap::new();
    while let Ok(message) = inbox.recv() {
        match message {
            ToRegistry::Create(name) => {
                names
                    .entry(name)
                    .or_insert_with(|| start_bucket(&living, &me));
            }
            ToRegistry::Lookup(name, reply) => {
                let alive = living.lock().unwrap();
                let mut answer = names.get(&name).cloned();
                if fixed && answer.as_ref().is_some_and(|(index, _)| !alive[*index]) {
                    answer = None;
                }
                if let Some((index, _)) = &answer {
                    assert!(alive[*index], "a lookup reply names dead bucket {index}");
                }
                let _ = reply.send(answer);
            }
            ToRegistry::Down(index) => names.retain(|_, (bucket, _)| *bucket != index),
            ToRegistry::Stop => return,
        }
    }
}

fn client(registry: Sender<ToRegistry>, script: Vec<Command>) {
    let mut last: Option<Bucket> = None;
    for command in script {
        match command {
            Command::Create(name) => registry.send(ToRegistry::Create(name)).unwrap(),
            Command::Lookup(name) => {
                let (reply_to, reply) = channel();
                registry.send(ToRegistry::Lookup(name, reply_to)).unwrap();
                if let Some(bucket) = reply.recv().unwrap() {
                    last = Some(bucket);
                }
            }
            Command::KillLast => {
                if let Some((_, mailbox)) = &last {
                    let _ = mailbox.send(());
                }
            }
        }
    }
}

fn scripts(scenario: &str) -> Option<Vec<Vec<Command>>> {
    use Command::{Create as C, KillLast as K, Lookup as L};
    match scenario {
        "chapter" => Some(vec![vec![C(0), L(0), K, L(0)]]),
        "2x3k" => Some(vec![vec![C(0), L(0), K], vec![C(0), L(0), L(0)]]),
        _ => None,
    }
}

fn test(scripts: Vec<Vec<Command>>, fixed: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        EXECUTIONS.fetch_add(1, Ordering::Relaxed);
        let living: Living = Arc::new(Mutex::new(Vec::new()));
        let (to_registry, inbox) = channel();
        let registry = {
            let (me, living) = (to_registry.clone(), living.clone());
            thread::spawn(move || registry(inbox, me, living, fixed))
        };
        let clients: Vec<_> = scripts
            .iter()
            .cloned()
            .map(|script| {
                let to_registry = to_registry.clone();
                thread::spawn(move || client(to_registry, script))
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
        to_registry.send(ToRegistry::Stop).unwrap();
        registry.join().unwrap();
    }
}

/// Runs the test under `scheduler` until it fails or the scheduler is
/// done: whether it failed, the executions it took, and the milliseconds.
fn run<S: Scheduler + 'static>(
    scheduler: S,
    scripts: &[Vec<Command>],
    fixed: bool,
) -> (bool, usize, f64) {
    EXECUTIONS.store(0, Ordering::Relaxed);
    let mut config = Config::new();
    config.failure_persistence = FailurePersistence::None;
    config.silence_warnings = true;
    let test = test(scripts.to_vec(), fixed);
    let started = Instant::now();
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Runner::new(scheduler, config).run(test);
    }))
    .is_err();
    let ms = started.elapsed().as_secs_f64() * 1e3;
    (failed, EXECUTIONS.load(Ordering::Relaxed), ms)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!(
            "usage: peer-shuttle chapter|2x3k flawed|fixed random|pct|dfs SEEDS MAX_RUNS [DEPTH]"
        );
        ExitCode::from(2)
    };
    let [scenario, registry, strategy, seeds, runs, rest @ ..] = args.as_slice() else {
        return usage();
    };
    let Some(scripts) = scripts(scenario) else {
        return usage();
    };
    let fixed = match registry.as_str() {
        "flawed" => false,
        "fixed" => true,
        _ => return usage(),
    };
    let (Ok(seeds), Ok(runs)) = (seeds.parse::<u64>(), runs.parse::<usize>()) else {
        return usage();
    };
    let depth = match rest {
        [] => 3,
        [depth] => match depth.parse::<usize>() {
            Ok(depth) => depth,
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    // A failing execution panics by design; its message is noise here.
    std::panic::set_hook(Box::new(|_| {}));
    let (mut executions, mut ms) = (Vec::new(), Vec::new());
    let mut failed = 0;
    for seed in 0..seeds {
        let (broke, n, t) = match strategy.as_str() {
            "random" => run(RandomScheduler::new_from_seed(seed, runs), &scripts, fixed),
            "pct" => run(
                PctScheduler::new_from_seed(seed, depth, runs),
                &scripts,
                fixed,
            ),
            "dfs" => run(DfsScheduler::new(Some(runs), false), &scripts, fixed),
            _ => return usage(),
        };
        failed += usize::from(broke);
        executions.push(n as f64);
        ms.push(t);
        if std::env::var_os("VERBOSE").is_some() {
            println!("  seed={seed} failed={broke} executions={n} ms={t:.2}");
        }
    }
    println!(
        "tool=shuttle scenario={scenario} registry={registry} scheduler={strategy}{} seeds={seeds} max_runs={runs} failed={failed}/{seeds} executions median={} max={} ms median={:.2} max={:.2}",
        if strategy == "pct" {
            format!(" depth={depth}")
        } else {
            String::new()
        },
        median(&executions),
        max(&executions),
        median(&ms),
        max(&ms),
    );
    ExitCode::SUCCESS
}
