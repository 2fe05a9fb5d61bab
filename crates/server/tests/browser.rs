//! The web UI end to end in a real browser: a real `schoon serve` on loopback with a temporary
//! data directory, a loopback website with synthetic images that is reported, users seeded in
//! two tenants, then `node tests/browser/ui.mjs` drives Debian's Chromium through
//! `playwright-core` (login, lock-out, blur until reveal, classification by mouse and by
//! keyboard only, 4-eyes verification, tenant isolation, language switch, admin page, TOTP set
//! up on the account page and a login with a code computed by the script).
//!
//! Needs `/usr/bin/chromium` and `tests/browser/node_modules` (`.ci/prepare` installs both).
//! Without them the browser test is skipped with a message, unless `SCHOON_REQUIRE_BROWSER=1`
//! (set by `.ci/run`), which turns the skip into a failure.

mod common;

use common::TestServer;
use common::browser::*;
use reqwest::StatusCode;
use serde_json::json;
use store::accounts::Role;
use store::{AccountStore, SqliteStore, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyst_and_verifier_work_a_report_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let site = website().await;
    let s = TestServer::start_with(|c| {
        c.fetch.allow_addresses = vec!["127.0.0.1/32".into()];
        c.fetch.timeout_secs = 5;
        c.reports.poll_interval_ms = 50;
        // The browser talks plain HTTP to loopback; the Secure flag is tested below without it.
        c.ui.plain_http = true;
    })
    .await;
    let other = s.tenant("be").await;
    let (st, _, v) = s
        .send(
            s.http
                .put(format!(
                    "{}/api/admin/tenants/{}/report-policy",
                    s.base, s.tenant
                ))
                .bearer_auth(&s.admin)
                .json(&json!({"reference_prefix": "NL", "four_eyes": true})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let one = file_report(&s, s.tenant, &format!("{site}/one.html")).await;
    let two = file_report(&s, s.tenant, &format!("{site}/two.html")).await;
    let foreign = file_report(&s, other, &format!("{site}/other.html")).await;
    for id in [one, two, foreign] {
        let v = processed(&s, id).await;
        assert_eq!(
            v["report"]["state"], "awaiting_classification",
            "report {id}: {v:#}"
        );
    }
    let foreign_item = processed(&s, foreign).await["items"][0]["id"]
        .as_i64()
        .unwrap();

    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let anna = seed_user(&store, s.tenant, "anna", Role::Analyst).await;
    let vera = seed_user(&store, s.tenant, "vera", Role::Verifier).await;
    seed_user(&store, s.tenant, "adam", Role::Admin).await;
    seed_user(&store, s.tenant, "lucy", Role::Analyst).await;
    seed_user(&store, other, "bert", Role::Analyst).await;

    let script = repo().join("tests/browser/ui.mjs");
    let out_dir = output_dir();
    let out = tokio::task::spawn_blocking({
        let env = vec![
            ("BASE_URL", s.base.clone()),
            ("SITE_ORIGIN", site.clone()),
            ("PASSWORD", PASSWORD.to_string()),
            ("REPORT_ONE", one.to_string()),
            ("REPORT_TWO", two.to_string()),
            ("REPORT_FOREIGN", foreign.to_string()),
            ("FOREIGN_ITEM", foreign_item.to_string()),
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

    // What the browser did is in the database: report one was classified by anna and agreed
    // by vera; report two was classified with the keyboard; reveals were audited and counted.
    let v = processed(&s, one).await;
    for item in v["items"].as_array().unwrap() {
        let st = item["state"].as_str().unwrap();
        assert!(!st.starts_with("awaiting_"), "{item:#}");
        assert_eq!(item["classified_by"], format!("user:{anna}"));
        assert_eq!(item["verified_by"], format!("user:{vera}"));
        assert!(item["human_views"].as_i64().unwrap() >= 1, "{item:#}");
    }
    let v = processed(&s, two).await;
    for item in v["items"].as_array().unwrap() {
        assert_ne!(item["state"], "awaiting_classification", "{item:#}");
    }
    let today = chrono::Utc::now().date_naive();
    assert!(store.exposure(anna, today).await.unwrap() >= 2);
    let events = store.audit_events(0, 100_000).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "item.reveal" && e.actor == format!("user:{anna}"))
    );
    assert!(events.iter().any(|e| e.action == "user.lockout"));
    assert!(events.iter().any(|e| e.action == "user.logout"));
    // The other tenant's item was never shown to anyone.
    assert!(!events.iter().any(|e| {
        e.subject == format!("item:{foreign_item}")
            && (e.action == "item.reveal" || e.action == "item.evidence_view")
    }));
    // Nina (created by the admin) enabled TOTP on her account page and logged in with a code
    // the script computed itself.
    let (nina, _) = store.user_by_username("nina").await.unwrap().unwrap();
    assert!(nina.totp_secret.is_some(), "TOTP not enabled for nina");
    let nina_subject = format!("user:{}", nina.id);
    assert!(
        events
            .iter()
            .any(|e| e.action == "user.totp_set" && e.subject == nina_subject)
    );
    let totp_set = events
        .iter()
        .position(|e| e.action == "user.totp_set" && e.subject == nina_subject)
        .unwrap();
    assert!(
        events[totp_set..]
            .iter()
            .any(|e| e.action == "user.login_ok" && e.subject == nina_subject),
        "no complete login after TOTP was enabled"
    );
    store.verify_audit_chain().await.unwrap();
    store.close().await;
    assert!(out_dir.join("queues.png").exists());
    assert!(out_dir.join("totp-enabled.png").exists());
}

/// Without the plain-HTTP development switch the session cookie is `Secure`, `HttpOnly`,
/// `SameSite=Strict`; pages forbid external assets. (No browser needed.)
#[tokio::test]
async fn session_cookie_is_secure_and_pages_allow_no_external_assets() {
    let s = TestServer::start().await;
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    seed_user(&store, s.tenant, "anna", Role::Analyst).await;
    store.close().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{}/ui/login", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("img-src 'self'"));
    let login_cookie = page.headers()["set-cookie"].to_str().unwrap().to_string();
    let token = login_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let resp = http
        .post(format!("{}/ui/login", s.base))
        .header("cookie", format!("schoon_login={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("username", "anna"),
            ("password", PASSWORD),
            ("token", token.as_str()),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let session = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("schoon_session="))
        .expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(session.contains(attr), "{attr} missing: {session}");
    }
    // A POST without the login cookie's token is refused (double submit).
    let resp = http
        .post(format!("{}/ui/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("username", "anna"),
            ("password", PASSWORD),
            ("token", "x"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Pages need a session.
    let resp = http
        .get(format!("{}/ui/queues", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/ui/login");
}
