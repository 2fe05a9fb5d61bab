//! A small web server on loopback that plays the reported websites of the tests.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fetch::{FetchPolicy, Fetcher, StaticResolver, Url};

/// The benign test photos shared by the project.
pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/pdq/data")
        .join(rel)
}

/// Test images served under `/img/<name>`.
pub const IMAGES: &[(&str, &str, &str)] = &[
    ("bridge.jpg", "bridge-mods/aaa-orig.jpg", "image/jpeg"),
    ("wee.jpg", "misc-images/wee.jpg", "image/jpeg"),
    ("c.png", "misc-images/c.png", "image/png"),
    ("photo.webp", "misc-images/modes/PA.webp", "image/webp"),
    ("small.jpg", "misc-images/small.jpg", "image/jpeg"),
];

pub fn image_bytes(name: &str) -> Vec<u8> {
    let (_, rel, _) = IMAGES
        .iter()
        .find(|(n, _, _)| *n == name)
        .expect("known test image");
    std::fs::read(testdata(rel)).expect("test image readable")
}

/// Bytes a gzip bomb decodes to.
pub const BOMB_DECODED: usize = 64 * 1024 * 1024;

/// 64 MiB of zeros, gzip-compressed (about 64 KiB), made once.
fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..BOMB_DECODED / zeros.len() {
            enc.write_all(&zeros).expect("compress");
        }
        enc.finish().expect("finish gzip")
    })
}

/// The same 64 MiB of zeros, brotli-compressed (a few KiB), made once.
fn brotli_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut out = Vec::new();
        {
            let mut enc = brotli::CompressorWriter::new(&mut out, 64 * 1024, 5, 22);
            let zeros = vec![0u8; 1024 * 1024];
            for _ in 0..BOMB_DECODED / zeros.len() {
                enc.write_all(&zeros).expect("compress");
            }
        }
        out
    })
}

/// Size of the gzip bomb on the wire.
pub fn gzip_bomb_len() -> usize {
    gzip_bomb().len()
}

/// A page with every kind of media reference the extractor knows.
pub const GALLERY: &str = r#"<!DOCTYPE html>
<html><head>
<base href="/gallery/">
<meta property="og:image" content="/img/bridge.jpg">
<meta name="twitter:image" content="https://cdn.example.test/tw.jpg">
<link rel="image_src" href="/img/linked.jpg">
<style>.hero { background-image: url('hero.png'); } @font-face { src: url(font.woff2); }</style>
</head><body>
<img src="../img/bridge.jpg" alt="dup of og:image">
<img src="data:image/png;base64,AAAA" alt="inline data is skipped">
<img src="" data-src="lazy1.jpg" class="lazyload">
<img data-original="lazy2.jpg">
<img srcset="s1.jpg 1x, s2.jpg 2x">
<img data-srcset="ds1.webp 480w, ds2.webp 1080w">
<picture><source srcset="pic.avif" type="image/avif"><img src="pic.jpg"></picture>
<video src="clip.mp4" poster="poster.jpg"><source src="clip.webm" type="video/webm"></video>
<a href="full/photo.JPG">full size</a>
<a href="movie.mov?dl=1">download</a>
<a href="page2.html">next page</a>
<a href="javascript:void(0)">js</a>
<div style="background: url(&quot;bg.gif&quot;) no-repeat">x</div>
<span style="background-image:url(bg2.png)">y</span>
<img src="ftp://example.test/x.jpg">
<img src="s1.jpg#fragment-ignored">
<noscript><img src="noscript.jpg"></noscript>
</body></html>"#;

/// The expected extraction of [`GALLERY`] fetched from `/gallery.html` on `origin`.
pub fn gallery_expected(origin: &Url) -> Vec<(String, &'static str)> {
    let g = |p: &str| format!("{origin}gallery/{p}");
    let o = |p: &str| format!("{origin}{p}");
    vec![
        (o("img/bridge.jpg"), "og_image"),
        (
            "https://cdn.example.test/tw.jpg".to_owned(),
            "twitter_image",
        ),
        (o("img/linked.jpg"), "link_image_src"),
        (g("hero.png"), "style_element"),
        (g("lazy1.jpg"), "lazy_img"),
        (g("lazy2.jpg"), "lazy_img"),
        (g("s1.jpg"), "img_srcset"),
        (g("s2.jpg"), "img_srcset"),
        (g("ds1.webp"), "lazy_img"),
        (g("ds2.webp"), "lazy_img"),
        (g("pic.avif"), "picture_source"),
        (g("pic.jpg"), "img"),
        (g("clip.mp4"), "video"),
        (g("poster.jpg"), "video_poster"),
        (g("clip.webm"), "video_source"),
        (g("full/photo.JPG"), "link"),
        (g("movie.mov?dl=1"), "link"),
        (g("bg.gif"), "inline_style"),
        (g("bg2.png"), "inline_style"),
        (g("noscript.jpg"), "img"),
    ]
}

fn html(body: impl Into<String>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

fn redirect(status: StatusCode, location: &str) -> Response {
    let mut r = status.into_response();
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(location).expect("location header"),
    );
    r
}

async fn img(Path(name): Path<String>) -> Response {
    match IMAGES.iter().find(|(n, _, _)| *n == name) {
        Some((_, _, mime)) => ([(header::CONTENT_TYPE, *mime)], image_bytes(&name)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn chain(Path(n): Path<u32>) -> Response {
    if n == 0 {
        html("<html><body>end of chain</body></html>")
    } else {
        redirect(StatusCode::FOUND, &format!("/chain/{}", n - 1))
    }
}

async fn to(Query(q): Query<HashMap<String, String>>) -> Response {
    let status = q
        .get("s")
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::FOUND);
    redirect(status, q.get("u").map(String::as_str).unwrap_or("/"))
}

/// A body streamed in 64 KiB chunks, with or without a (truthful) Content-Length.
fn streamed(total: usize, declare_length: bool) -> Response {
    let chunk = bytes::Bytes::from(vec![b'a'; 64 * 1024]);
    let n = total / chunk.len();
    let stream =
        futures_util::stream::iter(std::iter::repeat_n(chunk, n).map(Ok::<_, std::io::Error>));
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if declare_length {
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(total as u64));
    }
    r
}

async fn bomb() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    (headers, gzip_bomb().to_vec()).into_response()
}

async fn bomb_br() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
    (headers, brotli_bomb().to_vec()).into_response()
}

async fn slow() -> Response {
    tokio::time::sleep(Duration::from_secs(10)).await;
    html("too late")
}

/// Headers at once, then one byte every 100 ms for 10 s.
async fn drip() -> Response {
    let stream = futures_util::stream::unfold(0u32, |i| async move {
        if i >= 100 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"x")),
            i + 1,
        ))
    });
    Response::new(Body::from_stream(stream))
}

fn router() -> Router {
    Router::new()
        .route("/gallery.html", get(|| async { html(GALLERY) }))
        .route(
            "/simple.html",
            get(|| async {
                html(
                    r#"<html><body><img src="/img/bridge.jpg"><img data-src="/img/wee.jpg">
                    <a href="/img/c.png">png</a><img srcset="/img/photo.webp 2x"></body></html>"#,
                )
            }),
        )
        .route("/img/{name}", get(img))
        .route(
            "/lie/png-as-html",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/html")], image_bytes("c.png")).into_response()
            }),
        )
        .route(
            "/lie/html-as-png",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    "<html><body><img src=\"/img/wee.jpg\"></body></html>",
                )
                    .into_response()
            }),
        )
        .route("/chain/{n}", get(chain))
        .route(
            "/loop/a",
            get(|| async { redirect(StatusCode::FOUND, "/loop/b") }),
        )
        .route(
            "/loop/b",
            get(|| async { redirect(StatusCode::MOVED_PERMANENTLY, "/loop/a") }),
        )
        .route("/to", get(to))
        .route("/no-location", get(|| async { StatusCode::FOUND }))
        .route("/huge", get(|| async { streamed(8 * 1024 * 1024, false) }))
        .route(
            "/huge-declared",
            get(|| async { streamed(8 * 1024 * 1024, true) }),
        )
        .route("/bomb", get(bomb))
        .route("/bomb-br", get(bomb_br))
        .route("/slow", get(slow))
        .route("/drip", get(drip))
        .route(
            "/gone",
            get(|| async { (StatusCode::NOT_FOUND, html("not here")).into_response() }),
        )
        .route(
            "/headers",
            get(|| async {
                let mut h = HeaderMap::new();
                h.insert(header::SERVER, HeaderValue::from_static("test-server/1.0"));
                h.insert(
                    header::SET_COOKIE,
                    HeaderValue::from_static("session=secret"),
                );
                h.insert("x-internal-token", HeaderValue::from_static("secret"));
                (h, html("<p>hi</p>")).into_response()
            }),
        )
        .route(
            "/echo-headers",
            get(|headers: HeaderMap| async move {
                let get = |n: header::HeaderName| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_owned()
                };
                format!(
                    "ua={}\nreferer={}\naccept={}\nauth={}",
                    get(header::USER_AGENT),
                    get(header::REFERER),
                    get(header::ACCEPT),
                    get(header::AUTHORIZATION)
                )
            }),
        )
}

/// A running test server.
pub struct TestServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Starts the server on `ip` (a loopback address) and an ephemeral port.
    pub async fn start(ip: &str) -> Self {
        let listener = tokio::net::TcpListener::bind((ip, 0))
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, router()).await.expect("serve");
        });
        Self { addr, task }
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> Url {
        format!("http://{}{}", self.addr, path)
            .parse()
            .expect("test url")
    }

    /// `http://<addr>/`.
    pub fn origin(&self) -> Url {
        self.url("/")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A policy that may reach exactly `ip` (a loopback address), with no real DNS.
pub fn loopback_policy(ip: &str) -> FetchPolicy {
    FetchPolicy::new()
        .allow_addresses([format!("{ip}/32")])
        .resolver(std::sync::Arc::new(StaticResolver::new()))
}

/// A fetcher for `policy`.
pub fn fetcher(policy: FetchPolicy) -> Fetcher {
    Fetcher::new(policy).expect("policy builds")
}
