//! Cases: the opener (every item in `notice_pending` becomes a case), attribution as a job
//! (`takedown.attribute`), and the analysts' cases API.
//!
//! No case is ever dropped silently: an attribution without a usable hosting-side contact parks
//! the case in `needs_contact` (a queue with counts), and an attribution that keeps failing
//! (RDAP bootstrap unreachable…) is recorded as such on its last attempt, with the same effect.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use schoon_core::TenantId;
use schoon_core::takedown::{CaseId, CaseState};
use serde::{Deserialize, Serialize};
use store::takedown::{
    AttributionOutcome, Case, CaseContacts, CaseFilter, CaseTimeline, NewAttribution, NewCase,
};
use store::{Actor, Job, NewJob, StoreError};

use crate::app::{AppState, JsonBody};
use crate::classify::Analyst;
use crate::problem::{ApiResult, Problem};
use crate::worker::JobRunner;

/// Job kind: attribute one case (payload `{case_id}`).
pub const JOB_ATTRIBUTE: &str = "takedown.attribute";
/// Attempts of an attribution job; the last one records the failure (→ `needs_contact`).
const ATTRIBUTE_ATTEMPTS: i64 = 6;

/// The opener's and the attribution job's audit identity.
pub fn system_actor() -> Actor {
    Actor("system:takedown".into())
}

/// The cases API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/takedown/cases", get(list_cases))
        .route("/api/v1/takedown/cases/{id}", get(case_timeline))
        .route("/api/v1/takedown/cases/{id}/contacts", post(set_contacts))
        .route(
            "/api/v1/takedown/cases/{id}/police-first",
            post(police_first),
        )
        .route("/api/v1/takedown/cases/{id}/release", post(release))
        .route("/api/v1/takedown/cases/{id}/close", post(close))
        .route("/api/v1/takedown/cases/{id}/reattribute", post(reattribute))
        .route("/api/v1/takedown/queues", get(queues))
}

/// Registers the opener tick and the attribution job.
pub fn register(runner: &mut JobRunner) {
    runner.register(JOB_ATTRIBUTE, attribute_job);
    runner.tick("takedown.open", open_tick);
}

// --- opener and attribution ---

#[derive(Debug, Serialize, Deserialize)]
struct AttributePayload {
    case_id: CaseId,
}

/// Enqueues the attribution of a case. The key carries the case's last change, so a case that
/// comes back to `attributing` (police hold released, analyst asks) gets a new job while
/// repeated enqueues for the same state are one job.
pub async fn enqueue_attribute(
    state: &AppState,
    case: &Case,
    run_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    state
        .store
        .enqueue_job(NewJob {
            kind: JOB_ATTRIBUTE.into(),
            payload: serde_json::json!({ "case_id": case.id }),
            run_at,
            max_attempts: ATTRIBUTE_ATTEMPTS,
            idempotency_key: Some(format!(
                "{JOB_ATTRIBUTE}:{}:{}",
                case.id,
                case.updated_at.timestamp_micros()
            )),
        })
        .await?;
    Ok(())
}

/// Opener: items in `notice_pending` without a case → cases → attribution jobs.
async fn open_tick(state: AppState) -> anyhow::Result<()> {
    if !state.takedown.config.enabled {
        return Ok(());
    }
    let now = state.clock.now();
    let items = state
        .store
        .items_without_case(state.takedown.config.open_batch.max(1))
        .await?;
    for (tenant_id, report_id, item_id, url, page_url) in items {
        let case = state
            .store
            .open_case(
                &system_actor(),
                NewCase {
                    tenant_id,
                    report_id,
                    item_id,
                    url,
                    page_url,
                    police_first: false,
                },
                now,
            )
            .await?;
        tracing::info!(case = case.id, item = item_id, "takedown case opened");
        if case.state == CaseState::Attributing {
            enqueue_attribute(&state, &case, now).await?;
        }
    }
    Ok(())
}

/// Attributes a case's URL now and records it (history row, contacts, state).
pub async fn attribute_case(
    state: &AppState,
    case: &Case,
) -> anyhow::Result<(Case, AttributionOutcome)> {
    let attributor = state.takedown.attributor(state).await?;
    let a = attributor.attribute(&case.url).await?;
    let tenant_country = state
        .store
        .tenant(case.tenant_id)
        .await?
        .and_then(|t| t.country);
    let new = new_attribution(&a, tenant_country);
    let (case, outcome) = state
        .store
        .record_attribution(&system_actor(), case.id, new)
        .await?;
    tracing::info!(
        case = case.id,
        hoster = ?case.contacts.hoster_org,
        state = %case.state,
        ?outcome,
        "case attributed"
    );
    Ok((case, outcome))
}

/// Maps an attribution to what the case stores. `ip` is the first address the site resolved
/// to (what a re-check's fetch is compared with); `asn` is the hoster's AS (the origin's when a
/// rule names the origin behind a CDN).
pub fn new_attribution(
    a: &attribution::Attribution,
    tenant_country: Option<String>,
) -> NewAttribution {
    use attribution::IpRole;
    let behind_origin = a.ips.iter().any(|i| i.role == IpRole::Origin);
    let hosting_role = if behind_origin {
        IpRole::Origin
    } else {
        IpRole::Resolved
    };
    let hosting_ip = a
        .ips
        .iter()
        .find(|i| i.role == hosting_role && i.asn.is_some())
        .or_else(|| a.ips.iter().find(|i| i.role == hosting_role));
    let resolved = a.ips.iter().find(|i| i.role == IpRole::Resolved);
    let usable = |p: &attribution::Party| p.is_usable().then(|| p.abuse_email.clone()).flatten();
    let hoster = a.hoster.as_ref();
    let contacts = CaseContacts {
        hoster_org: hoster.and_then(|h| h.organisation.clone()),
        hoster_email: hoster.and_then(usable),
        hoster_country: hoster
            .and_then(|h| h.country.clone())
            .or_else(|| hosting_ip.and_then(|i| i.country.clone())),
        asn: hosting_ip.and_then(|i| i.asn),
        ip: resolved.or(hosting_ip).map(|i| i.ip.to_string()),
        cdn_org: a.cdn.as_ref().and_then(|c| c.organisation.clone()),
        cdn_email: a.cdn.as_ref().and_then(usable),
        registrar_name: a.registrar.as_ref().and_then(|r| r.name.clone()),
        registrar_email: a
            .registrar
            .as_ref()
            .and_then(|r| r.abuse_email.clone())
            .filter(|e| e.contains('@')),
        site_owner_email: a.site_owner.as_ref().and_then(usable),
    };
    // Only gaps that leave nobody on the hosting side to notify park the case: a missing
    // registrar address must not hold back the hoster's notice (the registrar rung is skipped
    // and the gap stays visible in the stored attribution).
    let needs_contact = if a.hosting_side_reachable() {
        Vec::new()
    } else {
        a.needs_contact
            .iter()
            .map(|n| format!("{}:{}", snake(&n.role), snake(&n.reason)))
            .collect()
    };
    NewAttribution {
        contacts,
        host: a.names.host.clone(),
        registrable_domain: a.names.registrable_domain.clone(),
        needs_contact,
        raw: serde_json::to_value(a).unwrap_or(serde_json::Value::Null),
        made_at: a.made_at,
        tenant_country,
    }
}

/// The serde (snake_case) name of a unit enum value.
fn snake<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".into(),
    }
}

/// The attribution job. A case no longer in `attributing` is left alone (idempotent).
async fn attribute_job(state: AppState, job: Job) -> anyhow::Result<()> {
    let p: AttributePayload = serde_json::from_value(job.payload)?;
    let Some(case) = state.store.case(p.case_id).await? else {
        return Ok(());
    };
    if case.state != CaseState::Attributing {
        return Ok(());
    }
    match attribute_case(&state, &case).await {
        Ok(_) => Ok(()),
        Err(e) if job.attempts >= job.max_attempts => {
            // Out of retries: record that attribution failed, so the case lands in the
            // needs-contact queue where an analyst sees it.
            tracing::warn!(case = case.id, error = %e, "attribution failed for good");
            let host = url::Url::parse(&case.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            let failed = NewAttribution {
                contacts: CaseContacts::default(),
                host,
                registrable_domain: case.registrable_domain.clone(),
                needs_contact: vec!["hoster:attribution_failed".into()],
                raw: serde_json::json!({ "error": format!("{e:#}") }),
                made_at: state.clock.now(),
                tenant_country: None,
            };
            state
                .store
                .record_attribution(&system_actor(), case.id, failed)
                .await?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

// --- API ---

/// Who may use the cases API, and which tenant it sees. Admin tokens are instance-wide; a
/// `tenant` query parameter narrows them to one tenant (cases of another tenant are then 404).
/// Tenant-bound user sessions ([ui]) plug in here.
struct Scope {
    actor: Actor,
    tenant: Option<TenantId>,
}

impl Scope {
    fn new(a: Analyst, q: &TenantQuery) -> Scope {
        Scope {
            actor: a.0,
            tenant: q.tenant,
        }
    }

    fn list_tenant(&self) -> ApiResult<TenantId> {
        self.tenant
            .ok_or_else(|| Problem::bad_request("the `tenant` query parameter is required"))
    }

    async fn case(&self, state: &AppState, id: CaseId) -> ApiResult<Case> {
        match state.store.case(id).await? {
            Some(c) if self.tenant.is_none_or(|t| t == c.tenant_id) => Ok(c),
            _ => Err(Problem::not_found(format!("case {id} not found"))),
        }
    }
}

/// The tenant a request acts in.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    /// Tenant id (required for lists; on a single case it must match the case's tenant).
    #[param(value_type = Option<i64>)]
    pub tenant: Option<TenantId>,
}

/// Query of the case list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CasesQuery {
    /// Tenant id (required).
    #[param(value_type = Option<i64>)]
    pub tenant: Option<TenantId>,
    /// Only cases in this state (`needs_contact`, `monitoring`…).
    pub state: Option<String>,
    /// Page: cases with a larger id.
    #[param(value_type = Option<i64>)]
    pub after: Option<CaseId>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<u32>,
}

fn store_problem(e: StoreError) -> Problem {
    match e {
        StoreError::Invalid(msg) => Problem::new(
            axum::http::StatusCode::CONFLICT,
            "invalid-transition",
            "Not allowed in the case's current state",
            msg,
        ),
        StoreError::Conflict(msg) => Problem::new(
            axum::http::StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            msg,
        ),
        other => other.into(),
    }
}

/// `GET /api/v1/takedown/cases?tenant=&state=&after=&limit=`.
#[utoipa::path(get, path = "/api/v1/takedown/cases", tag = "takedown",
    summary = "A tenant's cases, by id", params(CasesQuery),
    responses((status = 200, description = "cases with their contacts and state", body = Vec<Object>),
              (status = 400, description = "`tenant` missing, or an unknown `state`")),
    security(("bearer" = []), ("basic" = [])))]
async fn list_cases(
    State(state): State<AppState>,
    a: Analyst,
    Query(q): Query<CasesQuery>,
) -> ApiResult<Json<Vec<Case>>> {
    let scope = Scope::new(a, &TenantQuery { tenant: q.tenant });
    let st = q
        .state
        .as_deref()
        .map(str::parse::<CaseState>)
        .transpose()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let f = CaseFilter {
        state: st,
        after_id: q.after.unwrap_or(0),
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    Ok(Json(state.store.cases(scope.list_tenant()?, f).await?))
}

/// `GET /api/v1/takedown/cases/{id}`: the case with events, attributions, notices,
/// observations and responses.
#[utoipa::path(get, path = "/api/v1/takedown/cases/{id}", tag = "takedown",
    summary = "A case with its timeline",
    description = "The case with its events, attributions, notices, observations and responses.",
    params(("id" = i64, Path, description = "Case id"), TenantQuery),
    responses((status = 200, description = "the case timeline", body = Object),
              (status = 404, description = "no such case (or not of `tenant`)")),
    security(("bearer" = []), ("basic" = [])))]
async fn case_timeline(
    State(state): State<AppState>,
    a: Analyst,
    Path(id): Path<CaseId>,
    Query(q): Query<TenantQuery>,
) -> ApiResult<Json<CaseTimeline>> {
    let scope = Scope::new(a, &q);
    scope.case(&state, id).await?;
    let t = state
        .store
        .case_timeline(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("case {id} not found")))?;
    Ok(Json(t))
}

/// Body of a manual contact fix (replaces the case's current contacts).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactsIn {
    /// Hosting organisation.
    pub hoster_org: Option<String>,
    /// Hoster abuse address.
    pub hoster_email: Option<String>,
    /// Hoster country (ISO code).
    pub hoster_country: Option<String>,
    /// CDN / proxy organisation.
    pub cdn_org: Option<String>,
    /// CDN abuse address.
    pub cdn_email: Option<String>,
    /// Registrar.
    pub registrar_name: Option<String>,
    /// Registrar abuse address.
    pub registrar_email: Option<String>,
    /// Site owner address.
    pub site_owner_email: Option<String>,
}

fn check_email(what: &str, v: &Option<String>) -> ApiResult<()> {
    if let Some(e) = v {
        let ok = e.len() <= 254
            && !e.chars().any(|c| c.is_whitespace() || c.is_control())
            && e.split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'));
        if !ok {
            return Err(Problem::bad_request(format!(
                "{what} must be an e-mail address"
            )));
        }
    }
    Ok(())
}

/// `POST /api/v1/takedown/cases/{id}/contacts`: an analyst's contact fix (resolves
/// `needs_contact`).
#[utoipa::path(post, path = "/api/v1/takedown/cases/{id}/contacts", tag = "takedown",
    summary = "Set a case's contacts by hand",
    description = "Replaces the case's contacts (the AS and IP stay); resolves `needs_contact`. A `hoster_email` or `cdn_email` is required.",
    params(("id" = i64, Path, description = "Case id"), TenantQuery),
    request_body = ContactsIn,
    responses((status = 200, description = "the case afterwards", body = Object),
              (status = 400, description = "an address is not an e-mail address, or neither hoster_email nor cdn_email is given"),
              (status = 404, description = "no such case (or not of `tenant`)"),
              (status = 409, description = "not allowed in the case's current state"),
              (status = 422, description = "the body does not match the schema")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn set_contacts(
    State(state): State<AppState>,
    a: Analyst,
    Path(id): Path<CaseId>,
    Query(q): Query<TenantQuery>,
    JsonBody(b): JsonBody<ContactsIn>,
) -> ApiResult<Json<Case>> {
    let scope = Scope::new(a, &q);
    let case = scope.case(&state, id).await?;
    for (what, v) in [
        ("hoster_email", &b.hoster_email),
        ("cdn_email", &b.cdn_email),
        ("registrar_email", &b.registrar_email),
        ("site_owner_email", &b.site_owner_email),
    ] {
        check_email(what, v)?;
    }
    if b.hoster_email.is_none() && b.cdn_email.is_none() {
        return Err(Problem::bad_request(
            "a hoster_email or cdn_email is needed to notify anyone",
        ));
    }
    let contacts = CaseContacts {
        hoster_org: b.hoster_org,
        hoster_email: b.hoster_email,
        hoster_country: b.hoster_country.map(|c| c.to_ascii_uppercase()),
        asn: case.contacts.asn,
        ip: case.contacts.ip.clone(),
        cdn_org: b.cdn_org,
        cdn_email: b.cdn_email,
        registrar_name: b.registrar_name,
        registrar_email: b.registrar_email,
        site_owner_email: b.site_owner_email,
    };
    Ok(Json(
        state
            .store
            .set_contacts(&scope.actor, id, contacts, state.clock.now())
            .await
            .map_err(store_problem)?,
    ))
}

/// `POST /api/v1/takedown/cases/{id}/police-first`: hold all notices for the police.
#[utoipa::path(post, path = "/api/v1/takedown/cases/{id}/police-first", tag = "takedown",
    summary = "Hold all notices of a case for the police",
    params(("id" = i64, Path, description = "Case id"), TenantQuery),
    responses((status = 200, description = "the case afterwards (`police_hold`)", body = Object),
              (status = 404, description = "no such case (or not of `tenant`)"),
              (status = 409, description = "not allowed in the case's current state")),
    security(("bearer" = []), ("basic" = [])))]
async fn police_first(
    State(state): State<AppState>,
    a: Analyst,
    Path(id): Path<CaseId>,
    Query(q): Query<TenantQuery>,
) -> ApiResult<Json<Case>> {
    let scope = Scope::new(a, &q);
    scope.case(&state, id).await?;
    Ok(Json(
        state
            .store
            .set_police_first(&scope.actor, id, state.clock.now())
            .await
            .map_err(store_problem)?,
    ))
}

/// `POST /api/v1/takedown/cases/{id}/release`: the police released the case; it is attributed
/// afresh and held notices go out.
#[utoipa::path(post, path = "/api/v1/takedown/cases/{id}/release", tag = "takedown",
    summary = "Release a police hold",
    description = "The case is attributed afresh and its held notices go out.",
    params(("id" = i64, Path, description = "Case id"), TenantQuery),
    responses((status = 200, description = "the case afterwards", body = Object),
              (status = 404, description = "no such case (or not of `tenant`)"),
              (status = 409, description = "the case is not on police hold")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn release(
    State(state): State<AppState>,
    a: Analyst,
    Path(id): Path<CaseId>,
    Query(q): Query<TenantQuery>,
) -> ApiResult<Json<Case>> {
    let scope = Scope::new(a, &q);
    scope.case(&state, id).await?;
    let now = state.clock.now();
    let case = state
        .store
        .release_police_hold(&scope.actor, id, now)
        .await
        .map_err(store_problem)?;
    state
        .store
        .release_held_notices(&scope.actor, id, now)
        .await?;
    if case.state == CaseState::Attributing {
        enqueue_attribute(&state, &case, now).await?;
    }
    Ok(Json(case))
}

/// Body of a close.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CloseIn {
    /// Why (required).
    pub reason: String,
}

/// `POST /api/v1/takedown/cases/{id}/close`.
#[utoipa::path(post, path = "/api/v1/takedown/cases/{id}/close", tag = "takedown",
    summary = "Close a case (with a reason)",
    params(("id" = i64, Path, description = "Case id"), TenantQuery),
    request_body = CloseIn,
    responses((status = 200, description = "the case afterwards (`closed`)", body = Object),
              (status = 400, description = "no reason, or longer than 2000 characters"),
              (status = 404, description = "no such case (or not of `tenant`)"),
              (status = 409, description = "not allowed in the case's current state"),
              (status = 422, description = "the body does not match the schema")),
    security(("bearer" = []), ("basic" = [])))]
async fn close(
    State(state): State<AppState>,
    a: Analyst,
    Path(id): Path<CaseId>,
    Query(q): Query<TenantQuery>,
    JsonBody(b): JsonBody<CloseIn>,
) -> ApiResult<Json<Case>> {
    if b.reason.trim().is_empty() || b.reason.chars().count() > 2000 {
        return Err(Problem::bad_request(
            "a close needs a reason (at most 2000 characters)",
        ));
    }
    let scope = Scope::new(a, &q);
    scope.case(&state, id).await?;
    Ok(Json(
        state
            .store
            .close_case(&scope.actor, id, b.reason.trim(), state.clock.now())
            .await
            .map_err(store_problem)?,
    ))
}

/// What a re-attribution did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReattributeOut {
    /// The case afterwards.
    #[schema(value_type = Object)]
    pub case: Case,
    /// `monitoring`, `needs_contact`, `hoster_changed`, `moved_abroad` or `unchanged`.
    #[schema(value_type = String)]
    pub outcome: AttributionOutcome,
}

/// `POST /api/v1/takedown/cases/{id}/reattribute`: attribute now (after a rule change, or to
/// retry a `needs_contact` case).
#[utoipa::path(post, path = "/api/v1/takedown/cases/{id}/reattribute", tag = "takedown",
    summary = "Attribute a case again now",
    description = "After a rule change, or to retry a `needs_contact` case.",
    params(("id" = i64, Path, description = "Case id"), TenantQuery),
    responses((status = 200, description = "the case afterwards and what changed", body = ReattributeOut),
              (status = 404, description = "no such case (or not of `tenant`)"),
              (status = 409, description = "a closed, forwarded or police-hold case is not attributed"),
              (status = 503, description = "the attribution failed (RDAP, DNS… unreachable)")),
    security(("bearer" = []), ("basic" = [])))]
async fn reattribute(
    State(state): State<AppState>,
    a: Analyst,
    Path(id): Path<CaseId>,
    Query(q): Query<TenantQuery>,
) -> ApiResult<Json<ReattributeOut>> {
    let scope = Scope::new(a, &q);
    let case = scope.case(&state, id).await?;
    if matches!(
        case.state,
        CaseState::Closed | CaseState::Forwarded | CaseState::PoliceHold
    ) {
        return Err(store_problem(StoreError::Invalid(format!(
            "a {} case is not attributed",
            case.state
        ))));
    }
    let (case, outcome) = attribute_case(&state, &case).await.map_err(|e| {
        tracing::warn!(case = id, error = %e, "re-attribution failed");
        Problem::unavailable(format!("attribution failed: {e:#}"))
    })?;
    Ok(Json(ReattributeOut { case, outcome }))
}

/// Case counts of a tenant.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueuesOut {
    /// Tenant.
    #[schema(value_type = i64)]
    pub tenant: TenantId,
    /// Cases per state (every state listed, zero included).
    pub states: std::collections::BTreeMap<String, u64>,
}

/// `GET /api/v1/takedown/queues?tenant=`: cases per state (`needs_contact` is the queue an
/// analyst must empty).
#[utoipa::path(get, path = "/api/v1/takedown/queues", tag = "takedown",
    summary = "Case counts per state",
    description = "`needs_contact` is the queue an analyst must empty.",
    params(TenantQuery),
    responses((status = 200, description = "counts per state, every state listed", body = QueuesOut),
              (status = 400, description = "`tenant` missing")),
    security(("bearer" = []), ("basic" = [])))]
async fn queues(
    State(state): State<AppState>,
    a: Analyst,
    Query(q): Query<TenantQuery>,
) -> ApiResult<Json<QueuesOut>> {
    let scope = Scope::new(a, &q);
    let tenant = scope.list_tenant()?;
    let mut states: std::collections::BTreeMap<String, u64> = CaseState::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    for (s, n) in state.store.case_counts(tenant).await? {
        states.insert(s.as_str().to_string(), n);
    }
    Ok(Json(QueuesOut { tenant, states }))
}
