//! What a simulated process is to the core: a behaviour whose handlers are
//! plain synchronous functions that run to completion (one handler
//! invocation is one atomic step). Client drivers additionally tell the
//! scheduler when they can act on their own.

use crate::sim::pid::{Pid, Ref, TimerRef};
use crate::sim::reason::Reason;
use crate::sim::runtime::Ctx;
use std::any::Any;

/// One signal as its receiver's handler sees it.
#[derive(Debug)]
pub enum Incoming<M> {
    /// A message sent with [`Ctx::send`].
    Message { from: Pid, msg: M },
    /// An exit signal turned into a message because the receiver traps exits (S13).
    Exit { from: Pid, reason: Reason },
    /// A monitored process exited (S15), or did not exist (S17, `noproc`).
    Down { mref: Ref, pid: Pid, reason: Reason },
    /// A timer started with [`Ctx::start_timer`] fired.
    Timer { tref: TimerRef },
}

/// What a handler asks the core to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    /// Exit with this reason at the end of the step: links and monitors get
    /// their signals then.
    Exit(Reason),
}

/// Whether a client driver can take its next action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    /// Not a client, or a client with nothing left to do.
    Done,
    /// Waiting for a reply, a `DOWN` or a timer.
    Blocked,
    /// Can start the command with stable id `cmd`; if `needs_quiet`, only
    /// once no signal is queued on any pair (`SETTLE`).
    Ready { cmd: u32, needs_quiet: bool },
}

/// A simulated process.
pub trait Process<M>: 'static {
    /// Runs inside the spawner's step, as `start_link` blocks until `init`
    /// returns (S29). An error makes the new process exit with that reason.
    fn init(&mut self, _ctx: &mut Ctx<'_, M>) -> Result<(), Reason> {
        Ok(())
    }

    /// Handles one delivered signal.
    fn handle(&mut self, ctx: &mut Ctx<'_, M>, incoming: Incoming<M>) -> Control;

    /// A handler panicked; runs before the process exits with `reason`,
    /// where the BEAM would run `terminate` (S26). Panics here are swallowed.
    fn on_crash(&mut self, _ctx: &mut Ctx<'_, M>, _reason: &Reason) {}

    /// Client drivers only: can the process act on its own now? It must
    /// change only in the process's own handlers (`init`, `handle`, `act`,
    /// `on_crash`): the scheduler reads it after each of them, never by
    /// polling, so that idle clients cost nothing per step.
    fn client_state(&self) -> ClientState {
        ClientState::Done
    }

    /// Client drivers only: take the action `client_state` announced.
    fn act(&mut self, _ctx: &mut Ctx<'_, M>) -> Control {
        Control::Continue
    }

    /// Lets a checker inspect a process's state (e.g. a registry's names).
    fn as_any(&self) -> &dyn Any;
}
