//! Where a warning stands ([`WarningStatus`]) and the names of its steps ([`Step`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a warning stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningStatus {
    /// The record screened positive; the agency alone is warned and may still refer.
    AgencyWarned,
    /// The period passed without a referral: the warning went to the procuratorate (移送预警).
    WarningRaised,
    /// The procuratorate gave its opinion that the case be referred (检察意见, 高检发释字〔2001〕4号
    /// item 12): the agency owes a referral or a written explanation.
    ReferralSuggested,
    /// The agency let that deadline pass; the miss was escalated. It may still answer.
    AnswerOverdue,
    /// A referral for the same matter was made. Terminal.
    ReferralLinked,
    /// The agency explained in writing why it does not refer (the recorded decision not to
    /// refer). Terminal.
    NonReferralExplained,
    /// The procuratorate closed the warning, with reasons. Terminal.
    WarningClosed,
    /// A corrected version of the record no longer meets any threshold, before the warning
    /// went to the procuratorate. Terminal.
    WarningCleared,
}

impl WarningStatus {
    /// Every status, in declaration order.
    pub const ALL: [WarningStatus; 8] = [
        WarningStatus::AgencyWarned,
        WarningStatus::WarningRaised,
        WarningStatus::ReferralSuggested,
        WarningStatus::AnswerOverdue,
        WarningStatus::ReferralLinked,
        WarningStatus::NonReferralExplained,
        WarningStatus::WarningClosed,
        WarningStatus::WarningCleared,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WarningStatus::AgencyWarned => "agency_warned",
            WarningStatus::WarningRaised => "warning_raised",
            WarningStatus::ReferralSuggested => "referral_suggested",
            WarningStatus::AnswerOverdue => "answer_overdue",
            WarningStatus::ReferralLinked => "referral_linked",
            WarningStatus::NonReferralExplained => "non_referral_explained",
            WarningStatus::WarningClosed => "warning_closed",
            WarningStatus::WarningCleared => "warning_cleared",
        }
    }

    /// Whether no step follows.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            WarningStatus::ReferralLinked
                | WarningStatus::NonReferralExplained
                | WarningStatus::WarningClosed
                | WarningStatus::WarningCleared
        )
    }
}

impl fmt::Display for WarningStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps of a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Screening found a hit: the agency is warned at once (reaction to a record).
    Open,
    /// A corrected version screens negative before the warning was raised (reaction).
    Clear,
    /// The period passed: the warning goes to the procuratorate (reaction to the timer).
    #[serde(rename = "raise_warning")]
    Raise,
    /// The procuratorate's opinion that the case be referred.
    SuggestReferral,
    /// The procuratorate closes the warning, with reasons.
    Close,
    /// A referral for the same matter was made (reaction to the referral, at any point).
    LinkReferral,
    /// The agency explains in writing why it does not refer.
    Explain,
    /// The agency's deadline passed: the miss is escalated (reaction to the timer).
    MarkOverdue,
}

impl Step {
    /// Every step, in declaration order.
    pub const ALL: [Step; 8] = [
        Step::Open,
        Step::Clear,
        Step::Raise,
        Step::SuggestReferral,
        Step::Close,
        Step::LinkReferral,
        Step::Explain,
        Step::MarkOverdue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Open => "open",
            Step::Clear => "clear",
            Step::Raise => "raise_warning",
            Step::SuggestReferral => "suggest_referral",
            Step::Close => "close",
            Step::LinkReferral => "link_referral",
            Step::Explain => "explain",
            Step::MarkOverdue => "mark_overdue",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
