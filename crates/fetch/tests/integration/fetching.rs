//! The fetcher against pages, images, redirects, huge and slow responses and lying servers.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fetch::{
    BlockReason, BoxFuture, BuildError, ExtractOptions, FetchError, FetchOptions, FetchPolicy,
    Fetcher, PortPolicy, RefKind, Resolver, SniffedType, StaticResolver, TimeoutKind, Url,
    media_items,
};

use crate::support::{
    BOMB_DECODED, TestServer, fetcher, gallery_expected, gzip_bomb_len, image_bytes,
    loopback_policy,
};

const MIB: u64 = 1024 * 1024;

#[tokio::test]
async fn page_images_are_found_fetched_and_sniffed() {
    let server = TestServer::start("127.0.0.1").await;
    let f = fetcher(loopback_policy("127.0.0.1"));
    let page = f.fetch(&server.url("/simple.html")).await.expect("page");
    assert_eq!(page.status, 200);
    assert_eq!(page.sniffed_type, SniffedType::Html);
    assert_eq!(page.declared_mime().as_deref(), Some("text/html"));
    assert_eq!(page.remote_addr, Some(server.addr));
    assert!(page.redirects.is_empty());

    let items = media_items(&page, &ExtractOptions::default());
    let got: Vec<(String, RefKind)> = items
        .items
        .iter()
        .map(|m| (m.url.path().to_owned(), m.kind))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/img/bridge.jpg".to_owned(), RefKind::Img),
            ("/img/wee.jpg".to_owned(), RefKind::LazyImg),
            ("/img/c.png".to_owned(), RefKind::Link),
            ("/img/photo.webp".to_owned(), RefKind::ImgSrcset),
        ]
    );
    let want = [
        ("bridge.jpg", SniffedType::Jpeg),
        ("wee.jpg", SniffedType::Jpeg),
        ("c.png", SniffedType::Png),
        ("photo.webp", SniffedType::Webp),
    ];
    for (item, (name, sniffed)) in items.items.iter().zip(want) {
        let media = f.fetch(&item.url).await.expect("image");
        assert_eq!(media.sniffed_type, sniffed, "{name}");
        assert_eq!(media.body.as_ref(), image_bytes(name).as_slice(), "{name}");
        // A URL that is itself an image is one item of kind Direct.
        let own = media_items(&media, &ExtractOptions::default());
        assert_eq!(own.items.len(), 1);
        assert_eq!(own.items[0].kind, RefKind::Direct);
        assert_eq!(own.items[0].url, item.url);
    }
}

#[tokio::test]
async fn gallery_page_yields_every_kind_of_reference() {
    let server = TestServer::start("127.0.0.1").await;
    let f = fetcher(loopback_policy("127.0.0.1"));
    let page = f.fetch(&server.url("/gallery.html")).await.expect("page");
    let extracted = media_items(&page, &ExtractOptions::default());
    assert_eq!(extracted.base_url, server.url("/gallery/"));
    let got: Vec<(String, &str)> = extracted
        .items
        .iter()
        .map(|m| (m.url.to_string(), m.kind.as_str()))
        .collect();
    assert_eq!(got, gallery_expected(&server.origin()));
    assert!(!extracted.truncated);

    let capped = media_items(
        &page,
        &ExtractOptions {
            max_items: 3,
            ..ExtractOptions::default()
        },
    );
    assert_eq!(capped.items.len(), 3);
    assert!(capped.truncated);
}

#[tokio::test]
async fn content_type_lies_are_seen_through() {
    let server = TestServer::start("127.0.0.1").await;
    let f = fetcher(loopback_policy("127.0.0.1"));

    let png = f.fetch(&server.url("/lie/png-as-html")).await.expect("png");
    assert_eq!(png.sniffed_type, SniffedType::Png);
    assert_eq!(png.declared_type.as_deref(), Some("text/html"));
    let items = media_items(&png, &ExtractOptions::default());
    assert_eq!(items.items.len(), 1);
    assert_eq!(items.items[0].kind, RefKind::Direct);

    let page = f
        .fetch(&server.url("/lie/html-as-png"))
        .await
        .expect("page");
    assert_eq!(page.sniffed_type, SniffedType::Html);
    assert_eq!(page.declared_mime().as_deref(), Some("image/png"));
    let items = media_items(&page, &ExtractOptions::default());
    assert_eq!(items.items.len(), 1);
    assert_eq!(items.items[0].url, server.url("/img/wee.jpg"));
}

#[tokio::test]
async fn redirect_chains_are_followed_up_to_the_limit() {
    let server = TestServer::start("127.0.0.1").await;
    let f = fetcher(loopback_policy("127.0.0.1"));

    let ok = f.fetch(&server.url("/chain/5")).await.expect("5 redirects");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.final_url, server.url("/chain/0"));
    let hops: Vec<(String, u16)> = ok
        .redirects
        .iter()
        .map(|r| (r.url.path().to_owned(), r.status))
        .collect();
    assert_eq!(
        hops,
        (1..=5)
            .rev()
            .map(|n| (format!("/chain/{n}"), 302))
            .collect::<Vec<_>>()
    );
    assert!(
        ok.redirects
            .iter()
            .all(|r| r.remote_addr == Some(server.addr))
    );

    let err = f.fetch(&server.url("/chain/6")).await.expect_err("6 > 5");
    assert!(
        matches!(err, FetchError::TooManyRedirects { max: 5 }),
        "{err}"
    );

    let strict = fetcher(loopback_policy("127.0.0.1").max_redirects(0));
    let err = strict
        .fetch(&server.url("/chain/1"))
        .await
        .expect_err("no redirects allowed");
    assert!(
        matches!(err, FetchError::TooManyRedirects { max: 0 }),
        "{err}"
    );
    let at_end = strict.fetch(&server.url("/chain/0")).await.expect("no hop");
    assert_eq!(at_end.status, 200);
}

#[tokio::test]
async fn redirect_loops_and_odd_redirects() {
    let server = TestServer::start("127.0.0.1").await;
    let f = fetcher(loopback_policy("127.0.0.1"));

    let err = f.fetch(&server.url("/loop/a")).await.expect_err("loop");
    assert!(matches!(err, FetchError::RedirectLoop), "{err}");

    // A redirect status without Location is simply the final response.
    let odd = f.fetch(&server.url("/no-location")).await.expect("302");
    assert_eq!(odd.status, 302);
    assert!(odd.redirects.is_empty());

    // 307 and 308 are followed too; a relative Location resolves against the current URL.
    let via = server.url("/to?s=308&u=img/wee.jpg");
    let img = f.fetch(&via).await.expect("308");
    assert_eq!(img.final_url, server.url("/img/wee.jpg"));
    assert_eq!(img.redirects[0].status, 308);
    assert_eq!(img.sniffed_type, SniffedType::Jpeg);

    // A redirect to another scheme is refused like a first URL would be.
    let err = f
        .fetch(&server.url("/to?u=file:///etc/passwd"))
        .await
        .expect_err("file scheme");
    assert!(
        matches!(err, FetchError::Scheme { ref scheme } if scheme == "file"),
        "{err}"
    );
}

#[tokio::test]
async fn huge_bodies_stop_at_the_cap() {
    let server = TestServer::start("127.0.0.1").await;
    let f = fetcher(loopback_policy("127.0.0.1").max_body_bytes(MIB));

    for path in ["/huge", "/huge-declared"] {
        let err = f.fetch(&server.url(path)).await.expect_err("over cap");
        assert!(
            matches!(err, FetchError::TooLarge { limit } if limit == MIB),
            "{path}: {err}"
        );
    }
    // A per-request override lifts the cap for one fetch.
    let big = f
        .fetch_with(
            &server.url("/huge"),
            &FetchOptions::new().max_body_bytes(16 * MIB),
        )
        .await
        .expect("under raised cap");
    assert_eq!(big.body.len() as u64, 8 * MIB);
    // Exactly at the cap is fine.
    let exact = f
        .fetch_with(
            &server.url("/huge"),
            &FetchOptions::new().max_body_bytes(8 * MIB),
        )
        .await
        .expect("at cap");
    assert_eq!(exact.body.len() as u64, 8 * MIB);
}

#[tokio::test]
async fn gzip_bomb_is_counted_on_decoded_bytes() {
    let server = TestServer::start("127.0.0.1").await;
    let f = fetcher(loopback_policy("127.0.0.1").max_body_bytes(MIB));
    for path in ["/bomb", "/bomb-br"] {
        let err = f.fetch(&server.url(path)).await.expect_err("bomb");
        assert!(matches!(err, FetchError::TooLarge { .. }), "{path}: {err}");
    }
    // Timed once the server has its bombs ready.
    let started = Instant::now();
    let err = f.fetch(&server.url("/bomb")).await.expect_err("bomb");
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
    let stopped_after = started.elapsed();

    // With a cap above the decoded size the whole body arrives decoded: the cap counted decoded
    // bytes, not the ~64 KiB on the wire.
    let full = fetcher(loopback_policy("127.0.0.1").max_body_bytes(128 * MIB))
        .fetch(&server.url("/bomb"))
        .await
        .expect("decoded bomb");
    assert_eq!(full.body.len(), BOMB_DECODED);
    assert!(full.body.iter().all(|&b| b == 0));
    assert_eq!(full.header("content-encoding"), None, "decoded for us");
    eprintln!(
        "gzip bomb ({} bytes on the wire): stopped at 1 MiB cap after {stopped_after:?}; \
         fully decoded 64 MiB in {:?}",
        gzip_bomb_len(),
        full.elapsed
    );
}

#[tokio::test]
async fn slow_servers_hit_the_total_timeout() {
    let server = TestServer::start("127.0.0.1").await;
    let limit = Duration::from_millis(500);
    let f = fetcher(loopback_policy("127.0.0.1").timeout(limit));
    for path in ["/slow", "/drip"] {
        let started = Instant::now();
        let err = f.fetch(&server.url(path)).await.expect_err("timeout");
        assert!(
            matches!(err, FetchError::Timeout { kind: TimeoutKind::Total, limit: l } if l == limit),
            "{path}: {err}"
        );
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "{path} took {took:?}");
    }
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let f = fetcher(loopback_policy("127.0.0.1"));
    let url: Url = format!("http://127.0.0.1:{port}/").parse().expect("url");
    let err = f.fetch(&url).await.expect_err("refused");
    assert!(matches!(err, FetchError::Connect { .. }), "{err}");
}

#[tokio::test]
async fn tls_to_a_plain_http_server_fails_as_tls() {
    let server = TestServer::start("127.0.0.1").await;
    let f = fetcher(loopback_policy("127.0.0.1"));
    let url: Url = format!("https://{}/simple.html", server.addr)
        .parse()
        .expect("url");
    let err = f.fetch(&url).await.expect_err("no TLS there");
    assert!(matches!(err, FetchError::Tls { .. }), "{err}");
}

#[tokio::test]
async fn error_statuses_are_results_and_headers_are_sanitised() {
    let server = TestServer::start("127.0.0.1").await;
    let f = fetcher(loopback_policy("127.0.0.1"));
    let gone = f
        .fetch(&server.url("/gone"))
        .await
        .expect("404 is a result");
    assert_eq!(gone.status, 404);
    assert!(!gone.is_success());
    assert_eq!(gone.body.as_ref(), b"not here");

    let h = f.fetch(&server.url("/headers")).await.expect("headers");
    assert_eq!(h.header("Server"), Some("test-server/1.0"));
    assert!(h.header("content-type").is_some());
    assert_eq!(h.header("set-cookie"), None);
    assert_eq!(h.header("x-internal-token"), None);
    assert!(h.fetched_at <= std::time::SystemTime::now());
}

#[tokio::test]
async fn request_headers_user_agent_accept_referer() {
    let server = TestServer::start("127.0.0.1").await;
    let f = fetcher(loopback_policy("127.0.0.1").user_agent("hotline-test/2.0"));
    let referer: Url = "https://reported.example/page".parse().expect("url");
    let got = f
        .fetch_with(
            &server.url("/echo-headers"),
            &FetchOptions::new()
                .accept("image/*")
                .referer(referer.clone()),
        )
        .await
        .expect("echo");
    let text = String::from_utf8_lossy(&got.body).into_owned();
    assert!(text.contains("ua=hotline-test/2.0"), "{text}");
    assert!(text.contains(&format!("referer={referer}")), "{text}");
    assert!(text.contains("accept=image/*"), "{text}");
    assert!(text.contains("auth=-"), "{text}");

    let plain = fetcher(loopback_policy("127.0.0.1"))
        .fetch(&server.url("/echo-headers"))
        .await
        .expect("echo");
    let text = String::from_utf8_lossy(&plain.body).into_owned();
    assert!(
        text.contains(&format!("ua={}", fetch::DEFAULT_USER_AGENT)),
        "{text}"
    );
    assert!(
        text.contains("referer=-") && text.contains("accept=*/*"),
        "{text}"
    );
}

#[tokio::test]
async fn loopback_is_refused_by_default() {
    let server = TestServer::start("127.0.0.1").await;
    // The real default: system DNS, nothing allowed. IP literals need no DNS.
    let f = Fetcher::new(FetchPolicy::new()).expect("default policy builds");
    let err = f
        .fetch(&server.url("/simple.html"))
        .await
        .expect_err("blocked");
    assert!(
        matches!(err, FetchError::Blocked { reason: BlockReason::Loopback, addr, .. }
            if addr == IpAddr::from([127, 0, 0, 1])),
        "{err}"
    );
    let local: Url = format!("http://localhost:{}/", server.addr.port())
        .parse()
        .expect("url");
    let err = f.fetch(&local).await.expect_err("localhost blocked");
    assert!(
        matches!(
            err,
            FetchError::Blocked {
                reason: BlockReason::Loopback,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn redirect_to_loopback_or_metadata_refused_when_not_allowed() {
    // The site lives on 127.0.0.2, the only address allowed; 127.0.0.1 stays refused.
    let site = TestServer::start("127.0.0.2").await;
    let f = fetcher(loopback_policy("127.0.0.2"));
    assert_eq!(
        f.fetch(&site.url("/simple.html"))
            .await
            .expect("site")
            .status,
        200
    );

    let cases = [
        (
            format!("http://127.0.0.1:{}/", site.addr.port()),
            BlockReason::Loopback,
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            BlockReason::LinkLocal,
        ),
        (
            format!("http://localhost:{}/", site.addr.port()),
            BlockReason::Loopback,
        ),
    ];
    for (target, reason) in cases {
        let via = site.url(&format!("/to?u={}", urlencode(&target)));
        let err = f.fetch(&via).await.expect_err("redirect refused");
        assert!(
            matches!(err, FetchError::Blocked { reason: r, .. } if r == reason),
            "{target}: {err}"
        );
    }
}

#[tokio::test]
async fn redirect_to_allowed_loopback_followed_metadata_still_refused() {
    let a = TestServer::start("127.0.0.1").await;
    let b = TestServer::start("127.0.0.2").await;
    let f = fetcher(
        FetchPolicy::new()
            .allow_addresses(["127.0.0.0/8"])
            .resolver(Arc::new(StaticResolver::new())),
    );
    let target = b.url("/img/wee.jpg");
    let got = f
        .fetch(&a.url(&format!("/to?u={}", urlencode(target.as_str()))))
        .await
        .expect("followed");
    assert_eq!(got.final_url, target);
    assert_eq!(got.remote_addr, Some(b.addr));
    assert_eq!(got.redirects.len(), 1);
    assert_eq!(got.redirects[0].remote_addr, Some(a.addr));

    let err = f
        .fetch(&a.url("/to?u=http%3A%2F%2F169.254.169.254%2F"))
        .await
        .expect_err("metadata");
    assert!(
        matches!(
            err,
            FetchError::Blocked {
                reason: BlockReason::LinkLocal,
                ..
            }
        ),
        "{err}"
    );
}

/// Answers `first` on the first lookup and `later` on every other; counts lookups.
struct FlipResolver {
    first: IpAddr,
    later: IpAddr,
    calls: AtomicUsize,
}

impl Resolver for FlipResolver {
    fn resolve<'a>(&'a self, _host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let ip = if n == 0 { self.first } else { self.later };
        Box::pin(async move { Ok(vec![ip]) })
    }
}

#[tokio::test]
async fn resolved_address_is_pinned_no_rebinding() {
    let server = TestServer::start("127.0.0.2").await;
    let resolver = Arc::new(FlipResolver {
        first: IpAddr::from([127, 0, 0, 2]),
        later: IpAddr::from([10, 0, 0, 1]),
        calls: AtomicUsize::new(0),
    });
    let f = fetcher(
        FetchPolicy::new()
            .allow_addresses(["127.0.0.2/32"])
            .resolver(resolver.clone()),
    );
    let url: Url = format!("http://rebind.test:{}/img/wee.jpg", server.addr.port())
        .parse()
        .expect("url");
    let got = f.fetch(&url).await.expect("first answer is allowed");
    assert_eq!(
        got.remote_addr,
        Some(server.addr),
        "connected to the checked address"
    );
    assert_eq!(
        resolver.calls.load(Ordering::SeqCst),
        1,
        "one lookup per connection: nothing to rebind"
    );
    // A fresh fetcher (new connection) sees the second answer, and refuses it.
    let fresh = fetcher(
        FetchPolicy::new()
            .allow_addresses(["127.0.0.2/32"])
            .resolver(resolver.clone()),
    );
    let err = fresh.fetch(&url).await.expect_err("rebound to private");
    assert!(
        matches!(err, FetchError::Blocked { reason: BlockReason::Private, ref host, .. } if host == "rebind.test"),
        "{err}"
    );
}

#[tokio::test]
async fn dns_names_resolve_through_the_hook() {
    let server = TestServer::start("127.0.0.2").await;
    let resolver = StaticResolver::new()
        .with("site.test", [IpAddr::from([127, 0, 0, 2])])
        .with(
            "mixed.test",
            [IpAddr::from([127, 0, 0, 2]), IpAddr::from([10, 0, 0, 1])],
        );
    let f = fetcher(
        FetchPolicy::new()
            .allow_addresses(["127.0.0.2/32"])
            .resolver(Arc::new(resolver)),
    );
    let port = server.addr.port();
    let ok = f
        .fetch(
            &format!("http://SITE.test:{port}/simple.html")
                .parse()
                .expect("url"),
        )
        .await
        .expect("allowed name");
    assert_eq!(ok.remote_addr, Some(server.addr));

    // One bad address poisons the whole answer: nothing is connected to.
    let err = f
        .fetch(&format!("http://mixed.test:{port}/").parse().expect("url"))
        .await
        .expect_err("mixed");
    assert!(
        matches!(
            err,
            FetchError::Blocked {
                reason: BlockReason::Private,
                ..
            }
        ),
        "{err}"
    );
    let err = f
        .fetch(&format!("http://unknown.test:{port}/").parse().expect("url"))
        .await
        .expect_err("unknown");
    assert!(
        matches!(err, FetchError::Dns { ref host, .. } if host == "unknown.test"),
        "{err}"
    );
}

#[tokio::test]
async fn port_allow_list() {
    let server = TestServer::start("127.0.0.1").await;
    let f = fetcher(loopback_policy("127.0.0.1").ports(PortPolicy::Only(vec![80, 443])));
    let err = f.fetch(&server.url("/")).await.expect_err("port");
    assert!(
        matches!(err, FetchError::Port { port } if port == server.addr.port()),
        "{err}"
    );
    let ok =
        fetcher(loopback_policy("127.0.0.1").ports(PortPolicy::Only(vec![server.addr.port()])));
    assert_eq!(
        ok.fetch(&server.url("/simple.html"))
            .await
            .expect("listed")
            .status,
        200
    );
}

#[tokio::test]
async fn with_an_http_proxy_the_proxy_resolves_but_literals_are_still_checked() {
    // The test server doubles as a forward proxy: hyper accepts absolute-form request targets.
    let proxy = TestServer::start("127.0.0.1").await;
    let f = fetcher(
        FetchPolicy::new()
            .proxy(format!("http://{}", proxy.addr))
            // Empty table: any local lookup of the target would fail with a DNS error.
            .resolver(Arc::new(StaticResolver::new())),
    );
    let page = f
        .fetch(&"http://unresolvable.test/simple.html".parse().expect("url"))
        .await
        .expect("fetched via proxy");
    assert_eq!(page.status, 200);
    assert_eq!(page.remote_addr, Some(proxy.addr), "connected to the proxy");

    for target in ["http://10.0.0.1/", "http://[::1]/", "http://localhost/"] {
        let err = f
            .fetch(&target.parse().expect("url"))
            .await
            .expect_err("literal checked");
        assert!(matches!(err, FetchError::Blocked { .. }), "{target}: {err}");
    }
}

#[tokio::test]
async fn bad_policies_fail_to_build() {
    let bad_range = Fetcher::new(FetchPolicy::new().allow_addresses(["127.0.0.1/99"]));
    assert!(matches!(bad_range, Err(BuildError::Range(_))));
    let bad_proxy = Fetcher::new(FetchPolicy::new().proxy("ftp://user:pw@proxy.test"));
    match bad_proxy {
        Err(BuildError::Proxy { proxy, .. }) => assert!(!proxy.contains("pw"), "{proxy}"),
        other => panic!("expected proxy error, got {other:?}"),
    }
    let bad_ua = Fetcher::new(FetchPolicy::new().user_agent("line\nbreak"));
    assert!(matches!(bad_ua, Err(BuildError::UserAgent)));
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Throughput numbers for the report; run with
/// `cargo test --release -p fetch --test integration measure -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, not a check"]
async fn measure_throughput() {
    // Extraction: a 1.1 MiB page with 5 000 images (half lazy) and 5 000 plain links.
    let mut html = String::from("<html><body>");
    for i in 0..5_000 {
        html.push_str(&format!(
            "<div class=\"card\"><img src=\"/i/{i}.jpg\" data-src=\"/l/{i}.webp\" alt=\"photo number {i}\">\
             <a href=\"/p/{i}.html\">page {i}</a></div>\n"
        ));
    }
    html.push_str("</body></html>");
    let doc: Url = "http://site.test/".parse().expect("url");
    let opts = ExtractOptions {
        max_items: 20_000,
        ..ExtractOptions::default()
    };
    let rounds = 20;
    let started = Instant::now();
    let mut n = 0;
    for _ in 0..rounds {
        n = fetch::extract_media(html.as_bytes(), &doc, &opts)
            .items
            .len();
    }
    let per = started.elapsed() / rounds;
    eprintln!(
        "extract: {} KiB page, {n} items, {per:?} per page, {:.0} MiB/s",
        html.len() / 1024,
        html.len() as f64 / per.as_secs_f64() / (1024.0 * 1024.0)
    );

    // The same amount of markup without any media reference: the parser's own cost.
    let plain = html
        .replace("<img src=", "<span data-x=")
        .replace("<a href=\"/p/", "<b title=\"/p/");
    let started = Instant::now();
    for _ in 0..rounds {
        assert!(
            fetch::extract_media(plain.as_bytes(), &doc, &opts)
                .items
                .is_empty()
        );
    }
    let per = started.elapsed() / rounds;
    eprintln!(
        "parse only: {} KiB page, {per:?} per page, {:.0} MiB/s",
        plain.len() / 1024,
        plain.len() as f64 / per.as_secs_f64() / (1024.0 * 1024.0)
    );

    // Fetching: sequential GETs of a 361 KiB JPEG over loopback (connection reused).
    let server = TestServer::start("127.0.0.1").await;
    let f = fetcher(loopback_policy("127.0.0.1"));
    let url = server.url("/img/bridge.jpg");
    f.fetch(&url).await.expect("warm up");
    let count = 300;
    let started = Instant::now();
    for _ in 0..count {
        let got = f.fetch(&url).await.expect("image");
        assert_eq!(got.sniffed_type, SniffedType::Jpeg);
    }
    let took = started.elapsed();
    eprintln!(
        "fetch: {count} x 361 KiB JPEG in {took:?}: {:.0} req/s, {:?} per request",
        f64::from(count) / took.as_secs_f64(),
        took / count
    );

    // Refusals: how fast a blocked URL is turned away (no network).
    let blocked: Url = "http://169.254.169.254/latest/meta-data/"
        .parse()
        .expect("url");
    let started = Instant::now();
    for _ in 0..10_000 {
        assert!(f.fetch(&blocked).await.is_err());
    }
    eprintln!("blocked: {:?} per refusal", started.elapsed() / 10_000);
}
