//! Where evidence bytes live: an [`object_store`] over a local directory (the default) or an
//! S3-compatible bucket, addressed by SHA-256.
//!
//! Layout: a stored file is `sha256/<first two hex digits>/<64 hex digits>`; an upload in
//! progress is `tmp/<uuid>`. An [`Upload`] streams into its temporary object as a multipart
//! upload, hashing every chunk as it passes, and moves the object into place only after the
//! digest is known (and matches the declared one), so a partial or wrong upload is never
//! visible under a digest. Identical content is stored once.
//!
//! Memory does not grow with file size: an upload holds at most one part being filled plus
//! [`PARTS_IN_FLIGHT`] parts being written ([`PART_SIZE`] each), and a caller that writes
//! faster than storage accepts is held back ([`Upload::write`] waits). A download is a stream
//! of chunks of at most [`READ_CHUNK`] bytes, read as the consumer asks for them.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use casebridge_core::ids::Sha256Digest;
use casebridge_platform::settings::{EvidenceSettings, EvidenceStorageKind};
use futures_util::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{GetResultPayload, ObjectStore, WriteMultipart};
use sha2::{Digest as _, Sha256};

/// The size of each part of a multipart write: S3's minimum for every part but the last.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// Parts written concurrently by one upload; a writer waits while this many are in flight.
pub const PARTS_IN_FLIGHT: usize = 2;

/// The largest chunk a download yields.
pub const READ_CHUNK: usize = 256 * 1024;

/// Failures of the object store.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("evidence storage is misconfigured: {0}")]
    Config(String),
    #[error("evidence storage failed: {0}")]
    Backend(#[from] object_store::Error),
    #[error("evidence storage failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("evidence {0} is not in storage")]
    Missing(Sha256Digest),
}

/// Why an upload was not stored.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The content is not what the uploader declared; nothing was kept.
    #[error("the content's SHA-256 is {actual}, not the declared {declared}; nothing was stored")]
    DigestMismatch {
        declared: Sha256Digest,
        actual: Sha256Digest,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A verified, stored file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub digest: Sha256Digest,
    pub size: u64,
    /// Identical content was already stored; this upload kept no second copy.
    pub already_stored: bool,
}

/// The evidence object store. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The directory of a local store, so finished files can be flushed to disk.
    local_root: Option<PathBuf>,
    description: String,
}

impl Storage {
    /// The storage the settings name; a relative local path is inside `data_dir`.
    pub fn open(settings: &EvidenceSettings, data_dir: &FsPath) -> Result<Storage, StorageError> {
        match settings.storage {
            EvidenceStorageKind::Local => {
                let root = if settings.path.is_absolute() {
                    settings.path.clone()
                } else {
                    data_dir.join(&settings.path)
                };
                Storage::local(&root)
            }
            EvidenceStorageKind::S3 => {
                // `Settings::validate` has checked the bucket and the size limit.
                let s3 = &settings.s3;
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_allow_http(s3.allow_http)
                    .with_virtual_hosted_style_request(!s3.path_style);
                if !s3.endpoint.is_empty() {
                    builder = builder.with_endpoint(&s3.endpoint);
                }
                if !s3.access_key_id.is_empty() {
                    builder = builder
                        .with_access_key_id(&s3.access_key_id)
                        .with_secret_access_key(s3.secret_access_key.expose());
                }
                let bucket = builder
                    .build()
                    .map_err(|e| StorageError::Config(e.to_string()))?;
                let description = format!("s3 bucket {}/{}", s3.bucket, s3.prefix);
                let store: Arc<dyn ObjectStore> = if s3.prefix.is_empty() {
                    Arc::new(bucket)
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(
                        bucket,
                        s3.prefix.as_str(),
                    ))
                };
                Ok(Storage {
                    store,
                    local_root: None,
                    description,
                })
            }
        }
    }

    /// A store in the directory `root`, created when missing.
    pub fn local(root: &FsPath) -> Result<Storage, StorageError> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&root)?;
        Ok(Storage {
            store: Arc::new(store),
            description: format!("directory {}", root.display()),
            local_root: Some(root),
        })
    }

    /// Where the files are, for logs and errors (never holds a secret).
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Starts an upload into a temporary object.
    pub async fn begin(&self) -> Result<Upload, StorageError> {
        let temp = Path::from(format!("tmp/{}", uuid::Uuid::new_v4().simple()));
        let upload = self.store.put_multipart(&temp).await?;
        Ok(Upload {
            storage: self.clone(),
            temp,
            writer: WriteMultipart::new_with_chunk_size(upload, PART_SIZE),
            hasher: Sha256::new(),
            written: 0,
        })
    }

    /// Whether `digest` is stored.
    pub async fn contains(&self, digest: &Sha256Digest) -> Result<bool, StorageError> {
        match self.store.head(&object_path(digest)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The stored file `digest` as a stream of chunks of at most [`READ_CHUNK`] bytes, read
    /// as the stream is polled, with its size.
    pub async fn read(
        &self,
        digest: &Sha256Digest,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, StorageError>>), StorageError> {
        let result = match self.store.get(&object_path(digest)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(StorageError::Missing(*digest));
            }
            Err(e) => return Err(e.into()),
        };
        let size = result.meta.size;
        let stream = match result.payload {
            // A local file: read it in large chunks rather than object_store's 8 KiB ones.
            GetResultPayload::File(file, _) => tokio_util::io::ReaderStream::with_capacity(
                tokio::fs::File::from_std(file),
                READ_CHUNK,
            )
            .map(|chunk| chunk.map_err(StorageError::from))
            .boxed(),
            GetResultPayload::Stream(stream) => rechunk(
                stream
                    .map(|chunk| chunk.map_err(StorageError::from))
                    .boxed(),
            ),
        };
        Ok((size, stream))
    }

    /// Moves a finished temporary object to `digest`'s place, or drops it when identical
    /// content is already there. Returns whether it was already there.
    async fn settle(&self, temp: &Path, digest: &Sha256Digest) -> Result<bool, StorageError> {
        let target = object_path(digest);
        if self.contains(digest).await? {
            self.store.delete(temp).await?;
            return Ok(true);
        }
        if let Some(root) = &self.local_root {
            // The file is complete; make it durable before it becomes visible.
            let path = root.join(temp.as_ref());
            tokio::task::spawn_blocking(move || std::fs::File::open(path)?.sync_all())
                .await
                .map_err(std::io::Error::other)??;
        }
        // Two concurrent uploads of the same content may both get here. Only one may answer
        // "newly stored" (issue 12, D8): the move succeeds only where nothing is yet, and the
        // other upload finds it there. A store that cannot move conditionally (S3 without a
        // configured mechanism) replaces identical bytes, which no reader can tell apart, and
        // both answer "newly stored".
        match self.store.rename_if_not_exists(temp, &target).await {
            Ok(()) => {}
            Err(object_store::Error::AlreadyExists { .. }) => {
                self.store.delete(temp).await?;
                return Ok(true);
            }
            Err(object_store::Error::NotSupported { .. } | object_store::Error::NotImplemented) => {
                self.store.rename(temp, &target).await?;
            }
            Err(error) => return Err(error.into()),
        }
        if let Some(root) = &self.local_root
            && let Some(parent) = root.join(target.as_ref()).parent().map(FsPath::to_owned)
        {
            tokio::task::spawn_blocking(move || std::fs::File::open(parent)?.sync_all())
                .await
                .map_err(std::io::Error::other)??;
        }
        Ok(false)
    }
}

impl std::fmt::Debug for Storage {
    // The store itself may hold credentials: show only where it is.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("at", &self.description)
            .finish()
    }
}

/// The object path of the stored content `digest`.
pub fn object_path(digest: &Sha256Digest) -> Path {
    let hex = digest.to_hex();
    Path::from(format!("sha256/{}/{hex}", &hex[..2]))
}

/// One upload in progress: bytes go to a temporary object and into the hash.
#[derive(Debug)]
pub struct Upload {
    storage: Storage,
    temp: Path,
    writer: WriteMultipart,
    hasher: Sha256,
    written: u64,
}

impl Upload {
    /// Appends `data`. Waits while [`PARTS_IN_FLIGHT`] parts are being written, so a fast
    /// sender is held back by storage instead of filling memory.
    pub async fn write(&mut self, data: Bytes) -> Result<(), StorageError> {
        self.writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        self.hasher.update(&data);
        self.written += data.len() as u64;
        self.writer.put(data);
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Verifies the content against `declared` (when given) and stores it under its digest.
    /// On a mismatch nothing is kept.
    pub async fn finish(self, declared: Option<Sha256Digest>) -> Result<Stored, UploadError> {
        let Upload {
            storage,
            temp,
            writer,
            hasher,
            written,
        } = self;
        let digest = Sha256Digest::from_bytes(hasher.finalize().into());
        if let Some(declared) = declared
            && declared != digest
        {
            let _ = writer.abort().await;
            return Err(UploadError::DigestMismatch {
                declared,
                actual: digest,
            });
        }
        writer.finish().await.map_err(StorageError::from)?;
        let already_stored = match storage.settle(&temp, &digest).await {
            Ok(already) => already,
            Err(error) => {
                let _ = storage.store.delete(&temp).await;
                return Err(error.into());
            }
        };
        Ok(Stored {
            digest,
            size: written,
            already_stored,
        })
    }

    /// Abandons the upload; nothing is kept.
    pub async fn abort(self) {
        if let Err(error) = self.writer.abort().await {
            tracing::warn!(%error, temp = %self.temp, "abandoned evidence upload not cleaned up");
        }
    }
}

/// Joins the small chunks of a remote stream into chunks of up to [`READ_CHUNK`] bytes, so
/// each downloaded message carries a useful amount; never holds more than one chunk.
fn rechunk(
    stream: BoxStream<'static, Result<Bytes, StorageError>>,
) -> BoxStream<'static, Result<Bytes, StorageError>> {
    futures_util::stream::unfold(
        (stream, BytesMut::new(), false),
        |(mut stream, mut buffer, done)| async move {
            if done {
                return None;
            }
            loop {
                match stream.next().await {
                    Some(Ok(bytes)) => {
                        buffer.extend_from_slice(&bytes);
                        if buffer.len() >= READ_CHUNK {
                            let chunk = buffer.split_to(READ_CHUNK).freeze();
                            return Some((Ok(chunk), (stream, buffer, false)));
                        }
                    }
                    Some(Err(error)) => return Some((Err(error), (stream, buffer, true))),
                    None if buffer.is_empty() => return None,
                    None => {
                        let chunk = buffer.split().freeze();
                        return Some((Ok(chunk), (stream, buffer, true)));
                    }
                }
            }
        },
    )
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_files_are_spread_over_directories_by_their_first_digits() {
        let digest = Sha256Digest::of(b"evidence");
        let path = object_path(&digest).to_string();
        assert_eq!(
            path,
            format!("sha256/{}/{}", &digest.to_hex()[..2], digest.to_hex())
        );
    }

    #[test]
    fn s3_storage_is_built_from_settings_without_contacting_the_bucket() {
        let mut settings = EvidenceSettings {
            storage: EvidenceStorageKind::S3,
            ..EvidenceSettings::default()
        };
        settings.s3.bucket = "casebridge-evidence".into();
        settings.s3.endpoint = "http://127.0.0.1:9".into();
        settings.s3.allow_http = true;
        settings.s3.access_key_id = "AKIDEXAMPLE".into();
        settings.s3.secret_access_key =
            casebridge_platform::settings::Secret::new("wJalrXUtnFEMI/K7MDENG");
        settings.s3.prefix = "cb".into();
        let storage = Storage::open(&settings, FsPath::new("/nonexistent")).expect("S3 storage");
        assert_eq!(storage.describe(), "s3 bucket casebridge-evidence/cb");
        assert!(!format!("{storage:?}").contains("wJalrXUtnFEMI"));
    }

    #[tokio::test]
    async fn rechunking_joins_small_pieces_and_keeps_the_tail() {
        let pieces: Vec<Result<Bytes, StorageError>> = (0..100)
            .map(|i| Ok(Bytes::from(vec![i as u8; 8 * 1024 + 1])))
            .collect();
        let total: usize = 100 * (8 * 1024 + 1);
        let chunks: Vec<Bytes> = rechunk(futures_util::stream::iter(pieces).boxed())
            .map(|c| c.expect("chunk"))
            .collect()
            .await;
        assert!(
            chunks[..chunks.len() - 1]
                .iter()
                .all(|c| c.len() == READ_CHUNK)
        );
        assert_eq!(chunks.iter().map(Bytes::len).sum::<usize>(), total);
    }
}
