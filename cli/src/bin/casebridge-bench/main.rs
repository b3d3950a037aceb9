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

mod deadlines;
mod evidence;
mod referrals;

use std::path::PathBuf;

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
    use casebridge_platform::cases::app::reactions_queue;
    let mut queues = vec![
        QueueSpec::commands(casebridge_referrals::SERVICE),
        QueueSpec::commands(casebridge_transfers::SERVICE),
        QueueSpec::commands(casebridge_disputes::SERVICE),
        QueueSpec::commands(casebridge_opinions::SERVICE),
        QueueSpec::commands(casebridge_inbox::SERVICE),
        QueueSpec::commands(casebridge_deadlines::SERVICE),
        QueueSpec::commands(casebridge_evidence::SERVICE),
        casebridge_inbox::app::events_queue(),
        casebridge_deadlines::app::events_queue(),
        casebridge_evidence::app::events_queue(),
    ];
    queues.extend(reactions_queue::<casebridge_referrals::handler::Referrals>());
    queues.extend(reactions_queue::<casebridge_transfers::handler::Transfers>());
    queues.extend(reactions_queue::<casebridge_disputes::handler::Disputes>());
    queues
}
