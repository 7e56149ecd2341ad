//! Reading an ingest body whole, within `--max-body` measured *after* decompression.
//!
//! The body arrives in two steps. [`read`] collects the bytes off the connection, async and cheap,
//! refusing early when `Content-Length` or the bytes received pass the raw limit. Then
//! [`RawBody::into_plain`], which may run on the blocking pool, inflates gzip incrementally:
//! the decompressed bytes are counted while inflating, so a small gzip bomb is refused after at
//! most `--max-body` bytes of output, never inflated whole.
//!
//! Accepted `Content-Encoding`s: absent or `identity`, and `gzip` (also `x-gzip`). Anything
//! else answers 415 naming the encoding.

use std::io::Read;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use bytes::Bytes;
use flate2::read::MultiGzDecoder;
use futures_util::StreamExt;

use super::error::IngestError;

/// Bodies at most this large are decoded on the async worker; larger ones, and every gzip
/// body, go to the blocking pool.
const INLINE_DECODE_LIMIT: usize = 64 * 1024;

/// How much output the inflater produces per read.
const INFLATE_CHUNK: usize = 32 * 1024;

/// How a body is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentEncoding {
    /// Not compressed.
    Identity,
    /// gzip, one member or several concatenated.
    Gzip,
}

impl ContentEncoding {
    /// Reads `Content-Encoding`; a missing header means identity.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<ContentEncoding, IngestError> {
        let Some(value) = headers.get(CONTENT_ENCODING) else {
            return Ok(ContentEncoding::Identity);
        };
        let text = value
            .to_str()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match text.as_str() {
            "" | "identity" => Ok(ContentEncoding::Identity),
            "gzip" | "x-gzip" => Ok(ContentEncoding::Gzip),
            _ => Err(IngestError::UnsupportedEncoding {
                encoding: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            }),
        }
    }

    /// The most compressed bytes worth reading: deflate expands incompressible data by well
    /// under 0.1%, so a gzip body larger than this cannot fit `max_body` once inflated.
    fn raw_limit(self, max_body: usize) -> usize {
        match self {
            ContentEncoding::Identity => max_body,
            ContentEncoding::Gzip => max_body.saturating_add(max_body / 1024 + 1024),
        }
    }
}

/// The `Content-Type` media type in lower case, without parameters; `None` when missing or
/// empty.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?;
    let text = String::from_utf8_lossy(value.as_bytes());
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

/// A body as received, still compressed.
#[derive(Debug)]
pub(crate) struct RawBody {
    bytes: Bytes,
    encoding: ContentEncoding,
}

/// Collects the body off the connection, refusing it once it passes the raw limit.
pub(crate) async fn read(
    headers: &HeaderMap,
    body: Body,
    max_body: usize,
) -> Result<RawBody, IngestError> {
    let encoding = ContentEncoding::from_headers(headers)?;
    let limit = encoding.raw_limit(max_body);

    // A declared length past the limit is refused before reading a byte.
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(IngestError::TooLarge { limit: max_body });
    }

    // The declared length, now known to be within the limit, sizes the buffer once.
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(IngestError::Read)?;
        push_capped(&mut bytes, &chunk, limit, max_body)?;
    }
    let bytes = Bytes::from(bytes);
    Ok(RawBody { bytes, encoding })
}

impl RawBody {
    /// A body already in memory, as if just read.
    #[cfg(test)]
    pub(crate) fn new(bytes: impl Into<Bytes>, encoding: ContentEncoding) -> RawBody {
        RawBody {
            bytes: bytes.into(),
            encoding,
        }
    }

    /// Whether decoding is cheap enough for an async worker: uncompressed and small.
    pub(crate) fn decodes_inline(&self) -> bool {
        self.encoding == ContentEncoding::Identity && self.bytes.len() <= INLINE_DECODE_LIMIT
    }

    /// The uncompressed body. CPU-heavy for gzip: call it off the async workers.
    pub(crate) fn into_plain(self, max_body: usize) -> Result<Bytes, IngestError> {
        match self.encoding {
            ContentEncoding::Identity if self.bytes.len() > max_body => {
                Err(IngestError::TooLarge { limit: max_body })
            }
            ContentEncoding::Identity => Ok(self.bytes),
            ContentEncoding::Gzip if self.bytes.is_empty() => Ok(self.bytes),
            ContentEncoding::Gzip => {
                inflate_capped(MultiGzDecoder::new(&self.bytes[..]), max_body).map(Bytes::from)
            }
        }
    }
}

/// Reads a decompressing reader to its end, refusing as soon as the output would pass
/// `max_body`. Neither the output nor its buffer ever grows past `max_body` bytes.
pub(crate) fn inflate_capped(
    mut inflater: impl Read,
    max_body: usize,
) -> Result<Vec<u8>, IngestError> {
    let mut plain = Vec::new();
    let mut chunk = vec![0; INFLATE_CHUNK];
    loop {
        let produced = match inflater.read(&mut chunk) {
            Ok(0) => return Ok(plain),
            Ok(produced) => produced,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(IngestError::Gzip(error)),
        };
        push_capped(&mut plain, &chunk[..produced], max_body, max_body)?;
    }
}

/// Appends `chunk` unless `out` would pass `limit` bytes; grows the buffer by doubling, but
/// never to more than `limit`. `max_body` is the limit named in the error.
fn push_capped(
    out: &mut Vec<u8>,
    chunk: &[u8],
    limit: usize,
    max_body: usize,
) -> Result<(), IngestError> {
    let needed = out.len() + chunk.len();
    if needed > limit {
        return Err(IngestError::TooLarge { limit: max_body });
    }
    if needed > out.capacity() {
        let target = out.capacity().saturating_mul(2).max(needed).min(limit);
        out.reserve_exact(target - out.len());
    }
    out.extend_from_slice(chunk);
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use std::cell::Cell;
    use std::io::Write;
    use std::rc::Rc;

    use axum::http::{HeaderValue, StatusCode};
    use flate2::write::GzEncoder;
    use flate2::{Compress, Compression, Crc, FlushCompress};

    use super::*;

    const MAX_BODY: usize = 8 << 20;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("valid header"));
        }
        map
    }

    fn gzip(plain: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(plain).expect("writing to a vec");
        encoder.finish().expect("writing to a vec")
    }

    /// 64 MiB of zeros as one gzip member of about 64 KiB, built without compressing 64 MiB:
    /// 1 MiB of zeros deflated once and flushed to a byte boundary, the same blocks repeated
    /// 64 times (they only refer back to zeros), an empty final block, and the true trailer.
    pub(crate) fn gzip_bomb() -> Vec<u8> {
        const MIB: usize = 1 << 20;
        let zeros = vec![0; MIB];
        let mut deflate = Compress::new(Compression::best(), false);
        let mut blocks = Vec::with_capacity(64 * 1024);
        deflate
            .compress_vec(&zeros, &mut blocks, FlushCompress::Sync)
            .expect("deflating");
        assert_eq!(
            deflate.total_in(),
            MIB as u64,
            "all input deflated in one call"
        );
        let mut last = Vec::with_capacity(64);
        deflate
            .compress_vec(&[], &mut last, FlushCompress::Finish)
            .expect("deflating");

        let mut crc = Crc::new();
        (0..64).for_each(|_| crc.update(&zeros));
        let mut bomb = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        (0..64).for_each(|_| bomb.extend_from_slice(&blocks));
        bomb.extend(last);
        bomb.extend(crc.sum().to_le_bytes());
        bomb.extend(crc.amount().to_le_bytes());
        bomb
    }

    /// Counts the bytes a reader produces.
    struct Counting<R> {
        inner: R,
        produced: Rc<Cell<usize>>,
    }

    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let produced = self.inner.read(buf)?;
            self.produced.set(self.produced.get() + produced);
            Ok(produced)
        }
    }

    #[test]
    fn content_encodings_are_read_in_any_case() {
        let cases = [
            ("gzip", ContentEncoding::Gzip),
            ("X-GZIP", ContentEncoding::Gzip),
        ];
        for (value, expected) in cases {
            let encoding = ContentEncoding::from_headers(&headers(&[("content-encoding", value)]));
            assert_eq!(encoding.expect("supported"), expected);
        }
        let identity = ContentEncoding::from_headers(&headers(&[("content-encoding", "identity")]));
        assert_eq!(identity.expect("supported"), ContentEncoding::Identity);
        let absent = ContentEncoding::from_headers(&HeaderMap::new());
        assert_eq!(absent.expect("supported"), ContentEncoding::Identity);
    }

    #[test]
    fn unsupported_encoding_answers_415_naming_it() {
        let error = ContentEncoding::from_headers(&headers(&[("content-encoding", "br")]))
            .expect_err("br is not supported");
        assert_eq!(error.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(error.to_string().contains("\"br\""), "{error}");
    }

    #[test]
    fn media_type_drops_parameters_and_case() {
        let map = headers(&[("content-type", "Application/JSON; charset=utf-8")]);
        assert_eq!(media_type(&map).as_deref(), Some("application/json"));
        assert_eq!(media_type(&HeaderMap::new()), None);
    }

    #[test]
    fn gzip_bomb_is_refused_after_inflating_at_most_max_body() {
        let bomb = gzip_bomb();
        assert!(
            bomb.len() < 128 * 1024,
            "the bomb is small: {} bytes",
            bomb.len()
        );

        let produced = Rc::new(Cell::new(0));
        let inflater = Counting {
            inner: MultiGzDecoder::new(&bomb[..]),
            produced: produced.clone(),
        };
        let error = inflate_capped(inflater, MAX_BODY).expect_err("64 MiB is over the limit");

        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            error.to_string(),
            "request body exceeds --max-body (8388608 bytes) after decompression"
        );
        assert!(
            produced.get() <= MAX_BODY + INFLATE_CHUNK,
            "inflated {} bytes",
            produced.get()
        );
    }

    #[test]
    fn the_test_bomb_is_valid_gzip_of_64_mib() {
        let bomb = gzip_bomb();
        let mut inflater = MultiGzDecoder::new(&bomb[..]);
        let inflated = std::io::copy(&mut inflater, &mut std::io::sink()).expect("valid gzip");
        assert_eq!(inflated, 64 << 20);
    }

    #[test]
    fn gzip_bomb_through_a_raw_body_answers_413() {
        let raw = RawBody::new(gzip_bomb(), ContentEncoding::Gzip);
        assert!(!raw.decodes_inline());
        let error = raw.into_plain(MAX_BODY).expect_err("over the limit");
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn output_buffer_never_grows_past_the_limit() {
        let limit = 100_000;
        let mut out = Vec::new();
        for _ in 0..10 {
            push_capped(&mut out, &[7; 10_000], limit, limit).expect("within the limit");
        }
        assert_eq!(out.len(), limit);
        assert!(out.capacity() <= limit, "capacity {}", out.capacity());
        assert!(push_capped(&mut out, &[7], limit, limit).is_err());
    }

    #[test]
    fn gzip_and_concatenated_gzip_members_inflate() {
        let raw = RawBody::new(gzip(b"hello "), ContentEncoding::Gzip);
        assert_eq!(
            &raw.into_plain(MAX_BODY).expect("valid gzip")[..],
            b"hello "
        );

        let mut two_members = gzip(b"hello ");
        two_members.extend(gzip(b"world"));
        let raw = RawBody::new(two_members, ContentEncoding::Gzip);
        assert_eq!(
            &raw.into_plain(MAX_BODY).expect("valid gzip")[..],
            b"hello world"
        );
    }

    #[test]
    fn corrupt_gzip_answers_400() {
        let mut corrupt = gzip(b"some log lines, long enough to be worth compressing");
        corrupt.truncate(corrupt.len() / 2);
        let error = RawBody::new(corrupt, ContentEncoding::Gzip).into_plain(MAX_BODY);
        assert_eq!(
            error.expect_err("truncated").status(),
            StatusCode::BAD_REQUEST
        );

        let not_gzip = RawBody::new(&b"{\"plain\": true}"[..], ContentEncoding::Gzip);
        let error = not_gzip.into_plain(MAX_BODY).expect_err("not gzip at all");
        assert!(
            error
                .to_string()
                .starts_with("request body is not valid gzip"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn declared_length_over_the_limit_is_refused_before_reading() {
        let map = headers(&[("content-length", "1000001")]);
        let error = read(&map, Body::empty(), 1_000_000)
            .await
            .expect_err("declared too large");
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn streamed_body_over_the_limit_is_refused() {
        let chunks = (0..20).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 1000])));
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        let error = read(&HeaderMap::new(), body, 10_000)
            .await
            .expect_err("20 kB > 10 kB");
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn identity_body_within_the_limit_is_read_whole() {
        let chunks = ["{\"a\":", "1}"].map(|text| Ok::<_, std::io::Error>(Bytes::from(text)));
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        let raw = read(&HeaderMap::new(), body, 1000)
            .await
            .expect("small body");
        assert!(raw.decodes_inline());
        assert_eq!(&raw.into_plain(1000).expect("identity")[..], b"{\"a\":1}");
    }
}
