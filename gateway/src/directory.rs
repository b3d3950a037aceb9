//! `casebridge.v1.DirectoryService`: the agency directory, read-only.

use std::sync::Arc;

use casebridge_proto::v1 as pb;
use casebridge_proto::v1::directory_service_server::DirectoryService;
use tonic::{Response, Status};

use crate::context::Context;
use crate::convert;

/// The directory endpoints.
#[derive(Debug, Clone)]
pub struct DirectoryGrpc {
    ctx: Arc<Context>,
}

impl DirectoryGrpc {
    pub fn new(ctx: Arc<Context>) -> DirectoryGrpc {
        DirectoryGrpc { ctx }
    }
}

#[tonic::async_trait]
impl DirectoryService for DirectoryGrpc {
    async fn list_agencies(
        &self,
        request: tonic::Request<pb::ListAgenciesRequest>,
    ) -> Result<Response<pb::ListAgenciesResponse>, Status> {
        self.ctx.caller(&request)?;
        let pb::ListAgenciesRequest { kind, region } = request.into_inner();
        agency_filters(kind, &region).map_err(crate::error::GatewayError::from)?;
        let agencies = self
            .ctx
            .directory()
            .agencies()
            .map(convert::agency)
            .filter(|a| kind == 0 || a.kind == kind)
            .filter(|a| region.is_empty() || a.region == region)
            .collect();
        Ok(Response::new(pb::ListAgenciesResponse { agencies }))
    }

    async fn who_am_i(
        &self,
        request: tonic::Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::Agency>, Status> {
        let agency = self.ctx.caller(&request)?;
        Ok(Response::new(convert::agency(&agency)))
    }
}

/// Checks a listing's filters: a kind that is no `AgencyKind` or a malformed region is named on
/// its field, never silently matched against nothing (issue 12, D8).
pub fn agency_filters(kind: i32, region: &str) -> Result<(), convert::Violations> {
    let mut v = convert::Violations::default();
    if pb::AgencyKind::try_from(kind).is_err() {
        v.add(
            "kind",
            format!("kind {kind} is not an AgencyKind (0 for any, 1 to 5)"),
        );
    }
    if !region.is_empty()
        && let Err(e) = casebridge_core::ids::RegionCode::parse(region)
    {
        v.add(
            "region",
            format!("region {region:?} is not a 6-digit region code: {e}"),
        );
    }
    v.finish(Some(()))
}
