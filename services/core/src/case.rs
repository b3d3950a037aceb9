//! What every family's case has in common: its parties, its history, the events a step emits,
//! why a step is refused, and the checks every step's input goes through.
//!
//! Each family (referral, transfer, dispute, opinion) is a pure state machine with the same
//! shape: `decide(current, command, actor, context, now) -> Result<Decision, Rejection>`.
//! The state implements [`Case`], the events are [`CaseEvent`]s of a family-specific kind, and
//! the authorization table ([`crate::authz`]) says who may take which step in which state.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::directory::{Agency, AgencyKind, Directory};
use crate::document::{Document, DocumentKind, Party};
use crate::ids::{AgencyCode, CaseId};
use crate::notice::{Family, Role};
use crate::time::Timestamp;

/// Longest free text (summaries, notes, reasons, questions), in characters.
pub const TEXT_MAX_CHARS: usize = 2000;
/// Longest document title, party name, case officer name or reference, in characters.
pub const TITLE_MAX_CHARS: usize = 256;
/// Longest identity number or phone number, in characters.
pub const NUMBER_MAX_CHARS: usize = 64;
/// Most documents a case may carry in total, and most parties it may name.
pub const ITEMS_MAX: usize = 200;

/// The agencies taking part in a case: who may read it and hear of its steps (docs/law.md §1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parties {
    /// The agency in each role now.
    pub by_role: BTreeMap<Role, AgencyCode>,
    /// Agencies that held a role before and may still read the case (a police organ that
    /// forwarded a referral, a receiver whose objection moved a transfer on).
    #[serde(default)]
    pub former: Vec<AgencyCode>,
}

impl Parties {
    /// Parties with the given roles and nobody former.
    pub fn of(roles: impl IntoIterator<Item = (Role, AgencyCode)>) -> Parties {
        Parties {
            by_role: roles.into_iter().collect(),
            former: Vec::new(),
        }
    }

    /// The agency in `role`.
    pub fn get(&self, role: Role) -> Option<&AgencyCode> {
        self.by_role.get(&role)
    }

    /// The roles `code` holds now (an agency may hold several, e.g. a coordination office
    /// that is also the common superior).
    pub fn roles_of(&self, code: &AgencyCode) -> Vec<Role> {
        self.by_role
            .iter()
            .filter(|(_, c)| *c == code)
            .map(|(r, _)| *r)
            .collect()
    }

    /// Whether `code` is a party, now or before: only parties may read a case.
    pub fn contains(&self, code: &AgencyCode) -> bool {
        self.by_role.values().any(|c| c == code) || self.former.contains(code)
    }

    /// Every party, current roles first, without repeats.
    pub fn all(&self) -> Vec<AgencyCode> {
        let mut all: Vec<AgencyCode> = Vec::new();
        for code in self.by_role.values().chain(&self.former) {
            if !all.contains(code) {
                all.push(code.clone());
            }
        }
        all
    }

    /// Moves the agency in `role` to `former` and puts `code` in its place.
    pub fn replace(&mut self, role: Role, code: AgencyCode) {
        if let Some(old) = self.by_role.insert(role, code)
            && !self.former.contains(&old)
            && !self.by_role.values().any(|c| *c == old)
        {
            self.former.push(old);
        }
    }
}

/// A family's case value, as the generic case service stores and shows it.
pub trait Case {
    /// The case id.
    fn id(&self) -> CaseId;
    /// Number of accepted steps (1 after the case is opened).
    fn version(&self) -> u64;
    /// The status name (snake_case), as in the authorization table and listings.
    fn status_name(&self) -> &'static str;
    /// The parties now (and those that held a role before).
    fn parties(&self) -> Parties;
    /// Every accepted step, oldest first, in a family-independent form.
    fn timeline(&self) -> Vec<TimelineEntry>;
    /// One line describing the case for lists, without personal data: the suspected offence or
    /// violation, the kind of opinion, the question in dispute. Its status is a field of its own.
    fn headline(&self) -> String;
    /// Who opened the case and when: its first step's agency and time (for the recipient, when
    /// it arrived). `None` only for a case without steps, which is never stored.
    fn opened(&self) -> Option<(&AgencyCode, Timestamp)>;
    /// The short description its parties read in their lists (案件基本情况, or the question put
    /// to an expert); empty when the headline says it all. May name persons: shown only to
    /// parties, never logged.
    fn summary(&self) -> &str;
}

/// The agency and time of a history's first step: who opened the case, and when.
pub fn opened_by<S>(history: &[HistoryEntry<S>]) -> Option<(&AgencyCode, Timestamp)> {
    history.first().map(|first| (&first.actor, first.at))
}

/// One accepted step of a case, typed by the family's step enum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry<S> {
    /// The step.
    pub step: S,
    /// Who took it.
    pub actor: AgencyCode,
    /// When it was accepted.
    pub at: Timestamp,
    /// Note, reasons or explanation given with it (may be empty).
    pub note: String,
    /// Documents the step carried.
    #[serde(default)]
    pub documents: Vec<Document>,
}

/// A step of any family, for the case timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The step's snake_case name.
    pub step: String,
    /// Who took it.
    pub actor: AgencyCode,
    /// When it was accepted.
    pub at: Timestamp,
    /// Its free text.
    pub note: String,
    /// Its documents.
    pub documents: Vec<Document>,
}

impl<S: StepName> HistoryEntry<S> {
    /// The family-independent form.
    pub fn to_timeline(&self) -> TimelineEntry {
        TimelineEntry {
            step: self.step.name().to_owned(),
            actor: self.actor.clone(),
            at: self.at,
            note: self.note.clone(),
            documents: self.documents.clone(),
        }
    }
}

/// A family's step enum: every step has a stable snake_case name, used in the authorization
/// table, in history and in refusals.
pub trait StepName: Copy {
    /// The family the step belongs to.
    const FAMILY: Family;
    /// The snake_case name.
    fn name(self) -> &'static str;
}

/// A family's event kind: its name is the second word of the routing key.
pub trait EventName {
    /// The snake_case name, e.g. `receipt_signed`.
    fn name(&self) -> &'static str;
}

/// Something that happened to a case, to tell the parties in `recipients`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEvent<K> {
    /// The case.
    pub case_id: CaseId,
    /// What happened.
    pub kind: K,
    /// Who did it.
    pub actor: AgencyCode,
    /// When.
    pub at: Timestamp,
    /// Who must be told; never the actor, only parties.
    pub recipients: Vec<AgencyCode>,
}

/// An accepted command's outcome: the case after it and what to tell whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<C, K> {
    /// The case after the command.
    pub case: C,
    /// Events to deliver, in order.
    pub events: Vec<CaseEvent<K>>,
}

/// A case that records its steps: what [`Outcome`] needs to write an accepted step.
pub trait Recorded<S>: Case {
    /// The history, to append to.
    fn history_mut(&mut self) -> &mut Vec<HistoryEntry<S>>;
    /// The version, to increment.
    fn version_mut(&mut self) -> &mut u64;
    /// Who hears of a step (the actor and non-parties are filtered out).
    fn notified(&self) -> Vec<AgencyCode>;
}

/// An accepted step being recorded: the next case, its note and documents, and its events.
#[derive(Debug)]
pub struct Outcome<C, S, K> {
    /// The case after the step, changed by the family's transition.
    pub case: C,
    /// The step's free text, for the history.
    pub note: String,
    /// The documents the step carried, for the history.
    pub documents: Vec<Document>,
    step: S,
    actor: AgencyCode,
    now: Timestamp,
    kinds: Vec<K>,
}

impl<C: Recorded<S>, S: Copy, K> Outcome<C, S, K> {
    pub fn new(case: C, step: S, actor: &Agency, now: Timestamp) -> Outcome<C, S, K> {
        Outcome {
            case,
            note: String::new(),
            documents: Vec::new(),
            step,
            actor: actor.code.clone(),
            now,
            kinds: Vec::new(),
        }
    }

    /// When the step is taken.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The step taken.
    pub fn step(&self) -> S {
        self.step
    }

    /// Adds an event; a step may emit several, in order.
    pub fn event(&mut self, kind: K) {
        self.kinds.push(kind);
    }

    /// Increments the version, appends the history entry, and addresses each event to the
    /// parties the case notifies, never the actor.
    pub fn finish(self) -> Decision<C, K> {
        let Outcome {
            mut case,
            note,
            documents,
            step,
            actor,
            now,
            kinds,
        } = self;
        *case.version_mut() += 1;
        case.history_mut().push(HistoryEntry {
            step,
            actor: actor.clone(),
            at: now,
            note,
            documents,
        });
        let recipients = recipients(&case.parties(), &actor, case.notified());
        let events = kinds
            .into_iter()
            .map(|kind| CaseEvent {
                case_id: case.id(),
                kind,
                actor: actor.clone(),
                at: now,
                recipients: recipients.clone(),
            })
            .collect();
        Decision { case, events }
    }
}

/// Why a command was refused. Nothing changes when a command is refused. Every refusal names
/// the rule that refused it ([`Rejection::rule`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A case with this id already exists.
    #[error("a case {case_id} already exists")]
    AlreadyExists {
        /// The existing case.
        case_id: CaseId,
    },
    /// No case exists for a command that needs one.
    #[error("no such case exists, so step {step} cannot be taken")]
    NotFound {
        /// The refused step.
        step: &'static str,
    },
    /// The acting agency's kind cannot take this step.
    #[error(
        "step {step} must be taken by {}, not by an agency of kind {actual} ({basis})",
        kinds(required)
    )]
    WrongRole {
        /// The refused step.
        step: &'static str,
        /// The kinds that may take it.
        required: &'static [AgencyKind],
        /// The actor's kind.
        actual: AgencyKind,
        /// The legal basis of the permission.
        basis: &'static str,
    },
    /// The actor is a party, but the step belongs to another party.
    #[error(
        "step {step} on this case is for the {role} ({}) to take, not the acting agency ({basis})",
        expected.as_ref().map_or("not yet named".to_owned(), ToString::to_string)
    )]
    NotAddressee {
        /// The refused step.
        step: &'static str,
        /// The role that may take it.
        role: Role,
        /// The agency in that role, if one holds it yet.
        expected: Option<AgencyCode>,
        /// The legal basis of the permission.
        basis: &'static str,
    },
    /// The actor has nothing to do with this case.
    #[error("the acting agency is not a party to this case and cannot take step {step}")]
    NotAParty {
        /// The refused step.
        step: &'static str,
    },
    /// The step is not allowed in the current status.
    #[error("step {step} is not allowed while the case is {status}; it is allowed when {}", allowed.join(" or "))]
    WrongState {
        /// The refused step.
        step: &'static str,
        /// The case's status.
        status: &'static str,
        /// The statuses that allow it.
        allowed: &'static [&'static str],
    },
    /// Another case named in the command does not exist (or is not of this family).
    #[error("{field} {case_id} names no case of this family")]
    UnknownCase {
        /// The input field naming it.
        field: &'static str,
        /// The unknown case.
        case_id: CaseId,
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
    /// Required documents are missing: every one is named (issue 15: an S1-6 refusal named only
    /// the first of two).
    #[error("no {} is included, which {rule} requires here", missing_list(kinds))]
    MissingDocument {
        /// The missing kinds, in the order the rule lists them; never empty.
        kinds: Vec<DocumentKind>,
        /// The rule requiring it, e.g. `S1-6`.
        rule: &'static str,
    },
    /// An input value is malformed.
    #[error("{} {reason}", item_path(field, *item))]
    Invalid {
        /// The input field; in a list, the list and the item's field (`documents.title`).
        field: &'static str,
        /// In a list, which item (from 0): the path is then `documents[2].title`.
        item: Option<usize>,
        /// What is wrong, as a phrase following the field name.
        reason: String,
    },
    /// A legal rule forbids the step, e.g. an objecting receiver passing a case on (F2).
    /// The message is the reason; every adapter adds the rule id ([`Rejection::rule`]).
    #[error("{reason}")]
    Forbidden {
        /// The rule id that forbids it.
        rule: &'static str,
        /// The input field concerned, if any.
        field: Option<&'static str>,
        /// Why.
        reason: String,
    },
}

fn kinds(required: &[AgencyKind]) -> String {
    let names: Vec<String> = required
        .iter()
        .map(|k| match k {
            AgencyKind::Administrative | AgencyKind::Expert => format!("an {k} agency"),
            _ => format!("a {k} agency"),
        })
        .collect();
    names.join(" or ")
}

impl Rejection {
    /// A short id of the rule that refused the command.
    pub fn rule(&self) -> &'static str {
        match self {
            Rejection::AlreadyExists { .. }
            | Rejection::NotFound { .. }
            | Rejection::UnknownCase { .. }
            | Rejection::WrongState { .. } => "STATE",
            Rejection::WrongRole { .. } => "AUTH-ROLE",
            Rejection::NotAddressee { .. } => "AUTH-ADDRESSEE",
            Rejection::NotAParty { .. } => "AUTH-PARTY",
            Rejection::UnknownAgency { .. } | Rejection::WrongRecipientKind { .. } => "DIR",
            Rejection::MissingDocument { rule, .. } | Rejection::Forbidden { rule, .. } => rule,
            Rejection::Invalid { .. } => "INPUT",
        }
    }

    /// Which item of a list the offending field is in, when it is in one (see [`item_path`]).
    pub fn item(&self) -> Option<usize> {
        match self {
            Rejection::Invalid { item, .. } => *item,
            _ => None,
        }
    }

    /// The offending input field, when there is one (domain naming; services rename it to the
    /// wire name).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Rejection::UnknownAgency { field, .. }
            | Rejection::UnknownCase { field, .. }
            | Rejection::WrongRecipientKind { field, .. }
            | Rejection::Invalid { field, .. } => Some(field),
            Rejection::Forbidden { field, .. } => *field,
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

/// Looks the actor up in the directory: the directory's record is used, so a caller cannot
/// grant itself another kind.
pub fn known_actor<'a>(directory: &'a Directory, actor: &Agency) -> Result<&'a Agency, Rejection> {
    directory
        .get(&actor.code)
        .ok_or_else(|| Rejection::UnknownAgency {
            field: "actor",
            code: actor.code.clone(),
        })
}

/// The agency `code` names, which must be of kind `expected`.
pub fn require_agency<'a>(
    directory: &'a Directory,
    field: &'static str,
    code: &AgencyCode,
    expected: AgencyKind,
) -> Result<&'a Agency, Rejection> {
    let agency = directory
        .get(code)
        .ok_or_else(|| Rejection::UnknownAgency {
            field,
            code: code.clone(),
        })?;
    if agency.kind == expected {
        Ok(agency)
    } else {
        Err(Rejection::WrongRecipientKind {
            field,
            code: code.clone(),
            expected,
            actual: agency.kind,
        })
    }
}

/// An [`Rejection::Invalid`] for `field`.
pub fn invalid(field: &'static str, reason: impl Into<String>) -> Rejection {
    Rejection::Invalid {
        field,
        item: None,
        reason: reason.into(),
    }
}

/// The path of `field` in item `item` of its list, as the contract names it: the index goes
/// after the list's name (`documents.title`, 2 → `documents[2].title`; `parties`, 0 →
/// `parties[0]`). Without an item, the field as it is.
pub fn item_path(field: &str, item: Option<usize>) -> String {
    match item {
        None => field.to_owned(),
        Some(i) => match field.split_once('.') {
            Some((list, rest)) => format!("{list}[{i}].{rest}"),
            None => format!("{field}[{i}]"),
        },
    }
}

/// `check` for item `item` of a list: an [`Rejection::Invalid`] it returns names the item.
fn in_item(item: usize, check: Result<(), Rejection>) -> Result<(), Rejection> {
    check.map_err(|rejection| match rejection {
        Rejection::Invalid { field, reason, .. } => Rejection::Invalid {
            field,
            item: Some(item),
            reason,
        },
        other => other,
    })
}

/// Checks a free-text field: not blank when required, at most `max` characters.
pub fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<(), Rejection> {
    if required && value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    // Text is printed on officers' terminals and pages: no control character but a line break
    // (a browser's CRLF included), and no bidirectional override that reorders what is shown
    // (issue 12, D5: an ESC sequence in a title erased lines of a police officer's terminal).
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        let line_break = c == '\n' || (c == '\r' && chars.peek() == Some(&'\n'));
        let reorders = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if (c.is_control() && !line_break) || reorders {
            return Err(invalid(
                field,
                format!(
                    "must not contain the control character U+{:04X}; only line breaks are allowed",
                    u32::from(c)
                ),
            ));
        }
    }
    let len = value.chars().count();
    if len > max {
        return Err(invalid(
            field,
            format!("must be at most {max} characters, it has {len}"),
        ));
    }
    Ok(())
}

/// The fewest and most digits a phone number may have: a short service number (95598) to an
/// international number with an extension.
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 5..=20;

/// Checks a phone number, as the contract states it: digits, with an optional leading `+` and
/// single hyphens between groups (`0591-87654321`, `+86-591-87654321`, `13800000000`).
pub fn phone(field: &'static str, value: &str, required: bool) -> Result<(), Rejection> {
    if value.is_empty() {
        return match required {
            true => Err(invalid(field, "is required: a phone number")),
            false => Ok(()),
        };
    }
    let number = value.strip_prefix('+').unwrap_or(value);
    let groups_are_digits = number
        .split('-')
        .all(|group| !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit()));
    let digits = number.bytes().filter(u8::is_ascii_digit).count();
    if !groups_are_digits || !PHONE_DIGITS.contains(&digits) {
        return Err(invalid(
            field,
            format!(
                "must be a phone number: {}–{} digits, with an optional leading + and single \
                 hyphens between groups (e.g. 0591-87654321)",
                PHONE_DIGITS.start(),
                PHONE_DIGITS.end()
            ),
        ));
    }
    Ok(())
}

/// Checks documents being added to `already` existing ones.
pub fn documents(added: &[Document], already: usize) -> Result<(), Rejection> {
    if already.saturating_add(added.len()) > ITEMS_MAX {
        return Err(invalid(
            "documents",
            format!("must hold at most {ITEMS_MAX} documents in total"),
        ));
    }
    for (i, document) in added.iter().enumerate() {
        in_item(
            i,
            text("documents.title", &document.title, TITLE_MAX_CHARS, true),
        )?;
    }
    Ok(())
}

/// Checks the parties a case names.
pub fn parties(parties: &[Party]) -> Result<(), Rejection> {
    if parties.len() > ITEMS_MAX {
        return Err(invalid(
            "parties",
            format!("must name at most {ITEMS_MAX} parties"),
        ));
    }
    for (i, party) in parties.iter().enumerate() {
        in_item(
            i,
            text("parties.name", party.name.expose(), TITLE_MAX_CHARS, true),
        )?;
        if let Some(id) = &party.id_number {
            in_item(
                i,
                text("parties.id_number", id.expose(), NUMBER_MAX_CHARS, false),
            )?;
        }
    }
    Ok(())
}

/// The first kind in `required` that `documents` lacks.
/// The required kinds `documents` lacks, in the order of `required`; `None` when none is missing.
pub fn missing(documents: &[Document], required: &[DocumentKind]) -> Option<Vec<DocumentKind>> {
    let missing: Vec<DocumentKind> = required
        .iter()
        .copied()
        .filter(|&kind| !documents.iter().any(|d| d.kind == kind))
        .collect();
    (!missing.is_empty()).then_some(missing)
}

/// Missing kinds as a refusal names them: `seized_items_list (涉案物品清单) and test_report (…)`.
fn missing_list(kinds: &[DocumentKind]) -> String {
    let named: Vec<String> = kinds
        .iter()
        .map(|k| format!("{k} ({})", k.label_zh()))
        .collect();
    match named.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => "document".to_owned(),
    }
}

/// The recipients of an event: each party in `to` once, never the actor, only parties.
pub fn recipients(
    parties: &Parties,
    actor: &AgencyCode,
    to: impl IntoIterator<Item = AgencyCode>,
) -> Vec<AgencyCode> {
    let mut unique: Vec<AgencyCode> = Vec::new();
    for code in to {
        if code != *actor && parties.contains(&code) && !unique.contains(&code) {
            unique.push(code);
        }
    }
    unique
}

/// `value / unit` rounded up, for positive `unit`.
pub fn div_ceil(value: i64, unit: i64) -> i64 {
    let quotient = value / unit;
    if value % unit > 0 {
        quotient + 1
    } else {
        quotient
    }
}

/// Displays a status list for messages.
#[derive(Debug)]
pub struct Statuses<'a>(pub &'a [&'a str]);

impl fmt::Display for Statuses<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" or "))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
