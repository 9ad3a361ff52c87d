//! Revalidation (RFC 9111 4.3): the conditional request for a stored response, the client's
//! own conditionals answered from it, and how the origin's answer updates it.

use std::time::SystemTime;

use super::dates::{parse_http_date, to_millis};
use super::directives::CacheControl;
use super::headers::{self, first, members, merge_not_modified, without_hop_by_hop};
use super::{
    check_request, matching_request_headers, millis_duration, stored_response_headers, Policy,
    PolicyOptions, RequestInfo,
};
use crate::entry::{HeaderMap, HeaderValue};
use crate::error::Result;

/// The outcome of revalidating a stored response with the origin's answer.
#[derive(Clone, Debug)]
pub struct Revalidated {
    /// `false` on a 304 that updates the stored response: the stored body is still good.
    pub modified: bool,
    pub policy: Policy,
    /// Headers to serve (and store) from now on.
    pub headers: HeaderMap,
}

impl Policy {
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
        let method = if request.method.is_empty() {
            "GET".to_owned()
        } else {
            request.method.to_ascii_uppercase()
        };
        // Weak validators only on plain GETs (RFC 9110 13.1.3 via 8.8.1).
        let forbids_weak = method != "GET"
            || out.contains_key("if-match")
            || out.contains_key("if-unmodified-since");
        if forbids_weak {
            out.remove("if-modified-since");
            let strong: Vec<String> = members(&out, "if-none-match")
                .into_iter()
                .filter(|t| !t.starts_with("W/"))
                .collect();
            if strong.is_empty() {
                out.remove("if-none-match");
            } else {
                out.insert("if-none-match".into(), HeaderValue::One(strong.join(", ")));
            }
        } else if !out.contains_key("if-modified-since") {
            if let Some(modified) = first(stored, "last-modified") {
                out.insert(
                    "if-modified-since".into(),
                    HeaderValue::One(modified.to_owned()),
                );
            }
        }
        out
    }

    /// Whether `request`'s own conditional headers say the client already has this stored
    /// response (RFC 9110 13.2.2): `If-None-Match` naming its `ETag` (weak comparison) or `*`;
    /// without `If-None-Match`, an `If-Modified-Since` on a GET/HEAD no earlier than its
    /// `Last-Modified`. A cache answering from this response then sends 304 instead of it.
    pub fn not_modified_for(&self, request: &RequestInfo) -> bool {
        let opaque = |tag: &str| {
            tag.trim_matches([' ', '\t'])
                .strip_prefix("W/")
                .unwrap_or(tag.trim_matches([' ', '\t']))
                .to_owned()
        };
        let stored = &self.stored.response_headers;
        if request.headers.contains_key("if-none-match") {
            let asked = members(&request.headers, "if-none-match");
            let Some(etag) = first(stored, "etag") else {
                return asked.iter().any(|t| t == "*");
            };
            return asked.iter().any(|t| t == "*" || opaque(t) == opaque(etag));
        }
        let method = if request.method.is_empty() {
            "GET".to_owned()
        } else {
            request.method.to_ascii_uppercase()
        };
        if method != "GET" && method != "HEAD" {
            return false;
        }
        let since = first(&request.headers, "if-modified-since").and_then(parse_http_date);
        let modified = first(stored, "last-modified").and_then(parse_http_date);
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
            heuristic_min: millis_duration(self.stored.heuristic_min),
            heuristic_max: millis_duration(self.stored.heuristic_max),
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
            stored.request_no_store =
                CacheControl::parse(headers::lines(&request.headers, "cache-control"))
                    .has("no-store");
            stored.authorization = request.headers.contains_key("authorization");
            let policy = Policy::from_stored(stored);
            let mut headers = policy.stored.response_headers.clone();
            policy.set_age(&mut headers, to_millis(now));
            return Ok(Revalidated {
                modified: false,
                policy,
                headers,
            });
        }
        let policy = Policy::new(request, status, response_headers, options, now)?;
        let mut headers = policy.stored.response_headers.clone();
        policy.set_age(&mut headers, to_millis(now));
        Ok(Revalidated {
            modified: true,
            policy,
            headers,
        })
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
            if old
                .as_deref()
                .is_some_and(|old| opaque(old) == opaque(&new))
            {
                return true;
            }
            let asked_by_client = members(&request.headers, "if-none-match")
                .iter()
                .any(|tag| opaque(tag) == opaque(&new));
            return !asked_by_client;
        }
        match (
            first(stored, "last-modified").map(trim),
            first(update, "last-modified").map(trim),
        ) {
            (Some(old), Some(new)) if !same_date(&old, &new) => {
                let asked_by_client = first(&request.headers, "if-modified-since")
                    .is_some_and(|ims| same_date(ims, &new));
                !asked_by_client
            }
            _ => true,
        }
    }
}

/// Two HTTP-dates name the same time (or are the same text).
fn same_date(a: &str, b: &str) -> bool {
    a.trim() == b.trim() || parse_http_date(a).is_some_and(|t| Some(t) == parse_http_date(b))
}
