//! The dead-lookup race as a small transition system, written once and
//! driven by two peers: stateright explores it breadth first, proptest
//! walks it with generated choices.
//!
//! What is modelled, as the BEAM does it:
//! - one registry, the clients of a scenario, and the buckets the registry
//!   starts; a bucket is a slot reserved up front (a model checker wants a
//!   fixed set of processes) that comes alive when the registry creates it;
//! - signals travel on one FIFO queue per (sender, receiver) pair, with no
//!   order across pairs;
//! - the registry monitors every bucket it starts: a bucket's death queues
//!   a `DOWN` on the (bucket, registry) pair, and the registry forgets the
//!   name when it handles it;
//! - a bucket dies by a kill fault (any live bucket, at any step, up to the
//!   scenario's budget) or by an untrappable `exit(pid, :kill)` sent by a
//!   client on the (client, bucket) pair; a signal to a dead process is
//!   dropped when its turn comes;
//! - `CREATE` is a cast; `LOOKUP` is a call, and the client waits for the
//!   reply before its next command.
//!
//! The property, checked inside the registry's reply step (not later, at
//! the client, where a kill landing after the reply would blame a correct
//! registry): a lookup reply never names a process that is dead at that
//! step. The flawed registry answers from its map; the fixed one asks
//! `is_alive` first and answers `:error` for a dead bucket.
//!
//! Not modelled: links, `trap_exit`, timers, call timeouts, the registry's
//! own death.

use std::collections::{BTreeMap, VecDeque};

/// A process: [`REGISTRY`], then the clients (1..=C), then bucket slots.
pub type Pid = u8;

/// A bucket name (`a` is 0, `b` is 1).
pub type Name = u8;

/// The registry's pid.
pub const REGISTRY: Pid = 0;

/// One line of a client's script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    /// A cast to the registry.
    Create(Name),
    /// A call to the registry; the client waits for its reply.
    Lookup(Name),
    /// `exit(pid, :kill)` to the bucket the client's last successful lookup
    /// returned (nothing when it has none).
    KillLast,
}

/// What travels on a queue.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    Create(Name),
    Lookup(Name),
    /// The registry's answer: `{:ok, pid}` or `:error`.
    Reply(Option<Pid>),
    /// A monitored bucket died.
    Down(Pid),
    /// The untrappable exit signal.
    Kill,
}

/// A bucket slot's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Life {
    Unborn,
    Alive,
    Dead,
}

/// A client's progress through its script.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Client {
    /// The index of its next command.
    pub next: u8,
    /// Waiting for a lookup's reply.
    pub awaiting: bool,
    /// The bucket its last successful lookup returned.
    pub last_bucket: Option<Pid>,
}

/// The whole system at one point: what a model checker stores and
/// deduplicates.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct World {
    /// The registry's map (one monitor per entry, implicitly).
    pub names: BTreeMap<Name, Pid>,
    /// Bucket slots handed out so far.
    pub started: u8,
    pub buckets: Vec<Life>,
    pub clients: Vec<Client>,
    /// Non-empty queues only, so that equal worlds compare equal.
    pub queues: BTreeMap<(Pid, Pid), VecDeque<Signal>>,
    pub kills_used: u8,
    /// Set when a lookup reply named a dead process at its reply step.
    pub dead_lookup: bool,
}

/// One step of the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// Client `i` (0-based) runs its next command.
    Act(u8),
    /// The head of the (`from`, `to`) queue is handled by `to`.
    Deliver { from: Pid, to: Pid },
    /// A kill fault on a live bucket.
    Kill(Pid),
}

/// Client scripts, a kill-fault budget and which registry answers.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub clients: Vec<Vec<Command>>,
    pub kill_faults: u8,
    /// The fixed registry checks `is_alive` before it answers.
    pub fixed: bool,
}

/// Every scenario [`Scenario::named`] knows, in the order the figures use.
pub const SCENARIOS: [&str; 8] = ["chapter", "2x3k", "1x2", "1x4", "2x3", "2x4", "3x3", "3x4"];

impl Scenario {
    /// The named scenario (see [`SCENARIOS`]), on the flawed or the fixed
    /// registry; `None` for an unknown name.
    ///
    /// - `chapter`: one client creates `a`, looks it up, kills the bucket it
    ///   got, and looks it up again (the guide's test as a script);
    /// - `2x3k`: two clients; the first kills the bucket it looked up, the
    ///   second looks the name up twice;
    /// - `CxN` (`1x2` … `3x4`): C clients of N commands over `a` and `b`,
    ///   and up to one (`1xN`) or two kill faults.
    pub fn named(name: &str, fixed: bool) -> Option<Scenario> {
        use Command::{Create as C, KillLast as K, Lookup as L};
        let (a, b) = (0, 1);
        let two_by_three = || vec![vec![C(a), L(a), C(b)], vec![C(b), L(b), L(a)]];
        let two_by_four = || vec![vec![C(a), L(a), C(b), L(b)], vec![C(b), L(b), L(a), C(a)]];
        let (clients, kill_faults) = match name {
            "chapter" => (vec![vec![C(a), L(a), K, L(a)]], 0),
            "2x3k" => (vec![vec![C(a), L(a), K], vec![C(a), L(a), L(a)]], 0),
            "1x2" => (vec![vec![C(a), L(a)]], 1),
            "1x4" => (vec![vec![C(a), L(a), L(a), L(a)]], 1),
            "2x3" => (two_by_three(), 2),
            "2x4" => (two_by_four(), 2),
            "3x3" => {
                let mut clients = two_by_three();
                clients.push(vec![L(a), C(a), L(b)]);
                (clients, 2)
            }
            "3x4" => {
                let mut clients = two_by_four();
                clients.push(vec![L(a), C(a), L(b), L(a)]);
                (clients, 2)
            }
            _ => return None,
        };
        Some(Scenario {
            clients,
            kill_faults,
            fixed,
        })
    }

    fn first_bucket(&self) -> Pid {
        1 + self.clients.len() as Pid
    }

    fn slot(&self, bucket: Pid) -> usize {
        usize::from(bucket - self.first_bucket())
    }

    /// The world before any step: nobody has acted, no bucket exists. One
    /// slot per `CREATE` is enough: a name is started again only after its
    /// bucket died and the registry handled the `DOWN`.
    pub fn start(&self) -> World {
        let creates = self
            .clients
            .iter()
            .flatten()
            .filter(|command| matches!(command, Command::Create(_)))
            .count();
        World {
            names: BTreeMap::new(),
            started: 0,
            buckets: vec![Life::Unborn; creates],
            clients: vec![
                Client {
                    next: 0,
                    awaiting: false,
                    last_bucket: None,
                };
                self.clients.len()
            ],
            queues: BTreeMap::new(),
            kills_used: 0,
            dead_lookup: false,
        }
    }

    fn alive(&self, world: &World, pid: Pid) -> bool {
        pid < self.first_bucket() || world.buckets[self.slot(pid)] == Life::Alive
    }

    /// Appends the events enabled in `world` to `out`, always in the same
    /// order: deliveries by (sender, receiver), then clients, then kills.
    pub fn enabled(&self, world: &World, out: &mut Vec<Event>) {
        out.extend(
            world
                .queues
                .keys()
                .map(|&(from, to)| Event::Deliver { from, to }),
        );
        for (i, client) in world.clients.iter().enumerate() {
            if !client.awaiting && usize::from(client.next) < self.clients[i].len() {
                out.push(Event::Act(i as u8));
            }
        }
        if world.kills_used < self.kill_faults {
            for (slot, life) in world.buckets.iter().enumerate() {
                if *life == Life::Alive {
                    out.push(Event::Kill(self.first_bucket() + slot as Pid));
                }
            }
        }
    }

    /// The world after `event` (which must be enabled in `world`).
    pub fn next(&self, world: &World, event: Event) -> World {
        let mut next = world.clone();
        self.apply(&mut next, event);
        next
    }

    /// Runs `event` (which must be enabled) on `world` in place.
    pub fn apply(&self, world: &mut World, event: Event) {
        match event {
            Event::Act(i) => self.act(world, usize::from(i)),
            Event::Kill(bucket) => {
                world.kills_used += 1;
                self.die(world, bucket);
            }
            Event::Deliver { from, to } => {
                let queue = world
                    .queues
                    .get_mut(&(from, to))
                    .expect("a delivery needs a queued signal");
                let signal = queue.pop_front().expect("queues kept are not empty");
                if queue.is_empty() {
                    world.queues.remove(&(from, to));
                }
                // A signal whose receiver died meanwhile is dropped.
                if self.alive(world, to) {
                    self.handle(world, from, to, signal);
                }
            }
        }
    }

    fn act(&self, world: &mut World, i: usize) {
        let me = 1 + i as Pid;
        let client = &mut world.clients[i];
        let command = self.clients[i][usize::from(client.next)];
        client.next += 1;
        match command {
            Command::Create(name) => send(world, me, REGISTRY, Signal::Create(name)),
            Command::Lookup(name) => {
                client.awaiting = true;
                send(world, me, REGISTRY, Signal::Lookup(name));
            }
            Command::KillLast => {
                if let Some(bucket) = client.last_bucket {
                    send(world, me, bucket, Signal::Kill);
                }
            }
        }
    }

    fn handle(&self, world: &mut World, from: Pid, to: Pid, signal: Signal) {
        if to == REGISTRY {
            self.registry(world, from, signal);
        } else if to >= self.first_bucket() {
            if signal == Signal::Kill {
                self.die(world, to);
            }
        } else if let Signal::Reply(answer) = signal {
            let client = &mut world.clients[usize::from(to - 1)];
            client.awaiting = false;
            if answer.is_some() {
                client.last_bucket = answer;
            }
        }
    }

    fn die(&self, world: &mut World, bucket: Pid) {
        let slot = self.slot(bucket);
        world.buckets[slot] = Life::Dead;
        // The registry's monitor: DOWN on the (bucket, registry) pair.
        send(world, bucket, REGISTRY, Signal::Down(bucket));
    }

    fn registry(&self, world: &mut World, from: Pid, signal: Signal) {
        match signal {
            Signal::Create(name) => {
                if !world.names.contains_key(&name) {
                    let bucket = self.first_bucket() + world.started;
                    world.started += 1;
                    let slot = self.slot(bucket);
                    world.buckets[slot] = Life::Alive;
                    world.names.insert(name, bucket);
                }
            }
            Signal::Lookup(name) => {
                let mut answer = world.names.get(&name).copied();
                if self.fixed && answer.is_some_and(|bucket| !self.alive(world, bucket)) {
                    answer = None;
                }
                // The property, at the reply step itself.
                if answer.is_some_and(|bucket| !self.alive(world, bucket)) {
                    world.dead_lookup = true;
                }
                send(world, REGISTRY, from, Signal::Reply(answer));
            }
            Signal::Down(bucket) => world.names.retain(|_, pid| *pid != bucket),
            Signal::Reply(_) | Signal::Kill => {}
        }
    }

    /// Plays the scenario from the start, taking at each step the enabled
    /// event `choices[i] % enabled` (0 once the choices run out), until the
    /// property breaks or nothing is enabled. Returns whether it broke and
    /// the number of events run.
    pub fn play(&self, choices: &[u32]) -> (bool, usize) {
        let mut world = self.start();
        let mut enabled = Vec::new();
        for steps in 0.. {
            enabled.clear();
            self.enabled(&world, &mut enabled);
            if enabled.is_empty() {
                return (false, steps);
            }
            let pick = choices
                .get(steps)
                .map_or(0, |&c| c as usize % enabled.len());
            self.apply(&mut world, enabled[pick]);
            if world.dead_lookup {
                return (true, steps + 1);
            }
        }
        unreachable!("the loop returns")
    }
}

fn send(world: &mut World, from: Pid, to: Pid, signal: Signal) {
    world
        .queues
        .entry((from, to))
        .or_default()
        .push_back(signal);
}

/// The median of `values` (the upper one of an even count; NaN when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The largest of `values` (NaN when empty).
pub fn max(values: &[f64]) -> f64 {
    values.iter().copied().reduce(f64::max).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortest dead lookup on `1x2`: create, its delivery, the lookup
    /// sent, the kill, the lookup delivered before the DOWN.
    fn shortest(world: &Scenario) -> Vec<Event> {
        let bucket = world.first_bucket();
        vec![
            Event::Act(0),
            Event::Deliver {
                from: 1,
                to: REGISTRY,
            },
            Event::Act(0),
            Event::Kill(bucket),
            Event::Deliver {
                from: 1,
                to: REGISTRY,
            },
        ]
    }

    #[test]
    fn the_flawed_registry_names_a_dead_bucket_and_the_fixed_one_does_not() {
        for fixed in [false, true] {
            let scenario = Scenario::named("1x2", fixed).expect("known");
            let mut world = scenario.start();
            for event in shortest(&scenario) {
                let mut enabled = Vec::new();
                scenario.enabled(&world, &mut enabled);
                assert!(enabled.contains(&event), "{event:?} in {enabled:?}");
                scenario.apply(&mut world, event);
            }
            assert_eq!(world.dead_lookup, !fixed);
        }
    }

    #[test]
    fn the_fifo_order_never_breaks_either_registry() {
        for name in SCENARIOS {
            for fixed in [false, true] {
                let scenario = Scenario::named(name, fixed).expect("known");
                assert!(!scenario.play(&[]).0, "{name}");
            }
        }
    }

    #[test]
    fn the_chapter_breaks_the_flawed_registry_on_some_schedule() {
        let scenario = Scenario::named("chapter", false).expect("known");
        let broke = (0..4u32.pow(10)).any(|n| {
            let choices: Vec<u32> = (0..10).map(|i| n / 4u32.pow(i) % 4).collect();
            scenario.play(&choices).0
        });
        assert!(broke);
    }
}
