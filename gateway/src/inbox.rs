//! `casebridge.v1.InboxService`: each agency reads its own inbox as a stream that resumes from a
//! cursor, and acknowledges what it has handled.
//!
//! The stream pages through the backlog, then (with `follow`) waits for a wake-up for its
//! agency, falling back to a poll every few seconds, so a lost wake-up only delays delivery.
//! The wake-ups come from [`listen_for_wakeups`], one bus consumer per gateway, which the
//! composition root (`app.rs`) starts.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use casebridge_core::ids::AgencyCode;
use casebridge_inbox::api::{Reply, Request};
use casebridge_platform::bus::QueueSpec;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::inbox_service_server::InboxService;
use futures_util::Stream;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tonic::{Response, Status};

use crate::context::{Context, StartError};
use crate::convert;
use crate::error::GatewayError;

const SERVICE: &str = casebridge_inbox::SERVICE;
const PAGE: u32 = 200;
const POLL: Duration = Duration::from_secs(3);

/// The inbox endpoints.
#[derive(Debug, Clone)]
pub struct InboxGrpc {
    ctx: Arc<Context>,
}

impl InboxGrpc {
    pub fn new(ctx: Arc<Context>) -> InboxGrpc {
        InboxGrpc { ctx }
    }
}

async fn ask(ctx: &Context, request: Request) -> Result<Reply, GatewayError> {
    ctx.ask(SERVICE, &request).await
}

/// One task per gateway turns `inbox.appended.<agency>` events into in-process wake-ups.
pub(crate) async fn listen_for_wakeups(
    ctx: &Context,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, StartError> {
    let mut consumer = ctx
        .bus
        .consume(QueueSpec::notifications(&[
            casebridge_inbox::api::APPENDED_PATTERN,
        ]))
        .await?;
    let wakeups = ctx.wakeups.clone();
    Ok(tokio::spawn(async move {
        loop {
            let delivery = tokio::select! {
                d = consumer.next() => d,
                _ = shutdown.cancelled() => return,
            };
            let Some(delivery) = delivery else { return };
            let agency = delivery
                .message
                .kind
                .rsplit('.')
                .next()
                .and_then(|code| AgencyCode::parse(code).ok());
            if let Some(agency) = agency {
                // No watcher for this agency right now is fine.
                let _ = wakeups.send(agency);
            }
        }
    }))
}

type EntryStream = Pin<Box<dyn Stream<Item = Result<pb::InboxEntry, Status>> + Send>>;

#[tonic::async_trait]
impl InboxService for InboxGrpc {
    type WatchInboxStream = EntryStream;

    #[tracing::instrument(skip_all)]
    async fn watch_inbox(
        &self,
        request: tonic::Request<pb::WatchInboxRequest>,
    ) -> Result<Response<EntryStream>, Status> {
        let credential = crate::auth::credential(&request)?;
        let agency = crate::auth::admit(&credential, &self.ctx.trust)?.code;
        let pb::WatchInboxRequest {
            after_cursor,
            follow,
        } = request.into_inner();
        let (tx, rx) = mpsc::channel(PAGE as usize);
        let wakeups = self.ctx.wakeups.subscribe();
        tokio::spawn(pump(
            self.ctx.clone(),
            credential,
            agency,
            after_cursor,
            follow,
            wakeups,
            tx,
        ));
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    #[tracing::instrument(skip_all)]
    async fn acknowledge_inbox(
        &self,
        request: tonic::Request<pb::AcknowledgeInboxRequest>,
    ) -> Result<Response<pb::AcknowledgeInboxResponse>, Status> {
        let agency = self.ctx.caller(&request)?.code;
        let pb::AcknowledgeInboxRequest { up_to_cursor } = request.into_inner();
        match ask(
            &self.ctx,
            Request::Acknowledge {
                agency,
                up_to: up_to_cursor,
            },
        )
        .await?
        {
            Reply::Acknowledged { cursor } => Ok(Response::new(pb::AcknowledgeInboxResponse {
                acknowledged_cursor: cursor,
            })),
            other => Err(GatewayError::unanswered(SERVICE, other).into()),
        }
    }
}

/// Feeds one watcher until it disconnects (or, without `follow`, until the backlog is sent).
/// Owned by the stream: it ends when the client goes away, with UNAVAILABLE when the gateway
/// shuts down (so the client reconnects from its cursor), and with the refusal when the
/// caller's certificate is revoked or its agency leaves the directory.
async fn pump(
    ctx: Arc<Context>,
    credential: crate::auth::Credential,
    agency: AgencyCode,
    mut after: Option<u64>,
    follow: bool,
    mut wakeups: broadcast::Receiver<AgencyCode>,
    tx: mpsc::Sender<Result<pb::InboxEntry, Status>>,
) {
    let mut trust_changes = ctx.trust.changes();
    loop {
        if ctx.stopping.is_cancelled() {
            let _ = tx.send(Err(shutting_down())).await;
            return;
        }
        // A certificate revoked, or an agency removed, since the stream opened ends it.
        if let Err(refusal) = crate::auth::admit(&credential, &ctx.trust) {
            let _ = tx.send(Err(refusal.into())).await;
            return;
        }
        let page = ask(
            &ctx,
            Request::List {
                agency: agency.clone(),
                after,
                limit: PAGE,
            },
        )
        .await;
        let (entries, acknowledged) = match page {
            Ok(Reply::Entries {
                entries,
                acknowledged,
                ..
            }) => (entries, acknowledged),
            Ok(other) => {
                let _ = tx
                    .send(Err(GatewayError::unanswered(SERVICE, other).into()))
                    .await;
                return;
            }
            Err(error) => {
                let _ = tx.send(Err(error.into())).await;
                return;
            }
        };
        let full_page = entries.len() == PAGE as usize;
        after = Some(
            entries
                .last()
                .map_or(after.unwrap_or(acknowledged), |e| e.cursor),
        );
        for entry in &entries {
            if tx.send(Ok(convert::inbox_entry(entry))).await.is_err() {
                return;
            }
        }
        if full_page {
            continue;
        }
        if !follow {
            return;
        }
        // Wait for a wake-up for this agency, a poll tick, or the client leaving.
        let tick = tokio::time::sleep(POLL);
        tokio::pin!(tick);
        loop {
            tokio::select! {
                woke = wakeups.recv() => match woke {
                    Ok(code) if code == agency => break,
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = &mut tick => break,
                _ = tx.closed() => return,
                () = ctx.stopping.cancelled() => break,
                _ = trust_changes.changed() => break,
            }
        }
        // Wake-ups that came meanwhile are answered by the page about to be read: under load
        // one page per burst, not one per appended entry.
        loop {
            match wakeups.try_recv() {
                Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(broadcast::error::TryRecvError::Closed) => return,
            }
        }
    }
}

fn shutting_down() -> Status {
    Status::unavailable("the gateway is shutting down: watch again from your last cursor")
}
