//! The police review of a received referral (S1 Arts 7–8; S2 Art 180): the receipt, requests
//! for and supply of missing materials, forwarding to the competent organ, return as outside
//! police remit, and the filing decision.

use super::checks::{Outcome, check};
use super::{Context, Document, DocumentKind, Referral, ReferralEventKind, ReferralStatus, Step};
use crate::case::{self, Rejection, TEXT_MAX_CHARS, invalid, text};
use crate::directory::{Agency, AgencyKind};
use crate::ids::AgencyCode;

/// S1 Art 7: the police sign the receipt on receiving the referral.
pub(super) fn sign_receipt(out: &mut Outcome) -> Result<(), Rejection> {
    out.case.status = ReferralStatus::Received;
    out.event(ReferralEventKind::ReceiptSigned);
    Ok(())
}

/// S2 Art 180 (P180-2a): the police ask for missing materials within 24 h of
/// acceptance and may not refuse the case for their absence.
pub(super) fn request_supplement(
    out: &mut Outcome,
    referral: &Referral,
    ctx: &Context<'_>,
    missing: &[DocumentKind],
    note: &str,
) -> Result<(), Rejection> {
    if missing.is_empty() && note.trim().is_empty() {
        return Err(invalid(
            "missing",
            "must name at least one document kind, or explain in the note what is needed",
        ));
    }
    text("note", note, TEXT_MAX_CHARS, false)?;
    out.case.status = ReferralStatus::AwaitingSupplement;
    out.note = note.to_owned();
    check(out, "P180-2a", referral.last_at(Step::SignReceipt), ctx);
    out.event(ReferralEventKind::SupplementRequested {
        missing: missing.to_vec(),
        note: note.to_owned(),
    });
    Ok(())
}

/// The agency supplies the missing materials (P180-2b); the police review goes on.
pub(super) fn supplement(
    out: &mut Outcome,
    referral: &Referral,
    added: &[Document],
    note: &str,
) -> Result<(), Rejection> {
    if added.is_empty() {
        return Err(invalid("documents", "must contain at least one document"));
    }
    case::documents(added, referral.documents.len())?;
    text("note", note, TEXT_MAX_CHARS, false)?;
    out.case.status = ReferralStatus::Received;
    out.case.documents.extend(added.iter().cloned());
    out.note = note.to_owned();
    out.documents = added.to_vec();
    out.event(ReferralEventKind::Supplemented {
        documents: added.to_vec(),
    });
    Ok(())
}

/// S1 Art 7: the organ that is not competent passes the case to the competent organ
/// within 24 h and tells the agency in writing; the new organ signs a receipt again.
pub(super) fn forward(
    out: &mut Outcome,
    referral: &Referral,
    actor: &Agency,
    ctx: &Context<'_>,
    to: &AgencyCode,
    reason: &str,
) -> Result<(), Rejection> {
    case::require_agency(ctx.directory, "to", to, AgencyKind::Police)?;
    if referral.police.as_ref() == Some(to) {
        return Err(invalid(
            "to",
            "must be a police organ other than the one holding the referral",
        ));
    }
    text("reason", reason, TEXT_MAX_CHARS, true)?;
    out.case.status = ReferralStatus::Submitted;
    if let Some(former) = &referral.police
        && !out.case.former_police.contains(former)
    {
        out.case.former_police.push(former.clone());
    }
    out.case.police = Some(to.clone());
    // The competent organ's own review starts with its receipt.
    out.case.review_overdue_at = None;
    out.note = format!("forwarded to {to}: {reason}");
    check(out, "S1-7", referral.last_at(Step::SignReceipt), ctx);
    out.event(ReferralEventKind::Forwarded {
        from: actor.code.clone(),
        to: to.clone(),
        reason: reason.to_owned(),
    });
    Ok(())
}

/// S2 Art 180 (P180-3): outside police remit → tell the agency, with reasons.
pub(super) fn return_not_police_matter(
    out: &mut Outcome,
    referral: &Referral,
    ctx: &Context<'_>,
    reasons: &str,
) -> Result<(), Rejection> {
    text("reasons", reasons, TEXT_MAX_CHARS, true)?;
    out.case.status = ReferralStatus::ReturnedNotPoliceMatter;
    out.note = reasons.to_owned();
    check(out, "P180-3", referral.last_at(Step::SignReceipt), ctx);
    out.event(ReferralEventKind::ReturnedNotPoliceMatter {
        reasons: reasons.to_owned(),
    });
    Ok(())
}

/// 310号令 第8条 (S1 Art 8): the police decide to file and notify the agency in
/// writing; on the procuratorate's notice they must file (S5 Art 563).
pub(super) fn file(out: &mut Outcome, note: &str) -> Result<(), Rejection> {
    text("note", note, TEXT_MAX_CHARS, false)?;
    out.case.status = ReferralStatus::Filed;
    out.note = note.to_owned();
    out.event(ReferralEventKind::Filed {
        note: note.to_owned(),
    });
    Ok(())
}

/// 310号令 第8条 (S1 Art 8): not filing is notified with reasons.
pub(super) fn decline(out: &mut Outcome, reasons: &str) -> Result<(), Rejection> {
    text("reasons", reasons, TEXT_MAX_CHARS, true)?;
    out.case.status = ReferralStatus::Declined;
    out.note = reasons.to_owned();
    out.event(ReferralEventKind::Declined {
        reasons: reasons.to_owned(),
    });
    Ok(())
}
