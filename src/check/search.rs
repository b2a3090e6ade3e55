//! Testing a registry end to end: generate cases with proptest, check each
//! one online, and when a property breaks, let proptest shrink the case and
//! then [`shrink_case`] take it to a 1-minimal, normalised one. This is the
//! entry point for checking a registry of your own.
//!
//! Case `i` of a search is a pure function of `(seed, i)`: its generator is
//! seeded with [`case_seed`]`(seed, i)` and its schedule strategy is the
//! portfolio's `i mod len`-th kind, so a case can be regenerated alone (and,
//! later, on any thread) and the portfolio's kinds get equal shares.

use crate::check::case::Case;
use crate::check::checker::{CheckConfig, Failure, RegistryFactory, explicit, run_case};
use crate::check::generate::{GenConfig, cases};
use crate::check::schedule::case_seed;
use crate::check::shrink::shrink_case;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestRunner};
use std::fmt;

/// How to search.
#[derive(Clone, Debug)]
pub struct SearchConfig {
    /// Cases to generate.
    pub cases: u32,
    /// The search's seed: case `i` is a pure function of (`seed`, `i`).
    pub seed: u64,
    pub generator: GenConfig,
    pub check: CheckConfig,
}

impl SearchConfig {
    /// The default number of cases: enough that the deep "stale `DOWN`"
    /// races (a lost restart needs a `CREATE`, a stop and a second `CREATE`
    /// of one name, then the second overtaking the `DOWN`; about 1 case in
    /// 600 of the default generator) are found on every seed, and a search
    /// that passes stays around a second in a release build.
    pub const DEFAULT_CASES: u32 = 10_000;
}

impl Default for SearchConfig {
    /// [`SearchConfig::DEFAULT_CASES`] cases (or `PROPTEST_CASES` when set),
    /// seed 0, the default generator (its
    /// schedules rotate over [`StrategyKind::PORTFOLIO`](crate::check::StrategyKind::PORTFOLIO):
    /// generated overrides, random walk, POS, PCT with d in 1..=3), all six
    /// properties.
    fn default() -> SearchConfig {
        SearchConfig {
            cases: std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|cases| cases.parse().ok())
                .unwrap_or(SearchConfig::DEFAULT_CASES),
            seed: 0,
            generator: GenConfig::default(),
            check: CheckConfig::default(),
        }
    }
}

/// A property broken by a generated case, shrunk.
#[derive(Clone, Debug)]
pub struct Counterexample {
    /// How the shrunk case fails.
    pub failure: Failure,
    /// The shrunk case.
    pub case: Case,
    /// How the case first found failed, before any shrinking.
    pub found: Failure,
    /// Generated cases run up to and including the first failing one.
    pub cases_to_failure: u32,
    /// The shrunk case's trace, as text.
    pub trace: String,
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.failure)?;
        writeln!(
            f,
            "(found after {} cases as: {})",
            self.cases_to_failure, self.found
        )?;
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
/// [`find_failure`]) and checks `registry` on each. `Ok(cases run)` when
/// every property held; otherwise the counterexample, shrunk first by
/// proptest's value tree, then by [`shrink_case`].
pub fn check_registry(
    registry: &RegistryFactory<'_>,
    config: &SearchConfig,
) -> Result<u32, Box<Counterexample>> {
    let quiet = CheckConfig {
        tracing: false,
        ..config.check.clone()
    };
    let fails = |case: &Case| run_case(case, registry, &quiet).failure;
    for index in 1..=config.cases {
        let Some(mut tree) = case_tree(config, index - 1) else {
            return Ok(index - 1);
        };
        let Some(found) = fails(&tree.current()) else {
            continue;
        };
        // Proptest's own shrinking, as its runner does it (without the
        // runner, which prints to stderr when it stops early): simplify
        // while the case still fails, complicate when it passes.
        let mut smallest = tree.current();
        let mut steps = 0;
        let mut more = tree.simplify();
        while more && steps < PROPTEST_SHRINK_STEPS_MAX {
            steps += 1;
            let candidate = tree.current();
            if fails(&candidate).is_some() {
                smallest = candidate;
                more = tree.simplify();
            } else {
                more = tree.complicate();
            }
        }
        return Err(Box::new(finish(&smallest, registry, config, found, index)));
    }
    Ok(config.cases)
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
    for index in 1..=config.cases {
        let case = case_tree(config, index - 1)?.current();
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
    let mut generator = config.generator.clone();
    if !generator.strategies.is_empty() {
        let kind = generator.strategies[index as usize % generator.strategies.len()];
        generator.strategies = vec![kind];
    }
    let runner_config = Config {
        rng_seed: RngSeed::Fixed(case_seed(config.seed, u64::from(index))),
        ..Config::default()
    };
    let mut runner = TestRunner::new(runner_config);
    cases(generator)
        .new_tree(&mut runner)
        .ok()
        .map(|tree| Box::new(tree) as Box<dyn ValueTree<Value = Case>>)
}

/// Case `index` (from 0) of a search, as [`check_registry`] generates it.
pub fn nth_case(config: &SearchConfig, index: u32) -> Option<Case> {
    case_tree(config, index).map(|tree| tree.current())
}

/// Shrinks a failing case with [`shrink_case`] and traces the result. A
/// case with a strategy is first made explicit: the override list its run
/// took replaces the strategy, so the shrinker edits plain overrides.
pub fn finish(
    case: &Case,
    registry: &RegistryFactory<'_>,
    config: &SearchConfig,
    found: Failure,
    cases_to_failure: u32,
) -> Counterexample {
    let first = run_case(case, registry, &config.check);
    let property = first
        .failure
        .as_ref()
        .map_or(found.property, |failure| failure.property);
    let case = explicit(case, &first);
    let (shrunk, _) = shrink_case(&case, registry, &config.check, property);
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
        trace: run.trace.map(|t| t.to_text()).unwrap_or_default(),
    }
}
