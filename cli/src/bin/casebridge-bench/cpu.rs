//! What a benchmark run costs in CPU, per process: user + system time from `/proc/<pid>/stat`
//! (fields 14 and 15, in clock ticks), read before and after a measured phase.
//!
//! The processes involved are this one (the whole system runs in it, beside the load generator),
//! and on RabbitMQ + PostgreSQL the broker (every `beam.smp`) and the database server (every
//! `postgres` process: the postmaster, its background workers and one backend per connection).
//! They are found by name in `/proc/*/comm`, so only on this machine; one that is not found is
//! reported as such, never as zero. Both servers may be serving others at the same time: their
//! figures are what they spent during the phase, whoever asked. Linux only.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Ticks per second when `getconf CLK_TCK` cannot be asked (Linux's `USER_HZ` on every common
/// architecture).
const DEFAULT_TICKS: u64 = 100;

/// How `/proc` counts CPU time: `USER_HZ` ticks per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticks {
    pub per_second: u64,
    /// True when `getconf` could not be asked and [`DEFAULT_TICKS`] is assumed.
    pub assumed: bool,
}

impl Ticks {
    /// `getconf CLK_TCK` (the workspace has no `unsafe` for `sysconf`), else 100.
    pub fn of_this_machine() -> Ticks {
        let asked = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse::<u64>().ok())
            .filter(|&ticks| ticks > 0);
        match asked {
            Some(per_second) => Ticks {
                per_second,
                assumed: false,
            },
            None => Ticks {
                per_second: DEFAULT_TICKS,
                assumed: true,
            },
        }
    }

    fn seconds(self, ticks: u64) -> f64 {
        ticks as f64 / self.per_second as f64
    }
}

/// One process's `/proc/<pid>/stat` line: its name and its CPU time so far (user + system, in
/// ticks). The name sits between the first `(` and the last `)` and may itself hold spaces and
/// parentheses, so the fields are counted from the last `)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub comm: String,
    pub cpu_ticks: u64,
}

pub fn parse_stat(line: &str) -> Option<Stat> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let comm = line.get(open + 1..close)?.to_owned();
    // After the name: field 3 (state) is the first; utime and stime are fields 14 and 15.
    let mut fields = line.get(close + 1..)?.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Stat {
        comm,
        cpu_ticks: user.checked_add(system)?,
    })
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let line = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&line).map(|stat| stat.cpu_ticks)
}

/// The processes of this machine named `comm` (as in `/proc/<pid>/comm`), with their CPU time.
fn named(comm: &str) -> BTreeMap<u32, u64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return BTreeMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|name| name.trim_end() == comm)
        })
        .filter_map(|pid| Some((pid, cpu_ticks(pid)?)))
        .collect()
}

/// Which processes a run involves besides this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Involved {
    /// RabbitMQ (`beam.smp`); false on the embedded bus.
    pub broker: bool,
    /// PostgreSQL (`postgres`); false on SQLite.
    pub database: bool,
}

/// CPU time of the involved processes at one moment, in ticks per process id.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    this: u64,
    broker: Option<BTreeMap<u32, u64>>,
    database: Option<BTreeMap<u32, u64>>,
}

impl Snapshot {
    pub fn take(involved: Involved) -> Snapshot {
        Snapshot {
            this: cpu_ticks(std::process::id()).unwrap_or(0),
            broker: involved.broker.then(|| named("beam.smp")),
            database: involved.database.then(|| named("postgres")),
        }
    }
}

/// What a group of processes spent between two snapshots.
#[derive(Debug, Clone, PartialEq)]
enum Spent {
    /// Not part of this run (the embedded bus, SQLite).
    NotInvolved,
    /// Part of it, but no such process on this machine.
    NotFound,
    Ticks {
        ticks: u64,
        /// Processes counted (alive at the end).
        processes: usize,
        /// Processes alive at the start and gone at the end: their share is lost.
        exited: usize,
    },
}

/// Ticks spent by the processes of `after` since `before`; one that started meanwhile counts
/// from zero.
fn spent(before: Option<&BTreeMap<u32, u64>>, after: Option<&BTreeMap<u32, u64>>) -> Spent {
    let (Some(before), Some(after)) = (before, after) else {
        return Spent::NotInvolved;
    };
    if after.is_empty() {
        return Spent::NotFound;
    }
    let ticks = after
        .iter()
        .map(|(pid, &now)| now.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum();
    Spent::Ticks {
        ticks,
        processes: after.len(),
        exited: before.keys().filter(|pid| !after.contains_key(pid)).count(),
    }
}

/// The CPU figures of one phase: each process group's seconds and milliseconds per referral,
/// and their sum, one line each under a heading.
pub fn report(before: &Snapshot, after: &Snapshot, referrals: usize, ticks: Ticks) -> String {
    let per = |seconds: f64| seconds * 1000.0 / referrals.max(1) as f64;
    let mut text = format!(
        "  CPU, user + system from /proc/<pid>/stat ({} ticks/s{}), over {referrals} referrals:",
        ticks.per_second,
        if ticks.assumed {
            ", assumed: getconf CLK_TCK did not answer"
        } else {
            ""
        }
    );
    let line = |text: &mut String, label: &str, seconds: f64| {
        let _ = write!(
            text,
            "\n    {label:<44} {seconds:>8.2} s = {:>7.3} ms/referral",
            per(seconds)
        );
    };
    let this = ticks.seconds(after.this.saturating_sub(before.this));
    line(
        &mut text,
        &format!(
            "casebridge-bench (pid {}, system + load)",
            std::process::id()
        ),
        this,
    );
    let mut all = this;
    let mut missing = Vec::new();
    for (name, comm, not_involved, spent) in [
        (
            "RabbitMQ",
            "beam.smp",
            "the embedded bus",
            spent(before.broker.as_ref(), after.broker.as_ref()),
        ),
        (
            "PostgreSQL",
            "postgres",
            "SQLite",
            spent(before.database.as_ref(), after.database.as_ref()),
        ),
    ] {
        match spent {
            Spent::NotInvolved => {
                let _ = write!(text, "\n    {name}: not part of this run ({not_involved})");
            }
            Spent::NotFound => {
                let _ = write!(
                    text,
                    "\n    {name}: no {comm} process on this machine (a remote server?), not counted"
                );
                missing.push(name);
            }
            Spent::Ticks {
                ticks: spent,
                processes,
                exited,
            } => {
                let seconds = ticks.seconds(spent);
                let gone = if exited > 0 {
                    format!(", {exited} exited uncounted")
                } else {
                    String::new()
                };
                line(
                    &mut text,
                    &format!("{name} ({processes} {comm}{gone})"),
                    seconds,
                );
                all += seconds;
            }
        }
    }
    let label = if missing.is_empty() {
        "all of them".to_owned()
    } else {
        format!("all of them but {}", missing.join(" and "))
    };
    line(&mut text, &label, all);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_user_plus_system_ticks() {
        let line = "2999 (beam.smp) S 2980 2980 2980 0 -1 4194560 61393 1431 6 0 1520 374 2 1 \
                    20 0 35 0 1207 3152117760 28823 18446744073709551615 1 1 0 0 0 0 0 4096 \
                    1024 0 0 0 17 1 0 0 3 0 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                comm: "beam.smp".into(),
                cpu_ticks: 1520 + 374
            })
        );
    }

    #[test]
    fn a_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
        // A process may name itself anything, ") R 1 2" included; the fields follow the last ')'.
        let line = "4242 (tokio (rt) ) R 1 2) S 1 4242 4242 0 -1 4194304 100 0 0 0 7 3 0 0 20 0 \
                    9 0 5000 1000000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 \
                    0 0 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                comm: "tokio (rt) ) R 1 2".into(),
                cpu_ticks: 10
            })
        );
    }

    #[test]
    fn a_truncated_or_garbled_line_is_refused() {
        assert_eq!(parse_stat("4242 (x) S 1 2 3"), None);
        assert_eq!(parse_stat("4242 x S 1 2 3 4 5 6 7 8 9 10 11 12 13"), None);
        assert_eq!(
            parse_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 many 3 0 0 20 0 1 0 1 1 1"),
            None
        );
    }

    #[test]
    fn this_processs_own_stat_line_parses() {
        let line = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
        let stat = parse_stat(&line).expect("parses");
        assert!(!stat.comm.is_empty());
    }

    #[test]
    fn a_process_started_during_the_phase_counts_from_zero_and_an_exited_one_is_named() {
        let before = BTreeMap::from([(10, 100), (11, 50)]);
        let after = BTreeMap::from([(10, 130), (12, 5)]);
        assert_eq!(
            spent(Some(&before), Some(&after)),
            Spent::Ticks {
                ticks: 35,
                processes: 2,
                exited: 1
            }
        );
        assert_eq!(spent(None, None), Spent::NotInvolved);
        assert_eq!(
            spent(Some(&BTreeMap::new()), Some(&BTreeMap::new())),
            Spent::NotFound
        );
    }

    #[test]
    fn the_report_says_which_servers_were_not_found_instead_of_printing_zero() {
        let ticks = Ticks {
            per_second: 100,
            assumed: false,
        };
        let before = Snapshot {
            this: 1000,
            broker: Some(BTreeMap::new()),
            database: Some(BTreeMap::from([(7, 10)])),
        };
        let after = Snapshot {
            this: 1200,
            broker: Some(BTreeMap::new()),
            database: Some(BTreeMap::from([(7, 60)])),
        };
        let text = report(&before, &after, 100, ticks);
        assert!(text.contains("2.00 s =  20.000 ms/referral"), "{text}");
        assert!(
            text.contains("RabbitMQ: no beam.smp process on this machine"),
            "{text}"
        );
        assert!(
            text.contains("PostgreSQL (1 postgres)") && text.contains("0.50 s =   5.000"),
            "{text}"
        );
        assert!(
            text.contains("all of them but RabbitMQ")
                && text.contains("2.50 s =  25.000 ms/referral"),
            "{text}"
        );

        let embedded = report(
            &Snapshot::default(),
            &Snapshot {
                this: 100,
                ..Snapshot::default()
            },
            10,
            ticks,
        );
        assert!(
            embedded.contains("RabbitMQ: not part of this run (the embedded bus)")
                && embedded.contains("PostgreSQL: not part of this run (SQLite)"),
            "{embedded}"
        );
    }
}
