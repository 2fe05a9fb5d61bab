//! Shared by `portal.rs` and `browser_portal.rs`: seeding what a provider sees (a sent notice
//! with its case, a hit, an issued order) and a cookie-carrying UI client.

#![allow(dead_code)]

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use schoon_core::report::{Attributes, Classification, SourceKind};
use schoon_core::takedown::{CaseState, LadderRung};
use serde_json::{Value, json};
use store::reports::{AnalystAction, AutoOutcome, Fetched, NewReport};
use store::takedown::{CaseContacts, Delivery, NewAttribution, NewCase, NewNotice};
use store::{Actor, ReportStore, SqliteStore, TakedownStore};

use crate::common::TestServer;
use crate::common::browser::{PASSWORD, form};

/// A sent notice and what it covers.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// Notice id.
    pub notice: i64,
    /// Its reference.
    pub reference: String,
    /// The case.
    pub case: i64,
    /// The case URL.
    pub url: String,
}

/// A classified item, its case attributed to `org_name` as hoster (monitoring), and a hoster
/// notice to it, sent (the outbox steps done through the store, as the worker would).
pub async fn sent_notice(store: &SqliteStore, tenant: i64, org_name: &str, k: u32) -> Seeded {
    let actor = Actor("admin:test".into());
    let now = Utc::now();
    let page = format!("https://forum.example-site.test/t/{tenant}-{k}");
    let url = format!("https://cdn{k}.hosted.example/u/{tenant}-{k}.jpg");
    let sub = store
        .submit_reports(
            &actor,
            tenant,
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
            now - Duration::days(1),
        )
        .await
        .unwrap();
    let report = sub[0].report_id;
    store
        .record_page(
            &actor,
            report,
            None,
            None,
            vec![(url.clone(), "img".into())],
        )
        .await
        .unwrap();
    let item = store.report_items(report).await.unwrap()[0].clone();
    let fetched = Fetched {
        sha256: Some(format!(
            "{:064x}",
            0xbeef_0000 + u64::from(k) + 1000 * tenant as u64
        )),
        content_type: Some("image/jpeg".into()),
        size: Some(1234),
        ..Fetched::default()
    };
    store
        .complete_item(&actor, item.id, fetched, AutoOutcome::NeedsAnalyst)
        .await
        .unwrap();
    store
        .analyst_action(
            &actor,
            &[item.id],
            AnalystAction::Classify {
                classification: Classification::Baseline,
                attributes: Attributes::default(),
            },
            false,
        )
        .await
        .unwrap();
    let case = store
        .open_case(
            &actor,
            NewCase {
                tenant_id: tenant,
                report_id: report,
                item_id: item.id,
                url: url.clone(),
                page_url: page,
                police_first: false,
            },
            now,
        )
        .await
        .unwrap();
    let email = format!("abuse@{}.test", org_name.to_lowercase().replace(' ', "-"));
    let (case, _) = store
        .record_attribution(
            &actor,
            case.id,
            NewAttribution {
                contacts: CaseContacts {
                    hoster_org: Some(org_name.into()),
                    hoster_email: Some(email.clone()),
                    hoster_country: Some("NL".into()),
                    asn: Some(64500),
                    ip: Some("192.0.2.10".into()),
                    ..CaseContacts::default()
                },
                host: format!("cdn{k}.hosted.example"),
                registrable_domain: Some("hosted.example".into()),
                needs_contact: vec![],
                raw: json!({"source": "test"}),
                made_at: now,
                tenant_country: Some("NL".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(case.state, CaseState::Monitoring);
    let notice = store
        .enqueue_notice(
            &Actor("system".into()),
            NewNotice {
                tenant_id: tenant,
                rung: LadderRung::Hoster,
                recipient_email: email,
                recipient_org: Some(org_name.into()),
                language: Some("nl".into()),
                due_at: now,
                held: false,
                items: vec![(case.id, 0)],
            },
            now,
        )
        .await
        .unwrap()
        .expect("notice queued");
    let claimed = store
        .claim_notices("portal-test", now, Duration::minutes(5), 100)
        .await
        .unwrap();
    assert!(claimed.iter().any(|n| n.id == notice.id));
    for n in claimed {
        store
            .record_delivery(
                n.id,
                "portal-test",
                Delivery {
                    accepted: true,
                    smtp_code: Some(250),
                    smtp_message: "ok".into(),
                    message_id: format!("<{}@schoon.test>", n.reference),
                    at: now,
                },
            )
            .await
            .unwrap();
    }
    Seeded {
        notice: notice.id,
        reference: notice.reference,
        case: case.id,
        url,
    }
}

/// A hit of the organisation whose check key is `token` (a SHA-256 on a known list).
pub async fn hit(s: &TestServer, tenant: i64, token: &str, n: u32) -> i64 {
    let sha = format!("{:064x}", 0xfeed_0000u64 + u64::from(n));
    let list = s.list(tenant, &format!("known-{n}"), "known").await;
    s.upload_ok(list, "type=sha256", &format!("{sha}\n")).await;
    // The matcher picks the new entry up on its next poll.
    for _ in 0..50 {
        let (st, _, v) = s
            .check(
                token,
                json!({"content_url": format!("https://files.example/{n}.jpg"),
                       "hashes": [{"type": "sha256", "value": sha}]}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        if let Some(id) = v["results"][0]["matches"][0]["hit_id"].as_i64() {
            return id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no hit recorded");
}

/// An issued (not yet delivered) order to `provider`; returns its id.
pub async fn issued_order(s: &TestServer, tenant: i64, reference: &str, provider: &str) -> i64 {
    let path = format!("/api/v1/regulator/tenants/{tenant}/orders");
    let (st, v) = s
        .admin_post(
            &path,
            json!({
                "reference": reference,
                "provider": {"name": provider, "email": "abuse@hoster.example"},
                "legal_basis": "art. 3 test act",
                "deadline_hours": 24,
                "items": [{"url": format!("https://site.example/{reference}.jpg"), "sha256": "ab".repeat(32)}],
            }),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().unwrap();
    let (st, v) = s.admin_post(&format!("{path}/{id}/issue"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    id
}

/// A signed-in browser stand-in (cookies by hand, no redirects followed).
pub struct Ui {
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: String,
}

/// A response: status, `Location`, body.
pub type Resp = (StatusCode, String, String);

impl Ui {
    /// Logs `user` in (password [`PASSWORD`]).
    pub async fn login(base: &str, user: &str) -> Ui {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = http.get(format!("{base}/ui/login")).send().await.unwrap();
        let token = page.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string();
        let resp = http
            .post(format!("{base}/ui/login"))
            .header("cookie", format!("schoon_login={token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("username", user),
                ("password", PASSWORD),
                ("token", token.as_str()),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login of {user}");
        let cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with("schoon_session="))
            .expect("session cookie")
            .split(';')
            .next()
            .unwrap()
            .to_string();
        Ui {
            base: base.to_string(),
            http,
            cookie,
        }
    }

    async fn done(resp: reqwest::Response) -> Resp {
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, location, resp.text().await.unwrap())
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Resp {
        Self::done(
            self.http
                .get(format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The CSRF token on a page.
    pub async fn csrf(&self) -> String {
        let (st, _, body) = self.get("/ui/account").await;
        assert_eq!(st, StatusCode::OK);
        let i = body.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
        body[i..].split('"').next().unwrap().to_string()
    }

    /// POST a urlencoded form.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        Self::done(
            self.http
                .post(format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(fields))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// POST a multipart form: text fields and an optional `(field, file name, bytes)`.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, &[u8])>,
    ) -> Resp {
        let boundary = "----schoonportaltest7d1";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some((field, name, bytes)) = file {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        Self::done(
            self.http
                .post(format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

/// Audit events with this action on this subject.
pub async fn audited(store: &SqliteStore, action: &str, subject: &str) -> Vec<Value> {
    use store::Store;
    store
        .audit_events(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action && e.subject == subject)
        .map(|e| json!({"actor": e.actor, "action": e.action, "subject": e.subject}))
        .collect()
}
