//! Penalty-case records, screening and the early warning (移送预警), end to end through the real
//! binary: on the embedded default and as separate processes on RabbitMQ and PostgreSQL.
//!
//! Nobody waits five working days: the system runs with a test rule table (`deadlines.rules`, the
//! documented setting) in which WARN-RAISE is 0 hours, so a record that meets a threshold is
//! raised to the procuratorate as soon as the deadlines service sees it. The answer to the
//! procuratorate's opinion keeps its shipped 10 working days in the first test, and is 0 hours
//! in the second, where the agency misses it.

use std::time::Duration;

use casebridge_platform::testing::eventually;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::monitor_service_client::MonitorServiceClient;
use casebridge_tests::agencies::*;
use casebridge_tests::{System, penalty_record, rules_with_periods, submission};
use tonic::Code;

const WAIT: Duration = Duration::from_secs(30);

/// A case of counterfeit goods (伪劣产品) against a company, closed with a fine, with `sales` yuan
/// of sales.
fn record(request_id: &str, sales: &str) -> pb::RecordPenaltyRequest {
    penalty_record(
        request_id,
        sales,
        pb::Party {
            name: "福州某贸易有限公司".into(),
            id_number: "91350100MA00000000".into(),
        },
    )
}

/// The record as `agency` reads it, once `done` holds of it.
async fn record_when(
    system: &System,
    agency: &str,
    id: &str,
    what: &str,
    done: impl Fn(&pb::PenaltyRecord) -> bool,
) -> pb::PenaltyRecord {
    eventually(what, WAIT, || async {
        let found = system
            .penalties(agency)
            .await
            .ok()?
            .get_penalty_record(pb::GetPenaltyRecordRequest {
                record_id: id.to_owned(),
            })
            .await
            .ok()?
            .into_inner();
        done(&found).then_some(found)
    })
    .await
}

fn status(r: &pb::PenaltyRecord) -> pb::PenaltyStatus {
    pb::PenaltyStatus::try_from(r.status).unwrap_or(pb::PenaltyStatus::Unspecified)
}

/// Records a case over the threshold and waits until its warning reached the procuratorate.
async fn raised(system: &System, request_id: &str) -> anyhow::Result<pb::PenaltyRecord> {
    let recorded = system
        .penalties(MARKET_BUREAU)
        .await?
        .record_penalty(record(request_id, "60000"))
        .await?
        .into_inner()
        .record
        .expect("record");
    assert_eq!(recorded.hits.len(), 1, "{:?}", recorded.hits);
    assert_eq!(recorded.hits[0].rule, "CL-140");
    assert!(
        recorded.hits[0]
            .description
            .contains("60000.00 yuan ≥ 50000.00 yuan"),
        "{}",
        recorded.hits[0].description
    );
    Ok(record_when(
        system,
        PROCURATORATE,
        &recorded.id,
        "the warning raised",
        |r| status(r) == pb::PenaltyStatus::WarningRaised,
    )
    .await)
}

async fn suggest(
    system: &System,
    record_id: &str,
    request_id: &str,
) -> anyhow::Result<pb::PenaltyRecord> {
    Ok(system
        .penalties(PROCURATORATE)
        .await?
        .suggest_referral(pb::SuggestReferralRequest {
            request_id: request_id.into(),
            record_id: record_id.into(),
            ground: pb::ReferralGround::PenaltyInsteadOfProsecution.into(),
            reasons: "销售金额六万元，已达生产、销售伪劣产品罪立案追诉标准".into(),
            documents: Vec::new(),
        })
        .await?
        .into_inner()
        .record
        .expect("record"))
}

async fn answered_on_time(system: &System) -> anyhow::Result<()> {
    // 1. Over the threshold and not referred: the agency is warned, then the procuratorate.
    let first = raised(system, "pen-1").await?;
    // The agency heard of it first (the inbox learns of each step a moment after it).
    system
        .heard(MARKET_BUREAU, &first.id, "agency_warned")
        .await;
    let warning = first.warnings.last().expect("a warning");
    assert_eq!(warning.procuratorate, PROCURATORATE);
    assert!(warning.hits[0].verified);

    // A stranger is refused, and the refusal says nothing of the record.
    let stranger = system
        .penalties(ENVIRONMENT_BUREAU)
        .await?
        .get_penalty_record(pb::GetPenaltyRecordRequest {
            record_id: first.id.clone(),
        })
        .await
        .expect_err("refused");
    assert_eq!(stranger.code(), Code::PermissionDenied);
    for secret in ["CL-140", "福州某贸易", "60000", PROCURATORATE] {
        assert!(
            !stranger.message().contains(secret),
            "{}",
            stranger.message()
        );
    }

    // The procuratorate's opinion; the agency refers and names the referral.
    let suggested = suggest(system, &first.id, "pen-1-suggest").await?;
    assert_eq!(status(&suggested), pb::PenaltyStatus::ReferralSuggested);
    let warning = suggested.warnings.last().expect("a warning");
    assert!(warning.answer_due.is_some());
    // Someone else's referral is refused with one answer, whatever the id names.
    let foreign = system
        .penalties(MARKET_BUREAU)
        .await?
        .link_referral(pb::LinkReferralRequest {
            request_id: "pen-1-link-foreign".into(),
            record_id: first.id.clone(),
            referral_id: uuid_like(),
        })
        .await
        .expect_err("refused");
    assert_eq!(foreign.code(), Code::InvalidArgument);
    assert!(
        foreign.message().contains("referral_id"),
        "{}",
        foreign.message()
    );
    let referral = system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(submission("pen-1-referral"))
        .await?
        .into_inner()
        .referral
        .expect("referral");
    let linked = system
        .penalties(MARKET_BUREAU)
        .await?
        .link_referral(pb::LinkReferralRequest {
            request_id: "pen-1-link".into(),
            record_id: first.id.clone(),
            referral_id: referral.id.clone(),
        })
        .await?
        .into_inner()
        .record
        .expect("record");
    assert_eq!(status(&linked), pb::PenaltyStatus::ReferralLinked);
    assert_eq!(linked.referral_id, referral.id);
    let warning = linked.warnings.last().expect("a warning");
    assert!(warning.answered_late.is_none(), "answered on time");
    system
        .heard(PROCURATORATE, &first.id, "referral_linked")
        .await;

    // 2. A second such record: the agency explains in writing why it does not refer.
    let second = raised(system, "pen-2").await?;
    suggest(system, &second.id, "pen-2-suggest").await?;
    let now = chrono::Utc::now().timestamp();
    let past = |hours: i64| {
        Some(prost_types::Timestamp {
            seconds: now - hours * 3600,
            nanos: 0,
        })
    };
    let not_referred = system
        .referrals(MARKET_BUREAU)
        .await?
        .record_non_referral(pb::RecordNonReferralRequest {
            request_id: "pen-2-not-referred".into(),
            suspected_offence: "生产、销售伪劣产品罪".into(),
            summary: "经复核，涉案产品经检验合格，不属伪劣产品".into(),
            report_received_at: past(48),
            decided_at: past(1),
            approver: "局长 王五".into(),
            reasons: "涉案产品经检验合格".into(),
            documents: vec![pb::Document {
                kind: pb::DocumentKind::InvestigationReport.into(),
                title: "复核报告".into(),
                sha256: String::new(),
            }],
            parties: vec![pb::Party {
                name: "福州某贸易有限公司".into(),
                id_number: String::new(),
            }],
        })
        .await?
        .into_inner()
        .referral
        .expect("recorded");
    // A referral that was made is not a decision not to refer.
    let wrong = system
        .penalties(MARKET_BUREAU)
        .await?
        .explain_non_referral(pb::ExplainNonReferralRequest {
            request_id: "pen-2-explain-wrong".into(),
            record_id: second.id.clone(),
            non_referral_id: referral.id.clone(),
            explanation: "x".into(),
            documents: Vec::new(),
        })
        .await
        .expect_err("refused");
    assert_eq!(wrong.code(), Code::InvalidArgument);
    let explained = system
        .penalties(MARKET_BUREAU)
        .await?
        .explain_non_referral(pb::ExplainNonReferralRequest {
            request_id: "pen-2-explain".into(),
            record_id: second.id.clone(),
            non_referral_id: not_referred.id.clone(),
            explanation: "涉案产品经法定检验机构检验合格，不构成伪劣产品，不予移送".into(),
            documents: Vec::new(),
        })
        .await?
        .into_inner()
        .record
        .expect("record");
    assert_eq!(status(&explained), pb::PenaltyStatus::NonReferralExplained);

    // 3. Under the threshold: recorded, screened, and nobody warned.
    let under = system
        .penalties(MARKET_BUREAU)
        .await?
        .record_penalty(record("pen-4", "49999.99"))
        .await?
        .into_inner()
        .record
        .expect("record");
    assert_eq!(status(&under), pb::PenaltyStatus::Recorded);
    assert!(under.hits.is_empty() && under.warnings.is_empty());
    // A record over the threshold made after it is raised; by then the one under it, whose
    // events were published first, has long reached the agency's inbox, with no warning.
    let third = raised(system, "pen-5").await?;
    let market = eventually(
        "the record under the threshold in the inbox",
        WAIT,
        || async {
            let events = system.events_about(MARKET_BUREAU, &under.id).await.ok()?;
            (!events.is_empty()).then_some(events)
        },
    )
    .await;
    assert_eq!(market, ["recorded"], "no warning on {}", under.id);
    let procuratorate = system
        .penalties(PROCURATORATE)
        .await?
        .list_penalty_records(pb::ListCasesRequest {
            status: String::new(),
            role: pb::PartyRole::Unspecified.into(),
            page_size: 50,
            page_token: String::new(),
        })
        .await?
        .into_inner();
    let listed: Vec<&str> = procuratorate
        .cases
        .iter()
        .map(|c| c.case_id.as_str())
        .collect();
    assert!(listed.contains(&third.id.as_str()), "{listed:?}");
    assert!(!listed.contains(&under.id.as_str()), "{listed:?}");

    // 移送率 (issue 19): three records over the threshold (pen-1 referred, pen-2 explained,
    // pen-5 raised), one referred; the one under it does not count.
    let market = eventually("移送率 in the statistics", WAIT, || async {
        let now = chrono::Utc::now().timestamp();
        let around = |s: i64| {
            Some(prost_types::Timestamp {
                seconds: now + s,
                nanos: 0,
            })
        };
        let statistics = MonitorServiceClient::new(system.channel(PROCURATORATE).await.ok()?)
            .get_statistics(pb::GetStatisticsRequest {
                from: around(-86_400),
                to: around(86_400),
                agency: MARKET_BUREAU.into(),
            })
            .await
            .ok()?
            .into_inner();
        let row = statistics
            .agencies
            .into_iter()
            .find(|r| r.agency == MARKET_BUREAU)?;
        (row.penalty_over_threshold == 3).then_some(row)
    })
    .await;
    assert_eq!(market.penalty_referred, 1);
    let rate = market.referral_rate.expect("a rate");
    assert!((rate - 1.0 / 3.0).abs() < 1e-9, "{rate}");

    // 4. A refused form names its field, and nothing is recorded.
    let mut bad = record("pen-bad", "5万");
    if let Some(case) = bad.case.as_mut() {
        case.violation = "Fake Goods".into();
    }
    let refused = system
        .penalties(MARKET_BUREAU)
        .await?
        .record_penalty(bad)
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    for field in ["case.violation", "case.measures.sales_amount.yuan"] {
        assert!(refused.message().contains(field), "{}", refused.message());
    }
    Ok(())
}

async fn missed(system: &System) -> anyhow::Result<()> {
    let record = raised(system, "pen-3").await?;
    suggest(system, &record.id, "pen-3-suggest").await?;
    // The answer is due at once: the deadlines service escalates the miss to the procuratorate,
    // and the record says so.
    let overdue = record_when(
        system,
        PROCURATORATE,
        &record.id,
        "the answer overdue",
        |r| status(r) == pb::PenaltyStatus::AnswerOverdue,
    )
    .await;
    assert!(overdue.history.iter().any(|h| h.step == "mark_overdue"));
    let procuratorate = eventually(
        "the escalation in the procuratorate's inbox",
        WAIT,
        || async {
            let events = system.events_about(PROCURATORATE, &record.id).await.ok()?;
            (events.iter().any(|e| e == "deadline_escalated")
                && events.iter().any(|e| e == "escalated"))
            .then_some(events)
        },
    )
    .await;
    assert!(
        procuratorate.iter().any(|e| e == "raised"),
        "{procuratorate:?}"
    );
    Ok(())
}

/// The shipped threshold table with CL-140 (伪劣产品, sales) at `yuan`, versioned by it.
fn thresholds_at(yuan: &str) -> String {
    let shipped = casebridge_core::screening::SHIPPED_THRESHOLDS;
    assert!(
        shipped.contains("threshold = \"50000\"\n"),
        "CL-140 is at 50,000 yuan in the shipped table"
    );
    let table = shipped.replacen(
        "threshold = \"50000\"\n",
        &format!("threshold = \"{yuan}\"\n"),
        1,
    );
    table.replacen(
        "version = \"2026-12\"\n",
        &format!("version = \"test-{yuan}\"\n"),
        1,
    )
}

/// A record under the threshold is re-screened when a start loads a table whose threshold it
/// meets: the agency is warned as on arrival, the step is on the timeline; a start with the
/// same table again takes no step.
async fn rescreened_when_the_table_changes(distributed: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let table = dir.path().join("thresholds.toml");
    std::fs::write(&table, thresholds_at("50000"))?;
    let settings = vec![(
        "CASEBRIDGE__SCREENING__THRESHOLDS".to_owned(),
        table.display().to_string(),
    )];
    let mut system = if distributed {
        System::distributed_with(settings, "info").await?
    } else {
        System::embedded_with(settings, "info").await?
    };
    let recorded = system
        .penalties(MARKET_BUREAU)
        .await?
        .record_penalty(record("rescreen-1", "40000"))
        .await?
        .into_inner()
        .record
        .expect("record");
    assert_eq!(status(&recorded), pb::PenaltyStatus::Recorded);
    assert!(recorded.hits.is_empty(), "{:?}", recorded.hits);
    assert_eq!(recorded.versions[0].screened_under, "test-50000");
    system.heard(MARKET_BUREAU, &recorded.id, "recorded").await;

    // The threshold is lowered to 30,000 yuan; the table takes effect at the next start.
    std::fs::write(&table, thresholds_at("30000"))?;
    system.restart_penalties().await?;
    let warned = record_when(
        &system,
        MARKET_BUREAU,
        &recorded.id,
        "the record warned under the new table",
        |r| status(r) == pb::PenaltyStatus::AgencyWarned,
    )
    .await;
    assert_eq!(warned.hits.len(), 1, "{:?}", warned.hits);
    assert!(
        warned.hits[0]
            .description
            .contains("40000.00 yuan ≥ 30000.00 yuan"),
        "{}",
        warned.hits[0].description
    );
    let steps: Vec<&str> = warned.history.iter().map(|h| h.step.as_str()).collect();
    assert_eq!(steps, ["record", "rescreen", "open"]);
    assert!(
        warned.history[1].note.contains("test-30000"),
        "{}",
        warned.history[1].note
    );
    assert_eq!(warned.versions[0].screened_under, "test-30000");
    system
        .heard(MARKET_BUREAU, &recorded.id, "agency_warned")
        .await;
    system
        .heard(MARKET_BUREAU, &recorded.id, "rescreened")
        .await;

    // The same table again: nothing to screen, no step.
    system.restart_penalties().await?;
    let again = record_when(&system, MARKET_BUREAU, &recorded.id, "the record", |_| true).await;
    assert_eq!(again.version, warned.version);
    assert_eq!(again.history.len(), warned.history.len());
    assert!(
        system
            .logs()
            .contains("open penalty records re-screened under the threshold table in force"),
        "the pass is logged"
    );
    system.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_record_is_rescreened_when_the_threshold_table_changes() -> anyhow::Result<()> {
    rescreened_when_the_table_changes(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_a_record_is_rescreened_when_the_threshold_table_changes() -> anyhow::Result<()>
{
    rescreened_when_the_table_changes(true).await
}

fn uuid_like() -> String {
    "0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b".into()
}

async fn with_periods(
    periods: &[(&str, u32, &str)],
    distributed: bool,
    run: impl AsyncFnOnce(&System) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let settings = rules_with_periods(dir.path(), periods)?;
    let system = if distributed {
        System::distributed_with(settings, "info").await?
    } else {
        System::embedded_with(settings, "info").await?
    };
    run(&system).await?;
    system.stop().await
}

const RAISE_AT_ONCE: &[(&str, u32, &str)] = &[("WARN-RAISE", 0, "hours")];
const ANSWER_AT_ONCE: &[(&str, u32, &str)] =
    &[("WARN-RAISE", 0, "hours"), ("WARN-ANSWER", 0, "hours")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_warning_is_raised_and_answered_by_a_referral_or_an_explanation()
-> anyhow::Result<()> {
    with_periods(RAISE_AT_ONCE, false, answered_on_time).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_a_warning_is_raised_and_answered_by_a_referral_or_an_explanation()
-> anyhow::Result<()> {
    with_periods(RAISE_AT_ONCE, true, answered_on_time).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_missed_answer_is_escalated_to_the_procuratorate() -> anyhow::Result<()> {
    with_periods(ANSWER_AT_ONCE, false, missed).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_a_missed_answer_is_escalated_to_the_procuratorate() -> anyhow::Result<()> {
    with_periods(ANSWER_AT_ONCE, true, missed).await
}

/// `casebridge penalty …` and `casebridge warning …` as an agency and its procuratorate use them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_records_a_penalty_and_the_procuratorate_suggests_referral() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let system =
        System::embedded_with(rules_with_periods(dir.path(), RAISE_AT_ONCE)?, "info").await?;
    let decided = (chrono::Utc::now() - chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    let (code, out, err) = system
        .cli_as(
            MARKET_BUREAU,
            &[
                "penalty",
                "record",
                "--case-number",
                "榕市监处〔2026〕cli号",
                "--violation",
                "fake_or_substandard_product",
                "--legal-basis",
                "《中华人民共和国产品质量法》第五十条",
                "--party",
                "福州某贸易有限公司",
                "--sales-amount",
                "80000",
                "--decision-number",
                "榕市监罚〔2026〕cli号",
                "--decided-on",
                &decided,
                "--penalty",
                "罚款",
            ],
        )
        .await?;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("meets:   CL-140"), "{out}");
    let id = out
        .lines()
        .find_map(|line| line.strip_prefix("penalty record "))
        .expect("the record's id")
        .trim()
        .to_owned();

    // The procuratorate's list shows it once raised; it gives its opinion.
    eventually("the warning on the procuratorate's list", WAIT, || async {
        let (_, out, _) = system
            .cli_as(PROCURATORATE, &["warning", "list"])
            .await
            .ok()?;
        out.contains(&id).then_some(())
    })
    .await;
    let (code, out, err) = system
        .cli_as(
            PROCURATORATE,
            &[
                "warning",
                "suggest",
                &id,
                "--reasons",
                "销售金额八万元，已达追诉标准",
            ],
        )
        .await?;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("referral_suggested"), "{out}");
    assert!(out.contains("answer due"), "{out}");

    // A bad amount is refused by its field, with the refusal exit code.
    let (code, out, err) = system
        .cli_as(
            MARKET_BUREAU,
            &[
                "penalty",
                "record",
                "--case-number",
                "x",
                "--violation",
                "fake_or_substandard_product",
                "--legal-basis",
                "x",
                "--party",
                "某",
                "--sales-amount",
                "八万",
                "--decision-number",
                "x",
                "--decided-on",
                &decided,
                "--penalty",
                "罚款",
            ],
        )
        .await?;
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(err.contains("case.measures.sales_amount.yuan"), "{err}");
    system.stop().await
}
