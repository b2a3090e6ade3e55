//! The enabled events, kept incrementally: which clients can act (read
//! once after each of their handlers, never polled), which queue heads can
//! be delivered, which faults have a live target, and the pending exits.
//! Every change is told to an [`Incremental`] choice source, so that a
//! step costs O(log n) whatever the number of processes, clients or
//! queues, and idle or blocked clients cost nothing per step.
//!
//! The `fifo` order over these sets is the candidates' order (pending exits
//! oldest first, clients by number, deliveries by send number, faults by
//! plan index, then the timer); [`Rank`] names a place in it.

use super::index::{Fenwick, OrderedMap};
use super::{Event, Signal, Sim};
use crate::sim::choice::{Candidate, CandidateKind, Change, Enabled, Rank};
use crate::sim::key::{KeyArena, KeyId, Root};
use crate::sim::pid::Pid;
use crate::sim::process::ClientState;
use std::collections::BTreeMap;
use std::fmt::Debug;

pub(super) const GROUP_EXIT: u8 = 0;
pub(super) const GROUP_CLIENT: u8 = 1;
pub(super) const GROUP_DELIVER: u8 = 2;
pub(super) const GROUP_FAULT: u8 = 3;
pub(super) const GROUP_TIMER: u8 = 4;

/// A client's enabled event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ClientReady {
    pub(super) cmd: u32,
    pub(super) needs_quiet: bool,
    /// Its key, when the run is keyed.
    pub(super) key: Option<KeyId>,
}

/// The enabled sets (see the module doc).
pub(super) struct EnabledSets {
    /// Per client number: its enabled event, if any.
    pub(super) clients: Vec<Option<ClientReady>>,
    /// Clients that can act now.
    pub(super) ready: Fenwick,
    /// Clients at `SETTLE`: they can act once the system is quiet.
    pub(super) ready_quiet: Fenwick,
    /// Deliverable queue heads: send number -> (from, to, key).
    /// Ranked only for a source that picks by position (`nth`).
    pub(super) deliveries: OrderedMap<u64, (Pid, Pid, Option<KeyId>)>,
    /// Faults not yet fired whose target role has a live member.
    pub(super) faults: Fenwick,
    /// Unfired faults by target role.
    pub(super) fault_roles: BTreeMap<String, Vec<usize>>,
    /// Each fault's key, when the run is keyed.
    pub(super) fault_keys: Vec<Option<KeyId>>,
    /// The timer candidate an incremental source was last told of.
    pub(super) timer_shown: Option<Candidate>,
}

impl EnabledSets {
    pub(super) fn new(ranked: bool) -> EnabledSets {
        EnabledSets {
            clients: Vec::new(),
            ready: Fenwick::default(),
            ready_quiet: Fenwick::default(),
            deliveries: OrderedMap::new(ranked),
            faults: Fenwick::default(),
            fault_roles: BTreeMap::new(),
            fault_keys: Vec::new(),
            timer_shown: None,
        }
    }
}

impl<M: Debug + 'static> Sim<M> {
    /// Tells the incremental source, if there is one and the run has
    /// started, of one change.
    fn notify(&mut self, candidate: Candidate, rank: Rank, quiet_only: bool, enabled: bool) {
        if !self.incremental || !self.prepared {
            return;
        }
        if let Some(source) = self.chooser.as_mut().and_then(|c| c.incremental()) {
            source.update(&Change {
                candidate,
                rank,
                quiet_only,
                enabled,
            });
        }
    }

    fn key_or_setup(&self, key: Option<KeyId>) -> KeyId {
        key.or(self.setup_key).unwrap_or(KeyId(0))
    }

    /// Re-reads the state of client number `client` (pid `pid`): after one
    /// of its handlers ran, it was spawned, it died or began to exit. A
    /// client's state changes only in its own handlers, so this is the
    /// only time it is read.
    pub(super) fn refresh_client(&mut self, client: usize, pid: Pid) {
        let state = match self.procs.get(&pid) {
            Some(entry) if entry.exiting.is_none() => {
                self.work.clients_examined += 1;
                entry.behaviour.as_ref().map(|b| b.client_state())
            }
            _ => None,
        };
        let ready = match state {
            Some(ClientState::Ready { cmd, needs_quiet }) => Some((cmd, needs_quiet)),
            _ => None,
        };
        self.set_client(client, pid, ready);
    }

    /// The client ran or is about to run: its event is no longer enabled
    /// (it may come back, as a new candidate, after its handler).
    pub(super) fn set_client(&mut self, client: usize, pid: Pid, ready: Option<(u32, bool)>) {
        if self.enabled.clients.len() <= client {
            self.enabled.clients.resize(client + 1, None);
            // Equal capacities: the two are searched together.
            self.enabled.ready.grow(client + 1);
            self.enabled.ready_quiet.grow(client + 1);
        }
        let old = self.enabled.clients[client];
        if old.map(|o| (o.cmd, o.needs_quiet)) == ready {
            return;
        }
        let rank = Rank {
            group: GROUP_CLIENT,
            within: client as u64,
        };
        if let Some(old) = old {
            self.release_key(old.key);
            self.enabled.clients[client] = None;
            self.enabled.ready.set(client, false);
            self.enabled.ready_quiet.set(client, false);
            let candidate = Candidate {
                key: self.key_or_setup(old.key),
                actor: pid,
                kind: CandidateKind::Client,
            };
            self.notify(candidate, rank, old.needs_quiet, false);
        }
        if let Some((cmd, needs_quiet)) = ready {
            let key = self.keyed.then(|| {
                let stable_id = self.clients[client].1;
                let key = self.keys.root(Root::Client {
                    client: stable_id,
                    cmd,
                });
                self.keys.retain(key);
                key
            });
            self.enabled.clients[client] = Some(ClientReady {
                cmd,
                needs_quiet,
                key,
            });
            if needs_quiet {
                self.enabled.ready_quiet.set(client, true);
            } else {
                self.enabled.ready.set(client, true);
            }
            let candidate = Candidate {
                key: self.key_or_setup(key),
                actor: pid,
                kind: CandidateKind::Client,
            };
            self.notify(candidate, rank, needs_quiet, true);
        }
    }

    /// The head of (from, to) is now the signal with `send_no` (keyed
    /// `key`, an exit signal when `exit`): enable its delivery if it can
    /// be delivered (see [`Sim::deliverable`]).
    pub(super) fn delivery_on(
        &mut self,
        send_no: u64,
        from: Pid,
        to: Pid,
        key: Option<KeyId>,
        exit: bool,
    ) {
        let exiting = self.procs.get(&to).is_some_and(|e| e.exiting.is_some());
        if exiting && !exit {
            return;
        }
        self.enabled.deliveries.insert(send_no, (from, to, key));
        let candidate = Candidate {
            key: self.key_or_setup(key),
            actor: to,
            kind: CandidateKind::Deliver { from },
        };
        let rank = Rank {
            group: GROUP_DELIVER,
            within: send_no,
        };
        self.notify(candidate, rank, false, true);
    }

    /// The head with `send_no` left its queue or can no longer be delivered.
    pub(super) fn delivery_off(&mut self, send_no: u64) {
        if let Some((from, to, key)) = self.enabled.deliveries.remove(&send_no) {
            let candidate = Candidate {
                key: self.key_or_setup(key),
                actor: to,
                kind: CandidateKind::Deliver { from },
            };
            let rank = Rank {
                group: GROUP_DELIVER,
                within: send_no,
            };
            self.notify(candidate, rank, false, false);
        }
    }

    /// `pid` began its pending exit: of what is queued to it, only exit
    /// signals can still be delivered.
    pub(super) fn withhold_deliveries_to(&mut self, pid: Pid) {
        let Some(entry) = self.procs.get(&pid) else {
            return;
        };
        let withheld: Vec<u64> = entry
            .senders
            .iter()
            .filter_map(|&sender| self.queues.get(&(sender, pid))?.signals.front())
            .filter(|head| !matches!(head.signal, Signal::Exit { .. }))
            .map(|head| head.send_no)
            .collect();
        for send_no in withheld {
            self.delivery_off(send_no);
        }
    }

    pub(super) fn exit_candidate(
        &self,
        pid: Pid,
        key: Option<KeyId>,
        seq: u64,
    ) -> (Candidate, Rank) {
        (
            Candidate {
                key: self.key_or_setup(key),
                actor: pid,
                kind: CandidateKind::Exit,
            },
            Rank {
                group: GROUP_EXIT,
                within: seq,
            },
        )
    }

    pub(super) fn exit_on(&mut self, pid: Pid, key: Option<KeyId>) {
        let seq = self.next_exit_seq;
        self.next_exit_seq += 1;
        if let Some(key) = key {
            self.keys.retain(key);
        }
        self.exits.push((pid, key, seq));
        let (candidate, rank) = self.exit_candidate(pid, key, seq);
        self.notify(candidate, rank, false, true);
    }

    pub(super) fn exit_off(&mut self, pid: Pid) {
        let Some(position) = self.exits.iter().position(|&(p, _, _)| p == pid) else {
            return;
        };
        let (pid, key, seq) = self.exits.remove(position);
        let (candidate, rank) = self.exit_candidate(pid, key, seq);
        self.notify(candidate, rank, false, false);
        self.release_key(key);
    }

    pub(super) fn fault_candidate(&self, index: usize, target: Pid) -> (Candidate, Rank) {
        (
            Candidate {
                key: self.key_or_setup(self.enabled.fault_keys[index]),
                actor: target,
                kind: CandidateKind::Fault,
            },
            Rank {
                group: GROUP_FAULT,
                within: index as u64,
            },
        )
    }

    /// A fault was added to the plan: enabled if its role has a member.
    pub(super) fn fault_added(&mut self, index: usize) {
        let role = self.faults[index].fault.target.clone();
        let key = self.keyed.then(|| {
            let key = self.keys.root(Root::Fault {
                fault: self.faults[index].fault.id,
            });
            // Faults come and go with their targets: one key for the run.
            self.keys.retain(key);
            key
        });
        self.enabled.fault_keys.push(key);
        self.enabled
            .fault_roles
            .entry(role.clone())
            .or_default()
            .push(index);
        if let Some(target) = self.fault_target(&role) {
            self.enabled.faults.set(index, true);
            let (candidate, rank) = self.fault_candidate(index, target);
            self.notify(candidate, rank, false, true);
        }
    }

    /// A fault fired: it is never enabled again.
    pub(super) fn fault_fired(&mut self, index: usize, target: Option<Pid>) {
        let role = self.faults[index].fault.target.clone();
        if let Some(indices) = self.enabled.fault_roles.get_mut(&role) {
            indices.retain(|&i| i != index);
        }
        if self.enabled.faults.set(index, false)
            && let Some(target) = target
        {
            let (candidate, rank) = self.fault_candidate(index, target);
            self.notify(candidate, rank, false, false);
        }
    }

    /// `role`'s most recent live member changed from `old` to its current
    /// one: faults aimed at it follow (their actor is their target).
    pub(super) fn role_changed(&mut self, role: &str, old: Option<Pid>) {
        let new = self.fault_target(role);
        if new == old {
            return;
        }
        let Some(indices) = self.enabled.fault_roles.get(role).cloned() else {
            return;
        };
        for index in indices {
            if let Some(old) = old {
                self.enabled.faults.set(index, false);
                let (candidate, rank) = self.fault_candidate(index, old);
                self.notify(candidate, rank, false, false);
            }
            if let Some(new) = new {
                self.enabled.faults.set(index, true);
                let (candidate, rank) = self.fault_candidate(index, new);
                self.notify(candidate, rank, false, true);
            }
        }
    }

    /// Whether the clients at `SETTLE` can act: nothing queued, no exit
    /// pending (under `fifo` exits run first, so only the queues matter).
    pub(super) fn quiet(&self) -> bool {
        self.busy == 0 && self.exits.is_empty()
    }

    /// Enabled events other than the timer.
    pub(super) fn enabled_len(&self, quiet: bool) -> usize {
        let sets = &self.enabled;
        self.exits.len()
            + sets.ready.len()
            + if quiet { sets.ready_quiet.len() } else { 0 }
            + sets.deliveries.len()
            + sets.faults.len()
    }

    /// The timer's candidate, when it is enabled: only when nothing else is.
    pub(super) fn timer_candidate(&mut self, quiet: bool) -> Option<Candidate> {
        if self.enabled_len(quiet) > 0 {
            return None;
        }
        let timer = self.timers.values().next()?;
        let (owner, n, kept) = (timer.owner, timer.n, timer.key);
        let key = match kept {
            Some(key) => key,
            None => {
                let key = self.timer_key(owner, n);
                self.keys.retain(key);
                if let Some(timer) = self.timers.first_mut() {
                    timer.key = Some(key);
                }
                key
            }
        };
        Some(Candidate {
            key,
            actor: owner,
            kind: CandidateKind::Timer,
        })
    }

    /// Shows an incremental source the timer candidate as it now stands.
    pub(super) fn show_timer(&mut self, timer: Option<Candidate>) {
        let shown = self.enabled.timer_shown;
        if shown == timer {
            return;
        }
        let rank = Rank {
            group: GROUP_TIMER,
            within: 0,
        };
        if let Some(old) = shown {
            self.notify(old, rank, false, false);
        }
        self.enabled.timer_shown = timer;
        if let Some(new) = timer {
            self.notify(new, rank, false, true);
        }
    }

    /// Tells a source that starts now of everything already enabled, in
    /// `fifo` order.
    pub(super) fn show_all(&mut self) {
        let all = self.view(true, None).list();
        let quiet_only: Vec<bool> = all
            .iter()
            .map(|&(_, rank)| {
                rank.group == GROUP_CLIENT
                    && self.enabled.clients[rank.within as usize].is_some_and(|c| c.needs_quiet)
            })
            .collect();
        for ((candidate, rank), quiet_only) in all.into_iter().zip(quiet_only) {
            self.notify(candidate, rank, quiet_only, true);
        }
    }

    /// Whether the enabled sets equal the enabled events computed from
    /// scratch (every client's state read, every queue head and fault
    /// checked): a harness invariant, for tests. Call it between steps.
    pub fn enabled_consistent(&self) -> bool {
        let quiet = self.quiet();
        let mut expected: Vec<(u8, u64)> = self
            .exits
            .iter()
            .map(|&(_, _, seq)| (GROUP_EXIT, seq))
            .collect();
        for (client, &(pid, _)) in self.clients.iter().enumerate() {
            let state = self
                .procs
                .get(&pid)
                .filter(|e| e.exiting.is_none())
                .and_then(|e| e.behaviour.as_ref())
                .map(|b| b.client_state());
            if let Some(ClientState::Ready { needs_quiet, .. }) = state
                && (quiet || !needs_quiet)
            {
                expected.push((GROUP_CLIENT, client as u64));
            }
        }
        let mut heads: Vec<(u64, Pid, Pid)> = self
            .queues
            .iter()
            .filter_map(|(&(from, to), q)| Some((q.signals.front()?.send_no, from, to)))
            .collect();
        heads.sort_unstable();
        for (send_no, from, to) in heads {
            if self.deliverable(from, to) {
                expected.push((GROUP_DELIVER, send_no));
            }
        }
        for (index, slot) in self.faults.iter().enumerate() {
            if !slot.fired && self.fault_target(&slot.fault.target).is_some() {
                expected.push((GROUP_FAULT, index as u64));
            }
        }
        let actual: Vec<(u8, u64)> = self
            .view(quiet, None)
            .list()
            .iter()
            .map(|&(_, rank)| (rank.group, rank.within))
            .collect();
        let cmds_agree = self.clients.iter().enumerate().all(|(client, &(pid, _))| {
            let state = self
                .procs
                .get(&pid)
                .filter(|e| e.exiting.is_none())
                .and_then(|e| e.behaviour.as_ref())
                .map(|b| b.client_state());
            let kept = self.enabled.clients.get(client).copied().flatten();
            match state {
                Some(ClientState::Ready { cmd, needs_quiet }) => {
                    kept.map(|k| (k.cmd, k.needs_quiet)) == Some((cmd, needs_quiet))
                }
                _ => kept.is_none(),
            }
        });
        actual == expected && cmds_agree
    }

    pub(super) fn view(&self, quiet: bool, timer: Option<Candidate>) -> View<'_, M> {
        View {
            sim: self,
            quiet,
            timer,
        }
    }

    /// The event a candidate of this rank stands for.
    pub(super) fn event_of(&self, candidate: &Candidate, rank: Rank) -> Event {
        match rank.group {
            GROUP_EXIT => Event::Exit {
                pid: candidate.actor,
            },
            GROUP_CLIENT => {
                let client = rank.within as usize;
                let cmd = self.enabled.clients[client].map_or(0, |c| c.cmd);
                Event::Client {
                    pid: candidate.actor,
                    client,
                    cmd,
                }
            }
            GROUP_DELIVER => match candidate.kind {
                CandidateKind::Deliver { from } => Event::Deliver {
                    from,
                    to: candidate.actor,
                },
                _ => Event::Timer,
            },
            GROUP_FAULT => Event::Fault(rank.within as usize),
            _ => Event::Timer,
        }
    }
}

/// The enabled set at one step, as a source sees it.
pub(super) struct View<'a, M> {
    sim: &'a Sim<M>,
    quiet: bool,
    timer: Option<Candidate>,
}

impl<M: Debug + 'static> View<'_, M> {
    /// Every candidate, in order: for a source that reads the whole list.
    /// Includes the clients at `SETTLE` only when quiet (`all` shows them
    /// regardless, for a source starting up).
    pub(super) fn list(&self) -> Vec<(Candidate, Rank)> {
        let sim = self.sim;
        let sets = &sim.enabled;
        let mut out = Vec::with_capacity(self.len());
        for &(pid, key, seq) in &sim.exits {
            out.push(sim.exit_candidate(pid, key, seq));
        }
        for (client, slot) in sets.clients.iter().enumerate() {
            if let Some(ready) = slot
                && (self.quiet || !ready.needs_quiet)
            {
                out.push(self.client_candidate(client, ready));
            }
        }
        for (send_no, (from, to, key)) in sets.deliveries.iter() {
            out.push(self.delivery_candidate(send_no, from, to, key));
        }
        for index in 0..sim.faults.len() {
            if sets.faults.contains(index) {
                out.push(self.fault(index));
            }
        }
        if let Some(timer) = self.timer {
            out.push((timer, timer_rank()));
        }
        out
    }

    fn client_candidate(&self, client: usize, ready: &ClientReady) -> (Candidate, Rank) {
        (
            Candidate {
                key: self.sim.key_or_setup(ready.key),
                actor: self.sim.clients[client].0,
                kind: CandidateKind::Client,
            },
            Rank {
                group: GROUP_CLIENT,
                within: client as u64,
            },
        )
    }

    fn delivery_candidate(
        &self,
        send_no: u64,
        from: Pid,
        to: Pid,
        key: Option<KeyId>,
    ) -> (Candidate, Rank) {
        (
            Candidate {
                key: self.sim.key_or_setup(key),
                actor: to,
                kind: CandidateKind::Deliver { from },
            },
            Rank {
                group: GROUP_DELIVER,
                within: send_no,
            },
        )
    }

    fn fault(&self, index: usize) -> (Candidate, Rank) {
        let target = self
            .sim
            .fault_target(&self.sim.faults[index].fault.target)
            .unwrap_or(Pid::HARNESS);
        self.sim.fault_candidate(index, target)
    }
}

fn timer_rank() -> Rank {
    Rank {
        group: GROUP_TIMER,
        within: 0,
    }
}

impl<M: Debug + 'static> Enabled for View<'_, M> {
    fn step(&self) -> u64 {
        self.sim.steps
    }

    fn keys(&self) -> &KeyArena {
        &self.sim.keys
    }

    fn quiet(&self) -> bool {
        self.quiet
    }

    fn len(&self) -> usize {
        self.sim.enabled_len(self.quiet) + usize::from(self.timer.is_some())
    }

    fn nth(&self, n: usize) -> (Candidate, Rank) {
        let sim = self.sim;
        let sets = &sim.enabled;
        let mut n = n;
        if let Some(&(pid, key, seq)) = sim.exits.get(n) {
            return sim.exit_candidate(pid, key, seq);
        }
        n -= sim.exits.len();
        let clients = sets.ready.len()
            + if self.quiet {
                sets.ready_quiet.len()
            } else {
                0
            };
        if n < clients {
            let client = sets
                .ready
                .nth_with(&sets.ready_quiet, self.quiet, n)
                .expect("n is below the count");
            let ready = sets.clients[client]
                .as_ref()
                .expect("an indexed client is ready");
            return self.client_candidate(client, ready);
        }
        n -= clients;
        if let Some((send_no, (from, to, key))) = sets.deliveries.nth(n) {
            return self.delivery_candidate(send_no, from, to, key);
        }
        n -= sets.deliveries.len();
        if let Some(index) = sets.faults.nth(n) {
            return self.fault(index);
        }
        let timer = self.timer.expect("n is below the count");
        (timer, timer_rank())
    }
}
