//! The runnable transfers service: the engine's [`CaseApp`] with the transfer family.

use std::sync::Arc;

use casebridge_core::directory::Directory;
use casebridge_core::time::Clock;
use casebridge_platform::bus::Bus;
use casebridge_platform::cases::CaseApp;
use casebridge_platform::cases::app::StartError;
use casebridge_platform::store::Db;

use crate::handler::Transfers;

/// A migrated, declared, ready-to-run transfers service.
pub type TransfersApp = CaseApp<Transfers>;

/// Migrates the tables and declares the queues of the transfers service.
pub async fn build(
    db: Db,
    bus: Bus,
    directory: Arc<Directory>,
    clock: Arc<dyn Clock>,
) -> Result<TransfersApp, StartError> {
    CaseApp::build(
        Transfers::new(directory),
        db,
        bus,
        clock,
        crate::store::migrations(),
    )
    .await
}
