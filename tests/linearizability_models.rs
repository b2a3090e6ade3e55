//! Property 4 against a model of the user's own: a get-or-start registry
//! (a `LOOKUP` of a missing name starts its bucket, as
//! `DynamicSupervisor`-backed registries often do) breaks the chapter's
//! `KvModel` on its first lookup, holds against a model that states its
//! semantics, and a flaw in it is still caught by that model.

use kvsim::check::linearizability::{
    KvModel, KvOp, KvResult, LinearizabilityModel, SequentialModel,
};
use kvsim::check::{
    Case, CaseClient, CheckConfig, P4_LINEARIZABLE, PropertySet, SearchConfig, check_registry,
    run_case,
};
use kvsim::kv::{Command, KvMsg, Registry, spawn_bucket};
use kvsim::otp::{CallResult, Envelope, Flow, From, GenServer, Info};
use kvsim::sim::{Ctx, Pid, Reason, Ref};
use std::collections::BTreeMap;

/// The chapter's model, except that the lookup every client operation on a
/// bucket begins with starts the bucket when it is missing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct GetOrStart(KvModel);

impl SequentialModel for GetOrStart {
    fn successors(&self, op: &KvOp, result: &KvResult) -> Vec<GetOrStart> {
        let looks_up = !op.is_model_event() && !matches!(op, KvOp::Create { .. });
        let mut next = Vec::new();
        if let (true, Some(name)) = (looks_up, op.name()) {
            let create = KvOp::Create {
                name: name.to_string(),
            };
            let started = self.0.apply(&create, &KvResult::None);
            next.extend(
                started
                    .iter()
                    .flat_map(|state| state.successors(op, result)),
            );
            if *result == KvResult::Indeterminate {
                next.extend(self.0.successors(op, result));
            }
        } else {
            next = self.0.successors(op, result);
        }
        next.sort();
        next.dedup();
        next.into_iter().map(GetOrStart).collect()
    }

    fn partition(op: &KvOp) -> Option<String> {
        KvModel::partition(op)
    }
}

/// A get-or-start registry: unlinked, monitored buckets, liveness checked.
/// With `restart_dead` off (the flaw), a name whose bucket died but whose
/// `DOWN` is not handled yet answers `NOT FOUND` instead of a new bucket.
#[derive(Default)]
struct GetOrStartRegistry {
    names: BTreeMap<String, (Pid, Ref)>,
    flawed: bool,
}

impl GetOrStartRegistry {
    fn get_or_start(
        &mut self,
        ctx: &mut Ctx<'_, Envelope<KvMsg>>,
        name: &str,
    ) -> Result<Option<Pid>, Reason> {
        if let Some(&(pid, mref)) = self.names.get(name) {
            if ctx.is_alive(pid) {
                return Ok(Some(pid));
            }
            if self.flawed {
                return Ok(None);
            }
            ctx.demonitor(mref, true);
            self.names.remove(name);
        }
        let bucket = spawn_bucket(ctx, name, false, true)?;
        if let Some(mref) = bucket.mref {
            self.names.insert(name.to_string(), (bucket.pid, mref));
        }
        Ok(Some(bucket.pid))
    }
}

impl GenServer<KvMsg> for GetOrStartRegistry {
    fn handle_call(
        &mut self,
        ctx: &mut Ctx<'_, Envelope<KvMsg>>,
        req: KvMsg,
        _from: From,
    ) -> CallResult<KvMsg> {
        match req {
            KvMsg::Lookup(name) => match self.get_or_start(ctx, &name) {
                Ok(found) => CallResult::Reply(KvMsg::Found(found)),
                Err(reason) => CallResult::Stop {
                    reason,
                    reply: None,
                },
            },
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
        match self.get_or_start(ctx, &name) {
            Ok(_) => Flow::Continue,
            Err(reason) => Flow::Stop(reason),
        }
    }

    fn handle_info(&mut self, _ctx: &mut Ctx<'_, Envelope<KvMsg>>, info: Info<KvMsg>) -> Flow {
        if let Info::Down { mref, .. } = info {
            self.names.retain(|_, &mut (_, watched)| watched != mref);
        }
        Flow::Continue
    }
}

impl Registry for GetOrStartRegistry {
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

fn get_or_start() -> Box<dyn Registry> {
    Box::new(GetOrStartRegistry::default())
}

fn flawed_get_or_start() -> Box<dyn Registry> {
    Box::new(GetOrStartRegistry {
        flawed: true,
        ..GetOrStartRegistry::default()
    })
}

fn with_model(properties: PropertySet) -> CheckConfig {
    CheckConfig {
        properties,
        model: LinearizabilityModel::new(GetOrStart(KvModel::new())),
        ..CheckConfig::default()
    }
}

fn one_client(commands: Vec<Command>) -> Case {
    Case {
        clients: vec![CaseClient {
            id: 0,
            commands: (0..).zip(commands).collect(),
        }],
        ..Case::default()
    }
}

#[test]
fn the_chapters_model_rejects_a_lookup_that_starts_a_bucket() {
    let case = one_client(vec![Command::Lookup { bucket: "a".into() }]);
    let run = run_case(&case, &get_or_start, &CheckConfig::default());
    let failure = run
        .failure
        .expect("KvModel allows no lookup of an uncreated name");
    assert_eq!(failure.property, P4_LINEARIZABLE, "{failure}");
    assert!(failure.detail.contains("LOOKUP a -> OK"), "{failure}");

    let own = run_case(&case, &get_or_start, &with_model(PropertySet::default()));
    assert_eq!(own.failure, None, "{}", own.dialogue);
    assert_eq!(own.dialogue.trim_end().lines().last(), Some("OK"));
}

#[test]
fn a_get_or_start_registry_holds_every_property_against_its_own_model() {
    let config = SearchConfig {
        cases: 512,
        check: with_model(PropertySet::default()),
        ..SearchConfig::default()
    };
    let summary = check_registry(&get_or_start, &config).unwrap_or_else(|c| panic!("{c}"));
    assert_eq!(summary.cases, 512);
    assert!(summary.all_hold(), "{summary}");
}

#[test]
fn its_own_model_still_catches_a_get_or_start_registry_that_answers_not_found() {
    let config = SearchConfig {
        cases: 2_000,
        check: with_model(PropertySet::only(&[P4_LINEARIZABLE])),
        ..SearchConfig::default()
    };
    let counterexample = check_registry(&flawed_get_or_start, &config)
        .expect_err("a NOT FOUND from a get-or-start registry went unnoticed");
    assert_eq!(
        counterexample.failure.property, P4_LINEARIZABLE,
        "{counterexample}"
    );
    assert!(
        counterexample.failure.detail.contains("NOT FOUND"),
        "{counterexample}"
    );
}

#[test]
fn the_default_model_is_the_chapters() {
    let text = format!("{:?}", CheckConfig::default().model);
    assert!(text.contains("KvModel"), "{text}");
}
