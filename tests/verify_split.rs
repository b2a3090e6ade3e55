//! Splitting the reduced search (`check::verify::dpor::split`) into roots
//! at a fixed depth K and searching each root alone: for every K from 0 to
//! 3 the roots together reach the same outcomes and the same smallest
//! causal past of a violation as the unsplit search; for a fixed K, the
//! verdict, the shortest counterexample and the schedule count do not
//! depend on how the roots are dealt out (round-robin to 1, 2 or 3 shards,
//! each shard's roots searched in reverse order).

use kvsim::check::oracle::RunOutcome;
use kvsim::check::verify::dpor::{DporResult, Root, Violation, search, split};
use kvsim::check::{Case, RegistryFactory};
use kvsim::kv::Stage;
use std::collections::BTreeSet;
use std::path::Path;

#[allow(dead_code)]
#[path = "support/verify_cases.rs"]
mod verify_cases;
use verify_cases::{check, script_case};

fn case(text: &str, kills: &[&str]) -> Case {
    script_case(Path::new("split.kv"), text, kills)
}

/// What the merged searches of some roots came to: the order-free parts.
#[derive(Debug, PartialEq, Eq)]
struct Merged {
    outcomes: BTreeSet<RunOutcome>,
    schedules: u64,
    shortest: Option<Violation>,
}

fn merge(results: &[DporResult]) -> Merged {
    let mut merged = Merged {
        outcomes: BTreeSet::new(),
        schedules: 0,
        shortest: None,
    };
    for result in results {
        merged.outcomes.extend(result.outcomes.keys().cloned());
        merged.schedules += result.stats.schedules;
        if let Some(violation) = &result.shortest
            && merged
                .shortest
                .as_ref()
                .is_none_or(|best| violation.better_than(best))
        {
            merged.shortest = Some(violation.clone());
        }
    }
    merged
}

fn search_all(
    case: &Case,
    registry: &RegistryFactory<'_>,
    roots: &[Root],
    order: &[usize],
) -> Vec<DporResult> {
    order
        .iter()
        .map(|&i| search(case, registry, &check(), &roots[i]))
        .collect()
}

fn splits_agree(name: &str, case: &Case, stage: Stage) {
    let registry: &RegistryFactory<'_> = &move || stage.registry();
    let whole = merge(&[search(case, registry, &check(), &Root::whole())]);
    for depth in 0..=3 {
        let roots = split(case, registry, &check(), depth);
        assert_eq!(
            roots,
            split(case, registry, &check(), depth),
            "deterministic"
        );
        let in_order: Vec<usize> = (0..roots.len()).collect();
        let merged = merge(&search_all(case, registry, &roots, &in_order));
        assert_eq!(
            merged.outcomes, whole.outcomes,
            "{name} on {stage:?}, K = {depth}: other outcomes"
        );
        let rank = |m: &Merged| {
            m.shortest
                .as_ref()
                .map(|v| (v.causal_past, v.tiebreak.clone(), v.property))
        };
        assert_eq!(
            rank(&merged),
            rank(&whole),
            "{name} on {stage:?}, K = {depth}: another smallest causal past"
        );
        for shards in 1..=3 {
            let mut results = Vec::new();
            for shard in 0..shards {
                let mut mine: Vec<usize> = in_order
                    .iter()
                    .copied()
                    .filter(|i| i % shards == shard)
                    .collect();
                mine.reverse();
                results.extend(search_all(case, registry, &roots, &mine));
            }
            assert_eq!(
                merge(&results),
                merged,
                "{name} on {stage:?}, K = {depth}, {shards} shards"
            );
        }
        eprintln!(
            "{name} on {stage:?}, K = {depth}: {} roots, {} schedules (unsplit {})",
            roots.len(),
            merged.schedules,
            whole.schedules
        );
    }
}

#[test]
fn every_split_depth_and_dealing_gives_the_same_answer() {
    let lost_restart = case("CREATE a\nSTOP a\nCREATE a\nSETTLE\nLOOKUP a\n", &["a"]);
    splits_agree("lost restart", &lost_restart, Stage::Unlinked);
    let two = case(
        "CLIENT c1\nCREATE a\nLOOKUP a\nCLIENT c2\nCREATE b\nLOOKUP a\n",
        &["a"],
    );
    splits_agree("2x2", &two, Stage::Unlinked);
    splits_agree("2x2", &two, Stage::Fixed);
}
