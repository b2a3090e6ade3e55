//! One interface for every subcommand, through the binary: output that
//! cannot be written is exit 5 with a message (a closed pipe is quiet),
//! usage errors and meaningless flag combinations are exit 2, a repeated
//! flag's last value wins, `--help` shows every default and bound, I/O
//! errors have one form, a byte-order mark is skipped, case-file and
//! schedule mistakes name their field, and when several statuses apply the
//! first of 2, 5, 4, 1, 3 wins.

mod common;

use common::{Run, TempDir, kvsim};
use kvsim::check::CheckConfig;
use kvsim::cli::Exit;
use kvsim::sim::Limits;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn shopping() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shopping.kv")
}

/// The stale lookup of `unlinked` (property 1 breaks at event 5; holds on
/// `fixed`), written down with its registry.
const STALE_LOOKUP: &str = r#"{
  "kvsim_case": 2,
  "registry": "unlinked",
  "clients": [
    { "id": 0, "commands": [{ "id": 0, "line": "CREATE a" }, { "id": 1, "line": "LOOKUP a" }] }
  ],
  "faults": [{ "id": 0, "fault": "kill bucket:a" }],
  "schedule": ["fault0"]
}
"#;

/// The lost restart: `--schedule random --seed 18 --check` on `unlinked`
/// breaks property 4.
const LOST_RESTART: &str = "CREATE a\nSTOP a\nCREATE a\nSETTLE\nLOOKUP a\n";

/// `kvsim <args>` with stdout to `stdout`: the exit code and stderr.
fn kvsim_to(stdout: impl Into<Stdio>, args: &[&OsStr]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("kvsim starts");
    (
        output.status.code(),
        String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    )
}

fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full (Linux)")
}

/// A pipe whose reader is closed before kvsim starts: its every write
/// fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer
}

/// Command lines of every subcommand and output path: plain, traced,
/// checked (holding, and failing with its case saved), replayed, help.
fn every_output(dir: &TempDir) -> Vec<(Vec<String>, i32)> {
    let shopping = shopping().display().to_string();
    let lost = dir.file("lost.kv", LOST_RESTART.as_bytes());
    let lost = lost.display().to_string();
    let case = dir.file("stale.case.json", STALE_LOOKUP.as_bytes());
    let case = case.display().to_string();
    let out = dir.path.join("failures").display().to_string();
    let line = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    vec![
        (line(&["run", &shopping]), 0),
        (line(&["run", &shopping, "--trace", "json"]), 0),
        (
            line(&["run", &shopping, "--trace", "mermaid", "--print-schedule"]),
            0,
        ),
        (line(&["run", &shopping, "--check"]), 0),
        (
            line(&[
                "run",
                &lost,
                "--check",
                "--registry",
                "unlinked",
                "--schedule",
                "random",
                "--seed",
                "18",
                "--out",
                &out,
            ]),
            1,
        ),
        (line(&["replay", &case]), 1),
        (
            line(&["replay", &case, "--registry", "fixed", "--trace", "text"]),
            0,
        ),
        (line(&["run", "--help"]), 0),
        (line(&["--version"]), 0),
        (line(&["explore", "--runs", "20", "--out", &out]), 0),
        (
            line(&[
                "explore",
                "--registry",
                "unlinked",
                "--properties",
                "1",
                "--runs",
                "2000",
                "--out",
                &out,
            ]),
            1,
        ),
    ]
}

#[test]
fn output_that_cannot_be_written_is_exit_5_with_a_message() {
    let dir = TempDir::new("dev-full");
    for (args, _) in every_output(&dir) {
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        let (code, stderr) = kvsim_to(dev_full(), &args);
        assert_eq!(code, Some(5), "{args:?}: {stderr}");
        assert!(
            stderr.ends_with(
                "kvsim: cannot write to stdout: No space left on device (os error 28)\n"
            ),
            "{args:?}: {stderr:?}"
        );
    }
}

/// A descriptor open only for reading: every write fails with EBADF,
/// which Rust's own `Stdout` would swallow.
#[test]
fn a_bad_descriptor_is_exit_5_with_a_message() {
    let dir = TempDir::new("bad-fd");
    for (args, _) in every_output(&dir) {
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        let read_only = std::fs::File::open("/dev/null").expect("/dev/null");
        let (code, stderr) = kvsim_to(read_only, &args);
        assert_eq!(code, Some(5), "{args:?}: {stderr}");
        assert!(
            stderr.ends_with("kvsim: cannot write to stdout: Bad file descriptor (os error 9)\n"),
            "{args:?}: {stderr:?}"
        );
    }
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_runs_own_status() {
    let dir = TempDir::new("closed-pipe");
    for (args, expected) in every_output(&dir) {
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        let (code, stderr) = kvsim_to(closed_pipe(), &args);
        assert_eq!(code, Some(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("cannot write"), "{args:?}: {stderr:?}");
        // The same command line, read to the end, gives the same status.
        let full = kvsim(&args);
        assert_eq!(full.code, Some(expected), "{args:?}: {full:?}");
    }
}

#[test]
fn a_failing_case_that_cannot_be_saved_is_exit_5_over_the_broken_property() {
    let dir = TempDir::new("unsaved");
    let lost = dir.file("lost.kv", LOST_RESTART.as_bytes());
    // A directory cannot be made under a file.
    let out = dir.file("not-a-dir", b"").join("failures");
    let run = kvsim(&[
        OsStr::new("run"),
        lost.as_os_str(),
        OsStr::new("--check"),
        OsStr::new("--registry"),
        OsStr::new("unlinked"),
        OsStr::new("--schedule"),
        OsStr::new("random"),
        OsStr::new("--seed"),
        OsStr::new("18"),
        OsStr::new("--out"),
        out.as_os_str(),
    ]);
    assert_eq!(run.code, Some(5), "{run:?}");
    assert!(
        run.stdout.contains("P4 linearizable broke at event "),
        "the verdict is still printed: {run:?}"
    );
    assert!(!run.stdout.contains("case file: "), "{run:?}");
    assert!(
        run.stderr.starts_with(&format!(
            "kvsim: cannot save the failing case in {}: ",
            out.display()
        )),
        "{run:?}"
    );
}

#[test]
fn bad_input_wins_over_output_that_cannot_be_written() {
    let dir = TempDir::new("bad-and-full");
    let missing = dir.path.join("missing.kv");
    let bad_case = dir.file("bad.case.json", b"{\"kvsim_case\": \"1\"}");
    for args in [
        vec![OsStr::new("run"), missing.as_os_str()],
        vec![OsStr::new("replay"), bad_case.as_os_str()],
        vec![OsStr::new("run"), OsStr::new("--no-such-flag")],
    ] {
        let (code, stderr) = kvsim_to(dev_full(), &args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
    }
}

#[test]
fn io_errors_have_one_form() {
    let dir = TempDir::new("io-errors");
    let missing = dir.path.join("missing");
    for (subcommand, path) in [
        ("run", &missing),
        ("replay", &missing),
        ("run", &dir.path),
        ("replay", &dir.path),
    ] {
        let run = kvsim(&[OsStr::new(subcommand), path.as_os_str()]);
        assert_eq!(run.code, Some(2), "{run:?}");
        assert_eq!(run.stdout, "");
        let prefix = format!("kvsim: cannot read {}: ", path.display());
        assert!(run.stderr.starts_with(&prefix), "{subcommand}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let shopping = shopping().display().to_string();
    for args in [
        &[][..],
        &["nope"],
        &["run"],
        &["replay"],
        &["run", &shopping, "--no-such-flag"],
        &["run", &shopping, "--max-steps", "0"],
        &["run", &shopping, "--max-steps", "-1"],
        &["run", &shopping, "--max-queue", "0"],
        &["run", &shopping, "--depth", "65", "--schedule", "pct"],
        &["run", &shopping, "--schedule", "sometimes"],
        &["run", &shopping, "--registry", "nope"],
        &["run", &shopping, "extra.kv"],
    ] {
        let run = kvsim(args);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert_eq!(run.stdout, "", "{args:?}");
        // With no subcommand at all, clap prints the help (on stderr).
        assert!(
            run.stderr.starts_with("error: ") || args.is_empty(),
            "{args:?}: {run:?}"
        );
    }
    let zero = kvsim(&["run", &shopping, "--max-steps", "0"]);
    assert!(
        zero.stderr
            .starts_with("error: invalid value '0' for '--max-steps <N>': must be at least 1\n"),
        "{zero:?}"
    );
}

/// Flags that mean nothing under the chosen options are refused, not
/// ignored.
#[test]
fn flags_that_mean_nothing_here_are_usage_errors() {
    let shopping = shopping().display().to_string();
    for (args, message) in [
        (
            &["--seed", "1"][..],
            "--seed applies only to --schedule random, pct or pos (the schedule is fifo, which has no seed)",
        ),
        (
            &["--schedule", "fifo", "--seed", "0", "--check"],
            "--seed applies only to --schedule random, pct or pos",
        ),
        (
            &["--schedule", "random", "--depth", "2"],
            "--depth applies only to --schedule pct (the schedule is random)",
        ),
        (
            &["--depth", "2"],
            "--depth applies only to --schedule pct (the schedule is fifo)",
        ),
        (&["--out", "x"], "--check"),
        (&["--linearizability-bound", "5"], "--check"),
    ] {
        let mut line = vec!["run", shopping.as_str()];
        line.extend_from_slice(args);
        let run = kvsim(&line);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert_eq!(run.stdout, "", "{args:?}: nothing runs");
        assert!(run.stderr.starts_with("error: "), "{args:?}: {run:?}");
        assert!(run.stderr.contains(message), "{args:?}: {run:?}");
    }
    // The same flags where they mean something are accepted.
    for args in [
        &["--schedule", "random", "--seed", "1"][..],
        &["--schedule", "pct", "--depth", "2", "--seed", "1"],
        &["--check", "--linearizability-bound", "1000"],
    ] {
        let mut line = vec!["run", shopping.as_str()];
        line.extend_from_slice(args);
        assert_eq!(kvsim(&line).code, Some(0), "{args:?}");
    }
}

/// The last of a repeated flag wins, in every subcommand: appending
/// `--registry fixed` to a report's replay command checks the fix.
#[test]
fn the_last_of_a_repeated_flag_wins_in_every_subcommand() {
    let dir = TempDir::new("repeated");
    let case = dir.file("stale.case.json", STALE_LOOKUP.as_bytes());
    let case = case.to_str().unwrap();
    let report = kvsim(&["replay", case, "--registry", "unlinked"]);
    assert_eq!(report.code, Some(1), "{report:?}");
    let fixed = kvsim(&[
        "replay",
        case,
        "--registry",
        "unlinked",
        "--registry",
        "fixed",
    ]);
    assert_eq!(fixed.code, Some(0), "{fixed:?}");
    assert!(
        fixed
            .stdout
            .ends_with("all properties hold on registry fixed\n"),
        "{fixed:?}"
    );
    let back = kvsim(&[
        "replay",
        case,
        "--registry",
        "fixed",
        "--registry",
        "unlinked",
    ]);
    assert_eq!(back.stdout, report.stdout);
    let steps = kvsim(&["replay", case, "--max-steps", "1", "--max-steps", "2"]);
    assert_eq!(steps.code, Some(3), "{steps:?}");
    assert!(steps.stdout.contains("LIMIT max-steps 2\n"), "{steps:?}");

    let shopping = shopping().display().to_string();
    let last = kvsim(&[
        "run",
        &shopping,
        "--max-steps",
        "3",
        "--max-steps",
        "5",
        "--trace",
        "mermaid",
        "--trace",
        "json",
        "--schedule",
        "pct",
        "--schedule",
        "random",
        "--seed",
        "4",
        "--seed",
        "9",
    ]);
    assert_eq!(last.code, Some(3), "{last:?}");
    let once = kvsim(&[
        "run",
        &shopping,
        "--max-steps",
        "5",
        "--trace",
        "json",
        "--schedule",
        "random",
        "--seed",
        "9",
    ]);
    assert_eq!(last.stdout, once.stdout);
    assert!(last.stdout.contains("LIMIT max-steps 5\n"), "{last:?}");
    let checked = kvsim(&["run", &shopping, "--check", "--check", "--print-schedule"]);
    assert_eq!(checked.code, Some(0), "{checked:?}");
    let registry = kvsim(&[
        "run",
        &shopping,
        "--registry",
        "naive",
        "--registry",
        "fixed",
    ]);
    assert_eq!(registry.code, Some(0), "{registry:?}");
}

#[test]
fn help_shows_every_default_and_bound() {
    let run = kvsim(&["run", "--help"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let replay = kvsim(&["replay", "--help"]);
    assert_eq!(replay.code, Some(0), "{replay:?}");
    let squash = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let run_help = squash(&run.stdout);
    let replay_help = squash(&replay.stdout);
    for expected in [
        "--registry <STAGE> Which registry plays the script: fixed, naive, monitored, no-catch-all or unlinked [default: fixed]",
        "[default: fifo]",
        "--seed <N> Seed of the random, pct and pos schedules (0 to 2^64 - 1) [default: 0]. An error with fifo",
        "--depth <D> PCT's bug depth d, d - 1 priority change points (1 to 64) [default: 3]. An error with any schedule but pct",
        "`LIMIT max-steps N` (at least 1) [default: 100000]",
        "`LIMIT queue-len N` (at least 1) [default: 100000]",
        "exit 3 (at least 1). Only with --check [default: 200000]",
        "Only with --check [default: kvsim-failures]",
    ] {
        assert!(
            run_help.contains(expected),
            "run: {expected:?} in\n{}",
            run.stdout
        );
    }
    for expected in [
        "[default: the case file's `registry`, else fixed]",
        "`LIMIT max-steps N` (at least 1) [default: 100000]",
        "`LIMIT queue-len N` (at least 1) [default: 100000]",
        "exit 3 (at least 1) [default: 200000]",
        "--trace <FORMAT> After the verdict, print `--- trace` and the trace Possible values: - text:",
    ] {
        assert!(
            replay_help.contains(expected),
            "replay: {expected:?} in\n{}",
            replay.stdout
        );
    }
    for help in [&run.stdout, &replay.stdout] {
        for exit in Exit::ALL {
            let line = format!("\n  {:<4} ", exit.code());
            assert!(help.contains(&line), "{exit:?} in\n{help}");
        }
    }
}

/// One default step bound: `kvsim run`, `kvsim replay` and the library.
#[test]
fn one_max_steps_default_everywhere() {
    assert_eq!(Limits::STEPS_MAX_DEFAULT, 100_000);
    assert_eq!(CheckConfig::default().limits, Limits::default());
    assert_eq!(Limits::default().steps_max, Limits::STEPS_MAX_DEFAULT);
    assert_eq!(
        kvsim::check::ReplayOptions::default().check.limits,
        Limits::default()
    );
}

/// `--max-queue` bounds the signals queued on one pair, in `run` and
/// `replay` alike.
#[test]
fn max_queue_is_settable() {
    let dir = TempDir::new("max-queue");
    let script = dir.file("sends.kv", "SEND registry x\n".repeat(5).as_bytes());
    let script = script.to_str().unwrap();
    let cut = kvsim(&["run", script, "--registry", "naive", "--max-queue", "3"]);
    assert_eq!(cut.code, Some(3), "{cut:?}");
    assert!(cut.stdout.ends_with("LIMIT queue-len 3\n"), "{cut:?}");
    let whole = kvsim(&["run", script, "--registry", "naive", "--max-queue", "5"]);
    assert_eq!(whole.code, Some(0), "{whole:?}");
    let case = dir.file(
        "sends.case.json",
        br#"{"kvsim_case": 2, "registry": "naive", "clients": [{"id": 0, "commands": [
            {"id": 0, "line": "SEND registry x"}, {"id": 1, "line": "SEND registry x"},
            {"id": 2, "line": "SEND registry x"}]}]}"#,
    );
    let case = case.to_str().unwrap();
    let replayed = kvsim(&["replay", case, "--max-queue", "2"]);
    assert_eq!(replayed.code, Some(3), "{replayed:?}");
    assert!(
        replayed.stdout.contains("LIMIT queue-len 2\n"),
        "{replayed:?}"
    );
    assert_eq!(kvsim(&["replay", case]).code, Some(0));
}

#[test]
fn a_byte_order_mark_is_skipped_in_scripts_and_case_files() {
    let dir = TempDir::new("bom");
    let plain = std::fs::read(shopping()).unwrap();
    let mut marked = "\u{feff}".as_bytes().to_vec();
    marked.extend_from_slice(&plain);
    let marked = dir.file("shopping.kv", &marked);
    let with = kvsim(&[OsStr::new("run"), marked.as_os_str()]);
    let without = kvsim(&[OsStr::new("run"), shopping().as_os_str()]);
    assert_eq!(with.code, Some(0), "{with:?}");
    assert_eq!(with.stdout, without.stdout);
    assert!(with.stdout.starts_with("CREATE shopping\nOK\n"), "{with:?}");

    let case = dir.file(
        "stale.case.json",
        format!("\u{feff}{STALE_LOOKUP}").as_bytes(),
    );
    let replayed = kvsim(&[OsStr::new("replay"), case.as_os_str()]);
    assert_eq!(replayed.code, Some(1), "{replayed:?}");
    let only_mark = dir.file("empty.case.json", "\u{feff}\n".as_bytes());
    let empty = kvsim(&[OsStr::new("replay"), only_mark.as_os_str()]);
    assert_eq!(empty.code, Some(2));
    assert!(
        empty
            .stderr
            .ends_with(": not a case file: the file is empty\n"),
        "{empty:?}"
    );
}

fn replay_text(dir: &TempDir, name: &str, text: &str) -> Run {
    let path = dir.file(name, text.as_bytes());
    kvsim(&[OsStr::new("replay"), path.as_os_str()])
}

#[test]
fn case_file_errors_name_the_field_and_what_was_expected() {
    let dir = TempDir::new("case-fields");
    for (text, message) in [
        (
            r#"{"kvsim_case": "1", "clients": []}"#,
            "field kvsim_case: expected a number, the case file format version (this kvsim reads 2), found the string \"1\"",
        ),
        (
            r#"{"kvsim_case": 2, "clients": [{"id": "0", "commands": []}]}"#,
            "field clients[0].id: expected an integer in 0..=4294967295 (a stable id), found the string \"0\"",
        ),
        (
            r#"{"kvsim_case": 2, "clients": [{"id": 0, "commands": [{"id": 0, "line": 5}]}]}"#,
            "field clients[0].commands[0].line: expected a string, one command line (e.g. \"CREATE a\"), found the number 5",
        ),
        (
            r#"{"kvsim_case": 2}"#,
            "field clients is missing: expected an array of clients",
        ),
        (
            r#"{"kvsim_case": 2, "clients": [], "faults": [{"id": 0}]}"#,
            "field faults[0].fault is missing: expected a string, one fault",
        ),
        (
            r#"{"kvsim_case": 2, "clients": [], "registry": 3}"#,
            "field registry: expected a string (the registry stage, e.g. \"unlinked\") or null, found the number 3",
        ),
    ] {
        let run = replay_text(&dir, "bad.case.json", text);
        assert_eq!(run.code, Some(2), "{text}: {run:?}");
        assert_eq!(run.stdout, "", "{text}");
        assert!(run.stderr.contains(message), "{text}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    }
}

/// A schedule entry whose root names a client, command or fault the case
/// does not have is bad input naming the entry; an override with a path
/// that never matches runs and is reported.
#[test]
fn schedule_roots_the_case_does_not_have_are_bad_input() {
    let dir = TempDir::new("roots");
    let case = |schedule: &str| {
        STALE_LOOKUP.replace(
            r#""schedule": ["fault0"]"#,
            &format!("\"schedule\": {schedule}"),
        )
    };
    for (schedule, message) in [
        (
            r#"["fault7"]"#,
            "field schedule[0]: \"fault7\" names fault 7, which the case does not have (its faults: 0)",
        ),
        (
            r#"["fault0", "client9.cmd3"]"#,
            "field schedule[1]: \"client9.cmd3\" names client 9, which the case does not have (its clients: 0)",
        ),
        (
            r#"["client0.cmd5/0"]"#,
            "field schedule[0]: \"client0.cmd5/0\" names command 5 of client 0, which has no such command (its commands: 0, 1)",
        ),
    ] {
        let run = replay_text(&dir, "roots.case.json", &case(schedule));
        assert_eq!(run.code, Some(2), "{schedule}: {run:?}");
        assert_eq!(run.stdout, "", "{schedule}");
        assert!(run.stderr.contains(message), "{schedule}: {run:?}");
    }
    let run = replay_text(
        &dir,
        "paths.case.json",
        &case(r#"["fault0", "client0.cmd0/5/7/9"]"#),
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout
            .ends_with("override 1 never ran: client0.cmd0/5/7/9\n"),
        "{run:?}"
    );
}

/// What follows the dialogue, in the order the README gives: the verdict
/// (or `LIMIT`), unfired faults and unused overrides, then `--- trace`.
#[test]
fn output_order_is_as_documented() {
    let dir = TempDir::new("order");
    let case = STALE_LOOKUP
        .replace(
            r#""faults": [{ "id": 0, "fault": "kill bucket:a" }]"#,
            r#""faults": [{ "id": 0, "fault": "kill bucket:a" }, { "id": 1, "fault": "kill bucket:zz" }]"#,
        )
        .replace(r#"["fault0"]"#, r#"["fault0", "client0.cmd0/9"]"#);
    let path = dir.file("order.case.json", case.as_bytes());
    let run = kvsim(&[
        OsStr::new("replay"),
        path.as_os_str(),
        OsStr::new("--max-steps"),
        OsStr::new("3"),
        OsStr::new("--trace"),
        OsStr::new("text"),
    ]);
    assert_eq!(run.code, Some(3), "{run:?}");
    let tail: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|line| !line.starts_with("LIMIT"))
        .take(6)
        .collect();
    assert_eq!(
        tail,
        [
            "LIMIT max-steps 3",
            "run cut at event 3 on registry unlinked: properties were checked only up to the cut",
            "fault 0 never fired",
            "fault 1 never fired",
            "override 1 never ran: client0.cmd0/9",
            "--- trace",
        ],
        "{}",
        run.stdout
    );
    let script = dir.file("lost.kv", LOST_RESTART.as_bytes());
    let run = kvsim(&[
        OsStr::new("run"),
        script.as_os_str(),
        OsStr::new("--max-steps"),
        OsStr::new("4"),
        OsStr::new("--trace"),
        OsStr::new("text"),
        OsStr::new("--print-schedule"),
        OsStr::new("--schedule"),
        OsStr::new("random"),
    ]);
    assert_eq!(run.code, Some(3), "{run:?}");
    let limit = run.stdout.find("LIMIT max-steps 4\n").expect("LIMIT");
    let trace = run.stdout.find("--- trace\n").expect("trace");
    let schedule = run.stdout.find("--- schedule\n").expect("schedule");
    assert!(limit < trace && trace < schedule, "{}", run.stdout);
}

#[test]
fn usage_help_is_printed_with_exit_0_and_usage_errors_with_2() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["replay", "-h"],
        &["help", "run"],
    ] {
        let run = kvsim(args);
        assert_eq!(run.code, Some(0), "{args:?}: {run:?}");
        assert!(run.stdout.contains("Usage: kvsim"), "{args:?}: {run:?}");
    }
    let run = kvsim(&["--version"]);
    assert_eq!(run.code, Some(0));
    assert_eq!(run.stdout, format!("kvsim {}\n", env!("CARGO_PKG_VERSION")));
}
