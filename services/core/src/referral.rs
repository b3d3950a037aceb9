//! Criminal referral (涉嫌犯罪案件移送): an administrative agency refers a suspected crime to the
//! police organ, copying the procuratorate, and the referral runs its whole chain: receipt,
//! materials, forwarding, return as outside police remit, the filing decision, hand-over of
//! seized items after filing, reconsideration of non-filing, the procuratorate's filing
//! supervision (立案监督), transfer or withdrawal after filing, and hand-back for administrative
//! handling (反向衔接).
//!
//! Sources: 国务院令第310号 (S1, rev. 2020) Arts 3–13; 公安机关办理刑事案件程序规定 (S2)
//! Arts 180–189; 人民检察院刑事诉讼规则 (S5) Arts 557–564. See docs/law.md §3.A.
//!
//! [`decide`] is a pure function: it checks one command against the current referral and returns
//! the next referral and the events to deliver, or a [`Rejection`]. Who may take which step in
//! which status is the authorization table's ([`crate::authz`]). Timers (obligations, warnings,
//! escalations) are the deadlines service's; the **check** rules whose start the referral knows
//! (S1-5b, S1-5c, S1-7, P180-2a, P180-3, S1-9a, S1-9c, P184, P189, S1-13) are judged here, and a
//! late step is accepted and flagged, never refused (docs/law.md §3 cross-cutting).
//!
//! Status flow:
//! ```text
//! submit → submitted ─sign_receipt→ received ─file→ filed ─hand_over_items (side step)
//!              ▲                        │  │ ─decline→ declined ─request_reconsideration→ reconsideration_requested
//!              └──────forward───────────┘  │                     ─suggest_supervision→ supervision_suggested
//!   received ─request_supplement→ awaiting_supplement ─supplement→ received
//!   received ─return_not_police_matter→ returned_not_police_matter
//!   declined | supervision_suggested ─request_reasons→ reasons_requested ─give_reasons→ reasons_given
//!   reasons_given ─tell_agency→ supervision_closed;  ─notify_filing→ filing_notified ─file→ filed
//!   filed ─transfer_case→ transferred_elsewhere;  ─withdraw_case→ withdrawn
//!   declined | supervision_closed | filed | withdrawn ─hand_back→ handed_back
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::authz::{self, On};
use crate::case::{
    self, Case, CaseEvent, EventName, HistoryEntry, Parties, Recorded, Rejection, StepName,
    TEXT_MAX_CHARS, TITLE_MAX_CHARS, TimelineEntry, invalid, text,
};
use crate::directory::{Agency, AgencyKind, Directory};
// The package's documents and the parties, re-exported where the referral names them.
pub use crate::document::{Document, DocumentKind, Party};
use crate::ids::{AgencyCode, CaseId};
use crate::law::Law;
use crate::notice::{Family, Role};
use crate::personal::PersonalData;
use crate::time::Timestamp;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// What the administrative agency sends when it refers a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The case, chosen by the gateway.
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

/// What an administrative agency records when its head decides **not** to refer a suspected
/// crime (不批准移送): the decision and its reasons go on the record (记录在案, S1 Art 5), and
/// the procuratorate of the agency's region sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonReferral {
    /// The record, chosen by the gateway.
    pub case_id: CaseId,
    /// 涉嫌罪名: the offence the investigators' report suspected.
    pub suspected_offence: String,
    /// Summary of the facts.
    pub summary: String,
    /// When the agency received the investigators' report proposing the referral (starts S1-5b).
    pub report_received_at: Timestamp,
    /// When the head decided not to refer.
    pub decided_at: Timestamp,
    /// Who decided: the head of the agency (正职负责人) or the deputy presiding over its work
    /// (主持工作的负责人), by name and title.
    pub approver: String,
    /// Why the head decided not to refer (不予批准的理由); required.
    pub reasons: String,
    /// The report, the approval form and any other materials; may be empty.
    pub documents: Vec<Document>,
    /// The parties the case is about.
    pub parties: Vec<Party>,
}

/// The head's decision not to refer, as the record keeps it (S1 Art 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonReferralDecision {
    /// Who decided, by name and title.
    pub approver: String,
    /// Why.
    pub reasons: String,
}

/// Where a referral stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    /// Sent (or forwarded); awaiting the police receipt (回执).
    Submitted,
    /// Receipt signed; the police are reviewing (审查).
    Received,
    /// The police asked for missing materials (S2 Art 180).
    AwaitingSupplement,
    /// The police filed the case (立案); seized items follow (S1 Art 12).
    Filed,
    /// The police declined to file (不予立案), with reasons; reconsideration, supervision or
    /// hand-back may follow.
    Declined,
    /// The police returned the case as outside their remit (S2 Art 180). Terminal.
    ReturnedNotPoliceMatter,
    /// The agency asked the police to reconsider non-filing (复议, S1 Art 9).
    ReconsiderationRequested,
    /// The agency suggested filing supervision to the procuratorate (S1 Art 9).
    SupervisionSuggested,
    /// The procuratorate asked the police for their reasons for not filing (S5 Art 560).
    ReasonsRequested,
    /// The police gave their reasons; the procuratorate weighs them (S5 Arts 561, 563).
    ReasonsGiven,
    /// The procuratorate found the reasons stand and told the agency (S5 Art 561). Hand-back may follow.
    SupervisionClosed,
    /// The procuratorate notified the police to file (通知立案, S5 Art 563).
    FilingNotified,
    /// After filing, the police transferred the case to another authority (S2 Art 184). Terminal.
    TransferredElsewhere,
    /// After filing, the police withdrew the case (撤案, S2 Art 189). Hand-back may follow.
    Withdrawn,
    /// The police handed the case back for administrative handling (反向衔接, S1 Art 13). Terminal.
    HandedBack,
    /// Never referred: the agency's head decided not to refer, and the decision is on the record
    /// for the procuratorate (不批准移送，记录在案, S1 Art 5). Terminal.
    NotReferred,
}

impl ReferralStatus {
    /// Every status, in declaration order.
    pub const ALL: [ReferralStatus; 16] = [
        ReferralStatus::Submitted,
        ReferralStatus::Received,
        ReferralStatus::AwaitingSupplement,
        ReferralStatus::Filed,
        ReferralStatus::Declined,
        ReferralStatus::ReturnedNotPoliceMatter,
        ReferralStatus::ReconsiderationRequested,
        ReferralStatus::SupervisionSuggested,
        ReferralStatus::ReasonsRequested,
        ReferralStatus::ReasonsGiven,
        ReferralStatus::SupervisionClosed,
        ReferralStatus::FilingNotified,
        ReferralStatus::TransferredElsewhere,
        ReferralStatus::Withdrawn,
        ReferralStatus::HandedBack,
        ReferralStatus::NotReferred,
    ];

    /// The snake_case name, as in serde and the authorization table.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferralStatus::Submitted => "submitted",
            ReferralStatus::Received => "received",
            ReferralStatus::AwaitingSupplement => "awaiting_supplement",
            ReferralStatus::Filed => "filed",
            ReferralStatus::Declined => "declined",
            ReferralStatus::ReturnedNotPoliceMatter => "returned_not_police_matter",
            ReferralStatus::ReconsiderationRequested => "reconsideration_requested",
            ReferralStatus::SupervisionSuggested => "supervision_suggested",
            ReferralStatus::ReasonsRequested => "reasons_requested",
            ReferralStatus::ReasonsGiven => "reasons_given",
            ReferralStatus::SupervisionClosed => "supervision_closed",
            ReferralStatus::FilingNotified => "filing_notified",
            ReferralStatus::TransferredElsewhere => "transferred_elsewhere",
            ReferralStatus::Withdrawn => "withdrawn",
            ReferralStatus::HandedBack => "handed_back",
            ReferralStatus::NotReferred => "not_referred",
        }
    }

    /// Whether no further step is allowed (the authorization table has no row for it).
    pub fn is_terminal(self) -> bool {
        !authz::TABLE
            .iter()
            .any(|p| p.family == Family::Referral && p.states.contains(&self.as_str()))
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
    Submit,
    RecordNonReferral,
    SignReceipt,
    RequestSupplement,
    Supplement,
    Forward,
    ReturnNotPoliceMatter,
    File,
    Decline,
    HandOverItems,
    RequestReconsideration,
    DecideReconsideration,
    SuggestSupervision,
    RequestReasons,
    GiveReasons,
    TellAgency,
    NotifyFiling,
    MarkReviewOverdue,
    DemandExplanation,
    Explain,
    IssueCorrectionNotice,
    ReportToSuperior,
    TransferCase,
    WithdrawCase,
    HandBack,
}

impl Step {
    /// Every step, in declaration order.
    pub const ALL: [Step; 25] = [
        Step::Submit,
        Step::RecordNonReferral,
        Step::SignReceipt,
        Step::RequestSupplement,
        Step::Supplement,
        Step::Forward,
        Step::ReturnNotPoliceMatter,
        Step::File,
        Step::Decline,
        Step::HandOverItems,
        Step::RequestReconsideration,
        Step::DecideReconsideration,
        Step::SuggestSupervision,
        Step::RequestReasons,
        Step::GiveReasons,
        Step::TellAgency,
        Step::NotifyFiling,
        Step::MarkReviewOverdue,
        Step::DemandExplanation,
        Step::Explain,
        Step::IssueCorrectionNotice,
        Step::ReportToSuperior,
        Step::TransferCase,
        Step::WithdrawCase,
        Step::HandBack,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Submit => "submit",
            Step::RecordNonReferral => "record_non_referral",
            Step::SignReceipt => "sign_receipt",
            Step::RequestSupplement => "request_supplement",
            Step::Supplement => "supplement",
            Step::Forward => "forward",
            Step::ReturnNotPoliceMatter => "return_not_police_matter",
            Step::File => "file",
            Step::Decline => "decline",
            Step::HandOverItems => "hand_over_items",
            Step::RequestReconsideration => "request_reconsideration",
            Step::DecideReconsideration => "decide_reconsideration",
            Step::SuggestSupervision => "suggest_supervision",
            Step::RequestReasons => "request_reasons",
            Step::GiveReasons => "give_reasons",
            Step::TellAgency => "tell_agency",
            Step::NotifyFiling => "notify_filing",
            Step::MarkReviewOverdue => "mark_review_overdue",
            Step::DemandExplanation => "demand_explanation",
            Step::Explain => "explain",
            Step::IssueCorrectionNotice => "issue_correction_notice",
            Step::ReportToSuperior => "report_to_superior",
            Step::TransferCase => "transfer_case",
            Step::WithdrawCase => "withdraw_case",
            Step::HandBack => "hand_back",
        }
    }
}

impl StepName for Step {
    const FAMILY: Family = Family::Referral;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of a reconsideration (复议决定, S1 Art 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconsiderationOutcome {
    /// The police reverse themselves and file the case.
    File,
    /// The police uphold non-filing.
    Uphold,
}

/// A request to move a referral on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralCommand {
    /// The agency refers the case (S1 Arts 5–6).
    Submit(Submission),
    /// The agency records its head's decision not to refer (S1 Art 5).
    RecordNonReferral(NonReferral),
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
        documents: Vec<Document>,
        note: String,
    },
    /// The police pass the case to the competent police organ and tell the agency (S1 Art 7).
    Forward { to: AgencyCode, reason: String },
    /// The police return the case as outside police remit, with reasons (S2 Art 180, P180-3).
    ReturnNotPoliceMatter { reasons: String },
    /// The police file the case (立案, S1 Art 8; on the procuratorate's notice, S5 Art 563).
    File { note: String },
    /// The police decline to file, with reasons (不予立案, S1 Art 8).
    Decline { reasons: String },
    /// The agency hands over the seized items and materials after filing (S1 Art 12).
    HandOverItems {
        documents: Vec<Document>,
        note: String,
    },
    /// The agency asks the police to reconsider non-filing (复议, S1 Art 9).
    RequestReconsideration { reasons: String },
    /// The police decide the reconsideration (S1 Art 9).
    DecideReconsideration {
        outcome: ReconsiderationOutcome,
        reasons: String,
    },
    /// The agency suggests filing supervision to the procuratorate (S1 Art 9).
    SuggestSupervision { reasons: String },
    /// The procuratorate asks the police why they did not file (S5 Art 560).
    RequestReasons { note: String },
    /// The police give their reasons in writing (S5 Art 560, R560).
    GiveReasons { reasons: String },
    /// The procuratorate finds the reasons stand and tells the agency (S5 Art 561, R561).
    TellAgency { note: String },
    /// The procuratorate finds the reasons do not stand and notifies the police to file
    /// (S5 Art 563, R563).
    NotifyFiling { reasons: String },
    /// The police's review period ran out without a filing decision (S1-8, with any extension
    /// granted): the deadlines service's miss of S1-8 records it on the referral, and from then
    /// on the procuratorate may demand an explanation (S5 Art 562). Never a caller's step: the
    /// referrals service takes it in reaction to `referral.deadline_missed`.
    MarkReviewOverdue {
        /// When the S1-8 obligation that ran out started (the receipt it counts from); a miss
        /// of an earlier police organ's review, before a forwarding, is stale and refused.
        started_at: Timestamp,
        /// When it was due.
        due_at: Timestamp,
    },
    /// The procuratorate demands an explanation of a missing filing decision (S5 Art 562, R562),
    /// once the review period has run out; before that it forwards the matter to the police.
    DemandExplanation { note: String },
    /// The police explain (S5 Art 562).
    Explain { explanation: String },
    /// The police have not filed 15 days after the notice to file (R563 ran out): the
    /// procuratorate issues a correction notice (纠正违法通知书, S5 Art 564).
    IssueCorrectionNotice { reasons: String },
    /// The police still do not correct: the procuratorate reports the matter to the next-level
    /// procuratorate (报上一级人民检察院, S5 Art 564), which becomes a party to the referral.
    ReportToSuperior { note: String },
    /// After filing, the police transfer the case to another authority and tell the agency
    /// (S2 Art 184, P184).
    TransferCase {
        /// The authority now handling it (name; an agency code where it has one).
        to_authority: String,
        reason: String,
        /// When the transfer was decided; the agency must be told within 3 days (P184).
        decided_at: Timestamp,
    },
    /// After filing, the police withdraw the case (撤案) and tell the agency (S2 Art 189, P189).
    WithdrawCase {
        reasons: String,
        /// When the withdrawal was decided; the agency must be told within 3 days (P189).
        decided_at: Timestamp,
    },
    /// The police hand the case back for administrative handling (反向衔接, S1 Art 13): no crime,
    /// but administrative liability. It arrives at `to` as a new case transfer.
    HandBack {
        /// The administrative agency that will handle it; the sender when `None`.
        to: Option<AgencyCode>,
        reasons: String,
        documents: Vec<Document>,
    },
}

impl ReferralCommand {
    /// Which step this command takes.
    pub fn step(&self) -> Step {
        match self {
            ReferralCommand::Submit(_) => Step::Submit,
            ReferralCommand::RecordNonReferral(_) => Step::RecordNonReferral,
            ReferralCommand::SignReceipt => Step::SignReceipt,
            ReferralCommand::RequestSupplement { .. } => Step::RequestSupplement,
            ReferralCommand::Supplement { .. } => Step::Supplement,
            ReferralCommand::Forward { .. } => Step::Forward,
            ReferralCommand::ReturnNotPoliceMatter { .. } => Step::ReturnNotPoliceMatter,
            ReferralCommand::File { .. } => Step::File,
            ReferralCommand::Decline { .. } => Step::Decline,
            ReferralCommand::HandOverItems { .. } => Step::HandOverItems,
            ReferralCommand::RequestReconsideration { .. } => Step::RequestReconsideration,
            ReferralCommand::DecideReconsideration { .. } => Step::DecideReconsideration,
            ReferralCommand::SuggestSupervision { .. } => Step::SuggestSupervision,
            ReferralCommand::RequestReasons { .. } => Step::RequestReasons,
            ReferralCommand::GiveReasons { .. } => Step::GiveReasons,
            ReferralCommand::TellAgency { .. } => Step::TellAgency,
            ReferralCommand::NotifyFiling { .. } => Step::NotifyFiling,
            ReferralCommand::MarkReviewOverdue { .. } => Step::MarkReviewOverdue,
            ReferralCommand::DemandExplanation { .. } => Step::DemandExplanation,
            ReferralCommand::Explain { .. } => Step::Explain,
            ReferralCommand::IssueCorrectionNotice { .. } => Step::IssueCorrectionNotice,
            ReferralCommand::ReportToSuperior { .. } => Step::ReportToSuperior,
            ReferralCommand::TransferCase { .. } => Step::TransferCase,
            ReferralCommand::WithdrawCase { .. } => Step::WithdrawCase,
            ReferralCommand::HandBack { .. } => Step::HandBack,
        }
    }
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
        format!("{} — {}", self.suspected_offence, self.status)
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
}

impl Default for ReferralPolicy {
    fn default() -> Self {
        ReferralPolicy {
            require_penalty_decision: true,
            send_limit_hours: 24,
        }
    }
}

/// What [`decide`] consults besides the referral: the directory, the deadline law for the
/// check rules, and the tunable policy.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub directory: &'a Directory,
    pub law: &'a Law,
    pub policy: &'a ReferralPolicy,
}

/// An accepted command's outcome.
pub type Decision = case::Decision<Referral, ReferralEventKind>;

/// A notice to the parties who must be told of a step.
pub type ReferralEvent = CaseEvent<ReferralEventKind>;

/// What happened to a referral. Names match the events of the rule table (deploy/rules.toml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ReferralEventKind {
    Submitted,
    NotReferredRecorded {
        approver: String,
        reasons: String,
    },
    ReceiptSigned,
    SupplementRequested {
        missing: Vec<DocumentKind>,
        note: String,
    },
    Supplemented {
        documents: Vec<Document>,
    },
    Forwarded {
        from: AgencyCode,
        to: AgencyCode,
        reason: String,
    },
    ReturnedNotPoliceMatter {
        reasons: String,
    },
    Filed {
        note: String,
    },
    Declined {
        reasons: String,
    },
    ItemsHandedOver {
        documents: Vec<Document>,
    },
    ReconsiderationRequested {
        reasons: String,
    },
    ReconsiderationDecided {
        outcome: ReconsiderationOutcome,
        reasons: String,
    },
    SupervisionSuggested {
        reasons: String,
    },
    ReasonsRequested,
    ReasonsGiven {
        reasons: String,
    },
    AgencyTold,
    FilingNotified {
        reasons: String,
    },
    ReviewOverdue {
        due_at: Timestamp,
    },
    ExplanationDemanded,
    ExplanationGiven {
        explanation: String,
    },
    CorrectionNoticeIssued {
        reasons: String,
    },
    ReportedToSuperior {
        superior: AgencyCode,
        note: String,
    },
    CaseTransferred {
        to_authority: String,
        reason: String,
    },
    CaseWithdrawn {
        reasons: String,
    },
    /// The case goes back to `to` for administrative handling; the transfers service opens a
    /// case transfer from it.
    HandedBack {
        to: AgencyCode,
        reasons: String,
        documents: Vec<Document>,
        suspected_offence: String,
        summary: String,
        parties: Vec<Party>,
    },
}

impl EventName for ReferralEventKind {
    fn name(&self) -> &'static str {
        match self {
            ReferralEventKind::Submitted => "submitted",
            ReferralEventKind::NotReferredRecorded { .. } => "not_referred_recorded",
            ReferralEventKind::ReceiptSigned => "receipt_signed",
            ReferralEventKind::SupplementRequested { .. } => "supplement_requested",
            ReferralEventKind::Supplemented { .. } => "supplemented",
            ReferralEventKind::Forwarded { .. } => "forwarded",
            ReferralEventKind::ReturnedNotPoliceMatter { .. } => "returned_not_police_matter",
            ReferralEventKind::Filed { .. } => "filed",
            ReferralEventKind::Declined { .. } => "declined",
            ReferralEventKind::ItemsHandedOver { .. } => "items_handed_over",
            ReferralEventKind::ReconsiderationRequested { .. } => "reconsideration_requested",
            ReferralEventKind::ReconsiderationDecided { .. } => "reconsideration_decided",
            ReferralEventKind::SupervisionSuggested { .. } => "supervision_suggested",
            ReferralEventKind::ReasonsRequested => "reasons_requested",
            ReferralEventKind::ReasonsGiven { .. } => "reasons_given",
            ReferralEventKind::AgencyTold => "agency_told",
            ReferralEventKind::FilingNotified { .. } => "filing_notified",
            ReferralEventKind::ReviewOverdue { .. } => "review_overdue",
            ReferralEventKind::ExplanationDemanded => "explanation_demanded",
            ReferralEventKind::ExplanationGiven { .. } => "explanation_given",
            ReferralEventKind::CorrectionNoticeIssued { .. } => "correction_notice_issued",
            ReferralEventKind::ReportedToSuperior { .. } => "reported_to_superior",
            ReferralEventKind::CaseTransferred { .. } => "case_transferred",
            ReferralEventKind::CaseWithdrawn { .. } => "case_withdrawn",
            ReferralEventKind::HandedBack { .. } => "handed_back",
        }
    }
}

impl ReferralEventKind {
    /// The snake_case name, e.g. `receipt_signed`.
    pub fn name(&self) -> &'static str {
        EventName::name(self)
    }
}

/// Decides one command against the current referral (`None` before submission).
///
/// Checks run in this order: the actor is in the directory; the authorization table (party and
/// role, kind, status); then the command's inputs. On success the returned referral has
/// `version` incremented and one history entry more; events never name the actor as a
/// recipient and only ever name parties.
pub fn decide(
    current: Option<&Referral>,
    command: &ReferralCommand,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let step = command.step();
    let actor = case::known_actor(ctx.directory, actor)?;
    let parties = current.map(Case::parties);
    let on = current.zip(parties.as_ref()).map(|(r, parties)| On {
        case_id: r.id,
        parties,
        status: r.status.as_str(),
    });
    authz::authorize(Family::Referral, step.as_str(), actor, on)?;
    match (current, command) {
        (None, ReferralCommand::Submit(submission)) => submit(submission, actor, ctx, now),
        (None, ReferralCommand::RecordNonReferral(record)) => {
            record_non_referral(record, actor, ctx, now)
        }
        (Some(referral), _) => act(referral, command, actor, ctx, now),
        // The table lets only submission open a referral.
        (None, _) => Err(Rejection::NotFound {
            step: step.as_str(),
        }),
    }
}

/// S1 Arts 5–6: the referral and its package.
fn submit(
    s: &Submission,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    case::require_agency(ctx.directory, "police", &s.police, AgencyKind::Police)?;
    text(
        "suspected_offence",
        &s.suspected_offence,
        TEXT_MAX_CHARS,
        true,
    )?;
    text("summary", &s.summary, TEXT_MAX_CHARS, true)?;
    // Case officer and phone are recommended letter fields [U], so neither is required; a phone
    // given must be one (issue 12, D8).
    text("case_officer", &s.case_officer, TITLE_MAX_CHARS, false)?;
    case::phone("case_officer_phone", s.case_officer_phone.expose(), false)?;
    case::documents(&s.documents, 0)?;
    case::parties(&s.parties)?;

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
    if s.penalty_imposed && ctx.policy.require_penalty_decision {
        required.push(DocumentKind::PenaltyDecision);
    }
    if let Some(kind) = case::first_missing(&s.documents, &required) {
        return Err(Rejection::MissingDocument { kind, rule: "S1-6" });
    }

    let mut flags = Vec::new();
    flags.extend(approval_late(s.report_received_at, s.approved_at, ctx));
    // 310号令 第5条 (S1-5c): send within 24 h of approval. A late referral is accepted and flagged.
    let send_delay = now.minus_ts(s.approved_at);
    if send_delay > ctx.policy.send_limit_hours.saturating_mul(HOUR_MS) {
        flags.push(Flag::SubmittedLate {
            hours_after_approval: case::div_ceil(send_delay, HOUR_MS),
        });
    }
    // Rule CC: copy the procuratorate of the sender's region with the referral.
    let procuratorate = copied_procuratorate(actor, ctx, &mut flags);

    let referral = Referral {
        id: s.case_id,
        sender: actor.code.clone(),
        police: Some(s.police.clone()),
        procuratorate,
        former_police: Vec::new(),
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
        items_handed_over_at: None,
        reconsidered: false,
        review_overdue_at: None,
        explanation_demanded_at: None,
        correction_notice_at: None,
        reported_to: None,
        non_referral: None,
        handed_to: None,
        flags,
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(referral, Step::Submit, actor, now);
    out.documents = s.documents.clone();
    out.event(ReferralEventKind::Submitted);
    Ok(out.finish())
}

/// 310号令 第5条 (S1-5b): the head decides within 3 days of receiving the report, counted on the
/// legal calendar; a later decision is flagged, never refused.
fn approval_late(
    report_received_at: Timestamp,
    decided_at: Timestamp,
    ctx: &Context<'_>,
) -> Option<Flag> {
    ctx.law
        .late("S1-5b", report_received_at, decided_at)
        .map(|_| Flag::ApprovalLate {
            days_after_report: case::div_ceil(decided_at.minus_ts(report_received_at), DAY_MS),
        })
}

/// The procuratorate of the sender's region (rule CC), or a flag that the directory has none.
fn copied_procuratorate(
    actor: &Agency,
    ctx: &Context<'_>,
    flags: &mut Vec<Flag>,
) -> Option<AgencyCode> {
    let procuratorate = ctx
        .directory
        .procuratorate_for(&actor.region)
        .map(|p| p.code.clone());
    if procuratorate.is_none() {
        flags.push(Flag::NoProcuratorateInRegion);
    }
    procuratorate
}

/// S1 Art 5: the head's decision not to refer goes on the record with its reasons (记录在案),
/// where the procuratorate of the agency's region sees it. No police organ is involved.
fn record_non_referral(
    r: &NonReferral,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    text(
        "suspected_offence",
        &r.suspected_offence,
        TEXT_MAX_CHARS,
        true,
    )?;
    text("summary", &r.summary, TEXT_MAX_CHARS, true)?;
    text("approver", &r.approver, TITLE_MAX_CHARS, true)?;
    text("reasons", &r.reasons, TEXT_MAX_CHARS, true)?;
    case::documents(&r.documents, 0)?;
    case::parties(&r.parties)?;
    if r.decided_at < r.report_received_at {
        return Err(invalid(
            "decided_at",
            "must not be before report_received_at",
        ));
    }
    if r.decided_at > now {
        return Err(invalid("decided_at", "must not be in the future"));
    }
    let mut flags = Vec::new();
    flags.extend(approval_late(r.report_received_at, r.decided_at, ctx));
    let procuratorate = copied_procuratorate(actor, ctx, &mut flags);
    let referral = Referral {
        id: r.case_id,
        sender: actor.code.clone(),
        police: None,
        procuratorate,
        former_police: Vec::new(),
        status: ReferralStatus::NotReferred,
        suspected_offence: r.suspected_offence.clone(),
        summary: r.summary.clone(),
        report_received_at: r.report_received_at,
        approved_at: r.decided_at,
        submitted_at: now,
        items_tested: false,
        penalty_imposed: false,
        documents: r.documents.clone(),
        parties: r.parties.clone(),
        case_officer: String::new(),
        case_officer_phone: PersonalData::new(String::new()),
        items_handed_over_at: None,
        reconsidered: false,
        review_overdue_at: None,
        explanation_demanded_at: None,
        correction_notice_at: None,
        reported_to: None,
        non_referral: Some(NonReferralDecision {
            approver: r.approver.clone(),
            reasons: r.reasons.clone(),
        }),
        handed_to: None,
        flags,
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(referral, Step::RecordNonReferral, actor, now);
    out.note = r.reasons.clone();
    out.documents = r.documents.clone();
    out.event(ReferralEventKind::NotReferredRecorded {
        approver: r.approver.clone(),
        reasons: r.reasons.clone(),
    });
    Ok(out.finish())
}

/// Every step after submission; the authorization table has already checked party and status.
fn act(
    referral: &Referral,
    command: &ReferralCommand,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let step = command.step();
    let mut out = Outcome::new(referral.clone(), step, actor, now);

    match command {
        // Only open a record; the table refused them on an existing one.
        ReferralCommand::Submit(_) | ReferralCommand::RecordNonReferral(_) => {
            return Err(Rejection::AlreadyExists {
                case_id: referral.id,
            });
        }
        ReferralCommand::SignReceipt => {
            // S1 Art 7: the police sign the receipt on receiving the referral.
            out.case.status = ReferralStatus::Received;
            out.event(ReferralEventKind::ReceiptSigned);
        }
        ReferralCommand::RequestSupplement { missing, note } => {
            // S2 Art 180 (P180-2a): the police ask for missing materials within 24 h of
            // acceptance and may not refuse the case for their absence.
            if missing.is_empty() && note.trim().is_empty() {
                return Err(invalid(
                    "missing",
                    "must name at least one document kind, or explain in the note what is needed",
                ));
            }
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.status = ReferralStatus::AwaitingSupplement;
            out.note = note.clone();
            check(
                &mut out,
                "P180-2a",
                referral.last_at(Step::SignReceipt),
                ctx,
            );
            out.event(ReferralEventKind::SupplementRequested {
                missing: missing.clone(),
                note: note.clone(),
            });
        }
        ReferralCommand::Supplement {
            documents: added,
            note,
        } => {
            if added.is_empty() {
                return Err(invalid("documents", "must contain at least one document"));
            }
            case::documents(added, referral.documents.len())?;
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.status = ReferralStatus::Received;
            out.case.documents.extend(added.iter().cloned());
            out.note = note.clone();
            out.documents = added.clone();
            out.event(ReferralEventKind::Supplemented {
                documents: added.clone(),
            });
        }
        ReferralCommand::Forward { to, reason } => {
            // S1 Art 7: the organ that is not competent passes the case to the competent organ
            // within 24 h and tells the agency in writing; the new organ signs a receipt again.
            case::require_agency(ctx.directory, "to", to, AgencyKind::Police)?;
            if referral.police.as_ref() == Some(to) {
                return Err(invalid(
                    "to",
                    "must be a police organ other than the one holding the referral",
                ));
            }
            text("reason", reason, TEXT_MAX_CHARS, true)?;
            out.case.status = ReferralStatus::Submitted;
            if let Some(former) = &referral.police
                && !out.case.former_police.contains(former)
            {
                out.case.former_police.push(former.clone());
            }
            out.case.police = Some(to.clone());
            // The competent organ's own review starts with its receipt.
            out.case.review_overdue_at = None;
            out.note = format!("forwarded to {to}: {reason}");
            check(&mut out, "S1-7", referral.last_at(Step::SignReceipt), ctx);
            out.event(ReferralEventKind::Forwarded {
                from: actor.code.clone(),
                to: to.clone(),
                reason: reason.clone(),
            });
        }
        ReferralCommand::ReturnNotPoliceMatter { reasons } => {
            // S2 Art 180 (P180-3): outside police remit → tell the agency, with reasons.
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.status = ReferralStatus::ReturnedNotPoliceMatter;
            out.note = reasons.clone();
            check(&mut out, "P180-3", referral.last_at(Step::SignReceipt), ctx);
            out.event(ReferralEventKind::ReturnedNotPoliceMatter {
                reasons: reasons.clone(),
            });
        }
        ReferralCommand::File { note } => {
            // 310号令 第8条 (S1 Art 8): the police decide to file and notify the agency in
            // writing; on the procuratorate's notice they must file (S5 Art 563).
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.status = ReferralStatus::Filed;
            out.note = note.clone();
            out.event(ReferralEventKind::Filed { note: note.clone() });
        }
        ReferralCommand::Decline { reasons } => {
            // 310号令 第8条 (S1 Art 8): not filing is notified with reasons.
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.status = ReferralStatus::Declined;
            out.note = reasons.clone();
            out.event(ReferralEventKind::Declined {
                reasons: reasons.clone(),
            });
        }
        ReferralCommand::HandOverItems { documents, note } => {
            // 310号令 第12条 (S1-12): after filing, the seized items and materials go to the
            // police within 3 days of the filing notice.
            if let Some(at) = referral.items_handed_over_at {
                return Err(Rejection::Forbidden {
                    rule: "S1-12",
                    field: None,
                    reason: format!("the seized items were already handed over at {at}"),
                });
            }
            // The hand-over list itself is what S1 Art 12 asks for, not just any document
            // (issue 12, D8: a hand-over with other papers only was accepted).
            if !documents
                .iter()
                .any(|d| d.kind == DocumentKind::HandoverList)
            {
                return Err(Rejection::MissingDocument {
                    kind: DocumentKind::HandoverList,
                    rule: "S1-12",
                });
            }
            case::documents(documents, referral.documents.len())?;
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.items_handed_over_at = Some(now);
            out.case.documents.extend(documents.iter().cloned());
            out.note = note.clone();
            out.documents = documents.clone();
            out.event(ReferralEventKind::ItemsHandedOver {
                documents: documents.clone(),
            });
        }
        ReferralCommand::RequestReconsideration { reasons } => {
            // 310号令 第9条 (S1-9a): within 3 days of the non-filing notice; once.
            if referral.reconsidered {
                return Err(Rejection::Forbidden {
                    rule: "S1-9a",
                    field: None,
                    reason: "the police already decided a reconsideration of this referral; \
                             suggest procuratorate supervision instead"
                        .into(),
                });
            }
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.status = ReferralStatus::ReconsiderationRequested;
            out.note = reasons.clone();
            check(&mut out, "S1-9a", referral.last_at(Step::Decline), ctx);
            out.event(ReferralEventKind::ReconsiderationRequested {
                reasons: reasons.clone(),
            });
        }
        ReferralCommand::DecideReconsideration { outcome, reasons } => {
            // 310号令 第9条 (S1-9b): the police decide within 3 days and tell the agency.
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.reconsidered = true;
            out.case.status = match outcome {
                ReconsiderationOutcome::File => ReferralStatus::Filed,
                ReconsiderationOutcome::Uphold => ReferralStatus::Declined,
            };
            out.note = reasons.clone();
            out.event(ReferralEventKind::ReconsiderationDecided {
                outcome: *outcome,
                reasons: reasons.clone(),
            });
            if *outcome == ReconsiderationOutcome::File {
                // Filing on reconsideration is a filing: S1-12 starts from it.
                out.event(ReferralEventKind::Filed {
                    note: reasons.clone(),
                });
            }
        }
        ReferralCommand::SuggestSupervision { reasons } => {
            // 310号令 第9条 (S1-9c): to the procuratorate, within 3 days of the non-filing notice
            // or of the reconsideration decision.
            if referral.procuratorate.is_none() {
                return Err(Rejection::Forbidden {
                    rule: "CC",
                    field: None,
                    reason: "no procuratorate was copied on this referral (none in the sender's \
                             region in the directory), so none can supervise it"
                        .into(),
                });
            }
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.status = ReferralStatus::SupervisionSuggested;
            out.note = reasons.clone();
            let start = if referral.reconsidered {
                referral.last_at(Step::DecideReconsideration)
            } else {
                referral.last_at(Step::Decline)
            };
            check(&mut out, "S1-9c", start, ctx);
            out.event(ReferralEventKind::SupervisionSuggested {
                reasons: reasons.clone(),
            });
        }
        ReferralCommand::RequestReasons { note } => {
            // S5 Art 560: the procuratorate asks the police to explain non-filing in writing.
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.status = ReferralStatus::ReasonsRequested;
            out.note = note.clone();
            out.event(ReferralEventKind::ReasonsRequested);
        }
        ReferralCommand::GiveReasons { reasons } => {
            // S5 Art 560 (R560): the police answer in writing within 7 days.
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.status = ReferralStatus::ReasonsGiven;
            out.note = reasons.clone();
            out.event(ReferralEventKind::ReasonsGiven {
                reasons: reasons.clone(),
            });
        }
        ReferralCommand::TellAgency { note } => {
            // S5 Art 561 (R561): the reasons stand; the procuratorate tells the agency.
            text("note", note, TEXT_MAX_CHARS, true)?;
            out.case.status = ReferralStatus::SupervisionClosed;
            out.note = note.clone();
            out.event(ReferralEventKind::AgencyTold);
        }
        ReferralCommand::NotifyFiling { reasons } => {
            // S5 Art 563 (R563): the reasons do not stand; the police must file within 15 days.
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.status = ReferralStatus::FilingNotified;
            out.note = reasons.clone();
            out.event(ReferralEventKind::FilingNotified {
                reasons: reasons.clone(),
            });
        }
        ReferralCommand::MarkReviewOverdue { started_at, due_at } => {
            // S1 Art 8 (S1-8): the review ran out. A miss of a review that started before the
            // current organ's receipt (an organ that forwarded the referral since) is stale.
            let receipt = referral.last_at(Step::SignReceipt);
            if receipt.is_none_or(|receipt| *started_at < receipt) {
                return Err(Rejection::Forbidden {
                    rule: "S1-8",
                    field: None,
                    reason: "the review period that ran out is not the current police organ's"
                        .into(),
                });
            }
            if referral.review_overdue_at.is_some() {
                return Err(Rejection::Forbidden {
                    rule: "S1-8",
                    field: None,
                    reason: "the review period is already recorded as run out".into(),
                });
            }
            out.case.review_overdue_at = Some(*due_at);
            out.note = format!("the review period (S1-8) ran out at {due_at}");
            out.event(ReferralEventKind::ReviewOverdue { due_at: *due_at });
        }
        ReferralCommand::DemandExplanation { note } => {
            // S5 Art 562 (R562): the police missed the filing decision; explain within 7 days.
            // Only once the review period has run out: before that the procuratorate forwards
            // the matter to the police. (The note is checked first, like every input.)
            text("note", note, TEXT_MAX_CHARS, false)?;
            if referral.review_overdue_at.is_none() {
                return Err(Rejection::Forbidden {
                    rule: "R562",
                    field: None,
                    reason: "the police's review period (S1-8, with any extension) has not run \
                             out: until it does, the procuratorate forwards the matter to the \
                             police rather than demand an explanation (S5 Art 562); \
                             ListCaseDeadlines shows when it ends"
                        .into(),
                });
            }
            if let Some(at) = referral.explanation_demanded_at {
                return Err(Rejection::Forbidden {
                    rule: "R562",
                    field: None,
                    reason: format!("an explanation demanded at {at} is still owed"),
                });
            }
            out.case.explanation_demanded_at = Some(now);
            out.note = note.clone();
            out.event(ReferralEventKind::ExplanationDemanded);
        }
        ReferralCommand::Explain { explanation } => {
            if referral.explanation_demanded_at.is_none() {
                return Err(Rejection::Forbidden {
                    rule: "R562",
                    field: None,
                    reason: "the procuratorate has not demanded an explanation".into(),
                });
            }
            text("explanation", explanation, TEXT_MAX_CHARS, true)?;
            out.case.explanation_demanded_at = None;
            out.note = explanation.clone();
            out.event(ReferralEventKind::ExplanationGiven {
                explanation: explanation.clone(),
            });
        }
        ReferralCommand::IssueCorrectionNotice { reasons } => {
            // S5 Art 564: the police have not filed 15 days after the notice to file (R563).
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            if let Some(at) = referral.correction_notice_at {
                return Err(Rejection::Forbidden {
                    rule: "R564",
                    field: None,
                    reason: format!("a correction notice was already issued at {at}"),
                });
            }
            let notified = referral.last_at(Step::NotifyFiling);
            let due = notified.and_then(|at| ctx.law.due("R563", at));
            match due {
                Some(due) if now > due => {}
                Some(due) => {
                    return Err(Rejection::Forbidden {
                        rule: "R564",
                        field: None,
                        reason: format!(
                            "the police have until {due} to file on the notice (R563); a \
                             correction notice may be issued only after that (S5 Art 564)"
                        ),
                    });
                }
                None => {
                    return Err(Rejection::Forbidden {
                        rule: "R564",
                        field: None,
                        reason: "the period to file on the notice (R563) cannot be counted".into(),
                    });
                }
            }
            out.case.correction_notice_at = Some(now);
            out.note = reasons.clone();
            out.event(ReferralEventKind::CorrectionNoticeIssued {
                reasons: reasons.clone(),
            });
        }
        ReferralCommand::ReportToSuperior { note } => {
            // S5 Art 564: the police still do not correct; the next-level procuratorate takes
            // the matter up with the police at its level.
            text("note", note, TEXT_MAX_CHARS, false)?;
            if referral.correction_notice_at.is_none() {
                return Err(Rejection::Forbidden {
                    rule: "R564",
                    field: None,
                    reason: "issue the correction notice (纠正违法通知书) first (S5 Art 564)"
                        .into(),
                });
            }
            if let Some(superior) = &referral.reported_to {
                return Err(Rejection::Forbidden {
                    rule: "R564",
                    field: None,
                    reason: format!("the matter was already reported to {superior}"),
                });
            }
            let Some(superior) = ctx
                .directory
                .superiors_of(&actor.code)
                .into_iter()
                .find(|a| a.kind == AgencyKind::Procuratorate)
            else {
                return Err(Rejection::Forbidden {
                    rule: "R564",
                    field: None,
                    reason: "the agency directory names no next-level procuratorate above this \
                             one"
                    .into(),
                });
            };
            out.case.reported_to = Some(superior.code.clone());
            out.note = note.clone();
            out.event(ReferralEventKind::ReportedToSuperior {
                superior: superior.code.clone(),
                note: note.clone(),
            });
        }
        ReferralCommand::TransferCase {
            to_authority,
            reason,
            decided_at,
        } => {
            // S2 Art 184 (P184): tell the agency within 3 days after the transfer.
            text("to_authority", to_authority, TITLE_MAX_CHARS, true)?;
            text("reason", reason, TEXT_MAX_CHARS, true)?;
            decided_not_after(*decided_at, now)?;
            out.case.status = ReferralStatus::TransferredElsewhere;
            out.case.handed_to = Some(to_authority.clone());
            out.note = format!("transferred to {to_authority}: {reason}");
            check(&mut out, "P184", Some(*decided_at), ctx);
            out.event(ReferralEventKind::CaseTransferred {
                to_authority: to_authority.clone(),
                reason: reason.clone(),
            });
        }
        ReferralCommand::WithdrawCase {
            reasons,
            decided_at,
        } => {
            // S2 Art 189 (P189): tell the agency within 3 days of the decision.
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            decided_not_after(*decided_at, now)?;
            out.case.status = ReferralStatus::Withdrawn;
            out.note = reasons.clone();
            check(&mut out, "P189", Some(*decided_at), ctx);
            out.event(ReferralEventKind::CaseWithdrawn {
                reasons: reasons.clone(),
            });
        }
        ReferralCommand::HandBack {
            to,
            reasons,
            documents,
        } => {
            // 310号令 第13条 (S1-13): no crime but administrative liability: hand the case to the
            // administrative agency promptly, with the materials.
            let to = to.clone().unwrap_or_else(|| referral.sender.clone());
            case::require_agency(ctx.directory, "to", &to, AgencyKind::Administrative)?;
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            case::documents(documents, referral.documents.len())?;
            out.case.status = ReferralStatus::HandedBack;
            out.case.handed_to = Some(to.to_string());
            out.case.documents.extend(documents.iter().cloned());
            out.note = reasons.clone();
            out.documents = documents.clone();
            let start = [Step::Decline, Step::TellAgency, Step::WithdrawCase]
                .iter()
                .filter_map(|s| referral.last_at(*s))
                .max();
            check(&mut out, "S1-13", start, ctx);
            out.event(ReferralEventKind::HandedBack {
                to,
                reasons: reasons.clone(),
                documents: referral
                    .documents
                    .iter()
                    .chain(documents)
                    .cloned()
                    .collect(),
                suspected_offence: referral.suspected_offence.clone(),
                summary: referral.summary.clone(),
                parties: referral.parties.clone(),
            });
        }
    }
    Ok(out.finish())
}

fn decided_not_after(decided_at: Timestamp, now: Timestamp) -> Result<(), Rejection> {
    if decided_at > now {
        Err(invalid("decided_at", "must not be in the future"))
    } else {
        Ok(())
    }
}

type Outcome = case::Outcome<Referral, Step, ReferralEventKind>;

/// Flags the step late when the check rule's limit from `start` has passed.
fn check(out: &mut Outcome, rule: &str, start: Option<Timestamp>, ctx: &Context<'_>) {
    let now = out.now();
    if let Some(due_at) = start.and_then(|start| ctx.law.late(rule, start, now)) {
        let step = out.step();
        out.case.flags.push(Flag::StepLate {
            step,
            rule: rule.to_owned(),
            due_at,
            at: now,
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on broken fixtures
mod tests;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod chain_tests;
