//! Instruction-count probe for benches/core.rs's `w4x2500` workload: one
//! run, tracing off, under `fifo` or `random` (seed 1), built exactly as
//! the bench builds it, asserted quiescent. Wall clock on a shared machine
//! swings with the load; an instruction count under callgrind does not,
//! so the cost of an event is read as the count divided by the steps.
//!
//! ```text
//! cargo build --release --example core_probe
//! valgrind --tool=callgrind --toggle-collect='*measured_run*' target/release/examples/core_probe fifo
//! valgrind --tool=callgrind --toggle-collect='*measured_run*' target/release/examples/core_probe random
//! ```
//!
//! With `--toggle-collect` the count is `Sim::run` alone, as the bench
//! times it (not building the system or the command lists, nor dropping
//! the system).

use kvsim::kv::{KvSystem, Stage};
use kvsim::sim::choice::{Fifo, RandomWalk};
use kvsim::sim::{ChoiceSource, Outcome, Prng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

/// The system allocator, counting allocations (a `realloc` counts as one),
/// so that the probe also prints allocations per event.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is System's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// The bench's workload, from the same file.
#[path = "../benches/support/w4x2500.rs"]
mod w4x2500;
use w4x2500::{CLIENTS, LIMITS, SEED, client_commands};

fn system(chooser: Box<dyn ChoiceSource>) -> KvSystem {
    let mut system = KvSystem::new(Stage::Fixed.registry(), chooser, LIMITS, false);
    system.sim.record_schedule(false);
    let mut prng = Prng::new(SEED);
    for client_id in 0..CLIENTS {
        let commands = client_commands(&mut prng);
        system.add_client(client_id, commands.into_iter(), false);
    }
    system
}

/// The run alone: callgrind's `--toggle-collect='*measured_run*'` counts
/// only this.
#[inline(never)]
fn measured_run(system: &mut KvSystem) -> u64 {
    assert_eq!(system.sim.run(), Outcome::Quiescent, "a limit was hit");
    system.sim.steps()
}

fn main() -> ExitCode {
    let schedule = std::env::args().nth(1).unwrap_or_default();
    let chooser: Box<dyn ChoiceSource> = match schedule.as_str() {
        "fifo" => Box::new(Fifo),
        "random" => Box::new(RandomWalk::new(1)),
        other => {
            eprintln!("core_probe: unknown schedule {other:?} (fifo, random)");
            return ExitCode::from(2);
        }
    };
    let mut system = system(chooser);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let steps = measured_run(&mut system);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!(
        "w4x2500, {schedule}: {steps} steps, {allocations} allocations ({:.2} per step)",
        allocations as f64 / steps as f64
    );
    ExitCode::SUCCESS
}
