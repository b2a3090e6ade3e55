//! The shrinker reaches the true minimum: on `unlinked`,
//! the peers' scenario `2x3` (two clients, three commands each, up to two
//! bucket-kill faults, generated overrides), checking property 1 only, every
//! proptest seed 0..19 shrinks to the same 5-event counterexample. Proptest
//! over a plain "i-th enabled event" index reached it on 1 seed of 20.

use kvsim::check::generate::{GenConfig, assemble, strategy};
use kvsim::check::{
    Case, CaseMeta, CheckConfig, P1_LOOKUP_IS_ALIVE, PropertySet, explicit, run_case, shrink_case,
};
use kvsim::kv::{Command, KvFault, Registry, Stage};
use kvsim::sim::{EventKey, Limits};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

fn create(name: &str) -> Command {
    Command::Create {
        bucket: name.to_string(),
    }
}

fn lookup(name: &str) -> Command {
    Command::Lookup {
        bucket: name.to_string(),
    }
}

/// `2x3`: c1 [create a, lookup a, create b]; c2 [create b, lookup b, lookup a];
/// up to two kill faults, each on any bucket; a schedule from the default
/// portfolio (generated overrides, random walk, POS, PCT).
fn scenario_2x3() -> impl Strategy<Value = Case> {
    let kill = prop_oneof![
        Just(KvFault::KillBucket("a".into())),
        Just(KvFault::KillBucket("b".into()))
    ];
    let faults = proptest::collection::vec(kill, 0..=2);
    (faults, strategy(&GenConfig::default())).prop_map(|(faults, strategy)| {
        let clients = vec![
            vec![create("a"), lookup("a"), create("b")],
            vec![create("b"), lookup("b"), lookup("a")],
        ];
        let mut case = assemble(clients, faults, Vec::new());
        case.strategy = Some(strategy);
        case
    })
}

fn unlinked() -> Box<dyn Registry> {
    Stage::Unlinked.registry()
}

fn config() -> CheckConfig {
    CheckConfig {
        properties: PropertySet::only(&[P1_LOOKUP_IS_ALIVE]),
        limits: Limits::default(),
        tracing: false,
        ..CheckConfig::default()
    }
}

/// Proptest finds and shrinks a failing case; then the shrinker.
fn shrunk_counterexample(seed: u64) -> Case {
    let runner_config = Config {
        cases: 1000,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(runner_config);
    let result = runner.run(&scenario_2x3(), |case| {
        match run_case(&case, &unlinked, &config()).failure {
            None => Ok(()),
            Some(failure) => Err(TestCaseError::fail(failure.to_string())),
        }
    });
    let Err(TestError::Fail(_, found)) = result else {
        panic!("seed {seed}: no counterexample in 1000 cases: {result:?}");
    };
    let found = explicit(&found, &run_case(&found, &unlinked, &config()));
    let (shrunk, failure) = shrink_case(&found, &unlinked, &config(), P1_LOOKUP_IS_ALIVE);
    assert!(
        failure.is_some(),
        "seed {seed}: the shrunk case no longer fails"
    );
    shrunk
}

#[test]
fn every_seed_shrinks_to_the_five_event_minimum() {
    for seed in 0..20 {
        let case = shrunk_counterexample(seed);
        let json = case.to_json(&CaseMeta::default());
        assert_eq!(case.clients.len(), 1, "seed {seed}: one client\n{json}");
        let commands: Vec<&Command> = case.clients[0].commands.iter().map(|(_, c)| c).collect();
        assert_eq!(
            commands,
            [&create("a"), &lookup("a")],
            "seed {seed}\n{json}"
        );
        assert_eq!(case.faults.len(), 1, "seed {seed}\n{json}");
        assert_eq!(
            case.faults[0].fault,
            KvFault::KillBucket("a".into()),
            "seed {seed}\n{json}"
        );
        assert!(
            case.schedule.len() <= 1,
            "seed {seed}: at most one override\n{json}"
        );
        let failure = run_case(&case, &unlinked, &config())
            .failure
            .expect("fails");
        assert_eq!(failure.property, P1_LOOKUP_IS_ALIVE, "seed {seed}");
        assert_eq!(failure.step, 5, "seed {seed}: exactly 5 events\n{json}");
        assert!(
            json.len() < 1024,
            "seed {seed}: a minimal case file is under 1 KB ({} bytes)",
            json.len()
        );
    }
}

#[test]
fn the_minimum_is_the_kill_landing_between_create_and_lookup() {
    let case = shrunk_counterexample(0);
    assert_eq!(case.schedule, [EventKey::fault(case.faults[0].id)]);
    // Without the override the fault fires last and nothing breaks.
    let mut without = case.clone();
    without.schedule.clear();
    assert!(run_case(&without, &unlinked, &config()).failure.is_none());
    // The fixed registry checks liveness and survives the same schedule.
    let fixed = || Stage::Fixed.registry();
    assert!(run_case(&case, &fixed, &config()).failure.is_none());
}
