//! `casebridge case timeline`: every step of a case of any family, with the signed receipt of
//! each, for its parties.

use casebridge_proto::v1 as pb;
use clap::Subcommand;

use crate::client::{Connection, enum_name};

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Every step of a case with actor, time, documents and receipts (parties only).
    Timeline {
        #[command(flatten)]
        connection: Connection,
        case_id: String,
    },
}

/// A readable timeline.
pub fn describe(t: &pb::CaseTimeline) -> String {
    let mut text = format!(
        "{} {}\n  status: {}\n  {}\n  parties:\n",
        t.family, t.case_id, t.status, t.headline
    );
    for p in &t.parties {
        let role = pb::PartyRole::try_from(p.role)
            .map(|r| enum_name(r.as_str_name(), "PARTY_ROLE_"))
            .unwrap_or_default();
        let role = if role == "unspecified" {
            "former".into()
        } else {
            role
        };
        text.push_str(&format!("    {:<13} {} {}\n", role, p.agency, p.name));
    }
    text.push_str("  steps:\n");
    for s in &t.steps {
        let Some(e) = &s.entry else { continue };
        let at = e
            .at
            .as_ref()
            .map(|t| casebridge_core::time::Timestamp::from_millis(t.seconds * 1000).to_rfc3339())
            .unwrap_or_default();
        text.push_str(&format!("    {at}  {:<24} {}", e.step, s.actor_name));
        if !e.note.is_empty() {
            text.push_str(&format!(": {}", e.note));
        }
        text.push('\n');
        for d in &e.documents {
            text.push_str(&format!("        document: {}\n", d.title));
        }
    }
    // The ledger proof: each step's signed receipt, checkable offline (`ledger verify-receipt`).
    if !t.receipts.is_empty() {
        text.push_str("  receipts:\n");
    }
    for r in &t.receipts {
        text.push_str(&format!(
            "    {:<24} {} record {}..{} chain {} key {}\n",
            r.step, r.service, r.first_seq, r.last_seq, r.chain_hash, r.key_id
        ));
    }
    text
}

pub async fn run(command: CaseCommand) -> anyhow::Result<()> {
    match command {
        CaseCommand::Timeline {
            connection,
            case_id,
        } => {
            let timeline = connection
                .connect()
                .await?
                .cases
                .get_timeline(pb::GetTimelineRequest { case_id })
                .await
                .map_err(crate::client::rpc)?
                .into_inner();
            crate::output::show(&timeline, describe)
        }
    }
}
