//! Every property-test failure ever found lands in the top-level
//! `proptest-regressions/` (committed), one file per test file: by
//! default proptest would write an integration test's seeds next to it
//! (`tests/foo.proptest-regressions`). This reads the sources: each
//! `proptest!` block's config must name
//! `FileFailurePersistence::Direct("proptest-regressions/<file>.txt")`,
//! or `failure_persistence: None` for a test that expects its failure,
//! and so must every `TestRunner` that runs a property. A unit test in
//! `src/` may keep proptest's default, which already writes to
//! `proptest-regressions/<its path under src>.txt`.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text with every whitespace character removed, so that rustfmt's
/// line breaks do not matter.
fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Whether a config's text keeps its failures where they belong.
fn persists_right(config: &str, stem: &str) -> bool {
    let direct = format!("FileFailurePersistence::Direct(\"proptest-regressions/{stem}.txt\"");
    config.contains(&direct) || config.contains("failure_persistence:None")
}

/// The problems of one source file, if any.
fn problems(path: &Path, text: &str) -> Vec<String> {
    let stem = path.file_stem().expect("a name").to_string_lossy();
    // The test itself names these words in its own strings.
    if stem == "proptest_persistence" {
        return Vec::new();
    }
    let text = squeezed(text);
    let mut problems = Vec::new();
    for (at, _) in text.match_indices("proptest!{") {
        let block = &text[at..];
        // A block's config comes first, before its first test.
        let head = &block[..block.find("#[test]").unwrap_or(block.len())];
        // A unit test in src/ with proptest's default persistence already
        // writes to proptest-regressions/<its path under src>.txt.
        let in_src = path.starts_with("src");
        let default_persistence = !head.contains("failure_persistence");
        if in_src && default_persistence {
            continue;
        }
        if !head.contains("#![proptest_config(") {
            problems.push(format!(
                "{}: a proptest! block with no config",
                path.display()
            ));
        } else if !persists_right(head, &stem) {
            problems.push(format!(
                "{}: a proptest! block does not persist to proptest-regressions/{stem}.txt",
                path.display()
            ));
        }
    }
    // A runner that runs a property (not one that only draws values),
    // read as the function around it.
    for (at, _) in text.match_indices("TestRunner::new(") {
        let start = text[..at].rfind("fn").unwrap_or(0);
        let end = text[at..].find("fn").map_or(text.len(), |end| at + end);
        let function = &text[start..end];
        if function.contains("runner.run(") && !persists_right(function, &stem) {
            problems.push(format!(
                "{}: a TestRunner that runs a property does not say where its failures go",
                path.display()
            ));
        }
    }
    problems
}

#[test]
fn every_property_test_file_persists_to_the_top_level_directory() {
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        rust_files(Path::new(dir), &mut files);
    }
    files.sort();
    let mut checked = 0;
    let mut all = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable");
        if text.contains("proptest!") {
            checked += 1;
        }
        all.extend(problems(path, &text));
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
    assert!(checked >= 5, "only {checked} property-test files");
}

#[test]
fn no_seeds_are_kept_beside_the_tests() {
    let mut stray = Vec::new();
    for dir in ["src", "tests"] {
        let mut files = Vec::new();
        collect_all(Path::new(dir), &mut files);
        stray.extend(
            files
                .into_iter()
                .filter(|p| p.to_string_lossy().ends_with(".proptest-regressions")),
        );
    }
    assert!(
        stray.is_empty(),
        "seeds outside proptest-regressions/: {stray:?}"
    );
}

fn collect_all(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            collect_all(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The check can fail: a block with no config, one persisting elsewhere
/// and a running `TestRunner` with the default persistence are caught.
#[test]
fn the_check_catches_misplaced_persistence() {
    let path = Path::new("tests/foo.rs");
    let no_config = "proptest! {\n    #[test]\n    fn p(x in 0u8..) {}\n}\n";
    assert_eq!(problems(path, no_config).len(), 1);
    let elsewhere = "proptest! {\n    #![proptest_config(ProptestConfig {\n        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(\"proptest-regressions/bar.txt\"))),\n        ..ProptestConfig::default()\n    })]\n    #[test]\n    fn p(x in 0u8..) {}\n}\n";
    assert_eq!(problems(path, elsewhere).len(), 1);
    let right = elsewhere.replace("bar.txt", "foo.txt");
    assert!(problems(path, &right).is_empty());
    let runner = "fn f() {\n    let mut runner = TestRunner::new(Config::default());\n    runner.run(&s, |x| Ok(()));\n}\n";
    assert_eq!(problems(path, runner).len(), 1);
    let expecting = runner.replace(
        "Config::default()",
        "Config { failure_persistence: None, ..Config::default() }",
    );
    assert!(problems(path, &expecting).is_empty());
}
