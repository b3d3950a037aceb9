//! An [`EarlyWarning`] as it stands, and the procuratorate's [`ProcuratorialOpinion`].

use serde::{Deserialize, Serialize};

use super::{OpinionGround, Step, WarningStatus};
use crate::case::{Case, HistoryEntry, Parties, TimelineEntry};
use crate::document::Document;
use crate::ids::{AgencyCode, CaseId};
use crate::notice::Role;
use crate::screening::Hit;
use crate::time::Timestamp;

/// The procuratorate's opinion that the case be referred (检察意见).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcuratorialOpinion {
    pub ground: OpinionGround,
    pub reasons: String,
    pub at: Timestamp,
}

/// A should-have-been-referred warning on one penalty record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlyWarning {
    pub id: CaseId,
    /// The agency that recorded the penalty case, warned first and owing the answer.
    pub agency: AgencyCode,
    /// The procuratorate copied on the region's referrals, warned once the period passes.
    pub procuratorate: AgencyCode,
    /// The agency's superior (else the region's coordination office), told when the warning
    /// is raised and of every step after.
    pub supervisor: Option<AgencyCode>,
    pub record: CaseId,
    /// The record version screened.
    pub record_version: u32,
    /// The thresholds met, each with its rule, figure, threshold and source.
    pub hits: Vec<Hit>,
    /// The hits in one line, without personal data.
    pub summary: String,
    pub status: WarningStatus,
    pub opened_at: Timestamp,
    /// When the warning goes to the procuratorate if nothing was referred.
    pub raise_due: Timestamp,
    #[serde(default)]
    pub raised_at: Option<Timestamp>,
    #[serde(default)]
    pub opinion: Option<ProcuratorialOpinion>,
    /// The agency's deadline to refer or explain, once the procuratorate suggested referral.
    #[serde(default)]
    pub answer_due: Option<Timestamp>,
    #[serde(default)]
    pub escalated_at: Option<Timestamp>,
    /// The referral for the same matter.
    #[serde(default)]
    pub referral: Option<CaseId>,
    /// The referral case recording the decision not to refer, and the written explanation.
    #[serde(default)]
    pub non_referral: Option<CaseId>,
    #[serde(default)]
    pub explanation: Option<String>,
    /// The procuratorate's reasons for closing it.
    #[serde(default)]
    pub closing_reasons: Option<String>,
    /// The answer came after `answer_due`: the due time it missed (recorded, never refused).
    #[serde(default)]
    pub answered_late: Option<Timestamp>,
    /// The opinion letter, the explanation and their annexes.
    #[serde(default)]
    pub documents: Vec<Document>,
    pub history: Vec<HistoryEntry<Step>>,
    pub version: u64,
}

impl EarlyWarning {
    /// Whether the procuratorate has been told: from then on it is a party.
    pub fn is_raised(&self) -> bool {
        self.raised_at.is_some()
    }
}

impl Case for EarlyWarning {
    fn id(&self) -> CaseId {
        self.id
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn status_name(&self) -> &'static str {
        self.status.as_str()
    }

    /// The agency; the procuratorate once the warning is raised (the agency has its period
    /// first, alone).
    fn parties(&self) -> Parties {
        let mut parties = Parties::of([(Role::Sender, self.agency.clone())]);
        if self.is_raised() {
            parties
                .by_role
                .insert(Role::Procuratorate, self.procuratorate.clone());
        }
        parties
    }

    fn timeline(&self) -> Vec<TimelineEntry> {
        self.history
            .iter()
            .map(|entry| TimelineEntry {
                step: entry.step.as_str().to_owned(),
                actor: entry.actor.clone(),
                at: entry.at,
                note: entry.note.clone(),
                documents: entry.documents.clone(),
            })
            .collect()
    }

    /// The offences, e.g. `生产、销售伪劣产品罪（移送预警）`.
    fn headline(&self) -> String {
        let mut offences: Vec<&str> = Vec::new();
        for hit in &self.hits {
            if !offences.contains(&hit.offence.name_zh.as_str()) {
                offences.push(&hit.offence.name_zh);
            }
        }
        format!("{}（移送预警）", offences.join("、"))
    }

    fn opened(&self) -> Option<(&AgencyCode, Timestamp)> {
        crate::case::opened_by(&self.history)
    }

    fn summary(&self) -> &str {
        &self.summary
    }
}
