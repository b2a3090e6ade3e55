//! The online checker of property 4 (`check::linearizability::Online`,
//! Lowe's just-in-time linearization per object) against the batch checker
//! it replaces (`check_partitioned`, Wing & Gong with Lowe's memoisation,
//! which solves the whole history again), on random histories.
//!
//! What is compared: a history is fed to the online checker step by step,
//! as the harness feeds it (each operation invoked at its step, with its
//! result unknown until its answer; a `CREATE`'s and a model event's
//! result known at once), and after every step its verdict is compared
//! with the batch checker's on the history up to that step (operations
//! not yet answered taken as indeterminate, an unanswered `CREATE` as still
//! in flight), and once more at the end (unanswered `CREATE`s dropped).
//! The two must be equal as values: the same object refuted with the same
//! explanation (longest linearizable prefix, what could not come next), or
//! both linearizable. Both bounds are far above what these histories need,
//! and the test asserts that neither search was undecided; where a bound
//! is reached, see `bounds_never_turn_a_verdict_around`.

use kvsim::check::linearizability::{
    KvModel, KvOp, KvResult, Online, Operation, PartitionViolation, SequentialModel,
    UndecidedPartition, check_partitioned,
};
use kvsim::check::{
    CheckConfig, LinearizabilityCheck, P4_LINEARIZABLE, SearchConfig, nth_case, run_case,
};
use kvsim::kv::Stage;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngSeed};
use std::collections::BTreeMap;

const BOUND: usize = 100_000;

/// A history from random numbers: a sequential run of the chapter's model
/// (the operation at index `i` takes effect at step `3 i + 5`), each
/// operation's interval stretched around that point so that neighbours
/// overlap, some answers `ERROR` (the effect may or may not have happened),
/// some never answered, some `CREATE`s never handled, bucket and registry
/// deaths as model events; with `corrupt`, one answer replaced by one the
/// run did not give (which may or may not be a violation).
fn history(numbers: &[u64], corrupt: Option<u64>) -> Vec<Operation> {
    make_history(numbers, corrupt, false)
}

/// The same, crowded: two names, one key, one value, mostly `CREATE`s
/// (many never handled), `LOOKUP`s, `PUT`s and `DELETE`s, with wide
/// intervals, so that many identical operations are in flight at once
/// (the online checker merges configurations that differ only in which of
/// them were linearized), with bucket deaths between them.
fn crowded_history(numbers: &[u64], corrupt: Option<u64>) -> Vec<Operation> {
    make_history(numbers, corrupt, true)
}

fn make_history(numbers: &[u64], corrupt: Option<u64>, crowded: bool) -> Vec<Operation> {
    let mut numbers = numbers.iter().copied().chain(std::iter::repeat(7));
    let mut next = move |below: u64| numbers.next().unwrap() % below;
    let (names, keys, values): (&[&str], &[&str], &[&str]) = match crowded {
        false => (&["a", "b", "c"], &["x", "y"], &["1", "2"]),
        true => (&["a", "b"], &["x"], &["1"]),
    };
    let mut model = KvModel::new();
    let mut history = Vec::new();
    let count = 4 + next(if crowded { 20 } else { 14 }) as usize;
    let reach = if crowded { 12 } else { 5 };
    for index in 0..count {
        let point = 3 * index as u64 + reach;
        let name = names[next(names.len() as u64) as usize].to_string();
        let key = keys[next(keys.len() as u64) as usize].to_string();
        let value = values[next(values.len() as u64) as usize].to_string();
        let op = match (crowded, next(16)) {
            (false, 0..=2) | (true, 0..=5) => KvOp::Create { name },
            (false, 3) | (true, 6..=8) => KvOp::Lookup { name },
            (false, 4..=6) | (true, 9..=10) => KvOp::Put { name, key, value },
            (false, 10) | (true, 11) => KvOp::Delete { name, key },
            (false, 11) => KvOp::Stop { name },
            (_, 12) => KvOp::BucketDied { name },
            (false, 13) => KvOp::RegistryDied,
            (true, 13) if next(4) == 0 => KvOp::RegistryDied,
            _ => KvOp::Get { name, key },
        };
        let answer = || match &op {
            KvOp::Create { .. } | KvOp::BucketDied { .. } | KvOp::RegistryDied => KvResult::None,
            KvOp::Get { name, key } if model.registry_alive => match model.buckets.get(name) {
                Some(data) => KvResult::Value(data.get(key).map(str::to_string)),
                None => KvResult::NotFound,
            },
            _ if !model.registry_alive => KvResult::Indeterminate,
            op => match model.buckets.contains_key(op.name().unwrap()) {
                true => KvResult::Ok,
                false => KvResult::NotFound,
            },
        };
        let mut result = answer();
        let (before, after) = (next(reach), next(reach));
        let mut span = (point - before, point + after);
        let mut took_effect = true;
        if op.is_model_event() {
            span = (point, point);
        } else if let KvOp::Create { .. } = op {
            // A cast the registry never handled (its registry died first)
            // took no effect.
            if next(if crowded { 3 } else { 8 }) == 0 {
                span.1 = u64::MAX;
                took_effect = false;
            }
        } else {
            match next(10) {
                0 => {
                    result = KvResult::Indeterminate;
                    took_effect = next(2) == 0;
                }
                1 => {
                    result = KvResult::Indeterminate;
                    span.1 = u64::MAX;
                    took_effect = next(2) == 0;
                }
                _ => {}
            }
        }
        if took_effect {
            let effect = match op.is_model_event() {
                true => KvResult::None,
                false => KvResult::Indeterminate,
            };
            model = model.apply(&op, &effect).unwrap_or(model);
        }
        history.push(Operation {
            id: index,
            client: (!op.is_model_event()).then_some(index as u32 % 3),
            invoke: span.0,
            response: span.1,
            op,
            result,
        });
    }
    if let Some(pick) = corrupt {
        let answered: Vec<usize> = (0..history.len())
            .filter(|&i| history[i].response != u64::MAX && history[i].result != KvResult::None)
            .collect();
        if !answered.is_empty() {
            let op = &mut history[answered[pick as usize % answered.len()]];
            op.result = match (&op.op, &op.result) {
                (KvOp::Get { .. }, KvResult::Value(Some(_))) => KvResult::Value(None),
                (KvOp::Get { .. }, _) => KvResult::Value(Some("2".into())),
                (_, KvResult::Ok) => KvResult::NotFound,
                _ => KvResult::Ok,
            };
        }
    }
    history
}

/// A model in which nothing is idempotent, so that linearizing one more or
/// one fewer of several identical operations shows: each `CREATE` and each
/// `PUT` of a name adds one to its tally (a `PUT` answers `OK`), a `GET`
/// answers the tally as its value. The KV model's operations are all
/// idempotent, which would hide a checker that lets one operation be
/// linearized twice.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Tally(BTreeMap<String, u32>);

impl SequentialModel for Tally {
    fn successors(&self, op: &KvOp, result: &KvResult) -> Vec<Tally> {
        let name = op.name().unwrap_or_default().to_string();
        let count = self.0.get(&name).copied().unwrap_or(0);
        let mut added = self.clone();
        added.0.insert(name, count + 1);
        match (op, result) {
            (KvOp::Create { .. }, KvResult::None) | (KvOp::Put { .. }, KvResult::Ok) => {
                vec![added]
            }
            (KvOp::Create { .. } | KvOp::Put { .. }, KvResult::Indeterminate) => {
                vec![added, self.clone()]
            }
            (KvOp::Get { .. }, KvResult::Value(Some(seen))) if *seen == count.to_string() => {
                vec![self.clone()]
            }
            (KvOp::Get { .. }, KvResult::Indeterminate) => vec![self.clone()],
            _ => Vec::new(),
        }
    }

    fn partition(op: &KvOp) -> Option<String> {
        KvModel::partition(op)
    }
}

/// A history of [`Tally`] from random numbers, as [`history`] makes one of
/// the KV model: crowded (two names, wide intervals), mostly `CREATE`s
/// (one in three never handled) and `GET`s, some `PUT`s answering `ERROR`
/// or never answered, some `GET`s answering `ERROR`; with `corrupt`, one
/// `GET` answers one more or one less.
fn tally_history(numbers: &[u64], corrupt: Option<u64>) -> Vec<Operation> {
    let mut numbers = numbers.iter().copied().chain(std::iter::repeat(7));
    let mut next = move |below: u64| numbers.next().unwrap() % below;
    let mut model = Tally::default();
    let mut history = Vec::new();
    let count = 4 + next(18) as usize;
    let reach = 10;
    for index in 0..count {
        let point = 3 * index as u64 + reach;
        let name = ["a", "b"][next(2) as usize].to_string();
        let op = match next(8) {
            0..=3 => KvOp::Create { name },
            4 => KvOp::Put {
                name,
                key: "x".into(),
                value: "1".into(),
            },
            _ => KvOp::Get {
                name,
                key: "x".into(),
            },
        };
        let mut span = (point - next(reach), point + next(reach));
        let mut result = match &op {
            KvOp::Create { .. } => KvResult::None,
            KvOp::Put { .. } => KvResult::Ok,
            _ => {
                let tally = model.0.get(op.name().unwrap()).copied().unwrap_or(0);
                KvResult::Value(Some(tally.to_string()))
            }
        };
        let mut took_effect = true;
        match (&op, next(6)) {
            (KvOp::Create { .. }, 0..=1) => {
                span.1 = u64::MAX;
                took_effect = false;
            }
            (KvOp::Put { .. }, 0) => {
                result = KvResult::Indeterminate;
                took_effect = next(2) == 0;
            }
            (KvOp::Put { .. }, 1) => {
                result = KvResult::Indeterminate;
                span.1 = u64::MAX;
                took_effect = next(2) == 0;
            }
            (KvOp::Get { .. }, 0) => result = KvResult::Indeterminate,
            _ => {}
        }
        if took_effect {
            let effect = match &op {
                KvOp::Create { .. } => KvResult::None,
                _ => KvResult::Indeterminate,
            };
            model = model.successors(&op, &effect).remove(0);
        }
        history.push(Operation {
            id: index,
            client: Some(index as u32 % 3),
            invoke: span.0,
            response: span.1,
            op,
            result,
        });
    }
    if let Some(pick) = corrupt {
        let gets: Vec<usize> = (0..history.len())
            .filter(|&i| matches!(history[i].result, KvResult::Value(_)))
            .collect();
        if !gets.is_empty() {
            let op = &mut history[gets[pick as usize % gets.len()]];
            if let KvResult::Value(Some(seen)) = &op.result {
                let seen: u32 = seen.parse().unwrap();
                let wrong = if pick % 2 == 0 {
                    seen + 1
                } else {
                    seen.saturating_sub(1)
                };
                op.result = KvResult::Value(Some(wrong.to_string()));
            }
        }
    }
    history
}

type Verdict = Result<Option<UndecidedPartition>, PartitionViolation>;

/// The history as the harness sees it after `step`: what was invoked by
/// then, with what was not answered yet indeterminate and in flight.
fn up_to(history: &[Operation], step: u64) -> Vec<Operation> {
    history
        .iter()
        .filter(|op| op.invoke <= step)
        .map(|op| {
            let mut op = op.clone();
            if op.response > step {
                op.response = u64::MAX;
                if !matches!(op.op, KvOp::Create { .. }) {
                    op.result = KvResult::Indeterminate;
                }
            }
            op
        })
        .collect()
}

/// The last step anything happens at.
fn last_step(history: &[Operation]) -> u64 {
    history
        .iter()
        .flat_map(|op| [op.invoke, op.response])
        .filter(|&t| t != u64::MAX)
        .max()
        .unwrap_or(0)
}

/// Feeds `history` to `online` as the harness does: only at steps where
/// the history changes (an answer, a `CREATE` sent, a model event), each
/// operation invoked since the last such step is fed (in flight, or
/// already answered), then the answers of that step. `after` sees each
/// such step. What was invoked after the last one is fed last, in flight.
fn feed<M: SequentialModel>(
    history: &[Operation],
    online: &mut Online<M>,
    mut after: impl FnMut(u64, &mut Online<M>),
) {
    let mut fed = vec![false; history.len()];
    for step in 0..=last_step(history) {
        let changes = history.iter().any(|op| {
            op.response == step || (op.invoke == step && matches!(op.op, KvOp::Create { .. }))
        });
        if !changes {
            continue;
        }
        // As the harness does: the step's deaths first, then the clients'
        // operations.
        let mut order: Vec<usize> = (0..history.len()).collect();
        order.sort_by_key(|&index| !history[index].op.is_model_event());
        for index in order {
            let op = &history[index];
            if fed[index] || op.invoke > step {
                continue;
            }
            fed[index] = true;
            let key = op.id as u64;
            if op.response <= step {
                online.record(key, op.clone());
            } else {
                let known = matches!(op.op, KvOp::Create { .. }) || op.op.is_model_event();
                online.invoke(key, op.clone(), known);
            }
        }
        for op in history.iter().filter(|op| op.response == step) {
            online.answer(op.id as u64, Some(op.result.clone()), step, op.id);
        }
        after(step, online);
    }
    // What was invoked since: in flight at the end.
    for (index, op) in history.iter().enumerate() {
        if !fed[index] {
            let known = matches!(op.op, KvOp::Create { .. });
            online.invoke(op.id as u64, op.clone(), known);
        }
    }
}

/// The online verdict and the batch verdict after each step the history
/// changes at, then at the end.
fn both_verdicts(history: &[Operation]) -> Vec<(u64, Verdict, Verdict)> {
    both_verdicts_from(KvModel::new(), history)
}

fn both_verdicts_from<M: SequentialModel>(
    initial: M,
    history: &[Operation],
) -> Vec<(u64, Verdict, Verdict)> {
    let mut online = Online::new(initial.clone(), BOUND);
    let ids: BTreeMap<u64, usize> = history.iter().map(|op| (op.id as u64, op.id)).collect();
    let pending_id = |key: u64| ids[&key];
    let mut verdicts = Vec::new();
    feed(history, &mut online, |step, online| {
        let batch = check_partitioned(&initial, &up_to(history, step), BOUND);
        verdicts.push((step, online.verdict(false, &pending_id), batch));
    });
    let at_end: Vec<Operation> = up_to(history, last_step(history))
        .into_iter()
        .filter(|op| !(matches!(op.op, KvOp::Create { .. }) && op.response == u64::MAX))
        .collect();
    let batch = check_partitioned(&initial, &at_end, BOUND);
    verdicts.push((u64::MAX, online.verdict(true, &pending_id), batch));
    verdicts
}

fn assert_same(history: &[Operation]) -> Result<(), TestCaseError> {
    assert_same_from(KvModel::new(), history)
}

fn assert_same_from<M: SequentialModel>(
    initial: M,
    history: &[Operation],
) -> Result<(), TestCaseError> {
    for (step, online, batch) in both_verdicts_from(initial, history) {
        prop_assert!(
            !matches!(batch, Ok(Some(_))),
            "the batch bound is too small at {step}"
        );
        prop_assert_eq!(online, batch, "after step {} of {:#?}", step, history);
    }
    Ok(())
}

// A fixed seed: with proptest's per-run random seed, one run in many drew a
// history whose checking ran for many minutes (at 585 MB and growing),
// which stalled the suite; the same 2,000 cases every run keep it bounded
// and repeatable, and a failure found with this seed is still persisted.
proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2_000,
        rng_seed: RngSeed::Fixed(0x6b76_7369_6d04),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/linearizability_online.txt"
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn online_verdicts_equal_the_batch_ones_after_every_step(
        numbers in proptest::collection::vec(any::<u64>(), 128),
        corrupt in proptest::option::of(any::<u64>()),
    ) {
        assert_same(&history(&numbers, corrupt))?;
    }

    #[test]
    fn online_verdicts_equal_the_batch_ones_with_identical_operations_in_flight(
        numbers in proptest::collection::vec(any::<u64>(), 160),
        corrupt in proptest::option::of(any::<u64>()),
    ) {
        assert_same(&crowded_history(&numbers, corrupt))?;
    }

    #[test]
    fn online_verdicts_equal_the_batch_ones_when_nothing_is_idempotent(
        numbers in proptest::collection::vec(any::<u64>(), 160),
        corrupt in proptest::option::of(any::<u64>()),
    ) {
        assert_same_from(Tally::default(), &tally_history(&numbers, corrupt))?;
    }
}

/// xorshift64 from `seed`: the families' fixed stream of numbers.
fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// Whether a family's history is refuted at its end, once both checkers
/// agreed after every step and, when nothing was `corrupt`ed, found it
/// linearizable.
fn is_refuted(
    corrupt: Option<u64>,
    history: &[Operation],
    verdicts: &[(u64, Verdict, Verdict)],
) -> bool {
    for (step, online, batch) in verdicts {
        assert_eq!(online, batch, "after step {step} of {history:#?}");
    }
    let (_, last, _) = verdicts.last().unwrap();
    match (corrupt, last) {
        (None, Ok(None)) => false,
        (None, other) => panic!("an uncorrupted history fails: {other:?} {history:#?}"),
        (Some(_), Err(_)) => true,
        (Some(_), _) => false,
    }
}

/// The property above is not vacuous: over a fixed family of histories,
/// uncorrupted ones are linearizable and many corrupted ones are refuted,
/// by both checkers, some only after a pending operation is answered.
#[test]
fn the_family_has_passing_and_failing_histories() {
    let mut random = xorshift(0x2545_F491_4F6C_DD1Du64);
    let (mut passed, mut refuted) = (0, 0);
    for round in 0..400 {
        let numbers: Vec<u64> = (0..128).map(|_| random()).collect();
        let corrupt = (round % 2 == 1).then(&mut random);
        let history = history(&numbers, corrupt);
        let verdicts = both_verdicts(&history);
        if is_refuted(corrupt, &history, &verdicts) {
            refuted += 1;
        } else {
            passed += 1;
        }
    }
    assert!(refuted >= 60, "{refuted} refuted, {passed} passed");
    assert!(passed >= 200, "{refuted} refuted, {passed} passed");
}

/// The same of the crowded histories, which also do put many identical
/// operations in flight at once: at some step, four or more `CREATE`s of
/// one name, and elsewhere two or more identical calls.
#[test]
fn the_crowded_family_has_passing_and_failing_histories() {
    let mut random = xorshift(0x0123_4567_89AB_CDEFu64);
    let (mut passed, mut refuted, mut creates, mut calls) = (0, 0, 0, 0);
    for round in 0..300 {
        let numbers: Vec<u64> = (0..160).map(|_| random()).collect();
        let corrupt = (round % 2 == 1).then(&mut random);
        let history = crowded_history(&numbers, corrupt);
        let most = |create: bool| {
            (0..=last_step(&history))
                .flat_map(|step| {
                    let open: Vec<&KvOp> = history
                        .iter()
                        .filter(|op| op.invoke <= step && step < op.response)
                        .filter(|op| matches!(op.op, KvOp::Create { .. }) == create)
                        .map(|op| &op.op)
                        .collect();
                    open.iter()
                        .map(|op| open.iter().filter(|other| *other == op).count())
                        .collect::<Vec<_>>()
                })
                .max()
                .unwrap_or(0)
        };
        creates += usize::from(most(true) >= 4);
        calls += usize::from(most(false) >= 2);
        let verdicts = both_verdicts(&history);
        if is_refuted(corrupt, &history, &verdicts) {
            refuted += 1;
        } else {
            passed += 1;
        }
    }
    assert!(refuted >= 60, "{refuted} refuted, {passed} passed");
    assert!(passed >= 120, "{refuted} refuted, {passed} passed");
    assert!(
        creates >= 40,
        "{creates} with four identical CREATEs in flight"
    );
    assert!(calls >= 150, "{calls} with two identical calls in flight");
}

/// The same of the histories of [`Tally`], where linearizing one more or
/// one fewer of several identical operations changes what a `GET` may see.
#[test]
fn the_tally_family_has_passing_and_failing_histories() {
    let mut random = xorshift(0x7F4A_7C15_9E37_79B9u64);
    let (mut passed, mut refuted) = (0, 0);
    for round in 0..300 {
        let numbers: Vec<u64> = (0..160).map(|_| random()).collect();
        let corrupt = (round % 2 == 1).then(&mut random);
        let history = tally_history(&numbers, corrupt);
        let verdicts = both_verdicts_from(Tally::default(), &history);
        if is_refuted(corrupt, &history, &verdicts) {
            refuted += 1;
        } else {
            passed += 1;
        }
    }
    assert!(refuted >= 40, "{refuted} refuted, {passed} passed");
    assert!(passed >= 150, "{refuted} refuted, {passed} passed");
}

/// Two ways to have linearized one of two `CREATE`s in flight, equal but
/// for when: before the second was invoked (only the first can be the one)
/// or after (either can). The second's answer then needs the later one:
/// taken as the one linearized, the tally stays at 1, which the last `GET`
/// sees. A checker keeping only the earlier way would refute this.
#[test]
fn a_later_place_is_kept_over_an_earlier_one() {
    let op = |id: usize, invoke: u64, response: u64, op: KvOp, result: KvResult| Operation {
        id,
        client: Some(id as u32),
        invoke,
        response,
        op,
        result,
    };
    let create = || KvOp::Create { name: "a".into() };
    let get = || KvOp::Get {
        name: "a".into(),
        key: "x".into(),
    };
    let seen = |n: &str| KvResult::Value(Some(n.into()));
    let history = [
        op(0, 1, u64::MAX, create(), KvResult::None),
        op(1, 2, 2, get(), KvResult::Indeterminate),
        op(2, 3, 5, create(), KvResult::None),
        op(3, 4, 4, get(), seen("1")),
        op(4, 6, 6, get(), seen("1")),
    ];
    let verdicts = both_verdicts_from(Tally::default(), &history);
    for (step, online, batch) in &verdicts {
        assert_eq!(online, batch, "after step {step}");
        assert_eq!(online, &Ok(None), "after step {step}");
    }
}

/// A bound decides nothing by itself: whatever the two bounds, when both
/// checkers decide they agree, and a checker that reaches its bound says
/// so (undecided), never linearizable.
#[test]
fn bounds_never_turn_a_verdict_around() {
    let mut random = xorshift(0x9E37_79B9_7F4A_7C15u64);
    let mut undecided = 0;
    for round in 0..200 {
        let numbers: Vec<u64> = (0..128).map(|_| random()).collect();
        let history = history(&numbers, (round % 2 == 1).then(&mut random));
        let last = last_step(&history);
        let truth = check_partitioned(&KvModel::new(), &up_to(&history, last), BOUND);
        for bound in [1, 2, 3, 5, 8] {
            let mut online = Online::new(KvModel::new(), bound);
            feed(&history, &mut online, |_, online| {
                let _ = online.verdict(false, &|key| key as usize);
            });
            let verdict = online.verdict(false, &|key| key as usize);
            match (&verdict, &truth) {
                (Ok(Some(_)), _) => undecided += 1,
                (Ok(None), Ok(None)) | (Err(_), Err(_)) => {}
                _ => panic!("bound {bound}: {verdict:?} but {truth:?} for {history:#?}"),
            }
        }
    }
    assert!(undecided > 0);
}

/// Through the harness: every registry stage, generated cases (several
/// clients, faults, every schedule strategy), checked to the end of the
/// run with property 4 online and with the batch checker. The failures
/// (property, event, explanation) and the undecided verdicts are equal,
/// and property 4 does break on the flawed stages.
#[test]
fn runs_checked_online_and_in_batch_agree() {
    let search = SearchConfig {
        seed: 11,
        ..SearchConfig::default()
    };
    let check = |mode| CheckConfig {
        linearizability: mode,
        run_to_end: true,
        ..CheckConfig::default()
    };
    let (online, batch) = (
        check(LinearizabilityCheck::Online),
        check(LinearizabilityCheck::Batch),
    );
    let mut p4_failures = 0;
    for stage in Stage::ALL {
        let registry = || stage.registry();
        for index in 0..1000 {
            let Some(case) = nth_case(&search, index) else {
                continue;
            };
            let a = run_case(&case, &registry, &online);
            let b = run_case(&case, &registry, &batch);
            assert_eq!(
                (&a.failures, &a.undecided, a.steps),
                (&b.failures, &b.undecided, b.steps),
                "{} on {}",
                case.to_json(&Default::default()),
                stage.name()
            );
            p4_failures += usize::from(!a.holds(P4_LINEARIZABLE));
        }
    }
    assert!(p4_failures >= 20, "{p4_failures}");
}
