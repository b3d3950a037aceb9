//! [`decide`]: the checks every command passes (actor, authorization table), then the opening
//! steps in `open` or, on an existing transfer, each later step.

use super::events::Outcome;
use super::{
    Decision, Suspension, Transfer, TransferCommand, TransferEventKind, TransferStatus, open,
};
use crate::authz::{self, On};
use crate::case::{self, Case, Rejection, TEXT_MAX_CHARS, TITLE_MAX_CHARS, invalid, text};
use crate::directory::{Agency, AgencyKind, Directory};
use crate::ids::AgencyCode;
use crate::notice::Family;
use crate::time::Timestamp;

/// Decides one command against the current transfer (`None` before it is sent). `previous` is
/// the transfer named by a [`Sending::previous`](super::Sending::previous), loaded by the service.
pub fn decide(
    current: Option<&Transfer>,
    previous: Option<&Transfer>,
    command: &TransferCommand,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let step = command.step();
    let actor = case::known_actor(directory, actor)?;
    let parties = current.map(Case::parties);
    let on = current.zip(parties.as_ref()).map(|(t, parties)| On {
        case_id: t.id,
        parties,
        status: t.status.as_str(),
    });
    authz::authorize(Family::Transfer, step.as_str(), actor, on)?;
    match (current, command) {
        (None, TransferCommand::Send(sending)) => {
            open::send(sending, previous, actor, directory, now)
        }
        (None, TransferCommand::HandBack(handed)) => open::hand_back(handed, actor, directory, now),
        (Some(transfer), _) => act(transfer, command, actor, directory, now),
        (None, _) => Err(Rejection::NotFound {
            step: step.as_str(),
        }),
    }
}

/// Every step after sending; the authorization table has already checked party and status.
fn act(
    transfer: &Transfer,
    command: &TransferCommand,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let mut out = Outcome::new(transfer.clone(), command.step(), actor, now);
    match command {
        TransferCommand::Send(_) | TransferCommand::HandBack(_) => {
            return Err(Rejection::AlreadyExists {
                case_id: transfer.id,
            });
        }
        TransferCommand::SignReceipt => {
            out.case.status = TransferStatus::Received;
            out.event(TransferEventKind::ReceiptSigned);
        }
        TransferCommand::Accept { case_number, note } => {
            // S4 Art 18 (SAMR-18): the receiver decides within 15 working days whether to open
            // a case; testing time does not count.
            text("case_number", case_number, TITLE_MAX_CHARS, false)?;
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.status = TransferStatus::Accepted;
            out.case.case_number = (!case_number.trim().is_empty()).then(|| case_number.clone());
            out.note = note.clone();
            out.event(TransferEventKind::Accepted {
                case_number: case_number.clone(),
            });
        }
        TransferCommand::Object { reasons } => {
            // S4 Art 16: a designation binds all parties; the designated agency cannot object.
            bound(transfer)?;
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.status = TransferStatus::Objected;
            out.case.objection = Some(reasons.clone());
            out.note = reasons.clone();
            out.event(TransferEventKind::Objected {
                sender: transfer.sender.clone(),
                receiver: transfer.receiver.clone(),
                reasons: reasons.clone(),
                suspected_violation: transfer.suspected_violation.clone(),
                jurisdiction_grounds: transfer.jurisdiction_grounds.clone(),
            });
        }
        TransferCommand::ReportOutcome { outcome, documents } => {
            // S3 Art 60 (APL-60) and notices/003: the receiver reports the handling back.
            text("outcome", outcome, TEXT_MAX_CHARS, true)?;
            case::documents(documents, transfer.documents.len())?;
            out.case.status = TransferStatus::OutcomeReported;
            out.case.outcome = Some(outcome.clone());
            out.case.documents.extend(documents.iter().cloned());
            out.note = outcome.clone();
            out.documents = documents.clone();
            out.event(TransferEventKind::OutcomeReported {
                outcome: outcome.clone(),
                documents: documents.clone(),
            });
        }
        TransferCommand::Decline { reasons } => {
            // S4 Arts 18, 20 (SAMR-18): the receiver may decide not to open a case, with its
            // reasons; notices/003 wants them fed back to the sender. A designated receiver was
            // found competent and must open the case (S4 Art 16).
            bound(transfer)?;
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.status = TransferStatus::Declined;
            out.case.decline = Some(reasons.clone());
            out.note = reasons.clone();
            out.event(TransferEventKind::Declined {
                sender: transfer.sender.clone(),
                receiver: transfer.receiver.clone(),
                reasons: reasons.clone(),
            });
        }
        TransferCommand::ContestDecline { reasons } => {
            // notices/003; S3 Art 25: a sender that holds the case must be handled contests the
            // decision, and the coordination office rules on it as on a jurisdiction dispute.
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.status = TransferStatus::DeclineContested;
            out.case.decline_contest = Some(reasons.clone());
            out.note = reasons.clone();
            out.event(TransferEventKind::DeclineContested {
                sender: transfer.sender.clone(),
                receiver: transfer.receiver.clone(),
                reasons: reasons.clone(),
                decline_reasons: transfer.decline.clone().unwrap_or_default(),
                suspected_violation: transfer.suspected_violation.clone(),
            });
        }
        TransferCommand::Suspend { reason, approval } => {
            // S4 Art 64; notices/000 二: a suspension is approved, and its time does not count
            // towards the case limit (APL-60).
            text("reason", reason, TEXT_MAX_CHARS, true)?;
            let Some(approval) = approval else {
                return Err(invalid(
                    "approval",
                    "is required: the document approving the suspension (中止审批表)",
                ));
            };
            text("approval.title", &approval.title, TITLE_MAX_CHARS, true)?;
            if transfer.documents.len() >= case::ITEMS_MAX {
                return Err(invalid(
                    "approval",
                    format!(
                        "cannot be added: the transfer already holds {} documents",
                        case::ITEMS_MAX
                    ),
                ));
            }
            out.case.status = TransferStatus::Suspended;
            out.case.suspension = Some(Suspension {
                reason: reason.clone(),
                approval: approval.clone(),
                since: now,
            });
            out.case.documents.push(approval.clone());
            out.note = reason.clone();
            out.documents = vec![approval.clone()];
            out.event(TransferEventKind::Suspended {
                reason: reason.clone(),
                approval: approval.clone(),
            });
        }
        TransferCommand::Resume { note } => {
            // notices/000 二: once the cause is gone the case goes on; APL-60 counts on.
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.status = TransferStatus::Accepted;
            out.case.suspension = None;
            out.note = note.clone();
            out.event(TransferEventKind::Resumed { note: note.clone() });
        }
        TransferCommand::Restart {
            dispute,
            between,
            designated,
            office,
            decision,
        } => {
            // A dispute settles only the jurisdiction its own parties disputed: the transfer's
            // sender and receiver, the two sides of the objection or of the contested decline
            // (S4 Arts 14, 16).
            let mut disputants: Vec<&AgencyCode> = between.iter().collect();
            disputants.sort();
            let mut sides = vec![&transfer.sender, &transfer.receiver];
            sides.sort();
            if disputants != sides {
                return Err(Rejection::Forbidden {
                    rule: "SAMR-16",
                    field: Some("transfer_id"),
                    reason: format!(
                        "dispute {dispute} is not between this transfer's sender and receiver, \
                         so it cannot restart it"
                    ),
                });
            }
            // S4 Art 16; S3 Art 25: the designation binds and restarts the transfer.
            case::require_agency(
                directory,
                "designated",
                designated,
                AgencyKind::Administrative,
            )?;
            if *designated == transfer.sender {
                // The sender was found competent: the case is its own again. The transfer
                // ends here as handled by the sender.
                out.case.status = TransferStatus::OutcomeReported;
                out.case.outcome = Some(format!(
                    "the sender was found competent by dispute {dispute}: {decision}"
                ));
                out.case.designated_by = Some(*dispute);
                out.case.office = office.clone();
                out.note = decision.clone();
                out.event(TransferEventKind::OutcomeReported {
                    outcome: out.case.outcome.clone().unwrap_or_default(),
                    documents: Vec::new(),
                });
                return Ok(out.finish());
            }
            if *designated != transfer.receiver {
                let previous = std::mem::replace(&mut out.case.receiver, designated.clone());
                if !out.case.former_receivers.contains(&previous) {
                    out.case.former_receivers.push(previous);
                }
            }
            out.case.status = TransferStatus::Sent;
            out.case.designated_by = Some(*dispute);
            out.case.office = office.clone();
            out.note = decision.clone();
            out.event(TransferEventKind::Sent {
                receiver: designated.clone(),
                urgent: transfer.urgent,
                designated_by: Some(*dispute),
                from_referral: transfer.from_referral,
            });
        }
    }
    Ok(out.finish())
}

/// S4 Art 16: a receiver designated by a dispute's decision is bound by it; it may neither
/// object to jurisdiction again nor decline to open the case.
fn bound(transfer: &Transfer) -> Result<(), Rejection> {
    match transfer.designated_by {
        Some(dispute) => Err(Rejection::Forbidden {
            rule: "SAMR-16",
            field: None,
            reason: format!(
                "the receiver was designated by the decision of dispute {dispute}, which binds \
                 it; it must open the case"
            ),
        }),
        None => Ok(()),
    }
}
