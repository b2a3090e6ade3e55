//! One run of a `.kv` script: builds the KV system for a stage and a
//! schedule, runs it, and collects the dialogue, the outcome and the trace.

use crate::kv::script::Script;
use crate::kv::{KvSystem, Stage};
use crate::sim::choice::{Fifo, Pct, Pos, RandomWalk};
use crate::sim::{ChoiceSource, EventKey, Limits, Outcome, Trace};
use std::fmt;
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
    /// The source for `seed`; PCT spreads its change points over
    /// `steps_estimate` steps.
    pub fn chooser(self, seed: u64, steps_estimate: u64) -> Box<dyn ChoiceSource> {
        match self {
            Schedule::Fifo => Box::new(Fifo),
            Schedule::Random => Box::new(RandomWalk::new(seed)),
            Schedule::Pct { depth } => Box::new(Pct::new(seed, depth as usize, steps_estimate)),
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
}

/// Plays `script` on a fresh system.
pub fn run_script(script: &Script, config: &RunConfig) -> RunReport {
    let commands: usize = script.clients.iter().map(|c| c.lines.len()).sum();
    // PCT's change points should land inside the run: about ten events per
    // command is what the KV commands take.
    let steps_estimate = (commands as u64 * 10).clamp(10, config.limits.steps_max.max(10));
    let chooser = config.schedule.chooser(config.seed, steps_estimate);
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
    }
}
