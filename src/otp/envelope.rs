//! The messages of the gen_server protocol, wrapping a system's own
//! payload type `P`.

use crate::sim::{Pid, Reason, Ref};
use std::fmt;

/// Who to answer: the caller and the call's tag (its monitor ref).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct From {
    pub pid: Pid,
    pub tag: Ref,
}

/// A gen_server-level message.
pub enum Envelope<P> {
    /// `GenServer.call`: answered by a `Reply` with the same tag.
    Call { tag: Ref, req: P },
    /// `GenServer.cast`.
    Cast(P),
    /// The answer to a call.
    Reply { tag: Ref, reply: P },
    /// Anything else (`send/2`): goes to `handle_info`.
    Info(P),
    /// `GenServer.stop`'s system request (`sys:terminate`): answer it with
    /// `StopReply`, terminate, then exit with `reason`.
    Stop { tag: Ref, reason: Reason },
    /// The answer `ok` to the `Stop` request with this tag: the target took
    /// this stopper's request, not another's.
    StopReply { tag: Ref },
}

impl<P: fmt::Debug> fmt::Debug for Envelope<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Envelope::Call { tag, req } => write!(f, "call {req:?} (tag {})", tag.0),
            Envelope::Cast(req) => write!(f, "cast {req:?}"),
            Envelope::Reply { tag, reply } => write!(f, "reply {reply:?} (tag {})", tag.0),
            Envelope::Info(msg) => write!(f, "{msg:?}"),
            Envelope::Stop { tag, reason } => write!(f, "stop {reason} (tag {})", tag.0),
            Envelope::StopReply { tag } => write!(f, "stop ok (tag {})", tag.0),
        }
    }
}
