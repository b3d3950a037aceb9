//! Every family end to end through the real binary, on the embedded default and as separate
//! processes on RabbitMQ and PostgreSQL: the main path of transfers, disputes and expert
//! opinions, and the contested paths that cross families — an objection that becomes a dispute
//! whose designation restarts the transfer, a decision not to open a case that the sender
//! contests into a dispute, and a non-filing taken through reconsideration and procuratorate
//! supervision to filing.

use std::time::Duration;

use casebridge_platform::testing::eventually;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::deadline_service_client::DeadlineServiceClient;
use casebridge_tests::agencies::*;
use casebridge_tests::{System, submission, transfer_sending};

const WAIT: Duration = Duration::from_secs(20);

/// Waits until `agency` has heard exactly `expected` about `case_id`.
async fn heard(system: &System, agency: &str, case_id: &str, expected: &[&str]) {
    let got = eventually(
        &format!("{agency} to hear {expected:?} about {case_id}"),
        WAIT,
        || async {
            let got = system.events_about(agency, case_id).await.ok()?;
            (got.len() >= expected.len()).then_some(got)
        },
    )
    .await;
    assert_eq!(got, expected, "{agency} about {case_id}");
}

async fn a_transfer_is_received_accepted_and_reported_back(system: &System) -> anyhow::Result<()> {
    let mut sender = system.transfers(MARKET_BUREAU).await?;
    let mut receiver = system.transfers(ENVIRONMENT_BUREAU).await?;
    let id = sender
        .send_transfer(transfer_sending("f-send"))
        .await?
        .into_inner()
        .transfer
        .expect("transfer")
        .id;
    receiver
        .sign_transfer_receipt(pb::SignTransferReceiptRequest {
            request_id: "f-receipt".into(),
            transfer_id: id.clone(),
        })
        .await?;
    receiver
        .accept_transfer(pb::AcceptTransferRequest {
            request_id: "f-accept".into(),
            transfer_id: id.clone(),
            case_number: "榕环罚立〔2026〕7号".into(),
            note: String::new(),
        })
        .await?;
    let reported = receiver
        .report_outcome(pb::ReportOutcomeRequest {
            request_id: "f-report".into(),
            transfer_id: id.clone(),
            outcome: "已作出罚款二十万元的行政处罚".into(),
            documents: Vec::new(),
        })
        .await?
        .into_inner()
        .transfer
        .expect("transfer");
    assert_eq!(
        reported.status,
        i32::from(pb::TransferStatus::OutcomeReported)
    );
    heard(
        system,
        MARKET_BUREAU,
        &id,
        &["receipt_signed", "accepted", "outcome_reported"],
    )
    .await;
    heard(system, ENVIRONMENT_BUREAU, &id, &["sent"]).await;
    Ok(())
}

async fn a_dispute_is_ruled_on_by_the_common_superior(system: &System) -> anyhow::Result<()> {
    let mut raiser = system.disputes(MARKET_BUREAU).await?;
    let mut other = system.disputes(ENVIRONMENT_BUREAU).await?;
    let mut office = system.disputes(CITY_GOVERNMENT).await?;
    let id = raiser
        .raise_dispute(pb::RaiseDisputeRequest {
            request_id: "d-raise".into(),
            respondent: ENVIRONMENT_BUREAU.into(),
            question: "河道排污案由哪个部门管辖".into(),
            position: "排污属生态环境部门职责".into(),
            transfer_id: String::new(),
            documents: Vec::new(),
        })
        .await?
        .into_inner()
        .dispute
        .expect("dispute")
        .id;
    raiser
        .refer_dispute(pb::ReferDisputeRequest {
            request_id: "d-refer".into(),
            dispute_id: id.clone(),
            note: "协商未果".into(),
        })
        .await?;
    heard(system, CITY_GOVERNMENT, &id, &["referred"]).await;
    office
        .accept_dispute(pb::AcceptDisputeRequest {
            request_id: "d-accept".into(),
            dispute_id: id.clone(),
            note: String::new(),
        })
        .await?;
    other
        .reply_to_dispute(pb::ReplyToDisputeRequest {
            request_id: "d-reply".into(),
            dispute_id: id.clone(),
            position: "排口位于城市管理范围".into(),
            documents: Vec::new(),
        })
        .await?;
    let designated = office
        .designate_agency(pb::DesignateAgencyRequest {
            request_id: "d-designate".into(),
            dispute_id: id.clone(),
            designated: ENVIRONMENT_BUREAU.into(),
            decision: "指定由生态环境局管辖".into(),
            documents: Vec::new(),
        })
        .await?
        .into_inner()
        .dispute
        .expect("dispute");
    assert_eq!(designated.competent, ENVIRONMENT_BUREAU);
    heard(
        system,
        ENVIRONMENT_BUREAU,
        &id,
        &["raised", "referred", "accepted", "designated"],
    )
    .await;
    Ok(())
}

async fn an_opinion_is_asked_supplemented_and_delivered(system: &System) -> anyhow::Result<()> {
    let mut requester = system.opinions(MARKET_BUREAU).await?;
    let mut lab = system.opinions(TESTING_INSTITUTE).await?;
    let id = requester
        .request_opinion(pb::RequestOpinionRequest {
            request_id: "o-request".into(),
            expert: TESTING_INSTITUTE.into(),
            kind: pb::OpinionKind::Test.into(),
            question: "涉案电线是否符合国家标准".into(),
            documents: Vec::new(),
            under_case_id: String::new(),
        })
        .await?
        .into_inner()
        .opinion
        .expect("request")
        .id;
    lab.accept_opinion_request(pb::AcceptOpinionRequestRequest {
        request_id: "o-accept".into(),
        opinion_id: id.clone(),
        note: String::new(),
    })
    .await?;
    lab.request_material(pb::RequestMaterialRequest {
        request_id: "o-material".into(),
        opinion_id: id.clone(),
        needed: "同批次样品两件".into(),
    })
    .await?;
    requester
        .supply_material(pb::SupplyMaterialRequest {
            request_id: "o-supply".into(),
            opinion_id: id.clone(),
            documents: vec![pb::Document {
                kind: pb::DocumentKind::Evidence.into(),
                title: "补充样品清单".into(),
                sha256: String::new(),
            }],
            note: String::new(),
        })
        .await?;
    let delivered = lab
        .deliver_opinion(pb::DeliverOpinionRequest {
            request_id: "o-deliver".into(),
            opinion_id: id.clone(),
            opinion: Some(pb::Opinion {
                finding: pb::OpinionFinding::Negative.into(),
                conclusion: "不符合GB/T 5023标准".into(),
                basis: "导体电阻超标".into(),
                documents: Vec::new(),
            }),
        })
        .await?
        .into_inner()
        .opinion
        .expect("request");
    assert_eq!(delivered.status, i32::from(pb::OpinionStatus::Delivered));
    heard(
        system,
        MARKET_BUREAU,
        &id,
        &["accepted", "material_requested", "delivered"],
    )
    .await;
    Ok(())
}

async fn an_objection_is_designated_and_the_transfer_restarts(
    system: &System,
) -> anyhow::Result<()> {
    let mut sender = system.transfers(MARKET_BUREAU).await?;
    let mut receiver = system.transfers(ENVIRONMENT_BUREAU).await?;
    let id = sender
        .send_transfer(transfer_sending("c-send"))
        .await?
        .into_inner()
        .transfer
        .expect("transfer")
        .id;
    receiver
        .object_to_transfer(pb::ObjectToTransferRequest {
            request_id: "c-object".into(),
            transfer_id: id.clone(),
            reasons: "排污口位于城市管理范围".into(),
        })
        .await?;
    // The objection opened a dispute: the receiver finds it on its desk.
    let mut disputes = system.disputes(ENVIRONMENT_BUREAU).await?;
    let dispute = eventually("the objection to open a dispute", WAIT, || async {
        let mut disputes = disputes.clone();
        let page = disputes
            .list_disputes(pb::ListCasesRequest {
                status: "negotiating".into(),
                ..Default::default()
            })
            .await
            .ok()?
            .into_inner();
        page.cases
            .into_iter()
            .map(|c| c.case_id)
            .find(|c| !c.is_empty())
    })
    .await;
    disputes
        .refer_dispute(pb::ReferDisputeRequest {
            request_id: "c-refer".into(),
            dispute_id: dispute.clone(),
            note: String::new(),
        })
        .await?;
    let mut office = system.disputes(CITY_GOVERNMENT).await?;
    office
        .accept_dispute(pb::AcceptDisputeRequest {
            request_id: "c-accept".into(),
            dispute_id: dispute.clone(),
            note: String::new(),
        })
        .await?;
    office
        .designate_agency(pb::DesignateAgencyRequest {
            request_id: "c-designate".into(),
            dispute_id: dispute.clone(),
            designated: ENVIRONMENT_BUREAU.into(),
            decision: "仍由生态环境局管辖".into(),
            documents: Vec::new(),
        })
        .await?;
    // The transfer restarted to the designated agency, bound to open the case.
    heard(system, ENVIRONMENT_BUREAU, &id, &["sent", "sent"]).await;
    let restarted = receiver
        .get_transfer(pb::GetTransferRequest {
            transfer_id: id.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(restarted.designated_by, dispute);
    receiver
        .accept_transfer(pb::AcceptTransferRequest {
            request_id: "c-accept-transfer".into(),
            transfer_id: id.clone(),
            case_number: String::new(),
            note: String::new(),
        })
        .await?;
    // The timeline shows every step with its actor.
    let timeline = system
        .cases(MARKET_BUREAU)
        .await?
        .get_timeline(pb::GetTimelineRequest {
            case_id: id.clone(),
        })
        .await?
        .into_inner();
    let steps: Vec<String> = timeline
        .steps
        .iter()
        .filter_map(|s| s.entry.as_ref().map(|e| e.step.clone()))
        .collect();
    assert_eq!(steps, ["send", "object", "restart", "accept"]);
    Ok(())
}

/// Issue 13, item 8: the receiver decides not to open a case (不予立案, S4 Arts 18, 20); the
/// sender hears of it and reads the reasons, the decision answers SAMR-18, and the sender's
/// contest opens a dispute raised by the sender, whose designation binds the receiver.
async fn a_contested_decline_is_designated_and_the_receiver_opens_the_case(
    system: &System,
) -> anyhow::Result<()> {
    let mut sender = system.transfers(MARKET_BUREAU).await?;
    let mut receiver = system.transfers(ENVIRONMENT_BUREAU).await?;
    let id = sender
        .send_transfer(transfer_sending("x-send"))
        .await?
        .into_inner()
        .transfer
        .expect("transfer")
        .id;
    receiver
        .decline_transfer(pb::DeclineTransferRequest {
            request_id: "x-decline".into(),
            transfer_id: id.clone(),
            reasons: "违法行为轻微并及时改正，没有造成危害后果".into(),
        })
        .await?;
    heard(system, MARKET_BUREAU, &id, &["declined"]).await;
    let read = sender
        .get_transfer(pb::GetTransferRequest {
            transfer_id: id.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(read.status, i32::from(pb::TransferStatus::Declined));
    assert_eq!(
        read.decline_reasons,
        "违法行为轻微并及时改正，没有造成危害后果"
    );
    // The decision is the one SAMR-18 asks for: closed on time, with the receipt (RCPT-F).
    let deadlines = DeadlineServiceClient::new(system.channel(MARKET_BUREAU).await?);
    let answered = eventually("SAMR-18 and RCPT-F to close", WAIT, || {
        let mut deadlines = deadlines.clone();
        let id = id.clone();
        async move {
            let obligations = deadlines
                .list_case_deadlines(pb::ListCaseDeadlinesRequest { case_id: id })
                .await
                .ok()?
                .into_inner()
                .obligations;
            let closed = |rule: &str| {
                obligations
                    .iter()
                    .any(|o| o.rule == rule && o.stage == "closed" && !o.late)
            };
            (closed("SAMR-18") && closed("RCPT-F")).then_some(obligations)
        }
    })
    .await;
    assert!(answered.iter().all(|o| o.stage == "closed"), "{answered:?}");

    sender
        .contest_decline(pb::ContestDeclineRequest {
            request_id: "x-contest".into(),
            transfer_id: id.clone(),
            reasons: "当事人一年内多次违法，不属轻微".into(),
        })
        .await?;
    // The contest opened a dispute on the sender's desk, raised by the sender.
    let mut disputes = system.disputes(MARKET_BUREAU).await?;
    let dispute = eventually("the contest to open a dispute", WAIT, || async {
        let mut disputes = disputes.clone();
        let page = disputes
            .list_disputes(pb::ListCasesRequest {
                status: "negotiating".into(),
                ..Default::default()
            })
            .await
            .ok()?
            .into_inner();
        for case in page.cases {
            let d = disputes
                .get_dispute(pb::GetDisputeRequest {
                    dispute_id: case.case_id,
                })
                .await
                .ok()?
                .into_inner();
            if d.transfer_id == id {
                return Some(d);
            }
        }
        None
    })
    .await;
    assert_eq!(dispute.sender, MARKET_BUREAU);
    assert_eq!(dispute.respondent, ENVIRONMENT_BUREAU);
    disputes
        .refer_dispute(pb::ReferDisputeRequest {
            request_id: "x-refer".into(),
            dispute_id: dispute.id.clone(),
            note: String::new(),
        })
        .await?;
    let mut office = system.disputes(CITY_GOVERNMENT).await?;
    office
        .accept_dispute(pb::AcceptDisputeRequest {
            request_id: "x-accept".into(),
            dispute_id: dispute.id.clone(),
            note: String::new(),
        })
        .await?;
    office
        .designate_agency(pb::DesignateAgencyRequest {
            request_id: "x-designate".into(),
            dispute_id: dispute.id.clone(),
            designated: ENVIRONMENT_BUREAU.into(),
            decision: "由生态环境局立案查处".into(),
            documents: Vec::new(),
        })
        .await?;
    heard(
        system,
        ENVIRONMENT_BUREAU,
        &id,
        &["sent", "decline_contested", "sent"],
    )
    .await;
    let refused = receiver
        .decline_transfer(pb::DeclineTransferRequest {
            request_id: "x-decline-again".into(),
            transfer_id: id.clone(),
            reasons: "仍不予立案".into(),
        })
        .await
        .expect_err("a designated receiver may not decline");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    receiver
        .accept_transfer(pb::AcceptTransferRequest {
            request_id: "x-accept-transfer".into(),
            transfer_id: id.clone(),
            case_number: String::new(),
            note: String::new(),
        })
        .await?;
    Ok(())
}

async fn non_filing_goes_through_reconsideration_and_supervision_to_filing(
    system: &System,
) -> anyhow::Result<()> {
    let mut agency = system.referrals(MARKET_BUREAU).await?;
    let mut police = system.referrals(CITY_POLICE).await?;
    let mut procuratorate = system.referrals(PROCURATORATE).await?;
    let id = agency
        .submit_referral(submission("s-submit"))
        .await?
        .into_inner()
        .referral
        .expect("referral")
        .id;
    police
        .sign_receipt(pb::SignReceiptRequest {
            request_id: "s-receipt".into(),
            referral_id: id.clone(),
        })
        .await?;
    police
        .decide_filing(pb::DecideFilingRequest {
            request_id: "s-decline".into(),
            referral_id: id.clone(),
            decision: Some(pb::decide_filing_request::Decision::Decline(
                pb::DeclineToFile {
                    reasons: "证据不足".into(),
                },
            )),
        })
        .await?;
    agency
        .request_reconsideration(pb::RequestReconsiderationRequest {
            request_id: "s-reconsider".into(),
            referral_id: id.clone(),
            reasons: "检验报告证明货值已达追诉标准".into(),
        })
        .await?;
    police
        .decide_reconsideration(pb::DecideReconsiderationRequest {
            request_id: "s-uphold".into(),
            referral_id: id.clone(),
            outcome: pb::ReconsiderationOutcome::Uphold.into(),
            reasons: "维持不予立案".into(),
        })
        .await?;
    agency
        .suggest_supervision(pb::SuggestSupervisionRequest {
            request_id: "s-suggest".into(),
            referral_id: id.clone(),
            reasons: "建议立案监督".into(),
        })
        .await?;
    procuratorate
        .request_reasons(pb::RequestReasonsRequest {
            request_id: "s-reasons".into(),
            referral_id: id.clone(),
            note: String::new(),
        })
        .await?;
    police
        .give_reasons(pb::GiveReasonsRequest {
            request_id: "s-give".into(),
            referral_id: id.clone(),
            reasons: "证据不足".into(),
        })
        .await?;
    procuratorate
        .notify_filing(pb::NotifyFilingRequest {
            request_id: "s-notify".into(),
            referral_id: id.clone(),
            reasons: "不立案理由不成立".into(),
        })
        .await?;
    let filed = police
        .decide_filing(pb::DecideFilingRequest {
            request_id: "s-file".into(),
            referral_id: id.clone(),
            decision: Some(pb::decide_filing_request::Decision::File(pb::FileCase {
                note: "依检察院通知立案".into(),
            })),
        })
        .await?
        .into_inner()
        .referral
        .expect("referral");
    assert_eq!(filed.status, i32::from(pb::ReferralStatus::Filed));
    assert!(filed.reconsidered);
    heard(
        system,
        MARKET_BUREAU,
        &id,
        &[
            "receipt_signed",
            "declined",
            "reconsideration_decided",
            "reasons_requested",
            "reasons_given",
            "filing_notified",
            "filed",
        ],
    )
    .await;
    Ok(())
}

/// After all that, every service's chain verifies, and a receipt saved as JSON checks offline
/// with the operator's public key — and fails once changed.
async fn the_record_verifies_and_receipts_check_offline(system: &System) -> anyhow::Result<()> {
    let verified = system.cli(&["ledger", "verify"]).await?;
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "ledger verify failed: {stdout}{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    for service in ["referrals", "transfers", "disputes", "opinions"] {
        assert!(stdout.contains(&format!("{service}: ok")), "{stdout}");
    }

    let result = system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(submission("r-receipt"))
        .await?
        .into_inner();
    let receipt = result.receipt.expect("a receipt");
    let at = receipt.accepted_at.as_ref().expect("accepted_at");
    let json = serde_json::json!({
        "service": receipt.service,
        "case_id": receipt.case_id,
        "step": receipt.step,
        "actor": receipt.actor,
        "request_id": receipt.request_id,
        "content_digest": receipt.content_digest,
        "accepted_at": at.seconds * 1000 + i64::from(at.nanos) / 1_000_000,
        "first_seq": receipt.first_seq,
        "last_seq": receipt.last_seq,
        "chain_hash": receipt.chain_hash,
        "key_id": receipt.key_id,
        "signature": receipt.signature,
    });
    let file = system.data_dir().join("receipt.json");
    let key = system.data_dir().join("ledger").join("operator.pub");
    let check = |json: serde_json::Value| {
        let file = file.clone();
        let key = key.clone();
        async move {
            std::fs::write(&file, json.to_string())?;
            system
                .cli(&[
                    "ledger",
                    "verify-receipt",
                    &file.display().to_string(),
                    "--key",
                    &key.display().to_string(),
                ])
                .await
        }
    };
    let genuine = check(json.clone()).await?;
    assert!(
        genuine.status.success() && String::from_utf8_lossy(&genuine.stdout).contains("genuine"),
        "{}{}",
        String::from_utf8_lossy(&genuine.stdout),
        String::from_utf8_lossy(&genuine.stderr)
    );
    // Without --key, the key beside the data directory's operator key (issue 15: the data-dir
    // setting was ignored).
    let by_data_dir = system
        .cli(&[
            "ledger",
            "verify-receipt",
            &file.display().to_string(),
            "--data-dir",
            &system.data_dir().display().to_string(),
        ])
        .await?;
    assert!(
        by_data_dir.status.success(),
        "{}",
        String::from_utf8_lossy(&by_data_dir.stderr)
    );
    let mut forged = json;
    forged["step"] = "decline".into();
    let refused = check(forged).await?;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("NOT genuine"));
    Ok(())
}

async fn every_family(system: &System) -> anyhow::Result<()> {
    a_transfer_is_received_accepted_and_reported_back(system).await?;
    a_dispute_is_ruled_on_by_the_common_superior(system).await?;
    an_opinion_is_asked_supplemented_and_delivered(system).await?;
    an_objection_is_designated_and_the_transfer_restarts(system).await?;
    a_contested_decline_is_designated_and_the_receiver_opens_the_case(system).await?;
    non_filing_goes_through_reconsideration_and_supervision_to_filing(system).await?;
    the_record_verifies_and_receipts_check_offline(system).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_runs_its_main_and_contested_paths_on_the_embedded_default()
-> anyhow::Result<()> {
    let system = System::embedded().await?;
    every_family(&system).await?;
    system.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_runs_its_main_and_contested_paths_on_rabbitmq_and_postgres()
-> anyhow::Result<()> {
    let system = System::distributed().await?;
    every_family(&system).await?;
    system.stop().await
}
