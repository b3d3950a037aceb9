//! The evidence service as its callers see it: uploads recorded, access learned from the
//! families' events, questions answered over the bus, on SQLite + the embedded bus and on
//! PostgreSQL + RabbitMQ; and the object storage that holds the bytes, on a local directory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use casebridge_core::ids::{AgencyCode, CaseId, Sha256Digest};
use casebridge_core::notice::{Family, Notice, Role};
use casebridge_core::refusal::RefusalKind;
use casebridge_core::time::{Clock, ManualClock, Timestamp};
use casebridge_evidence::api::{Reply, Request};
use casebridge_evidence::app::{EvidenceApp, queues};
use casebridge_evidence::handler::Evidence;
use casebridge_evidence::storage::{PART_SIZE, Storage, UploadError, object_path};
use casebridge_platform::bus::{Bus, Message};
use casebridge_platform::testing::{Backend, TestStack, eventually};
use futures_util::StreamExt as _;
use tokio_util::sync::CancellationToken;

const MARKET_BUREAU: &str = "11350100MB0100002P";
const CITY_POLICE: &str = "11350100MB01000064";
const DISTRICT_POLICE: &str = "11350102MB01000074";
const PROCURATORATE: &str = "11350100MB0100008A";
const JUSTICE_BUREAU: &str = "11350100MB0100009D";

const WITHIN: Duration = Duration::from_secs(10);

fn agency(code: &str) -> AgencyCode {
    AgencyCode::parse(code).expect("example agency code")
}

struct Running {
    stack: TestStack,
    /// The service logic, for what the bus cannot show (e.g. that an event was skipped).
    evidence: Evidence,
    token: CancellationToken,
    service: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn start(backend: Backend) -> Running {
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = TestStack::open(backend, dir.path()).await;
    let clock: Arc<dyn Clock> =
        Arc::new(ManualClock::new(Timestamp::from_millis(1_772_000_000_000)));
    let app = EvidenceApp::build(stack.db.clone(), stack.bus.clone(), clock)
        .await
        .expect("evidence service");
    let evidence = app.evidence().clone();
    let token = CancellationToken::new();
    let stop = token.clone();
    let service = tokio::spawn(async move {
        app.run_until_stopped(stop).await.expect("service ran");
    });
    Running {
        stack,
        evidence,
        token,
        service,
        _dir: dir,
    }
}

impl Running {
    async fn stop(self) {
        self.token.cancel();
        let _ = self.service.await;
        self.stack.tear_down(&queues()).await;
    }

    fn bus(&self) -> &Bus {
        &self.stack.bus
    }

    async fn send(&self, request: &Request) -> Reply {
        let message = Message::json("evidence", request).expect("encode");
        self.bus()
            .request("evidence", message, WITHIN)
            .await
            .expect("a reply")
            .decode()
            .expect("decode reply")
    }

    async fn upload(&self, uploader: &str, content: &[u8]) -> (Sha256Digest, bool) {
        let digest = Sha256Digest::of(content);
        let request = Request::RecordUpload {
            uploader: agency(uploader),
            digest,
            size: content.len() as u64,
            file_name: "现场照片01.jpg".into(),
            content_type: "image/jpeg".into(),
        };
        match self.send(&request).await {
            Reply::Recorded { attachment, first } => {
                assert_eq!(attachment.digest, digest);
                assert_eq!(attachment.size, content.len() as u64);
                (digest, first)
            }
            other => panic!("expected the upload recorded, got {other:?}"),
        }
    }

    async fn describe(&self, reader: &str, digest: Sha256Digest) -> Reply {
        self.send(&Request::Describe {
            agency: agency(reader),
            digest,
        })
        .await
    }

    async fn can_read(&self, reader: &str, digest: Sha256Digest) -> bool {
        match self.describe(reader, digest).await {
            Reply::Found { .. } => true,
            Reply::Refused { refusal } if refusal.kind == RefusalKind::PermissionDenied => false,
            other => panic!("expected found or permission denied, got {other:?}"),
        }
    }

    async fn publish(&self, notice: &Notice) -> Message {
        let message = Message::json(notice.routing_key(), notice).expect("encode notice");
        self.bus().publish_event(&message).await.expect("publish");
        message
    }

    /// Waits until `reader` may read `digest` (the event is consumed asynchronously).
    async fn wait_until_readable(&self, reader: &str, digest: Sha256Digest) {
        eventually(&format!("{reader} may read {digest}"), WITHIN, || async {
            self.can_read(reader, digest).await.then_some(())
        })
        .await;
    }
}

/// A referral step: sent by the market bureau to `police`, copied to the procuratorate.
fn referral_notice(
    case_id: CaseId,
    event: &str,
    police: &str,
    attachments: Vec<Sha256Digest>,
) -> Notice {
    let parties: BTreeMap<Role, AgencyCode> = [
        (Role::Sender, agency(MARKET_BUREAU)),
        (Role::Recipient, agency(police)),
        (Role::Procuratorate, agency(PROCURATORATE)),
    ]
    .into();
    Notice {
        case_id,
        family: Family::Referral,
        event: event.into(),
        actor: agency(MARKET_BUREAU),
        at: Timestamp::from_millis(1_771_900_000_000),
        recipients: vec![agency(police), agency(PROCURATORATE)],
        summary: format!("{event} on {case_id}"),
        detail: serde_json::Value::Null,
        parties,
        attachments,
    }
}

async fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(Running) -> Fut,
    Fut: std::future::Future<Output = Running>,
{
    for backend in Backend::ALL {
        let running = test(start(backend).await).await;
        running.stop().await;
    }
}

#[tokio::test]
async fn the_uploader_may_read_what_it_uploaded_and_nobody_else_may() {
    on_each_backend(|running| async move {
        let (digest, first) = running
            .upload(MARKET_BUREAU, b"photo of seized goods")
            .await;
        assert!(first, "first upload of this content");

        match running.describe(MARKET_BUREAU, digest).await {
            Reply::Found { attachment } => {
                assert_eq!(attachment.file_name, "现场照片01.jpg");
                assert_eq!(attachment.content_type, "image/jpeg");
            }
            other => panic!("the uploader cannot read its upload: {other:?}"),
        }
        match running.describe(CITY_POLICE, digest).await {
            Reply::Refused { refusal } => {
                assert_eq!(refusal.kind, RefusalKind::PermissionDenied);
                assert!(
                    !refusal.message.contains("现场照片"),
                    "a refusal leaks the file name: {}",
                    refusal.message
                );
            }
            other => panic!("a non-party read the file: {other:?}"),
        }
        running
    })
    .await;
}

#[tokio::test]
async fn an_unknown_digest_is_not_found_for_everyone() {
    on_each_backend(|running| async move {
        let unknown = Sha256Digest::of(b"never uploaded");
        for reader in [MARKET_BUREAU, CITY_POLICE] {
            match running.describe(reader, unknown).await {
                Reply::Refused { refusal } => {
                    assert_eq!(refusal.kind, RefusalKind::NotFound);
                    assert_eq!(refusal.field.as_deref(), Some("sha256"));
                }
                other => panic!("expected NOT_FOUND, got {other:?}"),
            }
        }
        running
    })
    .await;
}

#[tokio::test]
async fn a_second_upload_of_the_same_content_is_recorded_once_and_lets_its_uploader_read() {
    on_each_backend(|running| async move {
        let (digest, first) = running.upload(MARKET_BUREAU, b"the same report").await;
        assert!(first);
        let (again, first) = running.upload(MARKET_BUREAU, b"the same report").await;
        assert_eq!(again, digest);
        assert!(!first, "the same uploader again");
        let (_, first) = running.upload(JUSTICE_BUREAU, b"the same report").await;
        assert!(!first, "another uploader of the same content");
        assert!(running.can_read(JUSTICE_BUREAU, digest).await);
        running
    })
    .await;
}

#[tokio::test]
async fn every_party_of_a_case_that_references_a_file_may_read_it() {
    on_each_backend(|running| async move {
        let (digest, _) = running.upload(MARKET_BUREAU, b"investigation report").await;
        let case_id = CaseId::generate();
        running
            .publish(&referral_notice(
                case_id,
                "submitted",
                CITY_POLICE,
                vec![digest],
            ))
            .await;

        running.wait_until_readable(CITY_POLICE, digest).await;
        assert!(running.can_read(PROCURATORATE, digest).await);
        assert!(
            !running.can_read(DISTRICT_POLICE, digest).await,
            "the district police are not a party yet"
        );
        assert!(!running.can_read(JUSTICE_BUREAU, digest).await);
        running
    })
    .await;
}

#[tokio::test]
async fn an_agency_that_joins_a_case_later_may_read_what_was_attached_before() {
    on_each_backend(|running| async move {
        let (digest, _) = running.upload(MARKET_BUREAU, b"seized items list").await;
        let case_id = CaseId::generate();
        running
            .publish(&referral_notice(
                case_id,
                "submitted",
                CITY_POLICE,
                vec![digest],
            ))
            .await;
        running.wait_until_readable(CITY_POLICE, digest).await;

        // Forwarded to the district police: that step attaches nothing new.
        running
            .publish(&referral_notice(
                case_id,
                "forwarded",
                DISTRICT_POLICE,
                Vec::new(),
            ))
            .await;
        running.wait_until_readable(DISTRICT_POLICE, digest).await;
        running
    })
    .await;
}

#[tokio::test]
async fn deadline_events_and_redeliveries_grant_nothing_new() {
    on_each_backend(|running| async move {
        let (digest, _) = running.upload(MARKET_BUREAU, b"test report").await;
        let case_id = CaseId::generate();
        // A deadline event that (wrongly) names a stranger and the file is skipped.
        let mut warning = referral_notice(case_id, "deadline_warning", CITY_POLICE, vec![digest]);
        warning.recipients = vec![agency(JUSTICE_BUREAU)];
        let message = Message::json(warning.routing_key(), &warning).expect("encode");
        let learned = running.evidence.learn(&message, &warning).await;
        assert!(!learned.expect("stored"), "a deadline event was recorded");
        assert!(
            !running
                .evidence
                .may_read(&agency(JUSTICE_BUREAU), &digest)
                .await
                .expect("read")
        );
        assert!(
            !running
                .evidence
                .may_read(&agency(CITY_POLICE), &digest)
                .await
                .expect("read")
        );

        // The same submission delivered three times is recorded once.
        let submitted = referral_notice(case_id, "submitted", CITY_POLICE, vec![digest]);
        let message = Message::json(submitted.routing_key(), &submitted).expect("encode");
        let learned: Vec<bool> = futures_util::future::join_all(
            (0..3).map(|_| running.evidence.learn(&message, &submitted)),
        )
        .await
        .into_iter()
        .map(|r| r.expect("stored"))
        .collect();
        assert_eq!(learned.iter().filter(|l| **l).count(), 1, "{learned:?}");
        assert!(running.can_read(CITY_POLICE, digest).await);
        assert!(!running.can_read(JUSTICE_BUREAU, digest).await);
        running
    })
    .await;
}

#[tokio::test]
async fn references_are_usable_only_when_the_caller_may_read_them() {
    on_each_backend(|running| async move {
        let (mine, _) = running.upload(MARKET_BUREAU, b"mine").await;
        let (theirs, _) = running.upload(JUSTICE_BUREAU, b"theirs").await;
        let unknown = Sha256Digest::of(b"never uploaded");
        let reply = running
            .send(&Request::CheckReferences {
                agency: agency(MARKET_BUREAU),
                digests: vec![mine, theirs, unknown, theirs],
            })
            .await;
        assert_eq!(
            reply,
            Reply::References {
                unusable: vec![theirs, unknown]
            },
            "someone else's file and an unknown one are unusable alike, each named once"
        );
        running
    })
    .await;
}

// ---- storage ----

async fn stored(
    storage: &Storage,
    chunks: &[&[u8]],
    declared: Option<Sha256Digest>,
) -> Result<casebridge_evidence::storage::Stored, UploadError> {
    let mut upload = storage.begin().await.expect("begin");
    for chunk in chunks {
        upload
            .write(Bytes::copy_from_slice(chunk))
            .await
            .expect("write");
    }
    upload.finish(declared).await
}

async fn read_all(storage: &Storage, digest: &Sha256Digest) -> Vec<u8> {
    let (size, mut stream) = storage.read(digest).await.expect("stored");
    let mut content = Vec::new();
    while let Some(chunk) = stream.next().await {
        content.extend_from_slice(&chunk.expect("chunk"));
    }
    assert_eq!(content.len() as u64, size);
    content
}

/// Every file under `root`, relative, sorted.
fn files_under(root: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(
                    path.strip_prefix(root)
                        .expect("under root")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn a_file_larger_than_several_parts_round_trips_through_local_storage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = Storage::local(dir.path()).expect("local storage");
    // 2.5 parts, in odd-sized chunks, so parts and chunks never line up.
    let content: Vec<u8> = (0..PART_SIZE * 5 / 2).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<&[u8]> = content.chunks(300_007).collect();

    let result = stored(&storage, &chunks, Some(Sha256Digest::of(&content)))
        .await
        .expect("stored");

    assert_eq!(result.digest, Sha256Digest::of(&content));
    assert_eq!(result.size, content.len() as u64);
    assert!(!result.already_stored);
    assert_eq!(read_all(&storage, &result.digest).await, content);
    assert_eq!(
        files_under(dir.path()),
        vec![object_path(&result.digest).to_string()],
        "only the stored file remains, under its digest"
    );
}

#[tokio::test]
async fn identical_content_is_stored_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = Storage::local(dir.path()).expect("local storage");
    let first = stored(&storage, &[b"same ", b"bytes"], None)
        .await
        .expect("stored");
    let second = stored(&storage, &[b"same bytes"], None)
        .await
        .expect("stored");
    assert_eq!(first.digest, second.digest);
    assert!(!first.already_stored);
    assert!(second.already_stored);
    assert_eq!(files_under(dir.path()).len(), 1);
}

/// Issue 12, D8: parallel uploads of the same bytes each answered `already_stored = false`.
/// Exactly one of them stores the file now; the others find it there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_parallel_uploads_of_the_same_bytes_exactly_one_stores_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = Storage::local(dir.path()).expect("local storage");
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let uploads = (0..16).map(|_| {
        let (storage, content) = (storage.clone(), content.clone());
        tokio::spawn(async move {
            let chunks: Vec<&[u8]> = content.chunks(65_536).collect();
            stored(&storage, &chunks, None).await.expect("stored")
        })
    });
    let results = futures_util::future::join_all(uploads).await;
    let newly: usize = results
        .into_iter()
        .map(|r| usize::from(!r.expect("the upload task").already_stored))
        .sum();
    assert_eq!(newly, 1, "uploads that answered already_stored = false");
    assert_eq!(
        files_under(dir.path()).len(),
        1,
        "one copy, no temporary left"
    );
}

#[tokio::test]
async fn content_that_is_not_what_was_declared_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = Storage::local(dir.path()).expect("local storage");
    let declared = Sha256Digest::of(b"what the sender meant to send");

    let error = stored(&storage, &[b"what actually arrived"], Some(declared))
        .await
        .expect_err("a mismatch is refused");

    match error {
        UploadError::DigestMismatch {
            declared: d,
            actual,
        } => {
            assert_eq!(d, declared);
            assert_eq!(actual, Sha256Digest::of(b"what actually arrived"));
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    assert!(!storage.contains(&declared).await.expect("head"));
    assert_eq!(files_under(dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn an_abandoned_upload_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = Storage::local(dir.path()).expect("local storage");
    let mut upload = storage.begin().await.expect("begin");
    upload
        .write(Bytes::from(vec![7u8; PART_SIZE + 10]))
        .await
        .expect("write");
    upload.abort().await;
    assert_eq!(files_under(dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn an_empty_file_is_stored_and_read_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = Storage::local(dir.path()).expect("local storage");
    let result = stored(&storage, &[], Some(Sha256Digest::of(b"")))
        .await
        .expect("stored");
    assert_eq!(result.size, 0);
    assert_eq!(
        result.digest.to_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(read_all(&storage, &result.digest).await, Vec::<u8>::new());
}

#[tokio::test]
async fn reading_a_file_that_is_not_stored_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = Storage::local(dir.path()).expect("local storage");
    let digest = Sha256Digest::of(b"absent");
    match storage.read(&digest).await {
        Err(casebridge_evidence::storage::StorageError::Missing(d)) => assert_eq!(d, digest),
        other => panic!("expected missing, got {:?}", other.map(|(size, _)| size)),
    }
}
