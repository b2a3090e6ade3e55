//! Fuzzer bytes and cases: how an input of a coverage-guided fuzzer
//! decodes into a [`Case`] ([`arbitrary::Arbitrary`]), and the encoder that
//! turns a known case back into bytes the decoder reads as that same case
//! (so kept cases can seed a fuzzer's corpus). The two are written side by
//! side and held to each other by a round-trip property test.
//!
//! A decoded case is explicit: client scripts, a fault plan and an
//! override list, with no strategy (the `fifo` order wherever no override
//! applies) — the form every failure is saved in. A fuzz target that wants
//! the bytes to drive the schedule decodes a [`CaseInput`]: the case, then
//! the bytes left over, which pick among the enabled events wherever no
//! override applies ([`BytePicks`]).
//!
//! # Layout
//!
//! Every number is one byte read by `int_in_range(0..=max)` (the byte
//! modulo `max + 1`; no byte at all when `max` is 0; 0 once the input runs
//! out), except ids, which are four bytes little-endian. In order:
//!
//! 1. the command kinds (a bit mask over [`BYTE_COMMAND_KINDS`]; none
//!    set means the first six, every kind but `STOP registry`), with bit 7
//!    set when ids are written out;
//! 2. the fault kinds (a bit mask over [`FaultKind::ALL`]);
//! 3. the number of clients (`0..=4`); per client its id (when written
//!    out), the number of its commands (`0..=8`: room for the generator's
//!    six and a `STOP registry`) and per command its kind (among the
//!    enabled ones), its id (when written out), its bucket, key
//!    and value (only those the kind has: names among [`BYTE_NAMES`], keys
//!    among [`BYTE_KEYS`], values `1..=3`);
//! 4. when some fault kind is enabled, the number of faults (`0..=3`) and
//!    per fault its kind, its id (when written out) and its bucket (bucket
//!    faults only);
//! 5. the number of overrides (`0..=8`); per override its root (a client
//!    command, a fault or a timer, among those the case has), the length of
//!    its path (`0..=8`) and each segment: a send (`0..=7`), an exit, or a
//!    death signal (`DOWN` or `EXIT`, its sender and recipient among the
//!    case's processes, its ordinal `0..=3`).
//!
//! Without written-out ids, client `i` has id `i`, its `j`-th command id
//! `j`, fault `i` id `i`.

use crate::check::case::{Case, CaseClient, CaseFault};
use crate::check::generate::{CommandKind, FaultKind};
use crate::kv::{Command, KvFault, Target};
use crate::sim::choice::{Choice, ChoiceSource};
use crate::sim::key::{DeathKind, EventKey, Root, Segment};
use arbitrary::{Arbitrary, Unstructured};
use std::fmt;

/// The command kinds, in the order of the first byte's bits.
pub const BYTE_COMMAND_KINDS: [CommandKind; 7] = CommandKind::ALL;
/// Bucket names a decoded case uses (the generator's, which are also the
/// first names the shrinker normalises to).
pub const BYTE_NAMES: [&str; 2] = ["a", "b"];
/// Keys a decoded case uses: the generator's, then the shrinker's.
pub const BYTE_KEYS: [&str; 4] = ["k", "j", "a", "b"];
/// `PUT` values, as numbers.
pub const BYTE_VALUES: std::ops::RangeInclusive<u8> = 1..=3;
pub const BYTE_CLIENTS_MAX: u8 = 4;
pub const BYTE_COMMANDS_MAX: u8 = 8;
pub const BYTE_FAULTS_MAX: u8 = 3;
pub const BYTE_OVERRIDES_MAX: u8 = 8;
pub const BYTE_PATH_MAX: u8 = 8;
pub const BYTE_SEND_MAX: u8 = 7;
pub const BYTE_ORDINAL_MAX: u8 = 3;
pub const BYTE_TIMER_MAX: u8 = 3;

/// The first byte's bit saying that ids are written out.
const EXPLICIT_IDS: u8 = 0x80;

/// A case decoded from the front of a fuzzer input, and the bytes after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseInput<'a> {
    pub case: Case,
    /// What the case did not use: a fuzz target's schedule choices.
    pub tail: &'a [u8],
}

impl<'a> Arbitrary<'a> for CaseInput<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<CaseInput<'a>> {
        let case = Case::arbitrary(u)?;
        let tail = <&'a [u8]>::arbitrary(u)?;
        Ok(CaseInput { case, tail })
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> arbitrary::Result<CaseInput<'a>> {
        let case = Case::arbitrary(&mut u)?;
        Ok(CaseInput {
            case,
            tail: u.take_rest(),
        })
    }
}

fn small(u: &mut Unstructured<'_>, max: u8) -> arbitrary::Result<u8> {
    u.int_in_range(0..=max)
}

fn pick<'b, T>(u: &mut Unstructured<'_>, items: &'b [T]) -> arbitrary::Result<&'b T> {
    u.choose(items)
}

fn read_id(u: &mut Unstructured<'_>, explicit: bool, default: usize) -> arbitrary::Result<u32> {
    if explicit {
        u.arbitrary()
    } else {
        Ok(default as u32)
    }
}

/// The kinds a mask enables (all ordinary ones when it enables none).
fn command_kinds(mask: u8) -> Vec<CommandKind> {
    let kinds: Vec<CommandKind> = BYTE_COMMAND_KINDS
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, &kind)| kind)
        .collect();
    if kinds.is_empty() {
        BYTE_COMMAND_KINDS[..6].to_vec()
    } else {
        kinds
    }
}

fn fault_kinds(mask: u8) -> Vec<FaultKind> {
    FaultKind::ALL
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, &kind)| kind)
        .collect()
}

/// The logical names a decoded override may use for senders, recipients
/// and timer owners: the registry, the case's clients, the buckets.
fn process_names(clients: &[CaseClient]) -> Vec<String> {
    let mut names = vec!["registry".to_string()];
    names.extend(clients.iter().map(|c| format!("client{}", c.id)));
    names.extend(BYTE_NAMES.iter().map(|n| format!("bucket:{n}")));
    names
}

/// Which roots an override can have in this case, in decoding order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RootKind {
    Client,
    Fault,
    Timer,
}

fn root_kinds(case: &Case) -> Vec<RootKind> {
    let mut kinds = Vec::new();
    if case.clients.iter().any(|c| !c.commands.is_empty()) {
        kinds.push(RootKind::Client);
    }
    if !case.faults.is_empty() {
        kinds.push(RootKind::Fault);
    }
    kinds.push(RootKind::Timer);
    kinds
}

/// Decodes the layout in the [module doc](self). Fails (the input is
/// skipped) only on ids used twice.
impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Case> {
        let first: u8 = u.arbitrary()?;
        let explicit = first & EXPLICIT_IDS != 0;
        let kinds = command_kinds(first & !EXPLICIT_IDS);
        let fault_kinds = fault_kinds(u.arbitrary()?);
        let mut case = Case::default();
        for client in 0..usize::from(small(u, BYTE_CLIENTS_MAX)?) {
            let id = read_id(u, explicit, client)?;
            let mut commands = Vec::new();
            for command in 0..usize::from(small(u, BYTE_COMMANDS_MAX)?) {
                let kind = *pick(u, &kinds)?;
                let id = read_id(u, explicit, command)?;
                commands.push((id, decode_command(u, kind)?));
            }
            case.clients.push(CaseClient { id, commands });
        }
        if !fault_kinds.is_empty() {
            for fault in 0..usize::from(small(u, BYTE_FAULTS_MAX)?) {
                let kind = *pick(u, &fault_kinds)?;
                let id = read_id(u, explicit, fault)?;
                let fault = match kind {
                    FaultKind::KillBucket => KvFault::KillBucket(name(u)?),
                    FaultKind::CrashBucket => KvFault::CrashBucket(name(u)?),
                    FaultKind::StrayRegistry => KvFault::StrayRegistry,
                    FaultKind::KillRegistry => KvFault::KillRegistry,
                    FaultKind::CrashRegistry => KvFault::CrashRegistry,
                };
                case.faults.push(CaseFault { id, fault });
            }
        }
        let roots = root_kinds(&case);
        let processes = process_names(&case.clients);
        for _ in 0..small(u, BYTE_OVERRIDES_MAX)? {
            let root = match pick(u, &roots)? {
                RootKind::Client => {
                    let acting: Vec<&CaseClient> = case
                        .clients
                        .iter()
                        .filter(|c| !c.commands.is_empty())
                        .collect();
                    let client = *pick(u, &acting)?;
                    let (cmd, _) = pick(u, &client.commands)?;
                    Root::Client {
                        client: client.id,
                        cmd: *cmd,
                    }
                }
                RootKind::Fault => Root::Fault {
                    fault: pick(u, &case.faults)?.id,
                },
                RootKind::Timer => Root::Timer {
                    owner: pick(u, &processes)?.clone(),
                    n: u32::from(small(u, BYTE_TIMER_MAX)?),
                },
            };
            let mut path = Vec::new();
            for _ in 0..small(u, BYTE_PATH_MAX)? {
                path.push(match small(u, 2)? {
                    0 => Segment::Send(u32::from(small(u, BYTE_SEND_MAX)?)),
                    1 => Segment::Exit,
                    _ => Segment::Death {
                        kind: [DeathKind::Down, DeathKind::Exit][usize::from(small(u, 1)?)],
                        from: pick(u, &processes)?.clone(),
                        to: pick(u, &processes)?.clone(),
                        ordinal: u32::from(small(u, BYTE_ORDINAL_MAX)?),
                    },
                });
            }
            case.schedule.push(EventKey { root, path });
        }
        case.validate()
            .map_err(|_| arbitrary::Error::IncorrectFormat)?;
        Ok(case)
    }
}

fn name(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    Ok(pick(u, &BYTE_NAMES)?.to_string())
}

fn decode_command(u: &mut Unstructured<'_>, kind: CommandKind) -> arbitrary::Result<Command> {
    let key = |u: &mut Unstructured<'_>| -> arbitrary::Result<String> {
        Ok(pick(u, &BYTE_KEYS)?.to_string())
    };
    Ok(match kind {
        CommandKind::Create => Command::Create { bucket: name(u)? },
        CommandKind::Lookup => Command::Lookup { bucket: name(u)? },
        CommandKind::Put => Command::Put {
            bucket: name(u)?,
            key: key(u)?,
            value: u.int_in_range(BYTE_VALUES)?.to_string(),
        },
        CommandKind::Get => Command::Get {
            bucket: name(u)?,
            key: key(u)?,
        },
        CommandKind::Delete => Command::Delete {
            bucket: name(u)?,
            key: key(u)?,
        },
        CommandKind::Stop => Command::Stop {
            target: Target::Bucket(name(u)?),
        },
        CommandKind::StopRegistry => Command::Stop {
            target: Target::Registry,
        },
    })
}

/// Why a case has no byte encoding: it uses something the decoder never
/// produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError(String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the case has no byte encoding: {}", self.0)
    }
}

impl std::error::Error for EncodeError {}

fn command_kind(command: &Command) -> Result<CommandKind, EncodeError> {
    Ok(match command {
        Command::Create { .. } => CommandKind::Create,
        Command::Lookup { .. } => CommandKind::Lookup,
        Command::Put { .. } => CommandKind::Put,
        Command::Get { .. } => CommandKind::Get,
        Command::Delete { .. } => CommandKind::Delete,
        Command::Stop {
            target: Target::Bucket(_),
        } => CommandKind::Stop,
        Command::Stop {
            target: Target::Registry,
        } => CommandKind::StopRegistry,
        other => return Err(EncodeError(format!("command {other:?} is not generated"))),
    })
}

fn fault_kind(fault: &KvFault) -> FaultKind {
    match fault {
        KvFault::KillBucket(_) => FaultKind::KillBucket,
        KvFault::CrashBucket(_) => FaultKind::CrashBucket,
        KvFault::StrayRegistry => FaultKind::StrayRegistry,
        KvFault::KillRegistry => FaultKind::KillRegistry,
        KvFault::CrashRegistry => FaultKind::CrashRegistry,
    }
}

/// Writes bytes that `int_in_range` and `choose` read back.
struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    /// `value` in `0..=max`, as [`small`] reads it.
    fn small(&mut self, value: usize, max: u8, what: &str) -> Result<(), EncodeError> {
        if value > usize::from(max) {
            return Err(EncodeError(format!("{what} {value} is above {max}")));
        }
        if max > 0 {
            self.bytes.push(value as u8);
        }
        Ok(())
    }

    /// The index of `item` in `items`, as [`pick`] reads it.
    fn pick<T: PartialEq + fmt::Debug>(
        &mut self,
        items: &[T],
        item: &T,
        what: &str,
    ) -> Result<(), EncodeError> {
        let index = items
            .iter()
            .position(|i| i == item)
            .ok_or_else(|| EncodeError(format!("{what} {item:?} is not one of {items:?}")))?;
        self.small(index, (items.len() - 1) as u8, what)
    }

    fn name(&mut self, name: &str) -> Result<(), EncodeError> {
        self.pick(&BYTE_NAMES, &name, "bucket name")
    }

    fn id(&mut self, explicit: bool, id: u32) {
        if explicit {
            self.bytes.extend_from_slice(&id.to_le_bytes());
        }
    }
}

/// Bytes that decode (as a [`CaseInput`], with an empty tail, or as a
/// [`Case`]) to exactly `case`. Fails, naming what, for a case the decoder
/// never produces: a strategy, a command or name outside the generator's,
/// more elements than the layout allows (see the [module doc](self)).
pub fn encode_case(case: &Case) -> Result<Vec<u8>, EncodeError> {
    if let Some(strategy) = &case.strategy {
        return Err(EncodeError(format!(
            "it has a strategy ({strategy}); decoded cases are explicit"
        )));
    }
    case.validate().map_err(EncodeError)?;
    let sequential = case.clients.iter().enumerate().all(|(i, c)| {
        c.id == i as u32
            && c.commands
                .iter()
                .enumerate()
                .all(|(j, (id, _))| *id == j as u32)
    }) && case
        .faults
        .iter()
        .enumerate()
        .all(|(i, f)| f.id == i as u32);
    let explicit = !sequential;
    let mut mask = 0u8;
    for client in &case.clients {
        for (_, command) in &client.commands {
            let kind = command_kind(command)?;
            let bit = BYTE_COMMAND_KINDS.iter().position(|&k| k == kind);
            mask |= 1 << bit.unwrap_or_default();
        }
    }
    let kinds = command_kinds(mask);
    let mut fault_mask = 0u8;
    for fault in &case.faults {
        let bit = FaultKind::ALL
            .iter()
            .position(|&k| k == fault_kind(&fault.fault));
        fault_mask |= 1 << bit.unwrap_or_default();
    }
    let fault_kinds = fault_kinds(fault_mask);
    let mut w = Writer { bytes: Vec::new() };
    w.bytes.push(mask | if explicit { EXPLICIT_IDS } else { 0 });
    w.bytes.push(fault_mask);
    w.small(case.clients.len(), BYTE_CLIENTS_MAX, "client count")?;
    for client in &case.clients {
        w.id(explicit, client.id);
        w.small(client.commands.len(), BYTE_COMMANDS_MAX, "command count")?;
        for (id, command) in &client.commands {
            w.pick(&kinds, &command_kind(command)?, "command kind")?;
            w.id(explicit, *id);
            encode_command(&mut w, command)?;
        }
    }
    if fault_kinds.is_empty() {
        // No fault kind enabled: the decoder reads no fault count.
    } else {
        w.small(case.faults.len(), BYTE_FAULTS_MAX, "fault count")?;
        for fault in &case.faults {
            w.pick(&fault_kinds, &fault_kind(&fault.fault), "fault kind")?;
            w.id(explicit, fault.id);
            if let KvFault::KillBucket(name) | KvFault::CrashBucket(name) = &fault.fault {
                w.name(name)?;
            }
        }
    }
    let roots = root_kinds(case);
    let processes = process_names(&case.clients);
    w.small(case.schedule.len(), BYTE_OVERRIDES_MAX, "override count")?;
    for key in &case.schedule {
        match &key.root {
            Root::Client { client, cmd } => {
                w.pick(&roots, &RootKind::Client, "root kind")?;
                let acting: Vec<u32> = case
                    .clients
                    .iter()
                    .filter(|c| !c.commands.is_empty())
                    .map(|c| c.id)
                    .collect();
                w.pick(&acting, client, "override client")?;
                let commands: Vec<u32> = case
                    .clients
                    .iter()
                    .find(|c| c.id == *client)
                    .map(|c| c.commands.iter().map(|(id, _)| *id).collect())
                    .unwrap_or_default();
                w.pick(&commands, cmd, "override command")?;
            }
            Root::Fault { fault } => {
                w.pick(&roots, &RootKind::Fault, "root kind")?;
                let faults: Vec<u32> = case.faults.iter().map(|f| f.id).collect();
                w.pick(&faults, fault, "override fault")?;
            }
            Root::Timer { owner, n } => {
                w.pick(&roots, &RootKind::Timer, "root kind")?;
                w.pick(&processes, owner, "timer owner")?;
                w.small(*n as usize, BYTE_TIMER_MAX, "timer number")?;
            }
            Root::Setup => return Err(EncodeError("an override names setup".to_string())),
        }
        w.small(key.path.len(), BYTE_PATH_MAX, "key path length")?;
        for segment in &key.path {
            match segment {
                Segment::Send(n) => {
                    w.small(0, 2, "segment")?;
                    w.small(*n as usize, BYTE_SEND_MAX, "send number")?;
                }
                Segment::Exit => w.small(1, 2, "segment")?,
                Segment::Death {
                    kind,
                    from,
                    to,
                    ordinal,
                } => {
                    w.small(2, 2, "segment")?;
                    w.small(usize::from(*kind == DeathKind::Exit), 1, "death kind")?;
                    w.pick(&processes, from, "dead process")?;
                    w.pick(&processes, to, "recipient")?;
                    w.small(*ordinal as usize, BYTE_ORDINAL_MAX, "ordinal")?;
                }
            }
        }
    }
    Ok(w.bytes)
}

fn encode_command(w: &mut Writer, command: &Command) -> Result<(), EncodeError> {
    let key = |w: &mut Writer, key: &str| w.pick(&BYTE_KEYS, &key, "key");
    match command {
        Command::Create { bucket } | Command::Lookup { bucket } => w.name(bucket),
        Command::Put {
            bucket,
            key: k,
            value,
        } => {
            w.name(bucket)?;
            key(w, k)?;
            let number = value
                .parse::<u8>()
                .ok()
                .filter(|n| BYTE_VALUES.contains(n) && *value == n.to_string())
                .ok_or_else(|| EncodeError(format!("value {value:?} is not one of 1..=3")))?;
            // `int_in_range(1..=3)` reads a byte b as 1 + b % 3.
            w.bytes.push(number - BYTE_VALUES.start());
            Ok(())
        }
        Command::Get { bucket, key: k } | Command::Delete { bucket, key: k } => {
            w.name(bucket)?;
            key(w, k)
        }
        Command::Stop {
            target: Target::Bucket(bucket),
        } => w.name(bucket),
        _ => Ok(()),
    }
}

/// A choice source that reads the schedule from bytes: wherever there is a
/// real choice (more than one enabled event), the next byte picks among
/// the candidates (the byte modulo their number, in `fifo` order); once
/// the bytes run out, the `fifo` event. Put behind an override list
/// ([`crate::sim::choice::Overrides::then`]), it decides wherever no
/// override applies, and the run's [`crate::check::CaseRun::schedule_taken`]
/// records every pick as an override.
#[derive(Clone, Debug)]
pub struct BytePicks {
    bytes: Vec<u8>,
    at: usize,
}

impl BytePicks {
    pub fn new(bytes: &[u8]) -> BytePicks {
        BytePicks {
            bytes: bytes.to_vec(),
            at: 0,
        }
    }
}

impl ChoiceSource for BytePicks {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        let count = choice.candidates.len();
        if count < 2 {
            return choice.fifo;
        }
        match self.bytes.get(self.at) {
            Some(&byte) => {
                self.at += 1;
                usize::from(byte) % count
            }
            None => choice.fifo,
        }
    }

    fn is_fifo(&self) -> bool {
        self.bytes.is_empty()
    }
}
