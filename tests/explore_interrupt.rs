//! Ctrl-C during `kvsim explore`, through the binary and a real SIGINT
//! (sent with kill(1)): the cases running finish, the report of what ran
//! is printed (text or JSON) with the highest index completed, and the
//! exit status is 130; the `--runs` the report names repeats the run
//! exactly.
//!
//! Linux only: the test reads `/proc` to know when kvsim has its handler
//! in place and has run cases, rather than waiting for a fixed time.
#![cfg(target_os = "linux")]

mod common;

use common::{TempDir, kvsim};
use kvsim::check::ExploreReport;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long to poll for a condition before the test fails: generous, as
/// the machine may be loaded; the polls end as soon as the condition
/// holds.
const POLL: Duration = Duration::from_millis(10);
const POLLS_MAX: u32 = 12_000;

unsafe extern "C" {
    fn signal(signum: std::ffi::c_int, handler: usize) -> usize;
}

/// Polls `condition` every [`POLL`] until it holds; panics (after killing
/// `child`) when it has not after [`POLLS_MAX`] polls.
fn poll_until(child: &mut Child, what: &str, mut condition: impl FnMut(&mut Child) -> bool) {
    for _ in 0..POLLS_MAX {
        if condition(child) {
            return;
        }
        std::thread::sleep(POLL);
    }
    let _ = child.kill();
    panic!("kvsim explore: {what}: not within {POLLS_MAX} polls");
}

/// Whether the process catches SIGINT (its `SigCgt` mask has bit 1, for
/// signal 2).
fn catches_sigint(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << 1) != 0)
}

/// The process's CPU time so far (user and system, all threads), in
/// clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name, which is in parentheses: state is
    // field 3, utime and stime fields 14 and 15.
    let Some((_, fields)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = fields.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    field(14).unwrap_or(0) + field(15).unwrap_or(0)
}

fn read_all(mut from: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        from.read_to_string(&mut text).expect("UTF-8 output");
        text
    })
}

/// Starts `kvsim explore` on `fixed` with far more cases than can run,
/// waits until it catches SIGINT and has spent 0.2 s of CPU time on cases,
/// sends SIGINT, and returns its exit status, stdout and stderr.
fn interrupted(flags: &[&str], out: &TempDir) -> (ExitStatus, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kvsim"));
    command
        .args(["explore", "--registry", "fixed", "--runs", "4000000000"])
        .args(["--threads", "2", "--out", out.path.to_str().unwrap()])
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // kvsim leaves SIGINT ignored when it starts ignored (a background job
    // must not stop at the terminal's Ctrl-C): start it with the default,
    // whatever this test process was given.
    // SAFETY: `signal` is async-signal-safe, so it may run between fork
    // and exec; SIG_DFL (0) is a valid disposition for SIGINT (2).
    unsafe {
        command.pre_exec(|| {
            signal(2, 0);
            Ok(())
        });
    }
    let mut child = command.spawn().expect("kvsim starts");
    let pid = child.id();
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    poll_until(&mut child, "catches SIGINT and runs cases", |_| {
        catches_sigint(pid) && cpu_ticks(pid) >= 20
    });
    let sent = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill(1) runs");
    assert!(sent.success(), "kill -INT {pid}");
    let mut status = None;
    poll_until(&mut child, "ends after SIGINT", |child| {
        status = child.try_wait().expect("waits");
        status.is_some()
    });
    (
        status.unwrap(),
        stdout.join().unwrap(),
        stderr.join().unwrap(),
    )
}

/// The report's lines from `coverage` to `--- timing`.
fn coverage(stdout: &str) -> &str {
    let start = stdout.find("coverage ").expect("a coverage section");
    let end = stdout.find("--- timing").expect("a timing section");
    &stdout[start..end]
}

#[test]
fn ctrl_c_prints_the_report_of_what_ran_and_exits_130() {
    let dir = TempDir::new("explore-interrupt");
    let (status, stdout, stderr) = interrupted(&[], &dir);
    assert_eq!(status.code(), Some(130), "{stdout}\n{stderr}");
    let verdict = stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("stopped early by Ctrl-C (interrupt): no property broke in ")
        })
        .unwrap_or_else(|| panic!("an interrupted verdict in:\n{stdout}"));
    // `N cases (cases 0..=K); repeat exactly with --runs M`
    let numbers: Vec<u64> = verdict
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|word| word.parse().ok())
        .collect();
    let [cases, zero, through, runs] = numbers[..] else {
        panic!("{verdict}");
    };
    assert_eq!(
        (zero, cases, runs),
        (0, through + 1, through + 1),
        "{verdict}"
    );
    assert!(
        stdout.contains(&format!(
            "completed through {through}, lowest failing none, stopped by Ctrl-C (interrupt)\n"
        )),
        "{stdout}"
    );
    // The run the report names covers the same cases, to the end.
    let repeat = kvsim(&[
        "explore",
        "--registry",
        "fixed",
        "--runs",
        &runs.to_string(),
        "--out",
        dir.path.to_str().unwrap(),
    ]);
    assert_eq!(repeat.code, Some(0), "{}", repeat.stdout);
    assert!(
        repeat.stdout.contains(&format!(
            "all properties hold in {cases} cases (cases 0..={through})\n"
        )),
        "{}",
        repeat.stdout
    );
    assert_eq!(coverage(&stdout), coverage(&repeat.stdout));
}

#[test]
fn ctrl_c_with_json_prints_a_report_kvsim_merge_reads() {
    let dir = TempDir::new("explore-interrupt-json");
    let (status, stdout, stderr) = interrupted(&["--json"], &dir);
    assert_eq!(status.code(), Some(130), "{stdout}\n{stderr}");
    let report = ExploreReport::from_json(&stdout).expect("a JSON report");
    assert_eq!(report.result.verdict, "stopped");
    assert!(!report.result.complete);
    assert!(report.run.interrupted());
    assert_eq!(report.run.stopped_by.as_deref(), Some("interrupted"));
    let through = report.result.through.expect("cases ran");
    assert_eq!(report.run.completed_through, Some(through));
    assert_eq!(report.result.cases_run, through + 1);
    assert_eq!(report.run.cases_executed, through + 1);
}
