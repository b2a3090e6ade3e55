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

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use crate::sim::choice::{Change, Choice, ChoiceSource, Enabled, Incremental, Rank};
use crate::sim::key::KeyId;
use crate::sim::pid::Pid;
use crate::sim::prng::Prng;

/// POS over event keys, from a seed.
#[derive(Clone, Debug)]
pub struct Pos {
    prng: Prng,
    // One entry per event seen among the candidates that has not run yet
    // (an event runs at most once, so its entry is dropped when it runs).
    priorities: BTreeMap<KeyId, u64>,
    // The incremental form's view of the enabled events.
    kept: Kept,
}

/// One enabled event as the incremental form keeps it.
#[derive(Clone, Copy, Debug)]
struct Event {
    key: KeyId,
    actor: Pid,
    quiet_only: bool,
    /// The priority it is ranked under; `None` until it gets one.
    priority: Option<u64>,
}

/// What the incremental form keeps of the enabled events: each one, its
/// racing events (same actor) in `fifo` order, those still without a
/// priority, and the ranking; `SETTLE` clients apart, as they count only
/// while quiet.
#[derive(Clone, Debug, Default)]
struct Kept {
    present: BTreeMap<Rank, Event>,
    by_actor: BTreeSet<(Pid, Rank)>,
    fresh: BTreeSet<Rank>,
    fresh_quiet: BTreeSet<Rank>,
    /// (priority, reversed rank): the last is the one to run, the highest
    /// priority and, among equal ones, the earliest in `fifo` order.
    ranked: BTreeSet<(u64, Reverse<Rank>)>,
    ranked_quiet: BTreeSet<(u64, Reverse<Rank>)>,
    /// The winner's racing events at the last pick: a buffer kept so
    /// that a pick allocates nothing.
    racing: Vec<Rank>,
}

impl Kept {
    fn ranked(&mut self, quiet_only: bool) -> &mut BTreeSet<(u64, Reverse<Rank>)> {
        if quiet_only {
            &mut self.ranked_quiet
        } else {
            &mut self.ranked
        }
    }

    /// Ranks the event at `rank` under `priority` (it must be present).
    fn rank(&mut self, rank: Rank, priority: u64) {
        let Some(event) = self.present.get_mut(&rank) else {
            return;
        };
        let (old, quiet_only) = (event.priority.replace(priority), event.quiet_only);
        self.rerank(rank, quiet_only, old, priority);
    }

    /// Moves `rank` from `old` to `priority` in its ranking (its entry in
    /// `present` already says `priority`).
    fn rerank(&mut self, rank: Rank, quiet_only: bool, old: Option<u64>, priority: u64) {
        let ranked = self.ranked(quiet_only);
        if let Some(old) = old {
            ranked.remove(&(old, Reverse(rank)));
        }
        ranked.insert((priority, Reverse(rank)));
    }
}

impl Pos {
    pub fn new(seed: u64) -> Pos {
        Pos {
            prng: Prng::new(seed),
            priorities: BTreeMap::new(),
            kept: Kept::default(),
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

    fn incremental(&mut self) -> Option<&mut dyn Incremental> {
        Some(self)
    }
}

/// The same rule on the scheduler's indexed set: events are kept ranked by
/// priority, an event gets its priority (in `fifo` order, as the list form
/// draws them) at the first pick it is a candidate of, and after a pick only
/// the winner's racing events are drawn again, found by actor.
impl Incremental for Pos {
    fn update(&mut self, change: &Change) {
        let Change {
            candidate,
            rank,
            quiet_only,
            enabled,
        } = *change;
        let kept = &mut self.kept;
        if enabled {
            kept.present.insert(
                rank,
                Event {
                    key: candidate.key,
                    actor: candidate.actor,
                    quiet_only,
                    priority: None,
                },
            );
            kept.by_actor.insert((candidate.actor, rank));
            match self.priorities.get(&candidate.key) {
                Some(&priority) => kept.rank(rank, priority),
                None if quiet_only => {
                    kept.fresh_quiet.insert(rank);
                }
                None => {
                    kept.fresh.insert(rank);
                }
            }
        } else if let Some(event) = kept.present.remove(&rank) {
            kept.by_actor.remove(&(event.actor, rank));
            match event.priority {
                Some(priority) => {
                    kept.ranked(event.quiet_only)
                        .remove(&(priority, Reverse(rank)));
                }
                None if event.quiet_only => {
                    kept.fresh_quiet.remove(&rank);
                }
                None => {
                    kept.fresh.remove(&rank);
                }
            }
        }
    }

    fn pick(&mut self, enabled: &dyn Enabled) -> Rank {
        let quiet = enabled.quiet();
        let mut fresh: Vec<Rank> = std::mem::take(&mut self.kept.fresh).into_iter().collect();
        if quiet {
            fresh.extend(std::mem::take(&mut self.kept.fresh_quiet));
            fresh.sort_unstable();
        }
        for rank in fresh {
            let Some(key) = self.kept.present.get(&rank).map(|e| e.key) else {
                continue;
            };
            let priority = match self.priorities.get(&key) {
                Some(&priority) => priority,
                None => {
                    let drawn = self.prng.next_u64();
                    self.priorities.insert(key, drawn);
                    drawn
                }
            };
            self.kept.rank(rank, priority);
        }
        let main = self.kept.ranked.last().copied();
        let settled = quiet
            .then(|| self.kept.ranked_quiet.last().copied())
            .flatten();
        let best = match (main, settled) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let Some((_, Reverse(won))) = best else {
            return enabled.nth(0).1;
        };
        let winner = self.kept.present[&won];
        self.priorities.remove(&winner.key);
        let mut racing = std::mem::take(&mut self.kept.racing);
        racing.clear();
        racing.extend(
            self.kept
                .by_actor
                .range(
                    (
                        winner.actor,
                        Rank {
                            group: 0,
                            within: 0,
                        },
                    )..,
                )
                .take_while(|(actor, _)| *actor == winner.actor)
                .map(|&(_, rank)| rank)
                .filter(|&rank| rank != won),
        );
        // The busiest actor (a registry with many callers) races with
        // many events: one lookup of each in `present`, not two.
        for &rank in &racing {
            let Some(event) = self.kept.present.get_mut(&rank) else {
                continue;
            };
            if event.quiet_only && !quiet {
                continue;
            }
            let drawn = self.prng.next_u64();
            let old = event.priority.replace(drawn);
            let (key, quiet_only) = (event.key, event.quiet_only);
            self.priorities.insert(key, drawn);
            self.kept.rerank(rank, quiet_only, old, drawn);
        }
        self.kept.racing = racing;
        won
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
