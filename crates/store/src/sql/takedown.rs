//! The SQL behind [`crate::takedown`], compiled once per backend (see `crate::sqlite` and
//! `crate::postgres`).

use super::common::AuditWriter;
use super::{Backend, Conn, DbRow};
use crate::takedown::*;
use crate::{Actor, ReportStore, StoreError, StoreResult, parse_ts, ts};
use crate::{opt_ts, parse_enum, placeholders};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use schoon_core::TenantId;
use schoon_core::policy::DEFAULT_PDQ_RADIUS;
use schoon_core::takedown::{next_check_at, online_verdict, transition};
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;

// ---------------------------------------------------------------------------------------------
// rows

fn u32_of(v: Option<i64>, what: &str) -> StoreResult<Option<u32>> {
    v.map(|v| u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} = {v}"))))
        .transpose()
}

fn case_row(r: &DbRow) -> StoreResult<Case> {
    let misses: i64 = r.try_get("misses")?;
    Ok(Case {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        report_id: r.try_get("report_id")?,
        item_id: r.try_get("item_id")?,
        url: r.try_get("url")?,
        page_url: r.try_get("page_url")?,
        host: r.try_get("host")?,
        registrable_domain: r.try_get("registrable_domain")?,
        state: parse_enum(r.try_get("state")?)?,
        police_first: r.try_get::<i64, _>("police_first")? != 0,
        contacts: CaseContacts {
            hoster_org: r.try_get("hoster_org")?,
            hoster_email: r.try_get("hoster_email")?,
            hoster_country: r.try_get("hoster_country")?,
            asn: u32_of(r.try_get("asn")?, "asn")?,
            ip: r.try_get("ip")?,
            cdn_org: r.try_get("cdn_org")?,
            cdn_email: r.try_get("cdn_email")?,
            registrar_name: r.try_get("registrar_name")?,
            registrar_email: r.try_get("registrar_email")?,
            site_owner_email: r.try_get("site_owner_email")?,
        },
        attribution_id: r.try_get("attribution_id")?,
        ladder_since: opt_ts(r.try_get("ladder_since")?)?,
        monitoring_since: opt_ts(r.try_get("monitoring_since")?)?,
        next_check_at: opt_ts(r.try_get("next_check_at")?)?,
        misses: u32_of(Some(misses), "misses")?.unwrap_or(0),
        removed_at: opt_ts(r.try_get("removed_at")?)?,
        offline_verified_at: opt_ts(r.try_get("offline_verified_at")?)?,
        reappeared_at: opt_ts(r.try_get("reappeared_at")?)?,
        hoster_changed_at: opt_ts(r.try_get("hoster_changed_at")?)?,
        forward_country: r.try_get("forward_country")?,
        created_at: parse_ts(r.try_get("created_at")?)?,
        updated_at: parse_ts(r.try_get("updated_at")?)?,
        closed_at: opt_ts(r.try_get("closed_at")?)?,
    })
}

fn notice_row(r: &DbRow, items: Vec<NoticeItemRef>) -> StoreResult<Notice> {
    let code: Option<i64> = r.try_get("smtp_code")?;
    Ok(Notice {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        reference: r.try_get("reference")?,
        rung: parse_enum(r.try_get("rung")?)?,
        recipient_email: r.try_get("recipient_email")?,
        recipient_org: r.try_get("recipient_org")?,
        language: r.try_get("language")?,
        state: parse_enum(r.try_get("state")?)?,
        due_at: parse_ts(r.try_get("due_at")?)?,
        lease_until: opt_ts(r.try_get("lease_until")?)?,
        claimed_by: r.try_get("claimed_by")?,
        message_id: r.try_get("message_id")?,
        smtp_code: code
            .map(|c| u16::try_from(c).map_err(|_| StoreError::Corrupt(format!("smtp_code {c}"))))
            .transpose()?,
        smtp_message: r.try_get("smtp_message")?,
        sent_at: opt_ts(r.try_get("sent_at")?)?,
        deferrals: {
            let n: i64 = r.try_get("deferrals")?;
            u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("deferrals {n}")))?
        },
        created_at: parse_ts(r.try_get("created_at")?)?,
        updated_at: parse_ts(r.try_get("updated_at")?)?,
        items,
    })
}

fn observation_row(r: &DbRow) -> StoreResult<Observation> {
    let status: Option<i64> = r.try_get("http_status")?;
    Ok(Observation {
        id: r.try_get("id")?,
        case_id: r.try_get("case_id")?,
        observation: NewObservation {
            at: parse_ts(r.try_get("at")?)?,
            http_status: status
                .map(|c| {
                    u16::try_from(c).map_err(|_| StoreError::Corrupt(format!("http_status {c}")))
                })
                .transpose()?,
            outcome: parse_enum(r.try_get("outcome")?)?,
            detail: r.try_get("detail")?,
            content_type: r.try_get("content_type")?,
            served_sha256: r.try_get("served_sha256")?,
            served_pdq: r.try_get("served_pdq")?,
            distance: u32_of(r.try_get("distance")?, "distance")?,
            final_url: r.try_get("final_url")?,
            error: r.try_get("error")?,
        },
    })
}

fn response_row(r: &DbRow) -> StoreResult<CaseResponse> {
    Ok(CaseResponse {
        id: r.try_get("id")?,
        case_id: r.try_get("case_id")?,
        notice_id: r.try_get("notice_id")?,
        kind: parse_enum(r.try_get("kind")?)?,
        statement: r.try_get("statement")?,
        at: parse_ts(r.try_get("at")?)?,
    })
}

fn escalation_row(r: &DbRow) -> StoreResult<CaseEscalation> {
    Ok(CaseEscalation {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        case_id: r.try_get("case_id")?,
        kind: parse_enum(r.try_get("kind")?)?,
        reason: r.try_get("reason")?,
        created_at: parse_ts(r.try_get("created_at")?)?,
        picked_up_at: opt_ts(r.try_get("picked_up_at")?)?,
    })
}

async fn case_opt(conn: &mut Conn, id: CaseId) -> StoreResult<Option<Case>> {
    sqlx::query("SELECT * FROM takedown_cases WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(case_row)
        .transpose()
}

async fn case_in(conn: &mut Conn, id: CaseId) -> StoreResult<Case> {
    case_opt(conn, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("case {id}")))
}

async fn notice_items(conn: &mut Conn, id: NoticeId) -> StoreResult<Vec<NoticeItemRef>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT case_id, sequence FROM notice_items WHERE notice_id = $1 ORDER BY case_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(case_id, seq)| {
            Ok(NoticeItemRef {
                case_id,
                sequence: u32_of(Some(seq), "sequence")?.unwrap_or(0),
            })
        })
        .collect()
}

async fn notices_of_rows(conn: &mut Conn, rows: &[DbRow]) -> StoreResult<Vec<Notice>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let items = notice_items(conn, id).await?;
        out.push(notice_row(r, items)?);
    }
    Ok(out)
}

async fn notice_opt(conn: &mut Conn, id: NoticeId) -> StoreResult<Option<Notice>> {
    let rows = sqlx::query("SELECT * FROM notices WHERE id = $1")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(notices_of_rows(conn, &rows).await?.pop())
}

async fn notice_in(conn: &mut Conn, id: NoticeId) -> StoreResult<Notice> {
    notice_opt(conn, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("notice {id}")))
}

/// Why a delivery result of `worker` for `notice` was refused: no such notice, or it is not
/// (any more) being sent by that worker.
async fn not_sending(conn: &mut Conn, notice: NoticeId, worker: &str) -> StoreResult<StoreError> {
    Ok(match notice_opt(conn, notice).await? {
        None => StoreError::NotFound(format!("notice {notice}")),
        Some(n) => StoreError::Conflict(format!(
            "notice {notice} is {} (claimed by {:?}), not sending for {worker}",
            n.state, n.claimed_by
        )),
    })
}

/// Host part of a URL (lower case, without user info, port or IPv6 brackets); the
/// registrable domain comes later from attribution.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

// ---------------------------------------------------------------------------------------------
// writes shared by the methods (all inside the caller's write transaction)

/// Writes a case_events row and the audit event for a change of (or without) state.
#[allow(clippy::too_many_arguments)]
async fn log_case(
    conn: &mut Conn,
    aw: &mut AuditWriter,
    actor: &Actor,
    case: &Case,
    from: Option<CaseState>,
    to: CaseState,
    event: &str,
    reason: Option<&str>,
    at: DateTime<Utc>,
    details: serde_json::Value,
) -> StoreResult<()> {
    let now = ts(&at);
    sqlx::query(
        "INSERT INTO case_events (case_id, from_state, to_state, event, actor, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(case.id)
    .bind(from.map(CaseState::as_str))
    .bind(to.as_str())
    .bind(event)
    .bind(&actor.0)
    .bind(reason)
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    let mut d = serde_json::json!({"at": now, "from": from, "to": to, "reason": reason});
    if let (Some(m), serde_json::Value::Object(extra)) = (d.as_object_mut(), details) {
        m.extend(extra);
    }
    aw.append(
        conn,
        Some(case.tenant_id),
        actor,
        &format!("case.{event}"),
        &format!("case:{}", case.id),
        d,
    )
    .await
}

/// Applies one life-cycle event: checks it with [`transition`], updates the state only if it
/// is still the one read (`Err(Conflict)` otherwise), logs it. Side columns are the caller's.
#[allow(clippy::too_many_arguments)]
async fn apply_event(
    conn: &mut Conn,
    aw: &mut AuditWriter,
    actor: &Actor,
    case: &Case,
    ev: CaseEvent,
    reason: Option<&str>,
    at: DateTime<Utc>,
    details: serde_json::Value,
) -> StoreResult<CaseState> {
    let to = transition(case.state, ev).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let n = sqlx::query(
        "UPDATE takedown_cases SET state = $1, updated_at = $2, \
         closed_at = CASE WHEN $1 = 'closed' THEN $2 ELSE closed_at END \
         WHERE id = $3 AND state = $4",
    )
    .bind(to.as_str())
    .bind(ts(&at))
    .bind(case.id)
    .bind(case.state.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(StoreError::Conflict(format!(
            "case {} changed meanwhile",
            case.id
        )));
    }
    log_case(
        conn,
        aw,
        actor,
        case,
        Some(case.state),
        to,
        ev.as_str(),
        reason,
        at,
        details,
    )
    .await?;
    if matches!(
        to,
        CaseState::Removed | CaseState::Forwarded | CaseState::Closed
    ) {
        cancel_orphan_notices(conn, aw, actor, case.id, at).await?;
    }
    Ok(to)
}

/// Starts (or restarts) monitoring: the ladder counts from `at`, and a check is due at once.
async fn start_monitoring(conn: &mut Conn, id: CaseId, at: DateTime<Utc>) -> StoreResult<()> {
    let now = ts(&at);
    sqlx::query(
        "UPDATE takedown_cases SET ladder_since = $1, monitoring_since = COALESCE(monitoring_since, $1), \
         next_check_at = $1, misses = 0 WHERE id = $2",
    )
    .bind(&now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Queued or held notices of which no case is still active (monitoring, police hold,
/// attributing, needs contact) are cancelled: nobody needs them any more.
async fn cancel_orphan_notices(
    conn: &mut Conn,
    aw: &mut AuditWriter,
    actor: &Actor,
    case: CaseId,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "UPDATE notices SET state = 'cancelled', updated_at = $1 \
         WHERE state IN ('queued', 'held') \
         AND id IN (SELECT notice_id FROM notice_items WHERE case_id = $2) \
         AND NOT EXISTS (SELECT 1 FROM notice_items i JOIN takedown_cases c ON c.id = i.case_id \
             WHERE i.notice_id = notices.id \
             AND c.state IN ('monitoring', 'police_hold', 'attributing', 'needs_contact')) \
         RETURNING id, tenant_id",
    )
    .bind(ts(&at))
    .bind(case)
    .fetch_all(&mut *conn)
    .await?;
    for (id, tenant) in rows {
        aw.append(
            conn,
            Some(tenant),
            actor,
            "notice.cancelled",
            &format!("notice:{id}"),
            serde_json::json!({"at": ts(&at), "case_id": case}),
        )
        .await?;
    }
    Ok(())
}

/// Moves notices covering the case from one state to another; audits each; returns the count.
#[allow(clippy::too_many_arguments)]
async fn move_case_notices(
    conn: &mut Conn,
    aw: &mut AuditWriter,
    actor: &Actor,
    case: CaseId,
    from: NoticeState,
    to: NoticeState,
    event: &str,
    at: DateTime<Utc>,
) -> StoreResult<u64> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "UPDATE notices SET state = $1, updated_at = $2 WHERE state = $3 \
         AND id IN (SELECT notice_id FROM notice_items WHERE case_id = $4) RETURNING id, tenant_id",
    )
    .bind(to.as_str())
    .bind(ts(&at))
    .bind(from.as_str())
    .bind(case)
    .fetch_all(&mut *conn)
    .await?;
    for (id, tenant) in &rows {
        aw.append(
            conn,
            Some(*tenant),
            actor,
            &format!("notice.{event}"),
            &format!("notice:{id}"),
            serde_json::json!({"at": ts(&at), "case_id": case}),
        )
        .await?;
    }
    Ok(rows.len() as u64)
}

/// Stores an attribution history row (`found`) and sets the case's current contacts.
#[allow(clippy::too_many_arguments)]
async fn store_attribution(
    conn: &mut Conn,
    case: &Case,
    found: &CaseContacts,
    current: &CaseContacts,
    host: &str,
    registrable_domain: Option<&str>,
    needs_contact: &[String],
    raw: &serde_json::Value,
    at: DateTime<Utc>,
) -> StoreResult<i64> {
    let now = ts(&at);
    let needs = serde_json::to_string(needs_contact)
        .map_err(|e| StoreError::Invalid(format!("needs_contact: {e}")))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO attributions (tenant_id, case_id, url, host, ip, asn, hoster_org, \
         hoster_email, hoster_country, cdn_org, registrar_name, registrar_email, needs_contact, \
         raw, made_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         RETURNING id",
    )
    .bind(case.tenant_id)
    .bind(case.id)
    .bind(&case.url)
    .bind(host)
    .bind(&found.ip)
    .bind(found.asn.map(i64::from))
    .bind(&found.hoster_org)
    .bind(&found.hoster_email)
    .bind(&found.hoster_country)
    .bind(&found.cdn_org)
    .bind(&found.registrar_name)
    .bind(&found.registrar_email)
    .bind(needs)
    .bind(raw.to_string())
    .bind(&now)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE takedown_cases SET host = $1, registrable_domain = COALESCE($2, registrable_domain), \
         hoster_org = $3, hoster_email = $4, hoster_country = $5, asn = $6, ip = $7, cdn_org = $8, \
         cdn_email = $9, registrar_name = $10, registrar_email = $11, site_owner_email = $12, \
         attribution_id = $13, updated_at = $14 WHERE id = $15",
    )
    .bind(host)
    .bind(registrable_domain)
    .bind(&current.hoster_org)
    .bind(&current.hoster_email)
    .bind(&current.hoster_country)
    .bind(current.asn.map(i64::from))
    .bind(&current.ip)
    .bind(&current.cdn_org)
    .bind(&current.cdn_email)
    .bind(&current.registrar_name)
    .bind(&current.registrar_email)
    .bind(&current.site_owner_email)
    .bind(id)
    .bind(&now)
    .bind(case.id)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// The current contacts after a re-attribution of the same hoster: every field found now,
/// the rest as known before; `needs_contact` entries of a rung whose address is known
/// (`hoster:…`, `cdn:…`, `registrar:…`, `site_owner:…`) are resolved.
fn merge_contacts(
    known: &CaseContacts,
    found: &CaseContacts,
    needs_contact: &[String],
) -> (CaseContacts, Vec<String>) {
    let pick = |f: &Option<String>, k: &Option<String>| f.clone().or_else(|| k.clone());
    let merged = CaseContacts {
        hoster_org: pick(&found.hoster_org, &known.hoster_org),
        hoster_email: pick(&found.hoster_email, &known.hoster_email),
        hoster_country: pick(&found.hoster_country, &known.hoster_country),
        asn: found.asn.or(known.asn),
        ip: pick(&found.ip, &known.ip),
        cdn_org: pick(&found.cdn_org, &known.cdn_org),
        cdn_email: pick(&found.cdn_email, &known.cdn_email),
        registrar_name: pick(&found.registrar_name, &known.registrar_name),
        registrar_email: pick(&found.registrar_email, &known.registrar_email),
        site_owner_email: pick(&found.site_owner_email, &known.site_owner_email),
    };
    let needs = needs_contact
        .iter()
        .filter(|n| {
            let known = match n.split(':').next().unwrap_or("") {
                "hoster" => merged.hoster_email.is_some(),
                "cdn" => merged.cdn_email.is_some(),
                "registrar" => merged.registrar_email.is_some(),
                "site_owner" => merged.site_owner_email.is_some(),
                _ => false,
            };
            !known
        })
        .cloned()
        .collect();
    (merged, needs)
}

/// Ladder input for a page of cases (one query for the cases, one for their steps).
async fn ladder_page(
    conn: &mut Conn,
    tenant: TenantId,
    after_id: CaseId,
    limit: u32,
) -> StoreResult<Vec<LadderCase>> {
    let cases = sqlx::query(
        "SELECT * FROM takedown_cases WHERE tenant_id = $1 AND state IN ('monitoring', 'police_hold') \
         AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(tenant)
    .bind(after_id)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(case_row)
    .collect::<StoreResult<Vec<_>>>()?;
    let (Some(first), Some(last)) = (cases.first(), cases.last()) else {
        return Ok(Vec::new());
    };
    // Every step ever taken, cancelled notices included: their (case, rung, sequence) stays
    // taken by the UNIQUE, so the ladder must number past them.
    let steps = sqlx::query(
        "SELECT i.case_id, i.rung, i.sequence, n.created_at AS at FROM notice_items i \
         JOIN notices n ON n.id = i.notice_id \
         JOIN takedown_cases c ON c.id = i.case_id \
         WHERE c.tenant_id = $1 AND i.case_id BETWEEN $2 AND $3 \
         UNION ALL SELECT e.case_id, e.kind AS rung, 0 AS sequence, e.created_at AS at \
         FROM case_escalations e WHERE e.tenant_id = $1 AND e.case_id BETWEEN $2 AND $3",
    )
    .bind(tenant)
    .bind(first.id)
    .bind(last.id)
    .fetch_all(&mut *conn)
    .await?;
    let mut sent: HashMap<CaseId, Vec<SentStep>> = HashMap::new();
    for r in &steps {
        let seq: i64 = r.try_get("sequence")?;
        sent.entry(r.try_get("case_id")?)
            .or_default()
            .push(SentStep {
                rung: parse_enum(r.try_get("rung")?)?,
                sequence: u32_of(Some(seq), "sequence")?.unwrap_or(0),
                at: parse_ts(r.try_get("at")?)?,
            });
    }
    Ok(cases
        .into_iter()
        .map(|case| {
            let ladder = LadderState {
                state: case.state,
                ladder_since: case.ladder_since.unwrap_or(case.updated_at),
                has_site_owner: case.contacts.site_owner_email.is_some(),
                has_registrar: case.contacts.registrar_email.is_some(),
                via_cdn: case.contacts.via_cdn(),
                police_first: case.police_first,
                sent: sent.remove(&case.id).unwrap_or_default(),
            };
            LadderCase { case, ladder }
        })
        .collect())
}

#[async_trait]
impl TakedownStore for Backend {
    async fn takedown_policy(&self, tenant: TenantId) -> StoreResult<TakedownPolicy> {
        let row: Option<String> =
            sqlx::query_scalar("SELECT policy FROM takedown_policies WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_optional(&self.read)
                .await?;
        match row {
            None => Ok(TakedownPolicy::default()),
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                StoreError::Corrupt(format!("takedown policy of tenant {tenant}: {e}"))
            }),
        }
    }

    async fn set_takedown_policy(
        &self,
        actor: &Actor,
        tenant: TenantId,
        p: &TakedownPolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        p.validate()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let json = serde_json::to_value(p).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("tenant {tenant}")));
        }
        sqlx::query(
            "INSERT INTO takedown_policies (tenant_id, policy, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(json.to_string())
        .bind(ts(&now))
        .execute(&mut *tx)
        .await?;
        aw.append(
            &mut tx,
            Some(tenant),
            actor,
            "tenant.takedown_policy",
            &format!("tenant:{tenant}"),
            json,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn items_without_case(&self, limit: u32) -> StoreResult<Vec<CaselessItem>> {
        let rows: Vec<CaselessItem> = sqlx::query_as(
            "SELECT i.tenant_id, i.report_id, i.id, i.url, r.url FROM report_items i \
             JOIN reports r ON r.id = i.report_id \
             WHERE i.state = 'notice_pending' \
             AND NOT EXISTS (SELECT 1 FROM takedown_cases c WHERE c.item_id = i.id) \
             ORDER BY i.id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        Ok(rows)
    }

    async fn open_case(&self, actor: &Actor, c: NewCase, now: DateTime<Utc>) -> StoreResult<Case> {
        let mut tx = self.begin_write().await?;
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM takedown_cases WHERE item_id = $1")
                .bind(c.item_id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(id) = existing {
            let case = case_in(&mut tx, id).await?;
            tx.commit().await?;
            return Ok(case);
        }
        let item: Option<(i64, i64, String)> =
            sqlx::query_as("SELECT tenant_id, report_id, state FROM report_items WHERE id = $1")
                .bind(c.item_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((tenant, report, state)) = item else {
            return Err(StoreError::NotFound(format!("item {}", c.item_id)));
        };
        if tenant != c.tenant_id || report != c.report_id {
            return Err(StoreError::Invalid(format!(
                "item {} is not in report {} of tenant {}",
                c.item_id, c.report_id, c.tenant_id
            )));
        }
        if state != "notice_pending" {
            return Err(StoreError::Invalid(format!(
                "item {} is {state}, not notice_pending",
                c.item_id
            )));
        }
        let mut aw = AuditWriter::start(&mut tx).await?;
        let at = ts(&now);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO takedown_cases (tenant_id, report_id, item_id, url, page_url, host, state, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'attributing', $7, $7) RETURNING id",
        )
        .bind(c.tenant_id)
        .bind(c.report_id)
        .bind(c.item_id)
        .bind(&c.url)
        .bind(&c.page_url)
        .bind(host_of(&c.url))
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;
        let case = case_in(&mut tx, id).await?;
        log_case(
            &mut tx,
            &mut aw,
            actor,
            &case,
            None,
            CaseState::Attributing,
            "opened",
            None,
            now,
            serde_json::json!({"item_id": c.item_id, "report_id": c.report_id, "url": c.url}),
        )
        .await?;
        if c.police_first {
            apply_event(
                &mut tx,
                &mut aw,
                actor,
                &case,
                CaseEvent::PoliceFirst,
                None,
                now,
                serde_json::json!({}),
            )
            .await?;
            sqlx::query(
                "UPDATE takedown_cases SET police_first = 1, ladder_since = $1 WHERE id = $2",
            )
            .bind(&at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let case = case_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(case)
    }

    async fn case(&self, id: CaseId) -> StoreResult<Option<Case>> {
        let mut c = self.read.acquire().await?;
        case_opt(&mut c, id).await
    }

    async fn cases(&self, tenant: TenantId, f: CaseFilter) -> StoreResult<Vec<Case>> {
        sqlx::query(
            "SELECT * FROM takedown_cases WHERE tenant_id = $1 AND ($2 IS NULL OR state = $2) \
             AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(tenant)
        .bind(f.state.map(CaseState::as_str))
        .bind(f.after_id)
        .bind(i64::from(f.limit))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(case_row)
        .collect()
    }

    async fn case_counts(&self, tenant: TenantId) -> StoreResult<Vec<(CaseState, u64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, COUNT(*) FROM takedown_cases WHERE tenant_id = $1 GROUP BY state ORDER BY state",
        )
        .bind(tenant)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(s, n)| Ok((parse_enum(&s)?, u64::try_from(n).unwrap_or(0))))
            .collect()
    }

    async fn case_timeline(&self, id: CaseId) -> StoreResult<Option<CaseTimeline>> {
        let mut c = self.read.acquire().await?;
        let Some(case) = case_opt(&mut c, id).await? else {
            return Ok(None);
        };
        let events = sqlx::query("SELECT * FROM case_events WHERE case_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                let from: Option<String> = r.try_get("from_state")?;
                Ok(CaseEventRow {
                    id: r.try_get("id")?,
                    case_id: r.try_get("case_id")?,
                    from_state: from.as_deref().map(parse_enum).transpose()?,
                    to_state: parse_enum(r.try_get("to_state")?)?,
                    event: r.try_get("event")?,
                    actor: r.try_get("actor")?,
                    reason: r.try_get("reason")?,
                    at: parse_ts(r.try_get("at")?)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let attributions = sqlx::query("SELECT * FROM attributions WHERE case_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                let needs: String = r.try_get("needs_contact")?;
                let raw: String = r.try_get("raw")?;
                Ok(AttributionRow {
                    id: r.try_get("id")?,
                    case_id: r.try_get("case_id")?,
                    url: r.try_get("url")?,
                    host: r.try_get("host")?,
                    contacts: CaseContacts {
                        hoster_org: r.try_get("hoster_org")?,
                        hoster_email: r.try_get("hoster_email")?,
                        hoster_country: r.try_get("hoster_country")?,
                        asn: u32_of(r.try_get("asn")?, "asn")?,
                        ip: r.try_get("ip")?,
                        cdn_org: r.try_get("cdn_org")?,
                        registrar_name: r.try_get("registrar_name")?,
                        registrar_email: r.try_get("registrar_email")?,
                        ..CaseContacts::default()
                    },
                    needs_contact: serde_json::from_str(&needs)
                        .map_err(|e| StoreError::Corrupt(format!("needs_contact: {e}")))?,
                    raw: serde_json::from_str(&raw)
                        .map_err(|e| StoreError::Corrupt(format!("attribution raw: {e}")))?,
                    made_at: parse_ts(r.try_get("made_at")?)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let notice_rows = sqlx::query(
            "SELECT * FROM notices WHERE id IN (SELECT notice_id FROM notice_items WHERE case_id = $1) \
             ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut *c)
        .await?;
        let notices = notices_of_rows(&mut c, &notice_rows).await?;
        let mut observations = sqlx::query(
            "SELECT * FROM observations WHERE case_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(id)
        .bind(TIMELINE_OBSERVATIONS)
        .fetch_all(&mut *c)
        .await?
        .iter()
        .map(observation_row)
        .collect::<StoreResult<Vec<_>>>()?;
        observations.reverse();
        let responses = sqlx::query("SELECT * FROM case_responses WHERE case_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(response_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(CaseTimeline {
            case,
            events,
            attributions,
            notices,
            observations,
            responses,
        }))
    }

    async fn record_attribution(
        &self,
        actor: &Actor,
        case_id: CaseId,
        a: NewAttribution,
    ) -> StoreResult<(Case, AttributionOutcome)> {
        let mut tx = self.begin_write().await?;
        let case = case_in(&mut tx, case_id).await?;
        if matches!(case.state, CaseState::Closed | CaseState::Forwarded) {
            tx.commit().await?;
            return Ok((case, AttributionOutcome::Unchanged));
        }
        let mut aw = AuditWriter::start(&mut tx).await?;
        let at = a.made_at;
        let before_key = case.attribution_id.and_then(|_| case.contacts.hoster_key());
        let after_key = a.contacts.hoster_key();
        let hoster_changed = before_key.is_some() && after_key.is_some() && before_key != after_key;
        // Same hoster (or nothing found this time): what we knew stays unless replaced, so a
        // re-check neither undoes an analyst's fix nor parks a case on a transient failure.
        let (current, needs_contact) =
            if case.attribution_id.is_some() && (after_key.is_none() || after_key == before_key) {
                merge_contacts(&case.contacts, &a.contacts, &a.needs_contact)
            } else {
                (a.contacts.clone(), a.needs_contact.clone())
            };
        let c = &current;
        let abroad = match (&a.tenant_country, &c.hoster_country) {
            (Some(home), Some(there)) if !home.eq_ignore_ascii_case(there) => {
                Some(there.to_ascii_uppercase())
            }
            _ => None,
        };
        let missing = !needs_contact.is_empty() || !c.has_first_recipient();
        let attribution_id = store_attribution(
            &mut tx,
            &case,
            &a.contacts,
            c,
            &a.host,
            a.registrable_domain.as_deref(),
            &a.needs_contact,
            &a.raw,
            at,
        )
        .await?;
        let details = serde_json::json!({
            "attribution_id": attribution_id, "hoster_org": c.hoster_org, "asn": c.asn,
            "hoster_country": c.hoster_country, "needs_contact": needs_contact,
        });
        use CaseState as S;
        let outcome = match (case.state, abroad) {
            (S::Attributing | S::Monitoring | S::NeedsContact, Some(country)) => {
                apply_event(
                    &mut tx,
                    &mut aw,
                    actor,
                    &case,
                    CaseEvent::MovedAbroad,
                    None,
                    at,
                    details,
                )
                .await?;
                sqlx::query(
                    "UPDATE takedown_cases SET forward_country = $1, next_check_at = NULL WHERE id = $2",
                )
                .bind(&country)
                .bind(case.id)
                .execute(&mut *tx)
                .await?;
                AttributionOutcome::MovedAbroad { country }
            }
            (S::Attributing | S::Monitoring, None) if missing => {
                apply_event(
                    &mut tx,
                    &mut aw,
                    actor,
                    &case,
                    CaseEvent::ContactMissing,
                    None,
                    at,
                    details,
                )
                .await?;
                // Parked cases are still checked: the material may go without a notice.
                if case.state == S::Attributing {
                    sqlx::query(
                        "UPDATE takedown_cases SET monitoring_since = COALESCE(monitoring_since, $1), \
                         next_check_at = $1 WHERE id = $2",
                    )
                    .bind(ts(&at))
                    .bind(case.id)
                    .execute(&mut *tx)
                    .await?;
                }
                AttributionOutcome::NeedsContact
            }
            (S::NeedsContact, None) if missing => AttributionOutcome::NeedsContact,
            (S::Attributing | S::NeedsContact, None) => {
                apply_event(
                    &mut tx,
                    &mut aw,
                    actor,
                    &case,
                    CaseEvent::Attributed,
                    None,
                    at,
                    details,
                )
                .await?;
                start_monitoring(&mut tx, case.id, at).await?;
                AttributionOutcome::Monitoring
            }
            (S::Monitoring, None) if hoster_changed => {
                sqlx::query(
                    "UPDATE takedown_cases SET ladder_since = $1, hoster_changed_at = $1 WHERE id = $2",
                )
                .bind(ts(&at))
                .bind(case.id)
                .execute(&mut *tx)
                .await?;
                log_case(
                    &mut tx,
                    &mut aw,
                    actor,
                    &case,
                    Some(S::Monitoring),
                    S::Monitoring,
                    "hoster_changed",
                    None,
                    at,
                    serde_json::json!({"before": before_key, "after": after_key, "details": details}),
                )
                .await?;
                AttributionOutcome::HosterChanged
            }
            _ => {
                if hoster_changed {
                    // Not monitored right now (removed, police hold): remember the change;
                    // monitoring restarts the ladder anyway.
                    sqlx::query("UPDATE takedown_cases SET hoster_changed_at = $1 WHERE id = $2")
                        .bind(ts(&at))
                        .bind(case.id)
                        .execute(&mut *tx)
                        .await?;
                }
                AttributionOutcome::Unchanged
            }
        };
        let case = case_in(&mut tx, case_id).await?;
        tx.commit().await?;
        Ok((case, outcome))
    }

    async fn set_contacts(
        &self,
        actor: &Actor,
        case_id: CaseId,
        contacts: CaseContacts,
        now: DateTime<Utc>,
    ) -> StoreResult<Case> {
        if !contacts.has_first_recipient() {
            return Err(StoreError::Invalid(
                "a hoster abuse address (or a CDN with its address) is needed".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        let case = case_in(&mut tx, case_id).await?;
        if matches!(case.state, CaseState::Closed | CaseState::Forwarded) {
            return Err(StoreError::Invalid(format!(
                "case {case_id} is {}",
                case.state
            )));
        }
        let mut aw = AuditWriter::start(&mut tx).await?;
        let raw = serde_json::json!({"manual": true, "actor": actor.0});
        let host = case.host.clone();
        store_attribution(
            &mut tx,
            &case,
            &contacts,
            &contacts,
            &host,
            None,
            &[],
            &raw,
            now,
        )
        .await?;
        let details = serde_json::json!({"contacts": contacts});
        if case.state == CaseState::NeedsContact {
            apply_event(
                &mut tx,
                &mut aw,
                actor,
                &case,
                CaseEvent::ContactResolved,
                None,
                now,
                details,
            )
            .await?;
            start_monitoring(&mut tx, case.id, now).await?;
        } else {
            log_case(
                &mut tx,
                &mut aw,
                actor,
                &case,
                Some(case.state),
                case.state,
                "contacts_set",
                None,
                now,
                details,
            )
            .await?;
        }
        let case = case_in(&mut tx, case_id).await?;
        tx.commit().await?;
        Ok(case)
    }

    async fn set_police_first(
        &self,
        actor: &Actor,
        case_id: CaseId,
        now: DateTime<Utc>,
    ) -> StoreResult<Case> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let case = case_in(&mut tx, case_id).await?;
        apply_event(
            &mut tx,
            &mut aw,
            actor,
            &case,
            CaseEvent::PoliceFirst,
            None,
            now,
            serde_json::json!({}),
        )
        .await?;
        sqlx::query("UPDATE takedown_cases SET police_first = 1, ladder_since = $1 WHERE id = $2")
            .bind(ts(&now))
            .bind(case_id)
            .execute(&mut *tx)
            .await?;
        move_case_notices(
            &mut tx,
            &mut aw,
            actor,
            case_id,
            NoticeState::Queued,
            NoticeState::Held,
            "held",
            now,
        )
        .await?;
        let case = case_in(&mut tx, case_id).await?;
        tx.commit().await?;
        Ok(case)
    }

    async fn release_police_hold(
        &self,
        actor: &Actor,
        case_id: CaseId,
        now: DateTime<Utc>,
    ) -> StoreResult<Case> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let case = case_in(&mut tx, case_id).await?;
        apply_event(
            &mut tx,
            &mut aw,
            actor,
            &case,
            CaseEvent::PoliceReleased,
            None,
            now,
            serde_json::json!({}),
        )
        .await?;
        move_case_notices(
            &mut tx,
            &mut aw,
            actor,
            case_id,
            NoticeState::Held,
            NoticeState::Queued,
            "released",
            now,
        )
        .await?;
        let case = case_in(&mut tx, case_id).await?;
        tx.commit().await?;
        Ok(case)
    }

    async fn close_case(
        &self,
        actor: &Actor,
        case_id: CaseId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Case> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let case = case_in(&mut tx, case_id).await?;
        apply_event(
            &mut tx,
            &mut aw,
            actor,
            &case,
            CaseEvent::Close,
            Some(reason),
            now,
            serde_json::json!({}),
        )
        .await?;
        sqlx::query("UPDATE takedown_cases SET next_check_at = NULL WHERE id = $1")
            .bind(case_id)
            .execute(&mut *tx)
            .await?;
        let case = case_in(&mut tx, case_id).await?;
        tx.commit().await?;
        Ok(case)
    }

    async fn due_checks(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<CaseForCheck>> {
        // Bounded so the id list stays far below SQLite's bind-parameter limit.
        let limit = limit.min(5_000);
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT c.*, i.sha256 AS item_sha256, i.pdq AS item_pdq FROM takedown_cases c \
             LEFT JOIN report_items i ON i.id = c.item_id \
             WHERE c.state IN ('monitoring', 'removed', 'needs_contact') AND c.next_check_at <= $1 \
             ORDER BY c.next_check_at, c.id LIMIT $2",
        )
        .bind(ts(&now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let lease_until = now + Duration::minutes(CHECK_LEASE_MINUTES);
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut case = case_row(r)?;
            case.next_check_at = Some(lease_until);
            out.push(CaseForCheck {
                case,
                sha256: r.try_get("item_sha256")?,
                pdq: r.try_get("item_pdq")?,
                pdq_radius: DEFAULT_PDQ_RADIUS,
            });
        }
        let sql = format!(
            "UPDATE takedown_cases SET next_check_at = $1 WHERE id IN ({})",
            placeholders(2, out.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(ts(&lease_until));
        for c in &out {
            q = q.bind(c.case.id);
        }
        q.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn record_observation(
        &self,
        case_id: CaseId,
        o: NewObservation,
        policy: &TakedownPolicy,
    ) -> StoreResult<ObservationResult> {
        let mut tx = self.begin_write().await?;
        let case = case_in(&mut tx, case_id).await?;
        sqlx::query(
            "INSERT INTO observations (case_id, at, http_status, outcome, detail, content_type, \
             served_sha256, served_pdq, distance, final_url, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(case_id)
        .bind(ts(&o.at))
        .bind(o.http_status.map(i64::from))
        .bind(o.outcome.as_str())
        .bind(&o.detail)
        .bind(&o.content_type)
        .bind(&o.served_sha256)
        .bind(&o.served_pdq)
        .bind(o.distance.map(i64::from))
        .bind(&o.final_url)
        .bind(&o.error)
        .execute(&mut *tx)
        .await?;
        // Only the trailing miss streak matters: the observations after the last `online`
        // (found through the partial index), newest VERDICT_WINDOW of them.
        let mut history = sqlx::query(
            "SELECT at, outcome FROM observations WHERE case_id = $1 AND at >= COALESCE( \
             (SELECT MAX(at) FROM observations WHERE case_id = $1 AND outcome = 'online'), '') \
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(case_id)
        .bind(VERDICT_WINDOW)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(ObservationPoint {
                at: parse_ts(r.try_get("at")?)?,
                outcome: parse_enum(r.try_get("outcome")?)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        history.reverse();
        let verdict = online_verdict(&history, policy);
        if !case.state.is_checked() {
            // A late observation of a closed/forwarded case: kept, nothing else changes.
            tx.commit().await?;
            return Ok(ObservationResult {
                case,
                verdict,
                changed: None,
            });
        }
        let mut aw = AuditWriter::start(&mut tx).await?;
        let actor = Actor::system();
        let mut changed = None;
        let mut state = case.state;
        match (case.state, verdict) {
            (
                CaseState::Monitoring,
                OnlineVerdict::Offline {
                    removed_at,
                    verified_at,
                },
            ) => {
                state = apply_event(
                    &mut tx,
                    &mut aw,
                    &actor,
                    &case,
                    CaseEvent::OfflineVerified,
                    None,
                    o.at,
                    serde_json::json!({"removed_at": ts(&removed_at), "verified_at": ts(&verified_at)}),
                )
                .await?;
                sqlx::query(
                    "UPDATE takedown_cases SET removed_at = $1, offline_verified_at = $2 WHERE id = $3",
                )
                .bind(ts(&removed_at))
                .bind(ts(&verified_at))
                .bind(case_id)
                .execute(&mut *tx)
                .await?;
                changed = Some(state);
            }
            (CaseState::Removed, OnlineVerdict::Online) => {
                state = apply_event(
                    &mut tx,
                    &mut aw,
                    &actor,
                    &case,
                    CaseEvent::Reappeared,
                    None,
                    o.at,
                    serde_json::json!({"final_url": o.final_url, "detail": o.detail}),
                )
                .await?;
                // The ladder starts again: the hoster hears about it at once.
                sqlx::query(
                    "UPDATE takedown_cases SET reappeared_at = $1, ladder_since = $1 WHERE id = $2",
                )
                .bind(ts(&o.at))
                .bind(case_id)
                .execute(&mut *tx)
                .await?;
                changed = Some(state);
            }
            _ => {}
        }
        let misses = match verdict {
            OnlineVerdict::Online => 0,
            OnlineVerdict::Pending { misses } => misses,
            OnlineVerdict::Offline { .. } => policy.offline_misses,
        };
        let pending = matches!(verdict, OnlineVerdict::Pending { .. });
        let next = match state {
            CaseState::Removed => o.at + Duration::minutes(policy.check_interval_minutes.max(1)),
            _ => next_check_at(case.monitoring_since.unwrap_or(o.at), o.at, pending, policy),
        };
        sqlx::query(
            "UPDATE takedown_cases SET misses = $1, next_check_at = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(i64::from(misses))
        .bind(ts(&next))
        .bind(ts(&o.at))
        .bind(case_id)
        .execute(&mut *tx)
        .await?;
        let case = case_in(&mut tx, case_id).await?;
        tx.commit().await?;
        Ok(ObservationResult {
            case,
            verdict,
            changed,
        })
    }

    async fn ladder_cases(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<LadderCase>> {
        self.ladder_cases_after(tenant, 0, limit).await
    }

    async fn ladder_cases_after(
        &self,
        tenant: TenantId,
        after_id: CaseId,
        limit: u32,
    ) -> StoreResult<Vec<LadderCase>> {
        let mut c = self.read.acquire().await?;
        ladder_page(&mut c, tenant, after_id, limit).await
    }

    async fn enqueue_notice(
        &self,
        actor: &Actor,
        n: NewNotice,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Notice>> {
        if !n.rung.is_email() {
            return Err(StoreError::Invalid(format!(
                "{} is not an e-mail rung (use escalate_case)",
                n.rung
            )));
        }
        if n.items.is_empty() {
            return Err(StoreError::Invalid(
                "a notice needs at least one case".into(),
            ));
        }
        let email = n.recipient_email.trim();
        if email.is_empty() || !email.contains('@') || email.chars().any(char::is_control) {
            return Err(StoreError::Invalid(format!(
                "recipient {:?} is not an e-mail address",
                n.recipient_email
            )));
        }
        let mut seen = std::collections::HashSet::new();
        if !n.items.iter().all(|(c, _)| seen.insert(*c)) {
            return Err(StoreError::Invalid(
                "a case appears twice in one notice".into(),
            ));
        }
        let prefix = self.report_policy(n.tenant_id).await?.reference_prefix;
        let mut tx = self.begin_write().await?;
        for (case_id, seq) in &n.items {
            let row: Option<(i64, String)> =
                sqlx::query_as("SELECT tenant_id, state FROM takedown_cases WHERE id = $1")
                    .bind(case_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match row {
                None => return Err(StoreError::NotFound(format!("case {case_id}"))),
                Some((t, _)) if t != n.tenant_id => {
                    return Err(StoreError::Invalid(format!(
                        "case {case_id} is not in tenant {}",
                        n.tenant_id
                    )));
                }
                // Removed, forwarded or closed since the ladder looked: nothing to send.
                Some((_, state))
                    if matches!(state.as_str(), "removed" | "forwarded" | "closed") =>
                {
                    return Ok(None);
                }
                Some(_) => {}
            }
            let taken: Option<i64> = sqlx::query_scalar(
                "SELECT notice_id FROM notice_items WHERE case_id = $1 AND rung = $2 AND sequence = $3",
            )
            .bind(case_id)
            .bind(n.rung.as_str())
            .bind(i64::from(*seq))
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                // Dropping the transaction rolls back: nothing written.
                return Ok(None);
            }
        }
        // One writer (BEGIN IMMEDIATE), so max + 1 is free; the id is in the reference.
        let id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM notices")
            .fetch_one(&mut *tx)
            .await?;
        let reference = format!("{prefix}-N-{id}");
        let state = if n.held {
            NoticeState::Held
        } else {
            NoticeState::Queued
        };
        let at = ts(&now);
        sqlx::query(
            "INSERT INTO notices (id, tenant_id, reference, rung, recipient_email, recipient_org, \
             language, state, due_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(id)
        .bind(n.tenant_id)
        .bind(&reference)
        .bind(n.rung.as_str())
        .bind(email)
        .bind(&n.recipient_org)
        .bind(&n.language)
        .bind(state.as_str())
        .bind(ts(&n.due_at))
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        for (case_id, seq) in &n.items {
            let r = sqlx::query(
                "INSERT INTO notice_items (notice_id, case_id, rung, sequence) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(case_id)
            .bind(n.rung.as_str())
            .bind(i64::from(*seq))
            .execute(&mut *tx)
            .await;
            match r {
                Ok(_) => {}
                // Checked above inside the same transaction; kept as the last line of defence.
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        let mut aw = AuditWriter::start(&mut tx).await?;
        aw.append(
            &mut tx,
            Some(n.tenant_id),
            actor,
            &format!("notice.{}", state.as_str()),
            &format!("notice:{id}"),
            serde_json::json!({
                "at": at, "reference": reference, "rung": n.rung, "recipient": email,
                "due_at": ts(&n.due_at), "items": n.items,
            }),
        )
        .await?;
        let notice = notice_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Some(notice))
    }

    async fn claim_notices(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Notice>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let at = ts(&now);
        // Conditional on `queued` inside the statement: two workers cannot both claim one.
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "UPDATE notices SET state = 'sending', lease_until = $1, claimed_by = $2, updated_at = $3 \
             WHERE id IN (SELECT id FROM notices WHERE state = 'queued' AND due_at <= $3 \
             ORDER BY due_at, id LIMIT $4) AND state = 'queued' RETURNING id, tenant_id",
        )
        .bind(ts(&(now + lease)))
        .bind(worker)
        .bind(&at)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let mut out = Vec::with_capacity(rows.len());
        let system = Actor::system();
        for (id, tenant) in rows {
            aw.append(
                &mut tx,
                Some(tenant),
                &system,
                "notice.sending",
                &format!("notice:{id}"),
                serde_json::json!({"at": at, "worker": worker}),
            )
            .await?;
            out.push(notice_in(&mut tx, id).await?);
        }
        tx.commit().await?;
        out.sort_by(|a, b| a.due_at.cmp(&b.due_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn record_delivery(
        &self,
        notice: NoticeId,
        worker: &str,
        d: Delivery,
    ) -> StoreResult<Notice> {
        let mut tx = self.begin_write().await?;
        let state = if d.accepted {
            NoticeState::Sent
        } else {
            NoticeState::Rejected
        };
        let at = ts(&d.at);
        let row: Option<(i64, String)> = sqlx::query_as(
            "UPDATE notices SET state = $1, message_id = $2, smtp_code = $3, smtp_message = $4, \
             sent_at = CASE WHEN $1 = 'sent' THEN $5 ELSE sent_at END, lease_until = NULL, updated_at = $5 \
             WHERE id = $6 AND claimed_by = $7 AND state IN ('sending', 'delivery_unknown') \
             RETURNING tenant_id, state",
        )
        .bind(state.as_str())
        .bind(&d.message_id)
        .bind(d.smtp_code.map(i64::from))
        .bind(&d.smtp_message)
        .bind(&at)
        .bind(notice)
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((tenant, _)) = row else {
            return Err(not_sending(&mut tx, notice, worker).await?);
        };
        let mut aw = AuditWriter::start(&mut tx).await?;
        aw.append(
            &mut tx,
            Some(tenant),
            &Actor(format!("worker:{worker}")),
            &format!("notice.{}", state.as_str()),
            &format!("notice:{notice}"),
            serde_json::json!({
                "at": at, "message_id": d.message_id, "smtp_code": d.smtp_code,
                "smtp_message": d.smtp_message,
            }),
        )
        .await?;
        let n = notice_in(&mut tx, notice).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn defer_delivery(
        &self,
        notice: NoticeId,
        worker: &str,
        d: Delivery,
        retry_at: DateTime<Utc>,
    ) -> StoreResult<Notice> {
        let mut tx = self.begin_write().await?;
        let at = ts(&d.at);
        let retry = ts(&retry_at);
        let row: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE notices SET state = 'queued', due_at = $1, deferrals = deferrals + 1, \
             smtp_code = $2, smtp_message = $3, lease_until = NULL, updated_at = $4 \
             WHERE id = $5 AND claimed_by = $6 AND state IN ('sending', 'delivery_unknown') \
             RETURNING tenant_id, deferrals",
        )
        .bind(&retry)
        .bind(d.smtp_code.map(i64::from))
        .bind(&d.smtp_message)
        .bind(&at)
        .bind(notice)
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((tenant, deferrals)) = row else {
            return Err(not_sending(&mut tx, notice, worker).await?);
        };
        let mut aw = AuditWriter::start(&mut tx).await?;
        aw.append(
            &mut tx,
            Some(tenant),
            &Actor(format!("worker:{worker}")),
            "notice.deferred",
            &format!("notice:{notice}"),
            serde_json::json!({
                "at": at, "retry_at": retry, "deferrals": deferrals,
                "smtp_code": d.smtp_code, "smtp_message": d.smtp_message,
            }),
        )
        .await?;
        let n = notice_in(&mut tx, notice).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn recover_stuck_notices(&self, now: DateTime<Utc>) -> StoreResult<Vec<Notice>> {
        let mut tx = self.begin_write().await?;
        let at = ts(&now);
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "UPDATE notices SET state = 'delivery_unknown', updated_at = $1 \
             WHERE state = 'sending' AND lease_until < $1 RETURNING id, tenant_id",
        )
        .bind(&at)
        .fetch_all(&mut *tx)
        .await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let system = Actor::system();
        let mut out = Vec::with_capacity(rows.len());
        for (id, tenant) in rows {
            aw.append(
                &mut tx,
                Some(tenant),
                &system,
                "notice.delivery_unknown",
                &format!("notice:{id}"),
                serde_json::json!({"at": at}),
            )
            .await?;
            out.push(notice_in(&mut tx, id).await?);
        }
        tx.commit().await?;
        out.sort_by_key(|n| n.id);
        Ok(out)
    }

    async fn resolve_unknown_notice(
        &self,
        actor: &Actor,
        notice: NoticeId,
        requeue: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Notice> {
        let mut tx = self.begin_write().await?;
        let at = ts(&now);
        let sql = if requeue {
            "UPDATE notices SET state = 'queued', due_at = $1, lease_until = NULL, claimed_by = NULL, \
             updated_at = $1 WHERE id = $2 AND state = 'delivery_unknown' RETURNING tenant_id"
        } else {
            "UPDATE notices SET state = 'sent', sent_at = COALESCE(sent_at, $1), lease_until = NULL, \
             smtp_message = COALESCE(smtp_message, 'confirmed sent by a human'), updated_at = $1 \
             WHERE id = $2 AND state = 'delivery_unknown' RETURNING tenant_id"
        };
        let tenant: Option<i64> = sqlx::query_scalar(sql)
            .bind(&at)
            .bind(notice)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(tenant) = tenant else {
            return Err(match notice_opt(&mut tx, notice).await? {
                None => StoreError::NotFound(format!("notice {notice}")),
                Some(n) => StoreError::Invalid(format!(
                    "notice {notice} is {}, not delivery_unknown",
                    n.state
                )),
            });
        };
        let mut aw = AuditWriter::start(&mut tx).await?;
        aw.append(
            &mut tx,
            Some(tenant),
            actor,
            if requeue {
                "notice.requeued"
            } else {
                "notice.confirmed_sent"
            },
            &format!("notice:{notice}"),
            serde_json::json!({"at": at}),
        )
        .await?;
        let n = notice_in(&mut tx, notice).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn release_held_notices(
        &self,
        actor: &Actor,
        case_id: CaseId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let case = case_in(&mut tx, case_id).await?;
        if case.state == CaseState::PoliceHold {
            return Err(StoreError::Invalid(format!(
                "case {case_id} is in police hold: release the hold first"
            )));
        }
        let mut aw = AuditWriter::start(&mut tx).await?;
        let n = move_case_notices(
            &mut tx,
            &mut aw,
            actor,
            case_id,
            NoticeState::Held,
            NoticeState::Queued,
            "released",
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn notice(&self, id: NoticeId) -> StoreResult<Option<Notice>> {
        let mut c = self.read.acquire().await?;
        notice_opt(&mut c, id).await
    }

    async fn notice_by_reference(&self, reference: &str) -> StoreResult<Option<Notice>> {
        let mut c = self.read.acquire().await?;
        let rows = sqlx::query("SELECT * FROM notices WHERE reference = $1")
            .bind(reference)
            .fetch_all(&mut *c)
            .await?;
        Ok(notices_of_rows(&mut c, &rows).await?.pop())
    }

    async fn notices(
        &self,
        tenant: TenantId,
        state: Option<NoticeState>,
        limit: u32,
    ) -> StoreResult<Vec<Notice>> {
        let mut c = self.read.acquire().await?;
        let rows = sqlx::query(
            "SELECT * FROM notices WHERE tenant_id = $1 AND ($2 IS NULL OR state = $2) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(tenant)
        .bind(state.map(NoticeState::as_str))
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await?;
        notices_of_rows(&mut c, &rows).await
    }

    async fn org_notices(
        &self,
        tenant: TenantId,
        org_name: &str,
        limit: u32,
    ) -> StoreResult<Vec<Notice>> {
        let mut c = self.read.acquire().await?;
        let rows = sqlx::query(
            "SELECT * FROM notices WHERE tenant_id = $1 AND state = $2 \
             AND LOWER(TRIM(recipient_org)) = LOWER(TRIM($3)) ORDER BY id DESC LIMIT $4",
        )
        .bind(tenant)
        .bind(NoticeState::Sent.as_str())
        .bind(org_name)
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await?;
        notices_of_rows(&mut c, &rows).await
    }

    async fn notice_responses(&self, notice: NoticeId) -> StoreResult<Vec<CaseResponse>> {
        let mut c = self.read.acquire().await?;
        sqlx::query("SELECT * FROM case_responses WHERE notice_id = $1 ORDER BY id")
            .bind(notice)
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(response_row)
            .collect()
    }

    async fn record_response(
        &self,
        actor: &Actor,
        notice: NoticeId,
        case: Option<CaseId>,
        kind: ResponseKind,
        statement: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<CaseResponse>> {
        if let Some(s) = &statement
            && (s.len() > 10_000
                || s.chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t'))
        {
            return Err(StoreError::Invalid(
                "statement must be at most 10,000 printable characters".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        let n = notice_in(&mut tx, notice).await?;
        let cases: Vec<CaseId> = match case {
            None => n.items.iter().map(|i| i.case_id).collect(),
            Some(c) if n.items.iter().any(|i| i.case_id == c) => vec![c],
            Some(c) => {
                return Err(StoreError::Invalid(format!(
                    "case {c} is not in notice {}",
                    n.reference
                )));
            }
        };
        let at = ts(&now);
        let mut out = Vec::with_capacity(cases.len());
        for c in &cases {
            let row = sqlx::query(
                "INSERT INTO case_responses (case_id, notice_id, kind, statement, at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING *",
            )
            .bind(c)
            .bind(notice)
            .bind(kind.as_str())
            .bind(&statement)
            .bind(&at)
            .fetch_one(&mut *tx)
            .await?;
            out.push(response_row(&row)?);
        }
        let mut aw = AuditWriter::start(&mut tx).await?;
        aw.append(
            &mut tx,
            Some(n.tenant_id),
            actor,
            &format!("notice.{}", kind.as_str()),
            &format!("notice:{notice}"),
            serde_json::json!({"at": at, "cases": cases, "statement": statement}),
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn escalate_case(
        &self,
        actor: &Actor,
        case_id: CaseId,
        kind: CaseEscalationKind,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let case = case_in(&mut tx, case_id).await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO case_escalations (tenant_id, case_id, kind, reason, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (case_id, kind) DO NOTHING RETURNING id",
        )
        .bind(case.tenant_id)
        .bind(case_id)
        .bind(kind.as_str())
        .bind(reason)
        .bind(ts(&now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(false);
        };
        let mut aw = AuditWriter::start(&mut tx).await?;
        log_case(
            &mut tx,
            &mut aw,
            actor,
            &case,
            Some(case.state),
            case.state,
            &format!("escalated_{}", kind.as_str()),
            Some(reason),
            now,
            serde_json::json!({"escalation_id": id}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn case_escalations(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<CaseEscalation>> {
        sqlx::query("SELECT * FROM case_escalations WHERE tenant_id = $1 ORDER BY id LIMIT $2")
            .bind(tenant)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(escalation_row)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_urls() {
        for (url, host) in [
            ("https://Img.Example.co.uk/a/b.jpg", "img.example.co.uk"),
            ("http://user:pw@host.test:8080/x?y#z", "host.test"),
            ("https://[2001:db8::1]:443/p", "2001:db8::1"),
            ("https://example.test./", "example.test"),
            ("https://example.test", "example.test"),
        ] {
            assert_eq!(host_of(url), host, "{url}");
        }
    }

    #[test]
    fn cdn_convention() {
        let mut c = CaseContacts {
            cdn_org: Some("CDN Inc".into()),
            cdn_email: Some("abuse@cdn.test".into()),
            ..CaseContacts::default()
        };
        assert!(c.via_cdn() && c.has_first_recipient());
        c.hoster_org = Some("CDN Inc".into());
        c.hoster_email = Some("abuse@cdn.test".into());
        assert!(c.via_cdn(), "the hoster found is the CDN itself");
        c.hoster_org = Some("Origin BV".into());
        c.hoster_email = Some("abuse@origin.test".into());
        assert!(!c.via_cdn(), "known origin: the hoster gets it");
        assert_eq!(c.recipient(LadderRung::Hoster), Some("abuse@origin.test"));
    }
}
