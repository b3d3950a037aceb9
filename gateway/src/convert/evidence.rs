//! Evidence messages (evidence.proto): upload metadata, digests, stored files.

use casebridge_core::ids::Sha256Digest;
use casebridge_evidence::api::Attachment;
use casebridge_proto::v1 as pb;

use super::{Violations, optional, timestamp};

/// The longest file name an upload may give.
pub const MAX_FILE_NAME: usize = 255;
/// The longest media type an upload may give.
pub const MAX_CONTENT_TYPE: usize = 127;
/// The media type of an upload that gives none.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// What an uploader declares about its file, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadMetadata {
    pub file_name: String,
    pub content_type: String,
    /// The exact number of bytes the stream will hold.
    pub size: u64,
    /// The digest the uploader expects, if it said.
    pub sha256: Option<Sha256Digest>,
}

/// An upload's first message. A size above `max_size` is refused here, before any byte is
/// read: INVALID_ARGUMENT on `metadata.size` naming the limit (not RESOURCE_EXHAUSTED: the limit
/// is a fixed property of the deployment, so a retry never succeeds).
pub fn upload_metadata(
    metadata: pb::EvidenceMetadata,
    max_size: u64,
) -> Result<UploadMetadata, Violations> {
    let pb::EvidenceMetadata {
        file_name,
        content_type,
        size,
        sha256,
    } = metadata;
    let mut v = Violations::default();
    if file_name.chars().count() > MAX_FILE_NAME
        || file_name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        v.add(
            "metadata.file_name",
            format!(
                "metadata.file_name must be at most {MAX_FILE_NAME} characters, without path \
                 separators or control characters"
            ),
        );
    }
    if content_type.len() > MAX_CONTENT_TYPE || !content_type.chars().all(|c| c.is_ascii_graphic())
    {
        v.add(
            "metadata.content_type",
            format!(
                "metadata.content_type must be a media type such as image/jpeg: at most \
                 {MAX_CONTENT_TYPE} printable ASCII characters without spaces"
            ),
        );
    }
    if size > max_size {
        v.add(
            "metadata.size",
            format!(
                "metadata.size is {size} bytes, more than this gateway's limit of {max_size} \
                 bytes ({}, setting evidence.max_size)",
                casebridge_platform::settings::format_size(max_size)
            ),
        );
    }
    let sha256 = optional(&sha256).and_then(|raw| v.sha256("metadata.sha256", raw));
    let content_type = if content_type.is_empty() {
        DEFAULT_CONTENT_TYPE.to_owned()
    } else {
        content_type
    };
    v.finish(Some(UploadMetadata {
        file_name,
        content_type,
        size,
        sha256,
    }))
}

/// A required digest field, e.g. `sha256` of GetEvidenceRequest.
pub fn digest(field: &str, raw: &str) -> Result<Sha256Digest, Violations> {
    let mut v = Violations::default();
    let digest = v.sha256(field, raw);
    v.finish(digest)
}

/// A stored file for a reader.
pub fn evidence(a: &Attachment) -> pb::Evidence {
    pb::Evidence {
        sha256: a.digest.to_hex(),
        size: a.size,
        content_type: a.content_type.clone(),
        file_name: a.file_name.clone(),
        first_uploaded_at: Some(timestamp(a.first_uploaded_at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_metadata_over_the_limit_is_refused_naming_the_limit() {
        let metadata = pb::EvidenceMetadata {
            file_name: "现场视频.mp4".into(),
            content_type: String::new(),
            size: 3 << 30,
            sha256: String::new(),
        };
        let violations = upload_metadata(metadata.clone(), 2 << 30).expect_err("too large");
        assert_eq!(violations.list[0].0, "metadata.size");
        assert!(
            violations.list[0].1.contains("2147483648 bytes (2GiB"),
            "{}",
            violations.list[0].1
        );
        let fine = upload_metadata(metadata, 4 << 30).expect("within the limit");
        assert_eq!(fine.content_type, DEFAULT_CONTENT_TYPE);
        assert_eq!(fine.sha256, None);
    }

    #[test]
    fn upload_metadata_names_each_malformed_field() {
        let violations = upload_metadata(
            pb::EvidenceMetadata {
                file_name: "../etc/passwd".into(),
                content_type: "image jpeg".into(),
                size: 1,
                sha256: "ABC".into(),
            },
            10,
        )
        .expect_err("malformed");
        let fields: Vec<&str> = violations.list.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "metadata.file_name",
                "metadata.content_type",
                "metadata.sha256"
            ]
        );
    }
}
