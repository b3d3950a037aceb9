//! `casebridge.v1.DisputeService`: decode, authenticate, ask the disputes service, encode.

use std::sync::Arc;

use casebridge_disputes::handler::Disputes;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::dispute_service_server::DisputeService;
use tonic::{Response, Status};

use crate::app::Context;
use crate::cases::Endpoints;
use crate::convert::disputes as convert;

/// The dispute endpoints.
#[derive(Debug, Clone)]
pub struct DisputesGrpc(Endpoints<Disputes>);

impl DisputesGrpc {
    pub fn new(ctx: Arc<Context>) -> DisputesGrpc {
        DisputesGrpc(Endpoints::new(ctx))
    }
}

type Result<T> = std::result::Result<Response<T>, Status>;
type Req<T> = tonic::Request<T>;

#[tonic::async_trait]
impl DisputeService for DisputesGrpc {
    #[tracing::instrument(skip_all)]
    async fn raise_dispute(&self, r: Req<pb::RaiseDisputeRequest>) -> Result<pb::DisputeResult> {
        self.0.step(r, convert::raise, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn designate_directly(
        &self,
        r: Req<pb::DesignateDirectlyRequest>,
    ) -> Result<pb::DisputeResult> {
        self.0
            .step(r, convert::designate_directly, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn get_dispute(&self, r: Req<pb::GetDisputeRequest>) -> Result<pb::Dispute> {
        let id = |r: &pb::GetDisputeRequest| crate::convert::case_id("dispute_id", &r.dispute_id);
        self.0.get(r, id, convert::dispute).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_disputes(&self, r: Req<pb::ListCasesRequest>) -> Result<pb::ListCasesResponse> {
        self.0.list(r).await
    }

    #[tracing::instrument(skip_all)]
    async fn record_minutes(&self, r: Req<pb::RecordMinutesRequest>) -> Result<pb::DisputeResult> {
        self.0
            .step(r, convert::record_minutes, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn refer_dispute(&self, r: Req<pb::ReferDisputeRequest>) -> Result<pb::DisputeResult> {
        self.0.step(r, convert::refer, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn accept_dispute(&self, r: Req<pb::AcceptDisputeRequest>) -> Result<pb::DisputeResult> {
        self.0.step(r, convert::accept, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn reply_to_dispute(
        &self,
        r: Req<pb::ReplyToDisputeRequest>,
    ) -> Result<pb::DisputeResult> {
        self.0.step(r, convert::reply, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn designate_agency(
        &self,
        r: Req<pb::DesignateAgencyRequest>,
    ) -> Result<pb::DisputeResult> {
        self.0.step(r, convert::designate, convert::result).await
    }
}
