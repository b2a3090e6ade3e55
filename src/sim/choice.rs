//! Choice sources: who picks the next event among the enabled ones
//! (docs/design.md § Schedules and choice sources). One file per strategy. A source
//! picks among enabled event *keys* (never "the i-th event"), so a recorded
//! choice keeps its meaning when the case around it shrinks. The scheduler
//! records every pick, so any run replays as an override list.

mod fifo;
mod overrides;
mod pct;
mod pos;
mod random_walk;

pub use fifo::Fifo;
pub use overrides::Overrides;
pub use pct::{Pct, Unit};
pub use pos::Pos;
pub use random_walk::RandomWalk;

use std::cell::RefCell;
use std::rc::Rc;

use crate::sim::footprint::Footprints;
use crate::sim::key::{KeyArena, KeyId};
use crate::sim::pid::Pid;

/// What kind of event a candidate is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandidateKind {
    /// A client starting its next command (or resuming after `SETTLE`).
    Client,
    /// The head signal of the (`from`, actor) queue.
    Deliver { from: Pid },
    /// A fault from the plan.
    Fault,
    /// A timer firing (only offered when nothing else is enabled).
    Timer,
    /// The pending exit of the actor, whose handler ended in a stop or a
    /// crash after sending (keyed `<cause>/exit`).
    Exit,
}

/// One enabled event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub key: KeyId,
    /// The process whose handler runs (receiver, client, fault target, timer owner).
    pub actor: Pid,
    pub kind: CandidateKind,
}

/// What a source sees at one step.
pub struct Choice<'a> {
    /// Scheduler steps taken so far (0 at the first choice).
    pub step: u64,
    /// Never empty. Ordered: pending exits oldest first, then clients by
    /// number, then deliveries by global send number, then faults by plan
    /// index, then timers.
    pub candidates: &'a [Candidate],
    /// The index in `candidates` that the `fifo` order would run.
    pub fifo: usize,
    pub keys: &'a KeyArena,
}

/// Where an enabled event stands in the `fifo` priority order, the order of
/// [`Choice::candidates`]: pending exits oldest first, then clients by
/// number, then deliveries by global send number, then faults by plan
/// index, then the timer. Stable while the event stays enabled, so a source
/// that keeps the enabled set itself can order and find events by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rank {
    /// 0 exits, 1 clients, 2 deliveries, 3 faults, 4 the timer.
    pub group: u8,
    /// The exit's age, the client's number, the head's send number, the
    /// fault's plan index; 0 for the timer.
    pub within: u64,
}

/// One change to the set of enabled events, as the scheduler tells an
/// [`Incremental`] source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub candidate: Candidate,
    pub rank: Rank,
    /// A client at `SETTLE`: a candidate only while [`Enabled::quiet`]
    /// holds, so that the whole group comes and goes with quietness
    /// without a change per member.
    pub quiet_only: bool,
    /// `true`: it became enabled; `false`: it no longer is.
    pub enabled: bool,
}

/// The enabled events at one step, kept up to date by the scheduler: what
/// an [`Incremental`] source picks from, each query in O(log n).
pub trait Enabled {
    /// Scheduler steps taken so far (0 at the first choice).
    fn step(&self) -> u64;
    fn keys(&self) -> &KeyArena;
    /// No signal is queued on any pair and no exit is pending: the
    /// `quiet_only` events are candidates.
    fn quiet(&self) -> bool;
    /// The number of candidates (at least 1 when a source is asked).
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The `n`-th candidate in `fifo` order: `candidates[n]` of the list
    /// [`ChoiceSource::choose`] would get.
    fn nth(&self, n: usize) -> (Candidate, Rank);
}

/// A source that keeps what it needs of the enabled set itself, told of
/// every change, so that a step costs O(log n) however many events are
/// enabled. It must pick exactly as its [`ChoiceSource::choose`] would on
/// the whole list: that equivalence is what keeps a seed's run unchanged.
pub trait Incremental {
    /// Called for every change, in order, from the first step on (the
    /// first call brings every event already enabled, in `fifo` order).
    fn update(&mut self, change: &Change);

    /// Picks one of the candidates, by rank.
    fn pick(&mut self, enabled: &dyn Enabled) -> Rank;
}

/// What [`ChoiceSource::choose`] returns to end the run before the step it
/// was asked about: the run stops as if a limit named `halted` was hit
/// (`LIMIT halted <step>`). A search uses it to abandon a schedule it knows
/// to be redundant.
pub const HALT: usize = usize::MAX;

/// Picks the next event. Implementations must be deterministic functions of
/// their construction arguments (seed, override list) and the choices shown.
pub trait ChoiceSource {
    /// Returns an index into `choice.candidates`, or [`HALT`].
    fn choose(&mut self, choice: &Choice<'_>) -> usize;

    /// Where the run should record each event's footprint (asked once,
    /// when the run is built): `None`, the default, records nothing.
    fn footprints(&mut self) -> Option<Rc<RefCell<Footprints>>> {
        None
    }

    /// Called once before the first step, so that a source can intern the
    /// keys it carries into the run's arena.
    fn prepare(&mut self, _keys: &mut KeyArena) {}

    /// `true` only for a source that always takes the `fifo` event: the
    /// scheduler then skips building candidates and keys (the fast path).
    fn is_fifo(&self) -> bool {
        false
    }

    /// The incremental form of this source, if it has one. A source
    /// without one is shown the whole candidate list at every step, which
    /// costs O(candidates) per step.
    fn incremental(&mut self) -> Option<&mut dyn Incremental> {
        None
    }
}

/// A choice source the caller can still read after handing it to a run:
/// the scheduler owns a `Box<dyn ChoiceSource>`, and the caller keeps a
/// clone of the `Rc` (to read, say, how many units PCT met). Only for use
/// on the run's own thread, like every run.
#[derive(Debug, Default)]
pub struct Shared<C>(pub Rc<RefCell<C>>);

impl<C> Shared<C> {
    /// Wraps `source`; keep `Rc::clone(&shared.0)` to read it later.
    pub fn new(source: C) -> Shared<C> {
        Shared(Rc::new(RefCell::new(source)))
    }
}

impl<C: ChoiceSource> ChoiceSource for Shared<C> {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        self.0.borrow_mut().choose(choice)
    }

    fn prepare(&mut self, keys: &mut KeyArena) {
        self.0.borrow_mut().prepare(keys);
    }

    fn footprints(&mut self) -> Option<Rc<RefCell<Footprints>>> {
        self.0.borrow_mut().footprints()
    }

    fn is_fifo(&self) -> bool {
        self.0.borrow().is_fifo()
    }

    fn incremental(&mut self) -> Option<&mut dyn Incremental> {
        if self.0.borrow_mut().incremental().is_some() {
            Some(self)
        } else {
            None
        }
    }
}

/// Delegates to the shared source's incremental form (only offered when it
/// has one).
impl<C: ChoiceSource> Incremental for Shared<C> {
    fn update(&mut self, change: &Change) {
        if let Some(source) = self.0.borrow_mut().incremental() {
            source.update(change);
        }
    }

    fn pick(&mut self, enabled: &dyn Enabled) -> Rank {
        match self.0.borrow_mut().incremental() {
            Some(source) => source.pick(enabled),
            None => enabled.nth(0).1,
        }
    }
}
