//! Test-only mutants for the properties no chapter stage breaks: each is
//! the `fixed` registry of src/kv/stage/fixed.rs, copied into
//! tests/support/mutants.rs, with exactly one change, and each is shown to
//! break exactly its property, on several fixed seeds, with a 1-minimal
//! shrunk case kept as a reviewed snapshot:
//!
//! - (5) `create` always spawns a new bucket, even over a live one;
//! - (6) `lookup` never replies, so the client's call times out;
//! - (2) the `DOWN` handler drops the name but keeps the ref;
//! - (4) buckets acknowledge a put without storing it.
//!
//! The unchanged copy holds every property on the same seeds, so each
//! break comes from its one change.

mod common;

use common::{assert_one_minimal, review, shape, words};
use insta::assert_snapshot;
use kvsim::check::generate::{CommandKind, GenConfig};
use kvsim::check::{
    BUILTIN_PROPERTIES, CheckConfig, Counterexample, P2_NAMES_MATCH_BUCKETS, P4_LINEARIZABLE,
    P5_ONE_BUCKET_PER_NAME, P6_NO_CALL_TIMES_OUT, Property, PropertySet, SearchConfig,
    ShrinkTarget, check_registry,
};
#[path = "support/mutants.rs"]
mod mutants;

use mutants::Mutant;

// ----- harness -----

/// Every search draws this many cases (not `PROPTEST_CASES`: the seeds, and
/// so the snapshots, must not depend on the environment).
const SEARCH_CASES: u32 = 256;

/// The seeds every mutant must be caught on.
const SEEDS: std::ops::Range<u64> = 0..5;

/// A search with the default generator, checking `properties`.
fn search(properties: PropertySet, seed: u64) -> SearchConfig {
    search_with(GenConfig::default(), properties, seed)
}

fn search_with(generator: GenConfig, properties: PropertySet, seed: u64) -> SearchConfig {
    SearchConfig {
        cases: SEARCH_CASES,
        seed,
        generator,
        check: CheckConfig {
            properties,
            ..CheckConfig::default()
        },
        shrink_to: ShrinkTarget::FirstFound,
        ..SearchConfig::default()
    }
}

/// The mutant's counterexample for exactly `property` on every seed: found,
/// naming `property`, 1-minimal (removing any one command, fault or
/// override makes `property` hold). Returns seed 0's.
fn caught(mutant: Mutant, property: Property, generator: GenConfig) -> Counterexample {
    let registry = mutant.factory();
    let mut first = None;
    for seed in SEEDS {
        let config = search_with(generator.clone(), PropertySet::only(&[property]), seed);
        let counterexample = match check_registry(&registry, &config) {
            Ok(cases) => panic!("{}, seed {seed}: passed {cases} cases", mutant.name()),
            Err(counterexample) => *counterexample,
        };
        assert_eq!(
            counterexample.failure.property,
            property,
            "{}, seed {seed}:\n{counterexample}",
            mutant.name()
        );
        assert_one_minimal(&registry, &config.check, &counterexample);
        first.get_or_insert(counterexample);
    }
    first.expect("SEEDS is not empty")
}

/// The built-in properties a search for each one alone (seed 0) finds broken.
fn broken_properties(mutant: Mutant) -> Vec<Property> {
    BUILTIN_PROPERTIES
        .into_iter()
        .filter(|&property| {
            check_registry(
                &mutant.factory(),
                &search(PropertySet::only(&[property]), 0),
            )
            .is_err()
        })
        .collect()
}

/// The property the default search, all six properties on, reports first.
fn first_found(mutant: Mutant) -> Property {
    match check_registry(&mutant.factory(), &search(PropertySet::default(), 0)) {
        Ok(cases) => panic!("{}: passed {cases} cases", mutant.name()),
        Err(counterexample) => counterexample.failure.property,
    }
}

// ----- the tests -----

/// The copy is faithful: with no change it holds every property on every
/// seed, as `fixed` does, with the default generator and with the data
/// commands only (the generator of the put-forgets search).
#[test]
fn the_unchanged_copy_holds_every_property() {
    for generator in [GenConfig::default(), data_commands()] {
        for seed in SEEDS {
            let config = search_with(generator.clone(), PropertySet::default(), seed);
            match check_registry(&Mutant::Faithful.factory(), &config) {
                Ok(summary) => assert!(summary.all_hold(), "seed {seed}: {summary}"),
                Err(counterexample) => panic!("seed {seed}, {generator:?}:\n{counterexample}"),
            }
        }
    }
}

/// CREATE, PUT, GET and DELETE only.
fn data_commands() -> GenConfig {
    GenConfig {
        command_kinds: vec![
            CommandKind::Create,
            CommandKind::Put,
            CommandKind::Get,
            CommandKind::Delete,
        ],
        ..GenConfig::default()
    }
}

/// (5) CREATE a twice: the second spawns a second live bucket for `a`.
#[test]
fn create_always_spawns_breaks_one_bucket_per_name() {
    let mutant = Mutant::CreateAlwaysSpawns;
    let counterexample = caught(mutant, P5_ONE_BUCKET_PER_NAME, GenConfig::default());
    assert_eq!(
        shape(&counterexample.case),
        (
            words(&["client0: CREATE a", "client0: CREATE a"]),
            vec![],
            vec![]
        )
    );
    assert_snapshot!(
        "create_always_spawns",
        review(&format!("mutant:{}", mutant.name()), &counterexample)
    );
    // Two more properties break, each searched for alone: the orphaned
    // old bucket is a live bucket the registry does not name (2); and the
    // orphan's death, a model event that removes `a`, is followed by a
    // successful STOP of the new bucket `a` (4). With all six on, 5 breaks
    // first, at the second spawn itself, before the quiescence at which 2
    // is checked and before any orphan dies.
    assert_eq!(
        broken_properties(mutant),
        [
            P2_NAMES_MATCH_BUCKETS,
            P4_LINEARIZABLE,
            P5_ONE_BUCKET_PER_NAME
        ]
    );
    assert_eq!(first_found(mutant), P5_ONE_BUCKET_PER_NAME);
}

/// (6) One command that looks a bucket up: never answered, the call times
/// out. The shrinker's last pass turns whatever command it was into the
/// plainest one that still fails: `LOOKUP a`.
#[test]
fn lookup_never_replies_breaks_no_call_times_out() {
    let mutant = Mutant::LookupNeverReplies;
    let counterexample = caught(mutant, P6_NO_CALL_TIMES_OUT, GenConfig::default());
    assert_eq!(
        shape(&counterexample.case),
        (words(&["client0: LOOKUP a"]), vec![], vec![])
    );
    assert_eq!(
        counterexample.failure.detail,
        "client0's LOOKUP a timed out"
    );
    assert_snapshot!(
        "lookup_never_replies",
        review(&format!("mutant:{}", mutant.name()), &counterexample)
    );
    assert_eq!(broken_properties(mutant), [P6_NO_CALL_TIMES_OUT]);
    assert_eq!(first_found(mutant), P6_NO_CALL_TIMES_OUT);
}

/// (2) CREATE a, and the bucket dies: its name goes, its ref stays.
#[test]
fn down_keeps_ref_breaks_names_match_buckets() {
    let mutant = Mutant::DownKeepsRef;
    let counterexample = caught(mutant, P2_NAMES_MATCH_BUCKETS, GenConfig::default());
    let (commands, _, schedule) = shape(&counterexample.case);
    assert_eq!(commands[0], "client0: CREATE a");
    assert_eq!(counterexample.case.size(), 2);
    assert!(schedule.is_empty());
    assert_snapshot!(
        "down_keeps_ref",
        review(&format!("mutant:{}", mutant.name()), &counterexample)
    );
    assert_eq!(broken_properties(mutant), [P2_NAMES_MATCH_BUCKETS]);
    assert_eq!(first_found(mutant), P2_NAMES_MATCH_BUCKETS);
}

/// (4) CREATE a, PUT a k v, GET a k: the put was acknowledged, the get
/// finds nothing. Searched with the data commands only: the default
/// generator finds it on seeds 0..4 but not on seed 4 (256 cases; it needs
/// CREATE, PUT and GET of one name and key, in that order, in one case).
#[test]
fn put_forgets_breaks_linearizability() {
    let mutant = Mutant::PutForgets;
    let counterexample = caught(mutant, P4_LINEARIZABLE, data_commands());
    assert_eq!(
        shape(&counterexample.case),
        (
            words(&[
                "client0: CREATE a",
                "client0: PUT a a 1",
                "client0: GET a a"
            ]),
            vec![],
            vec![]
        )
    );
    assert_snapshot!(
        "put_forgets",
        review(&format!("mutant:{}", mutant.name()), &counterexample)
    );
    assert_eq!(broken_properties(mutant), [P4_LINEARIZABLE]);
    assert_eq!(first_found(mutant), P4_LINEARIZABLE);
}
