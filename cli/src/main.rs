//! `casebridge`: run CaseBridge, run one of its components, act as an agency, or benchmark.
//!
//! - `casebridge up`: everything in one process on SQLite and the embedded bus, in a data
//!   directory (creates the example directory and a development PKI on first run).
//! - `casebridge gateway|referrals|inbox`: one component per process, on RabbitMQ + PostgreSQL.
//! - `casebridge pki init`: development CA, gateway and agency certificates.
//! - `casebridge agencies`, `referral …`, `inbox …`, `monitor …`, `deadline …`: client commands
//!   over mutual TLS.
//! - `casebridge bench`: end-to-end throughput and latency, and the broker's raw ceiling;
//!   `casebridge bench deadlines`: the deadlines service with millions of obligations.
#![forbid(unsafe_code)]

mod bench;
mod bench_deadlines;
mod client;
mod monitor;
mod system;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use casebridge_platform::settings::{BusKind, Settings};
use casebridge_proto::v1 as pb;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::client::{Connection, describe, explain};
use crate::system::Components;

#[derive(Debug, Parser)]
#[command(
    name = "casebridge",
    version,
    about = "Inter-agency messaging gateway for administrative enforcement"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Settings shared by the commands that run components.
#[derive(Debug, Clone, clap::Args)]
struct RunArgs {
    /// Settings file (TOML); `CASEBRIDGE__SECTION__KEY` variables override it.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data directory (overrides the settings).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Gateway listen address (overrides the settings), e.g. 127.0.0.1:0 for any free port.
    #[arg(long)]
    listen: Option<SocketAddr>,
}

impl RunArgs {
    fn settings(&self) -> anyhow::Result<Settings> {
        let mut settings = Settings::load(self.config.as_deref())?;
        if let Some(dir) = &self.data_dir {
            settings.data_dir = dir.clone();
        }
        if let Some(listen) = self.listen {
            settings.gateway.listen = listen;
        }
        settings.validate()?;
        Ok(settings)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything in one process on the embedded default (SQLite, embedded bus).
    Up(RunArgs),
    /// Run the gateway alone (needs bus.kind = amqp).
    Gateway(RunArgs),
    /// Run the referrals service alone (needs bus.kind = amqp).
    Referrals(RunArgs),
    /// Run the inbox service alone (needs bus.kind = amqp).
    #[command(name = "inbox-service")]
    InboxService(RunArgs),
    /// Run the deadlines service alone (needs bus.kind = amqp).
    Deadlines(RunArgs),
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
    /// Criminal referrals (涉嫌犯罪案件移送).
    Referral {
        #[command(subcommand)]
        command: ReferralCommand,
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
    /// Measure end-to-end throughput and latency, and the broker's raw ceiling.
    Bench(bench::BenchArgs),
}

#[derive(Debug, Subcommand)]
enum PkiCommand {
    /// Create (or extend) the development CA, gateway certificate and one certificate per agency.
    Init(RunArgs),
}

#[derive(Debug, Subcommand)]
enum ReferralCommand {
    /// Refer a suspected crime to the police (administrative agencies).
    Submit {
        #[command(flatten)]
        connection: Connection,
        /// Agency code of the receiving police organ.
        #[arg(long)]
        police: String,
        /// Suspected offence (涉嫌罪名).
        #[arg(long)]
        offence: String,
        /// Summary of the facts.
        #[arg(long)]
        summary: String,
        /// A document as KIND:TITLE; repeat. Items 1–3 (referral_letter, investigation_report,
        /// seized_items_list) are required.
        #[arg(long = "document", value_name = "KIND:TITLE")]
        documents: Vec<String>,
        /// When the head of the agency approved the referral (RFC 3339); default now.
        #[arg(long)]
        approved_at: Option<String>,
        /// When the investigation report was received (RFC 3339); default the approval time.
        #[arg(long)]
        report_received_at: Option<String>,
        /// Items were tested, so a test report is included.
        #[arg(long)]
        items_tested: bool,
        /// A penalty was already imposed, so its decision is included.
        #[arg(long)]
        penalty_imposed: bool,
        /// Case officer's name.
        #[arg(long, default_value = "")]
        officer: String,
        /// Idempotency key; default a new random one. Reuse it to retry safely.
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Show a referral (parties only).
    Show {
        #[command(flatten)]
        connection: Connection,
        referral_id: String,
    },
    /// Sign the receipt (回执) as the receiving police organ.
    Receipt {
        #[command(flatten)]
        connection: Connection,
        referral_id: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Ask the agency for missing materials (police).
    RequestSupplement {
        #[command(flatten)]
        connection: Connection,
        referral_id: String,
        /// Missing document kind; repeat.
        #[arg(long = "missing")]
        missing: Vec<String>,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Supply missing materials (the referring agency).
    Supplement {
        #[command(flatten)]
        connection: Connection,
        referral_id: String,
        #[arg(long = "document", value_name = "KIND:TITLE")]
        documents: Vec<String>,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Forward to the competent police organ (police).
    Forward {
        #[command(flatten)]
        connection: Connection,
        referral_id: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Return as outside police remit, with reasons (police).
    Return {
        #[command(flatten)]
        connection: Connection,
        referral_id: String,
        #[arg(long)]
        reasons: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Decide: file (立案) or decline (不予立案, reasons required) (police).
    Decide {
        #[command(flatten)]
        connection: Connection,
        referral_id: String,
        /// File the case.
        #[arg(long, conflicts_with = "decline")]
        file: bool,
        /// Decline to file, with these reasons.
        #[arg(long, value_name = "REASONS")]
        decline: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        request_id: Option<String>,
    },
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

fn request_id(given: Option<String>) -> String {
    given.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn document_kind(name: &str) -> anyhow::Result<i32> {
    Ok(client::document(&format!("{name}:-"))?.kind)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
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
        Command::Pki {
            command: PkiCommand::Init(args),
        } => {
            let settings = args.settings()?;
            let written = init_pki(&settings)?;
            println!(
                "development PKI in {} ({} files written)",
                settings.data_dir.join("pki").display(),
                written
            );
            Ok(())
        }
        Command::Agencies { connection } => {
            let mut clients = connection.connect().await?;
            let agencies = clients
                .directory
                .list_agencies(pb::ListAgenciesRequest::default())
                .await
                .map_err(|s| anyhow::anyhow!(explain(&s)))?
                .into_inner()
                .agencies;
            for a in agencies {
                let kind = pb::AgencyKind::try_from(a.kind)
                    .map(|k| {
                        k.as_str_name()
                            .trim_start_matches("AGENCY_KIND_")
                            .to_lowercase()
                    })
                    .unwrap_or_default();
                println!("{}  {:<14} {}  {}", a.code, kind, a.region, a.name);
            }
            Ok(())
        }
        Command::Referral { command } => referral(command).await,
        Command::Inbox { command } => inbox(command).await,
        Command::Monitor { command } => monitor::run(command).await,
        Command::Deadline { command } => monitor::run_deadline(command).await,
        Command::Bench(args) => bench::run(args).await,
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
    casebridge_platform::telemetry::init(&filter, name)
}

fn shutdown_on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("shutting down (in-flight work finishes first)…");
        }
        trigger.cancel();
    });
    token
}

async fn up(args: RunArgs) -> anyhow::Result<()> {
    let mut settings = args.settings()?;
    // `up` is the embedded default whatever the environment says about production backends.
    settings.bus.kind = BusKind::Embedded;
    settings.store.url.clear();
    let _telemetry = init_telemetry(&settings, "casebridge");
    let fresh = prepare_data_dir(&settings)?;
    let data_dir = settings.data_dir.clone();
    system::run(
        settings,
        Components::ALL,
        shutdown_on_ctrl_c(),
        move |addr| {
            let addr = addr.map(|a| a.to_string()).unwrap_or_default();
            println!("ready: gateway listening on https://{addr}");
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
        shutdown_on_ctrl_c(),
        |addr| match addr {
            Some(addr) => println!("ready: {name} listening on https://{addr}"),
            None => println!("ready: {name}"),
        },
    )
    .await
}

async fn referral(command: ReferralCommand) -> anyhow::Result<()> {
    let fail = |s: tonic::Status| anyhow::anyhow!(explain(&s));
    let result = match command {
        ReferralCommand::Show {
            connection,
            referral_id,
        } => {
            let referral = connection
                .connect()
                .await?
                .referrals
                .get_referral(pb::GetReferralRequest { referral_id })
                .await
                .map_err(fail)?
                .into_inner();
            print!("{}", describe(&referral));
            return Ok(());
        }
        ReferralCommand::Submit {
            connection,
            police,
            offence,
            summary,
            documents,
            approved_at,
            report_received_at,
            items_tested,
            penalty_imposed,
            officer,
            request_id: rid,
        } => {
            let approved = client::wire_time(approved_at.as_deref())?;
            let received = match report_received_at {
                Some(t) => client::wire_time(Some(&t))?,
                None => approved,
            };
            let documents = documents
                .iter()
                .map(|d| client::document(d))
                .collect::<anyhow::Result<Vec<_>>>()?;
            connection
                .connect()
                .await?
                .referrals
                .submit_referral(pb::SubmitReferralRequest {
                    request_id: request_id(rid),
                    police,
                    suspected_offence: offence,
                    summary,
                    report_received_at: Some(received),
                    approved_at: Some(approved),
                    items_tested,
                    penalty_imposed,
                    documents,
                    parties: Vec::new(),
                    case_officer: officer,
                    case_officer_phone: String::new(),
                })
                .await
        }
        ReferralCommand::Receipt {
            connection,
            referral_id,
            request_id: rid,
        } => {
            connection
                .connect()
                .await?
                .referrals
                .sign_receipt(pb::SignReceiptRequest {
                    request_id: request_id(rid),
                    referral_id,
                })
                .await
        }
        ReferralCommand::RequestSupplement {
            connection,
            referral_id,
            missing,
            note,
            request_id: rid,
        } => {
            let missing = missing
                .iter()
                .map(|m| document_kind(m))
                .collect::<anyhow::Result<Vec<_>>>()?;
            connection
                .connect()
                .await?
                .referrals
                .request_supplement(pb::RequestSupplementRequest {
                    request_id: request_id(rid),
                    referral_id,
                    missing,
                    note,
                })
                .await
        }
        ReferralCommand::Supplement {
            connection,
            referral_id,
            documents,
            note,
            request_id: rid,
        } => {
            let documents = documents
                .iter()
                .map(|d| client::document(d))
                .collect::<anyhow::Result<Vec<_>>>()?;
            connection
                .connect()
                .await?
                .referrals
                .supplement_referral(pb::SupplementReferralRequest {
                    request_id: request_id(rid),
                    referral_id,
                    documents,
                    note,
                })
                .await
        }
        ReferralCommand::Forward {
            connection,
            referral_id,
            to,
            reason,
            request_id: rid,
        } => {
            connection
                .connect()
                .await?
                .referrals
                .forward_referral(pb::ForwardReferralRequest {
                    request_id: request_id(rid),
                    referral_id,
                    to_police: to,
                    reason,
                })
                .await
        }
        ReferralCommand::Return {
            connection,
            referral_id,
            reasons,
            request_id: rid,
        } => {
            connection
                .connect()
                .await?
                .referrals
                .return_referral(pb::ReturnReferralRequest {
                    request_id: request_id(rid),
                    referral_id,
                    reasons,
                })
                .await
        }
        ReferralCommand::Decide {
            connection,
            referral_id,
            file,
            decline,
            note,
            request_id: rid,
        } => {
            use pb::decide_filing_request::Decision;
            let decision = match (file, decline) {
                (true, None) => Decision::File(pb::FileCase { note }),
                (false, Some(reasons)) => Decision::Decline(pb::DeclineToFile { reasons }),
                _ => anyhow::bail!("give exactly one of --file or --decline REASONS"),
            };
            connection
                .connect()
                .await?
                .referrals
                .decide_filing(pb::DecideFilingRequest {
                    request_id: request_id(rid),
                    referral_id,
                    decision: Some(decision),
                })
                .await
        }
    };
    let result = result.map_err(fail)?.into_inner();
    if result.replayed {
        println!("(already accepted earlier; this is the original result)");
    }
    if let Some(referral) = result.referral {
        print!("{}", describe(&referral));
    }
    Ok(())
}

async fn inbox(command: InboxCommand) -> anyhow::Result<()> {
    let fail = |s: tonic::Status| anyhow::anyhow!(explain(&s));
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
            while let Some(entry) = stream.message().await.map_err(fail)? {
                println!(
                    "#{:<5} {} {}.{} case {}: {}",
                    entry.cursor,
                    entry.actor,
                    entry.family,
                    entry.event,
                    entry.case_id,
                    entry.summary
                );
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
            println!("acknowledged up to #{}", acked.acknowledged_cursor);
            Ok(())
        }
    }
}
