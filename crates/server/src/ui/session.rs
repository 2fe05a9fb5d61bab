//! Signing in and out: Argon2id passwords, the session cookie, CSRF tokens, the optional TOTP
//! second factor, lock-out, and the user's own account page (language, password, TOTP).
//!
//! The cookie `schoon_session` holds a random 256-bit token; the database holds its SHA-256,
//! so a copy of the database opens no session. Each session has its own CSRF key; a form's
//! token is HMAC(key, session id), checked on every POST. The login form itself is protected
//! by a double-submit cookie (`schoon_login`), since there is no session yet.
//!
//! Besides the per-account lock-out, failed logins are counted per client address across
//! accounts: after [`IP_MAX_FAILURES`] within [`IP_WINDOW_MINUTES`] the address gets a 429
//! page for every login (right or wrong, so the refusal reveals nothing) until the window has
//! moved on; reaching the limit is audited `login.ip_blocked` on `ip:<addr>`. The address is
//! the TCP peer, or behind a proxy listed in `trusted_proxies` the forwarded client address
//! ([`crate::client_ip`]).

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use askama::Template;
use axum::extract::{Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{KeyInit, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use store::accounts::{Language, NewSession, Role, Session, SessionStage, User};
use tokio::sync::Semaphore;

use super::{Page, Tr, UiError, UiResult, render, totp};
use crate::app::AppState;

/// Session cookie name.
pub const SESSION_COOKIE: &str = "schoon_session";
const LOGIN_COOKIE: &str = "schoon_login";
/// Shortest accepted password.
pub const MIN_PASSWORD: usize = 12;
/// Failed logins from one address (any accounts) that block it.
pub const IP_MAX_FAILURES: i64 = 20;
/// The window in which [`IP_MAX_FAILURES`] are counted.
pub const IP_WINDOW_MINUTES: i64 = 15;

type HmacSha256 = hmac::Hmac<Sha256>;

fn argon2() -> Argon2<'static> {
    // OWASP: Argon2id, m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (Argon2id PHC string). CPU- and memory-heavy: call from blocking code.
pub fn hash_password(password: &str) -> Result<String, String> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a password against a PHC string (blocking).
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => argon2().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// Argon2 runs at most this many at once (each takes 19 MiB and a core for ~50 ms).
fn slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        Semaphore::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
    })
}

/// A hash to verify against when the user does not exist, so timing does not reveal it.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default())
}

/// [`verify_password`] off the async threads.
pub async fn verify_async(password: String, phc: String) -> bool {
    let Ok(_permit) = slots().acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false)
}

/// [`hash_password`] off the async threads.
pub async fn hash_async(password: String) -> UiResult<String> {
    let _permit = slots()
        .acquire()
        .await
        .map_err(|e| UiError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| UiError::Internal(e.to_string()))?
        .map_err(UiError::Internal)
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let secure = if state.config.ui.plain_http {
        ""
    } else {
        "; Secure"
    };
    let age = max_age
        .map(|s| format!("; Max-Age={s}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{age}"
    ))
    .unwrap_or(HeaderValue::from_static("x=; Max-Age=0"))
}

fn csrf_token(session: &Session) -> String {
    let key = hex::decode(&session.csrf_secret).unwrap_or_default();
    match HmacSha256::new_from_slice(&key) {
        Ok(mut mac) => {
            mac.update(b"csrf:");
            mac.update(session.id.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// A signed-in user (every factor passed, session not idle or expired).
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The user.
    pub user: User,
    /// The session.
    pub session: Session,
}

impl SignedIn {
    /// The CSRF token of this session.
    pub fn csrf(&self) -> String {
        csrf_token(&self.session)
    }

    /// Checks a submitted CSRF token (constant time).
    pub fn check_csrf(&self, token: &str) -> UiResult<()> {
        let key = hex::decode(&self.session.csrf_secret).unwrap_or_default();
        let given = hex::decode(token.trim()).map_err(|_| UiError::Csrf)?;
        let mut mac = HmacSha256::new_from_slice(&key).map_err(|_| UiError::Csrf)?;
        mac.update(b"csrf:");
        mac.update(self.session.id.as_bytes());
        mac.verify_slice(&given).map_err(|_| UiError::Csrf)
    }

    /// Refuses (403) unless the user has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> UiResult<()> {
        if roles.contains(&self.user.role) {
            Ok(())
        } else {
            Err(UiError::Forbidden)
        }
    }

    /// The audit actor.
    pub fn actor(&self) -> store::Actor {
        self.user.actor()
    }

    /// The user's translator.
    pub fn tr(&self) -> Tr {
        Tr(self.user.language)
    }
}

async fn current(
    state: &AppState,
    headers: &HeaderMap,
    stage: SessionStage,
) -> UiResult<(Session, User)> {
    let token = cookie(headers, SESSION_COOKIE).ok_or(UiError::Login)?;
    let id = sha256_hex(&token);
    let now = state.clock.now();
    let (s, u) = state.store.session(&id, now).await?.ok_or(UiError::Login)?;
    let idle = chrono::Duration::minutes(state.config.ui.idle_minutes.max(1));
    if s.stage != stage || u.disabled || s.last_seen + idle < now {
        return Err(UiError::Login);
    }
    // Touch at most once a minute: a write per request would queue behind real work.
    if now - s.last_seen > chrono::Duration::seconds(60) {
        state.store.touch_session(&id, now).await?;
    }
    Ok((s, u))
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> UiResult<SignedIn> {
        let (session, user) = current(state, &parts.headers, SessionStage::Full).await?;
        Ok(SignedIn { user, session })
    }
}

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage {
    page: Page,
    error: Option<&'static str>,
    username: String,
    token: String,
}

fn login_tr(headers: &HeaderMap) -> Tr {
    // Before login we only know the browser's preference.
    let en = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("en"));
    Tr(if en { Language::En } else { Language::Nl })
}

fn login_page(
    state: &AppState,
    tr: Tr,
    error: Option<&'static str>,
    username: String,
) -> UiResult<Response> {
    let token = random_hex();
    let page = LoginPage {
        page: Page::anonymous(tr, tr.t("login.title")),
        error,
        username,
        token: token.clone(),
    };
    let mut resp = render(&page)?;
    if error.is_some() {
        *resp.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
    }
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, LOGIN_COOKIE, &token, Some(3600)),
    );
    Ok(resp)
}

/// `GET /ui/login`.
pub async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> UiResult<Response> {
    login_page(&state, login_tr(&headers), None, String::new())
}

/// Login form fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    token: String,
}

/// The client's address ([`crate::client_ip`]), as text.
fn login_ip(state: &AppState, headers: &HeaderMap, ext: &Extensions) -> String {
    crate::client_ip::request_client_ip(ext, headers, &state.config.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The 429 refusal while an address is blocked.
fn ip_limited(state: &AppState, tr: Tr, username: String) -> UiResult<Response> {
    let mut resp = login_page(state, tr, Some(tr.t("login.ip_limited")), username)?;
    *resp.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(IP_WINDOW_MINUTES * 60),
    );
    Ok(resp)
}

/// Counts a failed login of `ip`.
async fn ip_failed(state: &AppState, ip: &str, now: chrono::DateTime<chrono::Utc>) -> UiResult<()> {
    let since = now - chrono::Duration::minutes(IP_WINDOW_MINUTES);
    let n = state
        .store
        .record_ip_login_failure(ip, now, since, IP_MAX_FAILURES)
        .await?;
    if n == IP_MAX_FAILURES {
        tracing::warn!(ip, failures = n, "web logins from this address blocked");
    }
    Ok(())
}

/// `POST /ui/login`.
pub async fn login_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    Form(f): Form<LoginForm>,
) -> UiResult<Response> {
    let tr = login_tr(&headers);
    let ip = login_ip(&state, &headers, &ext);
    let now = state.clock.now();
    let since = now - chrono::Duration::minutes(IP_WINDOW_MINUTES);
    // Before anything else: a blocked address gets no password check at all.
    if state.store.ip_login_failures(&ip, since).await? >= IP_MAX_FAILURES {
        return ip_limited(&state, tr, f.username);
    }
    let cookie_token = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if cookie_token.is_empty() || cookie_token != f.token {
        return login_page(&state, tr, Some(tr.t("login.expired")), f.username);
    }
    let found = state.store.user_by_username(&f.username).await?;
    let Some((user, phc)) = found else {
        verify_async(f.password, dummy_hash().to_string()).await;
        tracing::info!("login for an unknown user name");
        ip_failed(&state, &ip, now).await?;
        return login_page(&state, tr, Some(tr.t("login.failed")), f.username);
    };
    let tr = Tr(user.language);
    if user.locked_at(now) || user.disabled {
        // No password check while locked: the lock must stop guessing, not just hide results.
        return login_page(&state, tr, Some(tr.t("login.locked")), f.username);
    }
    if !verify_async(f.password, phc).await {
        ip_failed(&state, &ip, now).await?;
        let ui = &state.config.ui;
        let fail = state
            .store
            .record_login_failure(
                user.id,
                now,
                "password",
                ui.max_failures,
                chrono::Duration::minutes(ui.lock_minutes),
            )
            .await?;
        let msg = if fail.locked_until.is_some() {
            "login.locked"
        } else {
            "login.failed"
        };
        return login_page(&state, tr, Some(tr.t(msg)), f.username);
    }
    let token = random_hex();
    let stage = if user.totp_secret.is_some() {
        SessionStage::Totp
    } else {
        SessionStage::Full
    };
    let expires = now + chrono::Duration::hours(state.config.ui.session_hours.max(1));
    state
        .store
        .open_session(
            user.id,
            NewSession {
                id: sha256_hex(&token),
                stage,
                expires_at: expires,
                csrf_secret: random_hex(),
            },
            now,
        )
        .await?;
    let to = match stage {
        SessionStage::Totp => "/ui/login/totp",
        SessionStage::Full => "/ui",
    };
    let mut resp = Redirect::to(to).into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, &token, None),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(&state, LOGIN_COOKIE, "", Some(0)),
    );
    Ok(resp)
}

#[derive(Template)]
#[template(path = "ui/totp.html")]
struct TotpPage {
    page: Page,
    error: Option<&'static str>,
}

/// `GET /ui/login/totp`.
pub async fn totp_form(State(state): State<AppState>, headers: HeaderMap) -> UiResult<Response> {
    let (s, u) = current(&state, &headers, SessionStage::Totp).await?;
    let tr = Tr(u.language);
    let mut page = Page::anonymous(tr, tr.t("totp.title"));
    page.csrf = csrf_token(&s);
    render(&TotpPage { page, error: None })
}

/// TOTP form fields.
#[derive(Debug, Deserialize)]
pub struct TotpForm {
    code: String,
    csrf: String,
}

/// `POST /ui/login/totp`.
pub async fn totp_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<TotpForm>,
) -> UiResult<Response> {
    let (s, u) = current(&state, &headers, SessionStage::Totp).await?;
    SignedIn {
        user: u.clone(),
        session: s.clone(),
    }
    .check_csrf(&f.csrf)?;
    let now = state.clock.now();
    let tr = Tr(u.language);
    let step = u
        .totp_secret
        .as_deref()
        .and_then(|secret| totp::verify(secret, &f.code, now.timestamp()));
    let accepted = match step {
        Some(step) => match state.store.complete_totp(&s.id, step, now).await {
            Ok(()) => true,
            Err(store::StoreError::Conflict(_)) => false,
            Err(e) => return Err(e.into()),
        },
        None => false,
    };
    if accepted {
        return Ok(Redirect::to("/ui").into_response());
    }
    let ui = &state.config.ui;
    let fail = state
        .store
        .record_login_failure(
            u.id,
            now,
            "totp",
            ui.max_failures,
            chrono::Duration::minutes(ui.lock_minutes),
        )
        .await?;
    if fail.locked_until.is_some() {
        state.store.end_session(&s.id).await?;
        return Ok(Redirect::to("/ui/login").into_response());
    }
    let mut page = Page::anonymous(tr, tr.t("totp.title"));
    page.csrf = csrf_token(&s);
    let mut resp = render(&TotpPage {
        page,
        error: Some(tr.t("totp.failed")),
    })?;
    *resp.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
    Ok(resp)
}

/// A form with only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /ui/logout`.
pub async fn logout(
    State(state): State<AppState>,
    user: SignedIn,
    Form(f): Form<CsrfForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    state.store.end_session(&user.session.id).await?;
    let mut resp = Redirect::to("/ui/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, "", Some(0)),
    );
    Ok(resp)
}

#[derive(Template)]
#[template(path = "ui/account.html")]
struct AccountPage {
    page: Page,
    language: &'static str,
    totp_active: bool,
    /// A freshly generated secret to set up (shown once, confirmed by a code).
    new_secret: String,
    new_uri: String,
}

async fn account_page(
    state: &AppState,
    user: &SignedIn,
    flash: Option<&'static str>,
) -> UiResult<Response> {
    let tr = user.tr();
    let mut page = Page::new(state, user, "/ui/account", tr.t("account.title")).await;
    page.flash = flash.map(|k| tr.t(k).to_string());
    let new_secret = totp::new_secret();
    let new_uri = totp::uri("schoon", &user.user.username, &new_secret);
    render(&AccountPage {
        page,
        language: user.user.language.as_str(),
        totp_active: user.user.totp_secret.is_some(),
        new_secret,
        new_uri,
    })
}

/// `GET /ui/account`.
pub async fn account(State(state): State<AppState>, user: SignedIn) -> UiResult<Response> {
    account_page(&state, &user, None).await
}

/// Language form.
#[derive(Debug, Deserialize)]
pub struct LanguageForm {
    csrf: String,
    language: String,
    /// Where to go back to (a path of ours).
    #[serde(default)]
    back: String,
}

/// `POST /ui/account/language`.
pub async fn set_language(
    State(state): State<AppState>,
    user: SignedIn,
    Form(f): Form<LanguageForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    let lang: Language = f
        .language
        .parse()
        .map_err(|e: String| UiError::Conflict(e))?;
    state
        .store
        .set_language(&user.actor(), user.user.id, lang)
        .await?;
    // Only our own paths: never an open redirect.
    let back = if f.back.starts_with("/ui") && !f.back.starts_with("//") {
        f.back.as_str()
    } else {
        "/ui/account"
    };
    Ok(Redirect::to(back).into_response())
}

/// Password change form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
}

/// `POST /ui/account/password`.
pub async fn change_password(
    State(state): State<AppState>,
    user: SignedIn,
    Form(f): Form<PasswordForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    let Some((_, phc)) = state.store.user_by_username(&user.user.username).await? else {
        return Err(UiError::Login);
    };
    if !verify_async(f.current, phc).await {
        return account_page(&state, &user, Some("account.wrong")).await;
    }
    if f.new.chars().count() < MIN_PASSWORD {
        return account_page(&state, &user, Some("users.password_short")).await;
    }
    let hash = hash_async(f.new).await?;
    state
        .store
        .set_password(&user.actor(), user.user.id, &hash, Some(&user.session.id))
        .await?;
    account_page(&state, &user, Some("account.changed")).await
}

/// TOTP set-up form: the secret shown on the page and a code from the app to prove it works.
#[derive(Debug, Deserialize)]
pub struct TotpSetupForm {
    csrf: String,
    secret: String,
    code: String,
}

/// `POST /ui/account/totp`.
pub async fn enable_totp(
    State(state): State<AppState>,
    user: SignedIn,
    Form(f): Form<TotpSetupForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    let now = state.clock.now();
    if totp::decode_secret(&f.secret).is_none_or(|b| b.len() < 16)
        || totp::verify(&f.secret, &f.code, now.timestamp()).is_none()
    {
        return account_page(&state, &user, Some("totp.failed")).await;
    }
    state
        .store
        .set_totp(&user.actor(), user.user.id, Some(f.secret.trim()))
        .await?;
    let mut again = user.clone();
    again.user.totp_secret = Some(f.secret);
    account_page(&state, &again, Some("totp.enabled")).await
}
