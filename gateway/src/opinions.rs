//! `casebridge.v1.OpinionService`: decode, authenticate, ask the opinions service, encode.

use std::sync::Arc;

use casebridge_opinions::handler::Opinions;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::opinion_service_server::OpinionService;
use tonic::{Response, Status};

use crate::app::Context;
use crate::cases::Endpoints;
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

#[tonic::async_trait]
impl OpinionService for OpinionsGrpc {
    #[tracing::instrument(skip_all)]
    async fn request_opinion(
        &self,
        r: Req<pb::RequestOpinionRequest>,
    ) -> Result<pb::OpinionResult> {
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
