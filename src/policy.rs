//! `NativePolicy`: the core's HTTP caching policy for JS. Requests and headers cross as JSON;
//! times are milliseconds since the epoch, like `Date.now()`. Every method runs inside
//! `guard`: whatever a stored policy or an origin's headers contain, a panic becomes an
//! `ERR_CACHE_INTERNAL` error, never an abort; bad input a coded `TypeError`/`RangeError`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use napi_derive::napi;
use serde::Serialize;
use serde_json::Value;
use streaming_cache_core::entry::parse_headers;
use streaming_cache_core::{
    CacheError, Freshness, HeaderMap, Policy, PolicyOptions, RequestDirectives, RequestInfo,
};

use crate::errors::guard;
use napi::Env;

/// The latest time a JS `Date` can hold (8.64e15 ms): later values are taken as that.
const MAX_JS_TIME_MS: f64 = 8.64e15;

#[napi]
pub struct NativePolicy {
    policy: Policy,
}

fn time(ms: f64) -> SystemTime {
    if ms.is_finite() && ms > 0.0 {
        UNIX_EPOCH + Duration::from_millis(ms.min(MAX_JS_TIME_MS) as u64)
    } else {
        UNIX_EPOCH
    }
}

/// Heuristic freshness bounds (checked by lib/cache-policy.js; absurd values are clamped).
#[napi(object)]
pub struct HeuristicArg {
    pub fraction: f64,
    pub min: f64,
    pub max: f64,
}

impl HeuristicArg {
    fn apply(&self, options: &mut PolicyOptions) {
        let ms = |value: f64| Duration::from_millis(value.clamp(0.0, MAX_JS_TIME_MS) as u64);
        options.heuristic_fraction = if self.fraction.is_finite() {
            self.fraction.max(0.0) as f32
        } else {
            0.0
        };
        options.heuristic_min = ms(self.min);
        options.heuristic_max = ms(self.max);
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_millis() as f64
}

fn parse_json(json: &str, what: &str) -> Result<Value, CacheError> {
    serde_json::from_str(json)
        .map_err(|e| CacheError::invalid_type(format!("{what} is not valid JSON: {e}")))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, CacheError> {
    serde_json::to_string(value).map_err(|e| CacheError::internal(e.to_string()))
}

fn request(json: &str) -> Result<RequestInfo, CacheError> {
    let Value::Object(mut fields) = parse_json(json, "request")? else {
        return Err(CacheError::invalid_type("request must be an object"));
    };
    let text = |v: Option<Value>, what: &str| match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(CacheError::invalid_type(format!(
            "request.{what} must be a string"
        ))),
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

fn status(status: u32) -> Result<u16, CacheError> {
    u16::try_from(status).map_err(|_| CacheError::out_of_range("status out of range"))
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
    // Seven of them come from JS; `env` is napi-rs's, for the coded error.
    #[allow(clippy::too_many_arguments)]
    pub fn from_response(
        env: &Env,
        request_json: String,
        status_code: u32,
        headers_json: String,
        shared: bool,
        response_time: f64,
        request_time: Option<f64>,
        heuristic: Option<HeuristicArg>,
    ) -> napi::Result<Self> {
        guard(env, || {
            let mut options = PolicyOptions {
                shared,
                request_time: request_time.map(time),
                ..PolicyOptions::default()
            };
            if let Some(heuristic) = heuristic {
                heuristic.apply(&mut options);
            }
            let policy = Policy::new(
                &request(&request_json)?,
                status(status_code)?,
                &headers(&headers_json)?,
                options,
                time(response_time),
            )?;
            Ok(NativePolicy { policy })
        })
    }

    #[napi(factory)]
    pub fn from_json(env: &Env, json: String) -> napi::Result<Self> {
        guard(env, || {
            Ok(NativePolicy {
                policy: Policy::from_json(&parse_json(&json, "policy")?)?,
            })
        })
    }

    /// JSON of a request's own `Cache-Control` directives (see `RequestDirectives`).
    #[napi]
    pub fn request_directives(env: &Env, headers_json: String) -> napi::Result<String> {
        guard(env, || {
            to_json(&RequestDirectives::parse(&headers(&headers_json)?))
        })
    }

    #[napi]
    pub fn to_json(&self, env: &Env) -> napi::Result<String> {
        guard(env, || Ok(self.policy.to_json().to_string()))
    }

    #[napi]
    pub fn is_storable(&self, env: &Env) -> napi::Result<bool> {
        guard(env, || Ok(self.policy.is_storable()))
    }

    #[napi]
    pub fn is_stale(&self, env: &Env, now: f64) -> napi::Result<bool> {
        guard(env, || Ok(self.policy.is_stale(time(now))))
    }

    #[napi]
    pub fn time_to_live(&self, env: &Env, now: f64) -> napi::Result<f64> {
        guard(env, || Ok(millis(self.policy.time_to_live(time(now)))))
    }

    /// Seconds, as the `Age` header gives it.
    #[napi]
    pub fn age(&self, env: &Env, now: f64) -> napi::Result<f64> {
        guard(env, || Ok(self.policy.age(time(now)).as_secs() as f64))
    }

    #[napi]
    pub fn freshness_lifetime(&self, env: &Env) -> napi::Result<f64> {
        guard(env, || Ok(millis(self.policy.freshness_lifetime())))
    }

    #[napi]
    pub fn staleness(&self, env: &Env, now: f64) -> napi::Result<f64> {
        guard(env, || Ok(millis(self.policy.staleness(time(now)))))
    }

    #[napi]
    pub fn has_explicit_freshness(&self, env: &Env) -> napi::Result<bool> {
        guard(env, || Ok(self.policy.has_explicit_freshness()))
    }

    #[napi]
    pub fn may_serve_stale(&self, env: &Env) -> napi::Result<bool> {
        guard(env, || Ok(self.policy.may_serve_stale()))
    }

    #[napi]
    pub fn can_stale_while_revalidate(&self, env: &Env, now: f64) -> napi::Result<bool> {
        guard(env, || {
            Ok(self.policy.can_stale_while_revalidate(time(now)))
        })
    }

    #[napi]
    pub fn can_stale_if_error(
        &self,
        env: &Env,
        request_json: String,
        now: f64,
    ) -> napi::Result<bool> {
        guard(env, || {
            Ok(self
                .policy
                .can_stale_if_error(&request(&request_json)?, time(now)))
        })
    }

    #[napi]
    pub fn status(&self, env: &Env) -> napi::Result<u32> {
        guard(env, || Ok(u32::from(self.policy.status())))
    }

    #[napi]
    pub fn url(&self, env: &Env) -> napi::Result<String> {
        guard(env, || Ok(self.policy.url().to_owned()))
    }

    #[napi]
    pub fn method(&self, env: &Env) -> napi::Result<String> {
        guard(env, || Ok(self.policy.method().to_owned()))
    }

    #[napi]
    pub fn response_time(&self, env: &Env) -> napi::Result<f64> {
        guard(env, || {
            Ok(millis(
                self.policy
                    .response_time()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default(),
            ))
        })
    }

    /// JSON of the response's fields as stored.
    #[napi]
    pub fn response_headers(&self, env: &Env) -> napi::Result<String> {
        guard(env, || to_json(self.policy.response_headers()))
    }

    /// JSON of the headers to serve the stored response with at `now`.
    #[napi]
    pub fn served_headers(&self, env: &Env, now: f64) -> napi::Result<String> {
        guard(env, || to_json(&self.policy.served_headers(time(now))))
    }

    #[napi]
    pub fn response_directives(&self, env: &Env) -> napi::Result<String> {
        guard(env, || to_json(&self.policy.response_directives()))
    }

    #[napi]
    pub fn matches(&self, env: &Env, request_json: String) -> napi::Result<bool> {
        guard(env, || Ok(self.policy.matches(&request(&request_json)?)))
    }

    /// Whether the request's own conditional headers match the stored response (answer 304).
    #[napi]
    pub fn not_modified_for(&self, env: &Env, request_json: String) -> napi::Result<bool> {
        guard(env, || {
            Ok(self.policy.not_modified_for(&request(&request_json)?))
        })
    }

    /// JSON of the request headers for revalidating the stored response.
    #[napi]
    pub fn revalidation_headers(&self, env: &Env, request_json: String) -> napi::Result<String> {
        guard(env, || {
            to_json(&self.policy.revalidation_headers(&request(&request_json)?))
        })
    }

    /// JSON `{ fresh, matches, headers }`: response headers to serve when fresh, otherwise
    /// the request headers to send to the origin (with validators added).
    #[napi]
    pub fn before_request(
        &self,
        env: &Env,
        request_json: String,
        now: f64,
    ) -> napi::Result<String> {
        guard(env, || {
            match self
                .policy
                .before_request(&request(&request_json)?, time(now))?
            {
                Freshness::Fresh { headers } => to_json(&FreshnessView {
                    fresh: true,
                    matches: true,
                    headers: &headers,
                }),
                Freshness::Stale { headers, matches } => to_json(&FreshnessView {
                    fresh: false,
                    matches,
                    headers: &headers,
                }),
            }
        })
    }

    /// JSON `{ modified, policy, headers }` after revalidating with the origin's response.
    #[napi]
    pub fn after_response(
        &self,
        env: &Env,
        request_json: String,
        status_code: u32,
        headers_json: String,
        now: f64,
    ) -> napi::Result<String> {
        guard(env, || {
            let after = self.policy.after_response(
                &request(&request_json)?,
                status(status_code)?,
                &headers(&headers_json)?,
                time(now),
            )?;
            to_json(&RevalidatedView {
                modified: after.modified,
                policy: after.policy.to_json(),
                headers: &after.headers,
            })
        })
    }
}
