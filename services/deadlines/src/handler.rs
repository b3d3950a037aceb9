//! Turns events into obligations, due moments into warnings, misses and escalations, and
//! answers the monitor, case, report and extension requests.
//!
//! [`Deadlines::on_event`] runs in one transaction per event, deduplicated by message id: it
//! closes the obligations the event fulfils (recording whether the step was late; a late step is
//! never refused), stops or restarts the clocks it names, and opens the obligations it
//! triggers. [`Deadlines::fire_due`] claims a batch of obligations whose moment has come and,
//! in the same transaction, writes their notices to the outbox. [`Deadlines::extend`] is the one
//! command: the owing agency lengthens its own deadline, before it passes, and gets a signed
//! receipt. Every notice this service sends (warning, miss, escalation, extension, monthly
//! reminder) goes on the service's own chain of the full-process record in the transaction that
//! sends it. Everything takes the time from the injected clock, so tests move time instead of
//! sleeping.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use casebridge_core::calendar::{Calendar, LiveCalendar, start_of_day};
use casebridge_core::deadline::{
    ExtensionRefusal, Obligation, ObligationError, Rule, RuleTable, cst_minute, describe_tiers,
};
use casebridge_core::directory::Directory;
use casebridge_core::dispute::DisputePolicy;
use casebridge_core::ids::{AgencyCode, CaseId, Sha256Digest};
use casebridge_core::ledger::{GENESIS, Receipt};
use casebridge_core::notice::{Family, Notice, Role};
use casebridge_core::refusal::{Refusal, RefusalKind};
use casebridge_core::time::{Clock, Timestamp};
use casebridge_platform::bus::Message;
use casebridge_platform::ledger::{Chain, Position, Signer};
use casebridge_platform::outbox::OutboxRelay;
use casebridge_platform::store::{Db, Idempotency, Messaging, StoreError};

use crate::api::{self, ExtendRequest, Extended, Listed, Reply, Request};
use crate::monitor;
use crate::report;
use crate::rule_change::{self, RuleChanges, Start};
use crate::store::{self, Changes, ObligationRow, Stage};

/// How many obligations one timer pass claims: the bounded in-memory window.
pub const BATCH: i64 = 500;

/// The events this service publishes, after the family: `<family>.deadline_warning` etc.
pub const WARNING: &str = "deadline_warning";
pub const MISSED: &str = "deadline_missed";
pub const ESCALATED: &str = "deadline_escalated";
pub const EXTENDED: &str = "deadline_extended";
/// The monthly reminder (月提示) to each supervisor with overdue obligations in its remit.
pub const REMINDER: &str = "deadline_reminder";
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

/// What a rule recount found, for its result and its log lines.
#[derive(Debug, Default)]
struct Tally {
    done: RulesRecounted,
    /// Stops kept that a new pause filter might have kept out, by rule.
    unclassified: BTreeMap<String, usize>,
    /// Obligations of rules without a recorded definition that kept their start for want of a
    /// sibling (whether their trigger changed is not known).
    unsure: Vec<i64>,
    /// Rules whose owing role changed.
    owners: BTreeSet<String>,
}

impl Tally {
    /// Counts what restating `row` found, and warns of a start kept for want of a sibling.
    fn count(&mut self, row: &ObligationRow, restated: &rule_change::Restated) {
        match &restated.start {
            Start::Moved { .. } => self.done.starts_moved += 1,
            Start::NoSibling { known } => {
                self.done.starts_kept += 1;
                if *known {
                    tracing::warn!(
                        obligation = row.id, rule = %row.rule, case_id = %row.case_id,
                        "the rule's trigger changed and no obligation of the case started on \
                         its new trigger at or before this one: start kept"
                    );
                } else {
                    self.unsure.push(row.id);
                }
            }
            Start::Kept | Start::Confirmed => {}
        }
        self.done.pauses_dropped += restated.dropped.len();
        if restated.unclassified > 0 {
            self.done.pauses_unclassified += restated.unclassified;
            *self.unclassified.entry(row.rule.clone()).or_default() += restated.unclassified;
        }
        if restated.owner_changed {
            self.owners.insert(row.rule.clone());
        }
    }

    /// The warnings about what could not be restated, and one line of what was.
    fn log(&self) {
        if !self.unclassified.is_empty() {
            tracing::warn!(
                stops = ?self.unclassified,
                "clock stops recorded before these rules' pause filter (pauses_only_if) are \
                 kept: whether the event that stopped them passes the filter (an opinion \
                 request's kind) is not kept by the deadlines service; check them on the cases"
            );
        }
        if !self.unsure.is_empty() {
            tracing::warn!(
                count = self.unsure.len(),
                obligations = ?self.unsure.iter().take(50).collect::<Vec<_>>(),
                "the definitions these obligations were counted under are not recorded, and no \
                 obligation of their case started on their rule's trigger at or before them: \
                 start kept (right unless their rule's trigger changed)"
            );
        }
        if !self.owners.is_empty() {
            tracing::warn!(
                rules = ?self.owners,
                "the owing role of these rules changed: open obligations stay with the agency \
                 that owed them"
            );
        }
        let done = &self.done;
        tracing::info!(
            rules = ?done.rules,
            examined = done.examined,
            moved = done.moved,
            closed = done.closed,
            starts_moved = done.starts_moved,
            starts_kept = done.starts_kept,
            pauses_dropped = done.pauses_dropped,
            pauses_unclassified = done.pauses_unclassified,
            "open obligations recounted under the rule table in force"
        );
    }
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
        }
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

    /// What a report reads, now.
    fn report_sources(&self) -> report::Sources<'_> {
        report::Sources {
            db: &self.db,
            now: self.clock.now(),
            directory: &self.directory,
            rules: &self.rules,
        }
    }

    /// Applies family events in one transaction, in the order given (the queue's), each once
    /// however often it is delivered. An `Err` is a passing storage failure: redeliver them all.
    #[tracing::instrument(skip_all, fields(events = batch.len()))]
    pub async fn on_events(&self, batch: &[(Message, Notice)]) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        for (message, notice) in batch {
            self.apply(&mut tx, message, notice).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(case_id = %notice.case_id, event = %notice.routing_key()))]
    async fn apply(
        &self,
        tx: &mut sqlx::AnyConnection,
        message: &Message,
        notice: &Notice,
    ) -> Result<(), StoreError> {
        if notice.event.starts_with("deadline_") {
            return Ok(());
        }
        let event = notice.routing_key();
        if !self
            .messaging
            .first_delivery(
                &mut *tx,
                &message.id.to_string(),
                self.clock.now().as_millis(),
            )
            .await?
        {
            return Ok(());
        }
        for rule in self.rules.closed_by(&event) {
            for row in store::open_for_case(
                &mut *tx,
                notice.case_id,
                std::slice::from_ref(&rule.id),
                store::for_update(&self.db),
            )
            .await?
            {
                let late = row.due_at.is_some_and(|due| notice.at > due);
                store::close(&mut *tx, row.id, notice.at, late, &event).await?;
                tracing::info!(rule = %rule.id, late, "obligation fulfilled");
            }
        }
        self.stop_clocks(&mut *tx, notice, &event).await?;
        self.restart_clocks(&mut *tx, notice, &event).await?;
        for rule in self
            .rules
            .opened_by(&event)
            .filter(|r| r.applies_to(&notice.detail))
        {
            if let Some((mut row, next)) = self.open(rule, notice) {
                row.id = store::insert(&mut *tx, &row, next).await?;
                tracing::info!(rule = %rule.id, due = ?row.due_at, "obligation opened");
            }
        }
        Ok(())
    }

    /// Stops the clocks `event` names. A rule of the event's own family stops in the event's case
    /// (a suspension stops the transfer's APL-60; an expert's request for material its own
    /// SAMR-45); a rule of another family stops in the case the step was taken under
    /// (`detail.under_case`: a test asked for a transferred case stops that case's SAMR-18)
    /// [V S4 Arts 18, 64]. Either way only obligations owed by the agency taking the step stop:
    /// nobody can stop someone else's clock. Each stop is recorded as a hold (`deadlines_links`,
    /// from the event's case to the stopped one) even when another stop already holds the clock,
    /// so the clock restarts only when the last hold ends.
    async fn stop_clocks(
        &self,
        tx: &mut sqlx::AnyConnection,
        notice: &Notice,
        event: &str,
    ) -> Result<(), StoreError> {
        // Only the stops the rule counts: SAMR-18 and APL-60 stop for testing, not for an
        // assistance request (S4 Arts 18, 64), and APL-60 for a suspension (S4 Art 64).
        let (own, other): (Vec<&Rule>, Vec<&Rule>) = self
            .rules
            .paused_by(event)
            .filter(|r| r.paused_by_detail(event, &notice.detail))
            .partition(|r| r.family == notice.family);
        self.stop_in(tx, notice, event, notice.case_id, &own)
            .await?;
        if let Some(target) = under_case(notice) {
            self.stop_in(tx, notice, event, target, &other).await?;
        }
        Ok(())
    }

    /// Stops the clocks of `rules` in `target` that the notice's actor owes, and records the
    /// hold.
    async fn stop_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        notice: &Notice,
        event: &str,
        target: CaseId,
        rules: &[&Rule],
    ) -> Result<(), StoreError> {
        if rules.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = rules.iter().map(|r| r.id.clone()).collect();
        let rows: Vec<ObligationRow> =
            store::open_for_case(tx, target, &ids, store::for_update(&self.db))
                .await?
                .into_iter()
                .filter(|row| {
                    let own = row.owed_by == notice.actor;
                    if !own {
                        tracing::info!(rule = %row.rule, "not stopped: owed by another agency");
                    }
                    own
                })
                .collect();
        if rows.is_empty() {
            return Ok(());
        }
        // Held until this case's step restarts it, even if another stop came first.
        store::open_link(tx, notice.case_id, target, &notice.actor, notice.at).await?;
        for mut row in rows {
            let mut obligation = self.obligation(&row);
            let why = if target == notice.case_id {
                event.to_owned()
            } else {
                format!("{event} ({} {})", notice.family, notice.case_id)
            };
            if obligation
                .pause(notice.at, notice.actor.as_str(), &why)
                .is_err()
            {
                continue; // already stopped: the hold above keeps it so
            }
            self.store_changes(tx, &mut row, &obligation).await?;
            tracing::info!(rule = %row.rule, "clock stopped");
        }
        Ok(())
    }

    /// Restarts the clocks `event` names, as [`Deadlines::stop_clocks`] stopped them: a rule of
    /// the event's own family in its own case, once nothing else holds that case (a suspension
    /// ends while a test is still out: the clock stays stopped); a rule of another family in the
    /// cases this case's requests held, once no other request or suspension holds them.
    async fn restart_clocks(
        &self,
        tx: &mut sqlx::AnyConnection,
        notice: &Notice,
        event: &str,
    ) -> Result<(), StoreError> {
        let (own, other): (Vec<&Rule>, Vec<&Rule>) = self
            .rules
            .resumed_by(event)
            .partition(|r| r.family == notice.family);
        let ids = |rules: &[&Rule]| rules.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        if !own.is_empty() {
            store::close_own_link(tx, notice.case_id, notice.at).await?;
            if store::held(tx, notice.case_id).await? {
                tracing::info!("clock still held by another stop");
            } else {
                self.resume_in(tx, notice, notice.case_id, &ids(&own))
                    .await?;
            }
        }
        if !other.is_empty() {
            for target in store::close_links(tx, notice.case_id, notice.at).await? {
                self.resume_in(tx, notice, target, &ids(&other)).await?;
            }
        }
        Ok(())
    }

    async fn resume_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        notice: &Notice,
        case: CaseId,
        ids: &[String],
    ) -> Result<(), StoreError> {
        for mut row in store::open_for_case(tx, case, ids, store::for_update(&self.db)).await? {
            let mut obligation = self.obligation(&row);
            if obligation.resume(notice.at).is_err() {
                continue; // not stopped
            }
            self.store_changes(tx, &mut row, &obligation).await?;
            tracing::info!(rule = %row.rule, "clock restarted");
        }
        Ok(())
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

    /// The new obligation `rule` puts on the party that owes it, with its first moment, or
    /// `None` when the notice does not name that party.
    fn open(&self, rule: &Rule, notice: &Notice) -> Option<(ObligationRow, Option<Timestamp>)> {
        let role = rule.owed_by?;
        let obligation = Obligation::under(rule, notice.at)?;
        let Some(owed_by) = notice.parties.get(&role).cloned() else {
            tracing::warn!(rule = %rule.id, %role, "the event names no party in this role; no obligation opened");
            return None;
        };
        let supervisor = self.supervisor(rule, &owed_by, notice);
        // The other party: the sender when the recipient owes, else the recipient.
        let owed_to = [Role::Sender, Role::Recipient]
            .iter()
            .filter_map(|r| notice.parties.get(r))
            .find(|code| **code != owed_by)
            .cloned();
        let mut row = ObligationRow {
            id: 0,
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
            stage: Stage::Open,
            closed_at: None,
            closed_event: None,
            late: false,
            period: obligation.period,
            changes: Changes::default(),
        };
        let next = self.reschedule(&mut row, &obligation);
        Some((row, next))
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

    /// Who hears of a miss ([`casebridge_core::deadline::resolve_supervisor`], the resolution the
    /// start-up check verifies): the copied procuratorate for referral steps, the coordination
    /// office for transfer and opinion steps, the office that will rule on the dispute for dispute
    /// steps, the owing agency's superior for R561. When none resolves, the fallback supervisor.
    fn supervisor(&self, rule: &Rule, owed_by: &AgencyCode, notice: &Notice) -> Option<AgencyCode> {
        match casebridge_core::deadline::resolve_supervisor(
            &self.directory,
            &self.disputes,
            rule,
            owed_by,
            &notice.parties,
        ) {
            Ok(supervisor) => Some(supervisor),
            Err(why) => {
                let fallback = self
                    .fallback_supervisor
                    .clone()
                    .filter(|fallback| fallback != owed_by);
                tracing::warn!(
                    rule = %rule.id, %owed_by, %why, fallback = ?fallback,
                    "no supervisor resolved for the obligation"
                );
                fallback
            }
        }
    }

    /// Recomputes the open obligations a calendar change may move: at start-up, and whenever
    /// an official year is installed. The years whose schedule differs from the one the stored
    /// due times were counted on (a provisional year now official, a year first counted) are
    /// found from the `deadlines_calendar` digests; every open obligation due from the first of
    /// them on, or without a due time, is counted again. Each due time that moves is stored and
    /// put on the record with a `deadline_recounted` notice to the owing party and the party it
    /// is owed to. Returns how many moved. Safe to run in several replicas at once: rows are
    /// locked, and a replica that comes second finds nothing left to move.
    pub async fn recount_changed_years(&self) -> Result<usize, StoreError> {
        let calendar = self.calendar.current();
        let counted: std::collections::BTreeMap<i32, String> = store::counted_calendar(&self.db)
            .await?
            .into_iter()
            .collect();
        let now_counted: Vec<(i32, String)> = calendar
            .years()
            .into_iter()
            .filter_map(|year| Some((year, calendar.fingerprint(year)?)))
            .collect();
        let changed: Vec<i32> = now_counted
            .iter()
            .filter(|(year, f)| counted.get(year) != Some(f))
            .map(|(year, _)| *year)
            .collect();
        let Some(first) = changed.first() else {
            return Ok(0);
        };
        let from =
            chrono::NaiveDate::from_ymd_opt(*first, 1, 1).map_or(Timestamp::MIN, start_of_day);
        let installed: Vec<String> = changed
            .iter()
            .filter_map(|year| match calendar.status(*year) {
                casebridge_core::calendar::YearStatus::Official { source } => {
                    Some(format!("{year} ({source})"))
                }
                _ => None,
            })
            .collect();
        let why = if installed.is_empty() {
            "the holiday calendar in force changed".to_owned()
        } else {
            format!(
                "the official holiday calendar was installed: {}",
                installed.join("; ")
            )
        };
        let (mut after, mut moved) = (0, 0);
        loop {
            let mut tx = self.db.begin().await?;
            let rows = store::open_due_from(&self.db, &mut tx, from, after, BATCH).await?;
            let Some(last) = rows.last().map(|r| r.id) else {
                break;
            };
            let now = self.clock.now();
            let mut notices = Vec::new();
            for mut row in rows {
                let before = row.due_at;
                let obligation = self.obligation(&row);
                let next = self.reschedule(&mut row, &obligation);
                if row.due_at == before {
                    continue;
                }
                store::update_schedule(&mut tx, &row, next).await?;
                notices.push(self.recounted(&row, before, &why, now));
                moved += 1;
            }
            if !notices.is_empty() {
                self.publish(&mut tx, notices, now).await?;
            }
            tx.commit().await?;
            self.relay.wake();
            after = last;
        }
        let mut tx = self.db.begin().await?;
        store::set_counted_calendar(&mut tx, &now_counted).await?;
        tx.commit().await?;
        tracing::info!(years = ?changed, moved, "due times recounted on the calendar in force");
        Ok(moved)
    }

    /// The `deadline_recounted` notice of `row`, whose due time was `was` (or which closed), to
    /// the owing party and the party it is owed to, saying why.
    fn recounted(
        &self,
        row: &ObligationRow,
        was: Option<Timestamp>,
        why: &str,
        now: Timestamp,
    ) -> Notice {
        let to: Vec<AgencyCode> = std::iter::once(row.owed_by.clone())
            .chain(row.owed_to.clone())
            .collect();
        let mut notice = self.deadline_notice(row, RECOUNTED, to, now);
        notice.summary = if was == row.due_at && row.closed_at.is_some() {
            format!("{}: {why}", notice.summary)
        } else {
            let was = was.map_or_else(|| "none".to_owned(), cst_minute);
            format!("{} (was {was}): {why}", notice.summary)
        };
        notice
    }

    /// Recomputes the open obligations a change of the rule table affects: at start-up, before
    /// the calendar recount. The timer rules whose timing ([`Rule::timing`]) differs from the
    /// one the stored due times were counted under (`deadlines_rules`; every rule when none is
    /// stored, as in a database counted before they were kept) have their open obligations
    /// restated ([`rule_change`]: the rule's period, the start re-derived from a sibling when
    /// the trigger changed, stops for events that no longer stop the rule dropped, and a close
    /// by an event the rule is now closed by), in batches of [`BATCH`], each in a transaction
    /// with its rows locked. Each due time that moves and each obligation that closes is stored
    /// and put on the record with a `deadline_recounted` notice to the owing party and the party
    /// it is owed to, saying what changed; then the definitions are stored. Safe to run in
    /// several replicas at once, and again: a second run finds nothing changed, and a run cut
    /// off before the end is done again from the start, moving nothing twice.
    pub async fn recount_changed_rules(&self) -> Result<RulesRecounted, StoreError> {
        let stored = store::counted_rules(&self.db).await?;
        let changes = RuleChanges::new(&self.rules, &stored);
        let mut tally = Tally::default();
        tally.done.rules = changes.rules();
        if tally.done.rules.is_empty() {
            return Ok(tally.done);
        }
        let mut after = 0;
        loop {
            let mut tx = self.db.begin().await?;
            let rows =
                store::open_under_rules(&self.db, &mut tx, &tally.done.rules, after, BATCH).await?;
            let Some(last) = rows.last().map(|r| r.id) else {
                break;
            };
            self.restate_batch(&mut tx, &changes, rows, &mut tally)
                .await?;
            tx.commit().await?;
            self.relay.wake();
            after = last;
        }
        let mut tx = self.db.begin().await?;
        store::set_counted_rules(&mut tx, &rule_change::counted(&self.rules)).await?;
        tx.commit().await?;
        tally.log();
        Ok(tally.done)
    }

    /// Restates one locked batch of open obligations under the rules in force, inside the
    /// caller's transaction: stores what changes and puts each due time that moves and each
    /// close on the record.
    async fn restate_batch(
        &self,
        tx: &mut sqlx::AnyConnection,
        changes: &RuleChanges<'_>,
        rows: Vec<ObligationRow>,
        tally: &mut Tally,
    ) -> Result<(), StoreError> {
        let cases: BTreeSet<CaseId> = rows.iter().map(|r| r.case_id).collect();
        let cases: Vec<CaseId> = cases.into_iter().collect();
        let mut siblings: BTreeMap<CaseId, Vec<ObligationRow>> = BTreeMap::new();
        for sibling in store::for_cases(&mut *tx, &cases).await? {
            siblings.entry(sibling.case_id).or_default().push(sibling);
        }
        let now = self.clock.now();
        let mut notices = Vec::new();
        for row in rows {
            tally.done.examined += 1;
            let of_case = siblings.get(&row.case_id).map_or(&[][..], Vec::as_slice);
            let Some(restated) = changes.restate(&row, of_case) else {
                continue;
            };
            tally.count(&row, &restated);
            if !restated.changes(&row) {
                continue;
            }
            let mut new = restated.row;
            let obligation = self.obligation(&new);
            let next = self.reschedule(&mut new, &obligation);
            store::restate(&mut *tx, &new, next).await?;
            if let Some((at, event)) = restated.closed {
                let late = new.due_at.is_some_and(|due| at > due);
                store::close(&mut *tx, new.id, at, late, &event).await?;
                new.stage = Stage::Closed;
                new.closed_at = Some(at);
                new.closed_event = Some(event);
                new.late = late;
                tally.done.closed += 1;
            } else if new.due_at == row.due_at {
                continue;
            } else {
                tally.done.moved += 1;
            }
            let why = format!("the rule table changed: {}", restated.reasons.join("; "));
            notices.push(self.recounted(&new, row.due_at, &why, now));
        }
        if !notices.is_empty() {
            self.publish(tx, notices, now).await?;
        }
        Ok(())
    }

    /// One timer pass: claims up to [`BATCH`] obligations whose moment has come, publishes
    /// their warnings, misses and escalations through the outbox, and moves them on, in one
    /// transaction of four statements. Returns how many it handled; call again at once when
    /// that is a full batch.
    pub async fn fire_due(&self) -> Result<usize, StoreError> {
        let began = std::time::Instant::now();
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let rows = store::claim_firing(&self.db, &mut tx, now, BATCH).await?;
        let claimed = began.elapsed();
        let mut notices = Vec::with_capacity(rows.len() * 2);
        let (mut warned, mut missed) = (Vec::new(), Vec::new());
        for row in &rows {
            let due = row.due_at.unwrap_or(now);
            if due > now {
                notices.push(self.deadline_notice(row, WARNING, vec![row.owed_by.clone()], now));
                warned.push(row.id);
            } else {
                notices.push(self.deadline_notice(row, MISSED, vec![row.owed_by.clone()], now));
                if let Some(supervisor) = &row.supervisor {
                    notices.push(self.deadline_notice(
                        row,
                        ESCALATED,
                        vec![supervisor.clone()],
                        now,
                    ));
                } else {
                    // Never silence: an alarm on the record (to the fallback supervisor when
                    // one is set now), in the log, and on every supervisor's board.
                    tracing::error!(
                        rule = %row.rule, owed_by = %row.owed_by, case_id = %row.case_id,
                        "{}", unsupervised_line(&row.rule, &self.name(&row.owed_by), &row.owed_by, true)
                    );
                    notices.push(self.deadline_notice(
                        row,
                        UNSUPERVISED,
                        self.fallback_supervisor.iter().cloned().collect(),
                        now,
                    ));
                }
                missed.push(row.id);
            }
        }
        let built = began.elapsed();
        store::advance_batch(&mut tx, &warned, &missed).await?;
        self.publish(&mut tx, notices, now).await?;
        let published = began.elapsed();
        tx.commit().await?;
        if !rows.is_empty() {
            self.relay.wake();
            tracing::info!(
                warned = warned.len(),
                missed = missed.len(),
                claim_ms = claimed.as_millis() as u64,
                build_ms = (built - claimed).as_millis() as u64,
                publish_ms = (published - built).as_millis() as u64,
                total_ms = began.elapsed().as_millis() as u64,
                "deadline moments handled"
            );
        }
        Ok(rows.len())
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

    /// The ledger of `row` for people, from its rule to its due time (and its fulfilment).
    pub fn explanation(&self, row: &ObligationRow) -> Vec<String> {
        let counted = self.obligation(row).explain(&self.calendar.current());
        self.explanation_around(row, counted)
    }

    /// The lines around an obligation's own ledger `counted`: its rule before it, its
    /// fulfilment and a missing supervisor after.
    fn explanation_around(&self, row: &ObligationRow, counted: Vec<String>) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(rule) = self.rules.get(&row.rule) {
            lines.push(rule.headline());
        }
        lines.extend(counted);
        if let (Some(at), Some(event)) = (row.closed_at, &row.closed_event) {
            lines.push(format!(
                "fulfilled by {event} at {}{}",
                cst_minute(at),
                if row.late { ", late" } else { "" }
            ));
        }
        if row.supervisor.is_none() {
            let missed = row.stage == Stage::Missed || row.late;
            lines.push(unsupervised_line(
                &row.rule,
                &self.name(&row.owed_by),
                &row.owed_by,
                missed,
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
        Listed {
            provisional_years,
            step: rule.map_or_else(String::new, |r| r.step.clone()),
            explanation: self.explanation_around(&obligation, owed.explain_due(due)),
            extension_tiers: rule
                .map(|r| r.extensions.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
            obligation,
        }
    }

    /// Answers one request. An `Err` is a passing storage failure: retry the same request.
    pub async fn handle(&self, request: Request) -> Result<Reply, StoreError> {
        match request {
            Request::Obligations { viewer, mut query } => {
                query.limit = query.limit.clamp(1, api::MAX_PAGE);
                let sees_unsupervised = monitor::sees_all(&self.directory, &viewer);
                let (rows, next) =
                    monitor::obligations(&self.db, &viewer, sees_unsupervised, &query).await?;
                Ok(Reply::Obligations {
                    obligations: rows.into_iter().map(|o| self.listed(o)).collect(),
                    next,
                })
            }
            Request::Statistics {
                viewer,
                from,
                to,
                agency,
            } => {
                if from >= to {
                    return Ok(refused(
                        RefusalKind::InvalidArgument,
                        "MONITOR",
                        Some("to"),
                        format!("the period must start before it ends ({from} is not before {to})"),
                    ));
                }
                let judged_at = to.min(self.clock.now());
                let sees_all = monitor::sees_all(&self.directory, &viewer);
                let agencies = monitor::statistics(&self.db, from, to, judged_at)
                    .await?
                    .into_iter()
                    .filter(|s| sees_all || s.agency == viewer.as_str())
                    .filter(|s| agency.as_ref().is_none_or(|a| s.agency == a.as_str()))
                    .collect();
                Ok(Reply::Statistics { agencies })
            }
            Request::Case { viewer, case_id } => {
                let mut conn = self.db.pool().acquire().await?;
                let rows = store::for_case(&mut conn, case_id).await?;
                if rows.is_empty() {
                    return Ok(refused(
                        RefusalKind::NotFound,
                        "STATE",
                        Some("case_id"),
                        format!("no deadlines are recorded for case {case_id}"),
                    ));
                }
                // The parties of a case, as far as deadlines know them: every agency that owes,
                // is owed or supervises one of its steps; for a step without a supervisor, every
                // supervisor (it is on their boards).
                let sees_unsupervised = monitor::sees_all(&self.directory, &viewer);
                let party = rows.iter().any(|r| {
                    r.owed_by == viewer
                        || r.owed_to.as_ref() == Some(&viewer)
                        || r.supervisor.as_ref() == Some(&viewer)
                        || (r.supervisor.is_none() && sees_unsupervised)
                });
                if !party {
                    return Ok(refused(
                        RefusalKind::PermissionDenied,
                        "AUTH-PARTY",
                        None,
                        format!("agency {viewer} is not a party to case {case_id}"),
                    ));
                }
                Ok(Reply::Case {
                    obligations: rows.into_iter().map(|o| self.listed(o)).collect(),
                })
            }
            Request::Report {
                viewer,
                period,
                format,
            } => report::build(&self.report_sources(), &viewer, period, format).await,
            Request::Extend(request) => self.extend(request).await,
        }
    }

    /// Extends a deadline for the agency that owes it, before it passes [V S4 Art 45]: the
    /// ledger records who, why and the approval; the schedule is recomputed; the other parties
    /// (the one the step is owed to, the supervisor) are told through the outbox. Idempotent by
    /// request id, like every mutating call.
    #[tracing::instrument(skip_all, fields(case_id = %request.case_id, agency = %request.actor, rule = %request.rule))]
    pub async fn extend(&self, request: ExtendRequest) -> Result<Reply, StoreError> {
        let ExtendRequest {
            actor,
            request_id,
            content_digest,
            case_id,
            rule,
            target,
            approval_reference,
            reason,
        } = request;
        let digest = content_digest.to_hex();
        let mut tx = self.db.begin().await?;
        match self
            .messaging
            .idempotency(&mut tx, actor.as_str(), request_id.as_str(), &digest)
            .await?
        {
            Idempotency::New => {}
            Idempotency::Replay { reply, .. } => {
                let mut original: Reply = serde_json::from_slice(&reply)
                    .map_err(|e| StoreError::Corrupt(format!("stored reply: {e}")))?;
                if let Reply::Extended(extended) = &mut original {
                    extended.replayed = true;
                }
                return Ok(original);
            }
            Idempotency::Conflict => {
                return Ok(refused(
                    RefusalKind::AlreadyExists,
                    "IDEMPOTENCY",
                    Some("request_id"),
                    format!(
                        "request id {request_id} was already used by this agency for a different \
                         request; use a new request id for new content"
                    ),
                ));
            }
        }
        let Some(law) = self.rules.get(&rule) else {
            return Ok(refused(
                RefusalKind::NotFound,
                "RULES",
                Some("rule"),
                format!("there is no rule {rule:?} in the rule table"),
            ));
        };
        let open = store::open_for_case(
            &mut tx,
            case_id,
            std::slice::from_ref(&rule),
            store::for_update(&self.db),
        )
        .await?;
        // Only a party to the case (owing, owed or supervising one of its steps) learns whether
        // a rule is open there and who owes it; anyone else gets the answer a case without that
        // obligation gets (issue 12, D2).
        let party = open.iter().any(|r| r.owed_by == actor)
            || store::for_case(&mut tx, case_id).await?.iter().any(|r| {
                r.owed_by == actor
                    || r.owed_to.as_ref() == Some(&actor)
                    || r.supervisor.as_ref() == Some(&actor)
            });
        let Some(mut row) = open
            .iter()
            .find(|r| r.owed_by == actor)
            .or(open.first())
            .filter(|_| party)
            .cloned()
        else {
            return Ok(refused(
                RefusalKind::NotFound,
                "STATE",
                Some("rule"),
                format!(
                    "case {case_id} has no open obligation under rule {rule} that your agency \
                     owes, is owed or supervises"
                ),
            ));
        };
        if row.owed_by != actor {
            return Ok(refused(
                RefusalKind::PermissionDenied,
                "AUTH-OBLIGOR",
                None,
                format!(
                    "only {} ({}), which owes the step under rule {rule}, may extend it",
                    self.name(&row.owed_by),
                    row.owed_by
                ),
            ));
        }
        let now = self.clock.now();
        let mut obligation = self.obligation(&row);
        // S4 Art 45: an expert announces any later date; other rules reach their tiers.
        let extend = if law.announce_any_date {
            Obligation::announce
        } else {
            Obligation::extend
        };
        if let Err(refusal) = extend(
            &mut obligation,
            &self.calendar.current(),
            &law.extensions,
            target,
            actor.as_str(),
            &reason,
            &approval_reference,
            now,
        ) {
            tracing::info!(%refusal, "extension refused");
            return Ok(Reply::Refused {
                refusal: extension_refusal(&refusal, law),
            });
        }
        self.store_changes(&mut tx, &mut row, &obligation).await?;
        let mut told: Vec<AgencyCode> = [row.owed_to.clone(), row.supervisor.clone()]
            .into_iter()
            .flatten()
            .filter(|a| *a != actor)
            .collect();
        told.dedup();
        // One record of the extension, whoever is told: the chain keeps it even when nobody is.
        let notice = self.deadline_notice(&row, EXTENDED, told, now);
        let positions = self.publish(&mut tx, vec![notice], now).await?;
        let receipt = self.receipt(
            &request_id,
            &actor,
            case_id,
            content_digest,
            &positions,
            now,
        );
        self.chain.record_receipt(&mut tx, &receipt).await?;
        let reply = Reply::Extended(Extended {
            obligation: self.listed(row),
            replayed: false,
            accepted_at: now,
            receipt,
        });
        let encoded = serde_json::to_vec(&reply).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.messaging
            .record(
                &mut tx,
                actor.as_str(),
                request_id.as_str(),
                &digest,
                &encoded,
                now.as_millis(),
            )
            .await?;
        tx.commit().await?;
        self.relay.wake();
        tracing::info!("deadline extended");
        Ok(reply)
    }

    /// The signed receipt of an accepted extension: what was accepted, when, and where its record
    /// sits on the chain.
    fn receipt(
        &self,
        request_id: &casebridge_core::ids::RequestId,
        actor: &AgencyCode,
        case_id: CaseId,
        content_digest: Sha256Digest,
        positions: &[Position],
        now: Timestamp,
    ) -> Receipt {
        let last = positions.last().copied().unwrap_or(Position {
            seq: 0,
            hash: GENESIS,
        });
        let mut receipt = Receipt {
            service: crate::SERVICE.to_owned(),
            case_id,
            step: "extend_deadline".to_owned(),
            actor: actor.clone(),
            request_id: request_id.clone(),
            content_digest,
            accepted_at: now,
            first_seq: positions.first().map_or(0, |p| p.seq),
            last_seq: last.seq,
            chain_hash: Sha256Digest::from_bytes(last.hash),
            key_id: String::new(),
            signature: String::new(),
        };
        self.signer.sign_receipt(&mut receipt);
        receipt
    }

    /// Sends the monthly reminders (月提示) once per month, driven by the injected clock: on or
    /// after 00:00 CST of the first day of a month, each supervisor with obligations overdue in
    /// its remit at that moment gets one notice per family, for the month just ended. Claimed
    /// in the same transaction as the notices, so replicas send it once. Returns the number of
    /// notices sent (0 when already sent, or when nothing was overdue).
    pub async fn send_monthly_reminders(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let (label, as_of) = report::reminder_month(now);
        if store::reminder_sent(&self.db, &label).await? {
            return Ok(0);
        }
        let overdue = monitor::overdue_by_supervisor(&self.db, as_of).await?;
        let notices: Vec<Notice> = overdue
            .iter()
            .map(|(supervisor, family, count)| {
                self.reminder(&label, as_of, supervisor, *family, *count, now)
            })
            .collect();
        let sent = notices.len();
        let mut tx = self.db.begin().await?;
        if !store::claim_reminder(
            &mut tx,
            &label,
            now,
            i64::try_from(sent).unwrap_or(i64::MAX),
        )
        .await?
        {
            return Ok(0);
        }
        self.publish(&mut tx, notices, now).await?;
        tx.commit().await?;
        self.relay.wake();
        tracing::info!(month = %label, notices = sent, "monthly reminders sent");
        Ok(sent)
    }

    fn reminder(
        &self,
        label: &str,
        as_of: Timestamp,
        supervisor: &AgencyCode,
        family: Family,
        count: monitor::OverdueCount,
        now: Timestamp,
    ) -> Notice {
        // One stable id per (month, supervisor, family), so the inbox groups it as one "case".
        let digest =
            Sha256Digest::of(format!("{REMINDER}/{label}/{supervisor}/{family}").as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest.as_bytes()[..16]);
        bytes[6] = (bytes[6] & 0x0f) | 0x80; // UUID version 8 (custom)
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
        let case_id = CaseId::from_uuid(uuid::Uuid::from_bytes(bytes));
        let oldest = count
            .oldest_due
            .map_or_else(String::new, |d| format!(" (oldest due {})", cst_minute(d)));
        Notice {
            case_id,
            family,
            event: REMINDER.to_owned(),
            actor: supervisor.clone(),
            at: now,
            recipients: vec![supervisor.clone()],
            summary: format!(
                "月提示 monthly reminder {label}: {} {family} obligation(s) in your remit were \
                 overdue at {}{oldest}; details: casebridge monitor report --month {label}",
                count.count,
                cst_minute(as_of)
            ),
            detail: serde_json::json!({
                "month": label,
                "as_of": as_of,
                "overdue": count.count,
                "oldest_due": count.oldest_due,
            }),
            parties: [(Role::Recipient, supervisor.clone())].into(),
            attachments: Vec::new(),
        }
    }

    /// The earliest pending moment, so the timer knows how long it may sleep.
    pub async fn next_moment(&self) -> Result<Option<Timestamp>, StoreError> {
        store::next_fire_at(&self.db).await
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

/// The case whose clocks a request under another case stops (`detail.under_case`).
fn under_case(notice: &Notice) -> Option<CaseId> {
    notice
        .detail
        .get("under_case")
        .and_then(serde_json::Value::as_str)
        .and_then(|s| CaseId::parse(s).ok())
        .filter(|target| *target != notice.case_id)
}

fn refused(kind: RefusalKind, rule: &str, field: Option<&str>, message: String) -> Reply {
    Reply::Refused {
        refusal: Refusal::new(kind, rule, field, message),
    }
}

/// The one place where extension refusals become wire refusals: the kind is chosen per refusal,
/// and the rule named is the one that refused (the obligation's rule for its tiers, SAMR-45x /
/// S4 Art 45 for lateness).
pub fn extension_refusal(refusal: &ExtensionRefusal, rule: &Rule) -> Refusal {
    let message = refusal.to_string();
    let (kind, rule_id, field) = match refusal {
        ExtensionRefusal::NotExtensible { .. } => {
            (RefusalKind::FailedPrecondition, rule.id.as_str(), None)
        }
        ExtensionRefusal::NoSuchTier { .. } => {
            (RefusalKind::InvalidArgument, rule.id.as_str(), Some("tier"))
        }
        ExtensionRefusal::TierNotLonger { .. } => (
            RefusalKind::FailedPrecondition,
            rule.id.as_str(),
            Some("tier"),
        ),
        ExtensionRefusal::NotLater { .. }
        | ExtensionRefusal::BeyondTiers { .. }
        | ExtensionRefusal::DateForHours { .. } => (
            RefusalKind::InvalidArgument,
            rule.id.as_str(),
            Some("until"),
        ),
        ExtensionRefusal::TooLate { .. } => (RefusalKind::FailedPrecondition, "SAMR-45x", None),
        ExtensionRefusal::Paused { .. } => (RefusalKind::FailedPrecondition, "STATE", None),
        ExtensionRefusal::Calendar(_) => (RefusalKind::FailedPrecondition, "CALENDAR", None),
    };
    let message = match refusal {
        ExtensionRefusal::NotExtensible { .. } | ExtensionRefusal::TierNotLonger { .. }
            if !rule.extensions.is_empty() =>
        {
            format!("{message} ({})", describe_tiers(&rule.extensions))
        }
        _ => message,
    };
    Refusal::new(kind, rule_id, field, message)
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
