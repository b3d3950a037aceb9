//! The rule table: every deadline rule of docs/law.md §3 as data (`deploy/rules.toml`), so a
//! new family or a corrected amount is a data change, not code.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Line, Period, Unit};
use crate::ids::Sha256Digest;
use crate::notice::{Family, Role};

/// What the engine does with a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// An obligation opened by a trigger event and closed by a fulfilling event, with a
    /// warning, a miss and an escalation.
    Timer,
    /// A limit on an optional step or on times the submission carries: the family service
    /// compares the step's time with it and records the step as late (never refuses it).
    Check,
    /// A step the law names without a period (kept for the ledger and the references).
    None,
}

/// Who hears of a missed deadline (docs/law.md, "Cross-cutting"); resolved for each obligation by
/// [`super::resolve_supervisor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Supervisor {
    /// The procuratorate copied on the referral (立案监督).
    Procuratorate,
    /// The coordination office for the owing agency's region (执法协调).
    CoordinationOffice,
    /// The owing agency's superior in the directory (R561: the next-level procuratorate).
    Superior,
    /// The office that will rule on the dispute (指定管辖, S3 Art 25): the one the case names,
    /// else the one the directory names for its two parties; for the office's own steps, its
    /// superior.
    DisputeOffice,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// As in docs/law.md §3, e.g. `S1-8`.
    pub id: String,
    pub family: Family,
    /// The step, in English with the Chinese term.
    pub step: String,
    /// The same step in Chinese (简体中文), in the register of its legal source. Required of
    /// timer rules; empty only for a check or none rule written without one.
    pub step_zh: String,
    pub kind: RuleKind,
    /// `None` for [`RuleKind::None`].
    pub period: Option<Period>,
    /// Events (`<family>.<event>`) that open the obligation.
    pub trigger: Vec<String>,
    /// Events that fulfil it.
    pub closed_by: Vec<String>,
    /// Events that stop its clock, and that restart it.
    pub pauses_on: Vec<String>,
    pub resumes_on: Vec<String>,
    pub owed_by: Option<Role>,
    pub escalate_to: Option<Supervisor>,
    /// The legal basis, as docs/law.md cites it.
    pub basis: String,
    /// The ⚠ rules: the unit of the other reading, shown when it ends later.
    pub other_reading: Option<Unit>,
    /// How long before the due time to warn; `None` uses the table's default.
    pub warn_before: Option<Period>,
    /// The extension tiers the owing party may reach (with approval, before the deadline), in
    /// order: each is the whole period counted from the start, strictly longer than the last.
    pub extensions: Vec<Period>,
    /// The owing party may announce any later last day before the deadline (S4 Art 45), not
    /// only reach a tier; `extensions`, when given, cap the announced date (a setting, off in
    /// the shipped table).
    pub announce_any_date: bool,
    /// For a stopping event named here, the boolean its detail must have set for it to stop the
    /// clock (e.g. `opinion.requested` → `testing`: only testing, inspection, quarantine and
    /// forensic examination stop SAMR-18 and APL-60, S4 Arts 18, 64; an assistance request does
    /// not). The other `pauses_on` events stop it unconditionally (a suspension, APL-60).
    pub pauses_only_if: BTreeMap<String, String>,
    /// Applies only when the trigger event's detail has this boolean set (e.g. `urgent`).
    pub only_if: Option<String>,
    /// Applies only when the trigger event's detail does not have this boolean set.
    pub unless: Option<String>,
    /// False where docs/law.md marks the rule unverified or configurable.
    pub verified: bool,
    pub note: Option<String>,
}

/// The part of a rule that decides when its obligations start, stop, end and close, and who
/// owes them: what the deadlines service recounts open obligations for when it changes (it keeps
/// one per rule, with its [`Timing::digest`]). Its text (step, basis, note), whether it is
/// verified, who hears of a miss, the warning lead, the flags that choose whether it opens
/// (`only_if`, `unless`) and whether dates may be announced are not: changing them moves no due
/// time already counted.
///
/// Event lists are sorted, so the order they are written in is not a change; extension tiers
/// keep theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    pub kind: RuleKind,
    #[serde(default)]
    pub period: Option<Period>,
    #[serde(default)]
    pub trigger: Vec<String>,
    #[serde(default)]
    pub closed_by: Vec<String>,
    #[serde(default)]
    pub pauses_on: Vec<String>,
    #[serde(default)]
    pub resumes_on: Vec<String>,
    #[serde(default)]
    pub pauses_only_if: BTreeMap<String, String>,
    #[serde(default)]
    pub other_reading: Option<Unit>,
    #[serde(default)]
    pub extensions: Vec<Period>,
    #[serde(default)]
    pub owed_by: Option<Role>,
}

impl Timing {
    /// The definition as stored and digested: JSON with the fields in declaration order.
    pub fn canonical(&self) -> String {
        // Strings, enums, numbers and lists only: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The SHA-256 of [`Timing::canonical`], in hex: equal digests, equal timing.
    pub fn digest(&self) -> String {
        Sha256Digest::of(self.canonical().as_bytes()).to_hex()
    }

    /// A stored definition; `None` when it does not parse (written by another version).
    pub fn parse(text: &str) -> Option<Timing> {
        serde_json::from_str(text).ok()
    }
}

impl Rule {
    /// The rule's timing definition (see [`Timing`]).
    pub fn timing(&self) -> Timing {
        let sorted = |events: &[String]| {
            let set: BTreeSet<String> = events.iter().cloned().collect();
            set.into_iter().collect::<Vec<_>>()
        };
        Timing {
            kind: self.kind,
            period: self.period,
            trigger: sorted(&self.trigger),
            closed_by: sorted(&self.closed_by),
            pauses_on: sorted(&self.pauses_on),
            resumes_on: sorted(&self.resumes_on),
            pauses_only_if: self.pauses_only_if.clone(),
            other_reading: self.other_reading,
            extensions: self.extensions.clone(),
            owed_by: self.owed_by,
        }
    }

    /// The digest of the rule's timing definition: it changes when a change of the rule can
    /// move a due time or close an obligation, and only then.
    pub fn timing_digest(&self) -> String {
        self.timing().digest()
    }

    /// Whether `event` (one of `pauses_on`), with this detail, stops the rule's clock: always,
    /// unless `pauses_only_if` names a flag for that event that the detail does not set.
    pub fn paused_by_detail(&self, event: &str, detail: &serde_json::Value) -> bool {
        self.pauses_only_if.get(event).is_none_or(|name| {
            detail
                .get(name)
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false)
        })
    }

    /// The first line of every explanation under this rule: id, legal basis and step.
    pub fn headline(&self) -> String {
        format!("rule {} ({}): {}", self.id, self.basis, self.step)
    }

    /// The step in Chinese: `step_zh`, or the English step for a check or none rule written
    /// without one.
    pub fn step_in_chinese(&self) -> &str {
        if self.step_zh.is_empty() {
            &self.step
        } else {
            &self.step_zh
        }
    }

    /// [`Rule::headline`] in both languages: `规则 S1-8（S1 第8条；S2 第180条）：…`.
    pub fn headline_line(&self) -> Line {
        Line::new(
            self.headline(),
            format!(
                "规则 {}（{}）：{}",
                self.id,
                basis_zh(&self.basis),
                self.step_in_chinese()
            ),
        )
    }

    /// Whether the rule applies to an event with this detail (its `only_if` / `unless` flags).
    pub fn applies_to(&self, detail: &serde_json::Value) -> bool {
        let flag = |name: &String| {
            detail
                .get(name)
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false)
        };
        self.only_if.as_ref().is_none_or(flag) && !self.unless.as_ref().is_some_and(flag)
    }
}

/// A legal basis as docs/law.md cites it, with its article numbers in Chinese: `S1 Art 8; S2
/// Art 180` → `S1 第8条；S2 第180条`, `S4 Arts 18, 20, 64` → `S4 第18、20、64条`. The source ids
/// (S1, V2 S26, notices/003) are kept: docs/law.md §5 names each.
pub fn basis_zh(basis: &str) -> String {
    basis
        .split(';')
        .map(|part| cite_zh(part.trim()))
        .collect::<Vec<_>>()
        .join("；")
}

/// One citation of a basis in Chinese: `S4 Arts 18, 20, 64` → `S4 第18、20、64条`.
fn cite_zh(cite: &str) -> String {
    let (source, articles) = match cite
        .split_once(" Arts ")
        .or_else(|| cite.split_once(" Art "))
    {
        Some(split) => split,
        None => return cite.replace(", ", "、"),
    };
    let numbers: Vec<&str> = articles.split(',').map(str::trim).collect();
    if numbers.iter().any(|n| {
        n.is_empty()
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '–' || c == '-')
    }) {
        return cite.to_owned();
    }
    format!("{source} 第{}条", numbers.join("、"))
}

/// Why a rule table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("rule table: {0}")]
    Syntax(String),
    #[error("rule {id}: {reason}")]
    Invalid { id: String, reason: String },
}

/// All rules, with the default warning lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTable {
    /// Default warning lead: one working day (docs/law.md §3 cross-cutting), configurable.
    pub warn_before: Period,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    warn_before: Period,
    rule: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    family: Family,
    step: String,
    #[serde(default)]
    step_zh: String,
    #[serde(default = "timer")]
    kind: RuleKind,
    amount: Option<u32>,
    unit: Option<Unit>,
    #[serde(default)]
    trigger: Vec<String>,
    #[serde(default)]
    closed_by: Vec<String>,
    #[serde(default)]
    pauses_on: Vec<String>,
    #[serde(default)]
    resumes_on: Vec<String>,
    owed_by: Option<Role>,
    escalate_to: Option<Supervisor>,
    basis: String,
    other_reading: Option<Unit>,
    warn_before: Option<Period>,
    #[serde(default)]
    extensions: Vec<RawTier>,
    #[serde(default)]
    announce_any_date: bool,
    #[serde(default)]
    pauses_only_if: BTreeMap<String, String>,
    only_if: Option<String>,
    unless: Option<String>,
    #[serde(default = "yes")]
    verified: bool,
    note: Option<String>,
}

/// An extension tier as written: `amount` adds to the previous tier ("+15 working days with
/// approval", S4 Art 18), `to` names the whole period ("to 7 days", S17).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    amount: Option<u32>,
    to: Option<u32>,
    unit: Unit,
}

fn timer() -> RuleKind {
    RuleKind::Timer
}

fn yes() -> bool {
    true
}

impl RuleTable {
    /// Parses and validates `deploy/rules.toml`.
    pub fn from_toml_str(text: &str) -> Result<RuleTable, RuleError> {
        let raw: RawTable =
            toml::from_str(text).map_err(|e| RuleError::Syntax(e.message().to_owned()))?;
        let mut rules = Vec::new();
        let mut ids = BTreeSet::new();
        for (n, value) in raw.rule.into_iter().enumerate() {
            let id = value
                .get("id")
                .and_then(toml::Value::as_str)
                .map_or_else(|| format!("#{}", n + 1), str::to_owned);
            let invalid = |reason: String| RuleError::Invalid {
                id: id.clone(),
                reason,
            };
            let r: RawRule = value
                .try_into()
                .map_err(|e: toml::de::Error| invalid(e.message().to_owned()))?;
            if !ids.insert(r.id.clone()) {
                return Err(invalid("the id is used twice".into()));
            }
            let period = match (r.amount, r.unit) {
                (Some(amount), Some(unit)) => Some(Period::new(amount, unit)),
                (None, None) => None,
                _ => return Err(invalid("amount and unit go together".into())),
            };
            for event in r.trigger.iter().chain(&r.closed_by) {
                if !event.starts_with(&format!("{}.", r.family.as_str())) {
                    return Err(invalid(format!(
                        "event {event:?} is not a {} event",
                        r.family
                    )));
                }
            }
            for event in r.pauses_only_if.keys() {
                if !r.pauses_on.contains(event) {
                    return Err(invalid(format!(
                        "pauses_only_if names {event:?}, which is not one of its pauses_on"
                    )));
                }
            }
            let mut extensions: Vec<Period> = Vec::new();
            for (i, tier) in r.extensions.iter().enumerate() {
                let Some(base) = extensions.last().copied().or(period) else {
                    return Err(invalid("extensions need the rule's amount and unit".into()));
                };
                if tier.unit != base.unit {
                    return Err(invalid(format!(
                        "extension tier {} is in {}, the period in {}",
                        i + 1,
                        tier.unit.as_str(),
                        base.unit.as_str()
                    )));
                }
                let total = match (tier.amount, tier.to) {
                    (Some(add), None) => base.amount.saturating_add(add),
                    (None, Some(to)) => to,
                    _ => {
                        return Err(invalid(format!(
                            "extension tier {} needs exactly one of amount (added) or to (the \
                             whole period)",
                            i + 1
                        )));
                    }
                };
                if total <= base.amount {
                    return Err(invalid(format!(
                        "extension tier {} ({total} {}) is not longer than {base}",
                        i + 1,
                        tier.unit.as_str()
                    )));
                }
                extensions.push(Period::new(total, tier.unit));
            }
            match r.kind {
                RuleKind::Timer => {
                    let missing = [
                        (period.is_none(), "amount and unit"),
                        (r.trigger.is_empty(), "trigger"),
                        (r.closed_by.is_empty(), "closed_by"),
                        (r.owed_by.is_none(), "owed_by"),
                        (r.escalate_to.is_none(), "escalate_to"),
                        (r.step_zh.trim().is_empty(), "step_zh (the step in Chinese)"),
                    ];
                    if let Some((_, field)) = missing.iter().find(|(m, _)| *m) {
                        return Err(invalid(format!("a timer rule needs {field}")));
                    }
                }
                RuleKind::Check if period.is_none() => {
                    return Err(invalid("a check rule needs amount and unit".into()));
                }
                RuleKind::Check | RuleKind::None => {}
            }
            rules.push(Rule {
                id: r.id,
                family: r.family,
                step: r.step,
                step_zh: r.step_zh,
                kind: r.kind,
                period,
                trigger: r.trigger,
                closed_by: r.closed_by,
                pauses_on: r.pauses_on,
                resumes_on: r.resumes_on,
                owed_by: r.owed_by,
                escalate_to: r.escalate_to,
                basis: r.basis,
                other_reading: r.other_reading,
                warn_before: r.warn_before,
                extensions,
                announce_any_date: r.announce_any_date,
                pauses_only_if: r.pauses_only_if,
                only_if: r.only_if,
                unless: r.unless,
                verified: r.verified,
                note: r.note,
            });
        }
        Ok(RuleTable {
            warn_before: raw.warn_before,
            rules,
        })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The timer rules `event` opens.
    pub fn opened_by<'a>(&'a self, event: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.timers()
            .filter(move |r| r.trigger.iter().any(|t| t == event))
    }

    /// The timer rules `event` fulfils.
    pub fn closed_by<'a>(&'a self, event: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.timers()
            .filter(move |r| r.closed_by.iter().any(|t| t == event))
    }

    /// The timer rules whose clock `event` stops.
    pub fn paused_by<'a>(&'a self, event: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.timers()
            .filter(move |r| r.pauses_on.iter().any(|t| t == event))
    }

    /// The timer rules whose clock `event` restarts.
    pub fn resumed_by<'a>(&'a self, event: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.timers()
            .filter(move |r| r.resumes_on.iter().any(|t| t == event))
    }

    /// The warning lead of `rule`.
    pub fn warn_before(&self, rule: &Rule) -> Period {
        rule.warn_before.unwrap_or(self.warn_before)
    }

    fn timers(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| r.kind == RuleKind::Timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMR_45: &str = r#"
warn_before = { amount = 1, unit = "working_days" }

[[rule]]
id = "SAMR-45"
family = "opinion"
step = "deliver the written opinion"
step_zh = "出具书面认定意见"
amount = 15
unit = "working_days"
trigger = ["opinion.requested"]
closed_by = ["opinion.delivered", "opinion.refused"]
pauses_on = ["opinion.material_requested"]
resumes_on = ["opinion.material_supplied"]
owed_by = "expert"
escalate_to = "coordination_office"
basis = "S4 Art 45"
note = "runs from receipt of the request"
"#;

    fn digest(table: &str) -> String {
        let table = RuleTable::from_toml_str(table).expect("rule table");
        table.get("SAMR-45").expect("SAMR-45").timing_digest()
    }

    #[test]
    fn the_timing_digest_ignores_the_text_and_follows_the_timing() {
        let shipped = digest(SAMR_45);
        assert_eq!(shipped.len(), 64, "{shipped}");
        // Text, sources and the order events are listed in move no due time.
        for edit in [
            SAMR_45.replace("runs from receipt of the request", "接到协助调查函之日起"),
            SAMR_45.replace("S4 Art 45", "S4 Art 45; notices/003"),
            SAMR_45.replace("出具书面认定意见", "出具书面意见（书面意见）"),
            SAMR_45.replace(
                "deliver the written opinion",
                "deliver the opinion (书面意见)",
            ),
            SAMR_45.replace(
                r#"["opinion.delivered", "opinion.refused"]"#,
                r#"["opinion.refused", "opinion.delivered"]"#,
            ),
            SAMR_45.replace("coordination_office", "superior"),
        ] {
            assert_eq!(digest(&edit), shipped, "{edit}");
        }
        // Where the clock starts, stops or ends, and what closes it, do.
        for edit in [
            SAMR_45.replace(r#"["opinion.requested"]"#, r#"["opinion.accepted"]"#),
            SAMR_45.replace("amount = 15", "amount = 20"),
            SAMR_45.replace(r#"unit = "working_days""#, r#"unit = "calendar_days""#),
            SAMR_45.replace(r#", "opinion.refused"]"#, "]"),
            SAMR_45.replace(
                r#"resumes_on = ["opinion.material_supplied"]"#,
                "resumes_on = [\"opinion.material_supplied\"]\npauses_only_if = \
                 { \"opinion.material_requested\" = \"testing\" }",
            ),
            SAMR_45.replace(
                r#"basis = "S4 Art 45""#,
                "basis = \"S4 Art 45\"\nextensions = [{ amount = 15, unit = \"working_days\" }]",
            ),
        ] {
            assert_ne!(digest(&edit), shipped, "{edit}");
        }
    }

    #[test]
    fn a_stored_timing_reads_back_as_it_was_written() {
        let table = RuleTable::from_toml_str(SAMR_45).expect("rule table");
        let timing = table.get("SAMR-45").expect("SAMR-45").timing();
        assert_eq!(Timing::parse(&timing.canonical()), Some(timing));
        assert_eq!(Timing::parse("not json"), None);
    }
}
