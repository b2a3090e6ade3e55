//! Links, monitors and exit signals: linking (S14), monitoring and
//! demonitoring (S15, S17, S18), an exit signal taking effect on its
//! receiver (S9–S13), and death: the exit signals to links (S8) and the
//! `DOWN`s to watchers (S16) a death sends, in the order that gives their
//! keys' ordinals, and everything a dead process leaves behind being dropped.
//! Also the pending exit: a death at the end of a handler that sent becomes
//! an event of its own, during which the process is alive but handles
//! nothing.

use super::queues::Counted;
use super::{Signal, Sim, Tapped};
use crate::sim::footprint::{Mode, Resource, role_hash};
use crate::sim::key::DeathKind;
use crate::sim::pid::{Pid, Ref};
use crate::sim::process::Incoming;
use crate::sim::reason::Reason;
use crate::sim::trace::{DropCause, TraceEntry};
use std::fmt::Debug;

impl<M: Debug + 'static> Sim<M> {
    /// An exit signal takes effect on `to` (S9–S13).
    pub(super) fn exit_signal(&mut self, from: Pid, to: Pid, reason: Reason, linked: bool) {
        let Some(entry) = self.procs.get_mut(&to) else {
            return;
        };
        if linked && let Some(footprints) = &self.footprints {
            footprints.borrow_mut().update(Resource::Ties(to));
        }
        // A link's exit signal counts only while the link exists: after
        // `unlink/1` returns, the link has no further effect on the caller.
        if linked && !entry.links.remove(&from) {
            return;
        }
        if reason == Reason::Kill && !linked {
            self.die(to, Reason::Killed);
        } else if entry.trap_exit {
            self.invoke(to, |behaviour, ctx| {
                behaviour.handle(ctx, Incoming::Exit { from, reason })
            });
        } else if !reason.is_normal() {
            self.die(to, reason);
        }
    }

    /// `pid`'s handler ended in a death after sending: the death becomes a
    /// pending exit event keyed `<cause>/exit`, where `cause` is the event
    /// (or, inside an `is_alive` flush, the flushed signal) whose handler
    /// ended. Until it runs, `pid` is alive but handles nothing; a monitor
    /// set meanwhile gets its real reason, and a `kill` (or any exit signal
    /// that would kill it) makes it die at once with that reason instead.
    pub(super) fn begin_exit(&mut self, pid: Pid, reason: Reason) {
        let Some(entry) = self.procs.get_mut(&pid) else {
            return;
        };
        entry.exiting = Some(reason);
        let client = entry.client;
        self.fp(|f| f.access(Resource::Quiet, Mode::Update));
        let key = match (self.keyed, self.flush_cause.or(self.current_key)) {
            (true, Some(cause)) => Some(self.keys.exit(cause)),
            _ => None,
        };
        self.exit_on(pid, key);
        self.withhold_deliveries_to(pid);
        if let Some(client) = client {
            self.refresh_client(client as usize, pid);
        }
    }

    /// `pid` exits with `reason`: links get exit signals (S8), monitors get
    /// `DOWN` on the (pid, watcher) pair, behind everything pid sent them
    /// (S16); queues to pid and its timers are dropped.
    pub(super) fn die(&mut self, pid: Pid, reason: Reason) {
        let Some(entry) = self.procs.remove(&pid) else {
            return;
        };
        let entry = *entry;
        if let Some(footprints) = &self.footprints {
            let mut f = footprints.borrow_mut();
            f.write(Resource::Proc(pid));
            f.write(Resource::Alive(pid));
            f.write(Resource::Ties(pid));
            f.death(entry.role.as_deref());
            if let Some(client) = entry.client {
                f.client(self.clients[client as usize].1);
            }
            if entry.exiting.is_some() {
                f.access(Resource::Quiet, Mode::Update);
            }
            for &target in entry.watching.values() {
                f.update(Resource::Ties(target));
            }
            for &sender in &entry.senders {
                f.write(Resource::Queue(sender, pid));
                if self
                    .queues
                    .get(&(sender, pid))
                    .is_some_and(|q| !q.signals.is_empty())
                {
                    f.access(Resource::Quiet, Mode::Update);
                }
            }
            if let Some(role) = &entry.role {
                f.write(Resource::Role(role_hash(role)));
            }
        }
        if let Some(causality) = &mut self.causality {
            causality.death(
                pid,
                entry.watchers.keys().copied(),
                entry.links.iter().copied(),
            );
            for &mref in entry.watching.keys() {
                causality.demonitor(mref);
            }
        }
        if entry.exiting.is_some() {
            self.exit_off(pid);
        }
        if let Some(client) = entry.client {
            self.refresh_client(client as usize, pid);
        }
        if let Some(trace) = &mut self.trace {
            trace.entries.push(TraceEntry::Exit {
                pid: entry.name.clone(),
                reason: reason.to_string(),
            });
        }
        // The entry is out of the table, so name lookups below need it.
        // Kept whether or not the run traces: a failure's detail (and a
        // custom property's) names the dead by `name_of`, and must say
        // `bucket:a#0` in the search's untraced run as in the traced one.
        let name = entry.name;
        self.dead_names.insert(pid, name.clone());
        if self.taps.is_some() {
            let (role, reason) = (entry.role.clone(), reason.clone());
            self.tapped.push(Tapped::Exited { pid, role, reason });
        }
        // Death signals are keyed by kind and by the names of the dead
        // process and the recipient (`<cause>/DOWN(from>to)#k`), not by
        // position, so that a watcher or partner deleted from the case does
        // not rename the others. Links go first, in pid order, then
        // monitors in ref order: the order of equal ones sets their ordinals.
        for partner in entry.links {
            // The partner keeps its side of the link until the exit signal
            // arrives, so that an `unlink` in between can still cancel it.
            let exit = Signal::Exit {
                reason: reason.clone(),
                linked: true,
            };
            self.send_death_signal(DeathKind::Exit, pid, &name, partner, exit);
        }
        for (mref, watcher) in entry.watchers {
            let down = Signal::Down {
                mref,
                reason: reason.clone(),
            };
            self.send_death_signal(DeathKind::Down, pid, &name, watcher, down);
        }
        for (mref, target) in entry.watching {
            if let Some(target_entry) = self.procs.get_mut(&target) {
                target_entry.watchers.remove(&mref);
            }
        }
        for sender in entry.senders {
            if let Some(entry) = self.procs.get_mut(&sender) {
                entry.receivers.remove(&pid);
            }
            if let Some(queue) = self.queues.remove(&(sender, pid)) {
                self.queued -= queue.signals.len();
                self.counted.exits -= queue.exits;
                self.counted.monitors -= queue.monitors;
                self.counted.downs -= queue.downs;
                if let Some(head) = queue.signals.front() {
                    self.busy -= 1;
                    self.delivery_off(head.send_no);
                }
                // S17: a monitor request that finds the process dead is
                // answered with `DOWN noproc`.
                let requests = if queue.monitors > 0 {
                    self.work.queue_scanned += queue.signals.len() as u64;
                    queue.signals.as_slices()
                } else {
                    (&[][..], &[][..])
                };
                for queued in requests.0.iter().chain(requests.1) {
                    if let Signal::Monitor { mref } = queued.signal {
                        let down = Signal::Down {
                            mref,
                            reason: Reason::Noproc,
                        };
                        self.send_death_signal(DeathKind::Down, pid, &name, sender, down);
                    }
                }
                if self.trace.is_some() {
                    let sender_name = self.name_of(sender);
                    for queued in &queue.signals {
                        let signal = self.traced_signal(&queued.signal);
                        self.trace_push(TraceEntry::Drop {
                            from: sender_name.clone(),
                            to: name.clone(),
                            signal,
                            why: DropCause::Dead,
                        });
                    }
                }
                for queued in &queue.signals {
                    if let Some(key) = queued.key {
                        self.keys.release(key);
                    }
                    if let Some(causality) = &mut self.causality {
                        causality.discard(queued.send_no);
                    }
                }
            }
        }
        // Its empty queues go now; one still holding signals goes once
        // they are delivered (signals of the dead still arrive).
        for receiver in entry.receivers {
            if self
                .queues
                .get(&(pid, receiver))
                .is_some_and(|q| q.signals.is_empty())
            {
                self.queues.remove(&(pid, receiver));
                if let Some(entry) = self.procs.get_mut(&receiver) {
                    entry.senders.remove(&pid);
                }
            }
        }
        for tref in entry.timers {
            if let Some(deadline) = self.timer_deadlines.remove(tref.0) {
                let key = self.timers.remove(&(deadline, tref.0)).and_then(|t| t.key);
                self.release_key(key);
            }
        }
        if let Some(role) = entry.role {
            let old = self.fault_target(&role);
            if let Some(pids) = self.roles.get_mut(&role) {
                pids.retain(|&p| p != pid);
                if pids.is_empty() {
                    self.roles.remove(&role);
                }
            }
            self.role_changed(&role, old);
        }
    }

    pub(super) fn link(&mut self, from: Pid, to: Pid) -> Result<(), Reason> {
        let n = self.next_send_index();
        if let Some(footprints) = &self.footprints {
            let mut f = footprints.borrow_mut();
            f.read(Resource::Alive(to));
            if self.procs.contains_key(&to) {
                f.update(Resource::Ties(from));
                f.update(Resource::Ties(to));
            }
        }
        if let Some(causality) = &mut self.causality {
            if self.procs.contains_key(&to) {
                causality.link(from, to);
            } else {
                causality.read_liveness(to, false);
            }
        }
        if !self.procs.contains_key(&to) {
            let trapping = self.procs.get(&from).is_some_and(|e| e.trap_exit);
            if trapping {
                // S14: documented as an `{'EXIT', Pid, noproc}` message
                // (no link was made, so it is not a link's exit).
                let name = self.name_of(to);
                let exit = Signal::Exit {
                    reason: Reason::Noproc,
                    linked: false,
                };
                self.send_signal_at(n, to, &name, from, exit);
                return Ok(());
            }
            return Err(Reason::Noproc);
        }
        if let Some(entry) = self.procs.get_mut(&from) {
            entry.links.insert(to);
        }
        if let Some(entry) = self.procs.get_mut(&to) {
            entry.links.insert(from);
        }
        if self.trace.is_some() {
            let (from, to) = (self.name_of(from), self.name_of(to));
            self.trace_push(TraceEntry::Link { from, to });
        }
        Ok(())
    }

    pub(super) fn monitor(&mut self, watcher: Pid, target: Pid) -> Ref {
        let mref = Ref(self.next_ref);
        self.next_ref += 1;
        let n = self.next_send_index();
        if let Some(entry) = self.procs.get_mut(&watcher) {
            entry.watching.insert(mref, target);
        }
        if let Some(footprints) = &self.footprints {
            let mut f = footprints.borrow_mut();
            f.read(Resource::Alive(target));
            f.access(Resource::Queue(watcher, target), Mode::ReadExits);
            f.update(Resource::Ties(target));
        }
        if let Some(causality) = &mut self.causality {
            causality.monitor(mref);
            if !self.procs.contains_key(&target) {
                causality.read_liveness(target, false);
            }
        }
        if self.trace.is_some() {
            let (w, t) = (self.name_of(watcher), self.name_of(target));
            self.trace_push(TraceEntry::Monitor {
                watcher: w,
                target: t,
                mref: mref.0,
            });
        }
        let behind_exit = self.counted.exits > 0
            && self
                .queues
                .get(&(watcher, target))
                .is_some_and(|queue| queue.exits > 0);
        match self.procs.get_mut(&target) {
            Some(_) if behind_exit => {
                let key = match (self.keyed, self.current_key) {
                    (true, Some(cause)) => Some(self.keys.child(cause, n)),
                    _ => None,
                };
                let name = self.name_of(watcher);
                self.enqueue(watcher, &name, target, key, Signal::Monitor { mref });
            }
            Some(entry) => {
                entry.watchers.insert(mref, watcher);
            }
            // S17: monitoring a dead pid gives a DOWN with `noproc`.
            None => {
                let name = self.name_of(target);
                let down = Signal::Down {
                    mref,
                    reason: Reason::Noproc,
                };
                self.send_signal_at(n, target, &name, watcher, down);
            }
        }
        mref
    }

    pub(super) fn demonitor(&mut self, watcher: Pid, mref: Ref, flush: bool) {
        let Some(target) = self
            .procs
            .get_mut(&watcher)
            .and_then(|e| e.watching.remove(&mref))
        else {
            return;
        };
        if let Some(entry) = self.procs.get_mut(&target) {
            entry.watchers.remove(&mref);
        }
        self.fp(|f| f.update(Resource::Ties(target)));
        if let Some(causality) = &mut self.causality {
            causality.demonitor(mref);
        }
        let _ = self.remove_queued(
            watcher,
            target,
            Counted::Monitor,
            |q| matches!(q.signal, Signal::Monitor { mref: m } if m == mref),
        );
        if flush {
            let _ = self.remove_queued(
                target,
                watcher,
                Counted::Down,
                |q| matches!(q.signal, Signal::Down { mref: m, .. } if m == mref),
            );
        }
        if self.trace.is_some() {
            let (w, t) = (self.name_of(watcher), self.name_of(target));
            self.trace_push(TraceEntry::Demonitor {
                watcher: w,
                target: t,
                mref: mref.0,
                flushed: flush,
            });
        }
    }
}
