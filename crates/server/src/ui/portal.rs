//! The provider portal: an organisation's notices, cases and hits; acknowledge, dispute, statements, own API keys.
//!
//! A provider user belongs to one organisation of one tenant; every look-up here is bounded by
//! both, and a record of another organisation (or tenant) is a 404, never a 403.
//!
//! What belongs to the organisation:
//! - **notices**: takedown notices that were actually sent (`state = sent`; queued or held ones,
//!   e.g. police first, are never shown) whose recipient organisation is the organisation's
//!   name (trimmed, case-insensitive, the monitor's merge rule);
//! - **cases**: the cases those notices cover. Their state is shown as the provider may see
//!   it: *online*, *removed* or *closed* (internal states such as a police hold are not told);
//! - **hits**: follow-up hits recorded for the organisation (its check keys);
//! - **orders**: issued removal orders of the tenant addressed to the organisation's name;
//! - **API keys**: the organisation's check keys.
//!
//! Actions go through the same store calls as the signed links and the provider API, so the
//! audit trail is the same, with the user (`user:<id>`) as actor: notice responses
//! ([`store::TakedownStore::record_response`]), hit acknowledgements
//! ([`store::FollowupStore::apply_hit_event`]; the follow-up sweep enqueues the verification of
//! a removal claim), order acknowledgements ([`store::OrderStore::apply_order_event`], after
//! recording delivery through the portal for an order only issued so far) and keys
//! ([`crate::ops::create_check_key`], revocation as the admin API does it).
//!
//! A statement may carry one file (at most [`MAX_ATTACHMENT`] bytes). It goes into the
//! encrypted evidence vault, never to plain disk; the response's statement records its name,
//! size and SHA-256 (the vault reference).

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use hmac::{Hmac, Mac};
use schoon_core::hit::{AckAction, HitEvent};
use schoon_core::order::{OrderEvent, OrderState};
use schoon_core::takedown::{CaseState, LadderRung, NoticeId, NoticeState, ResponseKind};
use schoon_core::{HitId, HitState, Organisation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use store::StoreError;
use store::accounts::Role;
use store::orders::{Order, OrderId};
use store::takedown::{Case, CaseResponse, Notice};

use super::{NavEntry, Page, SignedIn, Tr, UiError, UiResult, multipart, render};
use crate::app::AppState;

/// Largest statement attachment (bytes).
pub const MAX_ATTACHMENT: usize = 1 << 20;
/// Longest statement text (the signed link's limit).
pub const MAX_STATEMENT: usize = crate::takedown::respond::MAX_STATEMENT_CHARS;
/// Longest note with a hit or order acknowledgement (the provider API's limits).
const MAX_HIT_NOTE: usize = 2000;
const MAX_ORDER_NOTE: usize = 4000;
/// Rows per list on the overview.
const LIST_LIMIT: u32 = 200;

/// Who sees these pages.
pub const PORTAL_ROLES: &[Role] = &[Role::Provider];

/// Menu entries of these pages.
pub const NAV: &[NavEntry] = &[
    ("/ui/portal/overview", "portal.nav.overview", PORTAL_ROLES),
    ("/ui/portal/keys", "portal.nav.keys", PORTAL_ROLES),
];

/// Messages of these pages: `(key, English, Dutch)`.
pub const MESSAGES: &[(&str, &str, &str)] = &[
    (
        "portal.nav.overview",
        "Notices and hits",
        "Meldingen en hits",
    ),
    ("portal.nav.keys", "API keys", "API-sleutels"),
    ("portal.title", "Provider portal", "Providerportaal"),
    (
        "portal.intro",
        "Notices, cases, hits and orders addressed to your organisation. Content is never shown: URLs are listed as text.",
        "Meldingen, zaken, hits en bevelen gericht aan uw organisatie. Inhoud wordt nooit getoond: URL's staan er als tekst.",
    ),
    (
        "portal.open_notices",
        "Open notices",
        "Openstaande meldingen",
    ),
    ("portal.open_cases", "Open cases", "Openstaande zaken"),
    ("portal.open_hits", "Open hits", "Openstaande hits"),
    ("portal.open_orders", "Open orders", "Openstaande bevelen"),
    ("portal.notices", "Notices", "Meldingen"),
    ("portal.cases", "Cases", "Zaken"),
    ("portal.hits", "Hits", "Hits"),
    ("portal.orders", "Removal orders", "Verwijderbevelen"),
    ("portal.none", "Nothing here.", "Niets te tonen."),
    ("portal.reference", "Reference", "Kenmerk"),
    ("portal.sent", "Sent", "Verzonden"),
    ("portal.deadline", "Deadline", "Termijn"),
    ("portal.respond_by", "Respond by", "Reageren vóór"),
    ("portal.escalates", "Escalation after", "Escalatie na"),
    ("portal.status", "Status", "Status"),
    ("portal.url", "URL", "URL"),
    ("portal.urls", "URLs (as text)", "URL's (als tekst)"),
    ("portal.as", "Sent to you as", "Aan u gestuurd als"),
    ("portal.open", "Open", "Openen"),
    ("portal.overdue", "overdue", "verlopen"),
    ("portal.late", "Past the deadline", "Termijn verstreken"),
    ("portal.rung.hoster", "hoster", "hoster"),
    ("portal.rung.cdn", "CDN", "CDN"),
    ("portal.rung.site_owner", "site owner", "site-eigenaar"),
    ("portal.rung.registrar", "registrar", "registrar"),
    ("portal.rung.police", "police", "politie"),
    ("portal.rung.regulator", "regulator", "toezichthouder"),
    (
        "portal.notice.awaiting",
        "awaiting your response",
        "wacht op uw reactie",
    ),
    ("portal.notice.ack", "acknowledged", "bevestigd"),
    ("portal.notice.dispute", "disputed", "betwist"),
    ("portal.notice.resolved", "resolved", "afgehandeld"),
    ("portal.case.online", "online", "online"),
    ("portal.case.removed", "removed", "verwijderd"),
    ("portal.case.closed", "closed", "gesloten"),
    ("portal.hit.open", "open", "open"),
    ("portal.hit.acknowledged", "acknowledged", "bevestigd"),
    (
        "portal.hit.verified",
        "removal verified",
        "verwijdering geverifieerd",
    ),
    (
        "portal.hit.verification_failed",
        "still online",
        "nog online",
    ),
    ("portal.hit.overdue", "overdue", "verlopen"),
    ("portal.hit.escalated", "escalated", "geëscaleerd"),
    ("portal.hit.revoked", "revoked", "ingetrokken"),
    ("portal.hit.signal", "Matched", "Overeenkomst"),
    ("portal.hit.content", "Your content", "Uw inhoud"),
    ("portal.hit.action", "What you did", "Wat u deed"),
    ("portal.ack.removed", "Removed", "Verwijderd"),
    ("portal.ack.blocked", "Blocked", "Geblokkeerd"),
    (
        "portal.ack.false_positive",
        "Wrong match (dispute)",
        "Onjuiste match (betwisten)",
    ),
    (
        "portal.ack.not_ours",
        "Not on our service",
        "Niet op onze dienst",
    ),
    ("portal.note", "Note (optional)", "Toelichting (optioneel)"),
    ("portal.ack_hit", "Acknowledge hit", "Hit bevestigen"),
    ("portal.order.issued", "issued", "uitgevaardigd"),
    ("portal.order.delivered", "delivered", "bezorgd"),
    ("portal.order.acknowledged", "acknowledged", "bevestigd"),
    ("portal.order.complied", "complied", "nageleefd"),
    ("portal.order.overdue", "overdue", "verlopen"),
    (
        "portal.order.penalty_running",
        "penalty running",
        "dwangsom loopt",
    ),
    ("portal.order.withdrawn", "withdrawn", "ingetrokken"),
    ("portal.order.annulled", "annulled", "vernietigd"),
    ("portal.order.draft", "draft", "concept"),
    ("portal.order.authority", "Authority", "Autoriteit"),
    ("portal.order.items", "Items", "Items"),
    ("portal.ack_order", "Acknowledge order", "Bevel bevestigen"),
    ("portal.notice.title", "Notice", "Melding"),
    ("portal.notice.responses", "Responses", "Reacties"),
    (
        "portal.notice.no_responses",
        "No response yet.",
        "Nog geen reactie.",
    ),
    ("portal.respond", "Respond", "Reageren"),
    ("portal.kind", "Your response", "Uw reactie"),
    (
        "portal.kind.ack",
        "Acknowledge: we are acting on this notice",
        "Bevestigen: wij handelen deze melding af",
    ),
    (
        "portal.kind.dispute",
        "Dispute: this notice is wrong (say why)",
        "Betwisten: deze melding klopt niet (geef aan waarom)",
    ),
    ("portal.statement", "Statement", "Verklaring"),
    (
        "portal.statement_help",
        "Required for a dispute; at most 4000 characters.",
        "Verplicht bij betwisten; hoogstens 4000 tekens.",
    ),
    (
        "portal.file",
        "Attachment (optional, at most 1 MiB)",
        "Bijlage (optioneel, hoogstens 1 MiB)",
    ),
    (
        "portal.submit_response",
        "Send response",
        "Reactie versturen",
    ),
    (
        "portal.done.notice",
        "Your response was recorded.",
        "Uw reactie is vastgelegd.",
    ),
    (
        "portal.done.hit",
        "The hit was acknowledged.",
        "De hit is bevestigd.",
    ),
    (
        "portal.done.order",
        "The order was acknowledged.",
        "Het bevel is bevestigd.",
    ),
    (
        "portal.err.kind",
        "Choose acknowledge or dispute.",
        "Kies bevestigen of betwisten.",
    ),
    (
        "portal.err.dispute_reason",
        "A dispute needs a statement saying why.",
        "Betwisten vraagt een verklaring waarom.",
    ),
    (
        "portal.err.statement_long",
        "The statement is too long (at most 4000 characters).",
        "De verklaring is te lang (hoogstens 4000 tekens).",
    ),
    (
        "portal.err.file_large",
        "The attachment is larger than 1 MiB.",
        "De bijlage is groter dan 1 MiB.",
    ),
    (
        "portal.err.note_long",
        "The note is too long.",
        "De toelichting is te lang.",
    ),
    (
        "portal.err.action",
        "Choose what you did.",
        "Kies wat u deed.",
    ),
    ("portal.keys.title", "API keys", "API-sleutels"),
    (
        "portal.keys.intro",
        "Check keys of your organisation for the hash-check API. The secret is shown once, when the key is created.",
        "Controlesleutels van uw organisatie voor de hash-check-API. Het geheim wordt één keer getoond, bij het aanmaken.",
    ),
    ("portal.keys.id", "Key id", "Sleutel-id"),
    ("portal.keys.label", "Label", "Omschrijving"),
    ("portal.keys.created", "Created", "Aangemaakt"),
    ("portal.keys.revoked", "Revoked", "Ingetrokken"),
    ("portal.keys.active", "active", "actief"),
    ("portal.keys.revoke", "Revoke", "Intrekken"),
    (
        "portal.keys.create",
        "Create a check key",
        "Controlesleutel aanmaken",
    ),
    (
        "portal.keys.secret_once",
        "Your new key. Copy it now: it will not be shown again.",
        "Uw nieuwe sleutel. Kopieer hem nu: hij wordt niet nog eens getoond.",
    ),
    ("portal.keys.token", "Bearer token", "Bearer-token"),
    (
        "portal.keys.done_revoked",
        "The key was revoked.",
        "De sleutel is ingetrokken.",
    ),
    (
        "portal.keys.err_label",
        "Give the key a label (at most 100 characters).",
        "Geef de sleutel een omschrijving (hoogstens 100 tekens).",
    ),
    (
        "portal.no_org",
        "Your account is not linked to an organisation.",
        "Uw account is niet aan een organisatie gekoppeld.",
    ),
];

/// Routes of these pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/portal", get(overview))
        .route("/ui/portal/overview", get(overview))
        .route("/ui/portal/notices/{id}", get(notice_page))
        .route(
            "/ui/portal/notices/{id}/respond",
            // The attachment plus the form's text fields and multipart framing.
            post(respond).layer(DefaultBodyLimit::max(MAX_ATTACHMENT + 64 * 1024)),
        )
        .route("/ui/portal/hits/{id}/ack", post(ack_hit))
        .route("/ui/portal/orders/{id}/ack", post(ack_order))
        .route("/ui/portal/keys", get(keys).post(create_key))
        .route("/ui/portal/keys/{id}/revoke", post(revoke_key))
}

// --- scope ---

/// The signed-in provider user's organisation (in their tenant).
async fn own_org(state: &AppState, user: &SignedIn) -> UiResult<Organisation> {
    user.require(PORTAL_ROLES)?;
    let id = user.user.org_id.ok_or(UiError::Forbidden)?;
    state
        .store
        .org(id)
        .await?
        .filter(|o| o.tenant_id == user.user.tenant_id)
        .ok_or(UiError::Forbidden)
}

/// Organisation names as the monitor merges them: trimmed, case-insensitive.
fn same_org(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// A sent notice of the organisation, or 404.
async fn own_notice(state: &AppState, org: &Organisation, id: NoticeId) -> UiResult<Notice> {
    state
        .store
        .notice(id)
        .await?
        .filter(|n| {
            n.tenant_id == org.tenant_id
                && n.state == NoticeState::Sent
                && n.recipient_org
                    .as_deref()
                    .is_some_and(|r| same_org(r, &org.name))
        })
        .ok_or(UiError::NotFound)
}

/// A hit of the organisation, or 404.
async fn own_hit(
    state: &AppState,
    org: &Organisation,
    id: HitId,
) -> UiResult<store::followup::FollowupHit> {
    state
        .store
        .followup_hit(id)
        .await?
        .filter(|h| h.hit.tenant_id == org.tenant_id && h.hit.hit.org_id == org.id)
        .ok_or(UiError::NotFound)
}

/// Whether an order is addressed to the organisation (and may be shown: issued).
fn order_of(o: &Order, org: &Organisation) -> bool {
    o.tenant_id == org.tenant_id
        && o.state != OrderState::Draft
        && same_org(&o.provider.name, &org.name)
}

/// An issued order addressed to the organisation, or 404.
async fn own_order(state: &AppState, org: &Organisation, id: OrderId) -> UiResult<Order> {
    state
        .store
        .order(id)
        .await?
        .filter(|o| order_of(o, org))
        .ok_or(UiError::NotFound)
}

/// The organisation's orders (newest first).
async fn org_orders(state: &AppState, org: &Organisation) -> UiResult<Vec<Order>> {
    let mut out = Vec::new();
    let mut after = 0;
    // Orders are few (a regulator issues them one by one); page through them all.
    loop {
        let page = state.store.orders(org.tenant_id, None, after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let n = page.len();
        out.extend(page.into_iter().filter(|o| order_of(o, org)));
        if n < 500 {
            break;
        }
    }
    out.reverse();
    Ok(out)
}

// --- formatting ---

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_NL: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];

/// A time in the user's language: `29 November 2026, 13:05 UTC` / `29 november 2026 13:05 UTC`.
pub fn when(tr: Tr, at: DateTime<Utc>) -> String {
    let m = at.month0() as usize;
    match tr.code() {
        "en" => format!(
            "{} {} {}, {:02}:{:02} UTC",
            at.day(),
            MONTHS_EN[m],
            at.year(),
            at.hour(),
            at.minute()
        ),
        _ => format!(
            "{} {} {} {:02}:{:02} UTC",
            at.day(),
            MONTHS_NL[m],
            at.year(),
            at.hour(),
            at.minute()
        ),
    }
}

/// A deadline as shown: the formatted time, or a dash.
#[derive(Debug, Clone)]
pub struct Deadline {
    /// Formatted time (empty: none).
    pub text: String,
    /// Already past.
    pub late: bool,
}

fn deadline(tr: Tr, at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Deadline {
    match at {
        Some(at) => Deadline {
            text: when(tr, at),
            late: at <= now,
        },
        None => Deadline {
            text: "—".into(),
            late: false,
        },
    }
}

// --- overview ---

/// A notice row.
#[derive(Debug, Clone)]
pub struct NoticeRow {
    /// Id.
    pub id: NoticeId,
    /// Reference.
    pub reference: String,
    /// The role it was sent to the organisation in (translated).
    pub rung: &'static str,
    /// When sent.
    pub sent: String,
    /// Respond by.
    pub deadline: Deadline,
    /// Status (translated).
    pub status: &'static str,
    /// Still waiting for the organisation.
    pub open: bool,
    /// Number of URLs.
    pub urls: usize,
}

/// A case row.
#[derive(Debug, Clone)]
pub struct CaseRow {
    /// The media URL (text only).
    pub url: String,
    /// State as the provider sees it (translated).
    pub state: &'static str,
    /// Still online.
    pub open: bool,
    /// Regulator escalation after.
    pub deadline: Deadline,
    /// The latest notice covering it.
    pub notice_id: NoticeId,
    /// Its reference.
    pub notice_ref: String,
}

/// A hit row.
#[derive(Debug, Clone)]
pub struct HitRow {
    /// Id.
    pub id: HitId,
    /// Signal type and value matched.
    pub signal: String,
    /// The provider's own URL or reference.
    pub content: String,
    /// State (translated).
    pub state: &'static str,
    /// Acknowledged action (translated), if any.
    pub action: Option<&'static str>,
    /// Deadline.
    pub deadline: Deadline,
    /// May be acknowledged now.
    pub ackable: bool,
}

/// An order row.
#[derive(Debug, Clone)]
pub struct OrderRow {
    /// Id.
    pub id: OrderId,
    /// Reference.
    pub reference: String,
    /// Issuing authority.
    pub authority: String,
    /// State (translated).
    pub state: &'static str,
    /// Compliance due.
    pub deadline: Deadline,
    /// URLs (text only).
    pub urls: Vec<String>,
    /// May be acknowledged now.
    pub ackable: bool,
}

/// Action choices for a hit acknowledgement: `(value, label)`.
fn ack_actions(tr: Tr) -> Vec<(&'static str, &'static str)> {
    [
        AckAction::Removed,
        AckAction::Blocked,
        AckAction::NotOurs,
        AckAction::FalsePositive,
    ]
    .into_iter()
    .map(|a| (a.as_str(), tr.t(&format!("portal.ack.{}", a.as_str()))))
    .collect()
}

#[derive(Template)]
#[template(path = "ui/portal_home.html")]
struct OverviewPage {
    page: Page,
    org: String,
    notices: Vec<NoticeRow>,
    cases: Vec<CaseRow>,
    hits: Vec<HitRow>,
    orders: Vec<OrderRow>,
    open_notices: usize,
    open_cases: usize,
    open_hits: usize,
    open_orders: usize,
    actions: Vec<(&'static str, &'static str)>,
}

fn case_open(s: CaseState) -> bool {
    matches!(
        s,
        CaseState::Attributing
            | CaseState::NeedsContact
            | CaseState::PoliceHold
            | CaseState::Monitoring
    )
}

fn case_label(tr: Tr, s: CaseState) -> &'static str {
    tr.t(match s {
        CaseState::Removed => "portal.case.removed",
        CaseState::Closed | CaseState::Forwarded => "portal.case.closed",
        _ => "portal.case.online",
    })
}

/// When a notice expects an answer: its sending plus the rung's reminder interval.
fn respond_by(n: &Notice, p: &schoon_core::takedown::TakedownPolicy) -> Option<DateTime<Utc>> {
    let hours = match n.rung {
        LadderRung::Hoster | LadderRung::Cdn => p.hoster_reminder_hours,
        LadderRung::SiteOwner => p.site_owner_every_hours,
        LadderRung::Registrar => p.registrar_after_hours,
        LadderRung::Police | LadderRung::Regulator => return None,
    };
    n.sent_at.map(|s| s + Duration::hours(hours))
}

fn notice_status(tr: Tr, responses: &[CaseResponse], cases: &[Case]) -> (&'static str, bool) {
    if let Some(r) = responses.last() {
        let k = match r.kind {
            ResponseKind::Ack => "portal.notice.ack",
            ResponseKind::Dispute => "portal.notice.dispute",
        };
        return (tr.t(k), false);
    }
    if !cases.is_empty() && cases.iter().all(|c| !case_open(c.state)) {
        return (tr.t("portal.notice.resolved"), false);
    }
    (tr.t("portal.notice.awaiting"), true)
}

/// The cases of a notice (of the notice's tenant only).
async fn notice_cases(state: &AppState, n: &Notice) -> UiResult<Vec<Case>> {
    let mut out = Vec::with_capacity(n.items.len());
    for i in &n.items {
        if let Some(c) = state.store.case(i.case_id).await?
            && c.tenant_id == n.tenant_id
            && !out.iter().any(|o: &Case| o.id == c.id)
        {
            out.push(c);
        }
    }
    Ok(out)
}

/// `GET /ui/portal/overview`.
pub async fn overview(
    State(state): State<AppState>,
    user: SignedIn,
    Query(q): Query<DoneQuery>,
) -> UiResult<Response> {
    let org = own_org(&state, &user).await?;
    let tr = user.tr();
    let now = state.clock.now();
    let policy = state.store.takedown_policy(org.tenant_id).await?;

    let notices = state
        .store
        .org_notices(org.tenant_id, &org.name, LIST_LIMIT)
        .await?;
    let mut notice_rows = Vec::new();
    let mut case_rows: Vec<CaseRow> = Vec::new();
    let mut seen_cases = std::collections::HashSet::new();
    for n in &notices {
        let cases = notice_cases(&state, n).await?;
        let responses = state.store.notice_responses(n.id).await?;
        let (status, open) = notice_status(tr, &responses, &cases);
        notice_rows.push(NoticeRow {
            id: n.id,
            reference: n.reference.clone(),
            rung: tr.t(&format!("portal.rung.{}", n.rung.as_str())),
            sent: n.sent_at.map(|s| when(tr, s)).unwrap_or_default(),
            deadline: deadline(tr, respond_by(n, &policy), now),
            status,
            open,
            urls: cases.len(),
        });
        // Notices are newest first, so the first notice seen for a case is its latest.
        for c in cases {
            if !seen_cases.insert(c.id) {
                continue;
            }
            let escalation = match (policy.regulator_after_hours, c.ladder_since) {
                (Some(h), Some(since)) if case_open(c.state) => Some(since + Duration::hours(h)),
                _ => None,
            };
            case_rows.push(CaseRow {
                url: c.url.clone(),
                state: case_label(tr, c.state),
                open: case_open(c.state),
                deadline: deadline(tr, escalation, now),
                notice_id: n.id,
                notice_ref: n.reference.clone(),
            });
        }
    }

    let hits: Vec<HitRow> = state
        .store
        .followup_hits(org.id, None, None, LIST_LIMIT)
        .await?
        .into_iter()
        .filter(|h| h.hit.tenant_id == org.tenant_id)
        .map(|h| HitRow {
            id: h.hit.id,
            signal: format!("{} {}", h.hit.hit.signal_type, h.hit.hit.query_value),
            content: h
                .hit
                .hit
                .content_url
                .clone()
                .or_else(|| h.hit.hit.content_ref.clone())
                .unwrap_or_default(),
            state: tr.t(&format!("portal.hit.{}", h.hit.state.as_str())),
            action: h
                .action
                .map(|a| tr.t(&format!("portal.ack.{}", a.as_str()))),
            deadline: deadline(tr, Some(h.hit.deadline), now),
            ackable: matches!(
                h.hit.state,
                HitState::Open
                    | HitState::Overdue
                    | HitState::Escalated
                    | HitState::VerificationFailed
            ),
        })
        .collect();

    let orders: Vec<OrderRow> = org_orders(&state, &org)
        .await?
        .into_iter()
        .map(|o| OrderRow {
            id: o.id,
            state: tr.t(&format!("portal.order.{}", o.state.as_str())),
            deadline: deadline(tr, o.due_at, now),
            ackable: order_ackable(o.state),
            urls: o.items.iter().map(|i| i.url.clone()).collect(),
            reference: o.reference,
            authority: o.authority,
        })
        .collect();

    let mut page = Page::new(&state, &user, "/ui/portal/overview", tr.t("portal.title")).await;
    page.flash = q.flash(tr);
    render(&OverviewPage {
        page,
        org: org.name,
        open_notices: notice_rows.iter().filter(|n| n.open).count(),
        open_cases: case_rows.iter().filter(|c| c.open).count(),
        open_hits: hits.iter().filter(|h| h.ackable).count(),
        open_orders: orders.iter().filter(|o| o.ackable).count(),
        notices: notice_rows,
        cases: case_rows,
        hits,
        orders,
        actions: ack_actions(tr),
    })
}

fn order_ackable(s: OrderState) -> bool {
    matches!(
        s,
        OrderState::Issued
            | OrderState::Delivered
            | OrderState::Overdue
            | OrderState::PenaltyRunning
    )
}

/// `?done=` after an action.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

impl DoneQuery {
    fn flash(&self, tr: Tr) -> Option<String> {
        let key = match self.done.as_deref()? {
            "notice" => "portal.done.notice",
            "hit" => "portal.done.hit",
            "order" => "portal.done.order",
            "revoked" => "portal.keys.done_revoked",
            _ => return None,
        };
        Some(tr.t(key).to_string())
    }
}

// --- one notice ---

/// A recorded response, as shown.
#[derive(Debug, Clone)]
pub struct ResponseRow {
    /// When.
    pub at: String,
    /// Ack or dispute (translated).
    pub kind: &'static str,
    /// Statement.
    pub statement: String,
}

#[derive(Template)]
#[template(path = "ui/portal_notice.html")]
struct NoticePage {
    page: Page,
    notice: NoticeRow,
    cases: Vec<CaseRow>,
    responses: Vec<ResponseRow>,
    error: Option<String>,
    statement: String,
    max_statement: usize,
}

async fn notice_view(
    state: &AppState,
    user: &SignedIn,
    org: &Organisation,
    n: &Notice,
    error: Option<String>,
    statement: String,
    flash: Option<String>,
) -> UiResult<Response> {
    let tr = user.tr();
    let now = state.clock.now();
    let policy = state.store.takedown_policy(org.tenant_id).await?;
    let cases = notice_cases(state, n).await?;
    let responses = state.store.notice_responses(n.id).await?;
    let (status, open) = notice_status(tr, &responses, &cases);
    // One response per notice answer: the store writes one row per case; show each answer once.
    let mut shown: Vec<ResponseRow> = Vec::new();
    let mut last_key = None;
    for r in &responses {
        let key = (r.at, r.kind, r.statement.clone());
        if last_key.as_ref() == Some(&key) {
            continue;
        }
        shown.push(ResponseRow {
            at: when(tr, r.at),
            kind: tr.t(match r.kind {
                ResponseKind::Ack => "portal.notice.ack",
                ResponseKind::Dispute => "portal.notice.dispute",
            }),
            statement: r.statement.clone().unwrap_or_default(),
        });
        last_key = Some(key);
    }
    let mut page = Page::new(
        state,
        user,
        &format!("/ui/portal/notices/{}", n.id),
        &format!("{} {}", tr.t("portal.notice.title"), n.reference),
    )
    .await;
    page.flash = flash;
    let failed = error.is_some();
    let mut resp = render(&NoticePage {
        page,
        notice: NoticeRow {
            id: n.id,
            reference: n.reference.clone(),
            rung: tr.t(&format!("portal.rung.{}", n.rung.as_str())),
            sent: n.sent_at.map(|s| when(tr, s)).unwrap_or_default(),
            deadline: deadline(tr, respond_by(n, &policy), now),
            status,
            open,
            urls: cases.len(),
        },
        cases: cases
            .iter()
            .map(|c| CaseRow {
                url: c.url.clone(),
                state: case_label(tr, c.state),
                open: case_open(c.state),
                deadline: deadline(tr, None, now),
                notice_id: n.id,
                notice_ref: n.reference.clone(),
            })
            .collect(),
        responses: shown,
        error,
        statement,
        max_statement: MAX_STATEMENT,
    })?;
    if failed {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// `GET /ui/portal/notices/{id}`.
pub async fn notice_page(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<NoticeId>,
    Query(q): Query<DoneQuery>,
) -> UiResult<Response> {
    let org = own_org(&state, &user).await?;
    let n = own_notice(&state, &org, id).await?;
    let flash = q
        .done
        .is_some()
        .then(|| user.tr().t("portal.done.notice").to_string());
    notice_view(&state, &user, &org, &n, None, String::new(), flash).await
}

/// The fields of a response form.
#[derive(Debug, Default)]
struct ResponseForm {
    csrf: String,
    kind: String,
    statement: String,
    file: Option<(String, Vec<u8>)>,
}

async fn response_form(headers: &HeaderMap, body: Bytes) -> UiResult<ResponseForm> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut f = ResponseForm::default();
    if multipart::is_multipart(ct) {
        for p in multipart::parse(ct, body)
            .await
            .map_err(UiError::Conflict)?
        {
            let text = || String::from_utf8_lossy(&p.data).into_owned();
            match p.name.as_str() {
                "csrf" => f.csrf = text(),
                "kind" => f.kind = text(),
                "statement" => f.statement = text(),
                "file" => {
                    let name = p.filename.clone().unwrap_or_default();
                    // A form with no file chosen still sends an empty file part.
                    if !(name.is_empty() && p.data.is_empty()) {
                        f.file = Some((name, p.data));
                    }
                }
                _ => {}
            }
        }
    } else {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&body).map_err(|e| UiError::Conflict(e.to_string()))?;
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => f.csrf = v,
                "kind" => f.kind = v,
                "statement" => f.statement = v,
                _ => {}
            }
        }
    }
    Ok(f)
}

/// A file name safe to keep in a statement: printable, no path, at most 200 characters.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let s: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if s.trim().is_empty() {
        "attachment".into()
    } else {
        s.trim().to_string()
    }
}

/// What the bytes look like (the vault records a sniffed type, never the client's claim).
fn sniff(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"%PDF-") {
        "application/pdf"
    } else if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if bytes.starts_with(b"PK\x03\x04") {
        "application/zip"
    } else if std::str::from_utf8(bytes).is_ok() {
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

/// Stores an attachment in the evidence vault; returns its SHA-256 (the vault reference).
async fn store_attachment(
    state: &AppState,
    user: &SignedIn,
    n: &Notice,
    name: &str,
    bytes: Vec<u8>,
) -> UiResult<String> {
    let evidence = vault::EvidenceRef::of(&bytes);
    let origin = format!("urn:schoon:statement:{}", n.reference);
    let meta = vault::EvidenceMeta {
        original_url: origin.clone(),
        final_url: origin,
        fetched_at: state.clock.now(),
        // Not fetched over HTTP: uploaded through the portal (who and what name are below).
        http_status: 200,
        headers: vec![
            ("x-uploaded-by".into(), user.actor().0),
            ("x-filename".into(), name.to_string()),
        ],
        resolved_ip: None,
        content_type: sniff(&bytes).into(),
        size: bytes.len() as u64,
        sha256: *evidence.sha256(),
    };
    let v = state.reports.vault.clone();
    let r = tokio::task::spawn_blocking(move || v.put(&bytes, &meta))
        .await
        .map_err(|e| UiError::Internal(format!("vault task: {e}")))?
        .map_err(|e| UiError::Internal(format!("vault: {e}")))?;
    Ok(r.to_hex())
}

/// `POST /ui/portal/notices/{id}/respond` (multipart: `csrf`, `kind` = `ack` | `dispute`,
/// `statement`, optional `file`).
pub async fn respond(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<NoticeId>,
    headers: HeaderMap,
    body: Bytes,
) -> UiResult<Response> {
    let f = response_form(&headers, body).await.map_err(|e| match e {
        // An unreadable form has no readable token either.
        UiError::Conflict(_) => UiError::Csrf,
        e => e,
    })?;
    user.check_csrf(&f.csrf)?;
    let org = own_org(&state, &user).await?;
    let n = own_notice(&state, &org, id).await?;
    let tr = user.tr();
    let statement = f.statement.trim().replace("\r\n", "\n");
    let fail = |key: &str| {
        let msg = tr.t(key).to_string();
        let st = statement.clone();
        let (state, user, org, n) = (&state, &user, &org, &n);
        async move { notice_view(state, user, org, n, Some(msg), st, None).await }
    };
    let kind = match f.kind.as_str() {
        "ack" => ResponseKind::Ack,
        "dispute" => ResponseKind::Dispute,
        _ => return fail("portal.err.kind").await,
    };
    if statement.chars().count() > MAX_STATEMENT {
        return fail("portal.err.statement_long").await;
    }
    if kind == ResponseKind::Dispute && statement.is_empty() {
        return fail("portal.err.dispute_reason").await;
    }
    let mut text = statement.clone();
    if let Some((name, bytes)) = f.file {
        if bytes.len() > MAX_ATTACHMENT {
            return fail("portal.err.file_large").await;
        }
        let name = clean_name(&name);
        let size = bytes.len();
        let sha = store_attachment(&state, &user, &n, &name, bytes).await?;
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&format!(
            "[attachment: {name}, {size} bytes, sha256 {sha} (evidence vault)]"
        ));
    }
    let statement = (!text.is_empty()).then_some(text);
    state
        .store
        .record_response(
            &user.actor(),
            n.id,
            None,
            kind,
            statement,
            state.clock.now(),
        )
        .await?;
    tracing::info!(
        notice = n.id,
        ?kind,
        user = user.user.id,
        "notice response recorded in the portal"
    );
    Ok(Redirect::to(&format!("/ui/portal/notices/{}?done=1", n.id)).into_response())
}

// --- hits and orders ---

/// Form of a hit acknowledgement.
#[derive(Debug, Deserialize)]
pub struct HitAckForm {
    // Missing is refused by the CSRF check (403), not by the form parser.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
}

/// `POST /ui/portal/hits/{id}/ack`: `action` = `removed` | `blocked` | `not_ours` |
/// `false_positive` (the latter needs a note, as the API's dispute does).
pub async fn ack_hit(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<HitId>,
    Form(f): Form<HitAckForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    let org = own_org(&state, &user).await?;
    own_hit(&state, &org, id).await?;
    let tr = user.tr();
    let action: AckAction = f
        .action
        .parse()
        .map_err(|_| UiError::Conflict(tr.t("portal.err.action").into()))?;
    let note = f.note.trim();
    if note.chars().count() > MAX_HIT_NOTE {
        return Err(UiError::Conflict(tr.t("portal.err.note_long").into()));
    }
    if action == AckAction::FalsePositive && note.is_empty() {
        return Err(UiError::Conflict(tr.t("portal.err.dispute_reason").into()));
    }
    // The same call as `POST /api/v1/hits/{id}/acknowledge`; a removal claim's verification
    // job is enqueued by the follow-up sweep (`undecided_claims`).
    state
        .store
        .apply_hit_event(
            &user.actor(),
            id,
            HitEvent::Acknowledge(action),
            (!note.is_empty()).then_some(note),
            state.clock.now(),
        )
        .await?;
    Ok(Redirect::to("/ui/portal/overview?done=hit").into_response())
}

/// Form of an order acknowledgement.
#[derive(Debug, Deserialize)]
pub struct OrderAckForm {
    // Missing is refused by the CSRF check (403), not by the form parser.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

/// Records delivery through the portal for an order only issued so far: the provider user
/// has it in front of them. The proof is signed with the order-signing key like the API's.
async fn deliver_in_portal(state: &AppState, user: &SignedIn, o: Order) -> UiResult<Order> {
    if o.state != OrderState::Issued {
        return Ok(o);
    }
    let key = crate::regulator::signing_key(&state.config.data_dir)
        .map_err(|e| UiError::Internal(format!("order-signing key: {e}")))?;
    let at = chrono::SubsecRound::trunc_subsecs(state.clock.now(), 6);
    let proof = crate::regulator::delivery_proof(
        &key,
        &o,
        "portal",
        at,
        serde_json::json!({"via": "provider portal", "user": user.actor().0}),
    );
    match state
        .store
        .deliver_order(&user.actor(), o.id, proof, at)
        .await
    {
        Ok(o) => Ok(o),
        // Delivered by another channel meanwhile.
        Err(StoreError::Conflict(_) | StoreError::Invalid(_)) => {
            state.store.order(o.id).await?.ok_or(UiError::NotFound)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /ui/portal/orders/{id}/ack`.
pub async fn ack_order(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<OrderId>,
    Form(f): Form<OrderAckForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    let org = own_org(&state, &user).await?;
    let o = own_order(&state, &org, id).await?;
    let tr = user.tr();
    let note = f.note.trim();
    if note.chars().count() > MAX_ORDER_NOTE {
        return Err(UiError::Conflict(tr.t("portal.err.note_long").into()));
    }
    // Acknowledging proves receipt too (as on the signed link).
    let o = deliver_in_portal(&state, &user, o).await?;
    let at = chrono::SubsecRound::trunc_subsecs(state.clock.now(), 6);
    state
        .store
        .apply_order_event(
            &user.actor(),
            o.id,
            OrderEvent::Acknowledge,
            (!note.is_empty()).then_some(note),
            at,
        )
        .await?;
    Ok(Redirect::to("/ui/portal/overview?done=order").into_response())
}

// --- API keys ---

/// A key row.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// Key id.
    pub id: String,
    /// Label.
    pub label: String,
    /// Created.
    pub created: String,
    /// Revoked (formatted), if.
    pub revoked: Option<String>,
}

/// A key just created, as shown once: sealed into [`KEY_FLASH_COOKIE`] between the POST and
/// the GET it redirects to, so a reload neither re-submits the form nor shows the secret again.
#[derive(Debug, Serialize, Deserialize)]
struct NewKey {
    key_id: String,
    label: String,
    /// Bearer token `<id>.<secret>`.
    token: String,
    /// Unix seconds after which the sealed copy is refused, whatever the browser kept.
    expires: i64,
}

/// Cookie that carries a new key from the POST to the next GET.
const KEY_FLASH_COOKIE: &str = "schoon_key_flash";
/// Only the keys page ever receives it.
const KEY_FLASH_PATH: &str = "/ui/portal/keys";
/// How long the sealed key may wait for its GET.
const KEY_FLASH_SECONDS: i64 = 120;
/// Label of the key derivation: the link key is shared by every node, so any node opens it.
const KEY_FLASH_LABEL: &[u8] = b"schoon ui key flash v1";
const NONCE_LEN: usize = 12;

fn flash_cipher(state: &AppState) -> Option<ChaCha20Poly1305> {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&state.takedown.link_key).ok()?;
    mac.update(KEY_FLASH_LABEL);
    let key = mac.finalize().into_bytes();
    <ChaCha20Poly1305 as chacha20poly1305::KeyInit>::new_from_slice(&key).ok()
}

/// Seals `key` to the session (its id is the associated data): base64url of nonce + ciphertext.
fn seal_key(state: &AppState, user: &SignedIn, key: &NewKey) -> UiResult<String> {
    let internal = |what: &str| UiError::Internal(format!("sealing a new key: {what}"));
    let cipher = flash_cipher(state).ok_or_else(|| internal("key derivation"))?;
    let plain = serde_json::to_vec(key).map_err(|e| internal(&e.to_string()))?;
    let nonce: [u8; NONCE_LEN] = rand::random();
    let sealed = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &plain,
                aad: user.session.id.as_bytes(),
            },
        )
        .map_err(|_| internal("encryption"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(URL_SAFE_NO_PAD.encode(out))
}

/// Opens a sealed key; `None` if it is not this session's, was altered, or has expired.
fn open_key(state: &AppState, user: &SignedIn, value: &str) -> Option<NewKey> {
    let raw = URL_SAFE_NO_PAD.decode(value).ok()?;
    if raw.len() <= NONCE_LEN {
        return None;
    }
    let (nonce, sealed) = raw.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let plain = flash_cipher(state)?
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: sealed,
                aad: user.session.id.as_bytes(),
            },
        )
        .ok()?;
    let key: NewKey = serde_json::from_slice(&plain).ok()?;
    (key.expires > state.clock.now().timestamp()).then_some(key)
}

/// The value of cookie `name` in the request, if sent.
fn request_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// `Set-Cookie` of [`KEY_FLASH_COOKIE`], built like the session cookie (`Secure` unless plain HTTP).
fn key_flash_cookie(state: &AppState, value: &str, max_age: i64) -> UiResult<HeaderValue> {
    let secure = if state.config.ui.plain_http {
        ""
    } else {
        "; Secure"
    };
    HeaderValue::from_str(&format!(
        "{KEY_FLASH_COOKIE}={value}; Path={KEY_FLASH_PATH}; HttpOnly; SameSite=Strict{secure}; Max-Age={max_age}"
    ))
    .map_err(|e| UiError::Internal(e.to_string()))
}

#[derive(Template)]
#[template(path = "ui/portal_keys.html")]
struct KeysPage {
    page: Page,
    org: String,
    keys: Vec<KeyRow>,
    created: Option<NewKey>,
    error: Option<String>,
}

async fn keys_page(
    state: &AppState,
    user: &SignedIn,
    org: &Organisation,
    created: Option<NewKey>,
    error: Option<String>,
    flash: Option<String>,
) -> UiResult<Response> {
    let tr = user.tr();
    let keys: Vec<KeyRow> = org_keys(state, org)
        .await?
        .into_iter()
        .map(|k| KeyRow {
            created: when(tr, k.created_at),
            revoked: k.revoked_at.map(|r| when(tr, r)),
            id: k.id,
            label: k.label,
        })
        .collect();
    // Only a key of this organisation is shown (the user may have moved since the POST).
    let created = created.filter(|c| keys.iter().any(|k| k.id == c.key_id));
    let mut page = Page::new(state, user, "/ui/portal/keys", tr.t("portal.keys.title")).await;
    page.flash = flash;
    let failed = error.is_some();
    let mut resp = render(&KeysPage {
        page,
        org: org.name.clone(),
        keys,
        created,
        error,
    })?;
    if failed {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// The organisation's check keys (newest first).
async fn org_keys(state: &AppState, org: &Organisation) -> UiResult<Vec<schoon_core::ApiKey>> {
    let mut keys: Vec<_> = state
        .store
        .api_keys(Some(org.tenant_id))
        .await?
        .into_iter()
        .filter(|k| k.org_id == Some(org.id) && k.role == schoon_core::KeyRole::Check)
        .collect();
    keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
    Ok(keys)
}

/// `GET /ui/portal/keys`: shows a key sealed by [`create_key`] once, and clears its cookie.
pub async fn keys(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    Query(q): Query<DoneQuery>,
) -> UiResult<Response> {
    let org = own_org(&state, &user).await?;
    let sealed = request_cookie(&headers, KEY_FLASH_COOKIE);
    // One that does not open (another session, altered, expired) is ignored, and cleared alike.
    let created = sealed.as_deref().and_then(|v| open_key(&state, &user, v));
    let mut resp = keys_page(&state, &user, &org, created, None, q.flash(user.tr())).await?;
    if sealed.is_some() {
        let h = resp.headers_mut();
        h.append(header::SET_COOKIE, key_flash_cookie(&state, "", 0)?);
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(resp)
}

/// Form of a new key.
#[derive(Debug, Deserialize)]
pub struct NewKeyForm {
    // Missing is refused by the CSRF check (403), not by the form parser.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
}

/// `POST /ui/portal/keys`: creates a check key of the user's organisation, then redirects
/// (303) to the keys page with the secret sealed into a short-lived cookie of this session.
/// The store keeps only the secret's hash, as for the admin API, and nothing here keeps the
/// secret either: a reload of the page shows it no more and creates no key.
pub async fn create_key(
    State(state): State<AppState>,
    user: SignedIn,
    Form(f): Form<NewKeyForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    let org = own_org(&state, &user).await?;
    let label = f.label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        let msg = user.tr().t("portal.keys.err_label").to_string();
        return keys_page(&state, &user, &org, None, Some(msg), None).await;
    }
    let created =
        crate::ops::create_check_key(state.store.as_ref(), &user.actor(), org.id, label).await?;
    let sealed = seal_key(
        &state,
        &user,
        &NewKey {
            key_id: created.key_id,
            label: created.key.label,
            token: created.token,
            expires: state.clock.now().timestamp() + KEY_FLASH_SECONDS,
        },
    )?;
    let mut resp = Redirect::to("/ui/portal/keys?done=created").into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        key_flash_cookie(&state, &sealed, KEY_FLASH_SECONDS)?,
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Form of a revocation.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    // Missing is refused by the CSRF check (403), not by the form parser.
    #[serde(default)]
    csrf: String,
}

/// `POST /ui/portal/keys/{id}/revoke`: another organisation's key is a 404.
pub async fn revoke_key(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<String>,
    Form(f): Form<RevokeForm>,
) -> UiResult<Response> {
    user.check_csrf(&f.csrf)?;
    let org = own_org(&state, &user).await?;
    let key = state
        .store
        .api_key_with_hash(&id)
        .await?
        .map(|(k, _)| k)
        .filter(|k| {
            k.tenant_id == Some(org.tenant_id)
                && k.org_id == Some(org.id)
                && k.role == schoon_core::KeyRole::Check
        })
        .ok_or(UiError::NotFound)?;
    if key.revoked_at.is_none() {
        state
            .store
            .revoke_api_key(&user.actor(), &key.id, "revoked in the provider portal")
            .await?;
        state.auth.invalidate(&key.id);
    }
    Ok(Redirect::to("/ui/portal/keys?done=revoked").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::accounts::Language;

    #[test]
    fn times_are_in_the_users_language() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-05T07:04:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(when(Tr(Language::En), at), "5 March 2026, 07:04 UTC");
        assert_eq!(when(Tr(Language::Nl), at), "5 maart 2026 07:04 UTC");
    }

    #[test]
    fn organisation_names_match_like_the_monitor() {
        assert!(same_org(" Host BV ", "host bv"));
        assert!(!same_org("Host BV", "Host"));
    }

    #[test]
    fn attachment_names_lose_paths_and_controls() {
        assert_eq!(clean_name("C:\\x\\..\\evil\n.pdf"), "evil.pdf");
        assert_eq!(clean_name("/etc/"), "attachment");
        assert_eq!(sniff(b"%PDF-1.7"), "application/pdf");
        assert_eq!(sniff(&[0xff, 0xfe, 0x00]), "application/octet-stream");
    }
}
