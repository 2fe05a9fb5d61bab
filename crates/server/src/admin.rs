//! The admin API (`/api/admin/…`, admin token): tenants, organisations, API keys, hash lists,
//! uploads, revocations, hits and the audit log. Every change is audited by the store; list
//! changes are applied to this node's matcher before the call returns.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use schoon_core::policy::{DEFAULT_HIT_DEADLINE_HOURS, DEFAULT_MIN_QUALITY, DEFAULT_PDQ_RADIUS};
use schoon_core::{
    ApiKey, Category, Entry, HashList, Hit, ListKind, Organisation, SignalType, SignalValue,
    Tenant, TenantId,
};
use serde::Deserialize;
use store::{ListUpdate, NewList, NewTenant, RevokeSelector};
use utoipa::ToSchema;

use crate::app::{AppState, JsonBody};
use crate::auth::AdminCaller;
use crate::listfile::ParseOptions;
use crate::ops::{self, CreatedKey, ImportReport};
use crate::problem::{ApiResult, ItemError, Problem};

async fn applied(state: &AppState, tenant: TenantId) -> ApiResult<()> {
    state.matchers.refresh(tenant).await?;
    state
        .metrics
        .entries
        .set(state.matchers.total_entries() as i64);
    Ok(())
}

async fn tenant_of_list(state: &AppState, list_id: i64) -> ApiResult<HashList> {
    state
        .store
        .list(list_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("list {list_id} not found")))
}

/// A tenant to create.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TenantIn {
    /// Unique short name.
    pub name: String,
    /// ISO country code.
    pub country: Option<String>,
    /// Hours a provider has to act on a hit (default 24).
    pub hit_deadline_hours: Option<i64>,
}

/// Create a tenant.
#[utoipa::path(post, path = "/api/admin/tenants", request_body = TenantIn, responses((status = 201)), security(("bearer" = [])))]
pub async fn create_tenant(
    State(state): State<AppState>,
    admin: AdminCaller,
    JsonBody(t): JsonBody<TenantIn>,
) -> ApiResult<(StatusCode, Json<Tenant>)> {
    let t = state
        .store
        .create_tenant(
            &admin.actor(),
            NewTenant {
                name: t.name,
                country: t.country,
                hit_deadline_hours: t.hit_deadline_hours.unwrap_or(DEFAULT_HIT_DEADLINE_HOURS),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// List tenants.
#[utoipa::path(get, path = "/api/admin/tenants", responses((status = 200)), security(("bearer" = [])))]
pub async fn tenants(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> ApiResult<Json<Vec<Tenant>>> {
    Ok(Json(state.store.tenants().await?))
}

/// A name.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NameIn {
    /// The name.
    pub name: String,
}

/// Create an organisation.
#[utoipa::path(post, path = "/api/admin/tenants/{tenant_id}/organisations", request_body = NameIn, responses((status = 201)), security(("bearer" = [])))]
pub async fn create_org(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(tenant_id): Path<i64>,
    JsonBody(o): JsonBody<NameIn>,
) -> ApiResult<(StatusCode, Json<Organisation>)> {
    let org = state
        .store
        .create_org(&admin.actor(), tenant_id, &o.name)
        .await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// List a tenant's organisations.
#[utoipa::path(get, path = "/api/admin/tenants/{tenant_id}/organisations", responses((status = 200)), security(("bearer" = [])))]
pub async fn orgs(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(tenant_id): Path<i64>,
) -> ApiResult<Json<Vec<Organisation>>> {
    Ok(Json(state.store.orgs(tenant_id).await?))
}

/// A key label.
#[derive(Debug, Deserialize, ToSchema)]
pub struct KeyIn {
    /// Free-text label.
    pub label: String,
}

/// Create an organisation's check key (the secret is in this answer only).
#[utoipa::path(post, path = "/api/admin/organisations/{org_id}/keys", request_body = KeyIn, responses((status = 201, body = CreatedKey)), security(("bearer" = [])))]
pub async fn create_key(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(org_id): Path<i64>,
    JsonBody(k): JsonBody<KeyIn>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let created =
        ops::create_check_key(state.store.as_ref(), &admin.actor(), org_id, &k.label).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// List a tenant's keys (never their secrets).
#[utoipa::path(get, path = "/api/admin/tenants/{tenant_id}/keys", responses((status = 200)), security(("bearer" = [])))]
pub async fn keys(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(tenant_id): Path<i64>,
) -> ApiResult<Json<Vec<ApiKey>>> {
    Ok(Json(state.store.api_keys(Some(tenant_id)).await?))
}

/// A reason.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReasonIn {
    /// Why.
    pub reason: String,
}

/// Revoke a key.
#[utoipa::path(post, path = "/api/admin/keys/{key_id}/revoke", request_body = ReasonIn, responses((status = 200)), security(("bearer" = [])))]
pub async fn revoke_key(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(key_id): Path<String>,
    JsonBody(r): JsonBody<ReasonIn>,
) -> ApiResult<Json<ApiKey>> {
    if r.reason.trim().is_empty() {
        return Err(Problem::bad_request("a revocation needs a reason"));
    }
    let key = state
        .store
        .revoke_api_key(&admin.actor(), &key_id, &r.reason)
        .await?;
    state.auth.invalidate(&key_id);
    Ok(Json(key))
}

/// A list to create.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ListIn {
    /// Name (unique per tenant).
    pub name: String,
    /// `known` or `allow`.
    #[schema(value_type = String)]
    pub kind: ListKind,
    /// PDQ radius (default 31).
    pub pdq_radius: Option<u32>,
    /// Minimum PDQ quality (default 50).
    pub min_quality: Option<u32>,
}

/// Create a hash list.
#[utoipa::path(post, path = "/api/admin/tenants/{tenant_id}/lists", request_body = ListIn, responses((status = 201)), security(("bearer" = [])))]
pub async fn create_list(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(tenant_id): Path<i64>,
    JsonBody(l): JsonBody<ListIn>,
) -> ApiResult<(StatusCode, Json<HashList>)> {
    let list = state
        .store
        .create_list(
            &admin.actor(),
            NewList {
                tenant_id,
                name: l.name,
                kind: l.kind,
                pdq_radius: l.pdq_radius.unwrap_or(DEFAULT_PDQ_RADIUS),
                min_quality: l.min_quality.unwrap_or(DEFAULT_MIN_QUALITY),
            },
        )
        .await?;
    applied(&state, tenant_id).await?;
    Ok((StatusCode::CREATED, Json(list)))
}

/// List a tenant's hash lists.
#[utoipa::path(get, path = "/api/admin/tenants/{tenant_id}/lists", responses((status = 200)), security(("bearer" = [])))]
pub async fn lists(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(tenant_id): Path<i64>,
) -> ApiResult<Json<Vec<HashList>>> {
    Ok(Json(state.store.lists(tenant_id).await?))
}

/// New list settings.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ListPatch {
    /// PDQ radius.
    pub pdq_radius: Option<u32>,
    /// Minimum PDQ quality.
    pub min_quality: Option<u32>,
}

/// Change a list's radius or minimum quality.
#[utoipa::path(patch, path = "/api/admin/lists/{list_id}", request_body = ListPatch, responses((status = 200)), security(("bearer" = [])))]
pub async fn update_list(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(list_id): Path<i64>,
    JsonBody(p): JsonBody<ListPatch>,
) -> ApiResult<Json<HashList>> {
    let list = state
        .store
        .update_list(
            &admin.actor(),
            list_id,
            ListUpdate {
                pdq_radius: p.pdq_radius,
                min_quality: p.min_quality,
            },
        )
        .await?;
    applied(&state, list.tenant_id).await?;
    Ok(Json(list))
}

/// Upload options.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UploadParams {
    /// Signal type of a plain one-hash-per-line file.
    #[serde(rename = "type")]
    pub signal_type: Option<String>,
    /// Category for rows without one (default baseline).
    pub category: Option<String>,
    /// Provenance: source.
    pub source: Option<String>,
    /// Provenance: assessor.
    pub assessor: Option<String>,
    /// File name, for the audit log.
    pub filename: Option<String>,
}

/// Upload a list file (plain hex lines, signal_type/signal CSV, or md5/sha1/… column CSV).
/// All or nothing: any bad line → 400 with every bad line numbered, nothing imported.
#[utoipa::path(post, path = "/api/admin/lists/{list_id}/entries", params(UploadParams),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 200, body = ImportReport), (status = 400, description = "bad lines (problem+json with `errors[].line`)")),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(list_id): Path<i64>,
    Query(p): Query<UploadParams>,
    body: Bytes,
) -> ApiResult<Json<ImportReport>> {
    let list = tenant_of_list(&state, list_id).await?;
    let signal_type = p
        .signal_type
        .as_deref()
        .map(str::parse::<SignalType>)
        .transpose()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let category = p
        .category
        .as_deref()
        .map(str::parse::<Category>)
        .transpose()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let opts = ParseOptions {
        signal_type,
        category,
        source: p.source,
        assessor: p.assessor,
    };
    let label = p.filename.unwrap_or_else(|| "upload".into());
    let report = ops::import_list_file(
        state.store.as_ref(),
        &admin.actor(),
        list_id,
        &body,
        &opts,
        &label,
    )
    .await?;
    applied(&state, list.tenant_id).await?;
    Ok(Json(report))
}

/// A value to revoke.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ValueIn {
    /// Signal type.
    #[serde(rename = "type")]
    pub signal_type: String,
    /// Hex value.
    pub value: String,
}

/// Entries to revoke.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeIn {
    /// By entry id.
    #[serde(default)]
    pub entry_ids: Vec<i64>,
    /// By value.
    #[serde(default)]
    pub values: Vec<ValueIn>,
    /// Why (required; recorded and shown to everyone who matched the entry).
    pub reason: String,
}

/// The ids revoked.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct RevokeOut {
    /// Revoked entry ids.
    pub revoked: Vec<i64>,
}

/// Revoke entries of a list, with a reason.
#[utoipa::path(post, path = "/api/admin/lists/{list_id}/revoke", request_body = RevokeIn, responses((status = 200, body = RevokeOut)), security(("bearer" = [])))]
pub async fn revoke_entries(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(list_id): Path<i64>,
    JsonBody(r): JsonBody<RevokeIn>,
) -> ApiResult<Json<RevokeOut>> {
    let list = tenant_of_list(&state, list_id).await?;
    let which = match (r.entry_ids.is_empty(), r.values.is_empty()) {
        (false, true) => RevokeSelector::Ids(r.entry_ids),
        (true, false) => {
            let mut errors = Vec::new();
            let mut values = Vec::new();
            for (i, v) in r.values.iter().enumerate() {
                match v
                    .signal_type
                    .parse::<SignalType>()
                    .and_then(|t| SignalValue::parse(t, &v.value))
                {
                    Ok(v) => values.push(v),
                    Err(e) => errors.push(ItemError {
                        index: Some(i),
                        line: None,
                        detail: e.to_string(),
                    }),
                }
            }
            if !errors.is_empty() {
                return Err(
                    Problem::bad_request("invalid values; nothing was revoked").with_errors(errors)
                );
            }
            RevokeSelector::Values(values)
        }
        _ => return Err(Problem::bad_request("give either `entry_ids` or `values`")),
    };
    let revoked = state
        .store
        .revoke_entries(&admin.actor(), list_id, which, &r.reason)
        .await?;
    applied(&state, list.tenant_id).await?;
    Ok(Json(RevokeOut { revoked }))
}

/// Paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PageParams {
    /// Return records with an id above this.
    pub after: Option<i64>,
    /// At most this many (default 100, max 10,000).
    pub limit: Option<u32>,
    /// Include revoked entries.
    pub include_revoked: Option<bool>,
    /// Only this organisation's hits.
    pub org: Option<i64>,
}

fn limit(p: &PageParams) -> u32 {
    p.limit.unwrap_or(100).clamp(1, 10_000)
}

/// A page of a list's entries.
#[utoipa::path(get, path = "/api/admin/lists/{list_id}/entries", params(PageParams), responses((status = 200)), security(("bearer" = [])))]
pub async fn entries(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(list_id): Path<i64>,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Vec<Entry>>> {
    tenant_of_list(&state, list_id).await?;
    Ok(Json(
        state
            .store
            .entries(
                list_id,
                p.include_revoked.unwrap_or(false),
                p.after.unwrap_or(0),
                limit(&p),
            )
            .await?,
    ))
}

/// A tenant's recent hits.
#[utoipa::path(get, path = "/api/admin/tenants/{tenant_id}/hits", params(PageParams), responses((status = 200)), security(("bearer" = [])))]
pub async fn hits(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(tenant_id): Path<i64>,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Vec<Hit>>> {
    Ok(Json(state.store.hits(tenant_id, p.org, limit(&p)).await?))
}

/// A page of the audit log.
#[utoipa::path(get, path = "/api/admin/audit", params(PageParams), responses((status = 200)), security(("bearer" = [])))]
pub async fn audit(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Vec<schoon_core::audit::AuditEvent>>> {
    Ok(Json(
        state
            .store
            .audit_events(p.after.unwrap_or(0), limit(&p))
            .await?,
    ))
}

/// Verification result.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct VerifyOut {
    /// Events checked.
    pub events: u64,
    /// Always true (a broken chain is a 500 problem naming the event).
    pub intact: bool,
}

/// Re-compute the audit chain.
#[utoipa::path(get, path = "/api/admin/audit/verify", responses((status = 200, body = VerifyOut)), security(("bearer" = [])))]
pub async fn audit_verify(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> ApiResult<Json<VerifyOut>> {
    match state.store.verify_audit_chain().await {
        Ok(events) => Ok(Json(VerifyOut {
            events,
            intact: true,
        })),
        Err(store::StoreError::Corrupt(msg)) => Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "audit-chain-broken",
            "Audit chain broken",
            msg,
        )),
        Err(e) => Err(e.into()),
    }
}
