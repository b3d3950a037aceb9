//! Jurisdiction dispute (管辖争议 / 执法争议协调): two agencies disagree on who must handle a
//! case. They negotiate and may record an agreement as minutes; failing that, either refers the
//! dispute to the coordination office — the parties' common superior (共同的上一级行政机关), or
//! the region's justice bureau where the directory names no common superior — which accepts it,
//! hears the other side and designates the competent agency (指定管辖). The designation binds
//! all parties and restarts the transfer the dispute came from (S4 Art 16). The office may also
//! designate directly, without a dispute being raised (S3 Art 25).
//!
//! Sources: 行政处罚法 (S3) Art 25; 市场监督管理行政处罚程序规定 (S4) Arts 13–16; local
//! coordination measures (S26, [V2], configurable deadlines). See docs/law.md §3.G.
//!
//! Status flow:
//! ```text
//! raise | raise_from_objection → negotiating ─record_minutes→ agreed
//!                                negotiating ─refer→ referred ─accept→ accepted ─reply→ replied
//!                                accepted | replied ─designate→ designated
//! designate_directly → designated
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

/// A dispute raised directly by one agency against another (S3 Art 25).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raising {
    pub case_id: CaseId,
    /// The other agency.
    pub respondent: AgencyCode,
    /// The question: which agency must handle what.
    pub question: String,
    /// The raising agency's position.
    pub position: String,
    /// The transfer the dispute is about, if any.
    pub transfer: Option<CaseId>,
    pub documents: Vec<Document>,
}

/// A dispute opened by an objection to a transfer: the receiver's to jurisdiction (reaction to
/// `transfer.objected`, F2), or the sender's to the receiver's decision not to open a case
/// (reaction to `transfer.decline_contested`). The objecting side raises it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FromObjection {
    pub case_id: CaseId,
    /// The transfer objected to.
    pub transfer: CaseId,
    /// The transfer's other side: its sender for an objection to jurisdiction, its receiver for
    /// a contested decline.
    pub respondent: AgencyCode,
    /// What the transfer was about.
    pub question: String,
    /// The objection's reasons: the objecting side's position.
    pub position: String,
}

/// A designation made by the office without a dispute being raised (S3 Art 25).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectDesignation {
    pub case_id: CaseId,
    /// The two agencies concerned.
    pub parties: [AgencyCode; 2],
    pub question: String,
    /// The competent agency.
    pub designated: AgencyCode,
    /// The decision, in words.
    pub decision: String,
    /// The transfer it settles, if any.
    pub transfer: Option<CaseId>,
    pub documents: Vec<Document>,
}

/// Where a dispute stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    /// Raised; the parties negotiate (SAMR-13: 7 working days).
    Negotiating,
    /// The parties agreed; the minutes name the competent agency. Terminal.
    Agreed,
    /// Referred to the coordination office; it must accept (LOC-ACC).
    Referred,
    /// Accepted by the office; the other side is heard (LOC-REPLY).
    Accepted,
    /// The other side replied; the office designates (SAMR-16).
    Replied,
    /// The office designated the competent agency. Terminal.
    Designated,
}

impl DisputeStatus {
    /// Every status, in declaration order.
    pub const ALL: [DisputeStatus; 6] = [
        DisputeStatus::Negotiating,
        DisputeStatus::Agreed,
        DisputeStatus::Referred,
        DisputeStatus::Accepted,
        DisputeStatus::Replied,
        DisputeStatus::Designated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::Negotiating => "negotiating",
            DisputeStatus::Agreed => "agreed",
            DisputeStatus::Referred => "referred",
            DisputeStatus::Accepted => "accepted",
            DisputeStatus::Replied => "replied",
            DisputeStatus::Designated => "designated",
        }
    }
}

impl fmt::Display for DisputeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps of a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Raise,
    RaiseFromObjection,
    DesignateDirectly,
    RecordMinutes,
    Refer,
    Accept,
    Reply,
    Designate,
}

impl Step {
    /// Every step, in declaration order.
    pub const ALL: [Step; 8] = [
        Step::Raise,
        Step::RaiseFromObjection,
        Step::DesignateDirectly,
        Step::RecordMinutes,
        Step::Refer,
        Step::Accept,
        Step::Reply,
        Step::Designate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Raise => "raise",
            Step::RaiseFromObjection => "raise_from_objection",
            Step::DesignateDirectly => "designate_directly",
            Step::RecordMinutes => "record_minutes",
            Step::Refer => "refer",
            Step::Accept => "accept",
            Step::Reply => "reply",
            Step::Designate => "designate",
        }
    }
}

impl StepName for Step {
    const FAMILY: Family = Family::Dispute;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to move a dispute on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeCommand {
    Raise(Raising),
    RaiseFromObjection(FromObjection),
    DesignateDirectly(DirectDesignation),
    /// Either party records the agreement reached in negotiation (S4 Art 13).
    RecordMinutes {
        /// The agency both agree is competent: one of the parties.
        competent: AgencyCode,
        minutes: String,
        documents: Vec<Document>,
    },
    /// Either party refers the dispute to the coordination office (S3 Art 25).
    Refer {
        note: String,
    },
    /// The office accepts the referral (LOC-ACC).
    Accept {
        note: String,
    },
    /// The other side states its position to the office (LOC-REPLY).
    Reply {
        position: String,
        documents: Vec<Document>,
    },
    /// The office designates the competent agency (S4 Art 16).
    Designate {
        designated: AgencyCode,
        decision: String,
        documents: Vec<Document>,
    },
}

impl DisputeCommand {
    pub fn step(&self) -> Step {
        match self {
            DisputeCommand::Raise(_) => Step::Raise,
            DisputeCommand::RaiseFromObjection(_) => Step::RaiseFromObjection,
            DisputeCommand::DesignateDirectly(_) => Step::DesignateDirectly,
            DisputeCommand::RecordMinutes { .. } => Step::RecordMinutes,
            DisputeCommand::Refer { .. } => Step::Refer,
            DisputeCommand::Accept { .. } => Step::Accept,
            DisputeCommand::Reply { .. } => Step::Reply,
            DisputeCommand::Designate { .. } => Step::Designate,
        }
    }
}

/// One party's position, as stated to the other party or to the office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub agency: AgencyCode,
    pub text: String,
    pub at: Timestamp,
}

/// A jurisdiction dispute as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    pub id: CaseId,
    /// The agency that raised it.
    pub raised_by: AgencyCode,
    /// The party that brought it forward (raised it, or referred it to the office): role sender.
    pub sender: AgencyCode,
    /// The other side: role recipient; it replies to the office.
    pub respondent: AgencyCode,
    /// The coordination office, once referred (or for a direct designation).
    pub office: Option<AgencyCode>,
    pub status: DisputeStatus,
    pub question: String,
    /// The transfer it is about, if any: the designation restarts it.
    pub transfer: Option<CaseId>,
    /// Every position stated, oldest first.
    pub positions: Vec<Position>,
    pub documents: Vec<Document>,
    /// The agreed minutes.
    pub minutes: Option<String>,
    /// The competent agency, agreed or designated.
    pub competent: Option<AgencyCode>,
    /// The office's decision.
    pub decision: Option<String>,
    pub history: Vec<HistoryEntry<Step>>,
    pub version: u64,
}

impl Case for Dispute {
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
        let mut parties = Parties::of([
            (Role::Sender, self.sender.clone()),
            (Role::Recipient, self.respondent.clone()),
        ]);
        if let Some(office) = &self.office {
            parties.by_role.insert(Role::Coordination, office.clone());
        }
        parties
    }

    fn timeline(&self) -> Vec<TimelineEntry> {
        self.history.iter().map(HistoryEntry::to_timeline).collect()
    }

    fn headline(&self) -> String {
        self.question.clone()
    }

    fn opened(&self) -> Option<(&AgencyCode, Timestamp)> {
        crate::case::opened_by(&self.history)
    }

    fn summary(&self) -> &str {
        // The question is the headline.
        ""
    }
}

impl Recorded<Step> for Dispute {
    fn history_mut(&mut self) -> &mut Vec<HistoryEntry<Step>> {
        &mut self.history
    }

    fn version_mut(&mut self) -> &mut u64 {
        &mut self.version
    }

    /// Both parties and the office hear of every step.
    fn notified(&self) -> Vec<AgencyCode> {
        let mut all = vec![self.sender.clone(), self.respondent.clone()];
        all.extend(self.office.iter().cloned());
        all
    }
}

/// What happened to a dispute. Names match the events of the rule table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DisputeEventKind {
    Raised {
        transfer: Option<CaseId>,
    },
    /// The parties agreed; the transfers service restarts `transfer` to `competent`.
    MinutesAgreed {
        competent: AgencyCode,
        transfer: Option<CaseId>,
        minutes: String,
    },
    Referred {
        office: AgencyCode,
    },
    Accepted,
    Replied,
    /// The office designated; the transfers service restarts `transfer` to `designated`.
    Designated {
        designated: AgencyCode,
        office: AgencyCode,
        transfer: Option<CaseId>,
        decision: String,
        documents: Vec<Document>,
    },
}

impl EventName for DisputeEventKind {
    fn name(&self) -> &'static str {
        match self {
            DisputeEventKind::Raised { .. } => "raised",
            DisputeEventKind::MinutesAgreed { .. } => "minutes_agreed",
            DisputeEventKind::Referred { .. } => "referred",
            DisputeEventKind::Accepted => "accepted",
            DisputeEventKind::Replied => "replied",
            DisputeEventKind::Designated { .. } => "designated",
        }
    }
}

/// Which body rules on a dispute when the parties have both a common superior and a justice
/// bureau: S3 Art 25 names the common superior [V]; local measures often route coordination
/// through the justice bureau [V2 S26]. Configurable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfficeRule {
    /// The parties' nearest common superior; the region's justice bureau when there is none.
    #[default]
    CommonSuperiorFirst,
    /// The justice bureau of the parties' region; the common superior when there is none.
    JusticeBureauFirst,
}

/// Tunable parts of the dispute rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DisputePolicy {
    pub office: OfficeRule,
}

/// The coordination office for a dispute between `a` and `b`, found from the directory.
pub fn office_for<'d>(
    directory: &'d Directory,
    policy: &DisputePolicy,
    a: &AgencyCode,
    b: &AgencyCode,
) -> Option<&'d Agency> {
    let superior = || directory.common_superior(a, b);
    let bureau = || {
        // The justice bureau of the parties' region, or of the nearest region they share
        // through their superiors.
        let regions = |code: &AgencyCode| -> Vec<crate::ids::RegionCode> {
            std::iter::once(code.region())
                .chain(
                    directory
                        .superiors_of(code)
                        .iter()
                        .map(|s| s.region.clone()),
                )
                .collect()
        };
        let of_b = regions(b);
        regions(a)
            .into_iter()
            .filter(|r| of_b.contains(r))
            .find_map(|r| directory.coordination_for(&r))
    };
    match policy.office {
        OfficeRule::CommonSuperiorFirst => superior().or_else(bureau),
        OfficeRule::JusticeBureauFirst => bureau().or_else(superior),
    }
}

/// What [`decide`] consults besides the dispute.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub directory: &'a Directory,
    pub policy: &'a DisputePolicy,
}

/// An accepted command's outcome.
pub type Decision = case::Decision<Dispute, DisputeEventKind>;
/// A dispute event.
pub type DisputeEvent = CaseEvent<DisputeEventKind>;

type Outcome = case::Outcome<Dispute, Step, DisputeEventKind>;

/// Decides one command against the current dispute (`None` before it is raised).
pub fn decide(
    current: Option<&Dispute>,
    command: &DisputeCommand,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let step = command.step();
    let actor = case::known_actor(ctx.directory, actor)?;
    let parties = current.map(Case::parties);
    let on = current.zip(parties.as_ref()).map(|(d, parties)| On {
        case_id: d.id,
        parties,
        status: d.status.as_str(),
    });
    authz::authorize(Family::Dispute, step.as_str(), actor, on)?;
    match (current, command) {
        (None, DisputeCommand::Raise(r)) => {
            let opened = Opened {
                case_id: r.case_id,
                respondent: &r.respondent,
                question: &r.question,
                position: &r.position,
                transfer: r.transfer,
                documents: &r.documents,
            };
            raise(opened, Step::Raise, actor, ctx, now)
        }
        (None, DisputeCommand::RaiseFromObjection(o)) => {
            let opened = Opened {
                case_id: o.case_id,
                respondent: &o.respondent,
                question: &o.question,
                position: &o.position,
                transfer: Some(o.transfer),
                documents: &[],
            };
            raise(opened, Step::RaiseFromObjection, actor, ctx, now)
        }
        (None, DisputeCommand::DesignateDirectly(d)) => designate_directly(d, actor, ctx, now),
        (Some(dispute), _) => act(dispute, command, actor, ctx, now),
        (None, _) => Err(Rejection::NotFound {
            step: step.as_str(),
        }),
    }
}

/// What opening a dispute needs, from a direct raise or an objection.
struct Opened<'a> {
    case_id: CaseId,
    respondent: &'a AgencyCode,
    question: &'a str,
    position: &'a str,
    transfer: Option<CaseId>,
    documents: &'a [Document],
}

/// S3 Art 25: a dispute between two agencies on who handles a case.
fn raise(
    o: Opened<'_>,
    step: Step,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    case::require_agency(
        ctx.directory,
        "respondent",
        o.respondent,
        AgencyKind::Administrative,
    )?;
    if *o.respondent == actor.code {
        return Err(invalid(
            "respondent",
            "must be another agency than the one raising the dispute",
        ));
    }
    text("question", o.question, TEXT_MAX_CHARS, true)?;
    text("position", o.position, TEXT_MAX_CHARS, true)?;
    case::documents(o.documents, 0)?;
    let dispute = Dispute {
        id: o.case_id,
        raised_by: actor.code.clone(),
        sender: actor.code.clone(),
        respondent: o.respondent.clone(),
        office: None,
        status: DisputeStatus::Negotiating,
        question: o.question.to_owned(),
        transfer: o.transfer,
        positions: vec![Position {
            agency: actor.code.clone(),
            text: o.position.to_owned(),
            at: now,
        }],
        documents: o.documents.to_vec(),
        minutes: None,
        competent: None,
        decision: None,
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(dispute, step, actor, now);
    out.note = o.position.to_owned();
    out.documents = o.documents.to_vec();
    out.event(DisputeEventKind::Raised {
        transfer: o.transfer,
    });
    Ok(out.finish())
}

/// S3 Art 25: the superior designates without a dispute being raised.
fn designate_directly(
    d: &DirectDesignation,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let [a, b] = &d.parties;
    case::require_agency(ctx.directory, "parties", a, AgencyKind::Administrative)?;
    case::require_agency(ctx.directory, "parties", b, AgencyKind::Administrative)?;
    if a == b {
        return Err(invalid("parties", "must name two different agencies"));
    }
    require_office(ctx, a, b, actor)?;
    designated_is_valid(ctx.directory, &d.designated)?;
    text("question", &d.question, TEXT_MAX_CHARS, true)?;
    text("decision", &d.decision, TEXT_MAX_CHARS, true)?;
    case::documents(&d.documents, 0)?;
    let dispute = Dispute {
        id: d.case_id,
        raised_by: actor.code.clone(),
        sender: a.clone(),
        respondent: b.clone(),
        office: Some(actor.code.clone()),
        status: DisputeStatus::Designated,
        question: d.question.clone(),
        transfer: d.transfer,
        positions: Vec::new(),
        documents: d.documents.clone(),
        minutes: None,
        competent: Some(d.designated.clone()),
        decision: Some(d.decision.clone()),
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(dispute, Step::DesignateDirectly, actor, now);
    out.note = d.decision.clone();
    out.documents = d.documents.clone();
    out.event(DisputeEventKind::Designated {
        designated: d.designated.clone(),
        office: actor.code.clone(),
        transfer: d.transfer,
        decision: d.decision.clone(),
        documents: d.documents.clone(),
    });
    Ok(out.finish())
}

/// Only the office the directory names for these parties may rule on their dispute.
fn require_office(
    ctx: &Context<'_>,
    a: &AgencyCode,
    b: &AgencyCode,
    actor: &Agency,
) -> Result<(), Rejection> {
    match office_for(ctx.directory, ctx.policy, a, b) {
        Some(office) if office.code == actor.code => Ok(()),
        Some(office) => Err(Rejection::Forbidden {
            rule: "S3 Art 25",
            field: None,
            reason: format!(
                "only {} ({}), the coordination office for these agencies, may designate",
                office.name, office.code
            ),
        }),
        None => Err(Rejection::Forbidden {
            rule: "S3 Art 25",
            field: None,
            reason: "the directory names no common superior or coordination office for these \
                     agencies"
                .into(),
        }),
    }
}

/// The designated agency must be an administrative agency in the directory.
fn designated_is_valid(directory: &Directory, designated: &AgencyCode) -> Result<(), Rejection> {
    case::require_agency(
        directory,
        "designated",
        designated,
        AgencyKind::Administrative,
    )
    .map(|_| ())
}

/// Every step after raising; the authorization table has already checked party and status.
fn act(
    dispute: &Dispute,
    command: &DisputeCommand,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let mut out = Outcome::new(dispute.clone(), command.step(), actor, now);
    match command {
        DisputeCommand::Raise(_)
        | DisputeCommand::RaiseFromObjection(_)
        | DisputeCommand::DesignateDirectly(_) => {
            return Err(Rejection::AlreadyExists {
                case_id: dispute.id,
            });
        }
        DisputeCommand::RecordMinutes {
            competent,
            minutes,
            documents,
        } => {
            // S4 Art 13 (SAMR-13): the parties may agree; the minutes name the competent agency.
            if *competent != dispute.sender && *competent != dispute.respondent {
                return Err(invalid(
                    "competent",
                    "must be one of the two parties to the dispute",
                ));
            }
            text("minutes", minutes, TEXT_MAX_CHARS, true)?;
            case::documents(documents, dispute.documents.len())?;
            out.case.status = DisputeStatus::Agreed;
            out.case.minutes = Some(minutes.clone());
            out.case.competent = Some(competent.clone());
            out.case.documents.extend(documents.iter().cloned());
            out.note = minutes.clone();
            out.documents = documents.clone();
            out.event(DisputeEventKind::MinutesAgreed {
                competent: competent.clone(),
                transfer: dispute.transfer,
                minutes: minutes.clone(),
            });
        }
        DisputeCommand::Refer { note } => {
            // S3 Art 25 (G2): without agreement, to the common superior / coordination office.
            text("note", note, TEXT_MAX_CHARS, false)?;
            let Some(office) = office_for(
                ctx.directory,
                ctx.policy,
                &dispute.sender,
                &dispute.respondent,
            ) else {
                return Err(Rejection::Forbidden {
                    rule: "G2",
                    field: None,
                    reason: "the directory names no common superior or coordination office for \
                             these agencies"
                        .into(),
                });
            };
            // The referring party brings the dispute forward; the other side replies.
            if actor.code == dispute.respondent {
                out.case.respondent = dispute.sender.clone();
                out.case.sender = dispute.respondent.clone();
            }
            out.case.office = Some(office.code.clone());
            out.case.status = DisputeStatus::Referred;
            out.note = note.clone();
            out.event(DisputeEventKind::Referred {
                office: office.code.clone(),
            });
        }
        DisputeCommand::Accept { note } => {
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.status = DisputeStatus::Accepted;
            out.note = note.clone();
            out.event(DisputeEventKind::Accepted);
        }
        DisputeCommand::Reply {
            position,
            documents,
        } => {
            text("position", position, TEXT_MAX_CHARS, true)?;
            case::documents(documents, dispute.documents.len())?;
            out.case.status = DisputeStatus::Replied;
            out.case.positions.push(Position {
                agency: actor.code.clone(),
                text: position.clone(),
                at: now,
            });
            out.case.documents.extend(documents.iter().cloned());
            out.note = position.clone();
            out.documents = documents.clone();
            out.event(DisputeEventKind::Replied);
        }
        DisputeCommand::Designate {
            designated,
            decision,
            documents,
        } => {
            // S4 Art 16 (SAMR-16): the designation binds all parties.
            designated_is_valid(ctx.directory, designated)?;
            text("decision", decision, TEXT_MAX_CHARS, true)?;
            case::documents(documents, dispute.documents.len())?;
            out.case.status = DisputeStatus::Designated;
            out.case.competent = Some(designated.clone());
            out.case.decision = Some(decision.clone());
            out.case.documents.extend(documents.iter().cloned());
            out.note = decision.clone();
            out.documents = documents.clone();
            out.event(DisputeEventKind::Designated {
                designated: designated.clone(),
                office: actor.code.clone(),
                transfer: dispute.transfer,
                decision: decision.clone(),
                documents: documents.clone(),
            });
        }
    }
    Ok(out.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
