-- SSL discovery and monitoring: the networks an account scans for TLS endpoints
-- (Keyfactor's /SSL/Networks with their /SSL/NetworkRanges). Portable SQL, like every
-- migration: the same file runs on SQLite and PostgreSQL.

CREATE TABLE ssl_networks (
    id                     TEXT PRIMARY KEY,
    account_id             TEXT NOT NULL,
    name                   TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    agent_pool_name        TEXT NOT NULL DEFAULT '',
    enabled                BOOLEAN NOT NULL DEFAULT TRUE,
    -- Recurrences (JSON) of discovery and monitoring scans; NULL: none.
    discover_schedule      TEXT,
    monitor_schedule       TEXT,
    discover_timeout_ms    BIGINT NOT NULL,
    monitor_timeout_ms     BIGINT NOT NULL,
    expiration_alert_days  BIGINT NOT NULL,
    -- JSON list of {start_day, start_minute, end_day, end_minute}.
    quiet_hours            TEXT NOT NULL DEFAULT '[]',
    -- JSON list of recipients.
    alert_recipients       TEXT NOT NULL DEFAULT '[]',
    auto_monitor           BOOLEAN NOT NULL DEFAULT FALSE,
    get_robots             BOOLEAN NOT NULL DEFAULT FALSE,
    -- JSON list of ranges in their normal form (`127.0.0.0/30:443`).
    ranges                 TEXT NOT NULL DEFAULT '[]',
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    UNIQUE (account_id, name)
);
