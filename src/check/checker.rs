//! Runs one case and checks its properties online, each at the step where
//! it could first break (docs/design.md § Checking). Owns the history that
//! property 4 checks: client operations with their intervals, and deaths as
//! model events.

use crate::check::case::Case;
use crate::check::linearizability::{
    KvOp, KvResult, LinearizabilityModel, OnlineCheck, OpKey, Operation, PartitionViolation,
    UndecidedPartition,
};
use crate::check::property::{
    CustomProperty, P1_LOOKUP_IS_ALIVE, P2_NAMES_MATCH_BUCKETS, P3_REGISTRY_DIES_ONLY_WHEN_TOLD,
    P4_LINEARIZABLE, P5_ONE_BUCKET_PER_NAME, P6_NO_CALL_TIMES_OUT, Property, PropertySet,
};
use crate::check::schedule::Strategy;
use crate::check::slice::{Slice, SliceRoot};
use crate::kv::{Command, KvMsg, KvSystem, Msg, Registry, Target, dialogue_of};
use crate::otp::Envelope;
use crate::sim::choice::{Overrides, Pct, Pos, RandomWalk};
use crate::sim::{Causality, ChoiceSource, EventKey, Limits, Outcome, Pid, Tapped, Taps, Trace};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::rc::Rc;

/// What builds a fresh registry for each run: a built-in stage
/// (`&|| Stage::Fixed.registry()`) or a user's own. `Send + Sync` so that
/// threads running cases can share it; it is called once per run, so one
/// registry instance never serves two runs.
pub type RegistryFactory<'a> = dyn Fn() -> Box<dyn Registry> + Send + Sync + 'a;

/// How to check a case. `Send + Sync`, so that threads can share one.
#[derive(Clone, Debug)]
pub struct CheckConfig {
    pub properties: PropertySet,
    /// The sequential model property 4 checks histories against (the
    /// chapter's `KvModel` by default).
    pub model: LinearizabilityModel,
    /// Property 4's bound: configurations (model state, operations in
    /// flight linearized) it may hold for one object while it takes in one
    /// answer (with [`LinearizabilityCheck::Batch`]: distinct configurations
    /// one search of an object may explore) before it answers "undecided"
    /// ([`CaseRun::undecided`]) instead of pass or fail.
    pub linearizability_states_max: usize,
    /// How property 4 follows the history: online (the default) or by
    /// solving it again after every step (the online checker's oracle).
    pub linearizability: LinearizabilityCheck,
    /// Bounds on each run: [`Limits::default`] (100,000 steps, as `kvsim
    /// run` and `kvsim replay`; 100,000 signals on one queue).
    pub limits: Limits,
    pub tracing: bool,
    /// Keep checking after a property breaks, to the end of the run, so
    /// that [`CaseRun::failures`] holds every property that broke (the
    /// exhaustive oracle's verdicts). Off by default: a search wants the
    /// first failure and stops there.
    pub run_to_end: bool,
}

/// How property 4 checks the history as it grows. Both give the same
/// verdict at every step (`tests/linearizability_online.rs`,
/// `tests/property_checks.rs`) as long as neither reaches its bound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinearizabilityCheck {
    /// Lowe's just-in-time linearization per object
    /// ([`Online`](crate::check::linearizability::Online)): each answer
    /// costs what the operations open at that moment cost, whatever the
    /// history's length. The bound is on configurations held per object at
    /// one answer.
    #[default]
    Online,
    /// The whole history searched again after every step that changed it
    /// ([`check_partitioned`](crate::check::linearizability::check_partitioned)):
    /// quadratic or worse in the history's length. The bound is on distinct
    /// configurations per object in one search.
    Batch,
}

impl CheckConfig {
    /// The default of [`CheckConfig::linearizability_states_max`]: far
    /// more than any generated case's history needs, small enough that an
    /// undecidable one costs a fraction of a second.
    pub const LINEARIZABILITY_STATES_MAX: usize = 200_000;
}

impl Default for CheckConfig {
    fn default() -> CheckConfig {
        CheckConfig {
            properties: PropertySet::default(),
            model: LinearizabilityModel::default(),
            linearizability_states_max: CheckConfig::LINEARIZABILITY_STATES_MAX,
            linearizability: LinearizabilityCheck::Online,
            limits: Limits::default(),
            tracing: false,
            run_to_end: false,
        }
    }
}

/// A broken property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub property: Property,
    /// The step at which it broke: the counterexample's length in events.
    pub step: u64,
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} broke at event {}: {}",
            self.property, self.step, self.detail
        )
    }
}

/// Property 4 could not decide: its search of one object's history reached
/// the bound ([`CheckConfig::linearizability_states_max`]) with neither a
/// linearization nor a refutation. Not a pass: a case with an undecided
/// history is never reported as holding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undecided {
    /// The event after which the undecided check ran (the history up to
    /// it; the run's last check of property 4).
    pub step: u64,
    /// Which object, how many operations, and the bound that was hit.
    pub search: UndecidedPartition,
}

impl fmt::Display for Undecided {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{P4_LINEARIZABLE} undecided at event {}: {}",
            self.step, self.search
        )
    }
}

/// What a checked run comes to, worst first: a property broke; the run was
/// cut by a limit (properties were checked only up to the cut); property 4
/// could not decide; every property held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Broken(Failure),
    /// The run hit a limit (`LIMIT <limit> <value>`) before quiescence.
    Cut {
        limit: &'static str,
        value: u64,
    },
    Undecided(Undecided),
    Holds,
}

/// What checking one case found.
#[derive(Clone, Debug)]
pub struct CaseRun {
    /// The first property that broke; unless the configuration says
    /// `run_to_end`, the run stops there.
    pub failure: Option<Failure>,
    /// The first failure of each property that broke, in the order they
    /// broke (at most one unless `run_to_end`).
    pub failures: Vec<Failure>,
    /// The registry's names at the end of the run, each with its bucket's
    /// logical name (`bucket:a#1`), in name order; `None` when the registry
    /// is dead.
    pub final_names: Option<Vec<(String, String)>>,
    /// Property 4's last check of the run could not decide within the
    /// bound (`None` when it decided, or never ran). Online, an object
    /// that reached the bound is not checked further and stays undecided;
    /// with [`LinearizabilityCheck::Batch`], an undecided check is cleared
    /// by a later one that decides the longer history linearizable.
    pub undecided: Option<Undecided>,
    pub outcome: Outcome,
    pub steps: u64,
    /// The dialogue, as `kvsim run` prints it (a header per client when
    /// there are several).
    pub dialogue: String,
    pub trace: Option<Trace>,
    /// The first failure's causal slice, when the run was traced (see
    /// [`Slice`]).
    pub slice: Option<Slice>,
    /// Each event's causal predecessors, when the run was traced.
    pub causality: Option<Causality>,
    /// Some lookup was delivered to the registry while a dead bucket of
    /// that name still had its `DOWN` on the way (the window of property 1).
    pub reached_stale_lookup_window: bool,
    /// Stable ids of the faults that never fired (their target was never
    /// alive while they were enabled, or the run stopped first).
    pub unused_faults: Vec<u32>,
    /// Each client's own dialogue, in the case's client order.
    pub transcripts: Vec<String>,
    /// The events the schedule picked, as an override list that replays
    /// this run (empty when the whole run was the `fifo` order).
    pub schedule_taken: Vec<EventKey>,
    /// Property 4's history as the run made it, when property 4 is checked
    /// (otherwise empty): every operation with the events (1-based steps)
    /// that invoked and answered it, for a search that checks property 4
    /// over other orders of the same events
    /// ([`crate::check::verify::dpor`]).
    pub history: Vec<HistoryOp>,
}

/// One operation of property 4's history ([`CaseRun::history`]), in the
/// order the checker met it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryOp {
    pub op: KvOp,
    /// The answer, when `known` or answered; [`KvResult::Indeterminate`]
    /// for a call still in flight at the end.
    pub result: KvResult,
    /// The result is known at invocation: a `CREATE` cast (its interval
    /// ends when the registry handles it) or a model event (a death,
    /// invoked and answered at one step).
    pub known: bool,
    /// The step of the event that invoked it.
    pub invoke: u64,
    /// The step of the event that answered it: `None` for a call still in
    /// flight at the end and a `CREATE` the registry never handled.
    pub response: Option<u64>,
}

impl CaseRun {
    /// The dialogue with the clients named `names` (in the case's client
    /// order), as `kvsim run` prints a script's: one client's transcript
    /// alone, or each under a `== name` header.
    pub fn dialogue_named<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> String {
        dialogue_of(names, &self.transcripts)
    }

    /// Whether `property` did not break (as far as the run went: unless
    /// `run_to_end`, it stops at its first failure). Says nothing of an
    /// undecided or cut run: see [`CaseRun::verdict`].
    pub fn holds(&self, property: Property) -> bool {
        self.failures.iter().all(|f| f.property != property)
    }

    /// The run's verdict, worst first: broken, cut, undecided, holds.
    pub fn verdict(&self) -> Verdict {
        if let Some(failure) = &self.failure {
            return Verdict::Broken(failure.clone());
        }
        if let Outcome::Limit { name, value } = self.outcome {
            return Verdict::Cut { limit: name, value };
        }
        match &self.undecided {
            Some(undecided) => Verdict::Undecided(undecided.clone()),
            None => Verdict::Holds,
        }
    }
}

/// The choice source for one run of `case`: its overrides, then its
/// strategy (or `fifo`). A PCT strategy takes its run length `k` from a
/// `fifo` run of the same case, and a generated override list
/// ([`Strategy::Mutation`]) takes its keys from a random-walk run: both
/// runs use `registry`, so the keys and lengths are the registry's own.
pub fn choice_source(
    case: &Case,
    registry: &RegistryFactory<'_>,
    config: &CheckConfig,
) -> Box<dyn ChoiceSource> {
    let overrides = case.schedule.clone();
    match &case.strategy {
        None => Box::new(Overrides::new(overrides)),
        Some(Strategy::Random { seed }) => {
            Box::new(Overrides::then(overrides, Box::new(RandomWalk::new(*seed))))
        }
        Some(Strategy::Pos { seed }) => {
            Box::new(Overrides::then(overrides, Box::new(Pos::new(*seed))))
        }
        Some(Strategy::Pct { seed, depth }) => {
            let k = fifo_length(case, registry, config);
            // A case file is held to 1..=64; a case built in code is
            // clamped the same, since each level costs a change point.
            let depth = (*depth).clamp(1, crate::check::case::PCT_DEPTH_MAX) as usize;
            Box::new(Overrides::then(
                overrides,
                Box::new(Pct::new(*seed, depth, k)),
            ))
        }
        Some(Strategy::Mutation { seed, picks }) => {
            let record = Case {
                strategy: Some(Strategy::Random { seed: *seed }),
                ..case.clone()
            };
            let taken = unchecked(&record, registry, config).schedule_taken;
            // A mutation of the recorded run: its first `picks[0] mod
            // (len + 1)` events kept whole (so the random walk itself, or
            // any prefix of it, is one mutation), then the other picks as a
            // subsequence of the rest, in the run's order: each override
            // waits for the ones before it, so a chain of causally ordered
            // events can jump ahead together while the events between them
            // go in the `fifo` order.
            let (prefix, positions) = match picks.split_first() {
                Some((&first, rest)) if !taken.is_empty() => {
                    let prefix = first as usize % (taken.len() + 1);
                    let mut positions: Vec<usize> = rest
                        .iter()
                        .map(|&pick| pick as usize % taken.len())
                        .filter(|&at| at >= prefix)
                        .collect();
                    positions.sort_unstable();
                    positions.dedup();
                    (prefix, positions)
                }
                _ => (0, Vec::new()),
            };
            let mut list = overrides;
            list.extend(taken[..prefix].iter().cloned());
            list.extend(positions.into_iter().map(|at| taken[at].clone()));
            Box::new(Overrides::new(list))
        }
    }
}

/// The number of events a `fifo` run of `case` (its overrides kept, its
/// strategy dropped) takes: PCT's `k`.
pub fn fifo_length(case: &Case, registry: &RegistryFactory<'_>, config: &CheckConfig) -> u64 {
    let fifo = Case {
        strategy: None,
        ..case.clone()
    };
    unchecked(&fifo, registry, config).steps
}

/// A run with no property checked and no trace, for what a schedule needs
/// to know before the real run.
fn unchecked(case: &Case, registry: &RegistryFactory<'_>, config: &CheckConfig) -> CaseRun {
    let quiet = CheckConfig {
        properties: PropertySet::none(),
        tracing: false,
        ..config.clone()
    };
    run_case(case, registry, &quiet)
}

/// `case` with its strategy replaced by the override list `run` took, so
/// it replays `run` event for event with no strategy at all: how a failure
/// found by any strategy is saved and shrunk.
pub fn explicit(case: &Case, run: &CaseRun) -> Case {
    match case.strategy {
        None => case.clone(),
        Some(_) => Case {
            schedule: run.schedule_taken.clone(),
            strategy: None,
            ..case.clone()
        },
    }
}

/// Checks `case` against a registry built by `registry`, under the case's
/// own schedule (its overrides, then its strategy).
pub fn run_case(case: &Case, registry: &RegistryFactory<'_>, config: &CheckConfig) -> CaseRun {
    let chooser = choice_source(case, registry, config);
    run_case_with(case, registry, config, chooser)
}

/// Checks `case` against a registry built by `registry`, with `chooser`
/// picking every event instead of the case's schedule (a strategy, or the
/// oracle's enumerator). What it picked is the run's
/// [`CaseRun::schedule_taken`].
pub fn run_case_with(
    case: &Case,
    registry: &RegistryFactory<'_>,
    config: &CheckConfig,
    chooser: Box<dyn ChoiceSource>,
) -> CaseRun {
    run_case_inner(case, registry, config, chooser, None, true)
}

/// [`run_case`] for a search's first pass over a case: the same run and
/// verdicts, but [`CaseRun::schedule_taken`] is left empty, since a search
/// runs a failing case again before it shrinks it (building each key of
/// the schedule was about 3 % of a `chapter` case).
pub(crate) fn run_case_searching(
    case: &Case,
    registry: &RegistryFactory<'_>,
    config: &CheckConfig,
) -> CaseRun {
    let chooser = choice_source(case, registry, config);
    run_case_inner(case, registry, config, chooser, None, false)
}

/// Property 4's online state after each step of the last run, so that a
/// run that takes the same first events resumes it there instead of
/// checking those steps again: a stateless search replays most of every
/// schedule it explores. The state after a step is a function of the
/// events up to it (runs are deterministic), so resuming gives the run
/// exactly the verdicts it would have reached. Used only with
/// [`LinearizabilityCheck::Online`]; otherwise runs check every step.
#[derive(Default)]
pub(crate) struct OnlinePrefix {
    /// The state after step `k + 1` of the last run, for its first steps.
    after: Vec<Rc<OnlineState>>,
    /// The next run takes the last run's first `resume` events.
    resume: usize,
}

impl OnlinePrefix {
    /// The next run takes the same first `steps` events as the last run
    /// (0: nothing in common).
    pub(crate) fn replays(&mut self, steps: usize) {
        self.resume = steps;
        self.after.truncate(steps);
    }
}

/// What property 4's online check keeps between steps.
struct OnlineState {
    check: Box<dyn OnlineCheck>,
    pending: BTreeMap<Pid, (u32, OpKey)>,
    next_key: OpKey,
    pending_creates: BTreeMap<Pid, VecDeque<(usize, OpKey, usize)>>,
    undecided: Option<Undecided>,
    /// Property 4 had failed: its failure is not kept here, so a run does
    /// not resume from such a state.
    broken: bool,
}

/// [`run_case_with`], resuming property 4's online state from `prefix`
/// past the events the run shares with the last one, and keeping its
/// state after the others for the next run.
pub(crate) fn run_case_resuming(
    case: &Case,
    registry: &RegistryFactory<'_>,
    config: &CheckConfig,
    chooser: Box<dyn ChoiceSource>,
    prefix: &mut OnlinePrefix,
) -> CaseRun {
    run_case_inner(case, registry, config, chooser, Some(prefix), true)
}

fn run_case_inner(
    case: &Case,
    registry: &RegistryFactory<'_>,
    config: &CheckConfig,
    chooser: Box<dyn ChoiceSource>,
    mut prefix: Option<&mut OnlinePrefix>,
    keep_schedule: bool,
) -> CaseRun {
    let mut system = KvSystem::new(registry(), chooser, config.limits, config.tracing);
    if config.tracing {
        // The slice explains a failure from the trace, so it is recorded
        // with it and never on the untraced path a search runs.
        system.sim.record_causality();
    }
    system.sim.set_taps(Taps {
        pid_in_message: lookup_reply_pid,
        delivery_of_interest: registry_request,
    });
    let mut client_ids = BTreeMap::new();
    for client in &case.clients {
        let pid = system.add_client(client.id, client.commands.clone().into_iter(), true);
        client_ids.insert(pid, client.id);
    }
    let mut registry_faults = BTreeSet::new();
    for fault in &case.faults {
        system.add_fault(fault.id, &fault.fault);
        if fault.fault.licenses_registry_death() {
            registry_faults.insert(fault.id);
        }
    }
    let mut checker = Checker {
        properties: &config.properties,
        model: &config.model,
        custom: config.properties.instantiate_custom(),
        registry: system.registry,
        client_ids,
        registry_faults,
        history: match config.linearizability {
            _ if !config.properties.contains(P4_LINEARIZABLE) => History::Off,
            LinearizabilityCheck::Batch => History::Batch(Vec::new()),
            LinearizabilityCheck::Online => History::Online {
                check: config.model.online(config.linearizability_states_max),
                pending: BTreeMap::new(),
            },
        },
        operations: 0,
        next_key: 0,
        seen_exchanges: BTreeMap::new(),
        pending_creates: BTreeMap::new(),
        logging: config.properties.contains(P4_LINEARIZABLE),
        log: Vec::new(),
        registry_dead: false,
        registry_told: false,
        dead_buckets: BTreeMap::new(),
        stale_window: false,
        run_to_end: config.run_to_end,
        failures: Vec::new(),
        roots: Vec::new(),
        undecided: None,
        states_max: config.linearizability_states_max,
        names: BTreeMap::new(),
        skip_online: false,
        history_changed: false,
        tapped: Vec::new(),
    };
    if !matches!(checker.history, History::Online { .. }) {
        prefix = None;
    }
    // Steps up to `resume` are the last run's: their checks are skipped
    // and the state after them taken from it, unless property 4 had
    // failed by then (its failure would have to be placed among the
    // others').
    let resume = prefix.as_deref().map_or(0, |prefix| prefix.resume);
    checker.skip_online = resume > 0
        && prefix
            .as_deref()
            .and_then(|prefix| prefix.after.get(resume - 1))
            .is_some_and(|state| !state.broken);
    let _ = system.sim.drain_tapped().count();
    while checker.active() && system.sim.step() {
        checker.after_step(&mut system);
        if let Some(prefix) = prefix.as_deref_mut() {
            let step = system.sim.steps() as usize;
            if checker.skip_online {
                if step == resume {
                    checker.resume_online(&prefix.after[step - 1]);
                    checker.skip_online = false;
                }
            } else if prefix.after.len() + 1 == step {
                let state = match prefix.after.last() {
                    Some(last) if !checker.history_changed => Rc::clone(last),
                    _ => Rc::new(checker.online_state()),
                };
                prefix.after.push(state);
            }
        }
    }
    if checker.active() && system.sim.outcome() == Outcome::Quiescent {
        checker.at_quiescence(&system);
    }
    checker.log_in_flight(&system);
    let final_names = system.registry_state().map(|registry| {
        let mut names: Vec<(String, String)> = registry
            .names()
            .into_iter()
            .map(|(name, pid)| (name, checker.name(&system, pid)))
            .collect();
        names.sort();
        names
    });
    let names: Vec<String> = case
        .clients
        .iter()
        .map(|client| format!("client{}", client.id))
        .collect();
    let transcripts: Vec<String> = system
        .clients()
        .iter()
        .map(|&pid| system.transcript(pid))
        .collect();
    let dialogue = dialogue_of(names.iter().map(String::as_str), &transcripts);
    let causality = system.sim.take_causality();
    let slice = match (&causality, checker.failures.first(), checker.roots.first()) {
        (Some(causality), Some(failure), Some(roots)) => Some(Slice::new(
            causality,
            failure.property,
            failure.step,
            roots.clone(),
        )),
        _ => None,
    };
    CaseRun {
        transcripts,
        slice,
        causality,
        failure: checker.failures.first().cloned(),
        failures: checker.failures,
        final_names,
        undecided: checker.undecided,
        outcome: system.sim.outcome(),
        steps: system.sim.steps(),
        dialogue,
        reached_stale_lookup_window: checker.stale_window,
        unused_faults: system.sim.unused_faults(),
        schedule_taken: if keep_schedule {
            system.sim.schedule_taken()
        } else {
            Vec::new()
        },
        trace: system.sim.take_trace(),
        history: checker.log,
    }
}

fn lookup_reply_pid(msg: &Msg) -> Option<Pid> {
    match msg {
        Envelope::Reply {
            reply: KvMsg::Found(Some(pid)),
            ..
        } => Some(*pid),
        _ => None,
    }
}

const CREATE_LABEL: &str = "create";
const LOOKUP_LABEL: &str = "lookup:";

fn registry_request(msg: &Msg) -> Option<String> {
    match msg {
        Envelope::Cast(KvMsg::Create(_)) => Some(CREATE_LABEL.to_string()),
        Envelope::Call {
            req: KvMsg::Lookup(name),
            ..
        } => Some(format!("{LOOKUP_LABEL}{name}")),
        _ => None,
    }
}

struct Checker<'a> {
    properties: &'a PropertySet,
    model: &'a LinearizabilityModel,
    /// This run's own instances of the custom properties.
    custom: Vec<Box<dyn CustomProperty>>,
    registry: Pid,
    client_ids: BTreeMap<Pid, u32>,
    /// Faults whose firing licenses the registry's death.
    registry_faults: BTreeSet<u32>,
    /// What property 4 keeps of the history.
    history: History,
    /// Operations in the history so far: the next one's id.
    operations: usize,
    next_key: OpKey,
    seen_exchanges: BTreeMap<Pid, usize>,
    /// Per client, its CREATEs not yet handled by the registry, oldest first
    /// (casts from one client arrive in order: S5): id and key.
    pending_creates: BTreeMap<Pid, VecDeque<(usize, OpKey, usize)>>,
    /// Whether `log` is kept (property 4 is checked).
    logging: bool,
    /// [`CaseRun::history`]; a pending `CREATE`'s third field is its index.
    log: Vec<HistoryOp>,
    registry_dead: bool,
    /// A client asked for the registry's death (STOP, CRASH or KILL registry).
    registry_told: bool,
    dead_buckets: BTreeMap<String, Vec<Pid>>,
    stale_window: bool,
    run_to_end: bool,
    /// The first failure of each broken property, in order.
    failures: Vec<Failure>,
    /// Each failure's slice roots (see [`Slice`]), in the same order.
    roots: Vec<Vec<SliceRoot>>,
    /// Property 4's last check, when it could not decide.
    undecided: Option<Undecided>,
    states_max: usize,
    /// Logical names of every process spawned, dead or alive, so that
    /// reports name processes the same way with tracing on or off.
    names: BTreeMap<Pid, String>,
    /// Property 4's online checks are skipped: the run replays steps whose
    /// state after them an [`OnlinePrefix`] holds.
    skip_online: bool,
    /// Whether the last step changed what property 4 keeps.
    history_changed: bool,
    /// The facts of the last step, read from the simulator (kept between
    /// steps for its buffer).
    tapped: Vec<Tapped>,
}

impl Checker<'_> {
    /// Property 4's online state, to resume from ([`OnlinePrefix`]).
    fn online_state(&self) -> OnlineState {
        let History::Online { check, pending } = &self.history else {
            unreachable!("an online prefix is kept only for the online check")
        };
        OnlineState {
            check: check.boxed_clone(),
            pending: pending.clone(),
            next_key: self.next_key,
            pending_creates: self.pending_creates.clone(),
            undecided: self.undecided.clone(),
            broken: self.broken(P4_LINEARIZABLE),
        }
    }

    /// Takes property 4's online state from `state`: what checking every
    /// step up to here would have left (the other fields the skipped
    /// checks touch are in it).
    fn resume_online(&mut self, state: &OnlineState) {
        self.history = History::Online {
            check: state.check.boxed_clone(),
            pending: state.pending.clone(),
        };
        self.next_key = state.next_key;
        self.pending_creates.clone_from(&state.pending_creates);
        self.undecided.clone_from(&state.undecided);
    }

    /// Records a failure, with the events its slice starts from (empty
    /// when the run records no causality).
    fn fail(&mut self, property: Property, step: u64, detail: String, roots: Vec<SliceRoot>) {
        if self.active() && !self.broken(property) {
            self.failures.push(Failure {
                property,
                step,
                detail,
            });
            self.roots.push(roots);
        }
    }

    /// What property 2's verdict reads: the registry's state (its last
    /// event) and whether each bucket it names or that lives is alive (its
    /// death, else its spawn).
    fn names_roots(
        &self,
        system: &KvSystem,
        step: u64,
        names: &BTreeSet<(String, Pid)>,
        live: &BTreeSet<(String, Pid)>,
    ) -> Vec<SliceRoot> {
        roots(system, |causality| {
            let mut roots = vec![SliceRoot::new(step, "quiescence: names are compared")];
            if let Some(last) = causality.last_event_of(self.registry) {
                roots.push(SliceRoot::new(last, "the registry's last event"));
            }
            let buckets: BTreeSet<Pid> = names.iter().chain(live).map(|&(_, pid)| pid).collect();
            for pid in buckets {
                let name = self.name(system, pid);
                if let Some(death) = causality.death_of(pid) {
                    roots.push(SliceRoot::new(death, format!("{name} dies")));
                } else if let Some(spawn) = causality.spawn_of(pid) {
                    roots.push(SliceRoot::new(spawn, format!("{name} spawned")));
                }
            }
            roots
        })
    }

    /// Whether checking goes on: always with `run_to_end`, otherwise until
    /// the first failure.
    fn active(&self) -> bool {
        self.run_to_end || self.failures.is_empty()
    }

    fn broken(&self, property: Property) -> bool {
        self.failures.iter().any(|f| f.property == property)
    }

    fn name(&self, system: &KvSystem, pid: Pid) -> String {
        self.names
            .get(&pid)
            .cloned()
            .unwrap_or_else(|| system.sim.name_of(pid))
    }

    /// Whether `property` is still to be checked in this run.
    fn wants(&self, property: Property) -> bool {
        self.properties.contains(property) && self.active() && !self.broken(property)
    }

    fn after_step(&mut self, system: &mut KvSystem) {
        let step = system.sim.steps();
        // One buffer for the whole run, handed back and forth with the
        // simulator's: a step's facts cost no allocation of their own.
        let mut tapped = std::mem::take(&mut self.tapped);
        system.sim.swap_tapped(&mut tapped);
        let mut history_changed = false;
        let mut registry_fault_fired = false;
        for fact in tapped.drain(..) {
            match fact {
                Tapped::PidSent {
                    from,
                    named,
                    named_alive: false,
                    ..
                } if from == self.registry => {
                    if self.wants(P1_LOOKUP_IS_ALIVE) {
                        let bucket = self.name(system, named);
                        let detail = format!(
                            "the registry's lookup reply names {bucket}, dead at this step"
                        );
                        let roots = roots(system, |causality| {
                            vec![
                                SliceRoot::new(step, format!("the lookup reply names {bucket}")),
                                SliceRoot::new(
                                    causality.death_of(named).unwrap_or(0),
                                    format!("{bucket} dies"),
                                ),
                            ]
                        });
                        self.fail(P1_LOOKUP_IS_ALIVE, step, detail, roots);
                    }
                }
                Tapped::PidSent { .. } => {}
                Tapped::Delivered { from, to, label } if to == self.registry => {
                    if label == CREATE_LABEL {
                        if let Some((id, key, at)) = self
                            .pending_creates
                            .get_mut(&from)
                            .and_then(VecDeque::pop_front)
                        {
                            if let Some(logged) = self.log.get_mut(at) {
                                logged.response = Some(step);
                            }
                            match &mut self.history {
                                History::Batch(history) => history[id].response = step,
                                History::Online { .. } if self.skip_online => {}
                                History::Online { check, .. } => check.answer(key, None, step, id),
                                History::Off => {}
                            }
                            history_changed = true;
                        }
                    } else if let Some(name) = label.strip_prefix(LOOKUP_LABEL) {
                        let in_flight = self.dead_buckets.get(name).is_some_and(|pids| {
                            pids.iter()
                                .any(|&pid| system.sim.queue_len(pid, self.registry) > 0)
                        });
                        self.stale_window |= in_flight;
                    }
                }
                Tapped::Delivered { .. } => {}
                Tapped::Spawned { pid, name, role } => {
                    self.names.insert(pid, name);
                    let Some(role) = role else {
                        continue;
                    };
                    let members = system.sim.role_members(&role).len();
                    if role.starts_with("bucket:")
                        && members > 1
                        && self.wants(P5_ONE_BUCKET_PER_NAME)
                    {
                        let detail = format!("{members} live buckets for {role:?}");
                        let roots = roots(system, |causality| {
                            let newest =
                                SliceRoot::new(step, format!("{} spawned", self.name(system, pid)));
                            let members = system.sim.role_members(&role).iter();
                            let others = members.filter(|&&other| other != pid).map(|&other| {
                                SliceRoot::new(
                                    causality.spawn_of(other).unwrap_or(0),
                                    format!("{} spawned", self.name(system, other)),
                                )
                            });
                            std::iter::once(newest).chain(others).collect()
                        });
                        self.fail(P5_ONE_BUCKET_PER_NAME, step, detail, roots);
                    }
                }
                Tapped::FaultFired { id, target } => {
                    registry_fault_fired |=
                        target == self.registry && self.registry_faults.contains(&id);
                }
                Tapped::Exited { pid, role, reason } => {
                    if pid == self.registry {
                        self.registry_dead = true;
                        let licensed = registry_fault_fired || self.registry_told;
                        if !licensed && self.wants(P3_REGISTRY_DIES_ONLY_WHEN_TOLD) {
                            let detail = format!("the registry exited with reason {reason}");
                            let roots =
                                roots(system, |_| vec![SliceRoot::new(step, "the registry dies")]);
                            self.fail(P3_REGISTRY_DIES_ONLY_WHEN_TOLD, step, detail, roots);
                        }
                        self.push_event(step, KvOp::RegistryDied);
                        history_changed = true;
                    } else if let Some(name) =
                        role.as_deref().and_then(|r| r.strip_prefix("bucket:"))
                    {
                        self.dead_buckets
                            .entry(name.to_string())
                            .or_default()
                            .push(pid);
                        self.push_event(
                            step,
                            KvOp::BucketDied {
                                name: name.to_string(),
                            },
                        );
                        history_changed = true;
                    }
                }
            }
        }
        self.tapped = tapped;
        history_changed |= self.take_exchanges(system, step);
        self.history_changed = history_changed;
        if history_changed && !self.skip_online && self.wants(P4_LINEARIZABLE) {
            self.check_linearizable(system, step, false);
        }
        if self.active() && system.sim.is_quiet() {
            self.check_names(system, step);
        }
        for index in 0..self.custom.len() {
            let name = self.custom[index].name();
            let property = Property { number: 0, name };
            if !self.active() || self.broken(property) {
                continue;
            }
            if let Err(detail) = self.custom[index].check(system) {
                let roots = roots(system, |_| vec![SliceRoot::new(step, "the check fails")]);
                self.fail(property, step, detail, roots);
            }
        }
    }

    fn at_quiescence(&mut self, system: &KvSystem) {
        let step = system.sim.steps();
        self.check_names(system, step);
        if self.wants(P4_LINEARIZABLE) {
            self.check_linearizable(system, step, true);
        }
    }

    fn push_event(&mut self, step: u64, op: KvOp) {
        let operation = Operation {
            id: self.operations,
            client: None,
            invoke: step,
            response: step,
            op,
            result: KvResult::None,
        };
        self.push_operation(operation, None);
    }

    /// The next operation of the history, complete or (a `CREATE` not yet
    /// handled) with its response still to come. `answers` names the
    /// client and command it answers, which may be in flight already.
    fn push_operation(&mut self, operation: Operation, answers: Option<(Pid, u32)>) -> OpKey {
        self.operations += 1;
        if self.logging {
            self.log.push(HistoryOp {
                op: operation.op.clone(),
                result: operation.result.clone(),
                known: answers.is_none(),
                invoke: operation.invoke,
                response: (operation.response != u64::MAX).then_some(operation.response),
            });
        }
        let key = self.next_key;
        self.next_key += 1;
        if self.skip_online {
            // The state resumed at the end of the skipped steps has it.
            return key;
        }
        match &mut self.history {
            History::Batch(history) => history.push(operation),
            History::Online { check, pending } => {
                let registered = answers.and_then(|(pid, cmd)| {
                    pending
                        .remove(&pid)
                        .filter(|&(pending_cmd, _)| pending_cmd == cmd)
                });
                match registered {
                    Some((_, key)) => {
                        let (result, response, id) =
                            (operation.result.clone(), operation.response, operation.id);
                        check.answer(key, Some(result), response, id);
                        return key;
                    }
                    None if operation.response == u64::MAX => check.invoke(key, operation, true),
                    None => check.record(key, operation),
                }
            }
            History::Off => {}
        }
        key
    }

    /// Logs the calls still in flight at the end of the run.
    fn log_in_flight(&mut self, system: &KvSystem) {
        if !self.logging {
            return;
        }
        for &pid in self.client_ids.keys() {
            let Some((_, command, invoked)) = system.pending(pid) else {
                continue;
            };
            let Some(op) = model_op(command) else {
                continue;
            };
            self.log.push(HistoryOp {
                op,
                result: KvResult::Indeterminate,
                known: false,
                invoke: invoked,
                response: None,
            });
        }
    }

    /// Turns the clients' newly answered commands into operations.
    fn take_exchanges(&mut self, system: &KvSystem, step: u64) -> bool {
        let mut changed = false;
        // Out of `self` while its methods run (none reads it), so that
        // a step lists no clients of its own.
        let client_ids = std::mem::take(&mut self.client_ids);
        for (&pid, &client_id) in &client_ids {
            if let Some((
                _,
                Command::Stop {
                    target: Target::Registry,
                },
                _,
            )) = system.pending(pid)
            {
                self.registry_told = true;
            }
            let exchanges = system.exchanges(pid);
            let seen = self.seen_exchanges.entry(pid).or_insert(0);
            let new = &exchanges[std::mem::replace(seen, exchanges.len())..];
            for exchange in new {
                let timed_out =
                    matches!(exchange.response.as_slice(), [only] if only == "ERROR timeout");
                if timed_out && self.wants(P6_NO_CALL_TIMES_OUT) {
                    let detail = format!("client{client_id}'s {} timed out", exchange.command);
                    let roots = roots(system, |_| {
                        vec![
                            SliceRoot::new(step, "the call times out"),
                            SliceRoot::new(
                                exchange.invoked_step,
                                format!("client{client_id} calls {}", exchange.command),
                            ),
                        ]
                    });
                    self.fail(P6_NO_CALL_TIMES_OUT, step, detail, roots);
                }
                if matches!(
                    exchange.command,
                    Command::Stop {
                        target: Target::Registry
                    } | Command::Crash {
                        target: Target::Registry,
                        ..
                    } | Command::Kill {
                        target: Target::Registry
                    }
                ) {
                    self.registry_told = true;
                }
                if !self.logging && matches!(self.history, History::Off) {
                    // Property 4 is off: nothing reads the operations.
                    continue;
                }
                let Some(op) = model_op(&exchange.command) else {
                    continue;
                };
                let id = self.operations;
                if let KvOp::Create { .. } = op {
                    let operation = Operation {
                        id,
                        client: Some(client_id),
                        invoke: exchange.invoked_step,
                        response: u64::MAX,
                        op,
                        result: KvResult::None,
                    };
                    let at = if self.logging {
                        self.log.len()
                    } else {
                        usize::MAX
                    };
                    let key = self.push_operation(operation, None);
                    self.pending_creates
                        .entry(pid)
                        .or_default()
                        .push_back((id, key, at));
                } else {
                    let response: Vec<&str> =
                        exchange.response.iter().map(String::as_str).collect();
                    let result = model_result(&exchange.command, &response);
                    let operation = Operation {
                        id,
                        client: Some(client_id),
                        invoke: exchange.invoked_step,
                        response: exchange.answered_step,
                        op,
                        result,
                    };
                    self.push_operation(operation, Some((pid, exchange.cmd)));
                }
                changed = true;
            }
        }
        self.client_ids = client_ids;
        changed
    }

    /// Property 4 over the history so far: commands still in flight may or
    /// may not have taken effect; at the end, CREATEs the registry never
    /// handled (it died first) had no effect.
    fn check_linearizable(&mut self, system: &KvSystem, step: u64, at_end: bool) {
        let verdict = match &mut self.history {
            History::Off => return,
            History::Batch(history) => batch_verdict(
                history,
                system,
                &self.client_ids,
                self.model,
                self.states_max,
                at_end,
            ),
            History::Online { check, pending } => {
                // Commands in flight get the ids the batch checker gives
                // them: after the history's, in client order.
                let unhandled: usize = self.pending_creates.values().map(VecDeque::len).sum();
                let mut next_id = self.operations
                    + if at_end {
                        self.operations - unhandled
                    } else {
                        self.operations
                    };
                let mut ids = BTreeMap::new();
                for (&pid, &client_id) in &self.client_ids {
                    let Some((cmd, command, invoked)) = system.pending(pid) else {
                        continue;
                    };
                    let Some(op) = model_op(command) else {
                        continue;
                    };
                    let key = match pending.get(&pid) {
                        Some(&(pending_cmd, key)) if pending_cmd == cmd => key,
                        _ => {
                            let key = self.next_key;
                            self.next_key += 1;
                            let operation = Operation {
                                id: next_id,
                                client: Some(client_id),
                                invoke: invoked,
                                response: u64::MAX,
                                op,
                                result: KvResult::Indeterminate,
                            };
                            check.invoke(key, operation, false);
                            pending.insert(pid, (cmd, key));
                            key
                        }
                    };
                    ids.insert(key, next_id);
                    next_id += 1;
                }
                check.verdict(at_end, &|key| ids.get(&key).copied().unwrap_or(usize::MAX))
            }
        };
        match verdict {
            Ok(None) => self.undecided = None,
            Ok(Some(search)) => self.undecided = Some(Undecided { step, search }),
            Err(violation) => {
                let roots = roots(system, |_| linearizability_roots(step, &violation));
                self.fail(P4_LINEARIZABLE, step, violation.explain(), roots);
            }
        }
    }

    /// Property 2, while the registry is alive and nothing is in flight.
    fn check_names(&mut self, system: &KvSystem, step: u64) {
        if self.registry_dead || !self.wants(P2_NAMES_MATCH_BUCKETS) {
            return;
        }
        let Some(registry) = system.registry_state() else {
            return;
        };
        let names: BTreeSet<(String, Pid)> = registry.names().into_iter().collect();
        let live: BTreeSet<(String, Pid)> = system
            .sim
            .roles()
            .filter_map(|(role, pids)| Some((role.strip_prefix("bucket:")?, pids)))
            .flat_map(|(name, pids)| pids.iter().map(move |&pid| (name.to_string(), pid)))
            .collect();
        if names != live {
            let render = |set: &BTreeSet<(String, Pid)>| -> String {
                let items: Vec<String> = set
                    .iter()
                    .map(|(n, p)| format!("{n}={}", self.name(system, *p)))
                    .collect();
                format!("[{}]", items.join(", "))
            };
            let detail = format!(
                "the registry names {} but the live buckets are {}",
                render(&names),
                render(&live)
            );
            let roots = self.names_roots(system, step, &names, &live);
            self.fail(P2_NAMES_MATCH_BUCKETS, step, detail, roots);
            return;
        }
        let mut ref_names: Vec<String> = registry
            .monitor_refs()
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        ref_names.sort();
        let mut expected: Vec<String> = names.iter().map(|(name, _)| name.clone()).collect();
        expected.sort();
        // A registry that keeps no monitor ref at all does not monitor
        // (`naive`); its flaw shows as a stale name, which the first clause
        // catches. Holding it to the refs clause too would make every
        // counterexample a lone CREATE that says nothing about its bug.
        if !ref_names.is_empty() && ref_names != expected {
            let detail = format!(
                "the registry's monitor refs watch {ref_names:?} but its names are {expected:?}"
            );
            let roots = self.names_roots(system, step, &names, &live);
            self.fail(P2_NAMES_MATCH_BUCKETS, step, detail, roots);
        }
    }
}

/// What property 4 keeps of the history, as [`LinearizabilityCheck`] says.
enum History {
    /// Property 4 is not checked.
    Off,
    /// Completed operations, deaths, and CREATEs (whose interval ends when
    /// the registry handles the cast: `u64::MAX` until then), by id.
    Batch(Vec<Operation>),
    Online {
        check: Box<dyn OnlineCheck>,
        /// Per client, the command in flight fed to `check`: its stable id
        /// and key.
        pending: BTreeMap<Pid, (u32, OpKey)>,
    },
}

/// The batch checker on the whole history so far (see
/// `Checker::check_linearizable`).
fn batch_verdict(
    all: &[Operation],
    system: &KvSystem,
    client_ids: &BTreeMap<Pid, u32>,
    model: &LinearizabilityModel,
    states_max: usize,
    at_end: bool,
) -> Result<Option<UndecidedPartition>, PartitionViolation> {
    let mut history: Vec<Operation> = if at_end {
        all.iter()
            .filter(|op| op.response != u64::MAX)
            .cloned()
            .collect()
    } else {
        all.to_vec()
    };
    for (&pid, &client_id) in client_ids {
        if let Some((_, command, invoked)) = system.pending(pid)
            && let Some(op) = model_op(command)
        {
            let id = all.len() + history.len();
            history.push(Operation {
                id,
                client: Some(client_id),
                invoke: invoked,
                response: u64::MAX,
                op,
                result: KvResult::Indeterminate,
            });
        }
    }
    // The model splits the history into independent objects (for
    // `KvModel`, bucket names): the search is exponential in concurrent
    // operations, and splitting keeps it small.
    model.check(&history, states_max)
}

/// The roots `pick` gives when the run records causality; none otherwise,
/// so an untraced run builds nothing.
fn roots(system: &KvSystem, pick: impl FnOnce(&Causality) -> Vec<SliceRoot>) -> Vec<SliceRoot> {
    system.sim.causality().map(pick).unwrap_or_default()
}

/// What property 4's verdict reads: every operation its explanation names
/// (the longest linearizable prefix and the operations that cannot come
/// next), each one's invocation and response; a death at its step.
fn linearizability_roots(step: u64, violation: &PartitionViolation) -> Vec<SliceRoot> {
    let mut roots = vec![SliceRoot::new(step, "the history is checked")];
    let explained = &violation.violation;
    for id in explained.longest_prefix.iter().chain(&explained.stuck_at) {
        let Some(op) = violation.history.iter().find(|op| op.id == *id) else {
            continue;
        };
        let Some(client) = op.client else {
            roots.push(SliceRoot::new(op.invoke, op.op.to_string()));
            continue;
        };
        roots.push(SliceRoot::new(
            op.invoke,
            format!("client{client} invokes {}", op.op),
        ));
        if op.response != u64::MAX && op.response != op.invoke {
            roots.push(SliceRoot::new(
                op.response,
                match op.result {
                    KvResult::None => format!("client{client}'s {} takes effect", op.op),
                    _ => format!("client{client}'s {} answers {}", op.op, op.result),
                },
            ));
        }
    }
    roots
}

/// The model operation a command is, if it is one.
pub(crate) fn model_op(command: &Command) -> Option<KvOp> {
    // Clones only the names the operation keeps, not the whole command.
    Some(match command {
        Command::Create { bucket } => KvOp::Create {
            name: bucket.clone(),
        },
        Command::Lookup { bucket } => KvOp::Lookup {
            name: bucket.clone(),
        },
        Command::Put { bucket, key, value } => KvOp::Put {
            name: bucket.clone(),
            key: key.clone(),
            value: value.clone(),
        },
        Command::Get { bucket, key } => KvOp::Get {
            name: bucket.clone(),
            key: key.clone(),
        },
        Command::Delete { bucket, key } => KvOp::Delete {
            name: bucket.clone(),
            key: key.clone(),
        },
        Command::Stop {
            target: Target::Bucket(bucket),
        } => KvOp::Stop {
            name: bucket.clone(),
        },
        Command::Crash {
            target: Target::Bucket(bucket),
            ..
        }
        | Command::Kill {
            target: Target::Bucket(bucket),
        } => KvOp::Crash {
            name: bucket.clone(),
        },
        _ => return None,
    })
}

fn model_result(command: &Command, response: &[&str]) -> KvResult {
    match response {
        ["NOT FOUND"] => KvResult::NotFound,
        [line] if line.starts_with("ERROR ") => KvResult::Indeterminate,
        [value, "OK"] if matches!(command, Command::Get { .. }) => {
            KvResult::Value((!value.is_empty()).then(|| value.to_string()))
        }
        ["OK"] if matches!(command, Command::Get { .. }) => KvResult::Value(None),
        ["OK"] => KvResult::Ok,
        _ => KvResult::Indeterminate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::case::CaseFault;
    use crate::kv::{KvFault, Stage, script};
    use std::path::Path;

    /// What a run's verdicts and property 4's history come to.
    fn ending(run: &CaseRun) -> String {
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{}\n{:?}",
            run.failures,
            run.undecided,
            run.outcome,
            run.history,
            run.schedule_taken,
            run.dialogue,
            run.final_names,
        )
    }

    /// A run that resumes property 4's online state after the events it
    /// shares with the last run ends exactly as a run checked throughout,
    /// on registries where property 4 holds and where it breaks (before
    /// and after the shared events).
    #[test]
    fn resuming_property_4_after_a_shared_prefix_changes_no_run() {
        let text = include_str!("../../examples/verify/2x3k.kv");
        let parsed = script::parse(Path::new("2x3k.kv"), text.as_bytes()).unwrap();
        let mut case = Case::from_script(&parsed);
        case.faults.push(CaseFault {
            id: 0,
            fault: KvFault::KillBucket("s".to_string()),
        });
        let config = CheckConfig {
            run_to_end: true,
            ..CheckConfig::default()
        };
        let mut resumed_broken = 0;
        let mut resumed = 0;
        for stage in [Stage::Fixed, Stage::Unlinked, Stage::Naive] {
            let registry: &RegistryFactory<'_> = &move || stage.registry();
            // In schedule order, as a depth-first search meets them: each
            // shares a prefix with the one before.
            let mut plain: Vec<(Vec<EventKey>, String)> = (0..300)
                .map(|seed| {
                    let run =
                        run_case_with(&case, registry, &config, Box::new(RandomWalk::new(seed)));
                    (run.schedule_taken.clone(), ending(&run))
                })
                .collect();
            plain.sort();
            let mut prefix = OnlinePrefix::default();
            let mut last: &[EventKey] = &[];
            for (schedule, expected) in &plain {
                let shared = schedule
                    .iter()
                    .zip(last)
                    .take_while(|(a, b)| a == b)
                    .count();
                prefix.replays(shared);
                let overrides = Box::new(Overrides::new(schedule.clone()));
                let again = run_case_resuming(&case, registry, &config, overrides, &mut prefix);
                if shared > 0 {
                    resumed += 1;
                    resumed_broken += usize::from(
                        again
                            .failures
                            .iter()
                            .any(|f| f.property == P4_LINEARIZABLE && f.step as usize > shared),
                    );
                }
                assert_eq!(&ending(&again), expected, "{stage:?}: {shared} shared");
                last = schedule;
            }
        }
        assert!(
            resumed > 100 && resumed_broken > 0,
            "{resumed} {resumed_broken}"
        );
    }
}
