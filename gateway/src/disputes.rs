//! `casebridge.v1.DisputeService`: decode, authenticate, ask the disputes service, encode.

use std::sync::Arc;

use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::refusal::{Refusal, RefusalKind};
use casebridge_core::transfer::TransferStatus;
use casebridge_disputes::handler::Disputes;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::dispute_service_server::DisputeService;
use casebridge_transfers::handler::Transfers;
use tonic::{Response, Status};

use crate::cases::Endpoints;
use crate::context::Context;
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

/// A refusal about the transfer a dispute names, on the field `transfer_id`.
fn transfer_refused(kind: RefusalKind, message: String) -> Status {
    let refusal = Refusal::new(kind, "SAMR-16", Some("transfer_id"), message);
    crate::error::GatewayError::Refused(refusal).into()
}

impl DisputesGrpc {
    /// A dispute that names a transfer restarts it once settled (S4 Art 16), so only one of the
    /// transfer's two parties may name it, only while the receiver's objection stands, and only
    /// against the other party (issue 12, D1: an outsider's dispute took transfers over). The
    /// transfer is read as the caller: an id that names no transfer the caller is party to (none,
    /// another agency's, or a case of another family) gets one answer, which tells a stranger
    /// nothing about it.
    async fn check_named_transfer(
        &self,
        caller: &AgencyCode,
        transfer: CaseId,
        respondent: &str,
    ) -> std::result::Result<(), Status> {
        let transfers = crate::cases::Endpoints::<Transfers>::new(self.0.ctx().clone());
        let Ok(t) = transfers.read(caller.clone(), transfer).await else {
            return Err(transfer_refused(
                RefusalKind::InvalidArgument,
                format!(
                    "transfer_id {transfer} names no transfer your agency is a party to; a \
                     dispute may name only a transfer between its own two parties"
                ),
            ));
        };
        if t.status != TransferStatus::Objected {
            return Err(transfer_refused(
                RefusalKind::FailedPrecondition,
                format!(
                    "transfer {transfer} is {}, not objected: a dispute may name a transfer only \
                     while its receiver's objection to jurisdiction stands (S4 Art 14)",
                    t.status.as_str()
                ),
            ));
        }
        let other = if *caller == t.sender {
            &t.receiver
        } else {
            &t.sender
        };
        if other.as_str() != respondent {
            let refusal = Refusal::new(
                RefusalKind::InvalidArgument,
                "SAMR-16",
                Some("respondent"),
                format!(
                    "the respondent must be the other party of transfer {transfer} ({other}): a \
                     dispute over a transfer is between its sender and its receiver"
                ),
            );
            return Err(crate::error::GatewayError::Refused(refusal).into());
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl DisputeService for DisputesGrpc {
    #[tracing::instrument(skip_all)]
    async fn raise_dispute(&self, r: Req<pb::RaiseDisputeRequest>) -> Result<pb::DisputeResult> {
        // A malformed id is left to the conversion, which names every bad field at once.
        if let Ok(transfer) = CaseId::parse(&r.get_ref().transfer_id) {
            let caller = self.0.ctx().caller(&r)?;
            self.check_named_transfer(&caller.code, transfer, &r.get_ref().respondent)
                .await?;
        }
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
