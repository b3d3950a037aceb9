//! Shared by the crash and broker-restart tests: a stream of submissions that retries on
//! UNAVAILABLE with the same request id, and the exactly-once check on the police inbox.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use casebridge_platform::testing::eventually;
use casebridge_proto::v1::referral_service_client::ReferralServiceClient;
use casebridge_tests::agencies::{CITY_POLICE, MARKET_BUREAU};
use casebridge_tests::{System, submission};
use tokio::task::JoinSet;
use tonic::Code;
use tonic::transport::Channel;

/// Submissions in flight: `accepted` counts the ones the gateway confirmed, `retried` the calls
/// that failed as unavailable and were sent again.
pub struct Stream {
    pub accepted: Arc<AtomicUsize>,
    pub retried: Arc<AtomicUsize>,
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
    let retried = Arc::new(AtomicUsize::new(0));
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
    (accepted, retried): (Arc<AtomicUsize>, Arc<AtomicUsize>),
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
                Err(status)
                    if matches!(
                        status.code(),
                        Code::Unavailable | Code::Unknown | Code::Cancelled
                    ) =>
                {
                    anyhow::ensure!(
                        Instant::now() < deadline,
                        "{request_id} still unavailable: {status:?}"
                    );
                    retried.fetch_add(1, Ordering::SeqCst);
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

    /// Waits for every worker; returns the case ids the gateway confirmed and the number of
    /// calls that were retried.
    pub async fn finish(mut self) -> anyhow::Result<(BTreeSet<String>, usize)> {
        let mut all = BTreeSet::new();
        while let Some(done) = self.tasks.join_next().await {
            for id in done?? {
                anyhow::ensure!(all.insert(id.clone()), "case id {id} confirmed twice");
            }
        }
        Ok((all, self.retried.load(Ordering::SeqCst)))
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
pub fn print_counts(fault: &str, accepted: usize, retried: usize, delivered: usize) {
    println!(
        "{fault}: {accepted} accepted, {delivered} in the police inbox, {} lost, {} duplicated, \
         {retried} calls retried as unavailable",
        accepted.saturating_sub(delivered),
        delivered.saturating_sub(accepted),
    );
}
