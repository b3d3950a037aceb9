//! Notices: what an agency's inbox receives about a step in a case, whatever the family.
//!
//! A family service turns each domain event into one [`Notice`] addressed to the parties who
//! must be told; the inbox service stores one entry per recipient. A notice's `summary` is
//! shown to people and written to logs by nobody: it names agencies and steps, never parties.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{AgencyCode, CaseId, Sha256Digest};
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
    /// 行政处罚案件信息: penalty-case records, their screening and early warnings (移送预警).
    Penalty,
    /// 线索互告: leads from one agency to another about a possible violation in its remit.
    Lead,
    /// 整改: rectification requests from a supervising body to an administrative agency, and the
    /// rectification reports they are owed.
    Rectification,
}

impl Family {
    /// Every family, in the order lists show them.
    pub const ALL: [Family; 7] = [
        Family::Referral,
        Family::Transfer,
        Family::Dispute,
        Family::Opinion,
        Family::Penalty,
        Family::Lead,
        Family::Rectification,
    ];

    /// The family named `name` ([`Family::as_str`]), if any.
    pub fn parse(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The first word of routing keys and the `family` of inbox entries.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Referral => "referral",
            Family::Transfer => "transfer",
            Family::Dispute => "dispute",
            Family::Opinion => "opinion",
            Family::Penalty => "penalty",
            Family::Lead => "lead",
            Family::Rectification => "rectification",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The part an agency plays in a case. Rules name the party that owes a step by role, and
/// only parties may read a case or hear of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The agency that started the case: the referring or transferring agency, the party
    /// raising a dispute, the requester of an opinion.
    Sender,
    /// The agency the case is addressed to: the police organ, the receiving agency, the other
    /// party to a dispute.
    Recipient,
    /// The procuratorate copied on a referral (抄送), which supervises its deadlines.
    Procuratorate,
    /// The coordination office ruling on a dispute, which supervises non-referral deadlines.
    Coordination,
    /// The department asked for an expert opinion.
    Expert,
    /// The next-level procuratorate a referral's filing supervision was reported to
    /// (报上一级人民检察院, S5 Art 564).
    SuperiorProcuratorate,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sender => "sender",
            Role::Recipient => "recipient",
            Role::Procuratorate => "procuratorate",
            Role::Coordination => "coordination",
            Role::Expert => "expert",
            Role::SuperiorProcuratorate => "superior_procuratorate",
        }
    }
}

impl fmt::Display for Role {
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
    /// The parties to the case after the step, by role: who owes the next step and who
    /// supervises it (deadlines service, monitor).
    #[serde(default)]
    pub parties: BTreeMap<Role, AgencyCode>,
    /// The evidence attachments (by SHA-256) the step references, so every party of the case
    /// may read them (evidence service).
    #[serde(default)]
    pub attachments: Vec<Sha256Digest>,
}

impl Notice {
    /// The routing key on the event exchange: `<family>.<event>`.
    pub fn routing_key(&self) -> String {
        format!("{}.{}", self.family, self.event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_reads_back_from_its_name_and_nothing_else_does() {
        for family in Family::ALL {
            assert_eq!(Family::parse(family.as_str()), Some(family));
        }
        assert_eq!(Family::parse("Referral"), None);
        assert_eq!(Family::parse(""), None);
    }
}
