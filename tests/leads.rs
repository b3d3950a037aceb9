//! Leads between agencies (线索互告), end to end through the real binary: on the embedded default
//! and as separate processes on RabbitMQ and PostgreSQL.
//!
//! The market bureau tells the environment bureau of a possible violation in its remit; the
//! environment bureau acknowledges it and answers it with a case transfer it is a party to. An
//! agency that is not a party to that transfer cannot name it (one answer, whatever the id
//! names), and "no action" without reasons is refused on its field.

use casebridge_proto::v1 as pb;
use casebridge_tests::agencies::*;
use casebridge_tests::{System, transfer_sending};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// A lead from the market bureau to `to`.
fn sending(request_id: &str, to: &str) -> pb::SendLeadRequest {
    pb::SendLeadRequest {
        request_id: request_id.into(),
        to: to.into(),
        subject: "疑似向河道排放污水".into(),
        description: "市场检查中发现某食品厂排污口直通河道".into(),
        documents: vec![pb::Document {
            kind: pb::DocumentKind::Evidence.into(),
            title: "现场照片".into(),
            sha256: String::new(),
        }],
    }
}

fn answering(
    request_id: &str,
    lead_id: &str,
    outcome: pb::answer_lead_request::Outcome,
) -> pb::AnswerLeadRequest {
    pb::AnswerLeadRequest {
        request_id: request_id.into(),
        lead_id: lead_id.into(),
        outcome: Some(outcome),
    }
}

fn transfer_opened(transfer_id: &str) -> pb::answer_lead_request::Outcome {
    pb::answer_lead_request::Outcome::TransferOpened(pb::LeadTransferOpened {
        transfer_id: transfer_id.into(),
    })
}

/// The fields a refusal's `google.rpc.BadRequest` names, in wire naming.
fn violated_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

fn status(l: &pb::Lead) -> pb::LeadStatus {
    pb::LeadStatus::try_from(l.status).unwrap_or(pb::LeadStatus::Unspecified)
}

async fn send(system: &System, request_id: &str, to: &str) -> anyhow::Result<pb::Lead> {
    let sent = system
        .leads(MARKET_BUREAU)
        .await?
        .send_lead(sending(request_id, to))
        .await?
        .into_inner()
        .lead
        .expect("the lead");
    assert_eq!(status(&sent), pb::LeadStatus::Sent);
    assert_eq!(sent.sender, MARKET_BUREAU);
    assert_eq!(sent.recipient, to);
    Ok(sent)
}

async fn lead_answered_with_a_transfer(system: &System) -> anyhow::Result<()> {
    // 1. The market bureau tells the environment bureau; the lead reaches its inbox.
    let lead = send(system, "lead-1", ENVIRONMENT_BUREAU).await?;
    system.heard(ENVIRONMENT_BUREAU, &lead.id, "sent").await;

    // 2. The environment bureau acknowledges it (签收).
    let acknowledged = system
        .leads(ENVIRONMENT_BUREAU)
        .await?
        .acknowledge_lead(pb::AcknowledgeLeadRequest {
            request_id: "lead-1-ack".into(),
            lead_id: lead.id.clone(),
            note: "已签收，将核查".into(),
        })
        .await?
        .into_inner()
        .lead
        .expect("the lead");
    assert_eq!(status(&acknowledged), pb::LeadStatus::Acknowledged);
    system.heard(MARKET_BUREAU, &lead.id, "acknowledged").await;

    // 3. A case transfer between the two bureaus, which the environment bureau receives.
    let transfer = system
        .transfers(MARKET_BUREAU)
        .await?
        .send_transfer(transfer_sending("lead-1-transfer"))
        .await?
        .into_inner()
        .transfer
        .expect("the transfer")
        .id;

    // 4. Agencies that are not parties to that transfer cannot name it: the procuratorate on
    // this lead, and the city police on a lead of its own. Each gets the one answer a transfer
    // that does not exist gets, naming the field.
    let to_police = send(system, "lead-2", CITY_POLICE).await?;
    let unknown = "0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b";
    let mut messages = Vec::new();
    for (agency, lead_id, named, request_id) in [
        (PROCURATORATE, &lead.id, transfer.as_str(), "lead-x-1"),
        (CITY_POLICE, &to_police.id, transfer.as_str(), "lead-x-2"),
        (CITY_POLICE, &to_police.id, unknown, "lead-x-3"),
    ] {
        let refused = system
            .leads(agency)
            .await?
            .answer_lead(answering(request_id, lead_id, transfer_opened(named)))
            .await
            .expect_err("a stranger to the transfer");
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(
            violated_fields(&refused),
            ["transfer_opened.transfer_id"],
            "{refused:?}"
        );
        messages.push(refused.message().replace(named, "<id>"));
    }
    assert!(
        messages.windows(2).all(|w| w[0] == w[1]),
        "a stranger learns something: {messages:?}"
    );
    let untouched = system
        .leads(CITY_POLICE)
        .await?
        .get_lead(pb::GetLeadRequest {
            lead_id: to_police.id.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(status(&untouched), pb::LeadStatus::Sent);
    // A stranger to the lead cannot read it either.
    let hidden = system
        .leads(PROCURATORATE)
        .await?
        .get_lead(pb::GetLeadRequest {
            lead_id: lead.id.clone(),
        })
        .await
        .expect_err("not a party");
    assert!(
        matches!(hidden.code(), Code::PermissionDenied | Code::NotFound),
        "{hidden:?}"
    );

    // 5. The environment bureau, the transfer's receiver, answers with it.
    let answered = system
        .leads(ENVIRONMENT_BUREAU)
        .await?
        .answer_lead(answering(
            "lead-1-answer",
            &lead.id,
            transfer_opened(&transfer),
        ))
        .await?
        .into_inner()
        .lead
        .expect("the lead");
    assert_eq!(status(&answered), pb::LeadStatus::Answered);
    system.heard(MARKET_BUREAU, &lead.id, "answered").await;
    let read = system
        .leads(MARKET_BUREAU)
        .await?
        .get_lead(pb::GetLeadRequest {
            lead_id: lead.id.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(status(&read), pb::LeadStatus::Answered);
    let linked = match read.answer.and_then(|a| a.outcome) {
        Some(pb::lead_answer::Outcome::TransferOpened(t)) => t.transfer_id,
        other => panic!("not answered with a transfer: {other:?}"),
    };
    assert_eq!(linked, transfer);
    let steps: Vec<&str> = read.history.iter().map(|h| h.step.as_str()).collect();
    assert_eq!(steps, ["send", "acknowledge", "answer"]);
    // The case timeline finds the lead among the families.
    let timeline = system
        .cases(MARKET_BUREAU)
        .await?
        .get_timeline(pb::GetTimelineRequest {
            case_id: lead.id.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(timeline.family, "lead");
    assert_eq!(timeline.status, "answered");

    // 6. "No action" needs its reasons: refused on the field, and the lead stays as it was.
    let third = send(system, "lead-3", ENVIRONMENT_BUREAU).await?;
    let refused = system
        .leads(ENVIRONMENT_BUREAU)
        .await?
        .answer_lead(answering(
            "lead-3-answer",
            &third.id,
            pb::answer_lead_request::Outcome::NoAction(pb::LeadNoAction {
                reasons: String::new(),
            }),
        ))
        .await
        .expect_err("no reasons");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(
        violated_fields(&refused),
        ["no_action.reasons"],
        "{refused:?}"
    );
    let still = system
        .leads(ENVIRONMENT_BUREAU)
        .await?
        .get_lead(pb::GetLeadRequest {
            lead_id: third.id.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(status(&still), pb::LeadStatus::Sent);

    // 7. The receiver lists what it received.
    let listed = system
        .leads(ENVIRONMENT_BUREAU)
        .await?
        .list_leads(pb::ListCasesRequest {
            status: String::new(),
            role: pb::PartyRole::Recipient.into(),
            page_size: 50,
            page_token: String::new(),
        })
        .await?
        .into_inner();
    let ids: Vec<&str> = listed.cases.iter().map(|c| c.case_id.as_str()).collect();
    assert!(ids.contains(&lead.id.as_str()), "{ids:?}");
    assert!(ids.contains(&third.id.as_str()), "{ids:?}");
    assert!(!ids.contains(&to_police.id.as_str()), "{ids:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_lead_is_acknowledged_and_answered_with_a_transfer() -> anyhow::Result<()> {
    let system = System::embedded_with(Vec::new(), "info").await?;
    lead_answered_with_a_transfer(&system).await?;
    system.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_a_lead_is_acknowledged_and_answered_with_a_transfer() -> anyhow::Result<()> {
    let system = System::distributed_with(Vec::new(), "info").await?;
    lead_answered_with_a_transfer(&system).await?;
    system.stop().await
}

/// `casebridge lead send`, `acknowledge` and `answer` as the two agencies use them; an answer
/// must be one outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sends_acknowledges_and_answers_a_lead() -> anyhow::Result<()> {
    let system = System::embedded().await?;
    let (code, out, err) = system
        .cli_as(
            MARKET_BUREAU,
            &[
                "lead",
                "send",
                "--to",
                ENVIRONMENT_BUREAU,
                "--subject",
                "河道排污",
                "--description",
                "巡查发现某化工厂向河道排放污水",
            ],
        )
        .await?;
    assert_eq!(code, Some(0), "{out}{err}");
    let id = out
        .lines()
        .find_map(|line| line.strip_prefix("lead "))
        .expect("the lead's id")
        .trim()
        .to_owned();
    let (code, out, err) = system
        .cli_as(ENVIRONMENT_BUREAU, &["lead", "acknowledge", &id])
        .await?;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("acknowledged"), "{out}");
    let (code, _, err) = system
        .cli_as(
            ENVIRONMENT_BUREAU,
            &["lead", "answer", &id, "--no-action", "x", "--transfer", &id],
        )
        .await?;
    assert_eq!(code, Some(2), "two outcomes are a usage error: {err}");
    let (code, out, err) = system
        .cli_as(
            ENVIRONMENT_BUREAU,
            &[
                "lead",
                "answer",
                &id,
                "--no-action",
                "经核查，排放口已依法取得许可",
            ],
        )
        .await?;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("no action: 经核查"), "{out}");
    let (code, out, _) = system.cli_as(MARKET_BUREAU, &["lead", "show", &id]).await?;
    assert_eq!(code, Some(0));
    assert!(out.contains("answered"), "{out}");
    system.stop().await
}
