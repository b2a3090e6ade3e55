//! The shortest counterexample of the source-DPOR search: the violating
//! event with the smallest causal past under the dependence relation, over
//! every explored schedule. On `unlinked` the stale lookup needs five
//! events — a `CREATE`, the registry spawning the bucket, the kill, a
//! `LOOKUP` of the name and the registry answering it with the dead pid
//! (property 1) — and no fewer can break anything; the causal past, played
//! as an override list, breaks the same property at its fifth event.

use kvsim::check::verify::dpor::{Root, search};
use kvsim::check::{Case, CheckConfig, P1_LOOKUP_IS_ALIVE, RegistryFactory, run_case};
use kvsim::kv::Stage;
use std::path::Path;

#[allow(dead_code)]
#[path = "support/verify_cases.rs"]
mod verify_cases;
use verify_cases::{check, script_case as case};

fn shortest_is_the_stale_lookup(case: &Case) {
    let registry: &RegistryFactory<'_> = &|| Stage::Unlinked.registry();
    let result = search(case, registry, &check(), &Root::whole());
    let shortest = result.shortest.expect("unlinked breaks property 1");
    assert_eq!(shortest.property, P1_LOOKUP_IS_ALIVE);
    assert_eq!(shortest.causal_past, 5, "{:?}", shortest.schedule);
    assert_eq!(shortest.schedule.len(), 5);
    let mut sorted = shortest.schedule.clone();
    sorted.sort();
    assert_eq!(sorted, shortest.tiebreak);
    let replay = Case {
        schedule: shortest.schedule.clone(),
        ..case.clone()
    };
    let run = run_case(&replay, registry, &CheckConfig::default());
    let failure = run.failure.expect("the causal past replays the violation");
    assert_eq!(failure.property, P1_LOOKUP_IS_ALIVE);
    assert_eq!(failure.step, 5);
}

#[test]
fn the_stale_lookup_of_two_clients_is_five_events() {
    let text = "CLIENT c1\nCREATE a\nLOOKUP a\nCLIENT c2\nCREATE b\nLOOKUP a\n";
    shortest_is_the_stale_lookup(&case(Path::new("2x2.kv"), text, &["a"]));
}

/// `3x4` with the plan of two kills of each name, the largest of
/// `kill:2`'s plans (the others are sub-plans).
#[test]
#[ignore = "the whole reduced search of 3x4: run with --release -- --ignored"]
fn the_stale_lookup_of_3x4_is_five_events() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/verify/3x4.kv");
    let text = std::fs::read_to_string(&path).unwrap();
    shortest_is_the_stale_lookup(&case(&path, &text, &["a", "a", "b", "b"]));
}
