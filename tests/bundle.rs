//! A case's evidence bundle end to end, on the embedded default and on RabbitMQ + PostgreSQL: an
//! agency refers a case with an attached photo, the police miss the receipt deadline (a test
//! rule table makes it due at once), then receipt and file it; the operator exports the bundle,
//! which holds the referral chain and the deadlines chain's miss and escalation, and checks
//! offline with the public key alone — and fails, naming what, when a record of either chain,
//! an attachment or the list of attachments is tampered with.

use std::path::{Path, PathBuf};

use casebridge_platform::testing::eventually;
use casebridge_proto::v1 as pb;
use casebridge_tests::agencies::*;
use casebridge_tests::{System, immediate_receipt_rules, submission};

/// Writes a copy of the bundle at `from` to `to`, passing every file through `edit` (name,
/// content) → new content, or `None` to leave the file out.
fn rewrite(from: &Path, to: &Path, edit: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>) {
    let mut archive = tar::Archive::new(std::fs::File::open(from).expect("bundle"));
    let mut out = tar::Builder::new(std::fs::File::create(to).expect("copy"));
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").to_string_lossy().into_owned();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).expect("read");
        if let Some(content) = edit(&name, content) {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            out.append_data(&mut header, &name, content.as_slice())
                .expect("write");
        }
    }
    out.finish().expect("finish");
}

async fn verify(system: &System, bundle: &Path) -> anyhow::Result<(bool, String)> {
    let key = system.data_dir().join("ledger").join("operator.pub");
    let out = system
        .cli(&[
            "ledger",
            "verify-bundle",
            &bundle.display().to_string(),
            "--key",
            &key.display().to_string(),
        ])
        .await?;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

async fn a_bundle_checks_offline_and_names_tampering(system: &System) -> anyhow::Result<()> {
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let digest = system.upload(MARKET_BUREAU, &photo).await?;
    let mut request = submission("b-submit");
    request.documents.push(pb::Document {
        kind: pb::DocumentKind::Evidence.into(),
        title: "现场照片".into(),
        sha256: digest.clone(),
    });
    let id = system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(request)
        .await?
        .into_inner()
        .referral
        .expect("referral")
        .id;
    // The receipt is due at once: the miss and the escalation are on the deadlines chain.
    eventually(
        "the escalation in the procuratorate's inbox",
        std::time::Duration::from_secs(30),
        || async {
            let entries = system.inbox_entries(PROCURATORATE).await.ok()?;
            entries
                .iter()
                .any(|e| e.case_id == id && e.event == "deadline_escalated")
                .then_some(())
        },
    )
    .await;
    let mut police = system.referrals(CITY_POLICE).await?;
    police
        .sign_receipt(pb::SignReceiptRequest {
            request_id: "b-receipt".into(),
            referral_id: id.clone(),
        })
        .await?;
    police
        .decide_filing(pb::DecideFilingRequest {
            request_id: "b-file".into(),
            referral_id: id.clone(),
            decision: Some(pb::decide_filing_request::Decision::File(pb::FileCase {
                note: String::new(),
            })),
        })
        .await?;

    let bundle: PathBuf = system.data_dir().join("bundle.tar");
    let exported = system
        .cli(&["ledger", "export", &id, "-o", &bundle.display().to_string()])
        .await?;
    assert!(
        exported.status.success(),
        "{}{}",
        String::from_utf8_lossy(&exported.stdout),
        String::from_utf8_lossy(&exported.stderr)
    );
    let (ok, said) = verify(system, &bundle).await?;
    assert!(ok, "{said}");
    assert!(
        said.contains("3 records, 3 receipts, 1 attachments"),
        "{said}"
    );
    assert!(
        said.contains("on the deadlines chain: 2 records, 0 receipts"),
        "{said}"
    );

    // A changed deadline record breaks the deadlines chain's proof, and says which chain.
    let forged = system.data_dir().join("forged-deadline.tar");
    rewrite(&bundle, &forged, |name, content| {
        Some(if name == "chains/deadlines.json" {
            String::from_utf8(content)
                .expect("utf-8")
                .replacen("is overdue", "was on time", 1)
                .into_bytes()
        } else {
            content
        })
    });
    let (ok, said) = verify(system, &forged).await?;
    assert!(
        !ok && said.contains("the deadlines chain") && said.contains("signed checkpoint"),
        "{said}"
    );

    // A changed event body breaks the chain proof.
    let forged = system.data_dir().join("forged-record.tar");
    rewrite(&bundle, &forged, |name, content| {
        Some(if name == "manifest.json" {
            String::from_utf8(content)
                .expect("utf-8")
                .replacen("signed the receipt", "declined the case", 1)
                .into_bytes()
        } else {
            content
        })
    });
    let (ok, said) = verify(system, &forged).await?;
    assert!(
        !ok && said.contains("does not reach the signed checkpoint"),
        "{said}"
    );

    // A changed byte of the photo is named.
    let forged = system.data_dir().join("forged-photo.tar");
    rewrite(&bundle, &forged, |name, mut content| {
        if name.starts_with("attachments/") {
            content[1000] ^= 1;
        }
        Some(content)
    });
    let (ok, said) = verify(system, &forged).await?;
    assert!(
        !ok && said.contains(&format!("attachment {digest} holds other content")),
        "{said}"
    );

    // A missing photo is named.
    let forged = system.data_dir().join("forged-missing.tar");
    rewrite(&bundle, &forged, |name, content| {
        (!name.starts_with("attachments/")).then_some(content)
    });
    let (ok, said) = verify(system, &forged).await?;
    assert!(!ok && said.contains("is listed but missing"), "{said}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_bundle_checks_offline_on_the_embedded_default() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let system = System::embedded_with(immediate_receipt_rules(dir.path())?, "info").await?;
    a_bundle_checks_offline_and_names_tampering(&system).await?;
    system.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_bundle_checks_offline_on_rabbitmq_and_postgres() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let system = System::distributed_with(immediate_receipt_rules(dir.path())?, "info").await?;
    a_bundle_checks_offline_and_names_tampering(&system).await?;
    system.stop().await
}
