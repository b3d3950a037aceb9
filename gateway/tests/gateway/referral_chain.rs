//! The referral chain after the first decision, over the wire: refusals name their problem and
//! change nothing; a hand-back arrives at the agency as a case transfer.

use casebridge_proto::v1::transfer_service_client::TransferServiceClient;

use super::refusals::{Refusal, assert_only_events, assert_refused};
use super::*;

/// A referral from the market bureau, received and declined by the city police.
async fn declined_referral(app: &TestApp, prefix: &str) -> String {
    let id = submitted_referral(app, &format!("{prefix}-submit")).await;
    let mut police = app.referrals_as(CITY_POLICE).await;
    police
        .sign_receipt(pb::SignReceiptRequest {
            request_id: format!("{prefix}-receipt"),
            referral_id: id.clone(),
        })
        .await
        .expect("receipt");
    police
        .decide_filing(pb::DecideFilingRequest {
            request_id: format!("{prefix}-decline"),
            referral_id: id.clone(),
            decision: Some(pb::decide_filing_request::Decision::Decline(
                pb::DeclineToFile {
                    reasons: "证据不足".into(),
                },
            )),
        })
        .await
        .expect("decline");
    id
}

#[tokio::test]
async fn every_refusal_after_non_filing_names_its_problem_and_changes_nothing() {
    let app = spawn_app().await;
    let id = declined_referral(&app, "r").await;
    let mut market = app.referrals_as(MARKET_BUREAU).await;
    let mut police = app.referrals_as(CITY_POLICE).await;
    let mut procuratorate = app.referrals_as(PROCURATORATE).await;

    assert_refused(
        police
            .request_reasons(pb::RequestReasonsRequest {
                request_id: "r-1".into(),
                referral_id: id.clone(),
                note: String::new(),
            })
            .await,
        &Refusal {
            what: "the police ask themselves for reasons",
            code: Code::PermissionDenied,
            says: "for the procuratorate",
            field: None,
        },
    );
    assert_refused(
        procuratorate
            .notify_filing(pb::NotifyFilingRequest {
                request_id: "r-2".into(),
                referral_id: id.clone(),
                reasons: "理由不成立".into(),
            })
            .await,
        &Refusal {
            what: "a filing notice before the police gave reasons",
            code: Code::FailedPrecondition,
            says: "allowed when reasons_given",
            field: None,
        },
    );
    assert_refused(
        market
            .hand_over_items(pb::HandOverItemsRequest {
                request_id: "r-3".into(),
                referral_id: id.clone(),
                documents: Vec::new(),
                note: String::new(),
            })
            .await,
        &Refusal {
            what: "a hand-over of seized items to police that declined",
            code: Code::FailedPrecondition,
            says: "allowed when filed",
            field: None,
        },
    );
    assert_refused(
        police
            .decide_reconsideration(pb::DecideReconsiderationRequest {
                request_id: "r-4".into(),
                referral_id: id.clone(),
                outcome: pb::ReconsiderationOutcome::Unspecified.into(),
                reasons: "x".into(),
            })
            .await,
        &Refusal {
            what: "a reconsideration decision without an outcome",
            code: Code::InvalidArgument,
            says: "outcome is required",
            field: Some("outcome"),
        },
    );
    assert_refused(
        police
            .withdraw_case(pb::WithdrawCaseRequest {
                request_id: "r-5".into(),
                referral_id: id.clone(),
                reasons: "x".into(),
                decided_at: None,
            })
            .await,
        &Refusal {
            what: "a withdrawal without its date",
            code: Code::InvalidArgument,
            says: "decided_at is required",
            field: Some("decided_at"),
        },
    );
    assert_refused(
        police
            .hand_back_referral(pb::HandBackReferralRequest {
                request_id: "r-6".into(),
                referral_id: id.clone(),
                to_agency: DISTRICT_POLICE.into(),
                reasons: "x".into(),
                documents: Vec::new(),
            })
            .await,
        &Refusal {
            what: "a hand-back to a police organ",
            code: Code::InvalidArgument,
            says: "administrative",
            field: Some("to_agency"),
        },
    );

    // The agency suggests supervision; the sentinel proves nothing else reached anyone.
    market
        .suggest_supervision(pb::SuggestSupervisionRequest {
            request_id: "r-sentinel".into(),
            referral_id: id.clone(),
            reasons: "建议立案监督".into(),
        })
        .await
        .expect("supervision suggested");
    assert_only_events(
        &app,
        PROCURATORATE,
        &id,
        &[
            "submitted",
            "receipt_signed",
            "declined",
            "supervision_suggested",
        ],
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_referral_handed_back_arrives_at_the_agency_as_a_case_transfer() {
    let app = spawn_app().await;
    let id = declined_referral(&app, "h").await;
    app.referrals_as(CITY_POLICE)
        .await
        .hand_back_referral(pb::HandBackReferralRequest {
            request_id: "h-back".into(),
            referral_id: id.clone(),
            to_agency: String::new(),
            reasons: "不构成犯罪但应予行政处罚".into(),
            documents: Vec::new(),
        })
        .await
        .expect("handed back");
    let mut transfers = TransferServiceClient::new(app.channel_as(MARKET_BUREAU).await);
    let transfer = testing::eventually("the hand-back to arrive as a transfer", PROMPTLY, || {
        let mut transfers = transfers.clone();
        async move {
            let page = transfers
                .list_transfers(pb::ListCasesRequest::default())
                .await
                .ok()?
                .into_inner();
            page.cases.first().map(|c| c.case_id.clone())
        }
    })
    .await;
    let read = transfers
        .get_transfer(pb::GetTransferRequest {
            transfer_id: transfer,
        })
        .await
        .expect("the agency reads it")
        .into_inner();
    assert_eq!(read.sender, CITY_POLICE);
    assert_eq!(read.receiver, MARKET_BUREAU);
    assert_eq!(read.from_referral, id);
    assert_eq!(
        read.documents.len(),
        3,
        "the referral's package goes with it"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_refusal_before_the_decision_names_its_problem_and_changes_nothing() {
    let app = spawn_app().await;
    let id = submitted_referral(&app, "e-submit").await;
    let mut market = app.referrals_as(MARKET_BUREAU).await;
    let mut police = app.referrals_as(CITY_POLICE).await;
    let receipt = |request_id: &str, referral_id: &str| pb::SignReceiptRequest {
        request_id: request_id.into(),
        referral_id: referral_id.into(),
    };
    // A case of another family: a transfer's id is no referral.
    let transfer = TransferServiceClient::new(app.channel_as(MARKET_BUREAU).await)
        .send_transfer(super::transfers::sending("e-transfer"))
        .await
        .expect("a transfer")
        .into_inner()
        .transfer
        .expect("the transfer")
        .id;

    assert_refused(
        market.sign_receipt(receipt("e-1", &id)).await,
        &Refusal {
            what: "the sender signs the police's receipt",
            code: Code::PermissionDenied,
            says: "AUTH-ADDRESSEE",
            field: None,
        },
    );
    assert_refused(
        police
            .decide_filing(pb::DecideFilingRequest {
                request_id: "e-2".into(),
                referral_id: id.clone(),
                decision: Some(pb::decide_filing_request::Decision::File(pb::FileCase {
                    note: String::new(),
                })),
            })
            .await,
        &Refusal {
            what: "a decision before the receipt",
            code: Code::FailedPrecondition,
            says: "not allowed while the case is submitted",
            field: None,
        },
    );
    let mut without_items = submission("e-3");
    without_items
        .documents
        .retain(|d| d.kind != i32::from(pb::DocumentKind::SeizedItemsList));
    assert_refused(
        market.submit_referral(without_items).await,
        &Refusal {
            what: "a package without the seized-items list",
            code: Code::InvalidArgument,
            says: "S1-6 requires",
            field: None,
        },
    );
    assert_refused(
        police
            .sign_receipt(receipt("e-4", &CaseId::generate().to_string()))
            .await,
        &Refusal {
            what: "a receipt for an unknown referral",
            code: Code::NotFound,
            says: "no such case exists",
            field: None,
        },
    );
    assert_refused(
        police.sign_receipt(receipt("e-5", &transfer)).await,
        &Refusal {
            what: "a receipt for a case of another family",
            code: Code::NotFound,
            says: "no such case exists",
            field: None,
        },
    );
    let mut reused = submission("e-submit");
    reused.suspected_offence = "生产、销售有毒、有害食品罪".into();
    assert_refused(
        market.submit_referral(reused).await,
        &Refusal {
            what: "a request id reused for other content",
            code: Code::AlreadyExists,
            says: "was already used by this agency for a different request",
            field: Some("request_id"),
        },
    );
    let mut oversized = submission("e-7");
    oversized.summary = super::refusals::oversized();
    assert_refused(
        market.submit_referral(oversized).await,
        &Refusal {
            what: "an oversized summary",
            code: Code::InvalidArgument,
            says: "at most 2000 characters",
            field: Some("summary"),
        },
    );
    // Issue 12, D8: a time in year 0001 was accepted (one moved a filed referral).
    let mut ancient = submission("e-ancient");
    ancient.report_received_at = Some(prost_types::Timestamp {
        seconds: -62_135_596_800,
        nanos: 0,
    });
    assert_refused(
        market.submit_referral(ancient).await,
        &Refusal {
            what: "a report received in year 0001",
            code: Code::InvalidArgument,
            says: "times are accepted from 2001",
            field: Some("report_received_at"),
        },
    );
    // Issue 12, D5: control characters reached officers' terminals raw.
    for (n, (field, value)) in [
        ("summary", "\u{1b}[2J\u{1b}[H已清屏"),
        ("suspected_offence", "销售伪劣产品罪\u{0}"),
        ("summary", "响铃\u{7}"),
        ("documents[0].title", "移送书\u{7f}"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut request = submission(&format!("e-control-{n}"));
        match field {
            "summary" => request.summary = value.into(),
            "suspected_offence" => request.suspected_offence = value.into(),
            _ => request.documents[0].title = value.into(),
        }
        assert_refused(
            market.submit_referral(request).await,
            &Refusal {
                what: "a control character in free text",
                code: Code::InvalidArgument,
                says: "must not contain the control character",
                field: Some(field),
            },
        );
    }
    assert_refused(
        police.sign_receipt(receipt("e-8", "not-a-uuid")).await,
        &Refusal {
            what: "a malformed referral id",
            code: Code::InvalidArgument,
            says: "referral_id must be a UUID",
            field: Some("referral_id"),
        },
    );

    // Nothing changed: the copied procuratorate has heard only of the submission and then the
    // sentinel, and the referral is at version 2.
    police
        .sign_receipt(receipt("e-sentinel", &id))
        .await
        .expect("the receipt is signed");
    assert_only_events(&app, PROCURATORATE, &id, &["submitted", "receipt_signed"]).await;
    let referral = police
        .get_referral(pb::GetReferralRequest {
            referral_id: id.clone(),
        })
        .await
        .expect("read")
        .into_inner();
    assert_eq!(referral.version, 2, "only the sentinel step was taken");
    app.stop().await;
}
