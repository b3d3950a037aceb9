//! The referral family on the case engine: the core state machine and how its events read.

use std::sync::Arc;

use casebridge_core::case::{CaseEvent, Decision, Rejection};
use casebridge_core::directory::{Agency, Directory};
use casebridge_core::document::digests;
use casebridge_core::ids::Sha256Digest;
use casebridge_core::law::Law;
use casebridge_core::notice::Family as FamilyName;
use casebridge_core::notice::Notice;
use casebridge_core::referral::{
    self, Context, ReconsiderationOutcome, Referral, ReferralCommand, ReferralEventKind,
    ReferralPolicy,
};
use casebridge_core::time::Timestamp;
use casebridge_platform::cases::{Family, Reaction};
use serde::Deserialize;

/// The criminal referral family: what the engine needs to run the referrals service.
#[derive(Debug, Clone)]
pub struct Referrals {
    directory: Arc<Directory>,
    law: Arc<Law>,
    policy: ReferralPolicy,
}

impl Referrals {
    pub fn new(directory: Arc<Directory>, law: Arc<Law>, policy: ReferralPolicy) -> Referrals {
        Referrals {
            directory,
            law,
            policy,
        }
    }
}

impl Family for Referrals {
    type Case = Referral;
    type Command = ReferralCommand;
    type Event = ReferralEventKind;

    const SERVICE: &'static str = crate::SERVICE;
    const FAMILY: FamilyName = FamilyName::Referral;
    /// The deadlines service's misses: a missed S1-8 (the police review) is recorded on the
    /// referral, which lets the procuratorate demand an explanation (S5 Art 562).
    const REACTS_TO: &'static [&'static str] = &["referral.deadline_missed"];

    fn step(command: &ReferralCommand) -> &'static str {
        command.step().as_str()
    }

    fn decide(
        &self,
        current: Option<&Referral>,
        _related: Option<&Referral>,
        command: &ReferralCommand,
        actor: &Agency,
        now: Timestamp,
    ) -> Result<Decision<Referral, ReferralEventKind>, Rejection> {
        let ctx = Context {
            directory: &self.directory,
            law: &self.law,
            policy: &self.policy,
        };
        referral::decide(current, command, actor, &ctx, now)
    }

    fn directory(&self) -> &Directory {
        &self.directory
    }

    fn reaction(&self, notice: &Notice) -> Option<Reaction<ReferralCommand>> {
        let missed: MissedDetail = serde_json::from_value(notice.detail.clone()).ok()?;
        (missed.rule == REVIEW_RULE).then(|| Reaction {
            case_id: notice.case_id,
            actor: notice.actor.clone(),
            command: ReferralCommand::MarkReviewOverdue {
                started_at: missed.started_at,
                due_at: missed.due_at,
            },
        })
    }

    fn summary(&self, event: &CaseEvent<ReferralEventKind>, referral: &Referral) -> String {
        let what = match &event.kind {
            ReferralEventKind::Submitted => format!(
                "referred a suspected crime ({}) to {}",
                referral.suspected_offence,
                referral
                    .police
                    .as_ref()
                    .map_or_else(String::new, |police| self.name(police))
            ),
            ReferralEventKind::NotReferredRecorded { .. } => format!(
                "recorded its head's decision not to refer a suspected crime ({}) (不批准移送，\
                 记录在案)",
                referral.suspected_offence
            ),
            ReferralEventKind::ReceiptSigned => "signed the receipt (回执)".to_owned(),
            ReferralEventKind::SupplementRequested { missing, .. } => format!(
                "asked for materials (补充材料): {}",
                missing
                    .iter()
                    .map(|k| k.label_zh())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            ReferralEventKind::Supplemented { documents } => {
                format!("supplied {} document(s)", documents.len())
            }
            ReferralEventKind::Forwarded { to, .. } => {
                format!("forwarded the referral to {}", self.name(to))
            }
            ReferralEventKind::ReturnedNotPoliceMatter { .. } => {
                "returned the referral as outside police remit".to_owned()
            }
            ReferralEventKind::Filed { .. } => "filed the case (立案)".to_owned(),
            ReferralEventKind::Declined { .. } => "declined to file (不予立案)".to_owned(),
            ReferralEventKind::ItemsHandedOver { .. } => {
                "handed over the seized items (移交涉案物品)".to_owned()
            }
            ReferralEventKind::ReconsiderationRequested { .. } => {
                "asked for reconsideration of non-filing (复议)".to_owned()
            }
            ReferralEventKind::ReconsiderationDecided { outcome, .. } => match outcome {
                ReconsiderationOutcome::File => "reconsidered and filed the case (复议立案)",
                ReconsiderationOutcome::Uphold => {
                    "upheld non-filing on reconsideration (维持不予立案)"
                }
            }
            .to_owned(),
            ReferralEventKind::SupervisionSuggested { .. } => {
                "suggested filing supervision to the procuratorate (建议立案监督)".to_owned()
            }
            ReferralEventKind::ReasonsRequested => {
                "asked the police for their reasons for not filing (要求说明不立案理由)".to_owned()
            }
            ReferralEventKind::ReasonsGiven { .. } => {
                "gave the reasons for not filing (说明不立案理由)".to_owned()
            }
            ReferralEventKind::AgencyTold => {
                "found the reasons for not filing stand and told the agency".to_owned()
            }
            ReferralEventKind::FilingNotified { .. } => {
                "notified the police to file the case (通知立案)".to_owned()
            }
            ReferralEventKind::ReviewOverdue { due_at } => format!(
                "let the review period (S1-8) run out at {due_at} without a filing decision; \
                 the procuratorate may now demand an explanation (S5 Art 562)"
            ),
            ReferralEventKind::ExplanationDemanded => {
                "demanded an explanation of the missing filing decision".to_owned()
            }
            ReferralEventKind::ExplanationGiven { .. } => {
                "explained the missing filing decision".to_owned()
            }
            ReferralEventKind::CorrectionNoticeIssued { .. } => {
                "issued a correction notice (纠正违法通知书) for not filing on the notice to file"
                    .to_owned()
            }
            ReferralEventKind::ReportedToSuperior { superior, .. } => format!(
                "reported the police's failure to file to the next-level procuratorate, {} \
                 (报上一级人民检察院)",
                self.name(superior)
            ),
            ReferralEventKind::CaseTransferred { to_authority, .. } => {
                format!("transferred the filed case to {to_authority}")
            }
            ReferralEventKind::CaseWithdrawn { .. } => "withdrew the case (撤案)".to_owned(),
            ReferralEventKind::HandedBack { to, .. } => format!(
                "handed the case back to {} for administrative handling (反向衔接)",
                self.name(to)
            ),
        };
        format!(
            "{} {what} — referral {}",
            self.name(&event.actor),
            event.case_id
        )
    }

    /// A submission references its whole package; later steps the documents they carry.
    fn attachments(event: &ReferralEventKind, referral: &Referral) -> Vec<Sha256Digest> {
        match event {
            ReferralEventKind::Submitted | ReferralEventKind::NotReferredRecorded { .. } => {
                digests(&referral.documents)
            }
            ReferralEventKind::Supplemented { documents }
            | ReferralEventKind::ItemsHandedOver { documents }
            | ReferralEventKind::HandedBack { documents, .. } => digests(documents),
            _ => Vec::new(),
        }
    }
}

/// The rule whose miss the referral records: the police review (S1 Art 8).
const REVIEW_RULE: &str = "S1-8";

/// The part of a `referral.deadline_missed` notice the referral needs.
#[derive(Debug, Deserialize)]
struct MissedDetail {
    rule: String,
    started_at: Timestamp,
    due_at: Timestamp,
}
