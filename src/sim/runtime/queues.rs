//! Signal queues: one FIFO per (sender, receiver) pair, nothing ordered
//! across pairs (S2). Sending (to a dead process a signal is dropped, S4),
//! the segment that names each signal in its event's key, delivery of a
//! queue's head and its dispatch to the receiver's handler (S9–S18), monitor
//! requests still behind an exit signal (S5), and the `is_alive` flush (S3).

use super::{Queue, Queued, Signal, Sim, Tapped, render_signal};
use crate::sim::footprint::{Mode, Resource};
use crate::sim::key::{DeathKind, KeyId};
use crate::sim::pid::Pid;
use crate::sim::process::Incoming;
use crate::sim::trace::{DropCause, TraceEntry};
use std::collections::VecDeque;

/// The counted kinds over all queues: when none is queued anywhere, no
/// queue need be looked at.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Counted3 {
    pub(super) exits: usize,
    pub(super) monitors: usize,
    pub(super) downs: usize,
}

/// The kinds of signal a queue counts, for [`Sim::remove_queued`].
#[derive(Clone, Copy, Debug)]
pub(super) enum Counted {
    Monitor,
    Down,
}

impl<M> Queue<M> {
    fn new() -> Queue<M> {
        Queue {
            signals: VecDeque::new(),
            exits: 0,
            monitors: 0,
            downs: 0,
        }
    }

    /// Adds `by` (1 or -1) to the count of `signal`'s kind, here and in
    /// `all` (every queue's).
    fn count(&mut self, signal: &Signal<M>, by: isize, all: &mut Counted3) {
        let (counter, total) = match signal {
            Signal::Exit { .. } => (&mut self.exits, &mut all.exits),
            Signal::Monitor { .. } => (&mut self.monitors, &mut all.monitors),
            Signal::Down { .. } => (&mut self.downs, &mut all.downs),
            Signal::Message(_) | Signal::AliasMessage { .. } => return,
        };
        *counter = counter.wrapping_add_signed(by);
        *total = total.wrapping_add_signed(by);
    }
}
use std::fmt::Debug;

impl<M: Debug + 'static> Sim<M> {
    pub(super) fn send_signal(&mut self, from: Pid, to: Pid, signal: Signal<M>) {
        if self.trace.is_some() {
            let name = self.name_of(from);
            self.send_signal_named(from, &name, to, signal);
        } else {
            self.send_signal_named(from, "", to, signal);
        }
    }

    /// Queues `signal` on the (from, to) pair; to a dead process it is
    /// dropped (S2, S4). Every send counts toward the event's send index,
    /// dropped or not, so that keys do not depend on who is alive.
    pub(super) fn send_signal_named(
        &mut self,
        from: Pid,
        from_name: &str,
        to: Pid,
        signal: Signal<M>,
    ) {
        let n = self.next_send_index();
        self.send_signal_at(n, from, from_name, to, signal);
    }

    /// Every operation that may send a signal (a send, an exit, a monitor,
    /// a link) takes the next index of the event, whether or not it sends:
    /// so the key of a later send does not depend on whether, say, a
    /// monitored process was already dead.
    pub(super) fn next_send_index(&mut self) -> u32 {
        let n = self.sends_in_event;
        self.sends_in_event += 1;
        n
    }

    pub(super) fn send_signal_at(
        &mut self,
        n: u32,
        from: Pid,
        from_name: &str,
        to: Pid,
        signal: Signal<M>,
    ) {
        self.fp(|f| f.read(Resource::Alive(to)));
        if !self.procs.contains_key(&to) {
            self.drop_signal(from_name, to, &signal);
            return;
        }
        let key = match (self.keyed, self.current_key) {
            (true, Some(cause)) => Some(self.keys.child(cause, n)),
            _ => None,
        };
        self.enqueue(from, from_name, to, key, signal);
    }

    /// Queues a signal the dead process `from` (named `from_name`, its
    /// logical name) sends at its death, keyed `<cause>/KIND(from>to)#k`
    /// (docs/design.md § Stable ids and event keys). To a process already
    /// dead it is dropped like any other signal, and, having no key, takes
    /// no ordinal: so the key does not depend on who is already dead.
    pub(super) fn send_death_signal(
        &mut self,
        kind: DeathKind,
        from: Pid,
        from_name: &str,
        to: Pid,
        signal: Signal<M>,
    ) {
        self.fp(|f| f.read(Resource::Alive(to)));
        let Some(to_entry) = self.procs.get(&to) else {
            self.drop_signal(from_name, to, &signal);
            return;
        };
        let key = match (self.keyed, self.current_key) {
            (true, Some(cause)) => Some(self.keys.death(cause, kind, from_name, &to_entry.name)),
            _ => None,
        };
        self.enqueue(from, from_name, to, key, signal);
    }

    /// Records that `signal` to the dead `to` was dropped (S2, S4).
    fn drop_signal(&mut self, from_name: &str, to: Pid, signal: &Signal<M>) {
        if let Some(trace) = &mut self.trace {
            let to_name = match self.dead_names.get(&to) {
                Some(name) => name.clone(),
                None => format!("{to:?}"),
            };
            trace.entries.push(TraceEntry::Drop {
                from: from_name.to_string(),
                to: to_name,
                signal: render_signal(signal, &mut trace.pid_names),
                why: DropCause::Dead,
            });
        }
    }

    pub(super) fn enqueue(
        &mut self,
        from: Pid,
        from_name: &str,
        to: Pid,
        key: Option<KeyId>,
        signal: Signal<M>,
    ) {
        if let Some(trace) = &mut self.trace {
            let to_name = self
                .procs
                .get(&to)
                .map(|e| e.name.clone())
                .unwrap_or_default();
            trace.entries.push(TraceEntry::Send {
                from: from_name.to_string(),
                to: to_name,
                signal: render_signal(&signal, &mut trace.pid_names),
            });
        }
        if let (Some(taps), Signal::Message(msg) | Signal::AliasMessage { msg, .. }) =
            (&self.taps, &signal)
            && let Some(named) = (taps.pid_in_message)(msg)
        {
            let named_alive = self.procs.contains_key(&named);
            self.fp(|f| f.read(Resource::Alive(named)));
            if let Some(causality) = &mut self.causality
                && !named_alive
            {
                causality.read_liveness(named, false);
            }
            self.tapped.push(Tapped::PidSent {
                from,
                to,
                named,
                named_alive,
            });
        }
        let send_no = self.next_send_no;
        self.next_send_no += 1;
        if let Some(causality) = &mut self.causality {
            causality.send(send_no);
        }
        let exit = matches!(signal, Signal::Exit { .. });
        self.fp(|f| {
            f.access(Resource::Queue(from, to), Mode::Push { send_no, exit });
            f.access(Resource::Quiet, Mode::Update);
        });
        let queue = match self.queues.entry((from, to)) {
            std::collections::hash_map::Entry::Occupied(queue) => queue.into_mut(),
            std::collections::hash_map::Entry::Vacant(vacant) => {
                if let Some(entry) = self.procs.get_mut(&to) {
                    entry.senders.insert(from);
                }
                if let Some(entry) = self.procs.get_mut(&from) {
                    entry.receivers.insert(to);
                }
                vacant.insert(Queue::new())
            }
        };
        let new_head = queue.signals.is_empty();
        queue.count(&signal, 1, &mut self.counted);
        if let Some(key) = key {
            self.keys.retain(key);
        }
        queue.signals.push_back(Queued {
            send_no,
            key,
            signal,
        });
        self.queued += 1;
        if queue.signals.len() > self.limits.queue_len_max && self.limit_hit.is_none() {
            self.limit_hit = Some(("queue-len", self.limits.queue_len_max as u64));
        }
        if new_head {
            self.busy += 1;
            self.delivery_on(send_no, from, to, key, exit);
        }
    }

    pub(super) fn pop_queue(&mut self, from: Pid, to: Pid) -> Option<Queued<M>> {
        let queue = self.queues.get_mut(&(from, to))?;
        let queued = queue.signals.pop_front()?;
        if let Some(footprints) = &self.footprints {
            let mut f = footprints.borrow_mut();
            let (send_no, exit) = (queued.send_no, matches!(queued.signal, Signal::Exit { .. }));
            f.access(Resource::Queue(from, to), Mode::Pop { send_no, exit });
            f.access(Resource::Quiet, Mode::Update);
        }
        queue.count(&queued.signal, -1, &mut self.counted);
        self.queued -= 1;
        let next = queue.signals.front().map(|next| {
            (
                next.send_no,
                next.key,
                matches!(next.signal, Signal::Exit { .. }),
            )
        });
        self.delivery_off(queued.send_no);
        match next {
            Some((next, key, exit)) => self.delivery_on(next, from, to, key, exit),
            None => {
                self.busy -= 1;
                // Kept empty while both ends live; a dead sender's queue
                // goes once drained.
                if !self.procs.contains_key(&from) {
                    self.queues.remove(&(from, to));
                    if let Some(entry) = self.procs.get_mut(&to) {
                        entry.senders.remove(&from);
                    }
                }
            }
        }
        Some(queued)
    }

    /// Removes the first queued signal on (from, to) that `matches`, if any
    /// (a flushed `DOWN`, S18, a cancelled or granted monitor request).
    /// `kind` says which counted kind it is, so that a queue holding none
    /// is not scanned.
    pub(super) fn remove_queued(
        &mut self,
        from: Pid,
        to: Pid,
        kind: Counted,
        matches: impl Fn(&Queued<M>) -> bool,
    ) -> Option<Signal<M>> {
        // What is looked for depends on the queue's content only: monitor
        // requests wait only behind exit signals.
        self.fp(|f| {
            let mode = match kind {
                Counted::Monitor => Mode::ReadExits,
                Counted::Down => Mode::Read,
            };
            f.access(Resource::Queue(from, to), mode);
        });
        let anywhere = match kind {
            Counted::Monitor => self.counted.monitors,
            Counted::Down => self.counted.downs,
        };
        if anywhere == 0 {
            return None;
        }
        let queue = self.queues.get_mut(&(from, to))?;
        let held = match kind {
            Counted::Monitor => queue.monitors,
            Counted::Down => queue.downs,
        };
        if held == 0 {
            return None;
        }
        let position = queue.signals.iter().position(matches);
        self.work.queue_scanned += position.map_or(queue.signals.len(), |p| p + 1) as u64;
        let position = position?;
        if let Some(footprints) = &self.footprints {
            let mut f = footprints.borrow_mut();
            f.write(Resource::Queue(from, to));
            f.access(Resource::Quiet, Mode::Update);
        }
        let removed = if position > 0 {
            let removed = queue.signals.remove(position)?;
            queue.count(&removed.signal, -1, &mut self.counted);
            self.queued -= 1;
            removed
        } else {
            self.pop_queue(from, to)?
        };
        self.release_key(removed.key);
        if let Some(causality) = &mut self.causality {
            causality.discard(removed.send_no);
        }
        Some(removed.signal)
    }

    /// Monitor requests no longer behind an exit signal take effect now.
    /// On the BEAM a message is in the receiver's mailbox as soon as it
    /// arrives, handled or not, so a monitor sent after it is in force when
    /// it is handled; only an exit signal sent before the monitor can
    /// decide it (S5): the receiver may die first, and the monitor then
    /// answers `noproc` (S17).
    ///
    /// A monitor request is queued only behind an exit signal, and only
    /// the delivery of an exit signal can free one, so this runs after
    /// such a delivery and scans only up to the next exit signal: each
    /// queued signal is scanned at most once.
    pub(super) fn take_monitors(&mut self, watcher: Pid, target: Pid) {
        if self.counted.monitors == 0 {
            return;
        }
        let Some(queue) = self.queues.get(&(watcher, target)) else {
            return;
        };
        if queue.monitors == 0 {
            return;
        }
        let mut scanned = 0;
        let free: Vec<u64> = queue
            .signals
            .iter()
            .take_while(|q| {
                scanned += 1;
                !matches!(q.signal, Signal::Exit { .. })
            })
            .filter(|q| matches!(q.signal, Signal::Monitor { .. }))
            .map(|q| q.send_no)
            .collect();
        self.work.queue_scanned += scanned;
        for send_no in free {
            if let Some(causality) = &mut self.causality {
                causality.deliver(send_no);
            }
            let taken =
                self.remove_queued(watcher, target, Counted::Monitor, |q| q.send_no == send_no);
            if let Some(Signal::Monitor { mref }) = taken
                && let Some(entry) = self.procs.get_mut(&target)
            {
                entry.watchers.insert(mref, watcher);
                self.fp(|f| f.update(Resource::Ties(target)));
            }
        }
    }

    /// Hands one delivered signal to its receiver (S9–S18).
    pub(super) fn dispatch(&mut self, from: Pid, to: Pid, signal: Signal<M>) {
        match signal {
            Signal::AliasMessage { alias, msg } => {
                let active = self
                    .procs
                    .get(&to)
                    .is_some_and(|e| e.aliases.contains(&alias));
                if active {
                    self.dispatch(from, to, Signal::Message(msg));
                } else if self.trace.is_some() {
                    // The receiver is alive: only its alias is gone.
                    let (from, to) = (self.name_of(from), self.name_of(to));
                    let signal = self.traced_signal(&Signal::Message(msg));
                    let why = DropCause::AliasInactive(alias.0);
                    self.trace_push(TraceEntry::Drop {
                        from,
                        to,
                        signal,
                        why,
                    });
                }
            }
            Signal::Message(msg) => {
                if let Some(taps) = &self.taps
                    && let Some(label) = (taps.delivery_of_interest)(&msg)
                {
                    self.fp(|f| f.label(&label));
                    self.tapped.push(Tapped::Delivered { from, to, label });
                }
                self.invoke(to, |behaviour, ctx| {
                    behaviour.handle(ctx, Incoming::Message { from, msg })
                });
            }
            Signal::Down { mref, reason } => {
                if let Some(entry) = self.procs.get_mut(&to) {
                    entry.watching.remove(&mref);
                }
                self.invoke(to, |behaviour, ctx| {
                    behaviour.handle(
                        ctx,
                        Incoming::Down {
                            mref,
                            pid: from,
                            reason,
                        },
                    )
                });
            }
            Signal::Exit { reason, linked } => self.exit_signal(from, to, reason, linked),
            Signal::Monitor { mref } => {
                if let Some(entry) = self.procs.get_mut(&to) {
                    entry.watchers.insert(mref, from);
                }
                self.fp(|f| f.update(Resource::Ties(to)));
            }
        }
    }

    /// Whether the head of the (from, to) queue can be delivered now. To a
    /// process with a pending exit only an exit signal gets through (it may
    /// kill it at once, S11, S12); everything else waits and is dropped at
    /// its death, as a message that arrives but is never received.
    pub(super) fn deliverable(&self, from: Pid, to: Pid) -> bool {
        match self.procs.get(&to) {
            Some(entry) if entry.exiting.is_some() => self
                .queues
                .get(&(from, to))
                .and_then(|q| q.signals.front())
                .is_some_and(|q| matches!(q.signal, Signal::Exit { .. })),
            _ => true,
        }
    }

    /// S3: delivers what `caller` has queued to `target`, then answers from
    /// the table. A signal to a process whose handler is running (it called
    /// us, directly or not) stays queued: handlers never nest into themselves.
    /// Into a process with a pending exit only exit signals are delivered
    /// (see [`Sim::deliverable`]); it is alive until its exit event runs.
    pub(super) fn is_alive_from(&mut self, caller: Pid, target: Pid) -> bool {
        if self.footprints.is_some() && self.queue_len(caller, target) > 0 {
            // Whether the queued signals go in depends on the target's state
            // (running, or with its exit pending).
            self.fp(|f| f.read(Resource::Proc(target)));
        }
        loop {
            let runnable = self
                .procs
                .get(&target)
                .is_some_and(|e| e.behaviour.is_some());
            if !runnable || !self.deliverable(caller, target) {
                break;
            }
            let Some(queued) = self.pop_queue(caller, target) else {
                break;
            };
            if let Some(causality) = &mut self.causality {
                causality.touch(target);
                causality.deliver(queued.send_no);
            }
            if self.trace.is_some() {
                let (from, to) = (self.name_of(caller), self.name_of(target));
                let signal = self.traced_signal(&queued.signal);
                self.trace_push(TraceEntry::Deliver { from, to, signal });
            }
            let outer = self.flush_cause;
            self.flush_cause = queued.key.or(outer);
            let exit = matches!(queued.signal, Signal::Exit { .. });
            self.dispatch(caller, target, queued.signal);
            self.flush_cause = outer;
            // Held while its handler ran: a pending exit it started is
            // keyed under it.
            self.release_key(queued.key);
            if exit {
                self.take_monitors(caller, target);
            }
        }
        let alive = self.procs.contains_key(&target);
        self.fp(|f| f.read(Resource::Alive(target)));
        if let Some(causality) = &mut self.causality {
            causality.read_liveness(target, alive);
        }
        alive
    }
}
