//! kvsim against a real BEAM: every script under conformance/scripts/ has,
//! per registry stage, the dialogue the Elixir reference runner printed on
//! Erlang/OTP (`NAME.STAGE.out`); `kvsim run --schedule fifo` must print the
//! same bytes. A recording can be excluded with a `NAME.STAGE.exclude` or
//! `NAME.exclude` file holding the reason (see conformance/README.md).

use kvsim::check::{RunConfig, run_script};
use kvsim::kv::{Stage, script};
use std::path::{Path, PathBuf};

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/scripts")
}

fn scripts() -> Vec<PathBuf> {
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(scripts_dir())
        .expect("conformance/scripts exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "kv"))
        .collect();
    scripts.sort();
    scripts
}

fn sibling(script: &Path, suffix: &str) -> PathBuf {
    let stem = script
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("utf-8 script name");
    script.with_file_name(format!("{stem}.{suffix}"))
}

#[test]
fn kvsim_matches_every_recorded_beam_dialogue() {
    let mut compared = 0;
    let mut excluded = 0;
    let mut mismatches = Vec::new();
    for path in scripts() {
        let bytes = std::fs::read(&path).expect("readable script");
        let parsed = script::parse(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        for stage in Stage::ALL {
            if sibling(&path, "exclude").exists()
                || sibling(&path, &format!("{stage}.exclude")).exists()
            {
                excluded += 1;
                continue;
            }
            let recording = sibling(&path, &format!("{stage}.out"));
            let Ok(expected) = std::fs::read_to_string(&recording) else {
                mismatches.push(format!("{}: no recording for {stage}", path.display()));
                continue;
            };
            let config = RunConfig {
                stage,
                ..RunConfig::default()
            };
            let actual = run_script(&parsed, &config).dialogue;
            compared += 1;
            if actual != expected {
                mismatches.push(format!(
                    "{} ({stage}):\n--- beam\n{expected}--- kvsim\n{actual}",
                    path.display()
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} recordings differ:\n{}",
        mismatches.len(),
        compared + mismatches.len(),
        mismatches.join("\n")
    );
    let total = compared + excluded;
    assert!(compared >= 150 * 5, "only {compared} recordings compared");
    assert!(
        excluded * 20 <= total,
        "{excluded} of {total} recordings excluded: more than 5 %"
    );
}
