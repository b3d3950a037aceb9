//! Who is calling: the agency named by the verified client certificate.
//!
//! rustls has already checked the chain to the configured CA and the validity period (an
//! expired or foreign certificate never gets this far). Here the certificate must not be
//! revoked, and its agency code must be well-formed and in the directory, as they stand now
//! ([`Trust`], reloaded without a restart).
//!
//! The web console calls the same endpoints in-process, for the agency it signed in: it marks
//! such a request with [`ConsoleCaller`]. Request extensions are set only inside this process
//! (never from the wire), so no remote peer can claim to be one.

use casebridge_core::directory::Agency;
use casebridge_core::ids::AgencyCode;
use tonic::Request;

use crate::error::GatewayError;
use crate::pki;
use crate::trust::Trust;

/// The agency a console page acts for, signed in by the console (`crate::console`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleCaller(pub AgencyCode);

/// Who presented themselves on a request: an agency code and, when it came from a client
/// certificate, that certificate's serial number (for revocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub code: AgencyCode,
    /// `None` for the console's in-process calls.
    pub serial: Option<Vec<u8>>,
}

/// The calling agency of `request`, if it is admitted now.
pub fn caller<T>(request: &Request<T>, trust: &Trust) -> Result<Agency, GatewayError> {
    admit(&credential(request)?, trust)
}

/// What `request` presents, before asking whether it is admitted.
pub fn credential<T>(request: &Request<T>) -> Result<Credential, GatewayError> {
    if let Some(ConsoleCaller(code)) = request.extensions().get::<ConsoleCaller>() {
        return Ok(Credential {
            code: code.clone(),
            serial: None,
        });
    }
    let certs = request.peer_certs().ok_or_else(|| {
        GatewayError::Unauthenticated("a client certificate is required (mutual TLS)".into())
    })?;
    let leaf = certs.first().ok_or_else(|| {
        GatewayError::Unauthenticated("a client certificate is required (mutual TLS)".into())
    })?;
    let code = certified_agency(leaf.as_ref())?;
    let serial = pki::certificate_serial(leaf.as_ref())
        .map_err(|e| GatewayError::Unauthenticated(e.to_string()))?;
    Ok(Credential {
        code,
        serial: Some(serial),
    })
}

/// The agency code a client certificate (DER) names, well-formed. The one reading of it: the
/// gRPC port's handshake, every call, and the console's connections all ask here.
pub(crate) fn certified_agency(leaf: &[u8]) -> Result<AgencyCode, GatewayError> {
    let named = pki::agency_code_from_cert(leaf)
        .map_err(|e| GatewayError::Unauthenticated(e.to_string()))?;
    AgencyCode::parse(&named).map_err(|e| {
        GatewayError::Unauthenticated(format!(
            "the client certificate names {named:?}, which is not a valid agency code: {e}"
        ))
    })
}

/// Whether `credential` is admitted by the trust in force: its certificate not revoked, its
/// agency in the directory. Asked on every call, and again by open streams after each reload.
pub fn admit(credential: &Credential, trust: &Trust) -> Result<Agency, GatewayError> {
    let code = &credential.code;
    if let Some(serial) = &credential.serial
        && trust.is_revoked(serial)
    {
        return Err(GatewayError::Unauthenticated(format!(
            "the client certificate of agency {code} (serial {}) is revoked",
            hex::encode(serial)
        )));
    }
    trust.directory().get(code).cloned().ok_or_else(|| {
        GatewayError::PermissionDenied(match credential.serial {
            Some(_) => format!(
                "agency {code} named by the client certificate is not in the agency directory"
            ),
            None => {
                format!("agency {code} signed in to the console is not in the agency directory")
            }
        })
    })
}
