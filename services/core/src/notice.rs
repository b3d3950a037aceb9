//! Notices: what an agency's inbox receives about a step in a case, whatever the family.
//!
//! A family service turns each domain event into one [`Notice`] addressed to the parties who
//! must be told; the inbox service stores one entry per recipient. A notice's `summary` is
//! shown to people and written to logs by nobody: it names agencies and steps, never parties.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{AgencyCode, CaseId};
use crate::time::Timestamp;

/// The four kinds of hand-off CaseBridge carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// 涉嫌犯罪案件移送.
    Referral,
    /// 行政执法案件移送.
    Transfer,
    /// 管辖争议.
    Dispute,
    /// 认定、检验、鉴定 requests.
    Opinion,
}

impl Family {
    /// The first word of routing keys and the `family` of inbox entries.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Referral => "referral",
            Family::Transfer => "transfer",
            Family::Dispute => "dispute",
            Family::Opinion => "opinion",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of one case, addressed to the agencies that must be told of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub case_id: CaseId,
    pub family: Family,
    /// The event name within the family, e.g. `submitted`, `receipt_signed`.
    pub event: String,
    /// Who took the step.
    pub actor: AgencyCode,
    /// When the step was accepted.
    pub at: Timestamp,
    /// Who must be told; never the actor.
    pub recipients: Vec<AgencyCode>,
    /// One line for people, without personal data.
    pub summary: String,
    /// The family's full event, for consumers that need more than the notice (ledger, monitor).
    pub detail: serde_json::Value,
}

impl Notice {
    /// The routing key on the event exchange: `<family>.<event>`.
    pub fn routing_key(&self) -> String {
        format!("{}.{}", self.family, self.event)
    }
}
