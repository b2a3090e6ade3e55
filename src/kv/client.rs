//! The client driver: a process that plays `.kv` commands the way the
//! guide's command parser does — a `lookup` call to the registry, then calls
//! to the bucket — and records the dialogue. A call that exits instead of
//! replying is caught and answered `ERROR <reason>`; the client goes on.

use crate::kv::command::{Command, Target};
use crate::kv::protocol::KvMsg;
use crate::otp::{
    self, CallOutcome, DEFAULT_CALL_TIMEOUT_MS, Envelope, PendingCall, PendingStop, StopOutcome,
};
use crate::sim::{ClientState, Control, Ctx, Incoming, Pid, Process, Reason};
use std::any::Any;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

/// One command and its answer, with the steps that bound it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// The command's stable id.
    pub cmd: u32,
    pub command: Command,
    /// The step of the client's action that started it.
    pub invoked_step: u64,
    /// The step at which its answer arrived (equal for local answers).
    pub answered_step: u64,
    /// The response lines (without the echo and the blank line).
    pub response: Vec<String>,
}

type Commands = Box<dyn Iterator<Item = (u32, Command)>>;

/// A client driver.
pub struct Client {
    registry: Pid,
    commands: Commands,
    next: Option<(u32, Command)>,
    phase: Phase,
    timeout_ms: u64,
    /// `None` when the dialogue is discarded (memory probes, benchmarks).
    exchanges: Option<Vec<Exchange>>,
    /// Where the dialogue's text goes as each command is answered, for a
    /// caller that writes it as it comes (see [`Client::transcribing`]).
    transcript: Option<Rc<RefCell<String>>>,
    current: Option<(u32, Command, u64)>,
}

enum Phase {
    Idle,
    Lookup(PendingCall),
    Bucket(PendingCall),
    Stopping(PendingStop),
    RegistryStop(PendingCall),
}

impl Client {
    /// A client talking to `registry`, playing `commands` (stable id,
    /// command), recording its dialogue when `record`.
    pub fn new(
        registry: Pid,
        commands: impl Iterator<Item = (u32, Command)> + 'static,
        record: bool,
    ) -> Client {
        let mut commands: Commands = Box::new(commands);
        let next = commands.next();
        Client {
            registry,
            commands,
            next,
            phase: Phase::Idle,
            timeout_ms: DEFAULT_CALL_TIMEOUT_MS,
            exchanges: record.then(Vec::new),
            transcript: None,
            current: None,
        }
    }

    /// A client that keeps no exchanges but appends its dialogue's text
    /// (as [`Client::transcript`] gives it) to `transcript` as each command
    /// is answered.
    pub fn transcribing(
        registry: Pid,
        commands: impl Iterator<Item = (u32, Command)> + 'static,
        transcript: Rc<RefCell<String>>,
    ) -> Client {
        Client {
            transcript: Some(transcript),
            ..Client::new(registry, commands, false)
        }
    }

    /// The recorded exchanges (empty when not recording).
    pub fn exchanges(&self) -> &[Exchange] {
        self.exchanges.as_deref().unwrap_or(&[])
    }

    /// The command in flight, if any: (stable id, command, invoked step).
    pub fn pending(&self) -> Option<(u32, &Command, u64)> {
        self.current
            .as_ref()
            .map(|(cmd, command, step)| (*cmd, command, *step))
    }

    /// The dialogue: per command its echo, its response lines, a blank line.
    pub fn transcript(&self) -> String {
        let mut out = String::new();
        for exchange in self.exchanges() {
            let _ = writeln!(out, "{}", exchange.command);
            for line in &exchange.response {
                out.push_str(line);
                out.push('\n');
            }
            out.push('\n');
        }
        out
    }

    fn answer(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, lines: &[&str]) {
        self.phase = Phase::Idle;
        let Some((cmd, command, invoked_step)) = self.current.take() else {
            return;
        };
        if ctx.tracing() {
            ctx.note(format!("{command} => {}", lines.join(" / ")));
        }
        if let Some(transcript) = &self.transcript {
            let mut text = transcript.borrow_mut();
            let _ = writeln!(text, "{command}");
            for line in lines {
                text.push_str(line);
                text.push('\n');
            }
            text.push('\n');
        }
        if let Some(exchanges) = &mut self.exchanges {
            exchanges.push(Exchange {
                cmd,
                command,
                invoked_step,
                answered_step: ctx.step(),
                response: lines.iter().map(|l| l.to_string()).collect(),
            });
        }
    }

    fn answer_error(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, reason: &Reason) {
        let line = format!("ERROR {reason}");
        self.answer(ctx, &[&line]);
    }

    /// The lookup answered with a bucket: go on with the command.
    fn with_bucket(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, bucket: Pid) {
        let Some((_, command, _)) = &self.current else {
            return;
        };
        // Only what the request carries is copied, not the whole command.
        let request = match command {
            Command::Put { key, value, .. } => Some(KvMsg::Put(key.clone(), value.clone())),
            Command::Get { key, .. } => Some(KvMsg::Get(key.clone())),
            Command::Delete { key, .. } => Some(KvMsg::Delete(key.clone())),
            _ => None,
        };
        if let Some(request) = request {
            self.phase = Phase::Bucket(otp::call(ctx, bucket, request, Some(self.timeout_ms)));
            return;
        }
        match command {
            command @ (Command::Crash { .. } | Command::Kill { .. }) => {
                let reason = command.exit_reason().unwrap_or_else(Reason::boom);
                ctx.exit(bucket, reason);
                self.answer(ctx, &["OK"]);
            }
            Command::Stop { .. } => {
                self.phase = Phase::Stopping(otp::stop(ctx, bucket, Reason::Normal));
            }
            _ => self.answer(ctx, &["OK"]),
        }
    }
}

impl Process<Envelope<KvMsg>> for Client {
    fn handle(
        &mut self,
        ctx: &mut Ctx<'_, Envelope<KvMsg>>,
        incoming: Incoming<Envelope<KvMsg>>,
    ) -> Control {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Idle => {}
            Phase::Lookup(call) => match call.take(ctx, incoming) {
                CallOutcome::Other(_) => self.phase = Phase::Lookup(call),
                CallOutcome::Done(Ok(KvMsg::Found(Some(bucket)))) => self.with_bucket(ctx, bucket),
                CallOutcome::Done(Ok(KvMsg::Found(None))) => self.answer(ctx, &["NOT FOUND"]),
                CallOutcome::Done(Ok(other)) => {
                    self.answer_error(ctx, &Reason::Other(format!("{other:?}")))
                }
                CallOutcome::Done(Err(reason)) => self.answer_error(ctx, &reason),
            },
            Phase::Bucket(call) => match call.take(ctx, incoming) {
                CallOutcome::Other(_) => self.phase = Phase::Bucket(call),
                CallOutcome::Done(Ok(KvMsg::Value(value))) => {
                    let is_get = matches!(self.current, Some((_, Command::Get { .. }, _)));
                    if is_get {
                        let value = value.unwrap_or_default();
                        self.answer(ctx, &[&value, "OK"]);
                    } else {
                        self.answer(ctx, &["OK"]);
                    }
                }
                CallOutcome::Done(Ok(_)) => self.answer(ctx, &["OK"]),
                CallOutcome::Done(Err(reason)) => self.answer_error(ctx, &reason),
            },
            Phase::Stopping(mut stop) => match stop.take(incoming) {
                StopOutcome::Other(_) | StopOutcome::Answered => self.phase = Phase::Stopping(stop),
                StopOutcome::Done(Ok(())) => self.answer(ctx, &["OK"]),
                StopOutcome::Done(Err(reason)) => self.answer_error(ctx, &reason),
            },
            Phase::RegistryStop(call) => match call.take(ctx, incoming) {
                CallOutcome::Other(_) => self.phase = Phase::RegistryStop(call),
                CallOutcome::Done(Ok(_)) => self.answer(ctx, &["OK"]),
                CallOutcome::Done(Err(reason)) => self.answer_error(ctx, &reason),
            },
        }
        Control::Continue
    }

    fn client_state(&self) -> ClientState {
        match (&self.phase, &self.next) {
            (Phase::Idle, Some((cmd, command))) => ClientState::Ready {
                cmd: *cmd,
                needs_quiet: *command == Command::Settle,
            },
            (Phase::Idle, None) => ClientState::Done,
            _ => ClientState::Blocked,
        }
    }

    fn act(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>) -> Control {
        let Some((cmd, command)) = self.next.take() else {
            return Control::Continue;
        };
        self.next = self.commands.next();
        if ctx.tracing() {
            ctx.note(command.to_string());
        }
        let registry = self.registry;
        // A command that looks its bucket up stays current with only the
        // bucket name copied into the request.
        let lookup = match &command {
            Command::Create { .. } => None,
            other => other.bucket().map(str::to_string),
        };
        if let Some(bucket) = lookup {
            self.current = Some((cmd, command, ctx.step()));
            self.phase = Phase::Lookup(otp::call(
                ctx,
                registry,
                KvMsg::Lookup(bucket),
                Some(self.timeout_ms),
            ));
            return Control::Continue;
        }
        self.current = Some((cmd, command.clone(), ctx.step()));
        match command {
            Command::Create { bucket } => {
                otp::cast(ctx, registry, KvMsg::Create(bucket));
                self.answer(ctx, &["OK"]);
            }
            command @ (Command::Crash {
                target: Target::Registry,
                ..
            }
            | Command::Kill {
                target: Target::Registry,
            }) => {
                let reason = command.exit_reason().unwrap_or_else(Reason::boom);
                ctx.exit(registry, reason);
                self.answer(ctx, &["OK"]);
            }
            Command::Stop {
                target: Target::Registry,
            } => {
                self.phase = Phase::RegistryStop(otp::call(
                    ctx,
                    registry,
                    KvMsg::Stop,
                    Some(self.timeout_ms),
                ));
            }
            Command::SendRegistry { word } => {
                ctx.send(registry, Envelope::Info(KvMsg::Stray(word)));
                self.answer(ctx, &["OK"]);
            }
            Command::Settle => self.answer(ctx, &["OK"]),
            Command::Unknown { .. } => self.answer(ctx, &["UNKNOWN COMMAND"]),
            // The commands that look their bucket up, started above.
            _ => {}
        }
        Control::Continue
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
