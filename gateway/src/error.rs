//! The one map from gateway failures to gRPC statuses. Handlers return [`GatewayError`] and
//! never build a `Status` themselves.

use std::collections::HashMap;

use casebridge_core::refusal::{Refusal, RefusalKind, zh};
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

/// The `domain` of the `google.rpc.ErrorInfo` on every refused status: its `reason` is a
/// CaseBridge rule id (`docs/law.md`), not a Google API reason.
pub const ERROR_DOMAIN: &str = "casebridge.gov.cn";

/// The locale of the `google.rpc.LocalizedMessage` on every refused status: the refusal in
/// Chinese, while the status message stays English.
pub const REFUSAL_LOCALE: &str = "zh-CN";

/// The rule of the gateway's own input checks ([`GatewayError::Invalid`]).
const INPUT_RULE: &str = "INPUT";

/// The rule of a call whose client certificate names no valid agency, or is revoked.
const CERTIFICATE_RULE: &str = "AUTH-CERT";

/// The rule of a call whose certified agency is not in the agency directory.
const DIRECTORY_RULE: &str = "DIR";

/// A refused status: `message` (English), and the details every refusal carries: a
/// `google.rpc.BadRequest` with one violation per offending field (when there is one), a
/// `google.rpc.ErrorInfo` whose reason is `rule` (its metadata's `field` lists the fields), and
/// the Chinese text `zh` as a `google.rpc.LocalizedMessage` in [`REFUSAL_LOCALE`].
fn refused_status(
    code: Code,
    message: String,
    rule: &str,
    fields: &[(&str, &str)],
    zh: &str,
) -> Status {
    let mut details = ErrorDetails::new();
    for (field, description) in fields {
        details.add_bad_request_violation(bounded(field), bounded(description));
    }
    let mut metadata = HashMap::new();
    if !fields.is_empty() {
        let names: Vec<&str> = fields.iter().map(|(field, _)| *field).collect();
        metadata.insert("field".to_owned(), bounded(&names.join(", ")));
    }
    details.set_error_info(rule, ERROR_DOMAIN, metadata);
    details.set_localized_message(REFUSAL_LOCALE, bounded(zh));
    Status::with_error_details(code, message, details)
}

/// A refusal without a field, in Chinese, by `rule`.
fn refused_without_field(code: Code, message: String, rule: &str) -> Status {
    let zh = zh::message_zh(rule, None, &message);
    refused_status(code, message, rule, &[], &zh)
}

/// The status of the gateway's own input checks: every offending field, by rule `INPUT`.
fn invalid_status(message: String, violations: &Violations) -> Status {
    let fields: Vec<(&str, &str)> = violations
        .list
        .iter()
        .map(|(field, description)| (field.as_str(), description.as_str()))
        .collect();
    let names: Vec<&str> = fields.iter().map(|(field, _)| *field).collect();
    let path = (!names.is_empty()).then(|| names.join("、"));
    let zh = zh::message_zh(INPUT_RULE, path.as_deref(), &message);
    refused_status(Code::InvalidArgument, message, INPUT_RULE, &fields, &zh)
}

/// The status of a service's refusal: its kind's code, its rule, its field.
fn refusal_status(message: String, refusal: &Refusal) -> Status {
    let code = match refusal.kind {
        RefusalKind::InvalidArgument => Code::InvalidArgument,
        RefusalKind::FailedPrecondition => Code::FailedPrecondition,
        RefusalKind::PermissionDenied => Code::PermissionDenied,
        RefusalKind::NotFound => Code::NotFound,
        RefusalKind::AlreadyExists => Code::AlreadyExists,
    };
    let fields: Vec<(&str, &str)> = refusal
        .field
        .iter()
        .map(|field| (field.as_str(), refusal.message.as_str()))
        .collect();
    refused_status(code, message, &refusal.rule, &fields, &refusal.message_zh())
}

impl From<GatewayError> for Status {
    fn from(error: GatewayError) -> Status {
        let message = bounded(&error.to_string());
        match error {
            GatewayError::Invalid(v) => invalid_status(message, &v),
            GatewayError::Refused(refusal) => refusal_status(message, &refusal),
            GatewayError::Unauthenticated(_) => {
                refused_without_field(Code::Unauthenticated, message, CERTIFICATE_RULE)
            }
            GatewayError::PermissionDenied(_) => {
                refused_without_field(Code::PermissionDenied, message, DIRECTORY_RULE)
            }
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
    fn a_refusal_carries_its_rule_and_its_chinese_text_beside_the_bad_request() {
        let refusal = Refusal::new(
            RefusalKind::InvalidArgument,
            "S1-6",
            Some("documents"),
            "no seized_items_list (涉案物品清单) is included, which S1-6 requires here",
        );
        let status = Status::from(GatewayError::Refused(refusal));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().ends_with("(rule S1-6)"), "{status:?}");

        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "S1-6");
        assert_eq!(info.domain, ERROR_DOMAIN);
        assert_eq!(
            info.metadata.get("field").map(String::as_str),
            Some("documents")
        );

        let localized = status
            .get_details_localized_message()
            .expect("LocalizedMessage");
        assert_eq!(localized.locale, "zh-CN");
        let wording = zh::rule_text_zh("S1-6").expect("S1-6 has its wording");
        assert!(localized.message.contains(wording), "{}", localized.message);
        assert!(localized.message.starts_with("未附涉案物品清单。"));
        assert!(
            localized
                .message
                .ends_with("（字段：documents；规则 S1-6）")
        );

        let violations = status.get_details_bad_request().expect("BadRequest");
        assert_eq!(violations.field_violations[0].field, "documents");
    }

    #[test]
    fn a_refusal_without_a_field_carries_no_field_but_its_rule_and_chinese_text() {
        let refusal = Refusal::new(
            RefusalKind::FailedPrecondition,
            "STATE",
            None,
            "step file is not allowed while the case is submitted; it is allowed when received",
        );
        let status = Status::from(GatewayError::Refused(refusal));
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(status.get_details_bad_request().is_none());
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "STATE");
        assert!(info.metadata.is_empty());
        let localized = status.get_details_localized_message().expect("zh-CN");
        assert!(
            localized.message.starts_with("案件当前状态为「已移送」"),
            "{}",
            localized.message
        );
    }

    #[test]
    fn the_gateways_own_checks_and_identity_refusals_are_worded_in_chinese_too() {
        let status = Status::from(GatewayError::Invalid(Violations::of(vec![
            ("region".into(), "region 12 is not a region code".into()),
            (
                "documents[1].title".into(),
                "documents[1].title is empty".into(),
            ),
        ])));
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "INPUT");
        assert_eq!(
            info.metadata.get("field").map(String::as_str),
            Some("region, documents[1].title")
        );
        let localized = status.get_details_localized_message().expect("zh-CN");
        assert!(
            localized
                .message
                .ends_with("（字段：region、documents[1].title；规则 INPUT）")
        );

        for (error, rule) in [
            (
                GatewayError::Unauthenticated("no certificate".into()),
                "AUTH-CERT",
            ),
            (
                GatewayError::PermissionDenied("not in the directory".into()),
                "DIR",
            ),
        ] {
            let status = Status::from(error);
            assert_eq!(
                status.get_details_error_info().expect("ErrorInfo").reason,
                rule
            );
            let localized = status.get_details_localized_message().expect("zh-CN");
            assert!(
                localized
                    .message
                    .contains(zh::rule_text_zh(rule).expect("wording"))
            );
        }
    }

    #[test]
    fn a_long_chinese_text_is_cut_like_the_message() {
        let refusal = Refusal::new(
            RefusalKind::InvalidArgument,
            "INPUT",
            Some(&"字".repeat(2000)),
            "x",
        );
        let status = Status::from(GatewayError::Refused(refusal));
        let localized = status.get_details_localized_message().expect("zh-CN");
        assert_eq!(localized.message.chars().count(), MESSAGE_MAX_CHARS + 1);
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(
            info.metadata["field"].chars().count(),
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
