//! Running a handler: each handler call is an atomic part of the current
//! step, a panic becomes its exit reason after `on_crash` (S26), and the
//! [`Ctx`] handle is all a handler sees of the system.

use super::{Signal, Sim, SpawnOpts, Spawned};
use crate::sim::footprint::Resource;
use crate::sim::panic_hook::run_handler;
use crate::sim::pid::{Pid, Ref, TimerRef};
use crate::sim::process::{Control, Process};
use crate::sim::reason::Reason;
use crate::sim::trace::TraceEntry;
use std::fmt::Debug;

impl<M: Debug + 'static> Sim<M> {
    /// Runs one handler of `pid` as an atomic piece of the current step; a
    /// panic becomes the exit reason, after `on_crash` (S26). A process with
    /// a pending exit handles nothing: what reaches it waits in its queues
    /// and is dropped at its death.
    ///
    /// A handler that ends in a death after a signal was queued during it
    /// (a `{:stop, …}` reply, a crash after sending) does not die here: its
    /// exit becomes an event of its own (`begin_exit`), so that whoever got
    /// the signal can act while it is still alive, as on the BEAM. One that
    /// queued nothing dies within its step: nobody could observe it alive in
    /// between, so delaying its death would be indistinguishable from
    /// delaying the handler step itself, and no interleaving is lost.
    pub(super) fn invoke(
        &mut self,
        pid: Pid,
        handler: impl FnOnce(&mut Box<dyn Process<M>>, &mut Ctx<'_, M>) -> Control,
    ) {
        let Some(entry) = self.procs.get_mut(&pid) else {
            return;
        };
        if let Some(footprints) = &self.footprints {
            let mut f = footprints.borrow_mut();
            f.write(Resource::Proc(pid));
            if let Some(client) = entry.client {
                f.client(self.clients[client as usize].1);
            }
        }
        if entry.exiting.is_some() {
            return;
        }
        let Some(mut behaviour) = entry.behaviour.take() else {
            return;
        };
        if let Some(causality) = &mut self.causality {
            causality.touch(pid);
        }
        let sent_before = self.next_send_no;
        let result = run_handler(|| handler(&mut behaviour, &mut Ctx { sim: self, me: pid }));
        let control = match result {
            Ok(control) => control,
            Err(message) => {
                let reason = Reason::Panic(message);
                let _ =
                    run_handler(|| behaviour.on_crash(&mut Ctx { sim: self, me: pid }, &reason));
                Control::Exit(reason)
            }
        };
        let client = match self.procs.get_mut(&pid) {
            Some(entry) => {
                entry.behaviour = Some(behaviour);
                entry.client
            }
            None => None,
        };
        if let Control::Exit(reason) = control {
            if self.next_send_no > sent_before {
                self.begin_exit(pid, reason);
            } else {
                self.die(pid, reason);
            }
        }
        if let Some(client) = client {
            self.refresh_client(client as usize, pid);
        }
    }
}

/// What a handler may do: the process's view of the system during one step.
pub struct Ctx<'a, M> {
    pub(super) sim: &'a mut Sim<M>,
    pub(super) me: Pid,
}

impl<M: Debug + 'static> Ctx<'_, M> {
    /// This process.
    pub fn me(&self) -> Pid {
        self.me
    }

    /// Virtual time, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.sim.now_ms
    }

    /// The number of the step running now (from 1; 0 at setup).
    pub fn step(&self) -> u64 {
        self.sim.steps
    }

    /// Sends a message; to a dead process it is silently dropped (S4).
    pub fn send(&mut self, to: Pid, msg: M) {
        self.sim.send_signal(self.me, to, Signal::Message(msg));
    }

    /// Sends a message to `to` under its alias `alias`: dropped on arrival
    /// unless `to` still has that alias active.
    pub fn send_alias(&mut self, to: Pid, alias: Ref, msg: M) {
        self.sim
            .send_signal(self.me, to, Signal::AliasMessage { alias, msg });
    }

    /// Activates `alias` for this process (`alias/0`, with a ref of ours).
    pub fn alias(&mut self, alias: Ref) {
        if let Some(entry) = self.sim.procs.get_mut(&self.me) {
            entry.aliases.insert(alias);
        }
    }

    /// Deactivates an alias: later messages sent to it are dropped.
    pub fn unalias(&mut self, alias: Ref) {
        if let Some(entry) = self.sim.procs.get_mut(&self.me) {
            entry.aliases.remove(&alias);
        }
    }

    /// Sends an exit signal (S11, S12): `kill` is untrappable, `normal` is
    /// ignored by a process not trapping exits.
    pub fn exit(&mut self, to: Pid, reason: Reason) {
        self.sim.send_signal(
            self.me,
            to,
            Signal::Exit {
                reason,
                linked: false,
            },
        );
    }

    /// Links to `to`; `Err(noproc)` if it is dead and we do not trap exits
    /// (S14; the caller decides whether that crashes it).
    pub fn link(&mut self, to: Pid) -> Result<(), Reason> {
        self.sim.link(self.me, to)
    }

    /// Removes a link, on both sides.
    pub fn unlink(&mut self, to: Pid) {
        let me = self.me;
        let linked = self
            .sim
            .procs
            .get_mut(&me)
            .is_some_and(|e| e.links.remove(&to));
        if let Some(entry) = self.sim.procs.get_mut(&to) {
            entry.links.remove(&me);
        }
        if let Some(causality) = &mut self.sim.causality {
            causality.unlink(me, to);
        }
        self.sim.fp(|f| {
            f.update(Resource::Ties(me));
            f.update(Resource::Ties(to));
        });
        if linked && self.sim.trace.is_some() {
            let (from, to) = (self.sim.name_of(me), self.sim.name_of(to));
            self.sim.trace_push(TraceEntry::Unlink { from, to });
        }
    }

    /// Monitors `target` (S15); a dead target gives `DOWN noproc` (S17).
    pub fn monitor(&mut self, target: Pid) -> Ref {
        self.sim.monitor(self.me, target)
    }

    /// Stops a monitor; with `flush`, also removes its queued `DOWN` (S18).
    pub fn demonitor(&mut self, mref: Ref, flush: bool) {
        self.sim.demonitor(self.me, mref, flush)
    }

    /// S3: first delivers what this process queued to `pid`, then answers.
    pub fn is_alive(&mut self, pid: Pid) -> bool {
        self.sim.is_alive_from(self.me, pid)
    }

    pub fn set_trap_exit(&mut self, trap: bool) {
        if let Some(entry) = self.sim.procs.get_mut(&self.me) {
            entry.trap_exit = trap;
        }
    }

    /// Spawns a process; its `init` runs now, inside this step (S29).
    pub fn spawn(
        &mut self,
        opts: SpawnOpts,
        behaviour: Box<dyn Process<M>>,
    ) -> Result<Spawned, Reason> {
        self.sim.spawn_from(self.me, opts, behaviour)
    }

    /// Starts a timer that fires as an event once nothing else is enabled.
    pub fn start_timer(&mut self, after_ms: u64) -> TimerRef {
        self.sim.start_timer(self.me, after_ms)
    }

    pub fn cancel_timer(&mut self, tref: TimerRef) {
        self.sim.cancel_timer(self.me, tref)
    }

    /// A fresh reference (for call tags).
    pub fn make_ref(&mut self) -> Ref {
        let mref = Ref(self.sim.next_ref);
        self.sim.next_ref += 1;
        mref
    }

    /// Whether tracing is on (skip building notes when it is off).
    pub fn tracing(&self) -> bool {
        self.sim.trace.is_some()
    }

    /// Adds a free-text line to the trace, under this process's name.
    pub fn note(&mut self, text: impl Into<String>) {
        if self.sim.trace.is_some() {
            let pid = self.sim.name_of(self.me);
            self.sim.trace_push(TraceEntry::Note {
                pid,
                text: text.into(),
            });
        }
    }

    /// The logical name of `pid`, alive or dead (see [`Sim::name_of`]).
    pub fn name_of(&self, pid: Pid) -> String {
        self.sim.name_of(pid)
    }
}
