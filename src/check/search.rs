//! Testing a registry end to end: generate cases with proptest, check each
//! one online, and when a property breaks, let proptest shrink the case and
//! then [`shrink_case_with`] take it to a 1-minimal, normalised and
//! shortened one that breaks the same property. This is the entry point for checking a registry of
//! your own. A search that finds nothing says how many of its cases were
//! undecided (property 4's bound) or cut by a limit ([`SearchSummary`]):
//! those are never counted as holding.
//!
//! Case `i` of a search is a pure function of `(seed, i)`: its generator is
//! seeded with [`case_seed`]`(seed, i)` and its schedule strategy is the
//! portfolio's `i mod len`-th kind, so a case can be regenerated alone, on
//! any thread, and the portfolio's kinds get equal shares. A search is the
//! explorer ([`crate::check::explore`]) on one thread.

use crate::check::case::Case;
use crate::check::checker::{CheckConfig, Failure, RegistryFactory, Undecided, explicit, run_case};
use crate::check::explore::{ExploreConfig, Shard, explore};
use crate::check::generate::{GenConfig, cases};
use crate::check::schedule::case_seed;
use crate::check::shrink::shrink_case_with;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestRunner};
use std::fmt;

/// How to search: the explorer's configuration under its earlier name
/// (one type owns every default, so a search and `kvsim explore` find the
/// same cases for the same seed).
pub type SearchConfig = ExploreConfig;

/// Which failures count as "still failing" while a counterexample shrinks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ShrinkTarget {
    /// Only the property the search first found broken: the shrunk case
    /// breaks it first, as the found case did. A smaller case that breaks
    /// another property first is a different bug and is not taken.
    #[default]
    FirstFound,
    /// Any property: the shrinker follows whichever property a smaller
    /// case breaks, which may give a smaller case for another bug. The
    /// counterexample then says both ([`Counterexample::found`]).
    AnyProperty,
}

/// What a search that found no broken property ran: never "all properties
/// hold" unless every case was decided to the end. `undecided` cases had a
/// history property 4 could not decide within its bound
/// ([`CheckConfig::linearizability_states_max`]); `cut` cases hit a limit
/// ([`Limits`](crate::sim::Limits)) before quiescence, so their properties
/// were checked only up to the cut.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use = "a search that passes may still have undecided or cut cases: see all_hold"]
pub struct SearchSummary {
    /// Cases generated and checked.
    pub cases: u32,
    /// Cases whose property 4 check was undecided.
    pub undecided: u32,
    /// Cases cut by a limit.
    pub cut: u32,
    /// The first undecided case: its index in the search (from 0) and why.
    pub first_undecided: Option<(u32, Undecided)>,
    /// The first cut case: its index and the limit, as `LIMIT` prints it
    /// (`max-steps 100000`).
    pub first_cut: Option<(u32, String)>,
}

impl SearchSummary {
    /// Every case was decided to the end and every property held.
    pub fn all_hold(&self) -> bool {
        self.undecided == 0 && self.cut == 0
    }
}

impl fmt::Display for SearchSummary {
    /// `all properties hold in 10000 cases`, or, when some case was not
    /// decided to the end, `no property broke in 10000 cases, but not all
    /// are known to hold: ...` with the counts and the first of each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.all_hold() {
            return write!(f, "all properties hold in {} cases", self.cases);
        }
        write!(
            f,
            "no property broke in {} cases, but not all are known to hold:",
            self.cases
        )?;
        if let Some((index, undecided)) = &self.first_undecided {
            write!(
                f,
                "\n  {} undecided (first: case {index}, {undecided})",
                self.undecided
            )?;
        }
        if let Some((index, limit)) = &self.first_cut {
            write!(
                f,
                "\n  {} cut by a limit (first: case {index}, LIMIT {limit})",
                self.cut
            )?;
        }
        Ok(())
    }
}

/// A property broken by a generated case, shrunk.
#[derive(Clone, Debug, PartialEq)]
pub struct Counterexample {
    /// How the shrunk case fails.
    pub failure: Failure,
    /// The shrunk case.
    pub case: Case,
    /// How the case first found failed, before any shrinking. Its
    /// property is `failure`'s unless the search was asked to shrink to
    /// any property ([`ShrinkTarget::AnyProperty`]).
    pub found: Failure,
    /// Generated cases run up to and including the first failing one.
    pub cases_to_failure: u32,
    /// The cases before the failing one that were undecided or cut (see
    /// [`SearchSummary`]; its `cases` is `cases_to_failure - 1`).
    pub before: SearchSummary,
    /// The shrunk case's trace, as text.
    pub trace: String,
    /// The shrunk case's causal slice, as text: a `--- slice (<summary>)`
    /// line and the events that explain the failure (see
    /// [`Slice`](crate::check::Slice)); empty when the run has none.
    pub slice: String,
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.failure)?;
        writeln!(
            f,
            "(found after {} cases as: {})",
            self.cases_to_failure, self.found
        )?;
        if !self.before.all_hold() {
            writeln!(
                f,
                "({} earlier cases undecided, {} cut by a limit)",
                self.before.undecided, self.before.cut
            )?;
        }
        write!(f, "{}", self.case.to_json(&Default::default()))
    }
}

/// How many steps proptest's own shrinking (walking the generated value
/// tree toward simpler values) may take before the harness's shrinker
/// takes over: the tree shrinks the generated structure, not the case's
/// elements, and past a few dozen steps the shrinker does the real work in
/// far fewer runs.
pub const PROPTEST_SHRINK_STEPS_MAX: u32 = 64;

/// Generates up to `config.cases` cases (the same cases, seed for seed, as
/// [`find_failure`]) and checks `registry` on each.
///
/// `Err` with the counterexample when a property broke: shrunk first by
/// proptest's value tree, then by [`shrink_case_with`] (`config.shrink`), both keeping the
/// property first found (unless `config.shrink_to` says otherwise).
/// `Ok` with a [`SearchSummary`] when none broke: `Ok` is not "every
/// property holds" unless [`SearchSummary::all_hold`] says so, since a case
/// property 4 could not decide, or a case cut by a limit, is counted
/// there, never as holding. A test that must hold writes
/// `assert!(summary.all_hold(), "{summary}")`.
pub fn check_registry(
    registry: &RegistryFactory<'_>,
    config: &SearchConfig,
) -> Result<SearchSummary, Box<Counterexample>> {
    let one_thread = ExploreConfig {
        threads: 1,
        shard: Shard::WHOLE,
        keep_going: false,
        check_determinism: false,
        max_time: None,
        stop: None,
        out: None,
        ..config.clone()
    };
    let mut report = explore(registry, &one_thread);
    match report
        .result
        .failures
        .first_mut()
        .and_then(|failure| failure.counterexample.take())
    {
        Some(counterexample) => Err(Box::new(counterexample)),
        None => Ok(report.summary),
    }
}

/// The counterexample of the case at `index`, which broke as `found`:
/// shrunk first by proptest's value tree (at most
/// [`PROPTEST_SHRINK_STEPS_MAX`] steps), then by [`finish`].
pub fn counterexample_at(
    registry: &RegistryFactory<'_>,
    config: &SearchConfig,
    index: u32,
    found: Failure,
) -> Counterexample {
    let quiet = CheckConfig {
        tracing: false,
        ..config.check.clone()
    };
    let fails = |case: &Case| run_case(case, registry, &quiet).failure;
    let Some(mut tree) = case_tree(config, index) else {
        unreachable!("case {index} was generated once, so it is generated again");
    };
    // Proptest's own shrinking, as its runner does it (without the
    // runner, which prints to stderr when it stops early): simplify
    // while the case still fails, complicate when it passes. "Fails"
    // means fails as found, unless asked to follow any property.
    let still_fails = |candidate: &Case| match fails(candidate) {
        Some(failure) => {
            config.shrink_to == ShrinkTarget::AnyProperty || failure.property == found.property
        }
        None => false,
    };
    let mut smallest = tree.current();
    let mut steps = 0;
    let mut more = tree.simplify();
    while more && steps < PROPTEST_SHRINK_STEPS_MAX {
        steps += 1;
        let candidate = tree.current();
        if still_fails(&candidate) {
            smallest = candidate;
            more = tree.simplify();
        } else {
            more = tree.complicate();
        }
    }
    finish(&smallest, registry, config, found, index + 1)
}

/// Generates cases one by one, without any shrinking, until one fails:
/// the case, its failure and how many cases it took. For measuring how
/// fast a flaw is found.
pub fn find_failure(
    registry: &RegistryFactory<'_>,
    config: &SearchConfig,
) -> Option<(Case, Failure, u32)> {
    let quiet = CheckConfig {
        tracing: false,
        ..config.check.clone()
    };
    let source = CaseSource::new(config);
    for index in 1..=config.cases {
        let case = source.case(index - 1)?;
        if let Some(failure) = run_case(&case, registry, &quiet).failure {
            return Some((case, failure, index));
        }
    }
    None
}

/// The value tree of case `index` (from 0) of a search: generated from
/// [`case_seed`]`(config.seed, index)` with the portfolio's
/// `index mod len`-th strategy kind.
pub fn case_tree(config: &SearchConfig, index: u32) -> Option<Box<dyn ValueTree<Value = Case>>> {
    CaseSource::new(config).tree(index)
}

/// Case `index` (from 0) of a search, as [`check_registry`] generates it.
pub fn nth_case(config: &SearchConfig, index: u32) -> Option<Case> {
    CaseSource::new(config).case(index)
}

/// The cases of a search, by index, as [`case_tree`] and [`nth_case`] give
/// them. The strategies (one per portfolio position) and the runner
/// configuration are built once and reused, since case `index` depends only
/// on `(config.seed, index)` (explore on examples/verify/chapter.kv spent
/// about 4.4 k instructions a case rebuilding them).
/// Not `Send` (proptest's boxed strategies are not): one per thread.
pub struct CaseSource {
    seed: u64,
    /// Indexed by `index mod len`; a single entry when the generator names
    /// no strategy kinds.
    strategies: Vec<BoxedStrategy<Case>>,
    runner_config: Config,
}

impl CaseSource {
    /// The case source of `config`'s search.
    pub fn new(config: &SearchConfig) -> CaseSource {
        let kinds = &config.generator.strategies;
        let strategies = if kinds.is_empty() {
            vec![cases(config.generator.clone())]
        } else {
            kinds
                .iter()
                .map(|&kind| {
                    cases(GenConfig {
                        strategies: vec![kind],
                        ..config.generator.clone()
                    })
                })
                .collect()
        };
        CaseSource {
            seed: config.seed,
            strategies,
            runner_config: Config::default(),
        }
    }

    /// The value tree of case `index` (from 0), or `None` when the
    /// generator cannot produce it.
    pub fn tree(&self, index: u32) -> Option<Box<dyn ValueTree<Value = Case>>> {
        let strategy = &self.strategies[index as usize % self.strategies.len()];
        // A fresh runner per case: a reused one would carry reject counts
        // (and its RNG) from one case into the next.
        let runner_config = Config {
            rng_seed: RngSeed::Fixed(case_seed(self.seed, u64::from(index))),
            ..self.runner_config.clone()
        };
        let mut runner = TestRunner::new(runner_config);
        strategy
            .new_tree(&mut runner)
            .ok()
            .map(|tree| Box::new(tree) as Box<dyn ValueTree<Value = Case>>)
    }

    /// Case `index` (from 0), or `None` when the generator cannot produce it.
    pub fn case(&self, index: u32) -> Option<Case> {
        self.tree(index).map(|tree| tree.current())
    }
}

/// Shrinks a failing case with [`shrink_case_with`] and traces the result. A
/// case with a strategy is first made explicit: the override list its run
/// took replaces the strategy, so the shrinker edits plain overrides. The
/// shrinker keeps `found`'s property, unless `config.shrink_to` is
/// [`ShrinkTarget::AnyProperty`]: then it keeps whichever property `case`
/// breaks (proptest's shrinking may have moved it to another).
pub fn finish(
    case: &Case,
    registry: &RegistryFactory<'_>,
    config: &SearchConfig,
    found: Failure,
    cases_to_failure: u32,
) -> Counterexample {
    let first = run_case(case, registry, &config.check);
    let property = match (config.shrink_to, &first.failure) {
        (ShrinkTarget::AnyProperty, Some(failure)) => failure.property,
        _ => found.property,
    };
    let case = explicit(case, &first);
    let (shrunk, _) = shrink_case_with(&case, registry, &config.check, property, &config.shrink);
    let traced = CheckConfig {
        tracing: true,
        ..config.check.clone()
    };
    let run = run_case(&shrunk, registry, &traced);
    Counterexample {
        failure: run.failure.unwrap_or(found.clone()),
        case: shrunk,
        found,
        cases_to_failure,
        before: SearchSummary {
            cases: cases_to_failure.saturating_sub(1),
            ..SearchSummary::default()
        },
        slice: match (&run.slice, &run.trace) {
            (Some(slice), Some(trace)) => slice.to_text(trace),
            _ => String::new(),
        },
        trace: run.trace.map(|t| t.to_text()).unwrap_or_default(),
    }
}
