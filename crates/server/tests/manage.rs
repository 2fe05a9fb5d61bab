//! The administration pages ([ui] part 4) over real HTTP: a real `schoon serve` on loopback,
//! users seeded in two tenants, logins through the login form, every POST with (or without) the
//! session's CSRF token. What the pages changed is read back from the store and its audit log.

mod common;

use common::TestServer;
use common::browser::{PASSWORD, form, seed_user};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use store::accounts::Role;
use store::{ManageStore, ReportStore, SqliteStore, Store, TakedownStore};

/// A signed-in browser session (no redirects followed, so statuses are visible).
struct Ui {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

fn cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_string())
}

async fn login(s: &TestServer, username: &str) -> Ui {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{}/ui/login", s.base))
        .send()
        .await
        .unwrap();
    let login_cookie = cookie_value(&page, "schoon_login").expect("login cookie");
    let token = login_cookie.split_once('=').unwrap().1.to_string();
    let resp = http
        .post(format!("{}/ui/login", s.base))
        .header(COOKIE, &login_cookie)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("username", username),
            ("password", PASSWORD),
            ("token", &token),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login of {username}");
    let cookie = cookie_value(&resp, "schoon_session").expect("session cookie");
    Ui {
        http,
        base: s.base.clone(),
        cookie,
    }
}

impl Ui {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// The CSRF token of this session, as every page carries it.
    async fn csrf(&self) -> String {
        let (st, body) = self.get("/ui/account").await;
        assert_eq!(st, StatusCode::OK);
        let at = body.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
        body[at..].split('"').next().unwrap().to_string()
    }

    /// POSTs a form; returns status, `Location` and body.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(fields))
            .send()
            .await
            .unwrap();
        let loc = r
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status(), loc, r.text().await.unwrap())
    }

    /// POSTs `multipart/form-data` with text fields and one file.
    async fn upload(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: &str,
    ) -> (StatusCode, String, String) {
        let b = "----schoontestboundary";
        let mut body = String::new();
        for (k, v) in fields {
            body.push_str(&format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        body.push_str(&format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"list.txt\"\r\n\
             Content-Type: text/plain\r\n\r\n{file}\r\n--{b}--\r\n"
        ));
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .header(CONTENT_TYPE, format!("multipart/form-data; boundary={b}"))
            .body(body)
            .send()
            .await
            .unwrap();
        let loc = r
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status(), loc, r.text().await.unwrap())
    }
}

async fn open_store(s: &TestServer) -> SqliteStore {
    SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap()
}

const PAGES: &[&str] = &[
    "/ui/manage/policy",
    "/ui/manage/orgs",
    "/ui/manage/lists",
    "/ui/manage/rules",
    "/ui/manage/health",
];

#[tokio::test]
async fn analysts_get_403_and_admins_see_every_page() {
    let s = TestServer::start().await;
    let store = open_store(&s).await;
    seed_user(&store, s.tenant, "anna", Role::Analyst).await;
    seed_user(&store, s.tenant, "adam", Role::Admin).await;
    let anna = login(&s, "anna").await;
    for p in PAGES {
        let (st, _) = anna.get(p).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{p}");
    }
    let csrf = anna.csrf().await;
    let (st, _, _) = anna
        .post(
            "/ui/manage/policy/tenant",
            &[
                ("csrf", &csrf),
                ("hit_deadline_hours", "48"),
                ("hit_grace_hours", "24"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = anna
        .post("/ui/manage/orgs", &[("csrf", &csrf), ("name", "Sneaky")])
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(store.orgs(s.tenant).await.unwrap().is_empty());
    // The menu shows the admin pages to admins only.
    let (_, body) = anna.get("/ui/account").await;
    assert!(
        !body.contains("/ui/manage/"),
        "analyst menu lists admin pages"
    );

    let adam = login(&s, "adam").await;
    for p in PAGES {
        let (st, body) = adam.get(p).await;
        assert_eq!(st, StatusCode::OK, "{p}: {body}");
        assert!(
            body.contains(&format!("href=\"{p}\"")),
            "{p} missing in the menu"
        );
    }
    store.close().await;
}

#[tokio::test]
async fn another_tenants_lists_and_orgs_are_404() {
    let s = TestServer::start().await;
    let b = s.tenant("b").await;
    let list_a = s.list(s.tenant, "a-known", "known").await;
    let key_a = s.key(s.tenant, "Provider A").await;
    s.upload_ok(list_a, "type=md5", &format!("{}\n", "a".repeat(32)))
        .await;
    let store = open_store(&s).await;
    seed_user(&store, s.tenant, "alice", Role::Admin).await;
    seed_user(&store, b, "bob", Role::Admin).await;
    let bob = login(&s, "bob").await;
    let csrf = bob.csrf().await;
    for p in [
        format!("/ui/manage/lists/{list_a}"),
        format!("/ui/manage/orgs/{}", key_a.org),
    ] {
        let (st, body) = bob.get(&p).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{p}");
        assert!(!body.contains("a-known") && !body.contains("Provider A"));
    }
    let (st, _, _) = bob
        .post(
            &format!("/ui/manage/lists/{list_a}/revoke"),
            &[
                ("csrf", &csrf),
                ("by", "value"),
                ("type", "md5"),
                ("values", &"a".repeat(32)),
                ("reason", "probe"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _, _) = bob
        .upload(
            &format!("/ui/manage/lists/{list_a}/upload"),
            &[("csrf", &csrf), ("type", "md5")],
            &"b".repeat(32),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _, _) = bob
        .post(
            &format!("/ui/manage/orgs/{}/partner", key_a.org),
            &[("csrf", &csrf), ("kind", "hotline")],
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Bob's own pages do not list tenant A's records.
    let (_, body) = bob.get("/ui/manage/lists").await;
    assert!(!body.contains("a-known"));
    let (_, body) = bob.get("/ui/manage/orgs").await;
    assert!(!body.contains("Provider A"));
    // Nothing of A changed; A's admin sees both.
    let counts = store.list_counts(s.tenant).await.unwrap();
    assert_eq!((counts[0].active, counts[0].revoked), (1, 0));
    assert_eq!(store.report_partner(key_a.org).await.unwrap(), None);
    let alice = login(&s, "alice").await;
    let (st, body) = alice.get(&format!("/ui/manage/lists/{list_a}")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("a-known") && body.contains(&"a".repeat(32)));
    let (st, body) = alice.get(&format!("/ui/manage/orgs/{}", key_a.org)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("Provider A") && body.contains(&key_a.id));
    store.close().await;
}

#[tokio::test]
async fn policy_changes_are_stored_audited_and_refused_values_shown_by_their_field() {
    let s = TestServer::start().await;
    let store = open_store(&s).await;
    let adam_id = seed_user(&store, s.tenant, "adam", Role::Admin).await;
    let adam = login(&s, "adam").await;
    let csrf = adam.csrf().await;
    let actor = format!("user:{adam_id}");

    // Hit deadline and grace period.
    let (st, loc, body) = adam
        .post(
            "/ui/manage/policy/tenant",
            &[
                ("csrf", &csrf),
                ("hit_deadline_hours", "48"),
                ("hit_grace_hours", "12"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(loc, "/ui/manage/policy?saved=1");
    assert_eq!(
        store
            .tenant(s.tenant)
            .await
            .unwrap()
            .unwrap()
            .hit_deadline_hours,
        48
    );
    assert_eq!(store.hit_grace_hours(s.tenant).await.unwrap(), 12);

    // Report policy.
    let (st, _, _) = adam
        .post(
            "/ui/manage/policy/report",
            &[("csrf", &csrf), ("reference_prefix", "xy")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let rp = store.report_policy(s.tenant).await.unwrap();
    assert_eq!((rp.reference_prefix.as_str(), rp.four_eyes), ("XY", false));

    // Takedown policy with a sending window.
    let takedown = |reminder: &'static str, early: &'static str| {
        vec![
            ("first_notice_delay_minutes", "5"),
            ("hoster_reminder_hours", reminder),
            ("site_owner_every_hours", "72"),
            ("registrar_after_hours", "144"),
            ("police_after_hours", ""),
            ("regulator_after_hours", "200"),
            ("max_reminders", "10"),
            ("check_interval_minutes", "60"),
            ("early_check_interval_minutes", early),
            ("early_hours", "6"),
            ("offline_misses", "3"),
            ("offline_min_spacing_minutes", "15"),
            ("window_enabled", "on"),
            ("utc_offset_minutes", "60"),
            ("start_hour", "9"),
            ("end_hour", "17"),
        ]
    };
    let mut fields = takedown("48", "15");
    fields.push(("csrf", &csrf));
    let (st, _, body) = adam.post("/ui/manage/policy/takedown", &fields).await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{body}");
    let tp = store.takedown_policy(s.tenant).await.unwrap();
    assert_eq!(tp.hoster_reminder_hours, 48);
    assert_eq!(tp.first_notice_delay_minutes, 5);
    assert_eq!(tp.police_after_hours, None);
    assert_eq!(tp.regulator_after_hours, Some(200));
    let w = tp.sending_window.expect("window saved");
    assert_eq!((w.start_hour, w.end_hour, w.weekdays_only), (9, 17, false));
    // The page shows the saved values.
    let (_, body) = adam.get("/ui/manage/policy?saved=1").await;
    assert!(
        body.contains("id=\"f-hoster_reminder_hours\" name=\"hoster_reminder_hours\" value=\"48\"")
    );
    assert!(body.contains("id=\"f-hit_deadline_hours\" name=\"hit_deadline_hours\" value=\"48\""));

    // Refused: the early interval may not exceed the normal one; a word is not a number.
    let mut fields = takedown("72", "500");
    fields.push(("csrf", &csrf));
    let (st, _, body) = adam.post("/ui/manage/policy/takedown", &fields).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("id=\"e-early_check_interval_minutes\""),
        "{body}"
    );
    // The submitted values stay in the form; nothing was stored.
    assert!(body.contains("name=\"hoster_reminder_hours\" value=\"72\""));
    assert_eq!(
        store
            .takedown_policy(s.tenant)
            .await
            .unwrap()
            .hoster_reminder_hours,
        48
    );
    let (st, _, body) = adam
        .post(
            "/ui/manage/policy/tenant",
            &[
                ("csrf", &csrf),
                ("hit_deadline_hours", "soon"),
                ("hit_grace_hours", "12"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("id=\"e-hit_deadline_hours\""));
    let (st, _, body) = adam
        .post(
            "/ui/manage/policy/report",
            &[("csrf", &csrf), ("reference_prefix", "NOT OK!")],
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("id=\"e-reference_prefix\""));

    // Audited as the API audits them, with the user as actor.
    let events = store.audit_events(0, 100_000).await.unwrap();
    for action in [
        "tenant.hit_deadline",
        "tenant.grace_hours",
        "report_policy.set",
        "tenant.takedown_policy",
    ] {
        let n = events
            .iter()
            .filter(|e| e.action == action && e.actor == actor)
            .count();
        assert_eq!(n, 1, "{action}");
    }
    store.verify_audit_chain().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn lists_are_created_uploaded_and_revoked_with_the_import_summary_shown() {
    let s = TestServer::start().await;
    let store = open_store(&s).await;
    let adam_id = seed_user(&store, s.tenant, "adam", Role::Admin).await;
    let adam = login(&s, "adam").await;
    let csrf = adam.csrf().await;

    let (st, loc, body) = adam
        .post(
            "/ui/manage/lists",
            &[
                ("csrf", &csrf),
                ("name", "partner-allow"),
                ("kind", "allow"),
                ("pdq_radius", "20"),
                ("min_quality", "60"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{body}");
    let id: i64 = loc
        .trim_start_matches("/ui/manage/lists/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let list = store.list(id).await.unwrap().unwrap();
    assert_eq!(list.tenant_id, s.tenant);
    assert_eq!((list.pdq_radius, list.min_quality), (20, 60));
    assert_eq!(list.kind, schoon_core::ListKind::Allow);
    // A second list of the same name is refused on the page.
    let (st, _, body) = adam
        .post(
            "/ui/manage/lists",
            &[
                ("csrf", &csrf),
                ("name", "partner-allow"),
                ("kind", "known"),
                ("pdq_radius", "31"),
                ("min_quality", "50"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("create-error"));

    let (a, b) = ("a".repeat(32), "b".repeat(32));
    let file = format!("# two values and a repeat\n{a}\n{b}\n{a}\n");
    let (st, loc, body) = adam
        .upload(
            &format!("/ui/manage/lists/{id}/upload"),
            &[("csrf", &csrf), ("type", "md5"), ("source", "partner-x")],
            &file,
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{body}");
    assert!(loc.contains("added=2&duplicates=1"), "{loc}");
    let (st, body) = adam.get(&loc).await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("id=\"summary-added\">2<"), "{body}");
    assert!(body.contains("id=\"active-count\">2<"));
    let entries = store.entries(id, false, 0, 10).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert!(
        entries
            .iter()
            .all(|e| e.source.as_deref() == Some("partner-x"))
    );

    // A file with a bad line imports nothing and names the line.
    let (st, _, body) = adam
        .upload(
            &format!("/ui/manage/lists/{id}/upload"),
            &[("csrf", &csrf), ("type", "md5")],
            &format!("{}\nnot-a-hash\n", "c".repeat(32)),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("list-error") && body.contains(" 2: "),
        "{body}"
    );
    assert_eq!(store.entries(id, false, 0, 10).await.unwrap().len(), 2);

    // Revoke one by value, then the rest by source; a reason is required.
    let (st, _, _) = adam
        .post(
            &format!("/ui/manage/lists/{id}/revoke"),
            &[
                ("csrf", &csrf),
                ("by", "value"),
                ("type", "md5"),
                ("values", &a),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, loc, _) = adam
        .post(
            &format!("/ui/manage/lists/{id}/revoke"),
            &[
                ("csrf", &csrf),
                ("by", "value"),
                ("type", ""),
                ("values", &format!("md5 {a}")),
                ("reason", "false positive"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert!(loc.ends_with("revoked=1"), "{loc}");
    let (_, loc, _) = adam
        .post(
            &format!("/ui/manage/lists/{id}/revoke"),
            &[
                ("csrf", &csrf),
                ("by", "source"),
                ("source", "partner-x"),
                ("reason", "partner withdrew its list"),
            ],
        )
        .await;
    assert!(loc.ends_with("revoked=1"), "{loc}");
    let c = store.list_counts(s.tenant).await.unwrap();
    assert_eq!((c[0].active, c[0].revoked), (0, 2));

    let actor = format!("user:{adam_id}");
    let events = store.audit_events(0, 100_000).await.unwrap();
    for action in ["list.create", "list.import", "entry.revoke"] {
        assert!(
            events
                .iter()
                .any(|e| e.action == action && e.actor == actor),
            "{action}"
        );
    }
    store.close().await;
}

#[tokio::test]
async fn posts_without_the_csrf_token_are_403_and_change_nothing() {
    let s = TestServer::start().await;
    let list = s.list(s.tenant, "known", "known").await;
    let store = open_store(&s).await;
    seed_user(&store, s.tenant, "adam", Role::Admin).await;
    let adam = login(&s, "adam").await;
    let (st, _, _) = adam
        .post(
            "/ui/manage/policy/tenant",
            &[("hit_deadline_hours", "99"), ("hit_grace_hours", "1")],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = adam
        .post(
            "/ui/manage/policy/report",
            &[("csrf", "00ff"), ("reference_prefix", "ZZ")],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = adam
        .upload(
            &format!("/ui/manage/lists/{list}/upload"),
            &[("type", "md5")],
            &"d".repeat(32),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = adam.post("/ui/manage/orgs", &[("name", "No token")]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_ne!(
        store
            .tenant(s.tenant)
            .await
            .unwrap()
            .unwrap()
            .hit_deadline_hours,
        99
    );
    assert_ne!(
        store
            .report_policy(s.tenant)
            .await
            .unwrap()
            .reference_prefix,
        "ZZ"
    );
    assert!(store.entries(list, true, 0, 10).await.unwrap().is_empty());
    assert!(store.orgs(s.tenant).await.unwrap().is_empty());
    store.close().await;
}

#[tokio::test]
async fn orgs_health_and_template_preview() {
    let s = TestServer::start().await;
    let store = open_store(&s).await;
    let adam_id = seed_user(&store, s.tenant, "adam", Role::Admin).await;
    let adam = login(&s, "adam").await;
    let csrf = adam.csrf().await;

    let (st, loc, body) = adam
        .post(
            "/ui/manage/orgs",
            &[("csrf", &csrf), ("name", "Hotline BE")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{body}");
    let org: i64 = loc
        .trim_start_matches("/ui/manage/orgs/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (st, _, _) = adam
        .post(
            &format!("/ui/manage/orgs/{org}/partner"),
            &[("csrf", &csrf), ("kind", "hotline")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(
        store.report_partner(org).await.unwrap(),
        Some(schoon_core::report::SourceKind::Hotline)
    );
    let (_, body) = adam.get(&format!("/ui/manage/orgs/{org}")).await;
    assert!(body.contains("Hotline BE"));
    let events = store.audit_events(0, 100_000).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "organisation.create" && e.actor == format!("user:{adam_id}"))
    );

    // A dead job shows with its error; the database answers.
    let job = store
        .enqueue_job(store::NewJob {
            kind: "test.broken".into(),
            payload: serde_json::json!({}),
            run_at: chrono::Utc::now() - chrono::Duration::seconds(5),
            max_attempts: 1,
            idempotency_key: None,
        })
        .await
        .unwrap();
    let claimed = store
        .claim_jobs("t", &["test.broken"], 1, chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(claimed[0].id, job);
    store
        .fail_job(job, "t", "upstream said no", chrono::Utc::now())
        .await
        .unwrap();
    let (st, body) = adam.get("/ui/manage/health").await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        body.contains("data-kind=\"test.broken\" data-status=\"dead\""),
        "{body}"
    );
    assert!(body.contains("upstream said no"));
    assert!(body.contains("id=\"db-status\" class=\"manage-ok\""));
    assert!(body.contains("id=\"check-never\""));
    assert!(body.contains(env!("CARGO_PKG_VERSION")));

    // Both notice templates render with sample data; the reference uses the tenant prefix.
    let (st, body) = adam.get("/ui/manage/rules").await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("id=\"preview-nl\"") && body.contains("id=\"preview-en\""));
    assert!(!body.contains("role=\"alert\""), "{body}");
    let prefix = store
        .report_policy(s.tenant)
        .await
        .unwrap()
        .reference_prefix;
    assert!(body.contains(&format!("{prefix}-N-1")));
    assert!(body.contains("id=\"rules-missing\""));
    store.close().await;
}
