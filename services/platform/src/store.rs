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

/// A value bound to a statement built at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Int(i64),
    Bytes(Vec<u8>),
}

/// One write (`INSERT`, `UPDATE` or `DELETE`) with its own placeholders `$1`…`$n`, one per
/// value of `args` in order. Its SQL holds no `$` but those placeholders: [`Writes`] renumbers
/// them when it joins writes into one statement.
#[derive(Debug, Clone)]
pub struct Write {
    sql: String,
    args: Vec<Value>,
    /// When set, the write must change exactly one row, or the writes fail with
    /// [`StoreError::Conflict`] naming this (a version check that lost).
    changes_one: Option<String>,
}

impl Write {
    pub fn new(sql: String, args: Vec<Value>) -> Write {
        Write {
            sql,
            args,
            changes_one: None,
        }
    }

    /// The same write, which must change exactly one row; `what` names it in the conflict.
    pub fn changing_one(mut self, what: String) -> Write {
        self.changes_one = Some(what);
        self
    }

    /// Runs this write alone.
    pub async fn execute(self, conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        let mut query = sqlx::query(&self.sql);
        for arg in self.args {
            query = bind(query, arg);
        }
        let done = query.execute(&mut *conn).await?;
        match self.changes_one {
            Some(what) if done.rows_affected() != 1 => Err(StoreError::Conflict(what)),
            _ => Ok(()),
        }
    }
}

fn bind<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    value: Value,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    match value {
        Value::Text(v) => query.bind(v),
        Value::Int(v) => query.bind(v),
        Value::Bytes(v) => query.bind(v),
    }
}

/// The writes of one step, in order, sent in as few round trips as the dialect allows.
///
/// Why: on PostgreSQL every statement is a round trip over the network (or loopback) and
/// most of the CPU a step costs the service and the server is in those round trips, not in
/// the statements themselves. So on PostgreSQL the writes go as **one** statement, each a
/// data-modifying `WITH` clause; they run to completion whether or not the final `SELECT`
/// reads them, all in the caller's transaction. They see the same snapshot, so two writes of
/// one `Writes` must never touch the same row. SQLite has no data-modifying `WITH` and no
/// network: there each write is a statement of its own.
#[derive(Debug, Default)]
pub struct Writes(Vec<Write>);

impl Writes {
    pub fn push(&mut self, write: Write) {
        self.0.push(write);
    }

    pub fn extend(&mut self, writes: impl IntoIterator<Item = Write>) {
        self.0.extend(writes);
    }

    /// Runs every write inside the caller's transaction. An `Err` leaves some of them done:
    /// the caller must roll the transaction back (drop it).
    pub async fn execute(
        self,
        conn: &mut sqlx::AnyConnection,
        dialect: Dialect,
    ) -> Result<(), StoreError> {
        if dialect == Dialect::Sqlite || self.0.len() == 1 {
            return self.execute_each(conn).await;
        }
        let (sql, args, checked) = self.joined();
        let mut query = sqlx::query(&sql);
        for arg in args {
            query = bind(query, arg);
        }
        let row = query.fetch_one(&mut *conn).await?;
        for (i, what) in checked.into_iter().enumerate() {
            if row.try_get::<i64, _>(i)? != 1 {
                return Err(StoreError::Conflict(what));
            }
        }
        Ok(())
    }

    /// Runs the writes one statement each, in order.
    pub async fn execute_each(self, conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        for write in self.0 {
            write.execute(conn).await?;
        }
        Ok(())
    }

    /// One PostgreSQL statement doing every write: `WITH w0 AS (…), w1 AS (…) SELECT …`, the
    /// placeholders renumbered in order; it selects one count per write that must change one
    /// row. Returns the statement, its values, and what each count checks.
    fn joined(self) -> (String, Vec<Value>, Vec<String>) {
        let mut clauses = Vec::with_capacity(self.0.len());
        let mut counts = Vec::new();
        let mut checked = Vec::new();
        let mut args = Vec::new();
        for (i, write) in self.0.into_iter().enumerate() {
            let mut sql = renumber(&write.sql, args.len());
            if let Some(what) = write.changes_one {
                sql.push_str(" RETURNING 1");
                counts.push(format!("(SELECT COUNT(*) FROM w{i})"));
                checked.push(what);
            }
            clauses.push(format!("w{i} AS ({sql})"));
            args.extend(write.args);
        }
        let select = if counts.is_empty() {
            "1".to_owned()
        } else {
            counts.join(", ")
        };
        (
            format!("WITH {} SELECT {select}", clauses.join(", ")),
            args,
            checked,
        )
    }
}

/// `sql` with every placeholder `$n` made `$(n + offset)`.
fn renumber(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            digits.push(d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
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

/// Drops a database made by [`create_database`], disconnecting its sessions. Connection
/// parameters after the name (`?sslmode=…`) are not part of it.
pub async fn drop_database(url: &str) -> Result<(), StoreError> {
    let url = url.split_once('?').map_or(url, |(url, _)| url);
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
/// Versions 1..=99 are reserved for the platform's tables (these are 1 and 10, the case
/// tables 2, the ledger 3); services number their own tables from 100.
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
    // Pruning finds old rows by age; without these indexes each pass would read the whole table.
    let by_age = format!(
        "CREATE INDEX {s}_idempotency_accepted_at ON {s}_idempotency (accepted_at);\n\
         CREATE INDEX {s}_processed_processed_at ON {s}_processed (processed_at);",
        s = service
    );
    vec![
        Migration {
            version: 1,
            description: Cow::Borrowed("messaging tables: idempotency, outbox, processed"),
            postgres: Cow::Owned(pg),
            sqlite: Cow::Owned(sqlite),
        },
        Migration {
            // Not 2 or 3: the case tables and the ledger, also the platform's, have those.
            version: 10,
            description: Cow::Borrowed("replay records indexed by age, for pruning"),
            postgres: Cow::Owned(by_age.clone()),
            sqlite: Cow::Owned(by_age),
        },
    ]
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

impl Idempotency {
    /// What a stored record (its digest, reply and time) says about a request whose content
    /// has `content_digest`.
    pub fn of_record(
        content_digest: &str,
        stored_digest: String,
        reply: Vec<u8>,
        accepted_at: i64,
    ) -> Idempotency {
        if stored_digest == content_digest {
            Idempotency::Replay { reply, accepted_at }
        } else {
            Idempotency::Conflict
        }
    }
}

/// What one [`Messaging::prune_batch`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Idempotency records (stored replies).
    pub replies: u64,
    /// Processed-message records.
    pub messages: u64,
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
            Some(row) => Idempotency::of_record(content_digest, row.get(0), row.get(1), row.get(2)),
        })
    }

    /// The idempotency table's name, for a look-up joined to another read (one round trip).
    pub fn idempotency_table(&self) -> &str {
        &self.idempotency
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
        self.record_write(
            actor,
            request_id,
            content_digest,
            reply.to_vec(),
            accepted_at,
        )
        .execute(conn)
        .await
    }

    /// The write that records an accepted command with its reply, for the step's [`Writes`].
    pub fn record_write(
        &self,
        actor: &str,
        request_id: &str,
        content_digest: &str,
        reply: Vec<u8>,
        accepted_at: i64,
    ) -> Write {
        Write::new(
            format!(
                "INSERT INTO {} (actor, request_id, content_digest, reply, accepted_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                self.idempotency
            ),
            vec![
                Value::Text(actor.to_owned()),
                Value::Text(request_id.to_owned()),
                Value::Text(content_digest.to_owned()),
                Value::Bytes(reply),
                Value::Int(accepted_at),
            ],
        )
    }

    /// The write that adds `messages` to the outbox, in order, in one statement (none when
    /// there are no messages); they are published after the transaction commits.
    pub fn enqueue_write(
        &self,
        messages: &[crate::Message],
        now: i64,
    ) -> Result<Option<Write>, StoreError> {
        if messages.is_empty() {
            return Ok(None);
        }
        let mut values = Vec::with_capacity(messages.len());
        let mut args = Vec::with_capacity(2 * messages.len());
        for (i, message) in messages.iter().enumerate() {
            values.push(format!("(${}, ${})", 2 * i + 1, 2 * i + 2));
            let encoded =
                serde_json::to_vec(message).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            args.push(Value::Bytes(encoded));
            args.push(Value::Int(now));
        }
        Ok(Some(Write::new(
            format!(
                "INSERT INTO {} (message, created_at) VALUES {}",
                self.outbox,
                values.join(", ")
            ),
            args,
        )))
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

    /// Deletes up to `batch` idempotency records accepted before `before` (milliseconds, the
    /// clock's) and up to `batch` processed-message records processed before it, in one short
    /// transaction; returns how many of each went. Call it again while either is `batch`.
    pub async fn prune_batch(
        &self,
        db: &Db,
        before: i64,
        batch: i64,
    ) -> Result<Pruned, StoreError> {
        let mut tx = db.begin().await?;
        // `IN (SELECT … LIMIT)` bounds each statement on both dialects (PostgreSQL has no
        // `DELETE … LIMIT`), so a large backlog never holds many row locks at once; replicas
        // pruning together skip each other's rows rather than wait for them.
        let replies = sqlx::query(&format!(
            "DELETE FROM {t} WHERE (actor, request_id) IN \
             (SELECT actor, request_id FROM {t} WHERE accepted_at < $1 ORDER BY accepted_at \
             LIMIT $2{skip})",
            t = self.idempotency,
            skip = db.skip_locked()
        ))
        .bind(before)
        .bind(batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let messages = sqlx::query(&format!(
            "DELETE FROM {t} WHERE message_id IN \
             (SELECT message_id FROM {t} WHERE processed_at < $1 ORDER BY processed_at \
             LIMIT $2{skip})",
            t = self.processed,
            skip = db.skip_locked()
        ))
        .bind(before)
        .bind(batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(Pruned { replies, messages })
    }

    /// Marks consumed messages as processed, in one statement per 500 (one round trip where
    /// a batch consumer would otherwise pay one per message). Answers, for each of
    /// `message_ids` in order, whether this is its first delivery: `false` when it was
    /// processed before, or is a repeat of an earlier id of the list.
    pub async fn first_deliveries(
        &self,
        conn: &mut sqlx::AnyConnection,
        message_ids: &[String],
        now: i64,
    ) -> Result<Vec<bool>, StoreError> {
        let mut unique: Vec<&str> = message_ids.iter().map(String::as_str).collect();
        unique.sort_unstable();
        unique.dedup();
        let mut fresh = std::collections::HashSet::with_capacity(unique.len());
        for chunk in unique.chunks(500) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, $1)", i + 2))
                .collect();
            let sql = format!(
                "INSERT INTO {} (message_id, processed_at) VALUES {} ON CONFLICT DO NOTHING \
                 RETURNING message_id",
                self.processed,
                values.join(", ")
            );
            let mut insert = sqlx::query_scalar::<_, String>(&sql).bind(now);
            for id in chunk {
                insert = insert.bind(*id);
            }
            fresh.extend(insert.fetch_all(&mut *conn).await?);
        }
        // A repeat within the list is not a first delivery: only the first occurrence takes it.
        Ok(message_ids.iter().map(|id| fresh.remove(id)).collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_writes_number_their_placeholders_in_order_and_count_the_checked_ones() {
        let mut writes = Writes::default();
        writes.push(Write::new(
            "INSERT INTO t (a, b, c) VALUES ($1, $2, $2)".into(),
            vec![Value::Int(1), Value::Int(2)],
        ));
        writes.push(
            Write::new(
                "UPDATE u SET v = $1 WHERE id = $2 AND v = $10".into(),
                vec![Value::Int(3), Value::Text("x".into())],
            )
            .changing_one("u x".into()),
        );
        let (sql, args, checked) = writes.joined();
        assert_eq!(
            sql,
            "WITH w0 AS (INSERT INTO t (a, b, c) VALUES ($1, $2, $2)), \
             w1 AS (UPDATE u SET v = $3 WHERE id = $4 AND v = $12 RETURNING 1) \
             SELECT (SELECT COUNT(*) FROM w1)"
        );
        assert_eq!(args.len(), 4);
        assert_eq!(checked, vec!["u x".to_owned()]);
    }
}
