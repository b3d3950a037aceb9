//! What happened to a referral ([`ReferralEventKind`]) and what an accepted command returns
//! ([`Decision`], [`ReferralEvent`]).

use serde::{Deserialize, Serialize};

use super::{Document, DocumentKind, Party, ReconsiderationOutcome, Referral};
use crate::case::{self, CaseEvent, EventName};
use crate::ids::AgencyCode;
use crate::time::Timestamp;

/// An accepted command's outcome.
pub type Decision = case::Decision<Referral, ReferralEventKind>;

/// A notice to the parties who must be told of a step.
pub type ReferralEvent = CaseEvent<ReferralEventKind>;

/// What happened to a referral. Names match the events of the rule table (deploy/rules.toml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ReferralEventKind {
    Submitted,
    NotReferredRecorded {
        approver: String,
        reasons: String,
    },
    ReceiptSigned,
    SupplementRequested {
        missing: Vec<DocumentKind>,
        note: String,
    },
    Supplemented {
        documents: Vec<Document>,
    },
    Forwarded {
        from: AgencyCode,
        to: AgencyCode,
        reason: String,
    },
    ReturnedNotPoliceMatter {
        reasons: String,
    },
    Filed {
        note: String,
    },
    Declined {
        reasons: String,
    },
    ItemsHandedOver {
        documents: Vec<Document>,
    },
    ReconsiderationRequested {
        reasons: String,
    },
    ReconsiderationDecided {
        outcome: ReconsiderationOutcome,
        reasons: String,
    },
    SupervisionSuggested {
        reasons: String,
    },
    ReasonsRequested,
    ReasonsGiven {
        reasons: String,
    },
    AgencyTold,
    FilingNotified {
        reasons: String,
    },
    ReviewOverdue {
        due_at: Timestamp,
    },
    ExplanationDemanded,
    ExplanationGiven {
        explanation: String,
    },
    CorrectionNoticeIssued {
        reasons: String,
    },
    ReportedToSuperior {
        superior: AgencyCode,
        note: String,
    },
    CaseTransferred {
        to_authority: String,
        reason: String,
    },
    CaseWithdrawn {
        reasons: String,
    },
    /// The case goes back to `to` for administrative handling; the transfers service opens a
    /// case transfer from it.
    HandedBack {
        to: AgencyCode,
        reasons: String,
        documents: Vec<Document>,
        suspected_offence: String,
        summary: String,
        parties: Vec<Party>,
    },
}

impl EventName for ReferralEventKind {
    fn name(&self) -> &'static str {
        match self {
            ReferralEventKind::Submitted => "submitted",
            ReferralEventKind::NotReferredRecorded { .. } => "not_referred_recorded",
            ReferralEventKind::ReceiptSigned => "receipt_signed",
            ReferralEventKind::SupplementRequested { .. } => "supplement_requested",
            ReferralEventKind::Supplemented { .. } => "supplemented",
            ReferralEventKind::Forwarded { .. } => "forwarded",
            ReferralEventKind::ReturnedNotPoliceMatter { .. } => "returned_not_police_matter",
            ReferralEventKind::Filed { .. } => "filed",
            ReferralEventKind::Declined { .. } => "declined",
            ReferralEventKind::ItemsHandedOver { .. } => "items_handed_over",
            ReferralEventKind::ReconsiderationRequested { .. } => "reconsideration_requested",
            ReferralEventKind::ReconsiderationDecided { .. } => "reconsideration_decided",
            ReferralEventKind::SupervisionSuggested { .. } => "supervision_suggested",
            ReferralEventKind::ReasonsRequested => "reasons_requested",
            ReferralEventKind::ReasonsGiven { .. } => "reasons_given",
            ReferralEventKind::AgencyTold => "agency_told",
            ReferralEventKind::FilingNotified { .. } => "filing_notified",
            ReferralEventKind::ReviewOverdue { .. } => "review_overdue",
            ReferralEventKind::ExplanationDemanded => "explanation_demanded",
            ReferralEventKind::ExplanationGiven { .. } => "explanation_given",
            ReferralEventKind::CorrectionNoticeIssued { .. } => "correction_notice_issued",
            ReferralEventKind::ReportedToSuperior { .. } => "reported_to_superior",
            ReferralEventKind::CaseTransferred { .. } => "case_transferred",
            ReferralEventKind::CaseWithdrawn { .. } => "case_withdrawn",
            ReferralEventKind::HandedBack { .. } => "handed_back",
        }
    }
}

impl ReferralEventKind {
    /// The snake_case name, e.g. `receipt_signed`.
    pub fn name(&self) -> &'static str {
        EventName::name(self)
    }
}
