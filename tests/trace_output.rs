//! Traces are well formed for hostile names: every JSON line parses, every
//! bracketed key of the text trace parses back to itself, user data that
//! looks like a pid (`<0.1.0>`) is never rewritten into a process name, and
//! Mermaid escapes `;` and `#` in every label, replies included.

mod common;

use common::{TempDir, kvsim};
use kvsim::sim::EventKey;

const NAMES: [&str; 6] = [
    "\"quo\"",
    "back\\slash",
    "<0.1.0>",
    "x;y#1",
    "a/b(c)>d",
    "caf\u{e9}",
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
fn mermaid_labels_escape_semicolons_and_hashes_everywhere() {
    let text = trace("x;y#1", "mermaid", 2);
    // Comments (`%% #3 t=0 [key]`) are not labels.
    for line in text
        .lines()
        .skip(1)
        .filter(|l| !l.trim_start().starts_with("%%"))
    {
        let label = line.split_once(": ").map_or(line, |(_, label)| label);
        // Remove the entities (`#59;`, `#35;`); nothing special may remain.
        let mut plain = String::new();
        let mut rest = label;
        while let Some(at) = rest.find('#') {
            plain.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            assert!(
                digits > 0 && after[digits..].starts_with(';'),
                "a bare # in {line}"
            );
            rest = &after[digits + 1..];
        }
        plain.push_str(rest);
        assert!(!plain.contains(';'), "a bare ; in {line}");
    }
}
