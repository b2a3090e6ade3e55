//! The client side of gen_server requests, for processes whose handlers
//! must not block: a request is sent now and its outcome recognised later
//! among the signals the caller receives. A client driver's blocking `call`
//! is a [`PendingCall`] it waits on; a server uses the same machinery as
//! `send_request` (S20–S23, S25).

use crate::otp::envelope::Envelope;
use crate::sim::{Ctx, Incoming, Pid, Reason, Ref, TimerRef};
use std::fmt::Debug;

/// `GenServer.call`'s default timeout.
pub const DEFAULT_CALL_TIMEOUT_MS: u64 = 5000;

/// A call in flight: the caller monitors the server (S21) and holds a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingCall {
    pub server: Pid,
    /// The monitor ref, also the reply's tag.
    pub tag: Ref,
    timer: Option<TimerRef>,
}

/// What an incoming signal means for a pending call.
#[derive(Debug)]
pub enum CallOutcome<P, M> {
    /// The call ended: the reply, or the reason the caller exits with.
    Done(Result<P, Reason>),
    /// Not this call's signal.
    Other(Incoming<M>),
}

/// `GenServer.call(server, req, timeout_ms)`, non-blocking half: sends the
/// request; feed every incoming signal to [`PendingCall::take`].
pub fn call<P: Debug + 'static>(
    ctx: &mut Ctx<'_, Envelope<P>>,
    server: Pid,
    req: P,
    timeout_ms: Option<u64>,
) -> PendingCall {
    let tag = ctx.monitor(server);
    // The tag doubles as an alias, so that a reply arriving after the call
    // ended (timeout) is dropped instead of reaching the caller (S22).
    ctx.alias(tag);
    ctx.send(server, Envelope::Call { tag, req });
    let timer = timeout_ms.map(|ms| ctx.start_timer(ms));
    PendingCall { server, tag, timer }
}

/// `gen_server:send_request/2`: a call without a timeout, for servers.
/// The reply arrives as `Info::Reply` with the returned tag, or the server's
/// death as `Info::Down` with it.
pub fn send_request<P: Debug + 'static>(
    ctx: &mut Ctx<'_, Envelope<P>>,
    server: Pid,
    req: P,
) -> Ref {
    call(ctx, server, req, None).tag
}

/// `GenServer.cast`: always succeeds; to a dead server it is dropped (S23).
pub fn cast<P: Debug + 'static>(ctx: &mut Ctx<'_, Envelope<P>>, server: Pid, req: P) {
    ctx.send(server, Envelope::Cast(req));
}

impl PendingCall {
    /// Recognises this call's reply, the server's `DOWN` (S21), or the
    /// timeout (S22); a late reply after a timeout is never recognised.
    pub fn take<P: Debug + 'static>(
        &self,
        ctx: &mut Ctx<'_, Envelope<P>>,
        incoming: Incoming<Envelope<P>>,
    ) -> CallOutcome<P, Envelope<P>> {
        match incoming {
            Incoming::Message {
                msg: Envelope::Reply { tag, reply },
                ..
            } if tag == self.tag => {
                ctx.unalias(self.tag);
                ctx.demonitor(self.tag, true);
                self.cancel_timer(ctx);
                CallOutcome::Done(Ok(reply))
            }
            Incoming::Down { mref, reason, .. } if mref == self.tag => {
                ctx.unalias(self.tag);
                self.cancel_timer(ctx);
                CallOutcome::Done(Err(reason))
            }
            Incoming::Timer { tref } if Some(tref) == self.timer => {
                ctx.unalias(self.tag);
                ctx.demonitor(self.tag, true);
                CallOutcome::Done(Err(Reason::Timeout))
            }
            other => CallOutcome::Other(other),
        }
    }

    fn cancel_timer<P: Debug + 'static>(&self, ctx: &mut Ctx<'_, Envelope<P>>) {
        if let Some(timer) = self.timer {
            ctx.cancel_timer(timer);
        }
    }
}

/// `GenServer.stop` / `Agent.stop` in flight (`proc_lib:stop/3`):
/// synchronous, no timeout (`:infinity`). The stopper monitors the target
/// and sends it a terminate request; the target answers the request it
/// handles, then terminates and exits (S25, S31). So when several
/// processes stop one target, only the one whose own request was answered
/// gets `ok`; the others see the target die first and exit with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingStop {
    pub server: Pid,
    pub mref: Ref,
    pub reason: Reason,
    /// Whether the target answered this stopper's request.
    pub answered: bool,
}

/// What an incoming signal means for a pending stop.
#[derive(Debug)]
pub enum StopOutcome<M> {
    /// The stop ended: `Ok` or the reason the stopper exits with.
    Done(Result<(), Reason>),
    /// The target answered this request; the stop waits for its `DOWN`.
    Answered,
    /// Not this stop's signal.
    Other(Incoming<M>),
}

/// Sends the stop request; feed incoming signals to [`PendingStop::take`].
pub fn stop<P: Debug + 'static>(
    ctx: &mut Ctx<'_, Envelope<P>>,
    server: Pid,
    reason: Reason,
) -> PendingStop {
    let mref = ctx.monitor(server);
    ctx.send(
        server,
        Envelope::Stop {
            tag: mref,
            reason: reason.clone(),
        },
    );
    PendingStop {
        server,
        mref,
        reason,
        answered: false,
    }
}

impl PendingStop {
    /// Recognises the answer to this stopper's request and the target's
    /// `DOWN`. `Ok` only if the target answered this request and then exited
    /// with the requested reason; otherwise the reason it died with
    /// (`noproc` if it was already dead), as `proc_lib:stop/3` exits with.
    pub fn take<P: Debug + 'static>(
        &mut self,
        incoming: Incoming<Envelope<P>>,
    ) -> StopOutcome<Envelope<P>> {
        match incoming {
            Incoming::Message {
                msg: Envelope::StopReply { tag },
                ..
            } if tag == self.mref => {
                self.answered = true;
                StopOutcome::Answered
            }
            Incoming::Down { mref, reason, .. } if mref == self.mref => {
                if self.answered && reason == self.reason {
                    StopOutcome::Done(Ok(()))
                } else {
                    StopOutcome::Done(Err(reason))
                }
            }
            other => StopOutcome::Other(other),
        }
    }
}

/// `GenServer.reply(from, value)`: answers a call whose `handle_call`
/// returned `NoReply`, from any process (S20).
pub fn reply<P: Debug + 'static>(ctx: &mut Ctx<'_, Envelope<P>>, to: crate::otp::From, value: P) {
    ctx.send_alias(
        to.pid,
        to.tag,
        Envelope::Reply {
            tag: to.tag,
            reply: value,
        },
    );
}
