//! `casebridge.v1.ReferralService`: decode, authenticate, ask the referrals service, encode.

use std::sync::Arc;

use casebridge_proto::v1 as pb;
use casebridge_proto::v1::referral_service_server::ReferralService;
use casebridge_referrals::handler::Referrals;
use tonic::{Response, Status};

use crate::cases::Endpoints;
use crate::context::Context;
use crate::convert::referrals as convert;

/// The referral endpoints.
#[derive(Debug, Clone)]
pub struct ReferralsGrpc(Endpoints<Referrals>);

impl ReferralsGrpc {
    pub fn new(ctx: Arc<Context>) -> ReferralsGrpc {
        ReferralsGrpc(Endpoints::new(ctx))
    }
}

type Result<T> = std::result::Result<Response<T>, Status>;
type Req<T> = tonic::Request<T>;

#[tonic::async_trait]
impl ReferralService for ReferralsGrpc {
    #[tracing::instrument(skip_all)]
    async fn submit_referral(
        &self,
        r: Req<pb::SubmitReferralRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0.step(r, convert::submit, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn record_non_referral(
        &self,
        r: Req<pb::RecordNonReferralRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::record_non_referral, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn get_referral(&self, r: Req<pb::GetReferralRequest>) -> Result<pb::Referral> {
        let id =
            |r: &pb::GetReferralRequest| crate::convert::case_id("referral_id", &r.referral_id);
        self.0.get(r, id, convert::referral).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_referrals(&self, r: Req<pb::ListCasesRequest>) -> Result<pb::ListCasesResponse> {
        self.0.list(r).await
    }

    #[tracing::instrument(skip_all)]
    async fn sign_receipt(&self, r: Req<pb::SignReceiptRequest>) -> Result<pb::ReferralResult> {
        self.0.step(r, convert::sign_receipt, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn request_supplement(
        &self,
        r: Req<pb::RequestSupplementRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::request_supplement, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn supplement_referral(
        &self,
        r: Req<pb::SupplementReferralRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0.step(r, convert::supplement, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn forward_referral(
        &self,
        r: Req<pb::ForwardReferralRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0.step(r, convert::forward, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn return_referral(
        &self,
        r: Req<pb::ReturnReferralRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::return_referral, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn decide_filing(&self, r: Req<pb::DecideFilingRequest>) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::decide_filing, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn hand_over_items(
        &self,
        r: Req<pb::HandOverItemsRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::hand_over_items, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn request_reconsideration(
        &self,
        r: Req<pb::RequestReconsiderationRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::request_reconsideration, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn decide_reconsideration(
        &self,
        r: Req<pb::DecideReconsiderationRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::decide_reconsideration, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn suggest_supervision(
        &self,
        r: Req<pb::SuggestSupervisionRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::suggest_supervision, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn request_reasons(
        &self,
        r: Req<pb::RequestReasonsRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::request_reasons, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn give_reasons(&self, r: Req<pb::GiveReasonsRequest>) -> Result<pb::ReferralResult> {
        self.0.step(r, convert::give_reasons, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn tell_agency(&self, r: Req<pb::TellAgencyRequest>) -> Result<pb::ReferralResult> {
        self.0.step(r, convert::tell_agency, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn notify_filing(&self, r: Req<pb::NotifyFilingRequest>) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::notify_filing, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn demand_explanation(
        &self,
        r: Req<pb::DemandExplanationRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::demand_explanation, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn explain(&self, r: Req<pb::ExplainRequest>) -> Result<pb::ReferralResult> {
        self.0.step(r, convert::explain, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn issue_correction_notice(
        &self,
        r: Req<pb::IssueCorrectionNoticeRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::issue_correction_notice, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn report_to_superior(
        &self,
        r: Req<pb::ReportToSuperiorRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::report_to_superior, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn transfer_case(&self, r: Req<pb::TransferCaseRequest>) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::transfer_case, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn withdraw_case(&self, r: Req<pb::WithdrawCaseRequest>) -> Result<pb::ReferralResult> {
        self.0
            .step(r, convert::withdraw_case, convert::result)
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn hand_back_referral(
        &self,
        r: Req<pb::HandBackReferralRequest>,
    ) -> Result<pb::ReferralResult> {
        self.0.step(r, convert::hand_back, convert::result).await
    }
}
