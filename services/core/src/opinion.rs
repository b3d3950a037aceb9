//! Expert-opinion and assistance requests (认定、检验、鉴定 / 协助调查): an enforcement agency asks
//! a competent department for a determination, a test, a forensic opinion or assistance. The
//! department accepts, or refuses with reasons (outside its powers); may ask for more material,
//! which stops its clock until supplied; and delivers a written opinion that must state a
//! conclusion — a mere description of the current state is not an opinion (notices/003).
//!
//! Extensions are announced to the deadlines service before the deadline (SAMR-45x); the
//! request itself records only its steps. A request made under a case (`under_case`) stops that
//! case's clock while the opinion is awaited (S4 Arts 18, 64); the deadlines service reads it
//! from every event's detail.
//!
//! Sources: 行政处罚法 (S3) Art 26; 市场监督管理行政处罚程序规定 (S4) Arts 32, 38, 45; 司法鉴定程序
//! 通则 (S15) Arts 13, 28; notices/003. See docs/law.md §3.H.
//!
//! Status flow:
//! ```text
//! request → requested ─accept→ accepted ─deliver→ delivered
//!           requested ─refuse→ refused
//!           accepted ─request_material→ awaiting_material ─supply_material→ accepted
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

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpinionKind {
    /// 认定: an administrative determination (15 working days, SAMR-45).
    Determination,
    /// 检验 / 检测: a test (15 working days, SAMR-45).
    Test,
    /// 鉴定: a forensic opinion by a forensic body (30 working days, SJ-28).
    Forensic,
    /// 协助调查: assistance with an investigation.
    Assistance,
}

impl OpinionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpinionKind::Determination => "determination",
            OpinionKind::Test => "test",
            OpinionKind::Forensic => "forensic",
            OpinionKind::Assistance => "assistance",
        }
    }

    /// The legal name in Chinese.
    pub fn label_zh(self) -> &'static str {
        match self {
            OpinionKind::Determination => "认定",
            OpinionKind::Test => "检验",
            OpinionKind::Forensic => "鉴定",
            OpinionKind::Assistance => "协助调查",
        }
    }
}

/// What a written opinion concludes (notices/003: a conclusion, not a description).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// The question is answered yes: it is, it belongs, it meets (是 / 属于 / 符合).
    Affirmative,
    /// The question is answered no (否 / 不属于 / 不符合).
    Negative,
    /// The question is answered with a measured or assessed quantity (e.g. 货值金额).
    Quantified,
    /// The assistance asked for was given (协助调查 only).
    AssistanceGiven,
}

/// The written opinion (书面意见 / 鉴定意见).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opinion {
    /// What it concludes; `None` is refused.
    pub finding: Option<Finding>,
    /// The conclusion in words (认定结论); required.
    pub conclusion: String,
    /// What was examined and how (the state found, methods); optional, never a substitute.
    pub basis: String,
    /// The opinion document and annexes.
    pub documents: Vec<Document>,
}

/// The request as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requesting {
    pub case_id: CaseId,
    /// The department asked.
    pub expert: AgencyCode,
    pub kind: OpinionKind,
    /// The question to answer.
    pub question: String,
    /// The material sent with it.
    pub documents: Vec<Document>,
    /// The requester's case the opinion is needed for; its clock stops meanwhile.
    pub under_case: Option<CaseId>,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpinionStatus {
    /// Sent; the department accepts or refuses (SJ-13: 7 working days).
    Requested,
    /// Accepted; the opinion is due (SAMR-45 / SJ-28).
    Accepted,
    /// Refused with reasons. Terminal.
    Refused,
    /// The department asked for more material; its clock is stopped (SJ-28p).
    AwaitingMaterial,
    /// The opinion was delivered. Terminal.
    Delivered,
}

impl OpinionStatus {
    /// Every status, in declaration order.
    pub const ALL: [OpinionStatus; 5] = [
        OpinionStatus::Requested,
        OpinionStatus::Accepted,
        OpinionStatus::Refused,
        OpinionStatus::AwaitingMaterial,
        OpinionStatus::Delivered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OpinionStatus::Requested => "requested",
            OpinionStatus::Accepted => "accepted",
            OpinionStatus::Refused => "refused",
            OpinionStatus::AwaitingMaterial => "awaiting_material",
            OpinionStatus::Delivered => "delivered",
        }
    }
}

impl fmt::Display for OpinionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Request,
    Accept,
    Refuse,
    RequestMaterial,
    SupplyMaterial,
    Deliver,
}

impl Step {
    /// Every step, in declaration order.
    pub const ALL: [Step; 6] = [
        Step::Request,
        Step::Accept,
        Step::Refuse,
        Step::RequestMaterial,
        Step::SupplyMaterial,
        Step::Deliver,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Request => "request",
            Step::Accept => "accept",
            Step::Refuse => "refuse",
            Step::RequestMaterial => "request_material",
            Step::SupplyMaterial => "supply_material",
            Step::Deliver => "deliver",
        }
    }
}

impl StepName for Step {
    const FAMILY: Family = Family::Opinion;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to move an opinion request on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpinionCommand {
    Request(Requesting),
    Accept {
        note: String,
    },
    /// Refuse, with reasons: outside the department's powers (S15 Art 13).
    Refuse {
        reasons: String,
    },
    /// Ask for more material; the clock stops until it is supplied (S15 Art 28, SJ-28p).
    RequestMaterial {
        needed: String,
    },
    SupplyMaterial {
        documents: Vec<Document>,
        note: String,
    },
    Deliver(Opinion),
}

impl OpinionCommand {
    pub fn step(&self) -> Step {
        match self {
            OpinionCommand::Request(_) => Step::Request,
            OpinionCommand::Accept { .. } => Step::Accept,
            OpinionCommand::Refuse { .. } => Step::Refuse,
            OpinionCommand::RequestMaterial { .. } => Step::RequestMaterial,
            OpinionCommand::SupplyMaterial { .. } => Step::SupplyMaterial,
            OpinionCommand::Deliver(_) => Step::Deliver,
        }
    }
}

/// An expert-opinion or assistance request as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpinionRequest {
    pub id: CaseId,
    /// The agency that asked.
    pub requester: AgencyCode,
    /// The department asked.
    pub expert: AgencyCode,
    pub kind: OpinionKind,
    pub question: String,
    pub status: OpinionStatus,
    /// The requester's case whose clock the request stops.
    pub under_case: Option<CaseId>,
    /// Every document: the material sent and supplied, and the opinion's.
    pub documents: Vec<Document>,
    pub requested_at: Timestamp,
    /// The refusal's reasons.
    pub refusal: Option<String>,
    /// The delivered opinion.
    pub opinion: Option<Opinion>,
    pub history: Vec<HistoryEntry<Step>>,
    pub version: u64,
}

impl Case for OpinionRequest {
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
            (Role::Sender, self.requester.clone()),
            (Role::Expert, self.expert.clone()),
        ])
    }

    fn timeline(&self) -> Vec<TimelineEntry> {
        self.history.iter().map(HistoryEntry::to_timeline).collect()
    }

    fn headline(&self) -> String {
        self.kind.label_zh().to_owned()
    }

    fn opened(&self) -> Option<(&AgencyCode, Timestamp)> {
        crate::case::opened_by(&self.history)
    }

    fn summary(&self) -> &str {
        &self.question
    }
}

impl Recorded<Step> for OpinionRequest {
    fn history_mut(&mut self) -> &mut Vec<HistoryEntry<Step>> {
        &mut self.history
    }

    fn version_mut(&mut self) -> &mut u64 {
        &mut self.version
    }

    fn notified(&self) -> Vec<AgencyCode> {
        vec![self.requester.clone(), self.expert.clone()]
    }
}

/// What happened to a request. Names match the events of the rule table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum OpinionEventKind {
    Requested { kind: OpinionKind },
    Accepted,
    Refused { reasons: String },
    MaterialRequested { needed: String },
    MaterialSupplied { documents: Vec<Document> },
    Delivered { opinion: Opinion },
}

impl EventName for OpinionEventKind {
    fn name(&self) -> &'static str {
        match self {
            OpinionEventKind::Requested { .. } => "requested",
            OpinionEventKind::Accepted => "accepted",
            OpinionEventKind::Refused { .. } => "refused",
            OpinionEventKind::MaterialRequested { .. } => "material_requested",
            OpinionEventKind::MaterialSupplied { .. } => "material_supplied",
            OpinionEventKind::Delivered { .. } => "delivered",
        }
    }
}

/// An accepted command's outcome.
pub type Decision = case::Decision<OpinionRequest, OpinionEventKind>;
/// An opinion event.
pub type OpinionEvent = CaseEvent<OpinionEventKind>;

type Outcome = case::Outcome<OpinionRequest, Step, OpinionEventKind>;

/// Decides one command against the current request (`None` before it is sent).
pub fn decide(
    current: Option<&OpinionRequest>,
    command: &OpinionCommand,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let step = command.step();
    let actor = case::known_actor(directory, actor)?;
    let parties = current.map(Case::parties);
    let on = current.zip(parties.as_ref()).map(|(o, parties)| On {
        case_id: o.id,
        parties,
        status: o.status.as_str(),
    });
    authz::authorize(Family::Opinion, step.as_str(), actor, on)?;
    match (current, command) {
        (None, OpinionCommand::Request(r)) => request(r, actor, directory, now),
        (Some(request), _) => act(request, command, actor, now),
        (None, _) => Err(Rejection::NotFound {
            step: step.as_str(),
        }),
    }
}

/// S3 Art 26; S4 Art 45: the request with its question and material.
fn request(
    r: &Requesting,
    actor: &Agency,
    directory: &Directory,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let expert = directory
        .get(&r.expert)
        .ok_or_else(|| Rejection::UnknownAgency {
            field: "expert",
            code: r.expert.clone(),
        })?;
    // A determination may be asked of an administrative department as well as of a testing or
    // forensic body; never of the police, a procuratorate or a coordination office.
    if !matches!(expert.kind, AgencyKind::Expert | AgencyKind::Administrative) {
        return Err(Rejection::WrongRecipientKind {
            field: "expert",
            code: r.expert.clone(),
            expected: AgencyKind::Expert,
            actual: expert.kind,
        });
    }
    if r.expert == actor.code {
        return Err(invalid(
            "expert",
            "must be another agency than the requester",
        ));
    }
    text("question", &r.question, TEXT_MAX_CHARS, true)?;
    case::documents(&r.documents, 0)?;
    let opinion = OpinionRequest {
        id: r.case_id,
        requester: actor.code.clone(),
        expert: r.expert.clone(),
        kind: r.kind,
        question: r.question.clone(),
        status: OpinionStatus::Requested,
        under_case: r.under_case,
        documents: r.documents.clone(),
        requested_at: now,
        refusal: None,
        opinion: None,
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(opinion, Step::Request, actor, now);
    out.note = r.question.clone();
    out.documents = r.documents.clone();
    out.event(OpinionEventKind::Requested { kind: r.kind });
    Ok(out.finish())
}

/// Every step after the request; the authorization table has already checked party and status.
fn act(
    request: &OpinionRequest,
    command: &OpinionCommand,
    actor: &Agency,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let mut out = Outcome::new(request.clone(), command.step(), actor, now);
    match command {
        OpinionCommand::Request(_) => {
            return Err(Rejection::AlreadyExists {
                case_id: request.id,
            });
        }
        OpinionCommand::Accept { note } => {
            // S15 Art 13 (SJ-13): accept within 7 working days.
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.status = OpinionStatus::Accepted;
            out.note = note.clone();
            out.event(OpinionEventKind::Accepted);
        }
        OpinionCommand::Refuse { reasons } => {
            // S15 Art 13: a refusal states its reasons (e.g. outside the department's powers).
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.case.status = OpinionStatus::Refused;
            out.case.refusal = Some(reasons.clone());
            out.note = reasons.clone();
            out.event(OpinionEventKind::Refused {
                reasons: reasons.clone(),
            });
        }
        OpinionCommand::RequestMaterial { needed } => {
            // S15 Art 28 (SJ-28p): time spent supplementing does not count.
            text("needed", needed, TEXT_MAX_CHARS, true)?;
            out.case.status = OpinionStatus::AwaitingMaterial;
            out.note = needed.clone();
            out.event(OpinionEventKind::MaterialRequested {
                needed: needed.clone(),
            });
        }
        OpinionCommand::SupplyMaterial { documents, note } => {
            if documents.is_empty() {
                return Err(invalid("documents", "must contain at least one document"));
            }
            case::documents(documents, request.documents.len())?;
            text("note", note, TEXT_MAX_CHARS, false)?;
            out.case.status = OpinionStatus::Accepted;
            out.case.documents.extend(documents.iter().cloned());
            out.note = note.clone();
            out.documents = documents.clone();
            out.event(OpinionEventKind::MaterialSupplied {
                documents: documents.clone(),
            });
        }
        OpinionCommand::Deliver(opinion) => {
            // notices/003: 书面意见应当清楚明确，不应仅以现实状态描述替代认定结论意见 — a written
            // opinion must state a conclusion; a description of the current state is not one.
            let finding = match (request.kind, opinion.finding) {
                (_, None) => {
                    return Err(Rejection::Forbidden {
                        rule: "H-CONCLUSION",
                        field: Some("finding"),
                        reason: "a written opinion must state its conclusion (认定结论): \
                                 affirmative, negative or quantified; a description of the \
                                 current state alone is not an opinion (notices/003)"
                            .into(),
                    });
                }
                (OpinionKind::Assistance, Some(f)) => f,
                (_, Some(Finding::AssistanceGiven)) => {
                    return Err(Rejection::Forbidden {
                        rule: "H-CONCLUSION",
                        field: Some("finding"),
                        reason: "a determination, test or forensic opinion must conclude \
                                 affirmatively, negatively or with a quantity"
                            .into(),
                    });
                }
                (_, Some(f)) => f,
            };
            if opinion.conclusion.trim().is_empty() {
                return Err(Rejection::Forbidden {
                    rule: "H-CONCLUSION",
                    field: Some("conclusion"),
                    reason: "the conclusion (认定结论) must be written out; a description of the \
                             current state in the basis does not replace it (notices/003)"
                        .into(),
                });
            }
            text("conclusion", &opinion.conclusion, TEXT_MAX_CHARS, true)?;
            text("basis", &opinion.basis, TEXT_MAX_CHARS, false)?;
            case::documents(&opinion.documents, request.documents.len())?;
            let mut delivered = opinion.clone();
            delivered.finding = Some(finding);
            out.case.status = OpinionStatus::Delivered;
            out.case.documents.extend(opinion.documents.iter().cloned());
            out.case.opinion = Some(delivered.clone());
            out.note = opinion.conclusion.clone();
            out.documents = opinion.documents.clone();
            out.event(OpinionEventKind::Delivered { opinion: delivered });
        }
    }
    Ok(out.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
