//! `casebridge calendar`: the legal holiday calendar of this data directory.
//!
//! - `calendar status`: the official years in force, the years counted provisionally on the
//!   statutory holidays, and the years an operator must install now (this year without an
//!   official schedule, or from 1 October the next).
//! - `calendar install FILE`: validates a year's official schedule (a whole year, its make-up
//!   working days, the notice it comes from) against the calendar in force and installs it into
//!   the calendar directory. Running processes load it within a poll interval without a
//!   restart, and the deadlines service recounts every open obligation it moves, on the record,
//!   with a notice to the parties.

use std::path::PathBuf;

use anyhow::Context as _;
use casebridge_core::calendar::{Calendar, YearStatus, statutory};
use clap::Subcommand;

use crate::output;
use crate::system::RunArgs;
use crate::system::{CALENDAR_POLL, add_official_year, calendar_dir, load_calendar};

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// The official and provisional years, and what must be installed now.
    Status {
        /// Judge what is missing as of this date (YYYY-MM-DD, China Standard Time); default today.
        #[arg(long, value_parser = parse_date)]
        as_of: Option<chrono::NaiveDate>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Validate a year's official schedule and install it (no restart needed).
    Install {
        /// The `<year>.toml` file written from the State Council's notice (see docs/deadlines.md).
        file: PathBuf,
        /// Validate and show what would change, install nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        run: RunArgs,
    },
}

pub async fn run(command: CalendarCommand) -> anyhow::Result<()> {
    match command {
        CalendarCommand::Status { as_of, run } => {
            let settings = run.settings()?;
            let calendar = load_calendar(&settings)?;
            let today =
                as_of.unwrap_or_else(|| casebridge_core::calendar::cst_date(crate::system::now()));
            output::show_value(status_json(&calendar, today), || {
                status_text(&calendar, today)
            });
            Ok(())
        }
        CalendarCommand::Install { file, dry_run, run } => {
            let settings = run.settings()?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let before = load_calendar(&settings)?;
            let mut after = before.clone();
            let name = file.display().to_string();
            let year = add_official_year(&mut after, &name, &text)?;
            let source = match after.status(year) {
                YearStatus::Official { source } => source,
                _ => String::new(),
            };
            let changed = before.fingerprint(year) != after.fingerprint(year);
            let dir = calendar_dir(&settings);
            let target = dir.join(format!("{year}.toml"));
            if changed && !dry_run {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                // Written aside and renamed, so a process polling the directory never reads half.
                let partial = dir.join(format!(".{year}.toml.partial"));
                std::fs::write(&partial, &text)
                    .with_context(|| format!("cannot write {}", partial.display()))?;
                std::fs::rename(&partial, &target)
                    .with_context(|| format!("cannot install {}", target.display()))?;
            }
            let outcome = if !changed {
                "already in force"
            } else if dry_run {
                "valid (dry run: nothing installed)"
            } else {
                "installed"
            };
            output::show_value(
                serde_json::json!({
                    "year": year,
                    "source": source,
                    "outcome": outcome,
                    "path": target.display().to_string(),
                    "was_provisional": before.is_provisional(year),
                }),
                || {
                    format!(
                        "{year}: {outcome} — {source}\n  {}\n{}",
                        target.display(),
                        if changed && !dry_run {
                            format!(
                                "  running processes load it within {} s; the deadlines service \
                                 recounts the open obligations counted provisionally on {year} and \
                                 tells their parties of every due time that moves\n",
                                CALENDAR_POLL.as_secs()
                            )
                        } else {
                            String::new()
                        }
                    )
                },
            );
            Ok(())
        }
    }
}

fn parse_date(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("{text:?} is not a YYYY-MM-DD date: {e}"))
}

fn status_json(calendar: &Calendar, today: chrono::NaiveDate) -> serde_json::Value {
    let official: Vec<serde_json::Value> = calendar
        .official_years()
        .into_iter()
        .map(|year| {
            let source = match calendar.status(year) {
                YearStatus::Official { source } => source,
                _ => String::new(),
            };
            serde_json::json!({ "year": year, "source": source })
        })
        .collect();
    serde_json::json!({
        "official": official,
        "provisional": provisional_range(calendar),
        "missing": calendar.missing_official(today),
    })
}

/// The first and last provisional years (the statutory table's end), when there are any.
fn provisional_range(calendar: &Calendar) -> Option<(i32, i32)> {
    let years: Vec<i32> = calendar
        .years()
        .into_iter()
        .filter(|y| calendar.is_provisional(*y))
        .collect();
    Some((*years.first()?, *years.last()?))
}

fn status_text(calendar: &Calendar, today: chrono::NaiveDate) -> String {
    use std::fmt::Write as _;
    let mut text = String::from("official (国务院办公厅节假日安排):\n");
    for year in calendar.official_years() {
        if let YearStatus::Official { source } = calendar.status(year) {
            let _ = writeln!(text, "  {year}  {source}");
        }
    }
    if let Some((first, last)) = provisional_range(calendar) {
        let _ = writeln!(
            text,
            "provisional (statutory holidays of 全国年节及纪念日放假办法, no make-up working days):\n  \
             {first}–{last}{}",
            if last == statutory::LAST_YEAR {
                ""
            } else {
                " (some years between are official)"
            }
        );
    }
    let missing = calendar.missing_official(today);
    if missing.is_empty() {
        let _ = writeln!(text, "nothing to install now");
    }
    for year in missing {
        let _ = writeln!(
            text,
            "ACTION: the official {year} schedule is not installed; due times in {year} are \
             provisional. Once the State Council publishes it, write {year}.toml and run \
             `casebridge calendar install {year}.toml`"
        );
    }
    text
}
