//! Starting CaseBridge components from settings: the embedded default (`casebridge up`),
//! one component per process, or all of them over RabbitMQ and PostgreSQL (benchmarks).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use casebridge_core::calendar::{Calendar, CalendarError, LiveCalendar};
use casebridge_core::deadline::{
    RuleTable, check_supervision as check_supervision_gaps, require_supervisors,
};
use casebridge_core::directory::Directory;
use casebridge_core::law::Law;
use casebridge_core::screening::{SHIPPED_THRESHOLDS, ThresholdTable};
use casebridge_core::time::{Clock, SystemClock};
use casebridge_deadlines::app::DeadlinesApp;
use casebridge_evidence::app::EvidenceApp;
use casebridge_evidence::storage::Storage;
use casebridge_gateway::console::session::FormKey;
use casebridge_gateway::trust::TrustFiles;
use casebridge_gateway::{
    Caps, ConsoleConfig, EvidenceConfig, Gateway, GatewayConfig, TlsMaterial,
};
use casebridge_inbox::app::InboxApp;
use casebridge_platform::admin::{self, AdminServer, Health};
use casebridge_platform::bus::amqp::{AmqpBus, AmqpOptions, AmqpTls};
use casebridge_platform::bus::embedded::EmbeddedBus;
use casebridge_platform::bus::{Bus, Topology};
use casebridge_platform::host::Host;
use casebridge_platform::ledger::Signer;
use casebridge_platform::prune::run_pruner;
use casebridge_platform::settings::{BusKind, Settings};
use casebridge_platform::store::Db;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The example directory shipped with CaseBridge, written into a new data directory.
pub const EXAMPLE_DIRECTORY: &str = include_str!("../../deploy/directory.toml");

/// How often a running process looks for a newly installed calendar year.
pub const CALENDAR_POLL: Duration = Duration::from_secs(30);

/// The holiday schedules shipped with CaseBridge (docs/law.md §2); the years an operator installs
/// (`casebridge calendar install`) are added to them.
pub const SHIPPED_CALENDARS: &[(&str, &str)] = &[
    (
        "2025.toml",
        include_str!("../../deploy/calendars/2025.toml"),
    ),
    (
        "2026.toml",
        include_str!("../../deploy/calendars/2026.toml"),
    ),
];

/// The deadline rule table shipped with CaseBridge, used unless `deadlines.rules` names a file.
pub const SHIPPED_RULES: &str = include_str!("../../deploy/rules.toml");

/// Every durable queue the components declare, the deadlines service's bound to the events of
/// `rules`: for a definitions file, and for removing a test's or benchmark's namespace.
pub fn durable_queues(rules: &RuleTable) -> Vec<casebridge_platform::bus::QueueSpec> {
    use casebridge_platform::bus::QueueSpec;
    use casebridge_platform::cases::app::reactions_queue;
    let mut queues = vec![
        QueueSpec::commands(casebridge_referrals::SERVICE),
        QueueSpec::commands(casebridge_transfers::SERVICE),
        QueueSpec::commands(casebridge_disputes::SERVICE),
        QueueSpec::commands(casebridge_opinions::SERVICE),
        QueueSpec::commands(casebridge_penalties::SERVICE),
        QueueSpec::commands(casebridge_leads::SERVICE),
        QueueSpec::commands(casebridge_rectifications::SERVICE),
        QueueSpec::commands(casebridge_inbox::SERVICE),
        QueueSpec::commands(casebridge_deadlines::SERVICE),
        QueueSpec::commands(casebridge_evidence::SERVICE),
    ];
    queues.extend(
        [
            reactions_queue::<casebridge_referrals::handler::Referrals>(),
            reactions_queue::<casebridge_transfers::handler::Transfers>(),
            reactions_queue::<casebridge_disputes::handler::Disputes>(),
            reactions_queue::<casebridge_opinions::handler::Opinions>(),
            reactions_queue::<casebridge_penalties::handler::Penalties>(),
            reactions_queue::<casebridge_leads::handler::Leads>(),
            reactions_queue::<casebridge_rectifications::handler::Rectifications>(),
        ]
        .into_iter()
        .flatten(),
    );
    queues.push(casebridge_inbox::app::events_queue());
    queues.push(casebridge_deadlines::app::events_queue_for(rules));
    queues.push(casebridge_evidence::app::events_queue());
    queues
}

/// Which components run in this process.
#[derive(Debug, Clone, Copy)]
pub struct Components {
    pub referrals: bool,
    pub transfers: bool,
    pub disputes: bool,
    pub opinions: bool,
    pub inbox: bool,
    pub deadlines: bool,
    pub evidence: bool,
    pub gateway: bool,
}

impl Components {
    pub const ALL: Components = Components {
        referrals: true,
        transfers: true,
        disputes: true,
        opinions: true,
        inbox: true,
        deadlines: true,
        evidence: true,
        gateway: true,
    };
    pub const NONE: Components = Components {
        referrals: false,
        transfers: false,
        disputes: false,
        opinions: false,
        inbox: false,
        deadlines: false,
        evidence: false,
        gateway: false,
    };
}

/// The directory of installed calendar years: `deadlines.calendars`, by default `calendars` in
/// the data directory.
pub fn calendar_dir(settings: &Settings) -> std::path::PathBuf {
    settings.in_data_dir(
        settings
            .deadlines
            .calendars
            .as_deref()
            .unwrap_or(Path::new("calendars")),
    )
}

/// The `<year>.toml` files installed in `dir`, by name, with their text; none when `dir` does
/// not exist yet.
fn installed_files(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the calendar directory {}", dir.display()));
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            files.push((path.display().to_string(), text));
        }
    }
    files.sort();
    Ok(files)
}

/// Adds one official year to `calendar`. A file for a year already official is accepted only
/// when it says the same (an installed copy of a shipped year).
pub fn add_official_year(calendar: &mut Calendar, name: &str, text: &str) -> anyhow::Result<i32> {
    match calendar.add_year_toml(name, text) {
        Ok(year) => Ok(year),
        Err(CalendarError::Invalid { reason, .. }) if reason.ends_with("is already loaded") => {
            let mut alone = Calendar::new();
            let year = alone.add_year_toml(name, text)?;
            if alone.fingerprint(year) == calendar.fingerprint(year) {
                Ok(year)
            } else {
                bail!(
                    "calendar {name}: {year} already has an official schedule that differs \
                     from this file; an official year is never replaced silently"
                )
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The legal calendar: the shipped official years, the years installed in [`calendar_dir`],
/// and a provisional schedule for every other year of the statutory table.
pub fn load_calendar(settings: &Settings) -> anyhow::Result<Calendar> {
    let mut calendar = Calendar::from_toml_files(SHIPPED_CALENDARS.iter().copied())?;
    for (name, text) in installed_files(&calendar_dir(settings))? {
        add_official_year(&mut calendar, &name, &text)?;
    }
    Ok(calendar)
}

/// Loads the legal calendar and the rule table the settings name, and warns when this year or
/// (from 1 October) the next has no official schedule: due dates in such a year are counted
/// provisionally until it is installed.
pub fn load_deadline_law(
    settings: &Settings,
    today: chrono::NaiveDate,
) -> anyhow::Result<(RuleTable, Calendar)> {
    let rules = match &settings.deadlines.rules {
        None => RuleTable::from_toml_str(SHIPPED_RULES)?,
        Some(path) => {
            let path = settings.in_data_dir(path);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the rule table {}", path.display()))?;
            RuleTable::from_toml_str(&text)
                .with_context(|| format!("invalid rule table {}", path.display()))?
        }
    };
    let calendar = load_calendar(settings)?;
    for year in calendar.missing_official(today) {
        tracing::warn!(
            year,
            official = ?calendar.official_years(),
            "the official {year} holiday schedule is not installed: due times in {year} are \
             counted provisionally on the statutory holidays; install it with `casebridge \
             calendar install {year}.toml` once the State Council publishes it"
        );
    }
    Ok((rules, calendar))
}

/// The threshold table of penalty-case screening: `screening.thresholds`, or the one shipped.
pub fn load_thresholds(settings: &Settings) -> anyhow::Result<ThresholdTable> {
    match &settings.screening.thresholds {
        None => Ok(ThresholdTable::from_toml_str(SHIPPED_THRESHOLDS)?),
        Some(path) => {
            let path = settings.in_data_dir(path);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the threshold table {}", path.display()))?;
            ThresholdTable::from_toml_str(&text)
                .with_context(|| format!("invalid threshold table {}", path.display()))
        }
    }
}

/// Reloads the calendar when the installed files change, until `shutdown`: a year installed
/// with `casebridge calendar install` is in force within [`CALENDAR_POLL`] without a restart,
/// and the deadlines service recounts the obligations it moves. A file that does not load is
/// reported and the calendar in force kept.
pub async fn watch_calendar(settings: Settings, live: LiveCalendar, shutdown: CancellationToken) {
    let dir = calendar_dir(&settings);
    let mut seen = installed_files(&dir).ok();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(CALENDAR_POLL) => {}
        }
        let now = installed_files(&dir).ok();
        if now == seen {
            continue;
        }
        seen = now;
        match load_calendar(&settings) {
            Ok(calendar) => {
                let changed = live.replace(calendar);
                if !changed.is_empty() {
                    tracing::info!(years = ?changed, "calendar reloaded: the installed years are in force");
                }
            }
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "the installed calendar does not load; the calendar in force is kept");
            }
        }
    }
}

/// The operator's signing key named by the settings (`casebridge pki init` creates it).
pub fn load_signer(settings: &Settings) -> anyhow::Result<Signer> {
    let path = settings.in_data_dir(&settings.ledger.key);
    Signer::load(&path, false)
        .with_context(|| "the family services sign receipts with the operator key; create a development one with `casebridge pki init`, or set ledger.key")
}

/// Reads the agency directory named by the settings.
pub fn load_directory(settings: &Settings) -> anyhow::Result<Directory> {
    let path = settings.in_data_dir(&settings.directory);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the agency directory {}", path.display()))?;
    Directory::from_toml_str(&text)
        .with_context(|| format!("invalid agency directory {}", path.display()))
}

/// Refuses to start when a deadline rule's escalation resolves for nobody (docs/law.md
/// "Cross-cutting": an escalation that cannot be delivered is an alarm, never silence): the error
/// names every rule and agency. With `deadlines.fallback_supervisor` set (an agency of the
/// directory), warns of each gap instead; the fallback gets those escalations.
pub fn check_supervision(
    settings: &Settings,
    rules: &RuleTable,
    directory: &Directory,
) -> anyhow::Result<()> {
    let gaps = check_supervision_gaps(rules, directory, &settings.disputes);
    let fallback = settings.deadlines.fallback_supervisor.as_ref();
    for gap in require_supervisors(gaps, fallback, directory)? {
        tracing::warn!(
            fallback = %fallback.map_or("", |f| f.as_str()),
            "no supervisor resolves, the fallback supervisor gets the escalation: {gap}"
        );
    }
    Ok(())
}

/// Connects the bus the settings name.
/// The TLS material of `amqps://` connections (`bus.tls_*`).
fn amqp_tls(settings: &Settings) -> anyhow::Result<AmqpTls> {
    let read = |path: &PathBuf, what: &str| {
        let path = settings.in_data_dir(path);
        std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the {what} {}", path.display()))
    };
    Ok(AmqpTls {
        ca_pem: settings
            .bus
            .tls_ca
            .as_ref()
            .map(|p| read(p, "broker CA (bus.tls_ca)"))
            .transpose()?,
        client: match (&settings.bus.tls_cert, &settings.bus.tls_key) {
            (Some(cert), Some(key)) => Some((
                read(cert, "client certificate (bus.tls_cert)")?,
                read(key, "client key (bus.tls_key)")?,
            )),
            _ => None,
        },
    })
}

pub async fn connect_bus(settings: &Settings) -> anyhow::Result<Bus> {
    let topology = Topology::new(settings.bus.namespace.clone());
    Ok(match settings.bus.kind {
        BusKind::Embedded => {
            let db = Db::open_sqlite(&settings.embedded_bus_path()).await?;
            Bus::Embedded(
                EmbeddedBus::open(
                    db,
                    topology,
                    settings.bus.prefetch,
                    settings.bus.delivery_limit,
                )
                .await?,
            )
        }
        BusKind::Amqp => Bus::Amqp(
            AmqpBus::connect(
                AmqpOptions {
                    urls: settings.bus.nodes(),
                    tls: amqp_tls(settings)?,
                    prefetch: settings.bus.prefetch,
                    delivery_limit: settings.bus.delivery_limit,
                    queue_type: settings.bus.queue_type,
                },
                topology,
            )
            .await
            .context("cannot reach RabbitMQ (bus.url)")?,
        ),
    })
}

/// Opens `service`'s store and registers it with the admin port (readiness, outbox backlog).
async fn store(
    settings: &Settings,
    service: &'static str,
    health: &Health,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.store_url(service), settings.store.max_connections)
        .await
        .with_context(|| format!("cannot open the {service} store"))?;
    admin::watch_store(health, service, db.clone(), clock.clone());
    Ok(db)
}

/// Registers the legal calendar with the admin port: the years loaded and how far ahead the
/// official schedules reach, as metrics, and as a readiness check that fails only when
/// `admin.calendar_gates_readiness` is on (docs/operations.md, "Health").
fn watch_calendar_reach(
    settings: &Settings,
    health: &Health,
    live: &LiveCalendar,
    clock: &Arc<dyn Clock>,
) {
    let reach = {
        let (live, clock) = (live.clone(), clock.clone());
        move || {
            let calendar = live.current();
            let today = casebridge_core::calendar::cst_date(clock.now());
            (
                calendar.official_years().len(),
                calendar.official_days_ahead(today),
            )
        }
    };
    let sample = reach.clone();
    health.add_sampler(Arc::new(move || {
        let (years, days) = sample();
        let metrics = casebridge_platform::metrics::metrics();
        metrics.calendar_years_loaded.set(years as i64);
        metrics.calendar_reach.set(days * 86_400);
        Box::pin(std::future::ready(()))
    }));
    let (wanted, gates) = (
        i64::from(settings.admin.calendar_days_ahead),
        settings.admin.calendar_gates_readiness,
    );
    health.add_check(
        "calendar",
        Arc::new(move || {
            let (_, days) = reach();
            let note = format!("official holiday schedules reach {days} days ahead");
            Box::pin(std::future::ready(if days >= wanted {
                Ok(note)
            } else if gates {
                Err(format!(
                    "{note}, fewer than {wanted} (admin.calendar_days_ahead): install the next \
                     year's schedule with `casebridge calendar install`"
                ))
            } else {
                Ok(format!(
                    "{note}, fewer than {wanted}: due times beyond are provisional until the next \
                     year's schedule is installed (`casebridge calendar install`)"
                ))
            }))
        }),
    );
}

fn read_pem(settings: &Settings, path: &Path, what: &str) -> anyhow::Result<String> {
    let path = settings.in_data_dir(path);
    std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read the {what} {} (run `casebridge pki init`)",
            path.display()
        )
    })
}

/// Runs a family service as a task of `tasks`.
fn spawn_service<F: casebridge_platform::cases::Family + std::fmt::Debug>(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    name: &'static str,
    app: casebridge_platform::cases::CaseApp<F>,
    shutdown: &CancellationToken,
) {
    let stop = shutdown.clone();
    tasks.spawn(async move {
        app.run_until_stopped(stop)
            .await
            .with_context(|| format!("{name} service"))
    });
}

/// Where a started system can be reached, for the lines it prints.
#[derive(Debug, Default)]
pub struct Ready {
    /// The gateway's gRPC address, when this process runs the gateway.
    pub gateway: Option<SocketAddr>,
    /// The web console's address, when served.
    pub console: Option<SocketAddr>,
    /// A one-time sign-in link to the console, when demo sign-in is on.
    pub signin_link: Option<String>,
    /// The admin port's address (metrics and probes), when `admin.listen` is set.
    pub admin: Option<SocketAddr>,
}

/// Starts the chosen components and runs them until `shutdown`. `on_ready` learns where the
/// gateway and console are once every component is up.
pub async fn run(
    settings: Settings,
    components: Components,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(Ready),
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create data directory {}",
            settings.data_dir.display()
        )
    })?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let directory = Arc::new(load_directory(&settings)?);
    let bus = connect_bus(&settings).await?;
    // Readiness and metrics: the checks and samplers each component registers below, served
    // on the admin port when `admin.listen` is set, and followed by the gateway's gRPC health.
    let health = Health::default();
    admin::watch_bus(&health, bus.clone());
    // Two stages of shutdown: `shutdown` stops the edge (the gateway stops taking calls and
    // finishes the ones in flight), and only then `core` stops the services, which answer
    // those calls.
    let core = CancellationToken::new();
    let mut tasks = JoinSet::new();
    // Each service's replay records older than the retention go, once an hour, until the
    // services stop; started once the service has migrated its tables.
    let prune = |service: &'static str, db: &Db, tasks: &mut JoinSet<anyhow::Result<()>>| {
        let pruner = run_pruner(
            db.clone(),
            service,
            clock.clone(),
            settings.store.replay_retention,
            core.clone(),
        );
        tasks.spawn(async move {
            pruner.await;
            Ok(())
        });
    };
    let today = casebridge_core::calendar::cst_date(clock.now());
    let (rules, calendar) = load_deadline_law(&settings, today)?;
    let law = Arc::new(Law::new(calendar, rules));
    if components.deadlines {
        check_supervision(&settings, &law.rules, &directory)?;
    }
    let families =
        components.referrals || components.transfers || components.disputes || components.opinions;
    // Services first: their queues must exist before the gateway takes traffic.
    if families || components.deadlines {
        let signer = load_signer(&settings)?;
        let host = |db: Db| Host {
            db,
            bus: bus.clone(),
            clock: clock.clone(),
            signer: signer.clone(),
            ledger: settings.ledger.clone(),
        };
        if components.referrals {
            let db = store(&settings, casebridge_referrals::SERVICE, &health, &clock).await?;
            let app = casebridge_referrals::app::build(
                host(db.clone()),
                directory.clone(),
                law.clone(),
                settings.referrals.clone(),
            )
            .await?;
            prune(casebridge_referrals::SERVICE, &db, &mut tasks);
            spawn_service(&mut tasks, "referrals", app, &core);
            // Penalty records and their warnings run beside the referrals they should become
            // (docs/screening.md): same process, their own store and queues.
            let db = store(&settings, casebridge_penalties::SERVICE, &health, &clock).await?;
            let app = casebridge_penalties::app::build(
                host(db.clone()),
                directory.clone(),
                law.clone(),
                Arc::new(load_thresholds(&settings)?),
                settings.screening.entry_within,
            )
            .await?;
            prune(casebridge_penalties::SERVICE, &db, &mut tasks);
            spawn_service(&mut tasks, "penalties", app, &core);
        }
        if components.transfers {
            let db = store(&settings, casebridge_transfers::SERVICE, &health, &clock).await?;
            let app = casebridge_transfers::app::build(host(db.clone()), directory.clone()).await?;
            prune(casebridge_transfers::SERVICE, &db, &mut tasks);
            spawn_service(&mut tasks, "transfers", app, &core);
            // Leads between agencies (线索互告) run beside the transfers they are often answered
            // with: same process, their own store and queues.
            let db = store(&settings, casebridge_leads::SERVICE, &health, &clock).await?;
            let app = casebridge_leads::app::build(host(db.clone()), directory.clone()).await?;
            prune(casebridge_leads::SERVICE, &db, &mut tasks);
            spawn_service(&mut tasks, "leads", app, &core);
            // Rectification requests (整改) run beside the leads: same process, their own store
            // and queues.
            let db = store(
                &settings,
                casebridge_rectifications::SERVICE,
                &health,
                &clock,
            )
            .await?;
            let app =
                casebridge_rectifications::app::build(host(db.clone()), directory.clone()).await?;
            prune(casebridge_rectifications::SERVICE, &db, &mut tasks);
            spawn_service(&mut tasks, "rectifications", app, &core);
        }
        if components.disputes {
            let db = store(&settings, casebridge_disputes::SERVICE, &health, &clock).await?;
            let app = casebridge_disputes::app::build(
                host(db.clone()),
                directory.clone(),
                settings.disputes.clone(),
            )
            .await?;
            prune(casebridge_disputes::SERVICE, &db, &mut tasks);
            spawn_service(&mut tasks, "disputes", app, &core);
        }
        if components.opinions {
            let db = store(&settings, casebridge_opinions::SERVICE, &health, &clock).await?;
            let app = casebridge_opinions::app::build(host(db.clone()), directory.clone()).await?;
            prune(casebridge_opinions::SERVICE, &db, &mut tasks);
            spawn_service(&mut tasks, "opinions", app, &core);
        }
        if components.deadlines {
            let db = store(&settings, casebridge_deadlines::SERVICE, &health, &clock).await?;
            health.add_sampler(casebridge_deadlines::metrics_sampler(
                db.clone(),
                clock.clone(),
            ));
            let app = DeadlinesApp::build(
                host(db.clone()),
                directory.clone(),
                Arc::new(law.rules.clone()),
                law.calendar.clone(),
            )
            .await?
            .with_fallback_supervisor(settings.deadlines.fallback_supervisor.clone())
            .with_dispute_policy(settings.disputes.clone());
            prune(casebridge_deadlines::SERVICE, &db, &mut tasks);
            let stop = core.clone();
            tasks.spawn(async move {
                app.run_until_stopped(stop)
                    .await
                    .context("deadlines service")
            });
        }
    }
    if components.inbox {
        let db = store(&settings, casebridge_inbox::SERVICE, &health, &clock).await?;
        let app = InboxApp::build(db.clone(), bus.clone(), clock.clone()).await?;
        prune(casebridge_inbox::SERVICE, &db, &mut tasks);
        let stop = core.clone();
        tasks.spawn(async move { app.run_until_stopped(stop).await.context("inbox service") });
    }
    if components.evidence {
        let db = store(&settings, casebridge_evidence::SERVICE, &health, &clock).await?;
        let app = EvidenceApp::build(db.clone(), bus.clone(), clock.clone()).await?;
        prune(casebridge_evidence::SERVICE, &db, &mut tasks);
        let stop = core.clone();
        tasks.spawn(async move {
            app.run_until_stopped(stop)
                .await
                .context("evidence service")
        });
    }
    let mut ready = Ready::default();
    let mut edge = None;
    if components.gateway {
        let g = &settings.gateway;
        let config = GatewayConfig {
            listen: g.listen,
            tls: TlsMaterial {
                cert_pem: read_pem(&settings, &g.cert, "gateway certificate")?,
                key_pem: read_pem(&settings, &g.key, "gateway key")?,
                client_ca_pem: read_pem(&settings, &g.client_ca, "client CA certificate")?,
            },
            request_timeout: settings.bus.request_timeout,
            evidence: EvidenceConfig {
                storage: Storage::open(&settings.evidence, &settings.data_dir)
                    .context("cannot open the evidence storage (evidence.*)")?,
                max_size: settings.evidence.max_size,
            },
            console: match settings.console.enabled {
                true => Some(ConsoleConfig {
                    listen: settings.console.listen,
                    demo_signin: settings.console.demo_signin,
                    session_idle: settings.console.session_idle,
                    form_key: FormKey::load_or_create(
                        &settings.in_data_dir(&settings.console.form_key),
                    )?,
                    sessions_file: settings
                        .console
                        .demo_signin
                        .then(|| settings.data_dir.join("console").join("sessions.json")),
                    connections: Caps {
                        total: settings.console.max_connections,
                        handshakes_per_ip: g.max_handshakes_per_ip,
                        per_certificate: g.max_connections_per_certificate,
                    },
                }),
                false => None,
            },
            clock: clock.clone(),
            calendar: law.calendar.clone(),
            readiness: Some(health.clone()),
            handshake_timeout: g.handshake_timeout,
            connections: Caps {
                total: g.max_connections,
                handshakes_per_ip: g.max_handshakes_per_ip,
                per_certificate: g.max_connections_per_certificate,
            },
            trust_files: Some(TrustFiles {
                directory: settings.in_data_dir(&settings.directory),
                revoked: g.revoked.as_ref().map(|path| settings.in_data_dir(path)),
                reload_every: g.reload_every,
            }),
        };
        let gateway = Gateway::build(config, bus.clone(), directory.clone()).await?;
        ready = Ready {
            gateway: Some(gateway.local_addr()),
            console: gateway.console_addr(),
            signin_link: gateway.console_signin_link(),
            admin: None,
        };
        let stop = shutdown.clone();
        edge = Some(tokio::spawn(async move {
            gateway.run_until_stopped(stop).await.context("gateway")
        }));
    }
    if tasks.is_empty() && edge.is_none() {
        bail!("no component selected");
    }
    if families || components.deadlines || components.gateway {
        watch_calendar_reach(&settings, &health, &law.calendar, &clock);
        let (settings, live, stop) = (settings.clone(), law.calendar.clone(), core.clone());
        // Not joined with the components: it never stops on its own, only with them.
        tokio::spawn(watch_calendar(settings, live, stop));
    }
    // The admin port last, so that its first answer already covers every component.
    let mut admin_port = None;
    if let Some(listen) = settings.admin.listen {
        let server = AdminServer::bind(listen, health.clone())
            .await
            .with_context(|| format!("cannot listen on the admin port {listen} (admin.listen)"))?;
        ready.admin = Some(server.local_addr()?);
        admin_port = Some(tokio::spawn(server.run_until_stopped(core.clone())));
    }
    on_ready(ready);

    // Until shutdown is asked, or a component stops by itself (with an error, or a panic).
    let mut result = Ok(());
    tokio::select! {
        () = shutdown.cancelled() => {}
        Some(stopped) = tasks.join_next() => keep_first_error(&mut result, stopped),
        stopped = join_edge(&mut edge) => keep_first_error(&mut result, stopped),
    }
    shutdown.cancel();
    // Not ready from now on: probes and load balancers send nothing new while the work in
    // flight drains. The admin port itself answers until the components have stopped.
    health.stop();
    let deadline = tokio::time::Instant::now() + settings.shutdown_grace;
    if let Some(gateway) = edge {
        match tokio::time::timeout_at(deadline, gateway).await {
            Ok(stopped) => keep_first_error(&mut result, stopped),
            Err(_) => {
                tracing::warn!(grace = ?settings.shutdown_grace, "calls still open when the grace period ended")
            }
        }
    }
    core.cancel();
    let drained = tokio::time::timeout_at(deadline, async {
        while let Some(stopped) = tasks.join_next().await {
            keep_first_error(&mut result, stopped);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(grace = ?settings.shutdown_grace, "components did not stop within the grace period");
        tasks.abort_all();
    }
    if let Some(admin_port) = admin_port {
        let _ = admin_port.await;
    }
    bus.close().await;
    result
}

type Stopped = Result<anyhow::Result<()>, tokio::task::JoinError>;

/// The gateway's end, or never when this process runs none.
async fn join_edge(edge: &mut Option<tokio::task::JoinHandle<anyhow::Result<()>>>) -> Stopped {
    let Some(gateway) = edge.as_mut() else {
        return std::future::pending().await;
    };
    let stopped = gateway.await;
    *edge = None;
    stopped
}

/// Records how a component stopped, keeping the first error.
fn keep_first_error(result: &mut anyhow::Result<()>, stopped: Stopped) {
    let outcome = stopped.unwrap_or_else(|join| Err(anyhow::anyhow!("component panicked: {join}")));
    if let (Ok(()), Err(error)) = (&*result, outcome) {
        *result = Err(error);
    }
}

/// Settings shared by the commands that run components.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Settings file (TOML); `CASEBRIDGE__SECTION__KEY` variables override it.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data directory (overrides the settings).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Gateway listen address (overrides the settings), e.g. 127.0.0.1:0 for any free port.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Web console listen address (overrides `console.listen`), e.g. 127.0.0.1:0.
    #[arg(long)]
    console_listen: Option<SocketAddr>,
}

impl RunArgs {
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut settings = Settings::load(self.config.as_deref())?;
        if let Some(dir) = &self.data_dir {
            settings.data_dir = dir.clone();
        }
        if let Some(listen) = self.listen {
            settings.gateway.listen = listen;
        }
        if let Some(listen) = self.console_listen {
            settings.console.listen = listen;
        }
        settings.validate()?;
        Ok(settings)
    }
}

/// Now, from the process's wall clock: the one place the CLI reads it (libfaketime sets it in
/// the tests that run the binary at a chosen instant).
pub fn now() -> casebridge_core::time::Timestamp {
    casebridge_core::time::Clock::now(&casebridge_core::time::SystemClock)
}
