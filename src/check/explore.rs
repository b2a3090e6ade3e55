//! The explorer: many generated cases on every core, one report however the
//! work is split (docs/design.md § Scale). Owns [`ExploreConfig`], the one
//! configuration every front end starts from (the library's
//! [`check_registry`](crate::check::check_registry), which is this engine on
//! one thread, and `kvsim explore`), the report and its merge. What one case
//! does is the checker's business; threads share only the dispenser and the
//! sink of [`crate::sync`].
//!
//! Case `i` is a pure function of the seed and `i`
//! ([`nth_case`](crate::check::nth_case)). Threads take case positions from
//! one dispenser; a process given `--shard k/n` runs only the indices
//! `≡ k (mod n)`. By default the run stops at the lowest failing index `F`:
//! a failure at position `p` stops the dispenser past `p`, the positions
//! below it still run (one of them may fail lower), and only once every
//! thread is done is the lowest failure shrunk. Every count in the report
//! covers exactly the indices `≤ F` (or every index, when nothing failed),
//! so the report does not depend on the thread count; and since each shard's
//! report says which of its indices it covers, [`merge`] of the shards'
//! reports gives the unsharded report. Only the `timing` and `run` sections
//! vary.

use crate::check::case::{Case, CaseMeta};
use crate::check::checker::{
    CaseRun, CheckConfig, Failure, RegistryFactory, Undecided, run_case, run_case_searching,
};
use crate::check::generate::{FaultKind, GenConfig};
use crate::check::property::Property;
use crate::check::replay::ReplayOptions;
use crate::check::report::{FailureReport, save_case};
use crate::check::schedule::StrategyKind;
use crate::check::search::{
    CaseSource, Counterexample, SearchSummary, ShrinkTarget, counterexample_at,
};
use crate::check::shrink::ShrinkConfig;
use crate::sim::Outcome;
use crate::sync::{Dispenser, Sink};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The version of the JSON report's format (`"kvsim_explore_report"`).
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// Which part of the case indices a process runs: indices `≡ index (mod
/// count)`. `0/1` is the whole run. Always `index < count`: a report file
/// that says otherwise is refused as it is read, like `--shard`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "ShardFields")]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// A shard as a report file spells it, before [`Shard::new`] checks it.
#[derive(Deserialize)]
struct ShardFields {
    index: u32,
    count: u32,
}

impl TryFrom<ShardFields> for Shard {
    type Error = String;

    fn try_from(fields: ShardFields) -> Result<Shard, String> {
        Shard::new(fields.index, fields.count)
    }
}

impl Shard {
    /// The whole run, unsplit.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`. Errors unless `index < count` (so `count`
    /// is at least 1).
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".to_string());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range: shards of {count} are 0/{count} to {}/{count}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// How many of the indices `0..cases` are this shard's.
    pub fn positions(self, cases: u64) -> u64 {
        let (index, count) = (u64::from(self.index), u64::from(self.count));
        if cases <= index {
            0
        } else {
            (cases - index).div_ceil(count)
        }
    }

    /// The case index of this shard's position `position`.
    pub fn case_index(self, position: u64) -> u64 {
        u64::from(self.index) + position * u64::from(self.count)
    }

    /// How many of this shard's indices are `<= through`.
    fn covered(self, through: Option<u64>) -> u64 {
        through.map_or(0, |through| self.positions(through + 1))
    }

    /// How many of this shard's first `positions` positions have a case
    /// index `≡ slot (mod slots)`. Counted over one period of the indices
    /// mod `slots` (at most `slots` positions), never position by position:
    /// `kvsim merge` reads `positions` from a report file, where it may be
    /// in the billions.
    fn positions_in_slot(self, positions: u64, slot: usize, slots: usize) -> u64 {
        let (slot, slots) = (slot as u64, slots as u64);
        if slots == 0 {
            return 0;
        }
        // Position p's index mod `slots` repeats every `period` positions.
        let period = slots / gcd(u64::from(self.count) % slots, slots);
        let (whole, rest) = (positions / period, positions % period);
        (0..period.min(positions))
            .filter(|&p| self.case_index(p) % slots == slot)
            .map(|p| whole + u64::from(p < rest))
            .sum()
    }

    /// This shard's first index past `through` (its first index when
    /// `through` is `None`); `through` is one of its indices.
    fn next_after(self, through: Option<u64>) -> u64 {
        through.map_or(u64::from(self.index), |t| t + u64::from(self.count))
    }
}

/// The greatest common divisor (`gcd(0, n) = n`).
fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `i/n` with `0 <= i < n`.
    fn from_str(text: &str) -> Result<Shard, String> {
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not a shard: expected i/n, e.g. 0/3"))?;
        let index: u32 = index
            .parse()
            .map_err(|e| format!("{text:?}: shard index {index:?}: {e}"))?;
        let count: u32 = count
            .parse()
            .map_err(|e| format!("{text:?}: shard count {count:?}: {e}"))?;
        Shard::new(index, count).map_err(|e| format!("{text:?}: {e}"))
    }
}

/// A fault budget, as `--faults` writes it: at most `n` faults of each
/// listed kind per case (`kill:2,stray:1`), `none`, or the library's
/// default set (`default`: 0 to 3 faults per case, of every kind, a random
/// subset of kinds per case).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultBudget {
    Default,
    Caps(Vec<(FaultKind, usize)>),
}

impl FaultBudget {
    /// `generator` with this budget.
    pub fn apply(&self, generator: GenConfig) -> GenConfig {
        match self {
            FaultBudget::Default => generator,
            FaultBudget::Caps(caps) => generator.with_fault_budget(caps),
        }
    }
}

impl FromStr for FaultBudget {
    type Err = String;

    fn from_str(text: &str) -> Result<FaultBudget, String> {
        match text {
            "default" => return Ok(FaultBudget::Default),
            "none" => return Ok(FaultBudget::Caps(Vec::new())),
            _ => {}
        }
        let mut caps: Vec<(FaultKind, usize)> = Vec::new();
        for item in text.split(',') {
            let (kind, n) = item.split_once(':').ok_or_else(|| {
                format!("{item:?} is not KIND:N (e.g. kill:2); or give `none` or `default`")
            })?;
            let kind: FaultKind = kind.parse()?;
            let n: usize = n
                .parse()
                .map_err(|e| format!("{item:?}: {n:?} is not a count: {e}"))?;
            if caps.iter().any(|(k, _)| *k == kind) {
                return Err(format!("fault kind {} is given twice", kind.name()));
            }
            caps.push((kind, n));
        }
        Ok(FaultBudget::Caps(caps))
    }
}

impl fmt::Display for FaultBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultBudget::Default => f.write_str("default"),
            FaultBudget::Caps(caps) if caps.iter().all(|&(_, n)| n == 0) => f.write_str("none"),
            FaultBudget::Caps(caps) => {
                let items: Vec<String> = caps
                    .iter()
                    .filter(|&&(_, n)| n > 0)
                    .map(|(kind, n)| format!("{}:{n}", kind.name()))
                    .collect();
                f.write_str(&items.join(","))
            }
        }
    }
}

/// How to explore: the one configuration type behind every front end, and
/// the owner of every default. Case `i` depends only on `seed`,
/// `generator` and `i`; `threads`, `shard`, `max_time`, `stop` and `out`
/// decide where and how long cases run, never what they find.
#[derive(Clone, Debug)]
pub struct ExploreConfig {
    /// Cases to run (`--runs`): indices `0..cases`.
    pub cases: u32,
    /// Case `i` is a pure function of (`seed`, `i`).
    pub seed: u64,
    /// The shape of generated cases: clients, commands, faults, the schedule
    /// portfolio, or a fixed script whose faults and schedules vary.
    pub generator: GenConfig,
    /// Properties, limits and property 4's bound.
    pub check: CheckConfig,
    /// Which property the shrinker keeps.
    pub shrink_to: ShrinkTarget,
    /// How a counterexample is shrunk.
    pub shrink: ShrinkConfig,
    /// Threads running cases (at least 1).
    pub threads: usize,
    /// Which indices this process runs.
    pub shard: Shard,
    /// Run every case and report the lowest failing index of every
    /// property that broke, instead of stopping at the first.
    pub keep_going: bool,
    /// Run every case twice, traced, and report the first case whose two
    /// runs differ (a registry that is not a pure function of its inputs).
    pub check_determinism: bool,
    /// Stop handing out cases after this long (the report then says the
    /// highest index covered, so the run can be repeated exactly with
    /// `cases`).
    pub max_time: Option<Duration>,
    /// A stop request (`kvsim explore` passes the flag Ctrl-C sets): once
    /// it reads `true`, no more cases are handed out, the ones running
    /// finish, and the report covers the highest index completed with
    /// every lower one, as when `max_time` is spent; its `stopped_by` is
    /// `interrupted`. Polled before each case, so a flag set before the
    /// run starts runs no case.
    pub stop: Option<&'static AtomicBool>,
    /// The registry's name in reports and case files (a built-in stage's
    /// name makes the replay line a `kvsim replay` command).
    pub registry: String,
    /// Where shrunk failures are saved as case files (none: not saved).
    pub out: Option<PathBuf>,
}

impl ExploreConfig {
    /// The library's default number of cases ([`check_registry`](crate::check::check_registry)
    /// in a `cargo test`): enough that the deep "stale `DOWN`" races (a lost
    /// restart needs a `CREATE`, a stop and a second `CREATE` of one name,
    /// then the second overtaking the `DOWN`; about 1 case in 600 of the
    /// default generator) are found on every seed, and a search that
    /// passes stays around a second in a release build.
    pub const DEFAULT_CASES: u32 = 10_000;
    /// `kvsim explore`'s default `--runs`: ten times the library's, for a
    /// run on all cores.
    pub const DEFAULT_RUNS_CLI: u32 = 100_000;
    /// How many distinct outcomes per strategy the report keeps (the ones
    /// first seen at the lowest indices); past it the count reads "at
    /// least".
    pub const OUTCOMES_KEPT: usize = 1_000;
    /// Where `kvsim explore` saves failures unless `--out` says otherwise.
    pub const OUT_DEFAULT: &'static str = "kvsim-failures";

    /// The default thread count: every core
    /// (`std::thread::available_parallelism`, 1 if unknown).
    pub fn all_cores() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from)
    }

    /// A text that identifies everything that decides what a case is and
    /// how it is checked and shrunk (not threads, shard, time or where
    /// files go); [`ExploreConfig::hash`] is its FNV-1a.
    pub fn canonical(&self) -> String {
        let g = &self.generator;
        let c = &self.check;
        format!(
            "kvsim {}\nregistry {:?}\nseed {}\ncases {}\n\
             clients {:?}\ncommands {:?}\nfaults {:?}\noverrides {:?}\nstrategies {:?}\n\
             names {:?}\nkeys {:?}\ncommand kinds {:?}\nfault kinds {:?}\nswarm {}\n\
             fault caps {:?}\nscript {:?}\n\
             properties {:?}\nmodel {:?}\nlinearizability bound {}\nlimits {:?}\n\
             shrink to {:?}\nshrink {:?}\nkeep going {}\ncheck determinism {}\n",
            env!("CARGO_PKG_VERSION"),
            self.registry,
            self.seed,
            self.cases,
            g.clients,
            g.commands_per_client,
            g.faults,
            g.overrides,
            g.strategies,
            g.names,
            g.keys,
            g.command_kinds,
            g.fault_kinds,
            g.swarm,
            g.fault_caps,
            g.script,
            c.properties,
            c.model,
            c.linearizability_states_max,
            c.limits,
            self.shrink_to,
            self.shrink,
            self.keep_going,
            self.check_determinism,
        )
    }

    /// The configuration's hash: FNV-1a (64 bits) of
    /// [`ExploreConfig::canonical`]. Shards must agree on it to be merged.
    pub fn hash(&self) -> u64 {
        fnv1a(self.canonical().as_bytes())
    }

    /// The strategy kinds case indices rotate over: case `i` draws its
    /// schedule from the `i mod len`-th.
    pub fn portfolio(&self) -> Vec<StrategyKind> {
        if self.generator.strategies.is_empty() {
            StrategyKind::PORTFOLIO.to_vec()
        } else {
            self.generator.strategies.clone()
        }
    }
}

impl Default for ExploreConfig {
    /// [`ExploreConfig::DEFAULT_CASES`] cases (or `PROPTEST_CASES` when
    /// set), seed 0, the default generator (its schedules rotate over
    /// [`StrategyKind::PORTFOLIO`]: generated overrides, random walk, POS,
    /// PCT with d in 1..=3; 0 to 3 faults of every kind), all six
    /// properties, the default [`ShrinkConfig`], every core, the whole run,
    /// stop at the first failure, no time budget, no stop request, failures
    /// not saved.
    fn default() -> ExploreConfig {
        ExploreConfig {
            cases: std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|cases| cases.parse().ok())
                .unwrap_or(ExploreConfig::DEFAULT_CASES),
            seed: 0,
            generator: GenConfig::default(),
            check: CheckConfig::default(),
            shrink_to: ShrinkTarget::default(),
            shrink: ShrinkConfig::default(),
            threads: ExploreConfig::all_cores(),
            shard: Shard::WHOLE,
            keep_going: false,
            check_determinism: false,
            max_time: None,
            stop: None,
            registry: ReplayOptions::REGISTRY_NAME_DEFAULT.to_string(),
            out: None,
        }
    }
}

/// FNV-1a, 64 bits: a hash that is the same on every run and machine.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// What the explorer tells a progress display, from any thread.
pub trait Progress: Sync {
    /// One more case ran; `failed` if a property broke in it (or its two
    /// runs differed).
    fn case_done(&self, _failed: bool) {}
    /// Every case has run; the failures reported are being shrunk.
    fn shrinking(&self) {}
}

/// No display.
pub struct Silent;

impl Progress for Silent {}

/// Two runs of one case that differ: the first line where they do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    /// The case's index.
    pub index: u64,
    /// `trace` or `dialogue`.
    pub what: String,
    /// The line's number (from 1).
    pub line: u64,
    /// The line in the first run (empty past its end).
    pub first: String,
    /// The line in the second run.
    pub second: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "case {} is not deterministic: its two runs differ at {} line {}\n  first:  {}\n  second: {}",
            self.index, self.what, self.line, self.first, self.second
        )
    }
}

/// A property as a report names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureText {
    /// `P1 lookup-is-alive`.
    pub property: String,
    /// The event at which it broke.
    pub step: u64,
    pub detail: String,
}

impl From<&Failure> for FailureText {
    fn from(failure: &Failure) -> FailureText {
        FailureText {
            property: failure.property.to_string(),
            step: failure.step,
            detail: failure.detail.clone(),
        }
    }
}

/// A property that broke, at its lowest failing index, shrunk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExploreFailure {
    /// The lowest case index at which the property broke (first).
    pub index: u64,
    /// How that case broke, before shrinking.
    pub found: FailureText,
    /// How the shrunk case breaks.
    pub shrunk: FailureText,
    /// The shrunk case, as its case file holds it (explicit overrides).
    pub case: serde_json::Value,
    /// The shrunk case's trace, as text.
    pub trace: String,
    /// Where the case was saved (`None`: not saved).
    pub case_file: Option<String>,
    /// The one line that replays it (with a case file).
    pub replay: Option<String>,
    /// Why the case file could not be saved (`None`: saved, or not asked).
    #[serde(default)]
    pub save_error: Option<String>,
    /// The failure report, as printed: property, case file, case, trace and
    /// the replay line.
    pub report: String,
    /// The counterexample itself, in the process that shrank it (not in a
    /// report read back from JSON).
    #[serde(skip)]
    pub counterexample: Option<Counterexample>,
}

/// Distinct outcomes seen under one strategy of the portfolio.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// The strategy kind (`random`, `pct(d<=3)`, …).
    pub strategy: String,
    /// Cases run with it.
    pub cases: u64,
    /// Distinct outcomes: the dialogue, the registry's final names, the
    /// property that broke, an undecided property 4 and a limit hit, as
    /// the exhaustive oracle compares runs.
    pub distinct_outcomes: u64,
    /// `distinct_outcomes` is a floor: more were seen than the report keeps.
    pub at_least: bool,
    /// The outcomes kept: (index first seen, FNV-1a of the outcome as hex),
    /// lowest index first; what [`merge`] unites.
    pub outcomes: Vec<(u64, String)>,
}

/// Cases that ran to no verdict, by index.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoVerdict {
    /// Every such index, ascending.
    pub indices: Vec<u64>,
    /// The first one, and why (the bound or the limit hit).
    pub first: Option<String>,
}

/// The result: identical for any thread count and any split into shards
/// that is then merged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExploreResult {
    /// `held`, `failed`, `nondeterministic`, `no verdict` (undecided or cut
    /// cases, nothing broken) or `stopped` (a time budget or an interrupt
    /// ended the run before its last case; nothing broken in what ran).
    pub verdict: String,
    /// Cases covered: every index `<= through` (of this shard, for a
    /// shard's own report).
    pub cases_run: u64,
    /// The highest index covered: the lowest failing one when the run
    /// stopped there.
    pub through: Option<u64>,
    /// Every index up to the last one asked for is covered, or the run
    /// stopped at a failure (not by time or an interrupt).
    pub complete: bool,
    /// The properties that broke, each at its lowest index (one unless
    /// keep-going), shrunk.
    pub failures: Vec<ExploreFailure>,
    /// The lowest case whose two runs differed (`--check-determinism`).
    pub nondeterministic: Option<Divergence>,
    /// Cases where property 4 could not decide.
    pub undecided: NoVerdict,
    /// Cases cut by a limit.
    pub cut: NoVerdict,
    /// Distinct outcomes per strategy of the portfolio.
    pub coverage: Vec<Coverage>,
}

/// Wall time and speed of this process (or, merged, of the slowest shard
/// and all shards together): varies from run to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub wall_ms: u64,
    /// Cases run by this process (including any past the lowest failure),
    /// per second of wall time.
    pub cases_per_s: f64,
}

/// How the work ran: varies with threads and sharding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Threads (for a merged report, the largest of the shards').
    pub threads: usize,
    /// This process's shard (`0/1` unsplit; for a merged report, `0/n`
    /// with `shards` listing each).
    pub shard: Shard,
    /// Cases this process ran, including any past the lowest failure.
    pub cases_executed: u64,
    /// The highest index this process completed with every lower one of
    /// its indices completed too.
    pub completed_through: Option<u64>,
    /// Its lowest failing index (a broken property or a divergence).
    pub lowest_failing: Option<u64>,
    /// Why it stopped before its last index: `failure`, `max-time`,
    /// `interrupted` (the stop request, [`ExploreConfig::stop`]); none: it
    /// ran them all.
    pub stopped_by: Option<String>,
    /// For a merged report: each shard's own run section.
    pub shards: Vec<RunInfo>,
}

/// [`RunInfo::stopped_by`]'s values.
const STOPPED_BY_FAILURE: &str = "failure";
const STOPPED_BY_MAX_TIME: &str = "max-time";
const STOPPED_BY_INTERRUPT: &str = "interrupted";

impl RunInfo {
    /// Whether the stop request ([`ExploreConfig::stop`], Ctrl-C in
    /// `kvsim explore`) ended the run before its last index.
    pub fn interrupted(&self) -> bool {
        self.stopped_by.as_deref() == Some(STOPPED_BY_INTERRUPT)
    }

    /// Why the run stopped early, in words (none: it ran every index, or
    /// stopped at a failure, which the report shows anyway).
    fn early_stop(&self) -> Option<&'static str> {
        match self.stopped_by.as_deref()? {
            STOPPED_BY_MAX_TIME => Some("the time budget (--max-time)"),
            STOPPED_BY_INTERRUPT => Some("Ctrl-C (interrupt)"),
            _ => None,
        }
    }
}

/// What [`explore`] found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExploreReport {
    /// The report format's version ([`REPORT_FORMAT_VERSION`]).
    pub kvsim_explore_report: u32,
    pub registry: String,
    pub seed: u64,
    /// Cases asked for (`--runs`).
    pub cases: u32,
    /// FNV-1a of the configuration ([`ExploreConfig::hash`]), 16 hex digits.
    pub config_hash: String,
    /// The configuration in a line: schedules, faults, properties, shape.
    pub config: String,
    /// Every case ran, and every property's lowest failure is reported
    /// (`--keep-going`), rather than stopping at the first.
    pub keep_going: bool,
    pub result: ExploreResult,
    pub timing: Timing,
    pub run: RunInfo,
    /// What the cases covered, as a search summary (in the process that
    /// ran them).
    #[serde(skip)]
    pub summary: SearchSummary,
}

impl ExploreReport {
    /// The exit status of the command line's table: 4 nondeterministic,
    /// 1 a property broke, 3 no verdict (undecided, cut, or stopped early),
    /// 0 every property held in every case asked for. (130, interrupted,
    /// is the front end's, from [`RunInfo::interrupted`].)
    pub fn exit_code(&self) -> u8 {
        match self.result.verdict.as_str() {
            "nondeterministic" => 4,
            "failed" => 1,
            "held" => 0,
            _ => 3,
        }
    }

    /// Whether a property broke.
    pub fn failed(&self) -> bool {
        !self.result.failures.is_empty()
    }

    /// The first (lowest-index) failure's counterexample, in the process
    /// that shrank it.
    pub fn counterexample(&self) -> Option<&Counterexample> {
        self.result
            .failures
            .first()
            .and_then(|f| f.counterexample.as_ref())
    }

    /// The report as JSON (what `kvsim merge` reads).
    pub fn to_json(&self) -> String {
        // Plain strings, numbers and maps: cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a report's JSON text, as `kvsim merge` does: JSON, with a
    /// `"kvsim_explore_report"` version this kvsim reads, of the report's
    /// shape. The error is the message `kvsim merge` prints after the
    /// file's name.
    pub fn from_json(text: &str) -> Result<ExploreReport, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        match value
            .get("kvsim_explore_report")
            .and_then(serde_json::Value::as_u64)
        {
            Some(v) if v == u64::from(REPORT_FORMAT_VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "explore report format {v}, this kvsim reads {REPORT_FORMAT_VERSION}"
                ));
            }
            None => {
                return Err("not a kvsim explore report (no \"kvsim_explore_report\" version; write one with kvsim explore --json)".to_string());
            }
        }
        let report: ExploreReport = serde_json::from_value(value)
            .map_err(|e| format!("not a valid explore report: {e}"))?;
        report.check_indices()?;
        Ok(report)
    }

    /// Every case index the report names is one of the `cases` asked for:
    /// `kvsim merge` counts and steps through indices, and an index no run
    /// could have given (a hand-edited or damaged file) would make its
    /// arithmetic meaningless.
    fn check_indices(&self) -> Result<(), String> {
        let cases = u64::from(self.cases);
        let result = &self.result;
        let mut named: Vec<(&str, u64)> = Vec::new();
        named.extend(result.through.map(|i| ("result.through", i)));
        named.extend(
            result
                .failures
                .iter()
                .map(|f| ("a failure's index", f.index)),
        );
        named.extend(
            result
                .nondeterministic
                .as_ref()
                .map(|d| ("result.nondeterministic.index", d.index)),
        );
        named.extend(
            result
                .undecided
                .indices
                .iter()
                .map(|&i| ("result.undecided.indices", i)),
        );
        named.extend(
            result
                .cut
                .indices
                .iter()
                .map(|&i| ("result.cut.indices", i)),
        );
        for coverage in &result.coverage {
            named.extend(
                coverage
                    .outcomes
                    .iter()
                    .map(|(i, _)| ("a coverage outcome's index", *i)),
            );
        }
        // Each index belongs to the shard that ran it: the result's to the
        // report's own shard, each run section's to its own. The merge
        // steps from one index of a shard to the next, so an index of
        // another shard would shift every count after it.
        let mut owned: Vec<(&str, u64, Shard)> = named
            .into_iter()
            .map(|(field, index)| (field, index, self.run.shard))
            .collect();
        let mut runs = vec![&self.run];
        while let Some(run) = runs.pop() {
            owned.extend(
                run.completed_through
                    .map(|i| ("run.completed_through", i, run.shard)),
            );
            owned.extend(
                run.lowest_failing
                    .map(|i| ("run.lowest_failing", i, run.shard)),
            );
            runs.extend(&run.shards);
        }
        for (field, index, shard) in owned {
            if index >= cases {
                return Err(format!(
                    "not a valid explore report: {field} is case {index}, but the run asked for {cases} cases (0 to {})",
                    cases.saturating_sub(1)
                ));
            }
            if index % u64::from(shard.count) != u64::from(shard.index) {
                return Err(format!(
                    "not a valid explore report: {field} is case {index}, which shard {shard} does not run (its cases are those equal to {} mod {})",
                    shard.index, shard.count
                ));
            }
        }
        Ok(())
    }

    /// The report with its varying sections (`timing`, `run`) emptied: what
    /// must be equal for any thread count and sharding.
    pub fn without_timing_and_run(&self) -> ExploreReport {
        ExploreReport {
            timing: Timing {
                wall_ms: 0,
                cases_per_s: 0.0,
            },
            run: RunInfo {
                threads: 0,
                shard: Shard::WHOLE,
                cases_executed: 0,
                completed_through: None,
                lowest_failing: None,
                stopped_by: None,
                shards: Vec::new(),
            },
            summary: SearchSummary::default(),
            ..self.clone()
        }
    }
}

impl fmt::Display for ExploreReport {
    /// The result first (the verdict, each failure's report, no-verdict
    /// cases, coverage), then `--- timing` and `--- run`: everything
    /// before `--- timing` is the same for any thread count and split.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.result;
        writeln!(
            f,
            "kvsim explore: registry {}, seed {}, {} cases asked, config {}",
            self.registry, self.seed, self.cases, self.config_hash
        )?;
        writeln!(f, "  {}", self.config)?;
        let range = match r.through {
            Some(through) => format!("cases 0..={through}"),
            None => "no case".to_string(),
        };
        match r.verdict.as_str() {
            "held" => writeln!(f, "all properties hold in {} cases ({range})", r.cases_run)?,
            "failed" if r.failures.len() == 1 => writeln!(
                f,
                "property {} broke in case {} ({} cases run, {range})",
                r.failures[0].found.property, r.failures[0].index, r.cases_run
            )?,
            "failed" => writeln!(
                f,
                "{} properties broke ({} cases run, {range})",
                r.failures.len(),
                r.cases_run
            )?,
            "nondeterministic" => writeln!(
                f,
                "the registry is not deterministic ({} cases run, {range})",
                r.cases_run
            )?,
            "stopped" => {
                let by = self
                    .run
                    .early_stop()
                    .map_or(String::new(), |why| format!(" by {why}"));
                match r.through {
                    Some(through) => writeln!(
                        f,
                        "stopped early{by}: no property broke in {} cases ({range}); repeat exactly with --runs {}",
                        r.cases_run,
                        through + 1
                    )?,
                    None => writeln!(f, "stopped early{by}: no case completed")?,
                }
            }
            _ => writeln!(
                f,
                "no property broke in {} cases ({range}), but not all are known to hold",
                r.cases_run
            )?,
        }
        if let Some(divergence) = &r.nondeterministic {
            writeln!(f, "{divergence}")?;
        }
        for failure in &r.failures {
            writeln!(
                f,
                "--- failure: {} first broke in case {}",
                failure.found.property, failure.index
            )?;
            f.write_str(&failure.report)?;
            if !failure.report.ends_with('\n') {
                writeln!(f)?;
            }
        }
        for (name, cases) in [("undecided", &r.undecided), ("cut by a limit", &r.cut)] {
            if let Some(first) = &cases.first {
                writeln!(
                    f,
                    "{} cases {name} (first: case {first})",
                    cases.indices.len()
                )?;
            }
        }
        writeln!(f, "coverage (distinct outcomes per strategy):")?;
        for coverage in &r.coverage {
            writeln!(
                f,
                "  {:<12} {:>9} cases {}{:>7} distinct outcomes",
                coverage.strategy,
                coverage.cases,
                if coverage.at_least { ">=" } else { "  " },
                coverage.distinct_outcomes
            )?;
        }
        writeln!(f, "--- timing")?;
        writeln!(
            f,
            "wall {:.3} s, {:.0} cases/s",
            self.timing.wall_ms as f64 / 1000.0,
            self.timing.cases_per_s
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

fn write_run(f: &mut fmt::Formatter<'_>, run: &RunInfo) -> fmt::Result {
    let opt = |v: Option<u64>| v.map_or("none".to_string(), |v| v.to_string());
    writeln!(
        f,
        "threads {}, shard {}, {} cases executed, completed through {}, lowest failing {}{}",
        run.threads,
        run.shard,
        run.cases_executed,
        opt(run.completed_through),
        opt(run.lowest_failing),
        run.stopped_by.as_ref().map_or(String::new(), |s| format!(
            ", stopped by {}",
            run.early_stop().unwrap_or(s)
        ))
    )
}

/// The outcomes kept per strategy: each distinct outcome's hash with the
/// lowest index it was seen at, the [`ExploreConfig::OUTCOMES_KEPT`]
/// lowest-indexed only. Keeping the lowest makes the set mergeable: the
/// union of the shards' (or threads') kept sets, cut to the lowest again,
/// is the set an unsplit run keeps.
#[derive(Clone, Debug, Default)]
struct Outcomes {
    by_hash: BTreeMap<u64, u64>,
    by_index: BTreeMap<u64, u64>,
    /// Some outcome was dropped for the cap.
    dropped: bool,
}

impl Outcomes {
    fn see(&mut self, hash: u64, index: u64) {
        if let Some(&seen) = self.by_hash.get(&hash) {
            if seen <= index {
                return;
            }
            self.by_index.remove(&seen);
        }
        self.by_hash.insert(hash, index);
        self.by_index.insert(index, hash);
        if self.by_index.len() > ExploreConfig::OUTCOMES_KEPT
            && let Some((_, hash)) = self.by_index.pop_last()
        {
            self.by_hash.remove(&hash);
            self.dropped = true;
        }
    }

    fn absorb(&mut self, other: Outcomes) {
        for (index, hash) in other.by_index {
            self.see(hash, index);
        }
        self.dropped |= other.dropped;
    }
}

/// One thread's (then, absorbed, one process's) results.
#[derive(Default)]
struct Tally {
    failures: BTreeMap<Property, (u64, Failure)>,
    nondeterministic: Option<Divergence>,
    undecided: BTreeMap<u64, Undecided>,
    cut: BTreeMap<u64, String>,
    coverage: Vec<Outcomes>,
}

impl Tally {
    fn new(slots: usize) -> Tally {
        Tally {
            coverage: vec![Outcomes::default(); slots],
            ..Tally::default()
        }
    }

    fn lowest_failing(&self) -> Option<u64> {
        let failure = self.failures.values().map(|(index, _)| *index).min();
        let divergence = self.nondeterministic.as_ref().map(|d| d.index);
        failure.into_iter().chain(divergence).min()
    }

    fn fail(&mut self, index: u64, failure: Failure) {
        match self.failures.get(&failure.property) {
            Some((seen, _)) if *seen <= index => {}
            _ => {
                self.failures.insert(failure.property, (index, failure));
            }
        }
    }

    fn diverge(&mut self, divergence: Divergence) {
        if self
            .nondeterministic
            .as_ref()
            .is_none_or(|d| divergence.index < d.index)
        {
            self.nondeterministic = Some(divergence);
        }
    }

    fn absorb(&mut self, other: Tally) {
        for (index, failure) in other.failures.into_values() {
            self.fail(index, failure);
        }
        if let Some(divergence) = other.nondeterministic {
            self.diverge(divergence);
        }
        self.undecided.extend(other.undecided);
        self.cut.extend(other.cut);
        for (mine, theirs) in self.coverage.iter_mut().zip(other.coverage) {
            mine.absorb(theirs);
        }
    }
}

/// The hash of what a run came to (see [`Coverage::distinct_outcomes`]).
fn outcome_hash(run: &CaseRun) -> u64 {
    let mut text = String::with_capacity(run.dialogue.len() + 64);
    text.push_str(&run.dialogue);
    text.push('\0');
    match &run.final_names {
        None => text.push_str("dead"),
        Some(names) => {
            for (name, bucket) in names {
                text.push_str(name);
                text.push('=');
                text.push_str(bucket);
                text.push('\0');
            }
        }
    }
    text.push('\0');
    for failure in &run.failures {
        text.push_str(&failure.property.number.to_string());
        text.push(',');
    }
    if run.undecided.is_some() {
        text.push_str("\0undecided");
    }
    if let Outcome::Limit { name, value } = run.outcome {
        text.push_str(&format!("\0limit {name} {value}"));
    }
    fnv1a(text.as_bytes())
}

/// The first line where two texts differ, with both lines.
fn first_difference(first: &str, second: &str) -> Option<(u64, String, String)> {
    let mut a = first.lines();
    let mut b = second.lines();
    let mut line = 0;
    loop {
        line += 1;
        match (a.next(), b.next()) {
            (None, None) => return None,
            (x, y) if x == y => continue,
            (x, y) => {
                return Some((
                    line,
                    x.unwrap_or("(end of run)").to_string(),
                    y.unwrap_or("(end of run)").to_string(),
                ));
            }
        }
    }
}

/// Runs `case` twice, traced, and compares the traces, then the dialogues.
fn check_determinism(
    case: &Case,
    index: u64,
    registry: &RegistryFactory<'_>,
    config: &CheckConfig,
) -> (CaseRun, Option<Divergence>) {
    let traced = CheckConfig {
        tracing: true,
        ..config.clone()
    };
    let first = run_case(case, registry, &traced);
    let second = run_case(case, registry, &traced);
    let text = |run: &CaseRun| run.trace.as_ref().map(|t| t.to_text()).unwrap_or_default();
    let difference = first_difference(&text(&first), &text(&second))
        .map(|d| ("trace", d))
        .or_else(|| first_difference(&first.dialogue, &second.dialogue).map(|d| ("dialogue", d)));
    let divergence = difference.map(|(what, (line, a, b))| Divergence {
        index,
        what: what.to_string(),
        line,
        first: a,
        second: b,
    });
    (first, divergence)
}

#[allow(clippy::disallowed_methods)] // timing only: never shapes a run
fn now() -> Instant {
    Instant::now()
}

/// Runs the cases of `config` against `registry` on `config.threads`
/// threads and reports, as [`explore_with`] with no progress display.
pub fn explore(registry: &RegistryFactory<'_>, config: &ExploreConfig) -> ExploreReport {
    explore_with(registry, config, &Silent)
}

/// Runs this shard's cases of `config` against `registry` on
/// `config.threads` threads, telling `progress` of each, then shrinks the
/// failures the report names (one thread) and saves them in `config.out`.
///
/// A case whose generation fails (a generator that cannot produce a case)
/// ends the run there, as a search that ran out of cases.
pub fn explore_with(
    registry: &RegistryFactory<'_>,
    config: &ExploreConfig,
    progress: &dyn Progress,
) -> ExploreReport {
    let started = now();
    let deadline = config.max_time.map(|budget| started + budget);
    let shard = config.shard;
    let positions = shard.positions(u64::from(config.cases));
    let portfolio = config.portfolio();
    let slots = portfolio.len();
    let dispenser = Dispenser::new(positions);
    let sink = Sink::new(Tally::new(slots));
    let stopped_by: Sink<Option<&'static str>> = Sink::new(None);
    let quiet = CheckConfig {
        tracing: false,
        ..config.check.clone()
    };
    let worker = || {
        let source = CaseSource::new(config);
        let mut tally = Tally::new(slots);
        loop {
            // Only a stop that leaves cases unrun is one: a request that
            // comes after the last case was handed out changes nothing.
            let early = || dispenser.taken() < positions;
            if config.stop.is_some_and(|stop| stop.load(Ordering::Relaxed)) && early() {
                stopped_by.with(|s| *s = s.or(Some(STOPPED_BY_INTERRUPT)));
                dispenser.stop();
            } else if deadline.is_some_and(|deadline| now() >= deadline) && early() {
                stopped_by.with(|s| *s = s.or(Some(STOPPED_BY_MAX_TIME)));
                dispenser.stop();
            }
            let Some(position) = dispenser.take() else {
                break;
            };
            let index = shard.case_index(position);
            let Some(case) = source.case(index as u32) else {
                dispenser.stop_at(position);
                break;
            };
            let (run, divergence) = if config.check_determinism {
                check_determinism(&case, index, registry, &quiet)
            } else {
                (run_case_searching(&case, registry, &quiet), None)
            };
            tally.coverage[index as usize % slots].see(outcome_hash(&run), index);
            let broken = run.failure.is_some() || divergence.is_some();
            if let Some(divergence) = divergence {
                tally.diverge(divergence);
            }
            match run.verdict() {
                crate::check::Verdict::Broken(failure) => tally.fail(index, failure),
                crate::check::Verdict::Cut { limit, value } => {
                    tally.cut.insert(index, format!("{limit} {value}"));
                }
                crate::check::Verdict::Undecided(undecided) => {
                    tally.undecided.insert(index, undecided);
                }
                crate::check::Verdict::Holds => {}
            }
            if broken && !config.keep_going {
                dispenser.stop_at(position + 1);
                stopped_by.with(|s| *s = s.or(Some(STOPPED_BY_FAILURE)));
            }
            progress.case_done(broken);
        }
        sink.with(|all| all.absorb(tally));
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
    let tally = sink.into_inner();
    let executed = dispenser.taken().min(positions);
    let stopped_by = stopped_by.into_inner();
    let completed_through = executed.checked_sub(1).map(|p| shard.case_index(p));
    // What the report covers: every index of this shard up to the lowest
    // failure, or up to the last completed.
    let lowest_failing = tally.lowest_failing();
    let through = match lowest_failing {
        Some(lowest) if !config.keep_going => Some(lowest),
        _ => completed_through,
    };
    let complete = match through {
        _ if lowest_failing.is_some() && !config.keep_going => true,
        Some(through) => shard.covered(Some(through)) == positions,
        None => positions == 0,
    };
    let failures: Vec<(u64, Failure)> = tally
        .failures
        .values()
        .filter(|(index, _)| through.is_some_and(|t| *index <= t))
        .filter(|(index, _)| config.keep_going || Some(*index) == lowest_failing)
        .cloned()
        .collect();
    let mut failures_sorted = failures;
    failures_sorted.sort_by_key(|(index, _)| *index);
    let nondeterministic = tally
        .nondeterministic
        .clone()
        .filter(|d| through.is_some_and(|t| d.index <= t));
    let within = |index: &u64| through.is_some_and(|t| *index <= t);
    let summary = SearchSummary {
        cases: 0,
        undecided: 0,
        cut: 0,
        first_undecided: None,
        first_cut: None,
    };
    let mut summary = summary;
    for (index, undecided) in tally.undecided.iter().filter(|(i, _)| within(i)) {
        summary.undecided += 1;
        summary
            .first_undecided
            .get_or_insert((*index as u32, undecided.clone()));
    }
    for (index, limit) in tally.cut.iter().filter(|(i, _)| within(i)) {
        summary.cut += 1;
        summary
            .first_cut
            .get_or_insert((*index as u32, limit.clone()));
    }
    let cases_run = shard.covered(through);
    summary.cases = cases_run as u32;
    let no_verdict = |cases: Vec<(u64, String)>| NoVerdict {
        first: cases.first().map(|(index, why)| format!("{index}, {why}")),
        indices: cases.into_iter().map(|(index, _)| index).collect(),
    };
    let undecided = no_verdict(
        tally
            .undecided
            .iter()
            .filter(|(i, _)| within(i))
            .map(|(i, u)| (*i, u.to_string()))
            .collect(),
    );
    let cut = no_verdict(
        tally
            .cut
            .iter()
            .filter(|(i, _)| within(i))
            .map(|(i, l)| (*i, format!("LIMIT {l}")))
            .collect(),
    );
    let coverage = portfolio
        .iter()
        .enumerate()
        .map(|(slot, kind)| {
            let outcomes = &tally.coverage[slot];
            coverage_of(
                kind.to_string(),
                slot,
                slots,
                &[shard],
                through,
                outcomes
                    .by_index
                    .iter()
                    .map(|(index, hash)| (*index, *hash))
                    .collect(),
            )
        })
        .collect();
    if !failures_sorted.is_empty() {
        progress.shrinking();
    }
    let failures = failures_sorted
        .into_iter()
        .map(|(index, found)| shrunk(registry, config, index, found, &summary))
        .collect();
    let result = ExploreResult {
        verdict: String::new(),
        cases_run,
        through,
        complete,
        failures,
        nondeterministic,
        undecided,
        cut,
        coverage,
    };
    let result = ExploreResult {
        verdict: verdict_of(&result).to_string(),
        ..result
    };
    let wall = started.elapsed();
    ExploreReport {
        kvsim_explore_report: REPORT_FORMAT_VERSION,
        registry: config.registry.clone(),
        seed: config.seed,
        cases: config.cases,
        config_hash: format!("{:016x}", config.hash()),
        config: describe(config),
        keep_going: config.keep_going,
        result,
        timing: timing(wall, executed),
        run: RunInfo {
            threads,
            shard,
            cases_executed: executed,
            completed_through,
            lowest_failing,
            stopped_by: stopped_by.map(str::to_string),
            shards: Vec::new(),
        },
        summary,
    }
}

fn timing(wall: Duration, executed: u64) -> Timing {
    let seconds = wall.as_secs_f64();
    Timing {
        wall_ms: wall.as_millis() as u64,
        cases_per_s: if seconds > 0.0 {
            executed as f64 / seconds
        } else {
            0.0
        },
    }
}

/// The verdict of a result, worst first.
fn verdict_of(result: &ExploreResult) -> &'static str {
    if result.nondeterministic.is_some() {
        "nondeterministic"
    } else if !result.failures.is_empty() {
        "failed"
    } else if !result.complete {
        "stopped"
    } else if !result.undecided.indices.is_empty() || !result.cut.indices.is_empty() {
        "no verdict"
    } else {
        "held"
    }
}

/// One strategy's coverage over the indices `<= through` of `shards`,
/// from the kept outcomes `(index, hash)` of all of them.
fn coverage_of(
    strategy: String,
    slot: usize,
    slots: usize,
    shards: &[Shard],
    through: Option<u64>,
    outcomes: Vec<(u64, u64)>,
) -> Coverage {
    let mut united = Outcomes::default();
    for (index, hash) in outcomes {
        if through.is_some_and(|t| index <= t) {
            united.see(hash, index);
        }
    }
    let cases = match through {
        None => 0,
        Some(through) => shards
            .iter()
            .map(|shard| shard.positions_in_slot(shard.covered(Some(through)), slot, slots))
            .sum(),
    };
    let kept = united.by_index.len();
    Coverage {
        strategy,
        cases,
        distinct_outcomes: kept as u64,
        at_least: kept >= ExploreConfig::OUTCOMES_KEPT,
        outcomes: united
            .by_index
            .iter()
            .map(|(index, hash)| (*index, format!("{hash:016x}")))
            .collect(),
    }
}

/// Shrinks the failure found at `index` (as the one-thread search always
/// did), saves it when `config.out` says where, and renders its report.
fn shrunk(
    registry: &RegistryFactory<'_>,
    config: &ExploreConfig,
    index: u64,
    found: Failure,
    summary: &SearchSummary,
) -> ExploreFailure {
    let mut counterexample = counterexample_at(registry, config, index as u32, found);
    counterexample.before = SearchSummary {
        cases: index as u32,
        ..summary.clone()
    };
    let meta = CaseMeta::found(
        &config.registry,
        Some(counterexample.failure.property.to_string()),
        &format!(
            "kvsim explore, seed {}, case {index}, config {:016x}",
            config.seed,
            config.hash()
        ),
    );
    let saved = config.out.as_ref().map(|dir| {
        std::fs::create_dir_all(dir).and_then(|()| save_case(dir, &counterexample.case, &meta))
    });
    let mut save_error = None;
    let (case_file, replay, report) = match saved {
        Some(Ok(path)) => {
            let report =
                FailureReport::from_counterexample(&counterexample, &config.registry, path.clone())
                    .with_properties(&config.check.properties);
            (
                Some(path.display().to_string()),
                Some(report.replay_command()),
                report.to_string(),
            )
        }
        Some(Err(error)) => {
            let dir = config.out.as_deref().unwrap_or(std::path::Path::new("."));
            let why = format!("cannot save the case in {}: {error}", dir.display());
            let report = format!(
                "{counterexample}\n--- trace\n{}(not saved: {why})\n",
                counterexample.trace
            );
            save_error = Some(why);
            (None, None, report)
        }
        None => (
            None,
            None,
            format!("{counterexample}\n--- trace\n{}", counterexample.trace),
        ),
    };
    let case_text = counterexample.case.to_json(&meta);
    ExploreFailure {
        index,
        found: FailureText::from(&counterexample.found),
        shrunk: FailureText::from(&counterexample.failure),
        case: serde_json::from_str(&case_text).unwrap_or_default(),
        trace: counterexample.trace.clone(),
        case_file,
        replay,
        save_error,
        report,
        counterexample: Some(counterexample),
    }
}

/// The configuration in a line.
fn describe(config: &ExploreConfig) -> String {
    let g = &config.generator;
    let kinds: Vec<String> = config.portfolio().iter().map(ToString::to_string).collect();
    let faults = if g.fault_kinds.is_empty() || *g.faults.end() == 0 {
        "none".to_string()
    } else if g.fault_caps.is_empty() {
        let names: Vec<&str> = g.fault_kinds.iter().map(|k| k.name()).collect();
        format!(
            "{}..={} of {}",
            g.faults.start(),
            g.faults.end(),
            names.join(",")
        )
    } else {
        let caps: Vec<String> = g
            .fault_caps
            .iter()
            .map(|(k, n)| format!("{}:{n}", k.name()))
            .collect();
        caps.join(",")
    };
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
    let shape = match &g.script {
        Some(script) => format!("a script of {} clients", script.len()),
        None => format!(
            "clients {}..={}, commands {}..={}",
            g.clients.start(),
            g.clients.end(),
            g.commands_per_client.start(),
            g.commands_per_client.end()
        ),
    };
    format!(
        "schedules {}; faults {faults}; properties {properties}; {shape}; max-steps {}{}{}",
        kinds.join(","),
        config.check.limits.steps_max,
        if config.keep_going {
            "; keep going"
        } else {
            ""
        },
        if config.check_determinism {
            "; determinism checked"
        } else {
            ""
        }
    )
}

/// Why shard reports cannot be merged: `kvsim merge` exits 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeError {
    /// No report given.
    Empty,
    /// A report differs from the first in a field that must agree.
    Mismatch {
        /// Which report (from 0, in the order given).
        report: usize,
        field: &'static str,
        expected: String,
        found: String,
    },
    /// Two reports are the same shard.
    Duplicate { shard: Shard },
    /// A shard of the split has no report.
    Missing { shard: Shard },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::Empty => f.write_str("no report to merge"),
            MergeError::Mismatch {
                report,
                field,
                expected,
                found,
            } => write!(
                f,
                "report {} does not match report 1: {field} is {found}, expected {expected}",
                report + 1
            ),
            MergeError::Duplicate { shard } => write!(f, "shard {shard} is given twice"),
            MergeError::Missing { shard } => write!(f, "shard {shard} is missing"),
        }
    }
}

impl std::error::Error for MergeError {}

/// The shard reports of one split, by shard index, once each shard is
/// known to be there exactly once and every report agrees with the first
/// on the fields `agree` names (then on the shard count): the half of
/// `kvsim merge` that explore and verify reports share. `agree` gives each
/// field's name, as the error names it, and its value.
pub(crate) fn shards_of<R>(
    reports: &[R],
    shard: impl Fn(&R) -> Shard,
    agree: impl Fn(&R) -> Vec<(&'static str, String)>,
) -> Result<BTreeMap<u32, &R>, MergeError> {
    let first = reports.first().ok_or(MergeError::Empty)?;
    let count = shard(first).count;
    let fields = |r: &R| {
        let mut fields = agree(r);
        fields.push(("the shard count", shard(r).count.to_string()));
        fields
    };
    let expected = fields(first);
    for (i, report) in reports.iter().enumerate() {
        for ((field, expected), (_, found)) in expected.iter().zip(fields(report)) {
            if *expected != found {
                return Err(MergeError::Mismatch {
                    report: i,
                    field,
                    expected: expected.clone(),
                    found,
                });
            }
        }
    }
    let mut by_shard: BTreeMap<u32, &R> = BTreeMap::new();
    for report in reports {
        let shard = shard(report);
        if by_shard.insert(shard.index, report).is_some() {
            return Err(MergeError::Duplicate { shard });
        }
    }
    for index in 0..count {
        if !by_shard.contains_key(&index) {
            return Err(MergeError::Missing {
                shard: Shard { index, count },
            });
        }
    }
    Ok(by_shard)
}

/// The sum of counts read from report files, which may hold any number:
/// past `u64::MAX` it stays there rather than wrap or panic.
pub(crate) fn saturating_sum(counts: impl Iterator<Item = u64>) -> u64 {
    counts.fold(0, u64::saturating_add)
}

/// Merges the reports of every shard of one split (`--shard 0/n` to
/// `n-1/n`, in any order) into the report the unsplit run gives (outside
/// `timing` and `run`): the lowest failure of any shard, every count over
/// the indices up to it (or up to the highest index every shard covered).
/// Errors when a shard is missing or given twice, or when the reports
/// disagree on the seed, the cases asked for, the registry or the
/// configuration's hash.
pub fn merge(reports: &[ExploreReport]) -> Result<ExploreReport, MergeError> {
    let by_shard = shards_of(
        reports,
        |r| r.run.shard,
        |r| {
            vec![
                ("the report format", r.kvsim_explore_report.to_string()),
                ("the registry", r.registry.clone()),
                ("the seed", r.seed.to_string()),
                ("the cases asked", r.cases.to_string()),
                ("the config hash", r.config_hash.clone()),
            ]
        },
    )?;
    let first = &reports[0];
    let count = first.run.shard.count;
    let cases = u64::from(first.cases);
    let keep_going = first.keep_going;
    // Every index below `frontier` is covered by its shard.
    let frontier = by_shard
        .values()
        .map(|r| r.run.shard.next_after(r.result.through))
        .min()
        .unwrap_or(0)
        .min(cases);
    let failure_index = by_shard
        .values()
        .flat_map(|r| {
            r.result
                .failures
                .iter()
                .map(|f| f.index)
                .chain(r.result.nondeterministic.as_ref().map(|d| d.index))
        })
        .filter(|&index| index < frontier)
        .min();
    let through = match failure_index {
        Some(lowest) if !keep_going => Some(lowest),
        _ => frontier.checked_sub(1),
    };
    let within = |index: u64| through.is_some_and(|t| index <= t);
    let shards: Vec<Shard> = by_shard.values().map(|r| r.run.shard).collect();
    let mut failures: BTreeMap<String, ExploreFailure> = BTreeMap::new();
    for report in by_shard.values() {
        for failure in &report.result.failures {
            if !within(failure.index) || (!keep_going && Some(failure.index) != failure_index) {
                continue;
            }
            let key = failure.found.property.clone();
            if failures.get(&key).is_none_or(|f| failure.index < f.index) {
                failures.insert(key, failure.clone());
            }
        }
    }
    let mut failures: Vec<ExploreFailure> = failures.into_values().collect();
    failures.sort_by_key(|f| f.index);
    let nondeterministic = by_shard
        .values()
        .filter_map(|r| r.result.nondeterministic.clone())
        .filter(|d| within(d.index))
        .min_by_key(|d| d.index);
    let no_verdict = |pick: &dyn Fn(&ExploreResult) -> &NoVerdict| {
        let mut all: Vec<(u64, Option<String>)> = Vec::new();
        for report in by_shard.values() {
            let cases = pick(&report.result);
            for &index in cases.indices.iter().filter(|&&i| within(i)) {
                let why = cases
                    .first
                    .clone()
                    .filter(|_| cases.indices.first() == Some(&index));
                all.push((index, why));
            }
        }
        all.sort_by_key(|(index, _)| *index);
        NoVerdict {
            first: all.first().and_then(|(_, why)| why.clone()),
            indices: all.into_iter().map(|(index, _)| index).collect(),
        }
    };
    let slots = first.result.coverage.len();
    let coverage = (0..slots)
        .map(|slot| {
            let outcomes = by_shard
                .values()
                .filter_map(|r| r.result.coverage.get(slot))
                .flat_map(|c| {
                    c.outcomes.iter().filter_map(|(index, hash)| {
                        u64::from_str_radix(hash, 16).ok().map(|h| (*index, h))
                    })
                })
                .collect();
            coverage_of(
                first.result.coverage[slot].strategy.clone(),
                slot,
                slots,
                &shards,
                through,
                outcomes,
            )
        })
        .collect();
    let complete = (failure_index.is_some() && !keep_going) || frontier >= cases;
    let result = ExploreResult {
        verdict: String::new(),
        cases_run: shards.iter().map(|s| s.covered(through)).sum(),
        through,
        complete,
        failures,
        nondeterministic,
        undecided: no_verdict(&|r| &r.undecided),
        cut: no_verdict(&|r| &r.cut),
        coverage,
    };
    let result = ExploreResult {
        verdict: verdict_of(&result).to_string(),
        ..result
    };
    let wall_ms = by_shard
        .values()
        .map(|r| r.timing.wall_ms)
        .max()
        .unwrap_or(0);
    let executed = saturating_sum(by_shard.values().map(|r| r.run.cases_executed));
    let run = RunInfo {
        threads: by_shard.values().map(|r| r.run.threads).max().unwrap_or(0),
        shard: Shard { index: 0, count },
        cases_executed: executed,
        completed_through: None,
        lowest_failing: failure_index,
        stopped_by: None,
        shards: by_shard.values().map(|r| r.run.clone()).collect(),
    };
    Ok(ExploreReport {
        kvsim_explore_report: REPORT_FORMAT_VERSION,
        registry: first.registry.clone(),
        seed: first.seed,
        cases: first.cases,
        config_hash: first.config_hash.clone(),
        config: first.config.clone(),
        keep_going,
        result,
        timing: timing(Duration::from_millis(wall_ms), executed),
        run,
        summary: SearchSummary::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counting over one period gives what counting every position gives.
    #[test]
    fn positions_in_slot_counts_as_one_by_one_would() {
        for count in 1..=7 {
            for index in 0..count {
                let shard = Shard::new(index, count).expect("a shard");
                for slots in 1..=6 {
                    for positions in 0..40 {
                        for slot in 0..slots {
                            let one_by_one = (0..positions)
                                .filter(|&p| shard.case_index(p) % slots as u64 == slot as u64)
                                .count() as u64;
                            assert_eq!(
                                shard.positions_in_slot(positions, slot, slots),
                                one_by_one,
                                "shard {shard}, {positions} positions, slot {slot} of {slots}"
                            );
                        }
                    }
                }
            }
        }
    }
}
