//! `kvsim run` end to end, through the binary: the answer of every command
//! and directive (docs/script-language.md), several clients, script errors,
//! flag errors, limits, schedules and trace output, with their exit codes.
//! Scripts are written to a fresh directory under the system temp dir.

mod common;

use common::{Run, TempDir, kvsim};
use std::path::{Path, PathBuf};

/// `kvsim run FILE <flags>`.
fn run_file(file: &Path, flags: &[&str]) -> Run {
    let file = file.to_str().expect("UTF-8 temp path");
    let mut args = vec!["run", file];
    args.extend_from_slice(flags);
    kvsim(&args)
}

/// Writes `bytes` as a script in a fresh temp dir and runs it.
fn run_bytes(test: &str, bytes: &[u8], flags: &[&str]) -> (Run, PathBuf) {
    let dir = TempDir::new(test);
    let path = dir.file("script.kv", bytes);
    let run = run_file(&path, flags);
    (run, path)
}

/// Runs `text`; the run must succeed (exit 0, nothing on stderr but PCT's
/// one line of parameters under `--schedule pct`). Returns stdout.
fn dialogue(test: &str, text: &str, flags: &[&str]) -> String {
    let (run, _) = run_bytes(test, text.as_bytes(), flags);
    assert_eq!(run.code, Some(0), "{flags:?} on\n{text}\n{run:?}");
    let pct = flags.windows(2).any(|pair| pair == ["--schedule", "pct"]);
    if pct {
        assert!(
            run.stderr.starts_with("pct: n=") && run.stderr.lines().count() == 1,
            "{flags:?} on\n{text}\n{}",
            run.stderr
        );
    } else {
        assert_eq!(run.stderr, "", "{flags:?} on\n{text}");
    }
    run.stdout
}

/// `--schedule S --seed N`, without the seed under `fifo` (which has
/// none, and refuses one); `None` for a `fifo` seed after the first, so
/// that a loop over seeds runs `fifo` once.
fn schedule_flags<'a>(schedule: &'a str, seed: &'a str) -> Option<Vec<&'a str>> {
    match (schedule, seed == SEEDS[0]) {
        ("fifo", true) => Some(vec!["--schedule", "fifo"]),
        ("fifo", false) => None,
        _ => Some(vec!["--schedule", schedule, "--seed", seed]),
    }
}

/// A command's echo and its response lines.
type Exchange<'a> = (&'a str, &'a [&'a str]);

/// The expected dialogue: each command, its response lines, a blank line.
fn expected(exchanges: &[Exchange]) -> String {
    let mut out = String::new();
    for (command, response) in exchanges {
        out.push_str(command);
        out.push('\n');
        for line in *response {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

const OK: &[&str] = &["OK"];
const NOT_FOUND: &[&str] = &["NOT FOUND"];
const NOPROC: &[&str] = &["ERROR noproc"];
const UNKNOWN: &[&str] = &["UNKNOWN COMMAND"];

/// Asserts a script error: exit 2, nothing on stdout, and exactly
/// `FILE:LINE: message` on stderr.
fn assert_script_error(test: &str, bytes: &[u8], line: usize, message: &str) {
    let (run, path) = run_bytes(test, bytes, &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stdout, "", "nothing may run before a script error");
    assert_eq!(
        run.stderr,
        format!("{}:{line}: {message}\n", path.display())
    );
}

// ---- a normal run ---------------------------------------------------------

#[test]
fn the_chapter_dialogue_runs_and_exits_0() {
    let text = "CREATE shopping\nPUT shopping milk 1\nGET shopping milk\n";
    assert_eq!(
        dialogue("chapter", text, &[]),
        "CREATE shopping\nOK\n\nPUT shopping milk 1\nOK\n\nGET shopping milk\n1\nOK\n\n"
    );
}

#[test]
fn an_empty_script_prints_nothing_and_exits_0() {
    assert_eq!(dialogue("empty", "# nothing to do\n\n", &[]), "");
}

// ---- commands -------------------------------------------------------------

#[test]
fn every_command_answers_as_documented() {
    let text = "\
CREATE b
PUT b k v
GET b k
GET b absent
LOOKUP b
DELETE b k
GET b k
DELETE b k
PUT b k w
GET b k
LOOKUP nope
PUT nope k v
GET nope k
DELETE nope k
";
    let want = expected(&[
        ("CREATE b", OK),
        ("PUT b k v", OK),
        ("GET b k", &["v", "OK"]),
        ("GET b absent", &["", "OK"]),
        ("LOOKUP b", OK),
        ("DELETE b k", OK),
        ("GET b k", &["", "OK"]),
        ("DELETE b k", OK),
        ("PUT b k w", OK),
        ("GET b k", &["w", "OK"]),
        ("LOOKUP nope", NOT_FOUND),
        ("PUT nope k v", NOT_FOUND),
        ("GET nope k", NOT_FOUND),
        ("DELETE nope k", NOT_FOUND),
    ]);
    for stage in ["naive", "monitored", "no-catch-all", "unlinked", "fixed"] {
        assert_eq!(
            dialogue("commands", text, &["--registry", stage]),
            want,
            "{stage}"
        );
    }
}

#[test]
fn words_are_split_on_spaces_and_tabs_and_echoed_with_one_space() {
    let text = "  CREATE\t b \r\nPUT b\t\tk   v\nGET   b k\t\n";
    assert_eq!(
        dialogue("words", text, &[]),
        expected(&[
            ("CREATE b", OK),
            ("PUT b k v", OK),
            ("GET b k", &["v", "OK"])
        ])
    );
}

#[test]
fn unknown_lowercase_and_wrong_arity_commands_are_unknown() {
    let lines = [
        "HELLO",
        "create b",
        "Create b",
        "get b k",
        "settle",
        "crash b",
        "CREATE",
        "CREATE a b",
        "PUT b k",
        "PUT b k v w",
        "GET b",
        "GET b k x",
        "DELETE b",
        "DELETE b k x",
        "LOOKUP",
        "LOOKUP a b",
    ];
    let text = lines.join("\n");
    let want: Vec<Exchange> = lines.iter().map(|l| (*l, UNKNOWN)).collect();
    assert_eq!(dialogue("unknown", &text, &[]), expected(&want));
}

#[test]
fn an_unknown_command_sends_no_message() {
    let (run, _) = run_bytes(
        "unknown_no_send",
        b"create b\nHELLO world\n",
        &["--trace", "json"],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    let (_, trace) = run.stdout.split_once("--- trace\n").expect("a trace");
    let kinds: Vec<String> = trace
        .lines()
        .map(|line| {
            let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            entry["kind"].as_str().expect("a kind").to_string()
        })
        .collect();
    assert!(kinds.iter().any(|k| k == "step"), "{trace}");
    assert!(
        !kinds.iter().any(|k| k == "send" || k == "drop"),
        "an unknown command sent something:\n{trace}"
    );
}

// ---- directives -----------------------------------------------------------

#[test]
fn settle_answers_ok() {
    assert_eq!(
        dialogue("settle", "SETTLE\nCREATE b\nSETTLE\n", &[]),
        expected(&[("SETTLE", OK), ("CREATE b", OK), ("SETTLE", OK)])
    );
}

#[test]
fn bucket_directives_answer_ok_or_not_found() {
    let text = "\
CRASH nope
KILL nope
STOP nope
CREATE a
CREATE b
CREATE c
CRASH a
KILL b
STOP c
SETTLE
LOOKUP a
LOOKUP b
LOOKUP c
";
    assert_eq!(
        dialogue("bucket_directives", text, &[]),
        expected(&[
            ("CRASH nope", NOT_FOUND),
            ("KILL nope", NOT_FOUND),
            ("STOP nope", NOT_FOUND),
            ("CREATE a", OK),
            ("CREATE b", OK),
            ("CREATE c", OK),
            ("CRASH a", OK),
            ("KILL b", OK),
            ("STOP c", OK),
            ("SETTLE", OK),
            ("LOOKUP a", NOT_FOUND),
            ("LOOKUP b", NOT_FOUND),
            ("LOOKUP c", NOT_FOUND),
        ])
    );
}

#[test]
fn stop_is_synchronous() {
    // `OK` comes once the bucket is dead, so `fixed`'s liveness check
    // answers NOT FOUND at once, without SETTLE.
    assert_eq!(
        dialogue("stop_sync", "CREATE b\nPUT b k v\nSTOP b\nGET b k\n", &[]),
        expected(&[
            ("CREATE b", OK),
            ("PUT b k v", OK),
            ("STOP b", OK),
            ("GET b k", NOT_FOUND)
        ])
    );
}

#[test]
fn crash_normal_is_ignored_and_crash_kill_is_kill() {
    let text =
        "CREATE b\nPUT b k v\nCRASH b normal\nSETTLE\nGET b k\nCRASH b kill\nSETTLE\nGET b k\n";
    assert_eq!(
        dialogue("crash_normal", text, &[]),
        expected(&[
            ("CREATE b", OK),
            ("PUT b k v", OK),
            ("CRASH b normal", OK),
            ("SETTLE", OK),
            ("GET b k", &["v", "OK"]),
            ("CRASH b kill", OK),
            ("SETTLE", OK),
            ("GET b k", NOT_FOUND),
        ])
    );
    // Under a linked stage the registry dies of the bucket's `killed`.
    let text = "CREATE b\nCRASH b kill\nSETTLE\nLOOKUP b\n";
    assert_eq!(
        dialogue("crash_kill_linked", text, &["--registry", "monitored"]),
        expected(&[
            ("CREATE b", OK),
            ("CRASH b kill", OK),
            ("SETTLE", OK),
            ("LOOKUP b", NOPROC)
        ])
    );
}

#[test]
fn stop_registry_then_every_command_answers_noproc() {
    let text = "\
CREATE b
PUT b k v
STOP registry
PUT b k w
GET b k
DELETE b k
LOOKUP b
CRASH b
KILL b
STOP b
STOP registry
CREATE c
SETTLE
LOOKUP c
SEND registry hello
CRASH registry
KILL registry
";
    let want = expected(&[
        ("CREATE b", OK),
        ("PUT b k v", OK),
        ("STOP registry", OK),
        ("PUT b k w", NOPROC),
        ("GET b k", NOPROC),
        ("DELETE b k", NOPROC),
        ("LOOKUP b", NOPROC),
        ("CRASH b", NOPROC),
        ("KILL b", NOPROC),
        ("STOP b", NOPROC),
        ("STOP registry", NOPROC),
        // CREATE is a cast: OK even to a dead registry.
        ("CREATE c", OK),
        ("SETTLE", OK),
        ("LOOKUP c", NOPROC),
        ("SEND registry hello", OK),
        ("CRASH registry", OK),
        ("KILL registry", OK),
    ]);
    for stage in ["naive", "monitored", "no-catch-all", "unlinked", "fixed"] {
        assert_eq!(
            dialogue("stop_registry", text, &["--registry", stage]),
            want,
            "{stage}"
        );
    }
}

#[test]
fn crash_and_kill_registry_answer_ok_and_the_registry_is_gone() {
    for (directive, ignored) in [
        ("CRASH registry", false),
        ("CRASH registry oops", false),
        ("KILL registry", false),
        ("CRASH registry kill", false),
        ("CRASH registry normal", true),
    ] {
        let text = format!("CREATE b\n{directive}\nSETTLE\nLOOKUP b\n");
        let lookup: &[&str] = if ignored { OK } else { NOPROC };
        assert_eq!(
            dialogue("crash_registry", &text, &[]),
            expected(&[
                ("CREATE b", OK),
                (directive, OK),
                ("SETTLE", OK),
                ("LOOKUP b", lookup)
            ]),
            "{directive}"
        );
    }
}

#[test]
fn send_registry_answers_ok_and_only_no_catch_all_dies() {
    let text = "CREATE b\nPUT b k v\nSEND registry hello\nSETTLE\nGET b k\n";
    for stage in ["naive", "monitored", "unlinked", "fixed"] {
        assert_eq!(
            dialogue("send", text, &["--registry", stage]),
            expected(&[
                ("CREATE b", OK),
                ("PUT b k v", OK),
                ("SEND registry hello", OK),
                ("SETTLE", OK),
                ("GET b k", &["v", "OK"]),
            ]),
            "{stage}"
        );
    }
    assert_eq!(
        dialogue("send", text, &["--registry", "no-catch-all"]),
        expected(&[
            ("CREATE b", OK),
            ("PUT b k v", OK),
            ("SEND registry hello", OK),
            ("SETTLE", OK),
            ("GET b k", NOPROC),
        ])
    );
}

#[test]
fn a_bucket_named_registry_is_data_for_commands() {
    let text = "CREATE registry\nPUT registry k v\nGET registry k\nLOOKUP registry\n";
    assert_eq!(
        dialogue("bucket_registry", text, &[]),
        expected(&[
            ("CREATE registry", OK),
            ("PUT registry k v", OK),
            ("GET registry k", &["v", "OK"]),
            ("LOOKUP registry", OK),
        ])
    );
}

// ---- several clients ------------------------------------------------------

#[test]
fn several_clients_print_headers_in_order_of_appearance() {
    let text = "\
CREATE b
CLIENT zed
LOOKUP nope
CLIENT alpha
CLIENT mid
GET nope k
";
    assert_eq!(
        dialogue("clients", text, &[]),
        format!(
            "== main\n{}== zed\n{}== alpha\n== mid\n{}",
            expected(&[("CREATE b", OK)]),
            expected(&[("LOOKUP nope", NOT_FOUND)]),
            expected(&[("GET nope k", NOT_FOUND)]),
        )
    );
}

#[test]
fn clients_without_main_print_only_their_headers() {
    let text = "# two named clients\nCLIENT one\nCREATE b\nCLIENT two\nLOOKUP nope\n";
    assert_eq!(
        dialogue("clients_no_main", text, &[]),
        format!(
            "== one\n{}== two\n{}",
            expected(&[("CREATE b", OK)]),
            expected(&[("LOOKUP nope", NOT_FOUND)]),
        )
    );
}

#[test]
fn a_single_client_prints_no_header() {
    let text = "CLIENT solo\nCREATE b\nLOOKUP b\n";
    assert_eq!(
        dialogue("single_client", text, &[]),
        expected(&[("CREATE b", OK), ("LOOKUP b", OK)])
    );
}

// ---- script errors --------------------------------------------------------

#[test]
fn crash_without_a_bucket_is_a_script_error() {
    assert_script_error(
        "err_crash",
        b"CREATE b\nGET b k\nCRASH\n",
        3,
        "CRASH needs a target",
    );
}

#[test]
fn crash_with_two_reasons_is_a_script_error() {
    assert_script_error(
        "err_crash_args",
        b"CREATE b\n\nCRASH b r1 r2\n",
        3,
        "CRASH takes at most 2 arguments, found 3",
    );
}

#[test]
fn settle_with_an_argument_is_a_script_error() {
    assert_script_error(
        "err_settle",
        b"CREATE b\nSETTLE now\n",
        2,
        "SETTLE takes no arguments",
    );
}

#[test]
fn send_registry_without_a_message_is_a_script_error() {
    assert_script_error(
        "err_send",
        b"CREATE b\n# a comment\nSEND registry\n",
        3,
        "SEND needs a message",
    );
}

#[test]
fn send_to_anything_but_registry_is_a_script_error() {
    assert_script_error(
        "err_send_target",
        b"CREATE x\nSEND x y\n",
        2,
        "SEND can only target registry, not \"x\"",
    );
}

#[test]
fn a_reason_over_255_bytes_is_a_script_error() {
    let ok = format!("CREATE b\nCRASH b {}\n", "r".repeat(255));
    assert_eq!(
        dialogue("reason_255", &ok, &[]),
        expected(&[("CREATE b", OK), (ok.lines().nth(1).expect("line 2"), OK)])
    );
    let too_long = format!("CREATE b\nCRASH b {}\n", "r".repeat(256));
    assert_script_error(
        "err_reason",
        too_long.as_bytes(),
        2,
        "reason is 256 bytes long, at most 255 allowed",
    );
}

#[test]
fn client_without_a_name_is_a_script_error() {
    assert_script_error(
        "err_client",
        b"CREATE b\nCLIENT\nGET b k\n",
        2,
        "CLIENT needs a name",
    );
}

#[test]
fn a_duplicate_client_is_a_script_error() {
    assert_script_error(
        "err_dup_client",
        b"CLIENT a\nCREATE b\nCLIENT c\nGET b k\nCLIENT a\nLOOKUP b\n",
        5,
        "client \"a\" is already defined on line 1",
    );
}

#[test]
fn a_line_over_4096_bytes_is_a_script_error() {
    let longest = format!("CREATE {}", "x".repeat(4096 - "CREATE ".len()));
    assert_eq!(longest.len(), 4096);
    let ok = format!("{longest}\r\n");
    assert_eq!(
        dialogue("line_4096", &ok, &[]),
        expected(&[(longest.as_str(), OK)])
    );
    let too_long = format!("CREATE b\n{longest}x\n");
    assert_script_error(
        "err_line",
        too_long.as_bytes(),
        2,
        "line is 4097 bytes long, at most 4096 allowed",
    );
}

#[test]
fn bytes_that_are_not_utf8_are_a_script_error() {
    assert_script_error(
        "err_utf8",
        b"CREATE b\nPUT b k \xff\xfe\nGET b k\n",
        2,
        "line is not valid UTF-8",
    );
}

// ---- files and flags ------------------------------------------------------

#[test]
fn a_missing_file_exits_2_with_a_message() {
    let dir = TempDir::new("missing");
    let path = dir.path.join("no-such-script.kv");
    let run = run_file(&path, &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .starts_with(&format!("kvsim: cannot read {}: ", path.display())),
        "{}",
        run.stderr
    );
}

/// Asserts that `flags` are rejected by clap: exit 2, nothing on stdout,
/// clap's `error: ...` naming `mentions` on stderr.
fn assert_flag_error(test: &str, flags: &[&str], mentions: &[&str]) {
    let (run, _) = run_bytes(test, b"CREATE b\n", flags);
    assert_eq!(run.code, Some(2), "{flags:?}: {run:?}");
    assert_eq!(run.stdout, "", "{flags:?}");
    assert!(
        run.stderr.starts_with("error: "),
        "{flags:?}: {}",
        run.stderr
    );
    for word in mentions {
        assert!(
            run.stderr.contains(word),
            "{flags:?}: {word:?} not in {}",
            run.stderr
        );
    }
}

#[test]
fn a_bad_registry_exits_2() {
    assert_flag_error(
        "flag_registry",
        &["--registry", "bogus"],
        &["'bogus'", "--registry", "fixed"],
    );
}

#[test]
fn a_bad_schedule_exits_2() {
    assert_flag_error(
        "flag_schedule",
        &["--schedule", "bogus"],
        &["'bogus'", "--schedule", "fifo, random, pct, pos"],
    );
}

#[test]
fn a_bad_seed_exits_2() {
    assert_flag_error("flag_seed", &["--seed", "x"], &["'x'", "--seed"]);
}

#[test]
fn zero_max_steps_exits_2() {
    assert_flag_error(
        "flag_max_steps",
        &["--max-steps", "0"],
        &["'0'", "--max-steps"],
    );
}

#[test]
fn a_bad_trace_format_exits_2() {
    assert_flag_error(
        "flag_trace",
        &["--trace", "bogus"],
        &["'bogus'", "--trace", "text, mermaid, json"],
    );
}

#[test]
fn an_unknown_flag_exits_2() {
    assert_flag_error(
        "flag_unknown",
        &["--bogus"],
        &["unexpected argument '--bogus'"],
    );
}

#[test]
fn no_file_exits_2() {
    let run = kvsim(&["run"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
}

// ---- limits ---------------------------------------------------------------

#[test]
fn max_steps_prints_limit_and_exits_3() {
    let text = "CREATE b\nPUT b k v\nGET b k\nDELETE b k\n";
    let (run, _) = run_bytes("limit", text.as_bytes(), &["--max-steps", "3"]);
    assert_eq!(run.code, Some(3), "{run:?}");
    assert_eq!(run.stderr, "");
    // Step 1 answers CREATE; the PUT is not answered within three steps.
    assert_eq!(run.stdout, "CREATE b\nOK\n\nLIMIT max-steps 3\n");
    // With room enough, the same script completes.
    let (run, _) = run_bytes("limit_room", text.as_bytes(), &["--max-steps", "1000"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(!run.stdout.contains("LIMIT"), "{}", run.stdout);
}

#[test]
fn the_limit_line_comes_before_the_trace() {
    let (run, _) = run_bytes(
        "limit_trace",
        b"CREATE b\nPUT b k v\n",
        &["--max-steps", "2", "--trace", "text"],
    );
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(
        run.stdout
            .starts_with("CREATE b\nOK\n\nLIMIT max-steps 2\n--- trace\n"),
        "{}",
        run.stdout
    );
}

// ---- schedules ------------------------------------------------------------

const SCHEDULES: [&str; 4] = ["fifo", "random", "pct", "pos"];
const SEEDS: [&str; 5] = ["0", "1", "2", "7", "123456789"];

/// After SETTLE the fault's effects are all handled, whatever the schedule.
#[test]
fn settle_gives_the_same_dialogue_under_every_schedule() {
    let text = "CREATE b\nPUT b k v\nKILL b\nSETTLE\nGET b k\nCREATE b\nSETTLE\nGET b k\n";
    let cases: [(&str, Vec<Exchange>); 3] = [
        (
            "fixed",
            vec![
                ("CREATE b", OK),
                ("PUT b k v", OK),
                ("KILL b", OK),
                ("SETTLE", OK),
                ("GET b k", NOT_FOUND),
                ("CREATE b", OK),
                ("SETTLE", OK),
                ("GET b k", &["", "OK"]),
            ],
        ),
        (
            // Not linked, so the registry lives; SETTLE lets it handle the DOWN.
            "unlinked",
            vec![
                ("CREATE b", OK),
                ("PUT b k v", OK),
                ("KILL b", OK),
                ("SETTLE", OK),
                ("GET b k", NOT_FOUND),
                ("CREATE b", OK),
                ("SETTLE", OK),
                ("GET b k", &["", "OK"]),
            ],
        ),
        (
            // Linked: the registry dies of the bucket's `killed`.
            "monitored",
            vec![
                ("CREATE b", OK),
                ("PUT b k v", OK),
                ("KILL b", OK),
                ("SETTLE", OK),
                ("GET b k", NOPROC),
                ("CREATE b", OK),
                ("SETTLE", OK),
                ("GET b k", NOPROC),
            ],
        ),
    ];
    for (stage, exchanges) in &cases {
        let want = expected(exchanges);
        for schedule in SCHEDULES {
            for seed in SEEDS {
                let Some(mut flags) = schedule_flags(schedule, seed) else {
                    continue;
                };
                flags.extend(["--registry", stage]);
                assert_eq!(
                    dialogue("settle_schedules", text, &flags),
                    want,
                    "{flags:?}"
                );
            }
        }
    }
}

#[test]
fn settle_after_a_stray_message_under_every_schedule() {
    let text = "CREATE b\nPUT b k v\nSEND registry hello\nSETTLE\nGET b k\n";
    for schedule in SCHEDULES {
        for seed in SEEDS {
            let Some(mut flags) = schedule_flags(schedule, seed) else {
                continue;
            };
            flags.extend(["--registry", "no-catch-all"]);
            assert_eq!(
                dialogue("settle_stray", text, &flags),
                expected(&[
                    ("CREATE b", OK),
                    ("PUT b k v", OK),
                    ("SEND registry hello", OK),
                    ("SETTLE", OK),
                    ("GET b k", NOPROC),
                ]),
                "{flags:?}"
            );
        }
    }
}

#[test]
fn two_clients_complete_under_every_schedule() {
    // Each client works on its own bucket, so the dialogue does not depend
    // on the interleaving, only on each client's own order.
    let text = "\
CLIENT a
CREATE x
PUT x k 1
SETTLE
GET x k
CLIENT b
CREATE y
PUT y k 2
KILL y
SETTLE
GET y k
";
    let want = format!(
        "== a\n{}== b\n{}",
        expected(&[
            ("CREATE x", OK),
            ("PUT x k 1", OK),
            ("SETTLE", OK),
            ("GET x k", &["1", "OK"]),
        ]),
        expected(&[
            ("CREATE y", OK),
            ("PUT y k 2", OK),
            ("KILL y", OK),
            ("SETTLE", OK),
            ("GET y k", NOT_FOUND),
        ]),
    );
    for schedule in SCHEDULES {
        for seed in SEEDS {
            let Some(flags) = schedule_flags(schedule, seed) else {
                continue;
            };
            assert_eq!(dialogue("two_clients", text, &flags), want, "{flags:?}");
        }
    }
}

#[test]
fn depth_is_accepted_with_pct() {
    let text = "CREATE b\nPUT b k v\nCRASH b\nSETTLE\nGET b k\n";
    let want = expected(&[
        ("CREATE b", OK),
        ("PUT b k v", OK),
        ("CRASH b", OK),
        ("SETTLE", OK),
        ("GET b k", NOT_FOUND),
    ]);
    for depth in ["1", "2", "5", "64"] {
        for seed in SEEDS {
            let flags = ["--schedule", "pct", "--depth", depth, "--seed", seed];
            let (run, _) = run_bytes("depth", text.as_bytes(), &flags);
            assert_eq!(run.code, Some(0), "{flags:?}: {run:?}");
            assert_eq!(run.stdout, want, "{flags:?}");
            // n, k and d go to stderr, so that stdout stays the dialogue.
            assert!(
                run.stderr.starts_with("pct: n=") && run.stderr.contains(&format!(", d={depth}:")),
                "{flags:?}: {}",
                run.stderr
            );
        }
    }
}

#[test]
fn pct_prints_n_k_from_a_fifo_run_and_d() {
    // One client, no deaths: under fifo the script takes 6 events (CREATE,
    // its cast; LOOKUP, its call, the reply), and 4 units compete (the
    // client's actions, client -> registry, registry -> client, and the
    // registry's spawn of nothing else).
    let text = "CREATE a\nLOOKUP a\n";
    let (fifo, _) = run_bytes("pct_k", text.as_bytes(), &["--trace", "text"]);
    let events = fifo.stdout.lines().filter(|l| l.starts_with('#')).count();
    let (run, _) = run_bytes(
        "pct_k",
        text.as_bytes(),
        &["--schedule", "pct", "--depth", "2"],
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    let line = run.stderr.trim_end();
    assert!(
        line.contains(&format!("k={events} events (a fifo run), d=2")),
        "{line}"
    );
    let n: usize = line
        .strip_prefix("pct: n=")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no n in {line:?}"));
    assert!((2..=events).contains(&n), "{line}");
    assert!(
        line.ends_with(&format!("bound 1/(n*k^(d-1)) = 1/{}", n * events)),
        "{line}"
    );
}

#[test]
fn depth_is_an_error_for_other_schedules() {
    for schedule in ["fifo", "random", "pos"] {
        let (run, _) = run_bytes(
            "depth_other",
            b"CREATE a\n",
            &["--schedule", schedule, "--depth", "2"],
        );
        assert_eq!(run.code, Some(2), "{schedule}: {run:?}");
        assert_eq!(run.stdout, "", "{schedule}: nothing runs");
        assert!(
            run.stderr
                .contains("--depth applies only to --schedule pct"),
            "{schedule}: {}",
            run.stderr
        );
    }
    let (run, _) = run_bytes("depth_default", b"CREATE a\n", &["--depth", "2"]);
    assert_eq!(run.code, Some(2), "the default schedule is fifo: {run:?}");
}

// ---- trace output ---------------------------------------------------------

#[test]
fn every_trace_format_follows_the_dialogue() {
    let text = "CREATE b\nPUT b k v\nGET b k\n";
    let plain = dialogue("trace_plain", text, &[]);
    for format in ["text", "mermaid", "json"] {
        let out = dialogue("trace", text, &["--trace", format]);
        let trace = out
            .strip_prefix(plain.as_str())
            .and_then(|rest| rest.strip_prefix("--- trace\n"))
            .unwrap_or_else(|| {
                panic!("--trace {format}: no `--- trace` after the dialogue:\n{out}")
            });
        assert_eq!(out.matches("--- trace\n").count(), 1, "{format}");
        match format {
            "text" => {
                assert!(
                    trace.contains("#1 t=0 [client0.cmd0] client0 acts\n"),
                    "{trace}"
                );
                assert!(trace.contains("client0: GET b k => v / OK\n"), "{trace}");
            }
            "mermaid" => {
                assert!(trace.starts_with("sequenceDiagram\n"), "{trace}");
                assert!(trace.contains("participant"), "{trace}");
            }
            _ => {
                for line in trace.lines() {
                    let entry: serde_json::Value =
                        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                    assert!(entry["kind"].is_string(), "{line}");
                }
                assert!(trace.contains(r#""kind":"step""#), "{trace}");
            }
        }
    }
}

/// trace.rs documents the Mermaid diagram as "an arrow per delivery", and
/// docs/design.md says the trace records deliveries. Every step whose key is a
/// delivery (`cause/n`) must show up as a `deliver` entry and as a `->>`
/// arrow between two participants.
#[test]
fn the_mermaid_diagram_has_an_arrow_per_delivery() {
    let text = "CREATE b\nPUT b k v\nGET b k\n";
    let json = dialogue("mermaid_json", text, &["--trace", "json"]);
    let (_, json) = json.split_once("--- trace\n").expect("a trace");
    let mut delivery_steps = 0;
    let mut deliver_entries = 0;
    for line in json.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        match entry["kind"].as_str() {
            Some("step") if entry["key"].as_str().is_some_and(|k| k.contains('/')) => {
                delivery_steps += 1
            }
            Some("deliver") => deliver_entries += 1,
            _ => {}
        }
    }
    assert!(delivery_steps > 0, "no delivery in\n{json}");
    assert_eq!(
        deliver_entries, delivery_steps,
        "deliveries without a `deliver` entry:\n{json}"
    );
    let mermaid = dialogue("mermaid", text, &["--trace", "mermaid"]);
    let arrows = mermaid
        .lines()
        .filter(|l| l.trim_start().starts_with('p') && l.contains("->>") && !l.contains("-->>"))
        .count();
    assert_eq!(arrows, delivery_steps, "{mermaid}");
}

// ---- what the trace shows of process fates ---------------------------------

/// The text trace of `text` under `stage`: what follows `--- trace`.
fn text_trace(test: &str, text: &str, stage: &str) -> String {
    let out = dialogue(test, text, &["--registry", stage, "--trace", "text"]);
    let (_, trace) = out.split_once("--- trace\n").expect("a trace");
    trace.to_string()
}

#[test]
fn a_stale_name_answers_ok_to_crash_and_kill_and_noproc_to_stop() {
    let text = "CREATE b\nSTOP b\nSETTLE\nCRASH b\nKILL b\nCRASH b kill\nSTOP b\n";
    assert_eq!(
        dialogue("stale_directives", text, &["--registry", "naive"]),
        expected(&[
            ("CREATE b", OK),
            ("STOP b", OK),
            ("SETTLE", OK),
            ("CRASH b", OK),
            ("KILL b", OK),
            ("CRASH b kill", OK),
            ("STOP b", NOPROC),
        ])
    );
}

#[test]
fn crash_then_get_without_settle_under_fifo() {
    // docs/script-language.md: under fifo the lookup was sent before the
    // bucket's DOWN, so unlinked returns the dead pid; fixed checks liveness.
    let text = "CREATE b\nPUT b k v\nCRASH b\nGET b k\nSETTLE\nGET b k\n";
    for (stage, first_get) in [("unlinked", NOPROC), ("fixed", NOT_FOUND)] {
        assert_eq!(
            dialogue("crash_then_get", text, &["--registry", stage]),
            expected(&[
                ("CREATE b", OK),
                ("PUT b k v", OK),
                ("CRASH b", OK),
                ("GET b k", first_get),
                ("SETTLE", OK),
                ("GET b k", NOT_FOUND),
            ]),
            "{stage}"
        );
    }
}

#[test]
fn stop_registry_leaves_linked_buckets_alive() {
    let text = "CREATE b\nSTOP registry\nSETTLE\n";
    for stage in ["naive", "monitored", "no-catch-all"] {
        let trace = text_trace("stop_registry_trace", text, stage);
        assert!(
            trace.contains("    registry exits: normal\n"),
            "{stage}:\n{trace}"
        );
        assert!(
            trace.contains("    registry -> bucket:b#0: exit normal (link)\n"),
            "{stage}:\n{trace}"
        );
        assert!(!trace.contains("bucket:b#0 exits"), "{stage}:\n{trace}");
    }
}

#[test]
fn a_registry_crash_takes_linked_buckets_only() {
    let text = "CREATE a\nCREATE b\nCRASH registry\nSETTLE\n";
    for (stage, linked) in [
        ("naive", true),
        ("monitored", true),
        ("no-catch-all", true),
        ("unlinked", false),
        ("fixed", false),
    ] {
        let trace = text_trace("registry_crash_trace", text, stage);
        assert!(
            trace.contains("    registry exits: boom\n"),
            "{stage}:\n{trace}"
        );
        for bucket in ["bucket:a#0", "bucket:b#0"] {
            let died = trace.contains(&format!("    {bucket} exits: boom\n"));
            assert_eq!(died, linked, "{stage}: {bucket}\n{trace}");
        }
    }
}

#[test]
fn a_bucket_kill_takes_the_linked_registry_and_its_other_buckets() {
    let text = "CREATE a\nCREATE b\nSETTLE\nKILL a\nSETTLE\n";
    for (stage, linked) in [
        ("naive", true),
        ("monitored", true),
        ("no-catch-all", true),
        ("unlinked", false),
        ("fixed", false),
    ] {
        let trace = text_trace("bucket_kill_trace", text, stage);
        assert!(
            trace.contains("    bucket:a#0 exits: killed\n"),
            "{stage}:\n{trace}"
        );
        assert_eq!(
            trace.contains("    registry exits: killed\n"),
            linked,
            "{stage}:\n{trace}"
        );
        assert_eq!(
            trace.contains("    bucket:b#0 exits: killed\n"),
            linked,
            "{stage}:\n{trace}"
        );
    }
}
