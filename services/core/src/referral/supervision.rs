//! After non-filing (S1 Art 9; S5 Arts 560–564): the agency's reconsideration and its
//! suggestion of supervision, and the procuratorate's filing supervision (立案监督) — reasons,
//! notice to file, the overdue review, explanations, correction notice and report upwards.

use super::checks::{Outcome, check};
use super::{Context, ReconsiderationOutcome, Referral, ReferralEventKind, ReferralStatus, Step};
use crate::case::{Rejection, TEXT_MAX_CHARS, text};
use crate::directory::{Agency, AgencyKind};
use crate::time::Timestamp;

/// 310号令 第9条 (S1-9a): within 3 days of the non-filing notice; once.
pub(super) fn request_reconsideration(
    out: &mut Outcome,
    referral: &Referral,
    ctx: &Context<'_>,
    reasons: &str,
) -> Result<(), Rejection> {
    if referral.reconsidered {
        return Err(Rejection::Forbidden {
            rule: "S1-9a",
            field: None,
            reason: "the police already decided a reconsideration of this referral; \
                     suggest procuratorate supervision instead"
                .into(),
        });
    }
    text("reasons", reasons, TEXT_MAX_CHARS, true)?;
    out.case.status = ReferralStatus::ReconsiderationRequested;
    out.note = reasons.to_owned();
    check(out, "S1-9a", referral.last_at(Step::Decline), ctx);
    out.event(ReferralEventKind::ReconsiderationRequested {
        reasons: reasons.to_owned(),
    });
    Ok(())
}

/// 310号令 第9条 (S1-9b): the police decide within 3 days and tell the agency.
pub(super) fn decide_reconsideration(
    out: &mut Outcome,
    outcome: ReconsiderationOutcome,
    reasons: &str,
) -> Result<(), Rejection> {
    text("reasons", reasons, TEXT_MAX_CHARS, true)?;
    out.case.reconsidered = true;
    out.case.status = match outcome {
        ReconsiderationOutcome::File => ReferralStatus::Filed,
        ReconsiderationOutcome::Uphold => ReferralStatus::Declined,
    };
    out.note = reasons.to_owned();
    out.event(ReferralEventKind::ReconsiderationDecided {
        outcome,
        reasons: reasons.to_owned(),
    });
    if outcome == ReconsiderationOutcome::File {
        // Filing on reconsideration is a filing: S1-12 starts from it.
        out.event(ReferralEventKind::Filed {
            note: reasons.to_owned(),
        });
    }
    Ok(())
}

/// 310号令 第9条 (S1-9c): to the procuratorate, within 3 days of the non-filing notice
/// or of the reconsideration decision.
pub(super) fn suggest_supervision(
    out: &mut Outcome,
    referral: &Referral,
    ctx: &Context<'_>,
    reasons: &str,
) -> Result<(), Rejection> {
    if referral.procuratorate.is_none() {
        return Err(Rejection::Forbidden {
            rule: "CC",
            field: None,
            reason: "no procuratorate was copied on this referral (none in the sender's \
                     region in the directory), so none can supervise it"
                .into(),
        });
    }
    text("reasons", reasons, TEXT_MAX_CHARS, true)?;
    out.case.status = ReferralStatus::SupervisionSuggested;
    out.note = reasons.to_owned();
    let start = if referral.reconsidered {
        referral.last_at(Step::DecideReconsideration)
    } else {
        referral.last_at(Step::Decline)
    };
    check(out, "S1-9c", start, ctx);
    out.event(ReferralEventKind::SupervisionSuggested {
        reasons: reasons.to_owned(),
    });
    Ok(())
}

/// S5 Art 560: the procuratorate asks the police to explain non-filing in writing.
pub(super) fn request_reasons(out: &mut Outcome, note: &str) -> Result<(), Rejection> {
    text("note", note, TEXT_MAX_CHARS, false)?;
    out.case.status = ReferralStatus::ReasonsRequested;
    out.note = note.to_owned();
    out.event(ReferralEventKind::ReasonsRequested);
    Ok(())
}

/// S5 Art 560 (R560): the police answer in writing within 7 days.
pub(super) fn give_reasons(out: &mut Outcome, reasons: &str) -> Result<(), Rejection> {
    text("reasons", reasons, TEXT_MAX_CHARS, true)?;
    out.case.status = ReferralStatus::ReasonsGiven;
    out.note = reasons.to_owned();
    out.event(ReferralEventKind::ReasonsGiven {
        reasons: reasons.to_owned(),
    });
    Ok(())
}

/// S5 Art 561 (R561): the reasons stand; the procuratorate tells the agency.
pub(super) fn tell_agency(out: &mut Outcome, note: &str) -> Result<(), Rejection> {
    text("note", note, TEXT_MAX_CHARS, true)?;
    out.case.status = ReferralStatus::SupervisionClosed;
    out.note = note.to_owned();
    out.event(ReferralEventKind::AgencyTold);
    Ok(())
}

/// S5 Art 563 (R563): the reasons do not stand; the police must file within 15 days.
pub(super) fn notify_filing(out: &mut Outcome, reasons: &str) -> Result<(), Rejection> {
    text("reasons", reasons, TEXT_MAX_CHARS, true)?;
    out.case.status = ReferralStatus::FilingNotified;
    out.note = reasons.to_owned();
    out.event(ReferralEventKind::FilingNotified {
        reasons: reasons.to_owned(),
    });
    Ok(())
}

/// S1 Art 8 (S1-8): the review ran out. A miss of a review that started before the
/// current organ's receipt (an organ that forwarded the referral since) is stale.
pub(super) fn mark_review_overdue(
    out: &mut Outcome,
    referral: &Referral,
    started_at: Timestamp,
    due_at: Timestamp,
) -> Result<(), Rejection> {
    let receipt = referral.last_at(Step::SignReceipt);
    if receipt.is_none_or(|receipt| started_at < receipt) {
        return Err(Rejection::Forbidden {
            rule: "S1-8",
            field: None,
            reason: "the review period that ran out is not the current police organ's".into(),
        });
    }
    if referral.review_overdue_at.is_some() {
        return Err(Rejection::Forbidden {
            rule: "S1-8",
            field: None,
            reason: "the review period is already recorded as run out".into(),
        });
    }
    out.case.review_overdue_at = Some(due_at);
    out.note = format!("the review period (S1-8) ran out at {due_at}");
    out.event(ReferralEventKind::ReviewOverdue { due_at });
    Ok(())
}

/// S5 Art 562 (R562): the police missed the filing decision; explain within 7 days.
/// Only once the review period has run out: before that the procuratorate forwards
/// the matter to the police. (The note is checked first, like every input.)
pub(super) fn demand_explanation(
    out: &mut Outcome,
    referral: &Referral,
    note: &str,
) -> Result<(), Rejection> {
    let now = out.now();
    text("note", note, TEXT_MAX_CHARS, false)?;
    if referral.review_overdue_at.is_none() {
        return Err(Rejection::Forbidden {
            rule: "R562",
            field: None,
            reason: "the police's review period (S1-8, with any extension) has not run \
                     out: until it does, the procuratorate forwards the matter to the \
                     police rather than demand an explanation (S5 Art 562); \
                     ListCaseDeadlines shows when it ends"
                .into(),
        });
    }
    if let Some(at) = referral.explanation_demanded_at {
        return Err(Rejection::Forbidden {
            rule: "R562",
            field: None,
            reason: format!("an explanation demanded at {at} is still owed"),
        });
    }
    out.case.explanation_demanded_at = Some(now);
    out.note = note.to_owned();
    out.event(ReferralEventKind::ExplanationDemanded);
    Ok(())
}

/// S5 Art 562: the police explain the missing filing decision the procuratorate demanded.
pub(super) fn explain(
    out: &mut Outcome,
    referral: &Referral,
    explanation: &str,
) -> Result<(), Rejection> {
    if referral.explanation_demanded_at.is_none() {
        return Err(Rejection::Forbidden {
            rule: "R562",
            field: None,
            reason: "the procuratorate has not demanded an explanation".into(),
        });
    }
    text("explanation", explanation, TEXT_MAX_CHARS, true)?;
    out.case.explanation_demanded_at = None;
    out.note = explanation.to_owned();
    out.event(ReferralEventKind::ExplanationGiven {
        explanation: explanation.to_owned(),
    });
    Ok(())
}

/// S5 Art 564: the police have not filed 15 days after the notice to file (R563).
pub(super) fn issue_correction_notice(
    out: &mut Outcome,
    referral: &Referral,
    ctx: &Context<'_>,
    reasons: &str,
) -> Result<(), Rejection> {
    let now = out.now();
    text("reasons", reasons, TEXT_MAX_CHARS, true)?;
    if let Some(at) = referral.correction_notice_at {
        return Err(Rejection::Forbidden {
            rule: "R564",
            field: None,
            reason: format!("a correction notice was already issued at {at}"),
        });
    }
    let notified = referral.last_at(Step::NotifyFiling);
    let due = notified.and_then(|at| ctx.law.due("R563", at));
    match due {
        Some(due) if now > due => {}
        Some(due) => {
            return Err(Rejection::Forbidden {
                rule: "R564",
                field: None,
                reason: format!(
                    "the police have until {due} to file on the notice (R563); a \
                     correction notice may be issued only after that (S5 Art 564)"
                ),
            });
        }
        None => {
            return Err(Rejection::Forbidden {
                rule: "R564",
                field: None,
                reason: "the period to file on the notice (R563) cannot be counted".into(),
            });
        }
    }
    out.case.correction_notice_at = Some(now);
    out.note = reasons.to_owned();
    out.event(ReferralEventKind::CorrectionNoticeIssued {
        reasons: reasons.to_owned(),
    });
    Ok(())
}

/// S5 Art 564: the police still do not correct; the next-level procuratorate takes
/// the matter up with the police at its level.
pub(super) fn report_to_superior(
    out: &mut Outcome,
    referral: &Referral,
    actor: &Agency,
    ctx: &Context<'_>,
    note: &str,
) -> Result<(), Rejection> {
    text("note", note, TEXT_MAX_CHARS, false)?;
    if referral.correction_notice_at.is_none() {
        return Err(Rejection::Forbidden {
            rule: "R564",
            field: None,
            reason: "issue the correction notice (纠正违法通知书) first (S5 Art 564)".into(),
        });
    }
    if let Some(superior) = &referral.reported_to {
        return Err(Rejection::Forbidden {
            rule: "R564",
            field: None,
            reason: format!("the matter was already reported to {superior}"),
        });
    }
    let Some(superior) = ctx
        .directory
        .superiors_of(&actor.code)
        .into_iter()
        .find(|a| a.kind == AgencyKind::Procuratorate)
    else {
        return Err(Rejection::Forbidden {
            rule: "R564",
            field: None,
            reason: "the agency directory names no next-level procuratorate above this \
                     one"
            .into(),
        });
    };
    out.case.reported_to = Some(superior.code.clone());
    out.note = note.to_owned();
    out.event(ReferralEventKind::ReportedToSuperior {
        superior: superior.code.clone(),
        note: note.to_owned(),
    });
    Ok(())
}
