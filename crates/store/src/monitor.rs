//! Input of the hosting monitor ([monitor], `schoon-monitor`): the recorded takedown and
//! follow-up timelines, read back as [`schoon_monitor::MonitorInput`].
//!
//! Read-only: plain queries over cases, the attribution history, sent notices, responses,
//! case events and hits. The statistics themselves are pure functions in `schoon-monitor`.
//!
//! Mapping (the method's definitions live in `crates/monitor/METHOD.*.md`):
//! - hoster spells: the attribution history in `made_at` order; consecutive rows naming the same
//!   organisation merge into one spell, a row that found no hoster at all is skipped (a failed
//!   look-up is no evidence that the URL moved);
//! - notices: only notices that were actually sent (`state = 'sent'` with `sent_at`); police,
//!   regulator and registrar rungs are escalations, otherwise sequence 0 is the notice and
//!   later sequences are reminders;
//! - removal: the first `offline_verified` event of the case (a later re-appearance and second
//!   removal do not move it), offline from the first miss of that streak;
//! - re-occurrences: every `reappeared` event;
//! - organisations: names are merged case-insensitively (after trimming) across cases and hits,
//!   and each organisation gets its most frequently attributed AS number as main AS, so one
//!   organisation is one [`OrgKey`] everywhere, as `schoon-monitor` requires.

use async_trait::async_trait;
use schoon_core::TenantId;
use schoon_monitor::MonitorInput;

use crate::StoreResult;

/// Reads the monitor's input. Object-safe.
#[async_trait]
pub trait MonitorStore: Send + Sync {
    /// Every takedown case and follow-up hit of `tenant` (or of all tenants with `None`), as
    /// monitor timelines. The full history: repeat detection looks back before any period.
    /// `space` is left empty (no announced-space table yet).
    async fn monitor_input(&self, tenant: Option<TenantId>) -> StoreResult<MonitorInput>;
}
