//! Ctrl-C as a stop request: the first SIGINT only sets a flag that a long
//! command polls between units of work (`kvsim explore` between cases), so
//! it can finish what is running and print the report of what ran; the
//! second SIGINT ends the process at once, by the signal's default action.
//!
//! Unix only: the handler is installed with the C library's `signal(2)`,
//! declared here rather than through a crate. On other platforms
//! [`install`] does nothing and Ctrl-C keeps its default action (the
//! process ends, no report).
//!
//! The handler does only what is async-signal-safe (POSIX.1-2017, § 2.4.3):
//! a store to a lock-free atomic and a call of `signal`, which POSIX lists
//! as safe to call from a handler.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first SIGINT after [`install`]; never cleared.
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Makes the first Ctrl-C (SIGINT) set [`flag`] instead of ending the
/// process; a second one ends it by the default action (the shell then
/// reports 130, and nothing more is printed).
///
/// Call it just before the work that polls [`requested`] starts, not at
/// start-up: commands that never poll keep the default action. Calling it
/// again changes nothing. If SIGINT was ignored when kvsim started (a
/// background job of a shell without job control), it stays ignored, as
/// such a job must not stop at the terminal's Ctrl-C. Does nothing on
/// platforms other than Unix.
pub fn install() {
    #[cfg(unix)]
    unix::install();
}

/// Whether Ctrl-C was pressed since [`install`].
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// The flag Ctrl-C sets, for a library loop that takes a stop request
/// (`ExploreConfig::stop`).
pub fn flag() -> &'static AtomicBool {
    &REQUESTED
}

#[cfg(unix)]
mod unix {
    use super::REQUESTED;
    use std::ffi::c_int;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// SIGINT is 2 on every Unix (POSIX fixes it for XSI systems, and
    /// Linux, the BSDs and macOS all use it).
    const SIGINT: c_int = 2;
    /// `SIG_DFL` and `SIG_IGN` are the handler values 0 and 1 in glibc,
    /// musl, the BSDs and macOS.
    const SIG_DFL: usize = 0;
    const SIG_IGN: usize = 1;

    unsafe extern "C" {
        /// `sighandler_t signal(int signum, sighandler_t handler)`: a
        /// handler is a function pointer, passed here as its address.
        /// glibc's and the BSDs' `signal` keeps the handler installed
        /// after it runs and restarts interrupted system calls.
        fn signal(signum: c_int, handler: usize) -> usize;
    }

    static INSTALLED: AtomicBool = AtomicBool::new(false);

    extern "C" fn on_sigint(_signum: c_int) {
        REQUESTED.store(true, Ordering::Relaxed);
        // SAFETY: `signal` is async-signal-safe; SIG_DFL is a valid
        // disposition. The next SIGINT takes the default action.
        unsafe {
            signal(SIGINT, SIG_DFL);
        }
    }

    pub(super) fn install() {
        if INSTALLED.swap(true, Ordering::Relaxed) {
            return;
        }
        // `signal` returns the disposition it replaces, so it is read by
        // setting SIG_IGN first (a SIGINT in between is lost: harmless,
        // before any work has started).
        // SAFETY: SIG_IGN is a valid disposition.
        let found = unsafe { signal(SIGINT, SIG_IGN) };
        if found == SIG_IGN {
            return;
        }
        let handler: extern "C" fn(c_int) = on_sigint;
        // SAFETY: `on_sigint` has the C handler's signature and does only
        // what is async-signal-safe. (SIG_ERR, for an invalid signal
        // number, cannot come back for SIGINT.)
        unsafe {
            signal(SIGINT, handler as usize);
        }
    }
}
