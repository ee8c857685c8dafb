-- Listing at scale: the indexes the API's sorted listings read a page from are declared in
-- the code (db/src/sql/indexes.rs), rendered per backend because PostgreSQL needs their
-- collation and NULLs order spelled out, and created after the migrations. These two are
-- replaced there by indexes that also end in the listings' tie-breaker (the id).
DROP INDEX IF EXISTS jobs_account_created;
DROP INDEX IF EXISTS job_configs_account_created;

-- A node that stopped cleanly says so, so its next start need not wait a heartbeat to
-- tell a crash from a process still running (NULL while its process runs).
ALTER TABLE nodes ADD COLUMN stopped_at BIGINT;

-- A config's latest outcomes (pause after N failures) only read finished jobs: indexing
-- only those spares every enqueue and claim an index write.
DROP INDEX IF EXISTS jobs_config_finished;
CREATE INDEX jobs_config_finished ON jobs (job_config_id, finished_at)
    WHERE status IN ('completed', 'failed', 'cancelled');
