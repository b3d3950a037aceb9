//! Expert-opinion requests over the wire: every kind of refusal, and that none changes anything.

use casebridge_proto::v1::opinion_service_client::OpinionServiceClient;

use super::refusals::{Refusal, assert_only_events, assert_refused, oversized};
use super::*;

async fn opinions_as(app: &TestApp, agency: &str) -> OpinionServiceClient<Channel> {
    OpinionServiceClient::new(app.channel_as(agency).await)
}

fn requesting(request_id: &str) -> pb::RequestOpinionRequest {
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
            field: Some("finding"),
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
