//! System health: database ping, version, job queue depth per kind and status, failed and
//! dead jobs with their last error, the latest check-online round of the tenant's cases and its
//! outcome counts, and the notice outbox per state with the notices waiting for a person
//! (`sending` past its time, `delivery_unknown`).
//!
//! The job queue is shared by all tenants; job payloads (which may name another tenant's
//! records) are never shown, only kind, state and the error text.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use schoon_core::takedown::NoticeState;
use store::manage::{CheckSummary, JobCount};
use store::takedown::Notice;

use super::admin;
use crate::app::AppState;
use crate::ui::{Page, SignedIn, UiResult, render};

/// Failed jobs listed.
const FAILED_SHOWN: u32 = 20;
/// Waiting notices listed per state.
const NOTICES_SHOWN: u32 = 20;
/// Longest error text shown.
const ERROR_CHARS: usize = 300;

/// A failed job as shown.
#[derive(Debug, Clone)]
pub struct FailedJob {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// `dead` or `pending` (will retry).
    pub status: &'static str,
    /// Attempts made.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Next run (pending) or last planned run.
    pub run_at: String,
    /// Last error, shortened.
    pub error: String,
}

#[derive(Template)]
#[template(path = "ui/manage_health.html")]
struct HealthPage {
    page: Page,
    db_ok: bool,
    db_error: String,
    version: &'static str,
    entries: usize,
    jobs: Vec<JobCount>,
    failed: Vec<FailedJob>,
    check: CheckSummary,
    check_enabled: bool,
    outbox: Vec<(&'static str, i64)>,
    waiting: Vec<Notice>,
    smtp: bool,
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= ERROR_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(ERROR_CHARS).collect();
        t.push('…');
        t
    }
}

/// `GET /ui/manage/health`.
pub async fn page(State(state): State<AppState>, user: SignedIn) -> UiResult<Response> {
    admin(&user)?;
    let tr = user.tr();
    let t = user.user.tenant_id;
    let now = state.clock.now();
    let (db_ok, db_error) = match state.store.ping().await {
        Ok(()) => (true, String::new()),
        Err(e) => (false, e.to_string()),
    };
    let jobs = state.store.job_counts(now).await?;
    let failed = state
        .store
        .failed_jobs(FAILED_SHOWN)
        .await?
        .into_iter()
        .map(|j| FailedJob {
            id: j.id,
            kind: j.kind,
            status: j.status.as_str(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: j.run_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            error: shorten(j.last_error.as_deref().unwrap_or_default()),
        })
        .collect();
    let td = &state.takedown.config;
    // One round: its time budget plus the slack of the check tick.
    let window = chrono::Duration::seconds(i64::try_from(td.check_round_secs).unwrap_or(30) + 60);
    let check = state.store.check_summary(t, window).await?;
    let outbox = state
        .store
        .notice_counts(t)
        .await?
        .into_iter()
        .map(|(s, n)| (s.as_str(), n))
        .collect();
    let mut waiting = state
        .store
        .notices(t, Some(NoticeState::DeliveryUnknown), NOTICES_SHOWN)
        .await?;
    // `sending` is normal for a moment; past its lease it needs recovery (then a person).
    waiting.extend(
        state
            .store
            .notices(t, Some(NoticeState::Sending), NOTICES_SHOWN)
            .await?
            .into_iter()
            .filter(|n| n.lease_until.is_none_or(|l| l < now)),
    );
    let page = Page::new(
        &state,
        &user,
        "/ui/manage/health",
        tr.t("manage.health.title"),
    )
    .await;
    render(&HealthPage {
        page,
        db_ok,
        db_error,
        version: env!("CARGO_PKG_VERSION"),
        entries: state.matchers.total_entries(),
        jobs,
        failed,
        check,
        check_enabled: td.enabled,
        outbox,
        waiting,
        smtp: td
            .mail
            .smtp_host
            .as_deref()
            .is_some_and(|h| !h.trim().is_empty()),
    })
}
