//! Failure reports people can act on: which property broke, at which
//! event (and, when the shrunk case breaks another property than the case
//! first found, both), the shrunk case file, its trace, its causal slice
//! (the events that explain the failure), and, on the last
//! line, the one line that replays it, as shuttle's failure output ends
//! with the string to pass to `shuttle::replay`: `kvsim replay FILE
//! --registry STAGE` for a built-in stage, the Rust call
//! `kvsim::check::replay(&my_registry, "FILE")` for your own registry. Owns writing case files: deterministic names, opened
//! `create_new` so parallel runs never clobber each other. Finding and
//! shrinking the case is the search's business ([`crate::check::Counterexample`]).

use crate::check::case::{Case, CaseMeta};
use crate::check::checker::Failure;
use crate::check::property::{Property, PropertySet};
use crate::check::search::Counterexample;
use crate::check::slice::Slice;
use crate::kv::Stage;
use crate::sim::Trace;
use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Suffixes `-1`, `-2`, … tried when a case file name is taken by a file
/// with other content; past this many, [`save_case`] gives up.
pub const CASE_FILE_SUFFIX_MAX: u32 = 1_000;

/// A broken property, ready to print: what broke, where the case is, its
/// trace, and the command that replays it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureReport {
    pub property: Property,
    /// The event at which it broke (the counterexample's length in events).
    pub step: u64,
    pub detail: String,
    /// The registry's name: a built-in stage's, as `--registry` takes it,
    /// or any name you give your own registry.
    pub stage: String,
    /// How the search first found the case, when it broke another
    /// property than the shrunk case does (the search was asked to shrink
    /// to any property): the report says both.
    pub found: Option<Failure>,
    /// For a registry that is not a built-in stage: the Rust expression
    /// of its factory in the replay line (`my_registry` unless set with
    /// [`FailureReport::with_factory`]).
    pub factory: String,
    /// The case file's text (what [`save_case`] writes).
    pub case_json: String,
    /// Where the case file is.
    pub case_path: PathBuf,
    /// The shrunk case's trace, as stable text.
    pub trace: String,
    /// The same trace as a Mermaid sequence diagram, when asked for.
    pub mermaid: Option<String>,
    /// The failure's causal slice as text (`--- slice (<summary>)` and the
    /// events that explain it; see [`Slice`]); empty when there is none.
    pub slice: String,
    /// The properties the run checked as the replay line's `--properties`
    /// flag, when not every built-in one (see
    /// [`FailureReport::with_properties`]).
    pub properties_flag: Option<String>,
}

impl FailureReport {
    /// The report of a search's counterexample found on `stage`, whose case
    /// was saved at `case_path` (see [`FailureReport::save`] to do both).
    pub fn from_counterexample(
        counterexample: &Counterexample,
        stage: &str,
        case_path: PathBuf,
    ) -> FailureReport {
        let failure = &counterexample.failure;
        let found = &counterexample.found;
        FailureReport {
            property: failure.property,
            step: failure.step,
            detail: failure.detail.clone(),
            stage: stage.to_string(),
            found: (found.property != failure.property).then(|| found.clone()),
            factory: FACTORY_DEFAULT.to_string(),
            case_json: counterexample.case.to_json(&case_meta(stage, failure)),
            case_path,
            trace: counterexample.trace.clone(),
            mermaid: None,
            slice: counterexample.slice.clone(),
            properties_flag: None,
        }
    }

    /// The report of `case` failing as `failure` on `stage`, with the run's
    /// trace if it was traced; the case was saved at `case_path`.
    pub fn from_failure(
        case: &Case,
        stage: &str,
        failure: &Failure,
        trace: Option<&Trace>,
        case_path: PathBuf,
    ) -> FailureReport {
        FailureReport {
            property: failure.property,
            step: failure.step,
            detail: failure.detail.clone(),
            stage: stage.to_string(),
            found: None,
            factory: FACTORY_DEFAULT.to_string(),
            case_json: case.to_json(&case_meta(stage, failure)),
            case_path,
            trace: trace.map(Trace::to_text).unwrap_or_default(),
            mermaid: None,
            slice: String::new(),
            properties_flag: None,
        }
    }

    /// Saves the counterexample's case in `dir` with [`save_case`] and
    /// reports it.
    pub fn save(
        counterexample: &Counterexample,
        stage: &str,
        dir: &Path,
    ) -> io::Result<FailureReport> {
        let meta = case_meta(stage, &counterexample.failure);
        let path = save_case(dir, &counterexample.case, &meta)?;
        Ok(FailureReport::from_counterexample(
            counterexample,
            stage,
            path,
        ))
    }

    /// Adds the failure's causal slice (of the run that gave `trace`, as
    /// [`CaseRun::slice`](crate::check::CaseRun::slice) holds it).
    pub fn with_slice(mut self, slice: &Slice, trace: &Trace) -> FailureReport {
        self.slice = slice.to_text(trace);
        self
    }

    /// Adds the Mermaid rendering of the trace to the report.
    pub fn with_mermaid(mut self, trace: &Trace) -> FailureReport {
        self.mermaid = Some(trace.to_mermaid());
        self
    }

    /// Says which properties the run checked, so that the replay line
    /// checks the same ones (`--properties 1,3` when not all six): a case
    /// found checking some properties may break another one first when
    /// replayed with all of them.
    pub fn with_properties(mut self, properties: &PropertySet) -> FailureReport {
        self.properties_flag = properties.cli_flag();
        self
    }

    /// Names the factory of your own registry in the replay line, as a
    /// Rust expression (`"&|| Box::new(MyRegistry::default())"` or a
    /// variable's name).
    pub fn with_factory(mut self, factory: &str) -> FailureReport {
        self.factory = factory.to_string();
        self
    }

    /// Whether the registry is a built-in stage, which `kvsim replay
    /// --registry` can build.
    pub fn is_builtin_stage(&self) -> bool {
        self.stage.parse::<Stage>().is_ok()
    }

    /// The one line that replays the case. For a built-in stage, the
    /// command `kvsim replay <path> --registry <stage>`, the path quoted
    /// for a POSIX shell when it needs it; for your own registry, which the
    /// command line cannot build, the Rust call
    /// `kvsim::check::replay(&<factory>, "<path>")` (see
    /// [`crate::check::replay`]).
    pub fn replay_command(&self) -> String {
        if !self.is_builtin_stage() {
            let path = self.case_path.to_string_lossy();
            let factory = self.factory.trim_start_matches('&');
            return match self.properties_flag.as_deref() {
                None => format!("kvsim::check::replay(&{factory}, {path:?})"),
                Some(flag) => {
                    let list = flag.trim_start_matches("--properties ");
                    format!(
                        "kvsim::check::replay_with(&{factory}, {path:?}, &kvsim::check::ReplayOptions::checking({list:?}.parse().unwrap()))"
                    )
                }
            };
        }
        replay_command(
            &self.case_path,
            &self.stage,
            self.properties_flag.as_deref(),
        )
    }
}

/// `kvsim replay <path> --registry <stage>` and the `--properties` flag
/// when one is given ([`PropertySet::cli_flag`]), each word quoted for a
/// POSIX shell when it needs it: the line that replays a case file saved
/// on a built-in stage, as every failure report prints it.
pub(crate) fn replay_command(
    case_path: &Path,
    stage: &str,
    properties_flag: Option<&str>,
) -> String {
    let mut line = format!(
        "kvsim replay {} --registry {}",
        shell_quote(&case_path.to_string_lossy()),
        shell_quote(stage)
    );
    if let Some(flag) = properties_flag {
        line.push(' ');
        line.push_str(flag);
    }
    line
}

/// The factory a user registry's replay line names unless told otherwise.
const FACTORY_DEFAULT: &str = "my_registry";

/// The case file's metadata for a failure on `stage`.
fn case_meta(stage: &str, failure: &Failure) -> CaseMeta {
    CaseMeta {
        registry: Some(stage.to_string()),
        property: Some(failure.property.to_string()),
        extra: Default::default(),
    }
}

impl fmt::Display for FailureReport {
    /// ```text
    /// property P1 lookup-is-alive broke at event 5 on registry unlinked
    ///   the registry's lookup reply names bucket:a#0, dead at this step
    /// (first found as P3 registry-dies-only-when-told at event 14, before shrinking: ...)
    /// case file: /tmp/cases/lookup-is-alive-1c3f59a2.case.json
    /// --- case
    /// {…}
    /// --- trace
    /// #1 t=0 [client0.cmd0] …
    /// --- slice (5 of 5 events, the causal past of #5 (…) and #4 (…))
    /// #1 t=0 [client0.cmd0] …
    /// --- replay
    /// kvsim replay /tmp/cases/lookup-is-alive-1c3f59a2.case.json --registry unlinked
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "property {} broke at event {} on registry {}",
            self.property, self.step, self.stage
        )?;
        if !self.detail.is_empty() {
            writeln!(f, "  {}", self.detail)?;
        }
        if let Some(found) = &self.found {
            writeln!(
                f,
                "(first found as {} at event {}, before shrinking: {})",
                found.property, found.step, found.detail
            )?;
        }
        writeln!(f, "case file: {}", self.case_path.display())?;
        writeln!(f, "--- case")?;
        write_block(f, &self.case_json)?;
        writeln!(f, "--- trace")?;
        if self.trace.is_empty() {
            writeln!(f, "(not traced)")?;
        } else {
            write_block(f, &self.trace)?;
        }
        if let Some(mermaid) = &self.mermaid {
            writeln!(f, "--- mermaid")?;
            write_block(f, mermaid)?;
        }
        if self.slice.is_empty() {
            writeln!(f, "--- slice\n(not traced)")?;
        } else {
            write_block(f, &self.slice)?;
        }
        writeln!(f, "--- replay")?;
        write!(f, "{}", self.replay_command())
    }
}

/// Writes `text`, ending it with a newline if it has none.
fn write_block(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str(text)?;
    if !text.ends_with('\n') {
        f.write_str("\n")?;
    }
    Ok(())
}

/// `text` as one word of a POSIX shell: unchanged when it is made of safe
/// characters only, else single-quoted.
fn shell_quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=+,@%".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Writes `case` as `<dir>/<property-name>-<hash>.case.json` and returns its
/// path. The name depends only on the file's text (the hash is FNV-1a of the
/// JSON, 8 hex digits): no time, no randomness. The file is opened
/// `create_new`, so a parallel run never clobbers it: if the name is taken
/// by a file with the same text, that file is reused; with other text, the
/// next of `-1`, `-2`, … is tried.
///
/// A file another process is still writing reads as different text, so two
/// runs saving the same case at the same moment may write it twice (under
/// two names); neither is clobbered.
pub fn save_case(dir: &Path, case: &Case, meta: &CaseMeta) -> io::Result<PathBuf> {
    let text = case.to_json(meta);
    let stem = format!(
        "{}-{:08x}",
        file_stem(meta.property.as_deref()),
        short_hash(text.as_bytes())
    );
    for suffix in 0..=CASE_FILE_SUFFIX_MAX {
        let name = if suffix == 0 {
            format!("{stem}.case.json")
        } else {
            format!("{stem}-{suffix}.case.json")
        };
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                if let Err(error) = file.write_all(text.as_bytes()).and_then(|()| file.flush()) {
                    // Leave no half-written case behind under a name that
                    // promises this text.
                    drop(file);
                    let _ = std::fs::remove_file(&path);
                    return Err(error);
                }
                return Ok(path);
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                // A directory, or a file we cannot read, under this name is
                // "other content": try the next name.
                if std::fs::read(&path).is_ok_and(|existing| existing == text.as_bytes()) {
                    return Ok(path);
                }
            }
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{}: {stem}.case.json and its suffixes -1 to -{CASE_FILE_SUFFIX_MAX} are all taken by other cases",
            dir.display()
        ),
    ))
}

/// The file name part for a property such as `P1 lookup-is-alive`: its name
/// (`lookup-is-alive`), lowercase ASCII letters, digits and `-` only;
/// `case` when there is none.
fn file_stem(property: Option<&str>) -> String {
    let property = property.unwrap_or("").trim();
    // Drop the `P<number> ` prefix that `Property`'s Display puts first.
    let name = match property.split_once(' ') {
        Some((number, rest))
            if number.len() > 1
                && number.starts_with('P')
                && number[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            rest
        }
        _ => property,
    };
    let mut stem = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            stem.push(c);
        } else if !stem.is_empty() && !stem.ends_with('-') {
            stem.push('-');
        }
    }
    while stem.ends_with('-') {
        stem.pop();
    }
    // Bound the name so that a long custom property name cannot exceed a
    // file system's name length.
    stem.truncate(64);
    if stem.is_empty() {
        stem.push_str("case");
    }
    stem
}

/// FNV-1a (64 bits) of `bytes`, folded to 32 bits: stable across builds,
/// platforms and Rust versions, unlike `std`'s `DefaultHasher`.
fn short_hash(bytes: &[u8]) -> u32 {
    const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = FNV_OFFSET_BASIS;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    (hash ^ (hash >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::case::{CaseClient, CaseFault};
    use crate::check::property::P1_LOOKUP_IS_ALIVE;
    use crate::kv::{Command, KvFault};
    use crate::sim::EventKey;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A directory of its own for one test, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(test: &str) -> TempDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("kvsim-report-{}-{n}-{test}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("create the temp dir");
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn stale_lookup() -> Case {
        Case {
            clients: vec![CaseClient {
                id: 0,
                commands: vec![
                    (0, Command::Create { bucket: "a".into() }),
                    (1, Command::Lookup { bucket: "a".into() }),
                ],
            }],
            faults: vec![CaseFault {
                id: 0,
                fault: KvFault::KillBucket("a".into()),
            }],
            schedule: vec![EventKey::fault(0)],
            strategy: None,
        }
    }

    fn p1_meta() -> CaseMeta {
        CaseMeta {
            registry: Some("unlinked".into()),
            property: Some("P1 lookup-is-alive".into()),
            extra: Default::default(),
        }
    }

    fn p1_failure() -> Failure {
        Failure {
            property: P1_LOOKUP_IS_ALIVE,
            step: 5,
            detail: "the registry's lookup reply names bucket:a#0, dead at this step".into(),
        }
    }

    fn file_name(path: &Path) -> String {
        path.file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // FNV-1a 64 of "" is the offset basis; of "a", 0xaf63dc4c8601ec8c.
        assert_eq!(short_hash(b""), 0xcbf2_9ce4 ^ 0x8422_2325);
        assert_eq!(short_hash(b"a"), 0xaf63_dc4c ^ 0x8601_ec8c);
    }

    #[test]
    fn file_stems_are_the_property_name() {
        assert_eq!(file_stem(Some("P1 lookup-is-alive")), "lookup-is-alive");
        assert_eq!(file_stem(Some("P0 My Own/Property!")), "my-own-property");
        assert_eq!(file_stem(Some("Pfoo bar")), "pfoo-bar");
        assert_eq!(file_stem(Some("../..")), "case");
        assert_eq!(file_stem(None), "case");
        assert_eq!(file_stem(Some(&"x".repeat(200))).len(), 64);
    }

    #[test]
    fn save_case_names_the_file_by_property_and_content() {
        let dir = TempDir::new("names");
        let path = save_case(&dir.0, &stale_lookup(), &p1_meta()).expect("saves");
        let text = stale_lookup().to_json(&p1_meta());
        let expected = format!(
            "lookup-is-alive-{:08x}.case.json",
            short_hash(text.as_bytes())
        );
        assert_eq!(file_name(&path), expected);
        assert_eq!(path.parent(), Some(dir.0.as_path()));
        assert_eq!(std::fs::read_to_string(&path).expect("reads"), text);
        let (case, meta) = Case::from_json(&path, &text).expect("a case file");
        assert_eq!(case, stale_lookup());
        assert_eq!(meta, p1_meta());
    }

    #[test]
    fn save_case_reuses_a_file_with_the_same_content() {
        let dir = TempDir::new("reuse");
        let first = save_case(&dir.0, &stale_lookup(), &p1_meta()).expect("saves");
        let second = save_case(&dir.0, &stale_lookup(), &p1_meta()).expect("saves again");
        assert_eq!(first, second);
        assert_eq!(std::fs::read_dir(&dir.0).expect("lists").count(), 1);
    }

    #[test]
    fn save_case_never_clobbers_other_content() {
        let dir = TempDir::new("clobber");
        let text = stale_lookup().to_json(&p1_meta());
        let stem = format!("lookup-is-alive-{:08x}", short_hash(text.as_bytes()));
        let taken = dir.0.join(format!("{stem}.case.json"));
        std::fs::write(&taken, "someone else's case\n").expect("writes");
        // A directory under the `-1` name is other content too.
        std::fs::create_dir(dir.0.join(format!("{stem}-1.case.json"))).expect("mkdir");
        let path = save_case(&dir.0, &stale_lookup(), &p1_meta()).expect("saves");
        assert_eq!(file_name(&path), format!("{stem}-2.case.json"));
        assert_eq!(
            std::fs::read_to_string(&taken).expect("reads"),
            "someone else's case\n"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("reads"), text);
        // Saving again finds the `-2` file and reuses it.
        let again = save_case(&dir.0, &stale_lookup(), &p1_meta()).expect("saves");
        assert_eq!(again, path);
    }

    #[test]
    fn different_cases_get_different_names() {
        let dir = TempDir::new("different");
        let mut other = stale_lookup();
        other.schedule.clear();
        let a = save_case(&dir.0, &stale_lookup(), &p1_meta()).expect("saves");
        let b = save_case(&dir.0, &other, &p1_meta()).expect("saves");
        assert_ne!(a, b);
        let none = save_case(&dir.0, &other, &CaseMeta::default()).expect("saves");
        assert!(file_name(&none).starts_with("case-"), "{none:?}");
    }

    #[test]
    fn save_case_reports_a_missing_directory() {
        let dir = TempDir::new("missing");
        let error = save_case(&dir.0.join("nope"), &stale_lookup(), &p1_meta()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }

    fn report(case_path: &str) -> FailureReport {
        FailureReport::from_failure(
            &stale_lookup(),
            "unlinked",
            &p1_failure(),
            None,
            PathBuf::from(case_path),
        )
    }

    #[test]
    fn the_report_ends_with_the_replay_command() {
        let report = report("/tmp/cases/lookup-is-alive-0.case.json");
        let text = report.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..3],
            [
                "property P1 lookup-is-alive broke at event 5 on registry unlinked",
                "  the registry's lookup reply names bucket:a#0, dead at this step",
                "case file: /tmp/cases/lookup-is-alive-0.case.json",
            ]
        );
        assert_eq!(
            lines.last(),
            Some(&"kvsim replay /tmp/cases/lookup-is-alive-0.case.json --registry unlinked")
        );
        assert!(text.contains("--- case\n{\n  \"kvsim_case\": 2,"), "{text}");
        assert!(
            text.contains("--- trace\n(not traced)\n--- slice\n(not traced)\n--- replay\n"),
            "{text}"
        );
        assert!(!text.ends_with('\n'));
        assert_eq!(
            report.case_json,
            stale_lookup().to_json(&p1_meta()),
            "the case JSON names the stage and the property"
        );
    }

    #[test]
    fn the_replay_command_quotes_odd_paths() {
        assert_eq!(
            report("/tmp/my cases/it's.case.json").replay_command(),
            r"kvsim replay '/tmp/my cases/it'\''s.case.json' --registry unlinked"
        );
    }

    #[test]
    fn a_report_carries_the_trace_and_optionally_mermaid() {
        use crate::check::checker::{CheckConfig, run_case};
        use crate::kv::Stage;
        let config = CheckConfig {
            tracing: true,
            ..CheckConfig::default()
        };
        let run = run_case(&stale_lookup(), &|| Stage::Unlinked.registry(), &config);
        let failure = run.failure.expect("unlinked breaks P1 on this case");
        let trace = run.trace.expect("traced");
        let slice = run.slice.expect("a traced failure has a slice");
        let report = FailureReport::from_failure(
            &stale_lookup(),
            "unlinked",
            &failure,
            Some(&trace),
            PathBuf::from("c.case.json"),
        )
        .with_mermaid(&trace)
        .with_slice(&slice, &trace);
        assert_eq!(report.property, P1_LOOKUP_IS_ALIVE);
        let text = report.to_string();
        let trace_text = trace.to_text();
        assert!(text.contains(&format!("--- trace\n{trace_text}")), "{text}");
        assert!(text.contains("--- mermaid\nsequenceDiagram"), "{text}");
        // The slice comes after the trace, before the replay line.
        let slice_at = text.find("\n--- slice (5 of 5 events").expect("a slice");
        assert!(
            slice_at > text.find("--- trace").expect("a trace"),
            "{text}"
        );
        assert!(
            slice_at < text.find("--- replay").expect("a replay"),
            "{text}"
        );
        assert!(text.ends_with("--- replay\nkvsim replay c.case.json --registry unlinked"));
    }

    #[test]
    fn save_writes_the_case_and_reports_its_path() {
        let dir = TempDir::new("save");
        let counterexample = Counterexample {
            failure: p1_failure(),
            case: stale_lookup(),
            found: p1_failure(),
            cases_to_failure: 1,
            before: Default::default(),
            trace: "#1 t=0 [fault0] kill bucket:a\n".into(),
            slice: "--- slice (1 of 1 events, the causal past of #1 (the kill))\n#1 t=0 [fault0] kill bucket:a\n".into(),
        };
        let report = FailureReport::save(&counterexample, "unlinked", &dir.0).expect("saves");
        let text = std::fs::read_to_string(&report.case_path).expect("reads");
        assert_eq!(text, report.case_json);
        assert_eq!(report.trace, counterexample.trace);
        assert_eq!(report.slice, counterexample.slice);
        assert!(
            report
                .to_string()
                .contains(&format!("{}--- replay\n", counterexample.slice))
        );
        assert!(report.to_string().ends_with("--registry unlinked"));
    }
}
