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

    /// The files decided under `table` instead of the shipped one.
    fn under(mut self, table: &str) -> Files {
        self.table = ThresholdTable::from_toml_str(table).unwrap();
        self
    }

    fn rescreen(
        &self,
        file: &PenaltyFile,
        now: &str,
    ) -> Result<Decision<PenaltyFile, PenaltyEventKind>, Rejection> {
        self.decide(Some(file), PenaltyCommand::Rescreen, &self.w.market, now)
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
            "raise_warning",
            "suggest_referral",
            "mark_overdue",
            "link_referral"
        ]
    );
}

/// The shipped table with CL-140's threshold at `yuan`, and a version line.
fn cl140_at(yuan: &str) -> String {
    let table = SHIPPED_THRESHOLDS.replacen(
        "threshold = \"50000\"\n",
        &format!("threshold = \"{yuan}\"\n"),
        1,
    );
    assert_ne!(
        table, SHIPPED_THRESHOLDS,
        "CL-140's threshold is in the shipped table"
    );
    relabelled(&table, &format!("test-{yuan}"))
}

/// `table` with its version line set to `version`.
fn relabelled(table: &str, version: &str) -> String {
    let shipped = "version = \"2026-12\"\n";
    assert!(table.contains(shipped), "the shipped table's version line");
    table.replacen(shipped, &format!("version = \"{version}\"\n"), 1)
}

const RESCREENED: &str = "2026-12-09T08:00:00+08:00";

#[test]
fn the_table_is_stamped_on_each_version_screened_and_a_version_line_is_not_a_change() {
    let f = Files::new();
    let d = f.record(40_000, None);
    let stamp = d.case.screened_under(1).unwrap();
    assert_eq!(&stamp.table, f.table.stamp());
    assert_eq!(stamp.at, at(RECORDED));
    assert_eq!(stamp.table.digest.len(), 64);
    // Comments, layout and the version line leave the digest; a threshold moves it.
    assert_eq!(f.table.version(), Some("2026-12"));
    let other = relabelled(
        &SHIPPED_THRESHOLDS.replacen("\n\n", "\n# a comment\n\n", 1),
        "2027-01",
    );
    let other = ThresholdTable::from_toml_str(&other).unwrap();
    assert_eq!(other.digest(), f.table.digest());
    assert_eq!(other.version(), Some("2027-01"));
    assert_eq!(
        other.stamp().to_string(),
        format!("2027-01 (sha256 {})", &f.table.digest()[..12])
    );
    let lower = ThresholdTable::from_toml_str(&cl140_at("30000")).unwrap();
    assert_ne!(lower.digest(), f.table.digest());
    // A correction stamps its own version; the first keeps its stamp.
    let corrected = f
        .decide(
            Some(&d.case),
            PenaltyCommand::Correct {
                case: case(45_000),
                reason: "复核".into(),
            },
            &f.w.market,
            "2026-12-08T10:00:00+08:00",
        )
        .unwrap()
        .case;
    assert_eq!(corrected.screenings.len(), 2);
    assert_eq!(
        corrected.screened_under(2).unwrap().at,
        at("2026-12-08T10:00:00+08:00")
    );
}

#[test]
fn a_record_a_lower_threshold_now_meets_is_warned_as_on_arrival() {
    let recorded = Files::new().record(40_000, None).case;
    let f = Files::new().under(&cl140_at("30000"));
    let d = f.rescreen(&recorded, RESCREENED).unwrap();
    assert_eq!(names(&d), ["rescreened", "agency_warned"]);
    assert_eq!(d.case.status_name(), "agency_warned");
    assert_eq!(d.case.hits[0].rule, "CL-140");
    let warning = d.case.warning().unwrap();
    assert_eq!(warning.record_version, 1);
    // The agency alone is told, at once; the raise is counted from the re-screening.
    assert!(
        d.events
            .iter()
            .all(|e| e.recipients == [f.w.market.code.clone()])
    );
    assert_eq!(warning.opened_at, at(RESCREENED));
    let PenaltyEventKind::Rescreened {
        version,
        was,
        table,
        ..
    } = &d.events[0].kind
    else {
        panic!("rescreened first");
    };
    assert_eq!((*version, was.is_empty()), (1, true));
    assert_eq!(table, f.table.stamp());
    assert_eq!(d.case.screened_under(1).unwrap().table, *f.table.stamp());
    let steps: Vec<String> = d.case.timeline().into_iter().map(|e| e.step).collect();
    assert_eq!(steps, ["record", "rescreen", "open"]);
    assert!(
        d.case.timeline()[1].note.contains("test-30000"),
        "{}",
        d.case.timeline()[1].note
    );
    // Again under the same table: nothing changes, so no step.
    assert!(!d.case.needs_rescreening(&f.table));
    let again = f.rescreen(&d.case, RESCREENED).unwrap_err();
    assert_eq!(again.rule(), "WARN-RESCREEN");
}

#[test]
fn hits_that_change_under_an_open_warning_update_the_record_and_leave_the_warning() {
    let opened = Files::new().record(60_000, None).case;
    // The attempt rule's source reworded: the hits differ, the warning stays as opened.
    let reworded = SHIPPED_THRESHOLDS.replacen(
        "source = \"刑法 Art 140; 刑法 Art 99\"",
        "source = \"刑法 Art 140; 刑法 Art 99; 2001 interpretation Art 2\"",
        1,
    );
    let f = Files::new().under(&reworded);
    let d = f.rescreen(&opened, RESCREENED).unwrap();
    assert_eq!(names(&d), ["rescreened"]);
    assert_eq!(d.case.warnings.len(), 1);
    assert_eq!(d.case.warning(), opened.warning());
    assert!(d.case.hits[0].source.contains("2001 interpretation"));
}

#[test]
fn a_record_no_threshold_meets_any_more_withdraws_a_warning_only_the_agency_has() {
    let opened = Files::new().record(60_000, None).case;
    let f = Files::new().under(&cl140_at("70000"));
    let d = f.rescreen(&opened, RESCREENED).unwrap();
    assert_eq!(names(&d), ["rescreened", "cleared"]);
    assert!(d.case.hits.is_empty());
    assert_eq!(d.case.status_name(), "warning_cleared");
    let PenaltyEventKind::Warning(WarningEventKind::Cleared {
        record_version,
        table,
    }) = d.events[1].kind.clone()
    else {
        panic!("cleared");
    };
    assert_eq!((record_version, table.as_ref()), (1, Some(f.table.stamp())));
    let note = &d.case.warning().unwrap().history.last().unwrap().note;
    assert!(
        note.contains("changed threshold table test-70000"),
        "{note}"
    );
    // A cleared warning leaves the file open: back at the old table, it is warned again.
    let back = Files::new()
        .rescreen(&d.case, "2026-12-10T08:00:00+08:00")
        .unwrap();
    assert_eq!(names(&back), ["rescreened", "agency_warned"]);
    assert_eq!(back.case.warnings.len(), 2);
}

#[test]
fn a_raised_warning_stands_when_no_threshold_meets_the_record_and_the_procuratorate_hears() {
    let f = Files::new();
    let raised = f.warning_step(
        &f.record(60_000, None).case,
        WarningCommand::Raise,
        &f.w.market,
        RAISE_DUE,
    );
    let f = f.under(&cl140_at("70000"));
    let d = f.rescreen(&raised, "2026-12-16T08:00:00+08:00").unwrap();
    assert_eq!(names(&d), ["rescreened"]);
    assert!(d.case.hits.is_empty());
    assert_eq!(d.case.status_name(), "warning_raised");
    assert_eq!(d.case.warning(), raised.warning());
    assert!(d.events[0].recipients.contains(&f.w.procuratorate.code));
    assert!(d.events[0].recipients.contains(&f.w.market.code));
    let note = &d.case.history.last().unwrap().note;
    assert!(note.contains("stands"), "{note}");
}

#[test]
fn closed_files_and_strangers_are_not_rescreened() {
    let f = Files::new();
    let referred = f.record(40_000, Some(CaseId::generate())).case;
    let lower = Files::new().under(&cl140_at("30000"));
    assert!(!referred.needs_rescreening(&lower.table));
    let refused = lower.rescreen(&referred, RESCREENED).unwrap_err();
    assert_eq!(refused.rule(), "WARN-RESCREEN");
    // A warning the procuratorate closed ends the file's screening.
    let raised = f.warning_step(
        &f.record(60_000, None).case,
        WarningCommand::Raise,
        &f.w.market,
        RAISE_DUE,
    );
    let closed = f.warning_step(
        &raised,
        WarningCommand::Close {
            reasons: "情节显著轻微".into(),
        },
        &f.w.procuratorate,
        "2026-12-16T08:00:00+08:00",
    );
    let higher = Files::new().under(&cl140_at("70000"));
    assert!(!closed.needs_rescreening(&higher.table));
    assert_eq!(
        higher.rescreen(&closed, RESCREENED).unwrap_err().rule(),
        "WARN-RESCREEN"
    );
    // Only in the recording agency's name.
    let open = f.record(40_000, None).case;
    let stranger = lower
        .decide(
            Some(&open),
            PenaltyCommand::Rescreen,
            &f.w.environment,
            RESCREENED,
        )
        .unwrap_err();
    assert_eq!(stranger.rule(), "AUTH-PARTY");
    // Nothing to rescreen before a record exists.
    let none = lower
        .decide(None, PenaltyCommand::Rescreen, &f.w.market, RESCREENED)
        .unwrap_err();
    assert_eq!(none.rule(), "STATE");
}
