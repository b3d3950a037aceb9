//! Who is calling: the agency named by the verified client certificate.
//!
//! rustls has already checked the chain to the configured CA and the validity period (an
//! expired or foreign certificate never gets this far). Here the certificate's agency code
//! must be well-formed and in the directory.
//!
//! The web console calls the same endpoints in-process, for the agency it signed in: it marks
//! such a request with [`ConsoleCaller`]. Request extensions are set only inside this process
//! (never from the wire), so no remote peer can claim to be one.

use casebridge_core::directory::{Agency, Directory};
use casebridge_core::ids::AgencyCode;
use tonic::Request;

use crate::error::GatewayError;
use crate::pki;

/// The agency a console page acts for, signed in by the console (`crate::console`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleCaller(pub AgencyCode);

/// The calling agency of `request`.
pub fn caller<T>(request: &Request<T>, directory: &Directory) -> Result<Agency, GatewayError> {
    if let Some(ConsoleCaller(code)) = request.extensions().get::<ConsoleCaller>() {
        return directory.get(code).cloned().ok_or_else(|| {
            GatewayError::PermissionDenied(format!(
                "agency {code} signed in to the console is not in the agency directory"
            ))
        });
    }
    let certs = request.peer_certs().ok_or_else(|| {
        GatewayError::Unauthenticated("a client certificate is required (mutual TLS)".into())
    })?;
    let leaf = certs.first().ok_or_else(|| {
        GatewayError::Unauthenticated("a client certificate is required (mutual TLS)".into())
    })?;
    let named = pki::agency_code_from_cert(leaf.as_ref())
        .map_err(|e| GatewayError::Unauthenticated(e.to_string()))?;
    let code = AgencyCode::parse(&named).map_err(|e| {
        GatewayError::Unauthenticated(format!(
            "the client certificate names {named:?}, which is not a valid agency code: {e}"
        ))
    })?;
    directory.get(&code).cloned().ok_or_else(|| {
        GatewayError::PermissionDenied(format!(
            "agency {code} named by the client certificate is not in the agency directory"
        ))
    })
}
