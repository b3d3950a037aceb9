//! The timer: warnings, misses and escalations when an obligation's moment comes, the monthly
//! reminders (月提示), the quarterly bulletins (季通报), the annual statistics sent to each
//! agency's superior, and the next moment to wake for.

use std::collections::BTreeMap;

use casebridge_core::calendar;
use casebridge_core::deadline::cst_minute;
use casebridge_core::ids::{AgencyCode, CaseId, Sha256Digest};
use casebridge_core::notice::{Family, Notice, Role};
use casebridge_core::time::Timestamp;
use casebridge_platform::store::StoreError;

use super::{
    ANNUAL_STATISTICS, BATCH, BULLETIN, Deadlines, ESCALATED, MISSED, REMINDER, UNSUPERVISED,
    WARNING, unsupervised_line,
};
use crate::api::{AgencyStatistics, ReportPeriod};
use crate::monitor::{self, RuleStatistics};
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

    /// Sends the quarterly bulletin (季通报) once per quarter, driven by the injected clock: on
    /// or after 00:00 CST of 1 January, 1 April, 1 July and 1 October, every supervisor in the
    /// directory ([`monitor::sees_all`]: procuratorates and coordination offices) gets one notice
    /// for the quarter just ended, judged at that moment: the obligations started in it, how
    /// many were answered late and how many were overdue at its end, per family, and the command
    /// that fetches the full report. These are the figures of the report a supervisor fetches,
    /// which covers every agency, so every supervisor gets the same ones; unlike the monthly
    /// reminder, a supervisor gets the bulletin even when the quarter had nothing (a nil report
    /// is information). Claimed in the same transaction as the notices (`deadlines_reminders`,
    /// keyed `2026-Q4`), so replicas and restarts send it once; a service that was down at the
    /// quarter's start sends it when it starts, and logs that it is late
    /// ([`BULLETIN_LATE_AFTER`]). A quarter that ended before the service first started on this
    /// database is not reported. Returns the number of notices sent.
    pub async fn send_quarterly_bulletins(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let (period, as_of) = report::bulletin_quarter(now);
        let Ok(span) = report::span(period) else {
            return Ok(0); // a clock outside 2000–2999: no report to point to
        };
        if self.before_service(&span) || store::reminder_sent(&self.db, &span.label).await? {
            return Ok(0);
        }
        let families = monitor::family_totals(&self.db, span.from(), span.to(), as_of).await?;
        let notices: Vec<Notice> = self
            .directory
            .agencies()
            .filter(|a| monitor::sees_all(&self.directory, &a.code))
            .map(|a| self.bulletin(&span.label, as_of, &a.code, &families, now))
            .collect();
        let sent = notices.len();
        if !self.claim_and_publish(&span.label, notices, now).await? {
            return Ok(0);
        }
        let late = now.as_millis() - as_of.as_millis() > BULLETIN_LATE_AFTER.as_millis() as i64;
        if late {
            tracing::warn!(
                quarter = %span.label, notices = sent, since = %cst_minute(as_of),
                "quarterly bulletins sent late: the service did not run when the quarter began"
            );
        } else {
            tracing::info!(quarter = %span.label, notices = sent, "quarterly bulletins sent");
        }
        Ok(sent)
    }

    /// Sends the annual statistics (年度统计) of the year just ended once per year, driven by the
    /// injected clock: on or after 00:00 CST of 1 January, well before the annual report's due
    /// date of 31 January, each agency with a `superior` in the directory has its statistics
    /// row (judged at that moment) sent to that superior: one notice per superior, listing its
    /// subordinates in code order, each with its row (an agency with no figures is listed with
    /// zeros: a nil row is information too). The superior reads the full rows with
    /// `casebridge monitor report --year <year>` or `GetStatistics`, which show an agency the
    /// rows of the agencies whose superior it is ([`monitor::sees_row`]). Claimed like the
    /// reminders (`deadlines_reminders`, keyed `2026`), so replicas and restarts send it once; a
    /// service that was down on 1 January sends it when it starts again, and after 31 January
    /// logs that it is late. A year that ended before the service first started on this
    /// database is not reported. Returns the number of notices sent.
    pub async fn send_annual_statistics(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let (year, as_of, due_by) = report::statistics_year(now);
        let Ok(span) = report::span(ReportPeriod::Year { year }) else {
            return Ok(0);
        };
        if self.before_service(&span) || store::reminder_sent(&self.db, &span.label).await? {
            return Ok(0);
        }
        let mut subordinates: BTreeMap<&AgencyCode, Vec<&AgencyCode>> = BTreeMap::new();
        for agency in self.directory.agencies() {
            if let Some(superior) = &agency.superior {
                subordinates.entry(superior).or_default().push(&agency.code);
            }
        }
        let rows: BTreeMap<String, AgencyStatistics> = if subordinates.is_empty() {
            BTreeMap::new()
        } else {
            monitor::statistics(&self.db, span.from(), span.to(), as_of)
                .await?
                .into_iter()
                .map(|row| (row.agency.clone(), row))
                .collect()
        };
        let notices: Vec<Notice> = subordinates
            .into_iter()
            .map(|(superior, mut agencies)| {
                agencies.sort();
                let listed: Vec<AgencyStatistics> = agencies
                    .into_iter()
                    .map(|code| {
                        rows.get(code.as_str())
                            .cloned()
                            .unwrap_or_else(|| AgencyStatistics {
                                agency: code.to_string(),
                                ..AgencyStatistics::default()
                            })
                    })
                    .collect();
                self.annual_statistics(&span.label, as_of, due_by, superior, &listed, now)
            })
            .collect();
        let sent = notices.len();
        if !self.claim_and_publish(&span.label, notices, now).await? {
            return Ok(0);
        }
        if calendar::cst_date(now) > due_by {
            tracing::warn!(
                year = %span.label, notices = sent, due_by = %due_by,
                "annual statistics sent to the superiors late: after the annual report's due date"
            );
        } else {
            tracing::info!(year = %span.label, notices = sent, "annual statistics sent to the superiors");
        }
        Ok(sent)
    }

    /// Whether `span` ended before the service first started on this database
    /// ([`store::in_service_since`], read once at start): such a period is not reported,
    /// since the service kept no deadline in it.
    fn before_service(&self, span: &report::Span) -> bool {
        span.to() <= self.in_service_since
    }

    /// Claims the push of `label` and publishes its notices in one transaction; `false` when
    /// another replica (or an earlier run) claimed it first.
    async fn claim_and_publish(
        &self,
        label: &str,
        notices: Vec<Notice>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let count = i64::try_from(notices.len()).unwrap_or(i64::MAX);
        if !store::claim_reminder(&mut tx, label, now, count).await? {
            return Ok(false);
        }
        self.publish(&mut tx, notices, now).await?;
        tx.commit().await?;
        self.relay.wake();
        Ok(true)
    }

    fn bulletin(
        &self,
        label: &str,
        as_of: Timestamp,
        supervisor: &AgencyCode,
        families: &[(String, RuleStatistics)],
        now: Timestamp,
    ) -> Notice {
        let total = families
            .iter()
            .fold(RuleStatistics::default(), |mut t, (_, f)| {
                t.opened += f.opened;
                t.answered_on_time += f.answered_on_time;
                t.answered_late += f.answered_late;
                t.still_open += f.still_open;
                t.overdue += f.overdue;
                t
            });
        let figures = if total.opened == 0 {
            "no obligation started in the quarter".to_owned()
        } else {
            let per_family: Vec<String> = families
                .iter()
                .map(|(family, f)| {
                    format!(
                        "{family} {} started, {} late, {} overdue",
                        f.opened, f.answered_late, f.overdue
                    )
                })
                .collect();
            format!(
                "{} obligation(s) started, {} answered late, {} overdue at {} ({})",
                total.opened,
                total.answered_late,
                total.overdue,
                cst_minute(as_of),
                per_family.join("; ")
            )
        };
        Notice {
            case_id: push_case_id(BULLETIN, label, supervisor),
            family: Family::Referral,
            event: BULLETIN.to_owned(),
            actor: supervisor.clone(),
            at: now,
            recipients: vec![supervisor.clone()],
            summary: format!(
                "季通报 quarterly bulletin {label}: {figures}; details: casebridge monitor report \
                 --quarter {label}"
            ),
            detail: serde_json::json!({
                "quarter": label,
                "as_of": as_of,
                "started": total.opened,
                "answered_on_time": total.answered_on_time,
                "answered_late": total.answered_late,
                "still_open": total.still_open,
                "overdue": total.overdue,
                "families": families.iter().map(|(family, f)| serde_json::json!({
                    "family": family,
                    "started": f.opened,
                    "answered_on_time": f.answered_on_time,
                    "answered_late": f.answered_late,
                    "still_open": f.still_open,
                    "overdue": f.overdue,
                })).collect::<Vec<_>>(),
            }),
            parties: [(Role::Recipient, supervisor.clone())].into(),
            attachments: Vec::new(),
        }
    }

    fn annual_statistics(
        &self,
        label: &str,
        as_of: Timestamp,
        due_by: chrono::NaiveDate,
        superior: &AgencyCode,
        rows: &[AgencyStatistics],
        now: Timestamp,
    ) -> Notice {
        let lines: Vec<String> = rows
            .iter()
            .map(|r| {
                let code = AgencyCode::parse(&r.agency).ok();
                let name = code
                    .as_ref()
                    .map_or_else(|| r.agency.clone(), |c| self.name(c));
                let rate = r.referral_rate.map_or_else(String::new, |rate| {
                    format!(
                        ", 移送率 {:.0}% ({}/{})",
                        rate * 100.0,
                        r.penalty_referred,
                        r.penalty_over_threshold
                    )
                });
                format!(
                    "{name} ({}): {} deadline(s) owed, {} late, {} overdue{rate}",
                    r.agency, r.received, r.answered_late, r.overdue
                )
            })
            .collect();
        Notice {
            case_id: push_case_id(ANNUAL_STATISTICS, label, superior),
            family: Family::Referral,
            event: ANNUAL_STATISTICS.to_owned(),
            actor: superior.clone(),
            at: now,
            recipients: vec![superior.clone()],
            summary: format!(
                "年度统计 annual statistics {label} of the {} agenc(ies) whose superior you are, \
                 for the annual report due by {due_by}: {}; details: casebridge monitor report \
                 --year {label}",
                rows.len(),
                lines.join("; ")
            ),
            detail: serde_json::json!({
                "year": label,
                "as_of": as_of,
                "due_by": due_by.to_string(),
                "agencies": rows,
            }),
            parties: [(Role::Recipient, superior.clone())].into(),
            attachments: Vec::new(),
        }
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
        let case_id = push_case_id(REMINDER, label, &format!("{supervisor}/{family}"));
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

/// How long after a quarter's first moment its bulletin counts as late in the log: an
/// operational figure (no source sets a date for the 季通报), not a legal one.
pub const BULLETIN_LATE_AFTER: std::time::Duration = std::time::Duration::from_secs(86_400);

/// One stable case id per push, period and recipient (`deadline_reminder`, `2026-02`,
/// `<supervisor>/<family>`), so the inbox groups it as one "case" and a resend is the same one.
fn push_case_id(event: &str, label: &str, recipient: &dyn std::fmt::Display) -> CaseId {
    let digest = Sha256Digest::of(format!("{event}/{label}/{recipient}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_bytes()[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // UUID version 8 (custom)
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    CaseId::from_uuid(uuid::Uuid::from_bytes(bytes))
}
