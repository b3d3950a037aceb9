//! Requests: the monitor's board, statistics, a case's deadlines and the reports; an extension
//! is passed on to [`Deadlines::extend`].

use casebridge_core::refusal::RefusalKind;
use casebridge_platform::store::StoreError;

use super::Deadlines;
use super::refusal::refused;
use crate::api::{self, Reply, Request};
use crate::monitor;
use crate::report;
use crate::store;

impl Deadlines {
    /// What a report reads, now.
    fn report_sources(&self) -> report::Sources<'_> {
        report::Sources {
            db: &self.db,
            now: self.clock.now(),
            directory: &self.directory,
            rules: &self.rules,
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
                // A supervisor sees every row; an agency its own and its subordinates'.
                let agencies = monitor::statistics(&self.db, from, to, judged_at)
                    .await?
                    .into_iter()
                    .filter(|s| monitor::sees_row(&self.directory, &viewer, &s.agency))
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
}
