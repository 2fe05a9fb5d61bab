//! The provider-facing side of a notice, and the hotline's notice and policy endpoints.
//!
//! Every notice carries a **signed response link**: `…/respond/{reference}?sig=HEX` where
//! `HEX = HMAC-SHA256(link key, reference)`. Whoever holds the link (the abuse desk that got the
//! e-mail) may acknowledge the notice or dispute it, without an account:
//!
//! * `GET /respond/{reference}?sig=…`: a small self-contained HTML page (no scripts, no external
//!   assets, everything escaped) with an acknowledge form and a dispute form;
//! * `POST /respond/{reference}?sig=…` (form fields `kind`, `statement`): records and thanks;
//! * `POST /api/v1/respond/{reference}?sig=…` with `{"kind": "ack"|"dispute", "statement": …}`:
//!   the same for ticket systems.
//!
//! A wrong signature is `403` before any look-up, so the answer never tells whether a reference
//! exists. Responses are recorded on every case of the notice (`case_responses` + audit).
//!
//! Hotline side (admin token): `GET /api/v1/takedown/notices?tenant=&state=`,
//! `GET /api/v1/takedown/notices/{id}`, `POST /api/v1/takedown/notices/{id}/resolve`
//! (`{"requeue": bool}` for a `delivery_unknown` notice), and
//! `GET|PUT /api/v1/admin/tenants/{id}/takedown-policy`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{KeyInit, Mac};
use schoon_core::TenantId;
use schoon_core::takedown::{NoticeId, TakedownPolicy};
use serde::{Deserialize, Serialize};
use store::takedown::{CaseResponse, Notice, NoticeState, ResponseKind};
use store::{Actor, StoreError};

use crate::app::{AppState, JsonBody};
use crate::auth::AdminCaller;
use crate::classify::Analyst;
use crate::problem::{ApiResult, Problem};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Longest statement accepted with a response.
pub const MAX_STATEMENT_CHARS: usize = 4000;

/// The signature of a notice reference (lowercase hex HMAC-SHA256).
pub fn link_signature(key: &[u8], reference: &str) -> String {
    hex::encode(mac(key, reference).finalize().into_bytes())
}

fn mac(key: &[u8], reference: &str) -> HmacSha256 {
    // HMAC takes keys of any length; the error branch cannot happen.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(b"schoon-respond|");
    m.update(reference.as_bytes());
    m
}

/// Whether `sig` is the signature of `reference` (constant-time comparison).
pub fn signature_ok(key: &[u8], reference: &str, sig: &str) -> bool {
    let Ok(bytes) = hex::decode(sig.trim()) else {
        return false;
    };
    mac(key, reference).verify_slice(&bytes).is_ok()
}

/// The response link of a notice: `{base}/respond/{reference}?sig=…`.
pub fn response_link(base_url: &str, key: &[u8], reference: &str) -> String {
    format!(
        "{}/respond/{reference}?sig={}",
        base_url.trim_end_matches('/'),
        link_signature(key, reference)
    )
}

/// Public routes (signed links, no login).
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/respond/{reference}", get(page).post(page_post))
        .route("/api/v1/respond/{reference}", post(api_respond))
}

/// Hotline routes (admin token).
pub fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/takedown/notices", get(list_notices))
        .route("/api/v1/takedown/notices/{id}", get(get_notice))
        .route("/api/v1/takedown/notices/{id}/resolve", post(resolve))
        .route(
            "/api/v1/admin/tenants/{tenant_id}/takedown-policy",
            get(get_policy).put(put_policy),
        )
}

// --- signed link ---

/// `?sig=` of a response link.
#[derive(Debug, Deserialize)]
pub struct SigQuery {
    /// The signature.
    #[serde(default)]
    pub sig: String,
}

fn forbidden() -> Problem {
    // The same answer for a wrong signature and an unknown reference with a forged one.
    Problem::forbidden("this response link is not valid")
}

async fn signed_notice(state: &AppState, reference: &str, sig: &str) -> ApiResult<Notice> {
    let key = link_key(state)?;
    if !signature_ok(&key, reference, sig) {
        return Err(forbidden());
    }
    state
        .store
        .notice_by_reference(reference)
        .await?
        .ok_or_else(|| Problem::not_found("this notice no longer exists"))
}

fn link_key(state: &AppState) -> ApiResult<[u8; 32]> {
    Ok(state.takedown.link_key)
}

/// Body of a response.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RespondIn {
    /// `ack` (we are acting on it) or `dispute` (we think it is wrong; say why).
    pub kind: String,
    /// Free text (required for a dispute), at most 4000 characters.
    #[serde(default)]
    pub statement: Option<String>,
}

/// What a response recorded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RespondOut {
    /// The notice reference.
    pub reference: String,
    /// One row per case of the notice.
    #[schema(value_type = Vec<Object>)]
    pub responses: Vec<CaseResponse>,
}

fn parse_response(b: &RespondIn) -> Result<(ResponseKind, Option<String>), String> {
    let kind = match b.kind.trim() {
        "ack" | "acknowledge" => ResponseKind::Ack,
        "dispute" => ResponseKind::Dispute,
        other => return Err(format!("kind must be ack or dispute, got {other:?}")),
    };
    let statement = b
        .statement
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if statement
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_STATEMENT_CHARS)
    {
        return Err(format!(
            "the statement must be at most {MAX_STATEMENT_CHARS} characters"
        ));
    }
    if kind == ResponseKind::Dispute && statement.is_none() {
        return Err("a dispute needs a statement saying why".into());
    }
    Ok((kind, statement))
}

async fn record(
    state: &AppState,
    notice: &Notice,
    kind: ResponseKind,
    statement: Option<String>,
) -> ApiResult<Vec<CaseResponse>> {
    let actor = Actor(format!("respond:{}", notice.reference));
    let responses = state
        .store
        .record_response(&actor, notice.id, None, kind, statement, state.clock.now())
        .await?;
    tracing::info!(notice = notice.id, ?kind, "notice response recorded");
    Ok(responses)
}

/// `POST /api/v1/respond/{reference}?sig=…`.
#[utoipa::path(post, path = "/api/v1/respond/{reference}", tag = "takedown",
    summary = "Answer a notice through its signed response link (ticket systems)",
    description = "The JSON twin of the response page linked from every notice: acknowledge (`ack`) or dispute it. `sig` is the signature from the notice's link. Recorded on every case of the notice.",
    params(("reference" = String, Path, description = "Notice reference")),
    request_body = RespondIn,
    responses((status = 200, description = "recorded", body = RespondOut),
              (status = 400, description = "unknown `kind`, a dispute without a statement, or a statement over 4000 characters"),
              (status = 403, description = "the link signature is wrong (the same answer whether the reference exists or not)"),
              (status = 404, description = "the notice no longer exists"),
              (status = 422, description = "the body does not match the schema")),
    security(("signed_link" = [])))]
pub async fn api_respond(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Query(q): Query<SigQuery>,
    JsonBody(b): JsonBody<RespondIn>,
) -> ApiResult<Json<RespondOut>> {
    let notice = signed_notice(&state, &reference, &q.sig).await?;
    let (kind, statement) = parse_response(&b).map_err(Problem::bad_request)?;
    let responses = record(&state, &notice, kind, statement).await?;
    Ok(Json(RespondOut {
        reference: notice.reference,
        responses,
    }))
}

/// `GET /respond/{reference}?sig=…`: the response page.
pub async fn page(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Query(q): Query<SigQuery>,
) -> Response {
    match page_inner(&state, &reference, &q.sig).await {
        Ok(html) => html_response(StatusCode::OK, html),
        Err(p) => html_problem(p),
    }
}

async fn page_inner(state: &AppState, reference: &str, sig: &str) -> ApiResult<String> {
    let notice = signed_notice(state, reference, sig).await?;
    let mut urls = Vec::new();
    for item in &notice.items {
        if let Some(c) = state.store.case(item.case_id).await? {
            urls.push(c.url);
        }
    }
    Ok(render_page(&notice, &urls, sig, None))
}

/// `POST /respond/{reference}?sig=…` (an HTML form).
pub async fn page_post(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Query(q): Query<SigQuery>,
    body: Bytes,
) -> Response {
    let result = async {
        let notice = signed_notice(&state, &reference, &q.sig).await?;
        let b: RespondIn = serde_urlencoded::from_bytes(&body)
            .map_err(|e| Problem::bad_request(format!("invalid form: {e}")))?;
        let (kind, statement) = parse_response(&b).map_err(Problem::bad_request)?;
        record(&state, &notice, kind, statement).await?;
        Ok::<_, Problem>((notice, kind))
    }
    .await;
    match result {
        Ok((notice, kind)) => {
            let what = match kind {
                ResponseKind::Ack => "Your acknowledgement was recorded. Thank you.",
                ResponseKind::Dispute => {
                    "Your dispute was recorded; an analyst will review it. Thank you."
                }
            };
            html_response(
                StatusCode::OK,
                shell(
                    &format!("Notice {}", notice.reference),
                    &format!("<p class=\"ok\">{}</p>", escape(what)),
                ),
            )
        }
        Err(p) => html_problem(p),
    }
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(s: &str) -> String {
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

fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{t}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
         code{{word-break:break-all}}fieldset{{margin:1.5rem 0}}textarea{{width:100%}}\
         .ok{{color:#064}}.err{{color:#a00}}</style></head>\n<body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = escape(title)
    )
}

fn render_page(notice: &Notice, urls: &[String], sig: &str, error: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(e) = error {
        body.push_str(&format!("<p class=\"err\">{}</p>", escape(e)));
    }
    body.push_str(&format!(
        "<p>This page answers notice <strong>{}</strong> sent to {}{}. \
         It lists the URL(s) the notice asked to remove (as text; no content is shown).</p><ul>",
        escape(&notice.reference),
        escape(&notice.recipient_email),
        notice
            .recipient_org
            .as_deref()
            .map(|o| format!(" ({})", escape(o)))
            .unwrap_or_default()
    ));
    for u in urls {
        body.push_str(&format!("<li><code>{}</code></li>", escape(u)));
    }
    body.push_str("</ul>");
    let action = format!("/respond/{}?sig={}", escape(&notice.reference), escape(sig));
    body.push_str(&format!(
        "<form method=\"post\" action=\"{action}\"><fieldset><legend>Acknowledge</legend>\
         <input type=\"hidden\" name=\"kind\" value=\"ack\">\
         <p><label>Note (optional)<br><textarea name=\"statement\" rows=\"3\" maxlength=\"{MAX_STATEMENT_CHARS}\"></textarea></label></p>\
         <button type=\"submit\">We are acting on this notice</button></fieldset></form>\
         <form method=\"post\" action=\"{action}\"><fieldset><legend>Dispute</legend>\
         <input type=\"hidden\" name=\"kind\" value=\"dispute\">\
         <p><label>Why is this notice wrong? (required)<br><textarea name=\"statement\" rows=\"5\" required maxlength=\"{MAX_STATEMENT_CHARS}\"></textarea></label></p>\
         <button type=\"submit\">Dispute this notice</button></fieldset></form>"
    ));
    shell(&format!("Notice {}", notice.reference), &body)
}

fn html_response(status: StatusCode, html: String) -> Response {
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Nothing loads from anywhere; forms post only here; the signed URL never leaks as a referrer.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn html_problem(p: Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
    html_response(
        status,
        shell(
            "Notice response",
            &format!("<p class=\"err\">{}</p>", escape(&p.detail)),
        ),
    )
}

// --- notices (hotline) ---

/// Query of the notice list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticesQuery {
    /// Tenant id (required).
    #[param(value_type = Option<i64>)]
    pub tenant: Option<TenantId>,
    /// Only notices in this state (`queued`, `held`, `sending`, `sent`, `rejected`,
    /// `delivery_unknown`, `cancelled`).
    pub state: Option<String>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// `GET /api/v1/takedown/notices?tenant=&state=`.
#[utoipa::path(get, path = "/api/v1/takedown/notices", tag = "takedown",
    summary = "A tenant's notices", params(NoticesQuery),
    responses((status = 200, description = "notices with their items and delivery state", body = Vec<Object>),
              (status = 400, description = "`tenant` missing, or an unknown `state`")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list_notices(
    State(state): State<AppState>,
    _a: Analyst,
    Query(q): Query<NoticesQuery>,
) -> ApiResult<Json<Vec<Notice>>> {
    let tenant = q
        .tenant
        .ok_or_else(|| Problem::bad_request("the `tenant` query parameter is required"))?;
    let st = q
        .state
        .as_deref()
        .map(str::parse::<NoticeState>)
        .transpose()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(state.store.notices(tenant, st, limit).await?))
}

/// `?tenant=` on a single notice (must match when given).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticeQuery {
    /// Tenant id.
    #[param(value_type = Option<i64>)]
    pub tenant: Option<TenantId>,
}

async fn notice_in(state: &AppState, id: NoticeId, tenant: Option<TenantId>) -> ApiResult<Notice> {
    match state.store.notice(id).await? {
        Some(n) if tenant.is_none_or(|t| t == n.tenant_id) => Ok(n),
        _ => Err(Problem::not_found(format!("notice {id} not found"))),
    }
}

/// `GET /api/v1/takedown/notices/{id}`.
#[utoipa::path(get, path = "/api/v1/takedown/notices/{id}", tag = "takedown",
    summary = "One notice", params(("id" = i64, Path, description = "Notice id"), NoticeQuery),
    responses((status = 200, description = "the notice", body = Object),
              (status = 404, description = "no such notice (or not of `tenant`)")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_notice(
    State(state): State<AppState>,
    _a: Analyst,
    Path(id): Path<NoticeId>,
    Query(q): Query<NoticeQuery>,
) -> ApiResult<Json<Notice>> {
    Ok(Json(notice_in(&state, id, q.tenant).await?))
}

/// Body of `POST /api/v1/takedown/notices/{id}/resolve`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResolveIn {
    /// `false`: the message is known to have gone out (mark sent); `true`: send it again
    /// (same reference, so the same Message-ID: receivers can de-duplicate).
    pub requeue: bool,
}

/// `POST /api/v1/takedown/notices/{id}/resolve`: a human decision on a `delivery_unknown`
/// notice.
#[utoipa::path(post, path = "/api/v1/takedown/notices/{id}/resolve", tag = "takedown",
    summary = "Decide a `delivery_unknown` notice: mark it sent, or send it again",
    params(("id" = i64, Path, description = "Notice id"), NoticeQuery),
    request_body = ResolveIn,
    responses((status = 200, description = "the notice afterwards", body = Object),
              (status = 404, description = "no such notice (or not of `tenant`)"),
              (status = 409, description = "the notice is not `delivery_unknown`"),
              (status = 422, description = "the body does not match the schema")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn resolve(
    State(state): State<AppState>,
    a: Analyst,
    Path(id): Path<NoticeId>,
    Query(q): Query<NoticeQuery>,
    JsonBody(b): JsonBody<ResolveIn>,
) -> ApiResult<Json<Notice>> {
    let n = notice_in(&state, id, q.tenant).await?;
    if n.state != NoticeState::DeliveryUnknown {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "invalid-transition",
            "Not allowed in the notice's current state",
            format!(
                "only a delivery_unknown notice can be resolved; this one is {}",
                n.state
            ),
        ));
    }
    let n = state
        .store
        .resolve_unknown_notice(&a.0, id, b.requeue, state.clock.now())
        .await
        .map_err(conflict)?;
    Ok(Json(n))
}

fn conflict(e: StoreError) -> Problem {
    match e {
        StoreError::Invalid(msg) => Problem::new(
            StatusCode::CONFLICT,
            "invalid-transition",
            "Not allowed in the current state",
            msg,
        ),
        other => other.into(),
    }
}

// --- policy (admin) ---

async fn existing_tenant(state: &AppState, id: TenantId) -> ApiResult<()> {
    match state.store.tenant(id).await? {
        Some(_) => Ok(()),
        None => Err(Problem::not_found(format!("tenant {id} not found"))),
    }
}

/// `GET /api/v1/admin/tenants/{id}/takedown-policy` (the defaults when never set).
#[utoipa::path(get, path = "/api/v1/admin/tenants/{tenant_id}/takedown-policy", tag = "takedown",
    operation_id = "get_takedown_policy",
    summary = "A tenant's takedown policy (the defaults when never set)",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    responses((status = 200, description = "the policy: notice delays and reminder intervals, escalation rungs", body = Object),
              (status = 404, description = "no such tenant")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_policy(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(tenant_id): Path<TenantId>,
) -> ApiResult<Json<TakedownPolicy>> {
    existing_tenant(&state, tenant_id).await?;
    Ok(Json(state.store.takedown_policy(tenant_id).await?))
}

/// `PUT /api/v1/admin/tenants/{id}/takedown-policy`: the whole policy (missing fields take
/// their defaults, unknown fields are refused); `422` when it does not validate.
#[utoipa::path(put, path = "/api/v1/admin/tenants/{tenant_id}/takedown-policy", tag = "takedown",
    operation_id = "put_takedown_policy",
    summary = "Set a tenant's takedown policy",
    description = "The whole policy, as `GET` returns it: missing fields take their defaults, unknown fields are refused.",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    request_body(content = Object, description = "the takedown policy", content_type = "application/json"),
    responses((status = 200, description = "the policy now in force", body = Object),
              (status = 404, description = "no such tenant"),
              (status = 422, description = "a value is out of range (`invalid-policy`), or the body does not match the policy")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put_policy(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(tenant_id): Path<TenantId>,
    JsonBody(p): JsonBody<TakedownPolicy>,
) -> ApiResult<Json<TakedownPolicy>> {
    existing_tenant(&state, tenant_id).await?;
    p.validate().map_err(|e| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-policy",
            "Invalid takedown policy",
            e.to_string(),
        )
    })?;
    state
        .store
        .set_takedown_policy(&admin.actor(), tenant_id, &p, state.clock.now())
        .await?;
    Ok(Json(state.store.takedown_policy(tenant_id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_key_and_reference() {
        let k1 = [7u8; 32];
        let k2 = [8u8; 32];
        let s = link_signature(&k1, "NL-1-5");
        assert_eq!(s.len(), 64);
        assert!(signature_ok(&k1, "NL-1-5", &s));
        assert!(signature_ok(&k1, "NL-1-5", &s.to_uppercase()));
        assert!(!signature_ok(&k2, "NL-1-5", &s));
        assert!(!signature_ok(&k1, "NL-1-6", &s));
        assert!(!signature_ok(&k1, "NL-1-5", &s[..62]));
        assert!(!signature_ok(&k1, "NL-1-5", "zz"));
        assert!(!signature_ok(&k1, "NL-1-5", ""));
        assert_eq!(
            response_link("https://hotline.example/", &k1, "NL-1-5"),
            format!("https://hotline.example/respond/NL-1-5?sig={s}")
        );
    }

    #[test]
    fn responses_are_checked() {
        let r = |kind: &str, st: Option<&str>| {
            parse_response(&RespondIn {
                kind: kind.into(),
                statement: st.map(str::to_owned),
            })
        };
        assert_eq!(r("ack", None), Ok((ResponseKind::Ack, None)));
        assert_eq!(
            r("dispute", Some(" not ours ")),
            Ok((ResponseKind::Dispute, Some("not ours".into())))
        );
        assert!(r("dispute", Some("  ")).is_err());
        assert!(r("maybe", None).is_err());
        assert!(r("ack", Some(&"x".repeat(MAX_STATEMENT_CHARS + 1))).is_err());
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
