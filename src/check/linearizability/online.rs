//! Property 4 checked as the history grows, without solving it again at
//! every step: G. Lowe's *just-in-time linearization* ("Testing for
//! linearizability", 2017, § 5), one object at a time (P-compositionality:
//! A. Horn and D. Kroening, "Faster linearizability checking via
//! P-compositionality", FORTE 2015; Porcupine partitions the same way).
//!
//! Each object ([`SequentialModel::partition`]) keeps a set of
//! *configurations*: a model state and the operations still open (invoked,
//! not yet answered) that this configuration has already linearized. When
//! an operation's answer arrives, every configuration that has not
//! linearized it must do so now, possibly after some other open operations
//! that were invoked before that answer; configurations that cannot are
//! dropped, and an object left with none is not linearizable. Operations
//! answered are then out of every configuration: what stays is bounded by
//! the operations open at once, whatever the length of the history.
//!
//! Open operations that are alike (the same operation and arguments, and
//! the same result when it is known at invocation: a `CREATE` cast, which
//! a client sends without waiting, so that dozens of `CREATE a` can be in
//! flight at once) form a *class*, and a configuration records, per
//! class, only the *places* its operations took: how many, each with the
//! step it was taken at (brought down to the latest invocation of the
//! class at or before it) and, for an answer not known yet, the states
//! before and after. Which operation holds which place is left open: any
//! assignment to distinct operations of the class, each invoked no later
//! than its place, will do, and one must exist (Hall's condition). The
//! answer of an operation of the class then decides: it holds a place it
//! may hold (of equal places, the earliest, leaving the later ones, which
//! admit more, to the others; with a known result that is as good as
//! going now, so it does not also go now), or it goes now. That is exact:
//! two identical operations can swap places whenever each is invoked
//! before the other's place, and whatever their answers they then fit the
//! same states (`tests/linearizability_online.rs` holds it to the batch
//! checker, also with a model where nothing is idempotent). With `c`
//! operations of one class in flight, the configurations number about
//! `c` per state, where keeping them apart made about `2^c`. Of
//! configurations that differ only in the steps of places of known results,
//! one that is no earlier at every place beats the others, which are
//! dropped.
//!
//! Operations go early only when an answer needs them (Lowe's
//! just-in-time rule). When the operation answered can go first and
//! change nothing (a `CREATE` of a name that is there, a read), the
//! configurations in which it goes after others linearized early, and
//! still changes nothing, are not kept: the configuration in which it
//! went first reaches each of them at the next answer, with the same
//! states and records and later places. Without this, every such answer
//! multiplied the configurations by the orders of the operations in
//! flight.
//!
//! An open operation's answer is not known when a configuration linearizes
//! it early (a `GET` may already have seen a `PUT` still in flight): it is
//! linearized as [`KvResult::Indeterminate`], and the configuration
//! remembers the state before it and the state it chose, to be checked
//! against the real answer when it comes. That is exact when an
//! indeterminate answer allows every state any definite answer allows (the
//! [`SequentialModel`] contract).
//!
//! The verdict after each step is the one [`super::check_partitioned`]
//! gives for the history up to that step, with each operation still open
//! taken as indeterminate (the batch checker stays as its oracle,
//! `tests/linearizability_online.rs`). A search that would hold more than
//! the bound of configurations for one object at one answer stops that
//! object's check for good: the verdict is *undecided* from then on, never
//! a pass.
//!
//! The search makes the same model state again and again (from different
//! orders of the same operations), and thousands of configurations may
//! hold a few states. Each object keeps its states in a pool, each once,
//! and configurations share them: copying a configuration copies no state,
//! and comparing two compares no state twice over. The pool is swept of
//! states nothing holds whenever it has doubled, so it stays within twice
//! what the configurations hold.
//!
//! What an object has answered is kept for failure reports until it has
//! [`LOG_KEPT`] operations and its configurations have come down to one
//! with nothing open linearized (every linearization of what came before
//! reaches the same state): then those operations are folded into that
//! state and dropped, and a later report starts from it.

use super::{
    KvOp, KvResult, Linearizability, Operation, PartitionViolation, SequentialModel,
    UndecidedPartition, Violation, check_bounded_from,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Who an operation is, for [`Online`]: any number unique among the
/// operations fed to one checker.
pub type OpKey = u64;

/// Answered operations an object keeps for its failure report before it
/// folds them into a state (when it can).
pub const LOG_KEPT: usize = 1024;

/// Answered operations an object keeps at most: past this, with no fold
/// possible (its configurations never came down to one), the oldest are
/// dropped and a failure report names only the operation that could not
/// be linearized.
pub const LOG_MAX: usize = 65_536;

/// An operation invoked and not yet taken out of the configurations.
#[derive(Clone, Debug)]
struct Open {
    /// Its result is [`KvResult::Indeterminate`] while unknown; its
    /// response is `u64::MAX` until it comes.
    operation: Operation,
    result_known: bool,
    /// Model events and `None`-partition operations, in every object.
    everywhere: bool,
    /// Its [`Class`] in the object (set by [`Partition::invoke`]).
    class: ClassId,
}

/// Which open operations are interchangeable, within one object: the same
/// operation (and arguments), and the same result when it is known at
/// invocation (a `CREATE`'s, a model event's).
type ClassId = u64;

/// What makes two open operations interchangeable (see [`ClassId`]).
type ClassKey = (KvOp, bool, KvResult, bool);

/// A place taken, before its answer, by one open operation of a class:
/// `(time, record)`. Its time is the step of the answer being taken in when
/// it was linearized, brought down to the latest invocation among the
/// class's open operations at or before it (the same ones may hold it, so
/// two places that differ only there are one). Its record is, for a
/// result unknown then, the state before and the state chosen, to check
/// against the answer of whichever operation turns out to hold the place.
type Slot<M> = (u64, Option<(Shared<M>, Shared<M>)>);

/// A model state held by configurations and their records: many hold
/// the same state, so it is shared, and cloning a configuration copies no
/// state. Two holders of one allocation compare equal without looking
/// inside (the same answer a look inside gives).
#[derive(Debug)]
struct Shared<M>(Arc<M>);

impl<M> Shared<M> {
    fn new(state: M) -> Shared<M> {
        Shared(Arc::new(state))
    }
}

impl<M> Clone for Shared<M> {
    fn clone(&self) -> Shared<M> {
        Shared(Arc::clone(&self.0))
    }
}

impl<M> std::ops::Deref for Shared<M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.0
    }
}

impl<M: Ord> Ord for Shared<M> {
    fn cmp(&self, other: &Shared<M>) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            std::cmp::Ordering::Equal
        } else {
            self.0.cmp(&other.0)
        }
    }
}

impl<M: PartialOrd> PartialOrd for Shared<M> {
    fn partial_cmp(&self, other: &Shared<M>) -> Option<std::cmp::Ordering> {
        if Arc::ptr_eq(&self.0, &other.0) {
            Some(std::cmp::Ordering::Equal)
        } else {
            self.0.partial_cmp(&other.0)
        }
    }
}

impl<M: PartialEq> PartialEq for Shared<M> {
    fn eq(&self, other: &Shared<M>) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl<M: Eq> Eq for Shared<M> {}

/// Every state an object's configurations hold, each once: the search
/// makes the same state over and over (from different orders of the
/// same operations), and configurations holding one allocation compare
/// equal without looking inside it. Only the allocations change, never
/// an answer, so the pool's contents do not shape a verdict.
#[derive(Clone, Debug)]
struct Pool<M> {
    states: BTreeSet<Shared<M>>,
    /// Its size after the last sweep.
    swept: usize,
}

impl<M> Default for Pool<M> {
    fn default() -> Pool<M> {
        Pool {
            states: BTreeSet::new(),
            swept: 0,
        }
    }
}

impl<M: Ord> Pool<M> {
    /// `state`, shared with every holder of an equal one.
    fn share(&mut self, state: M) -> Shared<M> {
        if let Some(shared) = self.states.get(&state) {
            return shared.clone();
        }
        let shared = Shared::new(state);
        self.states.insert(shared.clone());
        shared
    }

    /// Drops the states no configuration holds any more, once the pool
    /// has doubled since the last sweep: memory stays within twice what
    /// the configurations hold (plus a constant), at amortised O(1) per
    /// state made.
    fn sweep(&mut self) {
        if self.states.len() > 2 * self.swept + 1024 {
            self.states
                .retain(|shared| Arc::strong_count(&shared.0) > 1);
            self.swept = self.states.len();
        }
    }
}

impl<M> std::borrow::Borrow<M> for Shared<M> {
    fn borrow(&self) -> &M {
        &self.0
    }
}

/// One way the history so far can have happened.
///
/// Which operation of a class holds which place is left open: a
/// configuration stands for every assignment of its places to distinct
/// open operations of the class invoked no later than the place's time
/// (there must be one, [`matchable`]), and the answer of one of them
/// decides. Configurations that differ only in which of several identical
/// operations were linearized are thereby one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Config<M> {
    state: Shared<M>,
    /// Places taken, by class, each list sorted; no empty list.
    early: Early<M>,
}

/// Where a configuration of [`Partition::linearize`]'s search stands with
/// respect to the configuration it was reached from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Root {
    /// It is one the search started from.
    Is,
    /// Reached (by linearizing others early) from one where the answered
    /// operation can go and change nothing.
    NoOp,
    /// Reached from one where it cannot.
    Other,
}

/// A configuration's places taken (see [`Config`]), by class: a list
/// sorted by class, which orders configurations exactly as a map by class
/// would (both compare their entries in class order) but compares and
/// copies as one slice (there are a handful of classes, and the search
/// compares configurations far more often than it looks one up).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Early<M>(Vec<(ClassId, Vec<Slot<M>>)>);

impl<M> Early<M> {
    fn new() -> Early<M> {
        Early(Vec::new())
    }

    fn find(&self, class: ClassId) -> Result<usize, usize> {
        self.0.binary_search_by_key(&class, |(c, _)| *c)
    }

    fn get(&self, class: &ClassId) -> Option<&Vec<Slot<M>>> {
        self.find(*class).ok().map(|at| &self.0[at].1)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = (&ClassId, &Vec<Slot<M>>)> {
        self.0.iter().map(|(class, slots)| (class, slots))
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = (&ClassId, &mut Vec<Slot<M>>)> {
        self.0.iter_mut().map(|(class, slots)| (&*class, slots))
    }

    /// `class`'s places, an empty list made when it has none.
    fn slots_mut(&mut self, class: ClassId) -> &mut Vec<Slot<M>> {
        let at = match self.find(class) {
            Ok(at) => at,
            Err(at) => {
                self.0.insert(at, (class, Vec::new()));
                at
            }
        };
        &mut self.0[at].1
    }

    fn remove(&mut self, class: &ClassId) {
        if let Ok(at) = self.find(*class) {
            self.0.remove(at);
        }
    }

    fn insert(&mut self, class: ClassId, slots: Vec<Slot<M>>) {
        match self.find(class) {
            Ok(at) => self.0[at].1 = slots,
            Err(at) => self.0.insert(at, (class, slots)),
        }
    }
}

/// [`class_table`].
type Classes<'a> = BTreeMap<ClassId, (&'a Open, Vec<u64>)>;

/// Whether `slots` (sorted) can be given to distinct operations whose
/// invocations are `invokes` (sorted), each place to one invoked no later
/// than its time. The sets of operations each place admits are nested
/// (prefixes of `invokes`), so Hall's condition is: the `k`-th place
/// admits at least `k` operations.
fn matchable<M>(slots: &[Slot<M>], invokes: &[u64]) -> bool {
    slots
        .iter()
        .enumerate()
        .all(|(index, (time, _))| invokes.partition_point(|&invoke| invoke <= *time) > index)
}

/// A place's time brought down to the latest of `invokes` (sorted) at or
/// before it; left as it is when there is none (no operation can hold it,
/// and [`matchable`] says so).
fn canonical_time(time: u64, invokes: &[u64]) -> u64 {
    match invokes.partition_point(|&invoke| invoke <= time) {
        0 => time,
        n => invokes[n - 1],
    }
}

/// Where one object's check stands.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Status {
    Open,
    /// No configuration could take this operation's answer (its id).
    Refuted {
        stuck: usize,
    },
    /// A search held more than the bound; this many configurations.
    Undecided {
        explored: usize,
    },
}

#[derive(Clone, Debug)]
struct Partition<M> {
    open: BTreeMap<OpKey, Open>,
    /// Answers arrived and not yet taken in.
    answered: Vec<OpKey>,
    configs: BTreeSet<Config<M>>,
    status: Status,
    /// Answered operations since the last fold, with `everywhere` flags.
    log: Vec<(Operation, bool)>,
    /// Operations folded into `base` (dropped from the log).
    folded: usize,
    /// The state every linearization of the folded operations reaches.
    base: M,
    /// Operations dropped from the log without a fold.
    lost: bool,
    /// Own (not everywhere) operations ever invoked here.
    own: usize,
    /// The classes of the open operations, and how many each has.
    classes: BTreeMap<ClassKey, ClassId>,
    members: BTreeMap<ClassId, usize>,
    next_class: ClassId,
    /// The states its configurations hold, each once.
    pool: Pool<M>,
}

impl<M: SequentialModel> Partition<M> {
    fn new(initial: &M) -> Partition<M> {
        Partition {
            open: BTreeMap::new(),
            answered: Vec::new(),
            configs: BTreeSet::from([Config {
                state: Shared::new(initial.clone()),
                early: Early::new(),
            }]),
            status: Status::Open,
            log: Vec::new(),
            folded: 0,
            base: initial.clone(),
            lost: false,
            own: 0,
            classes: BTreeMap::new(),
            members: BTreeMap::new(),
            next_class: 0,
            pool: Pool::default(),
        }
    }

    fn invoke(&mut self, key: OpKey, mut open: Open) {
        self.own += usize::from(!open.everywhere);
        let operation = &open.operation;
        let class_key = (
            operation.op.clone(),
            open.result_known,
            operation.result.clone(),
            open.everywhere,
        );
        let next_class = &mut self.next_class;
        let class = *self.classes.entry(class_key).or_insert_with(|| {
            *next_class += 1;
            *next_class
        });
        open.class = class;
        *self.members.entry(class).or_default() += 1;
        self.open.insert(key, open);
    }

    /// `open` (just taken out of `self.open`) leaves its class.
    fn leave_class(&mut self, open: &Open) {
        let members = self.members.get_mut(&open.class).expect("its class");
        *members -= 1;
        if *members == 0 {
            self.members.remove(&open.class);
            // By id: an answer may have changed the operation's result.
            self.classes.retain(|_, class| *class != open.class);
        }
    }

    fn answer(&mut self, key: OpKey, result: Option<KvResult>, response: u64, id: usize) {
        if let Some(open) = self.open.get_mut(&key) {
            open.operation.response = response;
            open.operation.id = id;
            if let Some(result) = result {
                open.operation.result = result;
            }
            self.answered.push(key);
        }
    }

    /// Takes in the answers that arrived, in time order.
    fn take_answers(&mut self, states_max: usize) {
        let mut answered = std::mem::take(&mut self.answered);
        answered.sort_by_key(|key| (self.open[key].operation.response, *key));
        for key in answered {
            let open = self
                .open
                .remove(&key)
                .expect("an answered operation is open");
            self.leave_class(&open);
            if self.status == Status::Open {
                self.linearize(&open, states_max);
            }
            self.log.push((open.operation, open.everywhere));
        }
        self.fold();
        self.pool.sweep();
    }

    /// Every configuration linearizes `answered` (just answered, already
    /// out of `open` and of its class): it holds one of its class's places
    /// it may hold, or it goes now, after any open operations invoked no
    /// later than its answer.
    fn linearize(&mut self, answered: &Open, states_max: usize) {
        let op = &answered.operation;
        let class = answered.class;
        let classes = class_table(&self.open, &|_| false);
        let invokes = classes.get(&class).map_or(&[][..], |(_, invokes)| invokes);
        let mut next: BTreeSet<Config<M>> = BTreeSet::new();
        // Each configuration with the idle classes met on the way to it.
        let mut seen: BTreeSet<(Config<M>, Vec<ClassId>)> = BTreeSet::new();
        let mut stack = Vec::new();
        for config in std::mem::take(&mut self.configs) {
            let slots = config.early.get(&class).cloned().unwrap_or_default();
            // One place per record: of the places with the same record it
            // may hold, the earliest one whose loss leaves the others
            // matchable (a later place admits more, so leaving it is
            // never worse).
            let mut held = false;
            let mut records_done: Vec<&Option<(Shared<M>, Shared<M>)>> = Vec::new();
            for (index, (time, record)) in slots.iter().enumerate() {
                if *time < op.invoke || records_done.contains(&record) {
                    continue;
                }
                let mut rest = slots.clone();
                rest.remove(index);
                let rest = canonical(rest, invokes);
                if !matchable(&rest, invokes) {
                    continue;
                }
                records_done.push(record);
                let fits = match record {
                    None => true,
                    // Linearized before its answer was known: that answer
                    // must lead to the state chosen then.
                    Some((before, after)) => before.successors(&op.op, &op.result).contains(after),
                };
                if fits {
                    held = true;
                    next.insert(config.clone().with_slots(class, rest));
                }
            }
            // A place held with its result known already is as good as
            // going now (whichever operation went now can take that place
            // at the next answer); with an answer that was not known, the
            // place's record may not fit it but another's, so both ways.
            if held && answered.result_known {
                continue;
            }
            let rest = canonical(slots, invokes);
            if !matchable(&rest, invokes) {
                continue;
            }
            let config = config.with_slots(class, rest);
            if seen.insert((config.clone(), Vec::new())) {
                stack.push((config, Root::Is, Vec::new()));
            }
        }
        while let Some((config, root, mut idle)) = stack.pop() {
            // Known-result operations that change nothing here are not
            // taken as steps (see `idle_places`): noted instead, for the
            // configurations below this one.
            let idle_here = idle_classes(&config, op.response, &classes);
            for class in &idle_here {
                if let Err(at) = idle.binary_search(class) {
                    idle.insert(at, *class);
                }
            }
            let successors = config.state.successors(&op.op, &op.result);
            let no_op = matches!(&successors[..], [only] if *only == *config.state);
            // The answered operation going now, after others linearized
            // early, changes nothing it would not change going first:
            // from a configuration it could go first and change nothing
            // (kept, as the root), the same others linearize at the next
            // answer to the same state with the same records, at later
            // places (which admit more). So that configuration adds
            // nothing; without this, every answer of a `CREATE` of a live
            // name or a read multiplies the configurations by every order
            // of the operations in flight (Lowe's just-in-time rule:
            // linearize early only what the answer needs).
            if !(no_op && root == Root::NoOp) {
                for state in successors {
                    let reached = Config {
                        state: self.pool.share(state),
                        early: config.early.clone(),
                    };
                    for variant in idle_places(&reached, &idle, op.response, &classes) {
                        next.insert(variant);
                    }
                    next.insert(reached);
                }
            }
            let below = match root {
                Root::Is if no_op => Root::NoOp,
                Root::Is => Root::Other,
                inherited => inherited,
            };
            let share = &mut |state| self.pool.share(state);
            let busy = |class: &ClassId| idle_here.binary_search(class).is_err();
            for (reached_state, early) in
                Partition::steps_of(&config, op.response, &classes, &busy, share)
            {
                let reached = (
                    Config {
                        state: reached_state,
                        early,
                    },
                    idle.clone(),
                );
                if !seen.contains(&reached) {
                    seen.insert(reached.clone());
                    stack.push((reached.0, below, reached.1));
                }
            }
            if seen.len() + next.len() > states_max {
                self.status = Status::Undecided {
                    explored: seen.len() + next.len(),
                };
                self.configs = next;
                return;
            }
        }
        let known: BTreeSet<ClassId> = classes
            .iter()
            .filter(|(_, (open, _))| open.result_known)
            .map(|(&class, _)| class)
            .collect();
        let next = prune(next, &known);
        if next.len() > states_max {
            self.status = Status::Undecided {
                explored: next.len(),
            };
        } else if next.is_empty() {
            self.status = Status::Refuted { stuck: op.id };
        }
        self.configs = next;
    }

    /// The configurations `config` leads to by linearizing one more open
    /// operation of `classes` invoked no later than `time`, one class at a
    /// time: which operation of a class goes is left open.
    fn steps(
        config: &Config<M>,
        time: u64,
        classes: &Classes<'_>,
        share: &mut dyn FnMut(M) -> Shared<M>,
    ) -> Vec<(Shared<M>, Early<M>)> {
        Partition::steps_of(config, time, classes, &|_| true, share)
    }

    /// [`Partition::steps`] of the classes `taken` accepts.
    fn steps_of(
        config: &Config<M>,
        time: u64,
        classes: &Classes<'_>,
        taken: &dyn Fn(&ClassId) -> bool,
        share: &mut dyn FnMut(M) -> Shared<M>,
    ) -> Vec<(Shared<M>, Early<M>)> {
        let mut reached = Vec::new();
        for (class, (open, invokes)) in classes.iter().filter(|(class, _)| taken(class)) {
            let taken = config.early.get(class).map_or(0, Vec::len);
            // The new place comes last (its time is the latest), so with
            // Hall's condition holding for the others, it holds for all
            // when the class has one more operation it admits.
            let admitted = invokes.partition_point(|&invoke| invoke <= time);
            if admitted > taken {
                reached.extend(config.step(open, canonical_time(time, invokes), share));
            }
        }
        reached
    }

    /// Once every linearization so far reaches one state with nothing open
    /// in it, what was answered is that state.
    fn fold(&mut self) {
        if self.log.len() <= LOG_KEPT {
            return;
        }
        if let [config] = &self.configs.iter().collect::<Vec<_>>()[..]
            && config.early.is_empty()
            && self.status == Status::Open
        {
            self.base = M::clone(&config.state);
            self.folded += self.log.len();
            self.log.clear();
        } else if self.log.len() > LOG_MAX {
            let drop = self.log.len() - LOG_KEPT;
            self.log.drain(..drop);
            self.lost = true;
        }
    }

    /// Whether some configuration can linearize every operation still open
    /// (those `dropped` excepted: they never happened), each as its known
    /// result or as indeterminate: `Err(explored)` past the bound.
    fn completes(&self, dropped: &dyn Fn(&Open) -> bool, states_max: usize) -> Result<bool, usize> {
        let classes = class_table(&self.open, dropped);
        let mut seen: BTreeSet<Config<M>> = BTreeSet::new();
        // Places held only by operations that never happened are no
        // linearization.
        let mut stack: Vec<Config<M>> = self
            .configs
            .iter()
            .filter(|config| {
                config.early.iter().all(|(class, slots)| {
                    matchable(slots, classes.get(class).map_or(&[][..], |(_, i)| i))
                })
            })
            .cloned()
            .collect();
        while let Some(config) = stack.pop() {
            let all = classes.iter().all(|(class, (_, invokes))| {
                config.early.get(class).map_or(0, Vec::len) == invokes.len()
            });
            if all {
                return Ok(true);
            }
            for (state, early) in Partition::steps(&config, u64::MAX, &classes, &mut Shared::new) {
                let reached = Config { state, early };
                if seen.insert(reached.clone()) {
                    stack.push(reached);
                }
            }
            if seen.len() > states_max {
                return Err(seen.len());
            }
        }
        Ok(false)
    }
}

/// Each class with open operations not `dropped`: one of them (they
/// are alike) and their invocations, sorted.
fn class_table<'a>(
    open: &'a BTreeMap<OpKey, Open>,
    dropped: &dyn Fn(&Open) -> bool,
) -> Classes<'a> {
    let mut table: BTreeMap<ClassId, (&Open, Vec<u64>)> = BTreeMap::new();
    for operation in open.values().filter(|operation| !dropped(operation)) {
        table
            .entry(operation.class)
            .or_insert_with(|| (operation, Vec::new()))
            .1
            .push(operation.operation.invoke);
    }
    for (_, invokes) in table.values_mut() {
        invokes.sort_unstable();
    }
    table
}

/// The classes of `classes` with a known result whose operation may go
/// at `config` (one more is invoked no later than `time` than it has
/// places) and would change nothing there: a `CREATE` of a name that is
/// there.
///
/// [`Partition::linearize`] does not take such an operation as a step of
/// its search: a configuration below the step differs from the one below
/// the same path without it only by one more place of the class, at the
/// answer's time, and when the operation changes nothing in the state
/// reached either, the configuration without the place beats it (it can
/// take the operation first at the next answer, to the same state, at a
/// later place, which admits more). Where the operation would change the
/// state reached (the name has died since), the configurations with the
/// places are not beaten, and [`idle_places`] adds them. Without this, `c`
/// such `CREATE`s in flight multiplied the configurations by `c` and the
/// search by more: a fuzzed case of 13 `CREATE a` casts beside four `PUT`s
/// took four seconds to check.
fn idle_classes<M: SequentialModel>(
    config: &Config<M>,
    time: u64,
    classes: &Classes<'_>,
) -> Vec<ClassId> {
    classes
        .iter()
        .filter(|(class, (open, invokes))| {
            open.result_known
                && invokes.partition_point(|&invoke| invoke <= time)
                    > config.early.get(class).map_or(0, Vec::len)
                && matches!(
                    &config.state.successors(&open.operation.op, &open.operation.result)[..],
                    [only] if *only == *config.state
                )
        })
        .map(|(&class, _)| class)
        .collect()
}

/// The configurations `reached` stands for with places of `idle` classes
/// taken on the way, where they are not beaten (see [`idle_classes`]): for
/// the classes whose operation would change `reached`'s state, every
/// combination of a number of places each may still take at `time`
/// (`reached` itself, with none, excepted).
fn idle_places<M: SequentialModel>(
    reached: &Config<M>,
    idle: &[ClassId],
    time: u64,
    classes: &Classes<'_>,
) -> Vec<Config<M>> {
    let mut variants = vec![reached.clone()];
    for class in idle {
        let Some((open, invokes)) = classes.get(class) else {
            continue;
        };
        let still_idle = matches!(
            &reached.state.successors(&open.operation.op, &open.operation.result)[..],
            [only] if *only == *reached.state
        );
        if still_idle {
            continue;
        }
        let admitted = invokes.partition_point(|&invoke| invoke <= time);
        let place: Slot<M> = (canonical_time(time, invokes), None);
        let mut more = Vec::new();
        for variant in &variants {
            let mut slots = variant.early.get(class).cloned().unwrap_or_default();
            while slots.len() < admitted {
                let at = slots.partition_point(|other| *other <= place);
                slots.insert(at, place.clone());
                more.push(variant.clone().with_slots(*class, slots.clone()));
            }
        }
        variants.extend(more);
    }
    variants.remove(0);
    variants
}

/// `configs` without those another one beats: equal to it but for the
/// times of the places of the `known` classes (results known, no
/// records), and no later at any of them. A later place admits every
/// operation an earlier one does, so whatever the beaten configuration
/// can still do, the other can (the same answers hold the same places, the
/// same operations go next): dropping it changes no verdict.
fn prune<M: SequentialModel>(
    configs: BTreeSet<Config<M>>,
    known: &BTreeSet<ClassId>,
) -> BTreeSet<Config<M>> {
    if known.is_empty() || configs.len() < 2 {
        return configs;
    }
    let mut groups: BTreeMap<Config<M>, Vec<Config<M>>> = BTreeMap::new();
    for config in configs {
        let mut shape = config.clone();
        for (class, slots) in shape.early.iter_mut() {
            if known.contains(class) {
                for slot in slots {
                    slot.0 = 0;
                }
            }
        }
        groups.entry(shape).or_default().push(config);
    }
    let mut kept = BTreeSet::new();
    for (_, mut group) in groups {
        // Only a configuration with a larger sum of times can beat one.
        let total = |config: &Config<M>| -> u128 {
            known
                .iter()
                .filter_map(|class| config.early.get(class))
                .flatten()
                .map(|slot| u128::from(slot.0))
                .sum()
        };
        group.sort_by_key(|config| std::cmp::Reverse(total(config)));
        let mut best: Vec<Config<M>> = Vec::new();
        for config in group {
            let beaten = best.iter().any(|other| {
                known.iter().all(
                    |class| match (other.early.get(class), config.early.get(class)) {
                        (Some(later), Some(earlier)) => {
                            later.iter().zip(earlier).all(|(a, b)| a.0 >= b.0)
                        }
                        _ => true,
                    },
                )
            });
            if !beaten {
                best.push(config);
            }
        }
        kept.extend(best);
    }
    kept
}

/// `slots` with each time brought down ([`canonical_time`]) and sorted.
fn canonical<M: Ord>(mut slots: Vec<Slot<M>>, invokes: &[u64]) -> Vec<Slot<M>> {
    for slot in &mut slots {
        slot.0 = canonical_time(slot.0, invokes);
    }
    slots.sort();
    slots
}

impl<M: SequentialModel> Config<M> {
    /// The configurations linearizing an operation of `open`'s class next,
    /// at a place of time `time`, leads to.
    fn step(
        &self,
        open: &Open,
        time: u64,
        share: &mut dyn FnMut(M) -> Shared<M>,
    ) -> Vec<(Shared<M>, Early<M>)> {
        let result = if open.result_known {
            &open.operation.result
        } else {
            &KvResult::Indeterminate
        };
        self.state
            .successors(&open.operation.op, result)
            .into_iter()
            .map(|state| {
                let state = share(state);
                let mut early = self.early.clone();
                let record = (!open.result_known).then(|| (self.state.clone(), state.clone()));
                let slots = early.slots_mut(open.class);
                let slot = (time, record);
                let at = slots.partition_point(|other| *other <= slot);
                slots.insert(at, slot);
                (state, early)
            })
            .collect()
    }

    /// This configuration with `class`'s places `slots` (none: no entry).
    fn with_slots(mut self, class: ClassId, slots: Vec<Slot<M>>) -> Config<M> {
        if slots.is_empty() {
            self.early.remove(&class);
        } else {
            self.early.insert(class, slots);
        }
        self
    }
}

/// Property 4 for a history fed as it happens: operations invoked, then
/// answered, in time order. At any point, [`Online::verdict`] is what
/// [`super::check_partitioned`] says of the history so far with every
/// operation still open taken as indeterminate (an unanswered `CREATE`
/// keeps its own result and is simply still in flight).
#[derive(Clone, Debug)]
pub struct Online<M: SequentialModel> {
    initial: M,
    states_max: usize,
    objects: BTreeMap<String, Partition<M>>,
    /// Only the `None`-partition operations: the verdict when no object
    /// has any operation.
    alone: Partition<M>,
    /// Every `None`-partition operation so far, for objects seen later.
    everywhere: Vec<(OpKey, Open)>,
    /// Where each open operation is: `None` for every object.
    open_in: BTreeMap<OpKey, Option<String>>,
    /// Objects with something to take in since the last verdict.
    dirty: BTreeSet<String>,
    /// Objects refuted or undecided, by name.
    refuted: BTreeSet<String>,
    undecided: BTreeSet<String>,
}

impl<M: SequentialModel> Online<M> {
    /// A checker starting from `initial`, holding at most `states_max`
    /// configurations per object at one answer.
    pub fn new(initial: M, states_max: usize) -> Online<M> {
        Online {
            alone: Partition::new(&initial),
            initial,
            states_max,
            objects: BTreeMap::new(),
            everywhere: Vec::new(),
            open_in: BTreeMap::new(),
            dirty: BTreeSet::new(),
            refuted: BTreeSet::new(),
            undecided: BTreeSet::new(),
        }
    }

    /// `operation` was invoked at `operation.invoke`; its result is known
    /// already (a `CREATE`'s, a model event's) when `result_known`,
    /// otherwise it comes with [`Online::answer`]. Its response is ignored.
    /// Every operation must be fed before any answer at a later step is
    /// taken in, i.e. before the [`Online::verdict`] after that step.
    pub fn invoke(&mut self, key: OpKey, mut operation: Operation, result_known: bool) {
        operation.response = u64::MAX;
        if !result_known {
            operation.result = KvResult::Indeterminate;
        }
        let partition = M::partition(&operation.op);
        let open = Open {
            operation,
            result_known,
            everywhere: partition.is_none(),
            class: 0,
        };
        match &partition {
            Some(name) => {
                if !self.objects.contains_key(name) {
                    self.objects.insert(name.clone(), self.object_from_start());
                }
                let object = self.objects.get_mut(name).expect("just made");
                object.invoke(key, open);
                self.dirty.insert(name.clone());
            }
            None => {
                self.everywhere.push((key, open.clone()));
                self.alone.invoke(key, open.clone());
                for (name, object) in &mut self.objects {
                    object.invoke(key, open.clone());
                    self.dirty.insert(name.clone());
                }
            }
        }
        self.open_in.insert(key, partition);
    }

    /// A new object: every `None`-partition operation so far, answered or
    /// not, was before anything of its own.
    fn object_from_start(&self) -> Partition<M> {
        let mut object = Partition::new(&self.initial);
        for (key, open) in &self.everywhere {
            let mut invoked = open.clone();
            let response = invoked.operation.response;
            invoked.operation.response = u64::MAX;
            object.invoke(*key, invoked);
            if response != u64::MAX {
                object.answer(
                    *key,
                    Some(open.operation.result.clone()),
                    response,
                    open.operation.id,
                );
            }
        }
        // Taken in with the next verdict, after this object's own
        // operations invoked before those answers.
        object
    }

    /// The operation `key` was answered at step `response`, with `result`
    /// (`None`: the result it was invoked with) and, from now on, history
    /// id `id`.
    pub fn answer(&mut self, key: OpKey, result: Option<KvResult>, response: u64, id: usize) {
        let Some(partition) = self.open_in.remove(&key) else {
            return;
        };
        match partition {
            Some(name) => {
                if let Some(object) = self.objects.get_mut(&name) {
                    object.answer(key, result, response, id);
                }
                self.dirty.insert(name);
            }
            None => {
                if let Some((_, open)) = self.everywhere.iter_mut().find(|(k, _)| *k == key) {
                    open.operation.response = response;
                    open.operation.id = id;
                    if let Some(result) = &result {
                        open.operation.result = result.clone();
                    }
                }
                self.alone.answer(key, result.clone(), response, id);
                for (name, object) in &mut self.objects {
                    object.answer(key, result.clone(), response, id);
                    self.dirty.insert(name.clone());
                }
            }
        }
    }

    /// An operation invoked and answered at once (a model event, or one
    /// invoked since the last verdict and already answered).
    pub fn record(&mut self, key: OpKey, operation: Operation) {
        let (result, response, id) = (operation.result.clone(), operation.response, operation.id);
        self.invoke(key, operation, true);
        self.answer(key, Some(result), response, id);
    }

    /// Takes in every answer fed so far and says what the batch checker
    /// would of the history so far: `Err` with the first object (in key
    /// order) that is not linearizable, `Ok(Some(_))` with the first one
    /// undecided, `Ok(None)` when every object is linearizable. With
    /// `at_end`, `CREATE`s never answered had no effect (the registry died
    /// before handling them) and are left out. `pending_id` gives each
    /// operation still waiting for its answer the id a report shows.
    pub fn verdict(
        &mut self,
        at_end: bool,
        pending_id: &dyn Fn(OpKey) -> usize,
    ) -> Result<Option<UndecidedPartition>, PartitionViolation> {
        self.alone.take_answers(self.states_max);
        for name in std::mem::take(&mut self.dirty) {
            let object = self.objects.get_mut(&name).expect("dirty objects exist");
            object.take_answers(self.states_max);
            let status = match object.status {
                Status::Open => match object.completes(&|_| false, self.states_max) {
                    Ok(true) => Status::Open,
                    Ok(false) => Status::Refuted { stuck: usize::MAX },
                    Err(explored) => Status::Undecided { explored },
                },
                ref decided => decided.clone(),
            };
            self.refuted.remove(&name);
            self.undecided.remove(&name);
            match status {
                Status::Open => {}
                Status::Refuted { .. } => {
                    self.refuted.insert(name);
                }
                Status::Undecided { .. } => {
                    self.undecided.insert(name);
                }
            }
        }
        if at_end {
            return self.verdict_at_end(pending_id);
        }
        if let Some(name) = self.refuted.first().cloned() {
            let object = &self.objects[&name];
            return Err(self.explain(Some(name), object, false, pending_id));
        }
        if let Some(name) = self.undecided.first() {
            return Ok(Some(self.undecided_report(Some(name.clone()), false)));
        }
        if self.objects.is_empty() && !self.everywhere.is_empty() {
            return self.alone_verdict(false, pending_id);
        }
        Ok(None)
    }

    fn verdict_at_end(
        &self,
        pending_id: &dyn Fn(OpKey) -> usize,
    ) -> Result<Option<UndecidedPartition>, PartitionViolation> {
        let mut undecided = None;
        let mut any = false;
        for (name, object) in &self.objects {
            let unanswered = object
                .open
                .values()
                .filter(|open| !open.everywhere && never_answered(open))
                .count();
            if object.own == unanswered {
                // Nothing of its own happened: the batch has no such object.
                continue;
            }
            any = true;
            let status = match &object.status {
                Status::Open => match object.completes(&never_answered, self.states_max) {
                    Ok(true) => Status::Open,
                    Ok(false) => Status::Refuted { stuck: usize::MAX },
                    Err(explored) => Status::Undecided { explored },
                },
                decided => decided.clone(),
            };
            match status {
                Status::Open => {}
                Status::Refuted { .. } => {
                    return Err(self.explain(Some(name.clone()), object, true, pending_id));
                }
                Status::Undecided { .. } => {
                    undecided
                        .get_or_insert_with(|| self.undecided_report(Some(name.clone()), true));
                }
            }
        }
        if !any && !self.everywhere.is_empty() {
            return self.alone_verdict(true, pending_id);
        }
        Ok(undecided)
    }

    fn alone_verdict(
        &self,
        at_end: bool,
        pending_id: &dyn Fn(OpKey) -> usize,
    ) -> Result<Option<UndecidedPartition>, PartitionViolation> {
        let dropped = |open: &Open| at_end && never_answered(open);
        match &self.alone.status {
            Status::Refuted { .. } => Err(self.explain(None, &self.alone, at_end, pending_id)),
            Status::Undecided { .. } => Ok(Some(self.undecided_report(None, at_end))),
            Status::Open => match self.alone.completes(&dropped, self.states_max) {
                Ok(true) => Ok(None),
                Ok(false) => Err(self.explain(None, &self.alone, at_end, pending_id)),
                Err(explored) => Ok(Some(UndecidedPartition {
                    partition: None,
                    operations: self.alone.log.len() + self.alone.open.len(),
                    states_explored: explored,
                    states_max: self.states_max,
                })),
            },
        }
    }

    fn undecided_report(&self, name: Option<String>, at_end: bool) -> UndecidedPartition {
        let object = match &name {
            Some(name) => &self.objects[name],
            None => &self.alone,
        };
        let explored = match object.status {
            Status::Undecided { explored } => explored,
            _ => object
                .completes(
                    &|open: &Open| at_end && never_answered(open),
                    self.states_max,
                )
                .err()
                .unwrap_or(0),
        };
        UndecidedPartition {
            partition: name,
            operations: object.folded
                + object.log.len()
                + object
                    .open
                    .values()
                    .filter(|open| !(at_end && never_answered(open)))
                    .count(),
            states_explored: explored,
            states_max: self.states_max,
        }
    }

    /// The object's subhistory as the batch checker is given it (its own
    /// operations in id order, then every `None`-partition one), searched
    /// again for the report: the longest linearizable prefix and what
    /// could not come next, from the last fold's state.
    fn explain(
        &self,
        name: Option<String>,
        object: &Partition<M>,
        at_end: bool,
        pending_id: &dyn Fn(OpKey) -> usize,
    ) -> PartitionViolation {
        let mut own = Vec::new();
        let mut everywhere = Vec::new();
        for (operation, is_everywhere) in &object.log {
            if *is_everywhere {
                everywhere.push(operation.clone());
            } else {
                own.push(operation.clone());
            }
        }
        for (&key, open) in &object.open {
            if at_end && never_answered(open) {
                continue;
            }
            let mut operation = open.operation.clone();
            if !open.result_known {
                operation.id = pending_id(key);
            }
            if open.everywhere {
                everywhere.push(operation);
            } else {
                own.push(operation);
            }
        }
        own.sort_by_key(|operation| operation.id);
        everywhere.sort_by_key(|operation| operation.id);
        own.extend(everywhere);
        let history = own;
        let stuck = match object.status {
            Status::Refuted { stuck } if stuck != usize::MAX => vec![stuck],
            _ => Vec::new(),
        };
        let violation = if object.lost {
            None
        } else {
            match check_bounded_from(object.base.clone(), &history, self.states_max) {
                Linearizability::NotLinearizable(violation) => Some(violation),
                _ => None,
            }
        };
        PartitionViolation {
            partition: name,
            history,
            violation: violation.unwrap_or(Violation {
                longest_prefix: Vec::new(),
                stuck_at: stuck,
            }),
            folded: object.folded,
        }
    }
}

/// A `CREATE` the registry never handled: at the end, it had no effect.
fn never_answered(open: &Open) -> bool {
    open.result_known && open.operation.response == u64::MAX
}

/// The object-safe face of [`Online`], for a model chosen at run time
/// ([`super::LinearizabilityModel::online`]); each method is [`Online`]'s.
pub trait OnlineCheck: Send {
    /// A copy that goes on independently (a search trying several
    /// continuations of one history).
    fn boxed_clone(&self) -> Box<dyn OnlineCheck>;
    fn invoke(&mut self, key: OpKey, operation: Operation, result_known: bool);
    fn answer(&mut self, key: OpKey, result: Option<KvResult>, response: u64, id: usize);
    fn record(&mut self, key: OpKey, operation: Operation);
    fn verdict(
        &mut self,
        at_end: bool,
        pending_id: &dyn Fn(OpKey) -> usize,
    ) -> Result<Option<UndecidedPartition>, PartitionViolation>;
}

impl<M: SequentialModel> OnlineCheck for Online<M> {
    fn boxed_clone(&self) -> Box<dyn OnlineCheck> {
        Box::new(self.clone())
    }

    fn invoke(&mut self, key: OpKey, operation: Operation, result_known: bool) {
        Online::invoke(self, key, operation, result_known)
    }

    fn answer(&mut self, key: OpKey, result: Option<KvResult>, response: u64, id: usize) {
        Online::answer(self, key, result, response, id)
    }

    fn record(&mut self, key: OpKey, operation: Operation) {
        Online::record(self, key, operation)
    }

    fn verdict(
        &mut self,
        at_end: bool,
        pending_id: &dyn Fn(OpKey) -> usize,
    ) -> Result<Option<UndecidedPartition>, PartitionViolation> {
        Online::verdict(self, at_end, pending_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::linearizability::KvModel;

    fn operation(id: usize, step: u64, op: KvOp, result: KvResult) -> Operation {
        Operation {
            id,
            client: Some(0),
            invoke: step,
            response: step,
            op,
            result,
        }
    }

    /// Every `PUT` of a long history makes a state no configuration holds
    /// two answers later; the pool must not keep them all.
    #[test]
    fn the_state_pool_stays_bounded_over_a_long_history() {
        let mut online = Online::new(KvModel::new(), 1_000);
        let create = KvOp::Create {
            name: "a".to_string(),
        };
        online.record(0, operation(0, 0, create, KvResult::None));
        let puts = 20_000;
        let mut largest = 0;
        for i in 1..=puts {
            let step = 2 * i as u64;
            let put = KvOp::Put {
                name: "a".to_string(),
                key: format!("k{i}"),
                value: "v".to_string(),
            };
            online.invoke(i as u64, operation(i, step, put, KvResult::Ok), false);
            online.answer(i as u64, Some(KvResult::Ok), step + 1, i);
            assert_eq!(online.verdict(false, &|_| 0), Ok(None));
            largest = largest.max(online.objects["a"].pool.states.len());
        }
        assert!(
            largest <= 2 * 1024 + 2,
            "the pool held {largest} states over {puts} answers"
        );
    }
}
