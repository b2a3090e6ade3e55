//! The `kvsim` command line: parses flags with clap, turns them into a
//! [`RunConfig`], prints the result and picks the exit code. Exit codes:
//! 0 the script ran, 2 bad input (script or flag), 3 a limit was hit.

use crate::check::{RunConfig, Schedule, run_script};
use crate::kv::Stage;
use crate::kv::script;
use crate::sim::{Limits, Outcome};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status: the script ran, whatever its responses.
pub const EXIT_OK: u8 = 0;
/// Exit status: a bad script, case file or flag.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status: a run hit a limit (`LIMIT <name> <value>`).
pub const EXIT_LIMIT: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "kvsim",
    version,
    about = "Deterministic simulation of the KV registry of the Elixir Mix and OTP guide"
)]
struct Cli {
    #[command(subcommand)]
    command: CliCommand,
}

#[derive(Debug, Subcommand)]
enum CliCommand {
    /// Play a `.kv` script and print the conversation.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The `.kv` script.
    file: PathBuf,
    /// Which registry to run.
    #[arg(long, value_name = "STAGE", default_value = "fixed", value_parser = parse_stage)]
    registry: Stage,
    /// How events are ordered.
    #[arg(long, value_enum, default_value_t = ScheduleArg::Fifo)]
    schedule: ScheduleArg,
    /// Seed of the random, pct and pos schedules.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// PCT's bug depth d (d - 1 priority change points).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    depth: u32,
    /// Scheduler steps before the run stops with `LIMIT max-steps`.
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_steps: u64,
    /// After the conversation, print `--- trace` and the trace.
    #[arg(long, value_enum, value_name = "FORMAT")]
    trace: Option<TraceFormat>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ScheduleArg {
    Fifo,
    Random,
    Pct,
    Pos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TraceFormat {
    Text,
    Mermaid,
    Json,
}

fn parse_stage(text: &str) -> Result<Stage, String> {
    text.parse()
}

/// Runs the command line; returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            });
        }
    };
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        CliCommand::Run(args) => ExitCode::from(run(&args, &mut stdout)),
    }
}

fn run(args: &RunArgs, out: &mut impl Write) -> u8 {
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("kvsim: cannot read {}: {error}", args.file.display());
            return EXIT_BAD_INPUT;
        }
    };
    let script = match script::parse(&args.file, &bytes) {
        Ok(script) => script,
        Err(error) => {
            eprintln!("{error}");
            return EXIT_BAD_INPUT;
        }
    };
    let schedule = match args.schedule {
        ScheduleArg::Fifo => Schedule::Fifo,
        ScheduleArg::Random => Schedule::Random,
        ScheduleArg::Pct => Schedule::Pct { depth: args.depth },
        ScheduleArg::Pos => Schedule::Pos,
    };
    let config = RunConfig {
        stage: args.registry,
        schedule,
        seed: args.seed,
        limits: Limits {
            steps_max: args.max_steps,
            ..Limits::default()
        },
        tracing: args.trace.is_some(),
    };
    let report = run_script(&script, &config);
    let mut text = report.dialogue;
    let code = match report.outcome {
        Outcome::Quiescent => EXIT_OK,
        Outcome::Limit { name, value } => {
            text.push_str(&format!("LIMIT {name} {value}\n"));
            EXIT_LIMIT
        }
    };
    if let (Some(format), Some(trace)) = (args.trace, &report.trace) {
        text.push_str("--- trace\n");
        text.push_str(&match format {
            TraceFormat::Text => trace.to_text(),
            TraceFormat::Mermaid => trace.to_mermaid(),
            TraceFormat::Json => trace.to_json_lines(),
        });
    }
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        // A closed pipe (`kvsim run x | head`) is not an error of the run.
        return code;
    }
    code
}
