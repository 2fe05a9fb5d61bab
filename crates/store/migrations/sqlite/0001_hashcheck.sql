-- schoon hash-check schema (SQLite). Timestamps are fixed-width RFC 3339 UTC text with
-- microseconds ("2026-01-02T03:04:05.123456Z") so they sort as text and port to PostgreSQL.

CREATE TABLE tenants (
    id                  INTEGER PRIMARY KEY,
    name                TEXT    NOT NULL UNIQUE,
    country             TEXT,
    hit_deadline_hours  INTEGER NOT NULL DEFAULT 24,
    list_version        INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT    NOT NULL
);

CREATE TABLE organisations (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    name        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE api_keys (
    id             TEXT    PRIMARY KEY,
    tenant_id      INTEGER REFERENCES tenants(id),
    org_id         INTEGER REFERENCES organisations(id),
    role           TEXT    NOT NULL CHECK (role IN ('check', 'admin')),
    label          TEXT    NOT NULL,
    secret_hash    TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    revoked_at     TEXT,
    revoke_reason  TEXT,
    CHECK ((role = 'check') = (org_id IS NOT NULL))
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE hash_lists (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    name         TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('known', 'allow')),
    pdq_radius   INTEGER NOT NULL DEFAULT 31,
    min_quality  INTEGER NOT NULL DEFAULT 50,
    created_at   TEXT    NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE list_entries (
    id             INTEGER PRIMARY KEY,
    list_id        INTEGER NOT NULL REFERENCES hash_lists(id),
    signal_type    TEXT    NOT NULL CHECK (signal_type IN ('md5', 'sha1', 'sha256', 'pdq')),
    value          TEXT    NOT NULL,
    category       TEXT    NOT NULL CHECK (category IN ('baseline', 'national')),
    source         TEXT,
    assessor       TEXT,
    added_at       TEXT    NOT NULL,
    revoked_at     TEXT,
    revoke_reason  TEXT
);
-- one active entry per value and list; revoked history stays
CREATE UNIQUE INDEX list_entries_active ON list_entries (list_id, signal_type, value) WHERE revoked_at IS NULL;
CREATE INDEX list_entries_value ON list_entries (signal_type, value);

CREATE TABLE hits (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    org_id       INTEGER NOT NULL REFERENCES organisations(id),
    entry_id     INTEGER NOT NULL REFERENCES list_entries(id),
    list_id      INTEGER NOT NULL REFERENCES hash_lists(id),
    signal_type  TEXT    NOT NULL,
    query_value  TEXT    NOT NULL,
    distance     INTEGER NOT NULL,
    content_ref  TEXT,
    content_url  TEXT,
    state        TEXT    NOT NULL DEFAULT 'open',
    created_at   TEXT    NOT NULL,
    deadline     TEXT    NOT NULL
);
CREATE INDEX hits_org_state ON hits (org_id, state);
CREATE INDEX hits_entry ON hits (entry_id);
CREATE INDEX hits_deadline ON hits (state, deadline);

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    at         TEXT    NOT NULL,
    tenant_id  INTEGER,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    details    TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE
);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    kind             TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    run_at           TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 10,
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'done', 'dead')),
    lease_until      TEXT,
    locked_by        TEXT,
    last_error       TEXT,
    idempotency_key  TEXT    UNIQUE,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);
