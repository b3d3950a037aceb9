//! Stopping processes under load, the two ways they are stopped in production:
//! - SIGTERM (systemd, Docker, Kubernetes): the gateway stops taking calls, finishes the ones in
//!   flight and ends open inbox streams with UNAVAILABLE; a service finishes and acknowledges
//!   what it is processing. Each exits cleanly within `shutdown_grace`, and no call the gateway
//!   took fails: clients see UNAVAILABLE on new calls, which they retry, and, for a call their
//!   transport had queued on the closing connection without sending it, tonic's CANCELLED
//!   "operation was canceled: connection closed" (counted as [`delivery::NOT_SENT`]).
//! - SIGKILL of the gateway while clients follow their inbox: they reconnect and resume from
//!   their cursor, missing nothing and seeing nothing twice.
//!
//! Either way every accepted referral reaches the police inbox exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use casebridge_tests::System;
use casebridge_tests::agencies::CITY_POLICE;
use casebridge_tests::delivery;

const TOTAL: usize = 150;
const GRACE: Duration = Duration::from_secs(5);

/// Whether every failure is a call the gateway refused or never received.
fn only_unavailable(failures: &BTreeMap<String, usize>) -> bool {
    failures
        .keys()
        .all(|code| code == "Unavailable" || code == delivery::NOT_SENT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_gateway_and_a_service_under_load_and_clients_only_retry()
-> anyhow::Result<()> {
    let settings = vec![(
        "CASEBRIDGE__SHUTDOWN_GRACE".to_owned(),
        format!("{}s", GRACE.as_secs()),
    )];
    let mut system = System::distributed_with(settings, "info").await?;
    let watcher = delivery::watch_inbox(&system, CITY_POLICE).await?;
    let stream =
        delivery::submit_stream(&system, "sigterm", TOTAL, 8, Duration::from_secs(120)).await?;

    stream.until_accepted(TOTAL / 3).await;
    // Patience: the grace, and a little for the process to start its exit.
    let (status, took) = system.terminate("gateway", GRACE * 2).await?;
    assert!(
        status.success(),
        "the gateway exited with {status} after SIGTERM"
    );
    println!("gateway exited {took:?} after SIGTERM");
    system.restart_gateway().await?;

    stream.until_accepted(TOTAL * 2 / 3).await;
    let (status, took) = system.terminate("referrals", GRACE * 2).await?;
    assert!(
        status.success(),
        "the referrals service exited with {status} after SIGTERM"
    );
    println!("referrals service exited {took:?} after SIGTERM");
    system.restart("referrals").await?;

    let (accepted, retried) = delivery::assert_nothing_lost(
        &system,
        stream,
        TOTAL,
        "gateway and referrals service stopped by SIGTERM",
    )
    .await?;
    assert!(
        only_unavailable(&retried),
        "a client saw another error than UNAVAILABLE: {retried:?}"
    );
    let (watched, failures) = watcher.assert_saw_each_exactly_once(&accepted).await;
    assert!(
        failures.contains_key("Unavailable") && only_unavailable(&failures),
        "the gateway's SIGTERM should end the inbox stream with UNAVAILABLE, and only that: {failures:?}"
    );
    println!("the watching police client saw {watched} arrivals; its stream broke: {failures:?}");
    system.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_watchers_resume_from_their_cursor_after_the_gateway_is_killed() -> anyhow::Result<()>
{
    let mut system = System::distributed().await?;
    let watcher = delivery::watch_inbox(&system, CITY_POLICE).await?;
    let stream =
        delivery::submit_stream(&system, "sigkill", TOTAL, 8, Duration::from_secs(120)).await?;

    stream.until_accepted(TOTAL / 3).await;
    system.kill("gateway").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    system.restart_gateway().await?;

    let (accepted, _) =
        delivery::assert_nothing_lost(&system, stream, TOTAL, "gateway killed").await?;
    let (watched, failures) = watcher.assert_saw_each_exactly_once(&accepted).await;
    assert!(
        !failures.is_empty(),
        "the inbox stream never broke: was the gateway killed?"
    );
    println!("the watching police client saw {watched} arrivals; its stream broke: {failures:?}");
    system.stop().await
}
