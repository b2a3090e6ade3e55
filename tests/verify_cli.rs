//! `kvsim verify` and its `kvsim merge` through the binary: the verdicts
//! and their exit statuses, the counterexample saved and replayed by the
//! printed command, a JSON report that reads back, the same report on 1
//! and 2 threads and as three merged shards, merge's refusals, and bad
//! input (exit 2, nothing run).

mod common;

use common::{Run, TempDir, kvsim};
use std::path::{Path, PathBuf};

/// Two clients on one name: 2,032 schedules with `kill:1`, plainly.
const TWO_CLIENTS: &str = "CLIENT c1\nCREATE a\nLOOKUP a\nCLIENT c2\nLOOKUP a\n";

fn verify(script: &Path, flags: &[&str], out: &Path) -> Run {
    let mut args = vec![
        "verify",
        script.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--reduction",
        "none",
    ];
    args.extend_from_slice(flags);
    kvsim(&args)
}

/// The report's text before `--- timing`: what must not vary.
fn result_part(stdout: &str) -> &str {
    &stdout[..stdout.find("--- timing").expect("a timing section")]
}

fn script(dir: &TempDir) -> PathBuf {
    dir.file("two.kv", TWO_CLIENTS.as_bytes())
}

#[test]
fn fixed_is_verified_within_bounds_with_counts_exit_0() {
    let dir = TempDir::new("verify-fixed");
    let run = verify(&script(&dir), &["--faults", "kill:1"], &dir.path);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "verified within bounds: 2032 schedules (2 fault plans, 60 of 60 work items), 6 distinct outcomes, 0 sleep-set blocked"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  meaning: every schedule"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("bounds: faults kill:1; properties all"));
    // Nothing saved when nothing broke.
    assert_eq!(std::fs::read_dir(&dir.path).unwrap().count(), 1);
}

#[test]
fn unlinked_prints_the_shortest_counterexample_which_replays_exit_1() {
    let dir = TempDir::new("verify-unlinked");
    let run = verify(
        &script(&dir),
        &["--registry", "unlinked", "--faults", "kill:1"],
        &dir.path,
    );
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let result = result_part(&run.stdout);
    assert!(
        result.contains(
            "property P1 lookup-is-alive broke: shortest counterexample 5 events in its causal past"
        ),
        "{result}"
    );
    assert!(result.contains("--- trace\n"), "{result}");
    assert!(result.contains("--- slice (5 of 5 events"), "{result}");
    let replay = result
        .lines()
        .find(|line| line.starts_with("kvsim replay "))
        .expect("a replay command");
    let words: Vec<&str> = replay.split(' ').skip(1).collect();
    let replayed = kvsim(&words);
    assert_eq!(replayed.code, Some(1), "{}", replayed.stdout);
    assert!(
        replayed
            .stdout
            .contains("P1 lookup-is-alive broke at event 5 on registry unlinked"),
        "{}",
        replayed.stdout
    );
}

#[test]
fn a_step_bound_too_low_is_no_verdict_exit_3() {
    let dir = TempDir::new("verify-cut");
    let run = verify(&script(&dir), &["--max-steps", "4"], &dir.path);
    assert_eq!(run.code, Some(3), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("no verdict, NOT verified"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("cut by a limit (raise --max-steps)"));
    assert!(!run.stdout.contains("verified within bounds"));
}

#[test]
fn an_undecided_property_4_is_no_verdict_exit_3() {
    let dir = TempDir::new("verify-undecided");
    let run = verify(
        &script(&dir),
        &["--linearizability-bound", "1", "--quiet"],
        &dir.path,
    );
    assert_eq!(run.code, Some(3), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("no verdict, NOT verified"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("schedules: property 4 undecided (raise --linearizability-bound)"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("verified within bounds"));
}

#[test]
fn a_spent_time_budget_is_stopped_exit_3() {
    let dir = TempDir::new("verify-time");
    let run = verify(
        &script(&dir),
        &["--faults", "kill:1", "--max-time", "0s"],
        &dir.path,
    );
    assert_eq!(run.code, Some(3), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("stopped early by --max-time, NOT verified"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("stopped by max-time"), "{}", run.stdout);
}

#[test]
fn threads_and_merged_shards_give_the_same_report() {
    let dir = TempDir::new("verify-split");
    let script = script(&dir);
    for registry in ["fixed", "unlinked"] {
        let flags = ["--registry", registry, "--faults", "kill:1", "--quiet"];
        let run_with = |extra: &[&str]| {
            let mut all: Vec<&str> = flags.to_vec();
            all.extend_from_slice(extra);
            verify(&script, &all, &dir.path)
        };
        let one = run_with(&["--threads", "1"]);
        let two = run_with(&["--threads", "2"]);
        assert_eq!(result_part(&one.stdout), result_part(&two.stdout));
        let whole_json = run_with(&["--threads", "1", "--json"]);
        let whole: serde_json::Value = serde_json::from_str(&whole_json.stdout).expect("JSON");
        assert_eq!(whole["kvsim_verify_report"], 1);
        let mut paths = Vec::new();
        for index in 0..3 {
            let shard = format!("{index}/3");
            let run = run_with(&["--shard", &shard, "--json", "--threads", "2"]);
            assert!(matches!(run.code, Some(0 | 1 | 3)), "{}", run.stderr);
            paths.push(dir.file(&format!("{registry}-{index}.json"), run.stdout.as_bytes()));
        }
        let mut args = vec!["merge", "--json"];
        args.extend(paths.iter().rev().map(|p| p.to_str().unwrap()));
        let merged = kvsim(&args);
        assert_eq!(merged.code, one.code, "{}", merged.stderr);
        let merged: serde_json::Value = serde_json::from_str(&merged.stdout).expect("JSON");
        assert_eq!(merged["result"], whole["result"], "{registry}");
        for field in ["registry", "config_hash", "config"] {
            assert_eq!(merged[field], whole[field]);
        }
        let text = kvsim(&[
            "merge",
            paths[0].to_str().unwrap(),
            paths[1].to_str().unwrap(),
            paths[2].to_str().unwrap(),
        ]);
        assert_eq!(
            result_part(&text.stdout),
            result_part(&one.stdout),
            "{registry}"
        );
        // Two of three shards: one is missing.
        let missing = kvsim(&[
            "merge",
            paths[0].to_str().unwrap(),
            paths[1].to_str().unwrap(),
        ]);
        assert_eq!(missing.code, Some(2));
        assert!(
            missing.stderr.contains("shard 2/3 is missing"),
            "{}",
            missing.stderr
        );
    }
}

#[test]
fn merge_refuses_other_configurations_and_other_kinds() {
    let dir = TempDir::new("verify-merge");
    let script = script(&dir);
    let a = verify(&script, &["--shard", "0/2", "--json", "--quiet"], &dir.path);
    let b = verify(
        &script,
        &["--shard", "1/2", "--json", "--quiet", "--faults", "kill:1"],
        &dir.path,
    );
    let a = dir.file("a.json", a.stdout.as_bytes());
    let b = dir.file("b.json", b.stdout.as_bytes());
    let run = kvsim(&["merge", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("config hash"), "{}", run.stderr);
    let explore = kvsim(&[
        "explore",
        script.to_str().unwrap(),
        "--runs",
        "10",
        "--shard",
        "1/2",
        "--json",
        "--quiet",
        "--out",
        dir.path.to_str().unwrap(),
    ]);
    let e = dir.file("e.json", explore.stdout.as_bytes());
    let run = kvsim(&["merge", a.to_str().unwrap(), e.to_str().unwrap()]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("is a report of kvsim explore, "),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_input_exits_2_and_says_why() {
    let dir = TempDir::new("verify-bad");
    let script = script(&dir);
    let cases: [(&[&str], &str); 5] = [
        (&["--faults", "kill:x"], "is not a count"),
        (&["--faults", "bite:1"], "unknown fault kind"),
        (&["--faults", "default"], "verify needs a bound"),
        (&["--shard", "3/3"], "shard index 3 is out of range"),
        (&["--reduction", "some"], "unknown reduction"),
    ];
    for (flags, why) in cases {
        let run = verify(&script, flags, &dir.path);
        assert_eq!(run.code, Some(2), "{flags:?}: {}", run.stderr);
        assert!(run.stderr.contains(why), "{flags:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
    let missing = verify(&dir.path.join("nope.kv"), &[], &dir.path);
    assert_eq!(missing.code, Some(2));
    assert!(missing.stderr.contains("cannot read"), "{}", missing.stderr);
    let empty = dir.file("empty.kv", b"# nothing\nCLIENT c1\n");
    let run = verify(&empty, &[], &dir.path);
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert!(run.stderr.contains("has no command"), "{}", run.stderr);
    let garbage = dir.file("bad.json", b"{\"kvsim_verify_report\": 1}");
    let run = kvsim(&["merge", garbage.to_str().unwrap()]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("not a valid verify report"),
        "{}",
        run.stderr
    );
}
