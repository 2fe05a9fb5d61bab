-- Hotline report processing: reports, their media items, partners allowed to report, per-tenant
-- report policy and reference counters. Same timestamp convention as 0001.

-- Organisations whose (check-role) API keys may also submit reports: partner hotlines, police,
-- trusted flaggers. Registering an organisation here is the "reporter scope".
CREATE TABLE report_partners (
    org_id      INTEGER PRIMARY KEY REFERENCES organisations(id),
    kind        TEXT    NOT NULL CHECK (kind IN ('hotline', 'police', 'trusted_flagger', 'internal')),
    created_at  TEXT    NOT NULL
);

CREATE TABLE report_policies (
    tenant_id         INTEGER PRIMARY KEY REFERENCES tenants(id),
    reference_prefix  TEXT    NOT NULL,
    four_eyes         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE report_counters (
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    year       INTEGER NOT NULL,
    last       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, year)
);

CREATE TABLE reports (
    id                  INTEGER PRIMARY KEY,
    tenant_id           INTEGER NOT NULL REFERENCES tenants(id),
    reference           TEXT    NOT NULL UNIQUE,
    url                 TEXT    NOT NULL,
    original_url        TEXT    NOT NULL,
    registrable_domain  TEXT,
    referer             TEXT,
    note                TEXT,
    source_kind         TEXT    NOT NULL,
    source_org_id       INTEGER REFERENCES organisations(id),
    reporter_email      TEXT,
    state               TEXT    NOT NULL DEFAULT 'processing',
    processed           INTEGER NOT NULL DEFAULT 0,
    page_evidence       TEXT,
    fetch_error         TEXT,
    lock_by             TEXT,
    lock_until          TEXT,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    closed_at           TEXT
);
CREATE INDEX reports_url ON reports (tenant_id, url, created_at);
CREATE INDEX reports_state ON reports (tenant_id, state, created_at);

-- Every submission, the first one included: who reported the URL and when.
CREATE TABLE report_submissions (
    id              INTEGER PRIMARY KEY,
    report_id       INTEGER NOT NULL REFERENCES reports(id),
    source_kind     TEXT    NOT NULL,
    source_org_id   INTEGER REFERENCES organisations(id),
    reporter_email  TEXT,
    referer         TEXT,
    note            TEXT,
    created_at      TEXT    NOT NULL
);
CREATE INDEX report_submissions_report ON report_submissions (report_id);

CREATE TABLE report_items (
    id                  INTEGER PRIMARY KEY,
    report_id           INTEGER NOT NULL REFERENCES reports(id),
    tenant_id           INTEGER NOT NULL REFERENCES tenants(id),
    url                 TEXT    NOT NULL,
    found_as            TEXT    NOT NULL,
    state               TEXT    NOT NULL DEFAULT 'new',
    md5                 TEXT,
    sha1                TEXT,
    sha256              TEXT,
    pdq                 TEXT,
    pdq_quality         INTEGER,
    width               INTEGER,
    height              INTEGER,
    content_type        TEXT,
    size                INTEGER,
    evidence_ref        TEXT,
    evidence_purged_at  TEXT,
    error               TEXT,
    classification      TEXT,
    attributes          TEXT,
    classified_how      TEXT,
    classified_by       TEXT,
    classified_at       TEXT,
    auto_list_id        INTEGER,
    auto_entry_id       INTEGER,
    inherited_from      INTEGER REFERENCES report_items(id),
    verified_by         TEXT,
    verified_at         TEXT,
    human_views         INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    UNIQUE (report_id, url)
);
CREATE INDEX report_items_sha256 ON report_items (tenant_id, sha256);
CREATE INDEX report_items_state ON report_items (tenant_id, state);
CREATE INDEX report_items_evidence ON report_items (evidence_ref);
