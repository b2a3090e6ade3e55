//! docs/semantics.md S8–S19: links, exit signals, trapping, monitors and DOWN,
//! and the exit reasons the watchers see, driven through the core.

mod common;

use common::{Log, M, Probe, Seq, fifo_sim, log, spawn};
use kvsim::otp::{self, Agent, Envelope, GenServerProcess};
use kvsim::sim::choice::{Fifo, Overrides, RandomWalk};
use kvsim::sim::{
    Control, EventKey, Incoming, Limits, Naming, Outcome, Pid, Reason, Ref, Sim, SpawnOpts,
};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::rc::Rc;

fn push(log: &Log, line: impl Into<String>) {
    log.borrow_mut().push(line.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

fn of(log: &Log, who: &str) -> Vec<String> {
    let prefix = format!("{who}: ");
    entries(log)
        .into_iter()
        .filter(|l| l.starts_with(&prefix))
        .collect()
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

/// A plain (non-client) process that only logs.
fn quiet(sim: &mut Sim<M>, name: &str, log: &Log, trap_exit: bool) -> Pid {
    let seq = Seq::<M>::new(name, log);
    spawn(sim, if trap_exit { seq.trapping() } else { seq })
}

type Shared<T> = Rc<RefCell<T>>;

fn shared<T: Default>() -> Shared<T> {
    Rc::new(RefCell::new(T::default()))
}

#[test]
fn s8_links_are_symmetric_and_every_partner_gets_the_reason() {
    let mut sim = fifo_sim();
    let log = log();
    let b = spawn(
        &mut sim,
        Seq::<M>::new("b", &log).on(|_, incoming| match incoming {
            Incoming::Message { msg, .. } if msg == "die" => {
                Control::Exit(Reason::Other("b_died".into()))
            }
            _ => Control::Continue,
        }),
    );
    let c = quiet(&mut sim, "c", &log, true);
    // a creates both links; b's death reaches a, a's death reaches c.
    let a = Seq::<M>::new("a", &log)
        .trapping()
        .then(move |ctx| {
            ctx.link(b).expect("b is alive");
            ctx.link(c).expect("c is alive");
        })
        .settle(move |ctx| ctx.send(b, "die".to_string()))
        .settle_exit(Reason::Other("a_died".into()));
    let a = sim.spawn_client(0, Box::new(a));
    assert_eq!(sim.run(), Outcome::Quiescent);

    assert_eq!(
        entries(&log),
        [
            "b: msg \"die\"".to_string(),
            format!("a: EXIT {b:?} b_died"),
            format!("c: EXIT {a:?} a_died"),
        ]
    );
    assert!(!sim.is_alive(a) && !sim.is_alive(b));
    assert!(sim.is_alive(c), "a trapping partner lives on");
    assert!(sim.tables_consistent());
}

#[test]
fn s9_a_non_trapping_partner_ignores_a_normal_exit() {
    let mut sim = fifo_sim();
    let log = log();
    let p = quiet(&mut sim, "p", &log, false);
    let q = Seq::<M>::new("q", &log)
        .then(move |ctx| ctx.link(p).expect("p is alive"))
        .then_exit(Reason::Normal);
    let z = Seq::<M>::new("z", &log).settle(move |ctx| ctx.send(p, "still here".to_string()));
    let q = sim.spawn_client(0, Box::new(q));
    sim.spawn_client(1, Box::new(z));
    assert_eq!(sim.run(), Outcome::Quiescent);

    assert!(!sim.is_alive(q));
    assert!(
        sim.is_alive(p),
        "a normal exit must not take the partner down"
    );
    assert_eq!(entries(&log), ["p: msg \"still here\""]);
}

#[test]
fn s10_an_abnormal_exit_propagates_along_links_with_the_same_reason() {
    let mut sim = fifo_sim();
    let log = log();
    let c = quiet(&mut sim, "c", &log, true);
    let b = Seq::<M>::new("b", &log).then(move |ctx| ctx.link(c).expect("c is alive"));
    let b = sim.spawn_client(0, Box::new(b));
    let w = Seq::<M>::new("w", &log).then(move |ctx| {
        ctx.monitor(b);
    });
    sim.spawn_client(1, Box::new(w));
    let q = Seq::<M>::new("q", &log)
        .then(move |ctx| ctx.link(b).expect("b is alive"))
        .then_exit(Reason::boom());
    let q = sim.spawn_client(2, Box::new(q));
    assert_eq!(sim.run(), Outcome::Quiescent);

    assert!(!sim.is_alive(q) && !sim.is_alive(b), "b died of q's boom");
    assert!(sim.is_alive(c));
    // b's links and monitors see b exit with q's reason, sent by b.
    assert_eq!(of(&log, "c"), [format!("c: EXIT {b:?} boom")]);
    let w_log = of(&log, "w");
    assert_eq!(w_log.len(), 1);
    assert!(
        w_log[0].starts_with("w: DOWN ") && w_log[0].ends_with(&format!("{b:?} boom")),
        "{w_log:?}"
    );
}

#[test]
fn s11_an_exit_signal_acts_like_a_link_exit() {
    let mut sim = fifo_sim();
    let log = log();
    let p = quiet(&mut sim, "p", &log, false);
    let mref: Shared<Option<Ref>> = shared();
    let (l1, l2, m) = (log.clone(), log.clone(), mref.clone());
    let d = Seq::<M>::new("d", &log)
        .then(move |ctx| {
            *m.borrow_mut() = Some(ctx.monitor(p));
            ctx.exit(p, Reason::Normal);
        })
        .settle(move |ctx| {
            push(&l1, format!("d: alive {}", ctx.is_alive(p)));
            ctx.exit(p, Reason::Other("bye".into()));
        })
        .settle(move |ctx| push(&l2, format!("d: alive {}", ctx.is_alive(p))));
    let d = sim.spawn_client(0, Box::new(d));
    sim.run();

    let mref = mref.borrow().expect("monitored");
    assert_eq!(
        entries(&log),
        [
            "d: alive true".to_string(),
            format!("d: DOWN {mref:?} {p:?} bye"),
            "d: alive false".to_string()
        ]
    );
    assert!(sim.is_alive(d));
}

#[test]
fn s12_kill_is_untrappable_and_seen_as_killed() {
    let mut sim = fifo_sim();
    let log = log();
    let p = quiet(&mut sim, "p", &log, true);
    let mref: Shared<Option<Ref>> = shared();
    let m = mref.clone();
    let d = Seq::<M>::new("d", &log).trapping().then(move |ctx| {
        ctx.link(p).expect("p is alive");
        *m.borrow_mut() = Some(ctx.monitor(p));
        ctx.exit(p, Reason::Kill);
    });
    let d = sim.spawn_client(0, Box::new(d));
    sim.run();

    let mref = mref.borrow().expect("monitored");
    assert!(!sim.is_alive(p), "a trapping process still dies of kill");
    assert!(of(&log, "p").is_empty(), "kill never becomes a message");
    assert_eq!(
        sorted(of(&log, "d")),
        [
            format!("d: DOWN {mref:?} {p:?} killed"),
            format!("d: EXIT {p:?} killed")
        ],
        "links and monitors see `killed`, not `kill`"
    );
    assert!(sim.is_alive(d));
}

#[test]
fn s13_trapping_turns_every_exit_signal_but_kill_into_a_message() {
    let mut sim = fifo_sim();
    let log = log();
    let p = quiet(&mut sim, "p", &log, true);
    let d = Seq::<M>::new("d", &log)
        .then(move |ctx| {
            ctx.exit(p, Reason::Normal);
            ctx.exit(p, Reason::boom());
        })
        .settle(move |ctx| ctx.link(p).expect("p is alive"))
        .then_exit(Reason::Other("bye".into()));
    let d = sim.spawn_client(0, Box::new(d));
    assert_eq!(sim.run(), Outcome::Quiescent);

    assert_eq!(
        entries(&log),
        [
            format!("p: EXIT {d:?} normal"),
            format!("p: EXIT {d:?} boom"),
            format!("p: EXIT {d:?} bye")
        ]
    );
    assert!(sim.is_alive(p));
}

#[test]
fn s14_linking_to_a_dead_pid() {
    for trap_exit in [false, true] {
        let mut sim = fifo_sim();
        let log = log();
        let p = quiet(&mut sim, "p", &log, false);
        let l = log.clone();
        let mut d = Seq::<M>::new("d", &log).then(move |ctx| {
            ctx.exit(p, Reason::Kill);
            assert!(!ctx.is_alive(p));
            push(&l, format!("d: link {:?}", ctx.link(p)));
        });
        if trap_exit {
            d = d.trapping();
        }
        let d = sim.spawn_client(0, Box::new(d));
        sim.run();

        if trap_exit {
            // The documented `{:EXIT, P, :noproc}` message.
            assert_eq!(
                entries(&log),
                [
                    "d: link Ok(())".to_string(),
                    format!("d: EXIT {p:?} noproc")
                ]
            );
        } else {
            assert_eq!(entries(&log), ["d: link Err(noproc)"]);
        }
        assert!(sim.is_alive(d));
        assert!(sim.tables_consistent());
    }
}

#[test]
fn s15_each_monitor_gives_exactly_one_down_and_never_kills_the_watcher() {
    let mut sim = fifo_sim();
    let log = log();
    let p = quiet(&mut sim, "p", &log, false);
    let refs: Shared<Vec<Ref>> = shared();
    let r = refs.clone();
    let d = Seq::<M>::new("d", &log).then(move |ctx| {
        let first = ctx.monitor(p);
        let second = ctx.monitor(p);
        r.borrow_mut().extend([first, second]);
        ctx.exit(p, Reason::boom());
    });
    let d = sim.spawn_client(0, Box::new(d));
    assert_eq!(sim.run(), Outcome::Quiescent);

    let refs = refs.borrow();
    assert_ne!(refs[0], refs[1], "monitor returns a fresh ref");
    assert_eq!(
        sorted(entries(&log)),
        sorted(
            refs.iter()
                .map(|r| format!("d: DOWN {r:?} {p:?} boom"))
                .collect()
        )
    );
    assert!(sim.is_alive(d), "a monitor is one-way");
}

#[test]
fn s16_down_arrives_after_last_message() {
    let mut orders = BTreeSet::new();
    for seed in 0..30 {
        let mut sim = Sim::<M>::new(Box::new(RandomWalk::new(seed)), Limits::default(), true);
        let log = log();
        let w = Seq::<M>::new("w", &log).then(move |ctx| {
            let w = ctx.me();
            // p answers each `go` with ten messages and exits after the last.
            let p = Seq::<M>::new("p", &common::log()).on(move |ctx, incoming| {
                let Incoming::Message { msg, .. } = incoming else {
                    return Control::Continue;
                };
                let k: usize = msg.trim_start_matches("go").parse().expect("go<k>");
                for i in 0..10 {
                    ctx.send(w, format!("m{}", 10 * k + i));
                }
                if k == 9 {
                    Control::Exit(Reason::Other("done".into()))
                } else {
                    Control::Continue
                }
            });
            let opts = SpawnOpts {
                naming: Naming::Child,
                role: None,
                link: false,
                monitor: true,
            };
            let p = ctx.spawn(opts, Box::new(p)).expect("init succeeds").pid;
            for k in 0..10 {
                ctx.send(p, format!("go{k}"));
            }
        });
        let w = sim.spawn_client(0, Box::new(w));
        assert_eq!(sim.run(), Outcome::Quiescent);

        let got = entries(&log);
        assert_eq!(got.len(), 101, "seed {seed}: {got:?}");
        let expected: Vec<String> = (0..100).map(|i| format!("w: msg \"m{i}\"")).collect();
        assert_eq!(got[..100], expected[..], "seed {seed}");
        assert!(
            got[100].starts_with("w: DOWN ") && got[100].ends_with(" done"),
            "seed {seed}: {}",
            got[100]
        );
        assert!(sim.is_alive(w));
        orders.insert(sim.trace().expect("tracing").to_text());
    }
    assert!(
        orders.len() > 1,
        "the random walk never varied the schedule"
    );
}

#[test]
fn s17_monitoring_a_dead_pid_gives_down_noproc_at_once() {
    let mut sim = fifo_sim();
    let log = log();
    let p = quiet(&mut sim, "p", &log, false);
    let mref: Shared<Option<Ref>> = shared();
    let (l, m) = (log.clone(), mref.clone());
    let d = Seq::<M>::new("d", &log).then(move |ctx| {
        ctx.exit(p, Reason::Kill);
        assert!(!ctx.is_alive(p));
        let r = ctx.monitor(p);
        *m.borrow_mut() = Some(r);
        push(&l, "d: monitor returned");
    });
    let d = sim.spawn_client(0, Box::new(d));
    sim.run();

    let mref = mref.borrow().expect("monitored");
    assert_eq!(
        entries(&log),
        [
            "d: monitor returned".to_string(),
            format!("d: DOWN {mref:?} {p:?} noproc")
        ]
    );
    assert!(sim.is_alive(d));
    assert_eq!(sim.steps(), 2, "the DOWN is the very next event");
}

/// Found by the BEAM reference runner (conformance script
/// `kill_registry_then_lookup`): a monitor request travels on the same pair
/// as an exit signal sent before it, so it reaches a process that is
/// already dead and answers `noproc`, not the exit reason.
#[test]
fn s5_a_monitor_sent_after_an_exit_signal_finds_the_process_dead() {
    let mut sim = fifo_sim();
    let log = log();
    let p = quiet(&mut sim, "p", &log, false);
    let l = log.clone();
    let d = Seq::<M>::new("d", &log).then(move |ctx| {
        ctx.exit(p, Reason::Kill);
        let mref = ctx.monitor(p);
        push(&l, format!("d: monitor {mref:?} sent"));
    });
    sim.spawn_client(0, Box::new(d));
    sim.run();
    let got = entries(&log);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[1].ends_with(" noproc"),
        "the monitor found p dead: {got:?}"
    );
}

/// ... while a message sent before the monitor is in the mailbox when the
/// monitor arrives, so the monitor is in force when that message kills the
/// receiver: the DOWN carries the crash reason (conformance script
/// `stray_then_lookup`, `ERROR function_clause` 2000/2000 on the BEAM).
#[test]
fn s17_a_monitor_sent_after_a_message_is_in_force_when_the_message_is_handled() {
    let mut sim = fifo_sim();
    let log = log();
    let p = spawn(
        &mut sim,
        Probe::new("p", &log).on(|_, _| Control::Exit(Reason::Other("boom".into()))),
    );
    let l = log.clone();
    let d = Seq::<M>::new("d", &log).then(move |ctx| {
        ctx.send(p, "poison".to_string());
        let mref = ctx.monitor(p);
        push(&l, format!("d: monitor {mref:?} sent"));
    });
    sim.spawn_client(0, Box::new(d));
    sim.run();
    let got = entries(&log);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[1], "p: msg poison");
    assert!(
        got[2].ends_with(" boom"),
        "the DOWN carries p's reason: {got:?}"
    );
}

/// `unlink/1`: once it returns, the link has no further effect on the
/// caller — even when the partner already died and its exit signal is on
/// the way (ERTS `erlang:unlink/1` docs).
#[test]
fn s8_unlink_cancels_a_link_exit_already_on_the_way() {
    for unlink in [false, true] {
        // d links to a and sends it an exit signal (command 0: the link
        // takes send index 0, the exit index 1); the exit lands, so a's
        // link exit to d is queued; then d (command 1) unlinks, or not.
        let schedule = vec![
            EventKey::client(0, 0),
            EventKey::client(0, 0).deliver(1),
            EventKey::client(0, 1),
        ];
        let mut sim: Sim<M> = Sim::new(Box::new(Overrides::new(schedule)), Limits::default(), true);
        let log = log();
        let a = quiet(&mut sim, "a", &log, false);
        let d = Seq::<M>::new("d", &log)
            .then(move |ctx| {
                ctx.link(a).expect("a is alive");
                ctx.exit(a, Reason::Other("boom".into()));
            })
            .then(move |ctx| {
                if unlink {
                    ctx.unlink(a);
                }
            });
        let d = sim.spawn_client(0, Box::new(d));
        sim.run();
        assert!(!sim.is_alive(a));
        let text = sim.trace().expect("tracing").to_text();
        assert!(
            text.contains("exit boom (link)"),
            "a's link exit was sent:\n{text}"
        );
        assert_eq!(sim.is_alive(d), unlink, "unlink = {unlink}:\n{text}");
    }
}

#[test]
fn s18_demonitor_leaves_a_queued_down_unless_flushed() {
    #[derive(Clone, Copy, Debug)]
    enum When {
        BeforeDeath,
        AfterDeath,
        AfterDeathFlush,
    }
    for when in [When::BeforeDeath, When::AfterDeath, When::AfterDeathFlush] {
        let mut sim = fifo_sim();
        let log = log();
        let p = quiet(&mut sim, "p", &log, false);
        let mref: Shared<Option<Ref>> = shared();
        let (l, m) = (log.clone(), mref.clone());
        let d = Seq::<M>::new("d", &log)
            .then(move |ctx| {
                let r = ctx.monitor(p);
                *m.borrow_mut() = Some(r);
                if let When::BeforeDeath = when {
                    ctx.demonitor(r, false);
                }
                ctx.exit(p, Reason::Kill);
                // Delivers the kill: p is dead and its DOWN is queued for us.
                assert!(!ctx.is_alive(p));
                match when {
                    When::BeforeDeath => {}
                    When::AfterDeath => ctx.demonitor(r, false),
                    When::AfterDeathFlush => ctx.demonitor(r, true),
                }
            })
            .settle(move |_| push(&l, "d: end"));
        sim.spawn_client(0, Box::new(d));
        sim.run();

        let mref = mref.borrow().expect("monitored");
        match when {
            When::AfterDeath => {
                assert_eq!(
                    entries(&log),
                    [
                        format!("d: DOWN {mref:?} {p:?} killed"),
                        "d: end".to_string()
                    ]
                )
            }
            When::BeforeDeath | When::AfterDeathFlush => {
                assert_eq!(entries(&log), ["d: end"], "{when:?}")
            }
        }
    }
}

/// The payload of the Agents of `s19`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum P {
    Get,
    Val(i64),
    Raise,
}

fn apply(state: &mut i64, req: P) -> Result<P, Reason> {
    match req {
        P::Get => Ok(P::Val(*state)),
        P::Raise => panic!("raised in a callback"),
        P::Val(_) => Err(Reason::FunctionClause),
    }
}

#[test]
fn s19_reasons_of_agent_stop_kill_and_a_raise() {
    type E = Envelope<P>;
    let mut sim = Sim::<E>::new(Box::new(Fifo), Limits::default(), true);
    let log = log();
    let agent = |sim: &mut Sim<E>| {
        let process = GenServerProcess::new(Agent::new(0_i64, apply), None);
        sim.spawn(SpawnOpts::child(), Box::new(process))
            .expect("init succeeds")
            .pid
    };
    let (stopped, killed, raised) = (agent(&mut sim), agent(&mut sim), agent(&mut sim));
    let refs: Shared<Vec<Ref>> = shared();
    let downs: Shared<BTreeMap<Ref, Reason>> = shared();
    let (r, dn) = (refs.clone(), downs.clone());
    let d = Seq::<E>::new("d", &log)
        .on(move |_, incoming| {
            if let Incoming::Down { mref, reason, .. } = incoming {
                dn.borrow_mut().insert(*mref, reason.clone());
            }
            Control::Continue
        })
        .then(move |ctx| {
            r.borrow_mut().extend([
                ctx.monitor(stopped),
                ctx.monitor(killed),
                ctx.monitor(raised),
            ]);
            otp::stop(ctx, stopped, Reason::Normal);
            ctx.exit(killed, Reason::Kill);
            otp::call(ctx, raised, P::Get, None);
            otp::call(ctx, raised, P::Raise, None);
        });
    let d = sim.spawn_client(0, Box::new(d));
    assert_eq!(sim.run(), Outcome::Quiescent);

    let refs = refs.borrow();
    let downs = downs.borrow();
    assert_eq!(downs.get(&refs[0]), Some(&Reason::Normal), "Agent.stop");
    assert_eq!(downs.get(&refs[1]), Some(&Reason::Killed), "kill");
    assert_eq!(
        downs.get(&refs[2]),
        Some(&Reason::Panic("raised in a callback".into())),
        "raise"
    );
    assert!(sim.is_alive(d));
    assert_eq!(sim.live_processes(), 1);
}

#[test]
fn a_panicking_handler_exits_with_reason_panic_and_the_run_goes_on() {
    let mut sim = fifo_sim();
    let log = log();
    let p = spawn(
        &mut sim,
        Probe::new("p", &log).on(|_, incoming| match incoming {
            Incoming::Message { msg, .. } if msg == "boom" => panic!("handler blew up"),
            _ => Control::Continue,
        }),
    );
    let mref: Shared<Option<Ref>> = shared();
    let (l, m) = (log.clone(), mref.clone());
    let d = Seq::<M>::new("d", &log)
        .trapping()
        .then(move |ctx| {
            ctx.link(p).expect("p is alive");
            *m.borrow_mut() = Some(ctx.monitor(p));
            ctx.send(p, "boom".to_string());
        })
        .settle(move |ctx| push(&l, format!("d: p alive {}", ctx.is_alive(p))));
    let d = sim.spawn_client(0, Box::new(d));
    assert_eq!(
        sim.run(),
        Outcome::Quiescent,
        "the harness survives the panic"
    );

    let mref = mref.borrow().expect("monitored");
    let reason = Reason::Panic("handler blew up".into());
    assert_eq!(
        entries(&log)[..1],
        ["p: msg boom".to_string()],
        "the handler ran before it panicked"
    );
    assert_eq!(
        sorted(entries(&log)[1..3].to_vec()),
        [
            format!("d: DOWN {mref:?} {p:?} {reason}"),
            format!("d: EXIT {p:?} {reason}")
        ]
    );
    assert_eq!(entries(&log)[3..], ["d: p alive false".to_string()]);
    assert!(sim.is_alive(d));
}
