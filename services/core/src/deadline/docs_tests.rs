//! `docs/deadlines.md` lists every timer rule of the shipped table (its trigger, pauses,
//! closing events and source) between two markers; this test keeps that list equal to
//! `deploy/rules.toml`. After changing the table, run it with `CASEBRIDGE_BLESS=1` to rewrite
//! the list, and read the diff.

use super::*;
use crate::law::SHIPPED_RULES;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/deadlines.md");
const BEGIN: &str = "<!-- rules:begin (generated from deploy/rules.toml; see services/core/src/deadline/docs_tests.rs) -->";
const END: &str = "<!-- rules:end -->";

fn events(list: &[String]) -> String {
    if list.is_empty() {
        "—".to_owned()
    } else {
        list.iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The generated list: one row per timer rule, in table order.
fn listing(table: &RuleTable) -> String {
    let mut out = String::from(
        "| rule | owed by | period | starts on | stops on → restarts on | closes on | escalates to | source |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for rule in table.rules().iter().filter(|r| r.kind == RuleKind::Timer) {
        let period = rule
            .period
            .map_or_else(|| "—".to_owned(), |p| p.to_string());
        let mut conditions = Vec::new();
        if let Some(flag) = &rule.only_if {
            conditions.push(format!("only if `{flag}`"));
        }
        if let Some(flag) = &rule.unless {
            conditions.push(format!("unless `{flag}`"));
        }
        let starts = if conditions.is_empty() {
            events(&rule.trigger)
        } else {
            format!("{} ({})", events(&rule.trigger), conditions.join(", "))
        };
        let stops = if rule.pauses_on.is_empty() {
            "—".to_owned()
        } else {
            let pauses: Vec<String> = rule
                .pauses_on
                .iter()
                .map(|event| match rule.pauses_only_if.get(event) {
                    Some(flag) => format!("`{event}` (only if `{flag}`)"),
                    None => format!("`{event}`"),
                })
                .collect();
            format!("{} → {}", pauses.join(", "), events(&rule.resumes_on))
        };
        let owed = rule.owed_by.map_or("—", |r| r.as_str());
        let escalates = match rule.escalate_to {
            None => "—",
            Some(Supervisor::Procuratorate) => "procuratorate",
            Some(Supervisor::CoordinationOffice) => "coordination_office",
            Some(Supervisor::Superior) => "superior",
            Some(Supervisor::DisputeOffice) => "dispute_office",
        };
        let verified = if rule.verified { "" } else { " (unverified)" };
        out.push_str(&format!(
            "| {} | {owed} | {period} | {starts} | {stops} | {} | {escalates} | {}{verified} |\n",
            rule.id,
            events(&rule.closed_by),
            rule.basis,
        ));
    }
    out
}

#[test]
fn the_deadlines_doc_lists_every_timer_rule_as_the_shipped_table_has_it() {
    let table = RuleTable::from_toml_str(SHIPPED_RULES).expect("the shipped table");
    let doc = std::fs::read_to_string(DOC).expect("docs/deadlines.md");
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/deadlines.md has no {BEGIN} … {END} block");
    };
    let listed = &doc[begin + BEGIN.len()..end];
    let expected = format!("\n{}", listing(&table));
    if listed != expected {
        if std::env::var_os("CASEBRIDGE_BLESS").is_some() {
            let blessed = format!("{}{expected}{}", &doc[..begin + BEGIN.len()], &doc[end..]);
            std::fs::write(DOC, blessed).expect("rewrite docs/deadlines.md");
        } else {
            panic!(
                "docs/deadlines.md lists the rules differently from deploy/rules.toml; run \
                 `CASEBRIDGE_BLESS=1 cargo test -p casebridge-core the_deadlines_doc` and read \
                 the diff. Expected:\n{expected}"
            );
        }
    }
}
