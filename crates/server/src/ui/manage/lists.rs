//! Hash lists of the admin's tenant: the lists with entry counts, creating one (known or allow,
//! PDQ radius, minimum quality), uploading a list file in the formats of the API's import
//! ([`crate::listfile`], all or nothing, every bad line numbered) and revoking entries by value
//! or by source with a reason. Allow-lists are lists of kind `allow`.
//!
//! Each change is applied to this node's matcher before the answer, as the API does.

use askama::Template;
use axum::body::Body;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use schoon_core::policy::{DEFAULT_MIN_QUALITY, DEFAULT_PDQ_RADIUS};
use schoon_core::{Category, Entry, HashList, ListKind, SignalType, SignalValue};
use serde::Deserialize;
use store::{NewList, RevokeSelector};

use super::admin;
use crate::app::AppState;
use crate::listfile::ParseOptions;
use crate::ui::multipart;
use crate::ui::{Page, SignedIn, UiError, UiResult, render};

/// Entries shown per page of a list.
const PAGE: u32 = 50;
/// Entry ids revoked per store call (one transaction each).
const REVOKE_CHUNK: usize = 1000;
/// Bad lines shown after a refused upload.
const SHOWN_ERRORS: usize = 50;

/// A list row.
#[derive(Debug, Clone)]
pub struct ListRow {
    /// The list.
    pub list: HashList,
    /// `known` / `allow` (translated).
    pub kind: &'static str,
    /// Active entries.
    pub active: i64,
    /// Revoked entries.
    pub revoked: i64,
}

#[derive(Template)]
#[template(path = "ui/manage_lists.html")]
struct ListsPage {
    page: Page,
    lists: Vec<ListRow>,
    error: Option<String>,
    name: String,
    kind: String,
    pdq_radius: String,
    min_quality: String,
}

async fn rows(state: &AppState, user: &SignedIn) -> UiResult<Vec<ListRow>> {
    let tr = user.tr();
    let t = user.user.tenant_id;
    let counts = state.store.list_counts(t).await?;
    Ok(state
        .store
        .lists(t)
        .await?
        .into_iter()
        .map(|l| {
            let c = counts.iter().find(|c| c.list_id == l.id);
            ListRow {
                kind: tr.t(match l.kind {
                    ListKind::Known => "manage.lists.known",
                    ListKind::Allow => "manage.lists.allow",
                }),
                active: c.map_or(0, |c| c.active),
                revoked: c.map_or(0, |c| c.revoked),
                list: l,
            }
        })
        .collect())
}

async fn show(
    state: &AppState,
    user: &SignedIn,
    form: Option<&NewListForm>,
    error: Option<String>,
    flash: Option<String>,
) -> UiResult<Response> {
    let tr = user.tr();
    let mut page = Page::new(state, user, "/ui/manage/lists", tr.t("manage.lists.title")).await;
    page.flash = flash;
    let invalid = error.is_some();
    let mut resp = render(&ListsPage {
        page,
        lists: rows(state, user).await?,
        error,
        name: form.map(|f| f.name.clone()).unwrap_or_default(),
        kind: form.map_or("known".into(), |f| f.kind.clone()),
        pdq_radius: form.map_or(DEFAULT_PDQ_RADIUS.to_string(), |f| f.pdq_radius.clone()),
        min_quality: form.map_or(DEFAULT_MIN_QUALITY.to_string(), |f| f.min_quality.clone()),
    })?;
    if invalid {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// Query of the lists page.
#[derive(Debug, Deserialize)]
pub struct ListsQuery {
    #[serde(default)]
    created: Option<String>,
}

/// `GET /ui/manage/lists`.
pub async fn page(
    State(state): State<AppState>,
    user: SignedIn,
    Query(q): Query<ListsQuery>,
) -> UiResult<Response> {
    admin(&user)?;
    let flash = q
        .created
        .is_some()
        .then(|| user.tr().t("manage.lists.created").to_string());
    show(&state, &user, None, None, flash).await
}

/// New list form.
#[derive(Debug, Deserialize)]
pub struct NewListForm {
    #[serde(default)]
    csrf: String,
    name: String,
    kind: String,
    pdq_radius: String,
    min_quality: String,
}

async fn applied(state: &AppState, tenant: schoon_core::TenantId) -> UiResult<()> {
    state.matchers.refresh(tenant).await?;
    state
        .metrics
        .entries
        .set(state.matchers.total_entries() as i64);
    Ok(())
}

/// `POST /ui/manage/lists`: creates a list in the admin's tenant.
pub async fn create(
    State(state): State<AppState>,
    user: SignedIn,
    Form(f): Form<NewListForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    admin(&user)?;
    let tr = user.tr();
    let kind = f.kind.parse::<ListKind>();
    let radius = f.pdq_radius.trim().parse::<u32>();
    let quality = f.min_quality.trim().parse::<u32>();
    let (Ok(kind), Ok(pdq_radius), Ok(min_quality)) = (kind, radius, quality) else {
        let msg = tr.t("manage.not_a_number").to_string();
        return show(&state, &user, Some(&f), Some(msg), None).await;
    };
    let t = user.user.tenant_id;
    let created = state
        .store
        .create_list(
            &user.actor(),
            NewList {
                tenant_id: t,
                name: f.name.trim().to_string(),
                kind,
                pdq_radius,
                min_quality,
            },
        )
        .await;
    match created {
        Ok(list) => {
            applied(&state, t).await?;
            Ok(Redirect::to(&format!("/ui/manage/lists/{}?created=1", list.id)).into_response())
        }
        Err(store::StoreError::Invalid(d) | store::StoreError::Conflict(d)) => {
            show(&state, &user, Some(&f), Some(d), None).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A list of the admin's tenant (another tenant's is "not found").
async fn own_list(state: &AppState, user: &SignedIn, id: i64) -> UiResult<HashList> {
    state
        .store
        .list(id)
        .await?
        .filter(|l| l.tenant_id == user.user.tenant_id)
        .ok_or(UiError::NotFound)
}

/// What an upload did, shown on the list page.
#[derive(Debug, Clone, Default)]
pub struct UploadSummary {
    /// Entries added.
    pub added: u64,
    /// Already present or repeated.
    pub duplicates: u64,
    /// PhotoDNA values skipped.
    pub skipped_photodna: u64,
}

#[derive(Template)]
#[template(path = "ui/manage_list.html")]
struct ListPage {
    page: Page,
    list: HashList,
    kind: &'static str,
    active: i64,
    revoked: i64,
    entries: Vec<Entry>,
    next_after: Option<i64>,
    summary: Option<UploadSummary>,
    revoked_now: Option<usize>,
    error: Option<String>,
    line_errors: Vec<(usize, String)>,
    more_errors: usize,
}

/// Query of the list page (after an action, and paging).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    added: Option<u64>,
    #[serde(default)]
    duplicates: Option<u64>,
    #[serde(default)]
    skipped: Option<u64>,
    #[serde(default)]
    revoked: Option<usize>,
}

/// An error shown on the list page.
#[derive(Debug, Default)]
struct ListError {
    message: Option<String>,
    lines: Vec<(usize, String)>,
    total: usize,
}

async fn show_list(
    state: &AppState,
    user: &SignedIn,
    list: HashList,
    q: ListQuery,
    err: ListError,
) -> UiResult<Response> {
    let tr = user.tr();
    let counts = state.store.list_counts(user.user.tenant_id).await?;
    let c = counts.iter().find(|c| c.list_id == list.id);
    let entries = state
        .store
        .entries(list.id, false, q.after.unwrap_or(0), PAGE)
        .await?;
    let next_after = (entries.len() as u32 == PAGE)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    let mut page = Page::new(
        state,
        user,
        &format!("/ui/manage/lists/{}", list.id),
        &format!("{} {}", tr.t("manage.lists.list"), list.name),
    )
    .await;
    if q.created.is_some() {
        page.flash = Some(tr.t("manage.lists.created").to_string());
    }
    let summary = q.added.map(|added| UploadSummary {
        added,
        duplicates: q.duplicates.unwrap_or(0),
        skipped_photodna: q.skipped.unwrap_or(0),
    });
    let invalid = err.message.is_some();
    let shown = err.lines.len();
    let mut resp = render(&ListPage {
        page,
        kind: tr.t(match list.kind {
            ListKind::Known => "manage.lists.known",
            ListKind::Allow => "manage.lists.allow",
        }),
        list,
        active: c.map_or(0, |c| c.active),
        revoked: c.map_or(0, |c| c.revoked),
        entries,
        next_after,
        summary,
        revoked_now: q.revoked,
        error: err.message,
        line_errors: err.lines,
        more_errors: err.total.saturating_sub(shown),
    })?;
    if invalid {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// `GET /ui/manage/lists/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<i64>,
    Query(q): Query<ListQuery>,
) -> UiResult<Response> {
    admin(&user)?;
    let list = own_list(&state, &user, id).await?;
    show_list(&state, &user, list, q, ListError::default()).await
}

fn part_text(parts: &[multipart::Part], name: &str) -> String {
    multipart::text(parts, name).trim().to_string()
}

/// `POST /ui/manage/lists/{id}/upload` (`multipart/form-data`): `csrf`, `file`, optional
/// `type` (signal type of plain hex lines), `category`, `source`, `assessor`.
pub async fn upload(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Body,
) -> UiResult<Response> {
    // The CSRF token is inside the body: it is checked before anything else is done with it.
    let limit = state.config.limits.max_list_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| UiError::Conflict(format!("the upload is larger than {limit} bytes")))?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // An unreadable form has no readable token either.
    let parts = multipart::parse(ct, bytes)
        .await
        .map_err(|_| UiError::Csrf)?;
    user.check_csrf(&part_text(&parts, "csrf"))?;
    admin(&user)?;
    let list = own_list(&state, &user, id).await?;
    let tr = user.tr();
    let fail = |message: String| ListError {
        message: Some(message),
        ..ListError::default()
    };
    let Some(file) = parts
        .iter()
        .find(|p| p.name == "file" && !p.data.is_empty())
    else {
        let e = fail(tr.t("manage.lists.no_file").to_string());
        return show_list(&state, &user, list, ListQuery::default(), e).await;
    };
    let opt = |name: &str| Some(part_text(&parts, name)).filter(|s| !s.is_empty());
    let signal_type = match opt("type").map(|s| s.parse::<SignalType>()).transpose() {
        Ok(t) => t,
        Err(e) => {
            return show_list(
                &state,
                &user,
                list,
                ListQuery::default(),
                fail(e.to_string()),
            )
            .await;
        }
    };
    let category = match opt("category").map(|s| s.parse::<Category>()).transpose() {
        Ok(c) => c,
        Err(e) => {
            return show_list(
                &state,
                &user,
                list,
                ListQuery::default(),
                fail(e.to_string()),
            )
            .await;
        }
    };
    let opts = ParseOptions {
        signal_type,
        category,
        source: opt("source"),
        assessor: opt("assessor"),
    };
    let label = file.filename.clone().unwrap_or_else(|| "upload".into());
    let r = crate::ops::import_list_file(
        state.store.as_ref(),
        &user.actor(),
        list.id,
        &file.data,
        &opts,
        &label,
    )
    .await;
    match r {
        Ok(rep) => {
            applied(&state, list.tenant_id).await?;
            Ok(Redirect::to(&format!(
                "/ui/manage/lists/{}?added={}&duplicates={}&skipped={}",
                list.id, rep.added, rep.duplicates, rep.skipped_photodna
            ))
            .into_response())
        }
        Err(p) if p.status == 400 || p.status == 409 || p.status == 422 => {
            let total = p.errors.len().max(usize::from(!p.detail.is_empty()));
            let lines = p
                .errors
                .iter()
                .take(SHOWN_ERRORS)
                .map(|e| (e.line.unwrap_or(0), e.detail.clone()))
                .collect();
            let e = ListError {
                message: Some(p.detail),
                lines,
                total,
            };
            show_list(&state, &user, list, ListQuery::default(), e).await
        }
        Err(p) => Err(p.into()),
    }
}

/// Revoke form: `by` = `value` | `source`; `type` and `values` (one per line, optionally
/// `type value`) or `source`; `reason`.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    by: String,
    #[serde(default, rename = "type")]
    signal_type: String,
    #[serde(default)]
    values: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    reason: String,
}

/// Parses the values to revoke: `value` (with the form's type) or `type value` per line.
fn revoke_values(f: &RevokeForm) -> Result<Vec<SignalValue>, String> {
    let default_type = Some(f.signal_type.trim())
        .filter(|s| !s.is_empty())
        .map(str::parse::<SignalType>)
        .transpose()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (i, line) in f.values.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (t, v) = match line.split_once(char::is_whitespace) {
            Some((t, v)) => (
                Some(
                    t.parse::<SignalType>()
                        .map_err(|e| format!("line {}: {e}", i + 1))?,
                ),
                v.trim(),
            ),
            None => (default_type, line),
        };
        let t = t.ok_or_else(|| format!("line {}: give a signal type", i + 1))?;
        out.push(SignalValue::parse(t, v).map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    if out.is_empty() {
        return Err("no values given".into());
    }
    Ok(out)
}

/// `POST /ui/manage/lists/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<i64>,
    Form(f): Form<RevokeForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    admin(&user)?;
    let list = own_list(&state, &user, id).await?;
    let tr = user.tr();
    let fail = |m: String| ListError {
        message: Some(m),
        ..ListError::default()
    };
    if f.reason.trim().is_empty() {
        let e = fail(tr.t("manage.lists.reason_needed").to_string());
        return show_list(&state, &user, list, ListQuery::default(), e).await;
    }
    let selectors = match f.by.as_str() {
        "value" => match revoke_values(&f) {
            Ok(v) => vec![RevokeSelector::Values(v)],
            Err(m) => return show_list(&state, &user, list, ListQuery::default(), fail(m)).await,
        },
        "source" => {
            let source = f.source.trim();
            if source.is_empty() {
                let e = fail(tr.t("manage.lists.source_needed").to_string());
                return show_list(&state, &user, list, ListQuery::default(), e).await;
            }
            // The selector has ids and values; a source becomes the ids of its active entries.
            let ids = state
                .store
                .active_entry_ids_by_source(list.id, source)
                .await?;
            ids.chunks(REVOKE_CHUNK)
                .map(|c| RevokeSelector::Ids(c.to_vec()))
                .collect()
        }
        _ => return Err(UiError::Conflict("by must be value or source".into())),
    };
    let mut revoked = 0;
    for which in selectors {
        match state
            .store
            .revoke_entries(&user.actor(), list.id, which, f.reason.trim())
            .await
        {
            Ok(ids) => revoked += ids.len(),
            Err(store::StoreError::Invalid(d)) => {
                return show_list(&state, &user, list, ListQuery::default(), fail(d)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    applied(&state, list.tenant_id).await?;
    Ok(Redirect::to(&format!("/ui/manage/lists/{}?revoked={revoked}", list.id)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(t: &str, values: &str) -> RevokeForm {
        RevokeForm {
            csrf: String::new(),
            by: "value".into(),
            signal_type: t.into(),
            values: values.into(),
            source: String::new(),
            reason: "x".into(),
        }
    }

    #[test]
    fn revoke_values_take_the_form_type_or_their_own() {
        let md5 = "a".repeat(32);
        let pdq = "b".repeat(64);
        let v = revoke_values(&form("md5", &format!("{md5}\npdq {pdq}\n\n"))).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].kind(), SignalType::Pdq);
        assert!(revoke_values(&form("", &md5)).is_err());
        assert!(revoke_values(&form("md5", "xyz")).is_err());
        assert!(revoke_values(&form("md5", "  ")).is_err());
    }
}
