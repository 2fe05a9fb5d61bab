//! The web interface ([ui]): server-rendered HTML (askama templates under `templates/ui/`), one
//! CSS file and one small script served by the app, no external assets.
//!
//! - [`session`]: login (Argon2id), the session cookie, CSRF tokens, TOTP, lock-out, logout.
//! - [`analyst`]: work queues, the classification screen (blurred, greyscale items revealed one
//!   at a time, each reveal audited and counted), classification and 4-eyes verification.
//! - [`admin`]: users of the admin's tenant.
//!
//! Every handler takes a [`SignedIn`] (or [`SignedIn::require`]s roles) and looks records up
//! with the user's tenant; another tenant's id is a 404, never a 403, so ids cannot be probed.
//!
//! Adding a page: write a handler taking `SignedIn`, call `user.require(&[roles])?`, render a
//! template whose struct has a `page: Page` field (built by [`Page::new`]), add its route in
//! [`routes`] and, for the menu, a line in [`NAV`]. Larger page groups ([`portal`], [`manage`],
//! [`casework`], [`regulator`]) keep their own `NAV`, `MESSAGES` and `routes()`, chained here
//! and in [`i18n`].

pub mod actors;
pub mod admin;
pub mod analyst;
pub mod casework;
pub mod i18n;
pub mod manage;
pub mod multipart;
pub mod portal;
pub mod regulator;
pub mod session;
pub mod totp;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use store::StoreError;
use store::accounts::Role;

pub use i18n::Tr;
pub use session::SignedIn;

use crate::app::AppState;
use crate::problem::Problem;

/// `[ui]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct UiConfig {
    /// Serve the session cookie without `Secure` (local development over plain HTTP only).
    pub plain_http: bool,
    /// Absolute session lifetime in hours.
    pub session_hours: i64,
    /// A session unused for this many minutes ends.
    pub idle_minutes: i64,
    /// Consecutive failed logins that lock an account.
    pub max_failures: i64,
    /// How long a lock-out lasts, in minutes.
    pub lock_minutes: i64,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            plain_http: false,
            session_hours: 10,
            idle_minutes: 30,
            max_failures: 5,
            lock_minutes: 15,
        }
    }
}

/// A menu entry: target, message key, roles that see it.
pub type NavEntry = (&'static str, &'static str, &'static [Role]);

/// The menu. Pages of other modules add a line here.
pub const NAV: &[NavEntry] = &[
    (
        "/ui/queues",
        "nav.queues",
        &[Role::Analyst, Role::Verifier, Role::Admin],
    ),
    ("/ui/admin/users", "nav.users", &[Role::Admin]),
    ("/ui/account", "nav.account", &Role::ALL),
];

/// Every menu entry: this module's and the page modules'.
fn nav_entries() -> impl Iterator<Item = &'static NavEntry> {
    [NAV, casework::NAV, manage::NAV, portal::NAV, regulator::NAV]
        .into_iter()
        .flatten()
}

/// A rendered menu link.
#[derive(Debug, Clone)]
pub struct NavLink {
    /// Target.
    pub href: &'static str,
    /// Label.
    pub label: &'static str,
    /// Whether it is the current page.
    pub current: bool,
}

/// What every page's frame needs (templates take it as `page`).
#[derive(Debug, Clone)]
pub struct Page {
    /// Translator.
    pub tr: Tr,
    /// Page title.
    pub title: String,
    /// The page's path (the language switch returns to it).
    pub path: String,
    /// Signed-in user's display name (empty on the login pages).
    pub who: String,
    /// The CSRF token for forms on this page.
    pub csrf: String,
    /// Items the user revealed today.
    pub exposure: i64,
    /// Menu.
    pub nav: Vec<NavLink>,
    /// A one-line notice (saved, error…).
    pub flash: Option<String>,
}

impl Page {
    /// The frame for a signed-in user's page at `path`.
    pub async fn new(state: &AppState, user: &SignedIn, path: &str, title: &str) -> Page {
        let today = state.clock.now().date_naive();
        let exposure = state
            .store
            .exposure(user.user.id, today)
            .await
            .unwrap_or_default();
        let tr = Tr(user.user.language);
        Page {
            tr,
            title: title.to_string(),
            path: path.to_string(),
            who: user.user.display_name.clone(),
            csrf: user.csrf(),
            exposure,
            nav: nav_entries()
                .filter(|(_, _, roles)| roles.contains(&user.user.role))
                .map(|(href, key, _)| NavLink {
                    href,
                    label: tr.t(key),
                    current: path.starts_with(href),
                })
                .collect(),
            flash: None,
        }
    }

    /// The frame of a page without a signed-in user.
    pub fn anonymous(tr: Tr, title: &str) -> Page {
        Page {
            tr,
            title: title.to_string(),
            path: String::new(),
            who: String::new(),
            csrf: String::new(),
            exposure: 0,
            nav: Vec::new(),
            flash: None,
        }
    }
}

/// What a UI handler can fail with; rendered as an HTML page.
#[derive(Debug)]
pub enum UiError {
    /// Missing, or another tenant's.
    NotFound,
    /// The role does not allow it.
    Forbidden,
    /// Not signed in (redirects to the login page).
    Login,
    /// The request's CSRF token is wrong.
    Csrf,
    /// The change was refused (shown to the user).
    Conflict(String),
    /// Something broke (logged, not shown).
    Internal(String),
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> UiError {
        match e {
            StoreError::NotFound(_) => UiError::NotFound,
            StoreError::Conflict(d) | StoreError::Invalid(d) => UiError::Conflict(d),
            e => UiError::Internal(e.to_string()),
        }
    }
}

impl From<Problem> for UiError {
    fn from(p: Problem) -> UiError {
        match p.status {
            404 => UiError::NotFound,
            403 | 401 => UiError::Forbidden,
            400 | 409 | 410 | 422 => UiError::Conflict(p.detail),
            _ => UiError::Internal(p.detail),
        }
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> UiError {
        UiError::Internal(format!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage {
    page: Page,
    heading: String,
    text: String,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        // Without a session we do not know the user's language; Dutch is the default.
        let tr = Tr(store::accounts::Language::default());
        let (status, heading, text) = match self {
            UiError::Login => return Redirect::to("/ui/login").into_response(),
            UiError::NotFound => (
                StatusCode::NOT_FOUND,
                tr.t("error.not_found"),
                tr.t("error.not_found_text").to_string(),
            ),
            UiError::Forbidden => (
                StatusCode::FORBIDDEN,
                tr.t("error.forbidden"),
                tr.t("error.forbidden_text").to_string(),
            ),
            UiError::Csrf => (
                StatusCode::FORBIDDEN,
                tr.t("error.forbidden"),
                tr.t("login.expired").to_string(),
            ),
            UiError::Conflict(d) => (StatusCode::CONFLICT, tr.t("error.conflict"), d),
            UiError::Internal(d) => {
                tracing::error!(error = %d, "ui request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    tr.t("error.conflict"),
                    String::new(),
                )
            }
        };
        let page = ErrorPage {
            page: Page::anonymous(tr, heading),
            heading: heading.to_string(),
            text,
        };
        match page.render() {
            Ok(body) => (status, html_headers(), Html(body)).into_response(),
            Err(_) => status.into_response(),
        }
    }
}

/// Result of a UI handler.
pub type UiResult<T> = Result<T, UiError>;

/// Security headers of every UI page: nothing external, no framing, no caching of pages that
/// may show case data.
pub fn html_headers() -> [(header::HeaderName, HeaderValue); 5] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; \
                 connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}

/// Renders a template as a page response.
pub fn render(t: &impl Template) -> UiResult<Response> {
    Ok((html_headers(), Html(t.render()?)).into_response())
}

const CSS: &str = include_str!("../../static/ui.css");
const JS: &str = include_str!("../../static/ui.js");

async fn css() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        JS,
    )
        .into_response()
}

async fn home(user: SignedIn) -> Response {
    let to = match user.user.role {
        Role::Admin | Role::Analyst | Role::Verifier => "/ui/queues",
        Role::Provider => "/ui/portal/overview",
        Role::Regulator => "/ui/regulator/queue",
        Role::Police => "/ui/cases?queue=police",
    };
    Redirect::to(to).into_response()
}

/// The UI's routes (merged into the app router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(home))
        .route("/ui/", get(home))
        .route("/ui/static/ui.css", get(css))
        .route("/ui/static/ui.js", get(js))
        .route(
            "/ui/login",
            get(session::login_form).post(session::login_submit),
        )
        .route(
            "/ui/login/totp",
            get(session::totp_form).post(session::totp_submit),
        )
        .route("/ui/logout", post(session::logout))
        .route("/ui/account", get(session::account))
        .route("/ui/account/language", post(session::set_language))
        .route("/ui/account/password", post(session::change_password))
        .route("/ui/account/totp", post(session::enable_totp))
        .route("/ui/queues", get(analyst::queues))
        .route("/ui/reports/{id}", get(analyst::report))
        .route("/ui/reports/{id}/classify", post(analyst::classify))
        .route("/ui/reports/{id}/verify", post(analyst::verify))
        .route("/ui/items/{id}/evidence", get(analyst::evidence))
        .route("/ui/items/{id}/reveal", post(analyst::reveal))
        .route(
            "/ui/admin/users",
            get(admin::users).post(admin::create_user),
        )
        .merge(casework::routes())
        .merge(manage::routes())
        .merge(portal::routes())
        .merge(regulator::routes())
}
