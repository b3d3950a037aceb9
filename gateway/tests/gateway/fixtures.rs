//! What the contract test and the authorization matrix share: raw gRPC calls (any bytes as any
//! rpc's request), one channel per agency, and fixture cases brought to a state through the real
//! services.

use std::collections::HashMap;
use std::str::FromStr as _;

use bytes::{Buf as _, BufMut as _};
use casebridge_core::notice::Family;
use prost::Message as _;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use super::*;

use Family::{Dispute as D, Lead as L, Opinion as O, Referral as R, Transfer as T};

/// Every agency of the example directory the tests use.
pub(super) const AGENCIES: [&str; 9] = [
    CITY_GOVERNMENT,
    MARKET_BUREAU,
    ENVIRONMENT_BUREAU,
    EMERGENCY_BUREAU,
    TESTING_INSTITUTE,
    CITY_POLICE,
    DISTRICT_POLICE,
    PROCURATORATE,
    JUSTICE_BUREAU,
];

/// Sends encoded bytes as the request of the rpc at `path`, whatever they are.
pub(super) async fn call_raw(
    channel: Channel,
    path: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_str(path).expect("an rpc path");
    grpc.unary(tonic::Request::new(body), path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// Passes bytes through unchanged, both ways.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

/// A step that brings a fixture case to a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fx {
    Receipt,
    /// The police review (S1-8) runs out: the deadlines service's miss, as it publishes it
    /// (its timer is three days away on this test's clock; `services/deadlines/tests` runs it).
    Overdue,
    Demand,
    AskSupplement,
    File,
    Decline,
    Reconsider,
    Supervise,
    AskReasons,
    GiveReasons,
    NotifyFiling,
    Tell,
    Withdraw,
    Forward,
    Return,
    TransferElsewhere,
    HandBack,
    DecideReconsideration,
    Supplement,
    TReceipt,
    TAccept,
    TObject,
    TDecline,
    TContest,
    TSuspend,
    Minutes,
    Refer,
    DAccept,
    Reply,
    Designate,
    OAccept,
    ORefuse,
    OAskMaterial,
    ODeliver,
    OSupply,
    LAcknowledge,
    LAnswer,
}

/// One channel per agency, reused by every call, and the bus the services share.
pub(super) struct Channels(
    HashMap<&'static str, Channel>,
    casebridge_platform::bus::Bus,
);

impl Channels {
    pub(super) async fn open(app: &TestApp) -> Channels {
        let mut channels = HashMap::new();
        for agency in AGENCIES {
            channels.insert(agency, app.channel_as(agency).await);
        }
        Channels(channels, app.backend.bus.clone())
    }

    /// Publishes the deadlines service's miss of S1-8 on `referral_id`, then waits until the
    /// referral records it.
    async fn review_overdue(&self, referral_id: &str) -> Result<Vec<u8>, Status> {
        use casebridge_core::notice::{Notice, Role};
        let case_id = CaseId::parse(referral_id).expect("a referral id");
        let now = test_clock().now();
        let police = AgencyCode::parse(CITY_POLICE).expect("code");
        let notice = Notice {
            case_id,
            family: R,
            event: "deadline_missed".into(),
            actor: police.clone(),
            at: now,
            recipients: vec![police.clone()],
            summary: "S1-8 is overdue".into(),
            detail: serde_json::json!({
                "rule": "S1-8",
                "obligation": 0,
                "owed_by": police,
                "due_at": now,
                "started_at": now,
            }),
            parties: [(Role::Recipient, police)].into(),
            attachments: Vec::new(),
        };
        let message =
            casebridge_platform::bus::Message::json(notice.routing_key(), &notice).expect("encode");
        self.1.publish_event(&message).await.expect("publish");
        let deadline = Instant::now() + PROMPTLY;
        loop {
            let read = pb::GetReferralRequest {
                referral_id: referral_id.to_owned(),
            };
            let bytes = self
                .call(PROCURATORATE, "ReferralService/GetReferral", &read)
                .await?;
            let referral = pb::Referral::decode(bytes.as_slice()).expect("a referral");
            if referral.review_overdue_at.is_some() {
                return Ok(bytes);
            }
            assert!(
                Instant::now() < deadline,
                "the referral never recorded the review's miss"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(super) async fn call<M: prost::Message>(
        &self,
        agency: &str,
        rpc: &str,
        request: &M,
    ) -> Result<Vec<u8>, Status> {
        self.raw(agency, rpc, request.encode_to_vec()).await
    }

    pub(super) async fn raw(
        &self,
        agency: &str,
        rpc: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, Status> {
        let channel = self.0.get(agency).expect("a test agency").clone();
        call_raw(channel, &format!("/casebridge.v1.{rpc}"), body).await
    }
}

/// Opens a case of `family` and takes `steps`; returns its id.
pub(super) async fn fixture(ch: &Channels, family: Family, steps: &[Fx], tag: &str) -> String {
    let rid = |n: usize| format!("mx-{tag}-{n}");
    let id = match family {
        R => {
            let bytes = ch
                .call(
                    MARKET_BUREAU,
                    "ReferralService/SubmitReferral",
                    &submission(&rid(99)),
                )
                .await;
            pb::ReferralResult::decode(bytes.expect("submitted").as_slice())
                .expect("result")
                .referral
                .expect("referral")
                .id
        }
        T => {
            let bytes = ch
                .call(
                    MARKET_BUREAU,
                    "TransferService/SendTransfer",
                    &super::transfers::sending(&rid(99)),
                )
                .await;
            pb::TransferResult::decode(bytes.expect("sent").as_slice())
                .expect("result")
                .transfer
                .expect("transfer")
                .id
        }
        D => {
            let request = pb::RaiseDisputeRequest {
                request_id: rid(99),
                respondent: ENVIRONMENT_BUREAU.into(),
                question: "河道排污案由哪个部门管辖".into(),
                position: "排污属生态环境部门职责".into(),
                transfer_id: String::new(),
                documents: Vec::new(),
            };
            let bytes = ch
                .call(MARKET_BUREAU, "DisputeService/RaiseDispute", &request)
                .await;
            pb::DisputeResult::decode(bytes.expect("raised").as_slice())
                .expect("result")
                .dispute
                .expect("dispute")
                .id
        }
        O => {
            let request = pb::RequestOpinionRequest {
                request_id: rid(99),
                expert: TESTING_INSTITUTE.into(),
                kind: pb::OpinionKind::Test.into(),
                question: "涉案电线是否符合国家标准".into(),
                documents: Vec::new(),
                under_case_id: String::new(),
            };
            let bytes = ch
                .call(MARKET_BUREAU, "OpinionService/RequestOpinion", &request)
                .await;
            pb::OpinionResult::decode(bytes.expect("requested").as_slice())
                .expect("result")
                .opinion
                .expect("opinion")
                .id
        }
        L => {
            let bytes = ch
                .call(
                    MARKET_BUREAU,
                    "LeadService/SendLead",
                    &lead_sending(&rid(99)),
                )
                .await;
            pb::LeadResult::decode(bytes.expect("sent").as_slice())
                .expect("result")
                .lead
                .expect("lead")
                .id
        }
        Family::Penalty => panic!("the matrix has no penalty fixtures (Row::Elsewhere)"),
        Family::Rectification => {
            panic!("the matrix has no rectification fixtures (Row::Elsewhere)")
        }
    };
    for (n, fx) in steps.iter().enumerate() {
        let (request_id, referral_id) = (rid(n), id.clone());
        let (transfer_id, dispute_id, opinion_id) = (id.clone(), id.clone(), id.clone());
        let lead_id = id.clone();
        use pb::decide_filing_request::Decision;
        let taken = match fx {
            Fx::Receipt => {
                ch.call(
                    CITY_POLICE,
                    "ReferralService/SignReceipt",
                    &pb::SignReceiptRequest {
                        request_id,
                        referral_id,
                    },
                )
                .await
            }
            Fx::Overdue => ch.review_overdue(&referral_id).await,
            Fx::Demand => {
                ch.call(
                    PROCURATORATE,
                    "ReferralService/DemandExplanation",
                    &pb::DemandExplanationRequest {
                        request_id,
                        referral_id,
                        note: "请说明".into(),
                    },
                )
                .await
            }
            Fx::AskSupplement => {
                ch.call(
                    CITY_POLICE,
                    "ReferralService/RequestSupplement",
                    &pb::RequestSupplementRequest {
                        request_id,
                        referral_id,
                        missing: vec![pb::DocumentKind::Evidence.into()],
                        note: String::new(),
                    },
                )
                .await
            }
            Fx::File => {
                ch.call(
                    CITY_POLICE,
                    "ReferralService/DecideFiling",
                    &pb::DecideFilingRequest {
                        request_id,
                        referral_id,
                        decision: Some(Decision::File(pb::FileCase {
                            note: String::new(),
                        })),
                    },
                )
                .await
            }
            Fx::Decline => {
                ch.call(
                    CITY_POLICE,
                    "ReferralService/DecideFiling",
                    &pb::DecideFilingRequest {
                        request_id,
                        referral_id,
                        decision: Some(Decision::Decline(pb::DeclineToFile {
                            reasons: "证据不足".into(),
                        })),
                    },
                )
                .await
            }
            Fx::Reconsider => {
                ch.call(
                    MARKET_BUREAU,
                    "ReferralService/RequestReconsideration",
                    &pb::RequestReconsiderationRequest {
                        request_id,
                        referral_id,
                        reasons: "证据充分".into(),
                    },
                )
                .await
            }
            Fx::Supervise => {
                ch.call(
                    MARKET_BUREAU,
                    "ReferralService/SuggestSupervision",
                    &pb::SuggestSupervisionRequest {
                        request_id,
                        referral_id,
                        reasons: "应当立案".into(),
                    },
                )
                .await
            }
            Fx::AskReasons => {
                ch.call(
                    PROCURATORATE,
                    "ReferralService/RequestReasons",
                    &pb::RequestReasonsRequest {
                        request_id,
                        referral_id,
                        note: String::new(),
                    },
                )
                .await
            }
            Fx::GiveReasons => {
                ch.call(
                    CITY_POLICE,
                    "ReferralService/GiveReasons",
                    &pb::GiveReasonsRequest {
                        request_id,
                        referral_id,
                        reasons: "不构成犯罪".into(),
                    },
                )
                .await
            }
            Fx::NotifyFiling => {
                ch.call(
                    PROCURATORATE,
                    "ReferralService/NotifyFiling",
                    &pb::NotifyFilingRequest {
                        request_id,
                        referral_id,
                        reasons: "理由不成立".into(),
                    },
                )
                .await
            }
            Fx::Tell => {
                ch.call(
                    PROCURATORATE,
                    "ReferralService/TellAgency",
                    &pb::TellAgencyRequest {
                        request_id,
                        referral_id,
                        note: "理由成立".into(),
                    },
                )
                .await
            }
            Fx::Withdraw => {
                ch.call(
                    CITY_POLICE,
                    "ReferralService/WithdrawCase",
                    &pb::WithdrawCaseRequest {
                        request_id,
                        referral_id,
                        reasons: "撤销".into(),
                        decided_at: Some(prost_types::Timestamp {
                            seconds: now_seconds() - 60,
                            nanos: 0,
                        }),
                    },
                )
                .await
            }
            Fx::Return => {
                ch.call(
                    CITY_POLICE,
                    "ReferralService/ReturnReferral",
                    &pb::ReturnReferralRequest {
                        request_id,
                        referral_id,
                        reasons: "不属于公安机关管辖".into(),
                    },
                )
                .await
            }
            Fx::Supplement => {
                ch.call(
                    MARKET_BUREAU,
                    "ReferralService/SupplementReferral",
                    &pb::SupplementReferralRequest {
                        request_id,
                        referral_id,
                        documents: vec![pb::Document {
                            kind: pb::DocumentKind::Evidence.into(),
                            title: "补充证据".into(),
                            sha256: String::new(),
                        }],
                        note: String::new(),
                    },
                )
                .await
            }
            Fx::TransferElsewhere => {
                ch.call(
                    CITY_POLICE,
                    "ReferralService/TransferCase",
                    &pb::TransferCaseRequest {
                        request_id,
                        referral_id,
                        to_authority: "福州市人民检察院".into(),
                        reason: "职务犯罪".into(),
                        decided_at: Some(prost_types::Timestamp {
                            seconds: now_seconds() - 60,
                            nanos: 0,
                        }),
                    },
                )
                .await
            }
            Fx::HandBack => {
                ch.call(
                    CITY_POLICE,
                    "ReferralService/HandBackReferral",
                    &pb::HandBackReferralRequest {
                        request_id,
                        referral_id,
                        to_agency: MARKET_BUREAU.into(),
                        reasons: "依法应予行政处罚".into(),
                        documents: Vec::new(),
                    },
                )
                .await
            }
            Fx::DecideReconsideration => {
                ch.call(
                    CITY_POLICE,
                    "ReferralService/DecideReconsideration",
                    &pb::DecideReconsiderationRequest {
                        request_id,
                        referral_id,
                        outcome: pb::ReconsiderationOutcome::Uphold.into(),
                        reasons: "维持".into(),
                    },
                )
                .await
            }
            Fx::OSupply => {
                ch.call(
                    MARKET_BUREAU,
                    "OpinionService/SupplyMaterial",
                    &pb::SupplyMaterialRequest {
                        request_id,
                        opinion_id,
                        documents: vec![pb::Document {
                            kind: pb::DocumentKind::Evidence.into(),
                            title: "样品".into(),
                            sha256: String::new(),
                        }],
                        note: String::new(),
                    },
                )
                .await
            }
            Fx::Forward => {
                ch.call(
                    CITY_POLICE,
                    "ReferralService/ForwardReferral",
                    &pb::ForwardReferralRequest {
                        request_id,
                        referral_id,
                        to_police: DISTRICT_POLICE.into(),
                        reason: "属地".into(),
                    },
                )
                .await
            }
            Fx::TReceipt => {
                ch.call(
                    ENVIRONMENT_BUREAU,
                    "TransferService/SignTransferReceipt",
                    &pb::SignTransferReceiptRequest {
                        request_id,
                        transfer_id,
                    },
                )
                .await
            }
            Fx::TAccept => {
                ch.call(
                    ENVIRONMENT_BUREAU,
                    "TransferService/AcceptTransfer",
                    &pb::AcceptTransferRequest {
                        request_id,
                        transfer_id,
                        case_number: "榕环立1号".into(),
                        note: String::new(),
                    },
                )
                .await
            }
            Fx::TObject => {
                ch.call(
                    ENVIRONMENT_BUREAU,
                    "TransferService/ObjectToTransfer",
                    &pb::ObjectToTransferRequest {
                        request_id,
                        transfer_id,
                        reasons: "不属本部门职责".into(),
                    },
                )
                .await
            }
            Fx::TDecline => {
                ch.call(
                    ENVIRONMENT_BUREAU,
                    "TransferService/DeclineTransfer",
                    &pb::DeclineTransferRequest {
                        request_id,
                        transfer_id,
                        reasons: "违法行为轻微并及时改正".into(),
                    },
                )
                .await
            }
            Fx::TContest => {
                ch.call(
                    MARKET_BUREAU,
                    "TransferService/ContestDecline",
                    &pb::ContestDeclineRequest {
                        request_id,
                        transfer_id,
                        reasons: "当事人多次违法".into(),
                    },
                )
                .await
            }
            Fx::TSuspend => {
                ch.call(
                    ENVIRONMENT_BUREAU,
                    "TransferService/SuspendTransfer",
                    &pb::SuspendTransferRequest {
                        request_id,
                        transfer_id,
                        reason: "当事人下落不明".into(),
                        approval: Some(pb::Document {
                            kind: pb::DocumentKind::Decision.into(),
                            title: "中止审批表".into(),
                            sha256: String::new(),
                        }),
                    },
                )
                .await
            }
            Fx::Minutes => {
                ch.call(
                    MARKET_BUREAU,
                    "DisputeService/RecordMinutes",
                    &pb::RecordMinutesRequest {
                        request_id,
                        dispute_id,
                        competent: ENVIRONMENT_BUREAU.into(),
                        minutes: "双方同意".into(),
                        documents: Vec::new(),
                    },
                )
                .await
            }
            Fx::Refer => {
                ch.call(
                    MARKET_BUREAU,
                    "DisputeService/ReferDispute",
                    &pb::ReferDisputeRequest {
                        request_id,
                        dispute_id,
                        note: String::new(),
                    },
                )
                .await
            }
            Fx::DAccept => {
                ch.call(
                    CITY_GOVERNMENT,
                    "DisputeService/AcceptDispute",
                    &pb::AcceptDisputeRequest {
                        request_id,
                        dispute_id,
                        note: String::new(),
                    },
                )
                .await
            }
            Fx::Reply => {
                ch.call(
                    ENVIRONMENT_BUREAU,
                    "DisputeService/ReplyToDispute",
                    &pb::ReplyToDisputeRequest {
                        request_id,
                        dispute_id,
                        position: "应由对方管辖".into(),
                        documents: Vec::new(),
                    },
                )
                .await
            }
            Fx::Designate => {
                ch.call(
                    CITY_GOVERNMENT,
                    "DisputeService/DesignateAgency",
                    &pb::DesignateAgencyRequest {
                        request_id,
                        dispute_id,
                        designated: ENVIRONMENT_BUREAU.into(),
                        decision: "由生态环境局管辖".into(),
                        documents: Vec::new(),
                    },
                )
                .await
            }
            Fx::OAccept => {
                ch.call(
                    TESTING_INSTITUTE,
                    "OpinionService/AcceptOpinionRequest",
                    &pb::AcceptOpinionRequestRequest {
                        request_id,
                        opinion_id,
                        note: String::new(),
                    },
                )
                .await
            }
            Fx::ORefuse => {
                ch.call(
                    TESTING_INSTITUTE,
                    "OpinionService/RefuseOpinionRequest",
                    &pb::RefuseOpinionRequestRequest {
                        request_id,
                        opinion_id,
                        reasons: "超出范围".into(),
                    },
                )
                .await
            }
            Fx::OAskMaterial => {
                ch.call(
                    TESTING_INSTITUTE,
                    "OpinionService/RequestMaterial",
                    &pb::RequestMaterialRequest {
                        request_id,
                        opinion_id,
                        needed: "样品".into(),
                    },
                )
                .await
            }
            Fx::ODeliver => {
                ch.call(
                    TESTING_INSTITUTE,
                    "OpinionService/DeliverOpinion",
                    &pb::DeliverOpinionRequest {
                        request_id,
                        opinion_id,
                        opinion: Some(pb::Opinion {
                            finding: pb::OpinionFinding::Negative.into(),
                            conclusion: "不符合".into(),
                            basis: String::new(),
                            documents: Vec::new(),
                        }),
                    },
                )
                .await
            }
            Fx::LAcknowledge => {
                ch.call(
                    ENVIRONMENT_BUREAU,
                    "LeadService/AcknowledgeLead",
                    &pb::AcknowledgeLeadRequest {
                        request_id,
                        lead_id,
                        note: String::new(),
                    },
                )
                .await
            }
            Fx::LAnswer => {
                ch.call(
                    ENVIRONMENT_BUREAU,
                    "LeadService/AnswerLead",
                    &pb::AnswerLeadRequest {
                        request_id,
                        lead_id,
                        outcome: Some(pb::answer_lead_request::Outcome::NoAction(
                            pb::LeadNoAction {
                                reasons: "经核查，该厂已取得排污许可".into(),
                            },
                        )),
                    },
                )
                .await
            }
        };
        taken.unwrap_or_else(|status| panic!("fixture step {fx:?} on {family}: {status:?}"));
    }
    id
}

/// A valid lead from the market bureau to the environment bureau (河道排污).
pub(super) fn lead_sending(request_id: &str) -> pb::SendLeadRequest {
    pb::SendLeadRequest {
        request_id: request_id.into(),
        to: ENVIRONMENT_BUREAU.into(),
        subject: "疑似向河道排放污水".into(),
        description: "检查某化工厂时发现排污口直通河道".into(),
        documents: Vec::new(),
    }
}
