//! Re-screening at start-up (issue 19 item 3: "each record is screened when it arrives and when
//! the rules change"). The threshold table is loaded once, at start; the table the open records
//! were last screened under is kept (`penalties_screened_under`, [`crate::store`]). When the two
//! differ (or none is kept yet), [`rescreen_changed_table`] screens the current version of every
//! record not closed again, in batches of [`BATCH`], each a [`PenaltyCommand::Rescreen`] step
//! decided by the core ([`casebridge_core::screening::file::decide`]) in the recording agency's
//! name, so what changes lands on the record, its timeline and the hash chain like any step. A
//! record whose hits do not change takes no step. Then the table is kept.
//!
//! Restart-safe and idempotent: a pass cut off half way is done again from the start at the
//! next start, and the records it already moved find their hits unchanged and take no step; a
//! start with the table already kept does nothing.

use casebridge_core::ids::{CaseId, RequestId, Sha256Digest};
use casebridge_core::screening::file::{PenaltyCommand, PenaltyFile};
use casebridge_core::time::Clock;
use casebridge_platform::cases::{CaseService, CaseStep, CommandRequest, Reply, Request};
use casebridge_platform::reply::ServiceReply;
use casebridge_platform::store::StoreError;

use crate::handler::Penalties;
use crate::store;

/// How many records one transaction re-screens.
pub const BATCH: usize = 200;
/// How often the pass logs its progress, in records checked.
pub const PROGRESS_EVERY: usize = 1_000;
/// The rule of a re-screening the core refuses because nothing changes (or the file closed).
const UNCHANGED: &str = "WARN-RESCREEN";
/// How often a batch another replica changed at the same time is tried again.
const CONFLICT_RETRIES: usize = 3;

/// What a re-screening pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rescreened {
    /// Whether the table differed from the one kept, so the records were screened again.
    pub changed: bool,
    /// Records read (those not closed by their status).
    pub checked: usize,
    /// Records that now meet a threshold and were warned, as on arrival.
    pub warned: usize,
    /// Records whose hits changed under a warning already open.
    pub updated: usize,
    /// Records that now meet no threshold: their hits cleared.
    pub cleared: usize,
    /// Of those, the ones whose warning only the agency had was withdrawn.
    pub withdrawn: usize,
    /// Of those, the ones whose warning had been raised to the procuratorate and stands.
    pub raised_kept: usize,
    /// Steps the core refused for another reason than "nothing changes" (e.g. `WARN-TO`: no
    /// procuratorate for the agency's region): logged, and tried again at the next start.
    pub refused: usize,
}

impl Rescreened {
    /// Counts what an accepted re-screening did to `before`.
    fn count(&mut self, before: &PenaltyFile, after: &PenaltyFile) {
        if after.warnings.len() > before.warnings.len() {
            self.warned += 1;
        } else if after.hits.is_empty() {
            self.cleared += 1;
            match before.open_warning() {
                Some(w) if w.is_raised() => self.raised_kept += 1,
                Some(_) => self.withdrawn += 1,
                None => {}
            }
        } else {
            self.updated += 1;
        }
    }
}

/// The step that re-screens `file`: in its agency's name, with a request id of its own per
/// table and file version, so a replay of the same step is recognised as one.
fn request(file: &PenaltyFile, digest: &str) -> Result<Request<PenaltyCommand>, StoreError> {
    let id = format!(
        "rescreen:{}:{}:{}",
        digest.get(..16).unwrap_or(digest),
        file.version,
        file.record.id
    );
    let request_id = RequestId::parse(&id)
        .map_err(|e| StoreError::Corrupt(format!("re-screening request id {id}: {e}")))?;
    Ok(Request::Command(CommandRequest {
        actor: file.record.agency.clone(),
        content_digest: Sha256Digest::of(id.as_bytes()),
        step: CaseStep {
            request_id,
            case_id: file.record.id,
            command: PenaltyCommand::Rescreen,
        },
    }))
}

/// Screens the open records again when the threshold table in force differs from the one they
/// were last screened under (see the module documentation). Run at start-up, before the service
/// takes commands.
pub async fn rescreen_changed_table(
    service: &CaseService<Penalties>,
    clock: &dyn Clock,
) -> Result<Rescreened, StoreError> {
    let table = service.family().thresholds();
    let stamp = table.stamp();
    let db = service.db();
    let kept = store::screened_under(db).await?;
    let mut done = Rescreened::default();
    if let Some(kept) = &kept
        && kept.digest == stamp.digest
    {
        if kept.version != stamp.version {
            // Only the version line changed: the rules are the same, nothing to screen.
            store::set_screened_under(db, stamp, clock.now()).await?;
        }
        return Ok(done);
    }
    done.changed = true;
    match &kept {
        Some(was) => tracing::info!(
            table = %stamp, %was,
            "the threshold table changed since the records were screened: re-screening every \
             open penalty record"
        ),
        None => tracing::info!(
            table = %stamp,
            "no threshold table is recorded for the penalty records yet: screening every open \
             record once under the table in force"
        ),
    }
    let mut after: Option<CaseId> = None;
    let mut logged = 0;
    loop {
        let files = store::open_files(db, after, BATCH).await?;
        let Some(last) = files.last() else {
            break;
        };
        after = Some(last.record.id);
        done.checked += files.len();
        let due: Vec<&PenaltyFile> = files
            .iter()
            .filter(|f| f.needs_rescreening(table))
            .collect();
        if !due.is_empty() {
            let replies = batch(service, &due, &stamp.digest).await?;
            for (before, reply) in due.into_iter().zip(replies) {
                match reply {
                    Reply::Accepted(accepted) => done.count(before, &accepted.case),
                    Reply::Refused { refusal } if refusal.rule == UNCHANGED => {}
                    Reply::Refused { refusal } => {
                        done.refused += 1;
                        tracing::warn!(
                            record = %before.record.id, rule = %refusal.rule,
                            reason = %refusal.message,
                            "a penalty record could not be re-screened; it is tried again at \
                             the next start"
                        );
                    }
                    other => {
                        return Err(StoreError::Corrupt(format!(
                            "re-screening {} answered {}",
                            before.record.id,
                            other.kind()
                        )));
                    }
                }
            }
        }
        if done.checked - logged >= PROGRESS_EVERY {
            logged = done.checked;
            tracing::info!(
                checked = done.checked,
                warned = done.warned,
                cleared = done.cleared,
                "re-screening the open penalty records"
            );
        }
    }
    if done.refused == 0 {
        store::set_screened_under(db, stamp, clock.now()).await?;
    }
    tracing::info!(
        table = %stamp,
        checked = done.checked,
        warned = done.warned,
        updated = done.updated,
        cleared = done.cleared,
        withdrawn = done.withdrawn,
        raised_kept = done.raised_kept,
        refused = done.refused,
        "open penalty records re-screened under the threshold table in force"
    );
    Ok(done)
}

/// One batch of re-screenings in one transaction, tried again when another replica changed one
/// of its records at the same time.
async fn batch(
    service: &CaseService<Penalties>,
    files: &[&PenaltyFile],
    digest: &str,
) -> Result<Vec<Reply<PenaltyFile>>, StoreError> {
    let mut tries = 0;
    loop {
        let requests = files
            .iter()
            .map(|f| request(f, digest))
            .collect::<Result<Vec<_>, _>>()?;
        match service.handle_batch(requests).await {
            Err(StoreError::Conflict(what)) if tries < CONFLICT_RETRIES => {
                tries += 1;
                tracing::debug!(%what, "re-screening batch changed concurrently; again");
            }
            other => return other,
        }
    }
}
