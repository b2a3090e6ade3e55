//! Shared test helpers: small processes for driving the core directly and
//! a one-call way to play a `.kv` script.
#![allow(dead_code)]

use kvsim::check::{RunConfig, RunReport, Schedule, run_script};
use kvsim::kv::Stage;
use kvsim::kv::script;
use kvsim::sim::choice::Fifo;
use kvsim::sim::{ClientState, Control, Ctx, Incoming, Limits, Pid, Process, Sim};
use std::any::Any;
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

/// The message type of core-level tests.
pub type M = String;

/// What processes saw, shared between the test and its processes.
pub type Log = Rc<RefCell<Vec<String>>>;

pub fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

/// Renders an incoming signal the way tests assert on it.
pub fn describe(incoming: &Incoming<M>) -> String {
    match incoming {
        Incoming::Message { msg, .. } => format!("msg {msg}"),
        Incoming::Exit { reason, .. } => format!("EXIT {reason}"),
        Incoming::Down { reason, .. } => format!("DOWN {reason}"),
        Incoming::Timer { .. } => "timer".to_string(),
    }
}

type Handler = Box<dyn FnMut(&mut Ctx<'_, M>, &Incoming<M>) -> Control>;

/// A process that logs `"<name>: <signal>"` for everything it receives and
/// then runs an optional handler.
pub struct Probe {
    name: String,
    log: Log,
    trap_exit: bool,
    handler: Option<Handler>,
}

impl Probe {
    pub fn new(name: &str, log: &Log) -> Probe {
        Probe {
            name: name.to_string(),
            log: log.clone(),
            trap_exit: false,
            handler: None,
        }
    }

    pub fn trapping(mut self) -> Probe {
        self.trap_exit = true;
        self
    }

    pub fn on(
        mut self,
        handler: impl FnMut(&mut Ctx<'_, M>, &Incoming<M>) -> Control + 'static,
    ) -> Probe {
        self.handler = Some(Box::new(handler));
        self
    }
}

impl Process<M> for Probe {
    fn init(&mut self, ctx: &mut Ctx<'_, M>) -> Result<(), kvsim::sim::Reason> {
        ctx.set_trap_exit(self.trap_exit);
        Ok(())
    }

    fn handle(&mut self, ctx: &mut Ctx<'_, M>, incoming: Incoming<M>) -> Control {
        self.log
            .borrow_mut()
            .push(format!("{}: {}", self.name, describe(&incoming)));
        match &mut self.handler {
            Some(handler) => handler(ctx, &incoming),
            None => Control::Continue,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

type Action = Box<dyn FnOnce(&mut Ctx<'_, M>)>;

/// A client driver that takes one action per client event, in order, and
/// logs what it receives like a [`Probe`].
pub struct Driver {
    name: String,
    log: Log,
    actions: std::collections::VecDeque<Action>,
    next_cmd: u32,
}

impl Driver {
    pub fn new(name: &str, log: &Log) -> Driver {
        Driver {
            name: name.to_string(),
            log: log.clone(),
            actions: Default::default(),
            next_cmd: 0,
        }
    }

    pub fn then(mut self, action: impl FnOnce(&mut Ctx<'_, M>) + 'static) -> Driver {
        self.actions.push_back(Box::new(action));
        self
    }
}

impl Process<M> for Driver {
    fn handle(&mut self, _ctx: &mut Ctx<'_, M>, incoming: Incoming<M>) -> Control {
        self.log
            .borrow_mut()
            .push(format!("{}: {}", self.name, describe(&incoming)));
        Control::Continue
    }

    fn client_state(&self) -> ClientState {
        if self.actions.is_empty() {
            ClientState::Done
        } else {
            ClientState::Ready {
                cmd: self.next_cmd,
                needs_quiet: false,
            }
        }
    }

    fn act(&mut self, ctx: &mut Ctx<'_, M>) -> Control {
        if let Some(action) = self.actions.pop_front() {
            self.next_cmd += 1;
            action(ctx);
        }
        Control::Continue
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A `fifo` simulation with tracing on.
pub fn fifo_sim() -> Sim<M> {
    Sim::new(Box::new(Fifo), Limits::default(), true)
}

/// Spawns `process` at setup, unlinked, with a `Child` name.
pub fn spawn(sim: &mut Sim<M>, process: impl Process<M>) -> Pid {
    sim.spawn(kvsim::sim::SpawnOpts::child(), Box::new(process))
        .expect("init succeeds")
        .pid
}

/// Plays script text on `stage` under `fifo`.
pub fn play(stage: Stage, text: &str) -> String {
    play_with(stage, Schedule::Fifo, 0, text).dialogue
}

/// Plays script text with any schedule and seed, tracing on.
pub fn play_with(stage: Stage, schedule: Schedule, seed: u64, text: &str) -> RunReport {
    let script = script::parse(Path::new("test.kv"), text.as_bytes())
        .unwrap_or_else(|e| panic!("{e}: {text:?}"));
    let config = RunConfig {
        stage,
        schedule,
        seed,
        limits: Limits::default(),
        tracing: true,
    };
    run_script(&script, &config)
}

/// A directory of its own for one test, under the system temp dir, removed
/// when dropped.
pub struct TempDir {
    pub path: std::path::PathBuf,
}

impl TempDir {
    pub fn new(test: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("kvsim-test-{}-{n}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the temp dir");
        TempDir { path }
    }

    /// Writes `bytes` to `<dir>/<name>` and returns its path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = self.path.join(name);
        std::fs::write(&path, bytes).expect("write the file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// What one run of the `kvsim` binary printed.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `kvsim <args>`.
pub fn kvsim<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .args(args)
        .output()
        .expect("kvsim starts");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Every case with one element fewer — one command, one fault or one
/// override — labelled by what was removed.
pub fn one_deletions(case: &kvsim::check::Case) -> Vec<(String, kvsim::check::Case)> {
    let mut out = Vec::new();
    for (c, client) in case.clients.iter().enumerate() {
        for (i, (id, command)) in client.commands.iter().enumerate() {
            let mut smaller = case.clone();
            smaller.clients[c].commands.remove(i);
            out.push((
                format!("client{} command {id} `{command}`", client.id),
                smaller,
            ));
        }
    }
    for (i, fault) in case.faults.iter().enumerate() {
        let mut smaller = case.clone();
        smaller.faults.remove(i);
        out.push((format!("fault {} `{}`", fault.id, fault.fault), smaller));
    }
    for (i, key) in case.schedule.iter().enumerate() {
        let mut smaller = case.clone();
        smaller.schedule.remove(i);
        out.push((format!("override `{key}`"), smaller));
    }
    out
}

/// Removing any one command, fault or override makes the failure of the
/// counterexample's property go away or come later (checked as the search
/// checked it): the shrinker's 1-minimality, for the counterexample's
/// length. (Its shortening pass may keep an override that only makes the
/// failure come sooner.)
pub fn assert_one_minimal(
    registry: &kvsim::check::RegistryFactory<'_>,
    check: &kvsim::check::CheckConfig,
    counterexample: &kvsim::check::Counterexample,
) {
    use kvsim::check::run_case;
    let property = counterexample.failure.property;
    let length = counterexample.failure.step;
    let still = run_case(&counterexample.case, registry, check);
    assert!(
        !still.holds(property),
        "the shrunk case does not fail {property}:\n{counterexample}"
    );
    for (removed, smaller) in one_deletions(&counterexample.case) {
        let run = run_case(&smaller, registry, check);
        let as_soon = run
            .failure
            .as_ref()
            .is_some_and(|f| f.property == property && f.step <= length);
        assert!(
            !as_soon,
            "not 1-minimal: without {removed} the case still fails {property} within {length} events:\n{counterexample}"
        );
    }
}

/// The snapshot of a counterexample: the failure, the case file a replay
/// reads (naming `registry`), and the trace.
pub fn review(registry: &str, counterexample: &kvsim::check::Counterexample) -> String {
    let meta = kvsim::check::CaseMeta {
        registry: Some(registry.to_string()),
        property: Some(counterexample.failure.property.to_string()),
        extra: Default::default(),
    };
    format!(
        "{}\n\n{}\n{}",
        counterexample.failure,
        counterexample.case.to_json(&meta),
        counterexample.trace
    )
}

/// A case as three lists of words: commands (`client<id>: <command>`),
/// faults and overrides.
pub fn shape(case: &kvsim::check::Case) -> (Vec<String>, Vec<String>, Vec<String>) {
    let commands = case
        .clients
        .iter()
        .flat_map(|client| {
            client
                .commands
                .iter()
                .map(move |(_, command)| format!("client{}: {command}", client.id))
        })
        .collect();
    let faults = case.faults.iter().map(|f| f.fault.to_string()).collect();
    let schedule = case.schedule.iter().map(ToString::to_string).collect();
    (commands, faults, schedule)
}

pub fn words(items: &[&str]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

pub type SeqStep<T> = Box<dyn FnOnce(&mut Ctx<'_, T>) -> Control>;
pub type SeqHandler<T> = Box<dyn FnMut(&mut Ctx<'_, T>, &Incoming<T>) -> Control>;

/// A process that logs what it receives (with senders and refs) and runs an
/// optional handler; spawned as a client, it also takes one step per client
/// event, a `settle` step only once nothing is queued anywhere.
pub struct Seq<T> {
    name: String,
    log: Log,
    trap_exit: bool,
    steps: std::collections::VecDeque<(bool, SeqStep<T>)>,
    next_cmd: u32,
    handler: Option<SeqHandler<T>>,
    render: fn(&Incoming<T>) -> String,
}

impl<T: std::fmt::Debug + 'static> Seq<T> {
    /// Logs what it receives in its own words, e.g. [`describe`].
    pub fn rendering(mut self, render: fn(&Incoming<T>) -> String) -> Seq<T> {
        self.render = render;
        self
    }

    /// A step that decides whether the driver exits.
    pub fn then_control(self, step: impl FnOnce(&mut Ctx<'_, T>) -> Control + 'static) -> Seq<T> {
        self.push(false, step)
    }

    pub fn new(name: &str, log: &Log) -> Seq<T> {
        Seq {
            name: name.to_string(),
            log: log.clone(),
            trap_exit: false,
            steps: std::collections::VecDeque::new(),
            next_cmd: 0,
            handler: None,
            render: render_full,
        }
    }

    pub fn trapping(mut self) -> Seq<T> {
        self.trap_exit = true;
        self
    }

    pub fn on(
        mut self,
        handler: impl FnMut(&mut Ctx<'_, T>, &Incoming<T>) -> Control + 'static,
    ) -> Seq<T> {
        self.handler = Some(Box::new(handler));
        self
    }

    pub fn then(self, step: impl FnOnce(&mut Ctx<'_, T>) + 'static) -> Seq<T> {
        self.push(false, move |ctx| {
            step(ctx);
            Control::Continue
        })
    }

    pub fn settle(self, step: impl FnOnce(&mut Ctx<'_, T>) + 'static) -> Seq<T> {
        self.push(true, move |ctx| {
            step(ctx);
            Control::Continue
        })
    }

    pub fn then_exit(self, reason: kvsim::sim::Reason) -> Seq<T> {
        self.push(false, move |_| Control::Exit(reason))
    }

    pub fn settle_exit(self, reason: kvsim::sim::Reason) -> Seq<T> {
        self.push(true, move |_| Control::Exit(reason))
    }

    pub fn push(
        mut self,
        needs_quiet: bool,
        step: impl FnOnce(&mut Ctx<'_, T>) -> Control + 'static,
    ) -> Seq<T> {
        self.steps.push_back((needs_quiet, Box::new(step)));
        self
    }
}

/// Renders a signal with its sender, refs and reason.
pub fn render_full<T: std::fmt::Debug>(incoming: &Incoming<T>) -> String {
    match incoming {
        Incoming::Message { msg, .. } => format!("msg {msg:?}"),
        Incoming::Exit { from, reason } => format!("EXIT {from:?} {reason}"),
        Incoming::Down { mref, pid, reason } => format!("DOWN {mref:?} {pid:?} {reason}"),
        Incoming::Timer { .. } => "timer".to_string(),
    }
}

impl<T: std::fmt::Debug + 'static> Process<T> for Seq<T> {
    fn init(&mut self, ctx: &mut Ctx<'_, T>) -> Result<(), kvsim::sim::Reason> {
        ctx.set_trap_exit(self.trap_exit);
        Ok(())
    }

    fn handle(&mut self, ctx: &mut Ctx<'_, T>, incoming: Incoming<T>) -> Control {
        self.log
            .borrow_mut()
            .push(format!("{}: {}", self.name, (self.render)(&incoming)));
        match &mut self.handler {
            Some(handler) => handler(ctx, &incoming),
            None => Control::Continue,
        }
    }

    fn client_state(&self) -> ClientState {
        match self.steps.front() {
            Some(&(needs_quiet, _)) => ClientState::Ready {
                cmd: self.next_cmd,
                needs_quiet,
            },
            None => ClientState::Done,
        }
    }

    fn act(&mut self, ctx: &mut Ctx<'_, T>) -> Control {
        match self.steps.pop_front() {
            Some((_, step)) => {
                self.next_cmd += 1;
                step(ctx)
            }
            None => Control::Continue,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
