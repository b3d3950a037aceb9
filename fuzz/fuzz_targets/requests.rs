//! Target `requests`: every request message of the gRPC API, decoded with prost from arbitrary
//! bytes and put through the gateway's own wire-to-domain conversion (`convert`, the monitor's
//! and the directory's checks), exactly as an endpoint does before it asks a service.
//!
//! Input: the first byte picks the request type (modulo the number of types), the rest is its
//! protobuf encoding. Bytes that do not decode are tonic's business, not the gateway's.
//!
//! Invariants:
//! - no panic, whatever the message;
//! - a refusal lists at least one violation, each with a description and a field path that names
//!   a field (or oneof) of the request as sent, with every `[i]` inside the list it indexes
//!   (`documents[2].sha256`): the client is told what to fix (INVALID_ARGUMENT's BadRequest);
//! - a refusal is the same when the request is converted again (no hidden state or randomness);
//! - an accepted step lists every file its command names as an attachment, each with the wire
//!   path of the digest as sent, so the gateway checks the caller may read every one of them.
#![no_main]

use std::collections::BTreeSet;
use std::sync::LazyLock;

use casebridge_core::ids::{AgencyCode, Sha256Digest};
use casebridge_core::time::Timestamp;
use casebridge_gateway::fuzzing::{self as convert, Converted, Violations};
use casebridge_proto::v1 as pb;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, ReflectMessage, Value};

/// The contract's descriptors, to resolve field paths against the message as sent.
static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(casebridge_proto::FILE_DESCRIPTOR_SET).expect("the contract decodes")
});

/// The gateway's clock and caller, for the conversions that take them.
fn now() -> Timestamp {
    Timestamp::from_millis(1_780_000_000_000)
}

fn caller() -> AgencyCode {
    AgencyCode::parse("11350100MB0100002P").expect("the market bureau's code")
}

/// The limit `evidence.max_size` defaults to (2 GiB).
const MAX_UPLOAD: u64 = 2 << 30;

/// Defines `run`: the selector picks a `$ty`; `body` is decoded as one, converted twice with
/// `$convert`, and the results checked; `step` adds the attachment check of a case step.
macro_rules! requests {
    ($($kind:ident $ty:ident => $convert:expr;)*) => {
        const TYPES: usize = [$(stringify!($ty)),*].len();

        fn run(selector: u8, body: &[u8]) {
            let mut index = usize::from(selector) % TYPES;
            $(
                if index == 0 {
                    let Ok(request) = pb::$ty::decode(body) else { return };
                    let name = concat!("casebridge.v1.", stringify!($ty));
                    let conversion = $convert;
                    let first = conversion(request.clone());
                    requests!(@ok $kind name request first);
                    let again = conversion(request.clone());
                    checked(name, &request, first.err(), again.err());
                    return;
                }
                index -= 1;
            )*
            let _ = index;
        }
    };
    (@ok step $name:ident $request:ident $result:ident) => {
        if let Ok(step) = &$result {
            attachments_are_named($name, &$request, step);
        }
    };
    (@ok plain $name:ident $request:ident $result:ident) => {};
}

requests! {
    // ReferralService
    step SubmitReferralRequest => convert::referrals::submit;
    plain GetReferralRequest => |r: pb::GetReferralRequest| convert::case_id("referral_id", &r.referral_id);
    plain ListCasesRequest => convert::list_query;
    step SignReceiptRequest => convert::referrals::sign_receipt;
    step RequestSupplementRequest => convert::referrals::request_supplement;
    step SupplementReferralRequest => convert::referrals::supplement;
    step ForwardReferralRequest => convert::referrals::forward;
    step ReturnReferralRequest => convert::referrals::return_referral;
    step DecideFilingRequest => convert::referrals::decide_filing;
    step HandOverItemsRequest => convert::referrals::hand_over_items;
    step RequestReconsiderationRequest => convert::referrals::request_reconsideration;
    step DecideReconsiderationRequest => convert::referrals::decide_reconsideration;
    step SuggestSupervisionRequest => convert::referrals::suggest_supervision;
    step RequestReasonsRequest => convert::referrals::request_reasons;
    step GiveReasonsRequest => convert::referrals::give_reasons;
    step TellAgencyRequest => convert::referrals::tell_agency;
    step NotifyFilingRequest => convert::referrals::notify_filing;
    step DemandExplanationRequest => convert::referrals::demand_explanation;
    step ExplainRequest => convert::referrals::explain;
    step RecordNonReferralRequest => convert::referrals::record_non_referral;
    step IssueCorrectionNoticeRequest => convert::referrals::issue_correction_notice;
    step ReportToSuperiorRequest => convert::referrals::report_to_superior;
    step TransferCaseRequest => convert::referrals::transfer_case;
    step WithdrawCaseRequest => convert::referrals::withdraw_case;
    step HandBackReferralRequest => convert::referrals::hand_back;
    // TransferService (ListTransfers is ListCasesRequest above)
    step SendTransferRequest => convert::transfers::send;
    plain GetTransferRequest => |r: pb::GetTransferRequest| convert::case_id("transfer_id", &r.transfer_id);
    step SignTransferReceiptRequest => convert::transfers::sign_receipt;
    step AcceptTransferRequest => convert::transfers::accept;
    step ObjectToTransferRequest => convert::transfers::object;
    step ReportOutcomeRequest => convert::transfers::report_outcome;
    step DeclineTransferRequest => convert::transfers::decline;
    step ContestDeclineRequest => convert::transfers::contest_decline;
    step SuspendTransferRequest => convert::transfers::suspend;
    step ResumeTransferRequest => convert::transfers::resume;
    // DisputeService
    step RaiseDisputeRequest => convert::disputes::raise;
    step DesignateDirectlyRequest => convert::disputes::designate_directly;
    plain GetDisputeRequest => |r: pb::GetDisputeRequest| convert::case_id("dispute_id", &r.dispute_id);
    step RecordMinutesRequest => convert::disputes::record_minutes;
    step ReferDisputeRequest => convert::disputes::refer;
    step AcceptDisputeRequest => convert::disputes::accept;
    step ReplyToDisputeRequest => convert::disputes::reply;
    step DesignateAgencyRequest => convert::disputes::designate;
    // OpinionService
    step RequestOpinionRequest => convert::opinions::request;
    plain GetOpinionRequest => |r: pb::GetOpinionRequest| convert::case_id("opinion_id", &r.opinion_id);
    step AcceptOpinionRequestRequest => convert::opinions::accept;
    step RefuseOpinionRequestRequest => convert::opinions::refuse;
    step RequestMaterialRequest => convert::opinions::request_material;
    step SupplyMaterialRequest => convert::opinions::supply_material;
    step DeliverOpinionRequest => convert::opinions::deliver;
    // PenaltyService (ListPenaltyRecords is ListCasesRequest above)
    step RecordPenaltyRequest => convert::penalties::record;
    step CorrectPenaltyRequest => convert::penalties::correct;
    plain GetPenaltyRecordRequest => |r: pb::GetPenaltyRecordRequest| convert::case_id("record_id", &r.record_id);
    step SuggestReferralRequest => convert::penalties::suggest_referral;
    step CloseWarningRequest => convert::penalties::close;
    step LinkReferralRequest => convert::penalties::link_referral;
    step ExplainNonReferralRequest => convert::penalties::explain;
    // LeadService (ListLeads is ListCasesRequest above)
    step SendLeadRequest => convert::leads::send;
    plain GetLeadRequest => |r: pb::GetLeadRequest| convert::case_id("lead_id", &r.lead_id);
    step AcknowledgeLeadRequest => convert::leads::acknowledge;
    step AnswerLeadRequest => convert::leads::answer;
    // RectificationService (ListRectifications is ListCasesRequest above)
    step RequestRectificationRequest => convert::rectifications::request;
    plain GetRectificationRequest => |r: pb::GetRectificationRequest| {
        convert::case_id("rectification_id", &r.rectification_id)
    };
    step ReportRectificationRequest => convert::rectifications::report;
    step AcceptRectificationRequest => convert::rectifications::accept;
    step ReturnRectificationRequest => convert::rectifications::give_back;
    // CaseService
    plain GetTimelineRequest => |r: pb::GetTimelineRequest| convert::case_id("case_id", &r.case_id);
    // DirectoryService (WhoAmI carries nothing to convert)
    plain ListAgenciesRequest => |r: pb::ListAgenciesRequest| convert::agency_filters(r.kind, &r.region);
    // EvidenceService: an upload's first message, then the reads by digest
    plain UploadEvidenceRequest => upload_first_message;
    plain GetEvidenceRequest => |r: pb::GetEvidenceRequest| convert::evidence::digest("sha256", &r.sha256);
    plain DownloadEvidenceRequest => |r: pb::DownloadEvidenceRequest| convert::evidence::digest("sha256", &r.sha256);
    // MonitorService, DeadlineService
    plain ListObligationsRequest => |r| convert::obligation_query(r, now());
    plain GetStatisticsRequest => convert::statistics_period;
    plain GetReportRequest => convert::report;
    plain ListCaseDeadlinesRequest => |r: pb::ListCaseDeadlinesRequest| convert::case_id("case_id", &r.case_id);
    plain ExtendDeadlineRequest => |r| convert::extension(r, caller(), Sha256Digest::of(b"request"));
}

/// What `upload_evidence` does with the stream's first message.
fn upload_first_message(
    request: pb::UploadEvidenceRequest,
) -> Result<convert::evidence::UploadMetadata, Violations> {
    match request.part {
        Some(pb::upload_evidence_request::Part::Metadata(metadata)) => {
            convert::evidence::upload_metadata(metadata, MAX_UPLOAD)
        }
        _ => Err(Violations::of(vec![(
            "metadata".to_owned(),
            "the first message must carry the metadata".to_owned(),
        )])),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some((selector, body)) = data.split_first() {
        run(*selector, body);
    }
});

/// Checks a refusal, and that converting again refused the same way.
fn checked<M: Message>(
    name: &str,
    request: &M,
    first: Option<Violations>,
    again: Option<Violations>,
) {
    assert_eq!(first, again, "{name}: converting again answered otherwise");
    let Some(violations) = first else { return };
    assert!(
        !violations.list.is_empty(),
        "{name}: refused without a violation"
    );
    let sent = as_sent(name, request);
    for (field, description) in &violations.list {
        assert!(
            !description.trim().is_empty(),
            "{name}: violation on {field:?} has no description"
        );
        if let Err(why) = resolve(&sent, field) {
            panic!("{name}: violation path {field:?} ({description}) {why}");
        }
    }
}

/// Checks that every digest an accepted step's command carries is among its attachments, each
/// named by the wire path of that digest in the request as sent.
fn attachments_are_named<M: Message, C: serde::Serialize>(
    name: &str,
    request: &M,
    step: &Converted<C>,
) {
    let sent = as_sent(name, request);
    let mut listed = BTreeSet::new();
    for (path, digest) in &step.attachments {
        match resolve(&sent, path) {
            Ok(Some(Value::String(raw))) if *raw == digest.to_hex() => {}
            other => panic!("{name}: attachment {path:?} does not name {digest}: {other:?}"),
        }
        listed.insert(digest.to_hex());
    }
    let command = serde_json::to_value(&step.step.command).expect("commands serialise");
    let mut named = BTreeSet::new();
    digests_in(&command, &mut named);
    let unchecked: Vec<_> = named.difference(&listed).collect();
    assert!(
        unchecked.is_empty(),
        "{name}: the command names files the gateway would not check: {unchecked:?}"
    );
}

/// Every `sha256` string in a serialised command (its documents' digests).
fn digests_in(value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match value {
                    serde_json::Value::String(s) if key == "sha256" => {
                        out.insert(s.clone());
                    }
                    other => digests_in(other, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| digests_in(v, out)),
        _ => {}
    }
}

/// The request as the client sent it, as a dynamic message of the contract.
fn as_sent<M: Message>(name: &str, request: &M) -> DynamicMessage {
    let descriptor = POOL
        .get_message_by_name(name)
        .unwrap_or_else(|| panic!("{name} is not in the contract"));
    DynamicMessage::decode(descriptor, request.encode_to_vec().as_slice())
        .unwrap_or_else(|e| panic!("{name} re-encoded does not decode: {e}"))
}

/// The value a wire path names (`documents[2].sha256`, `opinion.finding`, a oneof's name), or why
/// it names nothing. `Ok(None)` for a oneof name, which has no value of its own.
fn resolve(message: &DynamicMessage, path: &str) -> Result<Option<Value>, String> {
    let mut current = message.clone();
    let segments: Vec<&str> = path.split('.').collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => {
                let index = rest
                    .strip_suffix(']')
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| format!("has a malformed index in {segment:?}"))?;
                (name, Some(index))
            }
            None => (*segment, None),
        };
        let descriptor = current.descriptor();
        let Some(field) = descriptor.get_field_by_name(name) else {
            if last && index.is_none() && descriptor.oneofs().any(|o| o.name() == name) {
                return Ok(None);
            }
            return Err(format!(
                "names no field {name:?} of {}",
                descriptor.full_name()
            ));
        };
        let mut value = current.get_field(&field).into_owned();
        if let Some(index) = index {
            let Value::List(items) = value else {
                return Err(format!("indexes {name:?}, which is not repeated"));
            };
            value = items
                .get(index)
                .cloned()
                .ok_or_else(|| format!("indexes {name:?} past its {} items", items.len()))?;
        }
        if last {
            return Ok(Some(value));
        }
        match (field.kind(), value) {
            (Kind::Message(_), Value::Message(inner)) => current = inner,
            _ => return Err(format!("goes inside {name:?}, which is not a message")),
        }
    }
    Err("is empty".to_owned())
}
