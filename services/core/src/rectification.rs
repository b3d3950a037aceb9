//! Rectification requests (整改通知 / 督促整改): a body that supervises administrative enforcement
//! asks an administrative agency to rectify the problems it found, and the agency owes a
//! rectification report (整改报告).
//!
//! Who may ask: the coordination office (司法局, 行政执法监督: "月提示+季通报" reports problems and
//! presses the agency to rectify them), a procuratorate (it supervises referrals), or the agency's
//! superior in the directory ([`Agency::superior`]). An administrative agency may ask only an
//! agency it is the superior of; a police organ, an expert body, or any other agency may not. The
//! check depends on the addressee, so it is made before the authorization table and refused on the
//! field `to` (rule `RECT-WHO`).
//!
//! The request names its findings, its basis (a report period such as `2026-Q3` and/or the cases
//! the problems were found in), documents, and optionally the date the notice states (整改期限).
//! The gateway checks that every case named is one the requester may read; here the ids are only
//! recorded.
//!
//! The report is owed under rule `RECT-REPORT`. No source we have read fixes its period, so the
//! rule is marked unverified and its 30 days are a setting (deploy/rules.toml); a date the request
//! states is shown to the agency but the deadlines service counts the rule's period. A missed
//! report is escalated by the deadlines service to the agency's superior (a party here, in the role
//! `coordination`), or without one to the coordination office of its region; the rectification
//! service then records the miss ([`RectificationCommand::MarkOverdue`], a reaction), which every
//! party hears of, the requester included. A report after the miss is accepted and marked late,
//! never refused. The requester accepts the report (closes the request) or returns it with reasons
//! (复查不合格), which opens the obligation again.
//!
//! Sources: the local notices on 行政执法监督 (督促整改; 复查整改情况 after 责令整改). See docs/law.md
//! §3.J.
//!
//! Status flow:
//! ```text
//! request → requested ─report→ reported ─accept→ accepted
//!                                reported ─return→ returned ─report→ reported …
//! requested / returned ─mark_overdue (reaction)→ same status, overdue
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::authz::{self, On};
use crate::case::{
    self, Case, CaseEvent, EventName, HistoryEntry, ITEMS_MAX, Parties, Recorded, Rejection,
    StepName, TEXT_MAX_CHARS, TimelineEntry, invalid, text,
};
use crate::directory::{Agency, AgencyKind, Directory};
use crate::document::Document;
use crate::ids::{AgencyCode, CaseId};
use crate::notice::{Family, Role};
use crate::time::Timestamp;

/// The deadline rule of the report (deploy/rules.toml).
pub const REPORT_RULE: &str = "RECT-REPORT";

/// What the problems were found in: a supervision report's period and/or cases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basis {
    /// The report period the problems were found in (月提示 / 季通报): `2026`, `2026-Q3` or
    /// `2026-07`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// The cases the problems were found in (any family), which the requester may read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<CaseId>,
}

/// The request as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requesting {
    pub case_id: CaseId,
    /// The administrative agency asked to rectify.
    pub to: AgencyCode,
    /// The problems found (发现的问题), to be rectified.
    pub findings: String,
    pub basis: Basis,
    /// The notice and material sent with it.
    pub documents: Vec<Document>,
    /// The date the notice states for the report (整改期限), if it states one. Shown to the
    /// agency; the obligation itself runs for `RECT-REPORT`'s period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_by: Option<Timestamp>,
}

/// The agency's rectification report (整改报告).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporting {
    /// What the agency did about the findings (整改措施).
    pub measures: String,
    /// The material showing it.
    pub documents: Vec<Document>,
}

/// One report filed, and what the requester made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiledReport {
    pub measures: String,
    pub documents: Vec<Document>,
    pub at: Timestamp,
    /// Filed after `RECT-REPORT` was missed.
    pub late: bool,
    /// The requester's reasons, when it returned the report (复查不合格).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned: Option<String>,
}

/// Where a rectification request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RectificationStatus {
    /// Asked; the agency owes a report.
    Requested,
    /// The agency reported; the requester accepts or returns it.
    Reported,
    /// The requester returned the report with reasons; the agency owes a new one.
    Returned,
    /// The requester accepted the report. Terminal.
    Accepted,
}

impl RectificationStatus {
    /// Every status, in declaration order.
    pub const ALL: [RectificationStatus; 4] = [
        RectificationStatus::Requested,
        RectificationStatus::Reported,
        RectificationStatus::Returned,
        RectificationStatus::Accepted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RectificationStatus::Requested => "requested",
            RectificationStatus::Reported => "reported",
            RectificationStatus::Returned => "returned",
            RectificationStatus::Accepted => "accepted",
        }
    }
}

impl fmt::Display for RectificationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps of a rectification request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Request,
    Report,
    Accept,
    Return,
    MarkOverdue,
}

impl Step {
    /// Every step, in declaration order.
    pub const ALL: [Step; 5] = [
        Step::Request,
        Step::Report,
        Step::Accept,
        Step::Return,
        Step::MarkOverdue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Request => "request",
            Step::Report => "report",
            Step::Accept => "accept",
            Step::Return => "return",
            Step::MarkOverdue => "mark_overdue",
        }
    }
}

impl StepName for Step {
    const FAMILY: Family = Family::Rectification;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to move a rectification request on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RectificationCommand {
    /// The requester asks the agency to rectify (整改通知).
    Request(Requesting),
    /// The agency reports what it did (整改报告).
    Report(Reporting),
    /// The requester accepts the report, closing the request (复查合格).
    Accept { note: String },
    /// The requester returns the report with reasons (复查不合格); a new report is owed.
    Return { reasons: String },
    /// The report's deadline (`RECT-REPORT`) was missed: a reaction to the deadlines service's
    /// notice, taken in the agency's name; never a caller's step.
    MarkOverdue,
}

impl RectificationCommand {
    pub fn step(&self) -> Step {
        match self {
            RectificationCommand::Request(_) => Step::Request,
            RectificationCommand::Report(_) => Step::Report,
            RectificationCommand::Accept { .. } => Step::Accept,
            RectificationCommand::Return { .. } => Step::Return,
            RectificationCommand::MarkOverdue => Step::MarkOverdue,
        }
    }
}

/// A rectification request as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rectification {
    pub id: CaseId,
    /// The agency that asked: a coordination office, a procuratorate, or the agency's superior.
    pub requester: AgencyCode,
    /// The administrative agency asked to rectify.
    pub agency: AgencyCode,
    /// The agency's superior in the directory when the request was made, if it has one: it
    /// hears of every step and gets the escalation of a missed report.
    pub superior: Option<AgencyCode>,
    pub findings: String,
    pub basis: Basis,
    pub documents: Vec<Document>,
    pub due_by: Option<Timestamp>,
    pub status: RectificationStatus,
    pub requested_at: Timestamp,
    /// The report now owed was missed (`RECT-REPORT`); cleared by the next report.
    pub overdue: bool,
    /// Every report filed, oldest first.
    pub reports: Vec<FiledReport>,
    pub history: Vec<HistoryEntry<Step>>,
    pub version: u64,
}

impl Case for Rectification {
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
        let mut roles = vec![
            (Role::Sender, self.requester.clone()),
            (Role::Recipient, self.agency.clone()),
        ];
        if let Some(superior) = &self.superior {
            roles.push((Role::Coordination, superior.clone()));
        }
        Parties::of(roles)
    }

    fn timeline(&self) -> Vec<TimelineEntry> {
        self.history.iter().map(HistoryEntry::to_timeline).collect()
    }

    fn headline(&self) -> String {
        "整改通知".to_owned()
    }

    fn opened(&self) -> Option<(&AgencyCode, Timestamp)> {
        crate::case::opened_by(&self.history)
    }

    fn summary(&self) -> &str {
        &self.findings
    }
}

impl Recorded<Step> for Rectification {
    fn history_mut(&mut self) -> &mut Vec<HistoryEntry<Step>> {
        &mut self.history
    }

    fn version_mut(&mut self) -> &mut u64 {
        &mut self.version
    }

    fn notified(&self) -> Vec<AgencyCode> {
        self.parties().all()
    }
}

/// What happened to a rectification request. Names match the events of the rule table
/// (`rectification.requested`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RectificationEventKind {
    Requested,
    /// A report was filed; `late` when after the deadline was missed.
    Reported {
        late: bool,
    },
    Accepted,
    /// The report was returned: a new one is owed (RECT-REPORT opens again).
    Returned,
    /// The report now owed is overdue.
    ReportOverdue,
}

impl EventName for RectificationEventKind {
    fn name(&self) -> &'static str {
        match self {
            RectificationEventKind::Requested => "requested",
            RectificationEventKind::Reported { .. } => "reported",
            RectificationEventKind::Accepted => "accepted",
            RectificationEventKind::Returned => "returned",
            RectificationEventKind::ReportOverdue => "report_overdue",
        }
    }
}

/// An accepted command's outcome.
pub type Decision = case::Decision<Rectification, RectificationEventKind>;
/// A rectification event.
pub type RectificationEvent = CaseEvent<RectificationEventKind>;

type Outcome = case::Outcome<Rectification, Step, RectificationEventKind>;

/// Decides one command against the current request (`None` before it is made).
pub fn decide(
    current: Option<&Rectification>,
    command: &RectificationCommand,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let step = command.step();
    let actor = case::known_actor(directory, actor)?;
    // Who may ask depends on the addressee: checked first, on the field that names it.
    if let (None, RectificationCommand::Request(r)) = (current, command) {
        may_request(actor, r, directory)?;
    }
    let parties = current.map(Case::parties);
    let on = current.zip(parties.as_ref()).map(|(c, parties)| On {
        case_id: c.id,
        parties,
        status: c.status.as_str(),
    });
    authz::authorize(Family::Rectification, step.as_str(), actor, on)?;
    match (current, command) {
        (None, RectificationCommand::Request(r)) => request(r, actor, directory, now),
        (Some(c), _) => act(c, command, actor, now),
        (None, _) => Err(Rejection::NotFound {
            step: step.as_str(),
        }),
    }
}

/// `RECT-WHO`: a coordination office or a procuratorate may ask any administrative agency; an
/// administrative agency only those it is the directory superior of; nobody else.
fn may_request(actor: &Agency, r: &Requesting, directory: &Directory) -> Result<(), Rejection> {
    let to = directory
        .get(&r.to)
        .ok_or_else(|| Rejection::UnknownAgency {
            field: "to",
            code: r.to.clone(),
        })?;
    if to.kind != AgencyKind::Administrative {
        return Err(Rejection::WrongRecipientKind {
            field: "to",
            code: r.to.clone(),
            expected: AgencyKind::Administrative,
            actual: to.kind,
        });
    }
    if r.to == actor.code {
        return Err(invalid("to", "must be another agency than the requester"));
    }
    let allowed = match actor.kind {
        AgencyKind::Coordination | AgencyKind::Procuratorate => true,
        AgencyKind::Administrative => to.superior.as_ref() == Some(&actor.code),
        AgencyKind::Police | AgencyKind::Expert => false,
    };
    if allowed {
        return Ok(());
    }
    Err(Rejection::Forbidden {
        rule: "RECT-WHO",
        field: Some("to"),
        reason: format!(
            "an agency of kind {} may not ask {} to rectify: only a coordination office, a \
             procuratorate, or the agency's superior in the directory may",
            actor.kind, r.to
        ),
    })
}

/// A report period: `YYYY`, `YYYY-Qn` (季通报) or `YYYY-MM` (月提示).
fn is_period(s: &str) -> bool {
    let year_ok = |y: &str| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit());
    match s.split_once('-') {
        None => year_ok(s),
        Some((year, rest)) => {
            year_ok(year)
                && match rest.as_bytes() {
                    [b'Q', q] => (b'1'..=b'4').contains(q),
                    [m1, m2] if m1.is_ascii_digit() && m2.is_ascii_digit() => {
                        matches!((m1 - b'0') * 10 + (m2 - b'0'), 1..=12)
                    }
                    _ => false,
                }
        }
    }
}

fn check_basis(basis: &Basis, own: CaseId) -> Result<(), Rejection> {
    if let Some(period) = &basis.period
        && !is_period(period)
    {
        return Err(invalid(
            "basis.period",
            "must be a year, a quarter or a month: 2026, 2026-Q3 or 2026-07",
        ));
    }
    if basis.period.is_none() && basis.cases.is_empty() {
        return Err(invalid(
            "basis",
            "must name a report period or the cases the problems were found in",
        ));
    }
    if basis.cases.len() > ITEMS_MAX {
        return Err(invalid(
            "basis.case_ids",
            format!("may name at most {ITEMS_MAX} cases"),
        ));
    }
    for (i, id) in basis.cases.iter().enumerate() {
        if *id == own || basis.cases[..i].contains(id) {
            return Err(Rejection::Invalid {
                field: "basis.case_ids",
                item: Some(i),
                reason: "names the request itself or a case already named".to_owned(),
            });
        }
    }
    Ok(())
}

/// 督促整改: the request, to an administrative agency, with what was found.
fn request(
    r: &Requesting,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    text("findings", &r.findings, TEXT_MAX_CHARS, true)?;
    check_basis(&r.basis, r.case_id)?;
    case::documents(&r.documents, 0)?;
    if let Some(due) = r.due_by
        && due <= now
    {
        return Err(invalid("due_by", "must be after the request"));
    }
    let superior = directory.get(&r.to).and_then(|a| a.superior.clone());
    let rectification = Rectification {
        id: r.case_id,
        requester: actor.code.clone(),
        agency: r.to.clone(),
        superior,
        findings: r.findings.clone(),
        basis: r.basis.clone(),
        documents: r.documents.clone(),
        due_by: r.due_by,
        status: RectificationStatus::Requested,
        requested_at: now,
        overdue: false,
        reports: Vec::new(),
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(rectification, Step::Request, actor, now);
    out.documents = r.documents.clone();
    out.event(RectificationEventKind::Requested);
    Ok(out.finish())
}

/// Every step after the request; the authorization table has already checked party and status.
fn act(
    c: &Rectification,
    command: &RectificationCommand,
    actor: &Agency,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let mut out = Outcome::new(c.clone(), command.step(), actor, now);
    match command {
        RectificationCommand::Request(_) => {
            return Err(Rejection::AlreadyExists { case_id: c.id });
        }
        RectificationCommand::Report(r) => {
            text("measures", &r.measures, TEXT_MAX_CHARS, true)?;
            let already: usize = c.reports.iter().map(|f| f.documents.len()).sum();
            case::documents(&r.documents, already + c.documents.len())?;
            // A late report is taken, and marked late.
            let late = c.overdue;
            out.case.reports.push(FiledReport {
                measures: r.measures.clone(),
                documents: r.documents.clone(),
                at: now,
                late,
                returned: None,
            });
            out.case.overdue = false;
            out.case.status = RectificationStatus::Reported;
            out.note = r.measures.clone();
            out.documents = r.documents.clone();
            out.event(RectificationEventKind::Reported { late });
        }
        RectificationCommand::Accept { note } => {
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.status = RectificationStatus::Accepted;
            out.note = note.clone();
            out.event(RectificationEventKind::Accepted);
        }
        RectificationCommand::Return { reasons } => {
            // 复查不合格 is a decision, so it states why.
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            if let Some(last) = out.case.reports.last_mut() {
                last.returned = Some(reasons.clone());
            }
            out.case.status = RectificationStatus::Returned;
            out.note = reasons.clone();
            out.event(RectificationEventKind::Returned);
        }
        RectificationCommand::MarkOverdue => {
            if c.overdue {
                return Err(Rejection::Forbidden {
                    rule: REPORT_RULE,
                    field: None,
                    reason: "the report now owed is already recorded as overdue".to_owned(),
                });
            }
            out.case.overdue = true;
            out.note = format!("{REPORT_RULE} missed");
            out.event(RectificationEventKind::ReportOverdue);
        }
    }
    Ok(out.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
