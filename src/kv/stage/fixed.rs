//! `fixed`: the registry done right (docs/design.md § The application). Buckets
//! are started unlinked and monitored; `lookup` answers "not found" for a
//! name whose bucket is dead even before its `DOWN` is handled; `create`
//! over a dead bucket demonitors the old ref with flush, drops it and starts
//! a new bucket; a `DOWN` whose ref is not in the refs map is dropped; stray
//! messages are ignored (S38).

use crate::kv::protocol::{KvMsg, Registry, spawn_bucket};
use crate::otp::{CallResult, Envelope, Flow, From, GenServer, Info};
use crate::sim::{Ctx, Pid, Reason, Ref};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Fixed {
    names: BTreeMap<String, (Pid, Ref)>,
    refs: BTreeMap<Ref, String>,
}

impl Fixed {
    /// The live bucket for `name`, asking the runtime (S3), not the map.
    fn live_bucket(&self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, name: &str) -> Option<Pid> {
        let &(pid, _) = self.names.get(name)?;
        ctx.is_alive(pid).then_some(pid)
    }
}

impl GenServer<KvMsg> for Fixed {
    fn handle_call(
        &mut self,
        ctx: &mut Ctx<'_, Envelope<KvMsg>>,
        req: KvMsg,
        _from: From,
    ) -> CallResult<KvMsg> {
        match req {
            KvMsg::Lookup(name) => CallResult::Reply(KvMsg::Found(self.live_bucket(ctx, &name))),
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
        let KvMsg::Create(name) = req else {
            return Flow::Continue;
        };
        if self.live_bucket(ctx, &name).is_some() {
            return Flow::Continue;
        }
        if let Some((_, old_ref)) = self.names.remove(&name) {
            ctx.demonitor(old_ref, true);
            self.refs.remove(&old_ref);
        }
        match spawn_bucket(ctx, &name, false, true) {
            Ok(bucket) => {
                if let Some(mref) = bucket.mref {
                    self.refs.insert(mref, name.clone());
                    self.names.insert(name, (bucket.pid, mref));
                }
                Flow::Continue
            }
            Err(reason) => Flow::Stop(reason),
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

impl Registry for Fixed {
    fn names(&self) -> Vec<(String, Pid)> {
        self.names
            .iter()
            .map(|(name, &(pid, _))| (name.clone(), pid))
            .collect()
    }

    fn monitor_refs(&self) -> Vec<(Ref, String)> {
        self.refs
            .iter()
            .map(|(&mref, name)| (mref, name.clone()))
            .collect()
    }
}
