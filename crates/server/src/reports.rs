//! Hotline report intake: the partner API (batch JSON), CSV upload by analysts, the public web
//! form, and the admin settings for partners and per-tenant report policy.
//!
//! Who may report: the public (form, anonymous, rate-limited per IP), and *report partners* —
//! organisations (partner hotlines, police units, trusted flaggers) registered with
//! `PUT /api/admin/organisations/{id}/report-partner`. Partners authenticate with their
//! organisation's ordinary API key; registration is the scope. Why not a new key role: one key
//! per organisation stays the unit that is issued, rotated and revoked, and a partner that also
//! checks hashes needs no second secret.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{KeyInit, Mac};
use schoon_core::report::SourceKind;
use schoon_core::{OrgId, TenantId};
use serde::{Deserialize, Serialize};
use store::reports::{JOB_PURGE, NewReport, ReportPolicy, Submitted};
use store::{Actor, NewJob, StoreError};

use crate::app::{AppState, JsonBody};
use crate::auth::{AdminCaller, CheckCaller};
use crate::problem::{ItemError, Problem};

type ApiResult<T> = Result<T, Problem>;
type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Most reports in one API batch or CSV upload.
pub const MAX_REPORT_BATCH: usize = 5_000;
/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Longest note.
pub const MAX_NOTE_LEN: usize = 4000;
/// How long a public form token is valid.
const FORM_TOKEN_TTL_SECS: i64 = 2 * 3600;

/// `[reports]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportsConfig {
    /// Run the report worker in `schoon serve`.
    pub worker: bool,
    /// How often the worker polls the job queue, in milliseconds.
    pub poll_interval_ms: u64,
    /// Lease of a claimed report job, in seconds: a job of a worker that died is taken up by
    /// another one after this long (default [`JOB_LEASE`]).
    pub job_lease_secs: u64,
    /// A URL reported again within this many hours while its report is open joins it.
    pub dedupe_window_hours: i64,
    /// Evidence of a closed report is purged this many hours after closing (0: at the next purge).
    pub retention_hours: i64,
    /// How often a purge job is scheduled, in seconds.
    pub purge_interval_secs: u64,
    /// Classification lock duration in seconds.
    pub lock_secs: i64,
    /// Most media items taken from one page.
    pub max_items_per_page: usize,
    /// Public form submissions per IP per minute (0: form disabled).
    pub public_form_per_minute: u32,
    /// Tenant name the public form files into (default: the first tenant).
    pub public_form_tenant: Option<String>,
    /// Vault keys (`["k2:BASE64", "k1:BASE64"]`, current first). Empty: a key is generated on
    /// first start into `<data_dir>/vault.keys` (see README: protects backups that skip that
    /// file; production should supply keys here or via `SCHOON_REPORTS__VAULT_KEYS`).
    pub vault_keys: Vec<String>,
    /// Vault directory (default `<data_dir>/vault`).
    pub vault_dir: Option<PathBuf>,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            worker: true,
            poll_interval_ms: 500,
            job_lease_secs: JOB_LEASE.as_secs(),
            dedupe_window_hours: 24 * 7,
            retention_hours: 90 * 24,
            purge_interval_secs: 3600,
            lock_secs: 15 * 60,
            max_items_per_page: 100,
            public_form_per_minute: 5,
            public_form_tenant: None,
            vault_keys: Vec::new(),
            vault_dir: None,
        }
    }
}

/// Runtime state of report processing (held in [`crate::app::Inner`]).
pub struct ReportsCtx {
    /// The evidence vault.
    pub vault: Arc<vault::Vault>,
    form_limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    form_secret: [u8; 32],
}

impl ReportsCtx {
    /// Opens the vault (generating a key on first start when none is configured).
    pub fn open(config: &crate::config::Config) -> anyhow::Result<ReportsCtx> {
        let rc = &config.reports;
        let ring = if rc.vault_keys.is_empty() {
            load_or_create_keys(&config.data_dir.join("vault.keys"))?
        } else {
            vault::KeyRing::from_config(&rc.vault_keys)?
        };
        let dir = rc
            .vault_dir
            .clone()
            .unwrap_or_else(|| config.data_dir.join("vault"));
        let vault = vault::Vault::open(&dir, ring)?;
        let form_limiter = NonZeroU32::new(rc.public_form_per_minute)
            .map(|n| RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)));
        let mut form_secret = [0u8; 32];
        rand::fill(&mut form_secret);
        Ok(ReportsCtx {
            vault: Arc::new(vault),
            form_limiter,
            form_secret,
        })
    }

    fn form_token(&self, issued: i64) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.form_secret).expect("any key length");
        mac.update(format!("report-form|{issued}").as_bytes());
        format!("{issued}.{}", hex::encode(mac.finalize().into_bytes()))
    }

    fn form_token_valid(&self, token: &str, now: i64) -> bool {
        let Some((issued, _)) = token.split_once('.') else {
            return false;
        };
        let Ok(issued) = issued.parse::<i64>() else {
            return false;
        };
        if now < issued || now - issued > FORM_TOKEN_TTL_SECS {
            return false;
        }
        let expected = self.form_token(issued);
        expected.len() == token.len()
            && expected
                .bytes()
                .zip(token.bytes())
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0
    }
}

fn load_or_create_keys(path: &std::path::Path) -> anyhow::Result<vault::KeyRing> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let entries: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        return Ok(vault::KeyRing::from_config(&entries)?);
    }
    let ring = vault::KeyRing::generate("k1")?;
    let text: String = ring
        .export_config_entries()
        .iter()
        .map(|e| format!("{}\n", e.as_str()))
        .collect();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    write_private(path, text.as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        "generated an evidence vault key next to the data; supply [reports] vault_keys in production"
    );
    Ok(ring)
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
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
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// One report in an API batch.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    /// The URL (at most 2048 bytes; normalised before filing).
    pub url: String,
    /// Where it was seen (a URL, at most 2048 bytes).
    #[serde(default)]
    pub referer: Option<String>,
    /// Free text (at most 4000 bytes).
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /api/v1/reports` body (unknown fields are refused).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBatch {
    /// The reports (1 to 5,000).
    pub reports: Vec<ReportInput>,
}

/// Answer to an intake.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IntakeResponse {
    /// One result per submitted URL, in order.
    #[schema(value_type = Vec<crate::openapi::SubmittedSchema>)]
    pub results: Vec<Submitted>,
}

fn clean_text(what: &str, v: Option<String>, max: usize) -> Result<Option<String>, String> {
    let Some(v) = v else { return Ok(None) };
    let v = v.trim().to_string();
    if v.is_empty() {
        return Ok(None);
    }
    if v.len() > max {
        return Err(format!("{what} is longer than {max} bytes"));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(format!("{what} contains control characters"));
    }
    Ok(Some(v))
}

/// Validates and normalises one report.
pub fn build_report(
    url: &str,
    referer: Option<String>,
    note: Option<String>,
    source_kind: SourceKind,
    source_org_id: Option<OrgId>,
    reporter_email: Option<String>,
) -> Result<NewReport, String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!("url is longer than {MAX_URL_LEN} bytes"));
    }
    let n = fetch::normalize(url).map_err(|e| format!("url: {e}"))?;
    let referer = clean_text("referer", referer, MAX_URL_LEN)?;
    let note = clean_text("note", note, MAX_NOTE_LEN)?;
    let reporter_email = clean_text("email", reporter_email, 254)?;
    if let Some(e) = &reporter_email {
        let ok = e.split('@').count() == 2
            && !e.starts_with('@')
            && !e.ends_with('@')
            && !e.chars().any(|c| c.is_whitespace() || c == '<' || c == '>');
        if !ok {
            return Err("email is not an e-mail address".into());
        }
    }
    Ok(NewReport {
        url: n.url.to_string(),
        original_url: url.trim().to_string(),
        registrable_domain: n.registrable_domain,
        referer,
        note,
        source_kind,
        source_org_id,
        reporter_email,
    })
}

fn dedupe_since(state: &AppState) -> chrono::DateTime<chrono::Utc> {
    schoon_core::audit::now()
        - chrono::Duration::hours(state.config.reports.dedupe_window_hours.max(0))
}

fn store_problem(e: StoreError) -> Problem {
    e.into()
}

/// `POST /api/v1/reports`: a report partner files a batch (all or nothing).
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports",
    summary = "File a batch of reports (report partners; all or nothing)",
    description = "With the API key of an organisation registered as a report partner (`PUT /api/admin/organisations/{org_id}/report-partner`). A URL reported again while its report is open joins that report (`joined`).",
    request_body = ReportBatch,
    responses((status = 201, description = "filed: one result per URL, in request order", body = IntakeResponse),
              (status = 400, description = "empty batch, or invalid reports (each listed by `errors[].index`); nothing was filed"),
              (status = 403, description = "not an organisation's API key, or the organisation is not a report partner"),
              (status = 413, description = "more than 5,000 reports, or the body is too large"),
              (status = 422, description = "the body does not match the schema")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn submit(
    State(state): State<AppState>,
    caller: CheckCaller,
    JsonBody(batch): JsonBody<ReportBatch>,
) -> ApiResult<Response> {
    let kind = state
        .store
        .report_partner(caller.org_id)
        .await?
        .ok_or_else(|| {
            Problem::forbidden(
                "this organisation is not registered as a report partner (PUT /api/admin/organisations/{id}/report-partner)",
            )
        })?;
    if batch.reports.is_empty() {
        return Err(Problem::bad_request("`reports` is empty"));
    }
    if batch.reports.len() > MAX_REPORT_BATCH {
        return Err(Problem::too_large(format!(
            "at most {MAX_REPORT_BATCH} reports per request"
        )));
    }
    let mut errors = Vec::new();
    let mut new = Vec::with_capacity(batch.reports.len());
    for (i, r) in batch.reports.into_iter().enumerate() {
        match build_report(&r.url, r.referer, r.note, kind, Some(caller.org_id), None) {
            Ok(n) => new.push(n),
            Err(detail) => errors.push(ItemError {
                index: Some(i),
                line: None,
                detail,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(Problem::bad_request(format!(
            "{} of the reports are invalid; nothing was filed",
            errors.len()
        ))
        .with_errors(errors));
    }
    let actor = Actor(format!("key:{}", caller.key_id));
    let results = state
        .store
        .submit_reports(&actor, caller.tenant_id, new, dedupe_since(&state))
        .await
        .map_err(store_problem)?;
    Ok((StatusCode::CREATED, Json(IntakeResponse { results })).into_response())
}

/// Parses a `url;referer;note;source` CSV (optional header line; `;` or `,` separated;
/// quoted fields allowed). All lines are checked before anything is filed.
pub fn parse_csv(text: &str) -> Result<Vec<NewReport>, Vec<ItemError>> {
    let delimiter = if text.lines().next().is_some_and(|l| l.contains(';')) {
        b';'
    } else {
        b','
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = rec
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map(|p| p.line() as usize)
            .unwrap_or(i + 1);
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(ItemError {
                    index: None,
                    line: Some(line),
                    detail: format!("unreadable CSV: {e}"),
                });
                continue;
            }
        };
        let field = |n: usize| rec.get(n).map(str::trim).unwrap_or("");
        if i == 0 && field(0).eq_ignore_ascii_case("url") {
            continue;
        }
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if rec.len() > 4 {
            errors.push(ItemError {
                index: None,
                line: Some(line),
                detail: format!(
                    "expected at most 4 fields (url;referer;note;source), got {}",
                    rec.len()
                ),
            });
            continue;
        }
        let source = match field(3) {
            "" => Ok(SourceKind::Internal),
            s => s.parse::<SourceKind>().map_err(|_| {
                format!(
                    "source {s:?} must be one of public, hotline, police, trusted_flagger, internal"
                )
            }),
        };
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let built = source.and_then(|kind| {
            build_report(field(0), opt(field(1)), opt(field(2)), kind, None, None)
        });
        match built {
            Ok(r) => out.push(r),
            Err(detail) => errors.push(ItemError {
                index: None,
                line: Some(line),
                detail,
            }),
        }
    }
    if out.is_empty() && errors.is_empty() {
        errors.push(ItemError {
            index: None,
            line: None,
            detail: "the file contains no reports".into(),
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// `POST /api/v1/tenants/{tenant_id}/reports/csv`: an analyst uploads reports (all or nothing).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/reports/csv", tag = "reports",
    summary = "Upload reports as CSV (analysts; all or nothing)",
    description = "Lines `url;referer;note;source` (`;` or `,` separated, optional header line, quoted fields allowed); `source` is one of `public`, `hotline`, `police`, `trusted_flagger`, `internal` (default). UTF-8, at most 16 MiB and 5,000 reports.",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, description = "filed: one result per report, in file order", body = IntakeResponse),
              (status = 400, description = "not UTF-8, or invalid lines (each listed by `errors[].line`); nothing was filed"),
              (status = 404, description = "no such tenant"),
              (status = 413, description = "more than 5,000 reports, or the file is too large")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn upload_csv(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(tenant_id): Path<TenantId>,
    body: Bytes,
) -> ApiResult<Response> {
    state
        .store
        .tenant(tenant_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("tenant {tenant_id}")))?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| Problem::bad_request(format!("the file is not UTF-8: {e}")))?;
    let reports = parse_csv(text).map_err(|errors| {
        Problem::bad_request(format!(
            "{} line(s) are invalid; nothing was filed",
            errors.len()
        ))
        .with_errors(errors)
    })?;
    if reports.len() > MAX_REPORT_BATCH {
        return Err(Problem::too_large(format!(
            "at most {MAX_REPORT_BATCH} reports per upload"
        )));
    }
    let results = state
        .store
        .submit_reports(&admin.actor(), tenant_id, reports, dedupe_since(&state))
        .await
        .map_err(store_problem)?;
    Ok((StatusCode::CREATED, Json(IntakeResponse { results })).into_response())
}

/// `PUT /api/admin/organisations/{org_id}/report-partner` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerRequest {
    /// `hotline`, `police`, `trusted_flagger` or `internal`.
    #[schema(value_type = String, example = "hotline")]
    pub kind: SourceKind,
}

/// Registers an organisation as a report partner.
#[utoipa::path(put, path = "/api/admin/organisations/{org_id}/report-partner", tag = "reports",
    description = "Its API key may then file reports with `POST /api/v1/reports`, weighted as `kind`.",
    params(("org_id" = i64, Path, description = "Organisation id")),
    request_body = PartnerRequest,
    responses((status = 200, description = "`{org_id, kind}`", body = Object),
              (status = 400, description = "`kind` is `public` (not a partner kind)"),
              (status = 404, description = "no such organisation"),
              (status = 422, description = "the body does not match the schema (e.g. an unknown `kind`)")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn set_partner(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(org_id): Path<OrgId>,
    JsonBody(req): JsonBody<PartnerRequest>,
) -> ApiResult<Response> {
    state
        .store
        .set_report_partner(&admin.actor(), org_id, req.kind)
        .await
        .map_err(store_problem)?;
    Ok(Json(serde_json::json!({"org_id": org_id, "kind": req.kind})).into_response())
}

/// Sets a tenant's report policy (reference prefix, 4-eyes).
#[utoipa::path(put, path = "/api/admin/tenants/{tenant_id}/report-policy", tag = "reports",
    operation_id = "set_report_policy",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    request_body = crate::openapi::ReportPolicySchema,
    responses((status = 200, description = "the policy now in force", body = crate::openapi::ReportPolicySchema),
              (status = 400, description = "`reference_prefix` is not 1 to 8 ASCII letters or digits"),
              (status = 404, description = "no such tenant"),
              (status = 422, description = "the body does not match the schema")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn set_policy(
    State(state): State<AppState>,
    admin: AdminCaller,
    Path(tenant_id): Path<TenantId>,
    JsonBody(p): JsonBody<ReportPolicy>,
) -> ApiResult<Json<ReportPolicy>> {
    state
        .store
        .set_report_policy(&admin.actor(), tenant_id, p)
        .await
        .map_err(store_problem)?;
    Ok(Json(state.store.report_policy(tenant_id).await?))
}

/// A tenant's report policy.
#[utoipa::path(get, path = "/api/admin/tenants/{tenant_id}/report-policy", tag = "reports",
    operation_id = "get_report_policy",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    responses((status = 200, description = "the policy (the defaults when never set)", body = crate::openapi::ReportPolicySchema),
              (status = 404, description = "no such tenant")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_policy(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(tenant_id): Path<TenantId>,
) -> ApiResult<Json<ReportPolicy>> {
    Ok(Json(state.store.report_policy(tenant_id).await?))
}

/// `POST /api/admin/reports/purge`: schedules an evidence purge now.
#[utoipa::path(post, path = "/api/admin/reports/purge", tag = "reports",
    summary = "Schedule an evidence purge now",
    description = "Evidence of reports closed longer than the retention period is purged by a job; this queues one at once.",
    responses((status = 202, description = "`{job_id}` of the queued purge job", body = Object)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn purge_now(State(state): State<AppState>, _admin: AdminCaller) -> ApiResult<Response> {
    let id = state
        .store
        .enqueue_job(NewJob {
            kind: JOB_PURGE.into(),
            payload: serde_json::json!({}),
            run_at: schoon_core::audit::now(),
            max_attempts: 3,
            idempotency_key: None,
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"job_id": id})),
    )
        .into_response())
}

// --- public form ---

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

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>body{{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}}\
         label{{display:block;margin-top:1em}}input,textarea{{width:100%}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    );
    let mut resp = Html(html).into_response();
    let h = resp.headers_mut();
    // No external assets, no framing, no referrer leaking the reported URL.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

fn form_html(token: &str, error: Option<&str>, url: &str, note: &str, email: &str) -> String {
    let err = error
        .map(|e| format!("<p role=\"alert\"><strong>{}</strong></p>", esc(e)))
        .unwrap_or_default();
    format!(
        "{err}<p>Report a web address where you saw sexual abuse material of children. \
         Do not send the images themselves. You may stay anonymous.</p>\
         <form method=\"post\" action=\"/report\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label>Web address (URL) <input name=\"url\" required maxlength=\"2048\" value=\"{url}\"></label>\
         <label>What did you see? (optional) <textarea name=\"note\" maxlength=\"4000\">{note}</textarea></label>\
         <label>Your e-mail address, if we may contact you (optional) <input name=\"email\" type=\"email\" maxlength=\"254\" value=\"{email}\"></label>\
         <p><button type=\"submit\">Send report</button></p></form>",
        token = esc(token),
        url = esc(url),
        note = esc(note),
        email = esc(email),
    )
}

/// `GET /report`: the public report form.
pub async fn form(State(state): State<AppState>) -> Response {
    if state.reports.form_limiter.is_none() {
        return Problem::not_found("the public report form is disabled").into_response();
    }
    let token = state
        .reports
        .form_token(schoon_core::audit::now().timestamp());
    page(
        "Report illegal content",
        &form_html(&token, None, "", "", ""),
    )
}

/// The public form's fields.
#[derive(Debug, Deserialize)]
pub struct FormInput {
    /// Anti-CSRF token from the form.
    #[serde(default)]
    pub token: String,
    /// URL.
    #[serde(default)]
    pub url: String,
    /// Note.
    #[serde(default)]
    pub note: String,
    /// Optional contact address.
    #[serde(default)]
    pub email: String,
}

/// The submitter's address for the per-address limit ([`crate::client_ip`]).
fn client_ip(state: &AppState, req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| {
            crate::client_ip::client_ip(c.0.ip(), req.headers(), &state.config.trusted_proxies)
        })
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

fn same_origin(headers: &HeaderMap) -> bool {
    // Browsers send Origin on POST; when present it must name this host. A missing Origin
    // (old browsers, curl) falls back to the token alone.
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host)
}

/// `POST /report`: files a public report.
pub async fn form_submit(State(state): State<AppState>, req: Request) -> Response {
    let ip = client_ip(&state, &req);
    let Some(limiter) = &state.reports.form_limiter else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "form-disabled",
            "Not found",
            "the public report form is disabled",
        )
        .into_response();
    };
    if limiter.len() > 100_000 {
        // Bound the per-IP state: forget addresses whose budget has refilled.
        limiter.retain_recent();
    }
    if limiter.check_key(&ip).is_err() {
        let mut r = page(
            "Too many reports",
            "<p>Too many reports from your address. Please try again in a few minutes.</p>",
        );
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
        return r;
    }
    let headers = req.headers().clone();
    let body = match axum::body::to_bytes(req.into_body(), 64 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return Problem::too_large("form too large").into_response();
        }
    };
    let input: FormInput = match serde_urlencoded::from_bytes(&body) {
        Ok(v) => v,
        Err(e) => return Problem::bad_request(format!("invalid form: {e}")).into_response(),
    };
    let now = schoon_core::audit::now().timestamp();
    let fresh = state.reports.form_token(now);
    if !same_origin(&headers) || !state.reports.form_token_valid(&input.token, now) {
        let mut r = page(
            "Report illegal content",
            &form_html(
                &fresh,
                Some("The form expired or came from another site. Please send it again."),
                &input.url,
                &input.note,
                &input.email,
            ),
        );
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    let built = build_report(
        &input.url,
        None,
        Some(input.note.clone()),
        SourceKind::Public,
        None,
        Some(input.email.clone()),
    );
    let new = match built {
        Ok(n) => n,
        Err(e) => {
            let mut r = page(
                "Report illegal content",
                &form_html(&fresh, Some(&e), &input.url, &input.note, &input.email),
            );
            *r.status_mut() = StatusCode::BAD_REQUEST;
            return r;
        }
    };
    let tenant = match public_tenant(&state).await {
        Ok(t) => t,
        Err(p) => return p.into_response(),
    };
    match state
        .store
        .submit_reports(
            &Actor("public".into()),
            tenant,
            vec![new],
            dedupe_since(&state),
        )
        .await
    {
        Ok(s) => {
            let reference = s.first().map(|s| s.reference.clone()).unwrap_or_default();
            let mut r = page(
                "Thank you",
                &format!(
                    "<p>Your report has been received. Reference: <strong id=\"reference\">{}</strong></p>",
                    esc(&reference)
                ),
            );
            *r.status_mut() = StatusCode::CREATED;
            r
        }
        Err(e) => store_problem(e).into_response(),
    }
}

async fn public_tenant(state: &AppState) -> ApiResult<TenantId> {
    let tenants = state.store.tenants().await?;
    let t = match &state.config.reports.public_form_tenant {
        Some(name) => tenants.iter().find(|t| &t.name == name),
        None => tenants.iter().min_by_key(|t| t.id),
    };
    t.map(|t| t.id)
        .ok_or_else(|| Problem::unavailable("no tenant receives public reports"))
}

/// How long the worker lease on a report job lasts (a fetch of many items can take a while).
pub const JOB_LEASE: Duration = Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_are_checked_all_or_nothing() {
        let ok = "url;referer;note;source\nhttps://Example.COM:443/a#x;;first;hotline\nhttp://b.example/;https://r.example/;;\n";
        let r = parse_csv(ok).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].url, "https://example.com/a");
        assert_eq!(r[0].source_kind, SourceKind::Hotline);
        assert_eq!(r[1].source_kind, SourceKind::Internal);

        let bad = "url;referer;note;source\nhttps://a.example/\nftp://x.example/;;;\nhttps://c.example/;;;pope\n";
        let errs = parse_csv(bad).unwrap_err();
        let lines: Vec<_> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![Some(3), Some(4)], "{errs:?}");
    }

    #[test]
    fn emails_and_notes_are_validated() {
        assert!(
            build_report(
                "https://a.example/",
                None,
                None,
                SourceKind::Public,
                None,
                Some("x@y.example".into())
            )
            .is_ok()
        );
        assert!(
            build_report(
                "https://a.example/",
                None,
                None,
                SourceKind::Public,
                None,
                Some("nope".into())
            )
            .is_err()
        );
        assert!(
            build_report(
                "https://a.example/",
                None,
                Some("a\u{0}b".into()),
                SourceKind::Public,
                None,
                None
            )
            .is_err()
        );
        assert!(
            build_report(
                "javascript:alert(1)",
                None,
                None,
                SourceKind::Public,
                None,
                None
            )
            .is_err()
        );
        assert_eq!(esc("<a href=\"x\">"), "&lt;a href=&quot;x&quot;&gt;");
    }
}
