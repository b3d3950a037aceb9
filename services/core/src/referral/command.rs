//! What the parties send: the opening inputs ([`Submission`], [`NonReferral`]) and every
//! [`ReferralCommand`] that moves a referral on.

use serde::{Deserialize, Serialize};

use super::{Document, DocumentKind, Party, Step};
use crate::ids::{AgencyCode, CaseId};
use crate::personal::PersonalData;
use crate::time::Timestamp;

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
