//! `kvsim verify` and how `kvsim merge` reads its reports: flags into a
//! [`VerifyConfig`], the progress bar, the report on stdout (text or
//! `--json`) and the exit status. The search itself is
//! [`crate::check::verify_with`], the function a user's own registry is
//! verified through from `cargo test`.

use crate::check::verify::{MergeError, merge};
use crate::check::{Case, Reduction, VerifyConfig, VerifyProgress, VerifyReport, verify_with};
use crate::check::{PropertySet, Shard};
use crate::cli::exit::{Exit, io_error_message, report};
use crate::cli::explore::{Report, print_report};
use crate::cli::interrupt;
use crate::kv::{Stage, script};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub(super) struct VerifyArgs {
    /// The `.kv` script: one or more clients, whose commands stay as they
    /// are while every schedule and every fault plan of --faults is run.
    script: PathBuf,
    /// Which registry to verify: fixed, naive, monitored, no-catch-all or
    /// unlinked.
    #[arg(long, value_name = "STAGE", default_value = "fixed", value_parser = super::parse_stage)]
    registry: Stage,
    /// The fault budget: KIND:N,... (every plan of at most N faults of each
    /// kind on each role: kill and crash on each bucket name the script
    /// creates; stray, kill-registry and crash-registry on the registry),
    /// or none.
    #[arg(long, value_name = "KIND:N,...", default_value = "none", value_parser = parse_faults)]
    faults: Budget,
    /// Threads searching [default: every core]. The report is the same
    /// for any count.
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u32).range(1..=4096))]
    threads: Option<u32>,
    /// Search only the work items equal to i modulo n (0 <= i < n); merge
    /// the shards' --json reports with `kvsim merge`.
    #[arg(long, value_name = "i/n", value_parser = super::explore::parse_shard)]
    shard: Option<Shard>,
    /// Scheduler steps (events) per schedule before it is cut with `LIMIT
    /// max-steps N`; a cut schedule makes the verdict "no verdict", exit 3
    /// (at least 1).
    #[arg(long, value_name = "N", default_value_t = VerifyConfig::STEPS_MAX_DEFAULT, value_parser = super::parse_steps)]
    max_steps: u64,
    /// Configurations property 4 may hold for one bucket while it takes in
    /// one answer, before it answers "undecided" (a schedule undecided
    /// makes the verdict "no verdict", exit 3; at least 1).
    #[arg(long, value_name = "N", default_value_t = crate::check::CheckConfig::LINEARIZABILITY_STATES_MAX, value_parser = super::parse_bound)]
    linearizability_bound: usize,
    /// Properties to check: all, or a comma list of numbers (1-6) or names
    /// (lookup-is-alive, ...).
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = super::explore::parse_properties)]
    properties: super::explore::Properties,
    /// Which schedules are run: source-dpor (one per class of equivalent
    /// schedules) or none (every schedule, plainly enumerated).
    #[arg(long, value_name = "R", default_value = "source-dpor", value_parser = parse_reduction)]
    reduction: Reduction,
    /// Where the shortest counterexample is saved as a case file (replay
    /// it with `kvsim replay`).
    #[arg(long, value_name = "DIR", default_value = VerifyConfig::OUT_DEFAULT)]
    out: PathBuf,
    /// Stop handing out work after this long (e.g. 90s, 10m, 2h, 500ms; a
    /// bare number is seconds): the verdict is then "stopped", exit 3.
    #[arg(long, value_name = "DURATION", value_parser = super::explore::parse_duration)]
    max_time: Option<Duration>,
    /// Print the report as JSON (what `kvsim merge` reads).
    #[arg(long)]
    json: bool,
    /// No progress bar (there is none anyway when stderr is not a
    /// terminal).
    #[arg(long)]
    quiet: bool,
}

/// A fault budget, as `--faults` reads it.
#[derive(Clone, Debug)]
struct Budget(Vec<(crate::check::generate::FaultKind, usize)>);

fn parse_faults(text: &str) -> Result<Budget, String> {
    VerifyConfig::parse_faults(text).map(Budget)
}

fn parse_reduction(text: &str) -> Result<Reduction, String> {
    text.parse()
}

/// The script as a case, or why not (exit 2).
fn read_script(path: &PathBuf) -> Result<Case, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| io_error_message(format!("read {}", path.display()), &e))?;
    let script = script::read_text(path, file)
        .map_err(|e| e.to_string())?
        .to_script();
    let case = Case::from_script(&script);
    if case.command_count() == 0 {
        return Err(format!(
            "{}: the script has no command: verify needs at least one client with a command",
            path.display()
        ));
    }
    Ok(case)
}

/// A progress bar on stderr: work items searched, schedules so far.
struct Bar {
    bar: ProgressBar,
    schedules: AtomicU64,
    violated: AtomicU64,
}

impl VerifyProgress for Bar {
    fn planned(&self, items: u64) {
        self.bar.set_length(items);
    }

    fn item_done(&self, schedules: u64, violated: bool) {
        let total = self.schedules.fetch_add(schedules, Ordering::Relaxed) + schedules;
        let violated = if violated {
            self.violated.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            self.violated.load(Ordering::Relaxed)
        };
        let broken = if violated > 0 {
            format!(", {violated} items with a violation")
        } else {
            String::new()
        };
        self.bar.set_message(format!("{total} schedules{broken}"));
        self.bar.inc(1);
    }
}

/// The exit status of a report: its verdict's, and 5 when the
/// counterexample could not be saved.
fn status(found: &VerifyReport) -> Exit {
    let exit = match found.exit_code() {
        0 => Exit::Ok,
        1 => Exit::PropertyBroken,
        _ => Exit::NoVerdict,
    };
    let mut exit = exit;
    if found
        .result
        .counterexample
        .as_ref()
        .is_some_and(|c| c.save_error.is_some())
    {
        exit = exit.and(Exit::OutputFailed);
    }
    if found.run.stopped_by.as_deref() == Some("interrupted") {
        exit = exit.and(Exit::Interrupted);
    }
    exit
}

/// `kvsim verify`: returns the exit status.
pub(super) fn verify(args: &VerifyArgs, out: &mut dyn Write) -> Exit {
    let case = match read_script(&args.script) {
        Ok(case) => case,
        Err(message) => {
            report(message);
            return Exit::BadInput;
        }
    };
    let defaults = VerifyConfig::default();
    let mut check = defaults.check.clone();
    check.properties = PropertySet::only(&args.properties.0);
    check.limits.steps_max = args.max_steps;
    check.linearizability_states_max = args.linearizability_bound;
    let config = VerifyConfig {
        check,
        faults: args.faults.0.clone(),
        reduction: args.reduction,
        threads: args.threads.map_or(defaults.threads, |t| t as usize),
        shard: args.shard.unwrap_or(Shard::WHOLE),
        max_time: args.max_time,
        registry: args.registry.name().to_string(),
        out: Some(args.out.clone()),
        stop: Some(interrupt::flag()),
        ..defaults
    };
    // indicatif draws nothing when stderr is not a terminal.
    let bar = if args.quiet {
        ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden())
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} work items, {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = Bar {
        bar,
        schedules: AtomicU64::new(0),
        violated: AtomicU64::new(0),
    };
    let registry = args.registry;
    // From here Ctrl-C stops the search instead of ending the process: the
    // work items running finish and the report says what ran.
    interrupt::install();
    let found = verify_with(&case, &|| registry.registry(), &config, &progress);
    progress.bar.finish_and_clear();
    if let Some(why) = found
        .result
        .counterexample
        .as_ref()
        .and_then(|c| c.save_error.as_ref())
    {
        report(format!("kvsim: {why}"));
    }
    print_report(&found, args.json, out)
}

impl Report for VerifyReport {
    fn from_json(text: &str) -> Result<Self, String> {
        VerifyReport::from_json(text)
    }
    fn to_json(&self) -> String {
        VerifyReport::to_json(self)
    }
    fn merge(reports: &[Self]) -> Result<Self, MergeError> {
        merge(reports)
    }
    fn status(&self) -> Exit {
        status(self)
    }
}
