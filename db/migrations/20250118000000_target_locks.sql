-- One job per target: the store write locks become locks on any target a job acts on (a
-- certificate store, one account's keys in one cloud), named by a key the host builds
-- (`store:<id>`, `cloud:<account>:<cloud>`). A lock names the job holding it and expires,
-- so a node that died holding one does not block its target for good.
CREATE TABLE target_locks (
    target      TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
DROP TABLE store_locks;
