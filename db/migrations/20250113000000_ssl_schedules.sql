-- When each network's discovery and monitoring schedules fire next (NULL: never); the
-- scheduler advances them with a compare-and-set, so one node starts each scan.
ALTER TABLE ssl_networks ADD COLUMN next_discover_at BIGINT;
ALTER TABLE ssl_networks ADD COLUMN next_monitor_at BIGINT;
