//! A failure report's replay command reproduces the failure: search a
//! flawed stage until a property breaks, save the shrunk case and build the
//! report, read the command off the report's last line, run it through the
//! binary and expect the same property, event, detail and trace text
//! (shuttle's `check_replay_roundtrip`). Never `#[ignore]`d.

use kvsim::check::{Counterexample, FailureReport, SearchConfig, check_registry};
use kvsim::kv::Stage;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory of its own for one test, removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(test: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "kvsim-replay-roundtrip-{}-{n}-{test}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the temp dir");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Splits a command line into words as a POSIX shell would, for the
/// quoting the report uses: bare words and single-quoted parts.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            c if escaped => {
                escaped = false;
                word.get_or_insert_with(String::new).push(c);
            }
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            ' ' if !quoted => words.extend(word.take()),
            '\\' if !quoted => escaped = true,
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(!quoted, "unbalanced quotes in {line:?}");
    words.extend(word);
    words
}

#[test]
fn shell_words_undo_the_reports_quoting() {
    assert_eq!(
        shell_words(r"kvsim replay '/tmp/my cases/it'\''s.case.json' --registry unlinked"),
        [
            "kvsim",
            "replay",
            "/tmp/my cases/it's.case.json",
            "--registry",
            "unlinked"
        ]
    );
}

/// What one run of the binary printed.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the report's replay command (its last line) with `extra` flags.
fn run_command(line: &str, extra: &[&str]) -> Run {
    let words = shell_words(line);
    assert_eq!(
        words.first().map(String::as_str),
        Some("kvsim"),
        "the last line is a kvsim command: {line:?}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .args(&words[1..])
        .args(extra)
        .output()
        .expect("kvsim starts");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

fn counterexample(stage: Stage) -> Counterexample {
    let registry = move || stage.registry();
    match check_registry(&registry, &SearchConfig::default()) {
        Ok(cases) => panic!("{stage}: every property held over {cases} cases"),
        Err(counterexample) => *counterexample,
    }
}

/// Searches `stage`, reports, replays the report's command, and checks
/// that the replay breaks the same property at the same event with the
/// same trace; then replays the same file on `fixed`, which must hold.
fn round_trip(stage: Stage) {
    let dir = TempDir::new(stage.name());
    let counterexample = counterexample(stage);
    assert!(
        !counterexample.trace.is_empty(),
        "{stage}: the counterexample is traced"
    );
    let report = FailureReport::save(&counterexample, stage.name(), &dir.path)
        .unwrap_or_else(|e| panic!("{stage}: saving the case: {e}"));
    let text = report.to_string();
    assert!(text.starts_with(&format!("property {} ", report.property)));
    assert!(text.contains(&format!("case file: {}\n", report.case_path.display())));
    assert!(text.contains(&format!("--- trace\n{}", counterexample.trace)));
    let command = text.lines().last().expect("a report has lines");
    assert_eq!(
        command,
        format!(
            "kvsim replay {} --registry {stage}",
            report.case_path.display()
        )
    );

    let replayed = run_command(command, &["--trace", "text"]);
    assert_eq!(replayed.code, Some(1), "{stage}: {replayed:?}\n{text}");
    assert_eq!(replayed.stderr, "", "{stage}");
    let (verdict, trace) = replayed
        .stdout
        .split_once("--- trace\n")
        .unwrap_or_else(|| panic!("{stage}: --- trace: {replayed:?}"));
    let failure = &counterexample.failure;
    let broke = format!(
        "{} broke at event {} on registry {stage}: {}\n",
        failure.property, failure.step, failure.detail
    );
    assert!(
        verdict.ends_with(&broke),
        "{stage}: the same property, event and detail:\n{verdict}\nexpected: {broke}"
    );
    assert_eq!(
        trace, report.trace,
        "{stage}: the replay's trace is the report's"
    );

    // The command alone (no trace) gives the same verdict.
    let plain = run_command(command, &[]);
    assert_eq!(plain.code, Some(1), "{stage}: {plain:?}");
    assert_eq!(plain.stdout, verdict, "{stage}");

    // Checking a fix: the same case file on `fixed` holds.
    let fixed = run_command(command, &["--registry", "fixed"]);
    assert_eq!(fixed.code, Some(0), "{stage} case on fixed: {fixed:?}");
    assert!(
        fixed
            .stdout
            .ends_with("all properties hold on registry fixed\n")
    );

    // Saving the same counterexample again reuses the same file.
    let again = FailureReport::save(&counterexample, stage.name(), &dir.path).expect("saves");
    assert_eq!(again.case_path, report.case_path);
}

#[test]
fn unlinked_replays_its_stale_lookup() {
    round_trip(Stage::Unlinked);
}

#[test]
fn naive_replays_its_failure() {
    round_trip(Stage::Naive);
}

#[test]
fn monitored_replays_its_failure() {
    round_trip(Stage::Monitored);
}

#[test]
fn no_catch_all_replays_its_failure() {
    round_trip(Stage::NoCatchAll);
}
