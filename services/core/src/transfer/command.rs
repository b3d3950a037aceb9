//! What the parties send: the opening inputs ([`Sending`], [`HandedBack`]) and every
//! [`TransferCommand`] that moves a transfer on.

use serde::{Deserialize, Serialize};

use super::Step;
use crate::document::{Document, Party};
use crate::ids::{AgencyCode, CaseId};
use crate::personal::PersonalData;

/// What the sending agency sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sending {
    /// The case, chosen by the gateway.
    pub case_id: CaseId,
    /// The administrative agency with jurisdiction.
    pub receiver: AgencyCode,
    /// The suspected violation (涉嫌违法行为).
    pub suspected_violation: String,
    /// Summary of the facts.
    pub summary: String,
    /// Why the receiver has jurisdiction (管辖依据, S4 Art 17); required.
    pub jurisdiction_grounds: String,
    /// The receiver must act at once (notices/003); its receipt is due within 2 hours.
    pub urgent: bool,
    /// The transfer letter and the evidence gathered (S4 Art 23: usable by the receiver).
    pub documents: Vec<Document>,
    /// The parties the case is about.
    pub parties: Vec<Party>,
    /// Case officer's name.
    pub case_officer: String,
    /// Case officer's phone.
    pub case_officer_phone: PersonalData,
    /// A transfer this one continues, if any: refused when the sender had objected to it (F2).
    pub previous: Option<CaseId>,
}

/// A criminal referral handed back by the police (反向衔接, S1 Art 13), arriving as a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandedBack {
    /// The new transfer.
    pub case_id: CaseId,
    /// The referral the police handed back.
    pub referral: CaseId,
    /// The administrative agency that will handle it.
    pub receiver: AgencyCode,
    /// The offence that was suspected.
    pub suspected_offence: String,
    /// Summary of the facts, from the referral.
    pub summary: String,
    /// The police's reasons: no crime, but administrative liability.
    pub reasons: String,
    /// The referral's materials and what the police add.
    pub documents: Vec<Document>,
    /// The parties, from the referral.
    pub parties: Vec<Party>,
}

/// A request to move a transfer on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferCommand {
    /// The sender transfers the case (S4 Arts 14, 17).
    Send(Sending),
    /// A referral handed back by the police opens a transfer (reaction to
    /// `referral.handed_back`).
    HandBack(HandedBack),
    /// The receiver acknowledges receipt (回执).
    SignReceipt,
    /// The receiver opens a case (立案, S4 Art 18).
    Accept {
        /// The receiver's case number (立案编号), if it has one.
        case_number: String,
        note: String,
    },
    /// The receiver objects to jurisdiction, with reasons; a dispute follows (S4 Art 14).
    Object { reasons: String },
    /// The receiver reports the outcome back to the sender (办理情况反馈, S3 Art 60).
    ReportOutcome {
        outcome: String,
        documents: Vec<Document>,
    },
    /// The receiver decides not to open a case (不予立案, S4 Arts 18, 20); the reasons are fed
    /// back to the sender (notices/003).
    Decline { reasons: String },
    /// The sender contests the decision not to open a case; a dispute follows, in which the
    /// coordination office rules (S3 Art 25; notices/003).
    ContestDecline { reasons: String },
    /// The receiver suspends the opened case (中止, S4 Art 64; notices/000 二).
    Suspend {
        /// Why the case cannot go on for now.
        reason: String,
        /// The approving document (e.g. 中止审批表); required.
        approval: Option<Document>,
    },
    /// The receiver resumes the suspended case (恢复); the outcome clock runs on.
    Resume { note: String },
    /// A binding designation or an agreement restarts the transfer to the competent agency
    /// (reaction to `dispute.designated` / `dispute.minutes_agreed`).
    Restart {
        /// The dispute that decided.
        dispute: CaseId,
        /// The dispute's two parties: a dispute restarts only a transfer between them, so an
        /// outsider's dispute naming someone else's transfer changes nothing (issue 12, D1).
        #[serde(default)]
        between: Vec<AgencyCode>,
        /// The agency found competent.
        designated: AgencyCode,
        /// The office that designated; `None` when the parties agreed.
        office: Option<AgencyCode>,
        /// The decision or the agreement, in words.
        decision: String,
    },
}

impl TransferCommand {
    pub fn step(&self) -> Step {
        match self {
            TransferCommand::Send(_) => Step::Send,
            TransferCommand::HandBack(_) => Step::HandBack,
            TransferCommand::SignReceipt => Step::SignReceipt,
            TransferCommand::Accept { .. } => Step::Accept,
            TransferCommand::Object { .. } => Step::Object,
            TransferCommand::ReportOutcome { .. } => Step::ReportOutcome,
            TransferCommand::Restart { .. } => Step::Restart,
            TransferCommand::Decline { .. } => Step::Decline,
            TransferCommand::ContestDecline { .. } => Step::ContestDecline,
            TransferCommand::Suspend { .. } => Step::Suspend,
            TransferCommand::Resume { .. } => Step::Resume,
        }
    }
}
