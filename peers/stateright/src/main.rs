//! The dead-lookup scenarios checked by stateright's breadth-first model
//! checker (one thread), over the shared model in `peer-model`.
//!
//! Usage: `peer-stateright SCENARIO flawed|fixed [full]`
//!
//! Without `full` the check stops at the first counterexample (breadth
//! first, so a shortest one); with `full`, or on the fixed registry, it
//! explores every reachable state. Prints one line of figures; with `SHOW`
//! set in the environment, also the counterexample's events.
//!
//! Why a hand-written `Model` rather than stateright's actor API: its
//! actors cannot say what the race needs. A crashed actor sends no `DOWN`
//! or exit signal (no monitors, no links), messages to it stay queued
//! instead of being dropped, actors cannot be spawned, and no actor can ask
//! whether another is alive, so the fixed registry cannot be written.

use peer_model::{Event, SCENARIOS, Scenario, World};
use stateright::{Checker, HasDiscoveries, Model, Property};
use std::process::ExitCode;
use std::time::Instant;

const PROPERTY: &str = "a lookup reply never names a dead process";

struct DeadLookup(Scenario);

impl Model for DeadLookup {
    type State = World;
    type Action = Event;

    fn init_states(&self) -> Vec<World> {
        vec![self.0.start()]
    }

    fn actions(&self, world: &World, actions: &mut Vec<Event>) {
        self.0.enabled(world, actions);
    }

    fn next_state(&self, world: &World, event: Event) -> Option<World> {
        Some(self.0.next(world, event))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::always(PROPERTY, |_, world: &World| {
            !world.dead_lookup
        })]
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!(
            "usage: peer-stateright SCENARIO flawed|fixed [full]\n  SCENARIO: {}",
            SCENARIOS.join(", ")
        );
        ExitCode::from(2)
    };
    let (name, fixed, full) = match args.as_slice() {
        [name, registry] => (name, registry.as_str(), false),
        [name, registry, full] if full == "full" => (name, registry.as_str(), true),
        _ => return usage(),
    };
    let fixed = match fixed {
        "flawed" => false,
        "fixed" => true,
        _ => return usage(),
    };
    let Some(scenario) = Scenario::named(name, fixed) else {
        return usage();
    };
    let started = Instant::now();
    let mut builder = DeadLookup(scenario).checker().threads(1);
    if full {
        // A discovery set that is never complete: keep going past the
        // first counterexample, to the end of the state space.
        builder = builder.finish_when(HasDiscoveries::AllOf(
            ["(never discovered)"].into_iter().collect(),
        ));
    }
    let checker = builder.spawn_bfs().join();
    let elapsed = started.elapsed();
    let found = checker.discovery(PROPERTY);
    // Only a check that stops at its first discovery has a shortest one.
    let counterexample = match &found {
        Some(path) if !full => format!("{} events", path.clone().into_actions().len()),
        Some(_) => "found".to_string(),
        None => "none".to_string(),
    };
    println!(
        "tool=stateright scenario={name} registry={} mode={} states={} unique={} max_depth={} ms={:.1} counterexample={counterexample}",
        if fixed { "fixed" } else { "flawed" },
        if full { "full" } else { "stop-at-first" },
        checker.state_count(),
        checker.unique_state_count(),
        checker.max_depth(),
        elapsed.as_secs_f64() * 1e3,
    );
    if let (Some(path), true) = (found, std::env::var_os("SHOW").is_some()) {
        for event in path.into_actions() {
            println!("  {event:?}");
        }
    }
    ExitCode::SUCCESS
}
