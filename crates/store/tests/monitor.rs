//! The monitor's input read back from a real SQLite database filled through the takedown
//! store's own methods: one case removed after its notice, one that moved to another hoster and
//! stays online, one removed, back online and removed again.

#[macro_use]
mod common;
use common::{Backend, a, open};

use chrono::{DateTime, Duration, TimeZone, Utc};
use schoon_monitor::{
    HosterSpell, MonitorConfig, NoticeRecord, NoticeStep, OrgKey, Period, Removal, compute_report,
};
use store::Store;
use store::reports::Fetched;
use store::takedown::{
    AttributionOutcome, CaseContacts, Delivery, LadderRung, NewAttribution, NewCase, NewNotice,
    NewObservation, ObservationOutcome, ResponseKind, TakedownPolicy,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn h(n: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(n * 60)
}

fn m(n: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(n)
}

/// Report at `t0 - 1 day` with `n` media items classified illegal (ready for a case).
async fn pending(s: &dyn Store, t: i64, site: &str, n: usize) -> Vec<NewCase> {
    common::pending_items(s, t, site, n, t0() - Duration::days(1), |i| Fetched {
        sha256: Some(format!("{:064X}", i + 0xab)),
        ..Fetched::default()
    })
    .await
}

fn attribution(org: &str, asn: u32, site: &str, at: DateTime<Utc>) -> NewAttribution {
    NewAttribution {
        contacts: CaseContacts {
            hoster_org: Some(org.into()),
            hoster_email: Some(format!(
                "abuse@{}.test",
                org.to_lowercase().replace(' ', "")
            )),
            hoster_country: Some("NL".into()),
            asn: Some(asn),
            ip: Some("192.0.2.10".into()),
            ..CaseContacts::default()
        },
        host: site.into(),
        registrable_domain: Some(site.into()),
        needs_contact: vec![],
        raw: serde_json::json!({"source": "test"}),
        made_at: at,
        tenant_country: Some("NL".into()),
    }
}

/// Queues, claims and delivers one notice for `(case, sequence)` at `at`.
async fn send(
    s: &dyn Store,
    t: i64,
    org: &str,
    rung: LadderRung,
    items: Vec<(i64, u32)>,
    at: DateTime<Utc>,
) -> i64 {
    let n = s
        .enqueue_notice(
            &a("ladder"),
            NewNotice {
                tenant_id: t,
                rung,
                recipient_email: "abuse@x.test".into(),
                recipient_org: Some(org.into()),
                language: Some("nl".into()),
                due_at: at,
                held: false,
                items,
            },
            at,
        )
        .await
        .unwrap()
        .unwrap();
    let claimed = s
        .claim_notices("w", at, Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    s.record_delivery(
        n.id,
        "w",
        Delivery {
            accepted: true,
            smtp_code: Some(250),
            smtp_message: "ok".into(),
            message_id: format!("<{}@schoon.test>", n.id),
            at,
        },
    )
    .await
    .unwrap();
    n.id
}

fn obs(at: DateTime<Utc>, outcome: ObservationOutcome) -> NewObservation {
    NewObservation {
        at,
        http_status: Some(if outcome == ObservationOutcome::Online {
            200
        } else {
            404
        }),
        outcome,
        detail: None,
        content_type: None,
        served_sha256: None,
        served_pdq: None,
        distance: None,
        final_url: None,
        error: None,
    }
}

async fn takedown_records_become_monitor_timelines(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let p = TakedownPolicy::default();
    let items = pending(&*s, t, "bad.example", 3).await;
    let host = OrgKey::new("Host BV", Some(64500));
    let other = OrgKey::new("Other Hosting", Some(64511));

    // Case 1: notice at t0, ack after 2 h, gone from 5 h (verified after three spaced misses).
    let c1 = s
        .open_case(&a("o"), items[0].clone(), t0())
        .await
        .unwrap()
        .id;
    let (_, out) = s
        .record_attribution(
            &a("attr"),
            c1,
            attribution("Host BV", 64500, "bad.example", t0()),
        )
        .await
        .unwrap();
    assert_eq!(out, AttributionOutcome::Monitoring);
    let n1 = send(&*s, t, "Host BV", LadderRung::Hoster, vec![(c1, 0)], t0()).await;
    s.record_response(&a("provider"), n1, Some(c1), ResponseKind::Ack, None, h(2))
        .await
        .unwrap();
    s.record_observation(c1, obs(h(1), ObservationOutcome::Online), &p)
        .await
        .unwrap();
    for k in 0..3 {
        s.record_observation(c1, obs(m(300 + 15 * k), ObservationOutcome::Gone), &p)
            .await
            .unwrap();
    }

    // Case 2: notice, a reminder after a day, then the URL moves to another hoster; online.
    let c2 = s
        .open_case(&a("o"), items[1].clone(), t0())
        .await
        .unwrap()
        .id;
    s.record_attribution(
        &a("attr"),
        c2,
        attribution("Host BV", 64500, "bad.example", t0()),
    )
    .await
    .unwrap();
    // A second attribution of the same hoster (other spelling) does not start a new spell.
    s.record_attribution(
        &a("attr"),
        c2,
        attribution("HOST BV", 64500, "bad.example", h(1)),
    )
    .await
    .unwrap();
    send(&*s, t, "Host BV", LadderRung::Hoster, vec![(c2, 0)], h(1)).await;
    send(&*s, t, "Host BV", LadderRung::Hoster, vec![(c2, 1)], h(25)).await;
    let (_, out) = s
        .record_attribution(
            &a("attr"),
            c2,
            attribution("Other Hosting", 64511, "bad.example", h(30)),
        )
        .await
        .unwrap();
    assert_eq!(out, AttributionOutcome::HosterChanged);
    s.record_observation(c2, obs(h(31), ObservationOutcome::Online), &p)
        .await
        .unwrap();

    // Case 3: removed (from 2 h, verified 2.5 h), back online at 48 h, removed again.
    let c3 = s
        .open_case(&a("o"), items[2].clone(), t0())
        .await
        .unwrap()
        .id;
    s.record_attribution(
        &a("attr"),
        c3,
        attribution("Host BV", 64500, "bad.example", t0()),
    )
    .await
    .unwrap();
    send(&*s, t, "Host BV", LadderRung::Hoster, vec![(c3, 0)], m(30)).await;
    s.record_observation(c3, obs(h(1), ObservationOutcome::Online), &p)
        .await
        .unwrap();
    for k in 0..3 {
        s.record_observation(c3, obs(m(120 + 15 * k), ObservationOutcome::Gone), &p)
            .await
            .unwrap();
    }
    s.record_observation(c3, obs(h(48), ObservationOutcome::Online), &p)
        .await
        .unwrap();
    for k in 0..3 {
        s.record_observation(
            c3,
            obs(h(60) + Duration::minutes(15 * k), ObservationOutcome::Gone),
            &p,
        )
        .await
        .unwrap();
    }

    let input = s.monitor_input(Some(t)).await.unwrap();
    assert_eq!(input.cases.len(), 3);
    assert!(input.hits.is_empty());
    let one = &input.cases[0];
    assert_eq!(one.case_id, c1);
    assert_eq!(one.url, "https://bad.example/img/0.jpg");
    assert_eq!(one.site, "bad.example");
    assert_eq!(one.digest.as_deref(), Some(&*format!("{:064x}", 0xab)));
    assert_eq!(
        one.reported_at,
        t0(),
        "opened at t0, report stored later by the wall clock"
    );
    assert_eq!(
        one.hosters,
        [HosterSpell {
            org: host.clone(),
            from: t0(),
            to: None
        }]
    );
    assert_eq!(
        one.notices,
        [NoticeRecord {
            at: t0(),
            recipient: host.clone(),
            step: NoticeStep::Notice
        }]
    );
    assert_eq!(one.responded_at, Some(h(2)));
    assert_eq!(
        one.removal,
        Some(Removal {
            offline_at: h(5),
            verified_at: m(330)
        })
    );
    assert!(one.reoccurred_at.is_empty());

    let two = &input.cases[1];
    assert_eq!(
        two.hosters,
        [
            HosterSpell {
                org: host.clone(),
                from: t0(),
                to: Some(h(30))
            },
            HosterSpell {
                org: other.clone(),
                from: h(30),
                to: None
            }
        ]
    );
    let steps: Vec<_> = two.notices.iter().map(|n| (n.at, n.step)).collect();
    assert_eq!(
        steps,
        [(h(1), NoticeStep::Notice), (h(25), NoticeStep::Reminder)]
    );
    assert_eq!(two.removal, None);
    assert_eq!(two.responded_at, None);

    let three = &input.cases[2];
    assert_eq!(
        three.removal,
        Some(Removal {
            offline_at: h(2),
            verified_at: m(150)
        }),
        "the first removal counts, not the one after the re-appearance"
    );
    assert_eq!(three.reoccurred_at, [h(48)]);

    // Other tenants see nothing; all tenants see the same cases.
    assert_eq!(s.monitor_input(None).await.unwrap().cases.len(), 3);
    assert!(s.monitor_input(Some(t + 1)).await.unwrap().cases.is_empty());

    // The statistics on it: Host BV has all three cases (case 2 stays with the hoster at its
    // first notice); removal times 5 h and 1.5 h; case 2 censored.
    let march = Period::month(2026, 3).unwrap();
    let report = compute_report(&input, &march, h(24 * 7), &MonitorConfig::STANDARD);
    assert_eq!(report.rows.len(), 1);
    let row = &report.rows[0];
    assert_eq!(row.org.as_ref(), Some(&host));
    assert_eq!(row.cases, 3);
    assert_eq!(row.notices, 4);
    assert_eq!(row.removed, 2);
    assert_eq!(row.not_removed, 1);
    assert_eq!(row.removal_p50_seconds, Some(90 * 60));
    assert_eq!(row.removal_p90_seconds, Some(5 * 3600));
    assert_eq!(row.hoster_changed, 1);
    assert_eq!(row.reoccurred, 1);
    assert_eq!(row.removed_within[2].count, 2, "both removals within 24 h");
}

async fn store_trait_objects_expose_the_monitor_input(b: Backend) {
    let (_d, s, _t) = open(&b).await;
    let dynamic: std::sync::Arc<dyn Store> = s;
    let input = dynamic.monitor_input(None).await.unwrap();
    assert!(input.cases.is_empty() && input.hits.is_empty() && input.space.is_empty());
}

backend_tests!(
    takedown_records_become_monitor_timelines,
    store_trait_objects_expose_the_monitor_input,
);
