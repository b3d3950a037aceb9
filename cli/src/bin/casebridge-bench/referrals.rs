//! `casebridge-bench`: end-to-end throughput and latency of criminal referrals, and the
//! broker's raw ceiling beside them.
//!
//! For each backend the whole system starts in this process (a temporary data directory; on
//! RabbitMQ + PostgreSQL a fresh database and a namespace of its own, both removed afterwards).
//! The market bureau submits referrals over mutual TLS through the real gateway while the city
//! police watch their inbox as a server stream; a referral's latency runs from the start of its
//! submission to its arrival in that stream.
//!
//! Two phases per backend:
//! - **closed loop**: `--count` referrals by `--concurrency` clients, as fast as they are
//!   answered: the throughput.
//! - **open loop**: `--rate` referrals per second for `--seconds`, each sent on schedule
//!   whatever the previous one is doing: the latency under a steady load.
//!
//! After each phase, the CPU time each process involved spent on it (this one, which holds the
//! whole system and the load generator; on RabbitMQ + PostgreSQL also the broker and the
//! database server), in seconds and milliseconds per referral ([`crate::cpu`]).
//!
//! The broker ceiling publishes persistent messages of the size of a referral command to a
//! queue of the system's kind (`--queue-type`, quorum by default) with publisher confirms (at
//! most `--concurrency` unconfirmed) while a consumer acknowledges them, so the end-to-end
//! figure can be read against what RabbitMQ itself does on this machine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use casebridge_platform::bus::Topology;
use casebridge_platform::bus::amqp::{AmqpBus, AmqpOptions, AmqpTls};
use casebridge_platform::settings::{BusKind, QueueType, Settings};
use casebridge_platform::store;
use casebridge_proto::v1 as pb;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

use casebridge_cli::client::Clients;
use casebridge_cli::system::{self, Components};

use crate::cpu;

/// The sender and the receiver of every benchmark referral (example directory).
const MARKET_BUREAU: &str = "11350100MB0100002P";
const CITY_POLICE: &str = "11350100MB01000064";

/// Submissions before measuring: connections, prepared statements, JIT-free warm caches.
const WARM_UP: usize = 100;

/// How long to wait for the last referrals to reach the police inbox.
const DRAIN: Duration = Duration::from_secs(60);

/// Which deployment to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// SQLite and the embedded bus (`casebridge up`).
    Embedded,
    /// PostgreSQL and RabbitMQ.
    Amqp,
    /// Both, one after the other.
    Both,
}

/// Which kind of RabbitMQ queue the system declares (`bus.queue_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueueChoice {
    /// Quorum queues, the default.
    Quorum,
    /// Classic queues, for a single-node broker.
    Classic,
}

impl QueueChoice {
    fn queue_type(self) -> QueueType {
        match self {
            QueueChoice::Quorum => QueueType::Quorum,
            QueueChoice::Classic => QueueType::Classic,
        }
    }
}

/// Options of the referral benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Which backend to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: BackendChoice,
    /// Referrals in the closed-loop phase.
    #[arg(long, short = 'n', default_value_t = 3000)]
    pub count: usize,
    /// Concurrent clients in the closed-loop phase (and unconfirmed messages in the ceiling).
    #[arg(long, short = 'c', default_value_t = 64)]
    pub concurrency: usize,
    /// Referrals per second in the open-loop phase; 0 skips it.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Length of the open-loop phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// The kind of the system's durable queues on RabbitMQ, and of the ceiling's queue.
    #[arg(long, value_enum, default_value = "quorum")]
    pub queue_type: QueueChoice,
    /// RabbitMQ for the amqp backend and the ceiling (loopback only in tests).
    #[arg(
        long,
        env = "CASEBRIDGE_TEST_AMQP",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,
    /// PostgreSQL server for the amqp backend; a database is created and dropped on it.
    #[arg(
        long,
        env = "CASEBRIDGE_TEST_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pub postgres: String,
    /// Connection parameters added to the benchmark database's URL (`store.url`), such as
    /// `sslmode=disable` to measure a PostgreSQL on this machine without TLS; sqlx's default
    /// is `sslmode=prefer`, which uses TLS when the server offers it.
    #[arg(long, default_value = "")]
    pub postgres_options: String,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.count > 0, "--count must be at least 1");
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    println!(
        "casebridge-bench: {} referrals at concurrency {}, then {}/s for {} s; {} cores",
        args.count,
        args.concurrency,
        args.rate,
        args.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let backends: &[BusKind] = match args.backend {
        BackendChoice::Embedded => &[BusKind::Embedded],
        BackendChoice::Amqp => &[BusKind::Amqp],
        BackendChoice::Both => &[BusKind::Embedded, BusKind::Amqp],
    };
    let mut amqp_throughput = None;
    for &kind in backends {
        let report = measure_backend(kind, &args).await?;
        if kind == BusKind::Amqp {
            amqp_throughput = Some(report);
        }
    }
    if let Some(end_to_end) = amqp_throughput {
        let queue_type = args.queue_type.queue_type();
        let ceiling =
            broker_ceiling(&args.amqp_url, args.count * 3, args.concurrency, queue_type).await?;
        println!(
            "\nbroker ceiling: {:.0} msg/s ({} persistent messages of {} bytes, {} queue, \
             confirms, consume + ack)",
            ceiling.per_second,
            ceiling.messages,
            ceiling.bytes,
            queue_type.as_str()
        );
        println!(
            "end to end on RabbitMQ + PostgreSQL: {end_to_end:.0} referrals/s = {:.1}% of the \
             broker ceiling (each referral moves 2 persistent messages through {} queues, \
             the command and its event, and 3 transient ones: the reply and an inbox wake-up \
             per recipient)",
            100.0 * end_to_end / ceiling.per_second,
            queue_type.as_str()
        );
    }
    Ok(())
}

/// Runs both phases on one backend; returns the closed-loop throughput.
async fn measure_backend(kind: BusKind, args: &BenchArgs) -> anyhow::Result<f64> {
    let label = match kind {
        BusKind::Embedded => "embedded (SQLite + in-process bus)",
        BusKind::Amqp => "RabbitMQ + PostgreSQL",
    };
    println!("\n== {label}");
    if kind == BusKind::Amqp && !args.postgres_options.is_empty() {
        println!(
            "PostgreSQL connection parameters: {}",
            args.postgres_options
        );
    }
    let deployment = Deployment::prepare(kind, args).await?;
    let shutdown = CancellationToken::new();
    let (ready, address) = tokio::sync::oneshot::channel();
    // The system runs on this task beside the workload (its components are tasks of their own).
    let system = system::run(
        deployment.settings.clone(),
        Components::ALL,
        shutdown.clone(),
        move |started: system::Ready| {
            let _ = ready.send(started.gateway);
        },
    );
    let workload = async {
        let measured = match address.await {
            Ok(Some(address)) => workload(&deployment, address, args).await,
            _ => Err(anyhow::anyhow!("the system did not start")),
        };
        shutdown.cancel();
        measured
    };
    let (ran, measured) = tokio::join!(system, workload);
    deployment.clean_up().await;
    match (ran, measured) {
        (Err(error), _) => Err(error.context("the system failed")),
        (Ok(()), measured) => measured,
    }
}

/// Both phases against a running system; returns the closed-loop throughput.
async fn workload(
    deployment: &Deployment,
    address: SocketAddr,
    args: &BenchArgs,
) -> anyhow::Result<f64> {
    let market = deployment.connect(address, MARKET_BUREAU).await?;
    let police = deployment.connect(address, CITY_POLICE).await?;
    let arrivals = Arrivals::watch(police).await?;

    let warm = closed_loop(&market, WARM_UP, args.concurrency.min(WARM_UP), "warm").await?;
    arrivals.wait_for(&warm, DRAIN).await?;

    let involved = cpu::Involved {
        broker: deployment.kind == BusKind::Amqp,
        database: deployment.kind == BusKind::Amqp,
    };
    let ticks = cpu::Ticks::of_this_machine();
    let cpu_before = cpu::Snapshot::take(involved);
    let started = Instant::now();
    let sent = closed_loop(&market, args.count, args.concurrency, "closed").await?;
    arrivals.wait_for(&sent, DRAIN).await?;
    let cpu_after = cpu::Snapshot::take(involved);
    let throughput = report(
        &format!("closed loop, concurrency {}", args.concurrency),
        &sent,
        &arrivals,
        started,
    );
    println!(
        "{}",
        cpu::report(&cpu_before, &cpu_after, sent.len(), ticks)
    );

    if args.rate > 0 {
        let cpu_before = cpu::Snapshot::take(involved);
        let started = Instant::now();
        let sent = open_loop(&market, args.rate, args.seconds).await?;
        arrivals.wait_for(&sent, DRAIN).await?;
        let cpu_after = cpu::Snapshot::take(involved);
        report(
            &format!("open loop, {}/s", args.rate),
            &sent,
            &arrivals,
            started,
        );
        println!(
            "{}",
            cpu::report(&cpu_before, &cpu_after, sent.len(), ticks)
        );
    }
    Ok(throughput)
}

/// A temporary data directory with the example directory and a development PKI, and on
/// RabbitMQ + PostgreSQL a fresh database and namespace.
struct Deployment {
    kind: BusKind,
    settings: Settings,
    _dir: tempfile::TempDir,
}

impl Deployment {
    async fn prepare(kind: BusKind, args: &BenchArgs) -> anyhow::Result<Deployment> {
        let dir = tempfile::tempdir()?;
        let mut settings = Settings {
            data_dir: dir.path().to_path_buf(),
            log: "warn".into(),
            ..Settings::default()
        };
        settings.gateway.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        // People are not part of the workload.
        settings.console.enabled = false;
        crate::prepare_data_dir(dir.path())?;
        if kind == BusKind::Amqp {
            let name = format!(
                "cbbench_{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            );
            settings.bus.kind = BusKind::Amqp;
            settings.bus.url = args.amqp_url.clone();
            settings.bus.namespace = name.clone();
            settings.bus.queue_type = args.queue_type.queue_type();
            settings.bus.prefetch = 64;
            settings.store.url = store::create_database(&args.postgres, &name)
                .await
                .with_context(|| format!("cannot create a database on {}", args.postgres))?;
            if !args.postgres_options.is_empty() {
                settings.store.url = format!("{}?{}", settings.store.url, args.postgres_options);
            }
            settings.store.max_connections = 32;
        }
        Ok(Deployment {
            kind,
            settings,
            _dir: dir,
        })
    }

    async fn connect(&self, address: SocketAddr, agency: &str) -> anyhow::Result<Clients> {
        crate::dev_connection(
            agency,
            format!("https://{address}"),
            self.settings.data_dir.clone(),
        )
        .connect()
        .await
    }

    /// Removes what the run created on the servers.
    async fn clean_up(self) {
        if self.kind != BusKind::Amqp {
            return;
        }
        let options = AmqpOptions {
            urls: self.settings.bus.nodes(),
            tls: AmqpTls::default(),
            prefetch: 1,
            delivery_limit: self.settings.bus.delivery_limit,
            queue_type: self.settings.bus.queue_type,
        };
        let topology = Topology::new(self.settings.bus.namespace.clone());
        if let Ok(bus) = AmqpBus::connect(options, topology).await {
            let _ = bus.delete_topology(&crate::durable_queues()).await;
            bus.close().await;
        }
        let _ = store::drop_database(&self.settings.store.url).await;
    }
}

/// One submitted referral: when its submission started, and the case id it got.
#[derive(Debug, Clone)]
struct Sent {
    started: Instant,
    case_id: String,
}

/// When each case arrived in the police inbox, filled by a watcher task.
struct Arrivals {
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Arrivals {
    async fn watch(mut police: Clients) -> anyhow::Result<Arrivals> {
        let mut stream = police
            .inbox
            .watch_inbox(pb::WatchInboxRequest {
                after_cursor: None,
                follow: true,
            })
            .await
            .context("cannot watch the police inbox")?
            .into_inner();
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let record = seen.clone();
        let watcher = tokio::spawn(async move {
            while let Some(Ok(entry)) = stream.next().await {
                let now = Instant::now();
                if entry.event == "submitted" {
                    crate::lock(&record).insert(entry.case_id, now);
                }
            }
        });
        Ok(Arrivals { seen, watcher })
    }

    /// Waits until every referral in `sent` has arrived, or fails after `within`.
    async fn wait_for(&self, sent: &[Sent], within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let missing = {
                let seen = crate::lock(&self.seen);
                sent.iter()
                    .filter(|s| !seen.contains_key(&s.case_id))
                    .count()
            };
            if missing == 0 {
                return Ok(());
            }
            if Instant::now() > deadline || self.watcher.is_finished() {
                bail!("{missing} accepted referrals did not reach the police inbox");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn arrival(&self, case_id: &str) -> Option<Instant> {
        crate::lock(&self.seen).get(case_id).copied()
    }
}

impl Drop for Arrivals {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// Submits `count` referrals from `concurrency` clients, each sending its next as soon as the
/// previous one is answered.
async fn closed_loop(
    market: &Clients,
    count: usize,
    concurrency: usize,
    phase: &str,
) -> anyhow::Result<Vec<Sent>> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let progress = crate::counter(count as u64, phase);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let mut client = market.referrals.clone();
        let next = next.clone();
        let phase = phase.to_owned();
        let progress = progress.clone();
        workers.spawn(async move {
            let mut sent = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= count {
                    return anyhow::Ok(sent);
                }
                sent.push(submit(&mut client, &format!("bench-{phase}-{n}")).await?);
                progress.inc(1);
            }
        });
    }
    let mut all = Vec::with_capacity(count);
    while let Some(done) = workers.join_next().await {
        all.extend(done??);
    }
    progress.finish_and_clear();
    Ok(all)
}

/// Submits `rate` referrals per second for `seconds`, each on its own schedule.
async fn open_loop(market: &Clients, rate: u32, seconds: u32) -> anyhow::Result<Vec<Sent>> {
    let total = u64::from(rate) * u64::from(seconds);
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let progress = crate::counter(total, "open loop");
    let mut pending = tokio::task::JoinSet::new();
    for n in 0..total {
        ticks.tick().await;
        progress.inc(1);
        let mut client = market.referrals.clone();
        pending.spawn(async move { submit(&mut client, &format!("bench-open-{n}")).await });
    }
    progress.finish_and_clear();
    let mut all = Vec::new();
    while let Some(done) = pending.join_next().await {
        all.push(done??);
    }
    Ok(all)
}

async fn submit(
    client: &mut casebridge_proto::v1::referral_service_client::ReferralServiceClient<
        tonic::transport::Channel,
    >,
    request_id: &str,
) -> anyhow::Result<Sent> {
    let started = Instant::now();
    let result = client
        .submit_referral(submission(request_id))
        .await
        .map_err(|status| {
            anyhow::anyhow!("{request_id}: {}", casebridge_cli::client::explain(&status))
        })?
        .into_inner();
    let case_id = result
        .referral
        .map(|r| r.id)
        .context("an accepted submission returned no referral")?;
    Ok(Sent { started, case_id })
}

/// Prints one phase's figures; returns its throughput in referrals per second.
fn report(phase: &str, sent: &[Sent], arrivals: &Arrivals, started: Instant) -> f64 {
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("valid bounds");
    let mut last = started;
    for s in sent {
        if let Some(arrived) = arrivals.arrival(&s.case_id) {
            last = last.max(arrived);
            let micros = arrived.saturating_duration_since(s.started).as_micros();
            let _ = latency.record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
        }
    }
    let elapsed = last.duration_since(started).as_secs_f64();
    let throughput = sent.len() as f64 / elapsed;
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{phase:<30} {:>6} referrals in {elapsed:>6.2} s = {throughput:>7.0}/s   \
         submit→police inbox p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms",
        sent.len(),
        ms(0.50),
        ms(0.99),
        latency.max() as f64 / 1000.0,
    );
    throughput
}

/// A valid referral from the market bureau to the city police, with the package items 1–3.
fn submission(request_id: &str) -> pb::SubmitReferralRequest {
    let now = chrono::Utc::now().timestamp();
    let at = |seconds_ago: i64| prost_types::Timestamp {
        seconds: now - seconds_ago,
        nanos: 0,
    };
    let document = |kind: pb::DocumentKind, title: &str| pb::Document {
        kind: kind.into(),
        title: title.into(),
        sha256: String::new(),
    };
    pb::SubmitReferralRequest {
        request_id: request_id.into(),
        police: CITY_POLICE.into(),
        suspected_offence: "销售伪劣产品罪".into(),
        summary: "Counterfeit goods found at a wholesale market; 1,200 items seized.".into(),
        report_received_at: Some(at(3600)),
        approved_at: Some(at(60)),
        items_tested: false,
        penalty_imposed: false,
        documents: vec![
            document(pb::DocumentKind::ReferralLetter, "涉嫌犯罪案件移送书"),
            document(pb::DocumentKind::InvestigationReport, "调查报告"),
            document(pb::DocumentKind::SeizedItemsList, "涉案物品清单"),
        ],
        parties: vec![pb::Party {
            name: "张三".into(),
            id_number: "350102199001011234".into(),
        }],
        case_officer: "李四".into(),
        case_officer_phone: "13800000000".into(),
    }
}

/// What the broker alone sustains.
struct Ceiling {
    messages: usize,
    bytes: usize,
    per_second: f64,
}

/// The size of a referral command on the bus: the JSON body the gateway sends to the
/// referrals service for [`submission`].
fn command_size() -> anyhow::Result<usize> {
    use casebridge_core::document::{Document, DocumentKind, Party};
    use casebridge_core::ids::{AgencyCode, CaseId, RequestId, Sha256Digest};
    use casebridge_core::personal::PersonalData;
    use casebridge_core::referral::{ReferralCommand, Submission};
    use casebridge_core::time::Timestamp;
    use casebridge_referrals::api::{CommandRequest, Request};

    let wire = submission("bench-size");
    let case_id = CaseId::generate();
    let document = |kind, title: &str| Document {
        kind,
        title: title.into(),
        sha256: None,
    };
    let command = ReferralCommand::Submit(Submission {
        case_id,
        police: AgencyCode::parse(&wire.police)?,
        suspected_offence: wire.suspected_offence,
        summary: wire.summary,
        report_received_at: Timestamp::from_millis(0),
        approved_at: Timestamp::from_millis(0),
        items_tested: wire.items_tested,
        penalty_imposed: wire.penalty_imposed,
        documents: vec![
            document(DocumentKind::ReferralLetter, "涉嫌犯罪案件移送书"),
            document(DocumentKind::InvestigationReport, "调查报告"),
            document(DocumentKind::SeizedItemsList, "涉案物品清单"),
        ],
        parties: wire
            .parties
            .into_iter()
            .map(|p| Party {
                name: PersonalData::new(p.name),
                id_number: Some(PersonalData::new(p.id_number)),
            })
            .collect(),
        case_officer: wire.case_officer,
        case_officer_phone: PersonalData::new(wire.case_officer_phone),
    });
    let request = Request::Command(CommandRequest {
        actor: AgencyCode::parse(MARKET_BUREAU)?,
        content_digest: Sha256Digest::of(b"bench-size"),
        step: casebridge_platform::cases::CaseStep {
            request_id: RequestId::parse("bench-size")?,
            case_id,
            command,
        },
    });
    Ok(serde_json::to_vec(&request)?.len())
}

/// Persistent publish with confirms (at most `window` unconfirmed) to a `queue_type` queue,
/// while a consumer on its own connection acknowledges each message.
async fn broker_ceiling(
    url: &str,
    messages: usize,
    window: usize,
    queue_type: QueueType,
) -> anyhow::Result<Ceiling> {
    use lapin::options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
        ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
    };
    use lapin::types::{AMQPValue, FieldTable};
    use lapin::{BasicProperties, Connection, ConnectionProperties};

    let bytes = command_size()?;
    let queue = format!("cbbench.ceiling.{}", uuid::Uuid::new_v4().simple());
    let publisher = Connection::connect(url, ConnectionProperties::default())
        .await
        .context("cannot reach RabbitMQ for the ceiling")?;
    let consumer = Connection::connect(url, ConnectionProperties::default()).await?;
    let out = publisher.create_channel().await?;
    out.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(queue_type.as_str().into()),
    );
    out.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        },
        args,
    )
    .await?;
    let input = consumer.create_channel().await?;
    input
        .basic_qos(
            u16::try_from(window).unwrap_or(u16::MAX),
            BasicQosOptions::default(),
        )
        .await?;
    let mut deliveries = input
        .basic_consume(
            queue.as_str().into(),
            "ceiling".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let acked = tokio::spawn(async move {
        let mut count = 0;
        while count < messages {
            let Some(delivery) = deliveries.next().await else {
                break;
            };
            delivery?.ack(BasicAckOptions::default()).await?;
            count += 1;
        }
        anyhow::Ok(Instant::now())
    });

    let body = vec![b'x'; bytes];
    let started = Instant::now();
    let mut unconfirmed = FuturesUnordered::new();
    for _ in 0..messages {
        if unconfirmed.len() >= window
            && let Some(confirm) = unconfirmed.next().await
        {
            let confirmation: lapin::Confirmation = confirm?;
            anyhow::ensure!(confirmation.is_ack(), "the broker nacked a message");
        }
        let confirm = out
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?;
        unconfirmed.push(confirm);
    }
    while let Some(confirm) = unconfirmed.next().await {
        let confirmation: lapin::Confirmation = confirm?;
        anyhow::ensure!(confirmation.is_ack(), "the broker nacked a message");
    }
    let finished = acked.await??;
    out.queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await?;
    let _ = publisher.close(200, "done".into()).await;
    let _ = consumer.close(200, "done".into()).await;
    Ok(Ceiling {
        messages,
        bytes,
        per_second: messages as f64 / finished.duration_since(started).as_secs_f64(),
    })
}
