//! The analysts' API: reports and items, the classification queue with per-report locks,
//! classification and 4-eyes verification, "add this item's hashes to a list", the evidence
//! endpoint and per-report timelines.
//!
//! Callers are admin tokens for now (actor `admin:<key id>`); the [ui] issue adds user accounts,
//! whose actor (`user:<id>`) fits the same text field everywhere.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use schoon_core::report::{Attributes, Classification, ItemId, ReportId};
use schoon_core::{Category, NewEntry, SignalType, SignalValue, TenantId};
use serde::{Deserialize, Serialize};
use store::reports::{AnalystAction, Item, Report};
use store::{Actor, StoreError};

use crate::app::{AppState, JsonBody};
use crate::auth::AdminCaller;
use crate::problem::Problem;

type ApiResult<T> = Result<T, Problem>;

/// Who is acting: an analyst.
pub struct Analyst(pub Actor);

impl axum::extract::FromRequestParts<AppState> for Analyst {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Problem> {
        let admin = AdminCaller::from_request_parts(parts, state).await?;
        Ok(Analyst(admin.actor()))
    }
}

fn sp(e: StoreError) -> Problem {
    match e {
        StoreError::Conflict(d) => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", d),
        e => e.into(),
    }
}

/// A report with its items.
#[derive(Debug, Serialize)]
pub struct ReportView {
    /// The report.
    pub report: Report,
    /// Its items.
    pub items: Vec<Item>,
}

async fn view(state: &AppState, id: ReportId) -> ApiResult<ReportView> {
    let report = state
        .store
        .report(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("report {id}")))?;
    let items = state.store.report_items(id).await?;
    Ok(ReportView { report, items })
}

/// `GET /api/v1/reports/{id}`.
pub async fn get_report(
    State(state): State<AppState>,
    _a: Analyst,
    Path(id): Path<ReportId>,
) -> ApiResult<Json<ReportView>> {
    Ok(Json(view(&state, id).await?))
}

/// `GET /api/v1/reports/by-reference/{reference}`.
pub async fn get_by_reference(
    State(state): State<AppState>,
    _a: Analyst,
    Path(reference): Path<String>,
) -> ApiResult<Json<ReportView>> {
    let r = state
        .store
        .report_by_reference(&reference)
        .await?
        .ok_or_else(|| Problem::not_found(format!("report {reference}")))?;
    Ok(Json(view(&state, r.id).await?))
}

/// `POST /api/v1/tenants/{tenant_id}/classify/next`: locks the next report to work on.
pub async fn next(
    State(state): State<AppState>,
    a: Analyst,
    Path(tenant_id): Path<TenantId>,
) -> ApiResult<Response> {
    let until = schoon_core::audit::now()
        + chrono::Duration::seconds(state.config.reports.lock_secs.max(1));
    match state
        .store
        .lock_next_report(&a.0, tenant_id, until)
        .await
        .map_err(sp)?
    {
        Some(r) => Ok(Json(view(&state, r.id).await?).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// `POST /api/v1/reports/{id}/lock`: takes or renews the lock (409 if someone else holds it).
pub async fn lock(
    State(state): State<AppState>,
    a: Analyst,
    Path(id): Path<ReportId>,
) -> ApiResult<Json<Report>> {
    let until = schoon_core::audit::now()
        + chrono::Duration::seconds(state.config.reports.lock_secs.max(1));
    Ok(Json(
        state.store.lock_report(&a.0, id, until).await.map_err(sp)?,
    ))
}

/// `DELETE /api/v1/reports/{id}/lock`.
pub async fn unlock(
    State(state): State<AppState>,
    a: Analyst,
    Path(id): Path<ReportId>,
) -> ApiResult<StatusCode> {
    state.store.unlock_report(&a.0, id).await.map_err(sp)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/reports/{id}/refetch`: retries unavailable items (and a failed page fetch).
pub async fn refetch(
    State(state): State<AppState>,
    a: Analyst,
    Path(id): Path<ReportId>,
) -> ApiResult<Response> {
    let r = state.store.refetch_report(&a.0, id).await.map_err(sp)?;
    Ok((StatusCode::ACCEPTED, Json(r)).into_response())
}

/// `POST /api/v1/items/classify` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    /// Items (of one or more reports).
    pub items: Vec<ItemId>,
    /// Verdict.
    pub classification: Classification,
    /// Attributes.
    #[serde(default)]
    pub attributes: Attributes,
}

async fn four_eyes(state: &AppState, items: &[ItemId]) -> ApiResult<bool> {
    let first = items
        .first()
        .ok_or_else(|| Problem::bad_request("`items` is empty"))?;
    let item = state
        .store
        .item(*first)
        .await?
        .ok_or_else(|| Problem::not_found(format!("item {first}")))?;
    Ok(state.store.report_policy(item.tenant_id).await?.four_eyes)
}

/// Classifies items (the caller must hold the report lock or it must be free).
pub async fn classify(
    State(state): State<AppState>,
    a: Analyst,
    JsonBody(req): JsonBody<ClassifyRequest>,
) -> ApiResult<Json<Vec<Item>>> {
    req.attributes.validate().map_err(Problem::bad_request)?;
    let four = four_eyes(&state, &req.items).await?;
    let items = state
        .store
        .analyst_action(
            &a.0,
            &req.items,
            AnalystAction::Classify {
                classification: req.classification,
                attributes: req.attributes,
            },
            four,
        )
        .await
        .map_err(sp)?;
    Ok(Json(items))
}

/// `POST /api/v1/items/verify` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// Items awaiting verification.
    pub items: Vec<ItemId>,
    /// Whether the second analyst agrees.
    pub agree: bool,
}

/// Second-analyst verification (must be a different analyst).
pub async fn verify(
    State(state): State<AppState>,
    a: Analyst,
    JsonBody(req): JsonBody<VerifyRequest>,
) -> ApiResult<Json<Vec<Item>>> {
    let four = four_eyes(&state, &req.items).await?;
    let items = state
        .store
        .analyst_action(
            &a.0,
            &req.items,
            AnalystAction::Verify { agree: req.agree },
            four,
        )
        .await
        .map_err(sp)?;
    Ok(Json(items))
}

/// `POST /api/v1/items/{id}/add-to-list` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddToListRequest {
    /// Target list (a `known` list of the item's tenant).
    pub list_id: schoon_core::ListId,
    /// Include the PDQ hash (default true).
    #[serde(default = "yes")]
    pub pdq: bool,
}

fn yes() -> bool {
    true
}

/// Adds a classified illegal item's hashes to a tenant list, with provenance.
pub async fn add_to_list(
    State(state): State<AppState>,
    a: Analyst,
    Path(id): Path<ItemId>,
    JsonBody(req): JsonBody<AddToListRequest>,
) -> ApiResult<Response> {
    let item = state
        .store
        .item(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("item {id}")))?;
    let category = match item.classification {
        Some(Classification::Baseline) => Category::Baseline,
        Some(Classification::National) => Category::National,
        _ => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "not-illegal",
                "Conflict",
                "only an item classified baseline or national can be added to a list",
            ));
        }
    };
    if item.state != schoon_core::report::ItemState::NoticePending {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "not-agreed",
            "Conflict",
            format!("item is {} (verification pending?)", item.state),
        ));
    }
    let list = state
        .store
        .list(req.list_id)
        .await?
        .filter(|l| l.tenant_id == item.tenant_id)
        .ok_or_else(|| Problem::not_found(format!("list {} of this tenant", req.list_id)))?;
    let report = state
        .store
        .report(item.report_id)
        .await?
        .ok_or_else(|| Problem::not_found("report"))?;
    let source = format!("report {} item {}", report.reference, item.id);
    let mut entries = Vec::new();
    let mut push = |kind: SignalType, hex: &Option<String>| {
        if let Some(v) = hex
            .as_deref()
            .and_then(|h| SignalValue::parse(kind, h).ok())
        {
            entries.push(NewEntry {
                value: v,
                category,
                source: Some(source.clone()),
                assessor: Some(a.0.0.clone()),
            });
        }
    };
    push(SignalType::Md5, &item.md5);
    push(SignalType::Sha1, &item.sha1);
    push(SignalType::Sha256, &item.sha256);
    if req.pdq {
        push(SignalType::Pdq, &item.pdq);
    }
    if entries.is_empty() {
        return Err(Problem::bad_request("the item has no hashes"));
    }
    let summary = state
        .store
        .import_entries(
            &a.0,
            list.id,
            entries,
            serde_json::json!({"from": format!("item:{}", item.id), "report": report.reference}),
        )
        .await
        .map_err(sp)?;
    let _ = state.matchers.refresh(list.tenant_id).await;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"list_id": list.id, "added": summary.added, "duplicates": summary.duplicates})),
    )
        .into_response())
}

/// `GET /api/v1/items/{id}/evidence`: the item's bytes from the vault (audited, never cached).
pub async fn evidence(
    State(state): State<AppState>,
    a: Analyst,
    Path(id): Path<ItemId>,
) -> ApiResult<Response> {
    let item = state
        .store
        .item(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("item {id}")))?;
    if item.evidence_purged_at.is_some() {
        return Err(Problem::new(
            StatusCode::GONE,
            "evidence-purged",
            "Gone",
            "the evidence was purged by the retention policy",
        ));
    }
    let r: vault::EvidenceRef = item
        .evidence_ref
        .as_deref()
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| Problem::not_found("no evidence stored for this item"))?;
    // Audit first: a view that cannot be recorded does not happen.
    state.store.record_evidence_view(&a.0, id).await?;
    let v = state.reports.vault.clone();
    let got = tokio::task::spawn_blocking(move || v.get(&r))
        .await
        .map_err(|_| Problem::internal())?;
    let (bytes, metas) = match got {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(item = id, error = %e, "vault read failed");
            return Err(Problem::new(
                StatusCode::GONE,
                "evidence-unavailable",
                "Gone",
                "the evidence is not in the vault",
            ));
        }
    };
    let ct = metas
        .first()
        .map(|m| m.content_type.clone())
        .unwrap_or_else(|| "application/octet-stream".into());
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&ct).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(resp)
}

/// `GET /api/v1/items/{id}/fetches`: the vault's fetch records (headers, IP, time) of an item.
pub async fn fetches(
    State(state): State<AppState>,
    _a: Analyst,
    Path(id): Path<ItemId>,
) -> ApiResult<Json<Vec<vault::EvidenceMeta>>> {
    let item = state
        .store
        .item(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("item {id}")))?;
    let Some(r) = item
        .evidence_ref
        .as_deref()
        .and_then(|r| r.parse::<vault::EvidenceRef>().ok())
        .filter(|_| item.evidence_purged_at.is_none())
    else {
        return Ok(Json(Vec::new()));
    };
    let v = state.reports.vault.clone();
    let metas = tokio::task::spawn_blocking(move || v.fetches(&r))
        .await
        .map_err(|_| Problem::internal())?
        .unwrap_or_default();
    Ok(Json(metas))
}

/// `GET /api/v1/reports/{id}/timeline`: every recorded change of the report and its items.
pub async fn timeline(
    State(state): State<AppState>,
    _a: Analyst,
    Path(id): Path<ReportId>,
) -> ApiResult<Json<Vec<schoon_core::audit::AuditEvent>>> {
    let v = view(&state, id).await?;
    let mut subjects = vec![format!("report:{id}")];
    subjects.extend(v.items.iter().map(|i| format!("item:{}", i.id)));
    Ok(Json(state.store.audit_for_subjects(&subjects).await?))
}

/// `GET /api/v1/items/{id}/timeline`.
pub async fn item_timeline(
    State(state): State<AppState>,
    _a: Analyst,
    Path(id): Path<ItemId>,
) -> ApiResult<Json<Vec<schoon_core::audit::AuditEvent>>> {
    Ok(Json(
        state
            .store
            .audit_for_subjects(&[format!("item:{id}")])
            .await?,
    ))
}

/// The report routes (intake, analyst API, public form, admin settings).
pub fn routes(json_limit: axum::extract::DefaultBodyLimit) -> axum::Router<AppState> {
    use axum::routing::{get, post, put};

    use crate::reports as r;
    axum::Router::new()
        .route("/report", get(r::form).post(r::form_submit))
        .route("/api/v1/reports", post(r::submit).layer(json_limit))
        .route(
            "/api/v1/tenants/{tenant_id}/reports/csv",
            post(r::upload_csv).layer(axum::extract::DefaultBodyLimit::max(16 << 20)),
        )
        .route("/api/v1/reports/{id}", get(get_report))
        .route(
            "/api/v1/reports/by-reference/{reference}",
            get(get_by_reference),
        )
        .route("/api/v1/reports/{id}/timeline", get(timeline))
        .route("/api/v1/reports/{id}/lock", post(lock).delete(unlock))
        .route("/api/v1/reports/{id}/refetch", post(refetch))
        .route("/api/v1/tenants/{tenant_id}/classify/next", post(next))
        .route("/api/v1/items/classify", post(classify).layer(json_limit))
        .route("/api/v1/items/verify", post(verify).layer(json_limit))
        .route(
            "/api/v1/items/{id}/add-to-list",
            post(add_to_list).layer(json_limit),
        )
        .route("/api/v1/items/{id}/evidence", get(evidence))
        .route("/api/v1/items/{id}/fetches", get(fetches))
        .route("/api/v1/items/{id}/timeline", get(item_timeline))
        .route(
            "/api/admin/organisations/{org_id}/report-partner",
            put(r::set_partner).layer(json_limit),
        )
        .route(
            "/api/admin/tenants/{tenant_id}/report-policy",
            put(r::set_policy).get(r::get_policy).layer(json_limit),
        )
        .route("/api/admin/reports/purge", post(r::purge_now))
}
