//! kvsim against a real BEAM, several clients at once. Every script under
//! conformance/multi/ was played thousands of times on Erlang/OTP by the
//! Elixir reference runner, per registry stage; `NAME.dialogues` holds the
//! *set* of distinct dialogues the BEAM printed (conformance/README.md).
//! Here kvsim plays each (script, stage) under a fixed portfolio of
//! schedules — `fifo`, random walk, POS and PCT seeds, the library path of
//! `kvsim run --schedule S --seed N` — and must reach every recorded
//! dialogue. The dialogues kvsim reaches that the BEAM never printed are
//! listed, each with why OTP's rules allow it, in
//! conformance/multi/kvsim-only.md; the list must match what the portfolio
//! reaches (rewrite it with `KVSIM_ONLY_UPDATE=1`, then explain each new
//! entry).

use kvsim::check::{RunConfig, Schedule, run_script};
use kvsim::kv::Stage;
use kvsim::kv::script::{self, Script};
use kvsim::sim::Outcome;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Random-walk seeds per (script, stage).
const RANDOM_SEEDS: u64 = 400;
/// POS seeds per (script, stage).
const POS_SEEDS: u64 = 400;
/// PCT seeds per depth and (script, stage), at depths 1 to [`PCT_DEPTH_MAX`].
const PCT_SEEDS: u64 = 80;
const PCT_DEPTH_MAX: u32 = 3;

/// Scripts where, on every stage, the BEAM printed a dialogue that kvsim
/// cannot reach yet, each with why: `(script, why)`. Their kvsim-only
/// dialogues are not listed (they are wrong, not merely rare). The test
/// checks that each (script, stage) still misses one, so that a fix turns
/// it red until the script is removed here. Empty: the last gap (two
/// stoppers of one bucket both answered `OK`, where the BEAM answers the
/// one whose request the bucket did not handle `ERROR normal`) is closed.
const KNOWN_GAPS: &[(&str, &str)] = &[];

const KVSIM_ONLY: &str = "kvsim-only.md";
const TODO: &str = "TODO: explain";

fn multi_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/multi")
}

fn scripts() -> Vec<PathBuf> {
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(multi_dir())
        .expect("conformance/multi exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "kv"))
        .collect();
    scripts.sort();
    scripts
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .expect("utf-8 script name")
        .to_string()
}

/// One dialogue of a `.dialogues` file.
#[derive(Debug)]
struct Recorded {
    plays: u64,
    dialogue: String,
}

/// `NAME.dialogues`: stage name → the dialogues the BEAM printed.
fn read_recording(path: &Path) -> BTreeMap<String, Vec<Recorded>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (record it: conformance/record-multi.sh)",
            path.display()
        )
    });
    let mut stages: BTreeMap<String, Vec<Recorded>> = BTreeMap::new();
    let mut stage: Option<String> = None;
    for (no, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", path.display(), no + 1);
        if let Some(rest) = line.strip_prefix("stage ") {
            let name = rest.split(':').next().expect("split yields one piece");
            stage = Some(name.to_string());
            stages.entry(name.to_string()).or_default();
        } else if let Some((count, _)) = line.split_once(" play") {
            if let Ok(plays) = count.parse::<u64>() {
                let stage = stage
                    .as_ref()
                    .unwrap_or_else(|| panic!("{}: no stage", at()));
                stages.get_mut(stage).expect("stage entry").push(Recorded {
                    plays,
                    dialogue: String::new(),
                });
            }
        } else if line == "|" || line.starts_with("| ") {
            let current = stage
                .as_ref()
                .and_then(|s| stages.get_mut(s))
                .and_then(|d| d.last_mut())
                .unwrap_or_else(|| panic!("{}: a dialogue line outside a dialogue", at()));
            current.dialogue.push_str(line.get(2..).unwrap_or(""));
            current.dialogue.push('\n');
        }
    }
    stages
}

/// A schedule of the portfolio, as `kvsim run` flags.
#[derive(Clone, Copy, Debug)]
struct Pick {
    schedule: Schedule,
    seed: u64,
}

impl Pick {
    fn flags(self) -> String {
        match self.schedule {
            Schedule::Fifo => "--schedule fifo".to_string(),
            Schedule::Pct { depth } => {
                format!("--schedule pct --depth {depth} --seed {}", self.seed)
            }
            other => format!("--schedule {other} --seed {}", self.seed),
        }
    }
}

fn portfolio() -> Vec<Pick> {
    let mut picks = vec![Pick {
        schedule: Schedule::Fifo,
        seed: 0,
    }];
    picks.extend((0..RANDOM_SEEDS).map(|seed| Pick {
        schedule: Schedule::Random,
        seed,
    }));
    picks.extend((0..POS_SEEDS).map(|seed| Pick {
        schedule: Schedule::Pos,
        seed,
    }));
    for depth in 1..=PCT_DEPTH_MAX {
        picks.extend((0..PCT_SEEDS).map(|seed| Pick {
            schedule: Schedule::Pct { depth },
            seed,
        }));
    }
    picks
}

/// Every dialogue the portfolio reaches, with the first pick that reached it.
fn reach(script: &Script, stage: Stage) -> BTreeMap<String, Pick> {
    let mut reached = BTreeMap::new();
    for pick in portfolio() {
        let config = RunConfig {
            stage,
            schedule: pick.schedule,
            seed: pick.seed,
            ..RunConfig::default()
        };
        let report = run_script(script, &config);
        assert_eq!(
            report.outcome,
            Outcome::Quiescent,
            "{stage} {}: a limit was hit",
            pick.flags()
        );
        reached.entry(report.dialogue).or_insert(pick);
    }
    reached
}

/// One (script, stage) pair and what the BEAM printed for it.
struct Job {
    name: String,
    script: Script,
    stage_index: usize,
    stage: Stage,
    recorded: Vec<Recorded>,
}

/// [`reach`] for every (script, stage), on a few threads (each run is a
/// pure function of its inputs, so the result does not depend on them).
fn reach_all(jobs: &[Job]) -> Vec<BTreeMap<String, Pick>> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![None; jobs.len()]);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else {
                        break;
                    };
                    let reached = reach(&job.script, job.stage);
                    results.lock().expect("no worker panicked")[i] = Some(reached);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("no worker panicked")
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

/// Each client's responses on one line (`a: OK, ERROR normal · b: OK`),
/// read back from the dialogue with the script's echo lines; for readers
/// only.
fn summary(script: &Script, dialogue: &str) -> String {
    let lines: Vec<&str> = dialogue.split_terminator('\n').collect();
    let several = script.clients.len() > 1;
    let mut at = 0;
    let mut parts = Vec::new();
    for (c, client) in script.clients.iter().enumerate() {
        if several {
            if lines.get(at) != Some(&format!("== {}", client.name).as_str()) {
                return "(unreadable)".to_string();
            }
            at += 1;
        }
        let mut responses = Vec::new();
        for (i, line) in client.lines.iter().enumerate() {
            if lines.get(at).copied() != Some(line.command.to_string().as_str()) {
                return "(unreadable)".to_string();
            }
            at += 1;
            let next = match client.lines.get(i + 1) {
                Some(next) => Some(next.command.to_string()),
                None => script.clients.get(c + 1).map(|n| format!("== {}", n.name)),
            };
            let mut response = Vec::new();
            loop {
                match lines.get(at) {
                    None => return "(unreadable)".to_string(),
                    Some(&"") if lines.get(at + 1).copied() == next.as_deref() => break,
                    Some(&"") => response.push("\"\""),
                    Some(line) => response.push(line),
                }
                at += 1;
            }
            at += 1;
            responses.push(response.join(" / "));
        }
        parts.push(format!("{}: {}", client.name, responses.join(", ")));
    }
    parts.join(" · ")
}

/// One entry of kvsim-only.md.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct OnlyKey {
    script: String,
    stage_index: usize,
    dialogue: String,
}

/// kvsim-only.md: the hand-written introduction (everything before the
/// first entry) and each entry's explanation.
fn read_kvsim_only(path: &Path) -> (String, BTreeMap<OnlyKey, String>, String) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut intro = String::new();
    let mut entries = BTreeMap::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.peek() {
        if line.starts_with("### ") {
            break;
        }
        intro.push_str(line);
        intro.push('\n');
        lines.next();
    }
    while let Some(line) = lines.next() {
        let Some(head) = line.strip_prefix("### `") else {
            continue;
        };
        let (script, stage) = head
            .strip_suffix('`')
            .and_then(|h| h.split_once("` on `"))
            .unwrap_or_else(|| panic!("{KVSIM_ONLY}: bad heading {line:?}"));
        let stage_index = Stage::ALL
            .iter()
            .position(|s| s.name() == stage)
            .unwrap_or_else(|| panic!("{KVSIM_ONLY}: unknown stage in {line:?}"));
        let mut why = String::new();
        let mut dialogue = String::new();
        let mut in_block = false;
        for line in lines.by_ref() {
            if in_block {
                if line == "```" {
                    break;
                }
                dialogue.push_str(line);
                dialogue.push('\n');
            } else if line == "```" {
                in_block = true;
            } else if let Some(text) = line.strip_prefix("Why: ") {
                why = text.to_string();
            }
        }
        entries.insert(
            OnlyKey {
                script: script.to_string(),
                stage_index,
                dialogue,
            },
            why,
        );
    }
    (intro, entries, text)
}

fn render_kvsim_only(intro: &str, entries: &BTreeMap<OnlyKey, (String, Pick, String)>) -> String {
    let mut out = intro.to_string();
    for (key, (summary, pick, why)) in entries {
        let stage = Stage::ALL[key.stage_index];
        let _ = write!(
            out,
            "### `{}` on `{stage}`\n\n{summary}\n\nReached by `kvsim run conformance/multi/{}.kv \
             --registry {stage} {}`.\n\nWhy: {why}\n\n```\n{}```\n\n",
            key.script,
            key.script,
            pick.flags(),
            key.dialogue
        );
    }
    out
}

#[test]
fn kvsim_reaches_every_dialogue_the_beam_printed() {
    let scripts = scripts();
    assert!(
        scripts.len() >= 40,
        "only {} multi-client scripts",
        scripts.len()
    );
    let path = multi_dir().join(KVSIM_ONLY);
    let (intro, explained, text) = read_kvsim_only(&path);

    let mut jobs = Vec::new();
    for path in &scripts {
        let name = stem(path);
        let bytes = std::fs::read(path).expect("readable script");
        let script = script::parse(path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            script.clients.len() > 1,
            "{name}: a multi-client script has several clients"
        );
        let mut recording = read_recording(&path.with_extension("dialogues"));
        for (stage_index, stage) in Stage::ALL.into_iter().enumerate() {
            let recorded = recording
                .remove(stage.name())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| panic!("{name}.dialogues: no dialogue for {stage}"));
            jobs.push(Job {
                name: name.clone(),
                script: script.clone(),
                stage_index,
                stage,
                recorded,
            });
        }
    }
    let reached_all = reach_all(&jobs);

    let mut unreached = Vec::new();
    let mut gaps_still_missing = BTreeSet::new();
    let mut gap_misses = 0;
    let mut kvsim_only = BTreeMap::new();
    let recorded_total: usize = jobs.iter().map(|job| job.recorded.len()).sum();
    for (job, reached) in jobs.iter().zip(reached_all) {
        let Job {
            name,
            script,
            stage,
            ..
        } = job;
        let gap = KNOWN_GAPS.iter().any(|(s, _)| s == name);
        for r in &job.recorded {
            if reached.contains_key(&r.dialogue) {
                continue;
            }
            if gap {
                gap_misses += 1;
                gaps_still_missing.insert((name.clone(), stage.name()));
            } else {
                unreached.push(format!(
                    "{name} on {stage} ({} BEAM plays): {}\n{}",
                    r.plays,
                    summary(script, &r.dialogue),
                    r.dialogue
                ));
            }
        }
        for (dialogue, pick) in reached {
            // A known gap's dialogues are wrong, not merely rare.
            if gap || job.recorded.iter().any(|r| r.dialogue == dialogue) {
                continue;
            }
            let key = OnlyKey {
                script: name.clone(),
                stage_index: job.stage_index,
                dialogue,
            };
            let why = explained
                .get(&key)
                .filter(|w| !w.is_empty())
                .cloned()
                .unwrap_or_else(|| TODO.to_string());
            let line = summary(script, &key.dialogue);
            kvsim_only.insert(key, (line, pick, why));
        }
    }
    assert!(
        unreached.is_empty(),
        "{} dialogue(s) the BEAM printed are not reached by kvsim's portfolio:\n{}",
        unreached.len(),
        unreached.join("\n")
    );
    for (script, why) in KNOWN_GAPS {
        for stage in Stage::ALL {
            assert!(
                gaps_still_missing.contains(&(script.to_string(), stage.name())),
                "known gap {script} on {stage} ({why}) is closed: kvsim reaches every BEAM \
                 dialogue of it now; remove it from KNOWN_GAPS"
            );
        }
    }

    let rendered = render_kvsim_only(&intro, &kvsim_only);
    if std::env::var_os("KVSIM_ONLY_UPDATE").is_some() {
        std::fs::write(&path, &rendered).expect("write kvsim-only.md");
    } else {
        assert!(
            rendered == text,
            "conformance/multi/{KVSIM_ONLY} is not what the portfolio reaches \
             ({} entries now, {} listed); rerun with KVSIM_ONLY_UPDATE=1, review the diff \
             and explain each new entry",
            kvsim_only.len(),
            explained.len()
        );
    }
    let todo = kvsim_only
        .values()
        .filter(|(_, _, why)| why == TODO)
        .count();
    assert_eq!(
        todo, 0,
        "{todo} entries of {KVSIM_ONLY} have no explanation"
    );
    eprintln!(
        "{} scripts, {} pairs: {} of {recorded_total} BEAM dialogues reached \
         ({gap_misses} missed in known gaps), {} kvsim-only dialogues",
        scripts.len(),
        jobs.len(),
        recorded_total - gap_misses,
        kvsim_only.len()
    );
}
