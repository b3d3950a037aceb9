//! `casebridge.v1.EvidenceService`: evidence files stream straight between the client and the
//! object storage, chunk by chunk, and the evidence service says who may read what.
//!
//! Memory does not grow with file size. An upload reads one message at a time from the
//! client and waits while storage is busy ([`Upload::write`]), so HTTP/2 flow control holds the
//! sender back; a download is a lazily polled stream that reads the next chunk from storage
//! only when tonic asks for it, that is when the client's window has room.
//!
//! [`require_attachments`] is the one check every family's conversion calls: a document may
//! name only a file the caller uploaded or may read.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use casebridge_core::ids::{AgencyCode, Sha256Digest};
use casebridge_evidence::api::{Attachment, Reply, Request};
use casebridge_evidence::storage::{StorageError, Upload, UploadError};
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::evidence_service_server::EvidenceService;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt as _};
use sha2::{Digest as _, Sha256};
use tonic::{Response, Status, Streaming};

use crate::context::Context;
use crate::convert::Violations;
use crate::convert::evidence::{self as convert, UploadMetadata};
use crate::error::GatewayError;

const SERVICE: &str = casebridge_evidence::SERVICE;

/// The evidence endpoints.
#[derive(Debug, Clone)]
pub struct EvidenceGrpc {
    ctx: Arc<Context>,
}

impl EvidenceGrpc {
    pub fn new(ctx: Arc<Context>) -> EvidenceGrpc {
        EvidenceGrpc { ctx }
    }

    /// The attachment `digest`, if `agency` may read it.
    async fn readable(
        &self,
        agency: AgencyCode,
        digest: Sha256Digest,
    ) -> Result<Attachment, GatewayError> {
        match self
            .ctx
            .ask(SERVICE, &Request::Describe { agency, digest })
            .await?
        {
            Reply::Found { attachment } => Ok(attachment),
            other => Err(GatewayError::unanswered(SERVICE, other)),
        }
    }
}

fn violation(field: &str, description: String) -> GatewayError {
    GatewayError::Invalid(Violations::of(vec![(field.to_owned(), description)]))
}

/// Refuses a step whose documents name a file the caller may not use: one it neither uploaded
/// nor may read as a party to a case. `references` pairs each digest with its wire path (e.g.
/// `documents[2].sha256`), which becomes the field of the violation. Unknown and unreadable
/// files get the same answer, so the check reveals nothing about other agencies' files, and
/// naming a file never grants access to it: an agency must hold the bytes (upload them) first.
pub async fn require_attachments(
    ctx: &Context,
    agency: &AgencyCode,
    references: &[(String, Sha256Digest)],
) -> Result<(), GatewayError> {
    if references.is_empty() {
        return Ok(());
    }
    let mut digests: Vec<Sha256Digest> = references.iter().map(|(_, d)| *d).collect();
    digests.sort();
    digests.dedup();
    let unusable = match ctx
        .ask(
            SERVICE,
            &Request::CheckReferences {
                agency: agency.clone(),
                digests,
            },
        )
        .await?
    {
        Reply::References { unusable } => unusable,
        other => return Err(GatewayError::unanswered(SERVICE, other)),
    };
    let violations: Vec<(String, String)> = references
        .iter()
        .filter(|(_, digest)| unusable.contains(digest))
        .map(|(field, digest)| {
            (
                field.clone(),
                format!(
                    "{field} names evidence {digest}, which you have not uploaded: upload the \
                     file first (EvidenceService.UploadEvidence, `casebridge evidence upload`), \
                     then name it by the digest the upload returns"
                ),
            )
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(GatewayError::Invalid(Violations::of(violations)))
    }
}

/// Reads the chunks of an upload into `upload`, checking that they come in order and hold
/// exactly `declared` bytes.
async fn receive(
    stream: &mut Streaming<pb::UploadEvidenceRequest>,
    upload: &mut Upload,
    declared: u64,
) -> Result<(), Status> {
    use pb::upload_evidence_request::Part;
    while let Some(message) = stream.message().await? {
        let pb::UploadEvidenceRequest { part } = message;
        let pb::EvidenceChunk { offset, data } = match part {
            Some(Part::Chunk(chunk)) => chunk,
            Some(Part::Metadata(_)) | None => {
                return Err(violation(
                    "metadata",
                    "metadata may only be the first message; every later message is a chunk".into(),
                )
                .into());
            }
        };
        let written = upload.written();
        if offset != written {
            return Err(violation(
                "chunk.offset",
                format!(
                    "chunk.offset is {offset} but {written} bytes were sent before it: send the \
                     chunks in order, without gaps or repeats"
                ),
            )
            .into());
        }
        if written + data.len() as u64 > declared {
            return Err(violation(
                "chunk.data",
                format!("the chunks hold more than the declared metadata.size of {declared} bytes"),
            )
            .into());
        }
        let length = data.len() as u64;
        upload.write(data).await.map_err(GatewayError::from)?;
        casebridge_platform::metrics::metrics()
            .evidence_bytes_in
            .inc_by(length);
    }
    let written = upload.written();
    if written != declared {
        return Err(violation(
            "metadata.size",
            format!(
                "the stream ended after {written} of the declared {declared} bytes; nothing was \
                 stored"
            ),
        )
        .into());
    }
    Ok(())
}

type DownloadStream =
    Pin<Box<dyn Stream<Item = Result<pb::DownloadEvidenceResponse, Status>> + Send>>;

/// Where a download stands between two chunks.
struct Sending {
    chunks: BoxStream<'static, Result<Bytes, StorageError>>,
    hasher: Sha256,
    offset: u64,
    attachment: Attachment,
    done: bool,
}

/// The chunk messages of a download, checked against the digest as they go: a stored copy that
/// no longer matches ends the stream with DATA_LOSS instead of completing it.
fn chunk_messages(sending: Sending) -> DownloadStream {
    futures_util::stream::unfold(sending, |mut s| async move {
        if s.done {
            return None;
        }
        match s.chunks.next().await {
            Some(Ok(data)) => {
                s.hasher.update(&data);
                let length = data.len() as u64;
                let chunk = pb::EvidenceChunk {
                    offset: s.offset,
                    data,
                };
                s.offset += length;
                casebridge_platform::metrics::metrics()
                    .evidence_bytes_out
                    .inc_by(length);
                let message = pb::DownloadEvidenceResponse {
                    part: Some(pb::download_evidence_response::Part::Chunk(chunk)),
                };
                Some((Ok(message), s))
            }
            Some(Err(error)) => {
                s.done = true;
                Some((Err(GatewayError::from(error).into()), s))
            }
            None => {
                s.done = true;
                let digest = Sha256Digest::from_bytes(s.hasher.clone().finalize().into());
                let expected = s.attachment.digest;
                if digest == expected && s.offset == s.attachment.size {
                    return None;
                }
                let damaged = GatewayError::DataLoss(format!(
                    "stored evidence {expected} is damaged: read {} bytes with SHA-256 {digest}",
                    s.offset
                ));
                Some((Err(damaged.into()), s))
            }
        }
    })
    .boxed()
}

#[tonic::async_trait]
impl EvidenceService for EvidenceGrpc {
    type DownloadEvidenceStream = DownloadStream;

    #[tracing::instrument(skip_all, fields(agency, digest, size))]
    async fn upload_evidence(
        &self,
        request: tonic::Request<Streaming<pb::UploadEvidenceRequest>>,
    ) -> Result<Response<pb::UploadEvidenceResponse>, Status> {
        use pb::upload_evidence_request::Part;
        let uploader = self.ctx.caller(&request)?.code;
        tracing::Span::current().record("agency", tracing::field::display(&uploader));
        let mut stream = request.into_inner();
        let metadata = match stream.message().await? {
            Some(pb::UploadEvidenceRequest {
                part: Some(Part::Metadata(metadata)),
            }) => convert::upload_metadata(metadata, self.ctx.evidence.max_size)
                .map_err(GatewayError::from)?,
            _ => {
                return Err(violation(
                    "metadata",
                    "the first message must carry the metadata (size, and optionally sha256, \
                     file_name and content_type); the chunks follow it"
                        .into(),
                )
                .into());
            }
        };
        let UploadMetadata {
            file_name,
            content_type,
            size,
            sha256: declared,
        } = metadata;
        let mut upload = self
            .ctx
            .evidence
            .storage
            .begin()
            .await
            .map_err(GatewayError::from)?;
        if let Err(status) = receive(&mut stream, &mut upload, size).await {
            upload.abort().await;
            return Err(status);
        }
        let stored = upload.finish(declared).await.map_err(|error| match error {
            UploadError::DigestMismatch { .. } => violation("metadata.sha256", error.to_string()),
            UploadError::Storage(error) => GatewayError::from(error),
        })?;
        let span = tracing::Span::current();
        span.record("digest", tracing::field::display(&stored.digest));
        span.record("size", stored.size);
        // Recorded after the file is in place: a failure here leaves a stored file that the
        // retried upload (same content) records.
        let reply = self
            .ctx
            .ask(
                SERVICE,
                &Request::RecordUpload {
                    uploader,
                    digest: stored.digest,
                    size: stored.size,
                    file_name,
                    content_type,
                },
            )
            .await?;
        match reply {
            Reply::Recorded { .. } => {
                tracing::info!(already_stored = stored.already_stored, "evidence stored");
                Ok(Response::new(pb::UploadEvidenceResponse {
                    sha256: stored.digest.to_hex(),
                    size: stored.size,
                    already_stored: stored.already_stored,
                }))
            }
            other => Err(GatewayError::unanswered(SERVICE, other).into()),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn get_evidence(
        &self,
        request: tonic::Request<pb::GetEvidenceRequest>,
    ) -> Result<Response<pb::Evidence>, Status> {
        let agency = self.ctx.caller(&request)?.code;
        let pb::GetEvidenceRequest { sha256 } = request.into_inner();
        let digest = convert::digest("sha256", &sha256).map_err(GatewayError::from)?;
        let attachment = self.readable(agency, digest).await?;
        Ok(Response::new(convert::evidence(&attachment)))
    }

    #[tracing::instrument(skip_all)]
    async fn download_evidence(
        &self,
        request: tonic::Request<pb::DownloadEvidenceRequest>,
    ) -> Result<Response<DownloadStream>, Status> {
        let agency = self.ctx.caller(&request)?.code;
        let pb::DownloadEvidenceRequest { sha256 } = request.into_inner();
        let digest = convert::digest("sha256", &sha256).map_err(GatewayError::from)?;
        let attachment = self.readable(agency, digest).await?;
        let (size, chunks) = self
            .ctx
            .evidence
            .storage
            .read(&digest)
            .await
            .map_err(GatewayError::from)?;
        if size != attachment.size {
            return Err(GatewayError::DataLoss(format!(
                "stored evidence {digest} has {size} bytes, not the {} recorded",
                attachment.size
            ))
            .into());
        }
        let first = pb::DownloadEvidenceResponse {
            part: Some(pb::download_evidence_response::Part::Metadata(
                convert::evidence(&attachment),
            )),
        };
        let rest = chunk_messages(Sending {
            chunks,
            hasher: Sha256::new(),
            offset: 0,
            attachment,
            done: false,
        });
        Ok(Response::new(
            futures_util::stream::once(async move { Ok(first) })
                .chain(rest)
                .boxed(),
        ))
    }
}
