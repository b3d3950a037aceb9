//! `casebridge.v1.TransferService`: decode, authenticate, ask the transfers service, encode.

use std::sync::Arc;

use casebridge_proto::v1 as pb;
use casebridge_proto::v1::transfer_service_server::TransferService;
use casebridge_transfers::handler::Transfers;
use tonic::{Response, Status};

use crate::cases::Endpoints;
use crate::context::Context;
use crate::convert::transfers as convert;

/// The transfer endpoints.
#[derive(Debug, Clone)]
pub struct TransfersGrpc(Endpoints<Transfers>);

impl TransfersGrpc {
    pub fn new(ctx: Arc<Context>) -> TransfersGrpc {
        TransfersGrpc(Endpoints::new(ctx))
    }
}

type Result<T> = std::result::Result<Response<T>, Status>;
type Req<T> = tonic::Request<T>;

#[tonic::async_trait]
impl TransferService for TransfersGrpc {
    #[tracing::instrument(skip_all)]
    async fn send_transfer(&self, r: Req<pb::SendTransferRequest>) -> Result<pb::TransferResult> {
        self.0.step(r, convert::send, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn get_transfer(&self, r: Req<pb::GetTransferRequest>) -> Result<pb::Transfer> {
        let id =
            |r: &pb::GetTransferRequest| crate::convert::case_id("transfer_id", &r.transfer_id);
        self.0.get(r, id, convert::transfer).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_transfers(&self, r: Req<pb::ListCasesRequest>) -> Result<pb::ListCasesResponse> {
        self.0.list(r).await
    }

    #[tracing::instrument(skip_all)]
    async fn sign_transfer_receipt(
        &self,
        r: Req<pb::SignTransferReceiptRequest>,
    ) -> Result<pb::TransferResult> {
        self.0.step(r, convert::sign_receipt, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn accept_transfer(
        &self,
        r: Req<pb::AcceptTransferRequest>,
    ) -> Result<pb::TransferResult> {
        self.0.step(r, convert::accept, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn object_to_transfer(
        &self,
        r: Req<pb::ObjectToTransferRequest>,
    ) -> Result<pb::TransferResult> {
        self.0.step(r, convert::object, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn report_outcome(&self, r: Req<pb::ReportOutcomeRequest>) -> Result<pb::TransferResult> {
        self.0
            .step(r, convert::report_outcome, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn decline_transfer(
        &self,
        r: Req<pb::DeclineTransferRequest>,
    ) -> Result<pb::TransferResult> {
        self.0.step(r, convert::decline, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn contest_decline(
        &self,
        r: Req<pb::ContestDeclineRequest>,
    ) -> Result<pb::TransferResult> {
        self.0
            .step(r, convert::contest_decline, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn suspend_transfer(
        &self,
        r: Req<pb::SuspendTransferRequest>,
    ) -> Result<pb::TransferResult> {
        self.0.step(r, convert::suspend, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn resume_transfer(
        &self,
        r: Req<pb::ResumeTransferRequest>,
    ) -> Result<pb::TransferResult> {
        self.0.step(r, convert::resume, convert::result).await
    }
}
