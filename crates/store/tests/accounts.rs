//! Account storage: users bound to tenants and organisations, lock-out after failures, sessions
//! and their expiry, one-time TOTP steps, exposure counters bound to the tenant, and the audit
//! trail of every change.

#[macro_use]
mod common;
use common::{Backend, TestDb};
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use schoon_core::audit::now;
use store::accounts::{Language, NewSession, NewUser, Role, SessionStage};
use store::{Actor, NewTenant, Store, StoreError};

async fn open(b: &Backend) -> (TestDb, Arc<dyn Store>, i64) {
    let (dir, s) = common::store(b).await;
    let t = tenant(&*s, "nl").await;
    (dir, s, t)
}

async fn tenant(s: &dyn Store, name: &str) -> i64 {
    s.create_tenant(
        &Actor("test".into()),
        NewTenant {
            name: name.into(),
            country: None,
            hit_deadline_hours: 24,
        },
    )
    .await
    .unwrap()
    .id
}

fn new_user(tenant: i64, name: &str, role: Role) -> NewUser {
    NewUser {
        tenant_id: tenant,
        org_id: None,
        username: name.into(),
        display_name: format!("{name} display"),
        role,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        language: Language::En,
    }
}

fn session(id: &str, stage: SessionStage) -> NewSession {
    NewSession {
        id: id.into(),
        stage,
        expires_at: now() + Duration::hours(8),
        csrf_secret: "00".repeat(32),
    }
}

async fn actions(s: &dyn Store, subject: &str) -> Vec<String> {
    s.audit_events(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.subject == subject)
        .map(|e| e.action)
        .collect()
}

async fn users_are_unique_and_providers_belong_to_an_org_of_their_tenant(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let other = tenant(&*s, "be").await;
    let admin = Actor("cli:root".into());
    let u = s
        .create_user(&admin, new_user(t, "anna", Role::Analyst))
        .await
        .unwrap();
    assert_eq!(u.role, Role::Analyst);
    assert_eq!(u.language, Language::En);
    assert_eq!(u.actor(), Actor(format!("user:{}", u.id)));
    let dup = s
        .create_user(&admin, new_user(other, "anna", Role::Admin))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    // Provider without org, analyst with org, org of another tenant: refused.
    let no_org = s
        .create_user(&admin, new_user(t, "prov", Role::Provider))
        .await;
    assert!(matches!(no_org, Err(StoreError::Invalid(_))), "{no_org:?}");
    let org = s.create_org(&admin, t, "Hoster BV").await.unwrap();
    let foreign = s.create_org(&admin, other, "Hoster BE").await.unwrap();
    let mut with_org = new_user(t, "ann2", Role::Analyst);
    with_org.org_id = Some(org.id);
    assert!(matches!(
        s.create_user(&admin, with_org).await,
        Err(StoreError::Invalid(_))
    ));
    let mut wrong = new_user(t, "prov", Role::Provider);
    wrong.org_id = Some(foreign.id);
    assert!(matches!(
        s.create_user(&admin, wrong).await,
        Err(StoreError::Invalid(_))
    ));
    let mut ok = new_user(t, "prov", Role::Provider);
    ok.org_id = Some(org.id);
    let p = s.create_user(&admin, ok).await.unwrap();
    assert_eq!(p.org_id, Some(org.id));

    let (found, hash) = s.user_by_username("anna").await.unwrap().unwrap();
    assert_eq!(found.id, u.id);
    assert!(hash.starts_with("$argon2id$"));
    let names: Vec<_> = s
        .users(t)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["anna", "prov"]);
    assert_eq!(
        actions(&*s, &format!("user:{}", u.id)).await,
        ["user.created"]
    );
    s.verify_audit_chain().await.unwrap();
}

async fn five_failures_lock_for_the_given_time_and_a_login_resets_the_count(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let u = s
        .create_user(&Actor::system(), new_user(t, "bob", Role::Analyst))
        .await
        .unwrap();
    let at = now();
    for n in 1..=4 {
        let f = s
            .record_login_failure(u.id, at, "password", 5, Duration::minutes(15))
            .await
            .unwrap();
        assert_eq!(f.failed_logins, n);
        assert_eq!(f.locked_until, None);
    }
    let f = s
        .record_login_failure(u.id, at, "password", 5, Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!(f.locked_until, Some(at + Duration::minutes(15)));
    let u2 = s.user(u.id).await.unwrap().unwrap();
    assert!(u2.locked_at(at + Duration::minutes(14)));
    assert!(!u2.locked_at(at + Duration::minutes(16)));
    // A locked account cannot open a session.
    let locked = s
        .open_session(u.id, session("s0", SessionStage::Full), at)
        .await;
    assert!(matches!(locked, Err(StoreError::Conflict(_))), "{locked:?}");
    // After the lock a failure counts from one again.
    let later = at + Duration::minutes(16);
    let f = s
        .record_login_failure(u.id, later, "password", 5, Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!((f.failed_logins, f.locked_until), (1, None));
    s.open_session(u.id, session("s1", SessionStage::Full), later)
        .await
        .unwrap();
    assert_eq!(s.user(u.id).await.unwrap().unwrap().failed_logins, 0);

    let acts = actions(&*s, &format!("user:{}", u.id)).await;
    assert_eq!(acts.iter().filter(|a| *a == "user.login_failed").count(), 6);
    assert_eq!(acts.iter().filter(|a| *a == "user.lockout").count(), 1);
    assert_eq!(acts.last().map(String::as_str), Some("user.login_ok"));
    s.verify_audit_chain().await.unwrap();
}

async fn sessions_expire_end_and_totp_steps_count_once(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let u = s
        .create_user(&Actor::system(), new_user(t, "carla", Role::Verifier))
        .await
        .unwrap();
    s.set_totp(&u.actor(), u.id, Some("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"))
        .await
        .unwrap();
    let at = now();
    s.open_session(u.id, session("abc", SessionStage::Totp), at)
        .await
        .unwrap();
    let (sess, user) = s.session("abc", at).await.unwrap().unwrap();
    assert_eq!(sess.stage, SessionStage::Totp);
    assert_eq!(
        user.totp_secret.as_deref(),
        Some("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
    );
    s.complete_totp("abc", 100, at).await.unwrap();
    assert_eq!(
        s.session("abc", at).await.unwrap().unwrap().0.stage,
        SessionStage::Full
    );
    // The same (or an older) step is refused on a second session.
    s.open_session(u.id, session("def", SessionStage::Totp), at)
        .await
        .unwrap();
    assert!(matches!(
        s.complete_totp("def", 100, at).await,
        Err(StoreError::Conflict(_))
    ));
    s.complete_totp("def", 101, at).await.unwrap();

    // Expiry: not returned after expires_at.
    assert!(
        s.session("abc", at + Duration::hours(9))
            .await
            .unwrap()
            .is_none()
    );
    // Password change ends the other sessions only.
    s.set_password(&u.actor(), u.id, "$argon2id$new", Some("def"))
        .await
        .unwrap();
    assert!(s.session("abc", at).await.unwrap().is_none());
    assert!(s.session("def", at).await.unwrap().is_some());
    s.end_session("def").await.unwrap();
    assert!(s.session("def", at).await.unwrap().is_none());
    s.end_session("def").await.unwrap(); // no-op

    s.set_language(&u.actor(), u.id, Language::Nl)
        .await
        .unwrap();
    assert_eq!(s.user(u.id).await.unwrap().unwrap().language, Language::Nl);
    s.set_disabled(&Actor::system(), u.id, true).await.unwrap();
    assert!(matches!(
        s.open_session(u.id, session("ghi", SessionStage::Full), at)
            .await,
        Err(StoreError::Conflict(_))
    ));

    let acts = actions(&*s, &format!("user:{}", u.id)).await;
    for want in [
        "user.created",
        "user.totp_set",
        "user.login_password_ok",
        "user.login_ok",
        "user.password_changed",
        "user.logout",
        "user.language",
        "user.disabled",
    ] {
        assert!(acts.iter().any(|a| a == want), "{want} missing in {acts:?}");
    }
    s.verify_audit_chain().await.unwrap();
}

async fn reveals_count_per_day_and_only_for_items_of_the_users_tenant(b: Backend) {
    use schoon_core::report::SourceKind;
    use store::reports::NewReport;
    let (_d, s, t) = open(&b).await;
    let other = tenant(&*s, "de").await;
    let u = s
        .create_user(&Actor::system(), new_user(t, "dirk", Role::Analyst))
        .await
        .unwrap();
    let filed = |tenant: i64| {
        let s = s.clone();
        async move {
            let r = s
                .submit_reports(
                    &Actor("p".into()),
                    tenant,
                    vec![NewReport {
                        url: format!("https://example.test/{tenant}"),
                        original_url: format!("https://example.test/{tenant}"),
                        registrable_domain: None,
                        referer: None,
                        note: None,
                        source_kind: SourceKind::Hotline,
                        source_org_id: None,
                        reporter_email: None,
                    }],
                    now() - Duration::days(7),
                )
                .await
                .unwrap();
            let id = r[0].report_id;
            s.record_page(
                &Actor::system(),
                id,
                None,
                None,
                vec![("https://example.test/a.jpg".into(), "img".into())],
            )
            .await
            .unwrap();
            s.report_items(id).await.unwrap()[0].id
        }
    };
    let mine = filed(t).await;
    let theirs = filed(other).await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let next = day.succ_opt().unwrap();
    assert_eq!(s.record_reveal(&u, mine, day).await.unwrap(), 1);
    assert_eq!(s.record_reveal(&u, mine, day).await.unwrap(), 2);
    assert_eq!(s.record_reveal(&u, mine, next).await.unwrap(), 1);
    assert!(matches!(
        s.record_reveal(&u, theirs, day).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.exposure(u.id, day).await.unwrap(), 2);
    let all = s.exposures(t, day).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].0.id, all[0].1), (u.id, 2));
    assert!(s.exposures(other, day).await.unwrap().is_empty());
    assert_eq!(
        actions(&*s, &format!("item:{mine}"))
            .await
            .iter()
            .filter(|a| *a == "item.reveal")
            .count(),
        3
    );
    s.verify_audit_chain().await.unwrap();
}

backend_tests!(
    users_are_unique_and_providers_belong_to_an_org_of_their_tenant,
    five_failures_lock_for_the_given_time_and_a_login_resets_the_count,
    sessions_expire_end_and_totp_steps_count_once,
    reveals_count_per_day_and_only_for_items_of_the_users_tenant,
);
