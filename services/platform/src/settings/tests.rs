use super::*;

#[test]
fn durations_read_with_units() {
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
    assert!(parse_duration("ten seconds").is_err());
    assert!(parse_duration("5w").is_err());
    assert!(parse_duration("99999999999999999999d").is_err());
}

#[test]
fn a_settings_file_overrides_defaults_and_unknown_keys_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("casebridge.toml");
    std::fs::write(&file, "[bus]\nkind = \"amqp\"\nrequest_timeout = \"3s\"\n").expect("write");
    let s = Settings::load(Some(&file)).expect("load");
    assert_eq!(s.bus.kind, BusKind::Amqp);
    assert_eq!(s.bus.request_timeout, Duration::from_secs(3));
    assert_eq!(s.bus.prefetch, 64);

    std::fs::write(&file, "[bus]\nkinde = \"amqp\"\n").expect("write");
    let err = Settings::load(Some(&file)).expect_err("unknown key");
    assert!(err.to_string().contains("kinde"), "{err}");
}

#[test]
fn sizes_read_with_binary_units_and_print_back() {
    assert_eq!(parse_size("2GiB"), Ok(2 * GIB));
    assert_eq!(parse_size("500MiB"), Ok(500 * MIB));
    assert_eq!(parse_size("1048576"), Ok(MIB));
    assert!(parse_size("2GB").is_err());
    assert!(parse_size("99999999999TiB").is_err());
    assert_eq!(format_size(2 * GIB), "2GiB");
    assert_eq!(format_size(1536 * MIB), "1536MiB");
    assert_eq!(format_size(100), "100B");
}

#[test]
fn evidence_settings_read_from_a_file_and_s3_needs_a_bucket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("casebridge.toml");
    std::fs::write(
        &file,
        "[evidence]\nmax_size = \"64MiB\"\nstorage = \"s3\"\n[evidence.s3]\n\
             bucket = \"cb\"\nsecret_access_key = \"hunter2\"\n",
    )
    .expect("write");
    let s = Settings::load(Some(&file)).expect("load");
    assert_eq!(s.evidence.max_size, 64 * MIB);
    assert_eq!(s.evidence.storage, EvidenceStorageKind::S3);
    assert_eq!(s.evidence.s3.secret_access_key.expose(), "hunter2");
    assert!(
        !format!("{s:?}").contains("hunter2"),
        "a secret was printed"
    );

    let mut s = Settings::default();
    assert_eq!(s.evidence.max_size, 2 * GIB);
    s.evidence.storage = EvidenceStorageKind::S3;
    let err = s.validate().expect_err("no bucket");
    assert!(err.to_string().contains("evidence.s3.bucket"), "{err}");
    s.evidence.s3.bucket = "cb".into();
    s.evidence.max_size = 6 * GIB;
    let err = s.validate().expect_err("too large for one S3 copy");
    assert!(err.to_string().contains("evidence.max_size"), "{err}");
}

#[test]
fn a_fallback_supervisor_reads_as_an_agency_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("casebridge.toml");
    assert_eq!(Settings::default().deadlines.fallback_supervisor, None);
    std::fs::write(
        &file,
        "[deadlines]\nfallback_supervisor = \"11350100MB0100009D\"\n",
    )
    .expect("write");
    let s = Settings::load(Some(&file)).expect("load");
    assert_eq!(
        s.deadlines.fallback_supervisor.as_ref().map(|c| c.as_str()),
        Some("11350100MB0100009D")
    );
    std::fs::write(
        &file,
        "[deadlines]\nfallback_supervisor = \"11350100MB0100009E\"\n",
    )
    .expect("write");
    let err = Settings::load(Some(&file)).expect_err("bad check character");
    assert!(err.to_string().contains("fallback_supervisor"), "{err}");
}

#[test]
fn a_cluster_is_several_urls_in_order_given_as_a_list_or_separated_by_commas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("casebridge.toml");
    assert_eq!(
        Settings::default().bus.nodes(),
        vec!["amqp://guest:guest@127.0.0.1:5672/%2f".to_owned()],
        "without urls, the one url"
    );
    std::fs::write(
        &file,
        "[bus]\nkind = \"amqp\"\nurls = [\"amqp://127.0.0.1:5701\", \"amqp://127.0.0.1:5702\"]\n",
    )
    .expect("write");
    let listed = Settings::load(Some(&file)).expect("load a list");
    assert_eq!(
        listed.bus.nodes(),
        ["amqp://127.0.0.1:5701", "amqp://127.0.0.1:5702"]
    );
    // An environment variable gives a list as one string.
    std::fs::write(
        &file,
        "[bus]\nkind = \"amqp\"\nurls = \"amqp://127.0.0.1:5701, amqp://127.0.0.1:5702,\"\n",
    )
    .expect("write");
    let joined = Settings::load(Some(&file)).expect("load a joined list");
    assert_eq!(joined.bus.nodes(), listed.bus.nodes());
}

#[test]
fn traffic_leaving_the_machine_is_encrypted_unless_plaintext_is_allowed() {
    let mut s = Settings::default();
    s.bus.kind = BusKind::Amqp;
    s.bus.urls = vec!["amqp://guest:guest@127.0.0.1:5701/%2f".into()];
    s.store.url = "postgres://postgres@localhost:5432/cb".into();
    s.validate().expect("loopback may be plain");

    s.bus
        .urls
        .push("amqp://cb:secret@mq2.example.gov.cn:5672/%2f".into());
    let err = s.validate().expect_err("plain AMQP to another host");
    assert!(
        err.to_string().contains("bus.urls") && err.to_string().contains("amqps"),
        "{err}"
    );
    s.bus.urls[1] = "amqps://cb:secret@mq2.example.gov.cn:5671/%2f".into();
    s.validate().expect("amqps anywhere");

    s.store.url = "postgres://cb@[2001:db8::5]:5432/cb".into();
    let err = s.validate().expect_err("plain PostgreSQL to another host");
    assert!(err.to_string().contains("store.url"), "{err}");
    s.store.url =
        "postgres://cb@db.example.gov.cn/cb?sslmode=verify-full&sslrootcert=ca.pem".into();
    s.validate().expect("verified TLS");
    s.store.url = "postgres://cb@db.example.gov.cn/cb?sslmode=prefer".into();
    assert!(s.validate().is_err(), "prefer falls back to clear");
    s.allow_plaintext_remote = true;
    s.validate().expect("allowed on purpose");

    s.bus.tls_cert = Some("client.pem".into());
    let err = s.validate().expect_err("a certificate without its key");
    assert!(err.to_string().contains("bus.tls_key"), "{err}");
}

#[test]
fn a_url_names_its_host_behind_credentials_ports_and_brackets() {
    assert_eq!(url_host("amqps://u:p@mq.example:5671/%2f"), "mq.example");
    assert_eq!(url_host("postgres://[::1]:5432/db"), "::1");
    assert_eq!(url_host("postgres:///db?host=/run/postgresql"), "");
    assert!(is_loopback("postgres:///db?host=/run/postgresql"));
    assert!(is_loopback("amqp://127.8.0.1"));
    assert!(!is_loopback("amqp://localhost.example.org"));
}

#[test]
fn a_non_postgres_store_url_is_refused_by_name() {
    let mut s = Settings::default();
    s.store.url = "mysql://x".into();
    let err = s.validate().expect_err("invalid");
    assert!(err.to_string().contains("store.url"), "{err}");
}

#[test]
fn the_log_format_is_text_unless_json_is_asked_for() {
    assert_eq!(Settings::default().log_format, LogFormat::Text);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("casebridge.toml");
    std::fs::write(&file, "log_format = \"json\"\n").expect("write");
    assert_eq!(
        Settings::load(Some(&file)).expect("load").log_format,
        LogFormat::Json
    );
    std::fs::write(&file, "log_format = \"xml\"\n").expect("write");
    let err = Settings::load(Some(&file)).expect_err("not a format");
    assert!(err.to_string().contains("log_format"), "{err}");
}

#[test]
fn admin_and_trace_settings_read_from_the_environment_and_are_checked() {
    let env = |pairs: &[(&str, &str)]| {
        Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    };
    let s = Settings::load_with_env(
        None,
        env(&[
            ("CASEBRIDGE__ADMIN__LISTEN", "127.0.0.1:9464"),
            ("CASEBRIDGE__TRACE__ENDPOINT", "http://127.0.0.1:4317"),
            ("CASEBRIDGE__TRACE__SAMPLE_RATIO", "0.25"),
        ]),
    )
    .expect("load");
    assert_eq!(
        s.admin.listen,
        Some(SocketAddr::from(([127, 0, 0, 1], 9464)))
    );
    assert_eq!(s.admin.calendar_days_ahead, 90);
    assert_eq!(s.trace.endpoint, "http://127.0.0.1:4317");
    assert_eq!(s.trace.sample_ratio, 0.25);
    assert!(
        Settings::default().admin.listen.is_none(),
        "no admin port unless asked"
    );

    let err = Settings::load_with_env(None, env(&[("CASEBRIDGE__TRACE__SAMPLE_RATIO", "2")]))
        .expect_err("a ratio above 1");
    assert!(err.to_string().contains("trace.sample_ratio"), "{err}");
    let err = Settings::load_with_env(
        None,
        env(&[("CASEBRIDGE__TRACE__ENDPOINT", "collector:4317")]),
    )
    .expect_err("not a URL");
    assert!(err.to_string().contains("trace.endpoint"), "{err}");
    let err = Settings::load_with_env(None, env(&[("CASEBRIDGE__ADMIN__LISTEN_ON", "x")]))
        .expect_err("an unknown key");
    assert!(err.to_string().contains("listen_on"), "{err}");
}

#[test]
fn replay_retention_defaults_to_ninety_days_and_a_value_under_a_week_is_refused_by_name() {
    assert_eq!(
        Settings::default().store.replay_retention,
        Duration::from_secs(90 * 86_400)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("casebridge.toml");
    std::fs::write(&file, "[store]\nreplay_retention = \"30d\"\n").expect("write");
    assert_eq!(
        Settings::load(Some(&file))
            .expect("load")
            .store
            .replay_retention,
        Duration::from_secs(30 * 86_400)
    );
    std::fs::write(&file, "[store]\nreplay_retention = \"6d\"\n").expect("write");
    match Settings::load(Some(&file)) {
        Err(SettingsError::Invalid { key, reason }) => {
            assert_eq!(key, "store.replay_retention");
            assert!(reason.contains("at least 7d"), "{reason}");
        }
        other => panic!("a retention under a week must be refused: {other:?}"),
    }
}

#[test]
fn queues_are_quorum_unless_classic_is_asked_for_on_a_single_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("casebridge.toml");
    assert_eq!(Settings::default().bus.queue_type, QueueType::Quorum);
    std::fs::write(&file, "[bus]\nkind = \"amqp\"\nqueue_type = \"classic\"\n").expect("write");
    let s = Settings::load(Some(&file)).expect("classic on the one broker");
    assert_eq!(s.bus.queue_type, QueueType::Classic);
    let env = std::collections::HashMap::from([(
        "CASEBRIDGE__BUS__QUEUE_TYPE".to_owned(),
        "classic".to_owned(),
    )]);
    let s = Settings::load_with_env(None, Some(env)).expect("from the environment");
    assert_eq!(s.bus.queue_type, QueueType::Classic);

    std::fs::write(
        &file,
        "[bus]\nkind = \"amqp\"\nqueue_type = \"classic\"\nurls = \
         [\"amqp://127.0.0.1:5701/%2f\", \"amqp://127.0.0.1:5702/%2f\"]\n",
    )
    .expect("write");
    let err = Settings::load(Some(&file)).expect_err("classic on a cluster");
    assert!(err.to_string().contains("bus.queue_type"), "{err}");

    std::fs::write(&file, "[bus]\nqueue_type = \"lazy\"\n").expect("write");
    let err = Settings::load(Some(&file)).expect_err("no such queue type");
    assert!(err.to_string().contains("lazy"), "{err}");
}
