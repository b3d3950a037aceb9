//! The timer: warnings, misses and escalations when an obligation's moment comes, the monthly
//! reminders (月提示), and the next moment to wake for.

use casebridge_core::deadline::cst_minute;
use casebridge_core::ids::{AgencyCode, CaseId, Sha256Digest};
use casebridge_core::notice::{Family, Notice, Role};
use casebridge_core::time::Timestamp;
use casebridge_platform::store::StoreError;

use super::{
    BATCH, Deadlines, ESCALATED, MISSED, REMINDER, UNSUPERVISED, WARNING, unsupervised_line,
};
use crate::monitor;
use crate::report;
use crate::store;

impl Deadlines {
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
        // How late each moment fired (seconds), and escalations with no supervisor: counted
        // once the transaction has committed.
        let mut lags = Vec::with_capacity(rows.len());
        let mut unsupervised = 0_u64;
        for row in &rows {
            let due = row.due_at.unwrap_or(now);
            let moment = if due > now { row.warn_at } else { row.due_at };
            if let Some(moment) = moment {
                lags.push((now.as_millis() - moment.as_millis()).max(0) as f64 / 1000.0);
            }
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
                    unsupervised += 1;
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
        let metrics = casebridge_platform::metrics::metrics();
        for lag in lags {
            metrics.deadline_firing_lag.observe(lag);
        }
        metrics.escalations_undeliverable.inc_by(unsupervised);
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
