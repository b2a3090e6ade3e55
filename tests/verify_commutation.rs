//! The verifier's dependence relation (`check::verify::dpor::Dependence`)
//! against what the runs actually do: from random reachable states of
//! several scenarios (with `kill` faults) on every registry stage, for every
//! pair of enabled events the relation calls independent, running `e1; e2`
//! and `e2; e1` must give equal canonical states (processes, links,
//! monitors, queued signals by key, timers, roles: `Sim::canonical_state`),
//! equal dialogues and registry names, equal checker verdicts and equal
//! enabled sets; and each event must stay enabled after the other.
//!
//! Two relations are held to it. The full one, property 4's history
//! included, is the one a counterexample's causal past is taken under: its
//! independent pairs commute in everything, property 4's verdict included.
//! The one the search explores leaves property 4's history out (property 4
//! is checked over every real-time order of each explored run instead):
//! its independent pairs commute in everything but property 4, so they
//! are compared with properties 1, 2, 3, 5 and 6 checked; and with property
//! 4 checked too, some of them do not commute (the relation really leaves
//! something out, and the check sees it).
//!
//! A relation that forgets one kind of access (liveness, here) fails the
//! same check: the test can fail.

use kvsim::check::verify::dpor::{Dependence, EventFootprint};
use kvsim::check::{
    Case, CheckConfig, P1_LOOKUP_IS_ALIVE, P2_NAMES_MATCH_BUCKETS, P3_REGISTRY_DIES_ONLY_WHEN_TOLD,
    P5_ONE_BUCKET_PER_NAME, P6_NO_CALL_TIMES_OUT, PropertySet, RegistryFactory, run_case_with,
};
use kvsim::kv::Stage;
use kvsim::sim::choice::{HALT, RandomWalk};
use kvsim::sim::footprint::{Footprints, Resource};
use kvsim::sim::{Choice, ChoiceSource, EventKey, Prng, Root};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

#[allow(dead_code)]
#[path = "support/verify_cases.rs"]
mod verify_cases;
use verify_cases::{check, scenario};

fn scenarios() -> Vec<(&'static str, Case)> {
    vec![
        ("chapter", scenario("examples/verify/chapter.kv", &["s"])),
        ("2x3k", scenario("examples/verify/2x3k.kv", &["s"])),
        ("2x3", scenario("examples/verify/2x3.kv", &["a", "b"])),
        (
            "lost_restart",
            scenario("examples/oracle/lost_restart.kv", &["a"]),
        ),
        ("guide_race", scenario("examples/oracle/guide_race.kv", &[])),
        ("3x3", scenario("examples/verify/3x3.kv", &["a", "b"])),
    ]
}

const STAGES: [Stage; 5] = [
    Stage::Fixed,
    Stage::Unlinked,
    Stage::Monitored,
    Stage::Naive,
    Stage::NoCatchAll,
];

/// [`check`] without property 4.
fn check_but_4() -> CheckConfig {
    CheckConfig {
        properties: PropertySet::only(&[
            P1_LOOKUP_IS_ALIVE,
            P2_NAMES_MATCH_BUCKETS,
            P3_REGISTRY_DIES_ONLY_WHEN_TOLD,
            P5_ONE_BUCKET_PER_NAME,
            P6_NO_CALL_TIMES_OUT,
        ]),
        ..check()
    }
}

/// Which relation, checked how.
#[derive(Clone, Copy)]
enum Relation {
    /// [`Dependence::new`], all six properties checked.
    Full,
    /// [`Dependence::searched`], played with property 4 checked or not.
    Searched { with_4: bool },
}

/// Plays `keys` (each must be enabled when its turn comes), records every
/// footprint and the state after each event, and stops before the next
/// event, noting what was enabled then.
struct Script {
    keys: Vec<EventKey>,
    log: Rc<RefCell<Footprints>>,
    /// `Some(key)`: that key was not enabled at its turn.
    missing: Rc<RefCell<Option<EventKey>>>,
    enabled_at_end: Rc<RefCell<Vec<EventKey>>>,
}

impl ChoiceSource for Script {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        let step = choice.step as usize;
        let enabled: Vec<EventKey> = choice
            .candidates
            .iter()
            .map(|c| choice.keys.key(c.key))
            .collect();
        let Some(want) = self.keys.get(step) else {
            let mut sorted = enabled;
            sorted.sort();
            *self.enabled_at_end.borrow_mut() = sorted;
            return HALT;
        };
        match enabled.iter().position(|key| key == want) {
            Some(index) => index,
            None => {
                *self.missing.borrow_mut() = Some(want.clone());
                HALT
            }
        }
    }

    fn footprints(&mut self) -> Option<Rc<RefCell<Footprints>>> {
        Some(Rc::clone(&self.log))
    }
}

/// What a played key list came to.
#[derive(Debug, PartialEq, Eq)]
struct Reached {
    state: String,
    names: Option<Vec<(String, String)>>,
    transcripts: Vec<String>,
    broken: Vec<String>,
    undecided: bool,
    enabled: Vec<EventKey>,
}

struct Played {
    reached: Reached,
    /// Footprint of the last event played.
    last: Option<kvsim::sim::Footprint>,
    missing: Option<EventKey>,
}

fn play(
    case: &Case,
    registry: &RegistryFactory<'_>,
    check: &CheckConfig,
    keys: &[EventKey],
) -> Played {
    let mut footprints = Footprints::default();
    footprints.snapshots = true;
    let log = Rc::new(RefCell::new(footprints));
    let missing = Rc::new(RefCell::new(None));
    let enabled_at_end = Rc::new(RefCell::new(Vec::new()));
    let script = Script {
        keys: keys.to_vec(),
        log: Rc::clone(&log),
        missing: Rc::clone(&missing),
        enabled_at_end: Rc::clone(&enabled_at_end),
    };
    let run = run_case_with(case, registry, check, Box::new(script));
    let log = log.borrow();
    let last = log.steps().last().cloned();
    let state = last
        .as_ref()
        .and_then(|f| f.state_after.clone())
        .unwrap_or_default();
    let mut broken: Vec<String> = run
        .failures
        .iter()
        .map(|f| f.property.to_string())
        .collect();
    broken.sort();
    let missing = missing.borrow().clone();
    Played {
        reached: Reached {
            state,
            names: run.final_names.clone(),
            transcripts: run.transcripts.clone(),
            broken,
            undecided: run.undecided.is_some(),
            enabled: enabled_at_end.borrow().clone(),
        },
        last: if keys.is_empty() { None } else { last },
        missing,
    }
}

/// A random schedule prefix of `case`: up to `len` events of a random walk.
fn random_prefix(
    case: &Case,
    registry: &RegistryFactory<'_>,
    seed: u64,
    len: u64,
) -> Vec<EventKey> {
    let mut check = check();
    check.limits.steps_max = len;
    let run = run_case_with(case, registry, &check, Box::new(RandomWalk::new(seed)));
    let mut keys = run.schedule_taken;
    keys.truncate(run.steps as usize);
    keys
}

/// Every failure of `independent` to predict commutation, from `states`
/// random states per scenario and stage.
fn failures(
    states: u64,
    which: Relation,
    independent: &dyn Fn(&Dependence, &EventFootprint, &EventFootprint) -> bool,
) -> (Vec<String>, u64) {
    let mut out = Vec::new();
    let mut pairs = 0;
    let config = match which {
        Relation::Searched { with_4: false } => check_but_4(),
        _ => check(),
    };
    for (name, case) in scenarios() {
        let relation = match which {
            Relation::Full => Dependence::new(&case, &check()),
            Relation::Searched { .. } => Dependence::searched(&case, &check()),
        };
        for stage in STAGES {
            let registry: &RegistryFactory<'_> = &move || stage.registry();
            let mut prng = Prng::new(0x5eed ^ stage as u64);
            for state in 0..states {
                let len = prng.below(30);
                let prefix = random_prefix(&case, registry, prng.next_u64(), len);
                let here = play(&case, registry, &config, &prefix);
                let enabled = here.reached.enabled.clone();
                // Each client's command in flight: the last it started.
                let mut pending = BTreeMap::new();
                for key in &prefix {
                    if let (Root::Client { client, cmd }, true) = (&key.root, key.path.is_empty()) {
                        pending.insert(*client, *cmd);
                    }
                }
                let footprint = |key: &EventKey| {
                    let mut keys = prefix.clone();
                    keys.push(key.clone());
                    let played = play(&case, registry, &config, &keys);
                    assert!(played.missing.is_none(), "{key} was enabled");
                    let origin = match key.root {
                        Root::Client { client, cmd } => Some((client, cmd)),
                        _ => None,
                    };
                    relation.footprint(&played.last.expect("one event played"), origin, &pending)
                };
                let footprints: Vec<EventFootprint> = enabled.iter().map(footprint).collect();
                for a in 0..enabled.len() {
                    for b in a + 1..enabled.len() {
                        if !independent(&relation, &footprints[a], &footprints[b]) {
                            continue;
                        }
                        pairs += 1;
                        let (e1, e2) = (&enabled[a], &enabled[b]);
                        let order = |x: &EventKey, y: &EventKey| {
                            let mut keys = prefix.clone();
                            keys.push(x.clone());
                            keys.push(y.clone());
                            play(&case, registry, &config, &keys)
                        };
                        let (one, two) = (order(e1, e2), order(e2, e1));
                        let context = format!(
                            "{name} on {stage:?}, state {state} after {} events, {e1} and {e2}",
                            prefix.len()
                        );
                        if let Some(key) = one.missing.as_ref().or(two.missing.as_ref()) {
                            out.push(format!("{context}: {key} disabled by the other"));
                        } else if one.reached != two.reached {
                            out.push(format!(
                                "{context}: the orders differ\n{:#?}\n{:#?}",
                                one.reached, two.reached
                            ));
                        }
                    }
                }
            }
        }
    }
    (out, pairs)
}

#[test]
fn events_the_relation_calls_independent_commute() {
    let (failures, pairs) = failures(40, Relation::Full, &|relation, a, b| {
        let _ = relation;
        !a.dependent(b)
    });
    assert!(
        failures.is_empty(),
        "{} of {pairs} independent pairs do not commute; first:\n{}",
        failures.len(),
        failures[0]
    );
    assert!(pairs > 200, "only {pairs} independent pairs met");
}

#[test]
fn a_relation_blind_to_liveness_fails_the_check() {
    let blind = |fp: &EventFootprint| EventFootprint {
        accesses: fp
            .accesses
            .iter()
            .copied()
            .filter(|a| !matches!(a.resource, Resource::Alive(_)))
            .collect(),
        ..fp.clone()
    };
    let (failures, _) = failures(12, Relation::Full, &|_, a, b| {
        !blind(a).dependent(&blind(b))
    });
    assert!(
        !failures.is_empty(),
        "ignoring liveness should make some pair fail to commute"
    );
}

#[test]
fn events_the_searched_relation_calls_independent_commute_but_for_property_4() {
    let searched = Relation::Searched { with_4: false };
    let (failures, pairs) = failures(40, searched, &|_, a, b| !a.dependent(b));
    assert!(
        failures.is_empty(),
        "{} of {pairs} independent pairs do not commute; first:\n{}",
        failures.len(),
        failures[0]
    );
    assert!(pairs > 200, "only {pairs} independent pairs met");
}

#[test]
fn the_searched_relation_leaves_property_4_out() {
    let searched = Relation::Searched { with_4: true };
    let (failures, _) = failures(12, searched, &|_, a, b| !a.dependent(b));
    assert!(
        failures.iter().any(|f| f.contains("linearizable")),
        "some pair independent but for property 4 should change its verdict"
    );
}
