//! The commands of the `.kv` language (docs/script-language.md) as data: what a
//! client does, independent of where it came from (a script, a generated
//! case, fuzzer bytes). Owns their echo text; running them is the client's.

use crate::sim::Reason;
use std::fmt;

/// What a harness directive aims at.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// The bucket the registry names for this bucket name (looked up first).
    Bucket(String),
    /// The registry process itself.
    Registry,
}

/// One line of a client's script.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Command {
    Create {
        bucket: String,
    },
    Put {
        bucket: String,
        key: String,
        value: String,
    },
    Get {
        bucket: String,
        key: String,
    },
    Delete {
        bucket: String,
        key: String,
    },
    Lookup {
        bucket: String,
    },
    /// `CRASH <target> [<reason>]`: an exit signal; no reason means `boom`.
    /// The reason is kept as the script's word (at most 255 bytes).
    Crash {
        target: Target,
        reason: Option<String>,
    },
    /// `KILL <target>`: the untrappable exit signal `kill`.
    Kill {
        target: Target,
    },
    /// `STOP <target>`: `Agent.stop` of a bucket, the chapter's `stop/1` of the registry.
    Stop {
        target: Target,
    },
    /// `SEND registry <word>`: a stray message.
    SendRegistry {
        word: String,
    },
    /// `SETTLE`: wait until no signal is queued on any pair.
    Settle,
    /// Anything else: answered `UNKNOWN COMMAND` by the client itself.
    Unknown {
        words: Vec<String>,
    },
}

impl Command {
    /// The bucket name the command names: that of `CREATE`, `PUT`, `GET`,
    /// `DELETE`, `LOOKUP`, and of `CRASH`, `KILL` or `STOP` aimed at a
    /// bucket (none for the registry, a directive or an unknown command).
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Command::Create { bucket }
            | Command::Put { bucket, .. }
            | Command::Get { bucket, .. }
            | Command::Delete { bucket, .. }
            | Command::Lookup { bucket }
            | Command::Crash {
                target: Target::Bucket(bucket),
                ..
            }
            | Command::Kill {
                target: Target::Bucket(bucket),
            }
            | Command::Stop {
                target: Target::Bucket(bucket),
            } => Some(bucket),
            _ => None,
        }
    }

    /// The reason a `CRASH` or `KILL` sends, as the BEAM reads the word.
    pub fn exit_reason(&self) -> Option<Reason> {
        match self {
            Command::Crash { reason: None, .. } => Some(Reason::boom()),
            Command::Crash {
                reason: Some(word), ..
            } => Some(Reason::from_word(word)),
            Command::Kill { .. } => Some(Reason::Kill),
            _ => None,
        }
    }
}

/// The echo line: the command's words joined by one space.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn target(t: &Target) -> &str {
            match t {
                Target::Bucket(name) => name,
                Target::Registry => "registry",
            }
        }
        match self {
            Command::Create { bucket } => write!(f, "CREATE {bucket}"),
            Command::Put { bucket, key, value } => write!(f, "PUT {bucket} {key} {value}"),
            Command::Get { bucket, key } => write!(f, "GET {bucket} {key}"),
            Command::Delete { bucket, key } => write!(f, "DELETE {bucket} {key}"),
            Command::Lookup { bucket } => write!(f, "LOOKUP {bucket}"),
            Command::Crash {
                target: t,
                reason: None,
            } => write!(f, "CRASH {}", target(t)),
            Command::Crash {
                target: t,
                reason: Some(reason),
            } => {
                write!(f, "CRASH {} {reason}", target(t))
            }
            Command::Kill { target: t } => write!(f, "KILL {}", target(t)),
            Command::Stop { target: t } => write!(f, "STOP {}", target(t)),
            Command::SendRegistry { word } => write!(f, "SEND registry {word}"),
            Command::Settle => f.write_str("SETTLE"),
            Command::Unknown { words } => f.write_str(&words.join(" ")),
        }
    }
}
