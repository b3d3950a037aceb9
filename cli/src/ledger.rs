//! `casebridge ledger …`: the full-process record. An operator verifies every service's chain
//! from the databases; anyone verifies a receipt offline with the operator's public key.

use std::path::PathBuf;

use anyhow::Context as _;
use casebridge_core::ledger::Receipt;
use casebridge_platform::ledger::{Chain, Verifier, VerifyError};
use casebridge_platform::settings::Settings;
use clap::Subcommand;

use crate::RunArgs;

/// The services whose steps are on a chain.
pub const CHAINS: &[&str] = &[
    casebridge_referrals::SERVICE,
    casebridge_transfers::SERVICE,
    casebridge_disputes::SERVICE,
    casebridge_opinions::SERVICE,
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
    /// Check a saved receipt (`--save-receipt`) against the operator's public key, offline.
    VerifyReceipt {
        /// The receipt (JSON).
        receipt: PathBuf,
        /// The operator's public key file (hex), e.g. `.casebridge/ledger/operator.pub`.
        #[arg(long)]
        key: PathBuf,
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

fn public_key_of(settings: &Settings) -> PathBuf {
    settings
        .in_data_dir(&settings.ledger.key)
        .with_extension("pub")
}

pub async fn run(command: LedgerCommand) -> anyhow::Result<()> {
    match command {
        LedgerCommand::VerifyReceipt { receipt, key } => {
            let text = std::fs::read_to_string(&receipt)
                .with_context(|| format!("cannot read {}", receipt.display()))?;
            let parsed: Receipt = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a CaseBridge receipt", receipt.display()))?;
            if verifier(&key)?.receipt_is_genuine(&parsed) {
                println!(
                    "genuine: {} accepted {} step {} of case {} at {}, {} record {}..{}",
                    parsed.actor,
                    parsed.request_id,
                    parsed.step,
                    parsed.case_id,
                    parsed.accepted_at,
                    parsed.service,
                    parsed.first_seq,
                    parsed.last_seq
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
                match Chain::new(name).verify(&db, &verifier).await {
                    Ok(v) => println!(
                        "{name}: ok, {} records, {} signed checkpoints{}",
                        v.records,
                        v.checkpoints,
                        v.last_checkpoint
                            .map(|c| format!(" (last at record {c})"))
                            .unwrap_or_default()
                    ),
                    Err(VerifyError::Chain(e)) => {
                        failures += 1;
                        println!("{name}: FAILED: {e}");
                    }
                    Err(VerifyError::Store(e)) => {
                        failures += 1;
                        println!("{name}: cannot be read: {e}");
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
