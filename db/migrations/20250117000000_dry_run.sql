-- A dry run reports what its job would change without writing anything (issue 15, item
-- 4). Its outcome says nothing about the config's health: it is left out of the pause
-- after N failed runs and of job alerts.
ALTER TABLE jobs ADD COLUMN dry_run BOOLEAN NOT NULL DEFAULT FALSE;
