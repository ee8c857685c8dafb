-- SSL scans: each scan of a network (discovery or monitoring) is split into parts, each
-- part one job; the endpoints the scans found and what every probe of them saw.

CREATE TABLE ssl_scan_parts (
    id                   TEXT PRIMARY KEY,
    -- The scan it belongs to (UUIDv7: the newest scan has the largest id).
    scan_id              TEXT NOT NULL,
    account_id           TEXT NOT NULL,
    network_id           TEXT NOT NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('discovery', 'monitoring')),
    seq                  BIGINT NOT NULL,
    job_id               TEXT NOT NULL UNIQUE,
    -- JSON: the ranges (discovery) or endpoints (monitoring) it probes.
    definitions          TEXT NOT NULL,
    estimated_endpoints  BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    -- Set once its job's results are kept, with the counts by outcome (JSON).
    finished_at          BIGINT,
    stats                TEXT
);
CREATE INDEX ssl_scan_parts_network ON ssl_scan_parts (network_id, kind, scan_id);
CREATE INDEX ssl_scan_parts_scan ON ssl_scan_parts (scan_id, seq);

CREATE TABLE ssl_endpoints (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    network_id       TEXT NOT NULL,
    -- As scanned: an address in its canonical text, or a host name.
    host             TEXT NOT NULL,
    port             BIGINT NOT NULL,
    -- The SNI sent; '' for none.
    sni_name         TEXT NOT NULL,
    -- The address last connected to.
    address          TEXT NOT NULL,
    enable_monitor   BOOLEAN NOT NULL,
    reviewed         BOOLEAN NOT NULL DEFAULT FALSE,
    last_status      TEXT NOT NULL,
    last_history_id  TEXT,
    -- The certificate last served (NULL when none has been).
    thumbprint       TEXT,
    subject          TEXT,
    issuer           TEXT,
    serial_number    TEXT,
    not_before       BIGINT,
    not_after        BIGINT,
    certificate      TEXT,
    trusted          BOOLEAN,
    name_matches     BOOLEAN,
    first_seen       BIGINT NOT NULL,
    last_seen        BIGINT NOT NULL,
    UNIQUE (network_id, host, port, sni_name)
);
CREATE INDEX ssl_endpoints_account_expiry ON ssl_endpoints (account_id, not_after);

CREATE TABLE ssl_endpoint_history (
    id            TEXT PRIMARY KEY,
    endpoint_id   TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    job_id        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    observed_at   BIGINT NOT NULL,
    status        TEXT NOT NULL,
    -- The certificate differs from the one seen before (or one appeared or went).
    changed       BOOLEAN NOT NULL,
    address       TEXT,
    thumbprint    TEXT,
    -- JSON list of the chain's certificates, base64 DER, leaf first.
    chain         TEXT,
    protocol      TEXT,
    cipher_suite  TEXT,
    trusted       BOOLEAN,
    trust_error   TEXT,
    name_matches  BOOLEAN,
    expired       BOOLEAN
);
CREATE INDEX ssl_endpoint_history_endpoint ON ssl_endpoint_history (endpoint_id, observed_at);
