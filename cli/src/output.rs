//! What the client commands print: text for people by default, or with `--json` the answer
//! itself for scripts — each response message in protobuf's JSON mapping (field names as in
//! `proto/`, enums by name, 64-bit integers as strings, every field present), one object per
//! line (a stream prints one line per message). In JSON mode stdout holds only JSON; notes for
//! people go to stderr, and a failure is one JSON object on stderr.

use std::sync::OnceLock;

use anyhow::Context as _;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

/// Set once from the global `--json` flag.
static JSON: OnceLock<bool> = OnceLock::new();

/// Switches every later output to JSON.
pub fn use_json() {
    let _ = JSON.set(true);
}

/// True when `--json` was given.
pub fn json() -> bool {
    JSON.get().copied().unwrap_or(false)
}

fn pool() -> anyhow::Result<&'static DescriptorPool> {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    if let Some(pool) = POOL.get() {
        return Ok(pool);
    }
    let pool = DescriptorPool::decode(casebridge_proto::FILE_DESCRIPTOR_SET)
        .context("the built-in contract descriptor does not decode")?;
    Ok(POOL.get_or_init(|| pool))
}

/// `message` as one line of JSON.
pub fn to_json<M: prost::Message + prost::Name>(message: &M) -> anyhow::Result<String> {
    let descriptor = pool()?
        .get_message_by_name(&M::full_name())
        .with_context(|| format!("{} is not in the contract", M::full_name()))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())?;
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(false);
    let mut out = serde_json::Serializer::new(Vec::new());
    dynamic.serialize_with_options(&mut out, &options)?;
    Ok(String::from_utf8(out.into_inner())?)
}

/// Prints `message`: as JSON with `--json`, otherwise the text `human` makes of it.
pub fn show<M: prost::Message + prost::Name>(
    message: &M,
    human: impl FnOnce(&M) -> String,
) -> anyhow::Result<()> {
    if json() {
        println!("{}", to_json(message)?);
    } else {
        print!("{}", human(message));
    }
    Ok(())
}

/// Prints a result that is not a wire message (the ledger's checks): `value` as one line of JSON
/// with `--json`, otherwise the text `human` makes.
pub fn show_value(value: serde_json::Value, human: impl FnOnce() -> String) {
    if json() {
        println!("{value}");
    } else {
        print!("{}", human());
    }
}

/// A spinner on stderr for a long wait, drawn only on a terminal and never with `--json`.
pub fn spinner(message: &str) -> indicatif::ProgressBar {
    if json() {
        return indicatif::ProgressBar::hidden();
    }
    let spinner =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    spinner.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    spinner.set_message(message.to_owned());
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner
}

/// A note for people (a replayed answer, where a file was saved): on stdout normally, on
/// stderr with `--json` so stdout stays parseable.
pub fn note(text: &str) {
    if json() {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
}

/// The exit statuses a script can act on (docs/cli.md).
pub mod exit {
    /// Anything else: a file, a certificate, the connection.
    pub const FAILED: u8 = 1;
    /// A malformed command line (clap's own status).
    pub const USAGE: u8 = 2;
    /// The gateway refused the request: nothing changed; fix the request.
    pub const REFUSED: u8 = 3;
    /// The case, agency or file does not exist, or is not the caller's to see.
    pub const NOT_FOUND: u8 = 4;
    /// The gateway or a service was unavailable or too slow: retrying with the same request id
    /// is safe.
    pub const UNAVAILABLE: u8 = 5;
}

/// The gateway could not be reached: like UNAVAILABLE, trying again later is safe.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The exit status for a failure, so a script can tell what to do (issue 15): see [`exit`].
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<Unreachable>().is_some() {
        return exit::UNAVAILABLE;
    }
    match error.downcast_ref::<RpcError>().map(|e| e.0.code()) {
        Some(tonic::Code::Unavailable | tonic::Code::DeadlineExceeded) => exit::UNAVAILABLE,
        Some(tonic::Code::NotFound) => exit::NOT_FOUND,
        Some(_) => exit::REFUSED,
        None => exit::FAILED,
    }
}

/// How a failure is printed: `error: …` for people, or with `--json` one object on stderr with
/// the gRPC code, and the rule (`rule`), the Chinese text (`message_zh`) and the field
/// violations when the gateway gave them.
pub fn failure(error: &anyhow::Error) -> String {
    if !json() {
        return format!("error: {error:#}");
    }
    let mut object = serde_json::json!({ "error": format!("{error:#}") });
    if let Some(status) = error.downcast_ref::<RpcError>() {
        use tonic_types::StatusExt as _;
        object["code"] = format!("{:?}", status.0.code()).into();
        object["message"] = status.0.message().into();
        if let Some(info) = status.0.get_details_error_info() {
            object["rule"] = info.reason.into();
        }
        if let Some(localized) = status.0.get_details_localized_message() {
            object["message_zh"] = localized.message.into();
        }
        if let Some(bad) = status.0.get_details_bad_request() {
            object["field_violations"] = bad
                .field_violations
                .iter()
                .map(|v| serde_json::json!({ "field": v.field, "description": v.description }))
                .collect();
        }
    }
    object.to_string()
}

#[cfg(test)]
mod tests {
    use casebridge_proto::v1 as pb;

    use super::*;

    #[test]
    fn a_refusal_an_outage_and_a_local_failure_exit_differently() {
        let refused = rpc(tonic::Status::invalid_argument("reasons are required"));
        let forbidden = rpc(tonic::Status::permission_denied("not a party"));
        let missing = rpc(tonic::Status::not_found("no such case"));
        let down = rpc(tonic::Status::unavailable("referrals service unavailable"));
        let slow = rpc(tonic::Status::deadline_exceeded("too slow"));
        assert_eq!(exit_code(&refused), 3);
        assert_eq!(exit_code(&forbidden), 3);
        assert_eq!(exit_code(&missing), 4);
        assert_eq!(exit_code(&down), 5);
        assert_eq!(exit_code(&slow), 5);
        assert_eq!(exit_code(&anyhow::anyhow!("cannot read the client key")), 1);
        use anyhow::Context as _;
        let unreachable = Err::<(), _>(anyhow::anyhow!("connection refused"))
            .context(Unreachable("cannot connect to the gateway".into()))
            .unwrap_err();
        assert_eq!(exit_code(&unreachable), 5);
        assert_eq!(
            exit::USAGE,
            2,
            "clap's own status for a malformed command line"
        );
    }

    #[test]
    fn a_message_prints_with_its_proto_field_names_enum_names_and_defaults() {
        let summary = pb::CaseSummary {
            case_id: "01a2".into(),
            status: "submitted".into(),
            ..pb::CaseSummary::default()
        };
        let value: serde_json::Value =
            serde_json::from_str(&to_json(&summary).expect("json")).expect("parses");
        assert_eq!(value["case_id"], "01a2");
        assert_eq!(value["status"], "submitted");
        assert_eq!(
            value["version"], "0",
            "64-bit integers as strings, defaults present"
        );

        let document = pb::Document {
            kind: pb::DocumentKind::Evidence.into(),
            title: "现场照片".into(),
            sha256: String::new(),
        };
        let value: serde_json::Value =
            serde_json::from_str(&to_json(&document).expect("json")).expect("parses");
        assert_eq!(value["kind"], "DOCUMENT_KIND_EVIDENCE");
        assert_eq!(value["title"], "现场照片");
    }
}

/// A refusal or failure from the gateway, kept whole so `--json` can print its code and field
/// violations; displayed as [`explain`] says.
#[derive(Debug)]
pub struct RpcError(pub tonic::Status);

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&explain(&self.0))
    }
}

impl std::error::Error for RpcError {}

/// The error of a failed call: `.map_err(crate::client::rpc)?`.
pub fn rpc(status: tonic::Status) -> anyhow::Error {
    anyhow::Error::new(RpcError(status))
}

/// A status for people: the code, the message (in Chinese where the environment's language is,
/// see [`chinese`]), and each field violation on its own line.
pub fn explain(status: &tonic::Status) -> String {
    explain_in(status, chinese())
}

/// Whether people read Chinese here: the first of `LC_ALL`, `LC_MESSAGES` and `LANG` that is set
/// (POSIX's order) starts with `zh` (`zh_CN.UTF-8`).
pub fn chinese() -> bool {
    chinese_locale(|name| std::env::var(name).ok())
}

/// [`chinese`], reading the environment through `var`.
fn chinese_locale(var: impl Fn(&str) -> Option<String>) -> bool {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .into_iter()
        .find_map(|name| var(name).filter(|value| !value.is_empty()))
        .is_some_and(|value| value.starts_with("zh"))
}

/// [`explain`] in Chinese or not: in Chinese, the status's zh-CN `LocalizedMessage` (the rule's
/// legal wording, the field and the rule id) when the gateway sent one; otherwise the English
/// message, followed by the rule id of its `ErrorInfo` unless the message already ends with it.
pub fn explain_in(status: &tonic::Status, chinese: bool) -> String {
    use tonic_types::StatusExt;
    let localized = status
        .get_details_localized_message()
        .filter(|m| chinese && m.locale.starts_with("zh") && !m.message.is_empty());
    let mut text = match localized {
        Some(localized) => format!("{:?}: {}", status.code(), localized.message),
        None => format!("{:?}: {}", status.code(), with_rule(status)),
    };
    if let Some(bad) = status.get_details_bad_request() {
        for v in bad.field_violations {
            text.push_str(&format!("\n  {}: {}", v.field, v.description));
        }
    }
    text
}

/// The status's English message, ending with `(rule …)` when its `ErrorInfo` names the rule.
fn with_rule(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    let message = status.message();
    match status.get_details_error_info() {
        Some(info) if !info.reason.is_empty() => {
            let rule = format!("(rule {})", info.reason);
            if message.ends_with(&rule) {
                message.to_owned()
            } else {
                format!("{message} {rule}")
            }
        }
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod explain_tests {
    use tonic_types::{ErrorDetails, StatusExt as _};

    use super::*;

    fn refused(message: &str, rule: &str, field: &str, zh: &str) -> tonic::Status {
        let mut details = ErrorDetails::new();
        details.add_bad_request_violation(field, "no seized_items_list is included");
        details.set_error_info(rule, "casebridge.gov.cn", std::collections::HashMap::new());
        details.set_localized_message("zh-CN", zh);
        tonic::Status::with_error_details(tonic::Code::InvalidArgument, message, details)
    }

    #[test]
    fn a_refusal_is_printed_in_chinese_where_the_language_is_chinese() {
        let status = refused(
            "no seized_items_list is included (rule S1-6)",
            "S1-6",
            "documents",
            "未附涉案物品清单。（字段：documents；规则 S1-6）",
        );
        assert_eq!(
            explain_in(&status, true),
            "InvalidArgument: 未附涉案物品清单。（字段：documents；规则 S1-6）\n  documents: no \
             seized_items_list is included"
        );
        assert_eq!(
            explain_in(&status, false),
            "InvalidArgument: no seized_items_list is included (rule S1-6)\n  documents: no \
             seized_items_list is included"
        );
    }

    #[test]
    fn an_english_message_without_its_rule_gets_it_from_the_error_info() {
        let status = refused("invalid request: region is empty", "INPUT", "region", "…");
        assert!(
            explain_in(&status, false)
                .starts_with("InvalidArgument: invalid request: region is empty (rule INPUT)")
        );
        // A status without details (an old gateway, a transport failure) prints as it is.
        let plain = tonic::Status::unavailable("referrals service unavailable");
        assert_eq!(
            explain_in(&plain, true),
            "Unavailable: referrals service unavailable"
        );
    }

    #[test]
    fn the_language_is_chinese_when_the_first_locale_variable_set_says_zh() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert!(chinese_locale(env(&[("LANG", "zh_CN.UTF-8")])));
        assert!(!chinese_locale(env(&[("LANG", "en_US.UTF-8")])));
        assert!(!chinese_locale(env(&[])));
        assert!(!chinese_locale(env(&[
            ("LC_ALL", "C"),
            ("LANG", "zh_CN.UTF-8")
        ])));
        assert!(chinese_locale(env(&[
            ("LC_ALL", ""),
            ("LANG", "zh_TW.UTF-8")
        ])));
        assert!(chinese_locale(env(&[
            ("LC_MESSAGES", "zh_CN"),
            ("LANG", "en_US")
        ])));
    }
}
