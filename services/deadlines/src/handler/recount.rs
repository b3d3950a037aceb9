//! The recounts: open obligations counted again when the calendar in force changes (an official
//! year installed) or the rule table does (the restatement itself is in [`crate::rule_change`]).

use std::collections::{BTreeMap, BTreeSet};

use casebridge_core::calendar::start_of_day;
use casebridge_core::deadline::cst_minute;
use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::notice::Notice;
use casebridge_core::time::Timestamp;
use casebridge_platform::store::StoreError;

use super::{BATCH, Deadlines, RECOUNTED, RulesRecounted};
use crate::rule_change::{self, RuleChanges, Start};
use crate::store::{self, ObligationRow, Stage};

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

impl Deadlines {
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
}
