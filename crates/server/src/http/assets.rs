//! The web assets built from `clients/` by `build.rs` and compiled into the binary: the live
//! console at `/` (its script and styles under `/console/`) and the browser bundle of the JS
//! client at `/client/voicetk.js`.
//!
//! Asset names are fixed, so every response says `Cache-Control: no-cache` with a strong
//! `ETag`: a browser revalidates and gets `304 Not Modified` until the binary changes, and
//! never runs a console older than the server it talks to.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// One built file.
struct Asset {
    /// The file's bytes, as built.
    body: &'static [u8],
    /// Its `Content-Type`.
    content_type: &'static str,
}

const INDEX_HTML: Asset = Asset {
    body: include_bytes!(concat!(env!("OUT_DIR"), "/web/index.html")),
    content_type: "text/html; charset=utf-8",
};
const CONSOLE_JS: Asset = Asset {
    body: include_bytes!(concat!(env!("OUT_DIR"), "/web/console.js")),
    content_type: "text/javascript; charset=utf-8",
};
const CONSOLE_CSS: Asset = Asset {
    body: include_bytes!(concat!(env!("OUT_DIR"), "/web/console.css")),
    content_type: "text/css; charset=utf-8",
};
const CLIENT_JS: Asset = Asset {
    body: include_bytes!(concat!(env!("OUT_DIR"), "/web/voicetk.js")),
    content_type: "text/javascript; charset=utf-8",
};

/// The console page may load scripts, styles and data only from this server (images also
/// from `data:` URLs, for the icon); it cannot be framed.
const CONSOLE_CSP: &str = "default-src 'self'; img-src 'self' data:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Strong ETags of the assets, in the order index, console.js, console.css, voicetk.js:
/// computed once, from the bytes.
static ETAGS: LazyLock<[String; 4]> = LazyLock::new(|| {
    [&INDEX_HTML, &CONSOLE_JS, &CONSOLE_CSS, &CLIENT_JS]
        .map(|a| format!("\"{:016x}\"", fnv1a(a.body)))
});

/// FNV-1a, 64 bit: enough to tell builds apart, and no dependency.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Answers with `asset`, or `304` when the browser already has this version.
fn serve(asset: &Asset, etag: &str, request: &HeaderMap, csp: Option<&'static str>) -> Response {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(csp) = csp {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    (headers, asset.body).into_response()
}

/// `GET /`: the console page.
pub(super) async fn index(request: HeaderMap) -> Response {
    serve(&INDEX_HTML, &ETAGS[0], &request, Some(CONSOLE_CSP))
}

/// `GET /console/{file}`: the console's script and styles.
pub(super) async fn console(Path(file): Path<String>, request: HeaderMap) -> Response {
    match file.as_str() {
        "console.js" => serve(&CONSOLE_JS, &ETAGS[1], &request, None),
        "console.css" => serve(&CONSOLE_CSS, &ETAGS[2], &request, None),
        other => ApiError::not_found(format!(
            "no console asset {other:?}; expected console.js or console.css"
        ))
        .into_response(),
    }
}

/// `GET /client/voicetk.js`: the JS client as one browser ES module.
pub(super) async fn client(request: HeaderMap) -> Response {
    serve(&CLIENT_JS, &ETAGS[3], &request, None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn assets_are_built_and_linked() {
        let html = std::str::from_utf8(INDEX_HTML.body).unwrap();
        assert!(html.contains("/console/console.js"), "{html}");
        assert!(html.contains("/console/console.css"), "{html}");
        let console = std::str::from_utf8(CONSOLE_JS.body).unwrap();
        // The console loads the client the server serves, not a private copy.
        assert!(console.contains("/client/voicetk.js"));
        assert!(!CONSOLE_CSS.body.is_empty());
        let client = std::str::from_utf8(CLIENT_JS.body).unwrap();
        assert!(
            client.contains("export"),
            "the client bundle is an ES module"
        );
    }

    #[tokio::test]
    async fn served_with_type_cache_headers_and_revalidation() {
        let res = index(HeaderMap::new()).await;
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
        assert!(
            h[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("default-src 'self'")
        );
        let etag = h[header::ETAG].clone();

        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag.clone());
        let res = index(again).await;
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(res.headers()[header::ETAG], etag);

        let res = console(Path("console.css".into()), HeaderMap::new()).await;
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
        let res = console(Path("console.js".into()), HeaderMap::new()).await;
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let res = client(HeaderMap::new()).await;
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        // Another version's tag is no match.
        let mut stale = HeaderMap::new();
        stale.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"0000000000000000\""),
        );
        assert_eq!(client(stale).await.status(), StatusCode::OK);

        let res = console(Path("../Cargo.toml".into()), HeaderMap::new()).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn etags_differ_per_asset_and_are_quoted() {
        let tags = &*ETAGS;
        for (i, t) in tags.iter().enumerate() {
            assert!(
                t.starts_with('"') && t.ends_with('"') && t.len() == 18,
                "{t}"
            );
            assert!(tags[i + 1..].iter().all(|u| u != t));
        }
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
