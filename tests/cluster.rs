//! A three-node RabbitMQ cluster loses a node, killed with SIGKILL, in the middle of a stream
//! of submissions: the components move to the nodes left, the quorum queues elect new leaders,
//! submissions go on being accepted while the node is down, and when it is back nothing is lost
//! and nothing duplicated. Two rounds:
//! 1. kill node 1, the node every process is connected to (the first of `bus.urls`);
//! 2. kill node 3, which leads the referrals service's command queue while every process stays
//!    connected to node 1: the queue was declared through node 3 before the services started,
//!    and a quorum queue's first leader is the node it was declared on.
//!
//! The nodes are private (`deploy/local/cluster.sh up 3` on ports 5721–5723), not the
//! machine's own broker. Both rounds share one cluster, one after the other: two nodes down at
//! once would leave the queues without a quorum.

use std::time::Duration;

use casebridge_platform::bus::amqp::{AmqpBus, AmqpOptions, AmqpTls};
use casebridge_platform::bus::{QueueSpec, Topology};
use casebridge_platform::settings::Settings;
use casebridge_platform::testing::unique_name;
use casebridge_tests::System;
use casebridge_tests::delivery;
use casebridge_tests::servers::Cluster;

const TOTAL: usize = 150;

/// Starts a system on the cluster, kills `node` once a third of the stream is accepted, starts
/// it again once two thirds are, and checks that every accepted referral arrived exactly once.
async fn lose_a_node(
    cluster: &Cluster,
    namespace: &str,
    node: usize,
    prefix: &str,
) -> anyhow::Result<()> {
    let mut settings = cluster.bus_settings();
    settings.push(("CASEBRIDGE__BUS__NAMESPACE".into(), namespace.into()));
    let system = System::distributed_with(settings, "info").await?;
    let stream =
        delivery::submit_stream(&system, prefix, TOTAL, 8, Duration::from_secs(180)).await?;

    stream.until_accepted(TOTAL / 3).await;
    cluster.kill(node).await?;
    // Failover, not patience: work goes on while the node is down.
    stream.until_accepted(TOTAL * 2 / 3).await;
    cluster.start(node).await?;

    delivery::assert_nothing_lost(
        &system,
        stream,
        TOTAL,
        &format!("cluster node {node} of 3 killed ({prefix})"),
    )
    .await?;
    system.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_loses_a_node_and_every_accepted_referral_reaches_the_police_exactly_once()
-> anyhow::Result<()> {
    let cluster = Cluster::up(3, 5721).await?;

    lose_a_node(&cluster, &unique_name("cbcluster"), 1, "connected-node").await?;

    let namespace = unique_name("cbcluster");
    let commands = QueueSpec::commands("referrals");
    let through_node_3 = AmqpBus::connect(
        AmqpOptions {
            urls: vec![cluster.urls()[2].clone()],
            tls: AmqpTls::default(),
            prefetch: 1,
            // As the services will declare it: the arguments must match.
            delivery_limit: Settings::default().bus.delivery_limit,
            queue_type: Settings::default().bus.queue_type,
        },
        Topology::new(namespace.clone()),
    )
    .await?;
    through_node_3.declare(&commands).await?;
    through_node_3.close().await;
    let queue = Topology::new(namespace.clone())
        .queue_name(&commands)
        .expect("a command queue has a name");
    assert_eq!(
        cluster.leader(&queue).await?,
        3,
        "the command queue is led by the node it was declared on"
    );
    lose_a_node(&cluster, &namespace, 3, "command-queue-leader").await
}
