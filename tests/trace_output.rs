//! Traces are well formed for hostile names: every JSON line parses, the
//! text trace says one event per line with control characters escaped and
//! every bracketed key in it parses back to itself, user data that
//! looks like a pid (`<0.1.0>`) is never rewritten into a process name, and
//! Mermaid escapes `;` and `#` in every label, replies included.

mod common;

use common::{TempDir, kvsim, play_with};
use kvsim::check::{Case, CaseClient, CheckConfig, Schedule, Strategy as CaseStrategy, run_case};
use kvsim::kv::{Command, Stage, Target};
use kvsim::sim::{DropCause, EventKey, Trace, TraceEntry};
use proptest::prelude::*;

const NAMES: [&str; 11] = [
    "\"quo\"",
    "back\\slash",
    "<0.1.0>",
    "x;y#1",
    "a/b(c)>d",
    "caf\u{e9}",
    "%%{init:{}}%%",
    "<br>&amp;",
    "style:x#1;",
    "wrap:\u{1}\u{0}",
    "-->>p0:",
];

fn script(name: &str) -> String {
    format!("CLIENT x\nCREATE {name}\nLOOKUP {name}\nCLIENT y\nSTOP {name}\nLOOKUP {name}\n")
}

fn trace(name: &str, format: &str, seed: u64) -> String {
    let dir = TempDir::new("trace-output");
    let path = dir.file("hostile.kv", script(name).as_bytes());
    let run = kvsim(&[
        "run",
        path.to_str().unwrap(),
        "--registry",
        "unlinked",
        "--schedule",
        "random",
        "--seed",
        &seed.to_string(),
        "--trace",
        format,
    ]);
    assert_eq!(run.code, Some(0), "{name}: {run:?}");
    run.stdout
        .split_once("--- trace\n")
        .expect("a trace")
        .1
        .to_string()
}

#[test]
fn every_json_line_parses_and_carries_the_name() {
    for name in NAMES {
        for seed in 0..4 {
            let text = trace(name, "json", seed);
            let mut seen = false;
            for line in text.lines() {
                let value: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{name:?} seed {seed}: {e}: {line}"));
                seen |= value
                    .to_string()
                    .contains(&serde_json::to_string(name).unwrap()[1..]);
            }
            assert!(seen || name.contains('"'), "{name:?}: the name appears");
        }
    }
}

#[test]
fn every_key_in_a_text_trace_parses_back_to_itself() {
    for name in NAMES {
        for seed in 0..4 {
            let text = trace(name, "text", seed);
            for line in text.lines().filter(|l| l.starts_with('#')) {
                let key = line
                    .split_once(" [")
                    .and_then(|(_, rest)| rest.split_once("] "))
                    .map(|(key, _)| key)
                    .unwrap_or_else(|| panic!("no key in {line}"));
                let parsed: EventKey = key
                    .parse()
                    .unwrap_or_else(|e| panic!("{name:?}: {key}: {e}"));
                assert_eq!(parsed.to_string(), key, "{name:?}");
            }
        }
    }
}

#[test]
fn pid_looking_user_data_is_not_rewritten() {
    let text = trace("<0.1.0>", "text", 1);
    assert!(text.contains("client0: CREATE <0.1.0>"), "{text}");
    assert!(!text.contains("CREATE registry"), "{text}");
    assert!(text.contains("bucket:<0.1.0>#0"), "{text}");
}

#[test]
fn mermaid_labels_escape_user_text_everywhere() {
    for name in NAMES {
        let text = trace(name, "mermaid", 2);
        let mut named = false;
        for line in text.lines().skip(1) {
            // A comment's key (`%% #3 t=0 [key]`) is escaped like a label.
            let label = match line.trim_start().strip_prefix("%% #") {
                Some(comment) => {
                    let (_, key) = comment.split_once(" [").expect("a key");
                    key.strip_suffix(']').expect("a closed key")
                }
                None => line
                    .split_once(": ")
                    .or_else(|| line.split_once(" as "))
                    .map(|(_, label)| label)
                    .unwrap_or_else(|| panic!("no label in {line}")),
            };
            let decoded = mermaid_label(label).unwrap_or_else(|e| panic!("{name:?}: {e}"));
            named |= decoded.contains(name);
        }
        assert!(named, "{name:?} is in some label");
    }
}

// --- Property tests: arbitrary names, keys and values ---------------------
//
// Every rendering of a trace is checked against the entries it renders,
// line by line: a JSON line must parse to exactly the entry's fields, and
// each Mermaid line must have the shape of its entry's statement, with
// every label free of Mermaid syntax and decoding back to the entry's text.

/// Pieces that mean something to JSON, Mermaid, HTML, the trace's own
/// notation or a terminal.
const HOSTILE: [&str; 34] = [
    "\"",
    "\\",
    "\0",
    "\u{1}",
    "\u{1b}[31m",
    "\u{7f}",
    "\u{85}",
    ";",
    "#",
    "#35;",
    "<0.1.0>",
    "<0.2.0>",
    "-->",
    "->>",
    "-x",
    "%%",
    "%%{init: {\"theme\": \"dark\"}}%%",
    "<br>",
    "&amp;",
    "style:x#1;",
    "classDef",
    "wrap:",
    "nowrap:",
    ":",
    "\u{fb02}\u{b0}\u{b0}",
    "\u{b6}\u{df}",
    "caf\u{e9}",
    "\u{2028}",
    "\u{feff}",
    "\u{a0}",
    "\r",
    "{}",
    "'",
    "\u{1f980}",
];

/// A word a script can hold: no ASCII space or tab, no newline, and no
/// `\r` at its end (a line's last `\r` is dropped).
fn script_word() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(HOSTILE.to_vec()).prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
        1 => "[a-z0-9]{1,3}",
    ];
    proptest::collection::vec(piece, 1..4).prop_map(|pieces| {
        let mut word: String = pieces
            .concat()
            .chars()
            .filter(|c| !matches!(c, ' ' | '\t' | '\n'))
            .collect();
        if word.is_empty() || word.ends_with('\r') {
            word.push('w');
        }
        word
    })
}

/// Any string at all, for the library API: spaces, newlines, empty.
fn any_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(HOSTILE.to_vec()).prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
        1 => proptest::sample::select(vec![" ", "\t", "\n", "  ", "a b"]).prop_map(str::to_string),
    ];
    proptest::collection::vec(piece, 0..4).prop_map(|pieces| pieces.concat())
}

/// The text trace says one event per line, whatever the names and data
/// hold: one line per entry (a delivery right after its step is said by
/// the step's line), a step's line flush left and every other indented,
/// and no line holding a control character or a Unicode line or paragraph
/// separator, which `str::lines`, a terminal or `grep` would take apart.
fn check_text(trace: &Trace) -> Result<(), TestCaseError> {
    let text = trace.to_text();
    prop_assert!(text.is_empty() || text.ends_with('\n'));
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    let mut said = Vec::new();
    let mut after_step = false;
    for entry in &trace.entries {
        let by_step = after_step && matches!(entry, TraceEntry::Deliver { .. });
        after_step = matches!(entry, TraceEntry::Step { .. });
        if !by_step {
            said.push(entry);
        }
    }
    prop_assert_eq!(lines.len(), said.len(), "{}", text);
    for (line, entry) in lines.iter().zip(said) {
        let breaks = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
        prop_assert!(!line.contains(breaks), "{:?}", line);
        match entry {
            TraceEntry::Step { .. } => prop_assert!(line.starts_with('#'), "{:?}", line),
            _ => prop_assert!(line.starts_with("    "), "{:?}", line),
        }
    }
    Ok(())
}

/// Each JSON line is one object equal to its entry, and (for a run's
/// trace, `keys`) a step's key parses back to itself.
fn check_json(trace: &Trace, keys: bool) -> Result<(), TestCaseError> {
    let text = trace.to_json_lines();
    let lines: Vec<&str> = text.lines().collect();
    prop_assert_eq!(lines.len(), trace.entries.len());
    prop_assert!(text.is_empty() || text.ends_with('\n'));
    for (line, entry) in lines.iter().zip(&trace.entries) {
        let parsed: serde_json::Value =
            serde_json::from_str(line).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
        prop_assert_eq!(&parsed, &expected_json(entry), "{}", line);
        if let (true, TraceEntry::Step { key, .. }) = (keys, entry) {
            let parsed: EventKey = key
                .parse()
                .map_err(|e| TestCaseError::fail(format!("{key}: {e}")))?;
            prop_assert_eq!(&parsed.to_string(), key);
        }
    }
    Ok(())
}

/// The entry's fields as JSON, written out by hand (not by the type's own
/// serializer), so that a field encoded as anything but its value fails.
fn expected_json(entry: &TraceEntry) -> serde_json::Value {
    use serde_json::json;
    match entry {
        TraceEntry::Step {
            step,
            time_ms,
            key,
            event,
        } => json!({"kind": "step", "step": step, "time_ms": time_ms, "key": key, "event": event}),
        TraceEntry::Spawn {
            parent,
            child,
            linked,
        } => json!({"kind": "spawn", "parent": parent, "child": child, "linked": linked}),
        TraceEntry::Send { from, to, signal } => {
            json!({"kind": "send", "from": from, "to": to, "signal": signal})
        }
        TraceEntry::Drop {
            from,
            to,
            signal,
            why,
        } => {
            let why = match why {
                DropCause::Dead => json!("dead"),
                DropCause::AliasInactive(alias) => json!({"alias_inactive": alias}),
            };
            json!({"kind": "drop", "from": from, "to": to, "signal": signal, "why": why})
        }
        TraceEntry::Deliver { from, to, signal } => {
            json!({"kind": "deliver", "from": from, "to": to, "signal": signal})
        }
        TraceEntry::Link { from, to } => json!({"kind": "link", "from": from, "to": to}),
        TraceEntry::Unlink { from, to } => json!({"kind": "unlink", "from": from, "to": to}),
        TraceEntry::Monitor {
            watcher,
            target,
            mref,
        } => json!({"kind": "monitor", "watcher": watcher, "target": target, "mref": mref}),
        TraceEntry::Demonitor {
            watcher,
            target,
            mref,
            flushed,
        } => json!({"kind": "demonitor", "watcher": watcher, "target": target, "mref": mref,
                    "flushed": flushed}),
        TraceEntry::Exit { pid, reason } => json!({"kind": "exit", "pid": pid, "reason": reason}),
        TraceEntry::TimerStart {
            owner,
            timer,
            deadline_ms,
        } => json!({"kind": "timer_start", "owner": owner, "timer": timer,
                    "deadline_ms": deadline_ms}),
        TraceEntry::TimerCancel { owner, timer } => {
            json!({"kind": "timer_cancel", "owner": owner, "timer": timer})
        }
        TraceEntry::Note { pid, text } => json!({"kind": "note", "pid": pid, "text": text}),
    }
}

/// A Mermaid label as Mermaid reads it: `Err` when anything in it is
/// syntax (a bare `#`, `;`, `%`, `<` or `&`, a control or line-separator
/// character, an edge Mermaid trims, a leading option, `style` or
/// `classDef`); else the text it draws, every `#N;` decoded.
fn mermaid_label(label: &str) -> Result<String, String> {
    let trimmed = |c: char| c.is_whitespace() || c == '\u{feff}';
    if label.starts_with(trimmed) || label.ends_with(trimmed) {
        return Err(format!("an edge Mermaid trims: {label:?}"));
    }
    let lower = label.to_ascii_lowercase();
    for word in ["wrap:", "nowrap:", ":"] {
        if lower.starts_with(word) {
            return Err(format!("a leading option: {label:?}"));
        }
    }
    for word in ["style", "classdef"] {
        if lower.contains(word) {
            return Err(format!("{word} in {label:?}"));
        }
    }
    let mut out = String::new();
    let mut rest = label;
    while let Some(c) = rest.chars().next() {
        if c == '#' {
            let digits = rest[1..].bytes().take_while(u8::is_ascii_digit).count();
            let code = rest[1..1 + digits]
                .parse::<u32>()
                .ok()
                .filter(|_| rest[1 + digits..].starts_with(';'))
                .and_then(char::from_u32)
                .ok_or_else(|| format!("a bare # in {label:?}"))?;
            out.push(code);
            rest = &rest[digits + 2..];
            continue;
        }
        if matches!(
            c,
            ';' | '%' | '<' | '&' | '\u{fb02}' | '\u{b6}' | '\u{2028}' | '\u{2029}'
        ) || c.is_control()
        {
            return Err(format!("a bare {c:?} in {label:?}"));
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

/// The Mermaid diagram has one statement of the right shape per drawn
/// entry, in order, each label decoding to the entry's own text.
fn check_mermaid(trace: &Trace) -> Result<(), TestCaseError> {
    let text = trace.to_mermaid();
    let mut lines = text.lines();
    prop_assert_eq!(lines.next(), Some("sequenceDiagram"));
    let label = |line: &str, prefix: &str| -> Result<String, TestCaseError> {
        let raw = line
            .strip_prefix(prefix)
            .ok_or_else(|| TestCaseError::fail(format!("{line:?} does not start {prefix:?}")))?;
        mermaid_label(raw).map_err(TestCaseError::fail)
    };
    let mut participants: Vec<String> = Vec::new();
    let mut body: Vec<&str> = Vec::new();
    for line in lines {
        let prefix = format!("    participant p{} as ", participants.len());
        if body.is_empty() && line.starts_with(&prefix) {
            participants.push(label(line, &prefix)?);
        } else {
            body.push(line);
        }
    }
    let id = |name: &str| -> Result<usize, TestCaseError> {
        participants
            .iter()
            .position(|p| p == name)
            .ok_or_else(|| TestCaseError::fail(format!("{name:?} is no participant")))
    };
    let mut body = body.into_iter();
    for entry in &trace.entries {
        let mut next = || {
            body.next()
                .ok_or_else(|| TestCaseError::fail(format!("no line for {entry:?}")))
        };
        match entry {
            TraceEntry::Step {
                step, time_ms, key, ..
            } => {
                let line = next()?;
                let head = format!("    %% #{step} t={time_ms} [");
                let inner = line
                    .strip_suffix(']')
                    .ok_or_else(|| TestCaseError::fail(format!("unclosed {line:?}")))?;
                prop_assert_eq!(&label(inner, &head)?, key);
            }
            TraceEntry::Deliver { from, to, signal } => {
                let line = next()?;
                let prefix = format!("    p{}->>p{}: ", id(from)?, id(to)?);
                prop_assert_eq!(&label(line, &prefix)?, signal);
            }
            TraceEntry::Drop {
                from,
                to,
                signal,
                why,
            } => {
                let line = next()?;
                let why = match why {
                    DropCause::Dead => String::new(),
                    DropCause::AliasInactive(alias) => format!(": alias {alias} inactive"),
                };
                let prefix = format!("    p{}-xp{}: ", id(from)?, id(to)?);
                prop_assert_eq!(label(line, &prefix)?, format!("{signal} (dropped{why})"));
            }
            TraceEntry::Spawn {
                parent,
                child,
                linked,
            } => {
                let how = if *linked { "spawn_link" } else { "spawn" };
                let expected = format!("    p{}-->>p{}: {how}", id(parent)?, id(child)?);
                prop_assert_eq!(next()?, expected.as_str());
            }
            TraceEntry::Exit { pid, reason } => {
                let line = next()?;
                let prefix = format!("    Note over p{}: ", id(pid)?);
                prop_assert_eq!(label(line, &prefix)?, format!("exit {reason}"));
            }
            TraceEntry::Note { pid, text } => {
                let line = next()?;
                let prefix = format!("    Note over p{}: ", id(pid)?);
                prop_assert_eq!(&label(line, &prefix)?, text);
            }
            _ => {}
        }
    }
    prop_assert_eq!(body.next(), None);
    Ok(())
}

fn schedule_for(pick: u8) -> Schedule {
    match pick % 4 {
        0 => Schedule::Fifo,
        1 => Schedule::Random,
        2 => Schedule::Pos,
        _ => Schedule::Pct { depth: 2 },
    }
}

fn traced_script(text: &str, stage: Stage, schedule: Schedule, seed: u64) -> Trace {
    play_with(stage, schedule, seed, text)
        .trace
        .expect("traced")
}

fn has_note(trace: &Trace, expected: &str) -> bool {
    trace
        .entries
        .iter()
        .any(|e| matches!(e, TraceEntry::Note { text, .. } if text == expected))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(
                "proptest-regressions/trace_output.txt",
            ),
        )),
        ..ProptestConfig::default()
    })]

    /// Scripts with hostile words, two clients, every stage and schedule:
    /// every rendering is well formed, and the words come back whole.
    #[test]
    fn script_traces_are_well_formed(
        name in script_word(),
        key in script_word(),
        value in script_word(),
        reason in script_word(),
        stray in script_word(),
        stage in proptest::sample::select(Stage::ALL.to_vec()),
        pick in any::<u8>(),
        seed in any::<u64>(),
    ) {
        let text = format!(
            "CLIENT x\nCREATE {name}\nPUT {name} {key} {value}\nGET {name} {key}\n\
             LOOKUP {name}\nSEND registry {stray}\nCRASH {name} {reason}\n\
             CLIENT y\nLOOKUP {name}\nDELETE {name} {key}\nSTOP {name}\nGET {name} {key}\n"
        );
        let trace = traced_script(&text, stage, schedule_for(pick), seed);
        check_json(&trace, true)?;
        check_mermaid(&trace)?;
        check_text(&trace)?;
        let create_note = has_note(&trace, &format!("CREATE {name}"));
        prop_assert!(create_note, "no CREATE note");
        let put_note = has_note(&trace, &format!("PUT {name} {key} {value}"));
        prop_assert!(put_note, "no PUT note");
        let bucket = format!("bucket:{name}#0");
        let spawned = trace.entries.iter().any(
            |e| matches!(e, TraceEntry::Spawn { child, .. } if *child == bucket)
        );
        prop_assert!(spawned, "no spawn of {:?}", bucket);
        let create = format!("cast {{:create, {name:?}}}");
        let cast = trace.entries.iter().any(
            |e| matches!(e, TraceEntry::Send { signal, .. } if *signal == create)
        );
        prop_assert!(cast, "no send of {:?}", create);

    }

    /// One client under `fifo`, so that every command runs to its answer:
    /// a key and a value go into the messages as written, a lookup's reply
    /// names the bucket by its name whatever the name looks like, and a
    /// crash reason is user data too: the bucket exits with exactly it.
    #[test]
    fn user_words_come_back_whole(
        name in script_word(),
        key in script_word(),
        value in script_word(),
        reason in script_word(),
    ) {
        let text = format!(
            "CREATE {name}\nPUT {name} {key} {value}\nGET {name} {key}\n\
             LOOKUP {name}\nCRASH {name} {reason}\nSETTLE\n"
        );
        let trace = traced_script(&text, Stage::Unlinked, Schedule::Fifo, 0);
        check_json(&trace, true)?;
        check_mermaid(&trace)?;
        check_text(&trace)?;
        let bucket = format!("bucket:{name}#0");
        let exited = trace.entries.iter().any(|e| matches!(
            e,
            TraceEntry::Exit { pid, reason: r } if *pid == bucket && *r == reason
        ));
        prop_assert!(exited, "{:#?}", trace.entries);
        let reply = format!("reply {{:ok, {bucket}}}");
        let replied = trace.entries.iter().any(|e| matches!(
            e,
            TraceEntry::Deliver { signal, .. } if signal.starts_with(&reply)
        ));
        prop_assert!(replied, "{:#?}", trace.entries);
        let put = format!("{{:put, {key:?}, {value:?}}}");
        let call = trace.entries.iter().any(
            |e| matches!(e, TraceEntry::Deliver { signal, .. } if signal.contains(&put))
        );
        prop_assert!(call, "no delivery of {:?}", put);
        let got = format!("reply {value:?}");
        let answer = trace.entries.iter().any(
            |e| matches!(e, TraceEntry::Deliver { signal, .. } if signal.starts_with(&got))
        );
        prop_assert!(answer, "no delivery of {:?}", got);
    }

    /// Cases built through the library with any strings at all (spaces,
    /// newlines, empty): every rendering is well formed.
    #[test]
    fn library_case_traces_are_well_formed(
        name in any_text(),
        key in any_text(),
        value in any_text(),
        reason in any_text(),
        stray in any_text(),
        stage in proptest::sample::select(Stage::ALL.to_vec()),
        seed in any::<u64>(),
    ) {
        let bucket = || name.clone();
        let x = vec![
            Command::Create { bucket: bucket() },
            Command::Put { bucket: bucket(), key: key.clone(), value: value.clone() },
            Command::Get { bucket: bucket(), key: key.clone() },
            Command::SendRegistry { word: stray.clone() },
            Command::Crash { target: Target::Bucket(bucket()), reason: Some(reason.clone()) },
        ];
        let y = vec![
            Command::Lookup { bucket: bucket() },
            Command::Delete { bucket: bucket(), key: key.clone() },
            Command::Stop { target: Target::Bucket(bucket()) },
            Command::Unknown { words: vec![name.clone(), key.clone()] },
        ];
        let client = |id: u32, commands: Vec<Command>| CaseClient {
            id,
            commands: (0..).zip(commands).collect(),
        };
        let case = Case {
            clients: vec![client(0, x), client(1, y)],
            strategy: Some(CaseStrategy::Random { seed }),
            ..Case::default()
        };
        let config = CheckConfig { tracing: true, ..CheckConfig::default() };
        let run = run_case(&case, &move || stage.registry(), &config);
        let trace = run.trace.expect("traced");
        check_json(&trace, true)?;
        check_mermaid(&trace)?;
        check_text(&trace)?;
        let create_note = has_note(&trace, &format!("CREATE {name}"));
        prop_assert!(create_note, "no CREATE note");
    }

    /// Entries made of arbitrary strings render well formed however they
    /// are combined.
    #[test]
    fn any_entries_render_well_formed(
        entries in proptest::collection::vec(any_entry(), 0..12),
    ) {
        let trace = Trace { entries, ..Trace::default() };
        check_json(&trace, false)?;
        check_mermaid(&trace)?;
        check_text(&trace)?;
    }
}

fn any_entry() -> impl Strategy<Value = TraceEntry> {
    let s = any_text;
    prop_oneof![
        (any::<u64>(), any::<u64>(), s(), s()).prop_map(|(step, time_ms, key, event)| {
            TraceEntry::Step {
                step,
                time_ms,
                key,
                event,
            }
        }),
        (s(), s(), any::<bool>()).prop_map(|(parent, child, linked)| TraceEntry::Spawn {
            parent,
            child,
            linked
        }),
        (s(), s(), s()).prop_map(|(from, to, signal)| TraceEntry::Send { from, to, signal }),
        (s(), s(), s(), proptest::option::of(any::<u64>())).prop_map(
            |(from, to, signal, alias)| {
                TraceEntry::Drop {
                    from,
                    to,
                    signal,
                    why: alias.map_or(DropCause::Dead, DropCause::AliasInactive),
                }
            }
        ),
        (s(), s(), s()).prop_map(|(from, to, signal)| TraceEntry::Deliver { from, to, signal }),
        (s(), s()).prop_map(|(from, to)| TraceEntry::Link { from, to }),
        (s(), s(), any::<u64>()).prop_map(|(watcher, target, mref)| TraceEntry::Monitor {
            watcher,
            target,
            mref
        }),
        (s(), s()).prop_map(|(pid, reason)| TraceEntry::Exit { pid, reason }),
        (s(), any::<u64>(), any::<u64>()).prop_map(|(owner, timer, deadline_ms)| {
            TraceEntry::TimerStart {
                owner,
                timer,
                deadline_ms,
            }
        }),
        (s(), s()).prop_map(|(pid, text)| TraceEntry::Note { pid, text }),
    ]
}
