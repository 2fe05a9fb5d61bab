//! Organisations of the admin's tenant (create; per organisation its report-partner kind,
//! check keys and users) and the hoster abuse contacts the tenant's open takedown cases use.
//!
//! Contacts live on the cases (what attribution found, or what a person set; see
//! [`store::takedown::CaseContacts`]). Changing a hoster's abuse address here sets it on every
//! open case of that hoster through [`store::TakedownStore::set_contacts`] — a manual
//! attribution per case, audited per case, and a `needs_contact` case goes to monitoring. A
//! later re-attribution that finds an address again replaces it; a lasting override is a
//! domain rule (see the rules page).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use schoon_core::report::SourceKind;
use schoon_core::{ApiKey, Organisation};
use serde::Deserialize;
use store::manage::HosterContact;

use super::admin;
use crate::app::AppState;
use crate::ui::{Page, SignedIn, UiError, UiResult, render};

/// Open cases changed per contact edit (the rest is reported as left over).
const MAX_CASES_PER_EDIT: u32 = 5000;
/// Contacts listed.
const MAX_CONTACTS: u32 = 200;

/// An organisation row.
#[derive(Debug, Clone)]
pub struct OrgRow {
    /// The organisation.
    pub org: Organisation,
    /// Report-partner kind (translated), if a partner.
    pub partner: String,
    /// Active check keys.
    pub keys: usize,
    /// Users bound to it.
    pub users: usize,
}

#[derive(Template)]
#[template(path = "ui/manage_orgs.html")]
struct OrgsPage {
    page: Page,
    orgs: Vec<OrgRow>,
    contacts: Vec<HosterContact>,
    error: Option<String>,
    contact_error: Option<String>,
    name: String,
}

fn partner_label(tr: crate::ui::Tr, k: Option<SourceKind>) -> String {
    k.map(|k| tr.t(&format!("manage.partner.{k}")).to_string())
        .unwrap_or_default()
}

async fn show(
    state: &AppState,
    user: &SignedIn,
    name: &str,
    error: Option<String>,
    contact_error: Option<String>,
    flash: Option<String>,
) -> UiResult<Response> {
    let tr = user.tr();
    let t = user.user.tenant_id;
    let keys = state.store.api_keys(Some(t)).await?;
    let users = state.store.users(t).await?;
    let mut orgs = Vec::new();
    for o in state.store.orgs(t).await? {
        let partner = state.store.report_partner(o.id).await?;
        orgs.push(OrgRow {
            partner: partner_label(tr, partner),
            keys: keys
                .iter()
                .filter(|k| k.org_id == Some(o.id) && k.revoked_at.is_none())
                .count(),
            users: users.iter().filter(|u| u.org_id == Some(o.id)).count(),
            org: o,
        });
    }
    let contacts = state.store.hoster_contacts(t, MAX_CONTACTS).await?;
    let mut page = Page::new(state, user, "/ui/manage/orgs", tr.t("manage.orgs.title")).await;
    page.flash = flash;
    let invalid = error.is_some() || contact_error.is_some();
    let mut resp = render(&OrgsPage {
        page,
        orgs,
        contacts,
        error,
        contact_error,
        name: name.to_string(),
    })?;
    if invalid {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// Query of the organisations page.
#[derive(Debug, Deserialize)]
pub struct OrgsQuery {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    contacts: Option<usize>,
}

/// `GET /ui/manage/orgs`.
pub async fn page(
    State(state): State<AppState>,
    user: SignedIn,
    Query(q): Query<OrgsQuery>,
) -> UiResult<Response> {
    admin(&user)?;
    let tr = user.tr();
    let flash = if q.created.is_some() {
        Some(tr.t("manage.orgs.created").to_string())
    } else {
        q.contacts
            .map(|n| format!("{}: {n}", tr.t("manage.contacts.updated")))
    };
    show(&state, &user, "", None, None, flash).await
}

/// New organisation form.
#[derive(Debug, Deserialize)]
pub struct NewOrgForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

/// `POST /ui/manage/orgs`.
pub async fn create(
    State(state): State<AppState>,
    user: SignedIn,
    Form(f): Form<NewOrgForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    admin(&user)?;
    let name = f.name.trim();
    match state
        .store
        .create_org(&user.actor(), user.user.tenant_id, name)
        .await
    {
        Ok(o) => Ok(Redirect::to(&format!("/ui/manage/orgs/{}?created=1", o.id)).into_response()),
        Err(store::StoreError::Invalid(d) | store::StoreError::Conflict(d)) => {
            show(&state, &user, name, Some(d), None, None).await
        }
        Err(e) => Err(e.into()),
    }
}

/// An organisation of the admin's tenant (another tenant's is "not found").
async fn own_org(state: &AppState, user: &SignedIn, id: i64) -> UiResult<Organisation> {
    state
        .store
        .org(id)
        .await?
        .filter(|o| o.tenant_id == user.user.tenant_id)
        .ok_or(UiError::NotFound)
}

/// A user row of an organisation.
#[derive(Debug, Clone)]
pub struct OrgUser {
    /// Login name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
}

#[derive(Template)]
#[template(path = "ui/manage_org.html")]
struct OrgPage {
    page: Page,
    org: Organisation,
    partner: String,
    kinds: Vec<(&'static str, &'static str, bool)>,
    keys: Vec<ApiKey>,
    users: Vec<OrgUser>,
}

/// Query of the organisation page.
#[derive(Debug, Deserialize)]
pub struct OrgQuery {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /ui/manage/orgs/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<i64>,
    Query(q): Query<OrgQuery>,
) -> UiResult<Response> {
    admin(&user)?;
    let org = own_org(&state, &user, id).await?;
    let tr = user.tr();
    let t = user.user.tenant_id;
    let partner = state.store.report_partner(org.id).await?;
    let keys = state
        .store
        .api_keys(Some(t))
        .await?
        .into_iter()
        .filter(|k| k.org_id == Some(org.id))
        .collect();
    let users = state
        .store
        .users(t)
        .await?
        .into_iter()
        .filter(|u| u.org_id == Some(org.id))
        .map(|u| OrgUser {
            username: u.username,
            display_name: u.display_name,
        })
        .collect();
    let mut page = Page::new(
        &state,
        &user,
        &format!("/ui/manage/orgs/{}", org.id),
        &format!("{} {}", tr.t("manage.orgs.org"), org.name),
    )
    .await;
    if q.created.is_some() {
        page.flash = Some(tr.t("manage.orgs.created").to_string());
    } else if q.saved.is_some() {
        page.flash = Some(tr.t("manage.saved").to_string());
    }
    let kinds = [
        SourceKind::Hotline,
        SourceKind::Police,
        SourceKind::TrustedFlagger,
        SourceKind::Internal,
    ]
    .into_iter()
    .map(|k| {
        (
            k.as_str(),
            tr.t(&format!("manage.partner.{k}")),
            Some(k) == partner,
        )
    })
    .collect();
    render(&OrgPage {
        page,
        partner: partner_label(tr, partner),
        org,
        kinds,
        keys,
        users,
    })
}

/// Partner form.
#[derive(Debug, Deserialize)]
pub struct PartnerForm {
    #[serde(default)]
    csrf: String,
    kind: String,
}

/// `POST /ui/manage/orgs/{id}/partner`: registers the organisation as a report partner.
pub async fn set_partner(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<PartnerForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    admin(&user)?;
    let org = own_org(&state, &user, id).await?;
    let kind: SourceKind = f
        .kind
        .parse()
        .map_err(|e: schoon_core::model::UnknownValue| UiError::Conflict(e.to_string()))?;
    state
        .store
        .set_report_partner(&user.actor(), org.id, kind)
        .await?;
    Ok(Redirect::to(&format!("/ui/manage/orgs/{}?saved=1", org.id)).into_response())
}

/// Contact edit form.
#[derive(Debug, Deserialize)]
pub struct ContactForm {
    #[serde(default)]
    csrf: String,
    /// The hoster as listed (empty: unknown hoster).
    #[serde(default)]
    hoster_org: String,
    /// New abuse address.
    email: String,
    /// Country (optional; empty keeps each case's).
    #[serde(default)]
    country: String,
}

fn plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `POST /ui/manage/contacts`: sets a hoster's abuse address on its open cases.
pub async fn set_contact(
    State(state): State<AppState>,
    user: SignedIn,
    Form(f): Form<ContactForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    admin(&user)?;
    let tr = user.tr();
    let email = f.email.trim();
    if !plausible_email(email) {
        let e = Some(tr.t("manage.contacts.bad_email").to_string());
        return show(&state, &user, "", None, e, None).await;
    }
    let country = f.country.trim().to_ascii_uppercase();
    if !country.is_empty()
        && (country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()))
    {
        let e = Some(tr.t("manage.contacts.bad_country").to_string());
        return show(&state, &user, "", None, e, None).await;
    }
    let org = Some(f.hoster_org.trim()).filter(|o| !o.is_empty());
    let ids = state
        .store
        .open_cases_of_hoster(user.user.tenant_id, org, MAX_CASES_PER_EDIT)
        .await?;
    if ids.is_empty() {
        return Err(UiError::NotFound);
    }
    let now = state.clock.now();
    let mut updated = 0;
    for id in ids {
        let Some(case) = state.store.case(id).await? else {
            continue;
        };
        // The query is tenant-bound already; this keeps the rule local and obvious.
        if case.tenant_id != user.user.tenant_id {
            continue;
        }
        let mut c = case.contacts.clone();
        c.hoster_email = Some(email.to_string());
        if !country.is_empty() {
            c.hoster_country = Some(country.clone());
        }
        match state.store.set_contacts(&user.actor(), id, c, now).await {
            Ok(_) => updated += 1,
            // Closed or forwarded meanwhile: nothing to change there.
            Err(store::StoreError::Invalid(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Redirect::to(&format!("/ui/manage/orgs?contacts={updated}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_plausibility() {
        assert!(plausible_email("abuse@hoster.example"));
        assert!(!plausible_email("abuse@hoster"));
        assert!(!plausible_email("abuse hoster@x.example"));
        assert!(!plausible_email("@x.example"));
    }
}
