//! The benchmark's event text: a stamp that survives any hub, and the bodies that carry it.
//!
//! Every published event's message starts with a stamp, `bench run=<hex> seq=<n> sent_ns=<n>`,
//! padded with `x` to the requested size. The stamp is plain ASCII that no JSON encoder escapes,
//! so a subscriber finds it by searching the raw `data:` bytes, whether a hub re-encodes the
//! event (tracetail's event JSON) or forwards the published body untouched (Nchan). The run id
//! keeps events of another run, or of other producers, from counting.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// The service name every benchmark event carries.
pub(crate) const SERVICE: &str = "tracetail-bench";

const STAMP_PREFIX: &[u8] = b"bench run=";

/// What a subscriber needs to know about one received event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The run that published it.
    pub(crate) run: u32,
    /// Its position in the run's publishing order, from 0.
    pub(crate) seq: u64,
    /// Wall-clock time of the publish request, nanoseconds since the Unix epoch.
    pub(crate) sent_ns: u64,
}

/// Wall-clock time now, nanoseconds since the Unix epoch: the clock stamps are read against.
pub(crate) fn now_ns() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX)
}

/// Writes the message text for `stamp`, padded with `x` to at least `size` bytes.
pub(crate) fn write_message(out: &mut String, stamp: Stamp, size: usize) {
    let start = out.len();
    write!(
        out,
        "bench run={:08x} seq={} sent_ns={}",
        stamp.run, stamp.seq, stamp.sent_ns
    )
    .expect("writing to a String cannot fail");
    let written = out.len() - start;
    if written + 1 < size {
        out.push(' ');
        out.extend(std::iter::repeat_n('x', size - written - 1));
    }
}

/// The message text for `stamp`, padded to `size` bytes.
pub(crate) fn message(stamp: Stamp, size: usize) -> String {
    let mut out = String::with_capacity(size.max(64));
    write_message(&mut out, stamp, size);
    out
}

/// Finds the stamp in an event's data, raw text or JSON alike.
pub(crate) fn find_stamp(data: &[u8]) -> Option<Stamp> {
    let at = data
        .windows(STAMP_PREFIX.len())
        .position(|w| w == STAMP_PREFIX)?;
    let rest = &data[at + STAMP_PREFIX.len()..];

    let (run, rest) = take_token(rest, 16)?;
    let rest = rest.strip_prefix(b" seq=")?;
    let (seq, rest) = take_token(rest, 10)?;
    let rest = rest.strip_prefix(b" sent_ns=")?;
    let (sent_ns, _) = take_token(rest, 10)?;
    Some(Stamp {
        run: u32::try_from(run).ok()?,
        seq,
        sent_ns,
    })
}

/// Reads a number in `radix` at the start of `input`, returning it and what follows.
fn take_token(input: &[u8], radix: u32) -> Option<(u64, &[u8])> {
    let len = input
        .iter()
        .take_while(|b| (**b as char).is_digit(radix))
        .count();
    if len == 0 || len > 20 {
        return None;
    }
    let text = std::str::from_utf8(&input[..len]).ok()?;
    Some((u64::from_str_radix(text, radix).ok()?, &input[len..]))
}

/// One event as `POST /v1/events` takes it (and as the body of an Nchan publish).
#[derive(Debug, Serialize)]
struct JsonEvent<'a> {
    message: &'a str,
    service: &'a str,
    level: &'a str,
}

/// One event's JSON object, as published to a hub that forwards bodies untouched.
pub(crate) fn json_event(stamp: Stamp, size: usize) -> Vec<u8> {
    let text = message(stamp, size);
    let event = JsonEvent {
        message: &text,
        service: SERVICE,
        level: "INFO",
    };
    serde_json::to_vec(&event).expect("a struct of strings always serializes")
}

/// `count` events from `first_seq` on as NDJSON, all stamped with the same send time.
pub(crate) fn ndjson_batch(
    run: u32,
    first_seq: u64,
    count: u64,
    sent_ns: u64,
    size: usize,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(count as usize * (size + 64));
    let mut text = String::with_capacity(size.max(64));
    for seq in first_seq..first_seq + count {
        text.clear();
        write_message(&mut text, Stamp { run, seq, sent_ns }, size);
        let event = JsonEvent {
            message: &text,
            service: SERVICE,
            level: "INFO",
        };
        serde_json::to_writer(&mut body, &event).expect("writing to a Vec cannot fail");
        body.push(b'\n');
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAMP: Stamp = Stamp {
        run: 0xbeef,
        seq: 1234,
        sent_ns: 1_733_000_000_123_456_789,
    };

    #[test]
    fn message_round_trips_and_has_the_requested_size() {
        let text = message(STAMP, 200);
        assert_eq!(text.len(), 200);
        assert!(text.starts_with("bench run=0000beef seq=1234 sent_ns=1733000000123456789 xx"));
        assert_eq!(find_stamp(text.as_bytes()), Some(STAMP));
    }

    #[test]
    fn small_sizes_keep_the_whole_stamp() {
        let text = message(STAMP, 1);
        assert_eq!(
            text,
            "bench run=0000beef seq=1234 sent_ns=1733000000123456789"
        );
        assert_eq!(find_stamp(text.as_bytes()), Some(STAMP));
    }

    #[test]
    fn stamp_is_found_inside_hub_event_json() {
        let data = format!(
            concat!(
                r#"{{"id":"c-9","ts":"2026-01-01T00:00:00.000000000Z","level":"INFO","#,
                r#""severity":9,"message":"{}","service":"tracetail-bench"}}"#
            ),
            message(STAMP, 120)
        );
        assert_eq!(find_stamp(data.as_bytes()), Some(STAMP));
    }

    #[test]
    fn nchan_body_is_one_json_object_carrying_the_stamp() {
        let body = json_event(STAMP, 100);
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(value["service"], SERVICE);
        assert_eq!(find_stamp(&body), Some(STAMP));
    }

    #[test]
    fn ndjson_batch_has_one_line_per_seq() {
        let body = ndjson_batch(7, 10, 3, 99, 80);
        let lines: Vec<&[u8]> = body
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let seqs: Vec<u64> = lines
            .iter()
            .map(|l| find_stamp(l).expect("stamp").seq)
            .collect();
        assert_eq!(seqs, vec![10, 11, 12]);
        assert!(
            lines
                .iter()
                .all(|l| serde_json::from_slice::<serde_json::Value>(l).is_ok())
        );
    }

    #[test]
    fn text_without_a_whole_stamp_has_none() {
        assert_eq!(find_stamp(b"{\"message\":\"hello\"}"), None);
        assert_eq!(find_stamp(b"bench run=zz seq=1 sent_ns=2"), None);
        assert_eq!(find_stamp(b"bench run=1 seq=1"), None);
        assert_eq!(
            find_stamp(b"bench run=1 seq=99999999999999999999999 sent_ns=2"),
            None
        );
    }
}
