//! The case: what one checked run is made of (docs/design.md § Checking) —
//! client scripts, a fault plan and a schedule, every element carrying a
//! stable id. One type for every source (proptest, the fuzzer, case files,
//! the shrinker). Owns the case file format (`"kvsim_case": 2`, pretty
//! JSON, `.case.json`) and its errors.
//!
//! Format 2 (this one): `schedule` is either an override list (an array of
//! event keys) or an object `{"strategy": "random"|"pos"|"pct"|"mutation",
//! "seed": N, ...}` with an optional `"overrides"` array run first; and an
//! optional `meta` object carries free-form facts about the case (the
//! kvsim version that wrote it, how it was found), kept as written so later
//! front ends can add fields without a format change. Format 1 files named
//! death signals by hashed indices that no longer mean anything, so they
//! are refused with an error that says so.

use crate::check::schedule::Strategy;
use crate::kv::script;
use crate::kv::{Command, KvFault};
use crate::sim::EventKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// The case file format version this build reads and writes.
pub const CASE_FORMAT_VERSION: u32 = 2;

/// One client's script.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseClient {
    /// Stable id: event keys and the client's name (`client<id>`) use it.
    pub id: u32,
    /// (stable id, command), in the order the client plays them.
    pub commands: Vec<(u32, Command)>,
}

/// One fault of the plan.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseFault {
    pub id: u32,
    pub fault: KvFault,
}

/// Client scripts, a fault plan and a schedule: an override list, then a
/// strategy (or the `fifo` order when `strategy` is `None`) wherever no
/// override is enabled.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Case {
    pub clients: Vec<CaseClient>,
    pub faults: Vec<CaseFault>,
    pub schedule: Vec<EventKey>,
    pub strategy: Option<Strategy>,
}

impl Case {
    /// A `.kv` script as a case: client `i` of the script gets stable id
    /// `i` (named `client<i>` in traces and keys), its `j`-th line command
    /// id `j`; no faults (a script's faults are its `CRASH`/`KILL`/`SEND`
    /// directives) and the `fifo` schedule.
    pub fn from_script(script: &script::Script) -> Case {
        Case {
            clients: script
                .clients
                .iter()
                .enumerate()
                .map(|(id, client)| CaseClient {
                    id: id as u32,
                    commands: client
                        .lines
                        .iter()
                        .enumerate()
                        .map(|(cmd, line)| (cmd as u32, line.command.clone()))
                        .collect(),
                })
                .collect(),
            ..Case::default()
        }
    }

    /// The number of commands over all clients.
    pub fn command_count(&self) -> usize {
        self.clients.iter().map(|c| c.commands.len()).sum()
    }

    /// Elements a shrinker can delete: commands, faults and overrides.
    pub fn size(&self) -> usize {
        self.command_count() + self.faults.len() + self.schedule.len()
    }

    /// Checks that ids are unique where they must be.
    pub fn validate(&self) -> Result<(), String> {
        let mut clients = BTreeSet::new();
        for client in &self.clients {
            if !clients.insert(client.id) {
                return Err(format!("client id {} is used twice", client.id));
            }
            let mut commands = BTreeSet::new();
            for (id, _) in &client.commands {
                if !commands.insert(*id) {
                    return Err(format!(
                        "command id {id} is used twice in client {}",
                        client.id
                    ));
                }
            }
        }
        let mut faults = BTreeSet::new();
        for fault in &self.faults {
            if !faults.insert(fault.id) {
                return Err(format!("fault id {} is used twice", fault.id));
            }
        }
        Ok(())
    }

    /// The case file text: pretty JSON, `"kvsim_case": 2` first.
    pub fn to_json(&self, meta: &CaseMeta) -> String {
        let file = CaseFile {
            kvsim_case: CASE_FORMAT_VERSION,
            registry: meta.registry.clone(),
            property: meta.property.clone(),
            clients: self
                .clients
                .iter()
                .map(|client| ClientFile {
                    id: client.id,
                    commands: client
                        .commands
                        .iter()
                        .map(|(id, command)| CommandFile {
                            id: *id,
                            line: command.to_string(),
                        })
                        .collect(),
                })
                .collect(),
            faults: self
                .faults
                .iter()
                .map(|fault| FaultFile {
                    id: fault.id,
                    fault: fault.fault.to_string(),
                })
                .collect(),
            schedule: {
                let overrides: Vec<String> =
                    self.schedule.iter().map(ToString::to_string).collect();
                let file = match &self.strategy {
                    None => ScheduleFile::Overrides(overrides),
                    Some(strategy) => ScheduleFile::Strategy(StrategyFile {
                        strategy: strategy.clone(),
                        overrides,
                    }),
                };
                // Plain strings and numbers: cannot fail.
                serde_json::to_value(file).unwrap_or_default()
            },
            meta: (!meta.extra.is_empty()).then(|| meta.extra.clone()),
        };
        // Plain strings and numbers: serializing cannot fail.
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a case file's text; `path` only names it in errors.
    pub fn from_json(path: &Path, text: &str) -> Result<(Case, CaseMeta), CaseFileError> {
        let error = |kind| CaseFileError {
            path: path.to_path_buf(),
            kind,
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            error(CaseFileErrorKind::Json {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })
        })?;
        match value.get("kvsim_case").and_then(serde_json::Value::as_u64) {
            Some(found) if found == u64::from(CASE_FORMAT_VERSION) => {}
            Some(1) => return Err(error(CaseFileErrorKind::OldVersion)),
            Some(found) => {
                return Err(error(CaseFileErrorKind::Version {
                    found,
                    expected: CASE_FORMAT_VERSION,
                }));
            }
            None if value.get("kvsim_case").is_some() => {
                return Err(error(CaseFileErrorKind::VersionType));
            }
            None => return Err(error(CaseFileErrorKind::NotACase)),
        }
        let file: CaseFile = serde_json::from_value(value).map_err(|e| {
            error(CaseFileErrorKind::Json {
                line: 0,
                column: 0,
                message: e.to_string(),
            })
        })?;
        let mut case = Case::default();
        for client in file.clients {
            let mut commands = Vec::new();
            for command in client.commands {
                let parsed = parse_command(&command.line).map_err(|message| {
                    error(CaseFileErrorKind::Command {
                        client: client.id,
                        command: command.id,
                        message,
                    })
                })?;
                commands.push((command.id, parsed));
            }
            case.clients.push(CaseClient {
                id: client.id,
                commands,
            });
        }
        for fault in file.faults {
            let parsed = fault.fault.parse::<KvFault>().map_err(|message| {
                error(CaseFileErrorKind::Fault {
                    id: fault.id,
                    message,
                })
            })?;
            case.faults.push(CaseFault {
                id: fault.id,
                fault: parsed,
            });
        }
        let (overrides, strategy) = read_schedule(&file.schedule)
            .map_err(|message| error(CaseFileErrorKind::Strategy { message }))?;
        case.strategy = strategy;
        for (index, key) in overrides.iter().enumerate() {
            let parsed = key.parse::<EventKey>().map_err(|e| {
                error(CaseFileErrorKind::Schedule {
                    index,
                    message: e.to_string(),
                })
            })?;
            case.schedule.push(parsed);
        }
        case.validate()
            .map_err(|message| error(CaseFileErrorKind::Ids { message }))?;
        let meta = CaseMeta {
            registry: file.registry,
            property: file.property,
            extra: file.meta.unwrap_or_default(),
        };
        Ok((case, meta))
    }
}

/// What a case file says besides the case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseMeta {
    /// The registry stage it was found on.
    pub registry: Option<String>,
    /// The property it broke, e.g. `P1 lookup-is-alive`.
    pub property: Option<String>,
    /// The `meta` object: free-form facts, e.g. `kvsim_version` and
    /// `found_by` (written by kvsim's front ends), kept as read.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl CaseMeta {
    /// Meta for a case kvsim writes: the registry, the property, this
    /// kvsim's version and how the case was found (free text).
    pub fn found(registry: &str, property: Option<String>, found_by: &str) -> CaseMeta {
        let mut extra = serde_json::Map::new();
        extra.insert(
            "kvsim_version".to_string(),
            env!("CARGO_PKG_VERSION").into(),
        );
        extra.insert("found_by".to_string(), found_by.into());
        CaseMeta {
            registry: Some(registry.to_string()),
            property,
            extra,
        }
    }
}

/// One `.kv` command line, as a case file holds it.
fn parse_command(line: &str) -> Result<Command, String> {
    if line.contains(['\n', '\r']) {
        return Err("a command is one line".to_string());
    }
    let parsed =
        script::parse(Path::new("command"), line.as_bytes()).map_err(|e| e.kind().to_string())?;
    match parsed.clients.as_slice() {
        [client] if client.lines.len() == 1 => match &client.lines[0].command {
            // A script answers an unknown command itself; in a case file it
            // can only be a mistake.
            Command::Unknown { .. } => Err(format!("{line:?} is not a command a case can hold")),
            command => Ok(command.clone()),
        },
        _ => Err(format!("{line:?} is not one command")),
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    kvsim_case: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    property: Option<String>,
    clients: Vec<ClientFile>,
    #[serde(default)]
    faults: Vec<FaultFile>,
    /// An array of keys, or a strategy object: read by [`read_schedule`]
    /// so that each mistake gets its own message.
    #[serde(default)]
    schedule: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    meta: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ScheduleFile {
    Overrides(Vec<String>),
    Strategy(StrategyFile),
}

/// The most PCT depth a case may ask for: the CLI's bound too. Deeper runs
/// would need more change points than any run has steps.
pub const PCT_DEPTH_MAX: u32 = 64;

/// A case file's `schedule`: absent or `null` (the `fifo` order), an array
/// of event keys, or `{"strategy": "random"|"pos"|"pct"|"mutation",
/// "seed": N, ...}` with `depth` (pct, 1..=64), `picks` (mutation, an
/// array of indices) and an optional `overrides` array of keys run first.
/// Returns the override strings (parsed by the caller, which names their
/// index) and the strategy; each mistake is named.
fn read_schedule(value: &serde_json::Value) -> Result<(Vec<String>, Option<Strategy>), String> {
    use serde_json::Value;
    let keys = |value: &Value, field: &str| -> Result<Vec<String>, String> {
        let Value::Array(items) = value else {
            return Err(format!("{field} must be an array of event keys"));
        };
        items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(key) => Ok(key.clone()),
                other => Err(format!(
                    "{field} entry {index} must be a string (an event key), found {other}"
                )),
            })
            .collect()
    };
    let object = match value {
        Value::Null => return Ok((Vec::new(), None)),
        Value::Array(_) => return Ok((keys(value, "schedule")?, None)),
        Value::Object(object) => object,
        other => {
            return Err(format!(
                "must be an array of event keys or a strategy object, found {other}"
            ));
        }
    };
    let name = match object.get("strategy") {
        Some(Value::String(name)) => name.as_str(),
        Some(other) => return Err(format!("\"strategy\" must be a string, found {other}")),
        None => {
            return Err(
                "a schedule object needs \"strategy\" (random, pos, pct or mutation)".to_string(),
            );
        }
    };
    let allowed: &[&str] = match name {
        "random" | "pos" => &["strategy", "seed", "overrides"],
        "pct" => &["strategy", "seed", "depth", "overrides"],
        "mutation" => &["strategy", "seed", "picks", "overrides"],
        other => {
            return Err(format!(
                "unknown strategy {other:?} (expected random, pos, pct or mutation)"
            ));
        }
    };
    if let Some(field) = object
        .keys()
        .find(|field| !allowed.contains(&field.as_str()))
    {
        return Err(format!(
            "strategy {name} has no field {field:?} (its fields: {})",
            allowed.join(", ")
        ));
    }
    let number = |field: &str| -> Result<Option<u64>, String> {
        match object.get(field) {
            None => Ok(None),
            Some(value) => value.as_u64().map(Some).ok_or_else(|| {
                format!("\"{field}\" must be a non-negative integer, found {value}")
            }),
        }
    };
    let seed = number("seed")?.ok_or_else(|| format!("strategy {name} needs \"seed\""))?;
    let strategy = match name {
        "random" => Strategy::Random { seed },
        "pos" => Strategy::Pos { seed },
        "pct" => {
            let depth = number("depth")?.ok_or("strategy pct needs \"depth\" (1..=64)")?;
            if !(1..=u64::from(PCT_DEPTH_MAX)).contains(&depth) {
                return Err(format!(
                    "pct depth must be in 1..={PCT_DEPTH_MAX}, found {depth}"
                ));
            }
            Strategy::Pct {
                seed,
                depth: depth as u32,
            }
        }
        _ => {
            let picks = match object.get("picks") {
                None => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| {
                        item.as_u64()
                            .and_then(|n| u32::try_from(n).ok())
                            .ok_or_else(|| format!("\"picks\" entries must be integers in 0..=4294967295, found {item}"))
                    })
                    .collect::<Result<_, _>>()?,
                Some(other) => return Err(format!("\"picks\" must be an array, found {other}")),
            };
            Strategy::Mutation { seed, picks }
        }
    };
    let overrides = match object.get("overrides") {
        None => Vec::new(),
        Some(value) => keys(value, "overrides")?,
    };
    Ok((overrides, Some(strategy)))
}

#[derive(Serialize)]
struct StrategyFile {
    #[serde(flatten)]
    strategy: Strategy,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    overrides: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFile {
    id: u32,
    commands: Vec<CommandFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandFile {
    id: u32,
    line: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultFile {
    id: u32,
    fault: String,
}

/// A case file that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseFileError {
    path: PathBuf,
    kind: CaseFileErrorKind,
}

impl CaseFileError {
    pub fn kind(&self) -> &CaseFileErrorKind {
        &self.kind
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What is wrong with a case file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaseFileErrorKind {
    /// Not JSON, or JSON of the wrong shape.
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// JSON without a `"kvsim_case"` version.
    NotACase,
    /// `"kvsim_case"` is there but not a number.
    VersionType,
    /// A format-1 file, from before readable death-signal keys.
    OldVersion,
    /// A schedule strategy that cannot run.
    Strategy {
        message: String,
    },
    Version {
        found: u64,
        expected: u32,
    },
    Command {
        client: u32,
        command: u32,
        message: String,
    },
    Fault {
        id: u32,
        message: String,
    },
    Schedule {
        index: usize,
        message: String,
    },
    Ids {
        message: String,
    },
}

impl fmt::Display for CaseFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            CaseFileErrorKind::Json {
                line,
                column,
                message,
            } if *line > 0 => {
                write!(f, "{path}:{line}:{column}: not a case file: {message}")
            }
            CaseFileErrorKind::Json { message, .. } => {
                write!(f, "{path}: not a case file: {message}")
            }
            CaseFileErrorKind::NotACase => {
                write!(
                    f,
                    "{path}: not a case file: no \"kvsim_case\" version field"
                )
            }
            CaseFileErrorKind::VersionType => write!(
                f,
                "{path}: \"kvsim_case\" must be a number (this kvsim reads version {CASE_FORMAT_VERSION})"
            ),
            CaseFileErrorKind::OldVersion => write!(
                f,
                "{path}: case file version 1 is from an older kvsim whose event keys named death signals by hashed numbers; this kvsim reads version {CASE_FORMAT_VERSION} (re-find the case, or re-save it with the kvsim that wrote it)"
            ),
            CaseFileErrorKind::Strategy { message } => {
                write!(f, "{path}: schedule: {message}")
            }
            CaseFileErrorKind::Version { found, expected } => {
                write!(
                    f,
                    "{path}: case file version {found} is not supported (this kvsim reads version {expected})"
                )
            }
            CaseFileErrorKind::Command {
                client,
                command,
                message,
            } => {
                write!(f, "{path}: client {client}, command {command}: {message}")
            }
            CaseFileErrorKind::Fault { id, message } => write!(f, "{path}: fault {id}: {message}"),
            CaseFileErrorKind::Schedule { index, message } => {
                write!(f, "{path}: schedule entry {index}: {message}")
            }
            CaseFileErrorKind::Ids { message } => write!(f, "{path}: {message}"),
        }
    }
}

impl std::error::Error for CaseFileError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::Target;

    fn sample() -> Case {
        Case {
            clients: vec![CaseClient {
                id: 0,
                commands: vec![
                    (0, Command::Create { bucket: "a".into() }),
                    (1, Command::Lookup { bucket: "a".into() }),
                    (
                        2,
                        Command::Stop {
                            target: Target::Bucket("a".into()),
                        },
                    ),
                ],
            }],
            faults: vec![CaseFault {
                id: 0,
                fault: KvFault::KillBucket("a".into()),
            }],
            schedule: vec![EventKey::fault(0), EventKey::client(0, 1).deliver(1)],
            strategy: None,
        }
    }

    #[test]
    fn case_files_round_trip() {
        let meta = CaseMeta {
            registry: Some("unlinked".into()),
            property: Some("P1 lookup-is-alive".into()),
            extra: Default::default(),
        };
        let text = sample().to_json(&meta);
        assert!(text.starts_with("{\n  \"kvsim_case\": 2,"), "{text}");
        let (case, read_meta) =
            Case::from_json(Path::new("x.case.json"), &text).expect("reads back");
        assert_eq!(case, sample());
        assert_eq!(read_meta, meta);
    }

    #[test]
    fn errors_name_the_file_and_the_place() {
        let read = |text: &str| {
            Case::from_json(Path::new("c.case.json"), text)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            read("{\"kvsim_case\": 3, \"clients\": []}"),
            "c.case.json: case file version 3 is not supported (this kvsim reads version 2)"
        );
        assert!(
            read("{\"kvsim_case\": 1, \"clients\": []}")
                .starts_with("c.case.json: case file version 1 is from an older kvsim"),
        );
        assert_eq!(
            read("{\"kvsim_case\": \"2\", \"clients\": []}"),
            "c.case.json: \"kvsim_case\" must be a number (this kvsim reads version 2)"
        );
        assert_eq!(
            read(
                "{\"kvsim_case\": 2, \"clients\": [], \"schedule\": {\"strategy\": \"pct\", \"seed\": 1, \"depth\": 0}}"
            ),
            "c.case.json: schedule: pct depth must be in 1..=64, found 0"
        );
        let schedule = |object: &str| {
            read(&format!(
                "{{\"kvsim_case\": 2, \"clients\": [], \"schedule\": {object}}}"
            ))
        };
        for (object, message) in [
            (
                "{\"strategy\": \"pct\", \"seed\": 1, \"depth\": 4294967295}",
                "pct depth must be in 1..=64, found 4294967295",
            ),
            (
                "{\"strategy\": \"randon\", \"seed\": 1}",
                "unknown strategy \"randon\" (expected random, pos, pct or mutation)",
            ),
            (
                "{\"stratgy\": \"random\", \"seed\": 1}",
                "a schedule object needs \"strategy\" (random, pos, pct or mutation)",
            ),
            (
                "{\"strategy\": \"random\"}",
                "strategy random needs \"seed\"",
            ),
            (
                "{\"strategy\": \"random\", \"seed\": -1}",
                "\"seed\" must be a non-negative integer, found -1",
            ),
            (
                "{\"strategy\": \"pct\", \"seed\": 1}",
                "strategy pct needs \"depth\" (1..=64)",
            ),
            (
                "{\"strategy\": \"random\", \"seed\": 1, \"depth\": 2}",
                "strategy random has no field \"depth\" (its fields: strategy, seed, overrides)",
            ),
            (
                "7",
                "must be an array of event keys or a strategy object, found 7",
            ),
            (
                "[3]",
                "schedule entry 0 must be a string (an event key), found 3",
            ),
        ] {
            assert_eq!(
                schedule(object),
                format!("c.case.json: schedule: {message}"),
                "{object}"
            );
        }
        // A mutation needs no picks (it then names no override).
        let (case, _) = Case::from_json(
            Path::new("m.case.json"),
            "{\"kvsim_case\": 2, \"clients\": [], \"schedule\": {\"strategy\": \"mutation\", \"seed\": 3}}",
        )
        .expect("reads");
        assert_eq!(
            case.strategy,
            Some(Strategy::Mutation {
                seed: 3,
                picks: Vec::new()
            })
        );
        assert_eq!(
            read("{\"clients\": []}"),
            "c.case.json: not a case file: no \"kvsim_case\" version field"
        );
        assert!(read("{nope").starts_with("c.case.json:1:2: not a case file: "));
        assert_eq!(
            read(
                "{\"kvsim_case\": 2, \"clients\": [{\"id\": 0, \"commands\": [{\"id\": 3, \"line\": \"CRASH\"}]}]}"
            ),
            "c.case.json: client 0, command 3: CRASH needs a target"
        );
        assert_eq!(
            read(
                "{\"kvsim_case\": 2, \"clients\": [], \"faults\": [{\"id\": 1, \"fault\": \"boom\"}]}"
            ),
            "c.case.json: fault 1: \"boom\" is not a fault (expected kill bucket:<name>, crash bucket:<name>, stray registry, kill-registry or crash-registry)"
        );
        assert_eq!(
            read("{\"kvsim_case\": 2, \"clients\": [], \"schedule\": [\"client0\"]}"),
            "c.case.json: schedule entry 0: \"client0\" is not an event key: at character 8: expected \".cmd\" after the client id, found the end"
        );
        assert_eq!(
            read(
                "{\"kvsim_case\": 2, \"clients\": [{\"id\": 0, \"commands\": []}, {\"id\": 0, \"commands\": []}]}"
            ),
            "c.case.json: client id 0 is used twice"
        );
    }
}
