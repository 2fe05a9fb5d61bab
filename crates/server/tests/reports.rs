//! Report processing end to end: a real `schoon serve` on loopback, and a real loopback HTTP
//! server playing the reported websites (benign test images, redirects, lazy loading, huge and
//! slow bodies, content-type lies, links to metadata addresses).

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderValue, StatusCode as AxStatus, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{TestServer, hashes, image};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The reported website.
async fn website() -> String {
    fn img(bytes: Vec<u8>, ct: &'static str) -> Response {
        let mut r = bytes.into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        r
    }
    let page = r#"<html><head><meta property="og:image" content="/img/known.jpg"></head><body>
        <img src="/img/known.jpg">
        <img src="/img/allowed.png">
        <picture><source srcset="/img/shrunk.jpg 1x"><img src="/img/known.jpg"></picture>
        <img class="lazy" data-src="/img/lazy.jpg">
        <a href="/go/photo.png">photo</a>
        <img src="/img/lie">
        <img src="/img/huge.jpg">
        <img src="/img/slow.jpg">
        <img src="http://169.254.169.254/latest/meta-data/x.jpg">
        <img src="http://127.0.0.2:1/x.jpg">
        </body></html>"#;
    let app = Router::new()
        .route(
            "/page.html",
            get(move || async move { axum::response::Html(page) }),
        )
        .route(
            "/copy.html",
            get(|| async { axum::response::Html(r#"<img src="/copy/lazy-again.jpg">"#) }),
        )
        .route(
            "/allowed-only.html",
            get(|| async { axum::response::Html(r#"<img src="/img/allowed.png">"#) }),
        )
        .route(
            "/one.html",
            get(|| async { axum::response::Html(r#"<img src="/img/wee.jpg">"#) }),
        )
        .route(
            "/img/known.jpg",
            get(|| async { img(image("bridge-mods/aaa-orig.jpg"), "image/jpeg") }),
        )
        .route(
            "/img/shrunk.jpg",
            get(|| async { img(image("bridge-mods/shrink-a-lot.jpg"), "image/jpeg") }),
        )
        .route(
            "/img/allowed.png",
            get(|| async { img(image("misc-images/c.png"), "image/png") }),
        )
        .route(
            "/img/lazy.jpg",
            get(|| async { img(image("misc-images/small.jpg"), "image/jpeg") }),
        )
        .route(
            "/copy/lazy-again.jpg",
            get(|| async { img(image("misc-images/small.jpg"), "image/jpeg") }),
        )
        .route(
            "/img/wee.jpg",
            get(|| async { img(image("misc-images/wee.jpg"), "image/jpeg") }),
        )
        .route(
            "/go/photo.png",
            get(|| async {
                (
                    AxStatus::FOUND,
                    [(header::LOCATION, "/final/photo.png")],
                    "moved",
                )
            }),
        )
        .route(
            "/final/photo.png",
            get(|| async { img(image("reg-test-input/pen-and-coaster.png"), "image/png") }),
        )
        // A JPEG that claims to be HTML.
        .route(
            "/img/lie",
            get(|| async { img(image("misc-images/wee.jpg"), "text/html") }),
        )
        .route(
            "/img/huge.jpg",
            get(|| async { img(vec![0xffu8; 3 << 20], "image/jpeg") }),
        )
        .route(
            "/img/slow.jpg",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                img(image("misc-images/wee.jpg"), "image/jpeg")
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

async fn server(adjust: impl FnOnce(&mut server::Config)) -> TestServer {
    TestServer::start_with(|c| {
        c.fetch.allow_addresses = vec!["127.0.0.1/32".into()];
        c.fetch.timeout_secs = 2;
        c.limits.max_media_bytes = 2 << 20;
        c.reports.poll_interval_ms = 50;
        adjust(c);
    })
    .await
}

async fn put(s: &TestServer, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let (st, _, v) = s
        .send(
            s.http
                .put(format!("{}{path}", s.base))
                .bearer_auth(token)
                .json(&body),
        )
        .await;
    (st, v)
}

async fn post(s: &TestServer, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let (st, _, v) = s
        .send(
            s.http
                .post(format!("{}{path}", s.base))
                .bearer_auth(token)
                .json(&body),
        )
        .await;
    (st, v)
}

async fn get_json(s: &TestServer, token: &str, path: &str) -> (StatusCode, Value) {
    let (st, _, v) = s
        .send(s.http.get(format!("{}{path}", s.base)).bearer_auth(token))
        .await;
    (st, v)
}

/// Waits until the report has left `processing`.
async fn processed(s: &TestServer, id: i64) -> Value {
    let start = Instant::now();
    loop {
        let (st, v) = get_json(s, &s.admin, &format!("/api/v1/reports/{id}")).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        if v["report"]["state"] != json!("processing") {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still processing: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn item<'a>(v: &'a Value, url_end: &str) -> &'a Value {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["url"].as_str().unwrap().ends_with(url_end))
        .unwrap_or_else(|| panic!("no item {url_end} in {v:#}"))
}

/// A second admin token (a second analyst), created directly on the data directory.
async fn second_analyst(s: &TestServer) -> String {
    let store = store::SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let k = server::ops::create_admin_token(&store, &store::Actor("test".into()), "analyst b")
        .await
        .unwrap();
    store.close().await;
    k.token
}

/// Sets up lists and a partner; returns (partner token, known list id).
async fn setup(s: &TestServer, four_eyes: bool) -> (String, i64) {
    let known = s.list(s.tenant, "known-nl", "known").await;
    let allow = s.list(s.tenant, "cms-defaults", "allow").await;
    let (known_pdq, _) = hashes("bridge-mods/aaa-orig.jpg");
    let (_, allowed_sha) = hashes("misc-images/c.png");
    s.upload_ok(
        known,
        "type=pdq&category=baseline",
        &format!("{known_pdq}\n"),
    )
    .await;
    s.upload_ok(allow, "type=sha256", &format!("{allowed_sha}\n"))
        .await;
    let (st, v) = put(
        s,
        &s.admin,
        &format!("/api/admin/tenants/{}/report-policy", s.tenant),
        json!({"reference_prefix": "NL", "four_eyes": four_eyes}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let partner = s.key(s.tenant, "Partner hotline").await;
    let (st, v) = put(
        s,
        &s.admin,
        &format!("/api/admin/organisations/{}/report-partner", partner.org),
        json!({"kind": "hotline"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    (partner.token, known)
}

#[tokio::test]
async fn a_reported_page_is_fetched_hashed_matched_and_classified_with_four_eyes() {
    let site = website().await;
    let s = server(|_| {}).await;
    let (partner, known_list) = setup(&s, true).await;

    // A check key that is not a registered partner may not report.
    let outsider = s.key(s.tenant, "Some provider").await;
    let (st, _) = post(
        &s,
        &outsider.token,
        "/api/v1/reports",
        json!({"reports": [{"url": format!("{site}/page.html")}]}),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    let (st, v) = post(
        &s,
        &partner,
        "/api/v1/reports",
        json!({"reports": [{"url": format!("{site}/page.html#top"), "note": "seen on a forum"}]}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let r0 = &v["results"][0];
    let reference = r0["reference"].as_str().unwrap().to_string();
    assert!(
        reference.starts_with("NL-20") && reference.ends_with("-000001"),
        "{reference}"
    );
    assert_eq!(r0["joined"], json!(false));
    let id = r0["report_id"].as_i64().unwrap();

    let v = processed(&s, id).await;
    assert_eq!(
        v["report"]["state"],
        json!("awaiting_classification"),
        "{v:#}"
    );

    let known = item(&v, "/img/known.jpg");
    assert_eq!(known["state"], json!("notice_pending"));
    assert_eq!(known["classification"], json!("baseline"));
    assert_eq!(known["classified_how"], json!("auto"));
    assert_eq!(known["auto_list_id"], json!(known_list));
    assert!(
        known["classified_by"]
            .as_str()
            .unwrap()
            .starts_with(&format!("auto:list:{known_list}:entry:"))
    );
    assert_eq!(known["human_views"], json!(0));
    assert!(known["evidence_ref"].is_string());

    // A resized copy: different bytes, PDQ within the list radius → also automatic.
    let shrunk = item(&v, "/img/shrunk.jpg");
    assert_eq!(shrunk["state"], json!("notice_pending"), "{shrunk}");
    assert_eq!(shrunk["classified_how"], json!("auto"));
    assert_ne!(shrunk["sha256"], known["sha256"]);
    assert_eq!(item(&v, "/img/allowed.png")["state"], json!("ignored"));
    let lazy = item(&v, "/img/lazy.jpg");
    assert_eq!(lazy["state"], json!("awaiting_classification"));
    assert_eq!(lazy["found_as"], json!("lazy_img"));
    assert!(lazy["pdq"].as_str().unwrap().len() == 64);
    let redirected = item(&v, "/go/photo.png");
    assert_eq!(redirected["state"], json!("awaiting_classification"));
    assert_eq!(redirected["content_type"], json!("image/png"));
    let lie = item(&v, "/img/lie");
    assert_eq!(lie["state"], json!("awaiting_classification"));
    assert_eq!(lie["content_type"], json!("image/jpeg"));
    for bad in [
        "/img/huge.jpg",
        "/img/slow.jpg",
        "/meta-data/x.jpg",
        "127.0.0.2:1/x.jpg",
    ] {
        let i = item(&v, bad);
        assert_eq!(i["state"], json!("unavailable"), "{bad}: {i}");
        assert!(i["evidence_ref"].is_null(), "{bad}");
    }
    let meta_err = item(&v, "/meta-data/x.jpg")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(meta_err.contains("blocked"), "{meta_err}");
    // og:image repeats known.jpg: de-duplicated to one item.
    let n_known = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["url"].as_str().unwrap().ends_with("/img/known.jpg"))
        .count();
    assert_eq!(n_known, 1);

    // The same URL (other case, fragment, default port) joins the open case.
    let again = site.replace("http://", "HTTP://") + "/page.html#again";
    let (st, v2) = post(
        &s,
        &partner,
        "/api/v1/reports",
        json!({"reports": [{"url": again}]}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v2}");
    assert_eq!(v2["results"][0]["joined"], json!(true));
    assert_eq!(v2["results"][0]["reference"], json!(reference));
    let (_, v) = get_json(&s, &s.admin, &format!("/api/v1/reports/{id}")).await;
    assert_eq!(v["report"]["submissions"], json!(2));

    // Analyst A takes the next report: a lock.
    let analyst_b = second_analyst(&s).await;
    let (st, next) = post(
        &s,
        &s.admin,
        &format!("/api/v1/tenants/{}/classify/next", s.tenant),
        json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{next}");
    assert_eq!(next["report"]["id"], json!(id));
    // B collides with A's lock.
    let (st, _) = post(
        &s,
        &analyst_b,
        &format!("/api/v1/reports/{id}/lock"),
        json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let lazy_id = lazy["id"].as_i64().unwrap();
    let (st, _) = post(
        &s,
        &analyst_b,
        "/api/v1/items/classify",
        json!({"items": [lazy_id], "classification": "national"}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    // And gets nothing else to do.
    let (st, _) = post(
        &s,
        &analyst_b,
        &format!("/api/v1/tenants/{}/classify/next", s.tenant),
        json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);

    // A views the evidence (audited, not cached) and classifies.
    let resp = s
        .http
        .get(format!("{}/api/v1/items/{lazy_id}/evidence", s.base))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert_eq!(
        resp.bytes().await.unwrap().to_vec(),
        image("misc-images/small.jpg")
    );

    let (st, v) = post(
        &s,
        &s.admin,
        "/api/v1/items/classify",
        json!({"items": [lazy_id], "classification": "baseline",
               "attributes": {"age_group": "pubescent", "virtual_content": false}}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v[0]["state"], json!("awaiting_verification"));
    // Notices are held: the item is not notice_pending until a second analyst agrees.
    let (st, _) = post(
        &s,
        &s.admin,
        "/api/v1/items/verify",
        json!({"items": [lazy_id], "agree": true}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "the same analyst cannot verify");
    let others: Vec<i64> = ["/go/photo.png", "/img/lie"]
        .iter()
        .map(|u| item(&next, u)["id"].as_i64().unwrap())
        .collect();
    let (st, v) = post(
        &s,
        &s.admin,
        "/api/v1/items/classify",
        json!({"items": others, "classification": "not_illegal"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, _, _) = s
        .send(
            s.http
                .delete(format!("{}/api/v1/reports/{id}/lock", s.base))
                .bearer_auth(&s.admin),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, v) = get_json(&s, &s.admin, &format!("/api/v1/reports/{id}")).await;
    assert_eq!(v["report"]["state"], json!("awaiting_verification"));

    // B verifies.
    let (st, next_b) = post(
        &s,
        &analyst_b,
        &format!("/api/v1/tenants/{}/classify/next", s.tenant),
        json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{next_b}");
    let (st, v) = post(
        &s,
        &analyst_b,
        "/api/v1/items/verify",
        json!({"items": [lazy_id], "agree": true}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v[0]["state"], json!("notice_pending"));
    assert!(v[0]["verified_by"].as_str().unwrap() != v[0]["classified_by"].as_str().unwrap());
    let (_, v) = get_json(&s, &s.admin, &format!("/api/v1/reports/{id}")).await;
    assert_eq!(v["report"]["state"], json!("notice_pending"));
    assert_eq!(item(&v, "/img/lazy.jpg")["human_views"], json!(1));
    assert_eq!(item(&v, "/img/known.jpg")["human_views"], json!(0));

    // The same bytes elsewhere inherit the verdict, with a link.
    let (st, v) = post(
        &s,
        &partner,
        "/api/v1/reports",
        json!({"reports": [{"url": format!("{site}/copy.html")}]}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let copy = processed(&s, v["results"][0]["report_id"].as_i64().unwrap()).await;
    let inherited = item(&copy, "/copy/lazy-again.jpg");
    assert_eq!(inherited["state"], json!("notice_pending"));
    assert_eq!(inherited["classified_how"], json!("inherited"));
    assert_eq!(inherited["inherited_from"], json!(lazy_id));

    // One action puts the item's hashes on a list, with provenance.
    let (st, v) = post(
        &s,
        &s.admin,
        &format!("/api/v1/items/{lazy_id}/add-to-list"),
        json!({"list_id": known_list}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["added"], json!(4));
    let (_, entries) = get_json(
        &s,
        &s.admin,
        &format!("/api/admin/lists/{known_list}/entries"),
    )
    .await;
    let text = entries.to_string();
    assert!(
        text.contains(&format!("{reference} item {lazy_id}")),
        "{text}"
    );

    // The timeline shows every step with its actor.
    let (st, tl) = get_json(&s, &s.admin, &format!("/api/v1/reports/{id}/timeline")).await;
    assert_eq!(st, StatusCode::OK);
    let actions: Vec<&str> = tl
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "report.create",
        "report.join",
        "report.fetch",
        "item.create",
        "item.process",
        "report.lock",
        "item.evidence_view",
        "item.classify",
        "item.verify",
        "report.state",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let (st, ok) = get_json(&s, &s.admin, "/api/admin/audit/verify").await;
    assert_eq!(st, StatusCode::OK, "{ok}");
}

#[tokio::test]
async fn csv_upload_is_all_or_nothing_with_line_numbers() {
    let s = server(|c| c.reports.worker = false).await;
    let path = format!("/api/v1/tenants/{}/reports/csv", s.tenant);
    let bad = "url;referer;note;source\nhttps://a.example/x;;first;hotline\nnot a url;;;\nhttps://b.example/;;;police\n";
    let (st, _, v) = s
        .send(
            s.http
                .post(format!("{}{path}", s.base))
                .bearer_auth(&s.admin)
                .body(bad),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["errors"][0]["line"], json!(3), "{v}");
    assert_eq!(v["errors"].as_array().unwrap().len(), 1);

    let good = "url;referer;note;source\nhttps://a.example/x;;first;hotline\nhttps://b.example/;https://ref.example/;;police\n";
    let (st, _, v) = s
        .send(
            s.http
                .post(format!("{}{path}", s.base))
                .bearer_auth(&s.admin)
                .body(good),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // Nothing of the refused file was filed: these are new reports, numbered from 1.
    assert_eq!(v["results"][0]["joined"], json!(false));
    assert!(
        v["results"][0]["reference"]
            .as_str()
            .unwrap()
            .ends_with("-000001"),
        "{v}"
    );
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn evidence_of_closed_reports_is_purged_after_retention() {
    let site = website().await;
    let s = server(|c| {
        c.reports.retention_hours = 0;
        c.reports.purge_interval_secs = 3600;
    })
    .await;
    let (partner, _) = setup(&s, false).await;
    let (_, v) = post(
        &s,
        &partner,
        "/api/v1/reports",
        json!({"reports": [
            {"url": format!("{site}/allowed-only.html")},
            {"url": format!("{site}/one.html")},
        ]}),
    )
    .await;
    let closed_id = v["results"][0]["report_id"].as_i64().unwrap();
    let open_id = v["results"][1]["report_id"].as_i64().unwrap();
    let closed = processed(&s, closed_id).await;
    assert_eq!(closed["report"]["state"], json!("closed"), "{closed:#}");
    let open = processed(&s, open_id).await;
    assert_eq!(open["report"]["state"], json!("awaiting_classification"));
    let closed_item = item(&closed, "/img/allowed.png")["id"].as_i64().unwrap();
    let open_item = item(&open, "/img/wee.jpg")["id"].as_i64().unwrap();
    let vault_dir = s.dir.path().join("vault");
    assert!(vault_dir.exists());

    let (st, _) = post(&s, &s.admin, "/api/admin/reports/purge", json!({})).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let start = Instant::now();
    loop {
        let (_, v) = get_json(&s, &s.admin, &format!("/api/v1/reports/{closed_id}")).await;
        if !v["items"][0]["evidence_purged_at"].is_null() {
            assert!(
                v["report"]["page_evidence"].is_null(),
                "page evidence purged too"
            );
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "not purged: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (st, v) = get_json(
        &s,
        &s.admin,
        &format!("/api/v1/items/{closed_item}/evidence"),
    )
    .await;
    assert_eq!(st, StatusCode::GONE, "{v}");
    // The open case keeps its evidence.
    let resp = s
        .http
        .get(format!("{}/api/v1/items/{open_item}/evidence", s.base))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.bytes().await.unwrap().to_vec(),
        image("misc-images/wee.jpg")
    );
    let (_, tl) = get_json(
        &s,
        &s.admin,
        &format!("/api/v1/items/{closed_item}/timeline"),
    )
    .await;
    assert!(tl.to_string().contains("item.evidence_purge"), "{tl}");
}

#[tokio::test]
async fn loopback_is_refused_unless_allow_listed() {
    let site = website().await;
    let s = TestServer::start_with(|c| {
        c.fetch.timeout_secs = 2;
        c.reports.poll_interval_ms = 50;
    })
    .await;
    let (partner, _) = setup(&s, false).await;
    let (st, v) = post(
        &s,
        &partner,
        "/api/v1/reports",
        json!({"reports": [{"url": format!("{site}/page.html")}]}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let v = processed(&s, v["results"][0]["report_id"].as_i64().unwrap()).await;
    assert_eq!(v["report"]["state"], json!("cannot_fetch"), "{v:#}");
    assert!(
        v["report"]["fetch_error"]
            .as_str()
            .unwrap()
            .contains("blocked"),
        "{v:#}"
    );
    assert!(v["items"].as_array().unwrap().is_empty());

    // An analyst can send it back to processing; still refused, so it ends where it was.
    let id = v["report"]["id"].as_i64().unwrap();
    let (st, r) = post(
        &s,
        &s.admin,
        &format!("/api/v1/reports/{id}/refetch"),
        json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["state"], json!("processing"));
    let v = processed(&s, id).await;
    assert_eq!(v["report"]["state"], json!("cannot_fetch"));
    let (_, tl) = get_json(&s, &s.admin, &format!("/api/v1/reports/{id}/timeline")).await;
    let fetches = tl
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == json!("report.fetch"))
        .count();
    assert_eq!(fetches, 2, "{tl}");
    assert!(tl.to_string().contains("report.refetch"));
}

#[tokio::test]
async fn public_form_is_csrf_protected_and_rate_limited() {
    let s = server(|c| {
        c.reports.public_form_per_minute = 2;
        c.reports.worker = false;
    })
    .await;
    let html = s
        .http
        .get(format!("{}/report", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), StatusCode::OK);
    let csp = html.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"));
    let body = html.text().await.unwrap();
    assert!(
        !body.contains("http://") && !body.contains("https://"),
        "no external assets"
    );
    let token = body
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();

    let send = |token: String, url: &str| {
        s.http
            .post(format!("{}/report", s.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                serde_urlencoded::to_string([
                    ("token", token.as_str()),
                    ("url", url),
                    ("note", "<b>x</b>"),
                    ("email", ""),
                ])
                .unwrap(),
            )
            .send()
    };
    // A forged token is refused (and counts against the limit, like any attempt).
    let r = send("1.deadbeef".into(), "https://a.example/")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = send(token.clone(), "https://a.example/").await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let page = r.text().await.unwrap();
    assert!(page.contains("-000001"), "{page}");
    let r = send(token.clone(), "https://b.example/").await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
}
