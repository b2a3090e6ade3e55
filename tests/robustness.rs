//! No input makes kvsim panic: arbitrary bytes as a script either are a
//! script error or run to an outcome, under every schedule; arbitrary text
//! as a case file is either read or rejected with a message.

use kvsim::check::{Case, RunConfig, Schedule, run_script};
use kvsim::kv::{Stage, script};
use kvsim::sim::Limits;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::path::Path;

/// Bytes that look like scripts often enough to get past the parser.
fn script_bytes() -> impl Strategy<Value = Vec<u8>> {
    let word = prop_oneof![
        Just("CREATE".to_string()),
        Just("PUT".to_string()),
        Just("GET".to_string()),
        Just("DELETE".to_string()),
        Just("LOOKUP".to_string()),
        Just("CRASH".to_string()),
        Just("KILL".to_string()),
        Just("STOP".to_string()),
        Just("SEND".to_string()),
        Just("SETTLE".to_string()),
        Just("CLIENT".to_string()),
        Just("registry".to_string()),
        Just("normal".to_string()),
        Just("kill".to_string()),
        "[a-c]{1,2}",
        "\\PC{0,3}",
    ];
    let line = proptest::collection::vec(word, 0..5).prop_map(|words| words.join(" "));
    let text =
        proptest::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n").into_bytes());
    prop_oneof![4 => text, 1 => proptest::collection::vec(any::<u8>(), 0..200)]
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/robustness.txt"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_script_is_rejected_or_runs(bytes in script_bytes(), stage in 0usize..5, schedule in 0usize..4, seed in 0u64..4) {
        if let Ok(parsed) = script::parse(Path::new("fuzz.kv"), &bytes) {
            let schedule = [Schedule::Fifo, Schedule::Random, Schedule::Pct { depth: 3 }, Schedule::Pos][schedule];
            let config = RunConfig {
                stage: Stage::ALL[stage],
                schedule,
                seed,
                limits: Limits { steps_max: 2_000, ..Limits::default() },
                tracing: true,
            };
            let report = run_script(&parsed, &config);
            prop_assert!(report.steps <= 2_000);
        }
    }

    #[test]
    fn any_case_file_is_read_or_rejected(text in "\\PC{0,300}") {
        let _ = Case::from_json(Path::new("fuzz.case.json"), &text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/robustness.txt"))),
        ..ProptestConfig::default()
    })]

    /// Fuzzer bytes decode (`arbitrary`) into the same `Case` type proptest
    /// generates, valid and round-tripping through the case file format.
    #[test]
    fn fuzzer_bytes_decode_into_valid_cases(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        use arbitrary::{Arbitrary, Unstructured};
        if let Ok(case) = Case::arbitrary_take_rest(Unstructured::new(&bytes)) {
            prop_assert!(case.validate().is_ok());
            let json = case.to_json(&Default::default());
            let (read, _) = Case::from_json(Path::new("fuzz.case.json"), &json)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(read, case);
        }
        let _ = Case::arbitrary(&mut Unstructured::new(&bytes));
    }
}
