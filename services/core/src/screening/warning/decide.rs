//! [`decide()`]: who may take which step of a warning in which state ([`PERMISSIONS`]), and every
//! transition.
//!
//! The table has the shape of [`crate::authz::TABLE`] and refuses with the same rejections
//! (`AUTH-PARTY`, `AUTH-ADDRESSEE`, `AUTH-ROLE`, `STATE`), in the same order: party, role, kind,
//! state. It is kept beside the warning until the warning is a family of the case engine.

use super::{
    Decision, EarlyWarning, Opening, ProcuratorialOpinion, Step, WarningCommand, WarningEventKind,
    WarningStatus,
};
use crate::calendar::Calendar;
use crate::case::{self, CaseEvent, HistoryEntry, Rejection, TEXT_MAX_CHARS, invalid, text};
use crate::deadline::{Period, compute_due};
use crate::directory::{Agency, AgencyKind, Directory};
use crate::document::Document;
use crate::ids::AgencyCode;
use crate::notice::Role;
use crate::screening::ScreeningPolicy;
use crate::screening::record::RECORD_BASIS;
use crate::time::Timestamp;

/// What [`decide()`] consults besides the warning.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub directory: &'a Directory,
    /// The legal calendar the periods are counted on.
    pub calendar: &'a Calendar,
    pub policy: &'a ScreeningPolicy,
}

/// Which party takes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// The agency whose record it is. The reactions (open, clear, raise, link_referral from the
    /// referrals family, mark_overdue from the timer) are taken in its name by the services,
    /// never by a caller.
    Agency,
    /// The procuratorate, once the warning was raised to it.
    Procuratorate,
}

impl By {
    fn role(self) -> Role {
        match self {
            By::Agency => Role::Sender,
            By::Procuratorate => Role::Procuratorate,
        }
    }
}

/// One row: a step, the kinds and the party that may take it, the statuses that allow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub step: Step,
    pub kinds: &'static [AgencyKind],
    pub by: By,
    /// Empty for the step that opens a warning.
    pub states: &'static [&'static str],
    pub basis: &'static str,
}

const ADMIN: &[AgencyKind] = &[AgencyKind::Administrative];
const PROC: &[AgencyKind] = &[AgencyKind::Procuratorate];
const ITEM_12: &str = "高检发释字〔2001〕4号 item 12";

/// Every step of a warning. A test checks that each step has exactly one row and that every
/// state named is a status.
#[rustfmt::skip]
pub const PERMISSIONS: &[Permission] = &[
    Permission { step: Step::Open, kinds: ADMIN, by: By::Agency, states: &[], basis: RECORD_BASIS },
    Permission { step: Step::Clear, kinds: ADMIN, by: By::Agency, states: &["agency_warned"], basis: RECORD_BASIS },
    Permission { step: Step::Raise, kinds: ADMIN, by: By::Agency, states: &["agency_warned"], basis: "notices/003 三(三); 高检发释字〔2001〕4号 item 12" },
    Permission { step: Step::SuggestReferral, kinds: PROC, by: By::Procuratorate, states: &["warning_raised"], basis: ITEM_12 },
    Permission { step: Step::Close, kinds: PROC, by: By::Procuratorate, states: &["warning_raised"], basis: ITEM_12 },
    Permission { step: Step::LinkReferral, kinds: ADMIN, by: By::Agency, states: &["agency_warned", "warning_raised", "referral_suggested", "answer_overdue"], basis: "S1 Arts 3, 5" },
    Permission { step: Step::Explain, kinds: ADMIN, by: By::Agency, states: &["referral_suggested", "answer_overdue"], basis: "S1 Art 5; 高检发释字〔2001〕4号 item 12" },
    Permission { step: Step::MarkOverdue, kinds: ADMIN, by: By::Agency, states: &["referral_suggested"], basis: "docs/law.md §3 cross-cutting" },
];

/// The row for `step`.
pub fn permission(step: Step) -> &'static Permission {
    // Every step has a row (a test checks it); the first row stands in for a missing one.
    PERMISSIONS
        .iter()
        .find(|p| p.step == step)
        .unwrap_or(&PERMISSIONS[0])
}

/// Checks that `actor` may take `step` on `warning` (`None` when the step opens one).
fn authorize(step: Step, actor: &Agency, warning: Option<&EarlyWarning>) -> Result<(), Rejection> {
    let p = permission(step);
    let name = step.as_str();
    let wrong_role = || Rejection::WrongRole {
        step: name,
        required: p.kinds,
        actual: actor.kind,
        basis: p.basis,
    };
    let Some(warning) = warning else {
        if p.states.is_empty() {
            return if p.kinds.contains(&actor.kind) {
                Ok(())
            } else {
                Err(wrong_role())
            };
        }
        return Err(Rejection::NotFound { step: name });
    };
    if p.states.is_empty() {
        return Err(Rejection::AlreadyExists {
            case_id: warning.id,
        });
    }
    let parties = crate::case::Case::parties(warning);
    if !parties.contains(&actor.code) {
        return Err(Rejection::NotAParty { step: name });
    }
    if parties.get(p.by.role()) != Some(&actor.code) {
        return Err(Rejection::NotAddressee {
            step: name,
            role: p.by.role(),
            expected: parties.get(p.by.role()).cloned(),
            basis: p.basis,
        });
    }
    if !p.kinds.contains(&actor.kind) {
        return Err(wrong_role());
    }
    if !p.states.contains(&warning.status.as_str()) {
        return Err(Rejection::WrongState {
            step: name,
            status: warning.status.as_str(),
            allowed: p.states,
        });
    }
    Ok(())
}

/// Decides one command against the current warning (`None` before it is opened).
pub fn decide(
    current: Option<&EarlyWarning>,
    command: &WarningCommand,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let actor = case::known_actor(ctx.directory, actor)?;
    authorize(command.step(), actor, current)?;
    match (current, command) {
        (None, WarningCommand::Open(opening)) => open(opening, actor, ctx, now),
        (Some(warning), _) => act(warning, command, actor, ctx, now),
        // `authorize` refused every other step without a warning.
        (None, _) => Err(Rejection::NotFound {
            step: command.step().as_str(),
        }),
    }
}

/// `period` counted from `now` on the legal calendar.
fn due(ctx: &Context<'_>, now: Timestamp, period: Period) -> Result<Timestamp, Rejection> {
    compute_due(ctx.calendar, now, period)
        .map(|due| due.at)
        .map_err(|e| Rejection::Forbidden {
            rule: "CALENDAR",
            field: None,
            reason: format!("the period of {period} cannot be counted: {e}"),
        })
}

/// A step being recorded: the warning after it, and each event with the agencies told.
struct Outcome {
    warning: EarlyWarning,
    step: Step,
    actor: AgencyCode,
    now: Timestamp,
    note: String,
    documents: Vec<Document>,
    events: Vec<(WarningEventKind, Vec<AgencyCode>)>,
}

impl Outcome {
    fn new(warning: EarlyWarning, step: Step, actor: &Agency, now: Timestamp) -> Outcome {
        Outcome {
            warning,
            step,
            actor: actor.code.clone(),
            now,
            note: String::new(),
            documents: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Adds an event for `to`, each once. The agency hears of the reactions taken in its name.
    fn event(&mut self, kind: WarningEventKind, to: &[Option<&AgencyCode>]) {
        let mut recipients: Vec<AgencyCode> = Vec::new();
        for code in to.iter().flatten() {
            if !recipients.contains(code) {
                recipients.push((*code).clone());
            }
        }
        self.events.push((kind, recipients));
    }

    fn finish(self) -> Decision {
        let Outcome {
            mut warning,
            step,
            actor,
            now,
            note,
            documents,
            events,
        } = self;
        warning.version += 1;
        warning.history.push(HistoryEntry {
            step,
            actor: actor.clone(),
            at: now,
            note,
            documents,
        });
        let events = events
            .into_iter()
            .map(|(kind, recipients)| CaseEvent {
                case_id: warning.id,
                kind,
                actor: actor.clone(),
                at: now,
                recipients,
            })
            .collect();
        Decision {
            case: warning,
            events,
        }
    }
}

/// Screening found a hit (S1 Arts 3, 11: no case that should be referred is settled with a
/// penalty): the agency is warned at once and has `raise_after` to refer before the warning
/// goes to the procuratorate copied on its region's referrals.
fn open(
    o: &Opening,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    if o.hits.is_empty() {
        return Err(Rejection::Forbidden {
            rule: "WARN-HIT",
            field: Some("hits"),
            reason: "a warning opens only on a record that meets a threshold: the screening \
                     found none"
                .into(),
        });
    }
    if o.record_version == 0 {
        return Err(invalid(
            "record_version",
            "must be a version number, from 1",
        ));
    }
    let Some(procuratorate) = ctx.directory.procuratorate_for(&actor.region) else {
        return Err(Rejection::Forbidden {
            rule: "WARN-TO",
            field: None,
            reason: format!(
                "the directory names no procuratorate for region {}, so the warning could \
                 never reach one",
                actor.region
            ),
        });
    };
    let supervisor = actor.superior.clone().or_else(|| {
        ctx.directory
            .coordination_for(&actor.region)
            .map(|a| a.code.clone())
    });
    let raise_due = due(ctx, now, ctx.policy.raise_after)?;
    let summary = o
        .hits
        .iter()
        .map(crate::screening::Hit::describe)
        .collect::<Vec<_>>()
        .join("; ");
    let warning = EarlyWarning {
        id: o.warning_id,
        agency: actor.code.clone(),
        procuratorate: procuratorate.code.clone(),
        supervisor,
        record: o.record,
        record_version: o.record_version,
        hits: o.hits.clone(),
        summary: summary.clone(),
        status: WarningStatus::AgencyWarned,
        opened_at: now,
        raise_due,
        raised_at: None,
        opinion: None,
        answer_due: None,
        escalated_at: None,
        referral: None,
        non_referral: None,
        explanation: None,
        closing_reasons: None,
        answered_late: None,
        documents: Vec::new(),
        history: Vec::new(),
        version: 0,
    };
    let mut out = Outcome::new(warning, Step::Open, actor, now);
    out.note = summary;
    out.event(
        WarningEventKind::AgencyWarned {
            record: o.record,
            record_version: o.record_version,
            hits: o.hits.clone(),
            raise_due,
        },
        &[Some(&actor.code)],
    );
    Ok(out.finish())
}

/// Every step after the opening; [`authorize`] has checked party, kind and status.
fn act(
    warning: &EarlyWarning,
    command: &WarningCommand,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let mut out = Outcome::new(warning.clone(), command.step(), actor, now);
    let agency = Some(&warning.agency);
    let procuratorate = Some(&warning.procuratorate);
    let supervisor = warning.supervisor.as_ref();
    // What the agency answers after the procuratorate's opinion is late past its due time.
    let late = warning.answer_due.filter(|due| now > *due);
    match command {
        WarningCommand::Open(_) => {
            return Err(Rejection::AlreadyExists {
                case_id: warning.id,
            });
        }
        WarningCommand::Clear {
            record_version,
            hits,
            table,
        } => {
            // A correction clears from a newer version; a changed table, from the same one.
            let oldest = match table {
                Some(_) => warning.record_version,
                None => warning.record_version + 1,
            };
            if *record_version < oldest {
                return Err(invalid(
                    "record_version",
                    format!(
                        "must be a correction newer than version {} the warning was opened on \
                         (or that version, re-screened under a changed table)",
                        warning.record_version
                    ),
                ));
            }
            if !hits.is_empty() {
                return Err(Rejection::Forbidden {
                    rule: "WARN-CLEAR",
                    field: Some("hits"),
                    reason: format!(
                        "version {record_version} still meets {}: the warning stays",
                        hits.iter()
                            .map(|h| h.rule.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            out.warning.status = WarningStatus::WarningCleared;
            out.warning.record_version = *record_version;
            out.note = match table {
                None => format!("version {record_version} meets no threshold"),
                Some(table) => format!(
                    "version {record_version} meets no threshold under the changed threshold \
                     table {table}: the warning is withdrawn"
                ),
            };
            out.event(
                WarningEventKind::Cleared {
                    record_version: *record_version,
                    table: table.clone(),
                },
                &[agency],
            );
        }
        WarningCommand::Raise => {
            if now < warning.raise_due {
                return Err(Rejection::Forbidden {
                    rule: "WARN-RAISE",
                    field: None,
                    reason: format!(
                        "the agency has until {} to refer before the warning goes to the \
                         procuratorate",
                        warning.raise_due.to_rfc3339()
                    ),
                });
            }
            out.warning.status = WarningStatus::WarningRaised;
            out.warning.raised_at = Some(now);
            out.note = warning.summary.clone();
            out.event(
                WarningEventKind::Raised {
                    record: warning.record,
                    record_version: warning.record_version,
                    agency: warning.agency.clone(),
                    hits: warning.hits.clone(),
                },
                &[procuratorate, supervisor, agency],
            );
        }
        WarningCommand::SuggestReferral {
            ground,
            reasons,
            documents,
        } => {
            // 高检发释字〔2001〕4号 item 12: the procuratorate may give its opinion (检察意见) on a
            // case that should have been referred and was not.
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            case::documents(documents, warning.documents.len())?;
            let answer_due = due(ctx, now, ctx.policy.answer_within)?;
            out.warning.status = WarningStatus::ReferralSuggested;
            out.warning.opinion = Some(ProcuratorialOpinion {
                ground: *ground,
                reasons: reasons.clone(),
                at: now,
            });
            out.warning.answer_due = Some(answer_due);
            out.warning.documents.extend(documents.iter().cloned());
            out.note = reasons.clone();
            out.documents = documents.clone();
            out.event(
                WarningEventKind::ReferralSuggested {
                    ground: *ground,
                    reasons: reasons.clone(),
                    answer_due,
                },
                &[agency, supervisor],
            );
        }
        WarningCommand::Close { reasons } => {
            text("reasons", reasons, TEXT_MAX_CHARS, true)?;
            out.warning.status = WarningStatus::WarningClosed;
            out.warning.closing_reasons = Some(reasons.clone());
            out.note = reasons.clone();
            out.event(
                WarningEventKind::Closed {
                    reasons: reasons.clone(),
                },
                &[agency, supervisor],
            );
        }
        WarningCommand::LinkReferral { referral } => {
            // S1 Art 3: the case is referred, whatever the warning's stage; a late referral is
            // recorded as late, never refused (docs/law.md §3 cross-cutting).
            out.warning.status = WarningStatus::ReferralLinked;
            out.warning.referral = Some(*referral);
            out.warning.answered_late = late;
            out.note = format!("referral {referral}");
            let told: &[Option<&AgencyCode>] = if warning.is_raised() {
                &[procuratorate, supervisor]
            } else {
                &[]
            };
            out.event(
                WarningEventKind::ReferralLinked {
                    referral: *referral,
                    late_since: late,
                },
                told,
            );
        }
        WarningCommand::Explain {
            non_referral,
            explanation,
            documents,
        } => {
            // S1 Art 5: a decision not to refer is recorded with its reasons; the agency answers
            // the procuratorate's opinion with it, in writing.
            text("explanation", explanation, TEXT_MAX_CHARS, true)?;
            case::documents(documents, warning.documents.len())?;
            out.warning.status = WarningStatus::NonReferralExplained;
            out.warning.non_referral = Some(*non_referral);
            out.warning.explanation = Some(explanation.clone());
            out.warning.answered_late = late;
            out.warning.documents.extend(documents.iter().cloned());
            out.note = explanation.clone();
            out.documents = documents.clone();
            out.event(
                WarningEventKind::NonReferralExplained {
                    non_referral: *non_referral,
                    explanation: explanation.clone(),
                    late_since: late,
                },
                &[procuratorate, supervisor],
            );
        }
        WarningCommand::MarkOverdue => {
            // From the due time itself: the deadlines service fires a miss at its due time.
            let Some(due) = warning.answer_due.filter(|due| now >= *due) else {
                return Err(Rejection::Forbidden {
                    rule: "WARN-MISS",
                    field: None,
                    reason: format!(
                        "the agency's answer is due {}: a miss is recorded only after it",
                        warning
                            .answer_due
                            .map_or_else(|| "at no time yet".to_owned(), Timestamp::to_rfc3339)
                    ),
                });
            };
            let to: Vec<AgencyCode> = [procuratorate, supervisor]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            out.warning.status = WarningStatus::AnswerOverdue;
            out.warning.escalated_at = Some(now);
            out.note = format!("the answer due {} was missed", due.to_rfc3339());
            out.event(
                WarningEventKind::Escalated { due, to },
                &[procuratorate, supervisor, agency],
            );
        }
    }
    Ok(out.finish())
}
