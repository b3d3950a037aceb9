//! The referral path end to end, through the real binary: an administrative agency refers a
//! suspected crime, it reaches the police inbox (copied to the procuratorate), the police sign
//! the receipt and decide; on the embedded default and as separate processes on RabbitMQ and
//! PostgreSQL.

use std::time::Duration;

use casebridge_platform::testing::eventually;
use casebridge_proto::v1 as pb;
use casebridge_tests::agencies::*;
use casebridge_tests::{System, submission};
use tonic::Code;

const WAIT: Duration = Duration::from_secs(20);

async fn the_referral_path(system: &System) -> anyhow::Result<()> {
    // The police watch their inbox live before anything is sent.
    let mut police_inbox = system.inbox(CITY_POLICE).await?;
    let mut live = police_inbox
        .watch_inbox(pb::WatchInboxRequest {
            after_cursor: None,
            follow: true,
        })
        .await?
        .into_inner();

    let mut sender = system.referrals(MARKET_BUREAU).await?;
    let result = sender
        .submit_referral(submission("e2e-1"))
        .await?
        .into_inner();
    assert!(!result.replayed);
    let referral = result.referral.expect("referral");
    assert_eq!(referral.status, pb::ReferralStatus::Submitted as i32);
    assert_eq!(
        referral.procuratorate, PROCURATORATE,
        "copied to the procuratorate"
    );

    let arrived = tokio::time::timeout(WAIT, live.message())
        .await??
        .expect("an entry");
    assert_eq!(arrived.case_id, referral.id);
    assert_eq!(arrived.event, "submitted");
    assert_eq!(arrived.family, "referral");
    assert!(
        !arrived.summary.contains("张三"),
        "personal data in a summary: {}",
        arrived.summary
    );

    // A retry with the same request id is the original result, not a second referral.
    let again = sender
        .submit_referral(submission("e2e-1"))
        .await?
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.referral.expect("referral").id, referral.id);

    let mut police = system.referrals(CITY_POLICE).await?;
    let early = police
        .decide_filing(pb::DecideFilingRequest {
            request_id: "decide-too-early".into(),
            referral_id: referral.id.clone(),
            decision: Some(pb::decide_filing_request::Decision::File(pb::FileCase {
                note: String::new(),
            })),
        })
        .await
        .expect_err("no decision before the receipt");
    assert_eq!(early.code(), Code::FailedPrecondition, "{early:?}");

    police
        .sign_receipt(pb::SignReceiptRequest {
            request_id: "receipt-1".into(),
            referral_id: referral.id.clone(),
        })
        .await?;
    let filed = police
        .decide_filing(pb::DecideFilingRequest {
            request_id: "decide-1".into(),
            referral_id: referral.id.clone(),
            decision: Some(pb::decide_filing_request::Decision::File(pb::FileCase {
                note: "立案侦查".into(),
            })),
        })
        .await?
        .into_inner()
        .referral
        .expect("referral");
    assert_eq!(filed.status, pb::ReferralStatus::Filed as i32);
    assert_eq!(filed.version, 3);

    // The agency hears of the receipt and the decision; the procuratorate of every step.
    let events = |entries: Vec<pb::InboxEntry>| -> Vec<String> {
        entries
            .into_iter()
            .filter(|e| e.case_id == referral.id)
            .map(|e| e.event)
            .collect()
    };
    let sender_events = eventually("the agency told of receipt and filing", WAIT, || async {
        let got = events(system.inbox_entries(MARKET_BUREAU).await.ok()?);
        (got.len() == 2).then_some(got)
    })
    .await;
    assert_eq!(sender_events, ["receipt_signed", "filed"]);
    let copied = eventually("the procuratorate told of every step", WAIT, || async {
        let got = events(system.inbox_entries(PROCURATORATE).await.ok()?);
        (got.len() == 3).then_some(got)
    })
    .await;
    assert_eq!(copied, ["submitted", "receipt_signed", "filed"]);

    // Only parties may read it.
    let outsider = system
        .referrals(JUSTICE_BUREAU)
        .await?
        .get_referral(pb::GetReferralRequest {
            referral_id: referral.id.clone(),
        })
        .await
        .expect_err("not a party");
    assert_eq!(outsider.code(), Code::PermissionDenied, "{outsider:?}");

    // Bad input names its field.
    let mut bad = submission("e2e-bad");
    bad.police = "11350100MB0100006X".into();
    let refused = sender.submit_referral(bad).await.expect_err("bad code");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("police"),
        "{}",
        refused.message()
    );

    // Acknowledging moves the resume point of the police inbox.
    let acked = police_inbox
        .acknowledge_inbox(pb::AcknowledgeInboxRequest {
            up_to_cursor: arrived.cursor,
        })
        .await?
        .into_inner();
    assert_eq!(acked.acknowledged_cursor, arrived.cursor);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_travels_from_agency_to_police_on_the_embedded_default() -> anyhow::Result<()> {
    let system = System::embedded().await?;
    the_referral_path(&system).await?;
    system.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_travels_from_agency_to_police_as_separate_processes_on_rabbitmq_and_postgres()
-> anyhow::Result<()> {
    let system = System::distributed().await?;
    the_referral_path(&system).await?;
    system.stop().await
}
