//! Criminal referral (涉嫌犯罪案件移送): an administrative agency refers a suspected crime to the
//! police organ, copying the procuratorate; the police sign a receipt, may ask for missing
//! materials, forward the case to the competent organ, return it as outside their remit, or
//! decide to file (立案) or decline to file (不予立案).
//!
//! Sources: 国务院令第310号 (S1, rev. 2020) Arts 3–12; 公安机关办理刑事案件程序规定 (S2) Art 180.
//! See DOMAIN §3.A. [`decide`] is a pure function: it checks one command against the current
//! referral and returns the next referral and the events to deliver, or a [`Rejection`].
//! Deadlines (obligations) are computed by the deadline engine, not here.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::directory::{Agency, AgencyKind, Directory};
use crate::ids::{AgencyCode, CaseId, Sha256Digest};
use crate::notice::Role;
use crate::personal::PersonalData;
use crate::time::Timestamp;

/// Longest free text (suspected offence, summary, notes, reasons), in characters.
pub const TEXT_MAX_CHARS: usize = 2000;
/// Longest document title, party name or case officer name, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest identity number or phone number, in characters.
pub const NUMBER_MAX_CHARS: usize = 64;
/// Most documents a referral may carry in total, and most parties it may name.
pub const ITEMS_MAX: usize = 200;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The kinds of document in a referral package (S1 Art 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 涉嫌犯罪案件移送书 (S1 Art 6 item 1).
    ReferralLetter,
    /// 调查报告 (S1 Art 6 item 2).
    InvestigationReport,
    /// 涉案物品清单 (S1 Art 6 item 3).
    SeizedItemsList,
    /// 检验报告 / 鉴定意见 (S1 Art 6 item 4, where items were tested).
    TestReport,
    /// 行政处罚决定书, when a penalty was already imposed [V2 S24].
    PenaltyDecision,
    /// Other materials (S1 Art 6 item 5).
    Other,
}

impl DocumentKind {
    /// The snake_case name, as in serde.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::ReferralLetter => "referral_letter",
            DocumentKind::InvestigationReport => "investigation_report",
            DocumentKind::SeizedItemsList => "seized_items_list",
            DocumentKind::TestReport => "test_report",
            DocumentKind::PenaltyDecision => "penalty_decision",
            DocumentKind::Other => "other",
        }
    }

    /// The legal name in Chinese.
    pub fn label_zh(self) -> &'static str {
        match self {
            DocumentKind::ReferralLetter => "涉嫌犯罪案件移送书",
            DocumentKind::InvestigationReport => "调查报告",
            DocumentKind::SeizedItemsList => "涉案物品清单",
            DocumentKind::TestReport => "检验报告/鉴定意见",
            DocumentKind::PenaltyDecision => "行政处罚决定书",
            DocumentKind::Other => "其他材料",
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One document of the package; the content travels separately, identified by its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// What the document is.
    pub kind: DocumentKind,
    /// Its title, 1 to 200 characters.
    pub title: String,
    /// SHA-256 of the content, when the content was uploaded.
    pub sha256: Option<Sha256Digest>,
}

/// A suspect, person or entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Name of the person or entity.
    pub name: PersonalData,
    /// Identity document number or agency code of an entity, if known.
    pub id_number: Option<PersonalData>,
}

/// What the administrative agency sends when it refers a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The case, chosen by the sender.
    pub case_id: CaseId,
    /// The police organ the case is referred to.
    pub police: AgencyCode,
    /// 涉嫌罪名.
    pub suspected_offence: String,
    /// Summary of the facts.
    pub summary: String,
    /// When the agency received the investigators' referral report (starts S1-5b).
    pub report_received_at: Timestamp,
    /// When the head of the agency approved the referral (starts S1-5c).
    pub approved_at: Timestamp,
    /// Whether items were tested or examined, so a test report is due (S1 Art 6 item 4).
    pub items_tested: bool,
    /// Whether an administrative penalty was already imposed (S1 Art 11).
    pub penalty_imposed: bool,
    /// The package.
    pub documents: Vec<Document>,
    /// Suspects.
    pub parties: Vec<Party>,
    /// Case officer's name.
    pub case_officer: String,
    /// Case officer's phone.
    pub case_officer_phone: PersonalData,
}

/// Where a referral stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    /// Sent; awaiting the police receipt (回执).
    Submitted,
    /// Receipt signed; the police are reviewing.
    Received,
    /// The police asked for missing materials (S2 Art 180).
    AwaitingSupplement,
    /// The police filed the case (立案). Terminal for this family's first phase.
    Filed,
    /// The police declined to file (不予立案), with reasons. Terminal here.
    Declined,
    /// The police returned the case as outside their remit (S2 Art 180). Terminal.
    ReturnedNotPoliceMatter,
}

impl ReferralStatus {
    /// The snake_case name, as in serde.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferralStatus::Submitted => "submitted",
            ReferralStatus::Received => "received",
            ReferralStatus::AwaitingSupplement => "awaiting_supplement",
            ReferralStatus::Filed => "filed",
            ReferralStatus::Declined => "declined",
            ReferralStatus::ReturnedNotPoliceMatter => "returned_not_police_matter",
        }
    }

    /// Whether no further command is accepted.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ReferralStatus::Filed
                | ReferralStatus::Declined
                | ReferralStatus::ReturnedNotPoliceMatter
        )
    }
}

impl fmt::Display for ReferralStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of a step, for history, rejections and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The agency refers the case.
    Submit,
    /// The police sign the receipt.
    SignReceipt,
    /// The police ask for missing materials.
    RequestSupplement,
    /// The agency supplies them.
    Supplement,
    /// The police pass the case to the competent organ.
    Forward,
    /// The police return the case as outside their remit.
    ReturnNotPoliceMatter,
    /// The police file the case.
    File,
    /// The police decline to file.
    Decline,
}

impl Step {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Submit => "submit",
            Step::SignReceipt => "sign_receipt",
            Step::RequestSupplement => "request_supplement",
            Step::Supplement => "supplement",
            Step::Forward => "forward",
            Step::ReturnNotPoliceMatter => "return_not_police_matter",
            Step::File => "file",
            Step::Decline => "decline",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to move a referral on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralCommand {
    /// The agency refers the case (S1 Arts 5–6).
    Submit(Submission),
    /// The police sign the receipt (回执, S1 Art 7).
    SignReceipt,
    /// The police ask for missing materials; they may not refuse the case for that
    /// (S2 Art 180, rule P180-2a).
    RequestSupplement {
        /// What is missing.
        missing: Vec<DocumentKind>,
        /// Explanation for the agency.
        note: String,
    },
    /// The agency supplies materials (P180-2b).
    Supplement {
        /// The added documents.
        documents: Vec<Document>,
        /// Explanation for the police.
        note: String,
    },
    /// The police pass the case to the competent police organ and tell the agency (S1 Art 7).
    Forward {
        /// The competent police organ.
        to: AgencyCode,
        /// Why, for the written notice to the agency.
        reason: String,
    },
    /// The police return the case as outside police remit, with reasons (S2 Art 180, P180-3).
    ReturnNotPoliceMatter {
        /// Why.
        reasons: String,
    },
    /// The police file the case (立案, S1 Art 8).
    File {
        /// Optional note.
        note: String,
    },
    /// The police decline to file, with reasons (不予立案, S1 Art 8).
    Decline {
        /// Why; required.
        reasons: String,
    },
}

impl ReferralCommand {
    /// Which step this command takes.
    pub fn step(&self) -> Step {
        match self {
            ReferralCommand::Submit(_) => Step::Submit,
            ReferralCommand::SignReceipt => Step::SignReceipt,
            ReferralCommand::RequestSupplement { .. } => Step::RequestSupplement,
            ReferralCommand::Supplement { .. } => Step::Supplement,
            ReferralCommand::Forward { .. } => Step::Forward,
            ReferralCommand::ReturnNotPoliceMatter { .. } => Step::ReturnNotPoliceMatter,
            ReferralCommand::File { .. } => Step::File,
            ReferralCommand::Decline { .. } => Step::Decline,
        }
    }
}

/// Something recorded about a referral that does not stop it. The system never refuses a late
/// step; it records it (DOMAIN §3 "Cross-cutting").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Sent more than 24 h after approval (S1 Art 5, rule S1-5c). Hours rounded up.
    SubmittedLate {
        /// Hours from approval to submission, rounded up.
        hours_after_approval: i64,
    },
    /// Approved more than 3 days after the report was received (S1 Art 5, rule S1-5b).
    /// Days rounded up.
    ApprovalLate {
        /// Days from report to approval, rounded up.
        days_after_report: i64,
    },
    /// No procuratorate of the sender's region is in the directory, so none was copied (rule CC).
    NoProcuratorateInRegion,
}

impl Flag {
    /// The rule id behind the flag.
    pub fn rule(&self) -> &'static str {
        match self {
            Flag::SubmittedLate { .. } => "S1-5c",
            Flag::ApprovalLate { .. } => "S1-5b",
            Flag::NoProcuratorateInRegion => "CC",
        }
    }
}

/// One accepted step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The step.
    pub step: Step,
    /// Who took it.
    pub actor: AgencyCode,
    /// When.
    pub at: Timestamp,
    /// Note, reasons or explanation given with it (may be empty).
    pub note: String,
}

/// A criminal referral as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// The case.
    pub id: CaseId,
    /// The administrative agency that referred it.
    pub sender: AgencyCode,
    /// The police organ that currently holds it.
    pub police: AgencyCode,
    /// The procuratorate copied (抄送), if one exists for the sender's region.
    pub procuratorate: Option<AgencyCode>,
    /// Where it stands.
    pub status: ReferralStatus,
    /// 涉嫌罪名.
    pub suspected_offence: String,
    /// Summary of the facts.
    pub summary: String,
    /// When the agency received the investigators' report.
    pub report_received_at: Timestamp,
    /// When the head of the agency approved the referral.
    pub approved_at: Timestamp,
    /// When the referral was submitted.
    pub submitted_at: Timestamp,
    /// Whether items were tested.
    pub items_tested: bool,
    /// Whether a penalty was already imposed.
    pub penalty_imposed: bool,
    /// All documents received so far; supplements are appended.
    pub documents: Vec<Document>,
    /// Suspects.
    pub parties: Vec<Party>,
    /// Case officer's name.
    pub case_officer: String,
    /// Case officer's phone.
    pub case_officer_phone: PersonalData,
    /// Recorded irregularities.
    pub flags: Vec<Flag>,
    /// Every accepted step, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Number of accepted commands (1 after submission).
    pub version: u64,
}

impl Referral {
    /// Whether `code` is a party: the sender, the current police organ, the copied procuratorate,
    /// or a police organ that held the referral before forwarding it.
    pub fn is_party(&self, code: &AgencyCode) -> bool {
        *code == self.sender
            || *code == self.police
            || self.procuratorate.as_ref() == Some(code)
            || self.history.iter().any(|h| h.actor == *code)
    }

    /// The parties by role: the sender, the police organ now holding the referral (the
    /// recipient) and the copied procuratorate.
    pub fn parties_by_role(&self) -> std::collections::BTreeMap<Role, AgencyCode> {
        let mut parties = std::collections::BTreeMap::from([
            (Role::Sender, self.sender.clone()),
            (Role::Recipient, self.police.clone()),
        ]);
        if let Some(procuratorate) = &self.procuratorate {
            parties.insert(Role::Procuratorate, procuratorate.clone());
        }
        parties
    }

    /// The agency that may take `step` now: the sender supplements, the current police organ
    /// takes every other step after submission.
    pub fn addressee_for(&self, step: Step) -> &AgencyCode {
        match step {
            Step::Submit | Step::Supplement => &self.sender,
            _ => &self.police,
        }
    }

    /// `first`, then the procuratorate if one is copied.
    fn with_procuratorate(&self, first: Vec<AgencyCode>) -> Vec<AgencyCode> {
        let mut recipients = first;
        recipients.extend(self.procuratorate.iter().cloned());
        recipients
    }
}

/// Tunable parts of the referral rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReferralPolicy {
    /// Whether a penalty decision must be in the package when a penalty was imposed.
    /// [V2 S24]: read only in a third-party source, so configurable. Default true.
    pub require_penalty_decision: bool,
    /// Hours from approval to sending before the referral is flagged late (S1 Art 5, S1-5c).
    pub send_limit_hours: i64,
    /// Days from the report to approval before the referral is flagged late (S1 Art 5, S1-5b).
    pub approval_limit_days: i64,
}

impl Default for ReferralPolicy {
    fn default() -> Self {
        ReferralPolicy {
            require_penalty_decision: true,
            send_limit_hours: 24,
            approval_limit_days: 3,
        }
    }
}

/// An accepted command's outcome: the next referral and what to tell whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The referral after the command.
    pub referral: Referral,
    /// Events to deliver.
    pub events: Vec<ReferralEvent>,
}

/// A notice to the parties who must be told of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralEvent {
    /// The case.
    pub case_id: CaseId,
    /// What happened.
    pub kind: ReferralEventKind,
    /// Who did it.
    pub actor: AgencyCode,
    /// When.
    pub at: Timestamp,
    /// Who must be told; never the actor.
    pub recipients: Vec<AgencyCode>,
}

/// What happened to a referral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ReferralEventKind {
    /// The agency referred the case.
    Submitted,
    /// The police signed the receipt.
    ReceiptSigned,
    /// The police asked for materials.
    SupplementRequested {
        /// What is missing.
        missing: Vec<DocumentKind>,
        /// Explanation.
        note: String,
    },
    /// The agency supplied materials.
    Supplemented {
        /// The added documents.
        documents: Vec<Document>,
    },
    /// The police passed the case on.
    Forwarded {
        /// The organ that passed it on.
        from: AgencyCode,
        /// The organ that now holds it.
        to: AgencyCode,
        /// Why.
        reason: String,
    },
    /// The police returned the case as outside their remit.
    ReturnedNotPoliceMatter {
        /// Why.
        reasons: String,
    },
    /// The police filed the case.
    Filed {
        /// Note.
        note: String,
    },
    /// The police declined to file.
    Declined {
        /// Why.
        reasons: String,
    },
}

impl ReferralEventKind {
    /// The snake_case name, e.g. `receipt_signed`.
    pub fn name(&self) -> &'static str {
        match self {
            ReferralEventKind::Submitted => "submitted",
            ReferralEventKind::ReceiptSigned => "receipt_signed",
            ReferralEventKind::SupplementRequested { .. } => "supplement_requested",
            ReferralEventKind::Supplemented { .. } => "supplemented",
            ReferralEventKind::Forwarded { .. } => "forwarded",
            ReferralEventKind::ReturnedNotPoliceMatter { .. } => "returned_not_police_matter",
            ReferralEventKind::Filed { .. } => "filed",
            ReferralEventKind::Declined { .. } => "declined",
        }
    }
}

/// Why a command was refused. Nothing changes when a command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A referral with this case id already exists.
    #[error("a referral for case {case_id} already exists")]
    AlreadyExists {
        /// The existing case.
        case_id: CaseId,
    },
    /// No referral exists yet for a command that needs one.
    #[error("no referral exists for this case, so step {step} cannot be taken")]
    NotFound {
        /// The refused step.
        step: Step,
    },
    /// The acting agency's kind cannot take this step.
    #[error("step {step} must be taken by an agency of kind {required}, not {actual}")]
    WrongRole {
        /// The refused step.
        step: Step,
        /// The kind that may take it.
        required: AgencyKind,
        /// The actor's kind.
        actual: AgencyKind,
    },
    /// The actor is a party, but the step belongs to another party.
    #[error("step {step} on this referral is for agency {expected} to take, not the acting agency")]
    NotAddressee {
        /// The refused step.
        step: Step,
        /// The agency that may take it.
        expected: AgencyCode,
    },
    /// The actor has nothing to do with this referral.
    #[error("the acting agency is not a party to this referral and cannot take step {step}")]
    NotAParty {
        /// The refused step.
        step: Step,
    },
    /// The step is not allowed in the current status.
    #[error("step {step} is not allowed while the referral is {status}")]
    WrongState {
        /// The refused step.
        step: Step,
        /// The referral's status.
        status: ReferralStatus,
    },
    /// An agency named in the command (or the actor) is not in the directory.
    #[error("{field} {code} is not in the agency directory")]
    UnknownAgency {
        /// The input field naming it (`actor` for the acting agency).
        field: &'static str,
        /// The unknown code.
        code: AgencyCode,
    },
    /// An agency named in the command has the wrong kind.
    #[error("{field} {code} is an agency of kind {actual}, but {expected} is required")]
    WrongRecipientKind {
        /// The input field naming it.
        field: &'static str,
        /// The agency.
        code: AgencyCode,
        /// The kind required.
        expected: AgencyKind,
        /// Its kind.
        actual: AgencyKind,
    },
    /// The package lacks a required document (S1 Art 6).
    #[error(
        "the referral package has no {kind} ({}), which S1 Art 6 requires here",
        kind.label_zh()
    )]
    MissingDocument {
        /// The missing kind.
        kind: DocumentKind,
    },
    /// An input value is malformed.
    #[error("{field} {reason}")]
    Invalid {
        /// The input field.
        field: &'static str,
        /// What is wrong, as a phrase following the field name.
        reason: String,
    },
}

impl Rejection {
    /// A short id of the rule that refused the command.
    pub fn rule(&self) -> &'static str {
        match self {
            Rejection::AlreadyExists { .. }
            | Rejection::NotFound { .. }
            | Rejection::WrongState { .. } => "STATE",
            Rejection::WrongRole { .. } => "AUTH-ROLE",
            Rejection::NotAddressee { .. } => "AUTH-ADDRESSEE",
            Rejection::NotAParty { .. } => "AUTH-PARTY",
            Rejection::UnknownAgency { .. } | Rejection::WrongRecipientKind { .. } => "DIR",
            Rejection::MissingDocument { .. } => "S1-6",
            Rejection::Invalid { .. } => "INPUT",
        }
    }

    /// The offending input field, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Rejection::UnknownAgency { field, .. }
            | Rejection::WrongRecipientKind { field, .. }
            | Rejection::Invalid { field, .. } => Some(field),
            Rejection::MissingDocument { .. } => Some("documents"),
            Rejection::AlreadyExists { .. }
            | Rejection::NotFound { .. }
            | Rejection::WrongRole { .. }
            | Rejection::NotAddressee { .. }
            | Rejection::NotAParty { .. }
            | Rejection::WrongState { .. } => None,
        }
    }
}

/// Decides one command against the current referral (`None` before submission).
///
/// Checks run in this order: the actor is in the directory; its role (kind, party, addressee);
/// the referral's status; then the command's inputs. On success the returned referral has
/// `version` incremented and one history entry more, and there is one event per command whose
/// recipients never include the actor. `actor` is looked up in `directory` by code and the
/// directory's record is used, so a caller cannot grant itself another kind.
pub fn decide(
    current: Option<&Referral>,
    command: &ReferralCommand,
    actor: &Agency,
    directory: &Directory,
    policy: &ReferralPolicy,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let step = command.step();
    let actor = directory
        .get(&actor.code)
        .ok_or_else(|| Rejection::UnknownAgency {
            field: "actor",
            code: actor.code.clone(),
        })?;
    match (current, command) {
        (None, ReferralCommand::Submit(submission)) => {
            submit(submission, actor, directory, policy, now)
        }
        (Some(existing), ReferralCommand::Submit(_)) => {
            require_kind(step, actor, AgencyKind::Administrative)?;
            Err(Rejection::AlreadyExists {
                case_id: existing.id,
            })
        }
        (None, _) => Err(Rejection::NotFound { step }),
        (Some(referral), command) => act(referral, command, actor, directory, now),
    }
}

/// S1 Arts 5–6: the referral and its package.
fn submit(
    s: &Submission,
    actor: &Agency,
    directory: &Directory,
    policy: &ReferralPolicy,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    // S1 Art 3: referring is the duty of the administrative law-enforcement agency.
    require_kind(Step::Submit, actor, AgencyKind::Administrative)?;
    require_agency(directory, "police", &s.police, AgencyKind::Police)?;

    text(
        "suspected_offence",
        &s.suspected_offence,
        TEXT_MAX_CHARS,
        true,
    )?;
    text("summary", &s.summary, TEXT_MAX_CHARS, true)?;
    // Case officer and phone are recommended letter fields [U], so only their length is checked.
    text("case_officer", &s.case_officer, TITLE_MAX_CHARS, false)?;
    text(
        "case_officer_phone",
        s.case_officer_phone.expose(),
        NUMBER_MAX_CHARS,
        false,
    )?;
    documents(&s.documents, 0)?;
    parties(&s.parties)?;

    if s.approved_at < s.report_received_at {
        return Err(invalid(
            "approved_at",
            "must not be before report_received_at",
        ));
    }
    if s.approved_at > now {
        return Err(invalid("approved_at", "must not be in the future"));
    }

    // S1 Art 6: items 1–3 always; item 4 where items were tested; the penalty decision when a
    // penalty was imposed [V2 S24, configurable].
    let mut required = vec![
        DocumentKind::ReferralLetter,
        DocumentKind::InvestigationReport,
        DocumentKind::SeizedItemsList,
    ];
    if s.items_tested {
        required.push(DocumentKind::TestReport);
    }
    if s.penalty_imposed && policy.require_penalty_decision {
        required.push(DocumentKind::PenaltyDecision);
    }
    if let Some(&kind) = required
        .iter()
        .find(|&&kind| !s.documents.iter().any(|d| d.kind == kind))
    {
        return Err(Rejection::MissingDocument { kind });
    }

    let mut flags = Vec::new();
    // 310号令 第5条 (S1-5b): the head decides within 3 days of receiving the report. Compared as
    // 3 × 24 h here; precise legal-calendar counting (next-day start, holidays) arrives with the
    // deadline engine.
    let approval_delay = s.approved_at.minus_ts(s.report_received_at);
    if approval_delay > policy.approval_limit_days.saturating_mul(DAY_MS) {
        flags.push(Flag::ApprovalLate {
            days_after_report: div_ceil(approval_delay, DAY_MS),
        });
    }
    // 310号令 第5条 (S1-5c): send within 24 h of approval. A late referral is accepted and flagged.
    let send_delay = now.minus_ts(s.approved_at);
    if send_delay > policy.send_limit_hours.saturating_mul(HOUR_MS) {
        flags.push(Flag::SubmittedLate {
            hours_after_approval: div_ceil(send_delay, HOUR_MS),
        });
    }
    // Rule CC: copy the procuratorate of the sender's region with the referral.
    let procuratorate = directory
        .procuratorate_for(&actor.region)
        .map(|p| p.code.clone());
    if procuratorate.is_none() {
        flags.push(Flag::NoProcuratorateInRegion);
    }

    let referral = Referral {
        id: s.case_id,
        sender: actor.code.clone(),
        police: s.police.clone(),
        procuratorate,
        status: ReferralStatus::Submitted,
        suspected_offence: s.suspected_offence.clone(),
        summary: s.summary.clone(),
        report_received_at: s.report_received_at,
        approved_at: s.approved_at,
        submitted_at: now,
        items_tested: s.items_tested,
        penalty_imposed: s.penalty_imposed,
        documents: s.documents.clone(),
        parties: s.parties.clone(),
        case_officer: s.case_officer.clone(),
        case_officer_phone: s.case_officer_phone.clone(),
        flags,
        history: Vec::new(),
        version: 0,
    };
    let recipients = referral.with_procuratorate(vec![referral.police.clone()]);
    Ok(accept(
        referral,
        Step::Submit,
        actor,
        now,
        String::new(),
        ReferralEventKind::Submitted,
        recipients,
    ))
}

/// Every step after submission.
fn act(
    referral: &Referral,
    command: &ReferralCommand,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let step = command.step();

    // Role first: only the addressee of the step may take it.
    let expected = referral.addressee_for(step);
    if actor.code != *expected {
        return Err(if referral.is_party(&actor.code) {
            Rejection::NotAddressee {
                step,
                expected: expected.clone(),
            }
        } else {
            Rejection::NotAParty { step }
        });
    }

    // Then state.
    let allowed = match step {
        Step::Submit => None,
        Step::SignReceipt => Some(ReferralStatus::Submitted),
        Step::Supplement => Some(ReferralStatus::AwaitingSupplement),
        // S1 Art 7: the receiving organ signs the receipt, then forwards within 24 h, so a
        // forward needs the receipt first. The other police steps follow acceptance.
        Step::RequestSupplement
        | Step::Forward
        | Step::ReturnNotPoliceMatter
        | Step::File
        | Step::Decline => Some(ReferralStatus::Received),
    };
    if allowed != Some(referral.status) {
        return Err(Rejection::WrongState {
            step,
            status: referral.status,
        });
    }

    // Then inputs, and the transition.
    let mut next = referral.clone();
    let sender = referral.sender.clone();
    let police = referral.police.clone();
    let (note, kind, recipients) = match command {
        ReferralCommand::Submit(_) => {
            return Err(Rejection::WrongState {
                step,
                status: referral.status,
            });
        }
        ReferralCommand::SignReceipt => {
            // S1 Art 7: the police sign the receipt on receiving the referral.
            next.status = ReferralStatus::Received;
            (
                String::new(),
                ReferralEventKind::ReceiptSigned,
                referral.with_procuratorate(vec![sender]),
            )
        }
        ReferralCommand::RequestSupplement { missing, note } => {
            // S2 Art 180 (P180-2a): the police ask for missing materials and may not refuse the
            // case for their absence.
            if missing.is_empty() {
                return Err(invalid("missing", "must name at least one document kind"));
            }
            text("note", note, TEXT_MAX_CHARS, false)?;
            next.status = ReferralStatus::AwaitingSupplement;
            (
                note.clone(),
                ReferralEventKind::SupplementRequested {
                    missing: missing.clone(),
                    note: note.clone(),
                },
                referral.with_procuratorate(vec![sender]),
            )
        }
        ReferralCommand::Supplement {
            documents: added,
            note,
        } => {
            if added.is_empty() {
                return Err(invalid("documents", "must contain at least one document"));
            }
            documents(added, referral.documents.len())?;
            text("note", note, TEXT_MAX_CHARS, false)?;
            next.status = ReferralStatus::Received;
            next.documents.extend(added.iter().cloned());
            (
                note.clone(),
                ReferralEventKind::Supplemented {
                    documents: added.clone(),
                },
                referral.with_procuratorate(vec![police]),
            )
        }
        ReferralCommand::Forward { to, reason } => {
            // S1 Art 7: the organ that is not competent passes the case to the competent organ
            // within 24 h and tells the agency in writing; the new organ signs a receipt again.
            require_agency(directory, "to", to, AgencyKind::Police)?;
            if *to == referral.police {
                return Err(invalid(
                    "to",
                    "must be a police organ other than the one holding the referral",
                ));
            }
            text("reason", reason, TEXT_MAX_CHARS, true)?;
            next.status = ReferralStatus::Submitted;
            next.police = to.clone();
            (
                format!("forwarded to {to}: {reason}"),
                ReferralEventKind::Forwarded {
                    from: police,
                    to: to.clone(),
                    reason: reason.clone(),
                },
                referral.with_procuratorate(vec![sender, to.clone()]),
            )
        }
        ReferralCommand::ReturnNotPoliceMatter { reasons } => {
            // S2 Art 180 (P180-3): outside police remit → tell the agency, with reasons.
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            next.status = ReferralStatus::ReturnedNotPoliceMatter;
            (
                reasons.clone(),
                ReferralEventKind::ReturnedNotPoliceMatter {
                    reasons: reasons.clone(),
                },
                referral.with_procuratorate(vec![sender]),
            )
        }
        ReferralCommand::File { note } => {
            // 310号令 第8条 (S1 Art 8): the police decide to file and notify the agency in writing.
            text("note", note, TEXT_MAX_CHARS, false)?;
            next.status = ReferralStatus::Filed;
            (
                note.clone(),
                ReferralEventKind::Filed { note: note.clone() },
                referral.with_procuratorate(vec![sender]),
            )
        }
        ReferralCommand::Decline { reasons } => {
            // 310号令 第8条 (S1 Art 8): not filing is notified with reasons.
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            next.status = ReferralStatus::Declined;
            (
                reasons.clone(),
                ReferralEventKind::Declined {
                    reasons: reasons.clone(),
                },
                referral.with_procuratorate(vec![sender]),
            )
        }
    };
    Ok(accept(next, step, actor, now, note, kind, recipients))
}

/// Records an accepted step: version, history and the event.
fn accept(
    mut next: Referral,
    step: Step,
    actor: &Agency,
    now: Timestamp,
    note: String,
    kind: ReferralEventKind,
    recipients: Vec<AgencyCode>,
) -> Decision {
    next.version += 1;
    next.history.push(HistoryEntry {
        step,
        actor: actor.code.clone(),
        at: now,
        note,
    });
    // The actor already knows; each recipient is told once.
    let mut unique: Vec<AgencyCode> = Vec::with_capacity(recipients.len());
    for code in recipients {
        if code != actor.code && !unique.contains(&code) {
            unique.push(code);
        }
    }
    let event = ReferralEvent {
        case_id: next.id,
        kind,
        actor: actor.code.clone(),
        at: now,
        recipients: unique,
    };
    Decision {
        referral: next,
        events: vec![event],
    }
}

fn require_kind(step: Step, actor: &Agency, required: AgencyKind) -> Result<(), Rejection> {
    if actor.kind == required {
        Ok(())
    } else {
        Err(Rejection::WrongRole {
            step,
            required,
            actual: actor.kind,
        })
    }
}

fn require_agency(
    directory: &Directory,
    field: &'static str,
    code: &AgencyCode,
    expected: AgencyKind,
) -> Result<(), Rejection> {
    let agency = directory
        .get(code)
        .ok_or_else(|| Rejection::UnknownAgency {
            field,
            code: code.clone(),
        })?;
    if agency.kind == expected {
        Ok(())
    } else {
        Err(Rejection::WrongRecipientKind {
            field,
            code: code.clone(),
            expected,
            actual: agency.kind,
        })
    }
}

fn invalid(field: &'static str, reason: &str) -> Rejection {
    Rejection::Invalid {
        field,
        reason: reason.to_owned(),
    }
}

/// Checks a free-text field: not blank when required, at most `max` characters.
fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<(), Rejection> {
    if required && value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    let len = value.chars().count();
    if len > max {
        return Err(Rejection::Invalid {
            field,
            reason: format!("must be at most {max} characters, it has {len}"),
        });
    }
    Ok(())
}

/// Checks documents being added to `already` existing ones.
fn documents(added: &[Document], already: usize) -> Result<(), Rejection> {
    if already.saturating_add(added.len()) > ITEMS_MAX {
        return Err(Rejection::Invalid {
            field: "documents",
            reason: format!("must hold at most {ITEMS_MAX} documents in total"),
        });
    }
    for document in added {
        text("documents.title", &document.title, TITLE_MAX_CHARS, true)?;
    }
    Ok(())
}

fn parties(parties: &[Party]) -> Result<(), Rejection> {
    if parties.len() > ITEMS_MAX {
        return Err(Rejection::Invalid {
            field: "parties",
            reason: format!("must name at most {ITEMS_MAX} parties"),
        });
    }
    for party in parties {
        text("parties.name", party.name.expose(), TITLE_MAX_CHARS, true)?;
        if let Some(id) = &party.id_number {
            text("parties.id_number", id.expose(), NUMBER_MAX_CHARS, false)?;
        }
    }
    Ok(())
}

/// `value / unit` rounded up, for positive `unit`.
fn div_ceil(value: i64, unit: i64) -> i64 {
    let quotient = value / unit;
    if value % unit > 0 {
        quotient + 1
    } else {
        quotient
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on broken fixtures
mod tests;
