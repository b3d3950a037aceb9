//! Storage: one sqlx pool over PostgreSQL (production) or SQLite (embedded default).
//!
//! Services write portable SQL with `$1` placeholders (both drivers accept them) and keep the
//! few dialect differences (identity columns, `FOR UPDATE SKIP LOCKED`) behind [`Dialect`].
//! Each service owns its tables, named with its own prefix, and migrates them itself with
//! [`Db::migrate`]; the messaging tables every service needs have one shape, made by
//! [`messaging_migrations`].
//!
//! SQLite runs with one connection per database file: SQLite has one writer at a time anyway,
//! and a single connection makes every transaction serialisable without `SQLITE_BUSY` retries.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};

/// Which SQL dialect a [`Db`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// Failures of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("unsupported database url {0:?}: use postgres://… or sqlite://…")]
    UnsupportedUrl(String),
    #[error("migration {service} v{version} ({description}) failed: {source}")]
    Migration {
        service: String,
        version: i64,
        description: String,
        source: sqlx::Error,
    },
    /// A migration already applied to this database is no longer the one the code carries: the
    /// schema and the code disagree, so the service refuses to start rather than guess.
    #[error(
        "migration {service} v{version} ({description}) was applied with checksum {applied} but \
         the code now carries {current}: an applied migration must never change; add a new one"
    )]
    MigrationChanged {
        service: String,
        version: i64,
        description: String,
        applied: String,
        current: String,
    },
    #[error("{0} was changed concurrently; retry")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("invalid database name {0:?}: use letters, digits and underscores")]
    InvalidName(String),
}

impl StoreError {
    /// Whether retrying the same transaction may succeed (connection loss, lock conflict,
    /// unique violation from a concurrent duplicate).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(e) => !matches!(
                e,
                sqlx::Error::ColumnDecode { .. }
                    | sqlx::Error::ColumnNotFound(_)
                    | sqlx::Error::TypeNotFound { .. }
                    | sqlx::Error::Decode(_)
            ),
            StoreError::Conflict(_) => true,
            _ => false,
        }
    }
}

/// A connection pool and its dialect. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
}

static DRIVERS: Once = Once::new();

impl Db {
    /// Connects to `postgres://…` or `sqlite://path` (the file is created when missing).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, StoreError> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let dialect = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let options: AnyConnectOptions = url.parse()?;
        let pool = match dialect {
            Dialect::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?
            }
            Dialect::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(1)
                    // The single connection lives as long as the pool.
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL + NORMAL: a commit survives a process crash (the
                            // write-ahead log is in the OS before COMMIT returns); it may be
                            // lost on power failure before the next checkpoint.
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            conn.execute("PRAGMA busy_timeout = 5000").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
        };
        Ok(Db { pool, dialect })
    }

    /// Opens (creating if needed) the SQLite database at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Db, StoreError> {
        Db::connect(&format!("sqlite://{}?mode=rwc", path.display()), 1).await
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Asks the database for nothing: `Ok` when it answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Starts a transaction.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// `FOR UPDATE SKIP LOCKED` where the dialect has it: lets replicas claim disjoint rows.
    /// SQLite needs nothing, as its single connection already serialises writers.
    pub fn skip_locked(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        }
    }

    /// Applies the migrations of `service` that have not run yet, each in its own transaction,
    /// after checking that those already applied are unchanged (their SHA-256 checksum, recorded
    /// when applied; a migration applied before checksums were kept gets its checksum now).
    /// Safe to call from several replicas at once on PostgreSQL (an advisory lock serialises them).
    pub async fn migrate(&self, service: &str, migrations: &[Migration]) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        self.migrations_table(&mut conn).await?;
        if self.dialect == Dialect::Postgres {
            conn.execute("SELECT pg_advisory_lock(727274)").await?;
        }
        let result = match self.check_applied(&mut conn, service, migrations).await {
            Ok(()) => self.apply_pending(&mut conn, service, migrations).await,
            Err(e) => Err(e),
        };
        if self.dialect == Dialect::Postgres {
            conn.execute("SELECT pg_advisory_unlock(727274)").await?;
        }
        result
    }

    /// Where each migration of `service` stands, in version order: those the code carries,
    /// then any the database recorded that the code no longer carries (as `Applied`, with the
    /// recorded description). Changes nothing but creating the empty bookkeeping table.
    pub async fn migration_status(
        &self,
        service: &str,
        migrations: &[Migration],
    ) -> Result<Vec<MigrationStatus>, StoreError> {
        let applied: Vec<AppliedMigration> = self
            .applied_migrations()
            .await?
            .into_iter()
            .filter(|m| m.service == service)
            .collect();
        let mut status: Vec<MigrationStatus> = migrations
            .iter()
            .map(|migration| {
                let current = migration.checksum(self.dialect);
                let state = match applied.iter().find(|a| a.version == migration.version) {
                    None => MigrationState::Pending,
                    Some(a) => match &a.checksum {
                        None => MigrationState::AppliedUnchecked {
                            applied_at: a.applied_at,
                        },
                        Some(recorded) if *recorded == current => MigrationState::Applied {
                            applied_at: a.applied_at,
                        },
                        Some(recorded) => MigrationState::Changed {
                            applied_at: a.applied_at,
                            applied: recorded.clone(),
                            current,
                        },
                    },
                };
                MigrationStatus {
                    version: migration.version,
                    description: migration.description.to_string(),
                    state,
                }
            })
            .collect();
        for a in &applied {
            if !migrations.iter().any(|m| m.version == a.version) {
                status.push(MigrationStatus {
                    version: a.version,
                    description: a.description.clone(),
                    state: MigrationState::Applied {
                        applied_at: a.applied_at,
                    },
                });
            }
        }
        status.sort_by_key(|s| s.version);
        Ok(status)
    }

    /// The table of applied migrations, with the checksum column added where an older version
    /// created it without one.
    async fn migrations_table(
        &self,
        conn: &mut sqlx::pool::PoolConnection<sqlx::Any>,
    ) -> Result<(), StoreError> {
        conn.execute(
            "CREATE TABLE IF NOT EXISTS casebridge_migrations (\
             service TEXT NOT NULL, version BIGINT NOT NULL, description TEXT NOT NULL, \
             applied_at BIGINT NOT NULL, checksum TEXT, PRIMARY KEY (service, version))",
        )
        .await?;
        let has_checksum: i64 = match self.dialect {
            Dialect::Postgres => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.columns \
                     WHERE table_name = 'casebridge_migrations' AND column_name = 'checksum' \
                     AND table_schema = current_schema()",
                )
                .fetch_one(&mut **conn)
                .await?
            }
            Dialect::Sqlite => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM pragma_table_info('casebridge_migrations') \
                     WHERE name = 'checksum'",
                )
                .fetch_one(&mut **conn)
                .await?
            }
        };
        if has_checksum == 0 {
            conn.execute("ALTER TABLE casebridge_migrations ADD COLUMN checksum TEXT")
                .await?;
        }
        Ok(())
    }

    /// Refuses when an applied migration of `service` differs from the one the code carries;
    /// records the checksum of those applied before checksums were kept.
    async fn check_applied(
        &self,
        conn: &mut sqlx::pool::PoolConnection<sqlx::Any>,
        service: &str,
        migrations: &[Migration],
    ) -> Result<(), StoreError> {
        let applied =
            sqlx::query("SELECT version, checksum FROM casebridge_migrations WHERE service = $1")
                .bind(service)
                .fetch_all(&mut **conn)
                .await?;
        for row in applied {
            let version: i64 = row.get(0);
            let recorded: Option<String> = row.get(1);
            let Some(migration) = migrations.iter().find(|m| m.version == version) else {
                continue; // a version this code no longer carries (e.g. folded into a later one)
            };
            let current = migration.checksum(self.dialect);
            match recorded {
                Some(recorded) if recorded != current => {
                    return Err(StoreError::MigrationChanged {
                        service: service.to_owned(),
                        version,
                        description: migration.description.to_string(),
                        applied: recorded,
                        current,
                    });
                }
                Some(_) => {}
                None => {
                    sqlx::query(
                        "UPDATE casebridge_migrations SET checksum = $1 \
                         WHERE service = $2 AND version = $3",
                    )
                    .bind(&current)
                    .bind(service)
                    .bind(version)
                    .execute(&mut **conn)
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Every applied migration, by service and version: what `casebridge migrate status` shows.
    pub async fn applied_migrations(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        self.migrations_table(&mut conn).await?;
        let rows = sqlx::query(
            "SELECT service, version, description, applied_at, checksum \
             FROM casebridge_migrations ORDER BY service, version",
        )
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows
            .iter()
            .map(|row| AppliedMigration {
                service: row.get(0),
                version: row.get(1),
                description: row.get(2),
                applied_at: casebridge_core::time::Timestamp::from_millis(row.get(3)),
                checksum: row.get(4),
            })
            .collect())
    }

    async fn apply_pending(
        &self,
        conn: &mut sqlx::pool::PoolConnection<sqlx::Any>,
        service: &str,
        migrations: &[Migration],
    ) -> Result<(), StoreError> {
        let applied: Vec<i64> =
            sqlx::query("SELECT version FROM casebridge_migrations WHERE service = $1")
                .bind(service)
                .fetch_all(&mut **conn)
                .await?
                .iter()
                .map(|row| row.get::<i64, _>(0))
                .collect();
        for migration in migrations.iter().filter(|m| !applied.contains(&m.version)) {
            let sql = match self.dialect {
                Dialect::Postgres => &migration.postgres,
                Dialect::Sqlite => &migration.sqlite,
            };
            let fail = |source| StoreError::Migration {
                service: service.to_owned(),
                version: migration.version,
                description: migration.description.to_string(),
                source,
            };
            let mut tx = sqlx::Connection::begin(&mut **conn).await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(fail)?;
            sqlx::query(
                "INSERT INTO casebridge_migrations \
                 (service, version, description, applied_at, checksum) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(service)
            .bind(migration.version)
            .bind(migration.description.as_ref())
            .bind(chrono::Utc::now().timestamp_millis())
            .bind(migration.checksum(self.dialect))
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
            tx.commit().await?;
            tracing::info!(service, version = migration.version, "applied migration");
        }
        Ok(())
    }
}

/// Where one migration of the code stands in a database (`casebridge migrate status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationState {
    /// Applied, and the SQL recorded is the SQL the code carries.
    Applied {
        applied_at: casebridge_core::time::Timestamp,
    },
    /// Applied before checksums were kept: the next start records its checksum.
    AppliedUnchecked {
        applied_at: casebridge_core::time::Timestamp,
    },
    /// Applied with other SQL than the code now carries: the service refuses to start
    /// ([`StoreError::MigrationChanged`]).
    Changed {
        applied_at: casebridge_core::time::Timestamp,
        /// The checksum recorded when it was applied, and the code's.
        applied: String,
        current: String,
    },
    /// Not applied yet: the next start of the service applies it.
    Pending,
}

/// One migration's line of `casebridge migrate status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub state: MigrationState,
}

/// A migration as the database recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub service: String,
    pub version: i64,
    pub description: String,
    pub applied_at: casebridge_core::time::Timestamp,
    /// SHA-256 of the SQL applied (hex); `None` until a start of this version records it.
    pub checksum: Option<String>,
}

/// One schema change, written once per dialect.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    pub description: Cow<'static, str>,
    pub postgres: Cow<'static, str>,
    pub sqlite: Cow<'static, str>,
}

impl Migration {
    /// SHA-256 (hex) of the SQL this migration runs on `dialect`: what the database records when
    /// it applies it, and compares at every later start.
    pub fn checksum(&self, dialect: Dialect) -> String {
        use sha2::Digest as _;
        let sql = match dialect {
            Dialect::Postgres => &self.postgres,
            Dialect::Sqlite => &self.sqlite,
        };
        hex::encode(sha2::Sha256::digest(sql.as_bytes()))
    }

    /// A migration whose SQL is the same in both dialects.
    pub fn portable(version: i64, description: &'static str, sql: &'static str) -> Migration {
        Migration {
            version,
            description: Cow::Borrowed(description),
            postgres: Cow::Borrowed(sql),
            sqlite: Cow::Borrowed(sql),
        }
    }

    /// The same migration with different SQL for SQLite (e.g. `BLOB` for `BYTEA`).
    pub fn with_sqlite(mut self, sql: &'static str) -> Migration {
        self.sqlite = Cow::Borrowed(sql);
        self
    }
}

/// Creates the empty PostgreSQL database `name` on `server` (a URL without a database, such
/// as `postgres://postgres@127.0.0.1:5432`) and returns its URL. For tests and benchmarks that
/// need a database of their own; `name` must be a plain identifier.
pub async fn create_database(server: &str, name: &str) -> Result<String, StoreError> {
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::InvalidName(name.to_owned()));
    }
    let admin = Db::connect(&format!("{server}/postgres"), 1).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin.pool())
        .await?;
    admin.pool().close().await;
    Ok(format!("{server}/{name}"))
}

/// Drops a database made by [`create_database`], disconnecting its sessions.
pub async fn drop_database(url: &str) -> Result<(), StoreError> {
    let Some((server, name)) = url.rsplit_once('/') else {
        return Ok(());
    };
    let admin = Db::connect(&format!("{server}/postgres"), 1).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(admin.pool())
        .await?;
    admin.pool().close().await;
    Ok(())
}

/// The messaging tables of a service, prefixed with its name:
/// - `<svc>_idempotency`: one row per accepted (actor, request id), holding the content digest
///   and the original reply, so a retry returns the original result;
/// - `<svc>_outbox`: events written in the same transaction as the state, published by the relay;
/// - `<svc>_processed`: ids of consumed messages, so redelivery is harmless.
///
/// Versions 1..=99 are reserved for these; services number their own tables from 100.
pub fn messaging_migrations(service: &str) -> Vec<Migration> {
    let pg = format!(
        "CREATE TABLE {s}_idempotency (actor TEXT NOT NULL, request_id TEXT NOT NULL, \
           content_digest TEXT NOT NULL, reply BYTEA NOT NULL, accepted_at BIGINT NOT NULL, \
           PRIMARY KEY (actor, request_id));\n\
         CREATE TABLE {s}_outbox (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
           message BYTEA NOT NULL, created_at BIGINT NOT NULL);\n\
         CREATE TABLE {s}_processed (message_id TEXT PRIMARY KEY, processed_at BIGINT NOT NULL);",
        s = service
    );
    let sqlite = format!(
        "CREATE TABLE {s}_idempotency (actor TEXT NOT NULL, request_id TEXT NOT NULL, \
           content_digest TEXT NOT NULL, reply BLOB NOT NULL, accepted_at BIGINT NOT NULL, \
           PRIMARY KEY (actor, request_id));\n\
         CREATE TABLE {s}_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
           message BLOB NOT NULL, created_at BIGINT NOT NULL);\n\
         CREATE TABLE {s}_processed (message_id TEXT PRIMARY KEY, processed_at BIGINT NOT NULL);",
        s = service
    );
    vec![Migration {
        version: 1,
        description: Cow::Borrowed("messaging tables: idempotency, outbox, processed"),
        postgres: Cow::Owned(pg),
        sqlite: Cow::Owned(sqlite),
    }]
}

/// What an idempotency lookup found for (actor, request id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotency {
    /// Never seen: process the command.
    New,
    /// Seen with the same content: return this original reply.
    Replay { reply: Vec<u8>, accepted_at: i64 },
    /// Seen with other content: refuse.
    Conflict,
}

/// The messaging-table operations of one service, inside the caller's transaction.
#[derive(Debug, Clone)]
pub struct Messaging {
    idempotency: String,
    outbox: String,
    processed: String,
}

impl Messaging {
    pub fn new(service: &str) -> Messaging {
        Messaging {
            idempotency: format!("{service}_idempotency"),
            outbox: format!("{service}_outbox"),
            processed: format!("{service}_processed"),
        }
    }

    pub fn outbox_table(&self) -> &str {
        &self.outbox
    }

    /// The outbox rows not yet published, and when the oldest was written (milliseconds since
    /// the epoch), for the backlog metrics.
    pub async fn outbox_backlog(&self, db: &Db) -> Result<(i64, Option<i64>), StoreError> {
        let row = sqlx::query(&format!(
            "SELECT COUNT(*), MIN(created_at) FROM {}",
            self.outbox
        ))
        .fetch_one(db.pool())
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Looks up an earlier acceptance of (actor, request id).
    pub async fn idempotency(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: &str,
        request_id: &str,
        content_digest: &str,
    ) -> Result<Idempotency, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT content_digest, reply, accepted_at FROM {} WHERE actor = $1 AND request_id = $2",
            self.idempotency
        ))
        .bind(actor)
        .bind(request_id)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(match row {
            None => Idempotency::New,
            Some(row) if row.get::<String, _>(0) == content_digest => Idempotency::Replay {
                reply: row.get(1),
                accepted_at: row.get(2),
            },
            Some(_) => Idempotency::Conflict,
        })
    }

    /// Records an accepted command with its reply.
    pub async fn record(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: &str,
        request_id: &str,
        content_digest: &str,
        reply: &[u8],
        accepted_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO {} (actor, request_id, content_digest, reply, accepted_at) \
             VALUES ($1, $2, $3, $4, $5)",
            self.idempotency
        ))
        .bind(actor)
        .bind(request_id)
        .bind(content_digest)
        .bind(reply.to_vec())
        .bind(accepted_at)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Adds an event to the outbox; it is published after the transaction commits.
    pub async fn enqueue(
        &self,
        conn: &mut sqlx::AnyConnection,
        message: &crate::Message,
        now: i64,
    ) -> Result<(), StoreError> {
        let encoded =
            serde_json::to_vec(message).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(&format!(
            "INSERT INTO {} (message, created_at) VALUES ($1, $2)",
            self.outbox
        ))
        .bind(encoded)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Marks a consumed message as processed; `false` means it was processed before.
    pub async fn first_delivery(
        &self,
        conn: &mut sqlx::AnyConnection,
        message_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "INSERT INTO {} (message_id, processed_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            self.processed
        ))
        .bind(message_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
