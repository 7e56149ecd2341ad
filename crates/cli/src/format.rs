//! How `tail` and `query` print events: one human line each, or the event JSON.
//!
//! A human line reads
//!
//! ```text
//! 16:21:10.123 ERROR checkout 4bf92f35 card declined order=1042 user="Ada Lovelace"
//! ```
//!
//! local time with milliseconds (the date goes in front for events not of today), the level
//! (in colour on a terminal), the service, the first 8 hex digits of the trace id (`-` when
//! there is none), the message, then the attributes as `key=value` in key order. A string
//! value is quoted, JSON style, when it is empty or holds whitespace, `"` or `=`; objects and
//! arrays are compact JSON. Control characters in any text are escaped (`\n`, `\u{1b}`), so an
//! event is always exactly one line and log text cannot steer the terminal.
//!
//! A span (on a `--trace` stream) reads the same way, with `SPAN` in place of the level:
//!
//! ```text
//! 16:21:10.100 SPAN  payments 4bf92f35 POST /charge 12.5ms ERROR card declined
//! ```
//!
//! the local time of its start, the service, the short trace id, the span's name, its
//! duration, and `ERROR` with the status message when it failed.
//!
//! With `--json` each event is its event JSON on one line, fields in the order the server
//! writes them, ready for `jq`; a span is `{"span": {...}}`, the span JSON wrapped.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};

use chrono::{DateTime, Local, NaiveDate, TimeZone};
use clap::{Args, ValueEnum};
use serde_json::Value;
use tracetail_client::{Level, LogRecord};

/// Turns off the colour of `--color auto`, when set to anything but the empty string.
const NO_COLOR: &str = "NO_COLOR";
/// Ends any colour.
const RESET: &str = "\x1b[0m";
/// Dims the trace id and attribute keys.
const DIM: &str = "\x1b[2m";

/// When to colour human output (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set or `TERM` is `dumb`.
    Auto,
    /// Always, even into a pipe or a file.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour standard output, reading the environment and stdout.
    pub(crate) fn for_stdout(self) -> bool {
        let no_color = std::env::var_os(NO_COLOR).is_some_and(|value| !value.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
        self.decide(no_color || dumb, io::stdout().is_terminal())
    }

    /// The decision itself: `auto` colours a terminal unless the environment says not to.
    fn decide(self, env_says_no: bool, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && !env_says_no,
        }
    }
}

/// The output flags `tail` and `query` share.
#[derive(Args, Debug, Clone)]
pub(crate) struct OutputArgs {
    /// Print each event as its JSON, one per line, as the server sent it (for jq).
    #[arg(long)]
    json: bool,
    /// Colour the level: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    color: ColorChoice,
}

impl OutputArgs {
    /// A printer to stdout as these flags ask.
    pub(crate) fn printer(&self) -> Printer<io::StdoutLock<'static>> {
        Printer::stdout(self.json, self.color)
    }
}

/// The ANSI colour of a level's name.
fn level_color(level: Level) -> &'static str {
    match level {
        Level::Trace => "\x1b[2m",
        Level::Debug => "\x1b[34m",
        Level::Info => "\x1b[32m",
        Level::Warn => "\x1b[33m",
        Level::Error => "\x1b[31m",
        Level::Fatal => "\x1b[1;35m",
    }
}

/// The human line format, in the time zone `Tz` (the local one outside tests).
#[derive(Debug, Clone)]
pub(crate) struct LineFormat<Tz: TimeZone> {
    /// Whether to write ANSI colours.
    color: bool,
    /// The zone times are shown in.
    zone: Tz,
}

impl LineFormat<Local> {
    /// Local times, coloured or not.
    pub(crate) fn local(color: bool) -> LineFormat<Local> {
        LineFormat { color, zone: Local }
    }
}

impl<Tz: TimeZone> LineFormat<Tz> {
    /// Appends one event's line, without the line feed; `today` decides whether the date shows.
    pub(crate) fn write_line(&self, line: &mut String, record: &LogRecord, today: NaiveDate) {
        self.write_time(line, &record.ts, today);
        line.push(' ');
        let (color, reset) = self.paint(level_color(record.level));
        let _ = write!(line, "{color}{:<5}{reset} ", record.level.as_str());
        push_escaped(line, &record.service);
        let trace = record.trace_id.map(|id| id.to_hex());
        let short = trace.as_deref().map_or("-", |hex| &hex[..8]);
        let (dim, reset) = self.paint(DIM);
        let _ = write!(line, " {dim}{short:<8}{reset} ");
        push_escaped(line, &record.message);
        for (key, value) in &record.attributes {
            line.push(' ');
            line.push_str(dim);
            push_escaped(line, key);
            line.push('=');
            line.push_str(reset);
            push_value(line, value);
        }
    }

    /// Appends one span's line, without the line feed: the local time of its start, a `SPAN`
    /// badge where a log line has its level, the service, the short trace id, the span's name,
    /// its duration, and `ERROR` with the status message when it failed.
    pub(crate) fn write_span_line(&self, line: &mut String, span: &Value, today: NaiveDate) {
        let text = |key: &str| span[key].as_str().unwrap_or_default();
        self.write_time(line, text("start"), today);
        let (dim, reset) = self.paint(DIM);
        let _ = write!(line, " {dim}SPAN {reset} ");
        push_escaped(line, text("service"));
        let trace = text("trace_id");
        let short = trace.get(..8).unwrap_or("-");
        let _ = write!(line, " {dim}{short:<8}{reset} ");
        push_escaped(line, text("name"));
        if let Some(duration_ms) = span["duration_ms"].as_f64() {
            let _ = write!(line, " {duration_ms}ms");
        }
        if span["status"]["code"] == "ERROR" {
            let (red, reset) = self.paint(level_color(Level::Error));
            let _ = write!(line, " {red}ERROR{reset}");
            if let Some(message) = span["status"]["message"].as_str().filter(|m| !m.is_empty()) {
                line.push(' ');
                push_escaped(line, message);
            }
        }
    }

    /// Today's date in this format's zone.
    pub(crate) fn today(&self) -> NaiveDate {
        self.zone
            .from_utc_datetime(&chrono::Utc::now().naive_utc())
            .date_naive()
    }

    /// `HH:MM:SS.mmm`, after `YYYY-MM-DD ` when not of `today`; the text as sent if it is not
    /// RFC 3339.
    fn write_time(&self, line: &mut String, ts: &str, today: NaiveDate) {
        let Ok(parsed) = DateTime::parse_from_rfc3339(ts) else {
            push_escaped(line, ts);
            return;
        };
        let local = parsed.with_timezone(&self.zone).naive_local();
        if local.date() != today {
            let _ = write!(line, "{} ", local.format("%Y-%m-%d"));
        }
        let _ = write!(line, "{}", local.format("%H:%M:%S%.3f"));
    }

    /// The colour code and the reset, or two empty strings without colour.
    fn paint(&self, code: &'static str) -> (&'static str, &'static str) {
        if self.color { (code, RESET) } else { ("", "") }
    }
}

/// Appends an attribute value: a plain or quoted string, or compact JSON.
fn push_value(line: &mut String, value: &Value) {
    match value {
        Value::String(text) if needs_quotes(text) => {
            let quoted = serde_json::to_string(text).expect("a string always serializes");
            push_escaped(line, &quoted);
        }
        Value::String(text) => push_escaped(line, text),
        other => push_escaped(line, &other.to_string()),
    }
}

/// Whether a string value must be quoted to read as one `key=value` pair.
fn needs_quotes(text: &str) -> bool {
    text.is_empty()
        || text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '=')
}

/// Appends `text` with control characters escaped, so it stays on one line and sends the
/// terminal no commands.
fn push_escaped(line: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(line, "\\u{{{:x}}}", u32::from(c));
            }
            c => line.push(c),
        }
    }
}

/// Prints events to a buffered output (stdout outside tests), as human lines or as JSON.
///
/// Nothing reaches the output before [`Printer::flush`] or a full buffer: callers flush when
/// no more events are ready, so a burst costs one write, not one per event.
pub(crate) struct Printer<W: Write> {
    out: io::BufWriter<W>,
    /// The human format; `None` prints JSON.
    human: Option<LineFormat<Local>>,
    /// The line being built, kept to reuse its allocation.
    line: String,
}

impl Printer<io::StdoutLock<'static>> {
    /// A printer to stdout: JSON lines, or human lines coloured as `color` decides.
    pub(crate) fn stdout(json: bool, color: ColorChoice) -> Self {
        let human = (!json).then(|| LineFormat::local(color.for_stdout()));
        Printer::new(io::stdout().lock(), human)
    }
}

impl<W: Write> Printer<W> {
    fn new(out: W, human: Option<LineFormat<Local>>) -> Self {
        Printer {
            out: io::BufWriter::with_capacity(64 * 1024, out),
            human,
            line: String::new(),
        }
    }

    /// Prints one event on a line of its own: a human line made from `record`, or in JSON mode
    /// `raw`, the event JSON exactly as the server sent it.
    pub(crate) fn print(&mut self, record: &LogRecord, raw: &str) -> io::Result<()> {
        match &self.human {
            Some(format) => {
                let today = format.today();
                self.write_human(|format, line| format.write_line(line, record, today))
            }
            None => {
                self.out.write_all(raw.as_bytes())?;
                self.out.write_all(b"\n")
            }
        }
    }

    /// Prints one span of a trace stream: a human span line, or in JSON mode
    /// `{"span": {...}}`, so that a script tells spans from log events.
    pub(crate) fn print_span(&mut self, span: &Value) -> io::Result<()> {
        match &self.human {
            Some(format) => {
                let today = format.today();
                self.write_human(|format, line| format.write_span_line(line, span, today))
            }
            None => {
                serde_json::to_writer(&mut self.out, &serde_json::json!({ "span": span }))?;
                self.out.write_all(b"\n")
            }
        }
    }

    /// Builds one human line with `build` and writes it with its line feed.
    fn write_human(
        &mut self,
        build: impl FnOnce(&LineFormat<Local>, &mut String),
    ) -> io::Result<()> {
        let format = self
            .human
            .as_ref()
            .expect("called only with a human format");
        self.line.clear();
        build(format, &mut self.line);
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())
    }

    /// Writes out everything printed so far.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Whether a write failed because the reader of stdout went away (`tracetail tail | head`),
/// which ends the command quietly with status 0.
pub(crate) fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io_error| io_error.kind() == io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use chrono::FixedOffset;

    use super::*;

    /// The README's example event, as the server writes it.
    const EVENT: &str = concat!(
        r#"{"id":"3fa2c0d1-1842","ts":"2026-12-03T16:21:10.123456789Z","level":"ERROR","#,
        r#""severity":17,"message":"card declined","service":"checkout","#,
        r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","#,
        r#""attributes":{"order":1042},"resource":{"service.name":"checkout"}}"#
    );

    fn record(json: &str) -> LogRecord {
        serde_json::from_str(json).expect("event json")
    }

    /// A line in UTC+2 without colour, as of 2026-12-03.
    fn line(record: &LogRecord, color: bool) -> String {
        let zone = FixedOffset::east_opt(2 * 3600).expect("offset");
        let format = LineFormat { color, zone };
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
        let mut line = String::new();
        format.write_line(&mut line, record, today);
        line
    }

    #[test]
    fn a_line_shows_local_time_in_milliseconds_level_service_short_trace_message_and_attributes() {
        assert_eq!(
            line(&record(EVENT), false),
            "18:21:10.123 ERROR checkout 4bf92f35 card declined order=1042"
        );
    }

    #[test]
    fn an_event_of_another_day_shows_its_date_and_a_missing_trace_shows_a_dash() {
        let event = r#"{"id":"c","ts":"2026-12-02T21:59:59.999999999Z","level":"INFO",
            "message":"m","service":"s"}"#;
        assert_eq!(
            line(&record(event), false),
            "2026-12-02 23:59:59.999 INFO  s -        m"
        );
    }

    #[test]
    fn values_with_spaces_are_quoted_and_nested_json_stays_compact() {
        let event = r#"{"id":"c","ts":"2026-12-03T00:00:00Z","level":"WARN","message":"m",
            "service":"s","attributes":{"user":"Ada Lovelace","empty":"","plain":"x",
            "eq":"a=b","nested":{"k":[1,true,null],"t":"x y"},"ok":false}}"#;
        assert_eq!(
            line(&record(event), false),
            "02:00:00.000 WARN  s -        m empty=\"\" eq=\"a=b\" \
             nested={\"k\":[1,true,null],\"t\":\"x y\"} ok=false plain=x user=\"Ada Lovelace\""
        );
    }

    #[test]
    fn control_characters_are_escaped_so_an_event_stays_one_line() {
        let event = r#"{"id":"c","ts":"2026-12-03T00:00:00Z","level":"INFO",
            "message":"one\ntwo\r\u001b[31mred\tend","service":"s\u0007",
            "attributes":{"k\n":"v\nw"}}"#;
        assert_eq!(
            line(&record(event), false),
            "02:00:00.000 INFO  s\\u{7} -        one\\ntwo\\r\\u{1b}[31mred\\tend \
             k\\n=\"v\\nw\""
        );
    }

    #[test]
    fn colour_codes_appear_only_when_colour_is_on() {
        let coloured = line(&record(EVENT), true);
        assert!(coloured.contains("\x1b[31mERROR\x1b[0m"), "{coloured:?}");
        assert!(coloured.contains("\x1b[2m4bf92f35\x1b[0m"), "{coloured:?}");
        assert!(!line(&record(EVENT), false).contains('\x1b'));
    }

    #[test]
    fn auto_colour_needs_a_terminal_and_no_objection_from_the_environment() {
        assert!(ColorChoice::Auto.decide(false, true));
        assert!(
            !ColorChoice::Auto.decide(true, true),
            "NO_COLOR or TERM=dumb"
        );
        assert!(!ColorChoice::Auto.decide(false, false), "not a terminal");
        assert!(ColorChoice::Always.decide(true, false));
        assert!(!ColorChoice::Never.decide(false, true));
    }

    #[test]
    fn json_output_writes_the_bytes_the_server_sent() {
        let mut printer = Printer::new(Vec::new(), None);
        printer.print(&record(EVENT), EVENT).expect("print");
        let out = printer.out.into_inner().expect("flush");
        assert_eq!(String::from_utf8(out).expect("utf-8"), format!("{EVENT}\n"));
    }

    /// The README's example span.
    fn span() -> Value {
        serde_json::json!({"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": "00f067aa0ba902b7", "name": "POST /charge", "kind": "SERVER",
            "service": "payments", "start": "2026-12-03T16:21:10.100000000Z",
            "end": "2026-12-03T16:21:10.112500000Z", "duration_ms": 12.5,
            "status": {"code": "ERROR", "message": "card declined"}})
    }

    #[test]
    fn a_span_line_shows_its_start_a_badge_service_trace_name_duration_and_failure() {
        let zone = FixedOffset::east_opt(2 * 3600).expect("offset");
        let format = LineFormat { color: false, zone };
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
        let mut line = String::new();
        format.write_span_line(&mut line, &span(), today);
        assert_eq!(
            line,
            "18:21:10.100 SPAN  payments 4bf92f35 POST /charge 12.5ms ERROR card declined"
        );
    }

    #[test]
    fn json_output_wraps_a_span_so_scripts_tell_it_from_a_log_event() {
        let mut printer = Printer::new(Vec::new(), None);
        printer.print_span(&span()).expect("print");
        let out = printer.out.into_inner().expect("flush");
        let printed: Value = serde_json::from_slice(&out).expect("one JSON line");
        assert_eq!(printed, serde_json::json!({ "span": span() }));
    }

    #[test]
    fn a_broken_pipe_is_recognised_under_context() {
        let error = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing to stdout");
        assert!(is_broken_pipe(&error));
        assert!(!is_broken_pipe(&anyhow::anyhow!("refused")));
    }
}
