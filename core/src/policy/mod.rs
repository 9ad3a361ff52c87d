//! HTTP caching policy (RFC 9111): may a response be stored, is it fresh, may it answer a
//! later request, how to revalidate it and how a 304 updates it. The policy is serialized
//! with each entry so freshness survives restarts.
//!
//! One concern per module: `directives` parses `Cache-Control`, `delta` delta-seconds (clamped
//! to 2^31), `dates` HTTP-dates, `freshness` storability, lifetime and age, `headers` what is
//! stored and served, `stored` the serialized form (also reading http-cache-semantics' format,
//! which earlier versions of this cache wrote). Times are `i64` milliseconds with saturating
//! arithmetic, so no header value and no stored policy can make a computation panic.

mod dates;
mod delta;
mod directives;
mod freshness;
mod headers;
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
use headers::{first, members, merge_not_modified, normalized_for_vary, without_hop_by_hop};
use stored::{Stored, FORMAT_VERSION};

/// The request a response answered (or a new request to check against a stored response).
#[derive(Clone, Debug, Default)]
pub struct RequestInfo {
    pub method: String,
    pub url: String,
    pub headers: HeaderMap,
}

#[derive(Clone, Copy, Debug)]
pub struct PolicyOptions {
    /// Shared (proxy) semantics: `private` is not stored, `s-maxage` applies, `Set-Cookie`
    /// is never stored.
    pub shared: bool,
    /// Fraction of the time since `Last-Modified` used as heuristic freshness.
    pub heuristic_fraction: f32,
    /// When the request was sent (RFC 9111 4.2.3 `request_time`); defaults to the response
    /// time.
    pub request_time: Option<SystemTime>,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions { shared: true, heuristic_fraction: 0.1, request_time: None }
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

/// The outcome of revalidating a stored response with the origin's answer.
#[derive(Clone, Debug)]
pub struct Revalidated {
    /// `false` on a 304 that updates the stored response: the stored body is still good.
    pub modified: bool,
    pub policy: Policy,
    /// Headers to serve (and store) from now on.
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

fn serialize_max_stale<S: serde::Serializer>(value: &Option<Option<u64>>, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    match value {
        None => serializer.serialize_none(),
        Some(None) => serializer.serialize_bool(true),
        Some(Some(seconds)) => serializer.serialize_u64(*seconds),
    }
}

impl RequestDirectives {
    pub fn parse(headers: &HeaderMap) -> RequestDirectives {
        let cc = CacheControl::parse(headers::lines(headers, "cache-control"));
        let pragma_no_cache = !headers.contains_key("cache-control")
            && members(headers, "pragma").iter().any(|p| p.eq_ignore_ascii_case("no-cache"));
        let seconds = |name: &str| cc.delta(name).map(|d| d.seconds().unwrap_or(0));
        RequestDirectives {
            no_store: cc.has("no-store"),
            no_cache: cc.has("no-cache") || pragma_no_cache,
            only_if_cached: cc.has("only-if-cached"),
            max_age: seconds("max-age"),
            min_fresh: seconds("min-fresh"),
            // An invalid max-stale value accepts no staleness rather than any.
            max_stale: cc.get("max-stale").map(|d| match &d.value {
                None => None,
                Some(_) => Some(cc.delta("max-stale").and_then(|d| d.seconds()).unwrap_or(0)),
            }),
            stale_if_error: cc.delta("stale-if-error").and_then(|d| d.seconds()),
        }
    }
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
            response_time,
            request_time: options.request_time.map_or(response_time, to_millis).min(response_time),
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
        let request = RequestInfo { method: stored.method.clone(), url: stored.url.clone(), headers: HeaderMap::new() };
        check_request(&request).map_err(|e| CacheError::invalid_value(format!("not a stored cache policy: {}", e.message())))?;
        if !(100..=999).contains(&stored.status) {
            return Err(CacheError::invalid_value("not a stored cache policy: invalid status"));
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
        millis_duration(self.derived.lifetime.saturating_sub(self.age_millis(to_millis(now))))
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
        let Some(window) = self.derived.cc.delta("stale-while-revalidate").and_then(|d| d.seconds()) else {
            return false;
        };
        self.is_stale_at(now) && self.may_serve_stale() && self.staleness_millis(now) <= seconds_to_millis(window)
    }

    /// RFC 5861 `stale-if-error` (from the response, or from `request`'s `Cache-Control`):
    /// whether the stale response may be served because the origin failed.
    pub fn can_stale_if_error(&self, request: &RequestInfo, now: SystemTime) -> bool {
        let now = to_millis(now);
        let response_window = self.derived.cc.delta("stale-if-error").and_then(|d| d.seconds());
        let request_window = RequestDirectives::parse(&request.headers).stale_if_error;
        let Some(window) = response_window.max(request_window) else { return false };
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
            return Ok(Freshness::Stale { headers: without_hop_by_hop(&request.headers), matches: false });
        }
        if self.satisfies_without_revalidation(request, to_millis(now)) {
            Ok(Freshness::Fresh { headers: self.served_headers(now) })
        } else {
            Ok(Freshness::Stale { headers: self.revalidation_headers(request), matches: true })
        }
    }

    /// Whether `request` selects this stored response (RFC 9111 4.1): same URL, same method,
    /// same `host` when both have one, and equal values for every field `Vary` names
    /// (`Vary: *` never matches).
    pub fn matches(&self, request: &RequestInfo) -> bool {
        let method = if request.method.is_empty() { "GET".to_owned() } else { request.method.to_ascii_uppercase() };
        if method != self.stored.method || request.url != self.stored.url || self.derived.vary_star {
            return false;
        }
        if let (Some(stored), Some(asked)) = (first(&self.stored.request_headers, "host"), first(&request.headers, "host")) {
            if !stored.eq_ignore_ascii_case(asked) {
                return false;
            }
        }
        members(&self.stored.response_headers, "vary").iter().all(|name| {
            let name = name.to_ascii_lowercase();
            normalized_for_vary(&self.stored.request_headers, &name) == normalized_for_vary(&request.headers, &name)
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
        if !immutable_fresh && asked.max_age.is_some_and(|max_age| age > seconds_to_millis(max_age)) {
            return false;
        }
        let ttl = self.derived.lifetime.saturating_sub(age);
        if asked.min_fresh.is_some_and(|min_fresh| ttl < seconds_to_millis(min_fresh)) {
            return false;
        }
        if !self.is_stale_at(now) {
            return true;
        }
        match asked.max_stale {
            None => false,
            Some(limit) => {
                self.may_serve_stale()
                    && limit.is_none_or(|limit| self.staleness_millis(now) <= seconds_to_millis(limit))
            }
        }
    }

    /// The request headers for revalidating the stored response with `request`'s origin:
    /// hop-by-hop fields and `If-Range` removed, `If-None-Match` with the stored `ETag`,
    /// `If-Modified-Since` with the stored `Last-Modified` (RFC 9111 4.3.1).
    pub fn revalidation_headers(&self, request: &RequestInfo) -> HeaderMap {
        let mut out = without_hop_by_hop(&request.headers);
        out.remove("if-range");
        if !self.derived.storable {
            out.remove("if-none-match");
            out.remove("if-modified-since");
            return out;
        }
        let stored = &self.stored.response_headers;
        if let Some(etag) = first(stored, "etag").map(|e| e.trim_matches([' ', '\t'])) {
            let mut tags = members(&out, "if-none-match");
            if !tags.iter().any(|t| t == etag) {
                tags.push(etag.to_owned());
            }
            out.insert("if-none-match".into(), HeaderValue::One(tags.join(", ")));
        }
        let method = if request.method.is_empty() { "GET".to_owned() } else { request.method.to_ascii_uppercase() };
        // Weak validators only on plain GETs (RFC 9110 13.1.3 via 8.8.1).
        let forbids_weak = method != "GET" || out.contains_key("if-match") || out.contains_key("if-unmodified-since");
        if forbids_weak {
            out.remove("if-modified-since");
            let strong: Vec<String> = members(&out, "if-none-match").into_iter().filter(|t| !t.starts_with("W/")).collect();
            if strong.is_empty() {
                out.remove("if-none-match");
            } else {
                out.insert("if-none-match".into(), HeaderValue::One(strong.join(", ")));
            }
        } else if !out.contains_key("if-modified-since") {
            if let Some(modified) = first(stored, "last-modified") {
                out.insert("if-modified-since".into(), HeaderValue::One(modified.to_owned()));
            }
        }
        out
    }

    /// Whether `request`'s own conditional headers say the client already has this stored
    /// response (RFC 9110 13.2.2): `If-None-Match` naming its `ETag` (weak comparison) or `*`;
    /// without `If-None-Match`, an `If-Modified-Since` on a GET/HEAD no earlier than its
    /// `Last-Modified`. A cache answering from this response then sends 304 instead of it.
    pub fn not_modified_for(&self, request: &RequestInfo) -> bool {
        let opaque = |tag: &str| tag.trim_matches([' ', '\t']).strip_prefix("W/").unwrap_or(tag.trim_matches([' ', '\t'])).to_owned();
        let stored = &self.stored.response_headers;
        if request.headers.contains_key("if-none-match") {
            let asked = members(&request.headers, "if-none-match");
            let Some(etag) = first(stored, "etag") else { return asked.iter().any(|t| t == "*") };
            return asked.iter().any(|t| t == "*" || opaque(t) == opaque(etag));
        }
        let method = if request.method.is_empty() { "GET".to_owned() } else { request.method.to_ascii_uppercase() };
        if method != "GET" && method != "HEAD" {
            return false;
        }
        let since = first(&request.headers, "if-modified-since").and_then(dates::parse_http_date);
        let modified = first(stored, "last-modified").and_then(dates::parse_http_date);
        matches!((since, modified), (Some(since), Some(modified)) if modified <= since)
    }

    /// After asking the origin: a 304 that selects this stored response (RFC 9111 4.3.4)
    /// updates it (4.3.3: the 304's fields replace the stored ones, the body is kept);
    /// anything else is a new response.
    pub fn after_response(
        &self,
        request: &RequestInfo,
        status: u16,
        response_headers: &HeaderMap,
        now: SystemTime,
    ) -> Result<Revalidated> {
        check_request(request)?;
        let options = PolicyOptions {
            shared: self.stored.shared,
            heuristic_fraction: self.stored.heuristic_fraction as f32,
            request_time: None,
        };
        if status == 304 && self.selected_by_not_modified(request, response_headers) {
            let update = stored_response_headers(response_headers, self.stored.shared);
            let merged = merge_not_modified(&self.stored.response_headers, &update);
            let mut stored = self.stored.clone();
            stored.response_time = to_millis(now);
            stored.request_time = stored.response_time;
            stored.request_headers = matching_request_headers(&request.headers, &merged);
            stored.response_headers = merged;
            stored.request_no_store = CacheControl::parse(headers::lines(&request.headers, "cache-control")).has("no-store");
            stored.authorization = request.headers.contains_key("authorization");
            let policy = Policy::from_stored(stored);
            let mut headers = policy.stored.response_headers.clone();
            policy.set_age(&mut headers, to_millis(now));
            return Ok(Revalidated { modified: false, policy, headers });
        }
        let policy = Policy::new(request, status, response_headers, options, now)?;
        let mut headers = policy.stored.response_headers.clone();
        policy.set_age(&mut headers, to_millis(now));
        Ok(Revalidated { modified: true, policy, headers })
    }

    /// RFC 9111 4.3.4 for the one stored response that was revalidated. The 304 answers the
    /// conditional request sent for it, so it selects it, unless it names a validator the
    /// client itself asked about (its own `If-None-Match` / `If-Modified-Since`) that is not
    /// the stored one: then the 304 is about the client's copy and must not update ours. A 304
    /// with no validator at all selects the stored response. (A 304 with some other `ETag`
    /// still validates it, as every browser and proxy does: the http-cache-tests suite
    /// requires it, `304-etag-update-response-ETag`; the stored `ETag` is kept.)
    fn selected_by_not_modified(&self, request: &RequestInfo, update: &HeaderMap) -> bool {
        let trim = |v: &str| v.trim_matches([' ', '\t']).to_owned();
        let opaque = |tag: &str| tag.strip_prefix("W/").unwrap_or(tag).to_owned();
        let stored = &self.stored.response_headers;
        if let Some(new) = first(update, "etag").map(trim) {
            let old = first(stored, "etag").map(trim);
            if old.as_deref().is_some_and(|old| opaque(old) == opaque(&new)) {
                return true;
            }
            let asked_by_client = members(&request.headers, "if-none-match").iter().any(|tag| opaque(tag) == opaque(&new));
            return !asked_by_client;
        }
        match (first(stored, "last-modified").map(trim), first(update, "last-modified").map(trim)) {
            (Some(old), Some(new)) if !same_date(&old, &new) => {
                let asked_by_client = first(&request.headers, "if-modified-since").is_some_and(|ims| same_date(ims, &new));
                !asked_by_client
            }
            _ => true,
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
        self.age_millis(now).saturating_sub(self.derived.lifetime).max(0)
    }

    fn set_age(&self, headers: &mut HeaderMap, now: Millis) {
        let seconds = self.age_millis(now) / 1000;
        headers.insert("age".into(), HeaderValue::One(seconds.to_string()));
    }
}

/// The fraction as an `f64` with its decimal value (0.1, not 0.10000000149), never negative.
fn heuristic_fraction(fraction: f32) -> f64 {
    let exact: f64 = fraction.to_string().parse().unwrap_or(0.0);
    if exact.is_finite() { exact.max(0.0) } else { 0.0 }
}

/// Two HTTP-dates name the same time (or are the same text).
fn same_date(a: &str, b: &str) -> bool {
    a.trim() == b.trim() || dates::parse_http_date(a).is_some_and(|t| Some(t) == dates::parse_http_date(b))
}

fn millis_duration(ms: Millis) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}

/// Method and URL of a request, checked: `(upper-case method, url)`.
fn check_request(request: &RequestInfo) -> Result<(String, String)> {
    let method = if request.method.is_empty() { "GET" } else { request.method.as_str() };
    let method = method.to_ascii_uppercase();
    Method::from_bytes(method.as_bytes())
        .map_err(|_| CacheError::invalid_value(format!("invalid request method {method:?}")))?;
    request
        .url
        .parse::<Uri>()
        .map_err(|e| CacheError::invalid_value(format!("invalid request url {:?}: {e}", request.url)))?;
    Ok((method, request.url.clone()))
}

/// What a policy keeps of the request: `host` and the fields the response's `Vary` names.
/// Credentials and cookies are not written to disk unless the response varies on them.
fn matching_request_headers(request: &HeaderMap, response: &HeaderMap) -> HeaderMap {
    let mut names: Vec<String> = members(response, "vary").iter().map(|n| n.to_ascii_lowercase()).collect();
    names.push("host".into());
    request.iter().filter(|(name, _)| names.contains(name)).map(|(n, v)| (n.clone(), v.clone())).collect()
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
