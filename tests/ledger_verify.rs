//! `casebridge ledger verify`, the operator's check of the full-process record, on the real
//! binary and the real stores: it passes on an untouched record and, after a record is changed
//! in the database behind CaseBridge's back, fails and names the first bad record. (Every kind of
//! tampering, row by row, is tested on the chain itself in `services/platform/tests/ledger.rs`.)

use std::time::Duration;

use casebridge_platform::store::Db;
use casebridge_platform::testing::eventually;
use casebridge_tests::agencies::*;
use casebridge_tests::{System, submission};

async fn verify(system: &System) -> anyhow::Result<(bool, String)> {
    let output = system.cli(&["ledger", "verify"]).await?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.success(), text))
}

async fn verification_names_the_first_altered_record(system: System) -> anyhow::Result<()> {
    let mut referrals = system.referrals(MARKET_BUREAU).await?;
    for n in 0..3 {
        referrals
            .submit_referral(submission(&format!("ledger-{n}")))
            .await?;
    }
    let (ok, said) = verify(&system).await?;
    assert!(ok, "an untouched record verifies: {said}");
    assert!(said.contains("referrals: ok, 3 records"), "{said}");

    // Someone with database access rewrites who took the second step.
    let db = Db::connect(&system.store_url("referrals"), 1).await?;
    sqlx::query("UPDATE referrals_ledger SET actor = $1 WHERE seq = 2")
        .bind(CITY_POLICE)
        .execute(db.pool())
        .await?;
    db.pool().close().await;

    let (ok, said) = eventually("verification to fail", Duration::from_secs(5), || async {
        let (ok, said) = verify(&system).await.ok()?;
        (!ok).then_some((ok, said))
    })
    .await;
    assert!(!ok);
    assert!(
        said.contains("referrals: FAILED: record 2 (case")
            && said.contains("does not match its stored hash"),
        "the first bad record is named: {said}"
    );
    assert!(said.contains("1 chain(s) did not verify"), "{said}");
    system.stop().await
}

#[tokio::test]
async fn ledger_verify_names_the_first_altered_record_on_the_embedded_default() -> anyhow::Result<()>
{
    verification_names_the_first_altered_record(System::embedded().await?).await
}

#[tokio::test]
async fn ledger_verify_names_the_first_altered_record_on_postgresql() -> anyhow::Result<()> {
    verification_names_the_first_altered_record(System::distributed().await?).await
}
