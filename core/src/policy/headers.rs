//! Header-map helpers for the policy: reading field lines, dropping what a cache never stores
//! (RFC 9111 3.1), and merging a 304's fields into a stored response (RFC 9111 3.2).

use crate::entry::{is_token, HeaderMap, HeaderValue};

/// Connection-specific fields: never stored, never served from a cache (RFC 9110 7.6.1,
/// RFC 9111 3.1), and not forwarded on revalidation requests.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authentication-info",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Fields a 304 must not change in the stored response: they describe the stored body
/// (RFC 9111 3.2 names Content-Length; encoding, range and the entity tag describe the bytes
/// we hold; http-cache-tests requires `ETag`, `Content-MD5` and `Content-Encoding` to be kept).
const KEPT_ON_UPDATE: &[&str] = &[
    "content-length",
    "content-encoding",
    "content-range",
    "content-md5",
    "etag",
];

/// Every field line of `name` (lower-case), in order.
pub fn lines<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get(name)
        .map(|v| v.values().collect())
        .unwrap_or_default()
}

/// The first field line of `name`.
pub fn first<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.values().next())
}

/// The comma-separated members of every line of `name`, trimmed, empty ones dropped.
pub fn members(headers: &HeaderMap, name: &str) -> Vec<String> {
    lines(headers, name)
        .iter()
        .flat_map(|line| line.split(','))
        .map(|m| m.trim_matches([' ', '\t']).to_owned())
        .filter(|m| !m.is_empty())
        .collect()
}

/// `headers` without hop-by-hop fields, including those the `Connection` field nominates.
pub fn without_hop_by_hop(headers: &HeaderMap) -> HeaderMap {
    let nominated: Vec<String> = members(headers, "connection")
        .iter()
        .map(|m| m.to_ascii_lowercase())
        .collect();
    headers
        .iter()
        .filter(|(name, _)| !HOP_BY_HOP.contains(&name.as_str()) && !nominated.contains(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

pub fn remove_all(headers: &mut HeaderMap, names: &[String]) {
    for name in names {
        headers.remove(name);
    }
}

/// The stored response updated with a 304's fields: each field the 304 carries replaces the
/// stored one, new fields are added, and fields describing the stored body are kept.
pub fn merge_not_modified(stored: &HeaderMap, update: &HeaderMap) -> HeaderMap {
    let mut merged = stored.clone();
    for (name, value) in update {
        if KEPT_ON_UPDATE.contains(&name.as_str()) {
            continue;
        }
        merged.insert(name.clone(), value.clone());
    }
    merged
}

/// Headers read back from disk are checked like headers from a caller: a name that is not a
/// token or a value with CR, LF or NUL is dropped, so a damaged policy cannot inject fields.
pub fn sanitized(headers: HeaderMap) -> HeaderMap {
    let clean = |v: &str| !v.contains(['\r', '\n', '\0']);
    headers
        .into_iter()
        .filter(|(name, _)| is_token(name))
        .filter_map(|(name, value)| {
            let value = match value {
                HeaderValue::One(v) => clean(&v).then_some(HeaderValue::One(v))?,
                HeaderValue::Many(vs) => {
                    let vs: Vec<String> = vs.into_iter().filter(|v| clean(v)).collect();
                    if vs.is_empty() {
                        return None;
                    }
                    HeaderValue::Many(vs)
                }
            };
            Some((name.to_ascii_lowercase(), value))
        })
        .collect()
}

/// Request fields whose values are case-insensitive tokens (language ranges, content codings,
/// charsets): `en-US` and `en-us` select the same variant.
const CASE_INSENSITIVE_VALUES: &[&str] = &["accept-language", "accept-encoding", "accept-charset"];

/// A request field for Vary matching: all lines combined, list members trimmed, so
/// `a, b` on one line equals `a` and `b` on two lines. `None` when absent.
pub fn normalized_for_vary(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?;
    let joined = value
        .values()
        .flat_map(|line| line.split(','))
        .map(|m| m.trim_matches([' ', '\t']))
        .collect::<Vec<_>>()
        .join(",");
    Some(if CASE_INSENSITIVE_VALUES.contains(&name) {
        joined
            .chars()
            .filter(|c| *c != ' ' && *c != '\t')
            .collect::<String>()
            .to_ascii_lowercase()
    } else {
        joined
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut out = HeaderMap::new();
        for (k, v) in pairs {
            match out.get_mut(*k) {
                Some(HeaderValue::One(first)) => {
                    let first = first.clone();
                    out.insert(k.to_string(), HeaderValue::Many(vec![first, v.to_string()]));
                }
                Some(HeaderValue::Many(all)) => all.push(v.to_string()),
                None => {
                    out.insert(k.to_string(), HeaderValue::One(v.to_string()));
                }
            }
        }
        out
    }

    #[test]
    fn hop_by_hop_and_connection_nominated_fields_are_dropped() {
        let out = without_hop_by_hop(&map(&[
            ("connection", "a, B"),
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
            ("keep-alive", "x"),
            ("proxy-authenticate", "x"),
            ("transfer-encoding", "chunked"),
        ]));
        assert_eq!(out.keys().collect::<Vec<_>>(), vec!["c"]);
    }

    #[test]
    fn a_304_replaces_and_adds_fields_but_keeps_body_fields() {
        let stored = map(&[
            ("content-length", "5"),
            ("content-type", "text/plain"),
            ("x-old", "1"),
        ]);
        let update = map(&[
            ("content-length", "10"),
            ("content-type", "text/html"),
            ("x-new", "2"),
        ]);
        let merged = merge_not_modified(&stored, &update);
        assert_eq!(first(&merged, "content-length"), Some("5"));
        assert_eq!(first(&merged, "content-type"), Some("text/html"));
        assert_eq!(first(&merged, "x-old"), Some("1"));
        assert_eq!(first(&merged, "x-new"), Some("2"));
    }

    #[test]
    fn damaged_headers_are_dropped() {
        let mut headers = map(&[("ok", "1"), ("bad name", "1"), ("inject", "a\r\nx: y")]);
        headers.insert(
            "many".into(),
            HeaderValue::Many(vec!["a".into(), "b\n".into()]),
        );
        let clean = sanitized(headers);
        assert_eq!(clean.keys().collect::<Vec<_>>(), vec!["many", "ok"]);
        assert_eq!(clean["many"], HeaderValue::Many(vec!["a".into()]));
    }

    #[test]
    fn vary_values_compare_across_lines() {
        assert_eq!(
            normalized_for_vary(&map(&[("x", "a, b")]), "x"),
            normalized_for_vary(&map(&[("x", "a"), ("x", "b")]), "x")
        );
        assert_eq!(normalized_for_vary(&map(&[]), "x"), None);
        assert_eq!(
            normalized_for_vary(
                &map(&[("accept-language", "en-US, De;q=0.5")]),
                "accept-language"
            ),
            normalized_for_vary(
                &map(&[("accept-language", "en-us,de; q=0.5")]),
                "accept-language"
            )
        );
        assert_ne!(
            normalized_for_vary(&map(&[("x-token", "A")]), "x-token"),
            normalized_for_vary(&map(&[("x-token", "a")]), "x-token")
        );
    }
}
