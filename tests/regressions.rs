//! Failures kept as tests: `check::replay` runs a saved case on any
//! registry and returns what `kvsim replay` prints; `check::regressions`
//! replays a directory of them; a report for a registry that is not a
//! built-in stage ends with the Rust line that replays it. And kvsim keeps
//! its own: every case in `tests/regressions/` must hold on `fixed` and
//! must still break, with the same property, the registry its `registry`
//! field names: a flawed stage (`naive`), a test mutant of `fixed`
//! (`mutant:<name>`, tests/support/mutants.rs) or a registry of
//! tests/deep_races.rs (`user-registry:<flaw>`,
//! tests/support/user_registry.rs).
//!
//! The kept cases were written by `write_the_kept_cases` (ignored: run it
//! with `--ignored` to write them again, then review and commit the files).

mod common;
#[path = "support/mutants.rs"]
mod mutants;
#[path = "support/user_registry.rs"]
mod user_registry;

use common::{TempDir, kvsim};
use kvsim::check::generate::{CommandKind, GenConfig};
use kvsim::check::{
    Case, CaseFault, CaseMeta, CheckConfig, FailureReport, P1_LOOKUP_IS_ALIVE,
    P2_NAMES_MATCH_BUCKETS, P4_LINEARIZABLE, P5_ONE_BUCKET_PER_NAME, P6_NO_CALL_TIMES_OUT,
    Property, PropertySet, RegistryFactory, ReplayError, ReplayOptions, SearchConfig, ShrinkConfig,
    ShrinkTarget, Strategy, Verdict, check_registry, explicit, read_case, regressions, replay,
    replay_with, run_case, save_case, shrink_case,
};
use kvsim::kv::{KvFault, Registry, Stage, script};
use kvsim::sim::EventKey;
use mutants::Mutant;
use std::path::{Path, PathBuf};
use user_registry::{Flaw, UserRegistry};

const KEPT: &str = "tests/regressions";

fn kept_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(KEPT)
}

/// The mutants kept, each with the property it breaks.
const MUTANTS: [(Mutant, Property); 4] = [
    (Mutant::CreateAlwaysSpawns, P5_ONE_BUCKET_PER_NAME),
    (Mutant::LookupNeverReplies, P6_NO_CALL_TIMES_OUT),
    (Mutant::DownKeepsRef, P2_NAMES_MATCH_BUCKETS),
    (Mutant::PutForgets, P4_LINEARIZABLE),
];

/// The registries of tests/deep_races.rs kept, with their names.
const USER_REGISTRIES: [(Flaw, &str); 3] = [
    (Flaw::CreateTrustsMap, "create-trusts-map"),
    (Flaw::LookupTrustsMap, "lookup-trusts-map"),
    (Flaw::DownByName, "down-by-name"),
];

/// The registry a kept case names: a built-in stage, `mutant:<name>` or
/// `user-registry:<flaw>`.
fn registry_named(name: &str) -> Box<dyn Fn() -> Box<dyn Registry> + Send + Sync> {
    if let Some(mutant) = name.strip_prefix("mutant:") {
        let (mutant, _) = MUTANTS
            .into_iter()
            .find(|(m, _)| m.name() == mutant)
            .unwrap_or_else(|| panic!("no mutant {mutant:?}"));
        return Box::new(mutant.factory());
    }
    if let Some(flaw) = name.strip_prefix("user-registry:") {
        let (flaw, _) = USER_REGISTRIES
            .into_iter()
            .find(|(_, n)| *n == flaw)
            .unwrap_or_else(|| panic!("no user registry {flaw:?}"));
        return Box::new(UserRegistry::factory(flaw));
    }
    let stage: Stage = name
        .parse()
        .unwrap_or_else(|error| panic!("no registry {name:?}: {error}"));
    Box::new(move || stage.registry())
}

fn fixed() -> Box<dyn Registry> {
    Stage::Fixed.registry()
}

// ----- kvsim's own kept failures -----

#[test]
fn every_kept_case_holds_on_fixed() {
    let kept = regressions(&fixed, kept_dir()).expect("tests/regressions has cases");
    assert!(kept.all_hold(), "{kept}");
}

#[test]
fn every_kept_case_still_breaks_the_registry_it_was_found_on() {
    let kept = regressions(&fixed, kept_dir()).expect("tests/regressions has cases");
    let mut broken = Vec::new();
    for (path, _) in &kept.files {
        let (_, meta) = read_case(path).expect("a kept case reads");
        let name = meta
            .registry
            .as_deref()
            .expect("a kept case names its registry");
        let property = meta.property.as_deref().expect("... and its property");
        let report = replay(&*registry_named(name), path).expect("replays");
        match report.verdict() {
            Verdict::Broken(failure) => assert_eq!(
                failure.property.to_string(),
                property,
                "{}: broke another property on {name}:\n{report}",
                path.display()
            ),
            verdict => panic!(
                "{}: no longer breaks {name} ({verdict:?}):\n{report}",
                path.display()
            ),
        }
        broken.push(name.to_string());
    }
    // One case at least per flawed stage.
    for stage in ["naive", "monitored", "no-catch-all", "unlinked"] {
        assert!(
            broken.iter().any(|name| name == stage),
            "none kept for {stage}"
        );
    }
}

/// The lost restart: `CREATE a`, `STOP a`, `CREATE a`, `LOOKUP a` on
/// `unlinked`, where the second `CREATE` overtakes the stopped bucket's
/// `DOWN`, is kept.
#[test]
fn the_lost_restart_is_kept() {
    let kept = regressions(&fixed, kept_dir()).expect("tests/regressions has cases");
    let found = kept.files.iter().any(|(path, _)| {
        let (case, meta) = read_case(path).expect("reads");
        let lines: Vec<String> = case
            .clients
            .iter()
            .flat_map(|client| client.commands.iter().map(|(_, c)| c.to_string()))
            .collect();
        meta.registry.as_deref() == Some("unlinked")
            && meta.property == Some(P4_LINEARIZABLE.to_string())
            && lines.iter().filter(|l| *l == "CREATE a").count() == 2
            && lines.iter().any(|l| l == "STOP a")
    });
    assert!(found, "{kept}");
}

// ----- replay and regressions, for any registry -----

/// The stale lookup on `unlinked`: the kill of `bucket:a` lands after the
/// bucket starts and before the lookup is handled.
const STALE_LOOKUP: &str = r#"{
  "kvsim_case": 2,
  "registry": "unlinked",
  "property": "P1 lookup-is-alive",
  "clients": [
    {
      "id": 0,
      "commands": [
        { "id": 0, "line": "CREATE a" },
        { "id": 1, "line": "LOOKUP a" }
      ]
    }
  ],
  "faults": [{ "id": 0, "fault": "kill bucket:a" }],
  "schedule": ["fault0"]
}
"#;

#[test]
fn replay_returns_what_kvsim_replay_prints() {
    let dir = TempDir::new("replay-same-text");
    let path = dir.file("stale.case.json", STALE_LOOKUP.as_bytes());
    for stage in [Stage::Unlinked, Stage::Fixed] {
        let options = ReplayOptions {
            registry_name: stage.name().to_string(),
            ..ReplayOptions::default()
        };
        let report = replay_with(&|| stage.registry(), &path, &options).expect("replays");
        let cli = kvsim(&["replay", path.to_str().unwrap(), "--registry", stage.name()]);
        assert_eq!(report.to_string(), cli.stdout, "{stage}");
        let expected_code = if report.broke() { 1 } else { 0 };
        assert_eq!(cli.code, Some(expected_code), "{stage}");
    }
}

#[test]
fn replay_runs_a_case_on_your_own_registry() {
    let dir = TempDir::new("replay-own");
    let path = dir.file("stale.case.json", STALE_LOOKUP.as_bytes());
    // A registry the command line cannot build: a closure of our own.
    let my_registry = || -> Box<dyn Registry> { Stage::Unlinked.registry() };
    let report = replay(&my_registry, &path).expect("replays");
    assert!(report.broke(), "{report}");
    assert!(
        report.to_string().ends_with(
            "P1 lookup-is-alive broke at event 5 on registry under test: the registry's lookup reply names bucket:a#0, dead at this step\n"
        ),
        "{report}"
    );
    assert_eq!(report.meta.registry.as_deref(), Some("unlinked"));
    let report = replay(&fixed, &path).expect("replays");
    assert!(report.holds(), "{report}");
    assert!(
        report
            .to_string()
            .ends_with("all properties hold on registry under test\n")
    );
}

#[test]
fn replay_names_the_file_in_its_errors() {
    let dir = TempDir::new("replay-errors");
    let missing = dir.path.join("missing.case.json");
    let error = replay(&fixed, &missing).expect_err("no such file");
    assert!(matches!(error, ReplayError::Read { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with(&missing.display().to_string())
    );
    let bad = dir.file("bad.case.json", b"{\"kvsim_case\": 2, \"clients\": 3}");
    let error = replay(&fixed, &bad).expect_err("not a case");
    assert!(matches!(error, ReplayError::Case(_)), "{error:?}");
}

#[test]
fn regressions_replays_every_case_file_in_name_order() {
    let dir = TempDir::new("regressions");
    let holds = STALE_LOOKUP.replace("\"schedule\": [\"fault0\"]", "\"schedule\": []");
    dir.file("b-stale.case.json", STALE_LOOKUP.as_bytes());
    dir.file("a-holds.case.json", holds.as_bytes());
    dir.file("c-broken.case.json", b"not json");
    dir.file("notes.txt", b"not a case file: skipped");
    std::fs::create_dir(dir.path.join("d.case.json")).expect("a directory, skipped");
    let kept = regressions(&|| Stage::Unlinked.registry(), &dir.path).expect("has cases");
    let names: Vec<String> = kept
        .files
        .iter()
        .map(|(path, _)| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "a-holds.case.json",
            "b-stale.case.json",
            "c-broken.case.json"
        ]
    );
    assert!(!kept.all_hold());
    assert_eq!(kept.failing().count(), 2);
    let text = kept.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("holds     ") && lines[1].ends_with("a-holds.case.json"));
    assert!(
        lines[2].starts_with("BROKE     ")
            && lines[2].contains("b-stale.case.json: P1 lookup-is-alive broke at event 5"),
        "{text}"
    );
    assert!(lines[3].starts_with("ERROR     "), "{text}");
    // On fixed, the stale lookup holds; the broken file still does not.
    let kept = regressions(&fixed, &dir.path).expect("has cases");
    assert_eq!(kept.failing().count(), 1, "{kept}");
}

#[test]
fn regressions_refuses_a_directory_with_no_case_file() {
    let dir = TempDir::new("regressions-empty");
    dir.file("README", b"nothing kept yet");
    let error = regressions(&fixed, &dir.path).expect_err("no case");
    assert!(matches!(error, ReplayError::NoCases { .. }), "{error:?}");
    let error = regressions(&fixed, dir.path.join("missing")).expect_err("no dir");
    assert!(matches!(error, ReplayError::Read { .. }), "{error:?}");
}

#[test]
fn a_report_for_your_own_registry_ends_with_the_rust_line_that_replays_it() {
    let config = SearchConfig {
        cases: 256,
        seed: 0,
        shrink_to: ShrinkTarget::FirstFound,
        ..SearchConfig::default()
    };
    let my_registry = || Stage::Unlinked.registry();
    let counterexample = check_registry(&my_registry, &config).expect_err("unlinked fails");
    let dir = TempDir::new("own-report");
    let report = FailureReport::save(&counterexample, "my-registry", &dir.path).expect("saves");
    assert!(!report.is_builtin_stage());
    let expected = format!(
        "kvsim::check::replay(&my_registry, {:?})",
        report.case_path.to_string_lossy()
    );
    assert_eq!(report.replay_command(), expected);
    assert!(
        report
            .to_string()
            .ends_with(&format!("--- replay\n{expected}"))
    );
    let named = report
        .clone()
        .with_factory("|| Box::new(MyRegistry::default())");
    assert!(
        named
            .replay_command()
            .starts_with("kvsim::check::replay(&|| Box::new(MyRegistry::default()), \""),
        "{}",
        named.replay_command()
    );
    // The line does what it says.
    let replayed = replay(&my_registry, &report.case_path).expect("replays");
    assert_eq!(replayed.run.failure, Some(counterexample.failure.clone()));
    // Found checking a subset, the line checks the same subset, and
    // still does what it says.
    let list = counterexample.failure.property.number.to_string();
    let subset = report
        .clone()
        .with_properties(&list.parse::<PropertySet>().expect("a list"));
    let expected = format!(
        "kvsim::check::replay_with(&my_registry, {:?}, &kvsim::check::ReplayOptions::checking({list:?}.parse().unwrap()))",
        report.case_path.to_string_lossy()
    );
    assert_eq!(subset.replay_command(), expected);
    let replayed = kvsim::check::replay_with(
        &my_registry,
        &report.case_path,
        &kvsim::check::ReplayOptions::checking(list.parse().unwrap()),
    )
    .expect("replays");
    assert_eq!(replayed.run.failure, Some(counterexample.failure.clone()));
    // A built-in stage still gets the command.
    let report = FailureReport::save(&counterexample, "unlinked", &dir.path).expect("saves");
    assert!(report.replay_command().starts_with("kvsim replay "));
}

// ----- writing the kept cases -----

/// Writes each flawed stage's shrunk counterexample (the default search,
/// seed 0) and the lost restart into `tests/regressions/`. Run by hand:
/// `cargo test --test regressions -- --ignored write_the_kept_cases`.
#[test]
#[ignore = "writes tests/regressions/: run by hand, then review the files"]
fn write_the_kept_cases() {
    let dir = kept_dir();
    std::fs::create_dir_all(&dir).expect("creates tests/regressions");
    for stage in [
        Stage::Naive,
        Stage::Monitored,
        Stage::NoCatchAll,
        Stage::Unlinked,
    ] {
        let config = SearchConfig {
            cases: SearchConfig::DEFAULT_CASES,
            seed: 0,
            ..SearchConfig::default()
        };
        let counterexample =
            check_registry(&|| stage.registry(), &config).expect_err("a flawed stage fails");
        let found_by = "check_registry(SearchConfig::default(), seed 0), shrunk";
        keep(
            &dir,
            &counterexample.case,
            stage.name(),
            counterexample.failure.property,
            found_by,
        );
    }
    // Each stage's flaw as the chapter tells it, by hand.
    let naive_stale_name = one_client(&["CREATE a", "STOP a"]);
    let found_by = "by hand: after STOP a the registry still names the dead bucket (no monitor)";
    keep(
        &dir,
        &naive_stale_name,
        "naive",
        P2_NAMES_MATCH_BUCKETS,
        found_by,
    );
    let mut unlinked_stale_lookup = one_client(&["CREATE a", "LOOKUP a"]);
    unlinked_stale_lookup.faults.push(CaseFault {
        id: 0,
        fault: KvFault::KillBucket("a".into()),
    });
    unlinked_stale_lookup.schedule.push(EventKey::fault(0));
    let found_by = "by hand: the kill lands before the lookup, the DOWN after it";
    keep(
        &dir,
        &unlinked_stale_lookup,
        "unlinked",
        P1_LOOKUP_IS_ALIVE,
        found_by,
    );
    for (mutant, property) in MUTANTS {
        // As tests/mutants.rs searches: 256 cases, the one property, the
        // data commands only for the forgetful put.
        let mut generator = GenConfig::default();
        if mutant == Mutant::PutForgets {
            generator.command_kinds = vec![
                CommandKind::Create,
                CommandKind::Put,
                CommandKind::Get,
                CommandKind::Delete,
            ];
        }
        let config = SearchConfig {
            cases: 256,
            seed: 0,
            generator,
            check: CheckConfig {
                properties: PropertySet::only(&[property]),
                ..CheckConfig::default()
            },
            shrink_to: ShrinkTarget::FirstFound,
            shrink: ShrinkConfig::default(),
            ..SearchConfig::default()
        };
        let counterexample =
            check_registry(&mutant.factory(), &config).expect_err("a mutant fails");
        let name = format!("mutant:{}", mutant.name());
        let found_by = "tests/mutants.rs's search, seed 0, shrunk";
        keep(&dir, &counterexample.case, &name, property, found_by);
    }
    for (flaw, flaw_name) in USER_REGISTRIES {
        let config = SearchConfig {
            cases: SearchConfig::DEFAULT_CASES,
            seed: 0,
            ..SearchConfig::default()
        };
        let counterexample =
            check_registry(&UserRegistry::factory(flaw), &config).expect_err("a flaw fails");
        let name = format!("user-registry:{flaw_name}");
        let found_by = "check_registry(SearchConfig::default(), seed 0), shrunk";
        keep(
            &dir,
            &counterexample.case,
            &name,
            counterexample.failure.property,
            found_by,
        );
    }
    let (case, seed) = lost_restart();
    let found_by = format!(
        "kvsim run --check lost-restart.kv --registry unlinked --schedule random --seed {seed}, shrunk"
    );
    keep(&dir, &case, "unlinked", P4_LINEARIZABLE, &found_by);
}

fn one_client(lines: &[&str]) -> Case {
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let script = script::parse(Path::new("kept.kv"), text.as_bytes()).expect("parses");
    Case::from_script(&script)
}

/// `CREATE a`, `STOP a`, `CREATE a`, `SETTLE`, `LOOKUP a` under the first
/// random walk that breaks property 4 on `unlinked`, shrunk.
fn lost_restart() -> (Case, u64) {
    let text = "CREATE a\nSTOP a\nCREATE a\nSETTLE\nLOOKUP a\n";
    let script = script::parse(Path::new("lost-restart.kv"), text.as_bytes()).expect("parses");
    let registry = || Stage::Unlinked.registry();
    let check = CheckConfig::default();
    for seed in 0..1_000 {
        let mut case = Case::from_script(&script);
        case.strategy = Some(Strategy::Random { seed });
        let run = run_case(&case, &registry, &check);
        if run.failure.as_ref().map(|f| f.property) == Some(P4_LINEARIZABLE) {
            let (shrunk, _) =
                shrink_case(&explicit(&case, &run), &registry, &check, P4_LINEARIZABLE);
            return (shrunk, seed);
        }
    }
    panic!("no random walk of 1,000 found the lost restart");
}

fn keep(dir: &Path, case: &Case, registry: &str, property: Property, found_by: &str) {
    let factory: &RegistryFactory<'_> = &*registry_named(registry);
    let run = run_case(case, factory, &CheckConfig::default());
    assert_eq!(run.failure.map(|f| f.property), Some(property));
    // The same case on the same registry is kept once, by whoever found
    // it first.
    let kept = std::fs::read_dir(dir).expect("reads tests/regressions");
    for entry in kept {
        let path = entry.expect("an entry").path();
        if let Ok((other, meta)) = read_case(&path)
            && other == *case
            && meta.registry.as_deref() == Some(registry)
        {
            return;
        }
    }
    let meta = CaseMeta::found(registry, Some(property.to_string()), found_by);
    // Named `<registry>-<property>-<hash>.case.json`, so that a reviewer
    // sees which registry each file breaks.
    let saved = save_case(dir, case, &meta).expect("saves");
    let name = saved.file_name().expect("a file").to_string_lossy();
    let path = dir.join(format!("{}-{name}", registry.replace(':', "-")));
    std::fs::rename(&saved, &path).expect("renames");
    println!("{}", path.display());
}
