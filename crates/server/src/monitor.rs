//! The public hosting monitor ([monitor] part 2): how many notices each hosting organisation
//! received and how fast it removed the material, per period. No login.
//!
//! - `GET /monitor`: ranking table for a period (`?from=YYYY-MM&to=YYYY-MM`, both months
//!   inclusive, default the last 12 months up to the current one), ranked by `?metric=` with a
//!   minimum volume `?min=`, the methodology next to the numbers.
//! - `GET /monitor/org/{name}`: one organisation: all figures, removal-time histogram and
//!   monthly trend (SVG), its published right-of-reply note.
//! - `GET /monitor.csv`, `GET /monitor.json`: the report, with the method version.
//!
//! `?tenant=<name>` picks the tenant; without it the only tenant is used. Only
//! organisation-level numbers are published: no URL, digest or case appears here (the report
//! types carry none). The store is read at most once per tenant per [`CACHE_TTL`], and
//! computed reports are cached as long, so the public pages cannot be used to load the server.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use attribution::AsnLookup;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Datelike, Utc};
use schoon_core::{Tenant, TenantId};
use schoon_monitor::{
    AnnouncedSpace, Lang, METHOD_VERSION, MonitorConfig, MonitorInput, MonitorReport, OrgKey,
    OrgStats, Period, RankMetric, RankOrder, Share, TrendPoint, compute_report, export,
    methodology, monthly_trend, rank, svg,
};
use serde::Deserialize;
use store::orders::ProviderReply;
use tokio::sync::Mutex;

use crate::app::AppState;

/// How long store reads and computed reports are reused.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// Cached reports and trends kept at most (periods are chosen by the visitor).
const CACHE_ENTRIES: usize = 256;
/// Longest period a visitor may ask for, in months.
const MAX_MONTHS: i32 = 60;
/// Default minimum number of cases for a rank.
const DEFAULT_MIN_CASES: u64 = 10;

/// The monitor's routes (public, no authentication).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/monitor", get(ranking_page))
        .route("/monitor.csv", get(csv_export))
        .route("/monitor.json", get(json_export))
        .route("/monitor/org/{name}", get(org_page))
        .layer(Extension(Arc::new(Cache::default())))
}

/// The query of every monitor page.
#[derive(Debug, Default, Deserialize)]
pub struct MonitorQuery {
    /// Tenant name (optional with a single tenant).
    pub tenant: Option<String>,
    /// First month, `YYYY-MM`.
    pub from: Option<String>,
    /// Last month (inclusive), `YYYY-MM`.
    pub to: Option<String>,
    /// Ranking metric (snake_case [`RankMetric`]).
    pub metric: Option<String>,
    /// Minimum cases to be ranked.
    pub min: Option<String>,
    /// Language of the methodology text and chart labels: `en` (default) or `nl`.
    pub lang: Option<String>,
}

/// What one store read gives: the input and the tenant's published replies.
struct Snapshot {
    input: MonitorInput,
    replies: Vec<ProviderReply>,
}

/// Cached values with the time they were computed.
type Timed<K, V> = HashMap<K, (Instant, Arc<V>)>;

#[derive(Default)]
struct CacheInner {
    snapshots: Timed<TenantId, Snapshot>,
    reports: Timed<(TenantId, Period), MonitorReport>,
    /// Keyed by organisation name.
    trends: Timed<(TenantId, Period, String), Vec<TrendPoint>>,
}

/// Per-router cache. One lock for reads and computations: concurrent first visitors wait for
/// one computation instead of each starting their own.
#[derive(Default)]
pub struct Cache {
    inner: Mutex<CacheInner>,
}

fn fresh<K: std::hash::Hash + Eq, V: Clone>(map: &HashMap<K, (Instant, V)>, key: &K) -> Option<V> {
    map.get(key)
        .filter(|(at, _)| at.elapsed() < CACHE_TTL)
        .map(|(_, v)| v.clone())
}

fn remember<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, (Instant, V)>, key: K, value: V) {
    if map.len() >= CACHE_ENTRIES {
        map.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        if map.len() >= CACHE_ENTRIES {
            map.clear();
        }
    }
    map.insert(key, (Instant::now(), value));
}

impl Cache {
    async fn snapshot(
        inner: &mut CacheInner,
        state: &AppState,
        tenant: TenantId,
    ) -> Result<Arc<Snapshot>, PageError> {
        if let Some(s) = fresh(&inner.snapshots, &tenant) {
            return Ok(s);
        }
        let mut input = state
            .store
            .monitor_input(Some(tenant))
            .await
            .map_err(PageError::internal)?;
        // The first `announced` call of an MMDB source walks the whole database: off the
        // async workers.
        let sources = state.takedown.asn();
        let orgs: Vec<OrgKey> = {
            let mut v: Vec<OrgKey> = input
                .cases
                .iter()
                .flat_map(|c| c.hosters.iter().map(|h| h.org.clone()))
                .collect();
            v.sort();
            v.dedup();
            v
        };
        input.space = tokio::task::spawn_blocking(move || announced_space(&orgs, &sources))
            .await
            .unwrap_or_default();
        let replies = state
            .store
            .provider_replies(Some(tenant), true)
            .await
            .map_err(PageError::internal)?;
        let s = Arc::new(Snapshot { input, replies });
        remember(&mut inner.snapshots, tenant, s.clone());
        Ok(s)
    }

    async fn report(
        &self,
        state: &AppState,
        tenant: TenantId,
        period: Period,
    ) -> Result<(Arc<Snapshot>, Arc<MonitorReport>), PageError> {
        let mut inner = self.inner.lock().await;
        let snapshot = Self::snapshot(&mut inner, state, tenant).await?;
        if let Some(r) = fresh(&inner.reports, &(tenant, period)) {
            return Ok((snapshot, r));
        }
        let as_of = state.clock.now();
        let report = Arc::new(compute_report(
            &snapshot.input,
            &period,
            as_of,
            &MonitorConfig::STANDARD,
        ));
        remember(&mut inner.reports, (tenant, period), report.clone());
        Ok((snapshot, report))
    }

    async fn trend(
        &self,
        state: &AppState,
        tenant: TenantId,
        period: Period,
        report: &MonitorReport,
        row: &OrgStats,
    ) -> Result<Arc<Vec<TrendPoint>>, PageError> {
        let Some(org) = &row.org else {
            return Ok(Arc::new(Vec::new()));
        };
        let mut inner = self.inner.lock().await;
        let key = (tenant, period, org.name.clone());
        if let Some(t) = fresh(&inner.trends, &key) {
            return Ok(t);
        }
        let snapshot = Self::snapshot(&mut inner, state, tenant).await?;
        let trend = Arc::new(monthly_trend(
            &snapshot.input,
            Some(org),
            &period,
            report.as_of,
            &report.config,
        ));
        remember(&mut inner.trends, key, trend.clone());
        Ok(trend)
    }
}

/// Announced address space of each organisation's main AS, from the local AS sources (the
/// MMDB can tell; the prefix table cannot). Organisations without an AS or unknown to every
/// source get no entry, so their normalised figures stay empty.
fn announced_space(orgs: &[OrgKey], sources: &[Arc<dyn AsnLookup>]) -> Vec<AnnouncedSpace> {
    orgs.iter()
        .filter_map(|org| {
            let asn = org.asn?;
            let space = sources.iter().find_map(|s| s.announced(asn))?;
            Some(AnnouncedSpace {
                org: org.clone(),
                ipv4_addresses: space.ipv4_addresses,
                ipv6_slash48s: space.ipv6_slash48s,
            })
        })
        .collect()
}

/// An error page (HTML, escaped).
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    fn bad(message: impl Into<String>) -> PageError {
        PageError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> PageError {
        PageError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    fn internal(e: store::StoreError) -> PageError {
        tracing::error!(error = %e, "monitor: store read failed");
        PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "The monitor is temporarily unavailable.".into(),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = format!(
            "<h1>Hosting monitor</h1><p role=\"alert\">{}</p><p><a href=\"/monitor\">Back to the \
             monitor</a></p>",
            esc(&self.message)
        );
        let mut resp = html(page("Hosting monitor", &body));
        *resp.status_mut() = self.status;
        resp
    }
}

/// Everything a page needs after the query is checked.
struct Resolved {
    tenant: Tenant,
    /// Whether the tenant must be named in links (more than one tenant).
    named: bool,
    period: Period,
    from: String,
    to: String,
    /// Language of the methodology and the charts.
    lang: Lang,
}

async fn resolve(state: &AppState, q: &MonitorQuery) -> Result<Resolved, PageError> {
    let tenants = state.store.tenants().await.map_err(PageError::internal)?;
    let named = tenants.len() > 1;
    let tenant = match q.tenant.as_deref().filter(|t| !t.is_empty()) {
        Some(name) => tenants
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| PageError::not_found(format!("There is no tenant named {name:?}.")))?,
        None if !named => tenants
            .into_iter()
            .next()
            .ok_or_else(|| PageError::not_found("There is no tenant yet."))?,
        None => {
            return Err(PageError::bad(
                "Several tenants publish a monitor here: add ?tenant=<name>.",
            ));
        }
    };
    let (period, from, to) = parse_period(q.from.as_deref(), q.to.as_deref(), state.clock.now())?;
    let lang = match q.lang.as_deref().unwrap_or("") {
        "" | "en" => Lang::En,
        "nl" => Lang::Nl,
        other => {
            return Err(PageError::bad(format!(
                "Unknown language {other:?} (en, nl)."
            )));
        }
    };
    Ok(Resolved {
        tenant,
        named,
        period,
        from,
        to,
        lang,
    })
}

fn parse_month(s: &str) -> Option<(i32, u32)> {
    let (y, m) = s.trim().split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let year: i32 = y.parse().ok()?;
    let month: u32 = m.parse().ok()?;
    ((1970..=9998).contains(&year) && (1..=12).contains(&month)).then_some((year, month))
}

fn month_index((y, m): (i32, u32)) -> i32 {
    y * 12 + m as i32 - 1
}

fn month_of(index: i32) -> (i32, u32) {
    (index.div_euclid(12), index.rem_euclid(12) as u32 + 1)
}

/// `[first day of from, first day after to)`; the default is the 12 months up to the current.
fn parse_period(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Period, String, String), PageError> {
    let bad = |s: &str| PageError::bad(format!("{s:?} is not a month (YYYY-MM)."));
    let current = month_index((now.year(), now.month()));
    let to_m = match to.filter(|s| !s.trim().is_empty()) {
        Some(s) => month_index(parse_month(s).ok_or_else(|| bad(s))?),
        None => current,
    };
    let from_m = match from.filter(|s| !s.trim().is_empty()) {
        Some(s) => month_index(parse_month(s).ok_or_else(|| bad(s))?),
        None => to_m - 11,
    };
    if from_m > to_m {
        return Err(PageError::bad("The first month is after the last month."));
    }
    if to_m - from_m >= MAX_MONTHS {
        return Err(PageError::bad(format!(
            "A period can span at most {MAX_MONTHS} months."
        )));
    }
    let (fy, fm) = month_of(from_m);
    let (ty, tm) = month_of(to_m);
    let first = Period::month(fy, fm).map_err(|e| PageError::bad(e.to_string()))?;
    let last = Period::month(ty, tm).map_err(|e| PageError::bad(e.to_string()))?;
    let period = Period::new(first.from(), last.to()).map_err(|e| PageError::bad(e.to_string()))?;
    Ok((
        period,
        format!("{fy:04}-{fm:02}"),
        format!("{ty:04}-{tm:02}"),
    ))
}

fn parse_metric(s: Option<&str>) -> Result<RankMetric, PageError> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(RankMetric::RemovedWithin24h),
        Some(s) => serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| PageError::bad(format!("Unknown ranking metric {s:?}."))),
    }
}

fn parse_min(s: Option<&str>) -> Result<u64, PageError> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_MIN_CASES),
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| PageError::bad("The minimum number of cases must be 1 to 100000.")),
    }
}

fn metric_label(m: RankMetric) -> &'static str {
    match m {
        RankMetric::Urls => "URLs received",
        RankMetric::Notices => "Notices received",
        RankMetric::RemovalP50 => "Median removal time",
        RankMetric::RemovalP90 => "90th percentile removal time",
        RankMetric::RemovedWithin24h => "Share removed within 24 hours",
        RankMetric::OnlineAtPeriodEnd => "Share online at period end",
        RankMetric::NonResponse => "Share without response",
        RankMetric::RepeatOffences => "Repeat offences per case",
        RankMetric::UrlsPerSlash24 => "URLs per announced IPv4 /24",
    }
}

fn metric_slug(m: RankMetric) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn ranking_page(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<Cache>>,
    Query(q): Query<MonitorQuery>,
) -> Result<Response, PageError> {
    let r = resolve(&state, &q).await?;
    let metric = parse_metric(q.metric.as_deref())?;
    let min = parse_min(q.min.as_deref())?;
    let (_, report) = cache.report(&state, r.tenant.id, r.period).await?;
    Ok(html(page(
        "Hosting monitor",
        &ranking_body(&r, &report, metric, min),
    )))
}

async fn org_page(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<Cache>>,
    Path(name): Path<String>,
    Query(q): Query<MonitorQuery>,
) -> Result<Response, PageError> {
    let r = resolve(&state, &q).await?;
    let (snapshot, report) = cache.report(&state, r.tenant.id, r.period).await?;
    let row = report
        .rows
        .iter()
        .find(|row| row.org.as_ref().is_some_and(|o| o.name == name))
        .or_else(|| {
            report.rows.iter().find(|row| {
                row.org
                    .as_ref()
                    .is_some_and(|o| o.name.to_lowercase() == name.to_lowercase())
            })
        })
        .ok_or_else(|| {
            PageError::not_found(format!(
                "No figures for {name:?} in {} to {}.",
                r.from, r.to
            ))
        })?;
    let trend = cache
        .trend(&state, r.tenant.id, r.period, &report, row)
        .await?;
    let reply = row.org.as_ref().and_then(|o| {
        snapshot
            .replies
            .iter()
            .find(|rep| rep.provider_name.trim().to_lowercase() == o.name.to_lowercase())
    });
    let title = format!(
        "Hosting monitor: {}",
        row.org.as_ref().map(|o| o.name.as_str()).unwrap_or("")
    );
    Ok(html(page(
        &title,
        &org_body(&r, &report, row, &trend, reply),
    )))
}

/// The hosting monitor report as CSV, with the method version.
#[utoipa::path(get, path = "/monitor.csv", tag = "monitor",
    summary = "The hosting monitor report (CSV)",
    params(("tenant" = Option<String>, Query, description = "Tenant name (optional when there is one tenant)"),
           ("from" = Option<String>, Query, description = "First month, `YYYY-MM` (default: 11 months before `to`)"),
           ("to" = Option<String>, Query, description = "Last month, inclusive, `YYYY-MM` (default: the current month)"),
           ("lang" = Option<String>, Query, description = "`en` (default) or `nl`")),
    responses((status = 200, description = "per hosting organisation: notices received and removal times in the period (an attachment)", body = String, content_type = "text/csv"),
              (status = 400, description = "bad period or language, or several tenants and no `tenant` (an HTML page)", body = String, content_type = "text/html"),
              (status = 404, description = "no such tenant (an HTML page)", body = String, content_type = "text/html"),
              (status = 500, description = "the store could not be read (an HTML page)", body = String, content_type = "text/html"))
)]
async fn csv_export(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<Cache>>,
    Query(q): Query<MonitorQuery>,
) -> Result<Response, PageError> {
    let r = resolve(&state, &q).await?;
    let (_, report) = cache.report(&state, r.tenant.id, r.period).await?;
    let mut resp = export::report_csv(&report).into_response();
    set_headers(&mut resp, "text/csv; charset=utf-8");
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"monitor-{}-{}.csv\"",
        r.from, r.to
    )) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// The hosting monitor report as JSON, with the method version.
#[utoipa::path(get, path = "/monitor.json", tag = "monitor",
    summary = "The hosting monitor report (JSON)",
    params(("tenant" = Option<String>, Query, description = "Tenant name (optional when there is one tenant)"),
           ("from" = Option<String>, Query, description = "First month, `YYYY-MM` (default: 11 months before `to`)"),
           ("to" = Option<String>, Query, description = "Last month, inclusive, `YYYY-MM` (default: the current month)"),
           ("lang" = Option<String>, Query, description = "`en` (default) or `nl`")),
    responses((status = 200, description = "the report: period, method version, and per hosting organisation its notices and removal-time figures", body = Object),
              (status = 400, description = "bad period or language, or several tenants and no `tenant` (an HTML page)", body = String, content_type = "text/html"),
              (status = 404, description = "no such tenant (an HTML page)", body = String, content_type = "text/html"),
              (status = 500, description = "the store could not be read (an HTML page)", body = String, content_type = "text/html"))
)]
async fn json_export(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<Cache>>,
    Query(q): Query<MonitorQuery>,
) -> Result<Response, PageError> {
    let r = resolve(&state, &q).await?;
    let (_, report) = cache.report(&state, r.tenant.id, r.period).await?;
    let mut resp = Json(&*report).into_response();
    set_headers(&mut resp, "application/json");
    Ok(resp)
}

// ---------------------------------------------------------------------------------------------
// HTML

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
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

/// Percent-encodes one path segment or query value (everything but unreserved characters).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fff}\
main{max-width:78rem;margin:0 auto;padding:1rem}\
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #bbb;padding:.3rem .5rem;\
text-align:right}th[scope=row],td.org,caption{text-align:left}thead th{background:#eef}\
form{display:flex;flex-wrap:wrap;gap:1rem;align-items:end;margin:1rem 0}\
label{display:flex;flex-direction:column;font-weight:600}\
.method{max-width:50rem;border-top:2px solid #ccc;margin-top:2rem}\
.note{color:#444}svg{max-width:100%;height:auto;display:block;margin:1rem 0}\
a{color:#0b4f8a}:focus{outline:3px solid #f90}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        esc(title)
    )
}

fn set_headers(resp: &mut Response, content_type: &'static str) {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'",
        ),
    );
}

fn html(body: String) -> Response {
    let mut resp = body.into_response();
    set_headers(&mut resp, "text/html; charset=utf-8");
    resp
}

fn hours(seconds: Option<i64>) -> String {
    seconds
        .map(|s| format!("{:.1}\u{a0}h", s as f64 / 3_600.0))
        .unwrap_or_else(|| "–".into())
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.0}\u{a0}%", x * 100.0))
        .unwrap_or_else(|| "–".into())
}

fn share(s: &Share) -> String {
    match s.share {
        Some(x) => format!("{:.0}\u{a0}% ({} of {})", x * 100.0, s.count, s.of),
        None => "–".into(),
    }
}

/// The query string that selects this tenant and period (plus `extra`).
fn link_query(r: &Resolved, extra: &str) -> String {
    let mut q = format!("from={}&to={}", enc(&r.from), enc(&r.to));
    if r.named {
        let _ = write!(q, "&tenant={}", enc(&r.tenant.name));
    }
    if r.lang == Lang::Nl {
        q.push_str("&lang=nl");
    }
    q.push_str(extra);
    q
}

fn period_form(r: &Resolved, metric: Option<(RankMetric, u64)>, action: &str) -> String {
    let mut f = format!(
        "<form method=\"get\" action=\"{}\" aria-label=\"Period\">",
        esc(action)
    );
    if r.named {
        let _ = write!(
            f,
            "<input type=\"hidden\" name=\"tenant\" value=\"{}\">",
            esc(&r.tenant.name)
        );
    }
    if r.lang == Lang::Nl {
        f.push_str("<input type=\"hidden\" name=\"lang\" value=\"nl\">");
    }
    let _ = write!(
        f,
        "<label for=\"from\">First month<input type=\"month\" id=\"from\" name=\"from\" \
         value=\"{}\" pattern=\"[0-9]{{4}}-[0-9]{{2}}\"></label>\
         <label for=\"to\">Last month<input type=\"month\" id=\"to\" name=\"to\" value=\"{}\" \
         pattern=\"[0-9]{{4}}-[0-9]{{2}}\"></label>",
        esc(&r.from),
        esc(&r.to)
    );
    if let Some((metric, min)) = metric {
        f.push_str("<label for=\"metric\">Rank by<select id=\"metric\" name=\"metric\">");
        for m in RankMetric::ALL {
            let _ = write!(
                f,
                "<option value=\"{}\"{}>{}</option>",
                esc(&metric_slug(*m)),
                if *m == metric { " selected" } else { "" },
                esc(metric_label(*m))
            );
        }
        let _ = write!(
            f,
            "</select></label><label for=\"min\">Minimum cases to be ranked\
             <input type=\"number\" id=\"min\" name=\"min\" min=\"1\" max=\"100000\" \
             value=\"{min}\"></label>"
        );
    }
    f.push_str("<button type=\"submit\">Show</button></form>");
    f
}

fn header_block(r: &Resolved, report: &MonitorReport) -> String {
    format!(
        "<p class=\"note\">{} · period {} to {} (UTC, months inclusive) · computed {} · \
         method version <strong>{}</strong></p>",
        esc(&r.tenant.name),
        esc(&r.from),
        esc(&r.to),
        esc(&report
            .as_of
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        esc(&report.method_version)
    )
}

fn stats_cells(s: &OrgStats) -> String {
    [
        s.notices.to_string(),
        pct(s.share_of_national_notices),
        s.urls.to_string(),
        pct(s.share_of_national_urls),
        hours(s.removal_p50_seconds),
        hours(s.removal_p90_seconds),
        hours(s.removal_p99_seconds),
        pct(s.removed_within[0].share),
        pct(s.removed_within[2].share),
        pct(s.removed_within[3].share),
        s.online_at_period_end.to_string(),
        pct(s.non_response.share),
        s.repeat_offences.to_string(),
        s.hoster_changed.to_string(),
    ]
    .iter()
    .map(|c| format!("<td>{}</td>", esc(c)))
    .collect()
}

const RANK_HEAD: &str = "<thead><tr><th scope=\"col\">Rank</th><th scope=\"col\">Organisation</th>\
<th scope=\"col\">Notices</th><th scope=\"col\">Share of notices</th><th scope=\"col\">URLs</th>\
<th scope=\"col\">Share of URLs</th><th scope=\"col\">Removal p50</th>\
<th scope=\"col\">Removal p90</th><th scope=\"col\">Removal p99</th>\
<th scope=\"col\">Removed ≤ 1 h</th><th scope=\"col\">Removed ≤ 24 h</th>\
<th scope=\"col\">Removed ≤ 48 h</th><th scope=\"col\">Online at period end</th>\
<th scope=\"col\">Non-response</th><th scope=\"col\">Repeat offences</th>\
<th scope=\"col\">Hoster changed</th></tr></thead>";

fn ranking_body(r: &Resolved, report: &MonitorReport, metric: RankMetric, min: u64) -> String {
    let ranking = rank(&report.rows, metric, RankOrder::WorstFirst, min);
    let by_org: HashMap<_, _> = report
        .rows
        .iter()
        .filter_map(|row| row.org.as_ref().map(|o| (o, row)))
        .collect();
    let mut b = String::from("<h1>Hosting monitor</h1>");
    b.push_str(&header_block(r, report));
    b.push_str(
        "<p>How many takedown notices each hosting organisation received and how fast it \
         removed the reported material. Only organisation-level figures are published. \
         See the <a href=\"#method\">methodology</a> below the table.</p>",
    );
    b.push_str(&period_form(r, Some((metric, min)), "/monitor"));
    let _ = write!(
        b,
        "<table><caption>Ranked by {} (worst first); organisations with fewer than {min} \
         cases, or without a value, are listed unranked.</caption>{RANK_HEAD}<tbody>",
        esc(metric_label(metric)),
    );
    let org_link = |org: &schoon_monitor::OrgKey| {
        format!(
            "<a href=\"/monitor/org/{}?{}\">{}</a>{}",
            enc(&org.name),
            esc(&link_query(r, "")),
            esc(&org.name),
            org.asn.map(|a| format!(" (AS{a})")).unwrap_or_default()
        )
    };
    for ranked in &ranking.ranked {
        if let Some(row) = by_org.get(&ranked.org) {
            let _ = write!(
                b,
                "<tr><td>{}</td><th scope=\"row\">{}</th>{}</tr>",
                ranked.rank,
                org_link(&ranked.org),
                stats_cells(row)
            );
        }
    }
    for org in ranking.below_threshold.iter().chain(&ranking.no_value) {
        if let Some(row) = by_org.get(org) {
            let _ = write!(
                b,
                "<tr><td>–</td><th scope=\"row\">{}</th>{}</tr>",
                org_link(org),
                stats_cells(row)
            );
        }
    }
    if report.rows.is_empty() {
        b.push_str("<tr><td colspan=\"16\">No notices in this period.</td></tr>");
    }
    let _ = write!(
        b,
        "</tbody><tfoot><tr><td></td><th scope=\"row\">National total</th>{}</tr></tfoot></table>",
        stats_cells(&report.national)
    );
    let _ = write!(
        b,
        "<p class=\"note\">Left out: {} case(s) never notified, {} case(s) without a known \
         hoster at the first notice.</p>",
        report.excluded.no_notice, report.excluded.no_hoster
    );
    let q = esc(&link_query(r, ""));
    let _ = write!(
        b,
        "<p>Download: <a href=\"/monitor.csv?{q}\">CSV</a> · <a href=\"/monitor.json?{q}\">JSON</a> \
         (method version {}).</p>",
        esc(&report.method_version)
    );
    b.push_str(&method_section(r, "/monitor"));
    b
}

fn org_body(
    r: &Resolved,
    report: &MonitorReport,
    row: &OrgStats,
    trend: &[TrendPoint],
    reply: Option<&ProviderReply>,
) -> String {
    let name = row.org.as_ref().map(|o| o.name.as_str()).unwrap_or("");
    let mut b = format!("<h1>Hosting monitor: {}</h1>", esc(name));
    if let Some(asn) = row.org.as_ref().and_then(|o| o.asn) {
        let _ = write!(b, "<p>Main autonomous system: AS{asn}</p>");
    }
    b.push_str(&header_block(r, report));
    let _ = write!(
        b,
        "<p><a href=\"/monitor?{}\">Back to the ranking</a></p>",
        esc(&link_query(r, ""))
    );
    b.push_str(&period_form(
        r,
        None,
        &format!("/monitor/org/{}", enc(name)),
    ));
    let figures: Vec<(&str, String)> = vec![
        ("Notices received", row.notices.to_string()),
        (
            "Share of national notices",
            pct(row.share_of_national_notices),
        ),
        ("Cases", row.cases.to_string()),
        ("URLs", row.urls.to_string()),
        ("Share of national URLs", pct(row.share_of_national_urls)),
        ("Removed (verified)", row.removed.to_string()),
        (
            "Of which removed before the notice",
            row.removed_before_notice.to_string(),
        ),
        ("Not removed", row.not_removed.to_string()),
        ("Online at period end", row.online_at_period_end.to_string()),
        ("Removal time p50", hours(row.removal_p50_seconds)),
        ("Removal time p90", hours(row.removal_p90_seconds)),
        ("Removal time p99", hours(row.removal_p99_seconds)),
        ("Removed within 1 h", share(&row.removed_within[0])),
        ("Removed within 12 h", share(&row.removed_within[1])),
        ("Removed within 24 h", share(&row.removed_within[2])),
        ("Removed within 48 h", share(&row.removed_within[3])),
        ("Non-response", share(&row.non_response)),
        ("Repeat offences", row.repeat_offences.to_string()),
        ("Same URL back after removal", row.reoccurred.to_string()),
        (
            "Same site or material as an earlier removal",
            row.repeat_of_earlier.to_string(),
        ),
        (
            "Moved to another hoster after the notice",
            row.hoster_changed.to_string(),
        ),
        ("Hash-check hits", row.hits.hits.to_string()),
        (
            "Hits acknowledged within the deadline",
            share(&row.hits.acknowledged_in_deadline),
        ),
        ("Hits verified removed", share(&row.hits.verified)),
        ("Hits overdue", row.hits.overdue.to_string()),
        (
            "URLs per announced IPv4 /24",
            row.normalised
                .map(|n| format!("{:.4}", n.urls_per_slash24))
                .unwrap_or_else(|| "– (address space unknown)".into()),
        ),
    ];
    b.push_str("<table><caption>Figures for the period</caption><tbody>");
    for (label, value) in figures {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            esc(label),
            esc(&value)
        );
    }
    b.push_str("</tbody></table>");
    b.push_str("<h2>Removal time</h2>");
    b.push_str(&svg::removal_histogram(
        &row.distribution,
        name,
        "removal-histogram",
        r.lang,
    ));
    b.push_str("<h2>Trend per month</h2>");
    b.push_str(&svg::trend_chart(trend, name, "monthly-trend", r.lang));
    b.push_str(
        "<table><caption>Per month</caption><thead><tr><th scope=\"col\">Month</th>\
        <th scope=\"col\">Cases</th><th scope=\"col\">Removed ≤ 24 h</th>\
        <th scope=\"col\">Removal p50</th></tr></thead><tbody>",
    );
    for p in trend {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.month),
            p.cases,
            esc(&pct(p.removed_within_24h.share)),
            esc(&hours(p.removal_p50_seconds))
        );
    }
    b.push_str("</tbody></table>");
    b.push_str("<section aria-labelledby=\"reply\"><h2 id=\"reply\">Right of reply</h2>");
    match reply {
        Some(rep) => {
            let _ = write!(
                b,
                "<blockquote>{}</blockquote><p class=\"note\">Published {}.</p>",
                esc(&rep.text).replace('\n', "<br>"),
                esc(&rep
                    .published_at
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default())
            );
        }
        None => b.push_str(
            "<p class=\"note\">This organisation has not published a reply. Providers can \
             send one to the regulator, who publishes it here.</p>",
        ),
    }
    b.push_str("</section>");
    b.push_str(&method_section(r, &format!("/monitor/org/{}", enc(name))));
    b
}

fn method_section(r: &Resolved, path: &str) -> String {
    let (code, other, other_name) = match r.lang {
        Lang::En => ("en", Lang::Nl, "Nederlands"),
        Lang::Nl => ("nl", Lang::En, "English"),
    };
    let switched = Resolved {
        tenant: r.tenant.clone(),
        named: r.named,
        period: r.period,
        from: r.from.clone(),
        to: r.to.clone(),
        lang: other,
    };
    format!(
        "<section class=\"method\" id=\"method\" aria-label=\"Methodology\" lang=\"{code}\">\
         <p class=\"note\">Method version {}. <a href=\"{}?{}#method\" lang=\"{}\">{}</a></p>\
         {}</section>",
        esc(METHOD_VERSION),
        esc(path),
        esc(&link_query(&switched, "")),
        if other == Lang::Nl { "nl" } else { "en" },
        other_name,
        markdown(methodology(r.lang))
    )
}

/// The small Markdown subset of the method texts (headings, paragraphs, `- ` lists with
/// indented continuation lines, `**strong**`, `*em*`, `` `code` ``), escaped first.
fn markdown(text: &str) -> String {
    let mut out = String::new();
    let mut para: Vec<String> = Vec::new();
    let mut items: Vec<String> = Vec::new();
    fn flush(out: &mut String, para: &mut Vec<String>, items: &mut Vec<String>) {
        if !para.is_empty() {
            let _ = write!(out, "<p>{}</p>", inline(&para.join(" ")));
            para.clear();
        }
        if !items.is_empty() {
            out.push_str("<ul>");
            for i in items.drain(..) {
                let _ = write!(out, "<li>{}</li>", inline(&i));
            }
            out.push_str("</ul>");
        }
    }
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            flush(&mut out, &mut para, &mut items);
        } else if let Some(rest) = trimmed.strip_prefix('#') {
            flush(&mut out, &mut para, &mut items);
            let level = 1 + rest.chars().take_while(|c| *c == '#').count();
            let level = (level + 1).min(6);
            let _ = write!(
                out,
                "<h{level}>{}</h{level}>",
                inline(rest.trim_start_matches('#').trim())
            );
        } else if let Some(item) = trimmed.strip_prefix("- ") {
            if !para.is_empty() {
                flush(&mut out, &mut para, &mut Vec::new());
            }
            items.push(item.to_string());
        } else if line.starts_with("  ")
            && let Some(last) = items.last_mut()
        {
            last.push(' ');
            last.push_str(trimmed.trim_start());
        } else {
            para.push(trimmed.to_string());
        }
    }
    flush(&mut out, &mut para, &mut items);
    out
}

fn inline(text: &str) -> String {
    let escaped = esc(text);
    let strong = pairs(&escaped, "**", "strong");
    let em = pairs(&strong, "*", "em");
    pairs(&em, "`", "code")
}

/// Replaces `marker…marker` pairs with `<tag>…</tag>`; an unpaired marker stays as is.
fn pairs(text: &str, marker: &str, tag: &str) -> String {
    let parts: Vec<&str> = text.split(marker).collect();
    if parts.len() < 3 {
        return text.to_string();
    }
    let mut out = String::new();
    let paired = parts.len() - usize::from(parts.len().is_multiple_of(2));
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            if i >= paired {
                out.push_str(marker);
            } else if i % 2 == 1 {
                let _ = write!(out, "<{tag}>");
            } else {
                let _ = write!(out, "</{tag}>");
            }
        }
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn periods_default_to_twelve_months_and_are_checked() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 9, 0, 0).unwrap();
        let (p, from, to) = parse_period(None, None, now).unwrap();
        assert_eq!((from.as_str(), to.as_str()), ("2025-12", "2026-11"));
        assert_eq!(
            p.from(),
            Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(p.to(), Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap());
        let (p, ..) = parse_period(Some("2026-03"), Some("2026-03"), now).unwrap();
        assert_eq!(p, Period::month(2026, 3).unwrap());
        let (_, from, _) = parse_period(None, Some("2026-02"), now).unwrap();
        assert_eq!(from, "2025-03");
        for (f, t) in [
            (Some("2026-4"), None),
            (Some("2026-13"), None),
            (Some("x"), None),
            (Some("2026-05"), Some("2026-04")),
            (Some("2020-01"), Some("2026-01")),
        ] {
            assert!(parse_period(f, t, now).is_err(), "{f:?} {t:?}");
        }
    }

    #[test]
    fn text_is_escaped_and_markdown_subset_renders() {
        assert_eq!(
            esc("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
        assert_eq!(enc("Host BV/ä"), "Host%20BV%2F%C3%A4");
        let html = markdown("# T\n\nA *b* **c** `d` <e>\n\n- one\n  more\n- two\n");
        assert_eq!(
            html,
            "<h2>T</h2><p>A <em>b</em> <strong>c</strong> <code>d</code> &lt;e&gt;</p>\
             <ul><li>one more</li><li>two</li></ul>"
        );
        assert_eq!(pairs("a * b", "*", "em"), "a * b");
        assert_eq!(pairs("*a* *b", "*", "em"), "<em>a</em> *b");
        let method = markdown(methodology(Lang::En));
        assert!(method.contains("<h3>"), "{method}");
        assert!(!method.contains("<script"));
    }

    /// An in-memory AS source that knows the space of AS 64500 only.
    struct Space;

    impl AsnLookup for Space {
        fn lookup_asn(
            &self,
            _ip: std::net::IpAddr,
        ) -> Result<Option<attribution::AsnHit>, attribution::AsnError> {
            Ok(None)
        }
        fn announced(&self, asn: u32) -> Option<attribution::AnnouncedSpace> {
            (asn == 64500).then_some(attribution::AnnouncedSpace {
                ipv4_addresses: 512,
                ipv6_slash48s: 3,
            })
        }
        fn source_name(&self) -> &str {
            "test"
        }
    }

    #[test]
    fn announced_space_comes_from_the_main_as() {
        let known = OrgKey::new("Host", Some(64500));
        let orgs = [
            known.clone(),
            OrgKey::new("Other", Some(64511)),
            OrgKey::new("No AS", None),
        ];
        let sources: Vec<Arc<dyn AsnLookup>> = vec![Arc::new(Space)];
        let space = announced_space(&orgs, &sources);
        assert_eq!(
            space,
            [AnnouncedSpace {
                org: known,
                ipv4_addresses: 512,
                ipv6_slash48s: 3
            }]
        );
        assert_eq!(space[0].slash24_equivalents(), Some(2.0));
        assert!(announced_space(&orgs, &[]).is_empty());
    }

    #[test]
    fn metrics_parse_from_their_slugs() {
        for m in RankMetric::ALL {
            assert_eq!(parse_metric(Some(&metric_slug(*m))).unwrap(), *m);
        }
        assert_eq!(parse_metric(None).unwrap(), RankMetric::RemovedWithin24h);
        assert!(parse_metric(Some("bogus")).is_err());
        assert!(parse_min(Some("0")).is_err());
        assert_eq!(parse_min(Some("3")).unwrap(), 3);
    }
}
