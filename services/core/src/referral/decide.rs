//! [`decide`]: the checks every command passes (actor, authorization table), then the step's own
//! function in `open`, `review`, `supervision` or `after_filing`.

use super::checks::Outcome;
use super::{
    Context, Decision, Referral, ReferralCommand, after_filing, open, review, supervision,
};
use crate::authz::{self, On};
use crate::case::{self, Case, Rejection};
use crate::directory::Agency;
use crate::notice::Family;
use crate::time::Timestamp;

/// Decides one command against the current referral (`None` before submission).
///
/// Checks run in this order: the actor is in the directory; the authorization table (party and
/// role, kind, status); then the command's inputs. On success the returned referral has
/// `version` incremented and one history entry more; events never name the actor as a
/// recipient and only ever name parties.
pub fn decide(
    current: Option<&Referral>,
    command: &ReferralCommand,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let step = command.step();
    let actor = case::known_actor(ctx.directory, actor)?;
    let parties = current.map(Case::parties);
    let on = current.zip(parties.as_ref()).map(|(r, parties)| On {
        case_id: r.id,
        parties,
        status: r.status.as_str(),
    });
    authz::authorize(Family::Referral, step.as_str(), actor, on)?;
    match (current, command) {
        (None, ReferralCommand::Submit(submission)) => open::submit(submission, actor, ctx, now),
        (None, ReferralCommand::RecordNonReferral(record)) => {
            open::record_non_referral(record, actor, ctx, now)
        }
        (Some(referral), _) => act(referral, command, actor, ctx, now),
        // The table lets only submission open a referral.
        (None, _) => Err(Rejection::NotFound {
            step: step.as_str(),
        }),
    }
}

/// Every step after submission; the authorization table has already checked party and status.
fn act(
    referral: &Referral,
    command: &ReferralCommand,
    actor: &Agency,
    ctx: &Context<'_>,
    now: Timestamp,
) -> Result<Decision, Rejection> {
    let step = command.step();
    let mut out = Outcome::new(referral.clone(), step, actor, now);

    match command {
        // Only open a record; the table refused them on an existing one.
        ReferralCommand::Submit(_) | ReferralCommand::RecordNonReferral(_) => {
            Err(Rejection::AlreadyExists {
                case_id: referral.id,
            })
        }
        ReferralCommand::SignReceipt => review::sign_receipt(&mut out),
        ReferralCommand::RequestSupplement { missing, note } => {
            review::request_supplement(&mut out, referral, ctx, missing, note)
        }
        ReferralCommand::Supplement {
            documents: added,
            note,
        } => review::supplement(&mut out, referral, added, note),
        ReferralCommand::Forward { to, reason } => {
            review::forward(&mut out, referral, actor, ctx, to, reason)
        }
        ReferralCommand::ReturnNotPoliceMatter { reasons } => {
            review::return_not_police_matter(&mut out, referral, ctx, reasons)
        }
        ReferralCommand::File { note } => review::file(&mut out, note),
        ReferralCommand::Decline { reasons } => review::decline(&mut out, reasons),
        ReferralCommand::RequestReconsideration { reasons } => {
            supervision::request_reconsideration(&mut out, referral, ctx, reasons)
        }
        ReferralCommand::DecideReconsideration { outcome, reasons } => {
            supervision::decide_reconsideration(&mut out, *outcome, reasons)
        }
        ReferralCommand::SuggestSupervision { reasons } => {
            supervision::suggest_supervision(&mut out, referral, ctx, reasons)
        }
        ReferralCommand::RequestReasons { note } => supervision::request_reasons(&mut out, note),
        ReferralCommand::GiveReasons { reasons } => supervision::give_reasons(&mut out, reasons),
        ReferralCommand::TellAgency { note } => supervision::tell_agency(&mut out, note),
        ReferralCommand::NotifyFiling { reasons } => supervision::notify_filing(&mut out, reasons),
        ReferralCommand::MarkReviewOverdue { started_at, due_at } => {
            supervision::mark_review_overdue(&mut out, referral, *started_at, *due_at)
        }
        ReferralCommand::DemandExplanation { note } => {
            supervision::demand_explanation(&mut out, referral, note)
        }
        ReferralCommand::Explain { explanation } => {
            supervision::explain(&mut out, referral, explanation)
        }
        ReferralCommand::IssueCorrectionNotice { reasons } => {
            supervision::issue_correction_notice(&mut out, referral, ctx, reasons)
        }
        ReferralCommand::ReportToSuperior { note } => {
            supervision::report_to_superior(&mut out, referral, actor, ctx, note)
        }
        ReferralCommand::HandOverItems { documents, note } => {
            after_filing::hand_over_items(&mut out, referral, documents, note)
        }
        ReferralCommand::TransferCase {
            to_authority,
            reason,
            decided_at,
        } => after_filing::transfer_case(&mut out, ctx, to_authority, reason, *decided_at),
        ReferralCommand::WithdrawCase {
            reasons,
            decided_at,
        } => after_filing::withdraw_case(&mut out, ctx, reasons, *decided_at),
        ReferralCommand::HandBack {
            to,
            reasons,
            documents,
        } => after_filing::hand_back(&mut out, referral, ctx, to.as_ref(), reasons, documents),
    }?;
    Ok(out.finish())
}
