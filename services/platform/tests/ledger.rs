//! The ledger on SQLite and on PostgreSQL: a chain verifies; a record modified, deleted or
//! reordered directly in the database is caught and named; so are a truncated tail, a rewritten
//! head and a checkpoint that is not the operator's.

use std::collections::BTreeMap;

use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::ledger::ChainError;
use casebridge_core::notice::{Family, Notice};
use casebridge_core::time::Timestamp;
use casebridge_platform::ledger::{self, Chain, Signer, Verifier, VerifyError};
use casebridge_platform::store::Db;
use casebridge_platform::testing;

macro_rules! on_both_stores {
    ($name:ident, $scenario:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let dir = tempfile::tempdir().expect("tempdir");
                let db = Db::open_sqlite(&dir.path().join("svc.db"))
                    .await
                    .expect("open");
                $scenario(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let url = testing::fresh_postgres().await.expect("create database");
                let db = Db::connect(&url, 4).await.expect("connect");
                $scenario(db.clone()).await;
                db.pool().close().await;
                testing::drop_postgres(&url).await.expect("drop database");
            }
        }
    };
}

const SERVICE: &str = "svc";

fn notice(n: i64, event: &str) -> Notice {
    Notice {
        case_id: CaseId::generate(),
        family: Family::Referral,
        event: event.into(),
        actor: AgencyCode::parse("11350100MB0100002P").expect("code"),
        at: Timestamp::from_millis(1_771_000_000_000 + n),
        recipients: Vec::new(),
        summary: format!("step {n}"),
        detail: serde_json::json!({ "n": n }),
        parties: BTreeMap::new(),
        attachments: Vec::new(),
    }
}

struct Fixture {
    db: Db,
    chain: Chain,
    signer: Signer,
    verifier: Verifier,
}

/// A chain of five records (two steps of two events and one of one), checkpointed at 5.
async fn five_records(db: Db) -> Fixture {
    db.migrate(SERVICE, &ledger::migrations(SERVICE))
        .await
        .expect("migrate");
    let chain = Chain::new(SERVICE);
    let signer = Signer::from_pkcs8(&Signer::generate_pkcs8().expect("key")).expect("signer");
    let verifier = Verifier::from_hex(&signer.public_key_hex()).expect("verifier");
    let mut n = 0;
    for events in [
        &["submitted", "copied"][..],
        &["receipt_signed", "x"],
        &["filed"],
    ] {
        let notices: Vec<(String, Notice)> = events
            .iter()
            .map(|e| {
                n += 1;
                (format!("m-{n}"), notice(n, e))
            })
            .collect();
        let mut tx = db.begin().await.expect("begin");
        chain.append(&mut tx, &notices).await.expect("append");
        tx.commit().await.expect("commit");
    }
    chain
        .checkpoint(&db, &signer, Timestamp::from_millis(1_771_000_100_000))
        .await
        .expect("checkpoint")
        .expect("a new checkpoint");
    Fixture {
        db,
        chain,
        signer,
        verifier,
    }
}

async fn exec(db: &Db, sql: &str) {
    sqlx::query(sql).execute(db.pool()).await.expect(sql);
}

async fn verdict(f: &Fixture) -> Result<ledger::Verified, ChainError> {
    match f.chain.verify(&f.db, &f.verifier).await {
        Ok(v) => Ok(v),
        Err(VerifyError::Chain(e)) => Err(e),
        Err(VerifyError::Store(e)) => panic!("cannot read the chain: {e}"),
    }
}

async fn an_intact_chain_verifies_with_its_checkpoint(db: Db) {
    let f = five_records(db).await;
    let verified = verdict(&f).await.expect("intact");
    assert_eq!(verified.records, 5);
    assert_eq!(verified.checkpoints, 1);
    assert_eq!(verified.last_checkpoint, Some(5));
    // Nothing moved: no second checkpoint.
    let again = f
        .chain
        .checkpoint(&f.db, &f.signer, Timestamp::from_millis(1_771_000_200_000))
        .await
        .expect("checkpoint");
    assert_eq!(again, None);
}
on_both_stores!(intact, an_intact_chain_verifies_with_its_checkpoint);

async fn a_modified_body_is_named(db: Db) {
    let f = five_records(db).await;
    exec(
        &f.db,
        "UPDATE svc_ledger SET body = (SELECT body FROM svc_ledger WHERE seq = 1) WHERE seq = 3",
    )
    .await;
    let error = verdict(&f).await.expect_err("modified");
    assert!(
        matches!(error, ChainError::Altered { seq: 3, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("record 3"), "{error}");
}
on_both_stores!(modified, a_modified_body_is_named);

async fn a_modified_actor_is_named(db: Db) {
    let f = five_records(db).await;
    exec(
        &f.db,
        "UPDATE svc_ledger SET actor = '11350100MB01000064' WHERE seq = 2",
    )
    .await;
    let error = verdict(&f).await.expect_err("modified");
    assert!(
        matches!(error, ChainError::Altered { seq: 2, .. }),
        "{error}"
    );
}
on_both_stores!(modified_actor, a_modified_actor_is_named);

async fn a_deleted_record_is_named(db: Db) {
    let f = five_records(db).await;
    exec(&f.db, "DELETE FROM svc_ledger WHERE seq = 2").await;
    let error = verdict(&f).await.expect_err("deleted");
    assert_eq!(
        error,
        ChainError::Gap {
            expected: 2,
            found: 3
        }
    );
    assert!(error.to_string().contains("record 2 is missing"), "{error}");
}
on_both_stores!(deleted, a_deleted_record_is_named);

async fn reordered_records_are_named(db: Db) {
    let f = five_records(db).await;
    // Swap records 3 and 4 by renumbering them.
    exec(&f.db, "UPDATE svc_ledger SET seq = 1000 WHERE seq = 3").await;
    exec(&f.db, "UPDATE svc_ledger SET seq = 3 WHERE seq = 4").await;
    exec(&f.db, "UPDATE svc_ledger SET seq = 4 WHERE seq = 1000").await;
    let error = verdict(&f).await.expect_err("reordered");
    assert!(
        matches!(error, ChainError::Altered { seq: 3, .. }),
        "{error}"
    );
}
on_both_stores!(reordered, reordered_records_are_named);

async fn a_removed_tail_is_named_even_with_the_head_rewritten(db: Db) {
    let f = five_records(db).await;
    exec(&f.db, "DELETE FROM svc_ledger WHERE seq = 5").await;
    let error = verdict(&f).await.expect_err("tail removed");
    assert_eq!(error, ChainError::Truncated { last: 4, head: 5 });

    // Rewriting the head to match record 4 is caught by the signed checkpoint at 5.
    exec(
        &f.db,
        "UPDATE svc_ledger_head SET seq = 4, hash = (SELECT hash FROM svc_ledger WHERE seq = 4)",
    )
    .await;
    let error = verdict(&f).await.expect_err("head rewritten");
    assert!(
        matches!(error, ChainError::CheckpointMismatch { seq: 5, .. }),
        "{error}"
    );
}
on_both_stores!(
    truncated,
    a_removed_tail_is_named_even_with_the_head_rewritten
);

async fn a_checkpoint_signed_by_another_key_is_refused(db: Db) {
    let f = five_records(db).await;
    let stranger = Verifier::from_hex(
        &Signer::from_pkcs8(&Signer::generate_pkcs8().expect("key"))
            .expect("signer")
            .public_key_hex(),
    )
    .expect("verifier");
    let error = match f.chain.verify(&f.db, &stranger).await {
        Err(VerifyError::Chain(e)) => e,
        other => panic!("expected a bad signature, got {other:?}"),
    };
    assert!(
        matches!(error, ChainError::BadSignature { seq: 5, .. }),
        "{error}"
    );
}
on_both_stores!(foreign_key, a_checkpoint_signed_by_another_key_is_refused);
