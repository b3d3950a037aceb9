//! A [`Transfer`] as it stands: its parties, status and record of the steps, and the
//! [`Suspension`] of an opened case.

use serde::{Deserialize, Serialize};

use super::{Step, TransferStatus};
use crate::case::{Case, HistoryEntry, Parties, Recorded, TimelineEntry};
use crate::document::{Document, Party};
use crate::ids::{AgencyCode, CaseId};
use crate::notice::Role;
use crate::personal::PersonalData;
use crate::time::Timestamp;

/// A case transfer as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub id: CaseId,
    /// The agency that sent it (the police organ, for a hand-back).
    pub sender: AgencyCode,
    /// The agency it is addressed to now.
    pub receiver: AgencyCode,
    /// Receivers it was addressed to before a designation moved it; they may still read it.
    #[serde(default)]
    pub former_receivers: Vec<AgencyCode>,
    /// The coordination office that designated the receiver, if one did.
    #[serde(default)]
    pub office: Option<AgencyCode>,
    pub status: TransferStatus,
    pub suspected_violation: String,
    pub summary: String,
    pub jurisdiction_grounds: String,
    pub urgent: bool,
    pub documents: Vec<Document>,
    pub parties: Vec<Party>,
    pub case_officer: String,
    pub case_officer_phone: PersonalData,
    /// When it was first sent.
    pub sent_at: Timestamp,
    /// The criminal referral it comes from, for a hand-back.
    #[serde(default)]
    pub from_referral: Option<CaseId>,
    /// The transfer it continues, if any.
    #[serde(default)]
    pub previous: Option<CaseId>,
    /// The receiver's case number once it opened a case.
    #[serde(default)]
    pub case_number: Option<String>,
    /// The last objection's reasons.
    #[serde(default)]
    pub objection: Option<String>,
    /// The dispute whose designation (or agreement) restarted it; the receiver may no longer
    /// object (S4 Art 16).
    #[serde(default)]
    pub designated_by: Option<CaseId>,
    /// The outcome reported back.
    #[serde(default)]
    pub outcome: Option<String>,
    /// The receiver's reasons for not opening a case (不予立案), fed back to the sender.
    #[serde(default)]
    pub decline: Option<String>,
    /// The sender's reasons for contesting that decision.
    #[serde(default)]
    pub decline_contest: Option<String>,
    /// The suspension in force, while the case is suspended.
    #[serde(default)]
    pub suspension: Option<Suspension>,
    pub history: Vec<HistoryEntry<Step>>,
    pub version: u64,
}

impl Case for Transfer {
    fn id(&self) -> CaseId {
        self.id
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn status_name(&self) -> &'static str {
        self.status.as_str()
    }

    /// The sender, the receiver now, the designating office, and former receivers.
    fn parties(&self) -> Parties {
        let mut parties = Parties::of([
            (Role::Sender, self.sender.clone()),
            (Role::Recipient, self.receiver.clone()),
        ]);
        if let Some(office) = &self.office {
            parties.by_role.insert(Role::Coordination, office.clone());
        }
        parties.former = self.former_receivers.clone();
        parties
    }

    fn timeline(&self) -> Vec<TimelineEntry> {
        self.history.iter().map(HistoryEntry::to_timeline).collect()
    }

    fn headline(&self) -> String {
        let urgent = if self.urgent { "（紧急）" } else { "" };
        format!("{}{urgent}", self.suspected_violation)
    }

    fn opened(&self) -> Option<(&AgencyCode, Timestamp)> {
        crate::case::opened_by(&self.history)
    }

    fn summary(&self) -> &str {
        &self.summary
    }
}

impl Recorded<Step> for Transfer {
    fn history_mut(&mut self) -> &mut Vec<HistoryEntry<Step>> {
        &mut self.history
    }

    fn version_mut(&mut self) -> &mut u64 {
        &mut self.version
    }

    /// The sender and the receiver hear of every step.
    fn notified(&self) -> Vec<AgencyCode> {
        vec![self.sender.clone(), self.receiver.clone()]
    }
}

/// A suspension (中止) of the opened case: why, and the document that approved it
/// (S4 Art 64; notices/000 二).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    pub reason: String,
    /// The approving document, e.g. the 中止审批表.
    pub approval: Document,
    pub since: Timestamp,
}
