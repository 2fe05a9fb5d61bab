//! The SQL behind [`crate::orders`], compiled once per backend (see `crate::sqlite` and
//! `crate::postgres`).

use super::common::AuditWriter;
use super::{Backend, Conn, DbRow};
use crate::orders::*;
use crate::{Actor, StoreError, StoreResult, parse_ts, ts};
use crate::{opt_ts, parse_enum};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schoon_core::TenantId;
use schoon_core::order::{
    AppealStatus, OrderDeadline, OrderDocument, OrderEvent, OrderItem, OrderState, PenaltyAccrual,
    PenaltyTerms, ProviderContact, penalty_due, sweep_event, transition,
};
use sqlx::Row;

fn db_cents(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u64_col(r: &DbRow, col: &str) -> StoreResult<u64> {
    let v: i64 = r.try_get(col)?;
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{col} = {v}")))
}

fn json_col<T: serde::de::DeserializeOwned>(
    s: Option<String>,
    what: &str,
) -> StoreResult<Option<T>> {
    s.map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}"))))
        .transpose()
}

fn order_row(r: &DbRow, items: Vec<StoredItem>) -> StoreResult<Order> {
    let hours: i64 = r.try_get("deadline_hours")?;
    let deadline = u32::try_from(hours)
        .ok()
        .and_then(|h| OrderDeadline::from_hours(h).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("deadline_hours = {hours}")))?;
    Ok(Order {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        reference: r.try_get("reference")?,
        authority: r.try_get("authority")?,
        provider: ProviderContact {
            name: r.try_get("provider_name")?,
            email: r.try_get("provider_email")?,
            api_url: r.try_get("provider_api_url")?,
        },
        legal_basis: r.try_get("legal_basis")?,
        deadline,
        state: parse_enum::<OrderState>(r.try_get("state")?)?,
        appeal: parse_enum::<AppealStatus>(r.try_get("appeal")?)?,
        canonical_json: r.try_get("canonical_json")?,
        sha256: r.try_get("sha256")?,
        signature: r.try_get("signature")?,
        delivery_proof: json_col(r.try_get("delivery_proof")?, "delivery_proof")?,
        created_at: parse_ts(r.try_get("created_at")?)?,
        issued_at: opt_ts(r.try_get("issued_at")?)?,
        delivered_at: opt_ts(r.try_get("delivered_at")?)?,
        acknowledged_at: opt_ts(r.try_get("acknowledged_at")?)?,
        complied_at: opt_ts(r.try_get("complied_at")?)?,
        overdue_at: opt_ts(r.try_get("overdue_at")?)?,
        due_at: opt_ts(r.try_get("due_at")?)?,
        penalty_terms: json_col(r.try_get("penalty_terms")?, "penalty_terms")?,
        published: r.try_get::<bool, _>("published")?,
        published_at: opt_ts(r.try_get("published_at")?)?,
        updated_at: parse_ts(r.try_get("updated_at")?)?,
        items,
    })
}

async fn items_of(conn: &mut Conn, id: OrderId) -> StoreResult<Vec<StoredItem>> {
    let rows =
        sqlx::query("SELECT url, sha256, case_id FROM order_items WHERE order_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredItem {
                url: r.try_get("url")?,
                sha256: r.try_get("sha256")?,
                case_id: r.try_get("case_id")?,
            })
        })
        .collect()
}

async fn orders_of_rows(conn: &mut Conn, rows: Vec<DbRow>) -> StoreResult<Vec<Order>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: OrderId = r.try_get("id")?;
        let items = items_of(conn, id).await?;
        out.push(order_row(&r, items)?);
    }
    Ok(out)
}

async fn order_opt(conn: &mut Conn, id: OrderId) -> StoreResult<Option<Order>> {
    let row = sqlx::query("SELECT * FROM orders WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(r) => {
            let items = items_of(conn, id).await?;
            Ok(Some(order_row(&r, items)?))
        }
        None => Ok(None),
    }
}

async fn order_in(conn: &mut Conn, id: OrderId) -> StoreResult<Order> {
    order_opt(conn, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("order {id}")))
}

/// What a transition sets besides state and appeal.
#[derive(Default)]
struct Extra<'a> {
    issue: Option<&'a IssueRecord>,
    delivery_proof: Option<String>,
}

/// Applies one transition inside a write transaction (API, sweep).
#[allow(clippy::too_many_arguments)]
async fn apply_in(
    conn: &mut Conn,
    aw: &mut AuditWriter,
    actor: &Actor,
    id: OrderId,
    event: OrderEvent,
    note: Option<&str>,
    extra: Extra<'_>,
    at: DateTime<Utc>,
) -> StoreResult<Order> {
    let before = order_in(conn, id).await?;
    let from = before.status();
    let to = transition(from, event).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let now = ts(&at);
    let due_at = match event {
        OrderEvent::Deliver => Some(before.deadline.due_at(at)),
        _ => before.due_at,
    };
    let issue = extra.issue;
    let n = sqlx::query(
        "UPDATE orders SET state = $1, appeal = $2, updated_at = $3, \
         canonical_json = COALESCE($4, canonical_json), sha256 = COALESCE($5, sha256), \
         signature = COALESCE($6, signature), issued_at = COALESCE($7, issued_at), \
         delivery_proof = COALESCE($8, delivery_proof), \
         delivered_at = CASE WHEN $9 = 'deliver' THEN $3 ELSE delivered_at END, \
         due_at = $10, \
         acknowledged_at = CASE WHEN $9 = 'acknowledge' THEN COALESCE(acknowledged_at, $3) \
             ELSE acknowledged_at END, \
         complied_at = CASE WHEN $9 = 'comply' THEN $3 ELSE complied_at END, \
         overdue_at = CASE WHEN $9 = 'overdue' THEN $3 ELSE overdue_at END \
         WHERE id = $11 AND state = $12 AND appeal = $13",
    )
    .bind(to.state.as_str())
    .bind(to.appeal.as_str())
    .bind(&now)
    .bind(issue.map(|i| i.canonical_json.as_str()))
    .bind(issue.map(|i| i.sha256.as_str()))
    .bind(issue.map(|i| i.signature.as_str()))
    .bind(issue.map(|i| ts(&i.issued_at)))
    .bind(extra.delivery_proof.as_deref())
    .bind(event.name())
    .bind(due_at.as_ref().map(ts))
    .bind(id)
    .bind(from.state.as_str())
    .bind(from.appeal.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(StoreError::Conflict(format!(
            "order {id} changed meanwhile"
        )));
    }
    sqlx::query(
        "INSERT INTO order_events (order_id, at, actor, event, from_state, to_state, \
         from_appeal, to_appeal, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(&now)
    .bind(&actor.0)
    .bind(event.name())
    .bind(from.state.as_str())
    .bind(to.state.as_str())
    .bind(from.appeal.as_str())
    .bind(to.appeal.as_str())
    .bind(note)
    .execute(&mut *conn)
    .await?;
    let mut details = serde_json::json!({
        "at": now, "from": from.state, "to": to.state,
        "appeal_from": from.appeal, "appeal_to": to.appeal, "note": note,
    });
    // The audit chain carries the digest and signature, so an evidence package can point at
    // the chain entry that proves what was issued and delivered when.
    if let Some(i) = issue {
        details["sha256"] = i.sha256.clone().into();
        details["signature"] = i.signature.clone().into();
    }
    if event == OrderEvent::Deliver {
        details["due_at"] = due_at.as_ref().map(ts).into();
        details["sha256"] = before.sha256.clone().into();
    }
    aw.append(
        conn,
        Some(before.tenant_id),
        actor,
        &format!("order.{}", event.name()),
        &format!("order:{id}"),
        details,
    )
    .await?;
    order_in(conn, id).await
}

async fn penalty_in(conn: &mut Conn, pid: i64) -> StoreResult<Penalty> {
    let r = sqlx::query("SELECT * FROM penalties WHERE id = $1")
        .bind(pid)
        .fetch_one(&mut *conn)
        .await?;
    penalty_row(&r)
}

fn penalty_row(r: &DbRow) -> StoreResult<Penalty> {
    let kind: String = r.try_get("kind")?;
    Ok(Penalty {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        kind: match kind.as_str() {
            "accrual" => PenaltyKind::Accrual,
            "fine" => PenaltyKind::Fine,
            other => return Err(StoreError::Corrupt(format!("penalty kind {other}"))),
        },
        at: parse_ts(r.try_get("at")?)?,
        actor: r.try_get("actor")?,
        units: u64_col(r, "units")?,
        amount_cents: u64_col(r, "amount_cents")?,
        capped: r.try_get::<bool, _>("capped")?,
        running: r.try_get::<bool, _>("running")?,
        note: r.try_get("note")?,
    })
}

#[allow(clippy::too_many_arguments)]
async fn insert_penalty(
    conn: &mut Conn,
    aw: &mut AuditWriter,
    actor: &Actor,
    order: &Order,
    kind: PenaltyKind,
    accrual: PenaltyAccrual,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> StoreResult<Penalty> {
    let pid: i64 = sqlx::query_scalar(
        "INSERT INTO penalties (order_id, kind, at, actor, units, amount_cents, capped, running, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(order.id)
    .bind(kind.as_str())
    .bind(ts(&at))
    .bind(&actor.0)
    .bind(db_cents(accrual.units))
    .bind(db_cents(accrual.amount_cents))
    .bind(accrual.capped)
    .bind(accrual.running)
    .bind(note)
    .fetch_one(&mut *conn)
    .await?;
    aw.append(
        conn,
        Some(order.tenant_id),
        actor,
        &format!("order.penalty_{}", kind.as_str()),
        &format!("order:{}", order.id),
        serde_json::json!({
            "penalty_id": pid, "at": ts(&at), "units": accrual.units,
            "amount_cents": accrual.amount_cents, "capped": accrual.capped,
            "running": accrual.running, "note": note,
        }),
    )
    .await?;
    penalty_in(conn, pid).await
}

#[async_trait]
impl OrderStore for Backend {
    async fn create_order(
        &self,
        actor: &Actor,
        o: NewOrder,
        at: DateTime<Utc>,
    ) -> StoreResult<Order> {
        // The canonical form's checks (items, digests, duplicates, empty fields) apply to the
        // draft already, so an order that could never be issued is not stored.
        let probe = OrderDocument {
            reference: o.reference.clone(),
            authority: o.authority.clone(),
            legal_basis: o.legal_basis.clone(),
            provider: o.provider.clone(),
            items: o
                .items
                .iter()
                .map(|i| OrderItem {
                    url: i.url.clone(),
                    sha256: i.sha256.clone(),
                })
                .collect(),
            deadline: o.deadline,
            issued_at: at,
        };
        probe
            .canonical_json()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let now = ts(&at);
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let id: OrderId = sqlx::query_scalar(
            "INSERT INTO orders (tenant_id, reference, authority, provider_name, provider_email, \
             provider_api_url, legal_basis, deadline_hours, state, appeal, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'draft', 'none', $9, $9) RETURNING id",
        )
        .bind(o.tenant_id)
        .bind(&o.reference)
        .bind(&o.authority)
        .bind(&o.provider.name)
        .bind(&o.provider.email)
        .bind(&o.provider.api_url)
        .bind(&o.legal_basis)
        .bind(i64::from(o.deadline.hours()))
        .bind(&now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(format!("order reference {} in use", o.reference))
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound(format!("tenant {}", o.tenant_id))
            }
            _ => StoreError::Database(e),
        })?;
        for item in &o.items {
            sqlx::query(
                "INSERT INTO order_items (order_id, url, sha256, case_id) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(&item.url)
            .bind(item.sha256.to_ascii_lowercase())
            .bind(item.case_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound(format!("case {:?}", item.case_id))
                }
                _ => StoreError::Database(e),
            })?;
        }
        sqlx::query(
            "INSERT INTO order_events (order_id, at, actor, event, from_state, to_state, \
             from_appeal, to_appeal) VALUES ($1, $2, $3, 'draft', 'draft', 'draft', 'none', 'none')",
        )
        .bind(id)
        .bind(&now)
        .bind(&actor.0)
        .execute(&mut *tx)
        .await?;
        aw.append(
            &mut tx,
            Some(o.tenant_id),
            actor,
            "order.draft",
            &format!("order:{id}"),
            serde_json::json!({
                "at": now, "reference": o.reference, "provider": o.provider.name,
                "deadline_hours": o.deadline.hours(), "items": o.items.len(),
            }),
        )
        .await?;
        let order = order_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(order)
    }

    async fn order(&self, id: OrderId) -> StoreResult<Option<Order>> {
        let mut conn = self.read.acquire().await?;
        order_opt(&mut conn, id).await
    }

    async fn order_by_reference(&self, reference: &str) -> StoreResult<Option<Order>> {
        let mut conn = self.read.acquire().await?;
        let id: Option<OrderId> = sqlx::query_scalar("SELECT id FROM orders WHERE reference = $1")
            .bind(reference)
            .fetch_optional(&mut *conn)
            .await?;
        match id {
            Some(id) => order_opt(&mut conn, id).await,
            None => Ok(None),
        }
    }

    async fn orders(
        &self,
        tenant: TenantId,
        state: Option<OrderState>,
        after_id: OrderId,
        limit: u32,
    ) -> StoreResult<Vec<Order>> {
        let mut conn = self.read.acquire().await?;
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE tenant_id = $1 AND ($2 IS NULL OR state = $2) \
             AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(tenant)
        .bind(state.map(OrderState::as_str))
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        orders_of_rows(&mut conn, rows).await
    }

    async fn issue_order(
        &self,
        actor: &Actor,
        id: OrderId,
        rec: IssueRecord,
    ) -> StoreResult<Order> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let at = rec.issued_at;
        let extra = Extra {
            issue: Some(&rec),
            delivery_proof: None,
        };
        let out = apply_in(
            &mut tx,
            &mut aw,
            actor,
            id,
            OrderEvent::Issue,
            None,
            extra,
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn deliver_order(
        &self,
        actor: &Actor,
        id: OrderId,
        proof: serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<Order> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let extra = Extra {
            issue: None,
            delivery_proof: Some(proof.to_string()),
        };
        let out = apply_in(
            &mut tx,
            &mut aw,
            actor,
            id,
            OrderEvent::Deliver,
            None,
            extra,
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn apply_order_event(
        &self,
        actor: &Actor,
        id: OrderId,
        event: OrderEvent,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Order> {
        if matches!(event, OrderEvent::Issue | OrderEvent::Deliver) {
            return Err(StoreError::Invalid(format!(
                "event {} needs its record (issue_order / deliver_order)",
                event.name()
            )));
        }
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let out = apply_in(
            &mut tx,
            &mut aw,
            actor,
            id,
            event,
            note,
            Extra::default(),
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn sweep_orders(&self, at: DateTime<Utc>) -> StoreResult<Vec<OrderId>> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let due: Vec<OrderId> = sqlx::query_scalar(
            "SELECT id FROM orders WHERE state IN ('delivered', 'acknowledged') AND due_at <= $1 \
             ORDER BY id LIMIT 1000",
        )
        .bind(ts(&at))
        .fetch_all(&mut *tx)
        .await?;
        let system = Actor::system();
        let mut out = Vec::new();
        for id in due {
            let order = order_in(&mut tx, id).await?;
            // The pure decision, so the sweep and the core agree on what "due" means.
            if let Some(event) = sweep_event(order.status(), order.due_at, at) {
                apply_in(
                    &mut tx,
                    &mut aw,
                    &system,
                    id,
                    event,
                    None,
                    Extra::default(),
                    at,
                )
                .await?;
                out.push(id);
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn set_penalty_terms(
        &self,
        actor: &Actor,
        id: OrderId,
        terms: PenaltyTerms,
        at: DateTime<Utc>,
    ) -> StoreResult<Order> {
        terms
            .validate()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let order = order_in(&mut tx, id).await?;
        if order.state.is_terminal() {
            return Err(StoreError::Invalid(format!(
                "order {id} is {}: its terms cannot change",
                order.state
            )));
        }
        let json = serde_json::to_string(&terms)
            .map_err(|e| StoreError::Invalid(format!("penalty terms: {e}")))?;
        sqlx::query("UPDATE orders SET penalty_terms = $1, updated_at = $2 WHERE id = $3")
            .bind(&json)
            .bind(ts(&at))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        aw.append(
            &mut tx,
            Some(order.tenant_id),
            actor,
            "order.penalty_terms",
            &format!("order:{id}"),
            serde_json::json!({"at": ts(&at), "terms": terms}),
        )
        .await?;
        let out = order_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn record_accrual(
        &self,
        actor: &Actor,
        id: OrderId,
        at: DateTime<Utc>,
    ) -> StoreResult<Penalty> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let order = order_in(&mut tx, id).await?;
        let terms = order
            .penalty_terms
            .ok_or_else(|| StoreError::Invalid(format!("order {id} has no penalty terms")))?;
        let due = order
            .due_at
            .ok_or_else(|| StoreError::Invalid(format!("order {id} was not delivered")))?;
        if order.state == OrderState::Annulled {
            return Err(StoreError::Invalid(format!("order {id} is annulled")));
        }
        let accrual = penalty_due(&terms, due, order.complied_at, at)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let p = insert_penalty(
            &mut tx,
            &mut aw,
            actor,
            &order,
            PenaltyKind::Accrual,
            accrual,
            None,
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    async fn record_fine(
        &self,
        actor: &Actor,
        id: OrderId,
        amount_cents: u64,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Penalty> {
        if amount_cents == 0 {
            return Err(StoreError::Invalid("fine amount must be positive".into()));
        }
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let order = order_in(&mut tx, id).await?;
        if matches!(
            order.state,
            OrderState::Draft | OrderState::Annulled | OrderState::Withdrawn
        ) {
            return Err(StoreError::Invalid(format!(
                "order {id} is {}: no fine can be recorded",
                order.state
            )));
        }
        let accrual = PenaltyAccrual {
            units: 1,
            amount_cents,
            capped: false,
            running: false,
        };
        let p = insert_penalty(
            &mut tx,
            &mut aw,
            actor,
            &order,
            PenaltyKind::Fine,
            accrual,
            note,
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    async fn penalties(&self, id: OrderId) -> StoreResult<Vec<Penalty>> {
        sqlx::query("SELECT * FROM penalties WHERE order_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(penalty_row)
            .collect()
    }

    async fn order_events(&self, id: OrderId) -> StoreResult<Vec<OrderEventRecord>> {
        sqlx::query("SELECT * FROM order_events WHERE order_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| {
                Ok(OrderEventRecord {
                    id: r.try_get("id")?,
                    at: parse_ts(r.try_get("at")?)?,
                    actor: r.try_get("actor")?,
                    event: r.try_get("event")?,
                    from_state: parse_enum(r.try_get("from_state")?)?,
                    to_state: parse_enum(r.try_get("to_state")?)?,
                    from_appeal: parse_enum(r.try_get("from_appeal")?)?,
                    to_appeal: parse_enum(r.try_get("to_appeal")?)?,
                    note: r.try_get("note")?,
                })
            })
            .collect()
    }

    async fn publish_order(
        &self,
        actor: &Actor,
        id: OrderId,
        published: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<Order> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let order = order_in(&mut tx, id).await?;
        if published && order.issued_at.is_none() {
            return Err(StoreError::Invalid(format!(
                "order {id} was never issued: nothing to publish"
            )));
        }
        sqlx::query(
            "UPDATE orders SET published = $1, \
             published_at = CASE WHEN $1 THEN $2 ELSE published_at END, updated_at = $2 \
             WHERE id = $3",
        )
        .bind(published)
        .bind(ts(&at))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        aw.append(
            &mut tx,
            Some(order.tenant_id),
            actor,
            if published {
                "order.publish"
            } else {
                "order.unpublish"
            },
            &format!("order:{id}"),
            serde_json::json!({"at": ts(&at)}),
        )
        .await?;
        let out = order_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn published_orders(&self, tenant: Option<TenantId>) -> StoreResult<Vec<Order>> {
        let mut conn = self.read.acquire().await?;
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE published = TRUE AND ($1 IS NULL OR tenant_id = $1) \
             ORDER BY id",
        )
        .bind(tenant)
        .fetch_all(&mut *conn)
        .await?;
        orders_of_rows(&mut conn, rows).await
    }

    async fn set_provider_reply(
        &self,
        actor: &Actor,
        tenant: TenantId,
        provider_name: &str,
        text: &str,
        published: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<ProviderReply> {
        if provider_name.trim().is_empty() || text.trim().is_empty() {
            return Err(StoreError::Invalid(
                "provider name and reply text must not be empty".into(),
            ));
        }
        let now = ts(&at);
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        sqlx::query(
            "INSERT INTO provider_replies (tenant_id, provider_name, text, published, published_at, updated_at) \
             VALUES ($1, $2, $3, $4, CASE WHEN $4 THEN $5 END, $5) \
             ON CONFLICT (tenant_id, provider_name) DO UPDATE SET text = excluded.text, \
             published = excluded.published, \
             published_at = CASE WHEN excluded.published THEN $5 ELSE provider_replies.published_at END, \
             updated_at = $5",
        )
        .bind(tenant)
        .bind(provider_name)
        .bind(text)
        .bind(published)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound(format!("tenant {tenant}"))
            }
            _ => StoreError::Database(e),
        })?;
        aw.append(
            &mut tx,
            Some(tenant),
            actor,
            "order.reply",
            &format!("provider:{provider_name}"),
            serde_json::json!({"at": now, "published": published}),
        )
        .await?;
        let r = sqlx::query(
            "SELECT * FROM provider_replies WHERE tenant_id = $1 AND provider_name = $2",
        )
        .bind(tenant)
        .bind(provider_name)
        .fetch_one(&mut *tx)
        .await?;
        let out = reply_row(&r)?;
        tx.commit().await?;
        Ok(out)
    }

    async fn provider_replies(
        &self,
        tenant: Option<TenantId>,
        published_only: bool,
    ) -> StoreResult<Vec<ProviderReply>> {
        sqlx::query(
            "SELECT * FROM provider_replies WHERE ($1 IS NULL OR tenant_id = $1) \
             AND (NOT $2 OR published = TRUE) ORDER BY provider_name, tenant_id",
        )
        .bind(tenant)
        .bind(published_only)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(reply_row)
        .collect()
    }

    async fn regulator_escalations(
        &self,
        tenant: TenantId,
        source: EscalationSource,
        picked_up: Option<bool>,
        limit: u32,
    ) -> StoreResult<Vec<RegulatorEscalation>> {
        // The filter is one of three constant clauses, never caller text.
        let filter = match picked_up {
            None => "",
            Some(false) => " AND picked_up_at IS NULL",
            Some(true) => " AND picked_up_at IS NOT NULL",
        };
        let sql = format!(
            "{} AND tenant_id = $1{filter} ORDER BY id LIMIT $2",
            escalation_select(source)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| escalation_row(source, r)).collect()
    }

    async fn regulator_escalation(
        &self,
        source: EscalationSource,
        id: i64,
    ) -> StoreResult<Option<RegulatorEscalation>> {
        let mut conn = self.read.acquire().await?;
        escalation_in(&mut conn, source, id).await
    }

    async fn order_escalations(&self, order: OrderId) -> StoreResult<Vec<RegulatorEscalation>> {
        let mut out = Vec::new();
        for source in [EscalationSource::Case, EscalationSource::Hit] {
            let sql = format!(
                "{} AND order_id = $1 ORDER BY id",
                escalation_select(source)
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(order)
                .fetch_all(&self.read)
                .await?;
            for r in &rows {
                out.push(escalation_row(source, r)?);
            }
        }
        Ok(out)
    }

    async fn pick_up_escalation(
        &self,
        actor: &Actor,
        source: EscalationSource,
        id: i64,
        order: Option<OrderId>,
        at: DateTime<Utc>,
    ) -> StoreResult<(RegulatorEscalation, bool)> {
        let mut tx = self.begin_write().await?;
        let before = escalation_in(&mut tx, source, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("{} escalation {id}", source.as_str())))?;
        let table = match source {
            EscalationSource::Case => "case_escalations",
            EscalationSource::Hit => "escalations",
        };
        // COALESCE keeps the first pick-up and the first linked order.
        let sql = format!(
            "UPDATE {table} SET picked_up_at = COALESCE(picked_up_at, $1), \
             picked_up_by = COALESCE(picked_up_by, $2), order_id = COALESCE(order_id, $3) \
             WHERE id = $4"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ts(&at))
            .bind(&actor.0)
            .bind(order)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound(format!("order {order:?}"))
                }
                _ => StoreError::Database(e),
            })?;
        let after = escalation_in(&mut tx, source, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("{} escalation {id}", source.as_str())))?;
        let changed = after != before;
        if changed {
            let mut aw = AuditWriter::start(&mut tx).await?;
            let action = if before.picked_up() {
                "escalation.link_order"
            } else {
                "escalation.pick_up"
            };
            aw.append(
                &mut tx,
                Some(after.tenant_id),
                actor,
                action,
                &source.subject(id),
                serde_json::json!({
                    "at": ts(&at), "source": source.as_str(), "case_id": after.case_id,
                    "hit_id": after.hit_id, "order_id": after.order_id,
                }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok((after, changed))
    }

    async fn audit_head(&self) -> StoreResult<Option<AuditHead>> {
        let mut conn = self.read.acquire().await?;
        head_in(&mut conn).await
    }

    async fn record_evidence_export(
        &self,
        actor: &Actor,
        id: OrderId,
        details: serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<AuditHead> {
        let mut tx = self.begin_write().await?;
        let tenant: TenantId = sqlx::query_scalar("SELECT tenant_id FROM orders WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("order {id}")))?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let mut details = details;
        if let Some(map) = details.as_object_mut() {
            map.insert("at".into(), serde_json::Value::String(ts(&at)));
        }
        aw.append(
            &mut tx,
            Some(tenant),
            actor,
            "order.evidence_exported",
            &format!("order:{id}"),
            details,
        )
        .await?;
        let head = head_in(&mut tx)
            .await?
            .ok_or_else(|| StoreError::Corrupt("audit log empty after an append".into()))?;
        tx.commit().await?;
        Ok(head)
    }
}

fn reply_row(r: &DbRow) -> StoreResult<ProviderReply> {
    Ok(ProviderReply {
        tenant_id: r.try_get("tenant_id")?,
        provider_name: r.try_get("provider_name")?,
        text: r.try_get("text")?,
        published: r.try_get::<bool, _>("published")?,
        published_at: opt_ts(r.try_get("published_at")?)?,
        updated_at: parse_ts(r.try_get("updated_at")?)?,
    })
}

/// Columns of a regulator escalation, the same for both sources (NULL where a source has none).
fn escalation_select(source: EscalationSource) -> &'static str {
    match source {
        EscalationSource::Case => {
            "SELECT id, tenant_id, case_id, CAST(NULL AS BIGINT) AS hit_id, \
             CAST(NULL AS BIGINT) AS org_id, reason, created_at, picked_up_at, picked_up_by, \
             order_id FROM case_escalations WHERE kind = 'regulator'"
        }
        EscalationSource::Hit => {
            "SELECT id, tenant_id, CAST(NULL AS BIGINT) AS case_id, hit_id, org_id, reason, \
             created_at, picked_up_at, picked_up_by, order_id FROM escalations WHERE TRUE"
        }
    }
}

fn escalation_row(source: EscalationSource, r: &DbRow) -> StoreResult<RegulatorEscalation> {
    Ok(RegulatorEscalation {
        source,
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        case_id: r.try_get("case_id")?,
        hit_id: r.try_get("hit_id")?,
        org_id: r.try_get("org_id")?,
        reason: r.try_get("reason")?,
        created_at: parse_ts(r.try_get("created_at")?)?,
        picked_up_at: opt_ts(r.try_get("picked_up_at")?)?,
        picked_up_by: r.try_get("picked_up_by")?,
        order_id: r.try_get("order_id")?,
    })
}

async fn escalation_in(
    conn: &mut Conn,
    source: EscalationSource,
    id: i64,
) -> StoreResult<Option<RegulatorEscalation>> {
    let sql = format!("{} AND id = $1", escalation_select(source));
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| escalation_row(source, &r)).transpose()
}

async fn head_in(conn: &mut Conn) -> StoreResult<Option<AuditHead>> {
    let row = sqlx::query("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok(AuditHead {
            id: r.try_get("id")?,
            hash: r.try_get("hash")?,
        })
    })
    .transpose()
}
