//! OTP's behaviours on top of the core (docs/design.md § Behaviours): GenServer
//! and Agent, and the client side of `call`, `cast`, `stop` and
//! `send_request`. Owns the gen_server protocol (call tags, replies, the
//! stop request, `terminate`); signal semantics stay in [`crate::sim`].

mod agent;
mod envelope;
mod genserver;
mod pending;

pub use agent::Agent;
pub use envelope::{Envelope, From};
pub use genserver::{CallResult, Flow, GenServer, GenServerProcess, Info, start, start_link};
pub use pending::{
    CallOutcome, DEFAULT_CALL_TIMEOUT_MS, PendingCall, PendingStop, StopOutcome, call, cast, reply,
    send_request, stop,
};
