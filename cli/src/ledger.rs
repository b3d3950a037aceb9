//! `casebridge ledger …`: the full-process record. An operator verifies every service's chain
//! from the databases; anyone verifies a receipt offline with the operator's public key.

use std::path::PathBuf;

use anyhow::Context as _;
use casebridge_core::ledger::Receipt;
use casebridge_platform::ledger::{Chain, Verifier, VerifyError};
use casebridge_platform::settings::Settings;
use clap::Subcommand;

use crate::output;
use crate::system::RunArgs;

/// The services whose steps are on a chain.
pub const CHAINS: &[&str] = &[
    casebridge_referrals::SERVICE,
    casebridge_transfers::SERVICE,
    casebridge_disputes::SERVICE,
    casebridge_opinions::SERVICE,
    casebridge_penalties::SERVICE,
    casebridge_leads::SERVICE,
    casebridge_rectifications::SERVICE,
    casebridge_deadlines::SERVICE,
];

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Verify every service's chain in the databases the settings name, and the signed
    /// checkpoints; names the first bad record. Exits non-zero when a chain does not verify.
    Verify {
        #[command(flatten)]
        run: RunArgs,
        /// The operator's public key (hex); default the `.pub` beside `ledger.key`.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Only this service's chain.
        #[arg(long)]
        service: Option<String>,
    },
    /// Export a case's evidence bundle: its records, receipts, attachments and the chain proof
    /// up to a signed checkpoint, as one archive that `verify-bundle` checks offline.
    Export {
        #[command(flatten)]
        run: RunArgs,
        /// The case (any family).
        case_id: String,
        /// Where to write the bundle (a tar archive).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Check an evidence bundle offline with the operator's public key: the chain proof, the
    /// signatures, the receipts and every attachment's digest.
    VerifyBundle {
        #[command(flatten)]
        run: RunArgs,
        /// The bundle (from `ledger export`).
        bundle: PathBuf,
        /// The operator's public key file (hex); default the `.pub` beside `ledger.key` in the
        /// data directory (an auditor elsewhere passes the key the operator published).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Check a saved receipt (`--save-receipt`) against the operator's public key, offline.
    VerifyReceipt {
        #[command(flatten)]
        run: RunArgs,
        /// The receipt (JSON).
        receipt: PathBuf,
        /// The operator's public key file (hex); default the `.pub` beside `ledger.key` in the
        /// data directory (issue 15: the data-dir setting was ignored).
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

fn verifier(path: &std::path::Path) -> anyhow::Result<Verifier> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the public key {}", path.display()))?;
    Verifier::from_hex(&text).with_context(|| {
        format!(
            "{} is not an Ed25519 public key in hex (64 characters)",
            path.display()
        )
    })
}

/// The public key named by `--key`, or the one beside the settings' operator key.
fn key_or_default(run: &RunArgs, key: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match key {
        Some(key) => Ok(key),
        None => Ok(public_key_of(&run.settings()?)),
    }
}

fn public_key_of(settings: &Settings) -> PathBuf {
    settings
        .in_data_dir(&settings.ledger.key)
        .with_extension("pub")
}

pub async fn run(command: LedgerCommand) -> anyhow::Result<()> {
    match command {
        LedgerCommand::Export {
            run,
            case_id,
            output,
        } => export(&run.settings()?, &case_id, &output).await,
        LedgerCommand::VerifyBundle { run, bundle, key } => {
            let key = key_or_default(&run, key)?;
            let summary = verify_bundle_file(&bundle, &verifier(&key)?)?;
            let chains: Vec<serde_json::Value> = std::iter::once(serde_json::json!({
                "service": summary.service,
                "records": summary.records,
                "receipts": summary.receipts,
                "checkpoint": summary.checkpoint,
            }))
            .chain(summary.others.iter().map(|(service, other)| {
                serde_json::json!({
                    "service": service,
                    "records": other.records,
                    "receipts": other.receipts,
                    "checkpoint": other.checkpoint,
                })
            }))
            .collect();
            output::show_value(
                serde_json::json!({
                    "genuine": true,
                    "case_id": summary.case_id.to_string(),
                    "attachments": summary.attachments,
                    "chains": chains,
                }),
                || {
                    let mut text = format!(
                        "genuine: case {} on the {} chain: {} records, {} receipts, {} \
                         attachments, signed checkpoint at record {}\n",
                        summary.case_id,
                        summary.service,
                        summary.records,
                        summary.receipts,
                        summary.attachments,
                        summary.checkpoint
                    );
                    for (service, other) in &summary.others {
                        text.push_str(&format!(
                            "genuine: and on the {service} chain: {} records, {} receipts, \
                             signed checkpoint at record {}\n",
                            other.records, other.receipts, other.checkpoint
                        ));
                    }
                    text
                },
            );
            Ok(())
        }
        LedgerCommand::VerifyReceipt { run, receipt, key } => {
            let key = key_or_default(&run, key)?;
            let text = std::fs::read_to_string(&receipt)
                .with_context(|| format!("cannot read {}", receipt.display()))?;
            let parsed: Receipt = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a CaseBridge receipt", receipt.display()))?;
            if verifier(&key)?.receipt_is_genuine(&parsed) {
                output::show_value(
                    serde_json::json!({ "genuine": true, "receipt": &parsed }),
                    || {
                        format!(
                            "genuine: {} accepted {} step {} of case {} at {}, {} record {}..{}\n",
                            parsed.actor,
                            parsed.request_id,
                            parsed.step,
                            parsed.case_id,
                            parsed.accepted_at,
                            parsed.service,
                            parsed.first_seq,
                            parsed.last_seq
                        )
                    },
                );
                Ok(())
            } else {
                anyhow::bail!(
                    "NOT genuine: the signature does not match this receipt under key {} \
                     (a field was changed, or another key signed it)",
                    verifier(&key)?.key_id()
                )
            }
        }
        LedgerCommand::Verify { run, key, service } => {
            let settings = run.settings()?;
            let verifier = verifier(&key.unwrap_or_else(|| public_key_of(&settings)))?;
            let mut failures = 0;
            for name in CHAINS
                .iter()
                .filter(|n| service.as_deref().is_none_or(|s| s == **n))
            {
                let db = casebridge_platform::store::Db::connect(
                    &settings.store_url(name),
                    settings.store.max_connections,
                )
                .await
                .with_context(|| format!("cannot open the {name} store"))?;
                let spinner = output::spinner(&format!("verifying the {name} chain"));
                let verified = Chain::new(name).verify(&db, &verifier).await;
                spinner.finish_and_clear();
                match verified {
                    Ok(v) => output::show_value(
                        serde_json::json!({
                            "service": name,
                            "ok": true,
                            "records": v.records,
                            "checkpoints": v.checkpoints,
                            "last_checkpoint": v.last_checkpoint,
                        }),
                        || {
                            format!(
                                "{name}: ok, {} records, {} signed checkpoints{}\n",
                                v.records,
                                v.checkpoints,
                                v.last_checkpoint
                                    .map(|c| format!(" (last at record {c})"))
                                    .unwrap_or_default()
                            )
                        },
                    ),
                    Err(error) => {
                        failures += 1;
                        let said = match &error {
                            VerifyError::Chain(e) => format!("FAILED: {e}"),
                            VerifyError::Store(e) => format!("cannot be read: {e}"),
                        };
                        output::show_value(
                            serde_json::json!({ "service": name, "ok": false, "error": said }),
                            || format!("{name}: {said}\n"),
                        );
                    }
                }
                db.pool().close().await;
            }
            if failures > 0 {
                anyhow::bail!("{failures} chain(s) did not verify");
            }
            Ok(())
        }
    }
}

/// The manifest's name inside the archive (the case's own chain); the other chains that record
/// the case are `chains/<service>.json`, attachments `attachments/<sha256>`.
const MANIFEST: &str = "manifest.json";
const CHAINS_DIR: &str = "chains/";
const ATTACHMENTS: &str = "attachments/";

/// Writes the bundle of `case_id`: the first chain that records it (its family's) as the
/// manifest, and every other chain that records it (the deadlines service's warnings, misses,
/// escalations and extensions) beside it under `chains/`.
async fn export(
    settings: &Settings,
    case_id: &str,
    destination: &std::path::Path,
) -> anyhow::Result<()> {
    use casebridge_core::ids::{CaseId, Sha256Digest};
    use futures_util::StreamExt as _;

    let case_id =
        CaseId::parse(case_id).with_context(|| format!("{case_id:?} is not a case id"))?;
    let signer = crate::system::load_signer(settings)?;
    let now = casebridge_core::time::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let mut found = Vec::new();
    for name in CHAINS {
        let db = casebridge_platform::store::Db::connect(
            &settings.store_url(name),
            settings.store.max_connections,
        )
        .await
        .with_context(|| format!("cannot open the {name} store"))?;
        let bundle = Chain::new(name).export(&db, case_id, &signer, now).await;
        db.pool().close().await;
        if let Some(bundle) = bundle.with_context(|| format!("cannot read the {name} chain"))? {
            found.push(bundle);
        }
    }
    anyhow::ensure!(!found.is_empty(), "no chain records case {case_id}");
    let others = found.split_off(1);
    let mut bundle = found.remove(0);

    // The attachments every record references, once each, in order of first mention.
    let mut digests: Vec<Sha256Digest> = Vec::new();
    for record in bundle
        .records
        .iter()
        .chain(others.iter().flat_map(|b| &b.records))
    {
        let notice: casebridge_core::notice::Notice = serde_json::from_str(&record.body)
            .with_context(|| format!("record {} is not a notice", record.seq))?;
        for digest in notice.attachments {
            if !digests.contains(&digest) {
                digests.push(digest);
            }
        }
    }
    let storage =
        casebridge_evidence::storage::Storage::open(&settings.evidence, &settings.data_dir)
            .context("cannot open the evidence storage")?;
    let staging = tempfile::tempdir()?;
    for digest in &digests {
        let (size, mut stream) = storage
            .read(digest)
            .await
            .with_context(|| format!("cannot read attachment {digest}"))?;
        let path = staging.path().join(digest.to_hex());
        let mut file = tokio::fs::File::create(&path).await?;
        let progress = crate::evidence::progress(size, "bundling an attachment");
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await?;
            progress.inc(chunk.len() as u64);
        }
        progress.finish_and_clear();
        tokio::io::AsyncWriteExt::flush(&mut file).await?;
        bundle
            .attachments
            .push(casebridge_core::ledger::BundleAttachment {
                sha256: *digest,
                size,
            });
    }

    let file = std::fs::File::create(destination)
        .with_context(|| format!("cannot create {}", destination.display()))?;
    let mut archive = tar::Builder::new(std::io::BufWriter::new(file));
    let manifest = serde_json::to_vec_pretty(&bundle)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    archive.append_data(&mut header, MANIFEST, manifest.as_slice())?;
    for other in &others {
        let json = serde_json::to_vec_pretty(other)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append_data(
            &mut header,
            format!("{CHAINS_DIR}{}.json", other.service),
            json.as_slice(),
        )?;
    }
    for digest in &digests {
        let path = staging.path().join(digest.to_hex());
        archive.append_path_with_name(&path, format!("{ATTACHMENTS}{}", digest.to_hex()))?;
    }
    archive
        .into_inner()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    let chains: Vec<serde_json::Value> = std::iter::once(&bundle)
        .chain(&others)
        .map(|b| {
            serde_json::json!({
                "service": b.service,
                "records": b.records.len(),
                "receipts": b.receipts.len(),
                "checkpoint": b.checkpoint.seq,
            })
        })
        .collect();
    output::show_value(
        serde_json::json!({
            "case_id": case_id.to_string(),
            "bundle": destination.display().to_string(),
            "attachments": bundle.attachments.len(),
            "chains": chains,
        }),
        || {
            let mut text = format!(
                "bundle of {} {case_id}: {} records, {} receipts, {} attachments, checkpoint at \
                 record {} -> {}\n",
                bundle.service,
                bundle.records.len(),
                bundle.receipts.len(),
                bundle.attachments.len(),
                bundle.checkpoint.seq,
                destination.display()
            );
            for other in &others {
                text.push_str(&format!(
                    "  and {} records on the {} chain, checkpoint at record {}\n",
                    other.records.len(),
                    other.service,
                    other.checkpoint.seq
                ));
            }
            text
        },
    );
    Ok(())
}

/// What a checked bundle file holds.
#[derive(Debug)]
pub struct BundleCheck {
    pub case_id: casebridge_core::ids::CaseId,
    pub service: String,
    pub records: usize,
    pub receipts: usize,
    pub attachments: usize,
    pub checkpoint: u64,
    /// The other chains that record the case: service and what was checked there.
    pub others: Vec<(String, casebridge_platform::ledger::BundleSummary)>,
}

/// Checks a bundle archive: the manifest first, then each attachment streamed through SHA-256,
/// so memory does not grow with the files.
pub fn verify_bundle_file(
    path: &std::path::Path,
    verifier: &Verifier,
) -> anyhow::Result<BundleCheck> {
    use sha2::Digest as _;

    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let mut entries = archive.entries().context("not a bundle archive")?;
    let mut first = entries
        .next()
        .context("the bundle is empty")?
        .context("the bundle archive is damaged")?;
    anyhow::ensure!(
        first.path()?.to_string_lossy() == MANIFEST,
        "the bundle does not start with {MANIFEST}"
    );
    let mut text = String::new();
    std::io::Read::read_to_string(&mut first, &mut text)?;
    let bundle: casebridge_core::ledger::Bundle =
        serde_json::from_str(&text).context("the manifest is not a CaseBridge bundle")?;
    let summary = casebridge_platform::ledger::verify_bundle(&bundle, verifier)
        .map_err(|e| anyhow::anyhow!("NOT genuine: {e}"))?;
    referenced_attachments_are_listed(&bundle, &bundle)?;
    let mut seen = Vec::new();
    let mut others = Vec::new();
    for entry in entries {
        let mut entry = entry.context("the bundle archive is damaged")?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if name.starts_with(CHAINS_DIR) {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text)?;
            let other: casebridge_core::ledger::Bundle = serde_json::from_str(&text)
                .with_context(|| format!("NOT genuine: {name} is not a CaseBridge bundle"))?;
            anyhow::ensure!(
                other.case_id == bundle.case_id,
                "NOT genuine: {name} is about case {}, not {}",
                other.case_id,
                bundle.case_id
            );
            anyhow::ensure!(
                other.service != bundle.service && !others.iter().any(|(s, _)| *s == other.service),
                "NOT genuine: the {} chain is in the bundle twice",
                other.service
            );
            let summary = casebridge_platform::ledger::verify_bundle(&other, verifier)
                .map_err(|e| anyhow::anyhow!("NOT genuine: the {} chain: {e}", other.service))?;
            referenced_attachments_are_listed(&other, &bundle)?;
            others.push((other.service, summary));
            continue;
        }
        let hex_digest = name
            .strip_prefix(ATTACHMENTS)
            .with_context(|| format!("NOT genuine: unexpected file {name} in the bundle"))?
            .to_owned();
        let mut hasher = sha2::Sha256::new();
        let size = std::io::copy(&mut entry, &mut hasher)?;
        let actual = hex::encode(hasher.finalize());
        let listed = bundle
            .attachments
            .iter()
            .find(|a| a.sha256.to_hex() == hex_digest)
            .with_context(|| {
                format!("NOT genuine: attachment {hex_digest} is not in the manifest")
            })?;
        anyhow::ensure!(
            actual == hex_digest && size == listed.size,
            "NOT genuine: attachment {hex_digest} holds other content (its SHA-256 is {actual}, \
             {size} bytes)"
        );
        seen.push(hex_digest);
    }
    if let Some(missing) = bundle
        .attachments
        .iter()
        .find(|a| !seen.contains(&a.sha256.to_hex()))
    {
        anyhow::bail!(
            "NOT genuine: attachment {} is listed but missing",
            missing.sha256
        );
    }
    Ok(BundleCheck {
        case_id: bundle.case_id,
        service: bundle.service.clone(),
        records: summary.records,
        receipts: summary.receipts,
        attachments: seen.len(),
        checkpoint: summary.checkpoint,
        others,
    })
}

/// Every file a record of `chain` references must be listed in the bundle's `manifest`.
fn referenced_attachments_are_listed(
    chain: &casebridge_core::ledger::Bundle,
    manifest: &casebridge_core::ledger::Bundle,
) -> anyhow::Result<()> {
    for record in &chain.records {
        let notice: casebridge_core::notice::Notice = serde_json::from_str(&record.body)
            .map_err(|_| anyhow::anyhow!("NOT genuine: record {} is not a notice", record.seq))?;
        if let Some(digest) = notice
            .attachments
            .iter()
            .find(|d| !manifest.attachments.iter().any(|a| a.sha256 == **d))
        {
            anyhow::bail!(
                "NOT genuine: record {} of the {} chain references attachment {digest}, which \
                 the bundle does not list",
                record.seq,
                chain.service
            );
        }
    }
    Ok(())
}
