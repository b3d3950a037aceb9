//! The penalty-case record (行政处罚案件信息): what an administrative agency records of each case
//! it closes with a penalty (有案必录), in versions. A correction is a new version that names the
//! version it supersedes and why; no version is ever changed or dropped, so what was recorded
//! first stays readable beside what replaced it.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Measures, ScreeningPolicy};
use crate::calendar::{Calendar, cst_date, start_of_day};
use crate::case::{self, ITEMS_MAX, Rejection, TEXT_MAX_CHARS, TITLE_MAX_CHARS, invalid, text};
use crate::deadline::compute_due;
use crate::directory::{Agency, AgencyKind};
use crate::document::Party;
use crate::ids::{AgencyCode, CaseId, Sha256Digest};
use crate::time::Timestamp;

/// The legal basis of recording penalty cases: no case that should be referred may be settled
/// with a penalty (S1 Arts 3, 11; notices/003 三(三): 有案必录).
pub const RECORD_BASIS: &str = "S1 Arts 3, 11; notices/003 三(三)";

/// The kind of violation, as a stable code the threshold table matches on
/// (`fake_or_substandard_product`): lowercase ASCII letters, digits, `_`, `.` and `-`, starting
/// with a letter, at most 64 characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ViolationType(String);

impl ViolationType {
    pub fn parse(code: &str) -> Result<ViolationType, String> {
        let shaped = code.len() <= 64
            && code.starts_with(|c: char| c.is_ascii_lowercase())
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
        if shaped {
            Ok(ViolationType(code.to_owned()))
        } else {
            Err(format!(
                "must be a violation code: lowercase letters, digits, _ . -, starting with a \
                 letter, at most 64 characters, not {code:?}"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ViolationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ViolationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ViolationType({})", self.0)
    }
}

impl TryFrom<String> for ViolationType {
    type Error = String;
    fn try_from(code: String) -> Result<ViolationType, String> {
        ViolationType::parse(&code)
    }
}

impl From<ViolationType> for String {
    fn from(violation: ViolationType) -> String {
        violation.0
    }
}

/// The penalty decision (行政处罚决定).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PenaltyDecision {
    /// 行政处罚决定书文号, e.g. `榕市监罚〔2026〕12号`.
    pub number: String,
    /// The date of the decision (China Standard Time).
    pub decided_on: NaiveDate,
    /// What was imposed, in words (警告、罚款、没收违法所得 …).
    pub penalty: String,
    /// The fine, if one was imposed.
    #[serde(default)]
    pub fine: Option<super::Amount>,
}

/// One version's content: the case as the agency records it (行政处罚案件信息).
///
/// Parties are personal data ([`crate::PersonalData`]): `Debug` prints them redacted, so the
/// record may be logged as a whole without naming anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PenaltyCase {
    /// The agency's case number (案件编号).
    pub case_number: String,
    /// The violation, as a code of the threshold table.
    pub violation: ViolationType,
    /// The legal basis of the penalty (处罚依据), e.g. `《中华人民共和国产品质量法》第五十条`.
    pub legal_basis: String,
    /// The parties penalised (当事人).
    pub parties: Vec<Party>,
    /// The figures thresholds read.
    pub measures: Measures,
    pub decision: PenaltyDecision,
    /// The SHA-256 digests of the evidence files (evidence service).
    #[serde(default)]
    pub evidence: Vec<Sha256Digest>,
}

impl PenaltyCase {
    /// Checks every field; `now` bounds the decision date (a decision is recorded after it is
    /// made).
    pub fn check(&self, now: Timestamp) -> Result<(), Rejection> {
        text("case_number", &self.case_number, TITLE_MAX_CHARS, true)?;
        text("legal_basis", &self.legal_basis, TEXT_MAX_CHARS, true)?;
        if self.parties.is_empty() {
            return Err(invalid("parties", "must name the party penalised"));
        }
        case::parties(&self.parties)?;
        let mut units: Vec<&str> = Vec::new();
        for q in &self.measures.quantities {
            text("measures.quantities.unit", &q.unit, 32, true)?;
            if units.contains(&q.unit.as_str()) {
                return Err(invalid(
                    "measures.quantities.unit",
                    format!("names {} twice: give each unit once", q.unit),
                ));
            }
            units.push(&q.unit);
        }
        text(
            "decision.number",
            &self.decision.number,
            TITLE_MAX_CHARS,
            true,
        )?;
        text(
            "decision.penalty",
            &self.decision.penalty,
            TEXT_MAX_CHARS,
            true,
        )?;
        if self.decision.decided_on > cst_date(now) {
            return Err(invalid(
                "decision.decided_on",
                format!(
                    "is {}, after today ({}): record a decision once it is made",
                    self.decision.decided_on,
                    cst_date(now)
                ),
            ));
        }
        if self.evidence.len() > ITEMS_MAX {
            return Err(invalid(
                "evidence",
                format!("must list at most {ITEMS_MAX} digests"),
            ));
        }
        Ok(())
    }
}

/// What a correction says: which version it replaces, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    /// The version number it supersedes (the current one when it was made).
    pub supersedes: u32,
    pub reason: String,
}

/// One version of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordVersion {
    /// From 1, one more for each correction.
    pub number: u32,
    pub case: PenaltyCase,
    pub recorded_by: AgencyCode,
    pub recorded_at: Timestamp,
    /// `None` for the first version.
    pub correction: Option<Correction>,
    /// When an entry period is set ([`ScreeningPolicy::entry_within`]) and the first version
    /// came after it: the due time it missed. Recorded, never refused.
    #[serde(default)]
    pub late_since: Option<Timestamp>,
}

impl RecordVersion {
    /// The version this one supersedes, if it is a correction.
    pub fn supersedes(&self) -> Option<u32> {
        self.correction.as_ref().map(|c| c.supersedes)
    }

    /// The SHA-256 of the version as stored (canonical JSON), for the full-process record: equal
    /// digests, equal versions.
    pub fn digest(&self) -> Sha256Digest {
        // Strings, numbers, dates and lists only: serialising cannot fail.
        Sha256Digest::of(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }
}

/// A penalty-case record with every version, oldest first; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredRecord")]
pub struct PenaltyRecord {
    pub id: CaseId,
    /// The agency that recorded it; only it corrects it.
    pub agency: AgencyCode,
    versions: Vec<RecordVersion>,
}

/// A record as stored, checked on reading: versions numbered 1, 2, … each superseding the one
/// before.
#[derive(Deserialize)]
struct StoredRecord {
    id: CaseId,
    agency: AgencyCode,
    versions: Vec<RecordVersion>,
}

impl TryFrom<StoredRecord> for PenaltyRecord {
    type Error = String;
    fn try_from(stored: StoredRecord) -> Result<PenaltyRecord, String> {
        if stored.versions.is_empty() {
            return Err("a penalty record has at least one version".into());
        }
        for (i, version) in stored.versions.iter().enumerate() {
            let number = i as u32 + 1;
            let supersedes = (number > 1).then(|| number - 1);
            if version.number != number || version.supersedes() != supersedes {
                return Err(format!(
                    "version {} of a penalty record is out of sequence",
                    version.number
                ));
            }
        }
        Ok(PenaltyRecord {
            id: stored.id,
            agency: stored.agency,
            versions: stored.versions,
        })
    }
}

impl PenaltyRecord {
    /// Records a case closed with a penalty. Only an administrative agency records one. With an
    /// entry period set, a record entered after it is accepted and marked late.
    pub fn open(
        id: CaseId,
        case: PenaltyCase,
        actor: &Agency,
        policy: &ScreeningPolicy,
        calendar: &Calendar,
        now: Timestamp,
    ) -> Result<PenaltyRecord, Rejection> {
        if actor.kind != AgencyKind::Administrative {
            return Err(Rejection::WrongRole {
                step: "record_penalty",
                required: &[AgencyKind::Administrative],
                actual: actor.kind,
                basis: RECORD_BASIS,
            });
        }
        case.check(now)?;
        let late_since = match policy.entry_within {
            None => None,
            Some(period) => {
                let start = start_of_day(case.decision.decided_on);
                let due =
                    compute_due(calendar, start, period).map_err(|e| Rejection::Forbidden {
                        rule: "CALENDAR",
                        field: Some("decision.decided_on"),
                        reason: format!("the entry period cannot be counted: {e}"),
                    })?;
                (now > due.at).then_some(due.at)
            }
        };
        Ok(PenaltyRecord {
            id,
            agency: actor.code.clone(),
            versions: vec![RecordVersion {
                number: 1,
                case,
                recorded_by: actor.code.clone(),
                recorded_at: now,
                correction: None,
                late_since,
            }],
        })
    }

    /// The record with a corrected version appended: only the recording agency corrects, with a
    /// reason, and only to change something.
    pub fn correct(
        &self,
        case: PenaltyCase,
        reason: &str,
        actor: &Agency,
        now: Timestamp,
    ) -> Result<PenaltyRecord, Rejection> {
        if actor.code != self.agency {
            return Err(Rejection::NotAParty {
                step: "correct_penalty",
            });
        }
        text("reason", reason, TEXT_MAX_CHARS, true)?;
        case.check(now)?;
        let current = self.current();
        if case == current.case {
            return Err(invalid(
                "case",
                format!(
                    "is the same as version {}: a correction changes something",
                    current.number
                ),
            ));
        }
        let mut next = self.clone();
        next.versions.push(RecordVersion {
            number: current.number + 1,
            case,
            recorded_by: actor.code.clone(),
            recorded_at: now,
            correction: Some(Correction {
                supersedes: current.number,
                reason: reason.to_owned(),
            }),
            late_since: None,
        });
        Ok(next)
    }

    /// The version in force: the last one.
    pub fn current(&self) -> &RecordVersion {
        // Never empty: `open` creates one version, `correct` adds, reading checks.
        &self.versions[self.versions.len() - 1]
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> &[RecordVersion] {
        &self.versions
    }

    /// Version `number`, if it exists.
    pub fn version(&self, number: u32) -> Option<&RecordVersion> {
        self.versions.iter().find(|v| v.number == number)
    }
}
