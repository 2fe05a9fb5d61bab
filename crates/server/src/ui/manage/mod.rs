//! Administration pages: tenants and policies, organisations and contacts, hash lists, domain rules, notice templates, system health.
//!
//! Every page is for [`Role::Admin`] and shows only the admin's own tenant: records of another
//! tenant are "not found" (404), never "forbidden", so ids cannot be probed. Every change goes
//! through the same store method as the JSON admin API, so validation and the audit event are
//! the same; the actor is the signed-in user (`user:<id>`). Every POST carries the session's
//! CSRF token.
//!
//! - [`policy`]: hit deadline and grace period, report policy, takedown policy.
//! - [`orgs`]: organisations (create, report-partner kind, keys, users) and the hoster abuse
//!   contacts the tenant's open cases use.
//! - [`lists`]: hash lists with counts, create, file upload (the API's formats), revoke.
//! - [`rules`]: the attribution rules file and the notice templates with a preview.
//! - [`health`]: job queue, failed jobs, check-online, notice outbox, database, version.

pub mod health;
pub mod lists;
pub mod messages;
pub mod orgs;
pub mod policy;
pub mod rules;

use axum::Router;
use axum::routing::{get, post};
use store::accounts::Role;

use super::{NavEntry, SignedIn, UiResult};
use crate::app::AppState;

/// Who may use these pages.
pub const ADMIN: &[Role] = &[Role::Admin];

/// Menu entries of these pages.
pub const NAV: &[NavEntry] = &[
    ("/ui/manage/policy", "manage.nav.policy", ADMIN),
    ("/ui/manage/orgs", "manage.nav.orgs", ADMIN),
    ("/ui/manage/lists", "manage.nav.lists", ADMIN),
    ("/ui/manage/rules", "manage.nav.rules", ADMIN),
    ("/ui/manage/health", "manage.nav.health", ADMIN),
];

/// Messages of these pages: `(key, English, Dutch)`.
pub const MESSAGES: &[(&str, &str, &str)] = messages::MESSAGES;

/// Routes of these pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/manage/policy", get(policy::page))
        .route("/ui/manage/policy/tenant", post(policy::save_tenant))
        .route("/ui/manage/policy/report", post(policy::save_report))
        .route("/ui/manage/policy/takedown", post(policy::save_takedown))
        .route("/ui/manage/orgs", get(orgs::page).post(orgs::create))
        .route("/ui/manage/orgs/{id}", get(orgs::detail))
        .route("/ui/manage/orgs/{id}/partner", post(orgs::set_partner))
        .route("/ui/manage/contacts", post(orgs::set_contact))
        .route("/ui/manage/lists", get(lists::page).post(lists::create))
        .route("/ui/manage/lists/{id}", get(lists::detail))
        .route(
            "/ui/manage/lists/{id}/upload",
            // The body limit is the API's list limit, applied in the handler.
            post(lists::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/ui/manage/lists/{id}/revoke", post(lists::revoke))
        .route("/ui/manage/rules", get(rules::page))
        .route("/ui/manage/health", get(health::page))
}

/// Signed in as an admin.
pub fn admin(user: &SignedIn) -> UiResult<()> {
    user.require(ADMIN)
}

/// The value of a form field (the first one with this name), trimmed.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .unwrap_or_default()
}

/// Whether a checkbox was sent.
pub fn checked(form: &[(String, String)], name: &str) -> bool {
    form.iter().any(|(k, _)| k == name)
}

/// One labelled control of a settings form, with its validation error next to it.
#[derive(Debug, Clone)]
pub struct Control {
    /// Form name (also the element id, prefixed `f-`).
    pub name: &'static str,
    /// Label.
    pub label: &'static str,
    /// Help text under the label (may be empty).
    pub help: &'static str,
    /// Current (or submitted) value; for a checkbox `"on"` or empty.
    pub value: String,
    /// `number`, `text` or `checkbox`.
    pub kind: &'static str,
    /// Empty allowed (optional numbers).
    pub optional: bool,
    /// Validation error.
    pub error: Option<String>,
}

impl Control {
    /// A number input.
    pub fn number(name: &'static str, label: &'static str, value: impl ToString) -> Control {
        Control {
            name,
            label,
            help: "",
            value: value.to_string(),
            kind: "number",
            optional: false,
            error: None,
        }
    }

    /// An optional number input (empty: none).
    pub fn opt_number<T: ToString>(
        name: &'static str,
        label: &'static str,
        value: Option<T>,
    ) -> Control {
        Control {
            optional: true,
            ..Control::number(
                name,
                label,
                value.map(|v| v.to_string()).unwrap_or_default(),
            )
        }
    }

    /// A text input.
    pub fn text(name: &'static str, label: &'static str, value: impl ToString) -> Control {
        Control {
            kind: "text",
            ..Control::number(name, label, value)
        }
    }

    /// A checkbox.
    pub fn checkbox(name: &'static str, label: &'static str, on: bool) -> Control {
        Control {
            kind: "checkbox",
            ..Control::number(name, label, if on { "on" } else { "" })
        }
    }

    /// With a help text.
    pub fn help(mut self, help: &'static str) -> Control {
        self.help = help;
        self
    }

    /// Whether a checkbox is on.
    pub fn is_on(&self) -> bool {
        self.value == "on"
    }
}
