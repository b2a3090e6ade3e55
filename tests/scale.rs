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

/// Many clients, most of them blocked on a call or done at any moment:
/// a client's state is read only after one of its own handlers ran, never
/// polled, and no built-in source is shown the whole candidate list, under
/// every schedule.
#[test]
fn idle_and_blocked_clients_cost_nothing_per_step() {
    const CLIENTS: u32 = 2_000;
    for schedule in ["fifo", "random", "pct", "pos", "overrides"] {
        let chooser: Box<dyn kvsim::sim::ChoiceSource> = match schedule {
            "fifo" => Box::new(Fifo),
            "random" => Box::new(kvsim::sim::choice::RandomWalk::new(3)),
            "pct" => Box::new(kvsim::sim::choice::Pct::new(3, 3, 10_000)),
            "pos" => Box::new(kvsim::sim::choice::Pos::new(3)),
            _ => Box::new(kvsim::sim::choice::Overrides::then(
                vec![kvsim::sim::EventKey::client(CLIENTS - 1, 1)],
                Box::new(kvsim::sim::choice::RandomWalk::new(3)),
            )),
        };
        let mut system = KvSystem::new(Stage::Fixed.registry(), chooser, LIMITS, false);
        for client in 0..CLIENTS {
            let name = format!("b{client}");
            let commands = vec![
                Command::Create {
                    bucket: name.clone(),
                },
                Command::Settle,
                Command::Put {
                    bucket: name,
                    key: "k".to_string(),
                    value: "v".to_string(),
                },
            ];
            system.add_client(client, (0u32..).zip(commands), false);
        }
        assert_eq!(system.sim.run(), Outcome::Quiescent, "{schedule}");
        let (work, steps) = (system.sim.work(), system.sim.steps());
        assert!(steps > 6 * u64::from(CLIENTS), "{schedule}: {steps} steps");
        // Each step runs at most a few handlers of clients; each spawn reads
        // its client once.
        assert!(
            work.clients_examined <= 2 * steps + u64::from(CLIENTS),
            "{schedule}: {} client states read in {steps} steps",
            work.clients_examined
        );
        assert_eq!(work.candidates_listed, 0, "{schedule}");
    }
}

/// A long run under every schedule, traced (and the trace written away as
/// it comes): event keys are freed once nothing can refer to them, so the
/// keys alive stay few however long the run, as do the trace entries held.
#[test]
fn keys_and_trace_entries_do_not_pile_up() {
    const PUTS: usize = 3_000;
    for schedule in ["fifo", "random", "pct", "pos", "overrides"] {
        let chooser: Box<dyn kvsim::sim::ChoiceSource> = match schedule {
            "fifo" => Box::new(Fifo),
            "random" => Box::new(kvsim::sim::choice::RandomWalk::new(3)),
            "pct" => Box::new(kvsim::sim::choice::Pct::new(3, 3, 10_000)),
            "pos" => Box::new(kvsim::sim::choice::Pos::new(3)),
            _ => Box::new(kvsim::sim::choice::Overrides::then(
                vec![kvsim::sim::EventKey::client(0, 7).deliver(0)],
                Box::new(kvsim::sim::choice::RandomWalk::new(3)),
            )),
        };
        let mut system = KvSystem::new(Stage::Fixed.registry(), chooser, LIMITS, true);
        system.sim.record_schedule(false);
        let commands = std::iter::once(Command::Create {
            bucket: "s".to_string(),
        })
        .chain((0..PUTS).map(|_| Command::Put {
            bucket: "s".to_string(),
            key: "k".to_string(),
            value: "v".to_string(),
        }));
        system.add_client(0, (0u32..).zip(commands), false);
        let (mut keys_max, mut entries) = (0, 0);
        while system.sim.step() {
            keys_max = keys_max.max(system.sim.keys_alive());
            entries += system.sim.drain_trace().count();
        }
        assert_eq!(system.sim.outcome(), Outcome::Quiescent, "{schedule}");
        assert!(entries > 10 * PUTS, "{schedule}: {entries} entries");
        assert!(keys_max <= 32, "{schedule}: {keys_max} keys alive at once");
        assert!(system.sim.trace().expect("traced").entries.is_empty());
    }
}
