//! Development PKI: a local certificate authority, the gateway's server certificate and one client
//! certificate per agency.
//!
//! The gateway identifies the calling agency from its client certificate (docs/api.md,
//! "Identity"): the agency code travels as a URI SAN `urn:casebridge:agency:<code>` and as the
//! subject CN, and [`agency_code_from_cert`] reads it back. `casebridge up` and `casebridge pki`
//! use [`write_dev_pki`] to lay the files out on disk.
//!
//! This is for development and tests only: keys are written unencrypted and nothing is revoked.

use std::collections::HashSet;
use std::fmt;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer as _, X509Certificate};

/// Prefix of the URI SAN that carries an agency code in a client certificate.
pub const AGENCY_URI_PREFIX: &str = "urn:casebridge:agency:";

/// Common name of the CA that [`write_dev_pki`] creates.
pub const DEV_CA_COMMON_NAME: &str = "CaseBridge Development CA";

/// Names the gateway's development server certificate is valid for.
pub const DEV_GATEWAY_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const HOUR: Duration = Duration::from_secs(60 * 60);
const CA_VALID_DAYS: u64 = 3650;
const SERVER_VALID_DAYS: u64 = 730;

/// A certificate and its private key, both PEM encoded.
#[derive(Clone)]
pub struct IssuedCert {
    /// The certificate (`-----BEGIN CERTIFICATE-----`).
    pub cert_pem: String,
    /// The PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`), unencrypted.
    pub key_pem: String,
}

impl fmt::Debug for IssuedCert {
    // The key is a secret: keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[elided]")
            .finish()
    }
}

/// A development certificate authority that can sign server and agency certificates.
pub struct DevCa {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for DevCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevCa")
            .field("cert_pem", &self.cert_pem)
            .field("key", &"[elided]")
            .finish()
    }
}

impl DevCa {
    /// Creates a self-signed CA valid for ten years (from one hour ago, to tolerate clock skew).
    ///
    /// The CA may sign end-entity certificates only (path length 0).
    pub fn generate(common_name: &str) -> Result<DevCa, PkiError> {
        let now = SystemTime::now();
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = earlier(now, HOUR)?.into();
        params.not_after = later(now, DAY * CA_VALID_DAYS as u32)?.into();

        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(DevCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Reloads an existing CA so it can sign more certificates that chain to the same root.
    ///
    /// Fails if the certificate is not a CA or the key does not belong to it.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<DevCa, PkiError> {
        let der =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| PkiError::Pem {
                what: "ca certificate",
                reason: e.to_string(),
            })?;
        let key = KeyPair::from_pem(key_pem).map_err(|e| PkiError::Pem {
            what: "ca key",
            reason: e.to_string(),
        })?;

        let (_, x509) =
            X509Certificate::from_der(&der).map_err(|e| PkiError::Parse(e.to_string()))?;
        if !x509.is_ca() {
            return Err(PkiError::NotCa);
        }
        if x509.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(PkiError::KeyMismatch);
        }

        let issuer = Issuer::from_ca_cert_der(&der, key)?;
        Ok(DevCa {
            cert_pem: cert_pem.to_owned(),
            issuer,
        })
    }

    /// The CA certificate, PEM encoded; clients and the gateway trust it.
    pub fn cert_pem(&self) -> String {
        self.cert_pem.clone()
    }

    /// A certificate revocation list signed by this CA, revoking the certificates with the
    /// given serial numbers (big-endian bytes), valid for 30 days: the file `gateway.revoked`
    /// may name.
    pub fn crl_pem(&self, serials: &[&[u8]]) -> Result<String, PkiError> {
        let now = SystemTime::now();
        let params = rcgen::CertificateRevocationListParams {
            this_update: earlier(now, HOUR)?.into(),
            next_update: later(now, DAY * 30)?.into(),
            crl_number: rcgen::SerialNumber::from_slice(
                &now.duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
                    .to_be_bytes(),
            ),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|serial| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from_slice(serial),
                    revocation_time: now.into(),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }

    /// The CA's private key, PEM encoded (PKCS#8, unencrypted).
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// Issues a server certificate (EKU serverAuth) valid for two years.
    ///
    /// Each name becomes a SAN: an IP address SAN if it parses as one (`127.0.0.1`, `::1`), a DNS
    /// name otherwise. The first name is also the subject CN.
    pub fn issue_server(&self, names: &[&str]) -> Result<IssuedCert, PkiError> {
        let first = names.first().ok_or(PkiError::NoServerNames)?;
        let now = SystemTime::now();
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, *first);
        params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                // rcgen takes any IA5 string; a client can only dial a valid host name.
                Err(_) if rustls::pki_types::DnsName::try_from(*name).is_err() => {
                    Err(PkiError::NotAHostName {
                        name: (*name).to_owned(),
                    })
                }
                Err(_) => (*name).try_into().map(SanType::DnsName).map_err(|source| {
                    PkiError::InvalidName {
                        name: (*name).to_owned(),
                        source,
                    }
                }),
            })
            .collect::<Result<_, _>>()?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = earlier(now, HOUR)?.into();
        params.not_after = later(now, DAY * SERVER_VALID_DAYS as u32)?.into();
        self.sign(params)
    }

    /// Issues an agency client certificate (EKU clientAuth).
    ///
    /// Subject CN = `agency_code`, O = `agency_name`, plus the URI SAN
    /// `urn:casebridge:agency:<code>`. Valid from one hour ago until `valid_days` from now. A
    /// negative `valid_days` makes a certificate that is already expired (valid from two days ago
    /// until one day ago), for tests of the gateway's rejection path.
    pub fn issue_agency(
        &self,
        agency_code: &str,
        agency_name: &str,
        valid_days: i64,
    ) -> Result<IssuedCert, PkiError> {
        check_agency_code(agency_code)?;
        let now = SystemTime::now();
        let (not_before, not_after) = if valid_days < 0 {
            (earlier(now, DAY * 2)?, earlier(now, DAY)?)
        } else {
            let days = u32::try_from(valid_days).map_err(|_| PkiError::ValidityOutOfRange)?;
            let span = DAY.checked_mul(days).ok_or(PkiError::ValidityOutOfRange)?;
            (earlier(now, HOUR)?, later(now, span)?)
        };

        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, agency_code);
        params
            .distinguished_name
            .push(DnType::OrganizationName, agency_name);
        let uri = format!("{AGENCY_URI_PREFIX}{agency_code}");
        params.subject_alt_names =
            vec![SanType::URI(uri.as_str().try_into().map_err(|source| {
                PkiError::InvalidName {
                    name: uri.clone(),
                    source,
                }
            })?)];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = not_before.into();
        params.not_after = not_after.into();
        self.sign(params)
    }

    fn sign(&self, mut params: CertificateParams) -> Result<IssuedCert, PkiError> {
        // The authority key identifier lets verifiers pick the right CA when several are trusted.
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// The serial number of a certificate (DER), as the big-endian bytes it carries.
pub fn certificate_serial(der: &[u8]) -> Result<Vec<u8>, PkiError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| PkiError::Parse(e.to_string()))?;
    Ok(cert.raw_serial().to_vec())
}

/// The agency code a client certificate names: the URI SAN `urn:casebridge:agency:<code>` if
/// present, else the subject CN. Errors if neither or if they disagree.
///
/// This does not verify the certificate; the TLS layer does that before the gateway asks.
pub fn agency_code_from_cert(der: &[u8]) -> Result<String, PkiError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| PkiError::Parse(e.to_string()))?;

    let mut from_san: Option<&str> = None;
    let sans = cert
        .subject_alternative_name()
        .map_err(|e| PkiError::Parse(e.to_string()))?;
    for name in sans.iter().flat_map(|ext| ext.value.general_names.iter()) {
        if let GeneralName::URI(uri) = name
            && let Some(code) = uri.strip_prefix(AGENCY_URI_PREFIX)
        {
            match from_san {
                Some(previous) if previous != code => {
                    return Err(PkiError::AgencyMismatch {
                        first: previous.to_owned(),
                        second: code.to_owned(),
                    });
                }
                _ => from_san = Some(code),
            }
        }
    }

    let from_cn = match cert.subject().iter_common_name().next() {
        Some(cn) => Some(
            cn.as_str()
                .map_err(|e| PkiError::Parse(format!("subject CN is not a string: {e}")))?,
        ),
        None => None,
    };

    let code = match (from_san, from_cn) {
        (Some(san), Some(cn)) if san != cn => {
            return Err(PkiError::AgencyMismatch {
                first: san.to_owned(),
                second: cn.to_owned(),
            });
        }
        (Some(san), _) => san,
        (None, Some(cn)) => cn,
        (None, None) => return Err(PkiError::NoAgency),
    };
    check_agency_code(code)?;
    Ok(code.to_owned())
}

/// Writes the standard development layout into `dir` (creating it): `ca.pem`, `ca.key`,
/// `gateway.pem`, `gateway.key` (server certificate for `localhost` and `127.0.0.1`) and
/// `agencies/<code>.pem` + `agencies/<code>.key` for each `(code, name)` given.
///
/// Existing CA files are reused, so adding agencies later keeps old certificates valid; existing
/// gateway and agency files are kept. Only when the CA is created afresh are the gateway and
/// agency files (re)issued, since old ones could not chain to the new CA. Key files get mode 0600
/// on unix. Returns the paths written by this call (empty if everything already existed).
pub fn write_dev_pki(dir: &Path, agencies: &[(String, String)]) -> Result<Vec<PathBuf>, PkiError> {
    // Validate everything before touching the disk: agency codes become file names.
    let mut seen = HashSet::new();
    for (code, _) in agencies {
        check_agency_code(code)?;
        if !seen.insert(code.as_str()) {
            return Err(PkiError::DuplicateAgency(code.clone()));
        }
    }

    let agencies_dir = dir.join("agencies");
    std::fs::create_dir_all(&agencies_dir).map_err(|source| PkiError::Io {
        path: agencies_dir.clone(),
        source,
    })?;
    let mut written = Vec::new();

    let ca_pem = dir.join("ca.pem");
    let ca_key = dir.join("ca.key");
    let (ca, fresh_ca) = match (ca_pem.exists(), ca_key.exists()) {
        (true, true) => (DevCa::from_pem(&read(&ca_pem)?, &read(&ca_key)?)?, false),
        (false, false) => {
            let ca = DevCa::generate(DEV_CA_COMMON_NAME)?;
            write_pair(
                &ca_pem,
                &ca_key,
                &ca.cert_pem(),
                &ca.key_pem(),
                &mut written,
            )?;
            (ca, true)
        }
        // Half a CA means something went wrong; regenerating would silently orphan every
        // certificate already handed out, so let a person decide.
        (true, false) => return Err(PkiError::IncompleteCa { missing: ca_key }),
        (false, true) => return Err(PkiError::IncompleteCa { missing: ca_pem }),
    };

    let gateway_pem = dir.join("gateway.pem");
    let gateway_key = dir.join("gateway.key");
    if fresh_ca || !(gateway_pem.exists() && gateway_key.exists()) {
        let issued = ca.issue_server(&DEV_GATEWAY_NAMES)?;
        write_pair(
            &gateway_pem,
            &gateway_key,
            &issued.cert_pem,
            &issued.key_pem,
            &mut written,
        )?;
    }

    for (code, name) in agencies {
        let pem = agencies_dir.join(format!("{code}.pem"));
        let key = agencies_dir.join(format!("{code}.key"));
        if fresh_ca || !(pem.exists() && key.exists()) {
            let issued = ca.issue_agency(code, name, SERVER_VALID_DAYS as i64)?;
            write_pair(&pem, &key, &issued.cert_pem, &issued.key_pem, &mut written)?;
        }
    }
    Ok(written)
}

/// Issues the gateway certificate in `dir` afresh, from the CA there, for `names`: the DNS names
/// and IP addresses by which agencies and the CLI reach the gateway (each becomes a SAN; clients
/// check the name they dial against them). Returns the two paths written.
pub fn reissue_gateway(dir: &Path, names: &[&str]) -> Result<Vec<PathBuf>, PkiError> {
    let ca = DevCa::from_pem(&read(&dir.join("ca.pem"))?, &read(&dir.join("ca.key"))?)?;
    let issued = ca.issue_server(names)?;
    let mut written = Vec::new();
    write_pair(
        &dir.join("gateway.pem"),
        &dir.join("gateway.key"),
        &issued.cert_pem,
        &issued.key_pem,
        &mut written,
    )?;
    Ok(written)
}

/// Errors of the development PKI.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen could not build or sign a certificate.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// A PEM input could not be decoded.
    #[error("cannot read {what} pem: {reason}")]
    Pem {
        /// Which input was bad.
        what: &'static str,
        /// The decoder's complaint.
        reason: String,
    },
    /// A certificate's DER could not be parsed.
    #[error("cannot parse certificate: {0}")]
    Parse(String),
    /// The certificate given as CA may not sign certificates.
    #[error("certificate is not a certificate authority")]
    NotCa,
    /// The CA key does not match the CA certificate.
    #[error("ca key does not belong to the ca certificate")]
    KeyMismatch,
    /// A server certificate was requested without names.
    #[error("a server certificate needs at least one name")]
    NoServerNames,
    /// A server name that is neither an IP address nor a DNS name.
    #[error("{name:?} is neither an IP address nor a DNS name a client could dial")]
    NotAHostName {
        /// The rejected name.
        name: String,
    },
    /// A name cannot be put in a SAN.
    #[error("invalid certificate name {name:?}: {source}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// rcgen's reason.
        source: rcgen::Error,
    },
    /// The requested validity period does not fit in a certificate.
    #[error("validity period out of range")]
    ValidityOutOfRange,
    /// An agency code is empty or has characters other than ASCII letters and digits.
    #[error("invalid agency code {0:?}: expected 1 to 64 ascii letters and digits")]
    InvalidAgencyCode(String),
    /// The same agency code was listed twice.
    #[error("agency {0} is listed twice")]
    DuplicateAgency(String),
    /// The certificate carries neither an agency URI SAN nor a subject CN.
    #[error("certificate names no agency: no urn:casebridge:agency SAN and no subject CN")]
    NoAgency,
    /// The certificate names two different agencies.
    #[error("certificate names two agencies: {first} and {second}")]
    AgencyMismatch {
        /// The agency named first (URI SAN).
        first: String,
        /// The other agency named (another URI SAN or the subject CN).
        second: String,
    },
    /// One of `ca.pem` and `ca.key` exists without the other.
    #[error("incomplete development ca: {} is missing; restore it or remove the other ca file", missing.display())]
    IncompleteCa {
        /// The missing file.
        missing: PathBuf,
    },
    /// Reading or writing a PKI file failed.
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

// Agency codes are unified social credit codes (digits and capital letters); the check here is
// looser and exists so that a code is always a safe file name and URI segment. The directory
// decides whether a code is a known agency.
fn check_agency_code(code: &str) -> Result<(), PkiError> {
    if code.is_empty() || code.len() > 64 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(PkiError::InvalidAgencyCode(code.to_owned()));
    }
    Ok(())
}

fn earlier(now: SystemTime, by: Duration) -> Result<SystemTime, PkiError> {
    now.checked_sub(by).ok_or(PkiError::ValidityOutOfRange)
}

fn later(now: SystemTime, by: Duration) -> Result<SystemTime, PkiError> {
    now.checked_add(by).ok_or(PkiError::ValidityOutOfRange)
}

fn read(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.to_owned(),
        source,
    })
}

// Key first, so a crash between the two leaves a key without a certificate, which the next run
// treats as missing and reissues.
fn write_pair(
    cert_path: &Path,
    key_path: &Path,
    cert_pem: &str,
    key_pem: &str,
    written: &mut Vec<PathBuf>,
) -> Result<(), PkiError> {
    write_file(key_path, key_pem, true)?;
    written.push(key_path.to_owned());
    write_file(cert_path, cert_pem, false)?;
    written.push(cert_path.to_owned());
    Ok(())
}

fn write_file(path: &Path, contents: &str, secret: bool) -> Result<(), PkiError> {
    let io_err = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_err)?;
    // `mode` applies only when the file is created; tighten a pre-existing file too.
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io_err)?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    file.write_all(contents.as_bytes()).map_err(io_err)?;
    file.sync_all().map_err(io_err)
}

#[cfg(test)]
mod tests;
