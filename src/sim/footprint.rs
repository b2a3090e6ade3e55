//! Footprints: what each event of a run touched, for partial-order
//! reduction (the verifier's dependence relation, `check::verify::dpor`).
//! Recorded only when a choice source asks for it
//! ([`ChoiceSource::footprints`](crate::sim::ChoiceSource::footprints)), so
//! an unrecorded run pays one untaken branch per hook, as with
//! [`Causality`](crate::sim::Causality).
//!
//! A footprint is a list of [`Access`]es to [`Resource`]s — a process's
//! state, its liveness, its links and monitors, one (sender, receiver)
//! queue, a fault role, the spawn counters, the timer list, quietness — plus
//! a few facts a checker turns into accesses of its own (which processes
//! died with which role, whether a client ran, which deliveries a tap
//! marked, whether the system was quiet after the event). Two events whose
//! accesses [conflict](Access::conflicts) are dependent; the relation is
//! written out in the verifier's module documentation.

use crate::sim::pid::Pid;

/// Something an event can read or change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// A process's own state: its behaviour, aliases, `trap_exit`, pending
    /// exit. Written by every handler run of it (in its own event, or in an
    /// `is_alive` flush inside the caller's), and by its death.
    Proc(Pid),
    /// Whether the process is in the table: written by its spawn and its
    /// death, read by every send to it, `is_alive`, `link`, `monitor` and
    /// a tap that records a pid's liveness (property 1).
    Alive(Pid),
    /// The links and the monitors held on the process: updated (each adds
    /// or removes its own link or monitor, which commute) by `link`,
    /// `unlink`, `monitor` and `demonitor` from either end; written by its
    /// spawn and its death (which reads them all to send its exit signals
    /// and `DOWN`s).
    Ties(Pid),
    /// The (sender, receiver) signal queue.
    Queue(Pid, Pid),
    /// A fault role (a hash of its name: two roles that collide only make
    /// more events dependent): its live members and generation count.
    Role(u64),
    /// Every role at once (a check that reads all live buckets).
    AllRoles,
    /// The pid, ref and name counters of spawning.
    Spawn,
    /// The timer list: starting a timer updates it; two timers with one
    /// deadline fire in creation order, which matters only once one fires.
    Timers,
    /// Whether the system is quiet (no signal queued, no exit pending):
    /// every push and pop updates it, `SETTLE` and checks at quiescence read it.
    Quiet,
    /// A resource a checker adds (a property's own state), by number.
    Checker(u32),
}

/// How an event used a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Read,
    Write,
    /// A commutative update (a count): commutes with itself, not with a
    /// read or a write.
    Update,
    /// The signal numbered `send_no` was queued (`exit`: an exit signal).
    Push {
        send_no: u64,
        exit: bool,
    },
    /// The signal numbered `send_no` left the head of its queue.
    Pop {
        send_no: u64,
        exit: bool,
    },
    /// Whether an exit signal is queued (a monitor request waits behind one).
    ReadExits,
}

/// One use of one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub resource: Resource,
    pub mode: Mode,
}

impl Access {
    pub fn read(resource: Resource) -> Access {
        Access {
            resource,
            mode: Mode::Read,
        }
    }

    pub fn write(resource: Resource) -> Access {
        Access {
            resource,
            mode: Mode::Write,
        }
    }

    /// Whether the two accesses do not commute. On a queue, a push and a
    /// pop commute unless they are the same signal (the pop then needs the
    /// push); two pushes (one sender) or two pops (one receiver) do not; a
    /// read of whether an exit is queued conflicts only with pushing or
    /// popping an exit signal. Elsewhere reads commute with reads and
    /// updates with updates, and everything else conflicts.
    pub fn conflicts(&self, other: &Access) -> bool {
        let same = match (self.resource, other.resource) {
            (Resource::AllRoles, Resource::Role(_) | Resource::AllRoles)
            | (Resource::Role(_), Resource::AllRoles) => true,
            (a, b) => a == b,
        };
        if !same {
            return false;
        }
        use Mode::*;
        match (self.mode, other.mode) {
            (Read, Read) | (Update, Update) | (ReadExits, ReadExits) => false,
            (ReadExits, Read) | (Read, ReadExits) => false,
            (Push { send_no: a, .. }, Pop { send_no: b, .. })
            | (Pop { send_no: b, .. }, Push { send_no: a, .. }) => a == b,
            (ReadExits, Push { exit, .. } | Pop { exit, .. })
            | (Push { exit, .. } | Pop { exit, .. }, ReadExits) => exit,
            _ => true,
        }
    }
}

/// What one event touched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    pub accesses: Vec<Access>,
    /// A timer fired: the event depends on every other (a timer is enabled
    /// only when nothing else is).
    pub global: bool,
    /// The stable ids of the clients whose handlers ran (or that acted, or
    /// died) in the event.
    pub clients: Vec<u32>,
    /// The role of each process that died in the event (`None`: no role).
    pub deaths: Vec<Option<String>>,
    /// The labels a tap gave the messages delivered in the event.
    pub labels: Vec<String>,
    /// No signal was queued and no exit pending after the event.
    pub quiet_after: bool,
    /// For a client's action: the client's and the command's stable ids.
    pub acted: Option<(u32, u32)>,
    /// For a delivery: its queue (sender, receiver) and the signal's send
    /// number (the event's own delivery, not those of an `is_alive` flush).
    pub delivered: Option<(Pid, Pid, u64)>,
    /// The system's state after the event with pids, refs and send
    /// numbers abstracted away ([`Sim::canonical_state`](crate::sim::Sim::canonical_state)),
    /// when [`Footprints::snapshots`] asked for it (tests of the relation).
    pub state_after: Option<String>,
}

impl Footprint {
    fn push(&mut self, access: Access) {
        if !self.accesses.contains(&access) {
            self.accesses.push(access);
        }
    }
}

/// Each event's footprint, in step order (event `i + 1` at index `i`).
#[derive(Clone, Debug, Default)]
pub struct Footprints {
    steps: Vec<Footprint>,
    current: Footprint,
    open: bool,
    /// Events before this index (0-based) keep an empty footprint: their
    /// reader knows them already (a search replaying a prefix).
    from: usize,
    /// Whether each footprint keeps the state after its event.
    pub snapshots: bool,
}

/// A fixed hash of a role name (FNV-1a), stable across runs and platforms.
pub fn role_hash(role: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in role.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

impl Footprints {
    /// The footprints of the events that ended, in step order.
    pub fn steps(&self) -> &[Footprint] {
        &self.steps
    }

    /// Forgets everything (for the next run).
    pub fn clear(&mut self) {
        self.steps.clear();
        self.current = Footprint::default();
        self.open = false;
    }

    /// Records only from the event at index `from` (0-based) on; the
    /// events before it get an empty footprint. For a reader that knows
    /// their footprints from an earlier run of the same prefix: recording
    /// costs an allocation or more per event. Kept across [`Footprints::clear`].
    pub fn record_from(&mut self, from: usize) {
        self.from = from;
    }

    pub(crate) fn begin(&mut self) {
        self.current = Footprint::default();
        self.open = self.steps.len() >= self.from;
        if !self.open {
            self.steps.push(Footprint::default());
        }
    }

    pub(crate) fn end(&mut self, quiet_after: bool, state_after: Option<String>) {
        if self.open {
            self.current.quiet_after = quiet_after;
            self.current.state_after = state_after;
            self.steps.push(std::mem::take(&mut self.current));
            self.open = false;
        }
    }

    /// Records an access of the event in progress (nothing at setup).
    pub(crate) fn access(&mut self, resource: Resource, mode: Mode) {
        if self.open {
            self.current.push(Access { resource, mode });
        }
    }

    pub(crate) fn read(&mut self, resource: Resource) {
        self.access(resource, Mode::Read);
    }

    pub(crate) fn write(&mut self, resource: Resource) {
        self.access(resource, Mode::Write);
    }

    pub(crate) fn update(&mut self, resource: Resource) {
        self.access(resource, Mode::Update);
    }

    pub(crate) fn global(&mut self) {
        if self.open {
            self.current.global = true;
        }
    }

    pub(crate) fn acted(&mut self, client: u32, cmd: u32) {
        if self.open {
            self.current.acted = Some((client, cmd));
        }
    }

    pub(crate) fn delivered(&mut self, from: Pid, to: Pid, send_no: u64) {
        if self.open {
            self.current.delivered = Some((from, to, send_no));
        }
    }

    pub(crate) fn client(&mut self, id: u32) {
        if self.open && !self.current.clients.contains(&id) {
            self.current.clients.push(id);
        }
    }

    pub(crate) fn death(&mut self, role: Option<&str>) {
        if self.open {
            self.current.deaths.push(role.map(str::to_string));
        }
    }

    pub(crate) fn label(&mut self, label: &str) {
        if self.open {
            self.current.labels.push(label.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_accesses_commute_unless_they_are_one_signal_or_one_end() {
        let q = Resource::Queue(Pid(1), Pid(2));
        let push = |send_no, exit| Access {
            resource: q,
            mode: Mode::Push { send_no, exit },
        };
        let pop = |send_no, exit| Access {
            resource: q,
            mode: Mode::Pop { send_no, exit },
        };
        let exits = Access {
            resource: q,
            mode: Mode::ReadExits,
        };
        assert!(!push(3, false).conflicts(&pop(2, false)));
        assert!(push(3, false).conflicts(&pop(3, false)));
        assert!(push(3, false).conflicts(&push(4, false)));
        assert!(pop(3, false).conflicts(&pop(4, false)));
        assert!(!exits.conflicts(&push(4, false)));
        assert!(exits.conflicts(&push(4, true)));
        assert!(exits.conflicts(&pop(4, true)));
        assert!(Access::write(q).conflicts(&exits));
        let other = Resource::Queue(Pid(2), Pid(1));
        assert!(!Access::write(other).conflicts(&pop(3, false)));
    }

    #[test]
    fn reads_and_updates_commute_among_themselves() {
        let r = Resource::Quiet;
        let update = Access {
            resource: r,
            mode: Mode::Update,
        };
        assert!(!update.conflicts(&update));
        assert!(!Access::read(r).conflicts(&Access::read(r)));
        assert!(update.conflicts(&Access::read(r)));
        assert!(Access::write(r).conflicts(&update));
        let role = Resource::Role(role_hash("bucket:a"));
        assert!(Access::read(Resource::AllRoles).conflicts(&Access::write(role)));
        assert!(!Access::read(Resource::AllRoles).conflicts(&Access::read(role)));
    }
}
