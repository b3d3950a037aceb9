//! Turns events into obligations, due moments into warnings, misses and escalations, and
//! answers the monitor, case, report and extension requests.
//!
//! [`Deadlines::on_events`] runs in one transaction per batch, each event deduplicated by message
//! id: it closes the obligations the event fulfils (recording whether the step was late; a late
//! step is never refused), stops or restarts the clocks it names, and opens the obligations it
//! triggers. [`Deadlines::fire_due`] claims a batch of obligations whose moment has come and,
//! in the same transaction, writes their notices to the outbox. [`Deadlines::extend`] is the one
//! command: the owing agency lengthens its own deadline, before it passes, and gets a signed
//! receipt. Every notice this service sends (warning, miss, escalation, extension, monthly
//! reminder, quarterly bulletin, annual statistics) goes on the service's own chain of the
//! full-process record in the transaction that sends it. Everything takes the time from the
//! injected clock, so tests move time instead of sleeping.
//!
//! One `impl Deadlines` per job, over the core in this file (the struct, its constructor and the
//! helpers every job uses: [`Deadlines::obligation`], `reschedule`, `publish`, `deadline_notice`,
//! how an obligation is listed and explained):
//! - `events`: event intake ([`Deadlines::on_events`]: close, stop and restart clocks, open);
//! - `timer`: [`Deadlines::fire_due`], the monthly reminders, the quarterly bulletins, the
//!   annual statistics to superiors, [`Deadlines::next_moment`];
//! - `extend`: [`Deadlines::extend`] and its receipt;
//! - `requests`: [`Deadlines::handle`] (board, statistics, a case's deadlines, reports);
//! - `recount`: [`Deadlines::recount_changed_years`] and [`Deadlines::recount_changed_rules`];
//! - `refusal`: refusals as replies (a leaf: it does not use this file).
//!
//! The job modules use this core; the core uses none of them, so no import runs back.

use std::sync::Arc;

use casebridge_core::calendar::{Calendar, LiveCalendar};
use casebridge_core::deadline::{
    Line, Obligation, ObligationError, Period, RuleTable, cst_minute, cst_minute_zh,
};
use casebridge_core::directory::Directory;
use casebridge_core::dispute::DisputePolicy;
use casebridge_core::ids::AgencyCode;
use casebridge_core::notice::{Notice, Role};
use casebridge_core::time::{Clock, Timestamp};
use casebridge_platform::bus::Message;
use casebridge_platform::ledger::{Chain, Position, Signer};
use casebridge_platform::outbox::OutboxRelay;
use casebridge_platform::store::{Db, Messaging, StoreError};

use crate::api::Listed;
use crate::store::{self, Changes, ObligationRow, Stage};

mod events;
mod extend;
mod recount;
mod refusal;
mod requests;
mod timer;

pub use refusal::extension_refusal;

/// How many obligations one timer pass claims: the bounded in-memory window.
pub const BATCH: i64 = 500;

/// The events this service publishes, after the family: `<family>.deadline_warning` etc.
pub const WARNING: &str = "deadline_warning";
pub const MISSED: &str = "deadline_missed";
pub const ESCALATED: &str = "deadline_escalated";
pub const EXTENDED: &str = "deadline_extended";
/// The monthly reminder (月提示) to each supervisor with overdue obligations in its remit.
pub const REMINDER: &str = "deadline_reminder";
/// The quarterly bulletin (季通报) to every supervisor, for the quarter just ended. It covers
/// every family, so it is filed under `referral` (a notice names one family; 行刑衔接 is what the
/// supervision system is first about): `referral.deadline_bulletin`.
pub const BULLETIN: &str = "deadline_bulletin";
/// The annual statistics (年度统计) of the year just ended, to each agency's superior, one notice
/// per superior listing its subordinates; filed under `referral` like the bulletin:
/// `referral.deadline_annual_statistics`.
pub const ANNUAL_STATISTICS: &str = "deadline_annual_statistics";
/// The alarm for a missed step whose escalation reaches no supervisor (none resolved for the
/// rule and the owing agency): to the fallback supervisor when one is set, and on the record.
pub const UNSUPERVISED: &str = "deadline_unsupervised";
/// A due time moved because the calendar changed (an official year installed) or the rule
/// table did (an obligation may also close then).
pub const RECOUNTED: &str = "deadline_recounted";

/// What [`Deadlines::recount_changed_rules`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesRecounted {
    /// The timer rules whose timing differed from the one the stored due times were counted
    /// under (all of them when none was stored).
    pub rules: Vec<String>,
    /// Open obligations of those rules looked at.
    pub examined: usize,
    /// Open obligations whose due time moved, each on the record.
    pub moved: usize,
    /// Obligations closed by an event their rule is now closed by, each on the record.
    pub closed: usize,
    /// Starts moved to a sibling's.
    pub starts_moved: usize,
    /// Starts kept for want of a sibling to derive them from.
    pub starts_kept: usize,
    /// Stops dropped because their event no longer stops the rule.
    pub pauses_dropped: usize,
    /// Stops kept that a new pause filter might have kept out (not knowable here).
    pub pauses_unclassified: usize,
}

/// The deadlines service logic.
#[derive(Debug, Clone)]
pub struct Deadlines {
    db: Db,
    messaging: Messaging,
    directory: Arc<Directory>,
    rules: Arc<RuleTable>,
    /// The calendar in force; an installed official year replaces it without a restart.
    calendar: LiveCalendar,
    clock: Arc<dyn Clock>,
    relay: OutboxRelay,
    /// The service's chain in the full-process record, and the key that signs its receipts.
    chain: Chain,
    signer: Signer,
    /// Who gets an escalation when no supervisor resolves (`deadlines.fallback_supervisor`).
    fallback_supervisor: Option<AgencyCode>,
    /// Which body rules on disputes, as the disputes service decides it (`disputes.office`):
    /// dispute steps escalate to it.
    disputes: DisputePolicy,
    /// When the service first started on its database (`store::in_service_since`): the
    /// periodic pushes report no period that ended before it.
    in_service_since: Timestamp,
}

/// What the timer must do next with an obligation, given its stage and times at `now`: the new
/// stage and the next moment. A pure function, so every case is tested.
pub fn plan(
    stage: Stage,
    due_at: Option<Timestamp>,
    warn_at: Option<Timestamp>,
    now: Timestamp,
) -> (Stage, Option<Timestamp>) {
    let Some(due) = due_at else {
        // No due time (clock stopped, or no calendar): nothing to fire until it has one.
        return (stage, None);
    };
    match stage {
        Stage::Closed => (Stage::Closed, None),
        Stage::Missed if due <= now => (Stage::Missed, None),
        _ if due <= now => (stage, Some(due)),
        // Due in the future: warn again when the new warning time is still ahead.
        _ => match warn_at {
            Some(warn) if warn > now => (Stage::Open, Some(warn)),
            Some(warn) if stage == Stage::Open => (Stage::Open, Some(warn.min(due))),
            None if stage == Stage::Open => (Stage::Open, Some(due)),
            _ => (Stage::Warned, Some(due)),
        },
    }
}

impl Deadlines {
    pub fn new(
        db: Db,
        directory: Arc<Directory>,
        rules: Arc<RuleTable>,
        calendar: LiveCalendar,
        clock: Arc<dyn Clock>,
        relay: OutboxRelay,
        signer: Signer,
    ) -> Deadlines {
        Deadlines {
            db,
            messaging: Messaging::new(crate::SERVICE),
            directory,
            rules,
            calendar,
            clock,
            relay,
            chain: Chain::new(crate::SERVICE),
            signer,
            fallback_supervisor: None,
            disputes: DisputePolicy::default(),
            in_service_since: Timestamp::from_millis(0),
        }
    }

    /// The moment the service first started on its database, as recorded at start
    /// ([`store::in_service_since`]).
    pub fn with_in_service_since(mut self, since: Timestamp) -> Deadlines {
        self.in_service_since = since;
        self
    }

    /// Escalations whose supervisor does not resolve go to `fallback` (an agency of the
    /// directory; the start-up check verifies it). Without one they are alarms on the record and
    /// on every supervisor's board.
    pub fn with_fallback_supervisor(mut self, fallback: Option<AgencyCode>) -> Deadlines {
        self.fallback_supervisor = fallback;
        self
    }

    /// The dispute policy the disputes service uses, so dispute steps escalate to the office that
    /// will rule on the dispute.
    pub fn with_dispute_policy(mut self, disputes: DisputePolicy) -> Deadlines {
        self.disputes = disputes;
        self
    }

    /// The service's chain in the full-process record.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Sends `notices` through the outbox and puts them on the chain, inside the caller's
    /// transaction. Call it last before the commit: the chain's head row stays locked until then.
    async fn publish(
        &self,
        tx: &mut sqlx::AnyConnection,
        notices: Vec<Notice>,
        now: Timestamp,
    ) -> Result<Vec<Position>, StoreError> {
        let mut messages = Vec::with_capacity(notices.len());
        let mut recorded = Vec::with_capacity(notices.len());
        for notice in notices {
            let message = Message::json(notice.routing_key(), &notice)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            recorded.push((message.id.to_string(), notice));
            messages.push(message);
        }
        store::enqueue_all(tx, &self.messaging, &messages, now).await?;
        self.chain.append(tx, &recorded).await
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn rules(&self) -> &RuleTable {
        &self.rules
    }

    /// The calendar in force now.
    pub fn calendar(&self) -> Arc<Calendar> {
        self.calendar.current()
    }

    /// The live calendar an installation replaces.
    pub fn live_calendar(&self) -> &LiveCalendar {
        &self.calendar
    }

    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    async fn store_changes(
        &self,
        tx: &mut sqlx::AnyConnection,
        row: &mut ObligationRow,
        obligation: &Obligation,
    ) -> Result<(), StoreError> {
        row.changes = Changes {
            pauses: obligation.pauses.clone(),
            extensions: obligation.extensions.clone(),
        };
        let next = self.reschedule(row, obligation);
        store::update_schedule(tx, row, next).await
    }

    /// The pure obligation a stored row describes.
    pub fn obligation(&self, row: &ObligationRow) -> Obligation {
        Obligation {
            rule: row.rule.clone(),
            period: row.period,
            started_at: row.started_at,
            other_reading: self.rules.get(&row.rule).and_then(|r| r.other_reading),
            pauses: row.changes.pauses.clone(),
            extensions: row.changes.extensions.clone(),
        }
    }

    /// Recomputes due and warning times and the stage from the obligation's ledger; returns the
    /// next moment the timer must act on it.
    fn reschedule(&self, row: &mut ObligationRow, obligation: &Obligation) -> Option<Timestamp> {
        let calendar = self.calendar.current();
        let (due_at, warn_at) = match obligation.due(&calendar) {
            Ok(due) => {
                let lead = self
                    .rules
                    .get(&row.rule)
                    .map_or(self.rules.warn_before, |r| self.rules.warn_before(r));
                let warn_at = if lead.amount == 0 {
                    None
                } else {
                    obligation.warn_at(&calendar, lead).ok()
                };
                (Some(due.at), warn_at)
            }
            Err(error) => {
                if matches!(error, ObligationError::Calendar(_)) {
                    // Visible, never a guess: the board shows "no due time" with this reason.
                    tracing::warn!(rule = %row.rule, %error, "no due time computed");
                }
                (None, None)
            }
        };
        row.due_at = due_at;
        row.warn_at = warn_at;
        let (stage, next) = plan(row.stage, due_at, warn_at, self.clock.now());
        row.stage = stage;
        next
    }

    fn name(&self, code: &AgencyCode) -> String {
        self.directory
            .get(code)
            .map_or_else(|| code.to_string(), |a| a.name.clone())
    }

    fn step(&self, rule: &str) -> String {
        self.rules
            .get(rule)
            .map_or_else(String::new, |r| r.step.clone())
    }

    /// A warning, miss, escalation or extension notice about `row`, addressed to `to`. The
    /// detail is kept small (a burst writes thousands): the obligation's own record is one
    /// `ListCaseDeadlines` away, and inbox entries show the summary.
    fn deadline_notice(
        &self,
        row: &ObligationRow,
        event: &str,
        to: Vec<AgencyCode>,
        now: Timestamp,
    ) -> Notice {
        let due = row.due_at.map_or_else(|| "unknown".to_owned(), cst_minute);
        let what = match event {
            WARNING => "is due soon",
            MISSED => "is overdue",
            EXTENDED => "was extended",
            RECOUNTED if row.closed_at.is_some() => "is fulfilled",
            RECOUNTED => "has a new due time",
            UNSUPERVISED => "is overdue and no supervisor resolved: escalation not delivered",
            _ => "is overdue and escalated to the supervisor",
        };
        Notice {
            case_id: row.case_id,
            family: row.family,
            event: event.to_owned(),
            actor: row.owed_by.clone(),
            at: now,
            recipients: to,
            summary: format!(
                "{} {} {what} ({}; due {due}) — {} {}",
                row.rule,
                self.name(&row.owed_by),
                self.step(&row.rule),
                row.family,
                row.case_id
            ),
            detail: serde_json::json!({
                "rule": row.rule,
                "obligation": row.id,
                "owed_by": row.owed_by,
                "due_at": row.due_at,
                "started_at": row.started_at,
            }),
            parties: [(Role::Recipient, row.owed_by.clone())].into(),
            attachments: Vec::new(),
        }
    }

    /// The ledger of `row` for people, from its rule to its due time (and its fulfilment), in
    /// English.
    pub fn explanation(&self, row: &ObligationRow) -> Vec<String> {
        Line::split(self.explanation_lines(row)).0
    }

    /// [`Deadlines::explanation`] in both languages, line for line.
    pub fn explanation_lines(&self, row: &ObligationRow) -> Vec<Line> {
        let counted = self.obligation(row).explain_lines(&self.calendar.current());
        self.explanation_around(row, counted)
    }

    /// The lines around an obligation's own ledger `counted`: its rule before it, its
    /// fulfilment and a missing supervisor after.
    fn explanation_around(&self, row: &ObligationRow, counted: Vec<Line>) -> Vec<Line> {
        let mut lines = Vec::new();
        if let Some(rule) = self.rules.get(&row.rule) {
            lines.push(rule.headline_line());
        }
        lines.extend(counted);
        if let (Some(at), Some(event)) = (row.closed_at, &row.closed_event) {
            lines.push(Line::new(
                format!(
                    "fulfilled by {event} at {}{}",
                    cst_minute(at),
                    if row.late { ", late" } else { "" }
                ),
                format!(
                    "已于{}以{}履行{}",
                    cst_minute_zh(at),
                    casebridge_core::deadline::event_in_chinese(event),
                    if row.late { "（逾期）" } else { "" }
                ),
            ));
        }
        if row.supervisor.is_none() {
            let missed = row.stage == Stage::Missed || row.late;
            let name = self.name(&row.owed_by);
            lines.push(Line::new(
                unsupervised_line(&row.rule, &name, &row.owed_by, missed),
                unsupervised_line_zh(&row.rule, &name, &row.owed_by, missed),
            ));
        }
        lines
    }

    fn listed(&self, obligation: ObligationRow) -> Listed {
        let rule = self.rules.get(&obligation.rule);
        // One count per listed obligation: the due time gives both its ledger and whether it
        // was counted on a provisional year.
        let owed = self.obligation(&obligation);
        let due = owed.due(&self.calendar.current());
        let provisional_years = due
            .as_ref()
            .map(|due| due.provisional_years.clone())
            .unwrap_or_default();
        let (explanation, explanation_zh) =
            Line::split(self.explanation_around(&obligation, owed.explain_due(due)));
        let tiers = rule.map_or(&[][..], |r| &r.extensions[..]);
        Listed {
            provisional_years,
            step: rule.map_or_else(String::new, |r| r.step.clone()),
            step_zh: rule.map_or_else(String::new, |r| r.step_in_chinese().to_owned()),
            explanation,
            explanation_zh,
            extension_tiers: tiers.iter().map(ToString::to_string).collect(),
            extension_tiers_zh: tiers.iter().map(Period::zh).collect(),
            obligation,
        }
    }
}

/// The alarm line of an obligation without a supervisor, on its explanation and in the log.
fn unsupervised_line(rule: &str, name: &str, owed_by: &AgencyCode, missed: bool) -> String {
    let outcome = if missed {
        "escalation not delivered"
    } else {
        "a miss will not be escalated"
    };
    format!("no supervisor resolved for rule {rule} and agency {name} ({owed_by}): {outcome}")
}

/// [`unsupervised_line`] in Chinese, for the Chinese explanation.
fn unsupervised_line_zh(rule: &str, name: &str, owed_by: &AgencyCode, missed: bool) -> String {
    let outcome = if missed {
        "逾期未能报告监督机关"
    } else {
        "如逾期，将无法报告监督机关"
    };
    format!("规则 {rule} 对{name}（{owed_by}）未确定监督机关：{outcome}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn the_plan_warns_then_misses_and_never_fires_twice() {
        let now = t(1_000);
        // Fresh, warning ahead.
        assert_eq!(
            plan(Stage::Open, Some(t(5_000)), Some(t(3_000)), now),
            (Stage::Open, Some(t(3_000)))
        );
        // Warning time already passed: warn at once.
        assert_eq!(
            plan(Stage::Open, Some(t(5_000)), Some(t(500)), now),
            (Stage::Open, Some(t(500)))
        );
        // No warning for this rule: fire at the due time.
        assert_eq!(
            plan(Stage::Open, Some(t(5_000)), None, now),
            (Stage::Open, Some(t(5_000)))
        );
        // Warned, extended: a new warning time ahead warns again.
        assert_eq!(
            plan(Stage::Warned, Some(t(9_000)), Some(t(7_000)), now),
            (Stage::Open, Some(t(7_000)))
        );
        // Warned, still before the due time.
        assert_eq!(
            plan(Stage::Warned, Some(t(5_000)), Some(t(500)), now),
            (Stage::Warned, Some(t(5_000)))
        );
        // Missed stays missed; nothing to fire again.
        assert_eq!(
            plan(Stage::Missed, Some(t(500)), None, now),
            (Stage::Missed, None)
        );
        // Due time passed without a miss yet: miss now.
        assert_eq!(
            plan(Stage::Warned, Some(t(500)), None, now),
            (Stage::Warned, Some(t(500)))
        );
        // Clock stopped: nothing until it restarts.
        assert_eq!(plan(Stage::Warned, None, None, now), (Stage::Warned, None));
        assert_eq!(
            plan(Stage::Closed, Some(t(5_000)), None, now),
            (Stage::Closed, None)
        );
    }
}
