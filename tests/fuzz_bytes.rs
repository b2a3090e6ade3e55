//! Fuzzer bytes and cases (`kvsim::check::bytes`): every decoded case, every
//! generated case (made explicit) and every kept regression case encodes
//! to bytes that decode back to the same case with nothing left over; the
//! case a fuzz target reports replays its run event for event.

use arbitrary::{Arbitrary, Unstructured};
use kvsim::check::bytes::{CaseInput, encode_case};
use kvsim::check::generate::{GenConfig, cases};
use kvsim::check::{Case, CheckConfig, read_case, run_case};
use kvsim::fuzz::run_case_input;
use kvsim::kv::{Command, Stage};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn decode(bytes: &[u8]) -> Option<CaseInput<'_>> {
    CaseInput::arbitrary_take_rest(Unstructured::new(bytes)).ok()
}

fn assert_round_trip(case: &Case) -> Result<(), TestCaseError> {
    let bytes = encode_case(case).map_err(|e| TestCaseError::fail(format!("{e}: {case:?}")))?;
    let input = decode(&bytes).ok_or_else(|| TestCaseError::fail("does not decode"))?;
    prop_assert_eq!(&input.case, case);
    prop_assert!(
        input.tail.is_empty(),
        "{} bytes left over",
        input.tail.len()
    );
    // The plain `Case` decoding reads the same bytes the same way.
    let plain = Case::arbitrary_take_rest(Unstructured::new(&bytes))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&plain, case);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/fuzz_bytes.txt"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn decoded_cases_encode_back_to_themselves(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Some(input) = decode(&bytes) {
            prop_assert!(input.case.validate().is_ok());
            assert_round_trip(&input.case)?;
        }
    }

    #[test]
    fn generated_cases_encode_back_to_themselves(case in cases(GenConfig::default())) {
        // Decoded cases are explicit: the generator's strategy is not part
        // of the encoding.
        assert_round_trip(&Case { strategy: None, ..case })?;
    }

    /// The case a fuzz target reports (its overrides, then the tail's
    /// picks, written out as overrides) replays the same run.
    #[test]
    fn the_reported_case_replays_its_run(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Some((case, run)) = run_case_input(&bytes, Stage::Unlinked) {
            let factory = || Stage::Unlinked.registry();
            let again = run_case(&case, &factory, &CheckConfig::default());
            prop_assert_eq!(again.verdict(), run.verdict());
            prop_assert_eq!(again.steps, run.steps);
            prop_assert_eq!(again.dialogue, run.dialogue);
        }
    }
}

#[test]
fn every_kept_regression_case_encodes_back_to_itself() {
    let mut count = 0;
    for entry in std::fs::read_dir("tests/regressions").expect("tests/regressions") {
        let path = entry.expect("an entry").path();
        let (case, _) = read_case(&path).expect("a case file");
        assert_round_trip(&case).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        count += 1;
    }
    assert!(count >= 10, "only {count} kept cases");
}

#[test]
fn cases_outside_the_layout_are_refused_with_the_reason() {
    let case = |command: Command| Case {
        clients: vec![kvsim::check::CaseClient {
            id: 0,
            commands: vec![(0, command)],
        }],
        ..Case::default()
    };
    let error = encode_case(&case(Command::Create { bucket: "c".into() })).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the case has no byte encoding: bucket name \"c\" is not one of [\"a\", \"b\"]"
    );
    let error = encode_case(&case(Command::Settle)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the case has no byte encoding: command Settle is not generated"
    );
    let error = encode_case(&case(Command::Put {
        bucket: "a".into(),
        key: "k".into(),
        value: "4".into(),
    }))
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the case has no byte encoding: value \"4\" is not one of 1..=3"
    );
}

#[test]
fn ids_that_are_not_sequential_are_written_out() {
    let mut case = Case {
        clients: vec![kvsim::check::CaseClient {
            id: 3,
            commands: vec![(7, Command::Lookup { bucket: "b".into() })],
        }],
        ..Case::default()
    };
    case.schedule
        .push(kvsim::sim::EventKey::client(3, 7).deliver(0));
    let bytes = encode_case(&case).expect("encodes");
    assert_eq!(bytes[0] & 0x80, 0x80, "the ids bit");
    assert_eq!(decode(&bytes).expect("decodes").case, case);
}
