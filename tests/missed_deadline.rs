//! A missed deadline reaches the right supervisor's inbox, through the real binary: on the
//! embedded default and as separate processes on RabbitMQ and PostgreSQL.
//!
//! Nobody waits a working day: the system runs with a test rule table (`deadlines.rules`, the
//! documented setting) in which the receipt rules RCPT and RCPT-F are 0 hours, so a referral's
//! or a transferred case's receipt is overdue the moment it is sent. The rest of the table is
//! the shipped one. A referral's miss goes to the copied procuratorate; a transfer's to the
//! coordination office of the owing agency's region: the justice bureau (司法局), the
//! government's enforcement-supervision body (S25), not the common superior that rules on
//! disputes.

use std::time::Duration;

use casebridge_platform::testing::eventually;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::deadline_service_client::DeadlineServiceClient;
use casebridge_proto::v1::monitor_service_client::MonitorServiceClient;
use casebridge_tests::agencies::*;
use casebridge_tests::{System, immediate_receipt_rules, submission, transfer_sending};

const WAIT: Duration = Duration::from_secs(30);

/// The events of `agency`'s inbox about `case_id`, once `event` is among them.
async fn inbox_with(
    system: &System,
    agency: &str,
    case_id: &str,
    event: &str,
) -> Vec<pb::InboxEntry> {
    eventually(&format!("{event} in {agency}'s inbox"), WAIT, || async {
        let entries: Vec<pb::InboxEntry> = system
            .inbox_entries(agency)
            .await
            .ok()?
            .into_iter()
            .filter(|e| e.case_id == case_id)
            .collect();
        entries.iter().any(|e| e.event == event).then_some(entries)
    })
    .await
}

async fn a_missed_receipt_is_escalated_to_the_copied_procuratorate(
    system: &System,
) -> anyhow::Result<()> {
    let referral = system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(submission("missed-1"))
        .await?
        .into_inner()
        .referral
        .expect("referral");
    assert_eq!(referral.procuratorate, PROCURATORATE);

    // The police owe the receipt and hear that it is overdue.
    let police = inbox_with(system, CITY_POLICE, &referral.id, "deadline_missed").await;
    let missed = police
        .iter()
        .find(|e| e.event == "deadline_missed")
        .expect("missed");
    assert_eq!(missed.family, "referral");
    assert!(missed.summary.contains("RCPT"), "{}", missed.summary);
    assert!(
        missed.summary.contains("福州市公安局"),
        "{}",
        missed.summary
    );

    // The procuratorate copied on the referral supervises it: the escalation is in its inbox.
    let procuratorate = inbox_with(system, PROCURATORATE, &referral.id, "deadline_escalated").await;
    let escalated = procuratorate
        .iter()
        .find(|e| e.event == "deadline_escalated")
        .expect("escalated");
    assert!(
        escalated.summary.contains("RCPT") && escalated.summary.contains("escalated"),
        "{}",
        escalated.summary
    );
    assert_eq!(
        procuratorate
            .iter()
            .filter(|e| e.event == "deadline_escalated")
            .count(),
        1,
        "escalated once"
    );

    // Nobody else hears of it: not the sender, not another supervisor.
    let market = system.inbox_entries(MARKET_BUREAU).await?;
    assert!(
        market
            .iter()
            .filter(|e| e.case_id == referral.id)
            .all(|e| !e.event.starts_with("deadline_")),
        "the sender owes nothing here"
    );
    let justice = system.inbox_entries(JUSTICE_BUREAU).await?;
    assert!(
        justice.iter().all(|e| e.case_id != referral.id),
        "referral steps are not the coordination office's"
    );

    // The supervisor's overdue board and the case's deadlines say the same.
    let overdue = MonitorServiceClient::new(system.channel(PROCURATORATE).await?)
        .list_obligations(pb::ListObligationsRequest {
            view: pb::ObligationView::Overdue.into(),
            case_id: referral.id.clone(),
            ..pb::ListObligationsRequest::default()
        })
        .await?
        .into_inner()
        .obligations;
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].rule, "RCPT");
    assert_eq!(overdue[0].stage, "missed");
    assert_eq!(overdue[0].supervisor, PROCURATORATE);
    let case = DeadlineServiceClient::new(system.channel(MARKET_BUREAU).await?)
        .list_case_deadlines(pb::ListCaseDeadlinesRequest {
            case_id: referral.id.clone(),
        })
        .await?
        .into_inner()
        .obligations;
    assert!(
        case[0]
            .explanation
            .iter()
            .any(|l| l.contains("0 hours") && l.contains("clock time")),
        "{:#?}",
        case[0].explanation
    );

    // A late receipt is still accepted, and recorded late.
    system
        .referrals(CITY_POLICE)
        .await?
        .sign_receipt(pb::SignReceiptRequest {
            request_id: "missed-receipt".into(),
            referral_id: referral.id.clone(),
        })
        .await?;
    let late = eventually("the receipt closes RCPT late", WAIT, || async {
        let obligations = DeadlineServiceClient::new(system.channel(CITY_POLICE).await.ok()?)
            .list_case_deadlines(pb::ListCaseDeadlinesRequest {
                case_id: referral.id.clone(),
            })
            .await
            .ok()?
            .into_inner()
            .obligations;
        obligations
            .into_iter()
            .find(|o| o.rule == "RCPT" && o.stage == "closed")
    })
    .await;
    assert!(late.late);
    Ok(())
}

async fn a_missed_transfer_receipt_is_escalated_to_the_coordination_office(
    system: &System,
) -> anyhow::Result<()> {
    let transfer = system
        .transfers(MARKET_BUREAU)
        .await?
        .send_transfer(transfer_sending("missed-transfer"))
        .await?
        .into_inner()
        .transfer
        .expect("transfer");

    // The receiver owes the receipt and hears that it is overdue.
    let receiver = inbox_with(system, ENVIRONMENT_BUREAU, &transfer.id, "deadline_missed").await;
    let missed = receiver
        .iter()
        .find(|e| e.event == "deadline_missed")
        .expect("missed");
    assert_eq!(missed.family, "transfer");
    assert!(missed.summary.contains("RCPT-F"), "{}", missed.summary);

    // The region's enforcement-supervision office gets the escalation, once.
    let office = inbox_with(system, JUSTICE_BUREAU, &transfer.id, "deadline_escalated").await;
    let escalations: Vec<_> = office
        .iter()
        .filter(|e| e.event == "deadline_escalated")
        .collect();
    assert_eq!(escalations.len(), 1, "escalated once");
    assert!(
        escalations[0].summary.contains("RCPT-F"),
        "{}",
        escalations[0].summary
    );

    // Not the procuratorate (transfer steps are not its to supervise), nor the sender.
    let procuratorate = system.inbox_entries(PROCURATORATE).await?;
    assert!(
        procuratorate.iter().all(|e| e.case_id != transfer.id),
        "transfer steps are not the procuratorate's"
    );
    let sender = system.inbox_entries(MARKET_BUREAU).await?;
    assert!(
        sender
            .iter()
            .filter(|e| e.case_id == transfer.id)
            .all(|e| !e.event.starts_with("deadline_")),
        "the sender owes nothing here"
    );
    let overdue = MonitorServiceClient::new(system.channel(JUSTICE_BUREAU).await?)
        .list_obligations(pb::ListObligationsRequest {
            view: pb::ObligationView::Overdue.into(),
            case_id: transfer.id.clone(),
            ..pb::ListObligationsRequest::default()
        })
        .await?
        .into_inner()
        .obligations;
    assert_eq!(overdue.len(), 1, "{overdue:#?}");
    assert_eq!(overdue[0].rule, "RCPT-F");
    assert_eq!(overdue[0].supervisor, JUSTICE_BUREAU);
    assert_eq!(overdue[0].owed_by, ENVIRONMENT_BUREAU);
    Ok(())
}

#[tokio::test]
async fn missed_deadlines_reach_their_supervisors_on_the_embedded_default() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let system = System::embedded_with(immediate_receipt_rules(dir.path())?, "info").await?;
    a_missed_receipt_is_escalated_to_the_copied_procuratorate(&system).await?;
    a_missed_transfer_receipt_is_escalated_to_the_coordination_office(&system).await?;
    system.stop().await
}

#[tokio::test]
async fn missed_deadlines_reach_their_supervisors_on_rabbitmq_and_postgresql() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let system = System::distributed_with(immediate_receipt_rules(dir.path())?, "info").await?;
    a_missed_receipt_is_escalated_to_the_copied_procuratorate(&system).await?;
    a_missed_transfer_receipt_is_escalated_to_the_coordination_office(&system).await?;
    system.stop().await
}
