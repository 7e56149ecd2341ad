//! W3C Trace Context: the `traceparent` and `tracestate` headers, read as the specification
//! asks of a receiver and written back in the one version tracetail speaks, `00`.
//!
//! ```
//! use tracetail_model::trace_context::TraceContext;
//!
//! let context = TraceContext::from_headers(
//!     ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
//!     ["congo=t61rcWkgMzE, rojo=00f067aa0ba902b7"],
//! )
//! .expect("a valid traceparent");
//! assert!(context.parent.sampled());
//! assert_eq!(context.state.to_header(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
//! ```
//!
//! The rules, in the order they are applied:
//!
//! - `traceparent` must come in exactly one header. Version `00` is read strictly:
//!   `00-<32 hex>-<16 hex>-<2 hex>`, lower case, exactly four fields, neither id all zeros.
//!   A higher version is read by its first three fields and its flags (it may carry more
//!   fields after a `-`) and written back as `00`; version `ff` is invalid. An invalid
//!   `traceparent` is treated as absent, and its `tracestate` is dropped with it.
//! - `tracestate` headers are joined in order with `,`. Members are `key=value` with spaces
//!   or tabs allowed around the commas; empty members are skipped; at most 32 members; keys
//!   and values follow the grammar of the specification and no key repeats. One bad member
//!   discards the whole `tracestate`.
//! - Written back, a `tracestate` longer than 512 characters loses whole entries: first those
//!   over 128 characters, from the end, then others from the end, until it fits.

use std::fmt;

use crate::ids::{SpanId, TraceId};

/// Most members a `tracestate` may have.
pub const MAX_TRACESTATE_MEMBERS: usize = 32;
/// Longest `tracestate` tracetail passes on; longer ones lose whole entries.
pub const MAX_TRACESTATE_LEN: usize = 512;
/// Entries longer than this are the first to go when a `tracestate` is too long.
const LARGE_ENTRY_LEN: usize = 128;
/// The length of a version-00 `traceparent`.
const TRACEPARENT_LEN: usize = 55;

/// The `sampled` bit of the trace flags.
const SAMPLED: u8 = 0x01;

/// A valid `traceparent`: the caller's trace, its span, and its trace flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace the request belongs to.
    pub trace_id: TraceId,
    /// The caller's span: the parent of whatever the receiver does.
    pub parent_id: SpanId,
    /// The trace flags as received; only `sampled` (bit 0) is defined for version `00`.
    pub flags: u8,
}

impl TraceParent {
    /// Reads one `traceparent` header value; `None` when it is invalid. Surrounding spaces and
    /// tabs (HTTP's optional whitespace) are ignored.
    pub fn parse(text: &str) -> Option<TraceParent> {
        let text = text.trim_matches([' ', '\t']);
        let version = text.get(..2)?;
        if !is_lower_hex(version) || version == "ff" {
            return None;
        }
        if version == "00" && text.len() != TRACEPARENT_LEN {
            return None;
        }
        // A future version may append fields, each after a `-`.
        if text.len() < TRACEPARENT_LEN
            || (text.len() > TRACEPARENT_LEN && text.as_bytes()[TRACEPARENT_LEN] != b'-')
        {
            return None;
        }
        let fields = &text[..TRACEPARENT_LEN];
        let dashes = [2, 35, 52];
        if dashes.iter().any(|&at| fields.as_bytes()[at] != b'-') {
            return None;
        }
        let (trace, parent, flags) = (&fields[3..35], &fields[36..52], &fields[53..55]);
        if !(is_lower_hex(trace) && is_lower_hex(parent) && is_lower_hex(flags)) {
            return None;
        }
        Some(TraceParent {
            trace_id: TraceId::from_hex(trace).ok()?,
            parent_id: SpanId::from_hex(parent).ok()?,
            flags: u8::from_str_radix(flags, 16).ok()?,
        })
    }

    /// Whether the caller recorded its span (bit 0 of the flags).
    pub fn sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }

    /// The version-00 header for `span_id` in this trace, keeping the `sampled` bit (version
    /// 00 defines no other flag, so others are not passed on).
    pub fn child_header(&self, span_id: SpanId) -> String {
        format_traceparent(self.trace_id, span_id, self.sampled())
    }
}

/// The version-00 `traceparent` of a span.
pub fn format_traceparent(trace_id: TraceId, span_id: SpanId, sampled: bool) -> String {
    let flags = if sampled { SAMPLED } else { 0 };
    format!("00-{trace_id}-{span_id}-{flags:02x}")
}

/// The header as tracetail passes it on: version `00`, the same ids, the `sampled` bit.
impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.child_header(self.parent_id))
    }
}

/// A valid `tracestate`: its members in order, as `(key, value)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceState {
    entries: Vec<(String, String)>,
}

impl TraceState {
    /// Reads the `tracestate` header values, joined in order; `None` when any member is
    /// invalid, a key repeats or there are more than 32 members.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<TraceState> {
        let mut entries: Vec<(String, String)> = Vec::new();
        for value in values {
            for member in value.split(',') {
                let member = member.trim_matches([' ', '\t']);
                if member.is_empty() {
                    continue;
                }
                let (key, value) = member.split_once('=')?;
                if !is_key(key) || !is_value(value) || entries.iter().any(|(k, _)| k == key) {
                    return None;
                }
                entries.push((key.to_string(), value.to_string()));
            }
        }
        if entries.len() > MAX_TRACESTATE_MEMBERS {
            return None;
        }
        Some(TraceState { entries })
    }

    /// The members, in order.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The header to pass on: members joined with `,`, cut to at most 512 characters by
    /// dropping whole entries (those over 128 characters first, from the end).
    pub fn to_header(&self) -> String {
        let mut entries: Vec<String> = self
            .entries
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        let joined_len = |entries: &[String]| {
            entries.iter().map(String::len).sum::<usize>() + entries.len().saturating_sub(1)
        };
        while joined_len(&entries) > MAX_TRACESTATE_LEN {
            let victim = entries
                .iter()
                .rposition(|entry| entry.len() > LARGE_ENTRY_LEN)
                .unwrap_or(entries.len() - 1);
            entries.remove(victim);
        }
        entries.join(",")
    }
}

/// The trace context of a request: a valid `traceparent` and the `tracestate` that came with it
/// (empty when there was none or it was invalid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The caller's `traceparent`.
    pub parent: TraceParent,
    /// The caller's `tracestate`.
    pub state: TraceState,
}

impl TraceContext {
    /// Reads every `traceparent` and `tracestate` header value of a request, in order. `None`
    /// when there is no valid `traceparent` (more than one header counts as invalid).
    pub fn from_headers<'a, 'b>(
        traceparents: impl IntoIterator<Item = &'a str>,
        tracestates: impl IntoIterator<Item = &'b str>,
    ) -> Option<TraceContext> {
        let mut traceparents = traceparents.into_iter();
        let parent = TraceParent::parse(traceparents.next()?)?;
        if traceparents.next().is_some() {
            return None;
        }
        let state = TraceState::parse(tracestates).unwrap_or_default();
        Some(TraceContext { parent, state })
    }
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `simple-key` (up to 256 characters) or `tenant@system` (up to 241 and 14).
fn is_key(key: &str) -> bool {
    let tail_char = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/');
    let well_formed = |part: &str, max: usize, first: fn(u8) -> bool| {
        let bytes = part.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= max
            && first(bytes[0])
            && bytes[1..].iter().all(|&b| tail_char(b))
    };
    match key.split_once('@') {
        None => well_formed(key, 256, |b| b.is_ascii_lowercase()),
        Some((tenant, system)) => {
            well_formed(tenant, 241, |b| {
                b.is_ascii_lowercase() || b.is_ascii_digit()
            }) && well_formed(system, 14, |b| b.is_ascii_lowercase())
        }
    }
}

/// Up to 256 printable ASCII characters other than `,` and `=`, not ending in a space.
fn is_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 256
        && bytes
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
        && bytes.last() != Some(&b' ')
}

#[cfg(test)]
mod tests;
