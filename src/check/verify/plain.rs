//! The plain engine ([`Reduction::None`](super::Reduction::None)): every
//! schedule of one fault plan, enumerated by re-execution exactly as
//! [`crate::check::oracle::enumerate`] does (VeriSoft's stateless search,
//! Godefroid POPL 1997, without its reductions), cut into the subtrees of
//! [`split`]'s prefixes. It is the yardstick the reduced search is compared
//! with: same interface, same union of fault plans, no reduction, so the
//! two agree by construction on every outcome and verdict.

use super::{DporResult, DporStats, Root, Violation};
use crate::check::case::Case;
use crate::check::checker::{CheckConfig, RegistryFactory, run_case_with};
use crate::check::oracle::Trail;
use crate::sim::{Choice, ChoiceSource, EventKey, Outcome};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Forces `prefix` (by event key) for the first events, then follows a
/// [`Trail`] from there on, deciding only where `depth` allows.
struct Rooted {
    prefix: Vec<EventKey>,
    trail: Rc<RefCell<Trail>>,
    /// Steps from which the trail stops deciding and `fifo` runs (the
    /// split's runs, which stop there anyway).
    depth: u64,
}

impl ChoiceSource for Rooted {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        if let Some(key) = self.prefix.get(choice.step as usize) {
            let found = choice
                .candidates
                .iter()
                .position(|candidate| choice.keys.key(candidate.key) == *key);
            // The prefix was recorded from a run of the same case: a run is
            // a pure function of its choices, so the event is there.
            return found.unwrap_or_else(|| {
                panic!(
                    "the root's event {key} is not enabled at step {}: the run is not deterministic",
                    choice.step + 1
                )
            });
        }
        if choice.step >= self.depth {
            return choice.fifo;
        }
        self.trail.borrow_mut().decide(choice.candidates.len())
    }
}

/// Every distinct schedule prefix of `depth` events of `case` (shorter for
/// a run that ends sooner), in the enumeration's order, each with an empty
/// sleep set: the plain search has none.
pub fn split(
    case: &Case,
    registry: &RegistryFactory<'_>,
    check: &CheckConfig,
    depth: usize,
) -> Vec<Root> {
    let depth = (depth as u64).min(check.limits.steps_max);
    let mut check = CheckConfig {
        tracing: false,
        run_to_end: false,
        ..check.clone()
    };
    // Only the prefix matters: the run stops at `depth` events.
    check.limits.steps_max = depth.max(1);
    let trail = Rc::new(RefCell::new(Trail::default()));
    let mut roots = Vec::new();
    loop {
        trail.borrow_mut().rewind();
        let chooser = Box::new(Rooted {
            prefix: Vec::new(),
            trail: Rc::clone(&trail),
            depth,
        });
        let mut run = run_case_with(case, registry, &check, chooser);
        run.schedule_taken.truncate(depth as usize);
        roots.push(Root::plain(run.schedule_taken));
        if !trail.borrow_mut().advance() {
            return roots;
        }
    }
}

/// Every schedule of `case` (with its fault plan) that begins with
/// `root.prefix`, each run once to its end (or to the step bound), with
/// every property checked online.
pub fn search(
    case: &Case,
    registry: &RegistryFactory<'_>,
    check: &CheckConfig,
    root: &Root,
) -> DporResult {
    let check = CheckConfig {
        run_to_end: true,
        tracing: false,
        ..check.clone()
    };
    let trail = Rc::new(RefCell::new(Trail::default()));
    let mut result = DporResult {
        stats: DporStats::default(),
        outcomes: BTreeMap::new(),
        shortest: None,
        undecided: 0,
        cut: 0,
    };
    // The causal past of a violation depends only on the events up to it:
    // many schedules share that prefix.
    let mut pasts: BTreeMap<Vec<EventKey>, u64> = BTreeMap::new();
    loop {
        trail.borrow_mut().rewind();
        let chooser = Box::new(Rooted {
            prefix: root.prefix.clone(),
            trail: Rc::clone(&trail),
            depth: u64::MAX,
        });
        let run = run_case_with(case, registry, &check, chooser);
        result.record(&run);
        result.stats.events += run.steps;
        result.stats.max_depth = result.stats.max_depth.max(run.steps);
        if matches!(run.outcome, Outcome::Limit { .. }) {
            result.cut += 1;
        }
        if let Some(failure) = &run.failure {
            let mut schedule = run.schedule_taken.clone();
            schedule.truncate(failure.step as usize);
            let causal_past = *pasts
                .entry(schedule.clone())
                .or_insert_with(|| causal_past(case, registry, &check, &schedule, failure.step));
            let violation = Violation {
                property: failure.property,
                tiebreak: schedule.clone(),
                schedule,
                causal_past,
            };
            if result
                .shortest
                .as_ref()
                .is_none_or(|best| violation.rank() < best.rank())
            {
                result.shortest = Some(violation);
            }
        }
        if !trail.borrow_mut().advance() {
            return result;
        }
    }
}

/// The number of events in the causal past of event `step` (itself
/// included) of the run that follows `schedule`, as the simulator records
/// causality (program order, send to delivery, spawn, link, monitor, death
/// to its signals and later liveness reads).
fn causal_past(
    case: &Case,
    registry: &RegistryFactory<'_>,
    check: &CheckConfig,
    schedule: &[EventKey],
    step: u64,
) -> u64 {
    let traced = CheckConfig {
        tracing: true,
        run_to_end: false,
        ..check.clone()
    };
    let trail = Rc::new(RefCell::new(Trail::default()));
    let chooser = Box::new(Rooted {
        prefix: schedule.to_vec(),
        trail,
        depth: 0,
    });
    let run = run_case_with(case, registry, &traced, chooser);
    run.causality
        .map_or(step, |causality| causality.past([step]).len() as u64)
}
