//! The shrinker's shortening pass: deletion and normalisation end at a
//! 1-minimal case, but not always at the shortest one — the length being
//! the number of events up to the step where the property breaks. A second
//! client's synchronous `STOP` and its padding `LOOKUP`s can create a
//! timing that one client, one fault and one override create in half the
//! events, and no single deletion gets from one to the other. This pass
//! searches the neighbourhood of the shrunk case for a shorter failure of
//! the same property, and owns what that neighbourhood is:
//!
//! - candidate cases: the same commands and faults; one command, fault or
//!   client fewer; a bucket-stopping command (`STOP`, `CRASH`, `KILL` of a
//!   bucket), or the whole client that sends it, replaced by a
//!   `kill bucket` (or `crash bucket`) fault; a fault replaced by another
//!   kind; a client split in two; all clients merged into one, in every
//!   order;
//! - schedules tried on each candidate, cheapest first: the shrunk case's
//!   own run carried over to the candidate (every event it took, minus the
//!   removed elements' events, with a replaced stop's exit event becoming
//!   the fault's), the `fifo` order, `fifo` with one override (every event
//!   key the `fifo` run met) — all candidates so — then every schedule up
//!   to one event fewer than the current case, depth by depth
//!   (re-executed as the exhaustive oracle does, [`Trail`]), and where
//!   that is too many, random walks, POS and PCT (d = 1..=3) from a few
//!   fixed seeds.
//!
//! Every run is cut one event before the current length, so a candidate
//! only counts if it fails sooner. A shorter case, found as the full
//! override list of its run, is made 1-minimal again (deletion to a
//! fixpoint, then normalisation, each keeping the failure at most that
//! long) and the search starts over from it, until no candidate is shorter
//! or the run budget is spent. Everything is a function of the case: the
//! seeds are fixed and the budget counts runs, not time.

use crate::check::case::{Case, CaseClient, CaseFault};
use crate::check::checker::{CaseRun, CheckConfig, RegistryFactory, run_case, run_case_with};
use crate::check::oracle::{Bounded, Trail};
use crate::check::property::Property;
use crate::check::schedule::Strategy;
use crate::check::shrink::{
    client_orders, delete_to_fixpoint, merge_clients, normalise, rename_in_segment,
};
use crate::kv::{Command, KvFault, Target};
use crate::sim::choice::{Overrides, Shared};
use crate::sim::{Choice, ChoiceSource, EventKey, KeyId, Outcome, Root, Segment};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

/// Seeds per strategy (random walk, POS, PCT at each depth) per candidate.
const STRATEGY_SEEDS: u64 = 8;

/// PCT depths tried per candidate.
const PCT_DEPTHS: std::ops::RangeInclusive<u32> = 1..=3;

/// Runs per candidate for the depth-by-depth enumeration of its schedules.
const EXHAUSTIVE_RUNS_MAX: u64 = 600;

/// Shortens `best`, a 1-minimal case whose first broken property is
/// `property`, spending at most `runs_max` search runs. Returns a case that
/// breaks `property` first, in at most as many events as `best`, and is
/// 1-minimal for its length: no single deletion keeps `property` failing
/// within as many events (`best` itself when nothing shorter is found).
pub(super) fn shorten(
    best: Case,
    registry: &RegistryFactory<'_>,
    config: &CheckConfig,
    property: Property,
    runs_max: u64,
) -> Case {
    let mut pass = Pass {
        registry,
        config,
        property,
        runs_left: runs_max,
    };
    let Some(mut length) = pass.length(&best) else {
        return best;
    };
    let mut best = best;
    while length > 1 && pass.runs_left > 0 {
        let bound = length - 1;
        let Some(shorter) = pass.search(&best, bound) else {
            break;
        };
        let Some(found) = pass.length(&shorter) else {
            break;
        };
        best = pass.tidy(shorter, found);
        length = pass.length(&best).unwrap_or(found);
    }
    best
}

/// One shortening: the registry, the check, the property kept and the
/// budget left.
struct Pass<'a> {
    registry: &'a RegistryFactory<'a>,
    config: &'a CheckConfig,
    property: Property,
    runs_left: u64,
}

impl Pass<'_> {
    /// The check configuration with runs cut after `bound` events.
    fn bounded(&self, bound: u64) -> CheckConfig {
        let mut config = self.config.clone();
        config.limits.steps_max = config.limits.steps_max.min(bound);
        config
    }

    /// The step at which `case` breaks the kept property first, if it does.
    fn length(&self, case: &Case) -> Option<u64> {
        let failure = run_case(case, self.registry, self.config).failure?;
        (failure.property == self.property).then_some(failure.step)
    }

    /// Whether `case` breaks the kept property first, within `bound` events.
    /// Not counted against the budget.
    fn fails_within(&self, case: &Case, bound: u64) -> bool {
        let run = run_case(case, self.registry, &self.bounded(bound));
        self.hit(&run, bound)
    }

    fn hit(&self, run: &CaseRun, bound: u64) -> bool {
        run.failure
            .as_ref()
            .is_some_and(|f| f.property == self.property && f.step <= bound)
    }

    /// A counted run of `case` under its own schedule, cut after `bound`
    /// events; `None` when the budget is spent.
    fn run(&mut self, case: &Case, bound: u64) -> Option<CaseRun> {
        if self.runs_left == 0 {
            return None;
        }
        self.runs_left -= 1;
        Some(run_case(case, self.registry, &self.bounded(bound)))
    }

    /// A counted run of `case` with `chooser` picking every event.
    fn run_with(
        &mut self,
        case: &Case,
        bound: u64,
        chooser: Box<dyn ChoiceSource>,
    ) -> Option<CaseRun> {
        if self.runs_left == 0 {
            return None;
        }
        self.runs_left -= 1;
        Some(run_case_with(
            case,
            self.registry,
            &self.bounded(bound),
            chooser,
        ))
    }

    /// `case` with the schedule `run` took, up to its failure, as an
    /// explicit override list, if `run` broke the kept property in time.
    fn found(&self, case: &Case, run: &CaseRun, bound: u64) -> Option<Case> {
        if !self.hit(run, bound) {
            return None;
        }
        let step = run.failure.as_ref().map_or(0, |f| f.step) as usize;
        let mut schedule = run.schedule_taken.clone();
        schedule.truncate(step);
        Some(Case {
            schedule,
            strategy: None,
            ..case.clone()
        })
    }

    /// A case near `best` that breaks the kept property within `bound`
    /// events: the cheap schedules of every candidate first, then the
    /// costly ones.
    fn search(&mut self, best: &Case, bound: u64) -> Option<Case> {
        let taken = self.taken(best);
        let candidates = candidates(best, &taken);
        for candidate in &candidates {
            if let Some(found) = self.cheap(candidate, bound) {
                return Some(found);
            }
        }
        for candidate in &candidates {
            if let Some(found) = self.costly(candidate, bound) {
                return Some(found);
            }
        }
        None
    }

    /// Every event `case`'s run took, up to its failure, as an override
    /// list (not counted: one run per round).
    fn taken(&self, case: &Case) -> Vec<EventKey> {
        let chooser = Overrides::then(case.schedule.clone(), Box::new(Recorder::default()));
        let run = run_case_with(case, self.registry, self.config, Box::new(chooser));
        let mut taken = run.schedule_taken;
        if let Some(failure) = &run.failure {
            taken.truncate(failure.step as usize);
        }
        taken
    }

    /// The candidate's carried-over schedule, `fifo`, and `fifo` with one
    /// override.
    fn cheap(&mut self, candidate: &Case, bound: u64) -> Option<Case> {
        let fifo = Case {
            schedule: Vec::new(),
            strategy: None,
            ..candidate.clone()
        };
        if !candidate.schedule.is_empty() {
            let run = self.run(candidate, bound)?;
            if let Some(found) = self.found(candidate, &run, bound) {
                return Some(found);
            }
        }
        let recorder = Shared::new(Recorder::default());
        let seen = Rc::clone(&recorder.0);
        let run = self.run_with(&fifo, bound, Box::new(recorder))?;
        if let Some(found) = self.found(&fifo, &run, bound) {
            return Some(found);
        }
        let keys = seen.borrow().keys.clone();
        for key in keys {
            let single = Case {
                schedule: vec![key],
                ..fifo.clone()
            };
            let run = self.run(&single, bound)?;
            if let Some(found) = self.found(&single, &run, bound) {
                return Some(found);
            }
        }
        None
    }

    /// Every schedule depth by depth; when that is cut short by its
    /// budget, strategies from fixed seeds, which reach deeper. (A
    /// complete enumeration has run every schedule a strategy could.)
    fn costly(&mut self, candidate: &Case, bound: u64) -> Option<Case> {
        let plain = Case {
            schedule: Vec::new(),
            strategy: None,
            ..candidate.clone()
        };
        match self.exhaustive(&plain, bound) {
            Enumerated::Found(found) => return Some(found),
            Enumerated::Complete | Enumerated::OutOfRuns => return None,
            Enumerated::Cut => {}
        }
        for seed in 0..STRATEGY_SEEDS {
            let mut strategies = vec![Strategy::Random { seed }, Strategy::Pos { seed }];
            strategies.extend(PCT_DEPTHS.map(|depth| Strategy::Pct { seed, depth }));
            for strategy in strategies {
                let case = Case {
                    strategy: Some(strategy),
                    ..plain.clone()
                };
                let run = self.run(&case, bound)?;
                if let Some(found) = self.found(&plain, &run, bound) {
                    return Some(found);
                }
            }
        }
        None
    }

    /// Every schedule of `case` cut at depth 1, 2, … `bound`, until one
    /// breaks the kept property or [`EXHAUSTIVE_RUNS_MAX`] runs are spent.
    /// Shallow first, so the first one found is the shortest.
    fn exhaustive(&mut self, case: &Case, bound: u64) -> Enumerated {
        let mut spent = 0;
        for depth in 1..=bound {
            let trail = Rc::new(RefCell::new(Trail::default()));
            let mut deeper = false;
            loop {
                if spent >= EXHAUSTIVE_RUNS_MAX {
                    return Enumerated::Cut;
                }
                spent += 1;
                trail.borrow_mut().rewind();
                let explore = Bounded {
                    trail: Rc::clone(&trail),
                    depth,
                };
                let Some(run) = self.run_with(case, depth, Box::new(explore)) else {
                    return Enumerated::OutOfRuns;
                };
                if let Some(found) = self.found(case, &run, depth) {
                    return Enumerated::Found(found);
                }
                deeper |= matches!(run.outcome, Outcome::Limit { .. });
                if !trail.borrow_mut().advance() {
                    break;
                }
            }
            // No run reached this depth: there is nothing deeper.
            if !deeper {
                return Enumerated::Complete;
            }
        }
        Enumerated::Complete
    }

    /// Makes a shorter case found as a full override list 1-minimal again
    /// without letting it grow past `length` events: deletion to a
    /// fixpoint, then the normalising passes.
    fn tidy(&self, case: Case, length: u64) -> Case {
        let mut within = |candidate: &Case| self.fails_within(candidate, length);
        let case = delete_to_fixpoint(case, &mut within);
        normalise(case, &mut within)
    }
}

/// How an enumeration of a candidate's schedules ended.
enum Enumerated {
    /// A schedule broke the kept property in time: the case, explicit.
    Found(Case),
    /// Every schedule up to the bound ran, and none did.
    Complete,
    /// The enumeration's own budget ([`EXHAUSTIVE_RUNS_MAX`]) ran out.
    Cut,
    /// The pass's budget ran out.
    OutOfRuns,
}

/// Takes the `fifo` event, through the scheduler's keyed path, so that the
/// run records every event it takes; remembers every key it was offered,
/// in the order first offered.
#[derive(Default)]
struct Recorder {
    offered: BTreeSet<KeyId>,
    keys: Vec<EventKey>,
}

impl ChoiceSource for Recorder {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        for candidate in choice.candidates {
            if self.offered.insert(candidate.key) {
                self.keys.push(choice.keys.key(candidate.key));
            }
        }
        choice.fifo
    }
}

/// The cases near `best`, each with `taken` (every event `best`'s run
/// took) carried over as its override list, smallest first.
fn candidates(best: &Case, taken: &[EventKey]) -> Vec<Case> {
    let base = Case {
        schedule: Vec::new(),
        strategy: None,
        ..best.clone()
    };
    let mut out = vec![base.clone()];
    let keep = |drop: &dyn Fn(&Root) -> bool| -> Vec<EventKey> {
        taken
            .iter()
            .filter(|key| !drop(&key.root))
            .cloned()
            .collect()
    };
    // One command fewer.
    for (index, client) in best.clients.iter().enumerate() {
        for position in (0..client.commands.len()).rev() {
            let (id, _) = client.commands[position];
            let mut case = base.clone();
            case.clients[index].commands.remove(position);
            let client_id = client.id;
            case.schedule = keep(
                &|root| matches!(root, Root::Client { client, cmd } if *client == client_id && *cmd == id),
            );
            out.push(case);
        }
    }
    // One fault fewer.
    for position in 0..best.faults.len() {
        let id = best.faults[position].id;
        let mut case = base.clone();
        case.faults.remove(position);
        case.schedule = keep(&|root| matches!(root, Root::Fault { fault } if *fault == id));
        out.push(case);
    }
    // One client fewer.
    if best.clients.len() > 1 {
        for position in 0..best.clients.len() {
            let id = best.clients[position].id;
            let mut case = base.clone();
            case.clients.remove(position);
            case.schedule =
                keep(&|root| matches!(root, Root::Client { client, .. } if *client == id));
            out.push(case);
        }
    }
    out.extend(fault_swaps(&base, taken));
    out.extend(replacements(&base, taken));
    out.extend(splits(&base, taken));
    if best.clients.len() > 1 {
        let full = Case {
            schedule: taken.to_vec(),
            ..base.clone()
        };
        for order in client_orders(best.clients.len()) {
            out.push(merge_clients(&full, &order));
        }
    }
    // Stable: among equal sizes, the order above.
    out.sort_by_key(|case| case.command_count() + case.faults.len());
    out
}

/// Each fault replaced by another kind of fault: the other bucket fault
/// on its bucket, or one of the registry faults (a stray message may
/// break what a killed bucket's exit signal broke, in fewer events). The
/// fault keeps its id, so `taken` carries over as it is.
fn fault_swaps(base: &Case, taken: &[EventKey]) -> Vec<Case> {
    let mut out = Vec::new();
    for (index, fault) in base.faults.iter().enumerate() {
        let mut others = match &fault.fault {
            KvFault::KillBucket(name) => vec![KvFault::CrashBucket(name.clone())],
            KvFault::CrashBucket(name) => vec![KvFault::KillBucket(name.clone())],
            _ => Vec::new(),
        };
        others.extend(
            [
                KvFault::StrayRegistry,
                KvFault::KillRegistry,
                KvFault::CrashRegistry,
            ]
            .into_iter()
            .filter(|other| *other != fault.fault),
        );
        for other in others {
            let mut case = base.clone();
            case.faults[index].fault = other;
            case.schedule = taken.to_vec();
            out.push(case);
        }
    }
    out
}

/// The bucket a command stops, crashes or kills, if any.
fn stopped_bucket(command: &Command) -> Option<&str> {
    match command {
        Command::Stop {
            target: Target::Bucket(bucket),
        }
        | Command::Crash {
            target: Target::Bucket(bucket),
            ..
        }
        | Command::Kill {
            target: Target::Bucket(bucket),
        } => Some(bucket),
        _ => None,
    }
}

/// Each bucket-stopping command replaced by a fault on its bucket (a kill,
/// then a crash), alone and with the rest of its client; the command's
/// events are dropped from `taken`, except its stopped bucket's exit,
/// which becomes the fault's event (and the signals of that death follow
/// it).
fn replacements(base: &Case, taken: &[EventKey]) -> Vec<Case> {
    let mut out = Vec::new();
    let next_fault = base.faults.iter().map(|f| f.id + 1).max().unwrap_or(0);
    for (index, client) in base.clients.iter().enumerate() {
        let stops: Vec<(u32, &str)> = client
            .commands
            .iter()
            .filter_map(|(id, command)| Some((*id, stopped_bucket(command)?)))
            .collect();
        for kind in [FaultKind::Kill, FaultKind::Crash] {
            for &(id, bucket) in &stops {
                let mut case = base.clone();
                case.clients[index].commands.retain(|(cmd, _)| *cmd != id);
                case.faults.push(CaseFault {
                    id: next_fault,
                    fault: kind.fault(bucket),
                });
                case.schedule = carry_stops(taken, client.id, &[(id, next_fault)], false);
                out.push(case);
            }
            if !stops.is_empty() && client.commands.len() > 1 {
                let mut case = base.clone();
                case.clients.remove(index);
                let mut map = Vec::new();
                for (offset, &(id, bucket)) in stops.iter().enumerate() {
                    let fault = next_fault + offset as u32;
                    case.faults.push(CaseFault {
                        id: fault,
                        fault: kind.fault(bucket),
                    });
                    map.push((id, fault));
                }
                case.schedule = carry_stops(taken, client.id, &map, true);
                out.push(case);
            }
        }
    }
    out
}

#[derive(Clone, Copy)]
enum FaultKind {
    Kill,
    Crash,
}

impl FaultKind {
    fn fault(self, bucket: &str) -> KvFault {
        match self {
            FaultKind::Kill => KvFault::KillBucket(bucket.to_string()),
            FaultKind::Crash => KvFault::CrashBucket(bucket.to_string()),
        }
    }
}

/// `taken` with the events of client `client`'s commands in `map` (command
/// id, fault id) replaced: the first exit under the command becomes the
/// fault, and what follows that exit follows the fault; the command's other
/// events are dropped. With `whole_client`, every other event of the client
/// is dropped too.
fn carry_stops(
    taken: &[EventKey],
    client: u32,
    map: &[(u32, u32)],
    whole_client: bool,
) -> Vec<EventKey> {
    taken
        .iter()
        .filter_map(|key| {
            let Root::Client { client: c, cmd } = key.root else {
                return Some(key.clone());
            };
            if c != client {
                return Some(key.clone());
            }
            let Some(&(_, fault)) = map.iter().find(|(id, _)| *id == cmd) else {
                return (!whole_client).then(|| key.clone());
            };
            let exit = key.path.iter().position(|s| *s == Segment::Exit)?;
            Some(EventKey {
                root: Root::Fault { fault },
                path: key.path[exit + 1..].to_vec(),
            })
        })
        .collect()
}

/// Each client of two or more commands split in two at every point: the
/// commands from there on go to a new client, with their events (and the
/// death signals those events send the client) following them.
fn splits(base: &Case, taken: &[EventKey]) -> Vec<Case> {
    let mut out = Vec::new();
    let new_id = base.clients.iter().map(|c| c.id + 1).max().unwrap_or(0);
    for (index, client) in base.clients.iter().enumerate() {
        for cut in 1..client.commands.len() {
            let mut case = base.clone();
            let moved = case.clients[index].commands.split_off(cut);
            let moved_ids: BTreeSet<u32> = moved.iter().map(|(id, _)| *id).collect();
            case.clients.push(CaseClient {
                id: new_id,
                commands: moved,
            });
            let old_name = format!("client{}", client.id);
            let new_name = format!("client{new_id}");
            let rename = |name: &str| (name == old_name).then(|| new_name.clone());
            case.schedule = taken
                .iter()
                .map(|key| match key.root {
                    Root::Client { client: c, cmd }
                        if c == client.id && moved_ids.contains(&cmd) =>
                    {
                        EventKey {
                            root: Root::Client {
                                client: new_id,
                                cmd,
                            },
                            path: key
                                .path
                                .iter()
                                .map(|segment| rename_in_segment(segment, &rename))
                                .collect(),
                        }
                    }
                    _ => key.clone(),
                })
                .collect();
            out.push(case);
        }
    }
    out
}
