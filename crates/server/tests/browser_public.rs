//! The public pages in a real browser: the hosting monitor ranking, one organisation's page
//! with its SVG charts, and the register of removal orders. The server's router runs on
//! loopback over a temporary SQLite database with a manual clock (no workers, so nothing but
//! the seeded records moves); takedown cases are seeded through the store as the takedown
//! workers would leave them, the order and its penalty through the regulator API. Then
//! `node tests/browser/public.mjs` drives Chromium through `playwright-core` and saves
//! `monitor.png`, `monitor-org.png` and `register.png`.
//!
//! Skipped with a message without Chromium and `tests/browser/node_modules`, unless
//! `SCHOON_REQUIRE_BROWSER=1` (see `common/browser.rs`).

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::browser::{browser_available, output_dir, repo, run_node};
use common::monitor_seed::monitored_case;
use reqwest::StatusCode;
use schoon_core::hit::ManualClock;
use serde_json::{Value, json};
use server::worker::JobRunner;
use server::{AppState, Config};
use store::SqliteStore;

const FAST: &str = "Example Hosting B.V.";
const SLOW: &str = "Slow Host & Co";

/// 1 May 2026, 10:00 UTC: the first notice.
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn h(n: i64) -> DateTime<Utc> {
    t0() + Duration::hours(n)
}

/// Seeds one takedown case at `site` hosted by `org`: noticed at `notice_at`, verified
/// removed from `gone_at` on if given. Returns the URLs and digest it used (none may appear
/// on a public page).
struct Api {
    http: reqwest::Client,
    base: String,
    admin: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.call(reqwest::Method::POST, path, body).await;
        assert!(s.is_success(), "POST {path}: {s} {v}");
        v
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_monitor_and_register_pages_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.reports.worker = false;
    let clock = Arc::new(ManualClock::new(h(24 * 30)));
    let store = Arc::new(SqliteStore::open(&config.database_path()).await.unwrap());
    let boot = server::bootstrap(store.as_ref(), "nl-hotline")
        .await
        .unwrap()
        .unwrap();
    let tenant = boot.tenant.id;

    // Fast host: removed 2 h, 5 h and 30 h after the notice; slow host: never removed.
    let mut secrets = Vec::new();
    let plan = [
        (FAST, Some(2)),
        (FAST, Some(5)),
        (FAST, Some(30)),
        (SLOW, None),
        (SLOW, None),
    ];
    for (n, (org, gone)) in plan.iter().enumerate() {
        let notice = h(24 * n as i64);
        let gone_at = gone.map(|g| notice + Duration::hours(g));
        secrets.extend(
            monitored_case(
                &store,
                tenant,
                n as u64,
                org,
                "reported.example",
                notice,
                gone_at,
                Duration::days(1),
                0xbeef_0000,
            )
            .await,
        );
    }

    let state = AppState::with_clock(store.clone(), config, clock.clone()).unwrap();
    let mut runner = JobRunner::new(state.clone(), "test-worker");
    server::regulator::register(&mut runner);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let app = server::router(state);
    let task = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let api = Api {
        http: reqwest::Client::new(),
        base: base.clone(),
        admin: boot.admin.token.clone(),
    };

    // One order to the slow host, overdue with a running penalty, published with a reply.
    let orders = format!("/api/v1/regulator/tenants/{tenant}/orders");
    let order_url = "https://reported.example/img/order.jpg";
    let order_sha = "9f".repeat(32);
    secrets.extend([order_url.to_string(), order_sha.clone()]);
    let v = api
        .post(
            &orders,
            json!({
                "reference": "ATKM-2026-0007",
                "provider": {"name": SLOW, "email": "abuse@slow.example"},
                "legal_basis": "art. 3 test act",
                "deadline_hours": 1,
                "items": [{"url": order_url, "sha256": order_sha}],
            }),
        )
        .await;
    let id = v["id"].as_i64().unwrap();
    let v = api.post(&format!("{orders}/{id}/issue"), json!({})).await;
    let link = v["order"]["provider_link"].as_str().unwrap().to_string();
    let link = &link[link.find("/api/").unwrap()..];
    let r = api.http.get(format!("{base}{link}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the provider reads its order");
    let (s, v) = api
        .call(
            reqwest::Method::PUT,
            &format!("{orders}/{id}/penalty-terms"),
            json!({"kind": "periodic", "amount_cents": 25_000, "unit": "hour", "max_cents": null}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    clock.advance(Duration::minutes(90));
    runner.run_once().await.unwrap();
    let v = api
        .post(&format!("{orders}/{id}/penalty-start"), json!({}))
        .await;
    assert_eq!(v["state"], "penalty_running", "{v}");
    clock.advance(Duration::minutes(60));
    let p = api
        .post(&format!("{orders}/{id}/accruals"), json!({}))
        .await;
    assert!(p["amount_cents"].as_u64().unwrap() > 0, "{p}");
    api.post(
        &format!("{orders}/{id}/publish"),
        json!({"published": true}),
    )
    .await;
    let (s, _) = api
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/regulator/tenants/{tenant}/replies"),
            json!({"provider_name": SLOW, "text": "We have appealed.", "published": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let script = repo().join("tests/browser/public.mjs");
    let out_dir = output_dir();
    for shot in ["monitor.png", "monitor-org.png", "register.png"] {
        let _ = std::fs::remove_file(out_dir.join(shot));
    }
    let out = tokio::task::spawn_blocking({
        let env = vec![
            ("BASE_URL", base.clone()),
            ("FAST_ORG", FAST.to_string()),
            ("SLOW_ORG", SLOW.to_string()),
            ("ORDER_REFERENCE", "ATKM-2026-0007".to_string()),
            ("SECRETS", serde_json::to_string(&secrets).unwrap()),
            ("SCREENSHOTS", out_dir.display().to_string()),
        ];
        move || run_node(&script, &env)
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser scenario failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for shot in ["monitor.png", "monitor-org.png", "register.png"] {
        let meta = std::fs::metadata(out_dir.join(shot)).unwrap();
        assert!(meta.len() > 1000, "{shot}: {} bytes", meta.len());
    }
    task.abort();
    store.close().await;
}
