//! The SSE parser against the WHATWG "event stream interpretation" rules, one table row per
//! rule. Each row is also fed split at every byte offset (two and three chunks, empty chunks
//! included) and one byte at a time, and must give the same events, cursor and retry.

use std::time::Duration;

use tracetail_client::parser::{EventTooLarge, LINE_SLACK, Parser, SseEvent};

type Parsed = Result<SseEvent, EventTooLarge>;

/// The limit of rows that do not test the limit.
const LARGE: usize = 1 << 20;
/// The limit of rows that do.
const SMALL: usize = 8;

struct Case {
    name: &'static str,
    input: Vec<u8>,
    limit: usize,
    expect: Vec<Parsed>,
    /// The resume cursor after the whole input.
    cursor: &'static str,
    /// The reconnection time after the whole input, in milliseconds.
    retry: Option<u64>,
}

/// What a parser made of one way of feeding the input.
#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Parsed>,
    cursor: String,
    retry: Option<Duration>,
}

fn event(event_type: &str, data: &str, id: &str) -> Parsed {
    Ok(SseEvent {
        event_type: event_type.into(),
        data: data.into(),
        last_event_id: id.into(),
    })
}

fn message(data: &str) -> Parsed {
    event("message", data, "")
}

fn too_large(event_type: &str, id: &str) -> Parsed {
    Err(EventTooLarge {
        limit: SMALL,
        event_type: event_type.into(),
        last_event_id: id.into(),
    })
}

fn case(name: &'static str, input: impl AsRef<[u8]>, expect: Vec<Parsed>) -> Case {
    Case {
        name,
        input: input.as_ref().to_vec(),
        limit: LARGE,
        expect,
        cursor: "",
        retry: None,
    }
}

impl Case {
    fn cursor(mut self, cursor: &'static str) -> Case {
        self.cursor = cursor;
        self
    }

    fn retry(mut self, millis: u64) -> Case {
        self.retry = Some(millis);
        self
    }

    fn small(mut self) -> Case {
        self.limit = SMALL;
        self
    }

    fn expected(&self) -> Outcome {
        Outcome {
            events: self.expect.clone(),
            cursor: self.cursor.into(),
            retry: self.retry.map(Duration::from_millis),
        }
    }

    /// Feeds the chunks, taking events after each one, then ends the stream.
    fn run(&self, chunks: &[&[u8]]) -> Outcome {
        let mut parser = Parser::new(self.limit);
        let mut events = Vec::new();
        for chunk in chunks {
            parser.feed(chunk);
            events.extend(std::iter::from_fn(|| parser.next_event()));
        }
        parser.finish();
        events.extend(std::iter::from_fn(|| parser.next_event()));
        Outcome {
            events,
            cursor: parser.last_event_id().into(),
            retry: parser.reconnection_time(),
        }
    }
}

fn cases() -> Vec<Case> {
    let long = "x".repeat(SMALL + LINE_SLACK + 1);
    vec![
        // Line ends.
        case("lf ends lines", "data: a\n\n", vec![message("a")]),
        case("crlf ends lines", "data: a\r\n\r\n", vec![message("a")]),
        case("cr ends lines", "data: a\r\r", vec![message("a")]),
        case(
            "line ends may mix",
            "event: x\rdata: a\r\ndata: b\n\r\n",
            vec![event("x", "a\nb", "")],
        ),
        case(
            "crlf is one line end not two",
            "data: a\r\ndata: b\r\n\r\n",
            vec![message("a\nb")],
        ),
        case(
            "cr cr is two line ends",
            "data: a\r\rdata: b\r\r",
            vec![message("a"), message("b")],
        ),
        case(
            "lf cr is two line ends",
            "data: a\n\rdata: b\n\n",
            vec![message("a"), message("b")],
        ),
        // The byte order mark.
        case(
            "a bom at the start is dropped",
            b"\xEF\xBB\xBFdata: a\n\n",
            vec![message("a")],
        ),
        case(
            "only the first of two boms is dropped",
            b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n",
            vec![message("b")],
        ),
        case(
            "a bom after the start is text",
            b"data: a\n\n\xEF\xBB\xBFdata: b\n\n",
            vec![message("a")],
        ),
        case(
            "half a bom at the start is text",
            b"\xEF\xBBdata: a\n\ndata: b\n\n",
            vec![message("b")],
        ),
        // Fields.
        case(
            "comments are ignored",
            ": hello\ndata: a\n: more\n\n:\n\n",
            vec![message("a")],
        ),
        case(
            "a stream of comments has no events",
            ": ping\n\n: ping\n\n",
            vec![],
        ),
        case(
            "a field without colon has an empty value",
            "data\n\ndata\ndata\n\n",
            vec![message(""), message("\n")],
        ),
        case(
            "only one space after the colon is removed",
            "data:  two\ndata:none\n\n",
            vec![message(" two\nnone")],
        ),
        case(
            "a colon in the value is kept",
            "data: a: b\n\n",
            vec![message("a: b")],
        ),
        case(
            "field names are case sensitive",
            "Data: a\nDATA: b\nEvent: x\n\n",
            vec![],
        ),
        case(
            "unknown fields are ignored",
            "foo: bar\ndata: a\nfoo\n\n",
            vec![message("a")],
        ),
        case(
            "data lines are joined with lf",
            "data: a\ndata:\ndata: c\n\n",
            vec![message("a\n\nc")],
        ),
        case(
            "only the last lf of the data is removed",
            "data: a\ndata:\n\n",
            vec![message("a\n")],
        ),
        case(
            "nul in data is kept",
            "data: a\0b\n\n",
            vec![message("a\0b")],
        ),
        // Event types.
        case(
            "an empty event type means message",
            "event\ndata: a\n\n",
            vec![message("a")],
        ),
        case(
            "the event type applies to one event",
            "event: log\ndata: a\n\ndata: b\n\n",
            vec![event("log", "a", ""), message("b")],
        ),
        case(
            "an event without data is not dispatched and its type is reset",
            "event: log\n\ndata: b\n\n",
            vec![message("b")],
        ),
        // Ids and the resume cursor.
        case(
            "the id persists for later events",
            "id: 1\ndata: a\n\ndata: b\n\n",
            vec![event("message", "a", "1"), event("message", "b", "1")],
        )
        .cursor("1"),
        case(
            "an id containing nul is ignored",
            "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
            vec![event("message", "a", "1"), event("message", "b", "1")],
        )
        .cursor("1"),
        case(
            "an id without data moves the cursor and the next event",
            "id: 1\ndata: a\n\nid: 2\n\ndata: b\n\n",
            vec![event("message", "a", "1"), event("message", "b", "2")],
        )
        .cursor("2"),
        case(
            "the id of an event cut off by the end of the stream is not the cursor",
            "id: 1\ndata: a\n\nid: 2\ndata: b\n",
            vec![event("message", "a", "1")],
        )
        .cursor("1"),
        case(
            "a last line without line end is discarded",
            "id: 1\ndata: a\n\nid: 2\ndata: b",
            vec![event("message", "a", "1")],
        )
        .cursor("1"),
        case(
            "an empty id resets the cursor",
            "id: 1\ndata: a\n\nid\ndata: b\n\n",
            vec![event("message", "a", "1"), message("b")],
        ),
        case(
            "an id with colon and no value resets the cursor",
            "id: 1\ndata: a\n\nid:\n\n",
            vec![event("message", "a", "1")],
        ),
        // Retry.
        case(
            "retry sets the reconnection time",
            "retry: 2500\n\n",
            vec![],
        )
        .retry(2500),
        case(
            "retry that is not all digits is ignored",
            "retry: 100\nretry: 25x\nretry: -1\nretry:\nretry:  7\nretry: 1.5\nretry\n\n",
            vec![],
        )
        .retry(100),
        case(
            "retry with more digits than fit is ignored",
            "retry: 100\nretry: 99999999999999999999999\n\n",
            vec![],
        )
        .retry(100),
        case("the latest retry wins", "retry: 100\nretry: 200\n", vec![]).retry(200),
        // Decoding.
        case(
            "multi byte characters arrive intact",
            "data: żółw 🐢 日本\n\n",
            vec![message("żółw 🐢 日本")],
        ),
        case(
            "invalid utf-8 becomes replacement characters",
            b"data: a\xFFb\ndata: \xF0\x9F\x90\n\n",
            vec![message("a\u{FFFD}b\n\u{FFFD}")],
        ),
        // The size limit.
        case(
            "data of exactly the limit is dispatched",
            "data: 0123\ndata: 456\n\ndata: 01234567\n\n",
            vec![message("0123\n456"), message("01234567")],
        )
        .small(),
        case(
            "data over the limit is reported and skipped",
            "data: 0123\ndata: 45678\n\ndata: ok\n\n",
            vec![too_large("message", ""), message("ok")],
        )
        .small(),
        case(
            "a line over the line limit is reported and its id still counts",
            format!("id: big\nevent: log\ndata: {long}\n\nid: next\ndata: ok\n\n"),
            vec![too_large("log", "big"), event("message", "ok", "next")],
        )
        .small()
        .cursor("next"),
        case(
            "an over long event type poisons its event",
            format!("event: {long}\ndata: a\n\n"),
            vec![too_large("message", "")],
        )
        .small(),
        case(
            "an over long comment is only skipped",
            format!(":{long}\ndata: ok\n\n"),
            vec![message("ok")],
        )
        .small(),
        // A whole tracetail stream opening.
        case(
            "a tracetail opening parses",
            "retry: 3000\n\nevent: open\ndata: {\"a\":1}\n\nid: c-1\nevent: log\ndata: {}\n\n",
            vec![event("open", "{\"a\":1}", ""), event("log", "{}", "c-1")],
        )
        .cursor("c-1")
        .retry(3000),
    ]
}

#[test]
fn each_rule_gives_the_expected_events_cursor_and_retry() {
    for case in cases() {
        assert_eq!(case.run(&[&case.input]), case.expected(), "{}", case.name);
    }
}

#[test]
fn a_split_at_every_byte_offset_gives_the_same_result() {
    for case in cases() {
        let input = &case.input[..];
        for at in 0..=input.len() {
            let (first, second) = input.split_at(at);
            let outcome = case.run(&[first, second]);
            assert_eq!(outcome, case.expected(), "{} split at {at}", case.name);
        }
    }
}

#[test]
fn every_three_way_split_gives_the_same_result() {
    for case in cases() {
        let input = &case.input[..];
        for first in 0..=input.len() {
            for second in first..=input.len() {
                let chunks = [&input[..first], &input[first..second], &input[second..]];
                let outcome = case.run(&chunks);
                assert_eq!(
                    outcome,
                    case.expected(),
                    "{} at {first}/{second}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn one_byte_at_a_time_gives_the_same_result() {
    for case in cases() {
        let bytes: Vec<&[u8]> = case.input.chunks(1).collect();
        assert_eq!(case.run(&bytes), case.expected(), "{}", case.name);
    }
}
