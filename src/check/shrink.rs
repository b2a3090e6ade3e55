//! The one shrinker (docs/design.md § Checking): delta debugging over clients,
//! commands, faults and overrides to 1-minimality — removing any one
//! element makes the failure of the same property go away — then
//! normalising passes, each kept only if the same property still fails:
//! merge all clients into one, replace each command by the plainest one on
//! the same bucket (a `LOOKUP`; a PUT's value `1`), and rename bucket names
//! and keys to the smallest unused (`a`, `b`, …). With a registry
//! ([`shrink_case_with`]), the shortening pass (src/check/shorten.rs) then
//! looks for a case that fails in fewer events. Works on stable ids, so
//! deleting an element never changes what the remaining overrides mean.

use crate::check::case::{Case, CaseClient};
use crate::check::checker::{CheckConfig, Failure, RegistryFactory, explicit, run_case};
use crate::check::property::Property;
use crate::check::shorten::shorten;
use crate::kv::{Command, KvFault, Target};
use crate::sim::{EventKey, Root, Segment, without_generation};
use std::collections::BTreeMap;

/// Shrinks `case`, which breaks `property`, with `fails` deciding which
/// property a candidate breaks (if any). Returns the smallest case found.
pub fn shrink(
    case: &Case,
    property: Property,
    fails: &mut dyn FnMut(&Case) -> Option<Failure>,
) -> Case {
    let mut still_fails =
        |candidate: &Case| fails(candidate).is_some_and(|f| f.property == property);
    let best = delete_to_fixpoint(case.clone(), &mut still_fails);
    normalise(best, &mut still_fails)
}

/// The normalising passes over a 1-minimal `best`, each kept only if
/// `still_fails` says so and each followed by deletion to a fixpoint, so
/// the result stays 1-minimal (for `still_fails`).
pub(super) fn normalise(mut best: Case, still_fails: &mut dyn FnMut(&Case) -> bool) -> Case {
    // Merging keeps the clients' commands in one order; a failure may need
    // another (one client's write before another's read), so every order
    // of the (at most a handful of) clients is tried, client order first.
    for order in client_orders(best.clients.len()) {
        let merged = merge_clients(&best, &order);
        if merged != best && still_fails(&merged) {
            best = delete_to_fixpoint(merged, still_fails);
            break;
        }
    }
    // A plainer command or other names can make an element unnecessary:
    // each pass ends with deletion to a fixpoint, so the result stays
    // 1-minimal.
    let simplified = simplify_commands(best.clone(), still_fails);
    if simplified != best {
        best = delete_to_fixpoint(simplified, still_fails);
    }
    let renamed = rename_data(&best);
    if renamed != best && still_fails(&renamed) {
        best = delete_to_fixpoint(renamed, still_fails);
    }
    renumber(best, still_fails)
}

/// Deletions leave gaps in the ids; one client's ids (and the overrides
/// naming them) are renumbered from 0, which changes no event.
fn renumber(best: Case, still_fails: &mut dyn FnMut(&Case) -> bool) -> Case {
    if best.clients.len() == 1 {
        let renumbered = merge_clients(&best, &[0]);
        if renumbered != best && still_fails(&renumbered) {
            return renumbered;
        }
    }
    best
}

/// Replaces each command, one at a time, by the plainest command on the
/// same bucket that keeps the failure: a `LOOKUP` (every bucket command
/// starts with one), and a PUT's value by `1`. The case keeps its size;
/// what remains says only what the failure needs.
fn simplify_commands(mut case: Case, still_fails: &mut dyn FnMut(&Case) -> bool) -> Case {
    for client in 0..case.clients.len() {
        for index in 0..case.clients[client].commands.len() {
            let current = case.clients[client].commands[index].1.clone();
            for plainer in plainer_commands(&current) {
                let mut candidate = case.clone();
                candidate.clients[client].commands[index].1 = plainer;
                if still_fails(&candidate) {
                    case = candidate;
                    break;
                }
            }
        }
    }
    case
}

fn plainer_commands(command: &Command) -> Vec<Command> {
    let lookup = |bucket: &str| Command::Lookup {
        bucket: bucket.to_string(),
    };
    match command {
        Command::Put { bucket, key, value } if value != "1" => vec![
            lookup(bucket),
            Command::Put {
                bucket: bucket.clone(),
                key: key.clone(),
                value: "1".to_string(),
            },
        ],
        Command::Put { bucket, .. }
        | Command::Get { bucket, .. }
        | Command::Delete { bucket, .. }
        | Command::Stop {
            target: Target::Bucket(bucket),
        }
        | Command::Crash {
            target: Target::Bucket(bucket),
            ..
        }
        | Command::Kill {
            target: Target::Bucket(bucket),
        } => vec![lookup(bucket)],
        _ => Vec::new(),
    }
}

/// How [`shrink_case_with`] shrinks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShrinkConfig {
    /// After deletion and normalisation, run the shortening pass: search
    /// nearby cases (a stop replaced by a fault, a client split or merged,
    /// an element fewer) and their schedules for one that breaks the
    /// property in fewer events.
    /// `false` gives the deleting and normalising shrinker alone.
    pub shortest: bool,
    /// Runs (re-executions of a candidate) the shortening pass may spend
    /// searching, per shrink; the cleanup after each shorter case it finds
    /// is not counted (it is polynomial in the case's size).
    pub runs_max: u64,
}

impl ShrinkConfig {
    /// The default [`ShrinkConfig::runs_max`].
    pub const DEFAULT_RUNS_MAX: u64 = 20_000;
}

impl Default for ShrinkConfig {
    /// The shortening pass on, with [`ShrinkConfig::DEFAULT_RUNS_MAX`] runs.
    fn default() -> ShrinkConfig {
        ShrinkConfig {
            shortest: true,
            runs_max: ShrinkConfig::DEFAULT_RUNS_MAX,
        }
    }
}

/// [`shrink_case_with`] the default [`ShrinkConfig`].
pub fn shrink_case(
    case: &Case,
    registry: &RegistryFactory<'_>,
    config: &CheckConfig,
    property: Property,
) -> (Case, Option<Failure>) {
    shrink_case_with(case, registry, config, property, &ShrinkConfig::default())
}

/// [`shrink`] with a registry and a check configuration: checks every
/// candidate with [`run_case`], then (unless `shrink.shortest` is off)
/// shortens the result. Returns the shrunk case and its failure.
/// A case with a strategy is first made [`explicit`]: a strategy's choices
/// shift when an element is deleted, while an override list keeps its
/// meaning, so only the explicit form can shrink soundly.
pub fn shrink_case_with(
    case: &Case,
    registry: &RegistryFactory<'_>,
    config: &CheckConfig,
    property: Property,
    shrink_config: &ShrinkConfig,
) -> (Case, Option<Failure>) {
    let quiet = CheckConfig {
        tracing: false,
        ..config.clone()
    };
    let case = &explicit(case, &run_case(case, registry, &quiet));
    let mut shrunk = shrink(case, property, &mut |candidate| {
        run_case(candidate, registry, &quiet).failure
    });
    if shrink_config.shortest {
        shrunk = shorten(shrunk, registry, &quiet, property, shrink_config.runs_max);
    }
    let failure = run_case(&shrunk, registry, &quiet).failure;
    (shrunk, failure)
}

/// Greedy one-element deletion, largest elements first, until no single
/// deletion keeps the failure: the result is 1-minimal.
pub(super) fn delete_to_fixpoint(
    mut case: Case,
    still_fails: &mut dyn FnMut(&Case) -> bool,
) -> Case {
    loop {
        let mut progressed = false;
        for candidate in one_deletions(&case) {
            if still_fails(&candidate) {
                case = candidate;
                progressed = true;
                break;
            }
        }
        if !progressed {
            return case;
        }
    }
}

/// Every case with exactly one element fewer: a whole client (first, as
/// the biggest step), a fault, a command, an override.
fn one_deletions(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    for index in 0..case.clients.len() {
        let mut smaller = case.clone();
        smaller.clients.remove(index);
        out.push(smaller);
    }
    for index in 0..case.faults.len() {
        let mut smaller = case.clone();
        smaller.faults.remove(index);
        out.push(smaller);
    }
    for (client, commands) in case.clients.iter().enumerate() {
        for index in (0..commands.commands.len()).rev() {
            let mut smaller = case.clone();
            smaller.clients[client].commands.remove(index);
            out.push(smaller);
        }
    }
    for index in (0..case.schedule.len()).rev() {
        let mut smaller = case.clone();
        smaller.schedule.remove(index);
        out.push(smaller);
    }
    out
}

/// Every order of `count` clients (indices), the identity first; none
/// beyond 5 clients, where 120 orders would cost more than they find.
pub(super) fn client_orders(count: usize) -> Vec<Vec<usize>> {
    fn extend(prefix: &mut Vec<usize>, count: usize, out: &mut Vec<Vec<usize>>) {
        if prefix.len() == count {
            out.push(prefix.clone());
            return;
        }
        for next in 0..count {
            if !prefix.contains(&next) {
                prefix.push(next);
                extend(prefix, count, out);
                prefix.pop();
            }
        }
    }
    if count > 5 {
        return vec![(0..count).collect()];
    }
    let mut out = Vec::new();
    extend(&mut Vec::new(), count, &mut out);
    out
}

/// All commands in one client (id 0), in the clients' `order` (indices),
/// ids renumbered from 0, faults renumbered from 0, and the overrides
/// remapped to the new ids.
pub(super) fn merge_clients(case: &Case, order: &[usize]) -> Case {
    let mut command_ids: BTreeMap<(u32, u32), u32> = BTreeMap::new();
    let mut commands = Vec::new();
    for client in order.iter().filter_map(|&index| case.clients.get(index)) {
        for (id, command) in &client.commands {
            let new_id = commands.len() as u32;
            command_ids.insert((client.id, *id), new_id);
            commands.push((new_id, command.clone()));
        }
    }
    let fault_ids: BTreeMap<u32, u32> = case
        .faults
        .iter()
        .enumerate()
        .map(|(index, fault)| (fault.id, index as u32))
        .collect();
    let client_names: BTreeMap<String, String> = case
        .clients
        .iter()
        .map(|client| (format!("client{}", client.id), "client0".to_string()))
        .collect();
    let schedule = case
        .schedule
        .iter()
        .filter_map(|key| {
            let root = match &key.root {
                Root::Client { client, cmd } => Root::Client {
                    client: 0,
                    cmd: *command_ids.get(&(*client, *cmd))?,
                },
                Root::Fault { fault } => Root::Fault {
                    fault: *fault_ids.get(fault)?,
                },
                Root::Timer { owner, n } => Root::Timer {
                    owner: client_names.get(owner).cloned().unwrap_or(owner.clone()),
                    n: *n,
                },
                Root::Setup => Root::Setup,
            };
            let path = key
                .path
                .iter()
                .map(|segment| rename_in_segment(segment, &|name| client_names.get(name).cloned()))
                .collect();
            Some(EventKey { root, path })
        })
        .collect();
    let faults = case
        .faults
        .iter()
        .enumerate()
        .map(|(index, fault)| crate::check::case::CaseFault {
            id: index as u32,
            fault: fault.fault.clone(),
        })
        .collect();
    let clients = if commands.is_empty() {
        Vec::new()
    } else {
        vec![CaseClient { id: 0, commands }]
    };
    Case {
        clients,
        faults,
        schedule,
        strategy: case.strategy.clone(),
    }
}

/// Bucket names and keys renamed, in order of first appearance, to `a`,
/// `b`, … (names and keys separately; values are kept).
fn rename_data(case: &Case) -> Case {
    let mut names = Renamer::default();
    let mut keys = Renamer::default();
    let mut renamed = case.clone();
    for client in &mut renamed.clients {
        for (_, command) in &mut client.commands {
            *command = match command.clone() {
                Command::Create { bucket } => Command::Create {
                    bucket: names.get(&bucket),
                },
                Command::Lookup { bucket } => Command::Lookup {
                    bucket: names.get(&bucket),
                },
                Command::Put { bucket, key, value } => Command::Put {
                    bucket: names.get(&bucket),
                    key: keys.get(&key),
                    value,
                },
                Command::Get { bucket, key } => Command::Get {
                    bucket: names.get(&bucket),
                    key: keys.get(&key),
                },
                Command::Delete { bucket, key } => Command::Delete {
                    bucket: names.get(&bucket),
                    key: keys.get(&key),
                },
                Command::Crash {
                    target: Target::Bucket(bucket),
                    reason,
                } => Command::Crash {
                    target: Target::Bucket(names.get(&bucket)),
                    reason,
                },
                Command::Kill {
                    target: Target::Bucket(bucket),
                } => Command::Kill {
                    target: Target::Bucket(names.get(&bucket)),
                },
                Command::Stop {
                    target: Target::Bucket(bucket),
                } => Command::Stop {
                    target: Target::Bucket(names.get(&bucket)),
                },
                other => other,
            };
        }
    }
    for fault in &mut renamed.faults {
        fault.fault = match fault.fault.clone() {
            KvFault::KillBucket(name) => KvFault::KillBucket(names.get(&name)),
            KvFault::CrashBucket(name) => KvFault::CrashBucket(names.get(&name)),
            other => other,
        };
    }
    // Overrides name buckets' processes (`bucket:<name>`, with a generation
    // number in a timer's owner), which follow their buckets' new names.
    let bucket = |process: &str| -> Option<String> {
        let stem = without_generation(process);
        let name = stem.strip_prefix("bucket:")?;
        let renamed = names.map.get(name)?;
        Some(format!("bucket:{renamed}{}", &process[stem.len()..]))
    };
    for key in &mut renamed.schedule {
        if let Root::Timer { owner, .. } = &mut key.root
            && let Some(new) = bucket(owner)
        {
            *owner = new;
        }
        for segment in &mut key.path {
            *segment = rename_in_segment(segment, &bucket);
        }
    }
    renamed
}

/// `segment` with the process names of a death segment replaced where
/// `rename` gives a new one.
pub(super) fn rename_in_segment(
    segment: &Segment,
    rename: &dyn Fn(&str) -> Option<String>,
) -> Segment {
    match segment {
        Segment::Death {
            kind,
            from,
            to,
            ordinal,
        } => Segment::Death {
            kind: *kind,
            from: rename(from).unwrap_or_else(|| from.clone()),
            to: rename(to).unwrap_or_else(|| to.clone()),
            ordinal: *ordinal,
        },
        other => other.clone(),
    }
}

/// Maps each distinct word to the next unused short name.
#[derive(Default)]
struct Renamer {
    map: BTreeMap<String, String>,
}

impl Renamer {
    fn get(&mut self, word: &str) -> String {
        let next = self.map.len();
        self.map
            .entry(word.to_string())
            .or_insert_with(|| short_name(next))
            .clone()
    }
}

/// `a` … `z`, then `aa`, `ab`, …
fn short_name(mut index: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_orders_are_every_permutation_identity_first() {
        assert_eq!(client_orders(1), [vec![0]]);
        let three = client_orders(3);
        assert_eq!(three.len(), 6);
        assert_eq!(three[0], [0, 1, 2]);
        assert!(three.contains(&vec![2, 0, 1]));
    }

    #[test]
    fn short_names_count_like_spreadsheet_columns() {
        let names: Vec<String> = [0, 1, 25, 26, 27, 51, 52]
            .into_iter()
            .map(short_name)
            .collect();
        assert_eq!(names, ["a", "b", "z", "aa", "ab", "az", "ba"]);
    }

    #[test]
    fn merging_remaps_overrides_to_the_new_ids() {
        let case = Case {
            clients: vec![
                CaseClient {
                    id: 3,
                    commands: vec![(7, Command::Create { bucket: "x".into() })],
                },
                CaseClient {
                    id: 5,
                    commands: vec![(2, Command::Lookup { bucket: "x".into() })],
                },
            ],
            faults: vec![crate::check::case::CaseFault {
                id: 9,
                fault: KvFault::KillBucket("x".into()),
            }],
            schedule: vec![
                EventKey::client(5, 2).deliver(1),
                EventKey::fault(9),
                EventKey::client(4, 0),
                EventKey::fault(9).down("bucket:x", "client5"),
            ],
            strategy: None,
        };
        let merged = merge_clients(&case, &[0, 1]);
        assert_eq!(merged.clients.len(), 1);
        assert_eq!(
            merged.clients[0]
                .commands
                .iter()
                .map(|(id, _)| *id)
                .collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(
            merged.schedule,
            [
                EventKey::client(0, 1).deliver(1),
                EventKey::fault(0),
                EventKey::fault(0).down("bucket:x", "client0"),
            ]
        );
    }

    #[test]
    fn renaming_is_consistent_across_commands_and_faults() {
        let case = Case {
            clients: vec![CaseClient {
                id: 0,
                commands: vec![
                    (
                        0,
                        Command::Put {
                            bucket: "zz".into(),
                            key: "q".into(),
                            value: "9".into(),
                        },
                    ),
                    (
                        1,
                        Command::Get {
                            bucket: "yy".into(),
                            key: "q".into(),
                        },
                    ),
                ],
            }],
            faults: vec![crate::check::case::CaseFault {
                id: 0,
                fault: KvFault::KillBucket("yy".into()),
            }],
            schedule: vec![
                EventKey::fault(0).down("bucket:yy", "registry"),
                EventKey::timer("bucket:zz#1", 0).exit_signal("registry", "bucket:zz"),
                EventKey::fault(0).down("bucket:unseen", "registry"),
            ],
            strategy: None,
        };
        let renamed = rename_data(&case);
        assert_eq!(
            renamed.schedule,
            [
                EventKey::fault(0).down("bucket:b", "registry"),
                EventKey::timer("bucket:a#1", 0).exit_signal("registry", "bucket:a"),
                EventKey::fault(0).down("bucket:unseen", "registry"),
            ]
        );
        assert_eq!(
            renamed.clients[0].commands[0].1,
            Command::Put {
                bucket: "a".into(),
                key: "a".into(),
                value: "9".into()
            }
        );
        assert_eq!(
            renamed.clients[0].commands[1].1,
            Command::Get {
                bucket: "b".into(),
                key: "a".into()
            }
        );
        assert_eq!(renamed.faults[0].fault, KvFault::KillBucket("b".into()));
    }
}
