//! Killing the referrals service with SIGKILL in the middle of a stream of submissions loses
//! nothing and duplicates nothing: every referral the gateway accepted reaches the police
//! inbox exactly once, and every case's full-process record still verifies.

use std::time::Duration;

use casebridge_tests::System;
use casebridge_tests::delivery;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_referral_reaches_the_police_inbox_exactly_once_across_a_crash_of_the_referrals_service()
-> anyhow::Result<()> {
    const TOTAL: usize = 240;
    let mut system = System::distributed().await?;
    let stream =
        delivery::submit_stream(&system, "crash", TOTAL, 8, Duration::from_secs(120)).await?;

    stream.until_accepted(TOTAL / 3).await;
    system.kill("referrals").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    system.restart("referrals").await?;

    delivery::assert_nothing_lost(&system, stream, TOTAL, "referrals service killed").await?;
    system.stop().await
}
