//! HTTP plumbing shared by handlers: bodies, content negotiation, request
//! decoding (JSON and YAML, size-limited) and `Status` responses.

use std::convert::Infallible;

use apimachinery::StatusError;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use serde_json::Value;

/// The response body type: a whole buffer or a stream (watch).
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Largest request body accepted, as upstream (3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed_unsync()
}

pub fn empty() -> Body {
    full(Bytes::new())
}

/// A JSON response with the given status.
pub fn json_response(code: StatusCode, v: &Value) -> Response<Body> {
    let mut body = serde_json::to_vec(v).unwrap_or_default();
    body.push(b'\n');
    let mut r = Response::new(full(body));
    *r.status_mut() = code;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Serializes an object in the negotiated format.
pub fn object_response(code: StatusCode, v: &Value, fmt: &Format) -> Response<Body> {
    match fmt.kind {
        FormatKind::Yaml => {
            let body = serde_yaml::to_string(v).unwrap_or_default();
            let mut r = Response::new(full(body));
            *r.status_mut() = code;
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/yaml"),
            );
            r
        }
        _ => json_response(code, v),
    }
}

/// The `Status` body for an error.
pub fn error_response(e: &StatusError) -> Response<Body> {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = json_response(code, &e.to_json());
    if let Some(s) = e.retry_after_seconds {
        if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
            r.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
    }
    r
}

/// What the client asked to receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatKind {
    Json,
    Yaml,
    /// `as=Table;g=meta.k8s.io;v=v1` (or v1beta1).
    Table,
    /// `as=PartialObjectMetadata[List]`.
    PartialMetadata,
    /// `as=APIGroupDiscoveryList;g=apidiscovery.k8s.io;v=v2`.
    AggregatedDiscovery,
}

/// A negotiated response format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pub kind: FormatKind,
    /// The `v=` parameter for Table/metadata responses (v1 or v1beta1).
    pub version: String,
}

impl Format {
    pub fn json() -> Self {
        Format {
            kind: FormatKind::Json,
            version: String::new(),
        }
    }
}

/// Chooses a response format from `Accept`, in the client's order.
/// `allow_aggregated` is set for `/api` and `/apis`; `resource_ok` for
/// requests that can be answered as Table or metadata.
pub fn negotiate(
    accept: Option<&str>,
    allow_aggregated: bool,
    resource_ok: bool,
) -> Result<Format, StatusError> {
    let accept = match accept {
        None => return Ok(Format::json()),
        Some(a) if a.trim().is_empty() => return Ok(Format::json()),
        Some(a) => a,
    };
    for part in accept.split(',') {
        let mut it = part.split(';').map(str::trim);
        let mt = it.next().unwrap_or("").to_ascii_lowercase();
        let mut params = std::collections::HashMap::new();
        for p in it {
            if let Some((k, v)) = p.split_once('=') {
                params.insert(k.trim().to_string(), v.trim().trim_matches('"').to_string());
            }
        }
        let as_ = params.get("as").map(String::as_str);
        let g = params.get("g").map(String::as_str).unwrap_or("");
        let v = params.get("v").cloned().unwrap_or_default();
        let json_like = matches!(mt.as_str(), "application/json" | "*/*" | "application/*");
        match as_ {
            Some("APIGroupDiscoveryList") if json_like => {
                if allow_aggregated && g == "apidiscovery.k8s.io" && (v == "v2" || v == "v2beta1") {
                    return Ok(Format {
                        kind: FormatKind::AggregatedDiscovery,
                        version: v,
                    });
                }
                continue;
            }
            Some("Table") if json_like => {
                if resource_ok && g == "meta.k8s.io" && (v == "v1" || v == "v1beta1") {
                    return Ok(Format {
                        kind: FormatKind::Table,
                        version: v,
                    });
                }
                continue;
            }
            Some("PartialObjectMetadata") | Some("PartialObjectMetadataList") if json_like => {
                if resource_ok && g == "meta.k8s.io" && (v == "v1" || v == "v1beta1") {
                    return Ok(Format {
                        kind: FormatKind::PartialMetadata,
                        version: v,
                    });
                }
                continue;
            }
            Some(_) => continue,
            None => {}
        }
        match mt.as_str() {
            "application/json"
            | "*/*"
            | "application/*"
            | "application/json-patch+json"
            | "application/merge-patch+json"
            | "application/strategic-merge-patch+json" => return Ok(Format::json()),
            "application/yaml" | "application/x-yaml" | "text/yaml" => {
                return Ok(Format {
                    kind: FormatKind::Yaml,
                    version: String::new(),
                })
            }
            _ => continue,
        }
    }
    Err(StatusError::not_acceptable(
        "application/json, application/yaml",
    ))
}

/// Reads a whole request body, refusing more than [`MAX_BODY`] bytes.
pub async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, StatusError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limited = http_body_util::Limited::new(body, limit);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(StatusError::too_large(limit))
            } else {
                Err(StatusError::bad_request(format!(
                    "error reading request body: {e}"
                )))
            }
        }
    }
}

/// A decoded request body plus fields duplicated in it (for strict
/// validation, which upstream reports as `duplicate field`).
pub struct Decoded {
    pub value: Value,
    pub duplicates: Vec<String>,
}

/// Decodes a request body by content type: JSON, YAML or Kubernetes
/// protobuf (which kubectl's typed clients send). `expected` is the
/// `(apiVersion, kind)` the endpoint serves, used when a protobuf envelope
/// leaves them empty.
pub fn decode_body(
    content_type: Option<&str>,
    body: &[u8],
    expected: (&str, &str),
) -> Result<Decoded, StatusError> {
    let mt = content_type
        .and_then(|c| c.split(';').next())
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "application/json".into());
    match mt.as_str() {
        "application/json" | "" | "*/*" => decode_json(body),
        "application/yaml" | "application/x-yaml" | "text/yaml" => decode_yaml(body),
        "application/vnd.kubernetes.protobuf" => {
            let value = apimachinery::protobuf::decode_k8s_protobuf_with_default(
                body, expected.0, expected.1,
            )
            .map_err(StatusError::from)?;
            Ok(Decoded {
                value,
                duplicates: Vec::new(),
            })
        }
        other => Err(StatusError::unsupported_media_type(other)),
    }
}

pub fn decode_json(body: &[u8]) -> Result<Decoded, StatusError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| StatusError::bad_request(format!("error decoding JSON: {e}")))?;
    let duplicates = crate::http_util::json_duplicates(body);
    Ok(Decoded { value, duplicates })
}

/// YAML decoding; serde_yaml bounds alias expansion, so a "billion laughs"
/// document fails instead of exhausting memory.
pub fn decode_yaml(body: &[u8]) -> Result<Decoded, StatusError> {
    let value: Value = serde_yaml::from_slice(body)
        .map_err(|e| StatusError::bad_request(format!("error converting YAML to JSON: {e}")))?;
    Ok(Decoded {
        value,
        duplicates: Vec::new(),
    })
}

/// Finds keys that appear twice in the same JSON object, as dotted paths.
pub fn json_duplicates(body: &[u8]) -> Vec<String> {
    use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

    struct Seed<'a> {
        path: String,
        out: &'a std::cell::RefCell<Vec<String>>,
    }
    impl<'de> DeserializeSeed<'de> for Seed<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Seed<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("json")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while seq
                .next_element_seed(Seed {
                    path: format!("{}[{i}]", self.path),
                    out: self.out,
                })?
                .is_some()
            {
                i += 1;
            }
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(k) = map.next_key::<String>()? {
                let p = if self.path.is_empty() {
                    k.clone()
                } else {
                    format!("{}.{k}", self.path)
                };
                if !seen.insert(k) {
                    self.out.borrow_mut().push(p.clone());
                }
                map.next_value_seed(Seed {
                    path: p,
                    out: self.out,
                })?;
            }
            Ok(())
        }
    }
    let out = std::cell::RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_slice(body);
    let _ = Seed {
        path: String::new(),
        out: &out,
    }
    .deserialize(&mut de);
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        let f = negotiate(Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"), false, true).unwrap();
        assert_eq!(f.kind, FormatKind::Table);
        let f = negotiate(
            Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
            false,
            false,
        )
        .unwrap();
        assert_eq!(f.kind, FormatKind::Json);
        let f = negotiate(Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"), true, false).unwrap();
        assert_eq!(f.kind, FormatKind::AggregatedDiscovery);
        assert!(negotiate(Some("application/vnd.kubernetes.protobuf"), false, true).is_err());
        let f = negotiate(
            Some("application/vnd.kubernetes.protobuf, */*"),
            false,
            true,
        )
        .unwrap();
        assert_eq!(f.kind, FormatKind::Json);
    }

    #[test]
    fn duplicates() {
        let d = json_duplicates(br#"{"a":1,"b":{"c":1,"c":2},"a":3,"l":[{"x":1,"x":2}]}"#);
        assert_eq!(d, vec!["b.c", "a", "l[0].x"]);
    }

    #[test]
    fn yaml_bomb_is_refused() {
        let bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
        let e = decode_yaml(bomb.as_bytes()).err().expect("must fail");
        assert_eq!(e.code, 400);
    }
}
