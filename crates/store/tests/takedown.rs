//! Takedown storage on a real SQLite database: case opening, attribution history and hoster
//! changes, the offline verdict, the notice outbox (never twice, at most once across a crash),
//! police hold, responses, escalations — and the audit chain after all of it.

#[macro_use]
mod common;
use common::{Backend, a, open};

use chrono::{DateTime, Duration, TimeZone, Utc};
use schoon_core::takedown::due_steps;
use store::reports::Fetched;
use store::takedown::{
    AttributionOutcome, CaseContacts, CaseEscalationKind, CaseFilter, CaseState, Delivery,
    LadderRung, NewAttribution, NewCase, NewNotice, NewObservation, NoticeState,
    ObservationOutcome, OnlineVerdict, ResponseKind, TakedownPolicy,
};
use store::{Store, StoreError};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// A report a week before `t0` with `n` media items, all classified illegal by a list.
async fn pending_items(s: &dyn Store, t: i64, site: &str, n: usize) -> Vec<NewCase> {
    common::pending_items(s, t, site, n, t0() - Duration::days(7), |i| Fetched {
        sha256: Some(format!("{:064x}", i + 1)),
        pdq: Some(format!("{:064x}", i + 7)),
        ..Fetched::default()
    })
    .await
}

fn hoster(org: &str, email: &str, country: &str, asn: u32) -> CaseContacts {
    CaseContacts {
        hoster_org: Some(org.into()),
        hoster_email: Some(email.into()),
        hoster_country: Some(country.into()),
        asn: Some(asn),
        ip: Some("192.0.2.10".into()),
        ..CaseContacts::default()
    }
}

fn attribution(contacts: CaseContacts, at: DateTime<Utc>) -> NewAttribution {
    NewAttribution {
        contacts,
        host: "bad.example".into(),
        registrable_domain: Some("bad.example".into()),
        needs_contact: vec![],
        raw: serde_json::json!({"source": "test"}),
        made_at: at,
        tenant_country: Some("NL".into()),
    }
}

/// Opens and attributes a case to a Dutch hoster: monitoring from `t0()`.
async fn monitored(s: &dyn Store, c: NewCase) -> i64 {
    let case = s.open_case(&a("opener"), c, t0()).await.unwrap();
    let (case, out) = s
        .record_attribution(
            &a("attr"),
            case.id,
            attribution(hoster("Host BV", "abuse@host.test", "NL", 64500), t0()),
        )
        .await
        .unwrap();
    assert_eq!(out, AttributionOutcome::Monitoring);
    assert_eq!(case.state, CaseState::Monitoring);
    case.id
}

fn notice(t: i64, rung: LadderRung, items: Vec<(i64, u32)>, due: DateTime<Utc>) -> NewNotice {
    NewNotice {
        tenant_id: t,
        rung,
        recipient_email: "abuse@host.test".into(),
        recipient_org: Some("Host BV".into()),
        language: Some("nl".into()),
        due_at: due,
        held: false,
        items,
    }
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
        content_type: Some("image/jpeg".into()),
        served_sha256: None,
        served_pdq: None,
        distance: None,
        final_url: None,
        error: None,
    }
}

fn delivered(accepted: bool, at: DateTime<Utc>) -> Delivery {
    Delivery {
        accepted,
        smtp_code: Some(if accepted { 250 } else { 550 }),
        smtp_message: if accepted { "ok" } else { "no such user" }.into(),
        message_id: "<ref@schoon.test>".into(),
        at,
    }
}

async fn open_case_is_idempotent_and_only_for_pending_items(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let items = pending_items(&*s, t, "bad.example", 2).await;
    let waiting = s.items_without_case(10).await.unwrap();
    assert_eq!(waiting.len(), 2);
    assert_eq!(waiting[0].2, items[0].item_id);
    assert_eq!(waiting[0].4, "https://bad.example/page");
    let first = s
        .open_case(&a("opener"), items[0].clone(), t0())
        .await
        .unwrap();
    assert_eq!(first.state, CaseState::Attributing);
    assert_eq!(first.host, "bad.example");
    let again = s
        .open_case(&a("opener"), items[0].clone(), t0() + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(again, first, "same case, unchanged");
    assert_eq!(s.items_without_case(10).await.unwrap().len(), 1);
    // Wrong tenant/report for the item: refused.
    let mut wrong = items[1].clone();
    wrong.report_id += 100;
    assert!(matches!(
        s.open_case(&a("o"), wrong, t0()).await,
        Err(StoreError::Invalid(_))
    ));
    // Police first opens straight into the hold.
    let mut police = items[1].clone();
    police.police_first = true;
    let held = s.open_case(&a("o"), police, t0()).await.unwrap();
    assert_eq!(held.state, CaseState::PoliceHold);
    assert!(held.police_first);
    let tl = s.case_timeline(held.id).await.unwrap().unwrap();
    let events: Vec<&str> = tl.events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, vec!["opened", "police_first"]);
    assert!(s.items_without_case(10).await.unwrap().is_empty());
    let counts = s.case_counts(t).await.unwrap();
    assert!(counts.contains(&(CaseState::Attributing, 1)));
    assert!(counts.contains(&(CaseState::PoliceHold, 1)));
    s.verify_audit_chain().await.unwrap();
}

async fn attribution_history_and_hoster_change_restart_the_ladder(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let items = pending_items(&*s, t, "bad.example", 1).await;
    let id = monitored(&*s, items[0].clone()).await;
    let p = TakedownPolicy::default();
    // Hoster #0 queued at once.
    let lc = &s.ladder_cases(t, 10).await.unwrap()[0];
    assert_eq!(lc.ladder.ladder_since, t0());
    let due = due_steps(&lc.ladder, &p, t0());
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].rung, due[0].sequence), (LadderRung::Hoster, 0));
    s.enqueue_notice(
        &a("ladder"),
        notice(t, LadderRung::Hoster, vec![(id, 0)], t0()),
        t0(),
    )
    .await
    .unwrap()
    .unwrap();
    // Same hoster again (other ASN of the same organisation): unchanged.
    let later = t0() + Duration::hours(10);
    let (_, out) = s
        .record_attribution(
            &a("attr"),
            id,
            attribution(hoster("Host BV", "abuse@host.test", "NL", 64501), later),
        )
        .await
        .unwrap();
    assert_eq!(out, AttributionOutcome::Unchanged);
    // Another hoster: ladder restarts from the change.
    let change = t0() + Duration::hours(30);
    let (case, out) = s
        .record_attribution(
            &a("attr"),
            id,
            attribution(
                hoster("Other Hosting", "abuse@other.test", "NL", 64999),
                change,
            ),
        )
        .await
        .unwrap();
    assert_eq!(out, AttributionOutcome::HosterChanged);
    assert_eq!(case.state, CaseState::Monitoring);
    assert_eq!(case.ladder_since, Some(change));
    assert_eq!(case.hoster_changed_at, Some(change));
    assert_eq!(
        case.contacts.hoster_email.as_deref(),
        Some("abuse@other.test")
    );
    let tl = s.case_timeline(id).await.unwrap().unwrap();
    assert_eq!(tl.attributions.len(), 3, "every attribution is history");
    assert_eq!(
        tl.attributions[0].contacts.hoster_org.as_deref(),
        Some("Host BV")
    );
    assert_eq!(
        tl.attributions[2].contacts.hoster_org.as_deref(),
        Some("Other Hosting")
    );
    assert_eq!(tl.attributions[2].made_at, change);
    assert!(tl.events.iter().any(|e| e.event == "hoster_changed"));
    // The new hoster gets its first notice at once, numbered after the old one's.
    let lc = &s.ladder_cases(t, 10).await.unwrap()[0];
    assert_eq!(lc.ladder.sent.len(), 1);
    let due = due_steps(&lc.ladder, &p, change);
    assert_eq!(
        due.iter().map(|d| (d.rung, d.sequence)).collect::<Vec<_>>(),
        vec![(LadderRung::Hoster, 1)]
    );
    let n = s
        .enqueue_notice(
            &a("ladder"),
            NewNotice {
                recipient_email: "abuse@other.test".into(),
                ..notice(t, LadderRung::Hoster, vec![(id, 1)], change)
            },
            change,
        )
        .await
        .unwrap();
    assert!(n.is_some());
    s.verify_audit_chain().await.unwrap();
}

async fn moved_abroad_forwards_and_missing_contact_parks(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let items = pending_items(&*s, t, "bad.example", 3).await;
    // First attribution already abroad.
    let c0 = s.open_case(&a("o"), items[0].clone(), t0()).await.unwrap();
    let (case, out) = s
        .record_attribution(
            &a("attr"),
            c0.id,
            attribution(hoster("Far Host", "abuse@far.test", "us", 64600), t0()),
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        AttributionOutcome::MovedAbroad {
            country: "US".into()
        }
    );
    assert_eq!(case.state, CaseState::Forwarded);
    assert_eq!(case.forward_country.as_deref(), Some("US"));
    assert_eq!(case.next_check_at, None);
    // Monitoring, then moved abroad on re-check.
    let id = monitored(&*s, items[1].clone()).await;
    let (case, out) = s
        .record_attribution(
            &a("attr"),
            id,
            attribution(
                hoster("Far Host", "abuse@far.test", "DE", 64600),
                t0() + Duration::hours(5),
            ),
        )
        .await
        .unwrap();
    assert!(matches!(out, AttributionOutcome::MovedAbroad { .. }));
    assert_eq!(case.state, CaseState::Forwarded);
    // A forwarded case ignores later attributions.
    let (_, out) = s
        .record_attribution(
            &a("attr"),
            id,
            attribution(hoster("Host BV", "abuse@host.test", "NL", 64500), t0()),
        )
        .await
        .unwrap();
    assert_eq!(out, AttributionOutcome::Unchanged);

    // No abuse address: parked, still checked.
    let c2 = s.open_case(&a("o"), items[2].clone(), t0()).await.unwrap();
    let mut na = attribution(
        CaseContacts {
            hoster_org: Some("Quiet Host".into()),
            hoster_country: Some("NL".into()),
            ..CaseContacts::default()
        },
        t0(),
    );
    na.needs_contact = vec!["hoster:no_abuse_email".into()];
    let (case, out) = s.record_attribution(&a("attr"), c2.id, na).await.unwrap();
    assert_eq!(out, AttributionOutcome::NeedsContact);
    assert_eq!(case.state, CaseState::NeedsContact);
    assert_eq!(case.next_check_at, Some(t0()));
    assert_eq!(
        s.cases(
            t,
            CaseFilter {
                state: Some(CaseState::NeedsContact),
                after_id: 0,
                limit: 10
            }
        )
        .await
        .unwrap()
        .len(),
        1
    );
    // Not in the ladder while parked.
    assert!(
        s.ladder_cases(t, 10)
            .await
            .unwrap()
            .iter()
            .all(|l| l.case.id != c2.id)
    );
    // A human without an address: refused; with one: monitoring.
    assert!(matches!(
        s.set_contacts(
            &a("analyst"),
            c2.id,
            CaseContacts::default(),
            t0() + Duration::hours(1)
        )
        .await,
        Err(StoreError::Invalid(_))
    ));
    let fixed = t0() + Duration::hours(2);
    let case = s
        .set_contacts(
            &a("analyst"),
            c2.id,
            hoster("Quiet Host", "abuse@quiet.test", "NL", 64700),
            fixed,
        )
        .await
        .unwrap();
    assert_eq!(case.state, CaseState::Monitoring);
    assert_eq!(case.ladder_since, Some(fixed));
    assert_eq!(
        case.contacts.hoster_email.as_deref(),
        Some("abuse@quiet.test")
    );
    let tl = s.case_timeline(c2.id).await.unwrap().unwrap();
    assert_eq!(tl.attributions.len(), 2, "the manual fix is history too");
    assert_eq!(tl.events.last().unwrap().event, "contact_resolved");
    assert_eq!(tl.events.last().unwrap().actor, "analyst");
    // The next re-attribution finds the same hoster still without an address: the analyst's
    // fix stays, the case stays monitored; the history row keeps what was found.
    let mut again = attribution(
        CaseContacts {
            hoster_org: Some("Quiet Host".into()),
            hoster_country: Some("NL".into()),
            ..CaseContacts::default()
        },
        fixed + Duration::hours(1),
    );
    again.needs_contact = vec!["hoster:no_abuse_email".into()];
    let (case, out) = s
        .record_attribution(&a("attr"), c2.id, again)
        .await
        .unwrap();
    assert_eq!(out, AttributionOutcome::Unchanged);
    assert_eq!(case.state, CaseState::Monitoring);
    assert_eq!(
        case.contacts.hoster_email.as_deref(),
        Some("abuse@quiet.test")
    );
    // A failed re-attribution (nothing found) does not park a monitored case either.
    let mut failed = attribution(CaseContacts::default(), fixed + Duration::hours(2));
    failed.needs_contact = vec!["hoster:attribution_failed".into()];
    failed.tenant_country = None;
    let (case, out) = s
        .record_attribution(&a("attr"), c2.id, failed)
        .await
        .unwrap();
    assert_eq!(out, AttributionOutcome::Unchanged);
    assert_eq!(case.contacts.hoster_org.as_deref(), Some("Quiet Host"));
    let tl = s.case_timeline(c2.id).await.unwrap().unwrap();
    assert_eq!(tl.attributions.len(), 4);
    assert_eq!(
        tl.attributions[2].contacts.hoster_email, None,
        "history = found"
    );
    assert_eq!(
        tl.attributions[3].needs_contact,
        vec!["hoster:attribution_failed"]
    );
    s.verify_audit_chain().await.unwrap();
}

async fn observations_decide_removal_and_reappearance(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let items = pending_items(&*s, t, "bad.example", 1).await;
    let id = monitored(&*s, items[0].clone()).await;
    let p = TakedownPolicy::default();
    // Due at once; handed out once (lease), not twice.
    let due = s.due_checks(t0(), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].case.id, id);
    assert_eq!(due[0].sha256.as_deref(), Some(&*format!("{:064x}", 1)));
    assert!(due[0].pdq.is_some());
    assert!(s.due_checks(t0(), 10).await.unwrap().is_empty());

    let m = |n: i64| t0() + Duration::minutes(n);
    let r = s
        .record_observation(id, obs(m(1), ObservationOutcome::Online), &p)
        .await
        .unwrap();
    assert_eq!(r.verdict, OnlineVerdict::Online);
    assert_eq!(r.case.next_check_at, Some(m(16)), "early phase: 15 min");
    // Misses: first at 60, one too close at 62, spaced at 75 and 90 (error counts).
    let r = s
        .record_observation(id, obs(m(60), ObservationOutcome::Gone), &p)
        .await
        .unwrap();
    assert_eq!(r.verdict, OnlineVerdict::Pending { misses: 1 });
    assert_eq!(r.case.misses, 1);
    assert_eq!(r.case.next_check_at, Some(m(75)));
    s.record_observation(id, obs(m(62), ObservationOutcome::Gone), &p)
        .await
        .unwrap();
    let r = s
        .record_observation(id, obs(m(75), ObservationOutcome::Error), &p)
        .await
        .unwrap();
    assert_eq!(r.verdict, OnlineVerdict::Pending { misses: 2 });
    assert_eq!(r.changed, None);
    let r = s
        .record_observation(id, obs(m(90), ObservationOutcome::Gone), &p)
        .await
        .unwrap();
    assert_eq!(r.changed, Some(CaseState::Removed));
    assert_eq!(r.case.state, CaseState::Removed);
    assert_eq!(r.case.removed_at, Some(m(60)), "removal = first miss");
    assert_eq!(r.case.offline_verified_at, Some(m(90)));
    assert_eq!(
        r.case.next_check_at,
        Some(m(150)),
        "removed: check_interval"
    );
    // Removed cases are not on the ladder, and a notice computed before the removal is not
    // queued for them.
    assert!(s.ladder_cases(t, 10).await.unwrap().is_empty());
    assert!(
        s.enqueue_notice(
            &a("ladder"),
            notice(t, LadderRung::Hoster, vec![(id, 1)], m(91)),
            m(91)
        )
        .await
        .unwrap()
        .is_none()
    );
    // Checked again only after the interval.
    assert!(s.due_checks(m(149), 10).await.unwrap().is_empty());
    assert_eq!(s.due_checks(m(150), 10).await.unwrap().len(), 1);
    // Still served after all: re-appearance, ladder restarts.
    let back = m(200);
    let r = s
        .record_observation(id, obs(back, ObservationOutcome::Online), &p)
        .await
        .unwrap();
    assert_eq!(r.changed, Some(CaseState::Monitoring));
    assert_eq!(r.case.reappeared_at, Some(back));
    assert_eq!(r.case.ladder_since, Some(back));
    assert_eq!(r.case.misses, 0);
    let tl = s.case_timeline(id).await.unwrap().unwrap();
    assert_eq!(tl.observations.len(), 6);
    assert_eq!(tl.observations[1].observation.http_status, Some(404));
    let evs: Vec<&str> = tl.events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        evs,
        vec!["opened", "attributed", "offline_verified", "reappeared"]
    );
    assert_eq!(tl.events[2].actor, "system");
    s.verify_audit_chain().await.unwrap();
}

async fn a_step_is_queued_once_and_a_duplicate_writes_nothing(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let items = pending_items(&*s, t, "bad.example", 2).await;
    let c1 = monitored(&*s, items[0].clone()).await;
    let c2 = monitored(&*s, items[1].clone()).await;
    let n = s
        .enqueue_notice(
            &a("ladder"),
            notice(t, LadderRung::Hoster, vec![(c1, 0), (c2, 0)], t0()),
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n.state, NoticeState::Queued);
    assert_eq!(n.items.len(), 2);
    assert!(n.reference.starts_with("NL-N-"), "{}", n.reference);
    assert_eq!(
        s.notice_by_reference(&n.reference)
            .await
            .unwrap()
            .unwrap()
            .id,
        n.id
    );
    let audit_before = s.audit_events(0, 100_000).await.unwrap().len();
    // c2's hoster#0 is taken: the whole notice is refused, c3... nothing written.
    let dup = s
        .enqueue_notice(
            &a("ladder"),
            notice(t, LadderRung::Hoster, vec![(c1, 1), (c2, 0)], t0()),
            t0(),
        )
        .await
        .unwrap();
    assert!(dup.is_none());
    assert_eq!(s.notices(t, None, 100).await.unwrap().len(), 1);
    assert_eq!(
        s.audit_events(0, 100_000).await.unwrap().len(),
        audit_before
    );
    // c1's hoster#1 alone is still free (the refused notice did not take it).
    assert!(
        s.enqueue_notice(
            &a("ladder"),
            notice(t, LadderRung::Hoster, vec![(c1, 1)], t0()),
            t0()
        )
        .await
        .unwrap()
        .is_some()
    );
    // Same sequence on another rung is another step.
    assert!(
        s.enqueue_notice(
            &a("ladder"),
            notice(t, LadderRung::Registrar, vec![(c1, 0)], t0()),
            t0()
        )
        .await
        .unwrap()
        .is_some()
    );
    // The regulator rung is not an e-mail.
    assert!(matches!(
        s.enqueue_notice(
            &a("ladder"),
            notice(t, LadderRung::Regulator, vec![(c1, 0)], t0()),
            t0()
        )
        .await,
        Err(StoreError::Invalid(_))
    ));
    // The ladder sees every taken step.
    let lc = s.ladder_cases(t, 10).await.unwrap();
    let sent1: Vec<(LadderRung, u32)> = lc
        .iter()
        .find(|l| l.case.id == c1)
        .unwrap()
        .ladder
        .sent
        .iter()
        .map(|x| (x.rung, x.sequence))
        .collect();
    assert_eq!(sent1.len(), 3);
    assert!(sent1.contains(&(LadderRung::Registrar, 0)));
    s.verify_audit_chain().await.unwrap();
}

async fn a_temporary_failure_requeues_the_notice_for_later(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let items = pending_items(&*s, t, "bad.example", 1).await;
    let id = monitored(&*s, items[0].clone()).await;
    let lease = Duration::minutes(5);
    let n = s
        .enqueue_notice(
            &a("l"),
            notice(t, LadderRung::Hoster, vec![(id, 0)], t0()),
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n.deferrals, 0);
    let greylisted = |at| Delivery {
        accepted: false,
        smtp_code: Some(451),
        smtp_message: "temporary: greylisted, try again later".into(),
        message_id: "<ref@schoon.test>".into(),
        at,
    };
    let retry_at = t0() + Duration::minutes(5);
    s.claim_notices("w1", t0(), lease, 10).await.unwrap();
    // Only the claiming worker may defer it.
    assert!(matches!(
        s.defer_delivery(n.id, "w2", greylisted(t0()), retry_at)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let d = s
        .defer_delivery(n.id, "w1", greylisted(t0()), retry_at)
        .await
        .unwrap();
    assert_eq!(d.state, NoticeState::Queued);
    assert_eq!(d.due_at, retry_at);
    assert_eq!(d.deferrals, 1);
    assert_eq!(d.smtp_code, Some(451));
    assert_eq!(d.sent_at, None);
    assert_eq!(d.lease_until, None);
    // Not due before the retry time; then claimed again (same reference) and counted on.
    assert!(
        s.claim_notices("w2", retry_at - Duration::seconds(1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s.claim_notices("w2", retry_at, lease, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].reference, n.reference);
    assert_eq!(again[0].deferrals, 1);
    let d2 = s
        .defer_delivery(
            n.id,
            "w2",
            greylisted(retry_at),
            retry_at + Duration::minutes(15),
        )
        .await
        .unwrap();
    assert_eq!(d2.deferrals, 2);
    // Deferring twice without a claim in between: refused (it is queued, not sending).
    assert!(matches!(
        s.defer_delivery(n.id, "w2", greylisted(retry_at), retry_at)
            .await,
        Err(StoreError::Conflict(_))
    ));
    s.claim_notices("w3", retry_at + Duration::minutes(15), lease, 10)
        .await
        .unwrap();
    let sent = s
        .record_delivery(
            n.id,
            "w3",
            delivered(true, retry_at + Duration::minutes(15)),
        )
        .await
        .unwrap();
    assert_eq!(sent.state, NoticeState::Sent);
    assert_eq!(sent.deferrals, 2);
    let audit = s.audit_events(0, 100_000).await.unwrap();
    let deferred: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "notice.deferred")
        .collect();
    assert_eq!(deferred.len(), 2);
    let details: serde_json::Value = serde_json::from_str(&deferred[1].details).unwrap();
    assert_eq!(details["deferrals"], 2);
    assert_eq!(details["smtp_code"], 451);
    s.verify_audit_chain().await.unwrap();
}

async fn outbox_claim_deliver_and_stuck_sending(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let items = pending_items(&*s, t, "bad.example", 3).await;
    let mut ids = Vec::new();
    for c in &items {
        ids.push(monitored(&*s, c.clone()).await);
    }
    let lease = Duration::minutes(5);
    let n1 = s
        .enqueue_notice(
            &a("l"),
            notice(t, LadderRung::Hoster, vec![(ids[0], 0)], t0()),
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    let later = s
        .enqueue_notice(
            &a("l"),
            notice(
                t,
                LadderRung::Hoster,
                vec![(ids[1], 0)],
                t0() + Duration::hours(2),
            ),
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    // Only due notices are claimed, once.
    let got = s.claim_notices("w1", t0(), lease, 10).await.unwrap();
    assert_eq!(got.iter().map(|n| n.id).collect::<Vec<_>>(), vec![n1.id]);
    assert_eq!(got[0].state, NoticeState::Sending);
    assert_eq!(got[0].claimed_by.as_deref(), Some("w1"));
    assert!(
        s.claim_notices("w2", t0(), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Another worker cannot record it.
    assert!(matches!(
        s.record_delivery(n1.id, "w2", delivered(true, t0())).await,
        Err(StoreError::Conflict(_))
    ));
    let sent = s
        .record_delivery(n1.id, "w1", delivered(true, t0() + Duration::seconds(2)))
        .await
        .unwrap();
    assert_eq!(sent.state, NoticeState::Sent);
    assert_eq!(sent.smtp_code, Some(250));
    assert_eq!(sent.sent_at, Some(t0() + Duration::seconds(2)));
    // Recording twice: refused (it is no longer sending).
    assert!(matches!(
        s.record_delivery(n1.id, "w1", delivered(true, t0())).await,
        Err(StoreError::Conflict(_))
    ));

    // A crash after SMTP: claimed, never recorded.
    let at = t0() + Duration::hours(2);
    let got = s.claim_notices("w1", at, lease, 10).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, later.id);
    assert!(
        s.recover_stuck_notices(at + Duration::minutes(4))
            .await
            .unwrap()
            .is_empty()
    );
    let stuck = s
        .recover_stuck_notices(at + Duration::minutes(6))
        .await
        .unwrap();
    assert_eq!(stuck.len(), 1);
    assert_eq!(stuck[0].state, NoticeState::DeliveryUnknown);
    // Never resent by itself.
    assert!(
        s.claim_notices("w9", at + Duration::hours(5), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.notices(t, Some(NoticeState::DeliveryUnknown), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // A human re-queues it: same reference, sent again once.
    let rq = s
        .resolve_unknown_notice(&a("analyst"), later.id, true, at + Duration::hours(6))
        .await
        .unwrap();
    assert_eq!(rq.state, NoticeState::Queued);
    assert_eq!(rq.reference, later.reference);
    assert!(matches!(
        s.resolve_unknown_notice(&a("analyst"), later.id, true, at)
            .await,
        Err(StoreError::Invalid(_))
    ));
    let again = s
        .claim_notices("w2", at + Duration::hours(6), lease, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    let rejected = s
        .record_delivery(later.id, "w2", delivered(false, at + Duration::hours(6)))
        .await
        .unwrap();
    assert_eq!(rejected.state, NoticeState::Rejected);
    assert_eq!(rejected.sent_at, None);

    // Another stuck one, confirmed as sent by a human.
    let n3 = s
        .enqueue_notice(
            &a("l"),
            notice(t, LadderRung::Hoster, vec![(ids[2], 0)], at),
            at,
        )
        .await
        .unwrap()
        .unwrap();
    let t3 = at + Duration::hours(7);
    assert_eq!(s.claim_notices("w3", t3, lease, 10).await.unwrap().len(), 1);
    s.recover_stuck_notices(t3 + Duration::minutes(10))
        .await
        .unwrap();
    let ok = s
        .resolve_unknown_notice(&a("analyst"), n3.id, false, t3 + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(ok.state, NoticeState::Sent);
    assert_eq!(ok.sent_at, Some(t3 + Duration::hours(1)));
    s.verify_audit_chain().await.unwrap();
}

async fn concurrent_workers_never_claim_the_same_notice(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let items = pending_items(&*s, t, "bad.example", 20).await;
    for c in &items {
        let id = monitored(&*s, c.clone()).await;
        s.enqueue_notice(
            &a("l"),
            notice(t, LadderRung::Hoster, vec![(id, 0)], t0()),
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    }
    let mut tasks = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s
                    .claim_notices(&format!("w{w}"), t0(), Duration::minutes(5), 3)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|n| n.id));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(before, all.len(), "a notice was claimed twice");
    assert_eq!(all.len(), 20);
}

async fn police_hold_keeps_notices_held_until_release(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let items = pending_items(&*s, t, "bad.example", 1).await;
    let id = monitored(&*s, items[0].clone()).await;
    let n = s
        .enqueue_notice(
            &a("l"),
            notice(t, LadderRung::Hoster, vec![(id, 0)], t0()),
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    let hold = t0() + Duration::minutes(1);
    let case = s.set_police_first(&a("analyst"), id, hold).await.unwrap();
    assert_eq!(case.state, CaseState::PoliceHold);
    assert!(case.police_first);
    assert_eq!(
        s.notice(n.id).await.unwrap().unwrap().state,
        NoticeState::Held
    );
    // Held notices are not claimed; nothing is released while the hold lasts.
    assert!(
        s.claim_notices("w", hold + Duration::days(3), Duration::minutes(5), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        s.release_held_notices(&a("analyst"), id, hold).await,
        Err(StoreError::Invalid(_))
    ));
    // Twice: refused by the life cycle.
    assert!(matches!(
        s.set_police_first(&a("analyst"), id, hold).await,
        Err(StoreError::Invalid(_))
    ));
    // In the ladder input as police hold, police first: police #0 at once, nothing else.
    let lc = &s.ladder_cases(t, 10).await.unwrap()[0];
    assert_eq!(lc.ladder.state, CaseState::PoliceHold);
    let due = due_steps(&lc.ladder, &TakedownPolicy::default(), hold);
    assert_eq!(
        due.iter().map(|d| (d.rung, d.sequence)).collect::<Vec<_>>(),
        vec![(LadderRung::Police, 0)]
    );
    // A held notice queued directly (police first) is held too.
    let items2 = pending_items(&*s, t, "other.example", 1).await;
    let mut pf = items2[0].clone();
    pf.police_first = true;
    let c2 = s.open_case(&a("o"), pf, t0()).await.unwrap();
    let held = s
        .enqueue_notice(
            &a("l"),
            NewNotice {
                held: true,
                ..notice(t, LadderRung::Police, vec![(c2.id, 0)], t0())
            },
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.state, NoticeState::Held);

    let release = t0() + Duration::days(4);
    let case = s
        .release_police_hold(&a("police"), id, release)
        .await
        .unwrap();
    assert_eq!(case.state, CaseState::Attributing);
    assert_eq!(
        s.notice(n.id).await.unwrap().unwrap().state,
        NoticeState::Queued
    );
    let got = s
        .claim_notices("w", release, Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(got.iter().map(|x| x.id).collect::<Vec<_>>(), vec![n.id]);
    // The other case's held notice stays held.
    assert_eq!(
        s.notice(held.id).await.unwrap().unwrap().state,
        NoticeState::Held
    );
    s.verify_audit_chain().await.unwrap();
}

async fn responses_escalations_closing_and_the_audit_chain(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let items = pending_items(&*s, t, "bad.example", 3).await;
    let c1 = monitored(&*s, items[0].clone()).await;
    let c2 = monitored(&*s, items[1].clone()).await;
    let c3 = monitored(&*s, items[2].clone()).await;
    let n = s
        .enqueue_notice(
            &a("l"),
            notice(t, LadderRung::Hoster, vec![(c1, 0), (c2, 0)], t0()),
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    let at = t0() + Duration::hours(3);
    let all = s
        .record_response(
            &a("provider"),
            n.id,
            None,
            ResponseKind::Ack,
            Some("removed".into()),
            at,
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let one = s
        .record_response(
            &a("provider"),
            n.id,
            Some(c2),
            ResponseKind::Dispute,
            Some("not ours".into()),
            at,
        )
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].kind, ResponseKind::Dispute);
    assert!(matches!(
        s.record_response(&a("p"), n.id, Some(c3), ResponseKind::Ack, None, at)
            .await,
        Err(StoreError::Invalid(_))
    ));
    let tl = s.case_timeline(c2).await.unwrap().unwrap();
    assert_eq!(tl.responses.len(), 2);
    assert_eq!(tl.notices.len(), 1);

    // Escalation once per kind.
    let week = t0() + Duration::hours(168);
    assert!(
        s.escalate_case(
            &a("ladder"),
            c1,
            CaseEscalationKind::Regulator,
            "ignored",
            week
        )
        .await
        .unwrap()
    );
    assert!(
        !s.escalate_case(
            &a("ladder"),
            c1,
            CaseEscalationKind::Regulator,
            "again",
            week
        )
        .await
        .unwrap()
    );
    assert!(
        s.escalate_case(
            &a("ladder"),
            c1,
            CaseEscalationKind::Police,
            "ignored",
            week
        )
        .await
        .unwrap()
    );
    let esc = s.case_escalations(t, 10).await.unwrap();
    assert_eq!(esc.len(), 2);
    assert_eq!(esc[0].kind, CaseEscalationKind::Regulator);
    // The ladder counts them as taken: no second regulator step.
    let lc = s.ladder_cases(t, 10).await.unwrap();
    let l1 = &lc.iter().find(|l| l.case.id == c1).unwrap().ladder;
    let due = due_steps(l1, &TakedownPolicy::default(), week + Duration::hours(1));
    assert!(due.iter().all(|d| d.rung != LadderRung::Regulator));

    // Closing c3 (no notice) and c1: the shared notice stays while c2 is monitored...
    let n3 = s
        .enqueue_notice(
            &a("l"),
            notice(t, LadderRung::Hoster, vec![(c3, 0)], week),
            week,
        )
        .await
        .unwrap()
        .unwrap();
    let closed = s
        .close_case(&a("analyst"), c1, "duplicate", week)
        .await
        .unwrap();
    assert_eq!(closed.state, CaseState::Closed);
    assert_eq!(closed.closed_at, Some(week));
    assert_eq!(closed.next_check_at, None);
    assert_eq!(
        s.notice(n.id).await.unwrap().unwrap().state,
        NoticeState::Queued
    );
    // ...and a queued notice whose only case is closed is cancelled.
    s.close_case(&a("analyst"), c3, "error", week)
        .await
        .unwrap();
    assert_eq!(
        s.notice(n3.id).await.unwrap().unwrap().state,
        NoticeState::Cancelled
    );
    assert!(matches!(
        s.close_case(&a("analyst"), c3, "again", week).await,
        Err(StoreError::Invalid(_))
    ));
    // Policy: default, then set (validated) and read back.
    assert_eq!(
        s.takedown_policy(t).await.unwrap(),
        TakedownPolicy::default()
    );
    let p = TakedownPolicy {
        hoster_reminder_hours: 12,
        ..TakedownPolicy::default()
    };
    s.set_takedown_policy(&a("admin"), t, &p, week)
        .await
        .unwrap();
    assert_eq!(s.takedown_policy(t).await.unwrap(), p);
    assert!(matches!(
        s.set_takedown_policy(
            &a("admin"),
            t,
            &TakedownPolicy {
                offline_misses: 0,
                ..p.clone()
            },
            week
        )
        .await,
        Err(StoreError::Invalid(_))
    ));
    // Every change above is in one valid hash chain, with the expected subjects.
    let n_events = s.verify_audit_chain().await.unwrap();
    assert!(n_events > 20, "{n_events}");
    let audit = s.audit_events(0, 100_000).await.unwrap();
    for (action, subject) in [
        ("case.opened", format!("case:{c1}")),
        ("case.attributed", format!("case:{c1}")),
        ("case.close", format!("case:{c1}")),
        ("case.escalated_regulator", format!("case:{c1}")),
        ("notice.queued", format!("notice:{}", n.id)),
        ("notice.ack", format!("notice:{}", n.id)),
        ("notice.cancelled", format!("notice:{}", n3.id)),
        ("tenant.takedown_policy", format!("tenant:{t}")),
    ] {
        assert!(
            audit
                .iter()
                .any(|e| e.action == action && e.subject == subject),
            "missing audit {action} on {subject}"
        );
    }
}

async fn reappearance_after_a_cancelled_notice_numbers_past_it(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let items = pending_items(&*s, t, "bad.example", 1).await;
    let id = monitored(&*s, items[0].clone()).await;
    let p = TakedownPolicy::default();
    let m = |n: i64| t0() + Duration::minutes(n);
    // Hoster #0 sent; #1 queued (waiting for the sending window) when the material goes.
    let n0 = s
        .enqueue_notice(
            &a("l"),
            notice(t, LadderRung::Hoster, vec![(id, 0)], t0()),
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    s.claim_notices("w", t0(), Duration::minutes(5), 10)
        .await
        .unwrap();
    s.record_delivery(n0.id, "w", delivered(true, t0()))
        .await
        .unwrap();
    let n1 = s
        .enqueue_notice(
            &a("l"),
            notice(t, LadderRung::Hoster, vec![(id, 1)], m(60 * 30)),
            m(60 * 24),
        )
        .await
        .unwrap()
        .unwrap();
    for k in 0..3 {
        s.record_observation(id, obs(m(60 * 25 + 15 * k), ObservationOutcome::Gone), &p)
            .await
            .unwrap();
    }
    assert_eq!(s.case(id).await.unwrap().unwrap().state, CaseState::Removed);
    assert_eq!(
        s.notice(n1.id).await.unwrap().unwrap().state,
        NoticeState::Cancelled,
        "nobody needs a reminder for removed material"
    );
    // Back online two days later: the ladder restarts and numbers past the cancelled #1.
    let back = m(60 * 72);
    let r = s
        .record_observation(id, obs(back, ObservationOutcome::Online), &p)
        .await
        .unwrap();
    assert_eq!(r.changed, Some(CaseState::Monitoring));
    let lc = &s.ladder_cases(t, 10).await.unwrap()[0];
    let due = due_steps(&lc.ladder, &p, back);
    assert_eq!(
        due.iter().map(|d| (d.rung, d.sequence)).collect::<Vec<_>>(),
        vec![(LadderRung::Hoster, 2)]
    );
    assert!(
        s.enqueue_notice(
            &a("l"),
            notice(t, LadderRung::Hoster, vec![(id, 2)], back),
            back
        )
        .await
        .unwrap()
        .is_some()
    );
    s.verify_audit_chain().await.unwrap();
}

async fn a_late_record_by_the_claiming_worker_still_counts(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let items = pending_items(&*s, t, "bad.example", 1).await;
    let id = monitored(&*s, items[0].clone()).await;
    let n = s
        .enqueue_notice(
            &a("l"),
            notice(t, LadderRung::Hoster, vec![(id, 0)], t0()),
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    s.claim_notices("w1", t0(), Duration::minutes(1), 10)
        .await
        .unwrap();
    // The SMTP answer took longer than the lease: recovery marked it unknown meanwhile.
    s.recover_stuck_notices(t0() + Duration::minutes(2))
        .await
        .unwrap();
    assert!(matches!(
        s.record_delivery(n.id, "w2", delivered(true, t0())).await,
        Err(StoreError::Conflict(_))
    ));
    let done = s
        .record_delivery(n.id, "w1", delivered(true, t0() + Duration::minutes(3)))
        .await
        .unwrap();
    assert_eq!(done.state, NoticeState::Sent);
    assert!(
        s.notices(t, Some(NoticeState::DeliveryUnknown), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

backend_tests!(
    open_case_is_idempotent_and_only_for_pending_items,
    attribution_history_and_hoster_change_restart_the_ladder,
    moved_abroad_forwards_and_missing_contact_parks,
    observations_decide_removal_and_reappearance,
    a_step_is_queued_once_and_a_duplicate_writes_nothing,
    outbox_claim_deliver_and_stuck_sending,
    a_temporary_failure_requeues_the_notice_for_later,
    concurrent_workers_never_claim_the_same_notice,
    police_hold_keeps_notices_held_until_release,
    responses_escalations_closing_and_the_audit_chain,
    reappearance_after_a_cancelled_notice_numbers_past_it,
    a_late_record_by_the_claiming_worker_still_counts,
);
