//! The regulator officer's pages: the queue of escalated takedown cases and overdue hits,
//! opening a removal order from one, the order list and the order page with its actions, and
//! the evidence package download.
//!
//! Every read and action goes through the officer API's shared functions in
//! [`crate::regulator`] (pick-up, draft creation, issue, order events, penalty terms,
//! accruals, fines, publication, the evidence builder) with the user's tenant as scope and the
//! user (`user:<id>`) as actor, so validation, store calls and audit events are the API's.
//! Another tenant's escalation or order is a 404.
//!
//! Officers act; a tenant administrator may look (as on the casework pages) but not act. URLs
//! are shown as text only, never as links or image sources; material is never shown.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::routing::post;
use chrono::{DateTime, Utc};
use schoon_core::order::{OrderEvent, OrderState, PenaltyTerms, PenaltyUnit, ProviderContact};
use serde::Deserialize;
use store::accounts::Role;
use store::orders::{EscalationSource, Order, OrderId, PenaltyKind, RegulatorEscalation};

use super::actors::ActorLabels;
use super::casework::{human_age, when};
use super::{NavEntry, Page, SignedIn, Tr, UiError, UiResult, render};
use crate::app::AppState;
use crate::regulator as api;

/// Who sees these pages.
pub const VIEW_ROLES: &[Role] = &[Role::Regulator, Role::Admin];
/// Who acts on them (pick-up, orders, evidence export).
pub const ACT_ROLES: &[Role] = &[Role::Regulator];

/// Escalations and orders listed per page (the API's page size).
const LIST_LIMIT: u32 = 1000;
/// Longest note or reason (the provider API's note limit).
const MAX_NOTE: usize = 4000;

/// Menu entries of these pages (officers only).
pub const NAV: &[NavEntry] = &[
    (
        "/ui/regulator/queue",
        "regulator.nav.queue",
        &[Role::Regulator],
    ),
    (
        "/ui/regulator/orders",
        "regulator.nav.orders",
        &[Role::Regulator],
    ),
];

/// Messages of these pages: `(key, English, Dutch)`.
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("regulator.nav.queue", "Escalations", "Escalaties"),
    ("regulator.nav.orders", "Removal orders", "Verwijderbevelen"),
    (
        "regulator.queue.title",
        "Escalations for the regulator",
        "Escalaties voor de toezichthouder",
    ),
    (
        "regulator.queue.intro",
        "Takedown cases escalated by the notice ladder and hits still overdue after the grace period. Pick one up to take it; the first pick-up stands. URLs are text, material is never shown.",
        "Verwijderzaken die de meldingsladder escaleerde en hits die na de coulancetermijn nog openstaan. Neem er een op om hem in behandeling te nemen; de eerste opname telt. URL's staan er als tekst, materiaal wordt nooit getoond.",
    ),
    ("regulator.cases", "Escalated cases", "Geëscaleerde zaken"),
    ("regulator.hits", "Overdue hits", "Verlopen hits"),
    (
        "regulator.picked",
        "Picked up, no order yet",
        "Opgenomen, nog geen bevel",
    ),
    (
        "regulator.empty",
        "Nothing waiting.",
        "Niets in de wachtrij.",
    ),
    ("regulator.id", "Id", "Id"),
    ("regulator.source", "Source", "Bron"),
    ("regulator.source.case", "case", "zaak"),
    ("regulator.source.hit", "hit", "hit"),
    ("regulator.url", "URL (text)", "URL (tekst)"),
    ("regulator.provider", "Provider", "Provider"),
    ("regulator.organisation", "Organisation", "Organisatie"),
    ("regulator.state", "State", "Status"),
    ("regulator.age", "Age", "Leeftijd"),
    ("regulator.reason", "Reason", "Reden"),
    ("regulator.matched", "Matched", "Overeenkomst"),
    ("regulator.content_ref", "Their reference", "Hun kenmerk"),
    ("regulator.overdue_since", "Overdue since", "Verlopen sinds"),
    ("regulator.picked_by", "Picked up by", "Opgenomen door"),
    ("regulator.pick_up", "Pick up", "Opnemen"),
    ("regulator.open_order", "Open an order", "Bevel opstellen"),
    ("regulator.action", "Action", "Actie"),
    ("regulator.done.picked", "Picked up.", "Opgenomen."),
    (
        "regulator.done.created",
        "Draft order saved.",
        "Conceptbevel opgeslagen.",
    ),
    (
        "regulator.done.issued",
        "Order signed and issued.",
        "Bevel ondertekend en uitgevaardigd.",
    ),
    (
        "regulator.done.withdrawn",
        "Order withdrawn.",
        "Bevel ingetrokken.",
    ),
    (
        "regulator.done.complied",
        "Compliance recorded.",
        "Naleving vastgelegd.",
    ),
    (
        "regulator.done.terms",
        "Penalty terms saved.",
        "Sanctievoorwaarden opgeslagen.",
    ),
    (
        "regulator.done.penalty",
        "Penalty started.",
        "Dwangsom gestart.",
    ),
    (
        "regulator.done.accrual",
        "Accrued penalty recorded.",
        "Verbeurde dwangsom vastgelegd.",
    ),
    ("regulator.done.fine", "Fine recorded.", "Boete vastgelegd."),
    (
        "regulator.done.appeal",
        "Appeal updated.",
        "Bezwaar bijgewerkt.",
    ),
    (
        "regulator.done.published",
        "Published in the register.",
        "Gepubliceerd in het register.",
    ),
    (
        "regulator.done.unpublished",
        "Taken off the register.",
        "Van het register gehaald.",
    ),
    (
        "regulator.new.title",
        "New removal order",
        "Nieuw verwijderbevel",
    ),
    (
        "regulator.new.from",
        "Opened from escalation",
        "Opgesteld vanuit escalatie",
    ),
    (
        "regulator.reference",
        "Reference (optional; generated when empty)",
        "Kenmerk (optioneel; wordt gegenereerd als het leeg is)",
    ),
    (
        "regulator.legal_basis",
        "Legal basis",
        "Wettelijke grondslag",
    ),
    ("regulator.deadline", "Deadline", "Termijn"),
    ("regulator.hours.1", "1 hour", "1 uur"),
    ("regulator.hours.12", "12 hours", "12 uur"),
    ("regulator.hours.24", "24 hours", "24 uur"),
    (
        "regulator.deadline_help",
        "Counted from the first proven delivery.",
        "Gerekend vanaf de eerste aangetoonde bezorging.",
    ),
    (
        "regulator.provider_name",
        "Provider (legal entity)",
        "Provider (rechtspersoon)",
    ),
    (
        "regulator.provider_email",
        "Point of contact (e-mail)",
        "Contactpunt (e-mail)",
    ),
    (
        "regulator.provider_api",
        "Provider's order API (optional)",
        "Bevelen-API van de provider (optioneel)",
    ),
    ("regulator.items", "Items", "Items"),
    (
        "regulator.items_from",
        "Taken from the escalation (URL and SHA-256; never the material):",
        "Overgenomen uit de escalatie (URL en SHA-256; nooit het materiaal):",
    ),
    (
        "regulator.items_manual",
        "Items, one per line: SHA-256, a space, then the URL",
        "Items, één per regel: SHA-256, een spatie, dan de URL",
    ),
    ("regulator.save_draft", "Save draft", "Concept opslaan"),
    (
        "regulator.form_errors",
        "The order was not saved: see the marked fields.",
        "Het bevel is niet opgeslagen: zie de gemarkeerde velden.",
    ),
    ("regulator.required", "Required.", "Verplicht."),
    (
        "regulator.bad_item",
        "Each line needs a 64-character SHA-256 and a URL.",
        "Elke regel heeft een SHA-256 van 64 tekens en een URL nodig.",
    ),
    (
        "regulator.has_order",
        "An order was already opened from this escalation.",
        "Vanuit deze escalatie is al een bevel opgesteld.",
    ),
    (
        "regulator.orders.title",
        "Removal orders",
        "Verwijderbevelen",
    ),
    (
        "regulator.orders.empty",
        "No orders yet.",
        "Nog geen bevelen.",
    ),
    ("regulator.order", "Order", "Bevel"),
    ("regulator.order_ref", "Reference", "Kenmerk"),
    ("regulator.due", "Due", "Uiterlijk"),
    ("regulator.overdue", "overdue", "verlopen"),
    ("regulator.appeal", "Appeal", "Bezwaar"),
    ("regulator.published", "In the register", "In het register"),
    ("regulator.yes", "yes", "ja"),
    ("regulator.no", "no", "nee"),
    ("regulator.document", "Order document", "Bevelsdocument"),
    ("regulator.authority", "Authority", "Autoriteit"),
    ("regulator.created", "Created", "Aangemaakt"),
    ("regulator.issued", "Issued", "Uitgevaardigd"),
    ("regulator.delivered", "Delivered", "Bezorgd"),
    ("regulator.acknowledged", "Acknowledged", "Bevestigd"),
    ("regulator.complied", "Complied", "Nageleefd"),
    ("regulator.sha256", "SHA-256", "SHA-256"),
    (
        "regulator.signature",
        "Signature (Ed25519)",
        "Handtekening (Ed25519)",
    ),
    ("regulator.canonical", "Signed JSON", "Ondertekende JSON"),
    (
        "regulator.provider_link",
        "Provider link",
        "Link voor de provider",
    ),
    ("regulator.proof", "Delivery proof", "Bewijs van bezorging"),
    ("regulator.not_yet", "not yet", "nog niet"),
    ("regulator.events", "Timeline", "Tijdlijn"),
    (
        "regulator.published_event",
        "published in the register",
        "gepubliceerd in het register",
    ),
    (
        "regulator.unpublished_event",
        "taken off the register",
        "van het register gehaald",
    ),
    ("regulator.when", "When", "Wanneer"),
    ("regulator.event", "Event", "Gebeurtenis"),
    ("regulator.actor", "By", "Door"),
    ("regulator.note", "Note", "Toelichting"),
    ("regulator.penalties", "Penalties", "Sancties"),
    ("regulator.kind", "Kind", "Soort"),
    ("regulator.amount", "Amount", "Bedrag"),
    ("regulator.terms", "Penalty terms", "Sanctievoorwaarden"),
    ("regulator.terms_none", "none set", "niet vastgesteld"),
    ("regulator.due_now", "Due now", "Nu verschuldigd"),
    ("regulator.actions", "Actions", "Acties"),
    (
        "regulator.issue",
        "Sign and issue",
        "Ondertekenen en uitvaardigen",
    ),
    (
        "regulator.issue_help",
        "Signs the order and sends it (by e-mail when configured; always through the provider link).",
        "Ondertekent het bevel en verstuurt het (per e-mail als dat is ingesteld; altijd via de link voor de provider).",
    ),
    ("regulator.withdraw", "Withdraw", "Intrekken"),
    (
        "regulator.withdraw_reason",
        "Reason for withdrawal",
        "Reden van intrekking",
    ),
    (
        "regulator.comply",
        "Record compliance",
        "Naleving vastleggen",
    ),
    (
        "regulator.note_optional",
        "Note (optional)",
        "Toelichting (optioneel)",
    ),
    (
        "regulator.set_terms",
        "Set penalty terms",
        "Sanctievoorwaarden vaststellen",
    ),
    ("regulator.terms_kind", "Kind of penalty", "Soort sanctie"),
    (
        "regulator.terms.periodic",
        "Periodic penalty payment",
        "Last onder dwangsom",
    ),
    (
        "regulator.terms.fixed",
        "Administrative fine",
        "Bestuurlijke boete",
    ),
    (
        "regulator.amount_euro",
        "Amount in euro (e.g. 1500.00)",
        "Bedrag in euro (bijv. 1500,00)",
    ),
    (
        "regulator.unit",
        "Per (periodic only)",
        "Per (alleen dwangsom)",
    ),
    ("regulator.unit.hour", "started hour", "begonnen uur"),
    ("regulator.unit.day", "started day", "begonnen dag"),
    (
        "regulator.max_euro",
        "Maximum in euro (optional, periodic only)",
        "Maximum in euro (optioneel, alleen dwangsom)",
    ),
    (
        "regulator.start_penalty",
        "Start the penalty",
        "Dwangsom starten",
    ),
    (
        "regulator.accrual",
        "Record the accrued penalty",
        "Verbeurde dwangsom vastleggen",
    ),
    ("regulator.fine", "Record a fine", "Boete vastleggen"),
    ("regulator.appeal_step", "Appeal step", "Stap in bezwaar"),
    (
        "regulator.appeal.lodge",
        "Appeal lodged",
        "Bezwaar ingediend",
    ),
    (
        "regulator.appeal.upheld",
        "Order upheld",
        "Bevel in stand gelaten",
    ),
    (
        "regulator.appeal.annulled",
        "Order annulled",
        "Bevel vernietigd",
    ),
    (
        "regulator.save_appeal",
        "Record appeal step",
        "Stap vastleggen",
    ),
    (
        "regulator.publish",
        "Publish in the register",
        "Publiceren in het register",
    ),
    (
        "regulator.unpublish",
        "Take off the register",
        "Van het register halen",
    ),
    (
        "regulator.evidence",
        "Download the evidence package (JSON; the download is audited)",
        "Bewijspakket downloaden (JSON; de download wordt vastgelegd)",
    ),
    (
        "regulator.bad_amount",
        "Enter an amount in euro, e.g. 1500.00.",
        "Vul een bedrag in euro in, bijv. 1500,00.",
    ),
    (
        "regulator.reason_required",
        "A reason is required.",
        "Een reden is verplicht.",
    ),
    (
        "regulator.note_long",
        "At most 4000 characters.",
        "Hoogstens 4000 tekens.",
    ),
];

/// Routes of these pages.
pub fn routes() -> Router<AppState> {
    let o = "/ui/regulator/orders/{id}";
    Router::new()
        .route("/ui/regulator", get(to_queue))
        .route("/ui/regulator/queue", get(queue_page))
        .route(
            "/ui/regulator/escalations/{source}/{id}/pick-up",
            post(pick_up),
        )
        .route(
            "/ui/regulator/escalations/{source}/{id}/order",
            get(new_order_page).post(create_order),
        )
        .route("/ui/regulator/orders", get(orders_page))
        .route(o, get(order_page))
        .route(&format!("{o}/issue"), post(issue))
        .route(&format!("{o}/withdraw"), post(withdraw))
        .route(&format!("{o}/comply"), post(comply))
        .route(&format!("{o}/penalty-terms"), post(terms))
        .route(&format!("{o}/penalty-start"), post(penalty_start))
        .route(&format!("{o}/accruals"), post(accrual))
        .route(&format!("{o}/fines"), post(fine))
        .route(&format!("{o}/appeal"), post(appeal))
        .route(&format!("{o}/publish"), post(publish))
        .route(&format!("{o}/evidence"), get(evidence))
}

async fn to_queue(user: SignedIn) -> UiResult<Response> {
    user.require(VIEW_ROLES)?;
    Ok(Redirect::to("/ui/regulator/queue").into_response())
}

fn opt_when(t: Option<DateTime<Utc>>) -> String {
    t.as_ref().map(when).unwrap_or_default()
}

fn source_of(s: &str) -> UiResult<EscalationSource> {
    s.parse().map_err(|_| UiError::NotFound)
}

/// `?done=` after an action: the flash message.
#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

fn flash(tr: Tr, done: Option<&str>) -> Option<String> {
    const DONE: &[&str] = &[
        "picked",
        "created",
        "issued",
        "withdrawn",
        "complied",
        "terms",
        "penalty",
        "accrual",
        "fine",
        "appeal",
        "published",
        "unpublished",
    ];
    let d = done?;
    DONE.contains(&d)
        .then(|| tr.t(&format!("regulator.done.{d}")).to_string())
}

// --- queue ---

/// An escalation row of the queue.
#[derive(Debug, Clone)]
pub struct EscalationRow {
    /// `case` or `hit`.
    pub source: &'static str,
    /// Escalation id.
    pub id: i64,
    /// URL as text.
    pub url: String,
    /// Hoster (case) or organisation (hit).
    pub provider: String,
    /// Case or hit state.
    pub state: String,
    /// Since escalated.
    pub age: String,
    /// Why it was escalated.
    pub reason: String,
    /// Hits: matched signal (`sha256 ab…`).
    pub matched: String,
    /// Hits: the organisation's own content reference.
    pub content_ref: String,
    /// Hits: overdue since.
    pub overdue_since: String,
    /// Who picked it up (empty when open).
    pub picked_by: String,
}

async fn case_row(
    state: &AppState,
    e: RegulatorEscalation,
    now: DateTime<Utc>,
) -> UiResult<EscalationRow> {
    let v = api::case_view(state, e).await?;
    let provider = [v.hoster_org.clone(), v.hoster_email.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    Ok(EscalationRow {
        source: "case",
        id: v.escalation.id,
        url: v.url.clone().unwrap_or_default(),
        provider,
        state: v.case_state.clone().unwrap_or_default(),
        age: human_age(now - v.escalation.created_at),
        reason: v.escalation.reason.clone(),
        matched: String::new(),
        content_ref: String::new(),
        overdue_since: String::new(),
        picked_by: v.escalation.picked_up_by.clone().unwrap_or_default(),
    })
}

async fn hit_row(
    state: &AppState,
    e: RegulatorEscalation,
    now: DateTime<Utc>,
) -> UiResult<EscalationRow> {
    let v = api::hit_view(state, e).await?;
    let matched = match (&v.signal_type, &v.query_value) {
        (Some(t), Some(q)) => format!("{t} {q}"),
        _ => String::new(),
    };
    Ok(EscalationRow {
        source: "hit",
        id: v.escalation.id,
        url: v.content_url.clone().unwrap_or_default(),
        provider: v.org_name.clone().unwrap_or_default(),
        state: v.hit_state.clone().unwrap_or_default(),
        age: human_age(now - v.escalation.created_at),
        reason: v.escalation.reason.clone(),
        matched,
        content_ref: v.content_ref.clone().unwrap_or_default(),
        overdue_since: opt_when(v.overdue_at),
        picked_by: v.escalation.picked_up_by.clone().unwrap_or_default(),
    })
}

/// Escalations of one source: open (`picked = false`), or picked up without an order.
async fn rows(
    state: &AppState,
    tenant: schoon_core::TenantId,
    source: EscalationSource,
    picked: bool,
) -> UiResult<Vec<EscalationRow>> {
    let now = state.clock.now();
    let list = state
        .store
        .regulator_escalations(tenant, source, Some(picked), LIST_LIMIT)
        .await?;
    let mut out = Vec::with_capacity(list.len());
    for e in list.into_iter().filter(|e| e.order_id.is_none()) {
        out.push(match source {
            EscalationSource::Case => case_row(state, e, now).await?,
            EscalationSource::Hit => hit_row(state, e, now).await?,
        });
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "ui/regulator_queue.html")]
struct QueuePage {
    page: Page,
    can_act: bool,
    cases: Vec<EscalationRow>,
    hits: Vec<EscalationRow>,
    picked: Vec<EscalationRow>,
}

/// `GET /ui/regulator/queue`: open escalations (cases, hits) and those picked up without an
/// order yet.
pub async fn queue_page(
    State(state): State<AppState>,
    user: SignedIn,
    Query(q): Query<DoneQuery>,
) -> UiResult<Response> {
    user.require(VIEW_ROLES)?;
    let t = user.user.tenant_id;
    let cases = rows(&state, t, EscalationSource::Case, false).await?;
    let hits = rows(&state, t, EscalationSource::Hit, false).await?;
    let mut picked = rows(&state, t, EscalationSource::Case, true).await?;
    picked.extend(rows(&state, t, EscalationSource::Hit, true).await?);
    let tr = user.tr();
    let mut page = Page::new(
        &state,
        &user,
        "/ui/regulator/queue",
        tr.t("regulator.queue.title"),
    )
    .await;
    page.flash = flash(tr, q.done.as_deref());
    render(&QueuePage {
        page,
        can_act: user.require(ACT_ROLES).is_ok(),
        cases,
        hits,
        picked,
    })
}

/// A form with only the CSRF token (fields default to empty, so a missing token is refused as
/// a CSRF failure, 403, before anything else).
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /ui/regulator/escalations/{source}/{id}/pick-up`: the API's pick-up.
pub async fn pick_up(
    State(state): State<AppState>,
    user: SignedIn,
    Path((source, id)): Path<(String, i64)>,
    Form(f): Form<CsrfOnly>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(ACT_ROLES)?;
    let source = source_of(&source)?;
    api::pick_up(&state, &user.actor(), user.user.tenant_id, source, id).await?;
    Ok(Redirect::to("/ui/regulator/queue?done=picked").into_response())
}

// --- new order ---

/// Per-field errors of the order form (empty: none).
#[derive(Debug, Clone, Default)]
pub struct OrderErrors {
    /// Not about one field.
    pub general: String,
    /// Reference.
    pub reference: String,
    /// Legal basis.
    pub legal_basis: String,
    /// Deadline.
    pub deadline: String,
    /// Provider name.
    pub provider_name: String,
    /// Provider e-mail.
    pub provider_email: String,
    /// Items.
    pub items: String,
}

impl OrderErrors {
    fn any(&self) -> bool {
        [
            &self.general,
            &self.reference,
            &self.legal_basis,
            &self.deadline,
            &self.provider_name,
            &self.provider_email,
            &self.items,
        ]
        .iter()
        .any(|e| !e.is_empty())
    }
}

/// The order form's fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    deadline_hours: String,
    #[serde(default)]
    provider_name: String,
    #[serde(default)]
    provider_email: String,
    #[serde(default)]
    provider_api_url: String,
    /// Only when the escalation has no URL with a SHA-256.
    #[serde(default)]
    items: String,
}

#[derive(Template)]
#[template(path = "ui/regulator_new_order.html")]
struct NewOrderPage {
    page: Page,
    source: &'static str,
    id: i64,
    row: EscalationRow,
    /// Items the order takes from the escalation (`(url, sha256)`); empty: the officer enters
    /// them.
    derived: Vec<(String, String)>,
    form: OrderForm,
    errors: OrderErrors,
}

/// The escalation an order is opened from (of the user's tenant, without an order yet), its
/// row and the items it yields.
async fn order_source(
    state: &AppState,
    user: &SignedIn,
    source: &str,
    id: i64,
) -> UiResult<(EscalationSource, EscalationRow, Vec<(String, String)>)> {
    let source = source_of(source)?;
    let e = api::own_escalation(state, user.user.tenant_id, source, id).await?;
    if e.order_id.is_some() {
        return Err(UiError::Conflict(
            user.tr().t("regulator.has_order").to_string(),
        ));
    }
    let derived = api::item_from(state, &e)
        .await?
        .map(|i| vec![(i.url, i.sha256)])
        .unwrap_or_default();
    let now = state.clock.now();
    let row = match source {
        EscalationSource::Case => case_row(state, e, now).await?,
        EscalationSource::Hit => hit_row(state, e, now).await?,
    };
    Ok((source, row, derived))
}

async fn render_new_order(
    state: &AppState,
    user: &SignedIn,
    (source, row, derived): (EscalationSource, EscalationRow, Vec<(String, String)>),
    form: OrderForm,
    errors: OrderErrors,
) -> UiResult<Response> {
    let tr = user.tr();
    let page = Page::new(
        state,
        user,
        &format!(
            "/ui/regulator/escalations/{}/{}/order",
            source.as_str(),
            row.id
        ),
        tr.t("regulator.new.title"),
    )
    .await;
    let failed = errors.any();
    let mut resp = render(&NewOrderPage {
        page,
        source: source.as_str(),
        id: row.id,
        row,
        derived,
        form,
        errors,
    })?;
    if failed {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// `GET /ui/regulator/escalations/{source}/{id}/order`: the order form, prefilled from the
/// escalation.
pub async fn new_order_page(
    State(state): State<AppState>,
    user: SignedIn,
    Path((source, id)): Path<(String, i64)>,
) -> UiResult<Response> {
    user.require(ACT_ROLES)?;
    let from = order_source(&state, &user, &source, id).await?;
    let provider = from.1.provider.clone();
    // The hoster row reads "organisation · address"; split it back for the form.
    let (name, email) = match provider.split_once(" · ") {
        Some((n, e)) => (n.to_string(), e.to_string()),
        None if provider.contains('@') => (String::new(), provider),
        None => (provider, String::new()),
    };
    let form = OrderForm {
        deadline_hours: "24".into(),
        provider_name: name,
        provider_email: email,
        ..OrderForm::default()
    };
    render_new_order(&state, &user, from, form, OrderErrors::default()).await
}

/// Parses the manual item lines (`<sha256> <url>`).
fn parse_items(text: &str) -> Option<Vec<api::ItemIn>> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (sha, url) = line.split_once(char::is_whitespace)?;
        let url = url.trim();
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) || url.is_empty() {
            return None;
        }
        out.push(api::ItemIn {
            url: url.to_string(),
            sha256: sha.to_string(),
            case_id: None,
        });
    }
    Some(out)
}

/// Which form field an API refusal is about (by the field names its messages use).
fn field_of(detail: &str) -> &'static str {
    let d = detail.to_ascii_lowercase();
    if d.contains("reference") {
        "reference"
    } else if d.contains("provider.email") || d.contains("e-mail") {
        "provider_email"
    } else if d.contains("provider.name") {
        "provider_name"
    } else if d.contains("legal_basis") {
        "legal_basis"
    } else if d.contains("deadline") {
        "deadline"
    } else if d.contains("item") || d.contains("digest") || d.contains("escalation") {
        "items"
    } else {
        "general"
    }
}

/// `POST /ui/regulator/escalations/{source}/{id}/order`: a draft through the API's
/// [`api::create_draft`] (the escalation is picked up and linked); errors re-render the form.
pub async fn create_order(
    State(state): State<AppState>,
    user: SignedIn,
    Path((source, id)): Path<(String, i64)>,
    Form(f): Form<OrderForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(ACT_ROLES)?;
    let from = order_source(&state, &user, &source, id).await?;
    let tr = user.tr();
    let mut errors = OrderErrors::default();
    let required = tr.t("regulator.required").to_string();
    if f.legal_basis.trim().is_empty() {
        errors.legal_basis = required.clone();
    }
    if f.provider_name.trim().is_empty() {
        errors.provider_name = required.clone();
    }
    if f.provider_email.trim().is_empty() {
        errors.provider_email = required.clone();
    }
    let deadline_hours = f.deadline_hours.trim().parse::<u32>().unwrap_or(0);
    let items = if from.2.is_empty() {
        match parse_items(&f.items) {
            Some(items) if !items.is_empty() => items,
            Some(_) => {
                errors.items = required.clone();
                Vec::new()
            }
            None => {
                errors.items = tr.t("regulator.bad_item").to_string();
                Vec::new()
            }
        }
    } else {
        // The API takes the items (with their case) from the escalation.
        Vec::new()
    };
    if errors.any() {
        errors.general = tr.t("regulator.form_errors").to_string();
        return render_new_order(&state, &user, from, f, errors).await;
    }
    let trimmed = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let body = api::CreateIn {
        reference: trimmed(&f.reference),
        authority: None,
        provider: ProviderContact {
            name: f.provider_name.trim().to_string(),
            email: f.provider_email.trim().to_string(),
            api_url: trimmed(&f.provider_api_url),
        },
        legal_basis: f.legal_basis.trim().to_string(),
        deadline_hours,
        items,
        escalations: vec![api::EscalationRef {
            source: from.0,
            id: from.1.id,
        }],
    };
    match api::create_draft(&state, &user.actor(), user.user.tenant_id, body).await {
        Ok(o) => Ok(
            Redirect::to(&format!("/ui/regulator/orders/{}?done=created", o.id)).into_response(),
        ),
        Err(p) if matches!(p.status, 400 | 409) => {
            let msg = p.detail.clone();
            match field_of(&msg) {
                "reference" => errors.reference = msg,
                "provider_email" => errors.provider_email = msg,
                "provider_name" => errors.provider_name = msg,
                "legal_basis" => errors.legal_basis = msg,
                "deadline" => errors.deadline = msg,
                "items" => errors.items = msg,
                _ => {}
            }
            let general = tr.t("regulator.form_errors").to_string();
            errors.general = if errors.any() {
                general
            } else {
                format!("{general} {}", p.detail)
            };
            render_new_order(&state, &user, from, f, errors).await
        }
        Err(p) => Err(p.into()),
    }
}

// --- orders ---

/// An order row of the list.
#[derive(Debug, Clone)]
pub struct OrderRow {
    /// Id.
    pub id: OrderId,
    /// Reference.
    pub reference: String,
    /// Provider name.
    pub provider: String,
    /// State.
    pub state: &'static str,
    /// Appeal status.
    pub appeal: &'static str,
    /// Term in hours.
    pub hours: u32,
    /// Due (once delivered).
    pub due: String,
    /// Past due and not complied, or in an overdue state.
    pub overdue: bool,
    /// In the public register.
    pub published: bool,
}

fn is_overdue(o: &Order, now: DateTime<Utc>) -> bool {
    matches!(o.state, OrderState::Overdue | OrderState::PenaltyRunning)
        || (!o.state.is_terminal()
            && o.state != OrderState::Draft
            && o.due_at.is_some_and(|d| d < now))
}

fn order_row(o: &Order, now: DateTime<Utc>) -> OrderRow {
    OrderRow {
        id: o.id,
        reference: o.reference.clone(),
        provider: o.provider.name.clone(),
        state: o.state.as_str(),
        appeal: o.appeal.as_str(),
        hours: o.deadline.hours(),
        due: opt_when(o.due_at),
        overdue: is_overdue(o, now),
        published: o.published,
    }
}

#[derive(Template)]
#[template(path = "ui/regulator_orders.html")]
struct OrdersPage {
    page: Page,
    orders: Vec<OrderRow>,
}

/// `GET /ui/regulator/orders`: the tenant's orders, newest first.
pub async fn orders_page(State(state): State<AppState>, user: SignedIn) -> UiResult<Response> {
    user.require(VIEW_ROLES)?;
    let now = state.clock.now();
    let mut orders = state
        .store
        .orders(user.user.tenant_id, None, 0, LIST_LIMIT)
        .await?;
    orders.reverse();
    let tr = user.tr();
    let page = Page::new(
        &state,
        &user,
        "/ui/regulator/orders",
        tr.t("regulator.orders.title"),
    )
    .await;
    render(&OrdersPage {
        page,
        orders: orders.iter().map(|o| order_row(o, now)).collect(),
    })
}

/// A timeline or penalty line.
#[derive(Debug, Clone)]
pub struct Line {
    /// When.
    pub at: String,
    /// What.
    pub what: String,
    /// Who (readable label).
    pub who: String,
    /// The stored audit actor behind `who`.
    pub who_raw: String,
    /// Amount or note.
    pub detail: String,
}

fn euro(cents: u64) -> String {
    format!("€ {}.{:02}", cents / 100, cents % 100)
}

fn terms_text(t: &PenaltyTerms) -> String {
    match *t {
        PenaltyTerms::Periodic {
            amount_cents,
            unit,
            max_cents,
        } => {
            let max = max_cents
                .map(|m| format!(", max {}", euro(m)))
                .unwrap_or_default();
            format!("periodic: {} / {}{max}", euro(amount_cents), unit.as_str())
        }
        PenaltyTerms::Fixed { amount_cents } => format!("fixed: {}", euro(amount_cents)),
    }
}

#[derive(Template)]
#[template(path = "ui/regulator_order.html")]
struct OrderPage {
    page: Page,
    can_act: bool,
    row: OrderRow,
    order: Order,
    created: String,
    issued: String,
    delivered: String,
    acknowledged: String,
    complied: String,
    proof: String,
    provider_link: String,
    terms: String,
    due_now: String,
    events: Vec<Line>,
    penalties: Vec<Line>,
    is_draft: bool,
    is_open: bool,
    is_overdue_state: bool,
    has_terms: bool,
    can_withdraw: bool,
}

/// `GET /ui/regulator/orders/{id}`: the order document, digest and signature, delivery proof,
/// timeline, penalties and the actions.
pub async fn order_page(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<OrderId>,
    Query(q): Query<DoneQuery>,
) -> UiResult<Response> {
    user.require(VIEW_ROLES)?;
    let o = api::own_order(&state, user.user.tenant_id, id).await?;
    let k = api::key(&state)?;
    let v = api::view(&state, o, Some(&k));
    let events = state.store.order_events(id).await?;
    let penalties = state.store.penalties(id).await?;
    // Publication is not a state change of the order, so it is only in the audit log; the
    // officer's timeline shows it all the same.
    let publications: Vec<_> = state
        .store
        .audit_for_subjects(&[format!("order:{id}")])
        .await?
        .into_iter()
        .filter(|e| e.action == "order.publish" || e.action == "order.unpublish")
        .collect();
    let actors = ActorLabels::load(
        &state,
        &user,
        events
            .iter()
            .map(|e| e.actor.as_str())
            .chain(penalties.iter().map(|p| p.actor.as_str()))
            .chain(publications.iter().map(|e| e.actor.as_str())),
    )
    .await;
    let mut timeline: Vec<(DateTime<Utc>, Line)> = events
        .iter()
        .map(|e| {
            (
                e.at,
                Line {
                    at: when(&e.at),
                    what: format!("{} ({} → {})", e.event, e.from_state, e.to_state),
                    who: actors.label(&e.actor),
                    who_raw: e.actor.clone(),
                    detail: e.note.clone().unwrap_or_default(),
                },
            )
        })
        .collect();
    timeline.extend(publications.iter().map(|e| {
        let key = if e.action == "order.publish" {
            "regulator.published_event"
        } else {
            "regulator.unpublished_event"
        };
        (
            e.at,
            Line {
                at: when(&e.at),
                what: user.tr().t(key).to_string(),
                who: actors.label(&e.actor),
                who_raw: e.actor.clone(),
                detail: String::new(),
            },
        )
    }));
    // Stable: a publication recorded in the same instant as an event stays after it.
    timeline.sort_by_key(|(at, _)| *at);
    let now = state.clock.now();
    let tr = user.tr();
    let mut page = Page::new(
        &state,
        &user,
        &format!("/ui/regulator/orders/{id}"),
        &format!("{} {}", tr.t("regulator.order"), v.order.reference),
    )
    .await;
    page.flash = flash(tr, q.done.as_deref());
    let o = v.order;
    let s = o.state;
    let open = matches!(
        s,
        OrderState::Issued
            | OrderState::Delivered
            | OrderState::Acknowledged
            | OrderState::Overdue
            | OrderState::PenaltyRunning
    );
    render(&OrderPage {
        page,
        can_act: user.require(ACT_ROLES).is_ok(),
        row: order_row(&o, now),
        created: when(&o.created_at),
        issued: opt_when(o.issued_at),
        delivered: opt_when(o.delivered_at),
        acknowledged: opt_when(o.acknowledged_at),
        complied: opt_when(o.complied_at),
        proof: o
            .delivery_proof
            .as_ref()
            .and_then(|p| serde_json::to_string_pretty(p).ok())
            .unwrap_or_default(),
        provider_link: v.provider_link.unwrap_or_default(),
        terms: o.penalty_terms.as_ref().map(terms_text).unwrap_or_default(),
        due_now: v.accrual.map(|a| euro(a.amount_cents)).unwrap_or_default(),
        events: timeline.into_iter().map(|(_, line)| line).collect(),
        penalties: penalties
            .iter()
            .map(|p| Line {
                at: when(&p.at),
                what: match p.kind {
                    PenaltyKind::Accrual => "accrual",
                    PenaltyKind::Fine => "fine",
                }
                .to_string(),
                who: actors.label(&p.actor),
                who_raw: p.actor.clone(),
                detail: format!(
                    "{}{}",
                    euro(p.amount_cents),
                    p.note
                        .as_deref()
                        .map(|n| format!(" · {n}"))
                        .unwrap_or_default()
                ),
            })
            .collect(),
        is_draft: s == OrderState::Draft,
        is_open: open,
        is_overdue_state: s == OrderState::Overdue,
        has_terms: o.penalty_terms.is_some(),
        can_withdraw: s == OrderState::Draft || open,
        order: o,
    })
}

fn back(id: OrderId, done: &str) -> Response {
    Redirect::to(&format!("/ui/regulator/orders/{id}?done={done}")).into_response()
}

/// `POST …/issue`: sign and issue (the API's [`api::issue_order`]).
pub async fn issue(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<OrderId>,
    Form(f): Form<CsrfOnly>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(ACT_ROLES)?;
    let (_order, email) = api::issue_order(&state, &user.actor(), user.user.tenant_id, id).await?;
    tracing::info!(order = id, email = %email, "order issued from the officer pages");
    Ok(back(id, "issued"))
}

/// A note or reason form.
#[derive(Debug, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

fn note(tr: Tr, text: &str, required: bool) -> UiResult<Option<String>> {
    let t = text.trim();
    if t.chars().count() > MAX_NOTE {
        return Err(UiError::Conflict(tr.t("regulator.note_long").into()));
    }
    if t.is_empty() {
        if required {
            return Err(UiError::Conflict(tr.t("regulator.reason_required").into()));
        }
        return Ok(None);
    }
    Ok(Some(t.to_string()))
}

async fn order_event(
    state: &AppState,
    user: &SignedIn,
    id: OrderId,
    event: OrderEvent,
    note: Option<String>,
) -> UiResult<()> {
    api::apply_event(state, &user.actor(), user.user.tenant_id, id, event, note).await?;
    Ok(())
}

/// `POST …/withdraw`: withdraw, with a reason.
pub async fn withdraw(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<OrderId>,
    Form(f): Form<NoteForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(ACT_ROLES)?;
    let reason = note(user.tr(), &f.note, true)?;
    order_event(&state, &user, id, OrderEvent::Withdraw, reason).await?;
    Ok(back(id, "withdrawn"))
}

/// `POST …/comply`: record compliance.
pub async fn comply(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<OrderId>,
    Form(f): Form<NoteForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(ACT_ROLES)?;
    let n = note(user.tr(), &f.note, false)?;
    order_event(&state, &user, id, OrderEvent::Comply, n).await?;
    Ok(back(id, "complied"))
}

/// Euro text (`1500`, `1500.5`, `1500,05`) in cents.
fn cents(text: &str) -> Option<u64> {
    let t = text.trim().replace(',', ".");
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_cents = match frac.len() {
        0 => 0,
        1 => frac.parse::<u64>().ok()? * 10,
        _ => frac.parse::<u64>().ok()?,
    };
    whole
        .parse::<u64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(frac_cents)
}

/// The penalty terms form.
#[derive(Debug, Deserialize)]
pub struct TermsForm {
    #[serde(default)]
    csrf: String,
    /// `periodic` or `fixed`.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    max: String,
}

/// `POST …/penalty-terms`: the officer's amounts (the API's [`api::set_terms`]).
pub async fn terms(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<OrderId>,
    Form(f): Form<TermsForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(ACT_ROLES)?;
    let tr = user.tr();
    let bad = || UiError::Conflict(tr.t("regulator.bad_amount").into());
    let amount_cents = cents(&f.amount).ok_or_else(bad)?;
    let terms = match f.kind.as_str() {
        "periodic" => PenaltyTerms::Periodic {
            amount_cents,
            unit: match f.unit.as_str() {
                "day" => PenaltyUnit::Day,
                _ => PenaltyUnit::Hour,
            },
            max_cents: match f.max.trim() {
                "" => None,
                m => Some(cents(m).ok_or_else(bad)?),
            },
        },
        "fixed" => PenaltyTerms::Fixed { amount_cents },
        _ => return Err(UiError::Conflict("kind must be periodic or fixed".into())),
    };
    api::set_terms(&state, &user.actor(), user.user.tenant_id, id, terms).await?;
    Ok(back(id, "terms"))
}

/// `POST …/penalty-start`: start the penalty of an overdue order.
pub async fn penalty_start(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<OrderId>,
    Form(f): Form<CsrfOnly>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(ACT_ROLES)?;
    api::start_penalty(&state, &user.actor(), user.user.tenant_id, id).await?;
    Ok(back(id, "penalty"))
}

/// `POST …/accruals`: record the penalty accrued so far (the amount follows from the terms the
/// officer set).
pub async fn accrual(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<OrderId>,
    Form(f): Form<CsrfOnly>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(ACT_ROLES)?;
    api::record_accrual(&state, &user.actor(), user.user.tenant_id, id).await?;
    Ok(back(id, "accrual"))
}

/// The fine form.
#[derive(Debug, Deserialize)]
pub struct FineForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    note: String,
}

/// `POST …/fines`: record a fine of the amount the officer entered.
pub async fn fine(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<OrderId>,
    Form(f): Form<FineForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(ACT_ROLES)?;
    let tr = user.tr();
    let amount =
        cents(&f.amount).ok_or_else(|| UiError::Conflict(tr.t("regulator.bad_amount").into()))?;
    let n = note(tr, &f.note, false)?;
    api::record_fine(&state, &user.actor(), user.user.tenant_id, id, amount, n).await?;
    Ok(back(id, "fine"))
}

/// The appeal form.
#[derive(Debug, Deserialize)]
pub struct AppealForm {
    #[serde(default)]
    csrf: String,
    /// `lodge`, `upheld` or `annulled`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
}

/// `POST …/appeal`: an appeal step (the API's [`api::appeal_event`]).
pub async fn appeal(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<OrderId>,
    Form(f): Form<AppealForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(ACT_ROLES)?;
    let ev = api::appeal_event(&f.action)?;
    let n = note(user.tr(), &f.note, false)?;
    order_event(&state, &user, id, ev, n).await?;
    Ok(back(id, "appeal"))
}

/// The publish form.
#[derive(Debug, Deserialize)]
pub struct PublishForm {
    #[serde(default)]
    csrf: String,
    /// `true` or `false`.
    #[serde(default)]
    published: String,
}

/// `POST …/publish`: show the order in the public register, or take it off.
pub async fn publish(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<OrderId>,
    Form(f): Form<PublishForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    user.require(ACT_ROLES)?;
    let published = f.published == "true";
    api::set_published(&state, &user.actor(), user.user.tenant_id, id, published).await?;
    Ok(back(
        id,
        if published {
            "published"
        } else {
            "unpublished"
        },
    ))
}

/// `GET …/evidence`: the API's evidence package (an audited export, as an attachment).
pub async fn evidence(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<OrderId>,
) -> UiResult<Response> {
    user.require(ACT_ROLES)?;
    Ok(api::evidence_package(&state, &user.actor(), user.user.tenant_id, id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euro_amounts_parse_to_cents() {
        assert_eq!(cents("1500"), Some(150_000));
        assert_eq!(cents("1500.5"), Some(150_050));
        assert_eq!(cents(" 1500,05 "), Some(150_005));
        for bad in ["", "-1", "1.234", "1e3", "€5", ".5"] {
            assert_eq!(cents(bad), None, "{bad}");
        }
        assert_eq!(cents(&"9".repeat(30)), None);
    }

    #[test]
    fn item_lines_need_a_digest_and_a_url() {
        let sha = "ab".repeat(32);
        let items = parse_items(&format!("{sha} https://x.example/a\n\n")).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].url, "https://x.example/a");
        assert!(parse_items("nothex https://x.example/a").is_none());
        assert!(parse_items(&sha).is_none());
    }

    #[test]
    fn api_refusals_find_their_field() {
        assert_eq!(field_of("reference: 1 to 64 characters"), "reference");
        assert_eq!(
            field_of("provider.email is not an e-mail address"),
            "provider_email"
        );
        assert_eq!(
            field_of("order deadline must be 1, 12 or 24 hours, got 48"),
            "deadline"
        );
        assert_eq!(field_of("order field legal_basis is empty"), "legal_basis");
        assert_eq!(field_of("something else"), "general");
    }
}
