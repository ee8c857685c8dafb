-- Live job streams (`GET /api/v1/scheduler/events`) ask each second for an account's
-- jobs changed since their last look: an index on the change time keeps that a range
-- scan however many jobs the account has kept.
CREATE INDEX jobs_account_updated ON jobs (account_id, updated_at);
CREATE INDEX jobs_updated ON jobs (updated_at);
