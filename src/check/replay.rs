//! Replaying saved cases on any registry, and keeping them: one case file
//! ([`replay`], what `kvsim replay` prints, for built-in stages and your own
//! registry alike) or a directory of them ([`regressions`], a failure kept
//! as a `cargo test`). Owns reading a case file from disk, its errors, and
//! the verdict lines every checking front end prints.

use crate::check::case::{Case, CaseFileError, CaseMeta};
use crate::check::checker::{CaseRun, CheckConfig, RegistryFactory, Verdict, run_case};
use crate::check::property::PropertySet;
use std::fmt;
use std::path::{Path, PathBuf};

/// The suffix of a case file.
pub const CASE_FILE_SUFFIX: &str = ".case.json";

/// A case file that cannot be replayed. Each names the file first.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReplayError {
    /// The file (or, for [`regressions`], the directory) cannot be read:
    /// missing, a directory, no permission.
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not UTF-8; `valid_up_to` bytes are.
    NotUtf8 { path: PathBuf, valid_up_to: usize },
    /// The file is empty or only white space.
    Empty { path: PathBuf },
    /// The text is not a case file (see [`CaseFileError`]).
    Case(CaseFileError),
    /// The case file's `registry` is not a built-in stage, and no
    /// `--registry` overrides it (`kvsim replay` only).
    Registry { path: PathBuf, message: String },
    /// [`regressions`] found no `*.case.json` in the directory: a kept
    /// failure that cannot fail is a mistake (a wrong path, most often).
    NoCases { dir: PathBuf },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Read { path, error } => {
                write!(f, "{}: cannot read: {error}", path.display())
            }
            ReplayError::NotUtf8 { path, valid_up_to } => write!(
                f,
                "{}: not a case file: not UTF-8 (bad byte at offset {valid_up_to})",
                path.display()
            ),
            ReplayError::Empty { path } => {
                write!(f, "{}: not a case file: the file is empty", path.display())
            }
            ReplayError::Case(error) => write!(f, "{error}"),
            ReplayError::Registry { path, message } => write!(
                f,
                "{}: registry: {message} (pass --registry to choose one)",
                path.display()
            ),
            ReplayError::NoCases { dir } => write!(
                f,
                "{}: no *{CASE_FILE_SUFFIX} file to replay",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for ReplayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReplayError::Read { error, .. } => Some(error),
            ReplayError::Case(error) => Some(error),
            _ => None,
        }
    }
}

/// Reads and parses a case file: the case and its metadata. A UTF-8
/// byte-order mark at its start is skipped ([`Case::from_json`]).
pub fn read_case(path: impl AsRef<Path>) -> Result<(Case, CaseMeta), ReplayError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|error| ReplayError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let text = String::from_utf8(bytes).map_err(|error| ReplayError::NotUtf8 {
        path: path.to_path_buf(),
        valid_up_to: error.utf8_error().valid_up_to(),
    })?;
    let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if body.trim().is_empty() {
        return Err(ReplayError::Empty {
            path: path.to_path_buf(),
        });
    }
    Case::from_json(path, &text).map_err(ReplayError::Case)
}

/// How to replay: the registry's name in the verdict line and how to check.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// The name the verdict gives the registry (`... on registry NAME`).
    pub registry_name: String,
    /// The properties, model, bounds and limits; `tracing` to keep the
    /// trace in [`ReplayReport::run`].
    pub check: CheckConfig,
}

impl ReplayOptions {
    /// The name [`replay`] gives a registry it knows nothing of.
    pub const REGISTRY_NAME_DEFAULT: &'static str = "under test";

    /// The default options checking only `properties` (for a case found
    /// checking a subset, which may break another property first when
    /// replayed with all six): `ReplayOptions::checking("1,4".parse()?)`,
    /// the line a failure report on your own registry prints then.
    pub fn checking(properties: PropertySet) -> ReplayOptions {
        let mut options = ReplayOptions::default();
        options.check.properties = properties;
        options
    }
}

impl Default for ReplayOptions {
    /// Named [`ReplayOptions::REGISTRY_NAME_DEFAULT`], the default
    /// [`CheckConfig`] (all six properties, `kvsim replay`'s limits).
    fn default() -> ReplayOptions {
        ReplayOptions {
            registry_name: ReplayOptions::REGISTRY_NAME_DEFAULT.to_string(),
            check: CheckConfig::default(),
        }
    }
}

/// One replayed case: the file, what it holds, and the checked run.
#[derive(Clone, Debug)]
pub struct ReplayReport {
    pub path: PathBuf,
    pub case: Case,
    /// The file's metadata: `registry` names the registry it was found on.
    pub meta: CaseMeta,
    /// The name the verdict gives the registry it was replayed on.
    pub registry_name: String,
    /// The properties the replay checked.
    pub properties: PropertySet,
    pub run: CaseRun,
}

impl ReplayReport {
    /// The case's overrides whose event never ran, with their index in
    /// the list. With a non-empty list every step is recorded in
    /// [`CaseRun::schedule_taken`], so an override that ran, by its own
    /// match or as the order's pick, is there.
    pub fn unused_overrides(&self) -> Vec<(usize, &crate::sim::EventKey)> {
        let ran: std::collections::BTreeSet<&crate::sim::EventKey> =
            self.run.schedule_taken.iter().collect();
        self.case
            .schedule
            .iter()
            .enumerate()
            .filter(|(_, key)| !ran.contains(key))
            .collect()
    }

    /// What the run comes to: broken, cut, undecided or holds.
    pub fn verdict(&self) -> Verdict {
        self.run.verdict()
    }

    /// Every property held and the run was decided to the end.
    pub fn holds(&self) -> bool {
        self.verdict() == Verdict::Holds
    }

    /// A property broke (not merely undecided or cut).
    pub fn broke(&self) -> bool {
        matches!(self.verdict(), Verdict::Broken(_))
    }
}

impl fmt::Display for ReplayReport {
    /// What `kvsim replay` prints (before `--- trace`): the dialogue, the
    /// verdict lines ([`verdict_lines`]), then `fault N never fired` for
    /// each fault that never fired and `override I never ran: KEY` for each
    /// override whose event never ran (a mistyped key, or one past the
    /// step where the run stopped).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.run.dialogue)?;
        f.write_str(&verdict_lines(
            &self.run,
            &self.registry_name,
            &self.properties,
        ))?;
        for fault in &self.run.unused_faults {
            writeln!(f, "fault {fault} never fired")?;
        }
        for (index, key) in self.unused_overrides() {
            writeln!(f, "override {index} never ran: {key}")?;
        }
        Ok(())
    }
}

/// The verdict of a checked run on registry `name`, as every front end
/// prints it, one line each, ending in `\n`:
///
/// - `P1 lookup-is-alive broke at event 5 on registry unlinked: <detail>`
/// - `LIMIT max-steps 100`, then `run cut at event 100 on registry fixed:
///   properties were checked only up to the cut` (and the undecided line,
///   if property 4 was undecided too)
/// - `P4 linearizable undecided at event 7 on registry fixed: the search of
///   object "a" (40 operations) reached its bound of 10 configurations`
/// - `all properties hold on registry fixed`, or, when `properties` is
///   not every built-in one, `properties 1,3 hold on registry fixed`
pub fn verdict_lines(run: &CaseRun, name: &str, properties: &PropertySet) -> String {
    let undecided = |undecided: &crate::check::Undecided| {
        format!(
            "{} undecided at event {} on registry {name}: {}\n",
            crate::check::P4_LINEARIZABLE,
            undecided.step,
            undecided.search
        )
    };
    match run.verdict() {
        Verdict::Broken(failure) => format!(
            "{} broke at event {} on registry {name}: {}\n",
            failure.property, failure.step, failure.detail
        ),
        Verdict::Cut { limit, value } => {
            let mut text = format!(
                "LIMIT {limit} {value}\nrun cut at event {} on registry {name}: properties were checked only up to the cut\n",
                run.steps
            );
            if let Some(found) = &run.undecided {
                text.push_str(&undecided(found));
            }
            text
        }
        Verdict::Undecided(found) => undecided(&found),
        Verdict::Holds => match properties.subset_text() {
            Some(list) => format!("properties {list} hold on registry {name}\n"),
            None => format!("all properties hold on registry {name}\n"),
        },
    }
}

/// Replays the case file at `path` on a registry built by `registry`, with
/// every property checked ([`ReplayOptions::default`]): the report
/// `kvsim replay` prints, as a value. The Rust way to replay a failure
/// found on your own registry, which `kvsim replay` cannot build:
///
/// ```no_run
/// # use kvsim::kv::Stage;
/// # let my_registry = || Stage::Fixed.registry();
/// let report = kvsim::check::replay(&my_registry, "kvsim-failures/x.case.json").unwrap();
/// assert!(report.holds(), "{report}");
/// ```
///
/// # Errors
///
/// A file that cannot be read or is not a case file ([`ReplayError`]).
pub fn replay(
    registry: &RegistryFactory<'_>,
    path: impl AsRef<Path>,
) -> Result<ReplayReport, ReplayError> {
    replay_with(registry, path, &ReplayOptions::default())
}

/// [`replay`] with options: the registry's name, the check configuration.
///
/// # Errors
///
/// As [`replay`].
pub fn replay_with(
    registry: &RegistryFactory<'_>,
    path: impl AsRef<Path>,
    options: &ReplayOptions,
) -> Result<ReplayReport, ReplayError> {
    let path = path.as_ref();
    let (case, meta) = read_case(path)?;
    Ok(replay_case(registry, path, case, meta, options))
}

/// Replays an already read case; `path` only names it in the report.
pub fn replay_case(
    registry: &RegistryFactory<'_>,
    path: &Path,
    case: Case,
    meta: CaseMeta,
    options: &ReplayOptions,
) -> ReplayReport {
    let run = run_case(&case, registry, &options.check);
    ReplayReport {
        path: path.to_path_buf(),
        case,
        meta,
        registry_name: options.registry_name.clone(),
        properties: options.check.properties.clone(),
        run,
    }
}

/// Every case file of a directory, replayed: one entry per `*.case.json`
/// file, sorted by file name.
#[derive(Debug)]
pub struct Regressions {
    pub dir: PathBuf,
    /// Each file and its replay (or why it could not be replayed).
    pub files: Vec<(PathBuf, Result<ReplayReport, ReplayError>)>,
}

impl Regressions {
    /// Every file replayed and every property held, decided to the end.
    pub fn all_hold(&self) -> bool {
        self.files
            .iter()
            .all(|(_, result)| result.as_ref().is_ok_and(ReplayReport::holds))
    }

    /// The files that did not hold: broken, cut, undecided or unreadable.
    pub fn failing(&self) -> impl Iterator<Item = &(PathBuf, Result<ReplayReport, ReplayError>)> {
        self.files
            .iter()
            .filter(|(_, result)| !result.as_ref().is_ok_and(ReplayReport::holds))
    }
}

impl fmt::Display for Regressions {
    /// One line per file: `holds  <path>`, `BROKE  <path>: <verdict>`,
    /// `CUT  ...`, `UNDECIDED  ...` or `ERROR  <error>`; then each failing
    /// file's full report.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} case files in {}",
            self.files.len(),
            self.dir.display()
        )?;
        for (path, result) in &self.files {
            match result {
                Ok(report) => {
                    let word = match report.verdict() {
                        Verdict::Holds => "holds",
                        Verdict::Broken(_) => "BROKE",
                        Verdict::Cut { .. } => "CUT",
                        Verdict::Undecided(_) => "UNDECIDED",
                    };
                    let line =
                        verdict_lines(&report.run, &report.registry_name, &report.properties);
                    let first = line.lines().next().unwrap_or("");
                    if report.holds() {
                        writeln!(f, "{word:<9} {}", path.display())?;
                    } else {
                        writeln!(f, "{word:<9} {}: {first}", path.display())?;
                    }
                }
                Err(error) => writeln!(f, "{:<9} {error}", "ERROR")?,
            }
        }
        for (path, result) in self.failing() {
            if let Ok(report) = result {
                writeln!(f, "--- {}", path.display())?;
                write!(f, "{report}")?;
            }
        }
        Ok(())
    }
}

/// Replays every `*.case.json` file of `dir` (not its subdirectories), in
/// file name order, on a registry built by `registry`, every property
/// checked. How you keep failures as a `cargo test`: save each failing case
/// (a [`FailureReport`](crate::check::FailureReport) names its file) into a
/// directory of your crate, fix your registry, and assert that every case
/// there holds on it from then on:
///
/// ```no_run
/// # use kvsim::kv::Stage;
/// # let my_registry = || Stage::Fixed.registry();
/// let kept = kvsim::check::regressions(&my_registry, "tests/regressions").unwrap();
/// assert!(kept.all_hold(), "{kept}");
/// ```
///
/// # Errors
///
/// The directory cannot be read, or holds no case file
/// ([`ReplayError::NoCases`]). A file that cannot be replayed is not an
/// error of the whole: it is reported in its entry.
pub fn regressions(
    registry: &RegistryFactory<'_>,
    dir: impl AsRef<Path>,
) -> Result<Regressions, ReplayError> {
    regressions_with(registry, dir, &ReplayOptions::default())
}

/// [`regressions`] with options.
///
/// # Errors
///
/// As [`regressions`].
pub fn regressions_with(
    registry: &RegistryFactory<'_>,
    dir: impl AsRef<Path>,
    options: &ReplayOptions,
) -> Result<Regressions, ReplayError> {
    let dir = dir.as_ref();
    let read_error = |error| ReplayError::Read {
        path: dir.to_path_buf(),
        error,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let is_case = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.ends_with(CASE_FILE_SUFFIX));
        if is_case && path.is_file() {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(ReplayError::NoCases {
            dir: dir.to_path_buf(),
        });
    }
    // `read_dir`'s order is the file system's: sorting makes the report
    // the same on every machine.
    paths.sort();
    let files = paths
        .into_iter()
        .map(|path| {
            let result = replay_with(registry, &path, options);
            (path, result)
        })
        .collect();
    Ok(Regressions {
        dir: dir.to_path_buf(),
        files,
    })
}
