//! The `kvsim` command line: parses flags with clap, turns them into a
//! [`RunConfig`] or a [`CheckConfig`], prints the result and picks the exit
//! code. `kvsim run` plays a `.kv` script; `kvsim replay` checks a case file
//! (the one a failure report names) against a registry stage, through
//! [`crate::check::replay_case`], the one implementation a user's own
//! registry replays through too. Exit codes: [`EXIT_OK`] 0 the script ran /
//! every property held, [`EXIT_PROPERTY_BROKEN`] 1 a property broke,
//! [`EXIT_BAD_INPUT`] 2 bad input (script, case file or flag), [`EXIT_LIMIT`]
//! 3 a limit cut the run or property 4 could not decide ([`EXIT_UNDECIDED`]
//! is the same code: both mean "no verdict", never a pass).

pub use crate::check::ReplayError;
use crate::check::{
    Case, CaseMeta, CheckConfig, PctRun, ReplayOptions, RunConfig, Schedule, ScriptPlayer, Sinks,
    Strategy, TraceSink, Verdict, explicit, fifo_length, read_case, replay_case, run_case,
    run_case_with, save_case, verdict_lines,
};
use crate::kv::Stage;
use crate::kv::script;
use crate::sim::choice::{Overrides, Pct, Shared};
use crate::sim::trace::{Renderer, Rendering, mermaid_header};
use crate::sim::{Limits, Outcome, Trace, TraceEntry};
use clap::{Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

/// Exit status: the script ran, whatever its responses (`run`); every
/// property held (`replay`).
pub const EXIT_OK: u8 = 0;
/// Exit status: a property broke (`replay`).
pub const EXIT_PROPERTY_BROKEN: u8 = 1;
/// Exit status: a bad script, case file or flag.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status: a run hit a limit (`LIMIT <name> <value>`); with
/// properties checked, the run was cut and its properties are not known to
/// hold.
pub const EXIT_LIMIT: u8 = 3;
/// Exit status: no property broke, but property 4's search reached its
/// bound (`--linearizability-bound`) without deciding: not a pass. The
/// same code as a cut run, since both mean "no verdict"; 4 is kept for
/// detected nondeterminism.
pub const EXIT_UNDECIDED: u8 = 3;

/// The exit codes, as `--help` lists them (kept beside the constants).
const EXIT_CODES_HELP: &str = "\
Exit status:
  0  the script ran (run); every property held (replay, run --check)
  1  a property broke (replay, run --check)
  2  bad input: an unreadable or bad script or case file, a bad flag
  3  no verdict: a limit was hit (LIMIT <name> <value> is printed) and the
     run was cut, so its properties are not known to hold; or no property
     broke but property 4 (linearizable) was undecided: its search reached
     --linearizability-bound (the bound is printed)";

/// The stage a case runs on when neither `--registry` nor the case file
/// names one.
const REPLAY_STAGE_DEFAULT: Stage = Stage::Fixed;

#[derive(Debug, Parser)]
#[command(
    name = "kvsim",
    version,
    about = "Deterministic simulation of the KV registry of the Elixir Mix and OTP guide",
    after_help = EXIT_CODES_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: CliCommand,
}

#[derive(Debug, Subcommand)]
enum CliCommand {
    /// Play a `.kv` script and print the conversation.
    #[command(after_help = EXIT_CODES_HELP)]
    Run(RunArgs),
    /// Check a case file (`.case.json`) against a registry stage.
    ///
    /// Prints the conversation, then `all properties hold on registry STAGE`,
    /// the property that broke and at which event, `undecided` (property 4
    /// reached its bound) or `LIMIT` (the run was cut).
    #[command(after_help = EXIT_CODES_HELP)]
    Replay(ReplayArgs),
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
    /// PCT's bug depth d (d - 1 priority change points) [default: 3].
    /// Only with `--schedule pct`.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    depth: Option<u32>,
    /// Scheduler steps before the run stops with `LIMIT max-steps`.
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_steps: u64,
    /// After the conversation, print `--- trace` and the trace.
    #[arg(long, value_enum, value_name = "FORMAT")]
    trace: Option<TraceFormat>,
    /// Check the six properties online; on a failure, save the case (its
    /// schedule as the explicit override list the run took) to `--out`,
    /// print its replay command and exit 1.
    #[arg(long)]
    check: bool,
    /// With `--check`: configurations property 4's search may explore per
    /// bucket before it answers "undecided" (exit 3).
    #[arg(long, value_name = "N", default_value_t = CheckConfig::LINEARIZABILITY_STATES_MAX, value_parser = parse_bound, requires = "check")]
    linearizability_bound: usize,
    /// Where `--check` saves a failing case.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "kvsim-failures",
        requires = "check"
    )]
    out: PathBuf,
    /// After the conversation, print `--- schedule` and the events the
    /// schedule picked, one event key per line: an override list that
    /// replays the run (nothing under `fifo`, whose list is empty).
    #[arg(long)]
    print_schedule: bool,
}

#[derive(Debug, clap::Args)]
struct ReplayArgs {
    /// The case file, as a failure report names it.
    file: PathBuf,
    /// Which registry to run [default: the case file's `registry`, else
    /// fixed]. The last one given wins, so a report's command with
    /// `--registry fixed` appended checks a fix.
    #[arg(long, value_name = "STAGE", value_parser = parse_stage, overrides_with = "registry")]
    registry: Option<Stage>,
    /// Scheduler steps before the run stops with `LIMIT max-steps`.
    #[arg(long, value_name = "N", default_value_t = CheckConfig::default().limits.steps_max, value_parser = clap::value_parser!(u64).range(1..))]
    max_steps: u64,
    /// Configurations property 4's search may explore per bucket before it
    /// answers "undecided" (exit 3).
    #[arg(long, value_name = "N", default_value_t = CheckConfig::LINEARIZABILITY_STATES_MAX, value_parser = parse_bound)]
    linearizability_bound: usize,
    /// After the verdict, print `--- trace` and the trace.
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

impl ScheduleArg {
    fn name(self) -> &'static str {
        match self {
            ScheduleArg::Fifo => "fifo",
            ScheduleArg::Random => "random",
            ScheduleArg::Pct => "pct",
            ScheduleArg::Pos => "pos",
        }
    }
}

/// PCT's depth when `--depth` is not given.
const PCT_DEPTH_DEFAULT: u32 = Pct::DEFAULT_DEPTH as u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TraceFormat {
    Text,
    Mermaid,
    Json,
}

fn parse_stage(text: &str) -> Result<Stage, String> {
    text.parse()
}

fn parse_bound(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("the bound must be at least 1".to_string()),
        Ok(bound) => Ok(bound),
        Err(error) => Err(format!(
            "{text:?} is not a number of configurations: {error}"
        )),
    }
}

/// The exit code of a checked run's verdict.
fn exit_code(verdict: &Verdict) -> u8 {
    match verdict {
        Verdict::Broken(_) => EXIT_PROPERTY_BROKEN,
        Verdict::Cut { .. } => EXIT_LIMIT,
        Verdict::Undecided(_) => EXIT_UNDECIDED,
        Verdict::Holds => EXIT_OK,
    }
}

/// Runs the command line; returns the process's exit code.
pub fn main() -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    ExitCode::from(main_with(std::env::args_os(), &mut stdout))
}

/// Runs the command line `args` (the program's name first), writing what
/// `kvsim` prints on stdout to `out` (messages still go to stderr);
/// returns the exit code. For running the command line in-process, e.g.
/// to measure its memory (`examples/rss_probe.rs`).
pub fn main_with(args: impl IntoIterator<Item = std::ffi::OsString>, out: &mut dyn Write) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            };
        }
    };
    match cli.command {
        CliCommand::Run(args) => run(&args, out),
        CliCommand::Replay(args) => match replay(&args, out) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("{error}");
                EXIT_BAD_INPUT
            }
        },
    }
}

impl TraceFormat {
    fn rendering(self) -> Rendering {
        match self {
            TraceFormat::Text => Rendering::Text,
            TraceFormat::Mermaid => Rendering::Mermaid,
            TraceFormat::Json => Rendering::Json,
        }
    }

    fn render(self, trace: &Trace) -> String {
        match self {
            TraceFormat::Text => trace.to_text(),
            TraceFormat::Mermaid => trace.to_mermaid(),
            TraceFormat::Json => trace.to_json_lines(),
        }
    }
}

/// `--depth` is PCT's: with any other schedule it is a flag error.
fn depth_error(args: &RunArgs) -> Option<String> {
    match (args.schedule, args.depth) {
        (ScheduleArg::Pct, _) | (_, None) => None,
        (other, Some(_)) => Some(format!(
            "kvsim: --depth applies only to --schedule pct (the schedule is {})",
            other.name()
        )),
    }
}

fn run(args: &RunArgs, out: &mut (impl Write + ?Sized)) -> u8 {
    if let Some(error) = depth_error(args) {
        eprintln!("{error}");
        return EXIT_BAD_INPUT;
    }
    let file = match std::fs::File::open(&args.file) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("kvsim: cannot read {}: {error}", args.file.display());
            return EXIT_BAD_INPUT;
        }
    };
    // Line by line, each client's commands kept as text: a script costs
    // about its size, and an endless input is refused, not swallowed.
    let text = match script::read_text(&args.file, file) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("{error}");
            return EXIT_BAD_INPUT;
        }
    };
    if args.check {
        return run_checked(args, &text.to_script(), out);
    }
    let schedule = match args.schedule {
        ScheduleArg::Fifo => Schedule::Fifo,
        ScheduleArg::Random => Schedule::Random,
        ScheduleArg::Pct => Schedule::Pct {
            depth: args.depth.unwrap_or(PCT_DEPTH_DEFAULT),
        },
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
        tracing: false,
    };
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let (code, _write_error) = run_streamed(args, &text, &config, &mut out);
    // A closed pipe (`kvsim run x | head`) is not an error of the run.
    let _ = out.flush();
    code
}

/// `kvsim run` without `--check`: the dialogue written as it is produced
/// by one play, then the trace by a second play of the same (deterministic)
/// run, so that neither is ever held whole. Returns the exit code and the
/// first write error, after which nothing more is written.
fn run_streamed(
    args: &RunArgs,
    text: &script::ScriptText,
    config: &RunConfig,
    out: &mut dyn Write,
) -> (u8, Option<std::io::Error>) {
    let player = ScriptPlayer::new(text, config);
    // The first play also learns what the trace needs from the whole run:
    // every pid's name and, for Mermaid, the participants in order.
    let rendering = args.trace.map(TraceFormat::rendering);
    let mut participants = Renderer::new(Rendering::Mermaid);
    let mut scratch = String::new();
    let mut learn = |entry: &TraceEntry, names: &BTreeMap<u64, String>| {
        if rendering == Some(Rendering::Mermaid) {
            participants.render(entry, names, &mut scratch);
            scratch.clear();
        }
        Ok(())
    };
    let first = player.play(Sinks {
        dialogue: Some(&mut *out),
        trace: rendering.map(|_| &mut learn as TraceSink<'_>),
        schedule: args.print_schedule,
    });
    if let Some(pct) = first.pct {
        // On stderr, so that stdout stays the dialogue alone.
        eprintln!("{pct}");
    }
    let mut write_error = first.write_error;
    let code = match first.outcome {
        Outcome::Quiescent => EXIT_OK,
        Outcome::Limit { .. } => EXIT_LIMIT,
    };
    let write = |out: &mut dyn Write, bytes: &[u8], error: &mut Option<std::io::Error>| {
        if error.is_none()
            && let Err(e) = out.write_all(bytes)
        {
            *error = Some(e);
        }
    };
    if let Outcome::Limit { name, value } = first.outcome {
        write(
            out,
            format!("LIMIT {name} {value}\n").as_bytes(),
            &mut write_error,
        );
    }
    if let Some(rendering) = rendering
        && write_error.is_none()
    {
        write(out, b"--- trace\n", &mut write_error);
        let mut renderer = match rendering {
            Rendering::Mermaid => {
                let names = participants.participants().to_vec();
                write(out, mermaid_header(&names).as_bytes(), &mut write_error);
                Renderer::with_participants(rendering, names)
            }
            _ => Renderer::new(rendering),
        };
        let pid_names = first.pid_names;
        let mut buffer = String::new();
        let mut render = |entry: &TraceEntry, _: &BTreeMap<u64, String>| {
            buffer.clear();
            renderer.render(entry, &pid_names, &mut buffer);
            out.write_all(buffer.as_bytes())
        };
        if write_error.is_none() {
            let second = player.play(Sinks {
                dialogue: None,
                trace: Some(&mut render),
                schedule: false,
            });
            write_error = second.write_error;
        }
    }
    if args.print_schedule {
        let mut text = String::new();
        push_schedule(&mut text, &first.schedule_taken);
        write(out, text.as_bytes(), &mut write_error);
    }
    (code, write_error)
}

/// `--- schedule` and one key per line.
fn push_schedule(text: &mut String, keys: &[crate::sim::EventKey]) {
    text.push_str("--- schedule\n");
    for key in keys {
        text.push_str(&key.to_string());
        text.push('\n');
    }
}

/// `kvsim run --check`: the script as a case (its schedule flag as the
/// case's strategy), every property checked online.
fn run_checked(args: &RunArgs, script: &script::Script, out: &mut (impl Write + ?Sized)) -> u8 {
    let mut case = Case::from_script(script);
    case.strategy = match args.schedule {
        ScheduleArg::Fifo => None,
        ScheduleArg::Random => Some(Strategy::Random { seed: args.seed }),
        ScheduleArg::Pos => Some(Strategy::Pos { seed: args.seed }),
        ScheduleArg::Pct => Some(Strategy::Pct {
            seed: args.seed,
            depth: args.depth.unwrap_or(PCT_DEPTH_DEFAULT),
        }),
    };
    let stage = args.registry;
    let config = CheckConfig {
        limits: Limits {
            steps_max: args.max_steps,
            ..Limits::default()
        },
        linearizability_states_max: args.linearizability_bound,
        tracing: args.trace.is_some(),
        ..CheckConfig::default()
    };
    let registry = || stage.registry();
    let run = match case.strategy {
        Some(Strategy::Pct { seed, depth }) => {
            // The case's own PCT, built here so that its n can be read.
            let k = fifo_length(&case, &registry, &config);
            let depth = depth as usize;
            let pct = Shared::new(Pct::new(seed, depth, k));
            let handle = Rc::clone(&pct.0);
            let chooser = Overrides::then(case.schedule.clone(), Box::new(pct));
            let run = run_case_with(&case, &registry, &config, Box::new(chooser));
            let n = handle.borrow().units_seen();
            eprintln!("{}", PctRun { n, k, depth });
            run
        }
        _ => run_case(&case, &registry, &config),
    };
    let mut text = run.dialogue_named(script.clients.iter().map(|c| c.name.as_str()));
    text.push_str(&verdict_lines(&run, stage.name()));
    let verdict = run.verdict();
    let mut saved = None;
    if let Verdict::Broken(failure) = &verdict {
        let explicit = explicit(&case, &run);
        // Every flag that shapes the run, so the line reproduces it.
        let mut found_by = format!(
            "kvsim run --check {} --registry {stage} --schedule {} --seed {}",
            args.file.display(),
            args.schedule.name(),
            args.seed
        );
        if args.schedule == ScheduleArg::Pct {
            let depth = args.depth.unwrap_or(PCT_DEPTH_DEFAULT);
            found_by.push_str(&format!(" --depth {depth}"));
        }
        found_by.push_str(&format!(
            " --max-steps {} --linearizability-bound {}",
            args.max_steps, args.linearizability_bound
        ));
        let meta = CaseMeta::found(stage.name(), Some(failure.property.to_string()), &found_by);
        saved = Some(
            std::fs::create_dir_all(&args.out)
                .and_then(|()| save_case(&args.out, &explicit, &meta)),
        );
    }
    let code = exit_code(&verdict);
    if let (Some(format), Some(trace)) = (args.trace, &run.trace) {
        text.push_str("--- trace\n");
        text.push_str(&format.render(trace));
    }
    if args.print_schedule {
        push_schedule(&mut text, &run.schedule_taken);
    }
    match saved {
        Some(Ok(path)) => {
            text.push_str(&format!(
                "case file: {}\nkvsim replay {} --registry {stage}\n",
                path.display(),
                path.display()
            ));
        }
        Some(Err(error)) => {
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            eprintln!(
                "kvsim: cannot save the failing case in {}: {error}",
                args.out.display()
            );
            return EXIT_BAD_INPUT;
        }
        None => {}
    }
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    code
}

/// `kvsim replay`: checks the case file on the chosen stage and writes the
/// dialogue, the verdict and the trace to `out`; returns the exit code.
fn replay(args: &ReplayArgs, out: &mut (impl Write + ?Sized)) -> Result<u8, ReplayError> {
    let path = &args.file;
    let (case, meta) = read_case(path)?;
    let stage = match (args.registry, meta.registry.as_deref()) {
        (Some(stage), _) => stage,
        (None, Some(name)) => name.parse().map_err(|message| ReplayError::Registry {
            path: path.clone(),
            message,
        })?,
        (None, None) => REPLAY_STAGE_DEFAULT,
    };
    let options = ReplayOptions {
        registry_name: stage.name().to_string(),
        check: CheckConfig {
            limits: Limits {
                steps_max: args.max_steps,
                ..CheckConfig::default().limits
            },
            linearizability_states_max: args.linearizability_bound,
            tracing: args.trace.is_some(),
            ..CheckConfig::default()
        },
    };
    let report = replay_case(&|| stage.registry(), path, case, meta, &options);
    let code = exit_code(&report.verdict());
    let mut text = report.to_string();
    if let (Some(format), Some(trace)) = (args.trace, &report.run.trace) {
        text.push_str("--- trace\n");
        text.push_str(&format.render(trace));
    }
    // A closed pipe (`kvsim replay x | head`) is not an error of the run.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    Ok(code)
}
