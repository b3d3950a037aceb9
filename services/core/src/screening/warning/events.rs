//! What happened to a warning ([`WarningEventKind`]) and what an accepted command returns
//! ([`Decision`], [`WarningEvent`]).

use serde::{Deserialize, Serialize};

use super::{EarlyWarning, OpinionGround};
use crate::case::{self, CaseEvent, EventName};
use crate::ids::{AgencyCode, CaseId};
use crate::screening::{Hit, TableStamp};
use crate::time::Timestamp;

/// What happened to a warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WarningEventKind {
    /// The agency is warned at once; the deadlines service raises the warning at `raise_due`
    /// unless a referral comes first.
    AgencyWarned {
        record: CaseId,
        record_version: u32,
        hits: Vec<Hit>,
        raise_due: Timestamp,
    },
    /// A corrected version met no threshold before the warning was raised; with `table`, the
    /// same version met none once re-screened under that (changed) threshold table.
    Cleared {
        record_version: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table: Option<TableStamp>,
    },
    /// The warning goes to the procuratorate and the supervisor (移送预警), with every hit.
    Raised {
        record: CaseId,
        record_version: u32,
        agency: AgencyCode,
        hits: Vec<Hit>,
    },
    /// The procuratorate's opinion: an obligation on the agency, due at `answer_due`; the
    /// deadlines service escalates a miss.
    ReferralSuggested {
        ground: OpinionGround,
        reasons: String,
        answer_due: Timestamp,
    },
    /// The procuratorate closed the warning.
    Closed { reasons: String },
    /// A referral for the same matter closes the warning (and the obligation, if any).
    ReferralLinked {
        referral: CaseId,
        late_since: Option<Timestamp>,
    },
    /// The agency's written explanation closes the obligation and the warning.
    NonReferralExplained {
        non_referral: CaseId,
        explanation: String,
        late_since: Option<Timestamp>,
    },
    /// The agency missed `due`; `to` are told: the procuratorate and the supervisor.
    Escalated { due: Timestamp, to: Vec<AgencyCode> },
}

impl EventName for WarningEventKind {
    fn name(&self) -> &'static str {
        match self {
            WarningEventKind::AgencyWarned { .. } => "agency_warned",
            WarningEventKind::Cleared { .. } => "cleared",
            WarningEventKind::Raised { .. } => "raised",
            WarningEventKind::ReferralSuggested { .. } => "referral_suggested",
            WarningEventKind::Closed { .. } => "closed",
            WarningEventKind::ReferralLinked { .. } => "referral_linked",
            WarningEventKind::NonReferralExplained { .. } => "non_referral_explained",
            WarningEventKind::Escalated { .. } => "escalated",
        }
    }
}

/// An accepted command's outcome.
pub type Decision = case::Decision<EarlyWarning, WarningEventKind>;
/// A warning event.
pub type WarningEvent = CaseEvent<WarningEventKind>;
