//! `casebridge.v1.ReferralService`: decode, authenticate, ask the referrals service, encode.

use std::sync::Arc;

use casebridge_core::ids::Sha256Digest;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::referral_service_server::ReferralService;
use casebridge_referrals::api::{CommandRequest, Reply, Request};
use tonic::{Response, Status};

use crate::app::Context;
use crate::convert::{self, ReferralStep, Violations};
use crate::error::GatewayError;

const SERVICE: &str = casebridge_referrals::SERVICE;

/// The referral endpoints.
#[derive(Debug, Clone)]
pub struct ReferralsGrpc {
    ctx: Arc<Context>,
}

impl ReferralsGrpc {
    pub fn new(ctx: Arc<Context>) -> ReferralsGrpc {
        ReferralsGrpc { ctx }
    }

    /// Authenticates, converts and sends one step; the digest of the request as sent makes
    /// retries idempotent.
    async fn step<M: prost::Message>(
        &self,
        request: tonic::Request<M>,
        convert: fn(M) -> Result<ReferralStep, Violations>,
    ) -> Result<Response<pb::ReferralResult>, Status> {
        let actor = self.ctx.caller(&request)?;
        let content_digest = Sha256Digest::of(&request.get_ref().encode_to_vec());
        let ReferralStep {
            request_id,
            case_id,
            command,
        } = convert(request.into_inner()).map_err(GatewayError::from)?;
        let attachments = convert::referral_attachments(&command);
        crate::evidence::require_attachments(&self.ctx, &actor.code, &attachments).await?;
        let reply = self
            .ask(Request::Command(CommandRequest {
                actor: actor.code,
                request_id,
                content_digest,
                case_id,
                command,
            }))
            .await?;
        match reply {
            Reply::Accepted(accepted) => Ok(Response::new(pb::ReferralResult {
                referral: Some(convert::referral(&accepted.referral)),
                replayed: accepted.replayed,
                accepted_at: Some(convert::timestamp(accepted.accepted_at)),
            })),
            Reply::Refused { refusal } => Err(GatewayError::Refused(refusal).into()),
            Reply::Found { .. } => {
                Err(GatewayError::Internal("a step was answered with a read".into()).into())
            }
        }
    }

    async fn ask(&self, request: Request) -> Result<Reply, GatewayError> {
        self.ctx.ask(SERVICE, &request).await
    }
}

#[tonic::async_trait]
impl ReferralService for ReferralsGrpc {
    #[tracing::instrument(skip_all)]
    async fn submit_referral(
        &self,
        request: tonic::Request<pb::SubmitReferralRequest>,
    ) -> Result<Response<pb::ReferralResult>, Status> {
        self.step(request, convert::submit).await
    }

    #[tracing::instrument(skip_all)]
    async fn get_referral(
        &self,
        request: tonic::Request<pb::GetReferralRequest>,
    ) -> Result<Response<pb::Referral>, Status> {
        let actor = self.ctx.caller(&request)?;
        let pb::GetReferralRequest { referral_id } = request.into_inner();
        let case_id = convert::referral_id(&referral_id).map_err(GatewayError::from)?;
        match self
            .ask(Request::Get {
                actor: actor.code,
                case_id,
            })
            .await?
        {
            Reply::Found { referral } => Ok(Response::new(convert::referral(&referral))),
            Reply::Refused { refusal } => Err(GatewayError::Refused(refusal).into()),
            Reply::Accepted(_) => {
                Err(GatewayError::Internal("a read was answered with a step".into()).into())
            }
        }
    }

    #[tracing::instrument(skip_all)]
    async fn sign_receipt(
        &self,
        request: tonic::Request<pb::SignReceiptRequest>,
    ) -> Result<Response<pb::ReferralResult>, Status> {
        self.step(request, convert::sign_receipt).await
    }

    #[tracing::instrument(skip_all)]
    async fn request_supplement(
        &self,
        request: tonic::Request<pb::RequestSupplementRequest>,
    ) -> Result<Response<pb::ReferralResult>, Status> {
        self.step(request, convert::request_supplement).await
    }

    #[tracing::instrument(skip_all)]
    async fn supplement_referral(
        &self,
        request: tonic::Request<pb::SupplementReferralRequest>,
    ) -> Result<Response<pb::ReferralResult>, Status> {
        self.step(request, convert::supplement).await
    }

    #[tracing::instrument(skip_all)]
    async fn forward_referral(
        &self,
        request: tonic::Request<pb::ForwardReferralRequest>,
    ) -> Result<Response<pb::ReferralResult>, Status> {
        self.step(request, convert::forward).await
    }

    #[tracing::instrument(skip_all)]
    async fn return_referral(
        &self,
        request: tonic::Request<pb::ReturnReferralRequest>,
    ) -> Result<Response<pb::ReferralResult>, Status> {
        self.step(request, convert::return_referral).await
    }

    #[tracing::instrument(skip_all)]
    async fn decide_filing(
        &self,
        request: tonic::Request<pb::DecideFilingRequest>,
    ) -> Result<Response<pb::ReferralResult>, Status> {
        self.step(request, convert::decide_filing).await
    }
}
