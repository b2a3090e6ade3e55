//! The causal record of a run: for each event (scheduler step), the earlier
//! events it directly depends on, from which the causal past of any event
//! (the happens-before relation, Lamport 1978) is read. Recorded only when
//! asked for ([`Sim::record_causality`](crate::sim::Sim::record_causality)),
//! so an unrecorded run pays one untaken branch per hook.
//!
//! An event depends on:
//! - **program order**: the previous event of every process it involves (the
//!   receiver of a delivery, the acting client, a fault's target, a timer's
//!   owner, a process whose handler runs or which dies inside the event,
//!   e.g. in an `is_alive` flush);
//! - **send → deliver**: the event that sent the signal it delivers (a
//!   message, a reply, an exit signal, a `DOWN`, a monitor request);
//! - **spawn**: a process's first event is its spawner's event;
//! - **link, monitor**: a death depends on the events that set up the
//!   links and monitors still in force on the dying process, since those
//!   decide which exit signals and `DOWN`s it sends (a monitor changes
//!   nothing else of its target, so no other event of the target depends
//!   on it);
//! - **death → `DOWN` / exit**: a death sends those signals, so their
//!   deliveries depend on it (send → deliver);
//! - **death → a later liveness read**: `is_alive` answering false, linking
//!   or monitoring a dead process, or a message that names a dead pid (what
//!   [`Taps::pid_in_message`](crate::sim::Taps) points at, e.g. a lookup
//!   reply) depend on the death; a true answer depends on the spawn.
//!
//! What happened at setup (step 0) is not an event and is in no one's past.

use crate::sim::pid::{Pid, Ref};
use std::collections::{BTreeMap, BTreeSet};

/// Each event's direct causal predecessors, and the spawn and death event of
/// every process spawned during the run. Steps count from 1.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Causality {
    /// Where event `i + 1`'s predecessors start in `preds`.
    starts: Vec<usize>,
    /// Every event's predecessors, one event's after another's, each
    /// event's sorted and without duplicates.
    preds: Vec<u64>,
    /// The event being recorded (0 at setup).
    current: u64,
    /// The last event that involved each live process.
    last: BTreeMap<Pid, u64>,
    /// The event that set up each monitor still in force, by ref.
    monitors: BTreeMap<Ref, u64>,
    /// The event that set up each link still in force, by its two ends
    /// (lower pid first).
    links: BTreeMap<(Pid, Pid), u64>,
    /// The event that sent each signal still queued, by send number.
    sent: BTreeMap<u64, u64>,
    spawned: BTreeMap<Pid, u64>,
    died: BTreeMap<Pid, u64>,
}

impl Causality {
    /// The number of events recorded.
    pub fn events(&self) -> u64 {
        self.starts.len() as u64
    }

    /// The direct predecessors of event `step`, in step order (empty for a
    /// step that was not recorded).
    pub fn preds(&self, step: u64) -> &[u64] {
        let Some(index) = step.checked_sub(1).map(|i| i as usize) else {
            return &[];
        };
        let Some(&start) = self.starts.get(index) else {
            return &[];
        };
        let end = self
            .starts
            .get(index + 1)
            .copied()
            .unwrap_or(self.preds.len());
        &self.preds[start..end]
    }

    /// The event that spawned `pid`, if it was spawned by an event (not at
    /// setup).
    pub fn spawn_of(&self, pid: Pid) -> Option<u64> {
        self.spawned.get(&pid).copied()
    }

    /// The event in which `pid` died, if it did.
    pub fn death_of(&self, pid: Pid) -> Option<u64> {
        self.died.get(&pid).copied()
    }

    /// The last event that involved `pid` so far (its death, if it died;
    /// `None` if no event involved it yet).
    pub fn last_event_of(&self, pid: Pid) -> Option<u64> {
        self.died.get(&pid).or_else(|| self.last.get(&pid)).copied()
    }

    /// The causal past of `roots`, the roots included: every event from
    /// which a chain of direct predecessors leads to one of them. Roots
    /// that name no recorded event (0, or past the end) are left out.
    pub fn past(&self, roots: impl IntoIterator<Item = u64>) -> BTreeSet<u64> {
        let mut past = BTreeSet::new();
        let mut todo: Vec<u64> = roots
            .into_iter()
            .filter(|&step| step >= 1 && step <= self.events())
            .collect();
        while let Some(step) = todo.pop() {
            if past.insert(step) {
                todo.extend(self.preds(step).iter().filter(|p| !past.contains(p)));
            }
        }
        past
    }

    /// Event `step` begins.
    pub(crate) fn begin(&mut self, step: u64) {
        self.current = step;
        self.starts.push(self.preds.len());
    }

    /// The current event depends on event `pred`.
    fn depend(&mut self, pred: u64) {
        if pred == 0 || pred >= self.current {
            return;
        }
        let start = self.starts.last().copied().unwrap_or(0);
        let own = &mut self.preds[start..];
        if let Err(at) = own.binary_search(&pred) {
            self.preds.insert(start + at, pred);
        }
    }

    /// The current event involves `pid`: it follows `pid`'s previous event.
    pub(crate) fn touch(&mut self, pid: Pid) {
        if self.current == 0 {
            return;
        }
        if let Some(last) = self.last.insert(pid, self.current) {
            self.depend(last);
        }
    }

    /// The monitor `mref` was set up in the current event.
    pub(crate) fn monitor(&mut self, mref: Ref) {
        if self.current != 0 {
            self.monitors.insert(mref, self.current);
        }
    }

    /// The monitor `mref` is gone (demonitored, or its `DOWN` sent).
    pub(crate) fn demonitor(&mut self, mref: Ref) {
        self.monitors.remove(&mref);
    }

    /// `a` and `b` were linked in the current event.
    pub(crate) fn link(&mut self, a: Pid, b: Pid) {
        if self.current != 0 {
            self.links.insert((a.min(b), a.max(b)), self.current);
        }
    }

    /// The link between `a` and `b` is gone.
    pub(crate) fn unlink(&mut self, a: Pid, b: Pid) {
        self.links.remove(&(a.min(b), a.max(b)));
    }

    /// `pid` was spawned in the current event.
    pub(crate) fn spawn(&mut self, pid: Pid) {
        if self.current == 0 {
            return;
        }
        self.spawned.insert(pid, self.current);
        self.last.insert(pid, self.current);
    }

    /// `pid` died in the current event, with `watchers` (monitor refs
    /// held on it) and `partners` (links) in force: the exit signals and
    /// `DOWN`s it sends depend on the events that set those up.
    pub(crate) fn death(
        &mut self,
        pid: Pid,
        watchers: impl IntoIterator<Item = Ref>,
        partners: impl IntoIterator<Item = Pid>,
    ) {
        self.touch(pid);
        self.last.remove(&pid);
        for mref in watchers {
            if let Some(event) = self.monitors.remove(&mref) {
                self.depend(event);
            }
        }
        for partner in partners {
            if let Some(event) = self.links.remove(&(pid.min(partner), pid.max(partner))) {
                self.depend(event);
            }
        }
        if self.current != 0 {
            self.died.insert(pid, self.current);
        }
    }

    /// The signal numbered `send_no` was queued in the current event.
    pub(crate) fn send(&mut self, send_no: u64) {
        if self.current != 0 {
            self.sent.insert(send_no, self.current);
        }
    }

    /// The signal numbered `send_no` reached its receiver in the current
    /// event.
    pub(crate) fn deliver(&mut self, send_no: u64) {
        if let Some(sent) = self.sent.remove(&send_no) {
            self.depend(sent);
        }
    }

    /// The signal numbered `send_no` was dropped or flushed unseen.
    pub(crate) fn discard(&mut self, send_no: u64) {
        self.sent.remove(&send_no);
    }

    /// The current event read whether `pid` is alive, and found `alive`.
    pub(crate) fn read_liveness(&mut self, pid: Pid, alive: bool) {
        let event = if alive {
            self.spawned.get(&pid)
        } else {
            self.died.get(&pid)
        };
        if let Some(&event) = event {
            self.depend(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_order_sends_and_deaths_link_events() {
        let (a, b) = (Pid(1), Pid(2));
        let mut c = Causality::default();
        c.begin(1);
        c.touch(a);
        c.send(10);
        c.spawn(b);
        c.begin(2);
        c.touch(a);
        c.begin(3);
        c.touch(b);
        c.deliver(10);
        c.death(b, [], []);
        c.begin(4);
        c.touch(a);
        c.read_liveness(b, false);
        assert_eq!(c.preds(1), &[] as &[u64]);
        assert_eq!(c.preds(2), &[1]);
        assert_eq!(c.preds(3), &[1]);
        assert_eq!(c.preds(4), &[2, 3]);
        assert_eq!(c.death_of(b), Some(3));
        assert_eq!(c.spawn_of(b), Some(1));
        assert_eq!(c.past([4]), BTreeSet::from([1, 2, 3, 4]));
        assert_eq!(c.past([2]), BTreeSet::from([1, 2]));
        assert_eq!(c.past([0, 9]), BTreeSet::new());
    }

    #[test]
    fn a_monitor_or_link_reaches_the_targets_death_only() {
        let (watcher, target, partner) = (Pid(1), Pid(2), Pid(3));
        let mut c = Causality::default();
        c.begin(1);
        c.touch(target);
        c.begin(2);
        c.touch(watcher);
        c.monitor(Ref(7));
        c.monitor(Ref(8));
        c.begin(3);
        c.touch(partner);
        c.link(partner, target);
        c.begin(4);
        c.touch(target);
        c.begin(5);
        c.touch(watcher);
        c.demonitor(Ref(8));
        c.begin(6);
        c.death(target, [Ref(7), Ref(8)], [partner]);
        // Neither the monitor nor the link reads the target's past, nor
        // does the target's next event depend on them...
        assert_eq!(c.preds(2), &[] as &[u64]);
        assert_eq!(c.preds(3), &[] as &[u64]);
        assert_eq!(c.preds(4), &[1]);
        // ...but its death, which sends the DOWN and the exit signal,
        // follows those still in force.
        assert_eq!(c.preds(6), &[2, 3, 4]);
        assert!(!c.past([6]).contains(&5));
    }
}
