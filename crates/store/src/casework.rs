//! What the analysts' casework screens ([ui]) need beyond the takedown store: free-text notes
//! on a report, the changed-hoster queue, a report's cases, and failed web logins per client
//! address (the per-IP login limit).
//!
//! A separate trait ([`CaseworkStore`], a supertrait of [`crate::Store`]). Notes are
//! append-only; each one writes `report.note` on `report:<id>` in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schoon_core::TenantId;
use schoon_core::report::ReportId;
use schoon_core::takedown::CaseId;
use serde::Serialize;

use crate::takedown::Case;
use crate::{Actor, StoreResult};

/// Longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;

/// An analyst's note on a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportNote {
    /// Id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Report.
    pub report_id: ReportId,
    /// Who wrote it (audit actor, `user:<id>`).
    pub author: String,
    /// Text.
    pub body: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// The latest re-check of a case, for the monitoring queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastObservation {
    /// When.
    pub at: DateTime<Utc>,
    /// `online`, `gone` or `error`.
    pub outcome: String,
    /// HTTP status, if there was an answer.
    pub http_status: Option<i64>,
}

/// Casework storage. Object-safe.
#[async_trait]
pub trait CaseworkStore: Send + Sync {
    /// Adds a note to a report (`Invalid` when empty or longer than [`MAX_NOTE_CHARS`]);
    /// audited `report.note` on `report:<id>` with the text.
    async fn add_report_note(
        &self,
        actor: &Actor,
        report: ReportId,
        body: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ReportNote>;
    /// A report's notes, oldest first.
    async fn report_notes(&self, report: ReportId) -> StoreResult<Vec<ReportNote>>;
    /// The takedown cases of a report's items, by id.
    async fn report_cases(&self, report: ReportId) -> StoreResult<Vec<Case>>;
    /// Open cases (not closed or forwarded) whose hoster changed since the first attribution,
    /// most recent change first: `(count, first `limit`)`.
    async fn changed_hoster_cases(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<(u64, Vec<Case>)>;
    /// The latest observation of a case, if it was ever re-checked.
    async fn last_observation(&self, case: CaseId) -> StoreResult<Option<LastObservation>>;
    /// Records a failed web login from `ip` and returns the failures from it since `since`
    /// (older rows of that address are dropped). When the count reaches `block_at` exactly,
    /// writes `login.ip_blocked` on `ip:<addr>` in the same transaction.
    async fn record_ip_login_failure(
        &self,
        ip: &str,
        at: DateTime<Utc>,
        since: DateTime<Utc>,
        block_at: i64,
    ) -> StoreResult<i64>;
    /// Failed web logins from `ip` since `since`.
    async fn ip_login_failures(&self, ip: &str, since: DateTime<Utc>) -> StoreResult<i64>;
}
