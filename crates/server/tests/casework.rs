//! The analysts' casework pages over HTTP (no browser): takedown queues with counts, the case
//! page, a needs-contact case released by a manual contact, a police release, report notes,
//! tenant isolation (404), CSRF (403) and the per-address login limit (429, audited; behind a
//! trusted proxy per `X-Forwarded-For` client).
//!
//! Cases are seeded straight into the server's SQLite database (the path the store tests use:
//! a report whose items a list classified illegal, then `open_case` and attributions), with the
//! report worker and the takedown jobs off so nothing races the seeding.

mod common;

use chrono::{Duration, Utc};
use common::TestServer;
use common::browser::{PASSWORD, form, seed_user};
use common::ui_client::{UiClient, csrf_of, login_token, no_redirects, try_login};
use reqwest::StatusCode;
use schoon_core::report::{Classification, SourceKind};
use schoon_core::takedown::{CaseState, LadderRung, NoticeState, ObservationOutcome};
use store::accounts::Role;
use store::reports::{AutoOutcome, Fetched, NewReport};
use store::takedown::{CaseContacts, NewAttribution, NewCase, NewNotice, NewObservation};
use store::{Actor, CaseworkStore, ReportStore, SqliteStore, Store, TakedownStore};

fn a(name: &str) -> Actor {
    Actor(name.into())
}

/// A report of `site` with `n` items classified illegal by a list (`notice_pending`).
async fn pending(s: &SqliteStore, t: i64, site: &str, n: usize) -> (i64, Vec<NewCase>) {
    let page = format!("https://{site}/page");
    let r = s
        .submit_reports(
            &a("test"),
            t,
            vec![NewReport {
                url: page.clone(),
                original_url: page.clone(),
                registrable_domain: None,
                referer: None,
                note: None,
                source_kind: SourceKind::Hotline,
                source_org_id: None,
                reporter_email: None,
            }],
            Utc::now(),
        )
        .await
        .unwrap();
    let report = r[0].report_id;
    let media = (0..n)
        .map(|i| (format!("https://{site}/img/{i}.jpg"), "img".to_string()))
        .collect();
    s.record_page(&a("test"), report, None, None, media)
        .await
        .unwrap();
    let mut out = Vec::new();
    for item in s.report_items(report).await.unwrap() {
        let fetched = Fetched {
            md5: None,
            sha1: None,
            sha256: Some(format!("{:064x}", item.id)),
            pdq: None,
            pdq_quality: None,
            width: None,
            height: None,
            content_type: Some("image/jpeg".into()),
            size: Some(100),
            evidence_ref: None,
            error: None,
        };
        assert!(
            s.complete_item(
                &a("test"),
                item.id,
                fetched,
                AutoOutcome::Known {
                    list_id: 1,
                    entry_id: 1,
                    classification: Classification::Baseline,
                },
            )
            .await
            .unwrap()
        );
        out.push(NewCase {
            tenant_id: t,
            report_id: report,
            item_id: item.id,
            url: item.url.clone(),
            page_url: page.clone(),
            police_first: false,
        });
    }
    s.finish_report(&a("test"), report).await.unwrap();
    (report, out)
}

fn attribution(org: Option<&str>, email: Option<&str>, missing: &[&str]) -> NewAttribution {
    NewAttribution {
        contacts: CaseContacts {
            hoster_org: org.map(str::to_owned),
            hoster_email: email.map(str::to_owned),
            hoster_country: Some("NL".into()),
            asn: Some(64500),
            ip: Some("192.0.2.10".into()),
            registrar_name: Some("Example Registrar".into()),
            ..Default::default()
        },
        host: "shop.example".into(),
        registrable_domain: Some("shop.example".into()),
        needs_contact: missing.iter().map(|m| m.to_string()).collect(),
        raw: serde_json::json!({"hoster": {"source": "rdap", "handle": "NET-TEST"}}),
        made_at: Utc::now(),
        tenant_country: Some("NL".into()),
    }
}

/// The `data-count` of a queue card (`id="queue-<key>"`).
fn card_count(html: &str, key: &str) -> i64 {
    let at = html
        .find(&format!(r#"id="queue-{key}""#))
        .unwrap_or_else(|| panic!("no card {key}"));
    let rest = &html[at..];
    let c = rest.find("data-count=\"").unwrap() + 12;
    rest[c..].split('"').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takedown_queues_case_page_and_actions() {
    let s = TestServer::start_with(|c| {
        c.reports.worker = false;
        c.takedown.enabled = false;
        c.ui.plain_http = true;
    })
    .await;
    let other = s.tenant("be").await;
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let anna = seed_user(&store, s.tenant, "anna", Role::Analyst).await;
    seed_user(&store, other, "bert", Role::Analyst).await;

    let (report, items) = pending(&store, s.tenant, "shop.example", 3).await;
    let now = Utc::now();
    let sys = a("system:takedown");
    // 1: no abuse address → needs contact.
    let c1 = store.open_case(&sys, items[0].clone(), now).await.unwrap();
    let (c1, _) = store
        .record_attribution(
            &sys,
            c1.id,
            attribution(Some("Quiet Hosting"), None, &["hoster:no_abuse_email"]),
        )
        .await
        .unwrap();
    assert_eq!(c1.state, CaseState::NeedsContact);
    // 2: monitored, checked once, then moved to another hoster.
    let c2 = store.open_case(&sys, items[1].clone(), now).await.unwrap();
    store
        .record_attribution(
            &sys,
            c2.id,
            attribution(Some("Hoster A"), Some("abuse@a.example"), &[]),
        )
        .await
        .unwrap();
    let policy = store.takedown_policy(s.tenant).await.unwrap();
    store
        .record_observation(
            c2.id,
            NewObservation {
                at: now,
                http_status: Some(404),
                outcome: ObservationOutcome::Gone,
                detail: Some("status_404".into()),
                content_type: None,
                served_sha256: None,
                served_pdq: None,
                distance: None,
                final_url: None,
                error: None,
            },
            &policy,
        )
        .await
        .unwrap();
    let (c2, _) = store
        .record_attribution(
            &sys,
            c2.id,
            attribution(Some("Hoster B"), Some("abuse@b.example"), &[]),
        )
        .await
        .unwrap();
    assert!(c2.hoster_changed_at.is_some(), "{c2:?}");
    // 3: police first.
    let c3 = store.open_case(&sys, items[2].clone(), now).await.unwrap();
    let c3 = store
        .set_police_first(&a("test"), c3.id, now)
        .await
        .unwrap();
    assert_eq!(c3.state, CaseState::PoliceHold);
    // A case of the other tenant.
    let (_, foreign_items) = pending(&store, other, "elders.example", 1).await;
    let c4 = store
        .open_case(&sys, foreign_items[0].clone(), now)
        .await
        .unwrap();

    let anna_c = UiClient::login(&s.base, "anna").await;
    // Queue overview: every takedown queue has its count next to the classification queues.
    let (st, html) = anna_c.get("/ui/queues").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(card_count(&html, "needs-contact"), 1);
    assert_eq!(card_count(&html, "police"), 1);
    assert_eq!(card_count(&html, "monitoring"), 1);
    assert_eq!(card_count(&html, "changed-hoster"), 1);
    assert!(html.contains(&format!("/ui/cases/{}", c1.id)));
    assert!(!html.contains(&format!("/ui/cases/{}\"", c4.id)));

    // Queue pages.
    let (st, html) = anna_c.get("/ui/cases?queue=needs-contact").await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        html.contains(&format!(r#"id="case-row-{}""#, c1.id)),
        "{html}"
    );
    assert!(html.contains("https://shop.example/img/0.jpg"));
    assert!(html.contains("Quiet Hosting"));
    let (_, html) = anna_c.get("/ui/cases?queue=monitoring").await;
    assert!(html.contains(&format!(r#"id="case-row-{}""#, c2.id)));
    assert!(html.contains("gone · 404"), "{html}");
    let (_, html) = anna_c.get("/ui/cases?queue=changed-hoster").await;
    assert!(html.contains(&format!(r#"id="case-row-{}""#, c2.id)));
    assert!(html.contains("Hoster B"));
    let (st, _) = anna_c.get("/ui/cases?queue=nonsense").await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Case page: timeline, observation and the attribution history with both hosters.
    let (st, html) = anna_c.get(&format!("/ui/cases/{}", c2.id)).await;
    assert_eq!(st, StatusCode::OK);
    for needle in [
        "Hoster A",
        "Hoster B",
        "hoster_changed",
        "status_404",
        "rdap (NET-TEST)",
        "AS64500",
        "192.0.2.10",
        "Example Registrar",
    ] {
        assert!(html.contains(needle), "{needle} missing on the case page");
    }
    // Another tenant's case is not found, for pages and actions alike.
    let (st, _) = anna_c.get(&format!("/ui/cases/{}", c4.id)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let csrf = anna_c.csrf().await;
    let (st, _) = anna_c
        .post(
            &format!("/ui/cases/{}/contacts", c4.id),
            &[("csrf", &csrf), ("hoster_email", "abuse@x.example")],
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // CSRF: a missing or wrong token is refused and changes nothing.
    let (st, _) = anna_c
        .post(
            &format!("/ui/cases/{}/contacts", c1.id),
            &[("csrf", "00ff"), ("hoster_email", "abuse@quiet.example")],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = anna_c
        .post(&format!("/ui/cases/{}/release", c3.id), &[("csrf", "")])
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(
        store.case(c1.id).await.unwrap().unwrap().state,
        CaseState::NeedsContact
    );

    // The API's validation applies: no hoster or CDN address is refused.
    let (st, _) = anna_c
        .post(
            &format!("/ui/cases/{}/contacts", c1.id),
            &[("csrf", &csrf), ("hoster_org", "Quiet Hosting")],
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    // A manual contact releases the needs-contact case to monitoring.
    let (st, to) = anna_c
        .post(
            &format!("/ui/cases/{}/contacts", c1.id),
            &[
                ("csrf", &csrf),
                ("hoster_org", "Quiet Hosting"),
                ("hoster_email", "abuse@quiet.example"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(to, format!("/ui/cases/{}?done=contacts", c1.id));
    let c1_now = store.case(c1.id).await.unwrap().unwrap();
    assert_eq!(c1_now.state, CaseState::Monitoring);
    assert_eq!(
        c1_now.contacts.hoster_email.as_deref(),
        Some("abuse@quiet.example")
    );
    let (_, html) = anna_c.get("/ui/queues").await;
    assert_eq!(card_count(&html, "needs-contact"), 0);
    assert_eq!(card_count(&html, "monitoring"), 2);

    // Police release.
    let (st, _) = anna_c
        .post(&format!("/ui/cases/{}/release", c3.id), &[("csrf", &csrf)])
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(
        store.case(c3.id).await.unwrap().unwrap().state,
        CaseState::Attributing
    );

    // Notes on the report: stored, shown, audited.
    let (st, _) = anna_c
        .post(
            &format!("/ui/reports/{report}/notes"),
            &[("csrf", &csrf), ("note", "Mirror of an older report.")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, html) = anna_c.get(&format!("/ui/reports/{report}")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("Mirror of an older report."));
    assert!(html.contains(r#"id="report-timeline""#));
    assert!(html.contains("report.note"));
    // The report's cases with their attribution.
    assert!(html.contains(&format!("/ui/cases/{}", c2.id)) && html.contains("Hoster B"));

    // Everything the UI changed is audited as the user.
    let actor = format!("user:{anna}");
    let events = store.audit_events(0, 100_000).await.unwrap();
    for (action, subject) in [
        ("case.contact_resolved", format!("case:{}", c1.id)),
        ("case.police_released", format!("case:{}", c3.id)),
        ("report.note", format!("report:{report}")),
    ] {
        assert!(
            events
                .iter()
                .any(|e| e.action == action && e.subject == subject && e.actor == actor),
            "{action} on {subject} by {actor} not audited"
        );
    }
    // A notice whose delivery is unknown (claimed, lease ran out) is decided on the case page.
    let notice = store
        .enqueue_notice(
            &sys,
            NewNotice {
                tenant_id: s.tenant,
                rung: LadderRung::Hoster,
                recipient_email: "abuse@b.example".into(),
                recipient_org: Some("Hoster B".into()),
                language: Some("en".into()),
                due_at: now,
                held: false,
                items: vec![(c2.id, 0)],
            },
            now,
        )
        .await
        .unwrap()
        .expect("notice queued");
    let claimed = store
        .claim_notices("w1", now, Duration::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let stuck = store
        .recover_stuck_notices(now + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(stuck.len(), 1);
    let (_, html) = anna_c.get(&format!("/ui/cases/{}", c2.id)).await;
    assert!(html.contains("delivery_unknown"));
    assert!(html.contains(&format!("/ui/notices/{}/resolve", notice.id)));
    let nid = notice.id.to_string();
    let c2id = c2.id.to_string();
    let c1id = c1.id.to_string();
    // The return case must be one the notice covers.
    let (st, _) = anna_c
        .post(
            &format!("/ui/notices/{nid}/resolve"),
            &[("csrf", &csrf), ("decision", "sent"), ("case", &c1id)],
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, to) = anna_c
        .post(
            &format!("/ui/notices/{nid}/resolve"),
            &[("csrf", &csrf), ("decision", "sent"), ("case", &c2id)],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{to}");
    assert_eq!(
        store.notice(notice.id).await.unwrap().unwrap().state,
        NoticeState::Sent
    );
    // Decided once: a second decision is refused by the API's rule.
    let (st, _) = anna_c
        .post(
            &format!("/ui/notices/{nid}/resolve"),
            &[("csrf", &csrf), ("decision", "requeue"), ("case", &c2id)],
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);

    // Bert sees none of it.
    let bert_c = UiClient::login(&s.base, "bert").await;
    let bert_csrf = bert_c.csrf().await;
    let (st, _) = bert_c
        .post(
            &format!("/ui/notices/{nid}/resolve"),
            &[("csrf", &bert_csrf), ("decision", "sent"), ("case", &c2id)],
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, html) = bert_c.get("/ui/queues").await;
    assert_eq!(card_count(&html, "monitoring"), 0);
    let (st, _) = bert_c.get(&format!("/ui/cases/{}", c1.id)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = bert_c.get(&format!("/ui/reports/{report}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    store.verify_audit_chain().await.unwrap();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_failed_logins_from_one_address_are_refused() {
    let s = TestServer::start_with(|c| {
        c.reports.worker = false;
        c.ui.plain_http = true;
    })
    .await;
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    for name in ["anna", "vera", "carl"] {
        seed_user(&store, s.tenant, name, Role::Analyst).await;
    }
    let http = no_redirects();
    let token = login_token(&http, &s.base).await;
    let limit = server::ui::session::IP_MAX_FAILURES;
    // Failures across accounts (and unknown names) from the one loopback address; no single
    // account reaches its own lock-out (5).
    for i in 0..limit {
        let user = match i % 5 {
            0 => "anna".to_string(),
            1 => "vera".to_string(),
            2 => "carl".to_string(),
            _ => format!("nobody{i}"),
        };
        let r = try_login(&http, &s.base, &token, &user, "wrong password!").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // Now even the right password is refused, without revealing whether it was right.
    let r = try_login(&http, &s.base, &token, "carl", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Te veel mislukte inlogpogingen vanaf uw adres"),
        "{body}"
    );
    assert!(!body.contains("schoon_session"));
    let events = store.audit_events(0, 100_000).await.unwrap();
    let blocked: Vec<_> = events
        .iter()
        .filter(|e| e.action == "login.ip_blocked")
        .collect();
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_eq!(blocked[0].subject, "ip:127.0.0.1");
    // Refused attempts are not counted again (no audit growth under attack).
    let r = try_login(&http, &s.base, &token, "nobody", "x").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        store
            .ip_login_failures("127.0.0.1", Utc::now() - Duration::hours(1))
            .await
            .unwrap(),
        limit
    );
    store.close().await;
}

/// A failed login (unknown user) claiming to come from `xff` via `X-Forwarded-For`.
async fn login_via(http: &reqwest::Client, base: &str, token: &str, xff: &str) -> StatusCode {
    http.post(format!("{base}/ui/login"))
        .header("cookie", format!("schoon_login={token}"))
        .header("x-forwarded-for", xff)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("username", "nobody"),
            ("password", "wrong password!"),
            ("token", token),
        ]))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_limit_uses_forwarded_client_only_behind_trusted_proxies() {
    let limit = server::ui::session::IP_MAX_FAILURES;
    let since = Utc::now() - Duration::hours(1);
    let blocked_subjects = |events: Vec<schoon_core::audit::AuditEvent>| -> Vec<String> {
        events
            .into_iter()
            .filter(|e| e.action == "login.ip_blocked")
            .map(|e| e.subject)
            .collect()
    };

    // No trusted proxies: the header is ignored, so rotating it does not escape the limit.
    let s = TestServer::start_with(|c| {
        c.reports.worker = false;
        c.ui.plain_http = true;
    })
    .await;
    let http = no_redirects();
    let token = login_token(&http, &s.base).await;
    for i in 0..limit {
        let st = login_via(&http, &s.base, &token, &format!("203.0.113.{i}")).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let st = login_via(&http, &s.base, &token, "198.51.100.77").await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let events = store.audit_events(0, 100_000).await.unwrap();
    assert_eq!(blocked_subjects(events), ["ip:127.0.0.1"]);
    store.close().await;
    drop(s);

    // Loopback is the trusted proxy: the limit applies to the forwarded client address.
    let s = TestServer::start_with(|c| {
        c.reports.worker = false;
        c.ui.plain_http = true;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let token = login_token(&http, &s.base).await;
    for i in 0..limit {
        let st = login_via(&http, &s.base, &token, "203.0.113.5").await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let st = login_via(&http, &s.base, &token, "203.0.113.5").await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    // A forged address left of the real one changes nothing.
    let st = login_via(&http, &s.base, &token, "198.51.100.1, 203.0.113.5").await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy is not blocked.
    let st = login_via(&http, &s.base, &token, "203.0.113.6").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let events = store.audit_events(0, 100_000).await.unwrap();
    assert_eq!(blocked_subjects(events), ["ip:203.0.113.5"]);
    assert_eq!(
        store.ip_login_failures("203.0.113.5", since).await.unwrap(),
        limit
    );
    assert_eq!(
        store.ip_login_failures("203.0.113.6", since).await.unwrap(),
        1
    );
    assert_eq!(
        store.ip_login_failures("127.0.0.1", since).await.unwrap(),
        0
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn police_liaison_sees_and_releases_only_police_cases() {
    let s = TestServer::start_with(|c| {
        c.reports.worker = false;
        c.takedown.enabled = false;
        c.ui.plain_http = true;
    })
    .await;
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let piet = seed_user(&store, s.tenant, "piet", Role::Police).await;
    let (report, items) = pending(&store, s.tenant, "shop.example", 2).await;
    let now = Utc::now();
    let sys = a("system:takedown");
    // A case held for the police, and an ordinary one waiting for a contact.
    let held = store.open_case(&sys, items[0].clone(), now).await.unwrap();
    let held = store
        .set_police_first(&a("test"), held.id, now)
        .await
        .unwrap();
    assert_eq!(held.state, CaseState::PoliceHold);
    let plain = store.open_case(&sys, items[1].clone(), now).await.unwrap();
    store
        .record_attribution(
            &sys,
            plain.id,
            attribution(Some("Quiet Hosting"), None, &["hoster:no_abuse_email"]),
        )
        .await
        .unwrap();

    let c = UiClient::login(&s.base, "piet").await;
    // Home is the police queue, and the menu leads only there.
    let home = c
        .http
        .get(format!("{}/ui", s.base))
        .header("cookie", &c.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(home.headers()["location"], "/ui/cases?queue=police");
    let (st, html) = c.get("/ui/cases").await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains(&format!("/ui/cases/{}", held.id)), "{html}");
    assert!(!html.contains(&format!("/ui/cases/{}\"", plain.id)));
    assert!(!html.contains("queue=needs-contact"));
    for queue in ["needs-contact", "monitoring", "changed-hoster"] {
        let (st, _) = c.get(&format!("/ui/cases?queue={queue}")).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{queue}");
    }
    // Classification and the report's items stay closed.
    assert_eq!(c.get("/ui/queues").await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        c.get(&format!("/ui/reports/{report}")).await.0,
        StatusCode::FORBIDDEN
    );
    // A case that never concerned the police is "not found"; the held one shows the release
    // form but no contact form and no link into the report.
    assert_eq!(
        c.get(&format!("/ui/cases/{}", plain.id)).await.0,
        StatusCode::NOT_FOUND
    );
    let (st, html) = c.get(&format!("/ui/cases/{}", held.id)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains(r#"id="release-form""#));
    assert!(!html.contains(&format!("/ui/reports/{report}")));
    let csrf = csrf_of(&html);
    let (st, _) = c
        .post(
            &format!("/ui/cases/{}/contacts", plain.id),
            &[("csrf", &csrf), ("hoster_email", "abuse@x.example")],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Without the token: refused; with it: released, audited as the police liaison.
    let (st, _) = c
        .post(&format!("/ui/cases/{}/release", held.id), &[("csrf", "")])
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = c
        .post(
            &format!("/ui/cases/{}/release", held.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(
        store.case(held.id).await.unwrap().unwrap().state,
        CaseState::Attributing
    );
    // Released once: a second release is not for them to make.
    let (st, _) = c
        .post(
            &format!("/ui/cases/{}/release", held.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let events = store.audit_events(0, 100_000).await.unwrap();
    assert!(events.iter().any(|e| e.action == "case.police_released"
        && e.subject == format!("case:{}", held.id)
        && e.actor == format!("user:{piet}")));
}
