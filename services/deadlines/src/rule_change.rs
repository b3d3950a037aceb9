//! What a change of the rule table does to the obligations opened under the old one (issue 13:
//! clocks that started, stopped or closed on the wrong event), as a pure function of the rule
//! table, the definitions the stored due times were counted under (`deadlines_rules`) and the
//! case's other obligations, so each case is tested without a database.
//! [`crate::handler::Deadlines::recount_changed_rules`] applies it at start-up, in batches, and
//! puts what moves on the record.
//!
//! An open obligation of a rule whose timing changed ([`RuleChanges::restate`]):
//! 1. counts the rule's period (extensions already granted stay in its ledger);
//! 2. when the trigger changed, starts when the latest *sibling* did, not after its own start: an
//!    obligation of the same case under a rule whose every trigger event is one of this rule's
//!    (found from the table: SJ-13 for SAMR-45 on `opinion.requested`, RCPT-F and RCPT-FU for
//!    SAMR-18 on `transfer.sent`, LOC-ACC for SAMR-16 on `dispute.referred`). Without one the
//!    start is kept, and said so;
//! 3. loses the stops recorded for an event that no longer stops the rule (a stop's `why` begins
//!    with its event). Stops a new `pauses_only_if` filter might have kept out are left: the
//!    stopping event's detail is not kept here, so they are only counted;
//! 4. closes when an event the rule is now closed by was taken after it started, as the
//!    sibling that event closed shows (`closed_event`); an event that closed nothing else in the
//!    case is not known here.
//!
//! When no definition is stored for a rule (a database counted before they were kept), what
//! changed is not known: every step applies as if everything had, which moves nothing that
//! was right (an obligation whose sibling started with it keeps its start; one the event
//! would have closed is closed already).

use std::collections::{BTreeMap, BTreeSet};

use casebridge_core::deadline::{Pause, Rule, RuleKind, RuleTable, Timing, cst_minute};
use casebridge_core::time::Timestamp;

use crate::store::{CountedRule, ObligationRow};

/// The timer rules whose timing differs from the one the stored due times were counted under.
#[derive(Debug, Clone)]
pub struct RuleChanges<'a> {
    rules: &'a RuleTable,
    /// Each changed rule, with the definition its obligations were counted under when that is
    /// known (`None`: none stored, or one this version cannot read).
    changed: BTreeMap<String, Option<Timing>>,
}

/// How an obligation's start came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Not re-derived: the trigger did not change, or (when that is not known) no other rule
    /// starts on its events, so there is nothing to derive it from.
    Kept,
    /// A sibling started on the current trigger at the same moment: the start stands.
    Confirmed,
    /// Moved from `was` to the start of the obligation `sibling`, under `rule`.
    Moved {
        was: Timestamp,
        rule: String,
        sibling: i64,
    },
    /// No sibling started on the current trigger at or before it: the start is kept. `known`
    /// when the trigger is known to have changed (not only possibly).
    NoSibling { known: bool },
}

/// One obligation restated under the rule in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Restated {
    /// The row with the rule's period, its start and its ledger (the due and warning times are
    /// still the old ones: the caller recounts them on the calendar in force).
    pub row: ObligationRow,
    pub start: Start,
    /// When an event the rule is now closed by was taken after the start: when, and which.
    pub closed: Option<(Timestamp, String)>,
    /// Stops dropped because their event no longer stops the rule.
    pub dropped: Vec<Pause>,
    /// Stops kept that a new `pauses_only_if` filter might have kept out.
    pub unclassified: usize,
    /// The rule's owing role changed: the obligation stays with the agency that owed it.
    pub owner_changed: bool,
    /// One phrase per change, for the record.
    pub reasons: Vec<String>,
}

impl Restated {
    /// Whether anything stored about the obligation changes (its due time may still not).
    pub fn changes(&self, before: &ObligationRow) -> bool {
        self.row.started_at != before.started_at
            || self.row.period != before.period
            || self.row.changes != before.changes
            || self.closed.is_some()
    }
}

/// The definitions of the table's timer rules, as stored once their obligations are counted.
pub fn counted(rules: &RuleTable) -> Vec<CountedRule> {
    rules
        .rules()
        .iter()
        .filter(|r| r.kind == RuleKind::Timer)
        .map(|r| {
            let timing = r.timing();
            CountedRule {
                rule: r.id.clone(),
                fingerprint: timing.digest(),
                timing: timing.canonical(),
            }
        })
        .collect()
}

/// The event a stop was recorded for: its `why` begins with it (`opinion.requested (opinion
/// <case>)` for a request under another case, see `stop_clocks`).
fn stop_event(pause: &Pause) -> Option<&str> {
    pause
        .why
        .split_whitespace()
        .next()
        .filter(|event| event.contains('.'))
}

impl<'a> RuleChanges<'a> {
    /// Compares the table in force with the definitions `stored` (see [`counted`]).
    pub fn new(rules: &'a RuleTable, stored: &[CountedRule]) -> RuleChanges<'a> {
        let stored: BTreeMap<&str, &CountedRule> =
            stored.iter().map(|c| (c.rule.as_str(), c)).collect();
        let changed = rules
            .rules()
            .iter()
            .filter(|r| r.kind == RuleKind::Timer)
            .filter_map(|r| {
                let before = stored.get(r.id.as_str());
                let digest = r.timing_digest();
                if before.is_some_and(|c| c.fingerprint == digest) {
                    return None;
                }
                Some((r.id.clone(), before.and_then(|c| Timing::parse(&c.timing))))
            })
            .collect();
        RuleChanges { rules, changed }
    }

    /// The ids of the changed rules, in order.
    pub fn rules(&self) -> Vec<String> {
        self.changed.keys().cloned().collect()
    }

    /// Whether `rule`'s trigger changed: `None` when not known.
    fn trigger_changed(&self, rule: &Rule) -> Option<bool> {
        match self.changed.get(&rule.id) {
            None => Some(false),
            Some(Some(was)) => Some(was.trigger != rule.timing().trigger),
            Some(None) => None,
        }
    }

    /// The rules an obligation of `rule` may take its start from: other timer rules whose
    /// every trigger event is one of `rule`'s (so their obligations started on one of them),
    /// except those whose own trigger changed (their stored starts are the old ones).
    fn sources(&self, rule: &Rule) -> BTreeSet<&str> {
        let trigger: BTreeSet<&str> = rule.trigger.iter().map(String::as_str).collect();
        self.rules
            .rules()
            .iter()
            .filter(|r| r.kind == RuleKind::Timer && r.id != rule.id && !r.trigger.is_empty())
            .filter(|r| r.trigger.iter().all(|t| trigger.contains(t.as_str())))
            .filter(|r| self.trigger_changed(r) != Some(true))
            .map(|r| r.id.as_str())
            .collect()
    }

    /// `row` (open, of a changed rule) restated under the rule in force, given the other
    /// obligations of its case (`siblings`, open or closed; `row` itself is skipped). `None`
    /// when its rule did not change, or is no longer a timer with a period: it is left as is.
    pub fn restate(&self, row: &ObligationRow, siblings: &[ObligationRow]) -> Option<Restated> {
        let was = self.changed.get(&row.rule)?.as_ref();
        let rule = self
            .rules
            .get(&row.rule)
            .filter(|r| r.kind == RuleKind::Timer)?;
        let period = rule.period?;
        let siblings: Vec<&ObligationRow> = siblings
            .iter()
            .filter(|s| s.id != row.id && s.case_id == row.case_id)
            .collect();
        let mut out = row.clone();
        let mut reasons = Vec::new();

        // 1. The period.
        if period != row.period {
            reasons.push(format!(
                "{}'s period is {period} (was {})",
                rule.id, row.period
            ));
            out.period = period;
        }

        // 2. The start, from a sibling that started on the current trigger.
        let start = match self.trigger_changed(rule) {
            Some(false) => Start::Kept,
            changed => {
                let known = changed == Some(true);
                let sources = self.sources(rule);
                let latest = siblings
                    .iter()
                    .filter(|s| sources.contains(s.rule.as_str()))
                    .filter(|s| s.started_at <= row.started_at)
                    .max_by_key(|s| (s.started_at, s.id));
                match latest {
                    _ if sources.is_empty() && !known => Start::Kept,
                    None => Start::NoSibling { known },
                    Some(s) if s.started_at == row.started_at => Start::Confirmed,
                    Some(s) => {
                        reasons.push(format!(
                            "{} starts on {}: counted from {} ({} started then), not {}",
                            rule.id,
                            rule.trigger.join(" or "),
                            cst_minute(s.started_at),
                            s.rule,
                            cst_minute(row.started_at)
                        ));
                        out.started_at = s.started_at;
                        Start::Moved {
                            was: row.started_at,
                            rule: s.rule.clone(),
                            sibling: s.id,
                        }
                    }
                }
            }
        };

        // 3. Stops under events that no longer stop the rule.
        let pauses_on: BTreeSet<&str> = rule.pauses_on.iter().map(String::as_str).collect();
        let (kept, dropped): (Vec<Pause>, Vec<Pause>) = row
            .changes
            .pauses
            .iter()
            .cloned()
            .partition(|p| stop_event(p).is_none_or(|e| pauses_on.contains(e)));
        for p in &dropped {
            reasons.push(format!(
                "{} does not stop on {}: the stop {} → {} no longer counts",
                rule.id,
                stop_event(p).unwrap_or_default(),
                cst_minute(p.from),
                p.until.map_or_else(|| "now".to_owned(), cst_minute)
            ));
        }
        let filter_changed = !rule.pauses_only_if.is_empty()
            && was.is_none_or(|w| w.pauses_only_if != rule.pauses_only_if);
        let unclassified = if filter_changed {
            kept.iter().filter(|p| stop_event(p).is_some()).count()
        } else {
            0
        };
        out.changes.pauses = kept;

        // 4. An event the rule is now closed by, taken after the start.
        let newly: BTreeSet<&str> = rule
            .closed_by
            .iter()
            .map(String::as_str)
            .filter(|e| was.is_none_or(|w| !w.closed_by.iter().any(|c| c == e)))
            .collect();
        let closed = siblings
            .iter()
            .filter_map(|s| Some((s.closed_at?, s.closed_event.as_deref()?)))
            .filter(|(at, event)| *at > out.started_at && newly.contains(event))
            .min_by_key(|(at, _)| *at)
            .map(|(at, event)| (at, event.to_owned()));
        if let Some((at, event)) = &closed {
            reasons.push(format!(
                "{} is fulfilled by {event} too, taken {}",
                rule.id,
                cst_minute(*at)
            ));
        }

        let owner_changed = was.is_some_and(|w| w.owed_by != rule.owed_by);
        Some(Restated {
            row: out,
            start,
            closed,
            dropped,
            unclassified,
            owner_changed,
            reasons,
        })
    }
}

#[cfg(test)]
mod tests {
    use casebridge_core::deadline::{Period, Unit};
    use casebridge_core::ids::{AgencyCode, CaseId};
    use casebridge_core::notice::Family;

    use super::*;
    use crate::store::{Changes, Stage};

    const HEAD: &str = "warn_before = { amount = 1, unit = \"working_days\" }\n";

    /// The rules this module's cases need, as the shipped table has them (issue 13).
    const NEW: &str = r#"
[[rule]]
id = "SJ-13"
family = "opinion"
step = "accept or refuse the request"
step_zh = "决定受理委托，或者不予受理并说明理由（受理／不予受理）"
amount = 7
unit = "working_days"
trigger = ["opinion.requested"]
closed_by = ["opinion.accepted", "opinion.refused"]
owed_by = "expert"
escalate_to = "coordination_office"
basis = "S15 Art 13"

[[rule]]
id = "SAMR-45"
family = "opinion"
step = "deliver the written opinion"
step_zh = "出具书面认定意见（书面意见），作出行政认定"
amount = 15
unit = "working_days"
trigger = ["opinion.requested"]
closed_by = ["opinion.delivered", "opinion.refused"]
pauses_on = ["opinion.material_requested"]
resumes_on = ["opinion.material_supplied"]
owed_by = "expert"
escalate_to = "coordination_office"
basis = "S4 Art 45"

[[rule]]
id = "S1-8"
family = "referral"
step = "decide whether to file"
step_zh = "自接受移送之日起对案件进行审查，决定立案（立案）或者不予立案（不予立案），并书面通知移送案件的行政执法机关"
amount = 3
unit = "calendar_days"
trigger = ["referral.receipt_signed"]
closed_by = ["referral.filed", "referral.declined"]
owed_by = "recipient"
escalate_to = "procuratorate"
basis = "S1 Art 8"

[[rule]]
id = "R562"
family = "referral"
step = "explain a missed filing decision"
step_zh = "应人民检察院的要求，书面说明逾期未作出是否立案决定的理由"
amount = 7
unit = "calendar_days"
trigger = ["referral.explanation_demanded"]
closed_by = ["referral.explanation_given", "referral.filed", "referral.declined"]
owed_by = "recipient"
escalate_to = "procuratorate"
basis = "S5 Art 562"

[[rule]]
id = "SAMR-18"
family = "transfer"
step = "decide whether to open a case"
step_zh = "自收到移送材料之日起核查，决定是否立案（立案）；决定不予立案的（不予立案），向移送机关说明理由；对管辖有异议的，提出异议"
amount = 15
unit = "working_days"
trigger = ["transfer.sent"]
closed_by = ["transfer.accepted", "transfer.objected"]
pauses_on = ["opinion.requested"]
resumes_on = ["opinion.delivered", "opinion.refused"]
pauses_only_if = { "opinion.requested" = "testing" }
owed_by = "recipient"
escalate_to = "coordination_office"
basis = "S4 Arts 18, 64"
"#;

    fn table(rules: &str) -> RuleTable {
        RuleTable::from_toml_str(&format!("{HEAD}{rules}")).expect("rule table")
    }

    /// The table before issue 13: SAMR-45 from acceptance, S1-8 stopping for supplements, R562
    /// answered by an explanation only, SAMR-18 stopping for any opinion request.
    fn old() -> RuleTable {
        table(
            &NEW.replacen(
                "trigger = [\"opinion.requested\"]\nclosed_by = [\"opinion.delivered\"",
                "trigger = [\"opinion.accepted\"]\nclosed_by = [\"opinion.delivered\"",
                1,
            )
            .replace(
                "closed_by = [\"referral.filed\", \"referral.declined\"]\n",
                "closed_by = [\"referral.filed\", \"referral.declined\"]\npauses_on = \
                 [\"referral.supplement_requested\"]\nresumes_on = [\"referral.supplemented\"]\n",
            )
            .replace(
                "[\"referral.explanation_given\", \"referral.filed\", \"referral.declined\"]",
                "[\"referral.explanation_given\"]",
            )
            .replace(
                "pauses_only_if = { \"opinion.requested\" = \"testing\" }\n",
                "",
            ),
        )
    }

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).expect("time")
    }

    fn obligation(id: i64, case_id: CaseId, rule: &str, started: &str) -> ObligationRow {
        let rules = table(NEW);
        let period = rules.get(rule).and_then(|r| r.period).expect("a period");
        ObligationRow {
            id,
            case_id,
            family: Family::Opinion,
            rule: rule.to_owned(),
            owed_by: AgencyCode::parse("12350100MB0100010F").expect("agency"),
            owed_to: None,
            supervisor: None,
            region: "350100".to_owned(),
            started_at: at(started),
            due_at: None,
            warn_at: None,
            stage: Stage::Open,
            closed_at: None,
            closed_event: None,
            late: false,
            period,
            changes: Changes::default(),
            sender: None,
        }
    }

    fn closed(mut row: ObligationRow, when: &str, event: &str) -> ObligationRow {
        row.stage = Stage::Closed;
        row.closed_at = Some(at(when));
        row.closed_event = Some(event.to_owned());
        row
    }

    fn stop(from: &str, until: &str, why: &str) -> Pause {
        Pause {
            from: at(from),
            until: Some(at(until)),
            by: "11350100MB01000064".to_owned(),
            why: why.to_owned(),
        }
    }

    #[test]
    fn only_rules_whose_timing_changed_are_recounted_and_all_when_none_is_stored() {
        let new = table(NEW);
        let all: Vec<String> = ["R562", "S1-8", "SAMR-18", "SAMR-45", "SJ-13"]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(RuleChanges::new(&new, &[]).rules(), all);
        assert!(RuleChanges::new(&new, &counted(&new)).rules().is_empty());
        assert_eq!(
            RuleChanges::new(&new, &counted(&old())).rules(),
            ["R562", "S1-8", "SAMR-18", "SAMR-45"]
        );
        // A stored definition this version cannot read counts as unknown, not as unchanged.
        let mut unreadable = counted(&new);
        unreadable[0].fingerprint = "0".repeat(64);
        unreadable[0].timing = "{".to_owned();
        let changes = RuleChanges::new(&new, &unreadable);
        assert_eq!(changes.rules(), [unreadable[0].rule.clone()]);
    }

    #[test]
    fn a_start_moves_to_the_latest_sibling_on_the_new_trigger_not_after_it() {
        let new = table(NEW);
        let case = CaseId::generate();
        // Requested Mon 2025-09-22, a second request on 09-24, accepted 09-30: SAMR-45 opened
        // on the acceptance. SJ-13 started on each request; the latest before 09-30 counts.
        let first = closed(
            obligation(1, case, "SJ-13", "2025-09-22T10:00:00+08:00"),
            "2025-09-24T10:00:00+08:00",
            "opinion.accepted",
        );
        let second = obligation(2, case, "SJ-13", "2025-09-24T10:00:00+08:00");
        let later = obligation(3, case, "SJ-13", "2025-10-09T10:00:00+08:00");
        let elsewhere = obligation(4, CaseId::generate(), "SJ-13", "2025-09-29T10:00:00+08:00");
        let deliver = obligation(5, case, "SAMR-45", "2025-09-30T10:00:00+08:00");
        let siblings = [first, second, later, elsewhere, deliver.clone()];
        for stored in [counted(&old()), Vec::new()] {
            let changes = RuleChanges::new(&new, &stored);
            let restated = changes
                .restate(&deliver, &siblings)
                .expect("SAMR-45 changed");
            assert_eq!(restated.row.started_at, at("2025-09-24T10:00:00+08:00"));
            assert_eq!(
                restated.start,
                Start::Moved {
                    was: at("2025-09-30T10:00:00+08:00"),
                    rule: "SJ-13".to_owned(),
                    sibling: 2
                }
            );
            assert!(restated.changes(&deliver));
            assert_eq!(
                restated.reasons,
                [
                    "SAMR-45 starts on opinion.requested: counted from 2025-09-24 10:00 CST (SJ-13 \
                  started then), not 2025-09-30 10:00 CST"
                ]
            );
        }
        // Restated again, it stays: the sibling started with it.
        let mut moved = deliver.clone();
        moved.started_at = at("2025-09-24T10:00:00+08:00");
        let again = RuleChanges::new(&new, &counted(&old()))
            .restate(&moved, &siblings)
            .expect("SAMR-45 changed");
        assert_eq!(again.start, Start::Confirmed);
        assert!(!again.changes(&moved));
    }

    #[test]
    fn without_a_sibling_the_start_is_kept_and_said_so() {
        let new = table(NEW);
        let deliver = obligation(
            5,
            CaseId::generate(),
            "SAMR-45",
            "2025-09-30T10:00:00+08:00",
        );
        let restated = RuleChanges::new(&new, &counted(&old()))
            .restate(&deliver, std::slice::from_ref(&deliver))
            .expect("SAMR-45 changed");
        assert_eq!(restated.start, Start::NoSibling { known: true });
        assert_eq!(restated.row, deliver);
        assert!(!restated.changes(&deliver));
        // Not known to have changed: the same, but not certain.
        let unknown = RuleChanges::new(&new, &[])
            .restate(&deliver, &[])
            .expect("all changed");
        assert_eq!(unknown.start, Start::NoSibling { known: false });
        // A trigger that did not change is not re-derived, even from an earlier sibling.
        let case = CaseId::generate();
        let review = obligation(1, case, "S1-8", "2026-03-02T10:00:00+08:00");
        let restated = RuleChanges::new(&new, &counted(&old()))
            .restate(&review, &[])
            .expect("S1-8 changed");
        assert_eq!(restated.start, Start::Kept);
    }

    #[test]
    fn stops_for_events_that_no_longer_stop_the_rule_are_dropped() {
        let new = table(NEW);
        let mut review = obligation(1, CaseId::generate(), "S1-8", "2026-03-02T10:00:00+08:00");
        review.changes.pauses = vec![stop(
            "2026-03-02T11:00:00+08:00",
            "2026-03-05T09:00:00+08:00",
            "referral.supplement_requested",
        )];
        let restated = RuleChanges::new(&new, &counted(&old()))
            .restate(&review, &[])
            .expect("S1-8 changed");
        assert!(restated.row.changes.pauses.is_empty());
        assert_eq!(restated.dropped, review.changes.pauses);
        assert_eq!(
            restated.reasons,
            [
                "S1-8 does not stop on referral.supplement_requested: the stop 2026-03-02 11:00 \
              CST → 2026-03-05 09:00 CST no longer counts"
            ]
        );
        assert_eq!(restated.unclassified, 0);

        // SAMR-18's stops for opinion requests still count if the request was a test, which the
        // deadlines database does not know: kept, and counted.
        let mut decide = obligation(
            2,
            CaseId::generate(),
            "SAMR-18",
            "2026-03-02T10:00:00+08:00",
        );
        decide.changes.pauses = vec![stop(
            "2026-03-05T10:00:00+08:00",
            "2026-03-06T10:00:00+08:00",
            "opinion.requested (opinion 0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7b)",
        )];
        for stored in [counted(&old()), Vec::new()] {
            let restated = RuleChanges::new(&new, &stored)
                .restate(&decide, &[])
                .expect("SAMR-18 changed");
            assert_eq!(restated.row.changes, decide.changes);
            assert_eq!(restated.unclassified, 1);
        }
    }

    #[test]
    fn an_event_the_rule_is_now_closed_by_closes_it_when_taken_after_it_started() {
        let new = table(NEW);
        let case = CaseId::generate();
        let explain = obligation(2, case, "R562", "2026-03-10T10:00:00+08:00");
        // The review closed by the filing on 03-11 shows the filing.
        let review = closed(
            obligation(1, case, "S1-8", "2026-03-02T10:00:00+08:00"),
            "2026-03-11T10:00:00+08:00",
            "referral.filed",
        );
        for stored in [counted(&old()), Vec::new()] {
            let restated = RuleChanges::new(&new, &stored)
                .restate(&explain, std::slice::from_ref(&review))
                .expect("R562 changed");
            assert_eq!(
                restated.closed,
                Some((at("2026-03-11T10:00:00+08:00"), "referral.filed".to_owned()))
            );
            assert_eq!(
                restated.reasons,
                ["R562 is fulfilled by referral.filed too, taken 2026-03-11 10:00 CST"]
            );
        }
        // A filing before the demand answers nothing.
        let early = closed(
            obligation(1, case, "S1-8", "2026-03-02T10:00:00+08:00"),
            "2026-03-09T10:00:00+08:00",
            "referral.filed",
        );
        let restated = RuleChanges::new(&new, &counted(&old()))
            .restate(&explain, &[early])
            .expect("R562 changed");
        assert_eq!(restated.closed, None);
    }

    #[test]
    fn a_period_follows_the_rule_and_extensions_granted_stay() {
        let new = table(NEW);
        let longer = table(&NEW.replacen("amount = 3\n", "amount = 5\n", 1));
        let mut review = obligation(1, CaseId::generate(), "S1-8", "2026-03-02T10:00:00+08:00");
        review.changes.extensions = vec![casebridge_core::deadline::Extension {
            period: Period::new(7, Unit::CalendarDays),
            tier: Some(1),
            until: None,
            by: "11350100MB01000064".to_owned(),
            why: "complex".to_owned(),
            reference: "A-1".to_owned(),
            made_at: at("2026-03-03T10:00:00+08:00"),
        }];
        let restated = RuleChanges::new(&longer, &counted(&new))
            .restate(&review, &[])
            .expect("S1-8 changed");
        assert_eq!(restated.row.period, Period::new(5, Unit::CalendarDays));
        assert_eq!(restated.row.changes, review.changes);
        assert_eq!(
            restated.reasons,
            ["S1-8's period is 5 calendar days (was 3 calendar days)"]
        );
        assert_eq!(restated.start, Start::Kept);
    }
}
