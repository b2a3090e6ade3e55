//! Causal slices of failures: the causal past of the
//! violating event and of the events the property's verdict reads.
//!
//! - On the 5-event dead lookup of `unlinked` (the smallest case of
//!   property 1, tests/regressions/) the slice is exactly those 5 events,
//!   the kill included; an unrelated client added to it stays out.
//! - On a failing case of every flawed registry (the stages, the mutants
//!   and the user registries of tests/support/flawed_registries.rs, as the
//!   search first finds them, unshrunk), the slice holds the violating
//!   event and every root, is closed under the recorded predecessors, and
//!   every delivery's recorded predecessors include the event that sent
//!   the signal (checked against the event keys, which name it).
//! - Replaying only the slice's events (as overrides, in step order)
//!   breaks the same property at event |slice|: the slice is enough to
//!   explain the failure (properties 1, 3, 4 and 5; property 2 and 6 are
//!   read at quiescence, which the events left out keep away).
//! - `kvsim replay --slice` prints the slice alone, as text or Mermaid.

// The shrink table's half (`SMALLEST`) is not used here.
#[allow(dead_code)]
#[path = "support/flawed_registries.rs"]
mod flawed_registries;
#[path = "support/mutants.rs"]
mod mutants;
#[path = "support/user_registry.rs"]
mod user_registry;

use flawed_registries::subjects;
use kvsim::check::{
    Case, CaseRun, CheckConfig, P1_LOOKUP_IS_ALIVE, P2_NAMES_MATCH_BUCKETS, P6_NO_CALL_TIMES_OUT,
    RegistryFactory, SearchConfig, find_failure, read_case, run_case,
};
use kvsim::kv::Stage;
use kvsim::sim::{EventKey, Trace, TraceEntry};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const DEAD_LOOKUP: &str = "tests/regressions/unlinked-lookup-is-alive-0a7587ab.case.json";

/// The keys of the dead lookup's five events, in step order: the client's
/// create and lookup, the registry's create, the kill, the lookup's call.
const DEAD_LOOKUP_EVENTS: [&str; 5] = [
    "client0.cmd0",
    "client0.cmd1",
    "client0.cmd0/0",
    "fault0",
    "client0.cmd1/1",
];

fn traced(check: &CheckConfig) -> CheckConfig {
    CheckConfig {
        tracing: true,
        ..check.clone()
    }
}

fn dead_lookup() -> Case {
    read_case(DEAD_LOOKUP).expect("the kept case").0
}

/// `case` run on `unlinked`, every property checked, traced (so with its
/// slice, when it fails).
fn on_unlinked(case: &Case) -> CaseRun {
    run_case(
        case,
        &|| Stage::Unlinked.registry(),
        &traced(&CheckConfig::default()),
    )
}

/// Each step's event key, as the trace prints it.
fn step_keys(trace: &Trace) -> BTreeMap<u64, String> {
    trace
        .entries
        .iter()
        .filter_map(|entry| match entry {
            TraceEntry::Step { step, key, .. } => Some((*step, key.clone())),
            _ => None,
        })
        .collect()
}

/// The keys of the slice's events, in step order.
fn slice_keys(run: &CaseRun) -> Vec<String> {
    let slice = run.slice.as_ref().expect("a slice");
    let keys = step_keys(run.trace.as_ref().expect("traced"));
    slice.events.iter().map(|step| keys[step].clone()).collect()
}

#[test]
fn the_dead_lookup_slice_is_exactly_its_five_events_the_kill_included() {
    let run = on_unlinked(&dead_lookup());
    let failure = run.failure.as_ref().expect("unlinked breaks property 1");
    assert_eq!((failure.property, failure.step), (P1_LOOKUP_IS_ALIVE, 5));
    let slice = run.slice.as_ref().expect("a traced failure has a slice");
    assert_eq!(slice.events, BTreeSet::from([1, 2, 3, 4, 5]));
    assert_eq!(slice_keys(&run), DEAD_LOOKUP_EVENTS);
    // The lookup (#5) follows the registry's create (#3, program order),
    // the client's call (#2, send -> deliver) and the kill (#4): its reply
    // names the dead bucket, a liveness read of its death.
    let causality = run.causality.as_ref().expect("recorded with the trace");
    assert_eq!(causality.preds(5), &[2, 3, 4]);
    assert_eq!(
        causality.preds(4),
        &[3],
        "the kill follows the bucket's spawn"
    );
    assert_eq!(causality.preds(3), &[1], "the create follows its cast");
    assert_eq!(causality.preds(2), &[1], "program order");
    assert_eq!(causality.preds(1), &[] as &[u64]);
    assert_eq!(
        slice
            .roots
            .iter()
            .map(|r| (r.step, r.why.as_str()))
            .collect::<Vec<_>>(),
        [
            (5, "the lookup reply names bucket:a#0"),
            (4, "bucket:a#0 dies")
        ]
    );
}

const BYSTANDER: &str = "examples/slice_bystander.case.json";

/// The dead lookup with a second client whose commands touch other
/// buckets: `fifo` lets it act (its casts and calls are events of the run
/// before the failure) but the registry handles them only after the
/// lookup, so none is in the failure's causal past. The README's example.
fn dead_lookup_with_a_bystander() -> Case {
    let case = read_case(BYSTANDER).expect("the example case").0;
    let mut alone = case.clone();
    alone.clients.retain(|client| client.id == 0);
    assert_eq!(alone, dead_lookup(), "the dead lookup and one more client");
    case
}

#[test]
fn an_unrelated_client_is_left_out_of_the_slice() {
    let run = on_unlinked(&dead_lookup_with_a_bystander());
    let failure = run.failure.as_ref().expect("still broken");
    assert_eq!(failure.property, P1_LOOKUP_IS_ALIVE);
    let keys = step_keys(run.trace.as_ref().expect("traced"));
    let bystander: Vec<&String> = keys
        .values()
        .filter(|key| key.starts_with("client1"))
        .collect();
    assert!(
        !bystander.is_empty(),
        "the bystander acts before the failure: {keys:?}"
    );
    assert!(failure.step > 5, "{keys:?}");
    assert_eq!(slice_keys(&run), DEAD_LOOKUP_EVENTS, "{keys:?}");
}

#[test]
fn the_slice_renders_as_text_and_mermaid() {
    let run = on_unlinked(&dead_lookup_with_a_bystander());
    let (slice, trace) = (run.slice.expect("a slice"), run.trace.expect("traced"));
    insta::assert_snapshot!("bystander_slice_text", slice.to_text(&trace));
    insta::assert_snapshot!("bystander_slice_mermaid", slice.to_mermaid(&trace));
    // The README shows both, as `kvsim replay --slice` prints them.
    let readme = std::fs::read_to_string("README.md").expect("the README");
    assert!(
        readme.contains(&format!("```\n{}```", slice.to_text(&trace))),
        "README.md's slice example is stale"
    );
    assert!(
        readme.contains(&format!("```mermaid\n{}```", slice.to_mermaid(&trace))),
        "README.md's Mermaid slice is stale"
    );
}

/// The key's cause: the event whose key is the key without its last
/// segment (`client0.cmd1/1` was sent during `client0.cmd1`), if it has one.
fn cause_of(key: &str) -> Option<&str> {
    // Segments are separated by `/` outside quoted names.
    let mut quoted = false;
    let mut escaped = false;
    let mut last = None;
    for (at, c) in key.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '/' if !quoted => last = Some(at),
            _ => {}
        }
    }
    last.map(|at| &key[..at])
}

/// Checks the slice of a failing, traced run: it holds the violating event
/// and its roots, it is closed under the recorded predecessors, every
/// predecessor is earlier, and every event whose key names a cause
/// event has that event (or, for a key repeated, one of its occurrences)
/// among its predecessors. Returns (slice size, failure step).
fn check_slice(name: &str, run: &CaseRun) -> (usize, u64) {
    let failure = run.failure.as_ref().expect("a failing run");
    let slice = run.slice.as_ref().expect("a traced failure has a slice");
    let causality = run.causality.as_ref().expect("recorded with the trace");
    let trace = run.trace.as_ref().expect("traced");
    assert_eq!(slice.property, failure.property, "{name}");
    assert_eq!(slice.roots[0].step, failure.step, "{name}: violation first");
    assert!(slice.contains(failure.step), "{name}");
    for root in &slice.roots {
        assert!(slice.contains(root.step), "{name}: root {root:?}");
    }
    for &event in &slice.events {
        assert!(event <= failure.step, "{name}: #{event} after the failure");
        for &pred in causality.preds(event) {
            assert!(pred < event, "{name}: #{pred} precedes #{event}");
            assert!(
                slice.contains(pred),
                "{name}: #{event}'s predecessor #{pred} is not in the slice"
            );
        }
    }
    let keys = step_keys(trace);
    let mut steps_of: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (&step, key) in &keys {
        if let Some(cause) = cause_of(key)
            && let Some(causes) = steps_of.get(cause)
        {
            let preds = causality.preds(step);
            assert!(
                causes.iter().any(|c| preds.contains(c)),
                "{name}: #{step} [{key}] was caused by one of {causes:?}, not among {preds:?}"
            );
        }
        steps_of.entry(key.as_str()).or_default().push(step);
    }
    (slice.events.len(), failure.step)
}

/// Replays only the slice's events, as overrides in step order: the same
/// property breaks at event |slice|, and those are the events that ran.
fn check_slice_suffices(name: &str, case: &Case, registry: &RegistryFactory<'_>, run: &CaseRun) {
    let failure = run.failure.as_ref().expect("a failing run");
    let keys = slice_keys(run);
    let reduced = Case {
        schedule: keys
            .iter()
            .map(|key| key.parse::<EventKey>().expect("a key"))
            .collect(),
        strategy: None,
        ..case.clone()
    };
    let config = CheckConfig::default();
    let again = run_case(&reduced, registry, &config);
    let broke = again
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("{name}: the slice's events alone break nothing: {keys:?}"));
    assert_eq!(
        (broke.property, broke.step),
        (failure.property, keys.len() as u64),
        "{name}: {keys:?}"
    );
    let mut ran: Vec<String> = again.schedule_taken[..keys.len()]
        .iter()
        .map(EventKey::to_string)
        .collect();
    let mut wanted = keys.clone();
    ran.sort();
    wanted.sort();
    assert_eq!(ran, wanted, "{name}");
}

#[test]
fn every_flawed_registrys_slice_is_closed_and_sufficient() {
    let mut checked = 0;
    let mut smaller = 0;
    let mut replayed = 0;
    for subject in subjects() {
        for seed in 0..3 {
            let search = SearchConfig {
                seed,
                ..subject.search.clone()
            };
            let Some((case, _, _)) = find_failure(&*subject.registry, &search) else {
                panic!("{}: seed {seed} finds no failure", subject.name);
            };
            let run = run_case(&case, &*subject.registry, &traced(&search.check));
            let name = format!("{} seed {seed}", subject.name);
            let (size, step) = check_slice(&name, &run);
            checked += 1;
            smaller += usize::from((size as u64) < step);
            let property = run.failure.as_ref().expect("fails").property;
            if property != P2_NAMES_MATCH_BUCKETS && property != P6_NO_CALL_TIMES_OUT {
                check_slice_suffices(&name, &case, &*subject.registry, &run);
                replayed += 1;
            }
        }
    }
    // Unshrunk cases carry events that explain nothing: most slices drop
    // some (a slice as long as its run everywhere would mean nothing is
    // ever left out).
    assert!(
        smaller * 2 > checked,
        "{smaller} of {checked} slices are smaller than their run"
    );
    assert!(replayed * 2 > checked, "{replayed} of {checked} replayed");
}

#[test]
fn kvsim_replay_prints_the_slice_alone() {
    let run = on_unlinked(&dead_lookup());
    let (slice, trace) = (run.slice.expect("a slice"), run.trace.expect("traced"));
    let kvsim = |flags: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_kvsim"))
            .arg("replay")
            .arg(Path::new(DEAD_LOOKUP))
            .args(flags)
            .output()
            .expect("kvsim starts");
        (
            output.status.code(),
            String::from_utf8(output.stdout).expect("UTF-8"),
            String::from_utf8(output.stderr).expect("UTF-8"),
        )
    };
    let (code, text, _) = kvsim(&["--slice"]);
    assert_eq!(code, Some(1));
    assert_eq!(text, slice.to_text(&trace));
    assert!(text.starts_with("--- slice (5 of 5 events, the causal past of #5 "));
    let (code, mermaid, _) = kvsim(&["--slice", "--trace", "mermaid"]);
    assert_eq!(code, Some(1));
    assert_eq!(mermaid, slice.to_mermaid(&trace));
    assert!(mermaid.starts_with("sequenceDiagram\n    %% slice: 5 of 5 events"));
    let (code, json, _) = kvsim(&["--slice", "--trace", "json"]);
    assert_eq!(code, Some(1));
    assert_eq!(json, slice.trace(&trace).to_json_lines());
    // On the fixed registry nothing breaks: no slice, exit 0.
    let (code, text, stderr) = kvsim(&["--slice", "--registry", "fixed"]);
    assert_eq!((code, text.as_str()), (Some(0), ""));
    assert!(stderr.contains("no property broke"), "{stderr}");
}

/// Recording causality only watches: a run of the bystander case (its
/// override first, then `fifo`) traces, picks and ends exactly the same
/// with it on and off.
#[test]
fn recording_causality_changes_nothing_of_the_run() {
    use kvsim::kv::KvSystem;
    use kvsim::sim::Limits;
    use kvsim::sim::choice::Overrides;
    let case = dead_lookup_with_a_bystander();
    let play = |record: bool| {
        let chooser = Box::new(Overrides::new(case.schedule.clone()));
        let mut system =
            KvSystem::new(Stage::Unlinked.registry(), chooser, Limits::default(), true);
        if record {
            system.sim.record_causality();
        }
        for client in &case.clients {
            system.add_client(client.id, client.commands.clone().into_iter(), true);
        }
        for fault in &case.faults {
            system.add_fault(fault.id, &fault.fault);
        }
        let outcome = system.sim.run();
        let recorded = system.sim.causality().map(|c| c.events());
        let trace = system.sim.take_trace().expect("traced");
        (trace, system.sim.schedule_taken(), outcome, recorded)
    };
    let (with, without) = (play(true), play(false));
    assert_eq!(
        with.3,
        Some(
            with.0
                .entries
                .iter()
                .filter(|e| matches!(e, TraceEntry::Step { .. }))
                .count() as u64
        )
    );
    assert_eq!(without.3, None);
    assert_eq!(with.0.to_text(), without.0.to_text());
    assert_eq!((&with.1, &with.2), (&without.1, &without.2));
}
