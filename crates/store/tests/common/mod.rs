//! Set-up shared by the takedown and monitor store tests: a temporary SQLite store with one
//! Dutch tenant, and a report whose media items a list has classified illegal.

use chrono::{DateTime, Utc};
use schoon_core::report::Classification;
use store::reports::{AutoOutcome, Fetched, NewReport};
use store::takedown::NewCase;
use store::{Actor, NewTenant, ReportStore, SqliteStore, Store};

/// An actor for the audit log.
pub fn a(name: &str) -> Actor {
    Actor(name.into())
}

/// A fresh store in a temporary directory with the tenant `nl` (country NL).
pub async fn open() -> (tempfile::TempDir, SqliteStore, i64) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("schoon.db"))
        .await
        .unwrap();
    let t = s
        .create_tenant(
            &a("test"),
            NewTenant {
                name: "nl".into(),
                country: Some("NL".into()),
                hit_deadline_hours: 24,
            },
        )
        .await
        .unwrap();
    (dir, s, t.id)
}

/// A report filed at `reported_at` for `https://{site}/page` with `n` media items, all
/// classified illegal by a list (so `notice_pending`); `digests(i)` gives item `i`'s digests.
pub async fn pending_items(
    s: &SqliteStore,
    t: i64,
    site: &str,
    n: usize,
    reported_at: DateTime<Utc>,
    digests: impl Fn(usize) -> Fetched,
) -> Vec<NewCase> {
    let page = format!("https://{site}/page");
    let r = s
        .submit_reports(
            &a("p"),
            t,
            vec![NewReport {
                url: page.clone(),
                original_url: page.clone(),
                registrable_domain: None,
                referer: None,
                note: None,
                source_kind: schoon_core::report::SourceKind::Hotline,
                source_org_id: None,
                reporter_email: None,
            }],
            reported_at,
        )
        .await
        .unwrap();
    let report = r[0].report_id;
    let media = (0..n)
        .map(|i| (format!("https://{site}/img/{i}.jpg"), "img".to_string()))
        .collect();
    s.record_page(&a("w"), report, None, None, media)
        .await
        .unwrap();
    let mut out = Vec::new();
    for (i, item) in s
        .report_items(report)
        .await
        .unwrap()
        .into_iter()
        .enumerate()
    {
        assert!(
            s.complete_item(
                &a("w"),
                item.id,
                digests(i),
                AutoOutcome::Known {
                    list_id: 1,
                    entry_id: 1,
                    classification: Classification::Baseline,
                },
            )
            .await
            .unwrap()
        );
        out.push(NewCase {
            tenant_id: t,
            report_id: report,
            item_id: item.id,
            url: item.url.clone(),
            page_url: page.clone(),
            police_first: false,
        });
    }
    s.finish_report(&a("w"), report).await.unwrap();
    out
}
