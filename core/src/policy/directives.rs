//! `Cache-Control` parsing (RFC 9111 section 5.2, RFC 9110 section 5.6).
//!
//! Directive names are case-insensitive tokens; a value is a token or a quoted-string and
//! follows `=` with no whitespace around it (`max-age = 5` is not a valid `max-age`).
//! Commas inside quoted strings do not split directives (`ext="max-age=1, x"` is one
//! directive). When a directive appears twice, the first occurrence counts (RFC 9111 4.2.1
//! lets a cache use the first occurrence or treat the response as stale).

use super::delta::{parse_directive_seconds, Delta};

/// One directive as received: `name` lower-cased, `value` unquoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub value: Option<String>,
    /// False when the directive was not well-formed (whitespace around `=`, garbage after
    /// the value, an unterminated quote). Its name still counts: a malformed `no-store` is
    /// still a `no-store`, and a malformed `max-age` is an invalid one (the response is stale).
    pub well_formed: bool,
}

/// The directives of every `Cache-Control` field line of a message, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheControl {
    directives: Vec<Directive>,
}

impl CacheControl {
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> CacheControl {
        let mut directives = Vec::new();
        for line in lines {
            parse_line(line, &mut directives);
        }
        CacheControl { directives }
    }

    /// The first occurrence of `name` (lower-case).
    pub fn get(&self, name: &str) -> Option<&Directive> {
        self.directives.iter().find(|d| d.name == name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A delta-seconds directive (`max-age`, `s-maxage`, `stale-if-error`, ...): `None` when
    /// absent, `Some(Delta::Invalid)` when present with a missing or malformed value. A
    /// decimal counts its whole seconds (see `parse_directive_seconds`).
    pub fn delta(&self, name: &str) -> Option<Delta> {
        let directive = self.get(name)?;
        Some(match (&directive.value, directive.well_formed) {
            (Some(value), true) => parse_directive_seconds(value),
            _ => Delta::Invalid,
        })
    }

    /// `no-cache` / `private`: `None` when absent, `Some(FieldList::All)` when unqualified,
    /// `Some(FieldList::Fields(names))` for `no-cache="a, b"` (names lower-cased).
    pub fn field_list(&self, name: &str) -> Option<FieldList> {
        let directive = self.get(name)?;
        let Some(value) = directive.value.as_deref().filter(|_| directive.well_formed) else {
            return Some(FieldList::All);
        };
        let fields: Vec<String> = value
            .split(',')
            .map(|f| f.trim().to_ascii_lowercase())
            .filter(|f| !f.is_empty())
            .collect();
        // `no-cache=""` names no field: be safe and treat it as the unqualified form.
        Some(if fields.is_empty() {
            FieldList::All
        } else {
            FieldList::Fields(fields)
        })
    }
}

/// The argument of a qualified `no-cache` or `private`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldList {
    All,
    Fields(Vec<String>),
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn parse_line(line: &str, out: &mut Vec<Directive>) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Empty list elements and whitespace between them are allowed.
        while i < bytes.len() && (is_ows(bytes[i]) || bytes[i] == b',') {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let name_start = i;
        while i < bytes.len() && is_tchar(bytes[i]) {
            i += 1;
        }
        let name = line[name_start..i].to_ascii_lowercase();
        let mut well_formed = !name.is_empty();
        let mut value = None;
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            if i < bytes.len() && bytes[i] == b'"' {
                let (text, end, closed) = quoted_string(line, i);
                value = Some(text);
                well_formed &= closed;
                i = end;
            } else {
                let start = i;
                while i < bytes.len() && is_tchar(bytes[i]) {
                    i += 1;
                }
                value = Some(line[start..i].to_owned());
                well_formed &= i > start;
            }
        }
        while i < bytes.len() && is_ows(bytes[i]) {
            i += 1;
        }
        if i < bytes.len() && bytes[i] != b',' {
            // Something other than the end of this directive (`max-age =5`, `max-age=5a b`):
            // the directive is malformed; skip to the next comma outside a quoted string.
            well_formed = false;
            i = skip_to_comma(line, i);
        }
        if !name.is_empty() {
            out.push(Directive {
                name,
                value,
                well_formed,
            });
        }
    }
}

/// Reads the quoted-string starting at `start` (a `"`): its unescaped text, the index after
/// it, and whether it was closed.
fn quoted_string(line: &str, start: usize) -> (String, usize, bool) {
    let mut text = String::new();
    let mut chars = line[start + 1..].char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            '"' => return (text, start + 1 + offset + 1, true),
            '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    text.push(escaped);
                }
            }
            c => text.push(c),
        }
    }
    (text, line.len(), false)
}

fn skip_to_comma(line: &str, mut i: usize) -> usize {
    let bytes = line.as_bytes();
    while i < bytes.len() && bytes[i] != b',' {
        if bytes[i] == b'"' {
            i = quoted_string(line, i).1;
        } else {
            i += 1;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::delta::MAX_DELTA_SECONDS;

    fn cc(lines: &[&str]) -> CacheControl {
        CacheControl::parse(lines.iter().copied())
    }

    #[test]
    fn names_are_case_insensitive() {
        let parsed = cc(&["MaX-AgE=60, No-CaChE, NO-STORE"]);
        assert_eq!(parsed.delta("max-age"), Some(Delta::Seconds(60)));
        assert!(parsed.has("no-cache"));
        assert!(parsed.has("no-store"));
    }

    #[test]
    fn whitespace_around_equals_makes_the_value_invalid() {
        assert_eq!(cc(&["max-age = 5"]).delta("max-age"), Some(Delta::Invalid));
        assert_eq!(cc(&["max-age =5"]).delta("max-age"), Some(Delta::Invalid));
        assert_eq!(cc(&["max-age= 5"]).delta("max-age"), Some(Delta::Invalid));
        assert_eq!(
            cc(&["max-age=5 "]).delta("max-age"),
            Some(Delta::Seconds(5))
        );
    }

    #[test]
    fn quoted_values_are_unquoted_and_hide_commas() {
        let parsed = cc(&[r#"ext="max-age=3600, x", max-age=1"#]);
        assert_eq!(parsed.delta("max-age"), Some(Delta::Seconds(1)));
        assert_eq!(
            parsed.get("ext").unwrap().value.as_deref(),
            Some("max-age=3600, x")
        );
        assert_eq!(
            cc(&[r#"max-age="3600""#]).delta("max-age"),
            Some(Delta::Seconds(3600))
        );
        assert_eq!(
            cc(&["max-age='3600'"]).delta("max-age"),
            Some(Delta::Invalid)
        );
    }

    #[test]
    fn invalid_delta_seconds() {
        for bad in [
            "max-age=-1",
            "max-age=a3600",
            "max-age=3600a",
            "max-age=3600.",
            "max-age",
            "max-age=",
        ] {
            assert_eq!(cc(&[bad]).delta("max-age"), Some(Delta::Invalid), "{bad}");
        }
        assert_eq!(
            cc(&["max-age=003600"]).delta("max-age"),
            Some(Delta::Seconds(3600))
        );
    }

    #[test]
    fn decimal_delta_seconds_count_their_whole_seconds() {
        assert_eq!(
            cc(&["max-age=3600.0"]).delta("max-age"),
            Some(Delta::Seconds(3600))
        );
        assert_eq!(
            cc(&["s-maxage=1.9"]).delta("s-maxage"),
            Some(Delta::Seconds(1))
        );
    }

    #[test]
    fn delta_seconds_are_clamped() {
        assert_eq!(
            cc(&["max-age=18446744073709551615999"]).delta("max-age"),
            Some(Delta::Seconds(MAX_DELTA_SECONDS))
        );
    }

    #[test]
    fn first_occurrence_wins_across_lines() {
        assert_eq!(
            cc(&["max-age=1", "max-age=1800"]).delta("max-age"),
            Some(Delta::Seconds(1))
        );
        assert_eq!(
            cc(&["max-age=1800, max-age=1"]).delta("max-age"),
            Some(Delta::Seconds(1800))
        );
    }

    #[test]
    fn qualified_no_cache_and_private_list_fields() {
        let parsed = cc(&[r#"no-cache="Set-Cookie, X-A", private=x-b, max-age=60"#]);
        assert_eq!(
            parsed.field_list("no-cache"),
            Some(FieldList::Fields(vec!["set-cookie".into(), "x-a".into()]))
        );
        assert_eq!(
            parsed.field_list("private"),
            Some(FieldList::Fields(vec!["x-b".into()]))
        );
        assert_eq!(
            cc(&["no-cache"]).field_list("no-cache"),
            Some(FieldList::All)
        );
        assert_eq!(cc(&["max-age=1"]).field_list("no-cache"), None);
    }

    #[test]
    fn garbage_never_panics() {
        for junk in [
            "\"",
            "=",
            ",,,",
            "a=\"\\",
            "max-age=\"1",
            "é=1, max-age=2",
            "a b c",
        ] {
            let _ = cc(&[junk]);
        }
        assert_eq!(
            cc(&["é=1, max-age=2"]).delta("max-age"),
            Some(Delta::Seconds(2))
        );
    }
}
