//! Event intake: an event closes the obligations it fulfils, stops or restarts the clocks it
//! names, and opens the obligations it triggers, each event once however often it is delivered.

use casebridge_core::deadline::{Obligation, Rule};
use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::notice::{Family, Notice, Role};
use casebridge_core::time::Timestamp;
use casebridge_platform::bus::Message;
use casebridge_platform::store::StoreError;

use super::Deadlines;
use crate::store::{self, Changes, ObligationRow, Stage};

impl Deadlines {
    /// Applies family events in one transaction, in the order given (the queue's), each once
    /// however often it is delivered. An `Err` is a passing storage failure: redeliver them all.
    #[tracing::instrument(skip_all, fields(events = batch.len()))]
    pub async fn on_events(&self, batch: &[(Message, Notice)]) -> Result<(), StoreError> {
        // Deadline events are this service's own: nothing to apply, not even marked processed.
        let events: Vec<&(Message, Notice)> = batch
            .iter()
            .filter(|(_, notice)| !notice.event.starts_with("deadline_"))
            .collect();
        let mut tx = self.db.begin().await?;
        let ids: Vec<String> = events.iter().map(|(m, _)| m.id.to_string()).collect();
        let first = self
            .messaging
            .first_deliveries(&mut tx, &ids, self.clock.now().as_millis())
            .await?;
        for ((_, notice), first) in events.into_iter().zip(first) {
            if first {
                self.apply(&mut tx, notice).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Applies one event delivered for the first time.
    #[tracing::instrument(skip_all, fields(case_id = %notice.case_id, event = %notice.routing_key()))]
    async fn apply(&self, tx: &mut sqlx::AnyConnection, notice: &Notice) -> Result<(), StoreError> {
        let event = notice.routing_key();
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
        self.count_penalty(&mut *tx, notice).await?;
        self.stop_clocks(&mut *tx, notice, &event).await?;
        self.restart_clocks(&mut *tx, notice, &event).await?;
        for rule in self
            .rules
            .opened_by(&event)
            .filter(|r| r.applies_to(&notice.detail))
        {
            if let Some((mut row, next)) = self.open(rule, notice) {
                row.id = store::insert(&mut *tx, self.db.dialect(), &row, next).await?;
                tracing::info!(rule = %rule.id, due = ?row.due_at, "obligation opened");
            }
        }
        Ok(())
    }

    /// Keeps the per-record figures of 移送率 ([`crate::app::PENALTY_EVENTS`]): a record and whether it met a
    /// threshold, a correction screened again, a referral linked. Reads only the event's `hits`
    /// (whether there are any) and `referral` (whether one was named): no personal data.
    async fn count_penalty(
        &self,
        tx: &mut sqlx::AnyConnection,
        notice: &Notice,
    ) -> Result<(), StoreError> {
        if notice.family != Family::Penalty {
            return Ok(());
        }
        let over_threshold = || {
            notice
                .detail
                .get("hits")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|hits| !hits.is_empty())
        };
        match notice.event.as_str() {
            "recorded" => {
                let agency = notice.parties.get(&Role::Sender).unwrap_or(&notice.actor);
                let named = notice.detail.get("referral").is_some_and(|r| !r.is_null());
                store::record_penalty(
                    tx,
                    notice.case_id,
                    agency,
                    notice.at,
                    over_threshold(),
                    named.then_some(notice.at),
                )
                .await
            }
            "corrected" => store::correct_penalty(tx, notice.case_id, over_threshold()).await,
            "referral_linked" => store::link_penalty_referral(tx, notice.case_id, notice.at).await,
            _ => Ok(()),
        }
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
            sender: notice.parties.get(&Role::Sender).cloned(),
        };
        let next = self.reschedule(&mut row, &obligation);
        Some((row, next))
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
