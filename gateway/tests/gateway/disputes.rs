//! Jurisdiction disputes over the wire: every kind of refusal, and that none changes anything.

use casebridge_proto::v1::dispute_service_client::DisputeServiceClient;
use casebridge_proto::v1::transfer_service_client::TransferServiceClient;

use super::refusals::{Refusal, assert_only_events, assert_refused, oversized};
use super::*;

pub(crate) async fn disputes_as(app: &TestApp, agency: &str) -> DisputeServiceClient<Channel> {
    DisputeServiceClient::new(app.channel_as(agency).await)
}

pub(crate) fn raising(request_id: &str) -> pb::RaiseDisputeRequest {
    pb::RaiseDisputeRequest {
        request_id: request_id.into(),
        respondent: ENVIRONMENT_BUREAU.into(),
        question: "河道排污案由哪个部门管辖".into(),
        position: "排污属生态环境部门职责".into(),
        transfer_id: String::new(),
        documents: Vec::new(),
    }
}

#[tokio::test]
async fn every_dispute_refusal_names_its_problem_and_changes_nothing() {
    let app = spawn_app().await;
    let mut market = disputes_as(&app, MARKET_BUREAU).await;
    let mut environment = disputes_as(&app, ENVIRONMENT_BUREAU).await;
    let mut government = disputes_as(&app, CITY_GOVERNMENT).await;
    let mut justice = disputes_as(&app, JUSTICE_BUREAU).await;
    let id = market
        .raise_dispute(raising("d-raise"))
        .await
        .expect("a valid dispute is raised")
        .into_inner()
        .dispute
        .expect("the dispute")
        .id;
    let accept = |request_id: &str, dispute_id: &str| pb::AcceptDisputeRequest {
        request_id: request_id.into(),
        dispute_id: dispute_id.into(),
        note: String::new(),
    };

    assert_refused(
        disputes_as(&app, CITY_POLICE)
            .await
            .raise_dispute(raising("d-1"))
            .await,
        &Refusal {
            what: "the police raise an administrative dispute",
            code: Code::PermissionDenied,
            says: "administrative agency",
            field: None,
        },
    );
    assert_refused(
        government.accept_dispute(accept("d-2", &id)).await,
        &Refusal {
            what: "the office accepts before the dispute is referred to it",
            code: Code::PermissionDenied,
            says: "not a party",
            field: None,
        },
    );
    assert_refused(
        market
            .designate_agency(pb::DesignateAgencyRequest {
                request_id: "d-3".into(),
                dispute_id: id.clone(),
                designated: MARKET_BUREAU.into(),
                decision: "由我局管辖".into(),
                documents: Vec::new(),
            })
            .await,
        &Refusal {
            what: "a party designates itself",
            code: Code::PermissionDenied,
            says: "coordination",
            field: None,
        },
    );
    assert_refused(
        environment
            .reply_to_dispute(pb::ReplyToDisputeRequest {
                request_id: "d-4".into(),
                dispute_id: id.clone(),
                position: "x".into(),
                documents: Vec::new(),
            })
            .await,
        &Refusal {
            what: "a reply before the office accepted",
            code: Code::FailedPrecondition,
            says: "allowed when accepted",
            field: None,
        },
    );
    assert_refused(
        market
            .record_minutes(pb::RecordMinutesRequest {
                request_id: "d-5".into(),
                dispute_id: id.clone(),
                competent: EMERGENCY_BUREAU.into(),
                minutes: "协商一致".into(),
                documents: Vec::new(),
            })
            .await,
        &Refusal {
            what: "minutes naming a third agency",
            code: Code::InvalidArgument,
            says: "one of the two parties",
            field: Some("competent"),
        },
    );
    assert_refused(
        environment
            .refer_dispute(pb::ReferDisputeRequest {
                request_id: "d-6".into(),
                dispute_id: CaseId::generate().to_string(),
                note: String::new(),
            })
            .await,
        &Refusal {
            what: "a referral of an unknown dispute",
            code: Code::NotFound,
            says: "no such case",
            field: None,
        },
    );
    assert_refused(
        justice
            .get_dispute(pb::GetDisputeRequest {
                dispute_id: id.clone(),
            })
            .await,
        &Refusal {
            what: "an outsider reads the dispute",
            code: Code::PermissionDenied,
            says: "not a party",
            field: None,
        },
    );
    let mut reused = raising("d-raise");
    reused.question = "另一问题".into();
    assert_refused(
        market.raise_dispute(reused).await,
        &Refusal {
            what: "a request id reused for other content",
            code: Code::AlreadyExists,
            says: "already used",
            field: Some("request_id"),
        },
    );
    let mut long = raising("d-7");
    long.position = oversized();
    assert_refused(
        market.raise_dispute(long).await,
        &Refusal {
            what: "an oversized position",
            code: Code::InvalidArgument,
            says: "at most 2000 characters",
            field: Some("position"),
        },
    );
    let mut malformed = raising("d-8");
    malformed.transfer_id = "transfer-1".into();
    assert_refused(
        market.raise_dispute(malformed).await,
        &Refusal {
            what: "a malformed transfer id",
            code: Code::InvalidArgument,
            says: "UUID",
            field: Some("transfer_id"),
        },
    );
    assert_refused(
        justice
            .designate_directly(pb::DesignateDirectlyRequest {
                request_id: "d-9".into(),
                parties: vec![MARKET_BUREAU.into(), ENVIRONMENT_BUREAU.into()],
                question: "q".into(),
                designated: ENVIRONMENT_BUREAU.into(),
                decision: "d".into(),
                transfer_id: String::new(),
                documents: Vec::new(),
            })
            .await,
        &Refusal {
            what: "a direct designation by an office that does not rule on these agencies",
            code: Code::FailedPrecondition,
            says: "福州市人民政府",
            field: None,
        },
    );

    let read = market
        .get_dispute(pb::GetDisputeRequest {
            dispute_id: id.clone(),
        })
        .await
        .expect("read")
        .into_inner();
    assert_eq!(read.version, 1);
    environment
        .refer_dispute(pb::ReferDisputeRequest {
            request_id: "d-sentinel".into(),
            dispute_id: id.clone(),
            note: String::new(),
        })
        .await
        .expect("the respondent refers");
    assert_only_events(&app, MARKET_BUREAU, &id, &["referred"]).await;
    assert_only_events(&app, ENVIRONMENT_BUREAU, &id, &["raised"]).await;
    assert_only_events(&app, CITY_GOVERNMENT, &id, &["referred"]).await;
    app.stop().await;
}

#[tokio::test]
async fn the_coordination_office_sees_both_positions_on_its_dispute_desk() {
    let app = spawn_app().await;
    let mut market = disputes_as(&app, MARKET_BUREAU).await;
    let mut environment = disputes_as(&app, ENVIRONMENT_BUREAU).await;
    let mut government = disputes_as(&app, CITY_GOVERNMENT).await;
    let id = market
        .raise_dispute(raising("p-raise"))
        .await
        .expect("raise")
        .into_inner()
        .dispute
        .expect("dispute")
        .id;
    market
        .refer_dispute(pb::ReferDisputeRequest {
            request_id: "p-refer".into(),
            dispute_id: id.clone(),
            note: String::new(),
        })
        .await
        .expect("refer");
    let desk = government
        .list_disputes(pb::ListCasesRequest {
            status: "referred".into(),
            role: pb::PartyRole::Coordination.into(),
            ..Default::default()
        })
        .await
        .expect("the office lists its desk")
        .into_inner();
    assert_eq!(desk.cases.len(), 1);
    assert_eq!(desk.cases[0].case_id, id);
    government
        .accept_dispute(pb::AcceptDisputeRequest {
            request_id: "p-accept".into(),
            dispute_id: id.clone(),
            note: String::new(),
        })
        .await
        .expect("accept");
    environment
        .reply_to_dispute(pb::ReplyToDisputeRequest {
            request_id: "p-reply".into(),
            dispute_id: id.clone(),
            position: "排污口位于城市管理范围".into(),
            documents: Vec::new(),
        })
        .await
        .expect("reply");
    let read = government
        .get_dispute(pb::GetDisputeRequest {
            dispute_id: id.clone(),
        })
        .await
        .expect("the office reads the dispute")
        .into_inner();
    let positions: Vec<(&str, &str)> = read
        .positions
        .iter()
        .map(|p| (p.agency.as_str(), p.text.as_str()))
        .collect();
    assert_eq!(
        positions,
        [
            (MARKET_BUREAU, "排污属生态环境部门职责"),
            (ENVIRONMENT_BUREAU, "排污口位于城市管理范围"),
        ]
    );
    app.stop().await;
}

/// Issue 12, D1: an agency outside a transfer named it in a dispute with a fourth agency,
/// recorded minutes naming itself competent, and so became the transfer's receiver. Now the
/// dispute is refused before it exists, and says nothing of the transfer.
#[tokio::test]
async fn an_outsider_cannot_take_over_an_objected_transfer_through_a_dispute() {
    const URBAN_BUREAU: &str = "11350100MB01000051";
    let app = spawn_app().await;
    let mut market = TransferServiceClient::new(app.channel_as(MARKET_BUREAU).await);
    let mut environment = TransferServiceClient::new(app.channel_as(ENVIRONMENT_BUREAU).await);
    let transfer = market
        .send_transfer(super::transfers::sending("takeover-send"))
        .await
        .expect("sent")
        .into_inner()
        .transfer
        .expect("transfer");
    environment
        .object_to_transfer(pb::ObjectToTransferRequest {
            request_id: "takeover-object".into(),
            transfer_id: transfer.id.clone(),
            reasons: "不属本局管辖".into(),
        })
        .await
        .expect("the receiver objects");

    let naming = |request_id: &str, respondent: &str, transfer_id: &str| pb::RaiseDisputeRequest {
        request_id: request_id.into(),
        respondent: respondent.into(),
        transfer_id: transfer_id.into(),
        ..raising(request_id)
    };
    let mut outsider = disputes_as(&app, EMERGENCY_BUREAU).await;
    let refused = outsider
        .raise_dispute(naming("takeover-1", URBAN_BUREAU, &transfer.id))
        .await
        .expect_err("an outsider may not name the transfer");
    assert_refused(
        Err::<(), _>(refused.clone()),
        &Refusal {
            what: "an outsider names another agency's transfer",
            code: Code::InvalidArgument,
            says: "names no transfer your agency is a party to",
            field: Some("transfer_id"),
        },
    );
    // The same answer as for an id that names nothing: the refusal tells a stranger nothing.
    let unknown = "0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7f";
    let nothing = outsider
        .raise_dispute(naming("takeover-2", URBAN_BUREAU, unknown))
        .await
        .expect_err("no such transfer");
    assert_eq!(nothing.code(), refused.code());
    assert_eq!(
        nothing.message().replace(unknown, "<id>"),
        refused.message().replace(&transfer.id, "<id>")
    );
    for secret in [
        MARKET_BUREAU,
        ENVIRONMENT_BUREAU,
        "objected",
        &transfer.summary,
    ] {
        assert!(!refused.message().contains(secret), "{}", refused.message());
    }
    // A party must name the other party as respondent.
    assert_refused(
        disputes_as(&app, ENVIRONMENT_BUREAU)
            .await
            .raise_dispute(naming("takeover-3", URBAN_BUREAU, &transfer.id))
            .await,
        &Refusal {
            what: "a party names a third agency as respondent",
            code: Code::InvalidArgument,
            says: "the other party of transfer",
            field: Some("respondent"),
        },
    );
    // The outsider raised nothing and reads nothing; the transfer is unchanged.
    assert!(
        outsider
            .list_disputes(pb::ListCasesRequest::default())
            .await
            .expect("list")
            .into_inner()
            .cases
            .is_empty()
    );
    assert!(
        TransferServiceClient::new(app.channel_as(EMERGENCY_BUREAU).await)
            .get_transfer(pb::GetTransferRequest {
                transfer_id: transfer.id.clone(),
            })
            .await
            .is_err()
    );
    let now = market
        .get_transfer(pb::GetTransferRequest {
            transfer_id: transfer.id.clone(),
        })
        .await
        .expect("the sender reads it")
        .into_inner();
    assert_eq!(now.status, i32::from(pb::TransferStatus::Objected));
    assert_eq!(now.receiver, ENVIRONMENT_BUREAU);
    app.stop().await;
}
