//! Admin screens: the users of the admin's own tenant (list with today's exposure, create).
//! Tenants, policies, organisations, lists and templates follow ([ui] issue, part 4).

use askama::Template;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use store::accounts::{Language, NewUser, Role};

use super::session::{MIN_PASSWORD, hash_async};
use super::{Page, SignedIn, UiError, UiResult, render};
use crate::app::AppState;

/// A row of the users table.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Login name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Role (translated).
    pub role: &'static str,
    /// active / locked / disabled (translated).
    pub status: &'static str,
    /// Items revealed today.
    pub exposure: i64,
}

#[derive(Template)]
#[template(path = "ui/users.html")]
struct UsersPage {
    page: Page,
    users: Vec<UserRow>,
    roles: Vec<(&'static str, &'static str)>,
    orgs: Vec<(i64, String)>,
    error: Option<String>,
}

async fn users_page(
    state: &AppState,
    user: &SignedIn,
    flash: Option<&'static str>,
    error: Option<String>,
) -> UiResult<Response> {
    let tr = user.tr();
    let t = user.user.tenant_id;
    let now = state.clock.now();
    let exposures = state.store.exposures(t, now.date_naive()).await?;
    let users = state
        .store
        .users(t)
        .await?
        .into_iter()
        .map(|u| UserRow {
            exposure: exposures
                .iter()
                .find(|(e, _)| e.id == u.id)
                .map(|(_, n)| *n)
                .unwrap_or(0),
            status: tr.t(if u.disabled {
                "users.disabled"
            } else if u.locked_at(now) {
                "users.locked"
            } else {
                "users.active"
            }),
            role: tr.t(&format!("role.{}", u.role)),
            username: u.username,
            display_name: u.display_name,
        })
        .collect();
    let mut page = Page::new(state, user, "/ui/admin/users", tr.t("users.title")).await;
    page.flash = flash.map(|k| tr.t(k).to_string());
    let orgs = state
        .store
        .orgs(t)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let mut resp = render(&UsersPage {
        page,
        users,
        roles: Role::ALL
            .iter()
            .map(|r| (r.as_str(), tr.t(&format!("role.{r}"))))
            .collect(),
        orgs,
        error: error.clone(),
    })?;
    if error.is_some() {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// `GET /ui/admin/users`.
pub async fn users(State(state): State<AppState>, user: SignedIn) -> UiResult<Response> {
    user.require(&[Role::Admin])?;
    users_page(&state, &user, None, None).await
}

/// New user form.
#[derive(Debug, Deserialize)]
pub struct NewUserForm {
    csrf: String,
    username: String,
    display_name: String,
    role: String,
    #[serde(default)]
    org: String,
    language: String,
    password: String,
}

/// `POST /ui/admin/users`: creates a user in the admin's tenant.
pub async fn create_user(
    State(state): State<AppState>,
    user: SignedIn,
    Form(f): Form<NewUserForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(&[Role::Admin])?;
    let tr = user.tr();
    if f.password.chars().count() < MIN_PASSWORD {
        let msg = tr.t("users.password_short").to_string();
        return users_page(&state, &user, None, Some(msg)).await;
    }
    let role: Role = f.role.parse().map_err(UiError::Conflict)?;
    let language: Language = f.language.parse().map_err(UiError::Conflict)?;
    let org_id = if f.org.is_empty() {
        None
    } else {
        Some(
            f.org
                .parse::<i64>()
                .map_err(|_| UiError::Conflict("bad organisation".into()))?,
        )
    };
    let password_hash = hash_async(f.password).await?;
    let created = state
        .store
        .create_user(
            &user.actor(),
            NewUser {
                // Always the admin's own tenant: the form cannot name another.
                tenant_id: user.user.tenant_id,
                org_id,
                username: f.username,
                display_name: f.display_name,
                role,
                password_hash,
                language,
            },
        )
        .await;
    match created {
        Ok(_) => Ok(Redirect::to("/ui/admin/users?created=1").into_response()),
        Err(store::StoreError::Conflict(d) | store::StoreError::Invalid(d)) => {
            users_page(&state, &user, None, Some(d)).await
        }
        Err(e) => Err(e.into()),
    }
}
