//! The threshold table (`deploy/thresholds.toml`): for each violation, the figure and amount at
//! which a case is suspected to be a crime, the offence, and the legal source, as data, so a
//! corrected or added threshold is a data change. Loaded like the deadline rule table
//! ([`crate::deadline::RuleTable`]): parsed and checked once, every error naming the rule and the
//! field.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Amount, Measure, Number, Value, ViolationType};
use crate::ids::Sha256Digest;

/// The offence a threshold points to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Offence {
    /// The offence's name (罪名), e.g. `生产、销售伪劣产品罪`.
    pub name_zh: String,
    /// The article that defines it, e.g. `刑法第一百四十条`.
    pub article: String,
}

/// When a case of the violation screens positive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "comparison", rename_all = "snake_case")]
pub enum Threshold {
    /// Every case does: the offence has no amount threshold (刑法 Art 144).
    Any,
    /// A case whose `measure` is at least `value` does (刑法 Art 99: 以上 includes the amount).
    AtLeast { measure: Measure, value: Value },
}

impl fmt::Display for Threshold {
    /// `sales_amount ≥ 50000.00 yuan`, `any case`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Any => f.write_str("any case"),
            Threshold::AtLeast { measure, value } => write!(f, "{measure} ≥ {value}"),
        }
    }
}

/// One threshold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ThresholdRule {
    /// A stable id, e.g. `CL-140`.
    pub id: String,
    /// The violation it screens.
    pub violation: ViolationType,
    pub threshold: Threshold,
    /// A case that meets it is an attempt (未遂, 刑法 Art 23), e.g. unsold goods (2001
    /// interpretation Art 2).
    pub attempt: bool,
    pub offence: Offence,
    /// The legal source, as docs/screening.md cites it, e.g. `刑法 Art 140; 刑法 Art 99`.
    pub source: String,
    /// Whether the source was read in a copy of its text; `false` marks a rule kept on a
    /// third-party report, which a warning says.
    pub verified: bool,
    pub note: Option<String>,
}

/// Why a threshold table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    #[error("threshold table: {0}")]
    Syntax(String),
    #[error("threshold rule {id}, field {field}: {reason}")]
    Invalid {
        id: String,
        field: String,
        reason: String,
    },
}

/// Which threshold table a record version was screened under: the digest of the table's rules
/// and the version the table file names, if it names one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableStamp {
    /// SHA-256 (hex) of the table's rules in canonical form ([`ThresholdTable::digest`]): equal
    /// digests, equal rules. Comments and layout of the file do not count.
    pub digest: String,
    /// The table's own `version = "…"` line, for people (e.g. `2026-12`); `None` when the file
    /// has none. It is not compared: only the digest says whether the rules changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl TableStamp {
    /// The first 12 hex digits of the digest, as people quote it.
    pub fn short_digest(&self) -> &str {
        self.digest.get(..12).unwrap_or(&self.digest)
    }
}

impl fmt::Display for TableStamp {
    /// `2026-12 (sha256 0123456789ab)`, or `sha256 0123456789ab` without a version.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(version) => write!(f, "{version} (sha256 {})", self.short_digest()),
            None => write!(f, "sha256 {}", self.short_digest()),
        }
    }
}

/// Every threshold rule, with the table's version and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdTable {
    rules: Vec<ThresholdRule>,
    stamp: TableStamp,
}

/// The longest `version` a table may name.
const VERSION_MAX_CHARS: usize = 64;

/// The fields a rule may have; any other is refused, so a misspelt `verfied` is not ignored.
const FIELDS: &[&str] = &[
    "id",
    "violation",
    "measure",
    "unit",
    "threshold",
    "attempt",
    "offence",
    "article",
    "source",
    "verified",
    "note",
];

/// One rule's fields, read with errors that name the field.
struct Fields<'a> {
    id: String,
    table: &'a toml::Table,
}

impl Fields<'_> {
    fn invalid(&self, field: &str, reason: impl Into<String>) -> ThresholdError {
        ThresholdError::Invalid {
            id: self.id.clone(),
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    /// A string field, `None` when absent.
    fn text(&self, field: &str) -> Result<Option<&str>, ThresholdError> {
        match self.table.get(field) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(field, "must be a string")),
        }
    }

    /// A string field that must be present and not blank.
    fn required(&self, field: &str) -> Result<&str, ThresholdError> {
        match self.text(field)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(self.invalid(field, "is required")),
        }
    }

    fn flag(&self, field: &str) -> Result<Option<bool>, ThresholdError> {
        match self.table.get(field) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(_) => Err(self.invalid(field, "must be true or false")),
        }
    }
}

impl ThresholdTable {
    /// Parses and checks `deploy/thresholds.toml`: every rule has an id used once, a violation
    /// code, a known measure (with a unit for a quantity, and only then), a threshold (an amount
    /// in yuan, a quantity, or `any`), the offence and its article, a source, and says whether it
    /// is verified; an unverified rule says in a note what was not read.
    pub fn from_toml_str(text: &str) -> Result<ThresholdTable, ThresholdError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ThresholdError::Syntax(e.message().to_owned()))?;
        if let Some(key) = table.keys().find(|k| *k != "rule" && *k != "version") {
            return Err(ThresholdError::Syntax(format!(
                "unknown key {key:?}: the table holds a version and [[rule]] entries only"
            )));
        }
        let version = match table.get("version") {
            None => None,
            Some(toml::Value::String(v))
                if !v.trim().is_empty() && v.chars().count() <= VERSION_MAX_CHARS =>
            {
                Some(v.trim().to_owned())
            }
            Some(_) => {
                return Err(ThresholdError::Syntax(format!(
                    "version must be a string of 1 to {VERSION_MAX_CHARS} characters, e.g. \"2026-12\""
                )));
            }
        };
        let entries = match table.get("rule") {
            None => Vec::new(),
            Some(toml::Value::Array(entries)) => entries.clone(),
            Some(_) => {
                return Err(ThresholdError::Syntax(
                    "rule must be a list of [[rule]] entries".into(),
                ));
            }
        };
        let mut ids = BTreeSet::new();
        let mut rules = Vec::new();
        for (n, entry) in entries.iter().enumerate() {
            let Some(entry) = entry.as_table() else {
                return Err(ThresholdError::Syntax(format!(
                    "rule #{} is not a table",
                    n + 1
                )));
            };
            let id = entry
                .get("id")
                .and_then(toml::Value::as_str)
                .map_or_else(|| format!("#{}", n + 1), str::to_owned);
            let fields = Fields { id, table: entry };
            let rule = parse_rule(&fields)?;
            if !ids.insert(rule.id.clone()) {
                return Err(fields.invalid("id", "is used by an earlier rule"));
            }
            rules.push(rule);
        }
        let stamp = TableStamp {
            digest: digest(&rules),
            version,
        };
        Ok(ThresholdTable { rules, stamp })
    }

    pub fn rules(&self) -> &[ThresholdRule] {
        &self.rules
    }

    /// The SHA-256 (hex) of the rules in canonical form (their JSON, in table order): what
    /// re-screening compares to know whether the table changed. A comment, the file's layout or
    /// its `version` line change nothing; any field of any rule, or their order, does.
    pub fn digest(&self) -> &str {
        &self.stamp.digest
    }

    /// The table's version line, if the file has one.
    pub fn version(&self) -> Option<&str> {
        self.stamp.version.as_deref()
    }

    /// The digest and version, as a record version screened under the table keeps them.
    pub fn stamp(&self) -> &TableStamp {
        &self.stamp
    }

    pub fn get(&self, id: &str) -> Option<&ThresholdRule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

/// See [`ThresholdTable::digest`].
fn digest(rules: &[ThresholdRule]) -> String {
    // Strings, enums, booleans and lists only: serialising cannot fail.
    Sha256Digest::of(serde_json::to_string(rules).unwrap_or_default().as_bytes()).to_hex()
}

fn parse_rule(f: &Fields<'_>) -> Result<ThresholdRule, ThresholdError> {
    if let Some(key) = f.table.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(f.invalid(key, format!("is not a field; the fields are {FIELDS:?}")));
    }
    let id = f.required("id")?;
    if !id
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(f.invalid("id", "must be uppercase letters, digits and hyphens"));
    }
    let violation = ViolationType::parse(f.required("violation")?)
        .map_err(|reason| f.invalid("violation", reason))?;
    let measure = match f.text("measure")? {
        None => None,
        Some("quantity") => {
            let unit = f.text("unit")?.filter(|u| !u.trim().is_empty());
            let unit = unit.ok_or_else(|| f.invalid("unit", "is required for a quantity"))?;
            Some(Measure::Quantity {
                unit: unit.to_owned(),
            })
        }
        Some(name) => {
            let known = Measure::MONEY.iter().find(|(n, _)| *n == name);
            let Some((_, measure)) = known else {
                return Err(f.invalid(
                    "measure",
                    format!(
                        "{name:?} is not a measure; the measures are sales_amount, goods_value, \
                         illegal_gains and quantity (with a unit)"
                    ),
                ));
            };
            if f.table.contains_key("unit") {
                return Err(f.invalid("unit", "is only for a quantity"));
            }
            Some(measure.clone())
        }
    };
    let threshold = match (f.required("threshold")?, measure) {
        ("any", None) => Threshold::Any,
        ("any", Some(_)) => {
            return Err(f.invalid(
                "measure",
                "must be left out when the threshold is any: no figure is read",
            ));
        }
        (_, None) => {
            return Err(f.invalid("measure", "is required with an amount threshold"));
        }
        (amount, Some(measure)) => {
            let value = if measure.is_money() {
                Amount::parse(amount).map(Value::Money)
            } else {
                Number::parse(amount).map(Value::Quantity)
            };
            let value = value.map_err(|e| f.invalid("threshold", e.to_string()))?;
            Threshold::AtLeast { measure, value }
        }
    };
    let offence = Offence {
        name_zh: f.required("offence")?.to_owned(),
        article: f.required("article")?.to_owned(),
    };
    let source = f.required("source")?.to_owned();
    let verified = f
        .flag("verified")?
        .ok_or_else(|| f.invalid("verified", "is required: true or false"))?;
    let note = f.text("note")?.map(str::to_owned);
    if !verified && note.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(f.invalid(
            "note",
            "is required of an unverified rule: say which text was not read",
        ));
    }
    Ok(ThresholdRule {
        id: id.to_owned(),
        violation,
        threshold,
        attempt: f.flag("attempt")?.unwrap_or(false),
        offence,
        source,
        verified,
        note,
    })
}
