//! The `.kv` text format (docs/script-language.md): splitting a file into
//! lines and words, recognising commands and harness directives, grouping
//! them into client scripts, and the script errors with their messages.
//! Owns parsing only: what a [`Command`] does when played is the client's
//! and the runner's business.
//!
//! A malformed *command* is not an error here: it becomes
//! [`Command::Unknown`], which the client answers `UNKNOWN COMMAND`. A
//! malformed *directive*, an over-long line or bytes that are not UTF-8 are
//! [`ScriptError`]s, reported as `FILE:LINE: what is wrong`.

use crate::kv::command::{Command, Target};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The UTF-8 byte-order mark, skipped at the start of a script.
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// The longest line accepted, in bytes, not counting its line ending.
pub const LINE_LEN_BYTES_MAX: usize = 4096;

/// The longest `CRASH` reason accepted, in bytes (a BEAM atom's limit).
pub const REASON_LEN_BYTES_MAX: usize = 255;

/// The client that owns the lines before the first `CLIENT`.
pub const MAIN_CLIENT: &str = "main";

/// A parsed script: its clients, in order of first appearance (that order
/// is their number, and their priority under `fifo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub clients: Vec<ClientScript>,
}

impl Script {
    /// Each client's commands and directives, in file order: a script as
    /// a case's fixed clients (`GenConfig::script`, `kvsim explore
    /// SCRIPT`) take it.
    pub fn client_commands(&self) -> Vec<Vec<Command>> {
        self.clients
            .iter()
            .map(|client| client.lines.iter().map(|l| l.command.clone()).collect())
            .collect()
    }

    /// The bucket names the commands name ([`Command::bucket`]), in order
    /// of first use: the names `kvsim explore SCRIPT` aims faults at.
    pub fn bucket_names(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut names = Vec::new();
        let commands = self
            .clients
            .iter()
            .flat_map(|c| &c.lines)
            .map(|l| &l.command);
        for name in commands.filter_map(Command::bucket) {
            if seen.insert(name) {
                names.push(name.to_string());
            }
        }
        names
    }
}

/// One client's commands and directives, in file order (`CLIENT` lines
/// themselves are not kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientScript {
    pub name: String,
    pub lines: Vec<ScriptLine>,
}

/// One command or directive and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptLine {
    /// 1-based line number in the file.
    pub line: usize,
    pub command: Command,
}

/// A script that cannot be run: where, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    path: PathBuf,
    line: usize,
    kind: ScriptErrorKind,
}

impl ScriptError {
    /// The 1-based line number of the offending line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// What is wrong.
    pub fn kind(&self) -> &ScriptErrorKind {
        &self.kind
    }

    /// The script's path, as given to [`parse`].
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `FILE:LINE: what is wrong`.
impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.kind)
    }
}

impl std::error::Error for ScriptError {}

/// What is wrong with a script line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScriptErrorKind {
    /// A directive lacks a word: `CRASH` with no target, `SEND registry`
    /// with no message, `CLIENT` with no name.
    MissingArgument {
        directive: &'static str,
        argument: &'static str,
    },
    /// A directive has more words than it takes (`found` and `max` count
    /// the words after the directive).
    ExtraArguments {
        directive: &'static str,
        found: usize,
        max: usize,
    },
    /// A line longer than [`LINE_LEN_BYTES_MAX`], not counting its ending.
    LineTooLong {
        len_bytes: usize,
        len_bytes_max: usize,
    },
    /// The line holds bytes that are not UTF-8.
    NotUtf8,
    /// A `CRASH` reason longer than [`REASON_LEN_BYTES_MAX`].
    ReasonTooLong {
        len_bytes: usize,
        len_bytes_max: usize,
    },
    /// `SEND` aimed at something other than `registry`.
    SendTarget { target: String },
    /// A second `CLIENT` with a name already used.
    DuplicateClient { name: String, first_line: usize },
    /// `CLIENT main` after lines that already went to the implicit `main`
    /// client (the first of them is on `first_line`).
    DuplicateMainClient { first_line: usize },
    /// The script goes on past [`SCRIPT_BYTES_MAX`] bytes (reported on the
    /// line being read then).
    TooLarge { bytes_max: usize },
    /// Reading failed (the error as the system gave it).
    Unreadable { message: String },
}

/// The "what is wrong" part of the message: lowercase, no final period,
/// user text quoted.
impl fmt::Display for ScriptErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptErrorKind::MissingArgument {
                directive,
                argument,
            } => {
                write!(f, "{directive} needs a {argument}")
            }
            ScriptErrorKind::ExtraArguments {
                directive, max: 0, ..
            } => {
                write!(f, "{directive} takes no arguments")
            }
            ScriptErrorKind::ExtraArguments {
                directive,
                found,
                max: 1,
            } => {
                write!(f, "{directive} takes at most 1 argument, found {found}")
            }
            ScriptErrorKind::ExtraArguments {
                directive,
                found,
                max,
            } => {
                write!(
                    f,
                    "{directive} takes at most {max} arguments, found {found}"
                )
            }
            ScriptErrorKind::LineTooLong {
                len_bytes,
                len_bytes_max,
            } => {
                write!(
                    f,
                    "line is {len_bytes} bytes long, at most {len_bytes_max} allowed"
                )
            }
            ScriptErrorKind::NotUtf8 => f.write_str("line is not valid UTF-8"),
            ScriptErrorKind::ReasonTooLong {
                len_bytes,
                len_bytes_max,
            } => {
                write!(
                    f,
                    "reason is {len_bytes} bytes long, at most {len_bytes_max} allowed"
                )
            }
            ScriptErrorKind::SendTarget { target } => {
                write!(f, "SEND can only target registry, not {target:?}")
            }
            ScriptErrorKind::DuplicateClient { name, first_line } => {
                write!(f, "client {name:?} is already defined on line {first_line}")
            }
            ScriptErrorKind::TooLarge { bytes_max } => write!(
                f,
                "the script goes on past {bytes_max} bytes, the most a script may have"
            ),
            ScriptErrorKind::Unreadable { message } => write!(f, "cannot read: {message}"),
            ScriptErrorKind::DuplicateMainClient { first_line } => write!(
                f,
                "client {MAIN_CLIENT:?} is already defined by the lines before the first CLIENT, \
                 from line {first_line}"
            ),
        }
    }
}

/// Parses a `.kv` script. `path` is used only in error messages.
///
/// Lines are split on `\n`, and one `\r` at the end of a line is dropped
/// (also on a last line with no `\n`, as the BEAM reference runner does).
/// A UTF-8 byte-order mark at the start of the file is skipped.
/// Words are split on ASCII spaces and tabs only. The first error stops
/// parsing. Bytes already in memory have no size limit; [`read`] and
/// [`read_text`] read a file line by line with one.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Script, ScriptError> {
    let mut clients = Clients::<Vec<ScriptLine>>::default();
    read_lines(path, bytes, usize::MAX, &mut clients)?;
    Ok(clients.finish_script())
}

/// The largest script [`read`] and [`read_text`] accept, in bytes: they
/// keep a script's commands in memory (as text, for [`read_text`]), so this
/// bounds what a script can cost before it runs; a stream that never ends,
/// such as `/dev/zero`, is refused once it is past it.
pub const SCRIPT_BYTES_MAX: usize = 64 << 20;

/// Reads a `.kv` script from `reader` line by line, as [`parse`] reads
/// bytes, holding at most one line of [`LINE_LEN_BYTES_MAX`] bytes (an
/// over-long line is measured without being kept) and refusing a script
/// of more than [`SCRIPT_BYTES_MAX`] bytes.
pub fn read(path: &Path, reader: impl Read) -> Result<Script, ScriptError> {
    let mut clients = Clients::<Vec<ScriptLine>>::default();
    read_lines(path, reader, SCRIPT_BYTES_MAX, &mut clients)?;
    Ok(clients.finish_script())
}

/// Reads a script like [`read`] but keeps each client's commands as their
/// text, parsed again one at a time as the client plays them: about one
/// byte per byte of command (a parsed command costs several allocations).
/// How `kvsim run` reads its script.
pub fn read_text(path: &Path, reader: impl Read) -> Result<ScriptText, ScriptError> {
    let mut clients = Clients::<(Vec<u8>, usize)>::default();
    read_lines(path, reader, SCRIPT_BYTES_MAX, &mut clients)?;
    let clients = clients
        .finish()
        .into_iter()
        .map(|(name, (text, commands))| ClientText {
            name,
            text: Arc::new(text),
            commands,
        })
        .collect();
    Ok(ScriptText { clients })
}

/// A script as [`read_text`] keeps it: each client's commands as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptText {
    pub clients: Vec<ClientText>,
}

/// One client of a [`ScriptText`]: its name and its command lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientText {
    pub name: String,
    /// The command lines, each ending in `\n`, as the file had them (one
    /// ending `\r` dropped).
    text: Arc<Vec<u8>>,
    commands: usize,
}

impl ClientText {
    /// The number of commands.
    pub fn len(&self) -> usize {
        self.commands
    }

    pub fn is_empty(&self) -> bool {
        self.commands == 0
    }

    /// The commands, parsed as they are taken.
    pub fn commands(&self) -> CommandText {
        CommandText {
            text: Arc::clone(&self.text),
            at: 0,
        }
    }
}

/// The commands of a [`ClientText`], parsed one at a time.
#[derive(Clone, Debug)]
pub struct CommandText {
    text: Arc<Vec<u8>>,
    at: usize,
}

impl Iterator for CommandText {
    type Item = Command;

    fn next(&mut self) -> Option<Command> {
        let rest = self.text.get(self.at..)?;
        let end = rest.iter().position(|&b| b == b'\n')?;
        self.at += end + 1;
        // Read and checked once already: UTF-8, and a command (not a
        // `CLIENT`, comment or blank line) that parses.
        let text = std::str::from_utf8(&rest[..end]).unwrap_or_default();
        let words: Vec<&str> = text.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
        match parse_line(&words) {
            Ok(Parsed::Command(command)) => Some(command),
            _ => Some(Command::Unknown {
                words: words.iter().map(|w| w.to_string()).collect(),
            }),
        }
    }
}

impl ScriptText {
    /// The same script with every command parsed.
    pub fn to_script(&self) -> Script {
        Script {
            clients: self
                .clients
                .iter()
                .map(|client| ClientScript {
                    name: client.name.clone(),
                    // Line numbers are not kept as text; a parsed script
                    // from text numbers its commands from 1.
                    lines: client
                        .commands()
                        .enumerate()
                        .map(|(index, command)| ScriptLine {
                            line: index + 1,
                            command,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Splits what `reader` yields into lines and hands each non-blank,
/// non-comment one to `clients`, counting at most `bytes_max` bytes.
fn read_lines<L: Lines>(
    path: &Path,
    reader: impl Read,
    bytes_max: usize,
    clients: &mut Clients<L>,
) -> Result<(), ScriptError> {
    let error = |line: usize, kind: ScriptErrorKind| ScriptError {
        path: path.to_path_buf(),
        line,
        kind,
    };
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut buffer: Vec<u8> = Vec::with_capacity(LINE_LEN_BYTES_MAX + 2);
    let mut total = 0usize;
    let mut line = 0usize;
    loop {
        line += 1;
        buffer.clear();
        // The line's length so far; past LINE_LEN_BYTES_MAX + 1 (a final
        // `\r` is not counted) the bytes are counted, not kept.
        let mut len = 0usize;
        let mut last = 0u8;
        let mut ended = false;
        loop {
            let chunk = match reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(error(
                        line,
                        ScriptErrorKind::Unreadable {
                            message: e.to_string(),
                        },
                    ));
                }
            };
            if chunk.is_empty() {
                break;
            }
            let (piece, found) = match chunk.iter().position(|&b| b == b'\n') {
                Some(at) => (&chunk[..at], true),
                None => (chunk, false),
            };
            if buffer.len() + piece.len() <= LINE_LEN_BYTES_MAX + 1 {
                buffer.extend_from_slice(piece);
            }
            if let Some(&byte) = piece.last() {
                last = byte;
            }
            len += piece.len();
            let consumed = piece.len() + usize::from(found);
            total = total.saturating_add(consumed);
            reader.consume(consumed);
            if total > bytes_max {
                return Err(error(line, ScriptErrorKind::TooLarge { bytes_max }));
            }
            if found {
                ended = true;
                break;
            }
        }
        let len = if last == b'\r' && len > 0 {
            len - 1
        } else {
            len
        };
        if len > LINE_LEN_BYTES_MAX {
            return Err(error(
                line,
                ScriptErrorKind::LineTooLong {
                    len_bytes: len,
                    len_bytes_max: LINE_LEN_BYTES_MAX,
                },
            ));
        }
        let raw = buffer.strip_suffix(b"\r").unwrap_or(&buffer);
        // A byte-order mark (editors on Windows write one) is not part of
        // the first command; anywhere else U+FEFF is a word character.
        let raw = match line {
            1 => raw.strip_prefix(BYTE_ORDER_MARK).unwrap_or(raw),
            _ => raw,
        };
        let text = std::str::from_utf8(raw).map_err(|_| error(line, ScriptErrorKind::NotUtf8))?;
        let words: Vec<&str> = text.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
        let comment_or_blank = words.first().is_none_or(|first| first.starts_with('#'));
        if !comment_or_blank {
            match parse_line(&words).map_err(|kind| error(line, kind))? {
                Parsed::Client(name) => clients
                    .start(name, line)
                    .map_err(|kind| error(line, kind))?,
                Parsed::Command(command) => clients.push(line, text, command),
            }
        }
        if !ended {
            return Ok(());
        }
    }
}

/// How a client's commands are kept while a script is read: parsed, or
/// as text.
trait Lines: Default {
    fn push(&mut self, line: usize, text: &str, command: Command);
}

impl Lines for Vec<ScriptLine> {
    fn push(&mut self, line: usize, _text: &str, command: Command) {
        Vec::push(self, ScriptLine { line, command });
    }
}

/// Text with a count: each line and `\n`.
impl Lines for (Vec<u8>, usize) {
    fn push(&mut self, _line: usize, text: &str, _command: Command) {
        self.0.extend_from_slice(text.as_bytes());
        self.0.push(b'\n');
        self.1 += 1;
    }
}

/// The clients seen so far, with where each was defined.
struct Clients<L> {
    clients: Vec<(String, L)>,
    // invariant: defined_on.len() == clients.len()
    defined_on: Vec<Definition>,
    // Each client's position by name, so that a script of many clients
    // does not compare every new name with every earlier one.
    by_name: BTreeMap<String, usize>,
}

impl<L> Default for Clients<L> {
    fn default() -> Clients<L> {
        Clients {
            clients: Vec::new(),
            defined_on: Vec::new(),
            by_name: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Copy)]
enum Definition {
    /// By a `CLIENT` line.
    Explicit { line: usize },
    /// `main`, by its first line before any `CLIENT`.
    ImplicitMain { first_line: usize },
}

impl<L: Lines> Clients<L> {
    fn start(&mut self, name: &str, line: usize) -> Result<(), ScriptErrorKind> {
        if let Some(&index) = self.by_name.get(name) {
            return Err(match self.defined_on[index] {
                Definition::Explicit { line: first_line } => ScriptErrorKind::DuplicateClient {
                    name: name.to_string(),
                    first_line,
                },
                Definition::ImplicitMain { first_line } => {
                    ScriptErrorKind::DuplicateMainClient { first_line }
                }
            });
        }
        self.by_name.insert(name.to_string(), self.clients.len());
        self.clients.push((name.to_string(), L::default()));
        self.defined_on.push(Definition::Explicit { line });
        Ok(())
    }

    fn push(&mut self, line: usize, text: &str, command: Command) {
        if self.clients.is_empty() {
            self.by_name.insert(MAIN_CLIENT.to_string(), 0);
            self.clients.push((MAIN_CLIENT.to_string(), L::default()));
            self.defined_on
                .push(Definition::ImplicitMain { first_line: line });
        }
        let current = self.clients.last_mut().expect("a client was just ensured");
        current.1.push(line, text, command);
    }

    /// The clients, `main` alone when there were none.
    fn finish(mut self) -> Vec<(String, L)> {
        if self.clients.is_empty() {
            self.clients.push((MAIN_CLIENT.to_string(), L::default()));
        }
        self.clients
    }
}

impl Clients<Vec<ScriptLine>> {
    fn finish_script(self) -> Script {
        let clients = self
            .finish()
            .into_iter()
            .map(|(name, lines)| ClientScript { name, lines })
            .collect();
        Script { clients }
    }
}

/// What one non-blank, non-comment line is.
enum Parsed<'a> {
    Command(Command),
    Client(&'a str),
}

/// Parses the words of one line (at least one word).
fn parse_line<'a>(words: &[&'a str]) -> Result<Parsed<'a>, ScriptErrorKind> {
    let (&first, args) = words.split_first().expect("a line with words");
    let command = match first {
        "CRASH" => {
            let target = one_target("CRASH", args, 2)?;
            let reason = match args.get(1) {
                None => None,
                Some(reason) if reason.len() > REASON_LEN_BYTES_MAX => {
                    return Err(ScriptErrorKind::ReasonTooLong {
                        len_bytes: reason.len(),
                        len_bytes_max: REASON_LEN_BYTES_MAX,
                    });
                }
                Some(reason) => Some(reason.to_string()),
            };
            Command::Crash { target, reason }
        }
        "KILL" => Command::Kill {
            target: one_target("KILL", args, 1)?,
        },
        "STOP" => Command::Stop {
            target: one_target("STOP", args, 1)?,
        },
        "SEND" => {
            match args.first() {
                None => return Err(missing("SEND", "target")),
                Some(&"registry") => {}
                Some(other) => {
                    return Err(ScriptErrorKind::SendTarget {
                        target: other.to_string(),
                    });
                }
            }
            let word = args.get(1).ok_or_else(|| missing("SEND", "message"))?;
            at_most("SEND", args, 2)?;
            Command::SendRegistry {
                word: word.to_string(),
            }
        }
        "SETTLE" => {
            at_most("SETTLE", args, 0)?;
            Command::Settle
        }
        "CLIENT" => {
            let name = args.first().ok_or_else(|| missing("CLIENT", "name"))?;
            at_most("CLIENT", args, 1)?;
            return Ok(Parsed::Client(name));
        }
        _ => parse_command(words),
    };
    Ok(Parsed::Command(command))
}

/// The guide's protocol commands; anything else is [`Command::Unknown`].
fn parse_command(words: &[&str]) -> Command {
    let s = |word: &str| word.to_string();
    match *words {
        ["CREATE", bucket] => Command::Create { bucket: s(bucket) },
        ["PUT", bucket, key, value] => Command::Put {
            bucket: s(bucket),
            key: s(key),
            value: s(value),
        },
        ["GET", bucket, key] => Command::Get {
            bucket: s(bucket),
            key: s(key),
        },
        ["DELETE", bucket, key] => Command::Delete {
            bucket: s(bucket),
            key: s(key),
        },
        ["LOOKUP", bucket] => Command::Lookup { bucket: s(bucket) },
        _ => Command::Unknown {
            words: words.iter().map(|w| s(w)).collect(),
        },
    }
}

/// The target of `CRASH`, `KILL` or `STOP`, checking there are at most
/// `max` arguments.
fn one_target(
    directive: &'static str,
    args: &[&str],
    max: usize,
) -> Result<Target, ScriptErrorKind> {
    let word = args.first().ok_or_else(|| missing(directive, "target"))?;
    at_most(directive, args, max)?;
    Ok(match *word {
        "registry" => Target::Registry,
        bucket => Target::Bucket(bucket.to_string()),
    })
}

fn missing(directive: &'static str, argument: &'static str) -> ScriptErrorKind {
    ScriptErrorKind::MissingArgument {
        directive,
        argument,
    }
}

fn at_most(directive: &'static str, args: &[&str], max: usize) -> Result<(), ScriptErrorKind> {
    if args.len() > max {
        return Err(ScriptErrorKind::ExtraArguments {
            directive,
            found: args.len(),
            max,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Script, ScriptError> {
        parse(Path::new("shop.kv"), text.as_bytes())
    }

    #[test]
    fn a_scripts_clients_and_bucket_names_in_order_of_first_use() {
        let script = parse_str(
            "PUT b k 1\nCLIENT c1\nCREATE a\nKILL registry\nGET b k\nCRASH c\n\
             CLIENT c2\nSETTLE\nSTOP d\nDELETE e k\nLOOKUP a\nKILL f\n",
        )
        .expect("script parses");
        let clients = script.client_commands();
        assert_eq!(clients.len(), 3);
        assert_eq!(
            clients.iter().map(Vec::len).collect::<Vec<_>>(),
            [1, 4, 5],
            "{clients:?}"
        );
        assert_eq!(clients[2][0], Command::Settle);
        assert_eq!(script.bucket_names(), ["b", "a", "c", "d", "e", "f"]);
    }

    /// The commands of a single-client script.
    fn commands(text: &str) -> Vec<Command> {
        let script = parse_str(text).expect("script parses");
        assert_eq!(script.clients.len(), 1, "one client");
        assert_eq!(script.clients[0].name, "main");
        script.clients[0]
            .lines
            .iter()
            .map(|l| l.command.clone())
            .collect()
    }

    fn command(line: &str) -> Command {
        let mut all = commands(line);
        assert_eq!(all.len(), 1, "one command in {line:?}");
        all.remove(0)
    }

    /// The full message of the error `text` raises.
    fn error(text: &str) -> String {
        parse_str(text).expect_err("script is rejected").to_string()
    }

    fn bytes_error(bytes: &[u8]) -> ScriptError {
        parse(Path::new("shop.kv"), bytes).expect_err("script is rejected")
    }

    fn bucket(name: &str) -> Target {
        Target::Bucket(name.to_string())
    }

    fn unknown(words: &[&str]) -> Command {
        Command::Unknown {
            words: words.iter().map(|w| w.to_string()).collect(),
        }
    }

    // ---- commands ---------------------------------------------------------

    #[test]
    fn every_command_parses() {
        assert_eq!(
            command("CREATE shopping"),
            Command::Create {
                bucket: "shopping".into()
            }
        );
        assert_eq!(
            command("PUT shopping milk 1"),
            Command::Put {
                bucket: "shopping".into(),
                key: "milk".into(),
                value: "1".into()
            }
        );
        assert_eq!(
            command("GET shopping milk"),
            Command::Get {
                bucket: "shopping".into(),
                key: "milk".into()
            }
        );
        assert_eq!(
            command("DELETE shopping eggs"),
            Command::Delete {
                bucket: "shopping".into(),
                key: "eggs".into()
            }
        );
        assert_eq!(
            command("LOOKUP shopping"),
            Command::Lookup {
                bucket: "shopping".into()
            }
        );
    }

    #[test]
    fn every_directive_parses() {
        assert_eq!(
            command("CRASH b"),
            Command::Crash {
                target: bucket("b"),
                reason: None
            }
        );
        assert_eq!(
            command("CRASH b shutdown"),
            Command::Crash {
                target: bucket("b"),
                reason: Some("shutdown".into())
            }
        );
        assert_eq!(
            command("CRASH registry"),
            Command::Crash {
                target: Target::Registry,
                reason: None
            }
        );
        assert_eq!(
            command("CRASH registry kill"),
            Command::Crash {
                target: Target::Registry,
                reason: Some("kill".into())
            }
        );
        assert_eq!(
            command("KILL b"),
            Command::Kill {
                target: bucket("b")
            }
        );
        assert_eq!(
            command("KILL registry"),
            Command::Kill {
                target: Target::Registry
            }
        );
        assert_eq!(
            command("STOP b"),
            Command::Stop {
                target: bucket("b")
            }
        );
        assert_eq!(
            command("STOP registry"),
            Command::Stop {
                target: Target::Registry
            }
        );
        assert_eq!(
            command("SEND registry hello"),
            Command::SendRegistry {
                word: "hello".into()
            }
        );
        assert_eq!(command("SETTLE"), Command::Settle);
    }

    #[test]
    fn reason_of_at_most_255_bytes_is_accepted() {
        let reason = "é".repeat(127) + "x"; // 255 bytes
        assert_eq!(
            command(&format!("CRASH b {reason}")),
            Command::Crash {
                target: bucket("b"),
                reason: Some(reason)
            }
        );
    }

    #[test]
    fn commands_with_the_wrong_number_of_words_are_unknown() {
        for line in [
            "CREATE",
            "CREATE a b",
            "PUT b k",
            "PUT b k v extra",
            "GET b",
            "GET b k v",
            "DELETE b",
            "DELETE b k v",
            "LOOKUP",
            "LOOKUP a b",
        ] {
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(command(line), unknown(&words), "{line:?}");
        }
    }

    #[test]
    fn lowercase_commands_and_directives_are_unknown() {
        for line in [
            "create b",
            "put b k v",
            "Get b k",
            "delete b k",
            "lookup b",
            "crash b",
            "kill b",
            "stop registry",
            "send registry x",
            "settle",
            "Settle now",
            "client b",
        ] {
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(command(line), unknown(&words), "{line:?}");
        }
    }

    #[test]
    fn unknown_words_are_unknown() {
        assert_eq!(command("HELLO"), unknown(&["HELLO"]));
        assert_eq!(command("FOO bar baz"), unknown(&["FOO", "bar", "baz"]));
        assert_eq!(command("CREATEb"), unknown(&["CREATEb"]));
        assert_eq!(command("SETTLEx"), unknown(&["SETTLEx"]));
    }

    #[test]
    fn directive_words_are_data_in_commands() {
        // `registry` is an ordinary bucket name for commands.
        assert_eq!(
            command("CREATE registry"),
            Command::Create {
                bucket: "registry".into()
            }
        );
        assert_eq!(
            command("PUT CRASH SETTLE #x"),
            Command::Put {
                bucket: "CRASH".into(),
                key: "SETTLE".into(),
                value: "#x".into()
            }
        );
    }

    // ---- words and lines --------------------------------------------------

    #[test]
    fn tabs_and_runs_of_blanks_separate_words() {
        assert_eq!(
            command("  PUT\t\tb   k \t v\t "),
            Command::Put {
                bucket: "b".into(),
                key: "k".into(),
                value: "v".into()
            }
        );
        assert_eq!(
            command("\tCRASH  registry\tboom  "),
            Command::Crash {
                target: Target::Registry,
                reason: Some("boom".into())
            }
        );
    }

    #[test]
    fn crlf_endings_are_dropped() {
        let script = parse_str("CREATE b\r\nGET b k\r\n\r\nSETTLE\r\n").expect("parses");
        let lines = &script.clients[0].lines;
        assert_eq!(
            lines,
            &vec![
                ScriptLine {
                    line: 1,
                    command: Command::Create { bucket: "b".into() }
                },
                ScriptLine {
                    line: 2,
                    command: Command::Get {
                        bucket: "b".into(),
                        key: "k".into()
                    }
                },
                ScriptLine {
                    line: 4,
                    command: Command::Settle
                },
            ]
        );
    }

    #[test]
    fn only_one_cr_is_dropped_and_inner_crs_are_data() {
        assert_eq!(
            command("CREATE b\r\r\n"),
            Command::Create {
                bucket: "b\r".into()
            }
        );
        assert_eq!(
            command("CREATE c\rd\n"),
            Command::Create {
                bucket: "c\rd".into()
            }
        );
    }

    #[test]
    fn a_cr_ending_the_last_line_is_dropped() {
        assert_eq!(
            command("CREATE b\r"),
            Command::Create { bucket: "b".into() }
        );
    }

    #[test]
    fn a_last_line_without_newline_is_read() {
        assert_eq!(commands("CREATE a\nCREATE b").len(), 2);
    }

    #[test]
    fn non_ascii_words_and_unicode_spaces_are_data() {
        assert_eq!(
            command("PUT épicerie lait\u{00A0}entier 1\u{2003}L"),
            Command::Put {
                bucket: "épicerie".into(),
                key: "lait\u{00A0}entier".into(),
                value: "1\u{2003}L".into(),
            }
        );
        // A no-break space alone is a word, not a blank line.
        assert_eq!(command("\u{00A0}"), unknown(&["\u{00A0}"]));
        // Other ASCII control characters are data too.
        assert_eq!(
            command("CREATE a\u{b}b"),
            Command::Create {
                bucket: "a\u{b}b".into()
            }
        );
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let text = "# a comment\n\n   # indented\n\t\t# after tabs\n#no space\n   \n\t\nCREATE b\n";
        let script = parse_str(text).expect("parses");
        assert_eq!(
            script.clients[0].lines,
            vec![ScriptLine {
                line: 8,
                command: Command::Create { bucket: "b".into() }
            }]
        );
    }

    #[test]
    fn a_hash_after_the_first_word_is_data() {
        assert_eq!(
            command("GET b #k"),
            Command::Get {
                bucket: "b".into(),
                key: "#k".into()
            }
        );
        assert_eq!(
            command("CRASH #b"),
            Command::Crash {
                target: bucket("#b"),
                reason: None
            }
        );
    }

    #[test]
    fn a_line_of_exactly_4096_bytes_is_accepted() {
        let line = format!("CREATE {}", "x".repeat(4096 - 7));
        assert_eq!(line.len(), 4096);
        assert_eq!(
            command(&format!("{line}\r\n")),
            Command::Create {
                bucket: "x".repeat(4089)
            }
        );
    }

    #[test]
    fn line_numbers_count_every_line() {
        let script = parse_str("\n# c\n\nCREATE a\n\n\nGET a k\n").expect("parses");
        let numbers: Vec<usize> = script.clients[0].lines.iter().map(|l| l.line).collect();
        assert_eq!(numbers, vec![4, 7]);
    }

    // ---- clients ----------------------------------------------------------

    #[test]
    fn a_script_without_client_has_only_main() {
        for text in ["", "\n", "# only a comment\n", "   \n\t\n"] {
            let script = parse_str(text).expect("parses");
            assert_eq!(
                script,
                Script {
                    clients: vec![ClientScript {
                        name: "main".into(),
                        lines: vec![]
                    }]
                },
                "{text:?}"
            );
        }
    }

    #[test]
    fn client_blocks_split_the_script() {
        let text = "CREATE a\nCLIENT b\nGET a k\n# c\nCLIENT c\nCLIENT d\nSETTLE\n";
        let script = parse_str(text).expect("parses");
        let a = |line, command| ScriptLine { line, command };
        assert_eq!(
            script,
            Script {
                clients: vec![
                    ClientScript {
                        name: "main".into(),
                        lines: vec![a(1, Command::Create { bucket: "a".into() })],
                    },
                    ClientScript {
                        name: "b".into(),
                        lines: vec![a(
                            3,
                            Command::Get {
                                bucket: "a".into(),
                                key: "k".into()
                            }
                        )],
                    },
                    ClientScript {
                        name: "c".into(),
                        lines: vec![]
                    },
                    ClientScript {
                        name: "d".into(),
                        lines: vec![a(7, Command::Settle)]
                    },
                ],
            }
        );
    }

    #[test]
    fn no_main_when_the_first_command_is_client() {
        let script = parse_str("# header\n\nCLIENT x\nCREATE a\nCLIENT y\n").expect("parses");
        let names: Vec<&str> = script.clients.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["x", "y"]);
    }

    #[test]
    fn client_main_may_come_first() {
        let script = parse_str("CLIENT main\nCREATE a\nCLIENT other\nGET a k\n").expect("parses");
        let names: Vec<&str> = script.clients.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["main", "other"]);
        assert_eq!(script.clients[0].lines.len(), 1);
    }

    #[test]
    fn client_names_are_words() {
        let script = parse_str("CLIENT\tné\u{00A0}1 \nCLIENT registry\n").expect("parses");
        let names: Vec<&str> = script.clients.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["né\u{00A0}1", "registry"]);
    }

    // ---- echo -------------------------------------------------------------

    #[test]
    fn echo_is_the_words_joined_by_one_space() {
        for line in [
            "CREATE b",
            "PUT b k v",
            "GET b k",
            "DELETE b k",
            "LOOKUP b",
            "CRASH b",
            "CRASH b shutdown",
            "CRASH registry",
            "CRASH registry normal",
            "KILL b",
            "KILL registry",
            "STOP b",
            "STOP registry",
            "SEND registry hello",
            "SETTLE",
            "create b",
            "PUT b k",
            "settle now",
            "X",
            "PUT\tb  k \t v",
            "  \tCRASH   registry\tboom ",
            "GET é lait\u{00A0}entier",
        ] {
            let expected = line
                .split([' ', '\t'])
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>();
            assert_eq!(command(line).to_string(), expected.join(" "), "{line:?}");
        }
    }

    // ---- errors, one per kind, pinning the message ------------------------

    #[test]
    fn error_accessors() {
        let err = parse(Path::new("dir/shop.kv"), b"CREATE a\n\nCRASH\n").expect_err("rejected");
        assert_eq!(err.line(), 3);
        assert_eq!(err.path(), Path::new("dir/shop.kv"));
        assert_eq!(
            err.kind(),
            &ScriptErrorKind::MissingArgument {
                directive: "CRASH",
                argument: "target"
            }
        );
        assert_eq!(err.to_string(), "dir/shop.kv:3: CRASH needs a target");
    }

    #[test]
    fn missing_argument_messages() {
        assert_eq!(error("CRASH"), "shop.kv:1: CRASH needs a target");
        assert_eq!(error("\n\nKILL \t"), "shop.kv:3: KILL needs a target");
        assert_eq!(error("STOP"), "shop.kv:1: STOP needs a target");
        assert_eq!(error("SEND"), "shop.kv:1: SEND needs a target");
        assert_eq!(error("SEND registry"), "shop.kv:1: SEND needs a message");
        assert_eq!(error("CLIENT"), "shop.kv:1: CLIENT needs a name");
    }

    #[test]
    fn extra_arguments_messages() {
        assert_eq!(
            error("CRASH b r1 r2"),
            "shop.kv:1: CRASH takes at most 2 arguments, found 3"
        );
        assert_eq!(
            error("KILL b now"),
            "shop.kv:1: KILL takes at most 1 argument, found 2"
        );
        assert_eq!(
            error("STOP registry x y"),
            "shop.kv:1: STOP takes at most 1 argument, found 3"
        );
        assert_eq!(
            error("SEND registry a b"),
            "shop.kv:1: SEND takes at most 2 arguments, found 3"
        );
        assert_eq!(
            error("\n\n\nSETTLE now"),
            "shop.kv:4: SETTLE takes no arguments"
        );
        assert_eq!(
            error("CLIENT a b"),
            "shop.kv:1: CLIENT takes at most 1 argument, found 2"
        );
        let err = parse_str("SETTLE a b").expect_err("rejected");
        assert_eq!(
            err.kind(),
            &ScriptErrorKind::ExtraArguments {
                directive: "SETTLE",
                found: 2,
                max: 0
            }
        );
    }

    #[test]
    fn line_too_long_message() {
        let text = format!("CREATE a\n\n{}\n", "x".repeat(5000));
        assert_eq!(
            error(&text),
            "shop.kv:3: line is 5000 bytes long, at most 4096 allowed"
        );
        // The length does not count the `\r\n`, but does count a second `\r`.
        let text = format!("{}\r\r\n", "x".repeat(4096));
        assert_eq!(
            error(&text),
            "shop.kv:1: line is 4097 bytes long, at most 4096 allowed"
        );
        // Comments are lines too.
        let text = format!("#{}", "x".repeat(4096));
        assert_eq!(
            error(&text),
            "shop.kv:1: line is 4097 bytes long, at most 4096 allowed"
        );
    }

    #[test]
    fn not_utf8_message() {
        let err = bytes_error(b"CREATE a\nGET a \xff\xfe\nGET a k\n");
        assert_eq!(err.kind(), &ScriptErrorKind::NotUtf8);
        assert_eq!(err.to_string(), "shop.kv:2: line is not valid UTF-8");
        // A multi-byte character cut by a newline is invalid on its line.
        let err = bytes_error("# ok\nCREATE é".as_bytes().split_last().expect("bytes").1);
        assert_eq!(err.to_string(), "shop.kv:2: line is not valid UTF-8");
        // Even in a comment.
        assert_eq!(
            bytes_error(b"# \x80\n").to_string(),
            "shop.kv:1: line is not valid UTF-8"
        );
    }

    #[test]
    fn reason_too_long_message() {
        let text = format!("CRASH b {}", "r".repeat(300));
        assert_eq!(
            error(&text),
            "shop.kv:1: reason is 300 bytes long, at most 255 allowed"
        );
        let text = format!("CRASH registry {}", "é".repeat(128));
        assert_eq!(
            error(&text),
            "shop.kv:1: reason is 256 bytes long, at most 255 allowed"
        );
    }

    #[test]
    fn send_target_message() {
        assert_eq!(
            error("\n\n\n\n\nSEND x hello"),
            "shop.kv:6: SEND can only target registry, not \"x\""
        );
        assert_eq!(
            error("SEND Registry"),
            "shop.kv:1: SEND can only target registry, not \"Registry\""
        );
        // User text is quoted and escaped.
        assert_eq!(
            error("SEND \"b\u{b}\" w"),
            "shop.kv:1: SEND can only target registry, not \"\\\"b\\u{b}\\\"\""
        );
    }

    #[test]
    fn duplicate_client_message() {
        let text = "CLIENT a\nCREATE x\n\n\nCLIENT b\nGET x k\nCLIENT c\n\nCLIENT b\n";
        let err = parse_str(text).expect_err("rejected");
        assert_eq!(
            err.kind(),
            &ScriptErrorKind::DuplicateClient {
                name: "b".into(),
                first_line: 5
            }
        );
        assert_eq!(
            err.to_string(),
            "shop.kv:9: client \"b\" is already defined on line 5"
        );
        assert_eq!(
            error("CLIENT main\nCLIENT main\n"),
            "shop.kv:2: client \"main\" is already defined on line 1"
        );
    }

    #[test]
    fn duplicate_main_client_message() {
        let text = "# setup\nCREATE x\nCLIENT other\nCLIENT main\n";
        assert_eq!(
            error(text),
            "shop.kv:4: client \"main\" is already defined by the lines before the first \
             CLIENT, from line 2"
        );
    }

    #[test]
    fn the_first_error_is_reported() {
        assert_eq!(
            error("SETTLE x\nCRASH\n"),
            "shop.kv:1: SETTLE takes no arguments"
        );
    }

    // ---- reading line by line ----------------------------------------------

    /// Yields its bytes a few at a time, so lines cross read boundaries.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn commands_of(script: &Script) -> Vec<(String, Vec<Command>)> {
        script
            .clients
            .iter()
            .map(|c| {
                let commands = c.lines.iter().map(|l| l.command.clone()).collect();
                (c.name.clone(), commands)
            })
            .collect()
    }

    /// A byte-order mark at the start of a script is skipped: the first
    /// command is `CREATE a`, not an unknown command. Anywhere else U+FEFF
    /// is a word character like any other.
    #[test]
    fn a_byte_order_mark_is_skipped_at_the_start_only() {
        assert_eq!(
            commands("\u{feff}CREATE a\nGET a k\n"),
            commands("CREATE a\nGET a k\n")
        );
        assert_eq!(commands("\u{feff}\r\n# c\n"), Vec::new());
        assert_eq!(
            parse_str("\u{feff}CLIENT x\nCREATE a\n"),
            parse_str("CLIENT x\nCREATE a\n")
        );
        assert_eq!(
            commands("CREATE a\n\u{feff}GET a k\n")[1],
            unknown(&["\u{feff}GET", "a", "k"])
        );
        assert_eq!(
            commands(" \u{feff}CREATE a\n")[0],
            unknown(&["\u{feff}CREATE", "a"])
        );
        // Only the mark itself: a lone byte of it is not UTF-8.
        assert_eq!(
            bytes_error(b"\xEF\xBBCREATE a\n").kind(),
            &ScriptErrorKind::NotUtf8
        );
    }

    #[test]
    fn reading_agrees_with_parsing() {
        let long = "x".repeat(LINE_LEN_BYTES_MAX);
        let texts = [
            "CREATE a\nPUT a k v\r\nGET a k".to_string(),
            "\n\n# c\nCLIENT x\nLOOKUP a\nCLIENT y\r\nSETTLE\n\n".to_string(),
            format!("CREATE {long}\n"),
            format!("{long}\r\n{long}"),
            format!("A\n{long}x\r\r\nB"),
            "CREATE a\nCLIENT main\n".to_string(),
            "PUT é k\tv\n  \t\nCRASH\n".to_string(),
            "\u{feff}CREATE a\n\u{feff}GET a k\n".to_string(),
            "\u{feff}".to_string(),
            String::new(),
        ];
        for text in &texts {
            let parsed = parse_str(text);
            for step in [1, 3, 4096, 100_000] {
                let read = read(Path::new("shop.kv"), Trickle(text.as_bytes(), step));
                assert_eq!(read, parsed, "{text:?} read {step} bytes at a time");
                let kept = read_text(Path::new("shop.kv"), Trickle(text.as_bytes(), step));
                match (&kept, &parsed) {
                    (Ok(kept), Ok(parsed)) => {
                        assert_eq!(commands_of(&kept.to_script()), commands_of(parsed));
                        let counts: Vec<usize> = kept.clients.iter().map(ClientText::len).collect();
                        let expected: Vec<usize> =
                            parsed.clients.iter().map(|c| c.lines.len()).collect();
                        assert_eq!(counts, expected);
                    }
                    (Err(a), Err(b)) => assert_eq!(a, b),
                    _ => panic!("{text:?}: {kept:?} vs {parsed:?}"),
                }
            }
        }
    }

    /// Endless input without a newline: an error once the size limit is
    /// passed, having held one line's worth of it.
    struct Zeros(usize);

    impl Read for Zeros {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            out.fill(0);
            self.0 += out.len();
            Ok(out.len())
        }
    }

    #[test]
    fn an_endless_stream_is_an_error_not_a_lack_of_memory() {
        let mut zeros = Zeros(0);
        let err = read_text(Path::new("/dev/zero"), &mut zeros).expect_err("refused");
        assert_eq!(
            err.kind(),
            &ScriptErrorKind::TooLarge {
                bytes_max: SCRIPT_BYTES_MAX
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "/dev/zero:1: the script goes on past {SCRIPT_BYTES_MAX} bytes, the most a script may have"
            )
        );
        assert!(
            zeros.0 <= SCRIPT_BYTES_MAX + 128 * 1024,
            "read {} bytes",
            zeros.0
        );
        // Endless short lines too (with a small limit, to stay quick).
        let mut clients = Clients::<Vec<ScriptLine>>::default();
        let lines = std::io::repeat(b'\n');
        let err = read_lines(Path::new("nl"), lines, 1_000, &mut clients).expect_err("refused");
        assert_eq!(err.line(), 1_001);
        assert_eq!(err.kind(), &ScriptErrorKind::TooLarge { bytes_max: 1_000 });
    }

    #[test]
    fn a_read_error_names_the_line() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let err = read(Path::new("f.kv"), Failing).expect_err("refused");
        assert_eq!(err.to_string(), "f.kv:1: cannot read: disk on fire");
    }
}
