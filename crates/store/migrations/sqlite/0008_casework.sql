-- Analyst casework ([ui]): free-text notes on a report (append-only, each one audited as
-- `report.note`), and failed web logins per client address for the per-IP login limit.
-- Same timestamp convention as 0001.
CREATE TABLE report_notes (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    report_id   INTEGER NOT NULL REFERENCES reports(id),
    author      TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);
CREATE INDEX report_notes_report ON report_notes (report_id, id);

CREATE TABLE login_ip_failures (
    ip  TEXT NOT NULL,
    at  TEXT NOT NULL
);
CREATE INDEX login_ip_failures_ip ON login_ip_failures (ip, at);
