//! Property 4 over every real-time order a run's happens-before allows.
//! Owns the search of those orders, one object (bucket name) at a time.
//!
//! The search leaves property 4's history out of the dependence relation,
//! so one explored run stands for every schedule that orders its events
//! along the same happens-before (hb): the same process states, replies
//! and verdicts of properties 1, 2, 3, 5 and 6, but not the same real-time
//! order of the history (which answers come before which invocations,
//! where a death falls). Linearizability is local (Herlihy and Wing,
//! "Linearizability: a correctness condition for concurrent objects",
//! TOPLAS 1990), so each object is checked alone; and every linear
//! extension of hb restricted to one object's events extends to a linear
//! extension of the whole run (a schedule of the same trace), so property
//! 4 breaks in some schedule of the trace iff some object breaks in some
//! order of its own events allowed by hb.
//!
//! Each order is fed, event by event, to an online checker as the run's
//! checker would feed it (an event's invocations, then its answers and
//! model events; a verdict after each event that changed the history, and
//! at the end of a run that ended quiet), so an order's verdict is the one
//! a real schedule of it gets.
//!
//! Not every order needs its own check. Linearizability reads of an order
//! only its precedence: which operations were answered before which others
//! were invoked. More precedence constrains more: a history linearizable
//! with more is linearizable with less, and a check in the middle of the
//! run sees a history no more constrained than the one at its end
//! (operations still open may go last). So the orders in which every
//! answer goes as soon as hb lets it dominate the rest: moving an enabled
//! answer earlier only adds precedence, and two answers next to each other
//! can go in either order. The search therefore takes, at each step, the
//! first enabled event that only answers, if there is one, and branches
//! over the others only where there is none; of two orders that differ
//! only by swapping two adjacent invocations unordered by hb, which leaves
//! the precedence as it is, sleep sets (Godefroid, 1996) keep one. The
//! search for an order of all objects that holds does the dual
//! (invocations as early as hb lets them: less precedence), and there
//! events of different objects commute too.

use super::Bits;
use crate::check::checker::HistoryOp;
use crate::check::linearizability::{KvOp, KvResult, LinearizabilityModel, OnlineCheck, Operation};
use std::collections::{BTreeMap, BTreeSet};

/// What one event does to the history of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    Invoke,
    Answer,
    /// Invoked and answered at once (a death).
    Event,
}

/// How an event may swap with a neighbour unordered by hb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Invokes,
    Answers,
    Mixed,
}

/// An object's events, as a memo key: everything its verdict depends on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Shape {
    quiet_end: bool,
    /// The object's operations: op, result, result known at invocation.
    ops: Vec<(KvOp, KvResult, bool)>,
    /// Per event, in run order: what it does to which operation.
    events: Vec<Vec<(usize, Item)>>,
    /// Per event, the earlier events that happen before it.
    before: Vec<Vec<usize>>,
    /// Per operation, its object (`None`: every object); for the joint
    /// search of all objects, where events of different objects commute.
    objects: Vec<Option<String>>,
}

/// One object's verdict over every order of its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Holds,
    /// No order breaks it, some order is undecided.
    Undecided,
    /// The order (indices into the object's events) of the shortest
    /// prefix found that breaks it.
    Broken(Vec<usize>),
}

/// Property 4 of one run, over every order hb allows.
pub(super) struct RealTime {
    /// Per object (`None`: the history has only operations on every
    /// object), its events' run positions, ascending.
    objects: BTreeMap<Option<String>, Vec<usize>>,
    /// Per object, its shape and verdict.
    verdicts: BTreeMap<Option<String>, Verdict>,
}

/// Memoised verdicts of shapes, for one search.
#[derive(Default)]
pub(super) struct Memo {
    verdicts: BTreeMap<Shape, Verdict>,
    /// Joint shapes: whether some order holds, and then whether it was
    /// undecided.
    holding: BTreeMap<Shape, Option<bool>>,
}

impl RealTime {
    /// Checks every object of `history` (a run of `steps` events) over
    /// every order `past` allows (`past[b]` holds the positions that
    /// happen before position `b`). `quiet_end`: the run ended quiet, so
    /// the checker gave its verdict at the end.
    pub(super) fn check(
        history: &[HistoryOp],
        past: &[&Bits],
        quiet_end: bool,
        model: &LinearizabilityModel,
        states_max: usize,
        memo: &mut Memo,
    ) -> RealTime {
        let mut own: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut everywhere = Vec::new();
        for (index, op) in history.iter().enumerate() {
            match model.partition(&op.op) {
                Some(name) => own.entry(name).or_default().push(index),
                None => everywhere.push(index),
            }
        }
        let mut groups: Vec<(Option<String>, Vec<usize>)> = own
            .into_iter()
            .map(|(name, mut ops)| {
                ops.extend(&everywhere);
                ops.sort_unstable();
                (Some(name), ops)
            })
            .collect();
        if groups.is_empty() && !everywhere.is_empty() {
            groups.push((None, everywhere));
        }
        let mut objects = BTreeMap::new();
        let mut verdicts = BTreeMap::new();
        for (name, ops) in groups {
            let (shape, positions) = shape(history, &ops, past, quiet_end, model);
            let verdict = match memo.verdicts.get(&shape) {
                Some(verdict) => verdict.clone(),
                None => {
                    let verdict = search(&shape, model, states_max);
                    memo.verdicts.insert(shape, verdict.clone());
                    verdict
                }
            };
            objects.insert(name.clone(), positions);
            verdicts.insert(name, verdict);
        }
        RealTime { objects, verdicts }
    }

    /// Whether some order of the whole run (all objects at once) breaks
    /// no object: `Some(undecided)` for the first such order found, `None`
    /// when every order breaks one.
    pub(super) fn some_order_holds(
        history: &[HistoryOp],
        past: &[&Bits],
        quiet_end: bool,
        model: &LinearizabilityModel,
        states_max: usize,
        memo: &mut Memo,
    ) -> Option<bool> {
        let ops: Vec<usize> = (0..history.len()).collect();
        let (shape, _) = shape(history, &ops, past, quiet_end, model);
        if let Some(found) = memo.holding.get(&shape) {
            return *found;
        }
        let mut orders = Orders::new(&shape, true);
        orders.walk(
            model.online(states_max),
            &mut Vec::new(),
            &mut vec![false; shape.events.len()],
            Vec::new(),
            false,
        );
        // A decided order that holds, else an undecided one.
        let found = orders.holding.or(orders.undecided.then_some(true));
        memo.holding.insert(shape, found);
        found
    }

    /// Whether some order is undecided and none breaks that object.
    pub(super) fn undecided(&self) -> bool {
        self.verdicts.values().any(|v| *v == Verdict::Undecided)
    }

    /// The broken object whose breaking prefix is shortest (ties: the
    /// first by name): that prefix's run positions in the breaking order,
    /// and all the object's event positions.
    pub(super) fn broken(&self) -> Option<(Vec<usize>, &[usize])> {
        self.verdicts
            .iter()
            .filter_map(|(name, verdict)| match verdict {
                Verdict::Broken(order) => Some((order.len(), name, order)),
                _ => None,
            })
            .min_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)))
            .map(|(_, name, order)| {
                let positions = &self.objects[name];
                let order = order.iter().map(|&i| positions[i]).collect();
                (order, positions.as_slice())
            })
    }
}

/// The object's shape (made of the operations `ops` of `history`) and
/// its events' run positions.
fn shape(
    history: &[HistoryOp],
    ops: &[usize],
    past: &[&Bits],
    quiet_end: bool,
    model: &LinearizabilityModel,
) -> (Shape, Vec<usize>) {
    let mut at: BTreeMap<usize, Vec<(usize, Item)>> = BTreeMap::new();
    for (local, &index) in ops.iter().enumerate() {
        let op = &history[index];
        let invoke = op.invoke.saturating_sub(1) as usize;
        match op.response {
            Some(response) if response == op.invoke => {
                at.entry(invoke).or_default().push((local, Item::Event));
            }
            Some(response) => {
                at.entry(invoke).or_default().push((local, Item::Invoke));
                let answer = response.saturating_sub(1) as usize;
                at.entry(answer).or_default().push((local, Item::Answer));
            }
            None => at.entry(invoke).or_default().push((local, Item::Invoke)),
        }
    }
    let positions: Vec<usize> = at.keys().copied().collect();
    let before = positions
        .iter()
        .map(|&b| {
            (0..positions.len())
                .filter(|&a| past.get(b).is_some_and(|p| p.contains(positions[a])))
                .collect()
        })
        .collect();
    let events = at
        .into_values()
        .map(|mut items| {
            items.sort_by_key(|&(local, item)| (item, local));
            items
        })
        .collect();
    let shape = Shape {
        quiet_end,
        ops: ops
            .iter()
            .map(|&i| {
                (
                    history[i].op.clone(),
                    history[i].result.clone(),
                    history[i].known,
                )
            })
            .collect(),
        events,
        before,
        objects: ops
            .iter()
            .map(|&i| model.partition(&history[i].op))
            .collect(),
    };
    (shape, positions)
}

fn kind(items: &[(usize, Item)]) -> Kind {
    if items.iter().all(|&(_, item)| item == Item::Invoke) {
        Kind::Invokes
    } else if items.iter().all(|&(_, item)| item == Item::Answer) {
        Kind::Answers
    } else {
        Kind::Mixed
    }
}

/// What feeding one more event gave.
enum Fed {
    /// No verdict was taken (it only invoked calls).
    Unchanged,
    Checked {
        undecided: bool,
    },
    Broken,
}

/// The search of one shape's orders.
struct Orders<'a> {
    shape: &'a Shape,
    kinds: Vec<Kind>,
    /// Per event, its objects (`None`: every object).
    touches: Vec<BTreeSet<Option<String>>>,
    /// Looking for one order that holds ([`RealTime::some_order_holds`])
    /// rather than the shortest breaking prefix.
    first_holding: bool,
    /// The best breaking prefix so far.
    broken: Option<Vec<usize>>,
    undecided: bool,
    /// With `first_holding`: `Some(false)` once an order that holds,
    /// decided, is found (the search stops).
    holding: Option<bool>,
}

impl<'a> Orders<'a> {
    fn new(shape: &'a Shape, first_holding: bool) -> Orders<'a> {
        Orders {
            shape,
            kinds: shape.events.iter().map(|items| kind(items)).collect(),
            touches: shape
                .events
                .iter()
                .map(|items| {
                    items
                        .iter()
                        .map(|&(local, _)| shape.objects[local].clone())
                        .collect()
                })
                .collect(),
            first_holding,
            broken: None,
            undecided: false,
            holding: None,
        }
    }
}

fn search(shape: &Shape, model: &LinearizabilityModel, states_max: usize) -> Verdict {
    let mut orders = Orders::new(shape, false);
    let mut order = Vec::new();
    let mut placed = vec![false; shape.events.len()];
    orders.walk(
        model.online(states_max),
        &mut order,
        &mut placed,
        Vec::new(),
        false,
    );
    match (orders.broken, orders.undecided) {
        (Some(order), _) => Verdict::Broken(order),
        (None, true) => Verdict::Undecided,
        (None, false) => Verdict::Holds,
    }
}

impl Orders<'_> {
    /// Whether swapping `a` and `b` (adjacent, unordered by hb) changes no
    /// verdict: both only invoke, or both only answer, or (in the joint
    /// search) they concern different objects.
    fn independent(&self, a: usize, b: usize) -> bool {
        if self.shape.before[a.max(b)].contains(&a.min(b)) {
            return false;
        }
        let same_kind = self.kinds[a] == self.kinds[b] && self.kinds[a] != Kind::Mixed;
        let (x, y) = (&self.touches[a], &self.touches[b]);
        let apart = !x.contains(&None) && !y.contains(&None) && x.is_disjoint(y);
        same_kind || apart
    }

    /// Feeds event `event` at time `time` (1-based).
    fn feed(&self, check: &mut dyn OnlineCheck, event: usize, time: u64) -> Fed {
        let mut changed = false;
        for &(local, item) in &self.shape.events[event] {
            let (op, result, known) = &self.shape.ops[local];
            let key = local as u64;
            let operation = |invoke: u64, response: u64, result: KvResult| Operation {
                id: local,
                client: None,
                invoke,
                response,
                op: op.clone(),
                result,
            };
            match item {
                Item::Invoke if *known => {
                    check.invoke(key, operation(time, u64::MAX, result.clone()), true);
                    changed = true;
                }
                Item::Invoke => {
                    check.invoke(
                        key,
                        operation(time, u64::MAX, KvResult::Indeterminate),
                        false,
                    );
                }
                Item::Answer => {
                    let answer = (!*known).then(|| result.clone());
                    check.answer(key, answer, time, local);
                    changed = true;
                }
                Item::Event => {
                    check.record(key, operation(time, time, result.clone()));
                    changed = true;
                }
            }
        }
        if !changed {
            return Fed::Unchanged;
        }
        match check.verdict(false, &|key| key as usize) {
            Err(_) => Fed::Broken,
            Ok(undecided) => Fed::Checked {
                undecided: undecided.is_some(),
            },
        }
    }

    /// Sleep-set search below the prefix `order`: `undecided` is the last
    /// check's.
    fn walk(
        &mut self,
        check: Box<dyn OnlineCheck>,
        order: &mut Vec<usize>,
        placed: &mut Vec<bool>,
        sleep: Vec<usize>,
        undecided: bool,
    ) {
        let events = self.shape.events.len();
        if self.holding.is_some() {
            return;
        }
        if order.len() == events {
            let undecided = if self.shape.quiet_end {
                let mut check = check;
                match check.verdict(true, &|key| key as usize) {
                    Err(_) => {
                        self.found(order);
                        return;
                    }
                    Ok(undecided) => undecided.is_some(),
                }
            } else {
                undecided
            };
            self.undecided |= undecided;
            if self.first_holding && !undecided {
                self.holding = Some(false);
            }
            return;
        }
        // A prefix as long as the best breaking one cannot beat it.
        if !self.first_holding
            && self
                .broken
                .as_ref()
                .is_some_and(|best| order.len() + 1 >= best.len())
        {
            return;
        }
        let enabled: Vec<usize> = (0..events)
            .filter(|&e| !placed[e] && self.shape.before[e].iter().all(|&b| placed[b]))
            .collect();
        // An answer goes as soon as hb lets it (looking for an order that
        // holds: an invocation), the first such alone: see the module
        // documentation.
        let eager = if self.first_holding {
            Kind::Invokes
        } else {
            Kind::Answers
        };
        let enabled = match enabled.iter().find(|&&e| self.kinds[e] == eager) {
            Some(&e) => vec![e],
            None => enabled,
        };
        let mut explored: Vec<usize> = Vec::new();
        for e in enabled {
            if sleep.contains(&e) {
                continue;
            }
            let child_sleep: Vec<usize> = sleep
                .iter()
                .chain(&explored)
                .copied()
                .filter(|&z| self.independent(z, e))
                .collect();
            let mut child = check.boxed_clone();
            order.push(e);
            match self.feed(child.as_mut(), e, order.len() as u64) {
                Fed::Broken => self.found(order),
                fed => {
                    let undecided = match fed {
                        Fed::Checked { undecided } => undecided,
                        _ => undecided,
                    };
                    placed[e] = true;
                    self.walk(child, order, placed, child_sleep, undecided);
                    placed[e] = false;
                }
            }
            order.pop();
            explored.push(e);
        }
    }

    fn found(&mut self, order: &[usize]) {
        let better = self
            .broken
            .as_ref()
            .is_none_or(|best| (order.len(), order) < (best.len(), best.as_slice()));
        if better {
            self.broken = Some(order.to_vec());
        }
    }
}

/// The events of a run in an order that follows hb (`past`) and puts the
/// object's events `order` (run positions) first among that object's
/// events, in that order: every other event of `object` after all of
/// them. Each pick is the earliest event of the run that may go next.
pub(super) fn schedule_with(
    steps: usize,
    past: &[&Bits],
    order: &[usize],
    object: &[usize],
) -> Vec<usize> {
    let held: BTreeSet<usize> = object.iter().copied().collect();
    let mut placed = vec![false; steps];
    let mut out = Vec::with_capacity(steps);
    let mut next_in_order = 0;
    while out.len() < steps {
        let pick = (0..steps).find(|&p| {
            !placed[p]
                && past[p].iter().all(|q| q >= steps || placed[q])
                && (!held.contains(&p)
                    || order.get(next_in_order) == Some(&p)
                    || (next_in_order == order.len() && !order.contains(&p)))
        });
        let Some(p) = pick else {
            // hb with the chosen order is acyclic (the order is a linear
            // extension of hb on a downward-closed set of the object's
            // events), so some event can always go.
            unreachable!("no event may go next: the order is not one hb allows");
        };
        placed[p] = true;
        if order.get(next_in_order) == Some(&p) {
            next_in_order += 1;
        }
        out.push(p);
    }
    out
}
