//! HTTP-date (RFC 9110 section 5.6.7): IMF-fixdate, the obsolete RFC 850 form and asctime,
//! parsed by the `httpdate` crate (strict: wrong spacing, case or weekday is invalid).
//! Times are milliseconds since the Unix epoch (`i64`) so arithmetic never panics.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch; negative before it.
pub type Millis = i64;

/// The time an HTTP-date names, or `None` when it is not a valid HTTP-date.
pub fn parse_http_date(text: &str) -> Option<Millis> {
    let time = httpdate::parse_http_date(text.trim_matches([' ', '\t'])).ok()?;
    Some(to_millis(time))
}

pub fn to_millis(time: SystemTime) -> Millis {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_6_1994: Millis = 784_111_777_000;

    #[test]
    fn three_forms() {
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(NOV_6_1994));
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(NOV_6_1994));
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(NOV_6_1994));
    }

    #[test]
    fn invalid_forms() {
        for bad in [
            "0",
            "",
            "Sun,  06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "sun, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06-Nov-1994 08:49:37 GMT",
            "Sun 06 Nov 1994 08:49:37 GMT",
            "Mon, 06 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn times_before_the_epoch_are_negative() {
        assert_eq!(to_millis(UNIX_EPOCH - std::time::Duration::from_secs(2)), -2000);
    }
}
