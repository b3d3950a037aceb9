//! The runnable opinions service: the engine's [`CaseApp`] with the opinion family.

use std::sync::Arc;

use casebridge_core::directory::Directory;
use casebridge_platform::cases::CaseApp;
use casebridge_platform::cases::app::StartError;
use casebridge_platform::host::Host;

use crate::handler::Opinions;

/// A migrated, declared, ready-to-run opinions service.
pub type OpinionsApp = CaseApp<Opinions>;

/// Migrates the tables and declares the queues of the opinions service.
pub async fn build(host: Host, directory: Arc<Directory>) -> Result<OpinionsApp, StartError> {
    CaseApp::build(Opinions::new(directory), host, crate::store::migrations()).await
}

/// Every migration of the opinions service, in the order they run (`casebridge migrate status`).
pub fn migrations() -> Vec<casebridge_platform::store::Migration> {
    casebridge_platform::cases::app::migrations(crate::SERVICE, crate::store::migrations())
}
