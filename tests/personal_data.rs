//! Personal data never reaches logs (docs/security.md): a full referral runs through the real
//! binary with every process logging at debug level, with parties whose names and identity
//! numbers are distinctive strings, and then every line any process wrote is searched for them.
//! On the embedded default and as separate processes on RabbitMQ and PostgreSQL (where message
//! bodies also cross the broker client).

use std::time::Duration;

use casebridge_platform::testing::eventually;
use casebridge_proto::v1 as pb;
use casebridge_tests::agencies::*;
use casebridge_tests::{System, submission};

const WAIT: Duration = Duration::from_secs(20);

/// Personal data of the referral, each a string that appears nowhere else.
const SECRETS: &[&str] = &[
    "欧阳隐私测试",             // a party's name
    "PD-ID-530102198807155678", // that party's identity number
    "慕容保密样本",             // a second party, an organisation
    "PD-USCC-91350100PD0000XQ", // its credit code
    "+86-139-7531-8642",        // the case officer's phone
];

fn submission_with_personal_data(request_id: &str) -> pb::SubmitReferralRequest {
    let mut request = submission(request_id);
    request.parties = vec![
        pb::Party {
            name: SECRETS[0].into(),
            id_number: SECRETS[1].into(),
        },
        pb::Party {
            name: SECRETS[2].into(),
            id_number: SECRETS[3].into(),
        },
    ];
    request.case_officer_phone = SECRETS[4].into();
    request
}

/// Runs a referral from submission to filing, reading it as every party on the way, and
/// returns its id once every service has seen the last step.
async fn a_full_referral(system: &System) -> anyhow::Result<String> {
    let mut sender = system.referrals(MARKET_BUREAU).await?;
    // Built once: its times come from the clock, so a second build may differ.
    let request = submission_with_personal_data("pd-1");
    let referral = sender
        .submit_referral(request.clone())
        .await?
        .into_inner()
        .referral
        .expect("referral");
    assert_eq!(
        referral.parties[0].name, SECRETS[0],
        "the wire carries personal data to the parties: the test must not pass for lack of it"
    );
    // A replay, and a conflicting reuse of the request id, take other paths through the code.
    sender.submit_referral(request.clone()).await?;
    let mut conflicting = request;
    conflicting.summary.push_str(" (changed)");
    let _ = sender.submit_referral(conflicting).await;

    let mut police = system.referrals(CITY_POLICE).await?;
    police
        .sign_receipt(pb::SignReceiptRequest {
            request_id: "pd-receipt".into(),
            referral_id: referral.id.clone(),
        })
        .await?;
    police
        .get_referral(pb::GetReferralRequest {
            referral_id: referral.id.clone(),
        })
        .await?;
    police
        .decide_filing(pb::DecideFilingRequest {
            request_id: "pd-file".into(),
            referral_id: referral.id.clone(),
            decision: Some(pb::decide_filing_request::Decision::File(pb::FileCase {
                note: "立案侦查".into(),
            })),
        })
        .await?;
    // Every consumer has handled the last step once the procuratorate's inbox shows it.
    eventually("the procuratorate told of every step", WAIT, || async {
        let entries = system.inbox_entries(PROCURATORATE).await.ok()?;
        let steps = entries.iter().filter(|e| e.case_id == referral.id).count();
        (steps == 3).then_some(())
    })
    .await;
    system
        .referrals(PROCURATORATE)
        .await?
        .get_referral(pb::GetReferralRequest {
            referral_id: referral.id.clone(),
        })
        .await?;
    Ok(referral.id)
}

/// `text` without ANSI colour sequences (`ESC [ … m`), which the log format writes around
/// field names and values.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The personal data found in `logs`, if any, each with the first line it appears on.
fn leaks(logs: &str) -> Vec<String> {
    let logs = plain(logs);
    SECRETS
        .iter()
        .filter_map(|secret| {
            logs.lines()
                .find(|line| line.contains(secret))
                .map(|line| format!("{secret:?} in: {line}"))
        })
        .collect()
}

/// Checks the logs are the debug-level logs of this referral, so a clean result means something.
fn assert_logs_cover(logs: &str, referral_id: &str) {
    assert!(
        logs.lines().filter(|l| l.contains("DEBUG")).count() > 20,
        "the processes did not log at debug level:\n{logs}"
    );
    assert!(
        logs.contains(referral_id),
        "the logs never mention referral {referral_id}: they do not cover it"
    );
}

#[test]
fn the_search_finds_personal_data_wherever_it_is_on_a_line() {
    let planted = format!(
        "2026-11-23 DEBUG submit{{party={}}}: accepted\n",
        SECRETS[1]
    );
    assert_eq!(leaks(&planted).len(), 1);
    let coloured = format!("\u{1b}[3mname\u{1b}[0m\u{1b}[2m=\u{1b}[0m{}", SECRETS[0]);
    assert_eq!(leaks(&coloured).len(), 1);
    assert!(leaks("2026-11-23 DEBUG submit{party=«redacted»}: accepted").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_in_debug_logs_on_the_embedded_default() -> anyhow::Result<()> {
    let system = System::embedded_logging("debug").await?;
    let referral_id = a_full_referral(&system).await?;
    let logs = system.logs();
    assert_logs_cover(&logs, &referral_id);
    assert_eq!(
        leaks(&logs),
        Vec::<String>::new(),
        "personal data in the logs"
    );
    system.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_in_debug_logs_as_separate_processes_on_rabbitmq_and_postgres()
-> anyhow::Result<()> {
    let system = System::distributed_logging("debug").await?;
    let referral_id = a_full_referral(&system).await?;
    let logs = system.logs();
    assert_logs_cover(&logs, &referral_id);
    assert_eq!(
        leaks(&logs),
        Vec::<String>::new(),
        "personal data in the logs"
    );
    system.stop().await
}
