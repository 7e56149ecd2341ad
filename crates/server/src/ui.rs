//! The web UI and the browser client library, embedded in the binary.
//!
//! The files in the repository's `ui/` folder are plain ES modules and CSS, compiled in with
//! `include_bytes!`: the UI works offline and needs no build step. `/` and `/trace/{trace_id}`
//! answer the same page, which routes on the client; `/tracetail.js` is the client library
//! for other web apps; the page's own modules and styles live under `/ui/`.
//!
//! Every answer carries a strong `ETag` (a hash of the bytes) and `Cache-Control: no-cache`:
//! browsers keep a copy but ask each time, and an unchanged file costs a `304` with no body, so
//! a new binary is never hidden behind a stale cache.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;

/// One embedded file.
struct Asset {
    /// Its name under `/ui/` (or the route that serves it).
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../../ui/", $name)),
        }
    };
}

/// Every file of the UI.
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("tracetail.js", "text/javascript; charset=utf-8"),
    asset!("app/main.js", "text/javascript; charset=utf-8"),
    asset!("app/tail.js", "text/javascript; charset=utf-8"),
    asset!("app/rows.js", "text/javascript; charset=utf-8"),
    asset!("app/trace.js", "text/javascript; charset=utf-8"),
    asset!("app/format.js", "text/javascript; charset=utf-8"),
    asset!("app/status.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// The page may load only its own files and talk only to its own origin.
const PAGE_POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The UI routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(page))
        .route("/trace/{trace_id}", get(page))
        .route("/tracetail.js", get(client_library))
        .route("/favicon.ico", get(favicon))
        .route("/ui/{*name}", get(ui_file))
}

async fn page(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn client_library(headers: HeaderMap) -> Response {
    serve("tracetail.js", &headers)
}

async fn favicon(headers: HeaderMap) -> Response {
    serve("favicon.svg", &headers)
}

async fn ui_file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some((index, asset)) = ASSETS
        .iter()
        .enumerate()
        .find(|(_, asset)| asset.name == name)
    else {
        let message = format!("no UI file named {name}");
        return ApiError::new(StatusCode::NOT_FOUND, message).into_response();
    };
    let etag = &etags()[index];

    let mut response = if matches_etag(request, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = asset.bytes.into_response();
        let content_type = HeaderValue::from_static(asset.content_type);
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.name == "index.html" {
        let policy = HeaderValue::from_static(PAGE_POLICY);
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn matches_etag(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(wanted) = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let etag = etag.to_str().expect("etags are ASCII");
    wanted.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// The ETag of each asset, in [`ASSETS`] order, computed once.
fn etags() -> &'static [HeaderValue] {
    static ETAGS: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let tag = format!("\"{:016x}\"", fnv1a(asset.bytes));
                HeaderValue::from_str(&tag).expect("hex in quotes is a valid header")
            })
            .collect()
    })
}

/// 64-bit FNV-1a: stable across builds and platforms, which `std`'s hasher is not promised to be.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let etag = HeaderValue::from_static("\"abc\"");
        let request = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static(value));
            headers
        };
        assert!(matches_etag(&request("\"abc\""), &etag));
        assert!(matches_etag(&request("\"x\", W/\"abc\""), &etag));
        assert!(matches_etag(&request("*"), &etag));
        assert!(!matches_etag(&request("\"abcd\""), &etag));
        assert!(!matches_etag(&HeaderMap::new(), &etag));
    }

    #[test]
    fn every_asset_name_is_unique() {
        for (index, asset) in ASSETS.iter().enumerate() {
            assert!(
                ASSETS[index + 1..]
                    .iter()
                    .all(|other| other.name != asset.name)
            );
        }
    }
}
