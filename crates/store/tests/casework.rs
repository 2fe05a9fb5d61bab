//! [`store::CaseworkStore`] on both backends: report notes (validated, audited), a report's
//! cases, the changed-hoster queue, the last observation, and failed logins per address.

#[macro_use]
mod common;
use common::{Backend, a};

use chrono::{Duration, Utc};
use schoon_core::takedown::ObservationOutcome;
use store::StoreError;
use store::reports::Fetched;
use store::takedown::{CaseContacts, NewAttribution, NewObservation};

fn hoster(org: &str) -> NewAttribution {
    NewAttribution {
        contacts: CaseContacts {
            hoster_org: Some(org.into()),
            hoster_email: Some(format!("abuse@{}.example", org.to_lowercase())),
            ..Default::default()
        },
        host: "shop.example".into(),
        registrable_domain: Some("shop.example".into()),
        needs_contact: Vec::new(),
        raw: serde_json::json!({}),
        made_at: Utc::now(),
        tenant_country: Some("NL".into()),
    }
}

async fn notes_cases_and_login_failures(b: Backend) {
    let (_db, s, t) = common::open(&b).await;
    let items = common::pending_items(&*s, t, "shop.example", 2, Utc::now(), |i| Fetched {
        sha256: Some(format!("{:064x}", i + 1)),
        ..Fetched::default()
    })
    .await;
    let report = items[0].report_id;

    // Notes: trimmed, in order, audited with the text; empty, too long or unknown refused.
    let n1 = s
        .add_report_note(&a("user:1"), report, "  first look  ", Utc::now())
        .await
        .unwrap();
    assert_eq!(n1.body, "first look");
    s.add_report_note(&a("user:2"), report, "second", Utc::now())
        .await
        .unwrap();
    let notes = s.report_notes(report).await.unwrap();
    assert_eq!(
        notes.iter().map(|n| n.body.as_str()).collect::<Vec<_>>(),
        ["first look", "second"]
    );
    assert_eq!(notes[1].author, "user:2");
    assert!(matches!(
        s.add_report_note(&a("user:1"), report, "   ", Utc::now())
            .await,
        Err(StoreError::Invalid(_))
    ));
    let long = "x".repeat(store::casework::MAX_NOTE_CHARS + 1);
    assert!(matches!(
        s.add_report_note(&a("user:1"), report, &long, Utc::now())
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.add_report_note(&a("user:1"), report + 1000, "x", Utc::now())
            .await,
        Err(StoreError::NotFound(_))
    ));
    let audit = s
        .audit_for_subjects(&[format!("report:{report}")])
        .await
        .unwrap();
    let noted: Vec<_> = audit.iter().filter(|e| e.action == "report.note").collect();
    assert_eq!(noted.len(), 2);
    assert!(noted[0].details.contains("first look"));

    // A report's cases; the changed-hoster queue holds only the case that moved.
    let sys = a("system:takedown");
    let now = Utc::now();
    let c1 = s.open_case(&sys, items[0].clone(), now).await.unwrap();
    let c2 = s.open_case(&sys, items[1].clone(), now).await.unwrap();
    assert_eq!(
        s.report_cases(report)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        [c1.id, c2.id]
    );
    s.record_attribution(&sys, c1.id, hoster("Alpha"))
        .await
        .unwrap();
    s.record_attribution(&sys, c2.id, hoster("Alpha"))
        .await
        .unwrap();
    assert_eq!(s.changed_hoster_cases(t, 10).await.unwrap().0, 0);
    s.record_attribution(&sys, c2.id, hoster("Beta"))
        .await
        .unwrap();
    let (n, moved) = s.changed_hoster_cases(t, 10).await.unwrap();
    assert_eq!((n, moved.len()), (1, 1));
    assert_eq!(moved[0].id, c2.id);
    assert_eq!(s.changed_hoster_cases(t + 1, 10).await.unwrap().0, 0);

    // The last observation.
    assert!(s.last_observation(c1.id).await.unwrap().is_none());
    let policy = s.takedown_policy(t).await.unwrap();
    for (at, status) in [(now, 200), (now + Duration::minutes(5), 404)] {
        s.record_observation(
            c1.id,
            NewObservation {
                at,
                http_status: Some(status),
                outcome: if status == 200 {
                    ObservationOutcome::Online
                } else {
                    ObservationOutcome::Gone
                },
                detail: None,
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
    }
    let last = s.last_observation(c1.id).await.unwrap().unwrap();
    assert_eq!(
        (last.outcome.as_str(), last.http_status),
        ("gone", Some(404))
    );

    // Failed logins per address: counted in the window, audited once when the limit is hit.
    let t0 = Utc::now();
    let since = t0 - Duration::minutes(15);
    // An old failure outside the window does not count and is dropped.
    s.record_ip_login_failure(
        "192.0.2.1",
        t0 - Duration::hours(1),
        t0 - Duration::hours(2),
        3,
    )
    .await
    .unwrap();
    for i in 1..=4 {
        let n = s
            .record_ip_login_failure("192.0.2.1", t0 + Duration::seconds(i), since, 3)
            .await
            .unwrap();
        assert_eq!(n, i);
    }
    assert_eq!(s.ip_login_failures("192.0.2.1", since).await.unwrap(), 4);
    assert_eq!(s.ip_login_failures("192.0.2.2", since).await.unwrap(), 0);
    let blocked = s
        .audit_for_subjects(&["ip:192.0.2.1".to_string()])
        .await
        .unwrap();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].action, "login.ip_blocked");
    s.verify_audit_chain().await.unwrap();
}

backend_tests!(notes_cases_and_login_failures);
