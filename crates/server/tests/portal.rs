//! The provider portal over HTTP (no browser): a real server, two organisations of one tenant
//! with a sent notice, a hit and an issued order each, and a provider user per organisation.
//! A provider sees only its own organisation's records (another's ids are 404), every POST
//! needs the CSRF token, and acknowledge / dispute / statements / hit and order
//! acknowledgements / API keys are recorded with the user as audit actor.

mod common;
#[path = "support/portal_seed.rs"]
mod seed;

use chrono::{Datelike, Utc};
use common::TestServer;
use common::browser::seed_user_in;
use reqwest::StatusCode;
use schoon_core::HitState;
use schoon_core::order::OrderState;
use schoon_core::takedown::ResponseKind;
use seed::{Ui, audited, hit, issued_order, sent_notice};
use serde_json::json;
use sha2::Digest;
use store::accounts::Role;
use store::{FollowupStore, OrderStore, SqliteStore, Store, TakedownStore};

const MONTHS_NL: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_portal_is_scoped_to_the_organisation_and_audited() {
    let s = TestServer::start_with(|c| {
        // Seeded through the store: no ladder, outbox or check-online running alongside.
        c.takedown.enabled = false;
    })
    .await;
    let t = s.tenant;
    let ka = s.key(t, "Host A").await;
    let kb = s.key(t, "Host B").await;
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let pa = seed_user_in(&store, t, Some(ka.org), "pia", Role::Provider).await;
    let pb = seed_user_in(&store, t, Some(kb.org), "piet", Role::Provider).await;
    seed_user_in(&store, t, None, "anna", Role::Analyst).await;

    let na = sent_notice(&store, t, "Host A", 1).await;
    // Org B's name spelled differently on the notice: still org B's (trimmed, any case).
    let nb = sent_notice(&store, t, " host b", 2).await;
    let ha = hit(&s, t, &ka.token, 1).await;
    let hb = hit(&s, t, &kb.token, 2).await;
    let oa = issued_order(&s, t, "ORD-A", "Host A").await;
    let ob = issued_order(&s, t, "ORD-B", "HOST B").await;

    let a = Ui::login(&s.base, "pia").await;
    let b = Ui::login(&s.base, "piet").await;
    let csrf_a = a.csrf().await;
    let csrf_b = b.csrf().await;

    // --- what each sees ---
    let (st, _, home) = a.get("/ui/portal/overview").await;
    assert_eq!(st, StatusCode::OK, "{home}");
    for own in [
        na.reference.as_str(),
        na.url.as_str(),
        "https://files.example/1.jpg",
        "ORD-A",
        "/ui/portal/keys",
    ] {
        assert!(home.contains(own), "{own} missing from org A's overview");
    }
    for foreign in [
        nb.reference.as_str(),
        nb.url.as_str(),
        "https://files.example/2.jpg",
        "ORD-B",
    ] {
        assert!(!home.contains(foreign), "org B's {foreign} shown to org A");
    }
    // Counts: one open notice, case, hit and order.
    for id in ["notices", "cases", "hits", "orders"] {
        assert!(
            home.contains(&format!(
                "id=\"portal-count-{id}\"><h2>{}",
                match id {
                    "notices" => "Openstaande meldingen",
                    "cases" => "Openstaande zaken",
                    "hits" => "Openstaande hits",
                    _ => "Openstaande bevelen",
                }
            )) && home.contains("data-count=\"1\""),
            "{id}"
        );
    }
    // Deadlines in the user's language (Dutch by default): the hit is due in 24 h.
    let due = Utc::now() + chrono::Duration::hours(24);
    let month_nl = MONTHS_NL[due.month0() as usize];
    assert!(
        home.contains(&format!("{} {month_nl} {}", due.day(), due.year())),
        "{home}"
    );
    let (st, _, home_b) = b.get("/ui/portal").await;
    assert_eq!(st, StatusCode::OK);
    assert!(home_b.contains(&nb.reference) && !home_b.contains(&na.reference));

    // Other roles are not providers.
    let anna = Ui::login(&s.base, "anna").await;
    assert_eq!(
        anna.get("/ui/portal/overview").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(anna.get("/ui/portal/keys").await.0, StatusCode::FORBIDDEN);

    // --- org B cannot reach org A's records by id ---
    let n = na.notice;
    assert_eq!(
        b.get(&format!("/ui/portal/notices/{n}")).await.0,
        StatusCode::NOT_FOUND
    );
    let r = b
        .post_multipart(
            &format!("/ui/portal/notices/{n}/respond"),
            &[("csrf", &csrf_b), ("kind", "ack"), ("statement", "")],
            None,
        )
        .await;
    assert_eq!(r.0, StatusCode::NOT_FOUND);
    let r = b
        .post(
            &format!("/ui/portal/hits/{ha}/ack"),
            &[("csrf", &csrf_b), ("action", "removed")],
        )
        .await;
    assert_eq!(r.0, StatusCode::NOT_FOUND);
    let r = b
        .post(&format!("/ui/portal/orders/{oa}/ack"), &[("csrf", &csrf_b)])
        .await;
    assert_eq!(r.0, StatusCode::NOT_FOUND);
    let r = b
        .post(
            &format!("/ui/portal/keys/{}/revoke", ka.id),
            &[("csrf", &csrf_b)],
        )
        .await;
    assert_eq!(r.0, StatusCode::NOT_FOUND);
    // An unknown id looks the same.
    assert_eq!(
        b.get("/ui/portal/notices/999999").await.0,
        StatusCode::NOT_FOUND
    );
    let (_, _, keys_b) = b.get("/ui/portal/keys").await;
    assert!(keys_b.contains(&kb.id) && !keys_b.contains(&ka.id));

    // --- CSRF ---
    let r = a
        .post_multipart(
            &format!("/ui/portal/notices/{n}/respond"),
            &[("kind", "ack"), ("statement", "no token")],
            None,
        )
        .await;
    assert_eq!(r.0, StatusCode::FORBIDDEN);
    let r = a
        .post_multipart(
            &format!("/ui/portal/notices/{n}/respond"),
            &[("csrf", &csrf_b), ("kind", "ack")],
            None,
        )
        .await;
    assert_eq!(r.0, StatusCode::FORBIDDEN, "another session's token");
    for (path, fields) in [
        (
            format!("/ui/portal/hits/{ha}/ack"),
            vec![("action", "removed")],
        ),
        (format!("/ui/portal/orders/{oa}/ack"), vec![]),
        ("/ui/portal/keys".to_string(), vec![("label", "x")]),
        (format!("/ui/portal/keys/{}/revoke", ka.id), vec![]),
    ] {
        assert_eq!(
            a.post(&path, &fields).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert!(store.notice_responses(n).await.unwrap().is_empty());
    assert_eq!(
        store.followup_hit(ha).await.unwrap().unwrap().hit.state,
        HitState::Open
    );

    // --- notice: a dispute needs a reason; then acknowledge with a statement and a file ---
    let r = a
        .post_multipart(
            &format!("/ui/portal/notices/{n}/respond"),
            &[("csrf", &csrf_a), ("kind", "dispute"), ("statement", "  ")],
            None,
        )
        .await;
    assert_eq!(r.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.2.contains("Betwisten vraagt een verklaring"), "{}", r.2);
    let big = vec![b'x'; (1 << 20) + 1];
    let r = a
        .post_multipart(
            &format!("/ui/portal/notices/{n}/respond"),
            &[("csrf", &csrf_a), ("kind", "ack")],
            Some(("file", "big.txt", &big)),
        )
        .await;
    assert_eq!(r.0, StatusCode::UNPROCESSABLE_ENTITY, "a file over 1 MiB");
    assert!(store.notice_responses(n).await.unwrap().is_empty());

    let file = b"%PDF-1.4 takedown ticket #4711 (synthetic)\n".to_vec();
    let sha = hex::encode(sha2::Sha256::digest(&file));
    let r = a
        .post_multipart(
            &format!("/ui/portal/notices/{n}/respond"),
            &[
                ("csrf", &csrf_a),
                ("kind", "ack"),
                ("statement", "Removed at 10:02, ticket 4711."),
            ],
            Some(("file", "../ticket 4711.pdf", &file)),
        )
        .await;
    assert_eq!(r.0, StatusCode::SEE_OTHER, "{}", r.2);
    assert_eq!(r.1, format!("/ui/portal/notices/{n}?done=1"));
    let responses = store.notice_responses(n).await.unwrap();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].kind, ResponseKind::Ack);
    assert_eq!(responses[0].case_id, na.case);
    let st = responses[0].statement.clone().unwrap();
    assert!(st.starts_with("Removed at 10:02, ticket 4711."), "{st}");
    assert!(
        st.contains(&format!(
            "ticket 4711.pdf, {} bytes, sha256 {sha}",
            file.len()
        )),
        "{st}"
    );
    let ev = audited(&store, "notice.ack", &format!("notice:{n}")).await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["actor"], json!(format!("user:{pa}")));
    // The file is nowhere in the data directory as plain bytes (the vault encrypts).
    let mut plain = false;
    for e in walk(s.dir.path()) {
        if std::fs::read(&e).is_ok_and(|b| b.windows(17).any(|w| w == b"ticket #4711 (syn")) {
            plain = true;
        }
    }
    assert!(!plain, "statement file stored in plain text");
    let (st, _, page) = a.get(&format!("/ui/portal/notices/{n}?done=1")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("Uw reactie is vastgelegd") && page.contains("ticket 4711"));
    assert!(page.contains(&na.url));
    // A dispute with a reason is recorded too.
    let r = a
        .post_multipart(
            &format!("/ui/portal/notices/{n}/respond"),
            &[
                ("csrf", &csrf_a),
                ("kind", "dispute"),
                ("statement", "Not our customer"),
            ],
            None,
        )
        .await;
    assert_eq!(r.0, StatusCode::SEE_OTHER);
    let ev = audited(&store, "notice.dispute", &format!("notice:{n}")).await;
    assert_eq!(ev[0]["actor"], json!(format!("user:{pa}")));

    // --- hit ---
    let r = a
        .post(
            &format!("/ui/portal/hits/{ha}/ack"),
            &[
                ("csrf", &csrf_a),
                ("action", "removed"),
                ("note", "deleted"),
            ],
        )
        .await;
    assert_eq!(r.0, StatusCode::SEE_OTHER, "{}", r.2);
    let h = store.followup_hit(ha).await.unwrap().unwrap();
    assert_eq!(h.hit.state, HitState::Acknowledged);
    assert_eq!(h.note.as_deref(), Some("deleted"));
    let ev = audited(&store, "hit.acknowledge", &format!("hit:{ha}")).await;
    assert_eq!(ev[0]["actor"], json!(format!("user:{pa}")));
    assert_eq!(
        store.followup_hit(hb).await.unwrap().unwrap().hit.state,
        HitState::Open
    );

    // --- order: acknowledging an issued order records delivery through the portal first ---
    let r = a
        .post(
            &format!("/ui/portal/orders/{oa}/ack"),
            &[("csrf", &csrf_a), ("note", "on it")],
        )
        .await;
    assert_eq!(r.0, StatusCode::SEE_OTHER, "{}", r.2);
    let o = store.order(oa).await.unwrap().unwrap();
    assert_eq!(o.state, OrderState::Acknowledged);
    assert!(o.delivered_at.is_some() && o.due_at.is_some());
    assert_eq!(
        o.delivery_proof.as_ref().unwrap()["channel"],
        json!("portal")
    );
    let ev = audited(&store, "order.acknowledge", &format!("order:{oa}")).await;
    assert_eq!(ev[0]["actor"], json!(format!("user:{pa}")));
    assert_eq!(
        store.order(ob).await.unwrap().unwrap().state,
        OrderState::Issued
    );

    // --- API keys ---
    let (st, _, keys_a) = a.get("/ui/portal/keys").await;
    assert_eq!(st, StatusCode::OK);
    assert!(keys_a.contains(&ka.id) && !keys_a.contains(&kb.id));
    let keys_before = org_key_count(&store, t, ka.org).await;
    // A bad label re-renders the form (422), creates nothing and sets no cookie.
    let (st, h, body) = raw(
        &a,
        reqwest::Method::POST,
        "/ui/portal/keys",
        None,
        &[("csrf", &csrf_a), ("label", "  ")],
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(h.get("set-cookie").is_none());
    assert_eq!(org_key_count(&store, t, ka.org).await, keys_before);
    // Post-redirect-get: the POST answers 303 with the new key sealed into a cookie.
    let (st, h, body) = raw(
        &a,
        reqwest::Method::POST,
        "/ui/portal/keys",
        None,
        &[("csrf", &csrf_a), ("label", "ticket system")],
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(h["location"], "/ui/portal/keys?done=created");
    assert!(!body.contains("new-key-token"));
    let set = h["set-cookie"].to_str().unwrap().to_string();
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Path=/ui/portal/keys",
        "Max-Age=120",
    ] {
        assert!(set.contains(attr), "{attr} missing: {set}");
    }
    let flash = set.split(';').next().unwrap().to_string();
    assert!(
        flash.starts_with("schoon_key_flash=") && flash.len() > 40,
        "{flash}"
    );
    assert_eq!(org_key_count(&store, t, ka.org).await, keys_before + 1);
    // Replayed in another session of the same user, or altered: nothing shown, cookie cleared.
    let a2 = Ui::login(&s.base, "pia").await;
    let (i, _) = flash.char_indices().nth(30).unwrap();
    let flipped = if flash[i..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    let tampered = format!("{}{flipped}{}", &flash[..i], &flash[i + 1..]);
    for (who, ui, cookie) in [
        ("other session", &a2, flash.as_str()),
        ("tampered", &a, tampered.as_str()),
        ("garbage", &a, "schoon_key_flash=not-base64!"),
    ] {
        let (st, h, body) = raw(
            ui,
            reqwest::Method::GET,
            "/ui/portal/keys",
            Some(cookie),
            &[],
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{who}");
        assert!(!body.contains("new-key-token"), "{who}: secret shown");
        assert!(cleared(&h), "{who}: cookie not cleared");
    }
    // The same session's GET with the cookie shows the secret once and clears the cookie.
    let (st, h, page) = raw(
        &a,
        reqwest::Method::GET,
        "/ui/portal/keys?done=created",
        Some(&flash),
        &[],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(cleared(&h));
    assert_eq!(h["cache-control"], "no-store");
    let marker = "id=\"new-key-token\">";
    let i = page.find(marker).expect("secret shown") + marker.len();
    let token = page[i..].split('<').next().unwrap().to_string();
    assert!(page.contains("id=\"new-key-label\">ticket system<"));
    let (id, secret) = token.split_once('.').unwrap();
    let (k, hash) = store.api_key_with_hash(id).await.unwrap().unwrap();
    assert_eq!(k.org_id, Some(ka.org));
    assert_eq!(k.label, "ticket system");
    assert!(!hash.contains(secret));
    assert_eq!(hash, schoon_core::apikey::hash_secret(secret));
    let ev = audited(&store, "api_key.create", &format!("api_key:{id}")).await;
    assert_eq!(ev[0]["actor"], json!(format!("user:{pa}")));
    // The new key checks for org A.
    let (st, _, v) = s
        .check(
            &token,
            json!({"hashes": [{"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // A reload (the browser dropped the cleared cookie) shows no secret and creates nothing.
    let (st, h, again) = raw(
        &a,
        reqwest::Method::GET,
        "/ui/portal/keys?done=created",
        None,
        &[],
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(h.get("set-cookie").is_none());
    assert!(again.contains(id) && !again.contains(secret) && !again.contains("new-key-token"));
    assert_eq!(org_key_count(&store, t, ka.org).await, keys_before + 1);
    let r = a
        .post(
            &format!("/ui/portal/keys/{id}/revoke"),
            &[("csrf", &csrf_a)],
        )
        .await;
    assert_eq!(r.0, StatusCode::SEE_OTHER);
    let (st, _, _) = s
        .check(
            &token,
            json!({"hashes": [{"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"}]}),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "a revoked key no longer works"
    );
    let ev = audited(&store, "api_key.revoke", &format!("api_key:{id}")).await;
    assert_eq!(ev[0]["actor"], json!(format!("user:{pa}")));
    // Org B's key is untouched.
    assert!(
        store
            .api_key_with_hash(&kb.id)
            .await
            .unwrap()
            .unwrap()
            .0
            .revoked_at
            .is_none()
    );

    // --- English ---
    let r = a
        .post(
            "/ui/account/language",
            &[
                ("csrf", &csrf_a),
                ("language", "en"),
                ("back", "/ui/portal/overview"),
            ],
        )
        .await;
    assert_eq!(r.0, StatusCode::SEE_OTHER);
    let (_, _, home) = a.get("/ui/portal/overview").await;
    let month_en = MONTHS_EN[due.month0() as usize];
    assert!(
        home.contains(&format!("{} {month_en} {}", due.day(), due.year())),
        "{home}"
    );
    assert!(home.contains("Removal orders"));

    let _ = (pb, nb);
    store.verify_audit_chain().await.unwrap();
    store.close().await;
}

/// Check keys of organisation `org`.
async fn org_key_count(store: &SqliteStore, tenant: i64, org: schoon_core::OrgId) -> usize {
    store
        .api_keys(Some(tenant))
        .await
        .unwrap()
        .iter()
        .filter(|k| k.org_id == Some(org) && k.role == schoon_core::KeyRole::Check)
        .count()
}

/// A request in `ui`'s session, with `extra` sent as a further cookie; status, headers, body.
async fn raw(
    ui: &Ui,
    method: reqwest::Method,
    path: &str,
    extra: Option<&str>,
    fields: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let cookie = match extra {
        Some(c) => format!("{}; {c}", ui.cookie),
        None => ui.cookie.clone(),
    };
    let mut req = ui
        .http
        .request(method.clone(), format!("{}{path}", ui.base))
        .header("cookie", cookie);
    if method == reqwest::Method::POST {
        req = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(common::browser::form(fields));
    }
    let resp = req.send().await.unwrap();
    let (st, h) = (resp.status(), resp.headers().clone());
    (st, h, resp.text().await.unwrap())
}

/// Whether the response clears the key cookie.
fn cleared(h: &reqwest::header::HeaderMap) -> bool {
    h.get_all("set-cookie").iter().any(|v| {
        let v = v.to_str().unwrap();
        v.starts_with("schoon_key_flash=;")
            && v.contains("Max-Age=0")
            && v.contains("Path=/ui/portal/keys")
    })
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
