-- Web UI accounts ([ui]): users bound to one tenant (provider users also to one organisation),
-- sessions and the analysts' daily exposure counters. Same timestamp convention as 0001.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    org_id          INTEGER REFERENCES organisations(id),
    username        TEXT    NOT NULL UNIQUE,
    display_name    TEXT    NOT NULL,
    role            TEXT    NOT NULL
        CHECK (role IN ('admin', 'analyst', 'verifier', 'police', 'regulator', 'provider')),
    -- Argon2id PHC string.
    password_hash   TEXT    NOT NULL,
    -- Base32 TOTP secret (RFC 6238); NULL = no second factor.
    totp_secret     TEXT,
    -- Last accepted TOTP time step: a code is accepted once.
    totp_last_step  INTEGER,
    language        TEXT    NOT NULL DEFAULT 'nl' CHECK (language IN ('nl', 'en')),
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    disabled        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    -- A provider user acts for exactly one organisation; nobody else belongs to one.
    CHECK ((role = 'provider') = (org_id IS NOT NULL))
);
CREATE INDEX users_tenant ON users (tenant_id);

-- The cookie holds a random 256-bit token; only its SHA-256 is stored.
CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    -- 'totp': password accepted, second factor outstanding; 'full': signed in.
    stage        TEXT    NOT NULL DEFAULT 'full' CHECK (stage IN ('totp', 'full')),
    created_at   TEXT    NOT NULL,
    last_seen    TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL,
    -- Key of the session's CSRF tokens (hex).
    csrf_secret  TEXT    NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Evidence items an analyst revealed per UTC day (what supervisors watch).
CREATE TABLE user_exposure (
    user_id  INTEGER NOT NULL REFERENCES users(id),
    day      TEXT    NOT NULL,
    views    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);
