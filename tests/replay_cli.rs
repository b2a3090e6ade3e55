//! `kvsim replay` end to end, through the binary: a known failing case on
//! the stage it breaks and on `fixed`, the stage taken from the flag, the
//! case file or the default, every kind of bad case file, bad flags, trace
//! output and the step limit, each with its exit code (0 every property
//! holds, 1 one breaks, 2 bad input, 3 a limit cut the run or property 4
//! undecided). Case files are written by hand to a fresh directory under
//! the system temp dir.

mod common;

use common::{Run, TempDir, kvsim};
use std::path::Path;

/// `kvsim replay FILE <flags>`.
fn replay(file: &Path, flags: &[&str]) -> Run {
    let mut args: Vec<&std::ffi::OsStr> = vec![std::ffi::OsStr::new("replay"), file.as_os_str()];
    args.extend(flags.iter().map(std::ffi::OsStr::new));
    kvsim(&args)
}

/// The stale lookup of the `unlinked` stage, by hand: one client creates
/// `a` and looks it up, and the kill of `bucket:a` is scheduled first
/// among the enabled events once it can be, so it lands after the bucket
/// starts and before the lookup is handled.
const STALE_LOOKUP: &str = r#"{
  "kvsim_case": 2,
  "clients": [
    {
      "id": 0,
      "commands": [
        { "id": 0, "line": "CREATE a" },
        { "id": 1, "line": "LOOKUP a" }
      ]
    }
  ],
  "faults": [{ "id": 0, "fault": "kill bucket:a" }],
  "schedule": ["fault0"]
}
"#;

/// `STALE_LOOKUP` with a `"registry"` field naming `stage`.
fn stale_lookup_on(stage: &str) -> String {
    STALE_LOOKUP.replacen(
        "\"kvsim_case\": 2,",
        &format!("\"kvsim_case\": 2,\n  \"registry\": \"{stage}\","),
        1,
    )
}

const STALE_LOOKUP_FAILS: &str = "\
CREATE a
OK

P1 lookup-is-alive broke at event 5 on registry unlinked: the registry's lookup reply names bucket:a#0, dead at this step
";

const STALE_LOOKUP_HOLDS: &str = "\
CREATE a
OK

LOOKUP a
NOT FOUND

all properties hold on registry fixed
";

#[test]
fn the_stale_lookup_breaks_p1_on_unlinked() {
    let dir = TempDir::new("unlinked");
    let case = dir.file("stale.case.json", STALE_LOOKUP.as_bytes());
    let run = replay(&case, &["--registry", "unlinked"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("P1 lookup-is-alive"), "{run:?}");
    assert_eq!(run.stdout, STALE_LOOKUP_FAILS);
    assert_eq!(run.stderr, "");
}

#[test]
fn the_stale_lookup_holds_on_fixed() {
    let dir = TempDir::new("fixed");
    let case = dir.file("stale.case.json", STALE_LOOKUP.as_bytes());
    let run = replay(&case, &["--registry", "fixed"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, STALE_LOOKUP_HOLDS);
    assert_eq!(run.stderr, "");
}

#[test]
fn without_a_flag_the_case_files_registry_runs() {
    let dir = TempDir::new("from-file");
    let case = dir.file("stale.case.json", stale_lookup_on("unlinked").as_bytes());
    let run = replay(&case, &[]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stdout, STALE_LOOKUP_FAILS);
    // The flag wins over the file: check a fix against the same case.
    let run = replay(&case, &["--registry", "fixed"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, STALE_LOOKUP_HOLDS);
}

#[test]
fn the_last_registry_flag_wins() {
    let dir = TempDir::new("last-flag");
    let case = dir.file("stale.case.json", STALE_LOOKUP.as_bytes());
    let run = replay(&case, &["--registry", "unlinked", "--registry", "fixed"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, STALE_LOOKUP_HOLDS);
}

#[test]
fn without_a_flag_or_a_registry_field_fixed_runs() {
    let dir = TempDir::new("default");
    let case = dir.file("stale.case.json", STALE_LOOKUP.as_bytes());
    let run = replay(&case, &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, STALE_LOOKUP_HOLDS);
}

#[test]
fn an_unknown_registry_in_the_file_is_bad_input_unless_overridden() {
    let dir = TempDir::new("bad-registry");
    let case = dir.file("r.case.json", stale_lookup_on("mine").as_bytes());
    let run = replay(&case, &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "{}: registry: unknown registry stage \"mine\" (expected one of: naive, monitored, no-catch-all, unlinked, fixed) (pass --registry to choose one)\n",
            case.display()
        )
    );
    let run = replay(&case, &["--registry", "unlinked"]);
    assert_eq!(run.code, Some(1), "{run:?}");
}

/// Case-file text whose one fault is `fault` (a JSON string's contents).
fn with_fault(fault: &str) -> String {
    STALE_LOOKUP.replace("kill bucket:a", fault)
}

#[test]
fn every_corrupt_case_file_is_bad_input_naming_the_file() {
    let dir = TempDir::new("corrupt");
    // (file name, contents, the start of stderr after "<path>").
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not-json.case.json",
            b"CREATE a\n".to_vec(),
            ":1:1: not a case file: ",
        ),
        (
            "version.case.json",
            STALE_LOOKUP.replace("\"kvsim_case\": 2", "\"kvsim_case\": 3").into_bytes(),
            ": case file version 3 is not supported (this kvsim reads version 2)\n",
        ),
        (
            "old-version.case.json",
            STALE_LOOKUP.replace("\"kvsim_case\": 2", "\"kvsim_case\": 1").into_bytes(),
            ": case file version 1 is from an older kvsim",
        ),
        (
            "string-version.case.json",
            STALE_LOOKUP.replace("\"kvsim_case\": 2", "\"kvsim_case\": \"2\"").into_bytes(),
            ": field kvsim_case: expected a number, the case file format version (this kvsim reads 2), found the string \"2\"\n",
        ),
        (
            "no-version.case.json",
            STALE_LOOKUP.replace("\"kvsim_case\": 2,", "").into_bytes(),
            ": not a case file: field kvsim_case is missing: expected a number, the case file format version (this kvsim reads 2)\n",
        ),
        (
            "command.case.json",
            STALE_LOOKUP.replace("LOOKUP a", "CRASH").into_bytes(),
            ": client 0, command 1: field line: CRASH needs a target\n",
        ),
        (
            "two-lines.case.json",
            STALE_LOOKUP
                .replace("LOOKUP a", "LOOKUP a\\nLOOKUP b")
                .into_bytes(),
            ": client 0, command 1: field line: a command is one line\n",
        ),
        (
            "fault.case.json",
            with_fault("kill bucket").into_bytes(),
            ": fault 0: field fault: ",
        ),
        (
            "schedule.case.json",
            STALE_LOOKUP
                .replace("[\"fault0\"]", "[\"fault0\", \"client0\"]")
                .into_bytes(),
            ": field schedule[1]: \"client0\" is not an event key: at character 8: expected \".cmd\" after the client id, found the end\n",
        ),
        (
            "command-ids.case.json",
            STALE_LOOKUP
                .replace("{ \"id\": 1, \"line\"", "{ \"id\": 0, \"line\"")
                .into_bytes(),
            ": command id 0 is used twice in client 0\n",
        ),
        (
            "fault-ids.case.json",
            STALE_LOOKUP
                .replace(
                    "[{ \"id\": 0, \"fault\": \"kill bucket:a\" }]",
                    "[{ \"id\": 0, \"fault\": \"kill bucket:a\" }, { \"id\": 0, \"fault\": \"stray registry\" }]",
                )
                .into_bytes(),
            ": fault id 0 is used twice\n",
        ),
        (
            "unknown-field.case.json",
            STALE_LOOKUP
                .replace("\"kvsim_case\": 2,", "\"kvsim_case\": 2, \"seed\": 7,")
                .into_bytes(),
            ": field seed is not a field of a case file here (expected one of: kvsim_case, registry, property, clients, faults, schedule, meta)\n",
        ),
        (
            "empty.case.json",
            Vec::new(),
            ": not a case file: the file is empty\n",
        ),
        (
            "blank.case.json",
            b" \n\t\n".to_vec(),
            ": not a case file: the file is empty\n",
        ),
        (
            "latin1.case.json",
            b"{\"kvsim_case\": 2, \"clients\": [], \"x\": \"caf\xe9\"}".to_vec(),
            ": not a case file: not UTF-8 (bad byte at offset 42)\n",
        ),
        (
            "truncated.case.json",
            STALE_LOOKUP.as_bytes()[..60].to_vec(),
            ":",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.file(name, &bytes);
        let run = replay(&path, &["--registry", "unlinked"]);
        assert_eq!(run.code, Some(2), "{name}: {run:?}");
        assert_eq!(run.stdout, "", "{name}: nothing runs: {run:?}");
        let rest = run
            .stderr
            .strip_prefix(&path.display().to_string())
            .unwrap_or_else(|| panic!("{name}: stderr names the file first: {run:?}"));
        assert!(rest.starts_with(expected), "{name}: {rest:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{name}: one line: {run:?}");
    }
}

#[test]
fn a_directory_or_a_missing_file_is_bad_input_naming_it() {
    let dir = TempDir::new("unreadable");
    for path in [dir.path.clone(), dir.path.join("missing.case.json")] {
        let run = replay(&path, &[]);
        assert_eq!(run.code, Some(2), "{run:?}");
        assert_eq!(run.stdout, "");
        assert!(
            run.stderr
                .starts_with(&format!("kvsim: cannot read {}: ", path.display())),
            "{run:?}"
        );
    }
}

#[test]
fn bad_flags_are_bad_input() {
    let dir = TempDir::new("flags");
    let case = dir.file("stale.case.json", STALE_LOOKUP.as_bytes());
    for flags in [
        &["--registry", "nope"][..],
        &["--trace", "svg"],
        &["--max-steps", "0"],
        &["--max-steps", "many"],
        &["--seed", "1"],
    ] {
        let run = replay(&case, flags);
        assert_eq!(run.code, Some(2), "{flags:?}: {run:?}");
        assert_eq!(run.stdout, "", "{flags:?}");
        assert!(run.stderr.starts_with("error: "), "{flags:?}: {run:?}");
    }
    assert_eq!(kvsim(&["replay"]).code, Some(2), "FILE is required");
}

#[test]
fn help_documents_the_exit_codes() {
    let run = kvsim(&["replay", "--help"]);
    assert_eq!(run.code, Some(0));
    let help = run.stdout;
    for line in [
        "Usage: kvsim replay [OPTIONS] <FILE>",
        "Exit status (when several apply, the first of 130, 2, 5, 4, 1, 3 wins):",
        "  0    every property held (run without --check: the script ran)",
        "  1    a property broke",
        "  2    bad usage or input: a bad flag, an unreadable or unparsable",
        "  3    no verdict: a limit was hit (LIMIT <name> <value>), or property 4",
        "  4    nondeterminism detected",
        "  5    output could not be written (a closed pipe is not an error)",
        "  130  interrupted: Ctrl-C stopped kvsim explore, which printed the report",
    ] {
        assert!(help.contains(line), "{line:?} in:\n{help}");
    }
}

#[test]
fn every_trace_format_follows_the_verdict() {
    let dir = TempDir::new("trace");
    let case = dir.file("stale.case.json", STALE_LOOKUP.as_bytes());
    for (format, first_line) in [
        ("text", "    harness spawn registry"),
        ("mermaid", "sequenceDiagram"),
        (
            "json",
            "{\"kind\":\"spawn\",\"parent\":\"harness\",\"child\":\"registry\",\"linked\":false}",
        ),
    ] {
        let run = replay(&case, &["--registry", "unlinked", "--trace", format]);
        assert_eq!(run.code, Some(1), "{format}: {run:?}");
        let (verdict, trace) = run
            .stdout
            .split_once("--- trace\n")
            .unwrap_or_else(|| panic!("{format}: prints --- trace: {run:?}"));
        assert_eq!(verdict, STALE_LOOKUP_FAILS, "{format}");
        assert_eq!(trace.lines().next(), Some(first_line), "{format}: {trace}");
    }
    let run = replay(&case, &["--registry", "unlinked", "--trace", "text"]);
    assert!(
        run.stdout.ends_with(
            "#5 t=0 [client0.cmd1/1] client0 -> registry: call {:lookup, \"a\"} (tag 1)\n    registry -> client0: reply {:ok, bucket:a#0} (tag 1)\n"
        ),
        "the trace stops at the event that broke P1: {run:?}"
    );
    let run = replay(&case, &["--registry", "fixed", "--trace", "text"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout
            .starts_with(&format!("{STALE_LOOKUP_HOLDS}--- trace\n")),
        "{run:?}"
    );
}

#[test]
fn a_step_limit_is_reported_with_exit_3() {
    let dir = TempDir::new("limit");
    let case = dir.file("stale.case.json", STALE_LOOKUP.as_bytes());
    for stage in ["unlinked", "fixed"] {
        let run = replay(&case, &["--registry", stage, "--max-steps", "2"]);
        assert_eq!(run.code, Some(3), "{stage}: {run:?}");
        assert_eq!(
            run.stdout,
            format!(
                "CREATE a\nOK\n\nLIMIT max-steps 2\nrun cut at event 2 on registry {stage}: properties were checked only up to the cut\nfault 0 never fired\noverride 0 never ran: fault0\n"
            ),
            "{stage}: the run stopped before the kill could fire"
        );
        assert_eq!(run.stderr, "");
    }
    // Five steps reach the stale lookup on unlinked: the failure, not the limit.
    let run = replay(&case, &["--registry", "unlinked", "--max-steps", "5"]);
    assert_eq!(run.code, Some(1), "{run:?}");
}

#[test]
fn an_override_whose_event_never_ran_is_named() {
    let dir = TempDir::new("unused-override");
    let text = stale_lookup_on("unlinked").replace(
        "\"schedule\": [\"fault0\"]",
        "\"schedule\": [\"fault0\", \"client0.cmd1/7\", \"client0.cmd0/0/DOWN(bucket:zz>registry)\"]",
    );
    let file = dir.file("typo.case.json", text.as_bytes());
    let run = replay(&file, &[]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout.ends_with(
            "override 1 never ran: client0.cmd1/7\noverride 2 never ran: client0.cmd0/0/DOWN(bucket:zz>registry)\n"
        ),
        "{}",
        run.stdout
    );
    // The plain case names none.
    let plain = replay(
        &dir.file("plain.case.json", stale_lookup_on("unlinked").as_bytes()),
        &[],
    );
    assert!(!plain.stdout.contains("never ran"), "{}", plain.stdout);
}

/// `--properties` picks what a replay checks, as it picks what explore
/// and verify check: the stale lookup breaks P1 only, so a replay of P5
/// alone holds and says which properties held.
#[test]
fn properties_choose_what_a_replay_checks() {
    let dir = TempDir::new("replay-properties");
    let file = dir.path.join("stale.case.json");
    std::fs::write(&file, stale_lookup_on("unlinked")).expect("write");
    let all = replay(&file, &[]);
    assert_eq!(all.code, Some(1), "{}", all.stdout);
    assert!(
        all.stdout.contains("P1 lookup-is-alive broke"),
        "{}",
        all.stdout
    );
    let five = replay(&file, &["--properties", "5"]);
    assert_eq!(five.code, Some(0), "{}", five.stdout);
    assert!(
        five.stdout
            .ends_with("properties 5 hold on registry unlinked\n"),
        "{}",
        five.stdout
    );
    // The last flag wins, as for every flag.
    let last = replay(
        &file,
        &["--properties", "5", "--properties", "lookup-is-alive"],
    );
    assert_eq!(last.code, Some(1), "{}", last.stdout);
    let bad = replay(&file, &["--properties", "7"]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("unknown property \"7\""),
        "{}",
        bad.stderr
    );
}

/// A failure found checking some properties replays as reported: explore
/// with property 4 alone on `unlinked` finds a case that, checked with all
/// six, breaks property 1 first, so its replay line carries `--properties
/// 4`, and running that line reports property 4 again.
#[test]
fn a_reports_replay_line_checks_the_properties_its_search_checked() {
    let dir = TempDir::new("replay-properties-explore");
    let out = dir.path.join("failures");
    let found = kvsim(&[
        "explore".as_ref(),
        "--registry".as_ref(),
        "unlinked".as_ref(),
        "--properties".as_ref(),
        "4".as_ref(),
        "--runs".as_ref(),
        "3000".as_ref(),
        "--threads".as_ref(),
        "1".as_ref(),
        "--quiet".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(found.code, Some(1), "{}", found.stdout);
    let line = found
        .stdout
        .lines()
        .find(|line| line.starts_with("kvsim replay "))
        .expect("a replay line");
    assert!(
        line.ends_with(" --registry unlinked --properties 4"),
        "{line}"
    );
    let file = std::fs::read_dir(&out)
        .expect("the failures dir")
        .map(|entry| entry.expect("an entry").path())
        .next()
        .expect("a saved case");
    let replayed = replay(&file, &["--properties", "4"]);
    assert_eq!(replayed.code, Some(1), "{}", replayed.stdout);
    assert!(
        replayed.stdout.contains("P4 linearizable broke"),
        "{}",
        replayed.stdout
    );
    // Checked with all six, the same case breaks property 1 first: what
    // the flag in the replay line is for.
    let all = replay(&file, &[]);
    assert!(
        all.stdout.contains("P1 lookup-is-alive broke"),
        "{}",
        all.stdout
    );
}
