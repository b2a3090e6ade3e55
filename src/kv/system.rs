//! A whole KV system in one simulation: a registry (any [`Registry`]),
//! client drivers and a fault plan. Owns the wiring and what the harness
//! can read back (dialogues, the registry's state); running is the sim's.

use crate::kv::client::{Client, Exchange};
use crate::kv::command::Command;
use crate::kv::protocol::{KvMsg, Registry};
use crate::otp::{Envelope, GenServerProcess};
use crate::sim::{ChoiceSource, Fault, FaultAction, Limits, Naming, Pid, Reason, Sim, SpawnOpts};
use std::cell::RefCell;
use std::rc::Rc;

/// The whole conversation from each client's transcript (in the order the
/// clients were added) and their names, as [`KvSystem::dialogue`] gives it:
/// for a caller that needs the transcripts too and should not write them
/// twice.
pub(crate) fn dialogue_of<'a>(
    names: impl IntoIterator<Item = &'a str>,
    transcripts: &[String],
) -> String {
    if let [only] = transcripts {
        return only.clone();
    }
    let mut out = String::new();
    for (name, transcript) in names.into_iter().zip(transcripts) {
        push_dialogue_header(&mut out, name);
        out.push_str(transcript);
    }
    out
}

/// The line that opens a client's part of a dialogue of several clients:
/// `== <name>`.
pub(crate) fn push_dialogue_header(out: &mut String, name: &str) {
    out.push_str("== ");
    out.push_str(name);
    out.push('\n');
}

/// The message type of the KV system's simulation.
pub type Msg = Envelope<KvMsg>;

/// A fault of the plan, by role (docs/design.md § Faults).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KvFault {
    /// `kill bucket:<name>`: untrappable.
    KillBucket(String),
    /// `crash bucket:<name>`: exit signal with reason `boom`.
    CrashBucket(String),
    /// `stray registry`: a message the registry does not expect.
    StrayRegistry,
    KillRegistry,
    /// `crash-registry`: exit signal with reason `boom`.
    CrashRegistry,
}

/// The case-file form: `kill bucket:<name>`, `crash bucket:<name>`,
/// `stray registry`, `kill-registry`, `crash-registry`.
impl std::fmt::Display for KvFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvFault::KillBucket(name) => write!(f, "kill bucket:{name}"),
            KvFault::CrashBucket(name) => write!(f, "crash bucket:{name}"),
            KvFault::StrayRegistry => f.write_str("stray registry"),
            KvFault::KillRegistry => f.write_str("kill-registry"),
            KvFault::CrashRegistry => f.write_str("crash-registry"),
        }
    }
}

impl std::str::FromStr for KvFault {
    type Err = String;

    fn from_str(text: &str) -> Result<KvFault, String> {
        let bucket = |rest: &str| -> Option<String> {
            let name = rest.strip_prefix("bucket:")?;
            let is_word = !name.is_empty() && !name.contains([' ', '\t', '\n', '\r']);
            is_word.then(|| name.to_string())
        };
        match text {
            "stray registry" => return Ok(KvFault::StrayRegistry),
            "kill-registry" => return Ok(KvFault::KillRegistry),
            "crash-registry" => return Ok(KvFault::CrashRegistry),
            _ => {}
        }
        if let Some(name) = text.strip_prefix("kill ").and_then(bucket) {
            return Ok(KvFault::KillBucket(name));
        }
        if let Some(name) = text.strip_prefix("crash ").and_then(bucket) {
            return Ok(KvFault::CrashBucket(name));
        }
        Err(format!(
            "{text:?} is not a fault (expected kill bucket:<name>, crash bucket:<name>, stray registry, kill-registry or crash-registry)"
        ))
    }
}

impl KvFault {
    /// Whether firing it licenses the registry's death (property 3).
    pub fn licenses_registry_death(&self) -> bool {
        matches!(self, KvFault::KillRegistry | KvFault::CrashRegistry)
    }

    /// The bucket name it targets, if any.
    pub fn bucket(&self) -> Option<&str> {
        match self {
            KvFault::KillBucket(name) | KvFault::CrashBucket(name) => Some(name),
            _ => None,
        }
    }

    fn role_and_action(&self) -> (String, FaultAction<Msg>) {
        match self {
            KvFault::KillBucket(name) => (format!("bucket:{name}"), FaultAction::Kill),
            KvFault::CrashBucket(name) => {
                (format!("bucket:{name}"), FaultAction::Exit(Reason::boom()))
            }
            KvFault::StrayRegistry => (
                "registry".to_string(),
                FaultAction::Send(Envelope::Info(KvMsg::Stray("stray".to_string()))),
            ),
            KvFault::KillRegistry => ("registry".to_string(), FaultAction::Kill),
            KvFault::CrashRegistry => ("registry".to_string(), FaultAction::Exit(Reason::boom())),
        }
    }
}

/// A registry, its clients and faults, ready to run.
pub struct KvSystem {
    pub sim: Sim<Msg>,
    pub registry: Pid,
    clients: Vec<Pid>,
}

type RegistryProcess = GenServerProcess<Box<dyn Registry>>;

impl KvSystem {
    /// Starts `registry` (named `registry`, fault role `registry`).
    pub fn new(
        registry: Box<dyn Registry>,
        chooser: Box<dyn ChoiceSource>,
        limits: Limits,
        tracing: bool,
    ) -> KvSystem {
        let mut sim = Sim::new(chooser, limits, tracing);
        let opts = SpawnOpts {
            naming: Naming::Exact("registry".to_string()),
            role: Some("registry".to_string()),
            link: false,
            monitor: false,
        };
        let process: RegistryProcess = GenServerProcess::new(registry, None);
        // A registry whose init fails is simply dead from the start: every
        // command then answers `ERROR noproc`, as on the BEAM.
        let registry = match sim.spawn(opts, Box::new(process)) {
            Ok(spawned) => spawned.pid,
            Err(_) => Pid(1),
        };
        KvSystem {
            sim,
            registry,
            clients: Vec::new(),
        }
    }

    /// Adds a client (named `client<k>` in order) playing `commands`.
    pub fn add_client(
        &mut self,
        stable_id: u32,
        commands: impl Iterator<Item = (u32, Command)> + 'static,
        record: bool,
    ) -> Pid {
        let client = Client::new(self.registry, commands, record);
        let pid = self.sim.spawn_client(stable_id, Box::new(client));
        self.clients.push(pid);
        pid
    }

    /// Adds a client like [`KvSystem::add_client`] that keeps no exchanges
    /// but appends its dialogue's text to the returned buffer as each
    /// command is answered (for a caller that writes it as it comes).
    pub fn add_client_transcribed(
        &mut self,
        stable_id: u32,
        commands: impl Iterator<Item = (u32, Command)> + 'static,
    ) -> Rc<RefCell<String>> {
        let transcript = Rc::new(RefCell::new(String::new()));
        let client = Client::transcribing(self.registry, commands, Rc::clone(&transcript));
        let pid = self.sim.spawn_client(stable_id, Box::new(client));
        self.clients.push(pid);
        transcript
    }

    /// Adds a fault with stable id `id` to the plan.
    pub fn add_fault(&mut self, id: u32, fault: &KvFault) {
        let (target, action) = fault.role_and_action();
        self.sim.add_fault(Fault { id, target, action });
    }

    pub fn clients(&self) -> &[Pid] {
        &self.clients
    }

    /// A client's recorded exchanges.
    pub fn exchanges(&self, client: Pid) -> &[Exchange] {
        self.client(client).map(Client::exchanges).unwrap_or(&[])
    }

    /// A client's command in flight: (stable id, command, invoked step).
    pub fn pending(&self, client: Pid) -> Option<(u32, &Command, u64)> {
        self.client(client)?.pending()
    }

    /// A client's dialogue.
    pub fn transcript(&self, client: Pid) -> String {
        self.client(client)
            .map(Client::transcript)
            .unwrap_or_default()
    }

    /// The whole conversation, as `kvsim run` prints it: with one client
    /// its dialogue; with several, each under a `== <name>` header, `names`
    /// giving the clients' names in the order they were added.
    pub fn dialogue<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> String {
        let transcripts: Vec<String> = self
            .clients
            .iter()
            .map(|&pid| self.transcript(pid))
            .collect();
        dialogue_of(names, &transcripts)
    }

    /// The registry's state, while it is alive and not mid-handler.
    pub fn registry_state(&self) -> Option<&dyn Registry> {
        let process = self
            .sim
            .process(self.registry)?
            .downcast_ref::<RegistryProcess>()?;
        Some(process.server.as_ref())
    }

    fn client(&self, pid: Pid) -> Option<&Client> {
        self.sim.process(pid)?.downcast_ref::<Client>()
    }
}
