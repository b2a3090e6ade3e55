//! The only things the explorer's threads share: a case [`Dispenser`] and a
//! result [`Sink`]. Every sync type comes from here: `parking_lot` and std
//! atomics normally, loom's under `cfg(all(loom, test))`, so that
//! `tests/loom_sync.rs` (which compiles this file into itself) model-checks
//! the same code the explorer runs:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test --release --test loom_sync
//! ```
//!
//! A run stays a pure function of its case: threads decide only which case
//! positions run where, never what a case does. This file uses nothing from
//! the rest of the crate, so the loom test can include it alone.

#[cfg(all(loom, test))]
use loom::sync::Mutex as Inner;
#[cfg(all(loom, test))]
use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(all(loom, test)))]
use parking_lot::Mutex as Inner;
#[cfg(not(all(loom, test)))]
use std::sync::atomic::{AtomicU64, Ordering};

/// Hands out case positions `0, 1, 2, …` below an end that only ever comes
/// down (a failure found, a budget spent, an interrupt).
///
/// Invariant: the positions handed out are exactly `0..taken()`, each
/// once, so when every thread is done the positions that ran form a prefix
/// with no gap; and every position below the final end was handed out.
#[derive(Debug)]
pub struct Dispenser {
    next: AtomicU64,
    end: AtomicU64,
}

impl Dispenser {
    /// Positions `0..positions`.
    pub fn new(positions: u64) -> Dispenser {
        Dispenser {
            next: AtomicU64::new(0),
            end: AtomicU64::new(positions),
        }
    }

    /// The next position, or `None` once the end is reached. A position is
    /// taken only while it is below the end as last read: one taken just
    /// as another thread lowers the end still runs (and is counted), which
    /// keeps the prefix gap-free.
    pub fn take(&self) -> Option<u64> {
        let mut next = self.next.load(Ordering::Relaxed);
        loop {
            if next >= self.end.load(Ordering::Acquire) {
                return None;
            }
            match self.next.compare_exchange_weak(
                next,
                next + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(next),
                Err(current) => next = current,
            }
        }
    }

    /// From now on, no position at or past `end` is handed out (the end
    /// never goes back up).
    pub fn stop_at(&self, end: u64) {
        let mut current = self.end.load(Ordering::Acquire);
        while end < current {
            match self
                .end
                .compare_exchange_weak(current, end, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(now) => current = now,
            }
        }
    }

    /// Hands out nothing more.
    pub fn stop(&self) {
        self.stop_at(0);
    }

    /// How many positions were handed out: `0..taken()`.
    pub fn taken(&self) -> u64 {
        self.next.load(Ordering::Acquire)
    }
}

/// What the threads' results go into: one value behind a mutex, updated by
/// short closures (a case's result is a few map insertions; the case itself
/// runs outside the lock).
#[derive(Debug)]
pub struct Sink<T> {
    inner: Inner<T>,
}

impl<T> Sink<T> {
    pub fn new(value: T) -> Sink<T> {
        Sink {
            inner: Inner::new(value),
        }
    }

    /// Runs `update` on the value, alone.
    pub fn with<R>(&self, update: impl FnOnce(&mut T) -> R) -> R {
        #[cfg(all(loom, test))]
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        #[cfg(not(all(loom, test)))]
        let mut guard = self.inner.lock();
        update(&mut guard)
    }

    /// The value, once no thread holds the sink any more.
    pub fn into_inner(self) -> T {
        #[cfg(all(loom, test))]
        return self.inner.into_inner().unwrap_or_else(|e| e.into_inner());
        #[cfg(not(all(loom, test)))]
        return self.inner.into_inner();
    }
}
