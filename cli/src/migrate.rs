//! `casebridge migrate status`: where each service's database schema stands against the
//! migrations this binary carries.
//!
//! Services apply their pending migrations themselves when they start, each in its own
//! transaction (replicas take turns on PostgreSQL), and refuse to start when a migration
//! applied earlier has other SQL than the code now carries (its SHA-256 checksum differs).
//! This command shows, before an upgrade or after a restore, what the next start will do and
//! whether any service will refuse: it exits with an error when one would.

use anyhow::Context as _;
use casebridge_platform::Db;
use casebridge_platform::bus::embedded;
use casebridge_platform::settings::{BusKind, Settings};
use casebridge_platform::store::{Migration, MigrationState, MigrationStatus};
use clap::Subcommand;
use serde_json::json;

use crate::output;
use crate::system::RunArgs;

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Each service's migrations: applied, pending (the next start applies them), or changed
    /// since they were applied (the service will not start).
    Status {
        #[command(flatten)]
        run: RunArgs,
    },
}

/// One service's database, as the status found it.
#[derive(Debug)]
struct ServiceStatus {
    service: &'static str,
    /// `None`: the database does not exist yet (an embedded one never started).
    migrations: Option<Vec<MigrationStatus>>,
}

pub async fn run(command: MigrateCommand) -> anyhow::Result<()> {
    let MigrateCommand::Status { run } = command;
    let settings = run.settings()?;
    let mut found = Vec::new();
    for (service, migrations) in every_service(&settings) {
        found.push(ServiceStatus {
            service,
            migrations: status_of(&settings, service, &migrations).await?,
        });
    }
    output::show_value(status_json(&found), || status_text(&found));
    let changed: Vec<&str> = found
        .iter()
        .filter(|s| {
            s.migrations
                .iter()
                .flatten()
                .any(|m| matches!(m.state, MigrationState::Changed { .. }))
        })
        .map(|s| s.service)
        .collect();
    if !changed.is_empty() {
        anyhow::bail!(
            "an applied migration of {} differs from this binary's: that service will not start \
             (restore the database or run the binary that applied it)",
            changed.join(", ")
        );
    }
    Ok(())
}

/// Every service with a database, and the migrations this binary carries for it.
fn every_service(settings: &Settings) -> Vec<(&'static str, Vec<Migration>)> {
    let mut services = vec![
        (
            casebridge_referrals::SERVICE,
            casebridge_referrals::app::migrations(),
        ),
        (
            casebridge_transfers::SERVICE,
            casebridge_transfers::app::migrations(),
        ),
        (
            casebridge_disputes::SERVICE,
            casebridge_disputes::app::migrations(),
        ),
        (
            casebridge_opinions::SERVICE,
            casebridge_opinions::app::migrations(),
        ),
        (
            casebridge_penalties::SERVICE,
            casebridge_penalties::app::migrations(),
        ),
        (
            casebridge_leads::SERVICE,
            casebridge_leads::app::migrations(),
        ),
        (
            casebridge_rectifications::SERVICE,
            casebridge_rectifications::app::migrations(),
        ),
        (
            casebridge_inbox::SERVICE,
            casebridge_inbox::store::migrations(),
        ),
        (
            casebridge_deadlines::SERVICE,
            casebridge_deadlines::store::migrations(),
        ),
        (
            casebridge_evidence::SERVICE,
            casebridge_evidence::store::migrations(),
        ),
    ];
    if settings.bus.kind == BusKind::Embedded {
        services.push((embedded::MIGRATIONS_OF, embedded::migrations()));
    }
    services
}

/// The status of one service's migrations; `None` when its SQLite file does not exist (looking
/// does not create it).
async fn status_of(
    settings: &Settings,
    service: &'static str,
    migrations: &[Migration],
) -> anyhow::Result<Option<Vec<MigrationStatus>>> {
    let db = if service == embedded::MIGRATIONS_OF {
        let path = settings.embedded_bus_path();
        if !path.exists() {
            return Ok(None);
        }
        Db::open_sqlite(&path).await?
    } else {
        if settings
            .sqlite_path(service)
            .is_some_and(|path| !path.exists())
        {
            return Ok(None);
        }
        Db::connect(&settings.store_url(service), 1).await?
    };
    let status = db
        .migration_status(service, migrations)
        .await
        .with_context(|| format!("cannot read the {service} store's migrations"))?;
    Ok(Some(status))
}

fn state_name(state: &MigrationState) -> &'static str {
    match state {
        MigrationState::Applied { .. } => "applied",
        MigrationState::AppliedUnchecked { .. } => "applied_unchecked",
        MigrationState::Changed { .. } => "changed",
        MigrationState::Pending => "pending",
    }
}

fn status_json(found: &[ServiceStatus]) -> serde_json::Value {
    let services: Vec<serde_json::Value> = found
        .iter()
        .map(|s| {
            json!({
                "service": s.service,
                "exists": s.migrations.is_some(),
                "migrations": s.migrations.iter().flatten().map(|m| {
                    let mut line = json!({
                        "version": m.version,
                        "description": m.description,
                        "state": state_name(&m.state),
                    });
                    if let MigrationState::Changed { applied, current, .. } = &m.state {
                        line["applied_checksum"] = json!(applied);
                        line["current_checksum"] = json!(current);
                    }
                    line
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "services": services })
}

fn status_text(found: &[ServiceStatus]) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    for s in found {
        let Some(migrations) = &s.migrations else {
            let _ = writeln!(
                text,
                "{}: no database yet (the first start creates it)",
                s.service
            );
            continue;
        };
        let pending = migrations
            .iter()
            .filter(|m| m.state == MigrationState::Pending)
            .count();
        let _ = writeln!(
            text,
            "{}: {} migrations, {} pending",
            s.service,
            migrations.len(),
            pending
        );
        for m in migrations {
            let what = match &m.state {
                MigrationState::Applied { applied_at } => {
                    format!(
                        "applied {}",
                        casebridge_core::calendar::law_minute(*applied_at)
                    )
                }
                MigrationState::AppliedUnchecked { applied_at } => format!(
                    "applied {} (checksum recorded at the next start)",
                    casebridge_core::calendar::law_minute(*applied_at)
                ),
                MigrationState::Changed {
                    applied, current, ..
                } => format!(
                    "CHANGED since applied (sha256 {} applied, {} now)",
                    &applied[..12.min(applied.len())],
                    &current[..12.min(current.len())]
                ),
                MigrationState::Pending => "pending".to_owned(),
            };
            let _ = writeln!(text, "  {:>4}  {:<9}  {}", m.version, what, m.description);
        }
    }
    text
}
