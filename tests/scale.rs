//! No quadratic path in the core: the work a run does grows with its
//! events, not with the size of the system times its events. Each test
//! counts work ([`kvsim::sim::Work`]) on a system large enough that a
//! per-step scan of queues or clients would exceed the bound many times
//! over; the speed figures themselves are in `benches/scale.rs`.

mod common;

use common::{M, Probe, Seq, log};
use kvsim::kv::{Command, KvSystem, Stage};
use kvsim::sim::choice::Fifo;
use kvsim::sim::{Limits, Outcome, Reason, Sim};

const LIMITS: Limits = Limits {
    steps_max: 10_000_000,
    queue_len_max: 10_000_000,
};

/// One client playing `commands` on the `fixed` registry under `fifo`.
fn kv_system(commands: Vec<Command>) -> KvSystem {
    let mut system = KvSystem::new(Stage::Fixed.registry(), Box::new(Fifo), LIMITS, false);
    system.add_client(0, (0u32..).zip(commands), false);
    system
}

/// A monitor request queued behind an exit signal, behind `n` messages:
/// it is freed once the exit signal is delivered, and the messages after
/// it are not scanned again at each of their deliveries.
#[test]
fn a_monitor_request_behind_an_exit_is_looked_for_once() {
    const N: u64 = 2_000;
    let log = log();
    let mut sim: Sim<M> = Sim::new(Box::new(Fifo), LIMITS, false);
    let target = common::spawn(&mut sim, Probe::new("target", &log));
    let driver = Seq::<M>::new("driver", &log).then(move |ctx| {
        // `normal` from a non-link is ignored by a process not trapping
        // exits: the target survives it, and the monitor is granted.
        ctx.exit(target, Reason::Normal);
        for i in 0..N {
            ctx.send(target, format!("m{i}"));
        }
        ctx.monitor(target);
    });
    sim.spawn_client(0, Box::new(driver));
    assert_eq!(sim.run(), Outcome::Quiescent);
    assert_eq!(log.borrow().len(), N as usize, "every message arrived");
    assert!(sim.tables_consistent());
    let scanned = sim.work().queue_scanned;
    assert!(
        scanned <= 2 * N + 2,
        "{scanned} queued signals scanned for {N} deliveries"
    );
}

/// Stray messages to the registry (`SEND registry x`) queue up behind the
/// client's: no delivery scans the queue.
#[test]
fn sends_to_the_registry_scan_no_queue() {
    const N: usize = 5_000;
    let commands = vec![
        Command::SendRegistry {
            word: "x".to_string()
        };
        N
    ];
    let mut system = kv_system(commands);
    assert_eq!(system.sim.run(), Outcome::Quiescent);
    assert!(system.sim.steps() >= 2 * N as u64);
    assert_eq!(system.sim.work().queue_scanned, 0);
}

/// Distinct `CREATE`s: the registry monitors every bucket, and each
/// client call monitors the registry; no monitor request is ever queued
/// behind an exit signal here, so nothing is scanned.
#[test]
fn distinct_creates_scan_no_queue() {
    const N: usize = 2_000;
    let commands = (0..N)
        .map(|i| Command::Create {
            bucket: format!("n{i}"),
        })
        .chain([Command::Lookup {
            bucket: "n0".to_string(),
        }])
        .collect();
    let mut system = kv_system(commands);
    assert_eq!(system.sim.run(), Outcome::Quiescent);
    assert_eq!(
        system.sim.live_processes(),
        N + 2,
        "registry, client, buckets"
    );
    assert_eq!(system.sim.work().queue_scanned, 0);
}
