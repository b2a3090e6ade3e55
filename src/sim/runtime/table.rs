//! The process table: spawning a process (its `init` runs inside the
//! spawner's step, S29; a failed `init` is a death), logical names
//! (`registry`, `<role>#<g>`, `<parent>/<n>`, `client<k>`) and roles, the
//! names by which faults and checkers find a process.

use super::index::{SmallMap, SmallSet};
use super::{Ctx, Entry, Naming, Sim, SpawnOpts, Spawned, Tapped};
use crate::sim::footprint::{Resource, role_hash};
use crate::sim::key::Root;
use crate::sim::panic_hook::run_handler;
use crate::sim::pid::Pid;
use crate::sim::process::Process;
use crate::sim::reason::Reason;
use crate::sim::trace::TraceEntry;
use std::collections::BTreeSet;
use std::fmt::Debug;

impl<M: Debug + 'static> Sim<M> {
    /// Spawns a process at setup (its parent is the harness).
    pub fn spawn(
        &mut self,
        opts: SpawnOpts,
        behaviour: Box<dyn Process<M>>,
    ) -> Result<Spawned, Reason> {
        self.begin_setup();
        self.spawn_from(Pid::HARNESS, opts, behaviour)
    }

    /// Spawns a client driver, named `client<stable_id>` and keyed by
    /// `stable_id` in event keys. A case numbers its clients in order of
    /// first appearance, so this is docs/design.md's `client<k>`; keeping the id
    /// (not the position) keeps names and timer keys stable when the
    /// shrinker deletes a client. Clients act in spawn order under `fifo`.
    pub fn spawn_client(&mut self, stable_id: u32, behaviour: Box<dyn Process<M>>) -> Pid {
        let name = format!("client{stable_id}");
        let opts = SpawnOpts {
            naming: Naming::Exact(name),
            role: None,
            link: false,
            monitor: false,
        };
        self.begin_setup();
        let pid = match self.spawn_from(Pid::HARNESS, opts, behaviour) {
            Ok(spawned) => spawned.pid,
            // A client whose init failed is dead; it stays in the client
            // list (and never acts) so that numbering is unchanged.
            Err(_) => Pid(self.next_pid - 1),
        };
        let client = self.clients.len();
        self.clients.push((pid, stable_id));
        if let Some(entry) = self.procs.get_mut(&pid) {
            entry.client = Some(u32::try_from(client).expect("fewer than 2^32 clients"));
        }
        self.refresh_client(client, pid);
        pid
    }

    pub(super) fn begin_setup(&mut self) {
        if self.keyed && self.current_key.is_none() {
            let setup = self.keys.root(Root::Setup);
            self.keys.retain(setup);
            self.current_key = Some(setup);
        }
    }

    pub(super) fn spawn_from(
        &mut self,
        parent: Pid,
        opts: SpawnOpts,
        mut behaviour: Box<dyn Process<M>>,
    ) -> Result<Spawned, Reason> {
        let pid = Pid(self.next_pid);
        self.next_pid += 1;
        let name = match opts.naming {
            Naming::Exact(name) => name,
            Naming::Role(role) => {
                let generation = self.role_generations.entry(role.clone()).or_insert(0);
                let name = format!("{role}#{generation}");
                *generation += 1;
                name
            }
            Naming::Child => match self.procs.get_mut(&parent) {
                Some(entry) => {
                    let n = entry.children_spawned;
                    entry.children_spawned += 1;
                    format!("{}/{n}", entry.name)
                }
                None => {
                    let n = self.harness_children;
                    self.harness_children += 1;
                    format!("harness/{n}")
                }
            },
        };
        if let Some(trace) = &mut self.trace {
            trace.pid_names.insert(pid.0, name.clone());
            let parent_name = self
                .procs
                .get(&parent)
                .map(|e| e.name.clone())
                .unwrap_or_else(|| "harness".into());
            trace.entries.push(TraceEntry::Spawn {
                parent: parent_name,
                child: name.clone(),
                linked: opts.link,
            });
        }
        self.procs.insert(
            pid,
            Box::new(Entry {
                name,
                behaviour: None,
                links: BTreeSet::new(),
                watchers: SmallMap::default(),
                watching: SmallMap::default(),
                trap_exit: false,
                children_spawned: 0,
                timers_started: 0,
                timers: SmallSet::default(),
                senders: BTreeSet::new(),
                receivers: BTreeSet::new(),
                role: opts.role.clone(),
                aliases: SmallSet::default(),
                exiting: None,
                client: None,
            }),
        );
        if let Some(causality) = &mut self.causality {
            causality.spawn(pid);
        }
        if let Some(footprints) = &self.footprints {
            let mut f = footprints.borrow_mut();
            f.write(Resource::Spawn);
            f.write(Resource::Alive(pid));
            f.write(Resource::Proc(pid));
            f.write(Resource::Ties(pid));
            if let Some(role) = &opts.role {
                f.write(Resource::Role(role_hash(role)));
            }
        }
        if self.taps.is_some() {
            let name = self
                .procs
                .get(&pid)
                .map(|e| e.name.clone())
                .unwrap_or_default();
            self.tapped.push(Tapped::Spawned {
                pid,
                name,
                role: opts.role.clone(),
            });
        }
        if let Some(role) = opts.role {
            let old = self.fault_target(&role);
            self.roles.entry(role.clone()).or_default().push(pid);
            self.role_changed(&role, old);
        }
        if opts.link && self.procs.contains_key(&parent) {
            // The child was just inserted, so linking cannot fail.
            let _ = self.link(parent, pid);
        }
        let mref = if opts.monitor && self.procs.contains_key(&parent) {
            Some(self.monitor(parent, pid))
        } else {
            None
        };
        let result = run_handler(|| behaviour.init(&mut Ctx { sim: self, me: pid }));
        let failure = match result {
            Ok(Ok(())) => None,
            Ok(Err(reason)) => Some(reason),
            Err(message) => Some(Reason::Panic(message)),
        };
        if let Some(entry) = self.procs.get_mut(&pid) {
            entry.behaviour = Some(behaviour);
        }
        match failure {
            None => Ok(Spawned { pid, mref }),
            Some(reason) => {
                self.die(pid, reason.clone());
                Err(reason)
            }
        }
    }

    pub(super) fn fault_target(&self, role: &str) -> Option<Pid> {
        self.roles.get(role).and_then(|pids| pids.last().copied())
    }
}
