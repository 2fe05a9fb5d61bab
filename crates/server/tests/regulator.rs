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
