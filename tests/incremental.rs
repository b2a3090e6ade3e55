//! The scheduler keeps the enabled events incrementally and the built-in
//! choice sources pick from those sets (`Incremental`), instead of being
//! shown the whole candidate list at every step. Both must give the same
//! run: for random cases (several clients, `SETTLE`, crashes, stops, faults)
//! under every strategy, with and without overrides in front, a run through
//! the incremental form and a run through the list form (the same source
//! with its incremental form hidden) produce the same trace, byte for byte,
//! and the same schedule; and at every step the kept sets equal the enabled
//! events computed from scratch.

use kvsim::check::{
    Case, CaseClient, CaseFault, CheckConfig, Strategy as Sched, choice_source, run_case,
};
use kvsim::kv::{Command, KvFault, KvSystem, Stage, Target};
use kvsim::sim::choice::Overrides;
use kvsim::sim::{Choice, ChoiceSource, EventKey, KeyArena, Limits};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// A source with its incremental form hidden: the scheduler shows it the
/// whole list at every step.
struct ListOnly(Box<dyn ChoiceSource>);

impl ChoiceSource for ListOnly {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        self.0.choose(choice)
    }

    fn prepare(&mut self, keys: &mut KeyArena) {
        self.0.prepare(keys)
    }

    fn is_fifo(&self) -> bool {
        self.0.is_fifo()
    }
}

const NAMES: [&str; 2] = ["a", "b"];

fn command() -> impl Strategy<Value = Command> {
    let name = proptest::sample::select(NAMES.to_vec()).prop_map(str::to_string);
    prop_oneof![
        name.clone().prop_map(|bucket| Command::Create { bucket }),
        name.clone().prop_map(|bucket| Command::Lookup { bucket }),
        name.clone().prop_map(|bucket| Command::Put {
            bucket,
            key: "k".into(),
            value: "v".into()
        }),
        name.clone().prop_map(|bucket| Command::Get {
            bucket,
            key: "k".into()
        }),
        Just(Command::Settle),
        Just(Command::Settle),
        name.clone().prop_map(|bucket| Command::Crash {
            target: Target::Bucket(bucket),
            reason: None
        }),
        name.clone().prop_map(|bucket| Command::Stop {
            target: Target::Bucket(bucket)
        }),
        Just(Command::Stop {
            target: Target::Registry
        }),
        Just(Command::Kill {
            target: Target::Registry
        }),
        Just(Command::SendRegistry { word: "x".into() }),
    ]
}

fn fault() -> impl Strategy<Value = KvFault> {
    let name = proptest::sample::select(NAMES.to_vec()).prop_map(str::to_string);
    prop_oneof![
        name.clone().prop_map(KvFault::KillBucket),
        name.prop_map(KvFault::CrashBucket),
        Just(KvFault::StrayRegistry),
        Just(KvFault::KillRegistry),
        Just(KvFault::CrashRegistry),
    ]
}

/// 0 `fifo`, 1 random, 2 POS, 3 PCT (any depth), each maybe behind
/// overrides drawn from a random run of the case.
fn case() -> impl Strategy<Value = (Case, u8, Vec<u32>)> {
    let clients = proptest::collection::vec(proptest::collection::vec(command(), 1..6), 1..6);
    let faults = proptest::collection::vec(fault(), 0..3);
    let strategy = (0u8..4, any::<u64>(), 1u32..5);
    let picks = proptest::collection::vec(any::<u32>(), 0..6);
    (clients, faults, strategy, picks).prop_map(|(clients, faults, (kind, seed, depth), picks)| {
        let case = Case {
            clients: (0u32..)
                .zip(clients)
                .map(|(id, commands)| CaseClient {
                    id,
                    commands: (0u32..).zip(commands).collect(),
                })
                .collect(),
            faults: (0u32..)
                .zip(faults)
                .map(|(id, fault)| CaseFault { id, fault })
                .collect(),
            schedule: Vec::new(),
            strategy: match kind {
                0 => None,
                1 => Some(Sched::Random { seed }),
                2 => Some(Sched::Pos { seed }),
                _ => Some(Sched::Pct { seed, depth }),
            },
        };
        (case, kind, picks)
    })
}

fn config() -> CheckConfig {
    CheckConfig {
        limits: Limits {
            steps_max: 2_000,
            ..Limits::default()
        },
        tracing: true,
        ..CheckConfig::default()
    }
}

/// Runs `case` on `stage` with `chooser`, checking the kept sets at every
/// step; returns the trace text and the schedule taken.
fn run(case: &Case, stage: Stage, chooser: Box<dyn ChoiceSource>) -> (String, Vec<EventKey>) {
    let config = config();
    let mut system = KvSystem::new(stage.registry(), chooser, config.limits, true);
    for client in &case.clients {
        system.add_client(client.id, client.commands.clone().into_iter(), true);
    }
    for fault in &case.faults {
        system.add_fault(fault.id, &fault.fault);
    }
    assert!(system.sim.enabled_consistent(), "at setup");
    while system.sim.step() {
        assert!(
            system.sim.enabled_consistent(),
            "after step {}",
            system.sim.steps()
        );
    }
    let trace = system.sim.take_trace().expect("tracing").to_text();
    (trace, system.sim.schedule_taken())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/incremental.txt"
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn incremental_and_list_forms_give_the_same_run(
        (mut case, kind, picks) in case(),
        stage in proptest::sample::select(Stage::ALL.to_vec()),
    ) {
        let config = config();
        let factory = || stage.registry();
        if !picks.is_empty() {
            // Overrides in front: keys a random run of the case took.
            let recorded = Case { strategy: Some(Sched::Random { seed: 1 }), ..case.clone() };
            let taken = run_case(&recorded, &factory, &CheckConfig { tracing: false, ..config.clone() })
                .schedule_taken;
            if !taken.is_empty() {
                case.schedule = picks.iter().map(|&p| taken[p as usize % taken.len()].clone()).collect();
            }
        }
        let incremental = run(&case, stage, choice_source(&case, &factory, &config));
        let listed = run(&case, stage, Box::new(ListOnly(choice_source(&case, &factory, &config))));
        prop_assert_eq!(&incremental.1, &listed.1, "schedules differ (kind {})", kind);
        prop_assert!(incremental.0 == listed.0, "traces differ (kind {kind})");
        // An override list alone (no fallback) is the other incremental path.
        let overrides = run(&case, stage, Box::new(Overrides::new(case.schedule.clone())));
        let overrides_listed = run(
            &case,
            stage,
            Box::new(ListOnly(Box::new(Overrides::new(case.schedule.clone())))),
        );
        prop_assert!(overrides.0 == overrides_listed.0, "override traces differ");
    }
}
