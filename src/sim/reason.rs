//! Exit reasons. Owns the BEAM's distinction between `normal`, abnormal
//! reasons, the untrappable `kill` signal and the `killed` it turns into.

use std::fmt;

/// Why a process exited, or the reason carried by an exit signal.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// A clean exit: a non-trapping link partner ignores it (S9).
    Normal,
    /// Only ever a signal's reason: `exit(P, kill)`, untrappable (S12).
    Kill,
    /// What a process killed by `kill` exits with (S12).
    Killed,
    /// The target of a call, link or stop did not exist (S14, S21).
    Noproc,
    /// A call got no reply in time (S22).
    Timeout,
    /// A handler had no matching clause (S27, S28).
    FunctionClause,
    /// A user handler panicked; the panic's message.
    Panic(String),
    /// Any other reason, as the atom the BEAM would print (`boom`, ...).
    Other(String),
}

impl Reason {
    /// `boom`, the reason of crash faults.
    pub fn boom() -> Reason {
        Reason::Other("boom".to_string())
    }

    /// Parses a script word the way the BEAM reads the atom.
    pub fn from_word(word: &str) -> Reason {
        match word {
            "normal" => Reason::Normal,
            "kill" => Reason::Kill,
            _ => Reason::Other(word.to_string()),
        }
    }

    pub fn is_normal(&self) -> bool {
        matches!(self, Reason::Normal)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Normal => f.write_str("normal"),
            Reason::Kill => f.write_str("kill"),
            Reason::Killed => f.write_str("killed"),
            Reason::Noproc => f.write_str("noproc"),
            Reason::Timeout => f.write_str("timeout"),
            Reason::FunctionClause => f.write_str("function_clause"),
            Reason::Panic(message) => write!(f, "{{panic,{message:?}}}"),
            Reason::Other(word) => f.write_str(word),
        }
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
