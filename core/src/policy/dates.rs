//! HTTP-date (RFC 9110 section 5.6.7): IMF-fixdate, the obsolete RFC 850 form and asctime.
//! Parsing is strict about the format (case, spacing, field widths, `GMT`): RFC 9111 5.3 says
//! an invalid `Expires` means "already expired", so `Thu,  01 Jan` (two spaces) is invalid.
//! The day name is not checked against the date: it is redundant, and origins get it wrong.
//! Times are milliseconds since the Unix epoch (`i64`) so arithmetic never panics.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch; negative before it.
pub type Millis = i64;

const SHORT_DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The time an HTTP-date names, or `None` when it is not a valid HTTP-date.
pub fn parse_http_date(text: &str) -> Option<Millis> {
    let text = text.trim_matches([' ', '\t']);
    imf_fixdate(text)
        .or_else(|| rfc850_date(text))
        .or_else(|| asctime_date(text))
}

pub fn to_millis(time: SystemTime) -> Millis {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn imf_fixdate(s: &str) -> Option<Millis> {
    let (day_name, rest) = s.split_once(", ")?;
    if !SHORT_DAYS.contains(&day_name) {
        return None;
    }
    let [day, month, year, time, zone] = fields::<5>(rest, ' ')?;
    (zone == "GMT").then_some(())?;
    timestamp(
        digits(year, 4)?,
        month_number(month)?,
        digits(day, 2)?,
        time,
    )
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`
fn rfc850_date(s: &str) -> Option<Millis> {
    let (day_name, rest) = s.split_once(", ")?;
    if !LONG_DAYS.contains(&day_name) {
        return None;
    }
    let [date, time, zone] = fields::<3>(rest, ' ')?;
    (zone == "GMT").then_some(())?;
    let [day, month, year] = fields::<3>(date, '-')?;
    timestamp(
        two_digit_year(digits(year, 2)?),
        month_number(month)?,
        digits(day, 2)?,
        time,
    )
}

/// `Sun Nov  6 08:49:37 1994` (a one-digit day is padded with a space)
fn asctime_date(s: &str) -> Option<Millis> {
    let day_name = s.get(..3)?;
    if !SHORT_DAYS.contains(&day_name) || s.get(3..4)? != " " {
        return None;
    }
    let month = month_number(s.get(4..7)?)?;
    if s.get(7..8)? != " " {
        return None;
    }
    let day = match s.get(8..10)? {
        padded if padded.starts_with(' ') => digits(&padded[1..], 1)?,
        two => digits(two, 2)?,
    };
    let [time, year] = fields::<2>(s.get(10..)?.strip_prefix(' ')?, ' ')?;
    timestamp(digits(year, 4)?, month, day, time)
}

/// Exactly `N` parts separated by single `separator`s (no empty part: no double spaces).
fn fields<const N: usize>(s: &str, separator: char) -> Option<[&str; N]> {
    let mut parts = s.split(separator);
    let mut out = [""; N];
    for slot in out.iter_mut() {
        *slot = parts.next().filter(|p| !p.is_empty())?;
    }
    parts.next().is_none().then_some(out)
}

/// A number of exactly `width` ASCII digits.
fn digits(s: &str, width: usize) -> Option<i64> {
    (s.len() == width && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

fn month_number(name: &str) -> Option<i64> {
    MONTHS.iter().position(|m| *m == name).map(|i| i as i64 + 1)
}

/// RFC 9110 5.6.7: a two-digit year more than 50 years in the future is the most recent
/// year in the past with the same last two digits.
fn two_digit_year(yy: i64) -> i64 {
    let now_year = 1970 + to_millis(SystemTime::now()).max(0) / (365_2425 * 86_400 * 1000 / 10_000);
    let mut year = now_year - now_year % 100 + yy;
    if year > now_year + 50 {
        year -= 100;
    }
    year
}

/// `hh:mm:ss` on the given day, as milliseconds since the epoch.
fn timestamp(year: i64, month: i64, day: i64, time: &str) -> Option<Millis> {
    let [hour, minute, second] = fields::<3>(time, ':')?;
    let (hour, minute, second) = (digits(hour, 2)?, digits(minute, 2)?, digits(second, 2)?);
    // A leap second (60) is allowed by the grammar.
    if hour > 23 || minute > 59 || second > 60 || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_6_1994: Millis = 784_111_777_000;

    #[test]
    fn three_forms() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(NOV_6_1994)
        );
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(NOV_6_1994)
        );
        assert_eq!(
            parse_http_date("Sun Nov  6 08:49:37 1994"),
            Some(NOV_6_1994)
        );
        assert_eq!(
            parse_http_date("Thu Nov 16 08:49:37 1994"),
            Some(NOV_6_1994 + 10 * 86_400_000)
        );
        assert_eq!(
            parse_http_date(" Sun, 06 Nov 1994 08:49:37 GMT\t"),
            Some(NOV_6_1994)
        );
    }

    #[test]
    fn agrees_with_httpdate_over_many_years() {
        for step in 0..2_000u64 {
            let time = UNIX_EPOCH + std::time::Duration::from_secs(step * 9_876_543 + 7);
            let text = httpdate::fmt_http_date(time);
            assert_eq!(parse_http_date(&text), Some(to_millis(time)), "{text}");
        }
        assert_eq!(
            parse_http_date("Wed, 29 Feb 2000 00:00:00 GMT"),
            Some(951_782_400_000)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Wed, 31 Dec 1969 23:59:59 GMT"),
            Some(-1000)
        );
    }

    #[test]
    fn the_day_name_is_not_checked_against_the_date() {
        // 8 Aug 2050 is a Monday; http-cache-tests sends it as a Thursday.
        assert!(parse_http_date("Thu Aug  8 02:01:18 2050").is_some());
    }

    #[test]
    fn invalid_forms() {
        for bad in [
            "0",
            "",
            "-1",
            "Sun,  06 Nov 1994 08:49:37 GMT",
            "Sun, 06  Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "sun, 06 Nov 1994 08:49:37 GMT",
            "SUN, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 gmt",
            "Sun, 06-Nov-1994 08:49:37 GMT",
            "Sun 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 29 Feb 1900 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08.49.37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "Sun, 06 Nov 1994 08:49:37 +1000",
            "Sun Nov 6 08:49:37 1994",
            "Sun Nov  6 08:49:37  1994",
            "Sunday, 06-Nov-94 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37 GMT\u{e9}",
            "\u{e9}\u{e9}\u{e9} Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn two_digit_years_are_within_fifty_years_of_now() {
        let this_year = 1970 + to_millis(SystemTime::now()) / (31_556_952_000);
        let parsed = parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").unwrap();
        assert_eq!(parsed, NOV_6_1994);
        let far = (this_year + 60) % 100;
        let year_of = |ms: Millis| 1970 + ms.div_euclid(31_556_952_000);
        let text = format!("Monday, 06-Nov-{far:02} 08:49:37 GMT");
        assert!(
            year_of(parse_http_date(&text).unwrap()) <= this_year,
            "{text}"
        );
    }

    #[test]
    fn times_before_the_epoch_are_negative() {
        assert_eq!(
            to_millis(UNIX_EPOCH - std::time::Duration::from_secs(2)),
            -2000
        );
    }
}
