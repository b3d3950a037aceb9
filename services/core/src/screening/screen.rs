//! Screening: which thresholds a recorded case meets ([`screen`]), each as a [`Hit`] that carries
//! everything a warning must show — the rule, the figure, the threshold, the source and whether
//! the source was read.

use serde::{Deserialize, Serialize};

use super::{Measure, Offence, PenaltyCase, Threshold, ThresholdTable, Value, ViolationType};

/// A threshold a case meets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Hit {
    /// The rule's id in the table.
    pub rule: String,
    pub violation: ViolationType,
    pub offence: Offence,
    /// The figure read; `None` for a rule without an amount threshold.
    pub measure: Option<Measure>,
    /// The case's value of it.
    pub value: Option<Value>,
    pub threshold: Threshold,
    /// The case is an attempt (未遂) under this rule.
    pub attempt: bool,
    pub source: String,
    /// Whether the rule's source was read in a copy of its text.
    pub verified: bool,
}

impl Hit {
    /// One line for people, without personal data: `CL-140 生产、销售伪劣产品罪 (刑法第一百四十条):
    /// sales_amount 50000.00 yuan ≥ 50000.00 yuan [刑法 Art 140]`.
    pub fn describe(&self) -> String {
        let figure = match (&self.measure, &self.value, &self.threshold) {
            (Some(m), Some(v), Threshold::AtLeast { value: t, .. }) => format!("{m} {v} ≥ {t}"),
            _ => "no amount threshold: any case".to_owned(),
        };
        let attempt = if self.attempt { "（未遂）" } else { "" };
        let unverified = if self.verified {
            ""
        } else {
            ", source not verified"
        };
        format!(
            "{} {}{attempt} ({}): {figure} [{}{unverified}]",
            self.rule, self.offence.name_zh, self.offence.article, self.source
        )
    }
}

/// The thresholds `case` meets, in table order. A rule applies to its violation only; an amount
/// rule is met when the case has the figure and it is at least the threshold (exactly at it
/// counts: 刑法 Art 99); a rule without an amount is met by every case of its violation. A figure
/// the case does not give meets nothing.
pub fn screen(case: &PenaltyCase, table: &ThresholdTable) -> Vec<Hit> {
    table
        .rules()
        .iter()
        .filter(|rule| rule.violation == case.violation)
        .filter_map(|rule| {
            let (measure, value) = match &rule.threshold {
                Threshold::Any => (None, None),
                Threshold::AtLeast { measure, value } => {
                    let found = case.measures.get(measure)?;
                    if !found.reaches(*value) {
                        return None;
                    }
                    (Some(measure.clone()), Some(found))
                }
            };
            Some(Hit {
                rule: rule.id.clone(),
                violation: rule.violation.clone(),
                offence: rule.offence.clone(),
                measure,
                value,
                threshold: rule.threshold.clone(),
                attempt: rule.attempt,
                source: rule.source.clone(),
                verified: rule.verified,
            })
        })
        .collect()
}
