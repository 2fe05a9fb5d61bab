//! Regulator storage: binding removal orders, their items, life-cycle events, penalty records
//! and the providers' right-of-reply notes ([monitor] parts 3 and 4).
//!
//! A separate trait ([`OrderStore`], a supertrait of [`crate::Store`]). Every life-cycle change
//! goes through [`schoon_core::order::transition`] inside the write transaction and is applied
//! with a conditional update (`WHERE state = <from> AND appeal = <from>`), so a repeated or
//! concurrent event cannot apply twice; each writes an `order_events` row and an audit event
//! (`order.<event>` on `order:<id>`). Times come from the caller's clock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schoon_core::TenantId;
use schoon_core::order::{
    AppealStatus, OrderDeadline, OrderDocument, OrderEvent, OrderItem, OrderState, OrderStatus,
    PenaltyAccrual, PenaltyTerms, ProviderContact, RegisterEntry, penalty_due,
};
use serde::{Deserialize, Serialize};

use crate::{Actor, StoreError, StoreResult};

/// Order id.
pub type OrderId = i64;

/// One item of a stored order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredItem {
    /// URL to remove or disable.
    pub url: String,
    /// SHA-256 of the material (lowercase hex).
    pub sha256: String,
    /// The takedown case it came from.
    pub case_id: Option<i64>,
}

/// A draft order to create.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Tenant (the regulator's workspace).
    pub tenant_id: TenantId,
    /// Unique reference.
    pub reference: String,
    /// Issuing authority.
    pub authority: String,
    /// Addressee.
    pub provider: ProviderContact,
    /// Legal basis.
    pub legal_basis: String,
    /// Compliance term.
    pub deadline: OrderDeadline,
    /// Items (URL + digest).
    pub items: Vec<StoredItem>,
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    /// Id.
    pub id: OrderId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Reference.
    pub reference: String,
    /// Issuing authority.
    pub authority: String,
    /// Addressee.
    pub provider: ProviderContact,
    /// Legal basis.
    pub legal_basis: String,
    /// Compliance term.
    pub deadline: OrderDeadline,
    /// Life-cycle state.
    pub state: OrderState,
    /// Appeal status.
    pub appeal: AppealStatus,
    /// The signed canonical document (from issue on).
    pub canonical_json: Option<String>,
    /// Its SHA-256.
    pub sha256: Option<String>,
    /// The server's signature over the SHA-256.
    pub signature: Option<String>,
    /// Delivery proof.
    pub delivery_proof: Option<serde_json::Value>,
    /// Created (drafted).
    pub created_at: DateTime<Utc>,
    /// Issued.
    pub issued_at: Option<DateTime<Utc>>,
    /// Delivery proven.
    pub delivered_at: Option<DateTime<Utc>>,
    /// First acknowledgement.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Compliance recorded.
    pub complied_at: Option<DateTime<Utc>>,
    /// Went overdue.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Compliance due (delivery + term).
    pub due_at: Option<DateTime<Utc>>,
    /// Sanction terms.
    pub penalty_terms: Option<PenaltyTerms>,
    /// In the public register.
    pub published: bool,
    /// When it was (last) published.
    pub published_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Items.
    pub items: Vec<StoredItem>,
}

impl Order {
    /// Life-cycle state plus appeal.
    pub fn status(&self) -> OrderStatus {
        OrderStatus {
            state: self.state,
            appeal: self.appeal,
        }
    }

    /// The order document as it is (or would be, when issued at `issued_at`) signed.
    pub fn document(&self, issued_at: DateTime<Utc>) -> OrderDocument {
        OrderDocument {
            reference: self.reference.clone(),
            authority: self.authority.clone(),
            legal_basis: self.legal_basis.clone(),
            provider: self.provider.clone(),
            items: self
                .items
                .iter()
                .map(|i| OrderItem {
                    url: i.url.clone(),
                    sha256: i.sha256.clone(),
                })
                .collect(),
            deadline: self.deadline,
            issued_at: self.issued_at.unwrap_or(issued_at),
        }
    }

    /// The penalty due at `now` (None without terms, before delivery, or on bad terms).
    pub fn accrual(&self, now: DateTime<Utc>) -> Option<(PenaltyTerms, PenaltyAccrual)> {
        let terms = self.penalty_terms?;
        let due = self.due_at?;
        penalty_due(&terms, due, self.complied_at, now)
            .ok()
            .map(|a| (terms, a))
    }

    /// The public register entry at `now` (None for an order never issued).
    pub fn register_entry(&self, now: DateTime<Utc>) -> Option<RegisterEntry> {
        let issued_at = self.issued_at?;
        let accrual = self.accrual(now);
        Some(RegisterEntry::from_order(
            &self.document(issued_at),
            self.status(),
            self.due_at,
            self.complied_at,
            accrual.as_ref().map(|(t, a)| (t, *a)),
        ))
    }
}

/// What issuing records: the signed document.
#[derive(Debug, Clone)]
pub struct IssueRecord {
    /// The canonical document (its `issued_at` is the issue time).
    pub canonical_json: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Signature over the SHA-256.
    pub signature: String,
    /// Issue time (must be the one inside the document).
    pub issued_at: DateTime<Utc>,
}

/// One life-cycle event as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderEventRecord {
    /// Id.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// Event name (`OrderEvent::name`).
    pub event: String,
    /// Before.
    pub from_state: OrderState,
    /// After.
    pub to_state: OrderState,
    /// Appeal before.
    pub from_appeal: AppealStatus,
    /// Appeal after.
    pub to_appeal: AppealStatus,
    /// Note.
    pub note: Option<String>,
}

/// Kind of penalty record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyKind {
    /// A snapshot of the periodic penalty computed with `penalty_due`.
    Accrual,
    /// A fine entered by the officer.
    Fine,
}

impl PenaltyKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PenaltyKind::Accrual => "accrual",
            PenaltyKind::Fine => "fine",
        }
    }
}

/// A penalty record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Penalty {
    /// Id.
    pub id: i64,
    /// Order.
    pub order_id: OrderId,
    /// Kind.
    pub kind: PenaltyKind,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// Units (started hours/days; 1 for a fine).
    pub units: u64,
    /// Amount in euro cents.
    pub amount_cents: u64,
    /// Cap reached.
    pub capped: bool,
    /// Still growing.
    pub running: bool,
    /// Note.
    pub note: Option<String>,
}

/// A provider's right-of-reply note.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderReply {
    /// Tenant.
    pub tenant_id: TenantId,
    /// Provider name as on its orders.
    pub provider_name: String,
    /// The reply.
    pub text: String,
    /// Shown in the register.
    pub published: bool,
    /// When published.
    pub published_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Where a regulator escalation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationSource {
    /// A takedown case whose ladder reached the regulator rung (`case_escalations`).
    Case,
    /// A hit still overdue after the grace period (`escalations`, from the follow-up sweep).
    Hit,
}

impl EscalationSource {
    /// `case` or `hit`.
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationSource::Case => "case",
            EscalationSource::Hit => "hit",
        }
    }

    /// The audit subject of an escalation record of this source.
    pub fn subject(self, id: i64) -> String {
        match self {
            EscalationSource::Case => format!("case_escalation:{id}"),
            EscalationSource::Hit => format!("hit_escalation:{id}"),
        }
    }
}

impl std::str::FromStr for EscalationSource {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "case" => Ok(EscalationSource::Case),
            "hit" => Ok(EscalationSource::Hit),
            other => Err(StoreError::Invalid(format!(
                "escalation source must be case or hit, got {other:?}"
            ))),
        }
    }
}

/// An escalation in the regulator officer's queue: an escalated takedown case or an overdue
/// hit. Open until an officer picks it up (explicitly, or by opening an order from it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegulatorEscalation {
    /// Where it came from.
    pub source: EscalationSource,
    /// Record id (per source).
    pub id: i64,
    /// Tenant.
    pub tenant_id: TenantId,
    /// The takedown case (source `case`).
    pub case_id: Option<i64>,
    /// The hit (source `hit`).
    pub hit_id: Option<i64>,
    /// The organisation that did not act (source `hit`).
    pub org_id: Option<i64>,
    /// Why it was escalated.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When an officer took it (set once).
    pub picked_up_at: Option<DateTime<Utc>>,
    /// Who took it.
    pub picked_up_by: Option<String>,
    /// The order opened from it.
    pub order_id: Option<OrderId>,
}

impl RegulatorEscalation {
    /// Whether an officer has taken it.
    pub fn picked_up(&self) -> bool {
        self.picked_up_at.is_some()
    }
}

/// The audit chain's last event: what an evidence package pins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// Event id.
    pub id: i64,
    /// Its chain hash.
    pub hash: String,
}

/// Regulator storage. Object-safe.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Creates a draft order. `Err(Conflict)` for a reference in use, `Err(Invalid)` for an
    /// order the canonical form refuses (no items, bad digest, duplicate, empty fields).
    async fn create_order(
        &self,
        actor: &Actor,
        o: NewOrder,
        at: DateTime<Utc>,
    ) -> StoreResult<Order>;
    /// One order.
    async fn order(&self, id: OrderId) -> StoreResult<Option<Order>>;
    /// One order by reference.
    async fn order_by_reference(&self, reference: &str) -> StoreResult<Option<Order>>;
    /// A tenant's orders, optionally in one state, by id after `after_id`.
    async fn orders(
        &self,
        tenant: TenantId,
        state: Option<OrderState>,
        after_id: OrderId,
        limit: u32,
    ) -> StoreResult<Vec<Order>>;
    /// Issues a draft: records the signed document (event `issue`).
    async fn issue_order(&self, actor: &Actor, id: OrderId, rec: IssueRecord)
    -> StoreResult<Order>;
    /// Records proven delivery at `at` with its proof; the deadline runs from `at`.
    async fn deliver_order(
        &self,
        actor: &Actor,
        id: OrderId,
        proof: serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<Order>;
    /// Applies any other life-cycle event (acknowledge, comply, deadline passed, start
    /// penalty, appeal, withdraw). `Err(Invalid)` when the life cycle refuses it (and for
    /// issue/deliver, which have their own methods); `Err(Conflict)` when the order changed
    /// underneath.
    async fn apply_order_event(
        &self,
        actor: &Actor,
        id: OrderId,
        event: OrderEvent,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Order>;
    /// Applies [`sweep_event`] to every delivered or acknowledged order due at `at`; returns
    /// the orders that went overdue. Idempotent.
    async fn sweep_orders(&self, at: DateTime<Utc>) -> StoreResult<Vec<OrderId>>;
    /// Sets the sanction terms (validated; refused on a terminal order).
    async fn set_penalty_terms(
        &self,
        actor: &Actor,
        id: OrderId,
        terms: PenaltyTerms,
        at: DateTime<Utc>,
    ) -> StoreResult<Order>;
    /// Records a snapshot of the penalty due at `at` under the order's terms.
    async fn record_accrual(
        &self,
        actor: &Actor,
        id: OrderId,
        at: DateTime<Utc>,
    ) -> StoreResult<Penalty>;
    /// Records a fine the officer imposed (euro cents, positive).
    async fn record_fine(
        &self,
        actor: &Actor,
        id: OrderId,
        amount_cents: u64,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Penalty>;
    /// An order's penalty records, oldest first.
    async fn penalties(&self, id: OrderId) -> StoreResult<Vec<Penalty>>;
    /// An order's life-cycle events, oldest first.
    async fn order_events(&self, id: OrderId) -> StoreResult<Vec<OrderEventRecord>>;
    /// Publishes (or withdraws from the register) an issued order.
    async fn publish_order(
        &self,
        actor: &Actor,
        id: OrderId,
        published: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<Order>;
    /// Published orders (all tenants, or one), by id.
    async fn published_orders(&self, tenant: Option<TenantId>) -> StoreResult<Vec<Order>>;
    /// Sets a provider's right-of-reply note and whether it is published.
    async fn set_provider_reply(
        &self,
        actor: &Actor,
        tenant: TenantId,
        provider_name: &str,
        text: &str,
        published: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<ProviderReply>;
    /// Right-of-reply notes (all tenants, or one), optionally only published ones.
    async fn provider_replies(
        &self,
        tenant: Option<TenantId>,
        published_only: bool,
    ) -> StoreResult<Vec<ProviderReply>>;
    /// A tenant's regulator escalations of one source, oldest first; `picked_up` filters open
    /// (`Some(false)`) or taken (`Some(true)`) ones.
    async fn regulator_escalations(
        &self,
        tenant: TenantId,
        source: EscalationSource,
        picked_up: Option<bool>,
        limit: u32,
    ) -> StoreResult<Vec<RegulatorEscalation>>;
    /// One regulator escalation.
    async fn regulator_escalation(
        &self,
        source: EscalationSource,
        id: i64,
    ) -> StoreResult<Option<RegulatorEscalation>>;
    /// The escalations an order was opened from.
    async fn order_escalations(&self, order: OrderId) -> StoreResult<Vec<RegulatorEscalation>>;
    /// Marks an escalation taken by `actor` at `at` (the first pick-up stands) and links it
    /// to `order` if given and none is linked yet; audited (`escalation.pick_up`, or
    /// `escalation.link_order` when only the link is new). Returns the record and whether
    /// anything changed. `Err(NotFound)` for no such record (or a police referral).
    async fn pick_up_escalation(
        &self,
        actor: &Actor,
        source: EscalationSource,
        id: i64,
        order: Option<OrderId>,
        at: DateTime<Utc>,
    ) -> StoreResult<(RegulatorEscalation, bool)>;
    /// The audit chain's current head (None for an empty log).
    async fn audit_head(&self) -> StoreResult<Option<AuditHead>>;
    /// Records that an order's evidence package was exported (audit event
    /// `order.evidence_exported` on `order:<id>` with `details`); returns that event as the
    /// new head.
    async fn record_evidence_export(
        &self,
        actor: &Actor,
        id: OrderId,
        details: serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<AuditHead>;
}
