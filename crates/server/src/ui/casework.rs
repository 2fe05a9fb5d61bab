//! Takedown work queues for analysts (the police liaison sees the police queue only): needs
//! contact, police, monitoring, changed hoster; the case page (timeline, notices, observations,
//! attribution history) and its actions.
//!
//! Every action goes through the JSON API's handler ([`crate::takedown::cases`],
//! [`crate::takedown::respond`]) with the user's tenant as scope, so validation, store calls
//! and audit events are the API's. Another tenant's case or notice is a 404.
//!
//! URLs of reported material are shown as text only, never as links or image sources.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use schoon_core::takedown::{CaseId, CaseState, LadderRung, NoticeId, NoticeState};
use serde::Deserialize;
use store::accounts::Role;
use store::takedown::{AttributionRow, Case, CaseFilter, CaseTimeline, Notice};

use super::actors::ActorLabels;
use super::analyst::{CLASSIFY_ROLES, QUEUE_ROLES};
use super::{NavEntry, Page, SignedIn, Tr, UiError, UiResult, render};
use crate::app::{AppState, JsonBody};
use crate::classify::Analyst;
use crate::takedown::cases::{ContactsIn, TenantQuery};
use crate::takedown::respond::{NoticeQuery, ResolveIn};

/// Menu entries of these pages.
pub const NAV: &[NavEntry] = &[(
    "/ui/cases",
    "casework.nav",
    &[Role::Analyst, Role::Verifier, Role::Admin, Role::Police],
)];

/// Messages of these pages: `(key, English, Dutch)`.
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("casework.nav", "Cases", "Zaken"),
    ("casework.title", "Takedown cases", "Verwijderzaken"),
    ("casework.open_queue", "Open queue", "Wachtrij openen"),
    ("casework.case", "Case", "Zaak"),
    ("casework.url", "URL", "URL"),
    ("casework.page_url", "Page", "Pagina"),
    ("casework.host", "Host", "Host"),
    ("casework.hoster", "Hoster", "Hoster"),
    ("casework.state", "State", "Status"),
    ("casework.age", "Age", "Leeftijd"),
    ("casework.deadline", "Escalates", "Escalatie"),
    ("casework.next_check", "Next check", "Volgende controle"),
    (
        "casework.last_observation",
        "Last observation",
        "Laatste waarneming",
    ),
    ("casework.misses", "Misses", "Gemist"),
    ("casework.changed_at", "Hoster changed", "Hoster gewijzigd"),
    ("casework.police_first", "Police first", "Eerst politie"),
    ("casework.created", "Opened", "Geopend"),
    ("casework.report", "Report", "Melding"),
    ("casework.none", "—", "—"),
    (
        "casework.retries",
        "temporary failures, tried again",
        "tijdelijke fouten, opnieuw geprobeerd",
    ),
    ("casework.yes", "yes", "ja"),
    ("casework.no", "no", "nee"),
    (
        "casework.empty",
        "No cases in this queue.",
        "Geen zaken in deze wachtrij.",
    ),
    ("casework.contacts", "Current contacts", "Huidige contacten"),
    (
        "casework.set_contacts",
        "Set a contact manually",
        "Contact handmatig instellen",
    ),
    (
        "casework.set_contacts_help",
        "A hoster or CDN abuse address is needed; the case then goes to monitoring and notices start.",
        "Een abuse-adres van hoster of CDN is nodig; de zaak gaat dan naar monitoring en de meldingen starten.",
    ),
    (
        "casework.hoster_org",
        "Hoster organisation",
        "Hosterorganisatie",
    ),
    (
        "casework.hoster_email",
        "Hoster abuse address",
        "Abuse-adres hoster",
    ),
    (
        "casework.hoster_country",
        "Hoster country (ISO code)",
        "Land hoster (ISO-code)",
    ),
    ("casework.cdn_org", "CDN organisation", "CDN-organisatie"),
    ("casework.cdn_email", "CDN abuse address", "Abuse-adres CDN"),
    ("casework.registrar_name", "Registrar", "Registrar"),
    (
        "casework.registrar_email",
        "Registrar abuse address",
        "Abuse-adres registrar",
    ),
    (
        "casework.site_owner_email",
        "Site owner address",
        "Adres site-eigenaar",
    ),
    ("casework.save_contacts", "Save contact", "Contact opslaan"),
    (
        "casework.contacts_saved",
        "Contact saved.",
        "Contact opgeslagen.",
    ),
    (
        "casework.release",
        "Release police hold",
        "Politieblokkade opheffen",
    ),
    (
        "casework.release_help",
        "Only when the police agreed: the case is attributed afresh and held notices go out.",
        "Alleen na akkoord van de politie: de zaak wordt opnieuw toegewezen en vastgehouden meldingen gaan uit.",
    ),
    (
        "casework.released",
        "Police hold released.",
        "Politieblokkade opgeheven.",
    ),
    ("casework.events", "Timeline", "Tijdlijn"),
    ("casework.when", "When", "Wanneer"),
    ("casework.event", "Event", "Gebeurtenis"),
    ("casework.actor", "By", "Door"),
    ("casework.actor_system", "system", "systeem"),
    (
        "casework.actor_worker",
        "schoon (automatic)",
        "schoon (automatisch)",
    ),
    ("casework.reason", "Reason", "Reden"),
    ("casework.notices", "Notices", "Meldingen"),
    ("casework.reference", "Reference", "Kenmerk"),
    ("casework.rung", "Rung", "Trede"),
    ("casework.recipient", "Recipient", "Ontvanger"),
    ("casework.delivery", "Delivery", "Aflevering"),
    ("casework.due", "Due", "Gepland"),
    ("casework.sent_at", "Sent", "Verzonden"),
    ("casework.smtp", "Mail server reply", "Antwoord mailserver"),
    ("casework.mark_sent", "Was sent", "Is verzonden"),
    (
        "casework.requeue",
        "Not sent: send again",
        "Niet verzonden: opnieuw sturen",
    ),
    (
        "casework.resolved",
        "Notice updated.",
        "Melding bijgewerkt.",
    ),
    ("casework.observations", "Observations", "Waarnemingen"),
    ("casework.outcome", "Outcome", "Uitkomst"),
    ("casework.http", "HTTP", "HTTP"),
    ("casework.detail", "Detail", "Detail"),
    (
        "casework.responses",
        "Provider responses",
        "Reacties van providers",
    ),
    ("casework.kind", "Kind", "Soort"),
    ("casework.statement", "Statement", "Verklaring"),
    (
        "casework.attributions",
        "Attribution history",
        "Toewijzingsgeschiedenis",
    ),
    ("casework.registrar", "Registrar", "Registrar"),
    ("casework.ip", "IP", "IP"),
    ("casework.country", "Country", "Land"),
    ("casework.asn", "AS", "AS"),
    ("casework.source", "Source", "Bron"),
    ("casework.missing", "Missing", "Ontbreekt"),
    (
        "casework.not_checked",
        "not checked yet",
        "nog niet gecontroleerd",
    ),
    (
        "casework.cases_of_report",
        "Takedown cases",
        "Verwijderzaken",
    ),
    ("casework.notes", "Notes", "Notities"),
    ("casework.note_add", "Add note", "Notitie toevoegen"),
    ("casework.note_label", "New note", "Nieuwe notitie"),
    ("casework.note_saved", "Note saved.", "Notitie opgeslagen."),
    ("casework.no_notes", "No notes yet.", "Nog geen notities."),
    (
        "casework.report_timeline",
        "Report timeline",
        "Tijdlijn van de melding",
    ),
    ("casework.subject", "Subject", "Onderwerp"),
    ("casework.zoom", "Zoom", "Zoomen"),
    ("casework.zoom_close", "Close zoom", "Zoom sluiten"),
    (
        "casework.attributes",
        "Attributes (optional)",
        "Kenmerken (optioneel)",
    ),
    ("casework.age_group", "Age group", "Leeftijdsgroep"),
    ("casework.gender", "Gender", "Geslacht"),
    ("casework.site_type", "Site type", "Soort site"),
    (
        "casework.virtual",
        "Drawn, rendered or AI-generated",
        "Getekend, gerenderd of AI-gegenereerd",
    ),
    ("casework.unknown", "unknown", "onbekend"),
    ("casework.attribution", "Attribution", "Toewijzing"),
    (
        "login.ip_limited",
        "Too many failed logins from your address. Please try again later.",
        "Te veel mislukte inlogpogingen vanaf uw adres. Probeer het later opnieuw.",
    ),
];

/// Who works the takedown queues (case pages and actions).
pub const CASE_VIEW_ROLES: &[Role] = &[Role::Analyst, Role::Verifier, Role::Admin, Role::Police];
/// Who may confirm that the police released a held case.
const RELEASE_ROLES: &[Role] = &[Role::Analyst, Role::Verifier, Role::Police];

/// The police liaison works the police queue only: cases held or referred for the police.
fn is_police(user: &SignedIn) -> bool {
    user.user.role == Role::Police
}

/// Whether a police liaison may see this case: held for the police, marked police first, or
/// referred to the police by a notice. Other cases are "not found" for them.
fn police_may_see(case: &Case, notices: &[Notice]) -> bool {
    case.state == CaseState::PoliceHold
        || case.police_first
        || notices.iter().any(|n| n.rung == LadderRung::Police)
}

/// Cases listed per queue page.
const PAGE_SIZE: u32 = 100;
/// Cases shown on a queue card of the overview.
const CARD_SIZE: usize = 5;

/// The takedown queues: `(key, message key)`.
pub const QUEUES: &[(&str, &str)] = &[
    ("needs-contact", "queues.needs_contact"),
    ("police", "queues.police"),
    ("monitoring", "queues.monitoring"),
    ("changed-hoster", "queues.changed_hoster"),
];

/// Routes of these pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/cases", get(queue_page))
        .route("/ui/cases/{id}", get(case_page))
        .route("/ui/cases/{id}/contacts", post(set_contacts))
        .route("/ui/cases/{id}/release", post(release))
        .route("/ui/notices/{id}/resolve", post(resolve_notice))
        .route("/ui/reports/{id}/notes", post(super::analyst::add_note))
}

/// "3 d 4 h", "5 h 12 min", "7 min".
pub fn human_age(d: chrono::Duration) -> String {
    let m = d.num_minutes().max(0);
    let (days, hours, mins) = (m / 1440, (m % 1440) / 60, m % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {mins} min")
    } else {
        format!("{mins} min")
    }
}

/// A time as the pages show it.
pub fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn opt_when(t: &Option<DateTime<Utc>>) -> String {
    t.as_ref().map(when).unwrap_or_default()
}

/// One case in a queue.
#[derive(Debug, Clone)]
pub struct CaseRow {
    /// Id.
    pub id: CaseId,
    /// Media URL (text only).
    pub url: String,
    /// Hoster (organisation, else CDN, else AS), or empty.
    pub hoster: String,
    /// State.
    pub state: &'static str,
    /// Since opened.
    pub age: String,
    /// When the case escalates (ladder start + the regulator or police delay), or empty.
    pub deadline: String,
    /// Next re-check, or empty.
    pub next_check: String,
    /// Last observation ("gone · 404 · 2026-…"), or empty.
    pub last_observation: String,
    /// Misses of the current streak.
    pub misses: u32,
    /// Last hoster change, or empty.
    pub changed_at: String,
}

fn hoster_of(c: &Case) -> String {
    c.contacts
        .hoster_org
        .clone()
        .or_else(|| c.contacts.cdn_org.clone())
        .or_else(|| c.contacts.asn.map(|a| format!("AS{a}")))
        .unwrap_or_default()
}

async fn case_row(
    state: &AppState,
    c: &Case,
    policy: &store::takedown::TakedownPolicy,
    with_observation: bool,
) -> UiResult<CaseRow> {
    let now = state.clock.now();
    let escalate_hours = policy
        .regulator_after_hours
        .or(policy.police_after_hours)
        .filter(|_| matches!(c.state, CaseState::Monitoring));
    let deadline = match (c.ladder_since, escalate_hours) {
        (Some(since), Some(h)) => when(&(since + chrono::Duration::hours(h))),
        _ => String::new(),
    };
    let last_observation = if with_observation {
        match state.store.last_observation(c.id).await? {
            Some(o) => {
                let status = o.http_status.map(|s| format!(" · {s}")).unwrap_or_default();
                format!("{}{status} · {}", o.outcome, when(&o.at))
            }
            None => String::new(),
        }
    } else {
        String::new()
    };
    Ok(CaseRow {
        id: c.id,
        url: c.url.clone(),
        hoster: hoster_of(c),
        state: c.state.as_str(),
        age: human_age(now - c.created_at),
        deadline,
        next_check: opt_when(&c.next_check_at),
        last_observation,
        misses: c.misses,
        changed_at: opt_when(&c.hoster_changed_at),
    })
}

/// One takedown queue: its count and its first `limit` cases.
pub async fn queue_cases(
    state: &AppState,
    tenant: schoon_core::TenantId,
    key: &str,
    limit: u32,
) -> UiResult<Option<(u64, Vec<CaseRow>)>> {
    let by_state = |s: CaseState| s;
    let st = match key {
        "needs-contact" => by_state(CaseState::NeedsContact),
        "police" => by_state(CaseState::PoliceHold),
        "monitoring" => by_state(CaseState::Monitoring),
        "changed-hoster" => {
            let policy = state.store.takedown_policy(tenant).await?;
            let (n, cases) = state.store.changed_hoster_cases(tenant, limit).await?;
            let mut rows = Vec::with_capacity(cases.len());
            for c in &cases {
                rows.push(case_row(state, c, &policy, false).await?);
            }
            return Ok(Some((n, rows)));
        }
        _ => return Ok(None),
    };
    let count = state
        .store
        .case_counts(tenant)
        .await?
        .into_iter()
        .find(|(s, _)| *s == st)
        .map(|(_, n)| n)
        .unwrap_or(0);
    let policy = state.store.takedown_policy(tenant).await?;
    let cases = state
        .store
        .cases(
            tenant,
            CaseFilter {
                state: Some(st),
                after_id: 0,
                limit,
            },
        )
        .await?;
    let mut rows = Vec::with_capacity(cases.len());
    for c in &cases {
        rows.push(case_row(state, c, &policy, st == CaseState::Monitoring).await?);
    }
    Ok(Some((count, rows)))
}

/// The takedown cards of the queue overview ([`super::analyst::queue_cards`]).
pub async fn queue_cards(
    state: &AppState,
    user: &SignedIn,
) -> UiResult<Vec<super::analyst::QueueCard>> {
    let tr = user.tr();
    let mut out = Vec::new();
    for (key, label) in QUEUES {
        let (count, rows) = queue_cases(state, user.user.tenant_id, key, CARD_SIZE as u32)
            .await?
            .unwrap_or_default();
        out.push(super::analyst::QueueCard {
            key,
            label: tr.t(label),
            count: Some(i64::try_from(count).unwrap_or(i64::MAX)),
            entries: Vec::new(),
            tag: "",
            link: Some(format!("/ui/cases?queue={key}")),
            cases: rows,
        });
    }
    Ok(out)
}

/// A queue tab.
#[derive(Debug, Clone)]
pub struct QueueTab {
    /// Key.
    pub key: &'static str,
    /// Label.
    pub label: &'static str,
    /// Cases in it.
    pub count: u64,
    /// Shown now.
    pub current: bool,
}

#[derive(Template)]
#[template(path = "ui/casework_queue.html")]
struct QueuePage {
    page: Page,
    tabs: Vec<QueueTab>,
    queue: &'static str,
    label: &'static str,
    rows: Vec<CaseRow>,
}

/// Query of the queue page.
#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    /// Which queue (default `needs-contact`).
    #[serde(default)]
    queue: Option<String>,
}

/// `GET /ui/cases?queue=`: one takedown queue.
pub async fn queue_page(
    State(state): State<AppState>,
    user: SignedIn,
    Query(q): Query<QueueQuery>,
) -> UiResult<Response> {
    user.require(CASE_VIEW_ROLES)?;
    let police = is_police(&user);
    let want = q
        .queue
        .as_deref()
        .unwrap_or(if police { "police" } else { "needs-contact" });
    let Some(&(queue, label_key)) = QUEUES.iter().find(|(k, _)| *k == want) else {
        return Err(UiError::NotFound);
    };
    if police && queue != "police" {
        return Err(UiError::Forbidden);
    }
    let tr = user.tr();
    let t = user.user.tenant_id;
    let mut tabs = Vec::new();
    let mut rows = Vec::new();
    for (key, label) in QUEUES.iter().filter(|(k, _)| !police || *k == "police") {
        let limit = if *key == queue { PAGE_SIZE } else { 0 };
        let (count, r) = queue_cases(&state, t, key, limit)
            .await?
            .unwrap_or_default();
        if *key == queue {
            rows = r;
        }
        tabs.push(QueueTab {
            key,
            label: tr.t(label),
            count,
            current: *key == queue,
        });
    }
    let page = Page::new(
        &state,
        &user,
        &format!("/ui/cases?queue={queue}"),
        &format!("{} · {}", tr.t("casework.title"), tr.t(label_key)),
    )
    .await;
    render(&QueuePage {
        page,
        tabs,
        queue,
        label: tr.t(label_key),
        rows,
    })
}

/// A case of the user's tenant (another tenant's is "not found").
async fn own_case(state: &AppState, user: &SignedIn, id: CaseId) -> UiResult<Case> {
    state
        .store
        .case(id)
        .await?
        .filter(|c| c.tenant_id == user.user.tenant_id)
        .ok_or(UiError::NotFound)
}

/// An attribution history row as shown.
#[derive(Debug, Clone)]
pub struct AttributionView {
    /// When.
    pub at: String,
    /// Hoster organisation.
    pub hoster: String,
    /// Hoster abuse address.
    pub hoster_email: String,
    /// CDN.
    pub cdn: String,
    /// Registrar.
    pub registrar: String,
    /// IP.
    pub ip: String,
    /// Hoster country.
    pub country: String,
    /// AS number.
    pub asn: String,
    /// Where it came from (`rdap`, `rule`, `table`, `manual`, `failed`) and the registry handle.
    pub source: String,
    /// What was missing.
    pub missing: String,
}

/// Where an attribution came from, read from its stored record.
fn source_of(raw: &serde_json::Value) -> String {
    if raw.get("manual").and_then(|v| v.as_bool()) == Some(true) {
        let by = raw.get("actor").and_then(|v| v.as_str()).unwrap_or("");
        return format!("manual {by}").trim().to_string();
    }
    if raw.get("error").is_some() {
        return "failed".into();
    }
    let party = raw
        .get("hoster")
        .filter(|v| !v.is_null())
        .or_else(|| raw.get("cdn").filter(|v| !v.is_null()));
    let mut out = party
        .and_then(|p| p.get("source"))
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    if let Some(h) = party.and_then(|p| p.get("handle")).and_then(|v| v.as_str()) {
        out = format!("{out} ({h})");
    }
    if let Some(a) = raw.get("asn_source").and_then(|v| v.as_str()) {
        out = format!("{out} · AS: {a}");
    }
    out.trim_start_matches(" · ").trim().to_string()
}

/// The view of one attribution row.
pub fn attribution_view(a: &AttributionRow) -> AttributionView {
    let c = &a.contacts;
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    AttributionView {
        at: when(&a.made_at),
        hoster: s(&c.hoster_org),
        hoster_email: s(&c.hoster_email),
        cdn: s(&c.cdn_org),
        registrar: s(&c.registrar_name),
        ip: s(&c.ip),
        country: s(&c.hoster_country),
        asn: c.asn.map(|a| format!("AS{a}")).unwrap_or_default(),
        source: source_of(&a.raw),
        missing: a.needs_contact.join(", "),
    }
}

/// A notice as the case page shows it.
#[derive(Debug, Clone)]
pub struct NoticeView {
    /// Id.
    pub id: NoticeId,
    /// Reference.
    pub reference: String,
    /// Rung.
    pub rung: &'static str,
    /// Recipient (organisation and address).
    pub recipient: String,
    /// Outbox state.
    pub state: &'static str,
    /// Temporary SMTP failures so far (the due time is the next try).
    pub deferrals: u32,
    /// Due.
    pub due: String,
    /// Sent.
    pub sent: String,
    /// SMTP reply.
    pub smtp: String,
    /// A human must decide whether it went out.
    pub unknown: bool,
}

fn notice_view(n: &Notice) -> NoticeView {
    let org = n
        .recipient_org
        .as_deref()
        .map(|o| format!("{o} · "))
        .unwrap_or_default();
    NoticeView {
        id: n.id,
        reference: n.reference.clone(),
        rung: n.rung.as_str(),
        recipient: format!("{org}{}", n.recipient_email),
        state: n.state.as_str(),
        deferrals: n.deferrals,
        due: when(&n.due_at),
        sent: opt_when(&n.sent_at),
        smtp: match (n.smtp_code, &n.smtp_message) {
            (Some(c), Some(m)) => format!("{c} {m}"),
            (Some(c), None) => c.to_string(),
            (None, Some(m)) => m.clone(),
            (None, None) => String::new(),
        },
        unknown: n.state == NoticeState::DeliveryUnknown,
    }
}

/// A timeline row (case event, observation or response).
#[derive(Debug, Clone)]
pub struct Line {
    /// When.
    pub at: String,
    /// What.
    pub what: String,
    /// Who.
    pub who: String,
    /// The stored audit actor behind `who` (empty when `who` is not an actor).
    pub who_raw: String,
    /// More.
    pub detail: String,
}

#[derive(Template)]
#[template(path = "ui/casework_case.html")]
struct CasePage {
    page: Page,
    case: CaseRow,
    page_url: String,
    host: String,
    report_id: i64,
    police_first: bool,
    can_release: bool,
    can_open_report: bool,
    created: String,
    contacts: store::takedown::CaseContacts,
    asn: String,
    can_act: bool,
    needs_contact: bool,
    police_hold: bool,
    events: Vec<Line>,
    notices: Vec<NoticeView>,
    observations: Vec<Line>,
    responses: Vec<Line>,
    attributions: Vec<AttributionView>,
}

/// Query of the case page (flash after an action).
#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

fn flash_key(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "contacts" => Some("casework.contacts_saved"),
        "release" => Some("casework.released"),
        "notice" => Some("casework.resolved"),
        _ => None,
    }
}

/// Observations shown on a case page (newest).
const PAGE_OBSERVATIONS: usize = 100;

/// `GET /ui/cases/{id}`: the case with its timeline and attribution history.
pub async fn case_page(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<CaseId>,
    Query(q): Query<DoneQuery>,
) -> UiResult<Response> {
    user.require(CASE_VIEW_ROLES)?;
    own_case(&state, &user, id).await?;
    let CaseTimeline {
        case,
        events,
        attributions,
        notices,
        observations,
        responses,
    } = state
        .store
        .case_timeline(id)
        .await?
        .ok_or(UiError::NotFound)?;
    if is_police(&user) && !police_may_see(&case, &notices) {
        return Err(UiError::NotFound);
    }
    let policy = state.store.takedown_policy(case.tenant_id).await?;
    let row = case_row(&state, &case, &policy, true).await?;
    let tr: Tr = user.tr();
    let mut page = Page::new(
        &state,
        &user,
        &format!("/ui/cases/{id}"),
        &format!("{} {id}", tr.t("casework.case")),
    )
    .await;
    page.flash = flash_key(q.done.as_deref()).map(|k| tr.t(k).to_string());
    let actors = ActorLabels::load(&state, &user, events.iter().map(|e| e.actor.as_str())).await;
    let events = events
        .iter()
        .map(|e| Line {
            at: when(&e.at),
            what: match e.from_state {
                Some(f) => format!("{} ({f} → {})", e.event, e.to_state),
                None => format!("{} ({})", e.event, e.to_state),
            },
            who: actors.label(&e.actor),
            who_raw: e.actor.clone(),
            detail: e.reason.clone().unwrap_or_default(),
        })
        .collect();
    let observations = observations
        .iter()
        .rev()
        .take(PAGE_OBSERVATIONS)
        .map(|o| {
            let ob = &o.observation;
            Line {
                at: when(&ob.at),
                what: ob.outcome.as_str().to_string(),
                who: ob.http_status.map(|s| s.to_string()).unwrap_or_default(),
                who_raw: String::new(),
                detail: [ob.detail.clone(), ob.error.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · "),
            }
        })
        .collect();
    let responses = responses
        .iter()
        .map(|r| Line {
            at: when(&r.at),
            what: r.kind.as_str().to_string(),
            who: format!("notice {}", r.notice_id),
            who_raw: String::new(),
            detail: r.statement.clone().unwrap_or_default(),
        })
        .collect();
    render(&CasePage {
        page,
        page_url: case.page_url.clone(),
        host: case.host.clone(),
        report_id: case.report_id,
        police_first: case.police_first,
        created: when(&case.created_at),
        asn: case
            .contacts
            .asn
            .map(|a| format!("AS{a}"))
            .unwrap_or_default(),
        contacts: case.contacts.clone(),
        can_act: user.require(CLASSIFY_ROLES).is_ok(),
        can_release: user.require(RELEASE_ROLES).is_ok(),
        can_open_report: user.require(QUEUE_ROLES).is_ok(),
        needs_contact: case.state == CaseState::NeedsContact,
        police_hold: case.state == CaseState::PoliceHold,
        case: row,
        events,
        notices: notices.iter().map(notice_view).collect(),
        observations,
        responses,
        attributions: attributions.iter().rev().map(attribution_view).collect(),
    })
}

/// The manual contact form.
#[derive(Debug, Deserialize)]
pub struct ContactsForm {
    csrf: String,
    #[serde(default)]
    hoster_org: String,
    #[serde(default)]
    hoster_email: String,
    #[serde(default)]
    hoster_country: String,
    #[serde(default)]
    cdn_org: String,
    #[serde(default)]
    cdn_email: String,
    #[serde(default)]
    registrar_name: String,
    #[serde(default)]
    registrar_email: String,
    #[serde(default)]
    site_owner_email: String,
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// `POST /ui/cases/{id}/contacts`: an analyst's contact fix (releases a needs-contact case to
/// monitoring), through the API's handler.
pub async fn set_contacts(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<CaseId>,
    Form(f): Form<ContactsForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(CLASSIFY_ROLES)?;
    own_case(&state, &user, id).await?;
    let body = ContactsIn {
        hoster_org: non_empty(f.hoster_org),
        hoster_email: non_empty(f.hoster_email),
        hoster_country: non_empty(f.hoster_country),
        cdn_org: non_empty(f.cdn_org),
        cdn_email: non_empty(f.cdn_email),
        registrar_name: non_empty(f.registrar_name),
        registrar_email: non_empty(f.registrar_email),
        site_owner_email: non_empty(f.site_owner_email),
    };
    let _case = crate::takedown::cases::set_contacts(
        State(state.clone()),
        Analyst(user.actor()),
        Path(id),
        Query(TenantQuery {
            tenant: Some(user.user.tenant_id),
        }),
        JsonBody(body),
    )
    .await?;
    Ok(Redirect::to(&format!("/ui/cases/{id}?done=contacts")).into_response())
}

/// A form with only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// `POST /ui/cases/{id}/release`: the police released the case (the API's handler: held
/// notices go out, the case is attributed afresh).
pub async fn release(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<CaseId>,
    Form(f): Form<CsrfOnly>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(RELEASE_ROLES)?;
    let case = own_case(&state, &user, id).await?;
    if is_police(&user) && case.state != CaseState::PoliceHold {
        return Err(UiError::NotFound);
    }
    let _case = crate::takedown::cases::release(
        State(state.clone()),
        Analyst(user.actor()),
        Path(id),
        Query(TenantQuery {
            tenant: Some(user.user.tenant_id),
        }),
    )
    .await?;
    Ok(Redirect::to(&format!("/ui/cases/{id}?done=release")).into_response())
}

/// The notice decision form.
#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    csrf: String,
    /// `sent` or `requeue`.
    decision: String,
    /// The case page to return to.
    case: CaseId,
}

/// `POST /ui/notices/{id}/resolve`: a `delivery_unknown` notice was sent, or is sent again
/// (the API's handler).
pub async fn resolve_notice(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<NoticeId>,
    Form(f): Form<ResolveForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(CLASSIFY_ROLES)?;
    let requeue = match f.decision.as_str() {
        "sent" => false,
        "requeue" => true,
        _ => return Err(UiError::Conflict("decision must be sent or requeue".into())),
    };
    // The return page must be a case of this tenant covered by the notice.
    own_case(&state, &user, f.case).await?;
    let notice = state
        .store
        .notice(id)
        .await?
        .filter(|n| n.tenant_id == user.user.tenant_id)
        .ok_or(UiError::NotFound)?;
    if !notice.items.iter().any(|i| i.case_id == f.case) {
        return Err(UiError::NotFound);
    }
    let _notice = crate::takedown::respond::resolve(
        State(state.clone()),
        Analyst(user.actor()),
        Path(id),
        Query(NoticeQuery {
            tenant: Some(user.user.tenant_id),
        }),
        JsonBody(ResolveIn { requeue }),
    )
    .await?;
    Ok(Redirect::to(&format!("/ui/cases/{}?done=notice", f.case)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(human_age(chrono::Duration::minutes(7)), "7 min");
        assert_eq!(human_age(chrono::Duration::minutes(312)), "5 h 12 min");
        assert_eq!(human_age(chrono::Duration::hours(76)), "3 d 4 h");
        assert_eq!(human_age(chrono::Duration::minutes(-5)), "0 min");
    }

    #[test]
    fn attribution_sources_are_named() {
        let rdap = serde_json::json!({"hoster": {"source": "rdap", "handle": "NET-1"}, "asn_source": "prefix-table"});
        assert_eq!(source_of(&rdap), "rdap (NET-1) · AS: prefix-table");
        let manual = serde_json::json!({"manual": true, "actor": "user:3"});
        assert_eq!(source_of(&manual), "manual user:3");
        assert_eq!(source_of(&serde_json::json!({"error": "x"})), "failed");
    }
}
