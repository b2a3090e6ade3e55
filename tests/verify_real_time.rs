//! Property 4 over every real-time order of an explored run
//! (`kvsim::check::verify::dpor`): the search leaves property 4's history
//! out of the dependence relation, so it must find a violation that only
//! some real-time orders of a run show.
//!
//! The user registry with [`Flaw::NamesLater`] names a bucket only when a
//! message it sends itself arrives. A `LOOKUP` handled in between misses
//! the name: linearizable when the lookup was called before the registry
//! handled the `CREATE` (the lookup goes first), not when it was called
//! after. Which of the two a run shows is only the order of the caller's
//! action and the registry's handling of `CREATE`, which touch nothing in
//! common: one trace of the reduced relation holds both. Against the plain
//! enumeration, the reduced search must give the same outcomes (property 4
//! broken in some, not all), and a counterexample that replays.

#[path = "support/user_registry.rs"]
mod user_registry;
#[allow(dead_code)]
#[path = "support/verify_cases.rs"]
mod verify_cases;

use kvsim::check::oracle::{OracleConfig, enumerate};
use kvsim::check::verify::dpor::{Root, search};
use kvsim::check::{Case, CheckConfig, P4_LINEARIZABLE, RegistryFactory, run_case, verify};
use kvsim::check::{Reduction, VerifyConfig};
use kvsim::kv::script;
use std::collections::BTreeSet;
use std::path::Path;
use user_registry::{Flaw, UserRegistry};
use verify_cases::check;

fn case(text: &str) -> Case {
    let parsed =
        script::parse(Path::new("late.kv"), text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    Case::from_script(&parsed)
}

const SCRIPTS: [&str; 3] = [
    "CLIENT c1\nCREATE a\nCLIENT c2\nLOOKUP a\n",
    "CLIENT c1\nCREATE a\nLOOKUP a\n",
    "CLIENT c1\nCREATE a\nPUT a k v\nCLIENT c2\nLOOKUP a\nGET a k\n",
];

#[test]
fn names_registered_late_break_property_4_in_some_orders_as_in_the_plain_enumeration() {
    let factory = UserRegistry::factory(Flaw::NamesLater);
    let registry: &RegistryFactory<'_> = &factory;
    for text in SCRIPTS {
        let case = case(text);
        let oracle = enumerate(
            &case,
            registry,
            &OracleConfig {
                check: check(),
                runs_max: 1_000_000,
            },
        );
        assert!(oracle.complete(), "{text}: {oracle}");
        let broken =
            |outcome: &kvsim::check::oracle::RunOutcome| outcome.broken.contains(&P4_LINEARIZABLE);
        let expected: BTreeSet<_> = oracle.outcomes.keys().cloned().collect();
        assert!(
            expected.iter().any(broken) && !expected.iter().all(broken),
            "{text}: property 4 should break in some schedules, not all"
        );
        let reduced = search(&case, registry, &check(), &Root::whole());
        let found: BTreeSet<_> = reduced.outcomes.keys().cloned().collect();
        assert_eq!(found, expected, "{text}");
        assert!(reduced.stats.schedules < oracle.runs, "{text}");
        let shortest = reduced.shortest.expect("property 4 breaks");
        assert_eq!(shortest.property, P4_LINEARIZABLE, "{text}");
        let replay = Case {
            schedule: shortest.schedule.clone(),
            ..case.clone()
        };
        let run = run_case(&replay, registry, &CheckConfig::default());
        let failure = run.failure.expect("the counterexample replays");
        assert_eq!(failure.property, P4_LINEARIZABLE, "{text}");
        assert_eq!(failure.step, shortest.schedule.len() as u64, "{text}");
        eprintln!(
            "{text:?}: plain {} schedules, reduced {}, counterexample {} events",
            oracle.runs, reduced.stats.schedules, shortest.causal_past
        );
    }
}

#[test]
fn verify_reports_the_late_name_with_a_counterexample_that_replays() {
    let factory = UserRegistry::factory(Flaw::NamesLater);
    let registry: &RegistryFactory<'_> = &factory;
    let case = case(SCRIPTS[2]);
    for reduction in [Reduction::SourceDpor, Reduction::None] {
        let config = VerifyConfig {
            threads: 1,
            reduction,
            out: None,
            ..VerifyConfig::default()
        };
        let report = verify(&case, registry, &config);
        let result = &report.result;
        assert_eq!(result.verdict, "failed", "{reduction}: {report}");
        let failure = result.counterexample.as_ref().expect("a counterexample");
        // The report's failure is the traced replay of the saved case.
        assert_eq!(failure.property, P4_LINEARIZABLE.to_string(), "{report}");
        assert_eq!(failure.step, failure.causal_past, "{report}");
    }
}
