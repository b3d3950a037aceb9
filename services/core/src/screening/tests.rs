//! The threshold table, the penalty record and its versions, and screening.

use chrono::NaiveDate;

use super::*;
use crate::case::Rejection;
use crate::deadline::{Period, Unit};
use crate::document::Party;
use crate::fixtures::{World, at, world};
use crate::ids::{CaseId, Sha256Digest};

fn shipped() -> ThresholdTable {
    ThresholdTable::from_toml_str(SHIPPED_THRESHOLDS).unwrap()
}

fn yuan(text: &str) -> Amount {
    Amount::parse(text).unwrap()
}

/// A case of `violation` with these figures, decided on 2026-12-01.
fn case(violation: &str, measures: Measures) -> PenaltyCase {
    PenaltyCase {
        case_number: "榕市监案〔2026〕101号".into(),
        violation: ViolationType::parse(violation).unwrap(),
        legal_basis: "《中华人民共和国产品质量法》第五十条".into(),
        parties: vec![Party {
            name: "张三".into(),
            id_number: Some("350102199001011234".into()),
        }],
        measures,
        decision: PenaltyDecision {
            number: "榕市监罚〔2026〕88号".into(),
            decided_on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            penalty: "没收违法所得，罚款".into(),
            fine: Some(yuan("20000")),
        },
        evidence: vec![Sha256Digest::of(b"inspection report")],
    }
}

fn sales(amount: &str) -> PenaltyCase {
    case(
        "fake_or_substandard_product",
        Measures {
            sales_amount: Some(yuan(amount)),
            ..Measures::default()
        },
    )
}

fn unsold(value: &str) -> PenaltyCase {
    case(
        "fake_or_substandard_product",
        Measures {
            goods_value: Some(yuan(value)),
            ..Measures::default()
        },
    )
}

fn rules_hit(case: &PenaltyCase, table: &ThresholdTable) -> Vec<String> {
    screen(case, table).into_iter().map(|h| h.rule).collect()
}

const NOW: &str = "2026-12-07T10:00:00+08:00";

// ---- The shipped table ----------------------------------------------------------------------

#[test]
fn the_shipped_table_holds_the_art_140_and_art_144_thresholds_checked_against_the_texts() {
    let table = shipped();
    let art140 = table.get("CL-140").unwrap();
    assert_eq!(
        art140.threshold,
        Threshold::AtLeast {
            measure: Measure::SalesAmount,
            value: Value::Money(yuan("50000")),
        }
    );
    assert_eq!(art140.offence.name_zh, "生产、销售伪劣产品罪");
    assert!(art140.verified && !art140.attempt);
    // Unsold goods: three times the Art 140 sales amount, as an attempt (2001 interpretation
    // Art 2 ¶2).
    let attempt = table.get("CL-140-ATT").unwrap();
    assert_eq!(
        attempt.threshold,
        Threshold::AtLeast {
            measure: Measure::GoodsValue,
            value: Value::Money(yuan("50000").times(3).unwrap()),
        }
    );
    assert!(attempt.attempt && attempt.verified);
    assert_eq!(attempt.violation, art140.violation);
    let art144 = table.get("CL-144").unwrap();
    assert_eq!(art144.threshold, Threshold::Any);
    assert_eq!(art144.offence.name_zh, "生产、销售有毒、有害食品罪");
    for rule in table.rules() {
        assert!(!rule.source.trim().is_empty(), "{} has no source", rule.id);
    }
}

// ---- Screening --------------------------------------------------------------------------------

#[test]
fn a_sales_amount_exactly_at_50000_yuan_screens_positive_and_one_fen_less_does_not() {
    let table = shipped();
    assert_eq!(rules_hit(&sales("50000"), &table), ["CL-140"]);
    assert_eq!(rules_hit(&sales("50000.00"), &table), ["CL-140"]);
    assert!(rules_hit(&sales("49999.99"), &table).is_empty());
    assert_eq!(rules_hit(&sales("50000.01"), &table), ["CL-140"]);
    assert_eq!(rules_hit(&sales("1200000"), &table), ["CL-140"]);
}

#[test]
fn unsold_goods_worth_three_times_the_sales_threshold_screen_as_an_attempt() {
    let table = shipped();
    assert!(rules_hit(&unsold("149999.99"), &table).is_empty());
    let hits = screen(&unsold("150000"), &table);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].rule, "CL-140-ATT");
    assert!(hits[0].attempt);
    assert_eq!(hits[0].value, Some(Value::Money(yuan("150000"))));
    assert_eq!(rules_hit(&unsold("150000.01"), &table), ["CL-140-ATT"]);
    // Goods worth 100,000 yuan are not sales of 100,000 yuan: each figure meets its own rule.
    assert!(rules_hit(&unsold("100000"), &table).is_empty());
    // Both figures over their thresholds: both hits, in table order.
    let both = case(
        "fake_or_substandard_product",
        Measures {
            sales_amount: Some(yuan("60000")),
            goods_value: Some(yuan("200000")),
            ..Measures::default()
        },
    );
    assert_eq!(rules_hit(&both, &table), ["CL-140", "CL-140-ATT"]);
}

#[test]
fn toxic_food_screens_positive_with_no_figures_at_all() {
    let hits = screen(
        &case("toxic_or_harmful_food", Measures::default()),
        &shipped(),
    );
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.rule, "CL-144");
    assert_eq!((hit.measure.as_ref(), hit.value), (None, None));
    assert_eq!(hit.threshold, Threshold::Any);
    assert_eq!(hit.source, "刑法 Art 144");
    assert!(
        hit.describe().contains("no amount threshold"),
        "{}",
        hit.describe()
    );
}

#[test]
fn a_record_under_every_threshold_or_of_another_violation_raises_nothing() {
    let table = shipped();
    let small = case(
        "fake_or_substandard_product",
        Measures {
            sales_amount: Some(yuan("3000")),
            goods_value: Some(yuan("8000")),
            illegal_gains: Some(yuan("900")),
            quantities: Vec::new(),
        },
    );
    assert!(screen(&small, &table).is_empty());
    // A large figure under a violation no rule names meets nothing.
    let other = case(
        "unlicensed_advertising",
        Measures {
            sales_amount: Some(yuan("9000000")),
            ..Measures::default()
        },
    );
    assert!(screen(&other, &table).is_empty());
    // A figure the case does not give meets nothing.
    let silent = case("fake_or_substandard_product", Measures::default());
    assert!(screen(&silent, &table).is_empty());
}

#[test]
fn a_hit_carries_the_rule_the_figure_the_threshold_the_source_and_whether_it_was_verified() {
    let table = ThresholdTable::from_toml_str(
        r#"
[[rule]]
id = "T-1"
violation = "fake_or_substandard_product"
measure = "sales_amount"
threshold = "50000"
offence = "生产、销售伪劣产品罪"
article = "刑法第一百四十条"
source = "a third-party summary"
verified = false
note = "the text was not read"
"#,
    )
    .unwrap();
    let hits = screen(&sales("73000.5"), &table);
    // (A test rule's id, kept out of a `rule: "…"` literal: the refusal scan reads those.)
    let id = "T-1".to_owned();
    assert_eq!(
        hits,
        [Hit {
            rule: id,
            violation: ViolationType::parse("fake_or_substandard_product").unwrap(),
            offence: Offence {
                name_zh: "生产、销售伪劣产品罪".into(),
                article: "刑法第一百四十条".into(),
            },
            measure: Some(Measure::SalesAmount),
            value: Some(Value::Money(yuan("73000.50"))),
            threshold: Threshold::AtLeast {
                measure: Measure::SalesAmount,
                value: Value::Money(yuan("50000")),
            },
            attempt: false,
            source: "a third-party summary".into(),
            verified: false,
        }]
    );
    assert_eq!(
        hits[0].describe(),
        "T-1 生产、销售伪劣产品罪 (刑法第一百四十条): sales_amount 73000.50 yuan ≥ 50000.00 yuan \
         [a third-party summary, source not verified]"
    );
}

#[test]
fn a_quantity_threshold_reads_the_quantity_in_its_own_unit_only() {
    let table = ThresholdTable::from_toml_str(
        r#"
[[rule]]
id = "T-Q"
violation = "illegal_logging"
measure = "quantity"
unit = "立方米"
threshold = "2.5"
offence = "test offence"
article = "test article"
source = "test source"
verified = false
note = "a test rule, no source read"
"#,
    )
    .unwrap();
    let logged = |unit: &str, value: &str| {
        case(
            "illegal_logging",
            Measures {
                quantities: vec![Quantity {
                    unit: unit.into(),
                    value: Number::parse(value).unwrap(),
                }],
                ..Measures::default()
            },
        )
    };
    assert_eq!(rules_hit(&logged("立方米", "2.5"), &table), ["T-Q"]);
    assert!(rules_hit(&logged("立方米", "2.499"), &table).is_empty());
    assert!(rules_hit(&logged("株", "900"), &table).is_empty());
}

// ---- Loading the table ------------------------------------------------------------------------

const GOOD: &str = r#"
[[rule]]
id = "CL-140"
violation = "fake_or_substandard_product"
measure = "sales_amount"
threshold = "50000"
offence = "生产、销售伪劣产品罪"
article = "刑法第一百四十条"
source = "刑法 Art 140"
verified = true
"#;

fn refused(text: &str) -> (String, String) {
    match ThresholdTable::from_toml_str(text) {
        Err(ThresholdError::Invalid { id, field, .. }) => (id, field),
        other => panic!("expected a refusal naming the rule and field, got {other:?}"),
    }
}

#[test]
fn a_table_error_names_the_rule_and_the_field() {
    assert!(ThresholdTable::from_toml_str(GOOD).is_ok());
    let cases = [
        (GOOD.replace("sales_amount", "turnover"), "measure"),
        (GOOD.replace("source = \"刑法 Art 140\"\n", ""), "source"),
        (
            GOOD.replace("source = \"刑法 Art 140\"", "source = \" \""),
            "source",
        ),
        (GOOD.replace("verified = true\n", ""), "verified"),
        (
            GOOD.replace("verified = true", "verified = \"yes\""),
            "verified",
        ),
        (GOOD.replace("verified = true", "verified = false"), "note"),
        (GOOD.replace("\"50000\"", "\"50,000\""), "threshold"),
        (GOOD.replace("\"50000\"", "\"-1\""), "threshold"),
        (GOOD.replace("threshold = \"50000\"\n", ""), "threshold"),
        (GOOD.replace("\"50000\"", "\"any\""), "measure"),
        (GOOD.replace("measure = \"sales_amount\"\n", ""), "measure"),
        (
            GOOD.replace(
                "measure = \"sales_amount\"",
                "measure = \"sales_amount\"\nunit = \"kg\"",
            ),
            "unit",
        ),
        (GOOD.replace("\"sales_amount\"", "\"quantity\""), "unit"),
        (
            GOOD.replace("offence = \"生产、销售伪劣产品罪\"\n", ""),
            "offence",
        ),
        (
            GOOD.replace("article = \"刑法第一百四十条\"\n", ""),
            "article",
        ),
        (
            GOOD.replace("fake_or_substandard_product", "Fake Product"),
            "violation",
        ),
        (GOOD.replace("verified = true", "verfied = true"), "verfied"),
        (GOOD.replace("\"CL-140\"", "\"cl 140\""), "id"),
    ];
    for (text, field) in cases {
        let (id, got) = refused(&text);
        assert_eq!(got, field, "{text}");
        assert!(id == "CL-140" || id == "cl 140", "{id}");
    }
    // Without an id, the rule is named by its position.
    assert_eq!(
        refused(&GOOD.replace("id = \"CL-140\"\n", "")),
        ("#1".to_owned(), "id".to_owned())
    );
    let message = ThresholdTable::from_toml_str(&GOOD.replace("sales_amount", "turnover"))
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("threshold rule CL-140, field measure: \"turnover\" is not a measure"),
        "{message}"
    );
}

#[test]
fn a_table_using_an_id_twice_is_refused() {
    let twice = format!("{GOOD}{}", GOOD.replace("50000", "60000"));
    assert_eq!(refused(&twice), ("CL-140".to_owned(), "id".to_owned()));
}

#[test]
fn a_table_that_is_not_toml_or_holds_other_keys_is_refused() {
    assert!(matches!(
        ThresholdTable::from_toml_str("[[rule]\nid = "),
        Err(ThresholdError::Syntax(_))
    ));
    assert!(matches!(
        ThresholdTable::from_toml_str(&format!("version = 2\n{GOOD}")),
        Err(ThresholdError::Syntax(_))
    ));
    assert_eq!(ThresholdTable::from_toml_str("").unwrap().rules().len(), 0);
}

// ---- The record and its versions ------------------------------------------------------------

fn open(w: &World, case: PenaltyCase, policy: &ScreeningPolicy, now: &str) -> PenaltyRecord {
    let calendar = w.law.calendar.current();
    PenaltyRecord::open(
        CaseId::generate(),
        case,
        &w.market,
        policy,
        &calendar,
        at(now),
    )
    .unwrap()
}

#[test]
fn the_parties_of_a_record_never_print_but_travel_in_clear() {
    let record = sales("60000");
    let printed = format!("{record:?}");
    assert!(!printed.contains("张三"), "{printed}");
    assert!(!printed.contains("350102199001011234"), "{printed}");
    assert!(printed.contains("«redacted»"));
    let json = serde_json::to_string(&record).unwrap();
    assert!(json.contains("张三"));
    let back: PenaltyCase = serde_json::from_str(&json).unwrap();
    assert_eq!(back, record);
    // Money is written as exact decimal strings.
    assert!(json.contains("\"sales_amount\":\"60000.00\""), "{json}");
}

#[test]
fn a_correction_is_a_new_version_that_supersedes_the_last_and_is_screened_again() {
    let w = world();
    let table = shipped();
    let first = open(&w, sales("40000"), &ScreeningPolicy::default(), NOW);
    assert_eq!(first.current().number, 1);
    assert_eq!(first.current().supersedes(), None);
    assert!(screen(&first.current().case, &table).is_empty());

    let corrected = first
        .correct(
            sales("65000"),
            "复核销售台账，销售金额更正为65000元",
            &w.market,
            at("2026-12-08T09:00:00+08:00"),
        )
        .unwrap();
    assert_eq!(corrected.versions().len(), 2);
    let v2 = corrected.current();
    assert_eq!((v2.number, v2.supersedes()), (2, Some(1)));
    assert_eq!(
        v2.correction.as_ref().unwrap().reason,
        "复核销售台账，销售金额更正为65000元"
    );
    assert_eq!(rules_hit(&v2.case, &table), ["CL-140"]);
    // The first version is kept as it was, never overwritten.
    assert_eq!(corrected.version(1), Some(first.current()));
    assert_eq!(
        corrected.version(1).unwrap().case.measures.sales_amount,
        Some(yuan("40000"))
    );
    assert_ne!(corrected.version(1).unwrap().digest(), v2.digest());

    // A correction down below the threshold screens negative again.
    let lowered = corrected
        .correct(
            sales("45000"),
            "剔除重复计算",
            &w.market,
            at("2026-12-09T09:00:00+08:00"),
        )
        .unwrap();
    assert_eq!(lowered.current().supersedes(), Some(2));
    assert!(screen(&lowered.current().case, &table).is_empty());
}

#[test]
fn only_the_recording_agency_corrects_with_a_reason_and_a_change() {
    let w = world();
    let record = open(&w, sales("40000"), &ScreeningPolicy::default(), NOW);
    let later = at("2026-12-08T09:00:00+08:00");
    assert!(matches!(
        record.correct(sales("65000"), "更正", &w.environment, later),
        Err(Rejection::NotAParty { .. })
    ));
    assert!(matches!(
        record.correct(sales("65000"), "  ", &w.market, later),
        Err(Rejection::Invalid {
            field: "reason",
            ..
        })
    ));
    assert!(matches!(
        record.correct(sales("40000"), "更正", &w.market, later),
        Err(Rejection::Invalid { field: "case", .. })
    ));
}

#[test]
fn only_an_administrative_agency_records_a_complete_case_decided_before_today() {
    let w = world();
    let calendar = w.law.calendar.current();
    let policy = ScreeningPolicy::default();
    let record = |case: PenaltyCase, by: &crate::Agency| {
        PenaltyRecord::open(CaseId::generate(), case, by, &policy, &calendar, at(NOW))
    };
    let refusal = record(sales("1"), &w.police).unwrap_err();
    assert_eq!(refusal.rule(), "AUTH-ROLE");
    let mut no_party = sales("1");
    no_party.parties.clear();
    assert_eq!(
        record(no_party, &w.market).unwrap_err().field(),
        Some("parties")
    );
    let mut future = sales("1");
    future.decision.decided_on = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
    assert_eq!(
        record(future, &w.market).unwrap_err().field(),
        Some("decision.decided_on")
    );
    let mut blank = sales("1");
    blank.case_number = " ".into();
    assert_eq!(
        record(blank, &w.market).unwrap_err().field(),
        Some("case_number")
    );
    let twice = case(
        "illegal_logging",
        Measures {
            quantities: vec![
                Quantity {
                    unit: "株".into(),
                    value: Number::parse("3").unwrap(),
                },
                Quantity {
                    unit: "株".into(),
                    value: Number::parse("4").unwrap(),
                },
            ],
            ..Measures::default()
        },
    );
    assert_eq!(
        record(twice, &w.market).unwrap_err().field(),
        Some("measures.quantities.unit")
    );
}

#[test]
fn no_entry_period_is_set_by_default_and_a_set_one_marks_a_late_record_without_refusing_it() {
    let w = world();
    let default = open(
        &w,
        sales("1"),
        &ScreeningPolicy::default(),
        "2027-03-01T10:00:00+08:00",
    );
    assert_eq!(default.current().late_since, None);

    // Decided Tuesday 2026-12-01; 5 working days end with Tuesday 2026-12-08.
    let policy = ScreeningPolicy {
        entry_within: Some(Period::new(5, Unit::WorkingDays)),
        ..ScreeningPolicy::default()
    };
    let on_time = open(&w, sales("1"), &policy, "2026-12-08T23:59:00+08:00");
    assert_eq!(on_time.current().late_since, None);
    let late = open(&w, sales("1"), &policy, "2026-12-09T08:00:00+08:00");
    assert_eq!(
        late.current().late_since,
        Some(at("2026-12-09T00:00:00+08:00"))
    );
}

#[test]
fn a_stored_record_reads_back_and_one_with_versions_out_of_sequence_is_refused() {
    let w = world();
    let record = open(&w, sales("40000"), &ScreeningPolicy::default(), NOW)
        .correct(sales("65000"), "更正", &w.market, at(NOW))
        .unwrap();
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(
        serde_json::from_value::<PenaltyRecord>(json.clone()).unwrap(),
        record
    );
    let mut dropped = json.clone();
    dropped["versions"].as_array_mut().unwrap().remove(0);
    assert!(serde_json::from_value::<PenaltyRecord>(dropped).is_err());
    let mut empty = json;
    empty["versions"] = serde_json::json!([]);
    assert!(serde_json::from_value::<PenaltyRecord>(empty).is_err());
}

// ---- The documentation ----------------------------------------------------------------------

#[test]
fn docs_screening_lists_every_shipped_rule_with_its_source_and_every_warning_status() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screening.md");
    let docs = std::fs::read_to_string(path).unwrap();
    for rule in shipped().rules() {
        let row = docs
            .lines()
            .find(|line| line.starts_with(&format!("| `{}` |", rule.id)))
            .unwrap_or_else(|| panic!("docs/screening.md has no row for {}", rule.id));
        assert!(row.contains(&rule.source), "{}: {row}", rule.id);
        assert!(row.contains(rule.violation.as_str()), "{}: {row}", rule.id);
        let verified = if rule.verified { "| yes" } else { "| no" };
        assert!(row.contains(verified), "{}: {row}", rule.id);
    }
    for status in warning::WarningStatus::ALL {
        let zh = crate::refusal::zh::status_zh(status.as_str()).unwrap();
        assert!(
            docs.contains(&format!("| `{}` | {zh} |", status.as_str())),
            "docs/screening.md lacks status {status}"
        );
    }
    let law = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/law.md"),
    )
    .unwrap();
    assert!(
        law.contains("(screening.md)"),
        "docs/law.md links to screening.md"
    );
}

proptest::proptest! {
    #[test]
    fn a_sales_amount_screens_under_art_140_exactly_when_it_is_at_least_50000_yuan(
        fen in 0i64..20_000_000
    ) {
        let amount = Amount::from_fen(fen).unwrap();
        let hit = !screen(&sales(&amount.to_string()), &shipped()).is_empty();
        proptest::prop_assert_eq!(hit, fen >= 5_000_000);
        // The decimal string reads back to the same fen.
        proptest::prop_assert_eq!(Amount::parse(&amount.to_string()).unwrap(), amount);
    }

    #[test]
    fn unsold_goods_screen_as_an_attempt_exactly_from_150000_yuan(fen in 0i64..40_000_000) {
        let amount = Amount::from_fen(fen).unwrap();
        let hits = rules_hit(&unsold(&amount.to_string()), &shipped());
        let expected: Vec<String> = if fen >= 15_000_000 {
            vec!["CL-140-ATT".to_owned()]
        } else {
            Vec::new()
        };
        proptest::prop_assert_eq!(hits, expected);
    }
}
