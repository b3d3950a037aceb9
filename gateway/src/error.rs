//! The one map from gateway failures to gRPC statuses. Handlers return [`GatewayError`] and
//! never build a `Status` themselves.

use casebridge_core::refusal::{Refusal, RefusalKind};
use casebridge_evidence::storage::StorageError;
use casebridge_platform::bus::BusError;
use casebridge_platform::reply::ServiceReply;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::convert::Violations;

/// Why the gateway could not serve a call.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The request is malformed; every offending field is listed.
    #[error("invalid request: {}", describe(.0))]
    Invalid(Violations),
    /// The owning service refused the step; nothing changed.
    #[error("{0}")]
    Refused(Refusal),
    /// The client certificate does not identify an agency.
    #[error("{0}")]
    Unauthenticated(String),
    /// The certificate's agency may not use CaseBridge.
    #[error("{0}")]
    PermissionDenied(String),
    /// The owning service did not answer in time or the bus is down; retrying with the same
    /// request id is safe.
    #[error("{service} service unavailable ({source}); retry with the same request_id")]
    Unavailable {
        service: &'static str,
        source: BusError,
    },
    /// The evidence storage (directory or bucket) failed; nothing was kept, retrying is safe.
    #[error("evidence storage unavailable; retry")]
    Storage(StorageError),
    /// A stored evidence file is missing or no longer matches its digest.
    #[error("{0}")]
    DataLoss(String),
    /// A bug or corrupt data: logged in full, reported without detail.
    #[error("internal error")]
    Internal(String),
}

impl GatewayError {
    /// A reply of another kind than the one asked for: its refusal, or (a bug on one side of
    /// the bus) an internal error that names the reply's kind, never its content.
    pub fn unanswered(service: &'static str, reply: impl ServiceReply) -> GatewayError {
        match reply.into_refusal() {
            Ok(refusal) => GatewayError::Refused(refusal),
            Err(other) => GatewayError::Internal(format!(
                "the {service} service answered with {}",
                other.kind()
            )),
        }
    }
}

fn describe(v: &Violations) -> String {
    v.list
        .iter()
        .map(|(_, d)| d.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The most characters of a status message, and of each violation's description. Both travel
/// in HTTP/2 headers (percent-encoded, the details base64-encoded), which a client refuses past
/// 16 KiB; a message that quotes a 2,000-character input must not turn a refusal into a broken
/// stream (issue 12, D8).
const MESSAGE_MAX_CHARS: usize = 500;

/// `text`, cut to [`MESSAGE_MAX_CHARS`] with an ellipsis.
fn bounded(text: &str) -> String {
    match text.char_indices().nth(MESSAGE_MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn bad_request<'a>(
    code: Code,
    message: String,
    fields: impl Iterator<Item = (&'a str, &'a str)>,
) -> Status {
    let mut details = ErrorDetails::new();
    for (field, description) in fields {
        details.add_bad_request_violation(bounded(field), bounded(description));
    }
    Status::with_error_details(code, message, details)
}

impl From<GatewayError> for Status {
    fn from(error: GatewayError) -> Status {
        let message = bounded(&error.to_string());
        match error {
            GatewayError::Invalid(v) => bad_request(
                Code::InvalidArgument,
                message,
                v.list.iter().map(|(f, d)| (f.as_str(), d.as_str())),
            ),
            GatewayError::Refused(refusal) => {
                let code = match refusal.kind {
                    RefusalKind::InvalidArgument => Code::InvalidArgument,
                    RefusalKind::FailedPrecondition => Code::FailedPrecondition,
                    RefusalKind::PermissionDenied => Code::PermissionDenied,
                    RefusalKind::NotFound => Code::NotFound,
                    RefusalKind::AlreadyExists => Code::AlreadyExists,
                };
                match &refusal.field {
                    Some(field) => bad_request(
                        code,
                        message,
                        [(field.as_str(), refusal.message.as_str())].into_iter(),
                    ),
                    None => Status::new(code, message),
                }
            }
            GatewayError::Unauthenticated(_) => Status::unauthenticated(message),
            GatewayError::PermissionDenied(_) => Status::permission_denied(message),
            GatewayError::Unavailable { .. } => Status::unavailable(message),
            GatewayError::Storage(error) => {
                tracing::error!(%error, "evidence storage failed");
                Status::unavailable(message)
            }
            GatewayError::DataLoss(detail) => {
                tracing::error!(error = %detail, "stored evidence is missing or damaged");
                Status::data_loss(message)
            }
            GatewayError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                Status::internal(message)
            }
        }
    }
}

impl From<Violations> for GatewayError {
    fn from(v: Violations) -> Self {
        GatewayError::Invalid(v)
    }
}

impl From<StorageError> for GatewayError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Missing(digest) => GatewayError::DataLoss(format!(
                "evidence {digest} is recorded but missing from storage"
            )),
            error => GatewayError::Storage(error),
        }
    }
}

impl GatewayError {
    /// A bus failure while calling `service`.
    pub fn bus(service: &'static str, source: BusError) -> GatewayError {
        match source {
            BusError::Encode(e) | BusError::Decode(e) => {
                GatewayError::Internal(format!("{service}: {e}"))
            }
            source => GatewayError::Unavailable { service, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_quoting_a_long_input_is_cut_so_it_fits_in_a_header() {
        let status = Status::from(GatewayError::Invalid(Violations::of(vec![(
            "region".into(),
            format!("region {} is not a region code", "长".repeat(2001)),
        )])));
        assert_eq!(status.message().chars().count(), MESSAGE_MAX_CHARS + 1);
        assert!(status.message().ends_with('…'));
        let violations = status
            .get_details_bad_request()
            .expect("details")
            .field_violations;
        assert_eq!(violations[0].field, "region");
        assert_eq!(
            violations[0].description.chars().count(),
            MESSAGE_MAX_CHARS + 1
        );
    }

    #[test]
    fn a_reply_of_another_kind_is_passed_on_as_a_refusal_or_named_by_its_kind_alone() {
        use casebridge_core::refusal::RefusalKind;
        use casebridge_platform::cases::Reply;

        let refusal = Refusal::new(RefusalKind::NotFound, "STATE", None, "no such case");
        let refused: Reply<String> = Reply::Refused {
            refusal: refusal.clone(),
        };
        assert!(matches!(
            GatewayError::unanswered("referrals", refused),
            GatewayError::Refused(r) if r == refusal
        ));
        // A read answered where a step was asked: the content (here a case holding a name)
        // never reaches the error.
        let found = Reply::Found {
            case: "张三".to_owned(),
        };
        let error = GatewayError::unanswered("referrals", found.accepted().unwrap_err());
        match error {
            GatewayError::Internal(message) => {
                assert_eq!(message, "the referrals service answered with found");
            }
            other => panic!("expected an internal error, got {other:?}"),
        }
    }
}
