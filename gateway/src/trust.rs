//! Whom the gateway trusts now: the agency directory and the revoked client certificates, both
//! re-read from their files when they change, without a restart.
//!
//! - A revoked certificate (listed by serial number, or in a CRL) fails the next TLS handshake
//!   ([`crate::tls`]); on a connection opened before, its next call is refused and its open inbox
//!   streams end with UNAUTHENTICATED within one reload period.
//! - An agency removed from the directory is refused with PERMISSION_DENIED on its next call,
//!   streams included.
//! - A file that no longer parses is reported and ignored: the last good version stays in force,
//!   so a typo never opens the door to a revoked certificate.
//!
//! The revocation file is either PEM CRLs (`-----BEGIN X509 CRL-----`, as `openssl ca -gencrl`
//! writes them; several may follow each other) or a list of serial numbers in hex, one per line
//! (`openssl x509 -serial -noout` prints them as `serial=…`; that prefix, colons and `#`
//! comments are allowed). A CRL's signature is not checked here: the file is the operator's,
//! and it can only refuse certificates, never admit one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use casebridge_core::directory::Directory;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use x509_parser::prelude::FromDer as _;
use x509_parser::revocation_list::CertificateRevocationList;

/// Serial numbers of revoked certificates, as unsigned big-endian bytes without leading zeros.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revoked {
    serials: BTreeSet<Vec<u8>>,
}

/// Why a trust file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

impl Revoked {
    /// Parses a revocation file: PEM CRLs, or serial numbers in hex, one per line.
    pub fn parse(text: &str) -> Result<Revoked, String> {
        if text.contains("-----BEGIN X509 CRL-----") {
            return Self::from_crls(text);
        }
        let mut serials = BTreeSet::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let hex_digits: String = line
                .strip_prefix("serial=")
                .unwrap_or(line)
                .chars()
                .filter(|c| *c != ':')
                .collect();
            let padded = if hex_digits.len() % 2 == 1 {
                format!("0{hex_digits}")
            } else {
                hex_digits
            };
            let bytes = hex::decode(&padded).map_err(|_| {
                format!(
                    "line {}: {line:?} is not a serial number in hex (or a PEM CRL)",
                    n + 1
                )
            })?;
            serials.insert(normalized(&bytes));
        }
        Ok(Revoked { serials })
    }

    fn from_crls(text: &str) -> Result<Revoked, String> {
        let mut serials = BTreeSet::new();
        for pem in x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()) {
            let pem = pem.map_err(|e| format!("not a PEM file: {e}"))?;
            if pem.label != "X509 CRL" {
                continue;
            }
            let (_, crl) = CertificateRevocationList::from_der(&pem.contents)
                .map_err(|e| format!("not a CRL: {e}"))?;
            for revoked in crl.iter_revoked_certificates() {
                serials.insert(normalized(revoked.raw_serial()));
            }
        }
        Ok(Revoked { serials })
    }

    /// Whether the certificate with serial `serial` (big-endian bytes) is revoked.
    pub fn contains(&self, serial: &[u8]) -> bool {
        self.serials.contains(&normalized(serial))
    }

    /// How many serial numbers are revoked.
    pub fn len(&self) -> usize {
        self.serials.len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.serials.is_empty()
    }
}

/// DER writes a serial with a leading zero when its top bit is set; compare without it.
fn normalized(serial: &[u8]) -> Vec<u8> {
    let start = serial.iter().position(|b| *b != 0).unwrap_or(serial.len());
    serial[start..].to_vec()
}

/// The files trust is read from, and how often to look at them.
#[derive(Debug, Clone)]
pub struct TrustFiles {
    /// The agency directory (TOML).
    pub directory: PathBuf,
    /// The revoked certificates, when the deployment keeps a list.
    pub revoked: Option<PathBuf>,
    /// How often the files are checked for changes.
    pub reload_every: Duration,
}

/// The directory and revocations in force, swapped whole when a file changes.
#[derive(Debug)]
pub struct Trust {
    directory: RwLock<Arc<Directory>>,
    revoked: RwLock<Arc<Revoked>>,
    /// Counts reloads, so open streams re-check their caller at once.
    generation: watch::Sender<u64>,
}

impl Trust {
    /// Trust in `directory`, with nothing revoked (until [`Trust::watch`] reads the files).
    pub fn new(directory: Arc<Directory>, revoked: Revoked) -> Trust {
        Trust {
            directory: RwLock::new(directory),
            revoked: RwLock::new(Arc::new(revoked)),
            generation: watch::Sender::new(0),
        }
    }

    /// Reads the revocation file at `path`.
    pub fn read_revoked(path: &Path) -> Result<Revoked, TrustError> {
        let text = std::fs::read_to_string(path).map_err(|source| TrustError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Revoked::parse(&text).map_err(|reason| TrustError::Invalid {
            path: path.display().to_string(),
            reason,
        })
    }

    fn read_directory(path: &Path) -> Result<Directory, TrustError> {
        let text = std::fs::read_to_string(path).map_err(|source| TrustError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Directory::from_toml_str(&text).map_err(|e| TrustError::Invalid {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// The agency directory in force.
    pub fn directory(&self) -> Arc<Directory> {
        self.directory
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether the certificate with `serial` is revoked now.
    pub fn is_revoked(&self, serial: &[u8]) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(serial)
    }

    /// A receiver told of every reload.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    fn replace_directory(&self, directory: Directory) {
        *self
            .directory
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(directory);
        self.generation.send_modify(|g| *g += 1);
    }

    fn replace_revoked(&self, revoked: Revoked) {
        *self
            .revoked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(revoked);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Re-reads each file whose modification time or size changed, every `files.reload_every`,
    /// until `stop`. The files' versions are noted when this is called, not when the returned
    /// future first runs, so a change made in between is seen.
    pub fn watch(
        self: Arc<Self>,
        files: TrustFiles,
        stop: CancellationToken,
    ) -> impl std::future::Future<Output = ()> + Send {
        let directory_seen = stamp(&files.directory);
        let revoked_seen = files.revoked.as_deref().and_then(stamp);
        self.watch_from(files, stop, directory_seen, revoked_seen)
    }

    async fn watch_from(
        self: Arc<Self>,
        files: TrustFiles,
        stop: CancellationToken,
        mut directory_seen: Option<(SystemTime, u64)>,
        mut revoked_seen: Option<(SystemTime, u64)>,
    ) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(files.reload_every) => {}
            }
            let now = stamp(&files.directory);
            if now != directory_seen {
                directory_seen = now;
                match Self::read_directory(&files.directory) {
                    Ok(directory) => {
                        tracing::info!(
                            agencies = directory.agencies().count(),
                            "agency directory reloaded"
                        );
                        self.replace_directory(directory);
                    }
                    Err(error) => {
                        tracing::error!(%error, "agency directory not reloaded: the last good one stays in force")
                    }
                }
            }
            if let Some(path) = &files.revoked {
                let now = stamp(path);
                if now != revoked_seen {
                    revoked_seen = now;
                    match Self::read_revoked(path) {
                        Ok(revoked) => {
                            tracing::info!(
                                revoked = revoked.len(),
                                "revoked certificates reloaded"
                            );
                            self.replace_revoked(revoked);
                        }
                        Err(error) => {
                            tracing::error!(%error, "revoked certificates not reloaded: the last good list stays in force")
                        }
                    }
                }
            }
        }
    }
}

/// What identifies a version of a file: its modification time and size.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::DevCa;

    const POLICE: &str = "11350100MB01000064";

    fn serial_of(cert_pem: &str) -> Vec<u8> {
        let pem = x509_parser::pem::Pem::iter_from_buffer(cert_pem.as_bytes())
            .next()
            .expect("a PEM block")
            .expect("PEM");
        let cert = pem.parse_x509().expect("certificate");
        cert.raw_serial().to_vec()
    }

    #[test]
    fn serial_lists_accept_what_openssl_prints_and_refuse_what_is_not_hex() {
        let revoked = Revoked::parse(
            "# revoked 2026-12-04\nserial=4A3F01\n00:ff:10 # leading zero and colons\n\nabc\n",
        )
        .expect("list");
        assert_eq!(revoked.len(), 3);
        assert!(revoked.contains(&[0x4a, 0x3f, 0x01]));
        assert!(revoked.contains(&[0x00, 0xff, 0x10]), "DER's leading zero");
        assert!(revoked.contains(&[0xff, 0x10]));
        assert!(revoked.contains(&[0x0a, 0xbc]), "an odd number of digits");
        assert!(!revoked.contains(&[0x4a, 0x3f]));
        let err = Revoked::parse("4A3F01\nnot-a-serial\n").expect_err("bad line");
        assert!(err.contains("line 2"), "{err}");
        assert!(Revoked::parse("").expect("empty").is_empty());
    }

    #[test]
    fn a_crl_from_the_ca_revokes_the_certificates_it_lists() {
        let ca = DevCa::generate("test ca").expect("ca");
        let police = ca.issue_agency(POLICE, "福州市公安局", 30).expect("police");
        let market = ca
            .issue_agency("11350100MB0100002P", "福州市市场监督管理局", 30)
            .expect("market");
        let crl = ca.crl_pem(&[&serial_of(&police.cert_pem)]).expect("crl");
        let revoked = Revoked::parse(&crl).expect("a CRL parses");
        assert!(revoked.contains(&serial_of(&police.cert_pem)));
        assert!(!revoked.contains(&serial_of(&market.cert_pem)));
    }

    #[tokio::test]
    async fn a_changed_file_is_reloaded_and_a_broken_one_leaves_the_last_good_in_force() {
        let dir = tempfile::tempdir().expect("tempdir");
        let directory_file = dir.path().join("directory.toml");
        let revoked_file = dir.path().join("revoked.txt");
        let example = include_str!("../../deploy/directory.toml");
        std::fs::write(&directory_file, example).expect("write");
        std::fs::write(&revoked_file, "").expect("write");
        let trust = Arc::new(Trust::new(
            Arc::new(Directory::from_toml_str(example).expect("directory")),
            Revoked::default(),
        ));
        let stop = CancellationToken::new();
        let files = TrustFiles {
            directory: directory_file.clone(),
            revoked: Some(revoked_file.clone()),
            reload_every: Duration::from_millis(20),
        };
        let watcher = tokio::spawn(trust.clone().watch(files, stop.clone()));
        let mut changes = trust.changes();

        std::fs::write(&revoked_file, "0102\n").expect("write");
        tokio::time::timeout(Duration::from_secs(5), changes.changed())
            .await
            .expect("reloaded in time")
            .expect("sender alive");
        assert!(trust.is_revoked(&[1, 2]));

        std::fs::write(&revoked_file, "0102\nnonsense\n").expect("write");
        std::fs::write(&directory_file, "not toml [").expect("write");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(trust.is_revoked(&[1, 2]), "the last good list stays");
        assert!(
            trust
                .directory()
                .get(&casebridge_core::ids::AgencyCode::parse(POLICE).expect("code"))
                .is_some(),
            "the last good directory stays"
        );
        stop.cancel();
        watcher.await.expect("watcher ends");
    }
}
