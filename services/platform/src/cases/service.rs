//! [`CaseService`]: applies requests and reactions to one family's cases.

use std::sync::Arc;

use casebridge_core::authz;
use casebridge_core::case::{Case, Decision, Rejection};
use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::notice::Notice;
use casebridge_core::refusal::{Refusal, RefusalKind};
use casebridge_core::time::{Clock, Timestamp};

use super::api::{self, Accepted, CommandRequest, Reply, Request};
use super::store::CaseStore;
use super::{Family, Reaction};
use crate::bus::Message;
use crate::idempotent::{Prior, Step};
use crate::ledger::{Chain, Position, Signer};
use crate::outbox::OutboxRelay;
use crate::store::{Db, Messaging, StoreError, Writes};

/// One family's service logic, shared by every adapter (the bus consumers, tests).
#[derive(Debug, Clone)]
pub struct CaseService<F: Family> {
    family: F,
    db: Db,
    messaging: Messaging,
    cases: CaseStore,
    chain: Chain,
    signer: Signer,
    clock: Arc<dyn Clock>,
    relay: OutboxRelay,
}

type FamilyReply<F> = Reply<<F as Family>::Case>;

impl<F: Family + std::fmt::Debug> CaseService<F> {
    pub fn new(
        family: F,
        db: Db,
        signer: Signer,
        clock: Arc<dyn Clock>,
        relay: OutboxRelay,
    ) -> CaseService<F> {
        CaseService {
            family,
            db,
            messaging: Messaging::new(F::SERVICE),
            cases: CaseStore::new(F::SERVICE),
            chain: Chain::new(F::SERVICE),
            signer,
            clock,
            relay,
        }
    }

    pub fn family(&self) -> &F {
        &self.family
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The service's chain in the full-process record.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Answers one request. An `Err` is a passing storage failure: retry the same request.
    pub async fn handle(&self, request: Request<F::Command>) -> Result<FamilyReply<F>, StoreError> {
        match request {
            Request::Command(command) => self
                .steps(vec![command])
                .await?
                .pop()
                .ok_or_else(|| StoreError::Corrupt("a step was left unanswered".into())),
            Request::Get { actor, case_id } => Ok(match self.readable(&actor, case_id).await? {
                Ok(case) => Reply::Found { case },
                Err(refused) => refused,
            }),
            Request::Receipts { actor, case_id } => {
                Ok(match self.readable(&actor, case_id).await? {
                    Ok(_) => Reply::Receipts {
                        receipts: self.chain.receipts_of(&self.db, case_id).await?,
                    },
                    Err(refused) => refused,
                })
            }
            Request::List { actor, query } => {
                if query.limit == 0 || query.limit > api::MAX_PAGE {
                    return Ok(refused(
                        RefusalKind::InvalidArgument,
                        "INPUT",
                        Some("page_size"),
                        format!("page_size must be between 1 and {}", api::MAX_PAGE),
                    ));
                }
                let mut conn = self.db.pool().acquire().await?;
                let (cases, next) = self
                    .cases
                    .list::<F::Case>(&mut conn, &actor, &query)
                    .await?;
                Ok(Reply::Listed { cases, next })
            }
        }
    }

    /// The case, when `actor` may read it; otherwise the refusal to answer.
    async fn readable(
        &self,
        actor: &AgencyCode,
        case_id: CaseId,
    ) -> Result<Result<F::Case, FamilyReply<F>>, StoreError> {
        let mut conn = self.db.pool().acquire().await?;
        Ok(
            match self.cases.load::<F::Case>(&mut conn, case_id).await? {
                Some(case) if authz::may_read(&case.parties(), actor) => Ok(case),
                Some(_) => Err(refused(
                    RefusalKind::PermissionDenied,
                    "AUTH-PARTY",
                    None,
                    format!(
                        "agency {actor} is not a party to {} {case_id}; only its parties may read it",
                        F::FAMILY
                    ),
                )),
                None => Err(refused(
                    RefusalKind::NotFound,
                    "STATE",
                    Some("case_id"),
                    format!("no {} {case_id}", F::FAMILY),
                )),
            },
        )
    }

    /// Answers many requests, in order: the steps in **one** transaction (group commit), each
    /// exactly as it would be alone, since each sees the ones before it; the reads on their
    /// own. An `Err` is a passing storage failure: nothing was committed; retry them all (a
    /// step that had been accepted before replays its reply).
    ///
    /// Why: every accepted step appends to the service's chain, whose head row stays locked
    /// until commit, so steps commit one after another. Alone, each pays a whole commit and a
    /// lock hand-over between processes; together, a batch pays one.
    pub async fn handle_batch(
        &self,
        requests: Vec<Request<F::Command>>,
    ) -> Result<Vec<FamilyReply<F>>, StoreError> {
        let mut steps = Vec::new();
        let mut reads = Vec::new();
        for (i, request) in requests.into_iter().enumerate() {
            match request {
                Request::Command(command) => steps.push((i, command)),
                read => reads.push((i, read)),
            }
        }
        let (places, commands): (Vec<usize>, Vec<_>) = steps.into_iter().unzip();
        let mut replies: Vec<Option<FamilyReply<F>>> =
            (0..places.len() + reads.len()).map(|_| None).collect();
        for (i, reply) in places.into_iter().zip(self.steps(commands).await?) {
            replies[i] = Some(reply);
        }
        for (i, read) in reads {
            replies[i] = Some(self.handle(read).await?);
        }
        Ok(replies.into_iter().flatten().collect())
    }

    /// Takes `commands` in order in one transaction and commits it; wakes the outbox relay
    /// when a step was newly accepted.
    async fn steps(
        &self,
        commands: Vec<CommandRequest<F::Command>>,
    ) -> Result<Vec<FamilyReply<F>>, StoreError> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.db.begin().await?;
        let mut replies = Vec::with_capacity(commands.len());
        // The chain's head once the first accepted step has locked it: the transaction holds
        // the lock until its commit, so the later steps link on it without reading it again.
        let mut head = None;
        for command in commands {
            replies.push(self.command_in(&mut tx, &mut head, command).await?);
        }
        tx.commit().await?;
        let accepted = replies.iter().any(|reply| {
            matches!(
                reply,
                Reply::Accepted(Accepted {
                    replayed: false,
                    ..
                })
            )
        });
        if accepted {
            self.relay.wake();
        }
        Ok(replies)
    }

    /// One step inside `tx`: idempotency, the state machine, and on acceptance the case, its
    /// events (outbox and chain), the receipt and the idempotency record. Writes nothing unless
    /// the step is accepted; the caller commits. `head` is the chain's head when an earlier
    /// step of `tx` locked it, and is locked and read here otherwise.
    ///
    /// Two round trips to the database for an accepted step (three for the first of a
    /// transaction): the idempotency record and the case in one read, and every write in one
    /// [`Writes`], since the round trips, not the statements, are what a step costs.
    #[tracing::instrument(skip_all, fields(family = %F::FAMILY, case_id = %request.step.case_id, agency = %request.actor, step = F::step(&request.step.command)))]
    async fn command_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        head: &mut Option<Position>,
        request: CommandRequest<F::Command>,
    ) -> Result<FamilyReply<F>, StoreError> {
        let CommandRequest {
            actor,
            content_digest,
            step:
                api::CaseStep {
                    request_id,
                    case_id,
                    command,
                },
        } = request;
        let step = Step {
            actor: &actor,
            request_id: &request_id,
            content_digest,
            case_id,
            name: F::step(&command),
        };
        let (record, current) = self
            .cases
            .load_with_record::<F::Case>(
                &mut *tx,
                self.messaging.idempotency_table(),
                actor.as_str(),
                request_id.as_str(),
                case_id,
            )
            .await?;
        match step.prior_of_record::<FamilyReply<F>>(record)? {
            Prior::New => {}
            Prior::Replay(mut original) => {
                if let Reply::Accepted(accepted) = &mut original {
                    accepted.replayed = true;
                }
                tracing::debug!("replayed an accepted request");
                return Ok(original);
            }
            Prior::Conflict(refusal) => return Ok(Reply::Refused { refusal }),
        }
        let Some(agency) = self.family.directory().get(&actor).cloned() else {
            return Ok(refused(
                RefusalKind::PermissionDenied,
                "DIR",
                None,
                format!("agency {actor} is not in the agency directory"),
            ));
        };
        let related = match F::related(&command) {
            Some(id) => self.cases.load::<F::Case>(&mut *tx, id).await?,
            None => None,
        };
        let now = self.clock.now();
        let decision =
            match self
                .family
                .decide(current.as_ref(), related.as_ref(), &command, &agency, now)
            {
                Ok(decision) => decision,
                Err(rejection) => {
                    tracing::info!(rule = rejection.rule(), "refused");
                    return Ok(Reply::Refused {
                        refusal: refusal(&rejection),
                    });
                }
            };
        let head = match head {
            Some(head) => head,
            None => head.insert(self.chain.lock_head(&mut *tx).await?),
        };
        let mut writes = Writes::default();
        let positions =
            self.decision_writes(head, &decision, current.as_ref(), now, &mut writes)?;
        let receipt = step.signed_receipt(&self.chain, &self.signer, &positions, now);
        writes.push(self.chain.receipt_write(&receipt)?);
        let reply = Reply::Accepted(Accepted {
            case: decision.case,
            replayed: false,
            accepted_at: now,
            receipt,
        });
        writes.push(step.record_write(&self.messaging, &reply, now)?);
        writes.execute(&mut *tx, self.db.dialect()).await?;
        tracing::info!("accepted");
        Ok(reply)
    }

    /// Adds to `writes` what records an accepted decision: the case, its parties, the outbox
    /// rows of its events, and the events on the service's chain after `head` (locked by the
    /// caller's transaction), which moves to the last. Returns where the events landed.
    fn decision_writes(
        &self,
        head: &mut Position,
        decision: &Decision<F::Case, F::Event>,
        previous: Option<&F::Case>,
        now: Timestamp,
        writes: &mut Writes,
    ) -> Result<Vec<Position>, StoreError> {
        self.cases
            .save_writes(&decision.case, previous, now, writes)?;
        let mut messages = Vec::with_capacity(decision.events.len());
        let mut recorded = Vec::with_capacity(decision.events.len());
        for event in &decision.events {
            let notice = self.family.notice(event, &decision.case);
            let message = Message::json(notice.routing_key(), &notice)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            recorded.push((message.id.to_string(), notice));
            messages.push(message);
        }
        writes.extend(self.messaging.enqueue_write(&messages, now.as_millis())?);
        self.chain.link(head, &recorded, writes)
    }

    /// Applies another family's event that calls for a step of this family, once however often
    /// it is delivered. A step the state machine refuses is logged and dropped: the causing
    /// case moved on legitimately (e.g. a designation for a transfer that was withdrawn).
    #[tracing::instrument(skip_all, fields(family = %F::FAMILY, message_id = %message.id, cause = %notice.routing_key()))]
    pub async fn react(&self, message: &Message, notice: &Notice) -> Result<(), StoreError> {
        let Some(Reaction {
            case_id,
            actor,
            command,
        }) = self.family.reaction(notice)
        else {
            return Ok(());
        };
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        if !self
            .messaging
            .first_delivery(&mut tx, &message.id.to_string(), now.as_millis())
            .await?
        {
            return Ok(());
        }
        let Some(agency) = self.family.directory().get(&actor).cloned() else {
            tracing::warn!(%actor, "reaction refused: the actor is not in the directory");
            tx.commit().await?;
            return Ok(());
        };
        let current = self.cases.load::<F::Case>(&mut tx, case_id).await?;
        match self
            .family
            .decide(current.as_ref(), None, &command, &agency, now)
        {
            Ok(decision) => {
                let mut head = self.chain.lock_head(&mut tx).await?;
                let mut writes = Writes::default();
                self.decision_writes(&mut head, &decision, current.as_ref(), now, &mut writes)?;
                writes.execute(&mut tx, self.db.dialect()).await?;
                tx.commit().await?;
                self.relay.wake();
                tracing::info!(%case_id, step = F::step(&command), "reaction accepted");
            }
            Err(rejection) => {
                tx.commit().await?;
                tracing::warn!(%case_id, step = F::step(&command), rule = rejection.rule(), reason = %rejection, "reaction refused");
            }
        }
        Ok(())
    }
}

fn refused<S>(kind: RefusalKind, rule: &str, field: Option<&str>, message: String) -> Reply<S> {
    Reply::Refused {
        refusal: Refusal::new(kind, rule, field, message),
    }
}

/// The one place where a state machine's rejections become refusals: the kind is chosen per
/// rejection; the field keeps the state machine's name (the gateway knows the wire's).
pub fn refusal(rejection: &Rejection) -> Refusal {
    let kind = match rejection {
        Rejection::AlreadyExists { .. } => RefusalKind::AlreadyExists,
        Rejection::NotFound { .. } => RefusalKind::NotFound,
        Rejection::WrongRole { .. }
        | Rejection::NotAddressee { .. }
        | Rejection::NotAParty { .. } => RefusalKind::PermissionDenied,
        Rejection::UnknownAgency { field: "actor", .. } => RefusalKind::PermissionDenied,
        Rejection::UnknownAgency { .. } | Rejection::UnknownCase { .. } => RefusalKind::NotFound,
        Rejection::WrongState { .. } => RefusalKind::FailedPrecondition,
        // A rule that forbids the step given the case's history is a precondition; one that
        // forbids the input is an invalid argument.
        Rejection::Forbidden { field: None, .. } => RefusalKind::FailedPrecondition,
        Rejection::Forbidden { field: Some(_), .. }
        | Rejection::WrongRecipientKind { .. }
        | Rejection::MissingDocument { .. }
        | Rejection::Invalid { .. } => RefusalKind::InvalidArgument,
    };
    Refusal {
        item: rejection.item(),
        ..Refusal::new(
            kind,
            rejection.rule(),
            rejection.field(),
            rejection.to_string(),
        )
    }
}
