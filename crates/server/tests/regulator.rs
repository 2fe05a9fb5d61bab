//! The regulator module end to end: the schoon API in-process over SQLite on a temporary data
//! directory with a test-driven clock and a stepped job runner; the provider reads its order
//! through the signed link; e-mail delivery goes to a real SMTP sink on loopback.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use mail_parser::MimeHeaders;
use reqwest::StatusCode;
use schoon_core::hit::ManualClock;
use serde_json::{Value, json};
use server::worker::JobRunner;
use server::{AppState, Config};
use sha2::Digest;
use smtp_sink::SmtpSink;
use store::{Actor, NewTenant, SqliteStore, Store};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

struct Env {
    base: String,
    admin: String,
    tenant: i64,
    other_tenant: i64,
    clock: Arc<ManualClock>,
    runner: JobRunner,
    store: Arc<SqliteStore>,
    http: reqwest::Client,
    dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Env {
    async fn start(adjust: impl FnOnce(&mut Config)) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        config.reports.worker = false;
        config.takedown.attribution.rdap = false;
        adjust(&mut config);
        let clock = Arc::new(ManualClock::new(t0()));
        let store = Arc::new(SqliteStore::open(&config.database_path()).await.unwrap());
        let boot = server::bootstrap(store.as_ref(), "atkm")
            .await
            .unwrap()
            .unwrap();
        let other = store
            .create_tenant(
                &Actor::system(),
                NewTenant {
                    name: "other".into(),
                    country: Some("NL".into()),
                    hit_deadline_hours: 24,
                },
            )
            .await
            .unwrap();
        let state = AppState::with_clock(store.clone(), config, clock.clone()).unwrap();
        let mut runner = JobRunner::new(state.clone(), "test-worker");
        server::regulator::register(&mut runner);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let app = server::router(state);
        let task = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        Env {
            base,
            admin: boot.admin.token.clone(),
            tenant: boot.tenant.id,
            other_tenant: other.id,
            clock,
            runner,
            store,
            http: reqwest::Client::new(),
            dir,
            task,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.admin);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let s = r.status();
        let t = r.text().await.unwrap();
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// A public (unauthenticated) GET: status, content type, body text.
    async fn public(&self, path_and_query: &str) -> (StatusCode, String, String) {
        let r = self
            .http
            .get(format!("{}{path_and_query}", self.base))
            .send()
            .await
            .unwrap();
        let s = r.status();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (s, ct, r.text().await.unwrap())
    }

    fn orders(&self, tenant: i64) -> String {
        format!("/api/v1/regulator/tenants/{tenant}/orders")
    }

    async fn draft(&self, tenant: i64, reference: &str, provider: &str, hours: u32) -> i64 {
        let (s, v) = self
            .post(
                &self.orders(tenant),
                json!({
                    "reference": reference,
                    "provider": {"name": provider, "email": "abuse@hoster.example"},
                    "legal_basis": "art. 3 test act",
                    "deadline_hours": hours,
                    "items": [
                        {"url": "https://site.example/a.jpg", "sha256": "ab".repeat(32)},
                        {"url": "https://site.example/b.jpg", "sha256": "CD".repeat(32)},
                    ],
                }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["state"], "draft");
        v["id"].as_i64().unwrap()
    }

    async fn issue(&self, tenant: i64, id: i64) -> Value {
        let (s, v) = self
            .post(&format!("{}/{id}/issue", self.orders(tenant)), json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        self.store.close().await;
    }
}

fn path_of(link: &str) -> String {
    // Links are relative without a configured base URL; with one, strip it.
    match link.find("/api/") {
        Some(i) => link[i..].to_string(),
        None => link.to_string(),
    }
}

async fn public_key(env: &Env) -> VerifyingKey {
    let (s, v) = env.get("/api/v1/regulator/public-key").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["algorithm"], "ed25519");
    let bytes: [u8; 32] = hex::decode(v["public_key_hex"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    VerifyingKey::from_bytes(&bytes).unwrap()
}

fn verify_order_signature(pk: &VerifyingKey, canonical: &str, sha: &str, sig: &str) {
    let computed = hex::encode(sha2::Sha256::digest(canonical.as_bytes()));
    assert_eq!(
        computed, sha,
        "the digest is the SHA-256 of the canonical JSON"
    );
    let sig: [u8; 64] = hex::decode(sig).unwrap().try_into().unwrap();
    let sig = Signature::from_bytes(&sig);
    pk.verify(&hex::decode(sha).unwrap(), &sig)
        .expect("order signature verifies with the public key");
    // And not over anything else.
    assert!(pk.verify(b"something else", &sig).is_err());
}

#[tokio::test]
async fn order_life_cycle_penalty_appeal_and_register() {
    let env = Env::start(|_| {}).await;
    let tenant = env.tenant;
    let pk = public_key(&env).await;
    // The key is in the data directory, private.
    let key_file = env.dir.path().join(server::regulator::KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Draft validation: a deadline outside 1/12/24 h, a bad digest, a bad reference.
    for (field, value) in [
        ("deadline_hours", json!(48)),
        (
            "items",
            json!([{"url": "https://x.example/", "sha256": "nope"}]),
        ),
        ("reference", json!("a/b")),
    ] {
        let mut body = json!({
            "reference": "BAD-1",
            "provider": {"name": "P", "email": "p@p.example"},
            "legal_basis": "art. 3", "deadline_hours": 1,
            "items": [{"url": "https://x.example/", "sha256": "ab".repeat(32)}],
        });
        body[field] = value;
        let (s, v) = env.post(&env.orders(tenant), body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{field}: {v}");
    }

    let id = env.draft(tenant, "ORD-2026-1", "Hoster <B.V.>", 1).await;
    // No provider link for a draft.
    let (_, v) = env.get(&format!("{}/{id}", env.orders(tenant))).await;
    assert!(v["provider_link"].is_null());

    let v = env.issue(tenant, id).await;
    assert_eq!(v["email"]["status"], "not_configured");
    let order = &v["order"];
    assert_eq!(order["state"], "issued");
    let canonical = order["canonical_json"].as_str().unwrap().to_string();
    let sha = order["sha256"].as_str().unwrap().to_string();
    verify_order_signature(&pk, &canonical, &sha, order["signature"].as_str().unwrap());
    let doc: Value = serde_json::from_str(&canonical).unwrap();
    assert_eq!(doc["reference"], "ORD-2026-1");
    assert_eq!(doc["deadline_hours"], 1);
    assert_eq!(
        doc["items"][1]["sha256"],
        "cd".repeat(32),
        "digests lowercase in the document"
    );
    let link = path_of(order["provider_link"].as_str().unwrap());
    // Issuing twice is refused.
    let (s, _) = env
        .post(&format!("{}/{id}/issue", env.orders(tenant)), json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Another tenant's path does not see the order.
    let other = env.orders(env.other_tenant);
    let (s, _) = env.get(&format!("{other}/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = env.post(&format!("{other}/{id}/comply"), json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = env.get(&other).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 0);

    // A bad link signature is 403, for existing and unknown references alike; no delivery.
    let (s, _, _) = env
        .public(&format!(
            "/api/v1/provider/orders/ORD-2026-1?sig={}",
            "00".repeat(64)
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = env.public("/api/v1/provider/orders/ORD-2026-1").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let wrong_ref = link.replace("ORD-2026-1", "ORD-2026-9");
    let (s, _, _) = env.public(&wrong_ref).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, v) = env.get(&format!("{}/{id}", env.orders(tenant))).await;
    assert_eq!(v["state"], "issued");

    // The provider reads its order 5 minutes later: delivery proven, the hour starts.
    env.clock.advance(Duration::minutes(5));
    let delivered_at = t0() + Duration::minutes(5);
    let (s, _, body) = env.public(&link).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(p["state"], "delivered");
    assert_eq!(p["canonical_json"], canonical.as_str());
    assert_eq!(p["sha256"], sha.as_str());
    let due: DateTime<Utc> = serde_json::from_value(p["due_at"].clone()).unwrap();
    assert_eq!(due, delivered_at + Duration::hours(1));
    let (_, detail) = env.get(&format!("{}/{id}", env.orders(tenant))).await;
    let proof = &detail["delivery_proof"];
    assert_eq!(proof["channel"], "api");
    assert_eq!(proof["sha256"], sha.as_str());
    let receipt_sig: [u8; 64] = hex::decode(proof["receipt_signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    pk.verify(
        proof["receipt"].as_str().unwrap().as_bytes(),
        &Signature::from_bytes(&receipt_sig),
    )
    .expect("the delivery receipt is signed");
    assert!(proof["receipt"].as_str().unwrap().contains(&sha));

    // The provider acknowledges.
    env.clock.advance(Duration::minutes(5));
    let r = env
        .http
        .post(format!(
            "{}{}",
            env.base,
            link.replace("?sig", "/acknowledge?sig")
        ))
        .json(&json!({"note": "looking into it"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["state"], "acknowledged");

    // Penalty terms: € 500 per started hour, entered by the officer.
    let (s, v) = env
        .call(
            reqwest::Method::PUT,
            &format!("{}/{id}/penalty-terms", env.orders(tenant)),
            Some(json!({"kind": "periodic", "amount_cents": 50_000, "unit": "hour", "max_cents": null})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Just before the deadline the sweep does nothing; at the deadline the order is overdue.
    env.clock.set(due - Duration::seconds(1));
    env.runner.run_once().await.unwrap();
    let (_, v) = env.get(&format!("{}/{id}", env.orders(tenant))).await;
    assert_eq!(v["state"], "acknowledged");
    env.clock.set(due);
    env.runner.run_once().await.unwrap();
    let (_, v) = env.get(&format!("{}/{id}", env.orders(tenant))).await;
    assert_eq!(v["state"], "overdue", "{v}");
    let (s, v) = env
        .post(
            &format!("{}/{id}/penalty-start", env.orders(tenant)),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "penalty_running");

    // The penalty accrues per started hour.
    for (minutes, units, cents) in [
        (30, 1, 50_000),
        (60, 1, 50_000),
        (61, 2, 100_000),
        (150, 3, 150_000),
    ] {
        env.clock.set(due + Duration::minutes(minutes));
        let (s, p) = env
            .post(&format!("{}/{id}/accruals", env.orders(tenant)), json!({}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        assert_eq!(
            (p["units"].as_u64(), p["amount_cents"].as_u64()),
            (Some(units), Some(cents)),
            "{minutes} min"
        );
        assert_eq!(p["running"], true);
    }
    // Compliance stops it.
    env.clock.set(due + Duration::minutes(170));
    let (s, v) = env
        .post(
            &format!("{}/{id}/comply", env.orders(tenant)),
            json!({"note": "verified offline"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "complied");
    env.clock.set(due + Duration::days(3));
    let (_, p) = env
        .post(&format!("{}/{id}/accruals", env.orders(tenant)), json!({}))
        .await;
    assert_eq!(
        (
            p["units"].as_u64(),
            p["amount_cents"].as_u64(),
            p["running"].as_bool()
        ),
        (Some(3), Some(150_000), Some(false))
    );
    let (_, v) = env.get(&format!("{}/{id}", env.orders(tenant))).await;
    assert_eq!(v["accrual"]["amount_cents"], 150_000);

    // Appeal: lodged, a second one refused, upheld; the state stays complied.
    let appeal = format!("{}/{id}/appeal", env.orders(tenant));
    let (s, v) = env.post(&appeal, json!({"action": "lodge"})).await;
    assert_eq!((s, v["appeal"].clone()), (StatusCode::OK, json!("lodged")));
    let (s, _) = env.post(&appeal, json!({"action": "lodge"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = env.post(&appeal, json!({"action": "maybe"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, v) = env.post(&appeal, json!({"action": "upheld"})).await;
    assert_eq!(
        (v["state"].clone(), v["appeal"].clone()),
        (json!("complied"), json!("upheld"))
    );

    // A second order stays unpublished; the first is published with a right of reply.
    let id2 = env.draft(tenant, "ORD-2026-2", "Hidden Hosting", 12).await;
    env.issue(tenant, id2).await;
    let (_, _, csv) = env.public("/register.csv").await;
    assert_eq!(csv.lines().count(), 1, "nothing published yet: {csv}");
    let (s, v) = env
        .post(
            &format!("{}/{id}/publish", env.orders(tenant)),
            json!({"published": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let replies = format!("/api/v1/regulator/tenants/{tenant}/replies");
    let (s, _) = env
        .call(reqwest::Method::PUT, &replies, Some(json!({"provider_name": "Hoster <B.V.>", "text": "Draft reply", "published": false})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, _, body) = env.public("/register.json").await;
    let reg: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        reg["replies"].as_array().unwrap().len(),
        0,
        "unpublished reply hidden"
    );
    env.call(reqwest::Method::PUT, &replies, Some(json!({"provider_name": "Hoster <B.V.>", "text": "We <disagree> & appealed.", "published": true})))
        .await;

    let (s, ct, body) = env.public("/register.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("application/json"));
    let reg: Value = serde_json::from_str(&body).unwrap();
    let orders = reg["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{reg}");
    assert_eq!(orders[0]["reference"], "ORD-2026-1");
    assert_eq!(orders[0]["state"], "complied");
    assert_eq!(orders[0]["penalty_kind"], "periodic");
    assert_eq!(orders[0]["penalty_cents"], 150_000);
    assert_eq!(orders[0]["appeal"], "upheld");
    assert_eq!(reg["replies"][0]["text"], "We <disagree> & appealed.");
    let (s, ct, csv) = env.public("/register.csv").await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].starts_with("ORD-2026-1,Hoster <B.V.>,2026-03-02,1,"),
        "{csv}"
    );
    assert!(
        lines[1].ends_with(",complied,periodic,150000,upheld"),
        "{csv}"
    );
    let (s, ct, html) = env.public("/register").await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/html"));
    assert!(html.contains("ORD-2026-1"));
    assert!(html.contains("Hoster &lt;B.V.&gt;"));
    assert!(html.contains("We &lt;disagree&gt; &amp; appealed."));
    assert!(!html.contains("<B.V.>"));
    for text in [&body, &csv, &html] {
        assert!(!text.contains("ORD-2026-2"), "unpublished order leaked");
        assert!(
            !text.contains("site.example"),
            "items never in the register"
        );
        assert!(!text.contains("abuse@"), "contacts never in the register");
        assert!(!text.contains("Hidden Hosting"));
    }
    // Another tenant's register view is empty.
    let (_, _, body) = env
        .public(&format!("/register.json?tenant={}", env.other_tenant))
        .await;
    let reg: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reg["orders"].as_array().unwrap().len(), 0);

    // The officer API needs the admin token.
    let (s, _, _) = env.public(&env.orders(tenant)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // The audit chain covers all of it and verifies.
    let events = env.store.audit_events(0, 10_000).await.unwrap();
    let subject = format!("order:{id}");
    let actions: Vec<&str> = events
        .iter()
        .filter(|e| e.subject == subject)
        .map(|e| e.action.as_str())
        .collect();
    for want in [
        "order.draft",
        "order.issue",
        "order.deliver",
        "order.acknowledge",
        "order.overdue",
        "order.penalty_start",
        "order.comply",
        "order.publish",
    ] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    env.store.verify_audit_chain().await.unwrap();
    env.stop().await;
}

#[tokio::test]
async fn issuing_sends_the_signed_order_by_email_and_that_is_the_delivery_proof() {
    let sink = SmtpSink::start().await.unwrap();
    let port = sink.port();
    let env = Env::start(|c| {
        let m = &mut c.takedown.mail;
        m.smtp_host = Some("127.0.0.1".into());
        m.smtp_port = port;
        m.smtp_tls = "none".into();
        m.smtp_timeout_secs = 10;
        m.from = Some("orders@authority.example".into());
        m.response_base_url = Some("https://authority.example".into());
    })
    .await;
    let tenant = env.tenant;
    let pk = public_key(&env).await;
    let id = env.draft(tenant, "ORD-MAIL-1", "Mail Hosting", 12).await;
    let v = env.issue(tenant, id).await;
    assert_eq!(v["email"]["status"], "accepted", "{v}");
    let order = &v["order"];
    assert_eq!(
        order["state"], "delivered",
        "SMTP acceptance proves delivery"
    );
    assert_eq!(order["delivery_proof"]["channel"], "email");
    let link = order["provider_link"].as_str().unwrap();
    assert!(link.starts_with("https://authority.example/api/v1/provider/orders/ORD-MAIL-1?sig="));

    let mails = sink
        .wait_for_messages(1, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.rcpt_to, vec!["abuse@hoster.example".to_string()]);
    let parsed = mail_parser::MessageParser::default()
        .parse(&m.data)
        .unwrap();
    assert_eq!(parsed.subject(), Some("Removal order ORD-MAIL-1"));
    let text = parsed.body_text(0).unwrap();
    assert!(text.contains(link), "{text}");
    assert!(text.contains(order["sha256"].as_str().unwrap()));
    assert!(text.contains(order["signature"].as_str().unwrap()));
    let attachment = parsed.attachment(0).expect("order.json attached");
    assert_eq!(attachment.attachment_name(), Some("order.json"));
    let attached = std::str::from_utf8(attachment.contents()).unwrap();
    assert_eq!(attached, order["canonical_json"].as_str().unwrap());
    verify_order_signature(
        &pk,
        attached,
        order["sha256"].as_str().unwrap(),
        order["signature"].as_str().unwrap(),
    );
    // The provider's later read does not move the delivery time.
    let (s, _, body) = env.public(&path_of(link)).await;
    assert_eq!(s, StatusCode::OK);
    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(p["delivered_at"], order["delivered_at"]);
    env.stop().await;
}

/// A takedown case for `url` in monitoring (report → item classified by a list → case →
/// attribution), through the store as the takedown workers would leave it.
async fn monitored_case(store: &SqliteStore, tenant: i64, site: &str) -> (i64, String, String) {
    use schoon_core::report::Classification;
    use store::reports::{AutoOutcome, Fetched, NewReport};
    use store::takedown::{CaseContacts, NewAttribution, NewCase};
    use store::{ReportStore, TakedownStore};
    let a = Actor("test".into());
    let page = format!("https://{site}/page");
    let r = store
        .submit_reports(
            &a,
            tenant,
            vec![NewReport {
                url: page.clone(),
                original_url: page.clone(),
                registrable_domain: None,
                referer: None,
                note: None,
                source_kind: schoon_core::report::SourceKind::Hotline,
                source_org_id: None,
                reporter_email: None,
            }],
            t0() - Duration::days(7),
        )
        .await
        .unwrap();
    let report = r[0].report_id;
    let media = vec![(format!("https://{site}/img/0.jpg"), "img".to_string())];
    store
        .record_page(&a, report, None, None, media)
        .await
        .unwrap();
    let item = store.report_items(report).await.unwrap().remove(0);
    let sha = format!("{:064x}", 1);
    assert!(
        store
            .complete_item(
                &a,
                item.id,
                Fetched {
                    sha256: Some(sha.clone()),
                    pdq: Some(format!("{:064x}", 7)),
                    ..Fetched::default()
                },
                AutoOutcome::Known {
                    list_id: 1,
                    entry_id: 1,
                    classification: Classification::Baseline,
                },
            )
            .await
            .unwrap()
    );
    store.finish_report(&a, report).await.unwrap();
    let case = store
        .open_case(
            &a,
            NewCase {
                tenant_id: tenant,
                report_id: report,
                item_id: item.id,
                url: item.url.clone(),
                page_url: page,
                police_first: false,
            },
            t0(),
        )
        .await
        .unwrap();
    store
        .record_attribution(
            &a,
            case.id,
            NewAttribution {
                contacts: CaseContacts {
                    hoster_org: Some("Slow Hosting".into()),
                    hoster_email: Some("abuse@slow.example".into()),
                    hoster_country: Some("NL".into()),
                    asn: Some(64500),
                    ip: Some("192.0.2.10".into()),
                    ..CaseContacts::default()
                },
                host: site.into(),
                registrable_domain: Some(site.into()),
                needs_contact: vec![],
                raw: json!({"source": "test"}),
                made_at: t0(),
                tenant_country: Some("NL".into()),
            },
        )
        .await
        .unwrap();
    (case.id, item.url, sha)
}

#[tokio::test]
async fn escalated_cases_become_orders_and_check_online_records_compliance() {
    use schoon_core::takedown::CaseEscalationKind;
    use store::TakedownStore;
    use store::takedown::{NewObservation, ObservationOutcome, TakedownPolicy};
    let env = Env::start(|_| {}).await;
    let tenant = env.tenant;
    let (case_id, url, sha) = monitored_case(&env.store, tenant, "bad.example").await;
    assert!(
        env.store
            .escalate_case(
                &Actor("ladder".into()),
                case_id,
                CaseEscalationKind::Regulator,
                "no removal after the last rung",
                t0() + Duration::days(6),
            )
            .await
            .unwrap()
    );
    let (s, v) = env
        .get(&format!("/api/v1/regulator/tenants/{tenant}/escalations"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["escalation"]["case_id"], case_id);
    assert_eq!(list[0]["url"], url.as_str());
    assert_eq!(list[0]["hoster_org"], "Slow Hosting");
    assert_eq!(list[0]["hoster_email"], "abuse@slow.example");
    let (_, v) = env
        .get(&format!(
            "/api/v1/regulator/tenants/{}/escalations",
            env.other_tenant
        ))
        .await;
    assert_eq!(v.as_array().unwrap().len(), 0, "other tenant sees none");

    let (s, v) = env
        .post(
            &env.orders(tenant),
            json!({
                "reference": "ORD-CASE-1",
                "provider": {"name": "Slow Hosting", "email": "abuse@slow.example"},
                "legal_basis": "art. 3 test act",
                "deadline_hours": 12,
                "items": [{"url": url, "sha256": sha, "case_id": case_id}],
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().unwrap();
    env.issue(tenant, id).await;
    // Still online: the tick leaves the order open.
    env.runner.run_once().await.unwrap();
    let (_, v) = env.get(&format!("{}/{id}", env.orders(tenant))).await;
    assert_eq!(v["state"], "issued");

    // Check-online verifies the item offline; the next tick records compliance.
    let p = TakedownPolicy::default();
    let obs = |min: i64| NewObservation {
        at: t0() + Duration::minutes(min),
        http_status: Some(404),
        outcome: ObservationOutcome::Gone,
        detail: None,
        content_type: None,
        served_sha256: None,
        served_pdq: None,
        distance: None,
        final_url: None,
        error: None,
    };
    for min in [60, 75, 90, 120, 180] {
        env.store
            .record_observation(case_id, obs(min), &p)
            .await
            .unwrap();
    }
    let case = env.store.case(case_id).await.unwrap().unwrap();
    assert!(case.offline_verified_at.is_some(), "{case:?}");
    env.clock.advance(Duration::hours(4));
    env.runner.run_once().await.unwrap();
    let (_, v) = env.get(&format!("{}/{id}", env.orders(tenant))).await;
    assert_eq!(v["state"], "complied", "{v}");
    let events = v["events"].as_array().unwrap();
    let comply = events.iter().find(|e| e["event"] == "comply").unwrap();
    assert_eq!(comply["actor"], "system:check-online");
    env.stop().await;
}

/// The evidence package of an order that came from an escalated case: signed document,
/// delivery proof, events, and the audit events about the order and its case, pinned to the
/// chain head; every one of them is the chain's own event (hashes recomputed here).
#[tokio::test]
async fn the_evidence_package_pins_the_order_to_the_audit_chain() {
    use schoon_core::audit::chain_hash;
    use schoon_core::takedown::CaseEscalationKind;
    use store::TakedownStore;
    let env = Env::start(|_| {}).await;
    let tenant = env.tenant;
    let pk = public_key(&env).await;
    let (case_id, url, sha) = monitored_case(&env.store, tenant, "bad.example").await;
    env.store
        .escalate_case(
            &Actor("ladder".into()),
            case_id,
            CaseEscalationKind::Regulator,
            "no removal after the last rung",
            t0(),
        )
        .await
        .unwrap();
    let (s, v) = env
        .post(
            &env.orders(tenant),
            json!({
                "reference": "ORD-EVID-1",
                "provider": {"name": "Slow Hosting", "email": "abuse@slow.example"},
                "legal_basis": "art. 3 test act",
                "deadline_hours": 12,
                "items": [{"url": url, "sha256": sha, "case_id": case_id}],
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().unwrap();
    let issued = env.issue(tenant, id).await;
    let link = path_of(issued["order"]["provider_link"].as_str().unwrap());
    env.clock.advance(Duration::minutes(3));
    let (s, _, _) = env.public(&link).await;
    assert_eq!(s, StatusCode::OK);

    let path = format!("{}/{id}/evidence", env.orders(tenant));
    // Officer only; other tenants' paths do not see it.
    let r = env
        .http
        .get(format!("{}{path}", env.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (s, _) = env
        .get(&format!("{}/{id}/evidence", env.orders(env.other_tenant)))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let r = env
        .http
        .get(format!("{}{path}", env.base))
        .bearer_auth(&env.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let digest_header = r.headers()["digest"].to_str().unwrap().to_string();
    let hex_header = r.headers()["x-schoon-package-sha256"]
        .to_str()
        .unwrap()
        .to_string();
    let bytes = r.bytes().await.unwrap();
    let computed = sha2::Sha256::digest(&bytes);
    use base64::Engine;
    assert_eq!(
        digest_header,
        format!(
            "sha-256={}",
            base64::engine::general_purpose::STANDARD.encode(computed)
        )
    );
    assert_eq!(hex_header, hex::encode(computed));
    let p: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(p["format"], "schoon-order-evidence/1");

    // The signed document and the delivery proof, checkable with the public key.
    let canonical = p["canonical_json"].as_str().unwrap();
    let order_sha = p["sha256"].as_str().unwrap();
    verify_order_signature(&pk, canonical, order_sha, p["signature"].as_str().unwrap());
    assert_eq!(
        p["public_key_hex"].as_str().unwrap(),
        hex::encode(pk.to_bytes())
    );
    assert_eq!(p["delivery_proof"]["channel"], "api");
    assert_eq!(p["delivery_proof"]["sha256"], order_sha);
    let evs: Vec<&str> = p["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(evs, ["draft", "issue", "deliver"], "{evs:?}");
    // Opening the order from the escalated case linked that escalation.
    assert_eq!(p["escalations"][0]["case_id"], case_id);
    assert_eq!(p["escalations"][0]["order_id"], id);

    // The audit events: the order's and its case's, each one verbatim from the chain.
    let chain = env.store.audit_events(0, 100_000).await.unwrap();
    let head = &p["audit_head"];
    let head_id = head["id"].as_i64().unwrap();
    let at_head = chain.iter().find(|e| e.id == head_id).unwrap();
    assert_eq!(
        head["hash"],
        at_head.hash.as_str(),
        "head hash is the chain's"
    );
    let events: Vec<schoon_core::audit::AuditEvent> =
        serde_json::from_value(p["audit_events"].clone()).unwrap();
    for e in &events {
        assert!(e.id <= head_id);
        let h = chain_hash(
            &e.at,
            e.tenant_id,
            &e.actor,
            &e.action,
            &e.subject,
            &e.details,
            &e.prev_hash,
        );
        assert_eq!(h, e.hash, "event {} recomputes", e.id);
        let stored = chain.iter().find(|c| c.id == e.id).unwrap();
        assert_eq!(stored, e, "event {} is the chain's", e.id);
    }
    let actions: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.action.as_str(), e.subject.as_str()))
        .collect();
    let order_subject = format!("order:{id}");
    let case_subject = format!("case:{case_id}");
    for want in ["order.draft", "order.issue", "order.deliver"] {
        assert!(
            actions
                .iter()
                .any(|(a, s)| *a == want && *s == order_subject),
            "{want} missing: {actions:?}"
        );
    }
    assert!(
        actions.iter().any(|(_, s)| *s == case_subject),
        "case events missing: {actions:?}"
    );
    assert!(
        actions.iter().any(|(a, _)| *a == "escalation.pick_up"),
        "{actions:?}"
    );
    // Only what concerns this order.
    let subjects: Vec<String> = serde_json::from_value(p["audit_subjects"].clone()).unwrap();
    for (_, s) in &actions {
        assert!(
            subjects.iter().any(|x| x == s),
            "{s} is not about the order"
        );
    }
    // The URL and digest are the order's own items; nothing else is in the package.
    assert_eq!(p["order"]["items"][0]["url"], url.as_str());

    // The export itself is audited with the package digest, after the pinned head.
    let after = env.store.audit_events(head_id, 100).await.unwrap();
    let export = after
        .iter()
        .find(|e| e.action == "order.evidence_exported")
        .expect("export audited");
    assert_eq!(export.subject, order_subject);
    let d: Value = serde_json::from_str(&export.details).unwrap();
    assert_eq!(d["package_sha256"], hex_header.as_str());
    assert_eq!(d["audit_head"]["id"], head_id);
    assert!(env.store.verify_audit_chain().await.unwrap() as usize >= chain.len());
    env.stop().await;
}

/// Escalated cases and overdue hits are the officer's queue: open until picked up (once,
/// audited), and an order opened from one takes its items and links it.
#[tokio::test]
async fn escalations_and_overdue_hits_are_picked_up_and_become_orders() {
    use schoon_core::takedown::CaseEscalationKind;
    use schoon_core::{Category, ListKind, NewEntry, NewHit, SignalType, SignalValue};
    use store::{FollowupStore, NewList, TakedownStore};
    let env = Env::start(|_| {}).await;
    let tenant = env.tenant;
    let esc = |rest: &str| format!("/api/v1/regulator/tenants/{tenant}/{rest}");

    // An escalated case.
    let (case_id, url, sha) = monitored_case(&env.store, tenant, "bad.example").await;
    env.store
        .escalate_case(
            &Actor("ladder".into()),
            case_id,
            CaseEscalationKind::Regulator,
            "no removal after the last rung",
            t0(),
        )
        .await
        .unwrap();
    let (s, v) = env.get(&esc("escalations?status=open")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["status"], "open");
    assert!(v[0]["escalation"]["picked_up_at"].is_null());
    let case_esc = v[0]["escalation"]["id"].as_i64().unwrap();
    let (s, _) = env.get(&esc("escalations?status=nonsense")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Explicit pick-up: set once, by the officer, audited; repeating changes nothing.
    env.clock.advance(Duration::minutes(10));
    let (s, v) = env
        .post(&esc(&format!("escalations/{case_esc}/pick-up")), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["picked_up_now"], true);
    assert_eq!(v["view"]["status"], "picked_up");
    let by = v["view"]["escalation"]["picked_up_by"].as_str().unwrap();
    assert!(by.starts_with("admin:"), "{by}");
    let picked_at: DateTime<Utc> =
        serde_json::from_value(v["view"]["escalation"]["picked_up_at"].clone()).unwrap();
    assert_eq!(picked_at, t0() + Duration::minutes(10));
    env.clock.advance(Duration::minutes(10));
    let (_, v) = env
        .post(&esc(&format!("escalations/{case_esc}/pick-up")), json!({}))
        .await;
    assert_eq!(v["picked_up_now"], false);
    let again: DateTime<Utc> =
        serde_json::from_value(v["view"]["escalation"]["picked_up_at"].clone()).unwrap();
    assert_eq!(again, picked_at, "the first pick-up stands");
    let (_, v) = env.get(&esc("escalations?status=open")).await;
    assert_eq!(v.as_array().unwrap().len(), 0);
    let (_, v) = env.get(&esc("escalations?status=picked_up")).await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    let pickups: Vec<_> = env
        .store
        .audit_events(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "escalation.pick_up")
        .collect();
    assert_eq!(pickups.len(), 1, "one audit event for one pick-up");
    assert_eq!(pickups[0].subject, format!("case_escalation:{case_esc}"));
    // Not from another tenant's path; unknown ids are 404.
    let (s, _) = env
        .post(
            &format!(
                "/api/v1/regulator/tenants/{}/escalations/{case_esc}/pick-up",
                env.other_tenant
            ),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = env.post(&esc("escalations/999/pick-up"), json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The order opened from the escalation takes its item (case URL + digest) and links it.
    let (s, v) = env
        .post(
            &env.orders(tenant),
            json!({
                "reference": "ORD-FROM-CASE",
                "provider": {"name": "Slow Hosting", "email": "abuse@slow.example"},
                "legal_basis": "art. 3 test act",
                "deadline_hours": 12,
                "escalations": [{"source": "case", "id": case_esc}],
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let case_order = v["id"].as_i64().unwrap();
    assert_eq!(v["items"][0]["url"], url.as_str());
    assert_eq!(v["items"][0]["sha256"], sha.as_str());
    assert_eq!(v["items"][0]["case_id"], case_id);
    let (_, v) = env.get(&esc("escalations")).await;
    assert_eq!(v[0]["escalation"]["order_id"], case_order);
    assert_eq!(
        v[0]["escalation"]["picked_up_by"], by,
        "linking keeps the first pick-up"
    );

    // An overdue hit: the follow-up sweep escalates it after the deadline and grace period.
    let a = Actor("test".into());
    let org = env
        .store
        .create_org(&a, tenant, "Silent Host")
        .await
        .unwrap();
    let list = env
        .store
        .create_list(
            &a,
            NewList {
                tenant_id: tenant,
                name: "known".into(),
                kind: ListKind::Known,
                pdq_radius: 31,
                min_quality: 50,
            },
        )
        .await
        .unwrap();
    let value = "ef".repeat(32);
    env.store
        .import_entries(
            &a,
            list.id,
            vec![NewEntry {
                value: SignalValue::parse(SignalType::Sha256, &value).unwrap(),
                category: Category::Baseline,
                source: None,
                assessor: None,
            }],
            json!({}),
        )
        .await
        .unwrap();
    let entry = env.store.entries(list.id, false, 0, 10).await.unwrap()[0].id;
    let hit = env
        .store
        .record_hits(
            &a,
            tenant,
            vec![NewHit {
                org_id: org.id,
                entry_id: entry,
                list_id: list.id,
                signal_type: SignalType::Sha256,
                query_value: value.clone(),
                distance: 0,
                content_ref: Some("upload-77".into()),
                content_url: Some("https://cdn.silent.example/u/77".into()),
            }],
        )
        .await
        .unwrap()
        .remove(0);
    let later = hit.deadline + Duration::days(30);
    env.store.sweep_deadlines(later).await.unwrap();
    let swept = env
        .store
        .sweep_deadlines(later + Duration::days(30))
        .await
        .unwrap();
    let escalated = env.store.followup_hit(hit.id).await.unwrap().unwrap();
    assert_eq!(
        escalated.hit.state.to_string(),
        "escalated",
        "{swept:?} {escalated:?}"
    );

    let (s, v) = env.get(&esc("overdue-hits?status=open")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["escalation"]["hit_id"], hit.id);
    assert_eq!(v[0]["escalation"]["source"], "hit");
    assert_eq!(v[0]["org_name"], "Silent Host");
    assert_eq!(v[0]["content_url"], "https://cdn.silent.example/u/77");
    assert_eq!(v[0]["status"], "open");
    let hit_esc = v[0]["escalation"]["id"].as_i64().unwrap();
    let (_, v) = env
        .get(&format!(
            "/api/v1/regulator/tenants/{}/overdue-hits",
            env.other_tenant
        ))
        .await;
    assert_eq!(v.as_array().unwrap().len(), 0, "other tenant sees none");

    // Opening an order from it picks it up and takes URL + digest from the hit.
    let (s, v) = env
        .post(
            &env.orders(tenant),
            json!({
                "reference": "ORD-FROM-HIT",
                "provider": {"name": "Silent Host", "email": "abuse@silent.example"},
                "legal_basis": "art. 3 test act",
                "deadline_hours": 24,
                "escalations": [{"source": "hit", "id": hit_esc}],
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let hit_order = v["id"].as_i64().unwrap();
    assert_eq!(v["items"][0]["url"], "https://cdn.silent.example/u/77");
    assert_eq!(v["items"][0]["sha256"], value.as_str());
    let (_, v) = env.get(&esc("overdue-hits?status=open")).await;
    assert_eq!(v.as_array().unwrap().len(), 0);
    let (_, v) = env.get(&esc("overdue-hits?status=picked_up")).await;
    assert_eq!(v[0]["escalation"]["order_id"], hit_order);
    assert!(
        v[0]["escalation"]["picked_up_by"]
            .as_str()
            .unwrap()
            .starts_with("admin:")
    );
    // The follow-up escalation list shows the same pick-up.
    let (s, v) = env.get("/api/admin/escalations").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let listed = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == hit_esc)
        .unwrap();
    assert_eq!(listed["order_id"], hit_order, "{listed}");
    assert!(listed["picked_up_at"].is_string(), "{listed}");
    assert!(
        listed["picked_up_by"]
            .as_str()
            .unwrap()
            .starts_with("admin:"),
        "{listed}"
    );
    // Its evidence package carries the hit's audit trail.
    let (s, p) = env
        .get(&format!("{}/{hit_order}/evidence", env.orders(tenant)))
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let subjects: Vec<&str> = p["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    let hit_subject = format!("hit:{}", hit.id);
    assert!(subjects.contains(&hit_subject.as_str()), "{subjects:?}");
    assert!(
        subjects.contains(&format!("hit_escalation:{hit_esc}").as_str()),
        "{subjects:?}"
    );
    // An escalation without a usable item needs the items spelled out.
    let (s, v) = env
        .post(
            &env.orders(tenant),
            json!({
                "reference": "ORD-NO-ITEMS",
                "provider": {"name": "X", "email": "x@x.example"},
                "legal_basis": "art. 3", "deadline_hours": 1,
            }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    env.store.verify_audit_chain().await.unwrap();
    env.stop().await;
}
