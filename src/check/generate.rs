//! Generating cases: a proptest [`Strategy`] producing the one [`Case`]
//! type (fuzzer bytes decode into it too: [`crate::check::bytes`]). Swarm
//! testing: each case first draws which command kinds and fault kinds are
//! enabled at all, so rare combinations get real coverage. Names and keys
//! come from a small alphabet so that collisions happen. `STOP registry`
//! is rare: about one case in [`STOP_REGISTRY_ONE_IN`] gets one, at a
//! random point of a random client (everything after it answers `ERROR
//! noproc`, so a frequent one would waste the cases it ends). It is drawn
//! after everything else in a case, so enabling it changes no other
//! generated command, fault or schedule.

use crate::check::case::{Case, CaseClient, CaseFault};
use crate::check::schedule::{Strategy as ScheduleStrategy, StrategyKind};
use crate::kv::{Command, KvFault, Target};
use crate::sim::EventKey;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// The command kinds a generated client may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CommandKind {
    Create,
    Lookup,
    Put,
    Get,
    Delete,
    /// `STOP <bucket>`.
    Stop,
    /// `STOP registry`: the chapter's `stop/1`, which licenses the
    /// registry's death (property 3). Not drawn like the others: at most
    /// one per case, in about one case in [`STOP_REGISTRY_ONE_IN`], and
    /// outside swarm testing's choice of kinds.
    StopRegistry,
}

impl CommandKind {
    pub const ALL: [CommandKind; 7] = [
        CommandKind::Create,
        CommandKind::Lookup,
        CommandKind::Put,
        CommandKind::Get,
        CommandKind::Delete,
        CommandKind::Stop,
        CommandKind::StopRegistry,
    ];
}

/// With [`CommandKind::StopRegistry`] enabled, one case in this many gets
/// a `STOP registry`.
pub const STOP_REGISTRY_ONE_IN: u32 = 10;

/// The fault kinds a generated plan may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    KillBucket,
    CrashBucket,
    StrayRegistry,
    KillRegistry,
    CrashRegistry,
}

impl FaultKind {
    pub const ALL: [FaultKind; 5] = [
        FaultKind::KillBucket,
        FaultKind::CrashBucket,
        FaultKind::StrayRegistry,
        FaultKind::KillRegistry,
        FaultKind::CrashRegistry,
    ];

    /// The kind's name in a fault budget (`kvsim explore --faults
    /// kill:2,stray:1`): `kill`, `crash`, `stray`, `kill-registry`,
    /// `crash-registry`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::KillBucket => "kill",
            FaultKind::CrashBucket => "crash",
            FaultKind::StrayRegistry => "stray",
            FaultKind::KillRegistry => "kill-registry",
            FaultKind::CrashRegistry => "crash-registry",
        }
    }

    /// The kind of a fault.
    pub fn of(fault: &KvFault) -> FaultKind {
        match fault {
            KvFault::KillBucket(_) => FaultKind::KillBucket,
            KvFault::CrashBucket(_) => FaultKind::CrashBucket,
            KvFault::StrayRegistry => FaultKind::StrayRegistry,
            KvFault::KillRegistry => FaultKind::KillRegistry,
            KvFault::CrashRegistry => FaultKind::CrashRegistry,
        }
    }
}

impl std::str::FromStr for FaultKind {
    type Err = String;

    fn from_str(text: &str) -> Result<FaultKind, String> {
        FaultKind::ALL
            .into_iter()
            .find(|kind| kind.name() == text)
            .ok_or_else(|| {
                format!(
                    "unknown fault kind {text:?} (expected kill, crash, stray, kill-registry or crash-registry)"
                )
            })
    }
}

/// The shape of generated cases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenConfig {
    pub clients: RangeInclusive<usize>,
    pub commands_per_client: RangeInclusive<usize>,
    pub faults: RangeInclusive<usize>,
    /// How many overrides a generated override list has (picks of a
    /// [`ScheduleStrategy::Mutation`]; at least one is drawn).
    pub overrides: RangeInclusive<usize>,
    /// The schedule strategies a case draws from (the portfolio).
    pub strategies: Vec<StrategyKind>,
    pub names: Vec<String>,
    pub keys: Vec<String>,
    pub command_kinds: Vec<CommandKind>,
    pub fault_kinds: Vec<FaultKind>,
    /// Draw a subset of the kinds per case (swarm testing).
    pub swarm: bool,
    /// At most this many faults of a kind per case (a fault budget,
    /// [`GenConfig::with_fault_budget`]); a kind not named has no cap of its
    /// own beyond `faults`. Faults past a cap are dropped from the drawn
    /// plan, so with no caps the plans are exactly those drawn.
    pub fault_caps: BTreeMap<FaultKind, usize>,
    /// Fixed client scripts (a `.kv` script's clients): when set, every
    /// case has exactly these clients and commands, and only its faults
    /// and its schedule are drawn (`clients`, `commands_per_client` and
    /// `command_kinds` are not used).
    pub script: Option<Vec<Vec<Command>>>,
}

impl Default for GenConfig {
    fn default() -> GenConfig {
        GenConfig {
            clients: 1..=4,
            commands_per_client: 1..=6,
            faults: 0..=3,
            overrides: 1..=6,
            strategies: StrategyKind::PORTFOLIO.to_vec(),
            names: vec!["a".into(), "b".into()],
            keys: vec!["k".into(), "j".into()],
            command_kinds: CommandKind::ALL.to_vec(),
            fault_kinds: FaultKind::ALL.to_vec(),
            swarm: true,
            fault_caps: BTreeMap::new(),
            script: None,
        }
    }
}

impl GenConfig {
    /// `clients` clients, otherwise the defaults.
    pub fn with_clients(clients: RangeInclusive<usize>) -> GenConfig {
        GenConfig {
            clients,
            ..GenConfig::default()
        }
    }

    /// This shape with a fault budget: at most `n` faults of each listed
    /// kind per case and none of any other kind (an empty budget: no
    /// faults at all).
    pub fn with_fault_budget(mut self, budget: &[(FaultKind, usize)]) -> GenConfig {
        self.fault_caps = budget.iter().copied().filter(|&(_, n)| n > 0).collect();
        self.fault_kinds = self.fault_caps.keys().copied().collect();
        self.faults = 0..=self.fault_caps.values().sum();
        self
    }
}

/// Drops the faults of a kind past its cap, keeping the first ones.
fn cap_faults(faults: Vec<KvFault>, caps: &BTreeMap<FaultKind, usize>) -> Vec<KvFault> {
    if caps.is_empty() {
        return faults;
    }
    let mut seen: BTreeMap<FaultKind, usize> = BTreeMap::new();
    faults
        .into_iter()
        .filter(|fault| {
            let kind = FaultKind::of(fault);
            let count = seen.entry(kind).or_insert(0);
            *count += 1;
            caps.get(&kind).is_none_or(|&cap| *count <= cap)
        })
        .collect()
}

/// Cases of a fixed script: its clients as they are, with drawn faults
/// (on the script's bucket names unless `config.names` says otherwise) and
/// a drawn schedule.
fn script_cases(script: Vec<Vec<Command>>, config: GenConfig) -> BoxedStrategy<Case> {
    let fault_kinds = if config.swarm {
        subsets(config.fault_kinds.clone(), 0).boxed()
    } else {
        Just(config.fault_kinds.clone()).boxed()
    };
    // Shared, not copied, into each case's strategy: the script is cloned
    // once per case, when the case is built.
    let script = std::sync::Arc::new(script);
    fault_kinds
        .prop_flat_map(move |fault_kinds| {
            let faults = if fault_kinds.is_empty() {
                Just(Vec::new()).boxed()
            } else {
                proptest::collection::vec(fault(fault_kinds, &config), config.faults.clone())
                    .boxed()
            };
            let caps = config.fault_caps.clone();
            let script = std::sync::Arc::clone(&script);
            (faults, strategy(&config)).prop_map(move |(faults, strategy)| {
                let clients = script.as_ref().clone();
                let mut case = assemble(clients, cap_faults(faults, &caps), Vec::new());
                case.strategy = Some(strategy);
                case
            })
        })
        .boxed()
}

/// Cases of the given shape.
pub fn cases(config: GenConfig) -> BoxedStrategy<Case> {
    if let Some(script) = config.script.clone() {
        return script_cases(script, config);
    }
    let stops_registry = config.command_kinds.contains(&CommandKind::StopRegistry);
    let mut ordinary: Vec<CommandKind> = config
        .command_kinds
        .iter()
        .copied()
        .filter(|&kind| kind != CommandKind::StopRegistry)
        .collect();
    if ordinary.is_empty() {
        // Only `STOP registry` was asked for: then every command is one.
        ordinary = config.command_kinds.clone();
    }
    let kinds = if config.swarm {
        subsets(ordinary, 1).boxed()
    } else {
        Just(ordinary).boxed()
    };
    let fault_kinds = if config.swarm {
        subsets(config.fault_kinds.clone(), 0).boxed()
    } else {
        Just(config.fault_kinds.clone()).boxed()
    };
    (kinds, fault_kinds)
        .prop_flat_map(move |(kinds, fault_kinds)| {
            let config = config.clone();
            let client = proptest::collection::vec(
                command(kinds.clone(), &config),
                config.commands_per_client.clone(),
            );
            let clients = proptest::collection::vec(client, config.clients.clone());
            let faults = if fault_kinds.is_empty() {
                Just(Vec::new()).boxed()
            } else {
                proptest::collection::vec(fault(fault_kinds, &config), config.faults.clone())
                    .boxed()
            };
            let schedule = strategy(&config);
            // Drawn last, so that the draws before it do not depend on it.
            let stop = if stops_registry {
                (
                    0..STOP_REGISTRY_ONE_IN,
                    any::<proptest::sample::Index>(),
                    any::<proptest::sample::Index>(),
                )
                    .prop_map(|(roll, client, at)| (roll == 0).then_some((client, at)))
                    .boxed()
            } else {
                Just(None).boxed()
            };
            let caps = config.fault_caps.clone();
            (clients, faults, schedule, stop).prop_map(
                move |(mut clients, faults, strategy, stop)| {
                    if let Some((client, at)) = stop {
                        insert_stop_registry(&mut clients, client, at);
                    }
                    let mut case = assemble(clients, cap_faults(faults, &caps), Vec::new());
                    case.strategy = Some(strategy);
                    case
                },
            )
        })
        .boxed()
}

/// A schedule strategy from `config.strategies` with its seed. Generated
/// override lists are [`ScheduleStrategy::Mutation`]s: their keys come from
/// a recorded run of the case itself, so every override names an event
/// that can occur (a death signal or a deep reply as much as a client
/// action), for any registry.
pub fn strategy(config: &GenConfig) -> impl Strategy<Value = ScheduleStrategy> + use<> {
    let kinds = if config.strategies.is_empty() {
        StrategyKind::PORTFOLIO.to_vec()
    } else {
        config.strategies.clone()
    };
    let picks = config.overrides.start().max(&1).to_owned()..=*config.overrides.end().max(&1);
    (proptest::sample::select(kinds), any::<u64>()).prop_flat_map(move |(kind, seed)| match kind {
        StrategyKind::Overrides => proptest::collection::vec(any::<u32>(), picks.clone())
            .prop_map(move |picks| ScheduleStrategy::Mutation { seed, picks })
            .boxed(),
        StrategyKind::Random => Just(ScheduleStrategy::Random { seed }).boxed(),
        StrategyKind::Pos => Just(ScheduleStrategy::Pos { seed }).boxed(),
        StrategyKind::Pct { max_depth } => (1..=max_depth.max(1))
            .prop_map(move |depth| ScheduleStrategy::Pct { seed, depth })
            .boxed(),
    })
}

/// Puts a `STOP registry` into the client `client` picks, at the point
/// `at` picks (before any of its commands, between two, or last).
fn insert_stop_registry(
    clients: &mut [Vec<Command>],
    client: proptest::sample::Index,
    at: proptest::sample::Index,
) {
    if clients.is_empty() {
        return;
    }
    let commands = &mut clients[client.index(clients.len())];
    let at = at.index(commands.len() + 1);
    commands.insert(
        at,
        Command::Stop {
            target: Target::Registry,
        },
    );
}

/// Gives the generated elements their stable ids.
pub fn assemble(clients: Vec<Vec<Command>>, faults: Vec<KvFault>, schedule: Vec<EventKey>) -> Case {
    Case {
        clients: clients
            .into_iter()
            .enumerate()
            .map(|(id, commands)| CaseClient {
                id: id as u32,
                commands: commands
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| (i as u32, c))
                    .collect(),
            })
            .collect(),
        faults: faults
            .into_iter()
            .enumerate()
            .map(|(id, fault)| CaseFault {
                id: id as u32,
                fault,
            })
            .collect(),
        schedule,
        strategy: None,
    }
}

fn subsets<T: Clone + std::fmt::Debug + 'static>(
    items: Vec<T>,
    min: usize,
) -> impl Strategy<Value = Vec<T>> {
    let count = items.len();
    proptest::collection::vec(any::<bool>(), count).prop_filter_map("too few kinds", move |mask| {
        let chosen: Vec<T> = items
            .iter()
            .zip(&mask)
            .filter(|(_, keep)| **keep)
            .map(|(i, _)| i.clone())
            .collect();
        (chosen.len() >= min).then_some(chosen)
    })
}

fn command(kinds: Vec<CommandKind>, config: &GenConfig) -> impl Strategy<Value = Command> + use<> {
    let names = config.names.clone();
    let keys = config.keys.clone();
    (
        proptest::sample::select(kinds),
        proptest::sample::select(names),
        proptest::sample::select(keys),
        1u8..4,
    )
        .prop_map(|(kind, bucket, key, value)| make_command(kind, bucket, key, value))
}

fn make_command(kind: CommandKind, bucket: String, key: String, value: u8) -> Command {
    match kind {
        CommandKind::Create => Command::Create { bucket },
        CommandKind::Lookup => Command::Lookup { bucket },
        CommandKind::Put => Command::Put {
            bucket,
            key,
            value: value.to_string(),
        },
        CommandKind::Get => Command::Get { bucket, key },
        CommandKind::Delete => Command::Delete { bucket, key },
        CommandKind::Stop => Command::Stop {
            target: Target::Bucket(bucket),
        },
        CommandKind::StopRegistry => Command::Stop {
            target: Target::Registry,
        },
    }
}

fn fault(kinds: Vec<FaultKind>, config: &GenConfig) -> impl Strategy<Value = KvFault> + use<> {
    (
        proptest::sample::select(kinds),
        proptest::sample::select(config.names.clone()),
    )
        .prop_map(|(kind, name)| make_fault(kind, name))
}

fn make_fault(kind: FaultKind, name: String) -> KvFault {
    match kind {
        FaultKind::KillBucket => KvFault::KillBucket(name),
        FaultKind::CrashBucket => KvFault::CrashBucket(name),
        FaultKind::StrayRegistry => KvFault::StrayRegistry,
        FaultKind::KillRegistry => KvFault::KillRegistry,
        FaultKind::CrashRegistry => KvFault::CrashRegistry,
    }
}
