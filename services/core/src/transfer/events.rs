//! What happened to a transfer ([`TransferEventKind`]) and what an accepted command returns
//! ([`Decision`], [`TransferEvent`]).

use serde::{Deserialize, Serialize};

use super::{Step, Transfer};
use crate::case::{self, CaseEvent, EventName};
use crate::document::Document;
use crate::ids::{AgencyCode, CaseId};

/// What happened to a transfer. Names match the events of the rule table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TransferEventKind {
    /// Sent, re-sent after a designation (`designated_by`), or handed back by the police
    /// (`from_referral`). `urgent` is read by the rule table (RCPT-FU).
    Sent {
        receiver: AgencyCode,
        urgent: bool,
        designated_by: Option<CaseId>,
        from_referral: Option<CaseId>,
    },
    ReceiptSigned,
    Accepted {
        case_number: String,
    },
    /// The objection; the disputes service opens a dispute between `sender` and `receiver`.
    Objected {
        sender: AgencyCode,
        receiver: AgencyCode,
        reasons: String,
        suspected_violation: String,
        jurisdiction_grounds: String,
    },
    OutcomeReported {
        outcome: String,
        documents: Vec<Document>,
    },
    /// The receiver decided not to open a case; `reasons` go back to the sender. Closes the
    /// receipt and SAMR-18: the decision they ask for was made.
    Declined {
        sender: AgencyCode,
        receiver: AgencyCode,
        reasons: String,
    },
    /// The sender contested the decision; the disputes service opens a dispute raised by
    /// `sender` against `receiver`.
    DeclineContested {
        sender: AgencyCode,
        receiver: AgencyCode,
        /// The sender's reasons: its position in the dispute.
        reasons: String,
        /// The receiver's reasons for not opening a case.
        decline_reasons: String,
        suspected_violation: String,
    },
    /// The opened case is suspended: APL-60 stops (rule table `pauses_on`).
    Suspended {
        reason: String,
        approval: Document,
    },
    /// The suspended case is resumed: APL-60 runs on (rule table `resumes_on`).
    Resumed {
        note: String,
    },
}

impl EventName for TransferEventKind {
    fn name(&self) -> &'static str {
        match self {
            TransferEventKind::Sent { .. } => "sent",
            TransferEventKind::ReceiptSigned => "receipt_signed",
            TransferEventKind::Accepted { .. } => "accepted",
            TransferEventKind::Objected { .. } => "objected",
            TransferEventKind::OutcomeReported { .. } => "outcome_reported",
            TransferEventKind::Declined { .. } => "declined",
            TransferEventKind::DeclineContested { .. } => "decline_contested",
            TransferEventKind::Suspended { .. } => "suspended",
            TransferEventKind::Resumed { .. } => "resumed",
        }
    }
}

/// An accepted command's outcome.
pub type Decision = case::Decision<Transfer, TransferEventKind>;
/// A transfer event.
pub type TransferEvent = CaseEvent<TransferEventKind>;

/// An accepted step being recorded, for the steps in `open` and `decide`.
pub(super) type Outcome = case::Outcome<Transfer, Step, TransferEventKind>;
