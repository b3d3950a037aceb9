//! Starting CaseBridge components from settings: the embedded default (`casebridge up`),
//! one component per process, or all of them over RabbitMQ and PostgreSQL (benchmarks).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use casebridge_core::calendar::Calendar;
use casebridge_core::deadline::RuleTable;
use casebridge_core::directory::Directory;
use casebridge_core::law::Law;
use casebridge_core::time::{Clock, SystemClock};
use casebridge_deadlines::app::DeadlinesApp;
use casebridge_evidence::app::EvidenceApp;
use casebridge_evidence::storage::Storage;
use casebridge_gateway::{ConsoleConfig, EvidenceConfig, Gateway, GatewayConfig, TlsMaterial};
use casebridge_inbox::app::InboxApp;
use casebridge_platform::bus::amqp::{AmqpBus, AmqpOptions};
use casebridge_platform::bus::embedded::EmbeddedBus;
use casebridge_platform::bus::{Bus, QueueSpec, Topology};
use casebridge_platform::host::Host;
use casebridge_platform::ledger::Signer;
use casebridge_platform::settings::{BusKind, Settings};
use casebridge_platform::store::Db;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The example directory shipped with CaseBridge, written into a new data directory.
pub const EXAMPLE_DIRECTORY: &str = include_str!("../../deploy/directory.toml");

/// How long components get to finish in-flight work after a shutdown signal.
pub const GRACE: Duration = Duration::from_secs(10);

/// The holiday schedules shipped with CaseBridge (DOMAIN.md §2), used unless
/// `deadlines.calendars` names a directory.
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

/// Loads the legal calendar and the rule table the settings name, and warns when this year or
/// the next has no calendar: due dates in such a year are not computed, never guessed.
pub fn load_deadline_law(
    settings: &Settings,
    today_year: i32,
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
    let calendar = match &settings.deadlines.calendars {
        None => Calendar::from_toml_files(SHIPPED_CALENDARS.iter().copied())?,
        Some(dir) => {
            let dir = settings.in_data_dir(dir);
            let mut files = Vec::new();
            for entry in std::fs::read_dir(&dir)
                .with_context(|| format!("cannot read the calendar directory {}", dir.display()))?
            {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "toml") {
                    files.push((path.display().to_string(), std::fs::read_to_string(&path)?));
                }
            }
            Calendar::from_toml_files(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))?
        }
    };
    for year in [today_year, today_year + 1] {
        if !calendar.loaded_years().contains(&year) {
            tracing::warn!(
                year,
                loaded = ?calendar.loaded_years(),
                "no holiday calendar for {year}: deadlines falling in {year} get no due date \
                 until deploy/calendars/{year}.toml is added"
            );
        }
    }
    Ok((rules, calendar))
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

/// Connects the bus the settings name.
pub async fn connect_bus(settings: &Settings) -> anyhow::Result<Bus> {
    let topology = Topology::new(settings.bus.namespace.clone());
    Ok(match settings.bus.kind {
        BusKind::Embedded => {
            let db = Db::open_sqlite(&settings.data_dir.join("bus.db")).await?;
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
                    url: settings.bus.url.clone(),
                    prefetch: settings.bus.prefetch,
                    delivery_limit: settings.bus.delivery_limit,
                },
                topology,
            )
            .await
            .context("cannot reach RabbitMQ (bus.url)")?,
        ),
    })
}

async fn store(settings: &Settings, service: &str) -> anyhow::Result<Db> {
    Db::connect(&settings.store_url(service), settings.store.max_connections)
        .await
        .with_context(|| format!("cannot open the {service} store"))
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

/// Every durable queue the components declare, for removing a namespace.
pub fn durable_queues() -> Vec<QueueSpec> {
    use casebridge_platform::cases::app::reactions_queue;
    let mut queues = vec![
        QueueSpec::commands(casebridge_referrals::SERVICE),
        QueueSpec::commands(casebridge_transfers::SERVICE),
        QueueSpec::commands(casebridge_disputes::SERVICE),
        QueueSpec::commands(casebridge_opinions::SERVICE),
        QueueSpec::commands(casebridge_inbox::SERVICE),
        QueueSpec::commands(casebridge_deadlines::SERVICE),
        QueueSpec::commands(casebridge_evidence::SERVICE),
        casebridge_inbox::app::events_queue(),
        casebridge_deadlines::app::events_queue(),
        casebridge_evidence::app::events_queue(),
    ];
    queues.extend(reactions_queue::<casebridge_transfers::handler::Transfers>());
    queues.extend(reactions_queue::<casebridge_disputes::handler::Disputes>());
    queues
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
    let mut tasks = JoinSet::new();
    let today = chrono::Datelike::year(&chrono::Utc::now());
    let (rules, calendar) = load_deadline_law(&settings, today)?;
    let law = Arc::new(Law { calendar, rules });
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
            let db = store(&settings, casebridge_referrals::SERVICE).await?;
            let app = casebridge_referrals::app::build(
                host(db),
                directory.clone(),
                law.clone(),
                settings.referrals.clone(),
            )
            .await?;
            spawn_service(&mut tasks, "referrals", app, &shutdown);
        }
        if components.transfers {
            let db = store(&settings, casebridge_transfers::SERVICE).await?;
            let app = casebridge_transfers::app::build(host(db), directory.clone()).await?;
            spawn_service(&mut tasks, "transfers", app, &shutdown);
        }
        if components.disputes {
            let db = store(&settings, casebridge_disputes::SERVICE).await?;
            let app = casebridge_disputes::app::build(
                host(db),
                directory.clone(),
                settings.disputes.clone(),
            )
            .await?;
            spawn_service(&mut tasks, "disputes", app, &shutdown);
        }
        if components.opinions {
            let db = store(&settings, casebridge_opinions::SERVICE).await?;
            let app = casebridge_opinions::app::build(host(db), directory.clone()).await?;
            spawn_service(&mut tasks, "opinions", app, &shutdown);
        }
        if components.deadlines {
            let app = DeadlinesApp::build(
                host(store(&settings, casebridge_deadlines::SERVICE).await?),
                directory.clone(),
                Arc::new(law.rules.clone()),
                Arc::new(law.calendar.clone()),
            )
            .await?;
            let stop = shutdown.clone();
            tasks.spawn(async move {
                app.run_until_stopped(stop)
                    .await
                    .context("deadlines service")
            });
        }
    }
    if components.inbox {
        let app = InboxApp::build(
            store(&settings, casebridge_inbox::SERVICE).await?,
            bus.clone(),
            clock.clone(),
        )
        .await?;
        let stop = shutdown.clone();
        tasks.spawn(async move { app.run_until_stopped(stop).await.context("inbox service") });
    }
    if components.evidence {
        let app = EvidenceApp::build(
            store(&settings, casebridge_evidence::SERVICE).await?,
            bus.clone(),
            clock.clone(),
        )
        .await?;
        let stop = shutdown.clone();
        tasks.spawn(async move {
            app.run_until_stopped(stop)
                .await
                .context("evidence service")
        });
    }
    let mut ready = Ready::default();
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
            console: settings.console.enabled.then_some(ConsoleConfig {
                listen: settings.console.listen,
                demo_signin: settings.console.demo_signin,
            }),
        };
        let gateway = Gateway::build(config, bus.clone(), directory.clone()).await?;
        ready = Ready {
            gateway: Some(gateway.local_addr()),
            console: gateway.console_addr(),
            signin_link: gateway.console_signin_link(),
        };
        let stop = shutdown.clone();
        tasks.spawn(async move { gateway.run_until_stopped(stop).await.context("gateway") });
    }
    if tasks.is_empty() {
        bail!("no component selected");
    }
    on_ready(ready);

    // The first component to stop (with an error, or because shutdown was asked) stops all.
    let first = tasks.join_next().await;
    shutdown.cancel();
    let mut result = match first {
        Some(Ok(r)) => r,
        Some(Err(join)) => Err(anyhow::anyhow!("component panicked: {join}")),
        None => Ok(()),
    };
    let drained = tokio::time::timeout(GRACE, async {
        while let Some(next) = tasks.join_next().await {
            if let (Ok(()), Ok(Err(e))) = (&result, next) {
                result = Err(e);
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(grace = ?GRACE, "components did not stop within the grace period");
        tasks.abort_all();
    }
    bus.close().await;
    result
}
