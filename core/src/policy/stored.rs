//! What a policy keeps (and writes to disk with its entry). Only facts are stored (the
//! response's fields, when it was received, what the request said that matters later);
//! every decision is derived again when a policy is read back, so a policy written by an
//! older version, or damaged on disk, is judged by today's rules and clamps.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::dates::Millis;
use super::headers::sanitized;
use crate::entry::{HeaderMap, HeaderValue};
use crate::error::{CacheError, Result};

pub const FORMAT_VERSION: u32 = 2;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    /// Format version: 2. Policies without it are http-cache-semantics' format (version 1).
    pub v: u32,
    /// Upper-case request method.
    pub method: String,
    pub url: String,
    pub status: u16,
    pub shared: bool,
    pub heuristic_fraction: f64,
    /// Bounds of a heuristic lifetime, in ms (policies written before they existed get today's
    /// defaults).
    #[serde(default = "super::heuristic::default_min_millis")]
    pub heuristic_min: Millis,
    #[serde(default = "super::heuristic::default_max_millis")]
    pub heuristic_max: Millis,
    /// When the response was received / its request sent (ms since the epoch).
    pub response_time: Millis,
    pub request_time: Millis,
    /// Only what matching a later request needs: `host` and the fields `Vary` names.
    pub request_headers: HeaderMap,
    /// The response's fields as stored: no hop-by-hop fields, and in a shared cache no
    /// `Set-Cookie` and none of the fields a qualified `private` names.
    pub response_headers: HeaderMap,
    /// The request said `Cache-Control: no-store`.
    #[serde(default)]
    pub request_no_store: bool,
    /// The request carried `Authorization` (a shared cache stores such responses only when
    /// the response allows it).
    #[serde(default)]
    pub authorization: bool,
}

impl Stored {
    pub fn from_json(value: &Value) -> Result<Stored> {
        let invalid =
            |e: String| CacheError::invalid_value(format!("not a stored cache policy: {e}"));
        let mut stored = match value.get("v") {
            Some(_) => serde_json::from_value::<Stored>(value.clone())
                .map_err(|e| invalid(e.to_string()))?,
            None => from_legacy(value).ok_or_else(|| invalid("unknown format".into()))?,
        };
        if stored.v != FORMAT_VERSION {
            return Err(invalid(format!("unsupported version {}", stored.v)));
        }
        stored.request_headers = sanitized(std::mem::take(&mut stored.request_headers));
        stored.response_headers = sanitized(std::mem::take(&mut stored.response_headers));
        if !stored.heuristic_fraction.is_finite() || stored.heuristic_fraction < 0.0 {
            stored.heuristic_fraction = 0.0;
        }
        Ok(stored)
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Reads the format http-cache-semantics 3 serialized (what earlier versions of this cache
/// stored): `{ req, res, uri, status, method, opts: { shared, cache_heuristic }, response_time:
/// { secs_since_epoch, nanos_since_epoch }, ... }`.
fn from_legacy(value: &Value) -> Option<Stored> {
    let object = value.as_object()?;
    let status = u16::try_from(object.get("status")?.as_u64()?).ok()?;
    let method = object.get("method")?.as_str()?.to_ascii_uppercase();
    let url = object.get("uri")?.as_str()?.to_owned();
    let opts = object.get("opts");
    let shared = opts
        .and_then(|o| o.get("shared"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let heuristic_fraction = opts
        .and_then(|o| o.get("cache_heuristic"))
        .and_then(Value::as_f64)
        .unwrap_or(0.1);
    let time = object.get("response_time")?;
    let secs = time.get("secs_since_epoch")?.as_u64()?;
    let nanos = time
        .get("nanos_since_epoch")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let response_time = i64::try_from(secs)
        .ok()?
        .saturating_mul(1000)
        .saturating_add((nanos / 1_000_000) as i64);
    let request = legacy_headers(object.get("req")?);
    let response = legacy_headers(object.get("res")?);
    let request_no_store =
        super::directives::CacheControl::parse(super::headers::lines(&request, "cache-control"))
            .has("no-store");
    let authorization = request.contains_key("authorization");
    Some(Stored {
        v: FORMAT_VERSION,
        method,
        url,
        status,
        shared,
        heuristic_fraction,
        heuristic_min: super::heuristic::default_min_millis(),
        heuristic_max: super::heuristic::default_max_millis(),
        response_time,
        request_time: response_time,
        request_headers: super::matching_request_headers(&request, &response),
        response_headers: super::stored_response_headers(&response, shared),
        request_no_store,
        authorization,
    })
}

/// http-serde writes a header map as `{ name: value | [values] }`; values that were not text
/// were written as something else and are skipped.
fn legacy_headers(value: &Value) -> HeaderMap {
    let mut out = HeaderMap::new();
    let Some(object) = value.as_object() else {
        return out;
    };
    for (name, value) in object {
        let value = match value {
            Value::String(s) => HeaderValue::One(s.clone()),
            Value::Array(items) => {
                let texts: Vec<String> = items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect();
                match texts.len() {
                    0 => continue,
                    1 => HeaderValue::One(texts.into_iter().next().unwrap_or_default()),
                    _ => HeaderValue::Many(texts),
                }
            }
            _ => continue,
        };
        out.insert(name.to_ascii_lowercase(), value);
    }
    out
}
