-- Notice-and-takedown ([takedown]): cases (one illegal media item monitored until it is gone),
-- attribution history, notices with their outbox state, re-check observations, provider
-- responses and escalations. Same timestamp convention as 0001.

-- Per-tenant ladder / check policy (JSON of schoon_core::takedown::TakedownPolicy).
CREATE TABLE takedown_policies (
    tenant_id   INTEGER PRIMARY KEY REFERENCES tenants(id),
    policy      TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE takedown_cases (
    id                   INTEGER PRIMARY KEY,
    tenant_id            INTEGER NOT NULL REFERENCES tenants(id),
    report_id            INTEGER NOT NULL REFERENCES reports(id),
    item_id              INTEGER NOT NULL UNIQUE REFERENCES report_items(id),
    url                  TEXT    NOT NULL,
    page_url             TEXT    NOT NULL,
    host                 TEXT    NOT NULL,
    registrable_domain   TEXT,
    state                TEXT    NOT NULL CHECK (state IN ('attributing', 'needs_contact',
                             'police_hold', 'monitoring', 'removed', 'forwarded', 'closed')),
    police_first         INTEGER NOT NULL DEFAULT 0,
    -- Current contacts (the history is in attributions).
    hoster_org           TEXT,
    hoster_email         TEXT,
    hoster_country       TEXT,
    asn                  INTEGER,
    ip                   TEXT,
    cdn_org              TEXT,
    cdn_email            TEXT,
    registrar_name       TEXT,
    registrar_email      TEXT,
    site_owner_email     TEXT,
    attribution_id       INTEGER,
    -- Monitoring start or last hoster change / re-appearance: the ladder counts from here.
    ladder_since         TEXT,
    monitoring_since     TEXT,
    next_check_at        TEXT,
    misses               INTEGER NOT NULL DEFAULT 0,
    removed_at           TEXT,
    offline_verified_at  TEXT,
    reappeared_at        TEXT,
    hoster_changed_at    TEXT,
    forward_country      TEXT,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL,
    closed_at            TEXT
);
CREATE INDEX takedown_cases_tenant ON takedown_cases (tenant_id, state, id);
-- The check scheduler: due cases in checked states.
CREATE INDEX takedown_cases_check ON takedown_cases (next_check_at)
    WHERE state IN ('monitoring', 'removed', 'needs_contact');

-- Every case transition (the audit log has them too; this is the queryable timeline).
CREATE TABLE case_events (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES takedown_cases(id),
    from_state  TEXT,
    to_state    TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    reason      TEXT,
    at          TEXT    NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id, id);

-- Every attribution made (who hosted what, when): the monitor reads this history.
CREATE TABLE attributions (
    id               INTEGER PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
    case_id          INTEGER NOT NULL REFERENCES takedown_cases(id),
    url              TEXT    NOT NULL,
    host             TEXT    NOT NULL,
    ip               TEXT,
    asn              INTEGER,
    hoster_org       TEXT,
    hoster_email     TEXT,
    hoster_country   TEXT,
    cdn_org          TEXT,
    registrar_name   TEXT,
    registrar_email  TEXT,
    needs_contact    TEXT    NOT NULL DEFAULT '[]',
    raw              TEXT    NOT NULL DEFAULT '{}',
    made_at          TEXT    NOT NULL
);
CREATE INDEX attributions_case ON attributions (case_id, id);
CREATE INDEX attributions_hoster ON attributions (hoster_org, made_at);

-- One e-mail to one recipient (the outbox: queued → sending → sent | rejected; a crash after
-- SMTP leaves `sending`, which recovery turns into `delivery_unknown` for a human).
CREATE TABLE notices (
    id               INTEGER PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
    reference        TEXT    NOT NULL UNIQUE,
    rung             TEXT    NOT NULL CHECK (rung IN ('hoster', 'cdn', 'site_owner', 'registrar', 'police')),
    recipient_email  TEXT    NOT NULL,
    recipient_org    TEXT,
    language         TEXT,
    state            TEXT    NOT NULL CHECK (state IN ('queued', 'held', 'sending', 'sent',
                         'rejected', 'delivery_unknown', 'cancelled')),
    due_at           TEXT    NOT NULL,
    lease_until      TEXT,
    claimed_by       TEXT,
    message_id       TEXT,
    smtp_code        INTEGER,
    smtp_message     TEXT,
    sent_at          TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
);
CREATE INDEX notices_outbox ON notices (state, due_at, id);
CREATE INDEX notices_tenant ON notices (tenant_id, state, id);

-- The cases of a notice. UNIQUE (case, rung, sequence): a ladder step belongs to one notice
-- only, ever — this is what makes a notice never repeat.
CREATE TABLE notice_items (
    notice_id  INTEGER NOT NULL REFERENCES notices(id),
    case_id    INTEGER NOT NULL REFERENCES takedown_cases(id),
    rung       TEXT    NOT NULL,
    sequence   INTEGER NOT NULL,
    PRIMARY KEY (notice_id, case_id),
    UNIQUE (case_id, rung, sequence)
);

-- One re-fetch of a case URL.
CREATE TABLE observations (
    id             INTEGER PRIMARY KEY,
    case_id        INTEGER NOT NULL REFERENCES takedown_cases(id),
    at             TEXT    NOT NULL,
    http_status    INTEGER,
    outcome        TEXT    NOT NULL CHECK (outcome IN ('online', 'gone', 'error')),
    detail         TEXT,
    content_type   TEXT,
    served_sha256  TEXT,
    served_pdq     TEXT,
    distance       INTEGER,
    final_url      TEXT,
    error          TEXT
);
CREATE INDEX observations_case ON observations (case_id, at, id);
-- The last `online` of a case in one probe: the verdict reads only the misses after it.
CREATE INDEX observations_online ON observations (case_id, at) WHERE outcome = 'online';

-- A provider's acknowledgement or dispute (via the signed link).
CREATE TABLE case_responses (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES takedown_cases(id),
    notice_id  INTEGER NOT NULL REFERENCES notices(id),
    kind       TEXT    NOT NULL CHECK (kind IN ('ack', 'dispute')),
    statement  TEXT,
    at         TEXT    NOT NULL
);
CREATE INDEX case_responses_case ON case_responses (case_id, id);

-- Police referral / regulator escalation records (at most one of each per case).
CREATE TABLE case_escalations (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    case_id       INTEGER NOT NULL REFERENCES takedown_cases(id),
    kind          TEXT    NOT NULL CHECK (kind IN ('police', 'regulator')),
    reason        TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    picked_up_at  TEXT,
    UNIQUE (case_id, kind)
);
CREATE INDEX case_escalations_tenant ON case_escalations (tenant_id, id);
