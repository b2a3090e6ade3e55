//! GenServer: a process whose handlers return what to do next. Owns the
//! gen_server loop's rules: replies, `{:stop, ...}`, when `terminate` runs
//! (S24–S26), and `init` at start (S29).
//!
//! A server that stops after sending (a `{:stop, reason, reply, state}`
//! reply, a stop request's answer, whatever `terminate` sent) exits in an
//! event of its own, after its handler: until then its caller can already
//! hold the reply and act while the server is alive (the core's pending
//! exit event).

use crate::otp::envelope::{Envelope, From};
use crate::sim::{
    Control, Ctx, Incoming, Naming, Pid, Process, Reason, Ref, SpawnOpts, Spawned, TimerRef,
};
use std::any::Any;
use std::fmt::Debug;

/// The result of `handle_call`.
#[derive(Debug)]
pub enum CallResult<P> {
    /// `{:reply, v, state}`.
    Reply(P),
    /// `{:noreply, state}`: someone answers later through the `From`.
    NoReply,
    /// `{:stop, reason, reply, state}` (`terminate` runs, then the reply is
    /// sent, then the server exits: S24) or `{:stop, reason, state}`.
    Stop { reason: Reason, reply: Option<P> },
}

/// The result of `handle_cast` and `handle_info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flow {
    /// `{:noreply, state}`.
    Continue,
    /// `{:stop, reason, state}`: terminate, then exit (S24).
    Stop(Reason),
}

/// What reaches `handle_info`.
#[derive(Debug)]
pub enum Info<P> {
    /// A plain message (`send/2`).
    Msg { from: Pid, msg: P },
    /// A monitor's `{:DOWN, ref, :process, pid, reason}`.
    Down { mref: Ref, pid: Pid, reason: Reason },
    /// `{:EXIT, from, reason}` while trapping exits (not from the parent, S26).
    Exit { from: Pid, reason: Reason },
    /// The answer to a [`crate::otp::send_request`].
    Reply { tag: Ref, reply: P },
    /// A timer fired.
    Timer(TimerRef),
}

/// The callbacks of a GenServer; `self` is the server's state.
pub trait GenServer<P>: 'static {
    fn init(&mut self, _ctx: &mut Ctx<'_, Envelope<P>>) -> Result<(), Reason> {
        Ok(())
    }

    /// Default: a module without `handle_call/3` crashes the server (S28).
    fn handle_call(
        &mut self,
        _ctx: &mut Ctx<'_, Envelope<P>>,
        _req: P,
        _from: From,
    ) -> CallResult<P> {
        CallResult::Stop {
            reason: Reason::Other("no_handle_call".to_string()),
            reply: None,
        }
    }

    /// Default: crash, as a module without `handle_cast/2` does.
    fn handle_cast(&mut self, _ctx: &mut Ctx<'_, Envelope<P>>, _req: P) -> Flow {
        Flow::Stop(Reason::Other("no_handle_cast".to_string()))
    }

    /// Default: Elixir's injected `handle_info/2`, which logs and keeps the
    /// state (S27). A module that defines `handle_info` with no matching
    /// clause returns `Flow::Stop(Reason::FunctionClause)` instead.
    fn handle_info(&mut self, _ctx: &mut Ctx<'_, Envelope<P>>, _info: Info<P>) -> Flow {
        Flow::Continue
    }

    /// Runs on `{:stop, ...}`, `GenServer.stop`, a crash in a callback, and
    /// an exit signal from the parent while trapping; never on `kill` (S26).
    fn terminate(&mut self, _ctx: &mut Ctx<'_, Envelope<P>>, _reason: &Reason) {}
}

/// A GenServer as a simulated process.
pub struct GenServerProcess<G> {
    pub server: G,
    /// The process that started it with `start_link` (S26's "parent");
    /// `None` when started unlinked or by the harness: OTP then treats the
    /// server as its own parent, so no exit signal counts as the parent's.
    pub parent: Option<Pid>,
}

impl<G> GenServerProcess<G> {
    pub fn new(server: G, parent: Option<Pid>) -> GenServerProcess<G> {
        GenServerProcess { server, parent }
    }
}

impl<P: Debug + 'static, G: GenServer<P>> Process<Envelope<P>> for GenServerProcess<G> {
    fn init(&mut self, ctx: &mut Ctx<'_, Envelope<P>>) -> Result<(), Reason> {
        self.server.init(ctx)
    }

    fn handle(
        &mut self,
        ctx: &mut Ctx<'_, Envelope<P>>,
        incoming: Incoming<Envelope<P>>,
    ) -> Control {
        // gen_server's `try terminate(…) after reply(From, Reply) end`: a
        // `{:stop, reason, reply, state}` reply goes out after `terminate`.
        let mut reply_after_terminate = None;
        let flow = match incoming {
            Incoming::Message { from, msg } => match msg {
                Envelope::Call { tag, req } => {
                    let caller = From { pid: from, tag };
                    match self.server.handle_call(ctx, req, caller) {
                        CallResult::Reply(reply) => {
                            ctx.send_alias(from, tag, Envelope::Reply { tag, reply });
                            Flow::Continue
                        }
                        CallResult::NoReply => Flow::Continue,
                        CallResult::Stop { reason, reply } => {
                            reply_after_terminate = reply.map(|reply| (from, tag, reply));
                            Flow::Stop(reason)
                        }
                    }
                }
                Envelope::Cast(req) => self.server.handle_cast(ctx, req),
                Envelope::Info(msg) => self.server.handle_info(ctx, Info::Msg { from, msg }),
                Envelope::Reply { tag, reply } => {
                    self.server.handle_info(ctx, Info::Reply { tag, reply })
                }
                Envelope::Stop { tag, reason } => {
                    // sys answers the terminate request before the server
                    // runs `terminate` and exits, so the stopper knows its
                    // own request was the one handled (S25).
                    ctx.send(from, Envelope::StopReply { tag });
                    Flow::Stop(reason)
                }
                // A stop this server requested from a handler: nobody waits
                // for its answer here.
                Envelope::StopReply { .. } => Flow::Continue,
            },
            Incoming::Down { mref, pid, reason } => self
                .server
                .handle_info(ctx, Info::Down { mref, pid, reason }),
            Incoming::Exit { from, reason } if Some(from) == self.parent => Flow::Stop(reason),
            Incoming::Exit { from, reason } => {
                self.server.handle_info(ctx, Info::Exit { from, reason })
            }
            Incoming::Timer { tref } => self.server.handle_info(ctx, Info::Timer(tref)),
        };
        match flow {
            Flow::Continue => Control::Continue,
            Flow::Stop(reason) => {
                self.server.terminate(ctx, &reason);
                if let Some((to, tag, reply)) = reply_after_terminate {
                    ctx.send_alias(to, tag, Envelope::Reply { tag, reply });
                }
                Control::Exit(reason)
            }
        }
    }

    fn on_crash(&mut self, ctx: &mut Ctx<'_, Envelope<P>>, reason: &Reason) {
        self.server.terminate(ctx, reason);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `GenServer.start_link`: spawns `server` linked to the caller; `init` runs
/// now. With `monitor`, the caller also monitors it.
pub fn start_link<P: Debug + 'static, G: GenServer<P>>(
    ctx: &mut Ctx<'_, Envelope<P>>,
    naming: Naming,
    role: Option<String>,
    server: G,
    monitor: bool,
) -> Result<Spawned, Reason> {
    let parent = Some(ctx.me());
    let opts = SpawnOpts {
        naming,
        role,
        link: true,
        monitor,
    };
    ctx.spawn(opts, Box::new(GenServerProcess::new(server, parent)))
}

/// `GenServer.start`: as [`start_link`], without the link.
pub fn start<P: Debug + 'static, G: GenServer<P>>(
    ctx: &mut Ctx<'_, Envelope<P>>,
    naming: Naming,
    role: Option<String>,
    server: G,
    monitor: bool,
) -> Result<Spawned, Reason> {
    let opts = SpawnOpts {
        naming,
        role,
        link: false,
        monitor,
    };
    ctx.spawn(opts, Box::new(GenServerProcess::new(server, None)))
}
