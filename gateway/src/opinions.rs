//! `casebridge.v1.OpinionService`: decode, authenticate, ask the opinions service, encode.

use std::sync::Arc;

use casebridge_core::ids::CaseId;
use casebridge_core::refusal::{Refusal, RefusalKind};
use casebridge_opinions::handler::Opinions;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::opinion_service_server::OpinionService;
use casebridge_referrals::handler::Referrals;
use casebridge_transfers::handler::Transfers;
use tonic::{Response, Status};

use crate::cases::Endpoints;
use crate::context::Context;
use crate::convert::opinions as convert;

/// The opinion endpoints.
#[derive(Debug, Clone)]
pub struct OpinionsGrpc(Endpoints<Opinions>);

impl OpinionsGrpc {
    pub fn new(ctx: Arc<Context>) -> OpinionsGrpc {
        OpinionsGrpc(Endpoints::new(ctx))
    }
}

type Result<T> = std::result::Result<Response<T>, Status>;
type Req<T> = tonic::Request<T>;

impl OpinionsGrpc {
    /// An opinion requested under a case stops that case's clocks (S4 Arts 18, 64), so the case
    /// must be the caller's own: a referral or transfer it is party to. An id that names anything
    /// else (nothing, another agency's case, a dispute or an opinion) gets one answer, which tells
    /// a stranger nothing (the rule for every rpc that names another case).
    async fn check_under_case(
        &self,
        caller: &casebridge_core::ids::AgencyCode,
        case: CaseId,
    ) -> std::result::Result<(), Status> {
        let transfers = Endpoints::<Transfers>::new(self.0.ctx().clone());
        let referrals = Endpoints::<Referrals>::new(self.0.ctx().clone());
        let (transfer, referral) = tokio::join!(
            transfers.read(caller.clone(), case),
            referrals.read(caller.clone(), case),
        );
        if transfer.is_ok() || referral.is_ok() {
            return Ok(());
        }
        let refusal = Refusal::new(
            RefusalKind::InvalidArgument,
            "SAMR-18",
            Some("under_case_id"),
            format!(
                "under_case_id {case} names no referral or transfer your agency is a party to; an \
                 opinion can stop only the clock of the requester's own case"
            ),
        );
        Err(crate::error::GatewayError::Refused(refusal).into())
    }
}

#[tonic::async_trait]
impl OpinionService for OpinionsGrpc {
    #[tracing::instrument(skip_all)]
    async fn request_opinion(
        &self,
        r: Req<pb::RequestOpinionRequest>,
    ) -> Result<pb::OpinionResult> {
        // A malformed id is left to the conversion, which names every bad field at once.
        if let Ok(case) = CaseId::parse(&r.get_ref().under_case_id) {
            let caller = self.0.ctx().caller(&r)?;
            self.check_under_case(&caller.code, case).await?;
        }
        self.0.step(r, convert::request, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn get_opinion(&self, r: Req<pb::GetOpinionRequest>) -> Result<pb::OpinionRequest> {
        let id = |r: &pb::GetOpinionRequest| crate::convert::case_id("opinion_id", &r.opinion_id);
        self.0.get(r, id, convert::opinion_request).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_opinions(&self, r: Req<pb::ListCasesRequest>) -> Result<pb::ListCasesResponse> {
        self.0.list(r).await
    }

    #[tracing::instrument(skip_all)]
    async fn accept_opinion_request(
        &self,
        r: Req<pb::AcceptOpinionRequestRequest>,
    ) -> Result<pb::OpinionResult> {
        self.0.step(r, convert::accept, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn refuse_opinion_request(
        &self,
        r: Req<pb::RefuseOpinionRequestRequest>,
    ) -> Result<pb::OpinionResult> {
        self.0.step(r, convert::refuse, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn request_material(
        &self,
        r: Req<pb::RequestMaterialRequest>,
    ) -> Result<pb::OpinionResult> {
        self.0
            .step(r, convert::request_material, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn supply_material(
        &self,
        r: Req<pb::SupplyMaterialRequest>,
    ) -> Result<pb::OpinionResult> {
        self.0
            .step(r, convert::supply_material, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn deliver_opinion(
        &self,
        r: Req<pb::DeliverOpinionRequest>,
    ) -> Result<pb::OpinionResult> {
        self.0.step(r, convert::deliver, convert::result).await
    }
}
