//! Event keys keep their meaning when a case shrinks (docs/design.md § Stable
//! ids and event keys): deleting any one command, client or fault of a case
//! leaves every remaining override naming the same event.

use kvsim::kv::{Command, KvFault, KvSystem, Stage, Target};
use kvsim::sim::choice::{Overrides, RandomWalk};
use kvsim::sim::{ChoiceSource, DeathKind, EventKey, Limits, Segment, TraceEntry};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
struct Case {
    clients: Vec<(u32, Vec<(u32, Command)>)>,
    faults: Vec<(u32, KvFault)>,
}

fn bucket(name: &str) -> String {
    name.to_string()
}

fn base_case() -> Case {
    let c0 = vec![
        Command::Create {
            bucket: bucket("a"),
        },
        Command::Lookup {
            bucket: bucket("a"),
        },
        Command::Put {
            bucket: bucket("a"),
            key: "k".into(),
            value: "1".into(),
        },
        Command::Create {
            bucket: bucket("b"),
        },
        Command::Get {
            bucket: bucket("a"),
            key: "k".into(),
        },
    ];
    let c1 = vec![
        Command::Create {
            bucket: bucket("b"),
        },
        Command::Lookup {
            bucket: bucket("b"),
        },
        Command::Kill {
            target: Target::Bucket(bucket("a")),
        },
        Command::Lookup {
            bucket: bucket("a"),
        },
    ];
    let c2 = vec![
        Command::Lookup {
            bucket: bucket("a"),
        },
        Command::Stop {
            target: Target::Bucket(bucket("b")),
        },
        Command::Create {
            bucket: bucket("a"),
        },
    ];
    // A second caller of bucket a: when a dies during both calls it has
    // two client watchers, and deleting the first shifts the second's
    // position among the death's signals (but not its name).
    let c3 = vec![
        Command::Get {
            bucket: bucket("a"),
            key: "k".into(),
        },
        Command::Get {
            bucket: bucket("a"),
            key: "k".into(),
        },
    ];
    let number = |cmds: Vec<Command>| {
        cmds.into_iter()
            .enumerate()
            .map(|(i, c)| (i as u32, c))
            .collect()
    };
    Case {
        clients: vec![
            (0, number(c0)),
            (1, number(c1)),
            (2, number(c2)),
            (3, number(c3)),
        ],
        faults: vec![
            (0, KvFault::KillBucket(bucket("a"))),
            (1, KvFault::CrashBucket(bucket("b"))),
        ],
    }
}

/// What one run did.
struct Ran {
    /// Per event key, what that event was (normalised).
    events: BTreeMap<String, String>,
    /// Per key of a death signal's delivery, the key it would have if the
    /// signals sent at a death were numbered by position among the sends of
    /// their event (`<cause>/<i>`, the numbering that deleting a watcher or
    /// a linked partner shifts): the yardstick that shows the test can fail.
    positional: BTreeMap<String, String>,
    /// The keys the schedule picked.
    taken: Vec<EventKey>,
}

fn is_death(key: &EventKey) -> bool {
    matches!(key.path.last(), Some(Segment::Death { .. }))
}

/// Runs `case` with tracing on.
fn run(case: &Case, stage: Stage, chooser: Box<dyn ChoiceSource>) -> Ran {
    let mut system = KvSystem::new(stage.registry(), chooser, Limits::default(), true);
    for (id, commands) in &case.clients {
        system.add_client(*id, commands.clone().into_iter(), true);
    }
    for (id, fault) in &case.faults {
        system.add_fault(*id, fault);
    }
    system.sim.run();
    let taken = system.sim.schedule_taken();
    let trace = system.sim.take_trace().expect("tracing is on");
    let mut events = BTreeMap::new();
    // Per step key, what was sent inside it, in order.
    let mut sends: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut deliveries = Vec::new();
    let mut step = String::new();
    for entry in &trace.entries {
        match entry {
            TraceEntry::Step { key, event, .. } => {
                events.insert(key.clone(), normalise(event));
                step = key.clone();
                deliveries.push((key.clone(), event.clone()));
            }
            TraceEntry::Send { from, to, signal } => sends
                .entry(step.clone())
                .or_default()
                .push(format!("{from} -> {to}: {signal}")),
            _ => {}
        }
    }
    let mut positional = BTreeMap::new();
    for (text, event) in deliveries {
        let mut key: EventKey = text.parse().expect("trace keys parse");
        if !is_death(&key) {
            continue;
        }
        key.path.pop();
        let cause = key.to_string();
        let index = sends
            .get(&cause)
            .and_then(|sent| sent.iter().position(|s| *s == event))
            .unwrap_or_else(|| panic!("{text}: {event:?} was not sent in {cause}"));
        positional.insert(text, format!("{cause}/{index}"));
    }
    Ran {
        events,
        positional,
        taken,
    }
}

/// The identity of an event: its endpoints and the kind of signal, without
/// generation numbers, refs, tags or payload (which may legitimately differ
/// once the case around it changes: a lookup may now answer `:error`).
fn normalise(event: &str) -> String {
    let without_generations = strip_generations(event);
    match without_generations.split_once(": ") {
        Some((head, tail)) => format!("{head}: {}", tail.split(' ').next().unwrap_or("")),
        None => without_generations,
    }
}

fn strip_generations(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '#' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Every case obtained by deleting exactly one command, client or fault.
fn deletions(case: &Case) -> Vec<(String, Case)> {
    let mut out = Vec::new();
    for (ci, (client_id, commands)) in case.clients.iter().enumerate() {
        let mut without_client = case.clone();
        without_client.clients.remove(ci);
        out.push((format!("client {client_id}"), without_client));
        for (k, (cmd_id, _)) in commands.iter().enumerate() {
            let mut without_command = case.clone();
            without_command.clients[ci].1.remove(k);
            out.push((
                format!("client {client_id} command {cmd_id}"),
                without_command,
            ));
        }
    }
    for (fi, (fault_id, _)) in case.faults.iter().enumerate() {
        let mut without_fault = case.clone();
        without_fault.faults.remove(fi);
        out.push((format!("fault {fault_id}"), without_fault));
    }
    out
}

/// How many overrides kept their meaning across deletions, by kind.
#[derive(Debug, Default)]
struct Compared {
    all: usize,
    down: usize,
    exit: usize,
    /// Death-signal overrides that, numbered by position, would have named
    /// another event (or none) after the deletion.
    positional_broken: usize,
}

fn check_stage(stage: Stage) -> Compared {
    let case = base_case();
    let mut compared = Compared::default();
    for seed in 0..24 {
        let base = run(&case, stage, Box::new(RandomWalk::new(seed)));
        let overrides = base.taken.clone();
        // The recorded overrides replay the run exactly.
        let replayed = run(&case, stage, Box::new(Overrides::new(overrides.clone())));
        assert_eq!(
            replayed.events, base.events,
            "seed {seed}: replaying the recorded schedule diverged"
        );
        for (what, smaller) in deletions(&case) {
            let after = run(&smaller, stage, Box::new(Overrides::new(overrides.clone())));
            let by_position: BTreeMap<&String, &String> =
                after.positional.iter().map(|(key, p)| (p, key)).collect();
            for key in &overrides {
                let text = key.to_string();
                let (Some(before), Some(now)) = (base.events.get(&text), after.events.get(&text))
                else {
                    continue;
                };
                compared.all += 1;
                assert_eq!(
                    before, now,
                    "{stage}, seed {seed}, without {what}: override {text} now names another event"
                );
                if let Some(Segment::Death { kind, .. }) = key.path.last() {
                    match kind {
                        DeathKind::Down => compared.down += 1,
                        DeathKind::Exit => compared.exit += 1,
                    }
                    let position = &base.positional[&text];
                    let at_position = by_position
                        .get(position)
                        .and_then(|key| after.events.get(*key));
                    if at_position != Some(before) {
                        compared.positional_broken += 1;
                    }
                }
            }
        }
    }
    // Not vacuous: most overrides still name an event after a deletion,
    // death signals among them.
    assert!(compared.all > 1000, "{stage}: {compared:?}");
    assert!(compared.down > 50, "{stage}: {compared:?}");
    compared
}

#[test]
fn deleting_one_element_keeps_override_meaning_unlinked() {
    let compared = check_stage(Stage::Unlinked);
    // Numbered by position, some death signal would have been renamed.
    assert!(compared.positional_broken > 0, "{compared:?}");
}

#[test]
fn deleting_one_element_keeps_override_meaning_monitored() {
    let compared = check_stage(Stage::Monitored);
    // Numbered by position, some death signal would have been renamed.
    assert!(compared.positional_broken > 0, "{compared:?}");
    // `monitored` links its buckets: link exit signals are covered too.
    assert!(compared.exit > 50, "{compared:?}");
}

#[test]
fn deleting_one_element_keeps_override_meaning_fixed() {
    let compared = check_stage(Stage::Fixed);
    // Numbered by position, some death signal would have been renamed.
    assert!(compared.positional_broken > 0, "{compared:?}");
}

/// Runs `case` and `smaller` under `fifo` and checks that `key` names
/// `event` in both, while its position among the signals of its event
/// moved (so numbering death signals by position would have renamed it).
fn assert_death_key_survives(
    case: &Case,
    smaller: &Case,
    stage: Stage,
    key: &EventKey,
    event: &str,
) {
    let text = key.to_string();
    let before = run(case, stage, Box::new(Overrides::new(Vec::new())));
    let after = run(smaller, stage, Box::new(Overrides::new(Vec::new())));
    assert_eq!(
        before.events.get(&text).map(String::as_str),
        Some(event),
        "{text}: {:#?}",
        before.events
    );
    assert_eq!(
        after.events.get(&text).map(String::as_str),
        Some(event),
        "{text}: {:#?}",
        after.events
    );
    assert_ne!(
        before.positional.get(&text),
        after.positional.get(&text),
        "{text}: its position did not move, so this shows nothing"
    );
}

/// Two clients in a call to bucket a when it is killed: a's `DOWN`s go to
/// the registry, client1 and client2, in that order. Without client1,
/// client2's `DOWN` is second, not third, and keeps its key.
#[test]
fn deleting_an_earlier_watcher_keeps_a_downs_key() {
    let get = |id: u32| {
        (
            id,
            vec![(
                0,
                Command::Get {
                    bucket: bucket("a"),
                    key: "k".into(),
                },
            )],
        )
    };
    let killer = (
        0,
        vec![
            (
                0,
                Command::Create {
                    bucket: bucket("a"),
                },
            ),
            (
                1,
                Command::Kill {
                    target: Target::Bucket(bucket("a")),
                },
            ),
        ],
    );
    let case = Case {
        clients: vec![killer.clone(), get(1), get(2)],
        faults: Vec::new(),
    };
    let smaller = Case {
        clients: vec![killer, get(2)],
        faults: Vec::new(),
    };
    // KILL is client0's cmd1: lookup /1, reply /1/0, whose exit signal /1/0/0 kills a.
    let kill = EventKey::client(0, 1).deliver(1).deliver(0).deliver(0);
    for stage in [Stage::Unlinked, Stage::Fixed] {
        assert_death_key_survives(
            &case,
            &smaller,
            stage,
            &kill.down("bucket:a", "client2"),
            "bucket:a -> client2: DOWN",
        );
    }
}

/// `monitored` links its buckets: the crashed registry's exit signals go to
/// buckets a and b, in that order. Without `CREATE a`, b's is first and
/// keeps its key.
#[test]
fn deleting_an_earlier_partner_keeps_an_exit_signals_key() {
    let create = |id: u32, name: &str| {
        (
            id,
            Command::Create {
                bucket: bucket(name),
            },
        )
    };
    let case = Case {
        clients: vec![(
            0,
            vec![create(0, "a"), create(1, "b"), (2, Command::Settle)],
        )],
        faults: vec![(0, KvFault::CrashRegistry)],
    };
    let mut smaller = case.clone();
    smaller.clients[0].1.remove(0);
    assert_death_key_survives(
        &case,
        &smaller,
        Stage::Monitored,
        &EventKey::fault(0).exit_signal("registry", "bucket:b"),
        "registry -> bucket:b: exit",
    );
}

#[test]
fn normalise_keeps_endpoints_and_signal_kind() {
    assert_eq!(
        normalise("bucket:a#12 -> registry: DOWN ref 4 killed"),
        "bucket:a -> registry: DOWN"
    );
    assert_eq!(normalise("client1 acts"), "client1 acts");
}
