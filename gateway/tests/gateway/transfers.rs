//! Case transfers over the wire: every kind of refusal, and that none changes anything.

use casebridge_proto::v1::dispute_service_client::DisputeServiceClient;
use casebridge_proto::v1::transfer_service_client::TransferServiceClient;

use super::refusals::{Refusal, assert_only_events, assert_refused, oversized};
use super::*;

pub(crate) async fn transfers_as(app: &TestApp, agency: &str) -> TransferServiceClient<Channel> {
    TransferServiceClient::new(app.channel_as(agency).await)
}

/// A valid transfer from the market bureau to the environment bureau.
pub fn sending(request_id: &str) -> pb::SendTransferRequest {
    pb::SendTransferRequest {
        request_id: request_id.into(),
        receiver: ENVIRONMENT_BUREAU.into(),
        suspected_violation: "无证排放污水".into(),
        summary: "检查中发现某厂向河道排放污水".into(),
        jurisdiction_grounds: "水污染防治法第八十三条".into(),
        urgent: false,
        documents: vec![pb::Document {
            kind: pb::DocumentKind::TransferLetter.into(),
            title: "案件移送函".into(),
            sha256: String::new(),
        }],
        parties: vec![pb::Party {
            name: "某化工厂".into(),
            id_number: String::new(),
        }],
        case_officer: "王五".into(),
        case_officer_phone: "0591-11111111".into(),
        previous_transfer_id: String::new(),
    }
}

#[tokio::test]
async fn every_transfer_refusal_names_its_problem_and_changes_nothing() {
    let app = spawn_app().await;
    let mut market = transfers_as(&app, MARKET_BUREAU).await;
    let mut environment = transfers_as(&app, ENVIRONMENT_BUREAU).await;
    let mut emergency = transfers_as(&app, EMERGENCY_BUREAU).await;
    let mut police = transfers_as(&app, CITY_POLICE).await;
    let id = market
        .send_transfer(sending("t-send"))
        .await
        .expect("a valid transfer is accepted")
        .into_inner()
        .transfer
        .expect("the transfer")
        .id;
    let receipt = |request_id: &str, transfer_id: &str| pb::SignTransferReceiptRequest {
        request_id: request_id.into(),
        transfer_id: transfer_id.into(),
    };
    let report = |outcome: String| pb::ReportOutcomeRequest {
        request_id: "t-report".into(),
        transfer_id: id.clone(),
        outcome,
        documents: Vec::new(),
    };

    assert_refused(
        market.sign_transfer_receipt(receipt("t-1", &id)).await,
        &Refusal {
            what: "the sender signs its own transfer's receipt",
            code: Code::PermissionDenied,
            says: "for the recipient",
            field: None,
        },
    );
    assert_refused(
        emergency.sign_transfer_receipt(receipt("t-2", &id)).await,
        &Refusal {
            what: "an outsider signs the receipt",
            code: Code::PermissionDenied,
            says: "not a party",
            field: None,
        },
    );
    assert_refused(
        police.send_transfer(sending("t-3")).await,
        &Refusal {
            what: "the police send an administrative transfer",
            code: Code::PermissionDenied,
            says: "administrative agency",
            field: None,
        },
    );
    assert_refused(
        environment.report_outcome(report("已处罚".into())).await,
        &Refusal {
            what: "an outcome before the case is opened",
            code: Code::FailedPrecondition,
            says: "allowed when accepted",
            field: None,
        },
    );
    let mut no_letter = sending("t-4");
    no_letter.documents.clear();
    assert_refused(
        market.send_transfer(no_letter).await,
        &Refusal {
            what: "a transfer without its letter",
            code: Code::InvalidArgument,
            says: "案件移送函",
            field: Some("documents"),
        },
    );
    assert_refused(
        environment
            .sign_transfer_receipt(receipt("t-5", &CaseId::generate().to_string()))
            .await,
        &Refusal {
            what: "a receipt for an unknown transfer",
            code: Code::NotFound,
            says: "no such case",
            field: None,
        },
    );
    assert_refused(
        emergency
            .get_transfer(pb::GetTransferRequest {
                transfer_id: id.clone(),
            })
            .await,
        &Refusal {
            what: "an outsider reads the transfer",
            code: Code::PermissionDenied,
            says: "not a party",
            field: None,
        },
    );
    let mut reused = sending("t-send");
    reused.summary = "另一案件".into();
    assert_refused(
        market.send_transfer(reused).await,
        &Refusal {
            what: "a request id reused for other content",
            code: Code::AlreadyExists,
            says: "already used",
            field: Some("request_id"),
        },
    );
    assert_refused(
        environment
            .object_to_transfer(pb::ObjectToTransferRequest {
                request_id: "t-6".into(),
                transfer_id: id.clone(),
                reasons: oversized(),
            })
            .await,
        &Refusal {
            what: "an oversized objection",
            code: Code::InvalidArgument,
            says: "at most 2000 characters",
            field: Some("reasons"),
        },
    );
    assert_refused(
        environment
            .sign_transfer_receipt(receipt("t-7", "abc"))
            .await,
        &Refusal {
            what: "a malformed transfer id",
            code: Code::InvalidArgument,
            says: "UUID",
            field: Some("transfer_id"),
        },
    );
    let mut bad_receiver = sending("t-8");
    bad_receiver.receiver = "11350100MB010000XX".into();
    assert_refused(
        market.send_transfer(bad_receiver).await,
        &Refusal {
            what: "a malformed receiver code",
            code: Code::InvalidArgument,
            says: "not a valid agency code",
            field: Some("receiver"),
        },
    );
    let mut to_police = sending("t-9");
    to_police.receiver = CITY_POLICE.into();
    assert_refused(
        market.send_transfer(to_police).await,
        &Refusal {
            what: "a transfer to a police organ",
            code: Code::InvalidArgument,
            says: "administrative",
            field: Some("receiver"),
        },
    );

    // Nothing changed: still version 1, and after a sentinel step the parties heard of the
    // submission and the sentinel only.
    let read = environment
        .get_transfer(pb::GetTransferRequest {
            transfer_id: id.clone(),
        })
        .await
        .expect("the receiver reads it")
        .into_inner();
    assert_eq!(read.version, 1);
    environment
        .sign_transfer_receipt(receipt("t-sentinel", &id))
        .await
        .expect("the receiver signs");
    assert_only_events(&app, MARKET_BUREAU, &id, &["receipt_signed"]).await;
    assert_only_events(&app, ENVIRONMENT_BUREAU, &id, &["sent"]).await;
    app.stop().await;
}

#[tokio::test]
async fn an_objection_opens_a_dispute_whose_designation_restarts_the_transfer() {
    let app = spawn_app().await;
    let mut market = transfers_as(&app, MARKET_BUREAU).await;
    let mut environment = transfers_as(&app, ENVIRONMENT_BUREAU).await;
    let id = market
        .send_transfer(sending("o-send"))
        .await
        .expect("sent")
        .into_inner()
        .transfer
        .expect("transfer")
        .id;
    environment
        .object_to_transfer(pb::ObjectToTransferRequest {
            request_id: "o-object".into(),
            transfer_id: id.clone(),
            reasons: "排污口在城市管理范围".into(),
        })
        .await
        .expect("the receiver objects");

    // The dispute opens by itself, between the objecting receiver and the sender.
    let mut disputes = DisputeServiceClient::new(app.channel_as(ENVIRONMENT_BUREAU).await);
    let dispute = testing::eventually("the dispute to open", PROMPTLY, || {
        let mut disputes = disputes.clone();
        async move {
            let page = disputes
                .list_disputes(pb::ListCasesRequest::default())
                .await
                .ok()?
                .into_inner();
            page.cases.first().map(|c| c.case_id.clone())
        }
    })
    .await;
    let read = disputes
        .get_dispute(pb::GetDisputeRequest {
            dispute_id: dispute.clone(),
        })
        .await
        .expect("read the dispute")
        .into_inner();
    assert_eq!(read.transfer_id, id);
    assert_eq!(read.sender, ENVIRONMENT_BUREAU);
    assert_eq!(read.respondent, MARKET_BUREAU);

    // The objector refers it; the common superior (the city government) accepts and designates.
    disputes
        .refer_dispute(pb::ReferDisputeRequest {
            request_id: "o-refer".into(),
            dispute_id: dispute.clone(),
            note: String::new(),
        })
        .await
        .expect("refer");
    let mut office = DisputeServiceClient::new(app.channel_as(CITY_GOVERNMENT).await);
    office
        .accept_dispute(pb::AcceptDisputeRequest {
            request_id: "o-accept".into(),
            dispute_id: dispute.clone(),
            note: String::new(),
        })
        .await
        .expect("accept");
    office
        .designate_agency(pb::DesignateAgencyRequest {
            request_id: "o-designate".into(),
            dispute_id: dispute.clone(),
            designated: ENVIRONMENT_BUREAU.into(),
            decision: "由生态环境局管辖".into(),
            documents: Vec::new(),
        })
        .await
        .expect("designate");

    // The transfer restarts to the designated receiver, which can no longer object.
    let restarted = testing::eventually("the transfer to restart", PROMPTLY, || {
        let mut environment = environment.clone();
        let id = id.clone();
        async move {
            let t = environment
                .get_transfer(pb::GetTransferRequest { transfer_id: id })
                .await
                .ok()?
                .into_inner();
            (t.status == i32::from(pb::TransferStatus::Sent)).then_some(t)
        }
    })
    .await;
    assert_eq!(restarted.designated_by, dispute);
    assert_eq!(restarted.office, CITY_GOVERNMENT);
    assert_refused(
        environment
            .object_to_transfer(pb::ObjectToTransferRequest {
                request_id: "o-object-again".into(),
                transfer_id: id.clone(),
                reasons: "仍不服".into(),
            })
            .await,
        &Refusal {
            what: "a designated receiver objects",
            code: Code::FailedPrecondition,
            says: "binds it",
            field: None,
        },
    );
    environment
        .accept_transfer(pb::AcceptTransferRequest {
            request_id: "o-accept-transfer".into(),
            transfer_id: id.clone(),
            case_number: "榕环罚立〔2026〕1号".into(),
            note: String::new(),
        })
        .await
        .expect("the designated receiver opens the case");
    app.stop().await;
}

/// Issue 13, item 8: a receiver declines to open a case (不予立案, S4 Arts 18, 20); its reasons
/// reach the sender, the decision answers SAMR-18, and the sender's contest opens a dispute it
/// raises against the receiver, whose designation binds the receiver to open the case.
#[tokio::test]
async fn a_contested_decline_opens_a_dispute_whose_designation_binds_the_receiver() {
    let app = spawn_app().await;
    let mut market = transfers_as(&app, MARKET_BUREAU).await;
    let mut environment = transfers_as(&app, ENVIRONMENT_BUREAU).await;
    let id = market
        .send_transfer(sending("d-send"))
        .await
        .expect("sent")
        .into_inner()
        .transfer
        .expect("transfer")
        .id;
    let decline = |request_id: &str, reasons: &str| pb::DeclineTransferRequest {
        request_id: request_id.into(),
        transfer_id: id.clone(),
        reasons: reasons.into(),
    };
    assert_refused(
        environment.decline_transfer(decline("d-blank", " ")).await,
        &Refusal {
            what: "a decline without reasons",
            code: Code::InvalidArgument,
            says: "must not be empty",
            field: Some("reasons"),
        },
    );
    assert_refused(
        market
            .decline_transfer(decline("d-sender", "不予立案"))
            .await,
        &Refusal {
            what: "the sender declines its own transfer",
            code: Code::PermissionDenied,
            says: "for the recipient",
            field: None,
        },
    );
    let declined = environment
        .decline_transfer(decline(
            "d-decline",
            "违法行为轻微并及时改正，没有造成危害后果",
        ))
        .await
        .expect("the receiver declines")
        .into_inner()
        .transfer
        .expect("transfer");
    assert_eq!(declined.status, i32::from(pb::TransferStatus::Declined));

    // The sender hears of it and reads the reasons on the transfer (办理情况反馈).
    assert_only_events(&app, MARKET_BUREAU, &id, &["declined"]).await;
    let read = market
        .get_transfer(pb::GetTransferRequest {
            transfer_id: id.clone(),
        })
        .await
        .expect("the sender reads it")
        .into_inner();
    assert_eq!(
        read.decline_reasons,
        "违法行为轻微并及时改正，没有造成危害后果"
    );
    // The decision was what SAMR-18 asked for: it is closed, on time.
    let deadlines = testing::eventually("SAMR-18 to close", PROMPTLY, || async {
        let obligations = case_deadlines_with(&app, MARKET_BUREAU, &id, "SAMR-18").await;
        obligations
            .iter()
            .any(|o| o.rule == "SAMR-18" && o.stage == "closed")
            .then_some(obligations)
    })
    .await;
    let samr_18 = deadlines
        .iter()
        .find(|o| o.rule == "SAMR-18")
        .expect("SAMR-18");
    assert!(!samr_18.late);

    // The sender contests it: a dispute opens, raised by the sender against the receiver.
    market
        .contest_decline(pb::ContestDeclineRequest {
            request_id: "d-contest".into(),
            transfer_id: id.clone(),
            reasons: "当事人一年内多次违法，不属轻微".into(),
        })
        .await
        .expect("the sender contests");
    let mut disputes = DisputeServiceClient::new(app.channel_as(MARKET_BUREAU).await);
    let dispute = testing::eventually("the dispute to open", PROMPTLY, || {
        let mut disputes = disputes.clone();
        async move {
            let page = disputes
                .list_disputes(pb::ListCasesRequest::default())
                .await
                .ok()?
                .into_inner();
            page.cases.first().map(|c| c.case_id.clone())
        }
    })
    .await;
    let read = disputes
        .get_dispute(pb::GetDisputeRequest {
            dispute_id: dispute.clone(),
        })
        .await
        .expect("read the dispute")
        .into_inner();
    assert_eq!(read.transfer_id, id);
    assert_eq!(read.sender, MARKET_BUREAU);
    assert_eq!(read.respondent, ENVIRONMENT_BUREAU);
    assert!(read.question.contains("不予立案"), "{}", read.question);

    // The sender refers it; the common superior accepts and designates the receiver.
    disputes
        .refer_dispute(pb::ReferDisputeRequest {
            request_id: "d-refer".into(),
            dispute_id: dispute.clone(),
            note: String::new(),
        })
        .await
        .expect("refer");
    let mut office = DisputeServiceClient::new(app.channel_as(CITY_GOVERNMENT).await);
    office
        .accept_dispute(pb::AcceptDisputeRequest {
            request_id: "d-accept".into(),
            dispute_id: dispute.clone(),
            note: String::new(),
        })
        .await
        .expect("accept");
    office
        .designate_agency(pb::DesignateAgencyRequest {
            request_id: "d-designate".into(),
            dispute_id: dispute.clone(),
            designated: ENVIRONMENT_BUREAU.into(),
            decision: "由生态环境局立案查处".into(),
            documents: Vec::new(),
        })
        .await
        .expect("designate");
    let restarted = testing::eventually("the transfer to restart", PROMPTLY, || {
        let mut environment = environment.clone();
        let id = id.clone();
        async move {
            let t = environment
                .get_transfer(pb::GetTransferRequest { transfer_id: id })
                .await
                .ok()?
                .into_inner();
            (t.status == i32::from(pb::TransferStatus::Sent)).then_some(t)
        }
    })
    .await;
    assert_eq!(restarted.designated_by, dispute);
    assert_refused(
        environment
            .decline_transfer(decline("d-decline-again", "仍不予立案"))
            .await,
        &Refusal {
            what: "a designated receiver declines again",
            code: Code::FailedPrecondition,
            says: "binds it",
            field: None,
        },
    );
    environment
        .accept_transfer(pb::AcceptTransferRequest {
            request_id: "d-accept-transfer".into(),
            transfer_id: id.clone(),
            case_number: "榕环罚立〔2026〕3号".into(),
            note: String::new(),
        })
        .await
        .expect("the designated receiver opens the case");
    app.stop().await;
}

/// Issue 13, item 9: an opened case is suspended with its reason and approval, and resumed; a
/// suspension without its approval, or of a case not yet opened, is refused.
#[tokio::test]
async fn an_opened_transfer_is_suspended_with_its_approval_and_resumed() {
    let app = spawn_app().await;
    let mut market = transfers_as(&app, MARKET_BUREAU).await;
    let mut environment = transfers_as(&app, ENVIRONMENT_BUREAU).await;
    let id = market
        .send_transfer(sending("s-send"))
        .await
        .expect("sent")
        .into_inner()
        .transfer
        .expect("transfer")
        .id;
    let suspend = |request_id: &str, approval: Option<pb::Document>| pb::SuspendTransferRequest {
        request_id: request_id.into(),
        transfer_id: id.clone(),
        reason: "需等待相关刑事案件判决".into(),
        approval,
    };
    let approval = || {
        Some(pb::Document {
            kind: pb::DocumentKind::Decision.into(),
            title: "中止审批表".into(),
            sha256: String::new(),
        })
    };
    assert_refused(
        environment
            .suspend_transfer(suspend("s-early", approval()))
            .await,
        &Refusal {
            what: "a suspension before the case is opened",
            code: Code::FailedPrecondition,
            says: "allowed when accepted",
            field: None,
        },
    );
    environment
        .accept_transfer(pb::AcceptTransferRequest {
            request_id: "s-accept".into(),
            transfer_id: id.clone(),
            case_number: String::new(),
            note: String::new(),
        })
        .await
        .expect("opened");
    assert_refused(
        environment.suspend_transfer(suspend("s-bare", None)).await,
        &Refusal {
            what: "a suspension without its approval",
            code: Code::InvalidArgument,
            says: "中止审批表",
            field: Some("approval"),
        },
    );
    let suspended = environment
        .suspend_transfer(suspend("s-suspend", approval()))
        .await
        .expect("suspended")
        .into_inner()
        .transfer
        .expect("transfer");
    assert_eq!(suspended.status, i32::from(pb::TransferStatus::Suspended));
    let on_record = suspended.suspension.expect("the suspension in force");
    assert_eq!(on_record.reason, "需等待相关刑事案件判决");
    assert_eq!(on_record.approval.expect("approval").title, "中止审批表");
    let resumed = environment
        .resume_transfer(pb::ResumeTransferRequest {
            request_id: "s-resume".into(),
            transfer_id: id.clone(),
            note: "刑事判决已生效".into(),
        })
        .await
        .expect("resumed")
        .into_inner()
        .transfer
        .expect("transfer");
    assert_eq!(resumed.status, i32::from(pb::TransferStatus::Accepted));
    assert!(resumed.suspension.is_none());
    let steps: Vec<&str> = resumed.history.iter().map(|h| h.step.as_str()).collect();
    assert_eq!(steps, ["send", "accept", "suspend", "resume"]);
    assert_only_events(
        &app,
        MARKET_BUREAU,
        &id,
        &["accepted", "suspended", "resumed"],
    )
    .await;
    app.stop().await;
}
