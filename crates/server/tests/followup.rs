//! Hit follow-up end to end: a real HTTP server on loopback plays the provider's public site,
//! the schoon API runs in-process over SQLite with a test-driven clock, and the job runner is
//! stepped by the test (so deadlines and retry spacing need no sleeping).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use reqwest::StatusCode as RStatus;
use schoon_core::hit::{Clock, ManualClock};
use serde_json::{Value, json};
use server::worker::JobRunner;
use server::{AppState, Config};
use store::{FollowupStore, SqliteStore, Store};

/// What the provider's site does for one path.
#[derive(Clone)]
enum Page {
    Serve(Vec<u8>),
    Gone,
    Broken,
}

type Site = Arc<Mutex<HashMap<String, Page>>>;

async fn page(State(site): State<Site>, Path(p): Path<String>) -> Response {
    let page = site.lock().unwrap().get(&p).cloned();
    match page {
        Some(Page::Serve(b)) => ([("content-type", "image/jpeg")], b).into_response(),
        Some(Page::Broken) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Some(Page::Gone) | None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn start_site() -> (Site, String) {
    let site: Site = Arc::default();
    let app = axum::Router::new()
        .route("/{p}", axum::routing::get(page))
        .with_state(site.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (site, format!("http://{addr}"))
}

/// schoon in-process: state with the manual clock, the API on loopback, a stepped runner.
struct Schoon {
    base: String,
    store: Arc<SqliteStore>,
    runner: JobRunner,
    task: tokio::task::JoinHandle<()>,
}

impl Schoon {
    async fn start(dir: &std::path::Path, clock: Arc<ManualClock>) -> Schoon {
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.to_path_buf(),
            ..Config::default()
        };
        config.fetch.allow_addresses = vec!["127.0.0.1/32".into()];
        config.fetch.timeout_secs = 5;
        let store = Arc::new(SqliteStore::open(&config.database_path()).await.unwrap());
        let state = AppState::with_clock(store.clone(), config, clock).unwrap();
        state.matchers.refresh_changed().await.unwrap();
        let mut runner = JobRunner::new(state.clone(), "test-worker");
        server::followup::register(&mut runner);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let app = server::router(state);
        let task = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        Schoon {
            base,
            store,
            runner,
            task,
        }
    }

    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        self.store.close().await;
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (RStatus, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let s = r.status();
        let t = r.text().await.unwrap();
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }
    async fn post(&self, path: &str, token: &str, body: Value) -> (RStatus, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }
    async fn get(&self, path: &str, token: &str) -> (RStatus, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }
}

struct Fixture {
    api: Api,
    admin: String,
    tenant: i64,
    token: String,
    list: i64,
    pdq: String,
}

/// Bootstraps a tenant, an organisation with a key, and a known list holding the PDQ of the
/// benign bridge photo.
async fn fixture(s: &Schoon) -> Fixture {
    let boot = server::bootstrap(s.store.as_ref(), "nl")
        .await
        .unwrap()
        .unwrap();
    let api = Api {
        http: reqwest::Client::new(),
        base: s.base.clone(),
    };
    let admin = boot.admin.token.clone();
    let tenant = boot.tenant.id;
    let (st, v) = api
        .post(
            &format!("/api/admin/tenants/{tenant}/organisations"),
            &admin,
            json!({"name": "Host A"}),
        )
        .await;
    assert_eq!(st, RStatus::CREATED, "{v}");
    let org = v["id"].as_i64().unwrap();
    let (_, v) = api
        .post(
            &format!("/api/admin/organisations/{org}/keys"),
            &admin,
            json!({"label": "k"}),
        )
        .await;
    let token = v["token"].as_str().unwrap().to_string();
    let (_, v) = api
        .post(
            &format!("/api/admin/tenants/{tenant}/lists"),
            &admin,
            json!({"name": "known", "kind": "known"}),
        )
        .await;
    let list = v["id"].as_i64().unwrap();
    let (pdq, _) = common::hashes("bridge-mods/aaa-orig.jpg");
    let r = api
        .http
        .post(format!(
            "{}/api/admin/lists/{list}/entries?type=pdq&category=baseline",
            api.base
        ))
        .bearer_auth(&admin)
        .body(format!("{pdq}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), RStatus::OK);
    Fixture {
        api,
        admin,
        tenant,
        token,
        list,
        pdq,
    }
}

impl Fixture {
    /// Checks the listed PDQ (a near-duplicate, distance 3) with a content URL; returns the hit id.
    async fn hit(&self, url: Option<String>) -> i64 {
        let q = common::pdq_at_distance(&self.pdq, 3);
        let (st, v) = self
            .api
            .post(
                "/api/v1/check",
                &self.token,
                json!({"hashes": [{"type": "pdq", "value": q, "content_url": url}]}),
            )
            .await;
        assert_eq!(st, RStatus::OK, "{v}");
        assert_eq!(v["results"][0]["matched"], true, "{v}");
        v["results"][0]["matches"][0]["hit_id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no hit id in {v}"))
    }

    async fn show(&self, id: i64) -> Value {
        let (st, v) = self
            .api
            .get(&format!("/api/v1/hits/{id}"), &self.token)
            .await;
        assert_eq!(st, RStatus::OK, "{v}");
        v
    }

    async fn ack(&self, id: i64, action: &str) -> (RStatus, Value) {
        self.api
            .post(
                &format!("/api/v1/hits/{id}/acknowledge"),
                &self.token,
                json!({"action": action, "note": "done"}),
            )
            .await
    }
}

fn wall_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(schoon_core::audit::now()))
}

#[tokio::test]
async fn verification_sweeps_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let clock = wall_clock();
    let t0 = clock.now();
    let s = Schoon::start(dir.path(), clock.clone()).await;
    let f = fixture(&s).await;
    let (site, site_base) = start_site().await;
    let orig = common::image("bridge-mods/aaa-orig.jpg");
    let other = common::image("misc-images/c.png");
    {
        let mut m = site.lock().unwrap();
        for p in ["a", "b", "c", "d", "g"] {
            m.insert(p.to_string(), Page::Serve(orig.clone()));
        }
    }
    let url = |p: &str| Some(format!("{site_base}/{p}"));
    // All hits first (a later check on the same entry would flag re-occurrence).
    let a = f.hit(url("a")).await; // removed, then really gone → verified
    let b = f.hit(url("b")).await; // "removed", still served → verification_failed
    let c = f.hit(url("c")).await; // blocked, different image served → verified
    let d = f.hit(url("d")).await; // removed, site broken 3× spaced → verified
    let e = f.hit(None).await; // silence → overdue → escalated
    let g = f.hit(url("g")).await; // silence, but silently removed → verified at the deadline
    assert_eq!(f.show(a).await["state"], "open");

    // Unknown action and wrong org are refused cleanly.
    let (st, v) = f.ack(a, "deleted").await;
    assert_eq!(st, RStatus::BAD_REQUEST, "{v}");

    clock.advance(Duration::hours(1));
    site.lock().unwrap().insert("a".into(), Page::Gone);
    site.lock()
        .unwrap()
        .insert("c".into(), Page::Serve(other.clone()));
    site.lock().unwrap().insert("d".into(), Page::Broken);
    for (id, action) in [
        (a, "removed"),
        (b, "removed"),
        (c, "blocked"),
        (d, "removed"),
    ] {
        let (st, v) = f.ack(id, action).await;
        assert_eq!(st, RStatus::OK, "{v}");
        assert_eq!(v["state"], "acknowledged");
        assert_eq!(v["action"], action);
    }
    // Acknowledging twice is a conflict with the current state.
    let (st, v) = f.ack(a, "removed").await;
    assert_eq!(st, RStatus::CONFLICT, "{v}");

    clock.advance(Duration::hours(1));
    s.runner.run_once().await.unwrap();
    assert_eq!(f.show(a).await["state"], "verified");
    assert_eq!(f.show(b).await["state"], "verification_failed");
    assert_eq!(f.show(c).await["state"], "verified");
    let vd = f.show(d).await;
    assert_eq!(vd["state"], "acknowledged", "one miss is not enough");
    assert_eq!(vd["verify_misses"], 1);

    // Not yet due: nothing happens without the clock moving.
    s.runner.run_once().await.unwrap();
    assert_eq!(f.show(d).await["verify_misses"], 1);
    clock.advance(Duration::minutes(15));
    s.runner.run_once().await.unwrap();
    assert_eq!(f.show(d).await["verify_misses"], 2);
    clock.advance(Duration::minutes(15));
    s.runner.run_once().await.unwrap();
    assert_eq!(f.show(d).await["state"], "verified");

    // The deadline (24 h): silence goes overdue; the hit with a URL is checked at once.
    site.lock().unwrap().insert("g".into(), Page::Gone);
    clock.set(t0 + Duration::hours(24) + Duration::minutes(1));
    s.runner.run_once().await.unwrap();
    assert_eq!(f.show(e).await["state"], "overdue");
    assert_eq!(f.show(g).await["state"], "verified");
    let (_, list) = f.api.get("/api/v1/hits?state=overdue", &f.token).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], e);
    let (_, esc) = f.api.get("/api/admin/escalations", &f.admin).await;
    assert_eq!(esc.as_array().unwrap().len(), 0);
    // After the grace period (24 h): escalated, with a record for the regulator.
    clock.set(t0 + Duration::hours(48) + Duration::minutes(2));
    s.runner.run_once().await.unwrap();
    s.runner.run_once().await.unwrap(); // idempotent
    assert_eq!(f.show(e).await["state"], "escalated");
    let (_, esc) = f.api.get("/api/admin/escalations", &f.admin).await;
    assert_eq!(esc.as_array().unwrap().len(), 1, "{esc}");
    assert_eq!(esc[0]["hit_id"], e);

    // Every transition is in the audit log with its actor, and the chain holds.
    let events = s.store.audit_events(0, 10_000).await.unwrap();
    let on_a: Vec<_> = events
        .iter()
        .filter(|ev| ev.subject == format!("hit:{a}"))
        .map(|ev| (ev.action.as_str(), ev.actor.as_str()))
        .collect();
    assert_eq!(on_a[0].0, "hit.create");
    assert_eq!(on_a[1].0, "hit.acknowledge");
    assert!(on_a[1].1.starts_with("key:"));
    assert_eq!(on_a[2], ("hit.verified", "system"));
    s.store.verify_audit_chain().await.unwrap();

    // Re-occurrence: the same organisation matches the same entry again after removal.
    let again = f.hit(url("a")).await;
    assert_ne!(again, a);
    // Every removal claim on that entry is flagged (a, b, c, d), the silent ones are not.
    for id in [a, b, c, d] {
        assert_eq!(f.show(id).await["reoccurred"], true, "hit {id}");
    }
    assert_eq!(f.show(again).await["reoccurred"], false);
    assert_eq!(f.show(e).await["reoccurred"], false, "no removal claimed");

    // Metrics over the known timeline (hours from t0; creation happened at ≈ t0).
    let (st, m) = f
        .api
        .get(
            &format!(
                "/api/admin/tenants/{}/followup/metrics?since={}",
                f.tenant,
                (t0 - Duration::minutes(1)).to_rfc3339().replace('+', "%2B")
            ),
            &f.admin,
        )
        .await;
    assert_eq!(st, RStatus::OK, "{m}");
    let o = &m["organisations"][0];
    assert_eq!(o["hits"], 7);
    assert_eq!(o["acknowledged"], 4);
    let close = |v: &Value, want: f64| {
        let x = v.as_f64().unwrap_or(f64::NAN);
        assert!((x - want).abs() < 0.02, "{x} vs {want}");
    };
    close(&o["acknowledged_share"], 4.0 / 7.0);
    close(&o["ack_hours_median"], 1.0);
    // verified: a, c at 2 h; d at 2.5 h; g at 24 h → median 2, p90 24
    close(&o["removal_hours_median"], 2.0);
    close(&o["removal_hours_p90"], 24.0);
    close(&o["verification_pass_rate"], 4.0 / 5.0);
    close(&o["reoccurrence_rate"], 1.0);
    assert_eq!(o["overdue"], 2);
    let r = f
        .api
        .http
        .get(format!(
            "{}/api/v1/followup/metrics?format=csv&since=2000-01-01",
            f.api.base
        ))
        .bearer_auth(&f.token)
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("org,hits,acknowledged,"));
    assert!(lines[1].starts_with("\"Host A\",7,4,"), "{csv}");
    s.stop().await;
}

#[tokio::test]
async fn queue_survives_a_restart_mid_way() {
    let dir = tempfile::tempdir().unwrap();
    let clock = wall_clock();
    let s = Schoon::start(dir.path(), clock.clone()).await;
    let f = fixture(&s).await;
    let (site, site_base) = start_site().await;
    site.lock().unwrap().insert("x".into(), Page::Broken);
    let x = f.hit(Some(format!("{site_base}/x"))).await;
    let y = f.hit(Some(format!("{site_base}/y"))).await; // 404 from the start
    // y is acknowledged first, so its job is the first one due.
    assert_eq!(f.ack(y, "removed").await.0, RStatus::OK);
    assert_eq!(f.ack(x, "removed").await.0, RStatus::OK);
    // First attempt on x: a miss, the retry is queued 15 min later.
    // y's job is claimed by a worker that then dies (lease held, never completed).
    let claimed = s
        .store
        .claim_jobs_at(
            "doomed",
            &["hit.verify"],
            1,
            Duration::minutes(5),
            clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let doomed = claimed[0].id;
    s.runner.run_once().await.unwrap();
    s.stop().await;

    // Restart on the same data directory.
    clock.advance(Duration::minutes(16));
    let s = Schoon::start(dir.path(), clock.clone()).await;
    let f = Fixture {
        api: Api {
            http: reqwest::Client::new(),
            base: s.base.clone(),
        },
        ..f
    };
    s.runner.run_once().await.unwrap(); // x's second attempt; y's lease has expired → redelivered
    assert_eq!(f.show(x).await["verify_misses"], 2);
    assert_eq!(claimed[0].payload["hit_id"], y);
    assert_eq!(f.show(y).await["state"], "verified");
    let j = s.store.job(doomed).await.unwrap().unwrap();
    assert_eq!(j.status, store::JobStatus::Done);
    assert_eq!(j.attempts, 2, "redelivered once after the lost lease");
    clock.advance(Duration::minutes(16));
    s.runner.run_once().await.unwrap();
    assert_eq!(f.show(x).await["state"], "verified");
    // Nothing ran twice to a different outcome: one verification event per hit.
    for id in [x, y] {
        let n = s
            .store
            .audit_events(0, 10_000)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.subject == format!("hit:{id}") && e.action.starts_with("hit.verif"))
            .count();
        assert_eq!(n, 1, "hit {id}");
    }
    // A removal claim whose job was never enqueued (crash between the acknowledgement and the
    // enqueue) gets it from the sweep.
    let z = f.hit(Some(format!("{site_base}/z"))).await;
    s.store
        .apply_hit_event(
            &store::Actor("key:test".into()),
            z,
            schoon_core::hit::HitEvent::Acknowledge(schoon_core::hit::AckAction::Removed),
            None,
            clock.now(),
        )
        .await
        .unwrap();
    s.runner.run_once().await.unwrap();
    assert_eq!(f.show(z).await["state"], "verified");
    // All verification jobs are done; none pending or dead.
    for id in 1..=10 {
        if let Some(j) = s.store.job(id).await.unwrap() {
            assert_eq!(j.status, store::JobStatus::Done, "{j:?}");
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn disputes_reviews_and_revocation_feed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = wall_clock();
    let s = Schoon::start(dir.path(), clock.clone()).await;
    let f = fixture(&s).await;
    let h1 = f.hit(None).await;
    let h2 = f.hit(None).await;
    let before = clock.now();

    // A dispute needs a note; then the list owner upholds: open again, deadline restarts.
    let (st, _) = f
        .api
        .post(
            &format!("/api/v1/hits/{h1}/dispute"),
            &f.token,
            json!({"note": " "}),
        )
        .await;
    assert_eq!(st, RStatus::BAD_REQUEST);
    let (st, v) = f
        .api
        .post(
            &format!("/api/v1/hits/{h1}/dispute"),
            &f.token,
            json!({"note": "this is our logo"}),
        )
        .await;
    assert_eq!(st, RStatus::OK, "{v}");
    assert_eq!(v["action"], "false_positive");
    clock.advance(Duration::hours(10));
    let (st, v) = f
        .api
        .post(
            &format!("/api/admin/hits/{h1}/review"),
            &f.admin,
            json!({"outcome": "upheld", "reason": "assessed again: illegal"}),
        )
        .await;
    assert_eq!(st, RStatus::OK, "{v}");
    assert_eq!(v["state"], "open");
    let deadline = chrono::DateTime::parse_from_rfc3339(v["deadline"].as_str().unwrap()).unwrap();
    assert_eq!(deadline.to_utc(), clock.now() + Duration::hours(24));
    // Reviewing an open hit is refused.
    let (st, _) = f
        .api
        .post(
            &format!("/api/admin/hits/{h1}/review"),
            &f.admin,
            json!({"outcome": "upheld", "reason": "x"}),
        )
        .await;
    assert_eq!(st, RStatus::CONFLICT);

    // Nothing revoked yet.
    let (_, feed) = f.api.get("/api/v1/revocations", &f.token).await;
    assert_eq!(feed["revocations"].as_array().unwrap().len(), 0);

    // Dispute again; this time the entry is revoked: every hit on it closes as revoked.
    f.api
        .post(
            &format!("/api/v1/hits/{h1}/dispute"),
            &f.token,
            json!({"note": "still our logo"}),
        )
        .await;
    let (st, v) = f
        .api
        .post(
            &format!("/api/admin/hits/{h1}/review"),
            &f.admin,
            json!({"outcome": "revoked", "reason": "benign logo"}),
        )
        .await;
    assert_eq!(st, RStatus::OK, "{v}");
    assert_eq!(v["state"], "revoked");
    assert_eq!(f.show(h2).await["state"], "revoked");
    let (_, feed) = f
        .api
        .get(
            &format!(
                "/api/v1/revocations?since={}",
                (before - Duration::minutes(1)).format("%Y-%m-%d")
            ),
            &f.token,
        )
        .await;
    let revs = feed["revocations"].as_array().unwrap();
    assert_eq!(revs.len(), 1, "{feed}");
    assert_eq!(revs[0]["reason"], "benign logo");
    assert_eq!(revs[0]["value"], f.pdq);
    let mut ids: Vec<i64> = revs[0]["hit_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, vec![h1, h2]);
    // The revoked entry no longer matches.
    let q = common::pdq_at_distance(&f.pdq, 3);
    let (_, v) = f
        .api
        .post(
            "/api/v1/check",
            &f.token,
            json!({"hashes": [{"type": "pdq", "value": q}]}),
        )
        .await;
    assert_eq!(v["results"][0]["matched"], false, "{v}");
    // A later `since` excludes it; a bad one is a 400.
    let (_, feed) = f
        .api
        .get("/api/v1/revocations?since=2999-01-01T00:00:00Z", &f.token)
        .await;
    assert_eq!(feed["revocations"].as_array().unwrap().len(), 0);
    let (st, _) = f
        .api
        .get("/api/v1/revocations?since=yesterday", &f.token)
        .await;
    assert_eq!(st, RStatus::BAD_REQUEST);
    let _ = f.list;
    // The follow-up endpoints are in the OpenAPI document.
    let (_, doc) = f.api.get("/api/openapi.json", "").await;
    for p in [
        "/api/v1/hits/{hit_id}/acknowledge",
        "/api/v1/revocations",
        "/api/admin/escalations",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing");
    }
    s.stop().await;
}

#[tokio::test]
async fn grace_period_is_tenant_policy() {
    let dir = tempfile::tempdir().unwrap();
    let clock = wall_clock();
    let t0 = clock.now();
    let s = Schoon::start(dir.path(), clock.clone()).await;
    let f = fixture(&s).await;
    let (st, _) = f
        .api
        .call(
            reqwest::Method::PUT,
            &format!("/api/admin/tenants/{}/followup/policy", f.tenant),
            &f.admin,
            Some(json!({"grace_hours": -1})),
        )
        .await;
    assert_eq!(st, RStatus::BAD_REQUEST);
    let (st, _) = f
        .api
        .call(
            reqwest::Method::PUT,
            &format!("/api/admin/tenants/{}/followup/policy", f.tenant),
            &f.admin,
            Some(json!({"grace_hours": 2})),
        )
        .await;
    assert_eq!(st, RStatus::NO_CONTENT);
    let h = f.hit(None).await;
    clock.set(t0 + Duration::hours(23));
    s.runner.run_once().await.unwrap();
    assert_eq!(f.show(h).await["state"], "open");
    clock.set(t0 + Duration::hours(24) + Duration::minutes(1));
    s.runner.run_once().await.unwrap();
    assert_eq!(f.show(h).await["state"], "overdue");
    clock.set(t0 + Duration::hours(25) + Duration::minutes(30));
    s.runner.run_once().await.unwrap();
    assert_eq!(f.show(h).await["state"], "overdue");
    clock.set(t0 + Duration::hours(26) + Duration::minutes(1));
    s.runner.run_once().await.unwrap();
    assert_eq!(f.show(h).await["state"], "escalated");
    // A late acknowledgement is still accepted; the escalation record stays.
    let (st, v) = f.ack(h, "not_ours").await;
    assert_eq!(st, RStatus::OK, "{v}");
    let (_, esc) = f.api.get("/api/admin/escalations", &f.admin).await;
    assert_eq!(esc.as_array().unwrap().len(), 1);
    s.stop().await;
}
