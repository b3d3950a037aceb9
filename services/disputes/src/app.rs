//! The runnable disputes service: the engine's [`CaseApp`] with the dispute family.

use std::sync::Arc;

use casebridge_core::directory::Directory;
use casebridge_core::dispute::DisputePolicy;
use casebridge_platform::cases::CaseApp;
use casebridge_platform::cases::app::StartError;
use casebridge_platform::host::Host;

use crate::handler::Disputes;

/// A migrated, declared, ready-to-run disputes service.
pub type DisputesApp = CaseApp<Disputes>;

/// Migrates the tables and declares the queues of the disputes service.
pub async fn build(
    host: Host,
    directory: Arc<Directory>,
    policy: DisputePolicy,
) -> Result<DisputesApp, StartError> {
    CaseApp::build(
        Disputes::new(directory, policy),
        host,
        crate::store::migrations(),
    )
    .await
}

/// Every migration of the disputes service, in the order they run (`casebridge migrate status`).
pub fn migrations() -> Vec<casebridge_platform::store::Migration> {
    casebridge_platform::cases::app::migrations(crate::SERVICE, crate::store::migrations())
}
