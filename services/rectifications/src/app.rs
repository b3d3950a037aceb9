//! The runnable rectifications service: the engine's [`CaseApp`] with the rectification family.

use std::sync::Arc;

use casebridge_core::directory::Directory;
use casebridge_platform::cases::CaseApp;
use casebridge_platform::cases::app::StartError;
use casebridge_platform::host::Host;

use crate::handler::Rectifications;

/// A migrated, declared, ready-to-run rectifications service.
pub type RectificationsApp = CaseApp<Rectifications>;

/// Migrates the tables and declares the queues of the rectifications service.
pub async fn build(host: Host, directory: Arc<Directory>) -> Result<RectificationsApp, StartError> {
    CaseApp::build(
        Rectifications::new(directory),
        host,
        crate::store::migrations(),
    )
    .await
}

/// Every migration of the rectifications service, in the order they run
/// (`casebridge migrate status`).
pub fn migrations() -> Vec<casebridge_platform::store::Migration> {
    casebridge_platform::cases::app::migrations(crate::SERVICE, crate::store::migrations())
}
