//! Helpers for tests in every crate: a fresh PostgreSQL database, a unique bus namespace,
//! and [`eventually`], the only sanctioned way to wait for something asynchronous.
//!
//! The servers are the loopback ones the project's scripts start (`deploy/local/services.sh`):
//! PostgreSQL at `127.0.0.1:5432` (trust auth) and RabbitMQ at `127.0.0.1:5672` (guest/guest).
//! `CASEBRIDGE_TEST_POSTGRES` and `CASEBRIDGE_TEST_AMQP` may point elsewhere on loopback.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::bus::amqp::{AmqpBus, AmqpOptions};
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
    let name = unique_name("cbtest");
    let admin = Db::connect(&format!("{}/postgres", postgres_server()), 1).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin.pool())
        .await?;
    admin.pool().close().await;
    Ok(format!("{}/{name}", postgres_server()))
}

/// Drops a database made by [`fresh_postgres`], disconnecting its sessions.
pub async fn drop_postgres(url: &str) -> Result<(), crate::StoreError> {
    let Some(name) = url.rsplit('/').next() else {
        return Ok(());
    };
    let admin = Db::connect(&format!("{}/postgres", postgres_server()), 1).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(admin.pool())
        .await?;
    admin.pool().close().await;
    Ok(())
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
    Bus::Amqp(
        AmqpBus::connect(
            AmqpOptions {
                url: amqp_url(),
                prefetch: 16,
                delivery_limit: 5,
            },
            Topology::new(namespace),
        )
        .await
        .expect("connect to RabbitMQ on 127.0.0.1:5672 (run deploy/local/services.sh)"),
    )
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
