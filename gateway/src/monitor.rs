//! `casebridge.v1.MonitorService`: overdue and due-soon lists and statistics, answered by the
//! deadlines service.

use std::sync::Arc;

use casebridge_core::time::Timestamp;
use casebridge_deadlines::api::{Reply, Request};
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::monitor_service_server::MonitorService;
use tonic::{Response, Status};

use crate::app::Context;
use crate::convert;
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

fn unexpected(reply: Reply) -> Status {
    match reply {
        Reply::Refused { refusal } => GatewayError::Refused(refusal).into(),
        _ => {
            GatewayError::Internal("the deadlines service answered another question".into()).into()
        }
    }
}

#[tonic::async_trait]
impl MonitorService for MonitorGrpc {
    #[tracing::instrument(skip_all)]
    async fn list_obligations(
        &self,
        request: tonic::Request<pb::ListObligationsRequest>,
    ) -> Result<Response<pb::ListObligationsResponse>, Status> {
        let viewer = self.ctx.caller(&request)?.code;
        let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
        let query =
            convert::obligation_query(request.into_inner(), now).map_err(GatewayError::from)?;
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
                        .map(|o| convert::obligation(o, as_of, &self.ctx.directory))
                        .collect(),
                    next_page_token: convert::page_token(next),
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
            convert::statistics_period(request.get_ref()).map_err(GatewayError::from)?;
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
                    .map(|s| convert::agency_statistics(s, &self.ctx.directory))
                    .collect(),
                from: Some(convert::timestamp(from)),
                to: Some(convert::timestamp(to)),
            })),
            other => Err(unexpected(other)),
        }
    }
}
