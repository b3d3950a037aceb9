//! A [`Referral`] as it stands: its parties, status, record of the steps, and the [`Flag`]s
//! recorded about it.

use serde::{Deserialize, Serialize};

use super::{Document, Party, ReferralStatus, Step};
use crate::case::{Case, HistoryEntry, Parties, Recorded, TimelineEntry};
use crate::ids::{AgencyCode, CaseId};
use crate::notice::Role;
use crate::personal::PersonalData;
use crate::time::Timestamp;

/// The head's decision not to refer, as the record keeps it (S1 Art 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonReferralDecision {
    /// Who decided, by name and title.
    pub approver: String,
    /// Why.
    pub reasons: String,
}
/// Something recorded about a referral that does not stop it. The system never refuses a late
/// step; it records it (docs/law.md §3 "Cross-cutting").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Sent more than 24 h after approval (S1 Art 5, rule S1-5c). Hours rounded up.
    SubmittedLate {
        /// Hours from approval to submission, rounded up.
        hours_after_approval: i64,
    },
    /// Approved (or, for a recorded non-referral, decided) after the 3-day limit from the report
    /// (S1 Art 5, rule S1-5b), counted on the legal calendar (start day not counted, a last day
    /// on a holiday rolled).
    ApprovalLate {
        /// Days from report to approval, rounded up.
        days_after_report: i64,
    },
    /// No procuratorate of the sender's region is in the directory, so none was copied (rule CC).
    NoProcuratorateInRegion,
    /// A step taken after the limit of a check rule (S1-7, P180-2a, P180-3, S1-9a, S1-9c, P184,
    /// P189, S1-13): accepted and recorded late.
    StepLate {
        /// The late step.
        step: Step,
        /// The rule whose limit passed.
        rule: String,
        /// The limit.
        due_at: Timestamp,
        /// When the step was taken.
        at: Timestamp,
    },
}

impl Flag {
    /// The rule id behind the flag.
    pub fn rule(&self) -> &str {
        match self {
            Flag::SubmittedLate { .. } => "S1-5c",
            Flag::ApprovalLate { .. } => "S1-5b",
            Flag::NoProcuratorateInRegion => "CC",
            Flag::StepLate { rule, .. } => rule,
        }
    }
}

/// A criminal referral as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// The case.
    pub id: CaseId,
    /// The administrative agency that referred it.
    pub sender: AgencyCode,
    /// The police organ that currently holds it; `None` for a recorded non-referral, which no
    /// police organ received.
    pub police: Option<AgencyCode>,
    /// The procuratorate copied (抄送), if one exists for the sender's region.
    pub procuratorate: Option<AgencyCode>,
    /// Police organs that held the referral before forwarding it; they may still read it.
    #[serde(default)]
    pub former_police: Vec<AgencyCode>,
    /// Where it stands.
    pub status: ReferralStatus,
    /// 涉嫌罪名.
    pub suspected_offence: String,
    /// Summary of the facts.
    pub summary: String,
    /// When the agency received the investigators' report.
    pub report_received_at: Timestamp,
    /// When the head of the agency approved the referral (for a recorded non-referral: when the
    /// head decided not to refer).
    pub approved_at: Timestamp,
    /// When the referral was submitted.
    pub submitted_at: Timestamp,
    /// Whether items were tested.
    pub items_tested: bool,
    /// Whether a penalty was already imposed.
    pub penalty_imposed: bool,
    /// All documents received so far; supplements and hand-overs are appended.
    pub documents: Vec<Document>,
    /// Suspects.
    pub parties: Vec<Party>,
    /// Case officer's name.
    pub case_officer: String,
    /// Case officer's phone.
    pub case_officer_phone: PersonalData,
    /// When the seized items were handed over after filing (S1 Art 12).
    #[serde(default)]
    pub items_handed_over_at: Option<Timestamp>,
    /// Whether a reconsideration was decided; the agency may ask only once (S1 Art 9).
    #[serde(default)]
    pub reconsidered: bool,
    /// When the police's review period (S1-8, with any extension) ran out without a filing
    /// decision: from then on the procuratorate may demand an explanation (S5 Art 562).
    #[serde(default)]
    pub review_overdue_at: Option<Timestamp>,
    /// When the procuratorate demanded an explanation still owed (S5 Art 562).
    #[serde(default)]
    pub explanation_demanded_at: Option<Timestamp>,
    /// When the procuratorate issued a correction notice (纠正违法通知书) because the police did
    /// not file on its notice (S5 Art 564).
    #[serde(default)]
    pub correction_notice_at: Option<Timestamp>,
    /// The next-level procuratorate the matter was reported to (S5 Art 564); it may read the
    /// referral and hears of its steps.
    #[serde(default)]
    pub reported_to: Option<AgencyCode>,
    /// The head's decision not to refer, for a recorded non-referral (status `not_referred`).
    #[serde(default)]
    pub non_referral: Option<NonReferralDecision>,
    /// Where the case went when it left the police: the authority it was transferred to, or
    /// the agency it was handed back to.
    #[serde(default)]
    pub handed_to: Option<String>,
    /// Recorded irregularities.
    pub flags: Vec<Flag>,
    /// Every accepted step, oldest first.
    pub history: Vec<HistoryEntry<Step>>,
    /// Number of accepted commands (1 after submission).
    pub version: u64,
}

impl Referral {
    /// When `step` was last taken.
    pub fn last_at(&self, step: Step) -> Option<Timestamp> {
        self.history
            .iter()
            .rev()
            .find(|h| h.step == step)
            .map(|h| h.at)
    }
}

impl Recorded<Step> for Referral {
    fn history_mut(&mut self) -> &mut Vec<HistoryEntry<Step>> {
        &mut self.history
    }

    fn version_mut(&mut self) -> &mut u64 {
        &mut self.version
    }

    /// Who hears of a step: the sender, the current police organ and the copied procuratorate
    /// (the procuratorate sees every step of referrals it is copied on, docs/law.md §3.A).
    fn notified(&self) -> Vec<AgencyCode> {
        let mut all = vec![self.sender.clone()];
        all.extend(self.police.iter().cloned());
        all.extend(self.procuratorate.iter().cloned());
        all.extend(self.reported_to.iter().cloned());
        all
    }
}

impl Case for Referral {
    fn id(&self) -> CaseId {
        self.id
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn status_name(&self) -> &'static str {
        self.status.as_str()
    }

    /// The sender, the police organ now holding the referral (the recipient), the copied
    /// procuratorate, and police organs that forwarded it.
    fn parties(&self) -> Parties {
        let mut parties = Parties::of([(Role::Sender, self.sender.clone())]);
        if let Some(police) = &self.police {
            parties.by_role.insert(Role::Recipient, police.clone());
        }
        if let Some(procuratorate) = &self.procuratorate {
            parties
                .by_role
                .insert(Role::Procuratorate, procuratorate.clone());
        }
        if let Some(superior) = &self.reported_to {
            parties
                .by_role
                .insert(Role::SuperiorProcuratorate, superior.clone());
        }
        parties.former = self.former_police.clone();
        parties
    }

    fn timeline(&self) -> Vec<TimelineEntry> {
        self.history.iter().map(HistoryEntry::to_timeline).collect()
    }

    fn headline(&self) -> String {
        self.suspected_offence.clone()
    }

    fn opened(&self) -> Option<(&AgencyCode, Timestamp)> {
        crate::case::opened_by(&self.history)
    }

    fn summary(&self) -> &str {
        &self.summary
    }
}
