-- What an operator needs of each node (GET /api/v1/nodes): the version it runs, when its
-- process started, and how often it heartbeats, so whether it is alive is judged by its
-- own interval (a node with a slow heartbeat is not declared dead by a faster one).
-- Running jobs are counted from `jobs` when read, never stored.
ALTER TABLE nodes ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN started_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN heartbeat_ms BIGINT NOT NULL DEFAULT 10000;
UPDATE nodes SET started_at = first_seen_at;
