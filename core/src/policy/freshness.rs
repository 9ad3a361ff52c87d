//! The decisions derived from a stored response: may it be stored (RFC 9111 3), how long is
//! it fresh (4.2.1, 4.2.2), and how old was it when received (4.2.3). All in milliseconds,
//! from delta-seconds clamped to 2^31, with saturating arithmetic: nothing here can panic.

use super::dates::{parse_http_date, Millis};
use super::delta::{parse_delta_seconds, Delta, MAX_DELTA_SECONDS};
use super::directives::{CacheControl, FieldList};
use super::headers::{first, lines, members};
use super::heuristic::heuristic_lifetime;
use super::stored::Stored;

/// RFC 9110 15.1: statuses a cache may give heuristic freshness.
pub const HEURISTICALLY_CACHEABLE: &[u16] =
    &[200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501];

/// Statuses whose caching semantics this cache implements (for `must-understand`).
const UNDERSTOOD: &[u16] = &[
    200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501,
];

#[derive(Clone, Debug)]
pub struct Derived {
    pub cc: CacheControl,
    pub storable: bool,
    /// Freshness lifetime; 0 when the response must be validated before every use.
    pub lifetime: Millis,
    /// `corrected_initial_age`: the response's age when it was received.
    pub initial_age: Millis,
    /// Unqualified `no-cache` (or `Pragma: no-cache` without `Cache-Control`).
    pub no_cache: bool,
    /// Fields a qualified `no-cache` names: left out when serving without validation.
    pub no_cache_fields: Vec<String>,
    /// `Vary: *` (alone or in a list): the response never matches a later request.
    pub vary_star: bool,
    /// Lifetime from `s-maxage`/`max-age`/`Expires` (not heuristic).
    pub explicit: bool,
}

pub fn seconds_to_millis(seconds: u64) -> Millis {
    (seconds.min(MAX_DELTA_SECONDS) as Millis).saturating_mul(1000)
}

pub fn derive(stored: &Stored) -> Derived {
    let headers = &stored.response_headers;
    let cc = CacheControl::parse(lines(headers, "cache-control"));
    let has_cache_control = headers.contains_key("cache-control");
    let pragma_no_cache = !has_cache_control
        && members(headers, "pragma")
            .iter()
            .any(|p| p.eq_ignore_ascii_case("no-cache"));
    let (no_cache, no_cache_fields) = match cc.field_list("no-cache") {
        Some(FieldList::All) => (true, Vec::new()),
        Some(FieldList::Fields(fields)) => (false, fields),
        None => (pragma_no_cache, Vec::new()),
    };
    let vary_star = members(headers, "vary").iter().any(|m| m == "*");
    let explicit = (stored.shared && cc.has("s-maxage"))
        || cc.has("max-age")
        || headers.contains_key("expires");
    // RFC 9111 4.1: a response that varies on `*` never matches a request; storing it would
    // only take the place of a useful one.
    let storable = !vary_star && is_storable(stored, &cc, explicit);
    let date = first(headers, "date").and_then(parse_http_date);
    let lifetime = if !storable || no_cache || vary_star {
        0
    } else {
        lifetime(stored, &cc, date)
    };
    Derived {
        initial_age: initial_age(stored, date),
        cc,
        storable,
        lifetime,
        no_cache,
        no_cache_fields,
        vary_star,
        explicit,
    }
}

/// RFC 9111 section 3.
fn is_storable(stored: &Stored, cc: &CacheControl, explicit: bool) -> bool {
    let status = stored.status;
    let understood = UNDERSTOOD.contains(&status);
    // must-understand: store only statuses whose semantics we implement; for those, a
    // no-store sent alongside (for caches that do not know must-understand) is ignored.
    let must_understand = cc.has("must-understand");
    if must_understand && !understood {
        return false;
    }
    let no_store = cc.has("no-store") && !must_understand;
    let private = matches!(cc.field_list("private"), Some(FieldList::All));
    let method_ok = stored.method == "GET" || stored.method == "HEAD";
    // Final statuses only; partial content and 304 are not complete responses to store.
    let status_ok = status >= 200 && status != 206 && status != 304;
    let authorized_ok = !stored.shared
        || !stored.authorization
        || cc.has("must-revalidate")
        || cc.has("public")
        || cc.has("s-maxage");
    method_ok
        && status_ok
        && !stored.request_no_store
        && !no_store
        && !(stored.shared && private)
        && authorized_ok
        && (explicit
            || cc.has("public")
            || (!stored.shared && private)
            || HEURISTICALLY_CACHEABLE.contains(&status))
}

/// RFC 9111 4.2.1: `s-maxage` (shared), `max-age`, `Expires - Date`, else heuristic.
/// An invalid value means already stale (4.2.1: "consider ... invalid freshness information
/// to be stale").
fn lifetime(stored: &Stored, cc: &CacheControl, date: Option<Millis>) -> Millis {
    let delta = |d: Delta| d.seconds().map_or(0, seconds_to_millis);
    if stored.shared {
        if let Some(s_maxage) = cc.delta("s-maxage") {
            return delta(s_maxage);
        }
    }
    if let Some(max_age) = cc.delta("max-age") {
        return delta(max_age);
    }
    let date = date.unwrap_or(stored.response_time);
    if let Some(expires) = first(&stored.response_headers, "expires") {
        // An invalid date (including "0") means already expired.
        // Clamped like a delta-seconds lifetime, so every lifetime fits the same bound.
        let longest = seconds_to_millis(MAX_DELTA_SECONDS);
        return parse_http_date(expires)
            .map_or(0, |expires| expires.saturating_sub(date).clamp(0, longest));
    }
    // 4.2.2: heuristics only for heuristically cacheable statuses or explicit `public`.
    if HEURISTICALLY_CACHEABLE.contains(&stored.status) || cc.has("public") {
        if let Some(modified) =
            first(&stored.response_headers, "last-modified").and_then(parse_http_date)
        {
            return heuristic_lifetime(
                date,
                modified,
                stored.heuristic_fraction,
                stored.heuristic_min,
                stored
                    .heuristic_max
                    .min(seconds_to_millis(MAX_DELTA_SECONDS)),
            );
        }
    }
    0
}

/// RFC 9111 4.2.3 `corrected_initial_age`.
fn initial_age(stored: &Stored, date: Option<Millis>) -> Millis {
    let apparent_age = date.map_or(0, |date| stored.response_time.saturating_sub(date).max(0));
    let response_delay = stored
        .response_time
        .saturating_sub(stored.request_time)
        .max(0);
    let corrected_age_value = seconds_to_millis(age_value(stored)).saturating_add(response_delay);
    apparent_age.max(corrected_age_value)
}

/// RFC 9111 5.1: the first member of a list-valued `Age` (`0,7200` is 0 seconds old).
/// `Age` on several field lines is not trusted: each cache on the way added its own, so
/// none says how old the response is, and 4.2.1 lets a cache treat several values for one
/// freshness input as stale. The same holds for those lines joined into one value, as
/// fetch's `Headers`, Node and proxies join them (RFC 9110 5.3: members separated by a
/// comma and whitespace, `0, 0`): the answer must not depend on which API delivered the
/// response. An `Age` that is not a delta-seconds is not trusted either. Untrusted means as
/// old as an age can be (stale), which is always safe: the response is revalidated.
fn age_value(stored: &Stored) -> u64 {
    let lines = lines(&stored.response_headers, "age");
    match lines.as_slice() {
        [] => 0,
        [line] if !is_joined_field_lines(line) => {
            let first_member = line
                .split(',')
                .next()
                .unwrap_or("")
                .trim_matches([' ', '\t']);
            match parse_delta_seconds(first_member) {
                Delta::Seconds(s) => s,
                Delta::Invalid => MAX_DELTA_SECONDS,
            }
        }
        _ => MAX_DELTA_SECONDS,
    }
}

/// Whether a value has the form of several field lines joined into one: a comma with
/// whitespace next to it (`a, b`), where a single sender's list is written `a,b`.
fn is_joined_field_lines(value: &str) -> bool {
    let value = value.trim_matches([' ', '\t']);
    value.match_indices(',').any(|(at, _)| {
        let before = value[..at].ends_with([' ', '\t']);
        let after = value[at + 1..].starts_with([' ', '\t']);
        before || after
    })
}
