//! `unlinked`: the chapter's final code (section 3.3) with buckets started
//! unlinked (`Agent.start`), so a crashing bucket no longer takes the registry
//! down; only monitored:
//!
//! ```elixir
//! def handle_cast({:create, name}, {names, refs}) do
//!   if HashDict.get(names, name) do
//!     {:noreply, {names, refs}}
//!   else
//!     {:ok, pid} = Agent.start(fn -> %{} end)
//!     ref = Process.monitor(pid)
//!     refs = HashDict.put(refs, ref, name)
//!     names = HashDict.put(names, name, pid)
//!     {:noreply, {names, refs}}
//!   end
//! end
//! def handle_info({:DOWN, ref, :process, _pid, _reason}, {names, refs}) do
//!   {name, refs} = HashDict.pop(refs, ref)
//!   names = HashDict.delete(names, name)
//!   {:noreply, {names, refs}}
//! end
//! def handle_info(_msg, state), do: {:noreply, state}
//! ```
//!
//! Its flaw: no liveness check, so a lookup handled before the dead
//! bucket's `DOWN` returns the dead pid (S34), and a create over a dead
//! bucket whose `DOWN` is still queued does nothing.

use crate::kv::protocol::{KvMsg, Registry, spawn_bucket};
use crate::otp::{CallResult, Envelope, Flow, From, GenServer, Info};
use crate::sim::{Ctx, Pid, Reason, Ref};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Unlinked {
    names: BTreeMap<String, Pid>,
    refs: BTreeMap<Ref, String>,
}

impl GenServer<KvMsg> for Unlinked {
    fn handle_call(
        &mut self,
        _ctx: &mut Ctx<'_, Envelope<KvMsg>>,
        req: KvMsg,
        _from: From,
    ) -> CallResult<KvMsg> {
        match req {
            KvMsg::Lookup(name) => CallResult::Reply(KvMsg::Found(self.names.get(&name).copied())),
            KvMsg::Stop => CallResult::Stop {
                reason: Reason::Normal,
                reply: Some(KvMsg::Ok),
            },
            _ => CallResult::Stop {
                reason: Reason::FunctionClause,
                reply: None,
            },
        }
    }

    fn handle_cast(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, req: KvMsg) -> Flow {
        match req {
            KvMsg::Create(name) => {
                if !self.names.contains_key(&name) {
                    match spawn_bucket(ctx, &name, false, true) {
                        Ok(bucket) => {
                            if let Some(mref) = bucket.mref {
                                self.refs.insert(mref, name.clone());
                            }
                            self.names.insert(name, bucket.pid);
                        }
                        Err(reason) => return Flow::Stop(reason),
                    }
                }
                Flow::Continue
            }
            _ => Flow::Stop(Reason::FunctionClause),
        }
    }

    fn handle_info(&mut self, _ctx: &mut Ctx<'_, Envelope<KvMsg>>, info: Info<KvMsg>) -> Flow {
        if let Info::Down { mref, .. } = info
            && let Some(name) = self.refs.remove(&mref)
        {
            self.names.remove(&name);
        }
        Flow::Continue
    }
}

impl Registry for Unlinked {
    fn names(&self) -> Vec<(String, Pid)> {
        self.names
            .iter()
            .map(|(name, &pid)| (name.clone(), pid))
            .collect()
    }

    fn monitor_refs(&self) -> Vec<(Ref, String)> {
        self.refs
            .iter()
            .map(|(&mref, name)| (mref, name.clone()))
            .collect()
    }
}
