-- Certificate stores (Keyfactor's CertificateStores), what their last inventory found, and
-- the store paths discovery jobs reported. Same portable conventions as the initial schema.

CREATE TABLE certificate_stores (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL,
    client_machine       TEXT NOT NULL,
    store_path           TEXT NOT NULL,
    -- The store type a plugin serves (`PEM`, `PKCS12`, `JKS`), upper case.
    store_type           TEXT NOT NULL,
    container_id         BIGINT,
    approved             BOOLEAN NOT NULL DEFAULT TRUE,
    create_if_missing    BOOLEAN NOT NULL DEFAULT FALSE,
    -- Store-type specific properties, a JSON object.
    properties           TEXT NOT NULL DEFAULT '{}',
    -- The node (Keyfactor's agent) that runs the store's jobs; NULL = any node.
    agent_id             TEXT,
    -- Name of the operator-configured secret holding the store password. Never a value.
    password_secret      TEXT,
    -- The job config holding the store's inventory schedule, owned by the store.
    inventory_config_id  TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    UNIQUE (account_id, client_machine, store_path, store_type)
);

CREATE INDEX certificate_stores_account_created ON certificate_stores (account_id, created_at);

-- One row per entry of a store, replaced whole by each successful inventory.
CREATE TABLE certificate_store_inventory (
    store_id         TEXT NOT NULL REFERENCES certificate_stores (id) ON DELETE CASCADE,
    account_id       TEXT NOT NULL,
    alias            TEXT NOT NULL,
    -- Upper-case hex SHA-1 of the leaf's DER, as Keyfactor shows thumbprints.
    thumbprint       TEXT NOT NULL,
    serial_number    TEXT NOT NULL,
    subject          TEXT NOT NULL,
    issuer           TEXT NOT NULL,
    -- JSON array of strings (`dns:x`, `ip4:y`, `ip6:z`, `email:e`, `uri:u`).
    sans             TEXT NOT NULL DEFAULT '[]',
    not_before       BIGINT NOT NULL,
    not_after        BIGINT NOT NULL,
    has_private_key  BOOLEAN NOT NULL,
    chain_length     BIGINT NOT NULL,
    -- The leaf certificate, base64 DER.
    certificate      TEXT NOT NULL,
    job_id           TEXT,
    inventoried_at   BIGINT NOT NULL,
    PRIMARY KEY (store_id, alias)
);

CREATE INDEX certificate_store_inventory_expiry ON certificate_store_inventory (account_id, not_after);

-- Store files discovery jobs found, per account, store type and machine.
CREATE TABLE discovered_store_paths (
    account_id      TEXT NOT NULL,
    store_type      TEXT NOT NULL,
    client_machine  TEXT NOT NULL,
    path            TEXT NOT NULL,
    job_id          TEXT,
    discovered_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, store_type, client_machine, path)
);
