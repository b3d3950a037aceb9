//! The Chinese explanation (issue 15 item 4, "fully bilingual"): every rule of the shipped table
//! states its step in Chinese, and every line of a due time's ledger reads in Chinese.

use super::*;
use crate::calendar::tests::official;
use crate::time::Timestamp;

const RULES: &str = include_str!("../../../../deploy/rules.toml");

fn table() -> RuleTable {
    RuleTable::from_toml_str(RULES).expect("shipped rule table loads")
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("time")
}

fn is_chinese(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

#[test]
fn every_shipped_rule_states_its_step_in_chinese() {
    let table = table();
    assert!(!table.rules().is_empty());
    for rule in table.rules() {
        let zh = &rule.step_zh;
        assert!(
            zh.chars().filter(|c| is_chinese(*c)).count() >= 4,
            "rule {} has no Chinese step: {zh:?}",
            rule.id
        );
        assert!(
            !zh.chars().any(|c| c.is_ascii_alphabetic()) || zh.contains("S1-8"),
            "rule {}'s Chinese step is written in English: {zh:?}",
            rule.id
        );
        assert_eq!(rule.step_in_chinese(), zh);
        let headline = rule.headline_line();
        assert!(headline.zh.starts_with(&format!("规则 {}（", rule.id)));
        assert!(headline.zh.ends_with(zh.as_str()), "{}", headline.zh);
    }
}

#[test]
fn a_rule_headline_cites_its_articles_in_chinese() {
    let table = table();
    let s1_8 = table.get("S1-8").expect("S1-8");
    assert_eq!(
        s1_8.headline_line().zh,
        format!("规则 S1-8（S1 第8条；S2 第180条）：{}", s1_8.step_zh)
    );
    assert_eq!(basis_zh("S4 Arts 18, 20, 64"), "S4 第18、20、64条");
    assert_eq!(
        basis_zh("V2 S21, S24; U S22, S23"),
        "V2 S21、S24；U S22、S23"
    );
    assert_eq!(
        basis_zh("docs/law.md §3 cross-cutting"),
        "docs/law.md §3 cross-cutting"
    );
}

#[test]
fn the_worked_example_of_domain_section_2_reads_in_chinese() {
    let rule = table().get("S1-5b").cloned().expect("S1-5b");
    let due = rule_due(&official(), &rule, at("2026-02-13T10:00:00+08:00"))
        .unwrap()
        .expect("a period");
    assert_eq!(
        due.due.explanation_zh,
        [
            "规则 S1-5b（S1 第5条）：正职负责人或者主持工作的负责人自接到报告之日起作出批准移送\
             或者不批准移送的决定（移送审批）",
            "自2026-02-13（周五）起3日（开始当日不计入）",
            "第3日为2026-02-16（周一），逢春节假期（2026-02-15至2026-02-23）；顺延至下一个工作日\
             2026-02-24（周二）",
            "期限届满：2026-02-24 24:00（北京时间）",
            "⚠ 如按工作日计算，期限将于2026-02-25 24:00（北京时间）届满",
        ]
    );
    // Line for line with the English.
    assert_eq!(due.due.explanation.len(), due.due.explanation_zh.len());
    assert_eq!(
        due.due.explanation[2],
        "day 3 is 2026-02-16 (Mon), in 春节 Spring Festival (2026-02-15..2026-02-23); rolled to the next working day 2026-02-24 (Tue)"
    );
}

#[test]
fn an_explanation_over_the_spring_festival_with_a_stop_and_an_extension_reads_in_chinese() {
    let calendar = official();
    let rule = table().get("SAMR-18").cloned().expect("SAMR-18");
    let mut o = Obligation::under(&rule, at("2026-02-10T10:00:00+08:00")).expect("a period");
    o.pause(
        at("2026-02-11T09:00:00+08:00"),
        "11350100MB0100003T",
        "opinion.requested (opinion 7)",
    )
    .expect("stop");
    o.resume(at("2026-02-12T17:00:00+08:00")).expect("restart");
    o.extend(
        &calendar,
        &rule.extensions,
        ExtensionTarget::Tier(1),
        "11350100MB0100003T",
        "案情复杂",
        "榕环延〔2026〕3号",
        at("2026-02-26T10:00:00+08:00"),
    )
    .expect("extended");
    // Day 1 is Wed 02-11, the day the clock stopped; 29 are left from Thu 02-12: Fri 02-13,
    // the make-up Sat 02-14, then (after 春节 02-15..02-23) 02-24..02-27, the make-up Sat
    // 02-28 and the working days of March to Tue 03-31.
    let (en, zh) = Line::split(o.explain_lines(&calendar));
    assert_eq!(
        zh,
        [
            "自2026-02-10（周二）起30个工作日，从次日起按工作日计算",
            "2026-02-26 10:00（北京时间）由11350100MB0100003T延长至30个工作日（第1档；审批文号\
             榕环延〔2026〕3号）：案情复杂",
            "2026-02-11 09:00（北京时间）至2026-02-12 17:00（北京时间）期限中止\
             （11350100MB0100003T：「委托认定、检验或鉴定」（认定、检验、鉴定委托 7））：此前已用1个工作日，剩余29个\
             工作日，自2026-02-12（周四）起继续计算（当日不计入）",
            "计入调休上班日：2026-02-14、2026-02-28",
            "不计节假日：春节（2026-02-15至2026-02-23）",
            "不计周末休息日：9日",
            "第29个工作日为2026-03-31（周二）",
            "期限届满：2026-03-31 24:00（北京时间）",
        ]
    );
    assert_eq!(en, o.explain(&calendar));
    assert_eq!(en.len(), zh.len());
    assert_eq!(en[5], "weekend days skipped: 9");
    // The rule's extension tier and period, in Chinese.
    assert_eq!(rule.extensions[0].zh(), "30个工作日");
    assert_eq!(o.period.zh(), "15个工作日");
    assert_eq!(Period::new(24, Unit::Hours).zh(), "24小时");
    assert_eq!(Period::new(3, Unit::CalendarDays).zh(), "3日");
}

#[test]
fn a_stopped_clock_says_in_chinese_why_there_is_no_due_time() {
    let rule = table().get("APL-60").cloned().expect("APL-60");
    let mut o = Obligation::under(&rule, at("2026-07-02T10:00:00+08:00")).expect("a period");
    o.pause(
        at("2026-08-10T09:00:00+08:00"),
        "11350100MB0100003T",
        "transfer.suspended",
    )
    .expect("stop");
    let (_, zh) = Line::split(o.explain_lines(&official()));
    assert_eq!(
        zh,
        [
            "自2026-07-02 10:00（北京时间）起90日",
            "自2026-08-10 09:00（北京时间）起期限中止（11350100MB0100003T：「中止」）",
            "暂无届满时间：期限自2026-08-10 09:00（北京时间）起中止，恢复计算前无届满时间",
        ]
    );
}

#[test]
fn provisional_years_and_holiday_names_read_in_chinese() {
    use crate::calendar::{holiday_name_zh, provisional_line_zh};
    assert_eq!(holiday_name_zh("春节 Spring Festival"), "春节");
    assert_eq!(
        holiday_name_zh("中秋节 Mid-Autumn Festival、国庆节 National Day"),
        "中秋节、国庆节"
    );
    assert_eq!(holiday_name_zh("Spring Festival"), "Spring Festival");
    assert_eq!(
        provisional_line_zh(2027),
        "2027年节假日安排尚未公布，暂按法定节假日计算，不计调休上班日"
    );
    // A count into 2027 says so in both languages, line for line.
    let o = Obligation::new(
        "SAMR-45",
        Period::new(15, Unit::WorkingDays),
        at("2026-12-20T10:00:00+08:00"),
    );
    let due = o.due(&official()).expect("a provisional due time");
    assert_eq!(due.explanation.len(), due.explanation_zh.len());
    assert!(due.explanation_zh.contains(&provisional_line_zh(2027)));
    assert!(
        due.explanation_zh
            .contains(&"不计节假日：元旦（2027-01-01至2027-01-01）".to_owned()),
        "{:#?}",
        due.explanation_zh
    );
}
