//! A case file's `meta` is free-form JSON, kept as read and written back:
//! whatever numbers it holds must read back as the same numbers once kvsim
//! writes the file, or the `case_text` fuzz target's round trip breaks
//! (a case with floats in its meta read back one unit in the last place
//! off, kept in `fuzz/regressions/case_text/`). Every finite `f64`, and
//! integers at the edges of `u64` and `i64` and past them, go through the
//! writer and the reader, nested at any depth.

use kvsim::check::{Case, CaseMeta};
use kvsim::fuzz::{Outcome, case_text};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Value, json};
use std::path::Path;

/// `number` in a meta, alone, in a list and in an object, written by kvsim
/// and read back: the meta must be the one written.
fn round_trips(number: Value) -> Result<(), String> {
    let mut meta = CaseMeta::found("fixed", None, "case_meta_numbers");
    meta.extra.insert("n".to_string(), number.clone());
    meta.extra
        .insert("nested".to_string(), json!([number.clone(), {"n": number}]));
    let case = Case::default();
    let written = case.to_json(&meta);
    let path = Path::new("meta.case.json");
    let (again, again_meta) =
        Case::from_json(path, &written).map_err(|e| format!("does not read back: {e}"))?;
    if again != case || again_meta != meta {
        return Err(format!("reads back as {:?}:\n{written}", again_meta.extra));
    }
    match case_text(written.as_bytes()) {
        Ok(Outcome::Passed) => Ok(()),
        other => Err(format!("case_text: {other:?}")),
    }
}

#[test]
fn edge_numbers_in_the_meta_read_back_as_written() {
    let floats = [
        0.0,
        -0.0,
        0.1,
        1.0 / 3.0,
        f64::MIN_POSITIVE,
        5e-324,
        f64::EPSILON,
        f64::MAX,
        f64::MIN,
        9_007_199_254_740_993.0,
        6.666_666_666_666_666e52,
        66_666_086_635_804.96,
        6.666_663_002_358_05e32,
    ];
    for float in floats {
        round_trips(json!(float)).unwrap_or_else(|e| panic!("{float:e}: {e}"));
    }
    for integer in [json!(u64::MAX), json!(i64::MIN), json!(0), json!(-1)] {
        round_trips(integer.clone()).unwrap_or_else(|e| panic!("{integer}: {e}"));
    }
    // Integers past u64 and numbers in exponent form are read as f64s.
    for text in [
        "18446744073709551616",
        "-1e30",
        "66666666666666666666523566523E8",
    ] {
        let number: Value = serde_json::from_str(text).expect("a JSON number");
        round_trips(number).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2048,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/case_meta_numbers.txt"
        ))),
        ..ProptestConfig::default()
    })]

    /// Any finite f64, by its bits: the writer's shortest digits must
    /// parse back to the very same f64.
    #[test]
    fn any_float_in_the_meta_reads_back_as_written(bits in any::<u64>()) {
        let float = f64::from_bits(bits);
        prop_assume!(float.is_finite());
        prop_assert_eq!(round_trips(json!(float)), Ok(()), "{:e}", float);
    }
}
