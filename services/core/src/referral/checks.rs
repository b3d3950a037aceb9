//! What the steps share: the [`Outcome`] being recorded, the late-step [`check`] of the check
//! rules, and the decision-date check.

use super::{Context, Flag, Referral, ReferralEventKind, Step};
use crate::case::{self, Rejection, invalid};
use crate::time::Timestamp;

pub(super) type Outcome = case::Outcome<Referral, Step, ReferralEventKind>;

/// Flags the step late when the check rule's limit from `start` has passed.
pub(super) fn check(out: &mut Outcome, rule: &str, start: Option<Timestamp>, ctx: &Context<'_>) {
    let now = out.now();
    if let Some(due_at) = start.and_then(|start| ctx.law.late(rule, start, now)) {
        let step = out.step();
        out.case.flags.push(Flag::StepLate {
            step,
            rule: rule.to_owned(),
            due_at,
            at: now,
        });
    }
}

/// A decision date given with a step (transfer, withdrawal) must not be in the future.
pub(super) fn decided_not_after(decided_at: Timestamp, now: Timestamp) -> Result<(), Rejection> {
    if decided_at > now {
        Err(invalid("decided_at", "must not be in the future"))
    } else {
        Ok(())
    }
}
