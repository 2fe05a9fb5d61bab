//! The regulator module ([monitor] parts 3 and 4): binding removal orders with signed delivery
//! proof, the provider's signed-link access, penalties, appeal, and the public register.
//!
//! **Officer API** (admin token — the instance's highest role; the regulator's officers are the
//! administrators of the instance that serves the authority), all under
//! `/api/v1/regulator/tenants/{tenant}/…`; an order of another tenant is `404`.
//!
//! **Signatures.** The server holds one Ed25519 key (`<data_dir>/regulator-order.key`, 32 bytes
//! hex, generated on first use with mode 0600; the public key is served at
//! `/api/v1/regulator/public-key`). At issue it signs the 32 raw bytes of the SHA-256 of the
//! order's canonical JSON ([`schoon_core::order::OrderDocument::canonical_json`]); anyone with
//! the public key can check an order they received. The delivery proof is a second signature
//! over `schoon-order-delivery/1|<sha256>|<channel>|<RFC 3339 time>`, and the provider link
//! carries a signature over `schoon-order-link/1|<reference>` (checked before any look-up, so a
//! bad link never reveals whether a reference exists).
//!
//! **Delivery.** Always through the API (the signed link: the provider's first read is the
//! proof), and by e-mail when `[takedown.mail]` has an SMTP relay and a `from` address (a plain
//! text mail with the canonical JSON attached; the relay's acceptance is the proof). The
//! deadline runs from the first proven delivery.
//!
//! **Compliance** is recorded by the officer, or by the sweep tick when every item of an order
//! came from a takedown case that check-online verified offline.
//!
//! **The officer's queue**: takedown cases escalated by the ladder and hits still overdue after
//! the follow-up grace period. Each is open until an officer takes it (`…/pick-up`, or by
//! opening an order from it); the first pick-up (time, officer) stands and is audited.
//!
//! **Evidence package** (`…/orders/{id}/evidence`): the order, its signed document, delivery
//! proof and history, and the audit events about it, pinned to the audit-chain head so that
//! `schoon audit verify` later shows they are still in the unbroken chain.

use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, SubsecRound, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use schoon_core::TenantId;
use schoon_core::order::{
    AppealDecision, OrderDeadline, OrderEvent, OrderState, PenaltyTerms, ProviderContact,
    RegisterEntry, register_csv,
};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use store::orders::{
    EscalationSource, IssueRecord, NewOrder, Order, OrderId, RegulatorEscalation, StoredItem,
};
use store::{Actor, StoreError};

use crate::app::{AppState, JsonBody};
use crate::auth::AdminCaller;
use crate::problem::{ApiResult, Problem};
use crate::worker::JobRunner;

/// File name of the order-signing key in the data directory.
pub const KEY_FILE: &str = "regulator-order.key";

/// Longest reference accepted.
const MAX_REFERENCE: usize = 64;

/// The routes (officer API, provider links, public register).
pub fn routes() -> Router<AppState> {
    let t = "/api/v1/regulator/tenants/{tenant}";
    Router::new()
        .route("/api/v1/regulator/public-key", get(public_key))
        .route(&format!("{t}/escalations"), get(escalations))
        .route(
            &format!("{t}/escalations/{{id}}/pick-up"),
            post(pick_up_case),
        )
        .route(&format!("{t}/overdue-hits"), get(overdue_hits))
        .route(
            &format!("{t}/overdue-hits/{{id}}/pick-up"),
            post(pick_up_hit),
        )
        .route(&format!("{t}/orders"), get(list_orders).post(create_order))
        .route(&format!("{t}/orders/{{id}}"), get(get_order))
        .route(&format!("{t}/orders/{{id}}/issue"), post(issue))
        .route(&format!("{t}/orders/{{id}}/comply"), post(comply))
        .route(&format!("{t}/orders/{{id}}/withdraw"), post(withdraw))
        .route(&format!("{t}/orders/{{id}}/penalty-terms"), put(terms))
        .route(
            &format!("{t}/orders/{{id}}/penalty-start"),
            post(penalty_start),
        )
        .route(&format!("{t}/orders/{{id}}/accruals"), post(accrual))
        .route(&format!("{t}/orders/{{id}}/fines"), post(fine))
        .route(&format!("{t}/orders/{{id}}/appeal"), post(appeal))
        .route(&format!("{t}/orders/{{id}}/publish"), post(publish))
        .route(&format!("{t}/orders/{{id}}/evidence"), get(evidence))
        .route(&format!("{t}/replies"), get(replies).put(set_reply))
        .route("/api/v1/provider/orders/{reference}", get(provider_get))
        .route(
            "/api/v1/provider/orders/{reference}/acknowledge",
            post(provider_ack),
        )
        .route("/register", get(register_html))
        .route("/register.json", get(register_json))
        .route("/register.csv", get(register_csv_route))
}

/// Registers the sweep tick (deadlines, check-online compliance).
pub fn register(runner: &mut JobRunner) {
    runner.tick("regulator.sweep", sweep_tick);
}

// --- keys and signatures ---

fn key_path(state: &AppState) -> PathBuf {
    state.config.data_dir.join(KEY_FILE)
}

/// Loads the order-signing key, generating it on first use (mode 0600).
pub fn signing_key(data_dir: &Path) -> anyhow::Result<SigningKey> {
    let path = data_dir.join(KEY_FILE);
    let read = |path: &Path| -> anyhow::Result<SigningKey> {
        let text = std::fs::read_to_string(path)?;
        let bytes: [u8; 32] = hex::decode(text.trim())?
            .try_into()
            .map_err(|_| anyhow::anyhow!("{}: the key must be 32 bytes", path.display()))?;
        Ok(SigningKey::from_bytes(&bytes))
    };
    if path.exists() {
        return read(&path);
    }
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    std::fs::create_dir_all(data_dir)?;
    match write_private(&path, hex::encode(seed).as_bytes()) {
        Ok(()) => Ok(SigningKey::from_bytes(&seed)),
        // Another request created it first: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(&path),
        Err(e) => Err(e.into()),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

pub(crate) fn key(state: &AppState) -> ApiResult<SigningKey> {
    signing_key(&state.config.data_dir).map_err(|e| {
        tracing::error!(error = %e, path = %key_path(state).display(), "order-signing key unavailable");
        Problem::internal()
    })
}

/// The signed message of an order: the 32 raw bytes of its SHA-256.
fn digest_bytes(sha256_hex: &str) -> ApiResult<Vec<u8>> {
    hex::decode(sha256_hex).map_err(|_| Problem::internal())
}

fn link_message(reference: &str) -> Vec<u8> {
    format!("schoon-order-link/1|{reference}").into_bytes()
}

/// The `sig` of a provider link (lowercase hex Ed25519 signature).
pub fn link_signature(key: &SigningKey, reference: &str) -> String {
    hex::encode(key.sign(&link_message(reference)).to_bytes())
}

fn link_ok(key: &VerifyingKey, reference: &str, sig: &str) -> bool {
    let Ok(bytes) = hex::decode(sig.trim()) else {
        return false;
    };
    let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
        return false;
    };
    key.verify(&link_message(reference), &Signature::from_bytes(&bytes))
        .is_ok()
}

fn provider_link(state: &AppState, key: &SigningKey, reference: &str) -> String {
    let base = state
        .takedown
        .config
        .mail
        .response_base_url
        .clone()
        .unwrap_or_default();
    format!(
        "{}/api/v1/provider/orders/{reference}?sig={}",
        base.trim_end_matches('/'),
        link_signature(key, reference)
    )
}

/// The timestamped, signed delivery proof: the order's digest and signature, the channel and time, and a receipt
/// signed with the order-signing key.
pub(crate) fn delivery_proof(
    key: &SigningKey,
    order: &Order,
    channel: &str,
    at: DateTime<Utc>,
    extra: serde_json::Value,
) -> serde_json::Value {
    let sha = order.sha256.clone().unwrap_or_default();
    let at_text = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let message = format!("schoon-order-delivery/1|{sha}|{channel}|{at_text}");
    serde_json::json!({
        "channel": channel,
        "at": at_text,
        "sha256": sha,
        "order_signature": order.signature,
        "receipt": message,
        "receipt_signature": hex::encode(key.sign(message.as_bytes()).to_bytes()),
        "details": extra,
    })
}

// --- helpers ---

fn now(state: &AppState) -> DateTime<Utc> {
    // Microseconds: what the store keeps, so the signed document round-trips exactly.
    state.clock.now().trunc_subsecs(6)
}

fn sp(e: StoreError) -> Problem {
    match e {
        StoreError::Conflict(d) => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", d),
        StoreError::Invalid(d) => {
            Problem::new(StatusCode::CONFLICT, "invalid-state", "Not allowed now", d)
        }
        e => e.into(),
    }
}

pub(crate) async fn own_order(state: &AppState, tenant: TenantId, id: OrderId) -> ApiResult<Order> {
    match state.store.order(id).await? {
        Some(o) if o.tenant_id == tenant => Ok(o),
        _ => Err(Problem::not_found(format!("order {id} not found"))),
    }
}

/// What the officer sees of an order.
#[derive(Debug, Serialize)]
pub(crate) struct OrderView {
    #[serde(flatten)]
    pub(crate) order: Order,
    /// The penalty due now under the terms.
    pub(crate) accrual: Option<schoon_core::order::PenaltyAccrual>,
    /// The provider's signed link (from issue on).
    pub(crate) provider_link: Option<String>,
}

pub(crate) fn view(state: &AppState, order: Order, key: Option<&SigningKey>) -> OrderView {
    let accrual = order.accrual(now(state)).map(|(_, a)| a);
    let provider_link = match (key, order.state) {
        (_, OrderState::Draft) | (None, _) => None,
        (Some(k), _) => Some(provider_link(state, k, &order.reference)),
    };
    OrderView {
        order,
        accrual,
        provider_link,
    }
}

fn valid_reference(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= MAX_REFERENCE
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

// --- officer API ---

#[utoipa::path(get, path = "/api/v1/regulator/public-key", tag = "regulator",
    summary = "The order-signing public key (Ed25519; public)",
    description = "`{algorithm, public_key_hex, public_key_base64, signed_message}`: an order's signature is over the 32 raw bytes of the SHA-256 of its canonical JSON.",
    responses((status = 200, description = "the public key", body = Object),
              (status = 500, description = "the key is unavailable")))]
async fn public_key(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let k = key(&state)?.verifying_key();
    Ok(Json(serde_json::json!({
        "algorithm": "ed25519",
        "public_key_hex": hex::encode(k.to_bytes()),
        "public_key_base64": base64::engine::general_purpose::STANDARD.encode(k.to_bytes()),
        "signed_message": "the 32 raw bytes of the SHA-256 of the order's canonical JSON",
    })))
}

/// The officer's queue filter: `?status=open|picked_up|all` (default all).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct QueueQuery {
    /// `open`, `picked_up` or `all` (default).
    status: Option<String>,
}

fn picked_filter(q: &QueueQuery) -> ApiResult<Option<bool>> {
    match q.status.as_deref() {
        None | Some("all") => Ok(None),
        Some("open") => Ok(Some(false)),
        Some("picked_up") => Ok(Some(true)),
        Some(other) => Err(Problem::bad_request(format!(
            "status must be open, picked_up or all, got {other:?}"
        ))),
    }
}

fn status_of(e: &RegulatorEscalation) -> &'static str {
    if e.picked_up() { "picked_up" } else { "open" }
}

/// An escalated case as the officer sees it.
#[derive(Debug, Serialize)]
pub(crate) struct EscalationView {
    pub(crate) escalation: RegulatorEscalation,
    /// `open` or `picked_up`.
    pub(crate) status: &'static str,
    pub(crate) url: Option<String>,
    pub(crate) case_state: Option<String>,
    pub(crate) hoster_org: Option<String>,
    pub(crate) hoster_email: Option<String>,
}

pub(crate) async fn case_view(
    state: &AppState,
    e: RegulatorEscalation,
) -> ApiResult<EscalationView> {
    let case = match e.case_id {
        Some(c) => state.store.case(c).await?,
        None => None,
    };
    Ok(EscalationView {
        url: case.as_ref().map(|c| c.url.clone()),
        case_state: case.as_ref().map(|c| c.state.to_string()),
        hoster_org: case.as_ref().and_then(|c| c.contacts.hoster_org.clone()),
        hoster_email: case.as_ref().and_then(|c| c.contacts.hoster_email.clone()),
        status: status_of(&e),
        escalation: e,
    })
}

#[utoipa::path(get, path = "/api/v1/regulator/tenants/{tenant}/escalations", tag = "regulator",
    operation_id = "regulator_escalations",
    summary = "The officer's queue: takedown cases escalated by the ladder",
    params(("tenant" = i64, Path, description = "Tenant id"), QueueQuery),
    responses((status = 200, description = "escalations with the case's URL, state and hoster (at most 1000)", body = Vec<Object>),
              (status = 400, description = "an unknown `status`")),
    security(("bearer" = []), ("basic" = [])))]
async fn escalations(
    State(state): State<AppState>,
    _admin: AdminCaller,
    UrlPath(tenant): UrlPath<TenantId>,
    Query(q): Query<QueueQuery>,
) -> ApiResult<Json<Vec<EscalationView>>> {
    let all = state
        .store
        .regulator_escalations(tenant, EscalationSource::Case, picked_filter(&q)?, 1000)
        .await?;
    let mut out = Vec::with_capacity(all.len());
    for e in all {
        out.push(case_view(&state, e).await?);
    }
    Ok(Json(out))
}

/// An overdue hit escalated after the grace period, as the officer sees it: the organisation
/// that did not act and what it checked (its own content reference and URL, the matched
/// value), never the material.
#[derive(Debug, Serialize)]
pub(crate) struct HitEscalationView {
    pub(crate) escalation: RegulatorEscalation,
    /// `open` or `picked_up`.
    pub(crate) status: &'static str,
    pub(crate) org_name: Option<String>,
    pub(crate) hit_state: Option<String>,
    pub(crate) signal_type: Option<String>,
    pub(crate) query_value: Option<String>,
    pub(crate) content_url: Option<String>,
    pub(crate) content_ref: Option<String>,
    pub(crate) deadline: Option<DateTime<Utc>>,
    pub(crate) overdue_at: Option<DateTime<Utc>>,
}

pub(crate) async fn hit_view(
    state: &AppState,
    e: RegulatorEscalation,
) -> ApiResult<HitEscalationView> {
    let hit = match e.hit_id {
        Some(h) => state.store.followup_hit(h).await?,
        None => None,
    };
    let org_name = match e.org_id {
        Some(o) => state.store.org(o).await?.map(|o| o.name),
        None => None,
    };
    Ok(HitEscalationView {
        org_name,
        hit_state: hit.as_ref().map(|h| h.hit.state.to_string()),
        signal_type: hit.as_ref().map(|h| h.hit.hit.signal_type.to_string()),
        query_value: hit.as_ref().map(|h| h.hit.hit.query_value.clone()),
        content_url: hit.as_ref().and_then(|h| h.hit.hit.content_url.clone()),
        content_ref: hit.as_ref().and_then(|h| h.hit.hit.content_ref.clone()),
        deadline: hit.as_ref().map(|h| h.hit.deadline),
        overdue_at: hit.as_ref().and_then(|h| h.overdue_at),
        status: status_of(&e),
        escalation: e,
    })
}

#[utoipa::path(get, path = "/api/v1/regulator/tenants/{tenant}/overdue-hits", tag = "regulator",
    summary = "The officer's queue: hits still overdue after the follow-up grace period",
    description = "The organisation that did not act and what it checked (its content reference and URL, the matched value), never the material.",
    params(("tenant" = i64, Path, description = "Tenant id"), QueueQuery),
    responses((status = 200, description = "escalated hits (at most 1000)", body = Vec<Object>),
              (status = 400, description = "an unknown `status`")),
    security(("bearer" = []), ("basic" = [])))]
async fn overdue_hits(
    State(state): State<AppState>,
    _admin: AdminCaller,
    UrlPath(tenant): UrlPath<TenantId>,
    Query(q): Query<QueueQuery>,
) -> ApiResult<Json<Vec<HitEscalationView>>> {
    let all = state
        .store
        .regulator_escalations(tenant, EscalationSource::Hit, picked_filter(&q)?, 1000)
        .await?;
    let mut out = Vec::with_capacity(all.len());
    for e in all {
        out.push(hit_view(&state, e).await?);
    }
    Ok(Json(out))
}

/// An escalation of this tenant, or 404.
pub(crate) async fn own_escalation(
    state: &AppState,
    tenant: TenantId,
    source: EscalationSource,
    id: i64,
) -> ApiResult<RegulatorEscalation> {
    match state.store.regulator_escalation(source, id).await? {
        Some(e) if e.tenant_id == tenant => Ok(e),
        _ => Err(Problem::not_found(format!(
            "{} escalation {id} not found",
            source.as_str()
        ))),
    }
}

/// Takes an escalation (the first pick-up stands; repeating it changes nothing).
pub(crate) async fn pick_up(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    source: EscalationSource,
    id: i64,
) -> ApiResult<(RegulatorEscalation, bool)> {
    own_escalation(state, tenant, source, id).await?;
    state
        .store
        .pick_up_escalation(actor, source, id, None, now(state))
        .await
        .map_err(sp)
}

#[utoipa::path(post, path = "/api/v1/regulator/tenants/{tenant}/escalations/{id}/pick-up", tag = "regulator",
    summary = "Take an escalated case (the first pick-up stands)",
    params(("tenant" = i64, Path, description = "Tenant id"), ("id" = i64, Path, description = "Escalation id")),
    responses((status = 200, description = "`{picked_up_now, view}`: whether this call took it, and the escalation", body = Object),
              (status = 404, description = "no such escalation of this tenant"),
              (status = 409, description = "not allowed now")),
    security(("bearer" = []), ("basic" = [])))]
async fn pick_up_case(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath((tenant, id)): UrlPath<(TenantId, i64)>,
) -> ApiResult<Json<serde_json::Value>> {
    let (e, changed) = pick_up(&state, &admin.actor(), tenant, EscalationSource::Case, id).await?;
    Ok(Json(serde_json::json!({
        "picked_up_now": changed,
        "view": case_view(&state, e).await?,
    })))
}

#[utoipa::path(post, path = "/api/v1/regulator/tenants/{tenant}/overdue-hits/{id}/pick-up", tag = "regulator",
    summary = "Take an overdue-hit escalation (the first pick-up stands)",
    params(("tenant" = i64, Path, description = "Tenant id"), ("id" = i64, Path, description = "Escalation id")),
    responses((status = 200, description = "`{picked_up_now, view}`: whether this call took it, and the escalation", body = Object),
              (status = 404, description = "no such escalation of this tenant"),
              (status = 409, description = "not allowed now")),
    security(("bearer" = []), ("basic" = [])))]
async fn pick_up_hit(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath((tenant, id)): UrlPath<(TenantId, i64)>,
) -> ApiResult<Json<serde_json::Value>> {
    let (e, changed) = pick_up(&state, &admin.actor(), tenant, EscalationSource::Hit, id).await?;
    Ok(Json(serde_json::json!({
        "picked_up_now": changed,
        "view": hit_view(&state, e).await?,
    })))
}

/// Query of the order list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only orders in this state (`draft`, `issued`, `delivered`, `acknowledged`, `overdue`…).
    state: Option<String>,
    /// Page: orders with a larger id.
    #[param(value_type = Option<i64>)]
    after: Option<OrderId>,
    /// Page size (default 100, at most 1000).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/regulator/tenants/{tenant}/orders", tag = "regulator",
    summary = "A tenant's orders, by id",
    params(("tenant" = i64, Path, description = "Tenant id"), ListQuery),
    responses((status = 200, description = "orders", body = Vec<Object>),
              (status = 400, description = "an unknown `state`")),
    security(("bearer" = []), ("basic" = [])))]
async fn list_orders(
    State(state): State<AppState>,
    _admin: AdminCaller,
    UrlPath(tenant): UrlPath<TenantId>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Order>>> {
    let st = q
        .state
        .as_deref()
        .map(str::parse::<OrderState>)
        .transpose()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(
        state
            .store
            .orders(tenant, st, q.after.unwrap_or(0), limit)
            .await?,
    ))
}

/// One item an order requires removed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = OrderItemIn)]
pub(crate) struct ItemIn {
    /// The URL.
    pub(crate) url: String,
    /// SHA-256 of the material (hex).
    pub(crate) sha256: String,
    /// The takedown case it came from, if any.
    pub(crate) case_id: Option<i64>,
}

/// An escalation an order is opened from.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct EscalationRef {
    /// `case` or `hit`.
    #[schema(value_type = String, example = "case")]
    pub(crate) source: EscalationSource,
    /// Escalation id.
    pub(crate) id: i64,
}

/// Body of a new (draft) order.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = CreateOrder)]
pub(crate) struct CreateIn {
    /// 1 to 64 characters from `A-Z a-z 0-9 - _ .` (default `ORD-<date>-<random>`).
    pub(crate) reference: Option<String>,
    /// The issuing authority (default the tenant's name).
    pub(crate) authority: Option<String>,
    /// The addressee.
    #[schema(value_type = crate::openapi::ProviderContactSchema)]
    pub(crate) provider: ProviderContact,
    /// The legal basis (article of the act).
    pub(crate) legal_basis: String,
    /// Compliance term in hours, counted from the first proven delivery.
    pub(crate) deadline_hours: u32,
    /// May be empty when `escalations` are given: the items then come from them.
    #[serde(default)]
    pub(crate) items: Vec<ItemIn>,
    /// Escalations this order is opened from: they are picked up and linked to it.
    #[serde(default)]
    pub(crate) escalations: Vec<EscalationRef>,
}

/// The item an escalation points at (URL + SHA-256), if it knows both.
pub(crate) async fn item_from(
    state: &AppState,
    e: &RegulatorEscalation,
) -> ApiResult<Option<StoredItem>> {
    if let Some(case_id) = e.case_id {
        let Some(case) = state.store.case(case_id).await? else {
            return Ok(None);
        };
        let sha = state.store.item(case.item_id).await?.and_then(|i| i.sha256);
        return Ok(sha.map(|sha256| StoredItem {
            url: case.url,
            sha256,
            case_id: Some(case_id),
        }));
    }
    if let Some(hit_id) = e.hit_id {
        let Some(h) = state.store.followup_hit(hit_id).await? else {
            return Ok(None);
        };
        let hit = h.hit.hit;
        if hit.signal_type != schoon_core::SignalType::Sha256 {
            return Ok(None);
        }
        return Ok(hit.content_url.map(|url| StoredItem {
            url,
            sha256: hit.query_value,
            case_id: None,
        }));
    }
    Ok(None)
}

#[utoipa::path(post, path = "/api/v1/regulator/tenants/{tenant}/orders", tag = "regulator",
    summary = "Create a draft order",
    description = "From explicit `items`, or from `escalations` (picked up and linked to the order; the items then come from them). Nothing is signed or sent before `…/issue`.",
    params(("tenant" = i64, Path, description = "Tenant id")),
    request_body = CreateIn,
    responses((status = 201, description = "the draft order", body = Object),
              (status = 400, description = "invalid reference, deadline, provider e-mail or items, or an escalation without a URL and SHA-256"),
              (status = 404, description = "no such tenant, or no such escalation of it"),
              (status = 409, description = "the reference exists, or an escalation is already linked"),
              (status = 422, description = "the body does not match the schema")),
    security(("bearer" = []), ("basic" = [])))]
async fn create_order(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath(tenant): UrlPath<TenantId>,
    JsonBody(body): JsonBody<CreateIn>,
) -> ApiResult<Response> {
    let o = create_draft(&state, &admin.actor(), tenant, body).await?;
    Ok((StatusCode::CREATED, Json(view(&state, o, None))).into_response())
}

/// Validates and stores a draft order, picking up and linking the escalations it is opened
/// from (the API's and the officer pages' one path).
pub(crate) async fn create_draft(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    body: CreateIn,
) -> ApiResult<Order> {
    let t = state
        .store
        .tenant(tenant)
        .await?
        .ok_or_else(|| Problem::not_found(format!("tenant {tenant} not found")))?;
    let deadline = OrderDeadline::from_hours(body.deadline_hours)
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let at = now(state);
    let reference = match body.reference {
        Some(r) => r,
        None => {
            let mut b = [0u8; 4];
            rand::fill(&mut b);
            format!("ORD-{}-{}", at.format("%Y%m%d"), hex::encode(b))
        }
    };
    if !valid_reference(&reference) {
        return Err(Problem::bad_request(
            "reference: 1 to 64 characters from A-Z a-z 0-9 - _ .",
        ));
    }
    if !body.provider.email.contains('@') {
        return Err(Problem::bad_request(
            "provider.email is not an e-mail address",
        ));
    }
    let mut from = Vec::with_capacity(body.escalations.len());
    for r in &body.escalations {
        from.push(own_escalation(state, tenant, r.source, r.id).await?);
    }
    let mut items: Vec<StoredItem> = body
        .items
        .into_iter()
        .map(|i| StoredItem {
            url: i.url,
            sha256: i.sha256,
            case_id: i.case_id,
        })
        .collect();
    if items.is_empty() {
        for e in &from {
            match item_from(state, e).await? {
                Some(i) if !items.contains(&i) => items.push(i),
                Some(_) => {}
                None => {
                    return Err(Problem::bad_request(format!(
                        "{} escalation {} has no URL with a SHA-256: give the items",
                        e.source.as_str(),
                        e.id
                    )));
                }
            }
        }
    }
    // An item from an escalated case opens the order from that escalation too.
    let item_cases: Vec<i64> = items.iter().filter_map(|i| i.case_id).collect();
    if !item_cases.is_empty() {
        for e in state
            .store
            .regulator_escalations(tenant, EscalationSource::Case, None, 1000)
            .await?
        {
            let listed = from.iter().any(|f| f.source == e.source && f.id == e.id);
            if e.order_id.is_none() && e.case_id.is_some_and(|c| item_cases.contains(&c)) && !listed
            {
                from.push(e);
            }
        }
    }
    let o = state
        .store
        .create_order(
            actor,
            NewOrder {
                tenant_id: tenant,
                reference,
                authority: body.authority.unwrap_or(t.name),
                provider: body.provider,
                legal_basis: body.legal_basis,
                deadline,
                items,
            },
            at,
        )
        .await
        .map_err(|e| match e {
            StoreError::Invalid(d) => Problem::bad_request(d),
            e => sp(e),
        })?;
    for e in &from {
        state
            .store
            .pick_up_escalation(actor, e.source, e.id, Some(o.id), at)
            .await
            .map_err(sp)?;
    }
    Ok(o)
}

#[derive(Debug, Serialize)]
struct OrderDetail {
    #[serde(flatten)]
    view: OrderView,
    events: Vec<store::orders::OrderEventRecord>,
    penalties: Vec<store::orders::Penalty>,
}

#[utoipa::path(get, path = "/api/v1/regulator/tenants/{tenant}/orders/{id}", tag = "regulator",
    summary = "An order with its events, penalties, accrual and provider link",
    params(("tenant" = i64, Path, description = "Tenant id"), ("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "the order (`events`, `penalties`, `accrual`, `provider_link` from issue on)", body = Object),
              (status = 404, description = "no such order of this tenant")),
    security(("bearer" = []), ("basic" = [])))]
async fn get_order(
    State(state): State<AppState>,
    _admin: AdminCaller,
    UrlPath((tenant, id)): UrlPath<(TenantId, OrderId)>,
) -> ApiResult<Json<OrderDetail>> {
    let o = own_order(&state, tenant, id).await?;
    let k = key(&state)?;
    Ok(Json(OrderDetail {
        events: state.store.order_events(id).await?,
        penalties: state.store.penalties(id).await?,
        view: view(&state, o, Some(&k)),
    }))
}

/// Format tag of the order evidence package.
pub const EVIDENCE_FORMAT: &str = "schoon-order-evidence/1";

/// The order evidence package: everything needed to show later what was ordered, signed,
/// delivered and done, pinned to the audit chain. The package's SHA-256 is in the `Digest`
/// header (`sha-256=<base64>`, RFC 3230) and `X-Schoon-Package-Sha256` (hex), and in the
/// `order.evidence_exported` audit event written after it.
///
/// `audit_events` are the chain's events about the order, its items' cases and report
/// items, and the escalations it was opened from, up to and including `audit_head`, verbatim
/// (each hash can be recomputed from its fields with `prev_hash`); `schoon audit verify` on
/// the instance shows the chain intact, and the event with the head's id must still carry
/// the head's hash.
#[utoipa::path(get, path = "/api/v1/regulator/tenants/{tenant}/orders/{id}/evidence", tag = "regulator",
    summary = "The order's evidence package (audited export)",
    params(("tenant" = i64, Path, description = "Tenant id"), ("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "the package (`format` = `schoon-order-evidence/1`), an attachment; its SHA-256 is in the `Digest` and `X-Schoon-Package-Sha256` headers", body = Object),
              (status = 404, description = "no such order of this tenant")),
    security(("bearer" = []), ("basic" = [])))]
async fn evidence(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath((tenant, id)): UrlPath<(TenantId, OrderId)>,
) -> ApiResult<Response> {
    evidence_package(&state, &admin.actor(), tenant, id).await
}

/// Builds, audits and returns the evidence package (the API's and the officer pages' one
/// builder).
pub(crate) async fn evidence_package(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    id: OrderId,
) -> ApiResult<Response> {
    let o = own_order(state, tenant, id).await?;
    let k = key(state)?;
    // The head first: everything read after it that is at or below it is settled history.
    let head = state.store.audit_head().await?;
    let events = state.store.order_events(id).await?;
    let penalties = state.store.penalties(id).await?;
    let escalations = state.store.order_escalations(id).await?;
    let mut subjects = vec![format!("order:{id}")];
    let mut cases = Vec::new();
    for case_id in o.items.iter().filter_map(|i| i.case_id) {
        if cases.contains(&case_id) {
            continue;
        }
        cases.push(case_id);
        subjects.push(format!("case:{case_id}"));
        if let Some(c) = state.store.case(case_id).await? {
            subjects.push(format!("item:{}", c.item_id));
        }
    }
    for e in &escalations {
        subjects.push(e.source.subject(e.id));
        if let Some(h) = e.hit_id {
            subjects.push(format!("hit:{h}"));
        }
        if let Some(c) = e.case_id.filter(|c| !cases.contains(c)) {
            subjects.push(format!("case:{c}"));
        }
    }
    let head_id = head.as_ref().map(|h| h.id).unwrap_or(0);
    let audit: Vec<_> = state
        .store
        .audit_for_subjects(&subjects)
        .await?
        .into_iter()
        .filter(|e| e.id <= head_id)
        .collect();
    let at = now(state);
    let document = o
        .canonical_json
        .as_deref()
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok());
    let package = serde_json::json!({
        "format": EVIDENCE_FORMAT,
        "generated_at": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "generated_by": actor.0,
        "order": {
            "id": o.id,
            "tenant_id": o.tenant_id,
            "reference": o.reference,
            "state": o.state,
            "appeal": o.appeal,
            "provider": o.provider,
            "deadline_hours": o.deadline.hours(),
            "items": o.items,
            "created_at": o.created_at,
            "issued_at": o.issued_at,
            "delivered_at": o.delivered_at,
            "acknowledged_at": o.acknowledged_at,
            "complied_at": o.complied_at,
            "overdue_at": o.overdue_at,
            "due_at": o.due_at,
            "penalty_terms": o.penalty_terms,
            "published": o.published,
        },
        "document": document,
        "canonical_json": o.canonical_json,
        "sha256": o.sha256,
        "signature": o.signature,
        "signature_algorithm": "ed25519 over the 32 raw bytes of sha256",
        "public_key_hex": hex::encode(k.verifying_key().to_bytes()),
        "delivery_proof": o.delivery_proof,
        "events": events,
        "penalties": penalties,
        "escalations": escalations,
        "audit_subjects": subjects,
        "audit_events": audit,
        "audit_head": head,
        "audit_verify": "schoon audit verify --data <DIR> (or --database <URL>): the chain must be \
            intact, its event audit_head.id must carry audit_head.hash, and each event here must \
            equal the chain's event with its id",
    });
    let bytes = serde_json::to_vec_pretty(&package).map_err(|e| {
        tracing::error!(error = %e, "evidence package not serialisable");
        Problem::internal()
    })?;
    let digest = sha2::Sha256::digest(&bytes);
    let sha_hex = hex::encode(digest);
    let sha_b64 = base64::engine::general_purpose::STANDARD.encode(digest);
    state
        .store
        .record_evidence_export(
            actor,
            id,
            serde_json::json!({
                "package_sha256": sha_hex,
                "format": EVIDENCE_FORMAT,
                "audit_head": head,
                "audit_events": audit.len(),
            }),
            at,
        )
        .await
        .map_err(sp)?;
    let disposition = format!("attachment; filename=\"evidence-{}.json\"", o.reference);
    let mut resp = ([(header::CONTENT_TYPE, "application/json")], bytes).into_response();
    let h = resp.headers_mut();
    for (name, value) in [
        ("digest", format!("sha-256={sha_b64}")),
        ("x-schoon-package-sha256", sha_hex),
        ("content-disposition", disposition),
    ] {
        // The reference is restricted to [A-Za-z0-9._-]; a bad value is a bug, not input.
        match header::HeaderValue::from_str(&value) {
            Ok(v) => {
                h.insert(header::HeaderName::from_static(name), v);
            }
            Err(_) => return Err(Problem::internal()),
        }
    }
    Ok(resp)
}

/// Issues a draft: signs, stores, delivers by e-mail if configured.
#[utoipa::path(post, path = "/api/v1/regulator/tenants/{tenant}/orders/{id}/issue", tag = "regulator",
    summary = "Issue a draft: sign, store, deliver by e-mail if configured",
    params(("tenant" = i64, Path, description = "Tenant id"), ("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "`{order, email}`: the issued order and what the e-mail delivery did (`status`: `accepted`, `not_accepted`, `failed`, `not_configured`)", body = Object),
              (status = 400, description = "the order document cannot be signed"),
              (status = 404, description = "no such order of this tenant"),
              (status = 409, description = "the order is not a draft")),
    security(("bearer" = []), ("basic" = [])))]
async fn issue(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath((tenant, id)): UrlPath<(TenantId, OrderId)>,
) -> ApiResult<Json<serde_json::Value>> {
    let (o, email) = issue_order(&state, &admin.actor(), tenant, id).await?;
    let k = key(&state)?;
    Ok(Json(serde_json::json!({
        "order": view(&state, o, Some(&k)),
        "email": email,
    })))
}

/// Signs and stores a draft, then sends it by e-mail if configured; gives the order and what
/// the e-mail delivery did (the API's and the officer pages' one path).
pub(crate) async fn issue_order(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    id: OrderId,
) -> ApiResult<(Order, serde_json::Value)> {
    let o = own_order(state, tenant, id).await?;
    if o.state != OrderState::Draft {
        return Err(sp(StoreError::Invalid(format!(
            "order {id} is {}, not a draft",
            o.state
        ))));
    }
    let k = key(state)?;
    let at = now(state);
    let digest = o
        .document(at)
        .digest()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let signature = hex::encode(k.sign(&digest_bytes(&digest.sha256)?).to_bytes());
    let o = state
        .store
        .issue_order(
            actor,
            id,
            IssueRecord {
                canonical_json: digest.canonical,
                sha256: digest.sha256,
                signature,
                issued_at: at,
            },
        )
        .await
        .map_err(sp)?;
    let email = send_email(state, &k, actor, &o).await;
    let o = state.store.order(id).await?.unwrap_or(o);
    Ok((o, email))
}

/// Sends the order by e-mail when a relay is configured; records delivery when it is accepted.
async fn send_email(
    state: &AppState,
    key: &SigningKey,
    actor: &Actor,
    order: &Order,
) -> serde_json::Value {
    let mail_cfg = &state.takedown.config.mail;
    let smtp = match crate::takedown::outbox::smtp_config(mail_cfg) {
        Ok(Some(c)) => c,
        Ok(None) => return serde_json::json!({"status": "not_configured"}),
        Err(e) => return serde_json::json!({"status": "not_configured", "detail": e}),
    };
    let Some(from) = mail_cfg.from.clone().filter(|f| f.contains('@')) else {
        return serde_json::json!({"status": "not_configured", "detail": "takedown.mail.from is not set"});
    };
    let mail = match order_mail(state, key, order, &from) {
        Ok(m) => m,
        Err(e) => return serde_json::json!({"status": "failed", "detail": e}),
    };
    let sender = match schoon_notify::SmtpSender::new(&smtp) {
        Ok(s) => s,
        Err(e) => return serde_json::json!({"status": "failed", "detail": e.to_string()}),
    };
    match sender.send(&mail).await {
        schoon_notify::DeliveryResult::Accepted { code, message } => {
            let at = now(state);
            let proof = delivery_proof(
                key,
                order,
                "email",
                at,
                serde_json::json!({
                    "message_id": mail.message_id, "to": order.provider.email,
                    "smtp_code": code, "smtp_message": message,
                }),
            );
            match state.store.deliver_order(actor, order.id, proof, at).await {
                Ok(_) => serde_json::json!({"status": "accepted", "smtp_code": code}),
                // Delivered through the API meanwhile: the earlier proof stands.
                Err(e) => {
                    serde_json::json!({"status": "accepted", "smtp_code": code, "note": e.to_string()})
                }
            }
        }
        other => {
            tracing::warn!(order = order.id, result = ?other, "order e-mail not accepted");
            serde_json::json!({"status": "not_accepted", "detail": format!("{other:?}")})
        }
    }
}

/// The order e-mail: plain text with the link, digest and signature; the canonical JSON as an
/// attachment (the exact signed bytes, base64 so no transport can alter them).
fn order_mail(
    state: &AppState,
    key: &SigningKey,
    order: &Order,
    from: &str,
) -> Result<schoon_notify::OutgoingMail, String> {
    let canonical = order.canonical_json.clone().ok_or("order not issued")?;
    let sha = order.sha256.clone().unwrap_or_default();
    let sig = order.signature.clone().unwrap_or_default();
    let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
    let message_id = format!("{}.order@{domain}", order.reference);
    let boundary = format!("order-{sha}");
    let link = provider_link(state, key, &order.reference);
    let due = format!("{} hours after delivery", order.deadline.hours());
    let mut items = String::new();
    for (n, i) in order.items.iter().enumerate() {
        items.push_str(&format!(
            "  {}. {}\n     sha256 {}\n",
            n + 1,
            i.url,
            i.sha256
        ));
    }
    let text = format!(
        "Binding removal order {reference}\r\n\r\n\
         {authority} orders {provider} to remove or disable access to the items below \
         within {due}.\r\nLegal basis: {basis}\r\n\r\nItems:\r\n{items}\r\n\
         Read and acknowledge the order: {link}\r\n\r\n\
         The attached order.json is the signed order. SHA-256: {sha}\r\n\
         Ed25519 signature over the 32 digest bytes: {sig}\r\n\
         Public key: {pk}\r\n",
        reference = order.reference,
        authority = order.authority,
        provider = order.provider.name,
        basis = order.legal_basis,
        items = items.replace('\n', "\r\n"),
        pk = hex::encode(key.verifying_key().to_bytes()),
    );
    let b64 = |s: &[u8]| {
        let e = base64::engine::general_purpose::STANDARD.encode(s);
        e.as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let subject = format!("Removal order {}", order.reference);
    let date = now(state).format("%a, %d %b %Y %H:%M:%S +0000");
    let raw = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n\
         Message-ID: <{message_id}>\r\nAuto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n\
         --{boundary}\r\nContent-Type: application/json; name=\"order.json\"\r\n\
         Content-Disposition: attachment; filename=\"order.json\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{json}\r\n--{boundary}--\r\n",
        to = order.provider.email,
        body = b64(text.as_bytes()),
        json = b64(canonical.as_bytes()),
    );
    if [from, order.provider.email.as_str(), &subject]
        .iter()
        .any(|h| h.contains(['\r', '\n']))
    {
        return Err("header value with a line break".into());
    }
    Ok(schoon_notify::OutgoingMail {
        message_id,
        envelope_from: mail_bounce(state).unwrap_or_else(|| from.to_string()),
        envelope_to: vec![order.provider.email.clone()],
        subject,
        urls: order.items.iter().map(|i| i.url.clone()).collect(),
        xarf: Vec::new(),
        raw: raw.into_bytes(),
    })
}

fn mail_bounce(state: &AppState) -> Option<String> {
    state.takedown.config.mail.bounce.clone()
}

/// Optional body of an order event: `{"note": …}` (an empty body is no note).
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[schema(as = OrderNote)]
struct NoteIn {
    /// Free text recorded with the event.
    note: Option<String>,
}

/// The optional `{"note": …}` body of an event (an empty body is no note).
fn note_of(body: &[u8]) -> ApiResult<Option<String>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let n: NoteIn =
        serde_json::from_slice(body).map_err(|e| Problem::bad_request(format!("body: {e}")))?;
    Ok(n.note)
}

async fn event(
    state: &AppState,
    admin: &AdminCaller,
    tenant: TenantId,
    id: OrderId,
    event: OrderEvent,
    note: Option<String>,
) -> ApiResult<Json<OrderView>> {
    let o = apply_event(state, &admin.actor(), tenant, id, event, note).await?;
    let k = key(state)?;
    Ok(Json(view(state, o, Some(&k))))
}

/// An officer's event on an order of `tenant` (the API's and the officer pages' one path).
pub(crate) async fn apply_event(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    id: OrderId,
    event: OrderEvent,
    note: Option<String>,
) -> ApiResult<Order> {
    own_order(state, tenant, id).await?;
    state
        .store
        .apply_order_event(actor, id, event, note.as_deref(), now(state))
        .await
        .map_err(sp)
}

#[utoipa::path(post, path = "/api/v1/regulator/tenants/{tenant}/orders/{id}/comply", tag = "regulator",
    summary = "Record compliance",
    params(("tenant" = i64, Path, description = "Tenant id"), ("id" = i64, Path, description = "Order id")),
    request_body(content = Option<NoteIn>, description = "optional; an empty body is no note", content_type = "application/json"),
    responses((status = 200, description = "the order afterwards", body = Object),
              (status = 400, description = "the body is not `{\"note\": …}`"),
              (status = 404, description = "no such order of this tenant"),
              (status = 409, description = "not allowed in the order's state")),
    security(("bearer" = []), ("basic" = [])))]
async fn comply(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath((tenant, id)): UrlPath<(TenantId, OrderId)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<OrderView>> {
    let note = note_of(&body)?;
    event(&state, &admin, tenant, id, OrderEvent::Comply, note).await
}

#[utoipa::path(post, path = "/api/v1/regulator/tenants/{tenant}/orders/{id}/withdraw", tag = "regulator",
    summary = "Withdraw an order",
    params(("tenant" = i64, Path, description = "Tenant id"), ("id" = i64, Path, description = "Order id")),
    request_body(content = Option<NoteIn>, description = "optional; an empty body is no note", content_type = "application/json"),
    responses((status = 200, description = "the order afterwards", body = Object),
              (status = 400, description = "the body is not `{\"note\": …}`"),
              (status = 404, description = "no such order of this tenant"),
              (status = 409, description = "not allowed in the order's state")),
    security(("bearer" = []), ("basic" = [])))]
async fn withdraw(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath((tenant, id)): UrlPath<(TenantId, OrderId)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<OrderView>> {
    let note = note_of(&body)?;
    event(&state, &admin, tenant, id, OrderEvent::Withdraw, note).await
}

#[utoipa::path(post, path = "/api/v1/regulator/tenants/{tenant}/orders/{id}/penalty-start", tag = "regulator",
    summary = "Start the penalty (terms must be set)",
    params(("tenant" = i64, Path, description = "Tenant id"), ("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "the order afterwards", body = Object),
              (status = 404, description = "no such order of this tenant"),
              (status = 409, description = "no penalty terms, or not allowed in the order's state")),
    security(("bearer" = []), ("basic" = [])))]
async fn penalty_start(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath((tenant, id)): UrlPath<(TenantId, OrderId)>,
) -> ApiResult<Json<OrderView>> {
    let o = start_penalty(&state, &admin.actor(), tenant, id).await?;
    let k = key(&state)?;
    Ok(Json(view(&state, o, Some(&k))))
}

/// Starts the penalty of an overdue order with terms.
pub(crate) async fn start_penalty(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    id: OrderId,
) -> ApiResult<Order> {
    let o = own_order(state, tenant, id).await?;
    if o.penalty_terms.is_none() {
        return Err(sp(StoreError::Invalid(
            "set the penalty terms before starting the penalty".into(),
        )));
    }
    apply_event(state, actor, tenant, id, OrderEvent::StartPenalty, None).await
}

/// An appeal step.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct AppealIn {
    /// `lodge`, `upheld` or `annulled`.
    action: String,
    /// Free text recorded with the event.
    note: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/regulator/tenants/{tenant}/orders/{id}/appeal", tag = "regulator",
    summary = "Lodge an appeal, or record its decision",
    params(("tenant" = i64, Path, description = "Tenant id"), ("id" = i64, Path, description = "Order id")),
    request_body = AppealIn,
    responses((status = 200, description = "the order afterwards", body = Object),
              (status = 400, description = "an unknown `action`"),
              (status = 404, description = "no such order of this tenant"),
              (status = 409, description = "not allowed in the order's state"),
              (status = 422, description = "the body does not match the schema")),
    security(("bearer" = []), ("basic" = [])))]
async fn appeal(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath((tenant, id)): UrlPath<(TenantId, OrderId)>,
    JsonBody(body): JsonBody<AppealIn>,
) -> ApiResult<Json<OrderView>> {
    let ev = appeal_event(&body.action)?;
    event(&state, &admin, tenant, id, ev, body.note).await
}

/// The event of an appeal step: `lodge`, `upheld` or `annulled`.
pub(crate) fn appeal_event(action: &str) -> ApiResult<OrderEvent> {
    match action {
        "lodge" => Ok(OrderEvent::LodgeAppeal),
        "upheld" => Ok(OrderEvent::DecideAppeal(AppealDecision::Upheld)),
        "annulled" => Ok(OrderEvent::DecideAppeal(AppealDecision::Annulled)),
        other => Err(Problem::bad_request(format!(
            "action must be lodge, upheld or annulled, got {other:?}"
        ))),
    }
}

#[utoipa::path(put, path = "/api/v1/regulator/tenants/{tenant}/orders/{id}/penalty-terms", tag = "regulator",
    summary = "Set the penalty terms",
    params(("tenant" = i64, Path, description = "Tenant id"), ("id" = i64, Path, description = "Order id")),
    request_body = crate::openapi::PenaltyTermsSchema,
    responses((status = 200, description = "the order afterwards", body = Object),
              (status = 404, description = "no such order of this tenant"),
              (status = 409, description = "invalid terms, or not allowed in the order's state"),
              (status = 422, description = "the body does not match the schema")),
    security(("bearer" = []), ("basic" = [])))]
async fn terms(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath((tenant, id)): UrlPath<(TenantId, OrderId)>,
    JsonBody(body): JsonBody<PenaltyTerms>,
) -> ApiResult<Json<OrderView>> {
    let o = set_terms(&state, &admin.actor(), tenant, id, body).await?;
    let k = key(&state)?;
    Ok(Json(view(&state, o, Some(&k))))
}

/// Sets the penalty terms of an order of `tenant`.
pub(crate) async fn set_terms(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    id: OrderId,
    terms: PenaltyTerms,
) -> ApiResult<Order> {
    own_order(state, tenant, id).await?;
    state
        .store
        .set_penalty_terms(actor, id, terms, now(state))
        .await
        .map_err(sp)
}

#[utoipa::path(post, path = "/api/v1/regulator/tenants/{tenant}/orders/{id}/accruals", tag = "regulator",
    summary = "Record the penalty accrued so far",
    params(("tenant" = i64, Path, description = "Tenant id"), ("id" = i64, Path, description = "Order id")),
    responses((status = 201, description = "the penalty record", body = Object),
              (status = 404, description = "no such order of this tenant"),
              (status = 409, description = "no running penalty, or not allowed in the order's state")),
    security(("bearer" = []), ("basic" = [])))]
async fn accrual(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath((tenant, id)): UrlPath<(TenantId, OrderId)>,
) -> ApiResult<Response> {
    let p = record_accrual(&state, &admin.actor(), tenant, id).await?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

/// Records the penalty accrued so far under the order's terms.
pub(crate) async fn record_accrual(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    id: OrderId,
) -> ApiResult<store::orders::Penalty> {
    own_order(state, tenant, id).await?;
    state
        .store
        .record_accrual(actor, id, now(state))
        .await
        .map_err(sp)
}

/// A fine.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct FineIn {
    /// The amount, in euro cents.
    amount_cents: u64,
    /// Free text recorded with it.
    note: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/regulator/tenants/{tenant}/orders/{id}/fines", tag = "regulator",
    summary = "Record a fine",
    params(("tenant" = i64, Path, description = "Tenant id"), ("id" = i64, Path, description = "Order id")),
    request_body = FineIn,
    responses((status = 201, description = "the penalty record", body = Object),
              (status = 404, description = "no such order of this tenant"),
              (status = 409, description = "not allowed in the order's state"),
              (status = 422, description = "the body does not match the schema")),
    security(("bearer" = []), ("basic" = [])))]
async fn fine(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath((tenant, id)): UrlPath<(TenantId, OrderId)>,
    JsonBody(body): JsonBody<FineIn>,
) -> ApiResult<Response> {
    let p = record_fine(
        &state,
        &admin.actor(),
        tenant,
        id,
        body.amount_cents,
        body.note,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

/// Records a fine the officer set (euro cents).
pub(crate) async fn record_fine(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    id: OrderId,
    amount_cents: u64,
    note: Option<String>,
) -> ApiResult<store::orders::Penalty> {
    own_order(state, tenant, id).await?;
    state
        .store
        .record_fine(actor, id, amount_cents, note.as_deref(), now(state))
        .await
        .map_err(sp)
}

/// Whether an order appears in the public register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct PublishIn {
    /// Show it (`true`) or take it off (`false`).
    published: bool,
}

#[utoipa::path(post, path = "/api/v1/regulator/tenants/{tenant}/orders/{id}/publish", tag = "regulator",
    summary = "Publish an order in the public register, or take it off",
    params(("tenant" = i64, Path, description = "Tenant id"), ("id" = i64, Path, description = "Order id")),
    request_body = PublishIn,
    responses((status = 200, description = "the order afterwards", body = Object),
              (status = 404, description = "no such order of this tenant"),
              (status = 409, description = "not allowed in the order's state"),
              (status = 422, description = "the body does not match the schema")),
    security(("bearer" = []), ("basic" = [])))]
async fn publish(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath((tenant, id)): UrlPath<(TenantId, OrderId)>,
    JsonBody(body): JsonBody<PublishIn>,
) -> ApiResult<Json<OrderView>> {
    let o = set_published(&state, &admin.actor(), tenant, id, body.published).await?;
    let k = key(&state)?;
    Ok(Json(view(&state, o, Some(&k))))
}

/// Shows an order of `tenant` in the public register, or takes it off.
pub(crate) async fn set_published(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    id: OrderId,
    published: bool,
) -> ApiResult<Order> {
    own_order(state, tenant, id).await?;
    state
        .store
        .publish_order(actor, id, published, now(state))
        .await
        .map_err(sp)
}

/// A provider's right of reply.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct ReplyIn {
    /// The provider, as named in the monitor and register.
    provider_name: String,
    /// The reply (at most 4000 characters).
    text: String,
    /// Whether it is shown publicly.
    published: bool,
}

#[utoipa::path(put, path = "/api/v1/regulator/tenants/{tenant}/replies", tag = "regulator",
    summary = "Set a provider's right-of-reply text",
    params(("tenant" = i64, Path, description = "Tenant id")),
    request_body = ReplyIn,
    responses((status = 200, description = "the reply", body = Object),
              (status = 400, description = "text over 4000 characters, or invalid"),
              (status = 409, description = "conflict"),
              (status = 422, description = "the body does not match the schema")),
    security(("bearer" = []), ("basic" = [])))]
async fn set_reply(
    State(state): State<AppState>,
    admin: AdminCaller,
    UrlPath(tenant): UrlPath<TenantId>,
    JsonBody(body): JsonBody<ReplyIn>,
) -> ApiResult<Json<store::orders::ProviderReply>> {
    if body.text.chars().count() > 4000 {
        return Err(Problem::bad_request("reply text: at most 4000 characters"));
    }
    let r = state
        .store
        .set_provider_reply(
            &admin.actor(),
            tenant,
            &body.provider_name,
            &body.text,
            body.published,
            now(&state),
        )
        .await
        .map_err(|e| match e {
            StoreError::Invalid(d) => Problem::bad_request(d),
            e => sp(e),
        })?;
    Ok(Json(r))
}

#[utoipa::path(get, path = "/api/v1/regulator/tenants/{tenant}/replies", tag = "regulator",
    summary = "The tenant's provider replies (published or not)",
    params(("tenant" = i64, Path, description = "Tenant id")),
    responses((status = 200, description = "replies", body = Vec<Object>)),
    security(("bearer" = []), ("basic" = [])))]
async fn replies(
    State(state): State<AppState>,
    _admin: AdminCaller,
    UrlPath(tenant): UrlPath<TenantId>,
) -> ApiResult<Json<Vec<store::orders::ProviderReply>>> {
    Ok(Json(
        state.store.provider_replies(Some(tenant), false).await?,
    ))
}

// --- provider (signed link) ---

#[derive(Debug, Deserialize)]
struct SigQuery {
    sig: Option<String>,
}

async fn signed_order(state: &AppState, reference: &str, sig: Option<&str>) -> ApiResult<Order> {
    let k = key(state)?;
    if !link_ok(&k.verifying_key(), reference, sig.unwrap_or("")) {
        return Err(Problem::forbidden("invalid or missing link signature"));
    }
    match state.store.order_by_reference(reference).await? {
        Some(o) if o.state != OrderState::Draft => Ok(o),
        _ => Err(Problem::not_found(format!("order {reference} not found"))),
    }
}

/// Records API delivery on the provider's first access (an issued order only).
async fn deliver_by_api(state: &AppState, order: Order) -> ApiResult<Order> {
    if order.state != OrderState::Issued {
        return Ok(order);
    }
    let k = key(state)?;
    let at = now(state);
    let proof = delivery_proof(
        &k,
        &order,
        "api",
        at,
        serde_json::json!({"via": "signed link"}),
    );
    let actor = Actor(format!("provider:{}", order.reference));
    match state.store.deliver_order(&actor, order.id, proof, at).await {
        Ok(o) => Ok(o),
        // Delivered by another request or by e-mail meanwhile.
        Err(StoreError::Conflict(_) | StoreError::Invalid(_)) => state
            .store
            .order(order.id)
            .await?
            .ok_or_else(|| Problem::not_found("order")),
        Err(e) => Err(e.into()),
    }
}

fn provider_view(order: &Order, pk: &VerifyingKey) -> serde_json::Value {
    let document = order
        .canonical_json
        .as_deref()
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok());
    serde_json::json!({
        "reference": order.reference,
        "document": document,
        "canonical_json": order.canonical_json,
        "sha256": order.sha256,
        "signature": order.signature,
        "public_key_hex": hex::encode(pk.to_bytes()),
        "state": order.state,
        "appeal": order.appeal,
        "delivered_at": order.delivered_at,
        "due_at": order.due_at,
        "acknowledged_at": order.acknowledged_at,
        "complied_at": order.complied_at,
    })
}

#[utoipa::path(get, path = "/api/v1/provider/orders/{reference}", tag = "regulator",
    summary = "The provider reads an order through its signed link",
    description = "The first read of an issued order is its proof of delivery (the deadline runs from it). Gives the signed document, its SHA-256 and signature, the public key, and the order's state and dates.",
    params(("reference" = String, Path, description = "Order reference")),
    responses((status = 200, description = "the order as the provider sees it", body = Object),
              (status = 403, description = "invalid or missing link signature"),
              (status = 404, description = "no such issued order")),
    security(("signed_link" = [])))]
async fn provider_get(
    State(state): State<AppState>,
    UrlPath(reference): UrlPath<String>,
    Query(q): Query<SigQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let o = signed_order(&state, &reference, q.sig.as_deref()).await?;
    let o = deliver_by_api(&state, o).await?;
    let pk = key(&state)?.verifying_key();
    Ok(Json(provider_view(&o, &pk)))
}

#[utoipa::path(post, path = "/api/v1/provider/orders/{reference}/acknowledge", tag = "regulator",
    summary = "The provider acknowledges an order through its signed link",
    description = "Proves delivery too, if this is the first access.",
    params(("reference" = String, Path, description = "Order reference")),
    request_body(content = Option<NoteIn>, description = "optional `{\"note\": …}` (at most 4000 characters); an empty body is no note", content_type = "application/json"),
    responses((status = 200, description = "the order as the provider sees it", body = Object),
              (status = 400, description = "the body is not `{\"note\": …}`, or the note is too long"),
              (status = 403, description = "invalid or missing link signature"),
              (status = 404, description = "no such issued order"),
              (status = 409, description = "not allowed in the order's state")),
    security(("signed_link" = [])))]
async fn provider_ack(
    State(state): State<AppState>,
    UrlPath(reference): UrlPath<String>,
    Query(q): Query<SigQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let o = signed_order(&state, &reference, q.sig.as_deref()).await?;
    let note = note_of(&body)?;
    if note.as_ref().is_some_and(|n| n.chars().count() > 4000) {
        return Err(Problem::bad_request("note: at most 4000 characters"));
    }
    // Acknowledging proves receipt too.
    let o = deliver_by_api(&state, o).await?;
    let actor = Actor(format!("provider:{reference}"));
    let o = state
        .store
        .apply_order_event(
            &actor,
            o.id,
            OrderEvent::Acknowledge,
            note.as_deref(),
            now(&state),
        )
        .await
        .map_err(sp)?;
    let pk = key(&state)?.verifying_key();
    Ok(Json(provider_view(&o, &pk)))
}

// --- sweep ---

async fn sweep_tick(state: AppState) -> anyhow::Result<()> {
    let at = now(&state);
    let overdue = state.store.sweep_orders(at).await?;
    if !overdue.is_empty() {
        tracing::info!(orders = ?overdue, "orders overdue");
    }
    // Compliance by check-online: every item from a case verified offline.
    for tenant in state.store.tenants().await? {
        let mut after = 0;
        loop {
            let page = state.store.orders(tenant.id, None, after, 500).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for o in page {
                let open = matches!(
                    o.state,
                    OrderState::Issued
                        | OrderState::Delivered
                        | OrderState::Acknowledged
                        | OrderState::Overdue
                        | OrderState::PenaltyRunning
                );
                if !open || o.items.iter().any(|i| i.case_id.is_none()) {
                    continue;
                }
                let mut all_gone = true;
                for i in &o.items {
                    let Some(case_id) = i.case_id else { continue };
                    let gone = state.store.case(case_id).await?.is_some_and(|c| {
                        c.offline_verified_at.is_some()
                            && c.reappeared_at
                                .is_none_or(|r| c.offline_verified_at.is_some_and(|v| v > r))
                    });
                    all_gone &= gone;
                }
                if all_gone {
                    let r = state
                        .store
                        .apply_order_event(
                            &Actor("system:check-online".into()),
                            o.id,
                            OrderEvent::Comply,
                            Some("every item verified offline by check-online"),
                            at,
                        )
                        .await;
                    if let Err(e) = r {
                        tracing::warn!(order = o.id, error = %e, "recording compliance failed");
                    }
                }
            }
        }
    }
    Ok(())
}

// --- public register ---

/// Query of the public register.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RegisterQuery {
    /// Only this tenant's orders (default all).
    #[param(value_type = Option<i64>)]
    tenant: Option<TenantId>,
}

async fn register_data(
    state: &AppState,
    tenant: Option<TenantId>,
) -> ApiResult<(Vec<RegisterEntry>, Vec<store::orders::ProviderReply>)> {
    let at = now(state);
    let entries = state
        .store
        .published_orders(tenant)
        .await?
        .iter()
        .filter_map(|o| o.register_entry(at))
        .collect();
    let replies = state.store.provider_replies(tenant, true).await?;
    Ok((entries, replies))
}

fn public_reply(r: &store::orders::ProviderReply) -> serde_json::Value {
    serde_json::json!({
        "provider_name": r.provider_name,
        "text": r.text,
        "published_at": r.published_at,
    })
}

#[utoipa::path(get, path = "/register.json", tag = "monitor",
    summary = "The public register of published orders (JSON)",
    params(RegisterQuery),
    responses((status = 200, description = "`{generated_at, orders, replies}`: published orders and published provider replies", body = Object)))]
async fn register_json(
    State(state): State<AppState>,
    Query(q): Query<RegisterQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let (entries, replies) = register_data(&state, q.tenant).await?;
    Ok(Json(serde_json::json!({
        "generated_at": now(&state),
        "orders": entries,
        "replies": replies.iter().map(public_reply).collect::<Vec<_>>(),
    })))
}

#[utoipa::path(get, path = "/register.csv", tag = "monitor",
    summary = "The public register of published orders (CSV)",
    params(RegisterQuery),
    responses((status = 200, description = "one line per published order (an attachment, `register.csv`)", body = String, content_type = "text/csv")))]
async fn register_csv_route(
    State(state): State<AppState>,
    Query(q): Query<RegisterQuery>,
) -> ApiResult<Response> {
    let (entries, _) = register_data(&state, q.tenant).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"register.csv\"",
            ),
        ],
        register_csv(&entries),
    )
        .into_response())
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn euro(cents: u64) -> String {
    format!("€ {}.{:02}", cents / 100, cents % 100)
}

/// The register as one self-contained HTML page (no scripts, no external assets).
pub fn register_page(
    entries: &[RegisterEntry],
    replies: &[store::orders::ProviderReply],
) -> String {
    let time = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    };
    let mut rows = String::new();
    for e in entries {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} h</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&e.reference),
            esc(&e.provider_name),
            e.order_date,
            e.deadline_hours,
            time(e.due_at),
            time(e.complied_at),
            esc(e.state.as_str()),
            esc(e.penalty_kind.as_deref().unwrap_or("")),
            e.penalty_cents.map(euro).unwrap_or_default(),
            esc(e.appeal.as_str()),
        ));
    }
    if entries.is_empty() {
        rows.push_str("<tr><td colspan=\"10\">No published orders.</td></tr>\n");
    }
    let mut notes = String::new();
    for r in replies {
        notes.push_str(&format!(
            "<section><h3>{}</h3><p>{}</p></section>\n",
            esc(&r.provider_name),
            esc(&r.text).replace('\n', "<br>")
        ));
    }
    if !notes.is_empty() {
        notes = format!("<h2>Right of reply</h2>\n{notes}");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Register of removal orders</title>\
         <style>body{{font-family:sans-serif;margin:1.5rem;max-width:80rem}}\
         table{{border-collapse:collapse;width:100%}}th,td{{border:1px solid #999;\
         padding:.3rem .5rem;text-align:left}}th{{background:#eee}}</style></head><body>\n\
         <h1>Register of removal orders</h1>\n\
         <p>Published binding removal orders and their penalties. Items (URLs, digests) are \
         never shown. Also as <a href=\"register.json\">JSON</a> and \
         <a href=\"register.csv\">CSV</a>.</p>\n\
         <table><thead><tr><th scope=\"col\">Reference</th><th scope=\"col\">Provider</th>\
         <th scope=\"col\">Order date</th><th scope=\"col\">Term</th><th scope=\"col\">Due</th>\
         <th scope=\"col\">Complied</th><th scope=\"col\">State</th><th scope=\"col\">Penalty</th>\
         <th scope=\"col\">Amount</th><th scope=\"col\">Appeal</th></tr></thead><tbody>\n\
         {rows}</tbody></table>\n{notes}</body></html>\n"
    )
}

async fn register_html(
    State(state): State<AppState>,
    Query(q): Query<RegisterQuery>,
) -> ApiResult<Response> {
    let (entries, replies) = register_data(&state, q.tenant).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        register_page(&entries, &replies),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_signatures_bind_key_and_reference() {
        let k = SigningKey::from_bytes(&[7u8; 32]);
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let sig = link_signature(&k, "ORD-1");
        assert!(link_ok(&k.verifying_key(), "ORD-1", &sig));
        assert!(!link_ok(&k.verifying_key(), "ORD-2", &sig));
        assert!(!link_ok(&other.verifying_key(), "ORD-1", &sig));
        assert!(!link_ok(&k.verifying_key(), "ORD-1", "zz"));
        assert!(!link_ok(&k.verifying_key(), "ORD-1", ""));
    }

    #[test]
    fn references_are_restricted() {
        assert!(valid_reference("ATKM-2026_0001.a"));
        for bad in ["", "a/b", "a b", "<x>", &"a".repeat(65)] {
            assert!(!valid_reference(bad), "{bad}");
        }
    }

    #[test]
    fn the_register_page_escapes_everything() {
        let entry = RegisterEntry {
            reference: "R-1".into(),
            provider_name: "<script>alert(1)</script> & \"Co\"".into(),
            order_date: chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default(),
            deadline_hours: 1,
            due_at: None,
            complied_at: None,
            state: OrderState::Overdue,
            penalty_kind: Some("periodic".into()),
            penalty_cents: Some(150_005),
            appeal: schoon_core::order::AppealStatus::None,
        };
        let page = register_page(&[entry], &[]);
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;"));
        assert!(page.contains("€ 1500.05"));
        assert!(!page.contains("http"), "no external assets");
    }
}
