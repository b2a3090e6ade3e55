//! docs/semantics.md S1–S7: pids, liveness, sends and delivery order, driven
//! through the core (`kvsim::sim`) with string messages.

mod common;

use common::{Log, M, Probe, Seq, describe, fifo_sim, log, spawn};
use kvsim::sim::choice::{Overrides, RandomWalk};
use kvsim::sim::{
    ChoiceSource, Control, EventKey, Incoming, Limits, Outcome, Pid, Reason, Sim, SpawnOpts,
};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

fn push(log: &Log, line: impl Into<String>) {
    log.borrow_mut().push(line.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

fn sim_with(chooser: Box<dyn ChoiceSource>) -> Sim<M> {
    Sim::new(chooser, Limits::default(), true)
}

/// A probe that exits normally when told `stop`.
fn stoppable(name: &str, log: &Log) -> Probe {
    Probe::new(name, log).on(|_, incoming| match incoming {
        Incoming::Message { msg, .. } if msg == "stop" => Control::Exit(Reason::Normal),
        _ => Control::Continue,
    })
}

#[test]
fn s1_pids_are_never_reused() {
    const SPAWNS: usize = 10_000;
    let mut sim = Sim::<M>::new(Box::new(kvsim::sim::choice::Fifo), Limits::default(), false);
    let log = log();
    let pids: Rc<RefCell<Vec<Pid>>> = Rc::new(RefCell::new(Vec::new()));
    let mut driver = Seq::<M>::new("d", &log).rendering(describe);
    for _ in 0..SPAWNS {
        let (pids, log) = (pids.clone(), log.clone());
        // Each child is dead before the next spawn, so a pid allocator that
        // recycled freed numbers would hand the same pid out again.
        driver = driver.then(move |ctx| {
            let child = ctx
                .spawn(SpawnOpts::child(), Box::new(Probe::new("child", &log)))
                .expect("init succeeds")
                .pid;
            ctx.exit(child, Reason::Kill);
            assert!(
                !ctx.is_alive(child),
                "S3 delivers the kill before answering"
            );
            pids.borrow_mut().push(child);
        });
    }
    let d = sim.spawn_client(0, Box::new(driver));
    assert_eq!(sim.run(), Outcome::Quiescent);

    let pids = pids.borrow();
    assert_eq!(pids.len(), SPAWNS);
    let distinct: BTreeSet<Pid> = pids.iter().copied().collect();
    assert_eq!(distinct.len(), SPAWNS, "a pid was handed out twice");
    assert!(!distinct.contains(&d), "a child got the driver's pid");
    assert!(pids.iter().all(|&pid| !sim.is_alive(pid)));
    assert_eq!(sim.live_processes(), 1, "only the driver is alive");
    assert!(
        entries(&log).is_empty(),
        "the children never received anything"
    );
}

#[test]
fn s2_a_dead_process_stays_dead_and_receives_nothing() {
    let mut sim = fifo_sim();
    let log = log();
    let p = spawn(&mut sim, stoppable("p", &log));
    let (l1, l2) = (log.clone(), log.clone());
    let driver = Seq::<M>::new("d", &log)
        .rendering(describe)
        .then(move |ctx| {
            ctx.send(p, "stop".to_string());
            // Queued behind `stop` on the same pair: p dies before it.
            ctx.send(p, "queued".to_string());
        })
        .settle(move |ctx| {
            push(&l1, format!("d: alive {}", ctx.is_alive(p)));
            ctx.send(p, "late".to_string());
            ctx.exit(p, Reason::boom());
            push(&l1, format!("d: link {:?}", ctx.link(p)));
            ctx.monitor(p);
        })
        .settle(move |ctx| push(&l2, format!("d: alive {}", ctx.is_alive(p))));
    let d = sim.spawn_client(0, Box::new(driver));
    assert_eq!(sim.run(), Outcome::Quiescent);

    assert_eq!(
        entries(&log),
        [
            "p: msg stop",
            "d: alive false",
            "d: link Err(noproc)",
            "d: DOWN noproc",
            "d: alive false"
        ]
    );
    assert!(!sim.is_alive(p));
    assert!(
        sim.is_alive(d),
        "signals to a dead process do not hurt the sender"
    );
    assert_eq!(sim.queued_signals(), 0);
}

#[test]
fn s3_is_alive_delivers_callers_pending_exit_first() {
    // The caller's own view: its kill (and its message) arrive before the answer.
    for signal in ["kill", "stop"] {
        let mut sim = fifo_sim();
        let log = log();
        let p = spawn(&mut sim, stoppable("p", &log));
        let l = log.clone();
        let driver = Seq::<M>::new("q", &log)
            .rendering(describe)
            .then(move |ctx| {
                match signal {
                    "kill" => ctx.exit(p, Reason::Kill),
                    _ => ctx.send(p, "stop".to_string()),
                }
                push(&l, format!("q: alive {}", ctx.is_alive(p)));
            });
        sim.spawn_client(0, Box::new(driver));
        sim.run();
        let expected: &[&str] = if signal == "kill" {
            &["q: alive false"]
        } else {
            &["p: msg stop", "q: alive false"]
        };
        assert_eq!(entries(&log), expected, "after {signal}");
    }

    // A third process gets the table's answer: q's kill is still queued.
    let mut sim = fifo_sim();
    let log = log();
    let p = spawn(&mut sim, Probe::new("p", &log));
    let q = Seq::<M>::new("q", &log)
        .rendering(describe)
        .then(move |ctx| ctx.exit(p, Reason::Kill));
    let (l1, l2) = (log.clone(), log.clone());
    let r = Seq::<M>::new("r", &log)
        .rendering(describe)
        .then(move |ctx| push(&l1, format!("r: alive {}", ctx.is_alive(p))))
        .settle(move |ctx| push(&l2, format!("r: alive {}", ctx.is_alive(p))));
    sim.spawn_client(0, Box::new(q));
    sim.spawn_client(1, Box::new(r));
    sim.run();
    assert_eq!(entries(&log), ["r: alive true", "r: alive false"]);
}

#[test]
fn s4_send_is_asynchronous_and_to_a_dead_pid_is_a_no_op() {
    let mut sim = fifo_sim();
    let log = log();
    let p = spawn(&mut sim, Probe::new("p", &log));
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    let driver = Seq::<M>::new("d", &log)
        .rendering(describe)
        .then(move |ctx| {
            ctx.send(p, "hello".to_string());
            // Send returned before p ran.
            let seen = l1.borrow().len();
            push(&l1, format!("d: sent, log had {seen}"));
        })
        .settle(move |ctx| {
            ctx.exit(p, Reason::Kill);
            assert!(!ctx.is_alive(p));
            ctx.send(p, "into the void".to_string());
            push(&l2, "d: sent to dead p");
        })
        .then(move |_| push(&l3, "d: next step"));
    let d = sim.spawn_client(0, Box::new(driver));
    assert_eq!(sim.run(), Outcome::Quiescent);

    assert_eq!(
        entries(&log),
        [
            "d: sent, log had 0",
            "p: msg hello",
            "d: sent to dead p",
            "d: next step"
        ]
    );
    assert!(sim.is_alive(d));
    assert!(!sim.is_alive(p));
    assert_eq!(sim.queued_signals(), 0);
}

/// The part of a log line after `"<who>: msg "` or `"<who>: EXIT "`.
fn payload<'a>(line: &'a str, who: &str) -> &'a str {
    let rest = line
        .strip_prefix(who)
        .and_then(|r| r.strip_prefix(": "))
        .unwrap_or("");
    rest.strip_prefix("msg ")
        .or_else(|| rest.strip_prefix("EXIT "))
        .unwrap_or(rest)
}

/// A sender that links to `c`, sends `<tag>0..<tag>9` over five steps with
/// an exit signal in the middle, and finally exits with `<tag>_done`.
fn sender(tag: &'static str, c: Pid, log: &Log) -> Seq<M> {
    let mut seq = Seq::<M>::new(tag, log)
        .rendering(describe)
        .then(move |ctx| ctx.link(c).expect("c is alive"));
    for pair in 0..5 {
        seq = seq.then(move |ctx| {
            ctx.send(c, format!("{tag}{}", 2 * pair));
            if pair == 2 {
                ctx.exit(c, Reason::Other(format!("{tag}_x")));
            }
            ctx.send(c, format!("{tag}{}", 2 * pair + 1));
        });
    }
    seq.then_control(move |_| Control::Exit(Reason::Other(format!("{tag}_done"))))
}

#[test]
fn s5_signals_on_one_pair_arrive_in_send_order() {
    let mut interleavings = BTreeSet::new();
    for seed in 0..40 {
        let mut sim = sim_with(Box::new(RandomWalk::new(seed)));
        let log = log();
        let c = spawn(&mut sim, Probe::new("c", &log).trapping());
        sim.spawn_client(0, Box::new(sender("a", c, &log)));
        sim.spawn_client(1, Box::new(sender("b", c, &log)));
        assert_eq!(sim.run(), Outcome::Quiescent);

        let seen = entries(&log);
        for tag in ["a", "b"] {
            let from_tag: Vec<&str> = seen
                .iter()
                .map(|l| payload(l, "c"))
                .filter(|p| p.starts_with(tag))
                .collect();
            let x = format!("{tag}_x");
            let done = format!("{tag}_done");
            let mut expected: Vec<String> = (0..10).map(|i| format!("{tag}{i}")).collect();
            expected.insert(5, x); // sent between a4 and a5
            expected.push(done);
            assert_eq!(
                from_tag, expected,
                "seed {seed}: pair {tag} -> c out of order"
            );
        }
        interleavings.insert(seen);
    }
    assert!(
        interleavings.len() > 1,
        "the random walk never reordered across pairs: the test is vacuous"
    );
}

/// A sends `from a` to C, then `go` to B; B, on `go`, sends `from b` to C.
fn relay(sim: &mut Sim<M>, log: &Log) {
    let c = spawn(sim, Probe::new("c", log));
    let b = spawn(
        sim,
        Probe::new("b", log).on(move |ctx, incoming| {
            if matches!(incoming, Incoming::Message { msg, .. } if msg == "go") {
                ctx.send(c, "from b".to_string());
            }
            Control::Continue
        }),
    );
    let a = Seq::<M>::new("a", log)
        .rendering(describe)
        .then(move |ctx| {
            ctx.send(c, "from a".to_string()); // signal 0 of client0.cmd0
            ctx.send(b, "go".to_string()); // signal 1 of client0.cmd0
        });
    sim.spawn_client(0, Box::new(a));
}

fn c_order(log: &Log) -> Vec<String> {
    entries(log)
        .into_iter()
        .filter(|l| l.starts_with("c: "))
        .collect()
}

#[test]
fn s6_no_order_across_pairs() {
    // fifo: the common outcome.
    let mut sim = fifo_sim();
    let log = common::log();
    relay(&mut sim, &log);
    sim.run();
    assert_eq!(c_order(&log), ["c: msg from a", "c: msg from b"]);

    // Deliver `go`, then B's message, before A's message to C.
    let go = EventKey::client(0, 0).deliver(1);
    let from_b = go.deliver(0);
    let mut sim = sim_with(Box::new(Overrides::new(vec![go, from_b])));
    let log = common::log();
    relay(&mut sim, &log);
    sim.run();
    assert_eq!(
        c_order(&log),
        ["c: msg from b", "c: msg from a"],
        "C got B's message first, although B sent it because of A"
    );

    // A random schedule finds that order on its own.
    let found = (0..100).any(|seed| {
        let mut sim = sim_with(Box::new(RandomWalk::new(seed)));
        let log = common::log();
        relay(&mut sim, &log);
        sim.run();
        c_order(&log) == ["c: msg from b", "c: msg from a"]
    });
    assert!(found, "no seed in 0..100 let B's message overtake A's");
}

#[test]
fn s7_messages_are_handled_in_arrival_order_one_handler_at_a_time() {
    let mut sim = fifo_sim();
    let log = log();
    // C answers a ping with a pong, and asks whether B is alive: B's handler
    // is running, so the pong must wait for it to finish.
    let c_pid: Rc<RefCell<Option<Pid>>> = Rc::new(RefCell::new(None));
    let c_of_b = c_pid.clone();
    let lb = log.clone();
    let b = spawn(
        &mut sim,
        Probe::new("b", &log).on(move |ctx, incoming| {
            if matches!(incoming, Incoming::Message { msg, .. } if msg == "x") {
                let c = c_of_b.borrow().expect("c spawned");
                ctx.send(c, "ping".to_string());
                ctx.send(ctx.me(), "to self".to_string());
                // Delivers the ping inside this step (S3), but nothing of ours.
                assert!(ctx.is_alive(c));
                push(&lb, "b: end of x");
            }
            Control::Continue
        }),
    );
    let c = spawn(
        &mut sim,
        Probe::new("c", &log).on(move |ctx, incoming| {
            if matches!(incoming, Incoming::Message { msg, .. } if msg == "ping") {
                ctx.send(b, "pong".to_string());
                assert!(ctx.is_alive(b));
            }
            Control::Continue
        }),
    );
    *c_pid.borrow_mut() = Some(c);
    let driver = Seq::<M>::new("d", &log)
        .rendering(describe)
        .then(move |ctx| {
            for msg in ["x", "m1", "m2"] {
                ctx.send(b, msg.to_string());
            }
        });
    sim.spawn_client(0, Box::new(driver));
    sim.run();

    let got = entries(&log);
    // Nothing nests into b's handler of x.
    assert_eq!(got[..3], ["b: msg x", "c: msg ping", "b: end of x"]);
    // Each of b's mailboxes (pairs) is taken in order: m1 before m2, and the
    // pong (c -> b) and the message to itself (b -> b) after the handler.
    let b_got: Vec<&str> = got
        .iter()
        .filter(|l| l.starts_with("b: msg"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        b_got,
        [
            "b: msg x",
            "b: msg m1",
            "b: msg m2",
            "b: msg to self",
            "b: msg pong"
        ]
    );
}
