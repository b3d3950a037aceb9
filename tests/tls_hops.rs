//! TLS on every hop: the referral path runs with RabbitMQ reached over `amqps://` and PostgreSQL
//! with `sslmode=verify-full`, each verifying the server's certificate against its CA and
//! presenting a client certificate because the server demands one; RabbitMQ takes that
//! certificate as the login (EXTERNAL authentication: no password anywhere). Both servers are private
//! ones with certificates this test makes. The broker sees only TLS connections, the database
//! takes no other kind, and neither lets in a client without a certificate.

use std::time::Duration;

use casebridge_gateway::pki::DevCa;
use casebridge_platform::bus::Topology;
use casebridge_platform::bus::amqp::{AmqpBus, AmqpOptions, AmqpTls};
use casebridge_platform::settings::QueueType;
use casebridge_platform::store::Db;
use casebridge_tests::System;
use casebridge_tests::agencies::CITY_POLICE;
use casebridge_tests::delivery;
use casebridge_tests::servers::{Cluster, Postgres};

/// A CA, a certificate for servers on 127.0.0.1 and a client certificate, as PEM files in `dir`.
fn make_certificates(dir: &std::path::Path) -> anyhow::Result<()> {
    let ca = DevCa::generate("CaseBridge test servers")?;
    let server = ca.issue_server(&["localhost", "127.0.0.1"])?;
    let client = ca.issue_agency(CITY_POLICE, "福州市公安局", 30)?;
    for (name, pem) in [
        ("ca.pem", ca.cert_pem()),
        ("server.pem", server.cert_pem),
        ("server.key", server.key_pem),
        ("client.pem", client.cert_pem),
        ("client.key", client.key_pem),
    ] {
        std::fs::write(dir.join(name), pem)?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_referral_path_runs_over_tls_to_rabbitmq_and_postgresql() -> anyhow::Result<()> {
    const TOTAL: usize = 20;
    let certs = tempfile::tempdir()?;
    make_certificates(certs.path())?;
    let broker = Cluster::up_with_tls(1, 5741, certs.path()).await?;
    let postgres = Postgres::up_with_tls(5797, certs.path()).await?;
    assert!(
        broker.urls()[0].starts_with("amqps://"),
        "{:?}",
        broker.urls()
    );

    let path = |name: &str| certs.path().join(name).display().to_string();
    let store_url = format!(
        "{}&sslcert={}&sslkey={}",
        postgres.url(),
        path("client.pem"),
        path("client.key")
    );
    // The client certificate's CN is the user; the URL carries no credentials.
    broker.add_certificate_user(CITY_POLICE).await?;
    let external = broker.urls()[0].replace("guest:guest@", "") + "?auth_mechanism=external";
    let mut settings = vec![("CASEBRIDGE__BUS__URLS".to_owned(), external)];
    settings.extend([
        ("CASEBRIDGE__BUS__TLS_CA".to_owned(), path("ca.pem")),
        ("CASEBRIDGE__BUS__TLS_CERT".to_owned(), path("client.pem")),
        ("CASEBRIDGE__BUS__TLS_KEY".to_owned(), path("client.key")),
        ("CASEBRIDGE__STORE__URL".to_owned(), store_url.clone()),
    ]);
    let system = System::distributed_with(settings, "info").await?;
    let stream = delivery::submit_stream(&system, "tls", TOTAL, 4, Duration::from_secs(60)).await?;
    delivery::assert_nothing_lost(&system, stream, TOTAL, "over TLS").await?;

    let connections = broker.tls_connections().await?;
    assert!(
        !connections.is_empty() && connections.iter().all(|tls| *tls),
        "every connection to the broker uses TLS: {connections:?}"
    );
    let db = Db::connect(&store_url, 1).await?;
    let ssl: bool = sqlx::query_scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
        .fetch_one(db.pool())
        .await?;
    assert!(ssl, "the store's connections use TLS");
    db.pool().close().await;

    // Without a client certificate neither server lets a client in.
    assert!(
        Db::connect(postgres.url(), 1).await.is_err(),
        "PostgreSQL demands a client certificate"
    );
    let ca_only = AmqpOptions {
        urls: broker.urls().to_vec(),
        tls: AmqpTls {
            ca_pem: Some(std::fs::read_to_string(certs.path().join("ca.pem"))?),
            client: None,
        },
        prefetch: 1,
        delivery_limit: 10,
        queue_type: QueueType::Quorum,
    };
    assert!(
        AmqpBus::connect(ca_only, Topology::new("cbtls-refused"))
            .await
            .is_err(),
        "RabbitMQ demands a client certificate"
    );
    println!(
        "{} connections to the broker, all TLS; PostgreSQL takes TLS only",
        connections.len()
    );
    system.stop().await
}
