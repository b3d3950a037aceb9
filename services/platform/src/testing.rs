//! Helpers for tests in every crate: a fresh PostgreSQL database, a unique bus namespace,
//! and [`eventually`], the only sanctioned way to wait for something asynchronous.
//!
//! The servers are the loopback ones the project's scripts start (`deploy/local/services.sh`):
//! PostgreSQL at `127.0.0.1:5432` (trust auth) and RabbitMQ at `127.0.0.1:5672` (guest/guest).
//! `CASEBRIDGE_TEST_POSTGRES` and `CASEBRIDGE_TEST_AMQP` may point elsewhere on loopback.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::bus::amqp::{AmqpBus, AmqpOptions, AmqpTls};
use crate::bus::embedded::EmbeddedBus;
use crate::bus::{Bus, Topology};
use crate::store::Db;

/// The PostgreSQL server used by tests (a database name is appended).
pub fn postgres_server() -> String {
    std::env::var("CASEBRIDGE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// The RabbitMQ URL used by tests.
pub fn amqp_url() -> String {
    std::env::var("CASEBRIDGE_TEST_AMQP")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A name no other test uses: `prefix` plus a short random suffix.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A new, empty PostgreSQL database; returns its URL. Dropped by [`drop_postgres`].
pub async fn fresh_postgres() -> Result<String, crate::StoreError> {
    crate::store::create_database(&postgres_server(), &unique_name("cbtest")).await
}

/// Drops a database made by [`fresh_postgres`], disconnecting its sessions.
pub async fn drop_postgres(url: &str) -> Result<(), crate::StoreError> {
    crate::store::drop_database(url).await
}

/// An embedded bus in `dir`, under a fresh namespace.
pub async fn embedded_bus(dir: &std::path::Path) -> Bus {
    let db = Db::open_sqlite(&dir.join("bus.db"))
        .await
        .expect("open bus db");
    Bus::Embedded(
        EmbeddedBus::open(db, Topology::new("test"), 16, 5)
            .await
            .expect("open embedded bus"),
    )
}

/// An AMQP bus under a fresh namespace, with a small delivery limit.
pub async fn amqp_bus(namespace: &str) -> Bus {
    amqp_bus_of(namespace, crate::settings::QueueType::Quorum)
        .await
        .expect("connect to RabbitMQ on 127.0.0.1:5672 (run deploy/local/services.sh)")
}

/// As [`amqp_bus`], declaring queues of `queue_type`; the error is the broker's answer (e.g.
/// when the namespace's queues are of the other kind).
pub async fn amqp_bus_of(
    namespace: &str,
    queue_type: crate::settings::QueueType,
) -> Result<Bus, crate::bus::BusError> {
    AmqpBus::connect(
        AmqpOptions {
            urls: vec![amqp_url()],
            tls: AmqpTls::default(),
            prefetch: 16,
            delivery_limit: 5,
            queue_type,
        },
        Topology::new(namespace),
    )
    .await
    .map(Bus::Amqp)
}

/// Polls `check` until it returns `Some`, for at most `within`. Panics with `what` on timeout.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The two implementations every service is tested on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite and the embedded bus: `casebridge up`.
    Embedded,
    /// PostgreSQL and RabbitMQ: the distributed deployment.
    Distributed,
}

impl Backend {
    pub const ALL: [Backend; 2] = [Backend::Embedded, Backend::Distributed];
}

/// A store and a bus for one test, on one [`Backend`], cleaned up by [`TestStack::tear_down`].
#[derive(Debug)]
pub struct TestStack {
    pub db: Db,
    pub bus: Bus,
    postgres_url: Option<String>,
}

impl TestStack {
    /// A fresh SQLite file in `dir` and embedded bus, or a fresh PostgreSQL database and a
    /// RabbitMQ namespace of its own.
    pub async fn open(backend: Backend, dir: &std::path::Path) -> TestStack {
        match backend {
            Backend::Embedded => TestStack {
                db: Db::open_sqlite(&dir.join("service.db"))
                    .await
                    .expect("open SQLite store"),
                bus: embedded_bus(dir).await,
                postgres_url: None,
            },
            Backend::Distributed => {
                let url = fresh_postgres()
                    .await
                    .expect("create a database on 127.0.0.1:5432 (run deploy/local/services.sh)");
                TestStack {
                    db: Db::connect(&url, 8)
                        .await
                        .expect("connect to the test database"),
                    bus: amqp_bus(&unique_name("cbtest")).await,
                    postgres_url: Some(url),
                }
            }
        }
    }

    /// Closes the bus, deletes the namespace's queues (`specs`) and drops the database.
    pub async fn tear_down(self, specs: &[crate::bus::QueueSpec]) {
        if let Bus::Amqp(amqp) = &self.bus {
            let _ = amqp.delete_topology(specs).await;
        }
        self.bus.close().await;
        self.db.pool().close().await;
        if let Some(url) = self.postgres_url {
            let _ = drop_postgres(&url).await;
        }
    }
}

/// A new operator key for a test.
pub fn signer() -> crate::ledger::Signer {
    crate::ledger::Signer::from_pkcs8(
        &crate::ledger::Signer::generate_pkcs8().expect("generate a test key"),
    )
    .expect("a generated key loads")
}

/// What a service needs in a test: `db`, `bus`, `clock`, the given key, and checkpoints
/// every 100 ms.
pub fn host(
    db: Db,
    bus: Bus,
    clock: std::sync::Arc<dyn casebridge_core::time::Clock>,
    signer: crate::ledger::Signer,
) -> crate::host::Host {
    crate::host::Host {
        db,
        bus,
        clock,
        signer,
        ledger: crate::settings::LedgerSettings {
            checkpoint_every: Duration::from_millis(100),
            ..crate::settings::LedgerSettings::default()
        },
    }
}
