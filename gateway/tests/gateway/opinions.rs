//! Expert-opinion requests over the wire: every kind of refusal, and that none changes anything.

use casebridge_proto::v1::opinion_service_client::OpinionServiceClient;

use super::refusals::{Refusal, assert_only_events, assert_refused, oversized};
use super::*;

pub(crate) async fn opinions_as(app: &TestApp, agency: &str) -> OpinionServiceClient<Channel> {
    OpinionServiceClient::new(app.channel_as(agency).await)
}

pub(crate) fn requesting(request_id: &str) -> pb::RequestOpinionRequest {
    pb::RequestOpinionRequest {
        request_id: request_id.into(),
        expert: TESTING_INSTITUTE.into(),
        kind: pb::OpinionKind::Test.into(),
        question: "涉案电线是否符合国家标准".into(),
        documents: Vec::new(),
        under_case_id: String::new(),
    }
}

fn delivery(
    request_id: &str,
    id: &str,
    finding: pb::OpinionFinding,
    conclusion: &str,
) -> pb::DeliverOpinionRequest {
    pb::DeliverOpinionRequest {
        request_id: request_id.into(),
        opinion_id: id.into(),
        opinion: Some(pb::Opinion {
            finding: finding.into(),
            conclusion: conclusion.into(),
            basis: "经检测导体电阻超标".into(),
            documents: Vec::new(),
        }),
    }
}

#[tokio::test]
async fn every_opinion_refusal_names_its_problem_and_changes_nothing() {
    let app = spawn_app().await;
    let mut market = opinions_as(&app, MARKET_BUREAU).await;
    let mut lab = opinions_as(&app, TESTING_INSTITUTE).await;
    let id = market
        .request_opinion(requesting("o-request"))
        .await
        .expect("a valid request is accepted")
        .into_inner()
        .opinion
        .expect("the request")
        .id;

    assert_refused(
        market
            .accept_opinion_request(pb::AcceptOpinionRequestRequest {
                request_id: "o-1".into(),
                opinion_id: id.clone(),
                note: String::new(),
            })
            .await,
        &Refusal {
            what: "the requester accepts its own request",
            code: Code::PermissionDenied,
            says: "for the expert",
            field: None,
        },
    );
    assert_refused(
        opinions_as(&app, PROCURATORATE)
            .await
            .request_opinion(requesting("o-2"))
            .await,
        &Refusal {
            what: "the procuratorate asks for an opinion",
            code: Code::PermissionDenied,
            says: "administrative agency or a police agency",
            field: None,
        },
    );
    assert_refused(
        lab.deliver_opinion(delivery("o-3", &id, pb::OpinionFinding::Negative, "不符合"))
            .await,
        &Refusal {
            what: "an opinion before accepting the request",
            code: Code::FailedPrecondition,
            says: "allowed when accepted",
            field: None,
        },
    );
    assert_refused(
        market
            .supply_material(pb::SupplyMaterialRequest {
                request_id: "o-4".into(),
                opinion_id: id.clone(),
                documents: Vec::new(),
                note: String::new(),
            })
            .await,
        &Refusal {
            what: "material supplied though none was asked for",
            code: Code::FailedPrecondition,
            says: "allowed when awaiting_material",
            field: None,
        },
    );
    assert_refused(
        lab.refuse_opinion_request(pb::RefuseOpinionRequestRequest {
            request_id: "o-5".into(),
            opinion_id: id.clone(),
            reasons: String::new(),
        })
        .await,
        &Refusal {
            what: "a refusal without reasons",
            code: Code::InvalidArgument,
            says: "must not be empty",
            field: Some("reasons"),
        },
    );
    assert_refused(
        lab.accept_opinion_request(pb::AcceptOpinionRequestRequest {
            request_id: "o-6".into(),
            opinion_id: CaseId::generate().to_string(),
            note: String::new(),
        })
        .await,
        &Refusal {
            what: "accepting an unknown request",
            code: Code::NotFound,
            says: "no such case",
            field: None,
        },
    );
    assert_refused(
        opinions_as(&app, ENVIRONMENT_BUREAU)
            .await
            .get_opinion(pb::GetOpinionRequest {
                opinion_id: id.clone(),
            })
            .await,
        &Refusal {
            what: "an outsider reads the request",
            code: Code::PermissionDenied,
            says: "not a party",
            field: None,
        },
    );
    let mut reused = requesting("o-request");
    reused.question = "另一问题".into();
    assert_refused(
        market.request_opinion(reused).await,
        &Refusal {
            what: "a request id reused for other content",
            code: Code::AlreadyExists,
            says: "already used",
            field: Some("request_id"),
        },
    );
    let mut long = requesting("o-7");
    long.question = oversized();
    assert_refused(
        market.request_opinion(long).await,
        &Refusal {
            what: "an oversized question",
            code: Code::InvalidArgument,
            says: "at most 2000 characters",
            field: Some("question"),
        },
    );
    let mut no_kind = requesting("o-8");
    no_kind.kind = pb::OpinionKind::Unspecified.into();
    no_kind.under_case_id = "case-1".into();
    assert_refused(
        market.request_opinion(no_kind).await,
        &Refusal {
            what: "no kind and a malformed case",
            code: Code::InvalidArgument,
            says: "kind is required",
            field: Some("under_case_id"),
        },
    );
    let mut to_police = requesting("o-9");
    to_police.expert = CITY_POLICE.into();
    assert_refused(
        market.request_opinion(to_police).await,
        &Refusal {
            what: "an opinion asked of the police",
            code: Code::InvalidArgument,
            says: "expert",
            field: Some("expert"),
        },
    );

    let read = lab
        .get_opinion(pb::GetOpinionRequest {
            opinion_id: id.clone(),
        })
        .await
        .expect("the department reads it")
        .into_inner();
    assert_eq!(read.version, 1);
    lab.accept_opinion_request(pb::AcceptOpinionRequestRequest {
        request_id: "o-sentinel".into(),
        opinion_id: id.clone(),
        note: String::new(),
    })
    .await
    .expect("the department accepts");
    assert_only_events(&app, MARKET_BUREAU, &id, &["accepted"]).await;
    assert_only_events(&app, TESTING_INSTITUTE, &id, &["requested"]).await;
    app.stop().await;
}

#[tokio::test]
async fn a_description_of_the_current_state_is_refused_as_an_opinion_and_a_conclusion_delivered() {
    let app = spawn_app().await;
    let mut market = opinions_as(&app, MARKET_BUREAU).await;
    let mut lab = opinions_as(&app, TESTING_INSTITUTE).await;
    let id = market
        .request_opinion(requesting("c-request"))
        .await
        .expect("request")
        .into_inner()
        .opinion
        .expect("request")
        .id;
    lab.accept_opinion_request(pb::AcceptOpinionRequestRequest {
        request_id: "c-accept".into(),
        opinion_id: id.clone(),
        note: String::new(),
    })
    .await
    .expect("accept");
    assert_refused(
        lab.deliver_opinion(delivery(
            "c-describe",
            &id,
            pb::OpinionFinding::Unspecified,
            "",
        ))
        .await,
        &Refusal {
            what: "a description without a conclusion",
            code: Code::InvalidArgument,
            says: "description of the current state alone is not an opinion",
            field: Some("opinion.finding"),
        },
    );
    let delivered = lab
        .deliver_opinion(delivery(
            "c-deliver",
            &id,
            pb::OpinionFinding::Negative,
            "不符合GB/T 5023标准",
        ))
        .await
        .expect("a conclusion is delivered")
        .into_inner()
        .opinion
        .expect("request");
    assert_eq!(delivered.status, i32::from(pb::OpinionStatus::Delivered));
    assert_eq!(
        delivered.opinion.expect("opinion").finding,
        i32::from(pb::OpinionFinding::Negative)
    );
    app.stop().await;
}

#[tokio::test]
async fn the_expert_announces_a_new_date_before_the_deadline_and_only_the_expert_may() {
    let app = spawn_app().await;
    let mut market = opinions_as(&app, MARKET_BUREAU).await;
    let id = market
        .request_opinion(requesting("x-request"))
        .await
        .expect("a valid request is accepted")
        .into_inner()
        .opinion
        .expect("the request")
        .id;
    opinions_as(&app, TESTING_INSTITUTE)
        .await
        .accept_opinion_request(pb::AcceptOpinionRequestRequest {
            request_id: "x-accept".into(),
            opinion_id: id.clone(),
            note: String::new(),
        })
        .await
        .expect("accepted");
    let owed = case_deadlines_with(&app, TESTING_INSTITUTE, &id, "SAMR-45").await;
    let due = owed
        .iter()
        .find(|o| o.rule == "SAMR-45")
        .and_then(|o| o.due_at)
        .expect("a due time for the opinion");
    // The last day (its 24:00 is the due time), a week later, as a date in China Standard Time.
    let last_day = chrono::DateTime::from_timestamp(due.seconds - 1 + 8 * 3600, 0)
        .expect("a time")
        .date_naive();
    let announce = |request_id: &str, until: chrono::NaiveDate| pb::ExtendDeadlineRequest {
        request_id: request_id.into(),
        case_id: id.clone(),
        rule: "SAMR-45".into(),
        target: Some(pb::extend_deadline_request::Target::Until(
            until.format("%Y-%m-%d").to_string(),
        )),
        approval_reference: "榕质检延〔2026〕3号".into(),
        reason: "样品需送上级实验室复检".into(),
    };

    // The requester cannot extend the expert's deadline.
    assert_refused(
        app.deadlines_as(MARKET_BUREAU)
            .await
            .extend_deadline(announce("x-1", last_day + chrono::Duration::days(7)))
            .await,
        &Refusal {
            what: "the requester extends the expert's deadline",
            code: Code::PermissionDenied,
            says: "AUTH-OBLIGOR",
            field: None,
        },
    );
    // A new date must be later than the one in force.
    let mut lab = app.deadlines_as(TESTING_INSTITUTE).await;
    assert_refused(
        lab.extend_deadline(announce("x-2", last_day - chrono::Duration::days(1)))
            .await,
        &Refusal {
            what: "an announced date before the current one",
            code: Code::InvalidArgument,
            says: "is not after the current due date",
            field: Some("until"),
        },
    );

    let extended = lab
        .extend_deadline(announce("x-3", last_day + chrono::Duration::days(7)))
        .await
        .expect("the expert announces a new date")
        .into_inner();
    let obligation = extended.obligation.expect("the obligation");
    assert!(
        obligation.due_at.as_ref().expect("a due time").seconds >= due.seconds + 7 * 86_400,
        "the due time moved to the announced day"
    );
    assert_eq!(obligation.extensions.len(), 1);
    let extension = &obligation.extensions[0];
    assert_eq!(extension.by, TESTING_INSTITUTE);
    assert_eq!(extension.reason, "样品需送上级实验室复检");
    assert_eq!(extension.approval_reference, "榕质检延〔2026〕3号");
    assert!(extended.receipt.is_some(), "the announcement has a receipt");
    // The requester hears of it.
    testing::eventually(
        "the requester to hear of the extension",
        PROMPTLY,
        || async {
            super::refusals::events_about(&app, MARKET_BUREAU, &id)
                .await
                .contains(&"deadline_extended".to_owned())
                .then_some(())
        },
    )
    .await;
    app.stop().await;
}

/// Issue 12, D8: `RequestOpinion.under_case_id` accepted a random or foreign case, whose clock
/// the request would then stop. Only the requester's own referral or transfer is accepted, and
/// anything else gets one answer.
#[tokio::test]
async fn an_opinion_can_stop_only_the_requesters_own_case() {
    use casebridge_proto::v1::transfer_service_client::TransferServiceClient;
    let app = spawn_app().await;
    let transfer = TransferServiceClient::new(app.channel_as(MARKET_BUREAU).await)
        .send_transfer(super::transfers::sending("under-send"))
        .await
        .expect("sent")
        .into_inner()
        .transfer
        .expect("transfer")
        .id;
    let under = |request_id: &str, case: &str| pb::RequestOpinionRequest {
        under_case_id: case.into(),
        ..requesting(request_id)
    };
    // The receiver asks under the transfer it holds: accepted.
    opinions_as(&app, ENVIRONMENT_BUREAU)
        .await
        .request_opinion(under("under-ok", &transfer))
        .await
        .expect("an opinion under the receiver's own transfer");
    // Another agency's transfer, and an id that names nothing: the same refusal.
    let mut outsider = opinions_as(&app, EMERGENCY_BUREAU).await;
    let foreign = outsider
        .request_opinion(under("under-foreign", &transfer))
        .await
        .expect_err("not the requester's case");
    let unknown = "0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7f";
    let nothing = outsider
        .request_opinion(under("under-nothing", unknown))
        .await
        .expect_err("no such case");
    for status in [&foreign, &nothing] {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(violated_fields(status), ["under_case_id"]);
    }
    assert_eq!(
        foreign.message().replace(&transfer, "<id>"),
        nothing.message().replace(unknown, "<id>")
    );
    assert!(!foreign.message().contains(MARKET_BUREAU));
    app.stop().await;
}
