//! Browser-test harness shared by the `browser*.rs` suites: Chromium and playwright-core
//! detection (skip, or fail under `SCHOON_REQUIRE_BROWSER=1`), a loopback website with benign
//! synthetic images, report filing, user seeding and running a node script.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};
use store::accounts::{Language, NewUser, Role};
use store::{AccountStore, Actor, SqliteStore};

use super::{TestServer, image};

pub const PASSWORD: &str = "correct horse battery";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn chromium() -> PathBuf {
    std::env::var_os("SCHOON_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Whether the browser tooling is here; otherwise skip (or fail when it is required).
pub fn browser_available() -> bool {
    let mut missing = Vec::new();
    if !chromium().exists() {
        missing.push(format!(
            "{} (apt-get install chromium)",
            chromium().display()
        ));
    }
    if !repo()
        .join("tests/browser/node_modules/playwright-core")
        .exists()
    {
        missing.push("tests/browser/node_modules (cd tests/browser && npm ci)".into());
    }
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        missing.push("node".into());
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!("browser tests need: {}", missing.join(", "));
    if std::env::var("SCHOON_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("{msg} (SCHOON_REQUIRE_BROWSER=1)");
    }
    eprintln!("SKIPPED: {msg}; set SCHOON_REQUIRE_BROWSER=1 to make this a failure");
    false
}

/// The reported website: pages whose images are benign synthetic test pictures.
pub async fn website() -> String {
    fn img(bytes: Vec<u8>, ct: &'static str) -> Response {
        let mut r = bytes.into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        r
    }
    let app = Router::new()
        .route(
            "/one.html",
            get(|| async {
                axum::response::Html(
                    r#"<img src="/i/small.jpg"><img src="/i/wee.jpg"><img src="/i/c.png">"#,
                )
            }),
        )
        .route(
            "/two.html",
            get(|| async {
                axum::response::Html(
                    r#"<img src="/i/coaster.png"><img src="/i/bridge.jpg"><img src="/i/shrunk.jpg">"#,
                )
            }),
        )
        .route(
            "/other.html",
            get(|| async { axum::response::Html(r#"<img src="/i/mod.jpg">"#) }),
        )
        .route(
            "/i/small.jpg",
            get(|| async { img(image("misc-images/small.jpg"), "image/jpeg") }),
        )
        .route(
            "/i/wee.jpg",
            get(|| async { img(image("misc-images/wee.jpg"), "image/jpeg") }),
        )
        .route(
            "/i/c.png",
            get(|| async { img(image("misc-images/c.png"), "image/png") }),
        )
        .route(
            "/i/coaster.png",
            get(|| async { img(image("reg-test-input/pen-and-coaster.png"), "image/png") }),
        )
        .route(
            "/i/bridge.jpg",
            get(|| async { img(image("bridge-mods/aaa-orig.jpg"), "image/jpeg") }),
        )
        .route(
            "/i/shrunk.jpg",
            get(|| async { img(image("bridge-mods/shrink-a-lot.jpg"), "image/jpeg") }),
        )
        .route(
            "/i/mod.jpg",
            get(|| async { img(image("bridge-mods/high-contrast.jpg"), "image/jpeg") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

/// Files one report through the admin CSV intake; returns its id.
pub async fn file_report(s: &TestServer, tenant: i64, url: &str) -> i64 {
    let (st, _, v) = s
        .send(
            s.http
                .post(format!("{}/api/v1/tenants/{tenant}/reports/csv", s.base))
                .bearer_auth(&s.admin)
                .body(format!("{url}\n")),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    v["results"][0]["report_id"].as_i64().unwrap()
}

/// Waits until the report's items are fetched; returns the report view.
pub async fn processed(s: &TestServer, id: i64) -> Value {
    let start = Instant::now();
    loop {
        let (st, v) = s.admin_get(&format!("/api/v1/reports/{id}")).await;
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

pub async fn seed_user(store: &SqliteStore, tenant: i64, name: &str, role: Role) -> i64 {
    seed_user_in(store, tenant, None, name, role).await
}

/// Seeds a user bound to an organisation (provider users) or not; returns its id.
pub async fn seed_user_in(
    store: &SqliteStore,
    tenant: i64,
    org: Option<i64>,
    name: &str,
    role: Role,
) -> i64 {
    let hash = server::ui::session::hash_password(PASSWORD).unwrap();
    store
        .create_user(
            &Actor("test".into()),
            NewUser {
                tenant_id: tenant,
                org_id: org,
                username: name.into(),
                display_name: format!("{name} (test)"),
                role,
                password_hash: hash,
                language: Language::Nl,
            },
        )
        .await
        .unwrap()
        .id
}

pub fn form(fields: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(fields).unwrap()
}

pub fn output_dir() -> PathBuf {
    let d = repo().join("target/test-output/browser");
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn run_node(script: &Path, env: &[(&str, String)]) -> std::process::Output {
    let mut cmd = std::process::Command::new("node");
    cmd.arg(script).current_dir(repo().join("tests/browser"));
    cmd.env("CHROMIUM", chromium());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running node")
}
