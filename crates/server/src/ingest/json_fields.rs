//! The two `/v1/events` fields whose values need reading, not just finding: the time and
//! the level. [`super::json_record`] documents the rules.

use serde_json::Value;
use tracetail_model::Level;

use super::json_record::RecordError;

/// The text of a value for an error message, cut short.
fn quote(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// A time in nanoseconds since the Unix epoch.
pub(super) fn parse_time(field: &'static str, value: &Value) -> Result<u64, RecordError> {
    let bad_time = || RecordError::BadTime {
        field,
        value: quote(value),
    };
    let nanos = match value {
        Value::String(text) => match chrono::DateTime::parse_from_rfc3339(text.trim()) {
            Ok(time) => time
                .timestamp_nanos_opt()
                .and_then(|nanos| u64::try_from(nanos).ok()),
            Err(_) => unix_text_to_nanos(text.trim()),
        },
        Value::Number(number) => match number.as_u64() {
            Some(integer) => unix_int_to_nanos(integer),
            None => number.as_f64().and_then(unix_float_to_nanos),
        },
        _ => None,
    };
    nanos.ok_or_else(bad_time)
}

/// How many nanoseconds one unit of a Unix time of this size is.
fn unit_nanos(magnitude: f64) -> u64 {
    match magnitude {
        m if m < 1e11 => 1_000_000_000,
        m if m < 1e14 => 1_000_000,
        m if m < 1e17 => 1_000,
        _ => 1,
    }
}

/// A numeric string: integers exactly, else as a float.
fn unix_text_to_nanos(text: &str) -> Option<u64> {
    match text.parse::<u64>() {
        Ok(integer) => unix_int_to_nanos(integer),
        Err(_) => text.parse::<f64>().ok().and_then(unix_float_to_nanos),
    }
}

fn unix_int_to_nanos(time: u64) -> Option<u64> {
    time.checked_mul(unit_nanos(time as f64))
}

/// A fractional Unix time; the whole and fractional parts are scaled apart, so that
/// `1700000000.25` seconds stays exact to the nanosecond as far as the float holds it.
fn unix_float_to_nanos(time: f64) -> Option<u64> {
    if !time.is_finite() || time < 0.0 || time >= u64::MAX as f64 {
        return None;
    }
    let unit = unit_nanos(time);
    let whole = (time.trunc() as u64).checked_mul(unit)?;
    let fraction = (time.fract() * unit as f64).round() as u64;
    whole.checked_add(fraction)
}

/// A level and OTLP severity number (0 when none was given).
pub(super) fn parse_level(field: &'static str, value: &Value) -> Result<(Level, i32), RecordError> {
    let bad_level = || RecordError::BadLevel {
        field,
        value: quote(value),
    };
    let number = match value {
        Value::String(text) => match Level::from_name(text) {
            Some(level) => return Ok((level, 0)),
            None => text.trim().parse::<i64>().ok(),
        },
        Value::Number(number) => number.as_i64(),
        _ => None,
    };
    let number = number.ok_or_else(bad_level)?;

    let pino_scale = field != "severity" && number % 10 == 0 && (10..=60).contains(&number);
    if pino_scale {
        let level = Level::from_severity(number / 10 * 4 - 3).expect("10..=60 maps into 1..=21");
        return Ok((level, 0));
    }
    let level = Level::from_severity(number).ok_or_else(bad_level)?;
    Ok((
        level,
        i32::try_from(number).expect("severity numbers are 1..=24"),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn time(value: Value) -> Result<u64, RecordError> {
        parse_time("ts", &value)
    }

    #[test]
    fn rfc3339_times_are_read_with_any_offset() {
        let utc = time(json!("2023-11-14T22:13:20.123456789Z")).expect("valid");
        assert_eq!(utc, 1_700_000_000_123_456_789);
        let offset = time(json!("2023-11-15T00:13:20.123456789+02:00")).expect("valid");
        assert_eq!(offset, utc);
    }

    #[test]
    fn unix_times_are_read_in_the_unit_their_size_tells() {
        let cases = [
            (json!(1_700_000_000), 1_700_000_000_000_000_000),
            (json!(1_700_000_000.5), 1_700_000_000_500_000_000),
            (json!(1_700_000_000_123_u64), 1_700_000_000_123_000_000),
            (json!(1_700_000_000_123_456_u64), 1_700_000_000_123_456_000),
            (
                json!(1_700_000_000_123_456_789_u64),
                1_700_000_000_123_456_789,
            ),
            (json!("1700000000123"), 1_700_000_000_123_000_000),
            (json!("1700000000123456789"), 1_700_000_000_123_456_789),
            (json!(0), 0),
        ];
        for (value, nanos) in cases {
            assert_eq!(time(value.clone()).expect("valid"), nanos, "{value}");
        }
    }

    #[test]
    fn bad_times_name_the_field_and_value() {
        for value in [
            json!("yesterday"),
            json!(-5),
            json!(true),
            json!("1969-12-31T23:59:59Z"),
        ] {
            assert!(time(value.clone()).is_err(), "{value}");
        }
        let error = parse_time("@timestamp", &json!("soon")).expect_err("not a time");
        assert_eq!(
            error.to_string(),
            "@timestamp \"soon\" is not an RFC 3339 time or a Unix time after 1970"
        );
    }

    #[test]
    fn level_names_are_read_in_any_case_with_no_severity_number() {
        assert_eq!(
            parse_level("level", &json!("WARNING")).expect("name"),
            (Level::Warn, 0)
        );
        assert_eq!(
            parse_level("lvl", &json!("err")).expect("name"),
            (Level::Error, 0)
        );
        assert_eq!(
            parse_level("severity", &json!("Debug")).expect("name"),
            (Level::Debug, 0)
        );
    }

    #[test]
    fn pino_levels_are_read_under_level_and_otlp_numbers_otherwise() {
        let pino = [
            (10, Level::Trace),
            (20, Level::Debug),
            (30, Level::Info),
            (40, Level::Warn),
        ];
        for (number, level) in pino
            .into_iter()
            .chain([(50, Level::Error), (60, Level::Fatal)])
        {
            assert_eq!(
                parse_level("level", &json!(number)).expect("pino"),
                (level, 0)
            );
        }
        assert_eq!(
            parse_level("level", &json!("30")).expect("pino"),
            (Level::Info, 0)
        );
        assert_eq!(
            parse_level("level", &json!(17)).expect("otlp"),
            (Level::Error, 17)
        );
        assert_eq!(
            parse_level("severity", &json!(10)).expect("otlp"),
            (Level::Info, 10)
        );
        assert_eq!(
            parse_level("severity", &json!(24)).expect("otlp"),
            (Level::Fatal, 24)
        );
    }

    #[test]
    fn bad_levels_are_refused_with_the_rules_in_the_message() {
        for value in [json!(70), json!(0), json!(2.5), json!("loud"), json!([1])] {
            assert!(parse_level("level", &value).is_err(), "{value}");
        }
        let error = parse_level("level", &json!(70)).expect_err("neither scale");
        assert_eq!(
            error.to_string(),
            "level 70 is not a level name, an OTLP severity number (1-24) \
             or a pino level (10, 20, .. 60)"
        );
        let long = json!("x".repeat(200));
        let error = parse_level("level", &long)
            .expect_err("not a level")
            .to_string();
        assert!(error.len() < 200 && error.contains('…'), "{error}");
    }
}
