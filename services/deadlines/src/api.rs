//! What the deadlines service answers over the bus: the monitor's queries.

use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::notice::Family;
use casebridge_core::refusal::Refusal;
use casebridge_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::store::ObligationRow;

/// The largest page of obligations.
pub const MAX_PAGE: u32 = 500;

/// A query, on behalf of the calling agency (`viewer`), which sees what it owes, what is owed
/// to it and what it supervises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    Obligations {
        viewer: AgencyCode,
        query: ObligationQuery,
    },
    Statistics {
        viewer: AgencyCode,
        from: Timestamp,
        to: Timestamp,
        agency: Option<AgencyCode>,
    },
}

/// Which obligations to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// Due at or before `as_of`, not fulfilled by then.
    Overdue,
    /// Due within `due_within_ms` after `as_of`, not fulfilled by then.
    DueSoon,
    /// Started by `as_of`, not fulfilled by then.
    Open,
    /// Everything.
    All,
}

/// Filters of an obligation list. Pages are ordered by due time, then id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObligationQuery {
    pub view: View,
    pub as_of: Timestamp,
    pub due_within_ms: i64,
    pub agency: Option<AgencyCode>,
    pub family: Option<Family>,
    pub rule: Option<String>,
    pub region: Option<String>,
    pub case_id: Option<CaseId>,
    pub limit: u32,
    /// Continue after this (due time, id).
    pub after: Option<(i64, String)>,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Obligations {
        obligations: Vec<Listed>,
        /// Pass as `after` for the next page; `None` on the last page.
        next: Option<(i64, String)>,
    },
    Statistics {
        agencies: Vec<AgencyStatistics>,
    },
    Refused {
        refusal: Refusal,
    },
}

/// An obligation with the rule's description of the step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listed {
    pub obligation: ObligationRow,
    pub step: String,
}

/// What one agency did with the steps it owed in a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AgencyStatistics {
    pub agency: String,
    pub sent: u64,
    pub received: u64,
    pub answered_on_time: u64,
    pub answered_late: u64,
    pub still_open: u64,
    pub overdue: u64,
    pub median_response_hours: f64,
    pub filing_decisions: u64,
    pub filed: u64,
    pub filing_rate: f64,
}
