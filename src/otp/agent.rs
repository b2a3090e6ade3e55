//! Agent: a GenServer over one state value (S30–S32). Requests are the
//! system's payloads; `apply` computes the reply and the new state, so
//! `get` (reads), `update` (writes, replies `:ok`) and `get_and_update` are
//! all calls answered by it. A request `apply` does not understand is an
//! `Err(reason)`: the agent crashes with it, as a failing function would.

use crate::otp::envelope::{Envelope, From};
use crate::otp::genserver::{CallResult, GenServer};
use crate::sim::{Ctx, Reason};

/// An Agent holding `state`, answering each call with `apply(&mut state, req)`.
pub struct Agent<S, P> {
    pub state: S,
    apply: fn(&mut S, P) -> Result<P, Reason>,
}

impl<S, P> Agent<S, P> {
    pub fn new(state: S, apply: fn(&mut S, P) -> Result<P, Reason>) -> Agent<S, P> {
        Agent { state, apply }
    }
}

impl<S: 'static, P: 'static> GenServer<P> for Agent<S, P> {
    fn handle_call(
        &mut self,
        _ctx: &mut Ctx<'_, Envelope<P>>,
        req: P,
        _from: From,
    ) -> CallResult<P> {
        match (self.apply)(&mut self.state, req) {
            Ok(reply) => CallResult::Reply(reply),
            Err(reason) => CallResult::Stop {
                reason,
                reply: None,
            },
        }
    }
}
