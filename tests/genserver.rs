//! docs/semantics.md S20–S32: GenServer calls, casts, stops, `terminate`,
//! `handle_info`, `init`, and Agent, driven through `kvsim::otp` by a
//! client process that records every outcome.

mod common;

use common::{Log, log};
use kvsim::otp::{
    self, Agent, CallOutcome, CallResult, DEFAULT_CALL_TIMEOUT_MS, Envelope, Flow, From, GenServer,
    GenServerProcess, Info, PendingCall, PendingStop, StopOutcome,
};
use kvsim::sim::choice::{Fifo, Overrides};
use kvsim::sim::{
    ChoiceSource, ClientState, Control, Ctx, EventKey, Incoming, Limits, Naming, Outcome, Pid,
    Process, Reason, Sim, SpawnOpts,
};
use std::any::Any;
use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

/// The payload of every server in this file.
#[derive(Clone, Debug, PartialEq, Eq)]
enum P {
    Get,
    Put(i64),
    Ok,
    Val(i64),
    /// Call: no reply now; the server keeps the caller.
    Hold,
    /// Call: no reply now; the server answers `Val(-1)` when its timer of
    /// this many ms fires.
    HoldFor(u64),
    /// Call: no reply now; this helper answers for the server.
    Delegate(Pid),
    /// To the helper: answer `from` with this value.
    ReplyTo(From, i64),
    /// Call: `{:stop, :done, :ok, state}`.
    StopReply,
    /// Cast: `{:stop, :cast_stop, state}`.
    StopCast,
    /// Cast: `{:stop, :boom, state}`.
    Crash,
    /// Call or cast: the callback raises (panics).
    Raise,
    /// A message nobody expects.
    Stray,
    /// Sent by `terminate` to whoever asked the server to stop.
    Bye,
}

type E = Envelope<P>;

fn push(log: &Log, line: impl Into<String>) {
    log.borrow_mut().push(line.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

fn fifo() -> Sim<E> {
    with(Box::new(Fifo))
}

fn with(chooser: Box<dyn ChoiceSource>) -> Sim<E> {
    Sim::new(chooser, Limits::default(), true)
}

/// Spawns a GenServer at setup (its parent is the harness).
fn serve(sim: &mut Sim<E>, server: impl GenServer<P>) -> Pid {
    let process = GenServerProcess::new(server, None);
    sim.spawn(SpawnOpts::child(), Box::new(process))
        .expect("init succeeds")
        .pid
}

/// A pid known only once the run has started (a server a client starts).
type Slot = Rc<Cell<Pid>>;

fn slot(pid: Pid) -> Slot {
    Rc::new(Cell::new(pid))
}

fn empty_slot() -> Slot {
    slot(Pid::HARNESS)
}

// ----- servers -----

#[derive(Clone, Debug)]
enum Init {
    Ok,
    Stop(Reason),
    Raise,
}

/// A server with every callback defined; its `handle_info` has no
/// catch-all clause (an unexpected message crashes it, S27).
struct Srv {
    name: &'static str,
    log: Log,
    value: i64,
    trap_exit: bool,
    init: Init,
    held: Option<From>,
    /// Told `Bye` by `terminate`.
    notify: Option<Pid>,
}

impl Srv {
    fn new(name: &'static str, log: &Log) -> Srv {
        Srv {
            name,
            log: log.clone(),
            value: 0,
            trap_exit: false,
            init: Init::Ok,
            held: None,
            notify: None,
        }
    }

    fn value(mut self, value: i64) -> Srv {
        self.value = value;
        self
    }

    fn trapping(mut self) -> Srv {
        self.trap_exit = true;
        self
    }

    fn init_with(mut self, init: Init) -> Srv {
        self.init = init;
        self
    }

    fn note(&self, text: impl std::fmt::Display) {
        push(&self.log, format!("{}: {text}", self.name));
    }
}

impl GenServer<P> for Srv {
    fn init(&mut self, ctx: &mut Ctx<'_, E>) -> Result<(), Reason> {
        self.note("init");
        ctx.set_trap_exit(self.trap_exit);
        match &self.init {
            Init::Ok => Ok(()),
            Init::Stop(reason) => Err(reason.clone()),
            Init::Raise => panic!("raised in init"),
        }
    }

    fn handle_call(&mut self, ctx: &mut Ctx<'_, E>, req: P, from: From) -> CallResult<P> {
        match req {
            P::Get => CallResult::Reply(P::Val(self.value)),
            P::Put(value) => {
                self.value = value;
                CallResult::Reply(P::Ok)
            }
            P::Hold => {
                self.held = Some(from);
                CallResult::NoReply
            }
            P::HoldFor(after_ms) => {
                self.held = Some(from);
                ctx.start_timer(after_ms);
                CallResult::NoReply
            }
            P::Delegate(helper) => {
                ctx.send(helper, Envelope::Info(P::ReplyTo(from, self.value * 6)));
                CallResult::NoReply
            }
            P::StopReply => {
                self.notify = Some(from.pid);
                CallResult::Stop {
                    reason: Reason::Other("done".into()),
                    reply: Some(P::Ok),
                }
            }
            P::Raise => panic!("raised in handle_call"),
            _ => CallResult::Stop {
                reason: Reason::FunctionClause,
                reply: None,
            },
        }
    }

    fn handle_cast(&mut self, _ctx: &mut Ctx<'_, E>, req: P) -> Flow {
        match req {
            P::Put(value) => {
                self.value = value;
                Flow::Continue
            }
            P::StopCast => Flow::Stop(Reason::Other("cast_stop".into())),
            P::Crash => Flow::Stop(Reason::boom()),
            P::Raise => panic!("raised in handle_cast"),
            _ => Flow::Stop(Reason::FunctionClause),
        }
    }

    fn handle_info(&mut self, ctx: &mut Ctx<'_, E>, info: Info<P>) -> Flow {
        match info {
            Info::Timer(_) => {
                if let Some(from) = self.held.take() {
                    otp::reply(ctx, from, P::Val(-1));
                    self.note(format!("late reply at t={}", ctx.now_ms()));
                }
                Flow::Continue
            }
            Info::Exit { reason, .. } => {
                self.note(format!("info EXIT {reason}"));
                Flow::Continue
            }
            Info::Down { reason, .. } => {
                self.note(format!("info DOWN {reason}"));
                Flow::Continue
            }
            // No clause for anything else.
            Info::Msg { .. } | Info::Reply { .. } => Flow::Stop(Reason::FunctionClause),
        }
    }

    fn terminate(&mut self, ctx: &mut Ctx<'_, E>, reason: &Reason) {
        self.note(format!("terminate {reason}"));
        if let Some(pid) = self.notify {
            ctx.send(pid, Envelope::Info(P::Bye));
        }
    }
}

/// A server that defines `handle_call` and `terminate` only: Elixir's
/// injected `handle_info/2` applies (S27).
struct Plain {
    log: Log,
    value: i64,
}

impl GenServer<P> for Plain {
    fn handle_call(&mut self, _ctx: &mut Ctx<'_, E>, req: P, _from: From) -> CallResult<P> {
        match req {
            P::Get => CallResult::Reply(P::Val(self.value)),
            P::Put(value) => {
                self.value = value;
                CallResult::Reply(P::Ok)
            }
            _ => CallResult::Stop {
                reason: Reason::FunctionClause,
                reply: None,
            },
        }
    }

    fn terminate(&mut self, _ctx: &mut Ctx<'_, E>, reason: &Reason) {
        push(&self.log, format!("plain: terminate {reason}"));
    }
}

/// A server that defines no `handle_call/3` (S28).
struct Bare {
    log: Log,
}

impl GenServer<P> for Bare {
    fn terminate(&mut self, _ctx: &mut Ctx<'_, E>, reason: &Reason) {
        push(&self.log, format!("bare: terminate {reason}"));
    }
}

/// Answers calls on another server's behalf (S20).
struct Helper {
    log: Log,
}

impl GenServer<P> for Helper {
    fn handle_info(&mut self, ctx: &mut Ctx<'_, E>, info: Info<P>) -> Flow {
        if let Info::Msg {
            msg: P::ReplyTo(from, value),
            ..
        } = info
        {
            push(&self.log, "helper: replies");
            otp::reply(ctx, from, P::Val(value));
        }
        Flow::Continue
    }
}

fn agent_apply(state: &mut i64, req: P) -> Result<P, Reason> {
    match req {
        P::Get => Ok(P::Val(*state)),
        P::Put(value) => {
            *state = value;
            Ok(P::Ok)
        }
        _ => Err(Reason::FunctionClause),
    }
}

fn agent() -> Agent<i64, P> {
    Agent::new(0, agent_apply)
}

// ----- the client -----

enum Wait {
    Call(PendingCall),
    Stop(PendingStop),
}

enum Next {
    Go,
    Wait(&'static str, Wait),
    Exit(Reason),
}

type Step = Box<dyn FnOnce(&mut Ctx<'_, E>) -> Next>;

/// A client driver: one step per client event (a `settle` step only once
/// nothing is queued anywhere), blocking in calls and stops. Logs each
/// outcome as `"<name>: <label> -> <result>"` and anything else it
/// receives as `"<name>: got <signal>"`.
struct Caller {
    name: &'static str,
    log: Log,
    trap_exit: bool,
    steps: VecDeque<(bool, Step)>,
    next_cmd: u32,
    waiting: Option<(&'static str, Wait)>,
}

impl Caller {
    fn new(name: &'static str, log: &Log) -> Caller {
        Caller {
            name,
            log: log.clone(),
            trap_exit: false,
            steps: VecDeque::new(),
            next_cmd: 0,
            waiting: None,
        }
    }

    fn trapping(mut self) -> Caller {
        self.trap_exit = true;
        self
    }

    fn push(
        mut self,
        needs_quiet: bool,
        step: impl FnOnce(&mut Ctx<'_, E>) -> Next + 'static,
    ) -> Caller {
        self.steps.push_back((needs_quiet, Box::new(step)));
        self
    }

    fn then(self, step: impl FnOnce(&mut Ctx<'_, E>) + 'static) -> Caller {
        self.push(false, move |ctx| {
            step(ctx);
            Next::Go
        })
    }

    fn settle(self, step: impl FnOnce(&mut Ctx<'_, E>) + 'static) -> Caller {
        self.push(true, move |ctx| {
            step(ctx);
            Next::Go
        })
    }

    /// `GenServer.call(server, req)` with the default 5000 ms timeout.
    fn call(self, label: &'static str, server: &Slot, req: P) -> Caller {
        self.call_within(label, server, req, DEFAULT_CALL_TIMEOUT_MS)
    }

    fn call_within(self, label: &'static str, server: &Slot, req: P, timeout_ms: u64) -> Caller {
        let server = server.clone();
        self.push(false, move |ctx| {
            Next::Wait(
                label,
                Wait::Call(otp::call(ctx, server.get(), req, Some(timeout_ms))),
            )
        })
    }

    fn stop(self, label: &'static str, server: &Slot, reason: Reason) -> Caller {
        let server = server.clone();
        self.push(false, move |ctx| {
            Next::Wait(label, Wait::Stop(otp::stop(ctx, server.get(), reason)))
        })
    }

    fn exit(self, reason: Reason) -> Caller {
        self.push(false, move |_| Next::Exit(reason))
    }

    fn note(&self, text: impl std::fmt::Display) {
        push(&self.log, format!("{}: {text}", self.name));
    }
}

fn render(incoming: &Incoming<E>) -> String {
    match incoming {
        Incoming::Message {
            msg: Envelope::Info(msg),
            ..
        } => format!("info {msg:?}"),
        Incoming::Message {
            msg: Envelope::Reply { reply, .. },
            ..
        } => format!("reply {reply:?}"),
        Incoming::Message { msg, .. } => format!("msg {msg:?}"),
        Incoming::Exit { from, reason } => format!("EXIT {from:?} {reason}"),
        Incoming::Down { pid, reason, .. } => format!("DOWN {pid:?} {reason}"),
        Incoming::Timer { .. } => "timer".to_string(),
    }
}

impl Process<E> for Caller {
    fn init(&mut self, ctx: &mut Ctx<'_, E>) -> Result<(), Reason> {
        ctx.set_trap_exit(self.trap_exit);
        Ok(())
    }

    fn handle(&mut self, ctx: &mut Ctx<'_, E>, incoming: Incoming<E>) -> Control {
        let incoming = match self.waiting.take() {
            Some((label, Wait::Call(call))) => match call.take(ctx, incoming) {
                CallOutcome::Done(result) => {
                    self.note(format!("{label} -> {result:?}"));
                    return Control::Continue;
                }
                CallOutcome::Other(other) => {
                    self.waiting = Some((label, Wait::Call(call)));
                    other
                }
            },
            Some((label, Wait::Stop(mut stop))) => match stop.take(incoming) {
                StopOutcome::Done(result) => {
                    self.note(format!("{label} -> {result:?}"));
                    return Control::Continue;
                }
                StopOutcome::Answered => {
                    self.waiting = Some((label, Wait::Stop(stop)));
                    return Control::Continue;
                }
                StopOutcome::Other(other) => {
                    self.waiting = Some((label, Wait::Stop(stop)));
                    other
                }
            },
            None => incoming,
        };
        self.note(format!("got {}", render(&incoming)));
        Control::Continue
    }

    fn client_state(&self) -> ClientState {
        match (&self.waiting, self.steps.front()) {
            (Some(_), _) => ClientState::Blocked,
            (None, Some(&(needs_quiet, _))) => ClientState::Ready {
                cmd: self.next_cmd,
                needs_quiet,
            },
            (None, None) => ClientState::Done,
        }
    }

    fn act(&mut self, ctx: &mut Ctx<'_, E>) -> Control {
        let Some((_, step)) = self.steps.pop_front() else {
            return Control::Continue;
        };
        self.next_cmd += 1;
        match step(ctx) {
            Next::Go => Control::Continue,
            Next::Wait(label, wait) => {
                self.waiting = Some((label, wait));
                Control::Continue
            }
            Next::Exit(reason) => Control::Exit(reason),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Kills `pid` from inside a step and makes sure it is dead (S3).
fn kill_now(ctx: &mut Ctx<'_, E>, pid: Pid) {
    ctx.exit(pid, Reason::Kill);
    assert!(!ctx.is_alive(pid));
}

/// Starts `server` linked to the stepping client and records its pid.
fn start_link_into<G: GenServer<P>>(
    server: &Slot,
    log: &Log,
    who: &'static str,
    g: G,
) -> impl FnOnce(&mut Ctx<'_, E>) + use<G> {
    let (server, log) = (server.clone(), log.clone());
    move |ctx| match otp::start_link(ctx, Naming::Child, None, g, false) {
        Ok(spawned) => server.set(spawned.pid),
        Err(reason) => push(&log, format!("{who}: start_link -> Err({reason})")),
    }
}

// ----- S20–S29: GenServer -----

#[test]
fn s20_call_gets_the_reply_now_or_later_from_another_process() {
    let mut sim = fifo();
    let log = log();
    let srv = slot(serve(&mut sim, Srv::new("srv", &log).value(7)));
    let helper = serve(&mut sim, Helper { log: log.clone() });
    let c = Caller::new("c", &log).call("get", &srv, P::Get).call(
        "delegate",
        &srv,
        P::Delegate(helper),
    );
    let c = sim.spawn_client(0, Box::new(c));
    assert_eq!(sim.run(), Outcome::Quiescent);

    assert_eq!(
        entries(&log),
        [
            "srv: init",
            "c: get -> Ok(Val(7))",
            "helper: replies",
            "c: delegate -> Ok(Val(42))"
        ]
    );
    assert!(sim.is_alive(srv.get()) && sim.is_alive(helper) && sim.is_alive(c));
}

#[test]
fn s21_a_call_to_a_dead_server_gives_noproc() {
    let mut sim = fifo();
    let log = log();
    let srv = slot(serve(&mut sim, Srv::new("srv", &log)));
    let s = srv.get();
    let c = Caller::new("c", &log)
        .then(move |ctx| kill_now(ctx, s))
        .call("get", &srv, P::Get);
    let c = sim.spawn_client(0, Box::new(c));
    sim.run();

    assert_eq!(entries(&log), ["srv: init", "c: get -> Err(noproc)"]);
    assert!(sim.is_alive(c));
}

#[test]
fn s21_a_server_dying_mid_call_gives_its_exit_reason() {
    // The server holds the call, then another client makes it stop with
    // `boom` (terminate runs), or kills it (no terminate).
    for killed in [false, true] {
        let mut sim = fifo();
        let log = log();
        let srv = slot(serve(&mut sim, Srv::new("srv", &log)));
        let s = srv.get();
        let c = Caller::new("c", &log).call("hold", &srv, P::Hold);
        let x = Caller::new("x", &log).then(move |ctx| {
            if killed {
                ctx.exit(s, Reason::Kill);
            } else {
                otp::cast(ctx, s, P::Crash);
            }
        });
        sim.spawn_client(0, Box::new(c));
        sim.spawn_client(1, Box::new(x));
        sim.run();

        if killed {
            assert_eq!(entries(&log), ["srv: init", "c: hold -> Err(killed)"]);
        } else {
            assert_eq!(
                entries(&log),
                ["srv: init", "srv: terminate boom", "c: hold -> Err(boom)"]
            );
        }
        assert!(!sim.is_alive(s));
    }
}

/// The server holds the call and answers at t=150; the caller gives up at t=100.
fn late_reply_run() -> (Sim<E>, Log, Pid) {
    let mut sim = fifo();
    let log = log();
    let srv = slot(serve(&mut sim, Srv::new("srv", &log)));
    let l = log.clone();
    let c = Caller::new("c", &log)
        .call_within("hold", &srv, P::HoldFor(150), 100)
        .then(move |ctx| push(&l, format!("c: t={}", ctx.now_ms())))
        .call("get", &srv, P::Get);
    sim.spawn_client(0, Box::new(c));
    assert_eq!(sim.run(), Outcome::Quiescent);
    let s = srv.get();
    (sim, log, s)
}

#[test]
fn s22_a_call_times_out_after_exactly_its_timeout_and_the_server_is_unaffected() {
    let (sim, log, srv) = late_reply_run();
    let got = entries(&log);
    assert_eq!(
        got[..5],
        [
            "srv: init",
            "c: hold -> Err(timeout)",
            "c: t=100",
            "c: get -> Ok(Val(0))",
            "srv: late reply at t=150"
        ]
    );
    // The late reply is never taken as the call's answer.
    assert_eq!(
        got.iter().filter(|l| l.starts_with("c: hold ->")).count(),
        1
    );
    assert!(sim.is_alive(srv));
    assert_eq!(sim.now_ms(), 150);
}

#[test]
fn s22_a_late_reply_never_reaches_the_caller() {
    // OTP >= 24: the reply goes to a deactivated alias and is dropped.
    let (_sim, log, _srv) = late_reply_run();
    assert_eq!(
        entries(&log),
        [
            "srv: init",
            "c: hold -> Err(timeout)",
            "c: t=100",
            "c: get -> Ok(Val(0))",
            "srv: late reply at t=150"
        ],
        "a stray reply reached the caller after its call timed out"
    );
}

#[test]
fn s23_cast_returns_at_once_even_to_a_dead_server() {
    let mut sim = fifo();
    let log = log();
    let srv = slot(serve(&mut sim, Srv::new("srv", &log)));
    let s = srv.get();
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    let c = Caller::new("c", &log)
        .then(move |ctx| {
            otp::cast(ctx, s, P::Put(5));
            push(&l1, "c: cast returned");
        })
        .call("get", &srv, P::Get)
        .then(move |ctx| {
            kill_now(ctx, s);
            otp::cast(ctx, s, P::Put(9));
            push(&l2, "c: cast to dead returned");
        })
        .settle(move |_| push(&l3, "c: end"));
    let c = sim.spawn_client(0, Box::new(c));
    assert_eq!(sim.run(), Outcome::Quiescent);

    assert_eq!(
        entries(&log),
        [
            "srv: init",
            "c: cast returned",
            "c: get -> Ok(Val(5))",
            "c: cast to dead returned",
            "c: end"
        ]
    );
    assert!(sim.is_alive(c));
}

#[test]
fn s24_stop_from_a_handler_terminates_then_replies_then_exits() {
    let mut sim = fifo();
    let log = log();
    let srv = slot(serve(&mut sim, Srv::new("srv", &log)));
    let other = slot(serve(&mut sim, Srv::new("other", &log)));
    let (s, o) = (srv.get(), other.get());
    let c = Caller::new("c", &log)
        .then(move |ctx| {
            ctx.monitor(s);
        })
        .call("stop_reply", &srv, P::StopReply)
        .settle(move |ctx| {
            ctx.monitor(o);
            otp::cast(ctx, o, P::StopCast);
        });
    sim.spawn_client(0, Box::new(c));
    assert_eq!(sim.run(), Outcome::Quiescent);

    assert_eq!(
        entries(&log),
        [
            "srv: init".to_string(),
            "other: init".to_string(),
            "srv: terminate done".to_string(),
            // On the srv -> c pair: what terminate sent, then the reply
            // (gen_server's `try terminate(…) after reply(From, Reply)`),
            // then the DOWN.
            "c: got info Bye".to_string(),
            "c: stop_reply -> Ok(Ok)".to_string(),
            format!("c: got DOWN {s:?} done"),
            // {:stop, R, state} from handle_cast: terminate, then exit with R.
            "other: terminate cast_stop".to_string(),
            format!("c: got DOWN {o:?} cast_stop"),
        ]
    );
}

#[test]
fn s25_genserver_stop_is_synchronous() {
    let mut sim = fifo();
    let log = log();
    let srv = slot(serve(&mut sim, Srv::new("srv", &log)));
    let other = slot(serve(&mut sim, Srv::new("other", &log)));
    let s = srv.get();
    let l = log.clone();
    let c = Caller::new("c", &log)
        .stop("stop", &srv, Reason::Other("bye".into()))
        .then(move |ctx| push(&l, format!("c: alive {}", ctx.is_alive(s))))
        .stop("stop again", &srv, Reason::Normal)
        .stop("stop other", &other, Reason::Normal);
    let c = sim.spawn_client(0, Box::new(c));
    assert_eq!(sim.run(), Outcome::Quiescent);

    assert_eq!(
        entries(&log),
        [
            "srv: init",
            "other: init",
            "srv: terminate bye",
            "c: stop -> Ok(())",
            "c: alive false",
            "c: stop again -> Err(noproc)",
            "other: terminate normal",
            "c: stop other -> Ok(())",
        ]
    );
    assert!(sim.is_alive(c));
}

#[test]
fn s26_terminate_runs_on_stop_tuple_genserver_stop_and_raise() {
    let mut sim = fifo();
    let log = log();
    let stopped = slot(serve(&mut sim, Srv::new("s1", &log)));
    let asked = slot(serve(&mut sim, Srv::new("s2", &log)));
    let raised_call = slot(serve(&mut sim, Srv::new("s3", &log)));
    let raised_cast = slot(serve(&mut sim, Srv::new("s4", &log)));
    let (s1, s4) = (stopped.get(), raised_cast.get());
    let c = Caller::new("c", &log)
        .then(move |ctx| otp::cast(ctx, s1, P::StopCast))
        .stop("stop", &asked, Reason::Other("bye".into()))
        .call("raise", &raised_call, P::Raise)
        .then(move |ctx| {
            ctx.monitor(s4);
            otp::cast(ctx, s4, P::Raise);
        });
    let c = sim.spawn_client(0, Box::new(c));
    assert_eq!(
        sim.run(),
        Outcome::Quiescent,
        "a raising callback does not panic the harness"
    );

    let call_panic = Reason::Panic("raised in handle_call".into());
    let cast_panic = Reason::Panic("raised in handle_cast".into());
    let got: Vec<String> = entries(&log)
        .into_iter()
        .filter(|l| !l.ends_with(": init"))
        .collect();
    assert_eq!(
        got,
        [
            "s1: terminate cast_stop".to_string(),
            "s2: terminate bye".to_string(),
            "c: stop -> Ok(())".to_string(),
            format!("s3: terminate {call_panic}"),
            format!("c: raise -> Err({call_panic})"),
            format!("s4: terminate {cast_panic}"),
            format!("c: got DOWN {s4:?} {cast_panic}"),
        ]
    );
    assert_eq!(sim.live_processes(), 1, "only the client is left");
    assert!(sim.is_alive(c));
}

#[test]
fn s26_terminate_does_not_run_on_kill() {
    let mut sim = fifo();
    let log = log();
    let s = serve(&mut sim, Srv::new("srv", &log).trapping());
    let c = Caller::new("c", &log).then(move |ctx| {
        ctx.monitor(s);
        ctx.exit(s, Reason::Kill);
    });
    sim.spawn_client(0, Box::new(c));
    sim.run();

    assert_eq!(
        entries(&log),
        ["srv: init".to_string(), format!("c: got DOWN {s:?} killed")]
    );
}

#[test]
fn s26_terminate_does_not_run_on_an_exit_signal_when_not_trapping() {
    let mut sim = fifo();
    let log = log();
    let s = serve(&mut sim, Srv::new("srv", &log));
    let c = Caller::new("c", &log).then(move |ctx| {
        ctx.monitor(s);
        ctx.exit(s, Reason::Other("shutdown".into()));
    });
    sim.spawn_client(0, Box::new(c));
    sim.run();

    assert_eq!(
        entries(&log),
        [
            "srv: init".to_string(),
            format!("c: got DOWN {s:?} shutdown")
        ]
    );
}

#[test]
fn s26_an_exit_from_the_parent_while_trapping_runs_terminate() {
    // The parent sends an exit signal (as a supervisor does) ...
    let mut sim = fifo();
    let log = log();
    let srv = empty_slot();
    let s = srv.clone();
    let parent = Caller::new("p", &log)
        .trapping()
        .then(start_link_into(
            &srv,
            &log,
            "p",
            Srv::new("srv", &log).trapping(),
        ))
        .settle(move |ctx| ctx.exit(s.get(), Reason::Other("shutdown".into())));
    sim.spawn_client(0, Box::new(parent));
    sim.run();
    let s = srv.get();
    assert_eq!(
        entries(&log),
        [
            "srv: init".to_string(),
            "srv: terminate shutdown".to_string(),
            format!("p: got EXIT {s:?} shutdown")
        ]
    );
    assert!(!sim.is_alive(s));

    // ... or dies, and its link delivers the exit signal.
    let mut sim = fifo();
    let log = common::log();
    let srv = empty_slot();
    let parent = Caller::new("p", &log)
        .then(start_link_into(
            &srv,
            &log,
            "p",
            Srv::new("srv", &log).trapping(),
        ))
        .exit(Reason::Other("parent_died".into()));
    sim.spawn_client(0, Box::new(parent));
    sim.run();
    assert_eq!(entries(&log), ["srv: init", "srv: terminate parent_died"]);
    assert!(!sim.is_alive(srv.get()));
}

#[test]
fn s26_an_exit_from_another_process_while_trapping_goes_to_handle_info() {
    let mut sim = fifo();
    let log = log();
    let srv = empty_slot();
    let s = srv.clone();
    let parent = Caller::new("p", &log).then(start_link_into(
        &srv,
        &log,
        "p",
        Srv::new("srv", &log).trapping(),
    ));
    let x = Caller::new("x", &log)
        .settle(move |ctx| ctx.exit(s.get(), Reason::Other("x_bye".into())))
        .call("get", &srv, P::Get);
    sim.spawn_client(0, Box::new(parent));
    sim.spawn_client(1, Box::new(x));
    sim.run();

    assert_eq!(
        entries(&log),
        ["srv: init", "srv: info EXIT x_bye", "x: get -> Ok(Val(0))"]
    );
    assert!(sim.is_alive(srv.get()));
}

#[test]
fn s26_an_exit_from_the_starter_of_an_unlinked_server_goes_to_handle_info() {
    // `GenServer.start` (no link) makes the server its own parent (gen.erl
    // passes `self` as Parent for `nolink`), so its starter is "any other
    // process": its exit signal becomes `{:EXIT, ...}` for handle_info.
    let mut sim = fifo();
    let log = log();
    let srv = empty_slot();
    let (started, s) = (srv.clone(), srv.clone());
    let server = Srv::new("srv", &log).trapping();
    let c = Caller::new("c", &log)
        .then(move |ctx| {
            let spawned =
                otp::start(ctx, Naming::Child, None, server, false).expect("init succeeds");
            started.set(spawned.pid);
        })
        .settle(move |ctx| ctx.exit(s.get(), Reason::Other("x_bye".into())))
        .call("get", &srv, P::Get);
    sim.spawn_client(0, Box::new(c));
    sim.run();

    assert_eq!(
        entries(&log),
        ["srv: init", "srv: info EXIT x_bye", "c: get -> Ok(Val(0))"]
    );
    assert!(sim.is_alive(srv.get()));
}

#[test]
fn s27_an_unexpected_message_is_ignored_by_the_default_handle_info() {
    let mut sim = fifo();
    let log = log();
    let srv = slot(serve(
        &mut sim,
        Plain {
            log: log.clone(),
            value: 0,
        },
    ));
    let s = srv.get();
    let c = Caller::new("c", &log)
        .call("put", &srv, P::Put(3))
        .then(move |ctx| ctx.send(s, Envelope::Info(P::Stray)))
        .call("get", &srv, P::Get);
    sim.spawn_client(0, Box::new(c));
    sim.run();

    assert_eq!(
        entries(&log),
        ["c: put -> Ok(Ok)", "c: get -> Ok(Val(3))"],
        "the server survived with its state"
    );
    assert!(sim.is_alive(s));
}

#[test]
fn s27_an_unmatched_handle_info_crashes_with_function_clause() {
    let mut sim = fifo();
    let log = log();
    let srv = empty_slot();
    let s = srv.clone();
    let parent = Caller::new("p", &log)
        .trapping()
        .then(start_link_into(&srv, &log, "p", Srv::new("srv", &log)))
        .then(move |ctx| ctx.send(s.get(), Envelope::Info(P::Stray)));
    sim.spawn_client(0, Box::new(parent));
    sim.run();

    let s = srv.get();
    assert_eq!(
        entries(&log),
        [
            "srv: init".to_string(),
            "srv: terminate function_clause".to_string(),
            format!("p: got EXIT {s:?} function_clause")
        ]
    );
    assert!(!sim.is_alive(s));
}

#[test]
fn s28_a_call_to_a_server_without_handle_call_crashes_it_and_exits_the_caller() {
    let mut sim = fifo();
    let log = log();
    let srv = slot(serve(&mut sim, Bare { log: log.clone() }));
    let c = Caller::new("c", &log).call("get", &srv, P::Get);
    let c = sim.spawn_client(0, Box::new(c));
    sim.run();

    assert_eq!(
        entries(&log),
        [
            "bare: terminate no_handle_call",
            "c: get -> Err(no_handle_call)"
        ]
    );
    assert!(!sim.is_alive(srv.get()));
    assert!(sim.is_alive(c));
}

#[test]
fn s29_start_runs_init_before_returning() {
    let mut sim = fifo();
    let log = log();
    let results: Vec<(Init, &'static str)> = vec![
        (Init::Ok, "ok"),
        (Init::Stop(Reason::Other("no_way".into())), "stop"),
        (Init::Raise, "raise"),
    ];
    let mut c = Caller::new("c", &log);
    for (init, label) in results {
        let l = log.clone();
        let server = Srv::new("srv", &log).init_with(init);
        c = c.then(
            move |ctx| match otp::start(ctx, Naming::Child, None, server, false) {
                Ok(spawned) => push(
                    &l,
                    format!(
                        "c: start {label} -> Ok, alive {}",
                        ctx.is_alive(spawned.pid)
                    ),
                ),
                Err(reason) => push(&l, format!("c: start {label} -> Err({reason})")),
            },
        );
    }
    let c = sim.spawn_client(0, Box::new(c));
    assert_eq!(sim.run(), Outcome::Quiescent);

    let raised = Reason::Panic("raised in init".into());
    assert_eq!(
        entries(&log),
        [
            "srv: init".to_string(),
            "c: start ok -> Ok, alive true".to_string(),
            "srv: init".to_string(),
            "c: start stop -> Err(no_way)".to_string(),
            "srv: init".to_string(),
            format!("c: start raise -> Err({raised})"),
        ]
    );
    assert!(
        sim.is_alive(c),
        "start (unlinked) never takes the caller down"
    );
    assert_eq!(sim.live_processes(), 2);
}

#[test]
fn s29_start_link_with_a_failing_init_exits_a_non_trapping_caller() {
    let mut sim = fifo();
    let log = log();
    let srv = empty_slot();
    let failing = Srv::new("srv", &log).init_with(Init::Stop(Reason::Other("no_way".into())));
    let c = Caller::new("c", &log)
        .then(start_link_into(&srv, &log, "c", failing))
        .settle(|_| {});
    let c = sim.spawn_client(0, Box::new(c));
    let w = Caller::new("w", &log).then(move |ctx| {
        ctx.monitor(c);
    });
    sim.spawn_client(1, Box::new(w));
    sim.run();

    assert_eq!(
        entries(&log),
        [
            "srv: init".to_string(),
            "c: start_link -> Err(no_way)".to_string(),
            format!("w: got DOWN {c:?} no_way")
        ]
    );
    assert!(!sim.is_alive(c));
}

#[test]
fn s29_start_link_with_a_failing_init_gives_a_trapping_caller_error_and_exit() {
    let mut sim = fifo();
    let log = log();
    let srv = empty_slot();
    let failing = Srv::new("srv", &log).init_with(Init::Stop(Reason::Other("no_way".into())));
    let c = Caller::new("c", &log)
        .trapping()
        .then(start_link_into(&srv, &log, "c", failing));
    let c = sim.spawn_client(0, Box::new(c));
    sim.run();

    let got = entries(&log);
    assert_eq!(got[..2], ["srv: init", "c: start_link -> Err(no_way)"]);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got[2].starts_with("c: got EXIT ") && got[2].ends_with(" no_way"),
        "{got:?}"
    );
    assert!(sim.is_alive(c));
}

// ----- S30–S32: Agent -----

#[test]
fn s30_agent_get_and_update_are_calls_on_a_linked_agent() {
    let mut sim = fifo();
    let log = log();
    let a = empty_slot();
    let a2 = a.clone();
    let c = Caller::new("c", &log)
        .trapping()
        .then(start_link_into(&a, &log, "c", agent()))
        .call("update", &a, P::Put(5))
        .call("get", &a, P::Get)
        // The agent is linked to its starter: its death reaches us.
        .then(move |ctx| ctx.exit(a2.get(), Reason::Kill));
    sim.spawn_client(0, Box::new(c));
    sim.run();

    let a = a.get();
    assert_eq!(
        entries(&log),
        [
            "c: update -> Ok(Ok)".to_string(),
            "c: get -> Ok(Val(5))".to_string(),
            format!("c: got EXIT {a:?} killed")
        ]
    );
}

#[test]
fn s31_agent_stop_returns_once_the_agent_is_dead_and_the_linked_caller_survives() {
    let mut sim = fifo();
    let log = log();
    let a = empty_slot();
    let a2 = a.clone();
    let (l1, l2) = (log.clone(), log.clone());
    let c = Caller::new("c", &log)
        .then(start_link_into(&a, &log, "c", agent()))
        .stop("stop", &a, Reason::Normal)
        .then(move |ctx| push(&l1, format!("c: agent alive {}", ctx.is_alive(a2.get()))))
        .settle(move |_| push(&l2, "c: end"));
    let c = sim.spawn_client(0, Box::new(c));
    assert_eq!(sim.run(), Outcome::Quiescent);

    assert_eq!(
        entries(&log),
        ["c: stop -> Ok(())", "c: agent alive false", "c: end"]
    );
    assert!(
        sim.is_alive(c),
        "a normal exit does not take the linked caller down"
    );
}

#[test]
fn s32_agent_calls_on_a_dead_agent_give_noproc() {
    let mut sim = fifo();
    let log = log();
    let a = slot(serve(&mut sim, agent()));
    let dead = a.get();
    let c = Caller::new("c", &log)
        .then(move |ctx| kill_now(ctx, dead))
        .call("get", &a, P::Get)
        .call("update", &a, P::Put(1))
        .stop("stop", &a, Reason::Normal);
    sim.spawn_client(0, Box::new(c));
    sim.run();

    assert_eq!(
        entries(&log),
        [
            "c: get -> Err(noproc)",
            "c: update -> Err(noproc)",
            "c: stop -> Err(noproc)"
        ]
    );
}

#[test]
fn s32_an_agent_killed_mid_call_gives_killed() {
    // c calls; x's kill, sent after the call, is delivered before it.
    let kill = EventKey::client(1, 0).deliver(0);
    let mut sim = with(Box::new(Overrides::new(vec![kill])));
    let log = log();
    let a = slot(serve(&mut sim, agent()));
    let target = a.get();
    let c = Caller::new("c", &log).call("get", &a, P::Get);
    let x = Caller::new("x", &log).then(move |ctx| ctx.exit(target, Reason::Kill));
    let c = sim.spawn_client(0, Box::new(c));
    sim.spawn_client(1, Box::new(x));
    sim.run();

    assert_eq!(entries(&log), ["c: get -> Err(killed)"]);
    assert!(!sim.is_alive(target));
    assert!(sim.is_alive(c));
}
