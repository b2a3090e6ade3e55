//! Silences panics of simulated processes. A panic inside a handler is a
//! simulated crash (it becomes the process's exit reason), so it must print
//! nothing; any other panic is a harness bug and goes to the hook that was
//! installed before ours (a fuzzer's aborting hook keeps aborting).

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    static INSIDE_HANDLER: Cell<bool> = const { Cell::new(false) };
}

static INSTALL: Once = Once::new();

/// Installs kvsim's panic hook once per process, chaining the current one.
/// [`crate::sim::Sim::new`] calls it; call it again yourself only if you
/// install a hook of your own after the first simulation.
pub fn install_panic_hook() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !INSIDE_HANDLER.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Runs `f` as a handler: a panic inside is caught, silently, and returned
/// as its message.
pub(crate) fn run_handler<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    let was_inside = INSIDE_HANDLER.with(|flag| flag.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    INSIDE_HANDLER.with(|flag| flag.set(was_inside));
    result.map_err(|payload| {
        if let Some(text) = payload.downcast_ref::<&str>() {
            (*text).to_string()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            "panic".to_string()
        }
    })
}
