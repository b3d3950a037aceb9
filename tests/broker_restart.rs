//! Restarting RabbitMQ in the middle of a stream of submissions loses nothing and duplicates
//! nothing: the components reconnect, the outbox keeps what could not be published, and
//! consumers deduplicate what was redelivered.
//!
//! The broker is restarted with `rabbitmqctl stop_app` / `start_app`: every connection drops
//! and every queue process restarts from disk, as in a broker restart. This test runs alone in
//! its own test binary, because it disturbs every other user of the broker.

use std::time::Duration;

use casebridge_tests::System;

mod delivery;

fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let status = std::process::Command::new("rabbitmqctl")
        .args(args)
        .status()?;
    anyhow::ensure!(status.success(), "rabbitmqctl {args:?} failed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_referral_reaches_the_police_inbox_exactly_once_across_a_broker_restart()
-> anyhow::Result<()> {
    const TOTAL: usize = 240;
    let system = System::distributed().await?;
    let stream =
        delivery::submit_stream(&system, "restart", TOTAL, 8, Duration::from_secs(180)).await?;

    stream.until_accepted(TOTAL / 3).await;
    let restarted = (|| {
        rabbitmqctl(&["stop_app"])?;
        std::thread::sleep(Duration::from_secs(1));
        rabbitmqctl(&["start_app"])?;
        rabbitmqctl(&["await_startup"])
    })();
    if restarted.is_err() {
        // Never leave the machine's broker stopped.
        let _ = rabbitmqctl(&["start_app"]);
    }
    restarted?;

    let accepted = stream.finish().await?;
    assert_eq!(
        accepted.len(),
        TOTAL,
        "every submission is eventually accepted"
    );
    delivery::assert_each_delivered_exactly_once(&system, &accepted).await;
    system.stop().await
}
