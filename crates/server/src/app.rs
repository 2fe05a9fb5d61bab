//! Wiring: shared state, the router, middleware, first-start bootstrap and the serve loop.

use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use store::{Actor, NewTenant, Store, StoreError};
use tokio::sync::Semaphore;

use crate::auth::{AuthCache, KeyLimiter};
use crate::config::Config;
use crate::matcher::Matchers;
use crate::metrics::{Metrics, RequestLabels, RouteLabel};
use crate::ops::{self, CreatedKey};
use crate::problem::{PROBLEM_JSON, Problem};
use crate::{admin, check, followup, openapi, shield};

/// State shared by all handlers (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
pub struct Inner {
    /// The database.
    pub store: Arc<dyn Store>,
    /// In-memory matchers.
    pub matchers: Arc<Matchers>,
    /// Configuration.
    pub config: Config,
    /// Metrics.
    pub metrics: Metrics,
    /// Key look-up cache.
    pub auth: AuthCache,
    /// Per-key rate limiter (`None`: unlimited).
    pub limiter: Option<KeyLimiter>,
    /// Media decodes allowed at once.
    pub media_slots: Arc<Semaphore>,
    /// The one safe outbound fetcher.
    pub fetcher: fetch::Fetcher,
    /// Report processing: evidence vault, public form limiter.
    pub reports: crate::reports::ReportsCtx,
    /// Where follow-up deadlines, sweeps and job due times read the time (tests inject one).
    pub clock: Arc<dyn schoon_core::hit::Clock>,
    /// Takedown: attribution sources, check-online state, notice settings.
    pub takedown: crate::takedown::TakedownCtx,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Builds the state over a store.
    pub fn new(store: Arc<dyn Store>, config: Config) -> anyhow::Result<AppState> {
        Self::with_clock(store, config, Arc::new(schoon_core::hit::SystemClock))
    }

    /// Builds the state with an injected clock (tests drive deadlines with it).
    pub fn with_clock(
        store: Arc<dyn Store>,
        config: Config,
        clock: Arc<dyn schoon_core::hit::Clock>,
    ) -> anyhow::Result<AppState> {
        let mut policy = fetch::FetchPolicy::new()
            .timeout(Duration::from_secs(config.fetch.timeout_secs))
            .max_body_bytes(config.limits.max_media_bytes as u64)
            .user_agent(concat!("schoon/", env!("CARGO_PKG_VERSION")));
        if !config.fetch.allow_addresses.is_empty() {
            tracing::warn!(
                ranges = ?config.fetch.allow_addresses,
                "fetch.allow_addresses is set: the fetcher may reach these private/loopback ranges (tests only)"
            );
            policy = policy.allow_addresses(config.fetch.allow_addresses.iter().cloned());
        }
        let fetcher = fetch::Fetcher::new(policy)?;
        let reports = crate::reports::ReportsCtx::open(&config)?;
        Ok(AppState(Arc::new(Inner {
            matchers: Arc::new(Matchers::new(store.clone())),
            store,
            limiter: KeyLimiter::new(config.rate_limit.per_second, config.rate_limit.burst),
            media_slots: Arc::new(Semaphore::new(config.limits.media_concurrency.max(1))),
            takedown: crate::takedown::TakedownCtx::open(&config)?,
            config,
            metrics: Metrics::default(),
            auth: AuthCache::default(),
            reports,
            fetcher,
            clock,
        })))
    }
}

/// `Json<T>` whose rejections are problem+json with a useful detail.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(rej) => {
                let status = rej.status();
                let detail = rej.body_text();
                Err(if status == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::too_large(detail)
                } else {
                    Problem::new(status, "invalid-json", "Invalid JSON body", detail)
                })
            }
        }
    }
}

/// Metrics, a log line per request (route template and status only: no hashes, no keys), and
/// problem+json for every error the framework produces itself (404, 405, 413…).
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let mut resp = next.run(req).await;
    let status = resp.status();
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        // HTML error pages (the public report form) are already meant for their reader.
        .is_some_and(|v| {
            v.as_bytes().starts_with(PROBLEM_JSON.as_bytes())
                || v.as_bytes().starts_with(b"text/html")
        });
    if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let detail = match status {
            StatusCode::NOT_FOUND => "no such endpoint".to_string(),
            StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed on this endpoint"),
            StatusCode::PAYLOAD_TOO_LARGE => "request body too large".to_string(),
            StatusCode::REQUEST_TIMEOUT => "request timed out".to_string(),
            s => s.canonical_reason().unwrap_or("error").to_string(),
        };
        let slug = status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
            .replace(' ', "-");
        let title = status.canonical_reason().unwrap_or("Error");
        let headers = resp.headers().clone();
        resp = Problem::new(status, &slug, title, detail).into_response();
        if let Some(allow) = headers.get(header::ALLOW) {
            resp.headers_mut().insert(header::ALLOW, allow.clone());
        }
    }
    let elapsed = started.elapsed();
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            status: status.as_u16(),
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&RouteLabel {
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    tracing::info!(%method, route, status = status.as_u16(), micros = elapsed.as_micros() as u64, "request");
    resp
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Problem::unavailable("database not reachable").into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    state
        .metrics
        .entries
        .set(state.matchers.total_entries() as i64);
    let mut resp = state.metrics.encode().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    resp
}

async fn openapi_json() -> Response {
    let mut resp = Body::from(openapi::json()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Liveness, readiness and metrics: what every role serves.
fn ops_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The router of a `worker` node: only the ops routes (everything else is a 404 problem).
pub fn ops_router(state: AppState) -> Router {
    ops_routes()
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// The full router.
pub fn router(state: AppState) -> Router {
    let l = &state.config.limits;
    let json_limit = DefaultBodyLimit::max(l.max_json_bytes);
    let media_limit = DefaultBodyLimit::max(l.max_media_bytes);
    let list_limit = DefaultBodyLimit::max(l.max_list_bytes);
    let timeout = Duration::from_secs(l.request_timeout_secs.max(1));

    let check_api = Router::new()
        .route("/api/v1/check", post(check::check).layer(json_limit))
        .route(
            "/api/v1/check/media",
            post(check::check_media).layer(media_limit),
        )
        .route("/v1/media/", post(shield::media).layer(media_limit))
        .route("/v1/media", post(shield::media).layer(media_limit))
        .route("/v1/url/", post(shield::url).layer(json_limit))
        .route("/v1/url", post(shield::url).layer(json_limit))
        .route("/v1/pdq/", post(shield::pdq).layer(json_limit))
        .route("/v1/pdq", post(shield::pdq).layer(json_limit));

    let admin_api = Router::new()
        .route(
            "/api/admin/tenants",
            post(admin::create_tenant).get(admin::tenants),
        )
        .route(
            "/api/admin/tenants/{tenant_id}/organisations",
            post(admin::create_org).get(admin::orgs),
        )
        .route(
            "/api/admin/organisations/{org_id}/keys",
            post(admin::create_key),
        )
        .route("/api/admin/tenants/{tenant_id}/keys", get(admin::keys))
        .route("/api/admin/keys/{key_id}/revoke", post(admin::revoke_key))
        .route(
            "/api/admin/tenants/{tenant_id}/lists",
            post(admin::create_list).get(admin::lists),
        )
        .route("/api/admin/lists/{list_id}", patch(admin::update_list))
        .route(
            "/api/admin/lists/{list_id}/entries",
            post(admin::upload).get(admin::entries).layer(list_limit),
        )
        .route(
            "/api/admin/lists/{list_id}/revoke",
            post(admin::revoke_entries),
        )
        .route("/api/admin/tenants/{tenant_id}/hits", get(admin::hits))
        .route("/api/admin/audit", get(admin::audit))
        .merge(followup::admin_routes())
        .route("/api/admin/audit/verify", get(admin::audit_verify))
        .layer(json_limit);

    ops_routes()
        .route("/api/openapi.json", get(openapi_json))
        .merge(check_api)
        .merge(crate::classify::routes(json_limit))
        .merge(followup::provider_routes().layer(json_limit))
        .merge(crate::takedown::routes().layer(json_limit))
        .merge(crate::regulator::routes().layer(json_limit))
        .merge(admin_api)
        .merge(crate::monitor::routes())
        .merge(crate::ui::routes())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// What first start created (printed once by `schoon serve`).
#[derive(Debug)]
pub struct Bootstrap {
    /// The first tenant.
    pub tenant: schoon_core::Tenant,
    /// The first admin token.
    pub admin: CreatedKey,
}

/// On an empty database: creates the first tenant and an admin token. `None` otherwise.
///
/// Safe when several nodes start at once on one database: the tenant name is UNIQUE, so exactly
/// one node's insert commits; the others get a conflict, create no token and go on.
pub async fn bootstrap(store: &dyn Store, tenant_name: &str) -> anyhow::Result<Option<Bootstrap>> {
    if !store.tenants().await?.is_empty() || !store.api_keys(None).await?.is_empty() {
        return Ok(None);
    }
    let created = store
        .create_tenant(
            &Actor::system(),
            NewTenant {
                name: tenant_name.to_string(),
                country: None,
                hit_deadline_hours: schoon_core::policy::DEFAULT_HIT_DEADLINE_HOURS,
            },
        )
        .await;
    let tenant = match created {
        Ok(t) => t,
        Err(StoreError::Conflict(_)) => {
            tracing::info!("another node created the first tenant; skipping first-start set-up");
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let admin = ops::create_admin_token(store, &Actor::system(), "first admin token").await?;
    Ok(Some(Bootstrap { tenant, admin }))
}

/// Opens the configured database: `database_url` (PostgreSQL URL or SQLite path) or the data
/// directory's `schoon.db`; runs the migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let spec = config.database_spec();
    if !crate::config::is_postgres_url(&spec)
        && let Some(parent) = std::path::Path::new(&spec).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    Ok(store::open_database(&spec).await?)
}

/// The database spec for logs: a URL without its password.
pub fn redact_database(spec: &str) -> String {
    if !crate::config::is_postgres_url(spec) {
        return spec.to_string();
    }
    match url::Url::parse(spec) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "postgres://(unparsable URL)".to_string(),
    }
}

/// An exclusive lock on `<data_dir>/.startup.lock`, held while a process opens the database and
/// creates its key files, so processes sharing a data directory never race there.
struct StartupLock(std::fs::File);

impl StartupLock {
    async fn acquire(data_dir: &std::path::Path) -> anyhow::Result<StartupLock> {
        let path = data_dir.join(".startup.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        // Blocks until the process holding it has started; do not stall the runtime meanwhile.
        let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file)).await??;
        Ok(StartupLock(file))
    }
}

impl Drop for StartupLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Sets up JSON (or text) logs on stderr; `RUST_LOG` overrides the default `info` level.
pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "text" {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
}

/// Runs the service until Ctrl-C / SIGTERM. `on_bootstrap` is called once if this was the
/// first start (to print the admin token); `on_listen` with the bound address.
pub async fn run(
    config: Config,
    on_bootstrap: impl FnOnce(&Bootstrap),
    on_listen: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let role = config.role;
    tracing::info!(
        role = %role,
        api = role.serves_api(),
        jobs = role.runs_jobs(),
        database = %redact_database(&config.database_spec()),
        data_dir = %config.data_dir.display(),
        "starting"
    );
    // Processes sharing this data directory start one at a time: key files (link key, vault
    // keys, order-signing key) are created on first start, and SQLite migrations must not race.
    let startup = StartupLock::acquire(&config.data_dir).await?;
    let store = open_store(&config).await?;
    match bootstrap(store.as_ref(), &config.first_tenant).await? {
        Some(b) => on_bootstrap(&b),
        // Let go of the callback now: a caller waiting on it learns there was no first start.
        None => drop(on_bootstrap),
    }
    let state = AppState::new(store.clone(), config.clone())?;
    drop(startup);
    state.matchers.refresh_changed().await?;
    state
        .metrics
        .entries
        .set(state.matchers.total_entries() as i64);

    // Every role follows list changes made by other nodes and `schoon admin` by polling the
    // list versions: API nodes answer checks with it, workers match fetched media with it.
    let poll = Duration::from_millis(config.matcher.poll_interval_ms.max(100));
    let poller_state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = poller_state.matchers.refresh_changed().await {
                tracing::warn!(error = %e, "matcher refresh failed");
            }
        }
    });

    // Attribution data files (prefix table, rules…) are followed by a tick of the job runner;
    // API-only nodes show and use them too, so they check on their own.
    if !role.runs_jobs() {
        crate::takedown::spawn_reload(state.clone());
    }

    if role.runs_jobs() {
        // One job runner for every kind; modules register their handlers here. Several workers
        // share the queue: claims are leased, ticks are idempotent (ARCHITECTURE.md, "Several
        // nodes").
        let mut runner = crate::worker::JobRunner::new(state.clone(), "serve");
        followup::register(&mut runner);
        crate::takedown::register(&mut runner);
        crate::regulator::register(&mut runner);
        runner.spawn(Duration::from_millis(config.jobs.interval_ms.max(50)));

        if config.reports.worker {
            tokio::spawn(crate::report_worker::run(state.clone()));
        }
    }

    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, role = %role, data_dir = %config.data_dir.display(), "listening");
    on_listen(addr);
    let app = if role.serves_api() {
        router(state)
    } else {
        ops_router(state)
    };
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
