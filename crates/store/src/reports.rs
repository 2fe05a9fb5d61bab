//! Hotline reports: intake with de-duplication, items, classification, locks, evidence retention.
//!
//! A separate trait ([`ReportStore`], a supertrait of [`crate::Store`]) keeps this work apart
//! from the hash-check methods. Every item state change goes through
//! [`schoon_core::report::transition`] inside the write transaction and writes its audit event
//! (`report:<id>` / `item:<id>` subjects, so a timeline is a query on the audit log).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schoon_core::audit::AuditEvent;
use schoon_core::report::{
    Attributes, Classification, ItemId, ItemState, ReportId, ReportState, SourceKind,
};
use schoon_core::{EntryId, ListId, OrgId, TenantId};
use serde::Serialize;

use crate::{Actor, StoreResult};

/// Job kind that fetches and hashes a report.
pub const JOB_PROCESS: &str = "report.process";
/// Job kind that purges evidence of closed reports past retention.
pub const JOB_PURGE: &str = "report.purge";

/// A report to file.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// Normalised URL (the de-duplication key).
    pub url: String,
    /// As given by the reporter.
    pub original_url: String,
    /// eTLD+1 of the host.
    pub registrable_domain: Option<String>,
    /// Where the reporter saw it.
    pub referer: Option<String>,
    /// Reporter's note.
    pub note: Option<String>,
    /// Who reports.
    pub source_kind: SourceKind,
    /// Partner organisation, if any.
    pub source_org_id: Option<OrgId>,
    /// Optional contact address of a public reporter.
    pub reporter_email: Option<String>,
}

/// Outcome of one submission.
#[derive(Debug, Clone, Serialize)]
pub struct Submitted {
    /// The report (new, or the open one it joined).
    pub report_id: ReportId,
    /// Its reference number.
    pub reference: String,
    /// Whether the URL joined an open report instead of creating one.
    pub joined: bool,
}

/// A tenant's report handling policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReportPolicy {
    /// Prefix of reference numbers (`NL` → `NL-2026-000123`).
    pub reference_prefix: String,
    /// Whether an illegal classification needs a second analyst before notices.
    pub four_eyes: bool,
}

/// A stored report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Id.
    pub id: ReportId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Reference number.
    pub reference: String,
    /// Normalised URL.
    pub url: String,
    /// URL as first reported.
    pub original_url: String,
    /// eTLD+1.
    pub registrable_domain: Option<String>,
    /// Referer of the first submission.
    pub referer: Option<String>,
    /// Note of the first submission.
    pub note: Option<String>,
    /// Source of the first submission.
    pub source_kind: String,
    /// Partner organisation of the first submission.
    pub source_org_id: Option<OrgId>,
    /// Derived state.
    pub state: ReportState,
    /// Vault reference of the reported page itself (HTML), if kept.
    pub page_evidence: Option<String>,
    /// Why the URL could not be fetched.
    pub fetch_error: Option<String>,
    /// Analyst holding the classification lock.
    pub lock_by: Option<String>,
    /// Lock expiry.
    pub lock_until: Option<DateTime<Utc>>,
    /// How many times the URL was submitted.
    pub submissions: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// When the case closed.
    pub closed_at: Option<DateTime<Utc>>,
}

/// A stored item.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// Id.
    pub id: ItemId,
    /// Report.
    pub report_id: ReportId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Media URL.
    pub url: String,
    /// How it was found (`direct`, `img`, `lazy_img`…).
    pub found_as: String,
    /// State.
    pub state: ItemState,
    /// MD5 hex.
    pub md5: Option<String>,
    /// SHA-1 hex.
    pub sha1: Option<String>,
    /// SHA-256 hex.
    pub sha256: Option<String>,
    /// PDQ hex.
    pub pdq: Option<String>,
    /// PDQ quality.
    pub pdq_quality: Option<u32>,
    /// Sniffed type.
    pub content_type: Option<String>,
    /// Bytes.
    pub size: Option<i64>,
    /// Vault reference.
    pub evidence_ref: Option<String>,
    /// When the evidence was purged.
    pub evidence_purged_at: Option<DateTime<Utc>>,
    /// Fetch/hash error.
    pub error: Option<String>,
    /// Verdict.
    pub classification: Option<Classification>,
    /// Attributes of the verdict.
    pub attributes: Option<Attributes>,
    /// `auto` (list match), `inherited` (same digest earlier) or `analyst`.
    pub classified_how: Option<String>,
    /// Actor of the verdict (`auto:list:3:entry:9`, `admin:sk…`, later `user:…`).
    pub classified_by: Option<String>,
    /// When.
    pub classified_at: Option<DateTime<Utc>>,
    /// List of the automatic match.
    pub auto_list_id: Option<ListId>,
    /// Entry of the automatic match.
    pub auto_entry_id: Option<EntryId>,
    /// Item whose verdict was inherited.
    pub inherited_from: Option<ItemId>,
    /// Second analyst.
    pub verified_by: Option<String>,
    /// Evidence views by humans.
    pub human_views: i64,
}

/// What was learnt by fetching and hashing an item.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// MD5 hex.
    pub md5: Option<String>,
    /// SHA-1 hex.
    pub sha1: Option<String>,
    /// SHA-256 hex.
    pub sha256: Option<String>,
    /// PDQ hex.
    pub pdq: Option<String>,
    /// PDQ quality.
    pub pdq_quality: Option<u32>,
    /// Width.
    pub width: Option<u32>,
    /// Height.
    pub height: Option<u32>,
    /// Sniffed type.
    pub content_type: Option<String>,
    /// Size.
    pub size: Option<i64>,
    /// Vault reference.
    pub evidence_ref: Option<String>,
    /// Error.
    pub error: Option<String>,
}

/// The automatic outcome of processing an item.
#[derive(Debug, Clone)]
pub enum AutoOutcome {
    /// Fetch or hash failed.
    Failed,
    /// A known-list entry matched.
    Known {
        /// List.
        list_id: ListId,
        /// Entry.
        entry_id: EntryId,
        /// The entry's category as classification.
        classification: Classification,
    },
    /// An allow-list entry matched.
    Allow {
        /// List.
        list_id: ListId,
        /// Entry.
        entry_id: EntryId,
    },
    /// The same digest was classified before.
    Inherit {
        /// Earlier item.
        from: ItemId,
        /// Its verdict.
        classification: Classification,
    },
    /// A human must classify.
    NeedsAnalyst,
}

/// An analyst's action on an item.
#[derive(Debug, Clone)]
pub enum AnalystAction {
    /// Classify (or re-classify while awaiting verification).
    Classify {
        /// Verdict.
        classification: Classification,
        /// Attributes.
        attributes: Attributes,
    },
    /// Second analyst's answer.
    Verify {
        /// Agree with the first analyst.
        agree: bool,
    },
}

/// Storage for report processing.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Registers (or changes) an organisation as a report partner.
    async fn set_report_partner(
        &self,
        actor: &Actor,
        org_id: OrgId,
        kind: SourceKind,
    ) -> StoreResult<()>;
    /// An organisation's partner kind, if it may report.
    async fn report_partner(&self, org_id: OrgId) -> StoreResult<Option<SourceKind>>;
    /// A tenant's report policy (defaults when never set).
    async fn report_policy(&self, tenant_id: TenantId) -> StoreResult<ReportPolicy>;
    /// Sets a tenant's report policy.
    async fn set_report_policy(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        p: ReportPolicy,
    ) -> StoreResult<()>;
    /// Files reports in one transaction (all or nothing). A URL with an open report created
    /// after `dedupe_since` joins it. New reports get a `report.process` job.
    async fn submit_reports(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        reports: Vec<NewReport>,
        dedupe_since: DateTime<Utc>,
    ) -> StoreResult<Vec<Submitted>>;
    /// One report.
    async fn report(&self, id: ReportId) -> StoreResult<Option<Report>>;
    /// A report by reference.
    async fn report_by_reference(&self, reference: &str) -> StoreResult<Option<Report>>;
    /// A report's items.
    async fn report_items(&self, report_id: ReportId) -> StoreResult<Vec<Item>>;
    /// One item.
    async fn item(&self, id: ItemId) -> StoreResult<Option<Item>>;
    /// Records the page fetch and the media found (idempotent: known URLs are skipped).
    async fn record_page(
        &self,
        actor: &Actor,
        report_id: ReportId,
        page_evidence: Option<String>,
        fetch_error: Option<String>,
        media: Vec<(String, String)>,
    ) -> StoreResult<()>;
    /// Stores an item's fetch result and applies the automatic outcome (only from `new`;
    /// returns false when the item had already been processed: at-least-once delivery).
    async fn complete_item(
        &self,
        actor: &Actor,
        item_id: ItemId,
        fetched: Fetched,
        outcome: AutoOutcome,
    ) -> StoreResult<bool>;
    /// Sends a report back to processing: unavailable items become `new` again and a fresh
    /// `report.process` job is queued (the page itself is fetched again if it had failed).
    async fn refetch_report(&self, actor: &Actor, report_id: ReportId) -> StoreResult<Report>;
    /// Marks a report's processing finished and derives its state.
    async fn finish_report(&self, actor: &Actor, report_id: ReportId) -> StoreResult<Report>;
    /// The earliest finally classified item of the tenant with this SHA-256 (for inheritance).
    async fn classified_by_sha256(
        &self,
        tenant_id: TenantId,
        sha256: &str,
    ) -> StoreResult<Option<Item>>;
    /// Locks the oldest report with items awaiting the caller (classification, or verification
    /// of someone else's verdict) whose lock is free or expired; `None` when there is none.
    async fn lock_next_report(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<Report>>;
    /// Takes or renews the lock on one report; `Conflict` if another analyst holds it.
    async fn lock_report(
        &self,
        actor: &Actor,
        report_id: ReportId,
        until: DateTime<Utc>,
    ) -> StoreResult<Report>;
    /// Releases the caller's lock.
    async fn unlock_report(&self, actor: &Actor, report_id: ReportId) -> StoreResult<()>;
    /// Applies an analyst's action to items of one report (all or nothing). The caller must
    /// hold the report's lock (or it must be free); a verifier must differ from the classifier.
    async fn analyst_action(
        &self,
        actor: &Actor,
        item_ids: &[ItemId],
        action: AnalystAction,
        four_eyes: bool,
    ) -> StoreResult<Vec<Item>>;
    /// Audits one human view of an item's evidence.
    async fn record_evidence_view(&self, actor: &Actor, item_id: ItemId) -> StoreResult<()>;
    /// Evidence of reports closed before `closed_before` not yet purged: `(item id, ref)`.
    /// References still used by any report that is open or closed later are left out.
    async fn purgeable_evidence(
        &self,
        closed_before: DateTime<Utc>,
    ) -> StoreResult<Vec<(ItemId, String)>>;
    /// Marks items' evidence purged (one audit event per report).
    async fn mark_evidence_purged(&self, actor: &Actor, item_ids: &[ItemId]) -> StoreResult<()>;
    /// Audit events about these subjects (`report:1`, `item:4`), in order.
    async fn audit_for_subjects(&self, subjects: &[String]) -> StoreResult<Vec<AuditEvent>>;
}
