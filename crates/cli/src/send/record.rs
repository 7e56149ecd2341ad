//! One record to one NDJSON line of a `/v1/events` body.
//!
//! A line that is a JSON object is sent byte for byte as it is, and the hub reads its fields
//! with the `/v1/events` aliases. Only the defaults it lacks are added, right after its `{`:
//! the `--service` when it has none of `service` and `service.name`, and the `--level` when it
//! has none of `level`, `severity` and `lvl` (fields that are `null` count as absent, as on the
//! hub). Any other text becomes `{"message": text, "level": ..., "service": ...}`.
//!
//! Deciding costs one scan of the line's top-level keys; values are skipped, not built.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// Fields added to records that lack them, pre-encoded as JSON members.
#[derive(Debug, Clone, Default)]
pub(super) struct Defaults {
    /// `"service":"<--service>"`, when `--service` was given.
    service: Option<String>,
    /// `"level":"<--level>"`, always set for plain text.
    level: String,
    /// Whether JSON objects without a level get [`Defaults::level`]; not when it is `INFO`,
    /// the hub's own default.
    level_for_objects: bool,
}

impl Defaults {
    /// The defaults of `--service` and `--level` (a level name such as `INFO`).
    pub(super) fn new(service: Option<&str>, level: &str) -> Defaults {
        Defaults {
            service: service.map(|name| format!("\"service\":{}", json_string(name))),
            level: format!("\"level\":{}", json_string(level)),
            level_for_objects: !level.eq_ignore_ascii_case("INFO"),
        }
    }
}

/// Appends `text` to `body` as one NDJSON line (with its `\n`); returns its length.
pub(super) fn encode(text: &[u8], defaults: &Defaults, body: &mut Vec<u8>) -> usize {
    let start = body.len();
    match scan_object(text) {
        Some(keys) => encode_object(text, keys, defaults, body),
        None => encode_plain(text, defaults, body),
    }
    body.push(b'\n');
    body.len() - start
}

/// Whether `text` is one JSON object (valid UTF-8, nothing else on the line).
pub(super) fn is_json_object(text: &[u8]) -> bool {
    scan_object(text).is_some()
}

fn encode_object(text: &[u8], keys: Keys, defaults: &Defaults, body: &mut Vec<u8>) {
    let mut added: Vec<&str> = Vec::with_capacity(2);
    if !keys.service
        && let Some(service) = &defaults.service
    {
        added.push(service);
    }
    if !keys.level && defaults.level_for_objects {
        added.push(&defaults.level);
    }
    if added.is_empty() {
        body.extend_from_slice(text);
        return;
    }

    let brace = text
        .iter()
        .position(|&byte| byte == b'{')
        .expect("a scanned object starts with {");
    body.extend_from_slice(&text[..=brace]);
    body.extend_from_slice(added.join(",").as_bytes());
    if keys.any {
        body.push(b',');
    }
    body.extend_from_slice(&text[brace + 1..]);
}

fn encode_plain(text: &[u8], defaults: &Defaults, body: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(text);
    body.extend_from_slice(b"{\"message\":");
    serde_json::to_writer(&mut *body, text.as_ref()).expect("writing to a Vec cannot fail");
    body.push(b',');
    body.extend_from_slice(defaults.level.as_bytes());
    if let Some(service) = &defaults.service {
        body.push(b',');
        body.extend_from_slice(service.as_bytes());
    }
    body.push(b'}');
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serializes")
}

/// What the top level of a JSON object holds, as far as the defaults care.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Keys {
    /// Any member at all.
    any: bool,
    /// A non-null `service` or `service.name`.
    service: bool,
    /// A non-null `level`, `severity` or `lvl`.
    level: bool,
}

/// The keys of `text` when it is exactly one JSON object, else `None`.
fn scan_object(text: &[u8]) -> Option<Keys> {
    let first = text.iter().find(|byte| !byte.is_ascii_whitespace())?;
    if *first != b'{' || std::str::from_utf8(text).is_err() {
        return None;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let keys = deserializer.deserialize_map(KeysVisitor).ok()?;
    deserializer.end().ok()?;
    Some(keys)
}

struct KeysVisitor;

impl<'de> Visitor<'de> for KeysVisitor {
    type Value = Keys;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
        let mut keys = Keys::default();
        while let Some(key) = map.next_key::<Key>()? {
            keys.any = true;
            let present = map.next_value::<Option<IgnoredAny>>()?.is_some();
            match key {
                Key::Service => keys.service |= present,
                Key::Level => keys.level |= present,
                Key::Other => {}
            }
        }
        Ok(keys)
    }
}

/// A top-level key, read without allocating.
enum Key {
    Service,
    Level,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(match key {
            "service" | "service.name" => Key::Service,
            "level" | "severity" | "lvl" => Key::Level,
            _ => Key::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn line(text: &str, defaults: &Defaults) -> String {
        let mut body = Vec::new();
        let length = encode(text.as_bytes(), defaults, &mut body);
        assert_eq!(length, body.len());
        let body = String::from_utf8(body).expect("utf-8");
        body.strip_suffix('\n').expect("ends the line").to_string()
    }

    fn parsed(text: &str, defaults: &Defaults) -> Value {
        serde_json::from_str(&line(text, defaults)).expect("valid JSON")
    }

    #[test]
    fn json_objects_without_missing_fields_are_sent_byte_for_byte() {
        let defaults = Defaults::new(None, "INFO");
        let text = r#"{"msg": "x", "n": 12345678901234567890, "level": "warn"}"#;
        assert_eq!(line(text, &defaults), text);
        let with_service = Defaults::new(Some("api"), "ERROR");
        let full = r#"{"service": "db", "lvl": 30, "msg": "y"}"#;
        assert_eq!(line(full, &with_service), full);
    }

    #[test]
    fn missing_service_and_level_are_added_to_json_objects() {
        let defaults = Defaults::new(Some("api"), "warn");
        assert_eq!(
            parsed(r#" {"msg": "x", "level": null}"#, &defaults),
            json!({"service": "api", "level": "warn", "msg": "x", "level": null})
        );
        assert_eq!(
            parsed("{}", &defaults),
            json!({"service": "api", "level": "warn"})
        );
        let nested = r#"{"service": {"name": "web"}, "severity": 9}"#;
        assert_eq!(line(nested, &defaults), nested);
    }

    #[test]
    fn info_is_not_added_to_json_objects_as_it_is_the_hubs_default() {
        let defaults = Defaults::new(None, "info");
        assert_eq!(line(r#"{"a":1}"#, &defaults), r#"{"a":1}"#);
        assert_eq!(
            parsed("plain", &defaults),
            json!({"message": "plain", "level": "info"})
        );
    }

    #[test]
    fn other_text_becomes_a_message_with_the_defaults() {
        let defaults = Defaults::new(Some("batch \"job\""), "ERROR");
        for text in [
            "plain text",
            "{not json",
            "[1, 2]",
            "{\"a\":1} trailing",
            "\"s\"",
        ] {
            assert_eq!(
                parsed(text, &defaults),
                json!({"message": text, "level": "ERROR", "service": "batch \"job\""}),
            );
        }
        let multiline = parsed("Exception: boom\n\tat Main.run(Main.java:3)", &defaults);
        assert_eq!(
            multiline["message"],
            "Exception: boom\n\tat Main.run(Main.java:3)"
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters_in_a_message() {
        let defaults = Defaults::new(None, "INFO");
        let mut body = Vec::new();
        encode(b"{\"a\":\"\xff\"}", &defaults, &mut body);
        let record: Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(record["message"], "{\"a\":\"\u{fffd}\"}");
    }
}
