//! `kvsim explore` and `kvsim merge` through the binary: a failure found,
//! shrunk, saved and replayed by the printed command; a report that is the
//! same on 1 and 4 threads and as three merged shards; merge's refusals;
//! bad flags (exit 2); the time budget (exit 3); the determinism check on
//! a deterministic registry; and the peer scenarios of `examples/verify/`,
//! which parse, run, break `unlinked` and hold on `fixed`.

mod common;

use common::{Run, TempDir, kvsim};
use std::path::Path;

/// The report's text before `--- timing`: what must not vary.
fn result_part(stdout: &str) -> &str {
    &stdout[..stdout.find("--- timing").expect("a timing section")]
}

fn explore(flags: &[&str], out: &Path) -> Run {
    let mut args = vec!["explore", "--out", out.to_str().unwrap()];
    args.extend_from_slice(flags);
    kvsim(&args)
}

#[test]
fn the_dead_lookup_is_found_shrunk_saved_and_replayed() {
    let dir = TempDir::new("explore-unlinked");
    let run = explore(&["--registry", "unlinked", "--properties", "1"], &dir.path);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("property P1 lookup-is-alive broke at event 5 on registry unlinked"),
        "{}",
        run.stdout
    );
    // The replay command is the failure's last line before coverage.
    let replay = run
        .stdout
        .lines()
        .find(|line| line.starts_with("kvsim replay "))
        .expect("a replay command");
    let words: Vec<&str> = replay.split(' ').skip(1).collect();
    let replayed = kvsim(&words);
    assert_eq!(replayed.code, Some(1), "{}", replayed.stdout);
    assert!(
        replayed
            .stdout
            .contains("P1 lookup-is-alive broke at event 5")
    );
    // The saved case holds the explicit override list.
    let file = std::fs::read_to_string(words[1]).unwrap();
    assert!(file.contains("\"schedule\": ["), "{file}");
    // With every property, unlinked breaks too (its first flaw found may
    // be another than the dead lookup).
    let all = explore(&["--registry", "unlinked"], &dir.path);
    assert_eq!(all.code, Some(1), "{}", all.stdout);
}

#[test]
fn the_report_is_the_same_on_one_and_four_threads_and_in_merged_shards() {
    let dir = TempDir::new("explore-split");
    let flags = ["--registry", "fixed", "--runs", "200", "--seed", "4"];
    let one = explore(&[&flags[..], &["--threads", "1"]].concat(), &dir.path);
    assert_eq!(one.code, Some(0), "{}{}", one.stdout, one.stderr);
    assert!(one.stdout.contains("all properties hold in 200 cases"));
    let four = explore(&[&flags[..], &["--threads", "4"]].concat(), &dir.path);
    assert_eq!(result_part(&one.stdout), result_part(&four.stdout));
    assert_ne!(one.stdout, four.stdout, "the run section says the threads");

    let mut files = Vec::new();
    for shard in ["0/3", "1/3", "2/3"] {
        let run = explore(
            &[&flags[..], &["--shard", shard, "--json"]].concat(),
            &dir.path,
        );
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let name = format!("shard{}.json", &shard[..1]);
        files.push(dir.file(&name, run.stdout.as_bytes()));
    }
    let paths: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    let merged = kvsim(&[&["merge"][..], &paths].concat());
    assert_eq!(merged.code, Some(0), "{}", merged.stderr);
    assert_eq!(result_part(&one.stdout), result_part(&merged.stdout));

    // A missing shard, a duplicate one, a mismatched one, not a report.
    let missing = kvsim(&["merge", paths[0], paths[1]]);
    assert_eq!(missing.code, Some(2));
    assert_eq!(missing.stderr, "kvsim merge: shard 2/3 is missing\n");
    let duplicate = kvsim(&["merge", paths[0], paths[1], paths[1], paths[2]]);
    assert_eq!(duplicate.code, Some(2));
    assert_eq!(duplicate.stderr, "kvsim merge: shard 1/3 is given twice\n");
    let other = explore(
        &[
            "--registry",
            "fixed",
            "--runs",
            "200",
            "--seed",
            "5",
            "--shard",
            "2/3",
            "--json",
        ],
        &dir.path,
    );
    let other = dir.file("other.json", other.stdout.as_bytes());
    let mismatch = kvsim(&["merge", paths[0], paths[1], other.to_str().unwrap()]);
    assert_eq!(mismatch.code, Some(2));
    assert_eq!(
        mismatch.stderr,
        "kvsim merge: report 3 does not match report 1: the seed is 5, expected 4\n"
    );
    let junk = dir.file("junk.json", b"{\"a\": 1}");
    let not_a_report = kvsim(&["merge", junk.to_str().unwrap()]);
    assert_eq!(not_a_report.code, Some(2));
    assert!(not_a_report.stderr.contains("not a kvsim explore report"));
}

#[test]
fn a_failing_run_merges_to_the_unsharded_report() {
    let dir = TempDir::new("explore-split-failing");
    let flags = [
        "--registry",
        "unlinked",
        "--runs",
        "3000",
        "--properties",
        "1",
    ];
    let whole = explore(&flags, &dir.path);
    assert_eq!(whole.code, Some(1));
    let mut files = Vec::new();
    for shard in ["0/3", "1/3", "2/3"] {
        let run = explore(
            &[&flags[..], &["--shard", shard, "--json"]].concat(),
            &dir.path,
        );
        files.push(dir.file(&format!("s{}.json", &shard[..1]), run.stdout.as_bytes()));
    }
    let paths: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    let merged = kvsim(&[&["merge"][..], &paths].concat());
    assert_eq!(merged.code, Some(1), "{}", merged.stderr);
    assert_eq!(result_part(&whole.stdout), result_part(&merged.stdout));
}

#[test]
fn bad_flags_exit_2_with_a_message() {
    let dir = TempDir::new("explore-flags");
    for (flags, message) in [
        (&["--shard", "3/3"][..], "shard index 3 is out of range"),
        (
            &["--schedule", "random", "--depth", "2"][..],
            "--depth applies only",
        ),
        (&["--faults", "boom:1"][..], "unknown fault kind \"boom\""),
        (&["--properties", "7"][..], "unknown property \"7\""),
        (&["--clients", "0"][..], "bounds start at 1"),
        (&["--max-time", "soon"][..], "is not a duration"),
        (&["--runs", "0"][..], "--runs"),
        (&["no-such-script.kv"][..], "cannot read no-such-script.kv"),
        (
            &["examples/verify/2x3.kv", "--clients", "2"][..],
            "only faults and schedules vary",
        ),
    ] {
        let run = explore(flags, &dir.path);
        assert_eq!(run.code, Some(2), "{flags:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{flags:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn a_spent_time_budget_reports_what_ran_and_exits_3() {
    let dir = TempDir::new("explore-time");
    let run = explore(&["--max-time", "0s", "--runs", "50"], &dir.path);
    assert_eq!(run.code, Some(3), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("stopped early by the time budget (--max-time): no case completed\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("stopped by the time budget (--max-time)\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_determinism_check_passes_a_deterministic_registry() {
    let dir = TempDir::new("explore-determinism");
    let run = explore(&["--check-determinism", "--runs", "100"], &dir.path);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stdout.contains("determinism checked"));
}

#[test]
fn the_peer_scenarios_parse_run_break_unlinked_and_hold_on_fixed() {
    let dir = TempDir::new("explore-peers");
    for (name, faults) in [
        ("chapter", "none"),
        ("2x3k", "none"),
        ("2x3", "kill:2"),
        ("2x4", "kill:2"),
        ("3x3", "kill:2"),
        ("3x4", "kill:2"),
        ("4x3", "kill:2"),
        ("4x4", "kill:2"),
    ] {
        let script = format!("examples/verify/{name}.kv");
        let played = kvsim(&["run", &script]);
        assert_eq!(played.code, Some(0), "{name}: {}", played.stderr);
        let flags = |registry| {
            vec![
                script.clone(),
                "--registry".into(),
                registry,
                "--faults".into(),
                faults.into(),
                "--properties".into(),
                "1".into(),
                "--runs".into(),
                "300".into(),
            ]
        };
        let unlinked: Vec<String> = flags("unlinked".into());
        let unlinked: Vec<&str> = unlinked.iter().map(String::as_str).collect();
        let broken = explore(&unlinked, &dir.path);
        assert_eq!(broken.code, Some(1), "{name}: {}", broken.stdout);
        assert!(broken.stdout.contains("P1 lookup-is-alive broke"), "{name}");
        let fixed: Vec<String> = flags("fixed".into());
        let fixed: Vec<&str> = fixed.iter().map(String::as_str).collect();
        let held = explore(&fixed, &dir.path);
        assert_eq!(held.code, Some(0), "{name}: {}", held.stdout);
    }
}

#[test]
fn a_failure_that_cannot_be_saved_is_exit_5_over_the_broken_property() {
    let dir = TempDir::new("explore-unsaved");
    // A directory cannot be made under a file.
    let out = dir.file("not-a-dir", b"").join("failures");
    let run = explore(&["--registry", "unlinked", "--properties", "1"], &out);
    assert_eq!(run.code, Some(5), "{}", run.stdout);
    assert!(
        run.stderr.starts_with("kvsim: cannot save the case in "),
        "{}",
        run.stderr
    );
    // The report still says what broke.
    assert!(
        run.stdout.contains("P1 lookup-is-alive broke"),
        "{}",
        run.stdout
    );
}
