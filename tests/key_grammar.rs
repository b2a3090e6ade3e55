//! The text form of event keys (the grammar in `src/sim/key.rs`): every key
//! prints and parses back to itself whatever the names in it hold, both as
//! generated keys over hostile names and as the keys a real trace prints
//! for scripts whose bucket names are hostile.

mod common;

use common::{TempDir, kvsim};
use kvsim::sim::{DeathKind, EventKey, Root, Segment};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Characters that end or delimit a part of a key, or that a terminal or a
/// JSON file treats specially.
const SPECIAL: &[char] = &[
    '/', '#', '(', ')', '>', '"', '\\', ' ', ',', '.', ':', ']', '[', '\n', '\r', '\t', '\0',
    '\u{7f}', '\u{85}', '\u{a0}', '\u{200b}', '\u{202e}', '\u{2028}', 'é', '名', '😀', 'D', 'O',
    'W', 'N', 'E', 'X', 'I', 'T', 'x', '0', '1',
];

fn hostile_name() -> impl Strategy<Value = String> {
    let char = prop_oneof![
        3 => proptest::sample::select(SPECIAL),
        1 => any::<char>(),
    ];
    prop_oneof![
        3 => proptest::collection::vec(char, 0..8).prop_map(|cs| cs.into_iter().collect()),
        1 => any::<String>(),
        // Names a logical name could be, generation numbers included.
        1 => ("[a-z]{1,3}", 0u32..3).prop_map(|(name, g)| format!("bucket:{name}#{g}")),
    ]
}

fn segment() -> impl Strategy<Value = Segment> {
    let kind = prop_oneof![Just(DeathKind::Down), Just(DeathKind::Exit)];
    prop_oneof![
        2 => any::<u32>().prop_map(Segment::Send),
        1 => Just(Segment::Exit),
        3 => (kind, hostile_name(), hostile_name(), prop_oneof![0u32..3, any::<u32>()]).prop_map(
            |(kind, from, to, ordinal)| Segment::Death {
                kind,
                from,
                to,
                ordinal
            }
        ),
    ]
}

fn key() -> impl Strategy<Value = EventKey> {
    let root = prop_oneof![
        (any::<u32>(), any::<u32>()).prop_map(|(client, cmd)| Root::Client { client, cmd }),
        any::<u32>().prop_map(|fault| Root::Fault { fault }),
        (hostile_name(), any::<u32>()).prop_map(|(owner, n)| Root::Timer { owner, n }),
        Just(Root::Setup),
    ];
    (root, proptest::collection::vec(segment(), 0..5))
        .prop_map(|(root, path)| EventKey { root, path })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/key_grammar.txt"
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_key_prints_and_parses_back_to_itself(key in key()) {
        let text = key.to_string();
        prop_assert!(
            text.chars().all(|c| (' '..='~').contains(&c)),
            "not printable ASCII: {text}"
        );
        prop_assert_eq!(text.parse::<EventKey>(), Ok(key.clone()), "{}", text);
        // What follows a key in a trace line cannot be taken for part of it.
        let line = format!("{text}] bucket:a/b#0 -> registry: DOWN");
        let (parsed, rest) = EventKey::parse_prefix(&line).expect("a key at the start");
        prop_assert_eq!(&parsed, &key);
        prop_assert_eq!(rest, "] bucket:a/b#0 -> registry: DOWN");
        // serde's form is the text form.
        let json = serde_json::to_string(&key).expect("serialises");
        prop_assert_eq!(&json, &serde_json::to_string(&text).expect("a string"));
        prop_assert_eq!(serde_json::from_str::<EventKey>(&json).ok(), Some(key));
    }

    #[test]
    fn appending_a_segment_never_changes_the_prefix(key in key(), more in segment()) {
        // A key's text is a prefix of its children's: no name "leaks" into the next segment.
        let child = key.then(more);
        let prefix = format!("{}/", key);
        prop_assert!(child.to_string().starts_with(&prefix));
    }
}

/// The property above is not vacuous: keys over these names, printed with
/// names unquoted, do not read back as themselves.
#[test]
fn hostile_names_break_an_unquoted_form() {
    for name in [
        "a/b", "a#1", "a(b", "a)b", "a>b", "a\"b", "a\\b", "a b", "", "a,b", "é",
    ] {
        let key = EventKey::timer(name, 0).down(name, "registry");
        let unquoted = format!("timer({name},0)/DOWN({name}>registry)");
        assert_ne!(
            unquoted.parse::<EventKey>().ok(),
            Some(key.clone()),
            "{name:?}"
        );
        assert_eq!(key.to_string().parse::<EventKey>(), Ok(key), "{name:?}");
    }
}

/// Bucket names a script can hold (words split on ASCII space and tab).
const HOSTILE_BUCKETS: &[&str] = &[
    "a/b",
    "a#1",
    "(x)",
    "x>y",
    "\"q\"",
    "back\\slash",
    "nb\u{a0}sp",
    "é名😀",
    "ctl\u{1}\u{7f}",
    "a]b",
    "DOWN(a>b)",
    "bucket:a",
];

/// A script over `names`: stops and re-creates a bucket of each name, then
/// crashes and kills some, from two clients, so that deaths, `DOWN`s and
/// exit signals (a linked registry's too, once it dies) happen with
/// hostile names at both ends.
fn hostile_script(names: &[&str]) -> String {
    let mut first = String::from("CLIENT one\n");
    let mut second = String::from("CLIENT two\n");
    for name in names {
        first.push_str(&format!(
            "CREATE {name}\nPUT {name} k v\nSTOP {name}\nCREATE {name}\n"
        ));
        second.push_str(&format!("LOOKUP {name}\nGET {name} k\n"));
    }
    for (i, name) in names.iter().enumerate() {
        match i % 3 {
            0 => first.push_str(&format!("KILL {name}\n")),
            1 => first.push_str(&format!("LOOKUP {name}\n")),
            _ => first.push_str(&format!("CRASH {name}\n")),
        }
    }
    first.push_str("SETTLE\n");
    format!("{first}{second}")
}

/// Every `[key]` of a `--trace text` output, checked to parse back to the
/// exact text printed; returns the keys.
fn trace_keys(trace: &str) -> Vec<EventKey> {
    let mut keys = Vec::new();
    for line in trace.lines().filter(|line| line.starts_with('#')) {
        let open = line.find(" [").expect("a step line has a key") + 2;
        let (key, rest) =
            EventKey::parse_prefix(&line[open..]).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(rest.starts_with("] "), "{line}: key ends before {rest:?}");
        let printed = &line[open..line.len() - rest.len()];
        assert_eq!(key.to_string(), printed, "{line}");
        assert_eq!(printed.parse::<EventKey>().as_ref(), Ok(&key), "{line}");
        keys.push(key);
    }
    keys
}

#[test]
fn every_key_in_a_trace_with_hostile_bucket_names_parses_back_to_itself() {
    let dir = TempDir::new("key_grammar_trace");
    let script = dir.file("hostile.kv", hostile_script(HOSTILE_BUCKETS).as_bytes());
    let script = script.to_str().expect("UTF-8 temp path");
    let mut keys = Vec::new();
    for registry in ["naive", "unlinked", "monitored", "fixed"] {
        for (schedule, seed) in [
            ("fifo", "0"),
            ("random", "1"),
            ("random", "2"),
            ("pos", "3"),
        ] {
            let mut args = vec![
                "run",
                script,
                "--registry",
                registry,
                "--schedule",
                schedule,
            ];
            // `fifo` has no seed, and refuses one.
            if schedule != "fifo" {
                args.extend(["--seed", seed]);
            }
            args.extend(["--trace", "text"]);
            let run = kvsim(&args);
            assert!(
                matches!(run.code, Some(0 | 3)),
                "{registry} {schedule}: {run:?}"
            );
            let trace = run
                .stdout
                .split_once("--- trace\n")
                .map(|(_, trace)| trace)
                .expect("a trace");
            keys.extend(trace_keys(trace));
        }
    }
    assert!(keys.len() > 1000, "only {} keys", keys.len());
    // Death signals from and to buckets with hostile names were among them.
    for (kind, at_least) in [
        (DeathKind::Down, HOSTILE_BUCKETS.len() / 2),
        (DeathKind::Exit, HOSTILE_BUCKETS.len() / 2),
    ] {
        let hostile: Vec<String> = keys
            .iter()
            .flat_map(|key| &key.path)
            .filter_map(|segment| match segment {
                Segment::Death {
                    kind: k, from, to, ..
                } if *k == kind => Some((from, to)),
                _ => None,
            })
            .flat_map(|(from, to)| [from, to])
            .filter(|name| {
                HOSTILE_BUCKETS
                    .iter()
                    .any(|bucket| **name == format!("bucket:{bucket}"))
            })
            .cloned()
            .collect();
        let distinct: std::collections::BTreeSet<&String> = hostile.iter().collect();
        assert!(distinct.len() >= at_least, "{kind:?}: only {distinct:?}");
    }
}
