//! Extending an [`Obligation`] (S4 Art 45): by a tier of the rule's `extensions` or to an
//! announced last day, and why an extension is refused ([`ExtensionRefusal`]).

use chrono::{Datelike as _, NaiveDate};

use super::{Due, Extension, ExtensionTarget, Obligation, ObligationError, Period, Unit};
use crate::calendar::{Calendar, CalendarError};
use crate::time::Timestamp;

/// Why an extension was refused; each names the rule. The service maps each to a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionRefusal {
    /// The rule's table entry has no `extensions`.
    #[error("rule {rule} allows no extension")]
    NotExtensible { rule: String },
    /// The tier number is not one of the rule's tiers.
    #[error("rule {rule} has {tiers} extension tier(s); there is no tier {tier}")]
    NoSuchTier {
        rule: String,
        tier: u32,
        tiers: usize,
    },
    /// The tier would not lengthen the period in force.
    #[error(
        "tier {tier} of rule {rule} ({tier_period}) does not lengthen the period in force \
         ({current}); the tiers are {tiers}"
    )]
    TierNotLonger {
        rule: String,
        tier: u32,
        tier_period: Period,
        current: Period,
        tiers: String,
    },
    /// An announced date that is not after the current due date.
    #[error("{until} is not after the current due date of rule {rule} ({due})")]
    NotLater {
        rule: String,
        until: NaiveDate,
        due: String,
    },
    /// An announced date beyond the longest tier.
    #[error(
        "{until} is after the latest due date rule {rule}'s extensions allow ({latest}, with \
         {longest})"
    )]
    BeyondTiers {
        rule: String,
        until: NaiveDate,
        latest: String,
        longest: Period,
    },
    /// Hour periods take tiers, not dates.
    #[error("rule {rule} counts hours: name a tier, not a date")]
    DateForHours { rule: String },
    /// Made at or after the due time [V S4 Art 45: before expiry].
    #[error(
        "an extension of rule {rule} must be made before its due time {due} (S4 Art 45); it \
         was made at {made_at}"
    )]
    TooLate {
        rule: String,
        due: String,
        made_at: Timestamp,
    },
    /// The clock is stopped: there is no running due time to extend.
    #[error("the clock of rule {rule} is stopped since {since}; extend it once the clock restarts")]
    Paused { rule: String, since: Timestamp },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}
impl Obligation {
    /// Extends the obligation to `target`, made by `by` at `made_at`, refused unless it is made
    /// before the current due time [V S4 Art 45] and lengthens the period within the rule's
    /// `tiers` (the whole periods, counted from the start, each tier allows). Returns the new
    /// due time.
    #[allow(clippy::too_many_arguments)] // one argument per fact the law asks of an extension
    pub fn extend(
        &mut self,
        calendar: &Calendar,
        tiers: &[Period],
        target: ExtensionTarget,
        by: &str,
        why: &str,
        reference: &str,
        made_at: Timestamp,
    ) -> Result<Due, ExtensionRefusal> {
        let uncapped = false;
        self.extend_with(
            calendar, tiers, uncapped, target, by, why, reference, made_at,
        )
    }

    /// Like [`Obligation::extend`], for a rule under which the owing party may announce any
    /// later date (S4 Art 45: "告知…延长的期限", with no upper limit): an announced date is
    /// capped by `tiers` only when the rule table gives some (a setting, off by default); tiers
    /// themselves are still taken as tiers.
    #[allow(clippy::too_many_arguments)] // one argument per fact the law asks of an extension
    pub fn announce(
        &mut self,
        calendar: &Calendar,
        tiers: &[Period],
        target: ExtensionTarget,
        by: &str,
        why: &str,
        reference: &str,
        made_at: Timestamp,
    ) -> Result<Due, ExtensionRefusal> {
        let uncapped = tiers.is_empty();
        self.extend_with(
            calendar, tiers, uncapped, target, by, why, reference, made_at,
        )
    }

    /// [`Obligation::extend`] with announced dates `uncapped` (beyond the longest tier).
    #[allow(clippy::too_many_arguments)] // one argument per fact the law asks of an extension
    fn extend_with(
        &mut self,
        calendar: &Calendar,
        tiers: &[Period],
        uncapped: bool,
        target: ExtensionTarget,
        by: &str,
        why: &str,
        reference: &str,
        made_at: Timestamp,
    ) -> Result<Due, ExtensionRefusal> {
        let rule = self.rule.clone();
        let announcing = matches!(target, ExtensionTarget::Until(_));
        if tiers.is_empty() && !(uncapped && announcing) {
            return Err(ExtensionRefusal::NotExtensible { rule });
        }
        let due = self.due(calendar).map_err(|e| refused(&rule, e))?;
        if made_at >= due.at {
            return Err(ExtensionRefusal::TooLate {
                rule,
                due: due.display_at(),
                made_at,
            });
        }
        let current = self.period_in_force();
        let (period, tier, until) = match target {
            ExtensionTarget::Tier(n) => {
                let Some(tier_period) = n
                    .checked_sub(1)
                    .and_then(|i| tiers.get(usize::try_from(i).ok()?))
                    .copied()
                else {
                    return Err(ExtensionRefusal::NoSuchTier {
                        rule,
                        tier: n,
                        tiers: tiers.len(),
                    });
                };
                if tier_period.unit != current.unit || tier_period.amount <= current.amount {
                    return Err(ExtensionRefusal::TierNotLonger {
                        rule,
                        tier: n,
                        tier_period,
                        current,
                        tiers: describe_tiers(tiers),
                    });
                }
                (tier_period, Some(n), None)
            }
            ExtensionTarget::Until(date) => {
                if current.unit == Unit::Hours {
                    return Err(ExtensionRefusal::DateForHours { rule });
                }
                if due.last_day.is_some_and(|last| date <= last) {
                    return Err(ExtensionRefusal::NotLater {
                        rule,
                        until: date,
                        due: due.display_at(),
                    });
                }
                let longest = if uncapped {
                    Period::new(UNCAPPED_SEARCH_LIMIT, current.unit)
                } else {
                    tiers
                        .iter()
                        .filter(|t| t.unit == current.unit)
                        .max_by_key(|t| t.amount)
                        .copied()
                        .unwrap_or(current)
                };
                // The announced day itself must be on a loaded calendar: it becomes the due date.
                calendar
                    .working_day_on_or_after(date)
                    .map_err(ExtensionRefusal::Calendar)?;
                // The last day of `amount` days, or `None` when it falls in a later year that
                // has no calendar yet: such a period ends after the announced date whatever
                // that calendar says (counting walks forward through the announced day's
                // year, which is loaded). So in December an expert may announce a date in
                // December although the longest tier ends in a year not yet published.
                let last_day =
                    |amount: u32| -> Result<Option<NaiveDate>, ExtensionRefusal> {
                        match self.due_with(calendar, Period::new(amount, current.unit), false) {
                            Ok(d) => Ok(Some(d.last_day.unwrap_or(date))),
                            Err(ObligationError::Calendar(CalendarError::YearNotLoaded {
                                year,
                            })) if year > date.year() => Ok(None),
                            Err(e) => Err(refused(&rule, e)),
                        }
                    };
                let reaches = |amount: u32| -> Result<bool, ExtensionRefusal> {
                    Ok(last_day(amount)?.is_none_or(|last| last >= date))
                };
                if longest.amount <= current.amount || !reaches(longest.amount)? {
                    let latest = last_day(longest.amount)?
                        .map_or_else(|| "a later year".to_owned(), |l| format!("{l} 24:00 CST"));
                    return Err(ExtensionRefusal::BeyondTiers {
                        rule,
                        until: date,
                        latest,
                        longest,
                    });
                }
                // The shortest period whose last day reaches the announced date: a due date is
                // monotonic in the amount, so search between the period in force and the longest.
                let (mut low, mut high) = (current.amount, longest.amount);
                while high - low > 1 {
                    let mid = low + (high - low) / 2;
                    if reaches(mid)? {
                        high = mid;
                    } else {
                        low = mid;
                    }
                }
                (Period::new(high, current.unit), None, Some(date))
            }
        };
        self.extensions.push(Extension {
            period,
            tier,
            until,
            by: by.to_owned(),
            why: why.to_owned(),
            reference: reference.to_owned(),
            made_at,
        });
        self.due(calendar).map_err(|e| refused(&self.rule, e))
    }
}

/// How far an uncapped announced date may be searched, in the period's unit: ten years of
/// calendar days, more of working days; a date beyond is refused as beyond any reading.
const UNCAPPED_SEARCH_LIMIT: u32 = 3653;

/// An obligation error met while extending: only a stopped clock or a missing calendar year can
/// keep [`Obligation::due`] from answering.
fn refused(rule: &str, error: ObligationError) -> ExtensionRefusal {
    match error {
        ObligationError::Calendar(c) => ExtensionRefusal::Calendar(c),
        ObligationError::Paused { since } | ObligationError::AlreadyPaused { since } => {
            ExtensionRefusal::Paused {
                rule: rule.to_owned(),
                since,
            }
        }
        ObligationError::NotPaused => ExtensionRefusal::NotExtensible {
            rule: rule.to_owned(),
        },
    }
}

/// `tier 1: 7 calendar days, tier 2: 30 calendar days`.
pub fn describe_tiers(tiers: &[Period]) -> String {
    tiers
        .iter()
        .enumerate()
        .map(|(i, t)| format!("tier {}: {t}", i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}
