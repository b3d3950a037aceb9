//! The `casebridge` command as a library: its command line ([`Cli`]) and what each command
//! does ([`run`]). The binary (`src/main.rs`) parses and exits; the benchmarks are a binary of
//! their own (`casebridge-bench`, `src/bin/casebridge-bench/`) over the public modules here.
//!
//! - `casebridge up`: everything in one process on SQLite and the embedded bus, in a data
//!   directory (creates the example directory and a development PKI on first run).
//! - `casebridge gateway|referrals|transfers|disputes|opinions|inbox-service|deadlines|evidence-service`:
//!   one component per process, on RabbitMQ + PostgreSQL.
//! - `casebridge pki init`: development CA, gateway and agency certificates, operator key.
//! - `casebridge agencies`, `referral …`, `transfer …`, `dispute …`, `opinion …`, `case …`,
//!   `evidence …`, `inbox …`, `monitor …`, `deadline …`, `export`: client commands over mutual
//!   TLS (`export`: the feed for a supervision platform, JSON lines on stdout).
//! - `casebridge ledger …`: verify the full-process record and receipts.
//! - `casebridge migrate status`: each service's schema against this binary's migrations.
//!
//! Modules point one way: the command modules use [`client`] (connecting, request helpers),
//! which uses [`output`] (printing, errors) and `profile`; [`system`] owns running (the
//! components, [`RunArgs`](system::RunArgs)) and imports no other module here.
#![forbid(unsafe_code)]

mod calendar;
mod case;
pub mod client;
mod dispute;
pub mod evidence;
mod export;
mod lead;
mod ledger;
mod migrate;
mod monitor;
mod opinion;
pub mod output;
mod penalty;
mod profile;
#[cfg(test)]
mod reach;
mod rectification;
mod referral;
pub mod system;
mod transfer;

use std::path::PathBuf;

use anyhow::Context as _;
use casebridge_platform::settings::{BusKind, Settings};
use casebridge_proto::v1 as pb;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::client::Connection;
use crate::system::{Components, RunArgs};

#[derive(Debug, Parser)]
#[command(
    name = "casebridge",
    version,
    about = "Inter-agency messaging gateway for administrative enforcement"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Write the signed receipt of the step (JSON) to this file, for `ledger verify-receipt`.
    #[arg(long, global = true, value_name = "FILE")]
    save_receipt: Option<PathBuf>,
    /// Print each answer as JSON (protobuf's JSON mapping of the response message in
    /// `proto/`, field names as written there), one object per line, for scripts; notes go to
    /// stderr, and a failure is one JSON object on stderr.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything in one process on the embedded default (SQLite, embedded bus).
    Up(RunArgs),
    /// Run the gateway alone (needs bus.kind = amqp).
    Gateway(RunArgs),
    /// Run the referrals service alone (needs bus.kind = amqp).
    Referrals(RunArgs),
    /// Run the transfers service alone (needs bus.kind = amqp).
    Transfers(RunArgs),
    /// Run the disputes service alone (needs bus.kind = amqp).
    Disputes(RunArgs),
    /// Run the opinions service alone (needs bus.kind = amqp).
    Opinions(RunArgs),
    /// Run the inbox service alone (needs bus.kind = amqp).
    #[command(name = "inbox-service")]
    InboxService(RunArgs),
    /// Run the deadlines service alone (needs bus.kind = amqp).
    Deadlines(RunArgs),
    /// Run the evidence service alone (needs bus.kind = amqp).
    #[command(name = "evidence-service")]
    EvidenceService(RunArgs),
    /// The legal holiday calendar: `status`, and `install` a year's official schedule.
    Calendar {
        #[command(subcommand)]
        command: calendar::CalendarCommand,
    },
    /// The services' database schemas: `status` against this binary's migrations.
    Migrate {
        #[command(subcommand)]
        command: migrate::MigrateCommand,
    },
    /// Print the shell completion script for bash, zsh, fish, elvish or PowerShell, e.g.
    /// `casebridge completions bash > /etc/bash_completion.d/casebridge`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Development PKI.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// List the agencies in the directory.
    Agencies {
        #[command(flatten)]
        connection: Connection,
    },
    /// Which agency your certificate signs you in as.
    Whoami {
        #[command(flatten)]
        connection: Connection,
    },
    /// Criminal referrals (涉嫌犯罪案件移送).
    Referral {
        #[command(subcommand)]
        command: referral::ReferralCommand,
    },
    /// Case transfers between administrative agencies (行政执法案件移送).
    Transfer {
        #[command(subcommand)]
        command: transfer::TransferCommand,
    },
    /// Jurisdiction disputes (管辖争议) and designation (指定管辖).
    Dispute {
        #[command(subcommand)]
        command: dispute::DisputeCommand,
    },
    /// Expert-opinion and assistance requests (认定、检验、鉴定 / 协助调查).
    Opinion {
        #[command(subcommand)]
        command: opinion::OpinionCommand,
    },
    /// Penalty-case records (行政处罚案件信息录入), screened against criminal thresholds.
    Penalty {
        #[command(subcommand)]
        command: penalty::PenaltyCommand,
    },
    /// Early warnings (移送预警) on penalty cases that met a threshold and were not referred.
    Warning {
        #[command(subcommand)]
        command: penalty::WarningCommand,
    },
    /// Leads between agencies (线索互告): a possible violation in another agency's remit.
    Lead {
        #[command(subcommand)]
        command: lead::LeadCommand,
    },
    /// Rectification requests (整改通知) and the reports they are owed (整改报告).
    Rectification {
        #[command(subcommand)]
        command: rectification::RectificationCommand,
    },
    /// The full-process record: verify the chains, check receipts.
    Ledger {
        #[command(subcommand)]
        command: ledger::LedgerCommand,
    },
    /// Cases of any family: the timeline.
    Case {
        #[command(subcommand)]
        command: case::CaseCommand,
    },
    /// Your agency's inbox.
    Inbox {
        #[command(subcommand)]
        command: InboxCommand,
    },
    /// Deadlines: overdue and due-soon boards, statistics and supervisors' reports.
    Monitor {
        #[command(subcommand)]
        command: monitor::MonitorCommand,
    },
    /// A case's deadlines, and extending your own (期限, 延长).
    Deadline {
        #[command(subcommand)]
        command: monitor::DeadlineCommand,
    },
    /// Evidence files (证据材料): upload, download, stat.
    Evidence {
        #[command(subcommand)]
        command: evidence::EvidenceCommand,
    },
    /// The export feed for a supervision platform: JSON lines on stdout, the next cursor on
    /// stderr or in --cursor-file.
    Export(export::ExportArgs),
}

#[derive(Debug, Subcommand)]
enum PkiCommand {
    /// Create (or extend) the development CA, gateway certificate and one certificate per agency.
    Init(PkiInitArgs),
}

#[derive(Debug, clap::Args)]
struct PkiInitArgs {
    #[command(flatten)]
    run: RunArgs,
    /// A DNS name or IP address agencies use to reach the gateway (repeat for several). Given,
    /// the gateway certificate is issued anew for exactly these names; without it, a new
    /// certificate is for localhost and 127.0.0.1.
    #[arg(long = "gateway-name", value_name = "NAME")]
    gateway_names: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum InboxCommand {
    /// Print inbox entries; with --follow keep waiting for new ones.
    Watch {
        #[command(flatten)]
        connection: Connection,
        /// Start after this cursor; default after the last acknowledged entry.
        #[arg(long)]
        after: Option<u64>,
        #[arg(long)]
        follow: bool,
        /// Acknowledge each entry after printing it.
        #[arg(long)]
        ack: bool,
    },
    /// Acknowledge every entry up to a cursor.
    Ack {
        #[command(flatten)]
        connection: Connection,
        cursor: u64,
    },
}

/// Runs the command `cli` names. A failure is printed with [`output::failure`] and ends the
/// process with [`output::exit_code`].
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.json {
        output::use_json();
    }
    if let Some(path) = cli.save_receipt {
        client::save_receipts_to(path);
    }
    match cli.command {
        Command::Up(args) => up(args).await,
        Command::Gateway(args) => {
            component(
                args,
                "gateway",
                Components {
                    gateway: true,
                    ..Components::NONE
                },
            )
            .await
        }
        Command::Referrals(args) => {
            component(
                args,
                "referrals",
                Components {
                    referrals: true,
                    ..Components::NONE
                },
            )
            .await
        }
        Command::Transfers(args) => {
            component(
                args,
                "transfers",
                Components {
                    transfers: true,
                    ..Components::NONE
                },
            )
            .await
        }
        Command::Disputes(args) => {
            component(
                args,
                "disputes",
                Components {
                    disputes: true,
                    ..Components::NONE
                },
            )
            .await
        }
        Command::Opinions(args) => {
            component(
                args,
                "opinions",
                Components {
                    opinions: true,
                    ..Components::NONE
                },
            )
            .await
        }
        Command::InboxService(args) => {
            component(
                args,
                "inbox",
                Components {
                    inbox: true,
                    ..Components::NONE
                },
            )
            .await
        }
        Command::Deadlines(args) => {
            component(
                args,
                "deadlines",
                Components {
                    deadlines: true,
                    ..Components::NONE
                },
            )
            .await
        }
        Command::EvidenceService(args) => {
            component(
                args,
                "evidence",
                Components {
                    evidence: true,
                    ..Components::NONE
                },
            )
            .await
        }
        Command::Pki {
            command: PkiCommand::Init(args),
        } => {
            let settings = args.run.settings()?;
            let mut written = init_pki(&settings)?;
            if !args.gateway_names.is_empty() {
                let names: Vec<&str> = args.gateway_names.iter().map(String::as_str).collect();
                let pki = settings.data_dir.join("pki");
                written += casebridge_gateway::pki::reissue_gateway(&pki, &names)?.len();
                println!("gateway certificate issued for {}", names.join(", "));
            }
            println!(
                "development PKI in {} ({} files written)",
                settings.data_dir.join("pki").display(),
                written
            );
            Ok(())
        }
        Command::Agencies { connection } => {
            let mut clients = connection.connect().await?;
            let listed = clients
                .directory
                .list_agencies(pb::ListAgenciesRequest::default())
                .await
                .map_err(client::rpc)?
                .into_inner();
            output::show(&listed, |listed| {
                listed
                    .agencies
                    .iter()
                    .map(|a| {
                        let mut line = agency_line(a);
                        if let Some(role) = agency_role(a, &listed.agencies) {
                            line.pop();
                            line.push_str(&format!("  ({role})\n"));
                        }
                        line
                    })
                    .collect()
            })
        }
        Command::Whoami { connection } => {
            let mut clients = connection.connect().await?;
            let me = clients
                .directory
                .who_am_i(pb::WhoAmIRequest {})
                .await
                .map_err(client::rpc)?
                .into_inner();
            output::show(&me, agency_line)
        }
        Command::Referral { command } => referral::run(command).await,
        Command::Transfer { command } => transfer::run(command).await,
        Command::Dispute { command } => dispute::run(command).await,
        Command::Opinion { command } => opinion::run(command).await,
        Command::Penalty { command } => penalty::run(command).await,
        Command::Lead { command } => lead::run(command).await,
        Command::Rectification { command } => rectification::run(command).await,
        Command::Warning { command } => penalty::run_warning(command).await,
        Command::Case { command } => case::run(command).await,
        Command::Ledger { command } => ledger::run(command).await,
        Command::Calendar { command } => calendar::run(command).await,
        Command::Migrate { command } => migrate::run(command).await,
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            use std::io::Write as _;
            // Into memory first: clap_complete panics when its writer fails, and a reader
            // that stops early (`| head`) is not an error.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "casebridge", &mut script);
            match std::io::stdout().write_all(&script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(anyhow::Error::new(e).context("cannot write the completion script"))
                }
                _ => Ok(()),
            }
        }
        Command::Inbox { command } => inbox(command).await,
        Command::Monitor { command } => monitor::run(command).await,
        Command::Deadline { command } => monitor::run_deadline(command).await,
        Command::Evidence { command } => evidence::run(command).await,
        Command::Export(args) => export::run(args).await,
    }
}

/// Writes the example directory and the development PKI into a new data directory.
fn prepare_data_dir(settings: &Settings) -> anyhow::Result<bool> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
    let directory = settings.in_data_dir(&settings.directory);
    let mut fresh = false;
    if !directory.exists() {
        std::fs::write(&directory, system::EXAMPLE_DIRECTORY)
            .with_context(|| format!("cannot write {}", directory.display()))?;
        fresh = true;
    }
    if !settings.data_dir.join("pki").join("ca.pem").exists() {
        init_pki(settings)?;
        fresh = true;
    }
    Ok(fresh)
}

fn init_pki(settings: &Settings) -> anyhow::Result<usize> {
    // The operator's ledger key, for receipts and checkpoints (kept when it exists).
    casebridge_platform::ledger::Signer::load(&settings.in_data_dir(&settings.ledger.key), true)?;
    let directory = system::load_directory(settings)?;
    let agencies: Vec<(String, String)> = directory
        .agencies()
        .map(|a| (a.code.to_string(), a.name.clone()))
        .collect();
    let written =
        casebridge_gateway::pki::write_dev_pki(&settings.data_dir.join("pki"), &agencies)?;
    Ok(written.len())
}

fn init_telemetry(
    settings: &Settings,
    name: &'static str,
) -> casebridge_platform::telemetry::TelemetryGuard {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| settings.log.clone());
    casebridge_platform::telemetry::init(&filter, settings.log_format, &settings.trace, name)
}

/// A token cancelled by the first SIGTERM (how systemd, Docker and Kubernetes stop a process)
/// or SIGINT (Ctrl-C). The process then drains within `shutdown_grace`.
fn shutdown_on_signal() -> anyhow::Result<CancellationToken> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        eprintln!("{name}: shutting down (calls and messages in flight finish first)…");
        tracing::info!(signal = name, "shutting down");
        trigger.cancel();
    });
    Ok(token)
}

async fn up(args: RunArgs) -> anyhow::Result<()> {
    let mut settings = args.settings()?;
    // `up` is the embedded default whatever the environment says about production backends.
    settings.bus.kind = BusKind::Embedded;
    settings.store.url.clear();
    // One machine, one person: the console may be opened with a one-time link.
    settings.console.demo_signin = true;
    let _telemetry = init_telemetry(&settings, "casebridge");
    let fresh = prepare_data_dir(&settings)?;
    let data_dir = settings.data_dir.clone();
    system::run(
        settings,
        Components::ALL,
        shutdown_on_signal()?,
        move |ready: system::Ready| {
            let addr = ready.gateway.map(|a| a.to_string()).unwrap_or_default();
            // Before the `ready:` line, which scripts wait for and which ends with the address.
            if let Some(admin) = ready.admin {
                println!("admin: http://{admin}/ (metrics, livez, readyz)");
            }
            if let Some(console) = ready.console {
                println!("console: https://{console}/");
            }
            if let Some(link) = &ready.signin_link {
                println!("sign in: {link}");
            }
            println!("ready: gateway listening on https://{addr}");
            if ready.signin_link.is_some() {
                println!(
                    "\nOpen the sign-in link above in a browser to use the web console (it works once; \
                     the browser will warn about the development CA's certificate)."
                );
            }
            if fresh {
                println!(
                    "\nCaseBridge is running on its embedded default in {dir}.\n\
                 Agency certificates are in {dir}/pki/agencies. In another terminal, try:\n\
                 \n  casebridge agencies --as 11350100MB0100002P --gateway https://{addr}\n\
                 \nand follow the tour in README.md. Stop with Ctrl-C.",
                    dir = data_dir.display()
                );
            }
        },
    )
    .await
}

async fn component(
    args: RunArgs,
    name: &'static str,
    components: Components,
) -> anyhow::Result<()> {
    let settings = args.settings()?;
    if settings.bus.kind != BusKind::Amqp {
        anyhow::bail!(
            "running the {name} alone needs the RabbitMQ bus: set bus.kind = \"amqp\" \
             (or CASEBRIDGE__BUS__KIND=amqp); the embedded bus serves one process (`casebridge up`)"
        );
    }
    let _telemetry = init_telemetry(&settings, name);
    system::run(
        settings,
        components,
        shutdown_on_signal()?,
        |ready: system::Ready| {
            if let Some(admin) = ready.admin {
                println!("admin: http://{admin}/ (metrics, livez, readyz)");
            }
            if let Some(console) = ready.console {
                println!("console: https://{console}/");
            }
            match ready.gateway {
                Some(addr) => println!("ready: {name} listening on https://{addr}"),
                None => println!("ready: {name}"),
            }
        },
    )
    .await
}

/// What an agency does beyond its kind, where the kind alone misleads (issue 15: "Who is the
/// coordination office?"): the justice bureau supervises enforcement and coordinates disputes,
/// and an administrative agency that others report to rules on their jurisdiction disputes as
/// their common superior (共同的上一级行政机关, S3 Art 25).
fn agency_role(a: &pb::Agency, all: &[pb::Agency]) -> Option<&'static str> {
    let kind = pb::AgencyKind::try_from(a.kind).ok()?;
    match kind {
        pb::AgencyKind::Coordination => Some(
            "enforcement supervision and dispute coordination (justice bureau): receives missed \
             transfer and opinion steps",
        ),
        pb::AgencyKind::Administrative
            if all.iter().any(|b| {
                b.superior == a.code && b.kind == pb::AgencyKind::Administrative as i32
            }) =>
        {
            Some("common superior: rules on its agencies' jurisdiction disputes (designates)")
        }
        _ => None,
    }
}

/// One line about an agency: code, kind, region, name.
fn agency_line(a: &pb::Agency) -> String {
    let kind = pb::AgencyKind::try_from(a.kind)
        .map(|k| {
            k.as_str_name()
                .trim_start_matches("AGENCY_KIND_")
                .to_lowercase()
        })
        .unwrap_or_default();
    format!("{}  {:<14} {}  {}\n", a.code, kind, a.region, a.name)
}

async fn inbox(command: InboxCommand) -> anyhow::Result<()> {
    let fail = crate::client::rpc;
    match command {
        InboxCommand::Watch {
            connection,
            after,
            follow,
            ack,
        } => {
            let mut clients = connection.connect().await?;
            let mut stream = clients
                .inbox
                .watch_inbox(pb::WatchInboxRequest {
                    after_cursor: after,
                    follow,
                })
                .await
                .map_err(fail)?
                .into_inner();
            // Following can wait long: say so on a terminal while nothing arrives.
            let waiting = follow.then(|| output::spinner("waiting for new inbox entries"));
            while let Some(entry) = stream.message().await.map_err(fail)? {
                let line = |entry: &pb::InboxEntry| {
                    format!(
                        "#{:<5} {} {} {}.{} case {}: {}\n",
                        entry.cursor,
                        entry
                            .occurred_at
                            .as_ref()
                            .map_or_else(|| "—".to_owned(), crate::monitor::time_text),
                        entry.actor,
                        entry.family,
                        entry.event,
                        entry.case_id,
                        entry.summary
                    )
                };
                match &waiting {
                    Some(spinner) => spinner.suspend(|| output::show(&entry, line))?,
                    None => output::show(&entry, line)?,
                }
                if ack {
                    clients
                        .inbox
                        .acknowledge_inbox(pb::AcknowledgeInboxRequest {
                            up_to_cursor: entry.cursor,
                        })
                        .await
                        .map_err(fail)?;
                }
            }
            Ok(())
        }
        InboxCommand::Ack { connection, cursor } => {
            let acked = connection
                .connect()
                .await?
                .inbox
                .acknowledge_inbox(pb::AcknowledgeInboxRequest {
                    up_to_cursor: cursor,
                })
                .await
                .map_err(fail)?
                .into_inner();
            output::show(&acked, |a| {
                format!("acknowledged up to #{}\n", a.acknowledged_cursor)
            })
        }
    }
}
