//! Shared SQL for every backend: the audit writer, row decoders and the hash-check [`Store`]
//! methods. Compiled once per backend (see `crate::sqlite` and `crate::postgres`).

use super::{Backend, Conn, DbRow};
use crate::jobs::{Job, JobId, JobStatus, NewJob};
use crate::{
    Actor, ImportSummary, ListUpdate, NewApiKey, NewList, NewTenant, RevokeSelector, Snapshot,
    Store, StoreError, StoreResult, parse_ts, ts,
};
use crate::{opt_ts, parse_enum, placeholders};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use schoon_core::audit::{self, AuditEvent, GENESIS_HASH, chain_hash};
use schoon_core::policy;
use schoon_core::{
    ActiveEntry, ApiKey, Category, Entry, EntryId, HashList, Hit, HitState, KeyRole, ListId,
    ListKind, NewEntry, NewHit, OrgId, Organisation, SignalType, SignalValue, Tenant, TenantId,
};
use sqlx::{AssertSqlSafe, Row};

/// Rows per multi-row INSERT during imports (8 binds each, well under either backend's limit).
const INSERT_CHUNK: usize = 500;

/// Appends audit events inside one transaction, reading the chain head once.
pub(crate) struct AuditWriter {
    prev: String,
}

impl AuditWriter {
    pub(crate) async fn start(conn: &mut Conn) -> StoreResult<AuditWriter> {
        let prev: Option<String> =
            sqlx::query_scalar("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *conn)
                .await?;
        Ok(AuditWriter {
            prev: prev.unwrap_or_else(|| GENESIS_HASH.to_string()),
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn append(
        &mut self,
        conn: &mut Conn,
        tenant_id: Option<TenantId>,
        actor: &Actor,
        action: &str,
        subject: &str,
        details: serde_json::Value,
    ) -> StoreResult<()> {
        let at = audit::now();
        let details = details.to_string();
        let hash = chain_hash(
            &at, tenant_id, &actor.0, action, subject, &details, &self.prev,
        );
        sqlx::query(
            "INSERT INTO audit_events (at, tenant_id, actor, action, subject, details, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(ts(&at))
        .bind(tenant_id)
        .bind(&actor.0)
        .bind(action)
        .bind(subject)
        .bind(&details)
        .bind(&self.prev)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
        self.prev = hash;
        Ok(())
    }
}

/// Runs one audited change: opens the write transaction, calls `f`, commits.
macro_rules! audited {
    ($self:ident, |$tx:ident, $aw:ident| $body:block) => {{
        let mut $tx = $self.begin_write().await?;
        let mut $aw = AuditWriter::start(&mut $tx).await?;
        let out = $body;
        $tx.commit().await?;
        Ok(out)
    }};
}

fn map_unique(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what()),
        _ => StoreError::Database(e),
    }
}

fn u32_col(r: &DbRow, col: &str) -> StoreResult<u32> {
    let v: i64 = r.try_get(col)?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{col} = {v}")))
}

fn tenant_row(r: &DbRow) -> StoreResult<Tenant> {
    Ok(Tenant {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        country: r.try_get("country")?,
        hit_deadline_hours: r.try_get("hit_deadline_hours")?,
        list_version: r.try_get("list_version")?,
        created_at: parse_ts(r.try_get("created_at")?)?,
    })
}

fn org_row(r: &DbRow) -> StoreResult<Organisation> {
    Ok(Organisation {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        name: r.try_get("name")?,
        created_at: parse_ts(r.try_get("created_at")?)?,
    })
}

fn key_row(r: &DbRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        org_id: r.try_get("org_id")?,
        role: parse_enum::<KeyRole>(r.try_get("role")?)?,
        label: r.try_get("label")?,
        created_at: parse_ts(r.try_get("created_at")?)?,
        revoked_at: opt_ts(r.try_get("revoked_at")?)?,
    })
}

fn list_row(r: &DbRow) -> StoreResult<HashList> {
    Ok(HashList {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        name: r.try_get("name")?,
        kind: parse_enum::<ListKind>(r.try_get("kind")?)?,
        pdq_radius: u32_col(r, "pdq_radius")?,
        min_quality: u32_col(r, "min_quality")?,
        created_at: parse_ts(r.try_get("created_at")?)?,
    })
}

fn entry_row(r: &DbRow) -> StoreResult<Entry> {
    Ok(Entry {
        id: r.try_get("id")?,
        list_id: r.try_get("list_id")?,
        signal_type: parse_enum::<SignalType>(r.try_get("signal_type")?)?,
        value: r.try_get("value")?,
        category: parse_enum::<Category>(r.try_get("category")?)?,
        source: r.try_get("source")?,
        assessor: r.try_get("assessor")?,
        added_at: parse_ts(r.try_get("added_at")?)?,
        revoked_at: opt_ts(r.try_get("revoked_at")?)?,
        revoke_reason: r.try_get("revoke_reason")?,
    })
}

pub(crate) fn hit_row(r: &DbRow) -> StoreResult<Hit> {
    Ok(Hit {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        hit: NewHit {
            org_id: r.try_get("org_id")?,
            entry_id: r.try_get("entry_id")?,
            list_id: r.try_get("list_id")?,
            signal_type: parse_enum::<SignalType>(r.try_get("signal_type")?)?,
            query_value: r.try_get("query_value")?,
            distance: u32_col(r, "distance")?,
            content_ref: r.try_get("content_ref")?,
            content_url: r.try_get("content_url")?,
        },
        state: parse_enum::<HitState>(r.try_get("state")?)?,
        created_at: parse_ts(r.try_get("created_at")?)?,
        deadline: parse_ts(r.try_get("deadline")?)?,
    })
}

pub(crate) fn job_row(r: &DbRow) -> StoreResult<Job> {
    let payload: String = r.try_get("payload")?;
    Ok(Job {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("job payload: {e}")))?,
        run_at: parse_ts(r.try_get("run_at")?)?,
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        status: parse_enum::<JobStatus>(r.try_get("status")?)?,
        lease_until: opt_ts(r.try_get("lease_until")?)?,
        locked_by: r.try_get("locked_by")?,
        last_error: r.try_get("last_error")?,
        idempotency_key: r.try_get("idempotency_key")?,
    })
}

const TENANT_COLS: &str = "id, name, country, hit_deadline_hours, list_version, created_at";
const KEY_COLS: &str = "id, tenant_id, org_id, role, label, created_at, revoked_at";
const ENTRY_COLS: &str = "id, list_id, signal_type, value, category, source, assessor, added_at, revoked_at, revoke_reason";
const HIT_COLS: &str = "id, tenant_id, org_id, entry_id, list_id, signal_type, query_value, distance, content_ref, content_url, state, created_at, deadline";

async fn bump_version(conn: &mut Conn, tenant_id: TenantId) -> StoreResult<()> {
    sqlx::query("UPDATE tenants SET list_version = list_version + 1 WHERE id = $1")
        .bind(tenant_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn list_in(conn: &mut Conn, id: ListId) -> StoreResult<HashList> {
    let row = sqlx::query("SELECT * FROM hash_lists WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("list {id}")))?;
    list_row(&row)
}

#[async_trait]
impl Store for Backend {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn create_tenant(&self, actor: &Actor, t: NewTenant) -> StoreResult<Tenant> {
        policy::validate_name("tenant name", &t.name)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        policy::validate_deadline_hours(t.hit_deadline_hours)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        audited!(self, |tx, aw| {
            let row = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO tenants (name, country, hit_deadline_hours, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING {TENANT_COLS}"
            )))
            .bind(&t.name)
            .bind(&t.country)
            .bind(t.hit_deadline_hours)
            .bind(ts(&audit::now()))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| map_unique(e, || format!("a tenant named {:?} exists", t.name)))?;
            let tenant = tenant_row(&row)?;
            aw.append(
                &mut tx,
                Some(tenant.id),
                actor,
                "tenant.create",
                &format!("tenant:{}", tenant.id),
                serde_json::json!({"name": tenant.name, "country": tenant.country,
                    "hit_deadline_hours": tenant.hit_deadline_hours}),
            )
            .await?;
            tenant
        })
    }

    async fn tenants(&self) -> StoreResult<Vec<Tenant>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {TENANT_COLS} FROM tenants ORDER BY id"
        )))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(tenant_row)
        .collect()
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {TENANT_COLS} FROM tenants WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(tenant_row)
        .transpose()
    }

    async fn list_versions(&self) -> StoreResult<Vec<(TenantId, i64)>> {
        let rows = sqlx::query("SELECT id, list_version FROM tenants ORDER BY id")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("list_version")?)))
            .collect()
    }

    async fn create_org(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        name: &str,
    ) -> StoreResult<Organisation> {
        policy::validate_name("organisation name", name)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        audited!(self, |tx, aw| {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM tenants WHERE id = $1")
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("tenant {tenant_id}")));
            }
            let row = sqlx::query(
                "INSERT INTO organisations (tenant_id, name, created_at) VALUES ($1, $2, $3) \
                 RETURNING id, tenant_id, name, created_at",
            )
            .bind(tenant_id)
            .bind(name)
            .bind(ts(&audit::now()))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| map_unique(e, || format!("an organisation named {name:?} exists")))?;
            let org = org_row(&row)?;
            aw.append(
                &mut tx,
                Some(tenant_id),
                actor,
                "organisation.create",
                &format!("organisation:{}", org.id),
                serde_json::json!({"name": org.name}),
            )
            .await?;
            org
        })
    }

    async fn orgs(&self, tenant_id: TenantId) -> StoreResult<Vec<Organisation>> {
        sqlx::query(
            "SELECT id, tenant_id, name, created_at FROM organisations WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(tenant_id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(org_row)
        .collect()
    }

    async fn org(&self, id: OrgId) -> StoreResult<Option<Organisation>> {
        sqlx::query("SELECT id, tenant_id, name, created_at FROM organisations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(org_row)
            .transpose()
    }

    async fn create_api_key(&self, actor: &Actor, k: NewApiKey) -> StoreResult<ApiKey> {
        policy::validate_name("key label", &k.label)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        match (k.role, k.org_id, k.tenant_id) {
            (KeyRole::Check, Some(_), Some(_)) | (KeyRole::Admin, None, _) => {}
            (KeyRole::Check, _, _) => {
                return Err(StoreError::Invalid(
                    "a check key needs an organisation".into(),
                ));
            }
            (KeyRole::Admin, Some(_), _) => {
                return Err(StoreError::Invalid(
                    "an admin token belongs to no organisation".into(),
                ));
            }
        }
        audited!(self, |tx, aw| {
            if let Some(org_id) = k.org_id {
                let tenant: Option<i64> =
                    sqlx::query_scalar("SELECT tenant_id FROM organisations WHERE id = $1")
                        .bind(org_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                match tenant {
                    None => return Err(StoreError::NotFound(format!("organisation {org_id}"))),
                    Some(t) if Some(t) != k.tenant_id => {
                        return Err(StoreError::Invalid(
                            "organisation belongs to another tenant".into(),
                        ));
                    }
                    Some(_) => {}
                }
            }
            let row = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO api_keys (id, tenant_id, org_id, role, label, secret_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {KEY_COLS}"
            )))
            .bind(&k.id)
            .bind(k.tenant_id)
            .bind(k.org_id)
            .bind(k.role.as_str())
            .bind(&k.label)
            .bind(&k.secret_hash)
            .bind(ts(&audit::now()))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| map_unique(e, || "key id collision".to_string()))?;
            let key = key_row(&row)?;
            aw.append(
                &mut tx,
                key.tenant_id,
                actor,
                "api_key.create",
                &format!("api_key:{}", key.id),
                serde_json::json!({"role": key.role, "org_id": key.org_id, "label": key.label}),
            )
            .await?;
            key
        })
    }

    async fn api_key_with_hash(&self, id: &str) -> StoreResult<Option<(ApiKey, String)>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {KEY_COLS}, secret_hash FROM api_keys WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some((key_row(&r)?, r.try_get("secret_hash")?))),
        }
    }

    async fn api_keys(&self, tenant_id: Option<TenantId>) -> StoreResult<Vec<ApiKey>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {KEY_COLS} FROM api_keys WHERE tenant_id IS NOT DISTINCT FROM $1 ORDER BY created_at, id"
        )))
        .bind(tenant_id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(key_row)
        .collect()
    }

    async fn revoke_api_key(&self, actor: &Actor, id: &str, reason: &str) -> StoreResult<ApiKey> {
        audited!(self, |tx, aw| {
            let row = sqlx::query(AssertSqlSafe(format!(
                "UPDATE api_keys SET revoked_at = $1, revoke_reason = $2 \
                 WHERE id = $3 AND revoked_at IS NULL RETURNING {KEY_COLS}"
            )))
            .bind(ts(&audit::now()))
            .bind(reason)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("active api key {id}")))?;
            let key = key_row(&row)?;
            aw.append(
                &mut tx,
                key.tenant_id,
                actor,
                "api_key.revoke",
                &format!("api_key:{}", key.id),
                serde_json::json!({"reason": reason}),
            )
            .await?;
            key
        })
    }

    async fn create_list(&self, actor: &Actor, l: NewList) -> StoreResult<HashList> {
        policy::validate_name("list name", &l.name)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        policy::validate_list_settings(l.pdq_radius, l.min_quality)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        audited!(self, |tx, aw| {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM tenants WHERE id = $1")
                .bind(l.tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("tenant {}", l.tenant_id)));
            }
            let row = sqlx::query(
                "INSERT INTO hash_lists (tenant_id, name, kind, pdq_radius, min_quality, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
            )
            .bind(l.tenant_id)
            .bind(&l.name)
            .bind(l.kind.as_str())
            .bind(i64::from(l.pdq_radius))
            .bind(i64::from(l.min_quality))
            .bind(ts(&audit::now()))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| map_unique(e, || format!("a list named {:?} exists", l.name)))?;
            let list = list_row(&row)?;
            bump_version(&mut tx, l.tenant_id).await?;
            aw.append(
                &mut tx,
                Some(l.tenant_id),
                actor,
                "list.create",
                &format!("list:{}", list.id),
                serde_json::json!({"name": list.name, "kind": list.kind,
                    "pdq_radius": list.pdq_radius, "min_quality": list.min_quality}),
            )
            .await?;
            list
        })
    }

    async fn lists(&self, tenant_id: TenantId) -> StoreResult<Vec<HashList>> {
        sqlx::query("SELECT * FROM hash_lists WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant_id)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(list_row)
            .collect()
    }

    async fn list(&self, id: ListId) -> StoreResult<Option<HashList>> {
        sqlx::query("SELECT * FROM hash_lists WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(list_row)
            .transpose()
    }

    async fn update_list(&self, actor: &Actor, id: ListId, u: ListUpdate) -> StoreResult<HashList> {
        audited!(self, |tx, aw| {
            let old = list_in(&mut tx, id).await?;
            let radius = u.pdq_radius.unwrap_or(old.pdq_radius);
            let quality = u.min_quality.unwrap_or(old.min_quality);
            policy::validate_list_settings(radius, quality)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            sqlx::query("UPDATE hash_lists SET pdq_radius = $1, min_quality = $2 WHERE id = $3")
                .bind(i64::from(radius))
                .bind(i64::from(quality))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            bump_version(&mut tx, old.tenant_id).await?;
            aw.append(
                &mut tx,
                Some(old.tenant_id),
                actor,
                "list.update",
                &format!("list:{id}"),
                serde_json::json!({
                    "pdq_radius": {"from": old.pdq_radius, "to": radius},
                    "min_quality": {"from": old.min_quality, "to": quality},
                }),
            )
            .await?;
            HashList {
                pdq_radius: radius,
                min_quality: quality,
                ..old
            }
        })
    }

    async fn import_entries(
        &self,
        actor: &Actor,
        list_id: ListId,
        entries: Vec<NewEntry>,
        details: serde_json::Value,
    ) -> StoreResult<ImportSummary> {
        audited!(self, |tx, aw| {
            let list = list_in(&mut tx, list_id).await?;
            let now = ts(&audit::now());
            let mut added = 0u64;
            for chunk in entries.chunks(INSERT_CHUNK) {
                let mut sql = String::from(
                    "INSERT INTO list_entries (list_id, signal_type, value, category, source, assessor, added_at) VALUES ",
                );
                for i in 0..chunk.len() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    let b = i * 7;
                    sql.push('(');
                    sql.push_str(&placeholders(b + 1, 7));
                    sql.push(')');
                }
                sql.push_str(" ON CONFLICT DO NOTHING");
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for e in chunk {
                    q = q
                        .bind(list_id)
                        .bind(e.value.kind().as_str())
                        .bind(e.value.to_hex())
                        .bind(e.category.as_str())
                        .bind(e.source.clone())
                        .bind(e.assessor.clone())
                        .bind(now.clone());
                }
                added += q.execute(&mut *tx).await?.rows_affected();
            }
            let summary = ImportSummary {
                added,
                duplicates: entries.len() as u64 - added,
            };
            bump_version(&mut tx, list.tenant_id).await?;
            aw.append(
                &mut tx,
                Some(list.tenant_id),
                actor,
                "list.import",
                &format!("list:{list_id}"),
                serde_json::json!({"added": summary.added, "duplicates": summary.duplicates,
                    "details": details}),
            )
            .await?;
            summary
        })
    }

    async fn revoke_entries(
        &self,
        actor: &Actor,
        list_id: ListId,
        which: RevokeSelector,
        reason: &str,
    ) -> StoreResult<Vec<EntryId>> {
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid("a revocation needs a reason".into()));
        }
        audited!(self, |tx, aw| {
            let list = list_in(&mut tx, list_id).await?;
            let now = ts(&audit::now());
            let mut revoked = Vec::new();
            match &which {
                RevokeSelector::Ids(ids) => {
                    for id in ids {
                        let r: Option<i64> = sqlx::query_scalar(
                            "UPDATE list_entries SET revoked_at = $1, revoke_reason = $2 \
                             WHERE id = $3 AND list_id = $4 AND revoked_at IS NULL RETURNING id",
                        )
                        .bind(&now)
                        .bind(reason)
                        .bind(id)
                        .bind(list_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        revoked.extend(r);
                    }
                }
                RevokeSelector::Values(values) => {
                    for v in values {
                        let r: Option<i64> = sqlx::query_scalar(
                            "UPDATE list_entries SET revoked_at = $1, revoke_reason = $2 \
                             WHERE list_id = $3 AND signal_type = $4 AND value = $5 \
                             AND revoked_at IS NULL RETURNING id",
                        )
                        .bind(&now)
                        .bind(reason)
                        .bind(list_id)
                        .bind(v.kind().as_str())
                        .bind(v.to_hex())
                        .fetch_optional(&mut *tx)
                        .await?;
                        revoked.extend(r);
                    }
                }
            }
            if !revoked.is_empty() {
                bump_version(&mut tx, list.tenant_id).await?;
                super::followup::propagate_revocation(
                    &mut tx,
                    &mut aw,
                    actor,
                    list.tenant_id,
                    &revoked,
                    reason,
                    audit::now(),
                )
                .await?;
                aw.append(
                    &mut tx,
                    Some(list.tenant_id),
                    actor,
                    "entry.revoke",
                    &format!("list:{list_id}"),
                    serde_json::json!({"reason": reason, "entry_ids": revoked}),
                )
                .await?;
            }
            revoked
        })
    }

    async fn entries(
        &self,
        list_id: ListId,
        include_revoked: bool,
        after_id: EntryId,
        limit: u32,
    ) -> StoreResult<Vec<Entry>> {
        let filter = if include_revoked {
            ""
        } else {
            "AND revoked_at IS NULL"
        };
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {ENTRY_COLS} FROM list_entries WHERE list_id = $1 AND id > $2 {filter} \
             ORDER BY id LIMIT $3"
        )))
        .bind(list_id)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(entry_row)
        .collect()
    }

    async fn snapshot(&self, tenant_id: TenantId) -> StoreResult<Snapshot> {
        // One read transaction: WAL gives it a consistent view across all pages.
        let mut tx = self.read.begin().await?;
        let version: i64 = sqlx::query_scalar("SELECT list_version FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("tenant {tenant_id}")))?;
        let lists = sqlx::query("SELECT * FROM hash_lists WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant_id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(list_row)
            .collect::<StoreResult<Vec<_>>>()?;
        // One streamed sequential scan of the table: no ORDER BY (the matcher needs no order),
        // no paging, and `+list_id` keeps SQLite from walking the (list, value) index, whose
        // row look-ups cost far more than reading the table in order.
        let list_ids: std::collections::HashSet<i64> = lists.iter().map(|l| l.id).collect();
        let mut entries = Vec::new();
        let mut rows = sqlx::query(
            "SELECT id, list_id, signal_type, value, category FROM list_entries \
             WHERE revoked_at IS NULL AND +list_id IN (SELECT id FROM hash_lists WHERE tenant_id = $1)",
        )
        .bind(tenant_id)
        .fetch(&mut *tx);
        while let Some(r) = rows.try_next().await? {
            let id: i64 = r.try_get(0)?;
            let list_id: i64 = r.try_get(1)?;
            if !list_ids.contains(&list_id) {
                continue;
            }
            let kind = parse_enum::<SignalType>(r.try_get(2)?)?;
            let value: &str = r.try_get(3)?;
            let value = SignalValue::parse(kind, value)
                .map_err(|e| StoreError::Corrupt(format!("entry {id}: {e}")))?;
            entries.push(ActiveEntry {
                id,
                list_id,
                value,
                category: parse_enum::<Category>(r.try_get(4)?)?,
            });
        }
        drop(rows);
        tx.commit().await?;
        Ok(Snapshot {
            version,
            lists,
            entries,
        })
    }

    async fn record_hits(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        hits: Vec<NewHit>,
    ) -> StoreResult<Vec<Hit>> {
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        audited!(self, |tx, aw| {
            let hours: i64 =
                sqlx::query_scalar("SELECT hit_deadline_hours FROM tenants WHERE id = $1")
                    .bind(tenant_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("tenant {tenant_id}")))?;
            let at = audit::now();
            let deadline = policy::hit_deadline(at, hours);
            let mut out = Vec::with_capacity(hits.len());
            for h in hits {
                let row = sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO hits (tenant_id, org_id, entry_id, list_id, signal_type, query_value, \
                     distance, content_ref, content_url, state, created_at, deadline) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11) RETURNING {HIT_COLS}"
                )))
                .bind(tenant_id)
                .bind(h.org_id)
                .bind(h.entry_id)
                .bind(h.list_id)
                .bind(h.signal_type.as_str())
                .bind(&h.query_value)
                .bind(i64::from(h.distance))
                .bind(&h.content_ref)
                .bind(&h.content_url)
                .bind(ts(&at))
                .bind(ts(&deadline))
                .fetch_one(&mut *tx)
                .await?;
                let hit = hit_row(&row)?;
                super::followup::flag_reoccurrence(&mut tx, &mut aw, actor, tenant_id, &hit)
                    .await?;
                aw.append(
                    &mut tx,
                    Some(tenant_id),
                    actor,
                    "hit.create",
                    &format!("hit:{}", hit.id),
                    serde_json::json!({"org_id": h.org_id, "entry_id": h.entry_id,
                        "list_id": h.list_id, "distance": h.distance}),
                )
                .await?;
                out.push(hit);
            }
            out
        })
    }

    async fn hits(
        &self,
        tenant_id: TenantId,
        org_id: Option<OrgId>,
        limit: u32,
    ) -> StoreResult<Vec<Hit>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {HIT_COLS} FROM hits WHERE tenant_id = $1 AND ($2 IS NULL OR org_id = $2) \
             ORDER BY id DESC LIMIT $3"
        )))
        .bind(tenant_id)
        .bind(org_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(hit_row)
        .collect()
    }

    async fn audit_events(&self, after_id: i64, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT id, at, tenant_id, actor, action, subject, details, prev_hash, hash \
             FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: r.try_get("id")?,
                    at: parse_ts(r.try_get("at")?)?,
                    tenant_id: r.try_get("tenant_id")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    subject: r.try_get("subject")?,
                    details: r.try_get("details")?,
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect()
    }

    async fn verify_audit_chain(&self) -> StoreResult<u64> {
        let mut after = 0;
        let mut prev = GENESIS_HASH.to_string();
        let mut count = 0u64;
        loop {
            let page = self.audit_events(after, 10_000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            let mut p = prev.clone();
            for e in &page {
                if e.prev_hash != p {
                    return Err(StoreError::Corrupt(format!(
                        "audit event {}: broken link",
                        e.id
                    )));
                }
                let h = chain_hash(
                    &e.at,
                    e.tenant_id,
                    &e.actor,
                    &e.action,
                    &e.subject,
                    &e.details,
                    &e.prev_hash,
                );
                if h != e.hash {
                    return Err(StoreError::Corrupt(format!(
                        "audit event {}: hash does not match its contents",
                        e.id
                    )));
                }
                p = h;
                count += 1;
            }
            prev = p;
        }
        Ok(count)
    }

    async fn enqueue_job(&self, job: NewJob) -> StoreResult<JobId> {
        let mut tx = self.begin_write().await?;
        let now = ts(&audit::now());
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (kind, payload, run_at, max_attempts, idempotency_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(ts(&job.run_at))
        .bind(job.max_attempts)
        .bind(&job.idempotency_key)
        .bind(&now)
        .fetch_optional(&mut *tx)
        .await?;
        let id = match id {
            Some(id) => id,
            None => {
                sqlx::query_scalar("SELECT id FROM jobs WHERE idempotency_key = $1")
                    .bind(&job.idempotency_key)
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        tx.commit().await?;
        Ok(id)
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        kinds: &[&str],
        limit: u32,
        lease: chrono::Duration,
    ) -> StoreResult<Vec<Job>> {
        // One claim statement for both entry points (the follow-up one takes an explicit clock).
        crate::FollowupStore::claim_jobs_at(self, worker, kinds, limit, lease, audit::now()).await
    }

    async fn complete_job(&self, id: JobId, worker: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE jobs SET status = 'done', lease_until = NULL, updated_at = $1 \
             WHERE id = $2 AND locked_by = $3 AND status = 'running'",
        )
        .bind(ts(&audit::now()))
        .bind(id)
        .bind(worker)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> StoreResult<JobStatus> {
        let mut tx = self.begin_write().await?;
        let status: Option<String> = sqlx::query_scalar(
            "UPDATE jobs SET status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END, \
             run_at = $1, last_error = $2, lease_until = NULL, locked_by = NULL, updated_at = $3 \
             WHERE id = $4 AND locked_by = $5 AND status = 'running' RETURNING status",
        )
        .bind(ts(&retry_at))
        .bind(error)
        .bind(ts(&audit::now()))
        .bind(id)
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        match status {
            Some(s) => parse_enum(&s),
            None => Err(StoreError::Conflict(format!(
                "job {id} is not held by {worker}"
            ))),
        }
    }

    async fn job(&self, id: JobId) -> StoreResult<Option<Job>> {
        sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(job_row)
            .transpose()
    }
}
