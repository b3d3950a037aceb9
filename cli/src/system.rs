//! Starting CaseBridge components from settings: the embedded default (`casebridge up`),
//! one component per process, or all of them over RabbitMQ and PostgreSQL (benchmarks).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use casebridge_core::directory::Directory;
use casebridge_core::time::{Clock, SystemClock};
use casebridge_gateway::{Gateway, GatewayConfig, TlsMaterial};
use casebridge_inbox::app::InboxApp;
use casebridge_platform::bus::amqp::{AmqpBus, AmqpOptions};
use casebridge_platform::bus::embedded::EmbeddedBus;
use casebridge_platform::bus::{Bus, Topology};
use casebridge_platform::settings::{BusKind, Settings};
use casebridge_platform::store::Db;
use casebridge_referrals::app::ReferralsApp;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The example directory shipped with CaseBridge, written into a new data directory.
pub const EXAMPLE_DIRECTORY: &str = include_str!("../../deploy/directory.toml");

/// How long components get to finish in-flight work after a shutdown signal.
pub const GRACE: Duration = Duration::from_secs(10);

/// Which components run in this process.
#[derive(Debug, Clone, Copy)]
pub struct Components {
    pub referrals: bool,
    pub inbox: bool,
    pub gateway: bool,
}

impl Components {
    pub const ALL: Components = Components {
        referrals: true,
        inbox: true,
        gateway: true,
    };
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

/// Starts the chosen components and runs them until `shutdown`. `on_ready` receives the
/// gateway's bound address once every component is up.
pub async fn run(
    settings: Settings,
    components: Components,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(Option<SocketAddr>),
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
    // Services first: their queues must exist before the gateway takes traffic.
    if components.referrals {
        let app = ReferralsApp::build(
            store(&settings, casebridge_referrals::SERVICE).await?,
            bus.clone(),
            directory.clone(),
            settings.referrals.clone(),
            clock.clone(),
        )
        .await?;
        let stop = shutdown.clone();
        tasks.spawn(async move {
            app.run_until_stopped(stop)
                .await
                .context("referrals service")
        });
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
    let mut address = None;
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
        };
        let gateway = Gateway::build(config, bus.clone(), directory.clone()).await?;
        address = Some(gateway.local_addr());
        let stop = shutdown.clone();
        tasks.spawn(async move { gateway.run_until_stopped(stop).await.context("gateway") });
    }
    if tasks.is_empty() {
        bail!("no component selected");
    }
    on_ready(address);

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
