//! The exhaustive oracle: every schedule of one case, enumerated plainly,
//! and the set of distinct outcomes they produce. Owns the enumeration
//! (depth-first over the enabled events, no reduction) and what counts as
//! an outcome; what a run does is `run_case_with`'s business.
//!
//! The enumeration re-executes the case from the start for every schedule:
//! a choice source replays a recorded prefix of choices (each an index into
//! that step's enabled events) and then takes the first enabled event at
//! every new step, recording how many there were; after the run, the last
//! choice that still has an untried sibling is advanced and everything
//! after it dropped (the classic stateless search of Godefroid's VeriSoft,
//! POPL 1997, without its reductions). Every leaf of that tree is one
//! complete schedule, run once. Runs are deterministic, so a prefix always
//! meets the same enabled events again; a mismatch is a harness bug and
//! panics.
//!
//! Two bounds keep it finite, and both are reported, never hidden: the step
//! bound of the check configuration's limits (a run that reaches it ends
//! with `LIMIT max-steps`, and its longer extensions are not explored) and
//! a bound on the number of runs. [`OracleReport::complete`] is true only
//! when neither bound was reached.
//!
//! [`enumerate_pct`] walks PCT's own decision space with the same walker,
//! so the outcomes PCT can produce at a depth, and hence each outcome's
//! PCT depth, are computed exactly rather than sampled.

use crate::check::case::Case;
use crate::check::checker::{CaseRun, CheckConfig, RegistryFactory, run_case_with};
use crate::check::property::Property;
use crate::sim::choice::{Shared, Unit};
use crate::sim::{Choice, ChoiceSource, EventKey, Outcome};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::rc::Rc;

/// What one run ended with, as the oracle compares runs: the clients'
/// dialogue, the registry's final names and which properties broke.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunOutcome {
    /// The dialogue of every client, as [`CaseRun::dialogue`] prints it.
    pub dialogue: String,
    /// The registry's names at the end, each with its bucket's logical name
    /// (`bucket:a#1`); `None` when the registry is dead.
    pub final_names: Option<Vec<(String, String)>>,
    /// Every property that broke somewhere in the run (checked to the end
    /// of the run, not only up to the first failure).
    pub broken: BTreeSet<Property>,
    /// Property 4's last check could not decide within its bound: neither
    /// held nor broken.
    pub p4_undecided: bool,
    /// `Some("max-steps 40")` when the run hit a limit instead of ending.
    pub limit: Option<String>,
}

impl RunOutcome {
    /// The outcome of a run checked with `run_to_end` (otherwise `broken`
    /// holds only the first failure).
    pub fn of(run: &CaseRun) -> RunOutcome {
        RunOutcome {
            dialogue: run.dialogue.clone(),
            final_names: run.final_names.clone(),
            broken: run.failures.iter().map(|f| f.property).collect(),
            p4_undecided: run.undecided.is_some(),
            limit: match run.outcome {
                Outcome::Quiescent => None,
                Outcome::Limit { name, value } => Some(format!("{name} {value}")),
            },
        }
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.final_names {
            None => writeln!(f, "registry dead")?,
            Some(names) => {
                let names: Vec<String> = names.iter().map(|(n, p)| format!("{n}={p}")).collect();
                writeln!(f, "names [{}]", names.join(", "))?;
            }
        }
        let broken: Vec<String> = self.broken.iter().map(ToString::to_string).collect();
        if self.p4_undecided {
            writeln!(f, "P4 undecided")?;
        }
        if broken.is_empty() && !self.p4_undecided {
            writeln!(f, "every property held")?;
        } else if !broken.is_empty() {
            writeln!(f, "broken: {}", broken.join(", "))?;
        }
        if let Some(limit) = &self.limit {
            writeln!(f, "LIMIT {limit}")?;
        }
        write!(f, "{}", self.dialogue)
    }
}

/// How one outcome was reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// How many enumerated schedules ended in it.
    pub runs: u64,
    /// The first schedule (in enumeration order) that reached it, as an
    /// override list: set it as a case's schedule to replay it.
    pub schedule: Vec<EventKey>,
}

/// How far to enumerate.
#[derive(Clone, Debug)]
pub struct OracleConfig {
    /// How each run is checked; `run_to_end` is forced on so that every
    /// broken property is in the outcome. Its `limits.steps_max` is the
    /// step bound.
    pub check: CheckConfig,
    /// Stop after this many runs (schedules).
    pub runs_max: u64,
}

impl Default for OracleConfig {
    /// All six properties, a step bound of 200 events, one million runs.
    fn default() -> OracleConfig {
        let mut check = CheckConfig::default();
        check.limits.steps_max = 200;
        OracleConfig {
            check,
            runs_max: 1_000_000,
        }
    }
}

/// Why an enumeration is not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truncation {
    /// The run bound was reached with schedules left to run.
    Runs { runs_max: u64 },
    /// This many runs hit the step bound, so their extensions were not
    /// explored (and their outcomes end in `LIMIT`).
    Steps { steps_max: u64, runs_at_bound: u64 },
}

impl fmt::Display for Truncation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Truncation::Runs { runs_max } => {
                write!(f, "stopped at the run bound ({runs_max} runs)")
            }
            Truncation::Steps {
                steps_max,
                runs_at_bound,
            } => write!(
                f,
                "{runs_at_bound} runs reached the step bound ({steps_max} events)"
            ),
        }
    }
}

/// What the enumeration found.
#[derive(Clone, Debug)]
pub struct OracleReport {
    /// Every distinct outcome, with how it was reached.
    pub outcomes: BTreeMap<RunOutcome, Witness>,
    /// Schedules run.
    pub runs: u64,
    /// The most events in one run.
    pub steps_max_seen: u64,
    /// The most alternatives at one decision (for [`enumerate`], the most
    /// events enabled at once).
    pub width_max_seen: usize,
    /// Empty when every schedule was run to its end: only then is
    /// `outcomes` the set of every outcome of the case.
    pub truncated: Vec<Truncation>,
}

impl OracleReport {
    /// Whether `outcomes` is known to be every outcome of the case.
    pub fn complete(&self) -> bool {
        self.truncated.is_empty()
    }
}

impl fmt::Display for OracleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} distinct outcomes over {} schedules (at most {} events, at most {} alternatives at a step)",
            self.outcomes.len(),
            self.runs,
            self.steps_max_seen,
            self.width_max_seen
        )?;
        if self.complete() {
            f.write_str(", complete")
        } else {
            let why: Vec<String> = self.truncated.iter().map(ToString::to_string).collect();
            write!(f, ", NOT complete: {}", why.join("; "))
        }
    }
}

/// One decision of a run: which of `width` alternatives was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Branch {
    pub chosen: usize,
    pub width: usize,
}

/// A depth-first walk over the decisions of a deterministic run, by
/// re-execution: [`Trail::decide`] replays the current prefix and then
/// takes alternative 0 at every new decision; [`Trail::advance`] moves to
/// the next leaf. Shared (through `Rc<RefCell<_>>`) between the walker and
/// the choice source that lives inside the run.
#[derive(Clone, Debug, Default)]
pub struct Trail {
    branches: Vec<Branch>,
    position: usize,
}

impl Trail {
    /// Starts the next run of the current prefix.
    pub fn rewind(&mut self) {
        self.position = 0;
    }

    /// The decision at the current position among `width` alternatives.
    ///
    /// # Panics
    ///
    /// If `width` is 0, or the replayed prefix recorded another width
    /// here (the run is not a deterministic function of its decisions).
    pub fn decide(&mut self, width: usize) -> usize {
        assert!(width > 0, "a decision needs at least one alternative");
        let chosen = match self.branches.get(self.position) {
            Some(branch) => {
                assert_eq!(
                    branch.width, width,
                    "decision {} had {} alternatives when recorded and {width} on replay: the run is not deterministic",
                    self.position, branch.width
                );
                branch.chosen
            }
            None => {
                self.branches.push(Branch { chosen: 0, width });
                0
            }
        };
        self.position += 1;
        chosen
    }

    /// Moves to the next leaf: drops the decisions the last run did not
    /// reach, then advances the deepest decision with an untried
    /// alternative and drops everything after it. `false` when the tree is
    /// exhausted.
    pub fn advance(&mut self) -> bool {
        self.branches.truncate(self.position);
        while let Some(last) = self.branches.last_mut() {
            if last.chosen + 1 < last.width {
                last.chosen += 1;
                return true;
            }
            self.branches.pop();
        }
        false
    }

    /// The decisions of the run in progress (or just finished).
    pub fn branches(&self) -> &[Branch] {
        &self.branches[..self.position.min(self.branches.len())]
    }
}

/// Picks each event as the shared trail says.
struct Follow {
    trail: Rc<RefCell<Trail>>,
}

impl ChoiceSource for Follow {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        self.trail.borrow_mut().decide(choice.candidates.len())
    }
}

/// Runs every schedule of `case` (up to the bounds of `config`) on a
/// registry built by `registry`, and collects the distinct outcomes.
///
/// Works for any registry; the case's own schedule (its override list) is
/// ignored, since every schedule is run.
pub fn enumerate(
    case: &Case,
    registry: &RegistryFactory<'_>,
    config: &OracleConfig,
) -> OracleReport {
    let check = CheckConfig {
        run_to_end: true,
        tracing: false,
        ..config.check.clone()
    };
    walk(config.runs_max, check.limits.steps_max, |trail| {
        let chooser = Box::new(Follow {
            trail: Rc::clone(trail),
        });
        (run_case_with(case, registry, &check, chooser), true)
    })
}

/// Runs `run` once per leaf of the decision tree it walks through the
/// trail, and collects the outcomes of the runs it calls realizable.
fn walk(
    runs_max: u64,
    steps_max: u64,
    mut run: impl FnMut(&Rc<RefCell<Trail>>) -> (CaseRun, bool),
) -> OracleReport {
    let trail = Rc::new(RefCell::new(Trail::default()));
    let mut report = OracleReport {
        outcomes: BTreeMap::new(),
        runs: 0,
        steps_max_seen: 0,
        width_max_seen: 0,
        truncated: Vec::new(),
    };
    let mut runs_at_bound = 0;
    loop {
        if report.runs >= runs_max {
            report.truncated.push(Truncation::Runs { runs_max });
            break;
        }
        trail.borrow_mut().rewind();
        let (case_run, realizable) = run(&trail);
        report.runs += 1;
        report.steps_max_seen = report.steps_max_seen.max(case_run.steps);
        let widest = trail.borrow().branches().iter().map(|b| b.width).max();
        report.width_max_seen = report.width_max_seen.max(widest.unwrap_or(0));
        if matches!(case_run.outcome, Outcome::Limit { .. }) {
            runs_at_bound += 1;
        }
        if realizable {
            let outcome = RunOutcome::of(&case_run);
            report
                .outcomes
                .entry(outcome)
                .and_modify(|witness| witness.runs += 1)
                .or_insert_with(|| Witness {
                    runs: 1,
                    schedule: case_run.schedule_taken,
                });
        }
        if !trail.borrow_mut().advance() {
            break;
        }
    }
    if runs_at_bound > 0 {
        report.truncated.push(Truncation::Steps {
            steps_max,
            runs_at_bound,
        });
    }
    report
}

/// Follows a [`Trail`] for the first `depth` decisions of a run and takes
/// the `fifo` event after that without deciding: a run cut at `depth`
/// events (by its step bound) then has exactly one leaf per schedule of
/// its first `depth` events, where [`Follow`] would also branch over the
/// event the cut never runs.
pub(crate) struct Bounded {
    pub(crate) trail: Rc<RefCell<Trail>>,
    pub(crate) depth: u64,
}

impl ChoiceSource for Bounded {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        if choice.step >= self.depth {
            return choice.fifo;
        }
        self.trail.borrow_mut().decide(choice.candidates.len())
    }
}

/// The shortest failure of one property among every schedule of a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShortestFailure {
    /// Events up to and including the one at which the property broke: the
    /// counterexample's length.
    pub events: u64,
    /// The first schedule (in enumeration order) that broke it there, as
    /// an override list.
    pub schedule: Vec<EventKey>,
}

/// What [`shortest_failures`] found.
#[derive(Clone, Debug)]
pub struct ShortestReport {
    /// For each property that some schedule breaks first (before any other
    /// property) within the step bound, its shortest such failure.
    pub failures: BTreeMap<Property, ShortestFailure>,
    /// Schedules run (each cut at the step bound or its first failure).
    pub runs: u64,
    /// Whether the run bound stopped the enumeration: then a property
    /// missing from `failures`, or a failure longer than it need be, says
    /// nothing.
    pub truncated: bool,
}

/// For each property, the fewest events after which some schedule of
/// `case` breaks it first (before any other property), among the
/// schedules of at most `config.check.limits.steps_max` events: every
/// schedule is enumerated as [`enumerate`] does, but each run stops at its
/// first failure (`run_to_end` is forced off) and is cut at the step bound
/// without branching past it. The shrinker's yardstick: no counterexample
/// for a property can be shorter than its entry here over every case of a
/// family.
pub fn shortest_failures(
    case: &Case,
    registry: &RegistryFactory<'_>,
    config: &OracleConfig,
) -> ShortestReport {
    let check = CheckConfig {
        run_to_end: false,
        tracing: false,
        ..config.check.clone()
    };
    let depth = check.limits.steps_max;
    let trail = Rc::new(RefCell::new(Trail::default()));
    let mut report = ShortestReport {
        failures: BTreeMap::new(),
        runs: 0,
        truncated: false,
    };
    loop {
        if report.runs >= config.runs_max {
            report.truncated = true;
            break;
        }
        trail.borrow_mut().rewind();
        let chooser = Box::new(Bounded {
            trail: Rc::clone(&trail),
            depth,
        });
        let run = run_case_with(case, registry, &check, chooser);
        report.runs += 1;
        if let Some(failure) = &run.failure {
            let shorter = report
                .failures
                .get(&failure.property)
                .is_none_or(|known| failure.step < known.events);
            if shorter {
                let mut schedule = run.schedule_taken.clone();
                schedule.truncate(failure.step as usize);
                report.failures.insert(
                    failure.property,
                    ShortestFailure {
                        events: failure.step,
                        schedule,
                    },
                );
            }
        }
        if !trail.borrow_mut().advance() {
            break;
        }
    }
    report
}

/// PCT's own decision space, as a choice source: instead of drawing, it
/// asks a [`Trail`] at every point where PCT's random draws could make a
/// difference, so that walking the trail to its end runs every schedule PCT
/// at this depth can produce and nothing else.
///
/// The draws of [`Pct`](crate::sim::choice::Pct) are an initial priority
/// per unit (a uniformly random total order of the units) and `d - 1`
/// change points in `1..=k`. The order is decided lazily: a step needs only
/// which of the enabled, undemoted units ranks highest, and any answer not
/// already implied by earlier answers (kept as a graph of "ranks above"
/// edges, closed under transitivity when read) extends to a total order;
/// so the alternatives at a step are the enabled undemoted units that no
/// other enabled undemoted unit is known to outrank. Demoted units rank
/// below every undemoted one, among themselves by their lowered values.
/// After the pick, at each step `s` in `1..=k`, the alternatives are the
/// subsets of the change points not yet placed that land on `s` (all of
/// them lower the running unit; the one drawn last wins, as in `Pct`). A
/// run that ends with change points unplaced is one PCT can produce only
/// if they can land past its end, i.e. it took at most `k` events; the
/// walker drops the others ([`PctSpace::realizable`]).
struct PctSpace {
    trail: Rc<RefCell<Trail>>,
    depth: usize,
    k: u64,
    units: BTreeMap<Unit, usize>,
    /// `above[a]` holds every unit `a` was decided to outrank (initially).
    above: Vec<BTreeSet<usize>>,
    /// Lowered values of demoted units (`1..depth`).
    demoted: BTreeMap<usize, u64>,
    /// Change points not yet placed, by draw index.
    unplaced: Vec<usize>,
    steps: u64,
}

impl PctSpace {
    fn new(trail: Rc<RefCell<Trail>>, depth: usize, k: u64) -> PctSpace {
        PctSpace {
            trail,
            depth,
            k: k.max(1),
            units: BTreeMap::new(),
            above: Vec::new(),
            demoted: BTreeMap::new(),
            unplaced: (0..depth.saturating_sub(1)).collect(),
            steps: 0,
        }
    }

    fn index(&mut self, unit: Unit) -> usize {
        let next = self.units.len();
        let index = *self.units.entry(unit).or_insert(next);
        if index == self.above.len() {
            self.above.push(BTreeSet::new());
        }
        index
    }

    /// Whether `a` is known to outrank `b` initially (a path of edges).
    fn outranks(&self, a: usize, b: usize) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![a];
        while let Some(unit) = stack.pop() {
            for &lower in &self.above[unit] {
                if lower == b {
                    return true;
                }
                if seen.insert(lower) {
                    stack.push(lower);
                }
            }
        }
        false
    }

    /// Whether the run just finished is one PCT can produce: every change
    /// point left unplaced must fit past its last event.
    fn realizable(&self) -> bool {
        self.unplaced.is_empty() || self.steps <= self.k
    }
}

impl ChoiceSource for PctSpace {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        // The first candidate of each unit stands for it, as in `Pct`.
        let mut enabled: Vec<(usize, usize)> = Vec::new(); // (unit, candidate)
        for (position, candidate) in choice.candidates.iter().enumerate() {
            let unit = self.index(Unit::of(candidate));
            if enabled.iter().all(|&(seen, _)| seen != unit) {
                enabled.push((unit, position));
            }
        }
        let undemoted: Vec<(usize, usize)> = enabled
            .iter()
            .copied()
            .filter(|(unit, _)| !self.demoted.contains_key(unit))
            .collect();
        let (running, position) = if undemoted.is_empty() {
            // Only demoted units: the highest lowered value runs.
            *enabled
                .iter()
                .max_by_key(|(unit, _)| self.demoted[unit])
                .expect("a choice has candidates")
        } else {
            let tops: Vec<(usize, usize)> = undemoted
                .iter()
                .copied()
                .filter(|&(unit, _)| {
                    !undemoted
                        .iter()
                        .any(|&(other, _)| other != unit && self.outranks(other, unit))
                })
                .collect();
            let pick = if tops.len() == 1 {
                0
            } else {
                self.trail.borrow_mut().decide(tops.len())
            };
            let (top, position) = tops[pick];
            for &(other, _) in &undemoted {
                if other != top {
                    self.above[top].insert(other);
                }
            }
            (top, position)
        };
        let step = choice.step;
        if (1..=self.k).contains(&step) && !self.unplaced.is_empty() {
            let subsets = 1usize << self.unplaced.len();
            let mask = self.trail.borrow_mut().decide(subsets);
            if mask != 0 {
                let landing: Vec<usize> = (0..self.unplaced.len())
                    .filter(|bit| mask & (1 << bit) != 0)
                    .map(|bit| self.unplaced[bit])
                    .collect();
                let last = *landing.iter().max().expect("a non-empty subset");
                let lowered = (self.depth - 1 - last) as u64;
                self.demoted.insert(running, lowered);
                self.unplaced.retain(|point| !landing.contains(point));
            }
        }
        self.steps = step + 1;
        position
    }
}

/// Every outcome PCT at depth `depth`, with change points drawn from
/// `1..=k`, can produce on `case`: the schedules of [`PctSpace`], each run
/// once. Its runs count the walked leaves, realizable or not; an outcome
/// is kept only from a realizable one.
///
/// An outcome's *PCT depth* (for this case and `k`) is the least `d` for
/// which it is in this set.
pub fn enumerate_pct(
    case: &Case,
    registry: &RegistryFactory<'_>,
    config: &OracleConfig,
    depth: usize,
    k: u64,
) -> OracleReport {
    let check = CheckConfig {
        run_to_end: true,
        tracing: false,
        ..config.check.clone()
    };
    walk(config.runs_max, check.limits.steps_max, |trail| {
        let space = Shared::new(PctSpace::new(Rc::clone(trail), depth, k));
        let handle = Rc::clone(&space.0);
        let run = run_case_with(case, registry, &check, Box::new(space));
        let realizable = handle.borrow().realizable();
        (run, realizable)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks a fixed tree: the widths at each depth depend on the choices.
    fn leaves(widths: impl Fn(&[usize]) -> Option<usize>) -> Vec<Vec<usize>> {
        let mut trail = Trail::default();
        let mut out = Vec::new();
        loop {
            trail.rewind();
            let mut path = Vec::new();
            while let Some(width) = widths(&path) {
                path.push(trail.decide(width));
            }
            out.push(path);
            if !trail.advance() {
                return out;
            }
        }
    }

    #[test]
    fn the_trail_visits_every_leaf_once_in_order() {
        // Depth 0: 2 ways; under 0, 3 ways; under 1, 1 way then 2 ways.
        let tree = |path: &[usize]| match path {
            [] => Some(2),
            [0] => Some(3),
            [1] => Some(1),
            [1, 0] => Some(2),
            _ => None,
        };
        assert_eq!(
            leaves(tree),
            [
                vec![0, 0],
                vec![0, 1],
                vec![0, 2],
                vec![1, 0, 0],
                vec![1, 0, 1],
            ]
        );
    }

    #[test]
    fn a_run_without_decisions_is_one_leaf() {
        assert_eq!(leaves(|_| None), [Vec::<usize>::new()]);
    }

    #[test]
    #[should_panic(expected = "not deterministic")]
    fn a_replay_that_meets_another_width_is_a_harness_bug() {
        let mut trail = Trail::default();
        trail.decide(2);
        trail.advance();
        trail.rewind();
        trail.decide(3);
    }
}
