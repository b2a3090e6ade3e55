//! The stop window (docs/semantics.md S24; the core's pending exit
//! event): a server that returns `{:stop, reason, reply, state}` runs
//! `terminate`, then sends the reply, then exits in an event of its own, so
//! its caller can hold the reply and act while the server is still alive.
//! The same holds for any handler that sends and then dies in one step.

mod common;

use common::{Log, log};
use kvsim::otp::{self, CallResult, Envelope, Flow, From, GenServer, GenServerProcess};
use kvsim::sim::choice::{Fifo, Overrides, Pos, RandomWalk};
use kvsim::sim::{
    Candidate, CandidateKind, Choice, ChoiceSource, ClientState, Control, Ctx, DropCause, EventKey,
    Fault, FaultAction, Incoming, KeyArena, Limits, Naming, Outcome, Pid, Process, Reason, Sim,
    SpawnOpts, TraceEntry,
};
use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;

type E = Envelope<String>;

fn push(log: &Log, line: impl Into<String>) {
    log.borrow_mut().push(line.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// A server whose `"stop"` call returns `{:stop, :normal, "bye", state}`
/// and whose `terminate` sends `"from terminate"` to that caller; a
/// `"crash"` cast stops it with `boom` without sending anything.
struct Srv {
    log: Log,
    stopper: Option<Pid>,
}

impl GenServer<String> for Srv {
    fn handle_call(
        &mut self,
        _ctx: &mut Ctx<'_, E>,
        req: String,
        from: From,
    ) -> CallResult<String> {
        push(&self.log, format!("srv: call {req}"));
        self.stopper = Some(from.pid);
        CallResult::Stop {
            reason: Reason::Normal,
            reply: Some("bye".to_string()),
        }
    }

    fn handle_cast(&mut self, _ctx: &mut Ctx<'_, E>, req: String) -> Flow {
        push(&self.log, format!("srv: cast {req}"));
        match req.as_str() {
            "crash" => Flow::Stop(Reason::boom()),
            _ => Flow::Continue,
        }
    }

    fn terminate(&mut self, ctx: &mut Ctx<'_, E>, reason: &Reason) {
        push(&self.log, format!("srv: terminate {reason}"));
        if let Some(stopper) = self.stopper {
            ctx.send(stopper, Envelope::Info("from terminate".to_string()));
        }
    }
}

/// Spawns the server, named `srv` and registered under the role `srv`.
fn serve(sim: &mut Sim<E>, log: &Log) -> Pid {
    let opts = SpawnOpts {
        naming: Naming::Exact("srv".to_string()),
        role: Some("srv".to_string()),
        link: false,
        monitor: false,
    };
    let server = Srv {
        log: log.clone(),
        stopper: None,
    };
    sim.spawn(opts, Box::new(GenServerProcess::new(server, None)))
        .expect("init succeeds")
        .pid
}

type Step = Box<dyn FnOnce(&mut Ctx<'_, E>)>;
type OnReply = Box<dyn FnMut(&mut Ctx<'_, E>)>;

/// A client driver: one step per client event; logs what it receives, and
/// on a call's reply runs `on_reply` inside that same step.
struct Client {
    name: &'static str,
    log: Log,
    steps: VecDeque<Step>,
    next_cmd: u32,
    on_reply: Option<OnReply>,
}

impl Client {
    fn new(name: &'static str, log: &Log) -> Client {
        Client {
            name,
            log: log.clone(),
            steps: VecDeque::new(),
            next_cmd: 0,
            on_reply: None,
        }
    }

    fn then(mut self, step: impl FnOnce(&mut Ctx<'_, E>) + 'static) -> Client {
        self.steps.push_back(Box::new(step));
        self
    }

    fn on_reply(mut self, action: impl FnMut(&mut Ctx<'_, E>) + 'static) -> Client {
        self.on_reply = Some(Box::new(action));
        self
    }
}

impl Process<E> for Client {
    fn handle(&mut self, ctx: &mut Ctx<'_, E>, incoming: Incoming<E>) -> Control {
        let line = match &incoming {
            Incoming::Message {
                msg: Envelope::Reply { reply, .. },
                ..
            } => format!("reply {reply}"),
            Incoming::Message {
                msg: Envelope::Info(msg),
                ..
            } => format!("info {msg}"),
            Incoming::Message { msg, .. } => format!("msg {msg:?}"),
            Incoming::Down { reason, .. } => format!("DOWN {reason}"),
            Incoming::Exit { reason, .. } => format!("EXIT {reason}"),
            Incoming::Timer { .. } => "timer".to_string(),
        };
        push(&self.log, format!("{}: {line}", self.name));
        let is_reply = matches!(
            incoming,
            Incoming::Message {
                msg: Envelope::Reply { .. },
                ..
            }
        );
        if is_reply && let Some(action) = &mut self.on_reply {
            action(ctx);
        }
        Control::Continue
    }

    fn client_state(&self) -> ClientState {
        if self.steps.is_empty() {
            ClientState::Done
        } else {
            ClientState::Ready {
                cmd: self.next_cmd,
                needs_quiet: false,
            }
        }
    }

    fn act(&mut self, ctx: &mut Ctx<'_, E>) -> Control {
        if let Some(step) = self.steps.pop_front() {
            self.next_cmd += 1;
            step(ctx);
        }
        Control::Continue
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn sim_with(chooser: Box<dyn ChoiceSource>) -> Sim<E> {
    Sim::new(chooser, Limits::default(), true)
}

/// Keys of this file's scenario. Client `c` (stable id 0) sends the call
/// in its first action: `monitor` takes send index 0, the call index 1.
/// The server's handler sends what `terminate` sent (index 0), then the
/// reply (index 1); its exit event is `<call delivery>/exit`.
fn call_delivery() -> EventKey {
    EventKey::client(0, 0).deliver(1)
}

fn terminate_delivery() -> EventKey {
    call_delivery().deliver(0)
}

fn reply_delivery() -> EventKey {
    call_delivery().deliver(1)
}

fn exit_event() -> EventKey {
    call_delivery().exit()
}

/// The step numbers of the steps whose event text starts with `prefix`.
fn steps_of(sim: &Sim<E>, prefix: &str) -> Vec<u64> {
    let trace = sim.trace().expect("tracing is on");
    trace
        .entries
        .iter()
        .filter_map(|entry| match entry {
            TraceEntry::Step { step, event, .. } if event.starts_with(prefix) => Some(*step),
            _ => None,
        })
        .collect()
}

#[test]
fn terminate_runs_before_the_reply_is_sent() {
    let log = log();
    let mut sim = sim_with(Box::new(Fifo));
    let srv = serve(&mut sim, &log);
    let c = Client::new("c", &log).then(move |ctx| {
        otp::call(ctx, srv, "stop".to_string(), None);
    });
    sim.spawn_client(0, Box::new(c));
    assert_eq!(sim.run(), Outcome::Quiescent);
    // On the srv -> c pair what `terminate` sent is queued before the reply.
    assert_eq!(
        entries(&log),
        [
            "srv: call stop",
            "srv: terminate normal",
            "c: info from terminate",
            "c: reply bye",
            "c: DOWN normal",
        ]
    );
}

/// Under `fifo` the exit event runs at once (rule 0): the caller handles
/// the reply with the server already dead, as in every BEAM recording.
#[test]
fn fifo_runs_the_exit_event_first() {
    let log = log();
    let mut sim = sim_with(Box::new(Fifo));
    let srv = serve(&mut sim, &log);
    let l = log.clone();
    let c = Client::new("c", &log)
        .then(move |ctx| {
            otp::call(ctx, srv, "stop".to_string(), None);
        })
        .on_reply(move |ctx| {
            let alive = ctx.is_alive(srv);
            push(&l, format!("c: srv alive {alive}"));
        });
    sim.spawn_client(0, Box::new(c));
    assert_eq!(sim.run(), Outcome::Quiescent);
    assert!(entries(&log).contains(&"c: srv alive false".to_string()));
    let exits = steps_of(&sim, "srv exits");
    let calls = steps_of(&sim, "client0 -> srv: call");
    assert_eq!(exits.len(), 1);
    assert_eq!(exits[0], calls[0] + 1, "the exit event follows at once");
}

/// An override delays the exit event: the caller receives the reply and
/// acts while the server is alive. `is_alive` is true (its flush into the
/// exiting server delivers nothing), and a monitor set in the window gets a
/// `DOWN` with the real reason, not `noproc`.
#[test]
fn the_caller_acts_between_the_reply_and_the_exit() {
    let log = log();
    // What `terminate` sent is ahead of the reply on the srv -> c pair.
    let chooser = Overrides::new(vec![
        call_delivery(),
        terminate_delivery(),
        reply_delivery(),
    ]);
    let mut sim = sim_with(Box::new(chooser));
    let srv = serve(&mut sim, &log);
    let l = log.clone();
    let c = Client::new("c", &log)
        .then(move |ctx| {
            otp::call(ctx, srv, "stop".to_string(), None);
        })
        .on_reply(move |ctx| {
            // Queued behind nothing: an `is_alive` flush would deliver it,
            // but not into a process whose exit is pending.
            otp::cast(ctx, srv, "late".to_string());
            let alive = ctx.is_alive(srv);
            push(&l, format!("c: srv alive {alive}"));
            ctx.monitor(srv);
        });
    sim.spawn_client(0, Box::new(c));
    assert_eq!(sim.run(), Outcome::Quiescent);
    assert_eq!(
        entries(&log),
        [
            "srv: call stop",
            "srv: terminate normal",
            "c: info from terminate",
            "c: reply bye",
            "c: srv alive true",
            // The call's monitor and the one set in the window.
            "c: DOWN normal",
            "c: DOWN normal",
        ],
        "{}",
        sim.trace().expect("traced").to_text()
    );
    let taken: Vec<String> = sim
        .schedule_taken()
        .iter()
        .map(ToString::to_string)
        .collect();
    let reply = taken
        .iter()
        .position(|k| *k == reply_delivery().to_string());
    let exit = taken.iter().position(|k| *k == exit_event().to_string());
    assert!(
        reply.is_some() && exit.is_some() && reply < exit,
        "{taken:?}"
    );
    assert_eq!(exit_event().to_string(), "client0.cmd0/1/exit");
    // The cast sent in the window was never handled: dropped at the death.
    let trace = sim.trace().expect("traced");
    assert!(
        trace.entries.iter().any(|entry| matches!(
            entry,
            TraceEntry::Drop { from, to, signal, why: DropCause::Dead }
                if from == "client0" && to == "srv" && signal.contains("late")
        )),
        "{}",
        trace.to_text()
    );
}

/// A `kill` fault in the window makes the exit reason `killed`, at once.
#[test]
fn a_kill_in_the_window_changes_the_exit_reason() {
    let log = log();
    // An enabled override runs at once, so the list spells out the order.
    let chooser = Overrides::new(vec![
        EventKey::client(1, 0),
        EventKey::client(0, 0),
        call_delivery(),
        EventKey::fault(0),
    ]);
    let mut sim = sim_with(Box::new(chooser));
    let srv = serve(&mut sim, &log);
    sim.add_fault(Fault {
        id: 0,
        target: "srv".to_string(),
        action: FaultAction::Kill,
    });
    let watcher = Client::new("w", &log).then(move |ctx| {
        ctx.monitor(srv);
    });
    let c = Client::new("c", &log).then(move |ctx| {
        otp::call(ctx, srv, "stop".to_string(), None);
    });
    sim.spawn_client(0, Box::new(c));
    sim.spawn_client(1, Box::new(watcher));
    assert_eq!(sim.run(), Outcome::Quiescent);
    let log = entries(&log);
    assert!(log.contains(&"w: DOWN killed".to_string()), "{log:?}");
    assert!(log.contains(&"c: DOWN killed".to_string()), "{log:?}");
    assert!(
        steps_of(&sim, "srv exits").is_empty(),
        "the kill took the death"
    );
}

/// An untrappable exit signal from another process also gets through to a
/// process in its window (the queue's head is an exit signal).
#[test]
fn an_exit_signal_in_the_window_changes_the_exit_reason() {
    let log = log();
    let chooser = Overrides::new(vec![
        EventKey::client(0, 0),
        call_delivery(),
        EventKey::client(1, 0),
        EventKey::client(1, 0).deliver(0),
    ]);
    let mut sim = sim_with(Box::new(chooser));
    let srv = serve(&mut sim, &log);
    let c = Client::new("c", &log).then(move |ctx| {
        otp::call(ctx, srv, "stop".to_string(), None);
    });
    let k = Client::new("k", &log).then(move |ctx| ctx.exit(srv, Reason::Kill));
    sim.spawn_client(0, Box::new(c));
    sim.spawn_client(1, Box::new(k));
    assert_eq!(sim.run(), Outcome::Quiescent);
    assert!(
        entries(&log).contains(&"c: DOWN killed".to_string()),
        "{:?}\n{}",
        entries(&log),
        sim.trace().expect("traced").to_text()
    );
}

/// A handler that dies without having sent anything dies within its step:
/// no exit event.
#[test]
fn a_death_that_sent_nothing_is_immediate() {
    let log = log();
    let mut sim = sim_with(Box::new(Fifo));
    let srv = serve(&mut sim, &log);
    let c = Client::new("c", &log).then(move |ctx| {
        otp::cast(ctx, srv, "crash".to_string());
    });
    sim.spawn_client(0, Box::new(c));
    assert!(sim.step(), "c casts");
    assert!(sim.step(), "srv handles the cast and crashes");
    assert!(!sim.is_alive(srv));
    assert!(steps_of(&sim, "srv exits").is_empty());
}

/// Records every candidate kind and key a wrapped source is offered.
struct Watching<S> {
    inner: S,
    seen: Rc<RefCell<BTreeSet<String>>>,
}

impl<S: ChoiceSource> ChoiceSource for Watching<S> {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        for Candidate { key, kind, .. } in choice.candidates {
            if *kind == CandidateKind::Exit {
                self.seen
                    .borrow_mut()
                    .insert(choice.keys.key(*key).to_string());
            }
        }
        self.inner.choose(choice)
    }

    fn prepare(&mut self, keys: &mut KeyArena) {
        self.inner.prepare(keys)
    }
}

/// Random walk and POS see the exit event as a candidate of kind `Exit`
/// and reach both orders of reply and exit; a timer never fires while an
/// exit is pending; whatever the order, the caller gets the reply.
#[test]
fn strategies_can_delay_the_exit_event_and_timers_wait_for_it() {
    let mut orders = BTreeSet::new();
    for seed in 0..200 {
        for strategy in ["random", "pos"] {
            let log = log();
            let seen = Rc::new(RefCell::new(BTreeSet::new()));
            let chooser: Box<dyn ChoiceSource> = match strategy {
                "random" => Box::new(Watching {
                    inner: RandomWalk::new(seed),
                    seen: seen.clone(),
                }),
                _ => Box::new(Watching {
                    inner: Pos::new(seed),
                    seen: seen.clone(),
                }),
            };
            let mut sim = sim_with(chooser);
            let srv = serve(&mut sim, &log);
            let l = log.clone();
            let c = Client::new("c", &log)
                .then(move |ctx| {
                    otp::call(ctx, srv, "stop".to_string(), None);
                    ctx.start_timer(0);
                })
                .on_reply(move |ctx| {
                    let alive = ctx.is_alive(srv);
                    push(&l, format!("alive at reply {alive}"));
                });
            sim.spawn_client(0, Box::new(c));
            assert_eq!(sim.run(), Outcome::Quiescent);
            let log = entries(&log);
            assert!(log.contains(&"c: reply bye".to_string()), "{log:?}");
            assert_eq!(
                log.last().map(String::as_str),
                Some("c: timer"),
                "seed {seed} {strategy}: the timer fired before everything else ended: {log:?}"
            );
            assert!(
                seen.borrow().contains(&exit_event().to_string()),
                "seed {seed} {strategy}: {:?}",
                seen.borrow()
            );
            orders.insert(log.iter().any(|line| line == "alive at reply true"));
        }
    }
    assert_eq!(
        orders,
        BTreeSet::from([false, true]),
        "both orders of reply and exit are reached"
    );
}
