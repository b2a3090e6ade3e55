//! The scheduler: one event per step, chosen by the `fifo` order or by a
//! [`ChoiceSource`] from every enabled event; the event keys it records;
//! faults (enabled while their target lives, fired at most once); timers
//! (enabled only when nothing else is, so virtual time jumps to the next
//! deadline); pending exit events (a death at the end of a handler that
//! sent, run before anything else under `fifo`); and the step limit.

use super::enabled::{GROUP_CLIENT, GROUP_DELIVER, GROUP_EXIT, GROUP_FAULT};
use super::{Event, Fault, FaultAction, FaultSlot, Outcome, Signal, Sim, Tapped, TimerEntry};
use crate::sim::choice::{Candidate, CandidateKind, Choice, Enabled, HALT, Rank};
use crate::sim::footprint::{Resource, role_hash};
use crate::sim::key::{KeyId, Root};
use crate::sim::pid::{Pid, TimerRef, with_pid_names};
use crate::sim::process::Incoming;
use crate::sim::reason::Reason;
use crate::sim::trace::TraceEntry;
use std::fmt::Debug;

impl<M: Debug + 'static> Sim<M> {
    /// Adds a fault to the plan; plan order is the `fifo` priority.
    pub fn add_fault(&mut self, fault: Fault<M>) {
        self.faults.push(FaultSlot {
            fault,
            fired: false,
        });
        self.fault_added(self.faults.len() - 1);
    }

    /// Runs until nothing is enabled or a limit is hit.
    pub fn run(&mut self) -> Outcome {
        while self.step() {}
        self.outcome()
    }

    /// How the run stands: a limit, or quiescent.
    pub fn outcome(&self) -> Outcome {
        match self.limit_hit {
            Some((name, value)) => Outcome::Limit { name, value },
            None => Outcome::Quiescent,
        }
    }

    /// Runs one event; `false` when nothing is enabled or a limit was hit.
    pub fn step(&mut self) -> bool {
        if self.limit_hit.is_some() {
            return false;
        }
        if !self.prepared {
            if let Some(chooser) = &mut self.chooser {
                chooser.prepare(&mut self.keys);
            }
            self.prepared = true;
            if self.incremental {
                self.show_all();
            }
        }
        let picked = if self.fifo {
            self.fifo_event().map(|event| (event, None))
        } else {
            self.chosen_event()
        };
        let Some((event, key)) = picked else {
            return false;
        };
        if self.steps >= self.limits.steps_max {
            self.limit_hit = Some(("max-steps", self.limits.steps_max));
            return false;
        }
        self.steps += 1;
        let key = match key {
            Some(key) => Some(key),
            None if self.keyed => Some(self.key_of(event)),
            None => None,
        };
        if let Some(key) = key {
            self.keys.retain(key);
        }
        let previous = std::mem::replace(&mut self.current_key, key);
        self.release_key(previous);
        if self.keyed {
            self.keys.forget_death_counts();
        }
        self.sends_in_event = 0;
        if let Some(causality) = &mut self.causality {
            causality.begin(self.steps);
        }
        self.fp(|f| f.begin());
        self.execute(event);
        if let Some(footprints) = &self.footprints {
            let quiet = self.is_quiet();
            let state = footprints
                .borrow()
                .snapshots
                .then(|| self.canonical_state());
            footprints.borrow_mut().end(quiet, state);
        }
        true
    }

    /// The `fifo` order (docs/design.md): a pending exit, oldest first (so
    /// a handler's death follows it at once, as the BEAM recordings show);
    /// else clients that can act, lowest first; else the oldest queued
    /// signal; else the first live-target fault; else the earliest timer.
    pub(super) fn fifo_event(&self) -> Option<Event> {
        if let Some(&(pid, _, _)) = self.exits.first() {
            return Some(Event::Exit { pid });
        }
        // No exit is pending, so every queue head is deliverable.
        let quiet = self.busy == 0;
        let sets = &self.enabled;
        if let Some(client) = sets.ready.nth_with(&sets.ready_quiet, quiet, 0) {
            let cmd = sets.clients[client].map_or(0, |c| c.cmd);
            let pid = self.clients[client].0;
            return Some(Event::Client { pid, client, cmd });
        }
        if let Some((_, (from, to, _))) = sets.deliveries.first() {
            return Some(Event::Deliver { from, to });
        }
        if let Some(index) = sets.faults.nth(0) {
            return Some(Event::Fault(index));
        }
        self.timers.keys().next().map(|_| Event::Timer)
    }

    /// The event a choice source picks among every enabled one (offered in
    /// `fifo` priority order). An incremental source picks from the sets
    /// themselves; any other is shown the whole list.
    pub(super) fn chosen_event(&mut self) -> Option<(Event, Option<KeyId>)> {
        let quiet = self.quiet();
        let timer = self.timer_candidate(quiet);
        if self.incremental {
            self.show_timer(timer);
        }
        let mut chooser = self.chooser.take()?;
        let view = self.view(quiet, timer);
        let len = view.len();
        let picked = if len == 0 {
            None
        } else if let Some(source) = chooser.incremental().filter(|_| self.incremental) {
            let rank = source.pick(&view);
            self.find_rank(quiet, timer, rank)
        } else {
            let list = view.list();
            self.work.candidates_listed += list.len() as u64;
            let candidates: Vec<Candidate> = list.iter().map(|&(c, _)| c).collect();
            let index = chooser.choose(&Choice {
                step: self.steps,
                candidates: &candidates,
                fifo: 0,
                keys: &self.keys,
            });
            if index == HALT {
                self.chooser = Some(chooser);
                self.limit_hit = Some(("halted", self.steps));
                return None;
            }
            // Candidates are built in fifo priority order, so fifo's pick
            // is the first one.
            Some(list[index.min(len - 1)])
        };
        self.chooser = Some(chooser);
        let (candidate, rank) = picked?;
        if self.recording {
            self.keys.retain(candidate.key);
            self.taken.push(candidate.key);
        }
        Some((self.event_of(&candidate, rank), Some(candidate.key)))
    }

    /// The enabled candidate with this rank (the first one, for a rank
    /// that names none: a source's pick is always honoured if it exists).
    fn find_rank(
        &self,
        quiet: bool,
        timer: Option<Candidate>,
        rank: Rank,
    ) -> Option<(Candidate, Rank)> {
        let view = self.view(quiet, timer);
        let found = (|| {
            let sets = &self.enabled;
            match rank.group {
                GROUP_EXIT => {
                    let &(pid, key, seq) = self.exits.iter().find(|e| e.2 == rank.within)?;
                    Some(self.exit_candidate(pid, key, seq))
                }
                GROUP_CLIENT => {
                    let client = usize::try_from(rank.within).ok()?;
                    let ready = sets.clients.get(client).copied().flatten()?;
                    if ready.needs_quiet && !quiet {
                        return None;
                    }
                    let key = ready.key.or(self.setup_key)?;
                    let candidate = Candidate {
                        key,
                        actor: self.clients[client].0,
                        kind: CandidateKind::Client,
                    };
                    Some((candidate, rank))
                }
                GROUP_DELIVER => {
                    let (from, to, key) = sets.deliveries.get(&rank.within)?;
                    let candidate = Candidate {
                        key: key.or(self.setup_key)?,
                        actor: to,
                        kind: CandidateKind::Deliver { from },
                    };
                    Some((candidate, rank))
                }
                GROUP_FAULT => {
                    let index = usize::try_from(rank.within).ok()?;
                    if !sets.faults.contains(index) {
                        return None;
                    }
                    let target = self.fault_target(&self.faults[index].fault.target)?;
                    Some(self.fault_candidate(index, target))
                }
                _ => timer.map(|timer| (timer, rank)),
            }
        })();
        found.or_else(|| (view.len() > 0).then(|| view.nth(0)))
    }

    pub(super) fn timer_key(&mut self, owner: Pid, n: u32) -> KeyId {
        let owner = self
            .procs
            .get(&owner)
            .map(|e| e.name.clone())
            .unwrap_or_default();
        self.keys.root(Root::Timer { owner, n })
    }

    pub(super) fn key_of(&mut self, event: Event) -> KeyId {
        match event {
            Event::Client { client, cmd, .. } => {
                let stable_id = self.clients[client].1;
                self.keys.root(Root::Client {
                    client: stable_id,
                    cmd,
                })
            }
            Event::Deliver { from, to } => self
                .queues
                .get(&(from, to))
                .and_then(|q| q.signals.front())
                .and_then(|q| q.key)
                .unwrap_or_else(|| self.keys.root(Root::Setup)),
            Event::Fault(index) => self.keys.root(Root::Fault {
                fault: self.faults[index].fault.id,
            }),
            Event::Timer => {
                let (owner, n) = match self.timers.values().next() {
                    Some(timer) => (timer.owner, timer.n),
                    None => (Pid::HARNESS, 0),
                };
                self.timer_key(owner, n)
            }
            Event::Exit { pid } => self
                .exits
                .iter()
                .find(|&&(exiting, _, _)| exiting == pid)
                .and_then(|&(_, key, _)| key)
                .unwrap_or_else(|| self.keys.root(Root::Setup)),
        }
    }

    pub(super) fn execute(&mut self, event: Event) {
        match event {
            Event::Exit { pid } => {
                let Some(reason) = self.procs.get_mut(&pid).and_then(|e| e.exiting.clone()) else {
                    return;
                };
                if self.trace.is_some() {
                    let name = self.name_of(pid);
                    self.trace_step(format!("{name} exits"));
                }
                self.die(pid, reason);
            }
            Event::Client { pid, client, cmd } => {
                if self.trace.is_some() {
                    let name = self.name_of(pid);
                    self.trace_step(format!("{name} acts"));
                }
                if self.footprints.is_some() {
                    // A client at `SETTLE` acts only once the system is quiet.
                    let settling = self.enabled.clients[client].is_some_and(|c| c.needs_quiet);
                    let stable_id = self.clients[client].1;
                    self.fp(|f| {
                        f.client(stable_id);
                        f.acted(stable_id, cmd);
                        f.write(Resource::Proc(pid));
                        if settling {
                            f.read(Resource::Quiet);
                        }
                    });
                }
                // The event ran: a source sees whatever the client can do
                // next as a new event, even under the same key.
                self.set_client(client, pid, None);
                self.invoke(pid, |behaviour, ctx| behaviour.act(ctx));
            }
            Event::Deliver { from, to } => {
                let Some(queued) = self.pop_queue(from, to) else {
                    return;
                };
                self.fp(|f| {
                    f.delivered(from, to, queued.send_no);
                    f.write(Resource::Proc(to));
                });
                if let Some(causality) = &mut self.causality {
                    causality.touch(to);
                    causality.deliver(queued.send_no);
                }
                // The running event holds its key from here on.
                self.release_key(queued.key);
                if self.trace.is_some() {
                    let (from_name, to_name) = (self.name_of(from), self.name_of(to));
                    let signal = self.traced_signal(&queued.signal);
                    self.trace_step(format!("{from_name} -> {to_name}: {signal}"));
                    self.trace_push(TraceEntry::Deliver {
                        from: from_name,
                        to: to_name,
                        signal,
                    });
                }
                let exit = matches!(queued.signal, Signal::Exit { .. });
                self.dispatch(from, to, queued.signal);
                if exit {
                    self.take_monitors(from, to);
                }
            }
            Event::Fault(index) => {
                let slot = &mut self.faults[index];
                slot.fired = true;
                let (id, target_role) = (slot.fault.id, slot.fault.target.clone());
                // A fault fires at most once, so its action (and message) moves out.
                let action = std::mem::replace(&mut slot.fault.action, FaultAction::Kill);
                let target = self.fault_target(&target_role);
                self.fp(|f| f.read(Resource::Role(role_hash(&target_role))));
                self.fault_fired(index, target);
                let Some(target) = target else {
                    return;
                };
                if let Some(causality) = &mut self.causality {
                    causality.touch(target);
                }
                if self.taps.is_some() {
                    self.tapped.push(Tapped::FaultFired { id, target });
                }
                if self.trace.is_some() {
                    let what = match &action {
                        FaultAction::Kill => "kill".to_string(),
                        FaultAction::Exit(reason) => format!("exit {reason}"),
                        FaultAction::Send(msg) => match &mut self.trace {
                            Some(trace) => {
                                with_pid_names(&mut trace.pid_names, || format!("send {msg:?}"))
                            }
                            None => String::new(),
                        },
                    };
                    let text = format!("fault {id}: {what} {}", self.name_of(target));
                    self.trace_step(text);
                }
                match action {
                    FaultAction::Kill => self.die(target, Reason::Killed),
                    FaultAction::Exit(reason) => {
                        self.exit_signal(Pid::HARNESS, target, reason, false)
                    }
                    FaultAction::Send(msg) => self.invoke(target, |behaviour, ctx| {
                        behaviour.handle(
                            ctx,
                            Incoming::Message {
                                from: Pid::HARNESS,
                                msg,
                            },
                        )
                    }),
                }
            }
            Event::Timer => {
                let Some(((deadline, _), timer)) = self.timers.pop_first() else {
                    return;
                };
                self.fp(|f| f.global());
                self.release_key(timer.key);
                self.timer_deadlines.remove(timer.tref.0);
                self.now_ms = self.now_ms.max(deadline);
                if let Some(entry) = self.procs.get_mut(&timer.owner) {
                    entry.timers.remove(&timer.tref);
                }
                if let Some(causality) = &mut self.causality {
                    causality.touch(timer.owner);
                }
                if self.trace.is_some() {
                    let text = format!(
                        "timer {} of {} fires",
                        timer.tref.0,
                        self.name_of(timer.owner)
                    );
                    self.trace_step(text);
                }
                self.invoke(timer.owner, |behaviour, ctx| {
                    behaviour.handle(ctx, Incoming::Timer { tref: timer.tref })
                });
            }
        }
    }

    pub(super) fn start_timer(&mut self, owner: Pid, after_ms: u64) -> TimerRef {
        let tref = TimerRef(self.next_timer);
        self.next_timer += 1;
        self.fp(|f| f.update(Resource::Timers));
        let deadline = self.now_ms.saturating_add(after_ms);
        let n = match self.procs.get_mut(&owner) {
            Some(entry) => {
                entry.timers.insert(tref);
                entry.timers_started += 1;
                entry.timers_started - 1
            }
            None => 0,
        };
        self.timers.insert(
            (deadline, tref.0),
            TimerEntry {
                owner,
                tref,
                n,
                key: None,
            },
        );
        self.timer_deadlines.insert(tref.0, deadline);
        if self.trace.is_some() {
            let owner = self.name_of(owner);
            self.trace_push(TraceEntry::TimerStart {
                owner,
                timer: tref.0,
                deadline_ms: deadline,
            });
        }
        tref
    }

    pub(super) fn cancel_timer(&mut self, owner: Pid, tref: TimerRef) {
        if let Some(deadline) = self.timer_deadlines.remove(tref.0) {
            let key = self.timers.remove(&(deadline, tref.0)).and_then(|t| t.key);
            self.release_key(key);
            if let Some(entry) = self.procs.get_mut(&owner) {
                entry.timers.remove(&tref);
            }
            if self.trace.is_some() {
                let owner = self.name_of(owner);
                self.trace_push(TraceEntry::TimerCancel {
                    owner,
                    timer: tref.0,
                });
            }
        }
    }
}
