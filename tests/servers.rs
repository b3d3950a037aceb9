//! Private servers for the fault tests, so killing or restarting one never disturbs the
//! machine's own (which every other test uses): RabbitMQ nodes run by
//! `deploy/local/cluster.sh` (the script an operator uses to try a cluster on one machine), and a
//! PostgreSQL server run by `deploy/local/postgres.sh`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use tokio::process::Command;

/// One or more RabbitMQ nodes clustered together, each its own Erlang VM, listening on
/// 127.0.0.1 from `port` up. Stopped, and their data deleted, when dropped.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    urls: Vec<String>,
    /// The certificates of the nodes' TLS listeners (`ca.pem`, `server.pem`, `server.key`).
    tls: Option<PathBuf>,
}

impl Cluster {
    /// Starts `size` nodes on ports `port`, `port + 1`, …, after removing whatever an earlier,
    /// interrupted run left on those ports.
    pub async fn up(size: usize, port: u16) -> anyhow::Result<Cluster> {
        Cluster::start_all(size, port, None).await
    }

    /// [`Cluster::up`], each node listening for AMQP over TLS too, with the certificates in
    /// `tls`, and asking clients for a certificate from its CA; the URLs are `amqps://`.
    pub async fn up_with_tls(size: usize, port: u16, tls: &Path) -> anyhow::Result<Cluster> {
        Cluster::start_all(size, port, Some(tls.to_path_buf())).await
    }

    async fn start_all(size: usize, port: u16, tls: Option<PathBuf>) -> anyhow::Result<Cluster> {
        let mut cluster = Cluster {
            dir: std::env::temp_dir().join(format!("casebridge-cluster-{port}")),
            port,
            urls: Vec::new(),
            tls,
        };
        cluster.run(&["down"]).await?;
        let printed = cluster.run(&["up", &size.to_string()]).await?;
        cluster.urls = printed.lines().map(str::to_owned).collect();
        anyhow::ensure!(
            cluster.urls.len() == size,
            "cluster.sh up printed {printed:?}"
        );
        Ok(cluster)
    }

    /// The AMQP URLs of the nodes, node 1 first.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The setting that points a [`crate::System`] at these nodes, in order.
    pub fn bus_settings(&self) -> Vec<(String, String)> {
        vec![("CASEBRIDGE__BUS__URLS".into(), self.urls.join(","))]
    }

    /// Kills node `node` (1-based) with SIGKILL: the Erlang VM dies without a word.
    pub async fn kill(&self, node: usize) -> anyhow::Result<()> {
        self.run(&["kill", &node.to_string()]).await.map(drop)
    }

    /// Starts a killed node again on its data; returns once it speaks AMQP.
    pub async fn start(&self, node: usize) -> anyhow::Result<()> {
        self.run(&["start", &node.to_string()]).await.map(drop)
    }

    /// Adds a user who logs in with a client certificate whose CN is `name` (EXTERNAL).
    pub async fn add_certificate_user(&self, name: &str) -> anyhow::Result<()> {
        self.run(&["cert-user", name]).await.map(drop)
    }

    /// For each client connection to node 1, whether it uses TLS.
    pub async fn tls_connections(&self) -> anyhow::Result<Vec<bool>> {
        let printed = self.run(&["tls-connections"]).await?;
        Ok(printed.lines().map(|line| line.trim() == "true").collect())
    }

    /// The node (1-based) that leads quorum queue `queue`.
    pub async fn leader(&self, queue: &str) -> anyhow::Result<usize> {
        let printed = self.run(&["leader", queue]).await?;
        printed
            .trim()
            .parse()
            .with_context(|| format!("cluster.sh leader printed {printed:?}"))
    }

    async fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        output_of(script(self, args), &format!("cluster.sh {args:?}")).await
    }
}

fn script(cluster: &Cluster, args: &[&str]) -> Command {
    let mut command = deploy_script("cluster.sh", args);
    command
        .env("CASEBRIDGE_CLUSTER_DIR", &cluster.dir)
        .env("CASEBRIDGE_CLUSTER_PORT", cluster.port.to_string())
        .env("CASEBRIDGE_CLUSTER_NAME", format!("cb{}n", cluster.port));
    if let Some(tls) = &cluster.tls {
        command.env("CASEBRIDGE_CLUSTER_TLS", tls);
    }
    command
}

/// `bash deploy/local/<name> <args>`, with the real clock even in a faked-clock run.
fn deploy_script(name: &str, args: &[&str]) -> Command {
    let mut command = Command::new("bash");
    command
        .arg(format!(
            "{}/../deploy/local/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(args)
        .env_remove("LD_PRELOAD")
        .env_remove("FAKETIME");
    command
}

async fn output_of(mut command: Command, what: &str) -> anyhow::Result<String> {
    let output = command.output().await?;
    if !output.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8(output.stdout)?)
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = script(self, &["down"]).as_std_mut().output();
    }
}

/// A PostgreSQL server of its own on 127.0.0.1:`port` (trust authentication). Stopped, and its
/// data deleted, when dropped.
#[derive(Debug)]
pub struct Postgres {
    dir: PathBuf,
    port: u16,
    url: String,
    /// The certificates of its TLS (`ca.pem`, `server.pem`, `server.key`), when it takes TLS only.
    tls: Option<PathBuf>,
}

impl Postgres {
    /// Initialises and starts a server on `port`, after removing whatever an earlier,
    /// interrupted run left there.
    pub async fn up(port: u16) -> anyhow::Result<Postgres> {
        Postgres::start(port, None).await
    }

    /// [`Postgres::up`], accepting TLS connections only, with the certificates in `tls`; its
    /// URL verifies the server (`sslmode=verify-full`).
    pub async fn up_with_tls(port: u16, tls: &Path) -> anyhow::Result<Postgres> {
        Postgres::start(port, Some(tls.to_path_buf())).await
    }

    async fn start(port: u16, tls: Option<PathBuf>) -> anyhow::Result<Postgres> {
        let mut server = Postgres {
            dir: std::env::temp_dir().join(format!("casebridge-postgres-{port}")),
            port,
            url: String::new(),
            tls,
        };
        server.run(&["down"]).await?;
        server.url = server.run(&["up"]).await?.trim().to_owned();
        Ok(server)
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `pg_ctl restart -m immediate`: every backend dies without a checkpoint, as in a crash,
    /// and the server recovers from its write-ahead log.
    pub async fn restart_immediately(&self) -> anyhow::Result<()> {
        self.run(&["restart"]).await.map(drop)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = deploy_script("postgres.sh", args);
        command
            .env("CASEBRIDGE_PG_DIR", &self.dir)
            .env("CASEBRIDGE_PG_PORT", self.port.to_string());
        if let Some(tls) = &self.tls {
            command.env("CASEBRIDGE_PG_TLS", tls);
        }
        command
    }

    async fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        output_of(self.command(args), &format!("postgres.sh {args:?}")).await
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.command(&["down"]).as_std_mut().output();
    }
}
