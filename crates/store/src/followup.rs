//! Hit follow-up storage: acknowledgements, verification bookkeeping, deadline sweeps,
//! escalations, revocation notices, re-occurrence flags and follow-up timelines.
//!
//! A separate trait ([`FollowupStore`], a supertrait of [`crate::Store`]) keeps this apart from
//! the hash-check methods. Every transition goes through [`schoon_core::hit::transition`] inside
//! the write transaction and is applied with a conditional update (`WHERE state = <from>`), so a
//! repeated or concurrent event cannot apply twice; each writes a `hit_events` row and an audit
//! event (`hit.<event>` on `hit:<id>`). Times come from the caller's clock.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use schoon_core::hit::{AckAction, HitEvent, HitStatus, HitTimeline, Transition};
use schoon_core::{EntryId, Hit, HitId, HitState, OrgId, SignalType, TenantId};
use serde::Serialize;

use crate::jobs::Job;
use crate::{Actor, StoreResult};

/// A hit with its follow-up record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowupHit {
    /// The hit as recorded (state included).
    #[serde(flatten)]
    pub hit: Hit,
    /// The last acknowledged action.
    pub action: Option<AckAction>,
    /// The provider's note with it.
    pub note: Option<String>,
    /// First acknowledgement.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Verified removal.
    pub verified_at: Option<DateTime<Utc>>,
    /// Last failed verification.
    pub verification_failed_at: Option<DateTime<Utc>>,
    /// When it went overdue.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Whether the content re-occurred after a removal was acknowledged.
    pub reoccurred: bool,
    /// Current verification round.
    pub verify_round: i64,
    /// Consecutive unreachable observations in the round.
    pub verify_misses: i64,
    /// PDQ radius of the hit's list (for verification).
    pub pdq_radius: u32,
    /// The matched entry's value (for verification).
    pub entry_value: String,
    /// The matched entry's signal type.
    pub entry_signal_type: SignalType,
}

impl FollowupHit {
    /// State and action, as the life cycle sees them.
    pub fn status(&self) -> HitStatus {
        HitStatus {
            state: self.hit.state,
            action: self.action,
        }
    }
}

/// What a deadline sweep changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SweepSummary {
    /// Hits that went overdue.
    pub overdue: Vec<HitId>,
    /// Hits escalated (an escalation record was written for each).
    pub escalated: Vec<HitId>,
}

/// An escalation record (for the regulator module).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Escalation {
    /// Id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Organisation that did not act.
    pub org_id: OrgId,
    /// The hit.
    pub hit_id: HitId,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When a regulator officer took it up (`None`: still waiting).
    pub picked_up_at: Option<DateTime<Utc>>,
    /// Who took it up.
    pub picked_up_by: Option<String>,
    /// The removal order opened from it, if any.
    pub order_id: Option<i64>,
}

/// One entry of an organisation's revocation feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevocationNotice {
    /// Feed id.
    pub id: i64,
    /// The revoked entry.
    pub entry_id: EntryId,
    /// Its signal type.
    pub signal_type: SignalType,
    /// Its value (the organisation matched it, so it already knows it).
    pub value: String,
    /// When it was revoked.
    pub revoked_at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// The organisation's hits on that entry.
    pub hit_ids: Vec<HitId>,
}

/// A hit's timeline for metrics, with its organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgTimeline {
    /// Organisation.
    pub org_id: OrgId,
    /// Timeline.
    pub timeline: HitTimeline,
}

/// Follow-up storage. Object-safe.
#[async_trait]
pub trait FollowupStore: Send + Sync {
    /// One hit with its follow-up record.
    async fn followup_hit(&self, id: HitId) -> StoreResult<Option<FollowupHit>>;
    /// An organisation's hits, optionally in one state, newest first, before `before_id`.
    async fn followup_hits(
        &self,
        org_id: OrgId,
        state: Option<HitState>,
        before_id: Option<HitId>,
        limit: u32,
    ) -> StoreResult<Vec<FollowupHit>>;
    /// Applies a life-cycle event at `at`. `Err(Invalid)` when the life cycle refuses it;
    /// `Err(Conflict)` when the hit changed underneath (retry reads the new state).
    async fn apply_hit_event(
        &self,
        actor: &Actor,
        id: HitId,
        event: HitEvent,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<(FollowupHit, Transition)>;
    /// Records `misses` consecutive unreachable observations in `round` (idempotent: never
    /// lowers the count, ignores other rounds). Returns whether it applied.
    async fn record_verify_miss(&self, id: HitId, round: i64, misses: i64) -> StoreResult<bool>;
    /// Removal claims (acknowledged `removed`/`blocked` with a URL) not yet decided: the
    /// sweep makes sure each has its verification job (enqueueing is idempotent).
    async fn undecided_claims(&self, limit: u32) -> StoreResult<Vec<FollowupHit>>;
    /// Starts a new verification round (deadline check of an unanswered hit); returns it.
    async fn start_verify_round(&self, id: HitId) -> StoreResult<i64>;
    /// Moves open hits past their deadline to `overdue` and overdue hits past the grace
    /// period to `escalated` (with an escalation record). Idempotent.
    async fn sweep_deadlines(&self, at: DateTime<Utc>) -> StoreResult<SweepSummary>;
    /// Escalation records after `after_id`.
    async fn escalations(&self, after_id: i64, limit: u32) -> StoreResult<Vec<Escalation>>;
    /// An organisation's revocation feed since `since`.
    async fn revocation_notices(
        &self,
        org_id: OrgId,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<RevocationNotice>>;
    /// Timelines of the hits recorded in `[since, until)`, optionally of one organisation.
    async fn followup_timelines(
        &self,
        tenant_id: TenantId,
        org_id: Option<OrgId>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<OrgTimeline>>;
    /// Sets a tenant's grace period (hours after the deadline before escalation).
    async fn set_grace_hours(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        hours: i64,
    ) -> StoreResult<()>;
    /// Like [`crate::Store::claim_jobs`] but with the caller's notion of "now", so a test
    /// clock decides which jobs are due.
    async fn claim_jobs_at(
        &self,
        worker: &str,
        kinds: &[&str],
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Job>>;
}
