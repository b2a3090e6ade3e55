//! Probabilistic Concurrency Testing: an explorer aimed at bugs that need a
//! few specific orderings (a "depth") rather than many random ones. Owns the
//! priorities of processes and when they drop; which events exist and what
//! they do is the scheduler's business.
//!
//! PCT comes from "A Randomized Scheduler with Probabilistic Guarantees of
//! Finding Bugs", Burckhardt, Kothari, Musuvathi and Nagarakatte, ASPLOS
//! 2010. There, each of `n` threads gets a random distinct priority of at
//! least `d`, the highest-priority enabled thread always runs, and at `d - 1`
//! random steps drawn from `1..=k` the running thread's priority drops below
//! all initial ones. Any bug of depth `d` is then found with probability at
//! least `1 / (n * k^(d-1))` per run.
//!
//! The adaptation to an actor system:
//!
//! - A *thread* is a process ([`Candidate::actor`]: the receiver of a
//!   delivery, the client acting, the fault's target, the timer's owner) and
//!   an *instruction* is one event, i.e. one handler run to completion.
//! - Processes appear as the run goes (spawns), so the number `n` is not
//!   known up front. A process gets its priority the first time it shows up
//!   among the candidates: a fresh random value `>= depth`, distinct from
//!   every current priority, which puts it at a uniformly random rank among
//!   the processes seen so far, as the paper's random permutation would.
//! - A process may have several enabled events (signals queued from several
//!   senders, or its own client action). The paper's thread has one next
//!   instruction; here the process's first candidate in the scheduler's
//!   order runs. So PCT reorders *processes*, never the arrivals at one
//!   process; that race is what [`Pos`](super::Pos) samples.
//! - `k` is `steps_estimate`, a guess at the run's length in events; change
//!   points beyond the actual length simply never fire, which lowers the
//!   effective depth of that run, as in the paper.
//! - Change points are drawn independently, so two may fall on the same
//!   step; both then apply in order and the later (lower) priority stays.

use std::collections::BTreeMap;

use crate::sim::choice::{Candidate, Choice, ChoiceSource};
use crate::sim::pid::Pid;
use crate::sim::prng::Prng;

/// PCT over processes, from a seed.
#[derive(Clone, Debug)]
pub struct Pct {
    prng: Prng,
    // invariant: depth >= 1
    depth: usize,
    // invariant: change_points.len() == depth - 1
    // invariant: every change point is in 1..=steps_estimate (as clamped by `new`)
    // Kept in draw order: the i-th point lowers to `depth - 1 - i`.
    change_points: Vec<u64>,
    // invariant: values are pairwise distinct, so the highest-priority
    // process is unique; values >= depth were drawn at first sight, values
    // < depth were set by a change point.
    priorities: BTreeMap<Pid, u64>,
}

impl Pct {
    /// The depth used when the caller has no better idea: enough for the
    /// classic "check, then act after another process moved" bugs.
    pub const DEFAULT_DEPTH: usize = 3;

    /// PCT for bugs of depth `depth` in runs of about `steps_estimate`
    /// events. An estimate of 0 is treated as 1 (it is only a hint).
    ///
    /// # Panics
    ///
    /// If `depth == 0`: depth 1 already means "no priority changes", and
    /// there is no meaning below it. Callers validate user input first.
    pub fn new(seed: u64, depth: usize, steps_estimate: u64) -> Pct {
        assert!(depth >= 1, "PCT depth must be at least 1, got 0");
        let steps_estimate = steps_estimate.max(1);
        let mut prng = Prng::new(seed);
        let change_points = (1..depth).map(|_| 1 + prng.below(steps_estimate)).collect();
        Pct {
            prng,
            depth,
            change_points,
            priorities: BTreeMap::new(),
        }
    }

    /// [`Pct::new`] with [`Pct::DEFAULT_DEPTH`].
    pub fn with_default_depth(seed: u64, steps_estimate: u64) -> Pct {
        Pct::new(seed, Pct::DEFAULT_DEPTH, steps_estimate)
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The steps at which the running process's priority drops, in draw
    /// order (for reports: "pct depth 3, change points [12, 40]").
    pub fn change_points(&self) -> &[u64] {
        &self.change_points
    }

    fn depth_u64(&self) -> u64 {
        // Lossless: usize is at most 64 bits on every target Rust supports.
        self.depth as u64
    }

    /// Gives `actor` its initial priority if this is its first appearance.
    fn meet(&mut self, actor: Pid) {
        if self.priorities.contains_key(&actor) {
            return;
        }
        let floor = self.depth_u64();
        let priority = loop {
            let drawn = floor + self.prng.below(u64::MAX - floor);
            // A collision is astronomically rare, but distinctness is what
            // makes "the highest-priority process" well defined.
            if !self.priorities.values().any(|&taken| taken == drawn) {
                break drawn;
            }
        };
        self.priorities.insert(actor, priority);
    }

    fn priority(&self, actor: Pid) -> u64 {
        *self
            .priorities
            .get(&actor)
            .expect("every candidate's actor is met before ranking")
    }
}

impl ChoiceSource for Pct {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        for candidate in choice.candidates {
            self.meet(candidate.actor);
        }
        let chosen = highest_priority(choice.candidates, |actor| self.priority(actor));
        let running = choice.candidates[chosen].actor;
        for (index, &point) in self.change_points.iter().enumerate() {
            if point == choice.step {
                // Below every initial priority (those are >= depth) and
                // distinct from every other change point's value, so the
                // priorities stay distinct, as in the paper.
                let lowered = (self.depth - 1 - index) as u64;
                self.priorities.insert(running, lowered);
            }
        }
        chosen
    }
}

/// The index of the first candidate whose actor has the highest priority.
fn highest_priority(candidates: &[Candidate], priority: impl Fn(Pid) -> u64) -> usize {
    let mut best = 0;
    let mut best_priority = None;
    for (index, candidate) in candidates.iter().enumerate() {
        let this = priority(candidate.actor);
        // Strictly greater: ties (several events of one process) go to the
        // earliest candidate, i.e. the scheduler's own order.
        if best_priority.is_none_or(|best_so_far| this > best_so_far) {
            best = index;
            best_priority = Some(this);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::choice::CandidateKind;
    use crate::sim::key::{EventKey, KeyArena};

    /// One client event per actor `Pid(1)..=Pid(count)`.
    fn one_event_per_actor(keys: &mut KeyArena, count: u32) -> Vec<Candidate> {
        (0..count)
            .map(|client| Candidate {
                key: keys.intern(&EventKey::client(client, 0)),
                actor: Pid(u64::from(client) + 1),
                kind: CandidateKind::Client,
            })
            .collect()
    }

    /// The actors PCT runs over `steps` steps when the same events stay
    /// enabled throughout (a process that never runs out of work).
    fn run_actors(
        pct: &mut Pct,
        steps: u64,
        candidates: &[Candidate],
        keys: &KeyArena,
    ) -> Vec<Pid> {
        (0..steps)
            .map(|step| {
                let index = pct.choose(&Choice {
                    step,
                    candidates,
                    fifo: 0,
                    keys,
                });
                candidates[index].actor
            })
            .collect()
    }

    #[test]
    fn same_seed_same_sequence() {
        let mut keys = KeyArena::new();
        let candidates = one_event_per_actor(&mut keys, 4);
        let first = run_actors(&mut Pct::new(21, 3, 10), 20, &candidates, &keys);
        let second = run_actors(&mut Pct::new(21, 3, 10), 20, &candidates, &keys);
        assert_eq!(first, second);
        assert_eq!(
            Pct::new(21, 3, 10).change_points(),
            Pct::new(21, 3, 10).change_points()
        );
    }

    #[test]
    fn different_seeds_rank_processes_differently() {
        let mut keys = KeyArena::new();
        let candidates = one_event_per_actor(&mut keys, 4);
        let first_runners: std::collections::BTreeSet<Pid> = (0..50)
            .map(|seed| run_actors(&mut Pct::new(seed, 1, 10), 1, &candidates, &keys)[0])
            .collect();
        assert_eq!(
            first_runners.len(),
            4,
            "some process never ranked highest in 50 seeds"
        );
    }

    #[test]
    fn depth_one_never_changes_priorities() {
        let mut keys = KeyArena::new();
        let candidates = one_event_per_actor(&mut keys, 5);
        for seed in 0..20 {
            let mut pct = Pct::new(seed, 1, 10);
            assert!(pct.change_points().is_empty());
            let actors = run_actors(&mut pct, 30, &candidates, &keys);
            assert!(
                actors.iter().all(|&actor| actor == actors[0]),
                "seed {seed}: {actors:?}"
            );
        }
    }

    #[test]
    fn change_points_fit_depth_and_estimate() {
        for seed in 0..50 {
            let pct = Pct::new(seed, 4, 7);
            assert_eq!(pct.change_points().len(), 3);
            assert!(
                pct.change_points()
                    .iter()
                    .all(|point| (1..=7).contains(point))
            );
        }
        assert_eq!(
            Pct::with_default_depth(0, 100).change_points().len(),
            Pct::DEFAULT_DEPTH - 1
        );
        // An estimate of 0 is raised to 1 rather than making the range empty.
        assert_eq!(Pct::new(0, 3, 0).change_points(), [1, 1]);
    }

    #[test]
    fn the_runner_drops_exactly_at_the_change_point() {
        let mut keys = KeyArena::new();
        let candidates = one_event_per_actor(&mut keys, 3);
        for seed in 0..20 {
            let mut pct = Pct::new(seed, 2, 8);
            let change_point = pct.change_points()[0];
            let actors = run_actors(&mut pct, 12, &candidates, &keys);
            let (before, after) = actors.split_at(change_point as usize + 1);
            // The top process runs up to and including the change point...
            assert!(
                before.iter().all(|&actor| actor == before[0]),
                "seed {seed}: {actors:?}"
            );
            // ...then drops below everyone, and the next one takes over.
            assert!(
                after.iter().all(|&actor| actor == after[0]),
                "seed {seed}: {actors:?}"
            );
            assert_ne!(before[0], after[0], "seed {seed}: {actors:?}");
            assert_eq!(pct.priorities[&before[0]], 1, "depth 2 lowers to depth - 1");
        }
    }

    #[test]
    fn later_change_points_lower_further() {
        let mut keys = KeyArena::new();
        let candidates = one_event_per_actor(&mut keys, 4);
        let mut pct = Pct::new(5, 3, 10);
        // Pin the points so the test does not depend on the draw.
        pct.change_points = vec![2, 4];
        let actors = run_actors(&mut pct, 8, &candidates, &keys);
        let (first, second, third) = (actors[0], actors[3], actors[5]);
        assert_eq!(&actors[..3], [first; 3]);
        assert_eq!(&actors[3..5], [second; 2]);
        assert_eq!(&actors[5..], [third; 3]);
        assert_eq!(
            pct.priorities[&first], 2,
            "change point 0 lowers to depth - 1"
        );
        assert_eq!(
            pct.priorities[&second], 1,
            "change point 1 lowers to depth - 2"
        );
        assert!(
            pct.priorities[&third] >= 3,
            "untouched processes keep priorities >= depth"
        );
        assert_ne!(third, first);
        assert_ne!(third, second);
    }

    #[test]
    fn initial_priorities_are_distinct_and_at_least_depth() {
        let mut keys = KeyArena::new();
        let candidates = one_event_per_actor(&mut keys, 30);
        let mut pct = Pct::new(8, 5, 100);
        run_actors(&mut pct, 1, &candidates, &keys);
        let values: std::collections::BTreeSet<u64> = pct.priorities.values().copied().collect();
        assert_eq!(values.len(), 30);
        assert!(values.iter().all(|&priority| priority >= 5));
    }

    #[test]
    fn events_of_one_process_go_in_candidate_order() {
        let mut keys = KeyArena::new();
        let setup = keys.intern(&EventKey::client(0, 0));
        let receiver = Pid(7);
        let candidates: Vec<Candidate> = (0..3)
            .map(|n| Candidate {
                key: keys.child(setup, n),
                actor: receiver,
                kind: CandidateKind::Deliver {
                    from: Pid(u64::from(n) + 1),
                },
            })
            .collect();
        for seed in 0..10 {
            let mut pct = Pct::new(seed, 3, 5);
            let choice = Choice {
                step: 0,
                candidates: &candidates,
                fifo: 2,
                keys: &keys,
            };
            assert_eq!(pct.choose(&choice), 0);
        }
    }

    #[test]
    fn a_process_spawned_later_lands_at_a_random_rank() {
        let mut keys = KeyArena::new();
        let both = one_event_per_actor(&mut keys, 2);
        let (old, newcomer) = (both[0].actor, both[1].actor);
        let mut newcomer_ran_first = 0;
        for seed in 0..50 {
            let mut pct = Pct::new(seed, 1, 10);
            assert_eq!(run_actors(&mut pct, 3, &both[..1], &keys), [old; 3]);
            let later = run_actors(&mut pct, 4, &both, &keys);
            // Ranked once, then consistently: no change points at depth 1.
            assert!(
                later.iter().all(|&actor| actor == later[0]),
                "seed {seed}: {later:?}"
            );
            if later[0] == newcomer {
                newcomer_ran_first += 1;
            }
        }
        // Neither always on top nor always at the bottom.
        assert!(
            (10..40).contains(&newcomer_ran_first),
            "newcomer on top in {newcomer_ran_first}/50"
        );
    }

    #[test]
    #[should_panic(expected = "depth must be at least 1")]
    fn depth_zero_is_rejected() {
        Pct::new(0, 0, 10);
    }
}
