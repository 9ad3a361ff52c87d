//! What is stored about a response besides its body, and how it is checked on the way in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{CacheError, Result};

/// Multi-valued headers (such as `set-cookie`) keep every value, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeaderValue {
    One(String),
    Many(Vec<String>),
}

impl HeaderValue {
    pub fn values(&self) -> impl Iterator<Item = &str> {
        let slice: &[String] = match self {
            HeaderValue::One(v) => std::slice::from_ref(v),
            HeaderValue::Many(vs) => vs,
        };
        slice.iter().map(String::as_str)
    }

    fn push(&mut self, more: HeaderValue) {
        let mut all: Vec<String> = self.values().map(str::to_owned).collect();
        all.extend(more.values().map(str::to_owned));
        *self = HeaderValue::Many(all);
    }
}

/// Header names are lower-case keys.
pub type HeaderMap = BTreeMap<String, HeaderValue>;

/// Deepest nesting accepted in stored fields (serde_json reads back at most 128, and the
/// index line adds a few levels around them).
pub const MAX_NESTING: usize = 100;

/// How deeply `value` nests arrays and objects (a scalar is 0). Iterative: the input may be
/// deep enough to overflow a recursive walk's stack.
fn nesting_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    deepest
}

/// The response fields stored with a body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryMeta {
    pub status: u16,
    #[serde(default)]
    pub headers: HeaderMap,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub metadata: Value,
    /// The serialized HTTP caching policy, when the entry was stored with its request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
}

impl EntryMeta {
    /// Parses and checks fields given as JSON (as the binding receives them from JavaScript):
    /// status an integer in 100-599, header names HTTP tokens, values free of CR, LF and NUL.
    pub fn from_json(json: &str) -> Result<EntryMeta> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| CacheError::invalid_type(format!("entry is not valid JSON: {e}")))?;
        Self::from_value(value)
    }

    pub fn from_value(value: Value) -> Result<EntryMeta> {
        // The index line wraps these fields a few levels deeper, and serde_json refuses to
        // read back anything nested past 128 levels: refuse here what could not be read back.
        if nesting_depth(&value) > MAX_NESTING {
            return Err(CacheError::out_of_range(format!(
                "entry fields are nested more than {MAX_NESTING} levels deep and could not be read back"
            )));
        }
        let Value::Object(mut fields) = value else {
            return Err(CacheError::invalid_type("entry must be an object"));
        };
        let status = parse_status(fields.get("status"))?;
        let headers = parse_headers(fields.remove("headers"))?;
        let url = match fields.remove("url") {
            None | Some(Value::Null) => None,
            Some(Value::String(url)) => Some(url),
            Some(other) => {
                return Err(CacheError::invalid_type(format!(
                    "entry.url must be a string, got {}",
                    type_name(&other)
                )))
            }
        };
        let metadata = fields.remove("metadata").unwrap_or(Value::Null);
        let policy = fields.remove("policy").filter(|p| !p.is_null());
        if let Some(policy) = &policy {
            crate::policy::Policy::from_json(policy)?;
        }
        Ok(EntryMeta {
            status,
            headers,
            url,
            metadata,
            policy,
        })
    }
}

fn parse_status(value: Option<&Value>) -> Result<u16> {
    let Some(Value::Number(n)) = value else {
        return Err(CacheError::invalid_type(format!(
            "entry.status must be a number, got {}",
            value.map_or("undefined", type_name)
        )));
    };
    match n.as_u64() {
        Some(s @ 100..=599) => Ok(s as u16),
        _ => Err(CacheError::out_of_range(format!(
            "entry.status must be an integer from 100 to 599, got {n}"
        ))),
    }
}

/// Checks and normalizes a header object (names lower-cased, arrays kept, null/absent dropped).
pub fn parse_headers(value: Option<Value>) -> Result<HeaderMap> {
    let object = match value {
        None | Some(Value::Null) => return Ok(HeaderMap::new()),
        Some(Value::Object(object)) => object,
        Some(other) => {
            return Err(CacheError::invalid_type(format!(
                "entry.headers must be an object, got {}",
                type_name(&other)
            )))
        }
    };
    let mut headers = HeaderMap::new();
    for (name, value) in object {
        if !is_token(&name) {
            return Err(CacheError::invalid_value(format!(
                "invalid header name {name:?}"
            )));
        }
        let value = match value {
            Value::Null => continue,
            Value::Array(items) => HeaderValue::Many(
                items
                    .into_iter()
                    .map(|item| header_text(&name, item))
                    .collect::<Result<_>>()?,
            ),
            single => HeaderValue::One(header_text(&name, single)?),
        };
        let name = name.to_ascii_lowercase();
        match headers.get_mut(&name) {
            Some(existing) => existing.push(value),
            None => {
                headers.insert(name, value);
            }
        }
    }
    Ok(headers)
}

fn header_text(name: &str, value: Value) -> Result<String> {
    let text = match value {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        other => {
            return Err(CacheError::invalid_type(format!(
                "header {name:?} must be a string, number or array of them, got {}",
                type_name(&other)
            )))
        }
    };
    if text.contains(['\r', '\n', '\0']) {
        return Err(CacheError::invalid_char(format!(
            "header {name:?} contains a CR, LF or NUL character"
        )));
    }
    Ok(text)
}

/// RFC 9110 token characters: what a header name may contain.
pub(crate) fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use serde_json::json;

    #[test]
    fn lower_cases_names_and_keeps_arrays() {
        let meta = EntryMeta::from_value(json!({
            "status": 200,
            "headers": { "Content-Type": "text/plain", "Set-Cookie": ["a=1", "b=2"], "Content-Length": 5 },
            "url": "https://example.com/",
            "metadata": { "any": [1, 2] }
        }))
        .unwrap();
        assert_eq!(
            meta.headers["content-type"],
            HeaderValue::One("text/plain".into())
        );
        assert_eq!(
            meta.headers["set-cookie"],
            HeaderValue::Many(vec!["a=1".into(), "b=2".into()])
        );
        assert_eq!(meta.headers["content-length"], HeaderValue::One("5".into()));
        assert_eq!(meta.metadata, json!({ "any": [1, 2] }));
    }

    #[test]
    fn duplicate_names_differing_in_case_are_merged() {
        let meta =
            EntryMeta::from_value(json!({ "status": 200, "headers": { "X-A": "1", "x-a": "2" } }))
                .unwrap();
        assert_eq!(meta.headers["x-a"].values().collect::<Vec<_>>().len(), 2);
    }

    #[test]
    fn rejects_bad_status() {
        let kind = |v: Value| EntryMeta::from_value(v).unwrap_err().kind();
        assert_eq!(kind(json!({ "status": 99 })), ErrorKind::OutOfRange);
        assert_eq!(kind(json!({ "status": 600 })), ErrorKind::OutOfRange);
        assert_eq!(kind(json!({ "status": 200.5 })), ErrorKind::OutOfRange);
        assert_eq!(kind(json!({ "status": "200" })), ErrorKind::InvalidArgument);
        assert_eq!(kind(json!({})), ErrorKind::InvalidArgument);
    }

    #[test]
    fn rejects_header_injection() {
        let err = EntryMeta::from_value(json!({ "status": 200, "headers": { "x": "a\r\nb: c" } }))
            .unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_CHAR");
        let err = EntryMeta::from_value(json!({ "status": 200, "headers": { "bad name": "x" } }))
            .unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE");
    }
}
