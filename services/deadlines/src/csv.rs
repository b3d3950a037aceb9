//! The one CSV writer of CaseBridge's statistics (RFC 4180: comma-separated, CRLF line ends,
//! a field quoted when it holds a comma, a quote or a line break). The supervisors' reports
//! ([`crate::report`]) and the CLI's `monitor statistics --format csv` write the statistics
//! columns through it, so the files agree column for column.
//!
//! Two tables: [`STATISTICS_COLUMNS`] counts deadlines (期限, one per obligation: `sent` are the
//! deadlines others owed the agency, `received` those it owed; its last three columns are 移送率
//! over penalty records) and [`CASE_COLUMNS`] counts cases
//! (案件, one per case, per family), as [`crate::monitor::statistics_with_rules`] defines them.

use crate::api::{AgencyStatistics, FamilyCaseCounts};

/// The columns of one agency's deadline counts (期限), in order.
pub const STATISTICS_COLUMNS: [&str; 15] = [
    "agency",
    "name",
    "sent",
    "received",
    "answered_on_time",
    "answered_late",
    "still_open",
    "overdue",
    "median_response_hours",
    "filing_decisions",
    "filed",
    "filing_rate",
    "penalty_over_threshold",
    "penalty_referred",
    "referral_rate",
];

/// One agency's deadline counts as the fields of [`STATISTICS_COLUMNS`]; `name` is the
/// agency's name from the directory. 移送率 is empty when no record met a threshold.
pub fn statistics_fields(s: &AgencyStatistics, name: &str) -> [String; 15] {
    [
        s.agency.clone(),
        name.to_owned(),
        s.sent.to_string(),
        s.received.to_string(),
        s.answered_on_time.to_string(),
        s.answered_late.to_string(),
        s.still_open.to_string(),
        s.overdue.to_string(),
        format!("{:.1}", s.median_response_hours),
        s.filing_decisions.to_string(),
        s.filed.to_string(),
        format!("{:.3}", s.filing_rate),
        s.penalty_over_threshold.to_string(),
        s.penalty_referred.to_string(),
        s.referral_rate
            .map_or_else(String::new, |rate| format!("{rate:.3}")),
    ]
}

/// The columns of one agency's case counts of one family (案件), in order.
pub const CASE_COLUMNS: [&str; 9] = [
    "agency",
    "name",
    "family",
    "cases_sent",
    "cases_received",
    "answered_on_time",
    "answered_late",
    "open",
    "overdue",
];

/// One agency's case counts of one family as the fields of [`CASE_COLUMNS`]; `name` is the
/// agency's name from the directory.
pub fn case_fields(agency: &str, name: &str, c: &FamilyCaseCounts) -> [String; 9] {
    [
        agency.to_owned(),
        name.to_owned(),
        c.family.as_str().to_owned(),
        c.cases_sent.to_string(),
        c.cases_received.to_string(),
        c.answered_on_time.to_string(),
        c.answered_late.to_string(),
        c.open.to_string(),
        c.overdue.to_string(),
    ]
}

/// Appends one line of `fields` to `out`.
pub fn line<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let field = field.as_ref();
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_or_line_breaks_are_quoted() {
        let mut out = String::new();
        line(&mut out, &["a", "b,c", "say \"hi\"", "x\ny"]);
        assert_eq!(out, "a,\"b,c\",\"say \"\"hi\"\"\",\"x\ny\"\r\n");
    }

    #[test]
    fn a_statistics_row_has_a_field_per_column() {
        let s = AgencyStatistics {
            agency: "11350100MB0000000X".into(),
            sent: 3,
            received: 0,
            answered_on_time: 2,
            answered_late: 1,
            still_open: 0,
            overdue: 0,
            median_response_hours: 26.25,
            filing_decisions: 3,
            filed: 2,
            filing_rate: 2.0 / 3.0,
            penalty_over_threshold: 2,
            penalty_referred: 1,
            referral_rate: Some(0.5),
            cases: Vec::new(),
        };
        let fields = statistics_fields(&s, "福州市市场监督管理局");
        assert_eq!(fields.len(), STATISTICS_COLUMNS.len());
        assert_eq!(fields[1], "福州市市场监督管理局");
        assert_eq!(fields[8], "26.2");
        assert_eq!(fields[11], "0.667");
        assert_eq!(fields[12..].to_vec(), ["2", "1", "0.500"].map(String::from));
        let none = statistics_fields(&AgencyStatistics::default(), "");
        assert_eq!(none[14], "", "no record over a threshold: no rate");
    }

    #[test]
    fn a_case_row_has_a_field_per_column() {
        let c = FamilyCaseCounts {
            cases_sent: 3,
            cases_received: 1,
            open: 1,
            overdue: 1,
            ..FamilyCaseCounts::new(casebridge_core::notice::Family::Referral)
        };
        let fields = case_fields("11350100MB0100002P", "福州市市场监督管理局", &c);
        assert_eq!(fields.len(), CASE_COLUMNS.len());
        assert_eq!(
            fields[2..].to_vec(),
            ["referral", "3", "1", "0", "0", "1", "1"].map(String::from)
        );
    }
}
