//! Killing RabbitMQ (its Erlang VM, with SIGKILL) in the middle of a stream of submissions and
//! starting it again loses nothing and duplicates nothing: the components reconnect, the outbox
//! keeps what could not be published, the quorum queues come back from disk, and consumers
//! deduplicate what was redelivered.
//!
//! The broker is a private node (`deploy/local/cluster.sh up 1` on port 5711), not the machine's
//! own, so the other tests never see it die.

use std::time::Duration;

use casebridge_tests::System;
use casebridge_tests::delivery;
use casebridge_tests::servers::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_referral_reaches_the_police_inbox_exactly_once_across_a_killed_broker()
-> anyhow::Result<()> {
    const TOTAL: usize = 240;
    let broker = Cluster::up(1, 5711).await?;
    let system = System::distributed_with(broker.bus_settings(), "info").await?;
    let stream =
        delivery::submit_stream(&system, "restart", TOTAL, 8, Duration::from_secs(180)).await?;

    stream.until_accepted(TOTAL / 3).await;
    broker.kill(1).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    broker.start(1).await?;

    delivery::assert_nothing_lost(&system, stream, TOTAL, "broker killed and restarted").await?;
    system.stop().await
}
