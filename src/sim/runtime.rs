//! The simulator proper: the process table, the per-pair signal queues, the
//! scheduler loop, faults, timers and limits. Owns every BEAM rule about
//! signals (S2–S19); the behaviours above only decide what to send.
//!
//! Signals travel on per-(sender, receiver) FIFO queues with nothing ordered
//! across pairs; which queue delivers next is the [`ChoiceSource`]'s pick.
//! A dead process is removed from every table (its pid is never reused), and
//! so is every queue to it, so memory is bounded by what is alive and in
//! flight.

use crate::sim::choice::{Candidate, CandidateKind, Choice, ChoiceSource};
use crate::sim::key::{EventKey, KeyArena, KeyId, Root};
use crate::sim::panic_hook::{install_panic_hook, run_handler};
use crate::sim::pid::{Pid, Ref, TimerRef};
use crate::sim::process::{ClientState, Control, Incoming, Process};
use crate::sim::reason::Reason;
use crate::sim::trace::{Trace, TraceEntry};
use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Debug;

/// Send indices from here up name signals sent at a death (DESIGN.md's
/// `Deliver{cause, n}` for a `DOWN` or exit signal names the event in which
/// the process died).
pub const DEATH_INDEX_BASE: u32 = 1 << 31;

/// Bounds on a run. Hitting one ends the run with [`Outcome::Limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Scheduler steps (events) per run.
    pub steps_max: u64,
    /// Signals queued on one (sender, receiver) pair.
    pub queue_len_max: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            steps_max: 100_000,
            queue_len_max: 100_000,
        }
    }
}

/// What a checker wants to hear about, as plain functions of a message so
/// that taps cost nothing when unset and never capture run state.
#[derive(Clone, Copy)]
pub struct Taps<M> {
    /// For each message sent: a pid it names whose liveness at that moment
    /// should be recorded (e.g. the bucket in a lookup reply).
    pub pid_in_message: fn(&M) -> Option<Pid>,
    /// Which delivered messages to record (e.g. a registry's create cast).
    pub delivery_of_interest: fn(&M) -> Option<String>,
}

/// One fact a [`Taps`]-equipped run recorded during its last step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tapped {
    /// A message naming `named` was sent; `named_alive` is the table's
    /// answer at that moment.
    PidSent {
        from: Pid,
        to: Pid,
        named: Pid,
        named_alive: bool,
    },
    /// A message of interest was delivered (and is being handled), with
    /// the label `delivery_of_interest` gave it.
    Delivered {
        from: Pid,
        to: Pid,
        label: String,
    },
    Spawned {
        pid: Pid,
        name: String,
        role: Option<String>,
    },
    Exited {
        pid: Pid,
        role: Option<String>,
        reason: Reason,
    },
    FaultFired {
        id: u32,
        target: Pid,
    },
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was enabled any more.
    Quiescent,
    /// A limit was hit: `LIMIT <name> <value>`.
    Limit { name: &'static str, value: u64 },
}

/// How a spawned process is named (DESIGN.md § Words, "logical name").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Naming {
    /// Exactly this name (`registry`).
    Exact(String),
    /// `<role>#<g>`: the g-th process spawned with this naming role, from 0.
    Role(String),
    /// `<parent>/<n>`: the parent's n-th spawn, from 0.
    Child,
}

/// Options of [`Ctx::spawn`] and [`Sim::spawn`].
#[derive(Clone, Debug)]
pub struct SpawnOpts {
    pub naming: Naming,
    /// Fault targets name processes by role: the most recently spawned live
    /// process registered under it.
    pub role: Option<String>,
    /// Link the spawner and the new process (`start_link`).
    pub link: bool,
    /// The spawner monitors the new process.
    pub monitor: bool,
}

impl SpawnOpts {
    pub fn child() -> SpawnOpts {
        SpawnOpts {
            naming: Naming::Child,
            role: None,
            link: false,
            monitor: false,
        }
    }
}

/// A successful spawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spawned {
    pub pid: Pid,
    /// The spawner's monitor, when [`SpawnOpts::monitor`] asked for one.
    pub mref: Option<Ref>,
}

/// What a fault does to its target, within its own step.
#[derive(Clone, Debug)]
pub enum FaultAction<M> {
    /// Untrappable: the target is dead at the end of the step, reason `killed`.
    Kill,
    /// An exit signal with this reason, taking effect at once.
    Exit(Reason),
    /// A message the target handles at once (a stray message).
    Send(M),
}

/// One fault of a plan: an event, enabled only while its target is alive,
/// fired at most once.
#[derive(Clone, Debug)]
pub struct Fault<M> {
    /// Stable id (event key `Fault{id}`).
    pub id: u32,
    /// A role (see [`SpawnOpts::role`]), e.g. `bucket:shopping` or `registry`.
    pub target: String,
    pub action: FaultAction<M>,
}

enum Signal<M> {
    Message(M),
    /// A message sent to one of the receiver's aliases: dropped on arrival
    /// if the alias is no longer active (how OTP >= 24 drops late replies).
    AliasMessage {
        alias: Ref,
        msg: M,
    },
    Exit {
        reason: Reason,
        linked: bool,
    },
    Down {
        mref: Ref,
        reason: Reason,
    },
    /// A monitor request still behind other signals on its pair (S5): it
    /// takes effect, without an event of its own, once it reaches the head.
    Monitor {
        mref: Ref,
    },
}

struct Queued<M> {
    send_no: u64,
    key: Option<KeyId>,
    signal: Signal<M>,
}

struct Entry<M> {
    name: String,
    /// `None` while one of its handlers runs.
    behaviour: Option<Box<dyn Process<M>>>,
    links: BTreeSet<Pid>,
    /// Monitors others hold on this process: ref -> watcher.
    watchers: BTreeMap<Ref, Pid>,
    /// Monitors this process holds, until their `DOWN` is delivered or
    /// flushed: ref -> target.
    watching: BTreeMap<Ref, Pid>,
    trap_exit: bool,
    children_spawned: u32,
    timers_started: u32,
    timers: BTreeSet<TimerRef>,
    /// Senders with signals queued to this process.
    senders: BTreeSet<Pid>,
    role: Option<String>,
    /// Active aliases (`alias/0`): refs under which messages are accepted.
    aliases: BTreeSet<Ref>,
}

struct TimerEntry {
    owner: Pid,
    tref: TimerRef,
    n: u32,
}

struct FaultSlot<M> {
    fault: Fault<M>,
    fired: bool,
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Client { pid: Pid, client: usize, cmd: u32 },
    Deliver { from: Pid, to: Pid },
    Fault(usize),
    Timer,
}

/// One simulated system. Build it (spawn processes, add faults), then
/// [`Sim::run`] or [`Sim::step`] it.
pub struct Sim<M> {
    procs: BTreeMap<Pid, Entry<M>>,
    queues: BTreeMap<(Pid, Pid), VecDeque<Queued<M>>>,
    /// The head of every non-empty queue, by global send number.
    heads: BTreeSet<(u64, Pid, Pid)>,
    next_pid: u64,
    next_ref: u64,
    next_send_no: u64,
    next_timer: u64,
    /// Processes the harness spawned with a `Child` name.
    harness_children: u32,
    /// Client drivers in priority order, with their stable ids.
    clients: Vec<(Pid, u32)>,
    /// Live processes per role, in spawn order.
    roles: BTreeMap<String, Vec<Pid>>,
    role_generations: BTreeMap<String, u32>,
    faults: Vec<FaultSlot<M>>,
    /// Pending timers by (deadline, creation order).
    timers: BTreeMap<(u64, u64), TimerEntry>,
    timer_deadlines: BTreeMap<TimerRef, u64>,
    now_ms: u64,
    steps: u64,
    keys: KeyArena,
    /// Whether signals carry event keys (needed by any non-`fifo` source
    /// and by the trace; skipped on the fast path).
    keyed: bool,
    current_key: Option<KeyId>,
    sends_in_event: u32,
    trace: Option<Trace>,
    /// Names of dead processes, kept only while tracing so that the trace
    /// can name them.
    dead_names: BTreeMap<Pid, String>,
    chooser: Box<dyn ChoiceSource>,
    prepared: bool,
    taken: Vec<KeyId>,
    limits: Limits,
    limit_hit: Option<(&'static str, u64)>,
    taps: Option<Taps<M>>,
    tapped: Vec<Tapped>,
}

impl<M: Debug + 'static> Sim<M> {
    /// A new, empty system scheduled by `chooser`.
    pub fn new(chooser: Box<dyn ChoiceSource>, limits: Limits, tracing: bool) -> Sim<M> {
        install_panic_hook();
        let keyed = tracing || !chooser.is_fifo();
        Sim {
            procs: BTreeMap::new(),
            queues: BTreeMap::new(),
            heads: BTreeSet::new(),
            next_pid: 1,
            next_ref: 1,
            next_send_no: 0,
            next_timer: 0,
            harness_children: 0,
            clients: Vec::new(),
            roles: BTreeMap::new(),
            role_generations: BTreeMap::new(),
            faults: Vec::new(),
            timers: BTreeMap::new(),
            timer_deadlines: BTreeMap::new(),
            now_ms: 0,
            steps: 0,
            keys: KeyArena::new(),
            keyed,
            current_key: None,
            sends_in_event: 0,
            trace: tracing.then(Trace::default),
            dead_names: BTreeMap::new(),
            chooser,
            prepared: false,
            taken: Vec::new(),
            limits,
            limit_hit: None,
            taps: None,
            tapped: Vec::new(),
        }
    }

    // ----- building -----

    /// Spawns a process at setup (its parent is the harness).
    pub fn spawn(
        &mut self,
        opts: SpawnOpts,
        behaviour: Box<dyn Process<M>>,
    ) -> Result<Spawned, Reason> {
        self.begin_setup();
        self.spawn_from(Pid::HARNESS, opts, behaviour)
    }

    /// Spawns a client driver, named `client<stable_id>` and keyed by
    /// `stable_id` in event keys. A case numbers its clients in order of
    /// first appearance, so this is DESIGN.md's `client<k>`; keeping the id
    /// (not the position) keeps names and timer keys stable when the
    /// shrinker deletes a client. Clients act in spawn order under `fifo`.
    pub fn spawn_client(&mut self, stable_id: u32, behaviour: Box<dyn Process<M>>) -> Pid {
        let name = format!("client{stable_id}");
        let opts = SpawnOpts {
            naming: Naming::Exact(name),
            role: None,
            link: false,
            monitor: false,
        };
        self.begin_setup();
        let pid = match self.spawn_from(Pid::HARNESS, opts, behaviour) {
            Ok(spawned) => spawned.pid,
            // A client whose init failed is dead; it stays in the client
            // list (and never acts) so that numbering is unchanged.
            Err(_) => Pid(self.next_pid - 1),
        };
        self.clients.push((pid, stable_id));
        pid
    }

    /// Starts recording the facts `taps` selects; read them with
    /// [`Sim::drain_tapped`] after each step.
    pub fn set_taps(&mut self, taps: Taps<M>) {
        self.taps = Some(taps);
    }

    /// The facts recorded since the last call.
    pub fn drain_tapped(&mut self) -> std::vec::Drain<'_, Tapped> {
        self.tapped.drain(..)
    }

    /// Adds a fault to the plan; plan order is the `fifo` priority.
    pub fn add_fault(&mut self, fault: Fault<M>) {
        self.faults.push(FaultSlot {
            fault,
            fired: false,
        });
    }

    fn begin_setup(&mut self) {
        if self.keyed && self.current_key.is_none() {
            self.current_key = Some(self.keys.root(Root::Setup));
        }
    }

    // ----- running -----

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
            self.chooser.prepare(&mut self.keys);
            self.prepared = true;
        }
        let picked = if self.chooser.is_fifo() {
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
        self.current_key = key;
        self.sends_in_event = 0;
        self.execute(event);
        true
    }

    /// The `fifo` order (DESIGN.md): clients that can act, lowest first;
    /// else the oldest queued signal; else the first live-target fault;
    /// else the earliest timer.
    fn fifo_event(&self) -> Option<Event> {
        let quiet = self.heads.is_empty();
        for (client, &(pid, _)) in self.clients.iter().enumerate() {
            if let Some(cmd) = self.client_ready(pid, quiet) {
                return Some(Event::Client { pid, client, cmd });
            }
        }
        if let Some(&(_, from, to)) = self.heads.first() {
            return Some(Event::Deliver { from, to });
        }
        if let Some(index) = self.faults.iter().position(|slot| self.fault_enabled(slot)) {
            return Some(Event::Fault(index));
        }
        self.timers.keys().next().map(|_| Event::Timer)
    }

    /// Every enabled event, in `fifo` priority order, for a choice source.
    fn chosen_event(&mut self) -> Option<(Event, Option<KeyId>)> {
        let quiet = self.heads.is_empty();
        let mut events = Vec::new();
        for client in 0..self.clients.len() {
            let (pid, _) = self.clients[client];
            if let Some(cmd) = self.client_ready(pid, quiet) {
                events.push(Event::Client { pid, client, cmd });
            }
        }
        events.extend(
            self.heads
                .iter()
                .map(|&(_, from, to)| Event::Deliver { from, to }),
        );
        for index in 0..self.faults.len() {
            if self.fault_enabled(&self.faults[index]) {
                events.push(Event::Fault(index));
            }
        }
        if events.is_empty() && !self.timers.is_empty() {
            events.push(Event::Timer);
        }
        let candidates: Vec<Candidate> = events
            .iter()
            .map(|&event| {
                let (actor, kind) = match event {
                    Event::Client { pid, .. } => (pid, CandidateKind::Client),
                    Event::Deliver { from, to } => (to, CandidateKind::Deliver { from }),
                    Event::Fault(index) => {
                        let target = self.fault_target(&self.faults[index].fault.target);
                        (target.unwrap_or(Pid::HARNESS), CandidateKind::Fault)
                    }
                    Event::Timer => {
                        let owner = self
                            .timers
                            .values()
                            .next()
                            .map_or(Pid::HARNESS, |t| t.owner);
                        (owner, CandidateKind::Timer)
                    }
                };
                Candidate {
                    key: self.key_of(event),
                    actor,
                    kind,
                }
            })
            .collect();
        if events.is_empty() {
            return None;
        }
        // Candidates are built in fifo priority order, so fifo's pick is
        // the first one.
        let index = self.chooser.choose(&Choice {
            step: self.steps,
            candidates: &candidates,
            fifo: 0,
            keys: &self.keys,
        });
        let index = index.min(events.len() - 1);
        self.taken.push(candidates[index].key);
        Some((events[index], Some(candidates[index].key)))
    }

    fn client_ready(&self, pid: Pid, quiet: bool) -> Option<u32> {
        let behaviour = self.procs.get(&pid)?.behaviour.as_ref()?;
        match behaviour.client_state() {
            ClientState::Ready { cmd, needs_quiet } if quiet || !needs_quiet => Some(cmd),
            _ => None,
        }
    }

    fn fault_enabled(&self, slot: &FaultSlot<M>) -> bool {
        !slot.fired && self.fault_target(&slot.fault.target).is_some()
    }

    fn fault_target(&self, role: &str) -> Option<Pid> {
        self.roles.get(role).and_then(|pids| pids.last().copied())
    }

    fn timer_key(&mut self, owner: Pid, n: u32) -> KeyId {
        let owner = self
            .procs
            .get(&owner)
            .map(|e| e.name.clone())
            .unwrap_or_default();
        self.keys.root(Root::Timer { owner, n })
    }

    fn key_of(&mut self, event: Event) -> KeyId {
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
                .and_then(|q| q.front())
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
        }
    }

    fn execute(&mut self, event: Event) {
        match event {
            Event::Client { pid, .. } => {
                if self.trace.is_some() {
                    let name = self.name_of(pid);
                    self.trace_step(format!("{name} acts"));
                }
                self.invoke(pid, |behaviour, ctx| behaviour.act(ctx));
            }
            Event::Deliver { from, to } => {
                let Some(queued) = self.pop_queue(from, to) else {
                    return;
                };
                if self.trace.is_some() {
                    let (from_name, to_name) = (self.name_of(from), self.name_of(to));
                    let signal = render_signal(&queued.signal);
                    self.trace_step(format!("{from_name} -> {to_name}: {signal}"));
                    self.trace_push(TraceEntry::Deliver {
                        from: from_name,
                        to: to_name,
                        signal,
                    });
                }
                self.dispatch(from, to, queued.signal);
                self.take_monitors(from, to);
            }
            Event::Fault(index) => {
                let slot = &mut self.faults[index];
                slot.fired = true;
                let (id, target_role) = (slot.fault.id, slot.fault.target.clone());
                // A fault fires at most once, so its action (and message) moves out.
                let action = std::mem::replace(&mut slot.fault.action, FaultAction::Kill);
                let Some(target) = self.fault_target(&target_role) else {
                    return;
                };
                if self.taps.is_some() {
                    self.tapped.push(Tapped::FaultFired { id, target });
                }
                if self.trace.is_some() {
                    let what = match &action {
                        FaultAction::Kill => "kill".to_string(),
                        FaultAction::Exit(reason) => format!("exit {reason}"),
                        FaultAction::Send(msg) => format!("send {msg:?}"),
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
                self.timer_deadlines.remove(&timer.tref);
                self.now_ms = self.now_ms.max(deadline);
                if let Some(entry) = self.procs.get_mut(&timer.owner) {
                    entry.timers.remove(&timer.tref);
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

    /// Hands one delivered signal to its receiver (S9–S18).
    fn dispatch(&mut self, from: Pid, to: Pid, signal: Signal<M>) {
        match signal {
            Signal::AliasMessage { alias, msg } => {
                let active = self
                    .procs
                    .get(&to)
                    .is_some_and(|e| e.aliases.contains(&alias));
                if active {
                    self.dispatch(from, to, Signal::Message(msg));
                } else if self.trace.is_some() {
                    let (from, to) = (self.name_of(from), self.name_of(to));
                    let signal = format!("{msg:?} (alias {} inactive)", alias.0);
                    self.trace_push(TraceEntry::Drop { from, to, signal });
                }
            }
            Signal::Message(msg) => {
                if let Some(taps) = &self.taps
                    && let Some(label) = (taps.delivery_of_interest)(&msg)
                {
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
            }
        }
    }

    /// An exit signal takes effect on `to` (S9–S13).
    fn exit_signal(&mut self, from: Pid, to: Pid, reason: Reason, linked: bool) {
        let Some(entry) = self.procs.get_mut(&to) else {
            return;
        };
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

    /// Runs one handler of `pid` as an atomic piece of the current step; a
    /// panic becomes the exit reason, after `on_crash` (S26).
    fn invoke(
        &mut self,
        pid: Pid,
        handler: impl FnOnce(&mut Box<dyn Process<M>>, &mut Ctx<'_, M>) -> Control,
    ) {
        let Some(mut behaviour) = self.procs.get_mut(&pid).and_then(|e| e.behaviour.take()) else {
            return;
        };
        let result = run_handler(|| handler(&mut behaviour, &mut Ctx { sim: self, me: pid }));
        let control = match result {
            Ok(control) => control,
            Err(message) => {
                let reason = Reason::Panic(message);
                let _ =
                    run_handler(|| behaviour.on_crash(&mut Ctx { sim: self, me: pid }, &reason));
                Control::Exit(reason)
            }
        };
        if let Some(entry) = self.procs.get_mut(&pid) {
            entry.behaviour = Some(behaviour);
        }
        if let Control::Exit(reason) = control {
            self.die(pid, reason);
        }
    }

    /// `pid` exits with `reason`: links get exit signals (S8), monitors get
    /// `DOWN` on the (pid, watcher) pair, behind everything pid sent them
    /// (S16); queues to pid and its timers are dropped.
    fn die(&mut self, pid: Pid, reason: Reason) {
        let Some(entry) = self.procs.remove(&pid) else {
            return;
        };
        if let Some(trace) = &mut self.trace {
            trace.entries.push(TraceEntry::Exit {
                pid: entry.name.clone(),
                reason: reason.to_string(),
            });
        }
        // The entry is out of the table, so name lookups below need it.
        let name = entry.name;
        if self.trace.is_some() {
            self.dead_names.insert(pid, name.clone());
        }
        if self.taps.is_some() {
            let (role, reason) = (entry.role.clone(), reason.clone());
            self.tapped.push(Tapped::Exited { pid, role, reason });
        }
        // Death signals are indexed by recipient, not by position, so that a
        // watcher or partner deleted from the case does not renumber the
        // others (see `death_send_index`).
        let mut used = Vec::new();
        for partner in entry.links {
            // The partner keeps its side of the link until the exit signal
            // arrives, so that an `unlink` in between can still cancel it.
            let n = self.death_send_index(partner, b'x', &mut used);
            let exit = Signal::Exit {
                reason: reason.clone(),
                linked: true,
            };
            self.send_signal_at(n, pid, &name, partner, exit);
        }
        for (mref, watcher) in entry.watchers {
            let n = self.death_send_index(watcher, b'd', &mut used);
            let down = Signal::Down {
                mref,
                reason: reason.clone(),
            };
            self.send_signal_at(n, pid, &name, watcher, down);
        }
        for (mref, target) in entry.watching {
            if let Some(target_entry) = self.procs.get_mut(&target) {
                target_entry.watchers.remove(&mref);
            }
        }
        for sender in entry.senders {
            if let Some(queue) = self.queues.remove(&(sender, pid)) {
                if let Some(head) = queue.front() {
                    self.heads.remove(&(head.send_no, sender, pid));
                }
                // S17: a monitor request that finds the process dead is
                // answered with `DOWN noproc`.
                for queued in &queue {
                    if let Signal::Monitor { mref } = queued.signal {
                        let n = self.death_send_index(sender, b'm', &mut used);
                        let down = Signal::Down {
                            mref,
                            reason: Reason::Noproc,
                        };
                        self.send_signal_at(n, pid, &name, sender, down);
                    }
                }
                if self.trace.is_some() {
                    let sender_name = self.name_of(sender);
                    for queued in &queue {
                        self.trace_push(TraceEntry::Drop {
                            from: sender_name.clone(),
                            to: name.clone(),
                            signal: render_signal(&queued.signal),
                        });
                    }
                }
            }
        }
        for tref in entry.timers {
            if let Some(deadline) = self.timer_deadlines.remove(&tref) {
                self.timers.remove(&(deadline, tref.0));
            }
        }
        if let Some(role) = entry.role
            && let Some(pids) = self.roles.get_mut(&role)
        {
            pids.retain(|&p| p != pid);
            if pids.is_empty() {
                self.roles.remove(&role);
            }
        }
    }

    /// The send index of a signal sent at a death: `DEATH_INDEX_BASE` plus
    /// an FNV-1a hash of the recipient's logical name (without its
    /// generation number) and the signal's kind, probing past collisions
    /// within the same death. Stable when other recipients come or go.
    fn death_send_index(&self, recipient: Pid, kind: u8, used: &mut Vec<u32>) -> u32 {
        let name = self
            .procs
            .get(&recipient)
            .map(|e| e.name.as_str())
            .unwrap_or("");
        let stem = match name.rfind('#') {
            Some(at) if name[at + 1..].bytes().all(|b| b.is_ascii_digit()) => &name[..at],
            _ => name,
        };
        let mut hash: u32 = 0x811c_9dc5;
        for byte in stem.bytes().chain([0, kind]) {
            hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
        }
        let mut n = DEATH_INDEX_BASE | (hash & !DEATH_INDEX_BASE);
        while used.contains(&n) {
            n = DEATH_INDEX_BASE | (n.wrapping_add(1) & !DEATH_INDEX_BASE);
        }
        used.push(n);
        n
    }

    // ----- signals -----

    fn send_signal(&mut self, from: Pid, to: Pid, signal: Signal<M>) {
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
    fn send_signal_named(&mut self, from: Pid, from_name: &str, to: Pid, signal: Signal<M>) {
        let n = self.next_send_index();
        self.send_signal_at(n, from, from_name, to, signal);
    }

    /// Every operation that may send a signal (a send, an exit, a monitor,
    /// a link) takes the next index of the event, whether or not it sends:
    /// so the key of a later send does not depend on whether, say, a
    /// monitored process was already dead.
    fn next_send_index(&mut self) -> u32 {
        let n = self.sends_in_event;
        self.sends_in_event += 1;
        n
    }

    fn send_signal_at(&mut self, n: u32, from: Pid, from_name: &str, to: Pid, signal: Signal<M>) {
        let Some(to_entry) = self.procs.get_mut(&to) else {
            if let Some(trace) = &mut self.trace {
                let to_name = match self.dead_names.get(&to) {
                    Some(name) => name.clone(),
                    None => format!("{to:?}"),
                };
                trace.entries.push(TraceEntry::Drop {
                    from: from_name.to_string(),
                    to: to_name,
                    signal: render_signal(&signal),
                });
            }
            return;
        };
        to_entry.senders.insert(from);
        let key = match (self.keyed, self.current_key) {
            (true, Some(cause)) => Some(self.keys.child(cause, n)),
            _ => None,
        };
        self.enqueue(from, from_name, to, key, signal);
    }

    fn enqueue(
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
                signal: render_signal(&signal),
            });
        }
        if let (Some(taps), Signal::Message(msg) | Signal::AliasMessage { msg, .. }) =
            (&self.taps, &signal)
            && let Some(named) = (taps.pid_in_message)(msg)
        {
            let named_alive = self.procs.contains_key(&named);
            self.tapped.push(Tapped::PidSent {
                from,
                to,
                named,
                named_alive,
            });
        }
        let send_no = self.next_send_no;
        self.next_send_no += 1;
        let queue = self.queues.entry((from, to)).or_default();
        if queue.is_empty() {
            self.heads.insert((send_no, from, to));
        }
        queue.push_back(Queued {
            send_no,
            key,
            signal,
        });
        if queue.len() > self.limits.queue_len_max && self.limit_hit.is_none() {
            self.limit_hit = Some(("queue-len", self.limits.queue_len_max as u64));
        }
    }

    fn pop_queue(&mut self, from: Pid, to: Pid) -> Option<Queued<M>> {
        let queue = self.queues.get_mut(&(from, to))?;
        let queued = queue.pop_front()?;
        self.heads.remove(&(queued.send_no, from, to));
        match queue.front() {
            Some(next) => {
                self.heads.insert((next.send_no, from, to));
            }
            None => {
                self.queues.remove(&(from, to));
                if let Some(entry) = self.procs.get_mut(&to) {
                    entry.senders.remove(&from);
                }
            }
        }
        Some(queued)
    }

    /// Removes the first queued signal on (from, to) that `matches`, if any
    /// (a flushed `DOWN`, S18, a cancelled or granted monitor request).
    fn remove_queued(
        &mut self,
        from: Pid,
        to: Pid,
        matches: impl Fn(&Queued<M>) -> bool,
    ) -> Option<Signal<M>> {
        let queue = self.queues.get_mut(&(from, to))?;
        let position = queue.iter().position(matches)?;
        if position > 0 {
            return queue.remove(position).map(|q| q.signal);
        }
        self.pop_queue(from, to).map(|q| q.signal)
    }

    /// Monitor requests no longer behind an exit signal take effect now.
    /// On the BEAM a message is in the receiver's mailbox as soon as it
    /// arrives, handled or not, so a monitor sent after it is in force when
    /// it is handled; only an exit signal sent before the monitor can
    /// decide it (S5): the receiver may die first, and the monitor then
    /// answers `noproc` (S17).
    fn take_monitors(&mut self, watcher: Pid, target: Pid) {
        let Some(queue) = self.queues.get(&(watcher, target)) else {
            return;
        };
        let free: Vec<u64> = queue
            .iter()
            .take_while(|q| !matches!(q.signal, Signal::Exit { .. }))
            .filter(|q| matches!(q.signal, Signal::Monitor { .. }))
            .map(|q| q.send_no)
            .collect();
        for send_no in free {
            let taken = self.remove_queued(watcher, target, |q| q.send_no == send_no);
            if let Some(Signal::Monitor { mref }) = taken
                && let Some(entry) = self.procs.get_mut(&target)
            {
                entry.watchers.insert(mref, watcher);
            }
        }
    }

    fn spawn_from(
        &mut self,
        parent: Pid,
        opts: SpawnOpts,
        mut behaviour: Box<dyn Process<M>>,
    ) -> Result<Spawned, Reason> {
        let pid = Pid(self.next_pid);
        self.next_pid += 1;
        let name = match opts.naming {
            Naming::Exact(name) => name,
            Naming::Role(role) => {
                let generation = self.role_generations.entry(role.clone()).or_insert(0);
                let name = format!("{role}#{generation}");
                *generation += 1;
                name
            }
            Naming::Child => match self.procs.get_mut(&parent) {
                Some(entry) => {
                    let n = entry.children_spawned;
                    entry.children_spawned += 1;
                    format!("{}/{n}", entry.name)
                }
                None => {
                    let n = self.harness_children;
                    self.harness_children += 1;
                    format!("harness/{n}")
                }
            },
        };
        if let Some(trace) = &mut self.trace {
            trace.pid_names.insert(pid.0, name.clone());
            let parent_name = self
                .procs
                .get(&parent)
                .map(|e| e.name.clone())
                .unwrap_or_else(|| "harness".into());
            trace.entries.push(TraceEntry::Spawn {
                parent: parent_name,
                child: name.clone(),
                linked: opts.link,
            });
        }
        self.procs.insert(
            pid,
            Entry {
                name,
                behaviour: None,
                links: BTreeSet::new(),
                watchers: BTreeMap::new(),
                watching: BTreeMap::new(),
                trap_exit: false,
                children_spawned: 0,
                timers_started: 0,
                timers: BTreeSet::new(),
                senders: BTreeSet::new(),
                role: opts.role.clone(),
                aliases: BTreeSet::new(),
            },
        );
        if self.taps.is_some() {
            let name = self
                .procs
                .get(&pid)
                .map(|e| e.name.clone())
                .unwrap_or_default();
            self.tapped.push(Tapped::Spawned {
                pid,
                name,
                role: opts.role.clone(),
            });
        }
        if let Some(role) = opts.role {
            self.roles.entry(role).or_default().push(pid);
        }
        if opts.link && self.procs.contains_key(&parent) {
            // The child was just inserted, so linking cannot fail.
            let _ = self.link(parent, pid);
        }
        let mref = if opts.monitor && self.procs.contains_key(&parent) {
            Some(self.monitor(parent, pid))
        } else {
            None
        };
        let result = run_handler(|| behaviour.init(&mut Ctx { sim: self, me: pid }));
        let failure = match result {
            Ok(Ok(())) => None,
            Ok(Err(reason)) => Some(reason),
            Err(message) => Some(Reason::Panic(message)),
        };
        if let Some(entry) = self.procs.get_mut(&pid) {
            entry.behaviour = Some(behaviour);
        }
        match failure {
            None => Ok(Spawned { pid, mref }),
            Some(reason) => {
                self.die(pid, reason.clone());
                Err(reason)
            }
        }
    }

    fn link(&mut self, from: Pid, to: Pid) -> Result<(), Reason> {
        let n = self.next_send_index();
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

    fn monitor(&mut self, watcher: Pid, target: Pid) -> Ref {
        let mref = Ref(self.next_ref);
        self.next_ref += 1;
        let n = self.next_send_index();
        if let Some(entry) = self.procs.get_mut(&watcher) {
            entry.watching.insert(mref, target);
        }
        if self.trace.is_some() {
            let (w, t) = (self.name_of(watcher), self.name_of(target));
            self.trace_push(TraceEntry::Monitor {
                watcher: w,
                target: t,
                mref: mref.0,
            });
        }
        let behind_exit = self.queues.get(&(watcher, target)).is_some_and(|queue| {
            queue
                .iter()
                .any(|q| matches!(q.signal, Signal::Exit { .. }))
        });
        match self.procs.get_mut(&target) {
            Some(_) if behind_exit => {
                let key = match (self.keyed, self.current_key) {
                    (true, Some(cause)) => Some(self.keys.child(cause, n)),
                    _ => None,
                };
                if let Some(entry) = self.procs.get_mut(&target) {
                    entry.senders.insert(watcher);
                }
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

    fn demonitor(&mut self, watcher: Pid, mref: Ref, flush: bool) {
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
        let _ = self.remove_queued(
            watcher,
            target,
            |q| matches!(q.signal, Signal::Monitor { mref: m } if m == mref),
        );
        if flush {
            let _ = self.remove_queued(
                target,
                watcher,
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

    /// S3: delivers what `caller` has queued to `target`, then answers from
    /// the table. A signal to a process whose handler is running (it called
    /// us, directly or not) stays queued: handlers never nest into themselves.
    fn is_alive_from(&mut self, caller: Pid, target: Pid) -> bool {
        loop {
            let runnable = self
                .procs
                .get(&target)
                .is_some_and(|e| e.behaviour.is_some());
            if !runnable {
                break;
            }
            let Some(queued) = self.pop_queue(caller, target) else {
                break;
            };
            if self.trace.is_some() {
                let (from, to) = (self.name_of(caller), self.name_of(target));
                let signal = render_signal(&queued.signal);
                self.trace_push(TraceEntry::Deliver { from, to, signal });
            }
            self.dispatch(caller, target, queued.signal);
            self.take_monitors(caller, target);
        }
        self.procs.contains_key(&target)
    }

    fn start_timer(&mut self, owner: Pid, after_ms: u64) -> TimerRef {
        let tref = TimerRef(self.next_timer);
        self.next_timer += 1;
        let deadline = self.now_ms.saturating_add(after_ms);
        let n = match self.procs.get_mut(&owner) {
            Some(entry) => {
                entry.timers.insert(tref);
                entry.timers_started += 1;
                entry.timers_started - 1
            }
            None => 0,
        };
        self.timers
            .insert((deadline, tref.0), TimerEntry { owner, tref, n });
        self.timer_deadlines.insert(tref, deadline);
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

    fn cancel_timer(&mut self, owner: Pid, tref: TimerRef) {
        if let Some(deadline) = self.timer_deadlines.remove(&tref) {
            self.timers.remove(&(deadline, tref.0));
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

    // ----- trace -----

    fn trace_step(&mut self, event: String) {
        let key = self
            .current_key
            .map(|k| self.keys.key(k).to_string())
            .unwrap_or_default();
        let entry = TraceEntry::Step {
            step: self.steps,
            time_ms: self.now_ms,
            key,
            event,
        };
        self.trace_push(entry);
    }

    fn trace_push(&mut self, entry: TraceEntry) {
        if let Some(trace) = &mut self.trace {
            trace.entries.push(entry);
        }
    }

    // ----- inspection -----

    /// The logical name of a process (of a dead one only while tracing;
    /// otherwise its pid).
    pub fn name_of(&self, pid: Pid) -> String {
        match self.procs.get(&pid) {
            Some(entry) => entry.name.clone(),
            None if pid == Pid::HARNESS => "harness".to_string(),
            None => match self.dead_names.get(&pid) {
                Some(name) => name.clone(),
                None => format!("{pid:?}"),
            },
        }
    }

    pub fn is_alive(&self, pid: Pid) -> bool {
        self.procs.contains_key(&pid)
    }

    /// The most recently spawned live process registered under `role`.
    pub fn role_target(&self, role: &str) -> Option<Pid> {
        self.fault_target(role)
    }

    /// The live processes registered under `role`, in spawn order.
    pub fn role_members(&self, role: &str) -> &[Pid] {
        self.roles.get(role).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Every role with live members.
    pub fn roles(&self) -> impl Iterator<Item = (&str, &[Pid])> {
        self.roles
            .iter()
            .map(|(role, pids)| (role.as_str(), pids.as_slice()))
    }

    /// A process's behaviour, for inspection (None while its handler runs).
    pub fn process(&self, pid: Pid) -> Option<&dyn Any> {
        self.procs.get(&pid)?.behaviour.as_ref().map(|b| b.as_any())
    }

    /// The client drivers, in priority order.
    pub fn clients(&self) -> Vec<Pid> {
        self.clients.iter().map(|&(pid, _)| pid).collect()
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Signals queued on the (from, to) pair.
    pub fn queue_len(&self, from: Pid, to: Pid) -> usize {
        self.queues.get(&(from, to)).map_or(0, VecDeque::len)
    }

    /// Whether no signal is queued on any pair.
    pub fn is_quiet(&self) -> bool {
        self.heads.is_empty()
    }

    /// Signals queued on all pairs.
    pub fn queued_signals(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }

    /// Processes alive now.
    pub fn live_processes(&self) -> usize {
        self.procs.len()
    }

    /// Whether every link and monitor table is consistent (a harness
    /// invariant, for tests).
    pub fn tables_consistent(&self) -> bool {
        self.procs.iter().all(|(&pid, entry)| {
            // A dead partner's side is gone; ours waits for its exit signal.
            entry
                .links
                .iter()
                .all(|l| self.procs.get(l).is_none_or(|e| e.links.contains(&pid)))
                && entry.watchers.iter().all(|(r, w)| {
                    self.procs
                        .get(w)
                        .is_some_and(|e| e.watching.get(r) == Some(&pid))
                })
        })
    }

    /// The stable ids of faults that never fired.
    pub fn unused_faults(&self) -> Vec<u32> {
        self.faults
            .iter()
            .filter(|slot| !slot.fired)
            .map(|slot| slot.fault.id)
            .collect()
    }

    /// The events a non-`fifo` source picked, as an override list that
    /// replays this run exactly.
    pub fn schedule_taken(&self) -> Vec<EventKey> {
        self.taken.iter().map(|&k| self.keys.key(k)).collect()
    }

    pub fn trace(&self) -> Option<&Trace> {
        self.trace.as_ref()
    }

    pub fn take_trace(&mut self) -> Option<Trace> {
        self.trace.take()
    }
}

fn render_signal<M: Debug>(signal: &Signal<M>) -> String {
    match signal {
        Signal::Message(msg) | Signal::AliasMessage { msg, .. } => format!("{msg:?}"),
        Signal::Exit {
            reason,
            linked: true,
        } => format!("exit {reason} (link)"),
        Signal::Exit {
            reason,
            linked: false,
        } => format!("exit {reason}"),
        Signal::Down { mref, reason } => format!("DOWN ref {} {reason}", mref.0),
        Signal::Monitor { mref } => format!("monitor (ref {})", mref.0),
    }
}

/// What a handler may do: the process's view of the system during one step.
pub struct Ctx<'a, M> {
    sim: &'a mut Sim<M>,
    me: Pid,
}

impl<M: Debug + 'static> Ctx<'_, M> {
    /// This process.
    pub fn me(&self) -> Pid {
        self.me
    }

    /// Virtual time, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.sim.now_ms
    }

    /// The number of the step running now (from 1; 0 at setup).
    pub fn step(&self) -> u64 {
        self.sim.steps
    }

    /// Sends a message; to a dead process it is silently dropped (S4).
    pub fn send(&mut self, to: Pid, msg: M) {
        self.sim.send_signal(self.me, to, Signal::Message(msg));
    }

    /// Sends a message to `to` under its alias `alias`: dropped on arrival
    /// unless `to` still has that alias active.
    pub fn send_alias(&mut self, to: Pid, alias: Ref, msg: M) {
        self.sim
            .send_signal(self.me, to, Signal::AliasMessage { alias, msg });
    }

    /// Activates `alias` for this process (`alias/0`, with a ref of ours).
    pub fn alias(&mut self, alias: Ref) {
        if let Some(entry) = self.sim.procs.get_mut(&self.me) {
            entry.aliases.insert(alias);
        }
    }

    /// Deactivates an alias: later messages sent to it are dropped.
    pub fn unalias(&mut self, alias: Ref) {
        if let Some(entry) = self.sim.procs.get_mut(&self.me) {
            entry.aliases.remove(&alias);
        }
    }

    /// Sends an exit signal (S11, S12): `kill` is untrappable, `normal` is
    /// ignored by a process not trapping exits.
    pub fn exit(&mut self, to: Pid, reason: Reason) {
        self.sim.send_signal(
            self.me,
            to,
            Signal::Exit {
                reason,
                linked: false,
            },
        );
    }

    /// Links to `to`; `Err(noproc)` if it is dead and we do not trap exits
    /// (S14; the caller decides whether that crashes it).
    pub fn link(&mut self, to: Pid) -> Result<(), Reason> {
        self.sim.link(self.me, to)
    }

    /// Removes a link, on both sides.
    pub fn unlink(&mut self, to: Pid) {
        let me = self.me;
        let linked = self
            .sim
            .procs
            .get_mut(&me)
            .is_some_and(|e| e.links.remove(&to));
        if let Some(entry) = self.sim.procs.get_mut(&to) {
            entry.links.remove(&me);
        }
        if linked && self.sim.trace.is_some() {
            let (from, to) = (self.sim.name_of(me), self.sim.name_of(to));
            self.sim.trace_push(TraceEntry::Unlink { from, to });
        }
    }

    /// Monitors `target` (S15); a dead target gives `DOWN noproc` (S17).
    pub fn monitor(&mut self, target: Pid) -> Ref {
        self.sim.monitor(self.me, target)
    }

    /// Stops a monitor; with `flush`, also removes its queued `DOWN` (S18).
    pub fn demonitor(&mut self, mref: Ref, flush: bool) {
        self.sim.demonitor(self.me, mref, flush)
    }

    /// S3: first delivers what this process queued to `pid`, then answers.
    pub fn is_alive(&mut self, pid: Pid) -> bool {
        self.sim.is_alive_from(self.me, pid)
    }

    pub fn set_trap_exit(&mut self, trap: bool) {
        if let Some(entry) = self.sim.procs.get_mut(&self.me) {
            entry.trap_exit = trap;
        }
    }

    /// Spawns a process; its `init` runs now, inside this step (S29).
    pub fn spawn(
        &mut self,
        opts: SpawnOpts,
        behaviour: Box<dyn Process<M>>,
    ) -> Result<Spawned, Reason> {
        self.sim.spawn_from(self.me, opts, behaviour)
    }

    /// Starts a timer that fires as an event once nothing else is enabled.
    pub fn start_timer(&mut self, after_ms: u64) -> TimerRef {
        self.sim.start_timer(self.me, after_ms)
    }

    pub fn cancel_timer(&mut self, tref: TimerRef) {
        self.sim.cancel_timer(self.me, tref)
    }

    /// A fresh reference (for call tags).
    pub fn make_ref(&mut self) -> Ref {
        let mref = Ref(self.sim.next_ref);
        self.sim.next_ref += 1;
        mref
    }

    /// Whether tracing is on (skip building notes when it is off).
    pub fn tracing(&self) -> bool {
        self.sim.trace.is_some()
    }

    /// Adds a free-text line to the trace, under this process's name.
    pub fn note(&mut self, text: impl Into<String>) {
        if self.sim.trace.is_some() {
            let pid = self.sim.name_of(self.me);
            self.sim.trace_push(TraceEntry::Note {
                pid,
                text: text.into(),
            });
        }
    }

    /// The logical name of `pid` (its pid when dead).
    pub fn name_of(&self, pid: Pid) -> String {
        self.sim.name_of(pid)
    }
}
