//! The runnable opinions service: the engine's [`CaseApp`] with the opinion family.

use std::sync::Arc;

use casebridge_core::directory::Directory;
use casebridge_core::time::Clock;
use casebridge_platform::bus::Bus;
use casebridge_platform::cases::CaseApp;
use casebridge_platform::cases::app::StartError;
use casebridge_platform::store::Db;

use crate::handler::Opinions;

/// A migrated, declared, ready-to-run opinions service.
pub type OpinionsApp = CaseApp<Opinions>;

/// Migrates the tables and declares the queues of the opinions service.
pub async fn build(
    db: Db,
    bus: Bus,
    directory: Arc<Directory>,
    clock: Arc<dyn Clock>,
) -> Result<OpinionsApp, StartError> {
    CaseApp::build(
        Opinions::new(directory),
        db,
        bus,
        clock,
        crate::store::migrations(),
    )
    .await
}
