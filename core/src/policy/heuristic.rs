//! Heuristic freshness (RFC 9111 4.2.2): a response without explicit freshness but with a
//! `Last-Modified` is fresh for a fraction of the time since it was last modified, within a
//! floor and a ceiling. The RFC leaves the algorithm to the cache ("MAY"); it suggests 10%.
//!
//! Defaults, and why: 10% as the RFC, Apache, Traffic Server and browsers use; at least 10
//! seconds (a resource modified a moment ago is not asked for again on every request; Traffic
//! Server's floor is an hour, Varnish gives every response without freshness 120 s); at most
//! a day (Apache's and Traffic Server's ceiling; Squid's is 3 days, Firefox's a week), where
//! 10% of a ten-year-old `Last-Modified` would otherwise be a year.

use std::time::Duration;

use super::dates::Millis;

pub const DEFAULT_FRACTION: f32 = 0.1;
pub const DEFAULT_MIN: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX: Duration = Duration::from_secs(24 * 60 * 60);

pub fn default_min_millis() -> Millis {
    duration_millis(DEFAULT_MIN)
}

pub fn default_max_millis() -> Millis {
    duration_millis(DEFAULT_MAX)
}

/// A duration in whole milliseconds, saturating.
pub fn duration_millis(duration: Duration) -> Millis {
    Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX)
}

/// The heuristic lifetime of a response `Date`d at `date` and last modified at `modified`:
/// `fraction` of the time between them, at least `min` and at most `max` (when `min > max`,
/// `max` wins). A `Last-Modified` later than `Date` is nonsense: no heuristic lifetime.
pub fn heuristic_lifetime(
    date: Millis,
    modified: Millis,
    fraction: f64,
    min: Millis,
    max: Millis,
) -> Millis {
    if modified > date {
        return 0;
    }
    let since = date.saturating_sub(modified) as f64;
    let share = (since * fraction).min(Millis::MAX as f64) as Millis;
    share.max(min.max(0)).min(max.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Millis = 1000;

    #[test]
    fn a_fraction_of_the_time_since_last_modified() {
        let lifetime =
            heuristic_lifetime(10_000 * SECOND, 0, 0.1, 10 * SECOND, default_max_millis());
        assert_eq!(lifetime, 1000 * SECOND);
    }

    #[test]
    fn at_least_the_floor() {
        let min = default_min_millis();
        assert_eq!(
            heuristic_lifetime(5 * SECOND, 0, 0.1, min, default_max_millis()),
            min
        );
        assert_eq!(
            heuristic_lifetime(SECOND, SECOND, 0.1, min, default_max_millis()),
            min
        );
    }

    #[test]
    fn at_most_the_ceiling() {
        let max = default_max_millis();
        let ten_years = 10 * 365 * 24 * 3600 * SECOND;
        assert_eq!(heuristic_lifetime(ten_years, 0, 0.1, 0, max), max);
    }

    #[test]
    fn last_modified_after_date_gives_nothing() {
        assert_eq!(
            heuristic_lifetime(0, SECOND, 0.1, 10 * SECOND, default_max_millis()),
            0
        );
    }

    #[test]
    fn absurd_bounds_do_not_panic() {
        assert_eq!(heuristic_lifetime(100 * SECOND, 0, 0.1, 50, 10), 10);
        assert_eq!(
            heuristic_lifetime(Millis::MAX, Millis::MIN, 1e38, -5, -1),
            0
        );
        assert_eq!(
            heuristic_lifetime(Millis::MAX, 0, f64::MAX, 0, Millis::MAX),
            Millis::MAX
        );
    }

    #[test]
    fn defaults() {
        assert_eq!(default_min_millis(), 10 * SECOND);
        assert_eq!(default_max_millis(), 86_400 * SECOND);
    }
}
