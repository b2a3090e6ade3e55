//! Generating cases: a proptest [`Strategy`] and an [`arbitrary::Arbitrary`]
//! decoding of fuzzer bytes, both producing the one [`Case`] type. Swarm
//! testing: each case first draws which command kinds and fault kinds are
//! enabled at all, so rare combinations get real coverage. Names and keys
//! come from a small alphabet so that collisions happen.

use crate::check::case::{Case, CaseClient, CaseFault};
use crate::kv::{Command, KvFault, Target};
use crate::sim::{EventKey, Root, Segment};
use proptest::prelude::*;
use std::ops::RangeInclusive;

/// The command kinds a generated client may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CommandKind {
    Create,
    Lookup,
    Put,
    Get,
    Delete,
    Stop,
}

impl CommandKind {
    pub const ALL: [CommandKind; 6] = [
        CommandKind::Create,
        CommandKind::Lookup,
        CommandKind::Put,
        CommandKind::Get,
        CommandKind::Delete,
        CommandKind::Stop,
    ];
}

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
}

/// The shape of generated cases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenConfig {
    pub clients: RangeInclusive<usize>,
    pub commands_per_client: RangeInclusive<usize>,
    pub faults: RangeInclusive<usize>,
    pub overrides: RangeInclusive<usize>,
    pub names: Vec<String>,
    pub keys: Vec<String>,
    pub command_kinds: Vec<CommandKind>,
    pub fault_kinds: Vec<FaultKind>,
    /// Draw a subset of the kinds per case (swarm testing).
    pub swarm: bool,
}

impl Default for GenConfig {
    fn default() -> GenConfig {
        GenConfig {
            clients: 1..=4,
            commands_per_client: 1..=6,
            faults: 0..=3,
            overrides: 0..=6,
            names: vec!["a".into(), "b".into()],
            keys: vec!["k".into(), "j".into()],
            command_kinds: CommandKind::ALL.to_vec(),
            fault_kinds: FaultKind::ALL.to_vec(),
            swarm: true,
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
}

/// Cases of the given shape.
pub fn cases(config: GenConfig) -> impl Strategy<Value = Case> {
    let kinds = if config.swarm {
        subsets(config.command_kinds.clone(), 1).boxed()
    } else {
        Just(config.command_kinds.clone()).boxed()
    };
    let fault_kinds = if config.swarm {
        subsets(config.fault_kinds.clone(), 0).boxed()
    } else {
        Just(config.fault_kinds.clone()).boxed()
    };
    (kinds, fault_kinds).prop_flat_map(move |(kinds, fault_kinds)| {
        let config = config.clone();
        let client = proptest::collection::vec(
            command(kinds.clone(), &config),
            config.commands_per_client.clone(),
        );
        let clients = proptest::collection::vec(client, config.clients.clone());
        let faults = if fault_kinds.is_empty() {
            Just(Vec::new()).boxed()
        } else {
            proptest::collection::vec(fault(fault_kinds, &config), config.faults.clone()).boxed()
        };
        let max_clients = *config.clients.end() as u32;
        let max_commands = *config.commands_per_client.end() as u32;
        let max_faults = *config.faults.end() as u32;
        let overrides = overrides(
            max_clients,
            max_commands,
            max_faults,
            config.overrides.clone(),
        );
        (clients, faults, overrides)
            .prop_map(|(clients, faults, schedule)| assemble(clients, faults, schedule))
    })
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
    }
}

/// Override lists: keys naming client actions, faults, and the first few
/// signals sent because of them, in a case with at most these many
/// clients, commands per client and faults.
pub fn overrides(
    clients: u32,
    commands: u32,
    faults: u32,
    length: RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<EventKey>> {
    let client_root = (0..clients.max(1), 0..commands.max(1))
        .prop_map(|(client, cmd)| Root::Client { client, cmd });
    let root = if faults == 0 {
        client_root.boxed()
    } else {
        prop_oneof![3 => client_root, 2 => (0..faults).prop_map(|fault| Root::Fault { fault })]
            .boxed()
    };
    let key = (root, proptest::collection::vec(0u32..3, 0..=2)).prop_map(|(root, path)| EventKey {
        root,
        path: path.into_iter().map(Segment::Send).collect(),
    });
    proptest::collection::vec(key, length)
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

/// Fuzzer bytes decode into the same cases the default [`GenConfig`]
/// generates (swarm included).
impl<'a> arbitrary::Arbitrary<'a> for Case {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Case> {
        let config = GenConfig::default();
        let pick_subset =
            |u: &mut arbitrary::Unstructured<'a>, count: usize| -> arbitrary::Result<Vec<usize>> {
                let mask: u8 = u.arbitrary()?;
                Ok((0..count).filter(|i| mask & (1 << i) != 0).collect())
            };
        let mut kinds: Vec<CommandKind> = pick_subset(u, config.command_kinds.len())?
            .into_iter()
            .map(|i| config.command_kinds[i])
            .collect();
        if kinds.is_empty() {
            kinds = config.command_kinds.clone();
        }
        let fault_kinds: Vec<FaultKind> = pick_subset(u, config.fault_kinds.len())?
            .into_iter()
            .map(|i| config.fault_kinds[i])
            .collect();
        let client_count = u.int_in_range(config.clients.clone())?;
        let mut clients = Vec::new();
        for _ in 0..client_count {
            let command_count = u.int_in_range(config.commands_per_client.clone())?;
            let mut commands = Vec::new();
            for _ in 0..command_count {
                let kind = *u.choose(&kinds)?;
                let bucket = u.choose(&config.names)?.clone();
                let key = u.choose(&config.keys)?.clone();
                let value = u.int_in_range(1u8..=3)?;
                commands.push(make_command(kind, bucket, key, value));
            }
            clients.push(commands);
        }
        let mut faults = Vec::new();
        if !fault_kinds.is_empty() {
            for _ in 0..u.int_in_range(config.faults.clone())? {
                let kind = *u.choose(&fault_kinds)?;
                faults.push(make_fault(kind, u.choose(&config.names)?.clone()));
            }
        }
        let mut schedule = Vec::new();
        for _ in 0..u.int_in_range(config.overrides.clone())? {
            let root = if !faults.is_empty() && u.ratio(2, 5)? {
                Root::Fault {
                    fault: u.int_in_range(0..=faults.len() as u32 - 1)?,
                }
            } else {
                Root::Client {
                    client: u.int_in_range(0..=client_count as u32 - 1)?,
                    cmd: u.int_in_range(0..=*config.commands_per_client.end() as u32 - 1)?,
                }
            };
            let depth = u.int_in_range(0..=2)?;
            let mut path = Vec::new();
            for _ in 0..depth {
                path.push(Segment::Send(u.int_in_range(0..=2)?));
            }
            schedule.push(EventKey { root, path });
        }
        Ok(assemble(clients, faults, schedule))
    }
}
