//! Documents and parties: what every family's steps carry.
//!
//! A [`Document`] names a paper of the case (a referral letter, an opinion, minutes); its file,
//! when there is one, travels separately as an evidence attachment addressed by SHA-256. A
//! [`Party`] is a person or entity the case is about; its name and identity number are
//! [`PersonalData`] and never reach logs.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::Sha256Digest;
use crate::personal::PersonalData;

/// The kinds of document CaseBridge knows. The first six are the referral package of S1 Art 6;
/// the others are the papers of the later steps and of the other families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 涉嫌犯罪案件移送书 (S1 Art 6 item 1).
    ReferralLetter,
    /// 调查报告 (S1 Art 6 item 2).
    InvestigationReport,
    /// 涉案物品清单 (S1 Art 6 item 3).
    SeizedItemsList,
    /// 检验报告 / 鉴定意见 (S1 Art 6 item 4, where items were tested).
    TestReport,
    /// 行政处罚决定书, when a penalty was already imposed [V2 S24].
    PenaltyDecision,
    /// Other materials (S1 Art 6 item 5).
    Other,
    /// 案件移送函: the letter that transfers a case between administrative agencies (S4 Art 17).
    TransferLetter,
    /// 证据材料: evidence gathered by the sender (S4 Art 23).
    Evidence,
    /// 立案 / 不予立案 / 复议 decisions and similar formal decisions of a step.
    Decision,
    /// 协商纪要: minutes of an agreement between disputing agencies (S4 Art 13).
    Minutes,
    /// 指定管辖决定书: the designation of the competent agency (S4 Art 16).
    Designation,
    /// 认定意见 / 检验报告 / 鉴定意见 delivered by an expert department (S4 Art 45; S15).
    Opinion,
    /// 移交清单: the receipt list of seized items handed over after filing (S1 Art 12).
    HandoverList,
}

impl DocumentKind {
    /// Every kind, in declaration order.
    pub const ALL: [DocumentKind; 13] = [
        DocumentKind::ReferralLetter,
        DocumentKind::InvestigationReport,
        DocumentKind::SeizedItemsList,
        DocumentKind::TestReport,
        DocumentKind::PenaltyDecision,
        DocumentKind::Other,
        DocumentKind::TransferLetter,
        DocumentKind::Evidence,
        DocumentKind::Decision,
        DocumentKind::Minutes,
        DocumentKind::Designation,
        DocumentKind::Opinion,
        DocumentKind::HandoverList,
    ];

    /// The snake_case name, as in serde.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::ReferralLetter => "referral_letter",
            DocumentKind::InvestigationReport => "investigation_report",
            DocumentKind::SeizedItemsList => "seized_items_list",
            DocumentKind::TestReport => "test_report",
            DocumentKind::PenaltyDecision => "penalty_decision",
            DocumentKind::Other => "other",
            DocumentKind::TransferLetter => "transfer_letter",
            DocumentKind::Evidence => "evidence",
            DocumentKind::Decision => "decision",
            DocumentKind::Minutes => "minutes",
            DocumentKind::Designation => "designation",
            DocumentKind::Opinion => "opinion",
            DocumentKind::HandoverList => "handover_list",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(name: &str) -> Option<DocumentKind> {
        DocumentKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The legal name in Chinese.
    pub fn label_zh(self) -> &'static str {
        match self {
            DocumentKind::ReferralLetter => "涉嫌犯罪案件移送书",
            DocumentKind::InvestigationReport => "调查报告",
            DocumentKind::SeizedItemsList => "涉案物品清单",
            DocumentKind::TestReport => "检验报告/鉴定意见",
            DocumentKind::PenaltyDecision => "行政处罚决定书",
            DocumentKind::Other => "其他材料",
            DocumentKind::TransferLetter => "案件移送函",
            DocumentKind::Evidence => "证据材料",
            DocumentKind::Decision => "决定书",
            DocumentKind::Minutes => "协商纪要",
            DocumentKind::Designation => "指定管辖决定书",
            DocumentKind::Opinion => "认定/检验/鉴定意见",
            DocumentKind::HandoverList => "移交清单",
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One document of a step; the content travels separately, identified by its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// What the document is.
    pub kind: DocumentKind,
    /// Its title, 1 to 256 characters (`Document.title` in common.proto).
    pub title: String,
    /// SHA-256 of the content, when the content was uploaded.
    pub sha256: Option<Sha256Digest>,
}

/// A suspect, person or entity the case is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Name of the person or entity.
    pub name: PersonalData,
    /// Identity document number or agency code of an entity, if known.
    pub id_number: Option<PersonalData>,
}

/// The attachment digests of `documents`, for a notice's `attachments`.
pub fn digests(documents: &[Document]) -> Vec<Sha256Digest> {
    documents.iter().filter_map(|d| d.sha256).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name_and_serde() {
        for kind in DocumentKind::ALL {
            assert_eq!(DocumentKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(DocumentKind::parse("letter"), None);
    }
}
