use proptest::prelude::*;

use super::*;
use crate::calendar::tests::{d, official};

const RULES: &str = include_str!("../../../../deploy/rules.toml");

fn table() -> RuleTable {
    RuleTable::from_toml_str(RULES).expect("shipped rule table loads")
}

/// 10:00 CST on `date`.
fn morning(date: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("{date}T10:00:00+08:00")).expect("time")
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("time")
}

#[test]
fn the_worked_example_of_domain_section_2() {
    let calendar = official();
    let rule = table().get("S1-5b").cloned().expect("S1-5b");
    let due = rule_due(&calendar, &rule, morning("2026-02-13"))
        .unwrap()
        .expect("a period");
    assert_eq!(due.due.last_day, Some(d("2026-02-24")));
    assert_eq!(due.due.display_at(), "2026-02-24 24:00 CST");
    assert_eq!(due.due.at, at("2026-02-25T00:00:00+08:00"));
    let (unit, other) = due.other_reading.expect("the working-day reading is later");
    assert_eq!(unit, Unit::WorkingDays);
    assert_eq!(other.last_day, Some(d("2026-02-25")));
    let text = due.due.explanation.join("\n");
    assert!(
        text.contains("day 3 is 2026-02-16 (Mon), in 春节 Spring Festival"),
        "{text}"
    );
    assert!(
        text.contains("rolled to the next working day 2026-02-24"),
        "{text}"
    );
    assert!(text.contains("⚠ read as working days, the period would end 2026-02-25 24:00 CST"));
    let other = other.explanation.join("\n");
    assert!(
        other.contains("make-up working days counted: 2026-02-14"),
        "{other}"
    );
}

/// Every rule with a period, started before a holiday, with the last day expected (computed
/// by hand and by an independent script). Hour rules give the expected instant instead.
#[test]
fn every_rule_computes_a_real_due_date_across_a_holiday() {
    let calendar = official();
    let table = table();
    let days = [
        ("S1-5b", "2026-02-13", "2026-02-24"),
        ("RCPT", "2026-02-13", "2026-02-14"),
        ("P180-3", "2026-04-02", "2026-04-07"),
        ("P180-2b", "2026-04-30", "2026-05-06"),
        ("S1-8", "2026-09-23", "2026-09-28"),
        ("S1-12", "2026-09-29", "2026-10-08"),
        ("S1-9a", "2025-12-30", "2026-01-04"),
        ("S1-9b", "2025-01-26", "2025-02-05"),
        ("S1-9c", "2025-04-02", "2025-04-07"),
        ("P184", "2025-04-29", "2025-05-06"),
        ("P189", "2025-05-29", "2025-06-03"),
        ("S1-13", "2025-09-29", "2025-10-09"),
        ("R560", "2026-02-10", "2026-02-24"),
        ("R561", "2026-09-21", "2026-10-08"),
        ("R562", "2026-06-12", "2026-06-22"),
        ("R563", "2026-09-16", "2026-10-08"),
        ("F1", "2025-12-29", "2026-01-04"),
        ("RCPT-F", "2026-09-30", "2026-10-08"),
        ("SAMR-18", "2026-09-18", "2026-10-15"),
        ("APL-60", "2025-11-17", "2026-02-24"),
        ("SAMR-13", "2026-02-10", "2026-02-26"),
        ("LOC-ACC", "2026-04-02", "2026-04-08"),
        ("LOC-REPLY", "2026-04-28", "2026-05-11"),
        ("SAMR-16", "2026-06-15", "2026-06-25"),
        ("SJ-13", "2025-12-26", "2026-01-07"),
        ("SAMR-45", "2025-09-24", "2025-10-21"),
        ("SJ-28", "2026-01-20", "2026-03-09"),
    ];
    let hours = [
        (
            "S1-5c",
            "2026-09-30T10:00:00+08:00",
            "2026-10-01T10:00:00+08:00",
        ),
        (
            "S1-7",
            "2026-04-03T15:00:00+08:00",
            "2026-04-04T15:00:00+08:00",
        ),
        (
            "P180-2a",
            "2026-05-01T09:00:00+08:00",
            "2026-05-02T09:00:00+08:00",
        ),
        (
            "RCPT-FU",
            "2026-10-01T23:00:00+08:00",
            "2026-10-02T01:00:00+08:00",
        ),
    ];
    let mut covered = Vec::new();
    for (id, start, last) in days {
        let rule = table.get(id).unwrap_or_else(|| panic!("rule {id}"));
        let due = rule_due(&calendar, rule, morning(start))
            .unwrap()
            .unwrap_or_else(|| panic!("{id} has a period"));
        assert_eq!(due.due.last_day, Some(d(last)), "{id} from {start}");
        assert_eq!(due.due.at, end_of_day(d(last)), "{id} ends at 24:00");
        assert!(due.due.explanation[0].contains(id));
        covered.push(id);
    }
    for (id, start, end) in hours {
        let rule = table.get(id).unwrap_or_else(|| panic!("rule {id}"));
        let due = rule_due(&calendar, rule, at(start))
            .unwrap()
            .expect("period");
        assert_eq!(
            due.due.at,
            at(end),
            "{id}: hours are clock time over holidays"
        );
        assert_eq!(due.due.last_day, None);
        covered.push(id);
    }
    let with_period: Vec<&str> = table
        .rules()
        .iter()
        .filter(|r| r.period.is_some())
        .map(|r| r.id.as_str())
        .collect();
    for id in with_period {
        assert!(covered.contains(&id), "rule {id} has no due-date test");
    }
}

#[test]
fn the_rule_table_holds_every_rule_id_of_domain_section_3() {
    let table = table();
    for id in [
        "S1-5b",
        "S1-5c",
        "CC",
        "RCPT",
        "S1-7",
        "P180-3",
        "P180-2a",
        "P180-2b",
        "S1-8",
        "EXT",
        "S1-12",
        "S1-9a",
        "S1-9b",
        "S1-9c",
        "P184",
        "P189",
        "S1-13",
        "R560",
        "R561",
        "R562",
        "R563",
        "F1",
        "F2",
        "SAMR-18",
        "APL-60",
        "G1",
        "SAMR-13",
        "G2",
        "LOC-ACC",
        "LOC-REPLY",
        "SAMR-16",
        "H1",
        "SJ-13",
        "SJ-28p",
        "SAMR-45x",
        "SAMR-45",
        "SJ-28",
    ] {
        assert!(table.get(id).is_some(), "rule {id} missing");
    }
    for id in ["S1-5b", "P180-2b", "S1-12", "S1-9a", "S1-9c"] {
        assert_eq!(
            table.get(id).and_then(|r| r.other_reading),
            Some(Unit::WorkingDays),
            "⚠ rule {id} shows the other reading"
        );
    }
    for id in ["P180-3", "S1-13", "LOC-ACC", "LOC-REPLY", "EXT"] {
        assert!(
            !table.get(id).expect("rule").verified,
            "{id} is marked unverified"
        );
    }
    assert_eq!(table.warn_before, Period::new(1, Unit::WorkingDays));
}

#[test]
fn events_find_the_rules_they_open_close_and_pause() {
    let table = table();
    let ids = |rules: Vec<&Rule>| rules.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(table.opened_by("referral.receipt_signed").collect()),
        ["S1-8"]
    );
    assert_eq!(
        ids(table.closed_by("referral.receipt_signed").collect()),
        ["RCPT"]
    );
    assert_eq!(
        ids(table.paused_by("opinion.requested").collect()),
        ["SAMR-18", "APL-60"]
    );
    let urgent = serde_json::json!({ "urgent": true });
    let plain = serde_json::json!({});
    let opened = |detail: &serde_json::Value| {
        table
            .opened_by("transfer.sent")
            .filter(|r| r.applies_to(detail))
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(opened(&urgent), ["RCPT-FU"]);
    assert_eq!(opened(&plain), ["RCPT-F"]);
}

#[test]
fn a_bad_rule_table_names_the_rule_and_the_problem() {
    let head = "warn_before = { amount = 1, unit = \"working_days\" }\n";
    let rule = |body: &str| {
        format!(
            "{head}[[rule]]\nid = \"X-1\"\nfamily = \"referral\"\nstep = \"s\"\nbasis = \"b\"\n{body}"
        )
    };
    let cases = [
        (rule("amount = 3\nunit = \"fortnights\""), "X-1"),
        (rule("amount = 3"), "amount and unit go together"),
        (
            rule(
                "amount = 3\nunit = \"hours\"\nclosed_by = [\"referral.filed\"]\nowed_by = \"recipient\"\nescalate_to = \"procuratorate\"",
            ),
            "a timer rule needs trigger",
        ),
        (
            rule("kind = \"none\"\ntrigger = [\"transfer.sent\"]"),
            "is not a referral event",
        ),
        (rule("kind = \"none\"\nowed_by = \"janitor\""), "X-1"),
        (
            format!(
                "{}\n[[rule]]\nid = \"X-1\"\nfamily = \"referral\"\nstep = \"s\"\nbasis = \"b\"\nkind = \"none\"",
                rule("kind = \"none\"")
            ),
            "used twice",
        ),
    ];
    for (text, expected) in cases {
        let err = RuleTable::from_toml_str(&text).unwrap_err().to_string();
        assert!(
            err.contains(expected),
            "{err:?} should mention {expected:?}"
        );
        assert!(err.contains("X-1"), "{err:?} should name the rule");
    }
}

#[test]
fn a_year_without_a_calendar_gives_no_due_date() {
    let calendar = official();
    let err = compute_due(
        &calendar,
        morning("2026-12-30"),
        Period::new(3, Unit::CalendarDays),
    )
    .unwrap_err();
    assert_eq!(err, CalendarError::YearNotLoaded { year: 2027 });
    // Hours need no calendar.
    assert!(
        compute_due(
            &calendar,
            morning("2027-06-01"),
            Period::new(24, Unit::Hours)
        )
        .is_ok()
    );
}

#[test]
fn a_pause_moves_the_due_time_and_is_explained() {
    let calendar = official();
    // S1-8 from Mon 2026-03-02: due Thu 03-05 24:00.
    let mut o = Obligation::new(
        "S1-8",
        Period::new(3, Unit::CalendarDays),
        morning("2026-03-02"),
    );
    assert_eq!(o.due(&calendar).unwrap().last_day, Some(d("2026-03-05")));
    o.pause(
        morning("2026-03-03"),
        "11350100MB01000064",
        "materials requested",
    )
    .unwrap();
    assert!(matches!(
        o.due(&calendar),
        Err(ObligationError::Paused { .. })
    ));
    assert!(matches!(
        o.pause(morning("2026-03-03"), "x", "y"),
        Err(ObligationError::AlreadyPaused { .. })
    ));
    // Two days stopped: due moves to Sat 03-07, a weekend, rolled to Mon 03-09.
    o.resume(morning("2026-03-05")).unwrap();
    let due = o.due(&calendar).unwrap();
    assert_eq!(due.last_day, Some(d("2026-03-09")));
    let text = due.explanation.join("\n");
    assert!(
        text.contains("by 11350100MB01000064: materials requested"),
        "{text}"
    );
    assert!(text.contains("48 h stopped"), "{text}");
    assert_eq!(
        o.resume(morning("2026-03-06")),
        Err(ObligationError::NotPaused)
    );
}

#[test]
fn an_extension_counts_on_from_the_old_due_date_and_must_come_before_it() {
    let calendar = official();
    // SAMR-45 from Mon 2026-03-02: 15 working days → Mon 03-23.
    let mut o = Obligation::new(
        "SAMR-45",
        Period::new(15, Unit::WorkingDays),
        morning("2026-03-02"),
    );
    assert_eq!(o.due(&calendar).unwrap().last_day, Some(d("2026-03-23")));
    let extension = |made_at| Extension {
        by_period: Period::new(15, Unit::WorkingDays),
        by: "12350100MB0100010F".into(),
        why: "samples need a second test".into(),
        reference: "鉴延〔2026〕3号".into(),
        made_at,
    };
    let late = o.extend(&calendar, extension(morning("2026-03-24")));
    assert!(matches!(
        late,
        Err(ObligationError::ExtensionTooLate { .. })
    ));
    o.extend(&calendar, extension(morning("2026-03-19")))
        .unwrap();
    // 15 more working days from Mon 03-23: 03-24..27 (4), 03-30..04-03 (9), [04-04..06 Qingming],
    // 04-07..04-10 (13), 04-13 (14), 04-14 (15).
    let due = o.due(&calendar).unwrap();
    assert_eq!(due.last_day, Some(d("2026-04-14")));
    assert!(
        due.explanation
            .join("\n")
            .contains("approval 鉴延〔2026〕3号")
    );
}

#[test]
fn warnings_come_one_working_day_ahead_and_never_before_the_start() {
    let calendar = official();
    let o = Obligation::new(
        "S1-5b",
        Period::new(3, Unit::CalendarDays),
        morning("2026-02-13"),
    );
    // Due 02-24 24:00; the working day before 02-24 is the make-up Saturday 02-14.
    let warn = o
        .warn_at(&calendar, Period::new(1, Unit::WorkingDays))
        .unwrap();
    assert_eq!(warn, end_of_day(d("2026-02-14")));
    let hours = Obligation::new("S1-5c", Period::new(24, Unit::Hours), morning("2026-03-02"));
    assert_eq!(
        hours
            .warn_at(&calendar, Period::new(4, Unit::Hours))
            .unwrap(),
        at("2026-03-03T06:00:00+08:00")
    );
    assert_eq!(
        hours
            .warn_at(&calendar, Period::new(2, Unit::WorkingDays))
            .unwrap(),
        morning("2026-03-02"),
        "a lead longer than the period warns at the start"
    );
    assert!(
        hours
            .is_late(&calendar, at("2026-03-03T10:00:00.001+08:00"))
            .unwrap()
    );
    assert!(
        !hours
            .is_late(&calendar, at("2026-03-03T10:00:00+08:00"))
            .unwrap()
    );
}

fn start_in_loaded_years() -> impl Strategy<Value = Timestamp> {
    // 2025-01-01 to 2026-09-30 CST, so that 60 more days stay inside loaded years.
    (1_735_660_800_000_i64..1_790_697_600_000).prop_map(Timestamp::from_millis)
}

fn day_unit() -> impl Strategy<Value = Unit> {
    prop_oneof![Just(Unit::CalendarDays), Just(Unit::WorkingDays)]
}

proptest! {
    #[test]
    fn a_day_period_always_ends_on_a_working_day(start in start_in_loaded_years(), n in 1u32..40, unit in day_unit()) {
        let calendar = official();
        let due = compute_due(&calendar, start, Period::new(n, unit)).unwrap();
        let last = due.last_day.expect("day period");
        prop_assert!(calendar.is_working_day(last).unwrap());
        prop_assert_eq!(due.at, end_of_day(last));
    }

    #[test]
    fn more_time_never_ends_earlier(start in start_in_loaded_years(), n in 0u32..40, unit in prop_oneof![Just(Unit::Hours), day_unit()]) {
        let calendar = official();
        let shorter = compute_due(&calendar, start, Period::new(n, unit)).unwrap();
        let longer = compute_due(&calendar, start, Period::new(n + 1, unit)).unwrap();
        prop_assert!(longer.at >= shorter.at);
    }

    #[test]
    fn a_due_time_is_after_its_start(start in start_in_loaded_years(), n in 1u32..40, unit in prop_oneof![Just(Unit::Hours), day_unit()]) {
        let calendar = official();
        let due = compute_due(&calendar, start, Period::new(n, unit)).unwrap();
        prop_assert!(due.at > start);
    }

    #[test]
    fn working_days_never_end_before_calendar_days(start in start_in_loaded_years(), n in 1u32..40) {
        let calendar = official();
        let cal = compute_due(&calendar, start, Period::new(n, Unit::CalendarDays)).unwrap();
        let wd = compute_due(&calendar, start, Period::new(n, Unit::WorkingDays)).unwrap();
        prop_assert!(wd.at >= cal.at);
    }
}
