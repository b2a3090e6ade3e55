//! Property checking end to end: `fixed` holds
//! every property of docs/design.md § Checking over generated cases; the
//! generator reaches the window of property 1 (a lookup delivered while the
//! looked-up bucket's `DOWN` is still in flight) often enough that no
//! property passes vacuously; and for each flawed stage the harness finds
//! its flaw on every one of several fixed seeds, names a property that
//! stage can break, and shrinks the case to a 1-minimal one of the expected
//! shape, kept as a reviewed snapshot (the case file and its trace). Each
//! shape search is rerun on `fixed`, which must pass it.

mod common;

use common::{assert_one_minimal, review, shape, words};
use insta::assert_snapshot;
use kvsim::check::generate::{CommandKind, FaultKind, GenConfig, assemble, cases};
use kvsim::check::{
    Case, CaseMeta, CaseRun, CheckConfig, Counterexample, P1_LOOKUP_IS_ALIVE,
    P2_NAMES_MATCH_BUCKETS, P3_REGISTRY_DIES_ONLY_WHEN_TOLD, P4_LINEARIZABLE, Property,
    PropertySet, SearchConfig, ShrinkConfig, ShrinkTarget, check_registry, run_case, shrink_case,
};
use kvsim::kv::{Command, Registry, Stage, Target};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{FileFailurePersistence, RngSeed, TestRunner};

// ----- harness -----

/// Every search of this file draws this many cases (not `PROPTEST_CASES`:
/// the seeds, and so the snapshots, must not depend on the environment).
const SEARCH_CASES: u32 = 256;

/// The seeds every flaw must be found on.
const SEEDS: std::ops::Range<u64> = 0..5;

fn fixed() -> Box<dyn Registry> {
    Stage::Fixed.registry()
}

/// A registry factory for `stage`, as `check_registry` and `run_case` take it.
fn factory(stage: Stage) -> impl Fn() -> Box<dyn Registry> {
    move || stage.registry()
}

/// What a search is: the generator, the properties checked, and the seed.
#[derive(Clone)]
struct Search {
    generator: GenConfig,
    properties: PropertySet,
    shrink: ShrinkConfig,
}

impl Search {
    /// The default generator, all six properties.
    fn everything() -> Search {
        Search {
            generator: GenConfig::default(),
            properties: PropertySet::default(),
            shrink: ShrinkConfig::default(),
        }
    }

    fn only(properties: &[Property], generator: GenConfig) -> Search {
        Search {
            generator,
            properties: PropertySet::only(properties),
            shrink: ShrinkConfig::default(),
        }
    }

    /// The same search, shrunk without the shortening pass.
    fn without_shortening(&self) -> Search {
        Search {
            shrink: ShrinkConfig {
                shortest: false,
                ..ShrinkConfig::default()
            },
            ..self.clone()
        }
    }

    fn config(&self, seed: u64) -> SearchConfig {
        SearchConfig {
            cases: SEARCH_CASES,
            seed,
            generator: self.generator.clone(),
            check: self.check(),
            shrink_to: ShrinkTarget::FirstFound,
            shrink: self.shrink.clone(),
            ..SearchConfig::default()
        }
    }

    fn check(&self) -> CheckConfig {
        CheckConfig {
            properties: self.properties.clone(),
            ..CheckConfig::default()
        }
    }

    /// The counterexample `stage` gives on `seed`; panics if every case passed.
    fn counterexample(&self, stage: Stage, seed: u64) -> Counterexample {
        match check_registry(&factory(stage), &self.config(seed)) {
            Ok(cases) => panic!("{stage}, seed {seed}: no flaw found in {cases} cases"),
            Err(counterexample) => *counterexample,
        }
    }

    /// `fixed` passes this search on every seed.
    fn assert_fixed_passes(&self) {
        for seed in SEEDS {
            match check_registry(&fixed, &self.config(seed)) {
                Ok(summary) => {
                    assert_eq!(summary.cases, SEARCH_CASES, "seed {seed}");
                    assert!(summary.all_hold(), "seed {seed}: {summary}");
                }
                Err(counterexample) => panic!("fixed, seed {seed}:\n{counterexample}"),
            }
        }
    }
}

/// A failure of `fixed`, as a report: proptest has shrunk the case; the
/// harness's shrinker then takes it to a 1-minimal one (docs/design.md: property
/// tests run it after proptest's own shrinking), traced.
fn explain(case: &Case, run: &CaseRun) -> String {
    let Some(failure) = &run.failure else {
        return "no failure".to_string();
    };
    let config = CheckConfig::default();
    let (shrunk, _) = shrink_case(case, &fixed, &config, failure.property);
    let traced = run_case(
        &shrunk,
        &fixed,
        &CheckConfig {
            tracing: true,
            ..config
        },
    );
    let shrunk_failure = traced
        .failure
        .as_ref()
        .map_or("no failure".to_string(), ToString::to_string);
    let trace = traced.trace.map(|t| t.to_text()).unwrap_or_default();
    format!(
        "{failure}\n\nshrunk: {shrunk_failure}\n{}\n{trace}",
        shrunk.to_json(&CaseMeta::default())
    )
}

// ----- fixed holds every property -----

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/property_checks.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// Over generated clients, faults and schedules, `fixed` breaks none of
    /// the six properties.
    #[test]
    fn fixed_holds_every_property(case in cases(GenConfig::default())) {
        let run = run_case(&case, &fixed, &CheckConfig::default());
        prop_assert!(run.failure.is_none(), "{}", explain(&case, &run));
    }

    /// The same, with every command and fault kind in every case and one
    /// bucket name, the generator that reaches property 1's window often
    /// (see `generated_lookups_reach_the_stale_window`).
    #[test]
    fn fixed_holds_every_property_when_names_collide(case in cases(colliding())) {
        let run = run_case(&case, &fixed, &CheckConfig::default());
        prop_assert!(run.failure.is_none(), "{}", explain(&case, &run));
    }
}

// ----- no property passes vacuously -----

/// One bucket name and no swarm (every command and fault kind in every
/// case): the settings under which at least 5 % of generated cases reach
/// property 1's window.
fn colliding() -> GenConfig {
    GenConfig {
        names: vec!["a".into()],
        swarm: false,
        ..GenConfig::default()
    }
}

/// How many of 256 cases generated from `seed` deliver a lookup to the
/// registry while the looked-up bucket's `DOWN` is still in flight on
/// `stage`. Checked with no property, so that no run stops early.
fn stale_window_hits(stage: Stage, generator: GenConfig, seed: u64) -> usize {
    let mut runner = TestRunner::new(ProptestConfig {
        rng_seed: RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    });
    let strategy = cases(generator);
    let check = CheckConfig {
        properties: PropertySet::none(),
        ..CheckConfig::default()
    };
    (0..256)
        .filter(|_| {
            let case = strategy
                .new_tree(&mut runner)
                .expect("the generator draws a case")
                .current();
            run_case(&case, &factory(stage), &check).reached_stale_lookup_window
        })
        .count()
}

/// Sometimes: at least 5 % of 256 generated cases (seed 0) reach a lookup
/// delivered while the looked-up bucket's `DOWN` is in flight, on `fixed`
/// and on `unlinked`. Needs the `colliding` generator: see the next test.
#[test]
fn generated_lookups_reach_the_stale_window() {
    for stage in [Stage::Fixed, Stage::Unlinked] {
        let hits = stale_window_hits(stage, colliding(), 0);
        assert!(
            hits * 20 >= 256,
            "{stage}: only {hits} of 256 cases reach the stale-lookup window"
        );
    }
}

/// The default generator reaches the window too, but in fewer than 5 % of
/// cases: 3 of 256 on fixed and 5 on unlinked with seed 0 (1.2–2.7 % over
/// seeds 0..4). Two bucket names halve the collisions, and swarm testing
/// leaves STOP and both bucket faults out of many cases, so no bucket dies.
/// Pinned here so that a generator change which loses the window
/// altogether fails.
#[test]
fn the_default_generator_reaches_the_stale_window_rarely() {
    for stage in [Stage::Fixed, Stage::Unlinked] {
        let hits = stale_window_hits(stage, GenConfig::default(), 0);
        assert!(
            hits >= 1,
            "{stage}: only {hits} of 256 default cases reach the stale-lookup window"
        );
    }
}

// ----- each flawed stage: found, allowed property, 1-minimal -----

/// On every seed the default search finds a flaw of `stage`, names one of
/// the properties it can break, and shrinks it to a 1-minimal case; the
/// counterexample of seed 0 is returned for review.
fn assert_flaw_found(stage: Stage, can_break: &[Property]) -> Counterexample {
    let search = Search::everything();
    let mut first = None;
    for seed in SEEDS {
        let counterexample = search.counterexample(stage, seed);
        assert!(
            can_break.contains(&counterexample.failure.property),
            "{stage}, seed {seed}: {} is not a property {stage} can break:\n{counterexample}",
            counterexample.failure.property
        );
        assert_one_minimal(&factory(stage), &search.check(), &counterexample);
        first.get_or_insert(counterexample);
    }
    first.expect("SEEDS is not empty")
}

#[test]
fn naive_flaw_is_found_and_shrunk() {
    let can_break = [
        P1_LOOKUP_IS_ALIVE,
        P2_NAMES_MATCH_BUCKETS,
        P3_REGISTRY_DIES_ONLY_WHEN_TOLD,
        P4_LINEARIZABLE,
    ];
    let counterexample = assert_flaw_found(Stage::Naive, &can_break);
    assert_snapshot!(
        "naive_counterexample",
        review(Stage::Naive.name(), &counterexample)
    );
}

#[test]
fn monitored_flaw_is_found_and_shrunk() {
    let can_break = [
        P1_LOOKUP_IS_ALIVE,
        P3_REGISTRY_DIES_ONLY_WHEN_TOLD,
        P4_LINEARIZABLE,
    ];
    let counterexample = assert_flaw_found(Stage::Monitored, &can_break);
    assert_snapshot!(
        "monitored_counterexample",
        review(Stage::Monitored.name(), &counterexample)
    );
}

#[test]
fn no_catch_all_flaw_is_found_and_shrunk() {
    let can_break = [
        P1_LOOKUP_IS_ALIVE,
        P3_REGISTRY_DIES_ONLY_WHEN_TOLD,
        P4_LINEARIZABLE,
    ];
    let counterexample = assert_flaw_found(Stage::NoCatchAll, &can_break);
    assert_snapshot!(
        "no_catch_all_counterexample",
        review(Stage::NoCatchAll.name(), &counterexample)
    );
}

#[test]
fn unlinked_flaw_is_found_and_shrunk() {
    let can_break = [P1_LOOKUP_IS_ALIVE, P4_LINEARIZABLE];
    let counterexample = assert_flaw_found(Stage::Unlinked, &can_break);
    assert_snapshot!(
        "unlinked_counterexample",
        review(Stage::Unlinked.name(), &counterexample)
    );
}

#[test]
fn fixed_passes_the_default_search() {
    Search::everything().assert_fixed_passes();
}

// ----- the expected shapes -----

/// Searches `stage` on every seed; each counterexample must break
/// `property`, be 1-minimal, and have the same shape (commands, faults,
/// overrides) and failing step as seed 0's, which is returned. `fixed`
/// passes the same search.
fn assert_shape(stage: Stage, search: &Search, property: Property) -> Counterexample {
    let mut first: Option<Counterexample> = None;
    for seed in SEEDS {
        let counterexample = search.counterexample(stage, seed);
        assert_eq!(
            counterexample.failure.property, property,
            "{stage}, seed {seed}:\n{counterexample}"
        );
        assert_one_minimal(&factory(stage), &search.check(), &counterexample);
        if let Some(first) = &first {
            assert_eq!(
                (shape(&counterexample.case), counterexample.failure.step),
                (shape(&first.case), first.failure.step),
                "{stage}, seed {seed} shrank to another shape than seed 0's:\n{counterexample}"
            );
        } else {
            first = Some(counterexample);
        }
    }
    search.assert_fixed_passes();
    first.expect("SEEDS is not empty")
}

/// A linked stage: CREATE a, then the bucket crashes and takes the
/// registry down (property 3), on every seed; the case is snapshotted.
fn assert_create_crash_kills_registry(stage: Stage, snapshot: &str) {
    let search = Search::only(
        &[P3_REGISTRY_DIES_ONLY_WHEN_TOLD],
        GenConfig {
            fault_kinds: vec![FaultKind::CrashBucket],
            ..GenConfig::default()
        },
    );
    let counterexample = assert_shape(stage, &search, P3_REGISTRY_DIES_ONLY_WHEN_TOLD);
    assert_eq!(
        shape(&counterexample.case),
        (
            words(&["client0: CREATE a"]),
            words(&["crash bucket:a"]),
            vec![]
        )
    );
    assert_snapshot!(snapshot, review(stage.name(), &counterexample));
}

/// `naive`: CREATE a, then the bucket crashes; being linked, it takes the
/// registry down (property 3).
#[test]
fn naive_bucket_crash_kills_the_registry() {
    assert_create_crash_kills_registry(Stage::Naive, "naive_create_crash_kills_registry");
}

/// `naive`: CREATE a, STOP a, then a lookup of `a`: with no monitor the
/// stopped bucket's name stays, and the lookup names the dead bucket
/// (property 1). The search finds it through a stop (no faults are
/// generated); the shortening pass then replaces the `STOP a` by a kill of
/// the bucket with one override, the 5-event minimum of
/// tests/shrink_table.rs. Without the pass, the stop case stays, and
/// whatever command made the second lookup, the normalising pass makes it
/// the plainest one, `LOOKUP a`; that case is also checked by hand.
#[test]
fn naive_lookup_after_stop_names_a_dead_bucket() {
    let search = Search::only(
        &[P1_LOOKUP_IS_ALIVE],
        GenConfig {
            command_kinds: vec![CommandKind::Create, CommandKind::Stop, CommandKind::Lookup],
            fault_kinds: vec![],
            ..GenConfig::default()
        },
    );
    let shortest = assert_shape(Stage::Naive, &search, P1_LOOKUP_IS_ALIVE);
    assert_eq!(
        (shape(&shortest.case), shortest.failure.step),
        (
            (
                words(&["client0: CREATE a", "client0: LOOKUP a"]),
                words(&["kill bucket:a"]),
                words(&["fault0"])
            ),
            5
        )
    );
    let counterexample = assert_shape(
        Stage::Naive,
        &search.without_shortening(),
        P1_LOOKUP_IS_ALIVE,
    );
    assert_eq!(
        shape(&counterexample.case),
        (
            words(&["client0: CREATE a", "client0: STOP a", "client0: LOOKUP a"]),
            vec![],
            vec![]
        )
    );
    assert_eq!(
        counterexample.failure.detail,
        "the registry's lookup reply names bucket:a#0, dead at this step"
    );
    assert_snapshot!(
        "naive_create_stop_lookup_names_dead_bucket",
        review(Stage::Naive.name(), &counterexample)
    );

    let by_hand = assemble(
        vec![vec![
            Command::Create { bucket: "a".into() },
            Command::Stop {
                target: Target::Bucket("a".into()),
            },
            Command::Lookup { bucket: "a".into() },
        ]],
        vec![],
        vec![],
    );
    let run = run_case(&by_hand, &factory(Stage::Naive), &search.check());
    let failure = run
        .failure
        .expect("CREATE a, STOP a, LOOKUP a fails on naive");
    assert_eq!(
        (failure.property, failure.step),
        (P1_LOOKUP_IS_ALIVE, counterexample.failure.step)
    );
    let by_hand = Counterexample {
        failure: failure.clone(),
        case: by_hand,
        found: failure,
        cases_to_failure: 0,
        before: Default::default(),
        trace: String::new(),
        slice: String::new(),
    };
    assert_one_minimal(&factory(Stage::Naive), &search.check(), &by_hand);
    assert!(
        run_case(&by_hand.case, &fixed, &search.check())
            .failure
            .is_none()
    );
}

/// `monitored`: CREATE a, then the bucket crashes: monitored but still
/// linked, it takes the registry down (property 3).
#[test]
fn monitored_bucket_crash_kills_the_registry() {
    assert_create_crash_kills_registry(Stage::Monitored, "monitored_create_crash_kills_registry");
}

/// `no-catch-all`: one stray message, and nothing else, kills the registry
/// at the first event (property 3). Stray faults only: with bucket faults
/// too, some seeds find the flaw it shares with `monitored` first (a
/// crashing linked bucket).
#[test]
fn no_catch_all_stray_message_kills_the_registry() {
    let search = Search::only(
        &[P3_REGISTRY_DIES_ONLY_WHEN_TOLD],
        GenConfig {
            fault_kinds: vec![FaultKind::StrayRegistry],
            ..GenConfig::default()
        },
    );
    let counterexample = assert_shape(Stage::NoCatchAll, &search, P3_REGISTRY_DIES_ONLY_WHEN_TOLD);
    assert_eq!(
        shape(&counterexample.case),
        (vec![], words(&["stray registry"]), vec![])
    );
    assert_eq!(counterexample.failure.step, 1);
    assert_snapshot!(
        "no_catch_all_stray_kills_registry",
        review(Stage::NoCatchAll.name(), &counterexample)
    );
}

/// `unlinked`: CREATE a, LOOKUP a, and a kill of the bucket that lands
/// after it starts but before the lookup is handled: the lookup is handled
/// with the bucket's `DOWN` still queued and names the dead bucket
/// (property 1).
#[test]
fn unlinked_kill_before_lookup_names_a_dead_bucket() {
    let search = Search::only(
        &[P1_LOOKUP_IS_ALIVE],
        GenConfig {
            command_kinds: vec![CommandKind::Create, CommandKind::Lookup],
            fault_kinds: vec![FaultKind::KillBucket],
            ..GenConfig::default()
        },
    );
    let counterexample = assert_shape(Stage::Unlinked, &search, P1_LOOKUP_IS_ALIVE);
    let (commands, faults, _) = shape(&counterexample.case);
    assert_eq!(
        (commands, faults),
        (
            words(&["client0: CREATE a", "client0: LOOKUP a"]),
            words(&["kill bucket:a"])
        )
    );
    assert_snapshot!(
        "unlinked_kill_before_lookup_names_dead_bucket",
        review(Stage::Unlinked.name(), &counterexample)
    );
}
