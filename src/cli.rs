//! The `kvsim` command line: parses flags with clap, turns them into a
//! [`RunConfig`] or a [`CheckConfig`], prints the result and picks the exit
//! status. `kvsim run` plays a `.kv` script; `kvsim replay` checks a case
//! file (the one a failure report names) against a registry stage, through
//! [`crate::check::replay_case`], the one implementation a user's own
//! registry replays through too. Every subcommand shares one exit-status
//! table and one form of I/O error message ([`exit`]).

pub mod exit;
pub mod interrupt;

mod explore;
mod verify;

pub use crate::check::ReplayError;
use crate::check::{
    Case, CaseMeta, CheckConfig, PctRun, PropertySet, ReplayOptions, RunConfig, Schedule,
    ScriptPlayer, Sinks, Strategy, TraceSink, explicit, fifo_length, read_case, replay_case,
    replay_command, run_case, run_case_with, save_case, verdict_lines,
};
use crate::kv::Stage;
use crate::kv::script;
use crate::sim::choice::{Overrides, Pct, Shared};
use crate::sim::trace::{Renderer, Rendering, mermaid_header};
use crate::sim::{Limits, Outcome, Trace, TraceEntry};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
pub use exit::{EXIT_CODES_HELP, Exit, io_error_message, output_status, report};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

/// The stage a case runs on when neither `--registry` nor the case file
/// names one.
const REPLAY_STAGE_DEFAULT: Stage = Stage::Fixed;

#[derive(Debug, Parser)]
#[command(
    name = "kvsim",
    version,
    about = "Deterministic simulation of the KV registry of the Elixir Mix and OTP guide",
    after_help = EXIT_CODES_HELP,
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: CliCommand,
}

#[derive(Debug, Subcommand)]
enum CliCommand {
    /// Play a `.kv` script and print the conversation.
    ///
    /// Prints the conversation; then `LIMIT <name> <value>` if a limit cut
    /// the run; with --check, the verdict; then `--- trace` and the trace
    /// (--trace), `--- schedule` and the schedule (--print-schedule), and,
    /// for a failing case, `case file: PATH` and its replay command. A flag
    /// given twice: the last one wins.
    #[command(after_help = EXIT_CODES_HELP, args_override_self = true)]
    Run(RunArgs),
    /// Check a case file (`.case.json`) against a registry stage.
    ///
    /// Prints the conversation; the verdict (`all properties hold on
    /// registry STAGE`, the property that broke and at which event, `LIMIT`
    /// and `run cut ...`, or `... undecided ...`); `fault N never fired` and
    /// `override I never ran: KEY` lines; then `--- trace` and the trace
    /// (--trace). A flag given twice: the last one wins, so a report's
    /// replay command with `--registry fixed` appended checks the fix.
    #[command(after_help = EXIT_CODES_HELP, args_override_self = true)]
    Replay(ReplayArgs),
    /// Run many generated cases on every core; shrink, save and explain
    /// the first failure.
    ///
    /// Prints the report: the verdict, each failure (property, case file,
    /// case, trace, replay command), coverage, then `--- timing` and
    /// `--- run`, the only parts that vary with threads and sharding.
    /// Exit status: 0 held, 1 a property broke, 2 bad input, 3 no verdict
    /// (undecided or cut cases, or --max-time stopped it early), 4
    /// nondeterminism (--check-determinism), 5 a case or the report could
    /// not be written, 130 Ctrl-C stopped it: the cases running finish and
    /// the report covers the highest index completed with every lower one
    /// (a second Ctrl-C ends kvsim at once, with no report).
    #[command(after_help = EXIT_CODES_HELP, args_override_self = true)]
    Explore(explore::ExploreArgs),
    /// Run every schedule of a script under every fault plan of a budget:
    /// "verified within bounds", or the shortest counterexample.
    ///
    /// Prints the verdict with its counts (schedules, fault plans, work
    /// items, distinct outcomes, sleep-set blocked) and the bounds; on a
    /// failure, the shortest counterexample (property, case file, case,
    /// trace, causal slice, replay command); then `--- timing` and `---
    /// run`, the only parts that vary with threads and sharding. Exit
    /// status: 0 verified, 1 a property broke, 2 bad input, 3 no verdict
    /// (a schedule's property 4 undecided, a schedule cut by --max-steps,
    /// or --max-time stopped it early), 5 the case or the report could not
    /// be written.
    #[command(after_help = EXIT_CODES_HELP, args_override_self = true)]
    Verify(verify::VerifyArgs),
    /// Merge the --json reports of the shards of one explore or verify run
    /// into the report the unsharded run gives.
    ///
    /// Exit status: the merged verdict's (as explore's or verify's), or 2
    /// when a shard is missing or given twice, the reports disagree (kind,
    /// seed, runs, registry, configuration hash), or a file is not a
    /// report.
    #[command(after_help = EXIT_CODES_HELP, args_override_self = true)]
    Merge(explore::MergeArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The `.kv` script.
    file: PathBuf,
    /// Which registry plays the script: fixed, naive, monitored,
    /// no-catch-all or unlinked.
    #[arg(long, value_name = "STAGE", default_value = "fixed", value_parser = parse_stage)]
    registry: Stage,
    /// How events are ordered.
    #[arg(long, value_enum, default_value_t = ScheduleArg::Fifo)]
    schedule: ScheduleArg,
    /// Seed of the random, pct and pos schedules (0 to 2^64 - 1) [default:
    /// 0]. An error with fifo, which has no seed.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// PCT's bug depth d, d - 1 priority change points (1 to 64) [default:
    /// 3]. An error with any schedule but pct.
    #[arg(long, value_name = "D", value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::check::PCT_DEPTH_MAX)))]
    depth: Option<u32>,
    /// Scheduler steps (events) before the run stops with `LIMIT
    /// max-steps N` (at least 1).
    #[arg(long, value_name = "N", default_value_t = Limits::STEPS_MAX_DEFAULT, value_parser = parse_steps)]
    max_steps: u64,
    /// Signals queued on one (sender, receiver) pair before the run stops
    /// with `LIMIT queue-len N` (at least 1).
    #[arg(long, value_name = "N", default_value_t = Limits::QUEUE_LEN_MAX_DEFAULT, value_parser = parse_queue)]
    max_queue: usize,
    /// After the conversation, print `--- trace` and the trace.
    #[arg(long, value_enum, value_name = "FORMAT")]
    trace: Option<TraceFormat>,
    /// Check the six properties online; on a failure, save the case (its
    /// schedule as the explicit override list the run took) to --out,
    /// print its replay command and exit 1.
    #[arg(long)]
    check: bool,
    /// Configurations property 4 may hold for one bucket while it takes in
    /// one answer, before it answers "undecided", exit 3 (at least 1). Only with --check.
    #[arg(long, value_name = "N", default_value_t = CheckConfig::LINEARIZABILITY_STATES_MAX, value_parser = parse_bound, requires = "check")]
    linearizability_bound: usize,
    /// Properties to check: all, or a comma list of numbers (1-6) or names
    /// (lookup-is-alive, ...). Only with --check.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = explore::parse_properties, requires = "check")]
    properties: explore::Properties,
    /// Where --check saves a failing case (created if needed). Only with
    /// --check.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "kvsim-failures",
        requires = "check"
    )]
    out: PathBuf,
    /// After the conversation (and the trace), print `--- schedule` and
    /// the events the schedule picked, one event key per line: an override
    /// list that replays the run (empty under fifo).
    #[arg(long)]
    print_schedule: bool,
}

#[derive(Debug, clap::Args)]
struct ReplayArgs {
    /// The case file, as a failure report names it.
    file: PathBuf,
    /// Which registry to run: fixed, naive, monitored, no-catch-all or
    /// unlinked [default: the case file's `registry`, else fixed].
    #[arg(long, value_name = "STAGE", value_parser = parse_stage)]
    registry: Option<Stage>,
    /// Scheduler steps (events) before the run stops with `LIMIT
    /// max-steps N` (at least 1).
    #[arg(long, value_name = "N", default_value_t = Limits::STEPS_MAX_DEFAULT, value_parser = parse_steps)]
    max_steps: u64,
    /// Signals queued on one (sender, receiver) pair before the run stops
    /// with `LIMIT queue-len N` (at least 1).
    #[arg(long, value_name = "N", default_value_t = Limits::QUEUE_LEN_MAX_DEFAULT, value_parser = parse_queue)]
    max_queue: usize,
    /// Configurations property 4 may hold for one bucket while it takes in
    /// one answer, before it answers "undecided", exit 3 (at least 1).
    #[arg(long, value_name = "N", default_value_t = CheckConfig::LINEARIZABILITY_STATES_MAX, value_parser = parse_bound)]
    linearizability_bound: usize,
    /// Properties to check: all, or a comma list of numbers (1-6) or names
    /// (lookup-is-alive, ...). A report's replay line names the ones its
    /// search checked.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = explore::parse_properties)]
    properties: explore::Properties,
    /// After the verdict, print `--- trace` and the trace.
    #[arg(long, value_enum, value_name = "FORMAT")]
    trace: Option<TraceFormat>,
    /// Print only the failure's causal slice (the events that explain it),
    /// as text or, with `--trace`, in that format; nothing when no property
    /// broke. The exit status is the verdict's, as without it.
    #[arg(long)]
    slice: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ScheduleArg {
    /// The canonical order: a pending exit, clients, the oldest signal,
    /// faults, timers.
    Fifo,
    /// A seeded random walk.
    Random,
    /// PCT: random priorities, d - 1 change points (--depth).
    Pct,
    /// Partial order sampling.
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

/// The seed of a seeded schedule when `--seed` is not given.
const SEED_DEFAULT: u64 = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TraceFormat {
    /// One line per event, the steps inside it indented.
    Text,
    /// A Mermaid sequence diagram.
    Mermaid,
    /// One JSON object per line.
    Json,
}

fn parse_stage(text: &str) -> Result<Stage, String> {
    text.parse()
}

/// A count that must be at least 1: `what` names its unit in the message.
fn parse_at_least_one(text: &str, what: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(error) => Err(format!(
            "{text:?} is not a number of {what} (1 to 2^64 - 1): {error}"
        )),
    }
}

fn parse_steps(text: &str) -> Result<u64, String> {
    parse_at_least_one(text, "steps")
}

fn parse_queue(text: &str) -> Result<usize, String> {
    let n = parse_at_least_one(text, "signals")?;
    usize::try_from(n).map_err(|_| format!("{n} is more signals than this machine can count"))
}

fn parse_bound(text: &str) -> Result<usize, String> {
    let n = parse_at_least_one(text, "configurations")?;
    usize::try_from(n)
        .map_err(|_| format!("{n} is more configurations than this machine can count"))
}

/// Runs the command line; returns the process's exit status.
pub fn main() -> ExitCode {
    // Through a file on a duplicate of descriptor 1 rather than `Stdout`,
    // which treats a bad descriptor (EBADF) as a sink and would lose the
    // output silently. Every subcommand buffers or writes whole texts.
    #[cfg(unix)]
    if let Ok(fd) = std::os::fd::AsFd::as_fd(&std::io::stdout()).try_clone_to_owned() {
        let mut stdout = std::fs::File::from(fd);
        return ExitCode::from(main_with(std::env::args_os(), &mut stdout));
    }
    let mut stdout = std::io::stdout().lock();
    ExitCode::from(main_with(std::env::args_os(), &mut stdout))
}

/// Runs the command line `args` (the program's name first), writing what
/// `kvsim` prints on stdout to `out` (messages still go to stderr);
/// returns the exit code ([`Exit::code`]). For running the command line
/// in-process, e.g. to measure its memory (`examples/rss_probe.rs`).
pub fn main_with(args: impl IntoIterator<Item = std::ffi::OsString>, out: &mut dyn Write) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) if error.use_stderr() => {
            // Usage errors exit 2 like every other bad input.
            let _ = error.print();
            return Exit::BadInput.code();
        }
        Err(help) => {
            // `--help`, `--version`: asked for, so written to `out` (which
            // may fail like any other output).
            let text = help.render().to_string();
            let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            return output_status(written).code();
        }
    };
    let exit = match cli.command {
        CliCommand::Run(args) => run(&args, out),
        CliCommand::Replay(args) => replay(&args, out),
        CliCommand::Explore(args) => explore::explore(&args, out),
        CliCommand::Verify(args) => verify::verify(&args, out),
        CliCommand::Merge(args) => explore::merge_reports(&args, out),
    };
    exit.code()
}

/// A flag combination clap cannot express, as a usage error of `kvsim
/// SUBCOMMAND`: printed like clap's own (exit 2).
fn usage_error(subcommand: &str, message: String) -> Exit {
    let mut command = Cli::command();
    command.build();
    let error = match command.find_subcommand_mut(subcommand) {
        Some(sub) => sub.error(clap::error::ErrorKind::ArgumentConflict, message),
        None => command.error(clap::error::ErrorKind::ArgumentConflict, message),
    };
    let _ = error.print();
    Exit::BadInput
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

impl RunArgs {
    /// Flags that mean nothing under the chosen schedule: `--depth` is
    /// PCT's, and `fifo` has no seed.
    fn flag_conflict(&self) -> Option<String> {
        match (self.schedule, self.depth, self.seed) {
            (ScheduleArg::Pct, _, _) => None,
            (other, Some(_), _) => Some(format!(
                "--depth applies only to --schedule pct (the schedule is {})",
                other.name()
            )),
            (ScheduleArg::Fifo, None, Some(_)) => Some(
                "--seed applies only to --schedule random, pct or pos (the schedule is fifo, which has no seed)"
                    .to_string(),
            ),
            _ => None,
        }
    }

    fn seed(&self) -> u64 {
        self.seed.unwrap_or(SEED_DEFAULT)
    }

    fn depth(&self) -> u32 {
        self.depth.unwrap_or(PCT_DEPTH_DEFAULT)
    }

    fn limits(&self) -> Limits {
        Limits {
            steps_max: self.max_steps,
            queue_len_max: self.max_queue,
        }
    }
}

fn run(args: &RunArgs, out: &mut (impl Write + ?Sized)) -> Exit {
    if let Some(message) = args.flag_conflict() {
        return usage_error("run", message);
    }
    let file = match std::fs::File::open(&args.file) {
        Ok(file) => file,
        Err(error) => {
            report(io_error_message(
                format_args!("read {}", args.file.display()),
                &error,
            ));
            return Exit::BadInput;
        }
    };
    // Line by line, each client's commands kept as text: a script costs
    // about its size, and an endless input is refused, not swallowed.
    let text = match script::read_text(&args.file, file) {
        Ok(text) => text,
        Err(error) => {
            report(script_error_message(&error));
            return Exit::BadInput;
        }
    };
    if args.check {
        return run_checked(args, &text.to_script(), out);
    }
    let schedule = match args.schedule {
        ScheduleArg::Fifo => Schedule::Fifo,
        ScheduleArg::Random => Schedule::Random,
        ScheduleArg::Pct => Schedule::Pct {
            depth: args.depth(),
        },
        ScheduleArg::Pos => Schedule::Pos,
    };
    let config = RunConfig {
        stage: args.registry,
        schedule,
        seed: args.seed(),
        limits: args.limits(),
        tracing: false,
    };
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let (exit, write_error) = run_streamed(args, &text, &config, &mut out);
    let written = match write_error {
        Some(error) => Err(error),
        None => out.flush(),
    };
    exit.and(output_status(written))
}

/// A script error as `FILE:LINE: what is wrong`, except a read that failed
/// part way, which is an I/O error and reported as one.
fn script_error_message(error: &script::ScriptError) -> String {
    match error.kind() {
        script::ScriptErrorKind::Unreadable { message } => format!(
            "kvsim: cannot read {}: {message} (at line {})",
            error.path().display(),
            error.line()
        ),
        _ => error.to_string(),
    }
}

/// `kvsim run` without `--check`: the dialogue written as it is produced
/// by one play, then the trace by a second play of the same (deterministic)
/// run, so that neither is ever held whole. Returns the exit status of the
/// run and the first write error, after which nothing more is written; the
/// run stops there too, unless it was a closed pipe (then it plays on,
/// unwritten, for its own status).
fn run_streamed(
    args: &RunArgs,
    text: &script::ScriptText,
    config: &RunConfig,
    out: &mut dyn Write,
) -> (Exit, Option<std::io::Error>) {
    let player = ScriptPlayer::new(text, config);
    // For Mermaid, the first play also learns what the trace's header
    // needs from the whole run: the participants in order.
    let rendering = args.trace.map(TraceFormat::rendering);
    let mut participants = Renderer::new(Rendering::Mermaid);
    let mut scratch = String::new();
    let mut learn = |entry: &TraceEntry, _: &BTreeMap<u64, String>| {
        if rendering == Some(Rendering::Mermaid) {
            participants.render(entry, &mut scratch);
            scratch.clear();
        }
        Ok(())
    };
    let first = player.play(Sinks {
        dialogue: Some(&mut *out),
        trace: rendering.map(|_| &mut learn as TraceSink<'_>),
        schedule: args.print_schedule,
    });
    if first
        .write_error
        .as_ref()
        .is_some_and(|e| e.kind() != std::io::ErrorKind::BrokenPipe)
    {
        // The play stopped at the failed write: nothing more to say.
        return (Exit::Ok, first.write_error);
    }
    if let Some(pct) = first.pct {
        // On stderr, so that stdout stays the dialogue alone.
        report(pct);
    }
    let mut write_error = first.write_error;
    let exit = match first.outcome {
        Outcome::Quiescent => Exit::Ok,
        Outcome::Limit { .. } => Exit::NoVerdict,
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
        let mut buffer = String::new();
        let mut render = |entry: &TraceEntry, _: &BTreeMap<u64, String>| {
            buffer.clear();
            renderer.render(entry, &mut buffer);
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
    (exit, write_error)
}

/// `--- schedule` and one key per line.
fn push_schedule(text: &mut String, keys: &[crate::sim::EventKey]) {
    text.push_str("--- schedule\n");
    for key in keys {
        text.push_str(&key.to_string());
        text.push('\n');
    }
}

/// Writes `text` to `out` and flushes it: the status of the output.
fn write_out(out: &mut (impl Write + ?Sized), text: &str) -> Exit {
    output_status(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

/// `kvsim run --check`: the script as a case (its schedule flag as the
/// case's strategy), every property checked online.
fn run_checked(args: &RunArgs, script: &script::Script, out: &mut (impl Write + ?Sized)) -> Exit {
    let mut case = Case::from_script(script);
    case.strategy = match args.schedule {
        ScheduleArg::Fifo => None,
        ScheduleArg::Random => Some(Strategy::Random { seed: args.seed() }),
        ScheduleArg::Pos => Some(Strategy::Pos { seed: args.seed() }),
        ScheduleArg::Pct => Some(Strategy::Pct {
            seed: args.seed(),
            depth: args.depth(),
        }),
    };
    let stage = args.registry;
    let config = CheckConfig {
        properties: PropertySet::only(&args.properties.0),
        limits: args.limits(),
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
            report(PctRun { n, k, depth });
            run
        }
        _ => run_case(&case, &registry, &config),
    };
    let mut text = run.dialogue_named(script.clients.iter().map(|c| c.name.as_str()));
    text.push_str(&verdict_lines(&run, stage.name(), &config.properties));
    let verdict = run.verdict();
    let mut saved = None;
    if let crate::check::Verdict::Broken(failure) = &verdict {
        let explicit = explicit(&case, &run);
        let meta = CaseMeta::found(
            stage.name(),
            Some(failure.property.to_string()),
            &found_by(args),
        );
        saved = Some(
            std::fs::create_dir_all(&args.out)
                .and_then(|()| save_case(&args.out, &explicit, &meta)),
        );
    }
    let mut exit = Exit::of_verdict(&verdict);
    if let (Some(format), Some(trace)) = (args.trace, &run.trace) {
        text.push_str("--- trace\n");
        text.push_str(&format.render(trace));
    }
    if args.print_schedule {
        push_schedule(&mut text, &run.schedule_taken);
    }
    match saved {
        Some(Ok(path)) => {
            let replay =
                replay_command(&path, stage.name(), config.properties.cli_flag().as_deref());
            text.push_str(&format!("case file: {}\n{replay}\n", path.display()));
        }
        Some(Err(error)) => {
            report(io_error_message(
                format_args!("save the failing case in {}", args.out.display()),
                &error,
            ));
            exit = exit.and(Exit::OutputFailed);
        }
        None => {}
    }
    exit.and(write_out(out, &text))
}

/// The `kvsim run` line a saved case records as `found_by`: every flag that
/// shapes the run, so that the line reproduces it.
fn found_by(args: &RunArgs) -> String {
    let mut line = format!(
        "kvsim run --check {} --registry {} --schedule {}",
        args.file.display(),
        args.registry,
        args.schedule.name(),
    );
    if args.schedule != ScheduleArg::Fifo {
        line.push_str(&format!(" --seed {}", args.seed()));
    }
    if args.schedule == ScheduleArg::Pct {
        line.push_str(&format!(" --depth {}", args.depth()));
    }
    line.push_str(&format!(
        " --max-steps {} --max-queue {} --linearizability-bound {}",
        args.max_steps, args.max_queue, args.linearizability_bound
    ));
    if let Some(flag) = PropertySet::only(&args.properties.0).cli_flag() {
        line.push(' ');
        line.push_str(&flag);
    }
    line
}

/// `kvsim replay`: checks the case file on the chosen stage and writes the
/// dialogue, the verdict and the trace to `out`.
fn replay(args: &ReplayArgs, out: &mut (impl Write + ?Sized)) -> Exit {
    let path = &args.file;
    let (case, meta) = match read_case(path) {
        Ok(read) => read,
        Err(ReplayError::Read { path, error }) => {
            report(io_error_message(
                format_args!("read {}", path.display()),
                &error,
            ));
            return Exit::BadInput;
        }
        Err(error) => {
            report(error);
            return Exit::BadInput;
        }
    };
    let stage = match (args.registry, meta.registry.as_deref()) {
        (Some(stage), _) => stage,
        (None, Some(name)) => match name.parse() {
            Ok(stage) => stage,
            Err(message) => {
                report(ReplayError::Registry {
                    path: path.clone(),
                    message,
                });
                return Exit::BadInput;
            }
        },
        (None, None) => REPLAY_STAGE_DEFAULT,
    };
    let options = ReplayOptions {
        registry_name: stage.name().to_string(),
        check: CheckConfig {
            limits: Limits {
                steps_max: args.max_steps,
                queue_len_max: args.max_queue,
            },
            properties: PropertySet::only(&args.properties.0),
            linearizability_states_max: args.linearizability_bound,
            tracing: args.trace.is_some() || args.slice,
            ..CheckConfig::default()
        },
    };
    let report = replay_case(&|| stage.registry(), path, case, meta, &options);
    let exit = Exit::of_verdict(&report.verdict());
    if args.slice {
        let text = match (&report.run.slice, &report.run.trace) {
            (Some(slice), Some(trace)) => match args.trace.unwrap_or(TraceFormat::Text) {
                TraceFormat::Text => slice.to_text(trace),
                TraceFormat::Mermaid => slice.to_mermaid(trace),
                TraceFormat::Json => slice.trace(trace).to_json_lines(),
            },
            _ => {
                exit::report(format_args!(
                    "kvsim: no property broke on registry {}: no slice to print",
                    stage.name()
                ));
                String::new()
            }
        };
        return exit.and(write_out(out, &text));
    }
    let mut text = report.to_string();
    if let (Some(format), Some(trace)) = (args.trace, &report.run.trace) {
        text.push_str("--- trace\n");
        text.push_str(&format.render(trace));
    }
    exit.and(write_out(out, &text))
}
