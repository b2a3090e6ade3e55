//! A run is a pure function of (file, flags, seed): two runs of the binary
//! print byte-identical output, dialogue and trace, under every schedule;
//! and the seed really steers the `random` schedule.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const SCHEDULES: [&str; 4] = ["fifo", "random", "pct", "pos"];
const SEEDS: [u64; 4] = [0, 1, 42, 18_446_744_073_709_551_615];

/// A script with faults of every kind and two clients racing on them.
const FAULTS: &str = "\
CREATE a
CREATE b
PUT a k 1
PUT b k 2
CRASH a
GET a k
KILL b
GET b k
CREATE a
SEND registry hello
GET a k
STOP a
SETTLE
LOOKUP a
CLIENT other
CREATE a
PUT a k 3
GET a k
CRASH a oops
LOOKUP b
CREATE b
GET b k
";

/// `<manifest dir>/examples/<name>`.
fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// The faults script, written once per test into its own temp file.
struct FaultsFile {
    path: PathBuf,
}

impl FaultsFile {
    fn new(test: &str) -> FaultsFile {
        let dir =
            std::env::temp_dir().join(format!("kvsim-determinism-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the temp dir");
        let path = dir.join("faults.kv");
        std::fs::write(&path, FAULTS).expect("write the script");
        FaultsFile { path }
    }
}

impl Drop for FaultsFile {
    fn drop(&mut self) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// `kvsim run FILE <flags>`: its raw stdout, then its stderr. The run must
/// finish with 0 and print nothing on stderr but, under `--schedule pct`,
/// PCT's one line of n, k and d (which must repeat too).
fn run(file: &Path, flags: &[&str]) -> Vec<u8> {
    let output = Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .arg("run")
        .arg(file)
        .args(flags)
        .output()
        .expect("kvsim starts");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{} {flags:?}: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let pct = flags.windows(2).any(|pair| pair == ["--schedule", "pct"]);
    if pct {
        assert!(
            output.stderr.starts_with(b"pct: n="),
            "{} {flags:?}",
            file.display()
        );
    } else {
        assert!(output.stderr.is_empty(), "{} {flags:?}", file.display());
    }
    let mut bytes = output.stdout;
    bytes.extend_from_slice(&output.stderr);
    bytes
}

/// Runs `file` twice per schedule, seed and trace format under `stage` and
/// asserts both runs print the same bytes (`fifo` has no seed: once per
/// trace format).
fn assert_repeatable(file: &Path, stage: &str) {
    for schedule in SCHEDULES {
        let seeds: Vec<Option<String>> = if schedule == "fifo" {
            vec![None]
        } else {
            SEEDS.iter().map(|seed| Some(seed.to_string())).collect()
        };
        for seed in &seeds {
            for trace in ["text", "json"] {
                let mut flags = vec!["--registry", stage, "--schedule", schedule];
                if let Some(seed) = seed {
                    flags.extend(["--seed", seed.as_str()]);
                }
                flags.extend(["--trace", trace]);
                let first = run(file, &flags);
                let second = run(file, &flags);
                assert!(
                    first == second,
                    "{} {flags:?} printed different output on a second run:\n{}\n---- vs ----\n{}",
                    file.display(),
                    String::from_utf8_lossy(&first),
                    String::from_utf8_lossy(&second)
                );
            }
        }
    }
}

#[test]
fn two_clients_is_repeatable_under_every_schedule() {
    assert_repeatable(&example("two_clients.kv"), "fixed");
}

#[test]
fn a_script_with_faults_is_repeatable_under_every_schedule_and_stage() {
    let file = FaultsFile::new("faults");
    for stage in ["fixed", "monitored", "unlinked"] {
        assert_repeatable(&file.path, stage);
    }
}

/// `fifo` is the canonical order: it uses no randomness, so a seed would
/// mean nothing, and giving one is a usage error rather than ignored.
#[test]
fn fifo_refuses_a_seed() {
    let file = FaultsFile::new("fifo");
    for flags in [&["--seed", "1"][..], &["--schedule", "fifo", "--seed", "0"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_kvsim"))
            .arg("run")
            .arg(&file.path)
            .args(flags)
            .output()
            .expect("kvsim starts");
        assert_eq!(output.status.code(), Some(2), "{flags:?}");
        assert!(output.stdout.is_empty(), "{flags:?}: nothing runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--seed applies only to --schedule random, pct or pos"),
            "{flags:?}: {stderr}"
        );
    }
}

/// The distinct traces printed for seeds 0..20 under `schedule`.
fn distinct_traces(file: &Path, schedule: &str) -> BTreeSet<Vec<u8>> {
    (0..20u64)
        .map(|seed| {
            let seed = seed.to_string();
            run(
                file,
                &["--schedule", schedule, "--seed", &seed, "--trace", "text"],
            )
        })
        .collect()
}

#[test]
fn the_seed_varies_the_random_schedule() {
    let traces = distinct_traces(&example("two_clients.kv"), "random");
    assert!(
        traces.len() >= 2,
        "20 seeds of `random` gave {} distinct trace(s) for two_clients.kv",
        traces.len()
    );
    let file = FaultsFile::new("random");
    let traces = distinct_traces(&file.path, "random");
    assert!(
        traces.len() >= 2,
        "20 seeds of `random` gave {} distinct trace(s) for the faults script",
        traces.len()
    );
}
