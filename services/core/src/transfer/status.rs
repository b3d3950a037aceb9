//! Where a transfer stands ([`TransferStatus`]) and the names of the steps that move it
//! ([`Step`]), as serde, the authorization table and the history spell them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::case::StepName;
use crate::notice::Family;

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    /// Sent (or re-sent after a designation); awaiting the receipt.
    Sent,
    /// The receiver acknowledged it (回执).
    Received,
    /// The receiver opened a case (立案); the outcome is owed (APL-60).
    Accepted,
    /// The receiver objected to jurisdiction; a dispute decides (F2, S4 Art 14).
    Objected,
    /// The receiver reported the outcome back to the sender (办理情况反馈). Terminal.
    OutcomeReported,
    /// The receiver decided not to open a case (不予立案, S4 Arts 18, 20); its reasons went back
    /// to the sender, which may contest them. Terminal otherwise.
    Declined,
    /// The sender contested the decision not to open a case; a dispute decides.
    DeclineContested,
    /// The opened case is suspended (中止, S4 Art 64; notices/000 二): APL-60 stands still until
    /// the receiver resumes it.
    Suspended,
}

impl TransferStatus {
    /// Every status, in declaration order.
    pub const ALL: [TransferStatus; 8] = [
        TransferStatus::Sent,
        TransferStatus::Received,
        TransferStatus::Accepted,
        TransferStatus::Objected,
        TransferStatus::OutcomeReported,
        TransferStatus::Declined,
        TransferStatus::DeclineContested,
        TransferStatus::Suspended,
    ];

    /// The snake_case name, as in serde and the authorization table.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Sent => "sent",
            TransferStatus::Received => "received",
            TransferStatus::Accepted => "accepted",
            TransferStatus::Objected => "objected",
            TransferStatus::OutcomeReported => "outcome_reported",
            TransferStatus::Declined => "declined",
            TransferStatus::DeclineContested => "decline_contested",
            TransferStatus::Suspended => "suspended",
        }
    }
}

impl fmt::Display for TransferStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Send,
    HandBack,
    SignReceipt,
    Accept,
    Object,
    ReportOutcome,
    Restart,
    Decline,
    ContestDecline,
    Suspend,
    Resume,
}

impl Step {
    /// Every step, in declaration order.
    pub const ALL: [Step; 11] = [
        Step::Send,
        Step::HandBack,
        Step::SignReceipt,
        Step::Accept,
        Step::Object,
        Step::ReportOutcome,
        Step::Restart,
        Step::Decline,
        Step::ContestDecline,
        Step::Suspend,
        Step::Resume,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Send => "send",
            Step::HandBack => "hand_back",
            Step::SignReceipt => "sign_receipt",
            Step::Accept => "accept",
            Step::Object => "object",
            Step::ReportOutcome => "report_outcome",
            Step::Restart => "restart",
            Step::Decline => "decline",
            Step::ContestDecline => "contest_decline",
            Step::Suspend => "suspend",
            Step::Resume => "resume",
        }
    }
}

impl StepName for Step {
    const FAMILY: Family = Family::Transfer;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
