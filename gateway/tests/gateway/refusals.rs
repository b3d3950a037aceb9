//! What every family's rejection tests share: a refused call must carry the right status code,
//! a message that names the problem, the offending field where there is one — and change
//! nothing: the case keeps its version and no party hears of it.

use super::*;

/// One call that must be refused, and how.
pub struct Refusal {
    /// What the call does wrong, for the failure message.
    pub what: &'static str,
    pub code: Code,
    /// A phrase the status message must contain.
    pub says: &'static str,
    /// The field the `BadRequest` details must name, if any.
    pub field: Option<&'static str>,
}

/// Checks one refused call against what it should have said.
pub fn assert_refused(result: Result<impl std::fmt::Debug, Status>, expected: &Refusal) {
    let status = match result {
        Ok(answer) => panic!("{}: accepted as {answer:?}", expected.what),
        Err(status) => status,
    };
    assert_eq!(
        status.code(),
        expected.code,
        "{}: {status:?}",
        expected.what
    );
    assert!(
        status.message().contains(expected.says),
        "{}: the message {:?} does not say {:?}",
        expected.what,
        status.message(),
        expected.says
    );
    if let Some(field) = expected.field {
        assert!(
            violated_fields(&status).iter().any(|f| f == field),
            "{}: the violations {:?} do not name {field}",
            expected.what,
            violated_fields(&status)
        );
    }
    assert_rule_and_chinese(&status, expected.what);
}

/// The domain of the gateway's `google.rpc.ErrorInfo` (`error::ERROR_DOMAIN`).
pub const ERROR_DOMAIN: &str = "casebridge.gov.cn";

/// Every refused status names its rule in a `google.rpc.ErrorInfo` and says it in Chinese in
/// a zh-CN `google.rpc.LocalizedMessage` that ends with that rule; returns the rule and the
/// Chinese text.
pub fn assert_rule_and_chinese(status: &Status, what: &str) -> (String, String) {
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("{what}: no ErrorInfo in {status:?}"));
    assert_eq!(info.domain, ERROR_DOMAIN, "{what}");
    if status.message().contains("(rule ") {
        assert!(
            status
                .message()
                .ends_with(&format!("(rule {})", info.reason)),
            "{what}: ErrorInfo.reason {:?} is not the message's rule: {:?}",
            info.reason,
            status.message()
        );
    }
    let localized = status
        .get_details_localized_message()
        .unwrap_or_else(|| panic!("{what}: no LocalizedMessage in {status:?}"));
    assert_eq!(localized.locale, "zh-CN", "{what}");
    assert!(
        localized
            .message
            .ends_with(&format!("规则 {}）", info.reason)),
        "{what}: {:?}",
        localized.message
    );
    (info.reason, localized.message)
}

/// Every entry `agency`'s inbox holds, oldest first.
pub async fn inbox_entries(app: &TestApp, agency: &str) -> Vec<pb::InboxEntry> {
    let mut stream = app
        .inbox_as(agency)
        .await
        .watch_inbox(pb::WatchInboxRequest {
            after_cursor: Some(0),
            follow: false,
        })
        .await
        .expect("read the inbox")
        .into_inner();
    let mut entries = Vec::new();
    while let Some(entry) = stream.message().await.expect("inbox stream") {
        entries.push(entry);
    }
    entries
}

/// The events `agency`'s inbox holds about `case_id`, oldest first.
pub async fn events_about(app: &TestApp, agency: &str, case_id: &str) -> Vec<String> {
    inbox_entries(app, agency)
        .await
        .into_iter()
        .filter(|entry| entry.case_id == case_id)
        .map(|entry| entry.event)
        .collect()
}

/// Waits until `agency`'s inbox holds exactly `expected` about `case_id`. The last expected
/// event is a sentinel sent after every refused call: once it is there, anything a refused call
/// had emitted would be there too (each service's outbox is relayed in order).
pub async fn assert_only_events(app: &TestApp, agency: &str, case_id: &str, expected: &[&str]) {
    let seen = testing::eventually(
        &format!("{agency}'s inbox to hold {expected:?} about {case_id}"),
        PROMPTLY,
        || async {
            let events = events_about(app, agency, case_id).await;
            (events.len() >= expected.len()).then_some(events)
        },
    )
    .await;
    assert_eq!(seen, expected, "{agency}'s inbox about {case_id}");
}

/// Text one character longer than any free-text field allows.
pub fn oversized() -> String {
    "长".repeat(2001)
}
