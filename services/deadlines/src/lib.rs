//! The deadlines service: every step that waits on a party is an obligation with a legal due
//! time, warned before it passes and escalated to the supervising agency when missed.
//!
//! It consumes every family's events. An event that a rule names as its trigger opens an
//! obligation (due time computed on the legal calendar, with its explanation); an event a rule
//! names as fulfilling it closes the case's open obligation of that rule, recording whether it
//! was late. A timer claims obligations whose next moment has come, in batches (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, so replicas share the work) and publishes, through the outbox, a warning
//! to the agency that owes the step, then at the due time a miss to it and an escalation to the
//! supervisor (the copied procuratorate for referrals, the office that will rule on a dispute for
//! dispute steps, the coordination office otherwise; an alarm on every supervisor's board when
//! none resolves).
//! The owing agency may extend its own deadline before it passes (the one command it owns);
//! supervisors get a monthly reminder and may ask for monthly, quarterly and annual reports.
//!
//! Modules, as in every service: `store`, `handler`, `app`; plus `api` (the bus messages),
//! `monitor` (board queries and statistics), `report` (月提示, 季通报, annual statistics) and
//! `rule_change` (what a changed rule table does to the obligations opened under the old one).
//! `handler` is split by job (`events`, `timer`, `extend`, `requests`, `recount`) over a shared
//! core; imports run one way: `app` → `handler` → `monitor`, `report`, `rule_change` → `store`.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod csv;
pub mod handler;
pub mod monitor;
pub mod report;
pub mod rule_change;
pub mod store;

/// The service name: its queue and its tables' prefix.
pub const SERVICE: &str = "deadlines";

/// Samples the open and overdue obligations into their gauges at each scrape of the admin port.
pub fn metrics_sampler(
    db: casebridge_platform::store::Db,
    clock: std::sync::Arc<dyn casebridge_core::time::Clock>,
) -> casebridge_platform::admin::Sampler {
    std::sync::Arc::new(move || {
        let (db, clock) = (db.clone(), clock.clone());
        Box::pin(async move {
            match store::open_and_overdue(&db, clock.now()).await {
                Ok((open, overdue)) => {
                    let metrics = casebridge_platform::metrics::metrics();
                    metrics.obligations_open.set(open);
                    metrics.obligations_overdue.set(overdue);
                }
                Err(error) => tracing::warn!(%error, "cannot count the open obligations"),
            }
        })
    })
}
