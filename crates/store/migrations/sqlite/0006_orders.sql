-- Regulator ([monitor] parts 3 and 4): binding removal orders, their items (URL + digest, never
-- the material), life-cycle events, penalty records, and the providers' right-of-reply notes.
-- Same timestamp convention as 0001. The life cycle is schoon_core::order::transition.

CREATE TABLE orders (
    id                INTEGER PRIMARY KEY,
    tenant_id         INTEGER NOT NULL REFERENCES tenants(id),
    reference         TEXT    NOT NULL UNIQUE,
    authority         TEXT    NOT NULL,
    provider_name     TEXT    NOT NULL,
    provider_email    TEXT    NOT NULL,
    provider_api_url  TEXT,
    legal_basis       TEXT    NOT NULL,
    deadline_hours    INTEGER NOT NULL CHECK (deadline_hours IN (1, 12, 24)),
    state             TEXT    NOT NULL CHECK (state IN ('draft', 'issued', 'delivered',
                          'acknowledged', 'complied', 'overdue', 'penalty_running', 'withdrawn',
                          'annulled')),
    appeal            TEXT    NOT NULL DEFAULT 'none'
                          CHECK (appeal IN ('none', 'lodged', 'upheld', 'annulled')),
    -- Set at issue: the signed document (OrderDocument::canonical_json), its SHA-256 and the
    -- server's Ed25519 signature over the SHA-256 (hex).
    canonical_json    TEXT,
    sha256            TEXT,
    signature         TEXT,
    -- Delivery proof (JSON: channel, timestamp, digest, signature, SMTP answer).
    delivery_proof    TEXT,
    created_at        TEXT    NOT NULL,
    issued_at         TEXT,
    delivered_at      TEXT,
    acknowledged_at   TEXT,
    complied_at       TEXT,
    overdue_at        TEXT,
    due_at            TEXT,
    -- JSON of schoon_core::order::PenaltyTerms, entered by the officer.
    penalty_terms     TEXT,
    published         INTEGER NOT NULL DEFAULT 0,
    published_at      TEXT,
    updated_at        TEXT    NOT NULL
);
CREATE INDEX orders_tenant ON orders (tenant_id, id);
-- The deadline sweep: delivered or acknowledged orders by due time.
CREATE INDEX orders_due ON orders (due_at) WHERE state IN ('delivered', 'acknowledged');
CREATE INDEX orders_published ON orders (published, id);

CREATE TABLE order_items (
    id        INTEGER PRIMARY KEY,
    order_id  INTEGER NOT NULL REFERENCES orders(id),
    url       TEXT    NOT NULL,
    sha256    TEXT    NOT NULL,
    -- The takedown case the item came from (escalated to the regulator), if any.
    case_id   INTEGER REFERENCES takedown_cases(id),
    UNIQUE (order_id, url, sha256)
);
CREATE INDEX order_items_order ON order_items (order_id, id);
CREATE INDEX order_items_case ON order_items (case_id) WHERE case_id IS NOT NULL;

-- Every life-cycle event (the audit log has them too; this is the queryable timeline).
CREATE TABLE order_events (
    id           INTEGER PRIMARY KEY,
    order_id     INTEGER NOT NULL REFERENCES orders(id),
    at           TEXT    NOT NULL,
    actor        TEXT    NOT NULL,
    event        TEXT    NOT NULL,
    from_state   TEXT    NOT NULL,
    to_state     TEXT    NOT NULL,
    from_appeal  TEXT    NOT NULL,
    to_appeal    TEXT    NOT NULL,
    note         TEXT
);
CREATE INDEX order_events_order ON order_events (order_id, id);

-- Penalty records: accrual snapshots (computed with penalty_due) and officer-entered fines.
CREATE TABLE penalties (
    id            INTEGER PRIMARY KEY,
    order_id      INTEGER NOT NULL REFERENCES orders(id),
    kind          TEXT    NOT NULL CHECK (kind IN ('accrual', 'fine')),
    at            TEXT    NOT NULL,
    actor         TEXT    NOT NULL,
    units         INTEGER NOT NULL,
    amount_cents  INTEGER NOT NULL CHECK (amount_cents >= 0),
    capped        INTEGER NOT NULL DEFAULT 0,
    running       INTEGER NOT NULL DEFAULT 0,
    note          TEXT
);
CREATE INDEX penalties_order ON penalties (order_id, id);

-- A named provider's right of reply, shown in the public register once published.
CREATE TABLE provider_replies (
    id             INTEGER PRIMARY KEY,
    tenant_id      INTEGER NOT NULL REFERENCES tenants(id),
    provider_name  TEXT    NOT NULL,
    text           TEXT    NOT NULL,
    published      INTEGER NOT NULL DEFAULT 0,
    published_at   TEXT,
    updated_at     TEXT    NOT NULL,
    UNIQUE (tenant_id, provider_name)
);
