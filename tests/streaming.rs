//! `kvsim run` writes as it goes: the script is read line by line (an
//! endless input is an error, not an out-of-memory), one client's dialogue
//! is written as each command is answered, and the trace is written entry
//! by entry from a second play of the same run. The bytes are exactly
//! those of the whole-run renderings.

mod common;

use common::{TempDir, kvsim};
use kvsim::check::{RunConfig, Schedule, ScriptPlayer, Sinks, run_script};
use kvsim::kv::script;
use kvsim::sim::trace::{Renderer, Rendering};
use kvsim::sim::{Limits, Outcome, TraceEntry};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Records each write separately.
#[derive(Default)]
struct Writes(Vec<Vec<u8>>);

impl Write for Writes {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.push(bytes.to_vec());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn puts(n: usize) -> String {
    let mut text = String::from("CREATE s\n");
    for i in 0..n {
        text.push_str(&format!("PUT s k{i} v\nGET s k{i}\n"));
    }
    text
}

fn config(schedule: Schedule) -> RunConfig {
    RunConfig {
        schedule,
        seed: 4,
        limits: Limits {
            steps_max: 1_000_000,
            ..Limits::default()
        },
        ..RunConfig::default()
    }
}

#[test]
fn one_clients_dialogue_is_written_as_each_command_is_answered() {
    let text = puts(40);
    let kept = script::read_text(Path::new("p.kv"), text.as_bytes()).expect("reads");
    let parsed = script::parse(Path::new("p.kv"), text.as_bytes()).expect("parses");
    for schedule in [Schedule::Fifo, Schedule::Random, Schedule::Pos] {
        let config = config(schedule);
        let mut writes = Writes::default();
        let played = ScriptPlayer::new(&kept, &config).play(Sinks {
            dialogue: Some(&mut writes),
            trace: None,
            schedule: false,
        });
        assert_eq!(played.outcome, Outcome::Quiescent);
        assert!(played.write_error.is_none());
        // 81 commands, each written when answered, not all at the end.
        assert_eq!(writes.0.len(), 81, "{schedule}");
        let streamed: Vec<u8> = writes.0.concat();
        let whole = run_script(&parsed, &config);
        assert_eq!(String::from_utf8(streamed).expect("UTF-8"), whole.dialogue);
        assert_eq!(played.steps, whole.steps);
    }
}

#[test]
fn entries_streamed_render_as_the_whole_trace() {
    let text = "CLIENT a\nCREATE s\nPUT s k v\nCRASH s\nCLIENT b\nLOOKUP s\nSETTLE\nGET s k\n";
    let kept = script::read_text(Path::new("t.kv"), text.as_bytes()).expect("reads");
    let parsed = script::parse(Path::new("t.kv"), text.as_bytes()).expect("parses");
    for schedule in [Schedule::Fifo, Schedule::Random, Schedule::Pct { depth: 3 }] {
        let config = config(schedule);
        let whole = run_script(
            &parsed,
            &RunConfig {
                tracing: true,
                ..config.clone()
            },
        );
        let trace = whole.trace.expect("traced");
        let mut entries: Vec<TraceEntry> = Vec::new();
        let mut collect = |entry: &TraceEntry, _: &BTreeMap<u64, String>| {
            entries.push(entry.clone());
            Ok(())
        };
        let played = ScriptPlayer::new(&kept, &config).play(Sinks {
            dialogue: None,
            trace: Some(&mut collect),
            schedule: true,
        });
        assert_eq!(entries, trace.entries, "{schedule}");
        assert_eq!(played.pid_names, trace.pid_names);
        assert_eq!(played.schedule_taken, whole.schedule_taken);
        let mut text = String::new();
        let mut renderer = Renderer::new(Rendering::Text);
        for entry in &entries {
            renderer.render(entry, &mut text);
        }
        assert_eq!(text, trace.to_text());
    }
}

/// A writer that fails from its second write on, with an error of the
/// kind given.
struct Breaks(usize, std::io::ErrorKind);

impl Write for Breaks {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += 1;
        if self.0 > 1 {
            return Err(std::io::Error::new(self.1, "broken"));
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A failed write stops the run at once (the step that answered the
/// command whose line failed is its last), but a closed pipe only stops
/// the writing: the run goes on to its own end.
#[test]
fn a_write_error_stops_the_run_and_a_closed_pipe_the_writing() {
    let text = puts(10);
    let kept = script::read_text(Path::new("p.kv"), text.as_bytes()).expect("reads");
    let config = config(Schedule::Fifo);
    let whole = ScriptPlayer::new(&kept, &config).play(Sinks {
        dialogue: None,
        trace: None,
        schedule: false,
    });
    // The steps up to the answer of the second command, whose line is the
    // second write.
    let mut writes = Writes::default();
    let mut two_answers = 0;
    for steps in 1..=whole.steps {
        let limited = RunConfig {
            limits: Limits {
                steps_max: steps,
                ..config.limits
            },
            ..config.clone()
        };
        writes.0.clear();
        ScriptPlayer::new(&kept, &limited).play(Sinks {
            dialogue: Some(&mut writes),
            trace: None,
            schedule: false,
        });
        if writes.0.len() == 2 {
            two_answers = steps;
            break;
        }
    }
    assert!(two_answers > 0 && two_answers < whole.steps);
    for (kind, steps) in [
        (std::io::ErrorKind::StorageFull, two_answers),
        (std::io::ErrorKind::Other, two_answers),
        (std::io::ErrorKind::BrokenPipe, whole.steps),
    ] {
        let mut breaks = Breaks(0, kind);
        let played = ScriptPlayer::new(&kept, &config).play(Sinks {
            dialogue: Some(&mut breaks),
            trace: None,
            schedule: false,
        });
        assert_eq!(breaks.0, 2, "{kind:?}: no write after the failed one");
        assert_eq!(played.write_error.expect("an error").kind(), kind);
        assert_eq!(played.steps, steps, "{kind:?}");
    }
}

/// What `kvsim run` printed before streaming: the whole run's dialogue,
/// `LIMIT`, the trace rendered whole, the schedule.
fn printed_whole(file: &Path, schedule: Schedule, format: &str, max_steps: u64) -> String {
    let bytes = std::fs::read(file).expect("reads");
    let parsed = script::parse(file, &bytes).expect("parses");
    let config = RunConfig {
        schedule,
        seed: 2,
        limits: Limits {
            steps_max: max_steps,
            ..Limits::default()
        },
        tracing: true,
        ..RunConfig::default()
    };
    let report = run_script(&parsed, &config);
    let mut out = report.dialogue;
    if let Outcome::Limit { name, value } = report.outcome {
        out.push_str(&format!("LIMIT {name} {value}\n"));
    }
    out.push_str("--- trace\n");
    let trace = report.trace.expect("traced");
    out.push_str(&match format {
        "text" => trace.to_text(),
        "json" => trace.to_json_lines(),
        _ => trace.to_mermaid(),
    });
    out.push_str("--- schedule\n");
    for key in &report.schedule_taken {
        out.push_str(&format!("{key}\n"));
    }
    out
}

#[test]
fn kvsim_run_prints_what_the_whole_run_renders() {
    let examples = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
        .expect("examples")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "kv"));
    for file in examples {
        for (schedule, name) in [
            (Schedule::Fifo, "fifo"),
            (Schedule::Random, "random"),
            (Schedule::Pos, "pos"),
        ] {
            for format in ["text", "json", "mermaid"] {
                for max_steps in [12, 100_000] {
                    let max = max_steps.to_string();
                    let mut args: Vec<&std::ffi::OsStr> = vec![
                        "run".as_ref(),
                        file.as_os_str(),
                        "--schedule".as_ref(),
                        name.as_ref(),
                    ];
                    // `fifo` has no seed, and refuses one.
                    if name != "fifo" {
                        args.extend(["--seed", "2"].map(std::ffi::OsStr::new));
                    }
                    args.extend(
                        ["--trace", format, "--max-steps", &max, "--print-schedule"]
                            .map(std::ffi::OsStr::new),
                    );
                    let run = kvsim(&args);
                    assert!(matches!(run.code, Some(0 | 3)), "{run:?}");
                    assert_eq!(
                        run.stdout,
                        printed_whole(&file, schedule, format, max_steps),
                        "{} {name} {format} {max_steps}",
                        file.display()
                    );
                }
            }
        }
    }
}

#[test]
fn an_endless_script_is_refused() {
    let run = kvsim(&["run", "/dev/zero"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(
        run.stderr,
        format!(
            "/dev/zero:1: the script goes on past {} bytes, the most a script may have\n",
            script::SCRIPT_BYTES_MAX
        )
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn an_overlong_line_is_measured_and_refused() {
    let dir = TempDir::new("overlong");
    let mut text = "CREATE a\n".repeat(3);
    text.push_str(&"y".repeat(100_000));
    text.push_str("\nGET a k\n");
    let file = dir.file("long.kv", text.as_bytes());
    let run = kvsim(&["run".as_ref(), file.as_os_str()]);
    assert_eq!(run.code, Some(2));
    assert_eq!(
        run.stderr,
        format!(
            "{}:4: line is 100000 bytes long, at most 4096 allowed\n",
            file.display()
        )
    );
}
