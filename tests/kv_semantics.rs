//! The KV system's own statements of docs/semantics.md, S33–S38: the
//! chapter's hidden assumption (S33), stale lookups after an exit signal
//! (S34, S36), what each registry stage does when a bucket or the registry
//! dies or a stray message arrives (S35, the table in § 8, one test per
//! row and stage), the directives' own rules (S37) and what `fixed`
//! guarantees (S38). Dialogues are asserted in full; the fate of processes
//! is read from the simulation and its trace.

mod common;

use common::play;
use kvsim::kv::{Command, KvFault, KvSystem, Stage, script};
use kvsim::sim::choice::{Fifo, Overrides, Pct, RandomWalk};
use kvsim::sim::{ChoiceSource, EventKey, Limits, Outcome, Pid, Trace, TraceEntry};
use std::collections::BTreeMap;
use std::path::Path;

// ----- harness -----

/// The commands of one client's script.
fn commands(text: &str) -> Vec<Command> {
    let script =
        script::parse(Path::new("kv_semantics.kv"), text.as_bytes()).expect("test script parses");
    assert_eq!(script.clients.len(), 1, "one client");
    script.clients[0]
        .lines
        .iter()
        .map(|line| line.command.clone())
        .collect()
}

/// A KV system run to quiescence one step at a time, remembering every pid
/// that held a bucket's role, so that tests can name buckets after they die.
struct Run {
    system: KvSystem,
    client: Pid,
    /// Bucket name -> the pids that served it, in spawn order.
    buckets: BTreeMap<String, Vec<Pid>>,
}

impl Run {
    fn new(stage: Stage, chooser: Box<dyn ChoiceSource>, text: &str, faults: &[KvFault]) -> Run {
        let mut system = KvSystem::new(stage.registry(), chooser, Limits::default(), true);
        let commands = commands(text);
        let mut names: Vec<String> = commands
            .iter()
            .filter_map(|command| match command {
                Command::Create { bucket } => Some(bucket.clone()),
                _ => None,
            })
            .collect();
        names.dedup();
        let client = system.add_client(
            0,
            commands.into_iter().enumerate().map(|(i, c)| (i as u32, c)),
            true,
        );
        for (id, fault) in faults.iter().enumerate() {
            system.add_fault(id as u32, fault);
        }
        let mut run = Run {
            system,
            client,
            buckets: BTreeMap::new(),
        };
        loop {
            for name in &names {
                if let Some(pid) = run.system.sim.role_target(&format!("bucket:{name}")) {
                    let seen = run.buckets.entry(name.clone()).or_default();
                    if !seen.contains(&pid) {
                        seen.push(pid);
                    }
                }
            }
            if !run.system.sim.step() {
                break;
            }
        }
        assert_eq!(run.system.sim.outcome(), Outcome::Quiescent);
        run
    }

    fn fifo(stage: Stage, text: &str) -> Run {
        Run::new(stage, Box::new(Fifo), text, &[])
    }

    fn overrides(stage: Stage, text: &str, faults: &[KvFault], keys: Vec<EventKey>) -> Run {
        Run::new(stage, Box::new(Overrides::new(keys)), text, faults)
    }

    fn dialogue(&self) -> String {
        self.system.transcript(self.client)
    }

    fn trace(&self) -> &Trace {
        self.system.sim.trace().expect("tracing is on")
    }

    /// The `g`-th bucket spawned for `name`.
    fn bucket(&self, name: &str, g: usize) -> Pid {
        self.buckets
            .get(name)
            .and_then(|pids| pids.get(g))
            .copied()
            .unwrap_or_else(|| {
                panic!(
                    "no bucket {name}#{g} was ever alive\n{}",
                    self.trace().to_text()
                )
            })
    }

    fn registry_alive(&self) -> bool {
        self.system.sim.is_alive(self.system.registry)
    }

    /// The registry's names, as (name, pid, alive).
    fn names(&self) -> Vec<(String, Pid, bool)> {
        let state = self.system.registry_state().expect("registry alive");
        state
            .names()
            .into_iter()
            .map(|(name, pid)| (name, pid, self.system.sim.is_alive(pid)))
            .collect()
    }
}

/// The step (scheduler event) whose key is `key`.
fn step_of(trace: &Trace, key: &EventKey) -> Option<u64> {
    let key = key.to_string();
    trace.entries.iter().find_map(|entry| match entry {
        TraceEntry::Step { step, key: k, .. } if *k == key => Some(*step),
        _ => None,
    })
}

/// Every entry with the step it happened in (0 = setup).
fn stepped(trace: &Trace) -> Vec<(u64, &TraceEntry)> {
    let mut step = 0;
    trace
        .entries
        .iter()
        .map(|entry| {
            if let TraceEntry::Step { step: s, .. } = entry {
                step = *s;
            }
            (step, entry)
        })
        .collect()
}

/// The step at which the process with logical name `name` exited, and why.
fn exit_of(trace: &Trace, name: &str) -> Option<(u64, String)> {
    stepped(trace)
        .into_iter()
        .find_map(|(step, entry)| match entry {
            TraceEntry::Exit { pid, reason } if pid == name => Some((step, reason.clone())),
            _ => None,
        })
}

/// The steps at which the registry sent a lookup reply naming `pid`.
fn replies_naming(trace: &Trace, pid: Pid) -> Vec<u64> {
    // A traced message names a pid by its logical name.
    let found = format!("reply {{:ok, {}}}", trace.pid_names[&pid.0]);
    stepped(trace)
        .into_iter()
        .filter_map(|(step, entry)| match entry {
            TraceEntry::Send { from, signal, .. }
                if from == "registry" && signal.starts_with(&found) =>
            {
                Some(step)
            }
            _ => None,
        })
        .collect()
}

/// Asserts that the step with key `key` ran and delivered `event`.
fn assert_step(trace: &Trace, key: &EventKey, event: &str) -> u64 {
    let text = key.to_string();
    let found = trace.entries.iter().find_map(|entry| match entry {
        TraceEntry::Step {
            step,
            key: k,
            event: e,
            ..
        } if *k == text => Some((*step, e.clone())),
        _ => None,
    });
    match found {
        Some((step, e)) if e.starts_with(event) => step,
        _ => panic!(
            "no step [{text}] {event}…; got {found:?}\n{}",
            trace.to_text()
        ),
    }
}

const MONITORING: [Stage; 4] = [
    Stage::Monitored,
    Stage::NoCatchAll,
    Stage::Unlinked,
    Stage::Fixed,
];

// ----- S33: the chapter's hidden assumption -----

/// S33: under `fifo` the bucket's `DOWN` reaches the registry before the
/// client's next lookup, the common outcome on one BEAM node.
#[test]
fn fifo_stop_then_get_is_not_found() {
    let script = "CREATE b\nPUT b k 1\nSTOP b\nGET b k\n";
    for stage in MONITORING {
        assert_eq!(
            play(stage, script),
            "CREATE b\nOK\n\nPUT b k 1\nOK\n\nSTOP b\nOK\n\nGET b k\nNOT FOUND\n\n",
            "{stage}"
        );
    }
    // naive has no monitor: the name stays whatever the schedule.
    assert_eq!(
        play(Stage::Naive, script),
        "CREATE b\nOK\n\nPUT b k 1\nOK\n\nSTOP b\nOK\n\nGET b k\nERROR noproc\n\n"
    );
}

/// S33: nothing orders the bucket's `DOWN` (pair bucket→registry) before
/// the client's lookup (pair client→registry). Letting the client see its
/// own `DOWN` first and delivering its next lookup before the registry's
/// `DOWN` gives `unlinked` the stale answer; `fixed` checks liveness.
#[test]
fn s33_another_schedule_finds_the_stale_answer_after_stop() {
    let script = "CREATE b\nPUT b k 1\nSTOP b\nGET b k\n";
    let stop_request = EventKey::client(0, 2).deliver(1).deliver(0).deliver(1);
    let registry_down = stop_request.exit().down("bucket:b", "registry");
    let keys = vec![
        stop_request.exit().down("bucket:b", "client0"), // the client's DOWN: STOP answers OK
        EventKey::client(0, 3),                          // GET sends its lookup
        EventKey::client(0, 3).deliver(1),               // the lookup, ahead of the registry's DOWN
    ];
    let unlinked = Run::overrides(Stage::Unlinked, script, &[], keys.clone());
    assert_eq!(
        unlinked.dialogue(),
        "CREATE b\nOK\n\nPUT b k 1\nOK\n\nSTOP b\nOK\n\nGET b k\nERROR noproc\n\n"
    );
    let trace = unlinked.trace();
    assert_step(trace, &keys[0], "bucket:b#0 -> client0: DOWN");
    let lookup = assert_step(
        trace,
        &keys[2],
        "client0 -> registry: call {:lookup, \"b\"}",
    );
    let down = assert_step(trace, &registry_down, "bucket:b#0 -> registry: DOWN");
    assert!(
        lookup < down,
        "the lookup ran before the DOWN:\n{}",
        trace.to_text()
    );
    let b0 = unlinked.bucket("b", 0);
    let (died, reason) = exit_of(trace, "bucket:b#0").expect("bucket b#0 exited");
    assert_eq!(reason, "normal");
    assert!(
        died < lookup && replies_naming(trace, b0).contains(&lookup),
        "{}",
        trace.to_text()
    );

    let fixed = Run::overrides(Stage::Fixed, script, &[], keys.clone());
    assert_eq!(
        fixed.dialogue(),
        "CREATE b\nOK\n\nPUT b k 1\nOK\n\nSTOP b\nOK\n\nGET b k\nNOT FOUND\n\n"
    );
    let trace = fixed.trace();
    let lookup = assert_step(
        trace,
        &keys[2],
        "client0 -> registry: call {:lookup, \"b\"}",
    );
    let down = assert_step(trace, &registry_down, "bucket:b#0 -> registry: DOWN");
    assert!(lookup < down, "{}", trace.to_text());
    assert!(
        !replies_naming(trace, fixed.bucket("b", 0)).contains(&lookup),
        "{}",
        trace.to_text()
    );
}

// ----- S34, S36: stale lookups before the DOWN is handled -----

/// S34: an exit signal, then at once a lookup: the lookup is handled
/// before the dead bucket's `DOWN`, so `unlinked` returns the dead pid
/// (LOOKUP answers OK, the next command finds the name gone); `fixed`
/// checks liveness and answers not found.
#[test]
fn s34_kill_then_lookup_returns_the_dead_pid_unlinked() {
    let script = "CREATE b\nKILL b\nLOOKUP b\nGET b k\n";
    let unlinked = Run::fifo(Stage::Unlinked, script);
    assert_eq!(
        unlinked.dialogue(),
        "CREATE b\nOK\n\nKILL b\nOK\n\nLOOKUP b\nOK\n\nGET b k\nNOT FOUND\n\n"
    );
    let trace = unlinked.trace();
    let (died, reason) = exit_of(trace, "bucket:b#0").expect("bucket b#0 exited");
    assert_eq!(reason, "killed");
    let lookup =
        step_of(trace, &EventKey::client(0, 2).deliver(1)).expect("LOOKUP's call delivered");
    assert!(died < lookup, "{}", trace.to_text());
    // KILL is cmd1: its lookup reply (cmd1/1/0) sends the exit signal,
    // which kills b#0 on delivery; the DOWN comes after LOOKUP's call.
    let kill = EventKey::client(0, 1).deliver(1).deliver(0).deliver(0);
    assert_eq!(
        died,
        assert_step(trace, &kill, "client0 -> bucket:b#0: exit kill")
    );
    let down = assert_step(
        trace,
        &kill.down("bucket:b", "registry"),
        "bucket:b#0 -> registry: DOWN",
    );
    assert!(lookup < down, "{}", trace.to_text());
    assert!(
        replies_naming(trace, unlinked.bucket("b", 0)).contains(&lookup),
        "{}",
        trace.to_text()
    );
    assert_eq!(
        play(Stage::Unlinked, script),
        unlinked.dialogue(),
        "play agrees with the stepped run"
    );

    assert_eq!(
        play(Stage::Fixed, script),
        "CREATE b\nOK\n\nKILL b\nOK\n\nLOOKUP b\nNOT FOUND\n\nGET b k\nNOT FOUND\n\n"
    );
}

/// S36: before SETTLE, `fifo` sends GET's lookup before the crashed
/// bucket's `DOWN`, so `unlinked` hands out the dead pid: `ERROR noproc`.
#[test]
fn fifo_crash_then_get_unlinked_is_stale() {
    assert_eq!(
        play(Stage::Unlinked, "CREATE b\nCRASH b\nGET b k\n"),
        "CREATE b\nOK\n\nCRASH b\nOK\n\nGET b k\nERROR noproc\n\n"
    );
}

/// S36: with SETTLE after the fault, the outcome no longer depends on the
/// schedule: the name is gone.
#[test]
fn s36_settle_after_crash_then_get_is_not_found() {
    for stage in [Stage::Unlinked, Stage::Fixed] {
        assert_eq!(
            play(stage, "CREATE b\nCRASH b\nSETTLE\nGET b k\n"),
            "CREATE b\nOK\n\nCRASH b\nOK\n\nSETTLE\nOK\n\nGET b k\nNOT FOUND\n\n",
            "{stage}"
        );
    }
}

// ----- S35: the table of docs/semantics.md § 8, one test per row and stage -----

const STOP_SCRIPT: &str =
    "CREATE b\nPUT b k 1\nSTOP b\nSETTLE\nLOOKUP b\nGET b k\nCREATE c\nPUT c k 2\nGET c k\n";
const STOP_NAME_STALE: &str = "CREATE b\nOK\n\nPUT b k 1\nOK\n\nSTOP b\nOK\n\nSETTLE\nOK\n\nLOOKUP b\nOK\n\n\
GET b k\nERROR noproc\n\nCREATE c\nOK\n\nPUT c k 2\nOK\n\nGET c k\n2\nOK\n\n";
const STOP_NAME_REMOVED: &str = "CREATE b\nOK\n\nPUT b k 1\nOK\n\nSTOP b\nOK\n\nSETTLE\nOK\n\nLOOKUP b\nNOT FOUND\n\n\
GET b k\nNOT FOUND\n\nCREATE c\nOK\n\nPUT c k 2\nOK\n\nGET c k\n2\nOK\n\n";

/// Row 1, bucket stop `normal`: the registry survives; the name is stale
/// (`stale`) or removed.
fn bucket_stop_row(stage: Stage, expected: &str, stale: bool) {
    let run = Run::fifo(stage, STOP_SCRIPT);
    assert_eq!(run.dialogue(), expected, "{stage}");
    assert_eq!(play(stage, STOP_SCRIPT), expected, "{stage}: play");
    assert!(run.registry_alive(), "{stage}: the registry survives");
    assert_eq!(
        exit_of(run.trace(), "bucket:b#0")
            .map(|(_, r)| r)
            .as_deref(),
        Some("normal")
    );
    let (b, c) = (run.bucket("b", 0), run.bucket("c", 0));
    let mut names = vec![("c".to_string(), c, true)];
    if stale {
        names.insert(0, ("b".to_string(), b, false));
    }
    assert_eq!(run.names(), names, "{stage}");
}

#[test]
fn s35_bucket_stop_naive_name_stale() {
    bucket_stop_row(Stage::Naive, STOP_NAME_STALE, true);
}

#[test]
fn s35_bucket_stop_monitored_name_removed() {
    bucket_stop_row(Stage::Monitored, STOP_NAME_REMOVED, false);
}

#[test]
fn s35_bucket_stop_no_catch_all_name_removed() {
    bucket_stop_row(Stage::NoCatchAll, STOP_NAME_REMOVED, false);
}

#[test]
fn s35_bucket_stop_unlinked_name_removed() {
    bucket_stop_row(Stage::Unlinked, STOP_NAME_REMOVED, false);
}

#[test]
fn s35_bucket_stop_fixed_name_removed() {
    bucket_stop_row(Stage::Fixed, STOP_NAME_REMOVED, false);
}

/// Rows 2 and 3, a bucket exits abnormally (`directive` is `CRASH b` or
/// `KILL b`, the bucket exits with `reason`): a linked registry dies with
/// the same reason, and so does the other bucket it is linked to; an
/// unlinked one survives and removes the name.
fn bucket_exit_row(stage: Stage, directive: &str, reason: &str, registry_dies: bool) {
    let script = format!("CREATE b\nCREATE c\nPUT c k 2\n{directive}\nSETTLE\nLOOKUP b\nGET c k\n");
    let prefix = format!(
        "CREATE b\nOK\n\nCREATE c\nOK\n\nPUT c k 2\nOK\n\n{directive}\nOK\n\nSETTLE\nOK\n\n"
    );
    let expected = if registry_dies {
        format!("{prefix}LOOKUP b\nERROR noproc\n\nGET c k\nERROR noproc\n\n")
    } else {
        format!("{prefix}LOOKUP b\nNOT FOUND\n\nGET c k\n2\nOK\n\n")
    };
    let run = Run::fifo(stage, &script);
    assert_eq!(run.dialogue(), expected, "{stage}");
    assert_eq!(play(stage, &script), expected, "{stage}: play");
    let trace = run.trace();
    assert_eq!(
        exit_of(trace, "bucket:b#0").map(|(_, r)| r).as_deref(),
        Some(reason),
        "{stage}"
    );
    if registry_dies {
        assert!(!run.registry_alive(), "{stage}");
        assert_eq!(
            exit_of(trace, "registry").map(|(_, r)| r).as_deref(),
            Some(reason),
            "{stage}"
        );
        assert!(
            !run.system.sim.is_alive(run.bucket("c", 0)),
            "{stage}: the other linked bucket dies too"
        );
        assert_eq!(
            exit_of(trace, "bucket:c#0").map(|(_, r)| r).as_deref(),
            Some(reason),
            "{stage}"
        );
    } else {
        assert!(run.registry_alive(), "{stage}");
        assert_eq!(exit_of(trace, "registry"), None, "{stage}");
        assert_eq!(
            run.names(),
            vec![("c".to_string(), run.bucket("c", 0), true)],
            "{stage}"
        );
    }
}

#[test]
fn s35_bucket_crash_naive_registry_dies() {
    bucket_exit_row(Stage::Naive, "CRASH b", "boom", true);
}

#[test]
fn s35_bucket_crash_monitored_registry_dies() {
    bucket_exit_row(Stage::Monitored, "CRASH b", "boom", true);
}

#[test]
fn s35_bucket_crash_no_catch_all_registry_dies() {
    bucket_exit_row(Stage::NoCatchAll, "CRASH b", "boom", true);
}

#[test]
fn s35_bucket_crash_unlinked_name_removed() {
    bucket_exit_row(Stage::Unlinked, "CRASH b", "boom", false);
}

#[test]
fn s35_bucket_crash_fixed_name_removed() {
    bucket_exit_row(Stage::Fixed, "CRASH b", "boom", false);
}

#[test]
fn s35_bucket_kill_naive_registry_dies() {
    bucket_exit_row(Stage::Naive, "KILL b", "killed", true);
}

#[test]
fn s35_bucket_kill_monitored_registry_dies() {
    bucket_exit_row(Stage::Monitored, "KILL b", "killed", true);
}

#[test]
fn s35_bucket_kill_no_catch_all_registry_dies() {
    bucket_exit_row(Stage::NoCatchAll, "KILL b", "killed", true);
}

#[test]
fn s35_bucket_kill_unlinked_name_removed() {
    bucket_exit_row(Stage::Unlinked, "KILL b", "killed", false);
}

#[test]
fn s35_bucket_kill_fixed_name_removed() {
    bucket_exit_row(Stage::Fixed, "KILL b", "killed", false);
}

/// Row 4, the registry crashes (`CRASH registry`, reason `boom`) or is
/// killed (`KILL registry`, `killed`): every later command answers `ERROR
/// noproc` except CREATE, a cast (`OK`, S23, S35); linked buckets die with
/// the registry's reason (S10, S12), unlinked ones live on, unreachable.
fn registry_exit_row(stage: Stage, buckets_die: bool) {
    for (directive, reason) in [("CRASH registry", "boom"), ("KILL registry", "killed")] {
        let script = format!(
            "CREATE b\nPUT b k 1\n{directive}\nSETTLE\nLOOKUP b\nGET b k\nCREATE c\nLOOKUP c\n"
        );
        let expected = format!(
            "CREATE b\nOK\n\nPUT b k 1\nOK\n\n{directive}\nOK\n\nSETTLE\nOK\n\nLOOKUP b\nERROR noproc\n\n\
             GET b k\nERROR noproc\n\nCREATE c\nOK\n\nLOOKUP c\nERROR noproc\n\n"
        );
        let run = Run::fifo(stage, &script);
        assert_eq!(run.dialogue(), expected, "{stage}");
        assert_eq!(play(stage, &script), expected, "{stage}: play");
        let trace = run.trace();
        assert!(!run.registry_alive(), "{stage}");
        assert_eq!(
            exit_of(trace, "registry").map(|(_, r)| r).as_deref(),
            Some(reason),
            "{stage}"
        );
        let b = run.bucket("b", 0);
        if buckets_die {
            assert!(
                !run.system.sim.is_alive(b),
                "{stage}: {directive}: linked bucket dies"
            );
            assert_eq!(run.system.sim.role_target("bucket:b"), None, "{stage}");
            assert_eq!(
                exit_of(trace, "bucket:b#0").map(|(_, r)| r).as_deref(),
                Some(reason),
                "{stage}"
            );
        } else {
            assert!(
                run.system.sim.is_alive(b),
                "{stage}: {directive}: unlinked bucket lives on"
            );
            assert_eq!(run.system.sim.role_target("bucket:b"), Some(b), "{stage}");
            assert_eq!(exit_of(trace, "bucket:b#0"), None, "{stage}");
        }
    }
}

#[test]
fn s35_registry_exit_naive_buckets_die() {
    registry_exit_row(Stage::Naive, true);
}

#[test]
fn s35_registry_exit_monitored_buckets_die() {
    registry_exit_row(Stage::Monitored, true);
}

#[test]
fn s35_registry_exit_no_catch_all_buckets_die() {
    registry_exit_row(Stage::NoCatchAll, true);
}

#[test]
fn s35_registry_exit_unlinked_buckets_live_on() {
    registry_exit_row(Stage::Unlinked, false);
}

#[test]
fn s35_registry_exit_fixed_buckets_live_on() {
    registry_exit_row(Stage::Fixed, false);
}

const STRAY_SCRIPT: &str = "CREATE b\nPUT b k 1\nSEND registry hello\nSETTLE\nGET b k\nLOOKUP b\n";
const STRAY_PREFIX: &str =
    "CREATE b\nOK\n\nPUT b k 1\nOK\n\nSEND registry hello\nOK\n\nSETTLE\nOK\n\n";

/// Row 5, a stray message: only `no-catch-all` dies (`function_clause`,
/// S27), taking its linked bucket with it.
fn stray_row(stage: Stage, registry_dies: bool) {
    let expected = if registry_dies {
        format!("{STRAY_PREFIX}GET b k\nERROR noproc\n\nLOOKUP b\nERROR noproc\n\n")
    } else {
        format!("{STRAY_PREFIX}GET b k\n1\nOK\n\nLOOKUP b\nOK\n\n")
    };
    let run = Run::fifo(stage, STRAY_SCRIPT);
    assert_eq!(run.dialogue(), expected, "{stage}");
    assert_eq!(play(stage, STRAY_SCRIPT), expected, "{stage}: play");
    let trace = run.trace();
    let b = run.bucket("b", 0);
    if registry_dies {
        assert!(!run.registry_alive(), "{stage}");
        assert_eq!(
            exit_of(trace, "registry").map(|(_, r)| r).as_deref(),
            Some("function_clause")
        );
        assert!(
            !run.system.sim.is_alive(b),
            "{stage}: the linked bucket dies too"
        );
        assert_eq!(
            exit_of(trace, "bucket:b#0").map(|(_, r)| r).as_deref(),
            Some("function_clause")
        );
    } else {
        assert!(run.registry_alive(), "{stage}");
        assert_eq!(exit_of(trace, "registry"), None, "{stage}");
        assert_eq!(run.names(), vec![("b".to_string(), b, true)], "{stage}");
    }
}

#[test]
fn s35_stray_naive_survives() {
    stray_row(Stage::Naive, false);
}

#[test]
fn s35_stray_monitored_survives() {
    stray_row(Stage::Monitored, false);
}

#[test]
fn s35_stray_no_catch_all_registry_dies() {
    stray_row(Stage::NoCatchAll, true);
}

#[test]
fn s35_stray_unlinked_survives() {
    stray_row(Stage::Unlinked, false);
}

#[test]
fn s35_stray_fixed_survives() {
    stray_row(Stage::Fixed, false);
}

// ----- S37: the directives' own rules -----

/// S37, S11: a bucket that does not trap exits ignores `CRASH b normal`.
#[test]
fn s37_crash_normal_does_nothing() {
    let script = "CREATE b\nPUT b k 1\nCRASH b normal\nSETTLE\nGET b k\n";
    for stage in Stage::ALL {
        let run = Run::fifo(stage, script);
        assert_eq!(
            run.dialogue(),
            "CREATE b\nOK\n\nPUT b k 1\nOK\n\nCRASH b normal\nOK\n\nSETTLE\nOK\n\nGET b k\n1\nOK\n\n",
            "{stage}"
        );
        assert!(run.system.sim.is_alive(run.bucket("b", 0)), "{stage}");
        assert_eq!(exit_of(run.trace(), "bucket:b#0"), None, "{stage}");
    }
}

/// S37, S12: `CRASH b kill` is `KILL b`: the same dialogue in every stage,
/// and the bucket exits `killed`, not `kill`.
#[test]
fn s37_crash_kill_is_kill() {
    let script =
        |directive: &str| format!("CREATE b\nCREATE c\n{directive}\nSETTLE\nLOOKUP b\nLOOKUP c\n");
    for stage in Stage::ALL {
        let crash = Run::fifo(stage, &script("CRASH b kill"));
        let kill = Run::fifo(stage, &script("KILL b"));
        assert_eq!(
            crash.dialogue().replace("CRASH b kill\n", "KILL b\n"),
            kill.dialogue(),
            "{stage}"
        );
        for run in [&crash, &kill] {
            assert_eq!(
                exit_of(run.trace(), "bucket:b#0")
                    .map(|(_, r)| r)
                    .as_deref(),
                Some("killed"),
                "{stage}"
            );
        }
    }
    let unlinked = Run::fifo(Stage::Unlinked, &script("CRASH b kill"));
    assert_eq!(
        unlinked.dialogue(),
        "CREATE b\nOK\n\nCREATE c\nOK\n\nCRASH b kill\nOK\n\nSETTLE\nOK\n\nLOOKUP b\nNOT FOUND\n\nLOOKUP c\nOK\n\n"
    );
}

/// S37, S25: STOP is synchronous: whatever the schedule, when its `OK` is
/// recorded the bucket is already dead.
#[test]
fn s37_stop_is_synchronous() {
    let script = "CREATE b\nPUT b k 1\nSTOP b\nGET b k\n";
    for stage in Stage::ALL {
        for seed in 0..64u64 {
            let chooser: Box<dyn ChoiceSource> = if seed.is_multiple_of(2) {
                Box::new(RandomWalk::new(seed))
            } else {
                Box::new(Pct::new(seed, 3, 40))
            };
            let mut system = KvSystem::new(stage.registry(), chooser, Limits::default(), false);
            let commands = commands(script);
            let client = system.add_client(
                0,
                commands.into_iter().enumerate().map(|(i, c)| (i as u32, c)),
                true,
            );
            let mut bucket = None;
            let mut stop_answered = false;
            loop {
                bucket = bucket.or(system.sim.role_target("bucket:b"));
                let stop = system
                    .exchanges(client)
                    .iter()
                    .find(|e| matches!(e.command, Command::Stop { .. }));
                if let Some(stop) = stop {
                    assert_eq!(stop.response, ["OK"], "{stage} seed {seed}");
                    let bucket = bucket.expect("the bucket was seen alive");
                    assert!(
                        !system.sim.is_alive(bucket),
                        "{stage} seed {seed}: STOP answered, bucket alive"
                    );
                    stop_answered = true;
                }
                if !system.sim.step() {
                    break;
                }
            }
            assert!(stop_answered, "{stage} seed {seed}");
        }
    }
}

/// S37, S25: STOP of a name that points to a dead bucket answers `ERROR
/// noproc`: in `naive` for ever after a STOP; in `unlinked` when the second
/// STOP's lookup overtakes the registry's `DOWN` (`fixed`: not found).
#[test]
fn s37_stop_of_a_stale_bucket_is_noproc() {
    let script = "CREATE b\nSTOP b\nSTOP b\nLOOKUP b\n";
    assert_eq!(
        play(Stage::Naive, script),
        "CREATE b\nOK\n\nSTOP b\nOK\n\nSTOP b\nERROR noproc\n\nLOOKUP b\nOK\n\n"
    );

    let stop_request = EventKey::client(0, 1).deliver(1).deliver(0).deliver(1);
    let keys = vec![
        stop_request.exit().down("bucket:b", "client0"), // the client's DOWN: the first STOP answers OK
        EventKey::client(0, 2),                          // the second STOP sends its lookup
        EventKey::client(0, 2).deliver(1),               // handled before the registry's DOWN
    ];
    let unlinked = Run::overrides(Stage::Unlinked, script, &[], keys.clone());
    assert_eq!(
        unlinked.dialogue(),
        "CREATE b\nOK\n\nSTOP b\nOK\n\nSTOP b\nERROR noproc\n\nLOOKUP b\nNOT FOUND\n\n"
    );
    let trace = unlinked.trace();
    let lookup = assert_step(
        trace,
        &keys[2],
        "client0 -> registry: call {:lookup, \"b\"}",
    );
    let down = assert_step(
        trace,
        &stop_request.exit().down("bucket:b", "registry"),
        "bucket:b#0 -> registry: DOWN",
    );
    assert!(lookup < down, "{}", trace.to_text());
    let fixed = Run::overrides(Stage::Fixed, script, &[], keys);
    assert_eq!(
        fixed.dialogue(),
        "CREATE b\nOK\n\nSTOP b\nOK\n\nSTOP b\nNOT FOUND\n\nLOOKUP b\nNOT FOUND\n\n"
    );
}

/// S37, S4: CRASH and KILL of a stale pid answer OK and change nothing
/// (naive keeps the dead bucket's name; the registry lives).
#[test]
fn s37_crash_and_kill_of_a_stale_pid_answer_ok() {
    let script =
        "CREATE b\nCREATE c\nSTOP b\nSETTLE\nCRASH b\nKILL b\nSETTLE\nLOOKUP b\nLOOKUP c\n";
    let run = Run::fifo(Stage::Naive, script);
    assert_eq!(
        run.dialogue(),
        "CREATE b\nOK\n\nCREATE c\nOK\n\nSTOP b\nOK\n\nSETTLE\nOK\n\nCRASH b\nOK\n\nKILL b\nOK\n\nSETTLE\nOK\n\n\
         LOOKUP b\nOK\n\nLOOKUP c\nOK\n\n"
    );
    assert!(run.registry_alive());
    assert_eq!(
        exit_of(run.trace(), "bucket:b#0")
            .map(|(_, r)| r)
            .as_deref(),
        Some("normal")
    );
    assert_eq!(
        run.names(),
        vec![
            ("b".to_string(), run.bucket("b", 0), false),
            ("c".to_string(), run.bucket("c", 0), true)
        ]
    );
}

// ----- S38: what `fixed` guarantees -----

/// S38: the lookup is delivered while the killed bucket's `DOWN` is still
/// queued to the registry; `fixed` asks the runtime and answers not found,
/// where `unlinked` hands out the dead pid on the same schedule.
#[test]
fn s38_fixed_lookup_never_names_a_dead_pid_before_the_down() {
    let script = "CREATE b\nLOOKUP b\nGET b k\n";
    let faults = [KvFault::KillBucket("b".to_string())];
    let down = EventKey::fault(0).down("bucket:b", "registry");
    let keys = vec![
        EventKey::client(0, 0).deliver(0), // CREATE handled: bucket b#0 exists
        EventKey::fault(0),                // killed, its DOWN queued to the registry
        EventKey::client(0, 1),            // LOOKUP sends its call
        EventKey::client(0, 1).deliver(1), // handled ahead of the DOWN
    ];
    let fixed = Run::overrides(Stage::Fixed, script, &faults, keys.clone());
    assert_eq!(
        fixed.dialogue(),
        "CREATE b\nOK\n\nLOOKUP b\nNOT FOUND\n\nGET b k\nNOT FOUND\n\n"
    );
    let trace = fixed.trace();
    let lookup = assert_step(
        trace,
        &keys[3],
        "client0 -> registry: call {:lookup, \"b\"}",
    );
    assert!(
        lookup < assert_step(trace, &down, "bucket:b#0 -> registry: DOWN"),
        "{}",
        trace.to_text()
    );
    assert!(exit_of(trace, "bucket:b#0").expect("killed").0 < lookup);
    assert_eq!(
        replies_naming(trace, fixed.bucket("b", 0)),
        Vec::<u64>::new(),
        "{}",
        trace.to_text()
    );

    let unlinked = Run::overrides(Stage::Unlinked, script, &faults, keys.clone());
    assert_eq!(
        unlinked.dialogue(),
        "CREATE b\nOK\n\nLOOKUP b\nOK\n\nGET b k\nNOT FOUND\n\n"
    );
    let trace = unlinked.trace();
    assert_eq!(
        replies_naming(trace, unlinked.bucket("b", 0)),
        vec![assert_step(
            trace,
            &keys[3],
            "client0 -> registry: call {:lookup, \"b\"}"
        )]
    );
}

/// How many lookup replies named a pid that was dead when it was sent, over
/// one run (the registry sends nothing to buckets while it handles a
/// lookup, so liveness after the step is liveness at the send).
fn dead_lookup_replies(stage: Stage, chooser: Box<dyn ChoiceSource>) -> usize {
    let script = "CREATE b\nLOOKUP b\nGET b k\nCREATE b\nLOOKUP b\nPUT b k 2\nGET b k\nLOOKUP b\n";
    let mut system = KvSystem::new(stage.registry(), chooser, Limits::default(), true);
    let commands = commands(script);
    system.add_client(
        0,
        commands.into_iter().enumerate().map(|(i, c)| (i as u32, c)),
        true,
    );
    system.add_fault(0, &KvFault::KillBucket("b".to_string()));
    system.add_fault(1, &KvFault::CrashBucket("b".to_string()));
    let mut seen = 0;
    let mut dead = 0;
    while system.sim.step() {
        let trace = system.sim.trace().expect("tracing");
        let entries = &trace.entries;
        for entry in &entries[seen..] {
            let TraceEntry::Send { from, signal, .. } = entry else {
                continue;
            };
            // A traced message names a pid by its logical name.
            let Some(rest) = signal.strip_prefix("reply {:ok, ") else {
                continue;
            };
            if from != "registry" {
                continue;
            }
            let name = rest.split('}').next().expect("a name");
            let number = trace
                .pid_names
                .iter()
                .find_map(|(&number, n)| (n == name).then_some(number))
                .expect("a pid");
            if !system.sim.is_alive(Pid(number)) {
                dead += 1;
            }
        }
        seen = entries.len();
    }
    dead
}

/// S38 over many schedules with kill and crash faults: `fixed` never
/// answers a lookup with a dead pid; `unlinked`, on the same schedules,
/// does (so the sweep reaches the race).
#[test]
fn s38_fixed_lookup_is_alive_on_random_schedules() {
    let mut unlinked_dead = 0;
    for seed in 0..200 {
        let chooser = |stage_seed: u64| -> Box<dyn ChoiceSource> {
            if stage_seed.is_multiple_of(2) {
                Box::new(RandomWalk::new(stage_seed))
            } else {
                Box::new(Pct::new(stage_seed, 3, 60))
            }
        };
        assert_eq!(
            dead_lookup_replies(Stage::Fixed, chooser(seed)),
            0,
            "fixed, seed {seed}"
        );
        unlinked_dead += dead_lookup_replies(Stage::Unlinked, chooser(seed));
    }
    assert!(
        unlinked_dead > 0,
        "no schedule reached the stale lookup in unlinked"
    );
}

/// S38: CREATE over a dead bucket whose `DOWN` is still queued: `fixed`
/// demonitors the old ref with flush and starts a new bucket, leaving
/// exactly one live bucket for the name and one monitor ref; `unlinked`
/// does nothing, and the late `DOWN` then removes the name.
#[test]
fn s38_create_over_a_dead_bucket_recreates_one_live_bucket() {
    let script = "CREATE b\nCREATE b\nPUT b k 1\nGET b k\n";
    let faults = [KvFault::KillBucket("b".to_string())];
    let keys = vec![
        EventKey::client(0, 0).deliver(0), // CREATE handled: bucket b#0
        EventKey::fault(0),                // killed, its DOWN queued to the registry
        EventKey::client(0, 1),            // the second CREATE
        EventKey::client(0, 1).deliver(0), // handled ahead of the DOWN
    ];
    let fixed = Run::overrides(Stage::Fixed, script, &faults, keys.clone());
    assert_eq!(
        fixed.dialogue(),
        "CREATE b\nOK\n\nCREATE b\nOK\n\nPUT b k 1\nOK\n\nGET b k\n1\nOK\n\n"
    );
    let (old, new) = (fixed.bucket("b", 0), fixed.bucket("b", 1));
    assert_eq!(fixed.buckets["b"].len(), 2);
    assert!(!fixed.system.sim.is_alive(old) && fixed.system.sim.is_alive(new));
    assert_eq!(fixed.system.sim.role_target("bucket:b"), Some(new));
    assert_eq!(fixed.names(), vec![("b".to_string(), new, true)]);
    let refs = fixed.system.registry_state().expect("alive").monitor_refs();
    assert_eq!(refs.len(), 1, "no ref leaks: {refs:?}");
    assert_eq!(refs[0].1, "b");
    let trace = fixed.trace();
    let old_name = format!("{old:?}");
    let flushed = trace.entries.iter().any(|entry| {
        matches!(entry, TraceEntry::Demonitor { watcher, target, flushed: true, .. }
            if watcher == "registry" && (target == "bucket:b#0" || *target == old_name))
    });
    assert!(
        flushed,
        "the old monitor is dropped with flush:\n{}",
        trace.to_text()
    );

    let unlinked = Run::overrides(Stage::Unlinked, script, &faults, keys);
    assert_eq!(
        unlinked.dialogue(),
        "CREATE b\nOK\n\nCREATE b\nOK\n\nPUT b k 1\nNOT FOUND\n\nGET b k\nNOT FOUND\n\n"
    );
    assert_eq!(unlinked.buckets["b"].len(), 1, "unlinked never re-created");
}

/// S38: after a re-create over a dead bucket, the old bucket's `DOWN` never
/// removes the new name: it is flushed, never handled, and the name keeps
/// its new bucket to the end of the run.
#[test]
fn s38_an_old_down_does_not_remove_the_new_name() {
    let script = "CREATE b\nCREATE b\nPUT b k 1\nSETTLE\nLOOKUP b\nGET b k\n";
    let faults = [KvFault::KillBucket("b".to_string())];
    let keys = vec![
        EventKey::client(0, 0).deliver(0),
        EventKey::fault(0),
        EventKey::client(0, 1),
        EventKey::client(0, 1).deliver(0),
    ];
    let fixed = Run::overrides(Stage::Fixed, script, &faults, keys);
    assert_eq!(
        fixed.dialogue(),
        "CREATE b\nOK\n\nCREATE b\nOK\n\nPUT b k 1\nOK\n\nSETTLE\nOK\n\nLOOKUP b\nOK\n\nGET b k\n1\nOK\n\n"
    );
    let trace = fixed.trace();
    let old_down_handled = trace.entries.iter().any(|entry| {
        matches!(entry, TraceEntry::Step { event, .. } if event.starts_with("bucket:b#0 -> registry: DOWN"))
    });
    assert!(!old_down_handled, "{}", trace.to_text());
    assert_eq!(
        fixed.names(),
        vec![("b".to_string(), fixed.bucket("b", 1), true)]
    );
}
