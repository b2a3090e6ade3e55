//! One run of a `.kv` script: builds the KV system for a stage and a
//! schedule, runs it, and collects the dialogue, the outcome and the trace.

use crate::kv::script::Script;
use crate::kv::{KvSystem, Stage};
use crate::sim::choice::{Fifo, Pct, Pos, RandomWalk, Shared};
use crate::sim::{ChoiceSource, EventKey, Limits, Outcome, Trace};
use std::fmt;
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
