//! The penalty file: what recording and correcting open, clear or leave alone, and how the
//! warning's steps and the file's parties follow.

use super::*;
use crate::case::Case;
use crate::document::Party;
use crate::fixtures::{World, at, world};
use crate::screening::warning::WarningStatus;
use crate::screening::{Amount, Measures, PenaltyDecision, SHIPPED_THRESHOLDS, ViolationType};

/// Monday 2026-12-07, 10:00 CST; the warning is raised from the end of Monday 2026-12-14.
const RECORDED: &str = "2026-12-07T10:00:00+08:00";
const RAISE_DUE: &str = "2026-12-15T00:00:00+08:00";

struct Files {
    w: World,
    calendar: std::sync::Arc<Calendar>,
    policy: ScreeningPolicy,
    table: ThresholdTable,
}

impl Files {
    fn new() -> Files {
        let w = world();
        let calendar = w.law.calendar.current();
        let policy = ScreeningPolicy::from_rules(&w.law.rules, None);
        Files {
            w,
            calendar,
            policy,
            table: ThresholdTable::from_toml_str(SHIPPED_THRESHOLDS).unwrap(),
        }
    }

    fn decide(
        &self,
        file: Option<&PenaltyFile>,
        command: PenaltyCommand,
        actor: &Agency,
        now: &str,
    ) -> Result<Decision<PenaltyFile, PenaltyEventKind>, Rejection> {
        let ctx = FileContext {
            directory: &self.w.directory,
            calendar: &self.calendar,
            policy: &self.policy,
            table: &self.table,
        };
        decide(file, &command, actor, &ctx, at(now))
    }

    fn record(
        &self,
        sales: i64,
        referral: Option<CaseId>,
    ) -> Decision<PenaltyFile, PenaltyEventKind> {
        let command = PenaltyCommand::Record {
            case_id: CaseId::generate(),
            case: case(sales),
            referral,
        };
        self.decide(None, command, &self.w.market, RECORDED)
            .unwrap()
    }

    fn warning_step(
        &self,
        file: &PenaltyFile,
        step: WarningCommand,
        actor: &Agency,
        now: &str,
    ) -> PenaltyFile {
        self.decide(Some(file), PenaltyCommand::Warning(step), actor, now)
            .unwrap()
            .case
    }
}

fn case(sales_yuan: i64) -> PenaltyCase {
    PenaltyCase {
        case_number: "榕市监处〔2026〕88号".into(),
        violation: ViolationType::parse("fake_or_substandard_product").unwrap(),
        legal_basis: "《中华人民共和国产品质量法》第五十条".into(),
        parties: vec![Party {
            name: "福州某贸易有限公司".into(),
            id_number: None,
        }],
        measures: Measures {
            sales_amount: Amount::from_yuan(sales_yuan),
            ..Measures::default()
        },
        decision: PenaltyDecision {
            number: "榕市监罚〔2026〕88号".into(),
            decided_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            penalty: "罚款".into(),
            fine: None,
        },
        evidence: Vec::new(),
    }
}

fn names(d: &Decision<PenaltyFile, PenaltyEventKind>) -> Vec<&'static str> {
    d.events.iter().map(|e| e.kind.name()).collect()
}

#[test]
fn a_record_under_the_threshold_is_recorded_and_warns_nobody() {
    let f = Files::new();
    let d = f.record(49_999, None);
    assert_eq!(names(&d), ["recorded"]);
    assert_eq!(d.case.status_name(), "recorded");
    assert!(d.case.hits.is_empty() && d.case.warnings.is_empty());
    assert_eq!(
        d.events[0].recipients,
        std::slice::from_ref(&f.w.market.code)
    );
}

#[test]
fn a_record_at_the_threshold_warns_the_agency_alone_at_once() {
    let f = Files::new();
    let d = f.record(50_000, None);
    assert_eq!(names(&d), ["recorded", "agency_warned"]);
    assert_eq!(d.case.status_name(), "agency_warned");
    assert_eq!(d.case.hits[0].rule, "CL-140");
    assert!(
        d.events
            .iter()
            .all(|e| e.recipients == [f.w.market.code.clone()])
    );
    // The procuratorate is not a party until the warning is raised to it.
    assert_eq!(d.case.parties().get(Role::Procuratorate), None);
    assert_eq!(d.case.warning().unwrap().raise_due, at(RAISE_DUE));
}

#[test]
fn a_record_naming_its_referral_is_screened_but_opens_no_warning() {
    let f = Files::new();
    let d = f.record(80_000, Some(CaseId::generate()));
    assert_eq!(names(&d), ["recorded"]);
    assert_eq!(d.case.hits.len(), 1);
    assert_eq!(d.case.status_name(), "recorded");
}

#[test]
fn raising_makes_the_procuratorate_a_party_and_tells_it_and_the_supervisor() {
    let f = Files::new();
    let opened = f.record(60_000, None).case;
    let early = f
        .decide(
            Some(&opened),
            PenaltyCommand::Warning(WarningCommand::Raise),
            &f.w.market,
            "2026-12-14T23:00:00+08:00",
        )
        .unwrap_err();
    assert_eq!(early.rule(), "WARN-RAISE");
    let d = f
        .decide(
            Some(&opened),
            PenaltyCommand::Warning(WarningCommand::Raise),
            &f.w.market,
            RAISE_DUE,
        )
        .unwrap();
    assert_eq!(names(&d), ["raised"]);
    assert!(d.events[0].recipients.contains(&f.w.procuratorate.code));
    assert_eq!(d.case.status_name(), "warning_raised");
    assert_eq!(
        d.case.parties().get(Role::Procuratorate),
        Some(&f.w.procuratorate.code)
    );
    assert_eq!(d.case.version, opened.version + 1);
}

#[test]
fn a_correction_below_the_threshold_clears_a_warning_only_the_agency_has() {
    let f = Files::new();
    let opened = f.record(60_000, None).case;
    let d = f
        .decide(
            Some(&opened),
            PenaltyCommand::Correct {
                case: case(40_000),
                reason: "销售金额复核为40000元".into(),
            },
            &f.w.market,
            "2026-12-08T10:00:00+08:00",
        )
        .unwrap();
    assert_eq!(names(&d), ["corrected", "cleared"]);
    assert_eq!(d.case.status_name(), "warning_cleared");
    assert_eq!(d.case.record.versions().len(), 2);
    assert_eq!(
        d.case.record.versions()[0].case.measures.sales_amount,
        Amount::from_yuan(60_000)
    );

    // Once raised, a lower figure is for the procuratorate to judge: the warning stands.
    let raised = f.warning_step(&opened, WarningCommand::Raise, &f.w.market, RAISE_DUE);
    let d = f
        .decide(
            Some(&raised),
            PenaltyCommand::Correct {
                case: case(40_000),
                reason: "销售金额复核为40000元".into(),
            },
            &f.w.market,
            "2026-12-16T10:00:00+08:00",
        )
        .unwrap();
    assert_eq!(names(&d), ["corrected"]);
    assert_eq!(d.case.status_name(), "warning_raised");
}

#[test]
fn a_correction_over_the_threshold_opens_a_warning_on_the_new_version() {
    let f = Files::new();
    let recorded = f.record(10_000, None).case;
    let d = f
        .decide(
            Some(&recorded),
            PenaltyCommand::Correct {
                case: case(70_000),
                reason: "补充查明销售金额".into(),
            },
            &f.w.market,
            "2026-12-08T10:00:00+08:00",
        )
        .unwrap();
    assert_eq!(names(&d), ["corrected", "agency_warned"]);
    assert_eq!(d.case.warnings.len(), 1);
    assert_eq!(d.case.warning().unwrap().record_version, 2);
}

#[test]
fn strangers_and_the_procuratorate_before_the_raise_are_refused() {
    let f = Files::new();
    let opened = f.record(60_000, None).case;
    let by_environment = f
        .decide(
            Some(&opened),
            PenaltyCommand::Correct {
                case: case(1),
                reason: "x".into(),
            },
            &f.w.environment,
            RECORDED,
        )
        .unwrap_err();
    assert_eq!(by_environment.rule(), "AUTH-PARTY");
    let suggest = PenaltyCommand::Warning(WarningCommand::SuggestReferral {
        ground: crate::screening::warning::OpinionGround::PenaltyInsteadOfProsecution,
        reasons: "够罪".into(),
        documents: Vec::new(),
    });
    let too_early = f
        .decide(Some(&opened), suggest, &f.w.procuratorate, RECORDED)
        .unwrap_err();
    assert_eq!(too_early.rule(), "AUTH-PARTY");
    let police = f
        .decide(
            None,
            PenaltyCommand::Record {
                case_id: CaseId::generate(),
                case: case(60_000),
                referral: None,
            },
            &f.w.police,
            RECORDED,
        )
        .unwrap_err();
    assert_eq!(police.rule(), "AUTH-ROLE");
}

#[test]
fn a_referral_linked_without_a_warning_is_kept_and_a_later_hit_opens_none() {
    let f = Files::new();
    let recorded = f.record(10_000, None).case;
    let referral = CaseId::generate();
    let linked = f.warning_step(
        &recorded,
        WarningCommand::LinkReferral { referral },
        &f.w.market,
        RECORDED,
    );
    assert_eq!(linked.referral, Some(referral));
    assert_eq!(linked.timeline().last().unwrap().step, "link_referral");
    let d = f
        .decide(
            Some(&linked),
            PenaltyCommand::Correct {
                case: case(90_000),
                reason: "补充查明".into(),
            },
            &f.w.market,
            "2026-12-08T10:00:00+08:00",
        )
        .unwrap();
    assert_eq!(names(&d), ["corrected"]);
}

#[test]
fn the_warnings_steps_run_through_the_file_to_a_late_answer() {
    let f = Files::new();
    let raised = f.warning_step(
        &f.record(60_000, None).case,
        WarningCommand::Raise,
        &f.w.market,
        RAISE_DUE,
    );
    let suggested = f.warning_step(
        &raised,
        WarningCommand::SuggestReferral {
            ground: crate::screening::warning::OpinionGround::PenaltyInsteadOfProsecution,
            reasons: "销售金额六万元".into(),
            documents: Vec::new(),
        },
        &f.w.procuratorate,
        "2026-12-15T09:00:00+08:00",
    );
    let due = suggested.warning().unwrap().answer_due.unwrap();
    let overdue = f.warning_step(
        &suggested,
        WarningCommand::MarkOverdue,
        &f.w.market,
        &due.to_rfc3339(),
    );
    assert_eq!(
        overdue.warning().unwrap().status,
        WarningStatus::AnswerOverdue
    );
    let referral = CaseId::generate();
    let linked = f.warning_step(
        &overdue,
        WarningCommand::LinkReferral { referral },
        &f.w.market,
        "2026-12-31T09:00:00+08:00",
    );
    assert_eq!(linked.status_name(), "referral_linked");
    assert_eq!(linked.referral, Some(referral));
    assert!(linked.warning().unwrap().answered_late.is_some());
    // Every step is on the timeline, in order.
    let steps: Vec<String> = linked.timeline().into_iter().map(|e| e.step).collect();
    assert_eq!(
        steps,
        [
            "record",
            "open",
            "raise",
            "suggest_referral",
            "mark_overdue",
            "link_referral"
        ]
    );
}
