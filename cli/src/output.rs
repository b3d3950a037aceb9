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
/// the gRPC code and the field violations when the gateway gave them.
pub fn failure(error: &anyhow::Error) -> String {
    if !json() {
        return format!("error: {error:#}");
    }
    let mut object = serde_json::json!({ "error": format!("{error:#}") });
    if let Some(status) = error.downcast_ref::<RpcError>() {
        use tonic_types::StatusExt as _;
        object["code"] = format!("{:?}", status.0.code()).into();
        object["message"] = status.0.message().into();
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

/// A status for people: the code, the message, and each field violation on its own line.
pub fn explain(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(bad) = status.get_details_bad_request() {
        for v in bad.field_violations {
            text.push_str(&format!("\n  {}: {}", v.field, v.description));
        }
    }
    text
}
