//! kvsim: a deterministic simulator of Erlang/OTP actor systems, built
//! around the KV registry and buckets of the Elixir "Mix and OTP" guide,
//! that generates client scripts, faults and schedules, checks every run
//! online against six properties, and shrinks a failure to a minimal case
//! you can replay.
//!
//! Every run is a pure function of its case (client scripts, a fault plan
//! and a schedule): no threads, no wall clock, no ambient randomness. So a
//! failure found once replays bit for bit, shrinks, and can be read as a
//! trace, event by event.
//!
//! # The race
//!
//! The chapter's registry maps bucket names to bucket pids and monitors
//! each bucket it starts, so that a bucket's death arrives as a `DOWN`
//! message and the name is removed:
//!
//! ```elixir
//! def handle_call({:lookup, name}, _from, {names, _} = state) do
//!   {:reply, HashDict.fetch(names, name), state}
//! end
//! def handle_info({:DOWN, ref, :process, _pid, _reason}, {names, refs}) do
//!   {name, refs} = HashDict.pop(refs, ref)
//!   {:noreply, {HashDict.delete(names, name), refs}}
//! end
//! ```
//!
//! The BEAM orders signals per (sender, receiver) pair, never across pairs.
//! When a bucket is killed, its `DOWN` travels on the (bucket, registry)
//! pair, while a client's lookup travels on the (client, registry) pair.
//! Nothing stops the registry from handling the lookup first: it answers
//! with the pid of a bucket that is already dead. This is property 1,
//! [`P1_LOOKUP_IS_ALIVE`](check::P1_LOOKUP_IS_ALIVE): *when the registry
//! sends a lookup reply naming a pid, that pid is alive at that step.*
//!
//! The built-in stage [`Stage::Unlinked`](kv::Stage::Unlinked) is that
//! registry. [`check_registry`](check::check_registry) generates cases
//! until a property breaks, and shrinks the failing one:
//!
//! ```
//! use kvsim::check::generate::{CommandKind, GenConfig};
//! use kvsim::check::{CheckConfig, P1_LOOKUP_IS_ALIVE, PropertySet, SearchConfig, check_registry};
//! use kvsim::kv::Stage;
//!
//! // Property 1 only: with all six, the search may first meet another of
//! // this registry's bugs (a lost restart, property 4). Clients only create
//! // and look up, so a bucket dies only by a fault.
//! let check = CheckConfig { properties: PropertySet::only(&[P1_LOOKUP_IS_ALIVE]), ..CheckConfig::default() };
//! let generator = GenConfig {
//!     command_kinds: vec![CommandKind::Create, CommandKind::Lookup],
//!     ..GenConfig::default()
//! };
//! let config = SearchConfig { cases: 256, check, generator, ..SearchConfig::default() };
//! let counterexample = check_registry(&|| Stage::Unlinked.registry(), &config)
//!     .expect_err("the chapter's registry hands out dead buckets");
//! assert_eq!(counterexample.failure.property, P1_LOOKUP_IS_ALIVE);
//! assert_eq!(counterexample.failure.step, 5); // events, after shrinking
//! println!("{counterexample}\n{}", counterexample.trace);
//! ```
//!
//! The shrunk case is two clients (`LOOKUP a`; `CREATE a`), one
//! `kill bucket:a` fault and two schedule overrides, `client1.cmd0/0` and
//! `fault0`; it breaks property 1 at its fifth event. Its trace (see
//! [Debugging failures](#debugging-failures)):
//!
//! ```text
//!     harness spawn registry
//!     harness spawn client0
//!     harness spawn client1
//! #1 t=0 [client0.cmd0] client0 acts
//!     client0: LOOKUP a
//!     client0 monitors registry (ref 1)
//!     client0 -> registry: call {:lookup, "a"} (tag 1)
//!     client0 starts timer 0 (fires at t=5000)
//! #2 t=0 [client1.cmd0] client1 acts
//!     client1: CREATE a
//!     client1 -> registry: cast {:create, "a"}
//!     client1: CREATE a => OK
//! #3 t=0 [client1.cmd0/0] client1 -> registry: cast {:create, "a"}
//!     registry spawn bucket:a#0
//!     registry monitors bucket:a#0 (ref 2)
//! #4 t=0 [fault0] fault 0: kill bucket:a#0
//!     bucket:a#0 exits: killed
//!     bucket:a#0 -> registry: DOWN ref 2 killed
//! #5 t=0 [client0.cmd0/1] client0 -> registry: call {:lookup, "a"} (tag 1)
//!     registry -> client0: reply {:ok, bucket:a#0} (tag 1)
//! ```
//!
//! The overrides let client 1's create overtake client 0's lookup and the
//! kill jump ahead of it. At event 5 the `DOWN` of event 4 is still queued
//! on the (bucket:a#0, registry) pair, and the registry names the dead
//! bucket.
//!
//! # The fix
//!
//! Ask the runtime, not the map: a lookup answers `:error` for a name whose
//! bucket is dead even before its `DOWN` is handled, and a create over a
//! dead bucket demonitors the old ref (with flush) and starts a new bucket.
//!
//! ```elixir
//! def handle_call({:lookup, name}, _from, {names, _} = state) do
//!   case HashDict.fetch(names, name) do
//!     {:ok, pid} -> if Process.alive?(pid), do: {:reply, {:ok, pid}, state},
//!                                           else: {:reply, :error, state}
//!     :error -> {:reply, :error, state}
//!   end
//! end
//! ```
//!
//! That is [`Stage::Fixed`](kv::Stage::Fixed), and the same search finds
//! nothing on it:
//!
//! ```
//! use kvsim::check::{SearchConfig, check_registry};
//! use kvsim::kv::Stage;
//!
//! let config = SearchConfig { cases: 256, ..SearchConfig::default() };
//! let summary = check_registry(&|| Stage::Fixed.registry(), &config)
//!     .unwrap_or_else(|counterexample| panic!("{counterexample}"));
//! assert_eq!(summary.cases, 256);
//! // No case undecided by property 4's bound, none cut by a limit.
//! assert!(summary.all_hold(), "{summary}");
//! ```
//!
//! The other flawed stages are the chapter's intermediate registries:
//! [`Naive`](kv::stage::Naive) (no monitor), [`Monitored`](kv::stage::Monitored)
//! (linked *and* monitored: a crashing bucket takes the registry down) and
//! [`NoCatchAll`](kv::stage::NoCatchAll) (a stray message crashes it).
//!
//! # Testing your own registry
//!
//! A registry is a [`GenServer<KvMsg>`](otp::GenServer) that answers
//! `Lookup` (a call, replied with `Found`), `Create` (a cast) and `Stop`
//! (a call, replied `Ok`, then a normal stop), starts its buckets with
//! [`spawn_bucket`](kv::spawn_bucket) (so the harness knows which bucket
//! belongs to which name), and implements [`Registry`](kv::Registry) to
//! expose its names and monitor refs to property 2. Give
//! [`check_registry`](check::check_registry) a function that builds a
//! fresh one; every generated case runs against the same six properties
//! as the built-in stages, each checked online at the step where it could
//! first break:
//!
//! 1. [`P1_LOOKUP_IS_ALIVE`](check::P1_LOOKUP_IS_ALIVE): a lookup reply
//!    never names a dead bucket;
//! 2. [`P2_NAMES_MATCH_BUCKETS`](check::P2_NAMES_MATCH_BUCKETS): at
//!    quiescence the registry's names are exactly the live buckets it
//!    started, and its monitor refs are the inverse of its names;
//! 3. [`P3_REGISTRY_DIES_ONLY_WHEN_TOLD`](check::P3_REGISTRY_DIES_ONLY_WHEN_TOLD):
//!    the registry dies only when stopped or by a registry fault;
//! 4. [`P4_LINEARIZABLE`](check::P4_LINEARIZABLE): the clients' history
//!    is linearizable against the sequential KV model;
//! 5. [`P5_ONE_BUCKET_PER_NAME`](check::P5_ONE_BUCKET_PER_NAME): at most
//!    one live bucket per name;
//! 6. [`P6_NO_CALL_TIMES_OUT`](check::P6_NO_CALL_TIMES_OUT): no call ends
//!    by timeout.
//!
//! Here is the chapter's registry written by hand, with a switch for the
//! liveness check. Without it the harness reports property 1 (a dead
//! bucket handed out) or property 4 (a restart lost behind a stale `DOWN`),
//! whichever the search meets first; with it, every property holds:
//!
//! ```
//! use kvsim::check::{P1_LOOKUP_IS_ALIVE, P4_LINEARIZABLE, SearchConfig, check_registry};
//! use kvsim::kv::{KvMsg, Registry, spawn_bucket};
//! use kvsim::otp::{CallResult, Envelope, Flow, From, GenServer, Info};
//! use kvsim::sim::{Ctx, Pid, Reason, Ref};
//! use std::collections::BTreeMap;
//!
//! #[derive(Default)]
//! struct MyRegistry {
//!     names: BTreeMap<String, (Pid, Ref)>,
//!     check_alive: bool,
//! }
//!
//! impl GenServer<KvMsg> for MyRegistry {
//!     fn handle_call(
//!         &mut self,
//!         ctx: &mut Ctx<'_, Envelope<KvMsg>>,
//!         req: KvMsg,
//!         _from: From,
//!     ) -> CallResult<KvMsg> {
//!         match req {
//!             KvMsg::Lookup(name) => {
//!                 let pid = self.names.get(&name).map(|&(pid, _)| pid);
//!                 let pid = pid.filter(|&pid| !self.check_alive || ctx.is_alive(pid));
//!                 CallResult::Reply(KvMsg::Found(pid))
//!             }
//!             KvMsg::Stop => CallResult::Stop { reason: Reason::Normal, reply: Some(KvMsg::Ok) },
//!             _ => CallResult::Stop { reason: Reason::FunctionClause, reply: None },
//!         }
//!     }
//!
//!     fn handle_cast(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, req: KvMsg) -> Flow {
//!         let KvMsg::Create(name) = req else { return Flow::Continue };
//!         if let Some(&(pid, mref)) = self.names.get(&name) {
//!             if !self.check_alive || ctx.is_alive(pid) {
//!                 return Flow::Continue;
//!             }
//!             ctx.demonitor(mref, true); // its DOWN must not remove the new bucket
//!         }
//!         match spawn_bucket(ctx, &name, false, true) {
//!             Ok(bucket) => {
//!                 if let Some(mref) = bucket.mref {
//!                     self.names.insert(name, (bucket.pid, mref));
//!                 }
//!                 Flow::Continue
//!             }
//!             Err(reason) => Flow::Stop(reason),
//!         }
//!     }
//!
//!     fn handle_info(&mut self, _ctx: &mut Ctx<'_, Envelope<KvMsg>>, info: Info<KvMsg>) -> Flow {
//!         if let Info::Down { mref, .. } = info {
//!             self.names.retain(|_, &mut (_, watched)| watched != mref);
//!         }
//!         Flow::Continue
//!     }
//! }
//!
//! impl Registry for MyRegistry {
//!     fn names(&self) -> Vec<(String, Pid)> {
//!         self.names.iter().map(|(name, &(pid, _))| (name.clone(), pid)).collect()
//!     }
//!     fn monitor_refs(&self) -> Vec<(Ref, String)> {
//!         self.names.iter().map(|(name, &(_, mref))| (mref, name.clone())).collect()
//!     }
//! }
//!
//! let config = SearchConfig { cases: 256, ..SearchConfig::default() };
//!
//! let flawed = || -> Box<dyn Registry> { Box::new(MyRegistry::default()) };
//! let counterexample = check_registry(&flawed, &config).expect_err("no liveness check");
//! assert!([P1_LOOKUP_IS_ALIVE, P4_LINEARIZABLE].contains(&counterexample.failure.property));
//!
//! let fixed = || -> Box<dyn Registry> {
//!     Box::new(MyRegistry { check_alive: true, ..MyRegistry::default() })
//! };
//! let summary = check_registry(&fixed, &config).unwrap_or_else(|c| panic!("{c}"));
//! assert!(summary.all_hold(), "{summary}");
//! ```
//!
//! [`SearchConfig`](check::SearchConfig) sets the number of cases, the
//! proptest seed (the same seed generates the same cases), the shape of the
//! generated cases ([`GenConfig`](check::generate::GenConfig): clients,
//! commands, faults, overrides, names, the command and fault kinds) and
//! what is checked ([`CheckConfig`](check::CheckConfig)). Both configs are
//! `Send + Sync`, and a registry comes from a `Send + Sync` factory
//! ([`RegistryFactory`](check::RegistryFactory)) called once per run, so
//! threads can share them and no registry instance serves two runs. The
//! properties are a [`PropertySet`](check::PropertySet): pick built-in ones
//! with [`PropertySet::only`](check::PropertySet::only), and add your own by
//! implementing [`CustomProperty`](check::CustomProperty) and giving
//! [`PropertySet::with_custom`](check::PropertySet::with_custom) a factory
//! (each run gets a fresh instance, which may keep state across that run's
//! steps); it is checked after every step and reported by its name with
//! number 0:
//!
//! ```
//! use kvsim::check::{CheckConfig, CustomProperty, PropertySet, SearchConfig, check_registry};
//! use kvsim::kv::{KvSystem, Stage};
//!
//! struct AtMostOneName;
//!
//! impl CustomProperty for AtMostOneName {
//!     fn name(&self) -> &'static str {
//!         "at-most-one-name"
//!     }
//!     fn check(&mut self, system: &KvSystem) -> Result<(), String> {
//!         match system.registry_state().map(|r| r.names().len()) {
//!             Some(names) if names > 1 => Err(format!("the registry maps {names} names")),
//!             _ => Ok(()),
//!         }
//!     }
//! }
//!
//! let config = SearchConfig {
//!     cases: 256,
//!     check: CheckConfig {
//!         properties: PropertySet::default().with_custom(|| Box::new(AtMostOneName)),
//!         ..CheckConfig::default()
//!     },
//!     ..SearchConfig::default()
//! };
//! let counterexample = check_registry(&|| Stage::Fixed.registry(), &config).unwrap_err();
//! assert_eq!(counterexample.failure.property.name, "at-most-one-name");
//! assert_eq!(counterexample.case.command_count(), 2); // CREATE a, CREATE b
//! ```
//!
//! Property 4 checks the clients' history against a sequential model, the
//! chapter's [`KvModel`](check::linearizability::KvModel) unless
//! [`CheckConfig::model`](check::CheckConfig::model) names another. A
//! registry with other semantics states its own by implementing
//! [`SequentialModel`](check::linearizability::SequentialModel): its states,
//! which answers each operation may give from each state, and which object
//! (for the KV models, the bucket name) each operation is about, so that
//! each object's subhistory is checked on its own. A get-or-start registry,
//! whose `LOOKUP` starts a missing bucket, would be flagged by `KvModel`
//! (a lookup found a name nobody created) and passes against its own:
//!
//! ```
//! use kvsim::check::linearizability::{
//!     KvModel, KvOp, KvResult, LinearizabilityModel, SequentialModel,
//! };
//! use kvsim::check::CheckConfig;
//!
//! /// The chapter's model, except that the lookup every client operation on
//! /// a bucket begins with starts the bucket when it is missing.
//! #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
//! struct GetOrStart(KvModel);
//!
//! impl SequentialModel for GetOrStart {
//!     fn successors(&self, op: &KvOp, result: &KvResult) -> Vec<GetOrStart> {
//!         let looks_up = !op.is_model_event() && !matches!(op, KvOp::Create { .. });
//!         let mut next = Vec::new();
//!         if let (true, Some(name)) = (looks_up, op.name()) {
//!             let create = KvOp::Create { name: name.to_string() };
//!             let started = self.0.apply(&create, &KvResult::None);
//!             next.extend(started.iter().flat_map(|state| state.successors(op, result)));
//!             if *result == KvResult::Indeterminate {
//!                 next.extend(self.0.successors(op, result)); // it may not have run
//!             }
//!         } else {
//!             next = self.0.successors(op, result);
//!         }
//!         next.sort();
//!         next.dedup();
//!         next.into_iter().map(GetOrStart).collect()
//!     }
//!
//!     fn partition(op: &KvOp) -> Option<String> {
//!         KvModel::partition(op) // one object per bucket name
//!     }
//! }
//!
//! let config = CheckConfig {
//!     model: LinearizabilityModel::new(GetOrStart(KvModel::new())),
//!     ..CheckConfig::default()
//! };
//! # let _ = config;
//! ```
//!
//! `tests/linearizability_models.rs` runs a get-or-start registry against
//! both models.
//!
//! `examples/my_registry.rs` is a complete user registry with a bug no
//! built-in stage has (its `DOWN` handler ignores reason `normal`, so a
//! stopped bucket keeps its name), caught through property 2:
//! `cargo run --example my_registry`, `cargo test --example my_registry`.
//!
//! # Debugging failures
//!
//! A [`Counterexample`](check::Counterexample) carries the broken property
//! and the event at which it broke (`failure`), the shrunk
//! [`Case`](check::Case), how the case first found failed (`found`, before
//! any shrinking) and after how many generated cases, and the shrunk case's
//! trace as text. Its `Display` prints the failure and the case file.
//!
//! **Shrinking.** After proptest's own shrinking, the case is shrunk to
//! 1-minimal — removing any one client, command, fault or schedule override
//! makes that property hold — and then normalised: clients merged into
//! one, names and keys renamed to `a`, `b`, … ([`shrink`](check::shrink)).
//! Then a shortening pass searches nearby cases and their schedules for
//! one that breaks the property in fewer events (a second client's `STOP`
//! replaced by a `kill bucket` fault and one override, say), and keeps the
//! shortest 1-minimal one ([`shrink_case`](check::shrink_case);
//! [`ShrinkConfig`](check::ShrinkConfig) turns it off).
//! Overrides name events by key, never by position, so deleting a command
//! does not change what the remaining overrides mean.
//!
//! **Replaying.** [`FailureReport::save`](check::FailureReport::save)
//! writes the shrunk case as `<dir>/<property>-<hash>.case.json` (named by
//! its content, opened `create_new`, so parallel runs never clobber each
//! other) and returns a report whose last line is the one command that
//! replays it:
//!
//! ```
//! use kvsim::check::{FailureReport, SearchConfig, check_registry};
//! use kvsim::kv::Stage;
//!
//! let config = SearchConfig { cases: 256, ..SearchConfig::default() };
//! let counterexample = check_registry(&|| Stage::Unlinked.registry(), &config).unwrap_err();
//! let dir = std::env::temp_dir().join("kvsim-doc-cases");
//! std::fs::create_dir_all(&dir).unwrap();
//! let report = FailureReport::save(&counterexample, "unlinked", &dir).unwrap();
//! println!("{report}"); // property, case file, case, trace, replay command
//! assert!(report.replay_command().starts_with("kvsim replay "));
//! ```
//!
//! ```text
//! kvsim replay FILE                      # on the stage the file names; prints the verdict
//! kvsim replay FILE --trace text         # ... and the trace (or mermaid, json)
//! kvsim replay FILE --registry fixed     # the same case on another stage, to check a fix
//! ```
//!
//! `kvsim replay` exits 0 when every property holds, 1 when one breaks, 2
//! on a bad or corrupt case file, 3 when a limit cut the run or property 4
//! could not decide within its bound, 5 when its output could not be
//! written ([`cli::Exit`]). It builds the built-in
//! stages only; a registry of your own replays in code with
//! [`check::replay`](check::replay), which returns the same report
//! `kvsim replay` prints, and a report for a registry that is not a
//! built-in stage ends with that Rust line instead of the command:
//!
//! ```
//! use kvsim::check::{FailureReport, SearchConfig, check_registry, replay};
//! use kvsim::kv::Stage;
//!
//! let my_registry = || Stage::Unlinked.registry(); // your own factory here
//! let config = SearchConfig { cases: 256, ..SearchConfig::default() };
//! let counterexample = check_registry(&my_registry, &config).unwrap_err();
//! let dir = std::env::temp_dir().join("kvsim-doc-own-cases");
//! std::fs::create_dir_all(&dir).unwrap();
//! let report = FailureReport::save(&counterexample, "my-registry", &dir).unwrap();
//! assert!(report.replay_command().starts_with("kvsim::check::replay(&my_registry, "));
//!
//! let replayed = replay(&my_registry, &report.case_path).unwrap();
//! assert_eq!(replayed.run.failure, Some(counterexample.failure.clone()));
//! println!("{replayed}"); // the dialogue and the verdict, as `kvsim replay` prints them
//! ```
//!
//! **Keeping failures.** Once fixed, a failure stays fixed if its case
//! file is kept: put the files in a directory of your crate and replay
//! them all in a `cargo test` with [`check::regressions`](check::regressions)
//! (every `*.case.json` there, in name order, must hold on your registry):
//!
//! ```no_run
//! # let my_registry = || kvsim::kv::Stage::Fixed.registry();
//! let kept = kvsim::check::regressions(&my_registry, "tests/regressions").unwrap();
//! assert!(kept.all_hold(), "{kept}");
//! ```
//!
//! **Reading a trace.** Each event (one scheduler step: a client action,
//! the delivery of one signal, a fault, a timer) is a line
//! `#<event> t=<virtual ms> [<event key>] <what happened>`; the indented
//! lines under it are what happened inside that step (spawns, monitors,
//! sends, replies, exits). Processes go by logical name (`client0`,
//! `registry`, `bucket:a#0`, the first bucket started for `a`). The event
//! key in brackets is stable across shrinking: `client0.cmd1` is client 0
//! acting on its command 1, `client0.cmd1/1` a signal that action caused,
//! `fault0` fault 0 firing, `fault0/DOWN(bucket:a>registry)` the `DOWN`
//! bucket `a` sent the registry when fault 0 killed it (the grammar: the
//! README's § Event keys). A case's `schedule` is a list of such keys that
//! jump the queue; every other step follows the `fifo` order. The failure's
//! event number is the counterexample's length in events.
//!
//! # Layers
//!
//! Each uses only the ones below it:
//!
//! - [`sim`]: the deterministic core (processes, signals, scheduler, clock, trace);
//! - [`otp`]: GenServer and Agent behaviours on top of the core;
//! - [`kv`]: buckets, the registry protocol and the chapter's registry stages;
//! - [`check`]: cases, generators, the six properties, the shrinker and the
//!   search ([`check_registry`](check::check_registry));
//! - [`cli`]: the `kvsim` command line (`kvsim run`, `kvsim replay`);
//! - [`fuzz`]: the bodies of the `cargo fuzz` targets in `fuzz/`.

pub mod check;
pub mod cli;
pub mod fuzz;
pub mod kv;
pub mod otp;
pub mod sim;
pub mod sync;
