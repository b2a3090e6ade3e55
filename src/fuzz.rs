//! The bodies of the `cargo fuzz` targets in `fuzz/`, one function per
//! target taking the fuzzer's bytes, so that each target is one line and
//! `cargo test` replays the committed corpus and every kept crash through
//! the same code on stable Rust (`tests/fuzz_corpus.rs`).
//!
//! A typed input is decoded exactly as libfuzzer-sys decodes a
//! `fuzz_target!(|input: T| ...)`: `T::arbitrary_take_rest(Unstructured::new(bytes))`;
//! bytes that do not decode are [`Outcome::Skipped`], never a crash.
//! What each target counts as a crash is an `Err(`[`Crash`]`)`; the fuzz
//! target panics with it, which libFuzzer reports and saves. A crash of a
//! simulated process is a value (an exit reason), so it never reaches
//! libFuzzer's aborting panic hook ([`crate::sim::install_panic_hook`]);
//! a panic that does is a harness bug, and a crash too.

use crate::check::bytes::{BytePicks, CaseInput};
use crate::check::verify::merge as merge_verify;
use crate::check::{
    Case, CaseMeta, CaseRun, CheckConfig, ExploreReport, P1_LOOKUP_IS_ALIVE, RunConfig, Schedule,
    Verdict, VerifyReport, merge, run_case_with, run_script,
};
use crate::kv::{Stage, script};
use crate::sim::Limits;
use crate::sim::choice::Overrides;
use arbitrary::{Arbitrary, Unstructured};
use std::fmt;
use std::path::Path;

/// What a target made of an input that is not a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The bytes do not decode into the target's input type.
    Skipped,
    /// The reader refused the input with an error (a script error, a case
    /// file error): what it must do with bad input.
    Rejected,
    /// The input was run, and nothing the target counts as a crash happened.
    Passed,
}

/// What a target counts as a crash.
#[derive(Clone, Debug)]
pub struct Crash {
    /// The target's name.
    pub target: &'static str,
    /// What went wrong.
    pub message: String,
    /// For the case targets: the case as run, its schedule written out as
    /// overrides (the tail's picks included), and its verdict.
    pub case: Option<Box<(Case, Verdict)>>,
}

impl fmt::Display for Crash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.target, self.message)?;
        if let Some((case, verdict)) = self.case.as_deref() {
            let property = match verdict {
                Verdict::Broken(failure) => Some(failure.property.to_string()),
                _ => None,
            };
            let meta = CaseMeta::found(
                stage_name(self.target),
                property,
                &format!("cargo fuzz run {}", self.target),
            );
            write!(f, "\nthe case, as a case file:\n{}", case.to_json(&meta))?;
        }
        Ok(())
    }
}

impl std::error::Error for Crash {}

fn stage_name(target: &str) -> &'static str {
    match target {
        "case_unlinked" => "unlinked",
        _ => "fixed",
    }
}

/// A fuzz target's body.
pub type Target = fn(&[u8]) -> Result<Outcome, Crash>;

/// Every target, by name (the names of `fuzz/fuzz_targets/*.rs`).
pub const TARGETS: [(&str, Target); 5] = [
    ("case_fixed", case_fixed),
    ("case_unlinked", case_unlinked),
    ("script", script),
    ("case_text", case_text),
    ("report_text", report_text),
];

/// The body of the target named `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .map(|&(_, body)| body)
}

/// Decodes a [`CaseInput`] and runs its case on `stage` with every
/// property checked: the case's overrides first, then the tail's bytes
/// picking among the enabled events ([`BytePicks`]), then `fifo`. Returns
/// the case with the schedule the run took as its override list (it
/// replays the run event for event) and the run.
pub fn run_case_input(bytes: &[u8], stage: Stage) -> Option<(Case, CaseRun)> {
    let input = CaseInput::arbitrary_take_rest(Unstructured::new(bytes)).ok()?;
    let factory = move || stage.registry();
    let chooser = Overrides::then(
        input.case.schedule.clone(),
        Box::new(BytePicks::new(input.tail)),
    );
    let run = run_case_with(
        &input.case,
        &factory,
        &CheckConfig::default(),
        Box::new(chooser),
    );
    let case = Case {
        schedule: if input.tail.is_empty() {
            input.case.schedule.clone()
        } else {
            run.schedule_taken.clone()
        },
        ..input.case
    };
    Some((case, run))
}

/// `case_fixed`: bytes → a case → a run on `fixed` with every property
/// checked. A broken property, a run cut by a limit or an undecided
/// property 4 is a crash: the fixed registry must pass every case.
pub fn case_fixed(bytes: &[u8]) -> Result<Outcome, Crash> {
    let Some((case, run)) = run_case_input(bytes, Stage::Fixed) else {
        return Ok(Outcome::Skipped);
    };
    match run.verdict() {
        Verdict::Holds => Ok(Outcome::Passed),
        verdict => Err(Crash {
            target: "case_fixed",
            message: verdict_text(&verdict),
            case: Some(Box::new((case, verdict))),
        }),
    }
}

/// `case_unlinked`: the same on `unlinked`, where only property 1 (a
/// lookup reply naming a dead bucket) is a crash: the chapter's registry
/// breaks others too, and the fuzzer is to find this one.
pub fn case_unlinked(bytes: &[u8]) -> Result<Outcome, Crash> {
    let Some((case, run)) = run_case_input(bytes, Stage::Unlinked) else {
        return Ok(Outcome::Skipped);
    };
    match run.verdict() {
        Verdict::Broken(failure) if failure.property == P1_LOOKUP_IS_ALIVE => {
            let verdict = Verdict::Broken(failure);
            Err(Crash {
                target: "case_unlinked",
                message: verdict_text(&verdict),
                case: Some(Box::new((case, verdict))),
            })
        }
        _ => Ok(Outcome::Passed),
    }
}

fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Broken(failure) => failure.to_string(),
        Verdict::Cut { limit, value } => format!("the run was cut by LIMIT {limit} {value}"),
        Verdict::Undecided(undecided) => undecided.to_string(),
        Verdict::Holds => "every property holds".to_string(),
    }
}

/// The step bound of a `script` run.
pub const SCRIPT_STEPS_MAX: u64 = 10_000;

/// `script`: bytes → the `.kv` parser → a run on `fixed` under each
/// schedule (`fifo` traced and its trace printed, then random, PCT depth
/// 3 and POS from seed 0). A script error is a rejection; a run past its
/// step bound is a crash, and so (through libFuzzer's `-timeout` and
/// `-rss_limit_mb`) are a hang and a memory blow-up.
pub fn script(bytes: &[u8]) -> Result<Outcome, Crash> {
    let Ok(parsed) = script::parse(Path::new("fuzz.kv"), bytes) else {
        return Ok(Outcome::Rejected);
    };
    for (schedule, tracing) in [
        (Schedule::Fifo, true),
        (Schedule::Random, false),
        (Schedule::Pct { depth: 3 }, false),
        (Schedule::Pos, false),
    ] {
        let config = RunConfig {
            stage: Stage::Fixed,
            schedule,
            seed: 0,
            limits: Limits {
                steps_max: SCRIPT_STEPS_MAX,
                ..Limits::default()
            },
            tracing,
        };
        let report = run_script(&parsed, &config);
        if let Some(trace) = &report.trace {
            let _ = trace.to_text();
        }
        if report.steps > SCRIPT_STEPS_MAX {
            return Err(Crash {
                target: "script",
                message: format!(
                    "under {schedule} the run took {} steps, past its bound of {SCRIPT_STEPS_MAX}",
                    report.steps
                ),
                case: None,
            });
        }
    }
    Ok(Outcome::Passed)
}

/// `case_text`: bytes → the case file reader. It may refuse them (with a
/// message), but a case it accepts must read back the same after it is
/// written (case and meta alike).
pub fn case_text(bytes: &[u8]) -> Result<Outcome, Crash> {
    let path = Path::new("fuzz.case.json");
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(Outcome::Rejected);
    };
    let Ok((case, meta)) = Case::from_json(path, text) else {
        return Ok(Outcome::Rejected);
    };
    let written = case.to_json(&meta);
    match Case::from_json(path, &written) {
        Ok((again, again_meta)) if again == case && again_meta == meta => Ok(Outcome::Passed),
        Ok(_) => Err(Crash {
            target: "case_text",
            message: format!("the case reads back differently once written:\n{written}"),
            case: None,
        }),
        Err(error) => Err(Crash {
            target: "case_text",
            message: format!("the case does not read back once written ({error}):\n{written}"),
            case: None,
        }),
    }
}

/// `report_text`: bytes → the JSON report readers of `kvsim merge`
/// ([`ExploreReport::from_json`] and [`VerifyReport::from_json`], chosen
/// by the version key the text holds, as `kvsim merge` chooses); a report
/// either reads is merged on its own and rendered both ways, as `kvsim
/// merge` would. They may refuse the bytes, with a message, but never
/// panic.
pub fn report_text(bytes: &[u8]) -> Result<Outcome, Crash> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(Outcome::Rejected);
    };
    let is_verify = serde_json::from_str::<serde_json::Value>(text)
        .is_ok_and(|value| value.get("kvsim_verify_report").is_some());
    if is_verify {
        let Ok(report) = VerifyReport::from_json(text) else {
            return Ok(Outcome::Rejected);
        };
        if let Ok(merged) = merge_verify(std::slice::from_ref(&report)) {
            let _ = merged.to_json();
            let _ = merged.to_string();
        }
        return Ok(Outcome::Passed);
    }
    let Ok(report) = ExploreReport::from_json(text) else {
        return Ok(Outcome::Rejected);
    };
    if let Ok(merged) = merge(std::slice::from_ref(&report)) {
        let _ = merged.to_json();
        let _ = merged.to_string();
    }
    Ok(Outcome::Passed)
}
