//! Analyst screens: the work queues and the classification screen of one report.
//!
//! Exposure safeguards: every item is shown blurred and greyscale (CSS); an item is revealed
//! only on an explicit click or key press, which first POSTs `/ui/items/{id}/reveal` (audited
//! `item.reveal`, counted in the user's daily exposure); it blurs again when focus or the
//! pointer leaves. Images come only from the vault through `/ui/items/{id}/evidence`, which
//! runs the audited evidence handler of the API ([`crate::classify::evidence`]); the reported
//! site is never linked as an image source.
//!
//! Adding a queue: push a [`QueueCard`] in [`queue_cards`] (a count and a link to its list, or
//! `count: None` with the issue tag while the feature is not built). The takedown queues come
//! from [`super::casework::queue_cards`].

use askama::Template;
use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use schoon_core::report::{Attributes, Classification, ItemId, ItemState, ReportId};
use serde::Deserialize;
use store::accounts::{QueueEntry, Role};
use store::reports::{Item, Report};

use super::actors::ActorLabels;
use super::{Page, SignedIn, UiError, UiResult, render};
use crate::app::{AppState, JsonBody};
use crate::classify::{Analyst, ClassifyRequest, VerifyRequest};

/// Who may see reports and their items.
pub const CASE_ROLES: &[Role] = &[Role::Analyst, Role::Verifier];
/// Who may classify.
pub const CLASSIFY_ROLES: &[Role] = &[Role::Analyst, Role::Verifier];
/// Who may verify (the second analyst).
pub const VERIFY_ROLES: &[Role] = &[Role::Verifier];
/// Who sees the queue overview.
pub const QUEUE_ROLES: &[Role] = &[Role::Analyst, Role::Verifier, Role::Admin];

/// One queue on the overview.
#[derive(Debug, Clone)]
pub struct QueueCard {
    /// Stable id (used as the element id `queue-<key>`).
    pub key: &'static str,
    /// Title.
    pub label: &'static str,
    /// Items waiting; `None` while the feature does not exist yet.
    pub count: Option<i64>,
    /// Reports in it (oldest first), if listed here.
    pub entries: Vec<QueueEntry>,
    /// The issue tag that will fill it (placeholders only).
    pub tag: &'static str,
    /// Its own list page, if any.
    pub link: Option<String>,
    /// Takedown cases in it (first few), for the case queues.
    pub cases: Vec<super::casework::CaseRow>,
}

/// The queues shown to `user`.
pub async fn queue_cards(state: &AppState, user: &SignedIn) -> UiResult<Vec<QueueCard>> {
    let tr = user.tr();
    let t = user.user.tenant_id;
    let counts = state.store.queue_counts(t).await?;
    let mut cards = vec![
        QueueCard {
            key: "to-classify",
            label: tr.t("queues.to_classify"),
            count: Some(counts.to_classify),
            entries: state
                .store
                .queue(t, ItemState::AwaitingClassification.as_str(), 50)
                .await?,
            tag: "",
            link: None,
            cases: Vec::new(),
        },
        QueueCard {
            key: "to-verify",
            label: tr.t("queues.to_verify"),
            count: Some(counts.to_verify),
            entries: state
                .store
                .queue(t, ItemState::AwaitingVerification.as_str(), 50)
                .await?,
            tag: "",
            link: None,
            cases: Vec::new(),
        },
    ];
    // The takedown queues (needs contact, police, monitoring, changed hoster).
    cards.extend(super::casework::queue_cards(state, user).await?);
    Ok(cards)
}

#[derive(Template)]
#[template(path = "ui/queues.html")]
struct QueuesPage {
    page: Page,
    cards: Vec<QueueCard>,
}

/// `GET /ui/queues`.
pub async fn queues(State(state): State<AppState>, user: SignedIn) -> UiResult<Response> {
    user.require(QUEUE_ROLES)?;
    let tr = user.tr();
    let page = Page::new(&state, &user, "/ui/queues", tr.t("queues.title")).await;
    let cards = queue_cards(&state, &user).await?;
    render(&QueuesPage { page, cards })
}

/// An item as the classification screen shows it.
#[derive(Debug, Clone)]
pub struct ItemView {
    /// Id.
    pub id: ItemId,
    /// Media URL (text only: never an image source).
    pub url: String,
    /// How it was found.
    pub found_as: String,
    /// State.
    pub state: &'static str,
    /// Verdict, if any.
    pub classification: String,
    /// The vault holds its bytes.
    pub has_evidence: bool,
    /// The user may classify it now.
    pub classifiable: bool,
    /// The user may verify it now.
    pub verifiable: bool,
    /// Its classification attributes ("age_group: pubescent · virtual"), or empty.
    pub attributes: String,
}

fn item_view(i: &Item, user: &SignedIn) -> ItemView {
    let mine = i.classified_by.as_deref() == Some(user.actor().0.as_str());
    let can_classify = user.require(CLASSIFY_ROLES).is_ok();
    ItemView {
        id: i.id,
        url: i.url.clone(),
        found_as: i.found_as.clone(),
        state: i.state.as_str(),
        classification: i
            .classification
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        has_evidence: i.evidence_ref.is_some() && i.evidence_purged_at.is_none(),
        classifiable: can_classify && i.state == ItemState::AwaitingClassification,
        verifiable: user.require(VERIFY_ROLES).is_ok()
            && i.state == ItemState::AwaitingVerification
            && !mine,
        attributes: i
            .attributes
            .as_ref()
            .map(attributes_text)
            .unwrap_or_default(),
    }
}

/// Attributes as one line of text.
fn attributes_text(a: &Attributes) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("age_group", &a.age_group),
        ("gender", &a.gender),
        ("site_type", &a.site_type),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}: {v}"));
        }
    }
    if a.virtual_content == Some(true) {
        parts.push("virtual".into());
    }
    parts.join(" · ")
}

/// A note on the report as shown: its author named like the timeline's actors.
#[derive(Debug, Clone)]
pub struct NoteView {
    /// When (UTC).
    pub at: String,
    /// Who, as people read it.
    pub author: String,
    /// Who, as stored (`user:<id>`).
    pub author_raw: String,
    /// Text.
    pub body: String,
}

/// One audit event of the report's timeline.
#[derive(Debug, Clone)]
pub struct AuditLine {
    /// When.
    pub at: String,
    /// Action (`item.reveal`, `report.note`…).
    pub action: String,
    /// Subject (`report:1`, `item:4`).
    pub subject: String,
    /// Who (readable label).
    pub actor: String,
    /// The stored audit actor.
    pub actor_raw: String,
}

/// A takedown case of the report with its current attribution.
#[derive(Debug, Clone)]
pub struct ReportCaseView {
    /// Case id.
    pub id: i64,
    /// Item.
    pub item_id: ItemId,
    /// State.
    pub state: &'static str,
    /// Hoster (organisation · address).
    pub hoster: String,
    /// Registrar.
    pub registrar: String,
    /// IP.
    pub ip: String,
    /// Hoster country.
    pub country: String,
    /// AS number.
    pub asn: String,
}

fn report_case_view(c: &store::takedown::Case) -> ReportCaseView {
    let k = &c.contacts;
    let hoster = [k.hoster_org.clone(), k.hoster_email.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    ReportCaseView {
        id: c.id,
        item_id: c.item_id,
        state: c.state.as_str(),
        hoster,
        registrar: k.registrar_name.clone().unwrap_or_default(),
        ip: k.ip.clone().unwrap_or_default(),
        country: k.hoster_country.clone().unwrap_or_default(),
        asn: k.asn.map(|a| format!("AS{a}")).unwrap_or_default(),
    }
}

/// Audit lines shown on the classification screen (newest).
const TIMELINE_LINES: usize = 200;

#[derive(Template)]
#[template(path = "ui/report.html")]
struct ReportPage {
    page: Page,
    report: Report,
    state: &'static str,
    items: Vec<ItemView>,
    locked_other: bool,
    any_classifiable: bool,
    any_verifiable: bool,
    notes: Vec<NoteView>,
    timeline: Vec<AuditLine>,
    cases: Vec<ReportCaseView>,
}

/// A report of the user's tenant (another tenant's is "not found").
async fn own_report(state: &AppState, user: &SignedIn, id: ReportId) -> UiResult<Report> {
    state
        .store
        .report(id)
        .await?
        .filter(|r| r.tenant_id == user.user.tenant_id)
        .ok_or(UiError::NotFound)
}

/// An item of the user's tenant.
async fn own_item(state: &AppState, user: &SignedIn, id: ItemId) -> UiResult<Item> {
    state
        .store
        .item(id)
        .await?
        .filter(|i| i.tenant_id == user.user.tenant_id)
        .ok_or(UiError::NotFound)
}

/// Query of the report page.
#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    /// Set after a successful action.
    #[serde(default)]
    done: Option<String>,
}

/// `GET /ui/reports/{id}`: the classification screen.
pub async fn report(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<ReportId>,
    Query(q): Query<ReportQuery>,
) -> UiResult<Response> {
    user.require(CASE_ROLES)?;
    let report = own_report(&state, &user, id).await?;
    let mut items: Vec<ItemView> = state
        .store
        .report_items(id)
        .await?
        .iter()
        .map(|i| item_view(i, &user))
        .collect();
    // Opening the screen with work on it takes (or renews) the report's lock, as the API's
    // `lock` does; if another analyst holds it the screen is read-only. Nothing to do: no lock,
    // so looking never blocks the colleague who has to act.
    let mut locked_other = false;
    if items.iter().any(|i| i.classifiable || i.verifiable) {
        let until =
            state.clock.now() + chrono::Duration::seconds(state.config.reports.lock_secs.max(1));
        locked_other = match state.store.lock_report(&user.actor(), id, until).await {
            Ok(_) => false,
            Err(store::StoreError::Conflict(_)) => true,
            Err(e) => return Err(e.into()),
        };
    }
    if locked_other {
        for v in &mut items {
            v.classifiable = false;
            v.verifiable = false;
        }
    }
    let tr = user.tr();
    let mut page = Page::new(
        &state,
        &user,
        &format!("/ui/reports/{id}"),
        &format!("{} {}", tr.t("report.title"), report.reference),
    )
    .await;
    page.flash = match q.done.as_deref() {
        Some("note") => Some(tr.t("casework.note_saved").to_string()),
        Some(_) => Some(tr.t("classify.done").to_string()),
        None => None,
    };
    let notes = state.store.report_notes(id).await?;
    let mut subjects = vec![format!("report:{id}")];
    subjects.extend(items.iter().map(|i| format!("item:{}", i.id)));
    let audit = state.store.audit_for_subjects(&subjects).await?;
    let shown = || audit.iter().rev().take(TIMELINE_LINES);
    let actors = ActorLabels::load(
        &state,
        &user,
        shown()
            .map(|e| e.actor.as_str())
            .chain(notes.iter().map(|n| n.author.as_str())),
    )
    .await;
    let notes = notes
        .iter()
        .map(|n| NoteView {
            at: n.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            author: actors.label(&n.author),
            author_raw: n.author.clone(),
            body: n.body.clone(),
        })
        .collect();
    let timeline = shown()
        .map(|e| AuditLine {
            at: super::casework::when(&e.at),
            action: e.action.clone(),
            subject: e.subject.clone(),
            actor: actors.label(&e.actor),
            actor_raw: e.actor.clone(),
        })
        .collect();
    let cases = state
        .store
        .report_cases(id)
        .await?
        .iter()
        .map(report_case_view)
        .collect();
    render(&ReportPage {
        notes,
        timeline,
        cases,
        page,
        state: report.state.as_str(),
        report,
        any_classifiable: items.iter().any(|i| i.classifiable),
        any_verifiable: items.iter().any(|i| i.verifiable),
        items,
        locked_other,
    })
}

/// Reads `csrf`, every `items` and one named field from a form.
fn form_fields(form: &[(String, String)], field: &str) -> (String, Vec<ItemId>, String) {
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let items = form
        .iter()
        .filter(|(n, _)| n == "items")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    (get("csrf"), items, get(field))
}

/// The optional attribute fields of the classify form (empty values are "not given").
fn form_attributes(form: &[(String, String)]) -> Attributes {
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    Attributes {
        age_group: get("age_group"),
        gender: get("gender"),
        site_type: get("site_type"),
        virtual_content: get("virtual_content").map(|v| v == "yes"),
    }
}

/// Checks every item is of this report (and so of the user's tenant).
async fn check_items(state: &AppState, report: &Report, items: &[ItemId]) -> UiResult<()> {
    if items.is_empty() {
        return Err(UiError::Conflict("no items selected".into()));
    }
    let of_report: Vec<ItemId> = state
        .store
        .report_items(report.id)
        .await?
        .iter()
        .map(|i| i.id)
        .collect();
    if items.iter().all(|i| of_report.contains(i)) {
        Ok(())
    } else {
        Err(UiError::NotFound)
    }
}

/// `POST /ui/reports/{id}/classify`: `items` (repeated), `classification`.
pub async fn classify(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<ReportId>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult<Response> {
    let (csrf, items, verdict) = form_fields(&form, "classification");
    user.check_csrf(&csrf)?;
    user.require(CLASSIFY_ROLES)?;
    let report = own_report(&state, &user, id).await?;
    check_items(&state, &report, &items).await?;
    let classification: Classification = verdict
        .parse()
        .map_err(|_| UiError::Conflict(format!("unknown classification {verdict:?}")))?;
    // Attributes describe illegal material only; a "not illegal" or "ignore" verdict has none.
    let attributes = if classification.is_illegal() {
        form_attributes(&form)
    } else {
        Attributes::default()
    };
    // The API's handler: same policy (4-eyes), same store call, same audit.
    let _items = crate::classify::classify(
        State(state.clone()),
        Analyst(user.actor()),
        JsonBody(ClassifyRequest {
            items,
            classification,
            attributes,
        }),
    )
    .await?;
    release_if_done(&state, &user, id, ItemState::AwaitingClassification).await;
    Ok(Redirect::to(&format!("/ui/reports/{id}?done=1")).into_response())
}

/// Releases the report lock once nothing in `waiting` is left, so the second analyst (or a
/// colleague) can take the report without waiting for the lock to expire.
async fn release_if_done(state: &AppState, user: &SignedIn, id: ReportId, waiting: ItemState) {
    let left = match state.store.report_items(id).await {
        Ok(items) => items.iter().any(|i| i.state == waiting),
        Err(_) => true,
    };
    if !left && let Err(e) = state.store.unlock_report(&user.actor(), id).await {
        tracing::warn!(report = id, error = %e, "releasing the report lock failed");
    }
}

/// `POST /ui/reports/{id}/verify`: `items` (repeated), `agree` = `yes` | `no`.
pub async fn verify(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<ReportId>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult<Response> {
    let (csrf, items, agree) = form_fields(&form, "agree");
    user.check_csrf(&csrf)?;
    user.require(VERIFY_ROLES)?;
    let report = own_report(&state, &user, id).await?;
    check_items(&state, &report, &items).await?;
    let agree = match agree.as_str() {
        "yes" => true,
        "no" => false,
        _ => return Err(UiError::Conflict("agree must be yes or no".into())),
    };
    let _items = crate::classify::verify(
        State(state.clone()),
        Analyst(user.actor()),
        JsonBody(VerifyRequest { items, agree }),
    )
    .await?;
    release_if_done(&state, &user, id, ItemState::AwaitingVerification).await;
    Ok(Redirect::to(&format!("/ui/reports/{id}?done=1")).into_response())
}

/// `GET /ui/items/{id}/evidence`: the item's bytes from the vault, through the API's audited
/// evidence handler (`Cache-Control: no-store`, sandbox CSP).
pub async fn evidence(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<ItemId>,
) -> UiResult<Response> {
    user.require(CASE_ROLES)?;
    own_item(&state, &user, id).await?;
    Ok(crate::classify::evidence(State(state.clone()), Analyst(user.actor()), Path(id)).await?)
}

/// `POST /ui/items/{id}/reveal` (header `x-csrf-token`): records the reveal, returns the
/// user's count today as `{"views": n}`.
pub async fn reveal(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(id): Path<ItemId>,
) -> UiResult<Response> {
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    user.check_csrf(token)?;
    user.require(CASE_ROLES)?;
    own_item(&state, &user, id).await?;
    let today = state.clock.now().date_naive();
    let views = state.store.record_reveal(&user.user, id, today).await?;
    Ok(Json(serde_json::json!({"views": views})).into_response())
}

/// The note form.
#[derive(Debug, Deserialize)]
pub struct NoteForm {
    csrf: String,
    note: String,
}

/// `POST /ui/reports/{id}/notes`: adds an analyst's note to the report (stored, audited
/// `report.note`).
pub async fn add_note(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<ReportId>,
    Form(f): Form<NoteForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(CASE_ROLES)?;
    own_report(&state, &user, id).await?;
    state
        .store
        .add_report_note(&user.actor(), id, &f.note, state.clock.now())
        .await?;
    Ok(Redirect::to(&format!("/ui/reports/{id}?done=note#notes")).into_response())
}
