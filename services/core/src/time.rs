//! Instants and the injected clock.
//!
//! A [`Timestamp`] is an instant in milliseconds since the Unix epoch (UTC). Legal periods end at
//! 24:00 China Standard Time (docs/law.md §2), so timestamps are shown in UTC+08:00. Code that
//! needs "now" takes a [`Clock`]; tests use [`ManualClock`] and never sleep.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// China Standard Time, UTC+08:00, in seconds east of UTC.
const CST_OFFSET_SECONDS: i32 = 8 * 3600;

/// Why a time value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not an RFC 3339 date-time with an offset.
    #[error(
        "must be an RFC 3339 date-time with an offset, such as 2026-02-13T09:00:00+08:00: {reason}"
    )]
    InvalidRfc3339 {
        /// What the parser objected to.
        reason: String,
    },
    /// Outside the years 0000 to 9999 that RFC 3339 can write.
    #[error("{millis} ms since the epoch is outside the years 0000 to 9999")]
    OutOfRange {
        /// The rejected value.
        millis: i64,
    },
}

/// An instant, in milliseconds since 1970-01-01T00:00:00Z.
///
/// Kept within [`Timestamp::MIN`]..=[`Timestamp::MAX`] (years 0000 to 9999, as written in
/// UTC+08:00) so that every timestamp has an RFC 3339 rendering. Serialised as the integer
/// number of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Timestamp(i64);

impl Timestamp {
    /// 0000-01-01T00:00:00Z.
    pub const MIN: Timestamp = Timestamp(-62_167_219_200_000);
    /// 9999-12-31T23:59:59.999+08:00.
    pub const MAX: Timestamp = Timestamp(253_402_271_999_999);
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    /// The instant `millis` milliseconds after the epoch, clamped to [`Self::MIN`]..=[`Self::MAX`].
    /// Use [`Self::try_from_millis`] to reject out-of-range input instead.
    pub fn from_millis(millis: i64) -> Timestamp {
        Timestamp(millis.clamp(Self::MIN.0, Self::MAX.0))
    }

    /// The instant `millis` milliseconds after the epoch, or an error outside the supported range.
    pub fn try_from_millis(millis: i64) -> Result<Timestamp, TimeError> {
        if (Self::MIN.0..=Self::MAX.0).contains(&millis) {
            Ok(Timestamp(millis))
        } else {
            Err(TimeError::OutOfRange { millis })
        }
    }

    /// Milliseconds since the epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 date-time with any offset, e.g. `2026-02-13T09:00:00+08:00`.
    /// Sub-millisecond digits are truncated.
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimeError> {
        let parsed = DateTime::parse_from_rfc3339(s).map_err(|e| TimeError::InvalidRfc3339 {
            reason: e.to_string(),
        })?;
        Timestamp::try_from_millis(parsed.timestamp_millis())
    }

    /// RFC 3339 in China Standard Time, e.g. `2026-02-13T09:00:00+08:00`; milliseconds are shown
    /// only when they are not zero.
    pub fn to_rfc3339(self) -> String {
        self.to_cst().to_rfc3339_opts(SecondsFormat::AutoSi, false)
    }

    /// The instant as a chrono date-time in UTC.
    pub fn to_utc(self) -> DateTime<Utc> {
        // Always Some: the range invariant keeps the value inside chrono's range.
        DateTime::from_timestamp_millis(self.0).unwrap_or(DateTime::UNIX_EPOCH)
    }

    /// The instant as a chrono date-time in China Standard Time (UTC+08:00).
    pub fn to_cst(self) -> DateTime<FixedOffset> {
        let utc = self.to_utc();
        match FixedOffset::east_opt(CST_OFFSET_SECONDS) {
            Some(cst) => utc.with_timezone(&cst),
            None => utc.fixed_offset(),
        }
    }

    /// This instant moved forward by `duration`, saturating at [`Self::MAX`].
    pub fn plus(self, duration: Duration) -> Timestamp {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Timestamp::from_millis(self.0.saturating_add(millis))
    }

    /// This instant moved back by `duration`, saturating at [`Self::MIN`].
    pub fn minus(self, duration: Duration) -> Timestamp {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Timestamp::from_millis(self.0.saturating_sub(millis))
    }

    /// Milliseconds from `other` to `self` (negative when `other` is later).
    pub fn minus_ts(self, other: Timestamp) -> i64 {
        // Cannot overflow: both values lie within MIN..=MAX.
        self.0 - other.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl TryFrom<i64> for Timestamp {
    type Error = TimeError;
    fn try_from(millis: i64) -> Result<Self, Self::Error> {
        Timestamp::try_from_millis(millis)
    }
}

impl From<Timestamp> for i64 {
    fn from(ts: Timestamp) -> i64 {
        ts.0
    }
}

/// The source of "now". Injected everywhere so tests control time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(Utc::now().timestamp_millis())
    }
}

/// A clock that starts at a chosen instant and then runs at the wall clock's pace: a test fixes
/// the date (so it passes on any day) while timers, retries and timeouts still run in real time.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    start: Timestamp,
    began: std::time::Instant,
}

impl OffsetClock {
    /// A clock showing `start` now.
    pub fn starting_at(start: Timestamp) -> OffsetClock {
        OffsetClock {
            start,
            began: std::time::Instant::now(),
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> Timestamp {
        self.start.plus(self.began.elapsed())
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    millis: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            millis: Arc::new(AtomicI64::new(start.as_millis())),
        }
    }

    /// Sets the time.
    pub fn set(&self, now: Timestamp) {
        self.millis.store(now.as_millis(), Ordering::SeqCst);
    }

    /// Moves the time forward by `by` (saturating at [`Timestamp::MAX`]).
    pub fn advance(&self, by: Duration) {
        let step = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        // fetch_update with a closure that always returns Some cannot fail.
        let _ = self
            .millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                Some(Timestamp::from_millis(current.saturating_add(step)).as_millis())
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.millis.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on broken fixtures
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_in_china_standard_time() {
        let ts = Timestamp::parse_rfc3339("2026-02-13T01:00:00Z").unwrap();
        assert_eq!(ts.to_rfc3339(), "2026-02-13T09:00:00+08:00");
        assert_eq!(ts.to_string(), "2026-02-13T09:00:00+08:00");
    }

    #[test]
    fn milliseconds_are_shown_only_when_present() {
        let ts = Timestamp::parse_rfc3339("2026-02-13T09:00:00.250+08:00").unwrap();
        assert_eq!(ts.to_rfc3339(), "2026-02-13T09:00:00.250+08:00");
    }

    #[test]
    fn parsing_and_rendering_round_trip_through_any_offset() {
        let a = Timestamp::parse_rfc3339("2026-02-13T09:00:00+08:00").unwrap();
        let b = Timestamp::parse_rfc3339("2026-02-13T01:00:00+00:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(Timestamp::parse_rfc3339(&a.to_rfc3339()), Ok(a));
        assert_eq!(a.as_millis(), 1_770_944_400_000);
    }

    #[test]
    fn a_date_without_offset_is_rejected() {
        let err = Timestamp::parse_rfc3339("2026-02-13T09:00:00").unwrap_err();
        assert!(matches!(err, TimeError::InvalidRfc3339 { .. }));
        assert!(err.to_string().starts_with("must be an RFC 3339 date-time"));
    }

    #[test]
    fn the_supported_range_is_exactly_the_four_digit_years() {
        assert_eq!(Timestamp::MIN.to_rfc3339(), "0000-01-01T08:00:00+08:00");
        assert_eq!(Timestamp::MAX.to_rfc3339(), "9999-12-31T23:59:59.999+08:00");
        assert_eq!(Timestamp::from_millis(i64::MAX), Timestamp::MAX);
        assert_eq!(Timestamp::from_millis(i64::MIN), Timestamp::MIN);
        assert_eq!(
            Timestamp::try_from_millis(Timestamp::MAX.as_millis() + 1),
            Err(TimeError::OutOfRange {
                millis: Timestamp::MAX.as_millis() + 1
            })
        );
        assert!(Timestamp::parse_rfc3339("0000-01-01T00:00:00+08:00").is_err());
    }

    #[test]
    fn arithmetic_moves_by_durations_and_measures_differences() {
        let t = Timestamp::from_millis(1_000);
        let later = t.plus(Duration::from_secs(3600));
        assert_eq!(later.minus_ts(t), 3_600_000);
        assert_eq!(t.minus_ts(later), -3_600_000);
        assert_eq!(later.minus(Duration::from_secs(3600)), t);
        assert_eq!(t.plus(Duration::MAX), Timestamp::MAX);
    }

    #[test]
    fn timestamps_serialise_as_integer_milliseconds() {
        let t = Timestamp::from_millis(1_770_944_400_000);
        assert_eq!(serde_json::to_string(&t).unwrap(), "1770944400000");
        assert_eq!(
            serde_json::from_str::<Timestamp>("1770944400000").unwrap(),
            t
        );
        assert!(serde_json::from_str::<Timestamp>("9223372036854775807").is_err());
    }

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = ManualClock::new(Timestamp::from_millis(0));
        let other = clock.clone();
        assert_eq!(clock.now(), Timestamp::from_millis(0));
        clock.advance(Duration::from_millis(1500));
        assert_eq!(other.now(), Timestamp::from_millis(1500));
        other.set(Timestamp::from_millis(42));
        assert_eq!(clock.now(), Timestamp::from_millis(42));
    }

    #[test]
    fn the_system_clock_reads_a_plausible_time() {
        let now = SystemClock.now();
        assert!(now > Timestamp::parse_rfc3339("2024-01-01T00:00:00Z").unwrap());
    }
}
