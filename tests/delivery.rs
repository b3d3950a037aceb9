//! Shared by the fault tests (crash, broker restart, cluster, shutdown): a stream of
//! submissions that retries on UNAVAILABLE with the same request id, a police inbox watcher
//! that reconnects from its cursor, and the exactly-once checks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::agencies::{CITY_POLICE, MARKET_BUREAU};
use crate::{System, submission};
use casebridge_platform::testing::eventually;
use casebridge_proto::v1::referral_service_client::ReferralServiceClient;
use tokio::task::JoinSet;
use tonic::Code;
use tonic::transport::Channel;

/// Failed calls that were retried, by status code (`"Unavailable"`, …).
pub type Retried = Arc<Mutex<BTreeMap<String, usize>>>;

/// Submissions in flight: `accepted` counts the ones the gateway confirmed, `retried` the calls
/// that failed and were sent again.
#[derive(Debug)]
pub struct Stream {
    pub accepted: Arc<AtomicUsize>,
    pub retried: Retried,
    tasks: JoinSet<anyhow::Result<Vec<String>>>,
}

/// Starts `total` submissions from `workers` concurrent clients. A call that fails with
/// UNAVAILABLE is retried with the same request id until `patience` runs out.
pub async fn submit_stream(
    system: &System,
    prefix: &str,
    total: usize,
    workers: usize,
    patience: Duration,
) -> anyhow::Result<Stream> {
    let accepted = Arc::new(AtomicUsize::new(0));
    let retried = Retried::default();
    let mut tasks = JoinSet::new();
    for w in 0..workers {
        let client = system.referrals(MARKET_BUREAU).await?;
        let counters = (accepted.clone(), retried.clone());
        let ids: Vec<String> = (w..total)
            .step_by(workers)
            .map(|i| format!("{prefix}-{i}"))
            .collect();
        tasks.spawn(worker(client, ids, counters, patience));
    }
    Ok(Stream {
        accepted,
        retried,
        tasks,
    })
}

async fn worker(
    mut client: ReferralServiceClient<Channel>,
    request_ids: Vec<String>,
    (accepted, retried): (Arc<AtomicUsize>, Retried),
    patience: Duration,
) -> anyhow::Result<Vec<String>> {
    let deadline = Instant::now() + patience;
    let mut case_ids = Vec::new();
    for request_id in request_ids {
        // A retry resends exactly the same request: built once, so its times do not change.
        let request = submission(&request_id);
        loop {
            match client.submit_referral(request.clone()).await {
                Ok(result) => {
                    let referral = result
                        .into_inner()
                        .referral
                        .ok_or_else(|| anyhow::anyhow!("no referral"))?;
                    case_ids.push(referral.id);
                    accepted.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                // Retried: what the server says is safe to retry, and any failure of the
                // connection itself (it carries the transport error as its source; a request
                // that crossed a draining gateway's GOAWAY is one, reported as INTERNAL). The
                // same request_id makes a resend safe; `count` says which were never processed.
                Err(status)
                    if matches!(
                        status.code(),
                        Code::Unavailable | Code::Unknown | Code::Cancelled
                    ) || std::error::Error::source(&status).is_some() =>
                {
                    anyhow::ensure!(
                        Instant::now() < deadline,
                        "{request_id} still unavailable: {status:?}"
                    );
                    count(&retried, &status);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(status) => anyhow::bail!("{request_id} refused: {status:?}"),
            }
        }
    }
    Ok(case_ids)
}

impl Stream {
    /// Waits until at least `n` submissions were accepted.
    pub async fn until_accepted(&self, n: usize) {
        eventually(
            "submissions to be accepted",
            Duration::from_secs(60),
            || async { (self.accepted.load(Ordering::SeqCst) >= n).then_some(()) },
        )
        .await;
    }

    /// Waits for every worker; returns the case ids the gateway confirmed and the calls that
    /// were retried, by status code.
    pub async fn finish(mut self) -> anyhow::Result<(BTreeSet<String>, BTreeMap<String, usize>)> {
        let mut all = BTreeSet::new();
        while let Some(done) = self.tasks.join_next().await {
            for id in done?? {
                anyhow::ensure!(all.insert(id.clone()), "case id {id} confirmed twice");
            }
        }
        let retried = self.retried.lock().expect("not poisoned").clone();
        Ok((all, retried))
    }
}

/// Checks that each accepted referral is in the police inbox exactly once, and nothing else is;
/// returns how many the inbox holds.
pub async fn assert_each_delivered_exactly_once(
    system: &System,
    accepted: &BTreeSet<String>,
) -> usize {
    let counts = eventually(
        "every accepted referral in the police inbox",
        Duration::from_secs(60),
        || async {
            let entries = system.inbox_entries(CITY_POLICE).await.ok()?;
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for e in entries.iter().filter(|e| e.event == "submitted") {
                *counts.entry(e.case_id.clone()).or_default() += 1;
            }
            (counts.len() >= accepted.len()).then_some(counts)
        },
    )
    .await;
    let delivered: BTreeSet<String> = counts.keys().cloned().collect();
    assert_eq!(
        &delivered, accepted,
        "the police inbox holds other referrals than those accepted"
    );
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    counts.values().sum()
}

/// The end of every fault test: waits for `stream`, then checks that all `total` submissions
/// were accepted, each reached the police inbox exactly once, and every chain verifies; prints
/// the counts under `fault`. Returns the accepted case ids and the retried calls by code.
pub async fn assert_nothing_lost(
    system: &System,
    stream: Stream,
    total: usize,
    fault: &str,
) -> anyhow::Result<(BTreeSet<String>, BTreeMap<String, usize>)> {
    let (accepted, retried) = stream.finish().await?;
    assert_eq!(
        accepted.len(),
        total,
        "every submission is eventually accepted"
    );
    let delivered = assert_each_delivered_exactly_once(system, &accepted).await;
    assert_every_chain_verifies(system).await;
    print_counts(fault, accepted.len(), &retried, delivered);
    Ok((accepted, retried))
}

/// Checks that `casebridge ledger verify` finds every case's full-process record intact.
pub async fn assert_every_chain_verifies(system: &System) {
    let output = system
        .cli(&["ledger", "verify"])
        .await
        .expect("run casebridge ledger verify");
    assert!(
        output.status.success(),
        "a chain did not verify: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Prints what a fault test counted, for the reader of the test log.
fn print_counts(fault: &str, accepted: usize, retried: &BTreeMap<String, usize>, delivered: usize) {
    println!(
        "{fault}: {accepted} accepted, {delivered} in the police inbox, {} lost, {} duplicated, \
         calls retried: {retried:?}",
        accepted.saturating_sub(delivered),
        delivered.saturating_sub(accepted),
    );
}

/// The key a failure is counted under: its status code, except for a call the server never
/// received or never processed: [`NOT_SENT`]. That is a request still queued for a connection that
/// closed (hyper cancels it, and tonic reports it as CANCELLED), and a request that crossed a
/// draining gateway's GOAWAY (h2 fails the streams above the last one the server took, and
/// tonic reports that as INTERNAL).
fn count(counts: &Retried, status: &tonic::Status) {
    let transport = std::error::Error::source(status).map(|e| format!("{e:?}"));
    let key = match (status.code(), transport) {
        (Code::Cancelled, Some(source)) if source.contains("Canceled, \"connection closed\"") => {
            NOT_SENT.to_owned()
        }
        (Code::Internal, Some(source)) if source.contains("GoAway(b\"\", NO_ERROR, Remote)") => {
            NOT_SENT.to_owned()
        }
        (code, _) => format!("{code:?}"),
    };
    *counts.lock().expect("not poisoned").entry(key).or_default() += 1;
}

/// How [`count`] names a call that never left the client: its connection closed first.
pub const NOT_SENT: &str = "NotSent";

/// A police client following its inbox as a console or agency system would: when the stream
/// breaks (the gateway stopped or died), it calls again from the last cursor it saw.
#[derive(Debug)]
pub struct Watcher {
    seen: Arc<Mutex<Vec<casebridge_proto::v1::InboxEntry>>>,
    /// Stream or call failures, by status code.
    failures: Retried,
    task: tokio::task::JoinHandle<()>,
}

/// Starts following `agency`'s inbox from its beginning.
pub async fn watch_inbox(system: &System, agency: &str) -> anyhow::Result<Watcher> {
    let client = system.inbox(agency).await?;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let failures = Retried::default();
    let task = tokio::spawn(follow(client, seen.clone(), failures.clone()));
    Ok(Watcher {
        seen,
        failures,
        task,
    })
}

async fn follow(
    client: casebridge_proto::v1::inbox_service_client::InboxServiceClient<Channel>,
    seen: Arc<Mutex<Vec<casebridge_proto::v1::InboxEntry>>>,
    failures: Retried,
) {
    let mut after = Some(0);
    loop {
        let request = casebridge_proto::v1::WatchInboxRequest {
            after_cursor: after,
            follow: true,
        };
        match client.clone().watch_inbox(request).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(entry)) => {
                            after = Some(entry.cursor);
                            seen.lock().expect("not poisoned").push(entry);
                        }
                        Ok(None) => break,
                        Err(status) => {
                            count(&failures, &status);
                            break;
                        }
                    }
                }
            }
            Err(status) => count(&failures, &status),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Watcher {
    /// Waits until the watcher has seen every referral in `accepted` arrive, then stops it and
    /// checks that it saw each exactly once, in cursor order, and nothing else; returns how many
    /// arrivals it saw, and how often its stream broke, by status code.
    pub async fn assert_saw_each_exactly_once(
        self,
        accepted: &BTreeSet<String>,
    ) -> (usize, BTreeMap<String, usize>) {
        let arrivals = |seen: &[casebridge_proto::v1::InboxEntry]| -> Vec<String> {
            seen.iter()
                .filter(|e| e.event == "submitted")
                .map(|e| e.case_id.clone())
                .collect()
        };
        eventually(
            "the watcher to see every accepted referral",
            Duration::from_secs(60),
            || async {
                let seen = self.seen.lock().expect("not poisoned");
                let ids: BTreeSet<String> = arrivals(&seen).into_iter().collect();
                accepted.is_subset(&ids).then_some(())
            },
        )
        .await;
        self.task.abort();
        let seen = self.seen.lock().expect("not poisoned").clone();
        let cursors: Vec<u64> = seen.iter().map(|e| e.cursor).collect();
        assert!(
            cursors.windows(2).all(|w| w[0] < w[1]),
            "a resumed stream repeated or reordered entries: {cursors:?}"
        );
        let arrived = arrivals(&seen);
        let distinct: BTreeSet<String> = arrived.iter().cloned().collect();
        assert_eq!(&distinct, accepted, "the watcher saw other referrals");
        assert_eq!(arrived.len(), accepted.len(), "the watcher saw one twice");
        let failures = self.failures.lock().expect("not poisoned").clone();
        (arrived.len(), failures)
    }
}
