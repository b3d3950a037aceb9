//! Issue 17: a running system backed up with `deploy/backup.sh`, lost, restored with
//! `deploy/restore.sh` into a fresh database and a fresh data directory, started on the copy:
//! every chain verifies, the case goes on where it stopped, and its evidence file is still
//! there. On RabbitMQ + PostgreSQL (the restored system on a new bus namespace, as after losing
//! the broker too) and on the embedded default.

use std::ffi::OsStr;
use std::time::Duration;

use casebridge_platform::testing::{self, eventually};
use casebridge_proto::v1 as pb;
use casebridge_tests::agencies::*;
use casebridge_tests::{System, casebridge_bin, submission, workspace_root};

const WAIT: Duration = Duration::from_secs(20);

async fn download(system: &System, agency: &str, sha256: &str) -> anyhow::Result<Vec<u8>> {
    use pb::download_evidence_response::Part;
    let mut stream = system
        .evidence(agency)
        .await?
        .download_evidence(pb::DownloadEvidenceRequest {
            sha256: sha256.into(),
        })
        .await?
        .into_inner();
    let mut content = Vec::new();
    while let Some(message) = stream.message().await? {
        if let Some(Part::Chunk(chunk)) = message.part {
            content.extend_from_slice(&chunk.data);
        }
    }
    Ok(content)
}

fn said(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A referral with an attached file, its receipt signed: what the backup must keep.
struct Before {
    referral_id: String,
    digest: String,
    content: Vec<u8>,
}

async fn open_a_case_and_take_a_step(system: &System) -> anyhow::Result<Before> {
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let digest = system.upload(MARKET_BUREAU, &content).await?;
    let mut request = submission("backup-1");
    request.documents[1].sha256 = digest.clone();
    let referral = system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(request)
        .await?
        .into_inner()
        .referral
        .expect("referral");
    system
        .referrals(CITY_POLICE)
        .await?
        .sign_receipt(pb::SignReceiptRequest {
            request_id: "backup-receipt".into(),
            referral_id: referral.id.clone(),
        })
        .await?;
    // The consumers have caught up (docs/operations.md, "What a backup holds"): the agency
    // heard of the receipt, and the police may read the file.
    eventually("the agency told of the receipt", WAIT, || async {
        let events = system
            .events_about(MARKET_BUREAU, &referral.id)
            .await
            .ok()?;
        events.iter().any(|e| e == "receipt_signed").then_some(())
    })
    .await;
    eventually("the police may read the file", WAIT, || async {
        download(system, CITY_POLICE, &digest).await.ok()
    })
    .await;
    Ok(Before {
        referral_id: referral.id,
        digest,
        content,
    })
}

/// Backs `system` up into `out` with deploy/backup.sh, as an operator would, from the
/// settings the system runs with.
async fn back_up(system: &System, out: &std::path::Path) -> anyhow::Result<()> {
    let script = workspace_root().join("deploy/backup.sh");
    let output = system
        .run_with_settings(&script, &[out.as_os_str()])
        .await?;
    assert!(output.status.success(), "backup failed: {}", said(&output));
    assert!(out.join("SHA256SUMS").is_file(), "{}", said(&output));
    assert!(out.join("data/ledger/operator.key").is_file());
    assert!(out.join("data/ledger/operator.pub").is_file());
    assert!(out.join("data/pki/ca.pem").is_file());
    assert!(out.join("data/directory.toml").is_file());
    Ok(())
}

/// Restores `backup` with deploy/restore.sh into `dir` (and `database`, when given), which
/// verifies the copy itself with `casebridge ledger verify`.
async fn restore(
    backup: &std::path::Path,
    dir: &std::path::Path,
    database: Option<&str>,
) -> anyhow::Result<()> {
    let mut restore = tokio::process::Command::new(workspace_root().join("deploy/restore.sh"));
    restore
        .arg("--data-dir")
        .arg(dir)
        .arg("--casebridge")
        .arg(casebridge_bin())
        .arg(backup)
        .env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("CASEBRIDGE__") {
            restore.env_remove(key);
        }
    }
    if let Some(url) = database {
        restore.arg("--database-url").arg(url);
    }
    let output = restore.output().await?;
    let text = said(&output);
    assert!(output.status.success(), "restore failed: {text}");
    assert!(text.contains("referrals: ok"), "restore verified: {text}");
    Ok(())
}

async fn the_restored_case_goes_on(system: &System, before: &Before) -> anyhow::Result<()> {
    // Every chain genuine, on the restored copy as it now runs.
    let verified = system.cli(&["ledger", "verify"]).await?;
    let text = said(&verified);
    assert!(verified.status.success(), "every chain verifies: {text}");
    for chain in [
        "referrals",
        "transfers",
        "disputes",
        "opinions",
        "deadlines",
    ] {
        assert!(text.contains(&format!("{chain}: ok")), "{chain}: {text}");
    }
    assert!(!text.contains("FAILED"), "{text}");

    // The next step of the case: the police decide to file it.
    let filed = system
        .referrals(CITY_POLICE)
        .await?
        .decide_filing(pb::DecideFilingRequest {
            request_id: "backup-decide".into(),
            referral_id: before.referral_id.clone(),
            decision: Some(pb::decide_filing_request::Decision::File(pb::FileCase {
                note: "立案侦查".into(),
            })),
        })
        .await?
        .into_inner()
        .referral
        .expect("referral");
    assert_eq!(filed.status, pb::ReferralStatus::Filed as i32);
    assert_eq!(filed.version, 3, "submitted, receipt, filed");

    // A retry of the step taken before the backup is still recognised as one.
    let replayed = system
        .referrals(CITY_POLICE)
        .await?
        .sign_receipt(pb::SignReceiptRequest {
            request_id: "backup-receipt".into(),
            referral_id: before.referral_id.clone(),
        })
        .await?
        .into_inner();
    assert!(replayed.replayed, "the stored reply, not a second receipt");

    // The attached file came back with the rest.
    let content = download(system, CITY_POLICE, &before.digest).await?;
    assert!(content == before.content, "the police read other bytes");

    // The agency hears of the filing, on the restored system's own bus.
    eventually("the agency told of the filing", WAIT, || async {
        let events = system
            .events_about(MARKET_BUREAU, &before.referral_id)
            .await
            .ok()?;
        events.iter().any(|e| e == "filed").then_some(())
    })
    .await;
    let verified = system.cli(&["ledger", "verify"]).await?;
    assert!(verified.status.success(), "{}", said(&verified));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_system_on_postgresql_is_backed_up_restored_and_goes_on() -> anyhow::Result<()> {
    let system = System::distributed().await?;
    let before = open_a_case_and_take_a_step(&system).await?;
    let backups = tempfile::tempdir()?;
    let backup = backups.path().join("casebridge-backup");
    back_up(&system, &backup).await?;
    assert!(backup.join("database.dump").is_file());
    // Lost: the processes, the database, the queues and the data directory.
    system.stop().await?;

    let database = testing::fresh_postgres().await?;
    let dir = tempfile::tempdir()?;
    if let Err(e) = restore(&backup, dir.path(), Some(&database)).await {
        testing::drop_postgres(&database).await?;
        return Err(e);
    }
    let restored = System::distributed_restored(dir, database).await?;
    the_restored_case_goes_on(&restored, &before).await?;
    restored.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_embedded_system_is_backed_up_restored_and_goes_on() -> anyhow::Result<()> {
    let system = System::embedded().await?;
    let before = open_a_case_and_take_a_step(&system).await?;
    let backups = tempfile::tempdir()?;
    let backup = backups.path().join("casebridge-backup");
    back_up(&system, &backup).await?;
    assert!(backup.join("sqlite/referrals.db").is_file());
    assert!(backup.join("sqlite/bus.db").is_file());
    system.stop().await?;

    let dir = tempfile::tempdir()?;
    restore(&backup, dir.path(), None).await?;
    let restored = System::embedded_restored(dir).await?;
    the_restored_case_goes_on(&restored, &before).await?;
    restored.stop().await
}

/// The scripts refuse what would lose data: a second backup over a first, and a restore over
/// a data directory that is not empty.
#[tokio::test]
async fn backup_and_restore_refuse_to_overwrite() -> anyhow::Result<()> {
    let system = System::embedded().await?;
    let backups = tempfile::tempdir()?;
    let backup = backups.path().join("casebridge-backup");
    back_up(&system, &backup).await?;
    let again = system
        .run_with_settings(
            &workspace_root().join("deploy/backup.sh"),
            &[backup.as_os_str()],
        )
        .await?;
    assert!(!again.status.success());
    assert!(said(&again).contains("already exists"), "{}", said(&again));

    let over = system
        .run_with_settings(
            &workspace_root().join("deploy/restore.sh"),
            &[
                OsStr::new("--data-dir"),
                system.data_dir().as_os_str(),
                backup.as_os_str(),
            ],
        )
        .await?;
    assert!(!over.status.success());
    assert!(said(&over).contains("is not empty"), "{}", said(&over));

    // A copy damaged after it was taken is refused before anything is restored.
    std::fs::write(backup.join("data/directory.toml"), "tampered")?;
    let fresh = tempfile::tempdir()?;
    let damaged = system
        .run_with_settings(
            &workspace_root().join("deploy/restore.sh"),
            &[
                OsStr::new("--data-dir"),
                fresh.path().as_os_str(),
                OsStr::new("--no-verify"),
                backup.as_os_str(),
            ],
        )
        .await?;
    assert!(!damaged.status.success());
    assert!(
        said(&damaged).contains("does not match its SHA256SUMS"),
        "{}",
        said(&damaged)
    );
    assert!(!fresh.path().join("referrals.db").exists());
    system.stop().await
}
