//! `kvsim explore` and `kvsim merge`: flags into an [`ExploreConfig`], the
//! progress bar, the report on stdout (text or `--json`) and the exit
//! status (130 when Ctrl-C stopped the run: [`super::interrupt`]). The
//! search itself is [`crate::check::explore_with`], the same
//! engine the library's `check_registry` runs on one thread.

use crate::check::{
    ExploreConfig, ExploreReport, FaultBudget, MergeError, Progress, PropertySet, Shard,
    StrategyKind, VerifyReport, explore_with, merge,
};
use crate::cli::exit::{Exit, io_error_message, output_status, report};
use crate::cli::interrupt;
use crate::kv::Stage;
use crate::kv::script;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt;
use std::io::Write;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub(super) struct ExploreArgs {
    /// A `.kv` script (one or more clients): its commands stay as they are
    /// and only faults and schedules vary. Without one, commands are
    /// generated too.
    script: Option<PathBuf>,
    /// Which registry to explore: fixed, naive, monitored, no-catch-all or
    /// unlinked.
    #[arg(long, value_name = "STAGE", default_value = "fixed", value_parser = parse_stage)]
    registry: Stage,
    /// Cases to run: indices 0 to N - 1 (a count, never a time: the same
    /// flags find the same cases).
    #[arg(long, value_name = "N", default_value_t = ExploreConfig::DEFAULT_RUNS_CLI, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// How each case's schedule is drawn: portfolio rotates overrides,
    /// random, pos and pct over case indices.
    #[arg(long, value_enum, default_value_t = ScheduleKind::Portfolio)]
    schedule: ScheduleKind,
    /// PCT's greatest bug depth: each PCT case draws its depth from 1 to D
    /// (1 to 64) [default: 3]. Only with --schedule pct or portfolio.
    #[arg(long, value_name = "D", value_parser = clap::value_parser!(u32).range(1..=64))]
    depth: Option<u32>,
    /// The run's seed: case i is a pure function of the seed and i.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Threads running cases [default: every core].
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u32).range(1..=4096))]
    threads: Option<u32>,
    /// Run only the case indices equal to i modulo n (0 <= i < n); merge
    /// the shards' --json reports with `kvsim merge`.
    #[arg(long, value_name = "i/n", value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Clients per generated case: N (1 to N) or MIN-MAX [default: 1-4].
    /// Not with a SCRIPT.
    #[arg(long, value_name = "N|MIN-MAX", value_parser = parse_bounds)]
    clients: Option<RangeInclusive<usize>>,
    /// Commands per generated client: N (1 to N) or MIN-MAX [default:
    /// 1-6]. Not with a SCRIPT.
    #[arg(long, value_name = "N|MIN-MAX", value_parser = parse_bounds)]
    commands: Option<RangeInclusive<usize>>,
    /// Faults per case: KIND:N,... (at most N of each kind; kinds kill,
    /// crash, stray, kill-registry, crash-registry), none, or default (0
    /// to 3 of every kind, the library's default).
    #[arg(long, value_name = "KIND:N,...", default_value = "default", value_parser = parse_faults)]
    faults: FaultBudget,
    /// Properties to check: all, or a comma list of numbers (1-6) or names
    /// (lookup-is-alive, ...).
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = parse_properties)]
    properties: Properties,
    /// Scheduler steps (events) per run before it is cut with `LIMIT
    /// max-steps N` (at least 1).
    #[arg(long, value_name = "N", default_value_t = ExploreConfig::default().check.limits.steps_max, value_parser = clap::value_parser!(u64).range(1..))]
    max_steps: u64,
    /// Where shrunk failures are saved as case files (replay them with
    /// `kvsim replay`).
    #[arg(long, value_name = "DIR", default_value = ExploreConfig::OUT_DEFAULT)]
    out: PathBuf,
    /// Stop handing out cases after this long (e.g. 90s, 10m, 2h, 500ms;
    /// a bare number is seconds); the report says the highest index
    /// covered, so the run can be repeated exactly with --runs.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    max_time: Option<Duration>,
    /// Print the report as JSON (what `kvsim merge` reads).
    #[arg(long)]
    json: bool,
    /// Run every case, and report every property that broke, each at its
    /// lowest index, instead of stopping at the first failure.
    #[arg(long)]
    keep_going: bool,
    /// No progress bar (there is none anyway when stderr is not a
    /// terminal).
    #[arg(long)]
    quiet: bool,
    /// Run every case twice and stop, exit 4, at the first whose runs
    /// differ, printing the first differing trace line.
    #[arg(long)]
    check_determinism: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct MergeArgs {
    /// The --json reports of every shard of one run (`--shard 0/n` to
    /// `n-1/n`), in any order.
    #[arg(required = true, value_name = "REPORT")]
    reports: Vec<PathBuf>,
    /// Print the merged report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ScheduleKind {
    Random,
    Pct,
    Pos,
    Overrides,
    Portfolio,
}

/// The properties `--properties` names.
#[derive(Clone, Debug)]
pub(super) struct Properties(pub(super) Vec<crate::check::Property>);

fn parse_stage(text: &str) -> Result<Stage, String> {
    text.parse()
}

pub(super) fn parse_shard(text: &str) -> Result<Shard, String> {
    text.parse()
}

fn parse_faults(text: &str) -> Result<FaultBudget, String> {
    text.parse()
}

/// `N` (1 to N) or `MIN-MAX`, each at least 1.
fn parse_bounds(text: &str) -> Result<RangeInclusive<usize>, String> {
    let number = |word: &str| -> Result<usize, String> {
        match word.parse::<usize>() {
            Ok(0) => Err(format!("{text:?}: bounds start at 1")),
            Ok(n) => Ok(n),
            Err(e) => Err(format!("{text:?} is not N or MIN-MAX: {e}")),
        }
    };
    let (low, high) = match text.split_once('-') {
        Some((low, high)) => (number(low)?, number(high)?),
        None => (1, number(text)?),
    };
    if low > high {
        return Err(format!("{text:?}: {low} is more than {high}"));
    }
    Ok(low..=high)
}

pub(super) fn parse_properties(text: &str) -> Result<Properties, String> {
    let set: PropertySet = text.parse()?;
    Ok(Properties(set.builtin().to_vec()))
}

/// `90s`, `10m`, `2h`, `500ms`, or a bare number of seconds.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 90s, 10m, 2h, 500ms)"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (expected ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

/// Why the flags describe no configuration.
enum ConfigError {
    /// A flag combination clap cannot express: printed as clap's usage
    /// errors are.
    Usage(String),
    /// The script cannot be read or parsed.
    Input(String),
}

/// The configuration the flags describe.
fn config(args: &ExploreArgs) -> Result<ExploreConfig, ConfigError> {
    let defaults = ExploreConfig::default();
    let mut generator = defaults.generator.clone();
    if let Some(path) = &args.script {
        if args.clients.is_some() || args.commands.is_some() {
            return Err(ConfigError::Usage(
                "--clients and --commands shape generated cases: with a SCRIPT, only faults and schedules vary"
                    .to_string(),
            ));
        }
        let file = std::fs::File::open(path).map_err(|e| {
            ConfigError::Input(io_error_message(format!("read {}", path.display()), &e))
        })?;
        let script = script::read_text(path, file)
            .map_err(|e| ConfigError::Input(e.to_string()))?
            .to_script();
        let clients = script.client_commands();
        if clients.iter().all(Vec::is_empty) {
            return Err(ConfigError::Input(format!(
                "{}: the script has no command",
                path.display()
            )));
        }
        let names = script.bucket_names();
        if !names.is_empty() {
            generator.names = names;
        }
        generator.script = Some(clients);
    }
    if let Some(clients) = &args.clients {
        generator.clients = clients.clone();
    }
    if let Some(commands) = &args.commands {
        generator.commands_per_client = commands.clone();
    }
    let depth = match (args.schedule, args.depth) {
        (ScheduleKind::Pct | ScheduleKind::Portfolio, depth) => depth,
        (other, Some(_)) => {
            return Err(ConfigError::Usage(format!(
                "--depth applies only to --schedule pct or portfolio (the schedule is {})",
                format!("{other:?}").to_lowercase()
            )));
        }
        (_, None) => None,
    };
    let pct = StrategyKind::Pct {
        max_depth: depth.unwrap_or(3),
    };
    generator.strategies = match args.schedule {
        ScheduleKind::Random => vec![StrategyKind::Random],
        ScheduleKind::Pos => vec![StrategyKind::Pos],
        ScheduleKind::Overrides => vec![StrategyKind::Overrides],
        ScheduleKind::Pct => vec![pct],
        ScheduleKind::Portfolio => StrategyKind::PORTFOLIO
            .iter()
            .map(|kind| match kind {
                StrategyKind::Pct { .. } => pct,
                other => *other,
            })
            .collect(),
    };
    let generator = args.faults.apply(generator);
    let mut check = defaults.check.clone();
    check.properties = PropertySet::only(&args.properties.0);
    check.limits.steps_max = args.max_steps;
    Ok(ExploreConfig {
        cases: args.runs,
        seed: args.seed,
        generator,
        check,
        threads: args
            .threads
            .map_or_else(ExploreConfig::all_cores, |t| t as usize),
        shard: args.shard.unwrap_or(Shard::WHOLE),
        keep_going: args.keep_going,
        check_determinism: args.check_determinism,
        max_time: args.max_time,
        stop: Some(interrupt::flag()),
        registry: args.registry.name().to_string(),
        out: Some(args.out.clone()),
        ..defaults
    })
}

/// A progress bar on stderr: cases run, cases/s and failures so far.
struct Bar {
    bar: ProgressBar,
    failures: AtomicU64,
}

impl Progress for Bar {
    fn case_done(&self, failed: bool) {
        self.bar.inc(1);
        if failed {
            let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
            self.bar.set_message(format!("{failures} failing"));
        }
    }

    fn shrinking(&self) {
        self.bar.set_message("shrinking");
    }
}

/// The exit status of a report's verdict (and 130 when Ctrl-C stopped the
/// run, whatever it found).
fn status(report: &ExploreReport) -> Exit {
    let mut exit = match report.result.verdict.as_str() {
        "held" => Exit::Ok,
        "failed" => Exit::PropertyBroken,
        "nondeterministic" => Exit::Nondeterministic,
        _ => Exit::NoVerdict,
    };
    // Both a divergence and a property broken may be reported.
    if !report.result.failures.is_empty() {
        exit = exit.and(Exit::PropertyBroken);
    }
    if report
        .result
        .failures
        .iter()
        .any(|f| f.save_error.is_some())
    {
        exit = exit.and(Exit::OutputFailed);
    }
    if report.run.interrupted() {
        exit = exit.and(Exit::Interrupted);
    }
    exit
}

/// `kvsim explore`: returns the exit status.
pub(super) fn explore(args: &ExploreArgs, out: &mut dyn Write) -> Exit {
    let config = match config(args) {
        Ok(config) => config,
        Err(ConfigError::Usage(message)) => return super::usage_error("explore", message),
        Err(ConfigError::Input(message)) => {
            report(message);
            return Exit::BadInput;
        }
    };
    let positions = config.shard.positions(u64::from(config.cases));
    // indicatif draws nothing when stderr is not a terminal.
    let bar = if args.quiet {
        ProgressBar::with_draw_target(Some(positions), ProgressDrawTarget::hidden())
    } else {
        ProgressBar::new(positions)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} cases, {per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = Bar {
        bar,
        failures: AtomicU64::new(0),
    };
    let registry = args.registry;
    // From here Ctrl-C stops the run instead of ending the process: the
    // cases running finish and the report says what ran.
    interrupt::install();
    let found = explore_with(&|| registry.registry(), &config, &progress);
    progress.bar.finish_and_clear();
    for failure in &found.result.failures {
        if let Some(why) = &failure.save_error {
            report(format!("kvsim: {why}"));
        }
    }
    print_report(&found, args.json, out)
}

/// Which command wrote a report's JSON text: `explore`, `verify`, or
/// `None` when it is neither (its reader then says why).
fn report_kind(text: &str) -> Option<&'static str> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    if value.get("kvsim_verify_report").is_some() {
        Some("verify")
    } else if value.get("kvsim_explore_report").is_some() {
        Some("explore")
    } else {
        None
    }
}

/// `kvsim merge` (of explore reports, or of verify reports through
/// [`merge_texts`]): returns the exit status.
pub(super) fn merge_reports(args: &MergeArgs, out: &mut dyn Write) -> Exit {
    let mut texts = Vec::new();
    for path in &args.reports {
        match std::fs::read_to_string(path) {
            Ok(text) => texts.push((path.clone(), text)),
            Err(e) => {
                report(io_error_message(format!("read {}", path.display()), &e));
                return Exit::BadInput;
            }
        }
    }
    // The first report's kind decides; every other must be of it.
    let kinds: Vec<Option<&str>> = texts.iter().map(|(_, text)| report_kind(text)).collect();
    if let Some(first) = kinds.first().copied().flatten() {
        if let Some(at) = kinds.iter().position(|k| k.is_some_and(|k| k != first)) {
            report(format!(
                "kvsim merge: {} is a report of kvsim {}, {} of kvsim {first}: merge the shards of one run",
                texts[at].0.display(),
                kinds[at].unwrap_or("?"),
                texts[0].0.display()
            ));
            return Exit::BadInput;
        }
        if first == "verify" {
            return merge_texts::<VerifyReport>(&texts, args.json, out);
        }
    }
    merge_texts::<ExploreReport>(&texts, args.json, out)
}

/// A report `kvsim explore` or `kvsim verify` prints and `kvsim merge`
/// reads back: its JSON both ways, the merge of a split's shards, and the
/// exit status it stands for.
pub(super) trait Report: fmt::Display + Sized {
    fn from_json(text: &str) -> Result<Self, String>;
    fn to_json(&self) -> String;
    fn merge(reports: &[Self]) -> Result<Self, MergeError>;
    fn status(&self) -> Exit;
}

impl Report for ExploreReport {
    fn from_json(text: &str) -> Result<Self, String> {
        ExploreReport::from_json(text)
    }
    fn to_json(&self) -> String {
        ExploreReport::to_json(self)
    }
    fn merge(reports: &[Self]) -> Result<Self, MergeError> {
        merge(reports)
    }
    fn status(&self) -> Exit {
        status(self)
    }
}

/// Prints a report on `out` (`--json` or text) and returns its exit
/// status, joined with 5 when the write failed.
pub(super) fn print_report<R: Report>(found: &R, json: bool, out: &mut dyn Write) -> Exit {
    let text = if json {
        found.to_json()
    } else {
        found.to_string()
    };
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    found.status().and(output_status(written))
}

/// `kvsim merge` of reports of one kind (`texts`: each file's path and
/// text): reads each, merges them and prints the merge; 2 when a report
/// cannot be read or the shards do not make one run.
pub(super) fn merge_texts<R: Report>(
    texts: &[(PathBuf, String)],
    json: bool,
    out: &mut dyn Write,
) -> Exit {
    let mut reports = Vec::new();
    for (path, text) in texts {
        match R::from_json(text) {
            Ok(read) => reports.push(read),
            Err(message) => {
                report(format!("{}: {message}", path.display()));
                return Exit::BadInput;
            }
        }
    }
    let merged = match R::merge(&reports) {
        Ok(merged) => merged,
        Err(error) => {
            report(format!("kvsim merge: {error}"));
            return Exit::BadInput;
        }
    };
    print_report(&merged, json, out)
}
