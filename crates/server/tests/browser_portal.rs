//! The provider portal end to end in a real browser: a real server on loopback, a sent notice
//! for organisation A (and one for B) seeded through the store, a provider user of A; then
//! `node tests/browser/portal.mjs` drives Debian's Chromium through `playwright-core`: log in,
//! see the notice, acknowledge it with a statement and a file, create an API key (its secret
//! shown once after the redirect; a reload shows it no more and creates no second key), and save
//! `portal.png` under `target/test-output/browser/`.
//!
//! Skipped without Chromium / `tests/browser/node_modules`, unless `SCHOON_REQUIRE_BROWSER=1`
//! (see `browser.rs`).

mod common;
#[path = "support/portal_seed.rs"]
mod seed;

use common::TestServer;
use common::browser::*;
use schoon_core::takedown::ResponseKind;
use seed::{audited, sent_notice};
use serde_json::json;
use store::accounts::Role;
use store::{SqliteStore, Store, TakedownStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_acknowledges_a_notice_and_creates_a_key_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let s = TestServer::start_with(|c| {
        c.takedown.enabled = false;
        c.ui.plain_http = true;
    })
    .await;
    let ka = s.key(s.tenant, "Host A").await;
    let kb = s.key(s.tenant, "Host B").await;
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let pia = seed_user_in(&store, s.tenant, Some(ka.org), "pia", Role::Provider).await;
    let na = sent_notice(&store, s.tenant, "Host A", 1).await;
    let nb = sent_notice(&store, s.tenant, "Host B", 2).await;
    let _ = kb;

    let script = repo().join("tests/browser/portal.mjs");
    let out_dir = output_dir();
    let _ = std::fs::remove_file(out_dir.join("portal.png"));
    let out = tokio::task::spawn_blocking({
        let env = vec![
            ("BASE_URL", s.base.clone()),
            ("PASSWORD", PASSWORD.to_string()),
            ("NOTICE_ID", na.notice.to_string()),
            ("NOTICE_REF", na.reference.clone()),
            ("NOTICE_URL", na.url.clone()),
            ("FOREIGN_NOTICE", nb.notice.to_string()),
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

    // What the browser did is in the database, with the user as actor.
    let responses = store.notice_responses(na.notice).await.unwrap();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].kind, ResponseKind::Ack);
    let st = responses[0].statement.as_deref().unwrap();
    assert!(
        st.contains("Removed, ticket 4711.") && st.contains("ticket.txt"),
        "{st}"
    );
    let ev = audited(&store, "notice.ack", &format!("notice:{}", na.notice)).await;
    assert_eq!(ev[0]["actor"], json!(format!("user:{pia}")));
    assert!(store.notice_responses(nb.notice).await.unwrap().is_empty());
    let key_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("KEY_ID="))
        .expect("key id printed");
    let (k, _) = store.api_key_with_hash(key_id).await.unwrap().unwrap();
    assert_eq!(k.org_id, Some(ka.org));
    assert_eq!(k.label, "ticket system");
    // The reload created nothing: org A has its seeded key and this one.
    let org_keys: Vec<_> = store
        .api_keys(Some(s.tenant))
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.org_id == Some(ka.org))
        .collect();
    assert_eq!(org_keys.len(), 2, "{org_keys:?}");
    assert!(org_keys.iter().any(|k| k.id == ka.id));
    store.verify_audit_chain().await.unwrap();
    store.close().await;
    assert!(out_dir.join("portal.png").exists());
}
