//! Partial Order Sampling: an explorer that spreads its runs evenly over
//! the orderings that matter (those of racing events) instead of over raw
//! interleavings, most of which differ only in the order of independent
//! events. Owns the per-event priorities; which events race is read from
//! the candidates, what they do is the scheduler's business.
//!
//! POS comes from "Partial Order Aware Concurrency Sampling", Yuan, Yang and
//! Gu, CAV 2018. Every event gets an independent random priority, the
//! highest-priority enabled event runs, and after an event `e` runs, every
//! enabled event that races with `e` gets a fresh random priority. The
//! reset is what makes the sampling partial-order aware: an event that lost
//! a race is not condemned to keep losing, so each order of a race is about
//! equally likely whatever happened elsewhere.
//!
//! The adaptation to an actor system: an event is a scheduler event named
//! by its [`KeyId`] (a delivery, a client action, a fault, a timer), and two
//! events race when the same process handles them (same
//! [`Candidate::actor`](super::Candidate)). Handlers touch only their own
//! process's state and signals to different receivers commute, so events of
//! different processes are independent; two arrivals at one process (from
//! different senders, or a fault against a delivery) are exactly the races
//! a registry bug hides in. Priorities are integers (no floats): ties, which
//! are astronomically rare, go to the earlier candidate.

use std::collections::BTreeMap;

use crate::sim::choice::{Choice, ChoiceSource};
use crate::sim::key::KeyId;
use crate::sim::prng::Prng;

/// POS over event keys, from a seed.
#[derive(Clone, Debug)]
pub struct Pos {
    prng: Prng,
    // One entry per event seen among the candidates that has not run yet
    // (an event runs at most once, so its entry is dropped when it runs).
    priorities: BTreeMap<KeyId, u64>,
}

impl Pos {
    pub fn new(seed: u64) -> Pos {
        Pos {
            prng: Prng::new(seed),
            priorities: BTreeMap::new(),
        }
    }
}

impl ChoiceSource for Pos {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        // First sight, in candidate order so the draws are deterministic.
        for candidate in choice.candidates {
            if !self.priorities.contains_key(&candidate.key) {
                let fresh = self.prng.next_u64();
                self.priorities.insert(candidate.key, fresh);
            }
        }

        let mut chosen = 0;
        let mut chosen_priority = None;
        for (index, candidate) in choice.candidates.iter().enumerate() {
            let priority = self.priorities[&candidate.key];
            // Strictly greater: ties go to the earlier candidate.
            if chosen_priority.is_none_or(|best| priority > best) {
                chosen = index;
                chosen_priority = Some(priority);
            }
        }

        let winner = choice.candidates[chosen];
        self.priorities.remove(&winner.key);
        for (index, candidate) in choice.candidates.iter().enumerate() {
            if index != chosen && candidate.actor == winner.actor {
                let fresh = self.prng.next_u64();
                self.priorities.insert(candidate.key, fresh);
            }
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::choice::{Candidate, CandidateKind};
    use crate::sim::key::{EventKey, KeyArena};
    use crate::sim::pid::Pid;

    /// Deliveries of signal `n` sent during client 0's first command, each
    /// to the given receiver.
    fn deliveries(keys: &mut KeyArena, receivers: &[u64]) -> Vec<Candidate> {
        let cause = keys.intern(&EventKey::client(0, 0));
        receivers
            .iter()
            .zip(0u32..)
            .map(|(&receiver, n)| Candidate {
                key: keys.child(cause, n),
                actor: Pid(receiver),
                kind: CandidateKind::Deliver {
                    from: Pid(100 + u64::from(n)),
                },
            })
            .collect()
    }

    fn choose(pos: &mut Pos, step: u64, candidates: &[Candidate], keys: &KeyArena) -> usize {
        pos.choose(&Choice {
            step,
            candidates,
            fifo: 0,
            keys,
        })
    }

    #[test]
    fn same_seed_same_picks() {
        let mut keys = KeyArena::new();
        let candidates = deliveries(&mut keys, &[1, 1, 2, 2, 3]);
        let picks = |seed| {
            let mut pos = Pos::new(seed);
            (0..10)
                .map(|step| choose(&mut pos, step, &candidates, &keys))
                .collect::<Vec<_>>()
        };
        assert_eq!(picks(4), picks(4));
        let seeds_with_distinct_picks: std::collections::BTreeSet<Vec<usize>> =
            (0..20).map(picks).collect();
        assert!(
            seeds_with_distinct_picks.len() > 1,
            "every seed picked alike"
        );
    }

    #[test]
    fn runs_the_highest_priority_candidate() {
        let mut keys = KeyArena::new();
        let candidates = deliveries(&mut keys, &[1, 2, 3]);
        let mut pos = Pos::new(0);
        for (candidate, priority) in candidates.iter().zip([5, 9, 7]) {
            pos.priorities.insert(candidate.key, priority);
        }
        assert_eq!(choose(&mut pos, 0, &candidates, &keys), 1);
        // The winner has run: its priority is gone, the others are kept
        // (different receivers, so no race).
        assert!(!pos.priorities.contains_key(&candidates[1].key));
        assert_eq!(pos.priorities[&candidates[0].key], 5);
        assert_eq!(pos.priorities[&candidates[2].key], 7);
        let rest = [candidates[0], candidates[2]];
        assert_eq!(choose(&mut pos, 1, &rest, &keys), 1, "7 beats 5");
    }

    #[test]
    fn racing_events_get_fresh_priorities_and_others_keep_theirs() {
        let mut keys = KeyArena::new();
        // Three signals to Pid(1) race with each other; the one to Pid(2)
        // is independent of them.
        let candidates = deliveries(&mut keys, &[1, 1, 1, 2]);
        let mut pos = Pos::new(0);
        for (candidate, priority) in candidates.iter().zip([10, 30, 20, 5]) {
            pos.priorities.insert(candidate.key, priority);
        }
        assert_eq!(choose(&mut pos, 0, &candidates, &keys), 1);
        // Fresh draws are full 64-bit values; hitting 10 or 20 again is a
        // 2^-64 event, so "changed" is a sound check.
        assert_ne!(pos.priorities[&candidates[0].key], 10);
        assert_ne!(pos.priorities[&candidates[2].key], 20);
        assert_eq!(
            pos.priorities[&candidates[3].key], 5,
            "an independent event keeps its priority"
        );
        assert!(!pos.priorities.contains_key(&candidates[1].key));
    }

    #[test]
    fn a_lost_race_can_be_won_later() {
        // Two arrivals at one process: across seeds, each goes first.
        let mut keys = KeyArena::new();
        let candidates = deliveries(&mut keys, &[1, 1]);
        let firsts: std::collections::BTreeSet<usize> = (0..20)
            .map(|seed| choose(&mut Pos::new(seed), 0, &candidates, &keys))
            .collect();
        assert_eq!(firsts.len(), 2, "one order of the race never sampled");
    }

    #[test]
    fn first_sight_priority_sticks_until_a_race_resets_it() {
        let mut keys = KeyArena::new();
        let candidates = deliveries(&mut keys, &[1, 2]);
        // First sight draws in candidate order from the seeded stream.
        let mut stream = Prng::new(6);
        let first_draws = [stream.next_u64(), stream.next_u64()];
        let winner = if first_draws[1] > first_draws[0] {
            1
        } else {
            0
        };
        let loser = 1 - winner;

        let mut pos = Pos::new(6);
        assert_eq!(choose(&mut pos, 0, &candidates, &keys), winner);
        // Different receivers, so nothing raced: the loser keeps its draw.
        assert_eq!(pos.priorities.len(), 1);
        assert_eq!(pos.priorities[&candidates[loser].key], first_draws[loser]);

        assert_eq!(choose(&mut pos, 1, &candidates[loser..=loser], &keys), 0);
        assert!(
            pos.priorities.is_empty(),
            "every event that ran was forgotten"
        );
    }

    #[test]
    fn is_not_fifo() {
        assert!(!Pos::new(0).is_fifo());
    }
}
