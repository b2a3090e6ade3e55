//! Case files hold any name: every case kvsim can write reads back as the
//! same case, whatever its bucket names, keys, values, `CRASH` reasons and
//! unknown commands' words hold. Two sources: the case of any `.kv` script
//! over hostile words (what `kvsim run --check`, `explore` and `verify`
//! save), and cases built in Rust with names no script can hold (spaces,
//! line breaks, the empty name, a bucket named `registry` as a target).

mod common;

use common::{TempDir, kvsim};
use kvsim::check::generate::assemble;
use kvsim::check::{Case, CaseClient, CaseFault, CaseMeta, Strategy as CaseStrategy};
use kvsim::kv::{Command, KvFault, Target, script};
use kvsim::sim::{DeathKind, EventKey, Root, Segment};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::path::Path;

/// Characters that delimit a word, a line, a key, a JSON string or a
/// comment, or that a terminal treats specially.
const SPECIAL: &[char] = &[
    ' ', '\t', '\n', '\r', '\0', '"', '\\', ';', '#', '/', ':', '<', '>', '.', '(', ')', ',', '[',
    ']', '\u{1}', '\u{1b}', '\u{7f}', '\u{85}', '\u{a0}', '\u{feff}', '\u{2028}', '\u{202e}', 'é',
    '名', '😀',
];

/// Whole names worth trying as they are.
const NAMES: &[&str] = &[
    "",
    "registry",
    "<0.1.0>",
    "bucket:a",
    "CREATE",
    "# not a comment",
    "a;b",
    "\"quoted\"",
    "back\\slash",
    "line\nbreak",
    "cr\r",
    "nul\0",
    "two words",
];

fn hostile_name() -> impl Strategy<Value = String> {
    let char = prop_oneof![
        3 => proptest::sample::select(SPECIAL),
        1 => any::<char>(),
        2 => proptest::sample::select(&['a', 'b', 'x'][..]),
    ];
    prop_oneof![
        3 => proptest::collection::vec(char, 0..6).prop_map(|cs| cs.into_iter().collect()),
        2 => proptest::sample::select(NAMES).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

/// A word a `.kv` script can hold: anything but ASCII space, tab and line
/// feed, not empty.
fn script_word() -> impl Strategy<Value = String> {
    hostile_name()
        .prop_map(|name| name.replace([' ', '\t', '\n'], ""))
        .prop_filter("a word", |word| !word.is_empty())
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        1 => Just(Target::Registry),
        3 => hostile_name().prop_map(Target::Bucket),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    let n = hostile_name;
    prop_oneof![
        n().prop_map(|bucket| Command::Create { bucket }),
        (n(), n(), n()).prop_map(|(bucket, key, value)| Command::Put { bucket, key, value }),
        (n(), n()).prop_map(|(bucket, key)| Command::Get { bucket, key }),
        (n(), n()).prop_map(|(bucket, key)| Command::Delete { bucket, key }),
        n().prop_map(|bucket| Command::Lookup { bucket }),
        (target(), proptest::option::of(n()))
            .prop_map(|(target, reason)| Command::Crash { target, reason }),
        target().prop_map(|target| Command::Kill { target }),
        target().prop_map(|target| Command::Stop { target }),
        n().prop_map(|word| Command::SendRegistry { word }),
        Just(Command::Settle),
        proptest::collection::vec(n(), 1..4).prop_map(|words| Command::Unknown { words }),
    ]
}

fn fault() -> impl Strategy<Value = KvFault> {
    prop_oneof![
        3 => hostile_name().prop_map(KvFault::KillBucket),
        3 => hostile_name().prop_map(KvFault::CrashBucket),
        1 => Just(KvFault::StrayRegistry),
        1 => Just(KvFault::KillRegistry),
        1 => Just(KvFault::CrashRegistry),
    ]
}

fn segment() -> impl Strategy<Value = Segment> {
    let kind = prop_oneof![Just(DeathKind::Down), Just(DeathKind::Exit)];
    prop_oneof![
        any::<u32>().prop_map(Segment::Send),
        Just(Segment::Exit),
        (kind, hostile_name(), hostile_name(), 0u32..3).prop_map(|(kind, from, to, ordinal)| {
            Segment::Death {
                kind,
                from,
                to,
                ordinal,
            }
        }),
    ]
}

/// A case over hostile names: its overrides are rooted at its own commands
/// and faults (a case file refuses others), at timers of hostile owners
/// and at setup.
fn hostile_case() -> impl Strategy<Value = Case> {
    let clients = proptest::collection::vec(proptest::collection::vec(command(), 1..5), 1..3);
    let faults = proptest::collection::vec(fault(), 0..3);
    let strategy = prop_oneof![
        Just(None),
        any::<u64>().prop_map(|seed| Some(CaseStrategy::Random { seed })),
    ];
    (clients, faults, strategy)
        .prop_flat_map(|(clients, faults, strategy)| {
            let commands: Vec<(u32, u32)> = clients
                .iter()
                .enumerate()
                .flat_map(|(c, commands)| (0..commands.len()).map(move |n| (c as u32, n as u32)))
                .collect();
            let mut roots = vec![
                Just(Root::Setup).boxed(),
                (hostile_name(), 0u32..3)
                    .prop_map(|(owner, n)| Root::Timer { owner, n })
                    .boxed(),
                proptest::sample::select(commands)
                    .prop_map(|(client, cmd)| Root::Client { client, cmd })
                    .boxed(),
            ];
            if !faults.is_empty() {
                roots.push(
                    (0..faults.len() as u32)
                        .prop_map(|fault| Root::Fault { fault })
                        .boxed(),
                );
            }
            let key = (
                proptest::strategy::Union::new(roots),
                proptest::collection::vec(segment(), 0..3),
            )
                .prop_map(|(root, path)| EventKey { root, path });
            (
                Just(clients),
                Just(faults),
                proptest::collection::vec(key, 0..4),
                Just(strategy),
            )
        })
        .prop_map(|(clients, faults, schedule, strategy)| Case {
            strategy,
            ..assemble(clients, faults, schedule)
        })
}

/// A script over hostile words: protocol commands and directives with
/// their arguments, and lines of any words (unknown commands, or known
/// ones with the wrong number of arguments).
fn hostile_script() -> impl Strategy<Value = String> {
    let w = script_word;
    let line = prop_oneof![
        w().prop_map(|b| format!("CREATE {b}")),
        (w(), w(), w()).prop_map(|(b, k, v)| format!("PUT {b} {k} {v}")),
        (w(), w()).prop_map(|(b, k)| format!("GET {b} {k}")),
        (w(), w()).prop_map(|(b, k)| format!("DELETE\t{b} {k}")),
        w().prop_map(|b| format!("LOOKUP {b}")),
        (w(), proptest::option::of(w())).prop_map(|(t, r)| match r {
            None => format!("CRASH {t}"),
            Some(r) => format!("CRASH {t} {r}"),
        }),
        w().prop_map(|t| format!("KILL {t}")),
        w().prop_map(|t| format!("STOP {t}")),
        w().prop_map(|word| format!("SEND registry {word}")),
        Just("SETTLE".to_string()),
        proptest::collection::vec(w(), 1..4).prop_map(|words| words.join(" ")),
    ];
    let client = (w(), proptest::collection::vec(line, 1..5))
        .prop_map(|(name, lines)| format!("CLIENT {name}\n{}\n", lines.join("\n")));
    proptest::collection::vec(client, 1..3).prop_map(|clients| clients.concat())
}

fn reads_back(case: &Case) -> Result<(), TestCaseError> {
    let meta = CaseMeta::found("unlinked", Some("P1 lookup-is-alive".into()), "a test");
    let text = case.to_json(&meta);
    let (read, read_meta) = Case::from_json(Path::new("names.case.json"), &text)
        .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    prop_assert_eq!(&read, case, "{}", text);
    prop_assert_eq!(read_meta, meta);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/case_file_names.txt"
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_scripts_case_reads_back_as_itself(text in hostile_script()) {
        // Duplicate client names and CLIENT lines with a comment's `#` are
        // the script's errors: those scripts make no case.
        if let Ok(parsed) = script::parse(Path::new("hostile.kv"), text.as_bytes()) {
            reads_back(&Case::from_script(&parsed))?;
        }
    }

    #[test]
    fn a_case_with_any_names_reads_back_as_itself(case in hostile_case()) {
        reads_back(&case)?;
    }
}

/// The case file `case` would be with every command as its `.kv` line
/// and every fault as its text: the only forms before names could hold
/// anything.
fn plain_forms(case: &Case) -> String {
    let clients: Vec<serde_json::Value> = case
        .clients
        .iter()
        .map(|client| {
            let commands: Vec<serde_json::Value> = client
                .commands
                .iter()
                .map(|(id, command)| serde_json::json!({"id": id, "line": command.to_string()}))
                .collect();
            serde_json::json!({"id": client.id, "commands": commands})
        })
        .collect();
    let faults: Vec<serde_json::Value> = case
        .faults
        .iter()
        .map(|f| serde_json::json!({"id": f.id, "fault": f.fault.to_string()}))
        .collect();
    serde_json::json!({"kvsim_case": 2, "clients": clients, "faults": faults}).to_string()
}

/// The properties above are not vacuous: these cases do not read back
/// through their commands' `.kv` lines and their faults' texts alone, and
/// do through what the case file writes.
#[test]
fn hostile_names_break_the_plain_forms() {
    let commands = [
        Command::Create {
            bucket: "cr\r".into(),
        },
        Command::Put {
            bucket: "a".into(),
            key: "k\rx".into(),
            value: "v".into(),
        },
        Command::Lookup {
            bucket: "two words".into(),
        },
        Command::Create { bucket: "".into() },
        Command::Kill {
            target: Target::Bucket("registry".into()),
        },
        Command::Unknown {
            words: vec!["HELLO".into(), "x".into()],
        },
        Command::Unknown {
            words: vec!["CREATE".into(), "a".into()],
        },
    ];
    let cases = commands
        .into_iter()
        .map(|command| Case {
            clients: vec![CaseClient {
                id: 0,
                commands: vec![(0, command)],
            }],
            ..Case::default()
        })
        .chain(
            [
                KvFault::KillBucket("two words".into()),
                KvFault::CrashBucket("".into()),
                KvFault::KillBucket("cr\r".into()),
            ]
            .into_iter()
            .map(|fault| Case {
                faults: vec![CaseFault { id: 0, fault }],
                ..Case::default()
            }),
        );
    for case in cases {
        let plain = Case::from_json(Path::new("plain.case.json"), &plain_forms(&case));
        assert!(
            plain.as_ref().map(|(read, _)| read) != Ok(&case),
            "{case:?} reads back from its plain forms"
        );
        reads_back(&case).unwrap();
    }
}

/// Through the binary: `kvsim run --check` and `kvsim verify` (which save
/// the case as it ran, unshrunk) on a script whose bucket name holds a
/// carriage return and which has a command the language does not know
/// save case files that `kvsim replay` reads and runs to the same broken
/// property.
#[test]
fn saved_cases_of_hostile_scripts_replay() {
    let dir = TempDir::new("case-file-names");
    let name = "a\rb;#<0.1.0>";
    let script = dir.file(
        "hostile.kv",
        format!("CREATE {name}\nHELLO x\\y\nKILL {name}\nLOOKUP {name}\n").as_bytes(),
    );
    let script = script.to_str().expect("UTF-8 temp path");
    for how in ["run", "verify"] {
        let out = dir.path.join(how);
        let out = out.to_str().expect("UTF-8 temp path");
        let mut args = vec![how, script, "--registry", "unlinked", "--out", out];
        match how {
            "run" => args.push("--check"),
            _ => args.extend(["--faults", "kill:1", "--quiet"]),
        }
        let found = kvsim(&args);
        assert_eq!(found.code, Some(1), "{how}: {found:?}");
        let saved = std::fs::read_dir(out)
            .expect("a case was saved")
            .map(|entry| entry.expect("an entry").path())
            .next()
            .expect("a case file");
        let text = std::fs::read_to_string(&saved).expect("reads");
        assert!(text.contains("\"words\": ["), "{text}");
        assert!(text.contains("\"unknown\": ["), "{text}");
        let replayed = kvsim(&["replay", saved.to_str().expect("UTF-8")]);
        assert_eq!(replayed.code, Some(1), "{how}: {replayed:?}\n{text}");
        assert!(
            replayed.stdout.contains("P1 lookup-is-alive"),
            "{replayed:?}"
        );
    }
}
