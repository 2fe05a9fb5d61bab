-- Hit follow-up ("check op de hashcheck"): acknowledgements, verification, re-occurrence,
-- deadline sweeps, escalations and revocation propagation. Same timestamp convention as 0001.

-- Hours after the deadline before an overdue hit is escalated (tenant policy).
ALTER TABLE tenants ADD COLUMN hit_grace_hours INTEGER NOT NULL DEFAULT 24;

-- The last acknowledged action and its note.
ALTER TABLE hits ADD COLUMN action TEXT
    CHECK (action IS NULL OR action IN ('removed', 'blocked', 'false_positive', 'not_ours'));
ALTER TABLE hits ADD COLUMN note TEXT;
-- Timeline (what metrics are computed from; times come from the follow-up clock).
ALTER TABLE hits ADD COLUMN acknowledged_at TEXT;
ALTER TABLE hits ADD COLUMN verified_at TEXT;
ALTER TABLE hits ADD COLUMN verification_failed_at TEXT;
ALTER TABLE hits ADD COLUMN overdue_at TEXT;
ALTER TABLE hits ADD COLUMN escalate_at TEXT;
ALTER TABLE hits ADD COLUMN updated_at TEXT;
-- Set when the same organisation matched the same entry again after acknowledging removal.
ALTER TABLE hits ADD COLUMN reoccurred INTEGER NOT NULL DEFAULT 0;
-- Verification rounds: bumped on every removal claim (and deadline check); misses count
-- consecutive unreachable observations within the round.
ALTER TABLE hits ADD COLUMN verify_round INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hits ADD COLUMN verify_misses INTEGER NOT NULL DEFAULT 0;

-- Re-occurrence: one indexed look-up per new hit (same organisation, same entry). Partial: only
-- unflagged removal claims are in it, so an organisation without any costs an empty probe.
CREATE INDEX hits_reoccur ON hits (org_id, entry_id)
    WHERE reoccurred = 0 AND action IN ('removed', 'blocked');
CREATE INDEX hits_escalate ON hits (state, escalate_at);

-- Every follow-up transition (the audit log has them too; this is the queryable timeline).
CREATE TABLE hit_events (
    id          INTEGER PRIMARY KEY,
    hit_id      INTEGER NOT NULL REFERENCES hits(id),
    at          TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    from_state  TEXT    NOT NULL,
    to_state    TEXT    NOT NULL,
    action      TEXT,
    note        TEXT
);
CREATE INDEX hit_events_hit ON hit_events (hit_id, id);

-- Overdue hits escalated after the grace period: what the regulator module picks up.
CREATE TABLE escalations (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    org_id        INTEGER NOT NULL REFERENCES organisations(id),
    hit_id        INTEGER NOT NULL UNIQUE REFERENCES hits(id),
    reason        TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    picked_up_at  TEXT
);
CREATE INDEX escalations_pending ON escalations (picked_up_at, id);

-- Revocation feed: one row per (organisation, revoked entry) the organisation had a hit on.
CREATE TABLE revocation_notices (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    org_id      INTEGER NOT NULL REFERENCES organisations(id),
    entry_id    INTEGER NOT NULL REFERENCES list_entries(id),
    revoked_at  TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    UNIQUE (org_id, entry_id)
);
CREATE INDEX revocation_notices_org ON revocation_notices (org_id, revoked_at);
