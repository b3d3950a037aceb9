//! `casebridge.v1.LeadService`: decode, authenticate, check the case an answer names, ask the
//! leads service, encode.

use std::sync::Arc;

use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::referral::ReferralStatus;
use casebridge_core::refusal::{Refusal, RefusalKind};
use casebridge_leads::handler::Leads;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::lead_service_server::LeadService;
use casebridge_referrals::handler::Referrals;
use casebridge_transfers::handler::Transfers;
use tonic::{Response, Status};

use crate::cases::Endpoints;
use crate::context::Context;
use crate::convert::leads as convert;

/// The lead endpoints.
#[derive(Debug, Clone)]
pub struct LeadsGrpc(Endpoints<Leads>);

impl LeadsGrpc {
    pub fn new(ctx: Arc<Context>) -> LeadsGrpc {
        LeadsGrpc(Endpoints::new(ctx))
    }
}

type Result<T> = std::result::Result<Response<T>, Status>;
type Req<T> = tonic::Request<T>;

impl LeadsGrpc {
    /// An answer that names a case must name one the caller is in: a case transfer it is a
    /// party to (as sender or receiver), or a criminal referral it sent. Anything else (nothing,
    /// another agency's case, a case of another family, a recorded decision not to refer) gets
    /// one answer, which tells a stranger nothing (the rule for every rpc that names another
    /// case).
    async fn check_named(
        &self,
        caller: &AgencyCode,
        outcome: &pb::answer_lead_request::Outcome,
    ) -> std::result::Result<(), Status> {
        use pb::answer_lead_request::Outcome;
        let (field, raw, what) = match outcome {
            Outcome::TransferOpened(t) => (
                convert::TRANSFER_ID,
                &t.transfer_id,
                "a case transfer your agency is a party to",
            ),
            Outcome::ReferralMade(r) => (
                convert::REFERRAL_ID,
                &r.referral_id,
                "a criminal referral your agency sent",
            ),
            Outcome::NoAction(_) => return Ok(()),
        };
        // Empty or malformed: left to the conversion, which names every bad field at once.
        let Ok(case) = CaseId::parse(raw) else {
            return Ok(());
        };
        let ctx = self.0.ctx().clone();
        let fits = match outcome {
            Outcome::TransferOpened(_) => Endpoints::<Transfers>::new(ctx)
                .read(caller.clone(), case)
                .await
                .is_ok(),
            _ => match Endpoints::<Referrals>::new(ctx)
                .read(caller.clone(), case)
                .await
            {
                Ok(referral) => {
                    referral.sender == *caller && referral.status != ReferralStatus::NotReferred
                }
                Err(_) => false,
            },
        };
        if fits {
            return Ok(());
        }
        let refusal = Refusal::new(
            RefusalKind::InvalidArgument,
            "LEAD-LINK",
            Some(field),
            format!("{field} {case} names no {what}"),
        );
        Err(crate::error::GatewayError::Refused(refusal).into())
    }
}

#[tonic::async_trait]
impl LeadService for LeadsGrpc {
    #[tracing::instrument(skip_all)]
    async fn send_lead(&self, r: Req<pb::SendLeadRequest>) -> Result<pb::LeadResult> {
        self.0.step(r, convert::send, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn get_lead(&self, r: Req<pb::GetLeadRequest>) -> Result<pb::Lead> {
        let id = |r: &pb::GetLeadRequest| crate::convert::case_id("lead_id", &r.lead_id);
        self.0.get(r, id, convert::lead).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_leads(&self, r: Req<pb::ListCasesRequest>) -> Result<pb::ListCasesResponse> {
        self.0.list(r).await
    }

    #[tracing::instrument(skip_all)]
    async fn acknowledge_lead(&self, r: Req<pb::AcknowledgeLeadRequest>) -> Result<pb::LeadResult> {
        self.0.step(r, convert::acknowledge, convert::result).await
    }

    #[tracing::instrument(skip_all)]
    async fn answer_lead(&self, r: Req<pb::AnswerLeadRequest>) -> Result<pb::LeadResult> {
        if let Some(outcome) = &r.get_ref().outcome {
            let caller = self.0.ctx().caller(&r)?;
            self.check_named(&caller.code, outcome).await?;
        }
        self.0.step(r, convert::answer, convert::result).await
    }
}
