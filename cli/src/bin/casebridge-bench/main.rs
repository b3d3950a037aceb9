//! `casebridge-bench`: the benchmarks, kept out of the product binary.
//!
//! - `casebridge-bench`: end-to-end throughput and latency of referrals, and the broker's raw
//!   ceiling ([`referrals`]);
//! - `casebridge-bench evidence`: a large file up and down, with the gateway's memory
//!   ([`evidence`]);
//! - `casebridge-bench deadlines`: the deadlines service with millions of obligations
//!   ([`deadlines`]).
//!
//! They use the `casebridge` library (connecting, running the system in-process) and start the
//! `casebridge` binary built next to this one when they measure a process of its own.
#![forbid(unsafe_code)]

mod cpu;
mod deadlines;
mod evidence;
mod referrals;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use casebridge_cli::client::Connection;
use casebridge_cli::output;
use casebridge_platform::bus::QueueSpec;
use clap::{Parser, Subcommand};

/// With no subcommand it measures referrals; `evidence` and `deadlines` measure the others.
#[derive(Debug, Parser)]
#[command(
    name = "casebridge-bench",
    version,
    about = "Measure CaseBridge: end-to-end throughput and latency, and the broker's raw ceiling; \
             or, with `evidence`, a large file up and down; or, with `deadlines`, the deadlines \
             service at scale",
    args_conflicts_with_subcommands = true
)]
struct Bench {
    #[command(subcommand)]
    what: Option<What>,
    #[command(flatten)]
    referrals: referrals::BenchArgs,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Upload and download one large evidence file through the gateway (run as its own
    /// process), and print the throughput and the gateway's peak memory above idle.
    Evidence(evidence::EvidenceBenchArgs),
    /// The deadlines service with millions of open obligations on PostgreSQL: load time, firing
    /// lag of a burst falling due at once, memory, and the overdue query's latency.
    Deadlines(deadlines::DeadlineBenchArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let bench = Bench::parse();
    let result = match bench.what {
        Some(What::Evidence(args)) => evidence::run(args).await,
        Some(What::Deadlines(args)) => deadlines::run(args).await,
        None => referrals::run(bench.referrals).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", output::failure(&error));
            std::process::ExitCode::from(output::exit_code(&error))
        }
    }
}

/// The `casebridge` binary of the same build (next to this one), for a benchmark that measures
/// a process of its own.
fn casebridge_exe() -> anyhow::Result<PathBuf> {
    let bench = std::env::current_exe().context("cannot find the casebridge-bench binary")?;
    let exe = bench.with_file_name("casebridge");
    anyhow::ensure!(
        exe.is_file(),
        "no casebridge binary next to casebridge-bench ({}): build both with \
         `cargo build --release -p casebridge-cli`",
        exe.display()
    );
    Ok(exe)
}

/// Prepares `dir` as a data directory the system starts on without `casebridge pki init`: the
/// example agency directory, a development PKI for its agencies, and the operator's key (the
/// family services and the deadlines service sign with it, and refuse to start without it).
/// The default settings name all three relative to the data directory.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    use casebridge_cli::system;
    let settings = casebridge_platform::settings::Settings {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    std::fs::write(
        settings.in_data_dir(&settings.directory),
        system::EXAMPLE_DIRECTORY,
    )?;
    let directory =
        casebridge_core::directory::Directory::from_toml_str(system::EXAMPLE_DIRECTORY)?;
    let agencies: Vec<(String, String)> = directory
        .agencies()
        .map(|a| (a.code.to_string(), a.name.clone()))
        .collect();
    casebridge_gateway::pki::write_dev_pki(&dir.join("pki"), &agencies)?;
    casebridge_platform::ledger::Signer::load(&settings.in_data_dir(&settings.ledger.key), true)?;
    Ok(())
}

/// How many of a child process's last log lines a failure quotes.
const LOG_TAIL: usize = 40;

/// The last lines a child process wrote to its standard error, kept so that a failure can quote
/// them (its data directory, and any log file in it, is gone by the time the error is read).
#[derive(Debug, Clone, Default)]
struct LogTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    /// Set when the child's standard error reached its end (the child exited).
    ended: Arc<AtomicBool>,
}

impl LogTail {
    /// Reads `stderr` to its end on a thread of its own, keeping the last lines and, when `echo`,
    /// copying each to this process's standard error as it comes.
    fn follow(stderr: impl std::io::Read + Send + 'static, echo: bool) -> LogTail {
        use std::io::BufRead as _;
        let tail = LogTail::default();
        let keep = tail.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if echo {
                    eprintln!("{line}");
                }
                keep.push(line);
            }
            keep.ended.store(true, Ordering::Release);
        });
        tail
    }

    /// [`LogTail::follow`] for a child started by tokio, on a task of its own, without echo.
    fn follow_async(stderr: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> LogTail {
        use tokio::io::AsyncBufReadExt as _;
        let tail = LogTail::default();
        let keep = tail.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                keep.push(line);
            }
            keep.ended.store(true, Ordering::Release);
        });
        tail
    }

    fn push(&self, line: String) {
        let mut lines = crate::lock(&self.lines);
        if lines.len() == LOG_TAIL {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The kept lines under a heading naming `whose` log, for an error message, once the child's
    /// last lines are read (waiting at most a second: the child has exited when this is asked).
    async fn quoted(&self, whose: &str) -> String {
        let bound = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while !self.ended.load(Ordering::Acquire) && std::time::Instant::now() < bound {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let lines = crate::lock(&self.lines);
        if lines.is_empty() {
            return format!("{whose} wrote nothing to its standard error");
        }
        let mut text = format!("the last {} lines of {whose}'s log:", lines.len());
        for line in lines.iter() {
            text.push_str("\n  ");
            text.push_str(line);
        }
        text
    }
}

/// The guarded value, also after a panic elsewhere (the benchmarks only keep figures in them).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A connection as `agency` to `gateway` with the development PKI in `data_dir`.
fn dev_connection(agency: &str, gateway: String, data_dir: PathBuf) -> Connection {
    Connection {
        agency: Some(agency.to_owned()),
        profile: None,
        gateway: Some(gateway),
        data_dir,
        cert: None,
        key: None,
        ca: None,
        server_name: None,
    }
}

/// A progress bar on stderr over `total` items (a benchmark's submissions), drawn only on a
/// terminal.
fn counter(total: u64, message: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message.to_owned());
    bar
}

/// Every durable queue the components declare, for removing a benchmark's namespace.
fn durable_queues() -> Vec<QueueSpec> {
    let rules =
        casebridge_core::deadline::RuleTable::from_toml_str(casebridge_cli::system::SHIPPED_RULES)
            .expect("the shipped rule table is valid");
    casebridge_cli::system::durable_queues(&rules)
}
