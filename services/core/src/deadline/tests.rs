use chrono::{Days, NaiveDate};
use proptest::prelude::*;

use super::*;
use crate::calendar::tests::{d, official};
use crate::calendar::{self, Calendar, CalendarError, DayKind, end_of_day};
use crate::time::Timestamp;

const RULES: &str = include_str!("../../../../deploy/rules.toml");

fn table() -> RuleTable {
    RuleTable::from_toml_str(RULES).expect("shipped rule table loads")
}

/// A cap on SAMR-45's announced dates, as an operator may set one: 30 working days in all.
const CAP: &[Period] = &[Period {
    amount: 30,
    unit: Unit::WorkingDays,
}];

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
fn a_count_past_the_last_date_fails_instead_of_ending_on_the_start_day() {
    // Found by the `calendar` fuzz target: 1 350 594 688 calendar days from 2094-10-18 ended on
    // 2094-10-18, before a count of one day.
    let calendar = official();
    let start = morning("2026-03-02");
    for amount in [1_350_594_688, u32::MAX] {
        let due = compute_due(&calendar, start, Period::new(amount, Unit::CalendarDays));
        assert!(
            matches!(due, Err(CalendarError::YearNotLoaded { year }) if year > 2099),
            "{amount} days: {due:?}"
        );
    }
}

#[test]
fn every_rule_computes_a_real_due_date_across_a_holiday() {
    let calendar = official();
    let table = table();
    let days = [
        ("S1-5b", "2026-02-13", "2026-02-24"),
        ("RCPT", "2026-09-30", "2026-10-08"),
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
        // 5 working days over National Day and the Saturday made a working day (10-10).
        ("WARN-RAISE", "2026-09-29", "2026-10-12"),
        // 10 working days over Labour Day and its Saturday made a working day (05-09).
        ("WARN-ANSWER", "2026-04-28", "2026-05-14"),
        // 30 calendar days ending on National Day (10-02): rolled to the next working day.
        ("RECT-REPORT", "2026-09-02", "2026-10-08"),
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
        assert!(
            crosses_a_holiday(&calendar, d(start), d(last)),
            "{id}: the period {start}..{last} crosses no holiday block"
        );
        let text = due.due.explanation.join("\n");
        assert!(
            text.contains("holidays skipped") || text.contains("rolled to the next working day"),
            "{id}: the explanation names the holiday: {text}"
        );
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
        assert!(
            crosses_a_holiday(
                &calendar,
                calendar::cst_date(at(start)),
                calendar::cst_date(at(end))
            ),
            "{id}: {start}..{end} crosses no holiday block"
        );
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

/// Whether a day in `(start, last]` is in an official holiday block.
fn crosses_a_holiday(calendar: &Calendar, start: NaiveDate, last: NaiveDate) -> bool {
    start
        .iter_days()
        .skip(1)
        .take_while(|day| *day <= last)
        .any(|day| matches!(calendar.day_kind(day), Ok(DayKind::Holiday { .. })))
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
        "F3",
        "F4",
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
    for id in ["P180-3", "S1-13", "LOC-ACC", "LOC-REPLY", "EXT", "F4"] {
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
    // SAMR-18 runs from the delivery too (S4 Art 18).
    assert_eq!(opened(&urgent), ["RCPT-FU", "SAMR-18"]);
    assert_eq!(opened(&plain), ["RCPT-F", "SAMR-18"]);
}

/// An obligation whose step the case can no longer take closes with the event that ended the
/// possibility, rather than escalate a miss nobody could avoid (found by the state-machine fuzz
/// target's deadline model).
#[test]
fn an_obligation_closes_when_its_step_becomes_impossible() {
    let table = table();
    for (event, rule, why) in [
        (
            "referral.case_transferred",
            "S1-12",
            "hand-over is a step on a filed case only",
        ),
        (
            "referral.case_withdrawn",
            "S1-12",
            "hand-over is a step on a filed case only",
        ),
        (
            "referral.handed_back",
            "S1-12",
            "hand-over is a step on a filed case only",
        ),
        (
            "referral.returned_not_police_matter",
            "R562",
            "a return decides the referral",
        ),
    ] {
        assert!(
            table.closed_by(event).any(|r| r.id == rule),
            "{event} should close {rule}: {why}"
        );
    }
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
            rule(
                "amount = 3\nunit = \"hours\"\ntrigger = [\"referral.submitted\"]\nclosed_by = [\"referral.filed\"]\nowed_by = \"recipient\"\nescalate_to = \"procuratorate\"",
            ),
            "a timer rule needs step_zh",
        ),
        (
            rule("kind = \"none\"\ntrigger = [\"transfer.sent\"]"),
            "is not a referral event",
        ),
        (rule("kind = \"none\"\nowed_by = \"janitor\""), "X-1"),
        (
            rule(
                "kind = \"none\"\npauses_on = [\"referral.filed\"]\npauses_only_if = { \"opinion.requested\" = \"testing\" }",
            ),
            "not one of its pauses_on",
        ),
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
fn a_year_without_an_official_calendar_is_counted_provisionally_and_says_so() {
    let calendar = official();
    // Wed 2026-12-30 + 3 calendar days is Sat 2027-01-02, rolled past the weekend to Mon 01-04
    // (元旦 is Fri 01-01, a weekday: no make-up day).
    let due = compute_due(
        &calendar,
        morning("2026-12-30"),
        Period::new(3, Unit::CalendarDays),
    )
    .expect("a provisional due time");
    assert_eq!(due.last_day, Some(d("2027-01-04")));
    assert_eq!(due.provisional_years, vec![2027]);
    assert!(
        due.explanation.contains(&"2027 calendar not yet published; counted on the statutory holidays, without make-up working days".to_owned()),
        "{:?}",
        due.explanation
    );
    // A period wholly inside a published year is not provisional.
    let official_due = compute_due(
        &calendar,
        morning("2026-12-01"),
        Period::new(3, Unit::CalendarDays),
    )
    .expect("due");
    assert!(!official_due.is_provisional());
    // Beyond the statutory table there is still no guess.
    let err = compute_due(
        &calendar,
        morning("2099-12-30"),
        Period::new(3, Unit::CalendarDays),
    )
    .unwrap_err();
    assert_eq!(err, CalendarError::YearNotLoaded { year: 2100 });
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

const POLICE: &str = "11350100MB01000064";
const EXPERT: &str = "12350100MB0100010F";

#[test]
fn a_pause_keeps_the_days_used_and_counts_the_rest_from_the_restart() {
    let calendar = official();
    // S1-8 from Mon 2026-03-02: due Thu 03-05 24:00.
    let mut o = Obligation::new(
        "S1-8",
        Period::new(3, Unit::CalendarDays),
        morning("2026-03-02"),
    );
    assert_eq!(o.due(&calendar).unwrap().last_day, Some(d("2026-03-05")));
    o.pause(morning("2026-03-03"), POLICE, "materials requested")
        .unwrap();
    assert!(matches!(
        o.due(&calendar),
        Err(ObligationError::Paused { .. })
    ));
    assert!(matches!(
        o.pause(morning("2026-03-03"), "x", "y"),
        Err(ObligationError::AlreadyPaused { .. })
    ));
    // 03-03 is used (1 of 3); 2 days are left from 03-05: day 2 is Sat 03-07, rolled to Mon 03-09.
    o.resume(morning("2026-03-05")).unwrap();
    let due = o.due(&calendar).unwrap();
    assert_eq!(due.last_day, Some(d("2026-03-09")));
    let text = due.explanation.join("\n");
    assert!(
        text.contains("by 11350100MB01000064: materials requested"),
        "{text}"
    );
    assert!(
        text.contains("1 calendar days used before it, 2 left, counted on from 2026-03-05"),
        "{text}"
    );
    assert!(
        text.contains("rolled to the next working day 2026-03-09"),
        "{text}"
    );
    assert_eq!(
        o.resume(morning("2026-03-06")),
        Err(ObligationError::NotPaused)
    );
}

#[test]
fn a_clock_stop_inside_a_holiday_block_costs_no_working_day() {
    let calendar = official();
    // SAMR-18, 15 working days from Thu 2026-02-12: 02-13, 02-14 (make-up), [春节], 02-24..27,
    // 02-28 (make-up), 03-02..06, 03-09..11.
    let mut o = Obligation::new(
        "SAMR-18",
        Period::new(15, Unit::WorkingDays),
        morning("2026-02-12"),
    );
    let before = o.due(&calendar).unwrap();
    assert_eq!(before.last_day, Some(d("2026-03-11")));
    // An opinion request stops the clock over the Spring Festival block only: no working day
    // passes while it is stopped, so the due date stays where it was.
    o.pause(morning("2026-02-15"), EXPERT, "opinion.requested")
        .unwrap();
    o.resume(morning("2026-02-23")).unwrap();
    let after = o.due(&calendar).unwrap();
    assert_eq!(after.last_day, before.last_day, "{:#?}", after.explanation);
    // Stopped from Mon 03-02 to Mon 03-09: 03-02 is used, 03-03..03-06 and 03-09 do not count,
    // so the due date moves by those five working days, 03-11 → 03-18.
    let mut o = Obligation::new(
        "SAMR-18",
        Period::new(15, Unit::WorkingDays),
        morning("2026-02-12"),
    );
    o.pause(morning("2026-03-02"), EXPERT, "opinion.requested")
        .unwrap();
    o.resume(morning("2026-03-09")).unwrap();
    assert_eq!(o.due(&calendar).unwrap().last_day, Some(d("2026-03-18")));
}

#[test]
fn a_clock_stop_after_the_due_time_revives_nothing() {
    let calendar = official();
    let mut o = Obligation::new(
        "S1-8",
        Period::new(3, Unit::CalendarDays),
        morning("2026-03-02"),
    );
    o.pause(
        morning("2026-03-06"),
        POLICE,
        "referral.supplement_requested",
    )
    .unwrap();
    // Still stopped, but the period had ended: the due time stands and stays overdue.
    let due = o.due(&calendar).unwrap();
    assert_eq!(due.last_day, Some(d("2026-03-05")));
    assert!(due.explanation.join("\n").contains("no effect"));
    assert!(o.is_late(&calendar, morning("2026-03-06")).unwrap());
}

#[test]
fn an_hour_period_moves_by_the_clock_time_stopped() {
    let calendar = official();
    let mut o = Obligation::new("S1-7", Period::new(24, Unit::Hours), morning("2026-03-02"));
    o.pause(at("2026-03-02T12:00:00+08:00"), POLICE, "stop")
        .unwrap();
    o.resume(at("2026-03-02T18:30:00+08:00")).unwrap();
    assert_eq!(
        o.due(&calendar).unwrap().at,
        at("2026-03-03T16:30:00+08:00")
    );
}

fn extend(
    o: &mut Obligation,
    tiers: &[Period],
    target: ExtensionTarget,
    made_at: Timestamp,
) -> Result<Due, ExtensionRefusal> {
    let calendar = official();
    o.extend(
        &calendar,
        tiers,
        target,
        EXPERT,
        "samples need a second test",
        "鉴延〔2026〕3号",
        made_at,
    )
}

#[test]
fn an_extension_lengthens_the_period_counted_from_the_start_and_must_come_before_it_ends() {
    let table = table();
    let rule = table.get("SAMR-45").expect("SAMR-45");
    // The shipped table lets the expert announce any later date (S4 Art 45); a capped reading
    // is a setting: a tier of 30 working days here.
    assert!(rule.extensions.is_empty() && rule.announce_any_date);
    // SAMR-45 from Mon 2026-03-02: 15 working days → Mon 03-23.
    let mut o = Obligation::under(rule, morning("2026-03-02")).expect("a period");
    assert_eq!(o.due(&official()).unwrap().last_day, Some(d("2026-03-23")));
    let late = extend(
        &mut o,
        CAP,
        ExtensionTarget::Tier(1),
        end_of_day(d("2026-03-23")),
    );
    assert!(
        matches!(late, Err(ExtensionRefusal::TooLate { ref due, .. }) if due == "2026-03-23 24:00 CST"),
        "{late:?}"
    );
    assert!(late.unwrap_err().to_string().contains("S4 Art 45"));
    // 30 working days from 03-02: 03-23 is the 15th, then 03-24..27 (19), 03-30..04-03 (24),
    // [04-04..06 Qingming], 04-07..04-10 (28), 04-13 (29), 04-14 (30).
    let due = extend(&mut o, CAP, ExtensionTarget::Tier(1), morning("2026-03-19")).unwrap();
    assert_eq!(due.last_day, Some(d("2026-04-14")));
    let text = due.explanation.join("\n");
    assert!(text.contains("approval 鉴延〔2026〕3号"), "{text}");
    assert!(text.contains("to 30 working days (tier 1"), "{text}");
    assert!(text.contains("清明节"), "{text}");
    // The tier is used: asking for it again lengthens nothing.
    assert!(matches!(
        extend(&mut o, CAP, ExtensionTarget::Tier(1), morning("2026-03-20")),
        Err(ExtensionRefusal::TierNotLonger { .. })
    ));
}

#[test]
fn the_review_period_extends_to_seven_or_thirty_days_from_acceptance() {
    let table = table();
    let rule = table.get("S1-8").expect("S1-8");
    assert_eq!(
        rule.extensions,
        [
            Period::new(7, Unit::CalendarDays),
            Period::new(30, Unit::CalendarDays)
        ]
    );
    // Accepted Mon 2026-03-02: 3 days → Thu 03-05; to 7 → Mon 03-09; to 30 → Wed 04-01.
    let mut seven = Obligation::under(rule, morning("2026-03-02")).expect("a period");
    let due = extend(
        &mut seven,
        &rule.extensions,
        ExtensionTarget::Tier(1),
        morning("2026-03-04"),
    )
    .unwrap();
    assert_eq!(due.last_day, Some(d("2026-03-09")));
    let due = extend(
        &mut seven,
        &rule.extensions,
        ExtensionTarget::Tier(2),
        morning("2026-03-06"),
    )
    .unwrap();
    assert_eq!(due.last_day, Some(d("2026-04-01")));
    // A major case may go to 30 days at once.
    let mut thirty = Obligation::under(rule, morning("2026-03-02")).expect("a period");
    let due = extend(
        &mut thirty,
        &rule.extensions,
        ExtensionTarget::Tier(2),
        morning("2026-03-04"),
    )
    .unwrap();
    assert_eq!(due.last_day, Some(d("2026-04-01")));
    assert!(matches!(
        extend(
            &mut thirty,
            &rule.extensions,
            ExtensionTarget::Tier(3),
            morning("2026-03-05")
        ),
        Err(ExtensionRefusal::NoSuchTier {
            tier: 3,
            tiers: 2,
            ..
        })
    ));
}

#[test]
fn in_december_an_announced_date_is_accepted_though_the_last_tier_ends_in_an_unpublished_year() {
    let table = table();
    let rule = table.get("SAMR-45").expect("SAMR-45");
    // Accepted Tue 2026-12-01: 15 working days end 12-22; the last tier (30) ends in 2027,
    // whose schedule is not published yet.
    let fresh = || Obligation::under(rule, morning("2026-12-01")).expect("a period");
    let mut o = fresh();
    let due = extend(
        &mut o,
        CAP,
        ExtensionTarget::Until(d("2026-12-30")),
        morning("2026-12-10"),
    )
    .expect("a date in a loaded year, within any reading of the last tier");
    assert_eq!(due.last_day, Some(d("2026-12-30")));
    // 12-30 is the 21st working day after 12-01.
    assert_eq!(o.period_in_force(), Period::new(21, Unit::WorkingDays));
    // A date in 2027 is placed on the provisional calendar, and says so.
    let mut o = fresh();
    let due = extend(
        &mut o,
        CAP,
        ExtensionTarget::Until(d("2027-01-06")),
        morning("2026-12-10"),
    )
    .expect("a date in a provisional year");
    assert_eq!(due.last_day, Some(d("2027-01-06")));
    assert_eq!(due.provisional_years, vec![2027]);
}

#[test]
fn an_announced_date_may_not_pass_the_last_tier_and_a_holiday_date_rolls() {
    let table = table();
    let rule = table.get("SAMR-45").expect("SAMR-45");
    let fresh = || Obligation::under(rule, morning("2026-03-02")).expect("a period");
    let until = |date: &str| ExtensionTarget::Until(d(date));
    // Due 03-23; the last tier allows 04-14.
    let refused = extend(
        &mut fresh(),
        CAP,
        until("2026-04-15"),
        morning("2026-03-10"),
    )
    .unwrap_err();
    assert!(
        matches!(refused, ExtensionRefusal::BeyondTiers { ref latest, .. } if latest == "2026-04-14 24:00 CST"),
        "{refused:?}"
    );
    assert!(matches!(
        extend(
            &mut fresh(),
            CAP,
            until("2026-03-23"),
            morning("2026-03-10")
        ),
        Err(ExtensionRefusal::NotLater { .. })
    ));
    // Sat 04-04 is in the Qingming block: the period ends on the next working day, Tue 04-07.
    let mut o = fresh();
    let due = extend(&mut o, CAP, until("2026-04-04"), morning("2026-03-10")).unwrap();
    assert_eq!(due.last_day, Some(d("2026-04-07")));
    assert_eq!(o.period_in_force(), Period::new(25, Unit::WorkingDays));
    assert!(
        due.explanation
            .join("\n")
            .contains("a new last day 2026-04-04 announced")
    );
    // A working-day date is kept as announced.
    let mut o = fresh();
    let due = extend(&mut o, CAP, until("2026-04-10"), morning("2026-03-10")).unwrap();
    assert_eq!(due.last_day, Some(d("2026-04-10")));
}

#[test]
fn samr_45_runs_from_receipt_of_the_request_and_the_expert_may_announce_any_later_date() {
    let table = table();
    let rule = table.get("SAMR-45").expect("SAMR-45");
    assert_eq!(rule.trigger, ["opinion.requested"]);
    // Issue 13's example: received Mon 2025-09-22 (accepted 09-30). Working days from 09-23:
    // 09-23..26 (4), Sun 09-28 made up (5), 09-29, 09-30 (7), the National Day block 10-01..08,
    // 10-09, 10-10 (9), Sat 10-11 made up (10), 10-13..17 (15): due 10-17, not 10-28.
    let o = Obligation::under(rule, morning("2025-09-22")).expect("a period");
    assert_eq!(o.due(&official()).unwrap().last_day, Some(d("2025-10-17")));
    // No cap: a date months later is accepted, a holiday date rolls, an earlier one is not later.
    let announce = |o: &mut Obligation, until: &str, at: &str| {
        o.announce(
            &official(),
            &rule.extensions,
            ExtensionTarget::Until(d(until)),
            EXPERT,
            "样品需送外省实验室复检",
            "质检延〔2025〕9号",
            morning(at),
        )
    };
    let mut far = o.clone();
    let due = announce(&mut far, "2026-01-30", "2025-10-10").expect("no upper limit");
    assert_eq!(due.last_day, Some(d("2026-01-30")));
    let mut holiday = o.clone();
    let due = announce(&mut holiday, "2026-02-16", "2025-10-10").expect("rolled");
    assert_eq!(
        due.last_day,
        Some(d("2026-02-24")),
        "past the Spring Festival block"
    );
    assert!(matches!(
        announce(&mut o.clone(), "2025-10-16", "2025-10-10"),
        Err(ExtensionRefusal::NotLater { .. })
    ));
    // Before it ends only (S4 Art 45).
    assert!(matches!(
        announce(&mut o.clone(), "2025-11-30", "2025-10-18"),
        Err(ExtensionRefusal::TooLate { .. })
    ));
    // Tiers are not a thing this rule has.
    assert!(matches!(
        o.clone().announce(
            &official(),
            &rule.extensions,
            ExtensionTarget::Tier(1),
            EXPERT,
            "x",
            "y",
            morning("2025-10-10")
        ),
        Err(ExtensionRefusal::NotExtensible { .. })
    ));
}

#[test]
fn the_review_does_not_stop_while_supplements_are_awaited() {
    // Issue 13's example: accepted Mon 2026-03-02, supplement requested 03-02, supplied 03-05:
    // the review still ends Thu 03-05 (3 calendar days), not 03-09.
    let table = table();
    let rule = table.get("S1-8").expect("S1-8");
    assert!(rule.pauses_on.is_empty() && rule.resumes_on.is_empty());
    let o = Obligation::under(rule, morning("2026-03-02")).expect("a period");
    assert_eq!(o.due(&official()).unwrap().last_day, Some(d("2026-03-05")));
}

#[test]
fn only_testing_stops_the_transfer_clocks_and_they_run_from_delivery() {
    let table = table();
    for id in ["SAMR-18", "APL-60"] {
        let rule = table.get(id).expect("rule");
        let requested = "opinion.requested";
        assert_eq!(
            rule.pauses_only_if.get(requested).map(String::as_str),
            Some("testing"),
            "{id}"
        );
        assert!(rule.paused_by_detail(requested, &serde_json::json!({ "testing": true })));
        assert!(!rule.paused_by_detail(requested, &serde_json::json!({ "testing": false })));
        assert!(!rule.paused_by_detail(requested, &serde_json::json!({})));
    }
    let samr_18 = table.get("SAMR-18").expect("SAMR-18");
    assert_eq!(samr_18.trigger, ["transfer.sent"]);
    // Delivered Thu 2026-09-24: 15 working days skip 中秋 (09-25..27) and 国庆 (10-01..07) and
    // count the make-up Saturday 10-10: 09-28..30 (3), 10-08, 10-09 (5), 10-10 (6),
    // 10-12..16 (11), 10-19..22 (15): due Thu 10-22.
    let o = Obligation::under(samr_18, morning("2026-09-24")).expect("a period");
    assert_eq!(o.due(&official()).unwrap().last_day, Some(d("2026-10-22")));
    // SAMR-16 runs from the referral of the materials to the office, 7 working days.
    let samr_16 = table.get("SAMR-16").expect("SAMR-16");
    assert_eq!(samr_16.trigger, ["dispute.referred"]);
    // R562 is answered by an explanation or by the filing decision itself.
    let r562 = table.get("R562").expect("R562");
    for event in [
        "referral.explanation_given",
        "referral.filed",
        "referral.declined",
    ] {
        assert!(r562.closed_by.iter().any(|e| e == event), "{event}");
    }
}

/// Issue 13, item 8: a decision not to open a case (不予立案, S4 Arts 18, 20) is the decision
/// SAMR-18 asks for, and acknowledges the transfer too.
#[test]
fn a_decision_not_to_open_a_case_answers_the_receipt_and_samr_18() {
    let table = table();
    let closed: Vec<&str> = table
        .closed_by("transfer.declined")
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(closed, ["RCPT-F", "RCPT-FU", "SAMR-18"]);
    // Delivered Thu 2026-09-24, due Thu 10-22 across 中秋 and 国庆; declined Fri 10-09, on time.
    let samr_18 = table.get("SAMR-18").expect("SAMR-18");
    let o = Obligation::under(samr_18, morning("2026-09-24")).expect("a period");
    assert_eq!(o.due(&official()).unwrap().last_day, Some(d("2026-10-22")));
    assert!(!o.is_late(&official(), morning("2026-10-09")).unwrap());
    // Contesting the decision opens a dispute, whose own clocks run (SAMR-13 on dispute.raised).
    assert!(
        table
            .opened_by("transfer.decline_contested")
            .next()
            .is_none()
    );
    assert_eq!(table.get("F3").map(|r| r.kind), Some(RuleKind::None));
}

/// Issue 13, item 9: suspension (中止) stops the case limit APL-60 (S4 Art 64; notices/000 二),
/// whatever the event's detail; only the opinion request is filtered by `testing`. SAMR-18 does
/// not stop for it: S4 Art 18 leaves out testing only, and only an opened case is suspended.
#[test]
fn a_suspension_stops_apl_60_and_the_rest_is_counted_from_the_resumption() {
    let table = table();
    let paused: Vec<&str> = table
        .paused_by("transfer.suspended")
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(paused, ["APL-60"]);
    let resumed: Vec<&str> = table
        .resumed_by("transfer.resumed")
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(resumed, ["APL-60"]);
    let apl_60 = table.get("APL-60").expect("APL-60");
    assert!(apl_60.paused_by_detail("transfer.suspended", &serde_json::json!({})));
    assert!(!apl_60.paused_by_detail("opinion.requested", &serde_json::json!({})));
    let samr_18 = table.get("SAMR-18").expect("SAMR-18");
    assert!(!samr_18.pauses_on.iter().any(|e| e == "transfer.suspended"));

    // Opened Thu 2026-07-02: 90 calendar days end Wed 09-30. Suspended Mon 08-10, resumed Thu
    // 08-13: 39 days used (07-03..08-10), 51 left from 08-13, day 51 is Sat 10-03 in the
    // National Day block (10-01..07), rolled to Thu 10-08.
    let mut o = Obligation::under(apl_60, morning("2026-07-02")).expect("a period");
    assert_eq!(o.due(&official()).unwrap().last_day, Some(d("2026-09-30")));
    o.pause(
        morning("2026-08-10"),
        "11350100MB0100003T",
        "transfer.suspended",
    )
    .unwrap();
    o.resume(morning("2026-08-13")).unwrap();
    let due = o.due(&official()).unwrap();
    assert_eq!(due.last_day, Some(d("2026-10-08")));
    let text = due.explanation.join("\n");
    assert!(text.contains("transfer.suspended"), "{text}");
    assert!(
        text.contains("39 calendar days used before it, 51 left, counted on from 2026-08-13"),
        "{text}"
    );
    assert!(
        text.contains("rolled to the next working day 2026-10-08"),
        "{text}"
    );
    assert_eq!(table.get("F4").map(|r| r.kind), Some(RuleKind::None));
}

#[test]
fn extensions_are_refused_without_tiers_while_stopped_and_by_date_for_hours() {
    let mut o = Obligation::new("S1-7", Period::new(24, Unit::Hours), morning("2026-03-02"));
    assert!(matches!(
        extend(&mut o, &[], ExtensionTarget::Tier(1), morning("2026-03-02")),
        Err(ExtensionRefusal::NotExtensible { .. })
    ));
    let hours = [Period::new(48, Unit::Hours)];
    assert!(matches!(
        extend(
            &mut o,
            &hours,
            ExtensionTarget::Until(d("2026-03-04")),
            morning("2026-03-02")
        ),
        Err(ExtensionRefusal::DateForHours { .. })
    ));
    let mut o = Obligation::new(
        "SAMR-45",
        Period::new(15, Unit::WorkingDays),
        morning("2026-03-02"),
    );
    o.pause(morning("2026-03-03"), EXPERT, "material requested")
        .unwrap();
    let tiers = [Period::new(30, Unit::WorkingDays)];
    assert!(matches!(
        extend(
            &mut o,
            &tiers,
            ExtensionTarget::Tier(1),
            morning("2026-03-04")
        ),
        Err(ExtensionRefusal::Paused { .. })
    ));
}

#[test]
fn an_obligation_shows_the_other_reading_of_a_warning_rule() {
    let table = table();
    let rule = table.get("S1-12").expect("S1-12");
    // Filed Tue 2026-09-29: day 3 is 10-02 in the National Day block → 10-08; as working days,
    // 09-30, 10-08, 10-09 → 10-09.
    let o = Obligation::under(rule, morning("2026-09-29")).expect("a period");
    let due = o.due(&official()).unwrap();
    assert_eq!(due.last_day, Some(d("2026-10-08")));
    assert!(
        due.explanation
            .join("\n")
            .contains("⚠ read as working days, the period would end 2026-10-09 24:00 CST"),
        "{:#?}",
        due.explanation
    );
}

#[test]
fn an_obligation_crossing_into_a_provisional_year_is_provisional_until_the_year_is_installed() {
    // 15 working days from Sun 2026-12-20: 12-21..12-31 are 9, 元旦 Fri 2027-01-01 is skipped,
    // then 01-04..01-08 and 01-11 make 15.
    let o = Obligation::new(
        "SAMR-45",
        Period::new(15, Unit::WorkingDays),
        morning("2026-12-20"),
    );
    let due = o.due(&official()).expect("a provisional due time");
    assert_eq!(due.last_day, Some(d("2027-01-11")));
    assert!(due.is_provisional());
    assert!(
        o.explain(&official())
            .iter()
            .any(|l| l.starts_with("2027 calendar not yet published")),
        "{:?}",
        o.explain(&official())
    );
    // With the (fixture) official 2027 schedule: its 元旦 block runs 01-01..01-03, no change
    // on working days here, and the due time is no longer provisional.
    let mut installed = official();
    installed
        .add_year_toml("2027.toml", crate::calendar::tests::FIXTURE_2027)
        .expect("fixture");
    let official_due = o.due(&installed).expect("due");
    assert_eq!(official_due.last_day, Some(d("2027-01-11")));
    assert!(!official_due.is_provisional());
    // Across the Spring Festival the date moves: provisionally the block is 02-05..02-10, so
    // working day 15 after Fri 01-29 is Thu 02-25; the fixture's block runs to 02-13 with Sat
    // 02-20 worked, which makes it Fri 02-26.
    let spring = Obligation::new(
        "SAMR-45",
        Period::new(15, Unit::WorkingDays),
        morning("2027-01-29"),
    );
    assert_eq!(
        spring.due(&official()).unwrap().last_day,
        Some(d("2027-02-25"))
    );
    assert_eq!(
        spring.due(&installed).unwrap().last_day,
        Some(d("2027-02-26"))
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

fn start_leaving_room_for_stops() -> impl Strategy<Value = Timestamp> {
    // 2025-01-01 to 2026-06-30 CST, so that stops and extensions stay inside loaded years.
    (1_735_660_800_000_i64..1_782_748_800_000).prop_map(Timestamp::from_millis)
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

    #[test]
    fn a_clock_stop_never_moves_a_due_date_earlier_and_a_day_period_still_ends_on_a_working_day(
        start in start_leaving_room_for_stops(),
        n in 1u32..30,
        unit in prop_oneof![Just(Unit::Hours), day_unit()],
        stop_after_h in 0i64..(40 * 24),
        stopped_h in 0i64..(20 * 24),
    ) {
        let calendar = official();
        let mut o = Obligation::new("X", Period::new(n, unit), start);
        let before = o.due(&calendar).unwrap();
        let from = Timestamp::from_millis(start.as_millis() + stop_after_h * 3_600_000);
        o.pause(from, "a", "b").unwrap();
        o.resume(Timestamp::from_millis(from.as_millis() + stopped_h * 3_600_000)).unwrap();
        let after = o.due(&calendar).unwrap();
        prop_assert!(after.at >= before.at, "{:#?}", after.explanation);
        if let Some(last) = after.last_day {
            prop_assert!(calendar.is_working_day(last).unwrap());
        }
    }

    #[test]
    fn an_extension_never_moves_a_due_date_earlier(
        start in start_in_loaded_years(),
        n in 1u32..20,
        more in 1u32..20,
        unit in prop_oneof![Just(Unit::Hours), day_unit()],
    ) {
        let calendar = official();
        let mut o = Obligation::new("X", Period::new(n, unit), start);
        let before = o.due(&calendar).unwrap();
        let tiers = [Period::new(n + more, unit)];
        let after = o
            .extend(&calendar, &tiers, ExtensionTarget::Tier(1), "a", "b", "c", start)
            .unwrap();
        prop_assert!(after.at >= before.at);
    }

    #[test]
    fn an_announced_date_ends_on_the_first_working_day_from_it(
        start in start_leaving_room_for_stops(),
        n in 1u32..15,
        ahead in 1u64..15,
        unit in day_unit(),
    ) {
        let calendar = official();
        let mut o = Obligation::new("X", Period::new(n, unit), start);
        let current = o.due(&calendar).unwrap().last_day.expect("day period");
        let until = current.checked_add_days(Days::new(ahead)).expect("date");
        let tiers = [Period::new(n + 40, unit)];
        let due = o
            .extend(&calendar, &tiers, ExtensionTarget::Until(until), "a", "b", "c", start)
            .unwrap();
        prop_assert_eq!(due.last_day, Some(calendar.working_day_on_or_after(until).unwrap()));
    }
}
