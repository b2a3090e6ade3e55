//! Every registry with a known flaw, as the shrinker's table
//! (tests/shrink_table.rs) and `benches/check.rs` measure them: the four
//! flawed stages, the test mutants of tests/mutants.rs, the "stale `DOWN`"
//! registries of tests/deep_races.rs, each searched with
//! `SearchConfig::default()`, and `unlinked` on the peer comparison's
//! `2x3`, `3x3` and `3x4` shapes (property 1 only). The includer declares
//! the `mutants` and `user_registry` modules (tests/support/).

use crate::mutants::Mutant;
use crate::user_registry::{Flaw, UserRegistry};
use kvsim::check::generate::{CommandKind, FaultKind, GenConfig};
use kvsim::check::{
    P1_LOOKUP_IS_ALIVE, P2_NAMES_MATCH_BUCKETS, P3_REGISTRY_DIES_ONLY_WHEN_TOLD, P4_LINEARIZABLE,
    P5_ONE_BUCKET_PER_NAME, P6_NO_CALL_TIMES_OUT, Property, PropertySet, RegistryFactory,
    SearchConfig,
};
use kvsim::kv::Stage;

/// One flawed registry and how it is searched.
pub struct Subject {
    pub name: String,
    pub registry: Box<RegistryFactory<'static>>,
    /// Seed 0; callers set the seed.
    pub search: SearchConfig,
}

/// The peers' `CxN` shape: `clients` × `commands` CREATE / LOOKUP commands
/// over `a` and `b`, up to two `kill bucket` faults, the default schedule
/// portfolio, no swarm.
pub fn peers_shape(clients: usize, commands: usize) -> GenConfig {
    GenConfig {
        clients: clients..=clients,
        commands_per_client: commands..=commands,
        faults: 0..=2,
        command_kinds: vec![CommandKind::Create, CommandKind::Lookup],
        fault_kinds: vec![FaultKind::KillBucket],
        swarm: false,
        ..GenConfig::default()
    }
}

/// Every subject, in the table's order.
pub fn subjects() -> Vec<Subject> {
    let mut out = Vec::new();
    for stage in [
        Stage::Naive,
        Stage::Monitored,
        Stage::NoCatchAll,
        Stage::Unlinked,
    ] {
        out.push(Subject {
            name: stage.name().to_string(),
            registry: Box::new(move || stage.registry()),
            search: SearchConfig::default(),
        });
    }
    for mutant in [
        Mutant::CreateAlwaysSpawns,
        Mutant::LookupNeverReplies,
        Mutant::DownKeepsRef,
        Mutant::PutForgets,
    ] {
        out.push(Subject {
            name: format!("mutant:{}", mutant.name()),
            registry: Box::new(mutant.factory()),
            search: SearchConfig::default(),
        });
    }
    for (flaw, name) in [
        (Flaw::CreateTrustsMap, "create-trusts-map"),
        (Flaw::LookupTrustsMap, "lookup-trusts-map"),
        (Flaw::DownByName, "down-by-name"),
    ] {
        out.push(Subject {
            name: format!("user-registry:{name}"),
            registry: Box::new(UserRegistry::factory(flaw)),
            search: SearchConfig::default(),
        });
    }
    for (clients, commands) in [(2, 3), (3, 3), (3, 4)] {
        let mut search = SearchConfig {
            generator: peers_shape(clients, commands),
            ..SearchConfig::default()
        };
        search.check.properties = PropertySet::only(&[P1_LOOKUP_IS_ALIVE]);
        out.push(Subject {
            name: format!("unlinked {clients}x{commands}"),
            registry: Box::new(|| Stage::Unlinked.registry()),
            search,
        });
    }
    out
}

/// The smallest case, in events, breaking `property` first on the subject
/// named `name` (see [`SMALLEST`]); `None` when the table has no entry.
pub fn smallest(name: &str, property: Property) -> Option<u64> {
    let stem = name.split(' ').next().unwrap_or(name);
    SMALLEST
        .iter()
        .find(|(subject, p, _)| *subject == stem && *p == property)
        .map(|&(_, _, events)| events)
}

/// The smallest case per flawed registry and property, in events (the
/// failure's step: events up to the one at which the property breaks,
/// before any other), as `cargo test --release --test shrink_table --
/// --ignored` computes it with the exhaustive oracle (see
/// tests/shrink_table.rs for the family of cases it covers). The peers'
/// shapes (`unlinked 2x3`, …, property 1 only) use `unlinked`'s entries:
/// the oracle gives property 1 the same 5 events there.
pub const SMALLEST: &[(&str, Property, u64)] = &[
    ("naive", P1_LOOKUP_IS_ALIVE, 5),
    ("naive", P2_NAMES_MATCH_BUCKETS, 10),
    ("naive", P3_REGISTRY_DIES_ONLY_WHEN_TOLD, 4),
    ("monitored", P1_LOOKUP_IS_ALIVE, 5),
    ("monitored", P3_REGISTRY_DIES_ONLY_WHEN_TOLD, 4),
    ("no-catch-all", P1_LOOKUP_IS_ALIVE, 5),
    ("no-catch-all", P3_REGISTRY_DIES_ONLY_WHEN_TOLD, 1),
    ("unlinked", P1_LOOKUP_IS_ALIVE, 5),
    ("unlinked", P4_LINEARIZABLE, 9),
    ("mutant:create-always-spawns", P5_ONE_BUCKET_PER_NAME, 4),
    ("mutant:lookup-never-replies", P6_NO_CALL_TIMES_OUT, 3),
    ("mutant:down-keeps-ref", P2_NAMES_MATCH_BUCKETS, 4),
    ("mutant:put-forgets", P4_LINEARIZABLE, 12),
    ("user-registry:create-trusts-map", P4_LINEARIZABLE, 8),
    ("user-registry:lookup-trusts-map", P1_LOOKUP_IS_ALIVE, 5),
    ("user-registry:down-by-name", P2_NAMES_MATCH_BUCKETS, 6),
    ("user-registry:down-by-name", P4_LINEARIZABLE, 9),
    ("user-registry:down-by-name", P5_ONE_BUCKET_PER_NAME, 8),
];
