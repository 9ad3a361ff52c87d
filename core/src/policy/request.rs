//! The request side: a request as the policy sees it, and its own `Cache-Control`
//! directives (RFC 9111 5.2.1) for the caller to honour.

use serde::Serialize;

use super::directives::CacheControl;
use super::headers::{lines, members};
use crate::entry::HeaderMap;

/// The request a response answered (or a new request to check against a stored response).
#[derive(Clone, Debug, Default)]
pub struct RequestInfo {
    pub method: String,
    pub url: String,
    pub headers: HeaderMap,
}

/// The request's own `Cache-Control` (RFC 9111 5.2.1), for the caller to honour.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestDirectives {
    pub no_store: bool,
    /// `no-cache`, or `Pragma: no-cache` without `Cache-Control`.
    pub no_cache: bool,
    pub only_if_cached: bool,
    /// Seconds; an invalid value is taken as 0 (the client wants a response that is not old).
    pub max_age: Option<u64>,
    pub min_fresh: Option<u64>,
    /// `Some(None)`: any staleness is acceptable (`max-stale` without a value). Serialized as
    /// `null` (absent), `true` (any) or the number of seconds.
    #[serde(serialize_with = "serialize_max_stale")]
    pub max_stale: Option<Option<u64>>,
    pub stale_if_error: Option<u64>,
}

fn serialize_max_stale<S: serde::Serializer>(
    value: &Option<Option<u64>>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match value {
        None => serializer.serialize_none(),
        Some(None) => serializer.serialize_bool(true),
        Some(Some(seconds)) => serializer.serialize_u64(*seconds),
    }
}

impl RequestDirectives {
    pub fn parse(headers: &HeaderMap) -> RequestDirectives {
        let cc = CacheControl::parse(lines(headers, "cache-control"));
        let pragma_no_cache = !headers.contains_key("cache-control")
            && members(headers, "pragma")
                .iter()
                .any(|p| p.eq_ignore_ascii_case("no-cache"));
        let seconds = |name: &str| cc.delta(name).map(|d| d.seconds().unwrap_or(0));
        RequestDirectives {
            no_store: cc.has("no-store"),
            no_cache: cc.has("no-cache") || pragma_no_cache,
            only_if_cached: cc.has("only-if-cached"),
            max_age: seconds("max-age"),
            min_fresh: seconds("min-fresh"),
            // An invalid max-stale value accepts no staleness rather than any.
            max_stale: cc.get("max-stale").map(|d| {
                d.value
                    .as_ref()
                    .map(|_| cc.delta("max-stale").and_then(|d| d.seconds()).unwrap_or(0))
            }),
            stale_if_error: cc.delta("stale-if-error").and_then(|d| d.seconds()),
        }
    }
}
