//! What a failure report says, and that it says it honestly: property 4's
//! "could not decide" is an undecided verdict in every front end (a case, a
//! search, `kvsim replay`, `kvsim run --check`), never a pass; a run cut by
//! a limit is reported as cut; a late reply dropped at an inactive alias is
//! traced as such, not as a death; a dead process has its logical name with
//! tracing on or off; and a counterexample breaks the property first found,
//! the report saying both when asked to shrink to any property.

mod common;

use common::{TempDir, kvsim};
use kvsim::check::{
    Case, CaseClient, CheckConfig, CustomProperty, FailureReport, P4_LINEARIZABLE, PropertySet,
    SearchConfig, ShrinkTarget, Verdict, check_registry, nth_case, run_case,
};
use kvsim::kv::{Command, KvMsg, KvSystem, Registry, Stage, spawn_bucket};
use kvsim::otp::{
    CallResult, DEFAULT_CALL_TIMEOUT_MS, Envelope, Flow, From, GenServer, Info, reply,
};
use kvsim::sim::{Ctx, Pid, Ref, TimerRef};
use std::collections::{BTreeMap, BTreeSet};

fn one_client(lines: &[&str]) -> Case {
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let script = kvsim::kv::script::parse(std::path::Path::new("t.kv"), text.as_bytes())
        .expect("the test script parses");
    Case::from_script(&script)
}

// ----- property 4 undecided -----

/// A bound of two configurations cannot decide a history of three
/// operations on one bucket.
fn tiny_bound() -> CheckConfig {
    CheckConfig {
        linearizability_states_max: 2,
        ..CheckConfig::default()
    }
}

#[test]
fn a_history_too_large_for_the_bound_is_undecided_not_passed() {
    let case = one_client(&["CREATE a", "PUT a k 1", "GET a k"]);
    let run = run_case(&case, &|| Stage::Fixed.registry(), &tiny_bound());
    assert_eq!(run.failure, None);
    let Verdict::Undecided(undecided) = run.verdict() else {
        panic!("expected undecided, got {:?}", run.verdict());
    };
    assert_eq!(undecided.search.states_max, 2);
    assert_eq!(undecided.search.partition.as_deref(), Some("a"));
    assert_eq!(undecided.step, run.steps, "the last check, at quiescence");
    assert_eq!(
        undecided.to_string(),
        format!(
            "P4 linearizable undecided at event {}: the search of object \"a\" (3 operations) reached its bound of 2 configurations",
            run.steps
        )
    );
    // The default bound decides the same case.
    let decided = run_case(&case, &|| Stage::Fixed.registry(), &CheckConfig::default());
    assert_eq!(decided.verdict(), Verdict::Holds);
}

#[test]
fn a_search_counts_undecided_cases_and_never_says_all_hold() {
    let config = SearchConfig {
        cases: 64,
        seed: 0,
        check: tiny_bound(),
        ..SearchConfig::default()
    };
    let summary = check_registry(&|| Stage::Fixed.registry(), &config)
        .unwrap_or_else(|counterexample| panic!("{counterexample}"));
    assert_eq!(summary.cases, 64);
    assert!(summary.undecided > 0, "{summary:?}");
    assert!(!summary.all_hold());
    let text = summary.to_string();
    assert!(!text.contains("all properties hold"), "{text}");
    assert!(text.contains("undecided"), "{text}");
    assert!(text.contains("bound of 2 configurations"), "{text}");
    // The same search with the default bound decides every case.
    let config = SearchConfig {
        check: CheckConfig::default(),
        ..config
    };
    let summary = check_registry(&|| Stage::Fixed.registry(), &config)
        .unwrap_or_else(|counterexample| panic!("{counterexample}"));
    assert!(summary.all_hold(), "{summary}");
    assert_eq!(summary.to_string(), "all properties hold in 64 cases");
}

#[test]
fn a_search_counts_cases_cut_by_a_limit() {
    let mut check = CheckConfig::default();
    check.limits.steps_max = 3;
    let config = SearchConfig {
        cases: 16,
        seed: 0,
        check,
        ..SearchConfig::default()
    };
    let summary = check_registry(&|| Stage::Fixed.registry(), &config)
        .unwrap_or_else(|counterexample| panic!("{counterexample}"));
    assert!(summary.cut > 0, "{summary:?}");
    assert!(!summary.all_hold());
    assert!(
        summary.to_string().contains("cut by a limit (first: case "),
        "{summary}"
    );
    assert!(
        summary.to_string().contains("LIMIT max-steps 3"),
        "{summary}"
    );
}

const SHORT_HISTORY: &str = r#"{
  "kvsim_case": 2,
  "registry": "fixed",
  "clients": [
    {
      "id": 0,
      "commands": [
        { "id": 0, "line": "CREATE a" },
        { "id": 1, "line": "PUT a k 1" },
        { "id": 2, "line": "GET a k" }
      ]
    }
  ],
  "faults": [],
  "schedule": []
}
"#;

#[test]
fn kvsim_replay_says_undecided_with_the_bound_and_exits_3() {
    let dir = TempDir::new("replay-undecided");
    let case = dir.file("short.case.json", SHORT_HISTORY.as_bytes());
    let case = case.to_str().unwrap();
    let run = kvsim(&["replay", case, "--linearizability-bound", "2"]);
    assert_eq!(run.code, Some(3), "{run:?}");
    let last = run.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("P4 linearizable undecided at event ")
            && last.ends_with(
                " on registry fixed: the search of object \"a\" (3 operations) reached its bound of 2 configurations"
            ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("all properties hold"), "{run:?}");
    // Decided with the default bound.
    let run = kvsim(&["replay", case]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout
            .ends_with("all properties hold on registry fixed\n")
    );
}

#[test]
fn kvsim_run_check_says_undecided_and_exits_3() {
    let dir = TempDir::new("run-undecided");
    let script = dir.file("short.kv", b"CREATE a\nPUT a k 1\nGET a k\n");
    let run = kvsim(&[
        "run",
        script.to_str().unwrap(),
        "--check",
        "--linearizability-bound",
        "2",
        "--out",
        dir.path.join("out").to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(
        run.stdout.contains("P4 linearizable undecided at event ")
            && run.stdout.contains("reached its bound of 2 configurations"),
        "{}",
        run.stdout
    );
    assert!(
        !dir.path.join("out").exists(),
        "an undecided case is not saved as a failure"
    );
}

#[test]
fn a_run_cut_by_max_steps_is_reported_as_cut_not_passing() {
    let dir = TempDir::new("replay-cut");
    let case = dir.file("short.case.json", SHORT_HISTORY.as_bytes());
    let run = kvsim(&["replay", case.to_str().unwrap(), "--max-steps", "2"]);
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(
        run.stdout.ends_with(
            "LIMIT max-steps 2\nrun cut at event 2 on registry fixed: properties were checked only up to the cut\n"
        ),
        "{}",
        run.stdout
    );
    let script = dir.file("short.kv", b"CREATE a\nPUT a k 1\nGET a k\n");
    let run = kvsim(&[
        "run",
        script.to_str().unwrap(),
        "--check",
        "--max-steps",
        "2",
    ]);
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(run.stdout.contains("run cut at event 2"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("all properties hold"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_zero_bound_is_bad_input() {
    let dir = TempDir::new("replay-zero-bound");
    let case = dir.file("short.case.json", SHORT_HISTORY.as_bytes());
    let run = kvsim(&[
        "replay",
        case.to_str().unwrap(),
        "--linearizability-bound",
        "0",
    ]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("at least 1"), "{}", run.stderr);
}

// ----- a late reply dropped at an inactive alias -----

/// Answers every lookup late: it keeps the caller's `From`, and a timer
/// that fires after the caller's own timeout sends the reply, which then
/// reaches an alias the caller has deactivated.
#[derive(Default)]
struct LateLookups {
    names: BTreeMap<String, (Pid, Ref)>,
    waiting: BTreeMap<TimerRef, (From, String)>,
}

impl GenServer<KvMsg> for LateLookups {
    fn handle_call(
        &mut self,
        ctx: &mut Ctx<'_, Envelope<KvMsg>>,
        req: KvMsg,
        from: From,
    ) -> CallResult<KvMsg> {
        match req {
            KvMsg::Lookup(name) => {
                let timer = ctx.start_timer(DEFAULT_CALL_TIMEOUT_MS + 1_000);
                self.waiting.insert(timer, (from, name));
                CallResult::NoReply
            }
            _ => CallResult::Reply(KvMsg::Ok),
        }
    }

    fn handle_cast(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, req: KvMsg) -> Flow {
        if let KvMsg::Create(name) = req
            && let Ok(bucket) = spawn_bucket(ctx, &name, false, true)
            && let Some(mref) = bucket.mref
        {
            self.names.insert(name, (bucket.pid, mref));
        }
        Flow::Continue
    }

    fn handle_info(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, info: Info<KvMsg>) -> Flow {
        if let Info::Timer(timer) = info
            && let Some((from, name)) = self.waiting.remove(&timer)
        {
            let pid = self.names.get(&name).map(|&(pid, _)| pid);
            reply(ctx, from, KvMsg::Found(pid));
        }
        Flow::Continue
    }
}

impl Registry for LateLookups {
    fn names(&self) -> Vec<(String, Pid)> {
        self.names
            .iter()
            .map(|(name, &(pid, _))| (name.clone(), pid))
            .collect()
    }

    fn monitor_refs(&self) -> Vec<(Ref, String)> {
        self.names
            .iter()
            .map(|(name, &(_, mref))| (mref, name.clone()))
            .collect()
    }
}

#[test]
fn a_late_reply_to_an_inactive_alias_is_traced_as_such_not_as_a_death() {
    let case = one_client(&["CREATE a", "LOOKUP a", "LOOKUP a"]);
    let config = CheckConfig {
        properties: PropertySet::none(),
        tracing: true,
        ..CheckConfig::default()
    };
    let run = run_case(&case, &|| Box::new(LateLookups::default()), &config);
    let trace = run.trace.expect("traced").to_text();
    // The first lookup's reply arrives after its timeout, while the client
    // (and the registry) are alive and the second lookup is in flight.
    assert!(
        trace.contains(
            "registry -> client0: reply {:ok, bucket:a#0} (tag 1) (dropped: alias 1 inactive)"
        ),
        "{trace}"
    );
    assert!(!trace.contains("is dead"), "{trace}");
}

// ----- dead processes by logical name, traced or not -----

/// Breaks when a bucket it has seen alive is gone, naming it as the
/// simulator does: `name_of` of a dead pid.
#[derive(Default)]
struct NoBucketDies {
    seen: BTreeSet<Pid>,
}

impl CustomProperty for NoBucketDies {
    fn name(&self) -> &'static str {
        "no-bucket-dies"
    }

    fn check(&mut self, system: &KvSystem) -> Result<(), String> {
        for (role, pids) in system.sim.roles() {
            if role.starts_with("bucket:") {
                self.seen.extend(pids.iter().copied());
            }
        }
        match self.seen.iter().find(|&&pid| !system.sim.is_alive(pid)) {
            Some(&dead) => Err(format!("{} died", system.sim.name_of(dead))),
            None => Ok(()),
        }
    }
}

#[test]
fn a_dead_bucket_has_its_logical_name_with_tracing_on_or_off() {
    let case = one_client(&["CREATE a", "STOP a"]);
    let properties = PropertySet::none().with_custom(|| Box::new(NoBucketDies::default()));
    let detail = |tracing: bool| {
        let config = CheckConfig {
            properties: properties.clone(),
            tracing,
            ..CheckConfig::default()
        };
        run_case(&case, &|| Stage::Fixed.registry(), &config)
            .failure
            .expect("the bucket dies")
            .detail
    };
    assert_eq!(detail(false), "bucket:a#0 died");
    assert_eq!(detail(true), "bucket:a#0 died");
}

// ----- the shrinker keeps the property first found -----

const SHRINK_SEEDS: std::ops::Range<u64> = 0..10;

fn search(seed: u64, shrink_to: ShrinkTarget) -> SearchConfig {
    SearchConfig {
        cases: 2_000,
        seed,
        shrink_to,
        ..SearchConfig::default()
    }
}

#[test]
fn the_shrunk_case_breaks_the_property_first_found() {
    for stage in [
        Stage::Naive,
        Stage::Monitored,
        Stage::NoCatchAll,
        Stage::Unlinked,
    ] {
        for seed in SHRINK_SEEDS {
            let counterexample = check_registry(
                &|| stage.registry(),
                &search(seed, ShrinkTarget::FirstFound),
            )
            .expect_err("a flawed stage fails");
            assert_eq!(
                counterexample.failure.property, counterexample.found.property,
                "{stage}, seed {seed}:\n{counterexample}"
            );
        }
    }
}

/// Shrinking to any property can end on another bug than the one found;
/// the report then says both. Some seed of some stage does it (which one
/// depends on the generator's stream, so all are tried).
#[test]
fn shrinking_to_any_property_may_switch_and_the_report_says_both() {
    let switched = [Stage::Naive, Stage::Monitored, Stage::Unlinked]
        .into_iter()
        .flat_map(|stage| SHRINK_SEEDS.map(move |seed| (stage, seed)))
        .find_map(|(stage, seed)| {
            let counterexample = check_registry(
                &|| stage.registry(),
                &search(seed, ShrinkTarget::AnyProperty),
            )
            .expect_err("a flawed stage fails");
            (counterexample.failure.property != counterexample.found.property)
                .then_some((stage, counterexample))
        });
    let (stage, counterexample) = switched.expect("no seed switched property");
    let dir = TempDir::new("both-properties");
    let report = FailureReport::save(&counterexample, stage.name(), &dir.path).expect("saves");
    let text = report.to_string();
    let found = &counterexample.found;
    assert!(
        text.contains(&format!(
            "(first found as {} at event {}, before shrinking: ",
            found.property, found.step
        )),
        "{text}"
    );
    assert!(
        text.starts_with(&format!(
            "property {} broke",
            counterexample.failure.property
        )),
        "{text}"
    );
}

#[test]
fn a_report_of_an_unchanged_property_names_it_once() {
    let counterexample = check_registry(
        &|| Stage::Unlinked.registry(),
        &search(0, ShrinkTarget::FirstFound),
    )
    .expect_err("unlinked fails");
    let dir = TempDir::new("one-property");
    let report = FailureReport::save(&counterexample, "unlinked", &dir.path).expect("saves");
    assert!(!report.to_string().contains("first found as"), "{report}");
}

// ----- P4 and the case file -----

#[test]
fn an_undecided_case_holds_p4_but_is_not_a_pass() {
    let case = Case {
        clients: vec![CaseClient {
            id: 0,
            commands: vec![
                (0, Command::Create { bucket: "a".into() }),
                (1, Command::Lookup { bucket: "a".into() }),
                (2, Command::Lookup { bucket: "a".into() }),
            ],
        }],
        ..Case::default()
    };
    let run = run_case(&case, &|| Stage::Fixed.registry(), &tiny_bound());
    assert!(run.holds(P4_LINEARIZABLE), "no failure of P4 ...");
    assert!(
        matches!(run.verdict(), Verdict::Undecided(_)),
        "... but not a pass"
    );
}

// ----- STOP registry is generated, rarely, and licensed -----

#[test]
fn the_generator_stops_the_registry_rarely_and_fixed_holds_when_it_does() {
    let config = SearchConfig {
        cases: 2_000,
        seed: 0,
        ..SearchConfig::default()
    };
    let stop_registry = Command::Stop {
        target: kvsim::kv::Target::Registry,
    };
    let stopping: Vec<Case> = (0..config.cases)
        .filter_map(|index| nth_case(&config, index))
        .filter(|case| {
            case.clients
                .iter()
                .any(|client| client.commands.iter().any(|(_, c)| *c == stop_registry))
        })
        .collect();
    // About one case in ten: enough to cover a stopped registry, rare
    // enough not to cut short the cases that look for races.
    let share = stopping.len() as f64 / f64::from(config.cases);
    assert!(
        (0.02..0.2).contains(&share),
        "{} of {}",
        stopping.len(),
        config.cases
    );
    // Property 3's licence: a registry a client stopped may die.
    for case in &stopping {
        let run = run_case(case, &|| Stage::Fixed.registry(), &CheckConfig::default());
        assert_eq!(
            run.verdict(),
            Verdict::Holds,
            "{}",
            case.to_json(&Default::default())
        );
    }
}

/// The `STOP registry` draw comes after every other draw of a case: with
/// it disabled, every case is the same but for that one command.
#[test]
fn stopping_the_registry_changes_nothing_else_a_case_draws() {
    let with = SearchConfig {
        cases: 500,
        seed: 3,
        ..SearchConfig::default()
    };
    let mut without = with.clone();
    without
        .generator
        .command_kinds
        .retain(|&kind| kind != kvsim::check::generate::CommandKind::StopRegistry);
    let stop_registry = Command::Stop {
        target: kvsim::kv::Target::Registry,
    };
    let mut stopped = 0;
    for index in 0..with.cases {
        let mut case = nth_case(&with, index).expect("generates");
        let plain = nth_case(&without, index).expect("generates");
        for client in &mut case.clients {
            let before = client.commands.len();
            client
                .commands
                .retain(|(_, command)| *command != stop_registry);
            if client.commands.len() != before {
                stopped += 1;
                // Ids are positions: renumber as the generator would have.
                for (id, (command_id, _)) in client.commands.iter_mut().enumerate() {
                    *command_id = id as u32;
                }
            }
        }
        assert_eq!(case, plain, "case {index}");
    }
    assert!(stopped > 0);
}
