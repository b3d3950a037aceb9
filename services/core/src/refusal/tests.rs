//! Every rule id a refusal can name has its Chinese wording, and the Chinese message keeps the
//! English message's specifics.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::zh::{RULES_ZH, rule_text_zh, specifics_zh, status_zh};
use super::{Refusal, RefusalKind};

/// The workspace root (this crate is `services/core`).
fn workspace() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Every `.rs` file under `dir`, but not in a build directory (`target`).
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `text` has the shape of a rule id (`S1-6`, `AUTH-ROLE`, `S3 Art 25`), not of a
/// message or a format string.
fn rule_shaped(text: &str) -> bool {
    text.len() <= 20
        && text.starts_with(|c: char| c.is_ascii_uppercase())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ' ')
}

/// The string literal at the start of `rest` (after blanks), if there is one.
fn literal(rest: &str) -> Option<&str> {
    let rest = rest.trim_start().strip_prefix('"')?;
    rest.split_once('"').map(|(lit, _)| lit)
}

/// After a first argument that is a plain path (`kind`, `RefusalKind::NotFound`): the string
/// literal passed as the second argument, if it is one.
fn second_literal(rest: &str) -> Option<&str> {
    let rest = rest.trim_start();
    let first = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '.'))
        .unwrap_or(rest.len());
    literal(rest[first..].trim_start().strip_prefix(',')?)
}

/// The rule ids `source` refuses with: `rule: "…"` (rejections), the rule argument of
/// `Refusal::new(…)` and of the services' `refused(…)` helpers, a rule literal after a
/// `RefusalKind::…,` (the deadlines' tuples), a `…RULE: &str = "…"` constant, and the literals
/// a `fn rule(&self)` returns.
fn rule_ids_in(source: &str) -> BTreeSet<String> {
    let mut found: Vec<&str> = Vec::new();
    for (i, _) in source.match_indices("rule: \"") {
        found.extend(literal(&source[i + "rule: ".len()..]));
    }
    for call in ["Refusal::new(", "refused(", "RefusalKind::"] {
        for (i, _) in source.match_indices(call) {
            let rest = &source[i + call.len()..];
            let rest = if call == "RefusalKind::" {
                &source[i..]
            } else {
                rest
            };
            found.extend(second_literal(rest));
        }
    }
    for (i, _) in source.match_indices("RULE: &str =") {
        found.extend(literal(&source[i + "RULE: &str =".len()..]));
    }
    for (i, _) in source.match_indices("fn rule(&self)") {
        let body = &source[i..];
        let body = &body[..body.find("\n    }\n").unwrap_or(body.len())];
        for (j, _) in body.match_indices("=> ") {
            found.extend(literal(&body[j + 3..]));
        }
    }
    found
        .into_iter()
        .filter(|id| rule_shaped(id))
        .map(str::to_owned)
        .collect()
}

/// Every rule id the services and the gateway refuse with, and the files naming each.
fn rule_ids_in_code() -> Vec<(String, PathBuf)> {
    let root = workspace();
    let mut files = Vec::new();
    rust_files(&root.join("services"), &mut files);
    rust_files(&root.join("gateway/src"), &mut files);
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut ids = Vec::new();
    // This file names rules that do not exist, to show how they are worded.
    let this_file = Path::new("services/core/src/refusal/tests.rs");
    for file in files.into_iter().filter(|f| !f.ends_with(this_file)) {
        let source = std::fs::read_to_string(&file).expect("source file");
        for id in rule_ids_in(&source) {
            ids.push((id, file.clone()));
        }
    }
    ids
}

#[test]
fn the_scan_finds_rule_ids_in_every_position_a_refusal_names_them() {
    let source = r#"
        Err(Rejection::Forbidden { rule: "F2", field: None, reason: "x".into() })
        Refusal::new(kind, "SAMR-16", Some("transfer_id"), message)
        refused(RefusalKind::NotFound, "STATE", Some("case_id"), format!("no {case}"))
        ExtensionRefusal::TooLate { .. } => (RefusalKind::FailedPrecondition, "SAMR-45x", None),
        refused(kind, Some("after_cursor"), format!("Bad {x}"))
        const INPUT_RULE: &str = "INPUT";
    pub fn rule(&self) -> &'static str {
        match self {
            A::B => "AUTH-ROLE",
            A::C { rule, .. } => rule,
        }
    }
    "#;
    let ids: Vec<String> = rule_ids_in(source).into_iter().collect();
    assert_eq!(
        ids,
        ["AUTH-ROLE", "F2", "INPUT", "SAMR-16", "SAMR-45x", "STATE"]
    );
}

#[test]
fn every_rule_id_a_refusal_uses_has_its_chinese_wording() {
    let ids = rule_ids_in_code();
    let distinct: BTreeSet<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
    // The scan sees the rules of the state machines, the services and the gateway alike.
    for expected in [
        "STATE",
        "AUTH-ROLE",
        "S1-6",
        "F2",
        "SAMR-16",
        "H-CONCLUSION",
        "INPUT",
    ] {
        assert!(distinct.contains(expected), "the scan missed {expected}");
    }
    let missing: Vec<String> = ids
        .iter()
        .filter(|(id, _)| rule_text_zh(id).is_none())
        .map(|(id, file)| format!("{id} ({})", file.display()))
        .collect();
    assert!(
        missing.is_empty(),
        "rule ids without Chinese wording in refusal/zh.rs RULES_ZH: {missing:?}"
    );
}

#[test]
fn every_deadline_rule_an_extension_refusal_can_name_has_its_chinese_wording() {
    let path = workspace().join("deploy/rules.toml");
    let table: toml::Table = std::fs::read_to_string(&path)
        .expect("deploy/rules.toml")
        .parse()
        .expect("rules.toml parses");
    let rules = table["rule"].as_array().expect("[[rule]] entries");
    assert!(rules.len() > 30);
    let missing: Vec<&str> = rules
        .iter()
        .filter_map(|rule| rule.get("id").and_then(toml::Value::as_str))
        .filter(|id| rule_text_zh(id).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "rules.toml ids without wording: {missing:?}"
    );
}

#[test]
fn the_table_lists_each_rule_once_in_chinese_ending_a_sentence() {
    let mut seen = BTreeSet::new();
    for (id, zh) in RULES_ZH {
        assert!(seen.insert(*id), "{id} listed twice");
        assert!(rule_shaped(id), "{id} is not shaped like a rule id");
        assert!(zh.ends_with('。'), "{id}: {zh}");
        assert!(
            zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{id} is not in Chinese"
        );
    }
    // A rule with a legal source names it.
    assert!(rule_text_zh("S1-6").is_some_and(|t| t.contains("第六条")));
    assert!(rule_text_zh("SAMR-16").is_some_and(|t| t.contains("第十六条")));
}

#[test]
fn a_chinese_message_carries_the_wording_the_field_and_the_rule() {
    let refusal = Refusal {
        item: Some(2),
        ..Refusal::new(
            RefusalKind::InvalidArgument,
            "INPUT",
            Some("documents.title"),
            "documents[2].title is empty",
        )
    };
    let zh = refusal.message_zh();
    assert!(
        zh.starts_with(rule_text_zh("INPUT").expect("INPUT")),
        "{zh}"
    );
    assert!(
        zh.ends_with("（字段：documents[2].title；规则 INPUT）"),
        "{zh}"
    );
    let no_field = Refusal::new(RefusalKind::PermissionDenied, "AUTH-PARTY", None, "x");
    assert!(no_field.message_zh().ends_with("（规则 AUTH-PARTY）"));
}

#[test]
fn a_rule_without_wording_is_named_in_a_generic_sentence() {
    let refusal = Refusal::new(RefusalKind::InvalidArgument, "LOCAL-7", Some("tier"), "x");
    assert_eq!(
        refusal.message_zh(),
        "依照规则 LOCAL-7，该请求不予办理。（字段：tier；规则 LOCAL-7）"
    );
}

#[test]
fn a_wrong_state_keeps_the_status_and_the_statuses_that_allow_the_step_in_chinese() {
    let refusal = Refusal::new(
        RefusalKind::FailedPrecondition,
        "STATE",
        None,
        "step file is not allowed while the case is submitted; it is allowed when received or \
         awaiting_supplement",
    );
    assert_eq!(
        refusal.message_zh(),
        format!(
            "案件当前状态为「已移送」，步骤 file 仅在案件状态为「已签收」或者「待补充材料」时可以办理。{}（规则 STATE）",
            rule_text_zh("STATE").expect("STATE")
        )
    );
    // A status without a Chinese name keeps its wire name.
    assert_eq!(
        specifics_zh("step x is not allowed while the case is odd; it is allowed when sent"),
        Some("案件当前状态为「odd」，步骤 x 仅在案件状态为「已发出」时可以办理。".to_owned())
    );
}

#[test]
fn a_missing_document_is_named_in_chinese() {
    use crate::case::Rejection;
    use crate::document::DocumentKind;

    let rejection = Rejection::MissingDocument {
        kinds: vec![DocumentKind::SeizedItemsList],
        rule: "S1-6",
    };
    let refusal = Refusal::new(
        RefusalKind::InvalidArgument,
        rejection.rule(),
        rejection.field(),
        rejection.to_string(),
    );
    let zh = refusal.message_zh();
    assert!(
        zh.starts_with("未附涉案物品清单。移送涉嫌犯罪案件应当附有"),
        "{zh}"
    );
    assert!(zh.contains("（《行政执法机关移送涉嫌犯罪案件的规定》第六条）"));
    assert!(zh.ends_with("（字段：documents；规则 S1-6）"));
}

#[test]
fn every_status_of_every_family_has_a_chinese_name() {
    use crate::dispute::DisputeStatus;
    use crate::lead::LeadStatus;
    use crate::opinion::OpinionStatus;
    use crate::rectification::RectificationStatus;
    use crate::referral::ReferralStatus;
    use crate::screening::warning::WarningStatus;
    use crate::transfer::TransferStatus;

    let names = ReferralStatus::ALL
        .map(|s| s.as_str())
        .into_iter()
        .chain(TransferStatus::ALL.map(|s| s.as_str()))
        .chain(DisputeStatus::ALL.map(|s| s.as_str()))
        .chain(OpinionStatus::ALL.map(|s| s.as_str()))
        .chain(WarningStatus::ALL.map(|s| s.as_str()))
        .chain(LeadStatus::ALL.map(|s| s.as_str()))
        .chain(RectificationStatus::ALL.map(|s| s.as_str()));
    for name in names {
        assert!(
            status_zh(name).is_some(),
            "no Chinese name for status {name}"
        );
    }
}

#[test]
fn docs_law_lists_every_rule_with_the_codes_wording() {
    let law = std::fs::read_to_string(workspace().join("docs/law.md")).expect("docs/law.md");
    let section = law
        .split_once("## Refusal rules in Chinese")
        .map(|(_, rest)| rest.split("\n## ").next().unwrap_or(rest))
        .expect("docs/law.md has a section \"Refusal rules in Chinese\"");
    let rows: Vec<String> = section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(str::to_owned)
        .collect();
    let expected: Vec<String> = RULES_ZH
        .iter()
        .map(|(id, zh)| format!("| `{id}` | {zh} |"))
        .collect();
    assert_eq!(rows, expected, "docs/law.md differs from RULES_ZH");
}
