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

/// `GenServer.stop` / `Agent.stop` in flight: synchronous, no timeout
/// (`:infinity`), done when the server's `DOWN` arrives (S25, S31).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingStop {
    pub server: Pid,
    pub mref: Ref,
    pub reason: Reason,
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
    }
}

impl PendingStop {
    /// `Ok` once the server exited with the requested reason; otherwise the
    /// reason it died with (`noproc` if it was already dead).
    pub fn take<P: Debug + 'static>(
        &self,
        incoming: Incoming<Envelope<P>>,
    ) -> CallOutcome<(), Envelope<P>> {
        match incoming {
            Incoming::Down { mref, reason, .. } if mref == self.mref => {
                if reason == self.reason {
                    CallOutcome::Done(Ok(()))
                } else {
                    CallOutcome::Done(Err(reason))
                }
            }
            other => CallOutcome::Other(other),
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
