//! JSON numbers that survive JavaScript.
//!
//! JavaScript reads every JSON number as a double, which holds integers exactly only up to
//! 2^53−1. The wire contract keeps integers as numbers inside that range and writes larger ones
//! as decimal strings, so a browser never shows a silently rounded id or counter.

use serde_json::{Number, Value};

/// The largest integer a JavaScript number holds exactly (2^53−1).
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// A signed integer as JSON: a number when JavaScript holds it exactly, else a decimal string.
pub fn int_to_json(number: i64) -> Value {
    if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&number) {
        Value::Number(number.into())
    } else {
        Value::String(number.to_string())
    }
}

/// An unsigned integer as JSON, by the same rule as [`int_to_json`].
pub fn uint_to_json(number: u64) -> Value {
    if number <= MAX_SAFE_INTEGER as u64 {
        Value::Number(number.into())
    } else {
        Value::String(number.to_string())
    }
}

/// A float as JSON; NaN and infinities, which JSON cannot hold, become strings.
pub fn float_to_json(number: f64) -> Value {
    match Number::from_f64(number) {
        Some(json_number) => Value::Number(json_number),
        None if number.is_nan() => Value::String("NaN".into()),
        None if number > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// Rewrites, in place and at any depth, every integer outside ±(2^53−1) as a decimal string.
pub fn make_integers_safe(value: &mut Value) {
    match value {
        Value::Number(number) => {
            if let Some(signed) = number.as_i64() {
                *value = int_to_json(signed);
            } else if let Some(unsigned) = number.as_u64() {
                *value = uint_to_json(unsigned);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(make_integers_safe),
        Value::Object(map) => map.values_mut().for_each(make_integers_safe),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_past_two_to_the_53_become_strings() {
        assert_eq!(
            int_to_json(MAX_SAFE_INTEGER),
            json!(9_007_199_254_740_991_i64)
        );
        assert_eq!(int_to_json(MAX_SAFE_INTEGER + 1), json!("9007199254740992"));
        assert_eq!(
            int_to_json(-MAX_SAFE_INTEGER - 1),
            json!("-9007199254740992")
        );
        assert_eq!(uint_to_json(u64::MAX), json!("18446744073709551615"));
    }

    #[test]
    fn nested_values_are_made_safe() {
        let mut value = json!({"a": [1, 9_223_372_036_854_775_807_i64], "b": {"c": 1.5}});
        make_integers_safe(&mut value);
        assert_eq!(
            value,
            json!({"a": [1, "9223372036854775807"], "b": {"c": 1.5}})
        );
    }

    #[test]
    fn non_finite_floats_become_strings() {
        assert_eq!(float_to_json(f64::NAN), json!("NaN"));
        assert_eq!(float_to_json(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(float_to_json(0.25), json!(0.25));
    }
}
