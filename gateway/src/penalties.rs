//! `casebridge.v1.PenaltyService`: decode, authenticate, check the referrals a step names, ask
//! the penalties service, encode.

use std::sync::Arc;

use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::referral::ReferralStatus;
use casebridge_core::refusal::{Refusal, RefusalKind};
use casebridge_penalties::handler::Penalties;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::penalty_service_server::PenaltyService;
use casebridge_referrals::handler::Referrals;
use tonic::{Response, Status};

use crate::cases::Endpoints;
use crate::context::Context;
use crate::convert::penalties as convert;

/// The penalty-record endpoints.
#[derive(Debug, Clone)]
pub struct PenaltiesGrpc(Endpoints<Penalties>);

impl PenaltiesGrpc {
    pub fn new(ctx: Arc<Context>) -> PenaltiesGrpc {
        PenaltiesGrpc(Endpoints::new(ctx))
    }
}

type Result<T> = std::result::Result<Response<T>, Status>;
type Req<T> = tonic::Request<T>;

/// What a referral named by a penalty step must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    /// A referral the caller sent to the police (it ends a warning).
    Referral,
    /// The caller's recorded decision not to refer (it backs a written explanation).
    NonReferral,
}

impl PenaltiesGrpc {
    /// A step that names a referral case must name one the caller itself made: a referral it
    /// sent, or its recorded decision not to refer. Anything else (nothing, another agency's
    /// case, a case of another family, a referral in the wrong form) gets one answer, which tells
    /// a stranger nothing (the rule for every rpc that names another case).
    async fn check_named(
        &self,
        caller: &AgencyCode,
        field: &'static str,
        raw: &str,
        named: Named,
    ) -> std::result::Result<(), Status> {
        // Empty or malformed: left to the conversion, which names every bad field at once.
        let Ok(case) = CaseId::parse(raw) else {
            return Ok(());
        };
        let referrals = Endpoints::<Referrals>::new(self.0.ctx().clone());
        let fits = match referrals.read(caller.clone(), case).await {
            Ok(referral) => {
                let not_referred = referral.status == ReferralStatus::NotReferred;
                referral.sender == *caller
                    && match named {
                        Named::Referral => !not_referred,
                        Named::NonReferral => not_referred,
                    }
            }
            Err(_) => false,
        };
        if fits {
            return Ok(());
        }
        let what = match named {
            Named::Referral => "a criminal referral your agency sent",
            Named::NonReferral => "a decision not to refer your agency recorded",
        };
        let refusal = Refusal::new(
            RefusalKind::InvalidArgument,
            "WARN-LINK",
            Some(field),
            format!("{field} {case} names no {what}"),
        );
        Err(crate::error::GatewayError::Refused(refusal).into())
    }
}

#[tonic::async_trait]
impl PenaltyService for PenaltiesGrpc {
    #[tracing::instrument(skip_all)]
    async fn record_penalty(&self, r: Req<pb::RecordPenaltyRequest>) -> Result<pb::PenaltyResult> {
        let caller = self.0.ctx().caller(&r)?;
        let referral = r.get_ref().referral_id.clone();
        self.check_named(&caller.code, "referral_id", &referral, Named::Referral)
            .await?;
        self.0.step(r, convert::record, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn correct_penalty(
        &self,
        r: Req<pb::CorrectPenaltyRequest>,
    ) -> Result<pb::PenaltyResult> {
        self.0.step(r, convert::correct, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn get_penalty_record(
        &self,
        r: Req<pb::GetPenaltyRecordRequest>,
    ) -> Result<pb::PenaltyRecord> {
        let id =
            |r: &pb::GetPenaltyRecordRequest| crate::convert::case_id("record_id", &r.record_id);
        self.0.get(r, id, convert::penalty_record).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_penalty_records(
        &self,
        r: Req<pb::ListCasesRequest>,
    ) -> Result<pb::ListCasesResponse> {
        self.0.list(r).await
    }

    #[tracing::instrument(skip_all)]
    async fn suggest_referral(
        &self,
        r: Req<pb::SuggestReferralRequest>,
    ) -> Result<pb::PenaltyResult> {
        self.0
            .step(r, convert::suggest_referral, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn close_warning(&self, r: Req<pb::CloseWarningRequest>) -> Result<pb::PenaltyResult> {
        self.0.step(r, convert::close, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn link_referral(&self, r: Req<pb::LinkReferralRequest>) -> Result<pb::PenaltyResult> {
        let caller = self.0.ctx().caller(&r)?;
        let referral = r.get_ref().referral_id.clone();
        self.check_named(&caller.code, "referral_id", &referral, Named::Referral)
            .await?;
        self.0
            .step(r, convert::link_referral, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn explain_non_referral(
        &self,
        r: Req<pb::ExplainNonReferralRequest>,
    ) -> Result<pb::PenaltyResult> {
        let caller = self.0.ctx().caller(&r)?;
        let named = r.get_ref().non_referral_id.clone();
        self.check_named(&caller.code, "non_referral_id", &named, Named::NonReferral)
            .await?;
        self.0.step(r, convert::explain, convert::result).await
    }
}
