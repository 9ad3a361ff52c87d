//! `NativePolicy`: the core's HTTP caching policy for JS. Requests and headers cross as JSON;
//! times are milliseconds since the epoch, like `Date.now()`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use napi_derive::napi;
use serde::Serialize;
use serde_json::Value;
use streaming_cache_core::entry::parse_headers;
use streaming_cache_core::{CacheError, Freshness, HeaderMap, Policy, PolicyOptions, RequestInfo};

use crate::errors::guard;

#[napi]
pub struct NativePolicy {
    policy: Policy,
}

fn time(ms: f64) -> SystemTime {
    if ms.is_finite() && ms > 0.0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH
    }
}

fn parse_json(json: &str, what: &str) -> Result<Value, CacheError> {
    serde_json::from_str(json).map_err(|e| CacheError::invalid_type(format!("{what} is not valid JSON: {e}")))
}

fn request(json: &str) -> Result<RequestInfo, CacheError> {
    let Value::Object(mut fields) = parse_json(json, "request")? else {
        return Err(CacheError::invalid_type("request must be an object"));
    };
    let text = |v: Option<Value>, what: &str| match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(CacheError::invalid_type(format!("request.{what} must be a string"))),
    };
    Ok(RequestInfo {
        method: text(fields.remove("method"), "method")?,
        url: text(fields.remove("url"), "url")?,
        headers: parse_headers(fields.remove("headers"))?,
    })
}

fn headers(json: &str) -> Result<HeaderMap, CacheError> {
    parse_headers(Some(parse_json(json, "headers")?))
}

#[derive(Serialize)]
struct FreshnessView<'a> {
    fresh: bool,
    matches: bool,
    headers: &'a HeaderMap,
}

#[derive(Serialize)]
struct RevalidatedView<'a> {
    modified: bool,
    policy: Value,
    headers: &'a HeaderMap,
}

#[napi]
impl NativePolicy {
    #[napi(factory)]
    pub fn from_response(request_json: String, status: u32, headers_json: String, shared: bool, response_time: f64) -> napi::Result<Self> {
        guard(|| {
            let options = PolicyOptions { shared, ..PolicyOptions::default() };
            let status = u16::try_from(status).map_err(|_| CacheError::out_of_range("status out of range"))?;
            let policy = Policy::new(&request(&request_json)?, status, &headers(&headers_json)?, options, time(response_time))?;
            Ok(NativePolicy { policy })
        })
    }

    #[napi(factory)]
    pub fn from_json(json: String) -> napi::Result<Self> {
        guard(|| Ok(NativePolicy { policy: Policy::from_json(&parse_json(&json, "policy")?)? }))
    }

    #[napi]
    pub fn to_json(&self) -> String {
        self.policy.to_json().to_string()
    }

    #[napi]
    pub fn is_storable(&self) -> bool {
        self.policy.is_storable()
    }

    #[napi]
    pub fn is_stale(&self, now: f64) -> bool {
        self.policy.is_stale(time(now))
    }

    #[napi]
    pub fn time_to_live(&self, now: f64) -> f64 {
        self.policy.time_to_live(time(now)).as_millis() as f64
    }

    #[napi]
    pub fn age(&self, now: f64) -> f64 {
        self.policy.age(time(now)).as_secs() as f64
    }

    /// JSON `{ fresh, matches, headers }`: response headers to serve when fresh, otherwise
    /// the request headers to send to the origin (with validators added).
    #[napi]
    pub fn before_request(&self, request_json: String, now: f64) -> napi::Result<String> {
        guard(|| {
            let view = match self.policy.before_request(&request(&request_json)?, time(now))? {
                Freshness::Fresh { headers } => serde_json::to_string(&FreshnessView { fresh: true, matches: true, headers: &headers }),
                Freshness::Stale { headers, matches } => serde_json::to_string(&FreshnessView { fresh: false, matches, headers: &headers }),
            };
            view.map_err(|e| CacheError::internal(e.to_string()))
        })
    }

    /// JSON `{ modified, policy, headers }` after revalidating with the origin's response.
    #[napi]
    pub fn after_response(&self, request_json: String, status: u32, headers_json: String, now: f64) -> napi::Result<String> {
        guard(|| {
            let status = u16::try_from(status).map_err(|_| CacheError::out_of_range("status out of range"))?;
            let after = self.policy.after_response(&request(&request_json)?, status, &headers(&headers_json)?, time(now))?;
            serde_json::to_string(&RevalidatedView { modified: after.modified, policy: after.policy.to_json(), headers: &after.headers })
                .map_err(|e| CacheError::internal(e.to_string()))
        })
    }
}
