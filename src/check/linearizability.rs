//! Linearizability of KV histories (docs/design.md § Checking, property 4).
//!
//! A history is the operations of all clients together, each with the
//! interval from its invocation to its response (scheduler steps, closed
//! intervals), plus *model events*: a bucket's death and the registry's
//! death, each a point at the step it happened. The history is linearizable
//! when every operation can be given one point inside its interval so that,
//! in the order of those points, each operation's result is what a
//! sequential model allows from the state left by the ones before. The
//! model is a [`SequentialModel`]: the chapter's [`KvModel`] by default, or
//! a user's own for a registry with other semantics (a get-or-start
//! registry, say), chosen through [`LinearizabilityModel`].
//!
//! The search is the standard one:
//!
//! - J. M. Wing and C. Gong, "Testing and verifying concurrent objects",
//!   Journal of Parallel and Distributed Computing 17(1), 1993: depth-first
//!   search with backtracking over the order in which pending operations
//!   take effect.
//! - G. Lowe, "Testing for linearizability", Concurrency and Computation:
//!   Practice and Experience 29(4), 2017: memoise each configuration reached
//!   (the set of operations linearized so far and the model state), since
//!   the rest of the search depends only on that pair.
//! - A. Athalye, Porcupine (<https://github.com/anishathalye/porcupine>):
//!   the formulation followed here, a doubly linked list of call and return
//!   entries sorted by time; an operation may go next when its call entry
//!   precedes the first return entry still in the list.
//!
//! The model is nondeterministic in one place: an `ERROR` response
//! ([`KvResult::Indeterminate`]) may or may not have taken effect, so such an
//! operation has up to two successor states and the search tries both.
//! It still takes effect, if at all, inside its own interval.
//!
//! Linearizability is local (Herlihy and Wing, "Linearizability: a
//! correctness condition for concurrent objects", TOPLAS 12(3), 1990): a
//! history is linearizable iff each object's subhistory is. A model names
//! each operation's object ([`SequentialModel::partition`]) and
//! [`check_partitioned`] checks each object's subhistory on its own, which
//! keeps the exponential search small.
//!
//! The search is bounded by a number of distinct configurations
//! ([`check_bounded`]); past the bound the answer is
//! [`Linearizability::Unknown`], never a guess.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

pub mod data;
pub mod online;

pub use data::BucketData;

pub use online::{Online, OnlineCheck, OpKey};

/// The bound [`check`] uses: distinct (linearized set, state) configurations.
pub const DEFAULT_STATES_MAX: usize = 1_000_000;

/// What an operation does, as the sequential model sees it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KvOp {
    /// `CREATE name`: a cast to the registry.
    Create { name: String },
    /// `LOOKUP name`.
    Lookup { name: String },
    /// `PUT name key value`.
    Put {
        name: String,
        key: String,
        value: String,
    },
    /// `GET name key`.
    Get { name: String, key: String },
    /// `DELETE name key`.
    Delete { name: String, key: String },
    /// `STOP name` of a bucket: reads presence only; the bucket's death comes
    /// as a separate [`KvOp::BucketDied`] event.
    Stop { name: String },
    /// `CRASH` or `KILL` of a bucket: reads presence only, like [`KvOp::Stop`].
    Crash { name: String },
    /// Model event: the name's current bucket died, taking its name and data.
    BucketDied { name: String },
    /// Model event: the registry died; all names are gone and stay gone.
    RegistryDied,
}

impl KvOp {
    /// Deaths are observed by the harness, not requested by a client.
    pub fn is_model_event(&self) -> bool {
        matches!(self, KvOp::BucketDied { .. } | KvOp::RegistryDied)
    }

    /// The bucket name the operation is about; `None` for the registry's
    /// death, which concerns every name.
    pub fn name(&self) -> Option<&str> {
        match self {
            KvOp::Create { name }
            | KvOp::Lookup { name }
            | KvOp::Put { name, .. }
            | KvOp::Get { name, .. }
            | KvOp::Delete { name, .. }
            | KvOp::Stop { name }
            | KvOp::Crash { name }
            | KvOp::BucketDied { name } => Some(name),
            KvOp::RegistryDied => None,
        }
    }
}

impl fmt::Display for KvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOp::Create { name } => write!(f, "CREATE {name}"),
            KvOp::Lookup { name } => write!(f, "LOOKUP {name}"),
            KvOp::Put { name, key, value } => write!(f, "PUT {name} {key} {value}"),
            KvOp::Get { name, key } => write!(f, "GET {name} {key}"),
            KvOp::Delete { name, key } => write!(f, "DELETE {name} {key}"),
            KvOp::Stop { name } => write!(f, "STOP {name}"),
            KvOp::Crash { name } => write!(f, "CRASH {name}"),
            KvOp::BucketDied { name } => write!(f, "bucket {name} died"),
            KvOp::RegistryDied => f.write_str("registry died"),
        }
    }
}

/// What an operation answered.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KvResult {
    /// `OK`.
    Ok,
    /// `NOT FOUND`: the registry had no bucket under that name.
    NotFound,
    /// A `GET`'s answer: the value, or `None` when the key is absent.
    Value(Option<String>),
    /// `ERROR`: may or may not have taken effect; its output says nothing.
    Indeterminate,
    /// No answer: a `CREATE` (a cast) and the model events.
    None,
}

impl fmt::Display for KvResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvResult::Ok => f.write_str("OK"),
            KvResult::NotFound => f.write_str("NOT FOUND"),
            KvResult::Value(Some(value)) => write!(f, "value {value}"),
            KvResult::Value(None) => f.write_str("no value"),
            KvResult::Indeterminate => f.write_str("ERROR"),
            KvResult::None => f.write_str("no answer"),
        }
    }
}

/// One entry of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Anything that identifies the operation in a report.
    pub id: usize,
    /// The client that invoked it; `None` for model events.
    pub client: Option<u32>,
    /// The step it was invoked at (for a model event, the step it happened).
    pub invoke: u64,
    /// The step its response arrived (for a `CREATE`, the step the registry
    /// handled the cast; for a model event, equal to `invoke`). Closed
    /// interval: `a` happens before `b` iff `a.response < b.invoke`. An
    /// operation never answered may use `u64::MAX` with an indeterminate
    /// result.
    pub response: u64,
    pub op: KvOp,
    pub result: KvResult,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} ", self.id)?;
        match self.client {
            Some(client) => write!(f, "client {client} ")?,
            None => f.write_str("event ")?,
        }
        if self.invoke == self.response {
            write!(f, "at {}: {}", self.invoke, self.op)?;
        } else {
            write!(f, "over [{}, {}]: {}", self.invoke, self.response, self.op)?;
        }
        if self.result != KvResult::None {
            write!(f, " -> {}", self.result)?;
        }
        Ok(())
    }
}

/// A sequential specification for property 4, as the type of its states.
///
/// The search memoises (linearized operations, state) configurations, so a
/// state is `Ord`; it is `Send + Sync` so that threads can share a
/// configuration holding an initial state.
///
/// [`SequentialModel::partition`] must be honest: operations of different
/// partitions must commute and never influence each other's answers (the
/// model is a product of independent objects), and an operation whose
/// partition is `None` (the registry's death) acts on every object at
/// once. Otherwise checking each partition alone can miss violations.
///
/// [`KvResult::Indeterminate`] must be the most permissive answer: from
/// any state, every successor some other answer allows is also a successor
/// of an indeterminate one (an `ERROR` says nothing about what happened).
/// The online checker ([`Online`]) relies on it: it linearizes an operation
/// whose answer has not arrived yet as indeterminate and checks the real
/// answer against that choice when it comes.
pub trait SequentialModel: Clone + Ord + Send + Sync + 'static {
    /// Every state `op` answering `result` may lead to from this one,
    /// without duplicates: none when that answer is impossible here, and
    /// possibly several for a nondeterministic model (an
    /// [`KvResult::Indeterminate`] answer may or may not have taken effect).
    fn successors(&self, op: &KvOp, result: &KvResult) -> Vec<Self>;

    /// The object `op` is about (for the KV models, the bucket name), or
    /// `None` for an operation that concerns every object.
    fn partition(op: &KvOp) -> Option<String>;
}

/// The sequential specification: the registry's names, each bucket's data,
/// and whether the registry is still alive.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KvModel {
    /// Bucket name to that bucket's key-value pairs (a map that is cheap
    /// to copy and change, so that stepping a state with many keys costs
    /// O(log keys)).
    pub buckets: BTreeMap<String, BucketData>,
    /// Once false, stays false: there is no registry to create names in.
    pub registry_alive: bool,
}

impl Default for KvModel {
    fn default() -> KvModel {
        KvModel::new()
    }
}

impl KvModel {
    /// A live registry with no names.
    pub fn new() -> KvModel {
        KvModel {
            buckets: BTreeMap::new(),
            registry_alive: true,
        }
    }

    /// The state after `op` answered `result`, or `None` when that answer is
    /// impossible from this state.
    ///
    /// Every client operation except `CREATE` asks the registry first, so
    /// once the registry is dead only [`KvResult::Indeterminate`] is legal
    /// for them. For an indeterminate result this returns the state in which
    /// the operation *did* take effect; [`KvModel::successors`] also gives
    /// the one in which it did not.
    pub fn apply(&self, op: &KvOp, result: &KvResult) -> Option<KvModel> {
        let legal = match result {
            KvResult::Indeterminate => !op.is_model_event(),
            _ => self.answer_is_legal(op, result),
        };
        legal.then(|| self.with_effect_of(op))
    }

    /// Every state `op` answering `result` may lead to, without duplicates:
    /// none when the answer is impossible, two for an indeterminate
    /// operation that changes the state when it takes effect.
    pub fn successors(&self, op: &KvOp, result: &KvResult) -> Vec<KvModel> {
        let Some(took_effect) = self.apply(op, result) else {
            return Vec::new();
        };
        if *result == KvResult::Indeterminate && took_effect != *self {
            vec![took_effect, self.clone()]
        } else {
            vec![took_effect]
        }
    }

    fn bucket_present(&self, name: &str) -> bool {
        self.buckets.contains_key(name)
    }

    /// Whether `result` is a possible answer to `op` from this state, for
    /// every result but `Indeterminate`.
    fn answer_is_legal(&self, op: &KvOp, result: &KvResult) -> bool {
        match op {
            KvOp::Create { .. } | KvOp::BucketDied { .. } | KvOp::RegistryDied => {
                *result == KvResult::None
            }
            KvOp::Lookup { name }
            | KvOp::Put { name, .. }
            | KvOp::Delete { name, .. }
            | KvOp::Stop { name }
            | KvOp::Crash { name } => {
                self.registry_alive
                    && match result {
                        KvResult::Ok => self.bucket_present(name),
                        KvResult::NotFound => !self.bucket_present(name),
                        _ => false,
                    }
            }
            KvOp::Get { name, key } => {
                self.registry_alive
                    && match (result, self.buckets.get(name)) {
                        (KvResult::Value(seen), Some(data)) => data.get(key) == seen.as_deref(),
                        (KvResult::NotFound, None) => true,
                        _ => false,
                    }
            }
        }
    }

    /// The state after `op` took effect. Only called once its answer is
    /// known to be legal (or indeterminate), so an operation on an absent
    /// bucket simply changes nothing.
    fn with_effect_of(&self, op: &KvOp) -> KvModel {
        let mut next = self.clone();
        match op {
            KvOp::Create { name } => {
                // A registry that already names a bucket leaves it alone;
                // a dead registry handles nothing.
                if next.registry_alive {
                    next.buckets.entry(name.clone()).or_default();
                }
            }
            KvOp::Put { name, key, value } => {
                if let Some(data) = next.buckets.get_mut(name) {
                    data.insert(key.clone(), value.clone());
                }
            }
            KvOp::Delete { name, key } => {
                if let Some(data) = next.buckets.get_mut(name) {
                    data.remove(key);
                }
            }
            KvOp::BucketDied { name } => {
                next.buckets.remove(name);
            }
            KvOp::RegistryDied => {
                next.buckets.clear();
                next.registry_alive = false;
            }
            KvOp::Lookup { .. } | KvOp::Get { .. } | KvOp::Stop { .. } | KvOp::Crash { .. } => {}
        }
        next
    }
}

impl SequentialModel for KvModel {
    fn successors(&self, op: &KvOp, result: &KvResult) -> Vec<KvModel> {
        KvModel::successors(self, op, result)
    }

    /// The bucket name; the registry's death concerns every name.
    fn partition(op: &KvOp) -> Option<String> {
        op.name().map(str::to_string)
    }
}

/// Why a history is not linearizable: where the deepest attempt got stuck.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Ids of the longest linearizable prefix found, in linearization order.
    pub longest_prefix: Vec<usize>,
    /// Ids of the operations that could have gone next after that prefix
    /// (their calls precede the first pending response) but whose results
    /// the model rejects there.
    pub stuck_at: Vec<usize>,
}

impl Violation {
    /// A multi-line account naming each operation, for a failure report.
    pub fn explain(&self, history: &[Operation]) -> String {
        let describe = |id: &usize| match history.iter().find(|op| op.id == *id) {
            Some(op) => format!("  {op}\n"),
            None => format!("  #{id} (not in this history)\n"),
        };
        let mut text = format!("{self}\nlongest linearizable prefix, in order:\n");
        if self.longest_prefix.is_empty() {
            text.push_str("  (empty)\n");
        }
        text.extend(self.longest_prefix.iter().map(describe));
        text.push_str("none of these can come next:\n");
        text.extend(self.stuck_at.iter().map(describe));
        text
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not linearizable: after the longest linearizable prefix {:?} ({} ops), none of {:?} can come next",
            self.longest_prefix,
            self.longest_prefix.len(),
            self.stuck_at
        )
    }
}

/// The outcome of a bounded search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Linearizability {
    Linearizable,
    NotLinearizable(Violation),
    /// The bound was reached before the search could decide.
    Unknown {
        states_explored: usize,
    },
}

impl fmt::Display for Linearizability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Linearizability::Linearizable => f.write_str("linearizable"),
            Linearizability::NotLinearizable(violation) => violation.fmt(f),
            Linearizability::Unknown { states_explored } => write!(
                f,
                "linearizability unknown: search stopped after {states_explored} states"
            ),
        }
    }
}

/// Whether `history` is linearizable against [`KvModel`], searching at most
/// [`DEFAULT_STATES_MAX`] configurations. The order of `history` does not
/// matter.
///
/// # Panics
///
/// If the bound is reached (use [`check_bounded`] to get
/// [`Linearizability::Unknown`] instead), or as [`check_bounded`] does.
pub fn check(history: &[Operation]) -> Result<(), Violation> {
    match check_bounded(history, DEFAULT_STATES_MAX) {
        Linearizability::Linearizable => Ok(()),
        Linearizability::NotLinearizable(violation) => Err(violation),
        unknown @ Linearizability::Unknown { .. } => {
            panic!("{unknown}: use check_bounded to handle the limit")
        }
    }
}

/// Whether `history` is linearizable against [`KvModel`], exploring at most
/// `states_max` distinct (linearized set, model state) configurations.
///
/// # Panics
///
/// If an operation responds before it is invoked (`response < invoke`).
pub fn check_bounded(history: &[Operation], states_max: usize) -> Linearizability {
    check_bounded_from(KvModel::new(), history, states_max)
}

/// Whether `history`, as one object, is linearizable against the model
/// whose initial state is `initial`, exploring at most `states_max`
/// distinct (linearized set, state) configurations.
///
/// # Panics
///
/// If an operation responds before it is invoked (`response < invoke`).
pub fn check_bounded_from<M: SequentialModel>(
    initial: M,
    history: &[Operation],
    states_max: usize,
) -> Linearizability {
    for operation in history {
        assert!(
            operation.invoke <= operation.response,
            "operation {operation} responds before it is invoked"
        );
    }
    Search::new(history, states_max).run(initial)
}

/// One partition's subhistory that is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionViolation {
    /// The object, as [`SequentialModel::partition`] names it; `None` when
    /// the history had only operations that concern every object.
    pub partition: Option<String>,
    /// That object's subhistory (with every `None`-partition operation),
    /// after the `folded` operations it started from.
    pub history: Vec<Operation>,
    pub violation: Violation,
    /// Operations of the object before `history`, linearizable and folded
    /// into the state the search of `history` started from (the online
    /// checker drops what it no longer needs, [`online::LOG_KEPT`]); 0 when
    /// `history` is the object's whole subhistory.
    pub folded: usize,
}

impl PartitionViolation {
    /// A multi-line account naming each operation, for a failure report.
    pub fn explain(&self) -> String {
        let text = self.violation.explain(&self.history);
        if self.folded == 0 {
            return text;
        }
        let marker = "longest linearizable prefix, in order:\n";
        let folded = format!(
            "  ({} earlier operations of this object, linearizable, folded into one state)\n",
            self.folded
        );
        text.replacen(marker, &format!("{marker}{folded}"), 1)
    }
}

/// An object whose subhistory the search could not decide within its
/// bound: neither a linearization nor a refutation was found after
/// `states_explored` distinct configurations (the bound is `states_max`).
/// Never a pass and never a failure: an unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UndecidedPartition {
    /// The object, as [`SequentialModel::partition`] names it; `None` when
    /// the history had only operations that concern every object.
    pub partition: Option<String>,
    /// Operations in that object's subhistory (model events included).
    pub operations: usize,
    pub states_explored: usize,
    /// The bound that was reached: distinct (linearized set, state)
    /// configurations per object.
    pub states_max: usize,
}

impl fmt::Display for UndecidedPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let object = match &self.partition {
            Some(object) => format!("object {object:?}"),
            None => "the history".to_string(),
        };
        write!(
            f,
            "the search of {object} ({} operations) reached its bound of {} configurations",
            self.operations, self.states_max
        )
    }
}

/// Checks each object's subhistory on its own (linearizability is local),
/// objects in order of their partition keys. `Err` with the first object
/// that is not linearizable, if any; otherwise `Ok(None)` when every
/// object is linearizable, and `Ok(Some(_))` naming the first object whose
/// search reached `states_max` without deciding (an unknown, never a
/// guess: the history is neither passed nor failed). A refutation of any
/// object wins over an unknown of another, since one refuted object makes
/// the whole history non-linearizable.
pub fn check_partitioned<M: SequentialModel>(
    initial: &M,
    history: &[Operation],
    states_max: usize,
) -> Result<Option<UndecidedPartition>, PartitionViolation> {
    let mut by_object: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
    let mut everywhere = Vec::new();
    for operation in history {
        match M::partition(&operation.op) {
            Some(object) => by_object.entry(object).or_default().push(operation.clone()),
            None => everywhere.push(operation.clone()),
        }
    }
    let mut objects: Vec<(Option<String>, Vec<Operation>)> = by_object
        .into_iter()
        .map(|(object, mut operations)| {
            operations.extend(everywhere.iter().cloned());
            (Some(object), operations)
        })
        .collect();
    if objects.is_empty() && !everywhere.is_empty() {
        objects.push((None, everywhere));
    }
    let mut undecided = None;
    for (partition, operations) in objects {
        match check_bounded_from(initial.clone(), &operations, states_max) {
            Linearizability::Linearizable => {}
            Linearizability::NotLinearizable(violation) => {
                return Err(PartitionViolation {
                    partition,
                    history: operations,
                    violation,
                    folded: 0,
                });
            }
            Linearizability::Unknown { states_explored } => {
                undecided.get_or_insert(UndecidedPartition {
                    partition,
                    operations: operations.len(),
                    states_explored,
                    states_max,
                });
            }
        }
    }
    Ok(undecided)
}

/// The sequential model property 4 checks against, type-erased so that a
/// [`CheckConfig`](crate::check::CheckConfig) can hold any
/// [`SequentialModel`] and stay `Clone + Send + Sync`. The default is the
/// chapter's [`KvModel`].
#[derive(Clone)]
pub struct LinearizabilityModel {
    model: Arc<dyn ErasedModel>,
}

impl LinearizabilityModel {
    /// The model whose initial state is `initial`.
    pub fn new<M: SequentialModel + fmt::Debug>(initial: M) -> LinearizabilityModel {
        LinearizabilityModel {
            model: Arc::new(initial),
        }
    }

    /// A checker fed the history as it happens ([`Online`]), with this
    /// model's initial state and a bound of `states_max` configurations per
    /// object at one answer.
    pub fn online(&self, states_max: usize) -> Box<dyn OnlineCheck> {
        self.model.online(states_max)
    }

    /// The object `op` is about ([`SequentialModel::partition`]): `None`
    /// for an operation that concerns every object.
    pub fn partition(&self, op: &KvOp) -> Option<String> {
        self.model.partition(op)
    }

    /// [`check_partitioned`] against this model.
    pub fn check(
        &self,
        history: &[Operation],
        states_max: usize,
    ) -> Result<Option<UndecidedPartition>, PartitionViolation> {
        self.model.check(history, states_max)
    }
}

impl Default for LinearizabilityModel {
    /// The chapter's [`KvModel`], from a live registry with no names.
    fn default() -> LinearizabilityModel {
        LinearizabilityModel::new(KvModel::new())
    }
}

impl fmt::Debug for LinearizabilityModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LinearizabilityModel")
            .field(&self.model.describe())
            .finish()
    }
}

/// The object-safe face of a [`SequentialModel`]'s initial state.
trait ErasedModel: Send + Sync {
    fn partition(&self, op: &KvOp) -> Option<String>;
    fn check(
        &self,
        history: &[Operation],
        states_max: usize,
    ) -> Result<Option<UndecidedPartition>, PartitionViolation>;
    fn online(&self, states_max: usize) -> Box<dyn OnlineCheck>;
    fn describe(&self) -> String;
}

impl<M: SequentialModel + fmt::Debug> ErasedModel for M {
    fn partition(&self, op: &KvOp) -> Option<String> {
        M::partition(op)
    }

    fn check(
        &self,
        history: &[Operation],
        states_max: usize,
    ) -> Result<Option<UndecidedPartition>, PartitionViolation> {
        check_partitioned(self, history, states_max)
    }

    fn online(&self, states_max: usize) -> Box<dyn OnlineCheck> {
        Box::new(Online::new(self.clone(), states_max))
    }

    fn describe(&self) -> String {
        format!("{self:?}")
    }
}

/// A set of operation indices, as words so that it can be part of a
/// memoisation key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct OpSet {
    words: Vec<u64>,
}

impl OpSet {
    fn with_capacity(ops: usize) -> OpSet {
        OpSet {
            words: vec![0; ops.div_ceil(64)],
        }
    }

    fn insert(&mut self, op: usize) {
        self.words[op / 64] |= 1 << (op % 64);
    }

    fn remove(&mut self, op: usize) {
        self.words[op / 64] &= !(1 << (op % 64));
    }
}

/// The call and return entries of a history, sorted by time, as a doubly
/// linked list over indices ("dancing links"): lifting an operation unlinks
/// its two entries but keeps their own links, so unlifting in the reverse
/// order puts them back exactly.
struct EntryList {
    prev: Vec<usize>,
    next: Vec<usize>,
    /// For each node: the history index of its operation.
    op_of: Vec<usize>,
    /// For each call node: its operation's return node; `None` for returns.
    return_of: Vec<Option<usize>>,
}

/// Node 0 is the head sentinel; entries are nodes `1..=2n`; the tail
/// sentinel is node `2n + 1`.
const HEAD: usize = 0;

impl EntryList {
    fn new(history: &[Operation]) -> EntryList {
        // At equal times calls sort before returns: intervals are closed, so
        // an operation invoked at the step another responds is concurrent
        // with it. The history index breaks remaining ties, deterministically.
        const CALL: u8 = 0;
        const RETURN: u8 = 1;
        let mut entries: Vec<(u64, u8, usize)> = history
            .iter()
            .enumerate()
            .flat_map(|(index, op)| [(op.invoke, CALL, index), (op.response, RETURN, index)])
            .collect();
        entries.sort_unstable();

        let nodes = entries.len() + 2;
        let tail = nodes - 1;
        let mut op_of = vec![usize::MAX; nodes];
        let mut return_of = vec![None; nodes];
        let mut call_node_of_op = vec![usize::MAX; history.len()];
        for (position, &(_, kind, index)) in entries.iter().enumerate() {
            let node = position + 1;
            op_of[node] = index;
            if kind == CALL {
                call_node_of_op[index] = node;
            } else {
                return_of[call_node_of_op[index]] = Some(node);
            }
        }
        EntryList {
            prev: (0..nodes).map(|node| node.saturating_sub(1)).collect(),
            next: (0..nodes).map(|node| (node + 1).min(tail)).collect(),
            op_of,
            return_of,
        }
    }

    fn first(&self) -> usize {
        self.next[HEAD]
    }

    fn is_empty(&self) -> bool {
        self.first() == self.tail()
    }

    fn tail(&self) -> usize {
        self.next.len() - 1
    }

    fn unlink(&mut self, node: usize) {
        let (before, after) = (self.prev[node], self.next[node]);
        self.next[before] = after;
        self.prev[after] = before;
    }

    fn relink(&mut self, node: usize) {
        let (before, after) = (self.prev[node], self.next[node]);
        self.next[before] = node;
        self.prev[after] = node;
    }

    /// Takes a linearized operation's call and return entries out.
    fn lift(&mut self, call: usize) {
        let ret = self.return_of[call].expect("lift takes a call entry");
        self.unlink(call);
        self.unlink(ret);
    }

    /// Undoes the latest [`EntryList::lift`], which must be of `call`.
    fn unlift(&mut self, call: usize) {
        let ret = self.return_of[call].expect("unlift takes a call entry");
        self.relink(ret);
        self.relink(call);
    }

    /// The operations that may go next: calls before the first return.
    fn candidates(&self) -> Vec<usize> {
        let mut ops = Vec::new();
        let mut node = self.first();
        while node != self.tail() && self.return_of[node].is_some() {
            ops.push(self.op_of[node]);
            node = self.next[node];
        }
        ops
    }
}

/// One linearized operation on the backtracking stack.
struct Frame<M> {
    call: usize,
    state_before: M,
    /// Which of the operation's successor states was taken.
    choice: usize,
}

struct Search<'h> {
    history: &'h [Operation],
    states_max: usize,
    entries: EntryList,
}

impl<'h> Search<'h> {
    fn new(history: &'h [Operation], states_max: usize) -> Search<'h> {
        Search {
            history,
            states_max,
            entries: EntryList::new(history),
        }
    }

    fn ids(&self, ops: impl IntoIterator<Item = usize>) -> Vec<usize> {
        ops.into_iter().map(|op| self.history[op].id).collect()
    }

    fn run<M: SequentialModel>(mut self, initial: M) -> Linearizability {
        let mut state = initial;
        let mut linearized = OpSet::with_capacity(self.history.len());
        // Lowe's memoisation: a configuration already reached leads nowhere
        // new, whichever order of the same operations reached it.
        let mut seen: BTreeSet<(OpSet, M)> = BTreeSet::new();
        let mut stack: Vec<Frame<M>> = Vec::new();
        let mut deepest = Violation {
            longest_prefix: Vec::new(),
            stuck_at: self.ids(self.entries.candidates()),
        };

        let mut node = self.entries.first();
        let mut first_choice = 0;
        while !self.entries.is_empty() {
            let is_return = self.entries.return_of[node].is_none();
            if is_return {
                // The first pending response: its operation had to be
                // linearized before it, and every candidate failed from this
                // configuration. Undo the latest choice and try its next one.
                let Some(frame) = stack.pop() else {
                    return Linearizability::NotLinearizable(deepest);
                };
                self.entries.unlift(frame.call);
                linearized.remove(self.entries.op_of[frame.call]);
                state = frame.state_before;
                node = frame.call;
                first_choice = frame.choice + 1;
                continue;
            }

            let op_index = self.entries.op_of[node];
            let operation = &self.history[op_index];
            let mut took = None;
            linearized.insert(op_index);
            for (choice, next_state) in state
                .successors(&operation.op, &operation.result)
                .into_iter()
                .enumerate()
                .skip(first_choice)
            {
                let configuration = (linearized.clone(), next_state);
                if seen.contains(&configuration) {
                    continue;
                }
                if seen.len() >= self.states_max {
                    return Linearizability::Unknown {
                        states_explored: seen.len(),
                    };
                }
                took = Some((choice, configuration.1.clone()));
                seen.insert(configuration);
                break;
            }
            match took {
                Some((choice, next_state)) => {
                    stack.push(Frame {
                        call: node,
                        state_before: std::mem::replace(&mut state, next_state),
                        choice,
                    });
                    self.entries.lift(node);
                    if stack.len() > deepest.longest_prefix.len() {
                        deepest = Violation {
                            longest_prefix: self
                                .ids(stack.iter().map(|f| self.entries.op_of[f.call])),
                            stuck_at: self.ids(self.entries.candidates()),
                        };
                    }
                    node = self.entries.first();
                }
                None => {
                    linearized.remove(op_index);
                    node = self.entries.next[node];
                }
            }
            first_choice = 0;
        }
        Linearizability::Linearizable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_op(
        id: usize,
        client: u32,
        span: (u64, u64),
        op: KvOp,
        result: KvResult,
    ) -> Operation {
        Operation {
            id,
            client: Some(client),
            invoke: span.0,
            response: span.1,
            op,
            result,
        }
    }

    fn event(id: usize, at: u64, op: KvOp) -> Operation {
        Operation {
            id,
            client: None,
            invoke: at,
            response: at,
            op,
            result: KvResult::None,
        }
    }

    fn create(name: &str) -> KvOp {
        KvOp::Create { name: name.into() }
    }
    fn lookup(name: &str) -> KvOp {
        KvOp::Lookup { name: name.into() }
    }
    fn put(name: &str, key: &str, value: &str) -> KvOp {
        KvOp::Put {
            name: name.into(),
            key: key.into(),
            value: value.into(),
        }
    }
    fn get(name: &str, key: &str) -> KvOp {
        KvOp::Get {
            name: name.into(),
            key: key.into(),
        }
    }
    fn delete(name: &str, key: &str) -> KvOp {
        KvOp::Delete {
            name: name.into(),
            key: key.into(),
        }
    }
    fn bucket_died(name: &str) -> KvOp {
        KvOp::BucketDied { name: name.into() }
    }
    fn value(v: &str) -> KvResult {
        KvResult::Value(Some(v.into()))
    }

    fn assert_linearizable(history: &[Operation]) {
        if let Err(violation) = check(history) {
            panic!("expected linearizable, got {}", violation.explain(history));
        }
    }

    fn assert_violation(history: &[Operation]) -> Violation {
        check(history).expect_err("expected a linearizability violation")
    }

    // ---- The model on its own ----

    #[test]
    fn model_answers_follow_presence_and_registry_liveness() {
        let empty = KvModel::new();
        assert!(empty.apply(&lookup("a"), &KvResult::Ok).is_none());
        let with_a = empty.apply(&create("a"), &KvResult::None).unwrap();
        assert_eq!(
            with_a.apply(&lookup("a"), &KvResult::Ok),
            Some(with_a.clone())
        );
        assert_eq!(
            with_a.apply(&create("a"), &KvResult::None),
            Some(with_a.clone())
        );
        assert!(with_a.apply(&create("a"), &KvResult::Ok).is_none());

        let dead = with_a.apply(&KvOp::RegistryDied, &KvResult::None).unwrap();
        assert!(!dead.registry_alive && dead.buckets.is_empty());
        assert!(dead.apply(&lookup("a"), &KvResult::NotFound).is_none());
        assert!(
            dead.apply(&put("a", "k", "v"), &KvResult::NotFound)
                .is_none()
        );
        assert_eq!(
            dead.apply(&lookup("a"), &KvResult::Indeterminate),
            Some(dead.clone())
        );
        // A CREATE cast to a dead registry is legal and does nothing.
        assert_eq!(
            dead.apply(&create("a"), &KvResult::None),
            Some(dead.clone())
        );
    }

    #[test]
    fn model_gives_both_successors_of_an_indeterminate_write_only() {
        let with_a = KvModel::new().apply(&create("a"), &KvResult::None).unwrap();
        let both = with_a.successors(&put("a", "k", "v"), &KvResult::Indeterminate);
        assert_eq!(both.len(), 2);
        assert_eq!(&both[0].buckets["a"]["k"], "v");
        assert_eq!(both[1], with_a);
        // A read changes nothing either way: one successor.
        assert_eq!(
            with_a.successors(&get("a", "k"), &KvResult::Indeterminate),
            vec![with_a.clone()]
        );
        // Model events have no answer to be indeterminate about.
        assert!(
            with_a
                .successors(&KvOp::RegistryDied, &KvResult::Indeterminate)
                .is_empty()
        );
    }

    // ---- Linearizable histories ----

    #[test]
    fn accepts_empty_history() {
        assert_linearizable(&[]);
    }

    /// (a) The CREATE-cast race. The PUT overlaps the CREATE's interval, so
    /// it may take effect before the registry handled the cast.
    ///
    /// ```text
    /// client 0  [1 CREATE a ....................... 4]   (4: registry handles the cast)
    /// client 1       [2 PUT a k v -> NOT FOUND 3]
    /// ```
    #[test]
    fn accepts_put_not_found_racing_a_create_cast() {
        assert_linearizable(&[
            client_op(0, 0, (1, 4), create("a"), KvResult::None),
            client_op(1, 1, (2, 3), put("a", "k", "v"), KvResult::NotFound),
        ]);
    }

    /// A plain sequential session, including a death and a re-creation.
    ///
    /// ```text
    /// c0 [1 CREATE a 2] [3 PUT a k v OK 4] [5 GET a k -> v 6] [7 DELETE a k OK 8]
    ///    [9 GET a k -> none 10]   * a died 11   [12 LOOKUP a -> NOT FOUND 13]
    ///    [14 CREATE a 15] [16 GET a k -> none 17]
    /// ```
    #[test]
    fn accepts_sequential_session_with_death_and_recreation() {
        assert_linearizable(&[
            client_op(0, 0, (1, 2), create("a"), KvResult::None),
            client_op(1, 0, (3, 4), put("a", "k", "v"), KvResult::Ok),
            client_op(2, 0, (5, 6), get("a", "k"), value("v")),
            client_op(3, 0, (7, 8), delete("a", "k"), KvResult::Ok),
            client_op(4, 0, (9, 10), get("a", "k"), KvResult::Value(None)),
            event(5, 11, bucket_died("a")),
            client_op(6, 0, (12, 13), lookup("a"), KvResult::NotFound),
            client_op(7, 0, (14, 15), create("a"), KvResult::None),
            client_op(8, 0, (16, 17), get("a", "k"), KvResult::Value(None)),
        ]);
    }

    /// (d) Two concurrent PUTs; a GET overlapping both may see either value,
    /// and a later GET must agree with the order the first one implies.
    ///
    /// ```text
    /// c0 [1 CREATE a 2]
    /// c0           [3 PUT a k 1 ......... 8]
    /// c1             [4 PUT a k 2 ...... 8]
    /// c2               [5 GET a k -> X 6]
    /// c2                                   [9 GET a k -> Y 10]
    /// ```
    /// (X, Y) in {(1, 2), (2, 1), (1, 1), (2, 2)}: all accepted.
    #[test]
    fn accepts_get_seeing_either_of_two_concurrent_puts() {
        for (first_seen, last_seen) in [("1", "2"), ("2", "1"), ("1", "1"), ("2", "2")] {
            assert_linearizable(&[
                client_op(0, 0, (1, 2), create("a"), KvResult::None),
                client_op(1, 0, (3, 8), put("a", "k", "1"), KvResult::Ok),
                client_op(2, 1, (4, 8), put("a", "k", "2"), KvResult::Ok),
                client_op(3, 2, (5, 6), get("a", "k"), value(first_seen)),
                client_op(4, 2, (9, 10), get("a", "k"), value(last_seen)),
            ]);
        }
    }

    /// (e) A PUT answered ERROR may have taken effect or not: a later GET
    /// may see its value, or no value.
    ///
    /// ```text
    /// c0 [1 CREATE a 2] [3 PUT a k v -> ERROR 4] [5 GET a k -> v | none 6]
    /// ```
    #[test]
    fn accepts_indeterminate_put_both_ways() {
        for seen in [value("v"), KvResult::Value(None)] {
            assert_linearizable(&[
                client_op(0, 0, (1, 2), create("a"), KvResult::None),
                client_op(1, 0, (3, 4), put("a", "k", "v"), KvResult::Indeterminate),
                client_op(2, 0, (5, 6), get("a", "k"), seen),
            ]);
        }
    }

    /// A LOOKUP whose interval contains the registry's death may linearize
    /// before it; later operations can only fail.
    ///
    /// ```text
    /// c0 [1 CREATE a 2]
    /// c1                [3 LOOKUP a -> OK ..... 6]
    ///                          * registry died 4
    /// c0                                          [7 GET a k -> ERROR 8] [9 CREATE a 10]
    /// c0                                          [11 LOOKUP a -> ERROR 12]
    /// ```
    #[test]
    fn accepts_lookup_overlapping_registry_death() {
        assert_linearizable(&[
            client_op(0, 0, (1, 2), create("a"), KvResult::None),
            client_op(1, 1, (3, 6), lookup("a"), KvResult::Ok),
            event(2, 4, KvOp::RegistryDied),
            client_op(3, 0, (7, 8), get("a", "k"), KvResult::Indeterminate),
            client_op(4, 0, (9, 10), create("a"), KvResult::None),
            client_op(5, 0, (11, 12), lookup("a"), KvResult::Indeterminate),
        ]);
    }

    /// (g) The same race as (a) plus a later GET, given to the checker in
    /// reverse order: it sorts by time itself.
    ///
    /// ```text
    /// c0 [1 CREATE a ..................... 4]
    /// c1      [2 PUT a k v -> NOT FOUND 3]
    /// c1                                      [5 PUT a k v -> OK 6] [7 GET a k -> v 8]
    /// ```
    #[test]
    fn accepts_history_given_out_of_order() {
        let mut history = vec![
            client_op(10, 0, (1, 4), create("a"), KvResult::None),
            client_op(11, 1, (2, 3), put("a", "k", "v"), KvResult::NotFound),
            client_op(12, 1, (5, 6), put("a", "k", "v"), KvResult::Ok),
            client_op(13, 1, (7, 8), get("a", "k"), value("v")),
        ];
        history.reverse();
        assert_linearizable(&history);
    }

    /// An operation invoked at the very step another responds overlaps it
    /// (closed intervals), so either order is allowed.
    ///
    /// ```text
    /// c0 [1 CREATE a 3]
    /// c1             [3 LOOKUP a -> NOT FOUND 4]
    /// ```
    #[test]
    fn accepts_ops_touching_at_one_step_in_either_order() {
        assert_linearizable(&[
            client_op(0, 0, (1, 3), create("a"), KvResult::None),
            client_op(1, 1, (3, 4), lookup("a"), KvResult::NotFound),
        ]);
    }

    // ---- Non-linearizable histories ----

    /// (b) A CREATE handled as a no-op over a dead bucket, then NOT FOUND.
    /// In the model the second CREATE must create `a` (the first one's bucket
    /// died at 5), and nothing removes it before the PUT.
    ///
    /// ```text
    /// c0 [1 CREATE a 2]   * a died 5   [6 CREATE a 7]   [9 PUT a k v -> NOT FOUND 10]
    /// ```
    #[test]
    fn rejects_not_found_after_noop_create_over_dead_bucket() {
        let violation = assert_violation(&[
            client_op(0, 0, (1, 2), create("a"), KvResult::None),
            event(1, 5, bucket_died("a")),
            client_op(2, 0, (6, 7), create("a"), KvResult::None),
            client_op(3, 0, (9, 10), put("a", "k", "v"), KvResult::NotFound),
        ]);
        assert_eq!(violation.longest_prefix, vec![0, 1, 2]);
        assert_eq!(violation.stuck_at, vec![3]);
        assert_eq!(
            violation.to_string(),
            "not linearizable: after the longest linearizable prefix [0, 1, 2] (3 ops), none of [3] can come next"
        );
    }

    /// (c) A stale read: the GET starts after the PUT was acknowledged.
    ///
    /// ```text
    /// c0 [1 CREATE a 2] [3 PUT a k 1 -> OK 4]
    /// c1                                      [5 GET a k -> none 6]
    /// ```
    #[test]
    fn rejects_stale_read_after_acknowledged_put() {
        let violation = assert_violation(&[
            client_op(0, 0, (1, 2), create("a"), KvResult::None),
            client_op(1, 0, (3, 4), put("a", "k", "1"), KvResult::Ok),
            client_op(2, 1, (5, 6), get("a", "k"), KvResult::Value(None)),
        ]);
        assert_eq!(violation.longest_prefix, vec![0, 1]);
        assert_eq!(violation.stuck_at, vec![2]);
    }

    /// (f) The registry died; a later LOOKUP cannot find anything.
    ///
    /// ```text
    /// c0 [1 CREATE a 2]   * registry died 3   [4 LOOKUP a -> OK 5]
    /// ```
    #[test]
    fn rejects_lookup_ok_after_registry_death() {
        assert_violation(&[
            client_op(0, 0, (1, 2), create("a"), KvResult::None),
            event(1, 3, KvOp::RegistryDied),
            client_op(2, 0, (4, 5), lookup("a"), KvResult::Ok),
        ]);
    }

    /// A read that goes back in time: once a GET has seen the concurrent
    /// PUT's value, a later GET cannot see the old state.
    ///
    /// ```text
    /// c0 [1 CREATE a 2] [3 PUT a k 1 ........................ 10]
    /// c1                   [4 GET a k -> 1 5]
    /// c1                                     [6 GET a k -> none 7]
    /// ```
    #[test]
    fn rejects_read_going_back_in_time() {
        let violation = assert_violation(&[
            client_op(0, 0, (1, 2), create("a"), KvResult::None),
            client_op(1, 0, (3, 10), put("a", "k", "1"), KvResult::Ok),
            client_op(2, 1, (4, 5), get("a", "k"), value("1")),
            client_op(3, 1, (6, 7), get("a", "k"), KvResult::Value(None)),
        ]);
        assert_eq!(violation.longest_prefix, vec![0, 1, 2]);
        assert_eq!(violation.stuck_at, vec![3]);
    }

    /// A lost overwrite: two sequential PUTs, then the first value is read.
    ///
    /// ```text
    /// c0 [1 CREATE a 2] [3 PUT a k 1 4] [5 PUT a k 2 6] [7 GET a k -> 1 8]
    /// ```
    #[test]
    fn rejects_lost_overwrite() {
        assert_violation(&[
            client_op(0, 0, (1, 2), create("a"), KvResult::None),
            client_op(1, 0, (3, 4), put("a", "k", "1"), KvResult::Ok),
            client_op(2, 0, (5, 6), put("a", "k", "2"), KvResult::Ok),
            client_op(3, 0, (7, 8), get("a", "k"), value("1")),
        ]);
    }

    /// Data surviving its bucket's death and a re-creation.
    ///
    /// ```text
    /// c0 [1 CREATE a 2] [3 PUT a k 1 4]  * a died 5  [6 CREATE a 7] [8 GET a k -> 1 9]
    /// ```
    #[test]
    fn rejects_data_surviving_bucket_death() {
        assert_violation(&[
            client_op(0, 0, (1, 2), create("a"), KvResult::None),
            client_op(1, 0, (3, 4), put("a", "k", "1"), KvResult::Ok),
            event(2, 5, bucket_died("a")),
            client_op(3, 0, (6, 7), create("a"), KvResult::None),
            client_op(4, 0, (8, 9), get("a", "k"), value("1")),
        ]);
    }

    /// An ERROR does not license any output: a value nobody wrote.
    ///
    /// ```text
    /// c0 [1 CREATE a 2] [3 PUT a k 1 -> ERROR 4] [5 GET a k -> 2 6]
    /// ```
    #[test]
    fn rejects_value_never_written() {
        let violation = assert_violation(&[
            client_op(0, 0, (1, 2), create("a"), KvResult::None),
            client_op(1, 0, (3, 4), put("a", "k", "1"), KvResult::Indeterminate),
            client_op(2, 0, (5, 6), get("a", "k"), value("2")),
        ]);
        assert_eq!(violation.stuck_at, vec![2]);
    }

    /// A PUT answered OK for a name that was never created, even though a
    /// CREATE follows it.
    ///
    /// ```text
    /// c0 [1 PUT a k v -> OK 2] [3 CREATE a 4]
    /// ```
    #[test]
    fn rejects_put_ok_before_any_create() {
        let violation = assert_violation(&[
            client_op(0, 0, (1, 2), put("a", "k", "v"), KvResult::Ok),
            client_op(1, 0, (3, 4), create("a"), KvResult::None),
        ]);
        assert_eq!(violation.longest_prefix, Vec::<usize>::new());
        assert_eq!(violation.stuck_at, vec![0]);
    }

    /// Out-of-order input again, this time for a violation: a DELETE was
    /// acknowledged and a later GET still sees the value.
    ///
    /// ```text
    /// c0 [1 CREATE a 2] [3 PUT a k v 4] [5 DELETE a k -> OK 6]
    /// c1                                                       [7 GET a k -> v 8]
    /// ```
    #[test]
    fn rejects_read_after_delete_given_out_of_order() {
        let violation = assert_violation(&[
            client_op(3, 1, (7, 8), get("a", "k"), value("v")),
            client_op(1, 0, (3, 4), put("a", "k", "v"), KvResult::Ok),
            client_op(2, 0, (5, 6), delete("a", "k"), KvResult::Ok),
            client_op(0, 0, (1, 2), create("a"), KvResult::None),
        ]);
        assert_eq!(violation.longest_prefix, vec![0, 1, 2]);
        assert_eq!(violation.stuck_at, vec![3]);
    }

    // ---- Reports, bounds, scale ----

    #[test]
    fn explain_names_each_operation() {
        let history = [
            client_op(0, 0, (1, 2), create("a"), KvResult::None),
            event(1, 3, KvOp::RegistryDied),
            client_op(2, 0, (4, 5), lookup("a"), KvResult::Ok),
        ];
        let text = assert_violation(&history).explain(&history);
        assert!(text.contains("#1 event at 3: registry died"), "{text}");
        assert!(
            text.contains("#2 client 0 over [4, 5]: LOOKUP a -> OK"),
            "{text}"
        );
    }

    /// Five sequential operations need five configurations; a bound of three
    /// stops the search without an answer.
    #[test]
    fn exceeding_the_state_bound_is_unknown() {
        let history = [
            client_op(0, 0, (1, 2), create("a"), KvResult::None),
            client_op(1, 0, (3, 4), put("a", "k", "1"), KvResult::Ok),
            client_op(2, 0, (5, 6), put("a", "k", "2"), KvResult::Ok),
            client_op(3, 0, (7, 8), get("a", "k"), value("2")),
            client_op(4, 0, (9, 10), delete("a", "k"), KvResult::Ok),
        ];
        assert_eq!(
            check_bounded(&history, 3),
            Linearizability::Unknown { states_explored: 3 }
        );
        assert_eq!(check_bounded(&history, 5), Linearizability::Linearizable);
    }

    /// Twelve PUTs to distinct keys, all overlapping: without memoisation the
    /// search would try every order of them (12! ≈ 4.8e8) before rejecting;
    /// with it, a configuration is a subset of them (at most 2^12).
    #[test]
    fn memoisation_keeps_wide_concurrency_cheap() {
        let mut history = vec![client_op(0, 0, (1, 2), create("a"), KvResult::None)];
        let writers = 12;
        for i in 0..writers {
            history.push(client_op(
                1 + i,
                i as u32,
                (3, 100),
                put("a", &format!("k{i}"), "v"),
                KvResult::Ok,
            ));
        }
        // A read after all the writes of a key none of them wrote: every
        // order of the writes fails here, so the search must exhaust them.
        history.push(client_op(
            99,
            20,
            (101, 102),
            get("a", "missing"),
            value("v"),
        ));
        match check_bounded(&history, 100_000) {
            Linearizability::NotLinearizable(violation) => {
                assert_eq!(violation.longest_prefix.len(), 1 + writers);
                assert_eq!(violation.stuck_at, vec![99]);
            }
            other => panic!("expected a violation, got {other}"),
        }
    }

    /// A deterministic pseudo-random history of 200 operations over two
    /// names, two keys and three values, with bucket deaths: each operation
    /// has a true linearization point 10 steps after the previous one, and
    /// an interval stretched around it by up to 12 steps on each side, so it
    /// overlaps its neighbours. Results come from a reference
    /// implementation written here, independent of `KvModel`.
    fn generated_history(operations: usize) -> Vec<Operation> {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next_random = move |below: u64| {
            // SplitMix64: fixed, so the history is the same on every run.
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % below
        };
        let names = ["a", "b"];
        let keys = ["x", "y"];
        let values = ["1", "2", "3"];
        let mut buckets: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
        let mut history = Vec::new();
        for id in 0..operations {
            let point = 20 + 10 * id as u64;
            let name = names[next_random(2) as usize];
            let key = keys[next_random(2) as usize];
            let written = values[next_random(3) as usize];
            let found = |ok: KvResult, present: bool| if present { ok } else { KvResult::NotFound };
            let present = buckets.contains_key(name);
            let (op, result) = match next_random(8) {
                0 | 1 => {
                    buckets.entry(name).or_default();
                    (create(name), KvResult::None)
                }
                2 => (lookup(name), found(KvResult::Ok, present)),
                3 | 4 => {
                    if let Some(data) = buckets.get_mut(name) {
                        data.insert(key, written);
                    }
                    (put(name, key, written), found(KvResult::Ok, present))
                }
                5 => {
                    let seen = buckets
                        .get(name)
                        .map(|data| data.get(key).map(|v| v.to_string()));
                    (
                        get(name, key),
                        seen.map_or(KvResult::NotFound, KvResult::Value),
                    )
                }
                6 => {
                    if let Some(data) = buckets.get_mut(name) {
                        data.remove(key);
                    }
                    (delete(name, key), found(KvResult::Ok, present))
                }
                _ => {
                    buckets.remove(name);
                    history.push(event(id, point, bucket_died(name)));
                    continue;
                }
            };
            let (before, after) = (next_random(13), next_random(13));
            let client = (id % 3) as u32;
            history.push(client_op(
                id,
                client,
                (point - before, point + after),
                op,
                result,
            ));
        }
        history
    }

    #[test]
    fn accepts_generated_history_of_200_operations_quickly() {
        let history = generated_history(200);
        assert_eq!(history.len(), 200);
        assert!(history.iter().any(|op| op.op.is_model_event()));
        assert!(history.iter().any(|op| op.result == KvResult::NotFound));
        assert!(
            history
                .iter()
                .any(|op| matches!(op.result, KvResult::Value(Some(_))))
        );
        match check_bounded(&history, 20_000) {
            Linearizability::Linearizable => {}
            other => panic!("expected linearizable within 20000 states, got {other}"),
        }
    }

    /// The same history with one GET's answer changed to a value the
    /// reference never held at that point is rejected.
    #[test]
    fn rejects_generated_history_with_one_corrupted_read() {
        let mut history = generated_history(200);
        let corrupted = history
            .iter_mut()
            .rev()
            .find(|op| matches!(op.result, KvResult::Value(Some(_))))
            .expect("the generated history has a GET that saw a value");
        corrupted.result = value("never written");
        let corrupted_id = corrupted.id;
        let violation = assert_violation(&history);
        assert!(violation.stuck_at.contains(&corrupted_id), "{violation}");
    }
}
