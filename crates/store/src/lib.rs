//! Storage for schoon: the [`Store`] trait and its SQLite ([`SqliteStore`]) and PostgreSQL
//! ([`PgStore`]) implementations; [`open_database`] picks one from a path or URL.
//!
//! Handlers only see `Arc<dyn Store>`. Both backends compile the same SQL (`src/sql/`). Every
//! state-changing method writes its audit event (hash-chained, see [`schoon_core::audit`]) in
//! the same transaction as the change; a change without its audit record cannot commit.
//!
//! Timestamps are stored as fixed-width RFC 3339 UTC text with microseconds ([`ts`]), which
//! sorts correctly as text and is the same in both backends.

#![allow(clippy::duplicate_mod)] // src/sql/*.rs is compiled once per backend, on purpose

pub mod accounts;
pub mod casework;
pub mod followup;
mod jobs;
pub mod manage;
pub mod monitor;
pub mod orders;
mod postgres;
pub mod reports;
mod sqlite;
pub mod takedown;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schoon_core::audit::AuditEvent;
use schoon_core::{
    ActiveEntry, ApiKey, Entry, EntryId, HashList, Hit, KeyRole, ListId, ListKind, NewEntry,
    NewHit, OrgId, Organisation, SignalValue, Tenant, TenantId,
};

pub use accounts::AccountStore;
pub use casework::CaseworkStore;
pub use followup::FollowupStore;
pub use jobs::{Job, JobId, JobStatus, NewJob};
pub use manage::ManageStore;
pub use monitor::MonitorStore;
pub use orders::OrderStore;
pub use postgres::PgStore;
pub use reports::ReportStore;
pub use sqlite::SqliteStore;
pub use takedown::TakedownStore;

/// The SQL dialects the shared code in `src/sql/` is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // until the PostgreSQL module is enabled
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

pub(crate) fn parse_enum<T: std::str::FromStr>(s: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn opt_ts(s: Option<String>) -> StoreResult<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

/// `$start, $start+1, …` bind placeholders (both backends accept `$n`).
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The referenced record does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The change conflicts with existing data (duplicate name…).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is not valid for the current data.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Stored data could not be read back (corruption or a newer schema).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Result alias.
pub type StoreResult<T> = Result<T, StoreError>;

/// Who made a change, for the audit log (`admin:<key id>`, `cli:<user>`, `key:<id>`, `system`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    /// The system itself (first start, workers).
    pub fn system() -> Actor {
        Actor("system".into())
    }
}

/// A tenant to create.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// Unique short name.
    pub name: String,
    /// Country code.
    pub country: Option<String>,
    /// Hours to act on a hit.
    pub hit_deadline_hours: i64,
}

/// An API key to store (the secret is already hashed).
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Public id.
    pub id: String,
    /// Tenant (None for instance admin tokens).
    pub tenant_id: Option<TenantId>,
    /// Organisation (required for check keys).
    pub org_id: Option<OrgId>,
    /// Role.
    pub role: KeyRole,
    /// Label.
    pub label: String,
    /// SHA-256 hex of the secret.
    pub secret_hash: String,
}

/// A list to create.
#[derive(Debug, Clone)]
pub struct NewList {
    /// Tenant.
    pub tenant_id: TenantId,
    /// Name.
    pub name: String,
    /// Known or allow.
    pub kind: ListKind,
    /// PDQ radius.
    pub pdq_radius: u32,
    /// Minimum PDQ quality.
    pub min_quality: u32,
}

/// Changes to a list's settings.
#[derive(Debug, Clone, Default)]
pub struct ListUpdate {
    /// New PDQ radius.
    pub pdq_radius: Option<u32>,
    /// New minimum quality.
    pub min_quality: Option<u32>,
}

/// Outcome of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    /// Entries added.
    pub added: u64,
    /// Entries already active on the list (or repeated in the file), skipped.
    pub duplicates: u64,
}

/// Which entries to revoke.
#[derive(Debug, Clone)]
pub enum RevokeSelector {
    /// By entry id.
    Ids(Vec<EntryId>),
    /// By signal value.
    Values(Vec<SignalValue>),
}

/// A tenant's active entries as of one list version.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The tenant's `list_version` the entries belong to.
    pub version: i64,
    /// The tenant's lists.
    pub lists: Vec<HashList>,
    /// All active entries of those lists.
    pub entries: Vec<ActiveEntry>,
}

/// The storage interface. Object-safe (`Arc<dyn Store>`).
#[async_trait]
pub trait Store:
    ReportStore
    + FollowupStore
    + TakedownStore
    + AccountStore
    + OrderStore
    + MonitorStore
    + ManageStore
    + CaseworkStore
    + Send
    + Sync
    + 'static
{
    /// Checks the database answers.
    async fn ping(&self) -> StoreResult<()>;

    // --- tenants ---
    /// Creates a tenant.
    async fn create_tenant(&self, actor: &Actor, t: NewTenant) -> StoreResult<Tenant>;
    /// All tenants.
    async fn tenants(&self) -> StoreResult<Vec<Tenant>>;
    /// One tenant.
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    /// `(tenant, list_version)` for every tenant: what a matcher polls to stay current.
    async fn list_versions(&self) -> StoreResult<Vec<(TenantId, i64)>>;

    // --- organisations ---
    /// Creates an organisation in a tenant.
    async fn create_org(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        name: &str,
    ) -> StoreResult<Organisation>;
    /// A tenant's organisations.
    async fn orgs(&self, tenant_id: TenantId) -> StoreResult<Vec<Organisation>>;
    /// One organisation.
    async fn org(&self, id: OrgId) -> StoreResult<Option<Organisation>>;

    // --- API keys ---
    /// Stores a new key.
    async fn create_api_key(&self, actor: &Actor, k: NewApiKey) -> StoreResult<ApiKey>;
    /// A key and its stored secret hash, for authentication.
    async fn api_key_with_hash(&self, id: &str) -> StoreResult<Option<(ApiKey, String)>>;
    /// Keys of a tenant (`None`: instance admin tokens).
    async fn api_keys(&self, tenant_id: Option<TenantId>) -> StoreResult<Vec<ApiKey>>;
    /// Revokes a key.
    async fn revoke_api_key(&self, actor: &Actor, id: &str, reason: &str) -> StoreResult<ApiKey>;

    // --- lists ---
    /// Creates a list.
    async fn create_list(&self, actor: &Actor, l: NewList) -> StoreResult<HashList>;
    /// A tenant's lists.
    async fn lists(&self, tenant_id: TenantId) -> StoreResult<Vec<HashList>>;
    /// One list.
    async fn list(&self, id: ListId) -> StoreResult<Option<HashList>>;
    /// Changes a list's settings.
    async fn update_list(&self, actor: &Actor, id: ListId, u: ListUpdate) -> StoreResult<HashList>;
    /// Adds entries in one transaction (all or nothing); `details` goes into the audit event.
    async fn import_entries(
        &self,
        actor: &Actor,
        list_id: ListId,
        entries: Vec<NewEntry>,
        details: serde_json::Value,
    ) -> StoreResult<ImportSummary>;
    /// Revokes active entries with a reason; returns the ids revoked.
    async fn revoke_entries(
        &self,
        actor: &Actor,
        list_id: ListId,
        which: RevokeSelector,
        reason: &str,
    ) -> StoreResult<Vec<EntryId>>;
    /// A page of a list's entries (ordered by id, after `after_id`).
    async fn entries(
        &self,
        list_id: ListId,
        include_revoked: bool,
        after_id: EntryId,
        limit: u32,
    ) -> StoreResult<Vec<Entry>>;
    /// A consistent snapshot of a tenant's lists and active entries (one read transaction).
    async fn snapshot(&self, tenant_id: TenantId) -> StoreResult<Snapshot>;

    // --- hits ---
    /// Records hits (one transaction, one audit event per hit).
    async fn record_hits(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        hits: Vec<NewHit>,
    ) -> StoreResult<Vec<Hit>>;
    /// Recent hits of a tenant, optionally of one organisation, newest first.
    async fn hits(
        &self,
        tenant_id: TenantId,
        org_id: Option<OrgId>,
        limit: u32,
    ) -> StoreResult<Vec<Hit>>;

    // --- audit ---
    /// A page of the audit log (ordered by id, after `after_id`).
    async fn audit_events(&self, after_id: i64, limit: u32) -> StoreResult<Vec<AuditEvent>>;
    /// Re-computes the whole chain; `Err(Corrupt)` names the first broken event.
    async fn verify_audit_chain(&self) -> StoreResult<u64>;

    // --- jobs ---
    /// Enqueues a job; with an idempotency key already present, returns the existing job's id
    /// and enqueues nothing.
    async fn enqueue_job(&self, job: NewJob) -> StoreResult<JobId>;
    /// Claims up to `limit` due jobs of the given kinds for `lease`, as `worker`.
    async fn claim_jobs(
        &self,
        worker: &str,
        kinds: &[&str],
        limit: u32,
        lease: chrono::Duration,
    ) -> StoreResult<Vec<Job>>;
    /// Marks a claimed job done (only if `worker` still holds it).
    async fn complete_job(&self, id: JobId, worker: &str) -> StoreResult<bool>;
    /// Records a failure; retries at `retry_at` unless attempts are exhausted (then `dead`).
    async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> StoreResult<JobStatus>;
    /// One job.
    async fn job(&self, id: JobId) -> StoreResult<Option<Job>>;
}

/// Whether `spec` names a PostgreSQL database (`postgres://…` or `postgresql://…`) rather than a
/// SQLite file.
pub fn is_postgres_url(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// Opens the store `spec` names and runs its migrations: a `postgres://` or `postgresql://` URL
/// opens [`PgStore`], anything else is the path of a SQLite file ([`SqliteStore`], created if
/// missing).
pub async fn open_database(spec: &str) -> StoreResult<std::sync::Arc<dyn Store>> {
    if is_postgres_url(spec) {
        Ok(std::sync::Arc::new(PgStore::open(spec).await?))
    } else {
        Ok(std::sync::Arc::new(
            SqliteStore::open(std::path::Path::new(spec)).await?,
        ))
    }
}

/// Formats a timestamp the way every backend stores it.
pub fn ts(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses a stored timestamp.
pub fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_and_round_trip() {
        let a = schoon_core::audit::now();
        let s = ts(&a);
        assert_eq!(s.len(), 27, "{s}");
        assert_eq!(parse_ts(&s).unwrap(), a);
        let early = parse_ts("2026-01-01T00:00:00.000000Z").unwrap();
        assert!(ts(&early) < ts(&(early + chrono::Duration::microseconds(1))));
    }
}
