//! Evidence end to end, through the real binary: an agency uploads a file, names it in a
//! referral, and the police it is addressed to download it, while an outsider may not; on the
//! embedded default and as separate processes on RabbitMQ and PostgreSQL.

use std::time::Duration;

use casebridge_platform::testing::eventually;
use casebridge_proto::v1 as pb;
use casebridge_tests::agencies::*;
use casebridge_tests::{System, submission};
use sha2::{Digest as _, Sha256};
use tonic::Code;

const WAIT: Duration = Duration::from_secs(20);
const CHUNK: usize = 256 * 1024;

fn sha256_hex(content: &[u8]) -> String {
    hex(&Sha256::digest(content))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn upload(system: &System, agency: &str, content: &[u8]) -> anyhow::Result<String> {
    use pb::upload_evidence_request::Part;
    let mut messages = vec![pb::UploadEvidenceRequest {
        part: Some(Part::Metadata(pb::EvidenceMetadata {
            file_name: "现场视频.mp4".into(),
            content_type: "video/mp4".into(),
            size: content.len() as u64,
            sha256: sha256_hex(content),
        })),
    }];
    for (i, piece) in content.chunks(CHUNK).enumerate() {
        messages.push(pb::UploadEvidenceRequest {
            part: Some(Part::Chunk(pb::EvidenceChunk {
                offset: (i * CHUNK) as u64,
                data: bytes::Bytes::copy_from_slice(piece),
            })),
        });
    }
    let response = system
        .evidence(agency)
        .await?
        .upload_evidence(futures_util::stream::iter(messages))
        .await?
        .into_inner();
    Ok(response.sha256)
}

async fn download(system: &System, agency: &str, sha256: &str) -> Result<Vec<u8>, tonic::Status> {
    use pb::download_evidence_response::Part;
    let mut client = system
        .evidence(agency)
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut stream = client
        .download_evidence(pb::DownloadEvidenceRequest {
            sha256: sha256.into(),
        })
        .await?
        .into_inner();
    let mut content = Vec::new();
    while let Some(message) = stream.message().await? {
        if let Some(Part::Chunk(chunk)) = message.part {
            assert_eq!(chunk.offset, content.len() as u64);
            content.extend_from_slice(&chunk.data);
        }
    }
    Ok(content)
}

async fn the_evidence_path(system: &System) -> anyhow::Result<()> {
    let content: Vec<u8> = (0..3 * 1024 * 1024 + 5)
        .map(|i| (i * 7 % 253) as u8)
        .collect();
    let digest = upload(system, MARKET_BUREAU, &content).await?;
    assert_eq!(digest, sha256_hex(&content));

    // A document may not name a file nobody uploaded.
    let mut unknown = submission("evidence-unknown");
    unknown.documents[1].sha256 = sha256_hex(b"never uploaded");
    let refused = system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(unknown)
        .await
        .expect_err("an unknown attachment");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().contains("documents[1].sha256"),
        "{}",
        refused.message()
    );

    let mut request = submission("evidence-1");
    request.documents[1].sha256 = digest.clone();
    system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(request)
        .await?;

    let downloaded = eventually("the police may download the attachment", WAIT, || async {
        download(system, CITY_POLICE, &digest).await.ok()
    })
    .await;
    assert!(downloaded == content, "the police read other bytes");
    let outsider = download(system, JUSTICE_BUREAU, &digest)
        .await
        .expect_err("not a party");
    assert_eq!(outsider.code(), Code::PermissionDenied, "{outsider:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_reaches_the_police_on_the_embedded_default() -> anyhow::Result<()> {
    let system = System::embedded().await?;
    the_evidence_path(&system).await?;
    system.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_reaches_the_police_as_separate_processes_on_rabbitmq_and_postgres()
-> anyhow::Result<()> {
    let system = System::distributed().await?;
    the_evidence_path(&system).await?;
    system.stop().await
}
