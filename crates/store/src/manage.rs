//! Read models and the few settings the tenant administration pages need ([ui] part 4):
//! entry counts per list, entries by source, the hit deadline and grace period, job queue
//! depth, failed jobs, the latest check-online results and the notice outbox per state.
//!
//! A separate trait ([`ManageStore`], a supertrait of [`crate::Store`]). Reads are plain
//! aggregates; the one change ([`ManageStore::set_hit_deadline`]) is audited like every other
//! tenant setting (`tenant.hit_deadline` on `tenant:<id>`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schoon_core::takedown::{CaseState, NoticeState};
use schoon_core::{EntryId, ListId, TenantId};
use serde::Serialize;

use crate::jobs::Job;
use crate::{Actor, StoreResult};

/// Entry counts of one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ListCounts {
    /// List.
    pub list_id: ListId,
    /// Active entries.
    pub active: i64,
    /// Revoked entries.
    pub revoked: i64,
}

/// Jobs of one kind in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobCount {
    /// Handler name.
    pub kind: String,
    /// `pending`, `running`, `done` or `dead`.
    pub status: String,
    /// How many.
    pub count: i64,
    /// Of the pending ones: how many are due now (queue depth proper).
    pub due: i64,
}

/// The latest check-online results of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CheckSummary {
    /// Time of the latest observation (`None`: never checked).
    pub last_at: Option<DateTime<Utc>>,
    /// Observations `online` in the window before it.
    pub online: i64,
    /// Observations `gone`.
    pub gone: i64,
    /// Observations `error`.
    pub error: i64,
}

/// A hoster contact in use by a tenant's open cases (what attribution found or a person set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HosterContact {
    /// Hosting organisation (`None`: unknown).
    pub hoster_org: Option<String>,
    /// Abuse address used for it (`None`: none known).
    pub hoster_email: Option<String>,
    /// Country.
    pub hoster_country: Option<String>,
    /// Open cases with these contacts.
    pub cases: i64,
}

/// Case states in which contacts still matter (notices may still go out).
pub const OPEN_CASE_STATES: &[CaseState] = &[
    CaseState::Attributing,
    CaseState::NeedsContact,
    CaseState::PoliceHold,
    CaseState::Monitoring,
    CaseState::Removed,
];

/// Administration read models. Object-safe.
#[async_trait]
pub trait ManageStore: Send + Sync {
    /// Active and revoked entry counts of every list of the tenant.
    async fn list_counts(&self, tenant: TenantId) -> StoreResult<Vec<ListCounts>>;
    /// Ids of a list's active entries with exactly this source.
    async fn active_entry_ids_by_source(
        &self,
        list_id: ListId,
        source: &str,
    ) -> StoreResult<Vec<EntryId>>;
    /// Sets the hours a provider has to act on a hit (audited `tenant.hit_deadline`).
    async fn set_hit_deadline(
        &self,
        actor: &Actor,
        tenant: TenantId,
        hours: i64,
    ) -> StoreResult<()>;
    /// The tenant's grace period after a hit deadline, in hours.
    async fn hit_grace_hours(&self, tenant: TenantId) -> StoreResult<i64>;
    /// Jobs per kind and status (the queue is shared by all tenants).
    async fn job_counts(&self, now: DateTime<Utc>) -> StoreResult<Vec<JobCount>>;
    /// Dead jobs and pending ones that failed before, most recently changed first.
    async fn failed_jobs(&self, limit: u32) -> StoreResult<Vec<Job>>;
    /// The latest observation of the tenant's cases and the outcome counts of the observations
    /// in the `window` before it (one check round).
    async fn check_summary(
        &self,
        tenant: TenantId,
        window: chrono::Duration,
    ) -> StoreResult<CheckSummary>;
    /// Notices of the tenant per outbox state.
    async fn notice_counts(&self, tenant: TenantId) -> StoreResult<Vec<(NoticeState, i64)>>;
    /// Hoster contacts of the tenant's open cases, most cases first.
    async fn hoster_contacts(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<HosterContact>>;
    /// Open cases of the tenant whose hoster organisation is `org` (`None`: unknown hoster).
    async fn open_cases_of_hoster(
        &self,
        tenant: TenantId,
        org: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<schoon_core::takedown::CaseId>>;
}
