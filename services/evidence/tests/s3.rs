//! The evidence store on a real S3-compatible server: moto's, started on 127.0.0.1 for the
//! test (`deploy/local/services.sh` installs it under `~/.cache/casebridge/moto`, or point
//! `CASEBRIDGE_MOTO_SERVER` at a `moto_server`). What the local directory is tested for
//! elsewhere, here through the S3 API: a multipart upload verified and stored under its
//! digest, streamed back whole, deduplicated, and nothing kept when the digest is wrong.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use casebridge_core::ids::Sha256Digest;
use casebridge_evidence::storage::{PART_SIZE, Storage, UploadError};
use casebridge_platform::settings::{EvidenceSettings, EvidenceStorageKind, Secret};
use futures_util::StreamExt as _;
use sha2::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const BUCKET: &str = "casebridge-evidence";

fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("CASEBRIDGE_MOTO_SERVER") {
        return path.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME");
    let path = cache.join("casebridge/moto/bin/moto_server");
    assert!(
        path.exists(),
        "{} is missing: run deploy/local/services.sh (or set CASEBRIDGE_MOTO_SERVER)",
        path.display()
    );
    path
}

/// moto's server on a free loopback port, stopped when dropped.
struct Moto {
    _child: tokio::process::Child,
    port: u16,
}

impl Moto {
    async fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = tokio::process::Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Moto {
            _child: child,
            port,
        }
    }

    /// Creates the bucket (moto checks no signature, so a bare request does).
    async fn create_bucket(&self) {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        let request = format!(
            "PUT /{BUCKET} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer).await;
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "creating the bucket: {answer}"
        );
    }

    fn storage(&self) -> Storage {
        let mut settings = EvidenceSettings {
            storage: EvidenceStorageKind::S3,
            ..EvidenceSettings::default()
        };
        settings.s3.bucket = BUCKET.into();
        settings.s3.region = "us-east-1".into();
        settings.s3.endpoint = format!("http://127.0.0.1:{}", self.port);
        settings.s3.allow_http = true;
        settings.s3.path_style = true;
        settings.s3.access_key_id = "testing".into();
        settings.s3.secret_access_key = Secret::new("testing");
        settings.s3.prefix = "cb".into();
        Storage::open(&settings, std::path::Path::new("/nonexistent")).expect("S3 storage")
    }
}

/// Uploads `content` in 1 MiB writes, declaring `declared`.
async fn upload(
    storage: &Storage,
    content: &[u8],
    declared: Sha256Digest,
) -> Result<casebridge_evidence::storage::Stored, UploadError> {
    let mut upload = storage.begin().await?;
    for piece in content.chunks(1 << 20) {
        upload.write(Bytes::copy_from_slice(piece)).await?;
    }
    upload.finish(Some(declared)).await
}

#[tokio::test]
async fn evidence_goes_up_and_down_through_an_s3_compatible_server() {
    let moto = Moto::start().await;
    moto.create_bucket().await;
    let storage = moto.storage();

    // More than two parts, so the upload is multipart, with a tail.
    let content: Vec<u8> = (0..(2 * PART_SIZE + 12_345))
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let digest = Sha256Digest::from_bytes(sha2::Sha256::digest(&content).into());

    // A wrong declaration keeps nothing.
    let other = Sha256Digest::from_bytes(sha2::Sha256::digest(b"something else").into());
    match upload(&storage, &content, other).await {
        Err(UploadError::DigestMismatch { declared, actual }) => {
            assert_eq!((declared, actual), (other, digest));
        }
        result => panic!("expected a digest mismatch, got {result:?}"),
    }
    assert!(!storage.contains(&digest).await.expect("head"));

    let stored = upload(&storage, &content, digest).await.expect("stored");
    assert_eq!(stored.digest, digest);
    assert_eq!(stored.size, content.len() as u64);
    assert!(!stored.already_stored);
    assert!(storage.contains(&digest).await.expect("head"));

    let (size, mut stream) = storage.read(&digest).await.expect("read");
    assert_eq!(size, content.len() as u64);
    let mut back = Vec::with_capacity(content.len());
    while let Some(chunk) = stream.next().await {
        back.extend_from_slice(&chunk.expect("chunk"));
    }
    assert!(back == content, "the content came back changed");

    let again = upload(&storage, &content, digest)
        .await
        .expect("stored again");
    assert!(again.already_stored, "the same content is stored once");
}
