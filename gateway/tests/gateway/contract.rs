//! Issue 12, item 3: the proto is the contract, checked. Every request message of the wire
//! contract is taken apart field by field, from its descriptor, and each field is broken in the
//! ways the contract refuses for every field of its type:
//!
//! - a string with a control character (ESC), and one longer than any limit (2,001 characters);
//! - an enum value the contract does not define (99);
//! - a time outside 2001–2099 (year 0001, year 2100);
//! - the same inside the last item of every list (`documents[2].title`) and inside nested
//!   messages (`decline.reasons`, `opinion.conclusion`).
//!
//! Each broken request goes to the gateway as the caller the valid one is for, on a case in the
//! state the valid one needs, so that the broken field is the only fault. (A valid call on the
//! wrong case or by the wrong caller would show: the state machines check the caller and the
//! state before the free text, so its text fields would come back PERMISSION_DENIED or
//! FAILED_PRECONDITION, not INVALID_ARGUMENT on the field.) Each must be refused
//! with INVALID_ARGUMENT and a `google.rpc.BadRequest` naming exactly that field's path, and
//! nothing may change: no case, no version, no inbox entry of any agency. Bytes that are no
//! protobuf message at all are refused with INVALID_ARGUMENT on every rpc.

use casebridge_proto::v1::dispute_service_client::DisputeServiceClient;
use casebridge_proto::v1::lead_service_client::LeadServiceClient;
use casebridge_proto::v1::opinion_service_client::OpinionServiceClient;
use casebridge_proto::v1::transfer_service_client::TransferServiceClient;
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, Kind, MessageDescriptor, ReflectMessage, Value,
};

use super::fixtures::{AGENCIES, Channels, Fx, call_raw, fixture, lead_sending};
use super::*;

/// A valid call: the rpc, who makes it, and the request.
pub(super) struct Call {
    /// `/casebridge.v1.ReferralService/SubmitReferral`.
    pub(super) path: String,
    pub(super) caller: &'static str,
    pub(super) request: DynamicMessage,
}

fn call<M: prost::Message + prost::Name>(
    service: &str,
    method: &str,
    caller: &'static str,
    request: M,
) -> Call {
    let pool = pool();
    let descriptor = pool
        .get_message_by_name(&M::full_name())
        .unwrap_or_else(|| panic!("{} is in the descriptor set", M::full_name()));
    let request = DynamicMessage::decode(descriptor, request.encode_to_vec().as_slice())
        .expect("a message decodes as itself");
    Call {
        path: format!("/casebridge.v1.{service}/{method}"),
        caller,
        request,
    }
}

pub(super) fn pool() -> DescriptorPool {
    DescriptorPool::decode(casebridge_proto::FILE_DESCRIPTOR_SET).expect("the descriptor set")
}

/// One way to break a field, and the path the refusal must name.
#[derive(Clone)]
struct Broken {
    path: String,
    what: &'static str,
    request: DynamicMessage,
}

const YEAR_1: i64 = -62_135_596_800;
const YEAR_2100: i64 = 4_102_444_800;

/// Every broken copy of `message`: each field broken each way its type allows.
fn broken_copies(message: &DynamicMessage) -> Vec<Broken> {
    let mut out = Vec::new();
    for field in message.descriptor().fields() {
        // A oneof's unset members stay unset: setting one would choose another branch.
        if field.containing_oneof().is_some() && !message.has_field(&field) {
            continue;
        }
        let name = field.name().to_owned();
        let mut with = |path: String, what: &'static str, value: Value| {
            let mut copy = message.clone();
            copy.set_field(&field, value);
            out.push(Broken {
                path,
                what,
                request: copy,
            });
        };
        let text_breaks = |value: &str| {
            [
                ("a control character", format!("{value}\u{1b}[2J")),
                ("2,001 characters", "长".repeat(2001)),
            ]
        };
        if field.is_list() {
            let Value::List(items) = message.get_field(&field).into_owned() else {
                continue;
            };
            let Some(last) = items.len().checked_sub(1) else {
                continue;
            };
            let path = format!("{name}[{last}]");
            let replaced = |value: Value| {
                let mut items = items.clone();
                items[last] = value;
                Value::List(items)
            };
            match field.kind() {
                Kind::String => {
                    for (what, value) in text_breaks(items[last].as_str().unwrap_or_default()) {
                        with(path.clone(), what, replaced(Value::String(value)));
                    }
                }
                Kind::Enum(_) => with(
                    path,
                    "an undefined enum value",
                    replaced(Value::EnumNumber(99)),
                ),
                Kind::Message(_) => {
                    let Some(item) = items[last].as_message() else {
                        continue;
                    };
                    for inner in broken_copies(item) {
                        with(
                            format!("{path}.{}", inner.path),
                            inner.what,
                            replaced(Value::Message(inner.request)),
                        );
                    }
                }
                _ => {}
            }
            continue;
        }
        match field.kind() {
            Kind::String => {
                let value = message
                    .get_field(&field)
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                for (what, broken) in text_breaks(&value) {
                    with(name.clone(), what, Value::String(broken));
                }
            }
            Kind::Enum(_) => with(name, "an undefined enum value", Value::EnumNumber(99)),
            Kind::Message(descriptor) if descriptor.full_name() == "google.protobuf.Timestamp" => {
                for (what, seconds) in [
                    ("a time in year 0001", YEAR_1),
                    ("a time in year 2100", YEAR_2100),
                ] {
                    with(
                        name.clone(),
                        what,
                        Value::Message(timestamp(&descriptor, seconds)),
                    );
                }
            }
            Kind::Message(_) if message.has_field(&field) => {
                let inner_message = message.get_field(&field).into_owned();
                let Some(inner_message) = inner_message.as_message() else {
                    continue;
                };
                for inner in broken_copies(inner_message) {
                    with(
                        format!("{name}.{}", inner.path),
                        inner.what,
                        Value::Message(inner.request),
                    );
                }
            }
            _ => {}
        }
    }
    out
}

fn timestamp(descriptor: &MessageDescriptor, seconds: i64) -> DynamicMessage {
    let mut time = DynamicMessage::new(descriptor.clone());
    time.set_field_by_name("seconds", Value::I64(seconds));
    time
}

/// What every agency sees: each family's cases with their status and version, and how many
/// entries its inbox holds.
pub(super) async fn everything_seen(app: &TestApp) -> Vec<String> {
    let mut seen = Vec::new();
    let all = || pb::ListCasesRequest {
        page_size: 200,
        ..pb::ListCasesRequest::default()
    };
    for agency in AGENCIES {
        let channel = app.channel_as(agency).await;
        let lists = [
            (
                "referral",
                app.referrals_as(agency).await.list_referrals(all()).await,
            ),
            (
                "transfer",
                TransferServiceClient::new(channel.clone())
                    .list_transfers(all())
                    .await,
            ),
            (
                "dispute",
                DisputeServiceClient::new(channel.clone())
                    .list_disputes(all())
                    .await,
            ),
            (
                "opinion",
                OpinionServiceClient::new(channel.clone())
                    .list_opinions(all())
                    .await,
            ),
            (
                "lead",
                LeadServiceClient::new(channel.clone())
                    .list_leads(all())
                    .await,
            ),
        ];
        for (family, listed) in lists {
            for case in listed.expect("a listing").into_inner().cases {
                seen.push(format!(
                    "{agency} {family} {} {} v{}",
                    case.case_id, case.status, case.version
                ));
            }
        }
        let entries = super::refusals::inbox_entries(app, agency).await.len();
        seen.push(format!("{agency} inbox {entries}"));
    }
    seen
}

/// The cases the valid calls are made on, each in the state its calls need.
pub(super) struct Cases {
    pub(super) submitted: String,
    pub(super) received: String,
    pub(super) explanation_demanded: String,
    pub(super) awaiting_supplement: String,
    pub(super) filed: String,
    pub(super) declined: String,
    pub(super) reconsideration_requested: String,
    pub(super) reasons_requested: String,
    pub(super) reasons_given: String,
    pub(super) filing_notified: String,
    pub(super) transfer_sent: String,
    pub(super) transfer_accepted: String,
    pub(super) transfer_declined: String,
    pub(super) transfer_suspended: String,
    pub(super) dispute_negotiating: String,
    pub(super) dispute_referred: String,
    pub(super) dispute_accepted: String,
    pub(super) opinion_requested: String,
    pub(super) opinion_accepted: String,
    pub(super) opinion_awaiting_material: String,
    pub(super) lead_sent: String,
    pub(super) lead_acknowledged: String,
    pub(super) evidence: String,
}

impl Cases {
    /// Every case named by `id`: for building requests whose ids are replaced afterwards.
    pub(super) fn all(id: &str) -> Cases {
        Cases {
            submitted: id.to_owned(),
            received: id.to_owned(),
            explanation_demanded: id.to_owned(),
            awaiting_supplement: id.to_owned(),
            filed: id.to_owned(),
            declined: id.to_owned(),
            reconsideration_requested: id.to_owned(),
            reasons_requested: id.to_owned(),
            reasons_given: id.to_owned(),
            filing_notified: id.to_owned(),
            transfer_sent: id.to_owned(),
            transfer_accepted: id.to_owned(),
            transfer_declined: id.to_owned(),
            transfer_suspended: id.to_owned(),
            dispute_negotiating: id.to_owned(),
            dispute_referred: id.to_owned(),
            dispute_accepted: id.to_owned(),
            opinion_requested: id.to_owned(),
            opinion_accepted: id.to_owned(),
            opinion_awaiting_material: id.to_owned(),
            lead_sent: id.to_owned(),
            lead_acknowledged: id.to_owned(),
            evidence: id.to_owned(),
        }
    }
}

fn document(kind: pb::DocumentKind, title: &str) -> pb::Document {
    pb::Document {
        kind: kind.into(),
        title: title.into(),
        sha256: String::new(),
    }
}

/// Two documents, so the last is item 1 and paths show the index.
fn two_documents(kind: pb::DocumentKind) -> Vec<pb::Document> {
    vec![
        document(kind, "材料一"),
        document(pb::DocumentKind::Other, "材料二"),
    ]
}

async fn prepare(app: &TestApp) -> Cases {
    use Fx::*;
    use casebridge_core::notice::Family::{
        Dispute as D, Lead as L, Opinion as O, Referral as R, Transfer as T,
    };
    let ch = Channels::open(app).await;
    Cases {
        submitted: fixture(&ch, R, &[], "c-submitted").await,
        received: fixture(&ch, R, &[Receipt], "c-received").await,
        explanation_demanded: fixture(&ch, R, &[Receipt, Overdue, Demand], "c-demanded").await,
        awaiting_supplement: fixture(&ch, R, &[Receipt, AskSupplement], "c-awaiting").await,
        filed: fixture(&ch, R, &[Receipt, File], "c-filed").await,
        declined: fixture(&ch, R, &[Receipt, Decline], "c-declined").await,
        reconsideration_requested: fixture(&ch, R, &[Receipt, Decline, Reconsider], "c-reconsider")
            .await,
        reasons_requested: fixture(&ch, R, &[Receipt, Decline, AskReasons], "c-reasons").await,
        reasons_given: fixture(
            &ch,
            R,
            &[Receipt, Decline, AskReasons, GiveReasons],
            "c-given",
        )
        .await,
        filing_notified: fixture(
            &ch,
            R,
            &[Receipt, Decline, AskReasons, GiveReasons, NotifyFiling],
            "c-notified",
        )
        .await,
        transfer_sent: fixture(&ch, T, &[], "c-sent").await,
        transfer_accepted: fixture(&ch, T, &[TAccept], "c-accepted").await,
        transfer_declined: fixture(&ch, T, &[TDecline], "c-t-declined").await,
        transfer_suspended: fixture(&ch, T, &[TAccept, TSuspend], "c-suspended").await,
        dispute_negotiating: fixture(&ch, D, &[], "c-negotiating").await,
        dispute_referred: fixture(&ch, D, &[Refer], "c-referred").await,
        dispute_accepted: fixture(&ch, D, &[Refer, DAccept], "c-d-accepted").await,
        opinion_requested: fixture(&ch, O, &[], "c-requested").await,
        opinion_accepted: fixture(&ch, O, &[OAccept], "c-o-accepted").await,
        opinion_awaiting_material: fixture(&ch, O, &[OAccept, OAskMaterial], "c-material").await,
        lead_sent: fixture(&ch, L, &[], "c-lead-sent").await,
        lead_acknowledged: fixture(&ch, L, &[LAcknowledge], "c-lead-acknowledged").await,
        evidence: uploaded(app, MARKET_BUREAU, b"contract test evidence").await,
    }
}

/// A valid call of every rpc that takes input worth breaking (WatchInbox and UploadEvidence
/// stream, and are checked in their own tests), each on a case in the state it needs.
pub(super) fn valid_calls(c: &Cases) -> Vec<Call> {
    use pb::decide_filing_request::Decision;
    let rid = |name: &str| format!("contract-{name}");
    let past = |hours: i64| {
        Some(prost_types::Timestamp {
            seconds: now_seconds() - hours * 3600,
            nanos: 0,
        })
    };
    let list = || pb::ListCasesRequest {
        status: String::new(),
        role: pb::PartyRole::Sender.into(),
        page_size: 20,
        page_token: String::new(),
    };
    let r = "ReferralService";
    let t = "TransferService";
    let d = "DisputeService";
    let o = "OpinionService";
    let l = "LeadService";
    vec![
        call(r, "SubmitReferral", MARKET_BUREAU, {
            let mut s = submission(&rid("submit"));
            s.parties.push(pb::Party {
                name: "某商贸公司".into(),
                id_number: "91350100MA00000000".into(),
            });
            s
        }),
        call(
            r,
            "RecordNonReferral",
            MARKET_BUREAU,
            pb::RecordNonReferralRequest {
                request_id: rid("not-referred"),
                suspected_offence: "生产、销售伪劣产品罪".into(),
                summary: "销售金额未达追诉标准".into(),
                report_received_at: past(48),
                decided_at: past(1),
                approver: "局长 王五".into(),
                reasons: "销售金额未达五万元".into(),
                documents: two_documents(pb::DocumentKind::InvestigationReport),
                parties: vec![pb::Party {
                    name: "某商贸公司".into(),
                    id_number: "91350100MA00000000".into(),
                }],
            },
        ),
        call(
            r,
            "GetReferral",
            MARKET_BUREAU,
            pb::GetReferralRequest {
                referral_id: c.submitted.clone(),
            },
        ),
        call(
            r,
            "ListReferrals",
            MARKET_BUREAU,
            pb::ListCasesRequest {
                status: "submitted".into(),
                ..list()
            },
        ),
        call(
            r,
            "SignReceipt",
            CITY_POLICE,
            pb::SignReceiptRequest {
                request_id: rid("receipt"),
                referral_id: c.submitted.clone(),
            },
        ),
        call(
            r,
            "RequestSupplement",
            CITY_POLICE,
            pb::RequestSupplementRequest {
                request_id: rid("ask"),
                referral_id: c.received.clone(),
                missing: vec![
                    pb::DocumentKind::Evidence.into(),
                    pb::DocumentKind::TestReport.into(),
                ],
                note: "请补充".into(),
            },
        ),
        call(
            r,
            "SupplementReferral",
            MARKET_BUREAU,
            pb::SupplementReferralRequest {
                request_id: rid("supplement"),
                referral_id: c.awaiting_supplement.clone(),
                documents: two_documents(pb::DocumentKind::Evidence),
                note: "已补充".into(),
            },
        ),
        call(
            r,
            "ForwardReferral",
            CITY_POLICE,
            pb::ForwardReferralRequest {
                request_id: rid("forward"),
                referral_id: c.received.clone(),
                to_police: DISTRICT_POLICE.into(),
                reason: "属地管辖".into(),
            },
        ),
        call(
            r,
            "ReturnReferral",
            CITY_POLICE,
            pb::ReturnReferralRequest {
                request_id: rid("return"),
                referral_id: c.received.clone(),
                reasons: "不属于公安机关管辖".into(),
            },
        ),
        call(
            r,
            "DecideFiling",
            CITY_POLICE,
            pb::DecideFilingRequest {
                request_id: rid("file"),
                referral_id: c.received.clone(),
                decision: Some(Decision::File(pb::FileCase {
                    note: "立案".into(),
                })),
            },
        ),
        call(
            r,
            "DecideFiling",
            CITY_POLICE,
            pb::DecideFilingRequest {
                request_id: rid("decline"),
                referral_id: c.received.clone(),
                decision: Some(Decision::Decline(pb::DeclineToFile {
                    reasons: "证据不足".into(),
                })),
            },
        ),
        call(
            r,
            "DemandExplanation",
            PROCURATORATE,
            pb::DemandExplanationRequest {
                request_id: rid("demand"),
                referral_id: c.received.clone(),
                note: "请说明".into(),
            },
        ),
        call(
            r,
            "Explain",
            CITY_POLICE,
            pb::ExplainRequest {
                request_id: rid("explain"),
                referral_id: c.explanation_demanded.clone(),
                explanation: "正在审查".into(),
            },
        ),
        call(
            r,
            "IssueCorrectionNotice",
            PROCURATORATE,
            pb::IssueCorrectionNoticeRequest {
                request_id: rid("correction"),
                referral_id: c.filing_notified.clone(),
                reasons: "通知立案后逾期未立案".into(),
            },
        ),
        call(
            r,
            "ReportToSuperior",
            PROCURATORATE,
            pb::ReportToSuperiorRequest {
                request_id: rid("report-up"),
                referral_id: c.filing_notified.clone(),
                note: "仍不纠正".into(),
            },
        ),
        call(
            r,
            "HandOverItems",
            MARKET_BUREAU,
            pb::HandOverItemsRequest {
                request_id: rid("hand-over"),
                referral_id: c.filed.clone(),
                documents: two_documents(pb::DocumentKind::HandoverList),
                note: "移交涉案物品".into(),
            },
        ),
        call(
            r,
            "TransferCase",
            CITY_POLICE,
            pb::TransferCaseRequest {
                request_id: rid("transfer-case"),
                referral_id: c.filed.clone(),
                to_authority: "福州市人民检察院".into(),
                reason: "职务犯罪".into(),
                decided_at: past(1),
            },
        ),
        call(
            r,
            "WithdrawCase",
            CITY_POLICE,
            pb::WithdrawCaseRequest {
                request_id: rid("withdraw"),
                referral_id: c.filed.clone(),
                reasons: "不应追究刑事责任".into(),
                decided_at: past(1),
            },
        ),
        call(
            r,
            "HandBackReferral",
            CITY_POLICE,
            pb::HandBackReferralRequest {
                request_id: rid("hand-back"),
                referral_id: c.declined.clone(),
                to_agency: MARKET_BUREAU.into(),
                reasons: "依法应予行政处罚".into(),
                documents: two_documents(pb::DocumentKind::Decision),
            },
        ),
        call(
            r,
            "RequestReconsideration",
            MARKET_BUREAU,
            pb::RequestReconsiderationRequest {
                request_id: rid("reconsider"),
                referral_id: c.declined.clone(),
                reasons: "证据充分".into(),
            },
        ),
        call(
            r,
            "SuggestSupervision",
            MARKET_BUREAU,
            pb::SuggestSupervisionRequest {
                request_id: rid("supervise"),
                referral_id: c.declined.clone(),
                reasons: "应当立案".into(),
            },
        ),
        call(
            r,
            "RequestReasons",
            PROCURATORATE,
            pb::RequestReasonsRequest {
                request_id: rid("ask-reasons"),
                referral_id: c.declined.clone(),
                note: "请说明不立案理由".into(),
            },
        ),
        call(
            r,
            "DecideReconsideration",
            CITY_POLICE,
            pb::DecideReconsiderationRequest {
                request_id: rid("decide-reconsider"),
                referral_id: c.reconsideration_requested.clone(),
                outcome: pb::ReconsiderationOutcome::Uphold.into(),
                reasons: "维持".into(),
            },
        ),
        call(
            r,
            "GiveReasons",
            CITY_POLICE,
            pb::GiveReasonsRequest {
                request_id: rid("give-reasons"),
                referral_id: c.reasons_requested.clone(),
                reasons: "不构成犯罪".into(),
            },
        ),
        call(
            r,
            "TellAgency",
            PROCURATORATE,
            pb::TellAgencyRequest {
                request_id: rid("tell"),
                referral_id: c.reasons_given.clone(),
                note: "理由成立".into(),
            },
        ),
        call(
            r,
            "NotifyFiling",
            PROCURATORATE,
            pb::NotifyFilingRequest {
                request_id: rid("notify"),
                referral_id: c.reasons_given.clone(),
                reasons: "理由不成立".into(),
            },
        ),
        call(t, "SendTransfer", MARKET_BUREAU, {
            let mut s = super::transfers::sending(&rid("send"));
            s.documents
                .push(document(pb::DocumentKind::Evidence, "现场照片"));
            s.parties.push(pb::Party {
                name: "某化工厂法定代表人".into(),
                id_number: "350102199001011234".into(),
            });
            s
        }),
        call(
            t,
            "GetTransfer",
            MARKET_BUREAU,
            pb::GetTransferRequest {
                transfer_id: c.transfer_sent.clone(),
            },
        ),
        call(
            t,
            "ListTransfers",
            MARKET_BUREAU,
            pb::ListCasesRequest {
                status: "sent".into(),
                ..list()
            },
        ),
        call(
            t,
            "SignTransferReceipt",
            ENVIRONMENT_BUREAU,
            pb::SignTransferReceiptRequest {
                request_id: rid("t-receipt"),
                transfer_id: c.transfer_sent.clone(),
            },
        ),
        call(
            t,
            "AcceptTransfer",
            ENVIRONMENT_BUREAU,
            pb::AcceptTransferRequest {
                request_id: rid("t-accept"),
                transfer_id: c.transfer_sent.clone(),
                case_number: "榕环立〔2026〕2号".into(),
                note: "受理".into(),
            },
        ),
        call(
            t,
            "ObjectToTransfer",
            ENVIRONMENT_BUREAU,
            pb::ObjectToTransferRequest {
                request_id: rid("t-object"),
                transfer_id: c.transfer_sent.clone(),
                reasons: "不属本部门职责".into(),
            },
        ),
        call(
            t,
            "ReportOutcome",
            ENVIRONMENT_BUREAU,
            pb::ReportOutcomeRequest {
                request_id: rid("t-outcome"),
                transfer_id: c.transfer_accepted.clone(),
                outcome: "已作出行政处罚".into(),
                documents: two_documents(pb::DocumentKind::Decision),
            },
        ),
        call(
            t,
            "DeclineTransfer",
            ENVIRONMENT_BUREAU,
            pb::DeclineTransferRequest {
                request_id: rid("t-decline"),
                transfer_id: c.transfer_sent.clone(),
                reasons: "违法行为轻微并及时改正".into(),
            },
        ),
        call(
            t,
            "ContestDecline",
            MARKET_BUREAU,
            pb::ContestDeclineRequest {
                request_id: rid("t-contest"),
                transfer_id: c.transfer_declined.clone(),
                reasons: "当事人多次违法".into(),
            },
        ),
        call(
            t,
            "SuspendTransfer",
            ENVIRONMENT_BUREAU,
            pb::SuspendTransferRequest {
                request_id: rid("t-suspend"),
                transfer_id: c.transfer_accepted.clone(),
                reason: "当事人下落不明".into(),
                approval: Some(document(pb::DocumentKind::Decision, "中止审批表")),
            },
        ),
        call(
            t,
            "ResumeTransfer",
            ENVIRONMENT_BUREAU,
            pb::ResumeTransferRequest {
                request_id: rid("t-resume"),
                transfer_id: c.transfer_suspended.clone(),
                note: "当事人已到案".into(),
            },
        ),
        call(
            d,
            "RaiseDispute",
            MARKET_BUREAU,
            pb::RaiseDisputeRequest {
                request_id: rid("raise"),
                respondent: ENVIRONMENT_BUREAU.into(),
                question: "管辖".into(),
                position: "应由对方管辖".into(),
                transfer_id: String::new(),
                documents: two_documents(pb::DocumentKind::Evidence),
            },
        ),
        call(
            d,
            "DesignateDirectly",
            CITY_GOVERNMENT,
            pb::DesignateDirectlyRequest {
                request_id: rid("designate-directly"),
                parties: vec![MARKET_BUREAU.into(), ENVIRONMENT_BUREAU.into()],
                question: "管辖".into(),
                designated: ENVIRONMENT_BUREAU.into(),
                decision: "由生态环境局管辖".into(),
                transfer_id: String::new(),
                documents: two_documents(pb::DocumentKind::Designation),
            },
        ),
        call(
            d,
            "GetDispute",
            MARKET_BUREAU,
            pb::GetDisputeRequest {
                dispute_id: c.dispute_negotiating.clone(),
            },
        ),
        call(
            d,
            "ListDisputes",
            MARKET_BUREAU,
            pb::ListCasesRequest {
                status: "negotiating".into(),
                ..list()
            },
        ),
        call(
            d,
            "RecordMinutes",
            MARKET_BUREAU,
            pb::RecordMinutesRequest {
                request_id: rid("minutes"),
                dispute_id: c.dispute_negotiating.clone(),
                competent: ENVIRONMENT_BUREAU.into(),
                minutes: "双方同意".into(),
                documents: two_documents(pb::DocumentKind::Minutes),
            },
        ),
        call(
            d,
            "ReferDispute",
            MARKET_BUREAU,
            pb::ReferDisputeRequest {
                request_id: rid("refer"),
                dispute_id: c.dispute_negotiating.clone(),
                note: "协商不成".into(),
            },
        ),
        call(
            d,
            "AcceptDispute",
            CITY_GOVERNMENT,
            pb::AcceptDisputeRequest {
                request_id: rid("accept-dispute"),
                dispute_id: c.dispute_referred.clone(),
                note: "受理".into(),
            },
        ),
        call(
            d,
            "ReplyToDispute",
            ENVIRONMENT_BUREAU,
            pb::ReplyToDisputeRequest {
                request_id: rid("reply"),
                dispute_id: c.dispute_accepted.clone(),
                position: "应由市场监管局管辖".into(),
                documents: two_documents(pb::DocumentKind::Evidence),
            },
        ),
        call(
            d,
            "DesignateAgency",
            CITY_GOVERNMENT,
            pb::DesignateAgencyRequest {
                request_id: rid("designate"),
                dispute_id: c.dispute_accepted.clone(),
                designated: ENVIRONMENT_BUREAU.into(),
                decision: "由生态环境局管辖".into(),
                documents: two_documents(pb::DocumentKind::Designation),
            },
        ),
        call(
            o,
            "RequestOpinion",
            MARKET_BUREAU,
            pb::RequestOpinionRequest {
                request_id: rid("request-opinion"),
                expert: TESTING_INSTITUTE.into(),
                kind: pb::OpinionKind::Test.into(),
                question: "是否符合国家标准".into(),
                documents: two_documents(pb::DocumentKind::Evidence),
                under_case_id: c.submitted.clone(),
            },
        ),
        call(
            o,
            "GetOpinion",
            MARKET_BUREAU,
            pb::GetOpinionRequest {
                opinion_id: c.opinion_requested.clone(),
            },
        ),
        call(
            o,
            "ListOpinions",
            MARKET_BUREAU,
            pb::ListCasesRequest {
                status: "requested".into(),
                ..list()
            },
        ),
        call(
            o,
            "AcceptOpinionRequest",
            TESTING_INSTITUTE,
            pb::AcceptOpinionRequestRequest {
                request_id: rid("accept-opinion"),
                opinion_id: c.opinion_requested.clone(),
                note: "受理".into(),
            },
        ),
        call(
            o,
            "RefuseOpinionRequest",
            TESTING_INSTITUTE,
            pb::RefuseOpinionRequestRequest {
                request_id: rid("refuse-opinion"),
                opinion_id: c.opinion_requested.clone(),
                reasons: "超出检验范围".into(),
            },
        ),
        call(
            o,
            "RequestMaterial",
            TESTING_INSTITUTE,
            pb::RequestMaterialRequest {
                request_id: rid("material"),
                opinion_id: c.opinion_accepted.clone(),
                needed: "样品".into(),
            },
        ),
        call(
            o,
            "SupplyMaterial",
            MARKET_BUREAU,
            pb::SupplyMaterialRequest {
                request_id: rid("supply"),
                opinion_id: c.opinion_awaiting_material.clone(),
                documents: two_documents(pb::DocumentKind::Evidence),
                note: "已提供".into(),
            },
        ),
        call(
            o,
            "DeliverOpinion",
            TESTING_INSTITUTE,
            pb::DeliverOpinionRequest {
                request_id: rid("deliver"),
                opinion_id: c.opinion_accepted.clone(),
                opinion: Some(pb::Opinion {
                    finding: pb::OpinionFinding::Negative.into(),
                    conclusion: "不符合国家标准".into(),
                    basis: "导体电阻超标".into(),
                    documents: two_documents(pb::DocumentKind::Opinion),
                }),
            },
        ),
        call(l, "SendLead", MARKET_BUREAU, {
            let mut s = lead_sending(&rid("send-lead"));
            s.documents = two_documents(pb::DocumentKind::Evidence);
            s
        }),
        call(
            l,
            "GetLead",
            MARKET_BUREAU,
            pb::GetLeadRequest {
                lead_id: c.lead_sent.clone(),
            },
        ),
        call(
            l,
            "ListLeads",
            MARKET_BUREAU,
            pb::ListCasesRequest {
                status: "sent".into(),
                ..list()
            },
        ),
        call(
            l,
            "AcknowledgeLead",
            ENVIRONMENT_BUREAU,
            pb::AcknowledgeLeadRequest {
                request_id: rid("acknowledge-lead"),
                lead_id: c.lead_sent.clone(),
                note: "已签收".into(),
            },
        ),
        call(
            l,
            "AnswerLead",
            ENVIRONMENT_BUREAU,
            pb::AnswerLeadRequest {
                request_id: rid("answer-lead"),
                lead_id: c.lead_acknowledged.clone(),
                outcome: Some(pb::answer_lead_request::Outcome::NoAction(
                    pb::LeadNoAction {
                        reasons: "经核查，该厂已取得排污许可".into(),
                    },
                )),
            },
        ),
        call(
            "CaseService",
            "GetTimeline",
            MARKET_BUREAU,
            pb::GetTimelineRequest {
                case_id: c.submitted.clone(),
            },
        ),
        call(
            "DirectoryService",
            "ListAgencies",
            MARKET_BUREAU,
            pb::ListAgenciesRequest {
                kind: pb::AgencyKind::Police.into(),
                region: "350100".into(),
            },
        ),
        call(
            "MonitorService",
            "ListObligations",
            PROCURATORATE,
            pb::ListObligationsRequest {
                view: pb::ObligationView::Open.into(),
                as_of: past(0),
                due_within_hours: 0,
                agency: CITY_POLICE.into(),
                family: "referral".into(),
                rule: "S1-8".into(),
                region: "350100".into(),
                case_id: c.received.clone(),
                page_size: 20,
                page_token: String::new(),
            },
        ),
        call(
            "MonitorService",
            "GetStatistics",
            PROCURATORATE,
            pb::GetStatisticsRequest {
                from: past(24 * 30),
                to: past(0),
                agency: MARKET_BUREAU.into(),
            },
        ),
        call(
            "MonitorService",
            "GetReport",
            PROCURATORATE,
            pb::GetReportRequest {
                kind: pb::ReportKind::Monthly.into(),
                year: 2026,
                month: 3,
                quarter: 0,
                format: pb::ReportFormat::Json.into(),
            },
        ),
        call(
            "DeadlineService",
            "ListCaseDeadlines",
            CITY_POLICE,
            pb::ListCaseDeadlinesRequest {
                case_id: c.received.clone(),
            },
        ),
        call(
            "DeadlineService",
            "ExtendDeadline",
            CITY_POLICE,
            extend_request(&rid("extend"), &c.received, 1),
        ),
        call(
            "EvidenceService",
            "GetEvidence",
            MARKET_BUREAU,
            pb::GetEvidenceRequest {
                sha256: c.evidence.clone(),
            },
        ),
    ]
}

/// Formats and rules the contract states for particular fields, which the generic breakage
/// above does not reach: each a valid call changed in one documented way.
fn documented_breaks(c: &Cases) -> Vec<(Call, Broken)> {
    let mut out = Vec::new();
    let mut add = |call: Call, path: &str, what: &'static str| {
        let request = call.request.clone();
        out.push((
            call,
            Broken {
                path: path.to_owned(),
                what,
                request,
            },
        ));
    };
    let r = "ReferralService";
    for (phone, what) in [
        ("call me", "a phone number that is words"),
        ("0591 87654321", "a phone number with a space"),
        ("1234", "a phone number of four digits"),
    ] {
        let mut s = submission("contract-phone");
        s.case_officer_phone = phone.into();
        add(
            call(r, "SubmitReferral", MARKET_BUREAU, s),
            "case_officer_phone",
            what,
        );
        let mut t = super::transfers::sending("contract-phone");
        t.case_officer_phone = phone.into();
        add(
            call("TransferService", "SendTransfer", MARKET_BUREAU, t),
            "case_officer_phone",
            what,
        );
    }
    let mut s = submission("contract-kind");
    s.documents[2].kind = pb::DocumentKind::Unspecified.into();
    add(
        call(r, "SubmitReferral", MARKET_BUREAU, s),
        "documents[2].kind",
        "a document of no kind",
    );
    let mut s = submission("contract-blank");
    s.summary = " \n ".into();
    add(
        call(r, "SubmitReferral", MARKET_BUREAU, s),
        "summary",
        "a blank summary",
    );
    let mut s = submission("contract-no-time");
    s.report_received_at = None;
    add(
        call(r, "SubmitReferral", MARKET_BUREAU, s),
        "report_received_at",
        "no report time",
    );
    let mut s = submission("contract-nanos");
    s.approved_at = Some(prost_types::Timestamp {
        seconds: now_seconds(),
        nanos: 1_000_000_000,
    });
    add(
        call(r, "SubmitReferral", MARKET_BUREAU, s),
        "approved_at",
        "nanos beyond a second",
    );
    let mut s = submission("contract-title");
    s.documents[1].title = "长".repeat(257);
    add(
        call(r, "SubmitReferral", MARKET_BUREAU, s),
        "documents[1].title",
        "a 257-character title",
    );
    let list = |status: &str, page_size: u32| pb::ListCasesRequest {
        status: status.into(),
        role: 0,
        page_size,
        page_token: String::new(),
    };
    for (service, method, status) in [
        (r, "ListReferrals", "sent"),
        ("TransferService", "ListTransfers", "filed"),
        ("DisputeService", "ListDisputes", "submitted"),
        ("OpinionService", "ListOpinions", "negotiating"),
    ] {
        add(
            call(service, method, MARKET_BUREAU, list("", 201)),
            "page_size",
            "201 rows a page",
        );
        add(
            call(service, method, MARKET_BUREAU, list(status, 0)),
            "status",
            "another family's status",
        );
        let mut token = list("", 0);
        token.page_token = "not-a-token".into();
        add(
            call(service, method, MARKET_BUREAU, token),
            "page_token",
            "a token never issued",
        );
    }
    add(
        call(
            "DirectoryService",
            "ListAgencies",
            MARKET_BUREAU,
            pb::ListAgenciesRequest {
                kind: 0,
                region: "35010".into(),
            },
        ),
        "region",
        "a five-digit region",
    );
    add(
        call(
            r,
            "HandOverItems",
            MARKET_BUREAU,
            pb::HandOverItemsRequest {
                request_id: "contract-no-list".into(),
                referral_id: c.filed.clone(),
                documents: vec![document(pb::DocumentKind::Evidence, "照片")],
                note: String::new(),
            },
        ),
        "documents",
        "a hand-over without its hand-over list",
    );
    add(
        call(
            "TransferService",
            "SuspendTransfer",
            ENVIRONMENT_BUREAU,
            pb::SuspendTransferRequest {
                request_id: "contract-no-approval".into(),
                transfer_id: c.transfer_accepted.clone(),
                reason: "当事人下落不明".into(),
                approval: None,
            },
        ),
        "approval",
        "a suspension without its approval",
    );
    add(
        call(
            r,
            "DecideFiling",
            CITY_POLICE,
            pb::DecideFilingRequest {
                request_id: "contract-no-decision".into(),
                referral_id: c.received.clone(),
                decision: None,
            },
        ),
        "decision",
        "a filing decision that decides nothing",
    );
    add(
        call(
            "DeadlineService",
            "ExtendDeadline",
            CITY_POLICE,
            extend_request("contract-tier-0", &c.received, 0),
        ),
        "target",
        "an extension to tier 0",
    );
    add(
        call(
            "MonitorService",
            "GetReport",
            PROCURATORATE,
            pb::GetReportRequest {
                kind: pb::ReportKind::Monthly.into(),
                year: 2026,
                month: 13,
                quarter: 0,
                format: pb::ReportFormat::Json.into(),
            },
        ),
        "month",
        "month 13",
    );
    out
}

#[tokio::test]
async fn every_field_of_every_request_is_held_to_the_contract() {
    let app = spawn_app().await;
    let cases = prepare(&app).await;
    // The deadlines service has heard of the received referral's review before anyone extends it.
    case_deadlines_with(&app, CITY_POLICE, &cases.received, "S1-8").await;
    let calls = valid_calls(&cases);
    let before = everything_seen(&app).await;

    let mut inputs: Vec<(&Call, Broken)> = calls
        .iter()
        .flat_map(|call| {
            broken_copies(&call.request)
                .into_iter()
                .map(move |b| (call, b))
        })
        .collect();
    let documented = documented_breaks(&cases);
    let generated = inputs.len();
    inputs.extend(
        documented
            .iter()
            .map(|(call, broken)| (call, broken.clone())),
    );

    let mut refused = 0;
    let mut failures = Vec::new();
    let mut per_rpc = std::collections::BTreeMap::new();
    for (call, broken) in inputs {
        let channel = app.channel_as(call.caller).await;
        {
            let outcome =
                call_raw(channel.clone(), &call.path, broken.request.encode_to_vec()).await;
            let problem = match outcome {
                Ok(_) => Some("accepted".to_owned()),
                Err(status) if status.code() != Code::InvalidArgument => {
                    Some(format!("{status:?}"))
                }
                Err(status) => {
                    let fields = violated_fields(&status);
                    (fields != [broken.path.clone()])
                        .then(|| format!("violations {fields:?}: {}", status.message()))
                }
            };
            match problem {
                None => {
                    refused += 1;
                    *per_rpc.entry(call.path.clone()).or_insert(0) += 1;
                }
                Some(problem) => failures.push(format!(
                    "{} {} with {}: {problem}",
                    call.path, broken.path, broken.what
                )),
            }
        }
    }
    println!(
        "{refused} malformed requests ({generated} generated from the descriptors, {} by hand) \
         refused on their field, over {} rpcs:",
        documented.len(),
        per_rpc.len()
    );
    for (rpc, n) in &per_rpc {
        println!("  {n:>3}  {rpc}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} not refused as the contract says:\n{}",
        failures.len(),
        refused + failures.len(),
        failures.join("\n")
    );
    assert!(refused >= 150, "only {refused} malformed requests");
    assert_eq!(
        everything_seen(&app).await,
        before,
        "a refused request changed something"
    );

    app.stop().await;
}

/// Bytes that are no protobuf message were answered INTERNAL (tonic's default); the contract
/// says INVALID_ARGUMENT, on every rpc.
#[tokio::test]
async fn bytes_that_are_no_message_are_an_invalid_argument_on_every_rpc() {
    let app = spawn_app().await;
    let cases = prepare(&app).await;
    let before = everything_seen(&app).await;
    // A field 1 of wire type 2 (length-delimited) announcing 100 bytes, then 3.
    let undecodable = vec![0x0a, 0x64, 0x01, 0x02, 0x03];
    let mut answered = 0;
    for call in valid_calls(&cases) {
        let status = call_raw(
            app.channel_as(call.caller).await,
            &call.path,
            undecodable.clone(),
        )
        .await
        .expect_err("undecodable bytes are refused");
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{}: {status:?}",
            call.path
        );
        assert!(
            status.message().contains("not a valid"),
            "{}: {}",
            call.path,
            status.message()
        );
        answered += 1;
    }
    println!("{answered} rpcs refused undecodable bytes with INVALID_ARGUMENT");
    assert_eq!(everything_seen(&app).await, before);
    app.stop().await;
}
