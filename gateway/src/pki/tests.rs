use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier as _;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{CertificateError, RootCertStore};

use super::*;

const POLICE: &str = "11350100MB0100009B";

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("valid certificate pem")
}

fn roots(ca: &DevCa) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots
        .add(der(&ca.cert_pem()))
        .expect("ca is a valid trust anchor");
    Arc::new(roots)
}

fn client_verifier(ca: &DevCa) -> Arc<dyn ClientCertVerifier> {
    WebPkiClientVerifier::builder_with_provider(
        roots(ca),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .expect("verifier builds")
}

fn verify_client(ca: &DevCa, cert: &IssuedCert) -> Result<(), rustls::Error> {
    client_verifier(ca)
        .verify_client_cert(&der(&cert.cert_pem), &[], UnixTime::now())
        .map(|_| ())
}

#[test]
fn an_agency_certificate_names_its_agency() {
    let ca = DevCa::generate("test ca").expect("ca");
    let cert = ca
        .issue_agency(POLICE, "福州市公安局", 30)
        .expect("agency cert");
    assert_eq!(
        agency_code_from_cert(&der(&cert.cert_pem)).expect("code"),
        POLICE
    );
}

#[test]
fn the_gateway_accepts_an_agency_certificate_from_its_ca() {
    let ca = DevCa::generate("test ca").expect("ca");
    let cert = ca
        .issue_agency(POLICE, "福州市公安局", 30)
        .expect("agency cert");
    verify_client(&ca, &cert).expect("agency certificate is accepted");
}

#[test]
fn the_gateway_rejects_a_certificate_from_another_ca() {
    let ours = DevCa::generate("our ca").expect("ca");
    let theirs = DevCa::generate("their ca").expect("ca");
    let cert = theirs
        .issue_agency(POLICE, "福州市公安局", 30)
        .expect("agency cert");
    let err = verify_client(&ours, &cert).expect_err("foreign certificate is rejected");
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
        ),
        "unexpected error: {err:?}"
    );
}

#[test]
fn the_gateway_rejects_an_expired_agency_certificate() {
    let ca = DevCa::generate("test ca").expect("ca");
    let cert = ca
        .issue_agency(POLICE, "福州市公安局", -1)
        .expect("agency cert");
    let err = verify_client(&ca, &cert).expect_err("expired certificate is rejected");
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            )
        ),
        "unexpected error: {err:?}"
    );
}

#[test]
fn a_server_certificate_cannot_be_used_as_a_client_certificate() {
    let ca = DevCa::generate("test ca").expect("ca");
    let server = ca.issue_server(&["localhost"]).expect("server cert");
    assert!(verify_client(&ca, &server).is_err());
}

#[test]
fn the_server_certificate_is_valid_for_localhost_and_the_loopback_ip() {
    let ca = DevCa::generate("test ca").expect("ca");
    let server = ca.issue_server(&DEV_GATEWAY_NAMES).expect("server cert");
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        roots(&ca),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .expect("verifier builds");
    for name in ["localhost", "127.0.0.1"] {
        let name = ServerName::try_from(name).expect("server name");
        verifier
            .verify_server_cert(&der(&server.cert_pem), &[], &name, &[], UnixTime::now())
            .expect("server certificate matches");
    }
    let other = ServerName::try_from("example.org").expect("server name");
    assert!(
        verifier
            .verify_server_cert(&der(&server.cert_pem), &[], &other, &[], UnixTime::now())
            .is_err()
    );
}

#[test]
fn a_gateway_certificate_reissued_for_real_names_answers_to_those_names_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_dev_pki(dir.path(), &[]).expect("write");
    let names = ["gateway.fz.example.gov.cn", "10.20.30.40"];
    let written = reissue_gateway(dir.path(), &names).expect("reissue");
    assert_eq!(written.len(), 2, "{written:?}");
    let ca = DevCa::from_pem(
        &std::fs::read_to_string(dir.path().join("ca.pem")).expect("ca"),
        &std::fs::read_to_string(dir.path().join("ca.key")).expect("ca key"),
    )
    .expect("ca");
    let cert = std::fs::read_to_string(dir.path().join("gateway.pem")).expect("cert");
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        roots(&ca),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .expect("verifier builds");
    let check = |name: &str| {
        let name = ServerName::try_from(name.to_owned()).expect("server name");
        verifier.verify_server_cert(&der(&cert), &[], &name, &[], UnixTime::now())
    };
    for name in names {
        check(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(check("localhost").is_err(), "no longer localhost");
    assert!(matches!(
        reissue_gateway(dir.path(), &["not a name"]),
        Err(PkiError::NotAHostName { .. })
    ));
}

#[test]
fn a_reloaded_ca_issues_certificates_the_original_root_accepts() {
    let original = DevCa::generate("test ca").expect("ca");
    let reloaded = DevCa::from_pem(&original.cert_pem(), &original.key_pem()).expect("reload ca");
    let cert = reloaded
        .issue_agency(POLICE, "福州市公安局", 30)
        .expect("agency cert");
    verify_client(&original, &cert).expect("certificate from reloaded ca is accepted");
}

#[test]
fn a_ca_cannot_be_reloaded_with_someone_elses_key() {
    let ca = DevCa::generate("test ca").expect("ca");
    let other = DevCa::generate("other ca").expect("ca");
    assert!(matches!(
        DevCa::from_pem(&ca.cert_pem(), &other.key_pem()),
        Err(PkiError::KeyMismatch)
    ));
}

#[test]
fn a_leaf_certificate_cannot_be_reloaded_as_a_ca() {
    let ca = DevCa::generate("test ca").expect("ca");
    let leaf = ca
        .issue_agency(POLICE, "福州市公安局", 30)
        .expect("agency cert");
    assert!(matches!(
        DevCa::from_pem(&leaf.cert_pem, &leaf.key_pem),
        Err(PkiError::NotCa)
    ));
}

fn cert_with(cn: Option<&str>, uris: &[&str]) -> CertificateDer<'static> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    if let Some(cn) = cn {
        params.distinguished_name.push(DnType::CommonName, cn);
    }
    params.subject_alt_names = uris
        .iter()
        .map(|u| SanType::URI((*u).try_into().expect("ia5 uri")))
        .collect();
    let key = KeyPair::generate().expect("key");
    params.self_signed(&key).expect("cert").der().clone()
}

#[test]
fn the_subject_cn_names_the_agency_when_there_is_no_agency_san() {
    let cert = cert_with(Some(POLICE), &["https://example.org/"]);
    assert_eq!(agency_code_from_cert(&cert).expect("code"), POLICE);
}

#[test]
fn the_agency_san_names_the_agency_when_there_is_no_cn() {
    let cert = cert_with(None, &[&format!("{AGENCY_URI_PREFIX}{POLICE}")]);
    assert_eq!(agency_code_from_cert(&cert).expect("code"), POLICE);
}

#[test]
fn a_certificate_whose_san_and_cn_disagree_names_no_agency() {
    let cert = cert_with(
        Some("11350100MB0100001L"),
        &[&format!("{AGENCY_URI_PREFIX}{POLICE}")],
    );
    assert!(matches!(
        agency_code_from_cert(&cert),
        Err(PkiError::AgencyMismatch { .. })
    ));
}

#[test]
fn a_certificate_with_two_agency_sans_names_no_agency() {
    let cert = cert_with(
        None,
        &[
            &format!("{AGENCY_URI_PREFIX}{POLICE}"),
            &format!("{AGENCY_URI_PREFIX}11350100MB0100001L"),
        ],
    );
    assert!(matches!(
        agency_code_from_cert(&cert),
        Err(PkiError::AgencyMismatch { .. })
    ));
}

#[test]
fn a_certificate_without_cn_or_agency_san_names_no_agency() {
    let cert = cert_with(None, &["https://example.org/"]);
    let err = agency_code_from_cert(&cert).expect_err("no agency");
    assert_eq!(
        err.to_string(),
        "certificate names no agency: no urn:casebridge:agency SAN and no subject CN"
    );
}

#[test]
fn agency_codes_that_are_not_safe_file_names_are_refused() {
    let ca = DevCa::generate("test ca").expect("ca");
    for bad in ["", "../etc/passwd", "a b", "x/y"] {
        assert!(
            matches!(
                ca.issue_agency(bad, "x", 1),
                Err(PkiError::InvalidAgencyCode(_))
            ),
            "{bad:?} was accepted"
        );
    }
}

fn agency(code: &str, name: &str) -> (String, String) {
    (code.to_owned(), name.to_owned())
}

#[test]
fn writing_the_dev_pki_twice_keeps_the_ca_and_existing_certificates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = write_dev_pki(dir.path(), &[agency(POLICE, "福州市公安局")]).expect("first");
    assert_eq!(first.len(), 6, "{first:?}");
    let ca_pem = std::fs::read(dir.path().join("ca.pem")).expect("ca.pem");
    let ca_key = std::fs::read(dir.path().join("ca.key")).expect("ca.key");
    let police_pem = dir.path().join(format!("agencies/{POLICE}.pem"));
    let police_before = std::fs::read(&police_pem).expect("police pem");

    let second = write_dev_pki(
        dir.path(),
        &[
            agency(POLICE, "福州市公安局"),
            agency("11350100MB0100001L", "福州市人民政府"),
        ],
    )
    .expect("second");

    assert_eq!(
        second,
        vec![
            dir.path().join("agencies/11350100MB0100001L.key"),
            dir.path().join("agencies/11350100MB0100001L.pem"),
        ]
    );
    assert_eq!(
        std::fs::read(dir.path().join("ca.pem")).expect("ca.pem"),
        ca_pem
    );
    assert_eq!(
        std::fs::read(dir.path().join("ca.key")).expect("ca.key"),
        ca_key
    );
    assert_eq!(
        std::fs::read(&police_pem).expect("police pem"),
        police_before
    );

    // Old and new agency certificates both chain to the one CA.
    let ca = DevCa::from_pem(
        &std::fs::read_to_string(dir.path().join("ca.pem")).expect("ca.pem"),
        &std::fs::read_to_string(dir.path().join("ca.key")).expect("ca.key"),
    )
    .expect("reload");
    for code in [POLICE, "11350100MB0100001L"] {
        let cert = IssuedCert {
            cert_pem: std::fs::read_to_string(dir.path().join(format!("agencies/{code}.pem")))
                .expect("agency pem"),
            key_pem: String::new(),
        };
        verify_client(&ca, &cert).expect("agency certificate chains to the ca");
    }
}

#[cfg(unix)]
#[test]
fn dev_pki_key_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let written = write_dev_pki(dir.path(), &[agency(POLICE, "福州市公安局")]).expect("write");
    for path in written
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "key"))
    {
        let mode = std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
}

#[test]
fn half_a_ca_is_an_error_not_a_silent_regeneration() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_dev_pki(dir.path(), &[]).expect("write");
    std::fs::remove_file(dir.path().join("ca.key")).expect("remove key");
    assert!(matches!(
        write_dev_pki(dir.path(), &[]),
        Err(PkiError::IncompleteCa { .. })
    ));
}
