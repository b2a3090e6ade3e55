//! Source-set DPOR: every schedule of one case up to the equivalence of
//! schedules that only reorder independent events, by stateless
//! re-execution. Owns the dependence relation between events (from the
//! footprints the core records, [`crate::sim::footprint`]), the search
//! ([`search`]), its split into independent subtrees ([`split`]), property
//! 4 over every real-time order of an explored run (`real_time`) and the
//! shortest counterexample (the smallest causal past of a violating event).
//!
//! # The dependence relation
//!
//! Two events are dependent when their footprints conflict
//! ([`Access::conflicts`]). An event's footprint is what it actually touched
//! in the run, not who ran it:
//!
//! - **processes**: the state of every process whose handler ran in it
//!   (the receiver of a delivery, an acting client, a fault's target, and a
//!   process an `is_alive` flush ran inside the caller's event) is written;
//!   so two deliveries into one receiver are dependent;
//! - **liveness**: a spawn or a death writes the process's liveness; every
//!   send to it (a send to the dead is dropped), `is_alive`, `link`,
//!   `monitor` and property 1's tap on a lookup reply read it;
//! - **links and monitors** held on a process: written by `link`,
//!   `unlink`, `monitor`, `demonitor` from either end and by its death;
//! - **queues**, one per (sender, receiver) pair: a push and a pop of the
//!   same signal are dependent, as are two pushes or two pops of one queue;
//!   a push and a pop of different signals commute; a monitor request reads
//!   whether an exit signal is queued; a death (its queues go) and a
//!   flushing `demonitor` read or write the whole queue;
//! - **roles**: a spawn or death of a process with a role writes it, a
//!   fault reads its target's role ("the latest live bucket of a name");
//!   property 5 reads it at the spawn;
//! - **spawning** writes the pid and name counters; **timers**: starting
//!   one writes the timer list (equal deadlines fire in creation order), and
//!   a timer firing is dependent with every event (it is enabled only when
//!   nothing else is);
//! - **quiescence**: every push and pop, every pending exit begun or ended,
//!   updates it (updates commute with each other); a client's `SETTLE` and
//!   property 2's check (every event after which the system is quiet, which
//!   also reads the registry's state and every role) read it;
//! - **property 4**, in the full relation only ([`Dependence::new`], under
//!   which a counterexample's causal past is taken): an object's (bucket
//!   name's) history is read by an invocation (a client's action), updated
//!   by an answer (a client's handler, a delivery of `CREATE` to the
//!   registry) and written by a death. The relation the search explores
//!   ([`Dependence::searched`]) leaves it out: see below;
//! - **property 3**, when checked: a client's `STOP`, `CRASH` or `KILL` of
//!   the registry writes its licence, the registry's death reads it;
//! - a **custom property** makes every event dependent with every other.
//!
//! Counters that only name things (pids, refs, send numbers) are not
//! resources: two orders of independent events differ in them only up to
//! renaming (`tests/verify_commutation.rs` checks, on reachable states of
//! several registries, that every pair of enabled events the relation calls
//! independent commutes: equal canonical states, verdicts and enabled sets).
//!
//! # The algorithm
//!
//! Source-set DPOR with sleep sets (Abdulla, Aronis, Jonsson, Sagonas,
//! "Optimal dynamic partial order reduction", POPL 2014; JACM 64(4), 2017,
//! Algorithm 1, as Concuerror implements it), stateless: each schedule is a
//! re-execution of the case from the start by a choice source that replays
//! a prefix of event keys and then extends it. After a run, the happens-
//! before order of its events is the transitive closure of the dependence
//! relation over the executed sequence (a bitset of predecessors per
//! event, kept for the replayed prefix). Every race — events `e` before
//! `e'`, dependent, with no event between them ordered after `e` and
//! before `e'`, and reversible (not the same signal pushed and popped, not
//! two pops of one queue, `e'` not enabled by `e` itself) — adds to the
//! backtrack set at the state before `e` one initial of `notdep(e).e'` (the
//! events after `e` not ordered after it, then `e'`), unless one is there
//! already. The next run branches at the deepest state with a backtrack
//! event neither explored nor asleep. Sleep sets hold the events explored
//! from an ancestor state that commute with everything run since (with the
//! footprints they had); a run whose every enabled event is asleep is
//! abandoned (*sleep-set blocked*). Events are named by their keys, which
//! name the same event in every run, so a key plays the part of the
//! paper's "next event of a process".
//!
//! The simulator's state cannot be copied, but the checker's property-4
//! online state can: each run keeps it after each of its steps
//! (the checker's `OnlinePrefix`), and the next run, which replays the first events
//! of the last, skips their property-4 checks and resumes the state after
//! the last replayed one (never one after property 4 failed).
//!
//! # Property 4 over real-time orders
//!
//! Property 4 is the one property whose verdict reads the order of events
//! that touch nothing in common: when a client's answer arrives, relative
//! to another client's invocation on the same name, is all a
//! linearizability check sees of them. Making those events dependent
//! multiplied the schedules explored about twentyfold (`2x3` with one
//! kill: 497,090 against 24,276), each new one differing only in that
//! order. So the search explores the relation without property 4's
//! history, and checks property 4 of each explored run over every order of
//! each object's history events that the run's happens-before allows
//! (`real_time`). That is exact: two schedules equivalent under the
//! searched relation reach the same states, replies and verdicts of the
//! other properties (`tests/verify_commutation.rs`); linearizability is
//! local, so each object is checked alone; and any linear extension of
//! happens-before restricted to one object's events extends to one of the
//! whole run, a schedule of the same trace. A run whose orders break
//! property 4 adds that outcome (and, when it broke as it ran, the outcome
//! of an order of all objects that holds, if one does), and its breaking
//! order with the shortest prefix is made a whole schedule (happens-before
//! plus that order, earliest events first), replayed, and its violation's
//! causal past taken under the full relation, so that the past alone
//! replays it. A run some order of which is undecided counts as undecided.
//!
//! [`split`] enumerates the prefixes of a fixed length with sleep sets and
//! no reduction beyond them (every enabled event not asleep is a branch),
//! and [`search`] runs the reduced search below one of them, never
//! branching above it: the union over all roots is a sound search of the
//! whole case whatever thread or shard runs which root.

mod real_time;

use crate::check::case::Case;
use crate::check::checker::{
    CaseRun, CheckConfig, OnlinePrefix, RegistryFactory, model_op, run_case_resuming, run_case_with,
};
use crate::check::oracle::{RunOutcome, Witness};
use crate::check::property::{
    P2_NAMES_MATCH_BUCKETS, P3_REGISTRY_DIES_ONLY_WHEN_TOLD, P4_LINEARIZABLE, Property,
};
use crate::kv::{Command, KvFault, Target};
use crate::sim::choice::HALT;
use crate::sim::footprint::{Access, Footprint, Footprints, Mode, Resource};
use crate::sim::{Choice, ChoiceSource, EventKey, KeyId, Outcome, Pid, Root as KeyRoot};
use real_time::{Memo, RealTime};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::rc::Rc;
use std::sync::Arc;

/// Property 3's licence for the registry's death, as a resource.
pub const LICENCE: Resource = Resource::Checker(1);
/// The registry: the first process a KV system spawns.
const REGISTRY: Pid = Pid(1);

/// An event's footprint under the dependence relation: the core's accesses
/// plus those the enabled properties add.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFootprint {
    pub accesses: Vec<Access>,
    /// Dependent with every event (a timer, or a custom property).
    pub global: bool,
    /// For a delivery: its queue and the signal's send number.
    pub delivered: Option<(Resource, u64)>,
    /// It started a timer.
    pub starts_timer: bool,
    /// A timer fired in it.
    pub fires_timer: bool,
}

impl EventFootprint {
    /// Whether the two events do not commute: their accesses conflict, or
    /// both start a timer (timers with one deadline fire in creation order).
    pub fn dependent(&self, other: &EventFootprint) -> bool {
        self.conflicts(other, true)
    }

    /// [`EventFootprint::dependent`], where two timer starts count only
    /// with `timer_order` (in a run where a timer fires: the order of two
    /// timers started is seen only by a timer firing, and a firing is
    /// ordered after everything before it and before everything after it).
    fn conflicts(&self, other: &EventFootprint, timer_order: bool) -> bool {
        self.global
            || other.global
            || (timer_order && self.starts_timer && other.starts_timer)
            || self
                .accesses
                .iter()
                .any(|a| other.accesses.iter().any(|b| a.conflicts(b)))
    }
}

/// A set of resource ids (bit `i`: the walk's resource `i`).
type Ids = u64;

/// Resource ids from 0 up to this one fit a [`Summary`]'s sets.
const IDS: u32 = Ids::BITS;

/// The resources an event accessed, by mode, as sets of the walk's dense
/// resource ids: [`Summary::clash`] is then a few word operations where
/// [`Access::conflicts`] over two access lists is a nested scan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Modes {
    read: Ids,
    write: Ids,
    update: Ids,
    read_exits: Ids,
    push: Ids,
    pop: Ids,
    /// Resources with an exit signal pushed or popped.
    exit_signal: Ids,
}

impl Modes {
    fn add(&mut self, bit: Ids, mode: Mode) {
        match mode {
            Mode::Read => self.read |= bit,
            Mode::Write => self.write |= bit,
            Mode::Update => self.update |= bit,
            Mode::ReadExits => self.read_exits |= bit,
            Mode::Push { exit, .. } => {
                self.push |= bit;
                if exit {
                    self.exit_signal |= bit;
                }
            }
            Mode::Pop { exit, .. } => {
                self.pop |= bit;
                if exit {
                    self.exit_signal |= bit;
                }
            }
        }
    }

    fn any(&self) -> Ids {
        self.read | self.write | self.update | self.read_exits | self.push | self.pop
    }

    /// The resources on which some pair of accesses conflicts whatever the
    /// signals (the cases of [`Access::conflicts`] but a push and a pop).
    fn clash(&self, other: &Modes) -> Ids {
        let (a, b) = (self, other);
        (a.write & b.any())
            | (b.write & a.any())
            | (a.read & (b.update | b.push | b.pop))
            | (b.read & (a.update | a.push | a.pop))
            | (a.update & (b.read_exits | b.push | b.pop))
            | (b.update & (a.read_exits | a.push | a.pop))
            | (a.read_exits & b.exit_signal)
            | (b.read_exits & a.exit_signal)
            | (a.push & b.push)
            | (a.pop & b.pop)
    }

    /// The resources one pushes to and the other pops from: they conflict
    /// only if it is one signal.
    fn push_pop(&self, other: &Modes) -> Ids {
        (self.push & other.pop) | (self.pop & other.push)
    }
}

/// An [`EventFootprint`] in the walk's resource ids, for the search's hot
/// loop; [`Summary::conflicts`] answers as [`EventFootprint::conflicts`]
/// does, or defers to it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Summary {
    modes: Modes,
    /// The modes of every `Role` or `AllRoles` access, in bit 0 (`AllRoles`
    /// is the same resource as every role).
    roles: Modes,
    /// The modes of the `AllRoles` accesses, in bit 0.
    all_roles: Modes,
    global: bool,
    starts_timer: bool,
    /// Some resource's id does not fit: decide from the access lists.
    wide: bool,
}

impl Summary {
    /// `Some(answer)` of [`EventFootprint::conflicts`], or `None` when only
    /// the access lists can tell (a push and a pop of one queue, ids that
    /// do not fit).
    fn conflicts(&self, other: &Summary, timer_order: bool) -> Option<bool> {
        if self.global || other.global || (timer_order && self.starts_timer && other.starts_timer) {
            return Some(true);
        }
        if self.wide || other.wide {
            return None;
        }
        if self.modes.clash(&other.modes) != 0
            || self.all_roles.clash(&other.roles) != 0
            || other.all_roles.clash(&self.roles) != 0
        {
            return Some(true);
        }
        if self.modes.push_pop(&other.modes) != 0
            || self.all_roles.push_pop(&other.roles) != 0
            || other.all_roles.push_pop(&self.roles) != 0
        {
            return None;
        }
        Some(false)
    }
}

/// FNV-1a over what a [`Resource`] hashes: a fixed function, so the
/// interner's cache is the same in every run.
#[derive(Clone, Copy, Debug)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Slots of the interner's cache.
const CACHED: usize = 256;

/// Dense ids for the resources of one search, in order of first use.
#[derive(Clone, Debug)]
struct Interner {
    ids: BTreeMap<Resource, u32>,
    /// Recent look-ups by hash: a hit saves the tree walk (a search meets
    /// a few dozen resources, each thousands of times).
    cache: Vec<Option<(Resource, u32)>>,
}

impl Default for Interner {
    fn default() -> Interner {
        Interner {
            ids: BTreeMap::new(),
            cache: vec![None; CACHED],
        }
    }
}

impl Interner {
    fn id(&mut self, resource: Resource) -> u32 {
        let mut hasher = Fnv::default();
        resource.hash(&mut hasher);
        let slot = hasher.finish() as usize % CACHED;
        match self.cache[slot] {
            Some((cached, id)) if cached == resource => id,
            _ => {
                let next = self.ids.len() as u32;
                let id = *self.ids.entry(resource).or_insert(next);
                self.cache[slot] = Some((resource, id));
                id
            }
        }
    }

    fn summarise(&mut self, fp: &EventFootprint) -> Summary {
        let mut summary = Summary {
            global: fp.global,
            starts_timer: fp.starts_timer,
            ..Summary::default()
        };
        for access in &fp.accesses {
            let id = self.id(access.resource);
            if id >= IDS {
                summary.wide = true;
            } else {
                summary.modes.add(1 << id, access.mode);
            }
            match access.resource {
                Resource::Role(_) => summary.roles.add(1, access.mode),
                Resource::AllRoles => {
                    summary.roles.add(1, access.mode);
                    summary.all_roles.add(1, access.mode);
                }
                _ => {}
            }
        }
        summary
    }
}

/// Whether two events of the walk conflict ([`EventFootprint::conflicts`]),
/// from their summaries when they can tell.
fn conflict(
    (a, a_sum): (&EventFootprint, &Summary),
    (b, b_sum): (&EventFootprint, &Summary),
    timer_order: bool,
) -> bool {
    a_sum
        .conflicts(b_sum, timer_order)
        .unwrap_or_else(|| a.conflicts(b, timer_order))
}

/// Which property-4 objects an operation concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Objects {
    /// Not an operation of the history.
    None,
    One(Resource),
    /// Every object (the model's partition says `None`).
    All,
}

/// The dependence relation for one case under one check configuration: it
/// turns the footprint the core recorded for an event into the event's
/// [`EventFootprint`] (see the module documentation).
#[derive(Clone, Debug)]
pub struct Dependence {
    quiescence_checked: bool,
    licence_checked: bool,
    history_checked: bool,
    custom: bool,
    /// (client id, command id) of the commands that license the
    /// registry's death.
    licensing: BTreeSet<(u32, u32)>,
    /// Each command's objects in property 4's history.
    commands: BTreeMap<(u32, u32), Objects>,
    /// The history resource of each object, by name.
    objects: BTreeMap<String, Resource>,
}

/// Property 4's history of one object (a bucket name), as a resource.
fn history_of(object: &str) -> Resource {
    // The top bit keeps history resources apart from the licence; two
    // names whose hashes collide are only made dependent.
    let hash = crate::sim::footprint::role_hash(object);
    Resource::Checker(0x8000_0000 | (hash as u32 & 0x7fff_ffff))
}

impl Dependence {
    /// The relation the search explores: property 4's history left out
    /// (it is checked over every real-time order of each explored run
    /// instead, [`real_time`]), everything else as [`Dependence::new`].
    pub fn searched(case: &Case, check: &CheckConfig) -> Dependence {
        Dependence {
            history_checked: false,
            ..Dependence::new(case, check)
        }
    }

    /// The full relation, property 4's history included when it is
    /// checked: the one under which a counterexample's causal past is
    /// taken, so that the past alone replays the violation.
    pub fn new(case: &Case, check: &CheckConfig) -> Dependence {
        let mut licensing = BTreeSet::new();
        let mut commands = BTreeMap::new();
        let mut objects = BTreeMap::new();
        for client in &case.clients {
            for (cmd, command) in &client.commands {
                if matches!(
                    command,
                    Command::Stop {
                        target: Target::Registry
                    } | Command::Crash {
                        target: Target::Registry,
                        ..
                    } | Command::Kill {
                        target: Target::Registry
                    }
                ) {
                    licensing.insert((client.id, *cmd));
                }
                let touched = match model_op(command) {
                    None => Objects::None,
                    Some(op) => match check.model.partition(&op) {
                        Some(name) => {
                            let resource = history_of(&name);
                            objects.insert(name, resource);
                            Objects::One(resource)
                        }
                        None => Objects::All,
                    },
                };
                commands.insert((client.id, *cmd), touched);
            }
        }
        for fault in &case.faults {
            if let KvFault::KillBucket(name) | KvFault::CrashBucket(name) = &fault.fault {
                objects.insert(name.clone(), history_of(name));
            }
        }
        let properties = &check.properties;
        Dependence {
            quiescence_checked: properties.contains(P2_NAMES_MATCH_BUCKETS),
            licence_checked: properties.contains(P3_REGISTRY_DIES_ONLY_WHEN_TOLD),
            history_checked: properties.contains(P4_LINEARIZABLE),
            custom: properties.custom_count() > 0,
            licensing,
            commands,
            objects,
        }
    }

    /// The event's footprint under this relation. `origin` is the client
    /// and command that the event's key starts from, if it starts from a
    /// client's command; `pending` gives each client's command in flight
    /// (the last it started) at the state the event ran from.
    pub fn footprint(
        &self,
        raw: &Footprint,
        origin: Option<(u32, u32)>,
        pending: &BTreeMap<u32, u32>,
    ) -> EventFootprint {
        let mut accesses = raw.accesses.clone();
        let mut add = |access: Access| {
            if !accesses.contains(&access) {
                accesses.push(access);
            }
        };
        if self.history_checked {
            // Invocations read an object's history, answers update it (two
            // invocations, or two answers, commute: real-time order is
            // between an answer and a later invocation), deaths write it.
            let mut touched: Vec<Access> = Vec::new();
            let mut of_command = |command: Option<(u32, u32)>, mode: Mode| {
                let objects = command.and_then(|c| self.commands.get(&c));
                let resources: Vec<Resource> = match objects {
                    Some(Objects::None) => Vec::new(),
                    Some(Objects::One(resource)) => vec![*resource],
                    Some(Objects::All) | None => self.objects.values().copied().collect(),
                };
                touched.extend(
                    resources
                        .into_iter()
                        .map(|resource| Access { resource, mode }),
                );
            };
            if let Some(acted) = raw.acted {
                of_command(Some(acted), Mode::Read);
            }
            for &client in &raw.clients {
                if raw.acted.is_some_and(|(acting, _)| acting == client) {
                    continue;
                }
                // A client's handler runs (outside its own action) only for
                // what answers its command in flight.
                of_command(pending.get(&client).map(|&cmd| (client, cmd)), Mode::Update);
            }
            if raw.labels.iter().any(|label| label == "create") {
                of_command(origin, Mode::Update);
            }
            for role in raw.deaths.iter().flatten() {
                if role == "registry" {
                    touched.extend(self.objects.values().map(|&r| Access::write(r)));
                } else if let Some(name) = role.strip_prefix("bucket:") {
                    touched.push(Access::write(history_of(name)));
                }
            }
            for access in touched {
                add(access);
            }
        }
        if self.licence_checked {
            if raw
                .acted
                .is_some_and(|acted| self.licensing.contains(&acted))
            {
                add(Access::write(LICENCE));
            }
            if raw.deaths.iter().flatten().any(|role| role == "registry") {
                add(Access::read(LICENCE));
            }
        }
        if self.quiescence_checked && raw.quiet_after {
            add(Access::read(Resource::Quiet));
            add(Access::read(Resource::Proc(REGISTRY)));
            add(Access::read(Resource::AllRoles));
        }
        EventFootprint {
            accesses,
            global: raw.global || self.custom,
            delivered: raw
                .delivered
                .map(|(from, to, send_no)| (Resource::Queue(from, to), send_no)),
            starts_timer: raw.accesses.iter().any(|a| a.resource == Resource::Timers),
            fires_timer: raw.global,
        }
    }
}

/// A set of event positions in one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    fn insert(&mut self, at: usize) {
        let word = at / 64;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (at % 64);
    }

    fn contains(&self, at: usize) -> bool {
        self.0
            .get(at / 64)
            .is_some_and(|w| w & (1 << (at % 64)) != 0)
    }

    fn union(&mut self, other: &Bits) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine |= theirs;
        }
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(word, &bits)| {
            (0..64)
                .filter(move |bit| bits & (1 << bit) != 0)
                .map(move |bit| word * 64 + bit)
        })
    }
}

/// An event asleep at a state: explored from an ancestor, commuting with
/// everything since.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sleeper {
    key: KeyId,
    /// Shared with the node it was explored from.
    fp: Arc<EventFootprint>,
    sum: Summary,
}

/// One state of the explored sequence and the event run from it.
#[derive(Clone, Debug)]
struct Node {
    /// The enabled events, in `fifo` order.
    enabled: Vec<KeyId>,
    taken: KeyId,
    /// The client command `taken`'s key starts from, if any.
    origin: Option<(u32, u32)>,
    /// The client command `taken` started, if it is a client's action.
    acted: Option<(u32, u32)>,
    fp: Arc<EventFootprint>,
    /// `fp` in the walk's resource ids.
    sum: Summary,
    /// Whether `fp` is the footprint of `taken` in this run.
    fp_known: bool,
    /// The earlier events that happen before `taken`.
    past: Bits,
    backtrack: Vec<KeyId>,
    /// Events explored from here, with their footprints.
    done: Vec<Sleeper>,
    /// The sleep set on arrival.
    sleep: Vec<Sleeper>,
}

/// A subtree of the search: a fixed schedule prefix and the sleep set at
/// its end. Made by [`split`] (or [`Root::whole`]); searched by [`search`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    pub prefix: Vec<EventKey>,
    pub sleep: Vec<EventKey>,
    /// The prefix's events as interned in a run of the same case (runs
    /// with equal prefixes intern equally), when known.
    ids: Option<Vec<KeyId>>,
    sleepers: Vec<Sleeper>,
}

impl Root {
    /// The whole search: no prefix, nothing asleep.
    pub fn whole() -> Root {
        Root::plain(Vec::new())
    }

    /// A root with an empty sleep set: the plain search's, or any prefix.
    pub fn plain(prefix: Vec<EventKey>) -> Root {
        Root {
            ids: prefix.is_empty().then(Vec::new),
            prefix,
            sleep: Vec::new(),
            sleepers: Vec::new(),
        }
    }
}

impl Default for Root {
    fn default() -> Root {
        Root::whole()
    }
}

/// What one search explored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DporStats {
    /// Schedules run to their end (or to the step bound).
    pub schedules: u64,
    /// Runs abandoned because every enabled event was asleep.
    pub sleep_blocked: u64,
    /// Events executed over all runs, abandoned ones included.
    pub events: u64,
    /// The most events in one run.
    pub max_depth: u64,
}

/// The smallest counterexample seen: a violating event and its causal past.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub property: Property,
    /// The violating event's causal past in the order it ran, itself last:
    /// as an override list it replays the violation at event
    /// `causal_past`.
    pub schedule: Vec<EventKey>,
    /// Events in the violating event's causal past, itself included.
    pub causal_past: u64,
    /// The keys of that past, sorted: ties between pasts of one size.
    pub tiebreak: Vec<EventKey>,
}

impl Violation {
    /// The violation of `property` whose causal past is `past` (positions
    /// in the run, in the order they ran, the violating event last) in a
    /// run that took `taken`.
    fn of_past(property: Property, past: &[usize], taken: &[EventKey]) -> Violation {
        let schedule: Vec<EventKey> = past.iter().map(|&k| taken[k].clone()).collect();
        let mut tiebreak = schedule.clone();
        tiebreak.sort();
        Violation {
            property,
            causal_past: past.len() as u64,
            schedule,
            tiebreak,
        }
    }

    /// The order of "shorter": causal past, then the tiebreak.
    pub fn rank(&self) -> (u64, &[EventKey]) {
        (self.causal_past, &self.tiebreak)
    }

    /// Whether `self` is preferred to `other`: by [`Violation::rank`], then
    /// the schedule, then the property, so that one search's choice does
    /// not depend on the order it meets them.
    pub fn better_than(&self, other: &Violation) -> bool {
        (self.rank(), &self.schedule, self.property)
            < (other.rank(), &other.schedule, other.property)
    }
}

/// What [`search`] found below one root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DporResult {
    pub stats: DporStats,
    /// Every outcome of the explored schedules (blocked runs left out),
    /// with the first schedule that reached it, as the oracle gives them.
    pub outcomes: BTreeMap<RunOutcome, Witness>,
    pub shortest: Option<Violation>,
    /// Explored schedules whose property 4 was undecided.
    pub undecided: u64,
    /// Explored schedules that hit the step bound.
    pub cut: u64,
}

impl DporResult {
    /// Counts one explored schedule (not one a sleep set blocked): its
    /// undecided property 4 and its outcome, the first schedule to reach an
    /// outcome kept as its witness. Events, depth and cuts are the
    /// caller's, each engine counting them its own way.
    pub fn record(&mut self, run: &CaseRun) {
        self.stats.schedules += 1;
        if run.undecided.is_some() {
            self.undecided += 1;
        }
        self.outcomes
            .entry(RunOutcome::of(run))
            .and_modify(|witness| witness.runs += 1)
            .or_insert_with(|| Witness {
                runs: 1,
                schedule: run.schedule_taken.clone(),
            });
    }
}

/// Keeps `violation` in `shortest` if it is
/// [better](Violation::better_than) than the one kept (a function of the
/// field alone, so that it can run while the outcomes are borrowed).
fn offer(shortest: &mut Option<Violation>, violation: Violation) {
    if shortest
        .as_ref()
        .is_none_or(|best| violation.better_than(best))
    {
        *shortest = Some(violation);
    }
}

/// The explored sequence and everything the search keeps per state.
struct Walk {
    nodes: Vec<Node>,
    /// Nodes before this depth are replayed as they stand.
    replay: usize,
    root_len: usize,
    root_keys: Vec<EventKey>,
    root_ids: Option<Vec<KeyId>>,
    root_sleep: Vec<Sleeper>,
    /// Depths below this branch over every enabled event ([`split`]).
    full_below: usize,
    /// Stop each run when asked for the event at this depth ([`split`]).
    halt_at: Option<usize>,
    /// The sleep set at `halt_at`, when a run reached it, with its keys.
    halted_sleep: Option<(Vec<Sleeper>, Vec<EventKey>)>,
    log: Rc<RefCell<Footprints>>,
    relation: Dependence,
    blocked: bool,
    /// The enabled events at the last choice of the run, and its depth.
    last_enabled: (usize, Vec<KeyId>),
    /// Whether the nodes' `past` counts timer starts as dependent (it does
    /// in a run where a timer fires).
    timer_order: bool,
    /// The ids of the resources in the summaries.
    interner: Interner,
    /// The races of the event being placed (scratch).
    direct: Vec<usize>,
}

impl Walk {
    fn new(relation: Dependence, root: &Root, full_below: usize, halt_at: Option<usize>) -> Walk {
        // The root's summaries are in the ids of the walk that split it.
        let mut interner = Interner::default();
        let root_sleep = root
            .sleepers
            .iter()
            .map(|s| Sleeper {
                key: s.key,
                sum: interner.summarise(&s.fp),
                fp: Arc::clone(&s.fp),
            })
            .collect();
        Walk {
            nodes: Vec::new(),
            replay: 0,
            root_len: root.prefix.len(),
            root_keys: root.prefix.clone(),
            root_ids: root.ids.clone(),
            root_sleep,
            full_below,
            halt_at,
            halted_sleep: None,
            log: Rc::new(RefCell::new(Footprints::default())),
            relation,
            blocked: false,
            last_enabled: (0, Vec::new()),
            timer_order: false,
            interner,
            direct: Vec::new(),
        }
    }

    /// Makes `nodes[depth].fp` the footprint its event had in this run.
    fn know(&mut self, depth: usize) {
        if self.nodes.get(depth).is_none_or(|node| node.fp_known) {
            return;
        }
        let log = self.log.borrow();
        let Some(raw) = log.steps().get(depth) else {
            return;
        };
        let mut pending = BTreeMap::new();
        // Only property 4's history reads the commands in flight.
        if self.relation.history_checked {
            for node in &self.nodes[..depth] {
                if let Some((client, cmd)) = node.acted {
                    pending.insert(client, cmd);
                }
            }
        }
        let node = &mut self.nodes[depth];
        node.fp = Arc::new(self.relation.footprint(raw, node.origin, &pending));
        node.sum = self.interner.summarise(&node.fp);
        node.acted = raw.acted;
        node.fp_known = true;
    }

    /// The sleep set on arrival at `depth`, the nodes above it known.
    fn sleep_at(&self, depth: usize) -> Vec<Sleeper> {
        if depth < self.root_len {
            return Vec::new();
        }
        if depth == self.root_len {
            return self.root_sleep.clone();
        }
        let parent = &self.nodes[depth - 1];
        parent
            .sleep
            .iter()
            .chain(&parent.done)
            .filter(|s| {
                s.key != parent.taken && !conflict((&s.fp, &s.sum), (&parent.fp, &parent.sum), true)
            })
            .cloned()
            .collect()
    }

    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        let depth = choice.step as usize;
        if depth > 0 {
            self.know(depth - 1);
        }
        if self.halt_at == Some(depth) {
            let sleep = self.sleep_at(depth);
            let keys = sleep.iter().map(|s| choice.keys.key(s.key)).collect();
            self.halted_sleep = Some((sleep, keys));
            return HALT;
        }
        let position = |key: KeyId| choice.candidates.iter().position(|c| c.key == key);
        if depth < self.replay {
            let key = self.nodes[depth].taken;
            let index = position(key).unwrap_or_else(|| {
                panic!("the replay of a schedule met other events at depth {depth}: the run is not deterministic")
            });
            self.nodes[depth].origin = origin(choice, key);
            return index;
        }
        let enabled: Vec<KeyId> = choice.candidates.iter().map(|c| c.key).collect();
        self.last_enabled.0 = depth;
        self.last_enabled.1.clone_from(&enabled);
        if depth < self.root_len {
            let index = match &self.root_ids {
                Some(ids) => position(ids[depth]),
                None => {
                    let want = &self.root_keys[depth];
                    choice
                        .candidates
                        .iter()
                        .position(|c| choice.keys.key(c.key) == *want)
                }
            };
            let index = index.unwrap_or_else(|| {
                panic!(
                    "the root's event {} is not enabled at depth {depth}: the root was split from another case",
                    self.root_keys[depth]
                )
            });
            self.nodes.push(Node {
                taken: enabled[index],
                origin: None,
                acted: None,
                enabled,
                fp: Arc::default(),
                sum: Summary::default(),
                fp_known: false,
                past: Bits::default(),
                backtrack: Vec::new(),
                done: Vec::new(),
                sleep: Vec::new(),
            });
            self.nodes[depth].origin = origin(choice, enabled_key(choice, index));
            return index;
        }
        let sleep = self.sleep_at(depth);
        let Some(index) = enabled
            .iter()
            .position(|&key| !sleep.iter().any(|s| s.key == key))
        else {
            self.blocked = true;
            return HALT;
        };
        let backtrack = if depth < self.full_below {
            enabled.clone()
        } else {
            vec![enabled[index]]
        };
        self.nodes.push(Node {
            taken: enabled[index],
            origin: None,
            acted: None,
            enabled,
            fp: Arc::default(),
            sum: Summary::default(),
            fp_known: false,
            past: Bits::default(),
            backtrack,
            done: Vec::new(),
            sleep,
        });
        self.nodes[depth].origin = origin(choice, enabled_key(choice, index));
        index
    }

    /// After a run of `steps` events: footprints, happens-before, and (when
    /// `races`) the backtrack points its races call for.
    fn after_run(&mut self, steps: usize, races: bool) {
        // A node made for a choice whose event never ran (the step bound).
        self.nodes.truncate(steps);
        if self.root_ids.is_none() && self.nodes.len() >= self.root_len {
            self.root_ids = Some(
                self.nodes[..self.root_len]
                    .iter()
                    .map(|n| n.taken)
                    .collect(),
            );
        }
        let mut first_new = self.replay.saturating_sub(1).min(self.nodes.len());
        for depth in first_new..self.nodes.len() {
            self.know(depth);
        }
        let timer_order = self.nodes.iter().any(|n| n.fp.fires_timer);
        if timer_order != self.timer_order {
            // The replayed prefix's order was computed under the other
            // relation: compute it again, and its races.
            self.timer_order = timer_order;
            first_new = 0;
        }
        for depth in first_new..self.nodes.len() {
            // Latest first: an event already in the past through a later
            // one adds nothing, and is no race (not "nothing in between").
            let mut past = Bits::default();
            let mut direct = std::mem::take(&mut self.direct);
            direct.clear();
            let later = &self.nodes[depth];
            for earlier in (0..depth).rev() {
                if past.contains(earlier) {
                    continue;
                }
                let node = &self.nodes[earlier];
                if conflict((&node.fp, &node.sum), (&later.fp, &later.sum), timer_order) {
                    past.insert(earlier);
                    past.union(&node.past);
                    direct.push(earlier);
                }
            }
            self.nodes[depth].past = past;
            if races {
                // Races only move backtrack points, which no past reads.
                direct.reverse();
                self.races_of(depth, &direct);
            }
            self.direct = direct;
        }
        if races {
            self.disabled_from(first_new, steps);
        }
    }

    /// An event that a step disables never runs after it, so no race names
    /// it: it is tried before that step instead (the step and it conflict).
    fn disabled_from(&mut self, first_new: usize, steps: usize) {
        let tail: &[KeyId] = match &self.last_enabled {
            (depth, enabled) if *depth == steps => enabled,
            _ => &[],
        };
        for depth in first_new.max(self.root_len)..self.nodes.len() {
            let (upto, rest) = self.nodes.split_at_mut(depth + 1);
            let after = rest.first().map_or(tail, |next| &next.enabled);
            let node = &mut upto[depth];
            // The enabled keys are distinct: adding one changes no other's test.
            for i in 0..node.enabled.len() {
                let key = node.enabled[i];
                if key != node.taken
                    && !after.contains(&key)
                    && !node.backtrack.contains(&key)
                    && !node.sleep.iter().any(|s| s.key == key)
                {
                    node.backtrack.push(key);
                }
            }
        }
    }

    /// Adds the backtrack points for every race of the event at `later`:
    /// `direct` holds, in order, the earlier events it conflicts with that
    /// no other such event is ordered after.
    fn races_of(&mut self, later: usize, direct: &[usize]) {
        for &j in direct {
            if j < self.root_len || !self.reversible(j, later) {
                continue;
            }
            let v: Vec<usize> = (j + 1..later)
                .filter(|&k| !self.nodes[k].past.contains(j))
                .chain(std::iter::once(later))
                .collect();
            let initials: Vec<usize> = v
                .iter()
                .copied()
                .filter(|&k| !v.iter().any(|&o| o < k && self.nodes[k].past.contains(o)))
                .collect();
            let node = &self.nodes[j];
            if initials
                .iter()
                .any(|&k| node.backtrack.contains(&self.nodes[k].taken))
            {
                continue;
            }
            let usable = |k: &usize| {
                let key = self.nodes[*k].taken;
                node.enabled.contains(&key) && !node.sleep.iter().any(|s| s.key == key)
            };
            let pick = initials
                .iter()
                .rev()
                .find(|&&k| k == later && usable(&k))
                .or_else(|| initials.iter().find(|k| usable(k)))
                .map(|&k| self.nodes[k].taken);
            if let Some(key) = pick {
                self.nodes[j].backtrack.push(key);
            }
        }
    }

    /// Whether the event at `later` could run before the one at `earlier`:
    /// not when it pops the signal `earlier` pushed, pops the same queue
    /// (FIFO), or was enabled by `earlier` itself.
    fn reversible(&self, earlier: usize, later: usize) -> bool {
        let (e, l) = (&self.nodes[earlier], &self.nodes[later]);
        if let Some((queue, signal)) = l.fp.delivered {
            if e.fp.delivered.is_some_and(|(other, _)| other == queue) {
                return false;
            }
            let pushed = e.fp.accesses.iter().any(|a| {
                a.resource == queue
                    && matches!(a.mode, Mode::Push { send_no, .. } if send_no == signal)
            });
            if pushed {
                return false;
            }
        }
        let key = l.taken;
        let enabled_before = e.enabled.contains(&key);
        let enabled_after = self
            .nodes
            .get(earlier + 1)
            .is_some_and(|next| next.enabled.contains(&key));
        enabled_before || !enabled_after
    }

    /// Moves to the next schedule: the deepest state with a backtrack event
    /// neither explored nor asleep. `false` when the subtree is exhausted.
    fn next(&mut self) -> bool {
        while let Some(depth) = self.nodes.len().checked_sub(1) {
            if depth < self.root_len {
                return false;
            }
            let node = &self.nodes[depth];
            let pick = node.backtrack.iter().copied().find(|&key| {
                key != node.taken
                    && !node.done.iter().any(|s| s.key == key)
                    && !node.sleep.iter().any(|s| s.key == key)
            });
            match pick {
                Some(key) => {
                    let node = &mut self.nodes[depth];
                    let explored = Sleeper {
                        key: node.taken,
                        fp: Arc::clone(&node.fp),
                        sum: node.sum,
                    };
                    node.done.push(explored);
                    node.taken = key;
                    node.fp_known = false;
                    self.replay = depth + 1;
                    return true;
                }
                None => {
                    self.nodes.pop();
                }
            }
        }
        false
    }

    /// The positions in the causal past of the event at `at`, itself last.
    fn causal_past(&self, at: usize) -> Vec<usize> {
        let mut past: Vec<usize> = self.nodes[at].past.iter().collect();
        past.push(at);
        past
    }
}

/// The client command a key starts from, if it starts from one.
fn origin(choice: &Choice<'_>, key: KeyId) -> Option<(u32, u32)> {
    match choice.keys.root_of(key)? {
        KeyRoot::Client { client, cmd } => Some((*client, *cmd)),
        _ => None,
    }
}

fn enabled_key(choice: &Choice<'_>, index: usize) -> KeyId {
    choice.candidates[index].key
}

/// The choice source of one run: asks the walk.
struct Explorer {
    walk: Rc<RefCell<Walk>>,
}

impl ChoiceSource for Explorer {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        self.walk.borrow_mut().choose(choice)
    }

    fn footprints(&mut self) -> Option<Rc<RefCell<Footprints>>> {
        Some(Rc::clone(&self.walk.borrow().log))
    }
}

/// Runs the case once under the walk.
fn run_once(
    case: &Case,
    registry: &RegistryFactory<'_>,
    check: &CheckConfig,
    walk: &Rc<RefCell<Walk>>,
    online: Option<&mut OnlinePrefix>,
) -> CaseRun {
    let known = {
        let mut w = walk.borrow_mut();
        // The nodes before the branch point keep their footprints.
        let known = w.replay.saturating_sub(1);
        let mut log = w.log.borrow_mut();
        log.clear();
        log.record_from(known);
        drop(log);
        w.blocked = false;
        w.last_enabled.0 = 0;
        w.last_enabled.1.clear();
        w.halted_sleep = None;
        known
    };
    let chooser = Box::new(Explorer {
        walk: Rc::clone(walk),
    });
    match online {
        Some(online) => {
            // The run takes the last one's first `known` events.
            online.replays(known);
            run_case_resuming(case, registry, check, chooser, online)
        }
        None => run_case_with(case, registry, check, chooser),
    }
}

/// Property 4 over every real-time order the run's happens-before allows
/// ([`real_time`]): adds the outcomes of the orders that break it (or, when
/// the run as it went broke it, of an order that holds) and the violation
/// with the shortest breaking prefix found. Returns whether some order was
/// undecided.
///
/// If the run broke property 4 as it went but no order does, or the
/// schedule built for a breaking order does not break it when replayed (a
/// model for which more precedence does not only constrain more would do
/// that), the run's own schedule stands as the violation; if even that does
/// not replay to one, the run counts as undecided: never a pass, never a
/// panic.
fn real_time_orders(
    case: &Case,
    registry: &RegistryFactory<'_>,
    check: &CheckConfig,
    w: &Walk,
    run: &CaseRun,
    memo: &mut Memo,
    result: &mut DporResult,
) -> bool {
    let steps = w.nodes.len();
    let past: Vec<&Bits> = w.nodes.iter().map(|n| &n.past).collect();
    let quiet_end = run.outcome == Outcome::Quiescent;
    let model = &check.model;
    let states_max = check.linearizability_states_max;
    let orders = RealTime::check(&run.history, &past, quiet_end, model, states_max, memo);
    let went_broken = !run.holds(P4_LINEARIZABLE);
    let outcome = RunOutcome::of(run);
    let mut add = |outcome: RunOutcome, schedule: &[EventKey]| {
        result
            .outcomes
            .entry(outcome)
            .and_modify(|witness| witness.runs += 1)
            .or_insert_with(|| Witness {
                runs: 1,
                schedule: schedule.to_vec(),
            });
    };
    match orders.broken() {
        Some((order, object)) => {
            let positions = real_time::schedule_with(steps, &past, &order, object);
            let schedule: Vec<EventKey> = positions
                .iter()
                .map(|&p| run.schedule_taken[p].clone())
                .collect();
            let violation = full_past(case, registry, check, &schedule).or_else(|| {
                went_broken
                    .then(|| full_past(case, registry, check, &run.schedule_taken))
                    .flatten()
            });
            let Some(violation) = violation else {
                return true;
            };
            if !went_broken {
                let mut broken = outcome.clone();
                broken.broken.insert(P4_LINEARIZABLE);
                broken.p4_undecided = false;
                add(broken, &schedule);
            }
            offer(&mut result.shortest, violation);
        }
        None if went_broken => match full_past(case, registry, check, &run.schedule_taken) {
            Some(violation) => offer(&mut result.shortest, violation),
            None => return true,
        },
        None => {}
    }
    if went_broken
        && let Some(undecided) =
            RealTime::some_order_holds(&run.history, &past, quiet_end, model, states_max, memo)
    {
        let mut holds = outcome.clone();
        holds.broken.remove(&P4_LINEARIZABLE);
        holds.p4_undecided = undecided;
        add(holds, &run.schedule_taken);
    }
    orders.undecided()
}

/// Replays `schedule` (a whole run) and takes the causal past of its
/// property-4 violation under the full relation ([`Dependence::new`]);
/// `None` if the replay does not break property 4.
fn full_past(
    case: &Case,
    registry: &RegistryFactory<'_>,
    check: &CheckConfig,
    schedule: &[EventKey],
) -> Option<Violation> {
    let relation = Dependence::new(case, check);
    let root = Root::plain(schedule.to_vec());
    let walk = Rc::new(RefCell::new(Walk::new(relation, &root, 0, None)));
    let run = run_once(case, registry, check, &walk, None);
    let mut w = walk.borrow_mut();
    w.after_run(run.steps as usize, false);
    let failure = run
        .failures
        .iter()
        .find(|f| f.property == P4_LINEARIZABLE)?;
    let at = (failure.step as usize).saturating_sub(1);
    Some(Violation::of_past(
        P4_LINEARIZABLE,
        &w.causal_past(at),
        &run.schedule_taken,
    ))
}

/// Splits the reduced search of `case` into subtrees: every schedule
/// prefix of `depth` events (shorter where a run ends first) that sleep
/// sets do not prune, in search order (enabled events in `fifo` order at
/// each depth), each with the sleep set at its end derived from the order
/// of the prefixes before it. Deterministic; the union of the subtrees
/// ([`search`] on each) is the whole search, whoever searches which.
pub fn split(
    case: &Case,
    registry: &RegistryFactory<'_>,
    check: &CheckConfig,
    depth: usize,
) -> Vec<Root> {
    if depth == 0 {
        return vec![Root::whole()];
    }
    let check = CheckConfig {
        tracing: false,
        ..check.clone()
    };
    let relation = Dependence::searched(case, &check);
    let walk = Rc::new(RefCell::new(Walk::new(
        relation,
        &Root::whole(),
        depth,
        Some(depth),
    )));
    let mut roots = Vec::new();
    loop {
        let run = run_once(case, registry, &check, &walk, None);
        let mut w = walk.borrow_mut();
        w.after_run(run.steps as usize, false);
        if !w.blocked {
            let len = w.nodes.len();
            let (sleepers, sleep) = w.halted_sleep.take().unwrap_or_default();
            roots.push(Root {
                prefix: run.schedule_taken[..len].to_vec(),
                sleep,
                ids: Some(w.nodes.iter().map(|n| n.taken).collect()),
                sleepers,
            });
        }
        if !w.next() {
            break;
        }
    }
    roots
}

/// Explores every schedule of `case` (with its fault plan; its own schedule
/// is ignored) below `root`, up to the equivalence the dependence relation
/// defines, checking each run as `check` says (it is never traced).
///
/// # Panics
///
/// If `root` was split from another case, or a replayed run diverges (the
/// registry is not a deterministic function of its inputs).
pub fn search(
    case: &Case,
    registry: &RegistryFactory<'_>,
    check: &CheckConfig,
    root: &Root,
) -> DporResult {
    search_with(case, registry, check, root, &mut OrdersMemo::default())
}

/// Property 4's verdicts over real-time orders, by the shape of an
/// object's events (its operations, their results and their
/// happens-before): a pure function of the shape, the model and the
/// linearizability bound, so one memo serves every search that a thread
/// runs with one [`CheckConfig`], whatever the case or root. Grows with
/// the distinct shapes met.
#[derive(Default)]
pub struct OrdersMemo(Memo);

/// [`search`], with property 4's verdicts over real-time orders looked up
/// in and added to `memo` (which must only have served searches with the
/// same model and `linearizability_states_max`).
///
/// # Panics
///
/// As [`search`].
pub fn search_with(
    case: &Case,
    registry: &RegistryFactory<'_>,
    check: &CheckConfig,
    root: &Root,
    memo: &mut OrdersMemo,
) -> DporResult {
    let memo = &mut memo.0;
    let check = CheckConfig {
        tracing: false,
        ..check.clone()
    };
    let relation = Dependence::searched(case, &check);
    let over_hb = check.properties.contains(P4_LINEARIZABLE);
    let walk = Rc::new(RefCell::new(Walk::new(relation, root, 0, None)));
    let mut result = DporResult::default();
    let mut online = OnlinePrefix::default();
    loop {
        let run = run_once(case, registry, &check, &walk, Some(&mut online));
        let mut w = walk.borrow_mut();
        w.after_run(run.steps as usize, true);
        result.stats.events += run.steps;
        result.stats.max_depth = result.stats.max_depth.max(run.steps);
        for failure in &run.failures {
            if over_hb && failure.property == P4_LINEARIZABLE {
                // Its causal past is taken under the full relation below.
                continue;
            }
            let Some(at) = (failure.step as usize).checked_sub(1) else {
                continue;
            };
            if at >= w.nodes.len() {
                continue;
            }
            offer(
                &mut result.shortest,
                Violation::of_past(failure.property, &w.causal_past(at), &run.schedule_taken),
            );
        }
        if w.blocked {
            result.stats.sleep_blocked += 1;
        } else {
            result.record(&run);
            // A run some real-time order of which is undecided counts as
            // undecided, as the schedule of that order would.
            if over_hb
                && real_time_orders(case, registry, &check, &w, &run, memo, &mut result)
                && run.undecided.is_none()
            {
                result.undecided += 1;
            }
            // Any limit (steps or a queue's length) leaves the schedule
            // unfinished, so it can never count towards "verified".
            if matches!(run.outcome, Outcome::Limit { .. }) {
                result.cut += 1;
            }
        }
        if !w.next() {
            break;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Footprints drawn from `pool` by a fixed generator.
    fn footprints(pool: &[Access], count: usize) -> Vec<EventFootprint> {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..count)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let picks = state >> 11;
                EventFootprint {
                    accesses: pool
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| picks >> (i % 53) & 7 == 0)
                        .map(|(_, a)| *a)
                        .collect(),
                    starts_timer: picks >> 60 == 0,
                    global: picks >> 58 == 1,
                    ..EventFootprint::default()
                }
            })
            .collect()
    }

    fn queue_pool() -> Vec<Access> {
        let q = Resource::Queue(Pid(1), Pid(2));
        let r = Resource::Queue(Pid(2), Pid(1));
        let role = |name| Resource::Role(crate::sim::footprint::role_hash(name));
        let mut pool = Vec::new();
        for resource in [
            q,
            r,
            Resource::Quiet,
            role("a"),
            role("b"),
            Resource::AllRoles,
        ] {
            for mode in [
                Mode::Read,
                Mode::Write,
                Mode::Update,
                Mode::ReadExits,
                Mode::Push {
                    send_no: 1,
                    exit: false,
                },
                Mode::Push {
                    send_no: 2,
                    exit: true,
                },
                Mode::Pop {
                    send_no: 1,
                    exit: false,
                },
                Mode::Pop {
                    send_no: 2,
                    exit: true,
                },
                Mode::Pop {
                    send_no: 3,
                    exit: false,
                },
            ] {
                pool.push(Access { resource, mode });
            }
        }
        pool
    }

    #[test]
    fn summaries_answer_as_the_access_lists() {
        let mut pool = queue_pool();
        let fps = footprints(&pool, 300);
        // Enough resources that some ids do not fit a summary's sets.
        pool.extend((0..80).map(|n| Access::write(Resource::Checker(n))));
        let wide = footprints(&pool, 100);
        let mut interner = Interner::default();
        let all: Vec<(EventFootprint, Summary)> = fps
            .into_iter()
            .chain(wide)
            .map(|fp| {
                let sum = interner.summarise(&fp);
                (fp, sum)
            })
            .collect();
        let (mut dependent, mut independent) = (0, 0);
        for (a, a_sum) in &all {
            for (b, b_sum) in &all {
                for timer_order in [false, true] {
                    let exact = a.conflicts(b, timer_order);
                    assert_eq!(
                        conflict((a, a_sum), (b, b_sum), timer_order),
                        exact,
                        "{a:?} and {b:?}"
                    );
                    if exact {
                        dependent += 1;
                    } else {
                        independent += 1;
                    }
                }
            }
        }
        assert!(interner.ids.len() as u32 > IDS);
        assert!(
            dependent > 1000 && independent > 1000,
            "{dependent} {independent}"
        );
    }

    #[test]
    fn bits_hold_positions_past_one_word() {
        let mut a = Bits::default();
        a.insert(3);
        a.insert(70);
        let mut b = Bits::default();
        b.insert(64);
        b.union(&a);
        assert!(b.contains(3) && b.contains(64) && b.contains(70));
        assert!(!b.contains(4));
        assert_eq!(b.iter().collect::<Vec<_>>(), [3, 64, 70]);
    }
}
