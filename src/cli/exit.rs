//! The exit statuses every `kvsim` subcommand shares, the precedence that
//! picks one when several apply, and the one form of an I/O error message
//! (`kvsim: cannot ACTION: REASON`). Subcommands decide which statuses
//! apply; this module only orders them and writes the messages.

use crate::check::Verdict;
use std::fmt;
use std::io;

/// The exit status of a `kvsim` subcommand.
///
/// The variants are declared in increasing precedence, so that when
/// several apply the greatest wins ([`Exit::and`], `Ord`): 130, then 2, 5,
/// 4, 1, 3, and 0 only when nothing else applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exit {
    /// 0: every property held, the run decided to the end (without
    /// `--check`, `kvsim run`'s script ran to the end, whatever its
    /// answers).
    Ok,
    /// 3: no verdict: a limit cut the run (`LIMIT <name> <value>`), so its
    /// properties are not known to hold, or property 4 could not decide
    /// within its bound. Never a pass.
    NoVerdict,
    /// 1: a property broke.
    PropertyBroken,
    /// 4: the same input gave two different runs: nondeterminism detected.
    Nondeterministic,
    /// 5: output could not be written (a full disk, a bad descriptor, a
    /// failing case that could not be saved). A closed pipe is not one: a
    /// reader that stops reading (`kvsim run x | head`) ends the output
    /// quietly.
    OutputFailed,
    /// 2: bad usage or input: a bad flag or flag combination, or a script
    /// or case file that cannot be read or parsed. Nothing is run.
    BadInput,
    /// 130 (128 + SIGINT's number, as shells report a process that
    /// SIGINT ended): interrupted. `kvsim explore` returns it when Ctrl-C
    /// stopped the run, after printing the report of what ran, whatever
    /// that found ([`crate::cli::interrupt`]); a second Ctrl-C, or Ctrl-C
    /// during any other subcommand, ends the process by the signal's
    /// default action, which shells report as 130 too.
    Interrupted,
}

impl Exit {
    /// Every status, in the order of the table (by code).
    pub const ALL: [Exit; 7] = [
        Exit::Ok,
        Exit::PropertyBroken,
        Exit::BadInput,
        Exit::NoVerdict,
        Exit::Nondeterministic,
        Exit::OutputFailed,
        Exit::Interrupted,
    ];

    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::PropertyBroken => 1,
            Exit::BadInput => 2,
            Exit::NoVerdict => 3,
            Exit::Nondeterministic => 4,
            Exit::OutputFailed => 5,
            Exit::Interrupted => 130,
        }
    }

    /// The status of `code`, if it is one of the table's.
    pub fn from_code(code: u8) -> Option<Exit> {
        Exit::ALL.into_iter().find(|exit| exit.code() == code)
    }

    /// Of two statuses that both apply, the one reported: the first in the
    /// order 130, 2, 5, 4, 1, 3 (then 0).
    #[must_use]
    pub fn and(self, other: Exit) -> Exit {
        self.max(other)
    }

    /// The status of a checked run's verdict.
    pub fn of_verdict(verdict: &Verdict) -> Exit {
        match verdict {
            Verdict::Holds => Exit::Ok,
            Verdict::Broken(_) => Exit::PropertyBroken,
            Verdict::Cut { .. } | Verdict::Undecided(_) => Exit::NoVerdict,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> std::process::ExitCode {
        std::process::ExitCode::from(exit.code())
    }
}

/// The exit-status table as `--help` prints it (the README has the same
/// table).
pub const EXIT_CODES_HELP: &str = "\
Exit status (when several apply, the first of 130, 2, 5, 4, 1, 3 wins):
  0    every property held (run without --check: the script ran)
  1    a property broke
  2    bad usage or input: a bad flag, an unreadable or unparsable
       script or case file; nothing is run
  3    no verdict: a limit was hit (LIMIT <name> <value>), or property 4
       could not decide within --linearizability-bound
  4    nondeterminism detected
  5    output could not be written (a closed pipe is not an error)
  130  interrupted: Ctrl-C stopped kvsim explore, which printed the report
       of what ran; or SIGINT ended the process (a second Ctrl-C, or any
       other subcommand)";

/// The one form of an I/O error message: `kvsim: cannot ACTION: REASON`,
/// e.g. `kvsim: cannot read x.kv: No such file or directory (os error 2)`.
pub fn io_error_message(action: impl fmt::Display, error: &io::Error) -> String {
    format!("kvsim: cannot {action}: {error}")
}

/// Writes `message` and a newline to stderr. Never panics (unlike
/// `eprintln!`): a failing stderr has nowhere left to be reported.
pub fn report(message: impl fmt::Display) {
    use io::Write as _;
    let _ = writeln!(io::stderr().lock(), "{message}");
}

/// What writing stdout came to: nothing to add when it succeeded or the
/// reader closed the pipe; otherwise the error is reported on stderr and
/// the status is [`Exit::OutputFailed`].
pub fn output_status(result: io::Result<()>) -> Exit {
    match result {
        Ok(()) => Exit::Ok,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(error) => {
            report(io_error_message("write to stdout", &error));
            Exit::OutputFailed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_130_2_5_4_1_3_then_0() {
        let order = [130u8, 2, 5, 4, 1, 3, 0];
        for (i, &higher) in order.iter().enumerate() {
            for &lower in &order[i..] {
                let (higher, lower) = (
                    Exit::from_code(higher).unwrap(),
                    Exit::from_code(lower).unwrap(),
                );
                assert_eq!(higher.and(lower), higher, "{higher:?} over {lower:?}");
                assert_eq!(lower.and(higher), higher, "{higher:?} over {lower:?}");
            }
        }
    }

    #[test]
    fn codes_are_the_table() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 130]);
        for exit in Exit::ALL {
            assert_eq!(Exit::from_code(exit.code()), Some(exit));
            let line = format!("  {:<4} ", exit.code());
            assert!(
                EXIT_CODES_HELP.lines().any(|l| l.starts_with(&line)),
                "the help lists {exit:?}"
            );
        }
    }

    #[test]
    fn a_closed_pipe_is_quiet_and_other_errors_are_5() {
        assert_eq!(output_status(Ok(())), Exit::Ok);
        let closed = io::Error::from(io::ErrorKind::BrokenPipe);
        assert_eq!(output_status(Err(closed)), Exit::Ok);
        let full = io::Error::from_raw_os_error(28);
        assert_eq!(output_status(Err(full)), Exit::OutputFailed);
    }
}
