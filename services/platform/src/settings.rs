//! One typed settings tree for every component.
//!
//! Sources, later ones winning: built-in defaults, an optional TOML file, environment variables
//! `CASEBRIDGE__SECTION__KEY` (e.g. `CASEBRIDGE__BUS__URL`), then command-line flags (applied by
//! the binary on the returned value). Validated once, by [`Settings::validate`]. Tests build
//! `Settings` values directly and never touch the process environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Which bus carries commands and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusKind {
    /// Durable queues in a SQLite file in the data directory; one process.
    Embedded,
    /// RabbitMQ.
    Amqp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusSettings {
    pub kind: BusKind,
    /// AMQP URL (kind = amqp).
    pub url: String,
    /// Prefix of every exchange and queue name; tests use a unique one each.
    pub namespace: String,
    /// Unacknowledged deliveries a consumer may hold.
    pub prefetch: u16,
    /// Deliveries of one message before it is dead-lettered.
    pub delivery_limit: u32,
    /// How long the gateway waits for a service's reply.
    #[serde(deserialize_with = "duration")]
    pub request_timeout: Duration,
}

impl Default for BusSettings {
    fn default() -> Self {
        BusSettings {
            kind: BusKind::Embedded,
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            namespace: "casebridge".into(),
            prefetch: 64,
            delivery_limit: 10,
            request_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `postgres://…` for production. Empty: one SQLite file per service in the data directory.
    pub url: String,
    /// Pool size per service (PostgreSQL; SQLite always uses one connection).
    pub max_connections: u32,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: String::new(),
            max_connections: 16,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySettings {
    /// Address of the gRPC endpoint (mutual TLS).
    pub listen: SocketAddr,
    /// Server certificate, key and the CA that signs agency client certificates, PEM.
    /// Relative paths are inside the data directory.
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 7443)),
            cert: "pki/gateway.pem".into(),
            key: "pki/gateway.key".into(),
            client_ca: "pki/ca.pem".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where the embedded databases, development PKI and directory live.
    pub data_dir: PathBuf,
    /// The agency directory (TOML). Relative paths are inside the data directory.
    pub directory: PathBuf,
    /// Log filter in `RUST_LOG` syntax.
    pub log: String,
    pub bus: BusSettings,
    pub store: StoreSettings,
    pub gateway: GatewaySettings,
    /// Tunable referral rules (the ones DOMAIN.md marks unverified).
    pub referrals: casebridge_core::referral::ReferralPolicy,
    /// Which body rules on jurisdiction disputes (DOMAIN §3.G, configurable).
    pub disputes: casebridge_core::dispute::DisputePolicy,
    pub deadlines: DeadlineSettings,
    pub ledger: LedgerSettings,
}

/// The full-process record: the operator's signing key and how often the chains' heads are
/// signed.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerSettings {
    /// The operator's Ed25519 private key (PKCS#8 PEM). Relative paths are inside the data
    /// directory; `casebridge pki init` and `casebridge up` create it when missing. Its public
    /// key is written beside it as `.pub`, for anyone verifying receipts and bundles.
    pub key: PathBuf,
    /// How often each service signs its chain's head when it moved.
    #[serde(deserialize_with = "duration")]
    pub checkpoint_every: Duration,
}

impl Default for LedgerSettings {
    fn default() -> Self {
        LedgerSettings {
            key: "ledger/operator.key".into(),
            checkpoint_every: Duration::from_secs(5),
        }
    }
}

/// Where the legal calendar and the deadline rules come from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlineSettings {
    /// A directory of `<year>.toml` holiday schedules. Unset: the schedules shipped in the
    /// binary (`deploy/calendars`). Relative paths are inside the data directory.
    pub calendars: Option<PathBuf>,
    /// The rule table. Unset: the one shipped in the binary (`deploy/rules.toml`).
    pub rules: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: ".casebridge".into(),
            directory: "directory.toml".into(),
            log: "info".into(),
            bus: BusSettings::default(),
            store: StoreSettings::default(),
            gateway: GatewaySettings::default(),
            referrals: casebridge_core::referral::ReferralPolicy::default(),
            disputes: casebridge_core::dispute::DisputePolicy::default(),
            deadlines: DeadlineSettings::default(),
            ledger: LedgerSettings::default(),
        }
    }
}

/// Settings that cannot be read or make no sense.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings: {0}")]
    Read(#[from] config::ConfigError),
    #[error("invalid setting {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl Settings {
    /// Defaults, then `file` (if given), then `CASEBRIDGE__…` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("CASEBRIDGE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |key, reason: &str| {
            Err(SettingsError::Invalid {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.bus.kind == BusKind::Amqp && !self.bus.url.starts_with("amqp") {
            return invalid(
                "bus.url",
                "must be an amqp:// or amqps:// URL when bus.kind = amqp",
            );
        }
        if !self.store.url.is_empty() && !self.store.url.starts_with("postgres") {
            return invalid(
                "store.url",
                "must be a postgres:// URL, or empty for embedded SQLite",
            );
        }
        if self.bus.namespace.is_empty() || self.bus.namespace.contains(char::is_whitespace) {
            return invalid("bus.namespace", "must be a non-empty name without spaces");
        }
        if self.bus.prefetch == 0 {
            return invalid("bus.prefetch", "must be at least 1");
        }
        if self.store.max_connections == 0 {
            return invalid("store.max_connections", "must be at least 1");
        }
        Ok(())
    }

    /// `path` resolved against the data directory when relative.
    pub fn in_data_dir(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.data_dir.join(path)
        }
    }

    /// The store URL of `service`: the shared PostgreSQL URL, or its own SQLite file.
    pub fn store_url(&self, service: &str) -> String {
        if self.store.url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join(format!("{service}.db")).display()
            )
        } else {
            self.store.url.clone()
        }
    }
}

/// Accepts `"250ms"`, `"10s"`, `"5m"`, `"1h"` or a bare number of milliseconds.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Millis(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Millis(ms) => Ok(Duration::from_millis(ms)),
        Raw::Text(text) => parse_duration(&text).map_err(serde::de::Error::custom),
    }
}

/// Parses a duration written as a number and a unit (`ms`, `s`, `m`, `h`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 250ms, 10s, 5m or 1h"))?;
    match unit.trim() {
        "" | "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        other => Err(format!(
            "unknown duration unit {other:?} in {text:?}: use ms, s, m or h"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("ten seconds").is_err());
        assert!(parse_duration("5d").is_err());
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
    fn a_non_postgres_store_url_is_refused_by_name() {
        let mut s = Settings::default();
        s.store.url = "mysql://x".into();
        let err = s.validate().expect_err("invalid");
        assert!(err.to_string().contains("store.url"), "{err}");
    }
}
