//! End-to-end test harness: starts the real `casebridge` binary, either as `casebridge up`
//! (embedded default) or as one process per component (the four family services, inbox,
//! deadlines, evidence, gateway) on RabbitMQ and PostgreSQL, each test with its own data
//! directory, bus namespace and database.
//!
//! Each process's stderr and stdout go to a log file in the data directory ([`System::logs`]
//! reads them all). When a test fails, the tail of every process's log is printed.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use casebridge_platform::testing;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::case_service_client::CaseServiceClient;
use casebridge_proto::v1::dispute_service_client::DisputeServiceClient;
use casebridge_proto::v1::evidence_service_client::EvidenceServiceClient;
use casebridge_proto::v1::inbox_service_client::InboxServiceClient;
use casebridge_proto::v1::lead_service_client::LeadServiceClient;
use casebridge_proto::v1::opinion_service_client::OpinionServiceClient;
use casebridge_proto::v1::penalty_service_client::PenaltyServiceClient;
use casebridge_proto::v1::rectification_service_client::RectificationServiceClient;
use casebridge_proto::v1::referral_service_client::ReferralServiceClient;
use casebridge_proto::v1::transfer_service_client::TransferServiceClient;
use sha2::Digest as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

pub mod delivery;
pub mod servers;
pub mod webdriver;

/// Agencies of the example directory used by the tests.
pub mod agencies {
    pub const CITY_GOVERNMENT: &str = "11350100MB0100001L";
    pub const MARKET_BUREAU: &str = "11350100MB0100002P";
    pub const ENVIRONMENT_BUREAU: &str = "11350100MB0100003T";
    pub const TESTING_INSTITUTE: &str = "12350100MB0100010F";
    pub const CITY_POLICE: &str = "11350100MB01000064";
    pub const DISTRICT_POLICE: &str = "11350102MB01000074";
    pub const PROCURATORATE: &str = "11350100MB0100008A";
    pub const JUSTICE_BUREAU: &str = "11350100MB0100009D";
}

const EXAMPLE_DIRECTORY: &str = include_str!("../deploy/directory.toml");

const SHIPPED_RULES: &str = include_str!("../deploy/rules.toml");

/// The shipped rule table with the receipt rules due at once (0 hours): RCPT (a referral's
/// receipt, escalated to the copied procuratorate) and RCPT-F (a transferred case's, escalated
/// to the coordination office), so each is overdue the moment its case is sent. Written to
/// `dir`; returned as the setting (`deadlines.rules`) for [`System::embedded_with`] and
/// [`System::distributed_with`].
pub fn immediate_receipt_rules(dir: &std::path::Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut rules = SHIPPED_RULES.to_owned();
    for (id, family, step, step_zh) in [
        (
            "RCPT",
            "referral",
            "sign the receipt (回执) for a referral",
            "在涉嫌犯罪案件移送书的回执上签字（签收回执）",
        ),
        (
            "RCPT-F",
            "transfer",
            "acknowledge receipt (回执) of a transferred case",
            "签收移送的案件，出具回执（回执）",
        ),
    ] {
        let shipped = format!(
            "id = \"{id}\"\nfamily = \"{family}\"\nstep = \"{step}\"\nstep_zh = \"{step_zh}\"\namount = 1\nunit = \"working_days\""
        );
        anyhow::ensure!(
            rules.contains(&shipped),
            "the shipped {id} rule changed; update this test"
        );
        let immediate = shipped.replace(
            "amount = 1\nunit = \"working_days\"",
            "amount = 0\nunit = \"hours\"",
        );
        rules = rules.replacen(&shipped, &immediate, 1);
    }
    let path = dir.join("rules-receipts-0h.toml");
    std::fs::write(&path, rules)?;
    Ok(vec![(
        "CASEBRIDGE__DEADLINES__RULES".into(),
        path.display().to_string(),
    )])
}

/// The `casebridge` binary of this build, brought up to date once per test process.
///
/// `cargo test` builds test targets, not the `casebridge` binary, so a binary left from an
/// earlier build would silently run old code; asking cargo costs a fraction of a second when
/// nothing changed.
pub fn casebridge_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| built("casebridge")).clone()
}

/// The `casebridge-bench` binary of this build (the benchmarks), brought up to date like
/// [`casebridge_bin`].
pub fn casebridge_bench_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| built("casebridge-bench")).clone()
}

/// `bin` of the casebridge-cli package, built by cargo for this test's profile.
fn built(bin: &str) -> PathBuf {
    // A run at a faked instant (scripts/test) names the binary it built beforehand, so no cargo
    // runs under libfaketime; the other binaries of the package are beside it.
    if let Some(casebridge) = std::env::var_os("CASEBRIDGE_BIN") {
        return PathBuf::from(casebridge).with_file_name(bin);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<bin>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "--quiet", "-p", "casebridge-cli", "--bin", bin]);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "building {bin} failed");
    profile_dir.join(bin)
}

/// The workspace's root directory (where `deploy/` is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

/// The settings of a system of separate processes on the machine's RabbitMQ (in `namespace`)
/// and the PostgreSQL database `postgres`.
fn distributed_env(namespace: &str, postgres: &str) -> Vec<(String, String)> {
    vec![
        ("CASEBRIDGE__BUS__KIND".into(), "amqp".into()),
        ("CASEBRIDGE__BUS__URL".into(), testing::amqp_url()),
        ("CASEBRIDGE__BUS__NAMESPACE".into(), namespace.to_owned()),
        ("CASEBRIDGE__BUS__REQUEST_TIMEOUT".into(), "3s".into()),
        ("CASEBRIDGE__STORE__URL".into(), postgres.to_owned()),
        ("CASEBRIDGE__STORE__MAX_CONNECTIONS".into(), "8".into()),
    ]
}

/// One running component.
#[derive(Debug)]
struct Process {
    child: Child,
    args: Vec<String>,
    log: PathBuf,
    /// `http://127.0.0.1:PORT`, the admin port it printed (with `admin.listen` set).
    admin: Option<String>,
}

/// A running CaseBridge: its processes, data directory and, when distributed, its namespace
/// and database (removed on [`System::stop`]).
#[derive(Debug)]
pub struct System {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    processes: HashMap<&'static str, Process>,
    /// `https://127.0.0.1:PORT`
    pub gateway: String,
    /// What `casebridge up` printed before it was ready (the console address, a sign-in link).
    printed: Vec<String>,
    postgres: Option<String>,
    /// Whether `postgres` is a database this system made, to drop when it stops.
    drop_database: bool,
    namespace: Option<String>,
}

impl System {
    /// `casebridge up` in a fresh data directory.
    pub async fn embedded() -> anyhow::Result<System> {
        System::embedded_with(Vec::new(), "info").await
    }

    /// `casebridge up` logging with `filter` (`RUST_LOG` syntax, e.g. `debug`).
    pub async fn embedded_logging(filter: &str) -> anyhow::Result<System> {
        System::embedded_with(Vec::new(), filter).await
    }

    /// `casebridge up` with extra settings (`CASEBRIDGE__…` variables, e.g. a test rule table),
    /// logging with `filter`.
    pub async fn embedded_with(
        settings: Vec<(String, String)>,
        filter: &str,
    ) -> anyhow::Result<System> {
        let mut system = System::prepare(settings, filter)?;
        let addr = system
            .start("up", &["up", "--listen", "127.0.0.1:0"])
            .await?;
        system.gateway = addr.context("up printed no gateway address")?;
        Ok(system)
    }

    /// Every component as its own process on RabbitMQ and PostgreSQL.
    pub async fn distributed() -> anyhow::Result<System> {
        System::distributed_with(Vec::new(), "info").await
    }

    /// [`System::distributed`], every process logging with `filter`.
    pub async fn distributed_logging(filter: &str) -> anyhow::Result<System> {
        System::distributed_with(Vec::new(), filter).await
    }

    /// The separate processes with extra settings (`CASEBRIDGE__…` variables), logging with
    /// `filter`.
    pub async fn distributed_with(
        settings: Vec<(String, String)>,
        filter: &str,
    ) -> anyhow::Result<System> {
        // A store among the settings (a private server, see [`servers::Postgres`]) wins; it is
        // not this system's to drop.
        let given_store = settings
            .iter()
            .rev()
            .find(|(key, _)| key == "CASEBRIDGE__STORE__URL")
            .map(|(_, url)| url.clone());
        let drop_database = given_store.is_none();
        let postgres = match given_store {
            Some(url) => url,
            None => testing::fresh_postgres().await?,
        };
        // A namespace among the settings (a test that declares queues first) wins.
        let namespace = settings
            .iter()
            .rev()
            .find(|(key, _)| key == "CASEBRIDGE__BUS__NAMESPACE")
            .map_or_else(|| testing::unique_name("cbe2e"), |(_, ns)| ns.clone());
        let mut env = distributed_env(&namespace, &postgres);
        env.extend(settings);
        let mut system = System::prepare(env, filter)?;
        system.postgres = Some(postgres);
        system.drop_database = drop_database;
        system.namespace = Some(namespace);
        system.start_components().await?;
        Ok(system)
    }

    /// `casebridge up` on a data directory restored from a backup (nothing is initialised:
    /// the keys, PKI and databases are the restored ones).
    pub async fn embedded_restored(dir: tempfile::TempDir) -> anyhow::Result<System> {
        let mut system = System::in_dir(dir, Vec::new(), "info");
        let addr = system
            .start("up", &["up", "--listen", "127.0.0.1:0"])
            .await?;
        system.gateway = addr.context("up printed no gateway address")?;
        Ok(system)
    }

    /// Every component as its own process on a data directory and a PostgreSQL database
    /// restored from a backup, on a new bus namespace (a broker that lost its queues). The
    /// database is dropped when the system stops.
    pub async fn distributed_restored(
        dir: tempfile::TempDir,
        postgres: String,
    ) -> anyhow::Result<System> {
        let namespace = testing::unique_name("cbe2e");
        let env = distributed_env(&namespace, &postgres);
        let mut system = System::in_dir(dir, env, "info");
        system.postgres = Some(postgres);
        system.drop_database = true;
        system.namespace = Some(namespace);
        system.start_components().await?;
        Ok(system)
    }

    /// Starts every component as its own process, the gateway last.
    async fn start_components(&mut self) -> anyhow::Result<()> {
        self.start("referrals", &["referrals"]).await?;
        self.start("transfers", &["transfers"]).await?;
        self.start("disputes", &["disputes"]).await?;
        self.start("opinions", &["opinions"]).await?;
        self.start("inbox", &["inbox-service"]).await?;
        self.start("deadlines", &["deadlines"]).await?;
        self.start("evidence", &["evidence-service"]).await?;
        let addr = self
            .start("gateway", &["gateway", "--listen", "127.0.0.1:0"])
            .await?;
        self.gateway = addr.context("gateway printed no address")?;
        Ok(())
    }

    fn prepare(env: Vec<(String, String)>, log_filter: &str) -> anyhow::Result<System> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("directory.toml"), EXAMPLE_DIRECTORY)?;
        let system = System::in_dir(dir, env, log_filter);
        let status = std::process::Command::new(casebridge_bin())
            .args(["pki", "init"])
            .envs(system.env.iter().cloned())
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("casebridge pki init failed");
        }
        Ok(system)
    }

    /// A system on `dir` with the settings `env`, nothing started.
    fn in_dir(dir: tempfile::TempDir, mut env: Vec<(String, String)>, log_filter: &str) -> System {
        env.push((
            "CASEBRIDGE__DATA_DIR".into(),
            dir.path().display().to_string(),
        ));
        env.push(("CASEBRIDGE__LOG".into(), log_filter.into()));
        // Any free port, so tests run side by side.
        env.push(("CASEBRIDGE__CONSOLE__LISTEN".into(), "127.0.0.1:0".into()));
        System {
            dir,
            env,
            processes: HashMap::new(),
            gateway: String::new(),
            printed: Vec::new(),
            postgres: None,
            drop_database: false,
            namespace: None,
        }
    }

    /// Starts a component and waits for its `ready:` line; returns the address it printed.
    async fn start(&mut self, name: &'static str, args: &[&str]) -> anyhow::Result<Option<String>> {
        let log = self.dir.path().join(format!("{name}.log"));
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let mut child = Command::new(casebridge_bin())
            .args(args)
            .envs(self.env.iter().cloned())
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn {name}"))?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut before_ready = Vec::new();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.strip_prefix("ready: ") {
                    return Ok::<_, anyhow::Error>(
                        rest.split_whitespace().last().map(str::to_owned),
                    );
                }
                before_ready.push(line);
            }
            bail!("{name} exited before it was ready")
        })
        .await;
        let admin = before_ready.iter().find_map(|line| {
            let rest = line.strip_prefix("admin: ")?;
            Some(
                rest.split_whitespace()
                    .next()?
                    .trim_end_matches('/')
                    .to_owned(),
            )
        });
        self.printed.extend(before_ready);
        // Keep draining stdout into the log, so the child never blocks on a full pipe and
        // everything a process prints can be searched.
        let mut copy = std::fs::OpenOptions::new().append(true).open(&log)?;
        tokio::spawn(async move {
            use std::io::Write as _;
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = writeln!(copy, "{line}");
            }
        });
        let printed = match ready {
            Ok(Ok(printed)) => printed,
            Ok(Err(e)) => {
                print_log(name, &log);
                return Err(e);
            }
            Err(_) => {
                print_log(name, &log);
                bail!("{name} was not ready within 30 s");
            }
        };
        self.processes.insert(
            name,
            Process {
                child,
                args: args.iter().map(|a| (*a).to_owned()).collect(),
                log,
                admin,
            },
        );
        Ok(printed.filter(|p| p.starts_with("https://")))
    }

    /// The admin port (`http://127.0.0.1:PORT`) of each running process that printed one, by
    /// process name.
    pub fn admin_ports(&self) -> Vec<(&'static str, String)> {
        let mut ports: Vec<_> = self
            .processes
            .iter()
            .filter_map(|(name, p)| Some((*name, p.admin.clone()?)))
            .collect();
        ports.sort();
        ports
    }

    /// Runs `program` (a script of the repository, say) with this system's settings in its
    /// environment (`CASEBRIDGE__DATA_DIR`, `CASEBRIDGE__STORE__URL`, …), from the workspace's
    /// root; returns its status and output.
    pub async fn run_with_settings(
        &self,
        program: &Path,
        args: &[&std::ffi::OsStr],
    ) -> anyhow::Result<std::process::Output> {
        Command::new(program)
            .args(args)
            .envs(self.env.iter().cloned())
            .env_remove("RUST_LOG")
            .current_dir(workspace_root())
            .output()
            .await
            .with_context(|| format!("run {}", program.display()))
    }

    /// Runs a `casebridge` command with this system's settings; returns its status and output.
    pub async fn cli(&self, args: &[&str]) -> anyhow::Result<std::process::Output> {
        self.cli_with(args, &[]).await
    }

    /// [`System::cli`] with extra environment variables.
    pub async fn cli_with(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<std::process::Output> {
        Ok(Command::new(casebridge_bin())
            .args(args)
            .envs(self.env.iter().cloned())
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .env_remove("CASEBRIDGE_PROFILE")
            .output()
            .await?)
    }

    /// Where `service` keeps its tables: its SQLite file in the data directory (embedded), or
    /// the test's PostgreSQL database (distributed).
    pub fn store_url(&self, service: &str) -> String {
        match &self.postgres {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rw",
                self.dir.path().join(format!("{service}.db")).display()
            ),
        }
    }

    /// The one-time sign-in link to the web console that `casebridge up` printed.
    pub fn console_signin_link(&self) -> Option<&str> {
        self.printed
            .iter()
            .find_map(|line| line.strip_prefix("sign in: "))
    }

    /// The bus namespace of a distributed system (every exchange and queue name starts with it).
    pub fn bus_namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The data directory (PKI, operator key, embedded databases).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills a component with SIGKILL: no shutdown, no flush, like a crash.
    pub async fn kill(&mut self, name: &'static str) -> anyhow::Result<()> {
        let process = self.processes.get_mut(name).context("no such process")?;
        process.child.start_kill()?;
        process.child.wait().await?;
        Ok(())
    }

    /// Sends SIGTERM to a component, as systemd, Docker or Kubernetes stop it, and waits up to
    /// `patience` for it to exit; returns how it exited and how long that took.
    pub async fn terminate(
        &mut self,
        name: &'static str,
        patience: Duration,
    ) -> anyhow::Result<(std::process::ExitStatus, Duration)> {
        let process = self.processes.get_mut(name).context("no such process")?;
        let pid = process.child.id().context("the process already exited")?;
        let asked = std::time::Instant::now();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        anyhow::ensure!(sent.success(), "kill -TERM {pid} failed");
        let status = tokio::time::timeout(patience, process.child.wait())
            .await
            .with_context(|| format!("{name} still runs {patience:?} after SIGTERM"))??;
        Ok((status, asked.elapsed()))
    }

    /// Starts the gateway again, after it stopped, on the address it had, so clients that
    /// hold channels to it reconnect by themselves.
    pub async fn restart_gateway(&mut self) -> anyhow::Result<()> {
        let addr = self
            .gateway
            .strip_prefix("https://")
            .context("no gateway address")?
            .to_owned();
        self.start("gateway", &["gateway", "--listen", &addr])
            .await?;
        Ok(())
    }

    /// Starts a killed component again with the same arguments.
    pub async fn restart(&mut self, name: &'static str) -> anyhow::Result<()> {
        let args = self
            .processes
            .get(name)
            .context("no such process")?
            .args
            .clone();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.start(name, &args).await?;
        Ok(())
    }

    /// Kills the process that runs the penalties service (`up` on the embedded backend, the
    /// referrals process when distributed) and starts it again with the same settings, so it
    /// loads its threshold table (`screening.thresholds`) again, as a start does.
    pub async fn restart_penalties(&mut self) -> anyhow::Result<()> {
        if self.processes.contains_key("up") {
            self.kill("up").await?;
            let addr = self.start("up", &["up", "--listen", "127.0.0.1:0"]).await?;
            self.gateway = addr.context("up printed no gateway address")?;
        } else {
            self.kill("referrals").await?;
            self.restart("referrals").await?;
        }
        Ok(())
    }

    /// A channel to the gateway with `agency`'s certificate.
    pub async fn channel(&self, agency: &str) -> anyhow::Result<Channel> {
        let pki = self.dir.path().join("pki");
        let read =
            |p: PathBuf| std::fs::read_to_string(&p).with_context(|| p.display().to_string());
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(pki.join("ca.pem"))?))
            .identity(Identity::from_pem(
                read(pki.join("agencies").join(format!("{agency}.pem")))?,
                read(pki.join("agencies").join(format!("{agency}.key")))?,
            ))
            .domain_name("localhost");
        Ok(Endpoint::from_shared(self.gateway.clone())?
            .tls_config(tls)?
            .connect()
            .await?)
    }

    pub async fn referrals(&self, agency: &str) -> anyhow::Result<ReferralServiceClient<Channel>> {
        Ok(ReferralServiceClient::new(self.channel(agency).await?))
    }

    pub async fn transfers(&self, agency: &str) -> anyhow::Result<TransferServiceClient<Channel>> {
        Ok(TransferServiceClient::new(self.channel(agency).await?))
    }

    pub async fn disputes(&self, agency: &str) -> anyhow::Result<DisputeServiceClient<Channel>> {
        Ok(DisputeServiceClient::new(self.channel(agency).await?))
    }

    pub async fn opinions(&self, agency: &str) -> anyhow::Result<OpinionServiceClient<Channel>> {
        Ok(OpinionServiceClient::new(self.channel(agency).await?))
    }

    pub async fn penalties(&self, agency: &str) -> anyhow::Result<PenaltyServiceClient<Channel>> {
        Ok(PenaltyServiceClient::new(self.channel(agency).await?))
    }

    pub async fn leads(&self, agency: &str) -> anyhow::Result<LeadServiceClient<Channel>> {
        Ok(LeadServiceClient::new(self.channel(agency).await?))
    }

    pub async fn rectifications(
        &self,
        agency: &str,
    ) -> anyhow::Result<RectificationServiceClient<Channel>> {
        Ok(RectificationServiceClient::new(self.channel(agency).await?))
    }

    pub async fn cases(&self, agency: &str) -> anyhow::Result<CaseServiceClient<Channel>> {
        Ok(CaseServiceClient::new(self.channel(agency).await?))
    }

    /// Runs the CLI as `agency` against this system's gateway: its exit code, stdout and stderr.
    pub async fn cli_as(
        &self,
        agency: &str,
        args: &[&str],
    ) -> anyhow::Result<(Option<i32>, String, String)> {
        let mut all = args.to_vec();
        all.extend(["--as", agency, "--gateway", &self.gateway]);
        let out = self.cli(&all).await?;
        Ok((
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// Waits (up to 30 s) until `agency`'s inbox holds `event` about `case_id`: the inbox learns
    /// of each step a moment after it is accepted.
    pub async fn heard(&self, agency: &str, case_id: &str, event: &str) {
        testing::eventually(
            &format!("{event} in {agency}'s inbox"),
            std::time::Duration::from_secs(30),
            || async {
                let events = self.events_about(agency, case_id).await.ok()?;
                events.iter().any(|e| e == event).then_some(())
            },
        )
        .await;
    }

    /// The events `agency`'s inbox holds about `case_id`, oldest first.
    pub async fn events_about(&self, agency: &str, case_id: &str) -> anyhow::Result<Vec<String>> {
        Ok(self
            .inbox_entries(agency)
            .await?
            .into_iter()
            .filter(|e| e.case_id == case_id)
            .map(|e| e.event)
            .collect())
    }

    pub async fn inbox(&self, agency: &str) -> anyhow::Result<InboxServiceClient<Channel>> {
        Ok(InboxServiceClient::new(self.channel(agency).await?))
    }

    pub async fn evidence(&self, agency: &str) -> anyhow::Result<EvidenceServiceClient<Channel>> {
        Ok(EvidenceServiceClient::new(self.channel(agency).await?))
    }

    /// Everything every process has written so far (stderr, then stdout lines as they came),
    /// each log headed by its process name.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for (name, process) in &self.processes {
            all.push_str(&format!("===== {name} =====\n"));
            all.push_str(&String::from_utf8_lossy(
                &std::fs::read(&process.log).unwrap_or_default(),
            ));
        }
        all
    }

    /// Uploads `content` as `agency` through the evidence service; returns its SHA-256 (hex).
    pub async fn upload(&self, agency: &str, content: &[u8]) -> anyhow::Result<String> {
        use pb::upload_evidence_request::Part;
        const CHUNK: usize = 256 * 1024;
        let digest = sha2::Sha256::digest(content);
        let mut messages = vec![pb::UploadEvidenceRequest {
            part: Some(Part::Metadata(pb::EvidenceMetadata {
                file_name: "现场照片.jpg".into(),
                content_type: "image/jpeg".into(),
                size: content.len() as u64,
                sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
            })),
        }];
        for (i, piece) in content.chunks(CHUNK).enumerate() {
            messages.push(pb::UploadEvidenceRequest {
                part: Some(Part::Chunk(pb::EvidenceChunk {
                    offset: (i * CHUNK) as u64,
                    data: bytes::Bytes::copy_from_slice(piece),
                })),
            });
        }
        Ok(self
            .evidence(agency)
            .await?
            .upload_evidence(futures_util::stream::iter(messages))
            .await?
            .into_inner()
            .sha256)
    }

    /// Every entry of `agency`'s inbox from the start.
    pub async fn inbox_entries(&self, agency: &str) -> anyhow::Result<Vec<pb::InboxEntry>> {
        let mut client = self.inbox(agency).await?;
        let mut stream = client
            .watch_inbox(pb::WatchInboxRequest {
                after_cursor: Some(0),
                follow: false,
            })
            .await?
            .into_inner();
        let mut entries = Vec::new();
        while let Some(entry) = stream.message().await? {
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Stops every process (SIGKILL is fine: durability is what we test) and removes the
    /// namespace's queues and the database.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        for process in self.processes.values_mut() {
            let _ = process.child.start_kill();
            let _ = process.child.wait().await;
        }
        // A private broker (see [`servers::Cluster`]) goes with its data; only the machine's
        // shared one needs this test's queues deleted.
        let private_broker = self
            .env
            .iter()
            .any(|(key, _)| key == "CASEBRIDGE__BUS__URLS");
        if let Some(namespace) = self.namespace.take().filter(|_| !private_broker) {
            let bus = testing::amqp_bus(&namespace).await;
            if let casebridge_platform::bus::Bus::Amqp(amqp) = &bus {
                let rules = casebridge_core::deadline::RuleTable::from_toml_str(SHIPPED_RULES)?;
                amqp.delete_topology(&casebridge_cli::system::durable_queues(&rules))
                    .await?;
            }
            bus.close().await;
        }
        if let Some(postgres) = self.postgres.take().filter(|_| self.drop_database) {
            testing::drop_postgres(&postgres).await?;
        }
        Ok(())
    }
}

impl Drop for System {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (name, process) in &self.processes {
                print_log(name, &process.log);
            }
        }
    }
}

fn print_log(name: &str, log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(40).collect();
    eprintln!("----- last lines of {name} ({}) -----", log.display());
    for line in tail.into_iter().rev() {
        eprintln!("{line}");
    }
}

/// A penalty-case record (行政处罚案件信息) of counterfeit goods (伪劣产品) against `party`, closed
/// with a fine, with `sales` yuan of sales. The decision date is three days before the run: the
/// system under test reads the real clock.
pub fn penalty_record(request_id: &str, sales: &str, party: pb::Party) -> pb::RecordPenaltyRequest {
    let decided = chrono::Utc::now() - chrono::Duration::days(3);
    pb::RecordPenaltyRequest {
        request_id: request_id.into(),
        case: Some(pb::PenaltyCase {
            case_number: format!("榕市监处〔2026〕{request_id}号"),
            violation: "fake_or_substandard_product".into(),
            legal_basis: "《中华人民共和国产品质量法》第五十条".into(),
            parties: vec![party],
            measures: Some(pb::Measures {
                sales_amount: Some(pb::Money { yuan: sales.into() }),
                ..Default::default()
            }),
            decision: Some(pb::PenaltyDecision {
                number: format!("榕市监罚〔2026〕{request_id}号"),
                decided_on: decided.format("%Y-%m-%d").to_string(),
                penalty: "没收违法所得，罚款".into(),
                fine: Some(pb::Money {
                    yuan: "20000".into(),
                }),
            }),
            evidence: Vec::new(),
        }),
        referral_id: String::new(),
    }
}

/// A valid referral submission from the market bureau to the city police.
pub fn submission(request_id: &str) -> pb::SubmitReferralRequest {
    // One instant for the whole test process (the process clock, as the binary under test
    // reads it, faked or not): a retry built later is the same request to the second, never a
    // different one because a second ticked between the two (a request id reused for other
    // content is refused).
    static STARTED: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let now = *STARTED.get_or_init(|| chrono::Utc::now().timestamp());
    let document = |kind: pb::DocumentKind, title: &str| pb::Document {
        kind: kind.into(),
        title: title.into(),
        sha256: String::new(),
    };
    pb::SubmitReferralRequest {
        request_id: request_id.into(),
        police: agencies::CITY_POLICE.into(),
        suspected_offence: "销售伪劣产品罪".into(),
        summary: "Counterfeit goods found at a wholesale market.".into(),
        report_received_at: Some(prost_types::Timestamp {
            seconds: now - 3600,
            nanos: 0,
        }),
        approved_at: Some(prost_types::Timestamp {
            seconds: now - 60,
            nanos: 0,
        }),
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

/// The shipped rule table with `periods` replaced: each `(rule id, amount, unit)` names a rule of
/// the table and the period it gets (e.g. `("WARN-RAISE", 0, "hours")`, due the moment it
/// starts). Written to `dir`; returned as the setting (`deadlines.rules`).
pub fn rules_with_periods(
    dir: &std::path::Path,
    periods: &[(&str, u32, &str)],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut rules = SHIPPED_RULES.to_owned();
    for (id, amount, unit) in periods {
        let start = rules
            .find(&format!("id = \"{id}\"\n"))
            .with_context(|| format!("no rule {id} in the shipped table"))?;
        let end = rules[start..]
            .find("\n[[rule]]")
            .map_or(rules.len(), |n| start + n);
        let mut rule = String::new();
        for line in rules[start..end].lines() {
            if line.starts_with("amount = ") {
                rule.push_str(&format!("amount = {amount}\n"));
            } else if line.starts_with("unit = ") {
                rule.push_str(&format!("unit = \"{unit}\"\n"));
            } else {
                rule.push_str(line);
                rule.push('\n');
            }
        }
        rules.replace_range(start..end, rule.trim_end());
    }
    let path = dir.join("rules-test-periods.toml");
    std::fs::write(&path, rules)?;
    Ok(vec![(
        "CASEBRIDGE__DEADLINES__RULES".into(),
        path.display().to_string(),
    )])
}

/// A valid case transfer from the market bureau to the environment bureau (河道排污), with its
/// transfer letter.
pub fn transfer_sending(request_id: &str) -> pb::SendTransferRequest {
    pb::SendTransferRequest {
        request_id: request_id.into(),
        receiver: agencies::ENVIRONMENT_BUREAU.into(),
        suspected_violation: "无证排放污水".into(),
        summary: "检查中发现某厂向河道排放污水".into(),
        jurisdiction_grounds: "水污染防治法第八十三条".into(),
        urgent: false,
        documents: vec![pb::Document {
            kind: pb::DocumentKind::TransferLetter.into(),
            title: "案件移送函".into(),
            sha256: String::new(),
        }],
        parties: Vec::new(),
        case_officer: "王五".into(),
        case_officer_phone: String::new(),
        previous_transfer_id: String::new(),
    }
}
