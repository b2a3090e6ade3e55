//! The verifier tests' cases: a `.kv` script, inline or from the
//! repository's examples, with one `kill` fault per bucket named, and the
//! check configuration they run under (to the end, at most 200 events).

use kvsim::check::{Case, CaseFault, CheckConfig};
use kvsim::kv::{KvFault, script};
use std::path::Path;

/// The case of script `text` (`path` names it in parse errors) with a
/// `kill` fault on each bucket of `kills`, fault ids from 0 in that order.
pub fn script_case(path: &Path, text: &str, kills: &[&str]) -> Case {
    let parsed = script::parse(path, text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let mut case = Case::from_script(&parsed);
    for (id, bucket) in kills.iter().enumerate() {
        case.faults.push(CaseFault {
            id: id as u32,
            fault: KvFault::KillBucket(bucket.to_string()),
        });
    }
    case
}

/// [`script_case`] of the script at `path`, relative to the repository.
pub fn scenario(path: &str, kills: &[&str]) -> Case {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    script_case(&path, &text, kills)
}

/// Every run played to the end (not stopped at the first broken
/// property), at most 200 events.
pub fn check() -> CheckConfig {
    let mut check = CheckConfig {
        run_to_end: true,
        ..CheckConfig::default()
    };
    check.limits.steps_max = 200;
    check
}
