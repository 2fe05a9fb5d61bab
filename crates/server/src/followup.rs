//! Hit follow-up ("check op de hashcheck"): the provider API (list, acknowledge, dispute,
//! revocation feed, own metrics), the hotline's review and metrics endpoints, and the jobs
//! that verify removals and sweep deadlines.
//!
//! Verification re-fetches a hit's public URL through the one safe fetcher and hashes what is
//! served: the matched content still there (exact digest, or PDQ within the list's radius) →
//! `verification_failed`; 404/410, different content, or unreachable N times spaced out →
//! `verified`. Jobs are idempotent: a job for a stale round or a hit that moved on does
//! nothing, and the miss count comes from the job's own attempt number, so a re-delivered job
//! reaches the same decision.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use media::{Limits, MediaHasher};
use schoon_core::hit::{
    AckAction, FollowupMetrics, FollowupPolicy, HitEvent, METRICS_CSV_HEADER, Observation,
    VerifyDecision, decide_verification, followup_metrics,
};
use schoon_core::{HitId, HitState, OrgId, SignalType, TenantId};
use serde::{Deserialize, Serialize};
use store::followup::{Escalation, FollowupHit, RevocationNotice};
use store::{Actor, Job, NewJob, RevokeSelector, StoreError};

use crate::app::{AppState, JsonBody};
use crate::auth::{AdminCaller, CheckCaller};
use crate::problem::{ApiResult, Problem};
use crate::worker::JobRunner;

/// Job kind: verify one hit's removal (payload `{hit_id, round, attempt}`).
pub const JOB_VERIFY: &str = "hit.verify";

/// Provider endpoints (check keys).
pub fn provider_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/hits", get(my_hits))
        .route("/api/v1/hits/{hit_id}", get(my_hit))
        .route("/api/v1/hits/{hit_id}/acknowledge", post(acknowledge))
        .route("/api/v1/hits/{hit_id}/dispute", post(dispute))
        .route("/api/v1/revocations", get(revocations))
        .route("/api/v1/followup/metrics", get(my_metrics))
}

/// Hotline endpoints (admin token).
pub fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/hits/{hit_id}/review", post(review))
        .route(
            "/api/admin/tenants/{tenant_id}/followup/metrics",
            get(tenant_metrics),
        )
        .route("/api/admin/escalations", get(escalations))
        .route(
            "/api/admin/tenants/{tenant_id}/followup/policy",
            axum::routing::put(set_policy),
        )
}

/// Registers the follow-up job kinds and the deadline sweep with a runner.
pub fn register(runner: &mut JobRunner) {
    runner.register(JOB_VERIFY, verify_job);
    runner.tick("followup.sweep", sweep);
}

fn actor(c: &CheckCaller) -> Actor {
    Actor(format!("key:{}", c.key_id))
}

async fn own_hit(state: &AppState, c: &CheckCaller, id: HitId) -> ApiResult<FollowupHit> {
    match state.store.followup_hit(id).await? {
        Some(h) if h.hit.hit.org_id == c.org_id => Ok(h),
        _ => Err(Problem::not_found(format!("hit {id} not found"))),
    }
}

/// A refused transition is a conflict with the hit's current state.
fn transition_problem(e: StoreError) -> Problem {
    match e {
        StoreError::Invalid(msg) => Problem::new(
            StatusCode::CONFLICT,
            "invalid-transition",
            "Not allowed in the hit's current state",
            msg,
        ),
        other => other.into(),
    }
}

/// Query of `GET /api/v1/hits`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HitsQuery {
    /// Only hits in this state.
    pub state: Option<String>,
    /// Page: hits with a smaller id.
    pub before: Option<HitId>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// The caller's hits, newest first.
#[utoipa::path(get, path = "/api/v1/hits", params(HitsQuery), responses((status = 200)), security(("bearer" = [])))]
pub async fn my_hits(
    State(state): State<AppState>,
    c: CheckCaller,
    Query(q): Query<HitsQuery>,
) -> ApiResult<Json<Vec<FollowupHit>>> {
    let st = q
        .state
        .as_deref()
        .map(str::parse::<HitState>)
        .transpose()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(
        state
            .store
            .followup_hits(c.org_id, st, q.before, limit)
            .await?,
    ))
}

/// One of the caller's hits.
#[utoipa::path(get, path = "/api/v1/hits/{hit_id}", responses((status = 200), (status = 404)), security(("bearer" = [])))]
pub async fn my_hit(
    State(state): State<AppState>,
    c: CheckCaller,
    Path(id): Path<HitId>,
) -> ApiResult<Json<FollowupHit>> {
    Ok(Json(own_hit(&state, &c, id).await?))
}

/// Body of an acknowledgement.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AckIn {
    /// `removed`, `blocked`, `false_positive` or `not_ours`.
    pub action: String,
    /// Optional note (at most 2000 characters).
    #[serde(default)]
    pub note: Option<String>,
}

fn check_note(note: &Option<String>) -> ApiResult<()> {
    if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(Problem::bad_request("note must be at most 2000 characters"));
    }
    Ok(())
}

async fn ack(
    state: &AppState,
    c: &CheckCaller,
    id: HitId,
    action: AckAction,
    note: Option<String>,
) -> ApiResult<Json<FollowupHit>> {
    check_note(&note)?;
    own_hit(state, c, id).await?;
    let (h, t) = state
        .store
        .apply_hit_event(
            &actor(c),
            id,
            HitEvent::Acknowledge(action),
            note.as_deref(),
            state.clock.now(),
        )
        .await
        .map_err(transition_problem)?;
    if t.verify {
        enqueue_verify(state, &h, 1, state.clock.now()).await?;
    }
    Ok(Json(h))
}

/// Acknowledge a hit with what was done.
#[utoipa::path(post, path = "/api/v1/hits/{hit_id}/acknowledge", request_body = AckIn, responses((status = 200), (status = 409)), security(("bearer" = [])))]
pub async fn acknowledge(
    State(state): State<AppState>,
    c: CheckCaller,
    Path(id): Path<HitId>,
    JsonBody(b): JsonBody<AckIn>,
) -> ApiResult<Json<FollowupHit>> {
    let action: AckAction = b
        .action
        .parse()
        .map_err(|e: schoon_core::UnknownValue| Problem::bad_request(e.to_string()))?;
    ack(&state, &c, id, action, b.note).await
}

/// Body of a dispute.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DisputeIn {
    /// Why the match is wrong (required).
    pub note: String,
}

/// Dispute a hit (false positive); the list owner reviews it.
#[utoipa::path(post, path = "/api/v1/hits/{hit_id}/dispute", request_body = DisputeIn, responses((status = 200), (status = 409)), security(("bearer" = [])))]
pub async fn dispute(
    State(state): State<AppState>,
    c: CheckCaller,
    Path(id): Path<HitId>,
    JsonBody(b): JsonBody<DisputeIn>,
) -> ApiResult<Json<FollowupHit>> {
    if b.note.trim().is_empty() {
        return Err(Problem::bad_request("a dispute needs a note saying why"));
    }
    ack(&state, &c, id, AckAction::FalsePositive, Some(b.note)).await
}

/// Body of a list owner's review of a dispute.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReviewIn {
    /// `upheld` (the entry stays; the hit is open again with a new deadline) or `revoked`
    /// (the entry is revoked; every organisation that matched it is told).
    pub outcome: String,
    /// Reason (required).
    pub reason: String,
}

/// The list owner's review of a disputed hit.
#[utoipa::path(post, path = "/api/admin/hits/{hit_id}/review", request_body = ReviewIn, responses((status = 200), (status = 409)), security(("bearer" = [])))]
pub async fn review(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(id): Path<HitId>,
    JsonBody(b): JsonBody<ReviewIn>,
) -> ApiResult<Json<FollowupHit>> {
    if b.reason.trim().is_empty() {
        return Err(Problem::bad_request("a review needs a reason"));
    }
    let h = state
        .store
        .followup_hit(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("hit {id} not found")))?;
    if h.hit.state != HitState::Acknowledged || h.action != Some(AckAction::FalsePositive) {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "invalid-transition",
            "Not allowed in the hit's current state",
            "only a disputed (false_positive) hit can be reviewed",
        ));
    }
    match b.outcome.as_str() {
        "upheld" => {
            state
                .store
                .apply_hit_event(
                    &admin.actor(),
                    id,
                    HitEvent::ReviewUpheld,
                    Some(&b.reason),
                    state.clock.now(),
                )
                .await
                .map_err(transition_problem)?;
        }
        "revoked" => {
            state
                .store
                .revoke_entries(
                    &admin.actor(),
                    h.hit.hit.list_id,
                    RevokeSelector::Ids(vec![h.hit.hit.entry_id]),
                    &b.reason,
                )
                .await?;
            state.matchers.refresh(h.hit.tenant_id).await?;
        }
        other => {
            return Err(Problem::bad_request(format!(
                "outcome must be upheld or revoked, got {other:?}"
            )));
        }
    }
    let h = state
        .store
        .followup_hit(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("hit {id} not found")))?;
    Ok(Json(h))
}

/// Query of the revocation feed.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SinceQuery {
    /// RFC 3339 time; entries revoked at or after it (default: everything).
    pub since: Option<String>,
    /// Page size (default 1000, at most 10000).
    pub limit: Option<u32>,
}

fn parse_time(what: &str, s: &str) -> ApiResult<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.to_utc());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| {
            Problem::bad_request(format!(
                "{what} must be an RFC 3339 time or a YYYY-MM-DD date, got {s:?}"
            ))
        })
}

/// The revocation feed of the caller's organisation.
#[derive(Debug, Serialize)]
pub struct RevocationsOut {
    /// Revoked entries the organisation had hits on.
    pub revocations: Vec<RevocationNotice>,
}

/// The caller's revocation feed.
#[utoipa::path(get, path = "/api/v1/revocations", params(SinceQuery), responses((status = 200)), security(("bearer" = [])))]
pub async fn revocations(
    State(state): State<AppState>,
    c: CheckCaller,
    Query(q): Query<SinceQuery>,
) -> ApiResult<Json<RevocationsOut>> {
    let since = match q.since.as_deref() {
        Some(s) => parse_time("since", s)?,
        None => DateTime::<Utc>::UNIX_EPOCH,
    };
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    Ok(Json(RevocationsOut {
        revocations: state
            .store
            .revocation_notices(c.org_id, since, limit)
            .await?,
    }))
}

/// Query of the metrics endpoints.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct MetricsQuery {
    /// Start of the period (hits recorded at or after; default 30 days before `until`).
    pub since: Option<String>,
    /// End of the period (exclusive; default now).
    pub until: Option<String>,
    /// One organisation (admin endpoint only).
    pub org: Option<OrgId>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// Metrics of one organisation.
#[derive(Debug, Serialize)]
pub struct OrgMetrics {
    /// Organisation id.
    pub org_id: OrgId,
    /// Its name.
    pub org: String,
    /// The figures.
    #[serde(flatten)]
    pub metrics: FollowupMetrics,
}

/// Follow-up metrics over a period.
#[derive(Debug, Serialize)]
pub struct MetricsOut {
    /// Period start.
    pub since: DateTime<Utc>,
    /// Period end (exclusive).
    pub until: DateTime<Utc>,
    /// One row per organisation with hits in the period.
    pub organisations: Vec<OrgMetrics>,
}

/// Computes per-organisation follow-up metrics (shared by the API and the CLI).
pub async fn metrics_for(
    store: &dyn store::Store,
    tenant_id: TenantId,
    org: Option<OrgId>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<MetricsOut, StoreError> {
    let tl = store
        .followup_timelines(tenant_id, org, since, until)
        .await?;
    let mut by_org: std::collections::BTreeMap<OrgId, Vec<_>> = Default::default();
    for t in tl {
        by_org.entry(t.org_id).or_default().push(t.timeline);
    }
    let mut organisations = Vec::new();
    for (org_id, tls) in by_org {
        let name = store
            .org(org_id)
            .await?
            .map(|o| o.name)
            .unwrap_or_else(|| format!("org {org_id}"));
        organisations.push(OrgMetrics {
            org_id,
            org: name,
            metrics: followup_metrics(&tls),
        });
    }
    Ok(MetricsOut {
        since,
        until,
        organisations,
    })
}

/// CSV form of [`MetricsOut`] (header + one row per organisation).
pub fn metrics_csv(m: &MetricsOut) -> String {
    let mut out = String::from(METRICS_CSV_HEADER);
    out.push('\n');
    for o in &m.organisations {
        out.push_str(&o.metrics.csv_row(&o.org));
        out.push('\n');
    }
    out
}

async fn metrics_response(
    state: &AppState,
    tenant_id: TenantId,
    org: Option<OrgId>,
    q: &MetricsQuery,
) -> ApiResult<Response> {
    let until = match q.until.as_deref() {
        Some(s) => parse_time("until", s)?,
        None => state.clock.now() + Duration::microseconds(1),
    };
    let since = match q.since.as_deref() {
        Some(s) => parse_time("since", s)?,
        None => until - Duration::days(30),
    };
    let m = metrics_for(state.store.as_ref(), tenant_id, org, since, until).await?;
    Ok(match q.format.as_deref().unwrap_or("json") {
        "json" => Json(m).into_response(),
        "csv" => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            metrics_csv(&m),
        )
            .into_response(),
        other => {
            return Err(Problem::bad_request(format!(
                "format must be json or csv, got {other:?}"
            )));
        }
    })
}

/// The caller's follow-up metrics.
#[utoipa::path(get, path = "/api/v1/followup/metrics", params(MetricsQuery), responses((status = 200)), security(("bearer" = [])))]
pub async fn my_metrics(
    State(state): State<AppState>,
    c: CheckCaller,
    Query(q): Query<MetricsQuery>,
) -> ApiResult<Response> {
    metrics_response(&state, c.tenant_id, Some(c.org_id), &q).await
}

/// Follow-up metrics per organisation.
#[utoipa::path(get, path = "/api/admin/tenants/{tenant_id}/followup/metrics", params(MetricsQuery), responses((status = 200)), security(("bearer" = [])))]
pub async fn tenant_metrics(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(tenant_id): Path<TenantId>,
    Query(q): Query<MetricsQuery>,
) -> ApiResult<Response> {
    metrics_response(&state, tenant_id, q.org, &q).await
}

/// Query of the escalation list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AfterQuery {
    /// Records after this id.
    pub after: Option<i64>,
    /// Page size.
    pub limit: Option<u32>,
}

/// Escalation records.
#[utoipa::path(get, path = "/api/admin/escalations", params(AfterQuery), responses((status = 200)), security(("bearer" = [])))]
pub async fn escalations(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Query(q): Query<AfterQuery>,
) -> ApiResult<Json<Vec<Escalation>>> {
    Ok(Json(
        state
            .store
            .escalations(q.after.unwrap_or(0), q.limit.unwrap_or(100).clamp(1, 1000))
            .await?,
    ))
}

/// A tenant's follow-up policy change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PolicyIn {
    /// Hours after the deadline before an overdue hit is escalated (0 to 8760).
    pub grace_hours: i64,
}

/// Set a tenant's follow-up policy.
#[utoipa::path(put, path = "/api/admin/tenants/{tenant_id}/followup/policy", request_body = PolicyIn, responses((status = 204)), security(("bearer" = [])))]
pub async fn set_policy(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(tenant_id): Path<TenantId>,
    JsonBody(b): JsonBody<PolicyIn>,
) -> ApiResult<StatusCode> {
    state
        .store
        .set_grace_hours(&admin.actor(), tenant_id, b.grace_hours)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- jobs ---

#[derive(Debug, Serialize, Deserialize)]
struct VerifyPayload {
    hit_id: HitId,
    round: i64,
    attempt: u32,
}

async fn enqueue_verify(
    state: &AppState,
    h: &FollowupHit,
    attempt: u32,
    run_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if h.hit.hit.content_url.is_none() {
        return Ok(());
    }
    let p = VerifyPayload {
        hit_id: h.hit.id,
        round: h.verify_round,
        attempt,
    };
    state
        .store
        .enqueue_job(NewJob {
            kind: JOB_VERIFY.into(),
            idempotency_key: Some(format!("{JOB_VERIFY}:{}:{}:{attempt}", p.hit_id, p.round)),
            payload: serde_json::to_value(&p).unwrap_or_default(),
            run_at,
            max_attempts: 5,
        })
        .await?;
    Ok(())
}

/// Whether verification applies to a hit in this status.
fn verifiable(h: &FollowupHit) -> bool {
    match h.hit.state {
        HitState::Acknowledged => h.action.is_some_and(AckAction::claims_gone),
        HitState::Overdue | HitState::Escalated => true,
        _ => false,
    }
}

/// Fetches the URL and compares what is served with the matched entry.
async fn observe(state: &AppState, h: &FollowupHit, url: &url::Url) -> Observation {
    let fetched = match state.fetcher.fetch(url).await {
        Ok(f) => f,
        Err(e) => {
            tracing::info!(hit = h.hit.id, error = %e, "verification fetch failed");
            return Observation::Unreachable;
        }
    };
    match fetched.status {
        404 | 410 => return Observation::Gone,
        s if !(200..300).contains(&s) => return Observation::Unreachable,
        _ => {}
    }
    let limits = Limits {
        max_input_bytes: state.config.limits.max_media_bytes as u64,
        ..Limits::default()
    };
    let body = fetched.body;
    let hashed =
        tokio::task::spawn_blocking(move || MediaHasher::new(limits).hash_bytes(&body, false))
            .await;
    let Ok(Ok(m)) = hashed else {
        // Not an image we can decode: the matched image is not what is served.
        return Observation::Different;
    };
    let exact = |t: SignalType| match t {
        SignalType::Md5 => Some(hex::encode(m.digests.md5)),
        SignalType::Sha1 => Some(hex::encode(m.digests.sha1)),
        SignalType::Sha256 => Some(hex::encode(m.digests.sha256)),
        SignalType::Pdq => None,
    };
    let values = [&h.entry_value, &h.hit.hit.query_value];
    let same = if h.entry_signal_type == SignalType::Pdq {
        values
            .iter()
            .any(|v| pdq::Hash256::from_hex(v).is_ok_and(|x| x.distance(&m.pdq) <= h.pdq_radius))
    } else {
        exact(h.entry_signal_type).is_some_and(|d| values.iter().any(|v| **v == d))
    };
    if same {
        Observation::Same
    } else {
        Observation::Different
    }
}

async fn verify_job(state: AppState, job: Job) -> anyhow::Result<()> {
    let p: VerifyPayload = serde_json::from_value(job.payload)?;
    let Some(h) = state.store.followup_hit(p.hit_id).await? else {
        return Ok(());
    };
    if h.verify_round != p.round || !verifiable(&h) {
        return Ok(()); // stale or already decided: nothing to do (idempotent)
    }
    let Some(url) = h
        .hit
        .hit
        .content_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
    else {
        return Ok(());
    };
    if let Err(e) = state.fetcher.check_url(&url) {
        tracing::warn!(hit = h.hit.id, error = %e, "hit URL cannot be fetched; not verified");
        return Ok(());
    }
    let policy = FollowupPolicy::default();
    let obs = observe(&state, &h, &url).await;
    let now = state.clock.now();
    let event = match decide_verification(obs, p.attempt.saturating_sub(1), &policy) {
        VerifyDecision::Passed => Some(HitEvent::VerificationPassed),
        // Still there: a removal claim fails; an unanswered hit just stays overdue.
        VerifyDecision::Failed if h.hit.state == HitState::Acknowledged => {
            Some(HitEvent::VerificationFailed)
        }
        VerifyDecision::Failed => None,
        VerifyDecision::Retry { misses } => {
            state
                .store
                .record_verify_miss(h.hit.id, p.round, i64::from(misses))
                .await?;
            let next = now + Duration::minutes(policy.retry_spacing_minutes);
            enqueue_verify(&state, &h, p.attempt + 1, next).await?;
            None
        }
    };
    tracing::info!(
        hit = h.hit.id,
        round = p.round,
        attempt = p.attempt,
        ?obs,
        "hit verification"
    );
    if let Some(ev) = event {
        let note = format!("observation: {obs:?}, attempt {}", p.attempt);
        match state
            .store
            .apply_hit_event(&Actor::system(), h.hit.id, ev, Some(&note), now)
            .await
        {
            Ok(_) | Err(StoreError::Invalid(_)) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The periodic sweep: deadlines → overdue → escalated; verification jobs for overdue hits
/// with a URL and for every removal claim (enqueueing is idempotent, so a claim whose job was
/// lost between the acknowledgement and the enqueue gets it here).
async fn sweep(state: AppState) -> anyhow::Result<()> {
    let now = state.clock.now();
    let s = state.store.sweep_deadlines(now).await?;
    if !s.overdue.is_empty() || !s.escalated.is_empty() {
        tracing::info!(
            overdue = s.overdue.len(),
            escalated = s.escalated.len(),
            "follow-up sweep"
        );
    }
    for id in &s.overdue {
        if let Some(h) = state.store.followup_hit(*id).await?
            && h.hit.hit.content_url.is_some()
        {
            let round = state.store.start_verify_round(*id).await?;
            let h = FollowupHit {
                verify_round: round,
                ..h
            };
            enqueue_verify(&state, &h, 1, now).await?;
        }
    }
    for h in state.store.undecided_claims(1000).await? {
        enqueue_verify(&state, &h, 1, now).await?;
    }
    Ok(())
}
