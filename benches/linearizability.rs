//! Growth of checking: 10× the commands should cost about 10× the time
//! with every property on. Each run goes through the
//! command line's own entry point (`kvsim::cli::main_with`), as `kvsim run
//! --check --max-steps 10000000 FILE` and `kvsim replay --max-steps
//! 10000000 FILE.case.json`, and asserts exit status 0: every property
//! held, property 4 decided, and no limit was hit. Median of 5 runs.
//!
//! - `put`: one client, `CREATE s` then N `PUT s k<i> v<i>` (N distinct
//!   keys in one bucket).
//! - `three`: three clients on one name, interleaved by the schedule:
//!   client 0 `CREATE s` then `PUT`s, clients 1 and 2 `PUT`s and `GET`s of
//!   their own keys, N commands in all.
//!
//! And property 4's online checker alone (`Online<KvModel>`), on what used
//! to make its configurations explode, identical operations in flight:
//!
//! - `identical_creates`: C `CREATE a` casts sent one after another and
//!   all in flight, each followed by a `LOOKUP a` answered `ERROR` (every
//!   such answer makes the checker place the `CREATE`s in flight), then
//!   the `CREATE`s handled one by one; the verdict is taken after every
//!   step and must be "linearizable" (decided) at the end. Keeping each
//!   subset of the `CREATE`s apart made about 2^C configurations.
//!
//! ```text
//! cargo bench --bench linearizability
//! cargo bench --bench linearizability -- identical_creates
//! KVSIM_LINEARIZABILITY_RATIOS=1 cargo bench --bench linearizability   # also print t(10N)/t(N)
//! ```

use divan::Bencher;
use kvsim::check::Case;
use kvsim::check::linearizability::{KvModel, KvOp, KvResult, Online, Operation};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn main() {
    divan::main();
    if std::env::var_os("KVSIM_LINEARIZABILITY_RATIOS").is_some() {
        print_ratios();
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    Put,
    Three,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path_ {
    RunCheck,
    Replay,
}

/// One benchmark point.
#[derive(Clone, Copy, Debug)]
struct Point {
    path: Path_,
    n: usize,
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = match self.path {
            Path_::RunCheck => "run-check",
            Path_::Replay => "replay",
        };
        write!(f, "{path}/{}", self.n)
    }
}

/// The script of `workload` with `n` commands in all.
fn script(workload: Workload, n: usize) -> String {
    match workload {
        Workload::Put => {
            let mut text = String::from("CREATE s\n");
            for i in 0..n {
                text.push_str(&format!("PUT s k{i} v{i}\n"));
            }
            text
        }
        Workload::Three => {
            let mut clients = [
                String::from("CLIENT c0\nCREATE s\n"),
                String::from("CLIENT c1\n"),
                String::from("CLIENT c2\n"),
            ];
            for i in 0..n {
                let client = i % 3;
                let line = match client {
                    0 => format!("PUT s a{i} {i}\n"),
                    _ if i % 2 == 0 => format!("PUT s c{client}k{} {i}\n", i / 6),
                    _ => format!("GET s c{client}k{}\n", i / 6),
                };
                clients[client].push_str(&line);
            }
            clients.concat()
        }
    }
}

/// The script and its case file, written once per (workload, n).
fn files(workload: Workload, n: usize) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "kvsim-bench-linearizability-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let script_path = dir.join(format!("{workload:?}-{n}.kv"));
    let case_path = dir.join(format!("{workload:?}-{n}.case.json"));
    if !case_path.exists() {
        let text = script(workload, n);
        std::fs::write(&script_path, &text).expect("the script is written");
        let parsed =
            kvsim::kv::script::parse(&script_path, text.as_bytes()).expect("the script parses");
        let case = Case::from_script(&parsed);
        std::fs::write(&case_path, case.to_json(&Default::default())).expect("the case is written");
    }
    (script_path, case_path)
}

fn args(point: Point, script: &Path, case: &Path) -> Vec<std::ffi::OsString> {
    let (command, file) = match point.path {
        Path_::RunCheck => (vec!["kvsim", "run", "--check"], script),
        Path_::Replay => (vec!["kvsim", "replay"], case),
    };
    let mut args: Vec<std::ffi::OsString> = command.into_iter().map(Into::into).collect();
    args.extend(["--max-steps", "10000000"].map(Into::into));
    if point.path == Path_::RunCheck {
        let out = std::env::temp_dir().join("kvsim-bench-linearizability-failures");
        args.push("--out".into());
        args.push(out.into());
    }
    args.push(file.into());
    args
}

/// One run through the command line; every property held and no limit
/// was hit (exit status 0).
fn run(args: &[std::ffi::OsString]) {
    let mut out = std::io::sink();
    let code = kvsim::cli::main_with(args.iter().cloned(), &mut out);
    assert_eq!(code, 0, "exit status of {args:?}");
}

fn bench(bencher: Bencher, workload: Workload, point: Point) {
    let (script, case) = files(workload, point.n);
    let args = args(point, &script, &case);
    bencher.bench_local(|| run(&args));
}

fn points() -> Vec<Point> {
    [Path_::RunCheck, Path_::Replay]
        .into_iter()
        .flat_map(|path| [10_000, 100_000].map(|n| Point { path, n }))
        .collect()
}

#[divan::bench(args = points(), sample_count = 5, sample_size = 1)]
fn put(bencher: Bencher, point: Point) {
    bench(bencher, Workload::Put, point);
}

#[divan::bench(args = points(), sample_count = 5, sample_size = 1)]
fn three(bencher: Bencher, point: Point) {
    bench(bencher, Workload::Three, point);
}

/// `creates` identical `CREATE a` in flight, fed to the online checker
/// step by step (see the module doc); panics unless the verdict after the
/// last step is "linearizable".
fn identical_creates_history(creates: u64) {
    let mut online = Online::new(KvModel::new(), 200_000);
    let operation = |id: u64, step: u64, op: KvOp, result: KvResult| Operation {
        id: id as usize,
        client: Some((id % 4) as u32),
        invoke: step,
        response: step,
        op,
        result,
    };
    let pending = |key: u64| key as usize;
    for i in 0..creates {
        let create = operation(i, 2 * i, KvOp::Create { name: "a".into() }, KvResult::None);
        online.invoke(i, create, true);
        let _ = online.verdict(false, &pending);
        let lookup = KvOp::Lookup { name: "a".into() };
        let key = creates + i;
        online.record(
            key,
            operation(key, 2 * i + 1, lookup, KvResult::Indeterminate),
        );
        let verdict = online.verdict(false, &pending);
        assert_eq!(verdict, Ok(None), "after {} CREATEs", i + 1);
    }
    for i in 0..creates {
        online.answer(i, None, 2 * creates + i, i as usize);
        let _ = online.verdict(false, &pending);
    }
    assert_eq!(online.verdict(true, &pending), Ok(None));
}

#[divan::bench(args = [8, 16, 32, 64], sample_count = 5, sample_size = 1)]
fn identical_creates(bencher: Bencher, creates: u64) {
    bencher.bench_local(|| identical_creates_history(creates));
}

/// The median of 5 timed runs (a benchmark's wall clock, never a run's).
#[allow(clippy::disallowed_methods)]
fn median_time(workload: Workload, point: Point) -> Duration {
    let (script, case) = files(workload, point.n);
    let args = args(point, &script, &case);
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            run(&args);
            start.elapsed()
        })
        .collect();
    times.sort();
    times[2]
}

fn print_ratios() {
    println!("| workload | path | t(10,000) | t(100,000) | ratio |");
    println!("| --- | --- | --- | --- | --- |");
    for workload in [Workload::Put, Workload::Three] {
        for path in [Path_::RunCheck, Path_::Replay] {
            let t1 = median_time(workload, Point { path, n: 10_000 });
            let t10 = median_time(workload, Point { path, n: 100_000 });
            println!(
                "| {workload:?} | {} | {:.0} ms | {:.0} ms | {:.1} |",
                Point { path, n: 0 }.to_string().trim_end_matches("/0"),
                t1.as_secs_f64() * 1e3,
                t10.as_secs_f64() * 1e3,
                t10.as_secs_f64() / t1.as_secs_f64()
            );
        }
    }
}
