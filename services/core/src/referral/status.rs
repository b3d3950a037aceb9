//! Where a referral stands ([`ReferralStatus`]) and the names of the steps that move it
//! ([`Step`]), as serde, the authorization table and the history spell them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::authz;
use crate::case::StepName;
use crate::notice::Family;

/// Where a referral stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    /// Sent (or forwarded); awaiting the police receipt (回执).
    Submitted,
    /// Receipt signed; the police are reviewing (审查).
    Received,
    /// The police asked for missing materials (S2 Art 180).
    AwaitingSupplement,
    /// The police filed the case (立案); seized items follow (S1 Art 12).
    Filed,
    /// The police declined to file (不予立案), with reasons; reconsideration, supervision or
    /// hand-back may follow.
    Declined,
    /// The police returned the case as outside their remit (S2 Art 180). Terminal.
    ReturnedNotPoliceMatter,
    /// The agency asked the police to reconsider non-filing (复议, S1 Art 9).
    ReconsiderationRequested,
    /// The agency suggested filing supervision to the procuratorate (S1 Art 9).
    SupervisionSuggested,
    /// The procuratorate asked the police for their reasons for not filing (S5 Art 560).
    ReasonsRequested,
    /// The police gave their reasons; the procuratorate weighs them (S5 Arts 561, 563).
    ReasonsGiven,
    /// The procuratorate found the reasons stand and told the agency (S5 Art 561). Hand-back may follow.
    SupervisionClosed,
    /// The procuratorate notified the police to file (通知立案, S5 Art 563).
    FilingNotified,
    /// After filing, the police transferred the case to another authority (S2 Art 184). Terminal.
    TransferredElsewhere,
    /// After filing, the police withdrew the case (撤案, S2 Art 189). Hand-back may follow.
    Withdrawn,
    /// The police handed the case back for administrative handling (反向衔接, S1 Art 13). Terminal.
    HandedBack,
    /// Never referred: the agency's head decided not to refer, and the decision is on the record
    /// for the procuratorate (不批准移送，记录在案, S1 Art 5). Terminal.
    NotReferred,
}

impl ReferralStatus {
    /// Every status, in declaration order.
    pub const ALL: [ReferralStatus; 16] = [
        ReferralStatus::Submitted,
        ReferralStatus::Received,
        ReferralStatus::AwaitingSupplement,
        ReferralStatus::Filed,
        ReferralStatus::Declined,
        ReferralStatus::ReturnedNotPoliceMatter,
        ReferralStatus::ReconsiderationRequested,
        ReferralStatus::SupervisionSuggested,
        ReferralStatus::ReasonsRequested,
        ReferralStatus::ReasonsGiven,
        ReferralStatus::SupervisionClosed,
        ReferralStatus::FilingNotified,
        ReferralStatus::TransferredElsewhere,
        ReferralStatus::Withdrawn,
        ReferralStatus::HandedBack,
        ReferralStatus::NotReferred,
    ];

    /// The snake_case name, as in serde and the authorization table.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferralStatus::Submitted => "submitted",
            ReferralStatus::Received => "received",
            ReferralStatus::AwaitingSupplement => "awaiting_supplement",
            ReferralStatus::Filed => "filed",
            ReferralStatus::Declined => "declined",
            ReferralStatus::ReturnedNotPoliceMatter => "returned_not_police_matter",
            ReferralStatus::ReconsiderationRequested => "reconsideration_requested",
            ReferralStatus::SupervisionSuggested => "supervision_suggested",
            ReferralStatus::ReasonsRequested => "reasons_requested",
            ReferralStatus::ReasonsGiven => "reasons_given",
            ReferralStatus::SupervisionClosed => "supervision_closed",
            ReferralStatus::FilingNotified => "filing_notified",
            ReferralStatus::TransferredElsewhere => "transferred_elsewhere",
            ReferralStatus::Withdrawn => "withdrawn",
            ReferralStatus::HandedBack => "handed_back",
            ReferralStatus::NotReferred => "not_referred",
        }
    }

    /// Whether no further step is allowed (the authorization table has no row for it).
    pub fn is_terminal(self) -> bool {
        !authz::TABLE
            .iter()
            .any(|p| p.family == Family::Referral && p.states.contains(&self.as_str()))
    }
}

impl fmt::Display for ReferralStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of a step, for history, rejections and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Submit,
    RecordNonReferral,
    SignReceipt,
    RequestSupplement,
    Supplement,
    Forward,
    ReturnNotPoliceMatter,
    File,
    Decline,
    HandOverItems,
    RequestReconsideration,
    DecideReconsideration,
    SuggestSupervision,
    RequestReasons,
    GiveReasons,
    TellAgency,
    NotifyFiling,
    MarkReviewOverdue,
    DemandExplanation,
    Explain,
    IssueCorrectionNotice,
    ReportToSuperior,
    TransferCase,
    WithdrawCase,
    HandBack,
}

impl Step {
    /// Every step, in declaration order.
    pub const ALL: [Step; 25] = [
        Step::Submit,
        Step::RecordNonReferral,
        Step::SignReceipt,
        Step::RequestSupplement,
        Step::Supplement,
        Step::Forward,
        Step::ReturnNotPoliceMatter,
        Step::File,
        Step::Decline,
        Step::HandOverItems,
        Step::RequestReconsideration,
        Step::DecideReconsideration,
        Step::SuggestSupervision,
        Step::RequestReasons,
        Step::GiveReasons,
        Step::TellAgency,
        Step::NotifyFiling,
        Step::MarkReviewOverdue,
        Step::DemandExplanation,
        Step::Explain,
        Step::IssueCorrectionNotice,
        Step::ReportToSuperior,
        Step::TransferCase,
        Step::WithdrawCase,
        Step::HandBack,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Submit => "submit",
            Step::RecordNonReferral => "record_non_referral",
            Step::SignReceipt => "sign_receipt",
            Step::RequestSupplement => "request_supplement",
            Step::Supplement => "supplement",
            Step::Forward => "forward",
            Step::ReturnNotPoliceMatter => "return_not_police_matter",
            Step::File => "file",
            Step::Decline => "decline",
            Step::HandOverItems => "hand_over_items",
            Step::RequestReconsideration => "request_reconsideration",
            Step::DecideReconsideration => "decide_reconsideration",
            Step::SuggestSupervision => "suggest_supervision",
            Step::RequestReasons => "request_reasons",
            Step::GiveReasons => "give_reasons",
            Step::TellAgency => "tell_agency",
            Step::NotifyFiling => "notify_filing",
            Step::MarkReviewOverdue => "mark_review_overdue",
            Step::DemandExplanation => "demand_explanation",
            Step::Explain => "explain",
            Step::IssueCorrectionNotice => "issue_correction_notice",
            Step::ReportToSuperior => "report_to_superior",
            Step::TransferCase => "transfer_case",
            Step::WithdrawCase => "withdraw_case",
            Step::HandBack => "hand_back",
        }
    }
}

impl StepName for Step {
    const FAMILY: Family = Family::Referral;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
