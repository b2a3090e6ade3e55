//! The case: what one checked run is made of (docs/design.md § Checking) —
//! client scripts, a fault plan and a schedule, every element carrying a
//! stable id. One type for every source (proptest, the fuzzer, case files,
//! the shrinker). Owns the case file format (`"kvsim_case": 1`, pretty
//! JSON, `.case.json`) and its errors.

use crate::kv::script;
use crate::kv::{Command, KvFault};
use crate::sim::EventKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// The case file format version this build reads and writes.
pub const CASE_FORMAT_VERSION: u32 = 1;

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

/// Client scripts, a fault plan and a schedule (an override list).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Case {
    pub clients: Vec<CaseClient>,
    pub faults: Vec<CaseFault>,
    pub schedule: Vec<EventKey>,
}

impl Case {
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

    /// The case file text: pretty JSON, `"kvsim_case": 1` first.
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
            schedule: self.schedule.iter().map(ToString::to_string).collect(),
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
            Some(found) => {
                return Err(error(CaseFileErrorKind::Version {
                    found,
                    expected: CASE_FORMAT_VERSION,
                }));
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
        for (index, key) in file.schedule.iter().enumerate() {
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
    #[serde(default)]
    schedule: Vec<String>,
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
        }
    }

    #[test]
    fn case_files_round_trip() {
        let meta = CaseMeta {
            registry: Some("unlinked".into()),
            property: Some("P1 lookup-is-alive".into()),
        };
        let text = sample().to_json(&meta);
        assert!(text.starts_with("{\n  \"kvsim_case\": 1,"), "{text}");
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
            read("{\"kvsim_case\": 2, \"clients\": []}"),
            "c.case.json: case file version 2 is not supported (this kvsim reads version 1)"
        );
        assert_eq!(
            read("{\"clients\": []}"),
            "c.case.json: not a case file: no \"kvsim_case\" version field"
        );
        assert!(read("{nope").starts_with("c.case.json:1:2: not a case file: "));
        assert_eq!(
            read(
                "{\"kvsim_case\": 1, \"clients\": [{\"id\": 0, \"commands\": [{\"id\": 3, \"line\": \"CRASH\"}]}]}"
            ),
            "c.case.json: client 0, command 3: CRASH needs a target"
        );
        assert_eq!(
            read(
                "{\"kvsim_case\": 1, \"clients\": [], \"faults\": [{\"id\": 1, \"fault\": \"boom\"}]}"
            ),
            "c.case.json: fault 1: \"boom\" is not a fault (expected kill bucket:<name>, crash bucket:<name>, stray registry, kill-registry or crash-registry)"
        );
        assert_eq!(
            read("{\"kvsim_case\": 1, \"clients\": [], \"schedule\": [\"client0\"]}"),
            "c.case.json: schedule entry 0: \"client0\" is not an event key: at character 8: expected \".cmd\" after the client id, found the end"
        );
        assert_eq!(
            read(
                "{\"kvsim_case\": 1, \"clients\": [{\"id\": 0, \"commands\": []}, {\"id\": 0, \"commands\": []}]}"
            ),
            "c.case.json: client id 0 is used twice"
        );
    }
}
