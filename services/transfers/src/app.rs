//! The runnable transfers service: the engine's [`CaseApp`] with the transfer family.

use std::sync::Arc;

use casebridge_core::directory::Directory;
use casebridge_platform::cases::CaseApp;
use casebridge_platform::cases::app::StartError;
use casebridge_platform::host::Host;

use crate::handler::Transfers;

/// A migrated, declared, ready-to-run transfers service.
pub type TransfersApp = CaseApp<Transfers>;

/// Migrates the tables and declares the queues of the transfers service.
pub async fn build(host: Host, directory: Arc<Directory>) -> Result<TransfersApp, StartError> {
    CaseApp::build(Transfers::new(directory), host, crate::store::migrations()).await
}

/// Every migration of the transfers service, in the order they run (`casebridge migrate status`).
pub fn migrations() -> Vec<casebridge_platform::store::Migration> {
    casebridge_platform::cases::app::migrations(crate::SERVICE, crate::store::migrations())
}
