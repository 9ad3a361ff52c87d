//! HTTP caching policy (RFC 9111) from `http-cache-semantics`, over this crate's header
//! types. The policy is serialized with each entry so freshness survives restarts.

use std::time::{Duration, SystemTime};

use http::{HeaderName, Method, Uri};
use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy};
use serde_json::Value;

use crate::entry::{HeaderMap, HeaderValue};
use crate::error::{CacheError, Result};

/// The request a response answered (or a new request to check against a stored response).
#[derive(Clone, Debug, Default)]
pub struct RequestInfo {
    pub method: String,
    pub url: String,
    pub headers: HeaderMap,
}

#[derive(Clone, Copy, Debug)]
pub struct PolicyOptions {
    /// Shared (proxy) semantics: `private` is not stored, `s-maxage` applies.
    pub shared: bool,
    /// Fraction of the time since `Last-Modified` used as heuristic freshness.
    pub heuristic_fraction: f32,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions { shared: true, heuristic_fraction: 0.1 }
    }
}

#[derive(Clone, Debug)]
pub struct Policy(CachePolicy);

/// What to do with a new request given a stored response.
#[derive(Clone, Debug, PartialEq)]
pub enum Freshness {
    /// Serve the stored body with these headers (with `age` and `date` set).
    Fresh { headers: HeaderMap },
    /// Ask the origin with these request headers (revalidation headers added where possible);
    /// `matches` is false when the stored response does not answer this request at all.
    Stale { headers: HeaderMap, matches: bool },
}

/// The outcome of revalidating a stored response with the origin's answer.
#[derive(Clone, Debug)]
pub struct Revalidated {
    /// `false` on a 304 that matches: the stored body is still good.
    pub modified: bool,
    pub policy: Policy,
    /// Headers to serve (and store) from now on.
    pub headers: HeaderMap,
}

impl Policy {
    pub fn new(
        request: &RequestInfo,
        status: u16,
        response_headers: &HeaderMap,
        options: PolicyOptions,
        response_time: SystemTime,
    ) -> Result<Policy> {
        let req = to_request(request)?;
        let res = to_response(status, response_headers)?;
        let opts = CacheOptions {
            shared: options.shared,
            cache_heuristic: options.heuristic_fraction,
            ..CacheOptions::default()
        };
        Ok(Policy(CachePolicy::new_options(&req, &res, response_time, opts)))
    }

    pub fn from_json(value: &Value) -> Result<Policy> {
        serde_json::from_value(value.clone())
            .map(Policy)
            .map_err(|e| CacheError::invalid_value(format!("not a stored cache policy: {e}")))
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(&self.0).unwrap_or(Value::Null)
    }

    pub fn is_storable(&self) -> bool {
        self.0.is_storable()
    }

    pub fn is_stale(&self, now: SystemTime) -> bool {
        self.0.is_stale(now)
    }

    pub fn time_to_live(&self, now: SystemTime) -> Duration {
        self.0.time_to_live(now)
    }

    pub fn age(&self, now: SystemTime) -> Duration {
        self.0.age(now)
    }

    pub fn before_request(&self, request: &RequestInfo, now: SystemTime) -> Result<Freshness> {
        let req = to_request(request)?;
        Ok(match self.0.before_request(&req, now) {
            BeforeRequest::Fresh(parts) => Freshness::Fresh { headers: from_http(&parts.headers) },
            BeforeRequest::Stale { request, matches } => {
                Freshness::Stale { headers: from_http(&request.headers), matches }
            }
        })
    }

    pub fn after_response(
        &self,
        request: &RequestInfo,
        status: u16,
        response_headers: &HeaderMap,
        now: SystemTime,
    ) -> Result<Revalidated> {
        let req = to_request(request)?;
        let res = to_response(status, response_headers)?;
        Ok(match self.0.after_response(&req, &res, now) {
            AfterResponse::NotModified(policy, parts) => {
                Revalidated { modified: false, policy: Policy(policy), headers: from_http(&parts.headers) }
            }
            AfterResponse::Modified(policy, parts) => {
                Revalidated { modified: true, policy: Policy(policy), headers: from_http(&parts.headers) }
            }
        })
    }
}

fn to_request(info: &RequestInfo) -> Result<http::Request<()>> {
    let method = if info.method.is_empty() { "GET" } else { info.method.as_str() };
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| CacheError::invalid_value(format!("invalid request method {method:?}")))?;
    let uri: Uri = info
        .url
        .parse()
        .map_err(|e| CacheError::invalid_value(format!("invalid request url {:?}: {e}", info.url)))?;
    let mut req = http::Request::new(());
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = to_http(&info.headers);
    Ok(req)
}

fn to_response(status: u16, headers: &HeaderMap) -> Result<http::Response<()>> {
    let mut res = http::Response::new(());
    *res.status_mut() = http::StatusCode::from_u16(status)
        .map_err(|_| CacheError::out_of_range(format!("invalid status {status}")))?;
    *res.headers_mut() = to_http(headers);
    Ok(res)
}

/// Header names or values `http` cannot represent are left out: the policy only reads the
/// caching headers, and those are plain ASCII.
fn to_http(headers: &HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::new();
    for (name, value) in headers {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else { continue };
        for v in value.values() {
            if let Ok(v) = http::HeaderValue::from_bytes(v.as_bytes()) {
                out.append(name.clone(), v);
            }
        }
    }
    out
}

fn from_http(headers: &http::HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let value = match <[String; 1]>::try_from(values) {
            Ok([one]) => HeaderValue::One(one),
            Err(many) => HeaderValue::Many(many),
        };
        out.insert(name.as_str().to_owned(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.to_string(), HeaderValue::One(v.to_string()))).collect()
    }

    fn get(url: &str, h: &[(&str, &str)]) -> RequestInfo {
        RequestInfo { method: "GET".into(), url: url.into(), headers: headers(h) }
    }

    #[test]
    fn max_age_is_fresh_then_stale_and_survives_json() {
        let t0 = SystemTime::now();
        let req = get("http://a.test/x", &[]);
        let policy = Policy::new(&req, 200, &headers(&[("cache-control", "max-age=60")]), PolicyOptions::default(), t0).unwrap();
        let policy = Policy::from_json(&policy.to_json()).unwrap();
        assert!(policy.is_storable());
        assert!(!policy.is_stale(t0));
        assert!(matches!(policy.before_request(&req, t0).unwrap(), Freshness::Fresh { .. }));
        let later = t0 + Duration::from_secs(61);
        assert!(policy.is_stale(later));
        assert_eq!(policy.time_to_live(later), Duration::ZERO);
    }

    #[test]
    fn stale_with_etag_asks_for_revalidation_and_304_keeps_body() {
        let t0 = SystemTime::now();
        let req = get("http://a.test/x", &[]);
        let res = headers(&[("cache-control", "max-age=0"), ("etag", "\"v1\"")]);
        let policy = Policy::new(&req, 200, &res, PolicyOptions::default(), t0).unwrap();
        let Freshness::Stale { headers, matches } = policy.before_request(&req, t0).unwrap() else {
            panic!("expected stale")
        };
        assert!(matches);
        assert_eq!(headers["if-none-match"], HeaderValue::One("\"v1\"".into()));
        let after = policy
            .after_response(&req, 304, &headers_of(&[("etag", "\"v1\""), ("cache-control", "max-age=100")]), t0)
            .unwrap();
        assert!(!after.modified);
        assert!(!after.policy.is_stale(t0));
    }

    fn headers_of(pairs: &[(&str, &str)]) -> HeaderMap {
        headers(pairs)
    }

    #[test]
    fn private_is_storable_only_in_a_private_cache() {
        let t0 = SystemTime::now();
        let req = get("http://a.test/x", &[]);
        let res = headers(&[("cache-control", "private, max-age=60")]);
        let shared = Policy::new(&req, 200, &res, PolicyOptions { shared: true, ..Default::default() }, t0).unwrap();
        let private = Policy::new(&req, 200, &res, PolicyOptions { shared: false, ..Default::default() }, t0).unwrap();
        assert!(!shared.is_storable());
        assert!(private.is_storable());
    }

    #[test]
    fn vary_star_never_matches() {
        let t0 = SystemTime::now();
        let req = get("http://a.test/x", &[]);
        let res = headers(&[("cache-control", "max-age=60"), ("vary", "*")]);
        let policy = Policy::new(&req, 200, &res, PolicyOptions::default(), t0).unwrap();
        assert!(matches!(policy.before_request(&req, t0).unwrap(), Freshness::Stale { matches: false, .. }));
    }

    #[test]
    fn bad_urls_are_rejected_not_panicked_on() {
        let req = RequestInfo { method: "GET".into(), url: "http://[::1".into(), headers: HeaderMap::new() };
        assert!(Policy::new(&req, 200, &HeaderMap::new(), PolicyOptions::default(), SystemTime::now()).is_err());
    }
}
