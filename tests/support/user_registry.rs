//! A registry written with kvsim's public API only, as a user would write
//! their own, with a switch for one flaw at a time: a "stale `DOWN`" (see
//! tests/deep_races.rs), or names registered late (tests/verify_real_time.rs).
//! Shared by those tests, tests/verify.rs and `benches/deep_races.rs`.

use kvsim::kv::{KvMsg, Registry, spawn_bucket};
use kvsim::otp::{CallResult, Envelope, Flow, From, GenServer, Info};
use kvsim::sim::{Ctx, Pid, Reason, Ref};
use std::collections::BTreeMap;

/// Which flaw the registry has.
#[allow(dead_code)] // the bench uses only the flawed ones
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// None.
    Faithful,
    CreateTrustsMap,
    LookupTrustsMap,
    DownByName,
    /// A `CREATE` spawns the bucket but names it only when a message the
    /// registry sends itself arrives: a lookup handled in between misses a
    /// name whose `CREATE` was handled already (not linearizable, but only
    /// when the lookup was called after that `CREATE` was handled).
    NamesLater,
}

#[derive(Debug)]
pub struct UserRegistry {
    flaw: Flaw,
    names: BTreeMap<String, (Pid, Ref)>,
    refs: BTreeMap<Ref, String>,
    /// With [`Flaw::NamesLater`]: buckets spawned, not yet named.
    later: BTreeMap<String, (Pid, Ref)>,
}

impl UserRegistry {
    pub fn factory(flaw: Flaw) -> impl Fn() -> Box<dyn Registry> + Send + Sync {
        move || {
            Box::new(UserRegistry {
                flaw,
                names: BTreeMap::new(),
                refs: BTreeMap::new(),
                later: BTreeMap::new(),
            })
        }
    }
}

impl GenServer<KvMsg> for UserRegistry {
    fn handle_call(
        &mut self,
        ctx: &mut Ctx<'_, Envelope<KvMsg>>,
        req: KvMsg,
        _from: From,
    ) -> CallResult<KvMsg> {
        match req {
            KvMsg::Lookup(name) => {
                let pid = self.names.get(&name).map(|&(pid, _)| pid);
                let pid = if self.flaw == Flaw::LookupTrustsMap {
                    pid
                } else {
                    pid.filter(|&pid| ctx.is_alive(pid))
                };
                CallResult::Reply(KvMsg::Found(pid))
            }
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
        if let Some(&(pid, old_ref)) = self.names.get(&name) {
            if self.flaw == Flaw::CreateTrustsMap || ctx.is_alive(pid) {
                return Flow::Continue;
            }
            if self.flaw != Flaw::DownByName {
                ctx.demonitor(old_ref, true);
                self.refs.remove(&old_ref);
            }
        }
        match spawn_bucket(ctx, &name, false, true) {
            Ok(bucket) => {
                if let Some(mref) = bucket.mref {
                    self.refs.insert(mref, name.clone());
                    if self.flaw == Flaw::NamesLater {
                        self.later.insert(name.clone(), (bucket.pid, mref));
                        let me = ctx.me();
                        ctx.send(me, Envelope::Info(KvMsg::Create(name)));
                    } else {
                        self.names.insert(name, (bucket.pid, mref));
                    }
                }
                Flow::Continue
            }
            Err(reason) => Flow::Stop(reason),
        }
    }

    fn handle_info(&mut self, _ctx: &mut Ctx<'_, Envelope<KvMsg>>, info: Info<KvMsg>) -> Flow {
        if let Info::Msg {
            msg: KvMsg::Create(name),
            ..
        } = &info
            && let Some(bucket) = self.later.remove(name)
        {
            self.names.insert(name.clone(), bucket);
            return Flow::Continue;
        }
        if let Info::Down { mref, .. } = info
            && let Some(name) = self.refs.remove(&mref)
        {
            // Only the name's current monitor may remove it; the flawed
            // registry lets any monitor of the name do so.
            let current = self.names.get(&name).is_some_and(|&(_, r)| r == mref);
            if current || self.flaw == Flaw::DownByName {
                self.names.remove(&name);
            }
        }
        Flow::Continue
    }
}

impl Registry for UserRegistry {
    fn names(&self) -> Vec<(String, Pid)> {
        self.names
            .iter()
            .map(|(name, &(pid, _))| (name.clone(), pid))
            .collect()
    }

    fn monitor_refs(&self) -> Vec<(Ref, String)> {
        self.names
            .iter()
            .map(|(name, &(_, mref))| (mref, name.clone()))
            .collect()
    }
}
