//! Acting as an agency: connect to the gateway with that agency's certificate and take steps.
//!
//! Certificates come from the development PKI in the data directory
//! (`pki/agencies/<code>.pem` and `.key`, trusted through `pki/ca.pem`), or from explicit paths.

use std::path::PathBuf;

use anyhow::Context as _;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::deadline_service_client::DeadlineServiceClient;
use casebridge_proto::v1::directory_service_client::DirectoryServiceClient;
use casebridge_proto::v1::inbox_service_client::InboxServiceClient;
use casebridge_proto::v1::monitor_service_client::MonitorServiceClient;
use casebridge_proto::v1::referral_service_client::ReferralServiceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// Where and as whom to connect.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// The agency to act as: its 18-character code (统一社会信用代码).
    #[arg(long = "as", value_name = "AGENCY_CODE")]
    pub agency: String,
    /// The gateway address.
    #[arg(
        long,
        default_value = "https://127.0.0.1:7443",
        env = "CASEBRIDGE_GATEWAY"
    )]
    pub gateway: String,
    /// Data directory holding the development PKI.
    #[arg(long, default_value = ".casebridge", env = "CASEBRIDGE__DATA_DIR")]
    pub data_dir: PathBuf,
    /// Client certificate (PEM); default `<data-dir>/pki/agencies/<code>.pem`.
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// Client key (PEM); default `<data-dir>/pki/agencies/<code>.key`.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// CA certificate that signed the gateway's certificate; default `<data-dir>/pki/ca.pem`.
    #[arg(long)]
    pub ca: Option<PathBuf>,
}

/// The service clients over one mutual-TLS channel.
#[derive(Debug, Clone)]
pub struct Clients {
    pub referrals: ReferralServiceClient<Channel>,
    pub inbox: InboxServiceClient<Channel>,
    pub directory: DirectoryServiceClient<Channel>,
    pub monitor: MonitorServiceClient<Channel>,
    pub deadlines: DeadlineServiceClient<Channel>,
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

impl Connection {
    /// Connects with the agency's certificate.
    pub async fn connect(&self) -> anyhow::Result<Clients> {
        let pki = self.data_dir.join("pki");
        let cert = self
            .cert
            .clone()
            .unwrap_or_else(|| pki.join("agencies").join(format!("{}.pem", self.agency)));
        let key = self
            .key
            .clone()
            .unwrap_or_else(|| pki.join("agencies").join(format!("{}.key", self.agency)));
        let ca = self.ca.clone().unwrap_or_else(|| pki.join("ca.pem"));
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&ca, "CA certificate")?))
            .identity(Identity::from_pem(
                read(&cert, "client certificate")?,
                read(&key, "client key")?,
            ))
            .domain_name("localhost");
        let channel = Endpoint::from_shared(self.gateway.clone())
            .with_context(|| format!("invalid gateway address {}", self.gateway))?
            .tls_config(tls)?
            .connect()
            .await
            .with_context(|| format!("cannot connect to the gateway at {}", self.gateway))?;
        Ok(Clients {
            referrals: ReferralServiceClient::new(channel.clone()),
            inbox: InboxServiceClient::new(channel.clone()),
            directory: DirectoryServiceClient::new(channel.clone()),
            monitor: MonitorServiceClient::new(channel.clone()),
            deadlines: DeadlineServiceClient::new(channel),
        })
    }
}

/// Renders a gRPC error for a person: the code, the message, and each field violation.
pub fn explain(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(bad) = status.get_details_bad_request() {
        for v in bad.field_violations {
            text.push_str(&format!("\n  {}: {}", v.field, v.description));
        }
    }
    text
}

/// A timestamp for the wire from RFC 3339 text, or now.
pub fn wire_time(text: Option<&str>) -> anyhow::Result<prost_types::Timestamp> {
    let millis = match text {
        Some(t) => casebridge_core::time::Timestamp::parse_rfc3339(t)
            .with_context(|| {
                format!("{t:?} is not an RFC 3339 time such as 2026-02-13T09:00:00+08:00")
            })?
            .as_millis(),
        None => chrono::Utc::now().timestamp_millis(),
    };
    Ok(prost_types::Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: i32::try_from(millis.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    })
}

/// Parses `kind:title` (e.g. `referral_letter:涉嫌犯罪案件移送书`).
pub fn document(spec: &str) -> anyhow::Result<pb::Document> {
    let (kind, title) = spec
        .split_once(':')
        .with_context(|| format!("document {spec:?} must be KIND:TITLE"))?;
    let kind = match kind {
        "referral_letter" => pb::DocumentKind::ReferralLetter,
        "investigation_report" => pb::DocumentKind::InvestigationReport,
        "seized_items_list" => pb::DocumentKind::SeizedItemsList,
        "test_report" => pb::DocumentKind::TestReport,
        "penalty_decision" => pb::DocumentKind::PenaltyDecision,
        "other" => pb::DocumentKind::Other,
        other => anyhow::bail!(
            "unknown document kind {other:?}: use referral_letter, investigation_report, \
             seized_items_list, test_report, penalty_decision or other"
        ),
    };
    Ok(pb::Document {
        kind: kind.into(),
        title: title.to_owned(),
        sha256: String::new(),
    })
}

/// A one-screen description of a referral.
pub fn describe(r: &pb::Referral) -> String {
    let status = pb::ReferralStatus::try_from(r.status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("REFERRAL_STATUS_")
                .to_lowercase()
        })
        .unwrap_or_else(|_| "unknown".into());
    let mut text = format!(
        "referral {}\n  status:        {status} (version {})\n  from:          {}\n  police:        {}\n  procuratorate: {}\n  offence:       {}\n",
        r.id,
        r.version,
        r.sender,
        r.police,
        if r.procuratorate.is_empty() {
            "(none found)"
        } else {
            &r.procuratorate
        },
        r.suspected_offence
    );
    for flag in &r.flags {
        text.push_str(&format!("  flag:          {:?}\n", flag.flag));
    }
    for h in &r.history {
        text.push_str(&format!(
            "  - {} by {}{}\n",
            h.step,
            h.actor,
            if h.note.is_empty() {
                String::new()
            } else {
                format!(": {}", h.note)
            }
        ));
    }
    text
}
