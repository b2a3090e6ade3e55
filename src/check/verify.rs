//! Verification within bounds: every schedule of a bounded scenario — a
//! case's client scripts under every fault plan of a budget — with every
//! property checked online in each, and either the shortest counterexample
//! or the statement that nothing broke within those bounds. Owns
//! [`VerifyConfig`] (every default of `kvsim verify` and of the library's
//! [`verify`]), the fault plans of a budget, how work is split between
//! threads and shards, the report and its merge. Which schedules are
//! explored is the engine's business ([`Reduction`]).
//!
//! **Fault plans.** A budget `kill:2,stray:1` allows, on each *role* (a
//! bucket name for `kill` and `crash`, the registry for the other kinds),
//! at most that many faults of that kind. Each fault of a plan is an event
//! enabled at every step where its target is alive (the simulator's
//! semantics, docs/design.md § Faults), so it fires at some step of every
//! schedule in which its target lives; "never" is the plan without it.
//! The plans are therefore every combination of 0 to N faults of each kind
//! on each role: for `kill:2` on two names, 3 × 3 = 9 plans. Roles are the
//! bucket names the clients' commands mention, in order of first use (a
//! registry of your own decides which buckets exist, so a name only looked
//! up is a role too).
//!
//! **Work.** For each plan in order, the engine splits its schedules at a
//! fixed depth [`VerifyConfig::SPLIT_DEPTH`] into roots (prefixes, each
//! with a sleep set derived from the prefix order); the work items are
//! (plan, root) in that order, item `i` belongs to shard `i mod n`, and
//! threads take a shard's items from one [`Dispenser`]. Each item is
//! searched alone (nothing shared between items), and results are combined
//! with commutative operations only (sums, set unions, minima), so the
//! verdict, the shortest counterexample and every count are the same for
//! any thread count and any split into shards merged with [`merge`]; only
//! the report's `timing` and `run` sections vary.
//!
//! **Shortest counterexample.** Of every violation found, the one whose
//! violating event has the smallest causal past; ties go to the smaller
//! tiebreak (event keys), then to the lower work item.

pub mod dpor;
mod plain;

pub use dpor::{DporResult, DporStats, Root, Violation};

use crate::check::case::{Case, CaseFault, CaseMeta};
use crate::check::checker::{CheckConfig, RegistryFactory, run_case};
use crate::check::explore::{FaultBudget, Shard, fnv1a, saturating_sum, shards_of};
use crate::check::generate::FaultKind;
use crate::check::oracle::RunOutcome;
use crate::check::report::{FailureReport, save_case};
use crate::kv::KvFault;
use crate::sim::EventKey;
use crate::sync::{Dispenser, Sink};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The version of the JSON report's format (`"kvsim_verify_report"`).
pub const VERIFY_REPORT_FORMAT_VERSION: u32 = 1;

/// Which schedules a search explores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Reduction {
    /// Every schedule, plainly enumerated: the oracle's enumerator over the
    /// same union of fault plans (the yardstick).
    None,
    /// Source-set DPOR (Abdulla et al., POPL 2014).
    SourceDpor,
}

impl Reduction {
    /// The name `--reduction` takes: `none`, `source-dpor`.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::None => "none",
            Reduction::SourceDpor => "source-dpor",
        }
    }

    /// The reduction that actually runs (each is built).
    pub fn effective(self) -> Reduction {
        self
    }

    fn split(
        self,
        case: &Case,
        registry: &RegistryFactory<'_>,
        check: &CheckConfig,
        depth: usize,
    ) -> Vec<Root> {
        match self.effective() {
            Reduction::None => plain::split(case, registry, check, depth),
            Reduction::SourceDpor => dpor::split(case, registry, check, depth),
        }
    }

    fn search(
        self,
        case: &Case,
        registry: &RegistryFactory<'_>,
        check: &CheckConfig,
        root: &Root,
        memo: &mut dpor::OrdersMemo,
    ) -> DporResult {
        match self.effective() {
            Reduction::None => plain::search(case, registry, check, root),
            Reduction::SourceDpor => dpor::search_with(case, registry, check, root, memo),
        }
    }
}

impl FromStr for Reduction {
    type Err = String;

    fn from_str(text: &str) -> Result<Reduction, String> {
        [Reduction::None, Reduction::SourceDpor]
            .into_iter()
            .find(|r| r.name() == text)
            .ok_or_else(|| format!("unknown reduction {text:?} (expected none or source-dpor)"))
    }
}

impl fmt::Display for Reduction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to verify: the one configuration behind `kvsim verify` and the
/// library's [`verify`], and the owner of every default. What is explored
/// depends on `check`, `faults`, `reduction` and the case; `threads`,
/// `shard`, `max_time` and `out` decide where and how long, never what.
#[derive(Clone, Debug)]
pub struct VerifyConfig {
    /// Properties (all six by default), property 4's bound, and the limits:
    /// `limits.steps_max` is `--max-steps`
    /// ([`VerifyConfig::STEPS_MAX_DEFAULT`]).
    pub check: CheckConfig,
    /// At most N faults of each kind on each role (`--faults`; empty: no
    /// fault, the default).
    pub faults: Vec<(FaultKind, usize)>,
    pub reduction: Reduction,
    /// Threads searching work items (at least 1).
    pub threads: usize,
    /// Which work items this process searches.
    pub shard: Shard,
    /// The depth at which each plan's schedules are split into work items:
    /// fixed, whatever the threads and shards, so that every item and its
    /// result are too.
    pub split_depth: usize,
    /// Stop handing out work items after this long: the report then says
    /// "stopped", never "verified".
    pub max_time: Option<Duration>,
    /// The registry's name in reports and case files (a built-in stage's
    /// name makes the replay line a `kvsim replay` command).
    pub registry: String,
    /// Where the shortest counterexample is saved as a case file (none:
    /// not saved).
    pub out: Option<PathBuf>,
    /// Stop at the lowest work item with a violation: every item before
    /// it still runs, none after it, so the counterexample is the shortest
    /// among the items up to it (the same for any thread count), not over
    /// the whole search. For a search of one process (unsharded); off by
    /// default.
    pub stop_at_first: bool,
    /// A stop request (Ctrl-C: `kvsim::cli::interrupt::flag()`), polled
    /// before each work item: the items running finish, the verdict is
    /// "stopped". Never part of what is explored.
    pub stop: Option<&'static AtomicBool>,
}

impl VerifyConfig {
    /// [`VerifyConfig::split_depth`]'s default: deep enough to give a few
    /// hundred items per plan on the scenarios of `examples/verify/`, so
    /// that threads and shards stay busy to the end.
    pub const SPLIT_DEPTH: usize = 4;
    /// `--max-steps`' default: every front end's
    /// ([`Limits::STEPS_MAX_DEFAULT`](crate::sim::Limits::STEPS_MAX_DEFAULT)),
    /// far above the longest schedule of the scenarios of
    /// `examples/verify/`, so that a schedule cut by it is a livelock, not
    /// a long run.
    pub const STEPS_MAX_DEFAULT: u64 = crate::sim::Limits::STEPS_MAX_DEFAULT;
    /// Where `kvsim verify` saves a counterexample unless `--out` says
    /// otherwise.
    pub const OUT_DEFAULT: &'static str = "kvsim-failures";

    /// A text identifying everything that decides what is explored and
    /// how it is checked (not threads, shard, time or where files go), for
    /// `case`; [`VerifyConfig::hash`] is its FNV-1a.
    pub fn canonical(&self, case: &Case) -> String {
        let c = &self.check;
        format!(
            "kvsim {}\nverify\nregistry {:?}\ncase {}\nfaults {:?}\nreduction {}\nsplit depth {}\n\
             properties {:?}\ncustom properties {}\nmodel {:?}\nlinearizability bound {}\nlimits {:?}\n\
             stop at first {}\n",
            env!("CARGO_PKG_VERSION"),
            self.registry,
            case.to_json(&CaseMeta::default()),
            self.faults,
            self.reduction.effective(),
            self.split_depth,
            c.properties.builtin(),
            c.properties.custom_count(),
            c.model,
            c.linearizability_states_max,
            c.limits,
            self.stop_at_first,
        )
    }

    /// FNV-1a of [`VerifyConfig::canonical`].
    pub fn hash(&self, case: &Case) -> u64 {
        fnv1a(self.canonical(case).as_bytes())
    }

    /// The budget of `--faults`: `none`, or `KIND:N,...` as `kvsim
    /// explore` reads it (same errors); explore's `default`, a random
    /// budget, means nothing to an exhaustive search and is refused.
    pub fn parse_faults(text: &str) -> Result<Vec<(FaultKind, usize)>, String> {
        match text.parse::<FaultBudget>()? {
            FaultBudget::Default => Err(
                "\"default\" is explore's random fault budget; verify needs a bound: KIND:N,... (e.g. kill:2) or none"
                    .to_string(),
            ),
            FaultBudget::Caps(caps) => Ok(caps.into_iter().filter(|&(_, n)| n > 0).collect()),
        }
    }

    /// The budget as `--faults` writes it.
    pub fn faults_text(&self) -> String {
        FaultBudget::Caps(self.faults.clone()).to_string()
    }
}

impl Default for VerifyConfig {
    /// All six properties, no fault, source-DPOR, every core, unsharded,
    /// the default limits, no time budget, registry `fixed`, nothing saved.
    fn default() -> VerifyConfig {
        VerifyConfig {
            check: CheckConfig::default(),
            faults: Vec::new(),
            reduction: Reduction::SourceDpor,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            shard: Shard::WHOLE,
            split_depth: VerifyConfig::SPLIT_DEPTH,
            max_time: None,
            registry: "fixed".to_string(),
            out: None,
            stop_at_first: false,
            stop: None,
        }
    }
}

/// The bucket names the commands of `case` mention, in order of first
/// use: the roles `kill` and `crash` faults target.
fn bucket_names(case: &Case) -> Vec<String> {
    let mut seen = BTreeSet::new();
    case.clients
        .iter()
        .flat_map(|c| &c.commands)
        .filter_map(|(_, command)| command.bucket())
        .filter(|name| seen.insert(*name))
        .map(str::to_string)
        .collect()
}

/// Every fault plan of `budget` for `case`, in a fixed order: the plan
/// with the fewest faults first, then by the count of each (kind, role)
/// slot. Each plan is `case`'s own faults followed by the budget's, with
/// ids after the case's. See the module doc for the roles.
pub fn fault_plans(case: &Case, budget: &[(FaultKind, usize)]) -> Vec<Vec<CaseFault>> {
    let names = bucket_names(case);
    let mut slots: Vec<(KvFault, usize)> = Vec::new();
    for kind in FaultKind::ALL {
        let Some(&(_, cap)) = budget.iter().find(|(k, _)| *k == kind) else {
            continue;
        };
        if cap == 0 {
            continue;
        }
        let faults: Vec<KvFault> = match kind {
            FaultKind::KillBucket => names.iter().cloned().map(KvFault::KillBucket).collect(),
            FaultKind::CrashBucket => names.iter().cloned().map(KvFault::CrashBucket).collect(),
            FaultKind::StrayRegistry => vec![KvFault::StrayRegistry],
            FaultKind::KillRegistry => vec![KvFault::KillRegistry],
            FaultKind::CrashRegistry => vec![KvFault::CrashRegistry],
        };
        slots.extend(faults.into_iter().map(|fault| (fault, cap)));
    }
    // Every vector of counts, odometer order.
    let mut counts: Vec<Vec<usize>> = Vec::new();
    let mut current = vec![0usize; slots.len()];
    loop {
        counts.push(current.clone());
        let mut i = slots.len();
        loop {
            if i == 0 {
                counts.sort_by_key(|c| c.iter().sum::<usize>());
                let first_id = case.faults.iter().map(|f| f.id + 1).max().unwrap_or(0);
                return counts
                    .into_iter()
                    .map(|counts| {
                        let mut plan = case.faults.clone();
                        let mut id = first_id;
                        for ((fault, _), &n) in slots.iter().zip(&counts) {
                            for _ in 0..n {
                                plan.push(CaseFault {
                                    id,
                                    fault: fault.clone(),
                                });
                                id += 1;
                            }
                        }
                        plan
                    })
                    .collect();
            }
            i -= 1;
            if current[i] < slots[i].1 {
                current[i] += 1;
                break;
            }
            current[i] = 0;
        }
    }
}

/// What the search tells a progress display, from any thread.
pub trait VerifyProgress: Sync {
    /// The work items of this shard are known: `items` of them.
    fn planned(&self, _items: u64) {}
    /// One more work item was searched: `schedules` schedules, a property
    /// broke in one of them if `violated`.
    fn item_done(&self, _schedules: u64, _violated: bool) {}
}

/// No display.
pub struct Quiet;

impl VerifyProgress for Quiet {}

/// The shortest counterexample, ready to print and to replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyFailure {
    /// `P1 lookup-is-alive`.
    pub property: String,
    /// The violating event: the schedule's length.
    pub step: u64,
    pub detail: String,
    /// Events in the violating event's causal past, itself included.
    pub causal_past: u64,
    /// The work item (plan, root) it was found in.
    pub item: u64,
    /// The faults of its plan, as a case file writes them.
    pub plan: Vec<String>,
    /// The schedule up to the violation, as event keys.
    pub schedule: Vec<EventKey>,
    /// What broke ties between violations of equal causal past.
    pub tiebreak: Vec<EventKey>,
    /// The case file's JSON: the clients, the plan and the schedule as an
    /// override list.
    pub case: serde_json::Value,
    /// Where it was saved (`None`: not saved).
    pub case_file: Option<String>,
    /// The one line that replays it (with a case file).
    pub replay: Option<String>,
    /// Why the case file could not be saved.
    pub save_error: Option<String>,
    /// The failure report, as printed: property, case file, case, trace,
    /// causal slice and the replay line.
    pub report: String,
}

/// The result: identical for any thread count and any split into shards
/// that is then merged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyResult {
    /// `verified` (every schedule ran and every property held, decided),
    /// `failed`, `no verdict` (nothing broke, but some schedule's property
    /// 4 was undecided or hit the step bound) or `stopped` (the time budget
    /// ended the search first; nothing broke in what ran).
    pub verdict: String,
    /// Fault plans of the budget.
    pub plans: u64,
    /// Work items (plan, root) in all, over every shard.
    pub items: u64,
    /// Work items searched (of this shard, for a shard's own report).
    pub items_searched: u64,
    /// Every item of the shard was searched.
    pub complete: bool,
    /// Complete schedules explored.
    pub schedules: u64,
    /// Events executed over every schedule.
    pub events: u64,
    /// The most events in one schedule.
    pub max_depth: u64,
    /// Schedules abandoned with every enabled event asleep.
    pub sleep_blocked: u64,
    /// Distinct outcomes (the clients' dialogue, the registry's final
    /// names, the properties broken, an undecided property 4, a limit hit,
    /// as the oracle compares runs) over every plan.
    pub distinct_outcomes: u64,
    /// Each outcome's FNV-1a (16 hex digits), sorted: what [`merge`]
    /// unites.
    pub outcomes: Vec<String>,
    /// Schedules whose property 4 verdict was undecided.
    pub undecided: u64,
    /// Schedules cut by a limit (`--max-steps`, or a queue's length).
    pub cut: u64,
    pub counterexample: Option<VerifyFailure>,
}

/// Wall time and speed of this process (merged: of the slowest shard, and
/// schedules over all shards).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifyTiming {
    pub wall_ms: u64,
    pub schedules_per_s: f64,
}

/// How the work ran: varies with threads and sharding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifyRun {
    pub threads: usize,
    /// This process's shard (`0/1` unsplit; merged: `0/n`, with `shards`).
    pub shard: Shard,
    /// `max-time` when the time budget stopped it.
    pub stopped_by: Option<String>,
    /// For a merged report: each shard's own run section.
    pub shards: Vec<VerifyRun>,
}

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// The report format's version ([`VERIFY_REPORT_FORMAT_VERSION`]).
    pub kvsim_verify_report: u32,
    pub registry: String,
    /// FNV-1a of [`VerifyConfig::canonical`], 16 hex digits.
    pub config_hash: String,
    /// The bounds in a line: faults, properties, steps, reduction, split.
    pub config: String,
    pub result: VerifyResult,
    pub timing: VerifyTiming,
    pub run: VerifyRun,
}

impl VerifyReport {
    /// The exit status of the command line's table: 1 a property broke, 3
    /// no verdict or stopped, 0 verified.
    pub fn exit_code(&self) -> u8 {
        match self.result.verdict.as_str() {
            "failed" => 1,
            "verified" => 0,
            _ => 3,
        }
    }

    /// The report as JSON (what `kvsim merge` reads).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a report's JSON text: JSON with a `"kvsim_verify_report"`
    /// version this kvsim reads, of the report's shape. The error is the
    /// message `kvsim merge` prints after the file's name.
    pub fn from_json(text: &str) -> Result<VerifyReport, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        match value
            .get("kvsim_verify_report")
            .and_then(serde_json::Value::as_u64)
        {
            Some(v) if v == u64::from(VERIFY_REPORT_FORMAT_VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "verify report format {v}, this kvsim reads {VERIFY_REPORT_FORMAT_VERSION}"
                ));
            }
            None => {
                return Err("not a kvsim verify report (no \"kvsim_verify_report\" version; write one with kvsim verify --json)".to_string());
            }
        }
        serde_json::from_value(value).map_err(|e| format!("not a valid verify report: {e}"))
    }

    /// The report with `timing` and `run` emptied: what must be equal for
    /// any thread count and sharding.
    pub fn without_timing_and_run(&self) -> VerifyReport {
        VerifyReport {
            timing: VerifyTiming {
                wall_ms: 0,
                schedules_per_s: 0.0,
            },
            run: VerifyRun {
                threads: 0,
                shard: Shard::WHOLE,
                stopped_by: None,
                shards: Vec::new(),
            },
            ..self.clone()
        }
    }
}

/// What a [`VerifyResult`]'s "verified" means, in one line.
pub const VERIFIED_MEANS: &str = "every schedule of these clients under every fault plan of this budget was run and every property held in each; nothing is claimed for more clients or commands, other faults or longer runs";

impl fmt::Display for VerifyReport {
    /// The result first (verdict, counts, the counterexample), then `---
    /// timing` and `--- run`: everything before `--- timing` is the same
    /// for any thread count and split.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.result;
        writeln!(
            f,
            "kvsim verify: registry {}, config {}",
            self.registry, self.config_hash
        )?;
        writeln!(f, "  bounds: {}", self.config)?;
        let counts = format!(
            "{} schedules ({} fault plans, {} of {} work items), {} distinct outcomes, {} sleep-set blocked, cache hits: none (stateless search), {} events, at most {} in a schedule",
            r.schedules,
            r.plans,
            r.items_searched,
            r.items,
            r.distinct_outcomes,
            r.sleep_blocked,
            r.events,
            r.max_depth
        );
        match r.verdict.as_str() {
            "verified" => {
                writeln!(f, "verified within bounds: {counts}")?;
                writeln!(f, "  meaning: {VERIFIED_MEANS}")?;
            }
            "failed" => {
                let c = r.counterexample.as_ref();
                writeln!(
                    f,
                    "property {} broke: shortest counterexample {} events in its causal past ({counts})",
                    c.map_or("?", |c| c.property.as_str()),
                    c.map_or(0, |c| c.causal_past),
                )?;
                if !r.complete {
                    writeln!(
                        f,
                        "  (the search stopped early: shortest among the schedules explored)"
                    )?;
                }
            }
            "stopped" => writeln!(
                f,
                "stopped early{}, NOT verified: no property broke in what ran ({counts})",
                match self.run.stopped_by.as_deref() {
                    Some("interrupted") => " by Ctrl-C (interrupt)",
                    Some("max-time") => " by --max-time",
                    _ => "",
                }
            )?,
            _ => writeln!(
                f,
                "no verdict, NOT verified: no property broke, but not every schedule is known to hold ({counts})"
            )?,
        }
        if r.undecided > 0 {
            writeln!(
                f,
                "{} schedules: property 4 undecided (raise --linearizability-bound)",
                r.undecided
            )?;
        }
        if r.cut > 0 {
            writeln!(f, "{} schedules cut by a limit (raise --max-steps)", r.cut)?;
        }
        if let Some(c) = &r.counterexample {
            writeln!(f, "--- counterexample (work item {})", c.item)?;
            f.write_str(&c.report)?;
            if !c.report.ends_with('\n') {
                writeln!(f)?;
            }
        }
        writeln!(f, "--- timing")?;
        writeln!(
            f,
            "wall {:.3} s, {:.0} schedules/s",
            self.timing.wall_ms as f64 / 1000.0,
            self.timing.schedules_per_s
        )?;
        writeln!(f, "--- run")?;
        write_run(f, &self.run)?;
        for shard in &self.run.shards {
            write!(f, "  shard ")?;
            write_run(f, shard)?;
        }
        Ok(())
    }
}

fn write_run(f: &mut fmt::Formatter<'_>, run: &VerifyRun) -> fmt::Result {
    writeln!(
        f,
        "threads {}, shard {}{}",
        run.threads,
        run.shard,
        run.stopped_by
            .as_ref()
            .map_or(String::new(), |s| format!(", stopped by {s}"))
    )
}

/// Everything the items searched so far found, combined with commutative
/// operations only.
#[derive(Default)]
struct Tally {
    stats: DporStats,
    outcomes: BTreeSet<u64>,
    /// (violation, item, plan index).
    shortest: Option<(Violation, u64, usize)>,
    undecided: u64,
    cut: u64,
}

impl Tally {
    fn absorb(&mut self, item: u64, plan: usize, result: DporResult) {
        self.merge(Tally {
            stats: result.stats,
            outcomes: result.outcomes.keys().map(outcome_hash).collect(),
            shortest: result.shortest.map(|violation| (violation, item, plan)),
            undecided: result.undecided,
            cut: result.cut,
        });
    }

    /// Adds `other`'s findings: sums, a union and a minimum, so the order
    /// of merging never matters.
    fn merge(&mut self, other: Tally) {
        self.stats.schedules += other.stats.schedules;
        self.stats.sleep_blocked += other.stats.sleep_blocked;
        self.stats.events += other.stats.events;
        self.stats.max_depth = self.stats.max_depth.max(other.stats.max_depth);
        self.undecided += other.undecided;
        self.cut += other.cut;
        self.outcomes.extend(other.outcomes);
        if let Some((violation, item, plan)) = other.shortest {
            let better = self.shortest.as_ref().is_none_or(|(best, best_item, _)| {
                (violation.rank(), item) < (best.rank(), *best_item)
            });
            if better {
                self.shortest = Some((violation, item, plan));
            }
        }
    }
}

/// FNV-1a of an outcome's parts.
fn outcome_hash(outcome: &RunOutcome) -> u64 {
    fnv1a(format!("{outcome:?}").as_bytes())
}

/// Verifies `case`'s clients on a registry built by `registry`: every
/// schedule under every fault plan of `config.faults`, as
/// [`verify_with`] with no progress display.
///
/// ```
/// use kvsim::check::{Case, VerifyConfig, verify};
/// use kvsim::kv::{Stage, script};
///
/// let text = "CLIENT c1\nCREATE a\nLOOKUP a\nCLIENT c2\nLOOKUP a\n";
/// let script = script::parse(std::path::Path::new("two.kv"), text.as_bytes()).unwrap();
/// let case = Case::from_script(&script);
/// let config = VerifyConfig {
///     faults: VerifyConfig::parse_faults("kill:1").unwrap(),
///     threads: 1,
///     ..VerifyConfig::default()
/// };
/// let report = verify(&case, &|| Stage::Fixed.registry(), &config);
/// assert_eq!(report.result.verdict, "verified", "{report}");
/// assert_eq!(report.result.plans, 2); // no kill, or one kill of bucket a
/// ```
pub fn verify(case: &Case, registry: &RegistryFactory<'_>, config: &VerifyConfig) -> VerifyReport {
    verify_with(case, registry, config, &Quiet)
}

/// Verifies as [`verify`] does, telling `progress` of each work item; the
/// shortest counterexample is replayed traced (its trace and causal slice
/// go in the report) and saved in `config.out`.
///
/// The case's own faults are part of every plan; its schedule and strategy
/// are ignored, since every schedule is explored.
pub fn verify_with(
    case: &Case,
    registry: &RegistryFactory<'_>,
    config: &VerifyConfig,
    progress: &dyn VerifyProgress,
) -> VerifyReport {
    let started = now();
    let deadline = config.max_time.map(|budget| started + budget);
    let base = Case {
        schedule: Vec::new(),
        strategy: None,
        ..case.clone()
    };
    let check = CheckConfig {
        tracing: false,
        run_to_end: true,
        ..config.check.clone()
    };
    let plans: Vec<Case> = fault_plans(&base, &config.faults)
        .into_iter()
        .map(|faults| Case {
            faults,
            ..base.clone()
        })
        .collect();
    let reduction = config.reduction;
    // Every process computes every item, so that item numbers are global.
    let items: Vec<(usize, Root)> = plans
        .iter()
        .enumerate()
        .flat_map(|(plan, case)| {
            reduction
                .split(case, registry, &check, config.split_depth)
                .into_iter()
                .map(move |root| (plan, root))
        })
        .collect();
    let shard = config.shard;
    let positions = shard.positions(items.len() as u64);
    progress.planned(positions);
    let dispenser = Dispenser::new(positions);
    // Each position's findings, kept apart so that a search stopped at its
    // first failure counts exactly the positions up to it, whichever
    // thread ran what.
    let sink: Sink<BTreeMap<u64, Tally>> = Sink::new(BTreeMap::new());
    let stopped: Sink<Option<&'static str>> = Sink::new(None);
    let worker = || {
        let mut mine = BTreeMap::new();
        // One check configuration throughout: a thread's items share it.
        let mut memo = dpor::OrdersMemo::default();
        loop {
            // Only a stop that leaves items unsearched is one.
            let early = || dispenser.taken() < positions;
            if config.stop.is_some_and(|stop| stop.load(Ordering::Relaxed)) && early() {
                stopped.with(|s| *s = s.or(Some("interrupted")));
                dispenser.stop();
            } else if deadline.is_some_and(|deadline| now() >= deadline) && early() {
                stopped.with(|s| *s = s.or(Some("max-time")));
                dispenser.stop();
            }
            let Some(position) = dispenser.take() else {
                break;
            };
            let item = shard.case_index(position);
            let (plan, root) = &items[item as usize];
            let result = reduction.search(&plans[*plan], registry, &check, root, &mut memo);
            let violated = result.shortest.is_some();
            progress.item_done(result.stats.schedules, violated);
            if violated && config.stop_at_first {
                dispenser.stop_at(position + 1);
            }
            let mut tally = Tally::default();
            tally.absorb(item, *plan, result);
            mine.insert(position, tally);
        }
        sink.with(|all| all.append(&mut mine));
    };
    let threads = config.threads.max(1);
    if threads == 1 {
        worker();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(worker);
            }
        });
    }
    let by_position = sink.into_inner();
    let first_failing = by_position
        .iter()
        .find(|(_, tally)| tally.shortest.is_some())
        .map(|(&position, _)| position);
    let through = match first_failing {
        Some(position) if config.stop_at_first => position + 1,
        _ => dispenser.taken().min(positions),
    };
    let mut tally = Tally::default();
    for (_, found) in by_position.into_iter().filter(|(p, _)| *p < through) {
        tally.merge(found);
    }
    let stopped = stopped.into_inner();
    let searched = through;
    let stopped_at_failure = first_failing.is_some() && config.stop_at_first;
    let hash = format!("{:016x}", config.hash(&base));
    let counterexample = tally.shortest.as_ref().map(|(violation, item, plan)| {
        counterexample(&plans[*plan], registry, config, &hash, violation, *item)
    });
    let result = VerifyResult {
        verdict: String::new(),
        plans: plans.len() as u64,
        items: items.len() as u64,
        items_searched: searched,
        complete: searched == positions || stopped_at_failure,
        schedules: tally.stats.schedules,
        events: tally.stats.events,
        max_depth: tally.stats.max_depth,
        sleep_blocked: tally.stats.sleep_blocked,
        distinct_outcomes: tally.outcomes.len() as u64,
        outcomes: tally.outcomes.iter().map(|h| format!("{h:016x}")).collect(),
        undecided: tally.undecided,
        cut: tally.cut,
        counterexample,
    };
    let result = VerifyResult {
        verdict: verdict_of(&result).to_string(),
        ..result
    };
    let wall = started.elapsed();
    VerifyReport {
        kvsim_verify_report: VERIFY_REPORT_FORMAT_VERSION,
        registry: config.registry.clone(),
        config_hash: hash,
        config: describe(config),
        timing: timing(wall, result.schedules),
        result,
        run: VerifyRun {
            threads,
            shard,
            stopped_by: if stopped_at_failure && searched < positions {
                Some("failure".to_string())
            } else {
                stopped.map(str::to_string)
            },
            shards: Vec::new(),
        },
    }
}

#[allow(clippy::disallowed_methods)] // the time budget only: never shapes a run
fn now() -> Instant {
    Instant::now()
}

fn timing(wall: Duration, schedules: u64) -> VerifyTiming {
    let seconds = wall.as_secs_f64();
    VerifyTiming {
        wall_ms: wall.as_millis() as u64,
        schedules_per_s: if seconds > 0.0 {
            schedules as f64 / seconds
        } else {
            0.0
        },
    }
}

/// The verdict of a result, worst first: a broken property is reported
/// even from a search that stopped early; "verified" only when every item
/// ran and every schedule decided within its bounds.
fn verdict_of(result: &VerifyResult) -> &'static str {
    if result.counterexample.is_some() {
        "failed"
    } else if !result.complete {
        "stopped"
    } else if result.undecided > 0 || result.cut > 0 {
        "no verdict"
    } else {
        "verified"
    }
}

/// The bounds in a line.
fn describe(config: &VerifyConfig) -> String {
    let set = &config.check.properties;
    let mut numbers: Vec<u8> = set.builtin().iter().map(|p| p.number).collect();
    numbers.sort_unstable();
    let mut properties = if numbers == [1, 2, 3, 4, 5, 6] {
        "all".to_string()
    } else {
        let numbers: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
        numbers.join(",")
    };
    if set.custom_count() > 0 {
        properties.push_str(&format!(" and {} of your own", set.custom_count()));
    }
    let reduction = if config.reduction == config.reduction.effective() {
        config.reduction.to_string()
    } else {
        format!(
            "{} (asked for {}, not built yet)",
            config.reduction.effective(),
            config.reduction
        )
    };
    format!(
        "faults {}; properties {properties}; max-steps {}; linearizability bound {}; reduction {reduction}; split depth {}{}",
        config.faults_text(),
        config.check.limits.steps_max,
        config.check.linearizability_states_max,
        config.split_depth,
        if config.stop_at_first {
            "; stop at the first failing item"
        } else {
            ""
        }
    )
}

/// The violation replayed traced: with its causal past alone as the
/// override list when that replays it (the violating event then comes
/// last, so the case file holds just the events that explain it), else
/// with its whole schedule.
fn replayed(
    plan: &Case,
    registry: &RegistryFactory<'_>,
    traced: &CheckConfig,
    violation: &Violation,
) -> (Case, crate::check::CaseRun) {
    let case = Case {
        schedule: violation.schedule.clone(),
        strategy: None,
        ..plan.clone()
    };
    let run = run_case(&case, registry, traced);
    let (Some(failure), Some(causality)) = (&run.failure, &run.causality) else {
        return (case, run);
    };
    let past = causality.past([failure.step]);
    if past.len() == case.schedule.len() {
        return (case, run);
    }
    let short = Case {
        schedule: past
            .iter()
            .filter_map(|&step| run.schedule_taken.get(step as usize - 1).cloned())
            .collect(),
        ..case.clone()
    };
    let again = run_case(&short, registry, traced);
    let same = again
        .failure
        .as_ref()
        .is_some_and(|f| f.property == failure.property && f.step == short.schedule.len() as u64);
    if same { (short, again) } else { (case, run) }
}

/// The shortest violation as a case file (its plan, its schedule as an
/// override list), replayed traced for its trace and causal slice, saved
/// in `config.out`.
fn counterexample(
    plan: &Case,
    registry: &RegistryFactory<'_>,
    config: &VerifyConfig,
    hash: &str,
    violation: &Violation,
    item: u64,
) -> VerifyFailure {
    let traced = CheckConfig {
        tracing: true,
        run_to_end: false,
        ..config.check.clone()
    };
    let (case, run) = replayed(plan, registry, &traced, violation);
    let meta = CaseMeta::found(
        &config.registry,
        Some(violation.property.to_string()),
        &format!(
            "kvsim verify, faults {}, work item {item}, config {hash}",
            config.faults_text(),
        ),
    );
    let case_text = case.to_json(&meta);
    let (property, step, detail) = match &run.failure {
        Some(failure) => (
            failure.property.to_string(),
            failure.step,
            failure.detail.clone(),
        ),
        // A run is a pure function of its schedule: this would be a
        // harness bug, and is reported rather than hidden.
        None => (
            violation.property.to_string(),
            violation.schedule.len() as u64,
            "(its replay did not break it again: a harness bug, please report)".to_string(),
        ),
    };
    let saved = config
        .out
        .as_ref()
        .map(|dir| std::fs::create_dir_all(dir).and_then(|()| save_case(dir, &case, &meta)));
    let mut save_error = None;
    let (case_file, replay, report) = match (saved, &run.failure) {
        (Some(Ok(path)), Some(failure)) => {
            let mut report = FailureReport::from_failure(
                &case,
                &config.registry,
                failure,
                run.trace.as_ref(),
                path.clone(),
            );
            if let (Some(slice), Some(trace)) = (&run.slice, &run.trace) {
                report = report.with_slice(slice, trace);
            }
            report = report.with_properties(&config.check.properties);
            (
                Some(path.display().to_string()),
                Some(report.replay_command()),
                report.to_string(),
            )
        }
        (Some(Err(error)), _) => {
            let dir = config.out.as_deref().unwrap_or(std::path::Path::new("."));
            let why = format!("cannot save the case in {}: {error}", dir.display());
            save_error = Some(why.clone());
            (
                None,
                None,
                format!(
                    "{property} broke at event {step}\n--- case\n{case_text}(not saved: {why})\n"
                ),
            )
        }
        (saved, _) => (
            saved.and_then(Result::ok).map(|p| p.display().to_string()),
            None,
            format!(
                "{property} broke at event {step}\n  {detail}\n--- case\n{case_text}--- trace\n{}",
                run.trace.as_ref().map(|t| t.to_text()).unwrap_or_default()
            ),
        ),
    };
    VerifyFailure {
        property,
        step,
        detail,
        causal_past: violation.causal_past,
        item,
        plan: plan.faults.iter().map(|f| f.fault.to_string()).collect(),
        schedule: violation.schedule.clone(),
        tiebreak: violation.tiebreak.clone(),
        case: serde_json::from_str(&case_text).unwrap_or_default(),
        case_file,
        replay,
        save_error,
        report,
    }
}

/// Why verify reports cannot be merged: `kvsim merge` exits 2.
pub use crate::check::explore::MergeError;

/// Merges the reports of every shard of one verification (`--shard 0/n`
/// to `n-1/n`, in any order) into the report the unsharded run gives
/// (outside `timing` and `run`). Errors when a shard is missing or given
/// twice, or when the reports disagree on the registry or the
/// configuration's hash.
pub fn merge(reports: &[VerifyReport]) -> Result<VerifyReport, MergeError> {
    let by_shard = shards_of(
        reports,
        |r| r.run.shard,
        |r| {
            vec![
                ("the report format", r.kvsim_verify_report.to_string()),
                ("the registry", r.registry.clone()),
                ("the config hash", r.config_hash.clone()),
            ]
        },
    )?;
    let first = &reports[0];
    let count = first.run.shard.count;
    let all = || by_shard.values().map(|r| &r.result);
    let outcomes: BTreeSet<String> = all().flat_map(|r| r.outcomes.iter().cloned()).collect();
    let counterexample = all()
        .filter_map(|r| r.counterexample.clone())
        .min_by(|a, b| {
            (a.causal_past, &a.tiebreak, a.item).cmp(&(b.causal_past, &b.tiebreak, b.item))
        });
    let result = VerifyResult {
        verdict: String::new(),
        plans: first.result.plans,
        items: first.result.items,
        items_searched: saturating_sum(all().map(|r| r.items_searched)),
        complete: all().all(|r| r.complete),
        schedules: saturating_sum(all().map(|r| r.schedules)),
        events: saturating_sum(all().map(|r| r.events)),
        max_depth: all().map(|r| r.max_depth).max().unwrap_or(0),
        sleep_blocked: saturating_sum(all().map(|r| r.sleep_blocked)),
        distinct_outcomes: outcomes.len() as u64,
        outcomes: outcomes.into_iter().collect(),
        undecided: saturating_sum(all().map(|r| r.undecided)),
        cut: saturating_sum(all().map(|r| r.cut)),
        counterexample,
    };
    let result = VerifyResult {
        verdict: verdict_of(&result).to_string(),
        ..result
    };
    let wall_ms = by_shard
        .values()
        .map(|r| r.timing.wall_ms)
        .max()
        .unwrap_or(0);
    Ok(VerifyReport {
        kvsim_verify_report: VERIFY_REPORT_FORMAT_VERSION,
        registry: first.registry.clone(),
        config_hash: first.config_hash.clone(),
        config: first.config.clone(),
        timing: timing(Duration::from_millis(wall_ms), result.schedules),
        result,
        run: VerifyRun {
            threads: by_shard.values().map(|r| r.run.threads).max().unwrap_or(0),
            shard: Shard { index: 0, count },
            // Each shard says what stopped it; the merge itself ran whole.
            stopped_by: None,
            shards: by_shard.values().map(|r| r.run.clone()).collect(),
        },
    })
}
