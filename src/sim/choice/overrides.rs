//! A schedule written down: the `fifo` order plus an ordered list of event
//! keys that jump the queue (docs/design.md § Schedules and choice sources). Every run
//! replays through this source, and proptest, the fuzzer and the shrinker
//! edit its list. Owns the matching rule: at each step the first
//! not-yet-consumed override whose event is enabled runs and is consumed;
//! with none enabled, the `fifo` event runs; an override whose event never
//! becomes enabled is never consumed. Because overrides name events by key,
//! never by position, deleting one override (or one command of the case)
//! leaves the meaning of the others unchanged, which is what lets a failing
//! schedule shrink. Reporting unused overrides is the caller's job, from
//! [`Overrides::consumed`].
//!
//! Where no override applies, the `fifo` event runs, or, with
//! [`Overrides::then`], whatever a fallback source picks: a case whose
//! schedule is "these overrides, then a random walk from seed 7" is one
//! source, and every run of a strategy can still be saved as a plain list.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::sim::choice::{Change, Choice, ChoiceSource, Enabled, Incremental, Rank};
use crate::sim::key::{EventKey, KeyArena, KeyId};

/// An override list, replayed against the `fifo` order (or a fallback
/// source).
pub struct Overrides {
    list: Vec<EventKey>,
    // Picks wherever no override is enabled; `None` is the `fifo` order.
    fallback: Option<Box<dyn ChoiceSource>>,
    // invariant: consumed.len() == list.len()
    consumed: Vec<bool>,
    // The positions in `list` still waiting, per interned key, ascending;
    // a key with nothing waiting has no entry. So the first enabled
    // override is the smallest front among the candidates' keys, found
    // without scanning the (possibly long, replayed) list at every step.
    // invariant: once prepared, position p is in pending[id of list[p]]
    // exactly when !consumed[p].
    pending: BTreeMap<KeyId, VecDeque<usize>>,
    // Key ids belong to one run's arena, so nothing can match before
    // `prepare` has interned the list into it.
    prepared: bool,
    // The incremental form's view of the enabled events: each one's key,
    // whether it is a `SETTLE` client, and the list position it stands for
    // when an override names it.
    present: BTreeMap<Rank, (KeyId, bool, Option<usize>)>,
    // (position, rank) of every enabled event an override names, apart
    // from `SETTLE` clients, which count only while quiet.
    live: BTreeSet<(usize, Rank)>,
    live_quiet: BTreeSet<(usize, Rank)>,
}

impl Overrides {
    pub fn new(list: Vec<EventKey>) -> Overrides {
        let consumed = vec![false; list.len()];
        Overrides {
            list,
            fallback: None,
            consumed,
            pending: BTreeMap::new(),
            prepared: false,
            present: BTreeMap::new(),
            live: BTreeSet::new(),
            live_quiet: BTreeSet::new(),
        }
    }

    /// `list`, with `fallback` picking wherever no override is enabled.
    pub fn then(list: Vec<EventKey>, fallback: Box<dyn ChoiceSource>) -> Overrides {
        Overrides {
            fallback: Some(fallback),
            ..Overrides::new(list)
        }
    }

    /// The override list, in order.
    pub fn keys(&self) -> &[EventKey] {
        &self.list
    }

    /// `consumed()[i]` tells whether `keys()[i]` has run so far.
    pub fn consumed(&self) -> &[bool] {
        &self.consumed
    }

    /// The overrides that have not run (yet), with their positions in the
    /// list: after a run, the ones to report as unused.
    pub fn unconsumed(&self) -> impl Iterator<Item = (usize, &EventKey)> {
        self.list
            .iter()
            .enumerate()
            .filter(|&(position, _)| !self.consumed[position])
    }
}

impl ChoiceSource for Overrides {
    /// Interns the list into this run's arena and forgets any earlier run,
    /// so one `Overrides` may replay the same schedule many times.
    fn prepare(&mut self, keys: &mut KeyArena) {
        self.pending.clear();
        self.consumed.fill(false);
        self.present.clear();
        self.live.clear();
        self.live_quiet.clear();
        for (position, key) in self.list.iter().enumerate() {
            let id = keys.intern(key);
            // Held for the run: an override must find the same id however
            // long before its event the key was interned.
            keys.retain(id);
            self.pending.entry(id).or_default().push_back(position);
        }
        self.prepared = true;
        if let Some(fallback) = &mut self.fallback {
            fallback.prepare(keys);
        }
    }

    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        assert!(
            self.prepared || self.list.is_empty(),
            "Overrides::choose called before prepare: its keys are not interned in this run's arena"
        );
        let mut first_enabled: Option<(usize, usize)> = None; // (list position, candidate index)
        for (index, candidate) in choice.candidates.iter().enumerate() {
            let Some(&position) = self.pending.get(&candidate.key).and_then(VecDeque::front) else {
                continue;
            };
            if first_enabled.is_none_or(|(best_position, _)| position < best_position) {
                first_enabled = Some((position, index));
            }
        }
        let Some((position, index)) = first_enabled else {
            return match &mut self.fallback {
                Some(fallback) => fallback.choose(choice),
                None => choice.fifo,
            };
        };
        let key = choice.candidates[index].key;
        if let Some(waiting) = self.pending.get_mut(&key) {
            waiting.pop_front();
            if waiting.is_empty() {
                self.pending.remove(&key);
            }
        }
        self.consumed[position] = true;
        index
    }

    /// An empty list is exactly the `fifo` schedule, so it may take the
    /// scheduler's fast path.
    fn is_fifo(&self) -> bool {
        self.list.is_empty() && self.fallback.as_ref().is_none_or(|f| f.is_fifo())
    }

    fn incremental(&mut self) -> Option<&mut dyn Incremental> {
        let fallback_ok = match &mut self.fallback {
            None => true,
            Some(fallback) => fallback.is_fifo() || fallback.incremental().is_some(),
        };
        if fallback_ok { Some(self) } else { None }
    }
}

impl Overrides {
    fn live_set(&mut self, quiet_only: bool) -> &mut BTreeSet<(usize, Rank)> {
        if quiet_only {
            &mut self.live_quiet
        } else {
            &mut self.live
        }
    }
}

/// The same rule on the scheduler's indexed set: the enabled events an
/// override names are kept ordered by list position, so the first enabled
/// override is found in O(log n).
impl Incremental for Overrides {
    fn update(&mut self, change: &Change) {
        if let Some(source) = self.fallback.as_mut().and_then(|f| f.incremental()) {
            source.update(change);
        }
        let Change {
            candidate,
            rank,
            quiet_only,
            enabled,
        } = *change;
        // With nothing to replay no event stands for a position, so there
        // is nothing to follow (a search's strategy runs take this path at
        // every step).
        if self.list.is_empty() {
            return;
        }
        if enabled {
            let position = self
                .pending
                .get(&candidate.key)
                .and_then(|waiting| waiting.front().copied());
            self.present
                .insert(rank, (candidate.key, quiet_only, position));
            if let Some(position) = position {
                self.live_set(quiet_only).insert((position, rank));
            }
        } else if let Some((_, quiet_only, Some(position))) = self.present.remove(&rank) {
            self.live_set(quiet_only).remove(&(position, rank));
        }
    }

    fn pick(&mut self, enabled: &dyn Enabled) -> Rank {
        assert!(
            self.prepared || self.list.is_empty(),
            "Overrides::pick called before prepare: its keys are not interned in this run's arena"
        );
        loop {
            let main = self.live.first().copied();
            let quiet = enabled
                .quiet()
                .then(|| self.live_quiet.first().copied())
                .flatten();
            let first = match (main, quiet) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let Some((position, rank)) = first else {
                return match self.fallback.as_mut().and_then(|f| f.incremental()) {
                    Some(fallback) => fallback.pick(enabled),
                    None => enabled.nth(0).1,
                };
            };
            let Some(&(key, quiet_only, _)) = self.present.get(&rank) else {
                return enabled.nth(0).1;
            };
            let front = self.pending.get(&key).and_then(|w| w.front().copied());
            if front != Some(position) {
                // Two enabled events with one key, and the other one took
                // this position: stand for the next one, if any.
                self.live_set(quiet_only).remove(&(position, rank));
                if let Some(front) = front {
                    self.live_set(quiet_only).insert((front, rank));
                }
                self.present.insert(rank, (key, quiet_only, front));
                continue;
            }
            if let Some(waiting) = self.pending.get_mut(&key) {
                waiting.pop_front();
                if waiting.is_empty() {
                    self.pending.remove(&key);
                }
            }
            self.consumed[position] = true;
            return rank;
        }
    }
}

impl std::fmt::Debug for Overrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overrides")
            .field("list", &self.list)
            .field("consumed", &self.consumed)
            .field("fallback", &self.fallback.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::choice::{Candidate, CandidateKind};
    use crate::sim::pid::Pid;

    fn client(keys: &mut KeyArena, client: u32) -> Candidate {
        Candidate {
            key: keys.intern(&EventKey::client(client, 0)),
            actor: Pid(u64::from(client) + 1),
            kind: CandidateKind::Client,
        }
    }

    fn choose(
        overrides: &mut Overrides,
        candidates: &[Candidate],
        fifo: usize,
        keys: &KeyArena,
    ) -> usize {
        overrides.choose(&Choice {
            step: 0,
            candidates,
            fifo,
            keys,
        })
    }

    #[test]
    fn first_enabled_override_runs_and_others_wait() {
        let mut keys = KeyArena::new();
        let mut overrides = Overrides::new(vec![
            EventKey::fault(9), // never enabled in this test
            EventKey::client(1, 0),
            EventKey::client(0, 0),
        ]);
        overrides.prepare(&mut keys);
        let candidates = [client(&mut keys, 0), client(&mut keys, 1)];

        assert_eq!(
            choose(&mut overrides, &candidates, 0, &keys),
            1,
            "client1 is listed first"
        );
        assert_eq!(overrides.consumed(), [false, true, false]);
        assert_eq!(choose(&mut overrides, &candidates[..1], 0, &keys), 0);
        assert_eq!(overrides.consumed(), [false, true, true]);
        let unused: Vec<(usize, &EventKey)> = overrides.unconsumed().collect();
        assert_eq!(unused, [(0, &EventKey::fault(9))]);
    }

    #[test]
    fn falls_back_to_fifo_when_no_override_is_enabled() {
        let mut keys = KeyArena::new();
        let mut overrides = Overrides::new(vec![EventKey::fault(3)]);
        overrides.prepare(&mut keys);
        let candidates = [
            client(&mut keys, 0),
            client(&mut keys, 1),
            client(&mut keys, 2),
        ];
        assert_eq!(choose(&mut overrides, &candidates, 2, &keys), 2);
        assert_eq!(choose(&mut overrides, &candidates, 1, &keys), 1);
        assert_eq!(overrides.consumed(), [false]);
    }

    #[test]
    fn consumed_overrides_do_not_run_twice() {
        let mut keys = KeyArena::new();
        let mut overrides = Overrides::new(vec![EventKey::client(1, 0)]);
        overrides.prepare(&mut keys);
        let candidates = [client(&mut keys, 0), client(&mut keys, 1)];
        assert_eq!(choose(&mut overrides, &candidates, 0, &keys), 1);
        // Were the same key enabled again, the spent override no longer
        // applies and fifo decides.
        assert_eq!(choose(&mut overrides, &candidates, 0, &keys), 0);
    }

    #[test]
    fn a_repeated_key_consumes_one_entry_at_a_time() {
        let mut keys = KeyArena::new();
        let mut overrides = Overrides::new(vec![EventKey::client(1, 0), EventKey::client(1, 0)]);
        overrides.prepare(&mut keys);
        let candidates = [client(&mut keys, 0), client(&mut keys, 1)];
        assert_eq!(choose(&mut overrides, &candidates, 0, &keys), 1);
        assert_eq!(overrides.consumed(), [true, false]);
        assert_eq!(choose(&mut overrides, &candidates, 0, &keys), 1);
        assert_eq!(overrides.consumed(), [true, true]);
    }

    #[test]
    fn an_override_for_a_later_delivery_waits_for_it() {
        let mut keys = KeyArena::new();
        let reply = EventKey::client(0, 0).deliver(0).deliver(1);
        let mut overrides = Overrides::new(vec![reply.clone()]);
        overrides.prepare(&mut keys);

        let early = [client(&mut keys, 0), client(&mut keys, 1)];
        assert_eq!(
            choose(&mut overrides, &early, 1, &keys),
            1,
            "not enabled yet: fifo"
        );

        // The scheduler builds the delivery's key step by step in the same
        // arena and gets the id that `prepare` interned.
        let root = keys.intern(&EventKey::client(0, 0));
        let request_key = keys.child(root, 0);
        let delivery_key = keys.child(request_key, 1);
        let delivery = Candidate {
            key: delivery_key,
            actor: Pid(9),
            kind: CandidateKind::Deliver { from: Pid(8) },
        };
        let later = [client(&mut keys, 1), delivery];
        assert_eq!(choose(&mut overrides, &later, 0, &keys), 1);
        assert_eq!(overrides.consumed(), [true]);
        assert_eq!(keys.key(delivery_key), reply);
    }

    #[test]
    fn prepare_starts_a_fresh_replay() {
        let list = vec![EventKey::client(1, 0)];
        let mut overrides = Overrides::new(list);
        for _run in 0..2 {
            let mut keys = KeyArena::new();
            overrides.prepare(&mut keys);
            let candidates = [client(&mut keys, 0), client(&mut keys, 1)];
            assert_eq!(choose(&mut overrides, &candidates, 0, &keys), 1);
            assert_eq!(overrides.consumed(), [true]);
        }
    }

    #[test]
    fn an_empty_list_is_fifo() {
        let mut keys = KeyArena::new();
        let mut overrides = Overrides::new(Vec::new());
        assert!(overrides.is_fifo());
        assert!(!Overrides::new(vec![EventKey::fault(0)]).is_fifo());
        let candidates = [client(&mut keys, 0), client(&mut keys, 1)];
        assert_eq!(choose(&mut overrides, &candidates, 1, &keys), 1);
    }

    #[test]
    #[should_panic(expected = "before prepare")]
    fn choosing_before_prepare_is_a_harness_bug() {
        let mut keys = KeyArena::new();
        let mut overrides = Overrides::new(vec![EventKey::client(0, 0)]);
        let candidates = [client(&mut keys, 0)];
        choose(&mut overrides, &candidates, 0, &keys);
    }
}
