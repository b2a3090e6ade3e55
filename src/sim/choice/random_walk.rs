//! The baseline explorer: every enabled event is equally likely at every
//! step. Owns only that uniform draw; it knows nothing about processes or
//! races, which is what makes it a fair yardstick for `Pct` and `Pos` (and
//! weak at deep bugs that need one process held back for long).

use crate::sim::choice::{Change, Choice, ChoiceSource, Enabled, Incremental, Rank};
use crate::sim::prng::Prng;

/// Picks uniformly among the enabled events, from a seed.
#[derive(Clone, Debug)]
pub struct RandomWalk {
    prng: Prng,
}

impl RandomWalk {
    pub fn new(seed: u64) -> RandomWalk {
        RandomWalk {
            prng: Prng::new(seed),
        }
    }
}

impl ChoiceSource for RandomWalk {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        // `Choice::candidates` is never empty, so `index` cannot panic.
        self.prng.index(choice.candidates.len())
    }

    fn incremental(&mut self) -> Option<&mut dyn Incremental> {
        Some(self)
    }
}

/// The same draw on the scheduler's indexed set: the `n`-th candidate is
/// found in O(log n) instead of being listed.
impl Incremental for RandomWalk {
    fn update(&mut self, _change: &Change) {}

    fn pick(&mut self, enabled: &dyn Enabled) -> Rank {
        enabled.nth(self.prng.index(enabled.len())).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::choice::{Candidate, CandidateKind};
    use crate::sim::key::{EventKey, KeyArena};
    use crate::sim::pid::Pid;

    fn clients(keys: &mut KeyArena, count: u32) -> Vec<Candidate> {
        (0..count)
            .map(|client| Candidate {
                key: keys.intern(&EventKey::client(client, 0)),
                actor: Pid(u64::from(client) + 1),
                kind: CandidateKind::Client,
            })
            .collect()
    }

    fn picks(seed: u64, steps: u64, candidates: &[Candidate], keys: &KeyArena) -> Vec<usize> {
        let mut walk = RandomWalk::new(seed);
        (0..steps)
            .map(|step| {
                walk.choose(&Choice {
                    step,
                    candidates,
                    fifo: 0,
                    keys,
                })
            })
            .collect()
    }

    #[test]
    fn same_seed_same_picks() {
        let mut keys = KeyArena::new();
        let candidates = clients(&mut keys, 5);
        assert_eq!(
            picks(17, 200, &candidates, &keys),
            picks(17, 200, &candidates, &keys)
        );
        assert_ne!(
            picks(17, 200, &candidates, &keys),
            picks(18, 200, &candidates, &keys)
        );
    }

    #[test]
    fn covers_every_candidate_and_stays_in_range() {
        let mut keys = KeyArena::new();
        let candidates = clients(&mut keys, 5);
        let chosen = picks(3, 500, &candidates, &keys);
        assert!(chosen.iter().all(|&index| index < candidates.len()));
        for index in 0..candidates.len() {
            assert!(
                chosen.contains(&index),
                "candidate {index} never chosen in 500 steps"
            );
        }
    }

    #[test]
    fn not_stuck_on_fifo() {
        let mut keys = KeyArena::new();
        let candidates = clients(&mut keys, 2);
        let chosen = picks(0, 100, &candidates, &keys);
        assert!(chosen.iter().any(|&index| index != 0));
        assert!(!RandomWalk::new(0).is_fifo());
    }
}
