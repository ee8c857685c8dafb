-- Orchestrators (Keyfactor's agents): remote machines that register over the agent
-- protocol, ask for the jobs of the certificate stores they hold and report back.
-- Portable SQL, like every migration: the same file runs on SQLite and PostgreSQL.

CREATE TABLE agents (
    -- The AgentId (a GUID) the agent is told at enrollment; jobs bound to the agent
    -- carry it as run_on and processing_node.
    id                      TEXT PRIMARY KEY,
    account_id              TEXT NOT NULL,
    client_machine          TEXT NOT NULL,
    -- The registration credential (or certificate subject) it first registered with.
    username                TEXT NOT NULL,
    -- Keyfactor's AgentPlatform code (5 = native).
    platform                BIGINT NOT NULL,
    version                 TEXT NOT NULL,
    -- 1 New, 2 Approved, 3 Disapproved.
    status                  BIGINT NOT NULL CHECK (status IN (1, 2, 3)),
    -- JSON array of capability strings (`CertStores.PEM.Inventory`, ...).
    capabilities            TEXT NOT NULL DEFAULT '[]',
    -- Upper-case hex SHA-1 of its current client certificate, and of the one before
    -- the last renewal. NULL until one is issued.
    thumbprint              TEXT UNIQUE,
    legacy_thumbprint       TEXT,
    last_thumbprint_used    TEXT,
    certificate_not_after   BIGINT,
    -- 0 none, 1 requested, 2 required (Keyfactor's AuthCertificateReenrollment).
    auth_cert_reenrollment  BIGINT NOT NULL DEFAULT 0 CHECK (auth_cert_reenrollment IN (0, 1, 2)),
    last_error_code         BIGINT NOT NULL DEFAULT 0,
    last_error_message      TEXT,
    last_seen               BIGINT,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);

CREATE INDEX agents_account_machine ON agents (account_id, client_machine);

-- Credentials an operator creates so agents can make their first registration (HTTP
-- basic auth). Only a hash of the secret is kept.
CREATE TABLE agent_registration_credentials (
    username     TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    -- When set, only an agent on this machine may register with it.
    client_machine TEXT,
    created_at   BIGINT NOT NULL
);

-- Sessions opened by /Session/Register; every later call of the agent names its token.
-- Only a hash of the token is kept.
CREATE TABLE agent_sessions (
    token_hash   TEXT PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    account_id   TEXT NOT NULL,
    -- The client certificate the session was opened with; NULL for basic auth.
    thumbprint   TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);
CREATE INDEX agent_sessions_expiry ON agent_sessions (expires_at);
