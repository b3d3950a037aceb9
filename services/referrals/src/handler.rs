//! Applies requests to referrals.
//!
//! A command runs in one transaction: idempotency lookup, load, the pure state machine, then
//! the new state, the outbox rows of its events and the idempotency record. A refused command
//! writes nothing. The caller sends the reply only after [`Referrals::handle`] returns, which
//! is after the commit.

use std::sync::Arc;

use casebridge_core::directory::Directory;
use casebridge_core::notice::{Family, Notice};
use casebridge_core::referral::{
    self, Referral, ReferralCommand, ReferralEvent, ReferralEventKind, ReferralPolicy, Rejection,
    Step,
};
use casebridge_core::refusal::{Refusal, RefusalKind};
use casebridge_core::time::Clock;
use casebridge_platform::bus::Message;
use casebridge_platform::outbox::OutboxRelay;
use casebridge_platform::store::{Db, Idempotency, Messaging, StoreError};

use crate::api::{Accepted, CommandRequest, Reply, Request};
use crate::store;

/// The referrals service logic, shared by every adapter.
#[derive(Debug, Clone)]
pub struct Referrals {
    db: Db,
    messaging: Messaging,
    directory: Arc<Directory>,
    policy: ReferralPolicy,
    clock: Arc<dyn Clock>,
    relay: OutboxRelay,
}

impl Referrals {
    pub fn new(
        db: Db,
        directory: Arc<Directory>,
        policy: ReferralPolicy,
        clock: Arc<dyn Clock>,
        relay: OutboxRelay,
    ) -> Referrals {
        Referrals {
            db,
            messaging: Messaging::new(crate::SERVICE),
            directory,
            policy,
            clock,
            relay,
        }
    }

    /// Answers one request. An `Err` is a passing storage failure: retry the same request.
    pub async fn handle(&self, request: Request) -> Result<Reply, StoreError> {
        match request {
            Request::Command(command) => self.command(command).await,
            Request::Get { actor, case_id } => {
                let mut conn = self.db.pool().acquire().await?;
                Ok(match store::load(&mut conn, case_id).await? {
                    Some(referral) if referral.is_party(&actor) => Reply::Found { referral },
                    Some(_) => refused(
                        RefusalKind::PermissionDenied,
                        "AUTH-PARTY",
                        None,
                        format!("agency {actor} is not a party to referral {case_id}"),
                    ),
                    None => refused(
                        RefusalKind::NotFound,
                        "STATE",
                        Some("referral_id"),
                        format!("no referral {case_id}"),
                    ),
                })
            }
        }
    }

    #[tracing::instrument(skip_all, fields(case_id = %request.case_id, agency = %request.actor, step = %request.command.step()))]
    async fn command(&self, request: CommandRequest) -> Result<Reply, StoreError> {
        let CommandRequest {
            actor,
            request_id,
            content_digest,
            case_id,
            command,
        } = request;
        let digest = content_digest.to_hex();
        let mut tx = self.db.begin().await?;
        match self
            .messaging
            .idempotency(&mut tx, actor.as_str(), request_id.as_str(), &digest)
            .await?
        {
            Idempotency::New => {}
            Idempotency::Replay { reply, .. } => {
                let mut original: Reply = serde_json::from_slice(&reply)
                    .map_err(|e| StoreError::Corrupt(format!("stored reply: {e}")))?;
                if let Reply::Accepted(accepted) = &mut original {
                    accepted.replayed = true;
                }
                tracing::debug!("replayed an accepted request");
                return Ok(original);
            }
            Idempotency::Conflict => {
                return Ok(refused(
                    RefusalKind::AlreadyExists,
                    "IDEMPOTENCY",
                    Some("request_id"),
                    format!(
                        "request id {request_id} was already used by this agency for a different request; \
                         use a new request id for new content"
                    ),
                ));
            }
        }
        let Some(agency) = self.directory.get(&actor) else {
            return Ok(refused(
                RefusalKind::PermissionDenied,
                "DIR",
                None,
                format!("agency {actor} is not in the agency directory"),
            ));
        };
        let current = store::load(&mut tx, case_id).await?;
        let now = self.clock.now();
        let decision = match referral::decide(
            current.as_ref(),
            &command,
            agency,
            &self.directory,
            &self.policy,
            now,
        ) {
            Ok(decision) => decision,
            Err(rejection) => {
                tracing::info!(rule = rejection.rule(), "refused");
                return Ok(Reply::Refused {
                    refusal: refusal(&rejection, command.step()),
                });
            }
        };
        store::save(
            &mut tx,
            &decision.referral,
            current.as_ref().map(|r| r.version),
            now.as_millis(),
        )
        .await?;
        for event in &decision.events {
            let notice = notice(event, &decision.referral, &self.directory);
            let message = Message::json(notice.routing_key(), &notice)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            self.messaging
                .enqueue(&mut tx, &message, now.as_millis())
                .await?;
        }
        let reply = Reply::Accepted(Accepted {
            referral: decision.referral,
            replayed: false,
            accepted_at: now,
        });
        let encoded = serde_json::to_vec(&reply).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.messaging
            .record(
                &mut tx,
                actor.as_str(),
                request_id.as_str(),
                &digest,
                &encoded,
                now.as_millis(),
            )
            .await?;
        tx.commit().await?;
        self.relay.wake();
        tracing::info!("accepted");
        Ok(reply)
    }
}

fn refused(kind: RefusalKind, rule: &str, field: Option<&str>, message: String) -> Reply {
    Reply::Refused {
        refusal: Refusal::new(kind, rule, field, message),
    }
}

/// The one place where the referral state machine's rejections become refusals: the kind is
/// chosen per rejection, and the field is renamed to its wire name.
pub fn refusal(rejection: &Rejection, step: Step) -> Refusal {
    let kind = match rejection {
        Rejection::AlreadyExists { .. } => RefusalKind::AlreadyExists,
        Rejection::NotFound { .. } => RefusalKind::NotFound,
        Rejection::WrongRole { .. }
        | Rejection::NotAddressee { .. }
        | Rejection::NotAParty { .. } => RefusalKind::PermissionDenied,
        Rejection::UnknownAgency { field: "actor", .. } => RefusalKind::PermissionDenied,
        Rejection::UnknownAgency { .. } => RefusalKind::NotFound,
        Rejection::WrongState { .. } => RefusalKind::FailedPrecondition,
        Rejection::WrongRecipientKind { .. }
        | Rejection::MissingDocument { .. }
        | Rejection::Invalid { .. } => RefusalKind::InvalidArgument,
    };
    let field = rejection.field().map(|f| match (step, f) {
        (Step::Forward, "to") => "to_police",
        (Step::Decline, "reasons") => "decline.reasons",
        (Step::File, "note") => "file.note",
        (_, f) => f,
    });
    Refusal::new(kind, rejection.rule(), field, rejection.to_string())
}

/// The notice of one event: who is told, and a line for people without personal data.
fn notice(event: &ReferralEvent, referral: &Referral, directory: &Directory) -> Notice {
    let name = |code| {
        directory
            .get(code)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| code.to_string())
    };
    let what = match &event.kind {
        ReferralEventKind::Submitted => format!(
            "referred a suspected crime ({}) to {}",
            referral.suspected_offence,
            name(&referral.police)
        ),
        ReferralEventKind::ReceiptSigned => "signed the receipt (回执)".to_owned(),
        ReferralEventKind::SupplementRequested { missing, .. } => format!(
            "asked for materials: {}",
            missing
                .iter()
                .map(|k| k.label_zh())
                .collect::<Vec<_>>()
                .join("、")
        ),
        ReferralEventKind::Supplemented { documents } => {
            format!("supplied {} document(s)", documents.len())
        }
        ReferralEventKind::Forwarded { to, .. } => {
            format!("forwarded the referral to {}", name(to))
        }
        ReferralEventKind::ReturnedNotPoliceMatter { .. } => {
            "returned the referral as outside police remit".to_owned()
        }
        ReferralEventKind::Filed { .. } => "filed the case (立案)".to_owned(),
        ReferralEventKind::Declined { .. } => "declined to file (不予立案)".to_owned(),
    };
    Notice {
        case_id: event.case_id,
        family: Family::Referral,
        event: event.kind.name().to_owned(),
        actor: event.actor.clone(),
        at: event.at,
        recipients: event.recipients.clone(),
        summary: format!("{} {what} — referral {}", name(&event.actor), event.case_id),
        detail: serde_json::to_value(event).unwrap_or(serde_json::Value::Null),
        parties: referral.parties_by_role(),
        attachments: match &event.kind {
            ReferralEventKind::Submitted => {
                referral.documents.iter().filter_map(|d| d.sha256).collect()
            }
            ReferralEventKind::Supplemented { documents } => {
                documents.iter().filter_map(|d| d.sha256).collect()
            }
            _ => Vec::new(),
        },
    }
}

/// The step of a command, for callers that only have the command.
pub fn step_of(command: &ReferralCommand) -> Step {
    command.step()
}
