//! The deterministic core (docs/design.md § The core): processes, per-pair
//! signal queues, links, monitors, exit signals, virtual time, the
//! scheduler, faults and the trace. It knows nothing of KV or of OTP's
//! behaviours: a process is anything implementing [`Process`].
//!
//! A run is a pure function of what was spawned, the fault plan and the
//! [`ChoiceSource`]: no wall clock, no thread, no ambient randomness, and
//! every table that shapes a run is a `BTreeMap` or a `Vec`.

pub mod causality;
pub mod choice;
pub mod footprint;
pub mod key;
mod panic_hook;
mod pid;
pub mod prng;
mod process;
mod reason;
mod runtime;
pub mod trace;

pub use causality::Causality;
pub use choice::{
    Candidate, CandidateKind, Change, Choice, ChoiceSource, Enabled, Incremental, Rank,
};
pub use footprint::{Footprint, Footprints};
pub use key::{DeathKind, EventKey, KeyArena, KeyError, KeyId, Root, Segment, without_generation};
pub use panic_hook::install_panic_hook;
pub use pid::{Pid, Ref, TimerRef};
pub use prng::Prng;
pub use process::{ClientState, Control, Incoming, Process};
pub use reason::Reason;
pub use runtime::{
    Ctx, Fault, FaultAction, Limits, Naming, Outcome, Sim, SpawnOpts, Spawned, Tapped, Taps, Work,
};
pub use trace::{DropCause, Trace, TraceEntry};
