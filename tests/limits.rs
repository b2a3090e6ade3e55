//! Every run is bounded: hitting a limit is a reported outcome, never a
//! hang or a panic (docs/design.md § Limits).

mod common;

use common::{Driver, Probe, log, spawn};
use kvsim::check::{RunConfig, run_script};
use kvsim::kv::{Stage, script};
use kvsim::sim::choice::Fifo;
use kvsim::sim::{Limits, Outcome, Sim};
use std::path::Path;

#[test]
fn a_full_pair_queue_ends_the_run_with_a_queue_limit() {
    let log = log();
    let limits = Limits {
        queue_len_max: 3,
        ..Limits::default()
    };
    let mut sim = Sim::new(Box::new(Fifo), limits, false);
    let sink = spawn(&mut sim, Probe::new("sink", &log));
    let driver = Driver::new("d", &log).then(move |ctx| {
        for n in 0..10 {
            ctx.send(sink, format!("m{n}"));
        }
    });
    sim.spawn_client(0, Box::new(driver));
    assert_eq!(
        sim.run(),
        Outcome::Limit {
            name: "queue-len",
            value: 3
        }
    );
    assert!(
        log.borrow().is_empty(),
        "the run stopped before delivering anything"
    );
}

#[test]
fn a_long_script_ends_with_a_step_limit_and_keeps_its_dialogue_so_far() {
    let text = "CREATE a\nPUT a k v\nGET a k\nGET a k\n";
    let parsed = script::parse(Path::new("long.kv"), text.as_bytes()).expect("parses");
    let config = RunConfig {
        stage: Stage::Fixed,
        limits: Limits {
            steps_max: 8,
            ..Limits::default()
        },
        ..RunConfig::default()
    };
    let report = run_script(&parsed, &config);
    assert_eq!(
        report.outcome,
        Outcome::Limit {
            name: "max-steps",
            value: 8
        }
    );
    assert_eq!(report.steps, 8);
    assert!(
        report.dialogue.starts_with("CREATE a\nOK\n\n"),
        "{}",
        report.dialogue
    );
    assert!(
        !report.dialogue.contains("GET a k\nv\nOK\n\nGET"),
        "{}",
        report.dialogue
    );
}

#[test]
fn a_script_that_needs_exactly_the_limit_is_not_cut() {
    let text = "CREATE a\n";
    let parsed = script::parse(Path::new("one.kv"), text.as_bytes()).expect("parses");
    let config = RunConfig {
        limits: Limits {
            steps_max: 2,
            ..Limits::default()
        },
        ..RunConfig::default()
    };
    let report = run_script(&parsed, &config);
    assert_eq!(
        report.outcome,
        Outcome::Quiescent,
        "CREATE takes exactly two events"
    );
    assert_eq!(report.steps, 2);
}
