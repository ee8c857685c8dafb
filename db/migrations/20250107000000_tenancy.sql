-- Tenancy: token roles, expiry and revocation; the audit log.
-- Portable SQL, like every migration: the same file runs on SQLite and PostgreSQL.

-- read-only (safe requests only), operator (its account), admin (every account, tokens).
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'operator';
UPDATE api_tokens SET role = 'admin' WHERE is_admin = TRUE;
-- Unusable from this instant (NULL: never expires).
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
-- Revoked at this instant (NULL: not revoked). Kept, not deleted, so listings and the
-- audit log can still name it.
ALTER TABLE api_tokens ADD COLUMN revoked_at BIGINT;

-- Every mutating request and every job outcome, appended in order. Each entry carries the
-- hash of the one before it (`prev_hash`) and its own (`hash`, over `prev_hash` and its
-- fields), so an edited or deleted entry breaks the chain. Never holds a secret: requests
-- are recorded by route and target, not by body.
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
    account_id  TEXT NOT NULL,
    token_id    TEXT,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL DEFAULT '',
    result      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_account ON audit_log (account_id, seq);
INSERT INTO counters (name, value) VALUES ('audit_seq', 0);
