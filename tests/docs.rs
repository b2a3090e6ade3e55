//! The repository stands alone: no tracked text file points at design
//! notes kept outside it, every `S<n>` cited is a statement of
//! docs/semantics.md, and every relative link in the Markdown files leads
//! to a file that exists.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The tracked files (`git ls-files`), or, where git cannot say (a source
/// tarball), every file under the root except `target/` and `.git/`.
fn tracked_files() -> Vec<PathBuf> {
    let root = root();
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(&root)
        .output()
        .ok()
        .filter(|output| output.status.success());
    match listed {
        Some(output) => output
            .stdout
            .split(|&b| b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| root.join(String::from_utf8_lossy(name).as_ref()))
            .filter(|path| path.is_file())
            .collect(),
        None => {
            let mut files = Vec::new();
            walk(&root, &mut files);
            files
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "target" && name != ".git" {
                walk(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// The text files among `files` (UTF-8), with their contents.
fn texts(files: &[PathBuf]) -> Vec<(PathBuf, String)> {
    files
        .iter()
        .filter_map(|path| {
            let bytes = std::fs::read(path).ok()?;
            let text = String::from_utf8(bytes).ok()?;
            Some((path.clone(), text))
        })
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The names of notes that live outside the repository. Built from parts
/// so that this file does not match itself.
fn outside_references() -> Vec<String> {
    let md = ".md";
    vec![
        format!("../{}", "shared"),
        format!("{}{md}", "DESIGN"),
        format!("{}-{}", "OTP", "SEMANTICS"),
        format!("{}-{}", "SCENARIO", "LANGUAGE"),
        format!("{}{md}", "PEERS"),
        format!("{}{md}", "STYLE"),
        format!("{}{md}", "RECIPES"),
    ]
}

#[test]
fn no_tracked_file_points_outside_the_repository() {
    let files = tracked_files();
    assert!(
        files.iter().any(|p| p.ends_with("README.md")),
        "the file list should include README.md: {} files",
        files.len()
    );
    let needles = outside_references();
    let mut found = Vec::new();
    for (path, text) in texts(&files) {
        for (number, line) in text.lines().enumerate() {
            for needle in &needles {
                if line.contains(needle.as_str()) {
                    found.push(format!("{}:{}: {needle}", relative(&path), number + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "these lines point at notes outside the repository; cite docs/design.md, \
         docs/semantics.md or docs/script-language.md instead:\n{}",
        found.join("\n")
    );
}

/// The numbers of the statements docs/semantics.md defines (`- **S<n>**`).
fn defined_statements() -> Vec<u32> {
    let text = std::fs::read_to_string(root().join("docs/semantics.md"))
        .expect("docs/semantics.md exists");
    text.lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("- **S")?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            rest[digits.len()..].starts_with("**").then_some(())?;
            digits.parse().ok()
        })
        .collect()
}

/// Every `S<n>` (n a number not followed by a letter or digit) in `text`.
fn cited_statements(text: &str) -> Vec<u32> {
    let bytes = text.as_bytes();
    let mut cited = Vec::new();
    for (at, _) in text.match_indices('S') {
        let before_ok =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        let digits: String = text[at + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let after = bytes.get(at + 1 + digits.len()).copied().unwrap_or(b' ');
        let after_ok = !(after.is_ascii_alphanumeric() || after == b'_');
        if before_ok && after_ok && !digits.is_empty() && digits.len() <= 2 {
            cited.extend(digits.parse::<u32>().ok());
        }
    }
    cited
}

#[test]
fn semantics_defines_s1_to_s38_once_each_in_order() {
    let defined = defined_statements();
    let expected: Vec<u32> = (1..=38).collect();
    assert_eq!(defined, expected);
}

#[test]
fn every_cited_statement_is_defined() {
    let defined = defined_statements();
    let mut unknown = Vec::new();
    for (path, text) in texts(&tracked_files()) {
        let is_source = ["rs", "md"]
            .iter()
            .any(|ext| path.extension().is_some_and(|e| e == *ext));
        if !is_source {
            continue;
        }
        for (number, line) in text.lines().enumerate() {
            for n in cited_statements(line) {
                if !defined.contains(&n) {
                    unknown.push(format!("{}:{}: S{n}", relative(&path), number + 1));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "cited but not defined in docs/semantics.md:\n{}",
        unknown.join("\n")
    );
}

#[test]
fn the_citation_scanner_finds_statements_and_skips_other_words() {
    assert_eq!(cited_statements("S3, S24 and (S5–S19)"), vec![3, 24, 5, 19]);
    assert_eq!(cited_statements("S38 s3 XS3 S3a u64S3 S"), vec![38]);
}

/// Relative link targets in a Markdown text: `](target)`, without any
/// `#fragment`; web links are left out.
fn markdown_links(text: &str) -> Vec<String> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            let end = rest.find(')')?;
            let target = rest[..end].split('#').next().unwrap_or("");
            let external = target.contains("://") || target.starts_with("mailto:");
            (!target.is_empty() && !external).then(|| target.to_string())
        })
        .collect()
}

#[test]
fn every_relative_markdown_link_leads_to_a_file() {
    let mut broken = Vec::new();
    for (path, text) in texts(&tracked_files()) {
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        for target in markdown_links(&text) {
            if !dir.join(&target).exists() {
                broken.push(format!("{}: {target}", relative(&path)));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_scanner_keeps_relative_links_only() {
    let text = "[a](docs/design.md) [b](https://x.org/a) [c](semantics.md#s3) [d](#top)";
    assert_eq!(markdown_links(text), vec!["docs/design.md", "semantics.md"]);
}
