//! `casebridge-bench deadlines`: the deadlines service at scale on PostgreSQL and RabbitMQ.
//!
//! 1. **Load**: a fresh database gets `--obligations` open obligations (default 10 million)
//!    through the service's own migrations and schema, generated in the database by
//!    `INSERT … SELECT … FROM generate_series` in chunks (the referral, transfer, dispute and
//!    opinion rules, among the example directory's agencies, due over the next four months;
//!    `--overdue-percent` of them already missed). Reported: rows per second, table and index
//!    sizes.
//! 2. **Start**: the deadlines service runs as its own process (`casebridge deadlines`, the
//!    binary built next to this one) on that database and a RabbitMQ namespace of its own.
//!    Reported: time to ready, and the first monthly reminder's aggregate over every obligation.
//! 3. **Firing lag**: for each `--burst` size (default 1,000 then 10,000), that many obligations
//!    are made due at one instant a few seconds ahead. Firing lag = due → the miss and escalation
//!    committed (the obligation's timer row gone), sampled from the timer table every 10 ms; its
//!    percentiles are read off the curve of rows still pending. Delivery lag = due → the miss at a
//!    consumer on RabbitMQ (after the outbox relay published it).
//! 4. **Overdue board**: supervisors' overdue pages asked over the bus, as the gateway asks:
//!    the first page, a filtered page, and a next page.
//! 5. **Memory**: the service process's peak resident set (VmHWM) and current RSS.
//!
//! The database and the namespace are removed afterwards unless `--keep`.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use casebridge_core::ids::AgencyCode;
use casebridge_core::notice::Notice;
use casebridge_core::time::Timestamp;
use casebridge_deadlines::api::{ObligationQuery, Reply, Request, View};
use casebridge_platform::bus::amqp::{AmqpBus, AmqpOptions, AmqpTls};
use casebridge_platform::bus::{Bus, Message, QueueSpec, Topology};
use casebridge_platform::settings::QueueType;
use casebridge_platform::store::{self, Db};
use sqlx::Row as _;

/// The targets of issue 4.
const TARGET_LAG_P99: Duration = Duration::from_secs(1);
const TARGET_MEMORY_MB: f64 = 512.0;
const TARGET_PAGE: Duration = Duration::from_millis(100);

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// Benchmark options.
#[derive(Debug, Clone, clap::Args)]
pub struct DeadlineBenchArgs {
    /// Open obligations to load.
    #[arg(long, default_value_t = 10_000_000)]
    pub obligations: u64,
    /// How many of them fall due at the same instant, one round per value (repeat the flag).
    #[arg(long, default_values_t = [1_000, 10_000])]
    pub burst: Vec<u64>,
    /// Percent of the loaded obligations already overdue (missed, on the boards).
    #[arg(long, default_value_t = 10)]
    pub overdue_percent: u64,
    /// Rows per INSERT … SELECT statement while loading.
    #[arg(long, default_value_t = 1_000_000)]
    pub chunk: u64,
    /// Times each board query is asked (after three warm-ups).
    #[arg(long, default_value_t = 30)]
    pub repeat: usize,
    /// Log filter of the service process (its log goes to this command's standard error).
    #[arg(long, default_value = "warn")]
    pub service_log: String,
    /// Keep the database and the namespace afterwards (their names are printed).
    #[arg(long)]
    pub keep: bool,
    /// RabbitMQ.
    #[arg(
        long,
        env = "CASEBRIDGE_TEST_AMQP",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,
    /// PostgreSQL server; a database is created (and dropped) on it.
    #[arg(
        long,
        env = "CASEBRIDGE_TEST_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pub postgres: String,
}

/// One kind of generated obligation: a rule between two agencies of the example directory.
struct Template {
    family: &'static str,
    rule: &'static str,
    owed_by: &'static str,
    owed_to: &'static str,
    supervisor: &'static str,
    amount: i64,
    unit: &'static str,
}

const MARKET: &str = "11350100MB0100002P";
const ECOLOGY: &str = "11350100MB0100003T";
const EMERGENCY: &str = "11350100MB0100004X";
const URBAN: &str = "11350100MB01000051";
const CITY_POLICE: &str = "11350100MB01000064";
const DISTRICT_POLICE: &str = "11350102MB01000074";
const PROCURATORATE: &str = "11350100MB0100008A";
const JUSTICE: &str = "11350100MB0100009D";
const INSTITUTE: &str = "12350100MB0100010F";

const TEMPLATES: &[Template] = &[
    Template {
        family: "referral",
        rule: "S1-8",
        owed_by: CITY_POLICE,
        owed_to: MARKET,
        supervisor: PROCURATORATE,
        amount: 3,
        unit: "cd",
    },
    Template {
        family: "referral",
        rule: "RCPT",
        owed_by: DISTRICT_POLICE,
        owed_to: ECOLOGY,
        supervisor: PROCURATORATE,
        amount: 1,
        unit: "wd",
    },
    Template {
        family: "referral",
        rule: "S1-12",
        owed_by: MARKET,
        owed_to: CITY_POLICE,
        supervisor: PROCURATORATE,
        amount: 3,
        unit: "cd",
    },
    Template {
        family: "transfer",
        rule: "SAMR-18",
        owed_by: ECOLOGY,
        owed_to: MARKET,
        supervisor: JUSTICE,
        amount: 15,
        unit: "wd",
    },
    Template {
        family: "transfer",
        rule: "APL-60",
        owed_by: URBAN,
        owed_to: EMERGENCY,
        supervisor: JUSTICE,
        amount: 90,
        unit: "cd",
    },
    Template {
        family: "opinion",
        rule: "SJ-13",
        owed_by: INSTITUTE,
        owed_to: MARKET,
        supervisor: JUSTICE,
        amount: 7,
        unit: "wd",
    },
    Template {
        family: "dispute",
        rule: "SAMR-13",
        owed_by: EMERGENCY,
        owed_to: URBAN,
        supervisor: JUSTICE,
        amount: 7,
        unit: "wd",
    },
    Template {
        family: "referral",
        rule: "R560",
        owed_by: CITY_POLICE,
        owed_to: MARKET,
        supervisor: PROCURATORATE,
        amount: 7,
        unit: "cd",
    },
];

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// p50, p99 and max of `samples`, in milliseconds.
fn percentiles(samples: &mut [f64]) -> (f64, f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i]
    };
    (at(0.50), at(0.99), samples[samples.len() - 1])
}

fn verdict(ok: bool) -> &'static str {
    if ok { "target met" } else { "TARGET MISSED" }
}

pub async fn run(args: DeadlineBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.obligations > 0, "--obligations must be at least 1");
    anyhow::ensure!(
        args.burst.iter().sum::<u64>() <= args.obligations,
        "the bursts cannot exceed --obligations"
    );
    anyhow::ensure!(args.overdue_percent <= 100, "--overdue-percent is 0 to 100");
    let name = format!(
        "cbbench_deadlines_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    println!(
        "casebridge-bench deadlines: {} open obligations ({}% overdue), bursts of {:?} due at \
         once; PostgreSQL + RabbitMQ; {} cores",
        args.obligations,
        args.overdue_percent,
        args.burst,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let url = store::create_database(&args.postgres, &name)
        .await
        .with_context(|| format!("cannot create a database on {}", args.postgres))?;
    println!("database {name}, namespace {name}");
    if let Ok(db) = Db::connect(&url, 1).await {
        let setting = |name: &'static str| {
            let db = db.clone();
            async move {
                sqlx::query_scalar::<_, String>(&format!("SHOW {name}"))
                    .fetch_one(db.pool())
                    .await
                    .unwrap_or_default()
            }
        };
        println!(
            "PostgreSQL: {}; shared_buffers {}, work_mem {}, synchronous_commit {}",
            setting("server_version").await,
            setting("shared_buffers").await,
            setting("work_mem").await,
            setting("synchronous_commit").await
        );
        db.pool().close().await;
    }
    let mut service = None;
    let result = measure(&args, &name, &url, &mut service).await;
    if let Some(mut child) = service {
        let _ = child.kill();
        let _ = child.wait();
    }
    if args.keep {
        println!("kept: database {url} and namespace {name}");
    } else {
        clean_up(&args, &name, &url).await;
    }
    result
}

async fn measure(
    args: &DeadlineBenchArgs,
    name: &str,
    url: &str,
    service: &mut Option<Child>,
) -> anyhow::Result<()> {
    let db = Db::connect(url, 4).await?;
    db.migrate(
        casebridge_deadlines::SERVICE,
        &casebridge_deadlines::store::migrations(),
    )
    .await?;

    // The service's data directory, prepared before the load so the law it will count under is
    // known and recorded first.
    let dir = tempfile::tempdir()?;
    crate::prepare_data_dir(dir.path())?;
    record_counted_law(&db, dir.path()).await?;

    // 1. Load.
    let start = now_ms();
    let loaded = Instant::now();
    load(&db, args, start).await?;
    let load_time = loaded.elapsed();
    let vacuumed = Instant::now();
    for table in ["deadlines_obligations", "deadlines_timers"] {
        sqlx::raw_sql(&format!("VACUUM ANALYZE {table}"))
            .execute(db.pool())
            .await?;
    }
    let vacuum_time = vacuumed.elapsed();
    let sizes = sqlx::query(
        "SELECT pg_size_pretty(pg_table_size('deadlines_obligations')), \
                pg_size_pretty(pg_indexes_size('deadlines_obligations')), \
                pg_table_size('deadlines_obligations') / GREATEST(COUNT(*), 1), \
                pg_size_pretty(pg_total_relation_size('deadlines_timers')) \
         FROM deadlines_obligations",
    )
    .fetch_one(db.pool())
    .await?;
    let (table, indexes, per_row, timers): (String, String, i64, String) =
        (sizes.get(0), sizes.get(1), sizes.get(2), sizes.get(3));
    println!(
        "\nload: {} obligations in {:.1} s ({:.0} rows/s, every index in place); VACUUM ANALYZE \
         {:.1} s; obligations table {table} ({per_row} bytes/row) and indexes {indexes}; timer \
         table with its indexes {timers}",
        args.obligations,
        load_time.as_secs_f64(),
        args.obligations as f64 / load_time.as_secs_f64(),
        vacuum_time.as_secs_f64(),
    );

    // 2. Start the service, with a consumer of its misses already bound.
    let bus = Bus::Amqp(
        AmqpBus::connect(
            AmqpOptions {
                urls: vec![args.amqp_url.clone()],
                tls: AmqpTls::default(),
                prefetch: 512,
                delivery_limit: 10,
                queue_type: QueueType::Quorum,
            },
            Topology::new(name),
        )
        .await
        .context("cannot reach RabbitMQ")?,
    );
    // Stands in for the inbox: every deadline notice must be routable, or the outbox relay keeps
    // it (and everything after it) until some queue takes it.
    let notices: Vec<String> = {
        use casebridge_deadlines::handler::{
            ESCALATED, EXTENDED, MISSED, RECOUNTED, REMINDER, UNSUPERVISED, WARNING,
        };
        [
            MISSED,
            ESCALATED,
            WARNING,
            EXTENDED,
            REMINDER,
            UNSUPERVISED,
            RECOUNTED,
        ]
        .iter()
        .map(|event| format!("*.{event}"))
        .collect()
    };
    let notices: Vec<&str> = notices.iter().map(String::as_str).collect();
    let mut misses = bus.consume(QueueSpec::notifications(&notices)).await?;
    let started = Instant::now();
    let (child, pid) = start_service(args, name, url, dir.path()).await?;
    *service = Some(child);
    let ready = started.elapsed();
    let parked_rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM deadlines_timers WHERE next_fire_at = $1")
            .bind(parked(start) - DAY_MS)
            .fetch_one(db.pool())
            .await?;
    anyhow::ensure!(
        u64::try_from(parked_rows).ok() == Some(args.burst.iter().sum::<u64>()),
        "the service moved the generated obligations when it started ({parked_rows} of the {} \
         parked for the bursts left): its start-up recount found the law they were counted \
         under changed, so the bursts would measure nothing",
        args.burst.iter().sum::<u64>()
    );
    let reminded = eventually_reminded(&db).await?;
    println!(
        "service: ready {:.2} s after start with {} obligations stored (nothing is loaded into \
         memory); first monthly reminder (an aggregate over all open obligations) done {:.1} s \
         after ready",
        ready.as_secs_f64(),
        args.obligations,
        reminded.saturating_sub(ready).as_secs_f64()
    );

    // 3. The bursts: parked rows, due at one instant a few seconds ahead.
    println!();
    for &size in &args.burst {
        burst(&db, &mut misses, parked(start) - DAY_MS, size).await?;
    }

    // 4. The overdue board, over the bus as the gateway asks it.
    let procuratorate = AgencyCode::parse(PROCURATORATE)?;
    let justice = AgencyCode::parse(JUSTICE)?;
    let district_police = AgencyCode::parse(DISTRICT_POLICE)?;
    let board = |viewer: &AgencyCode, view: View| Request::Obligations {
        viewer: viewer.clone(),
        query: ObligationQuery {
            view,
            as_of: Timestamp::from_millis(now_ms()),
            due_within_ms: 7 * DAY_MS,
            agency: None,
            family: None,
            rule: None,
            region: None,
            case_id: None,
            limit: 50,
            after: None,
        },
    };
    println!("\noverdue board ({} asks each, over the bus):", args.repeat);
    let mut worst_page = 0.0_f64;
    let first = board(&procuratorate, View::Overdue);
    let (page, next) = ask_page(&bus, &first).await?;
    let mut queries = vec![
        ("procuratorate, first page of 50", first.clone()),
        (
            "coordination office, first page of 50",
            board(&justice, View::Overdue),
        ),
    ];
    let mut filtered = first.clone();
    if let Request::Obligations { query, .. } = &mut filtered {
        query.rule = Some("S1-12".into());
    }
    queries.push(("procuratorate, filtered by rule S1-12", filtered));
    let mut by_agency = first.clone();
    if let Request::Obligations { query, .. } = &mut by_agency {
        query.agency = Some(district_police);
    }
    queries.push(("procuratorate, filtered by owing agency", by_agency));
    if let Some(after) = next {
        let mut second = first.clone();
        if let Request::Obligations { query, .. } = &mut second {
            query.after = Some(after);
        }
        queries.push(("procuratorate, second page", second));
    }
    queries.push((
        "procuratorate, due within 7 days",
        board(&procuratorate, View::DueSoon),
    ));
    for (label, request) in &queries {
        let mut samples = Vec::with_capacity(args.repeat);
        let mut rows = 0;
        for i in 0..args.repeat + 3 {
            let asked = Instant::now();
            let (page, _) = ask_page(&bus, request).await?;
            if i >= 3 {
                samples.push(ms(asked.elapsed()));
            }
            rows = page;
        }
        let (p50, p99, max) = percentiles(&mut samples);
        worst_page = worst_page.max(p99);
        println!("  {label}: {rows} rows, p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms");
    }
    println!(
        "  worst p99 {worst_page:.1} ms [{}] (first page held {page} rows)",
        verdict(worst_page < ms(TARGET_PAGE))
    );

    // 5. Memory.
    let (hwm, rss) = memory(pid)?;
    println!(
        "\nmemory of the deadlines service process: peak {hwm:.1} MB (VmHWM), now {rss:.1} MB \
         (VmRSS) [{}]",
        verdict(hwm < TARGET_MEMORY_MB)
    );
    println!(
        "\ntargets: firing lag p99 < {} ms, deadline service memory < {TARGET_MEMORY_MB:.0} MB, \
         overdue page < {} ms",
        TARGET_LAG_P99.as_millis(),
        TARGET_PAGE.as_millis()
    );
    bus.close().await;
    db.pool().close().await;
    Ok(())
}

/// Makes `size` parked obligations due at one instant 5 s ahead and measures how fast they fire.
async fn burst(
    db: &Db,
    misses: &mut casebridge_platform::bus::Consumer,
    parked_moment: i64,
    size: u64,
) -> anyhow::Result<()> {
    let due = now_ms() + 5_000;
    let size = i64::try_from(size)?;
    sqlx::query(
        "UPDATE deadlines_obligations SET due_at = $1, warn_at = NULL \
         WHERE id IN (SELECT id FROM deadlines_timers WHERE next_fire_at = $2 ORDER BY id \
         LIMIT $3)",
    )
    .bind(due)
    .bind(parked_moment)
    .bind(size)
    .execute(db.pool())
    .await?;
    let updated = sqlx::query(
        "UPDATE deadlines_timers SET next_fire_at = $1, stage = 'warned' WHERE id IN (SELECT id \
         FROM deadlines_timers WHERE next_fire_at = $2 ORDER BY id LIMIT $3)",
    )
    .bind(due)
    .bind(parked_moment)
    .bind(size)
    .execute(db.pool())
    .await?
    .rows_affected();
    anyhow::ensure!(
        now_ms() < due,
        "making the burst due took longer than the 5 s lead; the lags would be wrong"
    );
    // The commit curve: pending timer rows of the burst, sampled every 10 ms.
    let total = i64::try_from(updated)?;
    let mut curve: Vec<(i64, i64)> = Vec::new();
    let limit = Instant::now() + Duration::from_secs(60 + updated / 100);
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(due - now_ms() - 20).unwrap_or(0),
    ))
    .await;
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM deadlines_timers WHERE next_fire_at = $1")
                .bind(due)
                .fetch_one(db.pool())
                .await?;
        curve.push((now_ms() - due, total - pending));
        if pending == 0 || Instant::now() > limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The first sample at which a share of the burst had fired.
    let reached = |share: f64| {
        let needed = ((total as f64) * share).ceil() as i64;
        curve
            .iter()
            .find(|(_, fired)| *fired >= needed.max(1))
            .map_or(f64::NAN, |(t, _)| (*t).max(0) as f64)
    };
    let (f50, f99, fmax) = (reached(0.5), reached(0.99), reached(1.0));
    // Deliveries: the misses at a RabbitMQ consumer.
    let mut delivery_lags = Vec::with_capacity(updated as usize);
    let wait_until = Instant::now() + Duration::from_secs(60 + updated / 100);
    while (delivery_lags.len() as u64) < updated {
        let wait = wait_until.saturating_duration_since(Instant::now());
        let Ok(Some(delivery)) = tokio::time::timeout(wait, misses.next()).await else {
            break;
        };
        let arrived = now_ms();
        let notice: Notice = delivery.message.decode()?;
        let _ = delivery.ack().await;
        if notice.event == "deadline_missed"
            && notice
                .detail
                .get("due_at")
                .and_then(serde_json::Value::as_i64)
                == Some(due)
        {
            delivery_lags.push((arrived - due) as f64);
        }
    }
    let delivered = delivery_lags.len();
    let (d50, d99, dmax) = percentiles(&mut delivery_lags);
    println!(
        "burst of {updated} due at one instant: firing lag (due → miss and escalation \
         committed) p50 {f50:.0} ms, p99 {f99:.0} ms, all {fmax:.0} ms [{}] = {:.0} \
         obligations/s; delivery lag (due → the miss at a RabbitMQ consumer, {delivered} \
         received) p50 {d50:.0} ms, p99 {d99:.0} ms, max {dmax:.0} ms",
        verdict(f99 < ms(TARGET_LAG_P99)),
        updated as f64 / (fmax.max(1.0) / 1000.0)
    );
    Ok(())
}

/// Records in the fresh database the rule definitions and calendar years its due times are
/// counted under, as the service records them after a start, from the law it will load from
/// `data_dir`. Without this its start-up recount finds nothing recorded, restates every
/// generated obligation one by one (they are not counted from their rules' periods) and moves
/// the ones parked for the bursts.
async fn record_counted_law(db: &Db, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let mut settings = casebridge_platform::settings::Settings::load(None)?;
    settings.data_dir = data_dir.to_path_buf();
    let today = casebridge_core::calendar::cst_date(Timestamp::from_millis(now_ms()));
    let (rules, calendar) = casebridge_cli::system::load_deadline_law(&settings, today)?;
    let years: Vec<(i32, String)> = calendar
        .years()
        .into_iter()
        .filter_map(|year| Some((year, calendar.fingerprint(year)?)))
        .collect();
    let mut tx = db.begin().await?;
    casebridge_deadlines::store::set_counted_rules(
        &mut tx,
        &casebridge_deadlines::rule_change::counted(&rules),
    )
    .await?;
    casebridge_deadlines::store::set_counted_calendar(&mut tx, &years).await?;
    tx.commit().await?;
    Ok(())
}

/// Where the bursts' rows wait until the run makes them due: 200 days after the load.
fn parked(now: i64) -> i64 {
    now + 200 * DAY_MS
}

/// Generates the obligations in the database, chunk by chunk.
async fn load(db: &Db, args: &DeadlineBenchArgs, now: i64) -> anyhow::Result<()> {
    let templates: Vec<String> = TEMPLATES
        .iter()
        .enumerate()
        .map(|(k, t)| {
            format!(
                "({k}, '{}', '{}', '{}', '{}', '{}', {}, '{}')",
                t.family, t.rule, t.owed_by, t.owed_to, t.supervisor, t.amount, t.unit
            )
        })
        .collect();
    // Overdue rows: due 1 h to 60 days ago, missed (no next moment). Burst rows: parked 200 days ahead
    // (the only rows whose next moment is `parked - 1 day`, found by the timer's index). Others:
    // due 2 to 120 days ahead, warned a day before (so nothing fires during the run).
    let sql = format!(
        "WITH inserted AS (INSERT INTO deadlines_obligations (case_id, family, rule, owed_by, \
           owed_to, supervisor, region, started_at, due_at, warn_at, late, period_amount, \
           period_unit) \
         SELECT md5((g / 3)::text)::uuid::text, t.family, t.rule, t.owed_by, t.owed_to, \
           t.supervisor, substr(t.owed_by, 3, 6), $1 - {DAY_MS}::bigint * (1 + g % 60), \
           d.due, \
           CASE WHEN d.overdue THEN NULL ELSE d.due - {DAY_MS} END, 0, t.amount, t.unit \
         FROM generate_series($2::bigint, $3::bigint) AS g \
         JOIN (VALUES {}) AS t(k, family, rule, owed_by, owed_to, supervisor, amount, unit) \
           ON t.k = g % {} \
         CROSS JOIN LATERAL (SELECT g % 100 < $4 AND g <= $5 AS overdue) AS o \
         CROSS JOIN LATERAL (SELECT o.overdue, CASE \
             WHEN o.overdue THEN $1 - {HOUR_MS}::bigint * (1 + g % 1440) \
             WHEN g > $5 THEN $6 \
             ELSE $1 + 2 * {DAY_MS}::bigint + (g * 7919) % (118 * {DAY_MS}::bigint) \
           END AS due) AS d \
         RETURNING id, warn_at) \
         INSERT INTO deadlines_timers (id, next_fire_at, stage) \
         SELECT id, warn_at, CASE WHEN warn_at IS NULL THEN 'missed' ELSE 'open' END \
         FROM inserted",
        templates.join(", "),
        TEMPLATES.len()
    );
    let burst_from = i64::try_from(args.obligations - args.burst.iter().sum::<u64>())?;
    let total = i64::try_from(args.obligations)?;
    let chunk = i64::try_from(args.chunk.max(1))?;
    let mut from = 1;
    while from <= total {
        let to = (from + chunk - 1).min(total);
        let began = Instant::now();
        sqlx::query(&sql)
            .bind(now)
            .bind(from)
            .bind(to)
            .bind(i64::try_from(args.overdue_percent)?)
            .bind(burst_from)
            .bind(parked(now))
            .execute(db.pool())
            .await
            .with_context(|| format!("loading rows {from}..{to}"))?;
        eprintln!(
            "  loaded {to} of {total} ({:.0} rows/s for this chunk)",
            (to - from + 1) as f64 / began.elapsed().as_secs_f64()
        );
        from = to + 1;
    }
    Ok(())
}

/// Starts `casebridge deadlines` on the benchmark's database and namespace; returns it once it
/// printed `ready:`, with its process id. Its log goes to this process's standard error; when it
/// exits before it is ready, the error quotes the log's last lines.
async fn start_service(
    args: &DeadlineBenchArgs,
    namespace: &str,
    url: &str,
    data_dir: &std::path::Path,
) -> anyhow::Result<(Child, u32)> {
    let exe = crate::casebridge_exe()?;
    let mut child = Command::new(exe)
        .arg("deadlines")
        .env("CASEBRIDGE__BUS__KIND", "amqp")
        .env("CASEBRIDGE__BUS__URL", &args.amqp_url)
        .env("CASEBRIDGE__BUS__NAMESPACE", namespace)
        .env("CASEBRIDGE__STORE__URL", url)
        .env("CASEBRIDGE__STORE__MAX_CONNECTIONS", "8")
        .env("CASEBRIDGE__DATA_DIR", data_dir)
        .env("CASEBRIDGE__LOG", &args.service_log)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start casebridge deadlines")?;
    let pid = child.id();
    let log = crate::LogTail::follow(child.stderr.take().context("no stderr")?, true);
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("ready:") => break,
            Some(Ok(_)) => {}
            _ => {
                let _ = child.kill();
                let status = child
                    .wait()
                    .map_or_else(|e| e.to_string(), |s| s.to_string());
                bail!(
                    "casebridge deadlines exited before it was ready ({status}); {}",
                    log.quoted("casebridge deadlines").await
                );
            }
        }
    }
    // Keep draining its stdout so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((child, pid))
}

/// Waits for the service's first monthly reminder; returns the time since the service started
/// measuring (an upper bound: polled every 100 ms).
async fn eventually_reminded(db: &Db) -> anyhow::Result<Duration> {
    let began = Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deadlines_reminders")
            .fetch_one(db.pool())
            .await?;
        if n > 0 {
            return Ok(began.elapsed());
        }
        if began.elapsed() > Duration::from_secs(600) {
            bail!("no monthly reminder within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asks the service for one page; returns its size and the next page's start.
async fn ask_page(bus: &Bus, request: &Request) -> anyhow::Result<(usize, Option<(i64, i64)>)> {
    let message = Message::json(casebridge_deadlines::SERVICE, request)?;
    let reply: Reply = bus
        .request(
            casebridge_deadlines::SERVICE,
            message,
            Duration::from_secs(30),
        )
        .await?
        .decode()?;
    match reply {
        Reply::Obligations { obligations, next } => Ok((obligations.len(), next)),
        other => bail!("unexpected reply: {other:?}"),
    }
}

/// Peak and current resident memory of process `pid`, in MB.
fn memory(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    Ok((field("VmHWM:"), field("VmRSS:")))
}

async fn clean_up(args: &DeadlineBenchArgs, namespace: &str, url: &str) {
    let options = AmqpOptions {
        urls: vec![args.amqp_url.clone()],
        tls: AmqpTls::default(),
        prefetch: 1,
        delivery_limit: 10,
        queue_type: QueueType::Quorum,
    };
    if let Ok(bus) = AmqpBus::connect(options, Topology::new(namespace)).await {
        let _ = bus
            .delete_topology(&[
                QueueSpec::commands(casebridge_deadlines::SERVICE),
                casebridge_deadlines::app::events_queue(),
            ])
            .await;
        bus.close().await;
    }
    match store::drop_database(url).await {
        Ok(()) => println!("dropped the benchmark database"),
        Err(e) => println!("could not drop {url}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_read_from_sorted_samples() {
        let mut samples: Vec<f64> = (1..=100).map(f64::from).collect();
        samples.reverse();
        assert_eq!(percentiles(&mut samples), (50.0, 99.0, 100.0));
        assert_eq!(percentiles(&mut []), (0.0, 0.0, 0.0));
    }

    #[test]
    fn every_template_owing_agency_is_in_the_example_directory() {
        let directory = casebridge_core::directory::Directory::from_toml_str(
            casebridge_cli::system::EXAMPLE_DIRECTORY,
        )
        .expect("example directory");
        for t in TEMPLATES {
            for code in [t.owed_by, t.owed_to, t.supervisor] {
                let code = AgencyCode::parse(code).expect("valid code");
                assert!(directory.get(&code).is_some(), "{code} of {}", t.rule);
            }
        }
    }
}
