//! What the deadlines service takes and answers over the bus: the monitor's queries, a case's
//! deadlines, reports, and the one command it owns, extending a deadline.

use casebridge_core::deadline::ExtensionTarget;
use casebridge_core::ids::{AgencyCode, CaseId, RequestId, Sha256Digest};
use casebridge_core::ledger::Receipt;
use casebridge_core::notice::Family;
use casebridge_core::refusal::Refusal;
use casebridge_core::time::Timestamp;
use casebridge_platform::reply::ServiceReply;
use serde::{Deserialize, Serialize};

use crate::store::ObligationRow;

/// The largest page of obligations.
pub const MAX_PAGE: u32 = 500;

/// A request, on behalf of the calling agency (`viewer` or `actor`), authenticated by the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// A page of obligations: the viewer sees what it owes, what is owed to it and what it
    /// supervises.
    Obligations {
        viewer: AgencyCode,
        query: ObligationQuery,
    },
    /// Per-agency statistics over obligations started in `[from, to)`.
    Statistics {
        viewer: AgencyCode,
        from: Timestamp,
        to: Timestamp,
        agency: Option<AgencyCode>,
    },
    /// Every obligation of one case, for an agency that is party to it.
    Case { viewer: AgencyCode, case_id: CaseId },
    /// A supervisor's report (月提示, 季通报, annual statistics) as JSON or CSV.
    Report {
        viewer: AgencyCode,
        period: ReportPeriod,
        format: ReportFormat,
    },
    /// Extend a deadline (the owing agency, before it passes).
    Extend(ExtendRequest),
}

/// An extension, with what makes it idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendRequest {
    /// The agency asking; only the one that owes the step may extend it.
    pub actor: AgencyCode,
    /// Chosen by the client; unique per actor.
    pub request_id: RequestId,
    /// Digest of the request as the client sent it: a reused request id with another digest is
    /// refused.
    pub content_digest: Sha256Digest,
    pub case_id: CaseId,
    /// The rule whose deadline is extended, e.g. `S1-8`.
    pub rule: String,
    pub target: ExtensionTarget,
    /// The approval document's reference (审批文号).
    pub approval_reference: String,
    pub reason: String,
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
    pub after: Option<(i64, i64)>,
}

/// The kind and span of a report, in China Standard Time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReportPeriod {
    /// 月提示: one month.
    Month { year: i32, month: u32 },
    /// 季通报: one quarter (1–4).
    Quarter { year: i32, quarter: u32 },
    /// Statistics for the annual report (due by 31 January of the next year).
    Year { year: i32 },
}

/// How a report is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    Json,
    Csv,
}

/// The answer to a [`Request`].
// A reply lives only between handling and encoding; boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Obligations {
        obligations: Vec<Listed>,
        /// Pass as `after` for the next page; `None` on the last page.
        next: Option<(i64, i64)>,
    },
    Statistics {
        agencies: Vec<AgencyStatistics>,
    },
    Case {
        obligations: Vec<Listed>,
    },
    Report {
        /// `application/json` or `text/csv; charset=utf-8`.
        content_type: String,
        /// A file name for the report, e.g. `casebridge-monthly-2026-03.csv`.
        file_name: String,
        content: Vec<u8>,
    },
    Extended(Extended),
    Refused {
        refusal: Refusal,
    },
}

impl ServiceReply for Reply {
    fn into_refusal(self) -> Result<Refusal, Self> {
        match self {
            Reply::Refused { refusal } => Ok(refusal),
            other => Err(other),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Reply::Obligations { .. } => "obligations",
            Reply::Statistics { .. } => "statistics",
            Reply::Case { .. } => "case",
            Reply::Report { .. } => "report",
            Reply::Extended(_) => "extended",
            Reply::Refused { .. } => "refused",
        }
    }
}

/// An accepted extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extended {
    /// The obligation after the extension.
    pub obligation: Listed,
    /// True when this answers a retry of an already accepted request.
    pub replayed: bool,
    /// When the extension was first accepted.
    pub accepted_at: Timestamp,
    /// The signed receipt of the extension; a retry gets the original one.
    pub receipt: Receipt,
}

/// An obligation with what the rule table and the calendar say about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listed {
    pub obligation: ObligationRow,
    /// The rule's description of the step.
    pub step: String,
    /// The step in Chinese (简体中文), the rule's `step_zh`.
    #[serde(default)]
    pub step_zh: String,
    /// The due-time ledger, one line each, recomputed from the obligation's ledger.
    pub explanation: Vec<String>,
    /// The same ledger in Chinese, line for line.
    #[serde(default)]
    pub explanation_zh: Vec<String>,
    /// The rule's extension tiers, each the whole period counted from the start.
    pub extension_tiers: Vec<String>,
    /// The same tiers in Chinese (`7日`, `30个工作日`).
    #[serde(default)]
    pub extension_tiers_zh: Vec<String>,
    /// The years without an official holiday schedule the due time was counted on (provisional
    /// when not empty).
    #[serde(default)]
    pub provisional_years: Vec<i32>,
}

/// One agency's figures over a period: deadline counts (期限, one per obligation) and, per
/// family, case counts (案件, one per case). See [`crate::monitor`] for what each counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AgencyStatistics {
    /// The agency's code.
    pub agency: String,
    /// Deadlines others owed this agency (期限): obligations owed to it, one per step.
    pub sent: u64,
    /// Deadlines this agency owed (期限): one per step.
    pub received: u64,
    /// Of the deadlines it owed, met (按时办结).
    pub answered_on_time: u64,
    /// Of the deadlines it owed, met late (逾期办结).
    pub answered_late: u64,
    /// Of the deadlines it owed, still owed at the judging moment (未办结).
    pub still_open: u64,
    /// Of those still owed, past due (逾期未办).
    pub overdue: u64,
    /// Median hours from an obligation's start to the step, over the deadlines it met.
    pub median_response_hours: f64,
    /// Filing decisions on referrals (立案 + 不予立案), police only.
    pub filing_decisions: u64,
    /// Of those, cases filed (立案).
    pub filed: u64,
    /// `filed / filing_decisions` (立案率); 0 without decisions.
    pub filing_rate: f64,
    /// Penalty-case records (行政处罚案件信息) this agency recorded in the period whose current
    /// version met a criminal threshold (达到刑事追诉标准): the ones that should be referred.
    #[serde(default)]
    pub penalty_over_threshold: u64,
    /// Of those, records with a criminal referral linked by the judging moment (已移送): named
    /// when recorded, or linked later.
    #[serde(default)]
    pub penalty_referred: u64,
    /// `penalty_referred / penalty_over_threshold` (移送率); `None` when no record met a
    /// threshold (a rate of nothing is not 0).
    #[serde(default)]
    pub referral_rate: Option<f64>,
    /// Case counts per family (案件), ordered by family; families without a case are left out.
    #[serde(default)]
    pub cases: Vec<FamilyCaseCounts>,
}

/// One agency's cases of one family in a period, each case counted once per column
/// ([`crate::monitor`] defines them): sent, received, and how the received ones were answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyCaseCounts {
    /// The family of the cases.
    pub family: Family,
    /// Cases this agency sent (发出案件): opened in the period with this agency as the sender.
    pub cases_sent: u64,
    /// Cases it received (收到案件): opened in the period by another agency, with at least one
    /// step this agency owed.
    pub cases_received: u64,
    /// Received cases whose every step it owed was taken by its due time (按时办结).
    pub answered_on_time: u64,
    /// Received cases whose every step it owed was taken, at least one late (逾期办结).
    pub answered_late: u64,
    /// Received cases with a step it still owed at the judging moment (未办结).
    pub open: u64,
    /// Of the open ones, cases with a step it owed past due at that moment (逾期未办).
    pub overdue: u64,
}

impl FamilyCaseCounts {
    /// No cases of `family` yet.
    pub fn new(family: Family) -> FamilyCaseCounts {
        FamilyCaseCounts {
            family,
            cases_sent: 0,
            cases_received: 0,
            answered_on_time: 0,
            answered_late: 0,
            open: 0,
            overdue: 0,
        }
    }
}
