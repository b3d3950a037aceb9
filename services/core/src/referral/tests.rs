//! Tests of the criminal referral state machine, on the shipped example directory.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::case::{self, Case, Rejection, TITLE_MAX_CHARS, invalid};
use crate::directory::{Agency, AgencyKind, Directory};
use crate::ids::RegionCode;
use crate::ids::Sha256Digest;
use crate::ids::{AgencyCode, CaseId};
use crate::law::Law;
use crate::notice::Role;
use crate::personal::PersonalData;
use crate::time::Timestamp;

const DEPLOY_DIRECTORY: &str = include_str!("../../../../deploy/directory.toml");

struct World {
    directory: Directory,
    law: Law,
    market: Agency,
    environment: Agency,
    police: Agency,
    branch: Agency,
    procuratorate: Agency,
    justice: Agency,
    lab: Agency,
}

fn world() -> World {
    let directory = Directory::from_toml_str(DEPLOY_DIRECTORY).unwrap();
    let named = |name: &str| {
        directory
            .agencies()
            .find(|a| a.name == name)
            .cloned()
            .unwrap()
    };
    World {
        market: named("福州市市场监督管理局"),
        environment: named("福州市生态环境局"),
        police: named("福州市公安局"),
        branch: named("福州市公安局鼓楼分局"),
        procuratorate: named("福州市人民检察院"),
        justice: named("福州市司法局"),
        lab: named("福州市产品质量检验研究院"),
        law: law(),
        directory,
    }
}

/// The shipped calendars and rule table.
pub(crate) fn law() -> Law {
    Law::shipped().unwrap()
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn doc(kind: DocumentKind, title: &str) -> Document {
    Document {
        kind,
        title: title.to_owned(),
        sha256: Some(Sha256Digest::of(title.as_bytes())),
    }
}

fn package() -> Vec<Document> {
    vec![
        doc(DocumentKind::ReferralLetter, "涉嫌犯罪案件移送书"),
        doc(DocumentKind::InvestigationReport, "调查报告"),
        doc(DocumentKind::SeizedItemsList, "涉案物品清单"),
    ]
}

const CASE: &str = "0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7b";
const REPORT: &str = "2026-02-13T09:00:00+08:00";
const APPROVED: &str = "2026-02-14T10:00:00+08:00";
const SENT: &str = "2026-02-14T15:00:00+08:00";

fn submission(w: &World) -> Submission {
    Submission {
        case_id: CaseId::parse(CASE).unwrap(),
        police: w.police.code.clone(),
        suspected_offence: "生产、销售伪劣产品罪".to_owned(),
        summary: "当事人销售不合格电线，货值金额超过五万元".to_owned(),
        report_received_at: at(REPORT),
        approved_at: at(APPROVED),
        items_tested: false,
        penalty_imposed: false,
        documents: package(),
        parties: vec![Party {
            name: PersonalData::new("某电线销售有限公司"),
            id_number: Some(PersonalData::new("91350100M000100Y43")),
        }],
        case_officer: "李四".to_owned(),
        case_officer_phone: PersonalData::new("0591-00000000"),
    }
}

fn run(
    w: &World,
    current: Option<&Referral>,
    command: ReferralCommand,
    actor: &Agency,
    now: &str,
) -> Result<Decision, Rejection> {
    decide(
        current,
        &command,
        actor,
        &Context {
            directory: &w.directory,
            law: &w.law,
            policy: &ReferralPolicy::default(),
        },
        at(now),
    )
}

fn submitted(w: &World) -> Referral {
    run(
        w,
        None,
        ReferralCommand::Submit(submission(w)),
        &w.market,
        SENT,
    )
    .unwrap()
    .case
}

fn received(w: &World) -> Referral {
    let r = submitted(w);
    run(
        w,
        Some(&r),
        ReferralCommand::SignReceipt,
        &w.police,
        "2026-02-14T16:00:00+08:00",
    )
    .unwrap()
    .case
}

fn only_event(d: &Decision) -> &ReferralEvent {
    assert_eq!(d.events.len(), 1);
    &d.events[0]
}

#[test]
fn a_referral_goes_from_submission_through_a_supplement_to_filing() {
    let w = world();

    let d = run(
        &w,
        None,
        ReferralCommand::Submit(submission(&w)),
        &w.market,
        SENT,
    )
    .unwrap();
    let r = d.case.clone();
    assert_eq!(r.status, ReferralStatus::Submitted);
    assert_eq!(r.version, 1);
    assert_eq!(r.sender, w.market.code);
    assert_eq!(r.police, Some(w.police.code.clone()));
    assert_eq!(r.procuratorate, Some(w.procuratorate.code.clone()));
    assert_eq!(r.submitted_at, at(SENT));
    assert!(r.flags.is_empty(), "flags: {:?}", r.flags);
    let e = only_event(&d);
    assert_eq!(e.kind.name(), "submitted");
    assert_eq!(
        e.recipients,
        [w.police.code.clone(), w.procuratorate.code.clone()]
    );

    let d = run(
        &w,
        Some(&r),
        ReferralCommand::SignReceipt,
        &w.police,
        "2026-02-14T16:00:00+08:00",
    )
    .unwrap();
    let r = d.case.clone();
    assert_eq!(r.status, ReferralStatus::Received);
    assert_eq!(only_event(&d).kind, ReferralEventKind::ReceiptSigned);
    assert_eq!(
        only_event(&d).recipients,
        [w.market.code.clone(), w.procuratorate.code.clone()]
    );

    let request = ReferralCommand::RequestSupplement {
        missing: vec![DocumentKind::TestReport],
        note: "请补充电线检验报告".to_owned(),
    };
    let d = run(
        &w,
        Some(&r),
        request,
        &w.police,
        "2026-02-15T09:00:00+08:00",
    )
    .unwrap();
    let r = d.case.clone();
    assert_eq!(r.status, ReferralStatus::AwaitingSupplement);
    assert_eq!(only_event(&d).kind.name(), "supplement_requested");
    assert_eq!(
        only_event(&d).recipients,
        [w.market.code.clone(), w.procuratorate.code.clone()]
    );

    let added = vec![doc(DocumentKind::TestReport, "电线检验报告")];
    let supplement = ReferralCommand::Supplement {
        documents: added.clone(),
        note: "已补充".to_owned(),
    };
    let d = run(
        &w,
        Some(&r),
        supplement,
        &w.market,
        "2026-02-16T09:00:00+08:00",
    )
    .unwrap();
    let r = d.case.clone();
    assert_eq!(r.status, ReferralStatus::Received);
    assert_eq!(r.documents.len(), 4);
    assert_eq!(r.documents[3], added[0]);
    assert_eq!(
        only_event(&d).kind,
        ReferralEventKind::Supplemented { documents: added }
    );
    assert_eq!(
        only_event(&d).recipients,
        [w.police.code.clone(), w.procuratorate.code.clone()]
    );

    let file = ReferralCommand::File {
        note: "决定立案侦查".to_owned(),
    };
    let d = run(&w, Some(&r), file, &w.police, "2026-02-16T15:00:00+08:00").unwrap();
    let r = d.case;
    assert_eq!(r.status, ReferralStatus::Filed);
    assert_eq!(r.version, 5);
    let steps: Vec<Step> = r.history.iter().map(|h| h.step).collect();
    assert_eq!(
        steps,
        [
            Step::Submit,
            Step::SignReceipt,
            Step::RequestSupplement,
            Step::Supplement,
            Step::File
        ]
    );
    assert_eq!(r.history[4].at, at("2026-02-16T15:00:00+08:00"));
    assert_eq!(
        d.events[0].recipients,
        [w.market.code.clone(), w.procuratorate.code.clone()]
    );
}

#[test]
fn police_decline_with_reasons_and_the_sender_and_procuratorate_are_told() {
    let w = world();
    let r = received(&w);
    let decline = ReferralCommand::Decline {
        reasons: "货值金额未达立案追诉标准".to_owned(),
    };
    let d = run(
        &w,
        Some(&r),
        decline,
        &w.police,
        "2026-02-15T10:00:00+08:00",
    )
    .unwrap();
    assert_eq!(d.case.status, ReferralStatus::Declined);
    let e = only_event(&d);
    assert_eq!(e.kind.name(), "declined");
    assert_eq!(e.actor, w.police.code);
    assert_eq!(
        e.recipients,
        [w.market.code.clone(), w.procuratorate.code.clone()]
    );
    assert_eq!(
        d.case.history.last().map(|h| h.note.as_str()),
        Some("货值金额未达立案追诉标准")
    );
}

#[test]
fn police_cannot_decline_without_reasons() {
    let w = world();
    let r = received(&w);
    let decline = ReferralCommand::Decline {
        reasons: "   ".to_owned(),
    };
    let err = run(
        &w,
        Some(&r),
        decline,
        &w.police,
        "2026-02-15T10:00:00+08:00",
    )
    .unwrap_err();
    assert_eq!(err, invalid("reasons", "must not be empty"));
    assert_eq!(err.rule(), "INPUT");
    assert_eq!(err.field(), Some("reasons"));
    assert_eq!(err.to_string(), "reasons must not be empty");
}

#[test]
fn a_forwarded_referral_must_be_signed_again_by_the_new_police_organ() {
    let w = world();
    let r = received(&w);
    let forward = ReferralCommand::Forward {
        to: w.branch.code.clone(),
        reason: "案发地在鼓楼区".to_owned(),
    };
    let d = run(
        &w,
        Some(&r),
        forward,
        &w.police,
        "2026-02-14T18:00:00+08:00",
    )
    .unwrap();
    let r = d.case.clone();
    assert_eq!(r.status, ReferralStatus::Submitted);
    assert_eq!(r.police, Some(w.branch.code.clone()));
    let e = only_event(&d);
    assert_eq!(
        e.kind,
        ReferralEventKind::Forwarded {
            from: w.police.code.clone(),
            to: w.branch.code.clone(),
            reason: "案发地在鼓楼区".to_owned()
        }
    );
    // S1 Art 7: the agency is told in writing, the new organ receives, the procuratorate is copied.
    assert_eq!(
        e.recipients,
        [
            w.market.code.clone(),
            w.branch.code.clone(),
            w.procuratorate.code.clone()
        ]
    );

    // The former organ is still a party, but no longer the addressee.
    let err = run(
        &w,
        Some(&r),
        ReferralCommand::SignReceipt,
        &w.police,
        "2026-02-14T19:00:00+08:00",
    )
    .unwrap_err();
    assert_eq!(
        err,
        Rejection::NotAddressee {
            step: "sign_receipt",
            role: Role::Recipient,
            expected: Some(w.branch.code.clone()),
            basis: "S1 Art 7",
        }
    );

    let d = run(
        &w,
        Some(&r),
        ReferralCommand::SignReceipt,
        &w.branch,
        "2026-02-14T19:00:00+08:00",
    )
    .unwrap();
    assert_eq!(d.case.status, ReferralStatus::Received);
    assert_eq!(d.case.version, 4);
    assert_eq!(
        only_event(&d).recipients,
        [w.market.code.clone(), w.procuratorate.code.clone()]
    );
}

#[test]
fn police_cannot_forward_before_signing_the_receipt() {
    let w = world();
    let r = submitted(&w);
    let forward = ReferralCommand::Forward {
        to: w.branch.code.clone(),
        reason: "案发地在鼓楼区".to_owned(),
    };
    let err = run(
        &w,
        Some(&r),
        forward,
        &w.police,
        "2026-02-14T18:00:00+08:00",
    )
    .unwrap_err();
    assert_eq!(
        err,
        Rejection::WrongState {
            step: "forward",
            status: "submitted",
            allowed: &["received"],
        }
    );
}

#[test]
fn forwarding_to_the_same_or_a_non_police_organ_is_refused() {
    let w = world();
    let r = received(&w);
    let to_self = ReferralCommand::Forward {
        to: w.police.code.clone(),
        reason: "x".to_owned(),
    };
    let err = run(
        &w,
        Some(&r),
        to_self,
        &w.police,
        "2026-02-14T18:00:00+08:00",
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("to"));
    assert!(err.to_string().contains("other than the one holding"));

    let to_lab = ReferralCommand::Forward {
        to: w.lab.code.clone(),
        reason: "x".to_owned(),
    };
    let err = run(&w, Some(&r), to_lab, &w.police, "2026-02-14T18:00:00+08:00").unwrap_err();
    assert_eq!(
        err,
        Rejection::WrongRecipientKind {
            field: "to",
            code: w.lab.code.clone(),
            expected: AgencyKind::Police,
            actual: AgencyKind::Expert
        }
    );
}

#[test]
fn a_referral_sent_more_than_24_hours_after_approval_is_accepted_and_flagged_late() {
    let w = world();
    // Approved 2026-02-14 10:00, sent 2026-02-15 10:30: 24.5 h, rounded up to 25.
    let d = run(
        &w,
        None,
        ReferralCommand::Submit(submission(&w)),
        &w.market,
        "2026-02-15T10:30:00+08:00",
    )
    .unwrap();
    assert_eq!(d.case.status, ReferralStatus::Submitted);
    assert_eq!(
        d.case.flags,
        [Flag::SubmittedLate {
            hours_after_approval: 25
        }]
    );
    assert_eq!(d.case.flags[0].rule(), "S1-5c");

    // Exactly 24 h is still on time.
    let d = run(
        &w,
        None,
        ReferralCommand::Submit(submission(&w)),
        &w.market,
        "2026-02-15T10:00:00+08:00",
    )
    .unwrap();
    assert!(d.case.flags.is_empty());
}

#[test]
fn approval_after_the_three_day_limit_on_the_legal_calendar_is_flagged() {
    // S1-5b counts calendar days from the day after the report (Fri 02-13); day 3 is 02-16,
    // inside the Spring Festival block, so the limit rolls to Tue 02-24 24:00 (docs/law.md §2).
    let w = world();
    let mut s = submission(&w);
    s.approved_at = at("2026-02-24T23:00:00+08:00");
    let d = run(
        &w,
        None,
        ReferralCommand::Submit(s.clone()),
        &w.market,
        "2026-02-25T09:00:00+08:00",
    )
    .unwrap();
    assert!(d.case.flags.is_empty(), "on time: {:?}", d.case.flags);

    s.approved_at = at("2026-02-25T08:00:00+08:00");
    let d = run(
        &w,
        None,
        ReferralCommand::Submit(s),
        &w.market,
        "2026-02-25T09:00:00+08:00",
    )
    .unwrap();
    assert_eq!(
        d.case.flags,
        [Flag::ApprovalLate {
            days_after_report: 12
        }]
    );
    assert_eq!(d.case.flags[0].rule(), "S1-5b");
}

#[test]
fn a_sender_whose_region_has_no_procuratorate_is_flagged_and_nobody_is_copied() {
    let w = world();
    let first17 = "11350102MB0100011";
    let check = AgencyCode::check_char(first17).unwrap();
    let district = Agency {
        code: AgencyCode::parse(&format!("{first17}{check}")).unwrap(),
        name: "福州市鼓楼区市场监督管理局".to_owned(),
        kind: AgencyKind::Administrative,
        region: RegionCode::parse("350102").unwrap(),
        superior: None,
        domains: vec!["market".to_owned()],
    };
    let mut agencies: Vec<Agency> = w.directory.agencies().cloned().collect();
    agencies.push(district.clone());
    let directory = Directory::from_agencies(agencies).unwrap();
    let mut s = submission(&w);
    s.police = w.branch.code.clone();
    let d = decide(
        None,
        &ReferralCommand::Submit(s),
        &district,
        &Context {
            directory: &directory,
            law: &w.law,
            policy: &ReferralPolicy::default(),
        },
        at(SENT),
    )
    .unwrap();
    assert_eq!(d.case.procuratorate, None);
    assert_eq!(d.case.flags, [Flag::NoProcuratorateInRegion]);
    assert_eq!(only_event(&d).recipients, vec![w.branch.code.clone()]);
}

#[test]
fn the_penalty_decision_is_required_only_when_the_policy_says_so() {
    let w = world();
    let mut s = submission(&w);
    s.penalty_imposed = true;
    let command = ReferralCommand::Submit(s);
    let err = run(&w, None, command.clone(), &w.market, SENT).unwrap_err();
    assert_eq!(
        err,
        Rejection::MissingDocument {
            kinds: vec![DocumentKind::PenaltyDecision],
            rule: "S1-6",
        }
    );
    let lenient = ReferralPolicy {
        require_penalty_decision: false,
        ..ReferralPolicy::default()
    };
    let ctx = Context {
        directory: &w.directory,
        law: &w.law,
        policy: &lenient,
    };
    let d = decide(None, &command, &w.market, &ctx, at(SENT)).unwrap();
    assert!(d.case.penalty_imposed);
}

#[test]
fn the_policy_deserialises_with_defaults_for_missing_fields() {
    let policy: ReferralPolicy = toml::from_str("send_limit_hours = 48").unwrap();
    assert_eq!(
        policy,
        ReferralPolicy {
            send_limit_hours: 48,
            ..ReferralPolicy::default()
        }
    );
    assert!(ReferralPolicy::default().require_penalty_decision);
}

#[test]
fn submitting_the_same_case_twice_is_refused() {
    let w = world();
    let r = submitted(&w);
    let err = run(
        &w,
        Some(&r),
        ReferralCommand::Submit(submission(&w)),
        &w.market,
        SENT,
    )
    .unwrap_err();
    assert_eq!(err, Rejection::AlreadyExists { case_id: r.id });
    assert_eq!(err.rule(), "STATE");
    assert!(err.to_string().contains(CASE));
    assert!(err.to_string().contains("already exists"));
}

#[test]
fn a_step_on_a_referral_that_does_not_exist_is_refused() {
    let w = world();
    let err = run(&w, None, ReferralCommand::SignReceipt, &w.police, SENT).unwrap_err();
    assert_eq!(
        err,
        Rejection::NotFound {
            step: "sign_receipt"
        }
    );
    assert!(err.to_string().contains("no such case exists"));
    assert!(err.to_string().contains("sign_receipt"));
}

#[test]
fn only_an_administrative_agency_may_submit_a_referral() {
    let w = world();
    let err = run(
        &w,
        None,
        ReferralCommand::Submit(submission(&w)),
        &w.police,
        SENT,
    )
    .unwrap_err();
    assert_eq!(
        err,
        Rejection::WrongRole {
            step: "submit",
            required: &[AgencyKind::Administrative],
            actual: AgencyKind::Police,
            basis: "S1 Arts 3, 5, 6",
        }
    );
    assert_eq!(err.rule(), "AUTH-ROLE");
    assert_eq!(err.field(), None);
    assert_eq!(
        err.to_string(),
        "step submit must be taken by an administrative agency, not by an agency of kind police (S1 Arts 3, 5, 6)"
    );
}

#[test]
fn the_sender_cannot_sign_the_police_receipt() {
    let w = world();
    let r = submitted(&w);
    let err = run(&w, Some(&r), ReferralCommand::SignReceipt, &w.market, SENT).unwrap_err();
    assert_eq!(
        err,
        Rejection::NotAddressee {
            step: "sign_receipt",
            role: Role::Recipient,
            expected: Some(w.police.code.clone()),
            basis: "S1 Art 7",
        }
    );
    assert_eq!(err.rule(), "AUTH-ADDRESSEE");
    assert!(err.to_string().contains(w.police.code.as_str()));
}

#[test]
fn the_copied_procuratorate_cannot_decide_for_the_police() {
    let w = world();
    let r = received(&w);
    let file = ReferralCommand::File {
        note: String::new(),
    };
    let err = run(&w, Some(&r), file, &w.procuratorate, SENT).unwrap_err();
    assert!(matches!(err, Rejection::NotAddressee { step: "file", .. }));
}

#[test]
fn an_agency_outside_the_referral_cannot_touch_it() {
    let w = world();
    let r = submitted(&w);
    for outsider in [&w.environment, &w.justice, &w.branch] {
        let err = run(&w, Some(&r), ReferralCommand::SignReceipt, outsider, SENT).unwrap_err();
        assert_eq!(
            err,
            Rejection::NotAParty {
                step: "sign_receipt"
            }
        );
        assert_eq!(err.rule(), "AUTH-PARTY");
        assert!(err.to_string().contains("not a party"));
    }
}

#[test]
fn police_cannot_decide_before_signing_the_receipt() {
    let w = world();
    let r = submitted(&w);
    let file = ReferralCommand::File {
        note: String::new(),
    };
    let err = run(&w, Some(&r), file, &w.police, SENT).unwrap_err();
    assert_eq!(
        err,
        Rejection::WrongState {
            step: "file",
            status: "submitted",
            allowed: &["received", "filing_notified"],
        }
    );
    assert_eq!(
        err.to_string(),
        "step file is not allowed while the case is submitted; it is allowed when received or filing_notified"
    );
}

#[test]
fn role_is_checked_before_state() {
    let w = world();
    let mut r = received(&w);
    r.status = ReferralStatus::Filed;
    let err = run(&w, Some(&r), ReferralCommand::SignReceipt, &w.market, SENT).unwrap_err();
    assert!(matches!(err, Rejection::NotAddressee { .. }));
}

#[test]
fn a_referral_to_an_agency_missing_from_the_directory_is_refused() {
    let w = world();
    let mut s = submission(&w);
    let unknown = AgencyCode::parse("91350100M000100Y43").unwrap();
    s.police = unknown.clone();
    let err = run(&w, None, ReferralCommand::Submit(s), &w.market, SENT).unwrap_err();
    assert_eq!(
        err,
        Rejection::UnknownAgency {
            field: "police",
            code: unknown.clone()
        }
    );
    assert_eq!(err.rule(), "DIR");
    assert_eq!(err.field(), Some("police"));
    assert_eq!(
        err.to_string(),
        "police 91350100M000100Y43 is not in the agency directory"
    );
}

#[test]
fn an_actor_missing_from_the_directory_is_refused() {
    let w = world();
    let mut stranger = w.market.clone();
    stranger.code = AgencyCode::parse("91350100M000100Y43").unwrap();
    let err = run(
        &w,
        None,
        ReferralCommand::Submit(submission(&w)),
        &stranger,
        SENT,
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("actor"));
}

#[test]
fn a_referral_addressed_to_a_non_police_agency_is_refused() {
    let w = world();
    let mut s = submission(&w);
    s.police = w.procuratorate.code.clone();
    let err = run(&w, None, ReferralCommand::Submit(s), &w.market, SENT).unwrap_err();
    assert_eq!(
        err,
        Rejection::WrongRecipientKind {
            field: "police",
            code: w.procuratorate.code.clone(),
            expected: AgencyKind::Police,
            actual: AgencyKind::Procuratorate
        }
    );
    assert_eq!(err.rule(), "DIR");
    assert!(
        err.to_string()
            .contains("kind procuratorate, but police is required")
    );
}

#[test]
fn a_package_without_the_seized_items_list_is_refused() {
    let w = world();
    let mut s = submission(&w);
    s.documents
        .retain(|d| d.kind != DocumentKind::SeizedItemsList);
    let err = run(&w, None, ReferralCommand::Submit(s), &w.market, SENT).unwrap_err();
    assert_eq!(
        err,
        Rejection::MissingDocument {
            kinds: vec![DocumentKind::SeizedItemsList],
            rule: "S1-6",
        }
    );
    assert_eq!(err.rule(), "S1-6");
    assert_eq!(err.field(), Some("documents"));
    assert!(err.to_string().contains("涉案物品清单"));
}

/// Issue 15: "an S1-6 refusal names only the first of two missing documents".
#[test]
fn every_missing_document_of_the_package_is_named() {
    let w = world();
    let mut s = submission(&w);
    s.items_tested = true;
    s.documents
        .retain(|d| d.kind != DocumentKind::SeizedItemsList);
    let err = run(&w, None, ReferralCommand::Submit(s), &w.market, SENT).unwrap_err();
    assert_eq!(
        err,
        Rejection::MissingDocument {
            kinds: vec![DocumentKind::SeizedItemsList, DocumentKind::TestReport],
            rule: "S1-6",
        }
    );
    let text = err.to_string();
    assert!(
        text.contains("涉案物品清单") && text.contains(DocumentKind::TestReport.label_zh()),
        "{text}"
    );
    let refusal = crate::refusal::Refusal::new(
        crate::refusal::RefusalKind::InvalidArgument,
        err.rule(),
        err.field(),
        text,
    );
    assert!(
        refusal.message_zh().contains(&format!(
            "未附涉案物品清单、{}",
            DocumentKind::TestReport.label_zh()
        )),
        "{}",
        refusal.message_zh()
    );
}

#[test]
fn tested_items_require_a_test_report() {
    let w = world();
    let mut s = submission(&w);
    s.items_tested = true;
    let err = run(
        &w,
        None,
        ReferralCommand::Submit(s.clone()),
        &w.market,
        SENT,
    )
    .unwrap_err();
    assert_eq!(
        err,
        Rejection::MissingDocument {
            kinds: vec![DocumentKind::TestReport],
            rule: "S1-6",
        }
    );
    s.documents.push(doc(DocumentKind::TestReport, "检验报告"));
    assert!(run(&w, None, ReferralCommand::Submit(s), &w.market, SENT).is_ok());
}

#[test]
fn malformed_submissions_name_the_offending_field() {
    let w = world();
    type Mutation = Box<dyn Fn(&mut Submission)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("summary", Box::new(|s| s.summary = String::new())),
        (
            "suspected_offence",
            Box::new(|s| s.suspected_offence = " ".to_owned()),
        ),
        ("summary", Box::new(|s| s.summary = "长".repeat(2001))),
        (
            "documents.title",
            Box::new(|s| s.documents[0].title = String::new()),
        ),
        (
            "documents.title",
            Box::new(|s| s.documents[0].title = "x".repeat(TITLE_MAX_CHARS + 1)),
        ),
        (
            "documents",
            Box::new(|s| {
                let extra = doc(DocumentKind::Other, "其他");
                s.documents.extend(std::iter::repeat_n(extra, 198));
            }),
        ),
        (
            "parties.name",
            Box::new(|s| s.parties[0].name = PersonalData::new("")),
        ),
        (
            "parties",
            Box::new(|s| {
                let p = s.parties[0].clone();
                s.parties = vec![p; 201];
            }),
        ),
        (
            "approved_at",
            Box::new(|s| s.approved_at = at("2026-02-13T08:00:00+08:00")),
        ),
        (
            "approved_at",
            Box::new(|s| s.approved_at = at("2026-02-15T10:00:00+08:00")),
        ),
    ];
    for (field, mutate) in cases {
        let mut s = submission(&w);
        mutate(&mut s);
        let err = run(&w, None, ReferralCommand::Submit(s), &w.market, SENT).unwrap_err();
        assert_eq!(err.field(), Some(field), "{err}");
        assert_eq!(err.rule(), "INPUT");
        // An item of a list is named with its index (`parties[0].name`).
        let path = case::item_path(field, err.item());
        assert!(err.to_string().starts_with(&path), "{err}");
    }
    // 200 documents in total is still allowed.
    let mut s = submission(&w);
    s.documents
        .extend(std::iter::repeat_n(doc(DocumentKind::Other, "其他"), 197));
    assert!(run(&w, None, ReferralCommand::Submit(s), &w.market, SENT).is_ok());
}

#[test]
fn a_supplement_request_must_name_what_is_missing_and_a_supplement_must_bring_something() {
    let w = world();
    let r = received(&w);
    let empty_request = ReferralCommand::RequestSupplement {
        missing: vec![],
        note: String::new(),
    };
    let err = run(&w, Some(&r), empty_request, &w.police, SENT).unwrap_err();
    assert_eq!(err.field(), Some("missing"));
    assert!(err.to_string().contains("at least one"));

    let request = ReferralCommand::RequestSupplement {
        missing: vec![DocumentKind::Other],
        note: String::new(),
    };
    let r = run(&w, Some(&r), request, &w.police, SENT).unwrap().case;
    let empty = ReferralCommand::Supplement {
        documents: vec![],
        note: String::new(),
    };
    let err = run(&w, Some(&r), empty, &w.market, SENT).unwrap_err();
    assert_eq!(err.field(), Some("documents"));
}

#[test]
fn a_case_outside_police_remit_is_returned_with_reasons_and_then_closed() {
    let w = world();
    let r = received(&w);
    let no_reasons = ReferralCommand::ReturnNotPoliceMatter {
        reasons: String::new(),
    };
    assert!(run(&w, Some(&r), no_reasons, &w.police, SENT).is_err());
    let ret = ReferralCommand::ReturnNotPoliceMatter {
        reasons: "不属于公安机关管辖".to_owned(),
    };
    let d = run(&w, Some(&r), ret, &w.police, SENT).unwrap();
    assert_eq!(d.case.status, ReferralStatus::ReturnedNotPoliceMatter);
    assert_eq!(only_event(&d).kind.name(), "returned_not_police_matter");
    assert_eq!(
        only_event(&d).recipients,
        [w.market.code.clone(), w.procuratorate.code.clone()]
    );
    let err = run(
        &w,
        Some(&d.case),
        ReferralCommand::File {
            note: String::new(),
        },
        &w.police,
        SENT,
    )
    .unwrap_err();
    assert!(matches!(err, Rejection::WrongState { .. }));
}

#[test]
fn a_referral_travels_as_json_with_personal_data_in_clear_but_logs_do_not_show_it() {
    let w = world();
    let r = submitted(&w);
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("0591-00000000"));
    assert!(json.contains("\"status\":\"submitted\""));
    let back: Referral = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let debug = format!("{r:?}");
    assert!(!debug.contains("0591-00000000"));
    assert!(!debug.contains("某电线销售有限公司"));

    let event = ReferralEventKind::Filed {
        note: "x".to_owned(),
    };
    let json = serde_json::to_string(&event).unwrap();
    assert_eq!(json, r#"{"event":"filed","note":"x"}"#);
}

#[test]
fn steps_and_statuses_display_in_snake_case() {
    assert_eq!(
        Step::ReturnNotPoliceMatter.to_string(),
        "return_not_police_matter"
    );
    assert_eq!(
        ReferralStatus::AwaitingSupplement.to_string(),
        "awaiting_supplement"
    );
    assert_eq!(
        serde_json::to_string(&ReferralStatus::AwaitingSupplement).unwrap(),
        "\"awaiting_supplement\""
    );
    assert_eq!(
        DocumentKind::SeizedItemsList.to_string(),
        "seized_items_list"
    );
    assert_eq!(
        ReferralCommand::Forward {
            to: AgencyCode::parse("91350100M000100Y43").unwrap(),
            reason: String::new()
        }
        .step(),
        Step::Forward
    );
}

// --- property test -------------------------------------------------------------------------

/// A command with its agency references given as indexes into the actor list.
#[derive(Debug, Clone)]
enum Plan {
    Submit {
        late_hours: u8,
        items_tested: bool,
        with_test_report: bool,
        police: usize,
    },
    SignReceipt,
    RequestSupplement {
        missing: Vec<DocumentKind>,
    },
    Supplement {
        documents: usize,
    },
    Forward {
        to: usize,
        reason: bool,
    },
    ReturnNotPoliceMatter {
        reasons: bool,
    },
    File,
    Decline {
        reasons: bool,
    },
}

fn kind_strategy() -> impl Strategy<Value = DocumentKind> {
    prop_oneof![
        Just(DocumentKind::ReferralLetter),
        Just(DocumentKind::InvestigationReport),
        Just(DocumentKind::SeizedItemsList),
        Just(DocumentKind::TestReport),
        Just(DocumentKind::PenaltyDecision),
        Just(DocumentKind::Other),
    ]
}

/// Indexes into the actor list of the agencies the property test favours, so that random
/// sequences get past submission often enough to reach every status.
#[derive(Debug, Clone, Copy)]
struct Picks {
    police: usize,
    branch: usize,
    market: usize,
    count: usize,
}

fn picks(w: &World, actors: &[Agency]) -> Picks {
    let index = |a: &Agency| actors.iter().position(|b| b.code == a.code).unwrap();
    Picks {
        police: index(&w.police),
        branch: index(&w.branch),
        market: index(&w.market),
        count: actors.len(),
    }
}

/// A police organ most of the time, any actor otherwise.
fn police_strategy(p: Picks) -> BoxedStrategy<usize> {
    prop_oneof![
        2 => Just(p.police),
        2 => Just(p.branch),
        1 => 0..p.count,
    ]
    .boxed()
}

fn actor_strategy(p: Picks) -> BoxedStrategy<usize> {
    prop_oneof![
        3 => Just(p.police),
        2 => Just(p.branch),
        3 => Just(p.market),
        2 => 0..p.count,
    ]
    .boxed()
}

fn plan_strategy(p: Picks) -> impl Strategy<Value = Plan> {
    prop_oneof![
        1 => (0u8..48, any::<bool>(), any::<bool>(), police_strategy(p)).prop_map(
            |(late_hours, items_tested, with_test_report, police)| Plan::Submit {
                late_hours,
                items_tested,
                with_test_report,
                police
            }
        ),
        3 => Just(Plan::SignReceipt),
        2 => proptest::collection::vec(kind_strategy(), 0..3)
            .prop_map(|missing| Plan::RequestSupplement { missing }),
        2 => (0usize..3).prop_map(|documents| Plan::Supplement { documents }),
        2 => (police_strategy(p), any::<bool>())
            .prop_map(|(to, reason)| Plan::Forward { to, reason }),
        1 => any::<bool>().prop_map(|reasons| Plan::ReturnNotPoliceMatter { reasons }),
        1 => Just(Plan::File),
        1 => any::<bool>().prop_map(|reasons| Plan::Decline { reasons }),
    ]
}

/// Actors: every agency of the directory plus one outsider that is not in the directory.
fn actors(w: &World) -> Vec<Agency> {
    let mut actors: Vec<Agency> = w.directory.agencies().cloned().collect();
    let mut outsider = w.market.clone();
    outsider.code = AgencyCode::parse("91350100M000100Y43").unwrap();
    actors.push(outsider);
    actors
}

fn materialise(plan: &Plan, actors: &[Agency], w: &World, now: Timestamp) -> ReferralCommand {
    let agency = |i: usize| actors[i % actors.len()].code.clone();
    match plan {
        Plan::Submit {
            late_hours,
            items_tested,
            with_test_report,
            police,
        } => {
            let mut s = submission(w);
            s.police = agency(*police);
            s.approved_at = now.minus(Duration::from_secs(u64::from(*late_hours) * 3600));
            s.report_received_at = s.approved_at.minus(Duration::from_secs(3600));
            s.items_tested = *items_tested;
            if *with_test_report {
                s.documents.push(doc(DocumentKind::TestReport, "检验报告"));
            }
            ReferralCommand::Submit(s)
        }
        Plan::SignReceipt => ReferralCommand::SignReceipt,
        Plan::RequestSupplement { missing } => ReferralCommand::RequestSupplement {
            missing: missing.clone(),
            note: "请补充".to_owned(),
        },
        Plan::Supplement { documents } => ReferralCommand::Supplement {
            documents: (0..*documents)
                .map(|i| doc(DocumentKind::Other, &format!("补充材料{i}")))
                .collect(),
            note: String::new(),
        },
        Plan::Forward { to, reason } => ReferralCommand::Forward {
            to: agency(*to),
            reason: if *reason {
                "管辖".to_owned()
            } else {
                String::new()
            },
        },
        Plan::ReturnNotPoliceMatter { reasons } => ReferralCommand::ReturnNotPoliceMatter {
            reasons: if *reasons {
                "不属于".to_owned()
            } else {
                String::new()
            },
        },
        Plan::File => ReferralCommand::File {
            note: String::new(),
        },
        Plan::Decline { reasons } => ReferralCommand::Decline {
            reasons: if *reasons {
                "不构成犯罪".to_owned()
            } else {
                String::new()
            },
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_command_sequences_keep_the_referral_invariants(
        start_with_a_valid_submission in proptest::bool::weighted(0.9),
        steps in {
            let w = world();
            let p = picks(&w, &actors(&w));
            proptest::collection::vec((actor_strategy(p), plan_strategy(p), 0u32..600), 0..40)
        }
    ) {
        let w = world();
        let actors = actors(&w);
        let p = picks(&w, &actors);
        let policy = ReferralPolicy::default();
        let mut now = at("2026-02-14T10:00:00+08:00");
        let mut current: Option<Referral> = None;
        let mut accepted: u64 = 0;
        let valid_submission = Plan::Submit {
            late_hours: 1,
            items_tested: false,
            with_test_report: false,
            police: p.police,
        };
        let first = start_with_a_valid_submission.then_some((p.market, valid_submission, 0));
        for (actor, plan, minutes) in first.iter().chain(&steps) {
            now = now.plus(Duration::from_secs(u64::from(*minutes) * 60));
            let actor = &actors[*actor % actors.len()];
            let command = materialise(plan, &actors, &w, now);
            let before = current.clone();
            let ctx = Context {
                directory: &w.directory,
                law: &w.law,
                policy: &policy,
            };
            let result = decide(current.as_ref(), &command, actor, &ctx, now);
            match result {
                Ok(decision) => {
                    if let Some(previous) = &before {
                        prop_assert!(
                            !previous.status.is_terminal(),
                            "terminal {} accepted {}", previous.status, command.step()
                        );
                        prop_assert_eq!(decision.case.id, previous.id);
                        prop_assert_eq!(&decision.case.sender, &previous.sender);
                        prop_assert_eq!(&decision.case.procuratorate, &previous.procuratorate);
                        prop_assert!(decision.case.documents.len() >= previous.documents.len());
                    }
                    accepted += 1;
                    let r = &decision.case;
                    prop_assert_eq!(r.version, accepted);
                    prop_assert_eq!(r.history.len() as u64, accepted);
                    let last = r.history.last().map(|h| (h.step, h.actor.clone(), h.at));
                    prop_assert_eq!(last, Some((command.step(), actor.code.clone(), now)));
                    prop_assert_eq!(decision.events.len(), 1);
                    for event in &decision.events {
                        prop_assert!(!event.recipients.contains(&actor.code));
                        prop_assert!(!event.recipients.is_empty());
                        prop_assert_eq!(&event.actor, &actor.code);
                        prop_assert_eq!(event.case_id, r.id);
                    }
                    // The holder is always a police organ; the sender always administrative.
                    let police = r.police.as_ref().and_then(|p| w.directory.get(p)).map(|a| a.kind);
                    prop_assert_eq!(police, Some(AgencyKind::Police));
                    let sender = w.directory.get(&r.sender).map(|a| a.kind);
                    prop_assert_eq!(sender, Some(AgencyKind::Administrative));
                    current = Some(decision.case);
                }
                Err(rejection) => {
                    prop_assert_eq!(&current, &before, "rejected {} changed the referral", rejection);
                    prop_assert!(!rejection.to_string().is_empty());
                    prop_assert!(!rejection.rule().is_empty());
                }
            }
        }
        prop_assert_eq!(current.map_or(0, |r| r.version), accepted);
    }
}

/// The head of the environment bureau decided not to refer; the report arrived Wed 2026-09-30.
fn non_referral(decided_at: &str) -> NonReferral {
    NonReferral {
        case_id: CaseId::generate(),
        suspected_offence: "污染环境罪".to_owned(),
        summary: "某厂超标排放，数量未达追诉标准".to_owned(),
        report_received_at: at("2026-09-30T09:00:00+08:00"),
        decided_at: at(decided_at),
        approver: "局长 王五".to_owned(),
        reasons: "排放量未达立案追诉标准".to_owned(),
        documents: vec![doc(DocumentKind::InvestigationReport, "调查报告")],
        parties: Vec::new(),
    }
}

#[test]
fn a_decision_not_to_refer_is_recorded_for_the_procuratorate_and_no_police_organ() {
    let w = world();
    let out = run(
        &w,
        None,
        ReferralCommand::RecordNonReferral(non_referral("2026-10-08T18:00:00+08:00")),
        &w.environment,
        "2026-10-09T09:00:00+08:00",
    )
    .unwrap();
    let r = &out.case;
    assert_eq!(r.status, ReferralStatus::NotReferred);
    assert!(r.status.is_terminal());
    assert_eq!(r.police, None);
    assert_eq!(r.procuratorate, Some(w.procuratorate.code.clone()));
    assert_eq!(
        r.non_referral,
        Some(NonReferralDecision {
            approver: "局长 王五".to_owned(),
            reasons: "排放量未达立案追诉标准".to_owned(),
        })
    );
    // The procuratorate reads it and hears of it; no police organ does.
    let parties = r.parties();
    assert_eq!(
        parties.get(Role::Procuratorate),
        Some(&w.procuratorate.code)
    );
    assert_eq!(parties.get(Role::Recipient), None);
    assert!(!parties.contains(&w.police.code));
    assert_eq!(out.events[0].kind.name(), "not_referred_recorded");
    assert_eq!(out.events[0].recipients, vec![w.procuratorate.code.clone()]);
    // The 3 days from the report end on Sat 10-03, inside the National Day holiday: the last
    // day rolls to Thu 10-08, so a decision that evening is on time (S1-5b).
    assert!(r.flags.is_empty(), "{:?}", r.flags);

    // Nothing follows on the record: no police step, and the police are strangers to it.
    let err = run(
        &w,
        Some(r),
        ReferralCommand::SignReceipt,
        &w.police,
        "2026-10-09T10:00:00+08:00",
    )
    .unwrap_err();
    assert!(matches!(err, Rejection::NotAParty { .. }), "{err:?}");
}

#[test]
fn a_decision_not_to_refer_after_the_three_days_is_recorded_and_flagged_late() {
    let w = world();
    let out = run(
        &w,
        None,
        ReferralCommand::RecordNonReferral(non_referral("2026-10-09T09:00:00+08:00")),
        &w.environment,
        "2026-10-09T10:00:00+08:00",
    )
    .unwrap();
    assert!(
        matches!(out.case.flags[..], [Flag::ApprovalLate { .. }]),
        "{:?}",
        out.case.flags
    );
}

#[test]
fn a_decision_not_to_refer_names_its_approver_and_reasons_and_is_an_agencys_own() {
    let w = world();
    let record = |edit: &dyn Fn(&mut NonReferral)| {
        let mut r = non_referral("2026-10-08T18:00:00+08:00");
        edit(&mut r);
        ReferralCommand::RecordNonReferral(r)
    };
    let refused = |command, actor: &Agency| {
        run(&w, None, command, actor, "2026-10-09T09:00:00+08:00").unwrap_err()
    };
    let no_reasons = refused(record(&|r| r.reasons = " ".to_owned()), &w.environment);
    assert_eq!(no_reasons.field(), Some("reasons"));
    let no_approver = refused(record(&|r| r.approver = String::new()), &w.environment);
    assert_eq!(no_approver.field(), Some("approver"));
    let backwards = refused(
        record(&|r| r.decided_at = at("2026-09-29T09:00:00+08:00")),
        &w.environment,
    );
    assert_eq!(backwards.field(), Some("decided_at"));
    let future = refused(
        record(&|r| r.decided_at = at("2026-10-10T09:00:00+08:00")),
        &w.environment,
    );
    assert_eq!(future.field(), Some("decided_at"));
    // Only an administrative agency records its own decision.
    let police = refused(record(&|_| {}), &w.police);
    assert!(matches!(police, Rejection::WrongRole { .. }), "{police:?}");
}
