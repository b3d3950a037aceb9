//! Every transition of the early warning and every refusal.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::*;
use crate::calendar::Calendar;
use crate::case::{Case, Rejection};
use crate::directory::{Agency, Directory};
use crate::document::{DocumentKind, Party};
use crate::fixtures::{World, at, doc, world};
use crate::ids::CaseId;
use crate::notice::Role;
use crate::screening::{
    Amount, Hit, Measures, PenaltyCase, PenaltyDecision, SHIPPED_THRESHOLDS, ScreeningPolicy,
    ThresholdTable, ViolationType, screen,
};

/// Monday 2026-12-07, 10:00 CST: no holiday in the next three weeks.
const OPENED: &str = "2026-12-07T10:00:00+08:00";
/// 5 working days from Monday 2026-12-07 end with Monday 2026-12-14.
const RAISE_DUE: &str = "2026-12-15T00:00:00+08:00";
/// The procuratorate's opinion on Tuesday 2026-12-15; 10 working days end with Tuesday
/// 2026-12-29.
const SUGGESTED: &str = "2026-12-15T09:00:00+08:00";
const ANSWER_DUE: &str = "2026-12-30T00:00:00+08:00";

struct Desk {
    w: World,
    calendar: std::sync::Arc<Calendar>,
    policy: ScreeningPolicy,
}

impl Desk {
    fn new() -> Desk {
        let w = world();
        let calendar = w.law.calendar.current();
        Desk {
            w,
            calendar,
            policy: ScreeningPolicy::default(),
        }
    }

    fn ctx(&self) -> Context<'_> {
        Context {
            directory: &self.w.directory,
            calendar: &self.calendar,
            policy: &self.policy,
        }
    }

    fn decide(
        &self,
        warning: Option<&EarlyWarning>,
        command: WarningCommand,
        actor: &Agency,
        now: &str,
    ) -> Result<Decision, Rejection> {
        decide(warning, &command, actor, &self.ctx(), at(now))
    }

    fn step(
        &self,
        warning: &EarlyWarning,
        command: WarningCommand,
        actor: &Agency,
        now: &str,
    ) -> Decision {
        self.decide(Some(warning), command, actor, now).unwrap()
    }

    /// A warning just opened on a record with sales of 65,000 yuan.
    fn opened(&self) -> EarlyWarning {
        self.decide(None, open_command(hits()), &self.w.market, OPENED)
            .unwrap()
            .case
    }

    fn raised(&self) -> EarlyWarning {
        self.step(
            &self.opened(),
            WarningCommand::Raise,
            &self.w.market,
            RAISE_DUE,
        )
        .case
    }

    fn suggested(&self) -> EarlyWarning {
        self.step(
            &self.raised(),
            suggest("销售金额65000元，已达追诉标准"),
            &self.w.procuratorate,
            SUGGESTED,
        )
        .case
    }

    fn overdue(&self) -> EarlyWarning {
        self.step(
            &self.suggested(),
            WarningCommand::MarkOverdue,
            &self.w.market,
            "2026-12-30T00:00:00.001+08:00",
        )
        .case
    }

    /// A warning in every status, built through the steps.
    fn in_every_status(&self) -> Vec<EarlyWarning> {
        let referral = CaseId::generate();
        vec![
            self.opened(),
            self.raised(),
            self.suggested(),
            self.overdue(),
            self.step(
                &self.suggested(),
                WarningCommand::LinkReferral { referral },
                &self.w.market,
                "2026-12-16T09:00:00+08:00",
            )
            .case,
            self.step(
                &self.suggested(),
                explain("经集体讨论，当事人系初犯且已全部召回"),
                &self.w.market,
                "2026-12-16T09:00:00+08:00",
            )
            .case,
            self.step(
                &self.raised(),
                close("经审查，销售金额中含有合格产品，不足五万元"),
                &self.w.procuratorate,
                SUGGESTED,
            )
            .case,
            self.step(
                &self.opened(),
                clear(2),
                &self.w.market,
                "2026-12-08T09:00:00+08:00",
            )
            .case,
        ]
    }
}

fn hits() -> Vec<Hit> {
    let table = ThresholdTable::from_toml_str(SHIPPED_THRESHOLDS).unwrap();
    let case = PenaltyCase {
        case_number: "榕市监案〔2026〕101号".into(),
        violation: ViolationType::parse("fake_or_substandard_product").unwrap(),
        legal_basis: "《中华人民共和国产品质量法》第五十条".into(),
        parties: vec![Party {
            name: "某某贸易有限公司".into(),
            id_number: None,
        }],
        measures: Measures {
            sales_amount: Some(Amount::parse("65000").unwrap()),
            ..Measures::default()
        },
        decision: PenaltyDecision {
            number: "榕市监罚〔2026〕88号".into(),
            decided_on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            penalty: "罚款".into(),
            fine: Some(Amount::parse("30000").unwrap()),
        },
        evidence: Vec::new(),
    };
    let hits = screen(&case, &table);
    assert_eq!(hits.len(), 1);
    hits
}

fn open_command(hits: Vec<Hit>) -> WarningCommand {
    WarningCommand::Open(Opening {
        warning_id: CaseId::generate(),
        record: CaseId::generate(),
        record_version: 1,
        hits,
    })
}

fn suggest(reasons: &str) -> WarningCommand {
    WarningCommand::SuggestReferral {
        ground: OpinionGround::PenaltyInsteadOfProsecution,
        reasons: reasons.into(),
        documents: vec![doc(DocumentKind::Other, "检察意见书")],
    }
}

fn explain(explanation: &str) -> WarningCommand {
    WarningCommand::Explain {
        non_referral: CaseId::generate(),
        explanation: explanation.into(),
        documents: vec![doc(DocumentKind::Other, "不予移送说明")],
    }
}

fn close(reasons: &str) -> WarningCommand {
    WarningCommand::Close {
        reasons: reasons.into(),
    }
}

fn clear(record_version: u32) -> WarningCommand {
    WarningCommand::Clear {
        record_version,
        hits: Vec::new(),
        table: None,
    }
}

fn every_command() -> Vec<WarningCommand> {
    vec![
        open_command(hits()),
        clear(2),
        WarningCommand::Raise,
        suggest("理由"),
        close("理由"),
        WarningCommand::LinkReferral {
            referral: CaseId::generate(),
        },
        explain("说明"),
        WarningCommand::MarkOverdue,
    ]
}

fn names(events: &[WarningEvent]) -> Vec<&'static str> {
    use crate::case::EventName;
    events.iter().map(|e| e.kind.name()).collect()
}

// ---- Opening ----------------------------------------------------------------------------------

#[test]
fn a_hit_warns_the_agency_at_once_and_nobody_else_yet() {
    let desk = Desk::new();
    let w = &desk.w;
    let hits = hits();
    let out = desk
        .decide(None, open_command(hits.clone()), &w.market, OPENED)
        .unwrap();
    let warning = &out.case;
    assert_eq!(warning.status, WarningStatus::AgencyWarned);
    assert_eq!(warning.agency, w.market.code);
    assert_eq!(warning.procuratorate, w.procuratorate.code);
    // The market bureau's superior is the city government.
    assert_eq!(warning.supervisor.as_ref(), Some(&w.government.code));
    assert_eq!(warning.raise_due, at(RAISE_DUE));
    assert_eq!(warning.hits, hits);
    assert_eq!(warning.version, 1);
    assert_eq!(warning.history[0].step, Step::Open);
    assert_eq!(names(&out.events), ["agency_warned"]);
    assert_eq!(
        out.events[0].recipients,
        std::slice::from_ref(&w.market.code)
    );
    match &out.events[0].kind {
        WarningEventKind::AgencyWarned {
            hits: carried,
            raise_due,
            record_version,
            ..
        } => {
            assert_eq!(carried, &hits);
            assert_eq!(*raise_due, at(RAISE_DUE));
            assert_eq!(*record_version, 1);
        }
        other => panic!("{other:?}"),
    }
    // The procuratorate is not a party before the warning is raised.
    let parties = warning.parties();
    assert_eq!(parties.get(Role::Sender), Some(&w.market.code));
    assert!(!parties.contains(&w.procuratorate.code));
    assert_eq!(warning.headline(), "生产、销售伪劣产品罪（移送预警）");
    assert!(
        warning.summary().contains("CL-140"),
        "{}",
        warning.summary()
    );
    assert!(warning.summary().contains("刑法 Art 140"));
}

#[test]
fn an_agency_without_a_superior_has_its_regions_coordination_office_as_supervisor() {
    let desk = Desk::new();
    let province = desk
        .w
        .directory
        .agencies()
        .find(|a| a.name == "福建省人民政府")
        .unwrap()
        .clone();
    let warning = desk
        .decide(None, open_command(hits()), &province, OPENED)
        .unwrap()
        .case;
    let office = desk
        .w
        .directory
        .agencies()
        .find(|a| a.name == "福建省司法厅")
        .unwrap();
    assert_eq!(warning.supervisor.as_ref(), Some(&office.code));
    let procuratorate = desk
        .w
        .directory
        .agencies()
        .find(|a| a.name == "福建省人民检察院")
        .unwrap();
    assert_eq!(warning.procuratorate, procuratorate.code);
}

#[test]
fn a_warning_is_opened_only_on_hits_by_an_administrative_agency_once() {
    let desk = Desk::new();
    let w = &desk.w;
    let refused = |command, actor: &Agency| desk.decide(None, command, actor, OPENED).unwrap_err();
    let empty = refused(open_command(Vec::new()), &w.market);
    assert_eq!((empty.rule(), empty.field()), ("WARN-HIT", Some("hits")));
    assert_eq!(refused(open_command(hits()), &w.police).rule(), "AUTH-ROLE");
    assert_eq!(
        refused(open_command(hits()), &w.procuratorate).rule(),
        "AUTH-ROLE"
    );
    // An agency the directory does not list, whatever kind it claims.
    let first17 = "91350100MA2ABCDE1";
    let check = crate::AgencyCode::check_char(first17).unwrap();
    let stranger = Agency {
        code: crate::AgencyCode::parse(&format!("{first17}{check}")).unwrap(),
        ..w.market.clone()
    };
    assert_eq!(refused(open_command(hits()), &stranger).rule(), "DIR");
    let WarningCommand::Open(mut zero) = open_command(hits()) else {
        unreachable!()
    };
    zero.record_version = 0;
    let refusal = refused(WarningCommand::Open(zero), &w.market);
    assert_eq!(refusal.field(), Some("record_version"));
    // Opening twice.
    let warning = desk.opened();
    let again = desk
        .decide(Some(&warning), open_command(hits()), &w.market, OPENED)
        .unwrap_err();
    assert!(
        matches!(again, Rejection::AlreadyExists { .. }),
        "{again:?}"
    );
    // Before it is opened, no other step can be taken.
    let none = desk
        .decide(None, WarningCommand::Raise, &w.market, RAISE_DUE)
        .unwrap_err();
    assert!(
        matches!(
            none,
            Rejection::NotFound {
                step: "raise_warning"
            }
        ),
        "{none:?}"
    );
}

#[test]
fn a_warning_that_could_reach_no_procuratorate_is_refused_not_dropped() {
    let desk = Desk::new();
    let city_procuratorate = desk.w.procuratorate.code.clone();
    let agencies: Vec<Agency> = desk
        .w
        .directory
        .agencies()
        .filter(|a| a.code != city_procuratorate)
        .cloned()
        .collect();
    let directory = Directory::from_agencies(agencies).unwrap();
    let ctx = Context {
        directory: &directory,
        ..desk.ctx()
    };
    let refusal = decide(
        None,
        &open_command(hits()),
        &desk.w.market,
        &ctx,
        at(OPENED),
    )
    .unwrap_err();
    assert_eq!(refusal.rule(), "WARN-TO");
}

// ---- The agency's period, and raising the warning -------------------------------------------

#[test]
fn the_warning_goes_to_the_procuratorate_only_when_the_agencys_period_has_passed() {
    let desk = Desk::new();
    let w = &desk.w;
    let warning = desk.opened();
    let early = desk
        .decide(
            Some(&warning),
            WarningCommand::Raise,
            &w.market,
            "2026-12-14T23:59:59.999+08:00",
        )
        .unwrap_err();
    assert_eq!(early.rule(), "WARN-RAISE");
    assert!(early.to_string().contains("2026-12-15T00:00:00"), "{early}");

    let out = desk.step(&warning, WarningCommand::Raise, &w.market, RAISE_DUE);
    assert_eq!(out.case.status, WarningStatus::WarningRaised);
    assert_eq!(out.case.raised_at, Some(at(RAISE_DUE)));
    assert_eq!(names(&out.events), ["raised"]);
    assert_eq!(
        out.events[0].recipients,
        [
            w.procuratorate.code.clone(),
            w.government.code.clone(),
            w.market.code.clone()
        ]
    );
    match &out.events[0].kind {
        WarningEventKind::Raised {
            hits: carried,
            agency,
            ..
        } => {
            assert_eq!(carried, &warning.hits);
            assert_eq!(agency, &w.market.code);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        out.case.parties().get(Role::Procuratorate),
        Some(&w.procuratorate.code)
    );
    assert_eq!(out.case.version, 2);
}

#[test]
fn the_periods_are_settings() {
    let mut desk = Desk::new();
    desk.policy = ScreeningPolicy {
        raise_after: crate::deadline::Period::new(2, crate::deadline::Unit::CalendarDays),
        answer_within: crate::deadline::Period::new(30, crate::deadline::Unit::CalendarDays),
        ..ScreeningPolicy::default()
    };
    let warning = desk.opened();
    assert_eq!(warning.raise_due, at("2026-12-10T00:00:00+08:00"));
    let raised = desk
        .step(
            &warning,
            WarningCommand::Raise,
            &desk.w.market,
            "2026-12-10T00:00:00+08:00",
        )
        .case;
    let suggested = desk
        .step(&raised, suggest("理由"), &desk.w.procuratorate, SUGGESTED)
        .case;
    // 30 days from Tuesday 2026-12-15 end with Thursday 2027-01-14.
    assert_eq!(suggested.answer_due, Some(at("2027-01-15T00:00:00+08:00")));
}

#[test]
fn the_procuratorate_is_not_a_party_before_the_warning_is_raised() {
    let desk = Desk::new();
    let refusal = desk
        .decide(
            Some(&desk.opened()),
            suggest("理由"),
            &desk.w.procuratorate,
            SUGGESTED,
        )
        .unwrap_err();
    assert_eq!(refusal.rule(), "AUTH-PARTY");
}

// ---- A correction before the warning is raised ----------------------------------------------

#[test]
fn a_correction_that_meets_no_threshold_clears_the_warning_before_it_is_raised() {
    let desk = Desk::new();
    let w = &desk.w;
    let warning = desk.opened();
    let out = desk.step(&warning, clear(2), &w.market, "2026-12-08T09:00:00+08:00");
    assert_eq!(out.case.status, WarningStatus::WarningCleared);
    assert_eq!(out.case.record_version, 2);
    assert_eq!(names(&out.events), ["cleared"]);
    assert_eq!(
        out.events[0].recipients,
        std::slice::from_ref(&w.market.code)
    );

    let still = desk
        .decide(
            Some(&warning),
            WarningCommand::Clear {
                record_version: 2,
                hits: hits(),
                table: None,
            },
            &w.market,
            OPENED,
        )
        .unwrap_err();
    assert_eq!((still.rule(), still.field()), ("WARN-CLEAR", Some("hits")));
    let same = desk
        .decide(Some(&warning), clear(1), &w.market, OPENED)
        .unwrap_err();
    assert_eq!(same.field(), Some("record_version"));
    // Once raised, only the procuratorate ends it.
    let raised = desk
        .decide(Some(&desk.raised()), clear(2), &w.market, SUGGESTED)
        .unwrap_err();
    assert!(matches!(raised, Rejection::WrongState { .. }), "{raised:?}");
}

// ---- The procuratorate acts -----------------------------------------------------------------

#[test]
fn the_procuratorates_opinion_opens_an_obligation_on_the_agency() {
    let desk = Desk::new();
    let w = &desk.w;
    let out = desk.step(
        &desk.raised(),
        suggest("以行政处罚代替刑事追究"),
        &w.procuratorate,
        SUGGESTED,
    );
    let warning = &out.case;
    assert_eq!(warning.status, WarningStatus::ReferralSuggested);
    assert_eq!(warning.answer_due, Some(at(ANSWER_DUE)));
    let opinion = warning.opinion.as_ref().unwrap();
    assert_eq!(opinion.ground, OpinionGround::PenaltyInsteadOfProsecution);
    assert_eq!(opinion.at, at(SUGGESTED));
    assert_eq!(warning.documents.len(), 1);
    assert_eq!(names(&out.events), ["referral_suggested"]);
    assert_eq!(
        out.events[0].recipients,
        [w.market.code.clone(), w.government.code.clone()]
    );
    assert_eq!(
        out.events[0].kind,
        WarningEventKind::ReferralSuggested {
            ground: OpinionGround::PenaltyInsteadOfProsecution,
            reasons: "以行政处罚代替刑事追究".into(),
            answer_due: at(ANSWER_DUE),
        }
    );
    assert_eq!(
        OpinionGround::PenaltyInsteadOfProsecution.label_zh(),
        "以行政处罚代替刑事追究而不移送"
    );
}

#[test]
fn only_the_procuratorate_of_the_warning_gives_an_opinion_with_reasons() {
    let desk = Desk::new();
    let w = &desk.w;
    let raised = desk.raised();
    let refused = |command, actor: &Agency| {
        desk.decide(Some(&raised), command, actor, SUGGESTED)
            .unwrap_err()
    };
    assert_eq!(refused(suggest("理由"), &w.market).rule(), "AUTH-ADDRESSEE");
    let province = w
        .directory
        .agencies()
        .find(|a| a.name == "福建省人民检察院")
        .unwrap()
        .clone();
    assert_eq!(refused(suggest("理由"), &province).rule(), "AUTH-PARTY");
    assert_eq!(refused(suggest("理由"), &w.police).rule(), "AUTH-PARTY");
    let blank = refused(suggest(" "), &w.procuratorate);
    assert_eq!((blank.rule(), blank.field()), ("INPUT", Some("reasons")));
    assert_eq!(
        refused(close(""), &w.procuratorate).field(),
        Some("reasons")
    );
}

#[test]
fn the_procuratorate_may_close_the_warning_with_reasons() {
    let desk = Desk::new();
    let w = &desk.w;
    let out = desk.step(
        &desk.raised(),
        close("经审查，涉案产品经复检合格"),
        &w.procuratorate,
        SUGGESTED,
    );
    assert_eq!(out.case.status, WarningStatus::WarningClosed);
    assert_eq!(
        out.case.closing_reasons.as_deref(),
        Some("经审查，涉案产品经复检合格")
    );
    assert_eq!(names(&out.events), ["closed"]);
    assert_eq!(
        out.events[0].recipients,
        [w.market.code.clone(), w.government.code.clone()]
    );
    // After its opinion, it no longer closes: the agency answers.
    let after = desk
        .decide(
            Some(&desk.suggested()),
            close("理由"),
            &w.procuratorate,
            SUGGESTED,
        )
        .unwrap_err();
    assert!(matches!(after, Rejection::WrongState { .. }), "{after:?}");
}

// ---- The agency answers ---------------------------------------------------------------------

#[test]
fn a_referral_for_the_same_matter_closes_the_warning_at_any_open_stage() {
    let desk = Desk::new();
    let w = &desk.w;
    let referral = CaseId::generate();
    let link = || WarningCommand::LinkReferral { referral };
    let when = "2026-12-16T09:00:00+08:00";

    let early = desk.step(&desk.opened(), link(), &w.market, when);
    assert_eq!(early.case.status, WarningStatus::ReferralLinked);
    assert_eq!(early.case.referral, Some(referral));
    // Before the warning was raised, only the agency knew of it: nobody else is told.
    assert!(early.events[0].recipients.is_empty());

    for warning in [desk.raised(), desk.suggested()] {
        let out = desk.step(&warning, link(), &w.market, when);
        assert_eq!(out.case.status, WarningStatus::ReferralLinked);
        assert_eq!(out.case.answered_late, None);
        assert_eq!(
            out.events[0].recipients,
            [w.procuratorate.code.clone(), w.government.code.clone()]
        );
        assert_eq!(
            out.events[0].kind,
            WarningEventKind::ReferralLinked {
                referral,
                late_since: None
            }
        );
    }
    // After the deadline: accepted, and recorded as late.
    let late = desk.step(
        &desk.overdue(),
        link(),
        &w.market,
        "2027-01-05T09:00:00+08:00",
    );
    assert_eq!(late.case.status, WarningStatus::ReferralLinked);
    assert_eq!(late.case.answered_late, Some(at(ANSWER_DUE)));
}

#[test]
fn the_agency_may_explain_in_writing_why_it_does_not_refer() {
    let desk = Desk::new();
    let w = &desk.w;
    let non_referral = CaseId::generate();
    let command = |text: &str| WarningCommand::Explain {
        non_referral,
        explanation: text.into(),
        documents: vec![doc(DocumentKind::Other, "不予移送说明")],
    };
    let out = desk.step(
        &desk.suggested(),
        command("涉案产品经复检合格，不构成伪劣产品"),
        &w.market,
        "2026-12-29T23:00:00+08:00",
    );
    let warning = &out.case;
    assert_eq!(warning.status, WarningStatus::NonReferralExplained);
    assert_eq!(warning.non_referral, Some(non_referral));
    assert_eq!(warning.answered_late, None);
    assert_eq!(
        warning.documents.len(),
        2,
        "the opinion letter and the explanation"
    );
    assert_eq!(names(&out.events), ["non_referral_explained"]);
    assert_eq!(
        out.events[0].recipients,
        [w.procuratorate.code.clone(), w.government.code.clone()]
    );

    let late = desk.step(
        &desk.overdue(),
        command("说明"),
        &w.market,
        "2027-01-05T09:00:00+08:00",
    );
    assert_eq!(late.case.answered_late, Some(at(ANSWER_DUE)));

    let refused = |warning: &EarlyWarning, command, actor: &Agency| {
        desk.decide(Some(warning), command, actor, SUGGESTED)
            .unwrap_err()
    };
    let blank = refused(&desk.suggested(), command(" "), &w.market);
    assert_eq!(blank.field(), Some("explanation"));
    // Before the procuratorate's opinion there is nothing to answer: the warning stays until a
    // referral or the procuratorate ends it.
    let early = refused(&desk.raised(), command("说明"), &w.market);
    assert!(matches!(early, Rejection::WrongState { .. }), "{early:?}");
    let not_yours = refused(&desk.suggested(), command("说明"), &w.procuratorate);
    assert_eq!(not_yours.rule(), "AUTH-ADDRESSEE");
    let stranger = refused(&desk.suggested(), command("说明"), &w.environment);
    assert_eq!(stranger.rule(), "AUTH-PARTY");
}

#[test]
fn a_missed_answer_is_escalated_only_from_its_due_time() {
    let desk = Desk::new();
    let w = &desk.w;
    let suggested = desk.suggested();
    // The deadlines service fires a miss at the due time itself, so the step is taken then.
    let at_due = desk.step(
        &suggested,
        WarningCommand::MarkOverdue,
        &w.market,
        ANSWER_DUE,
    );
    assert_eq!(at_due.case.status, WarningStatus::AnswerOverdue);
    for now in ["2026-12-29T18:00:00+08:00", "2026-12-29T23:59:59+08:00"] {
        let refusal = desk
            .decide(
                Some(&suggested),
                WarningCommand::MarkOverdue,
                &w.market,
                now,
            )
            .unwrap_err();
        assert_eq!(refusal.rule(), "WARN-MISS", "{now}");
    }
    let out = desk.step(
        &suggested,
        WarningCommand::MarkOverdue,
        &w.market,
        "2026-12-30T08:00:00+08:00",
    );
    assert_eq!(out.case.status, WarningStatus::AnswerOverdue);
    assert_eq!(out.case.escalated_at, Some(at("2026-12-30T08:00:00+08:00")));
    assert_eq!(
        out.events[0].kind,
        WarningEventKind::Escalated {
            due: at(ANSWER_DUE),
            to: vec![w.procuratorate.code.clone(), w.government.code.clone()],
        }
    );
    assert_eq!(
        out.events[0].recipients,
        [
            w.procuratorate.code.clone(),
            w.government.code.clone(),
            w.market.code.clone()
        ]
    );
    // Escalated once.
    let again = desk
        .decide(
            Some(&out.case),
            WarningCommand::MarkOverdue,
            &w.market,
            "2027-01-29T08:00:00+08:00",
        )
        .unwrap_err();
    assert!(matches!(again, Rejection::WrongState { .. }), "{again:?}");
}

// ---- Every status, every step ---------------------------------------------------------------

#[test]
fn a_closed_warning_takes_no_step() {
    let desk = Desk::new();
    let w = &desk.w;
    for warning in desk.in_every_status() {
        if !warning.status.is_terminal() {
            continue;
        }
        for command in every_command() {
            let actor = match command.step() {
                Step::SuggestReferral | Step::Close => &w.procuratorate,
                _ => &w.market,
            };
            let refusal = desk
                .decide(
                    Some(&warning),
                    command.clone(),
                    actor,
                    "2027-02-01T09:00:00+08:00",
                )
                .unwrap_err();
            // Opening again is refused as existing; a warning closed before it was raised never made
            // the procuratorate a party.
            let expected =
                if command.step() == Step::Open || warning.is_raised() || actor == &w.market {
                    "STATE"
                } else {
                    "AUTH-PARTY"
                };
            assert_eq!(
                refusal.rule(),
                expected,
                "{} in {}: {refusal}",
                command.step(),
                warning.status
            );
        }
    }
}

#[test]
fn every_step_is_allowed_exactly_in_the_statuses_the_table_names() {
    let desk = Desk::new();
    let w = &desk.w;
    let warnings = desk.in_every_status();
    let statuses: BTreeSet<&str> = warnings.iter().map(|w| w.status.as_str()).collect();
    assert_eq!(statuses.len(), WarningStatus::ALL.len(), "{statuses:?}");
    for warning in &warnings {
        for command in every_command() {
            if command.step() == Step::Open {
                continue;
            }
            let p = permission(command.step());
            let actor = match p.by {
                By::Procuratorate => &w.procuratorate,
                By::Agency => &w.market,
            };
            // Late enough for every timer, and on the right version for a clear.
            let result = desk.decide(
                Some(warning),
                command.clone(),
                actor,
                "2027-02-01T09:00:00+08:00",
            );
            let allowed = p.states.contains(&warning.status.as_str());
            match result {
                Ok(out) => {
                    assert!(allowed, "{} ran in {}", command.step(), warning.status);
                    assert_eq!(out.case.version, warning.version + 1);
                    assert_eq!(out.case.history.last().unwrap().step, command.step());
                    assert_eq!(out.events.len(), 1);
                }
                Err(refusal) => assert!(
                    !allowed,
                    "{} refused in {}: {refusal}",
                    command.step(),
                    warning.status
                ),
            }
        }
    }
}

#[test]
fn the_table_has_one_row_per_step_naming_only_real_statuses() {
    let steps: BTreeSet<&str> = PERMISSIONS.iter().map(|p| p.step.as_str()).collect();
    assert_eq!(steps.len(), PERMISSIONS.len(), "a step listed twice");
    assert_eq!(steps, Step::ALL.map(Step::as_str).into_iter().collect());
    let statuses = WarningStatus::ALL.map(WarningStatus::as_str);
    for p in PERMISSIONS {
        assert!(!p.basis.is_empty());
        for state in p.states {
            assert!(statuses.contains(state), "{}: {state}", p.step);
            let status = WarningStatus::ALL
                .into_iter()
                .find(|s| s.as_str() == *state)
                .unwrap();
            assert!(!status.is_terminal(), "{} allowed in {state}", p.step);
        }
        assert_eq!(p.states.is_empty(), p.step == Step::Open);
    }
    for s in WarningStatus::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    for s in Step::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
}

#[test]
fn the_warning_reads_back_as_stored() {
    let desk = Desk::new();
    let warning = desk.suggested();
    let json = serde_json::to_string(&warning).unwrap();
    assert_eq!(
        serde_json::from_str::<EarlyWarning>(&json).unwrap(),
        warning
    );
    let timeline = warning.timeline();
    let steps: Vec<&str> = timeline.iter().map(|t| t.step.as_str()).collect();
    assert_eq!(steps, ["open", "raise_warning", "suggest_referral"]);
    assert_eq!(timeline[2].actor, desk.w.procuratorate.code);
    assert_eq!(warning.opened(), Some((&desk.w.market.code, at(OPENED))));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    #[test]
    fn random_steps_keep_the_warning_invariants(
        steps in proptest::collection::vec((0usize..4, 0usize..8, 0u32..(60 * 24 * 6)), 0..30)
    ) {
        let desk = Desk::new();
        let w = &desk.w;
        let actors = [&w.market, &w.procuratorate, &w.environment, &w.police];
        let mut now = at(OPENED);
        let mut current: Option<EarlyWarning> = None;
        // Start from an opened warning: every other step follows it.
        if let Ok(out) = desk.decide(None, open_command(hits()), &w.market, OPENED) {
            current = Some(out.case);
        }
        for (actor, command, minutes) in steps {
            now = now.plus(std::time::Duration::from_secs(u64::from(minutes) * 60));
            let command = every_command().swap_remove(command);
            let actor = actors[actor];
            let before = current.clone();
            // A refused step changes nothing: `current` stays as it was.
            if let Ok(out) = decide(before.as_ref(), &command, actor, &desk.ctx(), now) {
                    let next = &out.case;
                    if let Some(previous) = &before {
                        proptest::prop_assert!(!previous.status.is_terminal());
                        proptest::prop_assert_eq!(next.version, previous.version + 1);
                        proptest::prop_assert_eq!(next.id, previous.id);
                        proptest::prop_assert_eq!(&next.hits, &previous.hits);
                    }
                    proptest::prop_assert_eq!(next.history.len() as u64, next.version);
                    // The procuratorate hears nothing before the warning is raised to it.
                    for event in &out.events {
                        if !next.is_raised() {
                            proptest::prop_assert!(
                                !event.recipients.contains(&next.procuratorate)
                            );
                        }
                    }
                    // The warning is raised only after its period, and an answer is late only
                    // after its due time.
                    if let Some(raised) = next.raised_at {
                        proptest::prop_assert!(raised >= next.raise_due);
                    }
                    if let (Some(late), Some(due)) = (next.answered_late, next.answer_due) {
                        proptest::prop_assert_eq!(late, due);
                        proptest::prop_assert!(now > due);
                    }
                    current = Some(out.case);
            }
        }
    }
}
