//! What starts a warning ([`Opening`]) and moves it on ([`WarningCommand`]).

use serde::{Deserialize, Serialize};

use super::Step;
use crate::document::Document;
use crate::ids::CaseId;
use crate::screening::{Hit, TableStamp};

/// A record version screened positive: open a warning on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opening {
    pub warning_id: CaseId,
    /// The penalty record, and the version screened.
    pub record: CaseId,
    pub record_version: u32,
    /// What [`crate::screening::screen`] found; never empty.
    pub hits: Vec<Hit>,
}

/// Why the procuratorate gives its opinion that a case be referred: the four situations of
/// 高检发释字〔2001〕4号 item 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpinionGround {
    /// （一）检察机关发现行政执法机关应当移送的涉嫌犯罪案件而不移送的.
    FoundNotReferred,
    /// （二）有关单位和个人举报的行政执法机关应当移送的涉嫌犯罪案件而不移送的.
    ReportedNotReferred,
    /// （三）隐匿、销毁涉案物品或者私分涉案财物的.
    ItemsConcealed,
    /// （四）以行政处罚代替刑事追究而不移送的: the case this screening finds.
    PenaltyInsteadOfProsecution,
}

impl OpinionGround {
    /// The ground in the words of item 12.
    pub fn label_zh(self) -> &'static str {
        match self {
            OpinionGround::FoundNotReferred => {
                "检察机关发现行政执法机关应当移送的涉嫌犯罪案件而不移送"
            }
            OpinionGround::ReportedNotReferred => {
                "有关单位和个人举报的行政执法机关应当移送的涉嫌犯罪案件而不移送"
            }
            OpinionGround::ItemsConcealed => "隐匿、销毁涉案物品或者私分涉案财物",
            OpinionGround::PenaltyInsteadOfProsecution => "以行政处罚代替刑事追究而不移送",
        }
    }
}

/// A request to move a warning on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCommand {
    Open(Opening),
    /// A corrected version of the record was screened again and met nothing; or, with
    /// `table`, the version the warning was opened on met nothing when it was re-screened under
    /// a changed threshold table (docs/screening.md, "Re-screening").
    Clear {
        record_version: u32,
        hits: Vec<Hit>,
        /// The table the version was re-screened under, when no correction but a change of the
        /// table cleared it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table: Option<TableStamp>,
    },
    Raise,
    /// The procuratorate's opinion that the case be referred (检察意见 / 建议移送).
    SuggestReferral {
        ground: OpinionGround,
        reasons: String,
        /// The opinion letter (检察意见书) and annexes.
        documents: Vec<Document>,
    },
    /// The procuratorate closes the warning without an opinion, with its reasons.
    Close {
        reasons: String,
    },
    /// A criminal referral for the same matter.
    LinkReferral {
        referral: CaseId,
    },
    /// The agency's written explanation of why it does not refer, and the referral case that
    /// records its decision not to refer (`record_non_referral`, S1 Art 5).
    Explain {
        non_referral: CaseId,
        explanation: String,
        documents: Vec<Document>,
    },
    MarkOverdue,
}

impl WarningCommand {
    pub fn step(&self) -> Step {
        match self {
            WarningCommand::Open(_) => Step::Open,
            WarningCommand::Clear { .. } => Step::Clear,
            WarningCommand::Raise => Step::Raise,
            WarningCommand::SuggestReferral { .. } => Step::SuggestReferral,
            WarningCommand::Close { .. } => Step::Close,
            WarningCommand::LinkReferral { .. } => Step::LinkReferral,
            WarningCommand::Explain { .. } => Step::Explain,
            WarningCommand::MarkOverdue => Step::MarkOverdue,
        }
    }
}
