//! A panic inside a simulated handler is a simulated crash: it must print
//! nothing and must not reach an outer panic hook that aborts (as a
//! fuzzer's does). This file is its own test binary, so the aborting hook
//! installed here is the process's first hook.

mod common;

use common::{Driver, Probe, fifo_sim, log, spawn};
use kvsim::sim::{Control, Reason};

#[test]
fn panicking_handler_under_an_aborting_outer_hook_completes_its_run() {
    std::panic::set_hook(Box::new(|_| std::process::abort()));
    let log = log();
    let mut sim = fifo_sim();
    let victim = spawn(
        &mut sim,
        Probe::new("victim", &log).on(|_, _| -> Control { panic!("bad state") }),
    );
    sim.spawn_client(
        0,
        Box::new(Driver::new("driver", &log).then(move |ctx| {
            ctx.send(victim, "boom".to_string());
        })),
    );
    // A second client monitors the victim, to see its exit reason.
    sim.spawn_client(
        1,
        Box::new(Driver::new("monitor", &log).then(move |ctx| {
            let _ = ctx.monitor(victim);
        })),
    );
    sim.run();
    assert!(!sim.is_alive(victim), "the panicking process died");
    let text = sim.trace().expect("tracing").to_text();
    assert!(
        text.contains(&format!("exits: {}", Reason::Panic("bad state".into()))),
        "the panic became the exit reason:\n{text}"
    );
    assert!(
        log.borrow()
            .iter()
            .any(|line| line == "monitor: DOWN {panic,\"bad state\"}")
    );
    // Harness panics still reach the outer hook: restore a quiet one so the
    // test harness can report normally.
    let _ = std::panic::take_hook();
}
