//! Rectification requests (整改通知) tracked as obligations, end to end through the real binary:
//! on the embedded default and as separate processes on RabbitMQ and PostgreSQL.
//!
//! The justice bureau (the coordination office) asks the market bureau to rectify; the bureau
//! reports, the report is returned (复查不合格), reported again and accepted. A stranger to a case
//! cannot name it as the basis (one answer, whatever the id names); a police organ, and an
//! administrative agency that is not the superior, are refused on `to`. With RECT-REPORT set to
//! 0 hours a request is missed at once: the deadlines service escalates it to the agency's
//! superior, the rectifications service records it overdue, the requester hears of it, and a late
//! report is taken and marked late.

use std::time::Duration;

use casebridge_platform::testing::eventually;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::deadline_service_client::DeadlineServiceClient;
use casebridge_tests::agencies::*;
use casebridge_tests::{System, rules_with_periods, submission, transfer_sending};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// A request to `to`, on a report period and the cases named.
fn requesting(request_id: &str, to: &str, case_ids: &[&str]) -> pb::RequestRectificationRequest {
    pb::RequestRectificationRequest {
        request_id: request_id.into(),
        to: to.into(),
        findings: "第三季度抽查案卷中，三件未依法告知陈述申辩权利".into(),
        basis: Some(pb::RectificationBasis {
            period: "2026-Q3".into(),
            case_ids: case_ids.iter().map(|s| (*s).to_owned()).collect(),
        }),
        documents: vec![pb::Document {
            kind: pb::DocumentKind::Decision.into(),
            title: "行政执法监督整改通知书".into(),
            sha256: String::new(),
        }],
        due_by: None,
    }
}

fn reporting(request_id: &str, id: &str, measures: &str) -> pb::ReportRectificationRequest {
    pb::ReportRectificationRequest {
        request_id: request_id.into(),
        rectification_id: id.into(),
        measures: measures.into(),
        documents: vec![pb::Document {
            kind: pb::DocumentKind::Other.into(),
            title: "整改报告".into(),
            sha256: String::new(),
        }],
    }
}

/// The fields a refusal's `google.rpc.BadRequest` names, in wire naming.
fn violated_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

fn status(c: &pb::Rectification) -> pb::RectificationStatus {
    pb::RectificationStatus::try_from(c.status).unwrap_or(pb::RectificationStatus::Unspecified)
}

fn taken(result: pb::RectificationResult) -> pb::Rectification {
    result.rectification.expect("the rectification")
}

async fn request(
    system: &System,
    requester: &str,
    request: pb::RequestRectificationRequest,
) -> anyhow::Result<pb::Rectification> {
    let to = request.to.clone();
    let asked = taken(
        system
            .rectifications(requester)
            .await?
            .request_rectification(request)
            .await?
            .into_inner(),
    );
    assert_eq!(status(&asked), pb::RectificationStatus::Requested);
    assert_eq!(asked.requester, requester);
    assert_eq!(asked.agency, to);
    Ok(asked)
}

async fn get(system: &System, agency: &str, id: &str) -> anyhow::Result<pb::Rectification> {
    Ok(system
        .rectifications(agency)
        .await?
        .get_rectification(pb::GetRectificationRequest {
            rectification_id: id.into(),
        })
        .await?
        .into_inner())
}

async fn requested_reported_returned_and_accepted(system: &System) -> anyhow::Result<()> {
    // 1. The justice bureau asks the market bureau; the bureau and its superior, the city
    // government, hear of it.
    let asked = request(
        system,
        JUSTICE_BUREAU,
        requesting("rect-1", MARKET_BUREAU, &[]),
    )
    .await?;
    assert_eq!(asked.superior, CITY_GOVERNMENT);
    system.heard(MARKET_BUREAU, &asked.id, "requested").await;
    system.heard(CITY_GOVERNMENT, &asked.id, "requested").await;
    // The report is owed under RECT-REPORT.
    let channel = system.channel(MARKET_BUREAU).await?;
    eventually("RECT-REPORT opened", Duration::from_secs(30), || async {
        let deadlines = DeadlineServiceClient::new(channel.clone())
            .list_case_deadlines(pb::ListCaseDeadlinesRequest {
                case_id: asked.id.clone(),
            })
            .await
            .ok()?
            .into_inner();
        deadlines
            .obligations
            .iter()
            .any(|o| o.rule == "RECT-REPORT")
            .then_some(())
    })
    .await;

    // 2. The bureau reports; the justice bureau returns the report with reasons.
    let reported = taken(
        system
            .rectifications(MARKET_BUREAU)
            .await?
            .report_rectification(reporting("rect-1-r1", &asked.id, "已补正告知程序"))
            .await?
            .into_inner(),
    );
    assert_eq!(status(&reported), pb::RectificationStatus::Reported);
    assert!(!reported.reports[0].late);
    system.heard(JUSTICE_BUREAU, &asked.id, "reported").await;
    let returned = taken(
        system
            .rectifications(JUSTICE_BUREAU)
            .await?
            .return_rectification(pb::ReturnRectificationRequest {
                request_id: "rect-1-back".into(),
                rectification_id: asked.id.clone(),
                reasons: "未附执法人员培训记录".into(),
            })
            .await?
            .into_inner(),
    );
    assert_eq!(status(&returned), pb::RectificationStatus::Returned);
    system.heard(MARKET_BUREAU, &asked.id, "returned").await;

    // 3. The bureau reports again; the justice bureau accepts.
    taken(
        system
            .rectifications(MARKET_BUREAU)
            .await?
            .report_rectification(reporting("rect-1-r2", &asked.id, "补充培训签到表"))
            .await?
            .into_inner(),
    );
    let accepted = taken(
        system
            .rectifications(JUSTICE_BUREAU)
            .await?
            .accept_rectification(pb::AcceptRectificationRequest {
                request_id: "rect-1-ok".into(),
                rectification_id: asked.id.clone(),
                note: "复查合格".into(),
            })
            .await?
            .into_inner(),
    );
    assert_eq!(status(&accepted), pb::RectificationStatus::Accepted);
    system.heard(MARKET_BUREAU, &asked.id, "accepted").await;
    let read = get(system, CITY_GOVERNMENT, &asked.id).await?;
    let steps: Vec<&str> = read.history.iter().map(|h| h.step.as_str()).collect();
    assert_eq!(steps, ["request", "report", "return", "report", "accept"]);
    assert_eq!(read.reports.len(), 2);
    assert_eq!(read.reports[0].returned_reasons, "未附执法人员培训记录");
    // The case timeline finds it among the families.
    let timeline = system
        .cases(JUSTICE_BUREAU)
        .await?
        .get_timeline(pb::GetTimelineRequest {
            case_id: asked.id.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(timeline.family, "rectification");
    assert_eq!(timeline.status, "accepted");

    // 4. A case the requester may read is a basis: the procuratorate is copied on the market
    // bureau's referral. A stranger to a case cannot name it: the justice bureau naming the
    // market bureau's transfer, or the referral, gets the answer an unknown id gets.
    let referral = system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(submission("rect-referral"))
        .await?
        .into_inner()
        .referral
        .expect("the referral")
        .id;
    let named = request(
        system,
        PROCURATORATE,
        requesting("rect-2", MARKET_BUREAU, &[&referral]),
    )
    .await?;
    assert_eq!(
        named.basis.as_ref().map(|b| b.case_ids.clone()),
        Some(vec![referral.clone()])
    );
    let transfer = system
        .transfers(MARKET_BUREAU)
        .await?
        .send_transfer(transfer_sending("rect-transfer"))
        .await?
        .into_inner()
        .transfer
        .expect("the transfer")
        .id;
    let unknown = "0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b";
    let mut messages = Vec::new();
    for (named, request_id) in [
        (transfer.as_str(), "rect-x-1"),
        (referral.as_str(), "rect-x-2"),
        (unknown, "rect-x-3"),
    ] {
        let refused = system
            .rectifications(JUSTICE_BUREAU)
            .await?
            .request_rectification(requesting(request_id, MARKET_BUREAU, &[named]))
            .await
            .expect_err("a stranger to the case");
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(
            violated_fields(&refused),
            ["basis.case_ids[0]"],
            "{refused:?}"
        );
        messages.push(refused.message().replace(named, "<id>"));
    }
    assert!(
        messages.windows(2).all(|w| w[0] == w[1]),
        "a stranger learns something: {messages:?}"
    );

    // 5. A police organ may not ask, nor an administrative agency that is not the superior:
    // both refused on `to`.
    for (agency, request_id) in [
        (CITY_POLICE, "rect-x-police"),
        (ENVIRONMENT_BUREAU, "rect-x-peer"),
    ] {
        let refused = system
            .rectifications(agency)
            .await?
            .request_rectification(requesting(request_id, MARKET_BUREAU, &[]))
            .await
            .expect_err("may not ask");
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(violated_fields(&refused), ["to"], "{refused:?}");
    }
    // The superior may.
    request(
        system,
        CITY_GOVERNMENT,
        requesting("rect-3", MARKET_BUREAU, &[]),
    )
    .await?;

    // 6. A stranger cannot read a request; the agency lists what it received.
    let hidden = get(system, ENVIRONMENT_BUREAU, &asked.id)
        .await
        .expect_err("not a party");
    let hidden = hidden
        .downcast_ref::<Status>()
        .map(Status::code)
        .unwrap_or(Code::Unknown);
    assert!(
        matches!(hidden, Code::PermissionDenied | Code::NotFound),
        "{hidden:?}"
    );
    let listed = system
        .rectifications(MARKET_BUREAU)
        .await?
        .list_rectifications(pb::ListCasesRequest {
            status: String::new(),
            role: pb::PartyRole::Recipient.into(),
            page_size: 50,
            page_token: String::new(),
        })
        .await?
        .into_inner();
    let ids: Vec<&str> = listed.cases.iter().map(|c| c.case_id.as_str()).collect();
    assert!(ids.contains(&asked.id.as_str()), "{ids:?}");
    assert!(ids.contains(&named.id.as_str()), "{ids:?}");
    Ok(())
}

async fn missed_and_escalated(system: &System) -> anyhow::Result<()> {
    // RECT-REPORT is 0 hours here: the report is overdue at once. The deadlines service
    // escalates the miss to the market bureau's superior, the city government; the
    // rectifications service records it, and the requester hears of it.
    let asked = request(
        system,
        JUSTICE_BUREAU,
        requesting("rect-m-1", MARKET_BUREAU, &[]),
    )
    .await?;
    system
        .heard(CITY_GOVERNMENT, &asked.id, "deadline_escalated")
        .await;
    system
        .heard(JUSTICE_BUREAU, &asked.id, "report_overdue")
        .await;
    let overdue = get(system, JUSTICE_BUREAU, &asked.id).await?;
    assert!(overdue.overdue);
    assert_eq!(status(&overdue), pb::RectificationStatus::Requested);
    assert!(overdue.history.iter().any(|h| h.step == "mark_overdue"));

    // A late report is taken, and marked late.
    let late = taken(
        system
            .rectifications(MARKET_BUREAU)
            .await?
            .report_rectification(reporting("rect-m-1-r", &asked.id, "逾期报送整改情况"))
            .await?
            .into_inner(),
    );
    assert_eq!(status(&late), pb::RectificationStatus::Reported);
    assert!(late.reports[0].late);
    assert!(!late.overdue);

    // The superior asking: it is requester and supervisor, so the escalation reaches the
    // requester's inbox.
    let asked = request(
        system,
        CITY_GOVERNMENT,
        requesting("rect-m-2", ENVIRONMENT_BUREAU, &[]),
    )
    .await?;
    system
        .heard(CITY_GOVERNMENT, &asked.id, "deadline_escalated")
        .await;
    system
        .heard(CITY_GOVERNMENT, &asked.id, "report_overdue")
        .await;
    Ok(())
}

async fn with_rules(
    at_once: bool,
    distributed: bool,
    run: impl AsyncFnOnce(&System) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let settings = if at_once {
        rules_with_periods(dir.path(), &[("RECT-REPORT", 0, "hours")])?
    } else {
        Vec::new()
    };
    let system = if distributed {
        System::distributed_with(settings, "info").await?
    } else {
        System::embedded_with(settings, "info").await?
    };
    run(&system).await?;
    system.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_request_is_reported_returned_reported_again_and_accepted() -> anyhow::Result<()>
{
    with_rules(false, false, requested_reported_returned_and_accepted).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_a_request_is_reported_returned_reported_again_and_accepted()
-> anyhow::Result<()> {
    with_rules(false, true, requested_reported_returned_and_accepted).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_missed_report_is_escalated_and_a_late_one_marked_late() -> anyhow::Result<()> {
    with_rules(true, false, missed_and_escalated).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_a_missed_report_is_escalated_and_a_late_one_marked_late() -> anyhow::Result<()>
{
    with_rules(true, true, missed_and_escalated).await
}

/// `casebridge rectification request`, `report`, `return`, `accept` and `show` as the two
/// agencies use them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_requests_reports_returns_and_accepts() -> anyhow::Result<()> {
    let system = System::embedded().await?;
    let (code, out, err) = system
        .cli_as(
            JUSTICE_BUREAU,
            &[
                "rectification",
                "request",
                "--to",
                MARKET_BUREAU,
                "--findings",
                "未依法告知陈述申辩权利",
                "--period",
                "2026-Q3",
            ],
        )
        .await?;
    assert_eq!(code, Some(0), "{out}{err}");
    let id = out
        .lines()
        .find_map(|line| line.strip_prefix("rectification "))
        .expect("the request's id")
        .trim()
        .to_owned();
    let (code, out, err) = system
        .cli_as(
            MARKET_BUREAU,
            &["rectification", "report", &id, "--measures", "已补正"],
        )
        .await?;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("reported"), "{out}");
    let (code, out, err) = system
        .cli_as(
            JUSTICE_BUREAU,
            &["rectification", "return", &id, "--reasons", "未附材料"],
        )
        .await?;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("returned: 未附材料"), "{out}");
    let (code, out, err) = system
        .cli_as(
            MARKET_BUREAU,
            &["rectification", "report", &id, "--measures", "补充材料"],
        )
        .await?;
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = system
        .cli_as(JUSTICE_BUREAU, &["rectification", "accept", &id])
        .await?;
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, _) = system
        .cli_as(CITY_GOVERNMENT, &["rectification", "show", &id])
        .await?;
    assert_eq!(code, Some(0));
    assert!(out.contains("accepted"), "{out}");
    assert!(out.contains("report 2: 补充材料"), "{out}");
    let (code, _, err) = system
        .cli_as(
            CITY_POLICE,
            &[
                "rectification",
                "request",
                "--to",
                MARKET_BUREAU,
                "--findings",
                "x",
                "--period",
                "2026",
            ],
        )
        .await?;
    assert_ne!(code, Some(0), "a police organ may not ask: {err}");
    assert!(err.contains("RECT-WHO"), "{err}");
    system.stop().await
}
