//! The SQL behind [`crate::followup`], compiled once per backend (see `crate::sqlite` and
//! `crate::postgres`).

use super::common::{AuditWriter, hit_row, job_row};
use super::{Backend, Conn, DbRow};
use crate::followup::*;
use crate::jobs::Job;
use crate::{Actor, StoreError, StoreResult, parse_ts, ts};
use crate::{opt_ts, parse_enum, placeholders};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use schoon_core::hit::{AckAction, HitEvent, HitTimeline, Transition, transition};
use schoon_core::{EntryId, Hit, HitId, HitState, OrgId, SignalType, TenantId};
use sqlx::{AssertSqlSafe, Row};

const FH_SELECT: &str = "SELECT h.*, l.pdq_radius AS l_radius, e.value AS e_value, \
     e.signal_type AS e_type FROM hits h JOIN hash_lists l ON l.id = h.list_id \
     JOIN list_entries e ON e.id = h.entry_id";

fn fh_row(r: &DbRow) -> StoreResult<FollowupHit> {
    let action: Option<String> = r.try_get("action")?;
    let radius: i64 = r.try_get("l_radius")?;
    Ok(FollowupHit {
        hit: hit_row(r)?,
        action: action.as_deref().map(parse_enum::<AckAction>).transpose()?,
        note: r.try_get("note")?,
        acknowledged_at: opt_ts(r.try_get("acknowledged_at")?)?,
        verified_at: opt_ts(r.try_get("verified_at")?)?,
        verification_failed_at: opt_ts(r.try_get("verification_failed_at")?)?,
        overdue_at: opt_ts(r.try_get("overdue_at")?)?,
        reoccurred: r.try_get::<i64, _>("reoccurred")? != 0,
        verify_round: r.try_get("verify_round")?,
        verify_misses: r.try_get("verify_misses")?,
        pdq_radius: u32::try_from(radius)
            .map_err(|_| StoreError::Corrupt(format!("pdq_radius {radius}")))?,
        entry_value: r.try_get("e_value")?,
        entry_signal_type: parse_enum::<SignalType>(r.try_get("e_type")?)?,
    })
}

async fn fh_in(conn: &mut Conn, id: HitId) -> StoreResult<FollowupHit> {
    let row = sqlx::query(AssertSqlSafe(format!("{FH_SELECT} WHERE h.id = $1")))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("hit {id}")))?;
    fh_row(&row)
}

/// Applies one transition inside a write transaction (shared by the API, sweeps, revocation).
async fn apply_in(
    conn: &mut Conn,
    aw: &mut AuditWriter,
    actor: &Actor,
    id: HitId,
    event: HitEvent,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> StoreResult<(FollowupHit, Transition)> {
    let before = fh_in(conn, id).await?;
    let from = before.status();
    let t = transition(from, event).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let now = ts(&at);
    let (deadline_hours, grace_hours): (i64, i64) =
        sqlx::query_as("SELECT hit_deadline_hours, hit_grace_hours FROM tenants WHERE id = $1")
            .bind(before.hit.tenant_id)
            .fetch_one(&mut *conn)
            .await?;
    let deadline = if t.restart_deadline {
        at + Duration::hours(deadline_hours)
    } else {
        before.hit.deadline
    };
    let n = sqlx::query(
        "UPDATE hits SET state = $1, action = $2, \
         note = CASE WHEN $3 THEN $4 ELSE note END, \
         acknowledged_at = CASE WHEN $3 THEN COALESCE(acknowledged_at, $5) ELSE acknowledged_at END, \
         verified_at = CASE WHEN $1 = 'verified' THEN $5 ELSE verified_at END, \
         verification_failed_at = CASE WHEN $1 = 'verification_failed' THEN $5 ELSE verification_failed_at END, \
         overdue_at = CASE WHEN $1 = 'overdue' THEN $5 ELSE overdue_at END, \
         escalate_at = CASE WHEN $1 = 'overdue' THEN $6 ELSE escalate_at END, \
         verify_round = verify_round + $7, \
         verify_misses = CASE WHEN $7 = 1 THEN 0 ELSE verify_misses END, \
         deadline = $8, updated_at = $5 \
         WHERE id = $9 AND state = $10 AND action IS NOT DISTINCT FROM $11",
    )
    .bind(t.to.state.as_str())
    .bind(t.to.action.map(AckAction::as_str))
    .bind(matches!(event, HitEvent::Acknowledge(_)))
    .bind(note)
    .bind(&now)
    .bind(ts(&(before.hit.deadline + Duration::hours(grace_hours))))
    .bind(i64::from(t.verify))
    .bind(ts(&deadline))
    .bind(id)
    .bind(from.state.as_str())
    .bind(from.action.map(AckAction::as_str))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(StoreError::Conflict(format!("hit {id} changed meanwhile")));
    }
    sqlx::query(
        "INSERT INTO hit_events (hit_id, at, actor, event, from_state, to_state, action, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(&now)
    .bind(&actor.0)
    .bind(event.name())
    .bind(from.state.as_str())
    .bind(t.to.state.as_str())
    .bind(t.to.action.map(AckAction::as_str))
    .bind(note)
    .execute(&mut *conn)
    .await?;
    if t.escalate {
        sqlx::query(
            "INSERT INTO escalations (tenant_id, org_id, hit_id, reason, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hit_id) DO NOTHING",
        )
        .bind(before.hit.tenant_id)
        .bind(before.hit.hit.org_id)
        .bind(id)
        .bind("no acknowledgement by the deadline and grace period")
        .bind(&now)
        .execute(&mut *conn)
        .await?;
    }
    aw.append(
        conn,
        Some(before.hit.tenant_id),
        actor,
        &format!("hit.{}", event.name()),
        &format!("hit:{id}"),
        serde_json::json!({
            "at": now, "from": from.state, "to": t.to.state,
            "action": t.to.action, "note": note,
        }),
    )
    .await?;
    let after = fh_in(conn, id).await?;
    Ok((after, t))
}

/// Called by `record_hits` for each new hit, in its transaction: if the same organisation
/// acknowledged removal of content matching the same entry, flags those earlier hits
/// `reoccurred`. One indexed statement (`hits_reoccur`); nothing when there is no such hit.
pub(crate) async fn flag_reoccurrence(
    conn: &mut Conn,
    aw: &mut AuditWriter,
    actor: &Actor,
    tenant_id: TenantId,
    hit: &Hit,
) -> StoreResult<()> {
    let flagged: Vec<i64> = sqlx::query_scalar(
        "UPDATE hits SET reoccurred = 1 WHERE org_id = $1 AND entry_id = $2 AND id <> $3 \
         AND reoccurred = 0 AND action IN ('removed', 'blocked') \
         AND state IN ('acknowledged', 'verified', 'verification_failed') RETURNING id",
    )
    .bind(hit.hit.org_id)
    .bind(hit.hit.entry_id)
    .bind(hit.id)
    .fetch_all(&mut *conn)
    .await?;
    for old in flagged {
        aw.append(
            conn,
            Some(tenant_id),
            actor,
            "hit.reoccurred",
            &format!("hit:{old}"),
            serde_json::json!({"new_hit_id": hit.id}),
        )
        .await?;
    }
    Ok(())
}

/// Called by `revoke_entries` in its transaction: every organisation with a hit on a revoked
/// entry gets a feed row, and its unresolved hits on it close as `revoked`.
pub(crate) async fn propagate_revocation(
    conn: &mut Conn,
    aw: &mut AuditWriter,
    actor: &Actor,
    tenant_id: TenantId,
    entry_ids: &[EntryId],
    reason: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    for entry in entry_ids {
        sqlx::query(
            "INSERT INTO revocation_notices (tenant_id, org_id, entry_id, revoked_at, reason) \
             SELECT DISTINCT $1, org_id, entry_id, $2, $3 FROM hits WHERE entry_id = $4 \
             ON CONFLICT (org_id, entry_id) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(ts(&at))
        .bind(reason)
        .bind(entry)
        .execute(&mut *conn)
        .await?;
        let open: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM hits WHERE entry_id = $1 AND state IN \
             ('open', 'overdue', 'escalated', 'acknowledged', 'verification_failed') ORDER BY id",
        )
        .bind(entry)
        .fetch_all(&mut *conn)
        .await?;
        for id in open {
            apply_in(
                conn,
                aw,
                actor,
                id,
                HitEvent::EntryRevoked,
                Some(reason),
                at,
            )
            .await?;
        }
    }
    Ok(())
}

#[async_trait]
impl FollowupStore for Backend {
    async fn followup_hit(&self, id: HitId) -> StoreResult<Option<FollowupHit>> {
        sqlx::query(AssertSqlSafe(format!("{FH_SELECT} WHERE h.id = $1")))
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(fh_row)
            .transpose()
    }

    async fn followup_hits(
        &self,
        org_id: OrgId,
        state: Option<HitState>,
        before_id: Option<HitId>,
        limit: u32,
    ) -> StoreResult<Vec<FollowupHit>> {
        sqlx::query(AssertSqlSafe(format!(
            "{FH_SELECT} WHERE h.org_id = $1 AND ($2 IS NULL OR h.state = $2) \
             AND ($3 IS NULL OR h.id < $3) ORDER BY h.id DESC LIMIT $4"
        )))
        .bind(org_id)
        .bind(state.map(HitState::as_str))
        .bind(before_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(fh_row)
        .collect()
    }

    async fn apply_hit_event(
        &self,
        actor: &Actor,
        id: HitId,
        event: HitEvent,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<(FollowupHit, Transition)> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let out = apply_in(&mut tx, &mut aw, actor, id, event, note, at).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn record_verify_miss(&self, id: HitId, round: i64, misses: i64) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE hits SET verify_misses = $1 WHERE id = $2 AND verify_round = $3 \
             AND verify_misses < $1",
        )
        .bind(misses)
        .bind(id)
        .bind(round)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn undecided_claims(&self, limit: u32) -> StoreResult<Vec<FollowupHit>> {
        sqlx::query(AssertSqlSafe(format!(
            "{FH_SELECT} WHERE h.state = 'acknowledged' AND h.action IN ('removed', 'blocked') \
             AND h.content_url IS NOT NULL ORDER BY h.id LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(fh_row)
        .collect()
    }

    async fn start_verify_round(&self, id: HitId) -> StoreResult<i64> {
        let mut tx = self.begin_write().await?;
        let round: Option<i64> = sqlx::query_scalar(
            "UPDATE hits SET verify_round = verify_round + 1, verify_misses = 0 WHERE id = $1 \
             RETURNING verify_round",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        round.ok_or_else(|| StoreError::NotFound(format!("hit {id}")))
    }

    async fn sweep_deadlines(&self, at: DateTime<Utc>) -> StoreResult<SweepSummary> {
        let now = ts(&at);
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let mut out = SweepSummary::default();
        let due: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM hits WHERE state = 'open' AND deadline <= $1 ORDER BY id LIMIT 1000",
        )
        .bind(&now)
        .fetch_all(&mut *tx)
        .await?;
        let system = Actor::system();
        for id in due {
            apply_in(
                &mut tx,
                &mut aw,
                &system,
                id,
                HitEvent::DeadlinePassed,
                None,
                at,
            )
            .await?;
            out.overdue.push(id);
        }
        let late: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM hits WHERE state = 'overdue' AND escalate_at <= $1 ORDER BY id LIMIT 1000",
        )
        .bind(&now)
        .fetch_all(&mut *tx)
        .await?;
        for id in late {
            apply_in(
                &mut tx,
                &mut aw,
                &system,
                id,
                HitEvent::GraceExpired,
                None,
                at,
            )
            .await?;
            out.escalated.push(id);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn escalations(&self, after_id: i64, limit: u32) -> StoreResult<Vec<Escalation>> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, org_id, hit_id, reason, created_at, picked_up_at, picked_up_by, \
             order_id FROM escalations WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Escalation {
                    id: r.try_get("id")?,
                    tenant_id: r.try_get("tenant_id")?,
                    org_id: r.try_get("org_id")?,
                    hit_id: r.try_get("hit_id")?,
                    reason: r.try_get("reason")?,
                    created_at: parse_ts(r.try_get("created_at")?)?,
                    picked_up_at: opt_ts(r.try_get("picked_up_at")?)?,
                    picked_up_by: r.try_get("picked_up_by")?,
                    order_id: r.try_get("order_id")?,
                })
            })
            .collect()
    }

    async fn revocation_notices(
        &self,
        org_id: OrgId,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<RevocationNotice>> {
        let rows = sqlx::query(
            "SELECT n.id, n.entry_id, n.revoked_at, n.reason, e.signal_type, e.value, \
             (SELECT string_agg(CAST(id AS TEXT), ',') FROM hits h WHERE h.org_id = n.org_id AND h.entry_id = n.entry_id) AS hit_ids \
             FROM revocation_notices n JOIN list_entries e ON e.id = n.entry_id \
             WHERE n.org_id = $1 AND n.revoked_at >= $2 ORDER BY n.revoked_at, n.id LIMIT $3",
        )
        .bind(org_id)
        .bind(ts(&since))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let ids: Option<String> = r.try_get("hit_ids")?;
                Ok(RevocationNotice {
                    id: r.try_get("id")?,
                    entry_id: r.try_get("entry_id")?,
                    signal_type: parse_enum::<SignalType>(r.try_get("signal_type")?)?,
                    value: r.try_get("value")?,
                    revoked_at: parse_ts(r.try_get("revoked_at")?)?,
                    reason: r.try_get("reason")?,
                    hit_ids: ids
                        .unwrap_or_default()
                        .split(',')
                        .filter_map(|s| s.parse().ok())
                        .collect(),
                })
            })
            .collect()
    }

    async fn followup_timelines(
        &self,
        tenant_id: TenantId,
        org_id: Option<OrgId>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<OrgTimeline>> {
        let rows = sqlx::query(
            "SELECT h.org_id, h.created_at, h.acknowledged_at, h.verified_at, \
             h.verification_failed_at, h.overdue_at, h.reoccurred, \
             EXISTS (SELECT 1 FROM hit_events v WHERE v.hit_id = h.id \
                     AND v.action IN ('removed', 'blocked')) AS removal \
             FROM hits h WHERE h.tenant_id = $1 AND ($2 IS NULL OR h.org_id = $2) \
             AND h.created_at >= $3 AND h.created_at < $4 ORDER BY h.id",
        )
        .bind(tenant_id)
        .bind(org_id)
        .bind(ts(&since))
        .bind(ts(&until))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OrgTimeline {
                    org_id: r.try_get("org_id")?,
                    timeline: HitTimeline {
                        created_at: parse_ts(r.try_get("created_at")?)?,
                        acknowledged_at: opt_ts(r.try_get("acknowledged_at")?)?,
                        verified_at: opt_ts(r.try_get("verified_at")?)?,
                        verification_failed: r
                            .try_get::<Option<String>, _>("verification_failed_at")?
                            .is_some(),
                        was_overdue: r.try_get::<Option<String>, _>("overdue_at")?.is_some(),
                        reoccurred: r.try_get::<i64, _>("reoccurred")? != 0,
                        removal_acknowledged: r.try_get::<i64, _>("removal")? != 0,
                    },
                })
            })
            .collect()
    }

    async fn set_grace_hours(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        hours: i64,
    ) -> StoreResult<()> {
        if !(0..=8760).contains(&hours) {
            return Err(StoreError::Invalid(format!(
                "grace hours must be between 0 and 8760, got {hours}"
            )));
        }
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let n = sqlx::query("UPDATE tenants SET hit_grace_hours = $1 WHERE id = $2")
            .bind(hours)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound(format!("tenant {tenant_id}")));
        }
        aw.append(
            &mut tx,
            Some(tenant_id),
            actor,
            "tenant.grace_hours",
            &format!("tenant:{tenant_id}"),
            serde_json::json!({"hit_grace_hours": hours}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn claim_jobs_at(
        &self,
        worker: &str,
        kinds: &[&str],
        limit: u32,
        lease: Duration,
        now_t: DateTime<Utc>,
    ) -> StoreResult<Vec<Job>> {
        if kinds.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let now = ts(&now_t);
        // PostgreSQL: a claimer skips rows another transaction holds instead of waiting, so the
        // claim stays correct (each job to one worker) even outside the write lock.
        let skip = match super::DIALECT {
            crate::Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Dialect::Sqlite => "",
        };
        // A lease that ran out on the last attempt: the job is dead, not retried forever.
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'dead', last_error = COALESCE(last_error, 'lease expired'), \
             updated_at = $1 WHERE id IN (SELECT id FROM jobs WHERE status = 'running' \
             AND lease_until < $1 AND attempts >= max_attempts{skip})"
        )))
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        let kind_ph = placeholders(5, kinds.len());
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = $1, \
             locked_by = $2, updated_at = $3 WHERE id IN (SELECT id FROM jobs WHERE \
             ((status = 'pending' AND run_at <= $3) OR (status = 'running' AND lease_until < $3)) \
             AND attempts < max_attempts AND kind IN ({kind_ph}) ORDER BY run_at, id LIMIT $4{skip}) \
             RETURNING *"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(ts(&(now_t + lease)))
            .bind(worker)
            .bind(&now)
            .bind(i64::from(limit));
        for k in kinds {
            q = q.bind(*k);
        }
        let rows = q.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let mut jobs = rows.iter().map(job_row).collect::<StoreResult<Vec<_>>>()?;
        jobs.sort_by(|a, b| a.run_at.cmp(&b.run_at).then(a.id.cmp(&b.id)));
        Ok(jobs)
    }
}
