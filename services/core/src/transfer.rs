//! Case transfer between administrative agencies (行政执法案件移送): an agency that finds a case
//! outside its jurisdiction sends it, with its evidence and the grounds of the receiver's
//! jurisdiction, to the competent agency; the receiver acknowledges it, then opens a case (立案),
//! decides not to open one (不予立案) or objects to jurisdiction, and later reports the outcome
//! back (办理情况反馈).
//!
//! Sources: 行政处罚法 (S3) Arts 22–27, 57, 60; 市场监督管理行政处罚程序规定 (S4) Arts 13–18, 20,
//! 23, 64; notices/003 (urgent cases, feedback); notices/000 二 (suspension). See docs/law.md §3.F.
//!
//! An objecting receiver may not pass the case on (S4 Art 14, rule F2): the transfer has no
//! forwarding step, a new transfer that continues one the sender had objected to is refused,
//! and the objection itself opens a jurisdiction dispute (the disputes service reacts to
//! `transfer.objected`). The dispute's designation, binding on all (S4 Art 16), restarts the
//! transfer to the designated agency, which can then no longer object. A criminal referral
//! handed back by the police (反向衔接, S1 Art 13) arrives as a new transfer from the police.
//!
//! A receiver that decides not to open a case (不予立案, S4 Arts 18, 20) gives its reasons, which
//! go back to the sender (notices/003: 办理情况反馈). The sender may contest the decision: the
//! disputes service reacts to `transfer.decline_contested` as to an objection, with the sender
//! raising the dispute, so the coordination office rules; its designation restarts the transfer
//! as after an objection, and the designated receiver can then neither object nor decline.
//!
//! An opened case may be suspended (中止) with the reason and the approving document, and resumed
//! (S4 Art 64; notices/000 二): the time in between does not count towards the outcome report
//! (APL-60). Suspension is a step on an opened case only: before 立案 there is no case to
//! suspend, and S4 Art 18 leaves only testing out of the decision's 15 working days (SAMR-18).
//!
//! Status flow:
//! ```text
//! send | hand_back → sent ─sign_receipt→ received ─accept→ accepted ─report_outcome→ outcome_reported
//!                                                          accepted ─suspend→ suspended ─resume→ accepted
//!                     sent | received ─object→ objected ─restart (designation)→ sent
//!                     sent | received ─decline→ declined ─contest_decline→ decline_contested
//!                                                          decline_contested ─restart (designation)→ sent
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::authz::{self, On};
use crate::case::{
    self, Case, CaseEvent, EventName, HistoryEntry, Parties, Recorded, Rejection, StepName,
    TEXT_MAX_CHARS, TITLE_MAX_CHARS, TimelineEntry, invalid, text,
};
use crate::directory::{Agency, AgencyKind, Directory};
use crate::document::{Document, DocumentKind, Party};
use crate::ids::{AgencyCode, CaseId};
use crate::notice::{Family, Role};
use crate::personal::PersonalData;
use crate::time::Timestamp;

/// What the sending agency sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sending {
    /// The case, chosen by the gateway.
    pub case_id: CaseId,
    /// The administrative agency with jurisdiction.
    pub receiver: AgencyCode,
    /// The suspected violation (涉嫌违法行为).
    pub suspected_violation: String,
    /// Summary of the facts.
    pub summary: String,
    /// Why the receiver has jurisdiction (管辖依据, S4 Art 17); required.
    pub jurisdiction_grounds: String,
    /// The receiver must act at once (notices/003); its receipt is due within 2 hours.
    pub urgent: bool,
    /// The transfer letter and the evidence gathered (S4 Art 23: usable by the receiver).
    pub documents: Vec<Document>,
    /// The parties the case is about.
    pub parties: Vec<Party>,
    /// Case officer's name.
    pub case_officer: String,
    /// Case officer's phone.
    pub case_officer_phone: PersonalData,
    /// A transfer this one continues, if any: refused when the sender had objected to it (F2).
    pub previous: Option<CaseId>,
}

/// A criminal referral handed back by the police (反向衔接, S1 Art 13), arriving as a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandedBack {
    /// The new transfer.
    pub case_id: CaseId,
    /// The referral the police handed back.
    pub referral: CaseId,
    /// The administrative agency that will handle it.
    pub receiver: AgencyCode,
    /// The offence that was suspected.
    pub suspected_offence: String,
    /// Summary of the facts, from the referral.
    pub summary: String,
    /// The police's reasons: no crime, but administrative liability.
    pub reasons: String,
    /// The referral's materials and what the police add.
    pub documents: Vec<Document>,
    /// The parties, from the referral.
    pub parties: Vec<Party>,
}

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    /// Sent (or re-sent after a designation); awaiting the receipt.
    Sent,
    /// The receiver acknowledged it (回执).
    Received,
    /// The receiver opened a case (立案); the outcome is owed (APL-60).
    Accepted,
    /// The receiver objected to jurisdiction; a dispute decides (F2, S4 Art 14).
    Objected,
    /// The receiver reported the outcome back to the sender (办理情况反馈). Terminal.
    OutcomeReported,
    /// The receiver decided not to open a case (不予立案, S4 Arts 18, 20); its reasons went back
    /// to the sender, which may contest them. Terminal otherwise.
    Declined,
    /// The sender contested the decision not to open a case; a dispute decides.
    DeclineContested,
    /// The opened case is suspended (中止, S4 Art 64; notices/000 二): APL-60 stands still until
    /// the receiver resumes it.
    Suspended,
}

impl TransferStatus {
    /// Every status, in declaration order.
    pub const ALL: [TransferStatus; 8] = [
        TransferStatus::Sent,
        TransferStatus::Received,
        TransferStatus::Accepted,
        TransferStatus::Objected,
        TransferStatus::OutcomeReported,
        TransferStatus::Declined,
        TransferStatus::DeclineContested,
        TransferStatus::Suspended,
    ];

    /// The snake_case name, as in serde and the authorization table.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Sent => "sent",
            TransferStatus::Received => "received",
            TransferStatus::Accepted => "accepted",
            TransferStatus::Objected => "objected",
            TransferStatus::OutcomeReported => "outcome_reported",
            TransferStatus::Declined => "declined",
            TransferStatus::DeclineContested => "decline_contested",
            TransferStatus::Suspended => "suspended",
        }
    }
}

impl fmt::Display for TransferStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Send,
    HandBack,
    SignReceipt,
    Accept,
    Object,
    ReportOutcome,
    Restart,
    Decline,
    ContestDecline,
    Suspend,
    Resume,
}

impl Step {
    /// Every step, in declaration order.
    pub const ALL: [Step; 11] = [
        Step::Send,
        Step::HandBack,
        Step::SignReceipt,
        Step::Accept,
        Step::Object,
        Step::ReportOutcome,
        Step::Restart,
        Step::Decline,
        Step::ContestDecline,
        Step::Suspend,
        Step::Resume,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Send => "send",
            Step::HandBack => "hand_back",
            Step::SignReceipt => "sign_receipt",
            Step::Accept => "accept",
            Step::Object => "object",
            Step::ReportOutcome => "report_outcome",
            Step::Restart => "restart",
            Step::Decline => "decline",
            Step::ContestDecline => "contest_decline",
            Step::Suspend => "suspend",
            Step::Resume => "resume",
        }
    }
}

impl StepName for Step {
    const FAMILY: Family = Family::Transfer;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to move a transfer on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferCommand {
    /// The sender transfers the case (S4 Arts 14, 17).
    Send(Sending),
    /// A referral handed back by the police opens a transfer (reaction to
    /// `referral.handed_back`).
    HandBack(HandedBack),
    /// The receiver acknowledges receipt (回执).
    SignReceipt,
    /// The receiver opens a case (立案, S4 Art 18).
    Accept {
        /// The receiver's case number (立案编号), if it has one.
        case_number: String,
        note: String,
    },
    /// The receiver objects to jurisdiction, with reasons; a dispute follows (S4 Art 14).
    Object { reasons: String },
    /// The receiver reports the outcome back to the sender (办理情况反馈, S3 Art 60).
    ReportOutcome {
        outcome: String,
        documents: Vec<Document>,
    },
    /// The receiver decides not to open a case (不予立案, S4 Arts 18, 20); the reasons are fed
    /// back to the sender (notices/003).
    Decline { reasons: String },
    /// The sender contests the decision not to open a case; a dispute follows, in which the
    /// coordination office rules (S3 Art 25; notices/003).
    ContestDecline { reasons: String },
    /// The receiver suspends the opened case (中止, S4 Art 64; notices/000 二).
    Suspend {
        /// Why the case cannot go on for now.
        reason: String,
        /// The approving document (e.g. 中止审批表); required.
        approval: Option<Document>,
    },
    /// The receiver resumes the suspended case (恢复); the outcome clock runs on.
    Resume { note: String },
    /// A binding designation or an agreement restarts the transfer to the competent agency
    /// (reaction to `dispute.designated` / `dispute.minutes_agreed`).
    Restart {
        /// The dispute that decided.
        dispute: CaseId,
        /// The dispute's two parties: a dispute restarts only a transfer between them, so an
        /// outsider's dispute naming someone else's transfer changes nothing (issue 12, D1).
        #[serde(default)]
        between: Vec<AgencyCode>,
        /// The agency found competent.
        designated: AgencyCode,
        /// The office that designated; `None` when the parties agreed.
        office: Option<AgencyCode>,
        /// The decision or the agreement, in words.
        decision: String,
    },
}

impl TransferCommand {
    pub fn step(&self) -> Step {
        match self {
            TransferCommand::Send(_) => Step::Send,
            TransferCommand::HandBack(_) => Step::HandBack,
            TransferCommand::SignReceipt => Step::SignReceipt,
            TransferCommand::Accept { .. } => Step::Accept,
            TransferCommand::Object { .. } => Step::Object,
            TransferCommand::ReportOutcome { .. } => Step::ReportOutcome,
            TransferCommand::Restart { .. } => Step::Restart,
            TransferCommand::Decline { .. } => Step::Decline,
            TransferCommand::ContestDecline { .. } => Step::ContestDecline,
            TransferCommand::Suspend { .. } => Step::Suspend,
            TransferCommand::Resume { .. } => Step::Resume,
        }
    }
}

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
        let urgent = if self.urgent { " (urgent)" } else { "" };
        format!("{}{urgent} — {}", self.suspected_violation, self.status)
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

/// What happened to a transfer. Names match the events of the rule table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TransferEventKind {
    /// Sent, re-sent after a designation (`designated_by`), or handed back by the police
    /// (`from_referral`). `urgent` is read by the rule table (RCPT-FU).
    Sent {
        receiver: AgencyCode,
        urgent: bool,
        designated_by: Option<CaseId>,
        from_referral: Option<CaseId>,
    },
    ReceiptSigned,
    Accepted {
        case_number: String,
    },
    /// The objection; the disputes service opens a dispute between `sender` and `receiver`.
    Objected {
        sender: AgencyCode,
        receiver: AgencyCode,
        reasons: String,
        suspected_violation: String,
        jurisdiction_grounds: String,
    },
    OutcomeReported {
        outcome: String,
        documents: Vec<Document>,
    },
    /// The receiver decided not to open a case; `reasons` go back to the sender. Closes the
    /// receipt and SAMR-18: the decision they ask for was made.
    Declined {
        sender: AgencyCode,
        receiver: AgencyCode,
        reasons: String,
    },
    /// The sender contested the decision; the disputes service opens a dispute raised by
    /// `sender` against `receiver`.
    DeclineContested {
        sender: AgencyCode,
        receiver: AgencyCode,
        /// The sender's reasons: its position in the dispute.
        reasons: String,
        /// The receiver's reasons for not opening a case.
        decline_reasons: String,
        suspected_violation: String,
    },
    /// The opened case is suspended: APL-60 stops (rule table `pauses_on`).
    Suspended {
        reason: String,
        approval: Document,
    },
    /// The suspended case is resumed: APL-60 runs on (rule table `resumes_on`).
    Resumed {
        note: String,
    },
}

impl EventName for TransferEventKind {
    fn name(&self) -> &'static str {
        match self {
            TransferEventKind::Sent { .. } => "sent",
            TransferEventKind::ReceiptSigned => "receipt_signed",
            TransferEventKind::Accepted { .. } => "accepted",
            TransferEventKind::Objected { .. } => "objected",
            TransferEventKind::OutcomeReported { .. } => "outcome_reported",
            TransferEventKind::Declined { .. } => "declined",
            TransferEventKind::DeclineContested { .. } => "decline_contested",
            TransferEventKind::Suspended { .. } => "suspended",
            TransferEventKind::Resumed { .. } => "resumed",
        }
    }
}

/// An accepted command's outcome.
pub type Decision = case::Decision<Transfer, TransferEventKind>;
/// A transfer event.
pub type TransferEvent = CaseEvent<TransferEventKind>;

type Outcome = case::Outcome<Transfer, Step, TransferEventKind>;

/// Decides one command against the current transfer (`None` before it is sent). `previous` is
/// the transfer named by a [`Sending::previous`], loaded by the service.
pub fn decide(
    current: Option<&Transfer>,
    previous: Option<&Transfer>,
    command: &TransferCommand,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let step = command.step();
    let actor = case::known_actor(directory, actor)?;
    let parties = current.map(Case::parties);
    let on = current.zip(parties.as_ref()).map(|(t, parties)| On {
        case_id: t.id,
        parties,
        status: t.status.as_str(),
    });
    authz::authorize(Family::Transfer, step.as_str(), actor, on)?;
    match (current, command) {
        (None, TransferCommand::Send(sending)) => send(sending, previous, actor, directory, now),
        (None, TransferCommand::HandBack(handed)) => hand_back(handed, actor, directory, now),
        (Some(transfer), _) => act(transfer, command, actor, directory, now),
        (None, _) => Err(Rejection::NotFound {
            step: step.as_str(),
        }),
    }
}

/// S4 Arts 14, 17: the transfer with its evidence and the grounds of jurisdiction.
fn send(
    s: &Sending,
    previous: Option<&Transfer>,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    case::require_agency(
        directory,
        "receiver",
        &s.receiver,
        AgencyKind::Administrative,
    )?;
    if s.receiver == actor.code {
        return Err(invalid(
            "receiver",
            "must be another agency than the sender",
        ));
    }
    if let Some(id) = s.previous {
        let Some(previous) = previous else {
            return Err(Rejection::UnknownCase {
                field: "previous",
                case_id: id,
            });
        };
        // S4 Art 14 (F2): a receiver that objected to jurisdiction may not pass the case on;
        // its objection goes to a jurisdiction dispute.
        if previous.status == TransferStatus::Objected && previous.receiver == actor.code {
            return Err(Rejection::Forbidden {
                rule: "F2",
                field: Some("previous"),
                reason: format!(
                    "the acting agency objected to transfer {id} and may not pass the case on; \
                     its objection is decided as a jurisdiction dispute"
                ),
            });
        }
        if !previous.parties().contains(&actor.code) {
            return Err(Rejection::Forbidden {
                rule: "AUTH-PARTY",
                field: Some("previous"),
                reason: format!("the acting agency is not a party to transfer {id}"),
            });
        }
    }
    text(
        "suspected_violation",
        &s.suspected_violation,
        TEXT_MAX_CHARS,
        true,
    )?;
    text("summary", &s.summary, TEXT_MAX_CHARS, true)?;
    text(
        "jurisdiction_grounds",
        &s.jurisdiction_grounds,
        TEXT_MAX_CHARS,
        true,
    )?;
    text("case_officer", &s.case_officer, TITLE_MAX_CHARS, false)?;
    case::phone("case_officer_phone", s.case_officer_phone.expose(), false)?;
    case::documents(&s.documents, 0)?;
    case::parties(&s.parties)?;
    // S4 Art 17: the case goes with a transfer letter and its materials.
    if let Some(kind) = case::first_missing(&s.documents, &[DocumentKind::TransferLetter]) {
        return Err(Rejection::MissingDocument { kind, rule: "F1" });
    }
    let transfer = Transfer {
        id: s.case_id,
        sender: actor.code.clone(),
        receiver: s.receiver.clone(),
        former_receivers: Vec::new(),
        office: None,
        status: TransferStatus::Sent,
        suspected_violation: s.suspected_violation.clone(),
        summary: s.summary.clone(),
        jurisdiction_grounds: s.jurisdiction_grounds.clone(),
        urgent: s.urgent,
        documents: s.documents.clone(),
        parties: s.parties.clone(),
        case_officer: s.case_officer.clone(),
        case_officer_phone: s.case_officer_phone.clone(),
        sent_at: now,
        from_referral: None,
        previous: s.previous,
        case_number: None,
        objection: None,
        designated_by: None,
        outcome: None,
        decline: None,
        decline_contest: None,
        suspension: None,
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(transfer, Step::Send, actor, now);
    out.documents = s.documents.clone();
    out.event(TransferEventKind::Sent {
        receiver: s.receiver.clone(),
        urgent: s.urgent,
        designated_by: None,
        from_referral: None,
    });
    Ok(out.finish())
}

/// S1 Art 13 (反向衔接): the police hand a case back for administrative handling.
fn hand_back(
    h: &HandedBack,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    case::require_agency(
        directory,
        "receiver",
        &h.receiver,
        AgencyKind::Administrative,
    )?;
    let transfer = Transfer {
        id: h.case_id,
        sender: actor.code.clone(),
        receiver: h.receiver.clone(),
        former_receivers: Vec::new(),
        office: None,
        status: TransferStatus::Sent,
        suspected_violation: h.suspected_offence.clone(),
        summary: h.summary.clone(),
        jurisdiction_grounds: h.reasons.clone(),
        urgent: false,
        documents: h.documents.clone(),
        parties: h.parties.clone(),
        case_officer: String::new(),
        case_officer_phone: PersonalData::default(),
        sent_at: now,
        from_referral: Some(h.referral),
        previous: None,
        case_number: None,
        objection: None,
        designated_by: None,
        outcome: None,
        decline: None,
        decline_contest: None,
        suspension: None,
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(transfer, Step::HandBack, actor, now);
    out.note = h.reasons.clone();
    out.documents = h.documents.clone();
    out.event(TransferEventKind::Sent {
        receiver: h.receiver.clone(),
        urgent: false,
        designated_by: None,
        from_referral: Some(h.referral),
    });
    Ok(out.finish())
}

/// Every step after sending; the authorization table has already checked party and status.
fn act(
    transfer: &Transfer,
    command: &TransferCommand,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let mut out = Outcome::new(transfer.clone(), command.step(), actor, now);
    match command {
        TransferCommand::Send(_) | TransferCommand::HandBack(_) => {
            return Err(Rejection::AlreadyExists {
                case_id: transfer.id,
            });
        }
        TransferCommand::SignReceipt => {
            out.case.status = TransferStatus::Received;
            out.event(TransferEventKind::ReceiptSigned);
        }
        TransferCommand::Accept { case_number, note } => {
            // S4 Art 18 (SAMR-18): the receiver decides within 15 working days whether to open
            // a case; testing time does not count.
            text("case_number", case_number, TITLE_MAX_CHARS, false)?;
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.status = TransferStatus::Accepted;
            out.case.case_number = (!case_number.trim().is_empty()).then(|| case_number.clone());
            out.note = note.clone();
            out.event(TransferEventKind::Accepted {
                case_number: case_number.clone(),
            });
        }
        TransferCommand::Object { reasons } => {
            // S4 Art 16: a designation binds all parties; the designated agency cannot object.
            bound(transfer)?;
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.status = TransferStatus::Objected;
            out.case.objection = Some(reasons.clone());
            out.note = reasons.clone();
            out.event(TransferEventKind::Objected {
                sender: transfer.sender.clone(),
                receiver: transfer.receiver.clone(),
                reasons: reasons.clone(),
                suspected_violation: transfer.suspected_violation.clone(),
                jurisdiction_grounds: transfer.jurisdiction_grounds.clone(),
            });
        }
        TransferCommand::ReportOutcome { outcome, documents } => {
            // S3 Art 60 (APL-60) and notices/003: the receiver reports the handling back.
            text("outcome", outcome, TEXT_MAX_CHARS, true)?;
            case::documents(documents, transfer.documents.len())?;
            out.case.status = TransferStatus::OutcomeReported;
            out.case.outcome = Some(outcome.clone());
            out.case.documents.extend(documents.iter().cloned());
            out.note = outcome.clone();
            out.documents = documents.clone();
            out.event(TransferEventKind::OutcomeReported {
                outcome: outcome.clone(),
                documents: documents.clone(),
            });
        }
        TransferCommand::Decline { reasons } => {
            // S4 Arts 18, 20 (SAMR-18): the receiver may decide not to open a case, with its
            // reasons; notices/003 wants them fed back to the sender. A designated receiver was
            // found competent and must open the case (S4 Art 16).
            bound(transfer)?;
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.status = TransferStatus::Declined;
            out.case.decline = Some(reasons.clone());
            out.note = reasons.clone();
            out.event(TransferEventKind::Declined {
                sender: transfer.sender.clone(),
                receiver: transfer.receiver.clone(),
                reasons: reasons.clone(),
            });
        }
        TransferCommand::ContestDecline { reasons } => {
            // notices/003; S3 Art 25: a sender that holds the case must be handled contests the
            // decision, and the coordination office rules on it as on a jurisdiction dispute.
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.status = TransferStatus::DeclineContested;
            out.case.decline_contest = Some(reasons.clone());
            out.note = reasons.clone();
            out.event(TransferEventKind::DeclineContested {
                sender: transfer.sender.clone(),
                receiver: transfer.receiver.clone(),
                reasons: reasons.clone(),
                decline_reasons: transfer.decline.clone().unwrap_or_default(),
                suspected_violation: transfer.suspected_violation.clone(),
            });
        }
        TransferCommand::Suspend { reason, approval } => {
            // S4 Art 64; notices/000 二: a suspension is approved, and its time does not count
            // towards the case limit (APL-60).
            text("reason", reason, TEXT_MAX_CHARS, true)?;
            let Some(approval) = approval else {
                return Err(invalid(
                    "approval",
                    "is required: the document approving the suspension (中止审批表)",
                ));
            };
            text("approval.title", &approval.title, TITLE_MAX_CHARS, true)?;
            if transfer.documents.len() >= case::ITEMS_MAX {
                return Err(invalid(
                    "approval",
                    format!(
                        "cannot be added: the transfer already holds {} documents",
                        case::ITEMS_MAX
                    ),
                ));
            }
            out.case.status = TransferStatus::Suspended;
            out.case.suspension = Some(Suspension {
                reason: reason.clone(),
                approval: approval.clone(),
                since: now,
            });
            out.case.documents.push(approval.clone());
            out.note = reason.clone();
            out.documents = vec![approval.clone()];
            out.event(TransferEventKind::Suspended {
                reason: reason.clone(),
                approval: approval.clone(),
            });
        }
        TransferCommand::Resume { note } => {
            // notices/000 二: once the cause is gone the case goes on; APL-60 counts on.
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.status = TransferStatus::Accepted;
            out.case.suspension = None;
            out.note = note.clone();
            out.event(TransferEventKind::Resumed { note: note.clone() });
        }
        TransferCommand::Restart {
            dispute,
            between,
            designated,
            office,
            decision,
        } => {
            // A dispute settles only the jurisdiction its own parties disputed: the transfer's
            // sender and receiver, the two sides of the objection or of the contested decline
            // (S4 Arts 14, 16).
            let mut disputants: Vec<&AgencyCode> = between.iter().collect();
            disputants.sort();
            let mut sides = vec![&transfer.sender, &transfer.receiver];
            sides.sort();
            if disputants != sides {
                return Err(Rejection::Forbidden {
                    rule: "SAMR-16",
                    field: Some("transfer_id"),
                    reason: format!(
                        "dispute {dispute} is not between this transfer's sender and receiver, \
                         so it cannot restart it"
                    ),
                });
            }
            // S4 Art 16; S3 Art 25: the designation binds and restarts the transfer.
            case::require_agency(
                directory,
                "designated",
                designated,
                AgencyKind::Administrative,
            )?;
            if *designated == transfer.sender {
                // The sender was found competent: the case is its own again. The transfer
                // ends here as handled by the sender.
                out.case.status = TransferStatus::OutcomeReported;
                out.case.outcome = Some(format!(
                    "the sender was found competent by dispute {dispute}: {decision}"
                ));
                out.case.designated_by = Some(*dispute);
                out.case.office = office.clone();
                out.note = decision.clone();
                out.event(TransferEventKind::OutcomeReported {
                    outcome: out.case.outcome.clone().unwrap_or_default(),
                    documents: Vec::new(),
                });
                return Ok(out.finish());
            }
            if *designated != transfer.receiver {
                let previous = std::mem::replace(&mut out.case.receiver, designated.clone());
                if !out.case.former_receivers.contains(&previous) {
                    out.case.former_receivers.push(previous);
                }
            }
            out.case.status = TransferStatus::Sent;
            out.case.designated_by = Some(*dispute);
            out.case.office = office.clone();
            out.note = decision.clone();
            out.event(TransferEventKind::Sent {
                receiver: designated.clone(),
                urgent: transfer.urgent,
                designated_by: Some(*dispute),
                from_referral: transfer.from_referral,
            });
        }
    }
    Ok(out.finish())
}

/// S4 Art 16: a receiver designated by a dispute's decision is bound by it; it may neither
/// object to jurisdiction again nor decline to open the case.
fn bound(transfer: &Transfer) -> Result<(), Rejection> {
    match transfer.designated_by {
        Some(dispute) => Err(Rejection::Forbidden {
            rule: "SAMR-16",
            field: None,
            reason: format!(
                "the receiver was designated by the decision of dispute {dispute}, which binds \
                 it; it must open the case"
            ),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
