//! Acting as an agency: connect to the gateway with that agency's certificate and take steps.
//!
//! Certificates come from the development PKI in the data directory
//! (`pki/agencies/<code>.pem` and `.key`, trusted through `pki/ca.pem`), or from explicit paths.

use std::path::PathBuf;

use anyhow::Context as _;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::case_service_client::CaseServiceClient;
use casebridge_proto::v1::deadline_service_client::DeadlineServiceClient;
use casebridge_proto::v1::directory_service_client::DirectoryServiceClient;
use casebridge_proto::v1::dispute_service_client::DisputeServiceClient;
use casebridge_proto::v1::evidence_service_client::EvidenceServiceClient;
use casebridge_proto::v1::export_service_client::ExportServiceClient;
use casebridge_proto::v1::inbox_service_client::InboxServiceClient;
use casebridge_proto::v1::lead_service_client::LeadServiceClient;
use casebridge_proto::v1::monitor_service_client::MonitorServiceClient;
use casebridge_proto::v1::opinion_service_client::OpinionServiceClient;
use casebridge_proto::v1::penalty_service_client::PenaltyServiceClient;
use casebridge_proto::v1::rectification_service_client::RectificationServiceClient;
use casebridge_proto::v1::referral_service_client::ReferralServiceClient;
use casebridge_proto::v1::transfer_service_client::TransferServiceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// Where and as whom to connect.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// The agency to act as: its 18-character code (统一社会信用代码). Needed unless the
    /// --profile names it.
    // Its own id: a command's filter named `agency` (`monitor overdue --agency`) is another
    // argument, not a second way to sign in (issue 15).
    #[arg(id = "as", long = "as", value_name = "AGENCY_CODE")]
    pub agency: Option<String>,
    /// A profile of the CLI configuration file (`~/.config/casebridge/config.toml`, or the file
    /// CASEBRIDGE_CONFIG names): agency, gateway, CA, certificate and key of one identity.
    /// Flags given on the command line win over it.
    #[arg(long, env = "CASEBRIDGE_PROFILE")]
    pub profile: Option<String>,
    /// The gateway address [default: https://127.0.0.1:7443].
    #[arg(long, env = "CASEBRIDGE_GATEWAY")]
    pub gateway: Option<String>,
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
    /// The name the gateway's certificate must carry; default the host of --gateway (a DNS name
    /// or an IP address). For a gateway reached through an address its certificate does not
    /// name, e.g. a tunnel.
    #[arg(long, env = "CASEBRIDGE_SERVER_NAME")]
    pub server_name: Option<String>,
}

/// The gateway a connection dials when neither a flag, the environment nor a profile names one.
pub const DEFAULT_GATEWAY: &str = "https://127.0.0.1:7443";

impl Connection {
    /// This connection with the gaps the command line left filled from `--profile`, when given.
    fn with_profile(&self) -> anyhow::Result<Connection> {
        let Some(name) = &self.profile else {
            return Ok(self.clone());
        };
        let path = crate::profile::config_path(|key| std::env::var(key).ok()).context(
            "--profile: no CLI configuration file: set CASEBRIDGE_CONFIG, XDG_CONFIG_HOME or HOME",
        )?;
        let profile = crate::profile::load(&path, name)?;
        Ok(Connection {
            agency: self.agency.clone().or(profile.agency),
            profile: self.profile.clone(),
            gateway: self.gateway.clone().or(profile.gateway),
            data_dir: self.data_dir.clone(),
            cert: self.cert.clone().or(profile.cert),
            key: self.key.clone().or(profile.key),
            ca: self.ca.clone().or(profile.ca),
            server_name: self.server_name.clone().or(profile.server_name),
        })
    }
}

/// The name the gateway's certificate is verified against: `server_name` when given, else the
/// host the client dials (issue 16: every gateway was checked as "localhost"). The address must
/// be an `https://` URL.
pub fn server_name(gateway: &str, server_name: Option<&str>) -> anyhow::Result<String> {
    let rest = gateway.strip_prefix("https://").ok_or_else(|| {
        anyhow::anyhow!(
            "--gateway {gateway:?} must be an https:// address, e.g. https://127.0.0.1:7443 \
             (the gateway speaks TLS only)"
        )
    })?;
    if let Some(name) = server_name {
        return Ok(name.to_owned());
    }
    let host = casebridge_platform::settings::url_host(rest);
    anyhow::ensure!(!host.is_empty(), "--gateway {gateway:?} names no host");
    Ok(host.to_owned())
}

/// The service clients over one mutual-TLS channel.
#[derive(Debug, Clone)]
pub struct Clients {
    pub referrals: ReferralServiceClient<Channel>,
    pub transfers: TransferServiceClient<Channel>,
    pub disputes: DisputeServiceClient<Channel>,
    pub opinions: OpinionServiceClient<Channel>,
    pub penalties: PenaltyServiceClient<Channel>,
    pub leads: LeadServiceClient<Channel>,
    pub rectifications: RectificationServiceClient<Channel>,
    pub cases: CaseServiceClient<Channel>,
    pub inbox: InboxServiceClient<Channel>,
    pub directory: DirectoryServiceClient<Channel>,
    pub monitor: MonitorServiceClient<Channel>,
    pub evidence: EvidenceServiceClient<Channel>,
    pub deadlines: DeadlineServiceClient<Channel>,
    pub export: ExportServiceClient<Channel>,
}

/// Reads a PEM file of the connection, saying where such files come from when it cannot.
fn read(path: &PathBuf, what: &str, data_dir: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the {what} {}: {e}. The development PKI is made by `casebridge up` or \
             `casebridge pki init` in the data directory ({}; set --data-dir or \
             CASEBRIDGE__DATA_DIR), or give --cert, --key and --ca",
            path.display(),
            data_dir.display()
        )
    })
}

impl Connection {
    /// Connects with the agency's certificate.
    pub async fn connect(&self) -> anyhow::Result<Clients> {
        let this = self.with_profile()?;
        this.connect_resolved().await
    }

    async fn connect_resolved(&self) -> anyhow::Result<Clients> {
        let agency = self
            .agency
            .as_deref()
            .context("say which agency to act as: --as <its code>, or a --profile that names it")?;
        casebridge_core::ids::AgencyCode::parse(agency).map_err(|e| {
            anyhow::anyhow!(
                "--as {agency:?}: {e}; `casebridge agencies --as <your code>` lists the directory"
            )
        })?;
        let gateway = self.gateway.as_deref().unwrap_or(DEFAULT_GATEWAY);
        let pki = self.data_dir.join("pki");
        let cert = self
            .cert
            .clone()
            .unwrap_or_else(|| pki.join("agencies").join(format!("{agency}.pem")));
        let key = self
            .key
            .clone()
            .unwrap_or_else(|| pki.join("agencies").join(format!("{agency}.key")));
        let ca = self.ca.clone().unwrap_or_else(|| pki.join("ca.pem"));
        let dir = &self.data_dir;
        // The development PKI holds a certificate for every agency of the directory: a valid
        // code without one is not in it (issue 15: this said "cannot read the client
        // certificate").
        if self.cert.is_none() && ca.exists() && !cert.exists() {
            anyhow::bail!(
                "--as {agency}: the development PKI in {} has no certificate for this agency,                  so it is not in the agency directory; `casebridge agencies --as <your code>`                  lists the directory",
                pki.display()
            );
        }
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&ca, "CA certificate", dir)?))
            .identity(Identity::from_pem(
                read(&cert, "client certificate", dir)?,
                read(&key, "client key", dir)?,
            ))
            .domain_name(server_name(gateway, self.server_name.as_deref())?);
        let channel = Endpoint::from_shared(gateway.to_owned())
            .with_context(|| format!("invalid gateway address {gateway}"))?
            .tls_config(tls)?
            .connect()
            .await
            .with_context(|| {
                crate::output::Unreachable(format!(
                    "cannot connect to the gateway at {}: is CaseBridge running (`scripts/up`)? \
                     Set --gateway or CASEBRIDGE_GATEWAY to its address",
                    gateway
                ))
            })?;
        Ok(Clients {
            referrals: ReferralServiceClient::new(channel.clone()),
            transfers: TransferServiceClient::new(channel.clone()),
            disputes: DisputeServiceClient::new(channel.clone()),
            opinions: OpinionServiceClient::new(channel.clone()),
            penalties: PenaltyServiceClient::new(channel.clone()),
            leads: LeadServiceClient::new(channel.clone()),
            rectifications: RectificationServiceClient::new(channel.clone()),
            cases: CaseServiceClient::new(channel.clone()),
            inbox: InboxServiceClient::new(channel.clone()),
            directory: DirectoryServiceClient::new(channel.clone()),
            monitor: MonitorServiceClient::new(channel.clone()),
            evidence: EvidenceServiceClient::new(channel.clone()),
            deadlines: DeadlineServiceClient::new(channel.clone()),
            export: ExportServiceClient::new(channel),
        })
    }
}

/// Renders a gRPC error for a person: see [`explain`]. The error type lives with the output
/// that prints it ([`crate::output`]); it is named here too, where calls are made.
pub use crate::output::{explain, rpc};

/// The time `flag` gives, or now; but a request that names its `--request-id` (to be retried
/// safely) must name the time too: "now" differs on every run, and a retry with other content
/// is refused as a reused request id.
pub fn time_or_now(
    text: Option<&str>,
    flag: &str,
    request_id: Option<&str>,
) -> anyhow::Result<prost_types::Timestamp> {
    if text.is_none()
        && let Some(id) = request_id
    {
        anyhow::bail!(
            "--request-id {id} is for retrying the same request, but without {flag} the time \
             would be now and differ on every run: give {flag} as well (RFC 3339, e.g. \
             2026-02-13T09:00:00+08:00)"
        );
    }
    wire_time(text)
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

/// Parses `KIND:TITLE`, optionally followed by `:SHA256` of an uploaded file (e.g.
/// `referral_letter:涉嫌犯罪案件移送书` or `test_report:检验报告:9f86d0…`), where KIND is a
/// document kind in snake_case.
pub fn document(spec: &str) -> anyhow::Result<pb::Document> {
    let (kind, rest) = spec
        .split_once(':')
        .with_context(|| format!("document {spec:?} must be KIND:TITLE or KIND:TITLE:SHA256"))?;
    // A last part that is a digest names the uploaded file; titles rarely end in 64 hex digits.
    let (title, sha256) = match rest.rsplit_once(':') {
        Some((title, digest)) if casebridge_core::ids::Sha256Digest::parse(digest).is_ok() => {
            (title, digest.to_owned())
        }
        _ => (rest, String::new()),
    };
    Ok(pb::Document {
        kind: document_kind(kind)?,
        title: title.to_owned(),
        sha256,
    })
}

/// The wire value of a document kind given in snake_case.
pub fn document_kind(name: &str) -> anyhow::Result<i32> {
    match casebridge_core::document::DocumentKind::parse(name) {
        Some(kind) => pb::DocumentKind::from_str_name(&format!(
            "DOCUMENT_KIND_{}",
            kind.as_str().to_uppercase()
        ))
        .map(Into::into)
        .with_context(|| format!("document kind {name} is missing from the wire contract")),
        None => {
            let known: Vec<&str> = casebridge_core::document::DocumentKind::ALL
                .iter()
                .map(|k| k.as_str())
                .collect();
            anyhow::bail!(
                "unknown document kind {name:?}: use one of {}",
                known.join(", ")
            )
        }
    }
}

/// Parses each `KIND:TITLE[:SHA256]`.
pub fn documents(specs: &[String]) -> anyhow::Result<Vec<pb::Document>> {
    specs.iter().map(|d| document(d)).collect()
}

/// The snake_case name of a wire enum value, without its prefix (`REFERRAL_STATUS_`).
pub fn enum_name(full: &str, prefix: &str) -> String {
    full.trim_start_matches(prefix).to_lowercase()
}

/// Lines describing a case's history.
pub fn history(entries: &[pb::HistoryEntry]) -> String {
    let mut text = String::new();
    for h in entries {
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
        for d in &h.documents {
            text.push_str(&format!("      document: {}\n", d.title));
        }
    }
    text
}

/// A one-screen description of a referral.
pub fn describe(r: &pb::Referral) -> String {
    let status = pb::ReferralStatus::try_from(r.status)
        .map(|s| enum_name(s.as_str_name(), "REFERRAL_STATUS_"))
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
    text.push_str(&history(&r.history));
    text
}

/// Which cases a listing shows, and which page of them (issue 15: lists stopped at 50 with no
/// way to the rest).
#[derive(Debug, Clone, clap::Args)]
pub struct Paging {
    /// Only this status, e.g. submitted, received.
    #[arg(long, default_value = "")]
    pub status: String,
    /// At most this many cases a page (1 to 200; default 50).
    #[arg(long)]
    pub page_size: Option<u32>,
    /// Continue after the previous page: the token its last line printed.
    #[arg(long, default_value = "")]
    pub page_token: String,
    /// Every page, one after another, as one listing.
    #[arg(long, conflicts_with = "page_token")]
    pub all: bool,
}

impl Paging {
    /// Asks `list` for the page (or, with `--all`, every page) and returns it as one listing.
    pub async fn fetch<Fut>(
        &self,
        mut list: impl FnMut(pb::ListCasesRequest) -> Fut,
    ) -> anyhow::Result<pb::ListCasesResponse>
    where
        Fut: std::future::Future<
                Output = Result<tonic::Response<pb::ListCasesResponse>, tonic::Status>,
            >,
    {
        let mut request = pb::ListCasesRequest {
            status: self.status.clone(),
            page_size: self.page_size.unwrap_or(0),
            page_token: self.page_token.clone(),
            ..Default::default()
        };
        let mut all = pb::ListCasesResponse::default();
        loop {
            let page = list(request.clone()).await.map_err(rpc)?.into_inner();
            all.cases.extend(page.cases);
            all.next_page_token = page.next_page_token;
            if !self.all || all.next_page_token.is_empty() {
                return Ok(all);
            }
            request.page_token = std::mem::take(&mut all.next_page_token);
        }
    }
}

/// A listing page: per case a line with its id, status, version and headline, a line with who
/// opened it and when and its last step's time, and its summary when it has one.
pub fn listing(page: &pb::ListCasesResponse) -> String {
    let mut text = String::new();
    for c in &page.cases {
        text.push_str(&format!(
            "{}  {:<28} v{:<3} {}\n",
            c.case_id, c.status, c.version, c.headline
        ));
        let when = |t: Option<&prost_types::Timestamp>| {
            t.map_or_else(|| "—".to_owned(), crate::monitor::time_text)
        };
        text.push_str(&format!(
            "    opened by {} at {}; last step {}\n",
            if c.opened_by.is_empty() {
                "—"
            } else {
                &c.opened_by
            },
            when(c.opened_at.as_ref()),
            when(c.updated_at.as_ref()),
        ));
        if !c.summary.is_empty() {
            text.push_str(&format!("    {}\n", c.summary));
        }
    }
    if page.cases.is_empty() {
        text.push_str("(none)\n");
    }
    if !page.next_page_token.is_empty() {
        text.push_str(&format!(
            "(more: add --page-token {} for the next page, or --all for every page)\n",
            page.next_page_token
        ));
    }
    text
}

/// Where `--save-receipt` asked the step's receipt to be written, if anywhere.
static RECEIPT_PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Remembers `--save-receipt` for [`receipt`].
pub fn save_receipts_to(path: PathBuf) {
    let _ = RECEIPT_PATH.set(path);
}

/// The domain receipt of a wire receipt, for saving and offline verification.
pub fn domain_receipt(r: &pb::Receipt) -> anyhow::Result<casebridge_core::ledger::Receipt> {
    use casebridge_core::ids::{AgencyCode, CaseId, RequestId, Sha256Digest};
    let at = r
        .accepted_at
        .as_ref()
        .context("the receipt has no accepted_at")?;
    Ok(casebridge_core::ledger::Receipt {
        service: r.service.clone(),
        case_id: CaseId::parse(&r.case_id)?,
        step: r.step.clone(),
        actor: AgencyCode::parse(&r.actor)?,
        request_id: RequestId::parse(&r.request_id)?,
        content_digest: Sha256Digest::parse(&r.content_digest)?,
        accepted_at: casebridge_core::time::Timestamp::from_millis(
            at.seconds * 1000 + i64::from(at.nanos) / 1_000_000,
        ),
        first_seq: r.first_seq,
        last_seq: r.last_seq,
        chain_hash: Sha256Digest::parse(&r.chain_hash)?,
        key_id: r.key_id.clone(),
        signature: r.signature.clone(),
    })
}

/// Says so when the gateway answered a retry with the original result.
pub fn replayed(replayed: bool) {
    if replayed {
        crate::output::note("(already accepted earlier; this is the original result)");
    }
}

/// Prints a step's receipt in one line (with `--json` it is in the result), and writes it as
/// JSON where `--save-receipt` asks.
pub fn receipt(r: Option<&pb::Receipt>) -> anyhow::Result<()> {
    let Some(r) = r else { return Ok(()) };
    if !crate::output::json() {
        println!(
            "receipt: {} record {}{} (chain hash {}…), signed by key {}",
            r.service,
            r.first_seq,
            if r.last_seq > r.first_seq {
                format!("..{}", r.last_seq)
            } else {
                String::new()
            },
            r.chain_hash.get(..12).unwrap_or(&r.chain_hash),
            r.key_id
        );
    }
    if let Some(path) = RECEIPT_PATH.get() {
        let json = serde_json::to_string_pretty(&domain_receipt(r)?)?;
        std::fs::write(path, json)
            .with_context(|| format!("cannot write the receipt to {}", path.display()))?;
        crate::output::note(&format!("receipt saved to {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::server_name;

    #[test]
    fn the_gateway_is_verified_by_the_host_dialled_or_the_name_given() {
        let name = |url: &str| server_name(url, None).map_err(|e| e.to_string());
        assert_eq!(name("https://127.0.0.1:7443").unwrap(), "127.0.0.1");
        assert_eq!(
            name("https://gateway.fuzhou.example.cn:7443/").unwrap(),
            "gateway.fuzhou.example.cn"
        );
        assert_eq!(
            name("https://gateway.example.cn").unwrap(),
            "gateway.example.cn"
        );
        assert_eq!(name("https://[::1]:7443").unwrap(), "::1");
        assert_eq!(
            server_name("https://127.0.0.2:7443", Some("gateway.example.cn")).unwrap(),
            "gateway.example.cn"
        );
        let plain = name("127.0.0.1:7443").unwrap_err();
        assert!(plain.contains("must be an https:// address"), "{plain}");
    }
}
