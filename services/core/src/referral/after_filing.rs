//! After filing and at the end of the chain: the hand-over of seized items (S1 Art 12),
//! transfer or withdrawal of the filed case (S2 Arts 184, 189), and hand-back for
//! administrative handling (反向衔接, S1 Art 13).

use super::checks::{Outcome, check, decided_not_after};
use super::{Context, Document, DocumentKind, Referral, ReferralEventKind, ReferralStatus, Step};
use crate::case::{self, Rejection, TEXT_MAX_CHARS, TITLE_MAX_CHARS, text};
use crate::directory::AgencyKind;
use crate::ids::AgencyCode;
use crate::time::Timestamp;

/// 310号令 第12条 (S1-12): after filing, the seized items and materials go to the
/// police within 3 days of the filing notice.
pub(super) fn hand_over_items(
    out: &mut Outcome,
    referral: &Referral,
    documents: &[Document],
    note: &str,
) -> Result<(), Rejection> {
    let now = out.now();
    if let Some(at) = referral.items_handed_over_at {
        return Err(Rejection::Forbidden {
            rule: "S1-12",
            field: None,
            reason: format!("the seized items were already handed over at {at}"),
        });
    }
    // The hand-over list itself is what S1 Art 12 asks for, not just any document
    // (issue 12, D8: a hand-over with other papers only was accepted).
    if !documents
        .iter()
        .any(|d| d.kind == DocumentKind::HandoverList)
    {
        return Err(Rejection::MissingDocument {
            kinds: vec![DocumentKind::HandoverList],
            rule: "S1-12",
        });
    }
    case::documents(documents, referral.documents.len())?;
    text("note", note, TEXT_MAX_CHARS, false)?;
    out.case.items_handed_over_at = Some(now);
    out.case.documents.extend(documents.iter().cloned());
    out.note = note.to_owned();
    out.documents = documents.to_vec();
    out.event(ReferralEventKind::ItemsHandedOver {
        documents: documents.to_vec(),
    });
    Ok(())
}

/// S2 Art 184 (P184): tell the agency within 3 days after the transfer.
pub(super) fn transfer_case(
    out: &mut Outcome,
    ctx: &Context<'_>,
    to_authority: &str,
    reason: &str,
    decided_at: Timestamp,
) -> Result<(), Rejection> {
    let now = out.now();
    text("to_authority", to_authority, TITLE_MAX_CHARS, true)?;
    text("reason", reason, TEXT_MAX_CHARS, true)?;
    decided_not_after(decided_at, now)?;
    out.case.status = ReferralStatus::TransferredElsewhere;
    out.case.handed_to = Some(to_authority.to_owned());
    out.note = format!("transferred to {to_authority}: {reason}");
    check(out, "P184", Some(decided_at), ctx);
    out.event(ReferralEventKind::CaseTransferred {
        to_authority: to_authority.to_owned(),
        reason: reason.to_owned(),
    });
    Ok(())
}

/// S2 Art 189 (P189): tell the agency within 3 days of the decision.
pub(super) fn withdraw_case(
    out: &mut Outcome,
    ctx: &Context<'_>,
    reasons: &str,
    decided_at: Timestamp,
) -> Result<(), Rejection> {
    let now = out.now();
    text("reasons", reasons, TEXT_MAX_CHARS, true)?;
    decided_not_after(decided_at, now)?;
    out.case.status = ReferralStatus::Withdrawn;
    out.note = reasons.to_owned();
    check(out, "P189", Some(decided_at), ctx);
    out.event(ReferralEventKind::CaseWithdrawn {
        reasons: reasons.to_owned(),
    });
    Ok(())
}

/// 310号令 第13条 (S1-13): no crime but administrative liability: hand the case to the
/// administrative agency promptly, with the materials.
pub(super) fn hand_back(
    out: &mut Outcome,
    referral: &Referral,
    ctx: &Context<'_>,
    to: Option<&AgencyCode>,
    reasons: &str,
    documents: &[Document],
) -> Result<(), Rejection> {
    let to = to.cloned().unwrap_or_else(|| referral.sender.clone());
    case::require_agency(ctx.directory, "to", &to, AgencyKind::Administrative)?;
    text("reasons", reasons, TEXT_MAX_CHARS, true)?;
    case::documents(documents, referral.documents.len())?;
    out.case.status = ReferralStatus::HandedBack;
    out.case.handed_to = Some(to.to_string());
    out.case.documents.extend(documents.iter().cloned());
    out.note = reasons.to_owned();
    out.documents = documents.to_vec();
    let start = [Step::Decline, Step::TellAgency, Step::WithdrawCase]
        .iter()
        .filter_map(|s| referral.last_at(*s))
        .max();
    check(out, "S1-13", start, ctx);
    out.event(ReferralEventKind::HandedBack {
        to,
        reasons: reasons.to_owned(),
        documents: referral
            .documents
            .iter()
            .chain(documents)
            .cloned()
            .collect(),
        suspected_offence: referral.suspected_offence.clone(),
        summary: referral.summary.clone(),
        parties: referral.parties.clone(),
    });
    Ok(())
}
