//! The administration pages in a real browser: a real `schoon serve` on loopback with a
//! temporary data directory and an admin user, then `node tests/browser/admin.mjs` drives
//! Debian's Chromium through `playwright-core` (policy change seen after reload, a refused value
//! shown next to its field, list creation and file upload with the import summary, system
//! health). Screenshots: `target/test-output/browser/admin-{policy,lists,health}.png`.
//!
//! Skipped with a message without Chromium or `tests/browser/node_modules`, unless
//! `SCHOON_REQUIRE_BROWSER=1`, which turns the skip into a failure.

mod common;

use common::TestServer;
use common::browser::*;
use store::accounts::Role;
use store::{ManageStore, SqliteStore, Store, TakedownStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_changes_a_policy_uploads_a_list_and_opens_health_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let s = TestServer::start_with(|c| {
        // The browser talks plain HTTP to loopback.
        c.ui.plain_http = true;
    })
    .await;
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let adam = seed_user(&store, s.tenant, "adam", Role::Admin).await;

    let script = repo().join("tests/browser/admin.mjs");
    let out_dir = output_dir();
    for name in ["admin-policy", "admin-lists", "admin-health"] {
        let _ = std::fs::remove_file(out_dir.join(format!("{name}.png")));
    }
    let out = tokio::task::spawn_blocking({
        let env = vec![
            ("BASE_URL", s.base.clone()),
            ("PASSWORD", PASSWORD.to_string()),
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

    // What the browser did is in the database, done by the admin as a user.
    let p = store.takedown_policy(s.tenant).await.unwrap();
    assert_eq!(p.hoster_reminder_hours, 36);
    assert!(p.sending_window.is_some());
    assert_eq!(
        p.early_check_interval_minutes, 15,
        "the refused value was not stored"
    );
    let lists = store.lists(s.tenant).await.unwrap();
    let list = lists.iter().find(|l| l.name == "browser-known").unwrap();
    let counts = store.list_counts(s.tenant).await.unwrap();
    let c = counts.iter().find(|c| c.list_id == list.id).unwrap();
    assert_eq!(c.active, 3);
    let events = store.audit_events(0, 100_000).await.unwrap();
    let actor = format!("user:{adam}");
    for action in ["tenant.takedown_policy", "list.create", "list.import"] {
        assert!(
            events
                .iter()
                .any(|e| e.action == action && e.actor == actor),
            "{action}"
        );
    }
    store.verify_audit_chain().await.unwrap();
    store.close().await;
    for name in ["admin-policy", "admin-lists", "admin-health"] {
        assert!(out_dir.join(format!("{name}.png")).exists(), "{name}.png");
    }
}
