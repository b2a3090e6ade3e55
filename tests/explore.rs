//! The explorer (`check::explore`): the report does not depend on how the
//! work is split. The same configuration on 1 and 4 or 8 threads, and as three
//! shards merged, gives the same report outside its `timing` and `run`
//! sections, whether the run stops at a failure, keeps going, or holds;
//! by default the run stops at the lowest failing index and counts only
//! the indices up to it; `--keep-going` reports each property at its
//! lowest index; a merge refuses a missing or duplicate shard and a
//! configuration mismatch; `check_registry` is the explorer on one thread;
//! the determinism self-check catches a registry that reads a global
//! counter; and a stop request (Ctrl-C in `kvsim explore`) ends the run
//! with a report of exactly the cases before it.

use kvsim::check::{
    ExploreConfig, ExploreReport, MergeError, P1_LOOKUP_IS_ALIVE, Progress, PropertySet, Shard,
    Verdict, check_registry, explore, explore_with, merge, nth_case, run_case,
};
use kvsim::kv::{KvMsg, Registry, Stage};
use kvsim::otp::{CallResult, Envelope, Flow, From, GenServer, Info};
use kvsim::sim::{Ctx, Pid, Reason, Ref};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

fn config(stage: Stage, cases: u32, seed: u64) -> ExploreConfig {
    ExploreConfig {
        cases,
        seed,
        registry: stage.name().to_string(),
        threads: 1,
        ..ExploreConfig::default()
    }
}

fn on(stage: Stage, config: &ExploreConfig) -> ExploreReport {
    explore(&|| stage.registry(), config)
}

/// The reports agree outside `timing` and `run`, in JSON and in text.
fn assert_same(a: &ExploreReport, b: &ExploreReport) {
    assert_eq!(
        a.without_timing_and_run().to_json(),
        b.without_timing_and_run().to_json()
    );
    let before_timing = |r: &ExploreReport| {
        let text = r.to_string();
        text[..text.find("--- timing").expect("a timing section")].to_string()
    };
    assert_eq!(before_timing(a), before_timing(b));
}

/// Runs `config` as shards `0/n` .. `n-1/n` (each with `threads`
/// threads), through JSON as `kvsim merge` reads them, and merges.
fn sharded(stage: Stage, config: &ExploreConfig, n: u32, threads: usize) -> ExploreReport {
    let reports: Vec<ExploreReport> = (0..n)
        .map(|index| {
            let shard = ExploreConfig {
                shard: Shard { index, count: n },
                threads,
                ..config.clone()
            };
            let report = on(stage, &shard);
            serde_json::from_str(&report.to_json()).expect("a report reads back")
        })
        .collect();
    merge(&reports).expect("the shards merge")
}

#[test]
fn a_failing_run_stops_at_the_lowest_failing_index_whatever_the_split() {
    let config = config(Stage::Unlinked, 2_000, 3);
    let one = on(Stage::Unlinked, &config);
    let lowest = one.result.failures[0].index;
    assert_eq!(one.result.verdict, "failed");
    assert_eq!(one.result.failures.len(), 1);
    assert_eq!(one.result.through, Some(lowest));
    assert_eq!(one.result.cases_run, lowest + 1);
    assert_eq!(one.exit_code(), 1);
    // The lowest: every case before it holds (or has no verdict), and the
    // case at it breaks the property reported.
    let fixed_config = config.check.clone();
    for index in 0..lowest {
        let case = nth_case(&config, index as u32).unwrap();
        let run = run_case(&case, &|| Stage::Unlinked.registry(), &fixed_config);
        assert!(
            !matches!(run.verdict(), Verdict::Broken(_)),
            "case {index} broke"
        );
    }
    let case = nth_case(&config, lowest as u32).unwrap();
    let run = run_case(&case, &|| Stage::Unlinked.registry(), &fixed_config);
    let found = run.failure.expect("the lowest failing case breaks");
    assert_eq!(
        found.property.to_string(),
        one.result.failures[0].found.property
    );

    let eight = on(
        Stage::Unlinked,
        &ExploreConfig {
            threads: 8,
            ..config.clone()
        },
    );
    assert_same(&one, &eight);
    assert_eq!(eight.run.threads, 8);
    assert_same(&one, &sharded(Stage::Unlinked, &config, 3, 2));
}

#[test]
fn a_run_that_holds_is_the_same_on_four_threads_and_in_three_shards() {
    let config = config(Stage::Fixed, 600, 11);
    let one = on(Stage::Fixed, &config);
    assert_eq!(one.result.verdict, "held", "{one}");
    assert_eq!(one.result.cases_run, 600);
    assert_eq!(one.result.through, Some(599));
    assert_eq!(one.exit_code(), 0);
    // Every case is counted under its strategy, and each saw something.
    let per_strategy: u64 = one.result.coverage.iter().map(|c| c.cases).sum();
    assert_eq!(per_strategy, 600);
    assert_eq!(one.result.coverage.len(), 4);
    for coverage in &one.result.coverage {
        assert_eq!(coverage.cases, 150);
        assert!(coverage.distinct_outcomes > 1, "{coverage:?}");
        assert!(coverage.distinct_outcomes <= coverage.cases);
    }
    let four = on(
        Stage::Fixed,
        &ExploreConfig {
            threads: 4,
            ..config.clone()
        },
    );
    assert_same(&one, &four);
    let merged = sharded(Stage::Fixed, &config, 3, 1);
    assert_same(&one, &merged);
    assert_eq!(merged.run.shards.len(), 3);
}

#[test]
fn keep_going_reports_each_property_at_its_lowest_index_whatever_the_split() {
    let config = ExploreConfig {
        keep_going: true,
        shrink: kvsim::check::ShrinkConfig {
            shortest: false,
            ..Default::default()
        },
        ..config(Stage::Naive, 300, 5)
    };
    let one = on(Stage::Naive, &config);
    assert_eq!(one.result.cases_run, 300);
    assert!(one.result.failures.len() >= 2, "{one}");
    // Each property's lowest index: no earlier case breaks it first.
    for failure in &one.result.failures {
        for index in 0..failure.index {
            let case = nth_case(&config, index as u32).unwrap();
            let run = run_case(&case, &|| Stage::Naive.registry(), &config.check);
            if let Some(broken) = run.failure {
                assert_ne!(broken.property.to_string(), failure.found.property);
            }
        }
    }
    let mut properties: Vec<&str> = one
        .result
        .failures
        .iter()
        .map(|f| f.found.property.as_str())
        .collect();
    properties.dedup();
    assert_eq!(properties.len(), one.result.failures.len(), "distinct");
    assert_same(
        &one,
        &on(
            Stage::Naive,
            &ExploreConfig {
                threads: 3,
                ..config.clone()
            },
        ),
    );
    assert_same(&one, &sharded(Stage::Naive, &config, 3, 1));
}

#[test]
fn the_one_thread_search_is_the_explorer() {
    let config = config(Stage::Unlinked, 2_000, 3);
    let counterexample =
        check_registry(&|| Stage::Unlinked.registry(), &config).expect_err("unlinked breaks");
    let report = on(Stage::Unlinked, &config);
    assert_eq!(report.counterexample(), Some(&*counterexample));
    assert_eq!(
        u64::from(counterexample.cases_to_failure),
        report.result.cases_run
    );
}

#[test]
fn merge_refuses_a_missing_or_duplicate_shard_and_a_mismatch() {
    let config = config(Stage::Fixed, 30, 1);
    let shard = |index: u32, config: &ExploreConfig| {
        on(
            Stage::Fixed,
            &ExploreConfig {
                shard: Shard { index, count: 3 },
                ..config.clone()
            },
        )
    };
    let (a, b, c) = (shard(0, &config), shard(1, &config), shard(2, &config));
    assert!(merge(&[c.clone(), a.clone(), b.clone()]).is_ok());
    assert_eq!(
        merge(&[a.clone(), b.clone()]).unwrap_err(),
        MergeError::Missing {
            shard: Shard { index: 2, count: 3 }
        }
    );
    assert_eq!(
        merge(&[a.clone(), b.clone(), b.clone()]).unwrap_err(),
        MergeError::Duplicate {
            shard: Shard { index: 1, count: 3 }
        }
    );
    let other_seed = shard(
        2,
        &ExploreConfig {
            seed: 2,
            ..config.clone()
        },
    );
    let error = merge(&[a.clone(), b.clone(), other_seed]).unwrap_err();
    assert!(
        matches!(
            error,
            MergeError::Mismatch {
                report: 2,
                field: "the seed",
                ..
            }
        ),
        "{error:?}"
    );
    let other_properties = shard(
        2,
        &ExploreConfig {
            check: kvsim::check::CheckConfig {
                properties: PropertySet::only(&[P1_LOOKUP_IS_ALIVE]),
                ..config.check.clone()
            },
            ..config.clone()
        },
    );
    let error = merge(&[a, b, other_properties]).unwrap_err();
    assert!(
        matches!(
            error,
            MergeError::Mismatch {
                field: "the config hash",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(merge(&[]).unwrap_err(), MergeError::Empty);
}

/// A shard report names only its own shard's cases: the merge steps from
/// one of its indices to the next, so an index of another shard (a
/// damaged or hand-edited file) would shift every count after it. The
/// reader refuses it, naming the field, wherever it is.
#[test]
fn a_shard_report_naming_another_shards_case_is_refused() {
    let config = ExploreConfig {
        shard: Shard { index: 1, count: 3 },
        ..config(Stage::Unlinked, 300, 1)
    };
    let report = on(Stage::Unlinked, &config);
    let through = report.result.through.expect("the shard ran cases");
    assert_eq!(through % 3, 1);
    let text = report.to_json();
    assert!(ExploreReport::from_json(&text).is_ok());
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (pointer, field) in [
        ("/result/through", "result.through"),
        ("/run/completed_through", "run.completed_through"),
    ] {
        let mut edited = value.clone();
        let index = edited.pointer(pointer).and_then(serde_json::Value::as_u64);
        let index = index.unwrap_or_else(|| panic!("{pointer} holds an index"));
        *edited.pointer_mut(pointer).unwrap() = (index - 1).into();
        let error = ExploreReport::from_json(&edited.to_string()).unwrap_err();
        assert!(
            error.contains(field) && error.contains("which shard 1/3 does not run"),
            "{error}"
        );
    }
    let mut edited = value.clone();
    let failure = edited
        .pointer_mut("/result/failures/0/index")
        .expect("the unlinked registry fails within 300 cases");
    *failure = (failure.as_u64().unwrap() + 1).into();
    let error = ExploreReport::from_json(&edited.to_string()).unwrap_err();
    assert!(error.contains("a failure's index"), "{error}");
}

#[test]
fn shards_split_the_indices_by_residue() {
    let shard: Shard = "1/3".parse().unwrap();
    assert_eq!(shard.positions(10), 3); // 1, 4, 7
    assert_eq!(shard.case_index(2), 7);
    assert_eq!("2/3".parse::<Shard>().unwrap().positions(10), 3); // 2, 5, 8
    assert_eq!("0/3".parse::<Shard>().unwrap().positions(10), 4); // 0, 3, 6, 9
    assert_eq!(
        "3/3".parse::<Shard>().unwrap_err(),
        "\"3/3\": shard index 3 is out of range: shards of 3 are 0/3 to 2/3"
    );
    assert!("1/0".parse::<Shard>().is_err());
    assert!("x".parse::<Shard>().is_err());
}

#[test]
fn the_configuration_hash_is_stable_and_ignores_threads_and_shard() {
    let base = config(Stage::Fixed, 10, 0);
    let moved = ExploreConfig {
        threads: 7,
        shard: Shard { index: 1, count: 2 },
        out: Some("elsewhere".into()),
        ..base.clone()
    };
    assert_eq!(base.hash(), moved.hash());
    assert_ne!(
        base.hash(),
        ExploreConfig {
            seed: 1,
            ..base.clone()
        }
        .hash()
    );
    assert_ne!(
        base.hash(),
        ExploreConfig {
            cases: 11,
            ..base.clone()
        }
        .hash()
    );
}

/// A registry whose lookups read a process-wide counter: every other
/// lookup ever answered says "not found". Two runs of one case differ
/// whenever the first saw an odd number of lookups.
#[derive(Debug, Default)]
struct CountingRegistry {
    inner: kvsim::kv::stage::Fixed,
}

static LOOKUPS: AtomicU64 = AtomicU64::new(0);

impl GenServer<KvMsg> for CountingRegistry {
    fn handle_call(
        &mut self,
        ctx: &mut Ctx<'_, Envelope<KvMsg>>,
        req: KvMsg,
        from: From,
    ) -> CallResult<KvMsg> {
        if matches!(req, KvMsg::Lookup(_)) && LOOKUPS.fetch_add(1, Ordering::Relaxed) % 2 == 1 {
            return CallResult::Reply(KvMsg::Found(None));
        }
        self.inner.handle_call(ctx, req, from)
    }
    fn handle_cast(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, req: KvMsg) -> Flow {
        self.inner.handle_cast(ctx, req)
    }
    fn handle_info(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, info: Info<KvMsg>) -> Flow {
        self.inner.handle_info(ctx, info)
    }
    fn terminate(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, reason: &Reason) {
        self.inner.terminate(ctx, reason)
    }
}

impl Registry for CountingRegistry {
    fn names(&self) -> Vec<(String, Pid)> {
        self.inner.names()
    }
    fn monitor_refs(&self) -> Vec<(Ref, String)> {
        self.inner.monitor_refs()
    }
}

#[test]
fn the_determinism_check_catches_a_registry_that_reads_a_global_counter() {
    let config = ExploreConfig {
        check_determinism: true,
        check: kvsim::check::CheckConfig {
            properties: PropertySet::none(),
            ..Default::default()
        },
        ..config(Stage::Fixed, 200, 0)
    };
    let report = explore(&|| Box::new(CountingRegistry::default()), &config);
    assert_eq!(report.result.verdict, "nondeterministic", "{report}");
    assert_eq!(report.exit_code(), 4);
    let divergence = report.result.nondeterministic.as_ref().unwrap();
    assert_ne!(divergence.first, divergence.second);
    assert_eq!(report.result.cases_run, divergence.index + 1);
    assert!(report.to_string().contains("is not deterministic"));
    // The check itself raises no false alarm on a deterministic registry.
    let fixed = on(Stage::Fixed, &config);
    assert_eq!(fixed.result.verdict, "held", "{fixed}");
}

#[test]
fn a_stop_request_made_before_the_run_runs_no_case() {
    static STOP: AtomicBool = AtomicBool::new(true);
    let report = on(
        Stage::Fixed,
        &ExploreConfig {
            stop: Some(&STOP),
            ..config(Stage::Fixed, 100, 0)
        },
    );
    let result = &report.result;
    assert_eq!(result.verdict, "stopped");
    assert_eq!((result.cases_run, result.through), (0, None));
    assert!(!result.complete);
    assert_eq!(report.run.cases_executed, 0);
    assert_eq!(report.run.completed_through, None);
    assert!(report.run.interrupted());
    assert_eq!(report.exit_code(), 3);
    let text = report.to_string();
    assert!(
        text.contains("stopped early by Ctrl-C (interrupt): no case completed\n"),
        "{text}"
    );
    assert!(text.contains(", stopped by Ctrl-C (interrupt)\n"), "{text}");
}

/// Requests the stop once `after` cases have run.
struct StopAfter {
    stop: &'static AtomicBool,
    after: u64,
    done: AtomicU64,
}

impl Progress for StopAfter {
    fn case_done(&self, _failed: bool) {
        if self.done.fetch_add(1, Ordering::Relaxed) + 1 == self.after {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

#[test]
fn a_stop_request_mid_run_reports_the_cases_before_it_as_the_shorter_run_does() {
    static STOP: AtomicBool = AtomicBool::new(false);
    let stopping = ExploreConfig {
        stop: Some(&STOP),
        ..config(Stage::Fixed, 1_000, 5)
    };
    let progress = StopAfter {
        stop: &STOP,
        after: 40,
        done: AtomicU64::new(0),
    };
    let report = explore_with(&|| Stage::Fixed.registry(), &stopping, &progress);
    // On one thread the flag is read before each case: case 39 was the
    // last to start.
    let result = &report.result;
    assert_eq!(result.verdict, "stopped");
    assert_eq!((result.cases_run, result.through), (40, Some(39)));
    assert!(!result.complete);
    assert_eq!(
        (report.run.cases_executed, report.run.completed_through),
        (40, Some(39))
    );
    assert!(report.run.interrupted());
    assert_eq!(report.exit_code(), 3);
    let text = report.to_string();
    assert!(
        text.contains(
            "stopped early by Ctrl-C (interrupt): no property broke in 40 cases (cases 0..=39); \
             repeat exactly with --runs 40\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("40 cases executed, completed through 39, lowest failing none, stopped by Ctrl-C (interrupt)\n"),
        "{text}"
    );
    // What it counts is what `--runs 40` finds.
    let shorter = on(Stage::Fixed, &config(Stage::Fixed, 40, 5));
    assert_eq!(shorter.result.verdict, "held", "{shorter}");
    assert_eq!(result.coverage, shorter.result.coverage);
    assert_eq!(result.undecided, shorter.result.undecided);
    assert_eq!(result.cut, shorter.result.cut);
}

#[test]
fn a_stop_request_after_the_last_case_changes_nothing() {
    static STOP: AtomicBool = AtomicBool::new(false);
    let config = ExploreConfig {
        stop: Some(&STOP),
        ..config(Stage::Fixed, 40, 5)
    };
    let progress = StopAfter {
        stop: &STOP,
        after: 40,
        done: AtomicU64::new(0),
    };
    let report = explore_with(&|| Stage::Fixed.registry(), &config, &progress);
    assert!(STOP.load(Ordering::Relaxed));
    assert_eq!(report.result.verdict, "held", "{report}");
    assert_eq!(report.run.stopped_by, None);
    assert_eq!(report.exit_code(), 0);
}
