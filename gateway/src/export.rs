//! `casebridge.v1.ExportService`: the export feed for supervision platforms (docs/export.md),
//! answered by the inbox service, which writes the feed as it stores inbox entries.
//!
//! Who reads what: supervisors (procuratorates and coordination offices, the same rule as the
//! monitor's, `casebridge_deadlines::monitor::sees_all`) read every line; any other agency only
//! the lines of events it took part in (actor, recipient or party to the case). A stranger
//! learns nothing: it gets an empty page, the same as when nothing happened.

use std::sync::Arc;

use casebridge_inbox::api::{self, Reply, Request};
use casebridge_inbox::export::{self, Kind};
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::export_service_server::ExportService;
use tonic::{Response, Status};

use crate::context::Context;
use crate::convert::Violations;
use crate::error::GatewayError;

const SERVICE: &str = casebridge_inbox::SERVICE;

/// The media type of a page's lines.
pub const NDJSON: &str = "application/x-ndjson";

/// The export endpoint.
#[derive(Debug, Clone)]
pub struct ExportGrpc {
    ctx: Arc<Context>,
}

impl ExportGrpc {
    pub fn new(ctx: Arc<Context>) -> ExportGrpc {
        ExportGrpc { ctx }
    }
}

/// What a valid request asks for: kinds (all when empty), the position after which, a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Query {
    kinds: Vec<Kind>,
    after: u64,
    limit: u32,
}

/// Checks every field, refusing each bad one on its own path.
fn query(request: pb::ExportRequest) -> Result<Query, Violations> {
    let pb::ExportRequest {
        kinds,
        after_cursor,
        limit,
    } = request;
    let mut v = Violations::default();
    let mut wanted: Vec<Kind> = Vec::new();
    for (i, raw) in kinds.iter().enumerate() {
        let kind = match pb::ExportKind::try_from(*raw) {
            Ok(pb::ExportKind::Record) => Some(Kind::Record),
            Ok(pb::ExportKind::Referral) => Some(Kind::Referral),
            Ok(pb::ExportKind::Warning) => Some(Kind::Warning),
            Ok(pb::ExportKind::Outcome) => Some(Kind::Outcome),
            Ok(pb::ExportKind::Unspecified) | Err(_) => None,
        };
        match kind {
            Some(kind) if wanted.contains(&kind) => {
                v.add(format!("kinds[{i}]"), format!("kinds names {kind} twice"));
            }
            Some(kind) => wanted.push(kind),
            None => v.add(
                format!("kinds[{i}]"),
                "kinds must be record, referral, warning or outcome",
            ),
        }
    }
    let after = export::parse_cursor(&after_cursor);
    if after.is_none() {
        v.add(
            "after_cursor",
            "after_cursor is not a cursor of this feed: send back a next_cursor or a line's \
             cursor as given, or nothing to start from the beginning",
        );
    }
    if limit > api::EXPORT_MAX_PAGE {
        v.add(
            "limit",
            format!("limit must be at most {}", api::EXPORT_MAX_PAGE),
        );
    }
    let limit = if limit == 0 {
        api::EXPORT_DEFAULT_PAGE
    } else {
        limit
    };
    v.finish(after.map(|after| Query {
        kinds: wanted,
        after,
        limit,
    }))
}

#[tonic::async_trait]
impl ExportService for ExportGrpc {
    #[tracing::instrument(skip_all)]
    async fn export(
        &self,
        request: tonic::Request<pb::ExportRequest>,
    ) -> Result<Response<pb::ExportResponse>, Status> {
        let viewer = self.ctx.caller(&request)?.code;
        let Query {
            kinds,
            after,
            limit,
        } = query(request.into_inner()).map_err(GatewayError::from)?;
        let sees_all = casebridge_deadlines::monitor::sees_all(&self.ctx.directory(), &viewer);
        let ask = Request::Export {
            viewer,
            sees_all,
            kinds,
            after,
            limit,
        };
        let (lines, next, more) = self
            .ctx
            .ask_for(SERVICE, &ask, |reply| match reply {
                Reply::Exported { lines, next, more } => Ok((lines, next, more)),
                other => Err(other),
            })
            .await?;
        let count = u32::try_from(lines.len()).unwrap_or(u32::MAX);
        let mut body = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in &lines {
            body.extend_from_slice(line.as_bytes());
            body.push(b'\n');
        }
        Ok(Response::new(pb::ExportResponse {
            lines: body,
            content_type: NDJSON.to_owned(),
            count,
            next_cursor: export::cursor(next),
            more,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on broken fixtures
mod tests {
    use super::*;

    fn fields(request: pb::ExportRequest) -> Vec<String> {
        match query(request) {
            Ok(_) => Vec::new(),
            Err(v) => v.list.into_iter().map(|(f, _)| f).collect(),
        }
    }

    #[test]
    fn each_bad_field_is_refused_on_its_own_path() {
        let ok = pb::ExportRequest::default();
        assert_eq!(
            query(ok).unwrap(),
            Query {
                kinds: Vec::new(),
                after: 0,
                limit: api::EXPORT_DEFAULT_PAGE
            }
        );
        let bad = pb::ExportRequest {
            kinds: vec![
                pb::ExportKind::Record.into(),
                0,
                99,
                pb::ExportKind::Record.into(),
            ],
            after_cursor: "42".into(),
            limit: api::EXPORT_MAX_PAGE + 1,
        };
        assert_eq!(
            fields(bad),
            ["kinds[1]", "kinds[2]", "kinds[3]", "after_cursor", "limit"]
        );
        let good = pb::ExportRequest {
            kinds: vec![
                pb::ExportKind::Warning.into(),
                pb::ExportKind::Record.into(),
            ],
            after_cursor: export::cursor(17),
            limit: api::EXPORT_MAX_PAGE,
        };
        assert_eq!(
            query(good).unwrap(),
            Query {
                kinds: vec![Kind::Warning, Kind::Record],
                after: 17,
                limit: api::EXPORT_MAX_PAGE
            }
        );
    }
}
