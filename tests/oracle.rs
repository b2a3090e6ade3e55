//! The exhaustive oracle (`kvsim::check::oracle`) on its scenarios
//! (`examples/oracle/`), and every strategy measured against it: random
//! walk and POS reach every outcome within 10,000 runs, generated override
//! lists within 100,000 cases, PCT reaches every outcome of its depth, and
//! nothing any of them produces is outside the oracle's set.
//!
//! The `2x3` scenario of the peer comparison (c0: CREATE a, LOOKUP a,
//! CREATE b; c1: CREATE b, LOOKUP b, LOOKUP a; one `kill bucket:a`) has
//! 1,750,320 schedules: too many for a test at the test profile's
//! optimisation. The tests run it reduced to `2x2-kill` (c0's `CREATE b`
//! and c1's `LOOKUP b` dropped: 25,344 schedules); the full one is an
//! ignored test for a release build
//! (`cargo test --release --test oracle -- --ignored`).

use kvsim::check::oracle::{OracleConfig, OracleReport, RunOutcome, enumerate, enumerate_pct};
use kvsim::check::{
    Case, CheckConfig, P1_LOOKUP_IS_ALIVE, P4_LINEARIZABLE, RegistryFactory, StrategyKind,
    case_seed, choice_source, fifo_length, run_case_with,
};
use kvsim::kv::script;
use kvsim::kv::{KvMsg, Registry, Stage, spawn_bucket};
use kvsim::otp::{CallResult, Envelope, Flow, From, GenServer, Info};
use kvsim::sim::choice::{Pct, Pos, RandomWalk};
use kvsim::sim::{ChoiceSource, Ctx, Pid, Prng, Reason, Ref};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Runs a strategy may take to reach every outcome.
const STRATEGY_RUNS_MAX: u64 = 10_000;
/// Cases of generated overrides that may be taken to reach every outcome.
const GENERATED_CASES_MAX: u64 = 100_000;
/// At most this many overrides per generated list (the generator's
/// default bound).
const GENERATED_OVERRIDES_MAX: usize = 6;
/// Runs every strategy takes at least, so that "nothing outside the set"
/// is checked on more than the first few.
const STRATEGY_RUNS_MIN: u64 = 500;

fn scenario(name: &str) -> Case {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/oracle")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    if name.ends_with(".case.json") {
        Case::from_json(&path, &text)
            .unwrap_or_else(|error| panic!("{error}"))
            .0
    } else {
        let parsed = script::parse(&path, text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        Case::from_script(&parsed)
    }
}

/// A registry written with the public API whose lookup checks liveness but
/// whose create trusts its map (the chapter's `if HashDict.get(names,
/// name)`): the lost restart's registry.
#[derive(Default)]
struct TrustingCreate {
    names: BTreeMap<String, (Pid, Ref)>,
}

impl GenServer<KvMsg> for TrustingCreate {
    fn handle_call(
        &mut self,
        ctx: &mut Ctx<'_, Envelope<KvMsg>>,
        req: KvMsg,
        _from: From,
    ) -> CallResult<KvMsg> {
        match req {
            KvMsg::Lookup(name) => {
                let pid = self.names.get(&name).map(|&(pid, _)| pid);
                CallResult::Reply(KvMsg::Found(pid.filter(|&pid| ctx.is_alive(pid))))
            }
            KvMsg::Stop => CallResult::Stop {
                reason: Reason::Normal,
                reply: Some(KvMsg::Ok),
            },
            _ => CallResult::Stop {
                reason: Reason::FunctionClause,
                reply: None,
            },
        }
    }

    fn handle_cast(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, req: KvMsg) -> Flow {
        let KvMsg::Create(name) = req else {
            return Flow::Continue;
        };
        if self.names.contains_key(&name) {
            return Flow::Continue;
        }
        match spawn_bucket(ctx, &name, false, true) {
            Ok(bucket) => {
                if let Some(mref) = bucket.mref {
                    self.names.insert(name, (bucket.pid, mref));
                }
                Flow::Continue
            }
            Err(reason) => Flow::Stop(reason),
        }
    }

    fn handle_info(&mut self, _ctx: &mut Ctx<'_, Envelope<KvMsg>>, info: Info<KvMsg>) -> Flow {
        if let Info::Down { mref, .. } = info {
            self.names.retain(|_, &mut (_, watched)| watched != mref);
        }
        Flow::Continue
    }
}

impl Registry for TrustingCreate {
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

fn trusting_create() -> Box<dyn Registry> {
    Box::new(TrustingCreate::default())
}

/// The registries every scenario runs on: two built-in stages and a user's.
fn registries() -> Vec<(&'static str, Box<RegistryFactory<'static>>)> {
    vec![
        ("unlinked", Box::new(|| Stage::Unlinked.registry())),
        ("fixed", Box::new(|| Stage::Fixed.registry())),
        ("trusting-create (a user's)", Box::new(trusting_create)),
    ]
}

fn checked() -> CheckConfig {
    CheckConfig {
        run_to_end: true,
        ..OracleConfig::default().check
    }
}

/// The oracle's bounds here: room for `2x3`'s 1,750,320 schedules.
fn oracle_config() -> OracleConfig {
    OracleConfig {
        runs_max: 2_000_000,
        ..OracleConfig::default()
    }
}

fn oracle(case: &Case, registry: &RegistryFactory<'_>) -> OracleReport {
    let report = enumerate(case, registry, &oracle_config());
    assert!(report.complete(), "{report}");
    report
}

/// Runs `chooser(seed)` for seeds 0.. until every outcome of `all` is
/// reached (and at least [`STRATEGY_RUNS_MIN`] runs), asserting that no
/// run ends outside `all`. Returns the runs it took to reach the last new
/// outcome, or `None` if [`STRATEGY_RUNS_MAX`] runs did not reach them all
/// (with what was missed).
fn reach(
    case: &Case,
    registry: &RegistryFactory<'_>,
    all: &BTreeSet<RunOutcome>,
    what: &str,
    chooser: impl Fn(u64) -> Box<dyn ChoiceSource>,
) -> Result<u64, Vec<RunOutcome>> {
    reach_within(case, registry, all, what, STRATEGY_RUNS_MAX, chooser)
}

fn reach_within(
    case: &Case,
    registry: &RegistryFactory<'_>,
    all: &BTreeSet<RunOutcome>,
    what: &str,
    runs_max: u64,
    chooser: impl Fn(u64) -> Box<dyn ChoiceSource>,
) -> Result<u64, Vec<RunOutcome>> {
    let check = checked();
    let mut missing: BTreeSet<&RunOutcome> = all.iter().collect();
    let mut last_new = 0;
    for seed in 0..runs_max {
        if missing.is_empty() && seed >= STRATEGY_RUNS_MIN {
            return Ok(last_new);
        }
        let run = run_case_with(case, registry, &check, chooser(seed));
        let outcome = RunOutcome::of(&run);
        assert!(
            all.contains(&outcome),
            "{what} seed {seed} produced an outcome outside the oracle's set:\n{outcome}\nschedule {:?}",
            run.schedule_taken
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
        if missing.remove(&outcome) {
            last_new = seed + 1;
        }
    }
    if missing.is_empty() {
        Ok(last_new)
    } else {
        Err(missing.into_iter().cloned().collect())
    }
}

fn render(outcomes: &[RunOutcome]) -> String {
    outcomes.iter().map(|o| format!("---\n{o}")).collect()
}

/// Every check of the module on one scenario and registry; PCT up to
/// `pct_depth_max`.
/// Generated overrides as the search generates them (case `seed` of the
/// portfolio's override kind): picks among the keys a random-walk run of
/// the case recorded.
fn generated_overrides(
    case: &Case,
    registry: &RegistryFactory<'_>,
    seed: u64,
) -> Box<dyn ChoiceSource> {
    let mut prng = Prng::new(case_seed(0, seed));
    let strategy = StrategyKind::Overrides.draw(&mut prng, GENERATED_OVERRIDES_MAX);
    let with = Case {
        strategy: Some(strategy),
        ..case.clone()
    };
    choice_source(&with, registry, &checked())
}

/// Whether to run generated override lists against the oracle.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Generated {
    /// Up to [`GENERATED_CASES_MAX`] cases must reach every outcome.
    Check,
    /// Not checked (the 1.75 M-schedule `2x3`, where only the oracle's
    /// and the strategies' figures are wanted).
    Skip,
}

fn measure_strategies(
    name: &str,
    registry_name: &str,
    case: &Case,
    registry: &RegistryFactory<'_>,
    pct_depth_max: usize,
    generated: Generated,
) -> OracleReport {
    let report = oracle(case, registry);
    let all: BTreeSet<RunOutcome> = report.outcomes.keys().cloned().collect();
    println!("{name} on {registry_name}: {report}");

    for (what, make) in [
        (
            "random",
            &(|seed| Box::new(RandomWalk::new(seed)) as Box<dyn ChoiceSource>)
                as &dyn Fn(u64) -> Box<dyn ChoiceSource>,
        ),
        ("pos", &|seed| {
            Box::new(Pos::new(seed)) as Box<dyn ChoiceSource>
        }),
    ] {
        match reach(case, registry, &all, what, make) {
            Ok(runs) => println!("  {what}: every outcome within {runs} runs"),
            Err(missed) => panic!(
                "{name} on {registry_name}: {what} missed {} of {} outcomes in {STRATEGY_RUNS_MAX} runs:\n{}",
                missed.len(),
                all.len(),
                render(&missed)
            ),
        }
    }

    if generated == Generated::Check {
        let what = "generated overrides";
        match reach_within(case, registry, &all, what, GENERATED_CASES_MAX, |seed| {
            generated_overrides(case, registry, seed)
        }) {
            Ok(cases) => println!("  {what}: every outcome within {cases} cases"),
            Err(missed) => panic!(
                "{name} on {registry_name}: {what} missed {} of {} outcomes in {GENERATED_CASES_MAX} cases:\n{}",
                missed.len(),
                all.len(),
                render(&missed)
            ),
        }
    }

    let k = fifo_length(case, registry, &checked());
    let mut shallower: BTreeSet<RunOutcome> = BTreeSet::new();
    for depth in 1..=pct_depth_max {
        let space = enumerate_pct(case, registry, &oracle_config(), depth, k);
        assert!(space.complete(), "{space}");
        let reachable: BTreeSet<RunOutcome> = space.outcomes.keys().cloned().collect();
        let outside: Vec<RunOutcome> = reachable.difference(&all).cloned().collect();
        assert!(
            outside.is_empty(),
            "PCT's decision space at depth {depth} reaches outcomes the oracle does not:\n{}",
            render(&outside)
        );
        let lost: Vec<RunOutcome> = shallower.difference(&reachable).cloned().collect();
        assert!(
            lost.is_empty(),
            "an outcome of depth < {depth} is not reachable at depth {depth}:\n{}",
            render(&lost)
        );
        let what = format!("pct d={depth}");
        let sampled = reach(case, registry, &reachable, &what, |seed| {
            Box::new(Pct::new(seed, depth, k))
        });
        match sampled {
            Ok(runs) => println!(
                "  pct d={depth} (k={k}): {} of {} outcomes have depth <= {depth} ({} new); every one within {runs} seeds; decision space {} runs",
                reachable.len(),
                all.len(),
                reachable.len() - shallower.len(),
                space.runs
            ),
            Err(missed) => panic!(
                "{name} on {registry_name}: PCT at depth {depth} missed {} of its {} outcomes in {STRATEGY_RUNS_MAX} seeds:\n{}",
                missed.len(),
                reachable.len(),
                render(&missed)
            ),
        }
        shallower = reachable;
    }
    report
}

fn broken(report: &OracleReport) -> BTreeSet<String> {
    report
        .outcomes
        .keys()
        .flat_map(|o| o.broken.iter().map(ToString::to_string))
        .collect()
}

#[test]
fn the_chapters_dialogue_has_one_outcome_on_every_registry() {
    let case = scenario("chapter.kv");
    for (name, registry) in registries() {
        let report = measure_strategies("chapter", name, &case, &registry, 3, Generated::Check);
        assert_eq!(report.outcomes.len(), 1, "{name}: {report}");
        let only = report.outcomes.keys().next().unwrap();
        assert!(only.broken.is_empty(), "{name}: {only}");
        assert!(
            only.dialogue.ends_with("GET shopping milk\n1\nOK\n\n"),
            "{name}: {only}"
        );
    }
}

#[test]
fn the_lost_restart_is_an_outcome_of_registries_that_trust_their_map_on_create() {
    let case = scenario("lost_restart.kv");
    for (name, registry) in registries() {
        let report =
            measure_strategies("lost restart", name, &case, &registry, 3, Generated::Check);
        let lost = report
            .outcomes
            .keys()
            .find(|o| o.broken.contains(&P4_LINEARIZABLE));
        if name == "fixed" {
            assert_eq!(broken(&report), BTreeSet::new(), "{report}");
        } else {
            let lost = lost.unwrap_or_else(|| panic!("{name}: no lost restart in {report}"));
            assert!(lost.dialogue.ends_with("LOOKUP a\nNOT FOUND\n\n"), "{lost}");
            assert_eq!(lost.final_names, Some(Vec::new()), "{lost}");
        }
    }
}

#[test]
fn the_guides_race_is_an_outcome_of_unlinked_only() {
    let case = scenario("guide_race.kv");
    for (name, registry) in registries() {
        let report =
            measure_strategies("guide's race", name, &case, &registry, 3, Generated::Check);
        let stale = report
            .outcomes
            .keys()
            .any(|o| o.broken.contains(&P1_LOOKUP_IS_ALIVE));
        assert_eq!(stale, name == "unlinked", "{name}: {report}");
    }
}

#[test]
fn two_clients_and_a_kill_reduced_from_2x3() {
    let case = scenario("2x2-kill.case.json");
    // The user's registry runs the three smaller scenarios; here it would
    // only repeat `fixed`'s outcomes at another 25,344 schedules.
    for (name, registry) in registries().into_iter().take(2) {
        let report = measure_strategies("2x2-kill", name, &case, &registry, 2, Generated::Check);
        let breaks = broken(&report);
        match name {
            "fixed" => assert_eq!(breaks, BTreeSet::new(), "{report}"),
            "unlinked" => assert!(breaks.contains(&P1_LOOKUP_IS_ALIVE.to_string()), "{report}"),
            _ => {}
        }
    }
}

/// `2x3` itself, for a release build: 1,750,320 schedules per registry
/// (generated overrides are left out: they already miss an outcome of the
/// reduced scenario).
#[test]
#[ignore = "1.75 M schedules per registry: run with --release -- --ignored"]
fn two_clients_by_three_commands_and_a_kill() {
    let case = scenario("2x3-kill.case.json");
    for (name, registry) in registries().into_iter().take(2) {
        measure_strategies("2x3-kill", name, &case, &registry, 2, Generated::Skip);
    }
}

#[test]
fn pct_at_depth_2_hits_the_guides_race_above_its_bound() {
    let case = scenario("guide_race.kv");
    let registry = || Stage::Unlinked.registry();
    let check = checked();
    let k = fifo_length(&case, &registry, &check);
    let depth = 2;
    let mut hits = 0;
    let mut n_max = 0;
    for seed in 0..=999 {
        let pct = kvsim::sim::choice::Shared::new(Pct::new(seed, depth, k));
        let handle = std::rc::Rc::clone(&pct.0);
        let run = run_case_with(&case, &registry, &check, Box::new(pct));
        n_max = n_max.max(handle.borrow().units_seen());
        if !run.holds(P1_LOOKUP_IS_ALIVE) {
            hits += 1;
        }
    }
    let rate = f64::from(hits) / 1000.0;
    let bound = Pct::bound(n_max, k, depth);
    println!(
        "guide's race on unlinked, PCT d={depth}, seeds 0..=999: {hits}/1000 = {:.1} % hit; bound 1/(n*k^(d-1)) with n={n_max}, k={k}: {:.2} %",
        rate * 100.0,
        bound * 100.0
    );
    assert!(rate >= 0.02, "hit rate {rate} below 2 %");
    assert!(rate >= bound, "hit rate {rate} below PCT's bound {bound}");
}
