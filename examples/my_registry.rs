//! Testing a registry of your own: `Forgetful`, written the way
//! `src/kv/stage/fixed.rs` is (unlinked, monitored buckets, a liveness
//! check on lookup), with one bug no built-in stage has — its `DOWN`
//! handler ignores reason `normal`:
//!
//! ```elixir
//! def handle_info({:DOWN, _ref, :process, _pid, :normal}, state) do
//!   # "a normal exit is not a failure, nothing to clean up"
//!   {:noreply, state}
//! end
//! def handle_info({:DOWN, ref, :process, _pid, _reason}, {names, refs}) do
//!   {name, refs} = Map.pop(refs, ref)
//!   {:noreply, {Map.delete(names, name), refs}}
//! end
//! ```
//!
//! A bucket stopped with `STOP bucket` exits `normal`, so its name stays
//! mapped to a dead pid: property 2 (names match the live buckets) breaks at
//! quiescence, and property 1 (a lookup never names a dead bucket) would
//! break as soon as the liveness check is dropped.
//!
//! ```text
//! cargo run --example my_registry     # prints the shrunk counterexample
//! cargo test --example my_registry    # the harness catches it; fixed passes
//! ```
//!
//! `main` prints the shrunk counterexample and its trace and exits 0; it
//! exits 1 if the harness let the bug through.

use kvsim::check::{CheckConfig, CustomProperty, PropertySet, SearchConfig, check_registry};
use kvsim::kv::{KvMsg, KvSystem, Registry, spawn_bucket};
use kvsim::otp::{CallResult, Envelope, Flow, From, GenServer, Info};
use kvsim::sim::{Ctx, Pid, Reason, Ref};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// The user's registry: `fixed`, except for the `DOWN` handler.
#[derive(Debug, Default)]
pub struct Forgetful {
    names: BTreeMap<String, (Pid, Ref)>,
    refs: BTreeMap<Ref, String>,
}

impl Forgetful {
    fn live_bucket(&self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, name: &str) -> Option<Pid> {
        let &(pid, _) = self.names.get(name)?;
        ctx.is_alive(pid).then_some(pid)
    }
}

impl GenServer<KvMsg> for Forgetful {
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
        match info {
            // The bug: "a normal exit is not a failure", so the name stays.
            Info::Down {
                reason: Reason::Normal,
                ..
            } => {}
            Info::Down { mref, .. } => {
                if let Some(name) = self.refs.remove(&mref) {
                    self.names.remove(&name);
                }
            }
            _ => {}
        }
        Flow::Continue
    }
}

impl Registry for Forgetful {
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

/// A property of the user's own: the registry never maps more than `max`
/// names. Checked after every step; reported as `P0 <name>`. Each run
/// gets a fresh one from the factory given to `with_custom`, so it could
/// keep state across the steps of a run.
struct AtMostNames {
    max: usize,
    name: &'static str,
}

impl CustomProperty for AtMostNames {
    fn name(&self) -> &'static str {
        self.name
    }

    fn check(&mut self, system: &KvSystem) -> Result<(), String> {
        let Some(registry) = system.registry_state() else {
            return Ok(());
        };
        let names = registry.names();
        if names.len() > self.max {
            return Err(format!(
                "the registry maps {} names, more than {}",
                names.len(),
                self.max
            ));
        }
        Ok(())
    }
}

/// The harness: 256 generated cases (or `PROPTEST_CASES`), proptest seed 0,
/// the six built-in properties plus the user's own "never more than two
/// names" (the generator's name alphabet is `a`, `b`, so a correct registry
/// never maps more).
fn harness() -> SearchConfig {
    let properties = PropertySet::default().with_custom(|| {
        Box::new(AtMostNames {
            max: 2,
            name: "at-most-2-names",
        })
    });
    SearchConfig {
        check: CheckConfig {
            properties,
            ..CheckConfig::default()
        },
        ..SearchConfig::default()
    }
}

fn main() -> ExitCode {
    match check_registry(&|| Box::new(Forgetful::default()), &harness()) {
        Ok(summary) => {
            eprintln!("my_registry: {summary}: the bug went unnoticed");
            ExitCode::FAILURE
        }
        Err(counterexample) => {
            println!("{counterexample}");
            println!("--- trace");
            print!("{}", counterexample.trace);
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvsim::check::{P1_LOOKUP_IS_ALIVE, P2_NAMES_MATCH_BUCKETS, Property};
    use kvsim::kv::{Command, Stage, Target};

    #[test]
    fn the_harness_catches_a_registry_that_forgets_stopped_buckets() {
        let counterexample = check_registry(&|| Box::new(Forgetful::default()), &harness())
            .expect_err("the harness let Forgetful's bug through");
        let broke = counterexample.failure.property;
        assert!(
            [P1_LOOKUP_IS_ALIVE, P2_NAMES_MATCH_BUCKETS].contains(&broke),
            "expected P1 or P2, got:\n{counterexample}"
        );
        // Shrunk to the bug itself: create a bucket, stop it.
        let case = &counterexample.case;
        let commands: Vec<&Command> = case
            .clients
            .iter()
            .flat_map(|c| &c.commands)
            .map(|(_, c)| c)
            .collect();
        assert_eq!(
            commands,
            [
                &Command::Create { bucket: "a".into() },
                &Command::Stop {
                    target: Target::Bucket("a".into())
                },
            ],
            "{counterexample}"
        );
        assert!(
            case.faults.is_empty() && case.schedule.is_empty(),
            "{counterexample}"
        );
    }

    #[test]
    fn the_same_harness_passes_on_fixed() {
        let config = harness();
        let summary = check_registry(&|| Stage::Fixed.registry(), &config)
            .unwrap_or_else(|counterexample| panic!("fixed failed:\n{counterexample}"));
        assert_eq!(summary.cases, config.cases);
        assert!(summary.all_hold(), "{summary}");
    }

    #[test]
    fn a_custom_property_is_reported_by_its_name() {
        // Lower the bound to one name: now `fixed` breaks it with two CREATEs.
        let config = SearchConfig {
            check: CheckConfig {
                properties: PropertySet::none().with_custom(|| {
                    Box::new(AtMostNames {
                        max: 1,
                        name: "at-most-1-name",
                    })
                }),
                ..CheckConfig::default()
            },
            ..SearchConfig::default()
        };
        let counterexample = check_registry(&|| Stage::Fixed.registry(), &config)
            .expect_err("two names never appeared in 256 cases");
        assert_eq!(
            counterexample.failure.property,
            Property {
                number: 0,
                name: "at-most-1-name"
            }
        );
        assert_eq!(counterexample.case.command_count(), 2, "{counterexample}");
    }

    #[test]
    fn threads_share_one_harness() {
        // The configuration and the registry factory are `Send + Sync`:
        // several threads search with the same ones, each run getting its
        // own registry and its own property instances.
        let config = harness();
        let factory = || -> Box<dyn Registry> { Box::new(Forgetful::default()) };
        let found: Vec<Property> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..2)
                .map(|_| scope.spawn(|| check_registry(&factory, &config)))
                .collect();
            workers
                .into_iter()
                .map(|worker| match worker.join() {
                    Ok(Err(counterexample)) => counterexample.failure.property,
                    Ok(Ok(summary)) => panic!("the bug went unnoticed: {summary}"),
                    Err(_) => panic!("a search thread panicked"),
                })
                .collect()
        });
        assert_eq!(found[0], found[1], "same seed, same counterexample");
    }
}
