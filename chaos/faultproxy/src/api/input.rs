//! Request bodies, read the way Toxiproxy's Go decoder reads them: unknown
//! fields and `null`s are ignored, missing attributes are 0, a value of the
//! wrong type is `400 bad request body: ...`, and the checks come in
//! Toxiproxy's order (stream, then type) so the same request gets the same
//! error from either server.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::ApiError;
use crate::model::{ProxyConfig, Stream, Toxic, ToxicKind};
use crate::proxy::ProxyPatch;

/// Decodes JSON or answers `400 bad request body: <decoder message>`.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(ApiError::bad_request_body)
}

/// A proxy as sent by a client; every field may be absent or `null`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ProxyInput {
    name: Option<String>,
    listen: Option<String>,
    upstream: Option<String>,
    enabled: Option<bool>,
}

impl ProxyInput {
    /// A complete proxy: `name` and `upstream` are required (`at proxy N`
    /// in Toxiproxy's message for populate), `enabled` defaults to true.
    pub(crate) fn into_config(self, position: Option<usize>) -> Result<ProxyConfig, ApiError> {
        let at = |field: &str| match position {
            Some(i) => format!("{field} at proxy {}", i + 1),
            None => field.to_string(),
        };
        let name = self.name.filter(|n| !n.is_empty());
        let name = name.ok_or_else(|| ApiError::missing_field(at("name")))?;
        let upstream = self.upstream.filter(|u| !u.is_empty());
        let upstream = upstream.ok_or_else(|| ApiError::missing_field(at("upstream")))?;
        Ok(ProxyConfig {
            name,
            listen: self.listen.unwrap_or_default(),
            upstream,
            enabled: self.enabled.unwrap_or(true),
        })
    }

    pub(crate) fn into_patch(self) -> ProxyPatch {
        ProxyPatch {
            listen: self.listen,
            upstream: self.upstream,
            enabled: self.enabled,
        }
    }
}

/// `/populate` (and a `--config` file): Toxiproxy's JSON array of proxies,
/// or the same array under `"proxies"`. All are checked before any is
/// created.
pub(crate) fn proxy_list(body: &[u8]) -> Result<Vec<ProxyConfig>, ApiError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape {
        List(Vec<ProxyInput>),
        Wrapped { proxies: Vec<ProxyInput> },
    }
    // Decode as a Value first so a syntax error is reported as such rather
    // than as "did not match any variant".
    let value: Value = decode(body)?;
    let shape: Shape = serde_json::from_value(value).map_err(|_| {
        ApiError::bad_request_body(
            "expected an array of proxies or {\"proxies\": [...]}, with string name/listen/upstream and boolean enabled",
        )
    })?;
    let inputs = match shape {
        Shape::List(list) | Shape::Wrapped { proxies: list } => list,
    };
    let configs = inputs
        .into_iter()
        .enumerate()
        .map(|(i, input)| input.into_config(Some(i)))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, config) in configs.iter().enumerate() {
        if configs[..i].iter().any(|c| c.name == config.name) {
            return Err(ApiError::bad_request_body(format!(
                "duplicate proxy name {:?} at proxy {}",
                config.name,
                i + 1
            )));
        }
    }
    Ok(configs)
}

#[derive(Debug, Deserialize)]
struct ToxicInput {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    stream: Option<String>,
    toxicity: Option<f32>,
    attributes: Option<Map<String, Value>>,
}

/// `POST /proxies/{proxy}/toxics`.
pub(crate) fn new_toxic(body: &[u8]) -> Result<Toxic, ApiError> {
    let input: ToxicInput = decode(body)?;
    let stream = match input
        .stream
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => Stream::Downstream,
        Some("upstream") => Stream::Upstream,
        Some("downstream") => Stream::Downstream,
        Some(_) => return Err(ApiError::invalid_stream()),
    };
    let type_name = input.kind.unwrap_or_default();
    if !ToxicKind::TYPE_NAMES.contains(&type_name.as_str()) {
        return Err(ApiError::invalid_toxic_type());
    }
    let name = match input.name {
        Some(name) if !name.is_empty() => name,
        _ => format!("{type_name}_{stream}"),
    };
    let kind = merge_attributes(&type_name, Map::new(), input.attributes)?;
    Ok(Toxic {
        name,
        kind,
        stream,
        toxicity: input.toxicity.unwrap_or(1.0),
    })
}

/// `POST /proxies/{proxy}/toxics/{toxic}`: `attributes` are merged over the
/// current ones and `toxicity` replaces the current one if given; anything
/// else in the body is ignored, as in Toxiproxy.
pub(crate) fn toxic_update(current: &Toxic, body: &[u8]) -> Result<Toxic, ApiError> {
    #[derive(Deserialize)]
    struct ToxicPatch {
        toxicity: Option<f32>,
        attributes: Option<Map<String, Value>>,
    }
    let patch: ToxicPatch = decode(body)?;
    let base = match serde_json::to_value(&current.kind) {
        Ok(Value::Object(mut object)) => match object.remove("attributes") {
            Some(Value::Object(attributes)) => attributes,
            _ => Map::new(),
        },
        _ => Map::new(),
    };
    Ok(Toxic {
        kind: merge_attributes(current.kind.type_name(), base, patch.attributes)?,
        toxicity: patch.toxicity.unwrap_or(current.toxicity),
        ..current.clone()
    })
}

/// Overlays the given attributes (skipping `null`s) on `base` and decodes
/// the result as a toxic of `type_name`; absent attributes default to 0.
fn merge_attributes(
    type_name: &str,
    mut base: Map<String, Value>,
    overlay: Option<Map<String, Value>>,
) -> Result<ToxicKind, ApiError> {
    for (key, value) in overlay.into_iter().flatten() {
        if !value.is_null() {
            base.insert(key, value);
        }
    }
    serde_json::from_value(json!({"type": type_name, "attributes": base}))
        .map_err(|err| ApiError::bad_request_body(format!("attributes of {type_name}: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toxic_defaults_follow_toxiproxy() {
        let toxic = new_toxic(br#"{"type":"latency","attributes":{"latency":5}}"#).unwrap();
        assert_eq!(toxic.name, "latency_downstream");
        assert_eq!(toxic.stream, Stream::Downstream);
        assert_eq!(toxic.toxicity, 1.0);
        assert_eq!(
            toxic.kind,
            ToxicKind::Latency {
                latency: 5,
                jitter: 0
            }
        );
    }

    #[test]
    fn stream_is_checked_before_type() {
        let err = new_toxic(br#"{"type":"nope","stream":"sideways"}"#).unwrap_err();
        assert_eq!(err, ApiError::invalid_stream());
        let err = new_toxic(br#"{"type":"nope","stream":"UPSTREAM"}"#).unwrap_err();
        assert_eq!(err, ApiError::invalid_toxic_type());
    }

    #[test]
    fn attribute_of_wrong_type_is_a_bad_request() {
        let err = new_toxic(br#"{"type":"latency","attributes":{"latency":"slow"}}"#).unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
        assert!(
            err.message.starts_with("bad request body: "),
            "{}",
            err.message
        );
    }

    #[test]
    fn update_merges_attributes() {
        let current = new_toxic(
            br#"{"type":"latency","toxicity":0.5,"attributes":{"latency":5,"jitter":2}}"#,
        )
        .unwrap();
        let updated = toxic_update(&current, br#"{"attributes":{"jitter":9,"bogus":1}}"#).unwrap();
        assert_eq!(
            updated.kind,
            ToxicKind::Latency {
                latency: 5,
                jitter: 9
            }
        );
        assert_eq!(updated.toxicity, 0.5);
    }

    #[test]
    fn populate_accepts_both_shapes_and_names_the_position() {
        let a = proxy_list(br#"[{"name":"a","upstream":"x:1"}]"#).unwrap();
        let b = proxy_list(br#"{"proxies":[{"name":"a","upstream":"x:1"}]}"#).unwrap();
        assert_eq!(a, b);
        assert!(a[0].enabled);
        let err = proxy_list(br#"[{"name":"a","upstream":"x:1"},{"name":"b"}]"#).unwrap_err();
        assert_eq!(err.message, "missing required field: upstream at proxy 2");
    }
}
