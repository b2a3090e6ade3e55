//! Schedules of a case: an explicit override list, or a strategy with its
//! seed that picks wherever no override applies. Owns the strategy kinds,
//! their text form (case files, the CLI, reports), the portfolio that
//! rotates them over case indices, and how a strategy becomes a choice
//! source for one run of a given registry.
//!
//! Every strategy run records what it chose ([`crate::sim::Sim::schedule_taken`]),
//! so a failure found by any strategy is saved as the explicit override list
//! that replays it event for event.
//!
//! Generated override lists name only events that can occur: a
//! [`Strategy::Mutation`] first runs the case under a random walk from its
//! seed, records the keys of the events that ran, and then takes its
//! overrides from that record: a prefix kept whole, then a subsequence of
//! the rest in the run's order (`picks` index into it). So
//! an override can name a death signal or a reply six levels deep as easily
//! as a client action, and because the record comes from the registry under
//! test, the keys are that registry's own.

use crate::sim::prng::Prng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How the events not named by an override are ordered.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case", deny_unknown_fields)]
pub enum Strategy {
    /// A uniform random walk over the enabled events.
    Random { seed: u64 },
    /// Partial order sampling (Yuan, Yang and Gu, CAV 2018).
    Pos { seed: u64 },
    /// PCT (Burckhardt et al., ASPLOS 2010) for bugs of depth `depth >= 1`;
    /// its run length `k` is taken from a `fifo` run of the same case.
    Pct { seed: u64, depth: u32 },
    /// Overrides drawn from a random-walk run of the same case from `seed`
    /// (a mutation of that recorded run): its first `picks[0] % (len + 1)`
    /// events kept whole, then each later `picks[i] % len` (i >= 1) past
    /// that prefix, as a subsequence in the run's order.
    Mutation { seed: u64, picks: Vec<u32> },
}

/// The kinds a portfolio rotates over (a [`Strategy`] without its seed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StrategyKind {
    /// Generated overrides ([`Strategy::Mutation`]).
    Overrides,
    Random,
    Pos,
    /// PCT with a depth drawn from `1..=max_depth`.
    Pct {
        max_depth: u32,
    },
}

impl StrategyKind {
    /// The default portfolio: generated overrides, random walk, POS and PCT
    /// with `d` drawn from `1..=3`, one after the other over case indices.
    pub const PORTFOLIO: [StrategyKind; 4] = [
        StrategyKind::Overrides,
        StrategyKind::Random,
        StrategyKind::Pos,
        StrategyKind::Pct { max_depth: 3 },
    ];

    /// A strategy of this kind, drawn from `prng`; `overrides` bounds the
    /// number of picks of a generated override list (at least 1).
    pub fn draw(self, prng: &mut Prng, overrides: usize) -> Strategy {
        let seed = prng.next_u64();
        match self {
            StrategyKind::Overrides => {
                let count = 1 + prng.index(overrides.max(1));
                let picks = (0..count).map(|_| prng.next_u64() as u32).collect();
                Strategy::Mutation { seed, picks }
            }
            StrategyKind::Random => Strategy::Random { seed },
            StrategyKind::Pos => Strategy::Pos { seed },
            StrategyKind::Pct { max_depth } => Strategy::Pct {
                seed,
                depth: 1 + prng.below(u64::from(max_depth.max(1))) as u32,
            },
        }
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrategyKind::Overrides => f.write_str("overrides"),
            StrategyKind::Random => f.write_str("random"),
            StrategyKind::Pos => f.write_str("pos"),
            StrategyKind::Pct { max_depth } => write!(f, "pct(d<={max_depth})"),
        }
    }
}

impl Strategy {
    /// The seed the strategy draws from.
    pub fn seed(&self) -> u64 {
        match self {
            Strategy::Random { seed }
            | Strategy::Pos { seed }
            | Strategy::Pct { seed, .. }
            | Strategy::Mutation { seed, .. } => *seed,
        }
    }
}

impl fmt::Display for Strategy {
    /// `random seed 3`, `pos seed 3`, `pct seed 3 depth 2`,
    /// `overrides seed 3 picks [4, 9]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Random { seed } => write!(f, "random seed {seed}"),
            Strategy::Pos { seed } => write!(f, "pos seed {seed}"),
            Strategy::Pct { seed, depth } => write!(f, "pct seed {seed} depth {depth}"),
            Strategy::Mutation { seed, picks } => {
                write!(f, "overrides seed {seed} picks {picks:?}")
            }
        }
    }
}

impl FromStr for StrategyKind {
    type Err = String;

    fn from_str(text: &str) -> Result<StrategyKind, String> {
        match text {
            "overrides" => Ok(StrategyKind::Overrides),
            "random" => Ok(StrategyKind::Random),
            "pos" => Ok(StrategyKind::Pos),
            "pct" => Ok(StrategyKind::Pct { max_depth: 3 }),
            _ => Err(format!(
                "unknown strategy {text:?} (expected overrides, random, pos or pct)"
            )),
        }
    }
}

/// Mixes a search seed and a case index into the seed of that case, so
/// case `i` is a pure function of `(seed, i)` whatever ran before it (and
/// on whichever thread). SplitMix64's finaliser over both words.
pub fn case_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_seeds_differ_per_index_and_seed() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..20 {
            for index in 0..200 {
                assert!(seen.insert(case_seed(seed, index)), "{seed} {index}");
            }
        }
    }

    #[test]
    fn the_portfolio_draws_each_kind_with_sane_parameters() {
        let mut prng = Prng::new(1);
        for _ in 0..200 {
            for kind in StrategyKind::PORTFOLIO {
                match kind.draw(&mut prng, 6) {
                    Strategy::Mutation { picks, .. } => assert!((1..=6).contains(&picks.len())),
                    Strategy::Pct { depth, .. } => assert!((1..=3).contains(&depth)),
                    Strategy::Random { .. } | Strategy::Pos { .. } => {}
                }
            }
        }
    }

    #[test]
    fn strategies_round_trip_through_json() {
        for strategy in [
            Strategy::Random { seed: 1 },
            Strategy::Pos { seed: 2 },
            Strategy::Pct { seed: 3, depth: 2 },
            Strategy::Mutation {
                seed: 4,
                picks: vec![0, 7],
            },
        ] {
            let text = serde_json::to_string(&strategy).unwrap();
            assert_eq!(serde_json::from_str::<Strategy>(&text).unwrap(), strategy);
        }
    }
}
