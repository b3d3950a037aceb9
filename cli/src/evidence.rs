//! `casebridge evidence upload|download|stat`: evidence files over mutual TLS, streamed in
//! chunks so neither side holds a whole file, with the digest checked on both ends.
//!
//! [`upload`] and [`download`] are also the benchmark's client.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use casebridge_core::ids::Sha256Digest;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::evidence_service_client::EvidenceServiceClient;
use futures_util::{Stream, StreamExt as _};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt as _};
use tonic::transport::Channel;

use crate::client::Connection;

/// Bytes per upload message: well under gRPC's 4 MiB message limit, large enough that
/// per-message costs vanish.
pub const CHUNK: usize = 256 * 1024;

/// Files at least this large show a progress bar (on stderr, when it is a terminal).
const PROGRESS_FROM: u64 = 8 * 1024 * 1024;

#[derive(Debug, clap::Subcommand)]
pub enum EvidenceCommand {
    /// Upload a file; prints its SHA-256, which documents then name (KIND:TITLE:SHA256).
    Upload {
        #[command(flatten)]
        connection: Connection,
        file: PathBuf,
        /// Media type, e.g. image/jpeg; default application/octet-stream.
        #[arg(long)]
        content_type: Option<String>,
        /// The name to record; default the file's own name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Download a file you may read, checking its SHA-256 while writing.
    Download {
        #[command(flatten)]
        connection: Connection,
        sha256: String,
        /// Where to write it.
        #[arg(long, short)]
        output: PathBuf,
        /// Replace the output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Show a stored file's size, type, name and first upload.
    Stat {
        #[command(flatten)]
        connection: Connection,
        sha256: String,
    },
}

pub async fn run(command: EvidenceCommand) -> anyhow::Result<()> {
    match command {
        EvidenceCommand::Upload {
            connection,
            file,
            content_type,
            name,
        } => {
            let opened = tokio::fs::File::open(&file)
                .await
                .with_context(|| format!("cannot read {}", file.display()))?;
            let size = opened
                .metadata()
                .await
                .with_context(|| format!("cannot read {}", file.display()))?
                .len();
            let name = name.unwrap_or_else(|| {
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            let metadata = pb::EvidenceMetadata {
                file_name: name,
                content_type: content_type.unwrap_or_default(),
                size,
                sha256: String::new(),
            };
            let chunks = tokio_util::io::ReaderStream::with_capacity(opened, CHUNK);
            let mut client = connection.connect().await?.evidence;
            let progress = progress(size, "uploading");
            let started = Instant::now();
            let uploaded = upload(&mut client, metadata, chunks, &progress)
                .await
                .with_context(|| format!("upload of {} failed", file.display()))?;
            progress.finish_and_clear();
            crate::output::show(&uploaded, |u| format!("{}\n", u.sha256))?;
            eprintln!(
                "{} bytes in {:.1} s{}; name it in a document as KIND:TITLE:{}",
                uploaded.size,
                started.elapsed().as_secs_f64(),
                if uploaded.already_stored {
                    " (identical content was already stored)"
                } else {
                    ""
                },
                uploaded.sha256
            );
            Ok(())
        }
        EvidenceCommand::Download {
            connection,
            sha256,
            output,
            force,
        } => {
            let digest = parse_digest(&sha256)?;
            if output.exists() && !force {
                bail!(
                    "{} exists; choose another --output or add --force",
                    output.display()
                );
            }
            let part = partial_path(&output);
            let mut file = tokio::fs::File::create(&part)
                .await
                .with_context(|| format!("cannot write {}", part.display()))?;
            let mut client = connection.connect().await?.evidence;
            let result = download(&mut client, &digest, &mut file, |size| {
                progress(size, "downloading")
            })
            .await;
            let finished = match result {
                Ok(evidence) => file.sync_all().await.map(|()| evidence).map_err(Into::into),
                Err(error) => Err(error),
            };
            drop(file);
            let evidence = match finished {
                Ok(evidence) => evidence,
                Err(error) => {
                    let _ = tokio::fs::remove_file(&part).await;
                    return Err(error);
                }
            };
            tokio::fs::rename(&part, &output)
                .await
                .with_context(|| format!("cannot move {} into place", part.display()))?;
            eprintln!(
                "{} bytes written to {} (SHA-256 verified)",
                evidence.size,
                output.display()
            );
            Ok(())
        }
        EvidenceCommand::Stat { connection, sha256 } => {
            let digest = parse_digest(&sha256)?;
            let evidence = connection
                .connect()
                .await?
                .evidence
                .get_evidence(pb::GetEvidenceRequest {
                    sha256: digest.to_hex(),
                })
                .await
                .map_err(crate::client::rpc)?
                .into_inner();
            let uploaded = evidence
                .first_uploaded_at
                .map(|t| {
                    casebridge_core::time::Timestamp::from_millis(
                        t.seconds * 1000 + i64::from(t.nanos) / 1_000_000,
                    )
                    .to_rfc3339()
                })
                .unwrap_or_default();
            crate::output::show(&evidence, |e| {
                format!(
                    "sha256:        {}\nsize:          {} bytes\ncontent type:  {}\nfile name:     {}\nfirst upload:  {uploaded}\n",
                    e.sha256, e.size, e.content_type, e.file_name
                )
            })
        }
    }
}

fn parse_digest(text: &str) -> anyhow::Result<Sha256Digest> {
    Sha256Digest::parse(text).map_err(|_| {
        anyhow::anyhow!(
            "{text:?} is not a SHA-256: 64 lowercase hexadecimal characters, as printed by \
             `casebridge evidence upload`"
        )
    })
}

/// `file.part` beside `file`: the download is written there and renamed once verified, so a
/// failed download never leaves a wrong file under the name asked for.
fn partial_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    output.with_file_name(name)
}

/// A byte-counting progress bar on stderr for a large transfer; hidden otherwise.
pub fn progress(size: u64, what: &str) -> ProgressBar {
    if size < PROGRESS_FROM {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// Uploads `chunks` (which must hold exactly `metadata.size` bytes) and checks that the
/// gateway computed the digest this side computed while sending.
pub async fn upload<S>(
    client: &mut EvidenceServiceClient<Channel>,
    metadata: pb::EvidenceMetadata,
    chunks: S,
    progress: &ProgressBar,
) -> anyhow::Result<pb::UploadEvidenceResponse>
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    use pb::upload_evidence_request::Part;
    let hasher = Arc::new(Mutex::new(Sha256::new()));
    // A read error cannot travel in the request stream: it ends the stream early (the gateway
    // then refuses the upload as short) and is reported from here.
    let failed: Arc<Mutex<Option<std::io::Error>>> = Arc::default();
    let (hash, fail, bar) = (hasher.clone(), failed.clone(), progress.clone());
    let mut offset = 0u64;
    let body = chunks
        .take_while(move |chunk| {
            let keep = match chunk {
                Ok(_) => true,
                Err(error) => {
                    *lock(&fail) = Some(std::io::Error::new(error.kind(), error.to_string()));
                    false
                }
            };
            std::future::ready(keep)
        })
        .filter_map(|chunk| std::future::ready(chunk.ok()))
        .map(move |data| {
            lock(&hash).update(&data);
            bar.inc(data.len() as u64);
            let chunk = pb::EvidenceChunk { offset, data };
            offset += chunk.data.len() as u64;
            pb::UploadEvidenceRequest {
                part: Some(Part::Chunk(chunk)),
            }
        });
    let first = pb::UploadEvidenceRequest {
        part: Some(Part::Metadata(metadata)),
    };
    let answer = client
        .upload_evidence(futures_util::stream::once(async { first }).chain(body))
        .await;
    if let Some(error) = lock(&failed).take() {
        return Err(error).context("reading the file failed");
    }
    let uploaded = answer.map_err(crate::client::rpc)?.into_inner();
    let sent = Sha256Digest::from_bytes(lock(&hasher).clone().finalize().into());
    if uploaded.sha256 != sent.to_hex() {
        bail!(
            "the gateway stored SHA-256 {} but this side sent {sent}: the content changed in \
             transit or while it was read",
            uploaded.sha256
        );
    }
    Ok(uploaded)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Downloads `digest` into `out`, checking offsets, size and the SHA-256 of what was written.
/// `progress` makes the bar once the size is known.
pub async fn download<W>(
    client: &mut EvidenceServiceClient<Channel>,
    digest: &Sha256Digest,
    out: &mut W,
    progress: impl FnOnce(u64) -> ProgressBar,
) -> anyhow::Result<pb::Evidence>
where
    W: AsyncWrite + Unpin,
{
    use pb::download_evidence_response::Part;
    let fail = crate::client::rpc;
    let mut stream = client
        .download_evidence(pb::DownloadEvidenceRequest {
            sha256: digest.to_hex(),
        })
        .await
        .map_err(fail)?
        .into_inner();
    let Some(pb::DownloadEvidenceResponse {
        part: Some(Part::Metadata(evidence)),
    }) = stream.message().await.map_err(fail)?
    else {
        bail!("the gateway did not start the download with the file's metadata");
    };
    let bar = progress(evidence.size);
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    while let Some(message) = stream.message().await.map_err(fail)? {
        let Some(Part::Chunk(chunk)) = message.part else {
            bail!("the gateway sent metadata in the middle of the download");
        };
        if chunk.offset != written {
            bail!(
                "the gateway sent a chunk at offset {} after {written} bytes",
                chunk.offset
            );
        }
        hasher.update(&chunk.data);
        out.write_all(&chunk.data).await.context("writing failed")?;
        written += chunk.data.len() as u64;
        bar.inc(chunk.data.len() as u64);
    }
    out.flush().await.context("writing failed")?;
    bar.finish_and_clear();
    let received = Sha256Digest::from_bytes(hasher.finalize().into());
    if written != evidence.size || received != *digest {
        bail!(
            "the download is damaged: {written} bytes with SHA-256 {received}, expected {} \
             bytes with SHA-256 {digest}",
            evidence.size
        );
    }
    Ok(evidence)
}
