//! The steps that open a transfer: sending with its evidence and the grounds of jurisdiction
//! (S4 Arts 14, 17), and a criminal referral handed back by the police (S1 Art 13).

use super::events::Outcome;
use super::{Decision, HandedBack, Sending, Step, Transfer, TransferEventKind, TransferStatus};
use crate::case::{self, Case, Rejection, TEXT_MAX_CHARS, TITLE_MAX_CHARS, invalid, text};
use crate::directory::{Agency, AgencyKind, Directory};
use crate::document::DocumentKind;
use crate::personal::PersonalData;
use crate::time::Timestamp;

/// S4 Arts 14, 17: the transfer with its evidence and the grounds of jurisdiction.
pub(super) fn send(
    s: &Sending,
    previous: Option<&Transfer>,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    case::require_agency(
        directory,
        "receiver",
        &s.receiver,
        AgencyKind::Administrative,
    )?;
    if s.receiver == actor.code {
        return Err(invalid(
            "receiver",
            "must be another agency than the sender",
        ));
    }
    if let Some(id) = s.previous {
        let Some(previous) = previous else {
            return Err(Rejection::UnknownCase {
                field: "previous",
                case_id: id,
            });
        };
        // S4 Art 14 (F2): a receiver that objected to jurisdiction may not pass the case on;
        // its objection goes to a jurisdiction dispute.
        if previous.status == TransferStatus::Objected && previous.receiver == actor.code {
            return Err(Rejection::Forbidden {
                rule: "F2",
                field: Some("previous"),
                reason: format!(
                    "the acting agency objected to transfer {id} and may not pass the case on; \
                     its objection is decided as a jurisdiction dispute"
                ),
            });
        }
        if !previous.parties().contains(&actor.code) {
            return Err(Rejection::Forbidden {
                rule: "AUTH-PARTY",
                field: Some("previous"),
                reason: format!("the acting agency is not a party to transfer {id}"),
            });
        }
    }
    text(
        "suspected_violation",
        &s.suspected_violation,
        TEXT_MAX_CHARS,
        true,
    )?;
    text("summary", &s.summary, TEXT_MAX_CHARS, true)?;
    text(
        "jurisdiction_grounds",
        &s.jurisdiction_grounds,
        TEXT_MAX_CHARS,
        true,
    )?;
    text("case_officer", &s.case_officer, TITLE_MAX_CHARS, false)?;
    case::phone("case_officer_phone", s.case_officer_phone.expose(), false)?;
    case::documents(&s.documents, 0)?;
    case::parties(&s.parties)?;
    // S4 Art 17: the case goes with a transfer letter and its materials.
    if let Some(kinds) = case::missing(&s.documents, &[DocumentKind::TransferLetter]) {
        return Err(Rejection::MissingDocument { kinds, rule: "F1" });
    }
    let transfer = Transfer {
        id: s.case_id,
        sender: actor.code.clone(),
        receiver: s.receiver.clone(),
        former_receivers: Vec::new(),
        office: None,
        status: TransferStatus::Sent,
        suspected_violation: s.suspected_violation.clone(),
        summary: s.summary.clone(),
        jurisdiction_grounds: s.jurisdiction_grounds.clone(),
        urgent: s.urgent,
        documents: s.documents.clone(),
        parties: s.parties.clone(),
        case_officer: s.case_officer.clone(),
        case_officer_phone: s.case_officer_phone.clone(),
        sent_at: now,
        from_referral: None,
        previous: s.previous,
        case_number: None,
        objection: None,
        designated_by: None,
        outcome: None,
        decline: None,
        decline_contest: None,
        suspension: None,
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(transfer, Step::Send, actor, now);
    out.documents = s.documents.clone();
    out.event(TransferEventKind::Sent {
        receiver: s.receiver.clone(),
        urgent: s.urgent,
        designated_by: None,
        from_referral: None,
    });
    Ok(out.finish())
}

/// S1 Art 13 (反向衔接): the police hand a case back for administrative handling.
pub(super) fn hand_back(
    h: &HandedBack,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    case::require_agency(
        directory,
        "receiver",
        &h.receiver,
        AgencyKind::Administrative,
    )?;
    let transfer = Transfer {
        id: h.case_id,
        sender: actor.code.clone(),
        receiver: h.receiver.clone(),
        former_receivers: Vec::new(),
        office: None,
        status: TransferStatus::Sent,
        suspected_violation: h.suspected_offence.clone(),
        summary: h.summary.clone(),
        jurisdiction_grounds: h.reasons.clone(),
        urgent: false,
        documents: h.documents.clone(),
        parties: h.parties.clone(),
        case_officer: String::new(),
        case_officer_phone: PersonalData::default(),
        sent_at: now,
        from_referral: Some(h.referral),
        previous: None,
        case_number: None,
        objection: None,
        designated_by: None,
        outcome: None,
        decline: None,
        decline_contest: None,
        suspension: None,
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(transfer, Step::HandBack, actor, now);
    out.note = h.reasons.clone();
    out.documents = h.documents.clone();
    out.event(TransferEventKind::Sent {
        receiver: h.receiver.clone(),
        urgent: false,
        designated_by: None,
        from_referral: Some(h.referral),
    });
    Ok(out.finish())
}
