//! The steps that open a referral: submission with its package (S1 Arts 5–6) and the record of
//! a head's decision not to refer (S1 Art 5).

use super::checks::Outcome;
use super::{
    Context, Decision, DocumentKind, Flag, NonReferral, NonReferralDecision, Referral,
    ReferralEventKind, ReferralStatus, Step, Submission,
};
use crate::case::{self, Rejection, TEXT_MAX_CHARS, TITLE_MAX_CHARS, invalid, text};
use crate::directory::{Agency, AgencyKind};
use crate::ids::AgencyCode;
use crate::personal::PersonalData;
use crate::time::Timestamp;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// S1 Arts 5–6: the referral and its package.
pub(super) fn submit(
    s: &Submission,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    case::require_agency(ctx.directory, "police", &s.police, AgencyKind::Police)?;
    text(
        "suspected_offence",
        &s.suspected_offence,
        TEXT_MAX_CHARS,
        true,
    )?;
    text("summary", &s.summary, TEXT_MAX_CHARS, true)?;
    // Case officer and phone are recommended letter fields [U], so neither is required; a phone
    // given must be one (issue 12, D8).
    text("case_officer", &s.case_officer, TITLE_MAX_CHARS, false)?;
    case::phone("case_officer_phone", s.case_officer_phone.expose(), false)?;
    case::documents(&s.documents, 0)?;
    case::parties(&s.parties)?;

    if s.approved_at < s.report_received_at {
        return Err(invalid(
            "approved_at",
            "must not be before report_received_at",
        ));
    }
    if s.approved_at > now {
        return Err(invalid("approved_at", "must not be in the future"));
    }

    // S1 Art 6: items 1–3 always; item 4 where items were tested; the penalty decision when a
    // penalty was imposed [V2 S24, configurable].
    let mut required = vec![
        DocumentKind::ReferralLetter,
        DocumentKind::InvestigationReport,
        DocumentKind::SeizedItemsList,
    ];
    if s.items_tested {
        required.push(DocumentKind::TestReport);
    }
    if s.penalty_imposed && ctx.policy.require_penalty_decision {
        required.push(DocumentKind::PenaltyDecision);
    }
    if let Some(kinds) = case::missing(&s.documents, &required) {
        return Err(Rejection::MissingDocument {
            kinds,
            rule: "S1-6",
        });
    }

    let mut flags = Vec::new();
    flags.extend(approval_late(s.report_received_at, s.approved_at, ctx));
    // 310号令 第5条 (S1-5c): send within 24 h of approval. A late referral is accepted and flagged.
    let send_delay = now.minus_ts(s.approved_at);
    if send_delay > ctx.policy.send_limit_hours.saturating_mul(HOUR_MS) {
        flags.push(Flag::SubmittedLate {
            hours_after_approval: case::div_ceil(send_delay, HOUR_MS),
        });
    }
    // Rule CC: copy the procuratorate of the sender's region with the referral.
    let procuratorate = copied_procuratorate(actor, ctx, &mut flags);

    let referral = Referral {
        id: s.case_id,
        sender: actor.code.clone(),
        police: Some(s.police.clone()),
        procuratorate,
        former_police: Vec::new(),
        status: ReferralStatus::Submitted,
        suspected_offence: s.suspected_offence.clone(),
        summary: s.summary.clone(),
        report_received_at: s.report_received_at,
        approved_at: s.approved_at,
        submitted_at: now,
        items_tested: s.items_tested,
        penalty_imposed: s.penalty_imposed,
        documents: s.documents.clone(),
        parties: s.parties.clone(),
        case_officer: s.case_officer.clone(),
        case_officer_phone: s.case_officer_phone.clone(),
        items_handed_over_at: None,
        reconsidered: false,
        review_overdue_at: None,
        explanation_demanded_at: None,
        correction_notice_at: None,
        reported_to: None,
        non_referral: None,
        handed_to: None,
        flags,
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(referral, Step::Submit, actor, now);
    out.documents = s.documents.clone();
    out.event(ReferralEventKind::Submitted);
    Ok(out.finish())
}

/// 310号令 第5条 (S1-5b): the head decides within 3 days of receiving the report, counted on the
/// legal calendar; a later decision is flagged, never refused.
fn approval_late(
    report_received_at: Timestamp,
    decided_at: Timestamp,
    ctx: &Context<'_>,
) -> Option<Flag> {
    ctx.law
        .late("S1-5b", report_received_at, decided_at)
        .map(|_| Flag::ApprovalLate {
            days_after_report: case::div_ceil(decided_at.minus_ts(report_received_at), DAY_MS),
        })
}

/// The procuratorate of the sender's region (rule CC), or a flag that the directory has none.
fn copied_procuratorate(
    actor: &Agency,
    ctx: &Context<'_>,
    flags: &mut Vec<Flag>,
) -> Option<AgencyCode> {
    let procuratorate = ctx
        .directory
        .procuratorate_for(&actor.region)
        .map(|p| p.code.clone());
    if procuratorate.is_none() {
        flags.push(Flag::NoProcuratorateInRegion);
    }
    procuratorate
}

/// S1 Art 5: the head's decision not to refer goes on the record with its reasons (记录在案),
/// where the procuratorate of the agency's region sees it. No police organ is involved.
pub(super) fn record_non_referral(
    r: &NonReferral,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    text(
        "suspected_offence",
        &r.suspected_offence,
        TEXT_MAX_CHARS,
        true,
    )?;
    text("summary", &r.summary, TEXT_MAX_CHARS, true)?;
    text("approver", &r.approver, TITLE_MAX_CHARS, true)?;
    text("reasons", &r.reasons, TEXT_MAX_CHARS, true)?;
    case::documents(&r.documents, 0)?;
    case::parties(&r.parties)?;
    if r.decided_at < r.report_received_at {
        return Err(invalid(
            "decided_at",
            "must not be before report_received_at",
        ));
    }
    if r.decided_at > now {
        return Err(invalid("decided_at", "must not be in the future"));
    }
    let mut flags = Vec::new();
    flags.extend(approval_late(r.report_received_at, r.decided_at, ctx));
    let procuratorate = copied_procuratorate(actor, ctx, &mut flags);
    let referral = Referral {
        id: r.case_id,
        sender: actor.code.clone(),
        police: None,
        procuratorate,
        former_police: Vec::new(),
        status: ReferralStatus::NotReferred,
        suspected_offence: r.suspected_offence.clone(),
        summary: r.summary.clone(),
        report_received_at: r.report_received_at,
        approved_at: r.decided_at,
        submitted_at: now,
        items_tested: false,
        penalty_imposed: false,
        documents: r.documents.clone(),
        parties: r.parties.clone(),
        case_officer: String::new(),
        case_officer_phone: PersonalData::new(String::new()),
        items_handed_over_at: None,
        reconsidered: false,
        review_overdue_at: None,
        explanation_demanded_at: None,
        correction_notice_at: None,
        reported_to: None,
        non_referral: Some(NonReferralDecision {
            approver: r.approver.clone(),
            reasons: r.reasons.clone(),
        }),
        handed_to: None,
        flags,
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(referral, Step::RecordNonReferral, actor, now);
    out.note = r.reasons.clone();
    out.documents = r.documents.clone();
    out.event(ReferralEventKind::NotReferredRecorded {
        approver: r.approver.clone(),
        reasons: r.reasons.clone(),
    });
    Ok(out.finish())
}
