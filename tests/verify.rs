//! The library's `verify`: fault plans of a budget, the plain engine
//! against the oracle's enumerator plan by plan, the verdicts, the
//! shortest counterexample replayed, and the same report for any thread
//! count and any split into shards.

use kvsim::check::oracle::{OracleConfig, enumerate};
use kvsim::check::verify::merge;
use kvsim::check::{
    Case, Reduction, Shard, VerifyConfig, VerifyReport, fault_plans, replay, verify,
};
use kvsim::kv::{Stage, script};
use std::path::Path;

#[path = "support/user_registry.rs"]
mod user_registry;
use user_registry::{Flaw, UserRegistry};

fn scenario(name: &str) -> Case {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/verify")
        .join(format!("{name}.kv"));
    let file = std::fs::File::open(&path).expect("the scenario exists");
    let script = script::read_text(&path, file).expect("it parses");
    Case::from_script(&script.to_script())
}

/// Two clients on one name: c1 creates `a` and looks it up, c2 looks it
/// up. With `kill:1`, 2,032 schedules over two plans: small enough for the
/// plain engine at the test profile's optimisation.
fn two_clients() -> Case {
    let text = "CLIENT c1\nCREATE a\nLOOKUP a\nCLIENT c2\nLOOKUP a\n";
    let script = script::parse(Path::new("two_clients.kv"), text.as_bytes()).unwrap();
    Case::from_script(&script)
}

fn config(faults: &str, reduction: Reduction, threads: usize) -> VerifyConfig {
    VerifyConfig {
        faults: VerifyConfig::parse_faults(faults).expect("a budget"),
        reduction,
        threads,
        ..VerifyConfig::default()
    }
}

#[test]
fn the_plans_of_a_budget_are_every_count_of_each_kind_on_each_role() {
    let case = scenario("2x3");
    let plans = fault_plans(&case, &VerifyConfig::parse_faults("kill:2").unwrap());
    // 0 to 2 kills of bucket a times 0 to 2 kills of bucket b.
    assert_eq!(plans.len(), 9);
    assert!(plans[0].is_empty(), "the plan without faults comes first");
    let texts: Vec<Vec<String>> = plans
        .iter()
        .map(|p| p.iter().map(|f| f.fault.to_string()).collect())
        .collect();
    assert_eq!(texts[1], ["kill bucket:b"]);
    assert_eq!(texts[2], ["kill bucket:a"]);
    assert_eq!(
        texts[8],
        [
            "kill bucket:a",
            "kill bucket:a",
            "kill bucket:b",
            "kill bucket:b"
        ]
    );
    for plan in &plans {
        let ids: Vec<u32> = plan.iter().map(|f| f.id).collect();
        assert_eq!(ids, (0..plan.len() as u32).collect::<Vec<_>>());
    }
    let mixed = fault_plans(
        &case,
        &VerifyConfig::parse_faults("stray:1,crash-registry:1,crash:1").unwrap(),
    );
    assert_eq!(mixed.len(), 2 * 2 * 2 * 2);
    assert!(fault_plans(&case, &[]).len() == 1);
}

#[test]
fn every_bucket_name_the_script_mentions_is_a_role() {
    // c2 only looks `b` up: a registry of one's own may still start a
    // bucket `b`, so it is a role like `a`.
    let text = "CLIENT c1\nCREATE a\nCLIENT c2\nLOOKUP b\n";
    let script = script::parse(Path::new("t.kv"), text.as_bytes()).unwrap();
    let case = Case::from_script(&script);
    let plans = fault_plans(&case, &VerifyConfig::parse_faults("kill:1").unwrap());
    assert_eq!(plans.len(), 4);
    assert_eq!(plans[3].len(), 2);
}

#[test]
fn explore_s_default_budget_is_refused_with_a_reason() {
    let error = VerifyConfig::parse_faults("default").unwrap_err();
    assert!(error.contains("KIND:N"), "{error}");
    let error = VerifyConfig::parse_faults("kill:x").unwrap_err();
    assert!(error.contains("not a count"), "{error}");
    let error = VerifyConfig::parse_faults("bite:1").unwrap_err();
    assert!(error.contains("unknown fault kind"), "{error}");
}

#[test]
fn the_plain_engine_runs_every_schedule_the_oracle_enumerates_plan_by_plan() {
    let case = two_clients();
    let config = config("kill:1", Reduction::None, 1);
    let registry = || Stage::Fixed.registry();
    let report = verify(&case, &registry, &config);
    let mut oracle = OracleConfig::default();
    oracle.check.limits.steps_max = config.check.limits.steps_max;
    let mut runs = 0;
    let mut outcomes = std::collections::BTreeSet::new();
    for faults in fault_plans(&case, &config.faults) {
        let plan = Case {
            faults,
            ..case.clone()
        };
        let enumerated = enumerate(&plan, &registry, &oracle);
        assert!(enumerated.complete());
        runs += enumerated.runs;
        outcomes.extend(enumerated.outcomes.into_keys());
    }
    assert_eq!(report.result.schedules, runs);
    assert_eq!(report.result.distinct_outcomes, outcomes.len() as u64);
    assert_eq!(report.result.verdict, "verified", "{report}");
    assert_eq!(report.exit_code(), 0);
    assert!(report.to_string().contains("verified within bounds"));
}

#[test]
fn unlinked_fails_and_its_shortest_counterexample_replays() {
    let dir = std::env::temp_dir().join(format!("kvsim-verify-lib-{}", std::process::id()));
    let case = two_clients();
    let config = VerifyConfig {
        registry: "unlinked".to_string(),
        out: Some(dir.clone()),
        ..config("kill:1", Reduction::None, 2)
    };
    let registry = || Stage::Unlinked.registry();
    let report = verify(&case, &registry, &config);
    assert_eq!(report.result.verdict, "failed", "{report}");
    assert_eq!(report.exit_code(), 1);
    let found = report
        .result
        .counterexample
        .as_ref()
        .expect("a counterexample");
    assert_eq!(found.property, "P1 lookup-is-alive");
    // The kill, c1's create and lookup and their deliveries: c2's lookup
    // is no part of it.
    assert_eq!(found.causal_past, 5);
    // The case file holds just those events: it breaks at the fifth.
    assert_eq!(found.step, 5);
    assert_eq!(found.case["schedule"].as_array().map(Vec::len), Some(5));
    assert_eq!(found.plan, ["kill bucket:a"]);
    let path = found.case_file.as_ref().expect("saved");
    let line = found.replay.as_ref().expect("a replay line");
    assert!(line.starts_with("kvsim replay "), "{line}");
    assert!(found.report.contains("--- slice"), "{}", found.report);
    let replayed = replay(&registry, path).expect("a case file");
    let failure = replayed.run.failure.expect("it breaks again");
    assert_eq!(failure.property.to_string(), found.property);
    assert_eq!(failure.step, found.step);
    let _ = std::fs::remove_dir_all(dir);
}

/// The report outside `timing` and `run`, as text and JSON.
fn stable(report: &VerifyReport) -> String {
    report.without_timing_and_run().to_json()
}

#[test]
fn any_thread_count_and_any_split_gives_the_same_report() {
    let case = two_clients();
    for (stage, name) in [(Stage::Fixed, "fixed"), (Stage::Unlinked, "unlinked")] {
        let registry = move || stage.registry();
        let base = VerifyConfig {
            registry: name.to_string(),
            ..config("kill:1", Reduction::None, 1)
        };
        let one = verify(&case, &registry, &base);
        for threads in [2, 4] {
            let other = verify(
                &case,
                &registry,
                &VerifyConfig {
                    threads,
                    ..base.clone()
                },
            );
            assert_eq!(stable(&one), stable(&other), "{threads} threads on {name}");
        }
        let shards: Vec<VerifyReport> = (0..3)
            .map(|index| {
                let shard = Shard { index, count: 3 };
                let report = verify(
                    &case,
                    &registry,
                    &VerifyConfig {
                        shard,
                        ..base.clone()
                    },
                );
                VerifyReport::from_json(&report.to_json()).expect("reads back")
            })
            .collect();
        let merged = merge(&shards).expect("merges");
        assert_eq!(stable(&one), stable(&merged), "3 shards on {name}");
        let reversed: Vec<VerifyReport> = shards.iter().rev().cloned().collect();
        assert_eq!(stable(&merge(&reversed).unwrap()), stable(&one));
        assert!(merge(&shards[..2]).is_err(), "a missing shard");
    }
}

#[test]
fn a_user_registry_verifies_from_cargo_test() {
    let case = two_clients();
    let config = VerifyConfig {
        registry: "my_registry".to_string(),
        ..config("kill:1", Reduction::None, 1)
    };
    let faithful = verify(&case, &UserRegistry::factory(Flaw::Faithful), &config);
    assert_eq!(faithful.result.verdict, "verified", "{faithful}");
    let flawed = verify(
        &case,
        &UserRegistry::factory(Flaw::LookupTrustsMap),
        &config,
    );
    assert_eq!(flawed.result.verdict, "failed", "{flawed}");
    let c = flawed.result.counterexample.as_ref().unwrap();
    assert!(c.replay.is_none(), "no --out: nothing saved");
}

#[test]
fn a_step_bound_too_low_is_no_verdict_never_verified() {
    let case = scenario("chapter");
    let mut config = config("none", Reduction::None, 1);
    config.check.limits.steps_max = 5;
    let report = verify(&case, &|| Stage::Fixed.registry(), &config);
    assert_eq!(report.result.verdict, "no verdict", "{report}");
    assert!(report.result.cut > 0);
    assert_eq!(report.exit_code(), 3);
    assert!(!report.to_string().contains("verified within"));
}

/// A queue's length limit cuts a schedule as `--max-steps` does: under
/// either engine the verdict is "no verdict", never "verified".
#[test]
fn a_queue_limit_too_low_is_no_verdict_under_either_engine() {
    let case = scenario("2x3k");
    for reduction in [Reduction::None, Reduction::SourceDpor] {
        let mut config = config("none", reduction, 1);
        config.check.limits.queue_len_max = 1;
        let report = verify(&case, &|| Stage::Fixed.registry(), &config);
        assert_eq!(
            report.result.verdict, "no verdict",
            "{reduction:?}: {report}"
        );
        assert!(report.result.cut > 0, "{reduction:?}");
        assert_eq!(report.exit_code(), 3);
    }
}

#[test]
fn a_spent_time_budget_is_stopped_never_verified() {
    let case = two_clients();
    let config = VerifyConfig {
        max_time: Some(std::time::Duration::ZERO),
        ..config("kill:1", Reduction::None, 1)
    };
    let report = verify(&case, &|| Stage::Fixed.registry(), &config);
    assert_eq!(report.result.verdict, "stopped", "{report}");
    assert!(!report.result.complete);
    assert_eq!(report.exit_code(), 3);
    assert_eq!(report.run.stopped_by.as_deref(), Some("max-time"));
}

#[test]
fn stopping_at_the_first_failing_item_is_the_same_on_any_thread_count() {
    let case = two_clients();
    let registry = || Stage::Unlinked.registry();
    let base = VerifyConfig {
        registry: "unlinked".to_string(),
        stop_at_first: true,
        ..config("kill:1", Reduction::None, 1)
    };
    let one = verify(&case, &registry, &base);
    assert_eq!(one.result.verdict, "failed", "{one}");
    let whole = verify(
        &case,
        &registry,
        &VerifyConfig {
            stop_at_first: false,
            ..base.clone()
        },
    );
    assert!(one.result.items_searched < whole.result.items_searched);
    assert!(one.result.schedules < whole.result.schedules);
    let found = one.result.counterexample.as_ref().unwrap();
    assert_eq!(
        found.item + 1,
        one.result.items_searched,
        "it stops at the failing item"
    );
    for threads in [2, 4] {
        let other = verify(
            &case,
            &registry,
            &VerifyConfig {
                threads,
                ..base.clone()
            },
        );
        assert_eq!(stable(&one), stable(&other), "{threads} threads");
    }
}

#[test]
fn a_stop_request_before_the_start_searches_nothing_and_says_so() {
    static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);
    let case = two_clients();
    let config = VerifyConfig {
        stop: Some(&STOP),
        ..config("kill:1", Reduction::None, 2)
    };
    let report = verify(&case, &|| Stage::Fixed.registry(), &config);
    assert_eq!(report.result.verdict, "stopped", "{report}");
    assert_eq!(report.result.items_searched, 0);
    assert_eq!(report.result.schedules, 0);
    assert_eq!(report.run.stopped_by.as_deref(), Some("interrupted"));
    assert!(
        report
            .to_string()
            .contains("stopped early by Ctrl-C (interrupt), NOT verified")
    );
    assert_eq!(report.exit_code(), 3);
}
