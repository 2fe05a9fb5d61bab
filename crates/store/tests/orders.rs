//! Regulator storage on a real SQLite database: the order life cycle with explicit times,
//! the deadline sweep, penalties, appeal, publication, right of reply — and the audit chain.

#[macro_use]
mod common;
use common::{Backend, TestDb};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use schoon_core::order::{
    AppealDecision, AppealStatus, OrderDeadline, OrderEvent, OrderState, PenaltyTerms, PenaltyUnit,
    ProviderContact,
};
use store::orders::{IssueRecord, NewOrder, PenaltyKind, StoredItem};
use store::{Actor, NewTenant, Store, StoreError};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn officer() -> Actor {
    Actor("admin:officer".into())
}

async fn open(b: &Backend) -> (TestDb, Arc<dyn Store>, i64) {
    let (dir, s) = common::store(b).await;
    let t = s
        .create_tenant(
            &officer(),
            NewTenant {
                name: "atkm".into(),
                country: Some("NL".into()),
                hit_deadline_hours: 24,
            },
        )
        .await
        .unwrap();
    (dir, s, t.id)
}

fn new_order(tenant: i64, reference: &str, deadline: OrderDeadline) -> NewOrder {
    NewOrder {
        tenant_id: tenant,
        reference: reference.into(),
        authority: "Test Authority".into(),
        provider: ProviderContact {
            name: "Hoster B.V.".into(),
            email: "abuse@hoster.example".into(),
            api_url: None,
        },
        legal_basis: "art. 3 test act".into(),
        deadline,
        items: vec![
            StoredItem {
                url: "https://site.example/a.jpg".into(),
                sha256: "AB".repeat(32),
                case_id: None,
            },
            StoredItem {
                url: "https://site.example/b.jpg".into(),
                sha256: "cd".repeat(32),
                case_id: None,
            },
        ],
    }
}

/// Drafts, issues (with a fake signature: the store records, the server signs) and delivers.
async fn delivered(
    s: &dyn Store,
    tenant: i64,
    reference: &str,
    deadline: OrderDeadline,
    at: DateTime<Utc>,
) -> i64 {
    let o = s
        .create_order(&officer(), new_order(tenant, reference, deadline), at)
        .await
        .unwrap();
    let digest = o.document(at).digest().unwrap();
    s.issue_order(
        &officer(),
        o.id,
        IssueRecord {
            canonical_json: digest.canonical,
            sha256: digest.sha256,
            signature: "00".repeat(64),
            issued_at: at,
        },
    )
    .await
    .unwrap();
    s.deliver_order(
        &officer(),
        o.id,
        serde_json::json!({"channel": "api"}),
        at + Duration::minutes(1),
    )
    .await
    .unwrap();
    o.id
}

async fn life_cycle_with_explicit_times_and_the_sweep(b: Backend) {
    let (_d, s, tenant) = open(&b).await;
    let o = s
        .create_order(
            &officer(),
            new_order(tenant, "ORD-1", OrderDeadline::OneHour),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(o.state, OrderState::Draft);
    assert_eq!(o.items.len(), 2);
    assert_eq!(
        o.items[0].sha256,
        "ab".repeat(32),
        "digests stored lowercase"
    );
    // Delivery before issue is refused by the life cycle, and events needing records are
    // refused by the generic method.
    let err = s
        .apply_order_event(&officer(), o.id, OrderEvent::Acknowledge, None, t0())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let err = s
        .apply_order_event(&officer(), o.id, OrderEvent::Issue, None, t0())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");

    let issued_at = t0() + Duration::minutes(5);
    let digest = o.document(issued_at).digest().unwrap();
    let o = s
        .issue_order(
            &officer(),
            o.id,
            IssueRecord {
                canonical_json: digest.canonical.clone(),
                sha256: digest.sha256.clone(),
                signature: "ff".repeat(64),
                issued_at,
            },
        )
        .await
        .unwrap();
    assert_eq!(o.state, OrderState::Issued);
    assert_eq!(o.issued_at, Some(issued_at));
    assert_eq!(o.sha256.as_deref(), Some(digest.sha256.as_str()));
    // The stored document reproduces the signed bytes.
    assert_eq!(
        o.document(t0()).digest().unwrap().canonical,
        digest.canonical
    );
    // The sweep ignores an order that was never delivered.
    assert!(
        s.sweep_orders(t0() + Duration::days(3))
            .await
            .unwrap()
            .is_empty()
    );

    let delivered_at = t0() + Duration::minutes(10);
    let o = s
        .deliver_order(
            &officer(),
            o.id,
            serde_json::json!({"channel": "api", "sha256": digest.sha256}),
            delivered_at,
        )
        .await
        .unwrap();
    assert_eq!(o.state, OrderState::Delivered);
    assert_eq!(o.due_at, Some(delivered_at + Duration::hours(1)));
    assert_eq!(o.delivery_proof.as_ref().unwrap()["channel"], "api");
    let o = s
        .apply_order_event(
            &Actor("provider:ORD-1".into()),
            o.id,
            OrderEvent::Acknowledge,
            Some("received"),
            delivered_at + Duration::minutes(2),
        )
        .await
        .unwrap();
    assert_eq!(o.state, OrderState::Acknowledged);
    assert_eq!(o.acknowledged_at, Some(delivered_at + Duration::minutes(2)));

    // One microsecond before the deadline nothing happens; at the deadline it goes overdue,
    // once.
    let due = o.due_at.unwrap();
    assert!(
        s.sweep_orders(due - Duration::microseconds(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.sweep_orders(due).await.unwrap(), vec![o.id]);
    assert!(s.sweep_orders(due).await.unwrap().is_empty());
    let o = s.order(o.id).await.unwrap().unwrap();
    assert_eq!(o.state, OrderState::Overdue);
    assert_eq!(o.overdue_at, Some(due));

    let o = s
        .apply_order_event(&officer(), o.id, OrderEvent::StartPenalty, None, due)
        .await
        .unwrap();
    assert_eq!(o.state, OrderState::PenaltyRunning);
    let o = s
        .apply_order_event(
            &Actor("system".into()),
            o.id,
            OrderEvent::Comply,
            None,
            due + Duration::hours(3),
        )
        .await
        .unwrap();
    assert_eq!(o.state, OrderState::Complied);
    assert_eq!(o.complied_at, Some(due + Duration::hours(3)));
    // Terminal: nothing more.
    let err = s
        .apply_order_event(&officer(), o.id, OrderEvent::Withdraw, None, due)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));

    let events: Vec<String> = s
        .order_events(o.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        events,
        [
            "draft",
            "issue",
            "deliver",
            "acknowledge",
            "overdue",
            "penalty_start",
            "comply"
        ]
    );
    let by_ref = s.order_by_reference("ORD-1").await.unwrap().unwrap();
    assert_eq!(by_ref.id, o.id);
    assert!(s.order_by_reference("nope").await.unwrap().is_none());

    // Every change is in the audit chain, which verifies.
    let audit = s.audit_events(0, 1000).await.unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .filter(|e| e.subject == format!("order:{}", o.id))
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "order.draft",
            "order.issue",
            "order.deliver",
            "order.acknowledge",
            "order.overdue",
            "order.penalty_start",
            "order.comply"
        ]
    );
    let issue = audit.iter().find(|e| e.action == "order.issue").unwrap();
    assert!(issue.details.contains(&digest.sha256), "{}", issue.details);
    assert!(s.verify_audit_chain().await.unwrap() >= 8);
}

async fn drafts_are_validated_and_references_unique(b: Backend) {
    let (_d, s, tenant) = open(&b).await;
    s.create_order(
        &officer(),
        new_order(tenant, "ORD-1", OrderDeadline::TwelveHours),
        t0(),
    )
    .await
    .unwrap();
    let err = s
        .create_order(
            &officer(),
            new_order(tenant, "ORD-1", OrderDeadline::TwelveHours),
            t0(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let mut bad = new_order(tenant, "ORD-2", OrderDeadline::OneHour);
    bad.items[0].sha256 = "not a digest".into();
    assert!(matches!(
        s.create_order(&officer(), bad, t0()).await,
        Err(StoreError::Invalid(_))
    ));
    let mut empty = new_order(tenant, "ORD-3", OrderDeadline::OneHour);
    empty.items.clear();
    assert!(matches!(
        s.create_order(&officer(), empty, t0()).await,
        Err(StoreError::Invalid(_))
    ));
    let mut unknown_case = new_order(tenant, "ORD-4", OrderDeadline::OneHour);
    unknown_case.items[0].case_id = Some(999);
    assert!(matches!(
        s.create_order(&officer(), unknown_case, t0()).await,
        Err(StoreError::NotFound(_))
    ));
    // Nothing of the refused drafts was stored.
    let all = s.orders(tenant, None, 0, 100).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        s.orders(tenant, Some(OrderState::Issued), 0, 100)
            .await
            .unwrap()
            .len(),
        0
    );
}

async fn penalties_accrue_per_started_hour_and_stop_at_compliance(b: Backend) {
    let (_d, s, tenant) = open(&b).await;
    let id = delivered(&*s, tenant, "ORD-P", OrderDeadline::OneHour, t0()).await;
    let due = s.order(id).await.unwrap().unwrap().due_at.unwrap();
    // No terms yet.
    assert!(matches!(
        s.record_accrual(&officer(), id, due).await,
        Err(StoreError::Invalid(_))
    ));
    let bad = PenaltyTerms::Periodic {
        amount_cents: 0,
        unit: PenaltyUnit::Hour,
        max_cents: None,
    };
    assert!(matches!(
        s.set_penalty_terms(&officer(), id, bad, due).await,
        Err(StoreError::Invalid(_))
    ));
    let terms = PenaltyTerms::Periodic {
        amount_cents: 50_000,
        unit: PenaltyUnit::Hour,
        max_cents: Some(10_000_000),
    };
    let o = s
        .set_penalty_terms(&officer(), id, terms, due)
        .await
        .unwrap();
    assert_eq!(o.penalty_terms, Some(terms));
    s.sweep_orders(due).await.unwrap();

    let p = s
        .record_accrual(&officer(), id, due + Duration::minutes(90))
        .await
        .unwrap();
    assert_eq!(
        (p.kind, p.units, p.amount_cents),
        (PenaltyKind::Accrual, 2, 100_000)
    );
    assert!(p.running);
    let p = s
        .record_accrual(&officer(), id, due + Duration::hours(3))
        .await
        .unwrap();
    assert_eq!((p.units, p.amount_cents), (3, 150_000));

    s.apply_order_event(
        &officer(),
        id,
        OrderEvent::Comply,
        None,
        due + Duration::minutes(200),
    )
    .await
    .unwrap();
    // After compliance the amount is frozen at 4 started hours, however late we look.
    let p = s
        .record_accrual(&officer(), id, due + Duration::days(5))
        .await
        .unwrap();
    assert_eq!((p.units, p.amount_cents, p.running), (4, 200_000, false));
    let o = s.order(id).await.unwrap().unwrap();
    let (_, accrual) = o.accrual(due + Duration::days(9)).unwrap();
    assert_eq!(accrual.amount_cents, 200_000);
    // Terms cannot change on a complied order; a fine can still be recorded.
    assert!(matches!(
        s.set_penalty_terms(&officer(), id, terms, due).await,
        Err(StoreError::Invalid(_))
    ));
    let fine = s
        .record_fine(
            &officer(),
            id,
            2_500_000,
            Some("repeat"),
            due + Duration::days(6),
        )
        .await
        .unwrap();
    assert_eq!(
        (fine.kind, fine.amount_cents),
        (PenaltyKind::Fine, 2_500_000)
    );
    assert!(matches!(
        s.record_fine(&officer(), id, 0, None, due).await,
        Err(StoreError::Invalid(_))
    ));
    let all = s.penalties(id).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(s.verify_audit_chain().await.unwrap() > 0);
}

async fn appeal_runs_beside_the_order_and_annulment_voids_it(b: Backend) {
    let (_d, s, tenant) = open(&b).await;
    let id = delivered(&*s, tenant, "ORD-A", OrderDeadline::TwelveHours, t0()).await;
    let o = s
        .apply_order_event(
            &officer(),
            id,
            OrderEvent::LodgeAppeal,
            Some("bezwaar"),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(
        (o.state, o.appeal),
        (OrderState::Delivered, AppealStatus::Lodged)
    );
    // Not suspensive: the deadline still fires.
    let due = o.due_at.unwrap();
    assert_eq!(s.sweep_orders(due).await.unwrap(), vec![id]);
    let o = s.order(id).await.unwrap().unwrap();
    assert_eq!(
        (o.state, o.appeal),
        (OrderState::Overdue, AppealStatus::Lodged)
    );
    // A second appeal while one is pending is refused.
    assert!(matches!(
        s.apply_order_event(&officer(), id, OrderEvent::LodgeAppeal, None, due)
            .await,
        Err(StoreError::Invalid(_))
    ));
    let o = s
        .apply_order_event(
            &officer(),
            id,
            OrderEvent::DecideAppeal(AppealDecision::Annulled),
            None,
            due + Duration::days(30),
        )
        .await
        .unwrap();
    assert_eq!(
        (o.state, o.appeal),
        (OrderState::Annulled, AppealStatus::Annulled)
    );
    assert!(matches!(
        s.record_fine(&officer(), id, 100, None, due).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn publication_and_right_of_reply(b: Backend) {
    let (_d, s, tenant) = open(&b).await;
    let draft = s
        .create_order(
            &officer(),
            new_order(tenant, "ORD-D", OrderDeadline::OneHour),
            t0(),
        )
        .await
        .unwrap();
    assert!(matches!(
        s.publish_order(&officer(), draft.id, true, t0()).await,
        Err(StoreError::Invalid(_))
    ));
    let a = delivered(&*s, tenant, "ORD-X", OrderDeadline::OneHour, t0()).await;
    let _b = delivered(&*s, tenant, "ORD-Y", OrderDeadline::OneHour, t0()).await;
    assert!(s.published_orders(None).await.unwrap().is_empty());
    let o = s
        .publish_order(&officer(), a, true, t0() + Duration::hours(2))
        .await
        .unwrap();
    assert!(o.published);
    assert_eq!(o.published_at, Some(t0() + Duration::hours(2)));
    let published = s.published_orders(Some(tenant)).await.unwrap();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].reference, "ORD-X");
    let entry = published[0].register_entry(t0()).unwrap();
    assert_eq!(entry.reference, "ORD-X");
    assert_eq!(entry.provider_name, "Hoster B.V.");
    assert!(
        s.published_orders(Some(tenant + 1))
            .await
            .unwrap()
            .is_empty()
    );
    s.publish_order(&officer(), a, false, t0() + Duration::hours(3))
        .await
        .unwrap();
    assert!(s.published_orders(None).await.unwrap().is_empty());

    let r = s
        .set_provider_reply(
            &officer(),
            tenant,
            "Hoster B.V.",
            "We disagree.",
            false,
            t0(),
        )
        .await
        .unwrap();
    assert!(!r.published && r.published_at.is_none());
    assert!(s.provider_replies(None, true).await.unwrap().is_empty());
    let r = s
        .set_provider_reply(
            &officer(),
            tenant,
            "Hoster B.V.",
            "We removed it within the hour.",
            true,
            t0() + Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(r.published_at, Some(t0() + Duration::hours(1)));
    let shown = s.provider_replies(None, true).await.unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].text, "We removed it within the hour.");
    assert!(s.verify_audit_chain().await.unwrap() > 0);
}

backend_tests!(
    life_cycle_with_explicit_times_and_the_sweep,
    drafts_are_validated_and_references_unique,
    penalties_accrue_per_started_hour_and_stop_at_compliance,
    appeal_runs_beside_the_order_and_annulment_voids_it,
    publication_and_right_of_reply,
);
