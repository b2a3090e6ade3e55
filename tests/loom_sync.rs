//! The explorer's dispenser and sink (src/sync.rs) under loom's model
//! checker: every interleaving of a few threads taking positions, some of
//! them "failing" and lowering the end, must hand each position out once,
//! leave no gap below the lowest failure, and record every position taken.
//! Only built with `--cfg loom` (see src/sync.rs for the command; `.ci/run`
//! runs it with `LOOM_MAX_PREEMPTIONS=3`).
#![cfg(loom)]

#[path = "../src/sync.rs"]
#[allow(dead_code)]
mod sync;

use loom::sync::Arc;
use std::collections::BTreeSet;
use sync::{Dispenser, Sink};

/// What a worker records: the positions it ran and the lowest "failure".
#[derive(Default)]
struct Seen {
    ran: Vec<u64>,
    lowest_failure: Option<u64>,
}

/// Each of `threads` workers takes positions until none is left; position
/// `failing` (if any) fails and stops the dispenser past it, as the
/// explorer does. Checks the dispenser's invariant on every interleaving.
fn workers(threads: usize, positions: u64, failing: Option<u64>) {
    loom::model(move || {
        let dispenser = Arc::new(Dispenser::new(positions));
        let sink = Arc::new(Sink::new(Seen::default()));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let dispenser = Arc::clone(&dispenser);
                let sink = Arc::clone(&sink);
                loom::thread::spawn(move || {
                    while let Some(position) = dispenser.take() {
                        let failed = Some(position) == failing;
                        sink.with(|seen| {
                            seen.ran.push(position);
                            if failed {
                                let lowest = seen.lowest_failure.get_or_insert(position);
                                *lowest = (*lowest).min(position);
                            }
                        });
                        if failed {
                            dispenser.stop_at(position + 1);
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let taken = dispenser.taken();
        let sink = Arc::try_unwrap(sink)
            .ok()
            .expect("no thread holds the sink");
        let seen = sink.into_inner();
        let ran: BTreeSet<u64> = seen.ran.iter().copied().collect();
        assert_eq!(ran.len(), seen.ran.len(), "a position ran twice");
        assert_eq!(
            ran,
            (0..taken).collect(),
            "the positions that ran are a prefix"
        );
        let must_run = match failing {
            Some(failing) if failing < positions => failing + 1,
            _ => positions,
        };
        assert!(taken >= must_run, "{taken} taken, {must_run} must run");
        assert!(taken <= positions);
        assert_eq!(seen.lowest_failure, failing.filter(|&f| f < positions));
    });
}

#[test]
fn two_threads_take_every_position_once() {
    workers(2, 3, None);
}

#[test]
fn a_failure_stops_the_dispenser_with_no_gap_below_it() {
    workers(2, 4, Some(1));
}

#[test]
fn three_threads_with_a_failure() {
    workers(3, 2, Some(0));
}

#[test]
fn stop_hands_out_nothing_more() {
    loom::model(|| {
        let dispenser = Arc::new(Dispenser::new(5));
        let other = Arc::clone(&dispenser);
        let stopper = loom::thread::spawn(move || other.stop());
        let mut ran = 0;
        while dispenser.take().is_some() {
            ran += 1;
        }
        stopper.join().unwrap();
        assert_eq!(ran, dispenser.taken());
        assert!(dispenser.take().is_none());
    });
}
