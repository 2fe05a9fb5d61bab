//! The regulator officer's pages over HTTP (no browser): the escalation queue, pick-up, an
//! order opened from an escalated case (visible in the officer API), issue, penalty terms, a
//! fine, compliance, appeal, publication (visible in `/register.json`), withdrawal, the
//! evidence download; roles (403), tenant isolation (404), CSRF (403) and the audit trail of
//! every action with the officer as actor.
//!
//! The escalated case is seeded straight into the server's SQLite database (as
//! tests/casework.rs does), with the report worker and the takedown jobs off.

mod common;

use common::TestServer;
use common::browser::{seed_user, seed_user_in};
use common::regulator_seed::escalated_case;
use common::ui_client::UiClient;
use reqwest::StatusCode;
use serde_json::{Value, json};
use store::accounts::Role;
use store::orders::EscalationSource;
use store::{Actor, OrderStore, ReportStore, SqliteStore, Store};

fn a(name: &str) -> Actor {
    Actor(name.into())
}

/// Audit actions on `subject` by `actor`.
async fn actions(s: &SqliteStore, subject: &str, actor: &str) -> Vec<String> {
    s.audit_for_subjects(&[subject.to_string()])
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.actor == actor)
        .map(|e| e.action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_officer_works_an_escalation_into_a_published_order() {
    let s = TestServer::start_with(|c| {
        c.reports.worker = false;
        c.takedown.enabled = false;
        c.ui.plain_http = true;
    })
    .await;
    let t = s.tenant;
    let other = s.tenant("be").await;
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let olga = seed_user(&store, t, "olga", Role::Regulator).await;
    seed_user(&store, t, "anna", Role::Analyst).await;
    let org = store
        .create_org(&a("test"), t, "Slow Hosting")
        .await
        .unwrap();
    seed_user_in(&store, t, Some(org.id), "piet", Role::Provider).await;
    let officer = format!("user:{olga}");

    let (case_id, url, sha, esc) = escalated_case(&store, t, "shop.example").await;
    let (_, _, _, foreign_esc) = escalated_case(&store, other, "elders.example").await;

    // The queue: the escalated case with its URL as text, hoster and a pick-up button.
    let olga_c = UiClient::login(&s.base, "olga").await;
    let (st, html) = olga_c.get("/ui/regulator/queue").await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(html.contains(&format!(r#"id="esc-case-{esc}""#)), "{html}");
    assert!(
        html.contains(r#"id="count-cases" data-count="1""#),
        "{html}"
    );
    assert!(html.contains(&url) && html.contains("Slow Hosting"));
    assert!(html.contains("no removal after the last rung"));
    assert!(html.contains(&format!("/ui/regulator/escalations/case/{esc}/pick-up")));
    // Never a link or an image source to the material.
    assert!(!html.contains(&format!("href=\"{url}")) && !html.contains(&format!("src=\"{url}")));
    assert!(!html.contains("elders.example"), "another tenant's case");
    // The menu has the officer's entries; /ui sends the officer to the queue.
    assert!(html.contains(r#"href="/ui/regulator/orders""#));
    let (st, to) = olga_c.get("/ui").await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{to}");

    // Other roles: 403 for pages and actions.
    let anna_c = UiClient::login(&s.base, "anna").await;
    let piet_c = UiClient::login(&s.base, "piet").await;
    for c in [&anna_c, &piet_c] {
        for path in ["/ui/regulator/queue", "/ui/regulator/orders"] {
            let (st, _) = c.get(path).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
        }
        let (_, html) = c.get("/ui/account").await;
        assert!(!html.contains("/ui/regulator/"), "no menu entry");
        let csrf = c.csrf().await;
        let (st, _) = c
            .post(
                &format!("/ui/regulator/escalations/case/{esc}/pick-up"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
    }

    // CSRF: without or with a wrong token nothing is picked up.
    let (st, _) = olga_c
        .post(
            &format!("/ui/regulator/escalations/case/{esc}/pick-up"),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = olga_c
        .post(
            &format!("/ui/regulator/escalations/case/{esc}/pick-up"),
            &[("csrf", "00ff")],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let e = store
        .regulator_escalation(EscalationSource::Case, esc)
        .await
        .unwrap()
        .unwrap();
    assert!(!e.picked_up(), "{e:?}");

    // Pick up: the API's store call, audited with the officer as actor.
    let csrf = olga_c.csrf().await;
    let (st, to) = olga_c
        .post(
            &format!("/ui/regulator/escalations/case/{esc}/pick-up"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(to, "/ui/regulator/queue?done=picked");
    let e = store
        .regulator_escalation(EscalationSource::Case, esc)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.picked_up_by.as_deref(), Some(officer.as_str()));
    assert_eq!(
        actions(&store, &format!("case_escalation:{esc}"), &officer).await,
        ["escalation.pick_up"]
    );
    // Another tenant's escalation is not found.
    let (st, _) = olga_c
        .post(
            &format!("/ui/regulator/escalations/case/{foreign_esc}/pick-up"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = olga_c
        .get(&format!(
            "/ui/regulator/escalations/case/{foreign_esc}/order"
        ))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // The queue moved it to "picked up", with the way to an order.
    let (_, html) = olga_c.get("/ui/regulator/queue?done=picked").await;
    assert!(
        html.contains(r#"id="count-cases" data-count="0""#),
        "{html}"
    );
    let form_path = format!("/ui/regulator/escalations/case/{esc}/order");
    assert!(html.contains(&format!(r#"href="{form_path}""#)), "{html}");

    // The order form: items from the case (URL + SHA-256), the hoster prefilled.
    let (st, html) = olga_c.get(&form_path).await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(html.contains(&url) && html.contains(&sha));
    assert!(html.contains(r#"value="Slow Hosting""#));
    assert!(html.contains(r#"value="abuse@slow.example""#));
    for id in [
        "legal_basis",
        "deadline_hours",
        "provider_name",
        "provider_email",
    ] {
        assert!(
            html.contains(&format!(r#"<label for="{id}">"#)),
            "label {id}"
        );
    }
    // Per-field errors re-render the form, keeping what was typed.
    let (st, html) = olga_c
        .post(
            &form_path,
            &[
                ("csrf", &csrf),
                ("legal_basis", ""),
                ("deadline_hours", "1"),
                ("provider_name", "Slow Hosting B.V."),
                ("provider_email", "abuse@slow.example"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="legal_basis-error""#), "{html}");
    assert!(html.contains(r#"value="Slow Hosting B.V.""#));
    // The API's own validation: the address, the deadline, the reference.
    for (field, value, error) in [
        ("provider_email", "nope", "provider_email-error"),
        ("deadline_hours", "48", "deadline-error"),
        ("reference", "a/b", "reference-error"),
    ] {
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("legal_basis", "art. 3 test act"),
            ("deadline_hours", "1"),
            ("provider_name", "Slow Hosting B.V."),
            ("provider_email", "abuse@slow.example"),
        ];
        fields.retain(|(k, _)| *k != field);
        fields.push((field, value));
        let (st, html) = olga_c.post(&form_path, &fields).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(
            html.contains(&format!(r#"id="{error}""#)),
            "{field}: {html}"
        );
    }
    assert!(
        store.orders(t, None, 0, 10).await.unwrap().is_empty(),
        "nothing stored"
    );
    let (st, to) = olga_c
        .post(
            &form_path,
            &[
                ("csrf", &csrf),
                ("reference", "ATKM-UI-1"),
                ("legal_basis", "art. 3 test act"),
                ("deadline_hours", "1"),
                ("provider_name", "Slow Hosting B.V."),
                ("provider_email", "abuse@slow.example"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{to}");
    let id: i64 = to
        .strip_prefix("/ui/regulator/orders/")
        .and_then(|r| r.strip_suffix("?done=created"))
        .unwrap()
        .parse()
        .unwrap();
    // The order is the API's: visible there, item with its case, escalation linked.
    let api = format!("/api/v1/regulator/tenants/{t}/orders/{id}");
    let (st, v) = s.admin_get(&api).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "draft");
    assert_eq!(v["reference"], "ATKM-UI-1");
    assert_eq!(v["items"][0]["case_id"], case_id);
    assert_eq!(v["items"][0]["sha256"], sha.as_str());
    let e = store
        .regulator_escalation(EscalationSource::Case, esc)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.order_id, Some(id));
    // An order was opened from it: the form is refused now.
    let (st, _) = olga_c.get(&form_path).await;
    assert_eq!(st, StatusCode::CONFLICT);

    // The order list and page.
    let (st, html) = olga_c.get("/ui/regulator/orders").await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains(&format!(r#"id="order-row-{id}""#)) && html.contains("ATKM-UI-1"));
    let page = format!("/ui/regulator/orders/{id}");
    let (st, html) = olga_c.get(&page).await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("art. 3 test act") && html.contains(&sha));
    assert!(html.contains(&format!("{page}/issue")));

    // Another tenant's order: 404 for the page and every action.
    let (st, v) = s
        .admin_post(
            &format!("/api/v1/regulator/tenants/{other}/orders"),
            json!({
                "reference": "BE-1",
                "provider": {"name": "P", "email": "p@p.example"},
                "legal_basis": "art. 3", "deadline_hours": 24,
                "items": [{"url": "https://x.example/a", "sha256": "ab".repeat(32)}],
            }),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let foreign = v["id"].as_i64().unwrap();
    let fpage = format!("/ui/regulator/orders/{foreign}");
    let (st, _) = olga_c.get(&fpage).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    for action in ["issue", "withdraw", "publish", "accruals"] {
        let (st, _) = olga_c
            .post(
                &format!("{fpage}/{action}"),
                &[("csrf", &csrf), ("note", "x"), ("published", "true")],
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{action}");
    }
    let (st, _) = olga_c.get(&format!("{fpage}/evidence")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, v) = s
        .admin_get(&format!(
            "/api/v1/regulator/tenants/{other}/orders/{foreign}"
        ))
        .await;
    assert_eq!(v["state"], "draft", "untouched");

    // Issue without a token: refused, still a draft.
    let (st, _) = olga_c.post(&format!("{page}/issue"), &[]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = anna_c
        .post(&format!("{page}/issue"), &[("csrf", &anna_c.csrf().await)])
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (_, v) = s.admin_get(&api).await;
    assert_eq!(v["state"], "draft");

    // Issue: signed, the signature and digest on the page.
    let (st, to) = olga_c
        .post(&format!("{page}/issue"), &[("csrf", &csrf)])
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{to}");
    assert_eq!(to, format!("{page}?done=issued"));
    let (_, v) = s.admin_get(&api).await;
    assert_eq!(v["state"], "issued");
    let sig = v["signature"].as_str().unwrap().to_string();
    let digest = v["sha256"].as_str().unwrap().to_string();
    let (_, html) = olga_c.get(&to).await;
    assert!(html.contains(&sig) && html.contains(&digest), "{html}");
    assert!(html.contains(r#"id="order-canonical""#));

    // Penalty terms and a fine, amounts entered by the officer.
    let (st, _) = olga_c
        .post(
            &format!("{page}/penalty-terms"),
            &[
                ("csrf", &csrf),
                ("kind", "periodic"),
                ("amount", "abc"),
                ("unit", "hour"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, to) = olga_c
        .post(
            &format!("{page}/penalty-terms"),
            &[
                ("csrf", &csrf),
                ("kind", "periodic"),
                ("amount", "100,50"),
                ("unit", "hour"),
                ("max", "5000"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{to}");
    let (_, v) = s.admin_get(&api).await;
    assert_eq!(
        v["penalty_terms"],
        json!({"kind": "periodic", "amount_cents": 10050, "unit": "hour", "max_cents": 500000})
    );
    let (st, to) = olga_c
        .post(
            &format!("{page}/fines"),
            &[("csrf", &csrf), ("amount", "250.5"), ("note", "late reply")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{to}");
    let (_, v) = s.admin_get(&api).await;
    assert_eq!(v["penalties"][0]["kind"], "fine");
    assert_eq!(v["penalties"][0]["amount_cents"], 25050);

    // Publish: the order is in the public register.
    let (st, to) = olga_c
        .post(
            &format!("{page}/publish"),
            &[("csrf", &csrf), ("published", "true")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{to}");
    assert_eq!(to, format!("{page}?done=published"));
    // The publication is on the order's timeline, by the officer.
    let (st, html) = olga_c.get(&page).await;
    assert_eq!(st, StatusCode::OK);
    let published = ["published in the register", "gepubliceerd in het register"];
    let line = html
        .split("<tr>")
        .find(|l| published.iter().any(|p| l.contains(p)))
        .unwrap_or_else(|| panic!("no publication line: {html}"));
    assert!(line.contains("title=\"user:"), "{line}");
    let r = s
        .http
        .get(format!("{}/register.json", s.base))
        .send()
        .await
        .unwrap();
    let reg: Value = r.json().await.unwrap();
    assert!(
        reg["orders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["reference"] == "ATKM-UI-1"),
        "{reg}"
    );

    // Compliance, then an appeal against the complied order.
    let (st, _) = olga_c
        .post(
            &format!("{page}/comply"),
            &[("csrf", &csrf), ("note", "gone")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, _) = olga_c
        .post(
            &format!("{page}/appeal"),
            &[
                ("csrf", &csrf),
                ("action", "lodge"),
                ("note", "provider objects"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (_, v) = s.admin_get(&api).await;
    assert_eq!(v["state"], "complied");
    assert_eq!(v["appeal"], "lodged");
    // A refused transition is shown, not applied: a complied order cannot be withdrawn.
    let (st, _) = olga_c
        .post(
            &format!("{page}/withdraw"),
            &[("csrf", &csrf), ("note", "too late")],
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);

    // The evidence package: the API's builder, an attachment, audited.
    let r = olga_c
        .http
        .get(format!("{}{page}/evidence", s.base))
        .header("cookie", &olga_c.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(cd, "attachment; filename=\"evidence-ATKM-UI-1.json\"");
    assert!(r.headers().contains_key("x-schoon-package-sha256"));
    let pkg: Value = r.json().await.unwrap();
    assert_eq!(pkg["format"], "schoon-order-evidence/1");
    assert_eq!(pkg["generated_by"], officer.as_str());
    assert_eq!(pkg["signature"], sig.as_str());

    // Every action left its audit event, with the officer as actor.
    let got = actions(&store, &format!("order:{id}"), &officer).await;
    for want in [
        "order.draft",
        "order.issue",
        "order.penalty_terms",
        "order.penalty_fine",
        "order.publish",
        "order.comply",
        "order.appeal_lodged",
        "order.evidence_exported",
    ] {
        assert!(got.iter().any(|g| g == want), "{want} missing in {got:?}");
    }
    // The page shows the timeline and penalties.
    let (_, html) = olga_c.get(&page).await;
    assert!(
        html.contains("appeal_lodged") && html.contains("€ 250.50"),
        "{html}"
    );

    // Withdrawal (with a reason) of a second, API-made draft.
    let (_, v) = s
        .admin_post(
            &format!("/api/v1/regulator/tenants/{t}/orders"),
            json!({
                "reference": "ATKM-UI-2",
                "provider": {"name": "P", "email": "p@p.example"},
                "legal_basis": "art. 3", "deadline_hours": 12,
                "items": [{"url": "https://x.example/b", "sha256": "cd".repeat(32)}],
            }),
        )
        .await;
    let second = v["id"].as_i64().unwrap();
    let p2 = format!("/ui/regulator/orders/{second}");
    let (st, _) = olga_c
        .post(&format!("{p2}/withdraw"), &[("csrf", &csrf), ("note", " ")])
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "a reason is required");
    let (st, to) = olga_c
        .post(
            &format!("{p2}/withdraw"),
            &[("csrf", &csrf), ("note", "wrong provider")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{to}");
    let (_, v) = s
        .admin_get(&format!("/api/v1/regulator/tenants/{t}/orders/{second}"))
        .await;
    assert_eq!(v["state"], "withdrawn");
    assert_eq!(
        actions(&store, &format!("order:{second}"), &officer).await,
        ["order.withdraw"]
    );
}

/// An overdue hit in the queue (organisation, content URL as text, matched value), an order
/// opened from it without a pick-up first (the API picks it up and takes the hit's URL and
/// digest), and the tenant admin's read-only view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_hits_become_orders_and_admins_only_look() {
    use schoon_core::{Category, ListKind, NewEntry, NewHit, SignalType, SignalValue};
    use store::{FollowupStore, NewList};
    let s = TestServer::start_with(|c| {
        c.reports.worker = false;
        c.takedown.enabled = false;
        c.ui.plain_http = true;
    })
    .await;
    let t = s.tenant;
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let olga = seed_user(&store, t, "olga", Role::Regulator).await;
    seed_user(&store, t, "adam", Role::Admin).await;
    let officer = format!("user:{olga}");

    let org = store
        .create_org(&a("test"), t, "Silent Host")
        .await
        .unwrap();
    let list = store
        .create_list(
            &a("test"),
            NewList {
                tenant_id: t,
                name: "known".into(),
                kind: ListKind::Known,
                pdq_radius: 31,
                min_quality: 50,
            },
        )
        .await
        .unwrap();
    let value = "ef".repeat(32);
    store
        .import_entries(
            &a("test"),
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
    let entry = store.entries(list.id, false, 0, 10).await.unwrap()[0].id;
    let hit = store
        .record_hits(
            &a("test"),
            t,
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
    // Past the deadline, then past the grace period: escalated.
    let later = hit.deadline + chrono::Duration::days(30);
    store.sweep_deadlines(later).await.unwrap();
    store
        .sweep_deadlines(later + chrono::Duration::days(30))
        .await
        .unwrap();
    let esc = store
        .regulator_escalations(t, EscalationSource::Hit, None, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.hit_id == Some(hit.id))
        .expect("the overdue hit is escalated")
        .id;

    let olga_c = UiClient::login(&s.base, "olga").await;
    let (st, html) = olga_c.get("/ui/regulator/queue").await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains(&format!(r#"id="esc-hit-{esc}""#)), "{html}");
    assert!(html.contains(r#"id="count-hits" data-count="1""#));
    for needle in [
        "Silent Host",
        "https://cdn.silent.example/u/77",
        "upload-77",
        &value,
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
    assert!(!html.contains("href=\"https://cdn.silent.example"));

    // The admin sees the queue and orders but cannot act, and has no menu entry.
    let adam_c = UiClient::login(&s.base, "adam").await;
    let (st, html) = adam_c.get("/ui/regulator/queue").await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains(&format!(r#"id="esc-hit-{esc}""#)));
    assert!(
        !html.contains("/pick-up"),
        "no pick-up button for the admin"
    );
    assert!(
        !html.contains(r#"href="/ui/regulator/queue""#),
        "no menu entry"
    );
    let csrf = adam_c.csrf().await;
    let (st, _) = adam_c
        .post(
            &format!("/ui/regulator/escalations/hit/{esc}/pick-up"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = adam_c
        .get(&format!("/ui/regulator/escalations/hit/{esc}/order"))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // The officer opens an order straight from the open hit: items from the hit.
    let form_path = format!("/ui/regulator/escalations/hit/{esc}/order");
    let (st, html) = olga_c.get(&form_path).await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains(r#"value="Silent Host""#));
    assert!(html.contains(&value) && html.contains("https://cdn.silent.example/u/77"));
    let csrf = olga_c.csrf().await;
    let (st, to) = olga_c
        .post(
            &form_path,
            &[
                ("csrf", &csrf),
                ("legal_basis", "art. 3 test act"),
                ("deadline_hours", "12"),
                ("provider_name", "Silent Host"),
                ("provider_email", "abuse@silent.example"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{to}");
    let (_, orders) = s
        .admin_get(&format!("/api/v1/regulator/tenants/{t}/orders"))
        .await;
    let o = &orders[0];
    assert_eq!(o["items"][0]["url"], "https://cdn.silent.example/u/77");
    assert_eq!(o["items"][0]["sha256"], value.as_str());
    let e = store
        .regulator_escalation(EscalationSource::Hit, esc)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.order_id, o["id"].as_i64());
    assert_eq!(e.picked_up_by.as_deref(), Some(officer.as_str()));
    assert_eq!(
        actions(&store, &format!("hit_escalation:{esc}"), &officer).await,
        ["escalation.pick_up"]
    );
    // The admin may read the order, without the action forms.
    let (st, html) = adam_c
        .get(&format!("/ui/regulator/orders/{}", o["id"]))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(!html.contains(r#"id="issue-form""#));
}
