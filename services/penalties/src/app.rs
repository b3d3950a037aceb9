//! The runnable penalties service: the engine's [`CaseApp`] with the penalty family.

use std::sync::Arc;

use casebridge_core::deadline::Period;
use casebridge_core::directory::Directory;
use casebridge_core::law::Law;
use casebridge_core::screening::ThresholdTable;
use casebridge_platform::cases::CaseApp;
use casebridge_platform::cases::app::StartError;
use casebridge_platform::host::Host;

use crate::handler::Penalties;

/// A migrated, declared, ready-to-run penalties service.
pub type PenaltiesApp = CaseApp<Penalties>;

/// Migrates the tables and declares the queues of the penalties service, then re-screens the
/// open records if the threshold table changed since they were screened.
pub async fn build(
    host: Host,
    directory: Arc<Directory>,
    law: Arc<Law>,
    thresholds: Arc<ThresholdTable>,
    entry_within: Option<Period>,
) -> Result<PenaltiesApp, StartError> {
    let family = Penalties::new(directory, law, thresholds, entry_within);
    let clock = host.clock.clone();
    let app = CaseApp::build(family, host, crate::store::migrations()).await?;
    // A table changed since the last start screens the open records again, before the service
    // takes commands (docs/screening.md, "Re-screening").
    crate::rescreen::rescreen_changed_table(app.service(), &*clock)
        .await
        .map_err(StartError::store(crate::SERVICE))?;
    Ok(app)
}

/// Every migration of the penalties service, in the order they run (`casebridge migrate status`).
pub fn migrations() -> Vec<casebridge_platform::store::Migration> {
    casebridge_platform::cases::app::migrations(crate::SERVICE, crate::store::migrations())
}
