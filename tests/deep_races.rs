//! Races that need a death signal to be overtaken, found by default: with
//! `SearchConfig::default()` (the portfolio of generated overrides, random
//! walk, POS and PCT) on seeds 0..=19, `check_registry` finds each of these
//! registries' flaws on every seed. Each registry is written with the
//! public API only, as a user would write their own, and each carries one
//! flaw of the "stale `DOWN`" kind:
//!
//! - `CreateTrustsMap`: `lookup` checks liveness, `create` trusts its map.
//!   A `CREATE` that reaches the registry after a `STOP` (or a kill) but
//!   before the bucket's `DOWN` is swallowed as "exists"; the `DOWN` then
//!   drops the name, and a later lookup answers `NOT FOUND`: a lost
//!   restart (a `DOWN` overtaken by a later `CREATE`; property 4).
//! - `LookupTrustsMap`: `create` checks liveness, `lookup` trusts its map:
//!   a lookup handled before a stopped bucket's `DOWN` names a dead bucket
//!   (a `DOWN` overtaken by a lookup; property 1).
//! - `DownByName`: both check liveness, but `create` over a dead bucket
//!   keeps the old monitor, and the `DOWN` handler removes the *name* the
//!   ref was for: the old incarnation's stale `DOWN` removes the new bucket
//!   (properties 2 and 4).
//!
//! `Faithful` (no flaw) holds every property on the same seeds, so each
//! failure comes from its flaw.

use kvsim::check::{
    P1_LOOKUP_IS_ALIVE, P2_NAMES_MATCH_BUCKETS, P4_LINEARIZABLE, P5_ONE_BUCKET_PER_NAME, Property,
    SearchConfig, check_registry,
};

#[path = "support/user_registry.rs"]
mod user_registry;

use user_registry::{Flaw, UserRegistry};

const SEEDS: std::ops::RangeInclusive<u64> = 0..=19;

/// The property each seed's search broke, after shrinking.
fn found_on_every_seed(flaw: Flaw, expected: &[Property]) -> Vec<(u64, Property, u32)> {
    let factory = UserRegistry::factory(flaw);
    SEEDS
        .map(|seed| {
            let config = SearchConfig {
                seed,
                ..SearchConfig::default()
            };
            let counterexample = check_registry(&factory, &config).err().unwrap_or_else(|| {
                panic!(
                    "{flaw:?}, seed {seed}: not found in {} cases",
                    config.cases
                )
            });
            let property = counterexample.failure.property;
            assert!(
                expected.contains(&property),
                "{flaw:?}, seed {seed}: broke {property}, expected one of {expected:?}\n{counterexample}"
            );
            (seed, property, counterexample.cases_to_failure)
        })
        .collect()
}

#[test]
#[ignore = "a measurement: prints cases to the first failure per seed"]
fn measure() {
    for flaw in [
        Flaw::CreateTrustsMap,
        Flaw::LookupTrustsMap,
        Flaw::DownByName,
    ] {
        let factory = UserRegistry::factory(flaw);
        let counts: Vec<String> = SEEDS
            .map(|seed| {
                let config = SearchConfig {
                    seed,
                    cases: 100_000,
                    ..SearchConfig::default()
                };
                match check_registry(&factory, &config) {
                    Err(c) => format!("{}:{}", c.cases_to_failure, c.failure.property.number),
                    Ok(_) => "-".to_string(),
                }
            })
            .collect();
        println!("{flaw:?}: {}", counts.join(" "));
    }
}

#[test]
fn a_down_overtaken_by_a_later_create_is_a_lost_restart() {
    found_on_every_seed(Flaw::CreateTrustsMap, &[P4_LINEARIZABLE]);
}

#[test]
fn a_down_overtaken_by_a_lookup_names_a_dead_bucket() {
    found_on_every_seed(
        Flaw::LookupTrustsMap,
        &[P1_LOOKUP_IS_ALIVE, P4_LINEARIZABLE],
    );
}

#[test]
fn a_stale_down_of_an_old_incarnation_removes_the_new_one() {
    found_on_every_seed(
        Flaw::DownByName,
        &[
            P2_NAMES_MATCH_BUCKETS,
            P4_LINEARIZABLE,
            P5_ONE_BUCKET_PER_NAME,
        ],
    );
}

#[test]
fn the_faithful_registry_holds_on_the_same_seeds() {
    let factory = UserRegistry::factory(Flaw::Faithful);
    for seed in SEEDS {
        // More cases than any flaw above needed on any seed.
        let config = SearchConfig {
            seed,
            cases: 2_000,
            ..SearchConfig::default()
        };
        match check_registry(&factory, &config) {
            Ok(summary) => assert!(summary.all_hold(), "seed {seed}: {summary}"),
            Err(counterexample) => panic!("seed {seed}: {counterexample}"),
        }
    }
}
