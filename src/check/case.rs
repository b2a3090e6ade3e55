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
use crate::kv::{Command, KvFault, Target};
use crate::sim::EventKey;
use crate::sim::key::Root;
use serde::Serialize;
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
                        .map(|(id, command)| CommandFile::of(*id, command))
                        .collect(),
                })
                .collect(),
            faults: self.faults.iter().map(FaultFile::of).collect(),
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

    /// Reads a case file's text; `path` only names it in errors. A UTF-8
    /// byte-order mark at the start is skipped (editors on Windows write
    /// one); anywhere else it is JSON's business. Every mistake is named by
    /// its field (`clients[0].commands[1].id`) with what was expected and
    /// what was found.
    pub fn from_json(path: &Path, text: &str) -> Result<(Case, CaseMeta), CaseFileError> {
        let error = |kind| CaseFileError {
            path: path.to_path_buf(),
            kind,
        };
        let text = text.strip_prefix(BYTE_ORDER_MARK).unwrap_or(text);
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            error(CaseFileErrorKind::Json {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })
        })?;
        let (case, meta) = read_case_file(&value).map_err(error)?;
        case.validate()
            .map_err(|message| error(CaseFileErrorKind::Ids { message }))?;
        case.check_roots().map_err(error)?;
        Ok((case, meta))
    }

    /// Checks that every override's root names an element of the case:
    /// `client<c>.cmd<n>` a command `n` of client `c`, `fault<f>` a fault
    /// `f`. What follows the root is not checked: whether an event's n-th
    /// send or a given `DOWN` exists depends on the run (`kvsim replay`
    /// reports an override that never ran). Timer owners are logical
    /// names, also known only by running.
    pub fn check_roots(&self) -> Result<(), CaseFileErrorKind> {
        for (index, key) in self.schedule.iter().enumerate() {
            let problem = match key.root {
                Root::Client { client, cmd } => {
                    match self.clients.iter().find(|c| c.id == client) {
                        None => Some(format!(
                            "names client {client}, which the case does not have (its clients: {})",
                            id_list(self.clients.iter().map(|c| c.id))
                        )),
                        Some(found) if !found.commands.iter().any(|(id, _)| *id == cmd) => {
                            Some(format!(
                                "names command {cmd} of client {client}, which has no such command (its commands: {})",
                                id_list(found.commands.iter().map(|(id, _)| *id))
                            ))
                        }
                        Some(_) => None,
                    }
                }
                Root::Fault { fault } if !self.faults.iter().any(|f| f.id == fault) => {
                    Some(format!(
                        "names fault {fault}, which the case does not have (its faults: {})",
                        id_list(self.faults.iter().map(|f| f.id))
                    ))
                }
                _ => None,
            };
            if let Some(problem) = problem {
                let field = match self.strategy {
                    None => format!("schedule[{index}]"),
                    Some(_) => format!("schedule.overrides[{index}]"),
                };
                return Err(CaseFileErrorKind::Schedule {
                    field,
                    message: format!("\"{key}\" {problem}"),
                });
            }
        }
        Ok(())
    }
}

/// The byte-order mark a case file or script may begin with, skipped.
pub(crate) const BYTE_ORDER_MARK: &str = "\u{feff}";

/// Ids as a message lists them: `none`, `0, 1, 2`, or the first ten and
/// how many in all.
fn id_list(ids: impl Iterator<Item = u32>) -> String {
    const SHOWN: usize = 10;
    let ids: Vec<u32> = ids.collect();
    if ids.is_empty() {
        return "none".to_string();
    }
    let mut text = ids
        .iter()
        .take(SHOWN)
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(", ... ({} in all)", ids.len()));
    }
    text
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

/// A case file as written: serialized by serde. Reading goes through
/// [`read_case_file`], field by field, so that every mistake names its
/// field.
#[derive(Serialize)]
struct CaseFile {
    kvsim_case: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    registry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    property: Option<String>,
    clients: Vec<ClientFile>,
    faults: Vec<FaultFile>,
    schedule: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ScheduleFile {
    Overrides(Vec<String>),
    Strategy(StrategyFile),
}

#[derive(Serialize)]
struct StrategyFile {
    #[serde(flatten)]
    strategy: Strategy,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    overrides: Vec<String>,
}

#[derive(Serialize)]
struct ClientFile {
    id: u32,
    commands: Vec<CommandFile>,
}

/// One command as a case file holds it: its `.kv` line where that line
/// reads back as the command, else its words one by one (a word may then
/// hold anything: spaces, line breaks, nothing at all), and an unknown
/// command's words under `unknown`, so that a case file never holds a
/// line it would refuse.
#[derive(Serialize)]
#[serde(untagged)]
enum CommandFile {
    Line { id: u32, line: String },
    Words { id: u32, words: Vec<String> },
    Unknown { id: u32, unknown: Vec<String> },
}

impl CommandFile {
    fn of(id: u32, command: &Command) -> CommandFile {
        let line = command.to_string();
        if parse_command(&line).as_ref() == Ok(command) {
            return CommandFile::Line { id, line };
        }
        match command {
            Command::Unknown { words } => CommandFile::Unknown {
                id,
                unknown: words.clone(),
            },
            command => CommandFile::Words {
                id,
                words: command_words(command),
            },
        }
    }
}

/// A known command's words for a case file's `words`: the `.kv` line's,
/// but with a bucket aimed at by `CRASH`, `KILL` or `STOP` written
/// `bucket:<name>` (a bucket may be named `registry`).
fn command_words(command: &Command) -> Vec<String> {
    let target = |target: &Target| match target {
        Target::Registry => "registry".to_string(),
        Target::Bucket(name) => format!("bucket:{name}"),
    };
    let words: Vec<&str> = match command {
        Command::Create { bucket } => vec!["CREATE", bucket],
        Command::Put { bucket, key, value } => vec!["PUT", bucket, key, value],
        Command::Get { bucket, key } => vec!["GET", bucket, key],
        Command::Delete { bucket, key } => vec!["DELETE", bucket, key],
        Command::Lookup { bucket } => vec!["LOOKUP", bucket],
        Command::Crash { target: t, reason } => {
            let mut words = vec!["CRASH".to_string(), target(t)];
            words.extend(reason.clone());
            return words;
        }
        Command::Kill { target: t } => return vec!["KILL".to_string(), target(t)],
        Command::Stop { target: t } => return vec!["STOP".to_string(), target(t)],
        Command::SendRegistry { word } => vec!["SEND", "registry", word],
        Command::Settle => vec!["SETTLE"],
        Command::Unknown { words } => return words.clone(),
    };
    words.into_iter().map(str::to_string).collect()
}

/// A case file's `words`: [`command_words`] read back.
fn command_of_words(words: &[String]) -> Result<Command, String> {
    let target = |word: &str| match word {
        "registry" => Ok(Target::Registry),
        word => word
            .strip_prefix("bucket:")
            .map(|name| Target::Bucket(name.to_string()))
            .ok_or_else(|| {
                format!("{word:?} is not a target (expected registry or bucket:<name>)")
            }),
    };
    let s = |word: &String| word.clone();
    let words: Vec<&String> = words.iter().collect();
    Ok(match words.as_slice() {
        [c, bucket] if *c == "CREATE" => Command::Create { bucket: s(bucket) },
        [c, bucket, key, value] if *c == "PUT" => Command::Put {
            bucket: s(bucket),
            key: s(key),
            value: s(value),
        },
        [c, bucket, key] if *c == "GET" => Command::Get {
            bucket: s(bucket),
            key: s(key),
        },
        [c, bucket, key] if *c == "DELETE" => Command::Delete {
            bucket: s(bucket),
            key: s(key),
        },
        [c, bucket] if *c == "LOOKUP" => Command::Lookup { bucket: s(bucket) },
        [c, t] if *c == "CRASH" => Command::Crash {
            target: target(t)?,
            reason: None,
        },
        [c, t, reason] if *c == "CRASH" => Command::Crash {
            target: target(t)?,
            reason: Some(s(reason)),
        },
        [c, t] if *c == "KILL" => Command::Kill { target: target(t)? },
        [c, t] if *c == "STOP" => Command::Stop { target: target(t)? },
        [c, r, word] if *c == "SEND" && *r == "registry" => Command::SendRegistry { word: s(word) },
        [c] if *c == "SETTLE" => Command::Settle,
        _ => {
            return Err(format!(
                "{words:?} are not the words of a command (CREATE, PUT, GET, DELETE or LOOKUP with their arguments; CRASH, KILL or STOP of registry or bucket:<name>; SEND registry <word>; SETTLE)"
            ));
        }
    })
}

/// One fault as a case file holds it: its text where that reads back as
/// the fault, else the action (`kill` or `crash`) and the bucket's name
/// apart, which may then hold anything.
#[derive(Serialize)]
#[serde(untagged)]
enum FaultFile {
    Text {
        id: u32,
        fault: String,
    },
    Bucket {
        id: u32,
        fault: &'static str,
        bucket: String,
    },
}

impl FaultFile {
    fn of(fault: &CaseFault) -> FaultFile {
        let id = fault.id;
        let text = fault.fault.to_string();
        match &fault.fault {
            KvFault::KillBucket(bucket) | KvFault::CrashBucket(bucket)
                if text.parse::<KvFault>().as_ref() != Ok(&fault.fault) =>
            {
                FaultFile::Bucket {
                    id,
                    fault: if matches!(fault.fault, KvFault::KillBucket(_)) {
                        "kill"
                    } else {
                        "crash"
                    },
                    bucket: bucket.clone(),
                }
            }
            _ => FaultFile::Text { id, fault: text },
        }
    }
}

/// The most PCT depth a case may ask for: the CLI's bound too. Deeper runs
/// would need more change points than any run has steps.
pub const PCT_DEPTH_MAX: u32 = 64;

use serde_json::{Map, Value};

/// What an error message calls a JSON value: its type, and the value
/// itself when short (a string cut to 40 characters).
fn found(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(text) => {
            let mut shown: String = text.chars().take(40).collect();
            if shown.len() < text.len() {
                shown.push_str("...");
            }
            format!("the string {shown:?}")
        }
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

/// `at.name`, or `name` at the top level.
fn field_path(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_string()
    } else {
        format!("{at}.{name}")
    }
}

fn wrong(field: String, expected: &str, value: &Value) -> CaseFileErrorKind {
    CaseFileErrorKind::Field {
        field,
        expected: expected.to_string(),
        found: Some(found(value)),
    }
}

fn missing(field: String, expected: &str) -> CaseFileErrorKind {
    CaseFileErrorKind::Field {
        field,
        expected: expected.to_string(),
        found: None,
    }
}

/// Refuses a field of `object` (at `at`) that is not one of `allowed`.
fn only_fields(
    object: &Map<String, Value>,
    at: &str,
    allowed: &[&str],
) -> Result<(), CaseFileErrorKind> {
    match object.keys().find(|name| !allowed.contains(&name.as_str())) {
        None => Ok(()),
        Some(name) => Err(CaseFileErrorKind::UnknownField {
            field: field_path(at, name),
            known: allowed.iter().map(|name| name.to_string()).collect(),
        }),
    }
}

/// A field that must be there.
fn required<'v>(
    object: &'v Map<String, Value>,
    at: &str,
    name: &str,
    expected: &str,
) -> Result<&'v Value, CaseFileErrorKind> {
    object
        .get(name)
        .ok_or_else(|| missing(field_path(at, name), expected))
}

const ID_EXPECTED: &str = "an integer in 0..=4294967295 (a stable id)";

fn as_id(value: &Value, field: String) -> Result<u32, CaseFileErrorKind> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| wrong(field, ID_EXPECTED, value))
}

fn as_object<'v>(
    value: &'v Value,
    field: String,
    expected: &str,
) -> Result<&'v Map<String, Value>, CaseFileErrorKind> {
    value
        .as_object()
        .ok_or_else(|| wrong(field, expected, value))
}

fn as_array<'v>(
    value: &'v Value,
    field: String,
    expected: &str,
) -> Result<&'v [Value], CaseFileErrorKind> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(wrong(field, expected, other)),
    }
}

fn as_string<'v>(
    value: &'v Value,
    field: String,
    expected: &str,
) -> Result<&'v str, CaseFileErrorKind> {
    value.as_str().ok_or_else(|| wrong(field, expected, value))
}

/// An optional string: absent and `null` are `None`.
fn optional_string(
    object: &Map<String, Value>,
    name: &str,
    expected: &str,
) -> Result<Option<String>, CaseFileErrorKind> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(wrong(name.to_string(), expected, other)),
    }
}

const VERSION_EXPECTED: &str = "a number, the case file format version (this kvsim reads 2)";

/// Reads a parsed case file, field by field: the version first (a file of
/// another version is refused as such, whatever else it holds), then every
/// other field, each mistake named by its field.
fn read_case_file(value: &Value) -> Result<(Case, CaseMeta), CaseFileErrorKind> {
    let Value::Object(top) = value else {
        return Err(CaseFileErrorKind::NotAnObject {
            found: found(value),
        });
    };
    match top.get("kvsim_case") {
        None => return Err(CaseFileErrorKind::NotACase),
        Some(version) => match version.as_u64() {
            Some(found) if found == u64::from(CASE_FORMAT_VERSION) => {}
            Some(1) => return Err(CaseFileErrorKind::OldVersion),
            Some(found) => {
                return Err(CaseFileErrorKind::Version {
                    found,
                    expected: CASE_FORMAT_VERSION,
                });
            }
            None => return Err(wrong("kvsim_case".to_string(), VERSION_EXPECTED, version)),
        },
    }
    only_fields(
        top,
        "",
        &[
            "kvsim_case",
            "registry",
            "property",
            "clients",
            "faults",
            "schedule",
            "meta",
        ],
    )?;
    let registry = optional_string(
        top,
        "registry",
        "a string (the registry stage, e.g. \"unlinked\") or null",
    )?;
    let property = optional_string(
        top,
        "property",
        "a string (the property, e.g. \"P1 lookup-is-alive\") or null",
    )?;
    let extra = match top.get("meta") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(object)) => object.clone(),
        Some(other) => {
            return Err(wrong(
                "meta".to_string(),
                "an object (free-form facts about the case) or null",
                other,
            ));
        }
    };
    let mut case = Case::default();
    const CLIENTS: &str = "an array of clients, each {\"id\": N, \"commands\": [...]}";
    let clients = required(top, "", "clients", CLIENTS)?;
    for (i, client) in as_array(clients, "clients".to_string(), CLIENTS)?
        .iter()
        .enumerate()
    {
        let at = format!("clients[{i}]");
        let object = as_object(
            client,
            at.clone(),
            "an object {\"id\": N, \"commands\": [...]}",
        )?;
        only_fields(object, &at, &["id", "commands"])?;
        let id = as_id(
            required(object, &at, "id", ID_EXPECTED)?,
            field_path(&at, "id"),
        )?;
        const COMMANDS: &str = "an array of commands, each {\"id\": N, \"line\": \"...\"}";
        let commands = required(object, &at, "commands", COMMANDS)?;
        let mut parsed = Vec::new();
        for (j, command) in as_array(commands, field_path(&at, "commands"), COMMANDS)?
            .iter()
            .enumerate()
        {
            let at = format!("{at}.commands[{j}]");
            let object = as_object(
                command,
                at.clone(),
                "an object {\"id\": N, \"line\": \"...\"}",
            )?;
            only_fields(object, &at, &["id", "line", "words", "unknown"])?;
            let command_id = as_id(
                required(object, &at, "id", ID_EXPECTED)?,
                field_path(&at, "id"),
            )?;
            let (field, read) = read_command(object, &at)?;
            let command = read.map_err(|message| CaseFileErrorKind::Command {
                client: id,
                command: command_id,
                field,
                message,
            })?;
            parsed.push((command_id, command));
        }
        case.clients.push(CaseClient {
            id,
            commands: parsed,
        });
    }
    const FAULTS: &str = "an array of faults, each {\"id\": N, \"fault\": \"...\"}";
    if let Some(faults) = top.get("faults") {
        for (i, fault) in as_array(faults, "faults".to_string(), FAULTS)?
            .iter()
            .enumerate()
        {
            let at = format!("faults[{i}]");
            let object = as_object(
                fault,
                at.clone(),
                "an object {\"id\": N, \"fault\": \"...\"}",
            )?;
            only_fields(object, &at, &["id", "fault", "bucket"])?;
            let id = as_id(
                required(object, &at, "id", ID_EXPECTED)?,
                field_path(&at, "id"),
            )?;
            const FAULT: &str = "a string, one fault (e.g. \"kill bucket:a\")";
            let text = as_string(
                required(object, &at, "fault", FAULT)?,
                field_path(&at, "fault"),
                FAULT,
            )?;
            let parsed = match object.get("bucket") {
                None => text
                    .parse::<KvFault>()
                    .map_err(|message| CaseFileErrorKind::Fault { id, message })?,
                Some(bucket) => {
                    const BUCKET: &str = "a string, the bucket's name (any text)";
                    let bucket = as_string(bucket, field_path(&at, "bucket"), BUCKET)?.to_string();
                    match text {
                        "kill" => KvFault::KillBucket(bucket),
                        "crash" => KvFault::CrashBucket(bucket),
                        _ => {
                            return Err(CaseFileErrorKind::Fault {
                                id,
                                message: format!(
                                    "{text:?} is not a fault on a named bucket (expected kill or crash)"
                                ),
                            });
                        }
                    }
                }
            };
            case.faults.push(CaseFault { id, fault: parsed });
        }
    }
    let (overrides, strategy) = read_schedule(top.get("schedule").unwrap_or(&Value::Null))?;
    for (field, key) in overrides {
        let parsed = key
            .parse::<EventKey>()
            .map_err(|e| CaseFileErrorKind::Schedule {
                field,
                message: e.to_string(),
            })?;
        case.schedule.push(parsed);
    }
    case.strategy = strategy;
    let meta = CaseMeta {
        registry,
        property,
        extra,
    };
    Ok((case, meta))
}

/// A command entry's command, from exactly one of `line` (a `.kv` line),
/// `words` (a known command's words) or `unknown` (an unknown command's
/// words). The outer error is a field's; the inner, the command's.
#[allow(clippy::type_complexity)]
fn read_command(
    object: &Map<String, Value>,
    at: &str,
) -> Result<(&'static str, Result<Command, String>), CaseFileErrorKind> {
    const LINE: &str = "a string, one command line (e.g. \"CREATE a\")";
    const WORDS: &str = "an array of strings, a command's words";
    const ONE_OF: &str = "one of line, words or unknown";
    let words = |name: &str| -> Result<Vec<String>, CaseFileErrorKind> {
        let field = field_path(at, name);
        as_array(&object[name], field.clone(), WORDS)?
            .iter()
            .enumerate()
            .map(|(i, word)| {
                as_string(word, format!("{field}[{i}]"), "a string").map(str::to_string)
            })
            .collect()
    };
    let given: Vec<&'static str> = ["line", "words", "unknown"]
        .into_iter()
        .filter(|name| object.contains_key(*name))
        .collect();
    let field = match given.as_slice() {
        // The ordinary form is the one to ask for.
        [] => return Err(missing(field_path(at, "line"), LINE)),
        [field] => *field,
        [first, second, ..] => {
            return Err(CaseFileErrorKind::Field {
                field: field_path(at, second),
                expected: format!("{ONE_OF}, not several"),
                found: Some(format!("{first} as well")),
            });
        }
    };
    let read = match field {
        "line" => parse_command(as_string(&object["line"], field_path(at, "line"), LINE)?),
        "words" => command_of_words(&words("words")?),
        _ => {
            let words = words("unknown")?;
            if words.is_empty() {
                Err("an unknown command has at least one word".to_string())
            } else {
                Ok(Command::Unknown { words })
            }
        }
    };
    Ok((field, read))
}

/// A case file's `schedule`: absent or `null` (the `fifo` order), an array
/// of event keys, or `{"strategy": "random"|"pos"|"pct"|"mutation",
/// "seed": N, ...}` with `depth` (pct, 1..=64), `picks` (mutation, an
/// array of indices) and an optional `overrides` array of keys run first.
/// Returns each override string with its field (parsed by the caller) and
/// the strategy.
#[allow(clippy::type_complexity)]
fn read_schedule(
    value: &Value,
) -> Result<(Vec<(String, String)>, Option<Strategy>), CaseFileErrorKind> {
    const KEYS: &str = "an array of event keys (strings)";
    const KEY: &str = "an event key (a string, e.g. \"client0.cmd1/0\")";
    let keys = |value: &Value, field: &str| -> Result<Vec<(String, String)>, CaseFileErrorKind> {
        as_array(value, field.to_string(), KEYS)?
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let field = format!("{field}[{index}]");
                as_string(item, field.clone(), KEY).map(|key| (field, key.to_string()))
            })
            .collect()
    };
    let object = match value {
        Value::Null => return Ok((Vec::new(), None)),
        Value::Array(_) => return Ok((keys(value, "schedule")?, None)),
        Value::Object(object) => object,
        other => {
            return Err(wrong(
                "schedule".to_string(),
                "an array of event keys, a strategy object or null",
                other,
            ));
        }
    };
    const STRATEGIES: &str = "a strategy: \"random\", \"pos\", \"pct\" or \"mutation\"";
    let name = as_string(
        required(object, "schedule", "strategy", STRATEGIES)?,
        "schedule.strategy".to_string(),
        STRATEGIES,
    )?;
    let allowed: &[&str] = match name {
        "random" | "pos" => &["strategy", "seed", "overrides"],
        "pct" => &["strategy", "seed", "depth", "overrides"],
        "mutation" => &["strategy", "seed", "picks", "overrides"],
        _ => {
            return Err(wrong(
                "schedule.strategy".to_string(),
                STRATEGIES,
                &object["strategy"],
            ));
        }
    };
    only_fields(object, "schedule", allowed)?;
    const SEED: &str = "a non-negative integer (the strategy's seed)";
    let seed = required(object, "schedule", "seed", SEED)?;
    let seed = seed
        .as_u64()
        .ok_or_else(|| wrong("schedule.seed".to_string(), SEED, seed))?;
    let strategy = match name {
        "random" => Strategy::Random { seed },
        "pos" => Strategy::Pos { seed },
        "pct" => {
            const DEPTH: &str = "an integer in 1..=64 (PCT's depth)";
            let depth = required(object, "schedule", "depth", DEPTH)?;
            let depth = depth
                .as_u64()
                .filter(|d| (1..=u64::from(PCT_DEPTH_MAX)).contains(d))
                .ok_or_else(|| wrong("schedule.depth".to_string(), DEPTH, depth))?;
            Strategy::Pct {
                seed,
                depth: depth as u32,
            }
        }
        _ => {
            const PICKS: &str = "an array of integers in 0..=4294967295 (override picks)";
            let picks = match object.get("picks") {
                None => Vec::new(),
                Some(value) => as_array(value, "schedule.picks".to_string(), PICKS)?
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        item.as_u64()
                            .and_then(|n| u32::try_from(n).ok())
                            .ok_or_else(|| {
                                wrong(
                                    format!("schedule.picks[{index}]"),
                                    "an integer in 0..=4294967295",
                                    item,
                                )
                            })
                    })
                    .collect::<Result<_, _>>()?,
            };
            Strategy::Mutation { seed, picks }
        }
    };
    let overrides = match object.get("overrides") {
        None => Vec::new(),
        Some(value) => keys(value, "schedule.overrides")?,
    };
    Ok((overrides, Some(strategy)))
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

/// What is wrong with a case file. Every kind names the field it is about
/// (a path such as `clients[0].commands[1].id`, or the ids of the client
/// and command) and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaseFileErrorKind {
    /// Not JSON.
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// JSON, but not an object.
    NotAnObject {
        found: String,
    },
    /// An object without a `"kvsim_case"` version.
    NotACase,
    /// A field is missing (`found` is `None`), or holds a value of the
    /// wrong type or out of range (`found` says which).
    Field {
        field: String,
        expected: String,
        found: Option<String>,
    },
    /// A field the object it is in does not have; `known` are its fields.
    UnknownField {
        field: String,
        known: Vec<String>,
    },
    /// A format-1 file, from before readable death-signal keys.
    OldVersion,
    Version {
        found: u64,
        expected: u32,
    },
    /// A command entry that is not a command (client and command ids, and
    /// its field: `line`, `words` or `unknown`).
    Command {
        client: u32,
        command: u32,
        field: &'static str,
        message: String,
    },
    /// A fault that is not a fault (its id).
    Fault {
        id: u32,
        message: String,
    },
    /// A schedule entry (`field`, e.g. `schedule[3]`) that is not an event
    /// key, or whose root names a client, command or fault the case does
    /// not have.
    Schedule {
        field: String,
        message: String,
    },
    /// Ids used twice.
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
            } => write!(f, "{path}:{line}:{column}: not a case file: {message}"),
            CaseFileErrorKind::NotAnObject { found } => write!(
                f,
                "{path}: not a case file: expected a JSON object, found {found}"
            ),
            CaseFileErrorKind::NotACase => write!(
                f,
                "{path}: not a case file: field kvsim_case is missing: expected {VERSION_EXPECTED}"
            ),
            CaseFileErrorKind::Field {
                field,
                expected,
                found: Some(found),
            } => write!(
                f,
                "{path}: field {field}: expected {expected}, found {found}"
            ),
            CaseFileErrorKind::Field {
                field,
                expected,
                found: None,
            } => write!(f, "{path}: field {field} is missing: expected {expected}"),
            CaseFileErrorKind::UnknownField { field, known } => write!(
                f,
                "{path}: field {field} is not a field of a case file here (expected one of: {})",
                known.join(", ")
            ),
            CaseFileErrorKind::OldVersion => write!(
                f,
                "{path}: case file version 1 is from an older kvsim whose event keys named death signals by hashed numbers; this kvsim reads version {CASE_FORMAT_VERSION} (re-find the case, or re-save it with the kvsim that wrote it)"
            ),
            CaseFileErrorKind::Version { found, expected } => {
                write!(
                    f,
                    "{path}: case file version {found} is not supported (this kvsim reads version {expected})"
                )
            }
            CaseFileErrorKind::Command {
                client,
                command,
                field,
                message,
            } => {
                write!(
                    f,
                    "{path}: client {client}, command {command}: field {field}: {message}"
                )
            }
            CaseFileErrorKind::Fault { id, message } => {
                write!(f, "{path}: fault {id}: field fault: {message}")
            }
            CaseFileErrorKind::Schedule { field, message } => {
                write!(f, "{path}: field {field}: {message}")
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

    fn read(text: &str) -> String {
        Case::from_json(Path::new("c.case.json"), text)
            .unwrap_err()
            .to_string()
    }

    /// A case file with `field` set to `value` (JSON text) in an otherwise
    /// valid file with one client, one command and one fault.
    fn with(field: &str, value: &str) -> String {
        let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
            r#"{"kvsim_case": 2, "registry": "unlinked", "property": "P1 lookup-is-alive",
                "clients": [{"id": 0, "commands": [{"id": 0, "line": "CREATE a"}]}],
                "faults": [{"id": 0, "fault": "kill bucket:a"}],
                "schedule": ["fault0"], "meta": {"found_by": "hand"}}"#,
        )
        .unwrap();
        object.insert(field.to_string(), serde_json::from_str(value).unwrap());
        serde_json::Value::Object(object).to_string()
    }

    #[test]
    fn a_commands_words_and_a_faults_bucket_are_read_strictly() {
        let clients =
            |command: &str| format!("[{{\"id\": 0, \"commands\": [{{\"id\": 0, {command}}}]}}]");
        for (command, message) in [
            (
                "\"words\": [\"CREATE\"]",
                "client 0, command 0: field words: [\"CREATE\"] are not the words of a command",
            ),
            (
                "\"words\": [\"KILL\", \"a\"]",
                "client 0, command 0: field words: \"a\" is not a target (expected registry or bucket:<name>)",
            ),
            (
                "\"words\": [\"CREATE\", 1]",
                "field clients[0].commands[0].words[1]: expected a string, found the number 1",
            ),
            (
                "\"unknown\": []",
                "client 0, command 0: field unknown: an unknown command has at least one word",
            ),
            (
                "\"line\": \"HELLO\"",
                "client 0, command 0: field line: \"HELLO\" is not a command a case can hold",
            ),
            (
                "\"line\": \"CREATE a\", \"words\": [\"CREATE\", \"a\"]",
                "field clients[0].commands[0].words: expected one of line, words or unknown, not several, found line as well",
            ),
        ] {
            let error = read(&with("clients", &clients(command)));
            assert!(
                error.starts_with(&format!("c.case.json: {message}")),
                "{command}: {error}"
            );
        }
        assert_eq!(
            read(&with(
                "faults",
                "[{\"id\": 0, \"fault\": \"stray\", \"bucket\": \"a b\"}]"
            )),
            "c.case.json: fault 0: field fault: \"stray\" is not a fault on a named bucket (expected kill or crash)"
        );
    }

    #[test]
    fn the_sample_of_with_reads() {
        let (case, meta) = Case::from_json(Path::new("c.case.json"), &with("meta", "null"))
            .expect("a valid case file");
        assert_eq!(case.schedule, vec![EventKey::fault(0)]);
        assert_eq!(meta.registry.as_deref(), Some("unlinked"));
    }

    #[test]
    fn the_version_is_read_first_and_named() {
        assert_eq!(
            read("{\"kvsim_case\": 3, \"clients\": []}"),
            "c.case.json: case file version 3 is not supported (this kvsim reads version 2)"
        );
        assert!(
            read("{\"kvsim_case\": 1, \"clients\": []}")
                .starts_with("c.case.json: case file version 1 is from an older kvsim"),
        );
        for (value, found) in [
            ("\"1\"", "the string \"1\""),
            ("\"2\"", "the string \"2\""),
            ("2.5", "the number 2.5"),
            ("-2", "the number -2"),
            ("null", "null"),
            ("[2]", "an array"),
            ("true", "the boolean true"),
        ] {
            assert_eq!(
                read(&format!("{{\"kvsim_case\": {value}, \"clients\": []}}")),
                format!(
                    "c.case.json: field kvsim_case: expected a number, the case file format version (this kvsim reads 2), found {found}"
                ),
                "{value}"
            );
        }
        assert_eq!(
            read("{\"clients\": []}"),
            "c.case.json: not a case file: field kvsim_case is missing: expected a number, the case file format version (this kvsim reads 2)"
        );
        assert_eq!(
            read("[1, 2]"),
            "c.case.json: not a case file: expected a JSON object, found an array"
        );
        assert!(read("{nope").starts_with("c.case.json:1:2: not a case file: "));
    }

    /// Every field, given a value of the wrong type or left out, is named
    /// with what it should hold and what it holds.
    #[test]
    fn every_field_of_the_wrong_type_or_missing_is_named() {
        const ID: &str = "an integer in 0..=4294967295 (a stable id)";
        let cases: &[(&str, &str, &str)] = &[
            (
                "registry",
                "7",
                "field registry: expected a string (the registry stage, e.g. \"unlinked\") or null, found the number 7",
            ),
            (
                "property",
                "[]",
                "field property: expected a string (the property, e.g. \"P1 lookup-is-alive\") or null, found an array",
            ),
            (
                "meta",
                "\"x\"",
                "field meta: expected an object (free-form facts about the case) or null, found the string \"x\"",
            ),
            (
                "clients",
                "{}",
                "field clients: expected an array of clients, each {\"id\": N, \"commands\": [...]}, found an object",
            ),
            (
                "clients",
                "[3]",
                "field clients[0]: expected an object {\"id\": N, \"commands\": [...]}, found the number 3",
            ),
            (
                "clients",
                "[{\"commands\": []}]",
                &format!("field clients[0].id is missing: expected {ID}"),
            ),
            (
                "clients",
                "[{\"id\": \"0\", \"commands\": []}]",
                &format!("field clients[0].id: expected {ID}, found the string \"0\""),
            ),
            (
                "clients",
                "[{\"id\": -1, \"commands\": []}]",
                &format!("field clients[0].id: expected {ID}, found the number -1"),
            ),
            (
                "clients",
                "[{\"id\": 4294967296, \"commands\": []}]",
                &format!("field clients[0].id: expected {ID}, found the number 4294967296"),
            ),
            (
                "clients",
                "[{\"id\": 0}]",
                "field clients[0].commands is missing: expected an array of commands, each {\"id\": N, \"line\": \"...\"}",
            ),
            (
                "clients",
                "[{\"id\": 0, \"commands\": \"CREATE a\"}]",
                "field clients[0].commands: expected an array of commands, each {\"id\": N, \"line\": \"...\"}, found the string \"CREATE a\"",
            ),
            (
                "clients",
                "[{\"id\": 0, \"commands\": [{\"id\": 0}]}]",
                "field clients[0].commands[0].line is missing: expected a string, one command line (e.g. \"CREATE a\")",
            ),
            (
                "clients",
                "[{\"id\": 0, \"commands\": [{\"id\": 0, \"line\": [\"CREATE\", \"a\"]}]}]",
                "field clients[0].commands[0].line: expected a string, one command line (e.g. \"CREATE a\"), found an array",
            ),
            (
                "clients",
                "[{\"id\": 0, \"commands\": [{\"id\": null, \"line\": \"CREATE a\"}]}]",
                &format!("field clients[0].commands[0].id: expected {ID}, found null"),
            ),
            (
                "clients",
                "[{\"id\": 0, \"commands\": [], \"name\": \"x\"}]",
                "field clients[0].name is not a field of a case file here (expected one of: id, commands)",
            ),
            (
                "faults",
                "{\"id\": 0}",
                "field faults: expected an array of faults, each {\"id\": N, \"fault\": \"...\"}, found an object",
            ),
            (
                "faults",
                "[{\"id\": 0}]",
                "field faults[0].fault is missing: expected a string, one fault (e.g. \"kill bucket:a\")",
            ),
            (
                "faults",
                "[{\"id\": 0, \"fault\": 1}]",
                "field faults[0].fault: expected a string, one fault (e.g. \"kill bucket:a\"), found the number 1",
            ),
            (
                "faults",
                "[{\"fault\": \"kill bucket:a\"}]",
                &format!("field faults[0].id is missing: expected {ID}"),
            ),
            (
                "schedule",
                "7",
                "field schedule: expected an array of event keys, a strategy object or null, found the number 7",
            ),
            (
                "schedule",
                "[3]",
                "field schedule[0]: expected an event key (a string, e.g. \"client0.cmd1/0\"), found the number 3",
            ),
            (
                "schedule",
                "{\"strategy\": \"random\", \"seed\": 1, \"overrides\": \"fault0\"}",
                "field schedule.overrides: expected an array of event keys (strings), found the string \"fault0\"",
            ),
            (
                "schedule",
                "{\"strategy\": \"pct\", \"seed\": 1, \"depth\": 0}",
                "field schedule.depth: expected an integer in 1..=64 (PCT's depth), found the number 0",
            ),
            (
                "schedule",
                "{\"strategy\": \"pct\", \"seed\": 1, \"depth\": 4294967295}",
                "field schedule.depth: expected an integer in 1..=64 (PCT's depth), found the number 4294967295",
            ),
            (
                "schedule",
                "{\"strategy\": \"pct\", \"seed\": 1}",
                "field schedule.depth is missing: expected an integer in 1..=64 (PCT's depth)",
            ),
            (
                "schedule",
                "{\"strategy\": \"randon\", \"seed\": 1}",
                "field schedule.strategy: expected a strategy: \"random\", \"pos\", \"pct\" or \"mutation\", found the string \"randon\"",
            ),
            (
                "schedule",
                "{\"strategy\": 1, \"seed\": 1}",
                "field schedule.strategy: expected a strategy: \"random\", \"pos\", \"pct\" or \"mutation\", found the number 1",
            ),
            (
                "schedule",
                "{\"stratgy\": \"random\", \"seed\": 1}",
                "field schedule.strategy is missing: expected a strategy: \"random\", \"pos\", \"pct\" or \"mutation\"",
            ),
            (
                "schedule",
                "{\"strategy\": \"random\"}",
                "field schedule.seed is missing: expected a non-negative integer (the strategy's seed)",
            ),
            (
                "schedule",
                "{\"strategy\": \"random\", \"seed\": -1}",
                "field schedule.seed: expected a non-negative integer (the strategy's seed), found the number -1",
            ),
            (
                "schedule",
                "{\"strategy\": \"random\", \"seed\": \"1\"}",
                "field schedule.seed: expected a non-negative integer (the strategy's seed), found the string \"1\"",
            ),
            (
                "schedule",
                "{\"strategy\": \"random\", \"seed\": 1, \"depth\": 2}",
                "field schedule.depth is not a field of a case file here (expected one of: strategy, seed, overrides)",
            ),
            (
                "schedule",
                "{\"strategy\": \"mutation\", \"seed\": 1, \"picks\": [1, -1]}",
                "field schedule.picks[1]: expected an integer in 0..=4294967295, found the number -1",
            ),
            (
                "schedule",
                "{\"strategy\": \"mutation\", \"seed\": 1, \"picks\": 3}",
                "field schedule.picks: expected an array of integers in 0..=4294967295 (override picks), found the number 3",
            ),
            (
                "extra",
                "1",
                "field extra is not a field of a case file here (expected one of: kvsim_case, registry, property, clients, faults, schedule, meta)",
            ),
        ];
        for (field, value, message) in cases {
            assert_eq!(
                read(&with(field, value)),
                format!("c.case.json: {message}"),
                "{field}: {value}"
            );
        }
        assert_eq!(
            read("{\"kvsim_case\": 2}"),
            "c.case.json: field clients is missing: expected an array of clients, each {\"id\": N, \"commands\": [...]}"
        );
    }

    #[test]
    fn errors_name_the_file_and_the_place() {
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
            read(
                "{\"kvsim_case\": 2, \"clients\": [{\"id\": 0, \"commands\": [{\"id\": 3, \"line\": \"CRASH\"}]}]}"
            ),
            "c.case.json: client 0, command 3: field line: CRASH needs a target"
        );
        assert_eq!(
            read(
                "{\"kvsim_case\": 2, \"clients\": [], \"faults\": [{\"id\": 1, \"fault\": \"boom\"}]}"
            ),
            "c.case.json: fault 1: field fault: \"boom\" is not a fault (expected kill bucket:<name>, crash bucket:<name>, stray registry, kill-registry or crash-registry)"
        );
        assert_eq!(
            read("{\"kvsim_case\": 2, \"clients\": [], \"schedule\": [\"client0\"]}"),
            "c.case.json: field schedule[0]: \"client0\" is not an event key: at character 8: expected \".cmd\" after the client id, found the end"
        );
        assert_eq!(
            read(
                "{\"kvsim_case\": 2, \"clients\": [{\"id\": 0, \"commands\": []}, {\"id\": 0, \"commands\": []}]}"
            ),
            "c.case.json: client id 0 is used twice"
        );
    }

    /// An override whose root names a client, command or fault the case
    /// does not have can never run: an error naming the entry. What
    /// follows the root is the run's business.
    #[test]
    fn a_schedule_root_the_case_does_not_have_is_named() {
        let clients = "[{\"id\": 0, \"commands\": [{\"id\": 0, \"line\": \"CREATE a\"}, {\"id\": 2, \"line\": \"LOOKUP a\"}]}]";
        let file = |faults: &str, schedule: &str| {
            format!(
                "{{\"kvsim_case\": 2, \"clients\": {clients}, \"faults\": {faults}, \"schedule\": {schedule}}}"
            )
        };
        for (faults, schedule, message) in [
            (
                "[]",
                "[\"client0.cmd0\", \"fault7\"]",
                "field schedule[1]: \"fault7\" names fault 7, which the case does not have (its faults: none)",
            ),
            (
                "[{\"id\": 0, \"fault\": \"kill bucket:a\"}]",
                "[\"fault7/0\"]",
                "field schedule[0]: \"fault7/0\" names fault 7, which the case does not have (its faults: 0)",
            ),
            (
                "[]",
                "[\"client9.cmd3\"]",
                "field schedule[0]: \"client9.cmd3\" names client 9, which the case does not have (its clients: 0)",
            ),
            (
                "[]",
                "[\"client0.cmd0/5/7/9\", \"client0.cmd1/0\"]",
                "field schedule[1]: \"client0.cmd1/0\" names command 1 of client 0, which has no such command (its commands: 0, 2)",
            ),
            (
                "[]",
                "{\"strategy\": \"random\", \"seed\": 1, \"overrides\": [\"client0.cmd5\"]}",
                "field schedule.overrides[0]: \"client0.cmd5\" names command 5 of client 0, which has no such command (its commands: 0, 2)",
            ),
        ] {
            assert_eq!(
                read(&file(faults, schedule)),
                format!("c.case.json: {message}"),
                "{schedule}"
            );
        }
        // A path after an existing root, a timer and setup are not checked.
        let (case, _) = Case::from_json(
            Path::new("c.case.json"),
            &file(
                "[]",
                "[\"client0.cmd0/5/7/9\", \"client0.cmd2/0/DOWN(bucket:a>registry)\", \"timer(client0,3)\", \"setup/0\"]",
            ),
        )
        .expect("paths are the run's business");
        assert_eq!(case.schedule.len(), 4);
        // Long id lists are cut.
        let ids: Vec<u32> = (0..12).collect();
        assert_eq!(
            id_list(ids.into_iter()),
            "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... (12 in all)"
        );
    }

    #[test]
    fn a_byte_order_mark_at_the_start_is_skipped() {
        let text = sample().to_json(&CaseMeta::default());
        let (case, _) = Case::from_json(Path::new("b.case.json"), &format!("\u{feff}{text}"))
            .expect("a BOM is skipped");
        assert_eq!(case, sample());
        // Only at the start: one anywhere else is not JSON.
        assert!(
            read(&format!(" \u{feff}{text}")).starts_with("c.case.json:1:2: not a case file: ")
        );
    }
}
