//! Memory probe, two ways; each prints the process's peak RSS (`VmHWM`).
//!
//! `rss_probe N`: N CREATE/CRASH cycles on one bucket name, tracing off,
//! dialogue discarded, commands fed from an iterator, so that peak RSS
//! measures what the simulator keeps per cycle. A run whose memory is
//! bounded by what is alive and in flight has the same peak for any N.
//!
//! `rss_probe put N [kvsim run flags]`: writes a script of `CREATE s` and
//! N lines of `PUT s k v` to a temporary file and runs the command line
//! `kvsim run FILE --max-steps 10000000 [flags]` in this process, its
//! output thrown away: the peak is what `kvsim run` itself needs (reading
//! the script, the run, writing the dialogue and the trace).
//!
//! ```text
//! cargo run --release --example rss_probe -- 10000
//! cargo run --release --example rss_probe -- 1000000
//! cargo run --release --example rss_probe -- put 1000000 --schedule pos --trace json
//! ```
//!
//! Each cycle is `CREATE a`, `CRASH a`, `SETTLE`: the registry starts a
//! bucket, the client crashes it, and `SETTLE` waits until the bucket's
//! `DOWN` has reached the registry, so exactly one bucket name is ever
//! mapped and at most one bucket is alive.

use kvsim::kv::{Command, KvSystem, Stage, Target};
use kvsim::sim::choice::Fifo;
use kvsim::sim::{Limits, Outcome};
use std::io::Write;
use std::process::ExitCode;

const BUCKET: &str = "a";

/// The commands of `cycles` cycles, as (stable id, command), made lazily.
fn cycle_commands(cycles: u64) -> impl Iterator<Item = (u32, Command)> + 'static {
    (0..cycles)
        .flat_map(|_| {
            [
                Command::Create {
                    bucket: BUCKET.to_string(),
                },
                Command::Crash {
                    target: Target::Bucket(BUCKET.to_string()),
                    reason: None,
                },
                Command::Settle,
            ]
        })
        // Stable ids wrap past u32::MAX commands; the probe never reads them.
        .zip((0..=u32::MAX).cycle())
        .map(|(command, cmd_id)| (cmd_id, command))
}

/// Plays `cycles` cycles on the `fixed` registry under `fifo` and returns
/// the finished system.
fn run_cycles(cycles: u64) -> KvSystem {
    let limits = Limits {
        steps_max: u64::MAX,
        queue_len_max: 1_000,
    };
    let mut system = KvSystem::new(Stage::Fixed.registry(), Box::new(Fifo), limits, false);
    system.add_client(0, cycle_commands(cycles), false);
    let outcome = system.sim.run();
    assert_eq!(outcome, Outcome::Quiescent, "the probe hit a limit");
    system
}

/// Peak resident set size of this process, in KiB (`VmHWM`).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `rss_probe put N [flags]`: `kvsim run` on `CREATE s` and N `PUT s k v`.
fn put(args: &[String]) -> ExitCode {
    let Some(Ok(puts)) = args.first().map(|n| n.parse::<u64>()) else {
        eprintln!("rss_probe put: expected a number of PUT lines");
        return ExitCode::from(2);
    };
    let path = std::env::temp_dir().join(format!("kvsim-rss-probe-{}.kv", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
        file.write_all(b"CREATE s\n")?;
        for _ in 0..puts {
            file.write_all(b"PUT s k v\n")?;
        }
        file.flush()
    })();
    if let Err(error) = written {
        eprintln!("rss_probe: cannot write {}: {error}", path.display());
        return ExitCode::from(2);
    }
    let mut argv: Vec<std::ffi::OsString> = vec!["kvsim".into(), "run".into(), path.clone().into()];
    argv.extend(["--max-steps".into(), "10000000".into()]);
    argv.extend(args[1..].iter().map(Into::into));
    let code = kvsim::cli::main_with(argv, &mut std::io::sink());
    let _ = std::fs::remove_file(&path);
    println!(
        "kvsim run: CREATE s + {puts} PUT s k v {}",
        args[1..].join(" ")
    );
    println!("exit code: {code}");
    match peak_rss_kib() {
        Some(kib) => println!("peak RSS: {kib} KiB"),
        None => println!("peak RSS: unknown (no VmHWM in /proc/self/status)"),
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "put") {
        return put(&args[1..]);
    }
    let arg = args.first().cloned().unwrap_or_else(|| "10000".to_string());
    let Ok(cycles) = arg.parse::<u64>() else {
        eprintln!("rss_probe: expected a number of cycles, got {arg:?}");
        return ExitCode::from(2);
    };
    let system = run_cycles(cycles);
    println!("cycles: {cycles}");
    println!("steps: {}", system.sim.steps());
    println!("live processes: {}", system.sim.live_processes());
    match peak_rss_kib() {
        Some(kib) => println!("peak RSS: {kib} KiB"),
        None => println!("peak RSS: unknown (no VmHWM in /proc/self/status)"),
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_leave_only_the_registry_and_the_client() {
        let system = run_cycles(100);
        // The registry and the client; every bucket was crashed and reaped.
        assert_eq!(system.sim.live_processes(), 2);
        assert_eq!(system.sim.queued_signals(), 0);
        assert!(system.sim.is_alive(system.registry));
        let names = system.registry_state().expect("registry is alive").names();
        assert!(names.is_empty(), "the registry still maps {names:?}");
    }

    #[test]
    fn steps_grow_linearly_with_cycles() {
        let one = run_cycles(1).sim.steps();
        assert!(one > 0);
        assert_eq!(run_cycles(50).sim.steps(), 50 * one);
    }
}
