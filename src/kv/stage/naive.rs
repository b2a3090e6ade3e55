//! `naive`: the chapter's first registry, section 3.1 with section 3.2's
//! `stop/1`:
//!
//! ```elixir
//! def handle_call({:lookup, name}, _from, names) do
//!   {:reply, HashDict.fetch(names, name), names}
//! end
//! def handle_call(:stop, _from, state), do: {:stop, :normal, :ok, state}
//! def handle_cast({:create, name}, names) do
//!   if HashDict.get(names, name) do
//!     {:noreply, names}
//!   else
//!     {:ok, bucket} = KV.Bucket.start_link()
//!     {:noreply, HashDict.put(names, name, bucket)}
//!   end
//! end
//! ```
//!
//! Its flaws: no monitor, so a stopped bucket's name stays, stale; buckets
//! are linked, so a crashing bucket takes the registry down. It defines no
//! `handle_info`, so Elixir's default drops a stray message.

use crate::kv::protocol::{KvMsg, Registry, spawn_bucket};
use crate::otp::{CallResult, Envelope, Flow, From, GenServer};
use crate::sim::{Ctx, Pid, Reason, Ref};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Naive {
    names: BTreeMap<String, Pid>,
}

impl GenServer<KvMsg> for Naive {
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
                if let std::collections::btree_map::Entry::Vacant(entry) = self.names.entry(name) {
                    match spawn_bucket(ctx, entry.key(), true, false) {
                        Ok(bucket) => {
                            entry.insert(bucket.pid);
                        }
                        Err(reason) => return Flow::Stop(reason),
                    }
                }
                Flow::Continue
            }
            _ => Flow::Stop(Reason::FunctionClause),
        }
    }
}

impl Registry for Naive {
    fn names(&self) -> Vec<(String, Pid)> {
        self.names
            .iter()
            .map(|(name, &pid)| (name.clone(), pid))
            .collect()
    }

    fn monitor_refs(&self) -> Vec<(Ref, String)> {
        Vec::new()
    }
}
