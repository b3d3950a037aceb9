//! The runnable leads service: the engine's [`CaseApp`] with the lead family.

use std::sync::Arc;

use casebridge_core::directory::Directory;
use casebridge_platform::cases::CaseApp;
use casebridge_platform::cases::app::StartError;
use casebridge_platform::host::Host;

use crate::handler::Leads;

/// A migrated, declared, ready-to-run leads service.
pub type LeadsApp = CaseApp<Leads>;

/// Migrates the tables and declares the queues of the leads service.
pub async fn build(host: Host, directory: Arc<Directory>) -> Result<LeadsApp, StartError> {
    CaseApp::build(Leads::new(directory), host, crate::store::migrations()).await
}

/// Every migration of the leads service, in the order they run (`casebridge migrate status`).
pub fn migrations() -> Vec<casebridge_platform::store::Migration> {
    casebridge_platform::cases::app::migrations(crate::SERVICE, crate::store::migrations())
}
