//! The cases of the W3C trace-context test suite, written from the specification: each row is
//! what a receiver must make of the headers it is sent.

use super::*;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

fn header(version: &str, trace: &str, parent: &str, flags: &str) -> String {
    format!("{version}-{trace}-{parent}-{flags}")
}

#[test]
fn traceparent_table() {
    let valid = |v: &str| header(v, TRACE, PARENT, "01");
    let cases: Vec<(String, Option<&str>)> = vec![
        // Version 00, exactly as written.
        (
            valid("00"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ),
        (header("00", TRACE, PARENT, "00"), Some("flags 00")),
        (
            header("00", TRACE, PARENT, "09"),
            Some("unknown flags kept as read"),
        ),
        // Version 00 allows no trailing data.
        (format!("{}.", valid("00")), None),
        (
            format!("{}-what-the-future-will-not-be-like", valid("00")),
            None,
        ),
        // Higher versions: the first fields count, more may follow after a `-`.
        (valid("cc"), Some("higher version")),
        (
            format!("{}-what-the-future-will-be-like", valid("cc")),
            Some("extra fields"),
        ),
        (
            format!("{}.what-the-future-will-not-be-like", valid("cc")),
            None,
        ),
        (valid("ff"), None),
        // Version field.
        (valid(".0"), None),
        (valid("0."), None),
        (valid("000"), None),
        (valid("0000"), None),
        (valid("0"), None),
        (valid("0A"), None),
        // Trace id.
        (header("00", &"0".repeat(32), PARENT, "01"), None),
        (
            header("00", ".bf92f3577b34da6a3ce929d0e0e4736", PARENT, "01"),
            None,
        ),
        (
            header("00", "4bf92f3577b34da6a3ce929d0e0e473.", PARENT, "01"),
            None,
        ),
        (
            header("00", "4BF92F3577B34DA6A3CE929D0E0E4736", PARENT, "01"),
            None,
        ),
        (header("00", &format!("{TRACE}00"), PARENT, "01"), None),
        (header("00", &TRACE[..31], PARENT, "01"), None),
        // Parent id.
        (header("00", TRACE, &"0".repeat(16), "01"), None),
        (header("00", TRACE, "..f067aa0ba902b7", "01"), None),
        (header("00", TRACE, "00F067AA0BA902B7", "01"), None),
        (header("00", TRACE, &format!("{PARENT}00"), "01"), None),
        (header("00", TRACE, &PARENT[..15], "01"), None),
        // Flags.
        (header("00", TRACE, PARENT, "0."), None),
        (header("00", TRACE, PARENT, ".0"), None),
        (header("00", TRACE, PARENT, "0A"), None),
        (header("00", TRACE, PARENT, "001"), None),
        (header("00", TRACE, PARENT, "0"), None),
        // Fields and separators.
        (format!("00-{TRACE}-{PARENT}"), None),
        (format!("00_{TRACE}_{PARENT}_01"), None),
        (String::new(), None),
        // Optional whitespace around the value.
        (format!(" {}", valid("00")), Some("leading space")),
        (format!("\t{}", valid("00")), Some("leading tab")),
        (format!("{} ", valid("00")), Some("trailing space")),
        (format!("{}\t", valid("00")), Some("trailing tab")),
        (format!(" \t{}\t ", valid("00")), Some("both")),
    ];
    for (text, expected) in cases {
        let parsed = TraceParent::parse(&text);
        assert_eq!(parsed.is_some(), expected.is_some(), "{text:?}");
        if let Some(parent) = parsed {
            assert_eq!(parent.trace_id.to_hex(), TRACE, "{text:?}");
            assert_eq!(parent.parent_id.to_hex(), PARENT, "{text:?}");
        }
    }
}

#[test]
fn higher_versions_are_passed_on_as_version_00_with_the_sampled_bit() {
    let span = SpanId::from_hex("b7ad6b7169203331").expect("valid");
    let future = format!("{}-more", header("cc", TRACE, PARENT, "03"));
    let parent = TraceParent::parse(&future).expect("valid");
    assert!(parent.sampled());
    assert_eq!(
        parent.child_header(span),
        format!("00-{TRACE}-b7ad6b7169203331-01")
    );
    let unsampled = TraceParent::parse(&header("00", TRACE, PARENT, "00")).expect("valid");
    assert!(!unsampled.sampled());
    assert_eq!(
        unsampled.child_header(span),
        format!("00-{TRACE}-b7ad6b7169203331-00")
    );
}

#[test]
fn more_than_one_traceparent_header_is_invalid() {
    let one = header("00", TRACE, PARENT, "01");
    assert!(TraceContext::from_headers([one.as_str()], []).is_some());
    assert!(TraceContext::from_headers([one.as_str(), one.as_str()], []).is_none());
    assert!(TraceContext::from_headers([], ["foo=1"]).is_none());
}

#[test]
fn an_invalid_traceparent_drops_its_tracestate() {
    let bad = header("00", &"0".repeat(32), PARENT, "01");
    assert_eq!(TraceContext::from_headers([bad.as_str()], ["foo=1"]), None);
}

/// What the receiver passes on for the `tracestate` values given; `None` when discarded.
fn passed_on(values: &[&str]) -> Option<String> {
    let parent = header("00", TRACE, PARENT, "01");
    let context = TraceContext::from_headers([parent.as_str()], values.iter().copied())
        .expect("valid traceparent");
    (!context.state.is_empty()).then(|| context.state.to_header())
}

#[test]
fn tracestate_table() {
    let key_256 = "z".repeat(256);
    let key_257 = "z".repeat(257);
    let tenant_key = format!("{}@{}", "t".repeat(241), "v".repeat(14));
    let tenant_242 = format!("{}@{}", "t".repeat(242), "v".repeat(14));
    let vendor_15 = format!("{}@{}", "t".repeat(241), "v".repeat(15));
    let value_256 = format!("foo={}", "v".repeat(256));
    let value_257 = format!("foo={}", "v".repeat(257));
    let members_named = |prefix: &str, count: usize| {
        (0..count)
            .map(|i| format!("{prefix}{i}=v{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let members = |count: usize| members_named("k", count);
    let (members_32, members_33) = (members(32), members(33));
    let all_key_chars = "abcdefghijklmnopqrstuvwxyz0123456789_-*/=1";
    let all_value_chars =
        "foo= !\"#$%&'()*+-./0123456789:;<>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`az{|}~";
    let (key_256_member, key_257_member) = (format!("{key_256}=1"), format!("{key_257}=1"));
    let tenant_member = format!("{tenant_key}=1");
    let (tenant_242_member, vendor_15_member) =
        (format!("{tenant_242}=1"), format!("{vendor_15}=1"));
    let (members_20, other_members_20) = (members(20), members_named("j", 20));

    let cases: Vec<(Vec<&str>, Option<&str>)> = vec![
        (vec![], None),
        (vec![""], None),
        (vec!["foo=1", ""], Some("foo=1")),
        // Several headers are joined in order.
        (vec!["foo=1", "bar=2"], Some("foo=1,bar=2")),
        (vec!["bar=2,foo=1"], Some("bar=2,foo=1")),
        // Empty members are skipped.
        (vec!["foo=1,,bar=2,"], Some("foo=1,bar=2")),
        // Spaces and tabs around commas.
        (
            vec!["foo=1 \t , \t bar=2, \t baz=3"],
            Some("foo=1,bar=2,baz=3"),
        ),
        (
            vec!["foo=1\t \t,\t \tbar=2,\t \tbaz=3"],
            Some("foo=1,bar=2,baz=3"),
        ),
        (vec![" foo=1"], Some("foo=1")),
        (vec!["\tfoo=1"], Some("foo=1")),
        (vec!["foo=1 "], Some("foo=1")),
        (vec!["foo=1\t"], Some("foo=1")),
        // Duplicate keys, within a header or across headers.
        (vec!["foo=1,foo=1"], None),
        (vec!["foo=1,foo=2"], None),
        (vec!["foo=1", "foo=2"], None),
        // Keys.
        (vec![all_key_chars], Some(all_key_chars)),
        (vec!["foo =1"], None),
        (vec!["FOO=1"], None),
        (vec!["foo.bar=1"], None),
        (vec!["1foo=1"], None),
        (vec!["1tenant@vendor=1"], Some("1tenant@vendor=1")),
        (vec!["foo@=1,bar=2"], None),
        (vec!["@foo=1,bar=2"], None),
        (vec!["foo@@bar=1,bar=2"], None),
        (vec!["foo@bar@baz=1,bar=2"], None),
        (vec!["tenant@1vendor=1"], None),
        (vec![&key_256], None),
        (vec!["foo"], None),
        // Key lengths.
        (vec![&key_256_member], Some(&key_256_member)),
        (vec![&key_257_member], None),
        (vec![&tenant_member], Some(&tenant_member)),
        (vec![&tenant_242_member], None),
        (vec![&vendor_15_member], None),
        // Member count.
        (vec![&members_32], Some(&members_32)),
        (vec![&members_33], None),
        (vec![&members_20, &other_members_20], None),
        // Values.
        (vec![all_value_chars], Some(all_value_chars)),
        (vec!["foo=bar=baz"], None),
        (vec!["foo=,bar=3"], None),
        (vec!["foo=a\u{7f}"], None),
        (vec!["foo=é"], None),
        (vec![&value_256], Some(&value_256)),
        (vec![&value_257], None),
    ];
    for (values, expected) in cases {
        assert_eq!(passed_on(&values).as_deref(), expected, "{values:?}");
    }
}

#[test]
fn a_tracestate_over_512_characters_loses_large_entries_first_then_from_the_end() {
    // 9 entries of 52 characters: 476 with commas; one large entry makes it too long.
    let small: Vec<String> = (0..9).map(|i| format!("k{i}={}", "v".repeat(49))).collect();
    let large = format!("big={}", "x".repeat(200));
    let mut values: Vec<&str> = small.iter().map(String::as_str).collect();
    values.insert(3, &large);
    let header = passed_on(&values).expect("valid");
    assert_eq!(
        header,
        small.join(","),
        "the large entry goes, nothing else"
    );

    // Only small entries: the last ones go until it fits, never a partial entry.
    let many: Vec<String> = (0..12)
        .map(|i| format!("k{i:02}={}", "v".repeat(45)))
        .collect();
    let values: Vec<&str> = many.iter().map(String::as_str).collect();
    let header = passed_on(&values).expect("valid");
    assert!(header.len() <= MAX_TRACESTATE_LEN, "{}", header.len());
    assert_eq!(header, many[..10].join(","));
}
