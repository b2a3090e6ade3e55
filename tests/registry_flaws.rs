//! Each flawed registry stage shows its flaw on an explicit schedule (an
//! override list of event keys written out here, found by reading
//! `trace.to_text()`), and `fixed` answers correctly on the same list:
//!
//! - `naive`: a stopped bucket's name stays; lookups hand out its dead pid;
//! - `monitored`: a bucket crash takes the registry down, and a lookup
//!   handled while a killed bucket's `DOWN` is still queued names the dead
//!   bucket;
//! - `no-catch-all`: one stray message kills the registry and its buckets;
//! - `unlinked`: the same dead lookup as `monitored`, without the registry
//!   dying; and a lost restart when a `CREATE` overtakes a stopped
//!   bucket's `DOWN` (a schedule that names a death signal).

use kvsim::check::generate::assemble;
use kvsim::check::{Case, CaseMeta, CheckConfig, P4_LINEARIZABLE, run_case};
use kvsim::kv::{Command, KvFault, KvSystem, Stage, Target, script};
use kvsim::sim::choice::Overrides;
use kvsim::sim::{EventKey, Limits, Outcome, Pid, Segment, Trace, TraceEntry};
use std::path::Path;

// ----- harness -----

/// One client playing `text` on `stage` with `faults` (fault ids from 0) and
/// the override list `keys`, run to quiescence with tracing on.
struct Run {
    stage: Stage,
    system: KvSystem,
    client: Pid,
    /// Every pid that served bucket `b`, in spawn order.
    b: Vec<Pid>,
}

impl Run {
    fn new(stage: Stage, text: &str, faults: &[KvFault], keys: &[EventKey]) -> Run {
        let script = script::parse(Path::new("registry_flaws.kv"), text.as_bytes())
            .expect("test script parses");
        let commands: Vec<Command> = script.clients[0]
            .lines
            .iter()
            .map(|line| line.command.clone())
            .collect();
        let chooser = Box::new(Overrides::new(keys.to_vec()));
        let mut system = KvSystem::new(stage.registry(), chooser, Limits::default(), true);
        let client = system.add_client(
            0,
            commands.into_iter().enumerate().map(|(i, c)| (i as u32, c)),
            true,
        );
        for (id, fault) in faults.iter().enumerate() {
            system.add_fault(id as u32, fault);
        }
        let mut b = Vec::new();
        loop {
            if let Some(pid) = system.sim.role_target("bucket:b")
                && !b.contains(&pid)
            {
                b.push(pid);
            }
            if !system.sim.step() {
                break;
            }
        }
        assert_eq!(system.sim.outcome(), Outcome::Quiescent);
        Run {
            stage,
            system,
            client,
            b,
        }
    }

    fn dialogue(&self) -> String {
        self.system.transcript(self.client)
    }

    fn trace(&self) -> &Trace {
        self.system.sim.trace().expect("tracing is on")
    }

    fn registry_alive(&self) -> bool {
        self.system.sim.is_alive(self.system.registry)
    }

    /// The overrides in `keys` ran, in this order (others may run between).
    fn assert_took(&self, keys: &[EventKey]) {
        let taken = self.system.sim.schedule_taken();
        let mut rest = taken.iter();
        for key in keys {
            assert!(
                rest.any(|k| k == key),
                "{}: override {key} did not run (in order)\n{}",
                self.stage,
                self.trace().to_text()
            );
        }
    }

    /// The step with key `key` ran and its event starts with `event`.
    fn assert_step(&self, key: &EventKey, event: &str) -> u64 {
        let text = key.to_string();
        let found = self.trace().entries.iter().find_map(|entry| match entry {
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
                "{}: no step [{text}] {event}…; got {found:?}\n{}",
                self.stage,
                self.trace().to_text()
            ),
        }
    }

    /// The step whose key is `key`, if it ran.
    fn step_of(&self, key: &EventKey) -> Option<u64> {
        let text = key.to_string();
        self.trace().entries.iter().find_map(|entry| match entry {
            TraceEntry::Step { step, key: k, .. } if *k == text => Some(*step),
            _ => None,
        })
    }

    /// The step delivering the signal sent at a death whose event starts
    /// with `event`; its key must name it by kind and endpoints.
    fn step_of_death_signal(&self, event: &str) -> u64 {
        let found = self.trace().entries.iter().find_map(|entry| match entry {
            TraceEntry::Step {
                step,
                key,
                event: e,
                ..
            } if e.starts_with(event) => Some((*step, key.clone())),
            _ => None,
        });
        let Some((step, key)) = found else {
            panic!(
                "{}: no step {event}…\n{}",
                self.stage,
                self.trace().to_text()
            );
        };
        let key: EventKey = key.parse().expect("trace keys parse");
        assert!(
            matches!(key.path.last(), Some(Segment::Death { .. })),
            "{key} does not name a death signal"
        );
        step
    }

    /// The step at which `name` exited, and its reason.
    fn exit_of(&self, name: &str) -> Option<(u64, String)> {
        let mut step = 0;
        self.trace().entries.iter().find_map(|entry| match entry {
            TraceEntry::Step { step: s, .. } => {
                step = *s;
                None
            }
            TraceEntry::Exit { pid, reason } if pid == name => Some((step, reason.clone())),
            _ => None,
        })
    }

    /// Whether the registry sent, in step `step`, a lookup reply naming `pid`.
    fn replied_with(&self, step: u64, pid: Pid) -> bool {
        // A traced message names a pid by its logical name.
        let found = format!("reply {{:ok, {}}}", self.trace().pid_names[&pid.0]);
        let mut at = 0;
        self.trace().entries.iter().any(|entry| match entry {
            TraceEntry::Step { step: s, .. } => {
                at = *s;
                false
            }
            TraceEntry::Send { from, signal, .. } => {
                at == step && from == "registry" && signal.starts_with(&found)
            }
            _ => false,
        })
    }
}

// ----- naive -----

/// `naive` has no monitor: even when the stopped bucket's exit signal
/// reaches the registry before the next lookup is sent, the name stays,
/// for ever, and lookups hand out the dead pid.
#[test]
fn naive_keeps_a_stopped_buckets_name() {
    let script = "CREATE b\nPUT b k 1\nSTOP b\nLOOKUP b\nGET b k\nSETTLE\nLOOKUP b\n";
    // STOP is cmd2: its lookup is cmd2/1, the reply cmd2/1/0, the stop
    // request cmd2/1/0/1, which the bucket answers before its exit event
    // cmd2/1/0/1/exit, in which it dies.
    let death = EventKey::client(0, 2)
        .deliver(1)
        .deliver(0)
        .deliver(1)
        .exit();
    let keys = vec![
        death.exit_signal("bucket:b", "registry"), // naive: the link's `exit normal` reaches the registry
        death.down("bucket:b", "registry"), // fixed: the monitor's `DOWN` reaches the registry
        EventKey::client(0, 3),             // only then LOOKUP sends its call
        EventKey::client(0, 3).deliver(1),
    ];

    let naive = Run::new(Stage::Naive, script, &[], &keys);
    assert_eq!(
        naive.dialogue(),
        "CREATE b\nOK\n\nPUT b k 1\nOK\n\nSTOP b\nOK\n\nLOOKUP b\nOK\n\nGET b k\nERROR noproc\n\nSETTLE\nOK\n\nLOOKUP b\nOK\n\n"
    );
    naive.assert_took(&[keys[0].clone(), keys[2].clone(), keys[3].clone()]);
    let heard = naive.assert_step(&keys[0], "bucket:b#0 -> registry: exit normal (link)");
    let lookup = naive.assert_step(&keys[3], "client0 -> registry: call {:lookup, \"b\"}");
    assert!(heard < lookup);
    let (died, reason) = naive.exit_of("bucket:b#0").expect("bucket b#0 stopped");
    assert_eq!(reason, "normal");
    assert!(
        died < lookup && naive.replied_with(lookup, naive.b[0]),
        "{}",
        naive.trace().to_text()
    );
    assert!(naive.registry_alive());
    let names = naive.system.registry_state().expect("alive").names();
    assert_eq!(names, vec![("b".to_string(), naive.b[0])]);
    assert!(!naive.system.sim.is_alive(naive.b[0]));

    let fixed = Run::new(Stage::Fixed, script, &[], &keys);
    assert_eq!(
        fixed.dialogue(),
        "CREATE b\nOK\n\nPUT b k 1\nOK\n\nSTOP b\nOK\n\nLOOKUP b\nNOT FOUND\n\nGET b k\nNOT FOUND\n\nSETTLE\nOK\n\nLOOKUP b\nNOT FOUND\n\n"
    );
    fixed.assert_took(&keys[1..]);
    fixed.assert_step(&keys[1], "bucket:b#0 -> registry: DOWN");
    assert_eq!(
        fixed.system.registry_state().expect("alive").names(),
        vec![]
    );
}

// ----- monitored -----

/// `monitored` links its buckets: a bucket crashing with `boom` takes the
/// registry down with it, and every later command answers `ERROR noproc`.
#[test]
fn monitored_bucket_crash_takes_the_registry_down() {
    let script = "CREATE b\nSETTLE\nLOOKUP b\nCREATE c\nPUT c k 1\nGET c k\n";
    let faults = [KvFault::CrashBucket("b".to_string())];
    let keys = vec![
        EventKey::client(0, 0).deliver(0), // CREATE b handled: bucket b#0 exists
        EventKey::fault(0),                // crash it (`boom`) before SETTLE
        EventKey::fault(0).exit_signal("bucket:b", "registry"), // the link's exit signal reaches the registry
    ];

    let monitored = Run::new(Stage::Monitored, script, &faults, &keys);
    assert_eq!(
        monitored.dialogue(),
        "CREATE b\nOK\n\nSETTLE\nOK\n\nLOOKUP b\nERROR noproc\n\nCREATE c\nOK\n\nPUT c k 1\nERROR noproc\n\nGET c k\nERROR noproc\n\n"
    );
    monitored.assert_took(&keys);
    monitored.assert_step(&keys[2], "bucket:b#0 -> registry: exit boom (link)");
    assert!(!monitored.registry_alive());
    assert_eq!(
        monitored.exit_of("registry").map(|(_, r)| r).as_deref(),
        Some("boom")
    );

    let fixed = Run::new(Stage::Fixed, script, &faults, &keys);
    assert_eq!(
        fixed.dialogue(),
        "CREATE b\nOK\n\nSETTLE\nOK\n\nLOOKUP b\nNOT FOUND\n\nCREATE c\nOK\n\nPUT c k 1\nOK\n\nGET c k\n1\nOK\n\n"
    );
    fixed.assert_took(&keys[..2]);
    assert!(fixed.registry_alive());
    assert_eq!(fixed.exit_of("registry"), None);
    assert_eq!(
        fixed.exit_of("bucket:b#0").map(|(_, r)| r).as_deref(),
        Some("boom")
    );
}

/// The dead-lookup race: PUT's lookup is sent, then the bucket is killed,
/// and the lookup is handled while the bucket's signals to the registry
/// are still queued. The keys are the same in every stage.
fn kill_during_lookup() -> Vec<EventKey> {
    vec![
        EventKey::client(0, 1), // PUT sends its lookup (CREATE's cast is ahead of it)
        EventKey::client(0, 0).deliver(0), // CREATE handled: bucket b#0 exists
        EventKey::fault(0),     // kill b#0: its DOWN (and link exit) queued to the registry
        EventKey::client(0, 1).deliver(1), // the lookup, handled ahead of them
    ]
}

const RACE_SCRIPT: &str = "CREATE b\nPUT b k 1\nSETTLE\nLOOKUP b\n";

/// Asserts that the lookup of `kill_during_lookup` named the killed bucket.
fn assert_dead_lookup(run: &Run) {
    let keys = kill_during_lookup();
    run.assert_took(&keys);
    let lookup = run.assert_step(&keys[3], "client0 -> registry: call {:lookup, \"b\"}");
    let (died, reason) = run.exit_of("bucket:b#0").expect("bucket b#0 killed");
    assert_eq!(reason, "killed");
    assert_eq!(died, run.assert_step(&keys[2], "fault 0: kill bucket:b#0"));
    assert!(died < lookup, "{}", run.trace().to_text());
    assert!(
        run.replied_with(lookup, run.b[0]),
        "the reply names the dead bucket\n{}",
        run.trace().to_text()
    );
    // The bucket's death reached the registry only after the lookup: its
    // `DOWN` (unlinked) or its link's exit signal (monitored, which then
    // dies before handling the `DOWN`).
    let down = run.step_of(&EventKey::fault(0).down("bucket:b", "registry"));
    let exit = run.step_of(&EventKey::fault(0).exit_signal("bucket:b", "registry"));
    let heard = match run.stage {
        Stage::Monitored => {
            assert_eq!(
                down,
                None,
                "the registry died before the DOWN\n{}",
                run.trace().to_text()
            );
            run.assert_step(
                &EventKey::fault(0).exit_signal("bucket:b", "registry"),
                "bucket:b#0 -> registry: exit killed (link)",
            )
        }
        _ => {
            assert_eq!(exit, None, "not linked");
            run.assert_step(
                &EventKey::fault(0).down("bucket:b", "registry"),
                "bucket:b#0 -> registry: DOWN",
            )
        }
    };
    assert!(
        lookup < heard,
        "the death was still queued\n{}",
        run.trace().to_text()
    );
}

/// `monitored` answers a lookup from its map: handled before the killed
/// bucket's `DOWN`, it names the dead bucket, so PUT answers `ERROR
/// noproc`; then the link's exit signal kills the registry (`killed`).
#[test]
fn monitored_lookup_names_a_killed_bucket() {
    let faults = [KvFault::KillBucket("b".to_string())];
    let keys = kill_during_lookup();
    let monitored = Run::new(Stage::Monitored, RACE_SCRIPT, &faults, &keys);
    assert_eq!(
        monitored.dialogue(),
        "CREATE b\nOK\n\nPUT b k 1\nERROR noproc\n\nSETTLE\nOK\n\nLOOKUP b\nERROR noproc\n\n"
    );
    assert_dead_lookup(&monitored);
    assert_eq!(
        monitored.exit_of("registry").map(|(_, r)| r).as_deref(),
        Some("killed")
    );

    let fixed = Run::new(Stage::Fixed, RACE_SCRIPT, &faults, &keys);
    assert_eq!(
        fixed.dialogue(),
        "CREATE b\nOK\n\nPUT b k 1\nNOT FOUND\n\nSETTLE\nOK\n\nLOOKUP b\nNOT FOUND\n\n"
    );
    fixed.assert_took(&keys);
    let lookup = fixed.assert_step(&keys[3], "client0 -> registry: call {:lookup, \"b\"}");
    assert!(!fixed.replied_with(lookup, fixed.b[0]));
    assert!(
        lookup
            < fixed.assert_step(
                &EventKey::fault(0).down("bucket:b", "registry"),
                "bucket:b#0 -> registry: DOWN"
            )
    );
    assert!(fixed.registry_alive());
}

// ----- no-catch-all -----

/// `no-catch-all` has `handle_info` for `DOWN` only: one stray message
/// crashes it (`function_clause`), and its linked bucket dies with it.
/// `monitored` (the catch-all clause) and `fixed` shrug it off.
#[test]
fn no_catch_all_dies_of_one_stray_message() {
    let script = "CREATE b\nPUT b k 1\nSETTLE\nGET b k\nLOOKUP b\n";
    let faults = [KvFault::StrayRegistry];
    // The stray fault is enabled from the first step, so the events before
    // it are listed one by one: CREATE and PUT, to PUT's answer.
    let keys = vec![
        EventKey::client(0, 0),
        EventKey::client(0, 1),
        EventKey::client(0, 0).deliver(0),
        EventKey::client(0, 1).deliver(1),
        EventKey::client(0, 1).deliver(1).deliver(0),
        EventKey::client(0, 1).deliver(1).deliver(0).deliver(1),
        EventKey::client(0, 1)
            .deliver(1)
            .deliver(0)
            .deliver(1)
            .deliver(0),
        EventKey::fault(0), // the stray message
        EventKey::fault(0).exit_signal("registry", "bucket:b"), // the dying registry's link exit reaches b#0
    ];

    let no_catch_all = Run::new(Stage::NoCatchAll, script, &faults, &keys);
    assert_eq!(
        no_catch_all.dialogue(),
        "CREATE b\nOK\n\nPUT b k 1\nOK\n\nSETTLE\nOK\n\nGET b k\nERROR noproc\n\nLOOKUP b\nERROR noproc\n\n"
    );
    no_catch_all.assert_took(&keys);
    let stray = no_catch_all.assert_step(&keys[7], "fault 0: send {:stray, \"stray\"} registry");
    no_catch_all.assert_step(
        &keys[8],
        "registry -> bucket:b#0: exit function_clause (link)",
    );
    assert_eq!(
        no_catch_all.exit_of("registry"),
        Some((stray, "function_clause".to_string()))
    );
    assert_eq!(
        no_catch_all
            .exit_of("bucket:b#0")
            .map(|(_, r)| r)
            .as_deref(),
        Some("function_clause")
    );
    assert!(!no_catch_all.registry_alive() && !no_catch_all.system.sim.is_alive(no_catch_all.b[0]));

    for stage in [Stage::Monitored, Stage::Fixed] {
        let survivor = Run::new(stage, script, &faults, &keys);
        assert_eq!(
            survivor.dialogue(),
            "CREATE b\nOK\n\nPUT b k 1\nOK\n\nSETTLE\nOK\n\nGET b k\n1\nOK\n\nLOOKUP b\nOK\n\n",
            "{stage}"
        );
        survivor.assert_took(&keys[..8]);
        survivor.assert_step(&keys[7], "fault 0: send {:stray, \"stray\"} registry");
        assert!(survivor.registry_alive(), "{stage}");
        assert_eq!(survivor.exit_of("registry"), None, "{stage}");
    }
}

// ----- unlinked -----

/// `unlinked` survives a bucket's death but still answers lookups from its
/// map: on the same schedule as `monitored`, PUT gets the killed bucket
/// (`ERROR noproc`); the registry lives and, once the `DOWN` is handled,
/// the name is gone.
#[test]
fn unlinked_lookup_names_a_killed_bucket() {
    let faults = [KvFault::KillBucket("b".to_string())];
    let keys = kill_during_lookup();
    let unlinked = Run::new(Stage::Unlinked, RACE_SCRIPT, &faults, &keys);
    assert_eq!(
        unlinked.dialogue(),
        "CREATE b\nOK\n\nPUT b k 1\nERROR noproc\n\nSETTLE\nOK\n\nLOOKUP b\nNOT FOUND\n\n"
    );
    assert_dead_lookup(&unlinked);
    assert!(unlinked.registry_alive());
    assert_eq!(unlinked.exit_of("registry"), None);

    let fixed = Run::new(Stage::Fixed, RACE_SCRIPT, &faults, &keys);
    assert_eq!(
        fixed.dialogue(),
        "CREATE b\nOK\n\nPUT b k 1\nNOT FOUND\n\nSETTLE\nOK\n\nLOOKUP b\nNOT FOUND\n\n"
    );
    fixed.assert_took(&keys);
}

/// A lost restart (property 4), reached only by naming a death signal: one
/// client creates `a`, stops it (synchronously), creates it again and
/// settles. If the second `CREATE` reaches the registry before the stopped
/// bucket's `DOWN`, `unlinked` (which trusts its map on create) takes it
/// for "exists" and drops the name at the `DOWN`: the lookup answers
/// `NOT FOUND`. `fixed` checks liveness on create and restarts the bucket.
#[test]
fn unlinked_loses_a_restart_when_a_create_overtakes_the_down() {
    let script = "CREATE a\nSTOP a\nCREATE a\nSETTLE\nLOOKUP a\n";
    // STOP is cmd1: its lookup is cmd1/1, the reply cmd1/1/0, the stop
    // request cmd1/1/0/1, which the bucket answers; it dies in its exit
    // event cmd1/1/0/1/exit, and the client's `DOWN` from there answers
    // STOP. The second CREATE is cmd2; its cast, cmd2/0.
    let death = EventKey::client(0, 1)
        .deliver(1)
        .deliver(0)
        .deliver(1)
        .exit();
    let keys = vec![
        death.down("bucket:a", "client0"), // STOP answers OK
        EventKey::client(0, 2),            // the second CREATE sends its cast
        EventKey::client(0, 2).deliver(0), // handled before the registry's DOWN
    ];
    assert_eq!(
        keys.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "client0.cmd1/1/0/1/exit/DOWN(bucket:a>client0)",
            "client0.cmd2",
            "client0.cmd2/0",
        ]
    );

    let unlinked = Run::new(Stage::Unlinked, script, &[], &keys);
    assert_eq!(
        unlinked.dialogue(),
        "CREATE a\nOK\n\nSTOP a\nOK\n\nCREATE a\nOK\n\nSETTLE\nOK\n\nLOOKUP a\nNOT FOUND\n\n",
        "{}",
        unlinked.trace().to_text()
    );
    // The second CREATE was handled while the registry's DOWN was queued.
    let create = unlinked.assert_step(&keys[2], "client0 -> registry: cast {:create, \"a\"}");
    let down = unlinked.step_of_death_signal("bucket:a#0 -> registry: DOWN");
    assert!(create < down, "{}", unlinked.trace().to_text());

    let fixed = Run::new(Stage::Fixed, script, &[], &keys);
    assert_eq!(
        fixed.dialogue(),
        "CREATE a\nOK\n\nSTOP a\nOK\n\nCREATE a\nOK\n\nSETTLE\nOK\n\nLOOKUP a\nOK\n\n",
        "{}",
        fixed.trace().to_text()
    );
    // `fixed` handled the CREATE first too, and flushed the stale `DOWN`
    // when it restarted the bucket.
    fixed.assert_step(&keys[2], "client0 -> registry: cast {:create, \"a\"}");

    // The properties say the same: a case holding this override list
    // breaks linearizability on `unlinked` and nothing on `fixed`.
    let case = assemble(
        vec![vec![
            Command::Create { bucket: "a".into() },
            Command::Stop {
                target: Target::Bucket("a".into()),
            },
            Command::Create { bucket: "a".into() },
            Command::Settle,
            Command::Lookup { bucket: "a".into() },
        ]],
        Vec::new(),
        keys,
    );
    let check = CheckConfig::default();
    let failure = run_case(&case, &|| Stage::Unlinked.registry(), &check)
        .failure
        .expect("unlinked loses the restart");
    assert_eq!(failure.property, P4_LINEARIZABLE, "{failure}");
    assert_eq!(
        run_case(&case, &|| Stage::Fixed.registry(), &check).failure,
        None
    );
    // Under `fifo` the `DOWN` comes first and both stages are clean.
    let mut fifo = case.clone();
    fifo.schedule.clear();
    assert_eq!(
        run_case(&fifo, &|| Stage::Unlinked.registry(), &check).failure,
        None
    );
    // A case file keeps the death signal's key as written.
    let meta = CaseMeta::default();
    let json = case.to_json(&meta);
    assert!(
        json.contains(r#""client0.cmd1/1/0/1/exit/DOWN(bucket:a>client0)""#),
        "{json}"
    );
    let (read, _) =
        Case::from_json(Path::new("lost_restart.case.json"), &json).expect("reads back");
    assert_eq!(read, case);
}
