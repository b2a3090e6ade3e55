//! Process, monitor and timer identifiers. Owns numbering only: a counter
//! per run, never reused (docs/semantics.md S1); and how a pid prints
//! inside a traced term (by its logical name, see [`with_pid_names`]).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

/// A process identifier. Never reused within a run; `Pid::HARNESS` (0) is
/// the sender of faults and never names a live process.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(pub u64);

impl Pid {
    /// The harness itself: the sender of fault signals. Never alive.
    pub const HARNESS: Pid = Pid(0);
}

/// `<0.N.0>`, or, inside [`with_pid_names`], the pid's logical name when
/// the map has one.
impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let named = PID_NAMES.with(|names| {
            let names = names.try_borrow().ok()?;
            names.get(&self.0).map(|name| f.write_str(name))
        });
        named.unwrap_or_else(|| write!(f, "<0.{}.0>", self.0))
    }
}

thread_local! {
    /// The names pids print by while [`with_pid_names`] runs; empty
    /// otherwise.
    static PID_NAMES: RefCell<BTreeMap<u64, String>> = const { RefCell::new(BTreeMap::new()) };
}

/// Runs `render` with every pid whose number `names` holds printing (by
/// `Debug` and `Display`) as its logical name instead of `<0.N.0>`. A
/// trace renders a message's term this way, so the name goes in where the
/// pid is, and nothing else of the term (user data that looks like a pid,
/// `"<0.1.0>"`) is ever rewritten. `names` is lent to the renderer and
/// given back unchanged, also if `render` panics.
pub(crate) fn with_pid_names<R>(
    names: &mut BTreeMap<u64, String>,
    render: impl FnOnce() -> R,
) -> R {
    struct Lent<'a>(&'a mut BTreeMap<u64, String>);
    impl Drop for Lent<'_> {
        fn drop(&mut self) {
            PID_NAMES.with(|names| std::mem::swap(self.0, &mut names.borrow_mut()));
        }
    }
    PID_NAMES.with(|lent| std::mem::swap(names, &mut lent.borrow_mut()));
    let _give_back = Lent(names);
    render()
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A monitor reference (also used as a call's reply tag).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ref(pub u64);

impl fmt::Debug for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<{}>", self.0)
    }
}

/// A timer handle, unique within a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerRef(pub u64);
