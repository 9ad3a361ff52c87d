//! HTTP caching policy (RFC 9111): may a response be stored, is it fresh, may it answer a
//! later request, how to revalidate it and how a 304 updates it. The policy is serialized
//! with each entry so freshness survives restarts.
//!
//! One concern per module: `directives` parses `Cache-Control`, `delta` delta-seconds (clamped
//! to 2^31), `dates` HTTP-dates, `freshness` storability, lifetime and age, `headers` what is
//! stored and served, `request` a request's own directives, `revalidation` conditional
//! requests and 304s, `stored` the serialized form (also reading http-cache-semantics' format,
//! which earlier versions of this cache wrote). This file ties them together: building a
//! policy, freshness queries, matching a request and serving a hit. Times are `i64`
//! milliseconds with saturating arithmetic, so no header value and no stored policy can make a
//! computation panic.

mod dates;
mod delta;
mod directives;
mod freshness;
mod headers;
mod heuristic;
mod request;
mod revalidation;
mod stored;

use std::time::{Duration, SystemTime};

use http::{Method, Uri};
use serde::Serialize;
use serde_json::Value;

use crate::entry::{HeaderMap, HeaderValue};
use crate::error::{CacheError, Result};
use dates::{to_millis, Millis};
pub use delta::MAX_DELTA_SECONDS;
use directives::{CacheControl, FieldList};
use freshness::{derive, seconds_to_millis, Derived};
use headers::{first, members, normalized_for_vary, without_hop_by_hop};
use stored::{Stored, FORMAT_VERSION};

pub use request::{RequestDirectives, RequestInfo};
pub use revalidation::Revalidated;

#[derive(Clone, Copy, Debug)]
pub struct PolicyOptions {
    /// Shared (proxy) semantics: `private` is not stored, `s-maxage` applies, `Set-Cookie`
    /// is never stored.
    pub shared: bool,
    /// Fraction of the time since `Last-Modified` used as heuristic freshness (4.2.2)...
    pub heuristic_fraction: f32,
    /// ... at least this long ...
    pub heuristic_min: Duration,
    /// ... and at most this long (see `heuristic.rs` for the defaults and why).
    pub heuristic_max: Duration,
    /// When the request was sent (RFC 9111 4.2.3 `request_time`); defaults to the response
    /// time.
    pub request_time: Option<SystemTime>,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            shared: true,
            heuristic_fraction: heuristic::DEFAULT_FRACTION,
            heuristic_min: heuristic::DEFAULT_MIN,
            heuristic_max: heuristic::DEFAULT_MAX,
            request_time: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Policy {
    stored: Stored,
    derived: Derived,
}

/// What to do with a new request given a stored response.
#[derive(Clone, Debug, PartialEq)]
pub enum Freshness {
    /// Serve the stored body with these headers (the stored `Date`, a current `Age`).
    Fresh { headers: HeaderMap },
    /// Ask the origin with these request headers (revalidation headers added where possible);
    /// `matches` is false when the stored response does not answer this request at all.
    Stale { headers: HeaderMap, matches: bool },
}

/// The response's `Cache-Control`, as the policy understood it (delta-seconds clamped;
/// `None` for an absent or invalid value).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseDirectives {
    pub max_age: Option<u64>,
    pub s_maxage: Option<u64>,
    pub no_store: bool,
    /// Unqualified `no-cache`: validate before every use.
    pub no_cache: bool,
    /// Fields a qualified `no-cache="..."` names.
    pub no_cache_fields: Vec<String>,
    /// Unqualified `private`.
    pub private: bool,
    pub private_fields: Vec<String>,
    pub public: bool,
    pub must_revalidate: bool,
    pub proxy_revalidate: bool,
    pub must_understand: bool,
    pub immutable: bool,
    pub no_transform: bool,
    pub stale_while_revalidate: Option<u64>,
    pub stale_if_error: Option<u64>,
}

impl Policy {
    pub fn new(
        request: &RequestInfo,
        status: u16,
        response_headers: &HeaderMap,
        options: PolicyOptions,
        response_time: SystemTime,
    ) -> Result<Policy> {
        let (method, url) = check_request(request)?;
        if !(100..=999).contains(&status) {
            return Err(CacheError::out_of_range(format!("invalid status {status}")));
        }
        let response_time = to_millis(response_time);
        let request_cc = CacheControl::parse(headers::lines(&request.headers, "cache-control"));
        let stored = Stored {
            v: FORMAT_VERSION,
            method,
            url,
            status,
            shared: options.shared,
            heuristic_fraction: heuristic_fraction(options.heuristic_fraction),
            heuristic_min: heuristic::duration_millis(options.heuristic_min),
            heuristic_max: heuristic::duration_millis(options.heuristic_max),
            response_time,
            request_time: options
                .request_time
                .map_or(response_time, to_millis)
                .min(response_time),
            request_headers: matching_request_headers(&request.headers, response_headers),
            response_headers: stored_response_headers(response_headers, options.shared),
            request_no_store: request_cc.has("no-store"),
            authorization: request.headers.contains_key("authorization"),
        };
        Ok(Policy::from_stored(stored))
    }

    fn from_stored(stored: Stored) -> Policy {
        let derived = derive(&stored);
        Policy { stored, derived }
    }

    pub fn from_json(value: &Value) -> Result<Policy> {
        let stored = Stored::from_json(value)?;
        let request = RequestInfo {
            method: stored.method.clone(),
            url: stored.url.clone(),
            headers: HeaderMap::new(),
        };
        check_request(&request).map_err(|e| {
            CacheError::invalid_value(format!("not a stored cache policy: {}", e.message()))
        })?;
        if !(100..=999).contains(&stored.status) {
            return Err(CacheError::invalid_value(
                "not a stored cache policy: invalid status",
            ));
        }
        Ok(Policy::from_stored(stored))
    }

    pub fn to_json(&self) -> Value {
        self.stored.to_json()
    }

    pub fn is_storable(&self) -> bool {
        self.derived.storable
    }

    pub fn is_stale(&self, now: SystemTime) -> bool {
        self.age_millis(to_millis(now)) >= self.derived.lifetime
    }

    /// Freshness left (zero when stale).
    pub fn time_to_live(&self, now: SystemTime) -> Duration {
        millis_duration(
            self.derived
                .lifetime
                .saturating_sub(self.age_millis(to_millis(now))),
        )
    }

    /// RFC 9111 4.2.3 `current_age`.
    pub fn age(&self, now: SystemTime) -> Duration {
        millis_duration(self.age_millis(to_millis(now)))
    }

    /// The freshness lifetime (zero for responses that must be validated before each use).
    pub fn freshness_lifetime(&self) -> Duration {
        millis_duration(self.derived.lifetime)
    }

    /// Whether the lifetime comes from `s-maxage`, `max-age` or `Expires` (not a heuristic).
    pub fn has_explicit_freshness(&self) -> bool {
        self.derived.explicit
    }

    /// How long the response has been stale (zero while fresh).
    pub fn staleness(&self, now: SystemTime) -> Duration {
        millis_duration(self.staleness_millis(to_millis(now)))
    }

    pub fn status(&self) -> u16 {
        self.stored.status
    }

    pub fn url(&self) -> &str {
        &self.stored.url
    }

    pub fn method(&self) -> &str {
        &self.stored.method
    }

    /// When the response was received.
    pub fn response_time(&self) -> SystemTime {
        let ms = self.stored.response_time;
        if ms >= 0 {
            SystemTime::UNIX_EPOCH + Duration::from_millis(ms as u64)
        } else {
            SystemTime::UNIX_EPOCH
        }
    }

    /// The response's fields as stored (see `Stored::response_headers`).
    pub fn response_headers(&self) -> &HeaderMap {
        &self.stored.response_headers
    }

    pub fn response_directives(&self) -> ResponseDirectives {
        let cc = &self.derived.cc;
        let seconds = |name: &str| cc.delta(name).and_then(|d| d.seconds());
        let fields = |name: &str| match cc.field_list(name) {
            Some(FieldList::Fields(fields)) => fields,
            _ => Vec::new(),
        };
        ResponseDirectives {
            max_age: seconds("max-age"),
            s_maxage: seconds("s-maxage"),
            no_store: cc.has("no-store"),
            no_cache: self.derived.no_cache,
            no_cache_fields: self.derived.no_cache_fields.clone(),
            private: matches!(cc.field_list("private"), Some(FieldList::All)),
            private_fields: fields("private"),
            public: cc.has("public"),
            must_revalidate: cc.has("must-revalidate"),
            proxy_revalidate: cc.has("proxy-revalidate"),
            must_understand: cc.has("must-understand"),
            immutable: cc.has("immutable"),
            no_transform: cc.has("no-transform"),
            stale_while_revalidate: seconds("stale-while-revalidate"),
            stale_if_error: seconds("stale-if-error"),
        }
    }

    /// RFC 9111 4.2.4: whether any directive forbids serving this response stale
    /// (`must-revalidate`, `no-cache`, and in a shared cache `proxy-revalidate`, `s-maxage`).
    pub fn may_serve_stale(&self) -> bool {
        let cc = &self.derived.cc;
        self.derived.storable
            && !self.derived.no_cache
            && !self.derived.vary_star
            && !cc.has("must-revalidate")
            && !(self.stored.shared && (cc.has("proxy-revalidate") || cc.has("s-maxage")))
    }

    /// RFC 5861 `stale-while-revalidate`: stale, but within the window in which it may be
    /// served while it is revalidated in the background.
    pub fn can_stale_while_revalidate(&self, now: SystemTime) -> bool {
        let now = to_millis(now);
        let Some(window) = self
            .derived
            .cc
            .delta("stale-while-revalidate")
            .and_then(|d| d.seconds())
        else {
            return false;
        };
        self.is_stale_at(now)
            && self.may_serve_stale()
            && self.staleness_millis(now) <= seconds_to_millis(window)
    }

    /// RFC 5861 `stale-if-error` (from the response, or from `request`'s `Cache-Control`):
    /// whether the stale response may be served because the origin failed.
    pub fn can_stale_if_error(&self, request: &RequestInfo, now: SystemTime) -> bool {
        let now = to_millis(now);
        let response_window = self
            .derived
            .cc
            .delta("stale-if-error")
            .and_then(|d| d.seconds());
        let request_window = RequestDirectives::parse(&request.headers).stale_if_error;
        let Some(window) = response_window.max(request_window) else {
            return false;
        };
        self.may_serve_stale() && self.staleness_millis(now) <= seconds_to_millis(window)
    }

    /// The headers to serve the stored response with at `now`: the stored fields (with the
    /// stored `Date`), a current `Age`, and without fields a qualified `no-cache` names.
    pub fn served_headers(&self, now: SystemTime) -> HeaderMap {
        let mut out = self.stored.response_headers.clone();
        headers::remove_all(&mut out, &self.derived.no_cache_fields);
        self.set_age(&mut out, to_millis(now));
        out
    }

    pub fn before_request(&self, request: &RequestInfo, now: SystemTime) -> Result<Freshness> {
        check_request(request)?;
        if !self.matches(request) {
            return Ok(Freshness::Stale {
                headers: without_hop_by_hop(&request.headers),
                matches: false,
            });
        }
        if self.satisfies_without_revalidation(request, to_millis(now)) {
            Ok(Freshness::Fresh {
                headers: self.served_headers(now),
            })
        } else {
            Ok(Freshness::Stale {
                headers: self.revalidation_headers(request),
                matches: true,
            })
        }
    }

    /// Whether `request` selects this stored response (RFC 9111 4.1): same URL, same method,
    /// same `host` when both have one, and equal values for every field `Vary` names
    /// (`Vary: *` never matches).
    pub fn matches(&self, request: &RequestInfo) -> bool {
        let method = if request.method.is_empty() {
            "GET".to_owned()
        } else {
            request.method.to_ascii_uppercase()
        };
        if method != self.stored.method || request.url != self.stored.url || self.derived.vary_star
        {
            return false;
        }
        if let (Some(stored), Some(asked)) = (
            first(&self.stored.request_headers, "host"),
            first(&request.headers, "host"),
        ) {
            if !stored.eq_ignore_ascii_case(asked) {
                return false;
            }
        }
        members(&self.stored.response_headers, "vary")
            .iter()
            .all(|name| {
                let name = name.to_ascii_lowercase();
                normalized_for_vary(&self.stored.request_headers, &name)
                    == normalized_for_vary(&request.headers, &name)
            })
    }

    /// RFC 9111 4 and 5.2.1: fresh enough for this request's directives, or stale in a way the
    /// request accepts (`max-stale`) and the response allows.
    fn satisfies_without_revalidation(&self, request: &RequestInfo, now: Millis) -> bool {
        if !self.derived.storable || self.derived.no_cache {
            return false;
        }
        let asked = RequestDirectives::parse(&request.headers);
        if asked.no_cache {
            return false;
        }
        let age = self.age_millis(now);
        // RFC 8246: a fresh `immutable` response is not revalidated on a reload (a request
        // `max-age`, as the Fetch API's "no-cache" mode sends); only `no-cache` forces it.
        let immutable_fresh = self.derived.cc.has("immutable") && !self.is_stale_at(now);
        if !immutable_fresh
            && asked
                .max_age
                .is_some_and(|max_age| age > seconds_to_millis(max_age))
        {
            return false;
        }
        let ttl = self.derived.lifetime.saturating_sub(age);
        if asked
            .min_fresh
            .is_some_and(|min_fresh| ttl < seconds_to_millis(min_fresh))
        {
            return false;
        }
        if !self.is_stale_at(now) {
            return true;
        }
        match asked.max_stale {
            None => false,
            Some(limit) => {
                self.may_serve_stale()
                    && limit
                        .is_none_or(|limit| self.staleness_millis(now) <= seconds_to_millis(limit))
            }
        }
    }

    fn age_millis(&self, now: Millis) -> Millis {
        let resident = now.saturating_sub(self.stored.response_time).max(0);
        self.derived.initial_age.saturating_add(resident)
    }

    fn is_stale_at(&self, now: Millis) -> bool {
        self.age_millis(now) >= self.derived.lifetime
    }

    fn staleness_millis(&self, now: Millis) -> Millis {
        self.age_millis(now)
            .saturating_sub(self.derived.lifetime)
            .max(0)
    }

    fn set_age(&self, headers: &mut HeaderMap, now: Millis) {
        let seconds = self.age_millis(now) / 1000;
        headers.insert("age".into(), HeaderValue::One(seconds.to_string()));
    }
}

/// The fraction as an `f64` with its decimal value (0.1, not 0.10000000149), never negative.
fn heuristic_fraction(fraction: f32) -> f64 {
    let exact: f64 = fraction.to_string().parse().unwrap_or(0.0);
    if exact.is_finite() {
        exact.max(0.0)
    } else {
        0.0
    }
}

fn millis_duration(ms: Millis) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}

/// Method and URL of a request, checked: `(upper-case method, url)`.
fn check_request(request: &RequestInfo) -> Result<(String, String)> {
    let method = if request.method.is_empty() {
        "GET"
    } else {
        request.method.as_str()
    };
    let method = method.to_ascii_uppercase();
    Method::from_bytes(method.as_bytes())
        .map_err(|_| CacheError::invalid_value(format!("invalid request method {method:?}")))?;
    request.url.parse::<Uri>().map_err(|e| {
        CacheError::invalid_value(format!("invalid request url {:?}: {e}", request.url))
    })?;
    Ok((method, request.url.clone()))
}

/// What a policy keeps of the request: `host` and the fields the response's `Vary` names.
/// Credentials and cookies are not written to disk unless the response varies on them.
fn matching_request_headers(request: &HeaderMap, response: &HeaderMap) -> HeaderMap {
    let mut names: Vec<String> = members(response, "vary")
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    names.push("host".into());
    request
        .iter()
        .filter(|(name, _)| names.contains(name))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

/// What is stored of a response (RFC 9111 3.1): no hop-by-hop fields; in a shared cache no
/// `Set-Cookie` (never replayed to another user) and none of the fields a qualified
/// `private` names (5.2.2.7).
fn stored_response_headers(response: &HeaderMap, shared: bool) -> HeaderMap {
    let mut out = without_hop_by_hop(response);
    if shared {
        // (Set-Cookie2 is obsolete and ignored by every client: kept, as the suite requires.)
        out.remove("set-cookie");
        let cc = CacheControl::parse(headers::lines(response, "cache-control"));
        if let Some(FieldList::Fields(fields)) = cc.field_list("private") {
            headers::remove_all(&mut out, &fields);
        }
    }
    out
}

#[cfg(test)]
mod tests;
