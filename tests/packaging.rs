//! What `deploy/` ships to run CaseBridge, checked against the code it deploys: the systemd
//! units (`systemd-analyze verify`), the compose file and the Kubernetes manifests (their
//! structure, and that every setting they give exists and validates), the RabbitMQ definitions
//! file (generated from the bus topology, imported into a fresh vhost, then used by the real
//! services), and the Grafana dashboard (every query names a metric of [`METRICS`], which a
//! running system serves).
//!
//! The compose file and the manifests cannot be run here (no container engine, no cluster):
//! these tests are how far they are checked (docs/operations.md, "Deploying").

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use casebridge_core::deadline::RuleTable;
use casebridge_platform::bus::{QueueSpec, Topology};
use casebridge_platform::settings::Settings;
use casebridge_platform::testing::{eventually, unique_name};
use casebridge_proto::v1 as pb;
use casebridge_tests::agencies::*;
use casebridge_tests::{System, casebridge_bin, submission};
use serde_json::Value;

/// Every metric CaseBridge exports (without a histogram's `_bucket`, `_sum` and `_count`):
/// the dashboard may use these and no other, and a running process serves exactly these.
const METRICS: &[&str] = &[
    "casebridge_build_info",
    "casebridge_rpc_requests_total",
    "casebridge_rpc_errors_total",
    "casebridge_rpc_duration_seconds",
    "casebridge_bus_published_total",
    "casebridge_bus_consumed_total",
    "casebridge_bus_redelivered_total",
    "casebridge_bus_dead_lettered_total",
    "casebridge_outbox_backlog",
    "casebridge_outbox_oldest_age_seconds",
    "casebridge_deadline_firing_lag_seconds",
    "casebridge_obligations_open",
    "casebridge_obligations_overdue",
    "casebridge_escalations_undeliverable_total",
    "casebridge_calendar_years_loaded",
    "casebridge_calendar_reach_seconds",
    "casebridge_evidence_bytes_in_total",
    "casebridge_evidence_bytes_out_total",
    "casebridge_ready",
];

/// The namespace and vhost the shipped definitions file is made for.
const NAMESPACE: &str = "casebridge";
const VHOST: &str = "casebridge";

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The YAML documents of a file, as JSON values (aliases resolved).
fn yaml_documents(path: &Path) -> Vec<Value> {
    use serde::Deserialize as _;
    let text = read(path);
    serde_norway::Deserializer::from_str(&text)
        .map(|document| {
            Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{}: not YAML of plain data: {e}", path.display()))
        })
        .filter(|document| !document.is_null())
        .collect()
}

/// The processes the binary runs on their own: the commands `casebridge --help` describes as
/// running alone, plus `up`.
fn process_commands() -> Vec<String> {
    let help = Command::new(casebridge_bin())
        .arg("--help")
        .output()
        .expect("casebridge --help");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let mut commands: Vec<String> = help
        .lines()
        .filter(|line| line.contains("alone (needs bus.kind = amqp)"))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect();
    assert!(
        commands.len() >= 8,
        "casebridge --help no longer says which commands run alone:\n{help}"
    );
    commands.push("up".into());
    commands
}

// ---------------------------------------------------------------------------------------------
// systemd

/// One unit file: `(section, key) → values` in order (a key may repeat).
fn unit_entries(text: &str) -> BTreeMap<(String, String), Vec<String>> {
    let mut section = String::new();
    let mut entries: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line.split_once('=').expect("key=value");
        entries
            .entry((section.clone(), key.trim().to_owned()))
            .or_default()
            .push(value.trim().to_owned());
    }
    entries
}

fn units() -> Vec<(String, String)> {
    let mut units: Vec<(String, String)> = std::fs::read_dir(deploy().join("systemd"))
        .expect("deploy/systemd")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "service" || ext == "target")
        })
        .map(|path| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, read(&path))
        })
        .collect();
    units.sort();
    units
}

/// `systemd-analyze`, or a failure that says how to get it: a check that cannot run must not
/// pass.
fn systemd_analyze() -> PathBuf {
    let found = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists());
    found.unwrap_or_else(|| {
        panic!(
            "systemd-analyze is not installed, so the systemd units cannot be verified: install \
             Debian's `systemd` package (deploy/local/services.sh does)"
        )
    })
}

#[test]
fn every_systemd_unit_passes_systemd_analyze_verify_without_a_warning() {
    let analyze = systemd_analyze();
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = casebridge_bin();
    let mut names = Vec::new();
    for (name, text) in units() {
        // verify checks that ExecStart's program exists: the binary of this build.
        let text = text.replace("/usr/bin/casebridge", &binary.display().to_string());
        std::fs::write(dir.path().join(&name), text).expect("write unit");
        names.push(name);
    }
    assert!(names.len() >= 10, "units: {names:?}");
    let output = Command::new(&analyze)
        .arg("verify")
        .args(&names)
        .current_dir(dir.path())
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("run systemd-analyze verify");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    // verify exits 0 with warnings (an unknown key, a value it cannot parse) on stderr.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|line| names.iter().any(|name| line.contains(name.as_str())))
        .collect();
    assert!(ours.is_empty(), "systemd-analyze verify warns:\n{stderr}");

    // The check sees what it must: a misspelt key in one of our units is reported.
    let broken = dir.path().join("casebridge-broken.service");
    let gateway = read(&dir.path().join("casebridge-gateway.service"));
    std::fs::write(
        &broken,
        gateway.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"),
    )
    .expect("write");
    let output = Command::new(&analyze)
        .args(["verify", "casebridge-broken.service"])
        .current_dir(dir.path())
        .output()
        .expect("run systemd-analyze verify");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("NoNewPrivilege"),
        "systemd-analyze verify did not report an unknown key: {output:?}"
    );
}

#[test]
fn there_is_a_hardened_unit_for_every_process_stopping_after_shutdown_grace() {
    let units: BTreeMap<String, BTreeMap<(String, String), Vec<String>>> = units()
        .into_iter()
        .map(|(name, text)| (name, unit_entries(&text)))
        .collect();
    let sysconfig = deploy().join("systemd/casebridge.sysconfig");
    let grace = Settings::load_with_env(None, Some(env_lines(&read(&sysconfig), true)))
        .expect("the sysconfig file loads")
        .shutdown_grace;
    let one = |unit: &BTreeMap<(String, String), Vec<String>>, section: &str, key: &str| {
        unit.get(&(section.to_owned(), key.to_owned()))
            .and_then(|values| values.last().cloned())
    };
    let target = units.get("casebridge.target").expect("casebridge.target");
    let wanted: BTreeSet<String> = one(target, "Unit", "Wants")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut admin_ports = BTreeSet::new();
    for command in process_commands() {
        let (name, unit) = units
            .iter()
            .find(|(_, unit)| {
                one(unit, "Service", "ExecStart")
                    .is_some_and(|exec| exec.split_whitespace().nth(1) == Some(command.as_str()))
            })
            .unwrap_or_else(|| panic!("no unit runs `casebridge {command}`"));
        let service = |key: &str| one(unit, "Service", key).unwrap_or_default();
        assert_eq!(service("Type"), "simple", "{name}: no sd_notify, so simple");
        assert_eq!(service("User"), "casebridge", "{name}");
        assert_eq!(service("Restart"), "on-failure", "{name}");
        assert_eq!(service("KillSignal"), "SIGTERM", "{name}");
        assert_eq!(
            service("EnvironmentFile"),
            "-/etc/sysconfig/casebridge",
            "{name}"
        );
        let stop = casebridge_platform::settings::parse_duration(&service("TimeoutStopSec"))
            .unwrap_or_else(|e| panic!("{name}: TimeoutStopSec: {e}"));
        assert!(
            stop > grace,
            "{name}: TimeoutStopSec {stop:?} must exceed shutdown_grace {grace:?}, or systemd \
             kills the drain"
        );
        for (key, value) in [
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("PrivateTmp", "yes"),
            ("PrivateDevices", "yes"),
            ("ProtectKernelTunables", "yes"),
            ("ProtectKernelModules", "yes"),
            ("ProtectKernelLogs", "yes"),
            ("ProtectControlGroups", "yes"),
            ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
            ("SystemCallFilter", "@system-service"),
            ("CapabilityBoundingSet", ""),
            ("LockPersonality", "yes"),
            ("MemoryDenyWriteExecute", "yes"),
            ("StateDirectory", "casebridge"),
        ] {
            assert_eq!(service(key), value, "{name}: {key}");
        }
        let environment: HashMap<String, String> = unit
            .get(&("Service".to_owned(), "Environment".to_owned()))
            .into_iter()
            .flatten()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        assert_eq!(
            environment.get("CASEBRIDGE__DATA_DIR").map(String::as_str),
            Some("/var/lib/casebridge"),
            "{name}: the data directory is the StateDirectory"
        );
        let admin = environment
            .get("CASEBRIDGE__ADMIN__LISTEN")
            .unwrap_or_else(|| panic!("{name}: no admin port"));
        if command == "up" {
            assert!(
                one(unit, "Unit", "Conflicts").as_deref() == Some("casebridge.target"),
                "{name}: `up` runs everything, so never beside the separate processes"
            );
        } else {
            assert!(
                wanted.contains(name),
                "casebridge.target does not want {name}"
            );
            assert_eq!(
                one(unit, "Unit", "PartOf").as_deref(),
                Some("casebridge.target"),
                "{name}"
            );
            assert!(
                admin_ports.insert(admin.clone()),
                "{name}: admin port {admin} is another unit's too"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Settings given by the deployment files

/// The `CASEBRIDGE__…=value` assignments of a file of lines (an environment file, a Dockerfile,
/// a unit's `Environment=` lines), with the commented-out examples too when `examples`: every
/// example must be a real setting as well.
fn env_lines(text: &str, examples: bool) -> HashMap<String, String> {
    let mut env = HashMap::new();
    for line in text.lines() {
        let mut line = line.trim();
        if examples {
            line = line.trim_start_matches('#').trim_start();
        }
        for prefix in ["Environment=", "ENV "] {
            line = line.strip_prefix(prefix).unwrap_or(line).trim_start();
        }
        let line = line.trim_end_matches('\\').trim();
        if let Some((key, value)) = line.split_once('=')
            && key.starts_with("CASEBRIDGE__")
            && !key.contains(char::is_whitespace)
        {
            env.insert(key.to_owned(), value.to_owned());
        }
    }
    env
}

/// The `CASEBRIDGE__…` variables of a compose service's or a container's `environment`/`env`.
fn env_of(environment: &Value) -> HashMap<String, String> {
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let pairs: Vec<(String, String)> = match environment {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        // Kubernetes: [{name, value}]; compose's list form: ["KEY=value"].
        Value::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(line) => line
                    .split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned())),
                Value::Object(_) => Some((
                    item["name"].as_str()?.to_owned(),
                    item.get("value").map(text).unwrap_or_default(),
                )),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    pairs
        .into_iter()
        .filter(|(key, _)| key.starts_with("CASEBRIDGE__"))
        .collect()
}

/// Loads settings as a process given `toml` (a settings file) and `env` would: unknown keys
/// and invalid values fail, naming `origin`.
fn check_settings(origin: &str, toml: Option<&str>, env: HashMap<String, String>) -> Settings {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = toml.map(|text| {
        let path = dir.path().join("casebridge.toml");
        std::fs::write(&path, text).expect("write");
        path
    });
    let keys: Vec<String> = env.keys().cloned().collect();
    Settings::load_with_env(file.as_deref(), Some(env))
        .unwrap_or_else(|e| panic!("{origin}: {e:#} (variables: {keys:?})"))
}

/// The Kubernetes ConfigMap casebridge-config: the settings file and the directory.
fn configmap() -> Value {
    yaml_documents(&deploy().join("kubernetes/config.yaml"))
        .into_iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "casebridge-config")
        .expect("ConfigMap casebridge-config")
}

/// The settings TOML of the ConfigMap casebridge-config.
fn configmap_toml() -> String {
    configmap()["data"]["casebridge.toml"]
        .as_str()
        .expect("casebridge.toml")
        .to_owned()
}

fn kubernetes_documents() -> Vec<(String, Value)> {
    let dir = deploy().join("kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/kubernetes")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|path| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            yaml_documents(path)
                .into_iter()
                .map(move |document| (name.clone(), document))
        })
        .collect()
}

#[test]
fn every_setting_the_deployment_files_give_exists_and_validates() {
    // The check itself: a misspelt variable is refused, naming it.
    let mut misspelt = HashMap::new();
    misspelt.insert("CASEBRIDGE__BUS__URLL".to_owned(), "amqp://x".to_owned());
    let refused = Settings::load_with_env(None, Some(misspelt)).expect_err("unknown key");
    assert!(refused.to_string().contains("urll"), "{refused}");

    // systemd: the environment file (its examples too) and each unit's Environment= lines.
    let sysconfig = read(&deploy().join("systemd/casebridge.sysconfig"));
    let from_file = env_lines(&sysconfig, true);
    assert!(from_file.len() >= 20, "{from_file:?}");
    check_settings("deploy/systemd/casebridge.sysconfig", None, from_file);
    for (name, text) in units() {
        let mut env = env_lines(&text, false);
        env.extend(env_lines(&sysconfig, false));
        check_settings(&format!("deploy/systemd/{name}"), None, env);
    }

    // The image's own ENV.
    let dockerfile = env_lines(&read(&deploy().join("Dockerfile")), false);
    assert!(
        dockerfile.contains_key("CASEBRIDGE__ADMIN__LISTEN"),
        "{dockerfile:?}"
    );
    check_settings("deploy/Dockerfile", None, dockerfile);

    // compose: each CaseBridge container's environment.
    let compose = &yaml_documents(&deploy().join("compose/compose.yaml"))[0];
    let mut checked = 0;
    for (name, service) in compose["services"].as_object().expect("services") {
        let env = env_of(&service["environment"]);
        if env.is_empty() {
            continue;
        }
        check_settings(&format!("deploy/compose/compose.yaml, {name}"), None, env);
        checked += 1;
    }
    assert!(checked >= 10, "{checked} compose services with settings");

    // Kubernetes: the ConfigMap's settings file with each container's environment.
    let toml = configmap_toml();
    check_settings(
        "deploy/kubernetes/config.yaml, casebridge.toml",
        Some(&toml),
        HashMap::new(),
    );
    let mut containers = 0;
    for (file, document) in kubernetes_documents() {
        let pod = match document["kind"].as_str() {
            Some("Deployment" | "Job") => &document["spec"]["template"]["spec"],
            _ => continue,
        };
        for container in pod["containers"].as_array().into_iter().flatten() {
            let env = env_of(&container["env"]);
            if env.is_empty() {
                continue;
            }
            let origin = format!(
                "deploy/kubernetes/{file}, {} {}",
                document["kind"].as_str().unwrap_or_default(),
                document["metadata"]["name"].as_str().unwrap_or_default()
            );
            let settings = check_settings(&origin, Some(&toml), env);
            // Off the machine, both hops are encrypted and verified (docs/operations.md).
            assert!(!settings.allow_plaintext_remote, "{origin}");
            assert!(
                settings
                    .bus
                    .nodes()
                    .iter()
                    .all(|url| url.starts_with("amqps://")),
                "{origin}: {:?}",
                settings.bus.nodes()
            );
            assert!(
                settings.store.url.is_empty() || settings.store.url.contains("sslmode=verify-full"),
                "{origin}: {}",
                settings.store.url
            );
            containers += 1;
        }
    }
    assert_eq!(containers, 8, "one per process");
}

// ---------------------------------------------------------------------------------------------
// compose

#[test]
fn the_compose_file_runs_every_process_with_two_gateways_behind_readiness_checks() {
    let compose = &yaml_documents(&deploy().join("compose/compose.yaml"))[0];
    let services = compose["services"].as_object().expect("services");
    assert!(
        services.contains_key("rabbitmq") && services.contains_key("postgres"),
        "{:?}",
        services.keys()
    );
    let command_of = |service: &Value| -> Option<String> {
        service["command"]
            .as_array()
            .and_then(|c| c.first())
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let volumes = compose["volumes"].as_object().expect("volumes");
    for (name, service) in services {
        for dependency in service["depends_on"].as_object().into_iter().flatten() {
            assert!(
                services.contains_key(dependency.0),
                "{name} depends on unknown {}",
                dependency.0
            );
        }
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let source = volume
                .as_str()
                .expect("short volume syntax")
                .split(':')
                .next();
            let source = source.unwrap_or_default();
            if source.starts_with('.') {
                let path = deploy().join("compose").join(source);
                assert!(path.exists(), "{name} mounts missing {}", path.display());
            } else {
                assert!(volumes.contains_key(source), "{name}: undeclared {source}");
            }
        }
    }
    for command in process_commands().iter().filter(|c| *c != "up") {
        let running: Vec<(&String, &Value)> = services
            .iter()
            .filter(|(_, s)| command_of(s).as_deref() == Some(command.as_str()))
            .collect();
        let expected = if command == "gateway" { 2 } else { 1 };
        assert_eq!(
            running.len(),
            expected,
            "services running `casebridge {command}`"
        );
        for (name, service) in running {
            let env = env_of(&service["environment"]);
            let port = env["CASEBRIDGE__ADMIN__LISTEN"]
                .rsplit(':')
                .next()
                .expect("port")
                .to_owned();
            let check = service["healthcheck"]["test"].to_string();
            assert!(
                check.contains(&format!("127.0.0.1:{port}/readyz")),
                "{name}: the health check asks the admin port's /readyz: {check}"
            );
            assert!(
                service["volumes"]
                    .to_string()
                    .contains(":/var/lib/casebridge"),
                "{name}: the shared data volume (PKI, operator key)"
            );
            let grace = service["stop_grace_period"].as_str().unwrap_or("10s");
            assert!(
                casebridge_platform::settings::parse_duration(grace).expect("duration")
                    > Duration::from_secs(10),
                "{name}: docker stop must wait longer than shutdown_grace"
            );
        }
    }
    // The topology comes from the shipped definitions file.
    assert!(
        services["rabbitmq-topology"]["volumes"]
            .to_string()
            .contains("../rabbitmq/definitions.json")
    );
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

#[test]
fn the_kubernetes_manifests_run_every_process_with_probes_budgets_and_operators() {
    let documents = kubernetes_documents();
    let named = |kind: &str| -> BTreeMap<String, &Value> {
        documents
            .iter()
            .filter(|(_, d)| d["kind"] == kind)
            .map(|(_, d)| (d["metadata"]["name"].as_str().expect("name").to_owned(), d))
            .collect()
    };
    for (file, document) in &documents {
        assert_eq!(
            document["metadata"]["namespace"]
                .as_str()
                .or_else(|| { (document["kind"] == "Namespace").then_some("casebridge") }),
            Some("casebridge"),
            "{file}: {}",
            document["metadata"]["name"]
        );
    }
    let rabbitmq = named("RabbitmqCluster");
    let mq = rabbitmq
        .get("casebridge-mq")
        .expect("RabbitmqCluster casebridge-mq");
    assert_eq!(mq["apiVersion"], "rabbitmq.com/v1beta1");
    let postgres = named("Cluster");
    let db = postgres
        .get("casebridge-db")
        .expect("CloudNativePG Cluster");
    assert_eq!(db["apiVersion"], "postgresql.cnpg.io/v1");

    // The Secrets and ConfigMaps pods use: shipped here, or made by an operator or kubectl
    // (named in the manifests' comments).
    let made_elsewhere = [
        "casebridge-mq-default-user",
        "casebridge-mq-ca",
        "casebridge-mq-definitions",
        "casebridge-db-app",
        "casebridge-db-ca",
    ];
    let secrets = named("Secret");
    let configmaps = named("ConfigMap");
    let known = |name: &str| {
        secrets.contains_key(name)
            || configmaps.contains_key(name)
            || made_elsewhere.contains(&name)
    };

    let deployments = named("Deployment");
    let toml = configmap_toml();
    let settings = check_settings("casebridge.toml", Some(&toml), HashMap::new());
    let admin = settings.admin.listen.expect("admin.listen").port();
    for command in process_commands().iter().filter(|c| *c != "up") {
        let (name, deployment) = deployments
            .iter()
            .find(|(_, d)| {
                d["spec"]["template"]["spec"]["containers"][0]["args"][0] == command.as_str()
            })
            .unwrap_or_else(|| panic!("no Deployment runs `casebridge {command}`"));
        let replicas = deployment["spec"]["replicas"].as_u64().expect("replicas");
        if command == "gateway" {
            assert_eq!(replicas, 2, "{name}");
        }
        let labels = &deployment["spec"]["template"]["metadata"]["labels"];
        for (key, value) in deployment["spec"]["selector"]["matchLabels"]
            .as_object()
            .expect("selector")
        {
            assert_eq!(&labels[key], value, "{name}: the selector matches its pods");
        }
        let pod = &deployment["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert!(
            container["args"]
                .to_string()
                .contains("/etc/casebridge/config/casebridge.toml"),
            "{name} reads the ConfigMap's settings"
        );
        let port_named = |port: &str| {
            container["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == port)
                .and_then(|p| p["containerPort"].as_u64())
        };
        assert_eq!(port_named("admin"), Some(u64::from(admin)), "{name}");
        for (probe, path) in [("livenessProbe", "/livez"), ("readinessProbe", "/readyz")] {
            assert_eq!(container[probe]["httpGet"]["path"], path, "{name}: {probe}");
            assert_eq!(container[probe]["httpGet"]["port"], "admin", "{name}");
        }
        assert!(
            container["resources"]["requests"]["cpu"].is_string()
                && container["resources"]["requests"]["memory"].is_string(),
            "{name}: resource requests"
        );
        let grace = pod["terminationGracePeriodSeconds"]
            .as_u64()
            .expect("grace");
        assert!(
            Duration::from_secs(grace) > settings.shutdown_grace,
            "{name}: Kubernetes must wait longer than shutdown_grace"
        );
        // Every mount has its volume, and every volume's source exists.
        let volumes: BTreeMap<&str, &Value> = pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .map(|v| (v["name"].as_str().expect("volume name"), v))
            .collect();
        for mount in container["volumeMounts"].as_array().expect("mounts") {
            let volume = mount["name"].as_str().expect("mount name");
            assert!(volumes.contains_key(volume), "{name}: no volume {volume}");
        }
        for volume in volumes.values() {
            for source in [
                volume["secret"]["secretName"].as_str(),
                volume["configMap"]["name"].as_str(),
            ]
            .into_iter()
            .flatten()
            {
                assert!(known(source), "{name} mounts unknown {source}");
            }
            if let Some(claim) = volume["persistentVolumeClaim"]["claimName"].as_str() {
                assert!(
                    named("PersistentVolumeClaim").contains_key(claim),
                    "{name}: no claim {claim}"
                );
            }
        }
        for variable in container["env"].as_array().into_iter().flatten() {
            if let Some(secret) = variable["valueFrom"]["secretKeyRef"]["name"].as_str() {
                assert!(known(secret), "{name}: unknown Secret {secret}");
            }
        }
        // The URLs name the operators' services.
        let env = container["env"].to_string();
        assert!(
            env.contains("@casebridge-mq.casebridge.svc:5671/"),
            "{name}"
        );
        if command != "gateway" {
            assert!(
                env.contains("@casebridge-db-rw.casebridge.svc:5432/"),
                "{name}"
            );
        }
    }

    // Agencies reach the gateways, and drains leave one up.
    let gateway_labels =
        &deployments["casebridge-gateway"]["spec"]["template"]["metadata"]["labels"];
    let selects_gateways = |selector: &Value| {
        selector
            .as_object()
            .expect("selector")
            .iter()
            .all(|(key, value)| &gateway_labels[key] == value)
    };
    let services = named("Service");
    let service = services.get("casebridge-gateway").expect("gateway Service");
    assert!(selects_gateways(&service["spec"]["selector"]));
    let budgets = named("PodDisruptionBudget");
    let budget = budgets
        .get("casebridge-gateway")
        .expect("PodDisruptionBudget");
    assert!(selects_gateways(&budget["spec"]["selector"]["matchLabels"]));
    assert_eq!(budget["spec"]["minAvailable"], 1);

    // The directory in the ConfigMap is the shipped example, not a copy drifting from it.
    assert_eq!(
        configmap()["data"]["directory.toml"].as_str(),
        Some(read(&deploy().join("directory.toml")).as_str())
    );
}

// ---------------------------------------------------------------------------------------------
// RabbitMQ definitions

/// Every durable queue of a CaseBridge deployment, as the services declare them with the
/// shipped rule table.
fn every_durable_queue() -> Vec<QueueSpec> {
    let rules = RuleTable::from_toml_str(include_str!("../deploy/rules.toml")).expect("rules");
    casebridge_cli::system::durable_queues(&rules)
}

fn expected_definitions() -> Value {
    Topology::new(NAMESPACE).definitions(
        VHOST,
        &every_durable_queue(),
        Settings::default().bus.delivery_limit,
        Settings::default().bus.queue_type,
    )
}

#[test]
fn the_shipped_definitions_file_is_the_topology_the_services_declare() {
    let path = deploy().join("rabbitmq/definitions.json");
    let expected = expected_definitions();
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&expected).expect("json")
    );
    // CASEBRIDGE_BLESS=1 writes the file anew after a change of topology.
    if std::env::var_os("CASEBRIDGE_BLESS").is_some() {
        std::fs::write(&path, &text).expect("write definitions");
    }
    let shipped: Value = serde_json::from_str(&read(&path)).expect("definitions.json is JSON");
    assert!(
        shipped == expected,
        "deploy/rabbitmq/definitions.json differs from the topology the services declare; \
         write it anew with `CASEBRIDGE_BLESS=1 cargo test -p casebridge-tests --test packaging \
         definitions`, and review the difference"
    );
    let queues = shipped["queues"].as_array().expect("queues");
    assert_eq!(
        queues.len(),
        every_durable_queue().len() + 1,
        "and the dead letters"
    );
}

fn rabbitmqctl(args: &[&str]) -> String {
    let program = ["/usr/sbin/rabbitmqctl", "/usr/lib/rabbitmq/bin/rabbitmqctl"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("rabbitmqctl");
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run rabbitmqctl {args:?}: {e}"));
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A vhost of the machine's RabbitMQ, deleted when dropped (also when the test fails).
struct Vhost(String);

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = Command::new("/usr/sbin/rabbitmqctl")
            .args(["delete_vhost", &self.0])
            .output();
    }
}

/// The durable queues of a vhost with their arguments, and the bindings of named exchanges to
/// them, as `rabbitmqctl` lists them.
fn broker_topology(vhost: &str) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let queues = rabbitmqctl(&[
        "-q",
        "list_queues",
        "-p",
        vhost,
        "name",
        "durable",
        "arguments",
        "--no-table-headers",
    ]);
    let queues: BTreeMap<String, String> = queues
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, '\t');
            let (name, durable, arguments) = (fields.next()?, fields.next()?, fields.next()?);
            (durable == "true").then(|| (name.to_owned(), arguments.to_owned()))
        })
        .collect();
    let bindings = rabbitmqctl(&[
        "-q",
        "list_bindings",
        "-p",
        vhost,
        "source_name",
        "destination_name",
        "routing_key",
        "--no-table-headers",
    ]);
    let bindings = bindings
        .lines()
        // The default exchange's implicit binding of every queue has no source name; a
        // gateway's transient notification queue is its own, not the deployment's.
        .filter(|line| !line.starts_with('\t'))
        .filter(|line| {
            line.split('\t')
                .nth(1)
                .is_some_and(|queue| queues.contains_key(queue))
        })
        .map(str::to_owned)
        .collect();
    (queues, bindings)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_definitions_import_into_a_fresh_vhost_and_the_services_run_on_them()
-> anyhow::Result<()> {
    let vhost = Vhost(unique_name("cbdefs"));
    rabbitmqctl(&["add_vhost", &vhost.0]);
    rabbitmqctl(&["set_permissions", "-p", &vhost.0, "guest", ".*", ".*", ".*"]);

    // The shipped file, every item moved to this test's vhost.
    let mut definitions: Value =
        serde_json::from_str(&read(&deploy().join("rabbitmq/definitions.json")))?;
    for part in ["vhosts", "exchanges", "queues", "bindings"] {
        for item in definitions[part].as_array_mut().into_iter().flatten() {
            let key = if part == "vhosts" { "name" } else { "vhost" };
            item[key] = Value::from(vhost.0.clone());
        }
    }
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("definitions.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&definitions)?)?;
    // The broker's node reads the file as its own user.
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
    }
    rabbitmqctl(&["import_definitions", &file.display().to_string()]);

    // The import runs in the background: wait for all of it.
    let declared: BTreeSet<String> = definitions["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .map(|q| q["name"].as_str().expect("name").to_owned())
        .collect();
    let expected_bindings = definitions["bindings"].as_array().expect("bindings").len();
    let (imported, bindings) = eventually(
        "the definitions imported",
        Duration::from_secs(30),
        || async {
            let (queues, bindings) = broker_topology(&vhost.0);
            (queues.keys().cloned().collect::<BTreeSet<_>>() == declared
                && bindings.len() == expected_bindings)
                .then_some((queues, bindings))
        },
    )
    .await;
    let commands = &imported["casebridge.referrals.commands"];
    for argument in [
        r#"{"x-queue-type","quorum"}"#,
        r#"{"x-delivery-limit",10}"#,
        r#"{"x-dead-letter-strategy","at-least-once"}"#,
    ] {
        assert!(commands.contains(argument), "{commands}");
    }

    // Every process on that vhost: each declares its queues again, which RabbitMQ accepts only
    // when the arguments are the same (PRECONDITION_FAILED otherwise, and no `ready`).
    let url = format!("amqp://guest:guest@127.0.0.1:5672/{}", vhost.0);
    let system = System::distributed_with(
        vec![
            // bus.urls (rather than bus.url) also keeps System::stop off the default vhost's
            // queues of this namespace: the vhost goes as a whole.
            ("CASEBRIDGE__BUS__URLS".into(), url),
            ("CASEBRIDGE__BUS__NAMESPACE".into(), NAMESPACE.into()),
        ],
        "info",
    )
    .await?;
    let referral = system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(submission("definitions-1"))
        .await?
        .into_inner()
        .referral
        .expect("referral");
    let events = eventually(
        "the referral in the police inbox",
        Duration::from_secs(20),
        || {
            let system = &system;
            let id = referral.id.clone();
            async move {
                let events = system.events_about(CITY_POLICE, &id).await.ok()?;
                (!events.is_empty()).then_some(events)
            }
        },
    )
    .await;
    assert_eq!(events, ["submitted"]);
    let reply = system
        .referrals(CITY_POLICE)
        .await?
        .sign_receipt(pb::SignReceiptRequest {
            request_id: "definitions-receipt".into(),
            referral_id: referral.id.clone(),
        })
        .await;
    assert!(reply.is_ok(), "{reply:?}");

    let logs = system.logs();
    assert!(!logs.contains("PRECONDITION_FAILED"), "{logs}");
    // The services added nothing durable: the file holds the whole topology.
    let (after, bindings_after) = broker_topology(&vhost.0);
    assert_eq!(after, imported, "durable queues and their arguments");
    assert_eq!(bindings_after, bindings, "bindings");
    system.stop().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Grafana

/// The metric names a PromQL expression uses, without a histogram's `_bucket`, `_sum` and
/// `_count`. Quoted text (label values) is skipped.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut unquoted = String::new();
    let mut quote = None;
    for c in expr.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' || c == '`' => quote = Some(c),
            None => unquoted.push(c),
        }
    }
    unquoted
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| word.starts_with("casebridge_"))
        .map(|word| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| word.strip_suffix(suffix))
                .unwrap_or(word)
                .to_owned()
        })
        .collect()
}

/// Every `expr` of the dashboard's panels (rows included), with its panel's title.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    fn walk(panels: &Value, out: &mut Vec<(String, String)>) {
        for panel in panels.as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or_default().to_owned();
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push((title.clone(), expr.to_owned()));
                }
            }
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

#[test]
fn metric_names_are_read_from_promql_as_exported() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.99, sum by (le) (rate(casebridge_rpc_duration_seconds_bucket{method="casebridge_x"}[5m])))"#
        ),
        BTreeSet::from(["casebridge_rpc_duration_seconds".to_owned()])
    );
    assert_eq!(
        metric_names(
            "sum(rate(casebridge_rpc_errors_total[1m])) / sum(rate(casebridge_rpc_requests_total[1m]))"
        ),
        BTreeSet::from([
            "casebridge_rpc_errors_total".to_owned(),
            "casebridge_rpc_requests_total".to_owned()
        ])
    );
    assert_eq!(
        metric_names("max(casebridge_outbox_backlg)"),
        BTreeSet::from(["casebridge_outbox_backlg".to_owned()]),
        "a misspelt name is found, to be refused"
    );
}

#[test]
fn every_dashboard_query_uses_a_metric_casebridge_exports() {
    let path = deploy().join("grafana/casebridge.json");
    let dashboard: Value = serde_json::from_str(&read(&path)).expect("dashboard JSON");
    let queries = dashboard_queries(&dashboard);
    let mut used = BTreeSet::new();
    for (title, expr) in &queries {
        let names = metric_names(expr);
        assert!(
            !names.is_empty(),
            "panel {title:?}: no CaseBridge metric in {expr}"
        );
        for name in names {
            assert!(
                METRICS.contains(&name.as_str()),
                "panel {title:?} uses {name}, which CaseBridge does not export: {expr}"
            );
            used.insert(name);
        }
        if expr.contains("histogram_quantile") {
            assert!(
                expr.contains("_bucket") && expr.contains("le"),
                "panel {title:?}: a quantile needs the buckets by le: {expr}"
            );
        }
    }
    // The panels the operators asked for: rates, errors, latency, backlog, overdue
    // obligations, firing lag, dead letters, readiness.
    for needed in [
        "casebridge_rpc_requests_total",
        "casebridge_rpc_errors_total",
        "casebridge_rpc_duration_seconds",
        "casebridge_outbox_backlog",
        "casebridge_outbox_oldest_age_seconds",
        "casebridge_obligations_overdue",
        "casebridge_deadline_firing_lag_seconds",
        "casebridge_bus_dead_lettered_total",
        "casebridge_ready",
    ] {
        assert!(used.contains(needed), "no panel shows {needed}");
    }
    // Every panel queries the dashboard's data source variable.
    assert!(
        dashboard["templating"]["list"]
            .as_array()
            .expect("variables")
            .iter()
            .any(|v| v["name"] == "datasource" && v["query"] == "prometheus")
    );
}

/// The metric names an exposition (Prometheus or OpenMetrics text) declares, as queries name
/// them: a counter with `_total`, a histogram without its `_bucket`, `_sum` and `_count`.
fn exposed_metrics(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|declaration| {
            let mut words = declaration.split_whitespace();
            let (name, kind) = (words.next()?, words.next()?);
            Some(if kind == "counter" && !name.ends_with("_total") {
                format!("{name}_total")
            } else {
                name.to_owned()
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_system_serves_the_metrics_the_dashboard_may_use_and_no_other()
-> anyhow::Result<()> {
    // `casebridge up` runs every component, so every metric is registered.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let system = System::embedded_with(
        vec![(
            "CASEBRIDGE__ADMIN__LISTEN".into(),
            format!("127.0.0.1:{port}"),
        )],
        "info",
    )
    .await?;
    // A metric with labels is declared once it has a sample: a call that succeeds and travels
    // the bus, and one that is refused.
    let mut sender = system.referrals(MARKET_BUREAU).await?;
    let referral = sender
        .submit_referral(submission("metrics-1"))
        .await?
        .into_inner()
        .referral
        .expect("referral");
    eventually(
        "the referral in the police inbox",
        Duration::from_secs(20),
        || {
            let system = &system;
            let id = referral.id.clone();
            async move {
                let events = system.events_about(CITY_POLICE, &id).await.ok()?;
                (!events.is_empty()).then_some(())
            }
        },
    )
    .await;
    let refused = sender.submit_referral(submission("")).await;
    assert!(refused.is_err(), "an empty request id is refused");

    let scrape = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await?
        .error_for_status()?
        .text()
        .await?;
    let served = exposed_metrics(&scrape);
    let listed: BTreeSet<String> = METRICS.iter().map(|m| (*m).to_owned()).collect();
    let unlisted: Vec<&String> = served.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "served but not in METRICS (add them, then to the dashboard if useful): {unlisted:?}"
    );
    // Every queue's counters start at 0, so even the ones of trouble (a redelivery, a dead
    // letter) are served by a healthy run.
    let missing: Vec<&String> = listed.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "in METRICS but not served: {missing:?}\n{scrape}"
    );
    system.stop().await?;
    Ok(())
}
