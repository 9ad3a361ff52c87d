//! delta-seconds (RFC 9111 section 1.2.2): a non-negative integer number of seconds. Values
//! larger than 2^31 are clamped to 2^31 before any arithmetic, so no `Age`, `max-age` or
//! `stale-*` value an origin sends can overflow a time computation.

/// RFC 9111 1.2.2: "a cache ... MUST consider [a larger value] to be 2147483648".
pub const MAX_DELTA_SECONDS: u64 = 2_147_483_648;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delta {
    Seconds(u64),
    /// Present but not a delta-seconds (`-1`, `1.5`, `a1`, empty).
    Invalid,
}

impl Delta {
    pub fn seconds(self) -> Option<u64> {
        match self {
            Delta::Seconds(s) => Some(s),
            Delta::Invalid => None,
        }
    }
}

/// `1*DIGIT`, clamped to [`MAX_DELTA_SECONDS`]; anything else is invalid.
pub fn parse_delta_seconds(text: &str) -> Delta {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Delta::Invalid;
    }
    let mut value: u64 = 0;
    for b in text.bytes() {
        value = value.saturating_mul(10).saturating_add(u64::from(b - b'0'));
        if value > MAX_DELTA_SECONDS {
            return Delta::Seconds(MAX_DELTA_SECONDS);
        }
    }
    Delta::Seconds(value)
}

/// A `Cache-Control` directive's delta-seconds: `1*DIGIT`, or a decimal `1*DIGIT "." 1*DIGIT`
/// read as its whole seconds (`3600.5` is 3600). RFC 9111 4.2.1 only encourages treating a
/// non-integer `max-age` as invalid; browsers, Fastly, Squid, Traffic Server and Varnish all
/// read the whole seconds of a decimal, and rounding down never makes a response fresher
/// than its origin said. Anything else (`3600a`, `a3600`, `-1`, `1.`) is still invalid.
pub fn parse_directive_seconds(text: &str) -> Delta {
    match text.split_once('.') {
        Some((whole, fraction))
            if !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()) =>
        {
            parse_delta_seconds(whole)
        }
        _ => parse_delta_seconds(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_to_two_to_the_31() {
        assert_eq!(
            parse_delta_seconds("2147483648"),
            Delta::Seconds(MAX_DELTA_SECONDS)
        );
        assert_eq!(
            parse_delta_seconds("2147483649"),
            Delta::Seconds(MAX_DELTA_SECONDS)
        );
        assert_eq!(
            parse_delta_seconds("18446744073709551615"),
            Delta::Seconds(MAX_DELTA_SECONDS)
        );
        assert_eq!(
            parse_delta_seconds(&"9".repeat(400)),
            Delta::Seconds(MAX_DELTA_SECONDS)
        );
        assert_eq!(parse_delta_seconds("0"), Delta::Seconds(0));
        assert_eq!(parse_delta_seconds("007"), Delta::Seconds(7));
    }

    #[test]
    fn directive_seconds_read_the_whole_seconds_of_a_decimal() {
        assert_eq!(parse_directive_seconds("3600.0"), Delta::Seconds(3600));
        assert_eq!(parse_directive_seconds("3600.5"), Delta::Seconds(3600));
        assert_eq!(parse_directive_seconds("0.9"), Delta::Seconds(0));
        assert_eq!(parse_directive_seconds("60"), Delta::Seconds(60));
        assert_eq!(
            parse_directive_seconds("99999999999.5"),
            Delta::Seconds(MAX_DELTA_SECONDS)
        );
        for bad in [
            "1.", ".5", "1.5.5", "1.a", "a.5", "-1.5", "3600a", "1,5", "",
        ] {
            assert_eq!(parse_directive_seconds(bad), Delta::Invalid, "{bad:?}");
        }
    }

    #[test]
    fn rejects_what_is_not_digits() {
        for bad in ["", "-1", "+1", "1.0", " 1", "1 ", "1;a=b", "abc", "１"] {
            assert_eq!(parse_delta_seconds(bad), Delta::Invalid, "{bad:?}");
        }
    }
}
