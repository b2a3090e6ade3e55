//! The test-only mutants of tests/mutants.rs: src/kv/stage/fixed.rs's
//! `Fixed`, copied, with exactly one change each. Shared by that test and
//! tests/regressions.rs (which replays the kept case of each).

use kvsim::kv::{KvMsg, Registry, spawn_bucket, spawn_custom_bucket};
use kvsim::otp::{Agent, CallResult, Envelope, Flow, From, GenServer, Info};
use kvsim::sim::{Ctx, Pid, Reason, Ref};
use std::collections::BTreeMap;

/// Which one change the copy of `fixed` carries.
#[allow(dead_code)] // tests/regressions.rs keeps only the changed ones
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutant {
    /// None: `fixed` as it is.
    Faithful,
    /// (5) `create` skips the liveness check and spawns a new bucket even
    /// when the name's bucket is alive (forgetting the old one's monitor).
    CreateAlwaysSpawns,
    /// (6) `lookup` returns `NoReply` and nobody ever answers.
    LookupNeverReplies,
    /// (2) the `DOWN` handler removes the name but leaves its ref.
    DownKeepsRef,
    /// (4) buckets are Agents whose `put` answers `:ok` and stores nothing.
    PutForgets,
}

impl Mutant {
    pub fn name(self) -> &'static str {
        match self {
            Mutant::Faithful => "faithful-copy-of-fixed",
            Mutant::CreateAlwaysSpawns => "create-always-spawns",
            Mutant::LookupNeverReplies => "lookup-never-replies",
            Mutant::DownKeepsRef => "down-keeps-ref",
            Mutant::PutForgets => "put-forgets",
        }
    }

    pub fn factory(self) -> impl Fn() -> Box<dyn Registry> + Send + Sync {
        move || {
            Box::new(MutantRegistry {
                mutant: self,
                names: BTreeMap::new(),
                refs: BTreeMap::new(),
            })
        }
    }
}

/// src/kv/stage/fixed.rs's `Fixed`, with `mutant` choosing one change;
/// every change is marked `MUTANT`.
pub struct MutantRegistry {
    mutant: Mutant,
    names: BTreeMap<String, (Pid, Ref)>,
    refs: BTreeMap<Ref, String>,
}

impl MutantRegistry {
    fn live_bucket(&self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, name: &str) -> Option<Pid> {
        let &(pid, _) = self.names.get(name)?;
        ctx.is_alive(pid).then_some(pid)
    }
}

impl GenServer<KvMsg> for MutantRegistry {
    fn handle_call(
        &mut self,
        ctx: &mut Ctx<'_, Envelope<KvMsg>>,
        req: KvMsg,
        _from: From,
    ) -> CallResult<KvMsg> {
        match req {
            // MUTANT (6): no reply now, and the `From` is dropped.
            KvMsg::Lookup(_) if self.mutant == Mutant::LookupNeverReplies => CallResult::NoReply,
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
        // MUTANT (5): no liveness check.
        if self.mutant != Mutant::CreateAlwaysSpawns && self.live_bucket(ctx, &name).is_some() {
            return Flow::Continue;
        }
        if let Some((_, old_ref)) = self.names.remove(&name) {
            ctx.demonitor(old_ref, true);
            self.refs.remove(&old_ref);
        }
        let spawned = if self.mutant == Mutant::PutForgets {
            // MUTANT (4): a bucket of our own that forgets puts.
            let bucket = Agent::new(BTreeMap::new(), forgetful_bucket);
            spawn_custom_bucket(ctx, &name, false, true, bucket)
        } else {
            spawn_bucket(ctx, &name, false, true)
        };
        match spawned {
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
        if let Info::Down { mref, .. } = info {
            if self.mutant == Mutant::DownKeepsRef {
                // MUTANT (2): the name goes, the ref stays.
                if let Some(name) = self.refs.get(&mref) {
                    self.names.remove(name);
                }
            } else if let Some(name) = self.refs.remove(&mref) {
                self.names.remove(&name);
            }
        }
        Flow::Continue
    }
}

impl Registry for MutantRegistry {
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

/// `KV.Bucket`'s apply function (src/kv/bucket.rs) with `put` answering
/// `:ok` and storing nothing.
fn forgetful_bucket(map: &mut BTreeMap<String, String>, req: KvMsg) -> Result<KvMsg, Reason> {
    match req {
        KvMsg::Get(key) => Ok(KvMsg::Value(map.get(&key).cloned())),
        KvMsg::Put(_, _) => Ok(KvMsg::Ok),
        KvMsg::Delete(key) => Ok(KvMsg::Value(map.remove(&key))),
        _ => Err(Reason::FunctionClause),
    }
}
