//! What every family's endpoints share: authenticate the caller, convert the request, ask the
//! family's service over the bus, and answer — plus `casebridge.v1.CaseService`, the timeline
//! of a case of any family.

use std::marker::PhantomData;
use std::sync::Arc;

use casebridge_core::case::Case;
use casebridge_core::directory::Directory;
use casebridge_core::ids::{CaseId, Sha256Digest};
use casebridge_core::notice::Role;
use casebridge_core::refusal::RefusalKind;
use casebridge_disputes::handler::Disputes;
use casebridge_leads::handler::Leads;
use casebridge_opinions::handler::Opinions;
use casebridge_penalties::handler::Penalties;
use casebridge_platform::cases::api::Picker;
use casebridge_platform::cases::{Accepted, CommandRequest, Family, Reply, Request};
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::case_service_server::CaseService;
use casebridge_rectifications::handler::Rectifications;
use casebridge_referrals::handler::Referrals;
use casebridge_transfers::handler::Transfers;
use tonic::{Response, Status};

use crate::context::Context;
use crate::convert::{self, Converted, Violations};
use crate::error::GatewayError;

/// The endpoints of one family, generic over it.
#[derive(Debug)]
pub struct Endpoints<F: Family> {
    ctx: Arc<Context>,
    family: PhantomData<fn() -> F>,
}

impl<F: Family> Clone for Endpoints<F> {
    fn clone(&self) -> Self {
        Endpoints {
            ctx: self.ctx.clone(),
            family: PhantomData,
        }
    }
}

impl<F: Family> Endpoints<F> {
    pub fn new(ctx: Arc<Context>) -> Endpoints<F> {
        Endpoints {
            ctx,
            family: PhantomData,
        }
    }

    /// The gateway's shared context.
    pub fn ctx(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// Asks the family's service and takes the answer `pick` expects.
    async fn ask<T>(
        &self,
        request: &Request<F::Command>,
        pick: Picker<F::Case, T>,
    ) -> Result<T, GatewayError> {
        self.ctx.ask_for(F::SERVICE, request, pick).await
    }

    /// One step: the digest of the request as sent makes retries idempotent.
    pub async fn step<M: prost::Message, R>(
        &self,
        request: tonic::Request<M>,
        convert: fn(M) -> Result<Converted<F::Command>, Violations>,
        result: fn(Accepted<F::Case>) -> R,
    ) -> Result<Response<R>, Status>
    where
        F::Command: convert::WireNames,
    {
        let actor = self.ctx.caller(&request)?;
        let content_digest = Sha256Digest::of(&request.get_ref().encode_to_vec());
        let Converted { step, attachments } =
            convert(request.into_inner()).map_err(GatewayError::from)?;
        // Documents may name only files the caller uploaded or may read.
        crate::evidence::require_attachments(&self.ctx, &actor.code, &attachments).await?;
        let request = Request::Command(CommandRequest {
            actor: actor.code,
            content_digest,
            step,
        });
        match self.ask(&request, Reply::accepted).await {
            Ok(accepted) => Ok(Response::new(result(accepted))),
            Err(GatewayError::Refused(refusal)) => {
                let refusal = match &request {
                    Request::Command(sent) => convert::wire_refusal(refusal, &sent.step.command),
                    _ => refusal,
                };
                Err(GatewayError::Refused(refusal).into())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// One case, read by one of its parties.
    pub async fn get<M, R>(
        &self,
        request: tonic::Request<M>,
        case_id: fn(&M) -> Result<CaseId, Violations>,
        to_wire: fn(&F::Case) -> R,
    ) -> Result<Response<R>, Status> {
        let actor = self.ctx.caller(&request)?;
        let case_id = case_id(request.get_ref()).map_err(GatewayError::from)?;
        self.read(actor.code, case_id)
            .await
            .map(|case| Response::new(to_wire(&case)))
    }

    /// The case value, for a party.
    pub async fn read(
        &self,
        actor: casebridge_core::ids::AgencyCode,
        case_id: CaseId,
    ) -> Result<F::Case, Status> {
        Ok(self
            .ask(&Request::Get { actor, case_id }, Reply::found)
            .await?)
    }

    /// The signed receipts of a case's steps, for a party.
    pub async fn receipts(
        &self,
        actor: casebridge_core::ids::AgencyCode,
        case_id: CaseId,
    ) -> Result<Vec<casebridge_core::ledger::Receipt>, Status> {
        Ok(self
            .ask(&Request::Receipts { actor, case_id }, Reply::receipts)
            .await?)
    }

    /// The caller's cases of this family.
    pub async fn list(
        &self,
        request: tonic::Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let actor = self.ctx.caller(&request)?;
        let query = convert::list_query(request.into_inner()).map_err(GatewayError::from)?;
        // A status the family does not have is a mistake to name, not an empty list (issue 12,
        // D8).
        if let Some(status) = &query.status {
            let known = status_names(F::FAMILY);
            if !known.contains(&status.as_str()) {
                return Err(GatewayError::from(Violations::of(vec![(
                    "status".to_owned(),
                    format!(
                        "{status:?} is not a {} status; one of {}",
                        F::FAMILY.as_str(),
                        known.join(", ")
                    ),
                )]))
                .into());
            }
        }
        let list = Request::List {
            actor: actor.code,
            query,
        };
        let (cases, next) = self.ask(&list, Reply::listed).await?;
        Ok(Response::new(convert::list_response(cases, next)))
    }
}

/// Every status a case of `family` can be in, by the name the wire and the table use.
fn status_names(family: casebridge_core::notice::Family) -> Vec<&'static str> {
    use casebridge_core::notice::Family as F;
    use casebridge_core::screening::warning::WarningStatus;
    use casebridge_core::{dispute, lead, opinion, rectification, referral, transfer};
    match family {
        F::Referral => referral::ReferralStatus::ALL.map(|s| s.as_str()).to_vec(),
        F::Transfer => transfer::TransferStatus::ALL.map(|s| s.as_str()).to_vec(),
        F::Dispute => dispute::DisputeStatus::ALL.map(|s| s.as_str()).to_vec(),
        F::Opinion => opinion::OpinionStatus::ALL.map(|s| s.as_str()).to_vec(),
        F::Penalty => std::iter::once("recorded")
            .chain(WarningStatus::ALL.map(|s| s.as_str()))
            .collect(),
        F::Lead => lead::LeadStatus::ALL.map(|s| s.as_str()).to_vec(),
        F::Rectification => rectification::RectificationStatus::ALL
            .map(|s| s.as_str())
            .to_vec(),
    }
}

/// `casebridge.v1.CaseService`.
#[derive(Debug, Clone)]
pub struct CasesGrpc {
    ctx: Arc<Context>,
}

impl CasesGrpc {
    pub fn new(ctx: Arc<Context>) -> CasesGrpc {
        CasesGrpc { ctx }
    }
}

/// A case of some family, as the timeline needs it.
fn timeline_of<C: Case>(family: &str, case: &C, directory: &Directory) -> pb::CaseTimeline {
    let name = |code: &casebridge_core::ids::AgencyCode| {
        directory
            .get(code)
            .map(|a| a.name.clone())
            .unwrap_or_default()
    };
    let parties = case.parties();
    let mut wire_parties: Vec<pb::CaseParty> = parties
        .by_role
        .iter()
        .map(|(role, code)| pb::CaseParty {
            agency: code.to_string(),
            name: name(code),
            role: convert::role(Some(*role)).into(),
        })
        .collect();
    wire_parties.extend(parties.former.iter().map(|code| pb::CaseParty {
        agency: code.to_string(),
        name: name(code),
        role: convert::role(None::<Role>).into(),
    }));
    pb::CaseTimeline {
        case_id: case.id().to_string(),
        family: family.to_owned(),
        status: case.status_name().to_owned(),
        headline: case.headline(),
        parties: wire_parties,
        receipts: Vec::new(),
        steps: case
            .timeline()
            .into_iter()
            .map(|t| pb::TimelineStep {
                actor_name: name(&t.actor),
                entry: Some(pb::HistoryEntry {
                    step: t.step,
                    actor: t.actor.to_string(),
                    at: Some(convert::timestamp(t.at)),
                    note: t.note,
                    documents: convert::documents(&t.documents),
                }),
            })
            .collect(),
    }
}

/// Asks one family for the case: `Ok(None)` when that family does not know it.
async fn timeline_in<F: Family>(
    ctx: &Arc<Context>,
    actor: &casebridge_core::ids::AgencyCode,
    case_id: CaseId,
) -> Result<Option<pb::CaseTimeline>, Status> {
    let endpoints = Endpoints::<F>::new(ctx.clone());
    let get = Request::Get {
        actor: actor.clone(),
        case_id,
    };
    let case = match endpoints.ask(&get, Reply::found).await {
        Ok(case) => case,
        Err(GatewayError::Refused(refusal)) if refusal.kind == RefusalKind::NotFound => {
            return Ok(None);
        }
        Err(error) => return Err(error.into()),
    };
    let mut timeline = timeline_of(F::FAMILY.as_str(), &case, &ctx.directory());
    timeline.receipts = endpoints
        .receipts(actor.clone(), case_id)
        .await?
        .iter()
        .map(convert::receipt)
        .collect();
    Ok(Some(timeline))
}

#[tonic::async_trait]
impl CaseService for CasesGrpc {
    /// Asks the seven families at once: a case id is unique across them, so at most one knows it.
    #[tracing::instrument(skip_all)]
    async fn get_timeline(
        &self,
        request: tonic::Request<pb::GetTimelineRequest>,
    ) -> Result<Response<pb::CaseTimeline>, Status> {
        let actor = self.ctx.caller(&request)?.code;
        let case_id =
            convert::case_id("case_id", &request.get_ref().case_id).map_err(GatewayError::from)?;
        let (referral, transfer, dispute, opinion, penalty, lead, rectification) = tokio::join!(
            timeline_in::<Referrals>(&self.ctx, &actor, case_id),
            timeline_in::<Transfers>(&self.ctx, &actor, case_id),
            timeline_in::<Disputes>(&self.ctx, &actor, case_id),
            timeline_in::<Opinions>(&self.ctx, &actor, case_id),
            timeline_in::<Penalties>(&self.ctx, &actor, case_id),
            timeline_in::<Leads>(&self.ctx, &actor, case_id),
            timeline_in::<Rectifications>(&self.ctx, &actor, case_id),
        );
        for found in [
            referral,
            transfer,
            dispute,
            opinion,
            penalty,
            lead,
            rectification,
        ] {
            if let Some(timeline) = found? {
                return Ok(Response::new(timeline));
            }
        }
        Err(
            GatewayError::Refused(casebridge_core::refusal::Refusal::new(
                RefusalKind::NotFound,
                "STATE",
                Some("case_id"),
                format!("no case {case_id} in any family"),
            ))
            .into(),
        )
    }
}
