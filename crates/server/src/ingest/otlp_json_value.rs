//! The values of OTLP/JSON: `AnyValue` and attribute lists read straight into natural JSON,
//! and the integer and `null` conventions of the protobuf JSON mapping.
//!
//! Reading into natural JSON directly, rather than into the protobuf types first, keeps 64-bit
//! integers exact (as numbers or strings) and spares a second conversion of every value.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use tracetail_model::value::{float_to_json, int_to_json};

/// Base64 as the protobuf JSON mapping reads it: either alphabet, padding optional.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const BASE64_STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const BASE64_URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Reads a field whose `null` means its default.
pub(super) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads a `fixed64` field: a number or a decimal string; `null` is 0.
pub(super) fn u64_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    Ok(Integer::<u64>::plain()
        .deserialize(deserializer)?
        .unwrap_or_default())
}

/// Reads `severityNumber`: a number, a decimal string, or the enum name; `null` is 0.
pub(super) fn severity_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    let by_name = |name: &str| SeverityNumber::from_str_name(name).map(|number| number as i32);
    enum_number(deserializer, by_name)
}

/// Reads a span's `kind`: a number, a decimal string, or the enum name; `null` is 0.
pub(super) fn span_kind<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    let by_name = |name: &str| SpanKind::from_str_name(name).map(|number| number as i32);
    enum_number(deserializer, by_name)
}

/// Reads a status `code`: a number, a decimal string, or the enum name; `null` is 0.
pub(super) fn status_code<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    let by_name = |name: &str| StatusCode::from_str_name(name).map(|number| number as i32);
    enum_number(deserializer, by_name)
}

fn enum_number<'de, D: Deserializer<'de>>(
    deserializer: D,
    by_name: fn(&str) -> Option<i32>,
) -> Result<i32, D::Error> {
    let integer = Integer {
        names: Some(by_name),
        kind: PhantomData,
    };
    Ok(integer.deserialize(deserializer)?.unwrap_or_default())
}

/// An integer from a JSON number or decimal string; `None` for `null`.
struct Integer<T> {
    /// Reads the names of an enum (`SEVERITY_NUMBER_WARN` and its kin) too.
    names: Option<fn(&str) -> Option<i32>>,
    kind: PhantomData<T>,
}

impl<T> Integer<T> {
    fn plain() -> Integer<T> {
        Integer {
            names: None,
            kind: PhantomData,
        }
    }
}

impl<'de, T: TryFrom<i64> + TryFrom<u64> + FromStr> DeserializeSeed<'de> for Integer<T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, T: TryFrom<i64> + TryFrom<u64> + FromStr> Visitor<'de> for Integer<T> {
    type Value = Option<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an integer, as a JSON number or a decimal string")
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Option<T>, E> {
        let out_of_range = || E::custom(format!("integer {number} is out of range"));
        T::try_from(number).map(Some).map_err(|_| out_of_range())
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Option<T>, E> {
        let out_of_range = || E::custom(format!("integer {number} is out of range"));
        T::try_from(number).map(Some).map_err(|_| out_of_range())
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Option<T>, E> {
        if let Some(number) = self.names.and_then(|by_name| by_name(text)) {
            return self.visit_i64(i64::from(number));
        }
        let not_integer = || E::custom(format!("{text:?} is not an integer"));
        text.parse::<T>().map(Some).map_err(|_| not_integer())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
}

/// A `doubleValue`: a number, a numeric string, or `NaN`/`Infinity`/`-Infinity`.
struct Double;

impl<'de> DeserializeSeed<'de> for Double {
    type Value = Option<f64>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<f64>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Double {
    type Value = Option<f64>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a number, or \"NaN\", \"Infinity\" or \"-Infinity\"")
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Option<f64>, E> {
        Ok(Some(number))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Option<f64>, E> {
        Ok(Some(number as f64))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Option<f64>, E> {
        Ok(Some(number as f64))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Option<f64>, E> {
        let not_number = || E::custom(format!("{text:?} is not a number"));
        text.parse::<f64>().map(Some).map_err(|_| not_number())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<f64>, E> {
        Ok(None)
    }
}

/// An OTLP `AnyValue` as natural JSON; `Null` when empty, `null` or absent.
#[derive(Debug, Default)]
pub(super) struct JsonAnyValue(pub(super) Value);

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum AnyField {
    StringValue,
    BoolValue,
    IntValue,
    DoubleValue,
    ArrayValue,
    KvlistValue,
    BytesValue,
    #[serde(other)]
    Unknown,
}

impl<'de> Deserialize<'de> for JsonAnyValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<JsonAnyValue, D::Error> {
        deserializer.deserialize_any(AnyValueVisitor)
    }
}

struct AnyValueVisitor;

impl<'de> Visitor<'de> for AnyValueVisitor {
    type Value = JsonAnyValue;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an OTLP AnyValue object such as {\"stringValue\": \"text\"}")
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsonAnyValue, E> {
        Ok(JsonAnyValue::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonAnyValue, A::Error> {
        let mut value = Value::Null;
        while let Some(field) = map.next_key::<AnyField>()? {
            let read = match field {
                AnyField::StringValue => map.next_value::<Option<String>>()?.map(Value::String),
                AnyField::BoolValue => map.next_value::<Option<bool>>()?.map(Value::Bool),
                AnyField::IntValue => map
                    .next_value_seed(Integer::<i64>::plain())?
                    .map(int_to_json),
                AnyField::DoubleValue => map.next_value_seed(Double)?.map(float_to_json),
                AnyField::ArrayValue => map.next_value::<Option<JsonArrayValue>>()?.map(|array| {
                    Value::Array(array.values.into_iter().map(|item| item.0).collect())
                }),
                AnyField::KvlistValue => map
                    .next_value::<Option<JsonKvList>>()?
                    .map(|list| Value::Object(list.values.0)),
                AnyField::BytesValue => match map.next_value::<Option<String>>()? {
                    Some(text) => Some(canonical_base64(&text).map_err(de::Error::custom)?),
                    None => None,
                },
                AnyField::Unknown => map.next_value::<IgnoredAny>().map(|_| None)?,
            };
            value = read.unwrap_or(value);
        }
        Ok(JsonAnyValue(value))
    }
}

/// Base64 in either alphabet, rewritten in the standard one with padding.
fn canonical_base64(text: &str) -> Result<Value, String> {
    let bytes = BASE64_STANDARD
        .decode(text)
        .or_else(|_| BASE64_URL_SAFE.decode(text))
        .map_err(|error| format!("bytesValue is not base64: {error}"))?;
    Ok(Value::String(STANDARD.encode(bytes)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonArrayValue {
    #[serde(deserialize_with = "nullable")]
    values: Vec<JsonAnyValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonKvList {
    values: Attributes,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonKeyValue {
    #[serde(deserialize_with = "nullable")]
    key: String,
    value: JsonAnyValue,
}

/// An OTLP attribute list (`[{"key": .., "value": AnyValue}]`) as a JSON object; a repeated
/// key keeps its last value.
#[derive(Debug, Default)]
pub(super) struct Attributes(pub(super) Map<String, Value>);

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Attributes, D::Error> {
        deserializer.deserialize_any(AttributesVisitor)
    }
}

struct AttributesVisitor;

impl<'de> Visitor<'de> for AttributesVisitor {
    type Value = Attributes;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of {\"key\": .., \"value\": ..} objects")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Attributes, E> {
        Ok(Attributes::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Attributes, A::Error> {
        let mut map = Map::new();
        while let Some(JsonKeyValue { key, value }) = seq.next_element()? {
            map.insert(key, value.0);
        }
        Ok(Attributes(map))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn any(json: &str) -> Value {
        serde_json::from_str::<JsonAnyValue>(json)
            .expect("valid AnyValue")
            .0
    }

    #[test]
    fn int_values_are_exact_as_strings_and_numbers() {
        assert_eq!(
            any(r#"{"intValue": "9223372036854775807"}"#),
            json!("9223372036854775807")
        );
        assert_eq!(
            any(r#"{"intValue": 9223372036854775807}"#),
            json!("9223372036854775807")
        );
        assert_eq!(any(r#"{"intValue": "-42"}"#), json!(-42));
        assert_eq!(
            any(r#"{"intValue": 9007199254740993}"#),
            json!("9007199254740993")
        );
        assert!(serde_json::from_str::<JsonAnyValue>(r#"{"intValue": 1.5}"#).is_err());
    }

    #[test]
    fn bytes_values_are_rewritten_as_standard_base64() {
        assert_eq!(any(r#"{"bytesValue": "3q2-7w"}"#), json!("3q2+7w=="));
        assert_eq!(any(r#"{"bytesValue": "3q2+7w=="}"#), json!("3q2+7w=="));
        let error = serde_json::from_str::<JsonAnyValue>(r#"{"bytesValue": "!!"}"#)
            .expect_err("not base64");
        assert!(
            error.to_string().contains("bytesValue is not base64"),
            "{error}"
        );
    }

    #[test]
    fn nested_values_and_specials_become_natural_json() {
        let nested = r#"{"kvlistValue": {"values": [
            {"key": "a", "value": {"arrayValue": {"values": [{"boolValue": true}, {}]}}},
            {"key": "b", "value": {"doubleValue": "NaN"}},
            {"key": "c", "value": {"doubleValue": 2}},
            {"key": "d"}
        ]}}"#;
        assert_eq!(
            any(nested),
            json!({"a": [true, null], "b": "NaN", "c": 2.0, "d": null})
        );
        assert_eq!(
            any(r#"{"futureValue": 1, "stringValue": "kept"}"#),
            json!("kept")
        );
        assert_eq!(any("null"), Value::Null);
    }

    #[test]
    fn fixed64_and_severity_fields_accept_numbers_strings_and_names() {
        #[derive(Deserialize)]
        struct Fields {
            #[serde(deserialize_with = "u64_text")]
            time: u64,
            #[serde(deserialize_with = "severity_number")]
            severity: i32,
        }
        let read = |json: &str| serde_json::from_str::<Fields>(json).map(|f| (f.time, f.severity));
        let max = u64::MAX;
        assert_eq!(
            read(&format!(r#"{{"time": "{max}", "severity": 9}}"#)).expect("ok"),
            (max, 9)
        );
        assert_eq!(
            read(&format!(r#"{{"time": {max}, "severity": "13"}}"#)).expect("ok"),
            (max, 13)
        );
        let by_name = read(r#"{"time": null, "severity": "SEVERITY_NUMBER_ERROR"}"#);
        assert_eq!(by_name.expect("ok"), (0, 17));
        assert!(read(r#"{"time": -1, "severity": 9}"#).is_err());
        assert!(read(r#"{"time": "soon", "severity": 9}"#).is_err());
    }
}
