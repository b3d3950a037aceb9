//! Turns events into obligations, and due moments into warnings, misses and escalations.
//!
//! [`Deadlines::on_event`] runs in one transaction per event, deduplicated by message id: it
//! closes the obligations the event fulfils (recording whether the step was late; a late step is
//! never refused), stops or restarts the clocks it names, and opens the obligations it
//! triggers. [`Deadlines::fire_due`] claims a batch of obligations whose moment has come and,
//! in the same transaction, writes their notices to the outbox. Both take the time from the
//! injected clock, so tests move time instead of sleeping.

use std::sync::Arc;

use casebridge_core::calendar::Calendar;
use casebridge_core::deadline::{Obligation, ObligationError, Rule, RuleTable, Supervisor};
use casebridge_core::directory::Directory;
use casebridge_core::ids::AgencyCode;
use casebridge_core::notice::{Notice, Role};
use casebridge_core::time::{Clock, Timestamp};
use casebridge_platform::bus::Message;
use casebridge_platform::outbox::OutboxRelay;
use casebridge_platform::store::{Db, Messaging, StoreError};

use casebridge_core::refusal::{Refusal, RefusalKind};

use crate::api::{self, Reply, Request};
use crate::monitor;
use crate::store::{self, ObligationRow, Stage};

/// How many obligations one timer pass claims: the bounded in-memory window.
pub const BATCH: i64 = 500;

/// The events this service publishes, after the family: `<family>.deadline_warning` etc.
pub const WARNING: &str = "deadline_warning";
pub const MISSED: &str = "deadline_missed";
pub const ESCALATED: &str = "deadline_escalated";

/// The deadlines service logic.
#[derive(Debug, Clone)]
pub struct Deadlines {
    db: Db,
    messaging: Messaging,
    directory: Arc<Directory>,
    rules: Arc<RuleTable>,
    calendar: Arc<Calendar>,
    clock: Arc<dyn Clock>,
    relay: OutboxRelay,
}

/// When an obligation next needs the timer, and what to tell people about its due time.
struct Schedule {
    due_at: Option<Timestamp>,
    warn_at: Option<Timestamp>,
    next_fire_at: Option<Timestamp>,
    explanation: String,
}

impl Deadlines {
    pub fn new(
        db: Db,
        directory: Arc<Directory>,
        rules: Arc<RuleTable>,
        calendar: Arc<Calendar>,
        clock: Arc<dyn Clock>,
        relay: OutboxRelay,
    ) -> Deadlines {
        Deadlines {
            db,
            messaging: Messaging::new(crate::SERVICE),
            directory,
            rules,
            calendar,
            clock,
            relay,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Applies one family event. An `Err` is a passing storage failure: redeliver the event.
    #[tracing::instrument(skip_all, fields(case_id = %notice.case_id, event = %notice.routing_key()))]
    pub async fn on_event(&self, message: &Message, notice: &Notice) -> Result<(), StoreError> {
        if notice.event.starts_with("deadline_") {
            return Ok(());
        }
        let event = notice.routing_key();
        let mut tx = self.db.begin().await?;
        if !self
            .messaging
            .first_delivery(
                &mut tx,
                &message.id.to_string(),
                self.clock.now().as_millis(),
            )
            .await?
        {
            return Ok(());
        }
        for rule in self.rules.closed_by(&event) {
            for row in store::open_for_case(&mut tx, notice.case_id, std::slice::from_ref(&rule.id))
                .await?
            {
                let late = row.due_at.is_some_and(|due| notice.at > due);
                store::close(&mut tx, &row.id, notice.at, late, &event).await?;
                tracing::info!(rule = %rule.id, late, "obligation fulfilled");
            }
        }
        // A request under another case (an expert opinion for a transfer) stops that case's clock.
        let clocked_case = notice
            .detail
            .get("under_case")
            .and_then(|v| v.as_str())
            .and_then(|s| casebridge_core::ids::CaseId::parse(s).ok())
            .unwrap_or(notice.case_id);
        let paused: Vec<&Rule> = self.rules.paused_by(&event).collect();
        let resumed: Vec<&Rule> = self.rules.resumed_by(&event).collect();
        for (rules, pause) in [(paused, true), (resumed, false)] {
            let ids: Vec<String> = rules.iter().map(|r| r.id.clone()).collect();
            for mut row in store::open_for_case(&mut tx, clocked_case, &ids).await? {
                let mut obligation: Obligation = serde_json::from_value(row.ledger.clone())
                    .map_err(|e| StoreError::Corrupt(format!("obligation ledger: {e}")))?;
                let changed = if pause {
                    obligation.pause(notice.at, notice.actor.as_str(), &event)
                } else {
                    obligation.resume(notice.at)
                };
                if changed.is_err() {
                    continue; // already stopped, or not stopped: nothing to do
                }
                let Some(rule) = self.rules.get(&row.rule) else {
                    continue;
                };
                self.reschedule(&mut row, rule, &obligation);
                row.ledger = serde_json::to_value(&obligation)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                store::update_schedule(&mut tx, &row).await?;
            }
        }
        for rule in self
            .rules
            .opened_by(&event)
            .filter(|r| r.applies_to(&notice.detail))
        {
            if let Some(row) = self.open(rule, notice)? {
                store::insert(&mut tx, &row).await?;
                tracing::info!(rule = %rule.id, due = ?row.due_at, "obligation opened");
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The new obligation `rule` puts on the party that owes it, or `None` when the notice does
    /// not name that party.
    fn open(&self, rule: &Rule, notice: &Notice) -> Result<Option<ObligationRow>, StoreError> {
        let (Some(role), Some(period)) = (rule.owed_by, rule.period) else {
            return Ok(None);
        };
        let Some(owed_by) = notice.parties.get(&role).cloned() else {
            tracing::warn!(rule = %rule.id, %role, "the event names no party in this role; no obligation opened");
            return Ok(None);
        };
        let supervisor = self.supervisor(rule, &owed_by, notice);
        // The other party: the sender when the recipient owes, else the recipient.
        let owed_to = [Role::Sender, Role::Recipient]
            .iter()
            .filter_map(|r| notice.parties.get(r))
            .find(|code| **code != owed_by)
            .cloned();
        let obligation = Obligation::new(rule.id.clone(), period, notice.at);
        let mut row = ObligationRow {
            id: uuid::Uuid::new_v4().to_string(),
            case_id: notice.case_id,
            family: notice.family,
            rule: rule.id.clone(),
            region: owed_by.region().as_str().to_owned(),
            owed_by,
            owed_to,
            supervisor,
            started_at: notice.at,
            due_at: None,
            warn_at: None,
            next_fire_at: None,
            stage: Stage::Open,
            closed_at: None,
            closed_event: None,
            late: false,
            explanation: String::new(),
            ledger: serde_json::to_value(&obligation)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        };
        self.reschedule(&mut row, rule, &obligation);
        Ok(Some(row))
    }

    /// Recomputes due, warning and next firing times from the obligation's ledger.
    fn reschedule(&self, row: &mut ObligationRow, rule: &Rule, obligation: &Obligation) {
        let schedule = self.schedule(rule, obligation);
        row.due_at = schedule.due_at;
        row.warn_at = schedule.warn_at;
        row.next_fire_at = schedule.next_fire_at;
        row.explanation = schedule.explanation;
        if row.stage == Stage::Missed && row.due_at.is_some_and(|d| d > self.clock.now()) {
            // Extended or paused past the miss: the obligation is pending again.
            row.stage = Stage::Open;
        }
    }

    fn schedule(&self, rule: &Rule, obligation: &Obligation) -> Schedule {
        let due = match obligation.due(&self.calendar) {
            Ok(due) => due,
            Err(error) => {
                if matches!(error, ObligationError::Calendar(_)) {
                    tracing::warn!(rule = %rule.id, %error, "no due time computed");
                }
                return Schedule {
                    due_at: None,
                    warn_at: None,
                    next_fire_at: None,
                    explanation: format!("no due time: {error}"),
                };
            }
        };
        let lead = self.rules.warn_before(rule);
        let warn_at = if lead.amount == 0 {
            None
        } else {
            obligation.warn_at(&self.calendar, lead).ok()
        };
        Schedule {
            due_at: Some(due.at),
            warn_at,
            next_fire_at: Some(warn_at.unwrap_or(due.at).min(due.at)),
            explanation: due.explanation.join("\n"),
        }
    }

    /// Who hears of a miss: the copied procuratorate for referral steps, the coordination office
    /// of the owing agency's region (or its superiors' regions) for the others, or the owing
    /// agency's superior where the supervisor itself owes the step.
    fn supervisor(&self, rule: &Rule, owed_by: &AgencyCode, notice: &Notice) -> Option<AgencyCode> {
        match rule.escalate_to? {
            Supervisor::Procuratorate => notice.parties.get(&Role::Procuratorate).cloned(),
            Supervisor::CoordinationOffice => {
                if let Some(office) = notice.parties.get(&Role::Coordination) {
                    return Some(office.clone());
                }
                std::iter::once(owed_by.clone())
                    .chain(
                        self.directory
                            .superiors_of(owed_by)
                            .iter()
                            .map(|a| a.code.clone()),
                    )
                    .find_map(|code| {
                        self.directory
                            .coordination_for(&code.region())
                            .map(|a| a.code.clone())
                    })
            }
            Supervisor::Superior => self.directory.get(owed_by)?.superior.clone(),
        }
    }

    /// One timer pass: claims up to [`BATCH`] obligations whose moment has come, publishes
    /// their warnings, misses and escalations through the outbox, and moves them on. Returns how
    /// many it handled; call again at once when that is a full batch.
    pub async fn fire_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let rows = store::claim_firing(&self.db, &mut tx, now, BATCH).await?;
        for row in &rows {
            let due = row.due_at.unwrap_or(now);
            if due > now {
                self.publish(&mut tx, row, WARNING, &row.owed_by, now)
                    .await?;
                store::advance(&mut tx, &row.id, Stage::Warned, Some(due)).await?;
            } else {
                self.publish(&mut tx, row, MISSED, &row.owed_by, now)
                    .await?;
                if let Some(supervisor) = &row.supervisor {
                    self.publish(&mut tx, row, ESCALATED, supervisor, now)
                        .await?;
                }
                store::advance(&mut tx, &row.id, Stage::Missed, None).await?;
            }
        }
        tx.commit().await?;
        if !rows.is_empty() {
            self.relay.wake();
            tracing::info!(count = rows.len(), "deadline moments handled");
        }
        Ok(rows.len())
    }

    async fn publish(
        &self,
        tx: &mut sqlx::AnyConnection,
        row: &ObligationRow,
        event: &str,
        to: &AgencyCode,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let name = |code: &AgencyCode| {
            self.directory
                .get(code)
                .map_or_else(|| code.to_string(), |a| a.name.clone())
        };
        let step = self.rules.get(&row.rule).map_or("", |r| r.step.as_str());
        let due = row
            .due_at
            .map_or_else(|| "unknown".to_owned(), |d| d.to_string());
        let what = match event {
            WARNING => "is due soon",
            MISSED => "is overdue",
            _ => "is overdue and escalated to the supervisor",
        };
        let notice = Notice {
            case_id: row.case_id,
            family: row.family,
            event: event.to_owned(),
            actor: row.owed_by.clone(),
            at: now,
            recipients: vec![to.clone()],
            summary: format!(
                "{} {} {what} ({step}; due {due}) — {} {}",
                row.rule,
                name(&row.owed_by),
                row.family,
                row.case_id
            ),
            detail: serde_json::json!({
                "rule": row.rule,
                "owed_by": row.owed_by,
                "due_at": row.due_at,
                "started_at": row.started_at,
                "explanation": row.explanation,
            }),
            parties: [(Role::Recipient, row.owed_by.clone())].into(),
            attachments: Vec::new(),
        };
        let message = Message::json(notice.routing_key(), &notice)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.messaging.enqueue(tx, &message, now.as_millis()).await
    }

    /// Answers a monitor query.
    pub async fn handle(&self, request: Request) -> Result<Reply, StoreError> {
        match request {
            Request::Obligations { viewer, mut query } => {
                query.limit = query.limit.clamp(1, api::MAX_PAGE);
                let (rows, next) = monitor::obligations(&self.db, &viewer, &query).await?;
                let obligations = rows
                    .into_iter()
                    .map(|obligation| api::Listed {
                        step: self
                            .rules
                            .get(&obligation.rule)
                            .map_or_else(String::new, |r| r.step.clone()),
                        obligation,
                    })
                    .collect();
                Ok(Reply::Obligations { obligations, next })
            }
            Request::Statistics {
                viewer,
                from,
                to,
                agency,
            } => {
                if from >= to {
                    return Ok(Reply::Refused {
                        refusal: Refusal::new(
                            RefusalKind::InvalidArgument,
                            "MONITOR",
                            Some("from"),
                            format!(
                                "the period must start before it ends ({from} is not before {to})"
                            ),
                        ),
                    });
                }
                let sees_all = monitor::sees_all(&self.directory, &viewer);
                let agencies = monitor::statistics(&self.db, from, to)
                    .await?
                    .into_iter()
                    .filter(|s| sees_all || s.agency == viewer.as_str())
                    .filter(|s| agency.as_ref().is_none_or(|a| s.agency == a.as_str()))
                    .collect();
                Ok(Reply::Statistics { agencies })
            }
        }
    }

    /// The earliest pending moment, so the timer knows how long it may sleep.
    pub async fn next_moment(&self) -> Result<Option<Timestamp>, StoreError> {
        store::next_fire_at(&self.db).await
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}
