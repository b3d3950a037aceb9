//! The runnable referrals service: the engine's [`CaseApp`] with the referral family.

use std::sync::Arc;

use casebridge_core::directory::Directory;
use casebridge_core::law::Law;
use casebridge_core::referral::ReferralPolicy;
use casebridge_platform::cases::CaseApp;
use casebridge_platform::cases::app::StartError;
use casebridge_platform::host::Host;

use crate::handler::Referrals;

/// A migrated, declared, ready-to-run referrals service.
pub type ReferralsApp = CaseApp<Referrals>;

/// Migrates the tables and declares the queues of the referrals service.
pub async fn build(
    host: Host,
    directory: Arc<Directory>,
    law: Arc<Law>,
    policy: ReferralPolicy,
) -> Result<ReferralsApp, StartError> {
    let family = Referrals::new(directory, law, policy);
    CaseApp::build(family, host, crate::store::migrations()).await
}

/// Every migration of the referrals service, in the order they run (`casebridge migrate status`).
pub fn migrations() -> Vec<casebridge_platform::store::Migration> {
    casebridge_platform::cases::app::migrations(crate::SERVICE, crate::store::migrations())
}
