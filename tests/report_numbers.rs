//! Report files are input: `kvsim merge` reads whatever a file holds. Every
//! number of every committed report seed (explore and verify, whole and
//! sharded) is replaced in turn by each edge value, zero to `u64::MAX`, and
//! the result goes through `kvsim merge`'s reader, merge and both
//! renderings (`kvsim::fuzz::report_text`): each must be read or refused
//! with a message, never panic (an overflow, a division by a zero shard
//! count, an index past the cases asked for). The same edits are made again
//! with the explore seeds asking for `u32::MAX` cases, so that an index can
//! be in the billions and still valid: `kvsim merge` must not do work in
//! proportion to a number it reads (libFuzzer's `-timeout` counts that as
//! a crash, and a `report_text` run found one, kept in
//! `fuzz/regressions/report_text/`).

use kvsim::check::{ExploreReport, VerifyReport, merge};
use kvsim::fuzz::{Outcome, report_text};
use serde_json::Value;
use std::path::PathBuf;

const EDGES: [u64; 8] = [
    0,
    1,
    2,
    u32::MAX as u64 - 1,
    u32::MAX as u64,
    u32::MAX as u64 + 1,
    u64::MAX - 1,
    u64::MAX,
];

fn seeds() -> Vec<(PathBuf, Value)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir("fuzz/seeds/report_text")
        .expect("fuzz/seeds/report_text")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable");
            let value = serde_json::from_str(&text).expect("a JSON seed");
            (path, value)
        })
        .collect()
}

/// The paths (as JSON pointers) of every number in `value`.
fn numbers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Number(_) => out.push(at),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                numbers(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                numbers(item, format!("{at}/{key}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn any_number_in_any_field_is_read_or_refused_never_a_panic() {
    let (mut read, mut refused) = (0, 0);
    let seeds = seeds();
    assert!(seeds.len() >= 8, "{} report seeds", seeds.len());
    let seeds = seeds.into_iter().flat_map(|(path, seed)| {
        let mut many = seed.clone();
        let asks = many.get("cases").is_some();
        if asks {
            many["cases"] = Value::from(u32::MAX);
        }
        let many = asks.then_some((path.with_extension("json with cases = u32::MAX"), many));
        std::iter::once((path, seed)).chain(many)
    });
    for (path, seed) in seeds {
        let mut at = Vec::new();
        numbers(&seed, String::new(), &mut at);
        assert!(at.len() >= 10, "{}: {} numbers", path.display(), at.len());
        for pointer in at {
            for edge in EDGES {
                let mut edited = seed.clone();
                *edited.pointer_mut(&pointer).expect("the number") = Value::from(edge);
                let text = serde_json::to_string(&edited).expect("JSON");
                match report_text(text.as_bytes()) {
                    Ok(Outcome::Passed) => read += 1,
                    Ok(_) => refused += 1,
                    Err(crash) => panic!("{} with {pointer} = {edge}: {crash}", path.display()),
                }
            }
        }
    }
    // Both happen: most edits are read, and the impossible ones (a version
    // this kvsim does not read, a zero shard count, an index past the
    // cases) are refused.
    assert!(read > 0 && refused > 0, "{read} read, {refused} refused");
}

/// A report naming an impossible shard or case is refused as it is read,
/// with a message naming the field, before any merge arithmetic.
#[test]
fn impossible_shards_and_indices_are_refused_with_the_reason() {
    let text = std::fs::read_to_string("fuzz/seeds/report_text/report-fixed.json").expect("seed");
    let mut value: Value = serde_json::from_str(&text).expect("JSON");
    let edit = |value: &Value, pointer: &str, new: Value| {
        let mut value = value.clone();
        *value.pointer_mut(pointer).expect(pointer) = new;
        serde_json::to_string(&value).expect("JSON")
    };
    let zero = ExploreReport::from_json(&edit(&value, "/run/shard/count", 0.into()))
        .expect_err("a zero shard count");
    assert!(
        zero.contains("the shard count must be at least 1"),
        "{zero}"
    );
    let past = ExploreReport::from_json(&edit(&value, "/run/shard/index", 1.into()))
        .expect_err("shard 1 of 1");
    assert!(past.contains("shard index 1 is out of range"), "{past}");
    let cases = value["cases"].as_u64().expect("cases");
    let through = ExploreReport::from_json(&edit(&value, "/result/through", cases.into()))
        .expect_err("an index past the cases");
    assert!(
        through.contains(&format!("result.through is case {cases}")),
        "{through}"
    );
    // The unedited seed reads.
    value = serde_json::from_str(&text).expect("JSON");
    ExploreReport::from_json(&serde_json::to_string(&value).expect("JSON"))
        .expect("the seed reads");

    let text = std::fs::read_to_string("fuzz/seeds/report_text/verify-fixed-shard-1-of-2.json")
        .expect("seed");
    let value: Value = serde_json::from_str(&text).expect("JSON");
    let verify = VerifyReport::from_json(&edit(&value, "/run/shard/count", 0.into()))
        .expect_err("a zero shard count");
    assert!(
        verify.contains("the shard count must be at least 1"),
        "{verify}"
    );
}

/// A report that covers `u32::MAX` cases merges with each strategy's share
/// counted, not stepped through: the four strategies of the portfolio take
/// the indices in turn, so the first three get one case more than the last.
#[test]
fn a_report_of_u32_max_cases_merges_with_every_strategy_counted() {
    let text = std::fs::read_to_string("fuzz/seeds/report_text/report-fixed.json").expect("seed");
    let mut value: Value = serde_json::from_str(&text).expect("JSON");
    value["cases"] = Value::from(u32::MAX);
    value["result"]["through"] = Value::from(u32::MAX - 1);
    let report = ExploreReport::from_json(&value.to_string()).expect("a report");
    let merged = merge(&[report]).expect("one whole report merges");
    assert_eq!(merged.result.cases_run, u64::from(u32::MAX));
    let cases: Vec<u64> = merged.result.coverage.iter().map(|c| c.cases).collect();
    let quarter = u64::from(u32::MAX) / 4;
    assert_eq!(cases, [quarter + 1, quarter + 1, quarter + 1, quarter]);
}
