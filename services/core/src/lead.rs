//! Leads between agencies (线索互告): an agency tells another of a possible violation in the
//! other's remit, with documents. The receiver acknowledges it (签收) and answers it: it opened
//! a case it transferred (a transfer it is a party to), it referred the matter to the police (a
//! referral it sent), or it takes no action (不予处理), with reasons.
//!
//! A lead has no legal period that we know of: notices/000 三 asks agencies to tell each other
//! of leads (执法线索互告、证据互认、结果互通) but fixes no time to acknowledge or answer, so the
//! rule table has no lead rule and no lead is ever overdue. The linked transfer or referral is
//! checked by the gateway, which can read the other families' cases; here the answer is only
//! recorded.
//!
//! Sources: notices/000 三. See docs/law.md §3.I.
//!
//! Status flow:
//! ```text
//! send → sent ─acknowledge→ acknowledged ─answer→ answered
//!        sent ─answer→ answered
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::authz::{self, On};
use crate::case::{
    self, Case, CaseEvent, EventName, HistoryEntry, Parties, Recorded, Rejection, StepName,
    TEXT_MAX_CHARS, TimelineEntry, invalid, text,
};
use crate::directory::{Agency, AgencyKind, Directory};
use crate::document::Document;
use crate::ids::{AgencyCode, CaseId};
use crate::notice::{Family, Role};
use crate::time::Timestamp;

/// The lead as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sending {
    pub case_id: CaseId,
    /// The receiving agency, whose remit the possible violation is in.
    pub to: AgencyCode,
    /// The possible violation, in a line.
    pub subject: String,
    /// What was found, where and when.
    pub description: String,
    /// The material sent with it.
    pub documents: Vec<Document>,
}

/// How the receiver answered a lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Answer {
    /// The receiver took the matter up in a case transfer it is a party to (行政执法案件移送).
    TransferOpened { transfer: CaseId },
    /// The receiver referred the matter to the police (涉嫌犯罪案件移送); it sent the referral.
    ReferralMade { referral: CaseId },
    /// The receiver takes no action (不予处理), with its reasons.
    NoAction { reasons: String },
}

impl Answer {
    pub fn as_str(&self) -> &'static str {
        match self {
            Answer::TransferOpened { .. } => "transfer_opened",
            Answer::ReferralMade { .. } => "referral_made",
            Answer::NoAction { .. } => "no_action",
        }
    }
}

/// Where a lead stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    /// Sent; the receiver acknowledges or answers.
    Sent,
    /// The receiver acknowledged it (签收); it answers.
    Acknowledged,
    /// The receiver answered. Terminal.
    Answered,
}

impl LeadStatus {
    /// Every status, in declaration order.
    pub const ALL: [LeadStatus; 3] = [
        LeadStatus::Sent,
        LeadStatus::Acknowledged,
        LeadStatus::Answered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::Sent => "sent",
            LeadStatus::Acknowledged => "acknowledged",
            LeadStatus::Answered => "answered",
        }
    }
}

impl fmt::Display for LeadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps of a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Send,
    Acknowledge,
    Answer,
}

impl Step {
    /// Every step, in declaration order.
    pub const ALL: [Step; 3] = [Step::Send, Step::Acknowledge, Step::Answer];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Send => "send",
            Step::Acknowledge => "acknowledge",
            Step::Answer => "answer",
        }
    }
}

impl StepName for Step {
    const FAMILY: Family = Family::Lead;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to move a lead on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadCommand {
    Send(Sending),
    /// The receiver acknowledges the lead (签收).
    Acknowledge {
        note: String,
    },
    /// The receiver answers the lead.
    Answer(Answer),
}

impl LeadCommand {
    pub fn step(&self) -> Step {
        match self {
            LeadCommand::Send(_) => Step::Send,
            LeadCommand::Acknowledge { .. } => Step::Acknowledge,
            LeadCommand::Answer(_) => Step::Answer,
        }
    }
}

/// A lead as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lead {
    pub id: CaseId,
    /// The agency that sent the lead.
    pub sender: AgencyCode,
    /// The agency told of it.
    pub recipient: AgencyCode,
    pub subject: String,
    pub description: String,
    pub status: LeadStatus,
    /// The material sent with it.
    pub documents: Vec<Document>,
    pub sent_at: Timestamp,
    /// The receiver's answer, once given.
    pub answer: Option<Answer>,
    pub history: Vec<HistoryEntry<Step>>,
    pub version: u64,
}

impl Case for Lead {
    fn id(&self) -> CaseId {
        self.id
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn status_name(&self) -> &'static str {
        self.status.as_str()
    }

    fn parties(&self) -> Parties {
        Parties::of([
            (Role::Sender, self.sender.clone()),
            (Role::Recipient, self.recipient.clone()),
        ])
    }

    fn timeline(&self) -> Vec<TimelineEntry> {
        self.history.iter().map(HistoryEntry::to_timeline).collect()
    }

    fn headline(&self) -> String {
        "线索互告".to_owned()
    }

    fn opened(&self) -> Option<(&AgencyCode, Timestamp)> {
        crate::case::opened_by(&self.history)
    }

    fn summary(&self) -> &str {
        &self.subject
    }
}

impl Recorded<Step> for Lead {
    fn history_mut(&mut self) -> &mut Vec<HistoryEntry<Step>> {
        &mut self.history
    }

    fn version_mut(&mut self) -> &mut u64 {
        &mut self.version
    }

    fn notified(&self) -> Vec<AgencyCode> {
        vec![self.sender.clone(), self.recipient.clone()]
    }
}

/// What happened to a lead. Names match the events of the rule table (which has no lead rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LeadEventKind {
    Sent,
    Acknowledged,
    Answered { answer: Answer },
}

impl EventName for LeadEventKind {
    fn name(&self) -> &'static str {
        match self {
            LeadEventKind::Sent => "sent",
            LeadEventKind::Acknowledged => "acknowledged",
            LeadEventKind::Answered { .. } => "answered",
        }
    }
}

/// An accepted command's outcome.
pub type Decision = case::Decision<Lead, LeadEventKind>;
/// A lead event.
pub type LeadEvent = CaseEvent<LeadEventKind>;

type Outcome = case::Outcome<Lead, Step, LeadEventKind>;

/// Decides one command against the current lead (`None` before it is sent).
pub fn decide(
    current: Option<&Lead>,
    command: &LeadCommand,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let step = command.step();
    let actor = case::known_actor(directory, actor)?;
    let parties = current.map(Case::parties);
    let on = current.zip(parties.as_ref()).map(|(l, parties)| On {
        case_id: l.id,
        parties,
        status: l.status.as_str(),
    });
    authz::authorize(Family::Lead, step.as_str(), actor, on)?;
    match (current, command) {
        (None, LeadCommand::Send(s)) => send(s, actor, directory, now),
        (Some(lead), _) => act(lead, command, actor, now),
        (None, _) => Err(Rejection::NotFound {
            step: step.as_str(),
        }),
    }
}

/// notices/000 三: the lead, to another enforcement agency, with what was found.
fn send(
    s: &Sending,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let to = directory
        .get(&s.to)
        .ok_or_else(|| Rejection::UnknownAgency {
            field: "to",
            code: s.to.clone(),
        })?;
    // A lead goes to the agency whose remit the matter is in: an enforcement agency or the
    // police, never a procuratorate, a coordination office or a testing body.
    if !matches!(to.kind, AgencyKind::Administrative | AgencyKind::Police) {
        return Err(Rejection::WrongRecipientKind {
            field: "to",
            code: s.to.clone(),
            expected: AgencyKind::Administrative,
            actual: to.kind,
        });
    }
    if s.to == actor.code {
        return Err(invalid("to", "must be another agency than the sender"));
    }
    text("subject", &s.subject, TEXT_MAX_CHARS, true)?;
    text("description", &s.description, TEXT_MAX_CHARS, true)?;
    case::documents(&s.documents, 0)?;
    let lead = Lead {
        id: s.case_id,
        sender: actor.code.clone(),
        recipient: s.to.clone(),
        subject: s.subject.clone(),
        description: s.description.clone(),
        status: LeadStatus::Sent,
        documents: s.documents.clone(),
        sent_at: now,
        answer: None,
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(lead, Step::Send, actor, now);
    out.note = s.subject.clone();
    out.documents = s.documents.clone();
    out.event(LeadEventKind::Sent);
    Ok(out.finish())
}

/// Every step after sending; the authorization table has already checked party and status.
fn act(
    lead: &Lead,
    command: &LeadCommand,
    actor: &Agency,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let mut out = Outcome::new(lead.clone(), command.step(), actor, now);
    match command {
        LeadCommand::Send(_) => {
            return Err(Rejection::AlreadyExists { case_id: lead.id });
        }
        LeadCommand::Acknowledge { note } => {
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.status = LeadStatus::Acknowledged;
            out.note = note.clone();
            out.event(LeadEventKind::Acknowledged);
        }
        LeadCommand::Answer(answer) => {
            match answer {
                // The linked case is the gateway's to check (it reads the other families); a
                // lead cannot name itself.
                Answer::TransferOpened { transfer: linked }
                | Answer::ReferralMade { referral: linked } => {
                    if *linked == lead.id {
                        let field = match answer {
                            Answer::TransferOpened { .. } => "transfer",
                            _ => "referral",
                        };
                        return Err(invalid(field, "must name another case than the lead"));
                    }
                }
                // 不予处理 is a decision, so it states why.
                Answer::NoAction { reasons } => {
                    text("reasons", reasons, TEXT_MAX_CHARS, true)?;
                    out.note = reasons.clone();
                }
            }
            out.case.status = LeadStatus::Answered;
            out.case.answer = Some(answer.clone());
            out.event(LeadEventKind::Answered {
                answer: answer.clone(),
            });
        }
    }
    Ok(out.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
