//! Notice-and-takedown storage ([takedown]): cases, attribution history, the notice outbox,
//! re-check observations, provider responses and escalations.
//!
//! A separate trait ([`TakedownStore`], a supertrait of [`crate::Store`]). Like the follow-up
//! store, every case transition goes through [`schoon_core::takedown::transition`] inside the
//! write transaction and is applied with a conditional update (`WHERE state = <from>`), with a
//! `case_events` row and a hash-chained audit event (`case.<event>` on `case:<id>`) in the same
//! transaction; notice changes write `notice.<event>` on `notice:<id>`. Times come from the
//! caller's clock.
//!
//! "Never twice for the same step" is the UNIQUE `(case_id, rung, sequence)` of `notice_items`:
//! [`TakedownStore::enqueue_notice`] writes nothing and returns `None` when any step is taken.
//! The outbox is at-most-once: a notice is claimed (`sending`, committed) before SMTP, and one
//! found in `sending` after its lease becomes `delivery_unknown` for a human instead of being
//! resent.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use schoon_core::TenantId;
use schoon_core::report::{ItemId, ReportId};
pub use schoon_core::takedown::{
    CaseError, CaseEscalationKind, CaseEvent, CaseId, CaseState, DueStep, LadderRung, LadderState,
    NoticeId, NoticeState, ObservationOutcome, ObservationPoint, OnlineVerdict, ResponseKind,
    SentStep, TakedownPolicy,
};
use serde::{Deserialize, Serialize};

use crate::{Actor, StoreResult};

/// How long a case handed out by [`TakedownStore::due_checks`] is not handed out again (the
/// check records its observation well before; a crashed check is retried after this).
pub const CHECK_LEASE_MINUTES: i64 = 10;
/// Observations read back to decide the verdict (only the trailing miss streak matters).
pub(crate) const VERDICT_WINDOW: i64 = 200;
/// Observations shown in a case timeline (newest).
pub(crate) const TIMELINE_OBSERVATIONS: i64 = 500;

/// A case to open for one illegal media item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCase {
    /// Tenant.
    pub tenant_id: TenantId,
    /// Report.
    pub report_id: ReportId,
    /// The item (one case per item, ever).
    pub item_id: ItemId,
    /// The media URL (what is re-checked).
    pub url: String,
    /// The reported page URL.
    pub page_url: String,
    /// Marked "police first": no provider notices until released.
    pub police_first: bool,
}

/// A case's current contacts.
///
/// CDN convention: a case goes to the CDN as proxy ([`CaseContacts::via_cdn`]) when a CDN is
/// known and either no hoster abuse address is known or the "hoster" is the CDN itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaseContacts {
    /// Hosting organisation.
    pub hoster_org: Option<String>,
    /// Hoster abuse address.
    pub hoster_email: Option<String>,
    /// Hoster country (ISO 3166 alpha-2).
    pub hoster_country: Option<String>,
    /// Origin AS number.
    pub asn: Option<u32>,
    /// The IP the host resolved to.
    pub ip: Option<String>,
    /// CDN in front of the site.
    pub cdn_org: Option<String>,
    /// CDN abuse address.
    pub cdn_email: Option<String>,
    /// Registrar.
    pub registrar_name: Option<String>,
    /// Registrar abuse address.
    pub registrar_email: Option<String>,
    /// Site owner address.
    pub site_owner_email: Option<String>,
}

impl CaseContacts {
    /// Whether the hoster rung goes to the CDN.
    pub fn via_cdn(&self) -> bool {
        self.cdn_org.is_some()
            && self.cdn_email.is_some()
            && (self.hoster_email.is_none() || self.hoster_org == self.cdn_org)
    }

    /// The address a rung's notice goes to, if known.
    pub fn recipient(&self, rung: LadderRung) -> Option<&str> {
        match rung {
            LadderRung::Hoster => self.hoster_email.as_deref(),
            LadderRung::Cdn => self.cdn_email.as_deref(),
            LadderRung::SiteOwner => self.site_owner_email.as_deref(),
            LadderRung::Registrar => self.registrar_email.as_deref(),
            LadderRung::Police | LadderRung::Regulator => None,
        }
    }

    /// The organisation a rung's notice goes to, if known.
    pub fn recipient_org(&self, rung: LadderRung) -> Option<&str> {
        match rung {
            LadderRung::Hoster => self.hoster_org.as_deref(),
            LadderRung::Cdn => self.cdn_org.as_deref(),
            LadderRung::Registrar => self.registrar_name.as_deref(),
            _ => None,
        }
    }

    /// Whether the first rung (hoster or CDN) has an address.
    pub fn has_first_recipient(&self) -> bool {
        self.hoster_email.is_some() || (self.cdn_org.is_some() && self.cdn_email.is_some())
    }

    /// Who hosts it, for hoster-change detection: the CDN when notices go there, else the
    /// organisation, else the AS number.
    pub(crate) fn hoster_key(&self) -> Option<String> {
        if self.via_cdn() {
            return self
                .cdn_org
                .as_ref()
                .map(|o| format!("cdn:{}", o.to_lowercase()));
        }
        if let Some(o) = &self.hoster_org {
            return Some(format!("org:{}", o.trim().to_lowercase()));
        }
        self.asn.map(|a| format!("as:{a}"))
    }
}

/// A takedown case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    /// Id.
    pub id: CaseId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Report.
    pub report_id: ReportId,
    /// Item.
    pub item_id: ItemId,
    /// Media URL.
    pub url: String,
    /// Page URL.
    pub page_url: String,
    /// Host of the media URL.
    pub host: String,
    /// Registrable domain (public-suffix aware), once attributed.
    pub registrable_domain: Option<String>,
    /// State.
    pub state: CaseState,
    /// Marked police first.
    pub police_first: bool,
    /// Current contacts.
    pub contacts: CaseContacts,
    /// The latest attribution row.
    pub attribution_id: Option<i64>,
    /// Ladder start (monitoring start, last hoster change or re-appearance).
    pub ladder_since: Option<DateTime<Utc>>,
    /// First time the case went to monitoring.
    pub monitoring_since: Option<DateTime<Utc>>,
    /// When the next re-check is due (None: not checked).
    pub next_check_at: Option<DateTime<Utc>>,
    /// Counted misses of the current streak.
    pub misses: u32,
    /// When the material was removed (first miss of the verifying streak).
    pub removed_at: Option<DateTime<Utc>>,
    /// When the offline verdict was reached.
    pub offline_verified_at: Option<DateTime<Utc>>,
    /// Last re-appearance after removal.
    pub reappeared_at: Option<DateTime<Utc>>,
    /// Last hoster change.
    pub hoster_changed_at: Option<DateTime<Utc>>,
    /// Country the case was forwarded to.
    pub forward_country: Option<String>,
    /// Opened.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Closed.
    pub closed_at: Option<DateTime<Utc>>,
}

/// One attribution, as made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAttribution {
    /// Contacts found.
    pub contacts: CaseContacts,
    /// Host of the URL.
    pub host: String,
    /// Registrable domain.
    pub registrable_domain: Option<String>,
    /// What is missing or unapproved (e.g. `hoster:no_abuse_email`); non-empty parks the case.
    pub needs_contact: Vec<String>,
    /// The full attribution record.
    pub raw: serde_json::Value,
    /// When it was made.
    pub made_at: DateTime<Utc>,
    /// The tenant's country: a hoster elsewhere means "moved abroad".
    pub tenant_country: Option<String>,
}

/// What an attribution did to the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum AttributionOutcome {
    /// The case (now) is monitored with these contacts.
    Monitoring,
    /// Parked: no usable contact.
    NeedsContact,
    /// Another hoster than before: the ladder restarts for it.
    HosterChanged,
    /// The hoster is abroad: forwarded to that country's hotline.
    MovedAbroad {
        /// Hoster country.
        country: String,
    },
    /// Nothing changed (history row stored).
    Unchanged,
}

/// A case due for a re-check, with what to compare against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseForCheck {
    /// The case.
    pub case: Case,
    /// Stored SHA-256 (hex) of the media.
    pub sha256: Option<String>,
    /// Stored PDQ (hex) of the media.
    pub pdq: Option<String>,
    /// PDQ radius within which a re-encoded copy counts as the same.
    pub pdq_radius: u32,
}

/// One re-fetch of a case URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewObservation {
    /// When.
    pub at: DateTime<Utc>,
    /// HTTP status, if there was an answer.
    pub http_status: Option<u16>,
    /// Verdict of this observation.
    pub outcome: ObservationOutcome,
    /// Why (e.g. `sha256_match`, `pdq_distance`, `soft_404`, `not_an_image`).
    pub detail: Option<String>,
    /// Content type served.
    pub content_type: Option<String>,
    /// SHA-256 of what was served.
    pub served_sha256: Option<String>,
    /// PDQ of what was served.
    pub served_pdq: Option<String>,
    /// PDQ distance to the stored hash.
    pub distance: Option<u32>,
    /// URL after redirects.
    pub final_url: Option<String>,
    /// Network error.
    pub error: Option<String>,
}

/// A stored observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// Id.
    pub id: i64,
    /// Case.
    pub case_id: CaseId,
    /// What was observed.
    #[serde(flatten)]
    pub observation: NewObservation,
}

/// What recording an observation did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservationResult {
    /// The case afterwards.
    pub case: Case,
    /// The verdict over its recent observations.
    pub verdict: OnlineVerdict,
    /// The new state, if it changed (removed, or monitoring again after re-appearance).
    pub changed: Option<CaseState>,
}

/// A case with what the ladder needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LadderCase {
    /// The case.
    pub case: Case,
    /// Ladder input.
    pub ladder: LadderState,
}

/// A notice to queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewNotice {
    /// Tenant.
    pub tenant_id: TenantId,
    /// Rung (an e-mail rung: not `regulator`).
    pub rung: LadderRung,
    /// Recipient address.
    pub recipient_email: String,
    /// Recipient organisation.
    pub recipient_org: Option<String>,
    /// Language of the mail.
    pub language: Option<String>,
    /// Earliest send time (after the sending window).
    pub due_at: DateTime<Utc>,
    /// Queue it held (police first) rather than queued.
    pub held: bool,
    /// `(case, sequence)` of every step the notice covers.
    pub items: Vec<(CaseId, u32)>,
}

/// A case step in a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NoticeItemRef {
    /// Case.
    pub case_id: CaseId,
    /// Sequence of the rung for that case.
    pub sequence: u32,
}

/// A notice (one e-mail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// Id.
    pub id: NoticeId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Stable reference (subject, signed link, Message-ID).
    pub reference: String,
    /// Rung.
    pub rung: LadderRung,
    /// Recipient.
    pub recipient_email: String,
    /// Recipient organisation.
    pub recipient_org: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Outbox state.
    pub state: NoticeState,
    /// Earliest send time.
    pub due_at: DateTime<Utc>,
    /// End of the current claim.
    pub lease_until: Option<DateTime<Utc>>,
    /// Worker holding the claim.
    pub claimed_by: Option<String>,
    /// Message-ID of the mail sent.
    pub message_id: Option<String>,
    /// SMTP reply code.
    pub smtp_code: Option<u16>,
    /// SMTP reply text.
    pub smtp_message: Option<String>,
    /// When accepted.
    pub sent_at: Option<DateTime<Utc>>,
    /// Temporary SMTP failures so far, each followed by a retry (see
    /// [`TakedownStore::defer_delivery`]).
    pub deferrals: u32,
    /// Queued.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Covered case steps.
    pub items: Vec<NoticeItemRef>,
}

/// The SMTP result of one notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Accepted by the server.
    pub accepted: bool,
    /// Reply code.
    pub smtp_code: Option<u16>,
    /// Reply text.
    pub smtp_message: String,
    /// Message-ID sent.
    pub message_id: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A provider's response on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseResponse {
    /// Id.
    pub id: i64,
    /// Case.
    pub case_id: CaseId,
    /// Notice responded to.
    pub notice_id: NoticeId,
    /// Ack or dispute.
    pub kind: ResponseKind,
    /// Free text.
    pub statement: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A police referral or regulator escalation record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseEscalation {
    /// Id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Case.
    pub case_id: CaseId,
    /// Kind.
    pub kind: CaseEscalationKind,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When the regulator module picked it up.
    pub picked_up_at: Option<DateTime<Utc>>,
}

/// Which cases to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFilter {
    /// Only this state.
    pub state: Option<CaseState>,
    /// Ids above this (paging).
    pub after_id: CaseId,
    /// Page size.
    pub limit: u32,
}

/// One row of a case's event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseEventRow {
    /// Id.
    pub id: i64,
    /// Case.
    pub case_id: CaseId,
    /// State before (None for the opening row).
    pub from_state: Option<CaseState>,
    /// State after.
    pub to_state: CaseState,
    /// Event name (`opened`, a [`CaseEvent`], `hoster_changed`, `contacts_set`…).
    pub event: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// One attribution history row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributionRow {
    /// Id.
    pub id: i64,
    /// Case.
    pub case_id: CaseId,
    /// URL attributed.
    pub url: String,
    /// Host.
    pub host: String,
    /// Contacts found (the site-owner and CDN addresses are not kept in the history).
    pub contacts: CaseContacts,
    /// What was missing.
    pub needs_contact: Vec<String>,
    /// Full record.
    pub raw: serde_json::Value,
    /// When.
    pub made_at: DateTime<Utc>,
}

/// Everything about one case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseTimeline {
    /// The case.
    pub case: Case,
    /// Its transitions.
    pub events: Vec<CaseEventRow>,
    /// Attribution history.
    pub attributions: Vec<AttributionRow>,
    /// Notices covering it.
    pub notices: Vec<Notice>,
    /// Observations (oldest first; the most recent 500).
    pub observations: Vec<Observation>,
    /// Provider responses.
    pub responses: Vec<CaseResponse>,
}

/// An item in `notice_pending` without a case: `(tenant, report, item, item url, page url)`.
pub type CaselessItem = (TenantId, ReportId, ItemId, String, String);

/// Takedown storage. Object-safe.
#[async_trait]
pub trait TakedownStore: Send + Sync {
    /// A tenant's policy (the default if never set).
    async fn takedown_policy(&self, tenant: TenantId) -> StoreResult<TakedownPolicy>;
    /// Sets a tenant's policy (validated).
    async fn set_takedown_policy(
        &self,
        actor: &Actor,
        tenant: TenantId,
        p: &TakedownPolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Items in `notice_pending` without a case (oldest first): the opener turns them into cases.
    async fn items_without_case(&self, limit: u32) -> StoreResult<Vec<CaselessItem>>;
    /// Opens a case (in `attributing`, or `police_hold` when police first). Idempotent on the
    /// item: returns the existing case if there is one.
    async fn open_case(&self, actor: &Actor, c: NewCase, now: DateTime<Utc>) -> StoreResult<Case>;
    /// One case.
    async fn case(&self, id: CaseId) -> StoreResult<Option<Case>>;
    /// A tenant's cases by id.
    async fn cases(&self, tenant: TenantId, f: CaseFilter) -> StoreResult<Vec<Case>>;
    /// Number of cases per state (states without cases are left out).
    async fn case_counts(&self, tenant: TenantId) -> StoreResult<Vec<(CaseState, u64)>>;
    /// Everything about a case.
    async fn case_timeline(&self, id: CaseId) -> StoreResult<Option<CaseTimeline>>;
    /// Stores the history row, updates the current contacts, applies
    /// Attributed/ContactMissing/MovedAbroad and detects a hoster change against the current
    /// contacts (resets `ladder_since`, sets `hoster_changed_at`). A closed or forwarded case is
    /// left alone (`Unchanged`, nothing stored).
    async fn record_attribution(
        &self,
        actor: &Actor,
        case: CaseId,
        a: NewAttribution,
    ) -> StoreResult<(Case, AttributionOutcome)>;
    /// A human sets the contacts (stored as a manual attribution); a `needs_contact` case
    /// goes to monitoring (ContactResolved). Needs a hoster or CDN address.
    async fn set_contacts(
        &self,
        actor: &Actor,
        case: CaseId,
        contacts: CaseContacts,
        now: DateTime<Utc>,
    ) -> StoreResult<Case>;
    /// Marks the case police first (PoliceHold); its queued notices become held.
    async fn set_police_first(
        &self,
        actor: &Actor,
        case: CaseId,
        now: DateTime<Utc>,
    ) -> StoreResult<Case>;
    /// Releases the police hold (back to attributing) and its held notices.
    async fn release_police_hold(
        &self,
        actor: &Actor,
        case: CaseId,
        now: DateTime<Utc>,
    ) -> StoreResult<Case>;
    /// Closes the case; queued notices left without an active case are cancelled.
    async fn close_case(
        &self,
        actor: &Actor,
        case: CaseId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Case>;
    /// Monitoring, removed and needs-contact cases with `next_check_at <= now`, most overdue
    /// first. Each one returned is not returned again for [`CHECK_LEASE_MINUTES`] (its
    /// `next_check_at` moves), so concurrent ticks do not fetch a URL twice.
    async fn due_checks(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<CaseForCheck>>;
    /// Stores the observation, recomputes the verdict over the recent observations, applies
    /// OfflineVerified / Reappeared and sets `next_check_at`.
    async fn record_observation(
        &self,
        case: CaseId,
        o: NewObservation,
        policy: &TakedownPolicy,
    ) -> StoreResult<ObservationResult>;
    /// A tenant's monitoring and police-hold cases with their ladder input (first page).
    async fn ladder_cases(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<LadderCase>>;
    /// Like [`TakedownStore::ladder_cases`], ids above `after_id` (paging).
    async fn ladder_cases_after(
        &self,
        tenant: TenantId,
        after_id: CaseId,
        limit: u32,
    ) -> StoreResult<Vec<LadderCase>>;
    /// Queues a notice and its items in one transaction; `Ok(None)` and nothing written if any
    /// `(case, rung, sequence)` is already taken, or any case was removed, forwarded or closed
    /// meanwhile. The reference is `<report prefix>-N-<id>`.
    async fn enqueue_notice(
        &self,
        actor: &Actor,
        n: NewNotice,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Notice>>;
    /// Queued notices with `due_at <= now` → `sending` (lease, worker); committed before SMTP.
    async fn claim_notices(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Notice>>;
    /// `sending` (or `delivery_unknown`, if the lease ran out first) → `sent` | `rejected`,
    /// only if `worker` claimed it; `Err(Conflict)` otherwise.
    async fn record_delivery(
        &self,
        notice: NoticeId,
        worker: &str,
        d: Delivery,
    ) -> StoreResult<Notice>;
    /// A temporary SMTP failure (4xx reply, connection trouble) on a notice `worker` is
    /// sending: back to `queued`, due again at `retry_at`, one more deferral counted, the reply
    /// kept; audited as `notice.deferred`. Same claim check as [`Self::record_delivery`].
    async fn defer_delivery(
        &self,
        notice: NoticeId,
        worker: &str,
        d: Delivery,
        retry_at: DateTime<Utc>,
    ) -> StoreResult<Notice>;
    /// `sending` past its lease → `delivery_unknown`; returns them.
    async fn recover_stuck_notices(&self, now: DateTime<Utc>) -> StoreResult<Vec<Notice>>;
    /// A human's decision on a `delivery_unknown` notice: confirm it was sent, or re-queue it
    /// (same reference, so the same Message-ID).
    async fn resolve_unknown_notice(
        &self,
        actor: &Actor,
        notice: NoticeId,
        requeue: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Notice>;
    /// Held notices covering the case → queued (refused while the case is in police hold).
    async fn release_held_notices(
        &self,
        actor: &Actor,
        case: CaseId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// One notice.
    async fn notice(&self, id: NoticeId) -> StoreResult<Option<Notice>>;
    /// A notice by reference.
    async fn notice_by_reference(&self, reference: &str) -> StoreResult<Option<Notice>>;
    /// A tenant's notices, newest first.
    async fn notices(
        &self,
        tenant: TenantId,
        state: Option<NoticeState>,
        limit: u32,
    ) -> StoreResult<Vec<Notice>>;
    /// Sent notices whose recipient organisation is `org_name` (trimmed, case-insensitive, as
    /// the monitor merges names), newest first: what the provider portal lists.
    async fn org_notices(
        &self,
        tenant: TenantId,
        org_name: &str,
        limit: u32,
    ) -> StoreResult<Vec<Notice>>;
    /// The responses recorded on a notice (one row per case), oldest first.
    async fn notice_responses(&self, notice: NoticeId) -> StoreResult<Vec<CaseResponse>>;
    /// Records a provider response on one case of the notice, or on all its cases (`None`).
    async fn record_response(
        &self,
        actor: &Actor,
        notice: NoticeId,
        case: Option<CaseId>,
        kind: ResponseKind,
        statement: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<CaseResponse>>;
    /// Writes the escalation record; `false` if the case already has one of that kind.
    async fn escalate_case(
        &self,
        actor: &Actor,
        case: CaseId,
        kind: CaseEscalationKind,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// A tenant's escalation records, oldest first.
    async fn case_escalations(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<CaseEscalation>>;
}
