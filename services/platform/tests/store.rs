//! Store conformance: the messaging tables and the outbox relay behave the same on SQLite
//! and on PostgreSQL.

use std::time::Duration;

use casebridge_platform::bus::{Message, QueueSpec};
use casebridge_platform::outbox::OutboxRelay;
use casebridge_platform::store::{
    Db, Idempotency, Messaging, Migration, MigrationState, StoreError, Value, Write, Writes,
    messaging_migrations,
};
use casebridge_platform::testing;

/// A database of each kind, cleaned up afterwards.
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
                $scenario(db, dir.path()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let url = testing::fresh_postgres().await.expect("create database");
                let db = Db::connect(&url, 4).await.expect("connect");
                let dir = tempfile::tempdir().expect("tempdir");
                $scenario(db.clone(), dir.path()).await;
                db.pool().close().await;
                testing::drop_postgres(&url).await.expect("drop database");
            }
        }
    };
}

async fn migrations_run_once_and_record_their_versions(db: Db, _dir: &std::path::Path) {
    let mut migrations = messaging_migrations("svc");
    migrations.push(Migration::portable(
        100,
        "a service table",
        "CREATE TABLE svc_things (id TEXT PRIMARY KEY)",
    ));
    db.migrate("svc", &migrations).await.expect("first run");
    // A second run (a restart, or a second replica) must not re-apply anything.
    db.migrate("svc", &migrations).await.expect("second run");
    let versions: Vec<i64> = sqlx::query_scalar(
        "SELECT version FROM casebridge_migrations WHERE service = $1 ORDER BY version",
    )
    .bind("svc")
    .fetch_all(db.pool())
    .await
    .expect("read");
    assert_eq!(versions, vec![1, 10, 100]);

    // A broken migration names itself and leaves nothing half-applied.
    migrations.push(Migration::portable(
        101,
        "broken",
        "CREATE TABLE nonsense (",
    ));
    let err = db
        .migrate("svc", &migrations)
        .await
        .expect_err("syntax error");
    assert!(err.to_string().contains("svc v101 (broken)"), "{err}");
}
on_both_stores!(migrations, migrations_run_once_and_record_their_versions);

/// An applied migration is checked at every start: one edited after it ran is refused by name,
/// and one applied before checksums were kept gets its checksum recorded.
async fn an_applied_migration_that_changed_is_refused(db: Db, _dir: &std::path::Path) {
    // The table as versions before checksums created it, with one migration applied.
    sqlx::query(
        "CREATE TABLE casebridge_migrations (service TEXT NOT NULL, version BIGINT NOT NULL, \
         description TEXT NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (service, version))",
    )
    .execute(db.pool())
    .await
    .expect("old table");
    sqlx::query("CREATE TABLE svc_things (id TEXT PRIMARY KEY)")
        .execute(db.pool())
        .await
        .expect("old schema");
    sqlx::query(
        "INSERT INTO casebridge_migrations (service, version, description, applied_at) \
         VALUES ('svc', 100, 'a service table', 0)",
    )
    .execute(db.pool())
    .await
    .expect("old record");
    let things = Migration::portable(
        100,
        "a service table",
        "CREATE TABLE svc_things (id TEXT PRIMARY KEY)",
    );
    db.migrate("svc", std::slice::from_ref(&things))
        .await
        .expect("adopts the old record");
    let applied = db.applied_migrations().await.expect("status");
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(
        applied[0].checksum.as_deref(),
        Some(things.checksum(db.dialect()).as_str())
    );

    // Editing an applied migration is refused at the next start, naming it.
    let edited = Migration::portable(
        100,
        "a service table",
        "CREATE TABLE svc_things (id TEXT PRIMARY KEY, extra TEXT)",
    );
    let err = db
        .migrate("svc", &[edited])
        .await
        .expect_err("an edited migration");
    assert!(
        err.to_string()
            .contains("svc v100 (a service table) was applied with checksum"),
        "{err}"
    );
    // The unchanged one still starts.
    db.migrate("svc", &[things]).await.expect("unchanged");
}
on_both_stores!(
    changed_migrations,
    an_applied_migration_that_changed_is_refused
);

/// `casebridge migrate status` reads: each migration of the code as applied, pending, applied
/// before checksums, or changed; and one the database has that the code no longer carries.
async fn the_status_names_each_migration_as_the_next_start_will_find_it(
    db: Db,
    _dir: &std::path::Path,
) {
    let first = Migration::portable(1, "first", "CREATE TABLE svc_a (id TEXT PRIMARY KEY)");
    let second = Migration::portable(2, "second", "CREATE TABLE svc_b (id TEXT PRIMARY KEY)");
    let third = Migration::portable(3, "third", "CREATE TABLE svc_c (id TEXT PRIMARY KEY)");
    let status = db
        .migration_status("svc", &[first.clone(), second.clone()])
        .await
        .expect("status of a new database");
    assert!(
        status.iter().all(|m| m.state == MigrationState::Pending),
        "{status:?}"
    );

    db.migrate("svc", &[first.clone(), second.clone(), third])
        .await
        .expect("migrate");
    // Version 1 as recorded before checksums were kept; version 3 dropped from the code.
    sqlx::query("UPDATE casebridge_migrations SET checksum = NULL WHERE version = 1")
        .execute(db.pool())
        .await
        .expect("forget a checksum");
    let edited = Migration::portable(2, "second", "CREATE TABLE svc_b (id TEXT, extra TEXT)");
    let fourth = Migration::portable(4, "fourth", "CREATE TABLE svc_d (id TEXT PRIMARY KEY)");
    let status = db
        .migration_status("svc", &[first, edited.clone(), fourth])
        .await
        .expect("status");
    let states: Vec<(i64, &str)> = status
        .iter()
        .map(|m| {
            let state = match &m.state {
                MigrationState::Applied { .. } => "applied",
                MigrationState::AppliedUnchecked { .. } => "unchecked",
                MigrationState::Changed { .. } => "changed",
                MigrationState::Pending => "pending",
            };
            (m.version, state)
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (1, "unchecked"),
            (2, "changed"),
            (3, "applied"),
            (4, "pending")
        ]
    );
    match &status[1].state {
        MigrationState::Changed {
            applied, current, ..
        } => {
            assert_eq!(*applied, second.checksum(db.dialect()));
            assert_eq!(*current, edited.checksum(db.dialect()));
        }
        other => panic!("expected changed, got {other:?}"),
    }
    assert_eq!(status[2].description, "third");
}
on_both_stores!(
    migration_status,
    the_status_names_each_migration_as_the_next_start_will_find_it
);

async fn idempotency_replays_the_same_content_and_refuses_other_content(
    db: Db,
    _dir: &std::path::Path,
) {
    db.migrate("svc", &messaging_migrations("svc"))
        .await
        .expect("migrate");
    let m = Messaging::new("svc");
    let mut tx = db.begin().await.expect("begin");
    assert_eq!(
        m.idempotency(&mut tx, "agency-a", "req-1", "digest-1")
            .await
            .expect("lookup"),
        Idempotency::New
    );
    m.record(&mut tx, "agency-a", "req-1", "digest-1", b"reply-1", 42)
        .await
        .expect("record");
    tx.commit().await.expect("commit");

    let mut conn = db.pool().acquire().await.expect("acquire");
    assert_eq!(
        m.idempotency(&mut conn, "agency-a", "req-1", "digest-1")
            .await
            .expect("lookup"),
        Idempotency::Replay {
            reply: b"reply-1".to_vec(),
            accepted_at: 42
        }
    );
    assert_eq!(
        m.idempotency(&mut conn, "agency-a", "req-1", "digest-2")
            .await
            .expect("lookup"),
        Idempotency::Conflict
    );
    // Request ids belong to their agency: another agency may use the same one.
    assert_eq!(
        m.idempotency(&mut conn, "agency-b", "req-1", "digest-2")
            .await
            .expect("lookup"),
        Idempotency::New
    );
}
on_both_stores!(
    idempotency,
    idempotency_replays_the_same_content_and_refuses_other_content
);

async fn a_message_is_processed_once_however_often_it_is_delivered(db: Db, _dir: &std::path::Path) {
    db.migrate("svc", &messaging_migrations("svc"))
        .await
        .expect("migrate");
    let m = Messaging::new("svc");
    let mut conn = db.pool().acquire().await.expect("acquire");
    assert!(
        m.first_delivery(&mut conn, "msg-1", 1)
            .await
            .expect("first")
    );
    assert!(
        !m.first_delivery(&mut conn, "msg-1", 2)
            .await
            .expect("again")
    );
    assert!(
        m.first_delivery(&mut conn, "msg-2", 3)
            .await
            .expect("other")
    );
    // A batch in one statement: each id answered in order; one seen before, or repeated within
    // the batch, is not a first delivery.
    let batch: Vec<String> = ["msg-4", "msg-1", "msg-3", "msg-4", "msg-5"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        m.first_deliveries(&mut conn, &batch, 4)
            .await
            .expect("batch"),
        vec![true, false, true, false, true]
    );
    assert!(
        !m.first_delivery(&mut conn, "msg-5", 5)
            .await
            .expect("after the batch")
    );
    assert!(
        m.first_deliveries(&mut conn, &[], 6)
            .await
            .expect("empty")
            .is_empty()
    );
}
on_both_stores!(
    dedupe,
    a_message_is_processed_once_however_often_it_is_delivered
);

/// Issue 17: replay records older than the retention are deleted, in batches; newer ones stay,
/// and a retry within the window still gets its stored reply (and a redelivery is still
/// recognised), while one after it is taken as new.
async fn pruning_deletes_replay_records_older_than_the_retention_and_keeps_the_window(
    db: Db,
    _dir: &std::path::Path,
) {
    use casebridge_core::time::{ManualClock, Timestamp};
    use casebridge_platform::prune::prune_once;
    use casebridge_platform::store::Pruned;

    const DAY: i64 = 86_400_000;
    let retention = Duration::from_secs(90 * 86_400);
    db.migrate("svc", &messaging_migrations("svc"))
        .await
        .expect("migrate");
    let m = Messaging::new("svc");
    let start = 1_780_000_000_000; // 2026-05-28, the instant every record is stamped from
    let mut tx = db.begin().await.expect("begin");
    // Five old replies and messages (day 0..4), and one of each accepted on day 60.
    for n in 0..5 {
        let at = start + n * DAY;
        m.record(
            &mut tx,
            "agency-a",
            &format!("old-{n}"),
            "digest",
            b"old",
            at,
        )
        .await
        .expect("record");
        assert!(
            m.first_delivery(&mut tx, &format!("old-msg-{n}"), at)
                .await
                .expect("deliver")
        );
    }
    m.record(
        &mut tx,
        "agency-a",
        "recent",
        "digest",
        b"recent reply",
        start + 60 * DAY,
    )
    .await
    .expect("record");
    assert!(
        m.first_delivery(&mut tx, "recent-msg", start + 60 * DAY)
            .await
            .expect("deliver")
    );
    tx.commit().await.expect("commit");

    // Day 90 plus half a day: day 0 is past the retention; the others are not.
    let clock = ManualClock::new(Timestamp::from_millis(start + 90 * DAY + DAY / 2));
    let pruned = prune_once(&db, "svc", &clock, retention, 2)
        .await
        .expect("prune");
    assert_eq!(
        pruned,
        Pruned {
            replies: 1,
            messages: 1
        }
    );

    // Day 95: days 0..4 are all past it; two rows per batch still take them all.
    clock.set(Timestamp::from_millis(start + 95 * DAY));
    let pruned = prune_once(&db, "svc", &clock, retention, 2)
        .await
        .expect("prune");
    assert_eq!(
        pruned,
        Pruned {
            replies: 4,
            messages: 4
        }
    );
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM svc_idempotency")
        .fetch_one(db.pool())
        .await
        .expect("count");
    assert_eq!(left, 1, "the recent reply stays");

    // Within the window a retry replays and a redelivery is recognised ...
    let mut conn = db.pool().acquire().await.expect("acquire");
    assert_eq!(
        m.idempotency(&mut conn, "agency-a", "recent", "digest")
            .await
            .expect("lookup"),
        Idempotency::Replay {
            reply: b"recent reply".to_vec(),
            accepted_at: start + 60 * DAY
        }
    );
    assert!(
        !m.first_delivery(&mut conn, "recent-msg", start + 95 * DAY)
            .await
            .expect("redeliver")
    );
    // ... and after it, the same request id is new again: why the retention must outlast
    // every retry.
    assert_eq!(
        m.idempotency(&mut conn, "agency-a", "old-0", "digest")
            .await
            .expect("lookup"),
        Idempotency::New
    );
    drop(conn);
    let nothing = prune_once(&db, "svc", &clock, retention, 2)
        .await
        .expect("prune");
    assert_eq!(nothing, Pruned::default());
}
on_both_stores!(
    pruning,
    pruning_deletes_replay_records_older_than_the_retention_and_keeps_the_window
);

async fn a_rolled_back_transaction_leaves_no_outbox_row_and_a_committed_one_is_relayed(
    db: Db,
    dir: &std::path::Path,
) {
    db.migrate("svc", &messaging_migrations("svc"))
        .await
        .expect("migrate");
    let m = Messaging::new("svc");
    let bus = testing::embedded_bus(dir).await;
    let queue = QueueSpec::events("watcher", &["referral.#"]);
    bus.declare(&queue).await.expect("declare");
    let relay = OutboxRelay::new(db.clone(), bus.clone(), &m);

    let lost = Message::json("referral.rolled_back", &1).expect("encode");
    let mut tx = db.begin().await.expect("begin");
    m.enqueue(&mut tx, &lost, 1).await.expect("enqueue");
    tx.rollback().await.expect("rollback");

    let kept = Message::json("referral.committed", &2).expect("encode");
    let mut tx = db.begin().await.expect("begin");
    m.enqueue(&mut tx, &kept, 2).await.expect("enqueue");
    tx.commit().await.expect("commit");

    assert_eq!(relay.relay_once().await.expect("relay"), 1);
    assert_eq!(
        relay.relay_once().await.expect("relay again"),
        0,
        "row not deleted"
    );
    let mut consumer = bus.consume(queue).await.expect("consume");
    let got = tokio::time::timeout(Duration::from_secs(5), consumer.next())
        .await
        .expect("delivery")
        .expect("open");
    assert_eq!(got.message.id, kept.id);
}
on_both_stores!(
    outbox,
    a_rolled_back_transaction_leaves_no_outbox_row_and_a_committed_one_is_relayed
);

async fn an_unroutable_event_stays_in_the_outbox_until_a_queue_exists(
    db: Db,
    dir: &std::path::Path,
) {
    db.migrate("svc", &messaging_migrations("svc"))
        .await
        .expect("migrate");
    let m = Messaging::new("svc");
    let bus = testing::embedded_bus(dir).await;
    let relay = OutboxRelay::new(db.clone(), bus.clone(), &m);
    let event = Message::json("transfer.sent", &3).expect("encode");
    let mut tx = db.begin().await.expect("begin");
    m.enqueue(&mut tx, &event, 1).await.expect("enqueue");
    tx.commit().await.expect("commit");

    relay.relay_once().await.expect_err("no queue is bound yet");
    let queue = QueueSpec::events("late", &["transfer.#"]);
    bus.declare(&queue).await.expect("declare");
    assert_eq!(relay.relay_once().await.expect("relay"), 1);
    let mut consumer = bus.consume(queue).await.expect("consume");
    let got = tokio::time::timeout(Duration::from_secs(5), consumer.next())
        .await
        .expect("delivery")
        .expect("open");
    assert_eq!(got.message.id, event.id);
}
on_both_stores!(
    unroutable_outbox,
    an_unroutable_event_stays_in_the_outbox_until_a_queue_exists
);

/// A step's writes go in one round trip on PostgreSQL and one statement each on SQLite, with
/// the same outcome: placeholders (repeated ones too) are each write's own, and a write that
/// must change one row and changes none fails them all as a conflict, which the rollback undoes.
async fn the_writes_of_a_step_go_together_and_a_lost_version_check_fails_them(
    db: Db,
    _dir: &std::path::Path,
) {
    db.migrate(
        "svc",
        &[Migration::portable(
            100,
            "things",
            "CREATE TABLE svc_things (id TEXT PRIMARY KEY, version BIGINT NOT NULL, \
             made BIGINT NOT NULL, changed BIGINT NOT NULL)",
        )],
    )
    .await
    .expect("migrate");
    let insert = |id: &str, at: i64| {
        Write::new(
            "INSERT INTO svc_things (id, version, made, changed) VALUES ($1, 1, $2, $2)".into(),
            vec![Value::Text(id.into()), Value::Int(at)],
        )
    };
    let bump = |id: &str, from: i64| {
        Write::new(
            "UPDATE svc_things SET version = $2 WHERE id = $1 AND version = $3".into(),
            vec![
                Value::Text(id.into()),
                Value::Int(from + 1),
                Value::Int(from),
            ],
        )
        .changing_one(format!("thing {id}"))
    };
    let things = |db: Db| async move {
        sqlx::query_as::<_, (String, i64, i64, i64)>(
            "SELECT id, version, made, changed FROM svc_things ORDER BY id",
        )
        .fetch_all(db.pool())
        .await
        .expect("read")
    };

    let mut tx = db.begin().await.expect("begin");
    insert("a", 7).execute(&mut tx).await.expect("insert a");
    let mut writes = Writes::default();
    writes.push(bump("a", 1));
    writes.push(insert("b", 8));
    writes.extend([insert("c", 9)]);
    writes.execute(&mut tx, db.dialect()).await.expect("writes");
    tx.commit().await.expect("commit");
    assert_eq!(
        things(db.clone()).await,
        vec![
            ("a".to_owned(), 2, 7, 7),
            ("b".to_owned(), 1, 8, 8),
            ("c".to_owned(), 1, 9, 9)
        ]
    );

    // "a" is at version 2 now: a step that read version 1 lost, and nothing of it stays.
    let mut tx = db.begin().await.expect("begin");
    let mut writes = Writes::default();
    writes.push(insert("d", 10));
    writes.push(bump("a", 1));
    match writes.execute(&mut tx, db.dialect()).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, "thing a"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    tx.rollback().await.expect("rollback");
    assert_eq!(things(db.clone()).await.len(), 3, "the step left a row");
}
on_both_stores!(
    writes,
    the_writes_of_a_step_go_together_and_a_lost_version_check_fails_them
);
