//! One run of a `.kv` script: builds the KV system for a stage and a
//! schedule, runs it, and collects the dialogue, the outcome and the trace.

use crate::kv::script::{Script, ScriptText};
use crate::kv::{Command, KvSystem, Stage};
use crate::sim::choice::{Fifo, Pct, Pos, RandomWalk, Shared};
use crate::sim::{ChoiceSource, EventKey, Limits, Outcome, Trace, TraceEntry};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::rc::Rc;
use std::str::FromStr;

/// Which choice source orders the events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    Fifo,
    Random,
    Pct { depth: u32 },
    Pos,
}

impl Schedule {
    /// The source for `seed`; PCT draws its change points from `1..=k`,
    /// `k` being the length of a `fifo` run of the same case.
    pub fn chooser(self, seed: u64, k: u64) -> Box<dyn ChoiceSource> {
        match self {
            Schedule::Fifo => Box::new(Fifo),
            Schedule::Random => Box::new(RandomWalk::new(seed)),
            Schedule::Pct { depth } => Box::new(Pct::new(seed, depth as usize, k)),
            Schedule::Pos => Box::new(Pos::new(seed)),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Fifo => f.write_str("fifo"),
            Schedule::Random => f.write_str("random"),
            Schedule::Pct { .. } => f.write_str("pct"),
            Schedule::Pos => f.write_str("pos"),
        }
    }
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(text: &str) -> Result<Schedule, String> {
        match text {
            "fifo" => Ok(Schedule::Fifo),
            "random" => Ok(Schedule::Random),
            "pct" => Ok(Schedule::Pct { depth: 3 }),
            "pos" => Ok(Schedule::Pos),
            _ => Err(format!(
                "unknown schedule {text:?} (expected one of: fifo, random, pct, pos)"
            )),
        }
    }
}

/// How to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunConfig {
    pub stage: Stage,
    pub schedule: Schedule,
    pub seed: u64,
    pub limits: Limits,
    pub tracing: bool,
}

impl Default for RunConfig {
    fn default() -> RunConfig {
        RunConfig {
            stage: Stage::Fixed,
            schedule: Schedule::Fifo,
            seed: 0,
            limits: Limits::default(),
            tracing: false,
        }
    }
}

/// PCT's parameters in one run: `n` units met, change points over `k`
/// events, depth `d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PctRun {
    /// The units (queues, client streams, faults, timers, exits) ever
    /// enabled in the run.
    pub n: usize,
    /// The length, in events, of a `fifo` run of the same script.
    pub k: u64,
    pub depth: usize,
}

impl PctRun {
    /// `1 / (n * k^(d-1))`: PCT's lower bound on the chance, per run, of
    /// hitting a given bug of depth `d` ([`Pct::bound`]).
    pub fn bound(&self) -> f64 {
        Pct::bound(self.n, self.k, self.depth)
    }
}

impl fmt::Display for PctRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let denominator = self.bound().recip().round();
        write!(
            f,
            "pct: n={} units, k={} events (a fifo run), d={}: bound 1/(n*k^(d-1)) = 1/{denominator}",
            self.n, self.k, self.depth
        )
    }
}

/// What one run produced.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The conversation, exactly as `kvsim run` prints it.
    pub dialogue: String,
    pub outcome: Outcome,
    pub trace: Option<Trace>,
    /// The events the schedule picked, as a replayable override list
    /// (empty under `fifo`).
    pub schedule_taken: Vec<EventKey>,
    pub steps: u64,
    /// PCT's `n`, `k` and `d`, under `--schedule pct`.
    pub pct: Option<PctRun>,
}

/// Plays `script` on a fresh system. Under PCT, first plays it under
/// `fifo` to learn `k`.
pub fn run_script(script: &Script, config: &RunConfig) -> RunReport {
    match config.schedule {
        Schedule::Pct { depth } => {
            let k = fifo_steps(script, config);
            let depth = depth as usize;
            let pct = Shared::new(Pct::new(config.seed, depth, k));
            let handle = Rc::clone(&pct.0);
            let mut report = play(script, config, Box::new(pct));
            let n = handle.borrow().units_seen();
            report.pct = Some(PctRun { n, k, depth });
            report
        }
        schedule => play(script, config, schedule.chooser(config.seed, 1)),
    }
}

/// The length in events of a `fifo` run of `script` (PCT's `k`).
pub fn fifo_steps(script: &Script, config: &RunConfig) -> u64 {
    let fifo = RunConfig {
        schedule: Schedule::Fifo,
        tracing: false,
        ..config.clone()
    };
    play(script, &fifo, Box::new(Fifo)).steps
}

fn play(script: &Script, config: &RunConfig, chooser: Box<dyn ChoiceSource>) -> RunReport {
    let mut system = KvSystem::new(
        config.stage.registry(),
        chooser,
        config.limits,
        config.tracing,
    );
    for (client_id, client) in script.clients.iter().enumerate() {
        let commands: Vec<_> = client
            .lines
            .iter()
            .enumerate()
            .map(|(cmd_id, line)| (cmd_id as u32, line.command.clone()))
            .collect();
        system.add_client(client_id as u32, commands.into_iter(), true);
    }
    let outcome = system.sim.run();
    let dialogue = system.dialogue(script.clients.iter().map(|client| client.name.as_str()));
    RunReport {
        dialogue,
        outcome,
        schedule_taken: system.sim.schedule_taken(),
        steps: system.sim.steps(),
        trace: system.sim.take_trace(),
        pct: None,
    }
}

/// A script's clients as a run needs them: names, in order, and commands.
/// Both a parsed [`Script`] and a [`ScriptText`] (commands kept as text)
/// are.
pub trait ScriptClients {
    fn client_names(&self) -> Vec<&str>;
    /// Client `client`'s commands, in order.
    fn client_commands(&self, client: usize) -> Box<dyn Iterator<Item = Command>>;
    fn command_count(&self) -> usize;
}

impl ScriptClients for Script {
    fn client_names(&self) -> Vec<&str> {
        self.clients.iter().map(|c| c.name.as_str()).collect()
    }

    fn client_commands(&self, client: usize) -> Box<dyn Iterator<Item = Command>> {
        let commands: Vec<Command> = self.clients[client]
            .lines
            .iter()
            .map(|line| line.command.clone())
            .collect();
        Box::new(commands.into_iter())
    }

    fn command_count(&self) -> usize {
        self.clients.iter().map(|c| c.lines.len()).sum()
    }
}

impl ScriptClients for ScriptText {
    fn client_names(&self) -> Vec<&str> {
        self.clients.iter().map(|c| c.name.as_str()).collect()
    }

    fn client_commands(&self, client: usize) -> Box<dyn Iterator<Item = Command>> {
        Box::new(self.clients[client].commands())
    }

    fn command_count(&self) -> usize {
        self.clients.iter().map(|c| c.len()).sum()
    }
}

/// Called with each trace entry as it is produced, and the names of the
/// pids spawned so far.
pub type TraceSink<'a> =
    &'a mut dyn FnMut(&TraceEntry, &BTreeMap<u64, String>) -> std::io::Result<()>;

/// Where [`ScriptPlayer::play`] writes as the run goes.
pub struct Sinks<'a> {
    /// The dialogue, exactly as [`RunReport::dialogue`] has it: with one
    /// client, each command's lines as soon as it is answered; with
    /// several, each client's under its header once the run ends. `None`
    /// discards it.
    pub dialogue: Option<&'a mut dyn Write>,
    /// Tracing is on exactly when this is given.
    pub trace: Option<TraceSink<'a>>,
    /// Keep the events a non-`fifo` schedule picks (for `--print-schedule`;
    /// one key per step).
    pub schedule: bool,
}

/// What a streamed run leaves once it has written everything.
#[derive(Debug)]
pub struct Played {
    pub outcome: Outcome,
    pub steps: u64,
    /// Empty unless [`Sinks::schedule`] asked for it.
    pub schedule_taken: Vec<EventKey>,
    /// Every traced process's logical name, by pid number (empty when not
    /// tracing).
    pub pid_names: BTreeMap<u64, String>,
    pub pct: Option<PctRun>,
    /// The first error writing the dialogue or the trace, after which
    /// nothing more was written. The run stopped there (`outcome` and
    /// `steps` say where it stood), except after a closed pipe
    /// ([`std::io::ErrorKind::BrokenPipe`]): the reader has all it wanted,
    /// and the run went on, unwritten, to its end, so that its outcome is
    /// the run's own.
    pub write_error: Option<std::io::Error>,
}

/// Plays a script writing its dialogue and trace as they are produced, so
/// that nothing grows with the run but what is alive in it: `kvsim run`'s
/// way. A run is a pure function of the script and the configuration, so
/// playing twice gives the same run (the CLI writes the dialogue from one
/// play and the trace from a second).
pub struct ScriptPlayer<'s> {
    script: &'s dyn ScriptClients,
    config: RunConfig,
    /// PCT's `k`: the length of a `fifo` run, learnt once.
    k: u64,
}

impl<'s> ScriptPlayer<'s> {
    /// Under PCT, plays the script under `fifo` first to learn `k`.
    pub fn new(script: &'s dyn ScriptClients, config: &RunConfig) -> ScriptPlayer<'s> {
        let mut player = ScriptPlayer {
            script,
            config: RunConfig {
                schedule: Schedule::Fifo,
                ..config.clone()
            },
            k: 1,
        };
        if let Schedule::Pct { .. } = config.schedule {
            let sinks = Sinks {
                dialogue: None,
                trace: None,
                schedule: false,
            };
            player.k = player.play(sinks).steps;
        }
        player.config = config.clone();
        player
    }

    pub fn play(&self, mut sinks: Sinks<'_>) -> Played {
        let config = &self.config;
        let (chooser, pct): (Box<dyn ChoiceSource>, _) = match config.schedule {
            Schedule::Pct { depth } => {
                let pct = Shared::new(Pct::new(config.seed, depth as usize, self.k));
                let handle = Rc::clone(&pct.0);
                (Box::new(pct), Some((handle, depth as usize)))
            }
            schedule => (schedule.chooser(config.seed, self.k), None),
        };
        let tracing = sinks.trace.is_some();
        let mut system = KvSystem::new(config.stage.registry(), chooser, config.limits, tracing);
        system.sim.record_schedule(sinks.schedule);
        let names = self.script.client_names();
        let mut transcripts = Vec::new();
        for client in 0..names.len() {
            let commands = (0u32..).zip(self.script.client_commands(client));
            if sinks.dialogue.is_some() {
                transcripts.push(system.add_client_transcribed(client as u32, commands));
            } else {
                system.add_client(client as u32, commands, false);
            }
        }
        let mut write_error = None;
        let mut buffer = String::new();
        let mut entries: Vec<TraceEntry> = Vec::new();
        let no_names = BTreeMap::new();
        loop {
            if let Some(trace) = &mut sinks.trace {
                entries.extend(system.sim.drain_trace());
                let names = system.sim.trace().map_or(&no_names, |t| &t.pid_names);
                if write_error.is_none() {
                    for entry in &entries {
                        if let Err(error) = trace(entry, names) {
                            write_error = Some(error);
                            break;
                        }
                    }
                }
                entries.clear();
            }
            if let ([only], Some(out)) = (transcripts.as_slice(), &mut sinks.dialogue) {
                buffer.clear();
                std::mem::swap(&mut buffer, &mut only.borrow_mut());
                if write_error.is_none()
                    && !buffer.is_empty()
                    && let Err(error) = out.write_all(buffer.as_bytes())
                {
                    write_error = Some(error);
                }
            }
            let stopped = write_error
                .as_ref()
                .is_some_and(|e: &std::io::Error| e.kind() != std::io::ErrorKind::BrokenPipe);
            if stopped || !system.sim.step() {
                break;
            }
        }
        if let (true, Some(out)) = (transcripts.len() > 1, &mut sinks.dialogue) {
            for (name, transcript) in names.iter().zip(&transcripts) {
                let mut text = String::new();
                crate::kv::push_dialogue_header(&mut text, name);
                text.push_str(&transcript.borrow());
                if write_error.is_none()
                    && let Err(error) = out.write_all(text.as_bytes())
                {
                    write_error = Some(error);
                }
            }
        }
        Played {
            outcome: system.sim.outcome(),
            steps: system.sim.steps(),
            schedule_taken: system.sim.schedule_taken(),
            pid_names: system
                .sim
                .take_trace()
                .map(|t| t.pid_names)
                .unwrap_or_default(),
            pct: pct.map(|(handle, depth)| PctRun {
                n: handle.borrow().units_seen(),
                k: self.k,
                depth,
            }),
            write_error,
        }
    }
}
