//! `casebridge.v1.MonitorService` (boards, statistics, reports) and
//! `casebridge.v1.DeadlineService` (a case's deadlines, extensions), answered by the deadlines
//! service. Their wire ⇄ domain conversions are in `convert::monitor`.

use std::sync::Arc;

use casebridge_core::ids::Sha256Digest;
use casebridge_deadlines::api::{Reply, Request};
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::deadline_service_server::DeadlineService;
use casebridge_proto::v1::monitor_service_server::MonitorService;
use prost::Message as _;
use tonic::{Response, Status};

use crate::context::Context;
use crate::convert;
use crate::convert::monitor::{
    agency_statistics, extension, obligation, obligation_query, page_token, report,
    statistics_period,
};
use crate::error::GatewayError;

const SERVICE: &str = casebridge_deadlines::SERVICE;

/// The monitor endpoints.
#[derive(Debug, Clone)]
pub struct MonitorGrpc {
    ctx: Arc<Context>,
}

impl MonitorGrpc {
    pub fn new(ctx: Arc<Context>) -> MonitorGrpc {
        MonitorGrpc { ctx }
    }
}

/// The deadline endpoints.
#[derive(Debug, Clone)]
pub struct DeadlinesGrpc {
    ctx: Arc<Context>,
}

impl DeadlinesGrpc {
    pub fn new(ctx: Arc<Context>) -> DeadlinesGrpc {
        DeadlinesGrpc { ctx }
    }
}

/// A reply of another kind than asked for.
fn unexpected(reply: Reply) -> Status {
    GatewayError::unanswered(SERVICE, reply).into()
}

#[tonic::async_trait]
impl MonitorService for MonitorGrpc {
    #[tracing::instrument(skip_all)]
    async fn list_obligations(
        &self,
        request: tonic::Request<pb::ListObligationsRequest>,
    ) -> Result<Response<pb::ListObligationsResponse>, Status> {
        let viewer = self.ctx.caller(&request)?.code;
        let query = obligation_query(request.into_inner(), self.ctx.clock.now())
            .map_err(GatewayError::from)?;
        let as_of = query.as_of;
        match self
            .ctx
            .ask(SERVICE, &Request::Obligations { viewer, query })
            .await?
        {
            Reply::Obligations { obligations, next } => {
                Ok(Response::new(pb::ListObligationsResponse {
                    obligations: obligations
                        .into_iter()
                        .map(|o| obligation(o, as_of, &self.ctx.directory()))
                        .collect(),
                    next_page_token: page_token(next),
                    as_of: Some(convert::timestamp(as_of)),
                }))
            }
            other => Err(unexpected(other)),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn get_statistics(
        &self,
        request: tonic::Request<pb::GetStatisticsRequest>,
    ) -> Result<Response<pb::GetStatisticsResponse>, Status> {
        let viewer = self.ctx.caller(&request)?.code;
        let (from, to, agency) =
            statistics_period(request.into_inner()).map_err(GatewayError::from)?;
        let ask = Request::Statistics {
            viewer,
            from,
            to,
            agency,
        };
        match self.ctx.ask(SERVICE, &ask).await? {
            Reply::Statistics { agencies } => Ok(Response::new(pb::GetStatisticsResponse {
                agencies: agencies
                    .into_iter()
                    .map(|s| agency_statistics(s, &self.ctx.directory()))
                    .collect(),
                from: Some(convert::timestamp(from)),
                to: Some(convert::timestamp(to)),
            })),
            other => Err(unexpected(other)),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn get_report(
        &self,
        request: tonic::Request<pb::GetReportRequest>,
    ) -> Result<Response<pb::GetReportResponse>, Status> {
        let viewer = self.ctx.caller(&request)?.code;
        let (period, format) = report(request.into_inner()).map_err(GatewayError::from)?;
        let ask = Request::Report {
            viewer,
            period,
            format,
        };
        match self.ctx.ask(SERVICE, &ask).await? {
            Reply::Report {
                content_type,
                file_name,
                content,
            } => Ok(Response::new(pb::GetReportResponse {
                content,
                content_type,
                file_name,
            })),
            other => Err(unexpected(other)),
        }
    }
}

#[tonic::async_trait]
impl DeadlineService for DeadlinesGrpc {
    #[tracing::instrument(skip_all)]
    async fn list_case_deadlines(
        &self,
        request: tonic::Request<pb::ListCaseDeadlinesRequest>,
    ) -> Result<Response<pb::ListCaseDeadlinesResponse>, Status> {
        let viewer = self.ctx.caller(&request)?.code;
        let pb::ListCaseDeadlinesRequest { case_id } = request.into_inner();
        let case_id = convert::case_id("case_id", &case_id).map_err(GatewayError::from)?;
        let as_of = self.ctx.clock.now();
        match self
            .ctx
            .ask(SERVICE, &Request::Case { viewer, case_id })
            .await?
        {
            Reply::Case { obligations } => Ok(Response::new(pb::ListCaseDeadlinesResponse {
                obligations: obligations
                    .into_iter()
                    .map(|o| obligation(o, as_of, &self.ctx.directory()))
                    .collect(),
                as_of: Some(convert::timestamp(as_of)),
            })),
            other => Err(unexpected(other)),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn extend_deadline(
        &self,
        request: tonic::Request<pb::ExtendDeadlineRequest>,
    ) -> Result<Response<pb::ExtendDeadlineResponse>, Status> {
        let actor = self.ctx.caller(&request)?.code;
        // The digest of the request as sent makes retries idempotent.
        let content_digest = Sha256Digest::of(&request.get_ref().encode_to_vec());
        let extend =
            extension(request.into_inner(), actor, content_digest).map_err(GatewayError::from)?;
        match self.ctx.ask(SERVICE, &Request::Extend(extend)).await? {
            Reply::Extended(extended) => Ok(Response::new(pb::ExtendDeadlineResponse {
                obligation: Some(obligation(
                    extended.obligation,
                    extended.accepted_at,
                    &self.ctx.directory(),
                )),
                replayed: extended.replayed,
                accepted_at: Some(convert::timestamp(extended.accepted_at)),
                receipt: Some(convert::receipt(&extended.receipt)),
            })),
            other => Err(unexpected(other)),
        }
    }
}
