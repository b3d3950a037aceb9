//! `casebridge.v1.RectificationService`: decode, authenticate, check the cases a request names,
//! ask the rectifications service, encode.

use std::sync::Arc;

use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::refusal::{Refusal, RefusalKind};
use casebridge_disputes::handler::Disputes;
use casebridge_leads::handler::Leads;
use casebridge_opinions::handler::Opinions;
use casebridge_penalties::handler::Penalties;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::rectification_service_server::RectificationService;
use casebridge_rectifications::handler::Rectifications;
use casebridge_referrals::handler::Referrals;
use casebridge_transfers::handler::Transfers;
use tonic::{Response, Status};

use crate::cases::Endpoints;
use crate::context::Context;
use crate::convert::rectifications as convert;

/// The rectification endpoints.
#[derive(Debug, Clone)]
pub struct RectificationsGrpc(Endpoints<Rectifications>);

impl RectificationsGrpc {
    pub fn new(ctx: Arc<Context>) -> RectificationsGrpc {
        RectificationsGrpc(Endpoints::new(ctx))
    }
}

type Result<T> = std::result::Result<Response<T>, Status>;
type Req<T> = tonic::Request<T>;

impl RectificationsGrpc {
    /// Whether `caller` may read `case` in any family it can be found in (a party to it: the
    /// copied procuratorate supervises its referrals, the ruling office its disputes).
    async fn readable(&self, caller: &AgencyCode, case: CaseId) -> bool {
        let ctx = self.0.ctx();
        let referrals = Endpoints::<Referrals>::new(ctx.clone());
        let transfers = Endpoints::<Transfers>::new(ctx.clone());
        let disputes = Endpoints::<Disputes>::new(ctx.clone());
        let opinions = Endpoints::<Opinions>::new(ctx.clone());
        let penalties = Endpoints::<Penalties>::new(ctx.clone());
        let leads = Endpoints::<Leads>::new(ctx.clone());
        let (referral, transfer, dispute, opinion, penalty, lead) = tokio::join!(
            referrals.read(caller.clone(), case),
            transfers.read(caller.clone(), case),
            disputes.read(caller.clone(), case),
            opinions.read(caller.clone(), case),
            penalties.read(caller.clone(), case),
            leads.read(caller.clone(), case),
        );
        referral.is_ok()
            || transfer.is_ok()
            || dispute.is_ok()
            || opinion.is_ok()
            || penalty.is_ok()
            || lead.is_ok()
    }

    /// Every case a request names as its basis must be one the requester may read
    /// (`RECT-CASE`). Anything else (nothing, another agency's case) gets one answer, which
    /// tells a stranger nothing (the rule for every rpc that names another case).
    async fn check_named(
        &self,
        caller: &AgencyCode,
        basis: &pb::RectificationBasis,
    ) -> std::result::Result<(), Status> {
        for (i, raw) in basis.case_ids.iter().enumerate() {
            // Empty or malformed: left to the conversion, which names every bad field at once.
            let Ok(case) = CaseId::parse(raw) else {
                continue;
            };
            if self.readable(caller, case).await {
                continue;
            }
            let field = format!("{}[{i}]", convert::CASE_IDS);
            let refusal = Refusal::new(
                RefusalKind::InvalidArgument,
                "RECT-CASE",
                Some(&field),
                format!("{field} {case} names no case your agency may read"),
            );
            return Err(crate::error::GatewayError::Refused(refusal).into());
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl RectificationService for RectificationsGrpc {
    #[tracing::instrument(skip_all)]
    async fn request_rectification(
        &self,
        r: Req<pb::RequestRectificationRequest>,
    ) -> Result<pb::RectificationResult> {
        if let Some(basis) = &r.get_ref().basis {
            let caller = self.0.ctx().caller(&r)?;
            self.check_named(&caller.code, basis).await?;
        }
        self.0.step(r, convert::request, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn get_rectification(
        &self,
        r: Req<pb::GetRectificationRequest>,
    ) -> Result<pb::Rectification> {
        let id = |r: &pb::GetRectificationRequest| {
            crate::convert::case_id("rectification_id", &r.rectification_id)
        };
        self.0.get(r, id, convert::rectification).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_rectifications(
        &self,
        r: Req<pb::ListCasesRequest>,
    ) -> Result<pb::ListCasesResponse> {
        self.0.list(r).await
    }

    #[tracing::instrument(skip_all)]
    async fn report_rectification(
        &self,
        r: Req<pb::ReportRectificationRequest>,
    ) -> Result<pb::RectificationResult> {
        self.0.step(r, convert::report, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn accept_rectification(
        &self,
        r: Req<pb::AcceptRectificationRequest>,
    ) -> Result<pb::RectificationResult> {
        self.0.step(r, convert::accept, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn return_rectification(
        &self,
        r: Req<pb::ReturnRectificationRequest>,
    ) -> Result<pb::RectificationResult> {
        self.0.step(r, convert::give_back, convert::result).await
    }
}
