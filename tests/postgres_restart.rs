//! Restarting PostgreSQL with `pg_ctl restart -m immediate` (every backend killed without a
//! checkpoint, as in a crash) in the middle of a stream of submissions loses nothing and
//! duplicates nothing: what was committed survives in the write-ahead log, what was not is
//! retried from the queue, and every case's record still verifies.
//!
//! The server is a private one (`deploy/local/postgres.sh` on port 5799), not the machine's own.

use std::time::Duration;

use casebridge_tests::System;
use casebridge_tests::delivery;
use casebridge_tests::servers::Postgres;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_referral_reaches_the_police_inbox_exactly_once_across_a_postgres_restart()
-> anyhow::Result<()> {
    const TOTAL: usize = 150;
    let postgres = Postgres::up(5799).await?;
    let settings = vec![(
        "CASEBRIDGE__STORE__URL".to_owned(),
        postgres.url().to_owned(),
    )];
    let system = System::distributed_with(settings, "info").await?;
    let stream =
        delivery::submit_stream(&system, "pg-restart", TOTAL, 8, Duration::from_secs(120)).await?;

    stream.until_accepted(TOTAL / 3).await;
    postgres.restart_immediately().await?;

    delivery::assert_nothing_lost(&system, stream, TOTAL, "PostgreSQL restarted -m immediate")
        .await?;
    system.stop().await
}
