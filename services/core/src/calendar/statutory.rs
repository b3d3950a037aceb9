//! The statutory holidays of 《全国年节及纪念日放假办法》 (State Council, revised 2024, in force
//! 2025-01-01; docs/law.md S12), and the provisional schedule CaseBridge counts on for a year
//! whose official schedule (国务院办公厅关于某年部分节假日安排的通知) is not yet published.
//!
//! The law fixes, for every citizen (Art 2): 元旦 1 day (1 January); 春节 4 days (农历除夕 and
//! 正月初一 to 初三); 清明节 1 day (the day of the 清明 solar term); 劳动节 2 days (1–2 May); 端午节
//! 1 day (农历五月初五); 中秋节 1 day (农历八月十五); 国庆节 3 days (1–3 October). A holiday that
//! falls on a Saturday or Sunday is made up on a working day (Art 6, 补假): CaseBridge takes the
//! next weekday that is not itself a holiday. The official notice each autumn adds make-up working
//! days (调休) and longer blocks; a provisional year assumes none, so it can only be *shorter* in
//! non-working days than the official one, never invent a working day. A day that is two holidays
//! at once (中秋 on 1–3 October) counts once: the law gives no extra day for it, and the official
//! notice decides whether one is added.
//!
//! The lunar and solar-term dates below were generated with the `tyme4rs` crate (6tail's Tyme
//! calendar library) and are checked against it by a test (`the_moveable_dates_match_tyme4rs`),
//! so a typing slip cannot pass. They cover 2025 (the first year of the 2024 revision) to 2099.

use chrono::{Datelike, NaiveDate, Weekday};

use super::{Holiday, next_day};

/// The first and last years the table covers.
pub const FIRST_YEAR: i32 = 2025;
pub const LAST_YEAR: i32 = 2099;

/// The holidays of one year whose Gregorian date moves: (month, day) in that year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Moveable {
    pub year: i32,
    /// 除夕: the last day of the twelfth lunar month, the first day of 春节.
    pub new_years_eve: (u32, u32),
    /// The 清明 solar term (the sun at 15° ecliptic longitude), China Standard Time.
    pub qingming: (u32, u32),
    /// 端午节: the fifth day of the fifth lunar month.
    pub dragon_boat: (u32, u32),
    /// 中秋节: the fifteenth day of the eighth lunar month.
    pub mid_autumn: (u32, u32),
}

#[rustfmt::skip]
pub(crate) const MOVEABLE: &[Moveable] = &[
    Moveable { year: 2025, new_years_eve: (1, 28), qingming: (4, 4), dragon_boat: (5, 31), mid_autumn: (10, 6) },
    Moveable { year: 2026, new_years_eve: (2, 16), qingming: (4, 5), dragon_boat: (6, 19), mid_autumn: (9, 25) },
    Moveable { year: 2027, new_years_eve: (2, 5), qingming: (4, 5), dragon_boat: (6, 9), mid_autumn: (9, 15) },
    Moveable { year: 2028, new_years_eve: (1, 25), qingming: (4, 4), dragon_boat: (5, 28), mid_autumn: (10, 3) },
    Moveable { year: 2029, new_years_eve: (2, 12), qingming: (4, 4), dragon_boat: (6, 16), mid_autumn: (9, 22) },
    Moveable { year: 2030, new_years_eve: (2, 2), qingming: (4, 5), dragon_boat: (6, 5), mid_autumn: (9, 12) },
    Moveable { year: 2031, new_years_eve: (1, 22), qingming: (4, 5), dragon_boat: (6, 24), mid_autumn: (10, 1) },
    Moveable { year: 2032, new_years_eve: (2, 10), qingming: (4, 4), dragon_boat: (6, 12), mid_autumn: (9, 19) },
    Moveable { year: 2033, new_years_eve: (1, 30), qingming: (4, 4), dragon_boat: (6, 1), mid_autumn: (9, 8) },
    Moveable { year: 2034, new_years_eve: (2, 18), qingming: (4, 5), dragon_boat: (6, 20), mid_autumn: (9, 27) },
    Moveable { year: 2035, new_years_eve: (2, 7), qingming: (4, 5), dragon_boat: (6, 10), mid_autumn: (9, 16) },
    Moveable { year: 2036, new_years_eve: (1, 27), qingming: (4, 4), dragon_boat: (5, 30), mid_autumn: (10, 4) },
    Moveable { year: 2037, new_years_eve: (2, 14), qingming: (4, 4), dragon_boat: (6, 18), mid_autumn: (9, 24) },
    Moveable { year: 2038, new_years_eve: (2, 3), qingming: (4, 5), dragon_boat: (6, 7), mid_autumn: (9, 13) },
    Moveable { year: 2039, new_years_eve: (1, 23), qingming: (4, 5), dragon_boat: (5, 27), mid_autumn: (10, 2) },
    Moveable { year: 2040, new_years_eve: (2, 11), qingming: (4, 4), dragon_boat: (6, 14), mid_autumn: (9, 20) },
    Moveable { year: 2041, new_years_eve: (1, 31), qingming: (4, 4), dragon_boat: (6, 3), mid_autumn: (9, 10) },
    Moveable { year: 2042, new_years_eve: (1, 21), qingming: (4, 4), dragon_boat: (6, 22), mid_autumn: (9, 28) },
    Moveable { year: 2043, new_years_eve: (2, 9), qingming: (4, 5), dragon_boat: (6, 11), mid_autumn: (9, 17) },
    Moveable { year: 2044, new_years_eve: (1, 29), qingming: (4, 4), dragon_boat: (5, 31), mid_autumn: (10, 5) },
    Moveable { year: 2045, new_years_eve: (2, 16), qingming: (4, 4), dragon_boat: (6, 19), mid_autumn: (9, 25) },
    Moveable { year: 2046, new_years_eve: (2, 5), qingming: (4, 4), dragon_boat: (6, 8), mid_autumn: (9, 15) },
    Moveable { year: 2047, new_years_eve: (1, 25), qingming: (4, 5), dragon_boat: (5, 29), mid_autumn: (10, 4) },
    Moveable { year: 2048, new_years_eve: (2, 13), qingming: (4, 4), dragon_boat: (6, 15), mid_autumn: (9, 22) },
    Moveable { year: 2049, new_years_eve: (2, 1), qingming: (4, 4), dragon_boat: (6, 4), mid_autumn: (9, 11) },
    Moveable { year: 2050, new_years_eve: (1, 22), qingming: (4, 4), dragon_boat: (6, 23), mid_autumn: (9, 30) },
    Moveable { year: 2051, new_years_eve: (2, 10), qingming: (4, 5), dragon_boat: (6, 13), mid_autumn: (9, 19) },
    Moveable { year: 2052, new_years_eve: (1, 31), qingming: (4, 4), dragon_boat: (6, 1), mid_autumn: (9, 7) },
    Moveable { year: 2053, new_years_eve: (2, 18), qingming: (4, 4), dragon_boat: (6, 20), mid_autumn: (9, 26) },
    Moveable { year: 2054, new_years_eve: (2, 7), qingming: (4, 4), dragon_boat: (6, 10), mid_autumn: (9, 16) },
    Moveable { year: 2055, new_years_eve: (1, 27), qingming: (4, 5), dragon_boat: (5, 30), mid_autumn: (10, 5) },
    Moveable { year: 2056, new_years_eve: (2, 14), qingming: (4, 4), dragon_boat: (6, 17), mid_autumn: (9, 24) },
    Moveable { year: 2057, new_years_eve: (2, 3), qingming: (4, 4), dragon_boat: (6, 6), mid_autumn: (9, 13) },
    Moveable { year: 2058, new_years_eve: (1, 23), qingming: (4, 4), dragon_boat: (6, 25), mid_autumn: (10, 2) },
    Moveable { year: 2059, new_years_eve: (2, 11), qingming: (4, 5), dragon_boat: (6, 14), mid_autumn: (9, 21) },
    Moveable { year: 2060, new_years_eve: (2, 1), qingming: (4, 4), dragon_boat: (6, 3), mid_autumn: (9, 9) },
    Moveable { year: 2061, new_years_eve: (1, 20), qingming: (4, 4), dragon_boat: (6, 22), mid_autumn: (9, 28) },
    Moveable { year: 2062, new_years_eve: (2, 8), qingming: (4, 4), dragon_boat: (6, 11), mid_autumn: (9, 17) },
    Moveable { year: 2063, new_years_eve: (1, 28), qingming: (4, 5), dragon_boat: (6, 1), mid_autumn: (10, 6) },
    Moveable { year: 2064, new_years_eve: (2, 16), qingming: (4, 4), dragon_boat: (6, 19), mid_autumn: (9, 25) },
    Moveable { year: 2065, new_years_eve: (2, 4), qingming: (4, 4), dragon_boat: (6, 8), mid_autumn: (9, 15) },
    Moveable { year: 2066, new_years_eve: (1, 25), qingming: (4, 4), dragon_boat: (5, 28), mid_autumn: (10, 3) },
    Moveable { year: 2067, new_years_eve: (2, 13), qingming: (4, 5), dragon_boat: (6, 16), mid_autumn: (9, 23) },
    Moveable { year: 2068, new_years_eve: (2, 2), qingming: (4, 4), dragon_boat: (6, 4), mid_autumn: (9, 11) },
    Moveable { year: 2069, new_years_eve: (1, 22), qingming: (4, 4), dragon_boat: (6, 23), mid_autumn: (9, 29) },
    Moveable { year: 2070, new_years_eve: (2, 10), qingming: (4, 4), dragon_boat: (6, 13), mid_autumn: (9, 19) },
    Moveable { year: 2071, new_years_eve: (1, 30), qingming: (4, 5), dragon_boat: (6, 2), mid_autumn: (9, 8) },
    Moveable { year: 2072, new_years_eve: (2, 18), qingming: (4, 4), dragon_boat: (6, 20), mid_autumn: (9, 26) },
    Moveable { year: 2073, new_years_eve: (2, 6), qingming: (4, 4), dragon_boat: (6, 10), mid_autumn: (9, 16) },
    Moveable { year: 2074, new_years_eve: (1, 26), qingming: (4, 4), dragon_boat: (5, 30), mid_autumn: (10, 5) },
    Moveable { year: 2075, new_years_eve: (2, 14), qingming: (4, 4), dragon_boat: (6, 17), mid_autumn: (9, 24) },
    Moveable { year: 2076, new_years_eve: (2, 4), qingming: (4, 4), dragon_boat: (6, 6), mid_autumn: (9, 12) },
    Moveable { year: 2077, new_years_eve: (1, 23), qingming: (4, 4), dragon_boat: (6, 24), mid_autumn: (10, 1) },
    Moveable { year: 2078, new_years_eve: (2, 11), qingming: (4, 4), dragon_boat: (6, 14), mid_autumn: (9, 20) },
    Moveable { year: 2079, new_years_eve: (2, 1), qingming: (4, 4), dragon_boat: (6, 4), mid_autumn: (9, 10) },
    Moveable { year: 2080, new_years_eve: (1, 21), qingming: (4, 4), dragon_boat: (6, 22), mid_autumn: (9, 28) },
    Moveable { year: 2081, new_years_eve: (2, 8), qingming: (4, 4), dragon_boat: (6, 11), mid_autumn: (9, 17) },
    Moveable { year: 2082, new_years_eve: (1, 28), qingming: (4, 4), dragon_boat: (6, 1), mid_autumn: (10, 6) },
    Moveable { year: 2083, new_years_eve: (2, 16), qingming: (4, 4), dragon_boat: (6, 19), mid_autumn: (9, 26) },
    Moveable { year: 2084, new_years_eve: (2, 5), qingming: (4, 4), dragon_boat: (6, 7), mid_autumn: (9, 14) },
    Moveable { year: 2085, new_years_eve: (1, 25), qingming: (4, 4), dragon_boat: (5, 27), mid_autumn: (10, 3) },
    Moveable { year: 2086, new_years_eve: (2, 13), qingming: (4, 4), dragon_boat: (6, 15), mid_autumn: (9, 22) },
    Moveable { year: 2087, new_years_eve: (2, 2), qingming: (4, 4), dragon_boat: (6, 5), mid_autumn: (9, 11) },
    Moveable { year: 2088, new_years_eve: (1, 23), qingming: (4, 4), dragon_boat: (6, 23), mid_autumn: (9, 29) },
    Moveable { year: 2089, new_years_eve: (2, 9), qingming: (4, 4), dragon_boat: (6, 13), mid_autumn: (9, 18) },
    Moveable { year: 2090, new_years_eve: (1, 29), qingming: (4, 4), dragon_boat: (6, 2), mid_autumn: (9, 8) },
    Moveable { year: 2091, new_years_eve: (2, 17), qingming: (4, 4), dragon_boat: (6, 21), mid_autumn: (9, 27) },
    Moveable { year: 2092, new_years_eve: (2, 6), qingming: (4, 4), dragon_boat: (6, 9), mid_autumn: (9, 16) },
    Moveable { year: 2093, new_years_eve: (1, 26), qingming: (4, 4), dragon_boat: (5, 29), mid_autumn: (10, 5) },
    Moveable { year: 2094, new_years_eve: (2, 14), qingming: (4, 4), dragon_boat: (6, 17), mid_autumn: (9, 24) },
    Moveable { year: 2095, new_years_eve: (2, 4), qingming: (4, 4), dragon_boat: (6, 6), mid_autumn: (9, 13) },
    Moveable { year: 2096, new_years_eve: (1, 24), qingming: (4, 4), dragon_boat: (6, 24), mid_autumn: (9, 30) },
    Moveable { year: 2097, new_years_eve: (2, 11), qingming: (4, 4), dragon_boat: (6, 14), mid_autumn: (9, 20) },
    Moveable { year: 2098, new_years_eve: (1, 31), qingming: (4, 4), dragon_boat: (6, 4), mid_autumn: (9, 9) },
    Moveable { year: 2099, new_years_eve: (1, 20), qingming: (4, 4), dragon_boat: (6, 23), mid_autumn: (9, 29) },
];

/// One statutory holiday of a year: its name and the days the law gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatutoryHoliday {
    pub name: &'static str,
    pub days: Vec<NaiveDate>,
}

fn date(year: i32, (month, day): (u32, u32)) -> NaiveDate {
    // The table and the fixed dates are valid by construction (checked by the tests).
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or(NaiveDate::MIN)
}

fn run(first: NaiveDate, days: u32) -> Vec<NaiveDate> {
    std::iter::successors(Some(first), |d| Some(next_day(*d)))
        .take(days as usize)
        .collect()
}

/// The statutory holidays of `year`, or `None` outside [`FIRST_YEAR`]..=[`LAST_YEAR`].
pub fn holidays(year: i32) -> Option<Vec<StatutoryHoliday>> {
    let m = MOVEABLE.iter().find(|m| m.year == year)?;
    let fixed = |month, day| date(year, (month, day));
    Some(vec![
        StatutoryHoliday {
            name: "元旦 New Year's Day",
            days: vec![fixed(1, 1)],
        },
        StatutoryHoliday {
            name: "春节 Spring Festival",
            days: run(date(year, m.new_years_eve), 4),
        },
        StatutoryHoliday {
            name: "清明节 Qingming Festival",
            days: vec![date(year, m.qingming)],
        },
        StatutoryHoliday {
            name: "劳动节 Labour Day",
            days: run(fixed(5, 1), 2),
        },
        StatutoryHoliday {
            name: "端午节 Dragon Boat Festival",
            days: vec![date(year, m.dragon_boat)],
        },
        StatutoryHoliday {
            name: "中秋节 Mid-Autumn Festival",
            days: vec![date(year, m.mid_autumn)],
        },
        StatutoryHoliday {
            name: "国庆节 National Day",
            days: run(fixed(10, 1), 3),
        },
    ])
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The provisional holiday blocks of `year`: each statutory day, each weekend holiday made up
/// on the next weekday that is not a holiday (补假), and the weekend days between them, merged
/// into blocks named after their holidays. `None` outside the table.
pub(crate) fn provisional_blocks(year: i32) -> Option<Vec<Holiday>> {
    let holidays = holidays(year)?;
    let statutory: Vec<NaiveDate> = holidays.iter().flat_map(|h| h.days.clone()).collect();
    let mut off: Vec<(NaiveDate, &'static str)> = Vec::new();
    for holiday in &holidays {
        for &day in &holiday.days {
            off.push((day, holiday.name));
            if is_weekend(day) {
                let mut make_up = next_day(day);
                while is_weekend(make_up)
                    || statutory.contains(&make_up)
                    || off.iter().any(|(d, _)| *d == make_up)
                {
                    make_up = next_day(make_up);
                }
                off.push((make_up, holiday.name));
            }
        }
    }
    off.sort();
    let mut blocks: Vec<(NaiveDate, NaiveDate, Vec<&'static str>)> = Vec::new();
    for (day, name) in off {
        match blocks.last_mut() {
            // Joined when only weekend days lie between the block's end and this day.
            Some((_, last, names))
                if day <= next_day(*last)
                    || std::iter::successors(Some(next_day(*last)), |d| Some(next_day(*d)))
                        .take_while(|d| *d < day)
                        .all(is_weekend) =>
            {
                *last = (*last).max(day);
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            _ => blocks.push((day, day, vec![name])),
        }
    }
    Some(
        blocks
            .into_iter()
            .map(|(first, last, names)| Holiday {
                name: names.join("、"),
                first,
                last,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyme4rs::tyme::Tyme as _;
    use tyme4rs::tyme::lunar::LunarDay;
    use tyme4rs::tyme::solar::{SolarDay, SolarTerm};

    fn md(day: SolarDay) -> (u32, u32) {
        (day.get_month() as u32, day.get_day() as u32)
    }

    #[test]
    fn the_moveable_dates_match_tyme4rs() {
        assert_eq!(MOVEABLE.len(), (LAST_YEAR - FIRST_YEAR + 1) as usize);
        for (m, year) in MOVEABLE.iter().zip(FIRST_YEAR..=LAST_YEAR) {
            assert_eq!(m.year, year, "the table is in year order without gaps");
            let y = year as isize;
            let expected = Moveable {
                year,
                new_years_eve: md(LunarDay::from_ymd(y, 1, 1).get_solar_day().next(-1)),
                qingming: md(SolarTerm::from_name(y, "清明").get_solar_day()),
                dragon_boat: md(LunarDay::from_ymd(y, 5, 5).get_solar_day()),
                mid_autumn: md(LunarDay::from_ymd(y, 8, 15).get_solar_day()),
            };
            assert_eq!(*m, expected, "{year}");
        }
    }

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    fn block(name: &str, first: &str, last: &str) -> Holiday {
        Holiday {
            name: name.to_owned(),
            first: d(first),
            last: d(last),
        }
    }

    #[test]
    fn the_official_years_cover_every_statutory_day() {
        // A cross-check of the table with the published schedules of 2025 and 2026.
        let c = crate::calendar::tests::official();
        for year in [2025, 2026] {
            for h in holidays(year).expect("in the table") {
                for day in h.days {
                    assert!(
                        matches!(
                            c.day_kind(day),
                            Ok(crate::calendar::DayKind::Holiday { .. })
                        ),
                        "{} {day} is a holiday in the official {year} schedule",
                        h.name
                    );
                }
            }
        }
    }

    #[test]
    fn weekend_holidays_are_made_up_on_the_next_free_weekday() {
        // 2027: 除夕 Fri 02-05, 初一 Sat, 初二 Sun, 初三 Mon 02-08 → 补假 Tue 02-09 and Wed 02-10.
        // 国庆 Fri 10-01, Sat, Sun → 补假 Mon 10-04, Tue 10-05. 劳动节 Sat 05-01, Sun → Mon, Tue.
        let blocks = provisional_blocks(2027).expect("2027 is in the table");
        assert_eq!(
            blocks,
            vec![
                block("元旦 New Year's Day", "2027-01-01", "2027-01-01"),
                block("春节 Spring Festival", "2027-02-05", "2027-02-10"),
                block("清明节 Qingming Festival", "2027-04-05", "2027-04-05"),
                block("劳动节 Labour Day", "2027-05-01", "2027-05-04"),
                block("端午节 Dragon Boat Festival", "2027-06-09", "2027-06-09"),
                block("中秋节 Mid-Autumn Festival", "2027-09-15", "2027-09-15"),
                block("国庆节 National Day", "2027-10-01", "2027-10-05"),
            ]
        );
    }

    #[test]
    fn holidays_that_meet_share_one_block() {
        // 2028: 中秋 Tue 10-03 falls on 国庆 (Sun 10-01 .. Tue 10-03), so that day counts once;
        // 国庆 10-01 on a Sunday is made up on Wed 10-04 (the next weekday that is no holiday).
        let blocks = provisional_blocks(2028).expect("2028 is in the table");
        let autumn = blocks.last().expect("a block");
        assert_eq!(
            autumn,
            &block(
                "国庆节 National Day、中秋节 Mid-Autumn Festival",
                "2028-10-01",
                "2028-10-04"
            )
        );
    }

    #[test]
    fn years_outside_the_table_have_no_provisional_schedule() {
        assert!(holidays(FIRST_YEAR - 1).is_none());
        assert!(provisional_blocks(LAST_YEAR + 1).is_none());
    }
}
