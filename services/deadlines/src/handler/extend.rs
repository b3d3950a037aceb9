//! The one command: the owing agency extends its own deadline before it passes, idempotently by
//! request id, and gets a signed receipt.

use casebridge_core::deadline::Obligation;
use casebridge_core::ids::AgencyCode;
use casebridge_core::refusal::RefusalKind;
use casebridge_platform::idempotent::{Prior, Step};
use casebridge_platform::store::StoreError;

use super::refusal::{extension_refusal, refused};
use super::{Deadlines, EXTENDED};
use crate::api::{ExtendRequest, Extended, Reply};
use crate::store;

impl Deadlines {
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
        let step = Step {
            actor: &actor,
            request_id: &request_id,
            content_digest,
            case_id,
            name: "extend_deadline",
        };
        let mut tx = self.db.begin().await?;
        match step.prior(&self.messaging, &mut tx).await? {
            Prior::New => {}
            Prior::Replay(mut original) => {
                if let Reply::Extended(extended) = &mut original {
                    extended.replayed = true;
                }
                return Ok(original);
            }
            Prior::Conflict(refusal) => return Ok(Reply::Refused { refusal }),
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
        let receipt = step
            .receipt(&mut tx, &self.chain, &self.signer, &positions, now)
            .await?;
        let reply = Reply::Extended(Extended {
            obligation: self.listed(row),
            replayed: false,
            accepted_at: now,
            receipt,
        });
        step.record(&self.messaging, &mut tx, &reply, now).await?;
        tx.commit().await?;
        self.relay.wake();
        tracing::info!("deadline extended");
        Ok(reply)
    }
}
