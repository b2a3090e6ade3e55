//! Synchronous stops as OTP does them (`proc_lib:stop/3`, which
//! `Agent.stop` and `GenServer.stop` use): the stopper monitors the
//! target, the target answers the terminate request it handles and then
//! exits, and only the stopper whose own request was answered gets `ok`.
//! A stopper whose target dies first exits with the target's reason
//! (`ERROR normal` in the dialogue), or `noproc` if it was already dead.
//! Measured on Erlang/OTP 25.2.3 + Elixir 1.14 with two clients stopping
//! one bucket: `a: OK, b: OK` never appears.

mod common;

use common::play_with;
use kvsim::check::Schedule;
use kvsim::kv::Stage;
use std::collections::{BTreeMap, BTreeSet};

const TWO_STOPPERS: &str = "CLIENT a\nCREATE x\nSTOP x\nCLIENT b\nSTOP x\n";

/// Each client's answer to its `STOP` line.
fn stop_answers(dialogue: &str, target: &str) -> BTreeMap<String, String> {
    let mut answers = BTreeMap::new();
    let mut client = String::new();
    let mut lines = dialogue.lines();
    while let Some(line) = lines.next() {
        if let Some(name) = line.strip_prefix("== ") {
            client = name.to_string();
        } else if line == format!("STOP {target}") {
            let answer = lines.next().unwrap_or_default().to_string();
            answers.insert(client.clone(), answer);
        }
    }
    answers
}

#[test]
fn under_fifo_the_second_stopper_gets_the_buckets_exit_reason() {
    for stage in Stage::ALL {
        let report = play_with(stage, Schedule::Fifo, 0, TWO_STOPPERS);
        assert_eq!(
            report.dialogue, "== a\nCREATE x\nOK\n\nSTOP x\nOK\n\n== b\nSTOP x\nERROR normal\n\n",
            "{stage}"
        );
    }
}

/// Every schedule gives exactly one `OK` (the bucket dies only by a stop
/// request, and only the stopper whose request it answered gets `ok`); the
/// other stopper saw the bucket die first (`ERROR normal`), found it dead
/// (`ERROR noproc`, a stale name) or not at all (`NOT FOUND`). Either
/// client can be the one whose request is handled.
#[test]
fn under_every_schedule_exactly_one_stopper_gets_ok() {
    let allowed_other: BTreeSet<&str> = ["ERROR normal", "ERROR noproc", "NOT FOUND"].into();
    for stage in Stage::ALL {
        let mut winners_with_error_normal = BTreeSet::new();
        for schedule in [Schedule::Random, Schedule::Pos, Schedule::Pct { depth: 3 }] {
            for seed in 0..300 {
                let report = play_with(stage, schedule, seed, TWO_STOPPERS);
                let answers = stop_answers(&report.dialogue, "x");
                let context = format!("{stage} {schedule:?} seed {seed}:\n{}", report.dialogue);
                assert_eq!(answers.len(), 2, "{context}");
                let oks: Vec<&String> = answers
                    .iter()
                    .filter(|(_, answer)| *answer == "OK")
                    .map(|(client, _)| client)
                    .collect();
                assert_eq!(oks.len(), 1, "{context}");
                let other_answer = answers
                    .values()
                    .find(|answer| *answer != "OK")
                    .expect("one stopper did not get OK");
                assert!(allowed_other.contains(other_answer.as_str()), "{context}");
                if other_answer == "ERROR normal" {
                    winners_with_error_normal.insert(oks[0].clone());
                }
            }
        }
        assert_eq!(
            winners_with_error_normal,
            BTreeSet::from(["a".to_string(), "b".to_string()]),
            "{stage}: both orders of the two stop requests are reached"
        );
    }
}

/// `STOP registry` is the chapter's `{:stop, :normal, :ok, state}` call:
/// the caller whose call was handled gets `OK`; the other one's call sees
/// the registry die (`ERROR normal`) or finds it dead (`ERROR noproc`).
#[test]
fn two_clients_stopping_the_registry_get_one_ok() {
    let script = "CLIENT a\nSTOP registry\nCLIENT b\nSTOP registry\n";
    for stage in Stage::ALL {
        let fifo = play_with(stage, Schedule::Fifo, 0, script);
        assert_eq!(
            fifo.dialogue, "== a\nSTOP registry\nOK\n\n== b\nSTOP registry\nERROR normal\n\n",
            "{stage}"
        );
        let mut winners = BTreeSet::new();
        for schedule in [Schedule::Random, Schedule::Pos] {
            for seed in 0..100 {
                let report = play_with(stage, schedule, seed, script);
                let answers = stop_answers(&report.dialogue, "registry");
                let oks: Vec<&String> = answers
                    .iter()
                    .filter(|(_, answer)| *answer == "OK")
                    .map(|(client, _)| client)
                    .collect();
                assert_eq!(oks.len(), 1, "{stage} seed {seed}:\n{}", report.dialogue);
                winners.insert(oks[0].clone());
                assert!(
                    answers
                        .values()
                        .all(|a| ["OK", "ERROR normal", "ERROR noproc"].contains(&a.as_str())),
                    "{stage} seed {seed}:\n{}",
                    report.dialogue
                );
            }
        }
        assert_eq!(winners.len(), 2, "{stage}: either client can win");
    }
}

/// A stop of a bucket that is already dead exits the stopper with
/// `noproc`, as before.
#[test]
fn stopping_a_dead_bucket_is_noproc() {
    let report = play_with(
        Stage::Naive,
        Schedule::Fifo,
        0,
        "CREATE b\nSTOP b\nSTOP b\n",
    );
    assert_eq!(
        report.dialogue,
        "CREATE b\nOK\n\nSTOP b\nOK\n\nSTOP b\nERROR noproc\n\n"
    );
}
