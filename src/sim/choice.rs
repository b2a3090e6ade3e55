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
#[derive(Clone, Copy, Debug)]
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

/// Picks the next event. Implementations must be deterministic functions of
/// their construction arguments (seed, override list) and the choices shown.
pub trait ChoiceSource {
    /// Returns an index into `choice.candidates`.
    fn choose(&mut self, choice: &Choice<'_>) -> usize;

    /// Called once before the first step, so that a source can intern the
    /// keys it carries into the run's arena.
    fn prepare(&mut self, _keys: &mut KeyArena) {}

    /// `true` only for a source that always takes the `fifo` event: the
    /// scheduler then skips building candidates and keys (the fast path).
    fn is_fifo(&self) -> bool {
        false
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

    fn is_fifo(&self) -> bool {
        self.0.borrow().is_fifo()
    }
}
