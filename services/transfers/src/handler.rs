//! The transfer family on the case engine: the core state machine, how its events read, and
//! the events of other families that call for a transfer step.

use std::sync::Arc;

use casebridge_core::case::{CaseEvent, Decision, Rejection};
use casebridge_core::directory::{Agency, Directory};
use casebridge_core::document::{Document, Party, digests};
use casebridge_core::ids::{AgencyCode, CaseId, Sha256Digest};
use casebridge_core::notice::{Family as FamilyName, Notice, Role};
use casebridge_core::time::Timestamp;
use casebridge_core::transfer::{self, HandedBack, Transfer, TransferCommand, TransferEventKind};
use casebridge_platform::cases::{Family, Reaction};
use serde::Deserialize;

/// The case transfer family: what the engine needs to run the transfers service.
#[derive(Debug, Clone)]
pub struct Transfers {
    directory: Arc<Directory>,
}

impl Transfers {
    pub fn new(directory: Arc<Directory>) -> Transfers {
        Transfers { directory }
    }
}

/// The part of a `referral.handed_back` event a transfer is made from.
#[derive(Debug, Deserialize)]
struct HandedBackDetail {
    to: AgencyCode,
    reasons: String,
    documents: Vec<Document>,
    suspected_offence: String,
    summary: String,
    parties: Vec<Party>,
}

/// The part of a `dispute.designated` or `dispute.minutes_agreed` event that restarts a
/// transfer.
#[derive(Debug, Deserialize)]
struct SettledDetail {
    transfer: Option<CaseId>,
    #[serde(alias = "competent")]
    designated: AgencyCode,
    office: Option<AgencyCode>,
    #[serde(alias = "minutes")]
    decision: String,
}

impl Family for Transfers {
    type Case = Transfer;
    type Command = TransferCommand;
    type Event = TransferEventKind;

    const SERVICE: &'static str = crate::SERVICE;
    const FAMILY: FamilyName = FamilyName::Transfer;
    const REACTS_TO: &'static [&'static str] = &[
        "referral.handed_back",
        "dispute.designated",
        "dispute.minutes_agreed",
    ];

    fn step(command: &TransferCommand) -> &'static str {
        command.step().as_str()
    }

    fn related(command: &TransferCommand) -> Option<CaseId> {
        match command {
            TransferCommand::Send(sending) => sending.previous,
            _ => None,
        }
    }

    fn decide(
        &self,
        current: Option<&Transfer>,
        related: Option<&Transfer>,
        command: &TransferCommand,
        actor: &Agency,
        now: Timestamp,
    ) -> Result<Decision<Transfer, TransferEventKind>, Rejection> {
        transfer::decide(current, related, command, actor, &self.directory, now)
    }

    fn directory(&self) -> &Directory {
        &self.directory
    }

    fn summary(&self, event: &CaseEvent<TransferEventKind>, t: &Transfer) -> String {
        let what = match &event.kind {
            TransferEventKind::Sent {
                receiver,
                urgent,
                designated_by,
                from_referral,
            } => {
                let urgent = if *urgent { "an urgent case" } else { "a case" };
                match (designated_by, from_referral) {
                    (Some(dispute), _) => format!(
                        "re-sent the case to {} as designated in dispute {dispute}",
                        self.name(receiver)
                    ),
                    (None, Some(referral)) => format!(
                        "handed referral {referral} back to {} for administrative handling (反向衔接)",
                        self.name(receiver)
                    ),
                    (None, None) => format!(
                        "transferred {urgent} ({}) to {} (行政执法案件移送)",
                        t.suspected_violation,
                        self.name(receiver)
                    ),
                }
            }
            TransferEventKind::ReceiptSigned => "acknowledged receipt (回执)".to_owned(),
            TransferEventKind::Accepted { .. } => "opened a case on it (立案)".to_owned(),
            TransferEventKind::Objected { .. } => {
                "objected to jurisdiction; a jurisdiction dispute is opened".to_owned()
            }
            TransferEventKind::OutcomeReported { .. } => {
                "reported the outcome back (办理情况反馈)".to_owned()
            }
            // Free text stays out of the line (it may name parties): the reasons are on the
            // transfer the sender reads (decline_reasons, and the timeline).
            TransferEventKind::Declined { .. } => {
                "decided not to open a case (不予立案) and gave its reasons (办理情况反馈)"
                    .to_owned()
            }
            TransferEventKind::DeclineContested { .. } => {
                "contested the decision not to open a case; a jurisdiction dispute is opened"
                    .to_owned()
            }
            TransferEventKind::Suspended { .. } => {
                "suspended the case (中止), with its reason and approval".to_owned()
            }
            TransferEventKind::Resumed { .. } => "resumed the case (恢复)".to_owned(),
        };
        format!(
            "{} {what} — transfer {}",
            self.name(&event.actor),
            event.case_id
        )
    }

    /// A sent transfer references its whole file; an outcome the documents it carries; a
    /// suspension its approval.
    fn attachments(event: &TransferEventKind, t: &Transfer) -> Vec<Sha256Digest> {
        match event {
            TransferEventKind::Sent { .. } => digests(&t.documents),
            TransferEventKind::OutcomeReported { documents, .. } => digests(documents),
            TransferEventKind::Suspended { approval, .. } => {
                digests(std::slice::from_ref(approval))
            }
            _ => Vec::new(),
        }
    }

    fn reaction(&self, notice: &Notice) -> Option<Reaction<TransferCommand>> {
        let detail = || notice.detail.clone();
        match notice.routing_key().as_str() {
            "referral.handed_back" => {
                let d: HandedBackDetail = parse(detail())?;
                let case_id = CaseId::generate();
                Some(Reaction {
                    case_id,
                    actor: notice.actor.clone(),
                    command: TransferCommand::HandBack(HandedBack {
                        case_id,
                        referral: notice.case_id,
                        receiver: d.to,
                        suspected_offence: d.suspected_offence,
                        summary: d.summary,
                        reasons: d.reasons,
                        documents: d.documents,
                        parties: d.parties,
                    }),
                })
            }
            "dispute.designated" | "dispute.minutes_agreed" => {
                let d: SettledDetail = parse(detail())?;
                Some(Reaction {
                    case_id: d.transfer?,
                    actor: notice.actor.clone(),
                    command: TransferCommand::Restart {
                        dispute: notice.case_id,
                        between: [Role::Sender, Role::Recipient]
                            .iter()
                            .filter_map(|role| notice.parties.get(role).cloned())
                            .collect(),
                        designated: d.designated,
                        office: d.office,
                        decision: d.decision,
                    },
                })
            }
            _ => None,
        }
    }
}

/// Decodes an event's detail; a malformed one is logged and ignored (the reaction is skipped).
fn parse<T: for<'de> Deserialize<'de>>(detail: serde_json::Value) -> Option<T> {
    serde_json::from_value(detail)
        .map_err(|error| tracing::warn!(%error, "event detail does not match; no reaction"))
        .ok()
}
