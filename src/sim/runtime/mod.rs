//! The simulator proper. Owns every BEAM rule about signals (S2–S19); the
//! behaviours above only decide what to send.
//!
//! Signals travel on per-(sender, receiver) FIFO queues with nothing ordered
//! across pairs; which queue delivers next is the [`ChoiceSource`]'s pick.
//! A dead process is removed from every table (its pid is never reused), and
//! so is every queue to it, so memory is bounded by what is alive and in
//! flight.
//!
//! Where each rule lives:
//! - this file: the [`Sim`] value, its construction, the public types of a
//!   run (limits, taps, outcome, spawn options, faults) and read-only
//!   inspection;
//! - `table.rs`: the process table, spawning (`init` inside the spawner's
//!   step, S29), logical names and roles;
//! - `queues.rs`: the per-pair signal queues, sending (S2, S4), delivery and
//!   dispatch of a signal to its handler (S9–S18), monitor requests behind an
//!   exit signal (S5) and the `is_alive` flush (S3);
//! - `links.rs`: links, monitors, exit signals taking effect (S8–S14), and
//!   death: the exit and `DOWN` signals a death sends (S16, S17), and the
//!   pending exit of a handler that sent and then died;
//! - `scheduler.rs`: the step loop, the `fifo` order (a pending exit
//!   first), the candidates offered to a choice source, event keys, faults,
//!   timers and limits;
//! - `ctx.rs`: running one handler as an atomic part of a step (a panic
//!   becomes the exit reason, S26) and the [`Ctx`] handle it gets;
//! - `enabled.rs`: the enabled events kept incrementally (ready clients,
//!   deliverable heads, faults with a live target, pending exits) and what
//!   an incremental choice source is told and shown;
//! - `index.rs`: the order-statistic indexes those sets are kept in.

mod ctx;
mod enabled;
mod index;
mod links;
mod queues;
mod scheduler;
mod table;

pub use ctx::Ctx;

use crate::sim::causality::Causality;
use crate::sim::choice::ChoiceSource;
use crate::sim::footprint::Footprints;
use crate::sim::key::{EventKey, KeyArena, KeyId};
use crate::sim::panic_hook::install_panic_hook;
use crate::sim::pid::{Pid, Ref, TimerRef, with_pid_names};
use crate::sim::process::Process;
use crate::sim::reason::Reason;
use crate::sim::trace::{Trace, TraceEntry};
use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Debug;
use std::rc::Rc;

/// Bounds on a run. Hitting one ends the run with [`Outcome::Limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Scheduler steps (events) per run.
    pub steps_max: u64,
    /// Signals queued on one (sender, receiver) pair.
    pub queue_len_max: usize,
}

impl Limits {
    /// The default of [`Limits::steps_max`], for every front end: `kvsim
    /// run`, `kvsim replay` (`--max-steps`) and the library's
    /// [`CheckConfig`](crate::check::CheckConfig).
    pub const STEPS_MAX_DEFAULT: u64 = 100_000;
    /// The default of [`Limits::queue_len_max`] (`--max-queue`).
    pub const QUEUE_LEN_MAX_DEFAULT: usize = 100_000;
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            steps_max: Limits::STEPS_MAX_DEFAULT,
            queue_len_max: Limits::QUEUE_LEN_MAX_DEFAULT,
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

/// Work a run did that could grow with the size of the system rather than
/// with its events: the counts tests assert to show that no path of the
/// core is quadratic (a time would depend on the machine; a count does not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Queued signals looked at by scans: freeing monitor requests (S5),
    /// finding a flushed `DOWN` (S18), answering monitor requests at a
    /// death (S17).
    pub queue_scanned: u64,
    /// Client states read to find the clients that can act.
    pub clients_examined: u64,
    /// Candidates built into a list for a choice source that reads a whole
    /// list (the built-in sources are kept incrementally and build none).
    pub candidates_listed: u64,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was enabled any more.
    Quiescent,
    /// A limit was hit: `LIMIT <name> <value>`.
    Limit { name: &'static str, value: u64 },
}

/// How a spawned process is named (docs/design.md § Words, "logical name").
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

/// One (sender, receiver) pair's signals, with counts of the kinds that
/// the monitor rules look for, so that a send or a delivery never scans
/// the queue: a monitor request waits only behind an exit signal (S5), and
/// a flushing `demonitor` looks for a `DOWN` (S18).
struct Queue<M> {
    signals: VecDeque<Queued<M>>,
    exits: usize,
    monitors: usize,
    downs: usize,
}

struct Entry<M> {
    name: String,
    /// `None` while one of its handlers runs.
    behaviour: Option<Box<dyn Process<M>>>,
    links: BTreeSet<Pid>,
    /// Monitors others hold on this process: ref -> watcher.
    watchers: index::SmallMap<Ref, Pid>,
    /// Monitors this process holds, until their `DOWN` is delivered or
    /// flushed: ref -> target.
    watching: index::SmallMap<Ref, Pid>,
    trap_exit: bool,
    children_spawned: u32,
    timers_started: u32,
    timers: index::SmallSet<TimerRef>,
    /// Senders with a queue to this process (kept while both live, even
    /// when empty, so that a steady exchange does not rebuild it).
    senders: BTreeSet<Pid>,
    /// Receivers this process has a queue to.
    receivers: BTreeSet<Pid>,
    role: Option<String>,
    /// Active aliases (`alias/0`): refs under which messages are accepted.
    aliases: index::SmallSet<Ref>,
    /// The reason of a pending exit event: the process's handler ended in
    /// a death after sending, and until the exit event runs it is alive but
    /// handles nothing (see `links.rs`).
    exiting: Option<Reason>,
    /// Its number, when it is a client driver.
    client: Option<u32>,
}

struct TimerEntry {
    owner: Pid,
    tref: TimerRef,
    n: u32,
    /// Its key, retained from the first time it is a candidate until it
    /// fires or goes: a source may remember it while other events run.
    key: Option<KeyId>,
}

struct FaultSlot<M> {
    fault: Fault<M>,
    fired: bool,
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Client {
        pid: Pid,
        client: usize,
        cmd: u32,
    },
    Deliver {
        from: Pid,
        to: Pid,
    },
    Fault(usize),
    Timer,
    /// The pending exit of `pid`: its handler ended in a death after
    /// sending (see `Sim::begin_exit`).
    Exit {
        pid: Pid,
    },
}

/// One simulated system. Build it (spawn processes, add faults), then
/// [`Sim::run`] or [`Sim::step`] it.
pub struct Sim<M> {
    /// Boxed: an entry is large, and the table moves its values.
    procs: index::PidMap<Box<Entry<M>>>,
    /// Never iterated where the order could shape a run (a hash map).
    queues: index::PairMap<Queue<M>>,
    /// Signals queued on all pairs.
    queued: usize,
    /// Exit signals, monitor requests and `DOWN`s queued on all pairs.
    counted: queues::Counted3,
    /// Non-empty queues.
    busy: usize,
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
    timers: index::SmallMap<(u64, u64), TimerEntry>,
    timer_deadlines: index::SeqMap<u64>,
    now_ms: u64,
    steps: u64,
    keys: KeyArena,
    /// Whether signals carry event keys (needed by any non-`fifo` source
    /// and by the trace; skipped on the fast path).
    keyed: bool,
    current_key: Option<KeyId>,
    sends_in_event: u32,
    trace: Option<Trace>,
    /// Each event's causal predecessors, when asked for
    /// ([`Sim::record_causality`]).
    causality: Option<Causality>,
    /// Each event's footprint, when the choice source asked for them.
    footprints: Option<Rc<RefCell<Footprints>>>,
    /// Names of dead processes, traced or not, so that [`Sim::name_of`]
    /// names the dead the same way in every run.
    dead_names: BTreeMap<Pid, String>,
    /// `None` only while it picks (it reads the rest of the run).
    chooser: Option<Box<dyn ChoiceSource>>,
    /// Whether the chooser has an [`Incremental`](crate::sim::Incremental) form.
    incremental: bool,
    /// Whether the chooser always takes the `fifo` event.
    fifo: bool,
    prepared: bool,
    enabled: enabled::EnabledSets,
    /// The `setup` root, when keyed: the key of anything sent before the
    /// first event.
    setup_key: Option<KeyId>,
    taken: Vec<KeyId>,
    /// Whether `taken` records (a long run that never asks for its
    /// schedule need not keep a key per step).
    recording: bool,
    limits: Limits,
    limit_hit: Option<(&'static str, u64)>,
    taps: Option<Taps<M>>,
    tapped: Vec<Tapped>,
    /// Pending exit events, oldest first, with their keys when keyed and
    /// their age (their rank among exits).
    exits: Vec<(Pid, Option<KeyId>, u64)>,
    next_exit_seq: u64,
    /// While an `is_alive` flush runs a handler inside another process's
    /// event: the flushed signal's key, which names a pending exit that
    /// handler starts (so that two exits started in one event differ).
    flush_cause: Option<KeyId>,
    work: Work,
    /// Always empty: what [`Sim::drain_trace`] drains when not tracing.
    no_entries: Vec<TraceEntry>,
}

impl<M: Debug + 'static> Sim<M> {
    /// A new, empty system scheduled by `chooser`.
    pub fn new(mut chooser: Box<dyn ChoiceSource>, limits: Limits, tracing: bool) -> Sim<M> {
        install_panic_hook();
        let keyed = tracing || !chooser.is_fifo();
        let fifo = chooser.is_fifo();
        let incremental = !fifo && chooser.incremental().is_some();
        let footprints = chooser.footprints();
        let mut keys = KeyArena::new();
        let setup_key = keyed.then(|| {
            let setup = keys.root(crate::sim::key::Root::Setup);
            keys.retain(setup);
            setup
        });
        Sim {
            procs: index::PidMap::default(),
            queues: index::PairMap::default(),
            queued: 0,
            counted: queues::Counted3::default(),
            busy: 0,
            next_pid: 1,
            next_ref: 1,
            next_send_no: 0,
            next_timer: 0,
            harness_children: 0,
            clients: Vec::new(),
            roles: BTreeMap::new(),
            role_generations: BTreeMap::new(),
            faults: Vec::new(),
            timers: index::SmallMap::default(),
            timer_deadlines: index::SeqMap::default(),
            now_ms: 0,
            steps: 0,
            keys,
            keyed,
            current_key: None,
            sends_in_event: 0,
            trace: tracing.then(Trace::default),
            causality: None,
            footprints,
            dead_names: BTreeMap::new(),
            chooser: Some(chooser),
            incremental,
            fifo,
            prepared: false,
            enabled: enabled::EnabledSets::new(incremental),
            setup_key,
            taken: Vec::new(),
            recording: true,
            limits,
            limit_hit: None,
            taps: None,
            tapped: Vec::new(),
            exits: Vec::new(),
            next_exit_seq: 0,
            flush_cause: None,
            work: Work::default(),
            no_entries: Vec::new(),
        }
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

    /// Moves the facts recorded since the last call into `into` (which
    /// must be empty) and keeps `into`'s buffer for the next ones: a
    /// caller that reads them after every step allocates no list per step.
    pub fn swap_tapped(&mut self, into: &mut Vec<Tapped>) {
        debug_assert!(into.is_empty(), "facts left in the buffer");
        std::mem::swap(&mut self.tapped, into);
    }

    /// Records into the footprint of the event in progress, when footprints
    /// are recorded (one untaken branch otherwise).
    #[inline]
    fn fp(&self, record: impl FnOnce(&mut Footprints)) {
        if let Some(footprints) = &self.footprints {
            record(&mut footprints.borrow_mut());
        }
    }

    /// A holder of `key` lets go of it.
    fn release_key(&mut self, key: Option<KeyId>) {
        if let Some(key) = key {
            self.keys.release(key);
        }
    }

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

    /// `signal` as the trace shows it (empty when not tracing).
    fn traced_signal(&mut self, signal: &Signal<M>) -> String {
        match &mut self.trace {
            Some(trace) => render_signal(signal, &mut trace.pid_names),
            None => String::new(),
        }
    }

    fn trace_push(&mut self, entry: TraceEntry) {
        if let Some(trace) = &mut self.trace {
            trace.entries.push(entry);
        }
    }

    /// The logical name of a process, alive or dead, traced or not
    /// (`bucket:a#0`); a pid this run never spawned prints as itself.
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

    /// Whether `pid` is in the table (true during its pending exit).
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
        self.queues.get(&(from, to)).map_or(0, |q| q.signals.len())
    }

    /// Event keys alive now: those something can still refer to (a queued
    /// signal, a pending event, the recorded schedule, an override).
    pub fn keys_alive(&self) -> usize {
        self.keys.len()
    }

    /// The work counted so far (see [`Work`]).
    pub fn work(&self) -> Work {
        self.work
    }

    /// Whether no signal is queued on any pair and no exit is pending.
    pub fn is_quiet(&self) -> bool {
        self.busy == 0 && self.exits.is_empty()
    }

    /// Whether `pid` is alive with its exit event pending.
    pub fn is_exiting(&self, pid: Pid) -> bool {
        self.procs.get(&pid).is_some_and(|e| e.exiting.is_some())
    }

    /// Signals queued on all pairs.
    pub fn queued_signals(&self) -> usize {
        self.queued
    }

    /// Processes alive now.
    pub fn live_processes(&self) -> usize {
        self.procs.len()
    }

    /// The state of the system with everything that depends on the
    /// interleaving of independent events abstracted away: processes by
    /// logical name (their links, watchers, `trap_exit`, pending exit, live
    /// timers), every queued signal by its event key and kind, timers in
    /// firing order, roles, faults fired and the clock — no pid, ref or
    /// send number. Two runs that reach equal canonical states behave
    /// alike from there on, up to those numbers (the processes' own state
    /// aside, which only their handlers change). Needs a keyed run (any
    /// source but `fifo`, or tracing). For tests of the verifier's
    /// dependence relation.
    pub fn canonical_state(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let mut procs: Vec<(String, String)> = self
            .procs
            .iter()
            .map(|(_, entry)| {
                let mut links: Vec<String> = entry.links.iter().map(|&p| self.name_of(p)).collect();
                links.sort();
                let mut watchers: Vec<String> =
                    entry.watchers.values().map(|&p| self.name_of(p)).collect();
                watchers.sort();
                let mut watching: Vec<String> =
                    entry.watching.values().map(|&p| self.name_of(p)).collect();
                watching.sort();
                let line = format!(
                    "links {links:?} watchers {watchers:?} watching {watching:?} trap {} exiting {:?} timers {} aliases {}",
                    entry.trap_exit,
                    entry.exiting.as_ref().map(ToString::to_string),
                    entry.timers.len(),
                    entry.aliases.len()
                );
                (entry.name.clone(), line)
            })
            .collect();
        procs.sort();
        for (name, line) in procs {
            let _ = writeln!(out, "proc {name}: {line}");
        }
        let mut queues: Vec<String> = self
            .queues
            .iter()
            .filter(|(_, q)| !q.signals.is_empty())
            .map(|(&(from, to), q)| {
                let signals: Vec<String> = q
                    .signals
                    .iter()
                    .map(|queued| {
                        let key = queued
                            .key
                            .map(|k| self.keys.key(k).to_string())
                            .unwrap_or_default();
                        let kind = match &queued.signal {
                            Signal::Message(_) => "msg".to_string(),
                            Signal::AliasMessage { .. } => "alias-msg".to_string(),
                            Signal::Exit { reason, linked } => format!("exit {reason} {linked}"),
                            Signal::Down { reason, .. } => format!("down {reason}"),
                            Signal::Monitor { .. } => "monitor".to_string(),
                        };
                        format!("{key} {kind}")
                    })
                    .collect();
                format!(
                    "{} -> {}: {signals:?}",
                    self.name_of(from),
                    self.name_of(to)
                )
            })
            .collect();
        queues.sort();
        for queue in queues {
            let _ = writeln!(out, "queue {queue}");
        }
        let timers: Vec<String> = self
            .timers
            .iter()
            .map(|(&(deadline, _), t)| format!("{}#{}@{deadline}", self.name_of(t.owner), t.n))
            .collect();
        let _ = writeln!(out, "timers {timers:?} now {}", self.now_ms);
        for (role, pids) in &self.roles {
            let names: Vec<String> = pids.iter().map(|&p| self.name_of(p)).collect();
            let _ = writeln!(out, "role {role}: {names:?}");
        }
        let fired: Vec<u32> = self
            .faults
            .iter()
            .filter(|slot| slot.fired)
            .map(|slot| slot.fault.id)
            .collect();
        let _ = writeln!(out, "faults fired {fired:?}");
        let _ = writeln!(out, "generations {:?}", self.role_generations);
        out
    }

    /// Whether every link and monitor table is consistent (a harness
    /// invariant, for tests).
    pub fn tables_consistent(&self) -> bool {
        self.procs.iter().all(|(pid, entry)| {
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

    /// Whether to record the events a non-`fifo` source picks (on by
    /// default; [`Sim::schedule_taken`] is empty when off).
    pub fn record_schedule(&mut self, on: bool) {
        self.recording = on;
    }

    /// The trace entries recorded since the last call, oldest first: a
    /// caller that writes them as they come keeps the trace out of memory
    /// (the pid names stay: a later message prints its pids by them).
    pub fn drain_trace(&mut self) -> std::vec::Drain<'_, TraceEntry> {
        match &mut self.trace {
            Some(trace) => trace.entries.drain(..),
            None => self.no_entries.drain(..),
        }
    }

    /// Records each event's causal predecessors from now on (see
    /// [`Causality`]); call it before the first step. Costs memory per
    /// event, so only runs that explain a failure ask for it.
    pub fn record_causality(&mut self) {
        if self.causality.is_none() {
            self.causality = Some(Causality::default());
        }
    }

    /// The causal record, when [`Sim::record_causality`] asked for one.
    pub fn causality(&self) -> Option<&Causality> {
        self.causality.as_ref()
    }

    pub fn take_causality(&mut self) -> Option<Causality> {
        self.causality.take()
    }

    pub fn trace(&self) -> Option<&Trace> {
        self.trace.as_ref()
    }

    pub fn take_trace(&mut self) -> Option<Trace> {
        self.trace.take()
    }
}

/// `signal` as a trace shows it: a message's term with every pid in it
/// printed by its logical name from `names` (exit reasons hold no pids).
fn render_signal<M: Debug>(signal: &Signal<M>, names: &mut BTreeMap<u64, String>) -> String {
    match signal {
        Signal::Message(msg) | Signal::AliasMessage { msg, .. } => {
            with_pid_names(names, || format!("{msg:?}"))
        }
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
