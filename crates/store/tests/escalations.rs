//! The regulator officer's queue on both backends: escalated takedown cases (regulator rung
//! only) and hits still overdue after the grace period, picked up once (audited), linked to
//! the order opened from them; the audit head and the evidence-export event.

#[macro_use]
mod common;
use common::{Backend, a};

use chrono::{DateTime, Duration, TimeZone, Utc};
use schoon_core::order::{OrderDeadline, ProviderContact};
use schoon_core::takedown::CaseEscalationKind;
use schoon_core::{Category, ListKind, NewEntry, NewHit, SignalType, SignalValue};
use store::orders::{EscalationSource, NewOrder, StoredItem};
use store::reports::Fetched;
use store::{NewList, StoreError};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

backend_tests!(the_queue_is_picked_up_once_and_linked_to_orders);

async fn the_queue_is_picked_up_once_and_linked_to_orders(b: Backend) {
    let (_db, s, t) = common::open(&b).await;
    let s = &*s;

    // A case escalated to the regulator and to the police: only the first is queued.
    let items = common::pending_items(s, t, "bad.example", 1, t0() - Duration::days(7), |i| {
        Fetched {
            sha256: Some(format!("{:064x}", i + 1)),
            ..Fetched::default()
        }
    })
    .await;
    let case = s
        .open_case(&a("opener"), items[0].clone(), t0())
        .await
        .unwrap();
    for kind in [CaseEscalationKind::Police, CaseEscalationKind::Regulator] {
        assert!(
            s.escalate_case(&a("ladder"), case.id, kind, "no removal", t0())
                .await
                .unwrap()
        );
    }
    let queue = s
        .regulator_escalations(t, EscalationSource::Case, None, 100)
        .await
        .unwrap();
    assert_eq!(queue.len(), 1, "{queue:?}");
    let esc = &queue[0];
    assert_eq!(
        (esc.source, esc.case_id, esc.hit_id),
        (EscalationSource::Case, Some(case.id), None)
    );
    assert!(!esc.picked_up());
    let police = s
        .case_escalations(t, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == CaseEscalationKind::Police)
        .unwrap();
    assert!(matches!(
        s.pick_up_escalation(&a("officer"), EscalationSource::Case, police.id, None, t0())
            .await,
        Err(StoreError::NotFound(_))
    ));

    // An overdue hit escalated by the follow-up sweep.
    let org = s.create_org(&a("test"), t, "Silent Host").await.unwrap();
    let list = s
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
    s.import_entries(
        &a("test"),
        list.id,
        vec![NewEntry {
            value: SignalValue::parse(SignalType::Sha256, &value).unwrap(),
            category: Category::Baseline,
            source: None,
            assessor: None,
        }],
        serde_json::json!({}),
    )
    .await
    .unwrap();
    let entry = s.entries(list.id, false, 0, 10).await.unwrap()[0].id;
    let hit = s
        .record_hits(
            &a("key:k"),
            t,
            vec![NewHit {
                org_id: org.id,
                entry_id: entry,
                list_id: list.id,
                signal_type: SignalType::Sha256,
                query_value: value,
                distance: 0,
                content_ref: None,
                content_url: Some("https://cdn.silent.example/u/1".into()),
            }],
        )
        .await
        .unwrap()
        .remove(0);
    let later = hit.deadline + Duration::days(30);
    s.sweep_deadlines(later).await.unwrap();
    s.sweep_deadlines(later + Duration::days(30)).await.unwrap();
    let hits = s
        .regulator_escalations(t, EscalationSource::Hit, Some(false), 100)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        (hits[0].hit_id, hits[0].org_id),
        (Some(hit.id), Some(org.id))
    );
    assert_eq!(hits[0].case_id, None);

    // Pick-up: the first stands; linking an order later is its own audited change.
    let at1 = t0() + Duration::hours(1);
    let (e, changed) = s
        .pick_up_escalation(&a("admin:o1"), EscalationSource::Case, esc.id, None, at1)
        .await
        .unwrap();
    assert!(changed);
    assert_eq!(e.picked_up_at, Some(at1));
    assert_eq!(e.picked_up_by.as_deref(), Some("admin:o1"));
    assert_eq!(e.order_id, None);
    let order = s
        .create_order(
            &a("admin:o2"),
            NewOrder {
                tenant_id: t,
                reference: "ORD-Q-1".into(),
                authority: "Test Authority".into(),
                provider: ProviderContact {
                    name: "Hoster".into(),
                    email: "abuse@hoster.example".into(),
                    api_url: None,
                },
                legal_basis: "art. 3".into(),
                deadline: OrderDeadline::from_hours(12).unwrap(),
                items: vec![StoredItem {
                    url: case.url.clone(),
                    sha256: format!("{:064x}", 1),
                    case_id: Some(case.id),
                }],
            },
            at1,
        )
        .await
        .unwrap();
    let at2 = at1 + Duration::hours(1);
    let (e, changed) = s
        .pick_up_escalation(
            &a("admin:o2"),
            EscalationSource::Case,
            esc.id,
            Some(order.id),
            at2,
        )
        .await
        .unwrap();
    assert!(changed);
    assert_eq!(e.picked_up_at, Some(at1), "first pick-up kept");
    assert_eq!(e.picked_up_by.as_deref(), Some("admin:o1"));
    assert_eq!(e.order_id, Some(order.id));
    let (_, changed) = s
        .pick_up_escalation(
            &a("admin:o3"),
            EscalationSource::Case,
            esc.id,
            Some(order.id),
            at2,
        )
        .await
        .unwrap();
    assert!(!changed, "nothing new");
    s.pick_up_escalation(
        &a("admin:o2"),
        EscalationSource::Hit,
        hits[0].id,
        Some(order.id),
        at2,
    )
    .await
    .unwrap();
    assert!(
        s.regulator_escalations(t, EscalationSource::Case, Some(false), 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.regulator_escalations(t, EscalationSource::Hit, Some(true), 100)
            .await
            .unwrap()
            .len(),
        1
    );
    let linked = s.order_escalations(order.id).await.unwrap();
    assert_eq!(
        linked.iter().map(|e| (e.source, e.id)).collect::<Vec<_>>(),
        vec![
            (EscalationSource::Case, esc.id),
            (EscalationSource::Hit, hits[0].id)
        ]
    );
    assert!(matches!(
        s.pick_up_escalation(&a("x"), EscalationSource::Hit, 9999, None, at2)
            .await,
        Err(StoreError::NotFound(_))
    ));

    let events = s.audit_events(0, 100_000).await.unwrap();
    let subject = EscalationSource::Case.subject(esc.id);
    let actions: Vec<&str> = events
        .iter()
        .filter(|e| e.subject == subject)
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(actions, ["escalation.pick_up", "escalation.link_order"]);

    // The head is the last event; the export event becomes the new head.
    let head = s.audit_head().await.unwrap().unwrap();
    let last = events.last().unwrap();
    assert_eq!((head.id, head.hash.as_str()), (last.id, last.hash.as_str()));
    let new_head = s
        .record_evidence_export(
            &a("admin:o2"),
            order.id,
            serde_json::json!({"package_sha256": "00"}),
            at2,
        )
        .await
        .unwrap();
    assert!(new_head.id > head.id);
    let export = s.audit_events(head.id, 10).await.unwrap();
    assert_eq!(export.len(), 1);
    assert_eq!(export[0].action, "order.evidence_exported");
    assert_eq!(export[0].subject, format!("order:{}", order.id));
    assert_eq!(export[0].hash, new_head.hash);
    assert_eq!(export[0].prev_hash, head.hash);
    assert!(matches!(
        s.record_evidence_export(&a("x"), 9999, serde_json::json!({}), at2)
            .await,
        Err(StoreError::NotFound(_))
    ));
    s.verify_audit_chain().await.unwrap();
}
